/* http_sse.c - GET /sse: admit a client and stream its ring.
 *
 * Each admitted client gets its own callback response (MHD requires one
 * response per connection when the reader suspends). The ":ok" preamble
 * is queued in the ring before the response, so the first reader call,
 * in the same event-loop pass that sends the headers, delivers it: the
 * browser sees headers and a first frame at once and fires onopen.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "conn.h"
#include "http_auth.h"
#include "http_sse.h"
#include "hub.h"
#include "json.h"
#include "pubfields.h"
#include "sync.h"

/* MHD allocates this per response but uses it only for HTTP/1.0 clients
 * (HTTP/1.1 readers fill MHD's connection buffer directly): kept small,
 * since every idle stream pays for it. */
#define SSE_BLOCK_SIZE 256

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
  struct sh_client *c = cls;
  struct ssehub *hub = c->owner;
  ssize_t n = sh_client_read(c, buf, max);

  (void) pos;
  if (n > 0) {
    sh_count(&hub->n.bytes_sent, (uint64_t) n);
    atomic_fetch_add_explicit(&c->io.sent, (uint64_t) n, memory_order_relaxed);
  }
  return n;
}

/* Runs once, on the worker thread, however the stream ends (client gone,
 * send error, timeout, end of stream, daemon stop). */
static void stream_free(void *cls)
{
  struct sh_client *c = cls;
  struct ssehub *hub = c->owner;
  enum sh_end why = sh_client_gone(c);

  sh_registry_remove(&hub->reg, c);
  /* A stream that never got its answer (refused after admission) has no
   * start: it is no access log line of its own. */
  if (0 != c->started_ms)
    sh_http_access_stream(hub, &c->ip, c->ip_counted, c->started_ms,
                          atomic_load(&c->io.sent), sh_end_name(why));
  if (c->ip_counted)
    sh_iplimit_stream_release(&hub->iplimit, &c->ip);
  sh_client_unref(c);
}

static void stream_headers(struct ssehub *hub, struct MHD_Connection *conn,
                           struct MHD_Response *resp);

/* The limits a stream can be refused for: its word in the 429's body and
 * the ssehub-overload event (doc/protocol.md), and its counters. */
enum limit { LIMIT_CLIENTS, LIMIT_PER_IP, LIMIT_FDS };

/* when_full = retry: a stream refused for a limit gets what a plain
 * EventSource rides out (a browser fails for good on any status but
 * 200): 200 text/event-stream, a "retry:" jittered around retry_after_s
 * (each refused client its own, so a crowd does not come back at once),
 * one ssehub-overload event naming the limit, and the end of the body.
 * No ":ok" first: that comment is the sign of a stream admitted. No id:
 * line either, so the browser keeps its last event id and resumes from
 * it on the reconnection that gets in. No registry slot is taken (the
 * answer is a plain buffer), and "Connection: close" frees the MHD
 * connection at once. The event's data is one line of JSON (json.h). */
static enum MHD_Result overload(struct ssehub *hub, struct MHD_Connection *conn,
                                const char *limit, unsigned max)
{
  unsigned base = sh_live(hub, retry_after_s) * 1000u;
  /* --retry-after 0 asks for no Retry-After; a browser still needs a
   * delay, and an instant one would make the refusal a busy loop. */
  unsigned retry = sh_hub_retry_ms(hub, 0 != base ? base : 1000u);
  struct MHD_Response *resp;
  enum MHD_Result ret;
  char data[128], body[192];
  struct sh_json j;
  int n;

  sh_json_init(&j, data, sizeof(data));
  sh_json_begin_object(&j);
  sh_json_key(&j, "limit");
  sh_json_string(&j, limit);
  sh_json_key(&j, "max");
  sh_json_uint(&j, max);
  sh_json_key(&j, "retry");
  sh_json_uint(&j, retry);
  sh_json_end_object(&j);
  if (0 == sh_json_finish(&j, false))
    return MHD_NO; /* cannot happen: fixed names, two numbers */
  n = snprintf(body, sizeof(body),
               "retry: %u\nevent: ssehub-overload\ndata: %s\n\n", retry, data);
  resp = MHD_create_response_from_buffer((size_t) n, body,
                                         MHD_RESPMEM_MUST_COPY);
  if (NULL == resp)
    return MHD_NO;
  stream_headers(hub, conn, resp);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  ret = sh_http_queue(conn, MHD_HTTP_OK, resp, (size_t) n);
  MHD_destroy_response(resp);
  return ret;
}

/* A stream refused for a limit: 429 with Retry-After, or (when_full
 * retry) the overload answer. Each limit and answer has its counter. */
static enum MHD_Result refuse_limit(struct ssehub *hub,
                                    struct MHD_Connection *conn,
                                    enum limit which)
{
  static const char *const words[] = { "max_clients", "max_clients_per_ip",
                                       "open_files" };
  unsigned max = LIMIT_CLIENTS == which  ? sh_live(hub, max_clients)
                 : LIMIT_PER_IP == which ? sh_live(hub, max_clients_per_ip)
                                         : hub->fd_budget;
  char body[128], retry[16];

  if (SSEHUB_WHEN_FULL_RETRY == sh_live(hub, when_full)) {
    static const char *const ends[] = { "overload_full", "overload_per_ip",
                                        "overload_fds" };

    sh_count(LIMIT_CLIENTS == which  ? &hub->n.overload_full
             : LIMIT_PER_IP == which ? &hub->n.overload_per_ip
                                     : &hub->n.overload_fds,
             1);
    /* A 200 like a stream's: the access log says it was a refusal. */
    sh_http_access_mark(ends[which]);
    return overload(hub, conn, words[which], max);
  }
  sh_count(LIMIT_CLIENTS == which  ? &hub->n.rejected_full
           : LIMIT_PER_IP == which ? &hub->n.rejected_per_ip
                                   : &hub->n.rejected_fds,
           1);
  if (LIMIT_CLIENTS == which)
    snprintf(body, sizeof(body), "too many clients (limit %u); retry later\n",
             max);
  else if (LIMIT_PER_IP == which)
    snprintf(body, sizeof(body),
             "too many streams from your address (limit %u)\n", max);
  else
    snprintf(body, sizeof(body),
             "server out of file descriptors (limit %u); retry later\n", max);
  snprintf(retry, sizeof(retry), "%u", sh_live(hub, retry_after_s));
  return sh_http_reply(hub, conn, MHD_HTTP_TOO_MANY_REQUESTS, true, body,
                       MHD_HTTP_HEADER_RETRY_AFTER, retry, NULL);
}

static enum MHD_Result refuse_stopping(struct ssehub *hub,
                                       struct MHD_Connection *conn)
{
  char retry[16];

  sh_count(&hub->n.refused_stopping, 1);
  snprintf(retry, sizeof(retry), "%u", sh_live(hub, retry_after_s));
  return sh_http_reply(hub, conn, MHD_HTTP_SERVICE_UNAVAILABLE, true,
                       "server is shutting down; retry later\n",
                       MHD_HTTP_HEADER_RETRY_AFTER, retry, NULL);
}

static int connection_fd(struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

  return NULL != ci ? ci->connect_fd : -1;
}

/* The subscription request: its topics and where it resumes. */
struct sub_req {
  const char *topics[SH_MAX_FRAME_TOPICS];
  unsigned ntopics;
  const char *bad; /* reason for a 400, or NULL */
};

static enum MHD_Result collect_topic(void *cls, enum MHD_ValueKind kind,
                                     const char *key, size_t key_size,
                                     const char *value, size_t value_size)
{
  struct sub_req *r = cls;
  unsigned i;

  (void) kind;
  (void) key_size;
  if (0 != strcmp(key, "topic") || NULL != r->bad)
    return MHD_YES;
  r->bad = sh_field_check(SH_FIELD_TOPIC, NULL != value ? value : "",
                          NULL != value ? value_size : 0);
  if (NULL != r->bad)
    return MHD_NO;
  for (i = 0; i < r->ntopics; i++)
    if (0 == strcmp(r->topics[i], value))
      return MHD_YES; /* listed twice: once is enough */
  if (r->ntopics == SH_MAX_FRAME_TOPICS) {
    r->bad = "too many topics (at most 16)\n";
    return MHD_NO;
  }
  r->topics[r->ntopics++] = value;
  return MHD_YES;
}

/* The stream's Last-Event-ID (the header, or ?lastEventId= for clients
 * that cannot set headers), or NULL; *bad is the reason for a 400 when it
 * is not text an id could be: it is echoed in the ssehub-missed notice,
 * and no published id holds such bytes, so no real client sends them
 * (a browser keeps the id as decoded text and sends it back as UTF-8). */
static const char *last_event_id(struct MHD_Connection *conn, const char **bad)
{
  const char *id = NULL;
  size_t len = 0;

  if (MHD_YES
      != MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, "Last-Event-ID",
                                       strlen("Last-Event-ID"), &id, &len))
    (void) MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND,
                                         "lastEventId", strlen("lastEventId"),
                                         &id, &len);
  *bad = NULL != id ? sh_field_check(SH_FIELD_LAST_ID, id, len) : NULL;
  return id;
}

/* The first topic of r that g does not allow, or NULL. */
static const char *topic_denied(const struct sh_grant *g,
                                const struct sub_req *r)
{
  unsigned i;

  for (i = 0; i < r->ntopics; i++)
    if (!sh_grant_allows(g, false, r->topics[i]))
      return r->topics[i];
  return NULL;
}

static enum MHD_Result refuse(struct ssehub *hub, struct MHD_Connection *conn,
                              int rc)
{
  if (-EBUSY == rc)
    return refuse_limit(hub, conn, LIMIT_CLIENTS);
  if (-ESHUTDOWN == rc)
    return refuse_stopping(hub, conn);
  return sh_http_reply(hub, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, true,
                       "out of memory\n", NULL);
}

/* Whether the hub may write to idle streams directly at all: the one
 * place that reads the switch ($SSEHUB_NO_DIRECT_WRITES, hub.c). */
static bool direct_writes_allowed(const struct ssehub *hub)
{
  return !hub->no_direct_writes;
}

/* How this stream may be written to directly (sockio.h): not over TLS,
 * not for HEAD (no body), chunked for HTTP/1.1, raw for HTTP/1.0. */
static enum sh_direct direct_mode(struct MHD_Connection *conn, bool head,
                                  const char *version)
{
  const union MHD_ConnectionInfo *tls =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);

  if (head || (NULL != tls && NULL != tls->tls_session))
    return SH_DIRECT_NONE;
  if (0 == strcmp(version, MHD_HTTP_VERSION_1_1))
    return SH_DIRECT_CHUNKED;
  if (0 == strcmp(version, MHD_HTTP_VERSION_1_0))
    return SH_DIRECT_IDENTITY;
  return SH_DIRECT_NONE;
}

static void stream_headers(struct ssehub *hub, struct MHD_Connection *conn,
                           struct MHD_Response *resp)
{
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          "text/event-stream; charset=utf-8");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  /* Tell nginx-style proxies not to buffer the stream. */
  MHD_add_response_header(resp, "X-Accel-Buffering", "no");
  sh_http_cors(hub, conn, resp);
}

/* MHD strips a "Connection: keep-alive" header (it is HTTP/1.1's
 * default); this flag makes it send one, which some proxies and the
 * clients written for other SSE servers expect on a stream. */
static void keep_alive(struct MHD_Response *resp)
{
  MHD_set_response_options(resp, MHD_RF_SEND_KEEP_ALIVE_HEADER, MHD_RO_END);
}

/* HEAD /sse: the stream's headers, after the same checks, and no stream:
 * libmicrohttpd 0.9.75 would end a HEAD answer of unknown length with a
 * chunk terminator, a body a HEAD response must not have. */
static enum MHD_Result head_only(struct ssehub *hub,
                                 struct MHD_Connection *conn)
{
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
  enum MHD_Result ret;

  if (NULL == resp)
    return MHD_NO;
  stream_headers(hub, conn, resp);
  keep_alive(resp);
  ret = sh_http_queue(conn, MHD_HTTP_OK, resp, 0);
  MHD_destroy_response(resp);
  return ret;
}

enum MHD_Result sh_sse_open(struct ssehub *hub, struct MHD_Connection *conn,
                            bool head, const char *version)
{
  struct sub_req req = { .ntopics = 0, .bad = NULL };
  const char *last_id = NULL;
  struct MHD_Response *resp;
  struct sh_client *c;
  struct sh_grant grant;
  enum MHD_Result ret;
  enum sh_auth auth;
  const char *denied;
  int rc, fd;

  if (atomic_load(&hub->stopping))
    return refuse_stopping(hub, conn);
  auth = sh_auth_subscribe(hub, conn, &grant);
  if (SH_AUTH_OK != auth)
    return sh_auth_refuse(hub, conn, auth, &grant);
  MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, &collect_topic,
                              &req);
  if (NULL == req.bad)
    last_id = last_event_id(conn, &req.bad);
  if (NULL != req.bad) {
    sh_grant_free(&grant);
    sh_count(&hub->n.bad_requests, 1);
    return sh_http_reply(hub, conn, MHD_HTTP_BAD_REQUEST, false, req.bad, NULL);
  }
  /* A topic outside a signed token's claim is refused, not filtered out:
   * a client told "403" knows its token is wrong; one silently given
   * fewer topics would wait for events that never come. Replay cannot
   * cross the claim either: the history is filtered by these topics
   * (subscribe.c), and a stream without a topic gets only events
   * published without one, which every subscriber gets. */
  denied = topic_denied(&grant, &req);
  sh_grant_free(&grant);
  if (NULL != denied)
    return sh_auth_forbid_topic(hub, conn, false, denied);
  /* HEAD answers what a GET would get now (the demo page asks it why its
   * EventSource was refused), without opening a stream. */
  if (head) {
    if (sh_registry_count(&hub->reg) >= sh_live(hub, max_clients))
      return refuse_limit(hub, conn, LIMIT_CLIENTS);
    return head_only(hub, conn);
  }
  fd = connection_fd(conn);
  if (fd >= 0 && (unsigned) fd >= hub->fd_budget)
    return refuse_limit(hub, conn, LIMIT_FDS);
  c = sh_client_new(conn, fd, SH_RING_INIT_SLOTS, SH_RING_MAX_SLOTS,
                    sh_live(hub, client_buffer));
  if (NULL == c)
    return refuse(hub, conn, -ENOMEM);
  c->owner = hub;
  c->io.buffered = &hub->buffered;
  c->io.n = &hub->n;
  c->io.direct = direct_writes_allowed(hub) ? direct_mode(conn, head, version)
                                            : SH_DIRECT_NONE;
  if (sh_http_client_key(hub, conn, &c->ip)) {
    rc = sh_iplimit_stream_acquire(&hub->iplimit, &c->ip);
    if (0 != rc) {
      sh_client_unref(c);
      return -EBUSY == rc ? refuse_limit(hub, conn, LIMIT_PER_IP)
                          : refuse(hub, conn, rc);
    }
    c->ip_counted = true;
  }
  rc = sh_client_set_topics(c, req.topics, req.ntopics);
  if (0 == rc) {
    struct sh_frame *ok;

    /* A reload may replace the preamble (retry): hold a reference. */
    sh_mutex_lock(&hub->conf_lock);
    ok = sh_frame_ref(hub->ok_frame);
    sh_mutex_unlock(&hub->conf_lock);
    rc = sh_client_preload(c, ok);
    sh_frame_unref(ok);
  }
  if (0 == rc)
    rc = sh_subscribe(hub, c, last_id);
  if (0 != rc) {
    if (c->ip_counted)
      sh_iplimit_stream_release(&hub->iplimit, &c->ip);
    sh_client_unref(c);
    return refuse(hub, conn, rc);
  }
  resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK_SIZE,
                                           &stream_reader, c, &stream_free);
  if (NULL == resp) {
    stream_free(c);
    return refuse(hub, conn, -ENOMEM);
  }
  sh_count(&hub->n.clients_total, 1);
  if (NULL != hub->opt.access_log)
    c->started_ms = sh_now_ms();
  stream_headers(hub, conn, resp);
  keep_alive(resp);
  /* If queueing fails, destroying the response runs stream_free(). */
  ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
  MHD_destroy_response(resp);
  return ret;
}
