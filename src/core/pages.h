/* pages.h - give the kernel back the pages of a scratch buffer.
 *
 * Purpose: an idle stream's memory is mostly libmicrohttpd's per-
 * connection pool, which 0.9.75 leaves resident in full: it zeroes the
 * read buffer's unused half when the response starts, and that half
 * becomes the write buffer the content reader is handed. The reader may
 * write anything into that buffer, so dropping its whole pages is the same
 * as writing zeros there (private anonymous memory reads back as zeros
 * after MADV_DONTNEED), and costs no RSS until the buffer is used again.
 * This is what lets a pool large enough for browser-sized headers cost an
 * idle stream only the pages that hold its request and bookkeeping.
 *
 * Thread-safety: stateless; the caller must own the buffer (the content
 * reader owns MHD's buffer for the duration of the call).
 */
#ifndef SH_PAGES_H
#define SH_PAGES_H

#include <stddef.h>

/* Release the whole pages inside [buf, buf + len); partial pages at either
 * end are kept. Returns the number of bytes released (0 when the range
 * holds no whole page or madvise() failed, which only costs memory). */
size_t sh_pages_release(void *buf, size_t len);

/* The system page size (cached). */
size_t sh_page_size(void);

#endif
