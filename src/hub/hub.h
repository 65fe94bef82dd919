/* hub.h - the state behind the public struct ssehub (internal).
 *
 * Threads that touch a hub:
 *   - control thread: the one that calls ssehub_new/listen/stop/free;
 *   - broadcaster thread (broadcaster.c): drains the publish queue, fans
 *     out, sends heartbeats;
 *   - MHD worker threads (http*.c): accept streams and publishes, run the
 *     content readers and free callbacks;
 *   - any thread: ssehub_publish(), counters.
 *
 * Guarding: fields marked "immutable" are written by ssehub_new() before
 * any other thread exists and only read afterwards. reg and queue carry
 * their own locks (registry.h, pubqueue.h). Counters are atomics. daemon,
 * port and the broadcaster handle belong to the control thread; stopping
 * is atomic because every thread reads it.
 */
#ifndef SH_HUB_H
#define SH_HUB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "counters.h"
#include "fanpool.h"
#include "frame.h"
#include "limits.h"
#include "history.h"
#include "iplimit.h"
#include "log.h"
#include "pubqueue.h"
#include "registry.h"
#include "ssehub.h"
#include "watch.h"

/* Slots of a client's ring: start small so an idle client costs little,
 * grow to absorb bursts (see ring.h). */
#define SH_RING_INIT_SLOTS 8u
#define SH_RING_MAX_SLOTS 4096u

/* Frames the broadcaster moves per batch: one snapshot, one lock and one
 * resume per client per batch. */
#define SH_BATCH_MAX 64u

struct ssehub {
  struct ssehub_options opt;     /* immutable; strings in it are ours */
  uint64_t epoch;                /* immutable: ms since 1970 at creation */
  struct sh_log log;             /* own lock (log.h) */
  struct sh_registry reg;        /* own lock (registry.h) */
  struct sh_pubqueue queue;      /* own lock (pubqueue.h) */
  struct sh_history history;     /* own lock (history.h) */
  struct sh_frame *ok_frame;     /* immutable: ":ok\nretry: N\n\n" */
  struct sh_frame *heartbeat;    /* immutable: ":\n\n" */
  struct sh_client **snap;       /* broadcaster only: snapshot buffer */
  struct sh_client **tsnap;      /* broadcaster only: topic snapshots */
  size_t tsnap_cap;              /* broadcaster only */
  struct sh_fanpool fanpool;     /* broadcaster only (fanpool.h) */
  pthread_t broadcaster;         /* control thread */
  bool broadcaster_running;      /* control thread */
  struct sh_watch watch;         /* hang-up watcher (watch.h) */
  struct MHD_Daemon *daemon;     /* control thread; NULL when embedded */
  uint16_t port;                 /* control thread */
  atomic_bool stopping;          /* set once by ssehub_stop() */
  bool stopped;                  /* control thread */
  struct sh_counters n;
  atomic_int_fast64_t buffered;  /* unsent bytes in all rings and tails
                                    (client.c, sockio.c) */
  struct sh_iplimit iplimit;     /* own lock (iplimit.h) */
};

/* ssehub_publish() without counting -EAGAIN as a refusal: for a
 * publisher that will wait and try again (http_publish.c). */
int sh_hub_publish(struct ssehub *hub, const struct ssehub_event *ev,
                   uint64_t *seq);


#endif /* SH_HUB_H */
