/* check_security.c - who may publish and subscribe, the limits and their
 * answers, the global memory ceiling, descriptor exhaustion and TLS,
 * against the real program. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

static struct tl_server srv;

static void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");

  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* POST /publish "hi" with extra headers, from source address src (NULL:
 * 127.0.0.1). */
static int post_from(const char *src, const char *headers,
                     struct tl_response *r)
{
  char req[1024];
  int n = snprintf(req, sizeof(req),
                   "POST /publish HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   "Content-Type: text/plain\r\nContent-Length: 2\r\n%s\r\nhi",
                   headers);

  return tl_http_from(srv.port, src, req, (size_t) n, r, 5000);
}

static int post(const char *headers, struct tl_response *r)
{
  return post_from(NULL, headers, r);
}

static int get_sse(const char *path, const char *headers, struct tl_response *r)
{
  /* A stream never ends: read its head only (HEAD answers the same). */
  char req[1024];
  int n = snprintf(req, sizeof(req),
                   "HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n",
                   path, headers);

  return tl_http(srv.port, req, (size_t) n, r);
}

/* The process's command line, NULs turned into spaces. */
static void cmdline(pid_t pid, char *out, size_t cap)
{
  char path[64];
  ssize_t n;
  int fd, i;

  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid);
  fd = open(path, O_RDONLY);
  ck_assert_int_ge(fd, 0);
  n = read(fd, out, cap - 1);
  close(fd);
  ck_assert_int_gt(n, 0);
  for (i = 0; i < n; i++)
    if ('\0' == out[i])
      out[i] = ' ';
  out[n] = '\0';
}

START_TEST(test_security_publish_token)
{
  static const char *const args[] = { "--publish-token-file",
                                      "/tmp/ssehub-test-pub.token", NULL };
  struct tl_response r;
  char v[128], cmd[1024];

  write_file("/tmp/ssehub-test-pub.token", "  s3cret-Token_42 \n");
  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(401, post("", &r));
  ck_assert(tl_header(&r, "WWW-Authenticate", v, sizeof(v)));
  ck_assert_str_eq(v, "Bearer realm=\"ssehub\"");
  ck_assert_int_eq(401, post("Authorization: Bearer wrong\r\n", &r));
  ck_assert(tl_header(&r, "WWW-Authenticate", v, sizeof(v)));
  ck_assert_ptr_nonnull(strstr(v, "invalid_token"));
  ck_assert_int_eq(401, post("Authorization: Bearer s3cret-Token_4\r\n", &r));
  ck_assert_int_eq(401, post("Authorization: Bearer s3cret-Token_42x\r\n", &r));
  ck_assert_int_eq(401, post("Authorization: Basic s3cret-Token_42\r\n", &r));
  ck_assert_int_eq(200, post("Authorization: Bearer s3cret-Token_42\r\n", &r));
  /* /stats follows the publish rule: the token is needed there too. */
  ck_assert_int_eq(-1, tl_stat(srv.port, "unauthorized"));
  ck_assert_int_eq(6,
                   tl_stat_with(srv.port, "unauthorized",
                                "Authorization: Bearer s3cret-Token_42\r\n"));
  /* The token is in neither the command line nor the log. */
  cmdline(srv.pid, cmd, sizeof(cmd));
  ck_assert_ptr_null(strstr(cmd, "s3cret"));
  ck_assert(tl_server_log_contains(&srv, "publishing needs the bearer token"));
  ck_assert(!tl_server_log_contains(&srv, "s3cret"));
  tl_server_stop_ok(&srv);

  /* The environment names the file just as well. */
  setenv("SSEHUB_PUBLISH_TOKEN_FILE", "/tmp/ssehub-test-pub.token", 1);
  tl_server_start_ok(&srv, NULL);
  unsetenv("SSEHUB_PUBLISH_TOKEN_FILE");
  ck_assert_int_eq(401, post("", &r));
  ck_assert_int_eq(200, post("Authorization: Bearer s3cret-Token_42\r\n", &r));
  tl_server_stop_ok(&srv);
  unlink("/tmp/ssehub-test-pub.token");
}
END_TEST

START_TEST(test_security_subscribe_token)
{
  static const char *const args[] = { "--subscribe-token-file",
                                      "/tmp/ssehub-test-sub.token", NULL };
  struct tl_response r;

  write_file("/tmp/ssehub-test-sub.token", "sub-token\n");
  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(401, get_sse("/sse", "", &r));
  ck_assert_int_eq(401, get_sse("/sse?access_token=nope", "", &r));
  ck_assert_int_eq(200,
                   get_sse("/sse", "Authorization: Bearer sub-token\r\n", &r));
  ck_assert_int_eq(200, get_sse("/sse",
                                "Cookie: a=b; ssehub_token=sub-token"
                                "; c=d\r\n",
                                &r));
  ck_assert_int_eq(401,
                   get_sse("/sse", "Cookie: ssehub_token=sub-tokenX\r\n", &r));
  ck_assert_int_eq(200, get_sse("/sse?topic=x&access_token=sub-token", "", &r));
  /* Publishing is not affected (no publish token: loopback may). */
  ck_assert_int_eq(200, post("", &r));
  tl_server_stop_ok(&srv);
  unlink("/tmp/ssehub-test-sub.token");
}
END_TEST

/* A client that is not on loopback, in a network namespace of our own:
 * 192.0.2.1 (TEST-NET-1) added to its loopback interface. */
START_TEST(test_security_publish_loopback_only_by_default)
{
  static const char *const open_args[] = { "--publish-open", NULL };
  struct tl_response r;

  if (0 != unshare(CLONE_NEWNET)) {
    /* Needs root; CI runs as root and must run it. */
    ck_assert_msg(NULL == getenv("CI"), "unshare(CLONE_NEWNET): %s",
                  strerror(errno));
    fprintf(stderr, "check_security: not root, loopback-only test not run\n");
    return;
  }
  ck_assert_int_eq(0, system("ip link set lo up && "
                             "ip addr add 192.0.2.1/32 dev lo"));
  tl_server_start_ok(&srv, NULL);
  /* From 192.0.2.1: forbidden. From 127.0.0.1: allowed. */
  ck_assert_int_eq(403, post_from("192.0.2.1", "", &r));
  ck_assert(tl_server_log_contains(&srv, "loopback only"));
  ck_assert_int_eq(200, post("", &r));
  tl_server_stop_ok(&srv);

  tl_server_start_ok(&srv, open_args);
  ck_assert_int_eq(200, post_from("192.0.2.1", "", &r));
  ck_assert(tl_server_log_contains(&srv, "open to every address"));
  tl_server_stop_ok(&srv);
}
END_TEST

START_TEST(test_security_oversized_headers_and_url)
{
  static const char *const args[] = { "--connection-memory", "8K", NULL };
  struct tl_response r;
  char *req = malloc(20000);
  int n;

  tl_server_start_ok(&srv, args);
  n = snprintf(req, 20000, "GET /sse HTTP/1.1\r\nHost: x\r\nCookie: ");
  memset(req + n, 'c', 12000);
  n += 12000;
  n += snprintf(req + n, 20000 - (size_t) n, "\r\n\r\n");
  ck_assert_int_eq(431, tl_http(srv.port, req, (size_t) n, &r));
  n = snprintf(req, 20000, "GET /");
  memset(req + n, 'u', 12000);
  n += 12000;
  n += snprintf(req + n, 20000 - (size_t) n, " HTTP/1.1\r\nHost: x\r\n\r\n");
  ck_assert_int_eq(414, tl_http(srv.port, req, (size_t) n, &r));
  ck_assert_int_eq(2, tl_stat(srv.port, "headers_too_large"));
  /* A browser-sized request (3 KiB of cookies) still gets its stream. */
  n = snprintf(req, 20000,
               "HEAD /sse HTTP/1.1\r\nHost: x\r\n"
               "Connection: close\r\nCookie: ");
  memset(req + n, 'k', 3000);
  n += 3000;
  n += snprintf(req + n, 20000 - (size_t) n, "\r\n\r\n");
  ck_assert_int_eq(200, tl_http(srv.port, req, (size_t) n, &r));
  free(req);
  tl_server_stop_ok(&srv);
}
END_TEST

START_TEST(test_security_per_ip_limit_and_publish_rate)
{
  static const char *const args[] = { "--max-clients-per-ip", "2",
                                      "--publish-rate",       "5",
                                      "--heartbeat",          "0",
                                      "--when-full=429",      NULL };
  struct tl_sse a, b, c;
  struct tl_response r;
  char frame[128], v[32];
  int i, ok = 0, limited = 0;

  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(0, tl_sse_open(&a, srv.port, "/sse", NULL, "127.0.0.2"));
  ck_assert_int_eq(0, tl_sse_open(&b, srv.port, "/sse", NULL, "127.0.0.2"));
  ck_assert_int_ge(tl_sse_next(&a, frame, sizeof(frame), 3000), 0);
  ck_assert_int_ge(tl_sse_next(&b, frame, sizeof(frame), 3000), 0);
  ck_assert_int_eq(0, tl_sse_open(&c, srv.port, "/sse", NULL, "127.0.0.2"));
  while (0 == c.status && tl_sse_pump(&c, 2000) > 0)
    ;
  ck_assert_int_eq(429, c.status);
  tl_sse_close(&c);
  /* Another address is not affected. */
  ck_assert_int_eq(0, tl_sse_open(&c, srv.port, "/sse", NULL, "127.0.0.3"));
  ck_assert_int_ge(tl_sse_next(&c, frame, sizeof(frame), 3000), 0);
  ck_assert_int_eq(200, c.status);
  ck_assert_int_eq(1, tl_stat(srv.port, "rejected_per_ip"));
  /* Once one leaves, the address may open another. */
  tl_sse_close(&a);
  ck_assert_int_eq(2, tl_wait_stat(srv.port, "clients", 2, 3000));
  ck_assert_int_eq(0, tl_sse_open(&a, srv.port, "/sse", NULL, "127.0.0.2"));
  ck_assert_int_ge(tl_sse_next(&a, frame, sizeof(frame), 3000), 0);
  ck_assert_int_eq(200, a.status);

  /* 5 per second, burst 5: the first 5 pass, then 429 with Retry-After. */
  for (i = 0; i < 8; i++) {
    int st = post("", &r);

    if (200 == st)
      ok++;
    else if (429 == st) {
      limited++;
      ck_assert(tl_header(&r, "Retry-After", v, sizeof(v)));
      ck_assert_ptr_nonnull(strstr(r.body, "rate limit"));
    }
  }
  ck_assert_int_ge(ok, 5);
  ck_assert_int_le(ok, 6);
  ck_assert_int_eq(ok + limited, 8);
  ck_assert_int_eq(limited, tl_stat(srv.port, "rate_limited"));
  tl_sleep_ms(1100);
  ck_assert_int_eq(200, post("", &r));
  tl_sse_close(&a);
  tl_sse_close(&b);
  tl_sse_close(&c);
  tl_server_stop_ok(&srv);
}
END_TEST

/* Over --max-buffered the clients furthest behind are cut, not the ones
 * that keep up. */
START_TEST(test_security_max_buffered_cuts_the_slowest)
{
  static const char *const args[] = {
    "--max-buffered", "256K", "--client-buffer", "4M", "--heartbeat", "0", NULL
  };
  static const char req[] = "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n";
  enum { SLOW = 3, EVENTS = 400, SIZE = 16 * 1024 };
  struct tl_sse good;
  int slow[SLOW], i, rcv = 4096, next = 0, sent = 0;
  char *payload = malloc(SIZE), *frame = malloc(SIZE + 128);
  long long deadline;

  tl_server_start_ok(&srv, args);
  for (i = 0; i < SLOW; i++) {
    slow[i] = tl_connect(srv.port, "127.0.0.4");
    ck_assert_int_ge(slow[i], 0);
    setsockopt(slow[i], SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    ck_assert_int_eq((int) sizeof(req) - 1,
                     (int) send(slow[i], req, sizeof(req) - 1, 0));
  }
  ck_assert_int_eq(0, tl_sse_open(&good, srv.port, "/sse", NULL, NULL));
  ck_assert_int_ge(tl_sse_next(&good, frame, SIZE + 128, 3000), 0);
  ck_assert_int_eq(SLOW + 1, tl_wait_stat(srv.port, "clients", SLOW + 1, 3000));
  memset(payload, 'm', SIZE);
  deadline = tl_now_ms() + 30000 * tl_scale();
  while (next < EVENTS && tl_now_ms() < deadline) {
    if (sent < EVENTS && sent - next < 4) {
      ck_assert_int_eq(200, tl_publish(srv.port, payload, SIZE, NULL));
      sent++;
    }
    while (tl_sse_take(&good, frame, SIZE + 128) >= 0)
      next++;
    tl_sse_pump(&good, sent - next >= 4 ? 50 : 0);
  }
  ck_assert_int_eq(next, EVENTS);
  ck_assert_int_eq(SLOW, tl_wait_stat(srv.port, "memory_cuts", SLOW, 5000));
  ck_assert_int_eq(1, tl_wait_stat(srv.port, "clients", 1, 5000));
  ck_assert_int_lt(tl_stat(srv.port, "buffered_bytes"), 256 * 1024);
  for (i = 0; i < SLOW; i++)
    close(slow[i]);
  tl_sse_close(&good);
  free(payload);
  free(frame);
  tl_server_stop_ok(&srv);
}
END_TEST

/* Near the open-file limit: streams past the budget are refused at once
 * (429, "out of file descriptors", with --when-full=429) rather than left
 * waiting unanswered in the listen queue while accept() fails; existing
 * streams go on, and once descriptors free up new streams get in. */
START_TEST(test_security_fd_exhaustion_recovers)
{
  static const char *const args[] = {
    "--max-clients", "1000", "--threads",       "1", "--heartbeat", "0",
    "--tick",        "0.2",  "--when-full=429", NULL
  };
  enum { N = 150 };
  struct tl_sse s[N];
  char frame[256];
  long long deadline;
  int i, opened = 0, refused = 0, streaming = 0, later = 0;

  /* valgrind keeps descriptors of its own above the limit and does not
   * let the program lower it: this test runs in the other CI stages. */
  if (NULL != getenv("TL_SERVER_WRAPPER")) {
    fprintf(stderr, "fd-exhaustion: not run under a wrapper (valgrind)\n");
    return;
  }
  tl_server_nofile = 96;
  tl_server_start_ok(&srv, args);
  tl_server_nofile = 0;
  for (i = 0; i < N; i++)
    ck_assert_int_eq(0,
                     tl_sse_open(&s[i], srv.port, "/sse", NULL, "127.0.0.5"));
  /* Every one is answered, in time: admitted or refused. */
  deadline = tl_now_ms() + 10000 * tl_scale();
  for (i = 0; i < N; i++) {
    while (0 == s[i].status && tl_now_ms() < deadline)
      if (tl_sse_pump(&s[i], 100) < 0)
        break;
    if (200 == s[i].status)
      opened++;
    else if (429 == s[i].status && NULL != strstr(s[i].head, "Retry-After"))
      refused++;
  }
  fprintf(stderr, "fd-exhaustion: %d of %d opened, %d refused\n", opened, N,
          refused);
  ck_assert_msg(opened > 10 && opened < N, "%d of %d opened", opened, N);
  ck_assert_int_eq(opened + refused, N);
  ck_assert_int_eq(refused, tl_stat(srv.port, "rejected_fds"));
  /* The admitted streams keep receiving the ticks. */
  for (i = 0; i < N; i++)
    if (200 == s[i].status
        && tl_sse_next_event(&s[i], frame, sizeof(frame), 2000) >= 0)
      streaming++;
  ck_assert_int_eq(streaming, opened);
  /* Free descriptors: close them all; new streams get in. */
  for (i = 0; i < N; i++)
    tl_sse_close(&s[i]);
  ck_assert_int_eq(0, tl_wait_stat(srv.port, "clients", 0, 5000));
  for (i = 0; i < 20; i++) {
    ck_assert_int_eq(0,
                     tl_sse_open(&s[i], srv.port, "/sse", NULL, "127.0.0.6"));
    if (tl_sse_got_ok(&s[i], 3000))
      later++;
  }
  ck_assert_int_eq(later, 20);
  for (i = 0; i < 20; i++)
    tl_sse_close(&s[i]);
  tl_server_stop_ok(&srv);
}
END_TEST

static void make_cert(void)
{
  ck_assert_int_eq(0, system("openssl req -x509 -newkey rsa:2048 -nodes "
                             "-subj /CN=127.0.0.1 -days 2 "
                             "-keyout /tmp/ssehub-test.key "
                             "-out /tmp/ssehub-test.crt >/dev/null 2>&1"));
}

START_TEST(test_security_tls)
{
  static const char *const args[] = { "--tls-cert",  "/tmp/ssehub-test.crt",
                                      "--tls-key",   "/tmp/ssehub-test.key",
                                      "--heartbeat", "0",
                                      "--tick",      "0.2",
                                      NULL };
  char cmd[512], out[4096];
  FILE *p;
  size_t n;

  make_cert();
  tl_server_start_ok(&srv, args);
  snprintf(cmd, sizeof(cmd),
           "curl -sk -N --max-time 2 https://127.0.0.1:%u/sse",
           (unsigned) srv.port);
  p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  n = fread(out, 1, sizeof(out) - 1, p);
  pclose(p);
  out[n] = '\0';
  ck_assert_msg(0 == strncmp(out, ":ok\nretry: 3000\n\n", 17), "got '%s'", out);
  ck_assert_ptr_nonnull(strstr(out, "data: It is "));
  snprintf(cmd, sizeof(cmd),
           "curl -sk -o /dev/null -w '%%{http_code}' -d data=x "
           "https://127.0.0.1:%u/publish",
           (unsigned) srv.port);
  p = popen(cmd, "r");
  n = fread(out, 1, sizeof(out) - 1, p);
  pclose(p);
  out[n] = '\0';
  ck_assert_str_eq(out, "200");
  tl_server_stop_ok(&srv);
}
END_TEST

START_TEST(test_security_tls_bad_files_fail_at_start)
{
  /* --port 0: the default port may be taken by another program. */
  static const char *const garbage[] = { "--port",     "0",
                                         "--bind",     "127.0.0.1",
                                         "--tls-cert", "/tmp/ssehub-test.crt",
                                         "--tls-key",  "/tmp/ssehub-bad.key",
                                         NULL };
  static const char *const missing[] = { "--tls-cert", "/tmp/ssehub-test.crt",
                                         "--tls-key", "/nonexistent/key.pem",
                                         NULL };
  static const char *const half[] = { "--tls-cert", "/tmp/ssehub-test.crt",
                                      NULL };
  char out[2048];
  int st;

  make_cert();
  write_file("/tmp/ssehub-bad.key", "-----BEGIN PRIVATE KEY-----\nnope\n"
                                    "-----END PRIVATE KEY-----\n");
  st = tl_run(garbage, out, sizeof(out), 5000);
  ck_assert_msg(WIFEXITED(st) && 1 == WEXITSTATUS(st), "status %d: %s", st,
                out);
  ck_assert_ptr_nonnull(strstr(out, "TLS certificate or key rejected"));
  st = tl_run(missing, out, sizeof(out), 5000);
  ck_assert_msg(WIFEXITED(st) && 2 == WEXITSTATUS(st), "status %d: %s", st,
                out);
  ck_assert_ptr_nonnull(strstr(out, "--tls-key: cannot read"));
  st = tl_run(half, out, sizeof(out), 5000);
  ck_assert(WIFEXITED(st) && 2 == WEXITSTATUS(st));
  ck_assert_ptr_nonnull(strstr(out, "go together"));
  unlink("/tmp/ssehub-bad.key");
}
END_TEST

int main(void)
{
  Suite *s = suite_create("security");
  TCase *access = tcase_create("access");
  TCase *limits = tcase_create("limits");
  TCase *tls = tcase_create("tls");
  SRunner *sr;
  int failed;

  signal(SIGPIPE, SIG_IGN);
  tcase_set_timeout(access, 30);
  tcase_add_test(access, test_security_publish_token);
  tcase_add_test(access, test_security_subscribe_token);
  tcase_add_test(access, test_security_publish_loopback_only_by_default);
  suite_add_tcase(s, access);
  tcase_set_timeout(limits, 60);
  tcase_add_test(limits, test_security_oversized_headers_and_url);
  tcase_add_test(limits, test_security_per_ip_limit_and_publish_rate);
  tcase_add_test(limits, test_security_max_buffered_cuts_the_slowest);
  tcase_add_test(limits, test_security_fd_exhaustion_recovers);
  suite_add_tcase(s, limits);
  tcase_set_timeout(tls, 30);
  tcase_add_test(tls, test_security_tls);
  tcase_add_test(tls, test_security_tls_bad_files_fail_at_start);
  suite_add_tcase(s, tls);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
