/* check_pubqueue.c - unit tests for the bounded queue between publishers
 * and the broadcaster (src/core/pubqueue.h): sequence numbers in queue
 * order, refusal when full, publishers held until there is room (asleep
 * in reserve_wait, or parked as waiters), and the close. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "frame.h"
#include "pubqueue.h"
#include "sync.h"
#include "testlib.h"

/* Reserve, then commit a frame carrying the reserved seq; returns the
 * seq. The frame's text is "<seq>". */
static uint64_t push(struct sh_pubqueue *q)
{
  char text[32];
  struct sh_frame *f;
  uint64_t seq;

  ck_assert_int_eq(0, sh_pubqueue_reserve(q, &seq));
  snprintf(text, sizeof(text), "%llu", (unsigned long long) seq);
  f = tl_frame_str(text);
  f->seq = seq;
  sh_pubqueue_commit(q, f);
  return seq;
}

/* Pop up to n frames (waiting at most 100 ms); their seqs into seqs (if
 * not NULL). Returns how many came. */
static size_t pop(struct sh_pubqueue *q, size_t n, uint64_t *seqs)
{
  struct sh_frame *out[64];
  bool closed;
  size_t i, got;

  ck_assert_uint_le(n, 64);
  got = sh_pubqueue_pop(q, out, n, sh_now_ms() + 100, &closed);
  for (i = 0; i < got; i++) {
    if (NULL != seqs)
      seqs[i] = out[i]->seq;
    sh_frame_unref(out[i]);
  }
  return got;
}

/* ---- order and refusal -------------------------------------------------- */

START_TEST(test_pubqueue_init_rejects_zero_cap)
{
  struct sh_pubqueue q;

  ck_assert_int_eq(-EINVAL, sh_pubqueue_init(&q, 0));
}
END_TEST

/* Each reserve names the next seq; commit appends, cancel gives nothing
 * up (the next reserve gets the same seq); pop hands the frames back in
 * that order. */
START_TEST(test_pubqueue_reserve_commit_cancel_order_and_seqs)
{
  struct sh_pubqueue q;
  struct sh_frame *a = tl_frame_str("a"), *b = tl_frame_str("b"), *out[4];
  uint64_t seq;
  bool closed = true;

  ck_assert_int_eq(0, sh_pubqueue_init(&q, 4));
  ck_assert_int_eq(0, sh_pubqueue_reserve(&q, &seq));
  ck_assert_uint_eq(seq, 1);
  a->seq = seq;
  sh_pubqueue_commit(&q, a);
  ck_assert_int_eq(0, sh_pubqueue_reserve(&q, &seq));
  ck_assert_uint_eq(seq, 2);
  sh_pubqueue_cancel(&q);
  ck_assert_int_eq(0, sh_pubqueue_reserve(&q, &seq));
  ck_assert_uint_eq(seq, 2);
  b->seq = seq;
  sh_pubqueue_commit(&q, b);
  ck_assert_uint_eq(2, sh_pubqueue_pop(&q, out, 4, sh_now_ms() + 100, &closed));
  ck_assert(!closed);
  /* The very frames, references handed over. */
  ck_assert_ptr_eq(out[0], a);
  ck_assert_ptr_eq(out[1], b);
  ck_assert_uint_eq(tl_frame_refs(a), 1);
  sh_frame_unref(out[0]);
  sh_frame_unref(out[1]);
  ck_assert_uint_eq(push(&q), 3);
  ck_assert_uint_eq(1, pop(&q, 4, NULL));
  sh_pubqueue_destroy(&q);
}
END_TEST

/* Full: refused at once with -EAGAIN, nothing dropped, the lock not held
 * (the pop below would deadlock); one pop makes room for one. */
START_TEST(test_pubqueue_full_refuses_eagain_until_a_pop)
{
  struct sh_pubqueue q;
  uint64_t seq = 0, seqs[8];

  ck_assert_int_eq(0, sh_pubqueue_init(&q, 3));
  push(&q);
  push(&q);
  push(&q);
  ck_assert_int_eq(-EAGAIN, sh_pubqueue_reserve(&q, &seq));
  ck_assert_int_eq(-EAGAIN, sh_pubqueue_reserve(&q, &seq));
  ck_assert_uint_eq(1, pop(&q, 1, seqs));
  ck_assert_uint_eq(seqs[0], 1);
  ck_assert_uint_eq(push(&q), 4); /* refusals took no seq */
  ck_assert_int_eq(-EAGAIN, sh_pubqueue_reserve(&q, &seq));
  ck_assert_uint_eq(3, pop(&q, 8, seqs));
  ck_assert_uint_eq(seqs[0], 2);
  ck_assert_uint_eq(seqs[2], 4);
  sh_pubqueue_destroy(&q);
}
END_TEST

/* Publishers on several threads at once: every accepted event has its
 * own seq, and the broadcaster gets them in seq order with no gap, each
 * publisher's own events in the order it published them. */
enum { PUBLISHERS = 4, PER_PUBLISHER = 3000 };

struct publisher {
  struct sh_pubqueue *q;
  int id;
  int refused;
};

static void *publish_many(void *arg)
{
  struct publisher *p = arg;
  int k = 0;

  while (k < PER_PUBLISHER) {
    char text[32];
    struct sh_frame *f;
    uint64_t seq;
    int n = snprintf(text, sizeof(text), "%d:%d", p->id, k);

    if (0 != sh_pubqueue_reserve(p->q, &seq)) {
      p->refused++;
      sched_yield();
      continue;
    }
    f = sh_frame_new_copy(text, (size_t) n);
    f->seq = seq;
    sh_pubqueue_commit(p->q, f);
    k++;
  }
  return NULL;
}

START_TEST(test_pubqueue_concurrent_publishers_unique_seqs_in_order)
{
  struct sh_pubqueue q;
  struct publisher p[PUBLISHERS];
  pthread_t t[PUBLISHERS];
  int next_of[PUBLISHERS] = { 0 };
  uint64_t want = 1;
  long long deadline = sh_now_ms() + 10000 * tl_scale();
  int i, bad_order = 0, bad_seq = 0;

  ck_assert_int_eq(0, sh_pubqueue_init(&q, 16));
  for (i = 0; i < PUBLISHERS; i++) {
    p[i] = (struct publisher){ .q = &q, .id = i };
    ck_assert_int_eq(0, pthread_create(&t[i], NULL, publish_many, &p[i]));
  }
  while (want <= PUBLISHERS * PER_PUBLISHER && sh_now_ms() < deadline) {
    struct sh_frame *out[8];
    bool closed;
    size_t n = sh_pubqueue_pop(&q, out, 8, sh_now_ms() + 100, &closed), j;

    for (j = 0; j < n; j++) {
      char text[32];
      int who, k;

      if (out[j]->seq != want)
        bad_seq++;
      want++;
      /* The bytes are not NUL-terminated. */
      snprintf(text, sizeof(text), "%.*s", (int) out[j]->len, out[j]->bytes);
      if (2 != sscanf(text, "%d:%d", &who, &k) || who < 0 || who >= PUBLISHERS
          || k != next_of[who]++)
        bad_order++;
      sh_frame_unref(out[j]);
    }
  }
  for (i = 0; i < PUBLISHERS; i++)
    pthread_join(t[i], NULL);
  ck_assert_uint_eq(want - 1, PUBLISHERS * PER_PUBLISHER);
  ck_assert_int_eq(bad_seq, 0);
  ck_assert_int_eq(bad_order, 0);
  sh_pubqueue_destroy(&q);
}
END_TEST

/* ---- the popper --------------------------------------------------------- */

START_TEST(test_pubqueue_pop_empty_waits_until_deadline)
{
  struct sh_pubqueue q;
  struct sh_frame *out[1];
  long long t0 = sh_now_ms();
  bool closed = true;

  ck_assert_int_eq(0, sh_pubqueue_init(&q, 2));
  ck_assert_uint_eq(0, sh_pubqueue_pop(&q, out, 1, t0 + 150, &closed));
  ck_assert(!closed);
  ck_assert_int_ge(sh_now_ms() - t0, 150);
  ck_assert_int_lt(sh_now_ms() - t0, 150 + 2000 * tl_scale());
  sh_pubqueue_destroy(&q);
}
END_TEST

struct popper {
  struct sh_pubqueue *q;
  size_t got;
  long long ms;
  bool closed;
};

static void *pop_once(void *arg)
{
  struct popper *p = arg;
  struct sh_frame *out[4];
  long long t0 = sh_now_ms();
  size_t i;

  p->got = sh_pubqueue_pop(p->q, out, 4, t0 + 10000, &p->closed);
  p->ms = sh_now_ms() - t0;
  for (i = 0; i < p->got; i++)
    sh_frame_unref(out[i]);
  return NULL;
}

/* A waiting broadcaster wakes on the push, not at its deadline. */
START_TEST(test_pubqueue_pop_wakes_on_push)
{
  struct sh_pubqueue q;
  struct popper p = { .q = &q };
  pthread_t t;

  ck_assert_int_eq(0, sh_pubqueue_init(&q, 2));
  ck_assert_int_eq(0, pthread_create(&t, NULL, pop_once, &p));
  tl_sleep_ms(100);
  push(&q);
  pthread_join(t, NULL);
  ck_assert_uint_eq(p.got, 1);
  ck_assert_int_lt(p.ms, 5000);
  sh_pubqueue_destroy(&q);
}
END_TEST

/* A nudge wakes a waiting pop empty handed (a reload changed the
 * heartbeat), and one that comes before the pop is not lost; it is used
 * up by the pop it wakes. */
START_TEST(test_pubqueue_nudge_wakes_pop_once)
{
  struct sh_pubqueue q;
  struct popper p = { .q = &q };
  struct sh_frame *out[1];
  long long t0;
  bool closed = true;
  pthread_t t;

  ck_assert_int_eq(0, sh_pubqueue_init(&q, 2));
  ck_assert_int_eq(0, pthread_create(&t, NULL, pop_once, &p));
  tl_sleep_ms(100);
  sh_pubqueue_nudge(&q);
  pthread_join(t, NULL);
  ck_assert_uint_eq(p.got, 0);
  ck_assert(!p.closed);
  ck_assert_int_lt(p.ms, 5000);
  /* Before the pop: it returns at once. */
  sh_pubqueue_nudge(&q);
  t0 = sh_now_ms();
  ck_assert_uint_eq(0, sh_pubqueue_pop(&q, out, 1, t0 + 10000, &closed));
  ck_assert_int_lt(sh_now_ms() - t0, 5000);
  /* Used up: the next pop waits for its deadline again. */
  t0 = sh_now_ms();
  ck_assert_uint_eq(0, sh_pubqueue_pop(&q, out, 1, t0 + 150, &closed));
  ck_assert_int_ge(sh_now_ms() - t0, 150);
  sh_pubqueue_destroy(&q);
}
END_TEST

/* ---- reserve_wait ------------------------------------------------------- */

START_TEST(test_pubqueue_reserve_wait_room_at_once_deadline_when_full)
{
  struct sh_pubqueue q;
  uint64_t seq = 0;
  long long t0;

  ck_assert_int_eq(0, sh_pubqueue_init(&q, 1));
  /* Room: like reserve, at once. */
  ck_assert_int_eq(0, sh_pubqueue_reserve_wait(&q, &seq, -1));
  ck_assert_uint_eq(seq, 1);
  sh_pubqueue_cancel(&q);
  push(&q);
  /* Full, and nobody pops: -EAGAIN once the deadline passes, not before. */
  t0 = sh_now_ms();
  ck_assert_int_eq(-EAGAIN, sh_pubqueue_reserve_wait(&q, &seq, t0 + 150));
  ck_assert_int_ge(sh_now_ms() - t0, 150);
  ck_assert_int_lt(sh_now_ms() - t0, 150 + 2000 * tl_scale());
  /* A deadline already past: at once. */
  ck_assert_int_eq(-EAGAIN, sh_pubqueue_reserve_wait(&q, &seq, 0));
  sh_pubqueue_destroy(&q);
}
END_TEST

struct sleeper {
  struct sh_pubqueue *q;
  long long deadline_ms;
  int rc;
  uint64_t seq;
  atomic_bool done;
};

/* reserve_wait; on success commit a frame with the seq. */
static void *sleep_to_publish(void *arg)
{
  struct sleeper *s = arg;

  s->rc = sh_pubqueue_reserve_wait(s->q, &s->seq, s->deadline_ms);
  if (0 == s->rc) {
    struct sh_frame *f = sh_frame_new_copy("slept", 5);

    f->seq = s->seq;
    sh_pubqueue_commit(s->q, f);
  }
  atomic_store(&s->done, true);
  return NULL;
}

static void sleeper_start(struct sleeper *s, pthread_t *t,
                          struct sh_pubqueue *q, long long deadline_ms)
{
  memset(s, 0, sizeof(*s));
  s->q = q;
  s->deadline_ms = deadline_ms;
  atomic_init(&s->done, false);
  ck_assert_int_eq(0, pthread_create(t, NULL, sleep_to_publish, s));
}

/* A thread asleep in reserve_wait gets in when a pop makes room, long
 * before its deadline, with the next seq. */
START_TEST(test_pubqueue_reserve_wait_woken_by_pop)
{
  struct sh_pubqueue q;
  struct sleeper s;
  pthread_t t;
  uint64_t seqs[4];

  ck_assert_int_eq(0, sh_pubqueue_init(&q, 2));
  push(&q);
  push(&q);
  sleeper_start(&s, &t, &q, sh_now_ms() + 60000);
  ck_assert(!tl_flag_within(&s.done, 200)); /* asleep while full */
  ck_assert_uint_eq(1, pop(&q, 1, seqs));
  ck_assert(tl_flag_within(&s.done, 2000 * tl_scale()));
  pthread_join(t, NULL);
  ck_assert_int_eq(s.rc, 0);
  ck_assert_uint_eq(s.seq, 3);
  ck_assert_uint_eq(2, pop(&q, 4, seqs));
  ck_assert_uint_eq(seqs[1], 3);
  sh_pubqueue_destroy(&q);
}
END_TEST

/* ---- parked waiters ----------------------------------------------------- */

struct waiter {
  struct sh_pubwaiter w; /* first: the callbacks cast back */
  int suspends, wakes;
  int woken_as; /* 1 for the first waiter woken, ... */
};

static int wake_count;

static void on_suspend(struct sh_pubwaiter *w)
{
  ((struct waiter *) w)->suspends++;
}

static void on_wake(struct sh_pubwaiter *w)
{
  struct waiter *x = (struct waiter *) w;

  x->wakes++;
  x->woken_as = ++wake_count;
}

static void waiters_init(struct waiter *w, int n, long long deadline_ms)
{
  int i;

  memset(w, 0, (size_t) n * sizeof(*w));
  wake_count = 0;
  for (i = 0; i < n; i++) {
    w[i].w.suspend = on_suspend;
    w[i].w.wake = on_wake;
    w[i].w.deadline_ms = deadline_ms;
  }
}

/* Which waiters have been woken, as "0,2,3" in the order woken; fails if
 * any was woken twice. */
static const char *woken(const struct waiter *w, int n)
{
  static char out[64];
  int order, i;
  size_t off = 0;

  out[0] = '\0';
  for (i = 0; i < n; i++)
    ck_assert_msg(w[i].wakes <= 1, "waiter %d woken %d times", i, w[i].wakes);
  for (order = 1; order <= wake_count; order++)
    for (i = 0; i < n; i++)
      if (w[i].woken_as == order)
        off += (size_t) snprintf(out + off, sizeof(out) - off, "%s%d",
                                 off > 0 ? "," : "", i);
  return out;
}

/* Parking is for a full, open queue only: otherwise the publisher should
 * try again at once, and is neither suspended nor queued. */
START_TEST(test_pubqueue_park_only_when_full_and_open)
{
  struct sh_pubqueue q;
  struct waiter w[1];

  waiters_init(w, 1, sh_now_ms() + 60000);
  ck_assert_int_eq(0, sh_pubqueue_init(&q, 2));
  ck_assert(!sh_pubqueue_park(&q, &w[0].w));
  push(&q);
  ck_assert(!sh_pubqueue_park(&q, &w[0].w));
  ck_assert_int_eq(w[0].suspends, 0);
  push(&q);
  ck_assert(sh_pubqueue_park(&q, &w[0].w));
  ck_assert_int_eq(w[0].suspends, 1);
  ck_assert_int_eq(w[0].wakes, 0);
  sh_pubqueue_close(&q);
  ck_assert_int_eq(w[0].wakes, 1);
  ck_assert(!sh_pubqueue_park(&q, &w[0].w)); /* closed */
  ck_assert_int_eq(w[0].suspends, 1);
  sh_pubqueue_destroy(&q);
}
END_TEST

/* A pop wakes as many parked publishers as it freed places, oldest first
 * (100 held publishers must not all wake to find one place). */
START_TEST(test_pubqueue_pop_wakes_oldest_waiters_one_per_place)
{
  struct sh_pubqueue q;
  struct waiter w[5];
  int i;

  waiters_init(w, 5, sh_now_ms() + 60000);
  ck_assert_int_eq(0, sh_pubqueue_init(&q, 3));
  push(&q);
  push(&q);
  push(&q);
  for (i = 0; i < 5; i++)
    ck_assert(sh_pubqueue_park(&q, &w[i].w));
  ck_assert_str_eq(woken(w, 5), "");
  ck_assert_uint_eq(1, pop(&q, 1, NULL));
  ck_assert_str_eq(woken(w, 5), "0");
  /* The woken one takes its place; two more free: the next two. */
  push(&q);
  ck_assert_uint_eq(2, pop(&q, 2, NULL));
  ck_assert_str_eq(woken(w, 5), "0,1,2");
  /* Everything popped: three places, two waiters left. */
  ck_assert_uint_eq(1, pop(&q, 3, NULL));
  ck_assert_str_eq(woken(w, 5), "0,1,2,3,4");
  sh_pubqueue_destroy(&q);
}
END_TEST

/* The watcher's tick wakes a waiter whose time ran out (deadline at or
 * before now), even with no place free, so it can answer 503; and as many
 * others as places are free: a waiter left parked beside a free place
 * (the one woken before it never published) does not wait for nothing. */
START_TEST(test_pubqueue_wake_expired_and_beside_free_places)
{
  struct sh_pubqueue q;
  struct waiter w[4];
  long long now = 1000000;
  int i;

  waiters_init(w, 4, now + 60000);
  w[2].w.deadline_ms = now;     /* runs out exactly now */
  w[3].w.deadline_ms = now + 1; /* not yet */
  ck_assert_int_eq(0, sh_pubqueue_init(&q, 2));
  push(&q);
  push(&q);
  for (i = 0; i < 4; i++)
    ck_assert(sh_pubqueue_park(&q, &w[i].w));
  sh_pubqueue_wake_expired(&q, now);
  ck_assert_str_eq(woken(w, 4), "2");
  /* One place: w0. It does not publish; the tick finds the place still
   * free and wakes the next one. */
  ck_assert_uint_eq(1, pop(&q, 1, NULL));
  ck_assert_str_eq(woken(w, 4), "2,0");
  sh_pubqueue_wake_expired(&q, now);
  ck_assert_str_eq(woken(w, 4), "2,0,1");
  /* Full again: w3 stays until its time runs out. */
  push(&q);
  sh_pubqueue_wake_expired(&q, now);
  ck_assert_str_eq(woken(w, 4), "2,0,1");
  sh_pubqueue_wake_expired(&q, now + 1);
  ck_assert_str_eq(woken(w, 4), "2,0,1,3");
  sh_pubqueue_destroy(&q);
}
END_TEST

/* Wake callbacks run without the queue's lock: a woken publisher may
 * publish from its callback at once (HTTP resumes the request there), and
 * may free its waiter, which the queue must not touch afterwards (ASan and
 * valgrind see it if it does). */
struct retrying_waiter {
  struct sh_pubwaiter w;
  struct sh_pubqueue *q;
  int *published;
};

static void retry_and_free(struct sh_pubwaiter *w)
{
  struct retrying_waiter *r = (struct retrying_waiter *) w;

  push(r->q);
  (*r->published)++;
  free(r);
}

static void no_suspend(struct sh_pubwaiter *w)
{
  (void) w;
}

START_TEST(test_pubqueue_wake_runs_unlocked_and_may_free_the_waiter)
{
  struct sh_pubqueue q;
  int i, published = 0;
  uint64_t seqs[4];

  ck_assert_int_eq(0, sh_pubqueue_init(&q, 2));
  push(&q);
  push(&q);
  for (i = 0; i < 3; i++) {
    struct retrying_waiter *r = calloc(1, sizeof(*r));

    ck_assert_ptr_nonnull(r);
    r->w.suspend = no_suspend;
    r->w.wake = retry_and_free;
    r->w.deadline_ms = sh_now_ms() + 60000;
    r->q = &q;
    r->published = &published;
    ck_assert(sh_pubqueue_park(&q, &r->w));
  }
  /* Two places: the two oldest wake and publish into them. */
  ck_assert_uint_eq(2, pop(&q, 2, NULL));
  ck_assert_int_eq(published, 2);
  ck_assert_uint_eq(2, pop(&q, 4, seqs));
  ck_assert_uint_eq(seqs[0], 3);
  ck_assert_uint_eq(seqs[1], 4);
  ck_assert_int_eq(published, 3); /* that pop freed places for the last */
  ck_assert_uint_eq(1, pop(&q, 4, seqs));
  ck_assert_uint_eq(seqs[0], 5);
  sh_pubqueue_destroy(&q);
}
END_TEST

/* ---- close -------------------------------------------------------------- */

/* The close wakes every parked publisher and every sleeper (which get
 * -ESHUTDOWN), refuses what comes after, and the broadcaster still gets
 * everything accepted before it, then learns the queue is closed at once. */
START_TEST(test_pubqueue_close_wakes_everyone_and_pop_drains)
{
  struct sh_pubqueue q;
  struct waiter w[3];
  struct sleeper s;
  struct sh_frame *out[4];
  pthread_t t;
  uint64_t seq, seqs[4];
  long long t0;
  bool closed = false;
  int i;

  waiters_init(w, 3, sh_now_ms() + 60000);
  ck_assert_int_eq(0, sh_pubqueue_init(&q, 3));
  push(&q);
  push(&q);
  push(&q);
  for (i = 0; i < 3; i++)
    ck_assert(sh_pubqueue_park(&q, &w[i].w));
  sleeper_start(&s, &t, &q, -1);
  ck_assert(!tl_flag_within(&s.done, 100));
  sh_pubqueue_close(&q);
  ck_assert_str_eq(woken(w, 3), "0,1,2");
  ck_assert(tl_flag_within(&s.done, 2000 * tl_scale()));
  pthread_join(t, NULL);
  ck_assert_int_eq(s.rc, -ESHUTDOWN);
  ck_assert_int_eq(-ESHUTDOWN, sh_pubqueue_reserve(&q, &seq));
  ck_assert_int_eq(-ESHUTDOWN, sh_pubqueue_reserve_wait(&q, &seq, -1));
  /* Nothing accepted is lost. */
  ck_assert_uint_eq(2, sh_pubqueue_pop(&q, out, 2, sh_now_ms() + 100, &closed));
  ck_assert(closed);
  sh_frame_unref(out[0]);
  sh_frame_unref(out[1]);
  ck_assert_uint_eq(1, pop(&q, 4, seqs));
  ck_assert_uint_eq(seqs[0], 3);
  /* Closed and empty: 0 at once, not at the deadline. */
  t0 = sh_now_ms();
  ck_assert_uint_eq(0, sh_pubqueue_pop(&q, out, 4, t0 + 5000, &closed));
  ck_assert(closed);
  ck_assert_int_lt(sh_now_ms() - t0, 1000);
  sh_pubqueue_destroy(&q);
}
END_TEST

START_TEST(test_pubqueue_destroy_drops_queued_frames)
{
  struct sh_pubqueue q;
  struct sh_frame *f = tl_frame_str("left behind");
  uint64_t seq;

  ck_assert_int_eq(0, sh_pubqueue_init(&q, 2));
  ck_assert_int_eq(0, sh_pubqueue_reserve(&q, &seq));
  f->seq = seq;
  sh_frame_ref(f);
  sh_pubqueue_commit(&q, f);
  ck_assert_uint_eq(tl_frame_refs(f), 2);
  sh_pubqueue_destroy(&q);
  ck_assert_uint_eq(tl_frame_refs(f), 1);
  sh_frame_unref(f);
}
END_TEST

static Suite *pubqueue_suite(void)
{
  Suite *s = suite_create("pubqueue");
  TCase *order = tcase_create("order");
  TCase *wait = tcase_create("wait");
  TCase *park = tcase_create("park");

  tcase_set_timeout(order, 20);
  tcase_add_test(order, test_pubqueue_init_rejects_zero_cap);
  tcase_add_test(order, test_pubqueue_reserve_commit_cancel_order_and_seqs);
  tcase_add_test(order, test_pubqueue_full_refuses_eagain_until_a_pop);
  tcase_add_test(order,
                 test_pubqueue_concurrent_publishers_unique_seqs_in_order);
  tcase_add_test(order, test_pubqueue_destroy_drops_queued_frames);
  suite_add_tcase(s, order);

  tcase_set_timeout(wait, 20);
  tcase_add_test(wait, test_pubqueue_pop_empty_waits_until_deadline);
  tcase_add_test(wait, test_pubqueue_pop_wakes_on_push);
  tcase_add_test(wait, test_pubqueue_nudge_wakes_pop_once);
  tcase_add_test(wait,
                 test_pubqueue_reserve_wait_room_at_once_deadline_when_full);
  tcase_add_test(wait, test_pubqueue_reserve_wait_woken_by_pop);
  tcase_add_test(wait, test_pubqueue_close_wakes_everyone_and_pop_drains);
  suite_add_tcase(s, wait);

  /* A wake callback called with the lock held deadlocks: the timeout
   * turns that into a failure. */
  tcase_set_timeout(park, 10);
  tcase_add_test(park, test_pubqueue_park_only_when_full_and_open);
  tcase_add_test(park, test_pubqueue_pop_wakes_oldest_waiters_one_per_place);
  tcase_add_test(park, test_pubqueue_wake_expired_and_beside_free_places);
  tcase_add_test(park,
                 test_pubqueue_wake_runs_unlocked_and_may_free_the_waiter);
  suite_add_tcase(s, park);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(pubqueue_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
