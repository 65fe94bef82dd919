/* redis_link.c - one connection to Redis (see redis_link.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "redis_link.h"

static struct timeval tv_of(int ms)
{
  struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

  return tv;
}

int sh_link_timeout(redisContext *c, int timeout_ms)
{
  return REDIS_OK == redisSetTimeout(c, tv_of(timeout_ms)) ? 0 : -EIO;
}

/* Run one command during the handshake; false (reason in err) unless the
 * reply is a status or string (OK, PONG). */
static bool handshake(redisContext *c, int argc, const char **argv,
                      const char *what, char *err, size_t errlen)
{
  redisReply *r = redisCommandArgv(c, argc, argv, NULL);
  bool ok;

  if (NULL == r) {
    snprintf(err, errlen, "%s", sh_link_error(c));
    return false;
  }
  ok = REDIS_REPLY_ERROR != r->type;
  if (!ok)
    snprintf(err, errlen, "%s refused: %.*s", what, (int) r->len, r->str);
  freeReplyObject(r);
  return ok;
}

const char *sh_link_error(const redisContext *c)
{
  /* A command's time limit shows as EAGAIN on the socket. */
  if (REDIS_ERR_IO == c->err && (EAGAIN == errno || EWOULDBLOCK == errno))
    return "no answer in time";
  if (0 != strstr(c->errstr, "temporarily unavailable"))
    return "no answer in time";
  return c->errstr[0] ? c->errstr : "I/O error";
}

redisContext *sh_link_open(const struct sh_redis_addr *a, int timeout_ms,
                           char *err, size_t errlen)
{
  struct timeval tv = tv_of(timeout_ms);
  redisContext *c = NULL != a->path
                        ? redisConnectUnixWithTimeout(a->path, tv)
                        : redisConnectWithTimeout(a->host, (int) a->port, tv);
  char db[16];

  if (NULL == c) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (c->err) {
    snprintf(err, errlen, "%s", sh_link_error(c));
    goto fail;
  }
  if (0 != sh_link_timeout(c, timeout_ms)) {
    snprintf(err, errlen, "cannot set the socket timeout");
    goto fail;
  }
  if (NULL != a->password) {
    const char *user[] = { "AUTH", a->user, a->password };
    const char *dflt[] = { "AUTH", a->password };

    if (!(NULL != a->user ? handshake(c, 3, user, "AUTH", err, errlen)
                          : handshake(c, 2, dflt, "AUTH", err, errlen)))
      goto fail;
  }
  if (0 != a->db) {
    const char *argv[] = { "SELECT", db };

    snprintf(db, sizeof(db), "%u", a->db);
    if (!handshake(c, 2, argv, "SELECT", err, errlen))
      goto fail;
  } else {
    /* Prove the server answers (a stopped one accepts TCP connections
     * through its listen queue, then says nothing). */
    const char *argv[] = { "PING" };

    if (!handshake(c, 1, argv, "PING", err, errlen))
      goto fail;
  }
  return c;

fail:
  redisFree(c);
  return NULL;
}

long sh_link_backoff(unsigned *state, long *delay_ms, long cap_ms)
{
  long d = *delay_ms < 50 ? 50 : *delay_ms;
  long wait = d / 2 + (long) (rand_r(state) % (unsigned) (d / 2 + 1));

  *delay_ms = d * 2 > cap_ms ? cap_ms : d * 2;
  return wait;
}
