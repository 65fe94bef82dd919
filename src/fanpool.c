/* fanpool.c - helper threads that split one fan-out across cores
 * (see fanpool.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "fanpool.h"
#include "sync.h"

/* Claim slices of the current job until none is left. */
static void drain(struct sh_fanpool *p, sh_fanpool_work *work, void *arg,
                  size_t count)
{
  for (;;) {
    size_t from = atomic_fetch_add_explicit(&p->next, SH_FANPOOL_SLICE,
                                            memory_order_relaxed);

    if (from >= count)
      return;
    work(arg, from, from + SH_FANPOOL_SLICE < count ? from + SH_FANPOOL_SLICE
                                                     : count);
  }
}

static void *helper(void *arg)
{
  struct sh_fanpool *p = arg;
  uint64_t seen = 0;

  sh_mutex_lock(&p->lock);
  for (;;) {
    while (!p->stop && p->gen == seen)
      sh_cond_wait(&p->go, &p->lock);
    if (p->stop)
      break;
    seen = p->gen;
    {
      sh_fanpool_work *work = p->work;
      void *warg = p->arg;
      size_t count = p->count;

      sh_mutex_unlock(&p->lock);
      drain(p, work, warg, count);
      sh_mutex_lock(&p->lock);
    }
    if (++p->finished == p->nhelpers)
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
  p->finished = 0;
  p->stop = false;
  atomic_init(&p->next, 0);
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
  if (0 == p->nhelpers || count < 2 * SH_FANPOOL_SLICE) {
    if (count > 0)
      work(arg, 0, count);
    return;
  }
  sh_mutex_lock(&p->lock);
  p->work = work;
  p->arg = arg;
  p->count = count;
  p->finished = 0;
  atomic_store_explicit(&p->next, 0, memory_order_relaxed);
  p->gen++;
  sh_cond_broadcast(&p->go);
  sh_mutex_unlock(&p->lock);

  drain(p, work, arg, count);

  /* Every helper takes part in every job, if only to find nothing left:
   * one that woke late must not still be claiming slices (with this job's
   * work and arg) when the next job resets the counter. */
  sh_mutex_lock(&p->lock);
  while (p->finished < p->nhelpers)
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
