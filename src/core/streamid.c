/* streamid.c - Redis stream ids as sequence numbers (see streamid.h). */
#include "config.h"

#include <stdio.h>

#include "streamid.h"

#define MS_MAX ((UINT64_C(1) << (64 - SH_STREAMID_NBITS)) - 1)
#define N_MAX ((UINT64_C(1) << SH_STREAMID_NBITS) - 1)

bool sh_id_split(const char *s, uint64_t *a, uint64_t *b)
{
  uint64_t v[2] = { 0, 0 };
  int part = 0, digits = 0;

  for (;; s++) {
    if (*s >= '0' && *s <= '9') {
      if (++digits > 19)
        return false;
      v[part] = v[part] * 10 + (uint64_t) (*s - '0');
    } else if ('-' == *s && 0 == part && digits > 0) {
      part = 1;
      digits = 0;
    } else if ('\0' == *s && 1 == part && digits > 0) {
      break;
    } else {
      return false;
    }
  }
  *a = v[0];
  *b = v[1];
  return true;
}

bool sh_streamid_parse(const char *s, uint64_t *seq)
{
  uint64_t ms, n;

  if (!sh_id_split(s, &ms, &n) || ms > MS_MAX || n > N_MAX)
    return false;
  *seq = ms << SH_STREAMID_NBITS | n;
  return true;
}

int sh_streamid_format(uint64_t seq, char *buf, size_t cap)
{
  return snprintf(buf, cap, "%llu-%llu",
                  (unsigned long long) (seq >> SH_STREAMID_NBITS),
                  (unsigned long long) (seq & N_MAX));
}
