/* entry.c - one Redis stream entry to a frame (see entry.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "protocol_limits.h"
#include "pubfields.h"
#include "sse_fmt.h"
#include "streamid.h"
#include "sync.h"

/* The frame of one stream entry (an array [id, [field, value, ...]]);
 * NULL for a malformed entry or out of memory (*bad says which). */
struct sh_frame *sh_entry_frame(const redisReply *e, bool *bad)
{
  const char *topics[SH_MAX_FRAME_TOPICS];
  struct sh_event ev = { .retry = -1 };
  const redisReply *kv;
  struct sh_frame *f;
  unsigned ntopics = 0;
  uint64_t seq;
  size_t i;

  *bad = true;
  if (REDIS_REPLY_ARRAY != e->type || 2 != e->elements
      || REDIS_REPLY_STRING != e->element[0]->type
      || !sh_streamid_parse(e->element[0]->str, &seq) || 0 == seq
      || REDIS_REPLY_ARRAY != e->element[1]->type)
    return NULL;
  kv = e->element[1];
  ev.id = e->element[0]->str;
  for (i = 0; i + 1 < kv->elements; i += 2) {
    const redisReply *k = kv->element[i], *v = kv->element[i + 1];

    if (REDIS_REPLY_STRING != k->type || REDIS_REPLY_STRING != v->type
        || 1 != k->len)
      continue; /* not ours: ignore, as a reader of a shared log should */
    switch (k->str[0]) {
    case 'd':
      ev.data = v->str;
      ev.data_len = v->len;
      break;
    case 'e':
      if (v->len > 0 && NULL == sh_field_check(SH_FIELD_EVENT, v->str, v->len))
        ev.event = v->str;
      break;
    case 'i':
      if (NULL == sh_field_check(SH_FIELD_ID, v->str, v->len))
        ev.id = v->str;
      break;
    case 'r':
      ev.retry = strtol(v->str, NULL, 10);
      break;
    case 't':
      if (ntopics < SH_MAX_FRAME_TOPICS && sh_topic_ok(v->str, v->len))
        topics[ntopics++] = v->str;
      break;
    default:
      break;
    }
  }
  /* Data that is not UTF-8 cannot be dropped like a field: the entry is
   * not an event this stream can carry (ssehub's writers never add one). */
  if (NULL != sh_data_check(ev.data, ev.data_len))
    return NULL;
  *bad = false;
  f = sh_frame_new_event(sh_fmt_event_size(&ev), ev.id, strlen(ev.id), topics,
                         ntopics);
  if (NULL == f)
    return NULL;
  sh_fmt_event(&ev, f->bytes);
  f->seq = seq;
  f->born_ns = sh_now_ns();
  f->born_ms = (long long) (f->born_ns / 1000000u);
  return f;
}
