/* watch.h - the watcher thread: stream sockets whose peer hangs up or
 * that become writable, and the hub's half-second housekeeping tick.
 *
 * DESIGN
 *   libmicrohttpd 0.9.75 does not watch a suspended connection's socket
 *   and never asks epoll for EPOLLRDHUP, so a client that closes (or whose
 *   process is killed: the kernel sends the FIN) is only found at the next
 *   failed send: a heartbeat, up to two intervals later. Meanwhile it holds
 *   a slot counted against max_clients.
 *
 *   The watcher closes that gap with one epoll set of its own: each stream
 *   socket is added once, when the stream is admitted, for EPOLLRDHUP only,
 *   edge-triggered, with (fd, registry generation) as its key (the
 *   epoll_ctl() calls on stream sockets are sockio.c's: this module hands
 *   the set and the key to the client, sh_client_watch()). Delivery
 *   costs nothing extra (no epoll_ctl per event or per suspend); the
 *   kernel drops the registration when MHD closes the socket. On a hang-up
 *   the watcher looks the client up in the registry (stale keys of reused
 *   fds do not match the generation) and ends its stream, resuming it if
 *   parked, so its slot is free within milliseconds.
 *
 *   Peers that vanish without a FIN (network loss) are still found by the
 *   heartbeat.
 *
 *   The same registration finishes direct writes the socket took only in
 *   part (sockio.h): a tail switches it to EPOLLOUT as well until the tail
 *   is out, and back, so writability wakes this thread only then.
 *
 *   Since the thread wakes at least every SH_WATCH_TICK_MS anyway, it also
 *   runs the hub's housekeeping then (the tick function given to
 *   sh_watch_start(): hub.c, housekeeping), so no other thread is needed
 *   for it.
 *
 * Threads: the watcher thread runs the loop and the tick; sh_watch_add()
 * runs on MHD worker threads (epoll_ctl is thread-safe; the registration
 * itself is made under the client lock, sockio.h); start and stop on the
 * control thread. Every field is immutable while the thread runs.
 */
#ifndef SH_WATCH_H
#define SH_WATCH_H

#include <pthread.h>
#include <stdbool.h>

#include "log.h"
#include "registry.h"

#define SH_WATCH_TICK_MS 500

struct sh_watch {
  int epfd;    /* the epoll set of stream sockets */
  int stop_fd; /* eventfd: written once to stop */
  pthread_t thread;
  bool running;            /* control thread */
  struct sh_registry *reg; /* where keys are looked up */
  struct sh_log *log;
  void (*tick)(void *arg); /* housekeeping, every tick */
  void *tick_arg;
};

/* Create the epoll set and start the thread, which finds clients in reg
 * and calls tick(arg) every SH_WATCH_TICK_MS. Returns 0 or -errno. */
int sh_watch_start(struct sh_watch *w, struct sh_registry *reg,
                   struct sh_log *log, void (*tick)(void *arg), void *arg);

/* Stop and join the thread; close the descriptors. Idempotent. */
void sh_watch_stop(struct sh_watch *w);

/* Watch c's socket (c registered, so c->gen is set). Failures only lose
 * the early notice (the heartbeat still finds the peer) and the tails of
 * direct writes (such a write ends the stream instead). */
void sh_watch_add(struct sh_watch *w, struct sh_client *c);

#endif /* SH_WATCH_H */
