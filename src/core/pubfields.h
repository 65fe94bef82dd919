/* pubfields.h - the fields of one publish request, validated (pure).
 *
 * Purpose: turn the key/value pairs of a publish (form fields, or query
 * parameters next to a text/plain body) into a struct ssehub_event, and
 * refuse with a one-line reason anything that would corrupt the stream or
 * is ambiguous: unknown fields, a field given twice, an id, event or
 * topic that is not valid UTF-8 or holds a control character (utf8.h;
 * CR, LF and NUL among them), data that is not valid UTF-8, an empty id,
 * a non-numeric retry, too many or too long topics, "*" as a topic. The
 * same checks serve ssehub_publish() (sh_event_check()), GET /sse's
 * topics and Last-Event-ID (sh_field_check()) and the Redis reader, so
 * that every door refuses the same things. No I/O, no locks, no
 * allocation; fuzzed (tests/fuzz/).
 *
 * Ownership: the event's strings point into the caller's buffers.
 * Thread-safety: reentrant.
 */
#ifndef SH_PUBFIELDS_H
#define SH_PUBFIELDS_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol_limits.h"
#include "ssehub.h"

struct sh_pubfields {
  struct ssehub_event ev; /* ev.topics points at topics below */
  const char *topics[SH_MAX_FRAME_TOPICS];
  bool have_data, have_event, have_id, have_retry;
  const char *bad; /* reason for a 400 ("...\n"), or NULL */
};

void sh_pubfields_init(struct sh_pubfields *f);

/* Apply one field; val[0..len) must be followed by a NUL. Sets f->bad on
 * the first problem; later fields are then ignored. */
void sh_pubfields_add(struct sh_pubfields *f, const char *key, const char *val,
                      size_t len);

/* Same, with the key's length: a key with a NUL byte inside is refused as
 * unknown instead of being read as its prefix. */
void sh_pubfields_add_n(struct sh_pubfields *f, const char *key, size_t key_len,
                        const char *val, size_t len);

/* Parse an x-www-form-urlencoded body in place (body needs one spare byte
 * after len) and apply its fields. */
void sh_pubfields_from_form(struct sh_pubfields *f, char *body, size_t len);

/* Final check once all fields are in: data must be present. */
void sh_pubfields_finish(struct sh_pubfields *f);

/* The text fields a client sends. */
enum sh_field {
  SH_FIELD_ID,     /* an event's id: 1-256 bytes */
  SH_FIELD_EVENT,  /* an event's name */
  SH_FIELD_TOPIC,  /* a topic: 1-256 bytes */
  SH_FIELD_LAST_ID /* a stream's Last-Event-ID (any length) */
};

/* NULL when val[0..len) may be that field: its size, valid UTF-8 and no
 * control character; else the one-line reason for a 400, naming the
 * field ("id is not valid UTF-8\n"). A static string. */
const char *sh_field_check(enum sh_field which, const char *val, size_t len);

/* NULL when data[0..len) is valid UTF-8, else the reason. */
const char *sh_data_check(const char *data, size_t len);

/* NULL when ev may be published (what ssehub_publish() refuses with
 * -EINVAL otherwise), else the reason; strings are read up to their NUL.
 * The data size limit is the hub's, not checked here. */
const char *sh_event_check(const struct ssehub_event *ev);

/* A topic name a subscriber or publisher may use: sh_field_check()'s
 * SH_FIELD_TOPIC. ("*" is valid for subscribers only.) */
bool sh_topic_ok(const char *t, size_t len);

#endif /* SH_PUBFIELDS_H */
