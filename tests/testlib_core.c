/* testlib_core.c - helpers for the unit tests of src/core (see testlib.h).
 * A file of its own: check_embed links testlib.c but not the hub's
 * internals. */
#include "config.h"

#include <stdatomic.h>
#include <string.h>

#include <check.h>

#include "client.h"
#include "frame.h"
#include "testlib.h"

struct sh_frame *tl_frame_str(const char *s)
{
  struct sh_frame *f = sh_frame_new_copy(s, strlen(s));

  ck_assert_ptr_nonnull(f);
  return f;
}

struct sh_frame *tl_frame_fill(char ch, size_t len)
{
  struct sh_frame *f = sh_frame_new(len);

  ck_assert_ptr_nonnull(f);
  memset(f->bytes, ch, len);
  return f;
}

unsigned tl_frame_refs(const struct sh_frame *f)
{
  return atomic_load(&f->refs);
}

struct sh_client *tl_client(size_t max_bytes)
{
  struct sh_client *c = sh_client_new(NULL, -1, 8, 4096, max_bytes);

  ck_assert_ptr_nonnull(c);
  return c;
}
