/* pages.c - give the kernel back the pages of a scratch buffer (pages.h). */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pages.h"

size_t sh_page_size(void)
{
  /* Any thread may be first; all compute the same value. */
  static atomic_size_t page;
  size_t v = atomic_load_explicit(&page, memory_order_relaxed);

  if (0 == v) {
    long p = sysconf(_SC_PAGESIZE);

    v = p > 0 ? (size_t) p : 4096;
    atomic_store_explicit(&page, v, memory_order_relaxed);
  }
  return v;
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
