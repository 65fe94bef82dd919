/* sockio.h - the stream's socket beside libmicrohttpd.
 *
 * Purpose: everything ssehub does to a stream's socket behind
 * libmicrohttpd's back: direct writes to a parked stream and the tails
 * they leave, the shutdowns that end a stream at once, the release of
 * MHD's write buffer while the stream is parked, and the stream's
 * registration in the hang-up watcher's epoll set. Each is a workaround
 * for a behaviour of libmicrohttpd 0.9.75 (list below); they all live
 * here, so an upgrade has one file to read and one to trim. client.c
 * keeps the stream's state (flags, ring, suspend/resume) and calls in.
 *
 * DESIGN
 *   Who owns the socket. libmicrohttpd does: it reads the request, sends
 *   the headers and sends what the content reader returns, and it closes
 *   the descriptor. A stream the reader parked (suspended, its ring
 *   empty) has had everything sent: MHD took the socket out of its epoll
 *   set and does not read, write or close it until the stream is resumed.
 *   That idle window is the only time this module writes to the socket.
 *
 *   Why the client lock keeps the two apart. The client's `suspended`
 *   flag is set by the reader (which then calls MHD_suspend_connection())
 *   and cleared by whoever calls MHD_resume_connection(), both only under
 *   the client lock; a direct write happens only under that lock, with
 *   suspended set. So MHD cannot get the socket back in the middle of a
 *   write. A write the socket takes only in part leaves a tail, and while
 *   there is one nobody resumes the stream: the watcher finishes the tail
 *   first (client.c resumes the stream then), because MHD must never
 *   write between the two halves of a chunk. Only a stream that is ending
 *   loses its tail (sh_sockio_drop_tail()): one cut off or hung up is
 *   then shut down before MHD sends anything (sh_sockio_end_now()), so
 *   its chunk stays cut and the peer reconnects; one ended by a stop
 *   (sh_client_end()) is resumed to drain its ring and end cleanly, so
 *   there MHD does write after the cut chunk (accepted so that a peer far
 *   behind cannot hold up the stop; the peer's chunked decoding fails).
 *   Every call here that touches the socket runs under the client lock
 *   with the client not gone (its free callback not run). MHD closes the
 *   descriptor only after that callback, which takes the lock and marks
 *   the client gone first, and the shutdowns (sh_sockio_abort(),
 *   sh_sockio_end_now()) never close it: so no call here ever hits a
 *   reused descriptor number.
 *
 *   Threads that touch a stream's socket, and the lock each holds:
 *     - broadcaster and fan-out helper threads (broadcaster.h, fanpool.h),
 *       client lock held: sh_sockio_write(), direct writes (a tail also
 *       switches the watcher's registration to EPOLLOUT);
 *       sh_sockio_abort(), the cut-off shutdown of a stream whose ring
 *       overflowed (sh_client_deliver()) or that the max_buffered trim
 *       picked (sh_client_cut()); sh_sockio_drop_tail() for a stream it
 *       ends.
 *     - hang-up watcher thread (watch.h), client lock held:
 *       sh_sockio_writable(), finishing a tail (then back to hang-ups
 *       only); sh_sockio_drop_tail() when the peer hung up.
 *     - MHD worker thread owning the connection:
 *       client lock held: sh_sockio_watch() at admission (EPOLL_CTL_ADD),
 *       sh_sockio_end_now() in the content reader, sh_sockio_drop_tail()
 *       from the free callback;
 *       no lock: sh_sockio_filled() and sh_sockio_parked(), the buffer
 *       release. They touch no socket and no field another thread uses:
 *       only MHD's buffer, which the reader owns until it returns (resumed
 *       or not), and the scratch fields below, which only the reader's
 *       thread uses; the broadcaster must not wait behind a madvise().
 *     - control thread (ssehub_stop() -> sh_client_end()), client lock
 *       held: sh_sockio_drop_tail(); a peer that far behind would hold up
 *       the stop.
 *     - whoever drops the client's last reference: sh_sockio_destroy(),
 *       no lock (nobody else can reach the client).
 *
 * WORKAROUNDS (libmicrohttpd 0.9.75): what forces each, and what to
 * delete on an upgrade. Measure before deleting (scripts/bench.py).
 *   1. Direct writes: sh_sockio_write(), enum sh_direct, SH_DIRECT_*.
 *      A delivery through MHD to a parked stream costs a resume (a mutex
 *      and an eventfd write), a wake-up of the worker, a walk of the
 *      worker's whole suspended list (resume_suspended_connections(),
 *      O(suspended) per wake-up), two reader calls and a suspend. Delete
 *      when an MHD makes that cheap: then also 2, the EPOLLOUT half of 3,
 *      frame.h's chunk header, http_sse.c's direct_mode() and the
 *      direct_writes/direct_tails counters.
 *   2. Tails: struct sh_tail, sh_sockio_writable(), sh_sockio_drop_tail(),
 *      sh_sockio_pending(). Forced by 1 (a non-blocking write may be taken
 *      in part) and by MHD sending whatever the reader returns, so it must
 *      not be resumed before the cut chunk is whole. Goes with 1.
 *   3. Watcher registration: sh_sockio_watch() (EPOLL_CTL_ADD, EPOLLRDHUP,
 *      edge-triggered) and its MODs to and from EPOLLOUT. 0.9.75 asks
 *      epoll for no EPOLLRDHUP and takes a parked socket out of its set,
 *      so a peer that hangs up is found only by the next failed send.
 *      EPOLLRDHUP arrived in MHD 1.0.0 (08f933a6), for the connections in
 *      its epoll set; its documentation says a suspended connection's
 *      disconnect is not detected, so keep the EPOLLRDHUP registration
 *      unless that changed; the EPOLLOUT switching goes with 1-2.
 *   4. sh_sockio_end_now(): shutdown and one byte instead of
 *      MHD_CONTENT_READER_END_WITH_ERROR, which 0.9.75 marks closed but
 *      leaves off its cleanup list (details at the function). Delete when
 *      MHD_connection_handle_idle() reaches its CLOSED state after a
 *      reader error; test_server_hangups_behind_a_stalled_reader_are_closed
 *      (check_server.c) tells.
 *   5. sh_sockio_abort(): the cut-off shutdown. MHD never calls the reader
 *      of a write-blocked stream, and 0.9.75 offers us no call that closes
 *      a connection from another thread, so a "cut" flag alone would act
 *      only at the connection timeout. Delete if MHD gains such a call.
 *   6. Buffer release: sh_sockio_filled(), sh_sockio_parked(), the
 *      scratch fields (this was pages.c). 0.9.75 zeroes the read buffer's
 *      unused half when the response starts and hands it to the reader as
 *      its write buffer, so a parked stream keeps its whole memory pool
 *      resident. Delete if an MHD gives that memory back (RSS per idle
 *      stream in scripts/bench.py).
 */
#ifndef SH_SOCKIO_H
#define SH_SOCKIO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sh_counters;
struct sh_frame;
struct sh_tail;

/* Direct writes. A parked (suspended) stream with an empty ring is idle
 * for libmicrohttpd: MHD has sent everything it had and does not touch the
 * socket until the stream is resumed. The broadcaster then writes a batch
 * straight to the socket, with the framing MHD would have used, instead of
 * queueing it and resuming the connection: one non-blocking send instead
 * of a resume, an eventfd wake-up, two reader calls and a suspend in a
 * worker thread.
 * If the socket takes only part of the write (a peer far behind), the
 * rest is a "tail": the module keeps references to its frames, the
 * hang-up watcher is asked for EPOLLOUT and finishes it, and until then
 * new frames wait in the ring and the connection stays parked (MHD must
 * not write between the two halves of a chunk). Batches over
 * SH_DIRECT_MAX go through the ring and MHD.
 * Not possible over TLS (the bytes must go through the TLS session). */
/* clang-format off */
enum sh_direct {
  SH_DIRECT_NONE,      /* always go through the ring (TLS, HEAD, tests) */
  SH_DIRECT_CHUNKED,   /* HTTP/1.1: each frame as its own chunk, as
                          the frame holds it (sh_frame_chunk()) */
  SH_DIRECT_IDENTITY   /* HTTP/1.0: the bytes as they are */
};
/* clang-format on */

/* Largest batch written directly, in bytes and in frames; larger ones go
 * through the ring. */
#define SH_DIRECT_MAX 16384
#define SH_DIRECT_BATCH 64

/* A parked stream gives MHD's unused buffer back at most this often
 * after the first time (sh_sockio_parked()). */
#define SH_SCRATCH_RELEASE_MS 10000

/* One stream's socket, as this module sees it; embedded in struct
 * sh_client as `io`.
 * Guarded by the client lock, except: fd, direct, n and buffered are
 * immutable once the client is shared (the HTTP layer sets direct, n and
 * buffered after sh_sockio_init(), before that); the scratch_* fields are
 * used by the connection's MHD worker thread only, in the content reader. */
/* clang-format off */
struct sh_sockio {
  int fd;                       /* immutable; the socket, or -1 */
  enum sh_direct direct;        /* immutable: how a parked stream may be
                                   written to directly (above) */
  struct sh_counters *n;        /* immutable: the hub's counters, or NULL */
  atomic_int_fast64_t *buffered; /* immutable: the hub's total of unsent
                                   bytes, or NULL */
  atomic_uint_fast64_t sent;    /* bytes of this stream handed to the
                                   socket or to MHD (the access log);
                                   atomic: the reader adds without the
                                   client lock */
  struct sh_tail *tail;         /* client lock: the unsent rest of a
                                   direct write, or NULL (above) */
  int watch_fd;                 /* client lock: the hang-up watcher's
                                   epoll set (finishes tails), or -1 */
  uint64_t watch_key;           /* client lock: our key in that set */
  bool scratch_clean;           /* reader thread only: MHD's buffer has
                                   been released and not written past its
                                   first page since */
  uintptr_t scratch_dirty;      /* reader thread only: end of the bytes
                                   the reader has written since */
  long long scratch_ms;         /* reader thread only: when released */
};
/* clang-format on */

/* What sh_sockio_write() did. */
/* clang-format off */
enum sh_sockio_result {
  SH_SOCKIO_WRITTEN, /* all of it went out (or nothing was to be sent) */
  SH_SOCKIO_TAIL,    /* part went out; the rest is a tail, finished by
                        sh_sockio_writable() when the watcher says so */
  SH_SOCKIO_QUEUE,   /* nothing was written: queue the batch through the
                        ring and MHD (no direct mode, a tail pending, the
                        batch too large, or the socket full) */
  SH_SOCKIO_GONE,    /* the send failed: the peer is gone; end the stream */
  SH_SOCKIO_BROKEN   /* part went out and the rest cannot be kept (no
                        watcher, no memory): its chunk stays cut; end the
                        stream */
};
/* clang-format on */

/* A socket with no direct mode, no counters, no watcher and no tail; the
 * owner sets direct, n and buffered before sharing it. fd may be -1. */
void sh_sockio_init(struct sh_sockio *io, int fd);

/* Drop the tail, if any (the last reference to the client). */
void sh_sockio_destroy(struct sh_sockio *io);

/* Register the socket in the hang-up watcher's epoll set epfd under key,
 * for EPOLLRDHUP, edge-triggered; a tail switches the registration to
 * EPOLLOUT as well until it is out. Once per stream, at admission.
 * Returns 0, or -errno (-EBADF without a socket): then the stream is
 * found only at its next failed send and can keep no tail. */
int sh_sockio_watch(struct sh_sockio *io, int epfd, uint64_t key);

/* Write frames[0..n) straight to the socket of a parked, idle stream
 * (enum sh_direct). Frames of 0 bytes are skipped: as a chunk one would
 * end the stream. *sent is the number of frames written (or kept in a
 * tail). The caller holds the client lock with the stream parked and
 * its ring empty: the lock is what keeps it parked meanwhile (a resume
 * needs it), and the send never blocks (MSG_DONTWAIT), so holding it
 * across this one syscall is safe. Counts bytes_sent, direct_writes and
 * direct_tails. */
enum sh_sockio_result sh_sockio_write(struct sh_sockio *io,
                                      struct sh_frame *const *frames, size_t n,
                                      size_t *sent);

/* The watcher saw the socket writable: send more of the tail. Returns 1
 * when the tail is all out (dropped, and the registration back to
 * hang-ups only: MHD may have the stream again), 0 when the socket is
 * full again or there is no tail, -1 on a send error (the peer is gone;
 * the tail is kept for the caller to drop). Client lock held. */
int sh_sockio_writable(struct sh_sockio *io);

/* Bytes of the tail not sent yet; 0 when there is no tail. */
size_t sh_sockio_pending(const struct sh_sockio *io);

/* Forget the tail and release its frames; nothing more of it is sent.
 * Only for a stream that is ending: the chunk on the wire stays cut,
 * which the peer sees as a broken stream and reconnects from its last
 * complete event (at a stop MHD still writes after it: DESIGN above).
 * Client lock held. */
void sh_sockio_drop_tail(struct sh_sockio *io);

/* Shut the socket down (both ways) so that a pending or later send of
 * MHD's fails at once: a stream cut off while MHD is writing to it.
 * Without a socket, nothing. Client lock held. */
void sh_sockio_abort(struct sh_sockio *io);

/* The content reader ending a stream at once (cut off, or its peer hung
 * up): shuts the socket down and returns 1 with one byte in buf, whose
 * send fails; without a socket, or with no room, returns
 * MHD_CONTENT_READER_END_WITH_ERROR. Client lock held. */
ssize_t sh_sockio_end_now(struct sh_sockio *io, char *buf, size_t max);

/* The content reader put n bytes at buf (MHD adds its chunk CRLF after
 * them). Reader thread, no lock. */
void sh_sockio_filled(struct sh_sockio *io, const char *buf, size_t n);

/* The content reader parked the stream: give the pages of MHD's buffer
 * [buf, buf + max) back to the kernel if due. Reader thread, no lock,
 * after MHD_suspend_connection() and before the reader returns. */
void sh_sockio_parked(struct sh_sockio *io, char *buf, size_t max);

#endif /* SH_SOCKIO_H */
