/* check_cli.c - unit tests for cli.h and for the exit codes of ssehub. */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <check.h>

#include "cli.h"
#include "cli_table.h"
#include "logsink.h"
#include "testlib.h"

#define MAX_ARGS 16
#define ARG_LEN 64

/* Writable argv (getopt_long may permute it); the storage outlives the
 * parse because cfg.hub.bind_address points into it. */
struct args {
  char store[MAX_ARGS][ARG_LEN];
  char *argv[MAX_ARGS + 1];
  int argc;
};

struct result {
  struct args a;
  struct sh_config cfg;
  char err[256];
  enum sh_cli_result rc;
};

/* Fill a with "ssehub" followed by the arguments in ap (NULL-ended). */
static void build_args(struct args *a, va_list ap)
{
  const char *s;

  memset(a, 0, sizeof(*a));
  strcpy(a->store[0], "ssehub");
  a->argv[0] = a->store[0];
  a->argc = 1;
  while (NULL != (s = va_arg(ap, const char *))) {
    ck_assert_int_lt(a->argc, MAX_ARGS);
    ck_assert_uint_lt(strlen(s), ARG_LEN);
    strcpy(a->store[a->argc], s);
    a->argv[a->argc] = a->store[a->argc];
    a->argc++;
  }
  a->argv[a->argc] = NULL;
}

/* Parse "ssehub" followed by the NULL-terminated arguments into r. */
static void parse(struct result *r, ...)
{
  va_list ap;

  memset(r, 0, sizeof(*r));
  va_start(ap, r);
  build_args(&r->a, ap);
  va_end(ap);
  r->rc = sh_cli_parse(&r->cfg, r->a.argc, r->a.argv, r->err, sizeof(r->err));
}

/* The parse failed with a message containing each NULL-terminated word. */
static void expect_error(const struct result *r, ...)
{
  va_list ap;
  const char *word;

  ck_assert_msg(SH_CLI_ERROR == r->rc, "expected SH_CLI_ERROR, got %d",
                (int) r->rc);
  ck_assert_msg(NULL == strchr(r->err, '\n'), "newline in \"%s\"", r->err);
  va_start(ap, r);
  while (NULL != (word = va_arg(ap, const char *)))
    ck_assert_msg(NULL != strstr(r->err, word),
                  "error \"%s\" does not mention \"%s\"", r->err, word);
  va_end(ap);
}

/* ---- parser -------------------------------------------------------------- */

START_TEST(test_cli_admin_bind)
{
  static const char *const bad[] = {
    "127.0.0.1",      "127.0.0.1:",      "127.0.0.1:0", "127.0.0.1:65536",
    "localhost:9100", "::1:9100",        "[::1]9100",   "[::1]:x",
    "1.2.3:4",        "[127.0.0.1]:9100"
  };
  struct result r;
  unsigned i;

  parse(&r, NULL);
  ck_assert_ptr_null(r.cfg.hub.admin_bind);
  parse(&r, "--admin-bind", "127.0.0.1:9100", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_str_eq(r.cfg.hub.admin_bind, "127.0.0.1:9100");
  parse(&r, "--admin-bind", "[::1]:65535", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_str_eq(r.cfg.hub.admin_bind, "[::1]:65535");
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    parse(&r, "--admin-bind", bad[i], NULL);
    expect_error(&r, "--admin-bind", bad[i], "ADDR:PORT", NULL);
  }
  parse(&r, "--admin-bind", "", NULL);
  expect_error(&r, "--admin-bind", NULL);
}
END_TEST

START_TEST(test_cli_trusted_proxy)
{
  static const char *const bad[] = { "10.0.0.1/8", "10.0.0.0/33", "::1/129",
                                     "fd00::/x",   "10.0.0.0/",   "10.0.0/8",
                                     "localhost",  "[1.2.3.4]",   "1.2.3.4/08",
                                     "fd00::1/8" };
  struct result r;
  unsigned i;

  parse(&r, NULL);
  ck_assert_uint_eq(r.cfg.hub.ntrusted_proxies, 0);
  parse(&r, "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1",
        "--trusted-proxy", "[fd00::]/8", "--trusted-proxy", "127.0.0.1", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.ntrusted_proxies, 4);
  ck_assert_ptr_eq(r.cfg.hub.trusted_proxies, r.cfg.proxies);
  ck_assert_str_eq(r.cfg.hub.trusted_proxies[1], "::1");
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    parse(&r, "--trusted-proxy", bad[i], NULL);
    expect_error(&r, "--trusted-proxy", bad[i], "not a network", NULL);
  }
  parse(&r, "--trusted-proxy", "", NULL);
  expect_error(&r, "--trusted-proxy", NULL);
}
END_TEST

START_TEST(test_cli_ipv6_prefix)
{
  static const char *const bad[] = { "0", "129", "-1", "64x", "" };
  struct result r;
  unsigned i;

  parse(&r, NULL);
  ck_assert_uint_eq(r.cfg.hub.ipv6_prefix, 64);
  parse(&r, "--ipv6-prefix", "48", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.ipv6_prefix, 48);
  parse(&r, "--ipv6-prefix", "128", NULL);
  ck_assert_uint_eq(r.cfg.hub.ipv6_prefix, 128);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    parse(&r, "--ipv6-prefix", bad[i], NULL);
    expect_error(&r, "--ipv6-prefix", "1-128", NULL);
  }
}
END_TEST

START_TEST(test_cli_bind_forms)
{
  static const char *const good[] = {
    "127.0.0.1",      "::1",      "[::1]", "::", "[::1]:8080",
    "127.0.0.1:8080", "localhost"
  };
  static const char *const bad[] = { "[::1",       "[127.0.0.1]", "[::1]:0",
                                     "[::1]x",     "1.2.3.4:",    "::zz",
                                     "[::1]:65536" };
  struct result r;
  unsigned i;

  for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    parse(&r, "--bind", good[i], NULL);
    ck_assert_msg(SH_CLI_RUN == r.rc, "%s: %s", good[i], r.err);
  }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    parse(&r, "--bind", bad[i], NULL);
    expect_error(&r, "--bind", bad[i], "not an address", NULL);
  }
  /* A port in --bind and --port: they must agree. */
  parse(&r, "--bind", "[::1]:8080", "--port", "8080", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  parse(&r, "--port", "9000", "--bind", "[::1]:8080", NULL);
  expect_error(&r, "--bind", "8080", "9000", NULL);
}
END_TEST

/* --jwt-key-file names a file (read by main(), not the parser), from the
 * flag or $SSEHUB_JWT_KEY_FILE; a build without libjwt refuses it. */
START_TEST(test_cli_jwt_key_file)
{
  struct result r;

  parse(&r, NULL);
  ck_assert_ptr_null(r.cfg.jwt_key_file);
  parse(&r, "--jwt-key-file", "/etc/ssehub/jwt.pub", NULL);
#ifdef HAVE_JWT
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_str_eq(r.cfg.jwt_key_file, "/etc/ssehub/jwt.pub");
  ck_assert_int_eq(setenv("SSEHUB_JWT_KEY_FILE", "/env/k", 1), 0);
  parse(&r, NULL);
  ck_assert_str_eq(r.cfg.jwt_key_file, "/env/k");
  parse(&r, "--jwt-key-file", "/flag", NULL);
  ck_assert_str_eq(r.cfg.jwt_key_file, "/flag");
  ck_assert_int_eq(unsetenv("SSEHUB_JWT_KEY_FILE"), 0);
#else
  expect_error(&r, "--jwt-key-file", "lacks JWT support", NULL);
#endif
  parse(&r, "--jwt-key-file", "", NULL);
  expect_error(&r, "--jwt-key-file", NULL);
}
END_TEST

START_TEST(test_cli_defaults)
{
  struct result r;

  parse(&r, NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.port, 8888);
  ck_assert_uint_eq(r.cfg.hub.heartbeat_ms, 15000);
  ck_assert_uint_eq(r.cfg.hub.max_event_size, 65536);
  ck_assert_uint_eq(r.cfg.hub.client_buffer, 1048576);
  ck_assert_uint_eq(r.cfg.tick_ms, 0);
  ck_assert_ptr_null(r.cfg.hub.bind_address);
}
END_TEST

START_TEST(test_cli_usage_states_defaults)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);

  ck_assert_ptr_nonnull(f);
  sh_cli_usage(f);
  ck_assert_int_eq(fclose(f), 0);
  ck_assert_ptr_nonnull(strstr(text, "Usage: ssehub"));
  /* The defaults checked in test_cli_defaults, as the help states them. */
  ck_assert_ptr_nonnull(strstr(text, "(default 8888"));
  ck_assert_ptr_nonnull(strstr(text, "(default 15)"));
  ck_assert_ptr_nonnull(strstr(text, "(default 64K)"));
  ck_assert_ptr_nonnull(strstr(text, "(default 1M)"));
  free(text);
}
END_TEST

START_TEST(test_cli_port)
{
  struct result r;

  parse(&r, "--port", "0", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.port, 0);
  parse(&r, "--port", "65535", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.port, 65535);
  parse(&r, "--port=8080", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.port, 8080);
  parse(&r, "-p", "1234", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.port, 1234);
  /* The last occurrence wins. */
  parse(&r, "--port", "1", "--port", "2", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.port, 2);
}
END_TEST

START_TEST(test_cli_port_invalid)
{
  struct result r;

  parse(&r, "--port", "65536", NULL);
  expect_error(&r, "--port", "65536", NULL);
  parse(&r, "--port", "-1", NULL);
  expect_error(&r, "--port", "-1", NULL);
  parse(&r, "--port", "abc", NULL);
  expect_error(&r, "--port", "abc", NULL);
  parse(&r, "--port", "", NULL);
  expect_error(&r, "--port", NULL);
  parse(&r, "--port", "12x", NULL);
  expect_error(&r, "--port", "12x", NULL);
  parse(&r, "--port", " 80", NULL);
  expect_error(&r, "--port", NULL);
  parse(&r, "--port", "+80", NULL);
  expect_error(&r, "--port", NULL);
  parse(&r, "--port", "99999999999999999999999", NULL);
  expect_error(&r, "--port", NULL);
}
END_TEST

START_TEST(test_cli_heartbeat)
{
  struct result r;

  parse(&r, "--heartbeat", "0.5", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.heartbeat_ms, 500);
  parse(&r, "--heartbeat", "0", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.heartbeat_ms, 0);
  parse(&r, "--heartbeat", "0.1", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.heartbeat_ms, 100);
  parse(&r, "--heartbeat", "2.125", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.heartbeat_ms, 2125);
  parse(&r, "--heartbeat", "86400", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.heartbeat_ms, 86400000);

  parse(&r, "--heartbeat", "1.2345", NULL);
  expect_error(&r, "--heartbeat", NULL);
  parse(&r, "--heartbeat", "0.05", NULL);
  expect_error(&r, "--heartbeat", NULL);
  parse(&r, "--heartbeat", "86401", NULL);
  expect_error(&r, "--heartbeat", NULL);
  parse(&r, "--heartbeat", "1.", NULL);
  expect_error(&r, "--heartbeat", NULL);
  parse(&r, "--heartbeat", ".5", NULL);
  expect_error(&r, "--heartbeat", NULL);
  parse(&r, "--heartbeat", "-1", NULL);
  expect_error(&r, "--heartbeat", NULL);
  parse(&r, "--heartbeat", "1s", NULL);
  expect_error(&r, "--heartbeat", NULL);
}
END_TEST

START_TEST(test_cli_tick)
{
  struct result r;

  parse(&r, "--tick", "2", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.tick_ms, 2000);
  parse(&r, "--tick", "0.25", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.tick_ms, 250);
  parse(&r, "--tick", "0", NULL);
  expect_error(&r, "--tick", NULL);
  parse(&r, "--tick", "x", NULL);
  expect_error(&r, "--tick", NULL);
}
END_TEST

START_TEST(test_cli_sizes)
{
  struct result r;

  parse(&r, "--client-buffer", "64K", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.client_buffer, 65536);
  parse(&r, "--client-buffer", "1M", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.client_buffer, 1048576);
  parse(&r, "--client-buffer", "2k", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.client_buffer, 2048);
  parse(&r, "--client-buffer", "1024", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.client_buffer, 1024);
  parse(&r, "--client-buffer", "512", NULL);
  expect_error(&r, "--client-buffer", "512", NULL);
  parse(&r, "--client-buffer", "K", NULL);
  expect_error(&r, "--client-buffer", NULL);
  parse(&r, "--client-buffer", "1G", NULL);
  expect_error(&r, "--client-buffer", NULL);
  parse(&r, "--client-buffer", "2048M", NULL);
  expect_error(&r, "--client-buffer", NULL);

  parse(&r, "--max-event-size", "1", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.max_event_size, 1);
  parse(&r, "--max-event-size", "64M", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.max_event_size, 64u * 1024 * 1024);
  parse(&r, "--max-event-size", "0", NULL);
  expect_error(&r, "--max-event-size", NULL);
  parse(&r, "--max-event-size", "65M", NULL);
  expect_error(&r, "--max-event-size", NULL);
}
END_TEST

START_TEST(test_cli_unknown_option)
{
  struct result r;

  parse(&r, "--nope", NULL);
  expect_error(&r, "--nope", NULL);
  parse(&r, "--port", "80", "--nope", NULL);
  expect_error(&r, "--nope", NULL);
  parse(&r, "-x", NULL);
  expect_error(&r, "-x", NULL);
  /* An unknown letter inside a group is named, not the program. */
  parse(&r, "-xq", NULL);
  expect_error(&r, "'-x'", NULL);
  parse(&r, "-qx", NULL);
  expect_error(&r, "'-x'", NULL);
  /* What the user typed is quoted, but the message stays one line. */
  parse(&r, "--port", "1\n2", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_ERROR);
  ck_assert_ptr_null(strchr(r.err, '\n'));
  ck_assert_ptr_nonnull(strstr(r.err, "1?2"));
  /* An ambiguous prefix (--tick or --timeout) is refused. */
  parse(&r, "--ti", "1", NULL);
  expect_error(&r, "--ti", NULL);
  /* A flag that takes no value, given one. */
  parse(&r, "--quiet=yes", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_ERROR);
}
END_TEST

START_TEST(test_cli_missing_value)
{
  struct result r;

  parse(&r, "--port", NULL);
  expect_error(&r, "--port", "needs a value", NULL);
  parse(&r, "--heartbeat", "1", "--tick", NULL);
  expect_error(&r, "--tick", "needs a value", NULL);
  parse(&r, "-p", NULL);
  expect_error(&r, "-p", "needs a value", NULL);
}
END_TEST

START_TEST(test_cli_positional_rejected)
{
  struct result r;

  parse(&r, "extra", NULL);
  expect_error(&r, "extra", NULL);
  parse(&r, "--port", "80", "stray", NULL);
  expect_error(&r, "stray", NULL);
  /* Everything after "--" is positional. */
  parse(&r, "--", "--port", NULL);
  expect_error(&r, "--port", NULL);
}
END_TEST

START_TEST(test_cli_help_version)
{
  struct result r;

  parse(&r, "--help", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_HELP);
  parse(&r, "-h", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_HELP);
  parse(&r, "-V", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_VERSION);
  parse(&r, "--version", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_VERSION);
  parse(&r, "--port", "80", "--help", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_HELP);
}
END_TEST

START_TEST(test_cli_other_options)
{
  struct result r;

  parse(&r, "--bind", "127.0.0.1", "--threads", "4", "--max-clients", "100",
        "--publish-queue", "16", "--timeout", "0", "--retry-after", "9",
        "--connection-memory", "8K", "-q", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_str_eq(r.cfg.hub.bind_address, "127.0.0.1");
  ck_assert_uint_eq(r.cfg.hub.threads, 4);
  ck_assert_uint_eq(r.cfg.hub.max_clients, 100);
  ck_assert_uint_eq(r.cfg.hub.publish_queue, 16);
  ck_assert_uint_eq(r.cfg.hub.connection_timeout_s, 0);
  ck_assert_uint_eq(r.cfg.hub.retry_after_s, 9);
  ck_assert_uint_eq(r.cfg.hub.connection_memory, 8192);
  ck_assert_int_eq(r.cfg.hub.log_level, SSEHUB_LOG_ERROR);
  ck_assert_uint_eq(r.cfg.hub.publish_wait_ms, 5000); /* the default */
  parse(&r, "--publish-wait", "0.25", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.publish_wait_ms, 250);
  parse(&r, "--publish-wait", "0", NULL);
  ck_assert_uint_eq(r.cfg.hub.publish_wait_ms, 0);
  parse(&r, "--publish-wait", "61", NULL);
  expect_error(&r, "--publish-wait", NULL);
  parse(&r, "--publish-wait", "soon", NULL);
  expect_error(&r, "--publish-wait", NULL);
  parse(&r, "-v", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_int_eq(r.cfg.hub.log_level, SSEHUB_LOG_DEBUG);
  parse(&r, "--bind", "", NULL);
  expect_error(&r, "--bind", NULL);
  parse(&r, "--threads", "0", NULL);
  expect_error(&r, "--threads", NULL);
  parse(&r, "--connection-memory", "1K", NULL);
  expect_error(&r, "--connection-memory", NULL);
}
END_TEST

START_TEST(test_cli_reentrant)
{
  struct result r;
  int i;

  /* getopt state is reset on each call: an error mid-argv, or an option
   * already seen, must not leak into the next parse. */
  for (i = 0; i < 3; i++) {
    parse(&r, "--port", "1", "--nope", "--tick", "1", NULL);
    expect_error(&r, "--nope", NULL);
    parse(&r, "--tick", "3", NULL);
    ck_assert_int_eq(r.rc, SH_CLI_RUN);
    ck_assert_uint_eq(r.cfg.tick_ms, 3000);
    ck_assert_uint_eq(r.cfg.hub.port, 8888);
    parse(&r, "-qp", "7", NULL);
    ck_assert_int_eq(r.rc, SH_CLI_RUN);
    ck_assert_uint_eq(r.cfg.hub.port, 7);
    ck_assert_uint_eq(r.cfg.tick_ms, 0);
    parse(&r, NULL);
    ck_assert_int_eq(r.rc, SH_CLI_RUN);
    ck_assert_int_eq(r.cfg.hub.log_level, SSEHUB_LOG_INFO);
  }
}
END_TEST

START_TEST(test_cli_messages)
{
  /* The exact message for a bad value of each flag that takes one: they
   * are built from the table, and users (and scripts) read them. */
  static const struct {
    const char *arg, *value, *msg;
  } cases[] = {
    { "--port", "x", "invalid --port 'x' (expected 0-65535)" },
    { "--bind", "", "invalid --bind '' (expected an address)" },
    { "--threads", "0", "invalid --threads '0' (expected 1-1024)" },
    { "--max-clients", "0", "invalid --max-clients '0' (expected 1-10000000)" },
    { "--client-buffer", "1G",
      "invalid --client-buffer '1G' (expected 1K-1024M)" },
    { "--max-event-size", "0",
      "invalid --max-event-size '0' (expected 1-64M)" },
    { "--publish-queue", "0",
      "invalid --publish-queue '0' (expected 1-1000000)" },
    { "--publish-wait", "61",
      "invalid --publish-wait '61' (expected 0-60 seconds)" },
    { "--heartbeat", "0.05",
      "invalid --heartbeat '0.05' (expected 0 or 0.1-86400 seconds)" },
    { "--tick", "0", "invalid --tick '0' (expected 0.01-86400 seconds)" },
    { "--connection-memory", "1K",
      "invalid --connection-memory '1K' (expected 4K-16M)" },
    { "--timeout", "-1", "invalid --timeout '-1' (expected 0-86400)" },
    { "--header-timeout", "1.5",
      "invalid --header-timeout '1.5' (expected 0-86400)" },
    { "--retry-after", "86401",
      "invalid --retry-after '86401' (expected 0-86400)" },
    { "--history", "1K", "invalid --history '1K' (expected 0-1000000)" },
    { "--history-age", "0",
      "invalid --history-age '0' (expected 0.001-86400 seconds)" },
    { "--retry", "86400001",
      "invalid --retry '86400001' (expected 0-86400000 ms)" },
    { "--cors-origin", "a,b",
      "invalid --cors-origin 'a,b' (expected one "
      "origin such as https://example.com, or *)" },
    { "--stdin=x", NULL, "invalid --stdin='x' (expected lines or blocks)" },
    { "--max-clients-per-ip", "0",
      "invalid --max-clients-per-ip '0' (expected 1-10000000)" },
    { "--publish-rate", "0",
      "invalid --publish-rate '0' (expected 1-10000000)" },
    { "--max-buffered", "1K",
      "invalid --max-buffered '1K' (expected 0 or 64K-1048576M)" },
    { "--tls-cert", "c", "--tls-cert and --tls-key go together" },
    { "--tls-key", "k", "--tls-cert and --tls-key go together" },
  };
  struct result r;
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    parse(&r, cases[i].arg, cases[i].value, NULL);
    ck_assert_int_eq(r.rc, SH_CLI_ERROR);
    ck_assert_str_eq(r.err, cases[i].msg);
  }
}
END_TEST

START_TEST(test_cli_zero_or_range)
{
  struct result r;

  /* "0 or 64K-1048576M": 0 is the ceiling's "off", the gap below 64K is
   * not a ceiling. */
  parse(&r, "--max-buffered", "0", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.max_buffered, 0);
  parse(&r, "--max-buffered", "64K", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.max_buffered, 65536);
  parse(&r, "--max-buffered", "1048576M", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.max_buffered, 1ull << 40);
  parse(&r, "--max-buffered", "65535", NULL);
  expect_error(&r, "--max-buffered", NULL);
  parse(&r, "--max-buffered", "1048577M", NULL);
  expect_error(&r, "--max-buffered", NULL);
  parse(&r, "--max-buffered", "0K", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.max_buffered, 0);
}
END_TEST

/* sh_cli_apply() on a default configuration: returns its result, with the
 * message in r->err. */
static enum sh_cli_result apply(struct result *r, const char *name,
                                const char *value)
{
  r->err[0] = '\0';
  r->rc = sh_cli_apply(&r->cfg, name, value, r->err, sizeof(r->err));
  return r->rc;
}

START_TEST(test_cli_apply)
{
  struct result r;
  unsigned i;

  parse(&r, NULL);
  ck_assert_int_eq(apply(&r, "port", "80"), SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.port, 80);
  ck_assert_int_eq(apply(&r, "heartbeat", "2.5"), SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.heartbeat_ms, 2500);
  ck_assert_int_eq(apply(&r, "client-buffer", "2M"), SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.client_buffer, 2u << 20);
  ck_assert_int_eq(apply(&r, "bind", "::1"), SH_CLI_RUN);
  ck_assert_str_eq(r.cfg.hub.bind_address, "::1");
  ck_assert_int_eq(apply(&r, "publish-token-file", "/t"), SH_CLI_RUN);
  ck_assert_str_eq(r.cfg.publish_token_file, "/t");
  ck_assert_int_eq(apply(&r, "no-demo-page", NULL), SH_CLI_RUN);
  ck_assert_int_eq(r.cfg.hub.demo_page, 0);
  ck_assert_int_eq(apply(&r, "publish-open", NULL), SH_CLI_RUN);
  ck_assert_int_eq(r.cfg.hub.publish_open, 1);
  ck_assert_int_eq(apply(&r, "verbose", NULL), SH_CLI_RUN);
  ck_assert_int_eq(r.cfg.hub.log_level, SSEHUB_LOG_DEBUG);
  ck_assert_int_eq(apply(&r, "stdin", NULL), SH_CLI_RUN);
  ck_assert_int_eq(r.cfg.stdin_mode, SH_STDIN_LINES);
  ck_assert_int_eq(apply(&r, "stdin", "blocks"), SH_CLI_RUN);
  ck_assert_int_eq(r.cfg.stdin_mode, SH_STDIN_BLOCKS);
  ck_assert_int_eq(apply(&r, "help", NULL), SH_CLI_HELP);
  ck_assert_int_eq(apply(&r, "version", NULL), SH_CLI_VERSION);
  /* A pair sets its own member and nothing else. */
  ck_assert_uint_eq(r.cfg.hub.port, 80);
  ck_assert_uint_eq(r.cfg.hub.max_event_size, 65536);

  /* The command line's checks and messages. */
  ck_assert_int_eq(apply(&r, "port", "65536"), SH_CLI_ERROR);
  ck_assert_str_eq(r.err, "invalid --port '65536' (expected 0-65535)");
  ck_assert_uint_eq(r.cfg.hub.port, 80); /* a refused value changes nothing */
  ck_assert_int_eq(apply(&r, "heartbeat", "0.05"), SH_CLI_ERROR);
  ck_assert_str_eq(r.err, "invalid --heartbeat '0.05' (expected 0 or 0.1-86400 "
                          "seconds)");
  ck_assert_int_eq(apply(&r, "stdin", "words"), SH_CLI_ERROR);
  ck_assert_str_eq(r.err, "invalid --stdin='words' (expected lines or "
                          "blocks)");
  ck_assert_int_eq(apply(&r, "bind", ""), SH_CLI_ERROR);
  ck_assert_str_eq(r.err, "invalid --bind '' (expected an address)");
  ck_assert_int_eq(apply(&r, "port", "1\n2"), SH_CLI_ERROR);
  ck_assert_str_eq(r.err, "invalid --port '1?2' (expected 0-65535)");

  /* What getopt_long() catches on the command line. */
  ck_assert_int_eq(apply(&r, "nope", "1"), SH_CLI_ERROR);
  ck_assert_str_eq(r.err, "unknown option '--nope'");
  ck_assert_int_eq(apply(&r, "p", "1"), SH_CLI_ERROR);  /* no short names */
  ck_assert_int_eq(apply(&r, "ti", "1"), SH_CLI_ERROR); /* nor prefixes */
  ck_assert_int_eq(apply(&r, "port", NULL), SH_CLI_ERROR);
  ck_assert_str_eq(r.err, "option '--port' needs a value");
  ck_assert_int_eq(apply(&r, "quiet", "yes"), SH_CLI_ERROR);
  ck_assert_str_eq(r.err, "option '--quiet' takes no value");
  ck_assert_int_eq(r.cfg.hub.log_level, SSEHUB_LOG_DEBUG);

  /* Repeatable: each pair adds one, up to the most. */
  for (i = 0; i < SH_CLI_MAX_ORIGINS; i++)
    ck_assert_int_eq(apply(&r, "cors-origin", "*"), SH_CLI_RUN);
  ck_assert_uint_eq(r.cfg.hub.ncors_origins, SH_CLI_MAX_ORIGINS);
  ck_assert_ptr_eq(r.cfg.hub.cors_origins, r.cfg.origins);
  ck_assert_str_eq(r.cfg.hub.cors_origins[SH_CLI_MAX_ORIGINS - 1], "*");
  ck_assert_int_eq(apply(&r, "cors-origin", "*"), SH_CLI_ERROR);
  ck_assert_str_eq(r.err, "too many --cors-origin (at most 32)");
  ck_assert_int_eq(apply(&r, "cors-origin", "a b"), SH_CLI_ERROR);
  ck_assert_ptr_nonnull(strstr(r.err, "invalid --cors-origin 'a b'"));
}
END_TEST

START_TEST(test_cli_env_fallback)
{
  struct result r;

  ck_assert_int_eq(setenv("SSEHUB_PUBLISH_TOKEN_FILE", "/env/p", 1), 0);
  ck_assert_int_eq(setenv("SSEHUB_SUBSCRIBE_TOKEN_FILE", "/env/s", 1), 0);
  parse(&r, NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_str_eq(r.cfg.publish_token_file, "/env/p");
  ck_assert_str_eq(r.cfg.subscribe_token_file, "/env/s");
  /* A flag wins over the environment. */
  parse(&r, "--publish-token-file", "/flag", NULL);
  ck_assert_str_eq(r.cfg.publish_token_file, "/flag");
  ck_assert_str_eq(r.cfg.subscribe_token_file, "/env/s");
  ck_assert_int_eq(unsetenv("SSEHUB_PUBLISH_TOKEN_FILE"), 0);
  ck_assert_int_eq(unsetenv("SSEHUB_SUBSCRIBE_TOKEN_FILE"), 0);
  parse(&r, NULL);
  ck_assert_ptr_null(r.cfg.publish_token_file);
  ck_assert_ptr_null(r.cfg.subscribe_token_file);
}
END_TEST

/* The largest value the member an entry writes can hold. */
static uint64_t store_max(enum sh_opt_store store)
{
  switch (store) {
  case SH_STORE_U16:
    return UINT16_MAX;
  case SH_STORE_UNSIGNED:
    return UINT_MAX;
  case SH_STORE_SIZE:
    return SIZE_MAX;
  default:
    return 0;
  }
}

START_TEST(test_cli_table_complete)
{
  struct sh_getopt g;
  char *text = NULL, *line;
  size_t len = 0, i, j;
  FILE *f = open_memstream(&text, &len);

  ck_assert_ptr_nonnull(f);
  sh_cli_usage(f);
  ck_assert_int_eq(fclose(f), 0);
  sh_cli_getopt(&g);
  ck_assert_uint_le(sh_cli_nopts, SH_CLI_MAX_OPTS);
  ck_assert_ptr_null(g.longopts[sh_cli_nopts].name);
  ck_assert_int_eq(g.shortopts[0], ':');

  for (i = 0; i < sh_cli_nopts; i++) {
    const struct sh_opt *opt = &sh_cli_opts[i];
    const struct option *lo = &g.longopts[i];
    int has = SH_OPT_SET == opt->kind || SH_OPT_ACTION == opt->kind
                  ? no_argument
              : SH_OPT_CHOICE == opt->kind ? optional_argument
                                           : required_argument;
    char want[96];
    const char *s;

    /* In --help, at the start of a line, as the user types it. */
    snprintf(want, sizeof(want), "\n%s--%s%s%s%s",
             0 != opt->letter ? "  -?, " : "      ", opt->name,
             required_argument == has   ? "="
             : optional_argument == has ? "[="
                                        : " ",
             no_argument != has ? opt->arg : "",
             optional_argument == has   ? "] "
             : required_argument == has ? " "
                                        : "");
    if (0 != opt->letter)
      want[4] = opt->letter;
    ck_assert_msg(NULL != strstr(text, want), "--help lacks \"%s\"", want + 1);
    ck_assert_msg(NULL != opt->help && '\0' != opt->help[0], "--%s: no help",
                  opt->name);
    if (NULL != opt->env) {
      snprintf(want, sizeof(want), "$%s", opt->env);
      ck_assert_msg(NULL != strstr(text, want), "--help lacks %s", want);
    }

    /* In getopt_long()'s array, as the loop maps it back. */
    ck_assert_ptr_nonnull(lo->name);
    ck_assert_str_eq(lo->name, opt->name);
    ck_assert_int_eq(lo->has_arg, has);
    ck_assert_ptr_null(lo->flag);
    if (0 != opt->letter) {
      ck_assert_int_eq(lo->val, opt->letter);
      s = strchr(g.shortopts + 1, opt->letter);
      ck_assert_msg(NULL != s, "-%c not in \"%s\"", opt->letter, g.shortopts);
      ck_assert_int_eq(':' == s[1], no_argument != has);
    } else {
      ck_assert_int_eq(lo->val, SH_CLI_VAL0 + (int) i);
    }

    /* Consistent on its own and with the others. */
    for (j = 0; j < i; j++) {
      ck_assert_str_ne(sh_cli_opts[j].name, opt->name);
      ck_assert(0 == opt->letter || sh_cli_opts[j].letter != opt->letter);
    }
    if (SH_OPT_UINT == opt->kind || SH_OPT_SIZE == opt->kind
        || SH_OPT_SECONDS == opt->kind) {
      ck_assert_msg(opt->min <= opt->max && opt->max <= store_max(opt->store),
                    "--%s: range does not fit its member", opt->name);
      ck_assert(!opt->zero_ok || opt->min > 0);
    }
    if (opt->nonempty || NULL != opt->reject)
      ck_assert_msg(NULL != opt->expect, "--%s: no .expect", opt->name);
    if (SH_OPT_CHOICE == opt->kind)
      ck_assert_ptr_nonnull(opt->choices[0].name);
    if (SH_OPT_LIST == opt->kind)
      ck_assert_uint_gt(opt->max, 0);
  }
  /* Flags without a letter return values getopt_long() cannot mistake for
   * a letter, ':' or '?'. */
  ck_assert_uint_eq(
      strlen(g.shortopts),
      1
          + strspn(g.shortopts + 1,
                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789:"));

  /* Hand-wrapped help stays within 79 columns, and no placeholder is
   * left unfilled. */
  ck_assert_ptr_null(strstr(text, "{default}"));
  ck_assert_ptr_null(strstr(text, "{env}"));
  for (line = strtok(text, "\n"); NULL != line; line = strtok(NULL, "\n"))
    ck_assert_msg(strlen(line) <= 79, "--help line too long: %s", line);
  free(text);
}
END_TEST

/* ---- program ------------------------------------------------------------- */

struct run {
  struct args a;
  int status;      /* from waitpid, -1 if it had to be killed */
  char out[16384]; /* stdout, NUL-terminated */
  char err[16384]; /* stderr, NUL-terminated */
};

/* Run the program with the NULL-terminated arguments, collecting stdout
 * and stderr separately; a program still running after 5 s is killed (the
 * test then fails on its status). */
static void run_bin(struct run *r, ...)
{
  va_list ap;

  memset(r, 0, sizeof(*r));
  va_start(ap, r);
  build_args(&r->a, ap);
  va_end(ap);
  /* argv[0] is the program's name: tl_run_split() puts its path there. */
  r->status = tl_run_split((const char *const *) r->a.argv + 1, r->out,
                           sizeof(r->out), r->err, sizeof(r->err), 5000);
}

/* The program exited with code; what names the command in messages. */
static void expect_exit(const struct run *r, int code, const char *what)
{
  ck_assert_msg(WIFEXITED(r->status), "ssehub %s did not exit normally", what);
  ck_assert_msg(WEXITSTATUS(r->status) == code,
                "%s %s exited %d, want %d (127: cannot run it; set "
                "SSEHUB_BIN); stderr: %s",
                tl_bin(), what, WEXITSTATUS(r->status), code, r->err);
}

static void expect_usage_error(const struct run *r, const char *what,
                               const char *mention)
{
  expect_exit(r, 2, what);
  ck_assert_msg(NULL != strstr(r->err, "ssehub:"), "stderr: %s", r->err);
  ck_assert_msg(NULL != strstr(r->err, "--help"), "stderr: %s", r->err);
  ck_assert_msg(NULL != strstr(r->err, mention), "stderr: %s", r->err);
  ck_assert_msg('\0' == r->out[0], "stdout: %s", r->out);
}

START_TEST(test_cli_program_bad_flag_exits_2)
{
  struct run *r = malloc(sizeof(*r));

  ck_assert_ptr_nonnull(r);
  run_bin(r, "--port", "abc", NULL);
  expect_usage_error(r, "--port abc", "--port");
  ck_assert_ptr_nonnull(strstr(r->err, "abc"));
  run_bin(r, "--bogus", NULL);
  expect_usage_error(r, "--bogus", "--bogus");
  run_bin(r, "--port", NULL);
  expect_usage_error(r, "--port", "needs a value");
  run_bin(r, "stray", NULL);
  expect_usage_error(r, "stray", "stray");
  run_bin(r, "--trusted-proxy", "10.0.0.0/33", NULL);
  expect_usage_error(r, "--trusted-proxy 10.0.0.0/33", "not a network");
  run_bin(r, "--ipv6-prefix", "0", NULL);
  expect_usage_error(r, "--ipv6-prefix 0", "--ipv6-prefix");
  run_bin(r, "--when-full=always", NULL);
  expect_usage_error(r, "--when-full=always", "retry or 429");
  free(r);
}
END_TEST

START_TEST(test_cli_program_help_and_version_exit_0)
{
  struct run *r = malloc(sizeof(*r));

  ck_assert_ptr_nonnull(r);
  run_bin(r, "--help", NULL);
  expect_exit(r, 0, "--help");
  ck_assert_msg(NULL != strstr(r->out, "Usage"), "stdout: %s", r->out);
  ck_assert_ptr_nonnull(strstr(r->out, "--port"));
  ck_assert_msg('\0' == r->err[0], "stderr: %s", r->err);

  run_bin(r, "--version", NULL);
  expect_exit(r, 0, "--version");
  ck_assert_ptr_nonnull(strstr(r->out, "ssehub"));
  ck_assert_ptr_nonnull(strstr(r->out, PACKAGE_VERSION));
  ck_assert_ptr_nonnull(strstr(r->out, "\nlibmicrohttpd 0.9."));
  ck_assert_ptr_nonnull(strstr(r->out, "\nhiredis "));

  run_bin(r, "-V", NULL);
  expect_exit(r, 0, "-V");
  ck_assert_ptr_nonnull(strstr(r->out, PACKAGE_VERSION));
  free(r);
}
END_TEST

START_TEST(test_cli_log_flags)
{
  struct result r;

  parse(&r, NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_int_eq(r.cfg.log_format, SH_LOG_TEXT);
  ck_assert_ptr_null(r.cfg.access_log);
  parse(&r, "--log-format=json", "--access-log", "/var/log/a.log", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_int_eq(r.cfg.log_format, SH_LOG_JSON);
  ck_assert_str_eq(r.cfg.access_log, "/var/log/a.log");
  parse(&r, "--log-format=text", "--access-log=-", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_int_eq(r.cfg.log_format, SH_LOG_TEXT);
  ck_assert_str_eq(r.cfg.access_log, "-");
  parse(&r, "--log-format=xml", NULL);
  expect_error(&r, "--log-format", "text or json", NULL);
  parse(&r, "--access-log=", NULL);
  expect_error(&r, "--access-log", NULL);
  parse(&r, "--access-log", NULL);
  expect_error(&r, "--access-log", NULL);
  parse(&r, "-q", NULL);
  ck_assert_int_eq(r.cfg.hub.log_level, SSEHUB_LOG_ERROR);
  parse(&r, "-v", NULL);
  ck_assert_int_eq(r.cfg.hub.log_level, SSEHUB_LOG_DEBUG);
}
END_TEST

/* --when-full: retry (the program's default, not the library's 429),
 * or 429; anything else is a usage error. */
START_TEST(test_cli_when_full)
{
  struct result r;
  struct ssehub_options lib;

  ssehub_options_default(&lib);
  ck_assert_int_eq(lib.when_full, SSEHUB_WHEN_FULL_429);
  parse(&r, NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_int_eq(r.cfg.hub.when_full, SSEHUB_WHEN_FULL_RETRY);
  parse(&r, "--when-full=429", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_int_eq(r.cfg.hub.when_full, SSEHUB_WHEN_FULL_429);
  parse(&r, "--when-full=retry", NULL);
  ck_assert_int_eq(r.rc, SH_CLI_RUN);
  ck_assert_int_eq(r.cfg.hub.when_full, SSEHUB_WHEN_FULL_RETRY);
  parse(&r, "--when-full", NULL);
  ck_assert_int_eq(r.cfg.hub.when_full, SSEHUB_WHEN_FULL_RETRY);
  parse(&r, "--when-full=503", NULL);
  expect_error(&r, "--when-full", "retry or 429", NULL);
  parse(&r, "--when-full=", NULL);
  expect_error(&r, "--when-full", "retry or 429", NULL);
}
END_TEST

static Suite *cli_suite(void)
{
  Suite *s = suite_create("cli");
  TCase *parser = tcase_create("parser");
  TCase *program = tcase_create("program");

  tcase_add_test(parser, test_cli_defaults);
  tcase_add_test(parser, test_cli_usage_states_defaults);
  tcase_add_test(parser, test_cli_port);
  tcase_add_test(parser, test_cli_port_invalid);
  tcase_add_test(parser, test_cli_heartbeat);
  tcase_add_test(parser, test_cli_tick);
  tcase_add_test(parser, test_cli_sizes);
  tcase_add_test(parser, test_cli_unknown_option);
  tcase_add_test(parser, test_cli_missing_value);
  tcase_add_test(parser, test_cli_positional_rejected);
  tcase_add_test(parser, test_cli_help_version);
  tcase_add_test(parser, test_cli_other_options);
  tcase_add_test(parser, test_cli_reentrant);
  tcase_add_test(parser, test_cli_messages);
  tcase_add_test(parser, test_cli_zero_or_range);
  tcase_add_test(parser, test_cli_apply);
  tcase_add_test(parser, test_cli_env_fallback);
  tcase_add_test(parser, test_cli_table_complete);
  tcase_add_test(parser, test_cli_admin_bind);
  tcase_add_test(parser, test_cli_jwt_key_file);
  tcase_add_test(parser, test_cli_log_flags);
  tcase_add_test(parser, test_cli_trusted_proxy);
  tcase_add_test(parser, test_cli_ipv6_prefix);
  tcase_add_test(parser, test_cli_bind_forms);
  tcase_add_test(parser, test_cli_when_full);
  suite_add_tcase(s, parser);

  /* Each run may take up to its 5 s limit (longer under sanitizers). */
  tcase_set_timeout(program, 30);
  tcase_add_test(program, test_cli_program_bad_flag_exits_2);
  tcase_add_test(program, test_cli_program_help_and_version_exit_0);
  suite_add_tcase(s, program);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(cli_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
