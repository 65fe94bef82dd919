/* writer.c - the Redis engine's outbox and writer thread: publishes are
 * queued (bounded), sent as pipelined XADDs, and each is answered once
 * Redis has stored it, or refused (engine.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "redis_link.h"
#include "sync.h"

static void finish(struct sh_redis *r, struct job *j, int rc, uint64_t seq)
{
  if (NULL != j->t) {
    j->t->rc = rc;
    j->t->seq = seq;
    j->t->done(j->t);
  } else if (0 != rc) {
    sh_count(&r->cfg.n->publish_link_refused, 1);
    sh_log_limited(r->cfg.log, SSEHUB_LOG_WARNING,
                   "redis %s: a publish was not stored (%s)", r->name,
                   -EAGAIN == rc ? "not sent in time" : "link failed");
  }
  free(j);
}

static void finish_all(struct sh_redis *r, struct job *list, int rc)
{
  while (NULL != list) {
    struct job *next = list->next;

    finish(r, list, rc, 0);
    list = next;
  }
}

/* Append a string argument copied into j->text at *at. */
static void arg(struct job *j, char **at, const char *s, size_t len)
{
  memcpy(*at, s, len);
  j->argv[j->argc] = *at;
  j->argvlen[j->argc] = len;
  j->argc++;
  *at += len;
}

static struct job *make_job(struct sh_redis *r, const struct ssehub_event *ev)
{
  size_t need = strlen(r->stream) + sizeof(r->maxlen) + ev->data_len + 64;
  char retry[24], *at;
  struct job *j;
  unsigned i;

  need += NULL != ev->event ? strlen(ev->event) : 0;
  need += NULL != ev->id ? strlen(ev->id) : 0;
  for (i = 0; i < ev->ntopics; i++)
    need += strlen(ev->topics[i]) + 1;
  j = malloc(sizeof(*j) + need);
  if (NULL == j)
    return NULL;
  j->argc = 0;
  at = j->text;
  arg(j, &at, "XADD", 4);
  arg(j, &at, r->stream, strlen(r->stream));
  arg(j, &at, "MAXLEN", 6);
  arg(j, &at, "~", 1);
  arg(j, &at, r->maxlen, strlen(r->maxlen));
  arg(j, &at, "*", 1);
  arg(j, &at, "d", 1);
  arg(j, &at, NULL != ev->data ? ev->data : "", ev->data_len);
  if (NULL != ev->event) {
    arg(j, &at, "e", 1);
    arg(j, &at, ev->event, strlen(ev->event));
  }
  if (NULL != ev->id) {
    arg(j, &at, "i", 1);
    arg(j, &at, ev->id, strlen(ev->id));
  }
  if (ev->retry >= 0) {
    int n = snprintf(retry, sizeof(retry), "%ld", ev->retry);

    arg(j, &at, "r", 1);
    arg(j, &at, retry, (size_t) n);
  }
  for (i = 0; i < ev->ntopics; i++) {
    arg(j, &at, "t", 1);
    arg(j, &at, ev->topics[i], strlen(ev->topics[i]));
  }
  return j;
}

int sh_redis_submit(struct sh_redis *r, const struct ssehub_event *ev,
                    struct sh_redis_ticket *t)
{
  struct job *j = make_job(r, ev);
  int rc = 0;

  if (NULL == j)
    return -ENOMEM;
  j->next = NULL;
  j->t = t;
  j->deadline_ms = NULL != t ? t->deadline_ms : sh_now_ms() + 60000;
  sh_mutex_lock(&r->lock);
  if (r->stopping) {
    rc = -ESHUTDOWN;
  } else if (r->queued >= r->cfg.outbox_cap) {
    rc = -EAGAIN;
  } else {
    if (NULL != t && NULL != t->suspend)
      t->suspend(t);
    *r->tail = j;
    r->tail = &j->next;
    r->queued++;
    sh_cond_signal(&r->wake);
  }
  sh_mutex_unlock(&r->lock);
  if (0 != rc)
    free(j);
  return rc;
}

/* With the lock held: unlink the queued jobs past their deadline. */
static struct job *take_expired(struct sh_redis *r, long long now_ms)
{
  struct job *expired = NULL, **p = &r->head, **etail = &expired;

  while (NULL != *p) {
    struct job *j = *p;

    if (j->deadline_ms <= now_ms) {
      *p = j->next;
      j->next = NULL;
      *etail = j;
      etail = &j->next;
      r->queued--;
    } else {
      p = &j->next;
    }
  }
  r->tail = p;
  return expired;
}

void sh_redis_expire(struct sh_redis *r, long long now_ms)
{
  struct job *expired;

  sh_mutex_lock(&r->lock);
  expired = take_expired(r, now_ms);
  sh_mutex_unlock(&r->lock);
  finish_all(r, expired, -EAGAIN);
}

/* XTRIM by age, at most once a second: XADD takes one trim strategy
 * (MAXLEN), so the age limit is applied here. The reply is read in the
 * same round; an error only means the trim waits for the next. */
static bool want_age_trim(struct sh_redis *r, long long *last)
{
  long long now = sh_now_ms();

  if (0 == r->cfg.max_age_ms || now - *last < 1000)
    return false;
  *last = now;
  return true;
}

/* Send batch[0..n) in one pipelined round and answer each. false when
 * the link failed (the unanswered ones get -EIO). */
static bool write_batch(struct sh_redis *r, redisContext *c, struct job **batch,
                        size_t n, bool trim)
{
  char minid[48];
  size_t i, answered = 0;
  bool ok = true;

  for (i = 0; i < n; i++)
    redisAppendCommandArgv(c, batch[i]->argc, batch[i]->argv,
                           batch[i]->argvlen);
  if (trim) {
    const char *argv[] = { "XTRIM", r->stream, "MINID", "~", minid };

    snprintf(minid, sizeof(minid), "%lld-0",
             sh_engine_wall_ms() - r->cfg.max_age_ms);
    redisAppendCommandArgv(c, 5, argv, NULL);
  }
  for (i = 0; i < n; i++) {
    redisReply *rep = NULL;
    uint64_t seq;

    if (REDIS_OK != redisGetReply(c, (void **) &rep) || NULL == rep) {
      ok = false;
      break;
    }
    if (REDIS_REPLY_STRING == rep->type && sh_streamid_parse(rep->str, &seq)) {
      finish(r, batch[i], 0, seq);
    } else {
      sh_log_limited(r->cfg.log, SSEHUB_LOG_ERROR,
                     "redis %s: XADD refused: %.*s", r->name,
                     REDIS_REPLY_ERROR == rep->type ? (int) rep->len : 12,
                     REDIS_REPLY_ERROR == rep->type ? rep->str : "odd reply");
      finish(r, batch[i], -EPROTO, 0);
    }
    answered++;
    freeReplyObject(rep);
  }
  if (ok && trim) {
    redisReply *rep = NULL;

    if (REDIS_OK != redisGetReply(c, (void **) &rep))
      ok = false;
    freeReplyObject(rep);
  }
  for (i = answered; i < n; i++)
    finish(r, batch[i], -EIO, 0);
  return ok;
}

/* Put a batch taken from the outbox back at its front, in order. */
static void requeue(struct sh_redis *r, struct job **batch, size_t n)
{
  size_t i;

  sh_mutex_lock(&r->lock);
  for (i = n; i-- > 0;) {
    batch[i]->next = r->head;
    if (NULL == r->head)
      r->tail = &batch[i]->next;
    r->head = batch[i];
    r->queued++;
  }
  sh_mutex_unlock(&r->lock);
}

/* Between rounds nothing is owed to the writer, so anything readable on
 * its socket is the end of it (or garbage): the peer closed it. One
 * non-blocking syscall. */
static bool closed_by_peer(const redisContext *c)
{
  struct pollfd p = { .fd = c->fd, .events = POLLIN | POLLRDHUP };

  return poll(&p, 1, 0) > 0;
}

static bool alive(redisContext *c)
{
  const char *argv[] = { "PING" };
  redisReply *rep = redisCommandArgv(c, 1, argv, NULL);
  bool ok = NULL != rep && REDIS_REPLY_ERROR != rep->type;

  freeReplyObject(rep);
  return ok;
}

/* The writer's socket, for sh_redis_stop() to shut. */
static void set_fd(struct sh_redis *r, int fd)
{
  sh_mutex_lock(&r->lock);
  r->writer_fd = fd;
  sh_mutex_unlock(&r->lock);
}

void *sh_engine_writer_main(void *arg)
{
  struct sh_redis *r = arg;
  struct job *batch[WRITE_BATCH];
  redisContext *c = NULL;
  struct job *expired;
  unsigned seed = (unsigned) sh_engine_wall_ms() ^ 0x5eed;
  long long last_trim = 0, last_use = 0;

  for (;;) {
    size_t n = 0;
    bool stop, trim;

    if (NULL == c) {
      c = sh_engine_connect(r, &r->writer_up, &seed);
      if (NULL == c)
        break; /* stopping with the link down */
      set_fd(r, c->fd);
    }
    sh_mutex_lock(&r->lock);
    /* Backpressure (feed()): hold publishes while the reader waits for
     * the broadcaster; they expire meanwhile (sh_redis_expire). */
    while (!r->stopping && atomic_load(&r->reader_full))
      sh_cond_wait_until(&r->wake, &r->lock, sh_now_ms() + 2);
    if (!r->stopping && NULL == r->head) {
      /* Idle: wake at least once a second, to trim by age and to check
       * the link, so that a lost Redis is noticed (and logged) in the
       * same outage as the reader notices it, not at the next publish. */
      sh_cond_wait_until(&r->wake, &r->lock, sh_now_ms() + IDLE_CHECK_MS);
    }
    expired = take_expired(r, sh_now_ms());
    while (n < WRITE_BATCH && NULL != r->head) {
      batch[n++] = r->head;
      r->head = r->head->next;
      r->queued--;
    }
    if (NULL == r->head)
      r->tail = &r->head;
    stop = r->stopping && 0 == n;
    sh_mutex_unlock(&r->lock);
    finish_all(r, expired, -EAGAIN);
    if (stop)
      break;
    /* A connection idle for a while may have died unnoticed, and one
     * Redis closed (a restart) has its FIN waiting: prove it first,
     * rather than lose a batch to it and answer "outcome unknown" for
     * events that were never sent. */
    if (sh_now_ms() - last_use >= IDLE_CHECK_MS ? !alive(c)
                                                : closed_by_peer(c)) {
      requeue(r, batch, n);
      sh_engine_set_link(r, &r->writer_up, false,
                         c->err ? sh_link_error(c)
                                : "Redis closed the connection");
      set_fd(r, -1);
      redisFree(c);
      c = NULL;
      continue;
    }
    last_use = sh_now_ms();
    trim = want_age_trim(r, &last_trim);
    if (0 == n && !trim)
      continue;
    if (!write_batch(r, c, batch, n, trim)) {
      sh_engine_set_link(r, &r->writer_up, false, sh_link_error(c));
      set_fd(r, -1);
      redisFree(c);
      c = NULL;
    }
  }
  if (NULL != c) {
    set_fd(r, -1);
    redisFree(c);
  }
  /* Stopping: what is still queued was never sent. */
  sh_mutex_lock(&r->lock);
  expired = r->head;
  r->head = NULL;
  r->tail = &r->head;
  r->queued = 0;
  sh_mutex_unlock(&r->lock);
  finish_all(r, expired, -ESHUTDOWN);
  return NULL;
}
