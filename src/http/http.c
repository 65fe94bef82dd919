/* http.c - the HTTP adapter's front: routing, the small endpoints (/stats,
 * OPTIONS, the demo page), the connection callbacks, and the hub's own
 * daemon (ssehub_listen). The handlers are in http_sse.c, http_publish.c
 * and http_auth.c; what they share in conn.c.
 *
 * libmicrohttpd 0.9.75 rules this layer obeys (microhttpd.h; what ssehub
 * does where the library falls short is listed in doc/internals.md):
 *   - internal epoll thread or thread pool with MHD_ALLOW_SUSPEND_RESUME;
 *   - suspend only from the content reader, and only in a call returning 0;
 *     resume from any thread, only a connection known to be suspended;
 *   - every stream's state is released in the response's free callback,
 *     the one hook that runs however the stream ends;
 *   - MHD_OPTION_CONNECTION_LIMIT is set above max_clients (default 1020
 *     would park excess clients in the listen queue instead of a 429),
 *     and refusals carry "Connection: close" so they free their slot;
 *   - every stream is resumed before MHD_stop_daemon() (else MHD panics).
 *
 * Threads: handlers and callbacks run on MHD worker threads;
 * ssehub_listen() and the daemon's stop on the control thread.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "demo_page.h"
#include "http_admin.h"
#include "http_publish.h"
#include "http_sse.h"
#include "hub.h"
#include "sync.h"

#define LISTEN_BACKLOG 4096

/* *con_cls of a stream or admin request between its first and second
 * call. */
static char sse_pending;

static enum MHD_Result not_allowed(struct ssehub *hub,
                                   struct MHD_Connection *conn,
                                   const char *allow)
{
  char body[96];

  snprintf(body, sizeof(body), "method not allowed; use %s\n", allow);
  return sh_http_reply(hub, conn, MHD_HTTP_METHOD_NOT_ALLOWED, true, body,
                       MHD_HTTP_HEADER_ALLOW, allow, NULL);
}

/* OPTIONS: a CORS preflight when the request has an Origin, else a plain
 * answer listing the methods. */
static enum MHD_Result options(struct ssehub *hub, struct MHD_Connection *conn,
                               const char *allow)
{
  struct MHD_Response *resp;
  enum MHD_Result ret;
  const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   "Origin");

  if (NULL != origin && NULL == sh_http_allowed_origin(hub, conn))
    return sh_http_reply(hub, conn, MHD_HTTP_FORBIDDEN, false,
                         "origin not allowed (see --cors-origin)\n", NULL);
  resp = MHD_create_response_from_buffer(0, (void *) "",
                                         MHD_RESPMEM_PERSISTENT);
  if (NULL == resp)
    return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
  if (NULL != origin) {
    sh_http_cors(hub, conn, resp);
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow);
    MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                            "Last-Event-ID, Content-Type, Authorization, "
                            "Cache-Control");
    MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
  }
  ret = sh_http_queue(conn, MHD_HTTP_NO_CONTENT, resp, 0);
  MHD_destroy_response(resp);
  return ret;
}

static enum MHD_Result demo_page(struct ssehub *hub,
                                 struct MHD_Connection *conn)
{
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      strlen(sh_demo_page), (void *) sh_demo_page, MHD_RESPMEM_PERSISTENT);
  enum MHD_Result ret;

  (void) hub;
  if (NULL == resp)
    return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          "text/html; charset=utf-8");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  ret = sh_http_queue(conn, MHD_HTTP_OK, resp, strlen(sh_demo_page));
  MHD_destroy_response(resp);
  return ret;
}

static enum MHD_Result count_length(void *cls, enum MHD_ValueKind kind,
                                    const char *key, const char *value)
{
  const char **first = cls;

  (void) kind;
  if (0 != strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
    return MHD_YES;
  if (NULL == *first) {
    *first = value;
    return MHD_YES;
  }
  if (0 != strcmp(*first, value)) {
    *first = ""; /* two different lengths */
    return MHD_NO;
  }
  return MHD_YES;
}

/* RFC 9112 6.1 and 6.3: both framings, several different lengths, or a
 * coding other than chunked make the request's end ambiguous (request
 * smuggling) or unreadable. */
static bool ambiguous_framing(struct MHD_Connection *conn)
{
  const char *te = MHD_lookup_connection_value(
      conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
  const char *cl = NULL;

  MHD_get_connection_values(conn, MHD_HEADER_KIND, &count_length, &cl);
  if (NULL != cl && '\0' == cl[0])
    return true;
  return NULL != te && (0 != strcasecmp(te, "chunked") || NULL != cl);
}

static bool is(const char *a, const char *b)
{
  return 0 == strcmp(a, b);
}

static enum MHD_Result route(void *cls, struct MHD_Connection *conn,
                             const char *url, const char *method,
                             const char *version, const char *upload_data,
                             size_t *upload_data_size, void **con_cls)
{
  struct ssehub *hub = cls;
  bool get = is(method, MHD_HTTP_METHOD_GET)
             || is(method, MHD_HTTP_METHOD_HEAD);
  bool opts = is(method, MHD_HTTP_METHOD_OPTIONS);

  if (NULL == *con_cls) {
    /* First call for this request: its headers are complete. Refuse
     * and close rather than guess where an ambiguous body ends. A publish
     * stays under the request deadline until its body is in too. */
    if (!is(url, "/publish"))
      sh_http_request_complete(hub, conn);
    if (ambiguous_framing(conn)) {
      sh_count(&hub->n.bad_requests, 1);
      return sh_http_reply(
          hub, conn, MHD_HTTP_BAD_REQUEST, true,
          "ambiguous request framing (Content-Length/Transfer-Encoding)\n",
          NULL);
    }
  }

  if (is(url, "/sse")) {
    if (opts)
      return options(hub, conn, "GET, HEAD, OPTIONS");
    if (!get)
      return not_allowed(hub, conn, "GET, HEAD, OPTIONS");
    /* Answer on the second call: MHD 0.9.75 closes the connection after
     * any response queued in the first one, which would turn a stream's
     * keep-alive into "Connection: close". */
    if (NULL == *con_cls) {
      *con_cls = &sse_pending;
      return MHD_YES;
    }
    *con_cls = NULL;
    return sh_sse_open(hub, conn, is(method, MHD_HTTP_METHOD_HEAD), version);
  }
  if (is(url, "/publish")) {
    if (opts)
      return options(hub, conn, "POST, OPTIONS");
    if (!is(method, MHD_HTTP_METHOD_POST))
      return not_allowed(hub, conn, "POST, OPTIONS");
    return sh_publish_handle(hub, conn, upload_data, upload_data_size, con_cls);
  }
  /* /metrics, /stats, /healthz, /readyz: one access rule (http_admin.h). */
  if (sh_admin_url(url)) {
    if (opts && NULL == hub->opt.admin_bind)
      return options(hub, conn, "GET, HEAD, OPTIONS");
    /* After the request is in, as for /sse: a scraper keeps its
     * connection. A body (none expected) is read and dropped. */
    if (NULL == *con_cls || 0 != *upload_data_size) {
      *con_cls = &sse_pending;
      *upload_data_size = 0;
      return MHD_YES;
    }
    *con_cls = NULL;
    return sh_admin_serve(hub, conn, url, method);
  }
  if (is(url, "/") && hub->opt.demo_page)
    return get ? demo_page(hub, conn) : not_allowed(hub, conn, "GET, HEAD");
  return sh_http_reply(hub, conn, MHD_HTTP_NOT_FOUND, false,
                       "not found; the stream is at /sse, publish with "
                       "POST /publish\n",
                       NULL);
}

/* The router, and the access log's view of each call (conn.h): a call
 * that queued an answer other than a stream's reports it. */
enum MHD_Result ssehub_mhd_handler(void *cls, struct MHD_Connection *conn,
                                   const char *url, const char *method,
                                   const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
  struct ssehub *hub = cls;
  long long started;
  enum MHD_Result ret;

  if (NULL == hub->opt.access_log)
    return route(cls, conn, url, method, version, upload_data, upload_data_size,
                 con_cls);
  /* A publish's state remembers its first call; any other request is
   * answered in the call that completes it. */
  started = NULL != *con_cls && &sse_pending != *con_cls
                ? sh_publish_started_ms(*con_cls)
                : sh_now_ms();
  sh_http_access_begin();
  ret = route(cls, conn, url, method, version, upload_data, upload_data_size,
              con_cls);
  sh_http_access_end(hub, conn, method, url, started);
  return ret;
}

void ssehub_mhd_completed(void *cls, struct MHD_Connection *conn,
                          void **con_cls, enum MHD_RequestTerminationCode toe)
{
  struct ssehub *hub = cls;

  /* Answered and kept alive: the next request gets its own deadline. */
  if (MHD_REQUEST_TERMINATED_COMPLETED_OK == toe)
    sh_http_request_answered(hub, conn);
  /* Only publish requests keep state of their own in *con_cls. */
  if (NULL != *con_cls && &sse_pending != *con_cls) {
    sh_publish_free(*con_cls);
    *con_cls = NULL;
  }
}

void ssehub_mhd_connection(void *cls, struct MHD_Connection *conn,
                           void **socket_context,
                           enum MHD_ConnectionNotificationCode code)
{
  struct ssehub *hub = cls;

  if (MHD_CONNECTION_NOTIFY_STARTED == code) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

    /* No entry (no deadline, no memory) only loses the deadline. */
    if (NULL != ci)
      *socket_context = sh_deadline_add(&hub->deadlines, ci->connect_fd,
                                        sh_now_ms());
  } else { /* MHD_CONNECTION_NOTIFY_CLOSED, before the socket is closed */
    sh_deadline_free(&hub->deadlines, *socket_context);
    *socket_context = NULL;
  }
}

/* MHD's own messages (one per failed send at worst) go through the rate
 * limiter so that thousands of vanishing clients cannot flood the log. */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
  struct ssehub *hub = cls;
  enum ssehub_log_level level = SSEHUB_LOG_INFO;
  char line[512];

  vsnprintf(line, sizeof(line), fmt, ap);
  /* MHD answers requests whose headers or URL do not fit the connection's
   * memory itself (431, 414); this message is where we learn of them. */
  if (NULL != strstr(line, "HTTP response code is 431")
      || NULL != strstr(line, "HTTP response code is 414"))
    sh_count(&hub->n.headers_too_large, 1);
  /* A failed send is how a vanished client is noticed, and an
   * "application error" is our reader ending a stream whose peer hung up
   * or fell too far behind (counted in /stats): routine, so debug. */
  if (NULL != strstr(line, "Failed to send")
      || NULL != strstr(line, "application error"))
    level = SSEHUB_LOG_DEBUG;
  sh_log_limited(&hub->log, level, "%s", line);
}

/* Bind and listen ourselves rather than let MHD do it, so that a port in
 * use is reported as EADDRINUSE instead of a bare start failure, and so
 * that port 0 can be resolved with getsockname(). */
static int open_listener(struct ssehub *hub, int *fd_out, bool *ipv6)
{
  struct addrinfo hints, *res = NULL;
  char port[8];
  int fd = -1, one = 1, rc;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  snprintf(port, sizeof(port), "%u", (unsigned) hub->opt.port);
  rc = getaddrinfo(hub->opt.bind_address, port, &hints, &res);
  if (0 != rc) {
    sh_log(&hub->log, SSEHUB_LOG_ERROR, "cannot resolve bind address %s: %s",
           hub->opt.bind_address, gai_strerror(rc));
    return -EADDRNOTAVAIL;
  }
  fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    rc = -errno;
    goto fail;
  }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  /* Several processes on one port (a cluster on one machine): the kernel
   * spreads new connections over their listen sockets. The listen socket
   * is ours, so this is what MHD's MHD_OPTION_LISTENING_ADDRESS_REUSE
   * would have set. */
  if (hub->opt.reuse_port
      && 0 != setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) {
    rc = -errno;
    goto fail;
  }
  if (0 != bind(fd, res->ai_addr, res->ai_addrlen)
      || 0 != listen(fd, LISTEN_BACKLOG)
      || 0 != getsockname(fd, (struct sockaddr *) &ss, &sl)) {
    rc = -errno;
    goto fail;
  }
  *ipv6 = AF_INET6 == ss.ss_family;
  hub->port = ntohs(*ipv6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                          : ((struct sockaddr_in *) &ss)->sin_port);
  freeaddrinfo(res);
  *fd_out = fd;
  return 0;
fail:
  if (fd >= 0)
    close(fd);
  freeaddrinfo(res);
  return rc;
}

/* ssehub_stop() calls this once every stream has ended (state.h). */
static void stop_daemon(struct ssehub *hub)
{
  if (NULL != hub->daemon) {
    MHD_stop_daemon(hub->daemon); /* also closes the listen socket */
    hub->daemon = NULL;
  }
  /* Last: /readyz answered 503 ("stopping") on it until now. */
  sh_admin_stop(hub);
}

int ssehub_listen(struct ssehub *hub)
{
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME
                   | MHD_USE_ERROR_LOG;
  unsigned pool = hub->opt.threads;
  bool ipv6 = false;
  int fd = -1, rc;

  if (NULL != hub->daemon)
    return -EALREADY;
  if (atomic_load(&hub->stopping))
    return -ESHUTDOWN;
  rc = open_listener(hub, &fd, &ipv6);
  if (0 != rc)
    return rc;
  /* The admin daemon (--admin-bind) first, so that a bad or busy admin
   * address fails the start before any stream is served. */
  rc = sh_admin_listen(hub);
  if (0 != rc) {
    close(fd);
    hub->port = 0;
    return rc;
  }
  if (ipv6)
    flags |= MHD_USE_IPv6;
  if (NULL != hub->opt.tls_cert_pem)
    flags |= MHD_USE_TLS;
  {
    /* libmicrohttpd 0.9.75 warns for any pool size below 2, 0 included
     * ("Warning: Zero size, specified for thread pool size, is ignored",
     * daemon.c, parse_options_va) and runs one internal thread: for one
     * thread the option is left out, which means that thread, silently. */
    struct MHD_OptionItem opts[16];
    unsigned n = 0;

#define OPT(o, v, p) opts[n++] = (struct MHD_OptionItem){ (o), (v), (p) }
    OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t) &mhd_logger, hub);
    OPT(MHD_OPTION_LISTEN_SOCKET, fd, NULL);
    if (pool > 1)
      OPT(MHD_OPTION_THREAD_POOL_SIZE, pool, NULL);
    OPT(MHD_OPTION_CONNECTION_LIMIT,
        (intptr_t) (hub->opt.max_clients + SH_CONN_HEADROOM), NULL);
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (intptr_t) hub->opt.connection_memory, NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t) hub->opt.connection_timeout_s,
        NULL);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t) &ssehub_mhd_completed, hub);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t) &ssehub_mhd_connection, hub);
    if (NULL != hub->opt.tls_cert_pem) {
      OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, (void *) hub->opt.tls_cert_pem);
      OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, (void *) hub->opt.tls_key_pem);
    }
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    hub->daemon = MHD_start_daemon(flags, 0, NULL, NULL, &ssehub_mhd_handler,
                                   hub, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
  }
  if (NULL == hub->daemon) {
    sh_admin_stop(hub);
    close(fd);
    hub->port = 0;
    /* MHD logged the reason (a rejected certificate or key, say). */
    return NULL != hub->opt.tls_cert_pem ? -EPROTO : -EIO;
  }
  hub->stop_daemon = stop_daemon;
  return 0;
}

uint16_t ssehub_port(const struct ssehub *hub)
{
  return NULL != hub->daemon ? hub->port : 0;
}
