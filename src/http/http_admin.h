/* http_admin.h - the operator's endpoints: /metrics (Prometheus text),
 * /stats (JSON), /healthz and /readyz, and the --admin-bind daemon that
 * serves only them (internal).
 *
 * Access rule, one for all four (README, "Security"):
 *   - without admin_bind: on the hub's daemon (or the embedder's), allowed
 *     as publishing is (sh_auth_publish(): the publish token when one is
 *     set, else loopback only unless publish_open);
 *   - with admin_bind: only on the admin daemon, open to whoever reaches
 *     it; the main daemon answers 404 for them. The admin daemon answers
 *     404 for everything else: it never serves a stream or a publish.
 *
 * Threads: sh_admin_url() and sh_admin_serve() on MHD worker threads (the
 * main daemon's or the admin daemon's single thread); sh_admin_listen()
 * and sh_admin_stop() on the control thread (ssehub_listen(), the hub's
 * stop_daemon hook). The admin daemon keeps no per-connection state and
 * never suspends a connection, so it may be stopped at any point.
 */
#ifndef SH_HTTP_ADMIN_H
#define SH_HTTP_ADMIN_H

#include <stdbool.h>

#include <microhttpd.h>

#include "hub.h"

/* Whether url is /metrics, /stats, /healthz or /readyz. */
bool sh_admin_url(const char *url);

/* Answer one of those on the main daemon (or the embedder's): 404 when
 * admin_bind is set, else the access rule, then the endpoint. */
enum MHD_Result sh_admin_serve(struct ssehub *hub, struct MHD_Connection *conn,
                               const char *url, const char *method);

/* Start the admin daemon on hub->opt.admin_bind (nothing when NULL).
 * Returns 0, -EINVAL (bad address), -EADDRINUSE, or another negative
 * errno. */
int sh_admin_listen(struct ssehub *hub);

/* Stop the admin daemon, if running. */
void sh_admin_stop(struct ssehub *hub);

#endif /* SH_HTTP_ADMIN_H */
