/* deadline.c - connections that must complete a request in time (see
 * deadline.h). */
#include "config.h"

#include <stdlib.h>
#include <sys/socket.h>

#include "deadline.h"
#include "sync.h"

/* With the lock held: append e (the newest) at the tail. */
static void link_entry(struct sh_deadlines *d, struct sh_deadline *e)
{
  e->prev = d->head.prev;
  e->next = &d->head;
  d->head.prev->next = e;
  d->head.prev = e;
  e->listed = true;
}

/* With the lock held. */
static void unlink_entry(struct sh_deadline *e)
{
  if (!e->listed)
    return;
  e->prev->next = e->next;
  e->next->prev = e->prev;
  e->listed = false;
}

void sh_deadlines_init(struct sh_deadlines *d, long long timeout_ms)
{
  sh_mutex_init(&d->lock);
  d->head.next = d->head.prev = &d->head;
  d->timeout_ms = timeout_ms;
}

void sh_deadlines_destroy(struct sh_deadlines *d)
{
  /* Entries are freed by the connections' close notifications. */
  sh_mutex_destroy(&d->lock);
}

struct sh_deadline *sh_deadline_add(struct sh_deadlines *d, int fd,
                                    long long now_ms)
{
  struct sh_deadline *e;

  if (0 == d->timeout_ms || NULL == (e = calloc(1, sizeof(*e))))
    return NULL;
  e->fd = fd;
  e->start_ms = now_ms;
  sh_mutex_lock(&d->lock);
  link_entry(d, e);
  sh_mutex_unlock(&d->lock);
  return e;
}

void sh_deadline_stop(struct sh_deadlines *d, struct sh_deadline *e)
{
  sh_mutex_lock(&d->lock);
  unlink_entry(e);
  sh_mutex_unlock(&d->lock);
}

void sh_deadline_restart(struct sh_deadlines *d, struct sh_deadline *e,
                         long long now_ms)
{
  sh_mutex_lock(&d->lock);
  unlink_entry(e);
  e->start_ms = now_ms;
  link_entry(d, e);
  sh_mutex_unlock(&d->lock);
}

void sh_deadline_free(struct sh_deadlines *d, struct sh_deadline *e)
{
  if (NULL == e)
    return;
  sh_deadline_stop(d, e);
  free(e);
}

unsigned sh_deadlines_expire(struct sh_deadlines *d, long long now_ms)
{
  long long cutoff = now_ms - d->timeout_ms;
  unsigned n = 0;

  if (0 == d->timeout_ms)
    return 0;
  /* Oldest first, so the walk stops at the first young one. */
  sh_mutex_lock(&d->lock);
  while (d->head.next != &d->head && d->head.next->start_ms < cutoff) {
    struct sh_deadline *e = d->head.next;

    unlink_entry(e);
    shutdown(e->fd, SHUT_RDWR);
    n++;
  }
  sh_mutex_unlock(&d->lock);
  return n;
}
