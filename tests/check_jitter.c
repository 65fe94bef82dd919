/* check_jitter.c - core/jitter.c: reconnection delays spread +-50 %. */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "jitter.h"

/* Every draw within [base/2, base*3/2]; over many draws the window is
 * covered end to end and evenly (no value region starved). */
START_TEST(test_jitter_range_and_spread)
{
  enum { DRAWS = 100000, BASE = 3000, BUCKETS = 10 };
  unsigned counts[BUCKETS] = { 0 }, lo = ~0u, hi = 0;
  int i;

  for (i = 0; i < DRAWS; i++) {
    unsigned v = sh_jitter_ms(BASE, false);

    ck_assert_uint_ge(v, BASE / 2);
    ck_assert_uint_le(v, BASE + BASE / 2);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    counts[(v - BASE / 2) * BUCKETS / (BASE + 1)]++;
  }
  ck_assert_uint_le(lo, BASE / 2 + 5);
  ck_assert_uint_ge(hi, BASE + BASE / 2 - 5);
  /* 10,000 expected per tenth; 5 % either way is over 15 sigma. */
  for (i = 0; i < BUCKETS; i++)
    ck_assert_msg(counts[i] > 9500 && counts[i] < 10500, "tenth %d: %u", i,
                  counts[i]);
}
END_TEST

START_TEST(test_jitter_off_and_small)
{
  ck_assert_uint_eq(sh_jitter_ms(3000, true), 3000);
  ck_assert_uint_eq(sh_jitter_ms(0, false), 0);
  ck_assert_uint_eq(sh_jitter_ms(1, false), 1);
  ck_assert_uint_le(sh_jitter_ms(86400000, false), 129600000u);
}
END_TEST

static void *draw_first(void *arg)
{
  *(unsigned *) arg = sh_jitter_ms(1000000, false);
  return NULL;
}

/* Each thread seeds its own generator from getrandom(): two threads'
 * first draws differ (equal by chance: 1 in a million). */
START_TEST(test_jitter_threads_seeded_apart)
{
  unsigned a = 0, b = 0;
  pthread_t t1, t2;

  ck_assert_int_eq(0, pthread_create(&t1, NULL, draw_first, &a));
  ck_assert_int_eq(0, pthread_create(&t2, NULL, draw_first, &b));
  pthread_join(t1, NULL);
  pthread_join(t2, NULL);
  ck_assert_uint_ne(a, b);
}
END_TEST

static Suite *jitter_suite(void)
{
  Suite *s = suite_create("jitter");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, test_jitter_range_and_spread);
  tcase_add_test(tc, test_jitter_off_and_small);
  tcase_add_test(tc, test_jitter_threads_seeded_apart);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(jitter_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
