/* engine_int.h - the Redis engine's insides, shared by its files
 * (internal to src/cluster/; engine.h is the engine's contract).
 *
 *   lifecycle.c  start, stop, status, the link state and reconnection
 *   writer.c  the outbox and the writer thread (XADD)
 *   reader.c  the reader thread (XREAD into the publish queue)
 *   query.c   resume queries (XRANGE) for MHD workers
 *   entry.c   one stream entry to a frame (pure)
 *
 * Guarding is given per field below; engine.h has the threads and the
 * lock order.
 */
#ifndef SH_ENGINE_INT_H
#define SH_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "engine.h"
#include "protocol_limits.h"

/* Each command's time limit: a live Redis on a LAN answers in well under
 * a millisecond; past this, the link counts as down. */
#define CMD_TIMEOUT_MS 1000
/* XREAD BLOCK: how long the reader waits for new entries per call (its
 * socket allows CMD_TIMEOUT_MS more). */
#define READ_BLOCK_MS 1000
/* Entries per XREAD, and publishes per pipelined round. */
#define READ_BATCH 512
#define WRITE_BATCH 64
/* A connection idle this long is PINGed before a batch goes out on it. */
#define IDLE_CHECK_MS 1000
/* Reconnection backoff cap: with jitter, a node is back at most this long
 * after Redis answers again (the issue asks for 2 s; nchan takes ~10 s). */
#define BACKOFF_CAP_MS 1000
/* At stop, how long the writer may take to send what is queued before
 * its socket is shut (ssehub_stop() then gives streams their own). */
#define WRITER_GRACE_MS 300
/* Resume queries from MHD workers: a short limit, they hold a worker. */
#define QUERY_TIMEOUT_MS 500
/* Publisher ids searched for, at most, among retained entries. */
#define SCAN_MAX 100000
/* Most fields an entry has: d, e, i, r and 16 t. */
#define MAX_ARGS (7 + 2 * (4 + SH_MAX_FRAME_TOPICS))

/* A publish in the outbox: the XADD's arguments, in one allocation. */
struct job {
  struct job *next;
  struct sh_redis_ticket *t; /* NULL: fire and forget */
  long long deadline_ms;
  int argc;
  const char *argv[MAX_ARGS];
  size_t argvlen[MAX_ARGS];
  char text[]; /* the copied strings argv points into */
};

/* clang-format off */
struct sh_redis {
  struct sh_redis_config cfg;   /* immutable; strings below are ours */
  struct sh_redis_addr addr;    /* immutable */
  char *stream;                 /* immutable */
  char *since_key;              /* immutable: "<stream>:since" */
  char maxlen[24];              /* immutable: cfg.maxlen as text */
  char name[128];               /* immutable: host:port for logs */
  long long start_wall_ms;      /* immutable: entries from then on are
                                   live for this node (reader.c) */
  pthread_mutex_t lock;
  pthread_cond_t wake;          /* the writer's: work, or stop */
  struct job *head, **tail;     /* guarded by lock: the outbox */
  size_t queued;                /* guarded by lock */
  bool stopping;                /* guarded by lock */
  bool writer_up, reader_up;    /* guarded by lock */
  bool logged_up;               /* guarded by lock: what the log said */
  char down_reason[160];        /* guarded by lock: last one logged */
  bool preloaded;               /* reader only */
  char last_id[SH_STREAMID_MAX];/* reader only: XREAD from here */
  _Atomic uint64_t last_seq;    /* reader writes; /stats reads */
  _Atomic uint64_t lag_ms;      /* reader writes; /stats reads */
  _Atomic uint64_t known_since; /* reader writes; backfill reads: ms
                                   the log began, 0 = not yet known */
  _Atomic bool reader_full;     /* reader writes: it waits for room in
                                   the publish queue; the writer reads */
  int reader_fd;                /* guarded by lock: to interrupt XREAD */
  int writer_fd;                /* guarded by lock: to end a stop's wait
                                   on a stalled Redis */
  pthread_t writer, reader;
  bool threads_running;         /* control thread */
  pthread_mutex_t qlock;
  redisContext *query;          /* guarded by qlock */
};
/* clang-format on */

/* Wall-clock ms (stream ids are wall-clock). */
long long sh_engine_wall_ms(void);

/* Record that the writer's or reader's connection (which) is up or down,
 * and log the link's state once per change (lifecycle.c). */
void sh_engine_set_link(struct sh_redis *r, bool *which, bool up,
                        const char *reason);

/* Sleep up to ms, less once stopping; false when stopping. */
bool sh_engine_nap(struct sh_redis *r, long ms);

/* Connect, retrying with jittered backoff; NULL once stopping. */
redisContext *sh_engine_connect(struct sh_redis *r, bool *which,
                                unsigned *seed);

void *sh_engine_writer_main(void *arg); /* writer.c */
void *sh_engine_reader_main(void *arg); /* reader.c */

#endif /* SH_ENGINE_INT_H */
