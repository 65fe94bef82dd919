/* pubfields.c - the fields of one publish request (see pubfields.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "pubfields.h"
#include "utf8.h"

/* data, event, id, retry and up to 16 topics, with room to spare */
#define MAX_FORM_FIELDS 32

#define TOO_MANY_TOPICS "too many topics (at most 16)\n"
#define STAR_TOPIC "topic * is for subscribers only (it means every topic)\n"

void sh_pubfields_init(struct sh_pubfields *f)
{
  memset(f, 0, sizeof(*f));
  f->ev.retry = -1;
  f->ev.topics = f->topics;
}

/* The reasons, one line each, naming the field (doc/protocol.md). */
static const struct {
  const char *size, *utf8, *control;
} reasons[] = {
  [SH_FIELD_ID] = { "field id must be 1-256 bytes\n", "id is not valid UTF-8\n",
                    "id holds a control character\n" },
  [SH_FIELD_EVENT] = { NULL, "event is not valid UTF-8\n",
                       "event holds a control character\n" },
  [SH_FIELD_TOPIC] = { "each topic must be 1-256 bytes\n",
                       "topic is not valid UTF-8\n",
                       "topic holds a control character\n" },
  [SH_FIELD_LAST_ID] = { NULL, "Last-Event-ID is not valid UTF-8\n",
                         "Last-Event-ID holds a control character\n" },
};

const char *sh_field_check(enum sh_field which, const char *val, size_t len)
{
  size_t max = SH_FIELD_ID == which ? SH_MAX_ID_LEN : SH_MAX_TOPIC_LEN;

  if (NULL != reasons[which].size && (0 == len || len > max))
    return reasons[which].size;
  switch (sh_text_check(val, len)) {
  case SH_TEXT_BAD_UTF8:
    return reasons[which].utf8;
  case SH_TEXT_CONTROL:
    return reasons[which].control;
  default:
    return NULL;
  }
}

const char *sh_data_check(const char *data, size_t len)
{
  return sh_utf8_valid(data, len) ? NULL : "data is not valid UTF-8\n";
}

bool sh_topic_ok(const char *t, size_t len)
{
  return NULL == sh_field_check(SH_FIELD_TOPIC, t, len);
}

const char *sh_event_check(const struct ssehub_event *ev)
{
  const char *bad = NULL;
  unsigned i;

  if (NULL == ev->data && ev->data_len > 0)
    return "missing field: data\n";
  if (NULL != ev->id)
    bad = sh_field_check(SH_FIELD_ID, ev->id, strlen(ev->id));
  if (NULL == bad && NULL != ev->event)
    bad = sh_field_check(SH_FIELD_EVENT, ev->event, strlen(ev->event));
  if (NULL == bad && ev->ntopics > SH_MAX_FRAME_TOPICS)
    bad = TOO_MANY_TOPICS;
  if (NULL == bad && ev->ntopics > 0 && NULL == ev->topics)
    bad = "missing topics\n";
  for (i = 0; NULL == bad && i < ev->ntopics; i++) {
    if (NULL == ev->topics[i])
      bad = "missing topics\n";
    else if (0 == strcmp(ev->topics[i], "*"))
      bad = STAR_TOPIC;
    else
      bad = sh_field_check(SH_FIELD_TOPIC, ev->topics[i],
                           strlen(ev->topics[i]));
  }
  if (NULL == bad && NULL != ev->data)
    bad = sh_data_check(ev->data, ev->data_len);
  return bad;
}

/* Mark a field seen; false (and a reason) if it was seen before. */
static bool once(struct sh_pubfields *f, bool *seen, const char *reason)
{
  if (*seen)
    f->bad = reason;
  *seen = true;
  return NULL == f->bad;
}

void sh_pubfields_add(struct sh_pubfields *f, const char *key, const char *val,
                      size_t len)
{
  if (NULL != f->bad)
    return;
  if (0 == strcmp(key, "data")) {
    if (once(f, &f->have_data, "field data given more than once\n")) {
      f->ev.data = val;
      f->ev.data_len = len;
    }
  } else if (0 == strcmp(key, "event")) {
    if (!once(f, &f->have_event, "field event given more than once\n"))
      return;
    f->bad = sh_field_check(SH_FIELD_EVENT, val, len);
    f->ev.event = val;
  } else if (0 == strcmp(key, "id")) {
    if (!once(f, &f->have_id, "field id given more than once\n"))
      return;
    f->bad = sh_field_check(SH_FIELD_ID, val, len);
    f->ev.id = val;
  } else if (0 == strcmp(key, "retry")) {
    if (!once(f, &f->have_retry, "field retry given more than once\n"))
      return;
    if (0 == len || len > 9 || strspn(val, "0123456789") != len)
      f->bad = "field retry must be a number of milliseconds\n";
    else
      f->ev.retry = strtol(val, NULL, 10);
  } else if (0 == strcmp(key, "topic")) {
    f->bad = sh_field_check(SH_FIELD_TOPIC, val, len);
    if (NULL == f->bad && 0 == strcmp(val, "*"))
      f->bad = STAR_TOPIC;
    else if (NULL == f->bad && f->ev.ntopics == SH_MAX_FRAME_TOPICS)
      f->bad = TOO_MANY_TOPICS;
    else if (NULL == f->bad)
      f->topics[f->ev.ntopics++] = val;
  } else {
    f->bad = "unknown field; accepted: data, event, id, retry, topic\n";
  }
}

void sh_pubfields_from_form(struct sh_pubfields *f, char *body, size_t len)
{
  struct sh_form_field ff[MAX_FORM_FIELDS];
  int n, i;

  n = sh_form_parse(body, len, ff, MAX_FORM_FIELDS);
  if (-EINVAL == n)
    f->bad = "malformed form body: invalid percent-encoding\n";
  else if (n < 0)
    f->bad = "too many form fields\n";
  for (i = 0; i < n; i++)
    sh_pubfields_add_n(f, ff[i].key, ff[i].key_len, ff[i].val, ff[i].val_len);
}

void sh_pubfields_add_n(struct sh_pubfields *f, const char *key, size_t key_len,
                        const char *val, size_t len)
{
  /* A name with a NUL inside ("data%00junk") is not the name before it. */
  if (strlen(key) != key_len) {
    if (NULL == f->bad)
      f->bad = "unknown field; accepted: data, event, id, retry, topic\n";
    return;
  }
  sh_pubfields_add(f, key, val, len);
}

void sh_pubfields_finish(struct sh_pubfields *f)
{
  if (NULL == f->bad && !f->have_data)
    f->bad = "missing field: data\n";
  /* Data is the publisher's, but the stream is UTF-8 (doc/protocol.md). */
  if (NULL == f->bad)
    f->bad = sh_data_check(f->ev.data, f->ev.data_len);
}
