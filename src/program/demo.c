/* demo.c - the demo announcer (see demo.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "demo.h"
#include "ssehub.h"
#include "logsink.h"
#include "sync.h"

/* The one announcer of the process; lock guards stop. */
static struct {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  bool stop;
  bool running;
  pthread_t thread;
  struct ssehub *hub;
  unsigned period_ms;
} demo = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void announce(struct ssehub *hub)
{
  char text[128], date[64];
  time_t now = time(NULL);
  struct tm tm;
  int rc, n;

  localtime_r(&now, &tm);
  strftime(date, sizeof(date), "%a %b %d %Y %H:%M:%S GMT%z", &tm);
  n = snprintf(text, sizeof(text), "It is %s now!", date);
  rc = ssehub_publish_text(hub, text, (size_t) n, NULL);
  if (0 != rc && -ESHUTDOWN != rc)
    sh_say(SSEHUB_LOG_WARNING, "demo tick not published: %s",
           ssehub_strerror(rc));
}

static void *run(void *arg)
{
  long long next = sh_now_ms() + demo.period_ms;

  (void) arg;
  sh_mutex_lock(&demo.lock);
  while (!demo.stop) {
    if (ETIMEDOUT != sh_cond_wait_until(&demo.wake, &demo.lock, next))
      continue;
    sh_mutex_unlock(&demo.lock);
    announce(demo.hub);
    next += demo.period_ms;
    sh_mutex_lock(&demo.lock);
  }
  sh_mutex_unlock(&demo.lock);
  return NULL;
}

int sh_demo_start(struct ssehub *hub, unsigned period_ms)
{
  sigset_t all, old;
  int rc;

  sh_cond_init(&demo.wake);
  demo.hub = hub;
  demo.period_ms = period_ms;
  demo.stop = false;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = pthread_create(&demo.thread, NULL, run, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (0 != rc) {
    sh_cond_destroy(&demo.wake);
    return -rc;
  }
  demo.running = true;
  return 0;
}

void sh_demo_stop(void)
{
  if (!demo.running)
    return;
  sh_mutex_lock(&demo.lock);
  demo.stop = true;
  sh_cond_signal(&demo.wake);
  sh_mutex_unlock(&demo.lock);
  SH_CHECK_PTHREAD(pthread_join(demo.thread, NULL));
  sh_cond_destroy(&demo.wake);
  demo.running = false;
}
