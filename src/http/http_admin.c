/* http_admin.c - /metrics, /stats, /healthz, /readyz and the admin daemon
 * (see http_admin.h for the access rule).
 *
 * /metrics is the Prometheus text exposition format 0.0.4, generated from
 * the SSEHUB_STATS table (counters.h: sh_stat_info[]) so that a line added
 * there shows up here and in /stats with nothing else to write:
 *   COUNTER name  ->  ssehub_<name>_total   (a name already ending in
 *                                            _total is not doubled)
 *   GAUGE name    ->  ssehub_<name>         (name_ms -> name_seconds,
 *                                            Prometheus' base unit)
 * then families built from those counters with a fixed label set
 * (refusals and stream ends by reason), the two latency histograms
 * (histogram.h), the process metrics from /proc/self, and build info.
 * No label is per client or per topic, so the output's size is fixed.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "hostport.h"
#include "http_admin.h"
#include "http_auth.h"
#include "json.h"
#include "streamid.h"
#include "sync.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Connections the admin daemon serves at once: scrapers and probes. */
#define ADMIN_CONN_LIMIT 64
#define ADMIN_TIMEOUT_S 10

/* ---- a growing text buffer: an answer is whole or not sent ---------- */

struct out {
  char *p;
  size_t len, cap;
  bool failed; /* out of memory: the answer is dropped, never cut */
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
  va_list ap;
  int w;

  if (o->failed)
    return;
  for (;;) {
    va_start(ap, fmt);
    w = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (w < 0) {
      o->failed = true;
      return;
    }
    if ((size_t) w < o->cap - o->len) {
      o->len += (size_t) w;
      return;
    }
    {
      size_t cap = 2 * o->cap + (size_t) w + 1;
      char *p = realloc(o->p, cap);

      if (NULL == p) {
        o->failed = true;
        return;
      }
      o->p = p;
      o->cap = cap;
    }
  }
}

static bool out_init(struct out *o, size_t cap)
{
  o->p = malloc(cap);
  o->len = 0;
  o->cap = cap;
  o->failed = NULL == o->p;
  return !o->failed;
}

/* Hand the text to MHD (which frees it), or answer 500 without it. */
static enum MHD_Result send_out(struct ssehub *hub, struct MHD_Connection *conn,
                                struct out *o, const char *type)
{
  struct MHD_Response *resp;
  enum MHD_Result ret;

  if (o->failed) {
    free(o->p);
    return sh_http_reply(hub, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, true,
                         "out of memory\n", NULL);
  }
  resp = MHD_create_response_from_buffer(o->len, o->p, MHD_RESPMEM_MUST_FREE);
  if (NULL == resp) {
    free(o->p);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  sh_http_cors(hub, conn, resp);
  ret = sh_http_queue(conn, MHD_HTTP_OK, resp, o->len);
  MHD_destroy_response(resp);
  return ret;
}

/* ---- GET /stats -------------------------------------------------------- */

/* The engine, and with Redis the link and the newest id read, which are
 * not numbers and so not in the table. */
static void engine_stats(struct ssehub *hub, struct sh_json *j)
{
  struct sh_redis_status rs;
  char id[SH_STREAMID_MAX] = "";

  sh_json_key(j, "engine");
  if (NULL == hub->redis) {
    sh_json_string(j, "memory");
    return;
  }
  sh_json_string(j, "redis");
  sh_redis_status(hub->redis, &rs);
  if (0 != rs.last_seq)
    sh_streamid_format(rs.last_seq, id, sizeof(id));
  sh_json_key(j, "redis_link");
  sh_json_string(j, rs.up ? "up" : "down");
  sh_json_key(j, "redis_last_id");
  sh_json_string(j, id);
}

/* Every line of the SSEHUB_STATS table as a JSON number, and the engine's
 * state. */
static enum MHD_Result stats(struct ssehub *hub, struct MHD_Connection *conn)
{
  /* A name and a 20-digit number per line, and the engine's strings. */
  size_t cap = sh_nstats * 96 + 256;
  struct ssehub_stats st;
  struct sh_json j;
  struct out o;
  size_t i;

  if (!out_init(&o, cap))
    return send_out(hub, conn, &o, NULL);
  ssehub_get_stats(hub, &st);
  sh_json_init(&j, o.p, o.cap);
  sh_json_begin_object(&j);
  for (i = 0; i < sh_nstats; i++) {
    sh_json_key(&j, sh_stat_info[i].name);
    sh_json_uint(&j, sh_stat_value(&st, i));
  }
  engine_stats(hub, &j);
  sh_json_end_object(&j);
  o.len = sh_json_finish(&j, true);
  o.failed = 0 == o.len; /* a name longer than planned: 500, never cut */
  return send_out(hub, conn, &o, "application/json");
}

/* ---- GET /metrics ------------------------------------------------------ */

/* HELP text with backslash and line feed escaped (format 0.0.4). */
static void put_help(struct out *o, const char *name, const char *help)
{
  put(o, "# HELP %s ", name);
  for (; '\0' != *help; help++) {
    if ('\\' == *help)
      put(o, "\\\\");
    else if ('\n' == *help)
      put(o, "\\n");
    else
      put(o, "%c", *help);
  }
  put(o, "\n");
}

static bool ends_with(const char *s, const char *suffix)
{
  size_t n = strlen(s), m = strlen(suffix);

  return n >= m && 0 == strcmp(s + n - m, suffix);
}

/* One table line as a metric family of one sample. */
static void put_stat(struct out *o, const struct sh_stat_info *si, uint64_t v)
{
  char name[128];
  size_t n = strlen(si->name);

  if (si->counter) {
    if (ends_with(si->name, "_total"))
      n -= strlen("_total");
    snprintf(name, sizeof(name), "ssehub_%.*s_total", (int) n, si->name);
    put_help(o, name, si->help);
    put(o, "# TYPE %s counter\n%s %llu\n", name, name, (unsigned long long) v);
  } else if (ends_with(si->name, "_ms")) {
    n -= strlen("_ms");
    snprintf(name, sizeof(name), "ssehub_%.*s_seconds", (int) n, si->name);
    put_help(o, name, si->help);
    put(o, "# TYPE %s gauge\n%s %llu.%03llu\n", name, name,
        (unsigned long long) (v / 1000), (unsigned long long) (v % 1000));
  } else {
    snprintf(name, sizeof(name), "ssehub_%s", si->name);
    put_help(o, name, si->help);
    put(o, "# TYPE %s gauge\n%s %llu\n", name, name, (unsigned long long) v);
  }
}

/* A label value of a fixed set, and the counter it is read from. */
struct labelled {
  const char *labels; /* already formatted: reason="...",code="..." */
  uint64_t value;
};

static void put_family(struct out *o, const char *name, const char *help,
                       const struct labelled *l, size_t n)
{
  size_t i;

  put_help(o, name, help);
  put(o, "# TYPE %s counter\n", name);
  for (i = 0; i < n; i++)
    put(o, "%s{%s} %llu\n", name, l[i].labels, (unsigned long long) l[i].value);
}

/* Requests refused, by why (and the status they got); from the table's
 * counters, so /stats and this agree. */
static void put_refusals(struct out *o, const struct ssehub_stats *st)
{
  const struct labelled l[] = {
    { "reason=\"max_clients\",code=\"429\"", st->rejected_full },
    { "reason=\"per_ip\",code=\"429\"", st->rejected_per_ip },
    { "reason=\"publish_rate\",code=\"429\"", st->rate_limited },
    { "reason=\"auth\",code=\"401_403\"", st->unauthorized },
    { "reason=\"bad_request\",code=\"400\"", st->bad_requests },
    { "reason=\"too_large\",code=\"413\"", st->too_large },
    { "reason=\"headers_too_large\",code=\"431_414\"", st->headers_too_large },
    { "reason=\"queue_full\",code=\"503\"", st->publish_refused },
    { "reason=\"redis\",code=\"503\"", st->publish_link_refused },
    { "reason=\"stopping\",code=\"503\"", st->refused_stopping },
    /* when_full retry: a stream refused for a limit is answered 200 with
     * ssehub-overload; still a refusal, told apart by its code. */
    { "reason=\"max_clients\",code=\"200\"", st->overload_full },
    { "reason=\"per_ip\",code=\"200\"", st->overload_per_ip },
    { "reason=\"open_files\",code=\"429\"", st->rejected_fds },
    { "reason=\"open_files\",code=\"200\"", st->overload_fds },
  };

  put_family(o, "ssehub_refusals_total",
             "requests refused, by reason (the counters of the same "
             "meaning, as one family)",
             l, sizeof(l) / sizeof(l[0]));
}

static void put_ends(struct out *o, const struct ssehub_stats *st)
{
  const struct labelled l[] = {
    { "reason=\"hangup\"", st->hangups },
    { "reason=\"slow\"", st->slow_disconnects },
    { "reason=\"memory\"", st->memory_cuts },
    { "reason=\"shutdown\"", st->shutdown_ends },
  };

  put_family(o, "ssehub_stream_ends_total",
             "streams ended, by reason: the peer hung up, cut as slow (over "
             "client_buffer), cut for memory (over max_buffered), or the hub "
             "stopped",
             l, sizeof(l) / sizeof(l[0]));
}

static void put_hist(struct out *o, const char *name, const char *help,
                     struct sh_hist *h)
{
  struct sh_hist_snap s;
  unsigned i;

  sh_hist_read(h, &s);
  put_help(o, name, help);
  put(o, "# TYPE %s histogram\n", name);
  for (i = 0; i < SH_HIST_NBOUNDS; i++) {
    uint64_t b = sh_hist_bounds_ns[i];

    /* ns as seconds, exactly, without floating point: 50000 -> 0.00005 */
    char le[32];
    int w = snprintf(le, sizeof(le), "%llu.%09llu",
                     (unsigned long long) (b / 1000000000u),
                     (unsigned long long) (b % 1000000000u));

    while (w > 2 && '0' == le[w - 1] && '.' != le[w - 2])
      le[--w] = '\0';
    put(o, "%s_bucket{le=\"%s\"} %llu\n", name, le,
        (unsigned long long) s.le[i]);
  }
  put(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long) s.count);
  put(o, "%s_sum %llu.%09llu\n%s_count %llu\n", name,
      (unsigned long long) (s.sum_ns / 1000000000u),
      (unsigned long long) (s.sum_ns % 1000000000u), name,
      (unsigned long long) s.count);
}

/* Resident set size from /proc/self/statm (pages), 0 if unknown. */
static uint64_t rss_bytes(void)
{
  unsigned long long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "re");
  long page = sysconf(_SC_PAGESIZE);

  if (NULL == f)
    return 0;
  if (2 != fscanf(f, "%llu %llu", &size, &resident))
    resident = 0;
  fclose(f);
  return page > 0 ? resident * (uint64_t) page : 0;
}

/* The process metrics every Prometheus client library exports, under
 * their standard names. */
static void put_process(struct out *o, const struct ssehub_stats *st)
{
  struct rlimit rl;

  put(o,
      "# HELP process_open_fds Number of open file descriptors.\n"
      "# TYPE process_open_fds gauge\nprocess_open_fds %llu\n",
      (unsigned long long) st->fds);
  if (0 == getrlimit(RLIMIT_NOFILE, &rl) && RLIM_INFINITY != rl.rlim_cur)
    put(o,
        "# HELP process_max_fds Maximum number of open file descriptors.\n"
        "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
        (unsigned long long) rl.rlim_cur);
  put(o,
      "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
      "# TYPE process_resident_memory_bytes gauge\n"
      "process_resident_memory_bytes %llu\n",
      (unsigned long long) rss_bytes());
}

static enum MHD_Result metrics(struct ssehub *hub, struct MHD_Connection *conn)
{
  struct ssehub_stats st;
  struct out o;
  size_t i;

  if (!out_init(&o, 16384))
    return send_out(hub, conn, &o, NULL);
  ssehub_get_stats(hub, &st);
  for (i = 0; i < sh_nstats; i++)
    put_stat(&o, &sh_stat_info[i], sh_stat_value(&st, i));
  put_refusals(&o, &st);
  put_ends(&o, &st);
  put_hist(&o, "ssehub_publish_to_write_seconds",
           "per event: from the publish being accepted (queued) to the "
           "broadcaster having handed it to every subscriber, into its "
           "ring or written to its socket; with Redis, from this node "
           "reading the entry",
           &hub->lat_publish);
  put_hist(&o, "ssehub_fanout_duration_seconds",
           "per fan-out round: the broadcaster's time to record one batch "
           "of events (up to 64) in the history and hand it to every "
           "subscriber; heartbeats not included",
           &hub->lat_fanout);
  put_process(&o, &st);
  put(&o,
      "# HELP ssehub_build_info ssehub's version, libmicrohttpd's and the "
      "engine; always 1\n# TYPE ssehub_build_info gauge\n"
      "ssehub_build_info{version=\"%s\",libmicrohttpd=\"%s\","
      "engine=\"%s\"} 1\n",
      ssehub_version_string(), MHD_get_version(),
      NULL != hub->redis ? "redis" : "memory");
  return send_out(hub, conn, &o, METRICS_CONTENT_TYPE);
}

/* ---- health ------------------------------------------------------------ */

static enum MHD_Result text(struct ssehub *hub, struct MHD_Connection *conn,
                            unsigned status, const char *body)
{
  return sh_http_reply(hub, conn, status, false, body,
                       MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache", NULL);
}

/* Ready: streams and publishes are accepted. Not while stopping, and not
 * while the link to Redis is down (publishes would fail, streams would
 * get nothing). */
static enum MHD_Result readyz(struct ssehub *hub, struct MHD_Connection *conn)
{
  if (atomic_load(&hub->stopping))
    return text(hub, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n");
  if (NULL != hub->redis) {
    struct sh_redis_status rs;

    sh_redis_status(hub->redis, &rs);
    if (!rs.up)
      return text(hub, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                  "the link to Redis is down\n");
  }
  return text(hub, conn, MHD_HTTP_OK, "ready\n");
}

/* ---- routing ----------------------------------------------------------- */

bool sh_admin_url(const char *url)
{
  return 0 == strcmp(url, "/metrics") || 0 == strcmp(url, "/stats")
         || 0 == strcmp(url, "/healthz") || 0 == strcmp(url, "/readyz");
}

/* An admin url, on whichever daemon may serve it. */
static enum MHD_Result serve(struct ssehub *hub, struct MHD_Connection *conn,
                             const char *url, const char *method)
{
  if (0 != strcmp(method, MHD_HTTP_METHOD_GET)
      && 0 != strcmp(method, MHD_HTTP_METHOD_HEAD))
    return sh_http_reply(hub, conn, MHD_HTTP_METHOD_NOT_ALLOWED, true,
                         "method not allowed; use GET, HEAD\n",
                         MHD_HTTP_HEADER_ALLOW, "GET, HEAD", NULL);
  if (0 == strcmp(url, "/metrics"))
    return metrics(hub, conn);
  if (0 == strcmp(url, "/stats"))
    return stats(hub, conn);
  if (0 == strcmp(url, "/healthz"))
    return text(hub, conn, MHD_HTTP_OK, "ok\n");
  return readyz(hub, conn);
}

enum MHD_Result sh_admin_serve(struct ssehub *hub, struct MHD_Connection *conn,
                               const char *url, const char *method)
{
  enum sh_auth why;

  if (NULL != hub->opt.admin_bind)
    return sh_http_reply(hub, conn, MHD_HTTP_NOT_FOUND, false,
                         "not found; served on the --admin-bind listener\n",
                         NULL);
  /* Signed tokens open topics, not the admin URLs: g NULL. */
  why = sh_auth_publish(hub, conn, NULL);
  if (SH_AUTH_FORBIDDEN == why) {
    sh_count(&hub->n.unauthorized, 1);
    return sh_http_reply(hub, conn, MHD_HTTP_FORBIDDEN, true,
                         "allowed from loopback only, as publishing is; "
                         "use the publish token, --publish-open or "
                         "--admin-bind\n",
                         NULL);
  }
  if (SH_AUTH_OK != why)
    return sh_auth_refuse(hub, conn, why, NULL);
  return serve(hub, conn, url, method);
}

/* ---- the admin daemon -------------------------------------------------- */

static enum MHD_Result admin_handler(void *cls, struct MHD_Connection *conn,
                                     const char *url, const char *method,
                                     const char *version,
                                     const char *upload_data,
                                     size_t *upload_data_size, void **con_cls)
{
  static char pending; /* *con_cls between the first and second call */
  struct ssehub *hub = cls;
  long long started = sh_now_ms();
  enum MHD_Result ret;

  (void) version;
  (void) upload_data;
  /* Answer once the request is in (a body, none expected, is dropped):
   * MHD 0.9.75 closes the connection after a response queued in the first
   * call, and scrapers keep theirs open. */
  if (NULL == *con_cls || 0 != *upload_data_size) {
    *con_cls = &pending;
    *upload_data_size = 0;
    return MHD_YES;
  }
  *con_cls = NULL;
  sh_http_access_begin(); /* the access log (conn.h) */
  if (sh_admin_url(url))
    ret = serve(hub, conn, url, method);
  else
    ret = sh_http_reply(hub, conn, MHD_HTTP_NOT_FOUND, false,
                        "not found; this listener serves /metrics, /stats, "
                        "/healthz and /readyz only\n",
                        NULL);
  sh_http_access_end(hub, conn, method, url, started);
  return ret;
}

static void admin_logger(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void admin_logger(void *cls, const char *fmt, va_list ap)
{
  struct ssehub *hub = cls;
  char line[512];

  vsnprintf(line, sizeof(line), fmt, ap);
  sh_log_limited(&hub->log, SSEHUB_LOG_DEBUG, "admin: %s", line);
}

/* Bind the admin address ourselves, as http.c does for the main one, so
 * that a port in use is reported as such. */
static int admin_socket(struct ssehub *hub, int *fd_out, bool *ipv6)
{
  char host[SH_HOST_MAX];
  uint16_t port;
  struct sockaddr_storage ss;
  socklen_t sl;
  int fd, one = 1, rc;

  if (0 != sh_hostport_parse(hub->opt.admin_bind, host, &port))
    return -EINVAL;
  memset(&ss, 0, sizeof(ss));
  if (1 == inet_pton(AF_INET, host, &((struct sockaddr_in *) &ss)->sin_addr)) {
    ((struct sockaddr_in *) &ss)->sin_family = AF_INET;
    ((struct sockaddr_in *) &ss)->sin_port = htons(port);
    sl = sizeof(struct sockaddr_in);
  } else if (1
             == inet_pton(AF_INET6, host,
                          &((struct sockaddr_in6 *) &ss)->sin6_addr)) {
    ((struct sockaddr_in6 *) &ss)->sin6_family = AF_INET6;
    ((struct sockaddr_in6 *) &ss)->sin6_port = htons(port);
    sl = sizeof(struct sockaddr_in6);
  } else {
    return -EINVAL;
  }
  *ipv6 = AF_INET6 == ss.ss_family;
  fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (0 != bind(fd, (struct sockaddr *) &ss, sl) || 0 != listen(fd, 64)) {
    rc = -errno;
    close(fd);
    return rc;
  }
  *fd_out = fd;
  return 0;
}

int sh_admin_listen(struct ssehub *hub)
{
  /* epoll, as the main daemon: the process holds a descriptor per stream,
   * so a scrape's socket is often above FD_SETSIZE, which select() (MHD's
   * default) cannot watch; MHD would close it unanswered. */
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
  bool ipv6 = false;
  int fd = -1, rc;

  if (NULL == hub->opt.admin_bind)
    return 0;
  rc = admin_socket(hub, &fd, &ipv6);
  if (0 != rc) {
    sh_log(&hub->log, SSEHUB_LOG_ERROR, "cannot listen on --admin-bind %s: %s",
           hub->opt.admin_bind, strerror(-rc));
    return rc;
  }
  if (ipv6)
    flags |= MHD_USE_IPv6;
  /* One thread, plain HTTP, a small connection limit and a short timeout:
   * it serves scrapes and probes, never a stream, so it never suspends a
   * connection and can stop at any time. */
  hub->admin_daemon = MHD_start_daemon(flags, 0, NULL, NULL, &admin_handler,
                                       hub, MHD_OPTION_EXTERNAL_LOGGER,
                                       &admin_logger, hub,
                                       MHD_OPTION_LISTEN_SOCKET, fd,
                                       MHD_OPTION_CONNECTION_LIMIT,
                                       (unsigned) ADMIN_CONN_LIMIT,
                                       MHD_OPTION_CONNECTION_TIMEOUT,
                                       (unsigned) ADMIN_TIMEOUT_S,
                                       MHD_OPTION_END);
  if (NULL == hub->admin_daemon) {
    close(fd);
    return -EIO;
  }
  return 0;
}

void sh_admin_stop(struct ssehub *hub)
{
  if (NULL == hub->admin_daemon)
    return;
  MHD_stop_daemon(hub->admin_daemon); /* also closes the listen socket */
  hub->admin_daemon = NULL;
}
