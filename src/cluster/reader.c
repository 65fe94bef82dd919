/* reader.c - the Redis engine's reader thread: XREAD from the last id
 * read, each entry to a frame for the broadcaster's publish queue; at
 * every (re)connection, find out whether the log is still the one it was
 * reading (engine.h: "<stream>:since"). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

#include "entry.h"
#include "redis_link.h"
#include "sync.h"

/* Run a command on the reader's connection; NULL when the link failed. */
static redisReply *cmd(redisContext *c, int argc, const char **argv)
{
  return redisCommandArgv(c, argc, argv, NULL);
}

/* Read (or create) <stream>:since. 0 on failure. */
static uint64_t read_since(struct sh_redis *r, redisContext *c)
{
  char now[24];
  const char *set[] = { "SET", r->since_key, now, "NX" };
  const char *get[] = { "GET", r->since_key };
  redisReply *rep;
  uint64_t v = 0;

  snprintf(now, sizeof(now), "%lld", sh_engine_wall_ms());
  rep = cmd(c, 4, set);
  if (NULL == rep)
    return 0;
  freeReplyObject(rep);
  rep = cmd(c, 2, get);
  if (NULL == rep)
    return 0;
  if (REDIS_REPLY_STRING == rep->type)
    v = strtoull(rep->str, NULL, 10);
  freeReplyObject(rep);
  return v;
}

/* Hand a frame to the broadcaster, waiting for room (the broadcaster
 * drains the queue; Redis keeps what the reader has not read yet). */
static bool feed(struct sh_redis *r, struct sh_frame *f)
{
  uint64_t ignored;
  int rc;

  /* While the reader waits here, the broadcaster is the bottleneck: the
   * writer holds this node's publishes (backpressure, as the in-memory
   * engine holds them on a full queue), so that the node does not fall
   * so far behind the stream that Redis trims what it has not read. */
  atomic_store(&r->reader_full, true);
  rc = sh_pubqueue_reserve_wait(r->cfg.queue, &ignored, -1);
  atomic_store(&r->reader_full, false);
  if (0 != rc) {
    sh_frame_unref(f);
    return false; /* closed: stopping */
  }
  sh_pubqueue_commit(r->cfg.queue, f);
  return true;
}

/* Tell the clients connected now that they may have missed events
 * (a control frame: seq 0, kept by no history). */
static bool notice(struct sh_redis *r, const char *reason)
{
  struct sh_frame *f = sh_frame_missed(r->last_id, reason);

  return NULL == f || feed(r, f);
}

/* First contact: fill the window with the entries from before this node
 * started (its clients connected later and want none of them live), and
 * read from there, so entries added since the start are delivered. */
static bool preload(struct sh_redis *r, redisContext *c)
{
  char end[48], count[24];
  const char *argv[] = { "XREVRANGE", r->stream, end, "-", "COUNT", count };
  struct sh_frame **frames;
  redisReply *rep;
  size_t i, n = 0;

  snprintf(end, sizeof(end), "(%lld-0", r->start_wall_ms);
  snprintf(count, sizeof(count), "%zu",
           r->cfg.preload > 0 ? r->cfg.preload : 1);
  rep = cmd(c, 6, argv);
  if (NULL == rep)
    return false;
  if (REDIS_REPLY_ARRAY != rep->type) {
    freeReplyObject(rep);
    return true; /* no stream yet */
  }
  frames = calloc(rep->elements + 1, sizeof(*frames));
  for (i = rep->elements; NULL != frames && i-- > 0;) {
    bool bad;
    struct sh_frame *f = sh_entry_frame(rep->element[i], &bad);

    if (NULL != f)
      frames[n++] = f;
  }
  if (n > 0) {
    /* The newest entry read is where XREAD starts. */
    sh_streamid_format(frames[n - 1]->seq, r->last_id, sizeof(r->last_id));
    if (r->cfg.preload > 0)
      sh_history_append(r->cfg.history, frames, n);
  }
  for (i = 0; i < n; i++)
    sh_frame_unref(frames[i]);
  free(frames);
  freeReplyObject(rep);
  return true;
}

/* Whether the entry last_id is still in the stream, and the oldest one's
 * seq (0: empty). false when the link failed. */
static bool probe(struct sh_redis *r, redisContext *c, bool *present,
                  uint64_t *first)
{
  const char *one[] = { "XRANGE", r->stream, r->last_id, r->last_id };
  const char *head[] = { "XRANGE", r->stream, "-", "+", "COUNT", "1" };
  redisReply *rep = cmd(c, 4, one);

  if (NULL == rep)
    return false;
  *present = REDIS_REPLY_ARRAY == rep->type && rep->elements > 0;
  freeReplyObject(rep);
  rep = cmd(c, 6, head);
  if (NULL == rep)
    return false;
  *first = 0;
  if (REDIS_REPLY_ARRAY == rep->type && rep->elements > 0
      && REDIS_REPLY_ARRAY == rep->element[0]->type)
    sh_streamid_parse(rep->element[0]->element[0]->str, first);
  freeReplyObject(rep);
  return true;
}

/* After (re)connecting: find out whether the log is the one this node
 * was reading, and whether it still holds where the node left off. */
static bool resync(struct sh_redis *r, redisContext *c)
{
  uint64_t since = read_since(r, c), last = 0, first;
  bool present;

  if (0 == since)
    return false;
  if (!r->preloaded) {
    atomic_store(&r->known_since, since);
    if (!preload(r, c))
      return false;
    r->preloaded = true;
    return true;
  }
  if (since != atomic_load(&r->known_since)) {
    sh_log(r->cfg.log, SSEHUB_LOG_WARNING,
           "redis %s: stream %s began anew (Redis lost it: restarted "
           "without persistence?); events after %s that were not read are "
           "lost, and clients are told (ssehub-missed, reset)",
           r->name, r->stream, r->last_id);
    atomic_store(&r->known_since, since);
    sh_history_clear(r->cfg.history);
    if (!notice(r, "reset"))
      return true;
    snprintf(r->last_id, sizeof(r->last_id), "0-0");
    return true;
  }
  sh_streamid_parse(r->last_id, &last);
  if (0 == last || !probe(r, c, &present, &first))
    return 0 == last;
  if (!present && first > last) {
    sh_log(r->cfg.log, SSEHUB_LOG_WARNING,
           "redis %s: entries after %s were trimmed before this node read "
           "them; clients are told (ssehub-missed, expired)",
           r->name, r->last_id);
    notice(r, "expired");
  }
  return true;
}

/* One XREAD; false when the link failed or the hub is stopping. */
/* Whether entries were trimmed between the last one read and first, the
 * first one this XREAD returned, given whether the last one read is still
 * in the stream. Gone means trimmed, and what followed it may be too:
 * when the reader lags more than MAXLEN entries behind (a node slower
 * than the publishers of other nodes). Not when the stream merely aged
 * out while idle: then first came more than max_age after it. */
static bool trimmed_unread(struct sh_redis *r, bool last_present,
                           const char *first)
{
  uint64_t last = 0, next = 0;

  if (last_present || !sh_streamid_parse(r->last_id, &last) || 0 == last
      || !sh_streamid_parse(first, &next))
    return false;
  return 0 == r->cfg.max_age_ms
         || sh_streamid_ms(next) - sh_streamid_ms(last)
                < (uint64_t) r->cfg.max_age_ms;
}

static bool read_once(struct sh_redis *r, redisContext *c, bool *alive)
{
  char block[16], count[16];
  const char *argv[] = { "XREAD", "COUNT",   count,     "BLOCK",
                         block,   "STREAMS", r->stream, r->last_id };
  const char *probe_argv[] = { "XRANGE", r->stream, r->last_id, r->last_id };
  redisReply *rep = NULL, *entries;
  bool last_present = true;
  size_t i;

  snprintf(block, sizeof(block), "%d", READ_BLOCK_MS);
  snprintf(count, sizeof(count), "%d", READ_BATCH);
  *alive = true;
  /* One round trip: is the last entry read still there, and what came
   * after it. */
  redisAppendCommandArgv(c, 4, probe_argv, NULL);
  redisAppendCommandArgv(c, 8, argv, NULL);
  if (REDIS_OK != redisGetReply(c, (void **) &rep) || NULL == rep)
    return false;
  last_present = REDIS_REPLY_ARRAY != rep->type || rep->elements > 0;
  freeReplyObject(rep);
  rep = NULL;
  if (REDIS_OK != redisGetReply(c, (void **) &rep) || NULL == rep)
    return false;
  if (REDIS_REPLY_ERROR == rep->type) {
    sh_log_limited(r->cfg.log, SSEHUB_LOG_ERROR, "redis %s: XREAD: %.*s",
                   r->name, (int) rep->len, rep->str);
    freeReplyObject(rep);
    return false;
  }
  if (REDIS_REPLY_ARRAY != rep->type || 0 == rep->elements) {
    atomic_store(&r->lag_ms, 0); /* timed out: caught up */
    freeReplyObject(rep);
    return true;
  }
  entries = rep->element[0]->elements == 2 ? rep->element[0]->element[1] : NULL;
  if (NULL != entries && entries->elements > 0
      && REDIS_REPLY_ARRAY == entries->element[0]->type
      && entries->element[0]->elements > 0
      && trimmed_unread(r, last_present,
                        entries->element[0]->element[0]->str)) {
    sh_count(&r->cfg.n->redis_gaps, 1);
    sh_log_limited(r->cfg.log, SSEHUB_LOG_WARNING,
                   "redis %s: entries after %s were trimmed before this "
                   "node read them (it lags more than the stream keeps: "
                   "raise --history); clients are told (ssehub-missed, "
                   "expired)",
                   r->name, r->last_id);
    if (!notice(r, "expired")) {
      *alive = false;
      freeReplyObject(rep);
      return true;
    }
  }
  for (i = 0; NULL != entries && i < entries->elements; i++) {
    const redisReply *e = entries->element[i];
    bool bad;
    struct sh_frame *f = sh_entry_frame(e, &bad);

    if (REDIS_REPLY_ARRAY == e->type && e->elements > 0
        && REDIS_REPLY_STRING == e->element[0]->type)
      snprintf(r->last_id, sizeof(r->last_id), "%s", e->element[0]->str);
    if (NULL == f) {
      if (bad)
        sh_log_limited(r->cfg.log, SSEHUB_LOG_WARNING,
                       "redis %s: skipped an entry that is not an event",
                       r->name);
      continue;
    }
    atomic_store(&r->last_seq, f->seq);
    {
      long long lag = sh_engine_wall_ms() - (long long) sh_streamid_ms(f->seq);

      atomic_store(&r->lag_ms, lag > 0 ? (uint64_t) lag : 0);
    }
    if (!feed(r, f)) {
      *alive = false;
      break;
    }
  }
  freeReplyObject(rep);
  return true;
}

void *sh_engine_reader_main(void *arg)
{
  struct sh_redis *r = arg;
  unsigned seed = (unsigned) sh_engine_wall_ms() ^ 0xf00d;
  redisContext *c = NULL;
  bool alive = true;

  while (alive) {
    if (NULL == c) {
      c = sh_engine_connect(r, &r->reader_up, &seed);
      if (NULL == c)
        break;
      if (!resync(r, c)
          || 0 != sh_link_timeout(c, READ_BLOCK_MS + CMD_TIMEOUT_MS)) {
        sh_engine_set_link(r, &r->reader_up, false, sh_link_error(c));
        redisFree(c);
        c = NULL;
        continue;
      }
      sh_mutex_lock(&r->lock);
      r->reader_fd = c->fd;
      alive = !r->stopping;
      sh_mutex_unlock(&r->lock);
    }
    if (!read_once(r, c, &alive)) {
      sh_mutex_lock(&r->lock);
      r->reader_fd = -1;
      alive = !r->stopping;
      sh_mutex_unlock(&r->lock);
      if (alive)
        sh_engine_set_link(r, &r->reader_up, false, sh_link_error(c));
      redisFree(c);
      c = NULL;
    }
  }
  sh_mutex_lock(&r->lock);
  r->reader_fd = -1;
  sh_mutex_unlock(&r->lock);
  if (NULL != c)
    redisFree(c);
  return NULL;
}
