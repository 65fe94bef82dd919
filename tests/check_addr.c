/* check_addr.c - unit tests for client addresses (src/core/addr.h): CIDR
 * parsing and matching (IPv4, IPv6, IPv4-mapped), the real client behind
 * trusted proxies from X-Forwarded-For and Forwarded (right-most untrusted
 * hop, forged prefixes, unknown and obfuscated hops, garbage, bounds), the
 * address text, the --bind forms, and the per-IP keys of IPv6 clients
 * (iplimit.h: one /64 shares a limit, --ipv6-prefix changes it). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "addr.h"
#include "hostport.h"
#include "iplimit.h"

static struct sh_ipkey ip(const char *text)
{
  struct sh_ipkey k;

  ck_assert_msg(sh_addr_parse(text, strlen(text), &k), "not an address: %s",
                text);
  return k;
}

static const char *fmt(const struct sh_ipkey *k)
{
  static char buf[SH_ADDR_STRLEN];

  return sh_ipkey_format(k, buf);
}

/* The trusted set used by the resolution tests. */
static struct sh_cidr trusted[3];
static size_t ntrusted;

static void trust(const char *const *nets, size_t n)
{
  size_t i;

  ck_assert_uint_le(n, 3);
  for (i = 0; i < n; i++)
    ck_assert_int_eq(sh_cidr_parse(nets[i], &trusted[i]), 0);
  ntrusted = n;
}

/* Resolve a request from peer with one X-Forwarded-For line (xff, or
 * none when NULL) and one Forwarded line (fwd, or none); returns the
 * client as text and the source in *src. */
static const char *resolve(const char *peer, const char *xff, const char *fwd,
                           enum sh_addr_source *src)
{
  struct sh_fwd_headers h;
  struct sh_ipkey p = ip(peer), c;

  memset(&h, 0, sizeof(h));
  if (NULL != xff) {
    h.xff[0] = xff;
    h.xff_len[0] = strlen(xff);
    h.nxff = 1;
  }
  if (NULL != fwd) {
    h.fwd[0] = fwd;
    h.fwd_len[0] = strlen(fwd);
    h.nfwd = 1;
  }
  *src = sh_addr_resolve(trusted, ntrusted, &p, &h, &c);
  return fmt(&c);
}

START_TEST(test_addr_cidr)
{
  static const char *const bad[] = {
    "",         "/8",           "10.0.0.0/",    "10.0.0.0/33", "10.0.0.1/8",
    "::/129",   "fd00::1/8",    "10.0.0.0/8/8", "10.0.0.0/-1", "10.0.0.0/ 8",
    "10.0.0/8", "[10.0.0.0]/8", "1.2.3.4/08",   "fe80::1%lo",  "x"
  };
  struct sh_cidr c;
  size_t i;

  ck_assert_int_eq(sh_cidr_parse("10.0.0.0/8", &c), 0);
  ck_assert_uint_eq(c.bits, 96 + 8);
  ck_assert(sh_cidr_match(&c, 1, &(struct sh_ipkey){ 0 }) == false);
  {
    struct sh_ipkey in = ip("10.200.1.2"), out = ip("11.0.0.1");
    /* The same client as it reaches a dual-stack socket. */
    struct sh_ipkey mapped = ip("::ffff:10.9.9.9");

    ck_assert(sh_cidr_match(&c, 1, &in));
    ck_assert(!sh_cidr_match(&c, 1, &out));
    ck_assert(sh_cidr_match(&c, 1, &mapped));
  }
  ck_assert_int_eq(sh_cidr_parse("fd00::/8", &c), 0);
  ck_assert_uint_eq(c.bits, 8);
  {
    struct sh_ipkey a = ip("fd12:3456::1"), b = ip("fe00::1");

    ck_assert(sh_cidr_match(&c, 1, &a));
    ck_assert(!sh_cidr_match(&c, 1, &b));
  }
  /* A bare address is one host; brackets are allowed around IPv6. */
  ck_assert_int_eq(sh_cidr_parse("[::1]", &c), 0);
  ck_assert_uint_eq(c.bits, 128);
  ck_assert_int_eq(sh_cidr_parse("127.0.0.1", &c), 0);
  ck_assert_uint_eq(c.bits, 128);
  /* /0: everything of that family (IPv4 /0 is ::ffff:0:0/96). */
  ck_assert_int_eq(sh_cidr_parse("0.0.0.0/0", &c), 0);
  {
    struct sh_ipkey a = ip("203.0.113.9"), b = ip("2001:db8::1");

    ck_assert(sh_cidr_match(&c, 1, &a));
    ck_assert(!sh_cidr_match(&c, 1, &b));
  }
  /* Odd prefix lengths match bit by bit. */
  ck_assert_int_eq(sh_cidr_parse("192.168.4.0/23", &c), 0);
  {
    struct sh_ipkey a = ip("192.168.5.255"), b = ip("192.168.6.0");

    ck_assert(sh_cidr_match(&c, 1, &a));
    ck_assert(!sh_cidr_match(&c, 1, &b));
  }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ck_assert_msg(-EINVAL == sh_cidr_parse(bad[i], &c), "accepted '%s'",
                  bad[i]);
}
END_TEST

START_TEST(test_addr_format)
{
  struct sh_ipkey k = ip("::ffff:127.0.0.1");

  /* Mapped addresses are IPv4 in every log line. */
  ck_assert_str_eq(fmt(&k), "127.0.0.1");
  ck_assert(sh_ipkey_is_v4(&k));
  k = ip("2001:DB8:0:0::1");
  ck_assert_str_eq(fmt(&k), "2001:db8::1");
  ck_assert(!sh_ipkey_is_v4(&k));
  ck_assert(!sh_addr_parse("1.2.3.4 ", 8, &k));
  ck_assert(!sh_addr_parse("1.2.3", 5, &k));
  ck_assert(!sh_addr_parse("", 0, &k));
  ck_assert(!sh_addr_parse("1.2.3.4\0", 8, &k));
}
END_TEST

START_TEST(test_addr_untrusted_peer_ignored)
{
  static const char *const nets[] = { "10.0.0.0/8" };
  enum sh_addr_source src;

  trust(nets, 1);
  /* A forged header from anyone else changes nothing. */
  ck_assert_str_eq(resolve("203.0.113.7", "127.0.0.1", NULL, &src),
                   "203.0.113.7");
  ck_assert_int_eq(src, SH_ADDR_PEER);
  ck_assert_str_eq(resolve("203.0.113.7", NULL, "for=127.0.0.1", &src),
                   "203.0.113.7");
  ck_assert_int_eq(src, SH_ADDR_PEER);
  /* And nothing is trusted with no --trusted-proxy. */
  ntrusted = 0;
  ck_assert_str_eq(resolve("10.0.0.1", "198.51.100.1", NULL, &src), "10.0.0.1");
  ck_assert_int_eq(src, SH_ADDR_PEER);
}
END_TEST

START_TEST(test_addr_xff_rightmost_untrusted)
{
  static const char *const nets[] = { "10.0.0.0/8", "::1" };
  enum sh_addr_source src;

  trust(nets, 2);
  ck_assert_str_eq(resolve("10.0.0.1", "198.51.100.1", NULL, &src),
                   "198.51.100.1");
  ck_assert_int_eq(src, SH_ADDR_FORWARDED);
  /* The client prepended a lie; the proxies appended the truth. */
  ck_assert_str_eq(resolve("10.0.0.1", "127.0.0.1, 198.51.100.1, 10.1.1.1",
                           NULL, &src),
                   "198.51.100.1");
  /* Through a dual-stack socket the proxy is ::ffff:10.0.0.1. */
  ck_assert_str_eq(resolve("::ffff:10.0.0.1", "198.51.100.1", NULL, &src),
                   "198.51.100.1");
  ck_assert_str_eq(resolve("::1", " 2001:db8::5 ,\t", NULL, &src),
                   "2001:db8::5");
  ck_assert_str_eq(resolve("::1", "[2001:db8::5]:4711", NULL, &src),
                   "2001:db8::5");
  ck_assert_str_eq(resolve("::1", "198.51.100.2:80", NULL, &src),
                   "198.51.100.2");
  /* Every hop trusted: the left-most. */
  ck_assert_str_eq(resolve("10.0.0.1", "10.0.0.9, 10.0.0.8", NULL, &src),
                   "10.0.0.9");
  ck_assert_int_eq(src, SH_ADDR_FORWARDED);
  /* An empty header: no hop, the peer. */
  ck_assert_str_eq(resolve("10.0.0.1", " , ", NULL, &src), "10.0.0.1");
  ck_assert_int_eq(src, SH_ADDR_PEER);
}
END_TEST

START_TEST(test_addr_xff_invalid_falls_back)
{
  static const char *const bad[] = { "unknown",
                                     "198.51.100.1, garbage",
                                     "1.2.3.4.5",
                                     "[2001:db8::1",
                                     "2001:db8::1]:80",
                                     "1.2.3.4:99999",
                                     "[1.2.3.4]",
                                     "fe80::1%eth0",
                                     "198.51.100.1 10.0.0.2",
                                     "1.2.3.4:",
                                     "_hidden" };
  static const char *const nets[] = { "10.0.0.0/8" };
  enum sh_addr_source src;
  size_t i;

  trust(nets, 1);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ck_assert_msg(0
                      == strcmp(resolve("10.0.0.1", bad[i], NULL, &src),
                                "10.0.0.1"),
                  "'%s' gave another client", bad[i]);
    ck_assert_int_eq(src, SH_ADDR_INVALID);
  }
  /* Garbage left of the client does not matter: it is never reached. */
  ck_assert_str_eq(resolve("10.0.0.1", "garbage, 198.51.100.1", NULL, &src),
                   "198.51.100.1");
}
END_TEST

START_TEST(test_addr_forwarded)
{
  static const char *const nets[] = { "10.0.0.0/8" };
  static const char *const bad[] = {
    "for=unknown",
    "for=_hidden",
    "for=\"[2001:db8::1\"",
    "for=2001:db8::1", /* IPv6 must be quoted (RFC 7239 6) */
    "for=\"198.51.100.1",
    "for=198.51.100.1;for=198.51.100.2",
    "for=\"1.2.3.4\\\"\"",
    "for=",
    "=1.2.3.4",
    "for 1.2.3.4",
    "proto=https",
    "for=198.51.100.1 x",
    "for=\"[2001:db8::1]:99999\""
  };
  enum sh_addr_source src;
  size_t i;

  trust(nets, 1);
  ck_assert_str_eq(resolve("10.0.0.1", NULL, "for=198.51.100.1", &src),
                   "198.51.100.1");
  ck_assert_int_eq(src, SH_ADDR_FORWARDED);
  ck_assert_str_eq(resolve("10.0.0.1", NULL,
                           "For=\"[2001:db8:cafe::17]:4711\";proto=https;"
                           "by=10.0.0.1",
                           &src),
                   "2001:db8:cafe::17");
  ck_assert_str_eq(resolve("10.0.0.1", NULL,
                           "for=127.0.0.1, for=198.51.100.1;proto=http, "
                           "for=\"10.2.3.4:80\"",
                           &src),
                   "198.51.100.1");
  ck_assert_str_eq(resolve("10.0.0.1", NULL, "for=\"_x\", for=198.51.100.3",
                           &src),
                   "198.51.100.3");
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ck_assert_msg(0
                      == strcmp(resolve("10.0.0.1", NULL, bad[i], &src),
                                "10.0.0.1"),
                  "'%s' gave another client", bad[i]);
    ck_assert_int_eq(src, SH_ADDR_INVALID);
  }
  /* X-Forwarded-For wins when both are there. */
  ck_assert_str_eq(resolve("10.0.0.1", "198.51.100.9", "for=198.51.100.1",
                           &src),
                   "198.51.100.9");
}
END_TEST

START_TEST(test_addr_bounds)
{
  static const char *const nets[] = { "10.0.0.0/8" };
  struct sh_fwd_headers h;
  struct sh_ipkey peer = ip("10.0.0.1"), c;
  char *big;
  size_t i, n = 0, cap = 1 << 20;

  trust(nets, 1);
  /* 1 MiB of hops: the right-most count, the rest are skipped. */
  big = malloc(cap);
  ck_assert_ptr_nonnull(big);
  while (n + 16 < cap)
    n += (size_t) sprintf(big + n, "%s", "garbage!, ");
  n += (size_t) sprintf(big + n, "198.51.100.7");
  memset(&h, 0, sizeof(h));
  h.xff[0] = big;
  h.xff_len[0] = n;
  h.nxff = 1;
  ck_assert_int_eq(sh_addr_resolve(trusted, ntrusted, &peer, &h, &c),
                   SH_ADDR_FORWARDED);
  ck_assert_str_eq(fmt(&c), "198.51.100.7");
  /* More trusted hops than are kept: too long to follow, the peer. */
  n = 0;
  for (i = 0; i < SH_FWD_MAX_HOPS + 1; i++)
    n += (size_t) sprintf(big + n, "10.0.0.%zu, ", i + 2);
  h.xff_len[0] = n;
  ck_assert_int_eq(sh_addr_resolve(trusted, ntrusted, &peer, &h, &c),
                   SH_ADDR_INVALID);
  ck_assert_str_eq(fmt(&c), "10.0.0.1");
  /* Header lines add up, in order, across lines. */
  h.xff[0] = "127.0.0.1";
  h.xff_len[0] = 9;
  h.xff[1] = "198.51.100.8, 10.0.0.3";
  h.xff_len[1] = strlen(h.xff[1]);
  h.nxff = 2;
  ck_assert_int_eq(sh_addr_resolve(trusted, ntrusted, &peer, &h, &c),
                   SH_ADDR_FORWARDED);
  ck_assert_str_eq(fmt(&c), "198.51.100.8");
  /* Too many lines: the peer. */
  h.overflow = true;
  ck_assert_int_eq(sh_addr_resolve(trusted, ntrusted, &peer, &h, &c),
                   SH_ADDR_INVALID);
  ck_assert_str_eq(fmt(&c), "10.0.0.1");
  free(big);
}
END_TEST

START_TEST(test_addr_bind_forms)
{
  char host[SH_HOST_MAX];
  uint16_t port;

  ck_assert_int_eq(sh_bind_parse("[::1]:8080", host, &port), 0);
  ck_assert_str_eq(host, "::1");
  ck_assert_uint_eq(port, 8080);
  ck_assert_int_eq(sh_bind_parse("[::1]", host, &port), 0);
  ck_assert_str_eq(host, "::1");
  ck_assert_uint_eq(port, 0);
  ck_assert_int_eq(sh_bind_parse("::1", host, &port), 0);
  ck_assert_str_eq(host, "::1");
  ck_assert_int_eq(sh_bind_parse("127.0.0.1:99", host, &port), 0);
  ck_assert_str_eq(host, "127.0.0.1");
  ck_assert_uint_eq(port, 99);
  ck_assert_int_eq(sh_bind_parse("[127.0.0.1]", host, &port), -EINVAL);
  ck_assert_int_eq(sh_bind_parse("::1:80", host, &port), 0); /* an address */
  ck_assert_uint_eq(port, 0);
  ck_assert_int_eq(sh_bind_parse("[::1]:", host, &port), -EINVAL);
}
END_TEST

/* Per-IP keys: an IPv6 client's /64 is one client. */
START_TEST(test_addr_ipv6_prefix_keys)
{
  struct sh_iplimit l;
  struct sh_ipkey a = ip("2001:db8:1:2::1"), b = ip("2001:db8:1:2:ffff::9");
  struct sh_ipkey other = ip("2001:db8:1:3::1");
  struct sh_ipkey v4 = ip("192.0.2.1"), v4b = ip("192.0.2.2");
  struct sh_ipkey mapped = ip("::ffff:192.0.2.1");

  ck_assert_int_eq(sh_iplimit_init(&l, 1, 0), 0);
  sh_iplimit_set_v6_prefix(&l, 64);
  ck_assert_int_eq(sh_iplimit_stream_acquire(&l, &a), 0);
  /* Another address of the same /64: over the limit of 1. */
  ck_assert_int_eq(sh_iplimit_stream_acquire(&l, &b), -EBUSY);
  ck_assert_int_eq(sh_iplimit_stream_acquire(&l, &other), 0);
  /* IPv4 clients are never grouped; mapped is the same IPv4 client. */
  ck_assert_int_eq(sh_iplimit_stream_acquire(&l, &v4), 0);
  ck_assert_int_eq(sh_iplimit_stream_acquire(&l, &v4b), 0);
  ck_assert_int_eq(sh_iplimit_stream_acquire(&l, &mapped), -EBUSY);
  /* Released under b's /64 frees a's slot. */
  sh_iplimit_stream_release(&l, &b);
  ck_assert_int_eq(sh_iplimit_stream_acquire(&l, &b), 0);
  sh_iplimit_stream_release(&l, &b);
  sh_iplimit_stream_release(&l, &other);
  sh_iplimit_stream_release(&l, &v4);
  sh_iplimit_stream_release(&l, &v4b);
  sh_iplimit_destroy(&l);

  /* /128: each address on its own; /48: wider. */
  ck_assert_int_eq(sh_iplimit_init(&l, 1, 0), 0);
  sh_iplimit_set_v6_prefix(&l, 128);
  ck_assert_int_eq(sh_iplimit_stream_acquire(&l, &a), 0);
  ck_assert_int_eq(sh_iplimit_stream_acquire(&l, &b), 0);
  sh_iplimit_stream_release(&l, &a);
  sh_iplimit_stream_release(&l, &b);
  sh_iplimit_set_v6_prefix(&l, 48);
  ck_assert_int_eq(sh_iplimit_stream_acquire(&l, &a), 0);
  ck_assert_int_eq(sh_iplimit_stream_acquire(&l, &other), -EBUSY);
  sh_iplimit_stream_release(&l, &a);
  sh_iplimit_destroy(&l);

  /* The publish rate too: one bucket per /64. */
  ck_assert_int_eq(sh_iplimit_init(&l, 0, 1), 0);
  sh_iplimit_set_v6_prefix(&l, 64);
  ck_assert(sh_iplimit_publish_allow(&l, &a, 1000));
  ck_assert(!sh_iplimit_publish_allow(&l, &b, 1000));
  ck_assert(sh_iplimit_publish_allow(&l, &other, 1000));
  sh_iplimit_destroy(&l);
}
END_TEST

static Suite *addr_suite(void)
{
  Suite *s = suite_create("addr");
  TCase *tc = tcase_create("addr");

  tcase_add_test(tc, test_addr_cidr);
  tcase_add_test(tc, test_addr_format);
  tcase_add_test(tc, test_addr_untrusted_peer_ignored);
  tcase_add_test(tc, test_addr_xff_rightmost_untrusted);
  tcase_add_test(tc, test_addr_xff_invalid_falls_back);
  tcase_add_test(tc, test_addr_forwarded);
  tcase_add_test(tc, test_addr_bounds);
  tcase_add_test(tc, test_addr_bind_forms);
  tcase_add_test(tc, test_addr_ipv6_prefix_keys);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(addr_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
