/* client.c - one event-stream client (see client.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "client.h"
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
  return c;
}

/* Keep the hub's total of unsent bytes: once per batch or read, not per
 * frame, so the shared counter is not a hot spot. */
static void account(struct sh_client *c, int64_t delta)
{
  if (NULL != c->buffered && 0 != delta)
    atomic_fetch_add_explicit(c->buffered, delta, memory_order_relaxed);
}

/* Drop everything queued (with the lock held, or before sharing). */
static void clear(struct sh_client *c)
{
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

int sh_client_deliver(struct sh_client *c, struct sh_frame *const *frames,
                      size_t n)
{
  size_t i, before;
  int rc = 0;

  sh_mutex_lock(&c->lock);
  if (c->gone || c->cut || c->hung_up || c->closing)
    goto out;
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
  /* One resume per batch, not per frame: the reader coalesces the batch. */
  if (rc > 0)
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
    rc = MHD_CONTENT_READER_END_WITH_ERROR;
    goto out;
  }
  n = sh_ring_drain(&c->ring, buf, max);
  account(c, -(int64_t) n);
  if (n > 0) {
    /* Never suspend in a call that returns data: MHD would hold the bytes
     * until the next resume (one event late). */
    rc = (ssize_t) n;
    goto out;
  }
  if (c->closing) {
    rc = MHD_CONTENT_READER_END_OF_STREAM;
    goto out;
  }
  c->suspended = true;
  MHD_suspend_connection(c->conn);
  rc = 0;
out:
  sh_mutex_unlock(&c->lock);
  return rc;
}

void sh_client_end(struct sh_client *c)
{
  sh_mutex_lock(&c->lock);
  if (!c->gone) {
    c->closing = true;
    wake(c);
  }
  sh_mutex_unlock(&c->lock);
}

void sh_client_hangup(struct sh_client *c)
{
  sh_mutex_lock(&c->lock);
  if (!c->gone) {
    c->hung_up = true;
    clear(c);
    wake(c);
  }
  sh_mutex_unlock(&c->lock);
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
  sh_mutex_unlock(&c->lock);
  return n;
}
