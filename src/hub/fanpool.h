/* fanpool.h - helper threads that split one fan-out across cores.
 *
 * DESIGN
 *   A fan-out to N clients is N independent sends, and on loopback or a
 *   fast network each costs the kernel ~10-20 us; one thread therefore
 *   needs ~0.1-0.2 s for 10,000 clients whatever the server does. When the
 *   process may run on several cores, the broadcaster hands each batch to
 *   this pool: it and the helpers take slices of the client snapshot
 *   (SH_FANPOOL_SLICE clients at a time, from a shared counter, so a
 *   thread that is preempted does not hold up the rest) until none is
 *   left, and the call returns when every slice is done.
 *
 *   Order: every client is in exactly one slice of a job, and a job ends
 *   before the next one starts, so each client still gets its batches in
 *   the order they were published.
 *
 *   Small jobs (under two slices) run inline: waking helpers costs more
 *   than it saves. With one usable core there are no helpers at all.
 *
 * Threads: sh_fanpool_start/stop/run from the broadcaster thread only;
 * the helpers run the work function. `lock` guards job, gen, active and
 * stop; a job's slice counter is atomic and belongs to that job, so a
 * helper can never claim slices of a later one. The caller closes the job
 * when its own share is done and waits only for the helpers that joined:
 * a helper the scheduler has not run yet (the host is busy) delays
 * nothing, it finds the job closed when it wakes.
 */
#ifndef SH_FANPOOL_H
#define SH_FANPOOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SH_FANPOOL_SLICE 256

/* Runs the work for items [from, to) of the current job. */
typedef void sh_fanpool_work(void *arg, size_t from, size_t to);

struct sh_fanjob;

struct sh_fanpool {
  unsigned nhelpers; /* immutable after start */
  pthread_t *helpers;
  pthread_mutex_t lock;
  pthread_cond_t go;     /* a job (or stop) for the helpers */
  pthread_cond_t done;   /* the last helper left the job */
  uint64_t gen;          /* guarded by lock: job number */
  struct sh_fanjob *job; /* guarded by lock: the open job, or NULL */
  unsigned active;       /* guarded by lock: helpers in the job */
  bool stop;             /* guarded by lock */
};

/* Start helpers so that `threads` threads in all (the caller included)
 * share each job; threads <= 1 starts none. Returns 0 or -errno (then
 * jobs simply run inline). */
int sh_fanpool_start(struct sh_fanpool *p, unsigned threads);

/* Run work over [0, count) on the caller and the helpers; returns when
 * all of it is done. */
void sh_fanpool_run(struct sh_fanpool *p, sh_fanpool_work *work, void *arg,
                    size_t count);

/* Stop and join the helpers. */
void sh_fanpool_stop(struct sh_fanpool *p);

#endif /* SH_FANPOOL_H */
