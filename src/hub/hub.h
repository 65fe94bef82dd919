/* hub.h - the hub as the HTTP adapter uses it (internal).
 *
 * The one hub header the modules of src/http/ include: struct ssehub
 * (state.h) and the hub functions they call. The hub itself never
 * includes an HTTP header; it leaves its daemon to the adapter
 * (state.h, stop_daemon).
 */
#ifndef SH_HUB_H
#define SH_HUB_H

#include <stdint.h>

#include "client.h"
#include "ssehub.h"
#include "state.h"

/* ssehub_publish() without counting -EAGAIN as a refusal: for a
 * publisher that will wait and try again (http_publish.c). */
int sh_hub_publish(struct ssehub *hub, const struct ssehub_event *ev,
                   uint64_t *seq);

/* With the Redis engine (hub->redis): queue ev for the stream; t's
 * deadline, suspend and done are the caller's (engine.h). 0: done()
 * follows; else the error, and no callback. MHD worker threads. */
int sh_hub_submit(struct ssehub *hub, const struct ssehub_event *ev,
                  struct sh_redis_ticket *t);

/* A reconnection delay to tell one client: base_ms +-50 % (jitter.h),
 * or base_ms itself under $SSEHUB_NO_RETRY_JITTER. Any thread. */
unsigned sh_hub_retry_ms(struct ssehub *hub, unsigned base_ms);

/* Admit a new client (subscribe.c): find where its Last-Event-ID leaves
 * off, queue the missed-events notice if it cannot resume exactly, queue
 * the retained events it should get (only those its topics select, and
 * only as many bytes as its buffer holds), register it and watch its
 * socket for hang-ups; the replay and the registration happen under the
 * history lock, so that no event falls between replay and live delivery
 * (history.h explains why). The client has its topics set and its ":ok"
 * preamble queued. Returns 0, -EBUSY (over max_clients), -ESHUTDOWN or
 * -ENOMEM; on error the client is not registered. MHD worker threads. */
int sh_subscribe(struct ssehub *hub, struct sh_client *c, const char *last_id);

#endif /* SH_HUB_H */
