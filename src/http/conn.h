/* conn.h - what the HTTP handlers share: short replies, CORS headers, the
 * client's address, and the request deadline (internal).
 *
 * The lowest file of the HTTP adapter: the router (http.c) and every
 * handler (http_sse.c, http_publish.c, http_auth.c) include it, and it
 * includes none of them.
 *
 * Threads: MHD worker threads, on the connection they are called for.
 */
#ifndef SH_CONN_H
#define SH_CONN_H

#include <stdbool.h>

#include <microhttpd.h>

#include "hub.h"
#include "iplimit.h"

/* Queue a short reply (with CORS headers when configured). Extra headers
 * follow as name, value pairs, ended by NULL; without a Content-Type among
 * them it is text/plain. close adds "Connection: close". */
enum MHD_Result sh_http_reply(struct ssehub *hub, struct MHD_Connection *conn,
                              unsigned status, bool close, const char *body,
                              ...);

/* The allowed origin matching the request's Origin ("*" or the origin
 * itself), or NULL (CORS off, no Origin, or not allowed). */
const char *sh_http_allowed_origin(struct ssehub *hub,
                                   struct MHD_Connection *conn);

/* Add the CORS headers the request's Origin earns (none if CORS is off or
 * the origin is not allowed). */
void sh_http_cors(struct ssehub *hub, struct MHD_Connection *conn,
                  struct MHD_Response *resp);

/* The client's address as an iplimit key; false if unknown. The one
 * source of a request's address: the peer, or behind a trusted proxy the
 * client it names (addr.h, --trusted-proxy). Takes conf_lock. */
bool sh_http_client_key(struct ssehub *hub, struct MHD_Connection *conn,
                        struct sh_ipkey *k);

/* The request on conn is complete (headers, and a publish's body): its
 * connection leaves the request deadline (deadline.h) until answered. */
void sh_http_request_complete(struct ssehub *hub, struct MHD_Connection *conn);

/* The request was answered and the connection stays open: the deadline
 * runs again for the next one. */
void sh_http_request_answered(struct ssehub *hub, struct MHD_Connection *conn);

/* The access log (ssehub_options.access_log).
 *
 * Every non-stream answer is queued through sh_http_queue(), which notes
 * its status and body length for this thread; the router calls
 * sh_http_access_begin() before a handler and sh_http_access_end() after
 * it, which reports a request that got its answer in that call. Streams
 * are queued with MHD_queue_response() and reported when they end
 * (sh_http_access_stream(), from their free callback). The note is
 * thread-local: a handler runs on one worker thread from start to end,
 * and libmicrohttpd queues responses only from within the handler. With
 * no access_log set, all this costs two thread-local stores per answer. */
enum MHD_Result sh_http_queue(struct MHD_Connection *conn, unsigned status,
                              struct MHD_Response *resp, size_t body_len);
void sh_http_access_begin(void);
/* The answer just queued is a stream refused at once (the when_full retry
 * answer): its access record gets end = why, a static string such as
 * "overload_full", as a stream's record names its end. */
void sh_http_access_mark(const char *why);
void sh_http_access_end(struct ssehub *hub, struct MHD_Connection *conn,
                        const char *method, const char *url,
                        long long started_ms);
void sh_http_access_stream(struct ssehub *hub, const struct sh_ipkey *ip,
                           bool ip_known, long long started_ms, uint64_t bytes,
                           const char *end);

#endif /* SH_CONN_H */
