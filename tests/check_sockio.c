/* check_sockio.c - unit tests for the stream's socket beside libmicrohttpd
 * (src/core/sockio.h), over real AF_UNIX socket pairs: no MHD, no hub.
 * One end plays the stream's socket, the other the peer. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>
#include <microhttpd.h>

#include "counters.h"
#include "frame.h"
#include "sockio.h"

#define KEY 0x1234567800000007ull

/* A stream's socket and what it reports to: the hub's counters and its
 * total of unsent bytes, as the HTTP layer sets them up. */
struct fix {
  int sv[2]; /* [0] the stream's socket, [1] the peer */
  struct sh_sockio io;
  struct sh_counters n;
  atomic_int_fast64_t buffered;
  int ep; /* an epoll set standing in for the watcher */
};

/* small: buffers of the minimum size, so that a batch of a few KiB is
 * taken only in part while the peer does not read. */
static void setup(struct fix *f, enum sh_direct mode, bool small)
{
  int sz = 4096;

  memset(f, 0, sizeof(*f));
  ck_assert_int_eq(0,
                   socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv));
  if (small) {
    ck_assert_int_eq(0, setsockopt(f->sv[0], SOL_SOCKET, SO_SNDBUF, &sz,
                                   sizeof(sz)));
    ck_assert_int_eq(0, setsockopt(f->sv[1], SOL_SOCKET, SO_RCVBUF, &sz,
                                   sizeof(sz)));
  }
  atomic_init(&f->buffered, 0);
  sh_sockio_init(&f->io, f->sv[0]);
  f->io.direct = mode;
  f->io.n = &f->n;
  f->io.buffered = &f->buffered;
  f->ep = epoll_create1(EPOLL_CLOEXEC);
  ck_assert_int_ge(f->ep, 0);
}

/* The hub's total of unsent bytes, as f's socket kept it. */
static long long buffered(struct fix *f)
{
  return (long long) atomic_load(&f->buffered);
}

static void teardown(struct fix *f)
{
  sh_sockio_destroy(&f->io);
  ck_assert_int_eq(0, buffered(f));
  close(f->ep);
  if (f->sv[1] >= 0)
    close(f->sv[1]);
  close(f->sv[0]);
}

static uint64_t stat_of(atomic_uint_fast64_t *c)
{
  return (uint64_t) atomic_load(c);
}

static struct sh_frame *frame_str(const char *s)
{
  struct sh_frame *f = sh_frame_new_copy(s, strlen(s));

  ck_assert_ptr_nonnull(f);
  return f;
}

/* A frame of len bytes: "<i>:" then ch repeated, so order shows. */
static struct sh_frame *frame_fill(unsigned i, char ch, size_t len)
{
  struct sh_frame *f = sh_frame_new(len);
  int k;

  ck_assert_ptr_nonnull(f);
  memset(f->bytes, ch, len);
  k = snprintf(f->bytes, len, "%u:", i);
  f->bytes[k] = ch; /* over snprintf's NUL */
  f->seq = i + 1;
  return f;
}

static unsigned refs(struct sh_frame *f)
{
  return atomic_load(&f->refs);
}

/* What a peer must receive for frames[0..n) in mode: each frame as its
 * own chunk, or its bytes; frames of 0 bytes not at all. Returns the
 * length; *out is malloc'd. */
static size_t expect(enum sh_direct mode, struct sh_frame *const *frames,
                     size_t n, char **out)
{
  size_t i, len = 0;
  char *p = malloc(n * (SH_FRAME_HEAD_MAX + 2) + 65536);

  ck_assert_ptr_nonnull(p);
  for (i = 0; i < n; i++) {
    size_t l;
    const char *b;

    if (0 == frames[i]->len)
      continue;
    if (SH_DIRECT_CHUNKED == mode) {
      b = sh_frame_chunk(frames[i], &l);
    } else {
      b = frames[i]->bytes;
      l = frames[i]->len;
    }
    memcpy(p + len, b, l);
    len += l;
  }
  *out = p;
  return len;
}

/* Everything the peer can read now, up to cap bytes (no waiting). */
static size_t take(int fd, char *buf, size_t cap)
{
  size_t got = 0;

  while (got < cap) {
    ssize_t r = recv(fd, buf + got, cap - got, MSG_DONTWAIT);

    if (r <= 0)
      break;
    got += (size_t) r;
  }
  return got;
}

/* True when nothing is there to read on fd within ms. */
static bool silent(int fd, int ms)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };

  return 0 == poll(&p, 1, ms);
}

/* The events of the one registration in ep, within ms; 0 for none. */
static uint32_t ep_events(int ep, int ms, uint64_t *key)
{
  struct epoll_event ev;
  int r = epoll_wait(ep, &ev, 1, ms);

  if (r <= 0)
    return 0;
  *key = ev.data.u64;
  return ev.events;
}

/* ---- direct writes ------------------------------------------------------ */

static void check_write_delivers(enum sh_direct mode)
{
  struct fix f;
  struct sh_frame *fr[3];
  char got[256], *want;
  size_t sent, len;

  setup(&f, mode, false);
  fr[0] = frame_str("data: a\n\n");
  fr[1] = frame_str("id: 2\ndata: bb\n\n");
  fr[2] = frame_str(": hb\n\n");
  len = expect(mode, fr, 2, &want);
  ck_assert_int_eq(SH_SOCKIO_WRITTEN, sh_sockio_write(&f.io, fr, 2, &sent));
  ck_assert_uint_eq(2, sent);
  ck_assert_uint_eq(len, take(f.sv[1], got, sizeof(got)));
  ck_assert_int_eq(0, memcmp(got, want, len));
  ck_assert(silent(f.sv[1], 0));
  ck_assert_uint_eq(1, stat_of(&f.n.direct_writes));
  ck_assert_uint_eq(len, stat_of(&f.n.bytes_sent));
  free(want);

  /* One frame: the single-segment path (send(), not sendmsg()). */
  len = expect(mode, fr + 2, 1, &want);
  ck_assert_int_eq(SH_SOCKIO_WRITTEN, sh_sockio_write(&f.io, fr + 2, 1, &sent));
  ck_assert_uint_eq(1, sent);
  ck_assert_uint_eq(len, take(f.sv[1], got, sizeof(got)));
  ck_assert_int_eq(0, memcmp(got, want, len));
  ck_assert_uint_eq(2, stat_of(&f.n.direct_writes));
  ck_assert_uint_eq(0, stat_of(&f.n.direct_tails));
  ck_assert_uint_eq(0, sh_sockio_pending(&f.io));
  ck_assert_int_eq(0, buffered(&f));
  /* The write kept no reference. */
  ck_assert_uint_eq(1, refs(fr[0]));
  ck_assert_uint_eq(1, refs(fr[2]));
  free(want);
  sh_frame_unref(fr[0]);
  sh_frame_unref(fr[1]);
  sh_frame_unref(fr[2]);
  teardown(&f);
}

START_TEST(test_sockio_chunked_write_delivers_exact_chunks)
{
  check_write_delivers(SH_DIRECT_CHUNKED);
}
END_TEST

START_TEST(test_sockio_identity_write_delivers_exact_bytes)
{
  check_write_delivers(SH_DIRECT_IDENTITY);
}
END_TEST

/* A chunk of size 0 is the end of a chunked body: an empty frame must
 * never go out as one, alone or among others. */
START_TEST(test_sockio_empty_frames_never_sent_as_a_chunk)
{
  struct fix f;
  struct sh_frame *fr[3];
  char got[256], *want;
  size_t sent, len;

  setup(&f, SH_DIRECT_CHUNKED, false);
  fr[0] = frame_str("data: a\n\n");
  fr[1] = sh_frame_new(0);
  ck_assert_ptr_nonnull(fr[1]);
  fr[2] = frame_str("data: c\n\n");

  ck_assert_int_eq(SH_SOCKIO_WRITTEN, sh_sockio_write(&f.io, fr + 1, 1, &sent));
  ck_assert_uint_eq(0, sent);
  ck_assert(silent(f.sv[1], 50));
  ck_assert_uint_eq(0, stat_of(&f.n.direct_writes));

  len = expect(SH_DIRECT_CHUNKED, fr, 3, &want);
  ck_assert_int_eq(SH_SOCKIO_WRITTEN, sh_sockio_write(&f.io, fr, 3, &sent));
  ck_assert_uint_eq(2, sent);
  ck_assert_uint_eq(len, take(f.sv[1], got, sizeof(got)));
  ck_assert_int_eq(0, memcmp(got, want, len));
  ck_assert_ptr_null(memmem(got, len, "\r\n0\r\n", 5));
  ck_assert(silent(f.sv[1], 0));
  free(want);
  sh_frame_unref(fr[0]);
  sh_frame_unref(fr[1]);
  sh_frame_unref(fr[2]);
  teardown(&f);
}
END_TEST

/* Nothing is written, and the batch goes through MHD: no direct mode, a
 * batch too long or too large, a full socket. */
START_TEST(test_sockio_queues_what_it_cannot_write)
{
  struct fix f;
  struct sh_frame *one = frame_str("data: a\n\n");
  struct sh_frame *big = frame_fill(0, 'b', SH_DIRECT_MAX);
  struct sh_frame *many[SH_DIRECT_BATCH + 1];
  char fill[4096];
  size_t sent, i;

  for (i = 0; i <= SH_DIRECT_BATCH; i++)
    many[i] = one;
  setup(&f, SH_DIRECT_NONE, true);
  ck_assert_int_eq(SH_SOCKIO_QUEUE, sh_sockio_write(&f.io, &one, 1, &sent));
  f.io.direct = SH_DIRECT_CHUNKED;
  ck_assert_int_eq(SH_SOCKIO_QUEUE,
                   sh_sockio_write(&f.io, many, SH_DIRECT_BATCH + 1, &sent));
  ck_assert_int_eq(SH_SOCKIO_QUEUE, sh_sockio_write(&f.io, &big, 1, &sent));
  ck_assert(silent(f.sv[1], 0));

  /* Full: the whole write refused (EAGAIN), nothing cut. */
  memset(fill, 'x', sizeof(fill));
  while (send(f.sv[0], fill, sizeof(fill), MSG_DONTWAIT) > 0)
    ;
  while (send(f.sv[0], fill, 1, MSG_DONTWAIT) > 0)
    ;
  ck_assert_int_eq(SH_SOCKIO_QUEUE, sh_sockio_write(&f.io, &one, 1, &sent));
  ck_assert_uint_eq(0, sent);
  ck_assert_uint_eq(0, stat_of(&f.n.direct_writes));
  ck_assert_uint_eq(0, stat_of(&f.n.bytes_sent));
  ck_assert_uint_eq(0, sh_sockio_pending(&f.io));
  ck_assert_uint_eq(1, refs(one));
  sh_frame_unref(one);
  sh_frame_unref(big);
  teardown(&f);
}
END_TEST

/* ---- tails -------------------------------------------------------------- */

#define TAIL_FRAMES 8
#define TAIL_FRAME_LEN 1800 /* 8 chunks: ~14 KiB, under SH_DIRECT_MAX */

static void tail_frames(struct sh_frame **fr)
{
  unsigned i;

  for (i = 0; i < TAIL_FRAMES; i++)
    fr[i] = frame_fill(i, (char) ('a' + i), TAIL_FRAME_LEN);
}

static void unref_all(struct sh_frame **fr)
{
  unsigned i;

  for (i = 0; i < TAIL_FRAMES; i++) {
    ck_assert_uint_eq(1, refs(fr[i]));
    sh_frame_unref(fr[i]);
  }
}

/* Write the batch to a peer that does not read, with the watcher's set
 * registered: it must be taken in part and kept as a tail. Returns the
 * bytes that went out. */
static size_t write_cut(struct fix *f, struct sh_frame **fr, size_t total)
{
  size_t sent, out;
  uint64_t key = 0;

  ck_assert_int_eq(0, sh_sockio_watch(&f->io, f->ep, KEY));
  ck_assert_int_eq(SH_SOCKIO_TAIL,
                   sh_sockio_write(&f->io, fr, TAIL_FRAMES, &sent));
  ck_assert_uint_eq(TAIL_FRAMES, sent);
  out = total - sh_sockio_pending(&f->io);
  ck_assert_uint_gt(out, 0);
  ck_assert_uint_lt(out, total);
  ck_assert_uint_eq(1, stat_of(&f->n.direct_tails));
  ck_assert_uint_eq(1, stat_of(&f->n.direct_writes));
  ck_assert_uint_eq(out, stat_of(&f->n.bytes_sent));
  ck_assert_int_eq((long long) (total - out), buffered(f));
  /* The tail holds the frames; nothing asks for EPOLLOUT while full. */
  ck_assert_uint_eq(2, refs(fr[0]));
  ck_assert_uint_eq(0, ep_events(f->ep, 0, &key));
  return out;
}

START_TEST(test_sockio_partial_write_kept_as_tail_then_finished)
{
  struct fix f;
  struct sh_frame *fr[TAIL_FRAMES];
  char *want, *got;
  size_t total, have = 0, sent;
  int r = 0, rounds;

  setup(&f, SH_DIRECT_CHUNKED, true);
  tail_frames(fr);
  total = expect(SH_DIRECT_CHUNKED, fr, TAIL_FRAMES, &want);
  got = malloc(total + 1);
  write_cut(&f, fr, total);
  /* While the tail waits, nothing else may be written directly. */
  ck_assert_int_eq(SH_SOCKIO_QUEUE, sh_sockio_write(&f.io, fr, 1, &sent));

  /* The peer reads; the watcher hears EPOLLOUT under our key each time
   * the socket drains, and the tail goes out, in order. */
  for (rounds = 0; rounds < 1000 && 1 != r; rounds++) {
    uint64_t key = 0;

    have += take(f.sv[1], got + have, total + 1 - have);
    ck_assert_uint_ne(0, EPOLLOUT & ep_events(f.ep, 2000, &key));
    ck_assert_uint_eq(KEY, key);
    r = sh_sockio_writable(&f.io);
    ck_assert_int_ge(r, 0);
  }
  ck_assert_int_eq(1, r);
  while (have < total && !silent(f.sv[1], 1000))
    have += take(f.sv[1], got + have, total + 1 - have);
  ck_assert_uint_eq(total, have);
  ck_assert_int_eq(0, memcmp(got, want, total));
  ck_assert(silent(f.sv[1], 0));

  ck_assert_uint_eq(0, sh_sockio_pending(&f.io));
  ck_assert_int_eq(0, buffered(&f));
  ck_assert_uint_eq(total, stat_of(&f.n.bytes_sent));
  ck_assert_uint_eq(1, stat_of(&f.n.direct_tails));
  ck_assert_uint_eq(1, stat_of(&f.n.direct_writes));
  ck_assert_int_eq(0, sh_sockio_writable(&f.io)); /* no tail: nothing */
  {
    /* Back to hang-ups only: a drained socket wakes nobody. */
    uint64_t key = 0;

    ck_assert_uint_eq(0, EPOLLOUT & ep_events(f.ep, 100, &key));
  }
  unref_all(fr);
  free(want);
  free(got);
  teardown(&f);
}
END_TEST

/* Without the watcher a cut chunk could never be finished: the write
 * reports the stream broken, keeps nothing and counts nothing. */
START_TEST(test_sockio_tail_without_watcher_is_broken)
{
  struct fix f;
  struct sh_frame *fr[TAIL_FRAMES];
  char *want, *got;
  size_t total, sent, have;

  setup(&f, SH_DIRECT_CHUNKED, true);
  tail_frames(fr);
  total = expect(SH_DIRECT_CHUNKED, fr, TAIL_FRAMES, &want);
  got = malloc(total + 1);
  ck_assert_int_eq(SH_SOCKIO_BROKEN,
                   sh_sockio_write(&f.io, fr, TAIL_FRAMES, &sent));
  ck_assert_uint_eq(0, sent);
  ck_assert_uint_eq(0, sh_sockio_pending(&f.io));
  ck_assert_int_eq(0, buffered(&f));
  ck_assert_uint_eq(0, stat_of(&f.n.direct_tails));
  ck_assert_uint_eq(0, stat_of(&f.n.direct_writes));
  /* What went out is a cut prefix, and stays one. */
  have = take(f.sv[1], got, total + 1);
  ck_assert_uint_gt(have, 0);
  ck_assert_uint_lt(have, total);
  ck_assert_int_eq(0, memcmp(got, want, have));
  ck_assert(silent(f.sv[1], 100));
  unref_all(fr);
  free(want);
  free(got);
  teardown(&f);
}
END_TEST

/* A stream that ends drops its tail: the cut chunk is never completed,
 * and not one more byte reaches the peer. */
START_TEST(test_sockio_dropped_tail_is_never_sent)
{
  struct fix f;
  struct sh_frame *fr[TAIL_FRAMES];
  char *want, *got;
  size_t total, out, have = 0;

  setup(&f, SH_DIRECT_CHUNKED, true);
  tail_frames(fr);
  total = expect(SH_DIRECT_CHUNKED, fr, TAIL_FRAMES, &want);
  got = malloc(total + 1);
  out = write_cut(&f, fr, total);
  sh_sockio_drop_tail(&f.io);
  ck_assert_uint_eq(0, sh_sockio_pending(&f.io));
  ck_assert_int_eq(0, buffered(&f));
  ck_assert_uint_eq(1, refs(fr[0]));

  /* The peer reads all there is; the watcher would call writable. */
  while (!silent(f.sv[1], 200)) {
    have += take(f.sv[1], got + have, total + 1 - have);
    ck_assert_int_eq(0, sh_sockio_writable(&f.io));
  }
  ck_assert_uint_eq(out, have);
  ck_assert_int_eq(0, memcmp(got, want, out));
  ck_assert_uint_eq(out, stat_of(&f.n.bytes_sent));
  unref_all(fr);
  free(want);
  free(got);
  teardown(&f);
}
END_TEST

/* A peer that goes away while a tail waits: writable reports it; the tail
 * is the caller's to drop (the stream ends). */
START_TEST(test_sockio_writable_reports_a_gone_peer)
{
  struct fix f;
  struct sh_frame *fr[TAIL_FRAMES];
  char *want;
  size_t total;

  setup(&f, SH_DIRECT_CHUNKED, true);
  tail_frames(fr);
  total = expect(SH_DIRECT_CHUNKED, fr, TAIL_FRAMES, &want);
  write_cut(&f, fr, total);
  close(f.sv[1]);
  f.sv[1] = -1;
  ck_assert_int_eq(-1, sh_sockio_writable(&f.io));
  ck_assert_uint_gt(sh_sockio_pending(&f.io), 0);
  sh_sockio_drop_tail(&f.io);
  ck_assert_int_eq(0, buffered(&f));
  unref_all(fr);
  free(want);
  teardown(&f);
}
END_TEST

/* ---- hang-ups ----------------------------------------------------------- */

START_TEST(test_sockio_write_to_a_closed_peer_fails)
{
  struct fix f;
  struct sh_frame *fr[2];
  size_t sent;

  setup(&f, SH_DIRECT_CHUNKED, false);
  fr[0] = frame_str("data: a\n\n");
  fr[1] = frame_str("data: b\n\n");
  close(f.sv[1]);
  f.sv[1] = -1;
  ck_assert_int_eq(SH_SOCKIO_GONE, sh_sockio_write(&f.io, fr, 1, &sent));
  ck_assert_int_eq(SH_SOCKIO_GONE, sh_sockio_write(&f.io, fr, 2, &sent));
  ck_assert_uint_eq(0, sent);
  ck_assert_uint_eq(0, stat_of(&f.n.direct_writes));
  ck_assert_uint_eq(0, stat_of(&f.n.bytes_sent));
  ck_assert_uint_eq(1, refs(fr[0]));
  sh_frame_unref(fr[0]);
  sh_frame_unref(fr[1]);
  teardown(&f);
}
END_TEST

START_TEST(test_sockio_watch_reports_hangup_under_its_key)
{
  struct fix f;
  struct sh_sockio none;
  uint64_t key = 0;
  uint32_t ev;

  setup(&f, SH_DIRECT_CHUNKED, false);
  sh_sockio_init(&none, -1);
  ck_assert_int_eq(-EBADF, sh_sockio_watch(&none, f.ep, KEY));
  ck_assert_int_eq(-EBADF, sh_sockio_watch(&f.io, -1, KEY));
  ck_assert_int_eq(0, sh_sockio_watch(&f.io, f.ep, KEY));
  ck_assert_int_eq(-EEXIST, sh_sockio_watch(&f.io, f.ep, KEY));
  ck_assert_uint_eq(0, ep_events(f.ep, 0, &key)); /* writable: not asked */
  close(f.sv[1]);
  f.sv[1] = -1;
  ev = ep_events(f.ep, 2000, &key);
  ck_assert_uint_ne(0, ev & EPOLLRDHUP);
  ck_assert_uint_eq(KEY, key);
  /* Edge-triggered: once. */
  ck_assert_uint_eq(0, ep_events(f.ep, 0, &key));
  teardown(&f);
}
END_TEST

/* ---- ending a stream ---------------------------------------------------- */

START_TEST(test_sockio_end_now_shuts_down_and_returns_one_byte)
{
  struct fix f;
  struct sh_sockio none;
  char buf[8] = "", c;

  setup(&f, SH_DIRECT_CHUNKED, false);
  sh_sockio_init(&none, -1);
  ck_assert_int_eq(MHD_CONTENT_READER_END_WITH_ERROR,
                   sh_sockio_end_now(&none, buf, sizeof(buf)));
  /* No room for the byte: an error, and the socket left alone. */
  ck_assert_int_eq(MHD_CONTENT_READER_END_WITH_ERROR,
                   sh_sockio_end_now(&f.io, buf, 0));
  ck_assert_int_eq(1, (int) send(f.sv[0], "x", 1, MSG_NOSIGNAL));
  ck_assert_int_eq(1, (int) recv(f.sv[1], &c, 1, 0));

  ck_assert_int_eq(1, (int) sh_sockio_end_now(&f.io, buf, sizeof(buf)));
  ck_assert_int_eq('\n', buf[0]);
  /* The byte's send fails (what makes MHD clean up); the peer sees the
   * end and nothing else. */
  errno = 0;
  ck_assert_int_eq(-1, (int) send(f.sv[0], buf, 1, MSG_NOSIGNAL));
  ck_assert_int_eq(EPIPE, errno);
  ck_assert_int_eq(0, (int) recv(f.sv[1], &c, 1, 0));
  teardown(&f);
}
END_TEST

START_TEST(test_sockio_abort_shuts_the_socket_down)
{
  struct fix f;
  struct sh_sockio none;
  char c;

  setup(&f, SH_DIRECT_CHUNKED, false);
  sh_sockio_init(&none, -1);
  sh_sockio_abort(&none); /* no socket: nothing */
  sh_sockio_abort(&f.io);
  errno = 0;
  ck_assert_int_eq(-1, (int) send(f.sv[0], "x", 1, MSG_NOSIGNAL));
  ck_assert_int_eq(EPIPE, errno);
  ck_assert_int_eq(0, (int) recv(f.sv[1], &c, 1, 0));
  teardown(&f);
}
END_TEST

/* ---- MHD's buffer while parked ------------------------------------------ */

/* Whether every byte of [p, p + len) is ch. */
static bool all(const char *p, size_t len, char ch)
{
  size_t i;

  for (i = 0; i < len; i++)
    if (ch != p[i])
      return false;
  return true;
}

START_TEST(test_sockio_parked_releases_whole_pages_when_due)
{
  size_t page = (size_t) sysconf(_SC_PAGESIZE), len = 4 * page;
  char *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *buf = base + 100; /* MHD's buffer is not page-aligned */
  size_t max = len - 100;
  struct sh_sockio io;

  ck_assert_ptr_ne(base, MAP_FAILED);
  sh_sockio_init(&io, -1);
  memset(base, 'x', len);
  /* First park: at once; partial pages at the ends are kept. */
  sh_sockio_parked(&io, buf, max);
  ck_assert(all(base, page, 'x'));
  ck_assert(all(base + page, len - page, '\0'));

  /* Small writes stay in the first page: no syscall, nothing released. */
  memset(base + page, 'y', page);
  sh_sockio_filled(&io, buf, 50);
  sh_sockio_parked(&io, buf, max);
  ck_assert(all(base + page, page, 'y'));

  /* Past the first page, but within SH_SCRATCH_RELEASE_MS: kept. */
  sh_sockio_filled(&io, buf, page);
  sh_sockio_parked(&io, buf, max);
  ck_assert(all(base + page, page, 'y'));
  /* ... and once that long has passed, released. */
  io.scratch_ms -= SH_SCRATCH_RELEASE_MS;
  sh_sockio_parked(&io, buf, max);
  ck_assert(all(base + page, page, '\0'));
  ck_assert(all(base, page, 'x'));
  munmap(base, len);
}
END_TEST

static Suite *sockio_suite(void)
{
  Suite *s = suite_create("sockio");
  TCase *writes = tcase_create("writes");
  TCase *tails = tcase_create("tails");
  TCase *ending = tcase_create("ending");
  TCase *buffer = tcase_create("buffer");

  tcase_add_test(writes, test_sockio_chunked_write_delivers_exact_chunks);
  tcase_add_test(writes, test_sockio_identity_write_delivers_exact_bytes);
  tcase_add_test(writes, test_sockio_empty_frames_never_sent_as_a_chunk);
  tcase_add_test(writes, test_sockio_queues_what_it_cannot_write);
  suite_add_tcase(s, writes);

  tcase_add_test(tails, test_sockio_partial_write_kept_as_tail_then_finished);
  tcase_add_test(tails, test_sockio_tail_without_watcher_is_broken);
  tcase_add_test(tails, test_sockio_dropped_tail_is_never_sent);
  tcase_add_test(tails, test_sockio_writable_reports_a_gone_peer);
  suite_add_tcase(s, tails);

  tcase_add_test(ending, test_sockio_write_to_a_closed_peer_fails);
  tcase_add_test(ending, test_sockio_watch_reports_hangup_under_its_key);
  tcase_add_test(ending, test_sockio_end_now_shuts_down_and_returns_one_byte);
  tcase_add_test(ending, test_sockio_abort_shuts_the_socket_down);
  suite_add_tcase(s, ending);

  tcase_add_test(buffer, test_sockio_parked_releases_whole_pages_when_due);
  suite_add_tcase(s, buffer);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(sockio_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
