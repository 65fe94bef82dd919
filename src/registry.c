/* registry.c - the set of live stream clients (see registry.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "registry.h"
#include "sync.h"

int sh_registry_init(struct sh_registry *reg, size_t max, size_t fd_cap)
{
  if (0 == max)
    return -EINVAL;
  reg->items = calloc(max, sizeof(*reg->items));
  reg->by_fd = fd_cap > 0 ? calloc(fd_cap, sizeof(*reg->by_fd)) : NULL;
  if (NULL == reg->items || (fd_cap > 0 && NULL == reg->by_fd)) {
    free(reg->items);
    free(reg->by_fd);
    reg->items = NULL;
    return -ENOMEM;
  }
  reg->by_fd_cap = fd_cap;
  reg->next_gen = 0;
  sh_mutex_init(&reg->lock);
  reg->count = 0;
  reg->max = max;
  reg->closed = false;
  return 0;
}

void sh_registry_destroy(struct sh_registry *reg)
{
  if (NULL == reg->items)
    return;
  sh_mutex_destroy(&reg->lock);
  free(reg->items);
  free(reg->by_fd);
  reg->items = NULL;
  reg->by_fd = NULL;
}

int sh_registry_add(struct sh_registry *reg, struct sh_client *c)
{
  int rc = 0;

  sh_mutex_lock(&reg->lock);
  if (reg->closed)
    rc = -ESHUTDOWN;
  else if (reg->count == reg->max)
    rc = -EBUSY;
  else {
    c->reg_slot = reg->count;
    c->registered = true;
    c->gen = ++reg->next_gen;
    reg->items[reg->count++] = sh_client_ref(c);
    if (c->fd >= 0 && (size_t) c->fd < reg->by_fd_cap)
      reg->by_fd[c->fd] = c;
  }
  sh_mutex_unlock(&reg->lock);
  return rc;
}

void sh_registry_remove(struct sh_registry *reg, struct sh_client *c)
{
  bool was = false;

  sh_mutex_lock(&reg->lock);
  if (c->registered) {
    /* Swap-remove keeps the array dense; order does not matter because
     * every client gets every event in publish order regardless. */
    struct sh_client *last = reg->items[--reg->count];

    reg->items[c->reg_slot] = last;
    last->reg_slot = c->reg_slot;
    reg->items[reg->count] = NULL;
    c->registered = false;
    if (c->fd >= 0 && (size_t) c->fd < reg->by_fd_cap
        && c == reg->by_fd[c->fd])
      reg->by_fd[c->fd] = NULL;
    was = true;
  }
  sh_mutex_unlock(&reg->lock);
  if (was)
    sh_client_unref(c);
}

size_t sh_registry_snapshot(struct sh_registry *reg, struct sh_client **out)
{
  size_t i, n;

  sh_mutex_lock(&reg->lock);
  n = reg->count;
  for (i = 0; i < n; i++)
    out[i] = sh_client_ref(reg->items[i]);
  sh_mutex_unlock(&reg->lock);
  return n;
}

void sh_registry_release(struct sh_client **snap, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    sh_client_unref(snap[i]);
}

size_t sh_registry_close(struct sh_registry *reg, struct sh_client **out)
{
  sh_mutex_lock(&reg->lock);
  reg->closed = true;
  sh_mutex_unlock(&reg->lock);
  return sh_registry_snapshot(reg, out);
}

size_t sh_registry_count(struct sh_registry *reg)
{
  size_t n;

  sh_mutex_lock(&reg->lock);
  n = reg->count;
  sh_mutex_unlock(&reg->lock);
  return n;
}

struct sh_client *sh_registry_find(struct sh_registry *reg, int fd,
                                   uint32_t gen)
{
  struct sh_client *c = NULL;

  sh_mutex_lock(&reg->lock);
  if (fd >= 0 && (size_t) fd < reg->by_fd_cap && NULL != reg->by_fd[fd]
      && gen == reg->by_fd[fd]->gen)
    c = sh_client_ref(reg->by_fd[fd]);
  sh_mutex_unlock(&reg->lock);
  return c;
}
