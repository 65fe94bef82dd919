/* check_registry.c - unit tests for registry.h and client.h, with threads. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "client.h"
#include "frame.h"
#include "registry.h"
#include "ring.h"
#include "testlib.h"

static unsigned client_refs(struct sh_client *c)
{
  return atomic_load(&c->refs);
}

static bool snap_has(struct sh_client **snap, size_t n, struct sh_client *c)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (snap[i] == c)
      return true;
  return false;
}

/* ---- registry core ------------------------------------------------------- */

START_TEST(test_registry_init_rejects_zero)
{
  struct sh_registry reg;

  ck_assert_int_eq(sh_registry_init(&reg, 0, 0), -EINVAL);
  ck_assert_int_eq(sh_registry_init(&reg, 1, 0), 0);
  ck_assert_uint_eq(sh_registry_count(&reg), 0);
  sh_registry_destroy(&reg);
}
END_TEST

START_TEST(test_registry_add_up_to_max)
{
  struct sh_registry reg;
  struct sh_client *c[4];
  struct sh_client *snap[3];
  size_t i, n;

  ck_assert_int_eq(sh_registry_init(&reg, 3, 0), 0);
  for (i = 0; i < 4; i++)
    c[i] = tl_client(1 << 20);
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(sh_registry_add(&reg, c[i]), 0);
    ck_assert_uint_eq(sh_registry_count(&reg), i + 1);
  }
  ck_assert_int_eq(sh_registry_add(&reg, c[3]), -EBUSY);
  ck_assert_uint_eq(sh_registry_count(&reg), 3);
  ck_assert_uint_eq(client_refs(c[3]), 1);
  ck_assert(!c[3]->registered);

  n = sh_registry_snapshot(&reg, snap);
  ck_assert_uint_eq(n, 3);
  for (i = 0; i < 3; i++)
    ck_assert(snap_has(snap, n, c[i]));
  ck_assert(!snap_has(snap, n, c[3]));
  sh_registry_release(snap, n);

  for (i = 0; i < 3; i++)
    sh_registry_remove(&reg, c[i]);
  ck_assert_uint_eq(sh_registry_count(&reg), 0);
  for (i = 0; i < 4; i++) {
    ck_assert_uint_eq(client_refs(c[i]), 1);
    sh_client_unref(c[i]);
  }
  sh_registry_destroy(&reg);
}
END_TEST

START_TEST(test_registry_remove_frees_slot)
{
  struct sh_registry reg;
  struct sh_client *a = tl_client(1 << 20), *b = tl_client(1 << 20);
  struct sh_client *c = tl_client(1 << 20), *d = tl_client(1 << 20);
  struct sh_client *snap[3];
  size_t n;

  ck_assert_int_eq(sh_registry_init(&reg, 3, 0), 0);
  ck_assert_int_eq(sh_registry_add(&reg, a), 0);
  ck_assert_int_eq(sh_registry_add(&reg, b), 0);
  ck_assert_int_eq(sh_registry_add(&reg, c), 0);
  ck_assert_int_eq(sh_registry_add(&reg, d), -EBUSY);

  /* Remove from the middle: the others stay registered. */
  sh_registry_remove(&reg, b);
  ck_assert_uint_eq(sh_registry_count(&reg), 2);
  ck_assert_uint_eq(client_refs(b), 1);
  ck_assert_int_eq(sh_registry_add(&reg, d), 0);
  ck_assert_int_eq(sh_registry_add(&reg, b), -EBUSY);
  n = sh_registry_snapshot(&reg, snap);
  ck_assert_uint_eq(n, 3);
  ck_assert(snap_has(snap, n, a));
  ck_assert(snap_has(snap, n, c));
  ck_assert(snap_has(snap, n, d));
  ck_assert(!snap_has(snap, n, b));
  sh_registry_release(snap, n);

  /* Remove the first and the last entries in turn. */
  sh_registry_remove(&reg, a);
  n = sh_registry_snapshot(&reg, snap);
  ck_assert_uint_eq(n, 2);
  ck_assert(snap_has(snap, n, c) && snap_has(snap, n, d));
  sh_registry_release(snap, n);
  sh_registry_remove(&reg, d);
  n = sh_registry_snapshot(&reg, snap);
  ck_assert_uint_eq(n, 1);
  ck_assert_ptr_eq(snap[0], c);
  sh_registry_release(snap, n);
  sh_registry_remove(&reg, c);
  ck_assert_uint_eq(sh_registry_count(&reg), 0);
  ck_assert_uint_eq(sh_registry_snapshot(&reg, snap), 0);

  ck_assert_uint_eq(client_refs(a), 1);
  ck_assert_uint_eq(client_refs(b), 1);
  ck_assert_uint_eq(client_refs(c), 1);
  ck_assert_uint_eq(client_refs(d), 1);
  sh_client_unref(a);
  sh_client_unref(b);
  sh_client_unref(c);
  sh_client_unref(d);
  sh_registry_destroy(&reg);
}
END_TEST

START_TEST(test_registry_remove_unregistered_is_noop)
{
  struct sh_registry reg;
  struct sh_client *a = tl_client(1 << 20), *stranger = tl_client(1 << 20);
  struct sh_client *snap[2];
  size_t n;

  ck_assert_int_eq(sh_registry_init(&reg, 2, 0), 0);
  ck_assert_int_eq(sh_registry_add(&reg, a), 0);
  sh_registry_remove(&reg, stranger);
  ck_assert_uint_eq(sh_registry_count(&reg), 1);
  ck_assert_uint_eq(client_refs(stranger), 1);
  ck_assert_uint_eq(client_refs(a), 2);

  /* Removing twice drops the registry reference only once. */
  sh_registry_remove(&reg, a);
  sh_registry_remove(&reg, a);
  ck_assert_uint_eq(sh_registry_count(&reg), 0);
  ck_assert_uint_eq(client_refs(a), 1);
  n = sh_registry_snapshot(&reg, snap);
  ck_assert_uint_eq(n, 0);

  sh_client_unref(a);
  sh_client_unref(stranger);
  sh_registry_destroy(&reg);
}
END_TEST

START_TEST(test_registry_close_refuses_adds)
{
  struct sh_registry reg;
  struct sh_client *a = tl_client(1 << 20), *b = tl_client(1 << 20),
                   *c = tl_client(1 << 20);
  struct sh_client *snap[4];
  size_t n;

  ck_assert_int_eq(sh_registry_init(&reg, 4, 0), 0);
  ck_assert_int_eq(sh_registry_add(&reg, a), 0);
  ck_assert_int_eq(sh_registry_add(&reg, b), 0);
  n = sh_registry_close(&reg, snap);
  ck_assert_uint_eq(n, 2);
  ck_assert(snap_has(snap, n, a) && snap_has(snap, n, b));
  ck_assert_uint_eq(client_refs(a), 3);
  ck_assert_uint_eq(client_refs(b), 3);

  ck_assert_int_eq(sh_registry_add(&reg, c), -ESHUTDOWN);
  ck_assert_uint_eq(client_refs(c), 1);
  ck_assert(!c->registered);
  ck_assert_uint_eq(sh_registry_count(&reg), 2);
  sh_registry_release(snap, n);
  ck_assert_uint_eq(client_refs(a), 2);

  /* Removal still works after close, and adds stay refused. */
  sh_registry_remove(&reg, a);
  sh_registry_remove(&reg, b);
  ck_assert_uint_eq(sh_registry_count(&reg), 0);
  ck_assert_int_eq(sh_registry_add(&reg, c), -ESHUTDOWN);
  ck_assert_uint_eq(client_refs(a), 1);
  ck_assert_uint_eq(client_refs(b), 1);
  sh_client_unref(a);
  sh_client_unref(b);
  sh_client_unref(c);
  sh_registry_destroy(&reg);
}
END_TEST

START_TEST(test_registry_refcounts)
{
  struct sh_registry reg;
  struct sh_client *a = tl_client(1 << 20), *b = tl_client(1 << 20);
  struct sh_client *s1[2], *s2[2];
  size_t n1, n2;

  ck_assert_int_eq(sh_registry_init(&reg, 2, 0), 0);
  ck_assert_uint_eq(client_refs(a), 1);
  ck_assert_int_eq(sh_registry_add(&reg, a), 0);
  ck_assert_int_eq(sh_registry_add(&reg, b), 0);
  ck_assert_uint_eq(client_refs(a), 2);
  ck_assert_uint_eq(client_refs(b), 2);

  n1 = sh_registry_snapshot(&reg, s1);
  n2 = sh_registry_snapshot(&reg, s2);
  ck_assert_uint_eq(n1, 2);
  ck_assert_uint_eq(n2, 2);
  ck_assert_uint_eq(client_refs(a), 4);
  ck_assert_uint_eq(client_refs(b), 4);
  sh_registry_release(s1, n1);
  ck_assert_uint_eq(client_refs(a), 3);
  ck_assert_uint_eq(client_refs(b), 3);

  /* A snapshot keeps a removed client alive after the caller lets go. */
  sh_registry_remove(&reg, a);
  sh_client_unref(a);
  ck_assert_uint_eq(client_refs(a), 1);
  ck_assert_int_eq(sh_client_deliver(a, NULL, 0), 0);
  sh_registry_release(s2, n2); /* frees a */
  ck_assert_uint_eq(client_refs(b), 2);

  sh_registry_remove(&reg, b);
  ck_assert_uint_eq(client_refs(b), 1);
  sh_client_unref(b);
  sh_registry_destroy(&reg);
}
END_TEST

/* Clients below carry fd numbers only as lookup keys: nothing here cuts
 * them off, so no socket call is ever made on those numbers. */
START_TEST(test_registry_find_by_fd_and_gen)
{
  struct sh_registry reg;
  struct sh_client *a = sh_client_new(NULL, 5, 8, 64, 4096);
  struct sh_client *b = sh_client_new(NULL, 5, 8, 64, 4096);
  struct sh_client *far = sh_client_new(NULL, 16, 8, 64, 4096);
  struct sh_client *nofd = tl_client(1 << 20);
  uint32_t gen_a;

  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(b);
  ck_assert_ptr_nonnull(far);
  ck_assert_int_eq(sh_registry_init(&reg, 4, 16), 0);
  ck_assert_int_eq(sh_registry_add(&reg, a), 0);
  gen_a = a->gen;
  ck_assert_ptr_eq(sh_registry_find(&reg, 5, gen_a), a);
  ck_assert_uint_eq(client_refs(a), 3); /* caller, registry, find */
  sh_client_unref(a);
  ck_assert_ptr_null(sh_registry_find(&reg, 5, gen_a + 1));
  ck_assert_ptr_null(sh_registry_find(&reg, 4, gen_a));
  ck_assert_ptr_null(sh_registry_find(&reg, -1, gen_a));
  ck_assert_ptr_null(sh_registry_find(&reg, 1000, gen_a));

  /* fds beyond the table and clients without an fd register normally
   * but cannot be found. */
  ck_assert_int_eq(sh_registry_add(&reg, far), 0);
  ck_assert_int_eq(sh_registry_add(&reg, nofd), 0);
  ck_assert_ptr_null(sh_registry_find(&reg, 16, far->gen));
  ck_assert_ptr_null(sh_registry_find(&reg, -1, nofd->gen));
  ck_assert_uint_eq(sh_registry_count(&reg), 3);

  /* Removed: no longer found. Its fd reused by a new client: a stale
   * (fd, gen) pair does not find the newcomer. */
  sh_registry_remove(&reg, a);
  ck_assert_ptr_null(sh_registry_find(&reg, 5, gen_a));
  ck_assert_int_eq(sh_registry_add(&reg, b), 0);
  ck_assert_uint_ne(b->gen, gen_a);
  ck_assert_ptr_null(sh_registry_find(&reg, 5, gen_a));
  ck_assert_ptr_eq(sh_registry_find(&reg, 5, b->gen), b);
  sh_client_unref(b);

  /* Two clients briefly on one fd number (the newer indexed): removing
   * the older must not unindex the newer. */
  ck_assert_int_eq(sh_registry_add(&reg, a), 0);
  ck_assert_ptr_eq(sh_registry_find(&reg, 5, a->gen), a);
  sh_client_unref(a);
  sh_registry_remove(&reg, b);
  ck_assert_ptr_null(sh_registry_find(&reg, 5, b->gen));
  ck_assert_ptr_eq(sh_registry_find(&reg, 5, a->gen), a);
  sh_client_unref(a);
  ck_assert_int_eq(sh_registry_add(&reg, b), 0);
  sh_registry_remove(&reg, a);
  ck_assert_ptr_eq(sh_registry_find(&reg, 5, b->gen), b);
  sh_client_unref(b);

  sh_registry_remove(&reg, b);
  sh_registry_remove(&reg, far);
  sh_registry_remove(&reg, nofd);
  ck_assert_uint_eq(sh_registry_count(&reg), 0);
  ck_assert_uint_eq(client_refs(a), 1);
  ck_assert_uint_eq(client_refs(b), 1);
  ck_assert_uint_eq(client_refs(far), 1);
  ck_assert_uint_eq(client_refs(nofd), 1);
  sh_client_unref(a);
  sh_client_unref(b);
  sh_client_unref(far);
  sh_client_unref(nofd);
  sh_registry_destroy(&reg);
}
END_TEST

START_TEST(test_registry_add_gives_new_gen)
{
  struct sh_registry reg;
  struct sh_client *a = tl_client(1 << 20), *b = tl_client(1 << 20),
                   *c = tl_client(1 << 20);
  uint32_t g1, g2;

  ck_assert_int_eq(sh_registry_init(&reg, 2, 0), 0);
  ck_assert_int_eq(sh_registry_add(&reg, a), 0);
  g1 = a->gen;
  sh_registry_remove(&reg, a);
  ck_assert_int_eq(sh_registry_add(&reg, a), 0);
  g2 = a->gen;
  ck_assert_uint_ne(g1, g2);
  ck_assert_int_eq(sh_registry_add(&reg, b), 0);
  ck_assert_uint_ne(b->gen, g1);
  ck_assert_uint_ne(b->gen, g2);
  /* A refused add leaves the client untouched. */
  c->gen = 12345;
  ck_assert_int_eq(sh_registry_add(&reg, c), -EBUSY);
  ck_assert_uint_eq(c->gen, 12345);
  ck_assert(!c->registered);
  sh_registry_remove(&reg, a);
  sh_registry_remove(&reg, b);
  sh_client_unref(a);
  sh_client_unref(b);
  sh_client_unref(c);
  sh_registry_destroy(&reg);
}
END_TEST

/* ---- client -------------------------------------------------------------- */

START_TEST(test_client_deliver_and_read)
{
  struct sh_client *c = tl_client(1 << 20);
  struct sh_frame *a = tl_frame_str("data: a\n\n");
  struct sh_frame *b = tl_frame_str("data: bb\n\n");
  struct sh_frame *batch[2] = { a, b };
  char buf[64];
  ssize_t n;

  ck_assert_int_eq(sh_client_deliver(c, batch, 2), 2);
  ck_assert_uint_eq(tl_frame_refs(a), 2);
  ck_assert_uint_eq(tl_frame_refs(b), 2);
  ck_assert(!c->suspended);

  n = sh_client_read(c, buf, 4);
  ck_assert_int_eq(n, 4);
  ck_assert_mem_eq(buf, "data", 4);
  n = sh_client_read(c, buf, sizeof(buf));
  ck_assert_int_eq(n, 15);
  ck_assert_mem_eq(buf, ": a\n\ndata: bb\n\n", 15);
  ck_assert_uint_eq(tl_frame_refs(a), 1);
  ck_assert_uint_eq(tl_frame_refs(b), 1);

  /* Closing with data still queued: data first, then the end. */
  ck_assert_int_eq(sh_client_deliver(c, batch, 1), 1);
  sh_client_end(c, NULL);
  ck_assert(c->closing);
  ck_assert_int_eq(sh_client_deliver(c, batch + 1, 1), 0);
  ck_assert_uint_eq(tl_frame_refs(b), 1);
  n = sh_client_read(c, buf, sizeof(buf));
  ck_assert_int_eq(n, 9);
  ck_assert_mem_eq(buf, "data: a\n\n", 9);
  n = sh_client_read(c, buf, sizeof(buf));
  ck_assert_int_eq(n, MHD_CONTENT_READER_END_OF_STREAM);
  n = sh_client_read(c, buf, sizeof(buf));
  ck_assert_int_eq(n, MHD_CONTENT_READER_END_OF_STREAM);

  sh_client_unref(c);
  ck_assert_uint_eq(tl_frame_refs(a), 1);
  sh_frame_unref(a);
  sh_frame_unref(b);
}
END_TEST

/* ssehub_stop's last frame: after what the ring holds, before the end;
 * none for a stream already ending. */
START_TEST(test_client_end_sends_last_frame_last)
{
  struct sh_client *c = tl_client(1 << 20);
  struct sh_frame *a = tl_frame_str("data: a\n\n");
  struct sh_frame *r = tl_frame_str("retry: 1234\n\n");
  char buf[64];

  a->seq = 1;
  ck_assert_int_eq(sh_client_deliver(c, &a, 1), 1);
  sh_client_end(c, r);
  ck_assert_uint_eq(tl_frame_refs(r), 2);
  ck_assert_int_eq(sh_client_read(c, buf, sizeof(buf)), 22);
  ck_assert_mem_eq(buf, "data: a\n\nretry: 1234\n\n", 22);
  ck_assert_int_eq(sh_client_read(c, buf, sizeof(buf)),
                   MHD_CONTENT_READER_END_OF_STREAM);
  /* Ending again: no second frame. */
  sh_client_end(c, r);
  ck_assert_uint_eq(tl_frame_refs(r), 1);
  ck_assert_int_eq(sh_client_read(c, buf, sizeof(buf)),
                   MHD_CONTENT_READER_END_OF_STREAM);
  sh_client_unref(c);
  sh_frame_unref(a);
  sh_frame_unref(r);
}
END_TEST

START_TEST(test_client_preload)
{
  struct sh_client *c = tl_client(1 << 20);
  struct sh_frame *ok = tl_frame_str(":ok\n\n");
  char buf[16];

  ck_assert_int_eq(sh_client_preload(c, ok), 0);
  ck_assert_uint_eq(tl_frame_refs(ok), 2);
  ck_assert_int_eq(sh_client_read(c, buf, sizeof(buf)), 5);
  ck_assert_mem_eq(buf, ":ok\n\n", 5);
  ck_assert_uint_eq(tl_frame_refs(ok), 1);
  sh_client_end(c, NULL);
  ck_assert_int_eq(sh_client_read(c, buf, sizeof(buf)),
                   MHD_CONTENT_READER_END_OF_STREAM);
  sh_client_unref(c);
  sh_frame_unref(ok);
}
END_TEST

START_TEST(test_client_overflow_cuts)
{
  struct sh_client *c = sh_client_new(NULL, -1, 8, 8, 64);
  struct sh_frame *f = sh_frame_new(40);
  struct sh_frame *g = tl_frame_str("data: x\n\n");
  struct sh_frame *batch[2];
  char buf[128];

  ck_assert_ptr_nonnull(c);
  ck_assert_ptr_nonnull(f);
  memset(f->bytes, 'f', 40);
  batch[0] = f;
  batch[1] = g;

  ck_assert_int_eq(sh_client_deliver(c, &f, 1), 1);
  ck_assert_uint_eq(tl_frame_refs(f), 2);
  ck_assert_uint_eq(sh_ring_pending(&c->ring), 40);
  ck_assert(!c->cut);

  ck_assert_int_eq(sh_client_deliver(c, &f, 1), -ENOBUFS);
  ck_assert(c->cut);
  ck_assert_uint_eq(sh_ring_pending(&c->ring), 0);
  ck_assert(sh_ring_empty(&c->ring));
  ck_assert_uint_eq(tl_frame_refs(f), 1);

  /* Once cut, nothing more is queued and the reader fails the stream. */
  ck_assert_int_eq(sh_client_deliver(c, batch, 2), 0);
  ck_assert_int_eq(sh_client_deliver(c, &g, 1), 0);
  ck_assert_uint_eq(tl_frame_refs(f), 1);
  ck_assert_uint_eq(tl_frame_refs(g), 1);
  ck_assert_uint_eq(sh_ring_pending(&c->ring), 0);
  ck_assert_int_eq(sh_client_read(c, buf, sizeof(buf)),
                   MHD_CONTENT_READER_END_WITH_ERROR);
  ck_assert_int_eq(sh_client_read(c, buf, sizeof(buf)),
                   MHD_CONTENT_READER_END_WITH_ERROR);
  /* Ending a cut client does not turn the error into a clean end. */
  sh_client_end(c, NULL);
  ck_assert_int_eq(sh_client_read(c, buf, sizeof(buf)),
                   MHD_CONTENT_READER_END_WITH_ERROR);
  sh_client_unref(c);
  ck_assert_uint_eq(tl_frame_refs(f), 1);
  sh_frame_unref(f);
  sh_frame_unref(g);
}
END_TEST

START_TEST(test_client_overflow_within_batch)
{
  struct sh_client *c = sh_client_new(NULL, -1, 8, 8, 64);
  struct sh_frame *f = sh_frame_new(40);
  struct sh_frame *batch[3];
  char buf[128];

  ck_assert_ptr_nonnull(c);
  ck_assert_ptr_nonnull(f);
  memset(f->bytes, 'f', 40);
  batch[0] = batch[1] = batch[2] = f;
  /* The first frame fits (empty ring), the second does not: the frames
   * already queued from the batch are released as well. */
  ck_assert_int_eq(sh_client_deliver(c, batch, 3), -ENOBUFS);
  ck_assert(c->cut);
  ck_assert_uint_eq(sh_ring_pending(&c->ring), 0);
  ck_assert_uint_eq(tl_frame_refs(f), 1);
  ck_assert_int_eq(sh_client_read(c, buf, sizeof(buf)),
                   MHD_CONTENT_READER_END_WITH_ERROR);
  sh_client_unref(c);
  sh_frame_unref(f);
}
END_TEST

START_TEST(test_client_gone_drops_frames)
{
  struct sh_client *c = tl_client(1 << 20);
  struct sh_frame *f = tl_frame_str("data: z\n\n");

  ck_assert_int_eq(sh_client_deliver(c, &f, 1), 1);
  ck_assert_uint_eq(tl_frame_refs(f), 2);
  sh_client_gone(c);
  ck_assert(c->gone);
  ck_assert_uint_eq(tl_frame_refs(f), 1);
  ck_assert_uint_eq(sh_ring_pending(&c->ring), 0);
  ck_assert_int_eq(sh_client_deliver(c, &f, 1), 0);
  ck_assert_uint_eq(tl_frame_refs(f), 1);
  sh_client_end(c, NULL);
  ck_assert(!c->closing);
  sh_client_unref(c);
  sh_frame_unref(f);
}
END_TEST

START_TEST(test_client_hangup_ends_with_error)
{
  struct sh_client *c = tl_client(1 << 20);
  struct sh_frame *f = tl_frame_str("data: h\n\n");
  char buf[32];

  ck_assert_int_eq(sh_client_deliver(c, &f, 1), 1);
  ck_assert_uint_eq(tl_frame_refs(f), 2);
  ck_assert(sh_client_hangup(c));
  ck_assert(c->hung_up);
  ck_assert(!sh_client_hangup(c)); /* counted once */
  ck_assert_uint_eq(tl_frame_refs(f), 1);
  ck_assert_uint_eq(sh_ring_pending(&c->ring), 0);
  ck_assert_int_eq(sh_client_deliver(c, &f, 1), 0);
  ck_assert_uint_eq(tl_frame_refs(f), 1);
  ck_assert_int_eq(sh_client_read(c, buf, sizeof(buf)),
                   MHD_CONTENT_READER_END_WITH_ERROR);
  sh_client_unref(c);
  sh_frame_unref(f);
}
END_TEST

/* ---- threads ------------------------------------------------------------- */

#define STRESS_MAX_CLIENTS 2
#define STRESS_WORKERS 3
#define STRESS_FRAMES 3
#define STRESS_MS 1000

struct stress {
  struct sh_registry reg;
  struct sh_frame *frames[STRESS_FRAMES];
  char pattern[64]; /* the frames' bytes, concatenated */
  size_t pattern_len;
  atomic_bool stop;
  /* results, written by one thread each and read after join */
  unsigned long snapshots;
  unsigned long deliveries;
  unsigned long cuts;
  unsigned long bad_rc;
  unsigned long added[STRESS_WORKERS];
  unsigned long busy[STRESS_WORKERS];
  unsigned long drained[STRESS_WORKERS];
  unsigned long mismatches[STRESS_WORKERS];
};

struct worker_arg {
  struct stress *st;
  int id;
};

static void *broadcaster_main(void *arg)
{
  struct stress *st = arg;
  struct sh_client *snap[STRESS_MAX_CLIENTS];
  long long end = tl_now_ms() + STRESS_MS;

  while (tl_now_ms() < end) {
    size_t i, n = sh_registry_snapshot(&st->reg, snap);

    st->snapshots++;
    for (i = 0; i < n; i++) {
      int rc = sh_client_deliver(snap[i], st->frames, STRESS_FRAMES);

      if (STRESS_FRAMES == rc)
        st->deliveries++;
      else if (-ENOBUFS == rc)
        st->cuts++;
      else if (0 != rc)
        st->bad_rc++;
    }
    sh_registry_release(snap, n);
    /* Pace the fan-out like a real publisher would, so that a worker
     * preempted for a moment is not cut off at once. */
    usleep(20);
  }
  atomic_store(&st->stop, true);
  return NULL;
}

/* Drain c's ring directly (sh_client_read() would suspend a NULL
 * connection on an empty ring) and check the bytes follow the pattern:
 * the client was registered before its first delivery, so its stream is
 * whole batches in order. Returns the bytes drained; *cut tells whether
 * the client was cut off (nothing more will arrive). */
static size_t drain_check(struct stress *st, int id, struct sh_client *c,
                          size_t *pos, bool *cut)
{
  char buf[256];
  size_t n, i, total = 0;

  do {
    pthread_mutex_lock(&c->lock);
    n = sh_ring_drain(&c->ring, buf, sizeof(buf));
    *cut = c->cut;
    pthread_mutex_unlock(&c->lock);
    for (i = 0; i < n; i++, (*pos)++)
      if (buf[i] != st->pattern[*pos % st->pattern_len])
        st->mismatches[id]++;
    total += n;
  } while (n > 0);
  st->drained[id] += total;
  return total;
}

static void *worker_main(void *arg)
{
  struct worker_arg *wa = arg;
  struct stress *st = wa->st;
  int id = wa->id;
  unsigned seed = (unsigned) id * 7919u + 1;

  while (!atomic_load(&st->stop)) {
    /* Every fourth client has a ring that holds one batch, so that cuts
     * race with snapshots and removal too. */
    size_t max_bytes = 0 == rand_r(&seed) % 4 ? 64 : 1 << 20;
    struct sh_client *c = sh_client_new(NULL, -1, 8, 4096, max_bytes);
    int rounds, rc;
    size_t pos = 0;
    bool got = false, cut = false;

    if (NULL == c)
      break;
    rc = sh_registry_add(&st->reg, c);
    if (0 != rc) {
      if (-EBUSY == rc)
        st->busy[id]++;
      sh_client_unref(c);
      usleep(20);
      continue;
    }
    st->added[id]++;
    /* A few rounds, and at least until something arrived, so that the
     * test drains data even on a loaded machine. */
    rounds = 1 + (int) (rand_r(&seed) % 5);
    while (!atomic_load(&st->stop) && !cut && (rounds-- > 0 || !got)) {
      usleep(20);
      if (drain_check(st, id, c, &pos, &cut) > 0)
        got = true;
    }
    /* What the HTTP layer's free callback does. */
    sh_client_gone(c);
    sh_registry_remove(&st->reg, c);
    sh_client_unref(c);
  }
  return NULL;
}

START_TEST(test_registry_concurrent_fanout)
{
  struct stress *st = calloc(1, sizeof(*st));
  struct worker_arg wa[STRESS_WORKERS];
  pthread_t bt, wt[STRESS_WORKERS];
  static const char *const texts[STRESS_FRAMES] = { "data: one\n\n",
                                                    "event: t\ndata: two\n\n",
                                                    ":c\n\n" };
  struct sh_client *rest[STRESS_MAX_CLIENTS];
  unsigned long added = 0, drained = 0, mismatches = 0;
  size_t i, n;

  ck_assert_ptr_nonnull(st);
  ck_assert_int_eq(sh_registry_init(&st->reg, STRESS_MAX_CLIENTS, 0), 0);
  atomic_init(&st->stop, false);
  for (i = 0; i < STRESS_FRAMES; i++) {
    size_t len = strlen(texts[i]);

    st->frames[i] = tl_frame_str(texts[i]);
    memcpy(st->pattern + st->pattern_len, texts[i], len);
    st->pattern_len += len;
  }

  for (i = 0; i < STRESS_WORKERS; i++) {
    wa[i].st = st;
    wa[i].id = (int) i;
    ck_assert_int_eq(pthread_create(&wt[i], NULL, worker_main, &wa[i]), 0);
  }
  ck_assert_int_eq(pthread_create(&bt, NULL, broadcaster_main, st), 0);
  ck_assert_int_eq(pthread_join(bt, NULL), 0);
  for (i = 0; i < STRESS_WORKERS; i++)
    ck_assert_int_eq(pthread_join(wt[i], NULL), 0);

  /* Workers remove their clients; remove anything left all the same. */
  n = sh_registry_snapshot(&st->reg, rest);
  for (i = 0; i < n; i++) {
    sh_client_gone(rest[i]);
    sh_registry_remove(&st->reg, rest[i]);
  }
  sh_registry_release(rest, n);
  ck_assert_uint_eq(n, 0);
  ck_assert_uint_eq(sh_registry_count(&st->reg), 0);

  for (i = 0; i < STRESS_WORKERS; i++) {
    added += st->added[i];
    drained += st->drained[i];
    mismatches += st->mismatches[i];
  }
  ck_assert_uint_eq(st->bad_rc, 0);
  ck_assert_uint_eq(mismatches, 0);
  ck_assert_uint_gt(st->snapshots, 0);
  ck_assert_uint_gt(added, STRESS_WORKERS);
  ck_assert_uint_gt(st->deliveries, 0);
  ck_assert_uint_gt(drained, 0);

  /* Every ring and snapshot let go of every frame. */
  for (i = 0; i < STRESS_FRAMES; i++) {
    ck_assert_uint_eq(tl_frame_refs(st->frames[i]), 1);
    sh_frame_unref(st->frames[i]);
  }
  sh_registry_destroy(&st->reg);
  free(st);
}
END_TEST

/* Registering 10,000 topics, 16 per client, into a fresh registry:
 * milliseconds (the best of 3 runs). */
#define FLOOD_NAMES 10000
#define FLOOD_PER 16
static long long register_topics(const char *names)
{
  enum { CLIENTS = FLOOD_NAMES / FLOOD_PER };
  static struct sh_client *c[CLIENTS];
  long long best = -1;
  int run, i, j;

  for (run = 0; run < 3; run++) {
    struct sh_registry reg;
    long long t0;

    ck_assert_int_eq(sh_registry_init(&reg, CLIENTS, 0), 0);
    for (i = 0; i < CLIENTS; i++) {
      const char *t[FLOOD_PER];

      for (j = 0; j < FLOOD_PER; j++)
        t[j] = names + (size_t) (i * FLOOD_PER + j) * TL_FNV_NAME_CAP;
      c[i] = tl_client(1 << 16);
      ck_assert_int_eq(sh_client_set_topics(c[i], t, FLOOD_PER), 0);
    }
    t0 = tl_now_ms();
    for (i = 0; i < CLIENTS; i++)
      ck_assert_int_eq(sh_registry_add(&reg, c[i]), 0);
    t0 = tl_now_ms() - t0;
    best = best < 0 || t0 < best ? t0 : best;
    ck_assert_uint_eq(sh_registry_topic_count(&reg), FLOOD_NAMES);
    for (i = 0; i < CLIENTS; i++) {
      sh_registry_remove(&reg, c[i]);
      sh_client_unref(c[i]);
    }
    sh_registry_destroy(&reg);
  }
  return best;
}

/* Topic names crafted to share one bucket under the unseeded FNV-1a the
 * table used to hash with register as fast as ordinary ones: with a
 * secret SipHash key no one outside can aim at a bucket. Under FNV-1a the
 * crafted names made one chain of 10,000 (tens of times slower). */
START_TEST(test_registry_fnv_colliding_topics_cost_the_same)
{
  char *plain = calloc(FLOOD_NAMES, TL_FNV_NAME_CAP);
  char *collide = calloc(FLOOD_NAMES, TL_FNV_NAME_CAP);
  long long tp, tc;

  ck_assert(NULL != plain && NULL != collide);
  tl_fnv_names(plain, FLOOD_NAMES, TL_FNV_NAME_CAP, false);
  tl_fnv_names(collide, FLOOD_NAMES, TL_FNV_NAME_CAP, true);
  tp = register_topics(plain);
  tc = register_topics(collide);
  fprintf(stderr,
          "check_registry: 10,000 topics: ordinary %lld ms, "
          "FNV-colliding %lld ms\n",
          tp, tc);
  ck_assert_msg(tc <= 3 * tp + 5, "colliding %lld ms, ordinary %lld ms", tc,
                tp);
  free(plain);
  free(collide);
}
END_TEST

static Suite *registry_suite(void)
{
  Suite *s = suite_create("registry");
  TCase *core = tcase_create("core");
  TCase *client = tcase_create("client");
  TCase *threads = tcase_create("threads");

  tcase_add_test(core, test_registry_init_rejects_zero);
  tcase_add_test(core, test_registry_add_up_to_max);
  tcase_add_test(core, test_registry_remove_frees_slot);
  tcase_add_test(core, test_registry_remove_unregistered_is_noop);
  tcase_add_test(core, test_registry_close_refuses_adds);
  tcase_add_test(core, test_registry_refcounts);
  tcase_add_test(core, test_registry_find_by_fd_and_gen);
  tcase_add_test(core, test_registry_add_gives_new_gen);
  tcase_add_test(core, test_registry_fnv_colliding_topics_cost_the_same);
  suite_add_tcase(s, core);

  tcase_add_test(client, test_client_deliver_and_read);
  tcase_add_test(client, test_client_preload);
  tcase_add_test(client, test_client_end_sends_last_frame_last);
  tcase_add_test(client, test_client_overflow_cuts);
  tcase_add_test(client, test_client_overflow_within_batch);
  tcase_add_test(client, test_client_gone_drops_frames);
  tcase_add_test(client, test_client_hangup_ends_with_error);
  suite_add_tcase(s, client);

  tcase_set_timeout(threads, 10);
  tcase_add_test(threads, test_registry_concurrent_fanout);
  suite_add_tcase(s, threads);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(registry_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
