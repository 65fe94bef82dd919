/* pages.c - give the kernel back the pages of a scratch buffer (pages.h). */
#include "config.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pages.h"

size_t sh_page_size(void)
{
  static size_t page; /* benign race: every thread computes the same value */

  if (0 == page) {
    long p = sysconf(_SC_PAGESIZE);

    page = p > 0 ? (size_t) p : 4096;
  }
  return page;
}

size_t sh_pages_release(void *buf, size_t len)
{
  size_t page = sh_page_size();
  uintptr_t lo = ((uintptr_t) buf + page - 1) & ~(uintptr_t) (page - 1);
  uintptr_t hi = ((uintptr_t) buf + len) & ~(uintptr_t) (page - 1);

  if (hi <= lo)
    return 0;
  if (0 != madvise((void *) lo, hi - lo, MADV_DONTNEED))
    return 0;
  return hi - lo;
}
