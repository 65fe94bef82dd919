/* log.c - leveled, optionally rate-limited logging (see log.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "sync.h"

const char *sh_log_level_name(enum ssehub_log_level level)
{
  switch (level) {
  case SSEHUB_LOG_ERROR:
    return "error";
  case SSEHUB_LOG_WARNING:
    return "warning";
  case SSEHUB_LOG_INFO:
    return "info";
  default:
    return "debug";
  }
}

static void stderr_log(void *cls, enum ssehub_log_level level, const char *line)
{
  (void) cls;
  fprintf(stderr, "ssehub: %s: %s\n", sh_log_level_name(level), line);
}

void sh_log_init(struct sh_log *l, ssehub_log_fn fn, void *cls,
                 enum ssehub_log_level level)
{
  memset(l, 0, sizeof(*l));
  l->fn = NULL != fn ? fn : stderr_log;
  l->cls = cls;
  atomic_init(&l->level, (int) level);
  sh_mutex_init(&l->rl_lock);
}

void sh_log_destroy(struct sh_log *l)
{
  sh_mutex_destroy(&l->rl_lock);
}

void sh_log_set_level(struct sh_log *l, enum ssehub_log_level level)
{
  atomic_store_explicit(&l->level, (int) level, memory_order_relaxed);
}

/* Whether a line at this level is wanted now. */
static int wanted(struct sh_log *l, enum ssehub_log_level level)
{
  return (int) level <= atomic_load_explicit(&l->level, memory_order_relaxed);
}

static void emit_v(struct sh_log *l, enum ssehub_log_level level,
                   const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void emit_v(struct sh_log *l, enum ssehub_log_level level,
                   const char *fmt, va_list ap)
{
  char line[512];
  size_t n;

  vsnprintf(line, sizeof(line), fmt, ap);
  /* MHD's messages end in a newline; ours do not. */
  n = strlen(line);
  while (n > 0 && ('\n' == line[n - 1] || '\r' == line[n - 1]))
    line[--n] = '\0';
  l->fn(l->cls, level, line);
}

void sh_log(struct sh_log *l, enum ssehub_log_level level, const char *fmt, ...)
{
  va_list ap;

  if (!wanted(l, level))
    return;
  va_start(ap, fmt);
  emit_v(l, level, fmt, ap);
  va_end(ap);
}

void sh_log_limited_v(struct sh_log *l, enum ssehub_log_level level,
                      const char *fmt, va_list ap)
{
  long long now = sh_now_ms();
  unsigned suppressed = 0;
  int pass;

  if (!wanted(l, level))
    return;
  sh_mutex_lock(&l->rl_lock);
  if (now - l->window_start_ms >= 1000) {
    suppressed = l->suppressed;
    l->suppressed = 0;
    l->in_window = 0;
    l->window_start_ms = now;
  }
  pass = l->in_window < SH_LOG_BURST;
  if (pass)
    l->in_window++;
  else
    l->suppressed++;
  sh_mutex_unlock(&l->rl_lock);

  if (suppressed > 0)
    sh_log(l, SSEHUB_LOG_WARNING, "%u similar messages suppressed", suppressed);
  if (pass)
    emit_v(l, level, fmt, ap);
}

void sh_log_limited(struct sh_log *l, enum ssehub_log_level level,
                    const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  sh_log_limited_v(l, level, fmt, ap);
  va_end(ap);
}
