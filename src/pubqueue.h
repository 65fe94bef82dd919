/* pubqueue.h - the bounded queue between publishers and the broadcaster.
 *
 * Purpose: ssehub_publish() formats an event into a frame on the caller's
 * thread and pushes it here; the broadcaster pops frames in batches and
 * fans each batch out. The queue is bounded: when it is full a publish is
 * refused with -EAGAIN (HTTP 503) instead of being dropped or growing
 * memory. Sequence numbers are assigned at push time under the queue lock,
 * so their order is exactly the order clients receive events in.
 *
 * Thread-safety: `lock` guards every field but cap. Any thread may push;
 * only the broadcaster pops; the control thread closes.
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

struct sh_pubqueue {
  pthread_mutex_t lock;
  pthread_cond_t nonempty;   /* signalled on push and on close */
  struct sh_frame **items;   /* guarded by lock; circular, cap entries */
  size_t cap;                /* immutable */
  size_t head;               /* guarded by lock */
  size_t count;              /* guarded by lock */
  uint64_t last_seq;         /* guarded by lock */
  bool closed;               /* guarded by lock */
};

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
void sh_pubqueue_commit(struct sh_pubqueue *q, struct sh_frame *f);
void sh_pubqueue_cancel(struct sh_pubqueue *q);

/* Pop up to max frames, waiting until at least one is queued, the queue is
 * closed, or the monotonic deadline_ms passes. Returns the number popped;
 * 0 means deadline reached or (closed && empty). Frames queued before the
 * close are still returned after it, so nothing accepted is lost. */
size_t sh_pubqueue_pop(struct sh_pubqueue *q, struct sh_frame **out, size_t max,
                       long long deadline_ms, bool *closed);

/* Refuse further pushes and wake the popper. */
void sh_pubqueue_close(struct sh_pubqueue *q);

#endif /* SH_PUBQUEUE_H */
