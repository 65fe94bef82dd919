/* registry.c - the set of live stream clients (see registry.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "siphash.h"
#include "sync.h"

#define INITIAL_BUCKETS 64

/* ---- the topic table (all under reg->lock) -------------------------------- */

/* Topic names are chosen by clients: keyed SipHash (siphash.h), so that
 * no one outside can make names that share a bucket. */
static size_t hash(const struct sh_registry *reg, const char *s)
{
  return (size_t) sh_siphash(&reg->hkey, s, strlen(s));
}

static struct sh_topic *topic_find(struct sh_registry *reg, const char *name)
{
  struct sh_topic *t;

  if (NULL == reg->buckets)
    return NULL;
  for (t = reg->buckets[hash(reg, name) & (reg->nbuckets - 1)]; NULL != t;
       t = t->next)
    if (0 == strcmp(t->name, name))
      return t;
  return NULL;
}

/* Keep chains short: double the table when topics outnumber buckets. */
static int table_grow(struct sh_registry *reg)
{
  size_t n = 0 == reg->nbuckets ? INITIAL_BUCKETS : reg->nbuckets * 2;
  struct sh_topic **b = calloc(n, sizeof(*b));
  size_t i;

  if (NULL == b)
    return -ENOMEM;
  for (i = 0; i < reg->nbuckets; i++) {
    struct sh_topic *t = reg->buckets[i], *next;

    for (; NULL != t; t = next) {
      next = t->next;
      t->next = b[hash(reg, t->name) & (n - 1)];
      b[hash(reg, t->name) & (n - 1)] = t;
    }
  }
  free(reg->buckets);
  reg->buckets = b;
  reg->nbuckets = n;
  return 0;
}

static struct sh_topic *topic_get(struct sh_registry *reg, const char *name)
{
  struct sh_topic *t = topic_find(reg, name);
  size_t b;

  if (NULL != t)
    return t;
  if (reg->ntopics >= reg->nbuckets && 0 != table_grow(reg)
      && NULL == reg->buckets)
    return NULL;
  t = calloc(1, sizeof(*t));
  if (NULL == t)
    return NULL;
  t->name = strdup(name);
  if (NULL == t->name) {
    free(t);
    return NULL;
  }
  b = hash(reg, name) & (reg->nbuckets - 1);
  t->next = reg->buckets[b];
  reg->buckets[b] = t;
  reg->ntopics++;
  return t;
}

static void topic_free_if_empty(struct sh_registry *reg, struct sh_topic *t)
{
  struct sh_topic **pp;

  if (t->count > 0)
    return;
  for (pp = &reg->buckets[hash(reg, t->name) & (reg->nbuckets - 1)]; *pp != t;
       pp = &(*pp)->next)
    ;
  *pp = t->next;
  reg->ntopics--;
  free(t->subs);
  free(t->name);
  free(t);
}

static int topic_add(struct sh_topic *t, struct sh_client *c,
                     struct sh_topic_link *link)
{
  if (t->count == t->cap) {
    size_t cap = 0 == t->cap ? 4 : t->cap * 2;
    struct sh_client **subs = realloc(t->subs, cap * sizeof(*subs));

    if (NULL == subs)
      return -ENOMEM;
    t->subs = subs;
    t->cap = cap;
  }
  link->topic = t;
  link->slot = t->count;
  t->subs[t->count++] = c;
  return 0;
}

/* Remove c (whose link into t is *link) by moving the last entry into its
 * slot; that entry's own link to t must then learn its new slot. */
static void topic_remove(struct sh_topic *t, struct sh_topic_link *link)
{
  struct sh_client *last = t->subs[--t->count];
  unsigned i;

  t->subs[link->slot] = last;
  for (i = 0; i < last->ntopics; i++)
    if (last->links[i].topic == t)
      last->links[i].slot = link->slot;
  link->topic = NULL;
}

static void unlink_topics(struct sh_registry *reg, struct sh_client *c)
{
  unsigned i;

  for (i = 0; i < c->ntopics; i++) {
    struct sh_topic *t = c->links[i].topic;

    if (NULL == t)
      continue;
    topic_remove(t, &c->links[i]);
    topic_free_if_empty(reg, t);
  }
}

static int link_topics(struct sh_registry *reg, struct sh_client *c)
{
  unsigned i;

  for (i = 0; i < c->ntopics; i++) {
    struct sh_topic *t = topic_get(reg, c->topics[i]);

    /* A topic listed twice is subscribed once. */
    if (NULL != t && t->count > 0 && c == t->subs[t->count - 1])
      continue;
    if (NULL == t || 0 != topic_add(t, c, &c->links[i])) {
      if (NULL != t)
        topic_free_if_empty(reg, t);
      unlink_topics(reg, c);
      return -ENOMEM;
    }
  }
  return 0;
}

int sh_registry_init(struct sh_registry *reg, size_t max, size_t fd_cap)
{
  int rc;

  if (0 == max)
    return -EINVAL;
  rc = sh_hashkey_random(&reg->hkey);
  if (0 != rc)
    return rc;
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
  reg->buckets = NULL;
  reg->nbuckets = 0;
  reg->ntopics = 0;
  sh_mutex_init(&reg->lock);
  reg->count = 0;
  reg->max = max;
  reg->limit = max;
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
  free(reg->buckets);
  reg->items = NULL;
  reg->by_fd = NULL;
  reg->buckets = NULL;
}

void sh_registry_set_limit(struct sh_registry *reg, size_t limit)
{
  sh_mutex_lock(&reg->lock);
  reg->limit = limit < reg->max ? limit : reg->max;
  sh_mutex_unlock(&reg->lock);
}

int sh_registry_add(struct sh_registry *reg, struct sh_client *c)
{
  int rc = 0;

  sh_mutex_lock(&reg->lock);
  if (reg->closed)
    rc = -ESHUTDOWN;
  else if (reg->count >= reg->limit)
    rc = -EBUSY;
  else if (0 != link_topics(reg, c))
    rc = -ENOMEM;
  else {
    c->reg_slot = reg->count;
    c->registered = true;
    c->gen = ++reg->next_gen;
    reg->items[reg->count++] = sh_client_ref(c);
    if (c->io.fd >= 0 && (size_t) c->io.fd < reg->by_fd_cap)
      reg->by_fd[c->io.fd] = c;
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
    unlink_topics(reg, c);
    if (c->io.fd >= 0 && (size_t) c->io.fd < reg->by_fd_cap
        && c == reg->by_fd[c->io.fd])
      reg->by_fd[c->io.fd] = NULL;
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

size_t sh_registry_snapshot_topics(struct sh_registry *reg,
                                   const char *const *topics, unsigned n,
                                   struct sh_client ***buf, size_t *cap)
{
  struct sh_topic *t[SH_MAX_FRAME_TOPICS + 1];
  unsigned i, k = 0;
  size_t need = 0, count = 0, j;

  sh_mutex_lock(&reg->lock);
  for (i = 0; i < n && k < SH_MAX_FRAME_TOPICS; i++) {
    t[k] = topic_find(reg, topics[i]);
    if (NULL != t[k] && 0 != strcmp(topics[i], "*"))
      need += t[k++]->count;
  }
  t[k] = topic_find(reg, "*");
  if (NULL != t[k])
    need += t[k++]->count;
  if (need > *cap) {
    /* Rare (a topic's audience grew): grow once, to what is needed now. */
    struct sh_client **grown = realloc(*buf, need * sizeof(**buf));

    if (NULL == grown) {
      sh_mutex_unlock(&reg->lock);
      return 0;
    }
    *buf = grown;
    *cap = need;
  }
  for (i = 0; i < k; i++)
    for (j = 0; j < t[i]->count; j++)
      (*buf)[count++] = sh_client_ref(t[i]->subs[j]);
  sh_mutex_unlock(&reg->lock);
  return count;
}

size_t sh_registry_topic_count(struct sh_registry *reg)
{
  size_t n;

  sh_mutex_lock(&reg->lock);
  n = reg->ntopics;
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
