/* check_histogram.c - unit tests for the latency histograms
 * (src/core/histogram.h) and ADDR:PORT parsing (src/core/hostport.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "histogram.h"
#include "hostport.h"

START_TEST(test_histogram_buckets_cumulative_and_bounds_inclusive)
{
  struct sh_hist h;
  struct sh_hist_snap s;

  memset(&h, 0, sizeof(h));
  sh_hist_read(&h, &s);
  ck_assert_uint_eq(s.count, 0);
  ck_assert_uint_eq(s.sum_ns, 0);
  sh_hist_observe(&h, 0);
  sh_hist_observe(&h, 50000);         /* on the first bound: le 50 us */
  sh_hist_observe(&h, 50001);         /* just over: le 100 us */
  sh_hist_observe(&h, 1000000);       /* 1 ms */
  sh_hist_observe(&h, 5000000000ULL); /* the last bound, 5 s */
  sh_hist_observe(&h, 5000000001ULL); /* +Inf */
  sh_hist_read(&h, &s);
  ck_assert_uint_eq(s.le[0], 2);
  ck_assert_uint_eq(s.le[1], 3);
  ck_assert_uint_eq(s.le[3], 3); /* le 500 us */
  ck_assert_uint_eq(s.le[4], 4); /* le 1 ms */
  ck_assert_uint_eq(s.le[SH_HIST_NBOUNDS - 1], 5);
  ck_assert_uint_eq(s.le[SH_HIST_NBOUNDS], 6);
  ck_assert_uint_eq(s.count, 6);
  ck_assert_uint_eq(s.sum_ns,
                    50000 + 50001 + 1000000 + 5000000000ULL + 5000000001ULL);
}
END_TEST

START_TEST(test_histogram_bounds_increase)
{
  unsigned i;

  for (i = 1; i < SH_HIST_NBOUNDS; i++)
    ck_assert_uint_gt(sh_hist_bounds_ns[i], sh_hist_bounds_ns[i - 1]);
}
END_TEST

enum { THREADS = 4, PER_THREAD = 100000 };

static void *observer(void *arg)
{
  struct sh_hist *h = arg;
  unsigned i;

  for (i = 0; i < PER_THREAD; i++)
    sh_hist_observe(h, (uint64_t) (i % 7) * 1000000u);
  return NULL;
}

/* Observed from several threads at once: nothing lost. */
START_TEST(test_histogram_concurrent_observers_lose_nothing)
{
  static struct sh_hist h;
  struct sh_hist_snap s;
  pthread_t t[THREADS];
  unsigned i;

  for (i = 0; i < THREADS; i++)
    ck_assert_int_eq(0, pthread_create(&t[i], NULL, observer, &h));
  for (i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  sh_hist_read(&h, &s);
  ck_assert_uint_eq(s.count, (uint64_t) THREADS * PER_THREAD);
}
END_TEST

START_TEST(test_hostport_parse)
{
  static const char *const bad[] = { NULL,
                                     "",
                                     ":9100",
                                     "127.0.0.1",
                                     "127.0.0.1:",
                                     "127.0.0.1:0",
                                     "127.0.0.1:65536",
                                     "127.0.0.1:+1",
                                     "127.0.0.1:1x",
                                     "host:80",
                                     "::1:80",
                                     "[::1]80",
                                     "[::1]:",
                                     "[]:80",
                                     "[1.2.3.4]:80",
                                     "1.2.3.4.5:80" };
  char host[SH_HOST_MAX];
  uint16_t port = 0;
  unsigned i;

  ck_assert_int_eq(0, sh_hostport_parse("127.0.0.1:9100", host, &port));
  ck_assert_str_eq(host, "127.0.0.1");
  ck_assert_uint_eq(port, 9100);
  ck_assert_int_eq(0, sh_hostport_parse("[::1]:65535", host, &port));
  ck_assert_str_eq(host, "::1");
  ck_assert_uint_eq(port, 65535);
  ck_assert_int_eq(0, sh_hostport_parse("[fe80::1:2]:1", host, &port));
  ck_assert_str_eq(host, "fe80::1:2");
  ck_assert_uint_eq(port, 1);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ck_assert_msg(-EINVAL == sh_hostport_parse(bad[i], host, &port),
                  "accepted \"%s\"", NULL != bad[i] ? bad[i] : "(null)");
}
END_TEST

int main(void)
{
  Suite *s = suite_create("histogram");
  TCase *tc = tcase_create("histogram");
  SRunner *sr;
  int failed;

  tcase_add_test(tc, test_histogram_buckets_cumulative_and_bounds_inclusive);
  tcase_add_test(tc, test_histogram_bounds_increase);
  tcase_add_test(tc, test_histogram_concurrent_observers_lose_nothing);
  tcase_add_test(tc, test_hostport_parse);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
