/* counters.c - the SSEHUB_STATS table as data (see counters.h). */
#include "config.h"

#include "counters.h"

#define SH_STAT_IS_COUNTER_COUNTER true
#define SH_STAT_IS_COUNTER_GAUGE false
#define SH_STAT_INFO(name, kind, help)      \
  { #name, SH_STAT_IS_COUNTER_##kind, help, \
    offsetof(struct ssehub_stats, name) },

const struct sh_stat_info sh_stat_info[] = { SSEHUB_STATS(SH_STAT_INFO) };

const size_t sh_nstats = sizeof(sh_stat_info) / sizeof(sh_stat_info[0]);
