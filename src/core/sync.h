/* sync.h - pthread mutex and condition wrappers that abort on failure.
 *
 * A failing pthread_mutex_lock() means memory corruption or a programming
 * error (EDEADLK, EINVAL); no caller could recover from it, so instead of
 * propagating a code through every locked path we abort with a message,
 * the way libuv's uv_mutex_lock() does.
 */
#ifndef SH_SYNC_H
#define SH_SYNC_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SH_CHECK_PTHREAD(call)                                          \
  do {                                                                  \
    int sh_rc_ = (call);                                                \
    if (0 != sh_rc_) {                                                  \
      fprintf(stderr, "ssehub: fatal: %s failed at %s:%d: %s\n", #call, \
              __FILE__, __LINE__, strerror(sh_rc_));                    \
      abort();                                                          \
    }                                                                   \
  } while (0)

static inline void sh_mutex_init(pthread_mutex_t *m)
{
  SH_CHECK_PTHREAD(pthread_mutex_init(m, NULL));
}

static inline void sh_mutex_destroy(pthread_mutex_t *m)
{
  SH_CHECK_PTHREAD(pthread_mutex_destroy(m));
}

static inline void sh_mutex_lock(pthread_mutex_t *m)
{
  SH_CHECK_PTHREAD(pthread_mutex_lock(m));
}

static inline void sh_mutex_unlock(pthread_mutex_t *m)
{
  SH_CHECK_PTHREAD(pthread_mutex_unlock(m));
}

/* Condition variables use CLOCK_MONOTONIC so that timed waits are immune
 * to wall-clock jumps (NTP, date changes). */
static inline void sh_cond_init(pthread_cond_t *c)
{
  pthread_condattr_t attr;

  SH_CHECK_PTHREAD(pthread_condattr_init(&attr));
  SH_CHECK_PTHREAD(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC));
  SH_CHECK_PTHREAD(pthread_cond_init(c, &attr));
  pthread_condattr_destroy(&attr);
}

static inline void sh_cond_destroy(pthread_cond_t *c)
{
  SH_CHECK_PTHREAD(pthread_cond_destroy(c));
}

static inline void sh_cond_signal(pthread_cond_t *c)
{
  SH_CHECK_PTHREAD(pthread_cond_signal(c));
}

static inline void sh_cond_broadcast(pthread_cond_t *c)
{
  SH_CHECK_PTHREAD(pthread_cond_broadcast(c));
}

static inline void sh_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
  SH_CHECK_PTHREAD(pthread_cond_wait(c, m));
}

/* Monotonic clock in milliseconds. */
static inline long long sh_now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic clock in nanoseconds (latency histograms). */
static inline uint64_t sh_now_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Wait until signalled or until the monotonic time deadline_ms passes.
 * Returns 0 when signalled (or spuriously woken), ETIMEDOUT at the deadline. */
static inline int sh_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
                                     long long deadline_ms)
{
  struct timespec ts;
  int rc;

  ts.tv_sec = (time_t) (deadline_ms / 1000);
  ts.tv_nsec = (long) (deadline_ms % 1000) * 1000000L;
  rc = pthread_cond_timedwait(c, m, &ts);
  if (0 != rc && ETIMEDOUT != rc)
    SH_CHECK_PTHREAD(rc);
  return rc;
}

#endif /* SH_SYNC_H */
