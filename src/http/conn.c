/* conn.c - what the HTTP handlers share (see conn.h). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "addr.h"
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

/* Collect the forwarding headers, in order (MHD keeps repeated header
 * lines apart; together they are one list, RFC 9110 5.3). */
static enum MHD_Result collect_fwd(void *cls, enum MHD_ValueKind kind,
                                   const char *key, size_t key_size,
                                   const char *value, size_t value_size)
{
  struct sh_fwd_headers *h = cls;

  (void) kind;
  (void) key_size;
  if (NULL == value)
    return MHD_YES;
  if (0 == strcasecmp(key, "X-Forwarded-For")) {
    if (h->nxff == SH_FWD_MAX_FIELDS) {
      h->overflow = true;
      return MHD_NO;
    }
    h->xff[h->nxff] = value;
    h->xff_len[h->nxff++] = value_size;
  } else if (0 == strcasecmp(key, "Forwarded")) {
    if (h->nfwd == SH_FWD_MAX_FIELDS) {
      h->overflow = true;
      return MHD_NO;
    }
    h->fwd[h->nfwd] = value;
    h->fwd_len[h->nfwd++] = value_size;
  }
  return MHD_YES;
}

bool sh_http_client_key(struct ssehub *hub, struct MHD_Connection *conn,
                        struct sh_ipkey *k)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  struct sh_fwd_headers h;
  struct sh_ipkey peer;
  enum sh_addr_source src = SH_ADDR_PEER;

  if (NULL == ci || !sh_ipkey_of(ci->client_addr, &peer))
    return false;
  *k = peer;
  sh_mutex_lock(&hub->conf_lock);
  if (0 != hub->ntrusted && sh_cidr_match(hub->trusted, hub->ntrusted, &peer)) {
    /* MHD's own lock-free read of the request's headers; conf_lock is a
     * leaf, and the walk calls back nothing of ours but collect_fwd. */
    memset(&h, 0, sizeof(h));
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, &collect_fwd, &h);
    src = sh_addr_resolve(hub->trusted, hub->ntrusted, &peer, &h, k);
  }
  sh_mutex_unlock(&hub->conf_lock);
  /* A proxy that appends its peer never gets here (the right-most hop is
   * an address): this is a proxy set up to send unknown or obfuscated
   * names, or passing on what clients wrote. Limits then fall on it. */
  if (SH_ADDR_INVALID == src) {
    char addr[SH_ADDR_STRLEN];

    sh_log_limited(&hub->log, SSEHUB_LOG_WARNING,
                   "trusted proxy %s sent X-Forwarded-For/Forwarded without "
                   "a usable client address (unknown, obfuscated, malformed "
                   "or too long): the client is taken to be the proxy",
                   sh_ipkey_format(&peer, addr));
  }
  return true;
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
static _Thread_local const char *queued_end;

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
  queued_end = NULL;
}

void sh_http_access_mark(const char *why)
{
  queued_end = why;
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
  char addr[SH_ADDR_STRLEN] = "-";
  struct sh_ipkey k;

  if (NULL == hub->opt.access_log || 0 == queued_status)
    return;
  if (sh_http_client_key(hub, conn, &k))
    sh_ipkey_format(&k, addr);
  call_access(hub, addr, method, url, queued_status, queued_bytes, started_ms,
              queued_end);
  queued_status = 0;
  queued_end = NULL;
}

void sh_http_access_stream(struct ssehub *hub, const struct sh_ipkey *ip,
                           bool ip_known, long long started_ms, uint64_t bytes,
                           const char *end)
{
  char addr[SH_ADDR_STRLEN] = "-";

  if (NULL == hub->opt.access_log)
    return;
  if (ip_known)
    sh_ipkey_format(ip, addr);
  call_access(hub, addr, "GET", "/sse", MHD_HTTP_OK, bytes, started_ms, end);
}
