/* registry.h - the set of live stream clients, with its maximum.
 *
 * Purpose: the set of connected clients and its maximum. Adding a
 * client beyond the maximum fails (the HTTP layer answers 429), so an
 * excess client never enters the registry. The broadcaster does not walk
 * the registry under its lock: it takes a snapshot (an array copy with a
 * reference on each client), releases the lock and delivers from the
 * snapshot, so connects and disconnects never wait for a fan-out.
 *
 * Lookup by socket: the hang-up watcher (watch.h) learns of a closed peer
 * as (fd, generation); sh_registry_find() maps that back to the client if,
 * and only if, it is still registered under that generation, so a stale
 * event for a reused fd number is ignored.
 *
 * Topics: each topic a client subscribes to has a subscriber list in a
 * hash table, so a publish to one topic touches only that topic's
 * subscribers (and those of "*"), however many topics exist. A topic's
 * list is created with its first subscriber and freed with its last.
 * Buckets are chosen by SipHash under a key drawn at init (siphash.h):
 * names crafted to collide under a public hash cost no more than others.
 *
 * Thread-safety: `lock` guards items, count, closed, by_fd, next_gen, the
 * topic table and every client's links.
 *   - MHD worker threads: sh_registry_add() (access handler),
 *     sh_registry_remove() (response free callback).
 *   - broadcaster thread: sh_registry_snapshot().
 *   - control thread: sh_registry_close().
 *   - any thread: sh_registry_count().
 * Its place in the lock order (doc/internals.md): admission takes it
 * under the history lock; it is never held with a client lock, and no
 * other lock is taken while it is held.
 *
 * Ownership: a registered client holds one registry reference, dropped by
 * sh_registry_remove(). Snapshots hold one reference per entry, dropped by
 * sh_registry_release().
 */
#ifndef SH_REGISTRY_H
#define SH_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "protocol_limits.h"
#include "siphash.h"

struct sh_topic {
  char *name;
  struct sh_client **subs; /* guarded by the registry lock */
  size_t count;
  size_t cap;
  struct sh_topic *next; /* hash chain */
};

struct sh_registry {
  pthread_mutex_t lock;
  struct sh_client **items;  /* guarded by lock; capacity max */
  size_t count;              /* guarded by lock */
  size_t max;                /* immutable: the capacity */
  size_t limit;              /* guarded by lock: clients admitted, <= max
                                (ssehub_reload() lowers or restores it) */
  bool closed;               /* guarded by lock: no more adds */
  struct sh_client **by_fd;  /* guarded by lock: registered client per fd */
  size_t by_fd_cap;          /* immutable: fds >= this are not indexed */
  uint32_t next_gen;         /* guarded by lock */
  struct sh_topic **buckets; /* guarded by lock; nbuckets is a power of 2 */
  size_t nbuckets;
  size_t ntopics;
  struct sh_hashkey hkey; /* immutable: this table's secret hash key */
};

/* fd_cap bounds the fd lookup table (0: no lookup). Returns 0, -EINVAL
 * (max == 0), -ENOMEM, or getrandom(2)'s error for the hash key. */
int sh_registry_init(struct sh_registry *reg, size_t max, size_t fd_cap);

/* Admit at most limit clients from now on (clamped to max); clients
 * already registered above it stay. Any thread. */
void sh_registry_set_limit(struct sh_registry *reg, size_t limit);

/* Frees the array; every client must have been removed. */
void sh_registry_destroy(struct sh_registry *reg);

/* Register c (taking a reference) under all its topics and give it a new
 * c->gen. Returns 0, -EBUSY when the registry is full, -ESHUTDOWN once
 * closed or -ENOMEM; on error nothing changes. */
int sh_registry_add(struct sh_registry *reg, struct sh_client *c);

/* Unregister c and drop the registry's reference; no-op if c is not
 * registered. */
void sh_registry_remove(struct sh_registry *reg, struct sh_client *c);

/* Copy the registered clients into out (capacity >= max), taking a
 * reference on each. Returns the number copied. */
size_t sh_registry_snapshot(struct sh_registry *reg, struct sh_client **out);

/* Snapshot, as above, the clients a frame with topics[0..n) (n > 0) goes
 * to: the subscribers of each topic and of "*". A client subscribed to
 * several of them appears once per topic (sh_client_deliver() skips the
 * repeats). *buf grows as needed (*cap entries); returns the count, or 0
 * with nothing taken if growing failed. */
size_t sh_registry_snapshot_topics(struct sh_registry *reg,
                                   const char *const *topics, unsigned n,
                                   struct sh_client ***buf, size_t *cap);

/* Number of topics that have subscribers. */
size_t sh_registry_topic_count(struct sh_registry *reg);

/* Drop the references of a snapshot. */
void sh_registry_release(struct sh_client **snap, size_t n);

/* Refuse further adds, then snapshot as above. */
size_t sh_registry_close(struct sh_registry *reg, struct sh_client **out);

size_t sh_registry_count(struct sh_registry *reg);

/* The client registered on fd with generation gen, with a reference the
 * caller drops, or NULL. */
struct sh_client *sh_registry_find(struct sh_registry *reg, int fd,
                                   uint32_t gen);

#endif /* SH_REGISTRY_H */
