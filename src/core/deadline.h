/* deadline.h - connections that must complete a request in time.
 *
 * DESIGN
 *   A slow-loris client trickles its request (one byte a second, or a
 *   half-close in the middle), and libmicrohttpd's connection timeout
 *   only counts idle time, so such a client would keep its connection for
 *   as long as it likes. Every connection gets an entry here when it is
 *   accepted; the entry leaves the list while a request is complete
 *   (headers, and a publish's body) and comes back, with a new start,
 *   when the answer is sent on a kept-alive connection. Twice a second
 *   the hub's housekeeping tick (hub.c) calls sh_deadlines_expire(), which
 *   shuts down the sockets of entries older than the timeout, oldest
 *   first; libmicrohttpd then closes them as failed. Established streams
 *   have left the list, so they are never affected.
 *
 *   The entry is freed when libmicrohttpd reports the connection closed,
 *   before it closes the socket, and the shutdown happens under the same
 *   lock, so a reused fd number is never shut down by mistake.
 *
 * Threads: MHD worker threads add, stop, restart and free entries (the
 * HTTP adapter's connection callbacks); the watcher thread expires them.
 * `lock` guards the list and every entry's links and start time.
 */
#ifndef SH_DEADLINE_H
#define SH_DEADLINE_H

#include <pthread.h>
#include <stdbool.h>

/* One connection's entry. */
struct sh_deadline {
  int fd;                          /* immutable */
  long long start_ms;              /* guarded by the list's lock */
  bool listed;                     /* guarded by the list's lock */
  struct sh_deadline *prev, *next; /* guarded by the list's lock */
};

struct sh_deadlines {
  pthread_mutex_t lock;
  struct sh_deadline head; /* list head; oldest first */
  long long timeout_ms;    /* immutable; 0 = no deadline */
};

void sh_deadlines_init(struct sh_deadlines *d, long long timeout_ms);
void sh_deadlines_destroy(struct sh_deadlines *d);

/* A new connection on fd: its entry, listed from now_ms; NULL when there
 * is no deadline or no memory (the connection then simply has none). */
struct sh_deadline *sh_deadline_add(struct sh_deadlines *d, int fd,
                                    long long now_ms);

/* Its request is complete: no deadline until sh_deadline_restart(). */
void sh_deadline_stop(struct sh_deadlines *d, struct sh_deadline *e);

/* Answered, and the connection stays open for the next request. */
void sh_deadline_restart(struct sh_deadlines *d, struct sh_deadline *e,
                         long long now_ms);

/* The connection is closing: unlist and free e (NULL-safe). */
void sh_deadline_free(struct sh_deadlines *d, struct sh_deadline *e);

/* Shut down the sockets whose entries have been listed longer than the
 * timeout at now_ms; returns how many. */
unsigned sh_deadlines_expire(struct sh_deadlines *d, long long now_ms);

#endif /* SH_DEADLINE_H */
