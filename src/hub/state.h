/* state.h - struct ssehub: the state the hub's modules share (internal).
 *
 * The hub's modules (hub.c, broadcaster.c, subscribe.c) include this; the
 * HTTP adapter reaches it through hub.h, the header meant for it. Which
 * threads exist, what each owns and the lock order are in
 * doc/internals.md ("Threads", "Lock order").
 *
 * Guarding: fields marked "immutable" are written by ssehub_new() before
 * any other thread exists and only read afterwards. reg and queue carry
 * their own locks (registry.h, pubqueue.h). Counters are atomics. daemon,
 * port and the broadcaster handle belong to the control thread; stopping
 * is atomic because every thread reads it.
 */
#ifndef SH_STATE_H
#define SH_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "counters.h"
#include "deadline.h"
#include "engine.h"
#include "fanpool.h"
#include "frame.h"
#include "protocol_limits.h"
#include "histogram.h"
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

/* clang-format off */
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
  struct sh_watch watch;         /* the watcher thread (watch.h) */
  struct sh_deadlines deadlines; /* own lock: requests that must complete
                                    in time (deadline.h) */
  size_t trim_peak;              /* watcher only: clients at the last
                                    malloc_trim or since (hub.c) */
  unsigned ticks;                /* watcher only: housekeeping ticks */
  /* The hub's own daemon, kept by the HTTP adapter (http.c), which also
   * sets stop_daemon so that ssehub_stop() can stop it at the right
   * point without the hub knowing HTTP. */
  struct MHD_Daemon *daemon;     /* control thread; NULL when embedded */
  uint16_t port;                 /* control thread */
  void (*stop_daemon)(struct ssehub *hub); /* control thread, or NULL */
  struct MHD_Daemon *admin_daemon; /* control thread: the --admin-bind
                                    daemon (http_admin.c), or NULL */
  atomic_bool stopping;          /* set once by ssehub_stop() */
  bool stopped;                  /* control thread */
  struct sh_counters n;
  /* Latencies for /metrics (histogram.h: atomics), observed by the
   * broadcaster only, read by any thread: */
  struct sh_hist lat_publish;    /* per event: accepted -> handed to every
                                    subscriber's ring or socket */
  struct sh_hist lat_fanout;     /* per fan-out round (one batch) */
  atomic_int_fast64_t buffered;  /* unsent bytes in all rings and tails
                                    (client.c, sockio.c) */
  struct sh_iplimit iplimit;     /* own lock (iplimit.h) */
  bool no_direct_writes;         /* immutable: $SSEHUB_NO_DIRECT_WRITES */
  struct sh_redis *redis;        /* immutable: the Redis engine (engine.h),
                                    NULL for the in-memory one */
};
/* clang-format on */

#endif /* SH_STATE_H */
