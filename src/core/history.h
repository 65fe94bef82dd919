/* history.h - the bounded record of recent events behind Last-Event-ID.
 *
 * Purpose: keep the last `cap` published frames (and, with max_age_ms,
 * only those younger than that) in publish order, and find where a
 * reconnecting client's Last-Event-ID leaves off. The frames are the same
 * shared frames the clients receive; the history holds one reference each.
 *
 * Gap-free resume: the broadcaster appends a batch here *before* it
 * snapshots the clients to deliver it to, and a subscriber is admitted
 * (its replay queued and it registered) under this lock. A batch appended
 * before the admission is in the replay; a batch appended after finds the
 * client registered. A client that is both in a replay and a snapshot gets
 * the event once, because sh_client_deliver() skips seqs it already has.
 *
 * Thread-safety: `lock` guards everything but epoch (immutable); cap and
 * max_age_ms change only under it (sh_history_resize(), a reload). Broadcaster: sh_history_append(). MHD workers: admission,
 * through sh_history_lock()/locate()/at()/unlock(). Lock order
 * (doc/internals.md): history -> registry; no client lock is held while
 * taking it.
 */
#ifndef SH_HISTORY_H
#define SH_HISTORY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct sh_history {
  pthread_mutex_t lock;
  struct sh_frame **slots; /* circular, cap entries */
  size_t cap;              /* guarded by lock; 0 = no history */
  size_t head;             /* index of the oldest frame */
  size_t count;
  uint64_t newest_seq;  /* seq of the newest frame ever appended */
  long long max_age_ms; /* guarded by lock; 0 = no age limit */
  uint64_t epoch;       /* immutable: the hub's id epoch */
  bool stream_ids;      /* immutable after init: ids are Redis stream ids
                           (streamid.h), so seqs are not contiguous */
};

enum sh_resume {
  SH_RESUME_LIVE,    /* no Last-Event-ID: start with the live stream */
  SH_RESUME_FROM,    /* found: replay what follows it */
  SH_RESUME_RESTART, /* an id of an earlier run of the hub */
  SH_RESUME_EXPIRED, /* older than what is retained */
  SH_RESUME_UNKNOWN, /* never seen, or a custom id no longer retained */
  /* Stream ids only (the Redis engine), which ask the log itself: */
  SH_RESUME_OLDER,      /* older than the window: look in Redis */
  SH_RESUME_AHEAD,      /* newer than anything this node has seen */
  SH_RESUME_RESET,      /* from a log Redis has since lost */
  SH_RESUME_UNAVAILABLE /* the log could not be asked (link down) */
};

/* Returns 0 or -ENOMEM. */
int sh_history_init(struct sh_history *h, size_t cap, long long max_age_ms,
                    uint64_t epoch);
void sh_history_destroy(struct sh_history *h);

/* Keep at most cap frames (the newest), and none older than max_age_ms
 * (0 = no limit), from now on. Returns 0 or -ENOMEM (nothing changed). */
int sh_history_resize(struct sh_history *h, size_t cap, long long max_age_ms);
/* Events retained now (the metrics' history gauge). Takes the lock. */
size_t sh_history_count(struct sh_history *h);

/* Broadcaster (and the Redis engine's reader, before it feeds the
 * broadcaster): record frames[0..n) (taking references), dropping the
 * oldest beyond cap. Also advances newest_seq when cap is 0. Frames with
 * seq 0 (notices, not events) are skipped. */
void sh_history_append(struct sh_history *h, struct sh_frame *const *frames,
                       size_t n);

/* Forget every retained frame (newest_seq stays): the Redis engine's
 * reader, when Redis has lost the log those frames came from. */
void sh_history_clear(struct sh_history *h);

void sh_history_lock(struct sh_history *h);
void sh_history_unlock(struct sh_history *h);

/* Stream ids (the Redis engine): set before any other thread exists. */
void sh_history_use_stream_ids(struct sh_history *h);

/* With the lock held: drop frames past max_age_ms, then classify
 * last_id (NULL or "" for none) and set *from to the index (0 = oldest) of
 * the first frame to replay: after the id for SH_RESUME_FROM, 0 (all) for
 * the other kinds but LIVE, count for LIVE. With stream ids, an id outside
 * the window is OLDER or AHEAD (never EXPIRED, RESTART or a
 * seq-based UNKNOWN): only the log knows; *from is then count. */
enum sh_resume sh_history_locate(struct sh_history *h, const char *last_id,
                                 size_t *from);

/* With the lock held: the i-th retained frame, oldest first (no new
 * reference). */
struct sh_frame *sh_history_at(struct sh_history *h, size_t i);

/* Text for the "reason" of an ssehub-missed event. */
const char *sh_resume_reason(enum sh_resume r);

#endif /* SH_HISTORY_H */
