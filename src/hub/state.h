/* state.h - struct ssehub: the state the hub's modules share (internal).
 *
 * The hub's modules (hub.c, broadcaster.c, subscribe.c) include this; the
 * HTTP adapter reaches it through hub.h, the header meant for it. Which
 * threads exist, what each owns and the lock order are in
 * doc/internals.md ("Threads", "Lock order").
 *
 * Guarding: fields marked "immutable" are written by ssehub_new() before
 * any other thread exists and only read afterwards.
 *
 * Live settings (ssehub_reload(), on the control thread) are published in
 * two ways, so no reader ever sees a torn or freed value:
 *   - numbers in `live`, atomics read with sh_live() (relaxed: each is
 *     independent, and a request that sees the old value a moment longer
 *     is fine); the limits kept by a module (registry limit, iplimit,
 *     history, log level) are set through that module under its lock;
 *   - strings and the preamble frame (the tokens, publish_open, the CORS
 *     origins, ok_frame) and the JWT key under conf_lock: the reload swaps the pointers
 *     under it and frees the old strings after releasing it; readers
 *     compare or copy (or take a frame or key reference) while holding
 *     it. It is
 *     a leaf lock: nothing else is taken while it is held, and it is
 *     never held across I/O. reg and queue carry
 * their own locks (registry.h, pubqueue.h). Counters are atomics. daemon,
 * port and the broadcaster handle belong to the control thread; stopping
 * is atomic because every thread reads it.
 */
#ifndef SH_STATE_H
#define SH_STATE_H

#include <pthread.h>
#include <sys/socket.h>
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
#include "addr.h"
#include "iplimit.h"
#include "jwtkey.h"
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

/* The numeric settings a reload may change. max_clients is at most
 * opt.max_clients, what was allocated at start. */
struct sh_live {
  atomic_uint max_clients;
  atomic_uint max_clients_per_ip;
  atomic_uint publish_rate;
  atomic_size_t client_buffer;
  atomic_size_t max_buffered;
  atomic_size_t max_event_size;
  atomic_uint publish_wait_ms;
  atomic_uint retry_after_s;
  atomic_uint heartbeat_ms;
  atomic_uint retry_ms;
  atomic_int when_full; /* enum ssehub_when_full */
};

/* A live setting now: sh_live(hub, heartbeat_ms). */
#define sh_live(hub, field) \
  atomic_load_explicit(&(hub)->live.field, memory_order_relaxed)

/* clang-format off */
struct ssehub {
  struct ssehub_options opt;     /* immutable, but for publish_token,
                                    subscribe_token, publish_open and
                                    cors_origins/ncors_origins (conf_lock),
                                    and the numbers mirrored in live (the
                                    values at start); strings are ours */
  struct sh_live live;           /* atomics: the settings now in force */
  pthread_mutex_t conf_lock;     /* leaf: see "Live settings" above */
  uint64_t epoch;                /* immutable: ms since 1970 at creation */
  struct sh_log log;             /* own lock (log.h) */
  struct sh_registry reg;        /* own lock (registry.h) */
  struct sh_pubqueue queue;      /* own lock (pubqueue.h) */
  struct sh_history history;     /* own lock (history.h) */
  struct sh_frame *ok_frame;     /* conf_lock: ":ok\nretry: N\n\n" */
  struct sh_jwt_key *jwt;        /* conf_lock: the key signed tokens are
                                    checked with (readers take a
                                    reference), or NULL; opt.jwt_key is
                                    NULL, the key lives here only */
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
  struct sockaddr_storage listen_addr; /* control thread: the listen
                                    socket's address (ssehub_url()) */
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
  bool no_retry_jitter;          /* immutable: $SSEHUB_NO_RETRY_JITTER
                                    (diagnostics: the old fixed retry) */
  unsigned fd_budget;            /* immutable: a stream whose socket's fd
                                    is at or above this is refused
                                    ("open_files"): the kernel gives the
                                    lowest free fd, so fd N means N are
                                    open (hub.c, fd_budget_of()) */
  struct sh_redis *redis;        /* immutable: the Redis engine (engine.h),
                                    NULL for the in-memory one */
  struct sh_cidr *trusted;       /* conf_lock: the trusted proxies, parsed
                                    (opt.trusted_proxies is not kept) */
  unsigned ntrusted;             /* conf_lock */
};
/* clang-format on */

#endif /* SH_STATE_H */
