/* client.c - one event-stream client (see client.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "counters.h"
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
  sh_sockio_init(&c->io, fd);
  return c;
}

/* Keep the hub's total of unsent bytes: once per batch or read, not per
 * frame, so the shared counter is not a hot spot. */
static void account(struct sh_client *c, int64_t delta)
{
  if (NULL != c->io.buffered && 0 != delta)
    atomic_fetch_add_explicit(c->io.buffered, delta, memory_order_relaxed);
}

/* Drop everything queued, the tail of a direct write included (with the
 * lock held, or before sharing); only for a stream that is ending
 * (sh_sockio_drop_tail()). */
static void clear(struct sh_client *c)
{
  sh_sockio_drop_tail(&c->io);
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
  sh_sockio_destroy(&c->io);
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

/* Remember why the stream ends; the first reason is the one. Lock held. */
static void set_end(struct sh_client *c, enum sh_end why)
{
  if (SH_END_NONE == c->end)
    c->end = why;
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
  set_end(c, peer_gone ? SH_END_HANGUP : SH_END_SEND_ERROR);
  if (peer_gone && NULL != c->io.n)
    sh_count(&c->io.n->hangups, 1);
  clear(c);
  wake(c);
}

/* Cut a client whose ring overflowed. Called with the lock held. A parked
 * stream is woken and its reader ends it (sh_sockio_end_now()); one MHD
 * is writing to may be write-blocked, and MHD calls no reader then, so
 * its socket is shut down (sh_sockio_abort() says why). */
static void cut_off(struct sh_client *c, enum sh_end why)
{
  c->cut = true;
  set_end(c, why);
  clear(c);
  if (c->suspended)
    wake(c);
  else
    sh_sockio_abort(&c->io);
}

/* Whether f is news for a client that has had every event up to last:
 * seq 0 marks control frames (heartbeats), never duplicates. */
static bool unseen(const struct sh_frame *f, uint64_t last)
{
  return 0 == f->seq || f->seq > last;
}

/* Try to write the batch straight to the socket of a parked, idle stream
 * (sockio.h), the frames it has not had yet. Called with the lock held
 * and the ring empty. Returns 1 when done, with the frames written in
 * *queued (0 for a stream ended here: a send error, or a tail that cannot
 * be kept; the client reconnects and resumes from its last id), or 0 when
 * the caller should queue the batch instead (nothing was written). */
static int direct(struct sh_client *c, struct sh_frame *const *frames, size_t n,
                  int *queued)
{
  struct sh_frame *picked[SH_DIRECT_BATCH];
  uint64_t last = c->last_seq;
  size_t i, k = 0, sent;

  if (n > SH_DIRECT_BATCH)
    return 0;
  for (i = 0; i < n; i++) {
    if (!unseen(frames[i], last))
      continue;
    picked[k++] = frames[i];
    if (0 != frames[i]->seq)
      last = frames[i]->seq;
  }
  *queued = 0;
  switch (sh_sockio_write(&c->io, picked, k, &sent)) {
  case SH_SOCKIO_QUEUE:
    return 0;
  case SH_SOCKIO_GONE:
    hang_up(c, true);
    return 1;
  case SH_SOCKIO_BROKEN:
    hang_up(c, false); /* a cut chunk we cannot finish: end the stream */
    return 1;
  case SH_SOCKIO_WRITTEN:
  case SH_SOCKIO_TAIL:
    break;
  }
  c->last_seq = last;
  *queued = (int) sent;
  return 1;
}

int sh_client_watch(struct sh_client *c, int epfd, uint64_t key)
{
  int rc;

  sh_mutex_lock(&c->lock);
  rc = sh_sockio_watch(&c->io, epfd, key);
  sh_mutex_unlock(&c->lock);
  return rc;
}

void sh_client_writable(struct sh_client *c)
{
  int r;

  sh_mutex_lock(&c->lock);
  if (c->gone)
    goto out;
  r = sh_sockio_writable(&c->io);
  if (0 == r)
    goto out;
  if (r < 0) {
    hang_up(c, true);
    goto out;
  }
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
  if (c->suspended && sh_ring_empty(&c->ring) && 0 != direct(c, frames, n, &rc))
    goto out;
  before = sh_ring_pending(&c->ring);
  for (i = 0; i < n; i++) {
    if (!unseen(frames[i], c->last_seq))
      continue;
    if (0 != sh_ring_push(&c->ring, frames[i])) {
      account(c, (int64_t) (sh_ring_pending(&c->ring) - before));
      cut_off(c, SH_END_SLOW);
      rc = -ENOBUFS;
      goto out;
    }
    if (0 != frames[i]->seq)
      c->last_seq = frames[i]->seq;
    rc++;
  }
  account(c, (int64_t) (sh_ring_pending(&c->ring) - before));
  /* One resume per batch, not per frame: the reader coalesces the batch.
   * Behind a tail, the watcher resumes once the tail is out. */
  if (rc > 0 && 0 == sh_sockio_pending(&c->io))
    wake(c);
out:
  sh_mutex_unlock(&c->lock);
  return rc;
}

ssize_t sh_client_read(struct sh_client *c, char *buf, size_t max)
{
  ssize_t rc;
  size_t n;

  sh_mutex_lock(&c->lock);
  if (c->cut || c->hung_up) {
    /* Not END_WITH_ERROR: sh_sockio_end_now() says why. */
    rc = sh_sockio_end_now(&c->io, buf, max);
    goto out;
  }
  n = sh_ring_drain(&c->ring, buf, max);
  account(c, -(int64_t) n);
  if (n > 0) {
    /* Never suspend in a call that returns data: MHD would hold the bytes
     * until the next resume (one event late). */
    sh_sockio_filled(&c->io, buf, n);
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
  sh_sockio_parked(&c->io, buf, max);
  return 0;
out:
  sh_mutex_unlock(&c->lock);
  return rc;
}

void sh_client_end(struct sh_client *c, struct sh_frame *last)
{
  sh_mutex_lock(&c->lock);
  if (NULL != last && !c->gone && !c->closing && !c->cut && !c->hung_up
      && 0 == sh_sockio_pending(&c->io) && 0 == sh_ring_push(&c->ring, last))
    account(c, (int64_t) last->len);
  if (!c->gone) {
    c->closing = true;
    set_end(c, SH_END_STOPPING);
    /* A peer that far behind would hold up the stop. */
    sh_sockio_drop_tail(&c->io);
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

enum sh_end sh_client_gone(struct sh_client *c)
{
  enum sh_end why;

  sh_mutex_lock(&c->lock);
  c->gone = true;
  c->suspended = false;
  clear(c);
  why = c->end;
  sh_mutex_unlock(&c->lock);
  return why;
}

const char *sh_end_name(enum sh_end e)
{
  switch (e) {
  case SH_END_HANGUP:
    return "peer_hangup";
  case SH_END_SLOW:
    return "slow_client";
  case SH_END_MEMORY:
    return "memory_cut";
  case SH_END_STOPPING:
    return "stopping";
  case SH_END_SEND_ERROR:
    return "send_error";
  default:
    return "closed";
  }
}

size_t sh_client_cut(struct sh_client *c)
{
  size_t pending = 0;

  sh_mutex_lock(&c->lock);
  if (!c->gone && !c->cut && !c->hung_up) {
    /* The ring and the unsent tail of a direct write alike: a client
     * whose whole backlog is a tail is as far behind as any (counting
     * only the ring, such a cut went uncounted in memory_cuts). */
    pending = sh_ring_pending(&c->ring) + sh_sockio_pending(&c->io);
    cut_off(c, SH_END_MEMORY);
  }
  sh_mutex_unlock(&c->lock);
  return pending;
}

size_t sh_client_pending(struct sh_client *c)
{
  size_t n;

  sh_mutex_lock(&c->lock);
  n = sh_ring_pending(&c->ring) + sh_sockio_pending(&c->io);
  sh_mutex_unlock(&c->lock);
  return n;
}
