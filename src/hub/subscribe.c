/* subscribe.c - admitting a stream client (sh_subscribe, see hub.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hub.h"
#include "sync.h"

/* The in-band notice that events may have been missed: a named event, no
 * id line (the client keeps its last event id). last_id is JSON-escaped. */
static struct sh_frame *missed_frame(const char *last_id, enum sh_resume why)
{
  char esc[SH_MAX_LAST_ID * 6 + 1], *p = esc;
  char text[sizeof(esc) + 128];
  const unsigned char *s;
  int n;

  for (s = (const unsigned char *) last_id; '\0' != *s; s++) {
    if ('"' == *s || '\\' == *s) {
      *p++ = '\\';
      *p++ = (char) *s;
    } else if (*s < 0x20) {
      p += sprintf(p, "\\u%04x", *s);
    } else {
      *p++ = (char) *s;
    }
  }
  *p = '\0';
  n = snprintf(text, sizeof(text),
               "event: ssehub-missed\ndata: {\"lastEventId\":\"%s\","
               "\"reason\":\"%s\"}\n\n",
               esc, sh_resume_reason(why));
  return sh_frame_new_copy(text, (size_t) n);
}

/* Index of the first frame in [from, count) to replay so that the matching
 * ones fit in budget bytes and half the ring's slots (newest kept). */
static size_t fit(struct sh_history *h, struct sh_client *c, size_t from,
                  size_t budget)
{
  size_t i = h->count, used = 0, frames = 0;

  while (i > from) {
    struct sh_frame *f = sh_history_at(h, i - 1);

    if (sh_frame_matches(f, (const char *const *) c->topics, c->ntopics)) {
      if (used + f->len > budget || frames == SH_RING_MAX_SLOTS / 2)
        break;
      used += f->len;
      frames++;
    }
    i--;
  }
  return i;
}

int sh_subscribe(struct ssehub *hub, struct sh_client *c, const char *last_id)
{
  struct sh_history *h = &hub->history;
  enum sh_resume why;
  size_t from, start, i;
  int rc = 0;

  if (NULL != last_id && strlen(last_id) > SH_MAX_LAST_ID)
    last_id = "(too long)";
  sh_history_lock(h);
  why = sh_history_locate(h, last_id, &from);
  /* Leave room for what the live stream brings meanwhile: replay at most
   * half the client's buffer. */
  start = fit(h, c, from, hub->opt.client_buffer / 2);
  if (SH_RESUME_FROM == why && start > from)
    why = SH_RESUME_EXPIRED;
  if (SH_RESUME_LIVE != why && SH_RESUME_FROM != why) {
    struct sh_frame *m = missed_frame(last_id, why);

    if (NULL == m || 0 != sh_client_preload(c, m))
      rc = -ENOMEM;
    sh_frame_unref(m);
  }
  for (i = start; 0 == rc && i < h->count; i++) {
    struct sh_frame *f = sh_history_at(h, i);

    if (sh_frame_matches(f, (const char *const *) c->topics, c->ntopics)
        && 0 != sh_client_preload(c, f))
      rc = -ENOMEM;
  }
  /* Live delivery continues after the newest event the history has seen,
   * whether or not it was replayed. (c is not shared yet: no lock.) */
  c->last_seq = h->newest_seq;
  if (0 == rc)
    rc = sh_registry_add(&hub->reg, c);
  sh_history_unlock(h);
  if (0 != rc)
    return rc;
  sh_watch_add(&hub->watch, c);
  if (SH_RESUME_LIVE != why)
    sh_count(&hub->n.resumes, 1);
  return 0;
}
