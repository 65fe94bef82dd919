/* query.c - the Redis engine's resume queries: what follows a
 * Last-Event-ID the node's window cannot answer (sh_redis_backfill). MHD
 * worker threads, one at a time on the query connection. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

#include "entry.h"
#include "redis_link.h"
#include "sync.h"

static redisReply *query(struct sh_redis *r, int argc, const char **argv)
{
  char err[160];
  redisReply *rep;

  if (NULL == r->query) {
    r->query = sh_link_open(&r->addr, QUERY_TIMEOUT_MS, err, sizeof(err));
    if (NULL == r->query)
      return NULL;
  }
  rep = redisCommandArgv(r->query, argc, argv, NULL);
  if (NULL == rep) {
    redisFree(r->query);
    r->query = NULL;
  }
  return rep;
}

/* Frames of the entries in rep (an XRANGE reply), into bf. */
static int take_entries(const redisReply *rep, struct sh_backfill *bf)
{
  size_t i;

  if (REDIS_REPLY_ARRAY != rep->type || 0 == rep->elements)
    return 0;
  bf->frames = calloc(rep->elements, sizeof(*bf->frames));
  if (NULL == bf->frames)
    return -ENOMEM;
  for (i = 0; i < rep->elements; i++) {
    bool bad;
    struct sh_frame *f = sh_entry_frame(rep->element[i], &bad);

    if (NULL == f && !bad)
      return -ENOMEM;
    if (NULL != f)
      bf->frames[bf->n++] = f;
  }
  return 0;
}

static bool entry_has_id(const redisReply *e, const char *id)
{
  const redisReply *kv;
  size_t i;

  if (REDIS_REPLY_ARRAY != e->type || 2 != e->elements
      || REDIS_REPLY_ARRAY != e->element[1]->type)
    return false;
  kv = e->element[1];
  for (i = 0; i + 1 < kv->elements; i += 2)
    if (1 == kv->element[i]->len && 'i' == kv->element[i]->str[0]
        && 0 == strcmp(kv->element[i + 1]->str, id))
      return true;
  return false;
}

/* A publisher's own id: find the newest entry that carries it, among
 * the retained ones (newest first), and return its stream id in out. */
static bool find_custom(struct sh_redis *r, const char *id, char *out,
                        size_t cap, bool *failed)
{
  char end[SH_STREAMID_MAX + 1] = "+";
  size_t seen = 0;

  *failed = false;
  while (seen < SCAN_MAX) {
    const char *argv[] = { "XREVRANGE", r->stream, end, "-", "COUNT", "1000" };
    redisReply *rep = query(r, 6, argv);
    size_t i;

    if (NULL == rep) {
      *failed = true;
      return false;
    }
    if (REDIS_REPLY_ARRAY != rep->type || 0 == rep->elements) {
      freeReplyObject(rep);
      return false;
    }
    for (i = 0; i < rep->elements; i++) {
      if (entry_has_id(rep->element[i], id)) {
        snprintf(out, cap, "%s", rep->element[i]->element[0]->str);
        freeReplyObject(rep);
        return true;
      }
    }
    seen += rep->elements;
    snprintf(end, sizeof(end), "(%s",
             rep->element[rep->elements - 1]->element[0]->str);
    freeReplyObject(rep);
  }
  return false;
}

/* Classify a stream id that is not (or no longer) in the stream. */
static enum sh_resume classify(struct sh_redis *r, uint64_t seq, bool *failed)
{
  const char *head[] = { "XRANGE", r->stream, "-", "+", "COUNT", "1" };
  uint64_t since = atomic_load(&r->known_since), first = 0;
  redisReply *rep;

  if (0 != since && sh_streamid_ms(seq) < since)
    return SH_RESUME_RESET; /* from a log that began before this one */
  rep = query(r, 6, head);
  if (NULL == rep) {
    *failed = true;
    return SH_RESUME_UNAVAILABLE;
  }
  if (REDIS_REPLY_ARRAY == rep->type && rep->elements > 0
      && REDIS_REPLY_ARRAY == rep->element[0]->type)
    sh_streamid_parse(rep->element[0]->element[0]->str, &first);
  freeReplyObject(rep);
  if (0 != first && seq < first)
    return SH_RESUME_EXPIRED; /* trimmed past it */
  return SH_RESUME_UNKNOWN;
}

int sh_redis_backfill(struct sh_redis *r, const char *last_id, size_t max,
                      struct sh_backfill *bf)
{
  char id[SH_STREAMID_MAX], start[SH_STREAMID_MAX + 1], count[24];
  const char *one[] = { "XRANGE", r->stream, id, id };
  const char *after[] = { "XRANGE", r->stream, start, "+", "COUNT", count };
  redisReply *rep = NULL;
  bool up, failed = false, present = false;
  uint64_t seq;
  int rc = 0;

  memset(bf, 0, sizeof(*bf));
  bf->why = SH_RESUME_UNAVAILABLE;
  sh_mutex_lock(&r->lock);
  up = r->reader_up;
  sh_mutex_unlock(&r->lock);
  if (!up)
    return 0; /* do not hold a worker on a link known to be down */
  sh_mutex_lock(&r->qlock);
  if (sh_streamid_parse(last_id, &seq)) {
    snprintf(id, sizeof(id), "%s", last_id);
  } else if (!find_custom(r, last_id, id, sizeof(id), &failed)) {
    bf->why = failed ? SH_RESUME_UNAVAILABLE : SH_RESUME_UNKNOWN;
    goto out;
  } else {
    sh_streamid_parse(id, &seq);
    present = true;
  }
  if (!present) {
    rep = query(r, 4, one);
    if (NULL == rep)
      goto out;
    present = REDIS_REPLY_ARRAY == rep->type && rep->elements > 0;
    freeReplyObject(rep);
  }
  bf->why = present ? SH_RESUME_FROM : classify(r, seq, &failed);
  if (failed)
    goto out;
  snprintf(start, sizeof(start), "(%s", id);
  snprintf(count, sizeof(count), "%zu", max > 0 ? max : 1);
  rep = query(r, 6, after);
  if (NULL == rep) {
    bf->why = SH_RESUME_UNAVAILABLE;
    goto out;
  }
  rc = take_entries(rep, bf);
  freeReplyObject(rep);
  if (SH_RESUME_FROM == bf->why)
    bf->after = seq;
out:
  sh_mutex_unlock(&r->qlock);
  return rc;
}
