/* http_publish.c - POST /publish: read, validate and publish one event.
 *
 * Bodies: application/x-www-form-urlencoded with the field "data" (and an
 * optional "event"), or text/plain where the whole body is the data (and
 * "event" may come from the query string). Every refusal is a status with
 * a one-line reason; an accepted publish is answered only once the event
 * is in the publish queue, so a 200 means every connected client will get
 * it (or be cut off for being too slow, which it can detect).
 *
 * The body is buffered (bounded: a request over the limit is answered 413
 * without storing the excess) because the data must be complete before
 * the event can be formatted once for all clients.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "form.h"
#include "http.h"
#include "hub.h"
#include "sse_fmt.h"

#define MAX_FORM_FIELDS 16

struct pubreq {
  char *body;      /* len bytes plus a spare byte for form.h */
  size_t len;
  size_t cap;
  size_t limit;    /* most body bytes accepted */
  bool form;       /* urlencoded (else text/plain) */
  bool too_big;
};

void sh_publish_free(void *p)
{
  struct pubreq *req = p;

  free(req->body);
  free(req);
}

/* Content-Type "type/subtype; params" matches when the type/subtype part
 * equals want, ignoring case. */
static bool media_type_is(const char *ct, const char *want)
{
  size_t n = strlen(want);

  return 0 == strncasecmp(ct, want, n)
         && ('\0' == ct[n] || ';' == ct[n] || ' ' == ct[n]);
}

static enum MHD_Result too_large(struct ssehub *hub,
                                 struct MHD_Connection *conn)
{
  char body[96];

  snprintf(body, sizeof(body), "event too large (limit %zu bytes of data)\n",
           hub->opt.max_event_size);
  return sh_http_reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, true, body, NULL);
}

static enum MHD_Result bad_request(struct MHD_Connection *conn,
                                   const char *reason)
{
  return sh_http_reply(conn, MHD_HTTP_BAD_REQUEST, false, reason, NULL);
}

/* First call: check the headers and set up the body buffer. */
static enum MHD_Result begin(struct ssehub *hub, struct MHD_Connection *conn,
                             void **con_cls)
{
  const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_TYPE);
  const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  struct pubreq *req;
  bool form;

  if (NULL == ct)
    ct = "";
  form = media_type_is(ct, "application/x-www-form-urlencoded");
  if (!form && !media_type_is(ct, "text/plain"))
    return sh_http_reply(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, true,
                         "unsupported Content-Type; use "
                         "application/x-www-form-urlencoded or text/plain\n",
                         NULL);
  req = calloc(1, sizeof(*req));
  if (NULL == req)
    return MHD_NO;
  req->form = form;
  /* Percent-encoding can triple the data; leave room for other fields. */
  req->limit = form ? hub->opt.max_event_size * 3 + 4096
                    : hub->opt.max_event_size;
  if (NULL != cl && strtoull(cl, NULL, 10) > req->limit) {
    free(req);
    return too_large(hub, conn);
  }
  *con_cls = req;
  return MHD_YES;
}

static int append(struct pubreq *req, const char *data, size_t size)
{
  if (req->too_big || size > req->limit - req->len) {
    req->too_big = true;
    return 0;
  }
  if (req->len + size + 1 > req->cap) {
    size_t cap = req->cap > 0 ? req->cap : 1024;
    char *body;

    while (cap < req->len + size + 1)
      cap *= 2;
    body = realloc(req->body, cap);
    if (NULL == body)
      return -ENOMEM;
    req->body = body;
    req->cap = cap;
  }
  memcpy(req->body + req->len, data, size);
  req->len += size;
  return 0;
}

/* Fill ev from a urlencoded body. Returns NULL or a reason for a 400. */
static const char *from_form(struct pubreq *req, struct ssehub_event *ev)
{
  struct sh_form_field f[MAX_FORM_FIELDS];
  bool have_data = false;
  int n, i;

  n = sh_form_parse(req->body, req->len, f, MAX_FORM_FIELDS);
  if (-EINVAL == n)
    return "malformed form body: invalid percent-encoding\n";
  if (n < 0)
    return "too many form fields\n";
  for (i = 0; i < n; i++) {
    if (0 == strcmp(f[i].key, "data")) {
      if (have_data)
        return "field data given more than once\n";
      have_data = true;
      ev->data = f[i].val;
      ev->data_len = f[i].val_len;
    } else if (0 == strcmp(f[i].key, "event")) {
      if (!sh_fmt_field_ok(f[i].val, f[i].val_len))
        return "field event must not contain CR, LF or NUL\n";
      ev->event = f[i].val;
    } else {
      return "unknown form field; accepted: data, event\n";
    }
  }
  if (!have_data)
    return "missing field: data\n";
  return NULL;
}

static enum MHD_Result finish(struct ssehub *hub, struct MHD_Connection *conn,
                              struct pubreq *req)
{
  struct ssehub_event ev = { .retry = -1 };
  const char *reason;
  char body[96], retry[16];
  uint64_t seq;
  int rc;

  if (req->too_big)
    return too_large(hub, conn);
  if (NULL == req->body && 0 != append(req, "", 0))
    return MHD_NO;
  req->body[req->len] = '\0';
  if (req->form) {
    reason = from_form(req, &ev);
    if (NULL != reason)
      return bad_request(conn, reason);
  } else {
    ev.data = req->body;
    ev.data_len = req->len;
    ev.event = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                           "event");
  }
  rc = ssehub_publish(hub, &ev, &seq);
  switch (rc) {
  case 0:
    snprintf(body, sizeof(body), "{\"seq\":%llu,\"clients\":%zu}\n",
             (unsigned long long) seq, ssehub_client_count(hub));
    return sh_http_reply(conn, MHD_HTTP_OK, false, body,
                         MHD_HTTP_HEADER_CONTENT_TYPE, "application/json",
                         NULL);
  case -EMSGSIZE:
    return too_large(hub, conn);
  case -EINVAL:
    return bad_request(conn, "field event must not contain CR, LF or NUL\n");
  case -EAGAIN:
  case -ESHUTDOWN:
    snprintf(retry, sizeof(retry), "%u", hub->opt.retry_after_s);
    return sh_http_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, false,
                         -EAGAIN == rc ? "publish queue full; retry later\n"
                                       : "server is shutting down\n",
                         MHD_HTTP_HEADER_RETRY_AFTER, retry, NULL);
  default:
    return sh_http_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, true,
                         "out of memory\n", NULL);
  }
}

enum MHD_Result sh_publish_handle(struct ssehub *hub,
                                  struct MHD_Connection *conn,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
  struct pubreq *req = *con_cls;

  if (NULL == req)
    return begin(hub, conn, con_cls);
  if (*upload_data_size > 0) {
    if (0 != append(req, upload_data, *upload_data_size))
      return MHD_NO;
    *upload_data_size = 0;
    return MHD_YES;
  }
  return finish(hub, conn, req);
}
