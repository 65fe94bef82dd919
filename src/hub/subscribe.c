/* subscribe.c - admitting a stream client (sh_subscribe, see hub.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "sync.h"

/* A sequence of frames, oldest first: the history's window, or the
 * entries the Redis engine returned. */
struct frames {
  struct sh_frame *(*at)(const struct frames *fs, size_t i);
  struct sh_history *h;
  struct sh_frame **array;
  size_t count;
};

static struct sh_frame *window_at(const struct frames *fs, size_t i)
{
  return sh_history_at(fs->h, i);
}

static struct sh_frame *array_at(const struct frames *fs, size_t i)
{
  return fs->array[i];
}

/* Index of the first frame in [from, count) to replay so that the matching
 * ones fit in budget bytes and half the ring's slots (newest kept). */
static size_t fit(const struct frames *fs, struct sh_client *c, size_t from,
                  size_t budget)
{
  size_t i = fs->count, used = 0, frames = 0;

  while (i > from) {
    struct sh_frame *f = fs->at(fs, i - 1);

    if (sh_frame_matches(f, (const char *const *) c->topics, c->ntopics)) {
      if (used + f->len > budget || frames == SH_RING_MAX_SLOTS / 2)
        break;
      used += f->len;
      frames++;
    }
    i--;
  }
  return i;
}

/* Queue the missed-events notice, if why calls for one. */
static int notify_missed(struct sh_client *c, const char *last_id,
                         enum sh_resume why)
{
  struct sh_frame *m;
  int rc = 0;

  if (SH_RESUME_LIVE == why || SH_RESUME_FROM == why)
    return 0;
  m = sh_frame_missed(last_id, sh_resume_reason(why));
  if (NULL == m || 0 != sh_client_preload(c, m))
    rc = -ENOMEM;
  sh_frame_unref(m);
  return rc;
}

/* The Redis engine, for a Last-Event-ID the window cannot answer (older
 * than it, newer than this node has read, or a publisher's id it does
 * not hold): ask the stream, without the history lock (a round trip to
 * Redis), then queue what it returned followed by what the window holds
 * beyond it, and register, under the lock. Anything the broadcaster
 * delivers meanwhile is in the window by then, or comes after the
 * registration; duplicates are skipped by seq (client.h). */
static int subscribe_from_log(struct ssehub *hub, struct sh_client *c,
                              const char *last_id)
{
  struct sh_history *h = &hub->history;
  size_t budget = sh_live(hub, client_buffer) / 2, i, first;
  struct sh_backfill bf;
  uint64_t upto;
  int rc;

  rc = sh_redis_backfill(hub->redis, last_id, SH_RING_MAX_SLOTS / 2, &bf);
  if (0 != rc)
    goto out;
  /* Keep the newest of what the client's topics select that fits half
   * its buffer; dropping older ones is a gap, said as "expired". */
  first = fit(&(struct frames){ array_at, NULL, bf.frames, bf.n }, c, 0,
              budget);
  if (first > 0 && SH_RESUME_FROM == bf.why)
    bf.why = SH_RESUME_EXPIRED;
  upto = bf.n > 0 ? bf.frames[bf.n - 1]->seq : bf.after;
  sh_history_lock(h);
  rc = notify_missed(c, last_id, bf.why);
  for (i = first; 0 == rc && i < bf.n; i++)
    if (sh_frame_matches(bf.frames[i], (const char *const *) c->topics,
                         c->ntopics))
      rc = sh_client_preload(c, bf.frames[i]);
  /* The window beyond what the stream returned (this node may have read
   * further since); when the stream could not be asked, the whole window,
   * after the notice. */
  for (i = 0; 0 == rc && i < h->count; i++) {
    struct sh_frame *f = sh_history_at(h, i);

    if (f->seq > upto
        && sh_frame_matches(f, (const char *const *) c->topics, c->ntopics))
      rc = sh_client_preload(c, f);
  }
  c->last_seq = h->newest_seq > upto ? h->newest_seq : upto;
  if (0 == rc)
    rc = sh_registry_add(&hub->reg, c);
  sh_history_unlock(h);
out:
  for (i = 0; i < bf.n; i++)
    sh_frame_unref(bf.frames[i]);
  free(bf.frames);
  if (0 != rc)
    return rc;
  sh_watch_add(&hub->watch, c);
  sh_count(&hub->n.resumes, 1);
  return 0;
}

static bool needs_log(const struct ssehub *hub, enum sh_resume why)
{
  return NULL != hub->redis
         && (SH_RESUME_OLDER == why || SH_RESUME_AHEAD == why
             || SH_RESUME_UNKNOWN == why);
}

int sh_subscribe(struct ssehub *hub, struct sh_client *c, const char *last_id)
{
  struct sh_history *h = &hub->history;
  enum sh_resume why;
  size_t from, start, i;
  int rc = 0;

  if (NULL != last_id && strlen(last_id) > SH_MAX_LAST_ID)
    last_id = "(too long)";
  sh_history_lock(h);
  why = sh_history_locate(h, last_id, &from);
  if (needs_log(hub, why)) {
    sh_history_unlock(h);
    return subscribe_from_log(hub, c, last_id);
  }
  /* Leave room for what the live stream brings meanwhile: replay at most
   * half the client's buffer. */
  start = fit(&(struct frames){ window_at, h, NULL, h->count }, c, from,
              sh_live(hub, client_buffer) / 2);
  if (SH_RESUME_FROM == why && start > from)
    why = SH_RESUME_EXPIRED;
  rc = notify_missed(c, last_id, why);
  for (i = start; 0 == rc && i < h->count; i++) {
    struct sh_frame *f = sh_history_at(h, i);

    if (sh_frame_matches(f, (const char *const *) c->topics, c->ntopics)
        && 0 != sh_client_preload(c, f))
      rc = -ENOMEM;
  }
  /* Live delivery continues after the newest event the history has seen,
   * whether or not it was replayed. (c is not shared yet: no lock.) */
  c->last_seq = h->newest_seq;
  if (0 == rc)
    rc = sh_registry_add(&hub->reg, c);
  sh_history_unlock(h);
  if (0 != rc)
    return rc;
  sh_watch_add(&hub->watch, c);
  if (SH_RESUME_LIVE != why)
    sh_count(&hub->n.resumes, 1);
  return 0;
}
