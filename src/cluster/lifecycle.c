/* lifecycle.c - the Redis engine's lifecycle, status and link state (see
 * engine.h for the design, engine_int.h for the other files). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include "redis_link.h"
#include "sync.h"

long long sh_engine_wall_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sh_engine_set_link(struct sh_redis *r, bool *which, bool up,
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
bool sh_engine_nap(struct sh_redis *r, long ms)
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
redisContext *sh_engine_connect(struct sh_redis *r, bool *which, unsigned *seed)
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
      sh_engine_set_link(r, which, true, "");
      return c;
    }
    first = false;
    sh_engine_set_link(r, which, false, err);
    if (!sh_engine_nap(r, sh_link_backoff(seed, &delay, BACKOFF_CAP_MS)))
      return NULL;
  }
}

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
  r->reader_fd = r->writer_fd = -1;
  r->start_wall_ms = sh_engine_wall_ms();
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
  rc = start_thread(&r->writer, sh_engine_writer_main, r);
  if (0 != rc)
    goto fail_sync;
  rc = start_thread(&r->reader, sh_engine_reader_main, r);
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
  struct timespec until;
  int rc;

  sh_mutex_lock(&r->lock);
  r->stopping = true;
  sh_cond_broadcast(&r->wake);
  /* The reader may sit in XREAD BLOCK for a second: cut it short. */
  if (r->reader_fd >= 0)
    shutdown(r->reader_fd, SHUT_RDWR);
  sh_mutex_unlock(&r->lock);
  /* The writer sends what is queued, if Redis answers within the grace;
   * a stalled Redis would hold it a command timeout per batch, so then
   * its socket is shut: in-flight publishes are answered -EIO (outcome
   * unknown), queued ones -ESHUTDOWN. */
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_nsec += WRITER_GRACE_MS * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  rc = pthread_timedjoin_np(r->writer, NULL, &until);
  if (ETIMEDOUT == rc) {
    sh_mutex_lock(&r->lock);
    if (r->writer_fd >= 0)
      shutdown(r->writer_fd, SHUT_RDWR);
    sh_mutex_unlock(&r->lock);
    rc = pthread_join(r->writer, NULL);
  }
  SH_CHECK_PTHREAD(rc);
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
