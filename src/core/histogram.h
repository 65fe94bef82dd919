/* histogram.h - a fixed-bucket latency histogram for the metrics output.
 *
 * Purpose: record durations on a hot path (the broadcaster, per event and
 * per fan-out round) at the cost of a few relaxed atomic adds: no lock,
 * no allocation. The buckets are fixed at compile time (SH_HIST_BOUNDS_NS,
 * 50 us to 5 s), so /metrics can print a Prometheus histogram from them
 * without ever resizing anything.
 *
 * Ownership: the struct lives inside its owner (struct ssehub); zeroed
 * memory is an empty histogram, nothing to init or destroy.
 *
 * Thread-safety: every field is an atomic. sh_hist_observe() from any
 * thread; sh_hist_read() from any thread gives a snapshot that may lag a
 * concurrent observation by one sample (count and buckets are read one by
 * one), which a scrape tolerates; its count is the sum of its buckets, so
 * a snapshot is always self-consistent.
 */
#ifndef SH_HISTOGRAM_H
#define SH_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

/* Upper bounds of the buckets in nanoseconds; a last bucket (+Inf) takes
 * the rest. */
#define SH_HIST_BOUNDS_NS                                              \
  50000ULL, 100000ULL, 250000ULL, 500000ULL, 1000000ULL, 2500000ULL,   \
      5000000ULL, 10000000ULL, 25000000ULL, 50000000ULL, 100000000ULL, \
      250000000ULL, 500000000ULL, 1000000000ULL, 2500000000ULL, 5000000000ULL
#define SH_HIST_NBOUNDS 16
#define SH_HIST_NBUCKETS (SH_HIST_NBOUNDS + 1)

struct sh_hist {
  atomic_uint_fast64_t bucket[SH_HIST_NBUCKETS]; /* not cumulative */
  atomic_uint_fast64_t sum_ns;
};

/* A snapshot: cumulative counts per bound (le), the total and the sum. */
struct sh_hist_snap {
  uint64_t le[SH_HIST_NBUCKETS]; /* le[SH_HIST_NBOUNDS] is +Inf = count */
  uint64_t count;
  uint64_t sum_ns;
};

extern const uint64_t sh_hist_bounds_ns[SH_HIST_NBOUNDS];

/* Record one duration of ns nanoseconds. */
void sh_hist_observe(struct sh_hist *h, uint64_t ns);

void sh_hist_read(struct sh_hist *h, struct sh_hist_snap *out);

#endif /* SH_HISTOGRAM_H */
