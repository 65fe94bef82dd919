/* http.h - the libmicrohttpd glue: daemon, routing, replies (internal).
 *
 * libmicrohttpd 0.9.75 rules this layer obeys (microhttpd.h and
 * shared/docs/libmicrohttpd-notes.md):
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
 * Threads: handlers, readers and callbacks run on MHD worker threads;
 * sh_http_listen()/sh_http_stop() on the control thread.
 */
#ifndef SH_HTTP_H
#define SH_HTTP_H

#include <stdbool.h>

#include <microhttpd.h>

#include "iplimit.h"

struct ssehub;

/* Extra connections MHD admits beyond max_clients, so that excess stream
 * requests and publishers still reach the handler and get an answer. */
#define SH_HTTP_HEADROOM 64u

/* Bind, listen and start the hub's own daemon. Returns 0 or -errno. */
int sh_http_listen(struct ssehub *hub);

/* Stop the hub's own daemon, if any. */
void sh_http_stop(struct ssehub *hub);

/* Queue a short reply (with CORS headers when configured). Extra headers
 * follow as name, value pairs, ended by NULL; without a Content-Type among
 * them it is text/plain. close adds "Connection: close". */
enum MHD_Result sh_http_reply(struct ssehub *hub, struct MHD_Connection *conn,
                              unsigned status, bool close, const char *body,
                              ...);

/* Add the CORS headers the request's Origin earns (none if CORS is off or
 * the origin is not allowed). */
void sh_http_cors(struct ssehub *hub, struct MHD_Connection *conn,
                  struct MHD_Response *resp);

/* ---- access (http_auth.c) ---- */

enum sh_auth {
  SH_AUTH_OK,
  SH_AUTH_MISSING,     /* 401: no token given */
  SH_AUTH_WRONG,       /* 401: a token, not the right one */
  SH_AUTH_FORBIDDEN    /* 403: no token configured, not from loopback */
};

/* Constant-time comparison of given[0..given_len) with token. */
bool sh_token_equal(const char *given, size_t given_len, const char *token);

enum sh_auth sh_auth_publish(struct ssehub *hub, struct MHD_Connection *conn);
enum sh_auth sh_auth_subscribe(struct ssehub *hub, struct MHD_Connection *conn);

/* Answer 401 (with WWW-Authenticate) or 403 and count it. */
enum MHD_Result sh_auth_refuse(struct ssehub *hub, struct MHD_Connection *conn,
                               enum sh_auth why);

/* The client's address as an iplimit key; false if unknown. */
bool sh_http_client_key(struct MHD_Connection *conn, struct sh_ipkey *k);

/* The demo page (demo_page.c). */
extern const char sh_demo_page[];

/* GET|HEAD /sse (http_sse.c). */
enum MHD_Result sh_sse_open(struct ssehub *hub, struct MHD_Connection *conn,
                            bool head, const char *version);

/* POST /publish (http_publish.c), called for every part of the request. */
enum MHD_Result sh_publish_handle(struct ssehub *hub,
                                  struct MHD_Connection *conn,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls);

/* Release a publish request's state (completion callback). */
void sh_publish_free(void *req);

#endif /* SH_HTTP_H */
