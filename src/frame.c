/* frame.c - reference-counted, preformatted event bytes (see frame.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "frame.h"

struct sh_frame *sh_frame_new(size_t len)
{
  struct sh_frame *f;

  if (len > SIZE_MAX - sizeof(*f))
    return NULL;
  f = malloc(sizeof(*f) + len);
  if (NULL == f)
    return NULL;
  atomic_init(&f->refs, 1);
  f->seq = 0;
  f->len = len;
  return f;
}

struct sh_frame *sh_frame_new_copy(const char *text, size_t len)
{
  struct sh_frame *f = sh_frame_new(len);

  if (NULL != f)
    memcpy(f->bytes, text, len);
  return f;
}

void sh_frame_unref(struct sh_frame *f)
{
  if (NULL == f)
    return;
  /* acq_rel: the thread that frees must see every write made by threads
   * that dropped their references before it. */
  if (1 == atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel))
    free(f);
}
