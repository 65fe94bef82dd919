/* check_metrics.c - GET /metrics, /healthz, /readyz and who may read them
 * (with /stats), against the real program: real traffic, a scrape parsed
 * by promtool (Debian's prometheus package; the test fails without it),
 * values checked against /stats, /readyz while stopping and with Redis
 * down (a real redis-server), the access rule with and without
 * --admin-bind, and the Grafana dashboard's metric names against a real
 * scrape (doc/grafana-dashboard.json, via python3).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define TOKEN "metrics-T0ken"
#define AUTH "Authorization: Bearer " TOKEN "\r\n"

static struct tl_server srv;
static char run_dir[64];

/* One request on a new connection: method path, extra headers, a body. */
static int request(uint16_t port, const char *method, const char *path,
                   const char *headers, const char *body, struct tl_response *r)
{
  size_t cap = strlen(body) + strlen(headers) + 512;
  char *req = malloc(cap);
  int n, code;

  ck_assert_ptr_nonnull(req);
  n = snprintf(req, cap,
               "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s"
               "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
               method, path, headers, strlen(body), body);
  ck_assert_int_lt(n, (int) cap);
  code = tl_http(port, req, (size_t) n, r);
  free(req);
  return code;
}

static int get(uint16_t port, const char *path, const char *headers,
               struct tl_response *r)
{
  char req[1024];
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n",
                   path, headers);

  return tl_http(port, req, (size_t) n, r);
}

/* The value of the sample whose name and labels are exactly sample, or
 * -1 when the scrape has no such line. */
static double sample(const char *body, const char *name)
{
  size_t n = strlen(name);
  const char *p = body;

  while (NULL != (p = strstr(p, name))) {
    if ((p == body || '\n' == p[-1]) && ' ' == p[n])
      return strtod(p + n + 1, NULL);
    p += n;
  }
  return -1;
}

/* Every number of /stats has its metric: a counter as ssehub_<name>_total
 * (TYPE counter), a gauge as ssehub_<name> (TYPE gauge), a _ms gauge as
 * ssehub_<name>_seconds. Returns how many were checked. */
static int stats_in_metrics(const char *stats, const char *metrics)
{
  const char *p = stats;
  int checked = 0;

  while (NULL != (p = strchr(p, '"'))) {
    char key[64], counter[160], gauge[160], seconds[160];
    const char *end = strchr(p + 1, '"');
    size_t n;

    ck_assert_ptr_nonnull(end);
    n = (size_t) (end - p - 1);
    p = end + 1;
    if (':' != p[0] || p[1] < '0' || p[1] > '9')
      continue; /* a string value, or a key of one */
    ck_assert_uint_lt(n, sizeof(key));
    memcpy(key, end - n, n);
    key[n] = '\0';
    snprintf(counter, sizeof(counter), "# TYPE ssehub_%s%s counter\n", key,
             n > 6 && 0 == strcmp(key + n - 6, "_total") ? "" : "_total");
    snprintf(gauge, sizeof(gauge), "# TYPE ssehub_%s gauge\n", key);
    snprintf(seconds, sizeof(seconds), "# TYPE ssehub_%.*s_seconds gauge\n",
             (int) n - 3, key);
    ck_assert_msg(NULL != strstr(metrics, counter)
                      || NULL != strstr(metrics, gauge)
                      || (n > 3 && 0 == strcmp(key + n - 3, "_ms")
                          && NULL != strstr(metrics, seconds)),
                  "/stats has %s, /metrics has no family for it", key);
    checked++;
  }
  return checked;
}

static void write_file(const char *path, const char *text, size_t len)
{
  FILE *f = fopen(path, "w");

  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(len, fwrite(text, 1, len, f));
  fclose(f);
}

/* Run a shell command, its output (stdout and stderr) into out. Returns
 * its exit status, or -1. */
static int run(const char *cmd, char *out, size_t cap)
{
  FILE *p = popen(cmd, "r");
  size_t n = 0, got;
  int st;

  if (NULL == p)
    return -1;
  while (n + 1 < cap && 0 < (got = fread(out + n, 1, cap - 1 - n, p)))
    n += got;
  out[n] = '\0';
  st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* promtool check metrics on a scrape: exit 0 and not one lint problem. */
static void promtool_ok(const struct tl_response *r)
{
  char path[128], cmd[256], out[4096];
  int rc;

  snprintf(path, sizeof(path), "%s/scrape.txt", run_dir);
  write_file(path, r->body, r->body_len);
  snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' 2>&1", path);
  rc = run(cmd, out, sizeof(out));
  ck_assert_msg(127 != rc, "promtool not found: install Debian's prometheus "
                           "package (scripts/deps.txt)");
  ck_assert_msg(0 == rc && '\0' == out[0], "promtool: exit %d: %s", rc, out);
}

/* Every metric name in the dashboard's queries is in the scrape. */
static void dashboard_ok(const struct tl_response *r)
{
  const char *srcdir = getenv("srcdir");
  char path[128], cmd[1024], out[4096];
  int rc;

  snprintf(path, sizeof(path), "%s/scrape.txt", run_dir);
  write_file(path, r->body, r->body_len);
  snprintf(cmd, sizeof(cmd),
           "python3 '%s/tests/check_dashboard.py' "
           "'%s/doc/grafana-dashboard.json' '%s' 2>&1",
           NULL != srcdir ? srcdir : ".", NULL != srcdir ? srcdir : ".", path);
  rc = run(cmd, out, sizeof(out));
  ck_assert_msg(0 == rc, "dashboard check: exit %d: %s", rc, out);
}

static void write_token(char *path, size_t cap)
{
  snprintf(path, cap, "%s/pub.token", run_dir);
  write_file(path, TOKEN "\n", strlen(TOKEN) + 1);
}

/* Real traffic on a server with a publish token: streams (one over the
 * limit: 429, one too slow: cut), publishes (one without the token: 401),
 * then a scrape while streams are open, checked by promtool and against
 * /stats. */
START_TEST(test_metrics_scrape_under_traffic)
{
  enum { EVENTS = 40, SIZE = 32 * 1024 };
  char token[128];
  const char *args[] = { "--publish-token-file", token, "--max-clients", "3",
                         "--client-buffer",      "64K", "--heartbeat",   "0.2",
                         "--when-full=429",      NULL };
  struct tl_sse a, b, over;
  struct tl_response r, st;
  char *payload = malloc(SIZE + 1), *frame = malloc(SIZE + 256), ct[128];
  int slow, rcv = 4096, i;
  static const char sreq[] = "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n";
  double v;

  write_token(token, sizeof(token));
  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(0, tl_sse_open(&a, srv.port, "/sse", NULL, NULL));
  ck_assert(tl_sse_got_ok(&a, 2000));
  ck_assert_int_eq(0, tl_sse_open(&b, srv.port, "/sse?topic=t", NULL, NULL));
  ck_assert(tl_sse_got_ok(&b, 2000));
  slow = tl_connect_slow(srv.port, NULL, rcv, 536);
  ck_assert_int_ge(slow, 0);
  ck_assert_int_eq(0, tl_send_all(slow, sreq, sizeof(sreq) - 1));
  ck_assert_int_eq(3, tl_wait_stat_with(srv.port, "clients", 3, 5000, AUTH));
  /* The fourth stream: 429. */
  ck_assert_int_eq(0, tl_sse_open(&over, srv.port, "/sse", NULL, NULL));
  ck_assert(!tl_sse_got_ok(&over, 2000));
  ck_assert_int_eq(429, over.status);
  tl_sse_close(&over);
  /* No token: 401, for publishing and for the metrics alike. */
  ck_assert_int_eq(401, request(srv.port, "POST", "/publish", "", "x", &r));
  ck_assert_int_eq(401, get(srv.port, "/metrics", "", &r));
  ck_assert_int_eq(401, get(srv.port, "/readyz", "", &r));
  ck_assert_int_eq(401, get(srv.port, "/stats", "", &r));

  /* Events big enough to cut the reader that does not read. */
  memset(payload, 'x', SIZE);
  payload[SIZE] = '\0';
  for (i = 0; i < EVENTS; i++) {
    ck_assert_int_eq(200,
                     request(srv.port, "POST", "/publish", AUTH, payload, &r));
    /* The two readers keep up, event by event; the slow one does not. */
    ck_assert_int_ge(tl_sse_next_event(&a, frame, SIZE + 256, 5000), 0);
    ck_assert_int_ge(tl_sse_next_event(&b, frame, SIZE + 256, 5000), 0);
  }
  ck_assert_int_eq(1, tl_wait_stat_with(srv.port, "slow_disconnects", 1, 5000,
                                        AUTH));
  ck_assert_int_eq(2, tl_wait_stat_with(srv.port, "clients", 2, 5000, AUTH));
  /* A heartbeat round or two (every 0.2 s). */
  tl_sleep_ms(500);

  ck_assert_int_eq(200, get(srv.port, "/metrics", AUTH, &r));
  ck_assert_int_eq(200, get(srv.port, "/stats", AUTH, &st));
  ck_assert(tl_header(&r, "Content-Type", ct, sizeof(ct)));
  ck_assert_str_eq(ct, "text/plain; version=0.0.4; charset=utf-8");
  ck_assert_msg(r.body_len < sizeof(r.body) - 1, "scrape too big for the test");
  promtool_ok(&r);
  dashboard_ok(&r);

  /* The same statistics as /stats, and the same numbers. */
  ck_assert_int_ge(stats_in_metrics(st.body, r.body), 35);
  ck_assert_double_eq(sample(r.body, "ssehub_published_total"), EVENTS);
  ck_assert_ptr_nonnull(strstr(st.body, "\"published\":40,"));
  ck_assert_double_eq(sample(r.body, "ssehub_clients"), 2);
  ck_assert_ptr_nonnull(strstr(st.body, "\"clients\":2,"));
  ck_assert_double_eq(sample(r.body, "ssehub_clients_total"), 3);
  ck_assert_double_eq(
      sample(r.body,
             "ssehub_refusals_total{reason=\"max_clients\",code=\"429\"}"),
      1);
  ck_assert_double_eq(sample(r.body, "ssehub_rejected_full_total"), 1);
  /* 401s: the publish, /metrics, /readyz, /stats. */
  ck_assert_double_eq(
      sample(r.body, "ssehub_refusals_total{reason=\"auth\",code=\"401_403\"}"),
      4);
  ck_assert_double_eq(sample(r.body,
                             "ssehub_stream_ends_total{reason=\"slow\"}"),
                      1);
  ck_assert_double_ge(sample(r.body, "ssehub_frames_queued_total"), EVENTS);
  ck_assert_double_ge(sample(r.body, "ssehub_bytes_sent_total"),
                      (double) EVENTS * SIZE);
  ck_assert_double_ge(sample(r.body, "ssehub_heartbeats_total"), 1);
  ck_assert_double_eq(sample(r.body, "ssehub_history_events"), EVENTS);
  ck_assert_double_eq(sample(r.body, "ssehub_queue_depth"), 0);
  ck_assert_double_ge(sample(r.body, "ssehub_buffered_bytes"), 0);
  /* Histograms: one sample per event, one per fan-out round. */
  ck_assert_double_eq(sample(r.body, "ssehub_publish_to_write_seconds_count"),
                      EVENTS);
  ck_assert_double_eq(
      sample(r.body, "ssehub_publish_to_write_seconds_bucket{le=\"+Inf\"}"),
      EVENTS);
  v = sample(r.body, "ssehub_fanout_duration_seconds_count");
  ck_assert_double_ge(v, 1);
  ck_assert_double_le(v, EVENTS);
  ck_assert_double_gt(sample(r.body, "ssehub_publish_to_write_seconds_sum"), 0);
  /* The process, as Prometheus' client libraries name it. */
  ck_assert_double_gt(sample(r.body, "process_open_fds"), 5);
  ck_assert_double_gt(sample(r.body, "process_resident_memory_bytes"),
                      1024 * 1024);
  ck_assert_ptr_nonnull(strstr(r.body, "ssehub_build_info{version=\""));
  ck_assert_ptr_nonnull(strstr(r.body, "engine=\"memory\"} 1\n"));
  ck_assert_ptr_nonnull(strstr(r.body, "libmicrohttpd=\"0."));

  /* HEAD: the headers, no body. */
  {
    static const char head[] = "HEAD /metrics HTTP/1.1\r\nHost: x\r\n" AUTH
                               "Connection: close\r\n\r\n";

    ck_assert_int_eq(200, tl_http(srv.port, head, sizeof(head) - 1, &r));
    ck_assert_uint_eq(0, r.body_len);
  }
  ck_assert_int_eq(200, get(srv.port, "/healthz", AUTH, &r));
  ck_assert_str_eq(r.body, "ok\n");
  ck_assert_int_eq(200, get(srv.port, "/readyz", AUTH, &r));
  ck_assert_int_eq(405, request(srv.port, "POST", "/metrics", AUTH, "", &r));

  close(slow);
  tl_sse_close(&a);
  tl_sse_close(&b);
  free(payload);
  free(frame);
  tl_server_stop_ok(&srv);
}
END_TEST

/* --admin-bind: the four endpoints there, open even with a token set;
 * 404 for them on the main port; the admin port never serves a stream or
 * a publish. /readyz says 503 while the hub stops, /healthz stays 200. */
START_TEST(test_metrics_admin_bind_and_stopping)
{
  enum { EVENTS = 40, SIZE = 60 * 1024 };
  char token[128], admin[32];
  uint16_t aport = tl_free_port();
  const char *args[] = { "--publish-token-file",
                         token,
                         "--admin-bind",
                         admin,
                         "--client-buffer",
                         "16M",
                         NULL };
  static const char *const urls[] = { "/metrics", "/stats", "/healthz",
                                      "/readyz" };
  static const char sreq[] = "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n";
  struct tl_response r;
  char *payload = malloc(SIZE + 1);
  bool saw_503 = false;
  long long deadline;
  int stuck, i, st;

  ck_assert_uint_ne(0, aport);
  snprintf(admin, sizeof(admin), "127.0.0.1:%u", (unsigned) aport);
  write_token(token, sizeof(token));
  tl_server_start_ok(&srv, args);
  ck_assert(tl_server_log_contains(&srv, "admin endpoints on"));
  for (i = 0; i < 4; i++) {
    ck_assert_int_eq(200, get(aport, urls[i], "", &r));
    ck_assert_int_eq(404, get(srv.port, urls[i], AUTH, &r));
    ck_assert_ptr_nonnull(strstr(r.body, "--admin-bind"));
  }
  ck_assert_int_eq(200, get(aport, "/readyz", "", &r));
  ck_assert_str_eq(r.body, "ready\n");
  ck_assert_int_eq(404, get(aport, "/sse", "", &r));
  ck_assert_int_eq(404, request(aport, "POST", "/publish", AUTH, "x", &r));
  ck_assert_int_eq(404, get(aport, "/", "", &r));
  ck_assert_int_eq(0, (int) tl_stat_with(aport, "clients", ""));
  ck_assert_int_eq(200, get(aport, "/metrics", "", &r));
  promtool_ok(&r);

  /* A stream that reads nothing holds the stop for its grace (about half
   * a second): /readyz must say so meanwhile. */
  stuck = tl_connect_slow(srv.port, NULL, 4096, 536);
  ck_assert_int_ge(stuck, 0);
  ck_assert_int_eq(0, tl_send_all(stuck, sreq, sizeof(sreq) - 1));
  ck_assert_int_eq(1, tl_wait_stat_with(aport, "clients", 1, 5000, ""));
  memset(payload, 'y', SIZE);
  payload[SIZE] = '\0';
  for (i = 0; i < EVENTS; i++)
    ck_assert_int_eq(200,
                     request(srv.port, "POST", "/publish", AUTH, payload, &r));
  ck_assert_int_eq(EVENTS,
                   tl_wait_stat_with(aport, "published", EVENTS, 5000, ""));
  ck_assert_int_gt(tl_stat_with(aport, "buffered_bytes", ""), 0);

  kill(srv.pid, SIGTERM);
  deadline = tl_now_ms() + 2000 * tl_scale();
  while (!saw_503 && tl_now_ms() < deadline) {
    int code = get(aport, "/readyz", "", &r);

    if (503 == code) {
      saw_503 = true;
      ck_assert_str_eq(r.body, "stopping\n");
      ck_assert_int_eq(200, get(aport, "/healthz", "", &r));
    } else if (code < 0) {
      break; /* the admin daemon is gone: too late */
    }
  }
  ck_assert_msg(saw_503, "/readyz never answered 503 while stopping");
  st = tl_server_stop(&srv, SIGTERM, 5000, NULL);
  ck_assert(st >= 0 && WIFEXITED(st) && 0 == WEXITSTATUS(st));
  /* Gone with the hub: nothing listens on the admin port any more. */
  ck_assert_int_lt(get(aport, "/healthz", "", &r), 0);
  close(stuck);
  free(payload);
}
END_TEST

/* The admin listener answers while the process holds more than 1,024
 * descriptors (a scrape of a busy server): it once polled with select(),
 * which cannot watch a descriptor above FD_SETSIZE, and closed every scrape
 * unanswered (an empty reply) once 1,100 streams were open. */
START_TEST(test_metrics_admin_bind_with_many_streams)
{
  enum { STREAMS = 1100 };
  static const char sreq[] = "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n";
  char admin[32];
  uint16_t aport = tl_free_port();
  const char *args[] = { "--admin-bind", admin, NULL };
  struct tl_response r;
  int fds[STREAMS], i;

  tl_raise_nofile();
  ck_assert_uint_ne(0, aport);
  snprintf(admin, sizeof(admin), "127.0.0.1:%u", (unsigned) aport);
  tl_server_start_ok(&srv, args);
  for (i = 0; i < STREAMS; i++) {
    fds[i] = tl_connect(srv.port, NULL);
    ck_assert_int_ge(fds[i], 0);
    ck_assert_int_eq(0, tl_send_all(fds[i], sreq, sizeof(sreq) - 1));
  }
  ck_assert_int_eq(STREAMS,
                   tl_wait_stat_with(aport, "clients", STREAMS, 10000, ""));
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(200, get(aport, "/metrics", "", &r));
    promtool_ok(&r);
    ck_assert_int_eq(200, get(aport, "/readyz", "", &r));
  }
  for (i = 0; i < STREAMS; i++)
    close(fds[i]);
  tl_server_stop_ok(&srv);
}
END_TEST

/* The default rule is the publish rule: loopback only without a token,
 * everyone with --publish-open. Needs a network namespace (root), as
 * check_security's loopback test does. */
START_TEST(test_metrics_loopback_only_by_default)
{
  static const char *const open_args[] = { "--publish-open", NULL };
  static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                            "Connection: close\r\n\r\n";
  struct tl_response r;

  if (0 != unshare(CLONE_NEWNET)) {
    ck_assert_msg(NULL == getenv("CI"), "unshare(CLONE_NEWNET): %s",
                  strerror(errno));
    fprintf(stderr, "check_metrics: not root, loopback-only test not run\n");
    return;
  }
  ck_assert_int_eq(0, system("ip link set lo up && "
                             "ip addr add 192.0.2.1/32 dev lo"));
  tl_server_start_ok(&srv, NULL);
  ck_assert_int_eq(403, tl_http_from(srv.port, "192.0.2.1", req,
                                     sizeof(req) - 1, &r, 5000));
  ck_assert_ptr_nonnull(strstr(r.body, "loopback only"));
  ck_assert_int_eq(200, get(srv.port, "/metrics", "", &r));
  tl_server_stop_ok(&srv);

  tl_server_start_ok(&srv, open_args);
  ck_assert_int_eq(200, tl_http_from(srv.port, "192.0.2.1", req,
                                     sizeof(req) - 1, &r, 5000));
  tl_server_stop_ok(&srv);
}
END_TEST

/* With Redis: ready while the link is up, 503 once Redis is gone. */
START_TEST(test_metrics_readyz_redis_down)
{
  struct tl_redis rds;
  char url[64];
  const char *args[] = { "--redis", url, NULL };
  struct tl_response r;
  long long deadline;
  int code = 0;

  ck_assert_msg(0 == tl_redis_start(&rds, 0, NULL),
                "redis-server did not start");
  tl_redis_url(&rds, url, sizeof(url));
  tl_server_start_ok(&srv, args);
  ck_assert(tl_wait_stat_str(srv.port, "redis_link", "up", 5000 * tl_scale()));
  ck_assert_int_eq(200, get(srv.port, "/readyz", "", &r));
  ck_assert_int_eq(200, get(srv.port, "/metrics", "", &r));
  ck_assert_double_eq(sample(r.body, "ssehub_redis_link_up"), 1);
  ck_assert_ptr_nonnull(strstr(r.body, "engine=\"redis\"} 1\n"));
  promtool_ok(&r);

  tl_redis_kill(&rds);
  deadline = tl_now_ms() + 5000 * tl_scale();
  while (tl_now_ms() < deadline
         && 503 != (code = get(srv.port, "/readyz", "", &r)))
    tl_sleep_ms(50);
  ck_assert_int_eq(503, code);
  ck_assert_str_eq(r.body, "the link to Redis is down\n");
  ck_assert_int_eq(200, get(srv.port, "/healthz", "", &r));
  ck_assert_int_eq(200, get(srv.port, "/metrics", "", &r));
  ck_assert_double_eq(sample(r.body, "ssehub_redis_link_up"), 0);

  ck_assert_int_eq(0, tl_redis_restart(&rds));
  deadline = tl_now_ms() + 10000 * tl_scale();
  while (tl_now_ms() < deadline
         && 200 != (code = get(srv.port, "/readyz", "", &r)))
    tl_sleep_ms(50);
  ck_assert_int_eq(200, code);
  tl_server_stop_ok(&srv);
  tl_redis_cleanup(&rds);
}
END_TEST

START_TEST(test_metrics_admin_bind_bad_or_busy_exits)
{
  static const char *const bad[] = { "--admin-bind", "localhost:9100", NULL };
  char out[4096], busy[32];
  const char *taken[] = { "--admin-bind", busy, "--port", "0", NULL };
  int rc;

  rc = tl_run(bad, out, sizeof(out), 5000);
  ck_assert(rc >= 0 && WIFEXITED(rc));
  ck_assert_int_eq(2, WEXITSTATUS(rc));
  ck_assert_ptr_nonnull(strstr(out, "--admin-bind"));
  /* A port in use: the start fails, nothing half-running. */
  {
    struct tl_server holder;

    tl_server_start_ok(&holder, NULL);
    snprintf(busy, sizeof(busy), "127.0.0.1:%u", (unsigned) holder.port);
    rc = tl_run(taken, out, sizeof(out), 5000);
    ck_assert(rc >= 0 && WIFEXITED(rc));
    ck_assert_int_ne(0, WEXITSTATUS(rc));
    ck_assert_ptr_nonnull(strstr(out, "admin-bind"));
    tl_server_stop_ok(&holder);
  }
}
END_TEST

int main(void)
{
  Suite *s = suite_create("metrics");
  TCase *tc = tcase_create("metrics");
  SRunner *sr;
  int failed;

  snprintf(run_dir, sizeof(run_dir), "/tmp/ssehub-metrics-XXXXXX");
  if (NULL == mkdtemp(run_dir)) {
    perror("check_metrics: mkdtemp");
    return EXIT_FAILURE;
  }
  setenv("TMPDIR", run_dir, 1);
  signal(SIGPIPE, SIG_IGN);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_metrics_scrape_under_traffic);
  tcase_add_test(tc, test_metrics_admin_bind_and_stopping);
  tcase_add_test(tc, test_metrics_admin_bind_with_many_streams);
  tcase_add_test(tc, test_metrics_loopback_only_by_default);
  tcase_add_test(tc, test_metrics_readyz_redis_down);
  tcase_add_test(tc, test_metrics_admin_bind_bad_or_busy_exits);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  tl_rmtree(run_dir);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
