/* frame.h - reference-counted, preformatted event bytes shared by all clients.
 *
 * Purpose: a published event is formatted once into a frame; every client
 * ring, the publish queue and (later) the history hold pointers to the same
 * frame, never copies of its bytes. Fan-out to N clients therefore costs N
 * reference increments, not N allocations.
 *
 * Ownership: sh_frame_new() returns a frame holding one reference, owned by
 * the caller. Whoever stores the pointer takes a reference with
 * sh_frame_ref(); whoever drops it calls sh_frame_unref(), and the last
 * unref frees the frame. The bytes are immutable once the frame is shared.
 *
 * Thread-safety: the reference count is atomic, so ref/unref are safe from
 * any thread; everything else in a shared frame is read-only.
 */
#ifndef SH_FRAME_H
#define SH_FRAME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for "<hex>\r\n" of any size_t: 16 digits and CRLF. */
#define SH_FRAME_HEAD_MAX 18

struct sh_frame {
  atomic_uint refs;          /* references held; the frame is freed at 0 */
  uint64_t seq;              /* publish sequence number, 0 for control frames */
  long long born_ms;         /* monotonic publish time (history ageing) */
  uint64_t born_ns;          /* the same in ns (publish-to-write metric);
                                0 for control frames */
  const char *id;            /* the event's id, NULL for control frames */
  const char *const *topics; /* ntopics topic names; none = everyone */
  unsigned ntopics;
  size_t len;             /* number of bytes in bytes[] */
  unsigned char head_len; /* length of the chunk header in head[] */
  /* The frame as one HTTP/1.1 chunk, ready for a direct write (sockio.c)
   * without a header built and an iovec added per write: "<hex>\r\n"
   * ends at the last byte of head[], which bytes[] follows directly, and
   * "\r\n" follows the len bytes (not counted in len). */
  char head[SH_FRAME_HEAD_MAX];
  char bytes[]; /* the exact wire text, e.g. "data: hi\n\n" */
};

/* The frame as one chunk: head, bytes and CRLF, contiguous. */
static inline const char *sh_frame_chunk(const struct sh_frame *f, size_t *len)
{
  *len = (size_t) f->head_len + f->len + 2;
  return f->bytes - f->head_len;
}

/* Allocate a frame of len bytes (uninitialised) with one reference.
 * Returns NULL when out of memory. */
struct sh_frame *sh_frame_new(size_t len);

/* Like sh_frame_new(), with copies of id (id_len bytes; may be NULL) and of
 * the ntopics topic names kept in the same allocation, NUL-terminated. */
struct sh_frame *sh_frame_new_event(size_t len, const char *id, size_t id_len,
                                    const char *const *topics,
                                    unsigned ntopics);

/* True when the frame goes to a subscriber of topics[0..n): frames without
 * topics go to everyone, "*" subscribes to every topic. */
bool sh_frame_matches(const struct sh_frame *f, const char *const *topics,
                      unsigned n);

/* Allocate a frame holding a copy of text[0..len). NULL when out of memory. */
struct sh_frame *sh_frame_new_copy(const char *text, size_t len);

/* The ssehub-missed notice (doc/protocol.md): a named event without id,
 * data {"lastEventId":last_id,"reason":reason} written by the JSON writer
 * (json.h), so whatever bytes last_id holds the data parses. last_id
 * (NULL: "") is at most SH_MAX_LAST_ID bytes. NULL when out of memory. */
struct sh_frame *sh_frame_missed(const char *last_id, const char *reason);

static inline struct sh_frame *sh_frame_ref(struct sh_frame *f)
{
  atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
  return f;
}

/* Drop one reference; frees the frame on the last one. NULL-safe. */
void sh_frame_unref(struct sh_frame *f);

#endif /* SH_FRAME_H */
