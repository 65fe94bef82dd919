/* fanpool.c - helper threads that split one fan-out across cores
 * (see fanpool.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "fanpool.h"
#include "sync.h"

/* One job; lives on the caller's stack for the duration of sh_fanpool_run. */
struct sh_fanjob {
  sh_fanpool_work *work;
  void *arg;
  size_t count;
  atomic_size_t next; /* next unclaimed item */
};

/* Claim slices of job j until none is left. */
static void drain(struct sh_fanjob *j)
{
  for (;;) {
    size_t from = atomic_fetch_add_explicit(&j->next, SH_FANPOOL_SLICE,
                                            memory_order_relaxed);

    if (from >= j->count)
      return;
    j->work(j->arg, from,
            from + SH_FANPOOL_SLICE < j->count ? from + SH_FANPOOL_SLICE
                                               : j->count);
  }
}

static void *helper(void *arg)
{
  struct sh_fanpool *p = arg;
  uint64_t seen = 0;

  sh_mutex_lock(&p->lock);
  for (;;) {
    struct sh_fanjob *j;

    while (!p->stop && p->gen == seen)
      sh_cond_wait(&p->go, &p->lock);
    if (p->stop)
      break;
    seen = p->gen;
    j = p->job;
    if (NULL == j)
      continue; /* woke after that job closed: nothing to do */
    p->active++;
    sh_mutex_unlock(&p->lock);
    drain(j);
    sh_mutex_lock(&p->lock);
    if (0 == --p->active)
      sh_cond_signal(&p->done);
  }
  sh_mutex_unlock(&p->lock);
  return NULL;
}

int sh_fanpool_start(struct sh_fanpool *p, unsigned threads)
{
  unsigned i;
  int rc;

  p->nhelpers = 0;
  p->helpers = NULL;
  p->gen = 0;
  p->active = 0;
  p->job = NULL;
  p->stop = false;
  sh_mutex_init(&p->lock);
  sh_cond_init(&p->go);
  sh_cond_init(&p->done);
  if (threads <= 1)
    return 0;
  p->helpers = calloc(threads - 1, sizeof(*p->helpers));
  if (NULL == p->helpers)
    return -ENOMEM;
  /* The helpers inherit the caller's signal mask (the broadcaster blocks
   * every signal). */
  for (i = 0; i < threads - 1; i++) {
    rc = pthread_create(&p->helpers[i], NULL, helper, p);
    if (0 != rc)
      return -rc; /* the ones started still help */
    p->nhelpers = i + 1;
  }
  return 0;
}

void sh_fanpool_run(struct sh_fanpool *p, sh_fanpool_work *work, void *arg,
                    size_t count)
{
  struct sh_fanjob j = { .work = work, .arg = arg, .count = count };

  if (0 == p->nhelpers || count < 2 * SH_FANPOOL_SLICE) {
    if (count > 0)
      work(arg, 0, count);
    return;
  }
  atomic_init(&j.next, 0);
  sh_mutex_lock(&p->lock);
  p->job = &j;
  p->gen++;
  sh_cond_broadcast(&p->go);
  sh_mutex_unlock(&p->lock);

  drain(&j);

  /* Close the job, then wait only for the helpers that joined it: one
   * that wakes later finds no job, and the caller never waits for a
   * helper the scheduler has not run yet. */
  sh_mutex_lock(&p->lock);
  p->job = NULL;
  while (p->active > 0)
    sh_cond_wait(&p->done, &p->lock);
  sh_mutex_unlock(&p->lock);
}

void sh_fanpool_stop(struct sh_fanpool *p)
{
  unsigned i;

  sh_mutex_lock(&p->lock);
  p->stop = true;
  sh_cond_broadcast(&p->go);
  sh_mutex_unlock(&p->lock);
  for (i = 0; i < p->nhelpers; i++)
    SH_CHECK_PTHREAD(pthread_join(p->helpers[i], NULL));
  free(p->helpers);
  p->helpers = NULL;
  p->nhelpers = 0;
  sh_cond_destroy(&p->go);
  sh_cond_destroy(&p->done);
  sh_mutex_destroy(&p->lock);
}
