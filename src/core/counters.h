/* counters.h - the hub's event counters, generated from SSEHUB_STATS.
 *
 * Purpose: one atomic per COUNTER line of the SSEHUB_STATS table in
 * ssehub.h, named as there (hub->n.published, ...), so that a counter is
 * added by adding its line to the table and bumping it where it happens;
 * ssehub_get_stats(), GET /stats and the metrics output pick it up from
 * the table. GAUGE lines have no field here: they are computed when read
 * (hub.c, ssehub_get_stats). sh_stat_info[] describes every line, for
 * code that prints them all.
 *
 * Thread-safety: every field is an atomic, bumped with relaxed ordering
 * from any thread (a counter orders nothing) and read the same way.
 */
#ifndef SH_COUNTERS_H
#define SH_COUNTERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssehub.h"

#define SH_COUNTER_FIELD_COUNTER(name) atomic_uint_fast64_t name;
#define SH_COUNTER_FIELD_GAUGE(name)
#define SH_COUNTER_FIELD(name, kind, help) SH_COUNTER_FIELD_##kind(name)

struct sh_counters {
  SSEHUB_STATS(SH_COUNTER_FIELD)
};

/* One line of the table, for code that walks every statistic (the /stats
 * JSON, the metrics text): its name, whether it is a counter, its help
 * text, and where struct ssehub_stats holds it. */
struct sh_stat_info {
  const char *name;
  bool counter; /* COUNTER (else GAUGE) */
  const char *help;
  size_t offset; /* in struct ssehub_stats */
};

/* The table, in its order (counters.c); sh_nstats entries. */
extern const struct sh_stat_info sh_stat_info[];
extern const size_t sh_nstats;

/* The value of statistic i in st. */
static inline uint64_t sh_stat_value(const struct ssehub_stats *st, size_t i)
{
  return *(const uint64_t *) ((const char *) st + sh_stat_info[i].offset);
}

static inline void sh_count(atomic_uint_fast64_t *c, uint64_t v)
{
  atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

#endif /* SH_COUNTERS_H */
