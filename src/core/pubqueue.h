/* pubqueue.h - the bounded queue between publishers and the broadcaster.
 *
 * Purpose: ssehub_publish() formats an event into a frame on the caller's
 * thread and pushes it here; the broadcaster pops frames in batches and
 * fans each batch out. The queue is bounded: when it is full a publish is
 * refused with -EAGAIN (HTTP 503) instead of being dropped or growing
 * memory. Sequence numbers are assigned at push time under the queue lock,
 * so their order is exactly the order clients receive events in.
 *
 * A publisher that would rather wait than be refused parks a waiter
 * (sh_pubqueue_park); the next pop wakes as many parked waiters as it
 * freed places, oldest first, to try again; the close wakes them all.
 * This is how POST /publish holds a request while the queue is full
 * (http_publish.c): a closed-loop publisher is slowed to the
 * broadcaster's pace instead of being refused, so the queue can stay
 * short, and a short queue is what bounds how long an accepted event
 * waits. A thread that may block instead sleeps in
 * sh_pubqueue_reserve_wait() (ssehub_publish_wait(), --stdin) until the
 * same pop broadcasts `room`.
 *
 * Thread-safety: `lock` guards every field but cap. Any thread may push
 * or park; only the broadcaster pops; the control thread closes. Lock
 * order (doc/internals.md): q->lock, then whatever a waiter's suspend
 * callback takes (MHD's cleanup mutex); wake callbacks run with no queue
 * lock held.
 *
 * Ownership: a successful push takes over the caller's frame reference;
 * pop hands references to the caller.
 */
#ifndef SH_PUBQUEUE_H
#define SH_PUBQUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

/* A publisher parked until there may be room. */
/* clang-format off */
struct sh_pubwaiter {
  struct sh_pubwaiter *next;                /* guarded by the queue's lock */
  long long deadline_ms;                    /* monotonic; see wake_expired */
  void (*suspend)(struct sh_pubwaiter *w);  /* called under the lock */
  void (*wake)(struct sh_pubwaiter *w);     /* called without it; w may be
                                               freed by the time it returns */
};
/* clang-format on */

/* clang-format off */
struct sh_pubqueue {
  pthread_mutex_t lock;
  pthread_cond_t nonempty;   /* signalled on push and on close */
  pthread_cond_t room;       /* broadcast by a pop that takes frames out
                                while threads sleep in reserve_wait, and
                                on close */
  unsigned sleepers;         /* guarded by lock: threads in reserve_wait */
  struct sh_frame **items;   /* guarded by lock; circular, cap entries */
  size_t cap;                /* immutable */
  size_t head;               /* guarded by lock */
  size_t count;              /* guarded by lock */
  uint64_t last_seq;         /* guarded by lock */
  bool closed;               /* guarded by lock */
  bool nudged;               /* guarded by lock: the next pop returns at
                                once, empty handed if need be */
  struct sh_pubwaiter *waiters, **waiters_tail; /* guarded by lock; FIFO */
};
/* clang-format on */

/* Returns 0, -EINVAL (cap == 0) or -ENOMEM. */
int sh_pubqueue_init(struct sh_pubqueue *q, size_t cap);

/* Drops any frames still queued. */
void sh_pubqueue_destroy(struct sh_pubqueue *q);

/* Publishing is two steps, because a frame's bytes contain its id and the
 * id contains the sequence number, which must follow queue order:
 *
 *   sh_pubqueue_reserve() checks for room and returns with q->lock HELD and
 *   *seq set to the number the next frame gets; the caller formats its
 *   frame (no other lock may be taken meanwhile), then ends the step with
 *   exactly one of sh_pubqueue_commit() (append f, which must carry that
 *   seq) or sh_pubqueue_cancel(); both release the lock.
 *
 * reserve returns 0, -EAGAIN when full or -ESHUTDOWN when closed (the lock
 * is then not held). After commit the queue owns the caller's reference
 * and f may be gone at once. */
int sh_pubqueue_reserve(struct sh_pubqueue *q, uint64_t *seq);

/* As sh_pubqueue_reserve(), but a caller that finds the queue full sleeps
 * until a pop makes room, the queue closes (-ESHUTDOWN) or the monotonic
 * deadline_ms passes (-EAGAIN); deadline_ms < 0 means no limit. For
 * threads that may block (ssehub_publish_wait()); never the broadcaster,
 * which is the thread that makes room. */
int sh_pubqueue_reserve_wait(struct sh_pubqueue *q, uint64_t *seq,
                             long long deadline_ms);
void sh_pubqueue_commit(struct sh_pubqueue *q, struct sh_frame *f);
void sh_pubqueue_cancel(struct sh_pubqueue *q);

/* The queue was full: park w. Returns false, parking nothing, when there
 * is room again or the queue is closed (try again at once). Otherwise
 * calls w->suspend(w) under the lock, so no wake can overtake it, queues w
 * and returns true. w->wake(w) follows exactly once: from a pop, which
 * wakes waiters oldest first, as many as there are free places; from
 * sh_pubqueue_wake_expired() once w->deadline_ms has passed (or places
 * stayed free); or from the close. A woken publisher may find the queue
 * full again (a new publisher came first) and park again. */
bool sh_pubqueue_park(struct sh_pubqueue *q, struct sh_pubwaiter *w);

/* Wake the waiters whose deadline_ms is at or before now_ms, so they can
 * give up (a pop may be long in coming while one fan-out round runs), and
 * as many others as there are free places. The hang-up watcher calls it
 * twice a second (watch.h). */
void sh_pubqueue_wake_expired(struct sh_pubqueue *q, long long now_ms);

/* Pop up to max frames, waiting until at least one is queued, the queue is
 * closed or nudged, or the monotonic deadline_ms passes. Returns the
 * number popped; 0 means deadline reached, nudged, or (closed && empty). Frames queued before the
 * close are still returned after it, so nothing accepted is lost. */
size_t sh_pubqueue_pop(struct sh_pubqueue *q, struct sh_frame **out, size_t max,
                       long long deadline_ms, bool *closed);

/* Make the popper's current or next sh_pubqueue_pop() return at once (0
 * frames if none are queued), so that it looks again at settings it reads
 * between pops: ssehub_reload() nudges the broadcaster after changing the
 * heartbeat, instead of the broadcaster polling for a change. */
void sh_pubqueue_nudge(struct sh_pubqueue *q);

/* Refuse further pushes and parks; wake the popper and every waiter. */
void sh_pubqueue_close(struct sh_pubqueue *q);

/* Events queued now; *waiting (if not NULL) gets the publishers waiting
 * for room (parked requests and threads in reserve_wait). Takes the lock;
 * for the metrics, not for deciding anything. */
size_t sh_pubqueue_depth(struct sh_pubqueue *q, size_t *waiting);

#endif /* SH_PUBQUEUE_H */
