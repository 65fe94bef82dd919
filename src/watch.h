/* watch.h - notices peers that hang up while their stream is parked.
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
 *   edge-triggered, with (fd, registry generation) as its key. Delivery
 *   costs nothing extra (no epoll_ctl per event or per suspend); the
 *   kernel drops the registration when MHD closes the socket. On a hang-up
 *   the watcher looks the client up in the registry (stale keys of reused
 *   fds do not match the generation) and ends its stream, resuming it if
 *   parked, so its slot is free within milliseconds.
 *
 *   Peers that vanish without a FIN (network loss) are still found by the
 *   heartbeat.
 *
 * Threads: the watcher thread; sh_watch_add() from MHD worker threads
 * (epoll_ctl is thread-safe); start/stop from the control thread.
 */
#ifndef SH_WATCH_H
#define SH_WATCH_H

#include <pthread.h>
#include <stdbool.h>

struct ssehub;
struct sh_client;

struct sh_watch {
  int epfd;          /* immutable while running */
  int stop_fd;       /* eventfd: written once to stop the thread */
  pthread_t thread;
  bool running;      /* control thread */
};

/* Create the epoll set and start the thread. Returns 0 or -errno. */
int sh_watch_start(struct ssehub *hub);

/* Stop and join the thread; close the descriptors. */
void sh_watch_stop(struct ssehub *hub);

/* Watch c's socket (c registered, so c->gen is set). Failures only lose
 * the early notice (the heartbeat still finds the peer). */
void sh_watch_add(struct ssehub *hub, struct sh_client *c);

#endif /* SH_WATCH_H */
