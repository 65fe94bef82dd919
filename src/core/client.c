/* client.c - one event-stream client (see client.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <stdio.h>

#include "client.h"
#include "counters.h"
#include "pages.h"
#include "sync.h"

struct sh_client *sh_client_new(struct MHD_Connection *conn, int fd,
                                uint32_t init_slots, uint32_t max_slots,
                                size_t max_bytes)
{
  struct sh_client *c = calloc(1, sizeof(*c));

  if (NULL == c)
    return NULL;
  if (0 != sh_ring_init(&c->ring, init_slots, max_slots, max_bytes)) {
    free(c);
    return NULL;
  }
  sh_mutex_init(&c->lock);
  atomic_init(&c->refs, 1);
  c->conn = conn;
  c->fd = fd;
  c->watch_fd = -1;
  return c;
}

/* The unsent rest of a direct write: the segments of the write (one per
 * frame, pointing into the frames, which it holds references to) and how
 * many of their bytes went out. */
struct sh_tail {
  struct iovec seg[SH_DIRECT_BATCH];
  struct sh_frame *frames[SH_DIRECT_BATCH]; /* references held */
  size_t nseg, nframes, total, done;
};

/* Keep the hub's total of unsent bytes: once per batch or read, not per
 * frame, so the shared counter is not a hot spot. */
static void account(struct sh_client *c, int64_t delta)
{
  if (NULL != c->buffered && 0 != delta)
    atomic_fetch_add_explicit(c->buffered, delta, memory_order_relaxed);
}

static void drop_tail(struct sh_client *c)
{
  struct sh_tail *t = c->tail;
  size_t i;

  if (NULL == t)
    return;
  account(c, -(int64_t) (t->total - t->done));
  for (i = 0; i < t->nframes; i++)
    sh_frame_unref(t->frames[i]);
  free(t);
  c->tail = NULL;
}

/* Drop everything queued, the tail of a direct write included (with the
 * lock held, or before sharing). A stream that loses its tail is ending:
 * the chunk on the wire stays cut, which the peer sees as a broken
 * stream and reconnects from its last complete event. */
static void clear(struct sh_client *c)
{
  drop_tail(c);
  account(c, -(int64_t) sh_ring_pending(&c->ring));
  sh_ring_clear(&c->ring);
}

int sh_client_set_topics(struct sh_client *c, const char *const *topics,
                         unsigned n)
{
  unsigned i;

  if (0 == n)
    return 0;
  c->topics = calloc(n, sizeof(*c->topics));
  c->links = calloc(n, sizeof(*c->links));
  if (NULL == c->topics || NULL == c->links)
    return -ENOMEM;
  for (i = 0; i < n; i++) {
    c->topics[i] = strdup(topics[i]);
    if (NULL == c->topics[i])
      return -ENOMEM; /* sh_client_unref() frees what was copied */
    c->ntopics = i + 1;
  }
  return 0;
}

void sh_client_unref(struct sh_client *c)
{
  unsigned i;

  if (1 != atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel))
    return;
  for (i = 0; i < c->ntopics; i++)
    free(c->topics[i]);
  free(c->topics);
  free(c->links);
  drop_tail(c);
  account(c, -(int64_t) sh_ring_pending(&c->ring));
  sh_ring_destroy(&c->ring);
  sh_mutex_destroy(&c->lock);
  free(c);
}

int sh_client_preload(struct sh_client *c, struct sh_frame *f)
{
  int rc = sh_ring_push(&c->ring, f);

  if (0 == rc)
    account(c, (int64_t) f->len);
  return rc;
}

/* Make a parked or running connection call the reader again soon. Called
 * with the lock held and gone == false. */
static void wake(struct sh_client *c)
{
  if (c->suspended) {
    c->suspended = false;
    MHD_resume_connection(c->conn);
  }
}

/* End the stream now: the peer went away (peer_gone, counted once per
 * stream) or the stream cannot go on. Called with the lock held, on a
 * stream that is not ending yet. */
static void hang_up(struct sh_client *c, bool peer_gone)
{
  c->hung_up = true;
  if (peer_gone && NULL != c->n)
    sh_count(&c->n->hangups, 1);
  clear(c);
  wake(c);
}

/* Cut a client whose ring overflowed. Called with the lock held.
 *
 * Why shutdown(): a peer that stopped reading leaves its socket write-
 * blocked, and MHD 0.9.75 then never calls our reader again, so a "cut"
 * flag alone would only act when MHD's connection timeout fires. Shutting
 * the socket down makes MHD's pending send fail at once and MHD closes the
 * connection through its normal path (our free callback runs). The fd is
 * still open: MHD closes it only after the free callback, which needs this
 * lock and checks gone first. */
static void cut_off(struct sh_client *c)
{
  c->cut = true;
  clear(c);
  if (c->suspended)
    wake(c);
  else if (c->fd >= 0)
    shutdown(c->fd, SHUT_RDWR);
}

/* The frames of a batch this client has not had, for a direct write:
 * fills iov (one segment per frame: the frame as its own chunk for
 * HTTP/1.1, its bytes for HTTP/1.0) and picked, and returns the count,
 * with the segments' total size in *bytes. */
static size_t collect(struct sh_client *c, struct sh_frame *const *frames,
                      size_t n, struct iovec *iov, struct sh_frame **picked,
                      size_t *bytes, uint64_t *last)
{
  size_t i, k = 0;

  *bytes = 0;
  *last = c->last_seq;
  for (i = 0; i < n; i++) {
    if (0 != frames[i]->seq && frames[i]->seq <= *last)
      continue;
    if (0 == frames[i]->len)
      continue; /* nothing to send; as a chunk it would end the stream */
    if (SH_DIRECT_CHUNKED == c->direct) {
      iov[k].iov_base = (void *) sh_frame_chunk(frames[i], &iov[k].iov_len);
    } else {
      iov[k].iov_base = frames[i]->bytes;
      iov[k].iov_len = frames[i]->len;
    }
    picked[k] = frames[i];
    *bytes += iov[k].iov_len;
    if (0 != frames[i]->seq)
      *last = frames[i]->seq;
    k++;
  }
  return k;
}

/* Point the watcher's registration of our socket at hang-ups only, or
 * at hang-ups and writability. */
static int watch_events(struct sh_client *c, bool writable)
{
  struct epoll_event ev = { .events = EPOLLRDHUP | EPOLLET,
                            .data.u64 = c->watch_key };

  if (writable)
    ev.events |= EPOLLOUT;
  return epoll_ctl(c->watch_fd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Keep what the socket did not take of a direct write (done of total
 * bytes went out; seg[0..nseg) are the write's segments, picked[0..k)
 * its frames) and ask the watcher for EPOLLOUT. Returns 0, or -1 when
 * that is not possible (no watcher, no memory): the stream must end. */
static int keep_tail(struct sh_client *c, const struct iovec *seg,
                     size_t nseg, struct sh_frame *const *picked, size_t k,
                     size_t total, size_t done)
{
  struct sh_tail *t;
  size_t i;

  if (c->watch_fd < 0 || NULL == (t = calloc(1, sizeof(*t))))
    return -1;
  memcpy(t->seg, seg, nseg * sizeof(*seg));
  for (i = 0; i < k; i++)
    t->frames[i] = sh_frame_ref(picked[i]);
  t->nseg = nseg;
  t->nframes = k;
  t->total = total;
  t->done = done;
  c->tail = t;
  if (NULL != c->n)
    sh_count(&c->n->direct_tails, 1);
  account(c, (int64_t) (total - done));
  if (0 != watch_events(c, true)) {
    drop_tail(c);
    return -1;
  }
  return 0;
}

/* Send more of the tail. Returns 1 when it is all out, 0 when the socket
 * is full again, -1 on a send error. */
static int send_tail(struct sh_client *c)
{
  struct sh_tail *t = c->tail;
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
  w = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (w < 0)
    return (EAGAIN == errno || EWOULDBLOCK == errno || EINTR == errno) ? 0 : -1;
  t->done += (size_t) w;
  account(c, -(int64_t) w);
  if (NULL != c->n)
    sh_count(&c->n->bytes_sent, (uint64_t) w);
  return t->done == t->total ? 1 : 0;
}

/* Try to write the batch straight to the socket of a parked, idle stream
 * (enum sh_direct). Called with the lock held: the lock is what keeps the
 * stream parked meanwhile (a resume needs it), and the send never blocks
 * (MSG_DONTWAIT), so holding it across this one syscall is safe.
 * Returns 1 when written or kept as a tail (queued > 0 frames in
 * *queued), 0 when the caller should queue the batch instead (nothing was
 * written), -1 when the stream was ended here (a send error, or a tail
 * that cannot be kept; the client reconnects and resumes from its last
 * id). */
static int direct(struct sh_client *c, struct sh_frame *const *frames,
                  size_t n, int *queued)
{
  struct iovec iov[SH_DIRECT_BATCH];
  struct sh_frame *picked[SH_DIRECT_BATCH];
  struct msghdr msg = { .msg_iov = iov };
  size_t k, bytes;
  uint64_t last;
  ssize_t w;

  if (n > SH_DIRECT_BATCH)
    return 0;
  k = collect(c, frames, n, iov, picked, &bytes, &last);
  if (0 == k) {
    *queued = 0;
    return 1;
  }
  if (bytes > SH_DIRECT_MAX)
    return 0;
  /* One event (the usual case at low rates) is one contiguous segment: a
   * plain send() spares the kernel the msghdr and iovec copies. */
  if (1 == k) {
    w = send(c->fd, iov[0].iov_base, iov[0].iov_len,
             MSG_DONTWAIT | MSG_NOSIGNAL);
  } else {
    msg.msg_iovlen = k;
    w = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  if (w < 0 && (EAGAIN == errno || EWOULDBLOCK == errno || EINTR == errno))
    return 0;
  if (w < 0 || ((size_t) w < bytes
                && 0 != keep_tail(c, iov, k, picked, k, bytes,
                                  (size_t) w))) {
    /* Peer gone, or a cut chunk we cannot finish: end the stream. */
    hang_up(c, w < 0);
    return -1;
  }
  c->last_seq = last;
  if (NULL != c->n) {
    sh_count(&c->n->bytes_sent, (uint64_t) w);
    sh_count(&c->n->direct_writes, 1);
  }
  *queued = (int) k;
  return 1;
}

void sh_client_watch(struct sh_client *c, int epfd, uint64_t key)
{
  sh_mutex_lock(&c->lock);
  c->watch_fd = epfd;
  c->watch_key = key;
  sh_mutex_unlock(&c->lock);
}

void sh_client_writable(struct sh_client *c)
{
  int r;

  sh_mutex_lock(&c->lock);
  if (NULL == c->tail || c->gone)
    goto out;
  r = send_tail(c);
  if (0 == r)
    goto out;
  if (r < 0) {
    hang_up(c, true);
    goto out;
  }
  drop_tail(c);
  /* Back to hang-ups only, or every ACK would wake the watcher. A failure
   * costs only such wake-ups. */
  (void) watch_events(c, false);
  if (!sh_ring_empty(&c->ring))
    wake(c); /* MHD sends what queued up behind the tail */
out:
  sh_mutex_unlock(&c->lock);
}

int sh_client_deliver(struct sh_client *c, struct sh_frame *const *frames,
                      size_t n)
{
  size_t i, before;
  int rc = 0;

  sh_mutex_lock(&c->lock);
  if (c->gone || c->cut || c->hung_up || c->closing)
    goto out;
  if (c->suspended && SH_DIRECT_NONE != c->direct && sh_ring_empty(&c->ring)
      && NULL == c->tail) {
    int d = direct(c, frames, n, &rc);

    if (0 != d) {
      if (d < 0)
        rc = 0;
      goto out;
    }
    rc = 0;
  }
  before = sh_ring_pending(&c->ring);
  for (i = 0; i < n; i++) {
    uint64_t seq = frames[i]->seq;

    /* seq 0: control frames (heartbeats), never duplicates. */
    if (0 != seq && seq <= c->last_seq)
      continue;
    if (0 != sh_ring_push(&c->ring, frames[i])) {
      account(c, (int64_t) (sh_ring_pending(&c->ring) - before));
      cut_off(c);
      rc = -ENOBUFS;
      goto out;
    }
    if (0 != seq)
      c->last_seq = seq;
    rc++;
  }
  account(c, (int64_t) (sh_ring_pending(&c->ring) - before));
  /* One resume per batch, not per frame: the reader coalesces the batch.
   * Behind a tail, the watcher resumes once the tail is out. */
  if (rc > 0 && NULL == c->tail)
    wake(c);
out:
  sh_mutex_unlock(&c->lock);
  return rc;
}

/* End a stream that was cut off or whose peer hung up; returns what the
 * reader returns.
 *
 * Why not simply MHD_CONTENT_READER_END_WITH_ERROR: libmicrohttpd 0.9.75
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
static ssize_t end_now(struct sh_client *c, char *buf, size_t max)
{
  if (c->fd < 0 || 0 == max)
    return MHD_CONTENT_READER_END_WITH_ERROR;
  shutdown(c->fd, SHUT_RDWR);
  buf[0] = '\n';
  return 1;
}

/* The reader is parking the stream: hand the pages of MHD's buffer back
 * to the kernel (pages.h), the first time at once (what every idle
 * stream costs), later only if the reader wrote past the buffer's first
 * page since and at most every SH_SCRATCH_RELEASE_MS: a stream that keeps
 * getting large batches would otherwise pay a madvise() and the page
 * faults to refill the buffer on every one. Small events (the common
 * case) add no syscall. The bytes just before buf (the chunk header) and
 * right after what was written (its CRLF) are MHD's and in kept pages. */
static void tidy_scratch(struct sh_client *c, char *buf, size_t max)
{
  uintptr_t first = ((uintptr_t) buf + sh_page_size() - 1)
                    & ~(uintptr_t) (sh_page_size() - 1);
  long long now;

  if (NULL == c->conn || (c->scratch_clean && c->scratch_dirty <= first))
    return;
  now = sh_now_ms();
  if (c->scratch_clean && now - c->scratch_ms < SH_SCRATCH_RELEASE_MS)
    return;
  sh_pages_release(buf, max);
  c->scratch_clean = true;
  c->scratch_dirty = 0;
  c->scratch_ms = now;
}

ssize_t sh_client_read(struct sh_client *c, char *buf, size_t max)
{
  ssize_t rc;
  size_t n;

  sh_mutex_lock(&c->lock);
  if (c->cut || c->hung_up) {
    rc = end_now(c, buf, max);
    goto out;
  }
  n = sh_ring_drain(&c->ring, buf, max);
  account(c, -(int64_t) n);
  if (n > 0) {
    /* Never suspend in a call that returns data: MHD would hold the bytes
     * until the next resume (one event late). */
    if ((uintptr_t) buf + n + 2 > c->scratch_dirty)
      c->scratch_dirty = (uintptr_t) buf + n + 2; /* + MHD's chunk CRLF */
    rc = (ssize_t) n;
    goto out;
  }
  if (c->closing) {
    rc = MHD_CONTENT_READER_END_OF_STREAM;
    goto out;
  }
  c->suspended = true;
  MHD_suspend_connection(c->conn);
  sh_mutex_unlock(&c->lock);
  /* Outside the lock (the broadcaster must not wait for a syscall); the
   * buffer is ours until this call returns, resumed or not. */
  tidy_scratch(c, buf, max);
  return 0;
out:
  sh_mutex_unlock(&c->lock);
  return rc;
}

void sh_client_end(struct sh_client *c)
{
  sh_mutex_lock(&c->lock);
  if (!c->gone) {
    c->closing = true;
    drop_tail(c); /* a peer that far behind would hold up the stop */
    wake(c);
  }
  sh_mutex_unlock(&c->lock);
}

bool sh_client_hangup(struct sh_client *c)
{
  bool fresh;

  sh_mutex_lock(&c->lock);
  fresh = !c->gone && !c->hung_up && !c->cut;
  if (fresh)
    hang_up(c, true);
  sh_mutex_unlock(&c->lock);
  return fresh;
}

void sh_client_gone(struct sh_client *c)
{
  sh_mutex_lock(&c->lock);
  c->gone = true;
  c->suspended = false;
  clear(c);
  sh_mutex_unlock(&c->lock);
}

size_t sh_client_cut(struct sh_client *c)
{
  size_t pending = 0;

  sh_mutex_lock(&c->lock);
  if (!c->gone && !c->cut && !c->hung_up) {
    pending = sh_ring_pending(&c->ring);
    cut_off(c);
  }
  sh_mutex_unlock(&c->lock);
  return pending;
}

size_t sh_client_pending(struct sh_client *c)
{
  size_t n;

  sh_mutex_lock(&c->lock);
  n = sh_ring_pending(&c->ring);
  if (NULL != c->tail)
    n += c->tail->total - c->tail->done;
  sh_mutex_unlock(&c->lock);
  return n;
}
