/* pubqueue.c - bounded publisher -> broadcaster queue (see pubqueue.h). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "pubqueue.h"
#include "sync.h"

int sh_pubqueue_init(struct sh_pubqueue *q, size_t cap)
{
  if (0 == cap)
    return -EINVAL;
  q->items = calloc(cap, sizeof(*q->items));
  if (NULL == q->items)
    return -ENOMEM;
  sh_mutex_init(&q->lock);
  sh_cond_init(&q->nonempty);
  sh_cond_init(&q->room);
  q->sleepers = 0;
  q->cap = cap;
  q->head = 0;
  q->count = 0;
  q->last_seq = 0;
  q->closed = false;
  q->nudged = false;
  q->waiters = NULL;
  q->waiters_tail = &q->waiters;
  return 0;
}

void sh_pubqueue_destroy(struct sh_pubqueue *q)
{
  if (NULL == q->items)
    return;
  while (q->count > 0) {
    sh_frame_unref(q->items[q->head]);
    q->head = (q->head + 1) % q->cap;
    q->count--;
  }
  sh_cond_destroy(&q->nonempty);
  sh_cond_destroy(&q->room);
  sh_mutex_destroy(&q->lock);
  free(q->items);
  q->items = NULL;
}

int sh_pubqueue_reserve(struct sh_pubqueue *q, uint64_t *seq)
{
  sh_mutex_lock(&q->lock);
  if (q->closed || q->count == q->cap) {
    int rc = q->closed ? -ESHUTDOWN : -EAGAIN;

    sh_mutex_unlock(&q->lock);
    return rc;
  }
  *seq = q->last_seq + 1;
  return 0;
}

int sh_pubqueue_reserve_wait(struct sh_pubqueue *q, uint64_t *seq,
                             long long deadline_ms)
{
  sh_mutex_lock(&q->lock);
  while (!q->closed && q->count == q->cap) {
    int timed_out = 0;

    q->sleepers++;
    if (deadline_ms < 0)
      sh_cond_wait(&q->room, &q->lock);
    else
      timed_out = ETIMEDOUT
                  == sh_cond_wait_until(&q->room, &q->lock, deadline_ms);
    q->sleepers--;
    if (timed_out && !q->closed && q->count == q->cap) {
      sh_mutex_unlock(&q->lock);
      return -EAGAIN;
    }
  }
  if (q->closed) {
    sh_mutex_unlock(&q->lock);
    return -ESHUTDOWN;
  }
  *seq = q->last_seq + 1;
  return 0;
}

void sh_pubqueue_commit(struct sh_pubqueue *q, struct sh_frame *f)
{
  if (0 != f->seq) /* a notice (the Redis engine's) numbers nothing */
    q->last_seq = f->seq;
  q->items[(q->head + q->count) % q->cap] = f;
  q->count++;
  sh_cond_signal(&q->nonempty);
  sh_mutex_unlock(&q->lock);
}

void sh_pubqueue_cancel(struct sh_pubqueue *q)
{
  sh_mutex_unlock(&q->lock);
}

bool sh_pubqueue_park(struct sh_pubqueue *q, struct sh_pubwaiter *w)
{
  bool parked = false;

  sh_mutex_lock(&q->lock);
  if (!q->closed && q->count == q->cap) {
    w->suspend(w);
    w->next = NULL;
    *q->waiters_tail = w;
    q->waiters_tail = &w->next;
    parked = true;
  }
  sh_mutex_unlock(&q->lock);
  return parked;
}

/* take_waiters() without looking at deadlines. */
#define NO_EXPIRY (-1LL)

/* Detach, oldest first, the first `room` waiters and, unless now_ms is
 * NO_EXPIRY, every waiter whose deadline has passed. Call with q->lock
 * held, then wake_all() the result without it. Waking only as many as
 * there are free places keeps a crowd of held publishers from all waking
 * to find one place each pop. */
static struct sh_pubwaiter *take_waiters(struct sh_pubqueue *q, size_t room,
                                         long long now_ms)
{
  struct sh_pubwaiter *out = NULL, **otail = &out, **link = &q->waiters;

  while (NULL != *link && (room > 0 || NO_EXPIRY != now_ms)) {
    struct sh_pubwaiter *w = *link;

    if (0 == room && w->deadline_ms > now_ms) { /* kept: not expired */
      link = &w->next;
      continue;
    }
    if (room > 0)
      room--;
    *link = w->next;
    w->next = NULL;
    *otail = w;
    otail = &w->next;
  }
  if (NULL == *link)
    q->waiters_tail = link;
  return out;
}

static void wake_all(struct sh_pubwaiter *w)
{
  while (NULL != w) {
    struct sh_pubwaiter *next = w->next; /* w may be gone after wake */

    w->wake(w);
    w = next;
  }
}

void sh_pubqueue_wake_expired(struct sh_pubqueue *q, long long now_ms)
{
  struct sh_pubwaiter *woken;

  sh_mutex_lock(&q->lock);
  /* Also any the pops left parked while places are free (a woken
   * publisher that did not take its place), so none waits for nothing. */
  woken = take_waiters(q, q->closed ? SIZE_MAX : q->cap - q->count, now_ms);
  sh_mutex_unlock(&q->lock);
  wake_all(woken);
}

size_t sh_pubqueue_pop(struct sh_pubqueue *q, struct sh_frame **out, size_t max,
                       long long deadline_ms, bool *closed)
{
  struct sh_pubwaiter *woken = NULL;
  size_t n = 0;

  sh_mutex_lock(&q->lock);
  while (0 == q->count && !q->closed && !q->nudged) {
    if (ETIMEDOUT == sh_cond_wait_until(&q->nonempty, &q->lock, deadline_ms))
      break;
  }
  q->nudged = false;
  while (n < max && q->count > 0) {
    out[n++] = q->items[q->head];
    q->items[q->head] = NULL;
    q->head = (q->head + 1) % q->cap;
    q->count--;
  }
  *closed = q->closed;
  if (n > 0) {
    woken = take_waiters(q, q->cap - q->count, NO_EXPIRY);
    if (q->sleepers > 0)
      sh_cond_broadcast(&q->room);
  }
  sh_mutex_unlock(&q->lock);
  wake_all(woken);
  return n;
}

void sh_pubqueue_nudge(struct sh_pubqueue *q)
{
  sh_mutex_lock(&q->lock);
  q->nudged = true;
  sh_cond_signal(&q->nonempty);
  sh_mutex_unlock(&q->lock);
}

void sh_pubqueue_close(struct sh_pubqueue *q)
{
  struct sh_pubwaiter *woken;

  sh_mutex_lock(&q->lock);
  q->closed = true;
  woken = take_waiters(q, SIZE_MAX, NO_EXPIRY);
  sh_cond_broadcast(&q->nonempty);
  sh_cond_broadcast(&q->room);
  sh_mutex_unlock(&q->lock);
  wake_all(woken);
}

size_t sh_pubqueue_depth(struct sh_pubqueue *q, size_t *waiting)
{
  const struct sh_pubwaiter *w;
  size_t n, parked = 0;

  sh_mutex_lock(&q->lock);
  n = q->count;
  for (w = q->waiters; NULL != w; w = w->next)
    parked++; /* bounded by the connection limit; rare and short */
  if (NULL != waiting)
    *waiting = parked + q->sleepers;
  sh_mutex_unlock(&q->lock);
  return n;
}
