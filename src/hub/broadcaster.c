/* broadcaster.c - fans published events out to every client (see
 * broadcaster.h for the design). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "broadcaster.h"
#include "state.h"
#include "sync.h"

/* One fan-out: frames[0..n) to clients[0..). */
struct fan_job {
  struct ssehub *hub;
  struct sh_client **clients;
  struct sh_frame *const *frames;
  size_t n;
};

/* Deliver the job to clients [from, to): on the broadcaster or a fan-out
 * helper (fanpool.h). */
static void deliver_slice(void *arg, size_t from, size_t to)
{
  struct fan_job *j = arg;
  struct ssehub *hub = j->hub;
  uint64_t queued = 0, slow = 0;
  size_t i;

  for (i = from; i < to; i++) {
    int rc = sh_client_deliver(j->clients[i], j->frames, j->n);

    if (rc >= 0) {
      queued += (uint64_t) rc;
      continue;
    }
    slow++;
    sh_log_limited(&hub->log, SSEHUB_LOG_WARNING,
                   "client too slow: more than %zu bytes pending, disconnected",
                   sh_live(hub, client_buffer));
  }
  sh_count(&hub->n.frames_queued, queued);
  if (slow > 0)
    sh_count(&hub->n.slow_disconnects, slow);
}

/* Deliver frames[0..n) to the snapshot clients[0..count), then drop the
 * snapshot's references. */
static void deliver(struct ssehub *hub, struct sh_client **clients,
                    size_t count, struct sh_frame *const *frames, size_t n)
{
  struct fan_job j = { hub, clients, frames, n };

  sh_fanpool_run(&hub->fanpool, deliver_slice, &j, count);
  sh_registry_release(clients, count);
}

static bool same_audience(const struct sh_frame *a, const struct sh_frame *b)
{
  unsigned i;

  if (a->ntopics != b->ntopics)
    return false;
  for (i = 0; i < a->ntopics; i++)
    if (0 != strcmp(a->topics[i], b->topics[i]))
      return false;
  return true;
}

/* Publish-to-write: each event of batch[from..to) has now been handed to
 * every subscriber (its ring, or its socket by a direct write). One clock
 * read for the run, one histogram sample per event, none per client. */
static void observe_delivered(struct ssehub *hub, struct sh_frame *const *batch,
                              size_t from, size_t to)
{
  uint64_t now = sh_now_ns();
  size_t k;

  for (k = from; k < to; k++)
    if (0 != batch[k]->born_ns && now >= batch[k]->born_ns)
      sh_hist_observe(&hub->lat_publish, now - batch[k]->born_ns);
}

/* Record a batch in the history, then hand it out. The history append
 * must come first (history.h: gap-free resume). Runs of frames with the
 * same audience share one snapshot; a frame for topics snapshots only
 * those topics' subscribers. The whole round is one fan-out sample. */
static void fan_out(struct ssehub *hub, struct sh_frame *const *batch, size_t n)
{
  uint64_t start = sh_now_ns();
  size_t i, j;

  sh_history_append(&hub->history, batch, n);
  for (i = 0; i < n; i = j) {
    for (j = i + 1; j < n && same_audience(batch[i], batch[j]); j++)
      ;
    if (0 == batch[i]->ntopics) {
      size_t count = sh_registry_snapshot(&hub->reg, hub->snap);

      deliver(hub, hub->snap, count, batch + i, j - i);
    } else {
      size_t count = sh_registry_snapshot_topics(&hub->reg, batch[i]->topics,
                                                 batch[i]->ntopics, &hub->tsnap,
                                                 &hub->tsnap_cap);

      deliver(hub, hub->tsnap, count, batch + i, j - i);
    }
    observe_delivered(hub, batch, i, j);
  }
  sh_hist_observe(&hub->lat_fanout, sh_now_ns() - start);
}

struct backlog {
  struct sh_client *c;
  size_t pending;
};

static int by_pending_desc(const void *a, const void *b)
{
  size_t pa = ((const struct backlog *) a)->pending;
  size_t pb = ((const struct backlog *) b)->pending;

  return pa < pb ? 1 : pa > pb ? -1 : 0;
}

/* Over max_buffered: cut the clients furthest behind until the total is
 * back under 90% of the ceiling (hysteresis, so one slow client more does
 * not trigger another round at once). Rare, so the allocation and the sort
 * are fine here. */
static void trim(struct ssehub *hub)
{
  int64_t target = (int64_t) (sh_live(hub, max_buffered) / 10 * 9);
  struct backlog *b;
  size_t count, i;

  if (atomic_load(&hub->buffered) <= (int64_t) sh_live(hub, max_buffered))
    return;
  count = sh_registry_snapshot(&hub->reg, hub->snap);
  b = malloc((count > 0 ? count : 1) * sizeof(*b));
  if (NULL == b)
    goto out;
  for (i = 0; i < count; i++) {
    b[i].c = hub->snap[i];
    b[i].pending = sh_client_pending(hub->snap[i]);
  }
  qsort(b, count, sizeof(*b), by_pending_desc);
  for (i = 0; i < count && atomic_load(&hub->buffered) > target; i++) {
    if (0 == sh_client_cut(b[i].c))
      continue;
    sh_count(&hub->n.memory_cuts, 1);
    sh_log_limited(&hub->log, SSEHUB_LOG_WARNING,
                   "over --max-buffered (%zu bytes): cut a client that was "
                   "furthest behind",
                   sh_live(hub, max_buffered));
  }
  free(b);
out:
  sh_registry_release(hub->snap, count);
}

static void heartbeat(struct ssehub *hub)
{
  size_t count = sh_registry_snapshot(&hub->reg, hub->snap);

  deliver(hub, hub->snap, count, &hub->heartbeat, 1);
  sh_count(&hub->n.heartbeats, 1);
}

static void *run(void *arg)
{
  struct ssehub *hub = arg;
  struct sh_frame *batch[SH_BATCH_MAX];
  long long hb = sh_live(hub, heartbeat_ms);
  long long next_hb = sh_now_ms() + hb;
  bool closed = false;
  size_t n = 1;

  /* Fan-out helpers, one per further usable core (hub.c: threads). They
   * inherit this thread's signal mask. Without them (no memory, one
   * core) every fan-out simply runs here. */
  if (0 != sh_fanpool_start(&hub->fanpool, hub->opt.threads))
    sh_log(&hub->log, SSEHUB_LOG_WARNING,
           "fan-out helper threads unavailable; fanning out on one thread");

  /* After the close, keep popping until the queue is empty: every event
   * accepted before the close is delivered. */
  while (!closed || n > 0) {
    /* Without a heartbeat, wake up hourly just to re-check; the queue's
     * close also wakes us. */
    long long deadline;
    size_t i;

    /* A reload that changes the interval nudges the queue (hub.c), so the
     * pop below returns and the new interval counts from here. */
    if (hb != (long long) sh_live(hub, heartbeat_ms)) {
      hb = sh_live(hub, heartbeat_ms);
      next_hb = sh_now_ms() + hb;
    }
    deadline = hb > 0 ? next_hb : sh_now_ms() + 3600 * 1000;
    n = sh_pubqueue_pop(&hub->queue, batch, SH_BATCH_MAX, deadline, &closed);

    if (n > 0) {
      fan_out(hub, batch, n);
      if (sh_live(hub, max_buffered) > 0)
        trim(hub);
      for (i = 0; i < n; i++)
        sh_frame_unref(batch[i]);
      next_hb = sh_now_ms() + hb;
    } else if (!closed && hb > 0 && sh_now_ms() >= next_hb) {
      heartbeat(hub);
      next_hb = sh_now_ms() + hb;
    }
  }
  sh_fanpool_stop(&hub->fanpool);
  return NULL;
}

int sh_broadcaster_start(struct ssehub *hub)
{
  sigset_t all, old;
  int rc;

  /* The thread must not take the process's signals: the program waits for
   * SIGINT/SIGTERM in its main thread. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = pthread_create(&hub->broadcaster, NULL, run, hub);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (0 != rc)
    return -rc;
  hub->broadcaster_running = true;
  return 0;
}

void sh_broadcaster_stop(struct ssehub *hub)
{
  if (!hub->broadcaster_running)
    return;
  sh_pubqueue_close(&hub->queue);
  SH_CHECK_PTHREAD(pthread_join(hub->broadcaster, NULL));
  hub->broadcaster_running = false;
}
