/* engine.c - the Redis engine (see engine.h for the design). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "engine.h"
#include "pubfields.h"
#include "redis_link.h"
#include "sse_fmt.h"
#include "sync.h"

/* Each command's time limit: a live Redis on a LAN answers in well under
 * a millisecond; past this, the link counts as down. */
#define CMD_TIMEOUT_MS 1000
/* XREAD BLOCK: how long the reader waits for new entries per call (its
 * socket allows CMD_TIMEOUT_MS more). */
#define READ_BLOCK_MS 1000
/* Entries per XREAD, and publishes per pipelined round. */
#define READ_BATCH 512
#define WRITE_BATCH 64
/* A connection idle this long is PINGed before a batch goes out on it. */
#define IDLE_CHECK_MS 1000
/* Reconnection backoff cap: with jitter, a node is back at most this long
 * after Redis answers again (the issue asks for 2 s; nchan takes ~10 s). */
#define BACKOFF_CAP_MS 1000
/* Resume queries from MHD workers: a short limit, they hold a worker. */
#define QUERY_TIMEOUT_MS 500
/* Publisher ids searched for, at most, among retained entries. */
#define SCAN_MAX 100000
/* Most fields an entry has: d, e, i, r and 16 t. */
#define MAX_ARGS (7 + 2 * (4 + SH_MAX_FRAME_TOPICS))

/* A publish in the outbox: the XADD's arguments, in one allocation. */
struct job {
  struct job *next;
  struct sh_redis_ticket *t; /* NULL: fire and forget */
  long long deadline_ms;
  int argc;
  const char *argv[MAX_ARGS];
  size_t argvlen[MAX_ARGS];
  char text[]; /* the copied strings argv points into */
};

/* clang-format off */
struct sh_redis {
  struct sh_redis_config cfg;   /* immutable; strings below are ours */
  struct sh_redis_addr addr;    /* immutable */
  char *stream;                 /* immutable */
  char *since_key;              /* immutable: "<stream>:since" */
  char maxlen[24];              /* immutable: cfg.maxlen as text */
  char name[128];               /* immutable: host:port for logs */
  long long start_wall_ms;      /* immutable: entries from then on are
                                   live for this node (reader.c) */
  pthread_mutex_t lock;
  pthread_cond_t wake;          /* the writer's: work, or stop */
  struct job *head, **tail;     /* guarded by lock: the outbox */
  size_t queued;                /* guarded by lock */
  bool stopping;                /* guarded by lock */
  bool writer_up, reader_up;    /* guarded by lock */
  bool logged_up;               /* guarded by lock: what the log said */
  char down_reason[160];        /* guarded by lock: last one logged */
  uint64_t since;               /* reader only: ms the log began, 0 =
                                   not yet known */
  bool preloaded;               /* reader only */
  char last_id[SH_STREAMID_MAX];/* reader only: XREAD from here */
  _Atomic uint64_t last_seq;    /* reader writes; /stats reads */
  _Atomic uint64_t lag_ms;      /* reader writes; /stats reads */
  _Atomic uint64_t known_since; /* reader writes; backfill reads */
  int reader_fd;                /* guarded by lock: to interrupt XREAD */
  pthread_t writer, reader;
  bool threads_running;         /* control thread */
  pthread_mutex_t qlock;
  redisContext *query;          /* guarded by qlock */
};
/* clang-format on */

static long long wall_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- link state, logged once per change ------------------------------ */

static void set_link(struct sh_redis *r, bool *which, bool up,
                     const char *reason)
{
  bool now_up, log_up = false, log_down = false;
  char why[sizeof(r->down_reason)];

  sh_mutex_lock(&r->lock);
  *which = up;
  now_up = r->writer_up && r->reader_up;
  if (now_up && !r->logged_up) {
    r->logged_up = log_up = true;
    r->down_reason[0] = '\0';
  } else if (!up
             && (r->logged_up
                 || (NULL != strstr(reason, "refused:")
                     && 0 != strcmp(reason, r->down_reason)))) {
    /* Down: say so once per outage, not per attempt; again only when
     * Redis itself starts refusing us (a wrong password, a bad db),
     * which needs the operator, unlike a refused or timed-out
     * connection. */
    r->logged_up = false;
    snprintf(r->down_reason, sizeof(r->down_reason), "%s", reason);
    log_down = true;
  }
  snprintf(why, sizeof(why), "%s", r->down_reason);
  sh_mutex_unlock(&r->lock);
  if (log_up)
    sh_log(r->cfg.log, SSEHUB_LOG_INFO, "redis %s: link up (stream %s)",
           r->name, r->stream);
  if (log_down)
    sh_log(r->cfg.log, SSEHUB_LOG_WARNING,
           "redis %s: link down: %s; reconnecting (publishes are held, "
           "streams stay open)",
           r->name, why);
}

/* Sleep up to ms, or less once stopping. false when stopping. */
static bool nap(struct sh_redis *r, long ms)
{
  long long until = sh_now_ms() + ms;
  bool stop;

  sh_mutex_lock(&r->lock);
  while (!r->stopping && sh_now_ms() < until)
    sh_cond_wait_until(&r->wake, &r->lock, until);
  stop = r->stopping;
  sh_mutex_unlock(&r->lock);
  return !stop;
}

/* Connect, retrying with backoff; NULL once stopping. */
static redisContext *connect_until_up(struct sh_redis *r, bool *which,
                                      unsigned *seed)
{
  long delay = 0;
  bool first = true;

  for (;;) {
    char err[160];
    redisContext *c;

    sh_mutex_lock(&r->lock);
    if (r->stopping) {
      sh_mutex_unlock(&r->lock);
      return NULL;
    }
    sh_mutex_unlock(&r->lock);
    c = sh_link_open(&r->addr, CMD_TIMEOUT_MS, err, sizeof(err));
    if (NULL != c) {
      if (!first)
        sh_count(&r->cfg.n->redis_reconnects, 1);
      set_link(r, which, true, "");
      return c;
    }
    first = false;
    set_link(r, which, false, err);
    if (!nap(r, sh_link_backoff(seed, &delay, BACKOFF_CAP_MS)))
      return NULL;
  }
}

/* ---- publishing: the outbox and the writer --------------------------- */

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

    snprintf(minid, sizeof(minid), "%lld-0", wall_ms() - r->cfg.max_age_ms);
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

static bool alive(redisContext *c)
{
  const char *argv[] = { "PING" };
  redisReply *rep = redisCommandArgv(c, 1, argv, NULL);
  bool ok = NULL != rep && REDIS_REPLY_ERROR != rep->type;

  freeReplyObject(rep);
  return ok;
}

static void *writer_main(void *arg)
{
  struct sh_redis *r = arg;
  struct job *batch[WRITE_BATCH];
  redisContext *c = NULL;
  struct job *expired;
  unsigned seed = (unsigned) wall_ms() ^ 0x5eed;
  long long last_trim = 0, last_use = 0;

  for (;;) {
    size_t n = 0;
    bool stop, trim;

    if (NULL == c) {
      c = connect_until_up(r, &r->writer_up, &seed);
      if (NULL == c)
        break; /* stopping with the link down */
    }
    sh_mutex_lock(&r->lock);
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
    /* A connection idle for a while may have died unnoticed (Redis
     * restarted): prove it first, rather than lose a batch to it and
     * answer "outcome unknown" for events that were never sent. */
    if (sh_now_ms() - last_use >= IDLE_CHECK_MS && !alive(c)) {
      requeue(r, batch, n);
      set_link(r, &r->writer_up, false, sh_link_error(c));
      redisFree(c);
      c = NULL;
      continue;
    }
    last_use = sh_now_ms();
    trim = want_age_trim(r, &last_trim);
    if (0 == n && !trim)
      continue;
    if (!write_batch(r, c, batch, n, trim)) {
      set_link(r, &r->writer_up, false, sh_link_error(c));
      redisFree(c);
      c = NULL;
    }
  }
  if (NULL != c)
    redisFree(c);
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

/* ---- reading: entries to frames -------------------------------------- */

/* The frame of one stream entry (an array [id, [field, value, ...]]);
 * NULL for a malformed entry or out of memory (*bad says which). */
static struct sh_frame *entry_frame(const redisReply *e, bool *bad)
{
  const char *topics[SH_MAX_FRAME_TOPICS];
  struct sh_event ev = { .retry = -1 };
  const redisReply *kv;
  struct sh_frame *f;
  unsigned ntopics = 0;
  uint64_t seq;
  size_t i;

  *bad = true;
  if (REDIS_REPLY_ARRAY != e->type || 2 != e->elements
      || REDIS_REPLY_STRING != e->element[0]->type
      || !sh_streamid_parse(e->element[0]->str, &seq) || 0 == seq
      || REDIS_REPLY_ARRAY != e->element[1]->type)
    return NULL;
  kv = e->element[1];
  ev.id = e->element[0]->str;
  for (i = 0; i + 1 < kv->elements; i += 2) {
    const redisReply *k = kv->element[i], *v = kv->element[i + 1];

    if (REDIS_REPLY_STRING != k->type || REDIS_REPLY_STRING != v->type
        || 1 != k->len)
      continue; /* not ours: ignore, as a reader of a shared log should */
    switch (k->str[0]) {
    case 'd':
      ev.data = v->str;
      ev.data_len = v->len;
      break;
    case 'e':
      if (sh_fmt_field_ok(v->str, v->len) && v->len > 0)
        ev.event = v->str;
      break;
    case 'i':
      if (v->len > 0 && v->len <= SH_MAX_ID_LEN
          && sh_fmt_field_ok(v->str, v->len))
        ev.id = v->str;
      break;
    case 'r':
      ev.retry = strtol(v->str, NULL, 10);
      break;
    case 't':
      if (ntopics < SH_MAX_FRAME_TOPICS && sh_topic_ok(v->str, v->len))
        topics[ntopics++] = v->str;
      break;
    default:
      break;
    }
  }
  *bad = false;
  f = sh_frame_new_event(sh_fmt_event_size(&ev), ev.id, strlen(ev.id), topics,
                         ntopics);
  if (NULL == f)
    return NULL;
  sh_fmt_event(&ev, f->bytes);
  f->seq = seq;
  f->born_ms = sh_now_ms();
  return f;
}

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

  snprintf(now, sizeof(now), "%lld", wall_ms());
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

  if (0 != sh_pubqueue_reserve_wait(r->cfg.queue, &ignored, -1)) {
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
  char text[160];
  int n = snprintf(text, sizeof(text),
                   "event: ssehub-missed\ndata: {\"lastEventId\":\"%s\","
                   "\"reason\":\"%s\"}\n\n",
                   r->last_id, reason);
  struct sh_frame *f = sh_frame_new_copy(text, (size_t) n);

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
    struct sh_frame *f = entry_frame(rep->element[i], &bad);

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
    r->since = since;
    atomic_store(&r->known_since, since);
    if (!preload(r, c))
      return false;
    r->preloaded = true;
    return true;
  }
  if (since != r->since) {
    sh_log(r->cfg.log, SSEHUB_LOG_WARNING,
           "redis %s: stream %s began anew (Redis lost it: restarted "
           "without persistence?); events after %s that were not read are "
           "lost, and clients are told (ssehub-missed, reset)",
           r->name, r->stream, r->last_id);
    r->since = since;
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
static bool read_once(struct sh_redis *r, redisContext *c, bool *alive)
{
  char block[16], count[16];
  const char *argv[] = { "XREAD", "COUNT",   count,     "BLOCK",
                         block,   "STREAMS", r->stream, r->last_id };
  redisReply *rep, *entries;
  size_t i;

  snprintf(block, sizeof(block), "%d", READ_BLOCK_MS);
  snprintf(count, sizeof(count), "%d", READ_BATCH);
  *alive = true;
  rep = cmd(c, 8, argv);
  if (NULL == rep)
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
  for (i = 0; NULL != entries && i < entries->elements; i++) {
    const redisReply *e = entries->element[i];
    bool bad;
    struct sh_frame *f = entry_frame(e, &bad);

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
      long long lag = wall_ms() - (long long) sh_streamid_ms(f->seq);

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

static void *reader_main(void *arg)
{
  struct sh_redis *r = arg;
  unsigned seed = (unsigned) wall_ms() ^ 0xf00d;
  redisContext *c = NULL;
  bool alive = true;

  while (alive) {
    if (NULL == c) {
      c = connect_until_up(r, &r->reader_up, &seed);
      if (NULL == c)
        break;
      if (!resync(r, c)
          || 0 != sh_link_timeout(c, READ_BLOCK_MS + CMD_TIMEOUT_MS)) {
        set_link(r, &r->reader_up, false, sh_link_error(c));
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
        set_link(r, &r->reader_up, false, sh_link_error(c));
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

/* ---- resume queries -------------------------------------------------- */

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
    struct sh_frame *f = entry_frame(rep->element[i], &bad);

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

/* ---- lifecycle ------------------------------------------------------- */

void sh_redis_status(struct sh_redis *r, struct sh_redis_status *st)
{
  sh_mutex_lock(&r->lock);
  st->up = r->writer_up && r->reader_up;
  sh_mutex_unlock(&r->lock);
  st->last_seq = atomic_load(&r->last_seq);
  st->lag_ms = atomic_load(&r->lag_ms);
}

static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
  sigset_t all, old;
  int rc;

  /* Engine threads must not take the process's signals (main waits for
   * SIGINT/SIGTERM). */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = pthread_create(t, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return -rc;
}

static int copy_addr(struct sh_redis_addr *dst, const struct sh_redis_addr *s)
{
  memset(dst, 0, sizeof(*dst));
  dst->port = s->port;
  dst->db = s->db;
  if ((NULL != s->host && NULL == (dst->host = strdup(s->host)))
      || (NULL != s->path && NULL == (dst->path = strdup(s->path)))
      || (NULL != s->user && NULL == (dst->user = strdup(s->user)))
      || (NULL != s->password && NULL == (dst->password = strdup(s->password))))
    return -ENOMEM;
  return 0;
}

int sh_redis_start(struct sh_redis **out, const struct sh_redis_config *cfg)
{
  struct sh_redis *r = calloc(1, sizeof(*r));
  int rc = -ENOMEM;

  if (NULL == r)
    return -ENOMEM;
  r->cfg = *cfg;
  r->head = NULL;
  r->tail = &r->head;
  r->reader_fd = -1;
  r->start_wall_ms = wall_ms();
  snprintf(r->last_id, sizeof(r->last_id), "0-0");
  snprintf(r->maxlen, sizeof(r->maxlen), "%zu", cfg->maxlen);
  r->stream = strdup(cfg->stream);
  if (NULL == r->stream || 0 != copy_addr(&r->addr, cfg->addr))
    goto fail;
  r->since_key = malloc(strlen(r->stream) + sizeof(":since"));
  if (NULL == r->since_key)
    goto fail;
  sprintf(r->since_key, "%s:since", r->stream);
  sh_redis_addr_name(&r->addr, r->name, sizeof(r->name));
  sh_mutex_init(&r->lock);
  sh_mutex_init(&r->qlock);
  sh_cond_init(&r->wake);
  rc = start_thread(&r->writer, writer_main, r);
  if (0 != rc)
    goto fail_sync;
  rc = start_thread(&r->reader, reader_main, r);
  if (0 != rc) {
    sh_mutex_lock(&r->lock);
    r->stopping = true;
    sh_cond_broadcast(&r->wake);
    sh_mutex_unlock(&r->lock);
    pthread_join(r->writer, NULL);
    goto fail_sync;
  }
  r->threads_running = true;
  *out = r;
  return 0;

fail_sync:
  sh_cond_destroy(&r->wake);
  sh_mutex_destroy(&r->qlock);
  sh_mutex_destroy(&r->lock);
fail:
  sh_redis_addr_free(&r->addr);
  free(r->since_key);
  free(r->stream);
  free(r);
  return rc;
}

void sh_redis_stop(struct sh_redis *r)
{
  if (!r->threads_running)
    return;
  sh_mutex_lock(&r->lock);
  r->stopping = true;
  sh_cond_broadcast(&r->wake);
  /* The reader may sit in XREAD BLOCK for a second: cut it short. */
  if (r->reader_fd >= 0)
    shutdown(r->reader_fd, SHUT_RDWR);
  sh_mutex_unlock(&r->lock);
  SH_CHECK_PTHREAD(pthread_join(r->writer, NULL));
  SH_CHECK_PTHREAD(pthread_join(r->reader, NULL));
  r->threads_running = false;
}

void sh_redis_free(struct sh_redis *r)
{
  if (NULL == r)
    return;
  sh_redis_stop(r);
  if (NULL != r->query)
    redisFree(r->query);
  sh_cond_destroy(&r->wake);
  sh_mutex_destroy(&r->qlock);
  sh_mutex_destroy(&r->lock);
  sh_redis_addr_free(&r->addr);
  free(r->since_key);
  free(r->stream);
  free(r);
}
