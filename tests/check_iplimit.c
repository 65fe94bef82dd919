/* check_iplimit.c - unit tests for the limits per client address
 * (src/core/iplimit.h): streams held per address, the address keys, the
 * loopback test behind "publish from loopback only", and the publish
 * token bucket, with the clock given by the test. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include <check.h>

#include "iplimit.h"

/* The key of an IPv4 or IPv6 address in text form. */
static struct sh_ipkey key(const char *text)
{
  struct sockaddr_in a4 = { .sin_family = AF_INET };
  struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
  struct sh_ipkey k;

  if (1 == inet_pton(AF_INET, text, &a4.sin_addr)) {
    ck_assert(sh_ipkey_of((struct sockaddr *) &a4, &k));
  } else {
    ck_assert_msg(1 == inet_pton(AF_INET6, text, &a6.sin6_addr),
                  "not an address: %s", text);
    ck_assert(sh_ipkey_of((struct sockaddr *) &a6, &k));
  }
  return k;
}

/* ---- streams per address ------------------------------------------------ */

START_TEST(test_iplimit_streams_up_to_max_per_address)
{
  struct sh_iplimit l;
  struct sh_ipkey a = key("10.0.0.1"), b = key("10.0.0.2");

  ck_assert_int_eq(0, sh_iplimit_init(&l, 2, 0));
  ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &a));
  ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &a));
  ck_assert_int_eq(-EBUSY, sh_iplimit_stream_acquire(&l, &a));
  ck_assert_int_eq(-EBUSY, sh_iplimit_stream_acquire(&l, &a));
  /* Another address has its own count. */
  ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &b));
  ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &b));
  /* One stream leaves: one more may come, and no more. */
  sh_iplimit_stream_release(&l, &a);
  ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &a));
  ck_assert_int_eq(-EBUSY, sh_iplimit_stream_acquire(&l, &a));
  sh_iplimit_stream_release(&l, &a);
  sh_iplimit_stream_release(&l, &a);
  sh_iplimit_stream_release(&l, &b);
  sh_iplimit_stream_release(&l, &b);
  sh_iplimit_destroy(&l);
}
END_TEST

/* A reload sets a limit: streams opened before it count (they were
 * counted with no limit), and lifting it again admits everyone. */
START_TEST(test_iplimit_set_counts_streams_opened_before)
{
  struct sh_iplimit l;
  struct sh_ipkey a = key("10.0.0.1");
  int i;

  ck_assert_int_eq(0, sh_iplimit_init(&l, 0, 0));
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &a));
  ck_assert_int_eq(0, sh_iplimit_set(&l, 3, 0));
  ck_assert_int_eq(-EBUSY, sh_iplimit_stream_acquire(&l, &a));
  sh_iplimit_stream_release(&l, &a);
  ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &a));
  ck_assert_int_eq(0, sh_iplimit_set(&l, 0, 1));
  ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &a));
  /* A rate set by a reload takes effect (its table made then). */
  ck_assert(sh_iplimit_publish_allow(&l, &a, 1000));
  ck_assert(!sh_iplimit_publish_allow(&l, &a, 1000));
  for (i = 0; i < 4; i++)
    sh_iplimit_stream_release(&l, &a);
  sh_iplimit_destroy(&l);
}
END_TEST

/* Releasing more than was acquired (or for an address never seen) gives
 * no credit: the address still gets max streams, not more. */
START_TEST(test_iplimit_release_without_acquire_gives_no_credit)
{
  struct sh_iplimit l;
  struct sh_ipkey a = key("192.0.2.7"), never = key("192.0.2.8");

  ck_assert_int_eq(0, sh_iplimit_init(&l, 1, 0));
  sh_iplimit_stream_release(&l, &never);
  ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &a));
  sh_iplimit_stream_release(&l, &a);
  sh_iplimit_stream_release(&l, &a);
  sh_iplimit_stream_release(&l, &a);
  ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &a));
  ck_assert_int_eq(-EBUSY, sh_iplimit_stream_acquire(&l, &a));
  ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &never));
  sh_iplimit_destroy(&l);
}
END_TEST

/* Counts are exact for any number of addresses (no table that collides
 * or fills): 20,000 addresses, every one at its limit, each refused one
 * more and admitted again after a release. */
START_TEST(test_iplimit_streams_exact_for_many_addresses)
{
  enum { N = 20000 };
  struct sh_iplimit l;
  struct sh_ipkey *k = malloc(N * sizeof(*k));
  char text[64];
  int i, refused = 0, readmitted = 0;

  ck_assert_int_eq(0, sh_iplimit_init(&l, 1, 0));
  for (i = 0; i < N; i++) {
    snprintf(text, sizeof(text), "2001:db8::%x:%x", i >> 8, i & 0xff);
    k[i] = key(text);
    ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &k[i]));
  }
  for (i = 0; i < N; i++)
    if (-EBUSY == sh_iplimit_stream_acquire(&l, &k[i]))
      refused++;
  ck_assert_int_eq(refused, N);
  for (i = 0; i < N; i++) {
    sh_iplimit_stream_release(&l, &k[i]);
    if (0 == sh_iplimit_stream_acquire(&l, &k[i]))
      readmitted++;
    sh_iplimit_stream_release(&l, &k[i]);
  }
  ck_assert_int_eq(readmitted, N);
  sh_iplimit_destroy(&l);
  free(k);
}
END_TEST

START_TEST(test_iplimit_no_stream_limit_when_0)
{
  struct sh_iplimit l;
  struct sh_ipkey a = key("10.1.1.1");
  int i;

  ck_assert_int_eq(0, sh_iplimit_init(&l, 0, 0));
  for (i = 0; i < 1000; i++)
    ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &a));
  sh_iplimit_stream_release(&l, &a);
  sh_iplimit_destroy(&l);
}
END_TEST

/* ---- address keys ------------------------------------------------------- */

/* A client is the same whether it came over IPv4 or as ::ffff:a.b.c.d:
 * same key, same count. */
START_TEST(test_iplimit_ipv4_and_mapped_ipv6_are_one_address)
{
  struct sh_iplimit l;
  struct sh_ipkey v4 = key("198.51.100.9");
  struct sh_ipkey mapped = key("::ffff:198.51.100.9");
  struct sh_ipkey other = key("2001:db8::c633:6409"); /* same low bytes */

  ck_assert_int_eq(0, memcmp(&v4, &mapped, sizeof(v4)));
  ck_assert_int_ne(0, memcmp(&v4, &other, sizeof(v4)));
  ck_assert_int_eq(0, sh_iplimit_init(&l, 1, 0));
  ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &v4));
  ck_assert_int_eq(-EBUSY, sh_iplimit_stream_acquire(&l, &mapped));
  ck_assert_int_eq(0, sh_iplimit_stream_acquire(&l, &other));
  sh_iplimit_destroy(&l);
}
END_TEST

START_TEST(test_iplimit_key_of_other_families_refused)
{
  struct sockaddr_un un = { .sun_family = AF_UNIX };
  struct sh_ipkey k;

  ck_assert(!sh_ipkey_of((struct sockaddr *) &un, &k));
  ck_assert(!sh_ipkey_of(NULL, &k));
}
END_TEST

START_TEST(test_iplimit_loopback_detection)
{
  static const char *const loop[] = { "127.0.0.1",        "127.0.0.2",
                                      "127.255.255.254",  "::1",
                                      "::ffff:127.0.0.1", "::ffff:127.9.8.7" };
  static const char *const not_loop[] = {
    "126.255.255.255", "128.0.0.1",   "10.0.0.1", "0.0.0.0",     "::",  "::2",
    "::ffff:10.0.0.1", "2001:db8::1", "fe80::1",  "::127.0.0.1", "1::1"
  };
  size_t i;

  for (i = 0; i < sizeof(loop) / sizeof(loop[0]); i++) {
    struct sh_ipkey k = key(loop[i]);

    ck_assert_msg(sh_ipkey_is_loopback(&k), "%s is loopback", loop[i]);
  }
  for (i = 0; i < sizeof(not_loop) / sizeof(not_loop[0]); i++) {
    struct sh_ipkey k = key(not_loop[i]);

    ck_assert_msg(!sh_ipkey_is_loopback(&k), "%s is not loopback", not_loop[i]);
  }
}
END_TEST

/* ---- publish rate ------------------------------------------------------- */

/* How many of n publishes at now_ms are allowed. */
static int allowed(struct sh_iplimit *l, const struct sh_ipkey *k, int n,
                   long long now_ms)
{
  int i, ok = 0;

  for (i = 0; i < n; i++)
    if (sh_iplimit_publish_allow(l, k, now_ms))
      ok++;
  return ok;
}

/* --publish-rate 5: a burst of 5, then 5 per second, never more than a
 * burst saved up however long the address was quiet. */
START_TEST(test_iplimit_publish_bucket_refills_over_time)
{
  struct sh_iplimit l;
  struct sh_ipkey a = key("10.0.0.1");
  long long t = 1000000;

  ck_assert_int_eq(0, sh_iplimit_init(&l, 0, 5));
  ck_assert_int_eq(5, allowed(&l, &a, 10, t));
  /* 200 ms: one token. */
  ck_assert_int_eq(1, allowed(&l, &a, 10, t + 200));
  /* 100 ms more: half a token, not enough. */
  ck_assert_int_eq(0, allowed(&l, &a, 1, t + 300));
  ck_assert_int_eq(1, allowed(&l, &a, 10, t + 400));
  /* A second: five. */
  ck_assert_int_eq(5, allowed(&l, &a, 10, t + 1400));
  /* An hour of quiet saves up one burst, no more. */
  ck_assert_int_eq(5, allowed(&l, &a, 100, t + 1400 + 3600 * 1000LL));
  sh_iplimit_destroy(&l);
}
END_TEST

/* Refills count fractions: at 3/s, 333 ms is not a token, 334 ms is; and
 * the fraction left over counts towards the next one (a client publishing
 * every 333 ms gets through two times in three, not never). */
START_TEST(test_iplimit_publish_bucket_fractional_refill)
{
  struct sh_iplimit l;
  struct sh_ipkey a = key("2001:db8::5");
  long long t = 5000;

  ck_assert_int_eq(0, sh_iplimit_init(&l, 0, 3));
  ck_assert_int_eq(3, allowed(&l, &a, 3, t));
  ck_assert_int_eq(0, allowed(&l, &a, 1, t + 333)); /* 0.999 */
  ck_assert_int_eq(1, allowed(&l, &a, 1, t + 334)); /* 1.002, 0.002 left */
  ck_assert_int_eq(1, allowed(&l, &a, 2, t + 667)); /* 0.002 + 0.999 */
  sh_iplimit_destroy(&l);
}
END_TEST

/* Each address has its own bucket; an address seen for the first time
 * starts with a full one. */
START_TEST(test_iplimit_publish_buckets_per_address)
{
  struct sh_iplimit l;
  struct sh_ipkey a = key("10.0.0.1"), b = key("10.0.0.2");
  struct sh_ipkey a6 = key("::ffff:10.0.0.1");

  ck_assert_int_eq(0, sh_iplimit_init(&l, 0, 2));
  ck_assert_int_eq(2, allowed(&l, &a, 5, 100));
  ck_assert_int_eq(2, allowed(&l, &b, 5, 100));
  ck_assert_int_eq(0, allowed(&l, &a6, 5, 100)); /* a, as IPv6 */
  ck_assert_int_eq(0, allowed(&l, &a, 5, 100));
  sh_iplimit_destroy(&l);
}
END_TEST

START_TEST(test_iplimit_no_publish_rate_when_0)
{
  struct sh_iplimit l;
  struct sh_ipkey a = key("10.0.0.1");

  ck_assert_int_eq(0, sh_iplimit_init(&l, 3, 0));
  ck_assert_int_eq(10000, allowed(&l, &a, 10000, 0));
  sh_iplimit_destroy(&l);
}
END_TEST

/* Addresses in one /64 (what one IPv6 client holds) whose low 12 bits of
 * the unseeded FNV-1a-64 the table hashed with before (offset basis as it
 * was: 1469598103934665603) are all equal, so all of them shared one of
 * its 4096 chains; or, without collide, consecutive ones. The low bits of
 * FNV-1a depend on the low bits of its state only, and multiplying by the
 * odd prime is invertible there: the last three bytes are found by
 * working back from the target. */
#define FLOOD_ADDRS 10000
#define FNV_PRIME 1099511628211ull
static void flood_keys(struct sh_ipkey *k, bool collide)
{
  const struct sh_ipkey net = key("2001:db8::");
  const uint64_t mask = 4095, target = 0x2a5;
  uint64_t inv = 1;
  int n, i;

  for (i = 0; i < 6; i++)
    inv *= 2 - FNV_PRIME * inv; /* the prime's inverse mod 2^64 */
  for (n = 0; n < FLOOD_ADDRS; n++) {
    struct sh_ipkey c = net;
    uint64_t h = 1469598103934665603ull, s0;
    unsigned c2 = 0, c3 = 0, x;

    c.b[8] = (uint8_t) (n >> 8);
    c.b[9] = (uint8_t) n;
    for (i = 0; i < 13; i++)
      h = (h ^ c.b[i]) * FNV_PRIME;
    s0 = h & mask;
    if (collide) {
      /* Pick bytes 14 and 15 until byte 13 alone can reach s0. */
      for (x = 0;; x++) {
        uint64_t s1;

        c2 = x & 255, c3 = x >> 8;
        s1 = ((((target * inv) ^ c3) & mask) * inv ^ c2) & mask;
        if (0 == (((s1 * inv) ^ s0) & mask & ~255ull)) {
          c.b[13] = (uint8_t) (((s1 * inv) ^ s0) & 255);
          break;
        }
      }
      c.b[14] = (uint8_t) c2;
      c.b[15] = (uint8_t) c3;
      h = 1469598103934665603ull;
      for (i = 0; i < 16; i++)
        h = (h ^ c.b[i]) * FNV_PRIME;
      ck_assert_uint_eq(h & mask, target);
    } else {
      c.b[15] = 1;
    }
    k[n] = c;
  }
}

/* Counting a stream for each address, then releasing them all: the best
 * of 3 runs, in microseconds. */
static long long acquire_all(const struct sh_ipkey *k)
{
  long long best = -1;
  int run, i;

  for (run = 0; run < 3; run++) {
    struct sh_iplimit l;
    struct timespec a, b;
    long long us;
    int failed = 0;

    ck_assert_int_eq(0, sh_iplimit_init(&l, 1, 0));
    clock_gettime(CLOCK_MONOTONIC, &a);
    /* No ck_assert in the loop: each one writes to Check's pipe. */
    for (i = 0; i < FLOOD_ADDRS; i++)
      failed += 0 != sh_iplimit_stream_acquire(&l, &k[i]);
    clock_gettime(CLOCK_MONOTONIC, &b);
    ck_assert_int_eq(failed, 0);
    us = (b.tv_sec - a.tv_sec) * 1000000LL + (b.tv_nsec - a.tv_nsec) / 1000;
    best = best < 0 || us < best ? us : best;
    for (i = 0; i < FLOOD_ADDRS; i++)
      sh_iplimit_stream_release(&l, &k[i]);
    sh_iplimit_destroy(&l);
  }
  return best;
}

START_TEST(test_iplimit_fnv_colliding_addresses_cost_the_same)
{
  static struct sh_ipkey plain[FLOOD_ADDRS], collide[FLOOD_ADDRS];
  long long tp, tc;

  flood_keys(plain, false);
  flood_keys(collide, true);
  tp = acquire_all(plain);
  tc = acquire_all(collide);
  fprintf(stderr,
          "check_iplimit: %d addresses of one /64: ordinary %lld us, "
          "FNV-colliding %lld us\n",
          FLOOD_ADDRS, tp, tc);
  ck_assert_msg(tc <= 3 * tp + 500, "colliding %lld us, ordinary %lld us", tc,
                tp);
}
END_TEST

static Suite *iplimit_suite(void)
{
  Suite *s = suite_create("iplimit");
  TCase *streams = tcase_create("streams");
  TCase *keys = tcase_create("keys");
  TCase *rate = tcase_create("rate");

  tcase_add_test(streams, test_iplimit_streams_up_to_max_per_address);
  tcase_add_test(streams, test_iplimit_set_counts_streams_opened_before);
  tcase_add_test(streams, test_iplimit_release_without_acquire_gives_no_credit);
  tcase_add_test(streams, test_iplimit_streams_exact_for_many_addresses);
  tcase_add_test(streams, test_iplimit_no_stream_limit_when_0);
  tcase_add_test(streams, test_iplimit_fnv_colliding_addresses_cost_the_same);
  suite_add_tcase(s, streams);

  tcase_add_test(keys, test_iplimit_ipv4_and_mapped_ipv6_are_one_address);
  tcase_add_test(keys, test_iplimit_key_of_other_families_refused);
  tcase_add_test(keys, test_iplimit_loopback_detection);
  suite_add_tcase(s, keys);

  tcase_add_test(rate, test_iplimit_publish_bucket_refills_over_time);
  tcase_add_test(rate, test_iplimit_publish_bucket_fractional_refill);
  tcase_add_test(rate, test_iplimit_publish_buckets_per_address);
  tcase_add_test(rate, test_iplimit_no_publish_rate_when_0);
  suite_add_tcase(s, rate);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(iplimit_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
