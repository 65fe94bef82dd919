/* check_fanpool.c - unit tests for the helper threads that split one
 * fan-out across cores (src/hub/fanpool.h). What a client would notice if
 * the pool were wrong: an event delivered twice or not at all (an item
 * handed out other than once), or events out of order (a slice of one
 * batch running after the next batch began). */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "fanpool.h"
#include "testlib.h"

enum { SLICE = SH_FANPOOL_SLICE, MAX_ITEMS = 20000 };

/* One job: which items it touched, how, and on which threads. The work
 * function runs on helpers too, where Check's assertions must not be
 * used: it counts what is wrong, and the test asserts the counts. */
struct job {
  atomic_uint *hits;     /* per item: times handed out in this job */
  atomic_uint *last_job; /* per item: the newest job that touched it */
  atomic_uint *current;  /* the job the caller is running now */
  unsigned id;
  size_t count;
  pthread_t caller;
  atomic_uint bad_range;  /* slices empty or outside [0, count) */
  atomic_uint stale;      /* slices of this job while another ran */
  atomic_uint on_helpers; /* slices run by a helper thread */
  unsigned spin;          /* busy work per item, to widen races */
};

static void work(void *arg, size_t from, size_t to)
{
  struct job *j = arg;
  volatile unsigned sink = 0;
  size_t i;
  unsigned k;

  if (from >= to || to > j->count)
    atomic_fetch_add(&j->bad_range, 1);
  if (!pthread_equal(pthread_self(), j->caller))
    atomic_fetch_add(&j->on_helpers, 1);
  if (atomic_load(j->current) != j->id)
    atomic_fetch_add(&j->stale, 1);
  for (i = from; i < to && i < MAX_ITEMS; i++) {
    atomic_fetch_add(&j->hits[i], 1);
    if (atomic_exchange(&j->last_job[i], j->id) > j->id)
      atomic_fetch_add(&j->stale, 1); /* a newer job was here already */
    for (k = 0; k < j->spin; k++)
      sink += k;
  }
  if (atomic_load(j->current) != j->id)
    atomic_fetch_add(&j->stale, 1);
}

/* Shared by the jobs of one test. */
static atomic_uint hits[MAX_ITEMS], last_job[MAX_ITEMS], current;
static unsigned next_id;

/* Run a job of count items on p and return how many items were not
 * handed out exactly once (items >= count must not be touched at all). */
static size_t run_job(struct sh_fanpool *p, size_t count, unsigned spin,
                      struct job *j)
{
  size_t i, bad = 0;

  memset(j, 0, sizeof(*j));
  j->hits = hits;
  j->last_job = last_job;
  j->current = &current;
  j->id = ++next_id;
  j->count = count;
  j->caller = pthread_self();
  j->spin = spin;
  for (i = 0; i < MAX_ITEMS; i++)
    atomic_store(&hits[i], 0);
  atomic_store(&current, j->id);
  sh_fanpool_run(p, work, j, count);
  /* Done on return: every item, and nothing beyond. */
  for (i = 0; i < MAX_ITEMS; i++)
    if (atomic_load(&hits[i]) != (i < count ? 1u : 0u))
      bad++;
  return bad;
}

static void reset(void)
{
  size_t i;

  for (i = 0; i < MAX_ITEMS; i++)
    atomic_store(&last_job[i], 0);
  atomic_store(&current, 0);
  next_id = 0;
}

/* ---- every item once ---------------------------------------------------- */

START_TEST(test_fanpool_every_item_once_for_any_job_size)
{
  static const size_t counts[] = { 0,
                                   1,
                                   2,
                                   SLICE - 1,
                                   SLICE,
                                   SLICE + 1,
                                   2 * SLICE - 1,
                                   2 * SLICE,
                                   2 * SLICE + 1,
                                   5 * SLICE + 17,
                                   2000,
                                   MAX_ITEMS };
  static const unsigned threads[] = { 2, 3, 4 };
  struct sh_fanpool p;
  struct job j;
  size_t c, t, round, bad;

  reset();
  for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
    ck_assert_int_eq(0, sh_fanpool_start(&p, threads[t]));
    ck_assert_uint_eq(p.nhelpers, threads[t] - 1);
    for (round = 0; round < 10; round++)
      for (c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        bad = run_job(&p, counts[c], 0, &j);
        /* One assertion per job: Check records every passing one. */
        ck_assert_msg(0 == bad && 0 == atomic_load(&j.bad_range),
                      "%u threads, job of %zu: %zu items not handed out "
                      "exactly once, %u bad slices",
                      threads[t], counts[c], bad, atomic_load(&j.bad_range));
      }
    sh_fanpool_stop(&p);
  }
}
END_TEST

/* Jobs are sequential: no slice of a job runs once the call that ran it
 * has returned (the next job may have begun), nor touches an item after a
 * newer job did. Busy work per item keeps slices long, so that a helper
 * lagging behind the end of its job would be caught. */
START_TEST(test_fanpool_jobs_one_after_another)
{
  static const size_t counts[] = { 2 * SLICE, 3 * SLICE + 5, 4000, MAX_ITEMS };
  struct sh_fanpool p;
  struct job j;
  unsigned stale = 0;
  size_t bad = 0;
  int round;

  reset();
  ck_assert_int_eq(0, sh_fanpool_start(&p, 3));
  for (round = 0; round < 60; round++) {
    bad += run_job(&p, counts[round % 4], 50, &j);
    stale += atomic_load(&j.stale);
  }
  sh_fanpool_stop(&p);
  ck_assert_uint_eq(bad, 0);
  ck_assert_uint_eq(stale, 0);
}
END_TEST

/* ---- who runs what ------------------------------------------------------ */

/* threads <= 1: no helper threads at all; the caller does every job. */
START_TEST(test_fanpool_one_thread_runs_inline)
{
  static const unsigned threads[] = { 0, 1 };
  int base = tl_count_threads(getpid());
  struct sh_fanpool p;
  struct job j;
  size_t t;

  reset();
  ck_assert_int_gt(base, 0);
  for (t = 0; t < 2; t++) {
    ck_assert_int_eq(0, sh_fanpool_start(&p, threads[t]));
    ck_assert_uint_eq(p.nhelpers, 0);
    ck_assert_int_eq(tl_count_threads(getpid()), base);
    ck_assert_uint_eq(0, run_job(&p, MAX_ITEMS, 0, &j));
    ck_assert_uint_eq(atomic_load(&j.on_helpers), 0);
    ck_assert_uint_eq(0, run_job(&p, 0, 0, &j));
    sh_fanpool_stop(&p);
  }
}
END_TEST

/* Jobs under two slices run on the caller alone: waking helpers would
 * cost more than it saves. */
START_TEST(test_fanpool_small_jobs_run_on_the_caller)
{
  struct sh_fanpool p;
  struct job j;
  size_t count, helped = 0;
  int round;

  reset();
  ck_assert_int_eq(0, sh_fanpool_start(&p, 4));
  for (round = 0; round < 20; round++)
    for (count = 1; count < 2 * SLICE; count += 37) {
      ck_assert_uint_eq(0, run_job(&p, count, 10, &j));
      helped += atomic_load(&j.on_helpers);
    }
  sh_fanpool_stop(&p);
  ck_assert_uint_eq(helped, 0);
}
END_TEST

/* Large jobs are shared: the helpers take slices. A helper may not get a
 * core before the caller is done (then it finds the job closed), so jobs
 * are run until one did, for a few seconds at most. */
START_TEST(test_fanpool_large_jobs_shared_with_helpers)
{
  struct sh_fanpool p;
  struct job j;
  long long deadline = tl_now_ms() + 5000 * tl_scale();
  unsigned helped = 0;
  int jobs = 0;

  reset();
  ck_assert_int_eq(0, sh_fanpool_start(&p, 3));
  while (0 == helped && tl_now_ms() < deadline) {
    ck_assert_uint_eq(0, run_job(&p, MAX_ITEMS, 20, &j));
    helped = atomic_load(&j.on_helpers);
    jobs++;
  }
  sh_fanpool_stop(&p);
  ck_assert_msg(helped > 0, "no helper took a slice in %d jobs of %d items",
                jobs, MAX_ITEMS);
}
END_TEST

/* ---- start and stop ----------------------------------------------------- */

/* Whether the process is back to want threads within a second (scaled):
 * a joined thread may be counted a moment longer while it exits. */
static bool threads_back_to(int want)
{
  long long deadline = tl_now_ms() + 1000 * tl_scale();

  while (tl_count_threads(getpid()) != want && tl_now_ms() < deadline)
    tl_sleep_ms(1);
  return tl_count_threads(getpid()) == want;
}

/* start makes threads - 1 helpers; stop joins every one of them, whether
 * jobs ran or not, again and again. */
static void *noop(void *arg)
{
  return arg;
}

START_TEST(test_fanpool_start_makes_helpers_stop_joins_them)
{
  int base, i;
  struct sh_fanpool p;
  struct job j;
  pthread_t t;

  /* A sanitizer's runtime starts a thread of its own with the process's
   * first pthread_create(): let it, before counting. */
  ck_assert_int_eq(0, pthread_create(&t, NULL, noop, NULL));
  ck_assert_int_eq(0, pthread_join(t, NULL));
  base = tl_count_threads(getpid());
  reset();
  ck_assert_int_gt(base, 0);
  for (i = 0; i < 20; i++) {
    ck_assert_int_eq(0, sh_fanpool_start(&p, 4));
    ck_assert_uint_eq(p.nhelpers, 3);
    ck_assert_int_eq(tl_count_threads(getpid()), base + 3);
    if (i % 2)
      ck_assert_uint_eq(0, run_job(&p, MAX_ITEMS, 0, &j));
    sh_fanpool_stop(&p);
    ck_assert_uint_eq(p.nhelpers, 0);
    ck_assert_msg(threads_back_to(base),
                  "round %d: %d threads after stop, "
                  "%d before start",
                  i, tl_count_threads(getpid()), base);
  }
}
END_TEST

static Suite *fanpool_suite(void)
{
  Suite *s = suite_create("fanpool");
  TCase *items = tcase_create("items");
  TCase *threads = tcase_create("threads");

  tcase_set_timeout(items, 30);
  tcase_add_test(items, test_fanpool_every_item_once_for_any_job_size);
  tcase_add_test(items, test_fanpool_jobs_one_after_another);
  suite_add_tcase(s, items);

  tcase_set_timeout(threads, 30);
  tcase_add_test(threads, test_fanpool_one_thread_runs_inline);
  tcase_add_test(threads, test_fanpool_small_jobs_run_on_the_caller);
  tcase_add_test(threads, test_fanpool_large_jobs_shared_with_helpers);
  tcase_add_test(threads, test_fanpool_start_makes_helpers_stop_joins_them);
  suite_add_tcase(s, threads);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(fanpool_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
