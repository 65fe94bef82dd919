/* conn.c - what the HTTP handlers share (see conn.h). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "conn.h"
#include "sync.h"

/* The allowed origin matching the request's Origin, or NULL: "*" or the
 * request's own Origin string (equal to the configured one), never a
 * pointer into the configured list, which a reload may free once
 * conf_lock is released. */
const char *sh_http_allowed_origin(struct ssehub *hub,
                                   struct MHD_Connection *conn)
{
  const char *origin, *found = NULL;
  unsigned i;

  origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
  if (NULL == origin)
    return NULL;
  sh_mutex_lock(&hub->conf_lock);
  for (i = 0; i < hub->opt.ncors_origins && NULL == found; i++) {
    const char *o = hub->opt.cors_origins[i];

    if (0 == strcmp(o, "*"))
      found = "*";
    else if (0 == strcmp(o, origin))
      found = origin;
  }
  sh_mutex_unlock(&hub->conf_lock);
  return found;
}

void sh_http_cors(struct ssehub *hub, struct MHD_Connection *conn,
                  struct MHD_Response *resp)
{
  const char *o = sh_http_allowed_origin(hub, conn);

  if (NULL == o)
    return;
  if (0 == strcmp(o, "*")) {
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    return;
  }
  /* A named origin may send credentials (EventSource withCredentials);
   * the answer differs by Origin, which caches must know. */
  MHD_add_response_header(resp, "Access-Control-Allow-Origin", o);
  MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
  MHD_add_response_header(resp, "Vary", "Origin");
}

enum MHD_Result sh_http_reply(struct ssehub *hub, struct MHD_Connection *conn,
                              unsigned status, bool close, const char *body,
                              ...)
{
  struct MHD_Response *resp;
  enum MHD_Result ret;
  const char *name;
  bool typed = false;
  va_list ap;

  resp = MHD_create_response_from_buffer(strlen(body), (void *) body,
                                         MHD_RESPMEM_MUST_COPY);
  if (NULL == resp)
    return MHD_NO;
  if (close)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  va_start(ap, body);
  while (NULL != (name = va_arg(ap, const char *))) {
    const char *value = va_arg(ap, const char *);

    typed |= 0 == strcasecmp(name, MHD_HTTP_HEADER_CONTENT_TYPE);
    MHD_add_response_header(resp, name, value);
  }
  va_end(ap);
  if (!typed)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; charset=utf-8");
  sh_http_cors(hub, conn, resp);
  ret = sh_http_queue(conn, status, resp, strlen(body));
  MHD_destroy_response(resp);
  return ret;
}

bool sh_http_client_key(struct MHD_Connection *conn, struct sh_ipkey *k)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

  return NULL != ci && sh_ipkey_of(ci->client_addr, k);
}

/* The deadline entry ssehub_mhd_connection() gave conn, or NULL. */
static struct sh_deadline *deadline_of(struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

  return NULL != ci ? ci->socket_context : NULL;
}

void sh_http_request_complete(struct ssehub *hub, struct MHD_Connection *conn)
{
  struct sh_deadline *e = deadline_of(conn);

  if (NULL != e)
    sh_deadline_stop(&hub->deadlines, e);
}

void sh_http_request_answered(struct ssehub *hub, struct MHD_Connection *conn)
{
  struct sh_deadline *e = deadline_of(conn);

  if (NULL != e)
    sh_deadline_restart(&hub->deadlines, e, sh_now_ms());
}

/* What this thread's current handler call queued (conn.h). */
static _Thread_local unsigned queued_status;
static _Thread_local uint64_t queued_bytes;

enum MHD_Result sh_http_queue(struct MHD_Connection *conn, unsigned status,
                              struct MHD_Response *resp, size_t body_len)
{
  enum MHD_Result ret = MHD_queue_response(conn, status, resp);

  if (MHD_YES == ret) {
    queued_status = status;
    queued_bytes = body_len;
  }
  return ret;
}

void sh_http_access_begin(void)
{
  queued_status = 0;
}

static void call_access(struct ssehub *hub, const char *client,
                        const char *method, const char *path, unsigned status,
                        uint64_t bytes, long long started_ms, const char *end)
{
  long long now = sh_now_ms();
  struct ssehub_access a = {
    .client = client,
    .method = method,
    .path = path,
    .status = status,
    .bytes = bytes,
    .duration_ms = now > started_ms ? (uint64_t) (now - started_ms) : 0,
    .end = end,
  };

  hub->opt.access_log(hub->opt.access_log_cls, &a);
}

void sh_http_access_end(struct ssehub *hub, struct MHD_Connection *conn,
                        const char *method, const char *url,
                        long long started_ms)
{
  const union MHD_ConnectionInfo *ci;
  char addr[INET6_ADDRSTRLEN] = "-";

  if (NULL == hub->opt.access_log || 0 == queued_status)
    return;
  ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (NULL != ci && NULL != ci->client_addr) {
    const struct sockaddr *sa = ci->client_addr;

    if (AF_INET == sa->sa_family)
      inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, addr,
                sizeof(addr));
    else if (AF_INET6 == sa->sa_family)
      inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, addr,
                sizeof(addr));
  }
  call_access(hub, addr, method, url, queued_status, queued_bytes, started_ms,
              NULL);
  queued_status = 0;
}

void sh_http_access_stream(struct ssehub *hub, const struct sh_ipkey *ip,
                           bool ip_known, long long started_ms, uint64_t bytes,
                           const char *end)
{
  static const uint8_t mapped[12] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
  };
  char addr[INET6_ADDRSTRLEN] = "-";

  if (NULL == hub->opt.access_log)
    return;
  if (ip_known && 0 == memcmp(ip->b, mapped, sizeof(mapped)))
    inet_ntop(AF_INET, ip->b + 12, addr, sizeof(addr));
  else if (ip_known)
    inet_ntop(AF_INET6, ip->b, addr, sizeof(addr));
  call_access(hub, addr, "GET", "/sse", MHD_HTTP_OK, bytes, started_ms, end);
}
