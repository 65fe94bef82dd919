/* history.c - recent events behind Last-Event-ID (see history.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "streamid.h"
#include "sync.h"

int sh_history_init(struct sh_history *h, size_t cap, long long max_age_ms,
                    uint64_t epoch)
{
  memset(h, 0, sizeof(*h));
  if (cap > 0) {
    h->slots = calloc(cap, sizeof(*h->slots));
    if (NULL == h->slots)
      return -ENOMEM;
  }
  sh_mutex_init(&h->lock);
  h->cap = cap;
  h->max_age_ms = max_age_ms;
  h->epoch = epoch;
  return 0;
}

static void drop_oldest(struct sh_history *h)
{
  sh_frame_unref(h->slots[h->head]);
  h->slots[h->head] = NULL;
  h->head = (h->head + 1) % h->cap;
  h->count--;
}

void sh_history_destroy(struct sh_history *h)
{
  while (h->count > 0)
    drop_oldest(h);
  free(h->slots);
  h->slots = NULL;
  sh_mutex_destroy(&h->lock);
}

int sh_history_resize(struct sh_history *h, size_t cap, long long max_age_ms)
{
  struct sh_frame **slots = NULL;
  size_t i, keep;

  /* Allocate before the lock: the broadcaster appends under it. */
  if (cap > 0 && NULL == (slots = calloc(cap, sizeof(*slots))))
    return -ENOMEM;
  sh_mutex_lock(&h->lock);
  while (h->count > cap)
    drop_oldest(h);
  keep = h->count;
  for (i = 0; i < keep; i++)
    slots[i] = h->slots[(h->head + i) % h->cap];
  free(h->slots);
  h->slots = slots;
  h->head = 0;
  h->count = keep;
  h->cap = cap;
  h->max_age_ms = max_age_ms;
  sh_mutex_unlock(&h->lock);
  return 0;
}

void sh_history_append(struct sh_history *h, struct sh_frame *const *frames,
                       size_t n)
{
  size_t i;

  sh_mutex_lock(&h->lock);
  for (i = 0; i < n; i++) {
    if (0 == frames[i]->seq)
      continue; /* a notice to the clients connected now, not an event */
    if (h->cap > 0) {
      if (h->count == h->cap)
        drop_oldest(h);
      h->slots[(h->head + h->count) % h->cap] = sh_frame_ref(frames[i]);
      h->count++;
    }
    h->newest_seq = frames[i]->seq;
  }
  sh_mutex_unlock(&h->lock);
}

void sh_history_clear(struct sh_history *h)
{
  sh_mutex_lock(&h->lock);
  while (h->count > 0)
    drop_oldest(h);
  sh_mutex_unlock(&h->lock);
}

void sh_history_lock(struct sh_history *h)
{
  sh_mutex_lock(&h->lock);
}

void sh_history_unlock(struct sh_history *h)
{
  sh_mutex_unlock(&h->lock);
}

struct sh_frame *sh_history_at(struct sh_history *h, size_t i)
{
  return h->slots[(h->head + i) % h->cap];
}

static void expire(struct sh_history *h)
{
  long long cutoff;

  if (0 == h->max_age_ms)
    return;
  cutoff = sh_now_ms() - h->max_age_ms;
  while (h->count > 0 && h->slots[h->head]->born_ms < cutoff)
    drop_oldest(h);
}

void sh_history_use_stream_ids(struct sh_history *h)
{
  h->stream_ids = true;
}

/* Stream ids: the window holds a contiguous stretch of the log, in seq
 * order but with gaps in the numbers. The exact match has failed. */
static enum sh_resume locate_stream_id(struct sh_history *h,
                                       const char *last_id, size_t *from)
{
  uint64_t seq;
  size_t lo, hi;

  *from = h->count;
  if (!sh_streamid_parse(last_id, &seq))
    return SH_RESUME_UNKNOWN; /* a custom id not in the window */
  if (0 != h->newest_seq && seq == h->newest_seq)
    return SH_RESUME_FROM; /* the newest, no longer retained */
  if (seq > h->newest_seq)
    return SH_RESUME_AHEAD;
  if (0 == h->count || seq < sh_history_at(h, 0)->seq)
    return SH_RESUME_OLDER;
  /* Within the window but not an id it holds: resume after it. */
  lo = 0;
  hi = h->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;

    if (sh_history_at(h, mid)->seq <= seq)
      lo = mid + 1;
    else
      hi = mid;
  }
  *from = lo;
  return SH_RESUME_FROM;
}

enum sh_resume sh_history_locate(struct sh_history *h, const char *last_id,
                                 size_t *from)
{
  uint64_t epoch, seq, oldest;
  size_t i;

  expire(h);
  *from = 0;
  if (NULL == last_id || '\0' == last_id[0]) {
    *from = h->count;
    return SH_RESUME_LIVE;
  }
  /* Exact match first, newest to oldest: covers publisher-chosen ids. */
  for (i = h->count; i-- > 0;) {
    const struct sh_frame *f = sh_history_at(h, i);

    if (NULL != f->id && 0 == strcmp(f->id, last_id)) {
      *from = i + 1;
      return SH_RESUME_FROM;
    }
  }
  if (h->stream_ids)
    return locate_stream_id(h, last_id, from);
  /* A hub-assigned id is "<epoch>-<seq>". */
  if (!sh_id_split(last_id, &epoch, &seq))
    return SH_RESUME_UNKNOWN;
  if (epoch < h->epoch)
    return SH_RESUME_RESTART;
  if (epoch > h->epoch || seq > h->newest_seq)
    return SH_RESUME_UNKNOWN;
  if (seq == h->newest_seq) {
    /* The newest event, no longer retained (history 0 or aged out):
     * nothing was missed. */
    *from = h->count;
    return SH_RESUME_FROM;
  }
  /* Retained seqs are contiguous: every event passes through here. */
  oldest = h->count > 0 ? sh_history_at(h, 0)->seq : h->newest_seq + 1;
  if (seq + 1 < oldest)
    return SH_RESUME_EXPIRED;
  *from = (size_t) (seq + 1 - oldest);
  return SH_RESUME_FROM;
}

const char *sh_resume_reason(enum sh_resume r)
{
  switch (r) {
  case SH_RESUME_RESTART:
    return "restart";
  case SH_RESUME_EXPIRED:
    return "expired";
  case SH_RESUME_RESET:
    return "reset";
  case SH_RESUME_UNAVAILABLE:
    return "unavailable";
  default:
    return "unknown";
  }
}

size_t sh_history_count(struct sh_history *h)
{
  size_t n;

  sh_mutex_lock(&h->lock);
  n = h->count;
  sh_mutex_unlock(&h->lock);
  return n;
}
