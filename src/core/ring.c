/* ring.c - a client's bounded queue of pending frames (see ring.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

static bool is_pow2(uint32_t v)
{
  return 0 != v && 0 == (v & (v - 1));
}

int sh_ring_init(struct sh_ring *r, uint32_t init_slots, uint32_t max_slots,
                 size_t max_bytes)
{
  memset(r, 0, sizeof(*r));
  if (!is_pow2(init_slots) || !is_pow2(max_slots) || init_slots > max_slots
      || 0 == max_bytes)
    return -EINVAL;
  r->slots = calloc(init_slots, sizeof(*r->slots));
  if (NULL == r->slots)
    return -ENOMEM;
  r->mask = init_slots - 1;
  r->init_slots = init_slots;
  r->max_slots = max_slots;
  r->max_bytes = max_bytes;
  return 0;
}

void sh_ring_destroy(struct sh_ring *r)
{
  if (NULL == r->slots)
    return;
  sh_ring_clear(r);
  free(r->slots);
  r->slots = NULL;
}

/* Double the slot array, keeping the frames in order at indices 0..count. */
static int grow(struct sh_ring *r)
{
  uint32_t cap = r->mask + 1;
  uint32_t count = sh_ring_count(r);
  struct sh_frame **slots = malloc((size_t) cap * 2 * sizeof(*slots));
  uint32_t i;

  if (NULL == slots)
    return -ENOMEM;
  for (i = 0; i < count; i++)
    slots[i] = r->slots[(r->head + i) & r->mask];
  free(r->slots);
  r->slots = slots;
  r->mask = cap * 2 - 1;
  r->head = 0;
  r->tail = count;
  return 0;
}

int sh_ring_push(struct sh_ring *r, struct sh_frame *f)
{
  uint32_t count = sh_ring_count(r);

  if (count > 0 && r->pending + f->len > r->max_bytes)
    return -ENOBUFS;
  if (count == r->mask + 1) {
    int rc;

    if (count >= r->max_slots)
      return -ENOBUFS;
    rc = grow(r);
    if (0 != rc)
      return rc;
  }
  r->slots[r->tail & r->mask] = sh_frame_ref(f);
  r->tail++;
  r->pending += f->len;
  return 0;
}

/* Give back the memory of a slot array that a burst made large. */
static void shrink_if_idle(struct sh_ring *r)
{
  struct sh_frame **slots;

  if (r->mask + 1 == r->init_slots)
    return;
  slots = realloc(r->slots, (size_t) r->init_slots * sizeof(*slots));
  if (NULL == slots)
    return; /* keep the larger array; it still works */
  r->slots = slots;
  r->mask = r->init_slots - 1;
  r->head = r->tail = 0;
}

size_t sh_ring_drain(struct sh_ring *r, char *buf, size_t max)
{
  size_t n = 0;

  while (r->head != r->tail && n < max) {
    struct sh_frame *f = r->slots[r->head & r->mask];
    size_t take = f->len - r->off;

    if (take > max - n)
      take = max - n;
    memcpy(buf + n, f->bytes + r->off, take);
    n += take;
    r->off += take;
    r->pending -= take;
    if (r->off == f->len) {
      r->slots[r->head & r->mask] = NULL;
      r->head++;
      r->off = 0;
      sh_frame_unref(f);
    }
  }
  if (r->head == r->tail)
    shrink_if_idle(r);
  return n;
}

void sh_ring_clear(struct sh_ring *r)
{
  while (r->head != r->tail) {
    sh_frame_unref(r->slots[r->head & r->mask]);
    r->slots[r->head & r->mask] = NULL;
    r->head++;
  }
  r->off = 0;
  r->pending = 0;
}
