/* check_redis_url.c - unit tests for --redis URL parsing
 * (src/cluster/redis_url.h): what a user may write, and the one-line
 * reason for what they may not. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "redis_url.h"

static struct sh_redis_addr parse_ok(const char *url)
{
  struct sh_redis_addr a;
  char err[160] = "";

  ck_assert_msg(0 == sh_redis_url_parse(url, &a, err, sizeof(err)),
                "%s refused: %s", url, err);
  return a;
}

/* Refused with a reason that contains want. */
static void parse_bad(const char *url, const char *want)
{
  struct sh_redis_addr a;
  char err[160] = "";

  ck_assert_int_eq(-EINVAL, sh_redis_url_parse(url, &a, err, sizeof(err)));
  ck_assert_msg(NULL != strstr(err, want), "%s: \"%s\" lacks \"%s\"", url, err,
                want);
  ck_assert_ptr_null(strchr(err, '\n'));
  ck_assert_ptr_null(a.host); /* nothing left to free */
  ck_assert_ptr_null(a.password);
}

START_TEST(test_url_host_port_db)
{
  struct sh_redis_addr a = parse_ok("redis://10.0.0.5:6380/3");
  char name[64];

  ck_assert_str_eq(a.host, "10.0.0.5");
  ck_assert_uint_eq(a.port, 6380);
  ck_assert_uint_eq(a.db, 3);
  ck_assert_ptr_null(a.path);
  ck_assert_ptr_null(a.user);
  ck_assert_ptr_null(a.password);
  sh_redis_addr_name(&a, name, sizeof(name));
  ck_assert_str_eq(name, "10.0.0.5:6380");
  sh_redis_addr_free(&a);
}
END_TEST

START_TEST(test_url_defaults)
{
  struct sh_redis_addr a = parse_ok("redis://localhost");

  ck_assert_str_eq(a.host, "localhost");
  ck_assert_uint_eq(a.port, 6379);
  ck_assert_uint_eq(a.db, 0);
  sh_redis_addr_free(&a);
  a = parse_ok("redis://localhost/");
  ck_assert_uint_eq(a.db, 0);
  sh_redis_addr_free(&a);
}
END_TEST

START_TEST(test_url_user_password_escapes)
{
  struct sh_redis_addr a = parse_ok("redis://app:p%40ss%3Aw@127.0.0.1:7000/1");
  char name[64];

  ck_assert_str_eq(a.user, "app");
  ck_assert_str_eq(a.password, "p@ss:w");
  ck_assert_str_eq(a.host, "127.0.0.1");
  sh_redis_addr_name(&a, name, sizeof(name));
  ck_assert_ptr_null(strstr(name, "p@ss")); /* never in log lines */
  sh_redis_addr_free(&a);
  a = parse_ok("redis://:secret@h:1/0"); /* the default user */
  ck_assert_ptr_null(a.user);
  ck_assert_str_eq(a.password, "secret");
  sh_redis_addr_free(&a);
}
END_TEST

START_TEST(test_url_ipv6_and_unix)
{
  struct sh_redis_addr a = parse_ok("redis://[::1]:6390/2");
  char name[64];

  ck_assert_str_eq(a.host, "::1");
  ck_assert_uint_eq(a.port, 6390);
  sh_redis_addr_name(&a, name, sizeof(name));
  ck_assert_str_eq(name, "[::1]:6390");
  sh_redis_addr_free(&a);
  a = parse_ok("unix:///run/redis/redis.sock");
  ck_assert_str_eq(a.path, "/run/redis/redis.sock");
  ck_assert_ptr_null(a.host);
  sh_redis_addr_free(&a);
}
END_TEST

START_TEST(test_url_refused)
{
  parse_bad("http://localhost:6379", "expected redis://");
  parse_bad("localhost:6379", "expected redis://");
  parse_bad("rediss://h:1", "expected redis://");
  parse_bad("redis://", "no host");
  parse_bad("redis://:6379", "no host");
  parse_bad("redis://h:0", "port");
  parse_bad("redis://h:65536", "port");
  parse_bad("redis://h:12ab", "port");
  parse_bad("redis://h:1/x", "database");
  parse_bad("redis://h:1/1/2", "database");
  parse_bad("redis://u:p%4@h", "%-escape");
  parse_bad("redis://u:p%00@h", "%-escape");
  parse_bad("redis://[::1:1", "unclosed");
  parse_bad("redis://h 1", "space");
  parse_bad("unix://relative.sock", "absolute");
}
END_TEST

static Suite *url_suite(void)
{
  Suite *s = suite_create("redis_url");
  TCase *tc = tcase_create("parse");

  tcase_add_test(tc, test_url_host_port_db);
  tcase_add_test(tc, test_url_defaults);
  tcase_add_test(tc, test_url_user_password_escapes);
  tcase_add_test(tc, test_url_ipv6_and_unix);
  tcase_add_test(tc, test_url_refused);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(url_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
