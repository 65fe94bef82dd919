/* redis_link.h - one connection to the Redis engine's server.
 *
 * Purpose: connect (TCP or Unix socket) within a time limit, AUTH and
 * SELECT as the URL says, and set the time limit on every later command,
 * so that a stalled Redis (SIGSTOP, a full disk under AOF) fails a
 * command instead of hanging the thread that sent it. Also the jittered
 * backoff between attempts.
 *
 * Thread-safety: a connection (hiredis redisContext) belongs to one
 * thread at a time; the functions keep no shared state.
 */
#ifndef SH_REDIS_LINK_H
#define SH_REDIS_LINK_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "redis_url.h"

/* Connect, AUTH, SELECT; every step and every later command limited to
 * timeout_ms. Returns the connection, or NULL with a one-line reason in
 * err ("connection refused", "AUTH refused: WRONGPASS ..."). */
redisContext *sh_link_open(const struct sh_redis_addr *a, int timeout_ms,
                           char *err, size_t errlen);

/* Why the last command on c failed, for a log line. */
const char *sh_link_error(const redisContext *c);

/* Change the limit on each command (a blocking XREAD needs more than its
 * BLOCK time). 0 or -errno. */
int sh_link_timeout(redisContext *c, int timeout_ms);

/* Backoff between attempts: *delay_ms doubles from 50 ms up to cap_ms;
 * the wait returned is drawn from [delay/2, delay] so that nodes that
 * lost Redis together do not come back in step. */
long sh_link_backoff(unsigned *state, long *delay_ms, long cap_ms);

#endif /* SH_REDIS_LINK_H */
