/* subscribe.h - admitting a stream client: resume point, replay, register.
 *
 * Purpose: one function that turns a new client (its topics set, its
 * ":ok" preamble queued) into a registered subscriber: it finds where the
 * client's Last-Event-ID leaves off, queues the missed-events notice if it
 * cannot resume exactly, queues the retained events it should get (only
 * those its topics select, and only as many bytes as its buffer holds),
 * and registers it, all under the history lock so that no event falls
 * between replay and live delivery (history.h explains why).
 *
 * Threads: MHD worker threads (the /sse handler).
 */
#ifndef SH_SUBSCRIBE_H
#define SH_SUBSCRIBE_H

#include "limits.h"

struct ssehub;
struct sh_client;

/* Returns 0, -EBUSY (over max_clients), -ESHUTDOWN or -ENOMEM. On error
 * the client is not registered. */
int sh_subscribe(struct ssehub *hub, struct sh_client *c, const char *last_id);

#endif /* SH_SUBSCRIBE_H */
