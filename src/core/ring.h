/* ring.h - a client's bounded queue of pending frames.
 *
 * Purpose: hold references to the frames a client has not yet been sent,
 * in order, with the offset reached in the first one. The ring stores
 * pointers, never bytes: the broadcaster pushes a frame shared with every
 * other client, and the content reader copies bytes straight from the
 * frames into libmicrohttpd's send buffer, coalescing as many pending
 * frames as fit into one write.
 *
 * Bounds: a ring refuses a push (-ENOBUFS) when it would hold more than
 * max_bytes unsent bytes or max_slots frames. An empty ring accepts any one
 * frame, so an event larger than max_bytes can still be delivered to a
 * client that keeps up; frames are shared, so this never costs more than
 * the one frame. The slot array starts at init_slots and doubles on demand
 * up to max_slots; it shrinks back when the ring drains, so an idle client
 * costs init_slots pointers. Growth allocates, but only when a client's
 * backlog reaches a new depth, never per message.
 *
 * Ownership: a successful push takes a new reference on the frame; drain and
 * clear drop the references of the frames they finish or discard.
 *
 * Thread-safety: none inside. The owner (struct sh_client) guards its ring
 * with the client lock.
 */
#ifndef SH_RING_H
#define SH_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct sh_ring {
  struct sh_frame **slots; /* capacity is mask + 1, a power of two */
  uint32_t mask;
  uint32_t head; /* index of the next frame to send (free-running) */
  uint32_t tail; /* index of the next free slot (free-running) */
  uint32_t init_slots;
  uint32_t max_slots;
  size_t off;     /* bytes of slots[head] already sent */
  size_t pending; /* unsent bytes in the ring */
  size_t max_bytes;
};

/* Initialise with the given bounds. init_slots and max_slots must be powers
 * of two with init_slots <= max_slots. Returns 0, -EINVAL or -ENOMEM. */
int sh_ring_init(struct sh_ring *r, uint32_t init_slots, uint32_t max_slots,
                 size_t max_bytes);

/* Drop every reference and free the slot array. */
void sh_ring_destroy(struct sh_ring *r);

/* Append f (taking a reference). Returns 0, -ENOBUFS when the ring is full
 * (the ring is unchanged), or -ENOMEM when growing failed (unchanged). */
int sh_ring_push(struct sh_ring *r, struct sh_frame *f);

/* Copy up to max pending bytes into buf, in order, and drop the frames that
 * were sent completely. Returns the number of bytes copied (0 if empty). */
size_t sh_ring_drain(struct sh_ring *r, char *buf, size_t max);

/* Drop every pending frame (used when a client is cut off). */
void sh_ring_clear(struct sh_ring *r);

static inline uint32_t sh_ring_count(const struct sh_ring *r)
{
  return r->tail - r->head;
}

static inline bool sh_ring_empty(const struct sh_ring *r)
{
  return r->tail == r->head;
}

static inline size_t sh_ring_pending(const struct sh_ring *r)
{
  return r->pending;
}

#endif /* SH_RING_H */
