/* sockio.c - the stream's socket beside libmicrohttpd (see sockio.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <microhttpd.h>

#include "counters.h"
#include "frame.h"
#include "sockio.h"
#include "sync.h"

/* The unsent rest of a direct write: the segments of the write (one per
 * frame, pointing into the frames, which it holds references to) and how
 * many of their bytes went out. */
struct sh_tail {
  struct iovec seg[SH_DIRECT_BATCH];
  struct sh_frame *frames[SH_DIRECT_BATCH]; /* references held */
  size_t nseg, nframes, total, done;
};

void sh_sockio_init(struct sh_sockio *io, int fd)
{
  memset(io, 0, sizeof(*io));
  io->fd = fd;
  io->direct = SH_DIRECT_NONE;
  io->watch_fd = -1;
}

/* Keep the hub's total of unsent bytes: once per write, not per frame, so
 * the shared counter is not a hot spot. */
static void account(struct sh_sockio *io, int64_t delta)
{
  if (NULL != io->buffered && 0 != delta)
    atomic_fetch_add_explicit(io->buffered, delta, memory_order_relaxed);
}

void sh_sockio_drop_tail(struct sh_sockio *io)
{
  struct sh_tail *t = io->tail;
  size_t i;

  if (NULL == t)
    return;
  account(io, -(int64_t) (t->total - t->done));
  for (i = 0; i < t->nframes; i++)
    sh_frame_unref(t->frames[i]);
  free(t);
  io->tail = NULL;
}

void sh_sockio_destroy(struct sh_sockio *io)
{
  sh_sockio_drop_tail(io);
}

size_t sh_sockio_pending(const struct sh_sockio *io)
{
  return NULL != io->tail ? io->tail->total - io->tail->done : 0;
}

/* ---- the watcher's registration ------------------------------------------ */

/* The watcher's registration of our socket: hang-ups only (edge-
 * triggered: one wake-up per hang-up, none per send), or hang-ups and
 * writability while a tail waits. */
static struct epoll_event watch_event(uint64_t key, bool writable)
{
  struct epoll_event ev = { .events = EPOLLRDHUP | EPOLLET, .data.u64 = key };

  if (writable)
    ev.events |= EPOLLOUT;
  return ev;
}

/* Point the registration at hang-ups only, or at hang-ups and
 * writability. */
static int watch_events(struct sh_sockio *io, bool writable)
{
  struct epoll_event ev = watch_event(io->watch_key, writable);

  return epoll_ctl(io->watch_fd, EPOLL_CTL_MOD, io->fd, &ev);
}

int sh_sockio_watch(struct sh_sockio *io, int epfd, uint64_t key)
{
  struct epoll_event ev = watch_event(key, false);

  if (io->fd < 0)
    return -EBADF;
  if (0 != epoll_ctl(epfd, EPOLL_CTL_ADD, io->fd, &ev))
    return -errno;
  io->watch_fd = epfd;
  io->watch_key = key;
  return 0;
}

/* ---- direct writes and their tails ---------------------------------------- */

static bool would_block(int err)
{
  return EAGAIN == err || EWOULDBLOCK == err || EINTR == err;
}

/* The frames of a batch to write directly: fills iov (one segment per
 * frame: the frame as its own chunk for HTTP/1.1, its bytes for HTTP/1.0)
 * and picked, and returns the count, with the segments' total size in
 * *bytes. */
static size_t collect(const struct sh_sockio *io,
                      struct sh_frame *const *frames, size_t n,
                      struct iovec *iov, struct sh_frame **picked,
                      size_t *bytes)
{
  size_t i, k = 0;

  *bytes = 0;
  for (i = 0; i < n; i++) {
    if (0 == frames[i]->len)
      continue; /* nothing to send; as a chunk it would end the stream */
    if (SH_DIRECT_CHUNKED == io->direct) {
      iov[k].iov_base = (void *) sh_frame_chunk(frames[i], &iov[k].iov_len);
    } else {
      iov[k].iov_base = frames[i]->bytes;
      iov[k].iov_len = frames[i]->len;
    }
    picked[k] = frames[i];
    *bytes += iov[k].iov_len;
    k++;
  }
  return k;
}

/* Keep what the socket did not take of a direct write (done of total
 * bytes went out; seg[0..nseg) are the write's segments, picked[0..k)
 * its frames) and ask the watcher for EPOLLOUT. Returns 0, or -1 when
 * that is not possible (no watcher, no memory): the stream must end. */
static int keep_tail(struct sh_sockio *io, const struct iovec *seg, size_t nseg,
                     struct sh_frame *const *picked, size_t k, size_t total,
                     size_t done)
{
  struct sh_tail *t;
  size_t i;

  if (io->watch_fd < 0)
    return -1;
  t = calloc(1, sizeof(*t));
  if (NULL == t)
    return -1;
  memcpy(t->seg, seg, nseg * sizeof(*seg));
  for (i = 0; i < k; i++)
    t->frames[i] = sh_frame_ref(picked[i]);
  t->nseg = nseg;
  t->nframes = k;
  t->total = total;
  t->done = done;
  io->tail = t;
  if (NULL != io->n)
    sh_count(&io->n->direct_tails, 1);
  account(io, (int64_t) (total - done));
  if (0 != watch_events(io, true)) {
    sh_sockio_drop_tail(io);
    return -1;
  }
  return 0;
}

enum sh_sockio_result sh_sockio_write(struct sh_sockio *io,
                                      struct sh_frame *const *frames, size_t n,
                                      size_t *sent)
{
  struct iovec iov[SH_DIRECT_BATCH];
  struct sh_frame *picked[SH_DIRECT_BATCH];
  struct msghdr msg = { .msg_iov = iov };
  size_t k, bytes;
  ssize_t w;

  *sent = 0;
  if (SH_DIRECT_NONE == io->direct || NULL != io->tail || n > SH_DIRECT_BATCH)
    return SH_SOCKIO_QUEUE;
  k = collect(io, frames, n, iov, picked, &bytes);
  if (0 == k)
    return SH_SOCKIO_WRITTEN;
  if (bytes > SH_DIRECT_MAX)
    return SH_SOCKIO_QUEUE;
  /* One event (the usual case at low rates) is one contiguous segment: a
   * plain send() spares the kernel the msghdr and iovec copies. */
  if (1 == k) {
    w = send(io->fd, iov[0].iov_base, iov[0].iov_len,
             MSG_DONTWAIT | MSG_NOSIGNAL);
  } else {
    msg.msg_iovlen = k;
    w = sendmsg(io->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  if (w < 0)
    return would_block(errno) ? SH_SOCKIO_QUEUE : SH_SOCKIO_GONE;
  if ((size_t) w < bytes
      && 0 != keep_tail(io, iov, k, picked, k, bytes, (size_t) w))
    return SH_SOCKIO_BROKEN;
  if (NULL != io->n) {
    sh_count(&io->n->bytes_sent, (uint64_t) w);
    sh_count(&io->n->direct_writes, 1);
  }
  atomic_fetch_add_explicit(&io->sent, (uint64_t) w, memory_order_relaxed);
  *sent = k;
  return (size_t) w < bytes ? SH_SOCKIO_TAIL : SH_SOCKIO_WRITTEN;
}

/* Send more of the tail. Returns 1 when it is all out, 0 when the socket
 * is full again, -1 on a send error. */
static int send_tail(struct sh_sockio *io)
{
  struct sh_tail *t = io->tail;
  struct iovec iov[SH_DIRECT_BATCH];
  struct msghdr msg = { .msg_iov = iov };
  size_t skip = t->done, i, k = 0;
  ssize_t w;

  for (i = 0; i < t->nseg; i++) {
    if (skip >= t->seg[i].iov_len) {
      skip -= t->seg[i].iov_len;
      continue;
    }
    iov[k].iov_base = (char *) t->seg[i].iov_base + skip;
    iov[k].iov_len = t->seg[i].iov_len - skip;
    skip = 0;
    k++;
  }
  msg.msg_iovlen = k;
  w = sendmsg(io->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (w < 0)
    return would_block(errno) ? 0 : -1;
  t->done += (size_t) w;
  account(io, -(int64_t) w);
  if (NULL != io->n)
    sh_count(&io->n->bytes_sent, (uint64_t) w);
  atomic_fetch_add_explicit(&io->sent, (uint64_t) w, memory_order_relaxed);
  return t->done == t->total ? 1 : 0;
}

int sh_sockio_writable(struct sh_sockio *io)
{
  int r;

  if (NULL == io->tail)
    return 0;
  r = send_tail(io);
  if (r <= 0)
    return r;
  sh_sockio_drop_tail(io);
  /* Back to hang-ups only, or every ACK would wake the watcher. A failure
   * costs only such wake-ups. */
  (void) watch_events(io, false);
  return 1;
}

/* ---- ending a stream at once ---------------------------------------------- */

/* Why shutdown() for a stream cut off (its ring overflowed, or the
 * max_buffered trim picked it): a peer that stopped reading leaves its
 * socket write-blocked, and MHD 0.9.75 then never calls our reader again,
 * so a "cut" flag alone would only act when MHD's connection timeout
 * fires. Shutting the socket down makes MHD's pending send fail at once
 * and MHD closes the connection through its normal path (our free
 * callback runs). The fd is still open: MHD closes it only after the free
 * callback, which needs the client lock and checks gone first. */
void sh_sockio_abort(struct sh_sockio *io)
{
  if (io->fd >= 0)
    shutdown(io->fd, SHUT_RDWR);
}

/* Why not simply MHD_CONTENT_READER_END_WITH_ERROR: libmicrohttpd 0.9.75
 * then marks the connection closed but does not move it to its cleanup
 * list (MHD_connection_handle_idle leaves its state loop on the reader's
 * error). A connection still in MHD's epoll set is cleaned up at its next
 * event; one that was just resumed is not in that set, and waits for the
 * timeout scan, which stops at the oldest live connection. Behind one
 * client that stopped reading (oldest until its 60 s timeout), every
 * hung-up stream kept its socket and its place under the connection
 * limit, and the server stopped accepting. So the socket is shut down and
 * the reader returns one byte: MHD's send of it fails at once (EPIPE),
 * and MHD cleans up after a failed send. The byte never leaves. */
ssize_t sh_sockio_end_now(struct sh_sockio *io, char *buf, size_t max)
{
  if (io->fd < 0 || 0 == max)
    return MHD_CONTENT_READER_END_WITH_ERROR;
  shutdown(io->fd, SHUT_RDWR);
  buf[0] = '\n';
  return 1;
}

/* ---- MHD's buffer while parked -------------------------------------------- */

/* Why: an idle stream's memory is mostly libmicrohttpd's per-connection
 * pool, which 0.9.75 leaves resident in full: it zeroes the read buffer's
 * unused half when the response starts, and that half becomes the write
 * buffer the content reader is handed. The reader may write anything into
 * that buffer, so dropping its whole pages is the same as writing zeros
 * there (private anonymous memory reads back as zeros after
 * MADV_DONTNEED), and costs no RSS until the buffer is used again. This is
 * what lets a pool large enough for browser-sized headers cost an idle
 * stream only the pages that hold its request and bookkeeping. */

/* The system page size (cached). */
static size_t page_size(void)
{
  /* Any thread may be first; all compute the same value. */
  static atomic_size_t page;
  size_t v = atomic_load_explicit(&page, memory_order_relaxed);

  if (0 == v) {
    long p = sysconf(_SC_PAGESIZE);

    v = p > 0 ? (size_t) p : 4096;
    atomic_store_explicit(&page, v, memory_order_relaxed);
  }
  return v;
}

/* Release the whole pages inside [buf, buf + len); partial pages at either
 * end are kept. A failed madvise() only costs memory. */
static void release_pages(void *buf, size_t len)
{
  size_t page = page_size();
  uintptr_t lo = ((uintptr_t) buf + page - 1) & ~(uintptr_t) (page - 1);
  uintptr_t hi = ((uintptr_t) buf + len) & ~(uintptr_t) (page - 1);

  if (hi > lo)
    (void) madvise((void *) lo, hi - lo, MADV_DONTNEED);
}

void sh_sockio_filled(struct sh_sockio *io, const char *buf, size_t n)
{
  uintptr_t end = (uintptr_t) buf + n + 2; /* + MHD's chunk CRLF */

  if (end > io->scratch_dirty)
    io->scratch_dirty = end;
}

/* Release the first time at once (what every idle stream costs), later
 * only if the reader wrote past the buffer's first page since and at most
 * every SH_SCRATCH_RELEASE_MS: a stream that keeps getting large batches
 * would otherwise pay a madvise() and the page faults to refill the
 * buffer on every one. Small events (the common case) add no syscall. The
 * bytes just before buf (the chunk header) and right after what was
 * written (its CRLF) are MHD's and in kept pages. */
void sh_sockio_parked(struct sh_sockio *io, char *buf, size_t max)
{
  uintptr_t first = ((uintptr_t) buf + page_size() - 1)
                    & ~(uintptr_t) (page_size() - 1);
  long long now;

  if (io->scratch_clean && io->scratch_dirty <= first)
    return;
  now = sh_now_ms();
  if (io->scratch_clean && now - io->scratch_ms < SH_SCRATCH_RELEASE_MS)
    return;
  release_pages(buf, max);
  io->scratch_clean = true;
  io->scratch_dirty = 0;
  io->scratch_ms = now;
}
