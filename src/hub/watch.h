/* watch.h - notices peers that hang up while their stream is parked, and
 * requests that never finish their headers.
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
 *   Request deadline (slow-loris): MHD's connection timeout counts idle
 *   time, so a client that trickles one byte a second, or half-closes in
 *   the middle of a request, keeps a connection for that long. Every
 *   connection is noted when MHD accepts it (NOTIFY_CONNECTION) and
 *   forgotten while a request is complete (headers, and for a publish
 *   its body) until it has been answered, when a kept-alive connection's
 *   clock starts again; the same thread shuts down, every half second, those older than
 *   header_timeout. MHD then closes them as failed. Established streams
 *   are never affected. The entry is freed in MHD's close notification,
 *   which comes before MHD closes the socket, and the shutdown is done
 *   under the same lock, so a reused fd number is never hit.
 *
 *   Every half second it also wakes held publishes whose wait ran out
 *   (pubqueue.h), so their 503 is not late behind a long fan-out round.
 *
 *   The same thread also gives freed memory back to the system after many
 *   clients left (malloc_trim), so RSS returns near its baseline.
 *
 * Threads: the watcher thread; sh_watch_add() from MHD worker threads
 * (epoll_ctl is thread-safe; the registration itself is made under the
 * client lock, sockio.h); start/stop from the control thread.
 */
#ifndef SH_WATCH_H
#define SH_WATCH_H

#include <pthread.h>
#include <stdbool.h>

#include <microhttpd.h>

struct ssehub;
struct sh_client;

/* A connection whose first request has not reached the hub yet. */
struct sh_pending {
  int fd;
  long long start_ms;
  bool listed;                   /* guarded by plock */
  struct sh_pending *prev, *next; /* guarded by plock */
};

struct sh_watch {
  int epfd;          /* immutable while running */
  int stop_fd;       /* eventfd: written once to stop the thread */
  pthread_t thread;
  bool running;      /* control thread */
  pthread_mutex_t plock;   /* guards the pending list */
  struct sh_pending pending; /* list head; oldest first */
  long long header_timeout_ms; /* immutable; 0 = no deadline */
  bool plock_ready;        /* control thread */
};

/* Create the epoll set and start the thread. Returns 0 or -errno. */
int sh_watch_start(struct ssehub *hub);

/* Stop and join the thread; close the descriptors. MHD may still send
 * close notifications afterwards (while it stops). */
void sh_watch_stop(struct ssehub *hub);

/* Release what is left, once MHD has stopped (ssehub_free). */
void sh_watch_destroy(struct ssehub *hub);

/* MHD_OPTION_NOTIFY_CONNECTION callback (cls: the hub): notes new
 * connections for the header deadline and forgets closed ones. */
void sh_watch_connection(void *cls, struct MHD_Connection *conn,
                         void **socket_context,
                         enum MHD_ConnectionNotificationCode code);

/* The connection's first request reached the hub: no deadline any more. */
void sh_watch_admitted(struct ssehub *hub, struct MHD_Connection *conn);

/* A request was answered and the connection stays open for the next: the
 * deadline runs again for that one. */
void sh_watch_rearm(struct ssehub *hub, struct MHD_Connection *conn);

/* Watch c's socket (c registered, so c->gen is set). Failures only lose
 * the early notice (the heartbeat still finds the peer) and the tails of
 * direct writes (such a write ends the stream instead). */
void sh_watch_add(struct ssehub *hub, struct sh_client *c);

#endif /* SH_WATCH_H */
