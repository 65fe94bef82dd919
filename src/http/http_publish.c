/* http_publish.c - POST /publish: read, validate and publish one event.
 *
 * Bodies: application/x-www-form-urlencoded with the fields data, event,
 * id, retry and topic (repeatable), or text/plain where the whole body is
 * the data and the other fields come from the query string
 * (doc/protocol.md). Every refusal is a status with
 * a one-line reason; an accepted publish is answered only once the event
 * is in the publish queue, so a 200 means every connected client will get
 * it (or be cut off for being too slow, which it can detect).
 *
 * The body is buffered (bounded: a request over the limit is answered 413
 * without storing the excess) because the data must be complete before
 * the event can be formatted once for all clients.
 *
 * Queue full: the request is held, not refused. It parks on the publish
 * queue (pubqueue.h) and its connection is suspended; a pop of the
 * broadcaster that frees a place for it resumes it, and MHD calls the
 * handler again, which publishes the already-parsed event. Only when
 * publish_wait_ms passes with the queue still full is the answer 503.
 * So a publisher faster than the fan-out is paced, one answer per event,
 * instead of refused, and the queue can stay short enough to bound
 * delivery latency (measured in README: the publish queue's trade-off).
 * A held request costs its connection and this struct, nothing per
 * subscriber.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "http_auth.h"
#include "http_publish.h"
#include "hub.h"
#include "json.h"
#include "pubfields.h"
#include "pubqueue.h"
#include "sse_fmt.h"
#include "sync.h"

/* One publish request. Touched by the MHD worker that owns the connection;
 * while parked, `waiter` is also on the queue's list (guarded by its lock)
 * and the broadcaster reads conn to resume it. */
struct pubreq {
  char *body; /* len bytes plus a spare byte for form.h */
  size_t len;
  size_t cap;
  size_t limit; /* most body bytes accepted */
  bool form;    /* urlencoded (else text/plain) */
  bool too_big;
  bool parsed; /* f holds the validated event (points into body) */
  bool held;   /* has parked at least once (counted once) */
  struct sh_pubfields f;
  struct sh_grant grant;       /* the topics the credentials allow */
  long long wait_until;        /* monotonic ms: hold no longer */
  long long started_ms;        /* monotonic ms: the first call */
  struct MHD_Connection *conn; /* for the waiter's callbacks */
  struct sh_pubwaiter waiter;
  /* The Redis engine: the request waits, suspended, for Redis to take
   * the event; done() (an engine thread) resumes it. */
  bool submitted;
  struct sh_redis_ticket ticket;
};

long long sh_publish_started_ms(const void *p)
{
  return ((const struct pubreq *) p)->started_ms;
}

void sh_publish_free(void *p)
{
  struct pubreq *req = p;

  sh_grant_free(&req->grant);
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

  sh_count(&hub->n.too_large, 1);
  snprintf(body, sizeof(body), "event too large (limit %zu bytes of data)\n",
           sh_live(hub, max_event_size));
  return sh_http_reply(hub, conn, MHD_HTTP_CONTENT_TOO_LARGE, true, body, NULL);
}

static enum MHD_Result bad_request(struct ssehub *hub,
                                   struct MHD_Connection *conn,
                                   const char *reason)
{
  sh_count(&hub->n.bad_requests, 1);
  return sh_http_reply(hub, conn, MHD_HTTP_BAD_REQUEST, false, reason, NULL);
}

/* The waiter's callbacks. Suspending a connection from its own access
 * handler is what MHD documents; resuming is safe from any thread. */
static void park_suspend(struct sh_pubwaiter *w)
{
  struct pubreq *req = (struct pubreq *) ((char *) w
                                          - offsetof(struct pubreq, waiter));

  MHD_suspend_connection(req->conn);
}

static void park_wake(struct sh_pubwaiter *w)
{
  struct pubreq *req = (struct pubreq *) ((char *) w
                                          - offsetof(struct pubreq, waiter));

  MHD_resume_connection(req->conn);
}

static void ticket_suspend(struct sh_redis_ticket *t)
{
  struct pubreq *req = (struct pubreq *) ((char *) t
                                          - offsetof(struct pubreq, ticket));

  MHD_suspend_connection(req->conn);
}

static void ticket_done(struct sh_redis_ticket *t)
{
  struct pubreq *req = (struct pubreq *) ((char *) t
                                          - offsetof(struct pubreq, ticket));

  MHD_resume_connection(req->conn);
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
  struct sh_grant grant;
  struct sh_ipkey ip;
  enum sh_auth auth;
  bool form;

  auth = sh_auth_publish(hub, conn, &grant);
  if (SH_AUTH_OK != auth)
    return sh_auth_refuse(hub, conn, auth, &grant);
  /* The grant is req's once req exists; every return before frees it. */
  if (sh_http_client_key(conn, &ip)
      && !sh_iplimit_publish_allow(&hub->iplimit, &ip, sh_now_ms())) {
    char body[96];

    sh_grant_free(&grant);
    sh_count(&hub->n.rate_limited, 1);
    snprintf(body, sizeof(body),
             "publish rate limit (%u per second) exceeded; retry later\n",
             sh_live(hub, publish_rate));
    return sh_http_reply(hub, conn, MHD_HTTP_TOO_MANY_REQUESTS, true, body,
                         MHD_HTTP_HEADER_RETRY_AFTER, "1", NULL);
  }
  if (NULL == ct)
    ct = "";
  form = media_type_is(ct, "application/x-www-form-urlencoded");
  if (!form && !media_type_is(ct, "text/plain")) {
    sh_grant_free(&grant);
    return sh_http_reply(hub, conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, true,
                         "unsupported Content-Type; use "
                         "application/x-www-form-urlencoded or text/plain\n",
                         NULL);
  }
  req = calloc(1, sizeof(*req));
  if (NULL == req) {
    sh_grant_free(&grant);
    return MHD_NO;
  }
  req->grant = grant;
  req->form = form;
  req->conn = conn;
  req->started_ms = sh_now_ms();
  req->waiter.suspend = park_suspend;
  req->waiter.wake = park_wake;
  req->ticket.suspend = ticket_suspend;
  req->ticket.done = ticket_done;
  /* Percent-encoding can triple the data; leave room for other fields. */
  req->limit = form ? sh_live(hub, max_event_size) * 3 + 4096
                    : sh_live(hub, max_event_size);
  if (NULL != cl && strtoull(cl, NULL, 10) > req->limit) {
    sh_publish_free(req);
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

/* text/plain: the body is the data; the other fields come from the query. */
static enum MHD_Result query_field(void *cls, enum MHD_ValueKind kind,
                                   const char *key, size_t key_size,
                                   const char *value, size_t value_size)
{
  struct sh_pubfields *f = cls;

  (void) kind;
  if (0 == strcmp(key, "data"))
    f->bad = "with a text/plain body, the body is the data\n";
  else
    sh_pubfields_add_n(f, key, key_size, NULL != value ? value : "",
                       NULL != value ? value_size : 0);
  return NULL == f->bad ? MHD_YES : MHD_NO;
}

static enum MHD_Result accepted(struct ssehub *hub, struct MHD_Connection *conn,
                                const struct ssehub_event *ev, uint64_t seq)
{
  char id[64], body[SH_MAX_ID_LEN * 6 + 192];
  struct sh_json j;

  if (NULL == ev->id || NULL != hub->redis)
    ssehub_event_id(hub, seq, id, sizeof(id));
  sh_json_init(&j, body, sizeof(body));
  sh_json_begin_object(&j);
  sh_json_key(&j, "id");
  sh_json_string(&j, NULL != ev->id ? ev->id : id);
  sh_json_key(&j, "seq");
  sh_json_uint(&j, seq);
  sh_json_key(&j, "clients");
  sh_json_uint(&j, ssehub_client_count(hub));
  /* With Redis, a publisher's own id is the SSE id, and the stream's id
   * says where the event is in the shared log. */
  if (NULL != ev->id && NULL != hub->redis) {
    sh_json_key(&j, "stream_id");
    sh_json_string(&j, id);
  }
  sh_json_end_object(&j);
  /* The buffer holds the longest id escaped (6 bytes a byte) and the rest. */
  if (0 == sh_json_finish(&j, true))
    return sh_http_reply(hub, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, true,
                         "answer too large\n", NULL);
  return sh_http_reply(hub, conn, MHD_HTTP_OK, false, body,
                       MHD_HTTP_HEADER_CONTENT_TYPE, "application/json", NULL);
}

/* Parse and validate the body into req->f; NULL or a 400 reason. */
static const char *parse(struct MHD_Connection *conn, struct pubreq *req)
{
  struct sh_pubfields *f = &req->f;

  req->body[req->len] = '\0';
  sh_pubfields_init(f);
  if (req->form) {
    sh_pubfields_from_form(f, req->body, req->len);
  } else {
    f->have_data = true;
    f->ev.data = req->body;
    f->ev.data_len = req->len;
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, &query_field, f);
  }
  sh_pubfields_finish(f);
  return f->bad;
}

/* The first topic of the event that the grant does not allow, or NULL;
 * *broadcast set when the event has no topic and the grant does not
 * allow that. */
static const char *publish_denied(const struct pubreq *req, bool *broadcast)
{
  const struct ssehub_event *ev = &req->f.ev;
  unsigned i;

  *broadcast = 0 == ev->ntopics && !sh_grant_allows(&req->grant, true, NULL);
  for (i = 0; i < ev->ntopics; i++)
    if (!sh_grant_allows(&req->grant, true, ev->topics[i]))
      return ev->topics[i];
  return NULL;
}

/* Publish req->f, holding the request while the queue is full. Returns 1
 * when parked (the connection is suspended; MHD calls the handler again
 * once woken), else 0 with the publish's result in *rc. */
static int publish_or_park(struct ssehub *hub, struct pubreq *req,
                           uint64_t *seq, int *rc)
{
  for (;;) {
    *rc = sh_hub_publish(hub, &req->f.ev, seq);
    if (-EAGAIN != *rc || sh_now_ms() >= req->wait_until)
      return 0;
    if (sh_pubqueue_park(&hub->queue, &req->waiter)) {
      if (!req->held)
        sh_count(&hub->n.publish_held, 1);
      req->held = true;
      return 1;
    }
    /* Room appeared (or the queue closed) meanwhile: try again. */
  }
}

static enum MHD_Result unavailable(struct ssehub *hub,
                                   struct MHD_Connection *conn,
                                   const char *reason)
{
  char retry[16];

  snprintf(retry, sizeof(retry), "%u", sh_live(hub, retry_after_s));
  return sh_http_reply(hub, conn, MHD_HTTP_SERVICE_UNAVAILABLE, false, reason,
                       MHD_HTTP_HEADER_RETRY_AFTER, retry, NULL);
}

/* The Redis engine: the event is answered once Redis has it. First call:
 * submit it (the engine suspends the connection); second call, after
 * done() resumed it: answer with the outcome. */
static enum MHD_Result finish_redis(struct ssehub *hub,
                                    struct MHD_Connection *conn,
                                    struct pubreq *req)
{
  int rc;

  if (!req->submitted) {
    req->ticket.deadline_ms = req->wait_until;
    rc = sh_hub_submit(hub, &req->f.ev, &req->ticket);
    if (0 == rc) {
      req->submitted = true;
      return MHD_YES;
    }
  } else {
    rc = req->ticket.rc;
  }
  switch (rc) {
  case 0:
    sh_count(&hub->n.published, 1);
    return accepted(hub, conn, &req->f.ev, req->ticket.seq);
  case -EMSGSIZE:
    return too_large(hub, conn);
  case -EINVAL:
    return bad_request(hub, conn, "invalid event fields\n");
  case -ESHUTDOWN:
    sh_count(&hub->n.refused_stopping, 1);
    return unavailable(hub, conn, "server is shutting down\n");
  case -ENOMEM:
    return sh_http_reply(hub, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, true,
                         "out of memory\n", NULL);
  default:
    break;
  }
  sh_count(&hub->n.publish_link_refused, 1);
  if (-EIO == rc)
    return unavailable(hub, conn,
                       "the link to Redis failed before it confirmed the "
                       "event; it may or may not be stored; retry later\n");
  if (-EPROTO == rc)
    return unavailable(hub, conn, "Redis refused the event; retry later\n");
  return unavailable(hub, conn,
                     "Redis did not take the event within --publish-wait; "
                     "retry later\n");
}

static enum MHD_Result finish(struct ssehub *hub, struct MHD_Connection *conn,
                              struct pubreq *req)
{
  char retry[16];
  uint64_t seq;
  int rc;

  if (!req->parsed) {
    const char *bad, *denied;
    bool broadcast;

    sh_http_request_complete(hub, conn); /* the whole request is in */
    if (req->too_big)
      return too_large(hub, conn);
    if (NULL == req->body && 0 != append(req, "", 0))
      return MHD_NO;
    bad = parse(conn, req);
    if (NULL != bad)
      return bad_request(hub, conn, bad);
    denied = publish_denied(req, &broadcast);
    if (NULL != denied || broadcast)
      return sh_auth_forbid_topic(hub, conn, true, denied);
    req->parsed = true;
    /* With Redis every publish waits for its round trip: at least 100 ms. */
    req->wait_until = sh_now_ms()
                      + (NULL != hub->redis
                                 && sh_live(hub, publish_wait_ms) < 100
                             ? 100
                             : sh_live(hub, publish_wait_ms));
    req->waiter.deadline_ms = req->wait_until;
  }
  if (NULL != hub->redis)
    return finish_redis(hub, conn, req);
  if (publish_or_park(hub, req, &seq, &rc))
    return MHD_YES;
  switch (rc) {
  case 0:
    return accepted(hub, conn, &req->f.ev, seq);
  case -EMSGSIZE:
    return too_large(hub, conn);
  case -EINVAL:
    return bad_request(hub, conn, "invalid event fields\n");
  case -EAGAIN:
    sh_count(&hub->n.publish_refused, 1);
    /* fall through */
  case -ESHUTDOWN:
    if (-ESHUTDOWN == rc)
      sh_count(&hub->n.refused_stopping, 1);
    snprintf(retry, sizeof(retry), "%u", sh_live(hub, retry_after_s));
    return sh_http_reply(hub, conn, MHD_HTTP_SERVICE_UNAVAILABLE, false,
                         -EAGAIN == rc ? "publish queue full; retry later\n"
                                       : "server is shutting down\n",
                         MHD_HTTP_HEADER_RETRY_AFTER, retry, NULL);
  default:
    return sh_http_reply(hub, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, true,
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
