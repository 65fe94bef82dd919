/* frame.c - reference-counted, preformatted event bytes (see frame.h). */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "json.h"
#include "protocol_limits.h"

/* head[] must end where bytes[] starts (sh_frame_chunk()). */
_Static_assert(offsetof(struct sh_frame, bytes)
                   == offsetof(struct sh_frame, head) + SH_FRAME_HEAD_MAX,
               "the chunk header must run into the frame's bytes");

/* Write "<hex of len>\r\n" so that it ends at the end of head[]. */
static void frame_chunk_head(struct sh_frame *f)
{
  static const char hex[] = "0123456789abcdef";
  char *p = f->head + SH_FRAME_HEAD_MAX;
  size_t n = f->len;

  *--p = '\n';
  *--p = '\r';
  do {
    *--p = hex[n & 0xf];
    n >>= 4;
  } while (0 != n);
  f->head_len = (unsigned char) (f->head + SH_FRAME_HEAD_MAX - p);
}

/* A frame of len wire bytes (uninitialised; their chunk framing set),
 * with extra bytes of room after the trailing CRLF. */
static struct sh_frame *frame_alloc(size_t len, size_t extra)
{
  struct sh_frame *f;

  if (extra > SIZE_MAX - sizeof(*f) - 2
      || len > SIZE_MAX - sizeof(*f) - 2 - extra)
    return NULL;
  f = malloc(sizeof(*f) + len + 2 + extra);
  if (NULL == f)
    return NULL;
  atomic_init(&f->refs, 1);
  f->seq = 0;
  f->born_ms = 0;
  f->born_ns = 0;
  f->id = NULL;
  f->topics = NULL;
  f->ntopics = 0;
  f->len = len;
  frame_chunk_head(f);
  f->bytes[len] = '\r';
  f->bytes[len + 1] = '\n';
  return f;
}

struct sh_frame *sh_frame_new(size_t len)
{
  return frame_alloc(len, 0);
}

struct sh_frame *sh_frame_new_event(size_t len, const char *id, size_t id_len,
                                    const char *const *topics, unsigned ntopics)
{
  /* + one pointer's worth of alignment padding */
  size_t extra = (NULL != id ? id_len + 1 : 0) + (ntopics + 1) * sizeof(char *);
  struct sh_frame *f;
  const char **names;
  char *p;
  unsigned i;

  for (i = 0; i < ntopics; i++)
    extra += strlen(topics[i]) + 1;
  f = frame_alloc(len, extra); /* checks len + extra for overflow */
  if (NULL == f)
    return NULL;
  /* Layout after the wire bytes and their CRLF: topic pointers (aligned),
   * names, id. */
  p = f->bytes + len + 2;
  p += (sizeof(char *) - (uintptr_t) p % sizeof(char *)) % sizeof(char *);
  names = (const char **) p;
  p += ntopics * sizeof(char *);
  for (i = 0; i < ntopics; i++) {
    size_t n = strlen(topics[i]) + 1;

    memcpy(p, topics[i], n);
    names[i] = p;
    p += n;
  }
  f->topics = names;
  f->ntopics = ntopics;
  if (NULL != id) {
    memcpy(p, id, id_len);
    p[id_len] = '\0';
    f->id = p;
  }
  return f;
}

bool sh_frame_matches(const struct sh_frame *f, const char *const *topics,
                      unsigned n)
{
  unsigned i, j;

  if (0 == f->ntopics)
    return true;
  for (i = 0; i < n; i++) {
    if (0 == strcmp(topics[i], "*"))
      return true;
    for (j = 0; j < f->ntopics; j++)
      if (0 == strcmp(topics[i], f->topics[j]))
        return true;
  }
  return false;
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

/* The in-band notice that events may have been missed: a named event, no
 * id line (the client keeps its last event id), JSON data. */
struct sh_frame *sh_frame_missed(const char *last_id, const char *reason)
{
  char json[SH_MAX_LAST_ID * 6 + 128], text[sizeof(json) + 64];
  struct sh_json j;
  int n;

  sh_json_init(&j, json, sizeof(json));
  sh_json_begin_object(&j);
  sh_json_key(&j, "lastEventId");
  /* Longer ones arrive here as "(too long)" (sh_subscribe()). */
  sh_json_string(&j, NULL != last_id ? last_id : "");
  sh_json_key(&j, "reason");
  sh_json_string(&j, reason);
  sh_json_end_object(&j);
  if (0 == sh_json_finish(&j, false))
    return NULL;
  n = snprintf(text, sizeof(text), "event: ssehub-missed\ndata: %s\n\n", json);
  return sh_frame_new_copy(text, (size_t) n);
}
