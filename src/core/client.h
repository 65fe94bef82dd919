/* client.h - one event-stream client: its ring and its suspend/resume state.
 *
 * Purpose: the meeting point of the two threads that touch a stream. The
 * broadcaster pushes frames into the client's ring and resumes the MHD
 * connection if it is parked; the connection's MHD worker thread runs the
 * content reader, which drains the ring into MHD's send buffer and parks
 * (suspends) the connection when the ring is empty. Parked connections
 * cost no CPU: MHD takes them out of its epoll set.
 *
 * What is done to the stream's socket beside MHD (direct writes and their
 * tails, shutdowns, the buffer release, the watcher's registration) is
 * sockio.h's; the client holds its state in `io` and calls it under
 * `lock`, except for the buffer release (sockio.h names every thread).
 *
 * Thread-safety: `lock` guards ring, suspended, closing, cut, hung_up,
 * gone, last_seq and io (but io's scratch fields, reader thread only).
 *   - MHD worker thread owning the connection: sh_client_read(),
 *     sh_client_gone() (from the response's free callback),
 *     sh_client_watch() (at admission).
 *   - broadcaster and fan-out helper threads: sh_client_deliver();
 *     the broadcaster's max_buffered trim: sh_client_pending(),
 *     sh_client_cut().
 *   - control thread (ssehub_stop): sh_client_end().
 *   - hang-up watcher thread: sh_client_hangup(), sh_client_writable().
 * Lock order (doc/internals.md, line 1): the client lock is taken inside
 * MHD's response mutex (held around the reader) and takes MHD's cleanup
 * mutex (suspend/resume); never with the registry lock or another
 * client's lock.
 *
 * Suspend/resume protocol (libmicrohttpd 0.9.75 rules):
 *   - only the reader suspends, and only in a call that returns 0;
 *   - whoever sees suspended == true, under the lock, clears it and calls
 *     MHD_resume_connection() exactly once;
 *   - once gone is set (the stream's free callback ran) the connection
 *     pointer is dead and nobody may resume it.
 *
 * Ownership: reference counted. sh_client_new() returns one reference,
 * which the HTTP layer hands to the MHD response (dropped in its free
 * callback); the registry and broadcaster snapshots take their own.
 */
#ifndef SH_CLIENT_H
#define SH_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "iplimit.h"
#include "ring.h"
#include "sockio.h"

struct sh_topic;

/* Why a stream ended, for the access log: the first reason set wins. */
enum sh_end {
  SH_END_NONE,      /* none seen: libmicrohttpd closed it (timeout, ...) */
  SH_END_HANGUP,    /* the peer went away */
  SH_END_SLOW,      /* its ring overflowed (client_buffer) */
  SH_END_MEMORY,    /* cut by the max_buffered ceiling */
  SH_END_STOPPING,  /* ended by ssehub_stop() */
  SH_END_SEND_ERROR /* a direct write failed half-way */
};

/* clang-format off */
struct sh_client {
  pthread_mutex_t lock;
  struct sh_ring ring;          /* guarded by lock */
  bool suspended;               /* guarded by lock: the reader parked us */
  bool closing;                 /* guarded by lock: end after draining */
  bool cut;                     /* guarded by lock: overflowed, end now */
  bool hung_up;                 /* guarded by lock: the peer closed */
  bool gone;                    /* guarded by lock: conn no longer valid */
  enum sh_end end;              /* guarded by lock: why it ends (first) */
  long long started_ms;         /* immutable: admission (sh_now_ms), set
                                   only when an access log is wanted */
  atomic_uint refs;
  struct MHD_Connection *conn;  /* immutable; NULL in unit tests */
  void *owner;                  /* immutable; the hub, for callbacks */
  size_t reg_slot;              /* guarded by the registry lock */
  bool registered;              /* guarded by the registry lock */
  uint32_t gen;                 /* guarded by the registry lock */
  uint64_t last_seq;            /* guarded by lock: newest seq queued */
  char **topics;                /* immutable: subscribed topics (owned) */
  unsigned ntopics;             /* immutable */
  struct sh_topic_link *links;  /* guarded by the registry lock */
  struct sh_ipkey ip;           /* immutable: the peer's address */
  bool ip_counted;              /* immutable: holds a per-address slot */
  struct sh_sockio io;          /* the socket beside MHD (sockio.h):
                                   guarded by lock, but for its immutable
                                   fd, direct, n and buffered, and its
                                   reader-only scratch fields. The ring's
                                   bytes count in io.buffered too, and a
                                   hang-up in io.n->hangups */
};
/* clang-format on */

/* A client's place in one topic's subscriber list (registry.c). */
struct sh_topic_link {
  struct sh_topic *topic;
  size_t slot;
};

/* Create a client with one reference. Ring bounds as in sh_ring_init().
 * Returns NULL when out of memory. */
struct sh_client *sh_client_new(struct MHD_Connection *conn, int fd,
                                uint32_t init_slots, uint32_t max_slots,
                                size_t max_bytes);

/* Subscribe a new (unregistered) client to copies of topics[0..n).
 * Returns 0 or -ENOMEM. */
int sh_client_set_topics(struct sh_client *c, const char *const *topics,
                         unsigned n);

static inline struct sh_client *sh_client_ref(struct sh_client *c)
{
  atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  return c;
}

/* Drop a reference; the last one frees the ring and the client. */
void sh_client_unref(struct sh_client *c);

/* Queue a frame before the stream starts (the ":ok" preamble); the caller
 * is the only user of the client. Returns 0 or a sh_ring_push() error. */
int sh_client_preload(struct sh_client *c, struct sh_frame *f);

/* Register c's socket in the hang-up watcher's epoll set epfd under key
 * (sh_sockio_watch(): where a direct write's tail also asks for
 * EPOLLOUT). Returns 0 or -errno. */
int sh_client_watch(struct sh_client *c, int epfd, uint64_t key);

/* Hang-up watcher: c's socket became writable; send what is left of a
 * direct write, and once it is all out let MHD send what queued up. */
void sh_client_writable(struct sh_client *c);

/* Broadcaster: append frames[0..n) and wake the connection if parked
 * (or write them directly, see sockio.h).
 * Frames whose seq is not above last_seq are skipped: they were replayed
 * at admission, or reached the client through another of its topics, so
 * every event is queued once. Returns the number of frames queued (0 for
 * a client that is ending), or -ENOBUFS when the ring overflowed: the
 * client has then been cut off (its queued frames are released at once
 * and the connection is made to fail promptly, even if the peer is not
 * reading). */
int sh_client_deliver(struct sh_client *c, struct sh_frame *const *frames,
                      size_t n);

/* MHD content reader body: copy pending bytes into buf. Returns the byte
 * count, or 0 after suspending the connection (ring empty), or
 * MHD_CONTENT_READER_END_OF_STREAM when ending cleanly. A stream cut off
 * or hung up ends with a failed send: its socket is shut down and 1 is
 * returned (see sh_sockio_end_now() for why); without a socket (unit
 * tests), MHD_CONTENT_READER_END_WITH_ERROR. */
ssize_t sh_client_read(struct sh_client *c, char *buf, size_t max);

/* Control thread: end the stream once its ring is drained; wakes it.
 * last (may be NULL; the caller keeps its reference) is queued after
 * what the ring holds, the stream's final frame (ssehub_stop's jittered
 * "retry:"), unless the stream is already ending, is behind a direct
 * write's tail (a peer that far behind would hold up the stop: the tail
 * is dropped, and nothing may follow a cut chunk), or its ring is full. */
void sh_client_end(struct sh_client *c, struct sh_frame *last);

/* Cut the client off as if it overflowed (max_buffered enforcement).
 * Returns the bytes it had pending (ring and tail, as
 * sh_client_pending()), 0 if it was already ending or had none. */
size_t sh_client_cut(struct sh_client *c);

/* Unsent bytes queued for the client (takes the lock). */
size_t sh_client_pending(struct sh_client *c);

/* Watcher: the peer closed its end; end the stream now (wakes it).
 * A stream's hang-up is counted once, whoever notices it first (this, or
 * a direct write that fails). Returns false if the stream was already
 * ending that way or cut off (our own shutdown() of its socket wakes the
 * watcher again). */
bool sh_client_hangup(struct sh_client *c);

/* Free callback: the connection is going away; never touch conn again.
 * Returns why the stream ended (SH_END_NONE: nobody of ours ended it). */
enum sh_end sh_client_gone(struct sh_client *c);

/* The access log's word for an end reason ("peer_hangup", ...). */
const char *sh_end_name(enum sh_end e);

#endif /* SH_CLIENT_H */
