/* log.h - leveled, optionally rate-limited logging for the hub.
 *
 * Purpose: every hub message goes through one struct sh_log, which forwards
 * formatted lines to the embedder's callback (or stderr). Messages that can
 * repeat once per client (a dead peer, a slow client cut off, MHD's own
 * per-connection errors) use sh_log_limited(), which lets through at most
 * SH_LOG_BURST lines per second and then reports how many it suppressed,
 * so 10,000 clients vanishing at once cannot flood the log.
 *
 * Thread-safety: sh_log() and sh_log_limited() are safe from any thread;
 * the rate limiter's state is guarded by its own mutex (rl_lock).
 */
#ifndef SH_LOG_H
#define SH_LOG_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "ssehub.h"

#define SH_LOG_BURST 10

struct sh_log {
  ssehub_log_fn fn;        /* immutable after init */
  void *cls;               /* immutable after init */
  atomic_int level;        /* enum ssehub_log_level; higher is dropped.
                                  Atomic: ssehub_reload() changes it while
                                  any thread logs (sh_log_set_level()) */
  pthread_mutex_t rl_lock; /* guards the three fields below */
  long long window_start_ms;
  unsigned in_window;
  unsigned suppressed;
};

/* "error", "warning", "info" or "debug": the word every log line
 * carries (log.c's stderr lines, the program's sink). */
const char *sh_log_level_name(enum ssehub_log_level level);

void sh_log_init(struct sh_log *l, ssehub_log_fn fn, void *cls,
                 enum ssehub_log_level level);
void sh_log_destroy(struct sh_log *l);

/* Change the level at run time; safe from any thread. */
void sh_log_set_level(struct sh_log *l, enum ssehub_log_level level);

void sh_log(struct sh_log *l, enum ssehub_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like sh_log(), but at most SH_LOG_BURST lines per second in total. */
void sh_log_limited(struct sh_log *l, enum ssehub_log_level level,
                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Same as sh_log_limited() with a va_list (for MHD's external logger). */
void sh_log_limited_v(struct sh_log *l, enum ssehub_log_level level,
                      const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif /* SH_LOG_H */
