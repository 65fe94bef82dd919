/* histogram.c - fixed-bucket histograms (see histogram.h). */
#include "config.h"

#include "histogram.h"

const uint64_t sh_hist_bounds_ns[SH_HIST_NBOUNDS] = { SH_HIST_BOUNDS_NS };

void sh_hist_observe(struct sh_hist *h, uint64_t ns)
{
  unsigned i = 0;

  /* 16 compares at most: cheaper than a log and exact at the bounds. */
  while (i < SH_HIST_NBOUNDS && ns > sh_hist_bounds_ns[i])
    i++;
  atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void sh_hist_read(struct sh_hist *h, struct sh_hist_snap *out)
{
  uint64_t run = 0;
  unsigned i;

  for (i = 0; i < SH_HIST_NBUCKETS; i++) {
    run += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
    out->le[i] = run;
  }
  out->count = run;
  out->sum_ns = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
}
