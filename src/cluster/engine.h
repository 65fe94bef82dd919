/* engine.h - the Redis engine: one Redis Stream as the hub's shared log.
 *
 * Purpose: with --redis, every node of a cluster publishes into one Redis
 * Stream and delivers what it reads back from it, so that every
 * subscriber on every node sees every event once, in the stream's order,
 * and can resume (Last-Event-ID) on any node. doc/design.md ("The Redis
 * engine") says why one stream, and what is guaranteed.
 *
 *   publisher -> sh_redis_submit() -> outbox -> writer thread: XADD
 *                (pipelined) -> the ticket is answered with the entry id
 *   reader thread: XREAD BLOCK from the last id -> frames -> the
 *                broadcaster's publish queue (pubqueue.h) -> clients
 *   sh_redis_backfill(): XRANGE for a resume the node's window cannot
 *                answer (MHD workers; a connection of its own)
 *
 * Local publishes take the same path as everyone else's: a node delivers
 * its own event only when it reads it back, so the order is the stream's
 * on every node. The broadcaster never talks to Redis and never waits
 * for it.
 *
 * Entries: field d (data), e (event name), i (a publisher's own id),
 * r (retry), one t per topic. The key <stream>:since holds the wall time
 * (ms) at which this log began; a log Redis lost (restart without
 * persistence) begins anew with a later one, which is how a resume from
 * the old log is told apart from one past trimmed history.
 *
 * Threads and locks: `lock` guards the outbox and the status fields; the
 * writer and the reader each own their connection; `qlock` guards the
 * query connection. Lock order (doc/internals.md): lock, then what a
 * ticket's suspend callback takes (MHD's cleanup mutex); done callbacks
 * run with no engine lock held. The reader takes the history and publish
 * queue locks, never with an engine lock held.
 */
#ifndef SH_ENGINE_H
#define SH_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "counters.h"
#include "frame.h"
#include "history.h"
#include "log.h"
#include "pubqueue.h"
#include "redis_url.h"
#include "ssehub.h"
#include "streamid.h"

struct sh_redis;

/* clang-format off */
struct sh_redis_config {
  const struct sh_redis_addr *addr; /* copied */
  const char *stream;            /* the stream's key; copied */
  size_t maxlen;                 /* XADD MAXLEN ~ this */
  long long max_age_ms;          /* XTRIM MINID ~ now - this; 0 = none */
  size_t outbox_cap;             /* publishes waiting for Redis */
  size_t preload;                /* entries read into the window at start */
  struct sh_pubqueue *queue;     /* the broadcaster's: what is read goes
                                    there */
  struct sh_history *history;    /* the node's window (stream ids) */
  struct sh_log *log;
  struct sh_counters *n;
};
/* clang-format on */

/* One publish waiting for Redis. The caller owns it and must keep it
 * until done() (or until submit failed). */
/* clang-format off */
struct sh_redis_ticket {
  long long deadline_ms;   /* caller: monotonic; not in Redis by then:
                              -EAGAIN (never sent) */
  void (*suspend)(struct sh_redis_ticket *t); /* caller, or NULL: called
                              under the engine's lock once queued, before
                              done() can run (MHD_suspend_connection) */
  void (*done)(struct sh_redis_ticket *t);    /* caller: called once,
                              from an engine thread, without its locks */
  int rc;                  /* engine: 0 (in the stream, seq is its id);
                              -EAGAIN (not sent by the deadline);
                              -EIO (sent, but the link failed before
                              Redis answered: it may be in the stream);
                              -EPROTO (Redis refused it);
                              -ESHUTDOWN */
  uint64_t seq;            /* engine: the entry's id (streamid.h) */
};
/* clang-format on */

/* Start the writer and reader threads; they connect on their own (Redis
 * may be down: they keep trying). 0, -ENOMEM or -errno. */
int sh_redis_start(struct sh_redis **out, const struct sh_redis_config *cfg);

/* Send what is queued if the link is up (else answer it -ESHUTDOWN),
 * then stop both threads. Idempotent. Control thread. */
void sh_redis_stop(struct sh_redis *r);
void sh_redis_free(struct sh_redis *r);

/* Queue ev for the stream. 0: queued, t->done() follows exactly once
 * (t may be NULL: fire and forget; a failure is then logged and
 * counted). -EAGAIN (outbox full), -ESHUTDOWN, -ENOMEM: nothing queued,
 * no callback. ev is copied. Any thread. */
int sh_redis_submit(struct sh_redis *r, const struct ssehub_event *ev,
                    struct sh_redis_ticket *t);

/* Answer -EAGAIN to queued publishes whose deadline has passed (the
 * writer may be stuck on a stalled Redis). The watcher's tick. */
void sh_redis_expire(struct sh_redis *r, long long now_ms);

/* A resume the window could not answer. */
struct sh_backfill {
  enum sh_resume why;       /* FROM, EXPIRED, RESET, UNKNOWN, UNAVAILABLE */
  struct sh_frame **frames; /* entries after last_id, oldest first; the
                               caller unrefs them and frees the array */
  size_t n;
  uint64_t after; /* seq of last_id when FROM, else 0 */
};

/* Ask Redis what follows last_id (a stream id, or a publisher's id
 * searched among the retained entries): at most max entries. Blocks for
 * at most a short time limit; never when the link is known to be down
 * (UNAVAILABLE). MHD worker threads. Returns 0 or -ENOMEM. */
int sh_redis_backfill(struct sh_redis *r, const char *last_id, size_t max,
                      struct sh_backfill *bf);

/* For /stats. */
struct sh_redis_status {
  bool up;           /* both connections work */
  uint64_t last_seq; /* id of the newest entry read (0: none) */
  uint64_t lag_ms;   /* how old the newest entry read was when read; 0
                        when the reader is caught up */
};
void sh_redis_status(struct sh_redis *r, struct sh_redis_status *st);

#endif /* SH_ENGINE_H */
