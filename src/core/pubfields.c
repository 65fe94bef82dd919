/* pubfields.c - the fields of one publish request (see pubfields.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "pubfields.h"
#include "sse_fmt.h"

/* data, event, id, retry and up to 16 topics, with room to spare */
#define MAX_FORM_FIELDS 32

void sh_pubfields_init(struct sh_pubfields *f)
{
  memset(f, 0, sizeof(*f));
  f->ev.retry = -1;
  f->ev.topics = f->topics;
}

bool sh_topic_ok(const char *t, size_t len)
{
  return len > 0 && len <= SH_MAX_TOPIC_LEN && sh_fmt_field_ok(t, len);
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
    if (!sh_fmt_field_ok(val, len))
      f->bad = "field event must not contain CR, LF or NUL\n";
    f->ev.event = val;
  } else if (0 == strcmp(key, "id")) {
    if (!once(f, &f->have_id, "field id given more than once\n"))
      return;
    if (0 == len || len > SH_MAX_ID_LEN || !sh_fmt_field_ok(val, len))
      f->bad = "field id must be 1-256 bytes without CR, LF or NUL\n";
    f->ev.id = val;
  } else if (0 == strcmp(key, "retry")) {
    if (!once(f, &f->have_retry, "field retry given more than once\n"))
      return;
    if (0 == len || len > 9 || strspn(val, "0123456789") != len)
      f->bad = "field retry must be a number of milliseconds\n";
    else
      f->ev.retry = strtol(val, NULL, 10);
  } else if (0 == strcmp(key, "topic")) {
    if (!sh_topic_ok(val, len) || 0 == strcmp(val, "*"))
      f->bad = "each topic must be 1-256 bytes without CR, LF or NUL, "
               "and not *\n";
    else if (f->ev.ntopics == SH_MAX_FRAME_TOPICS)
      f->bad = "too many topics (at most 16)\n";
    else
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
}
