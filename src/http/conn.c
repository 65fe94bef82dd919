/* conn.c - what the HTTP handlers share (see conn.h). */
#include "config.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

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
  ret = MHD_queue_response(conn, status, resp);
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
