/* fuzz_publish.c - libFuzzer harness for the publish path, pure part:
 * form body -> sh_pubfields (src/pubfields.h) -> sh_fmt_event()
 * (src/sse_fmt.h), then the wire text is parsed back.
 *
 * Input: byte 0 selects the mode. Odd: text/plain, the rest of the input
 * is the data and there are no fields (as http_publish.c does it with an
 * empty query string). Even: the rest is an x-www-form-urlencoded body.
 *
 * When the fields are accepted (bad == NULL) the event is formatted into
 * a buffer of exactly sh_fmt_event_size() bytes and checked:
 *   - sh_fmt_event() returns that size;
 *   - the frame ends with "\n\n", holds no CR, and its only blank line is
 *     the final one (one event per frame);
 *   - the event/id lines hold no NUL;
 *   - a small text/event-stream parser (WHATWG HTML "interpreting an event
 *     stream") gives back the data with CRLF/CR turned into LF, the same
 *     event name, id and retry.
 * When refused, bad is a one-line reason ending in "\n". In form mode an
 * accepted body must also consist only of the known field names, compared
 * with their decoded length (a key "data%00x" is an unknown field, not
 * "data"); build with -DFUZZ_PUBLISH_LAX_KEYS to skip that check.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "pubfields.h"
#include "sse_fmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz_publish: check failed at line %d: %s\n", __LINE__, \
              #cond);                                                          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* What the parser recovers from one frame. Strings are heap copies. */
struct parsed {
  char *data; /* data buffer, trailing LF removed */
  size_t data_len;
  char *event; /* NULL when no event line */
  size_t event_len;
  char *id; /* NULL when no id line */
  size_t id_len;
  long retry;     /* -1 when no retry line */
  int dispatched; /* blank lines seen */
};

static char *dup_bytes(const char *s, size_t n)
{
  char *p = malloc(n + 1);

  CHECK(NULL != p);
  if (n > 0)
    memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* Parse one frame. The formatter never writes CR, so lines end at LF. */
static void parse_frame(const char *s, size_t len, struct parsed *p)
{
  size_t pos = 0, cap = len + 1;

  memset(p, 0, sizeof(*p));
  p->retry = -1;
  p->data = malloc(cap);
  CHECK(NULL != p->data);
  while (pos < len) {
    const char *line = s + pos;
    const char *nl = memchr(line, '\n', len - pos);
    size_t n, flen;
    const char *colon, *val;
    size_t vlen;

    CHECK(NULL != nl); /* every line is terminated */
    n = (size_t) (nl - line);
    pos += n + 1;
    if (0 == n) { /* blank line: dispatch */
      p->dispatched++;
      CHECK(pos == len); /* ...only at the very end */
      continue;
    }
    CHECK(':' != line[0]); /* the formatter writes no comment */
    colon = memchr(line, ':', n);
    CHECK(NULL != colon); /* and no value-less field */
    flen = (size_t) (colon - line);
    val = colon + 1;
    vlen = n - flen - 1;
    if (vlen > 0 && ' ' == val[0]) {
      val++;
      vlen--;
    }
    if (4 == flen && 0 == memcmp(line, "data", 4)) {
      memcpy(p->data + p->data_len, val, vlen);
      p->data_len += vlen;
      p->data[p->data_len++] = '\n';
    } else if (5 == flen && 0 == memcmp(line, "event", 5)) {
      CHECK(NULL == memchr(val, '\0', vlen));
      CHECK(NULL == p->event); /* written once */
      p->event = dup_bytes(val, vlen);
      p->event_len = vlen;
    } else if (2 == flen && 0 == memcmp(line, "id", 2)) {
      CHECK(NULL == memchr(val, '\0', vlen)); /* browsers would ignore it */
      CHECK(NULL == p->id);
      p->id = dup_bytes(val, vlen);
      p->id_len = vlen;
    } else if (5 == flen && 0 == memcmp(line, "retry", 5)) {
      size_t i;
      long r = 0;

      CHECK(vlen > 0 && vlen <= 19);
      for (i = 0; i < vlen; i++) {
        CHECK(val[i] >= '0' && val[i] <= '9');
        r = r * 10 + (val[i] - '0');
      }
      CHECK(-1 == p->retry);
      p->retry = r;
    } else {
      CHECK(!"unexpected field name in frame");
    }
  }
  CHECK(1 == p->dispatched);
  /* The spec removes the last LF of the data buffer. */
  CHECK(p->data_len > 0 && '\n' == p->data[p->data_len - 1]);
  p->data_len--;
}

static void parsed_free(struct parsed *p)
{
  free(p->data);
  free(p->event);
  free(p->id);
}

/* Data as a client sees it: CRLF and lone CR become LF. */
static size_t normalise(const char *in, size_t len, char *out)
{
  size_t i, o = 0;

  for (i = 0; i < len; i++) {
    if ('\r' == in[i]) {
      out[o++] = '\n';
      if (i + 1 < len && '\n' == in[i + 1])
        i++;
    } else {
      out[o++] = in[i];
    }
  }
  return o;
}

static void check_event(const struct ssehub_event *ev)
{
  struct sh_event e = { .data = ev->data,
                        .data_len = ev->data_len,
                        .event = ev->event,
                        .id = ev->id,
                        .retry = ev->retry };
  size_t size = sh_fmt_event_size(&e), n;
  char *frame = malloc(size); /* exactly the size: ASan checks */
  char *norm = malloc(ev->data_len + 1);
  struct parsed p;

  CHECK(NULL != frame && NULL != norm);
  CHECK(size >= 7); /* at least "data:\n\n" */
  n = sh_fmt_event(&e, frame);
  CHECK(n == size);
  CHECK('\n' == frame[size - 1] && '\n' == frame[size - 2]);
  CHECK(NULL == memchr(frame, '\r', size));

  parse_frame(frame, size, &p);
  n = normalise(ev->data, ev->data_len, norm);
  CHECK(p.data_len == n);
  CHECK(0 == n || 0 == memcmp(p.data, norm, n));
  if (NULL == ev->event) {
    CHECK(NULL == p.event);
  } else {
    CHECK(NULL != p.event);
    CHECK(p.event_len == strlen(ev->event));
    CHECK(0 == strcmp(p.event, ev->event));
  }
  if (NULL == ev->id) {
    CHECK(NULL == p.id);
  } else {
    CHECK(NULL != p.id);
    CHECK(p.id_len == strlen(ev->id));
    CHECK(0 == strcmp(p.id, ev->id));
  }
  CHECK(p.retry == (ev->retry >= 0 ? ev->retry : -1));

  parsed_free(&p);
  free(norm);
  free(frame);
}

#ifndef FUZZ_PUBLISH_LAX_KEYS
/* Every field of an accepted form body is one of the five known names. */
static void check_keys(const uint8_t *in, size_t len)
{
  static const char *const known[] = { "data", "event", "id", "retry",
                                       "topic" };
  struct sh_form_field ff[SH_MAX_FRAME_TOPICS + 16];
  char *copy = malloc(len + 1);
  int n, i;
  size_t k;

  CHECK(NULL != copy);
  if (len > 0)
    memcpy(copy, in, len);
  n = sh_form_parse(copy, len, ff, sizeof(ff) / sizeof(ff[0]));
  CHECK(n >= 1); /* it was accepted: data is there */
  for (i = 0; i < n; i++) {
    bool ok = false;

    for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
      ok = ok
           || (ff[i].key_len == strlen(known[k])
               && 0 == memcmp(ff[i].key, known[k], ff[i].key_len));
    if (!ok) {
      fprintf(stderr,
              "fuzz_publish: accepted unknown field key of %zu "
              "bytes (embedded NUL?)\n",
              ff[i].key_len);
      abort();
    }
  }
  free(copy);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct sh_pubfields f;
  char *body;
  size_t len;
  unsigned i;
  bool plain;

  if (0 == size)
    return 0;
  plain = data[0] & 1;
  len = size - 1;
  body = malloc(len + 1); /* one spare byte, as required */
  CHECK(NULL != body);
  if (len > 0)
    memcpy(body, data + 1, len);
  body[len] = '\0';

  sh_pubfields_init(&f);
  if (plain) {
    /* http_publish.c with an empty query string */
    f.have_data = true;
    f.ev.data = body;
    f.ev.data_len = len;
  } else {
    sh_pubfields_from_form(&f, body, len);
  }
  sh_pubfields_finish(&f);

  if (NULL != f.bad) {
    size_t blen = strlen(f.bad);

    CHECK(blen > 1 && '\n' == f.bad[blen - 1]);
    CHECK(NULL == memchr(f.bad, '\n', blen - 1));
  } else {
    /* What an accepted publish promises ssehub_publish(). */
    CHECK(f.have_data);
    CHECK(NULL != f.ev.data || 0 == f.ev.data_len);
    CHECK(f.ev.retry >= -1);
    CHECK(f.ev.ntopics <= SH_MAX_FRAME_TOPICS);
    CHECK(f.ev.topics == f.topics);
    if (NULL != f.ev.event)
      CHECK(sh_fmt_field_ok(f.ev.event, strlen(f.ev.event)));
    if (NULL != f.ev.id) {
      size_t idl = strlen(f.ev.id);

      CHECK(idl > 0 && idl <= SH_MAX_ID_LEN);
      CHECK(sh_fmt_field_ok(f.ev.id, idl));
    }
    for (i = 0; i < f.ev.ntopics; i++) {
      CHECK(sh_topic_ok(f.topics[i], strlen(f.topics[i])));
      CHECK(0 != strcmp(f.topics[i], "*"));
    }
    /* The library's door (ssehub_publish) takes what this one takes:
     * valid UTF-8 everywhere, no control character in the fields. */
    CHECK(NULL == sh_event_check(&f.ev));
    if (plain)
      CHECK(f.ev.data == body && f.ev.data_len == len && 0 == f.ev.ntopics
            && NULL == f.ev.event && NULL == f.ev.id && -1 == f.ev.retry);
#ifndef FUZZ_PUBLISH_LAX_KEYS
    if (!plain)
      check_keys(data + 1, len);
#endif
    check_event(&f.ev);
  }
  free(body);
  return 0;
}
