/* sse_fmt.c - the text/event-stream wire format (see sse_fmt.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "sse_fmt.h"

bool sh_fmt_field_ok(const char *s, size_t len)
{
  size_t i;

  for (i = 0; i < len; i++)
    if ('\r' == s[i] || '\n' == s[i] || '\0' == s[i])
      return false;
  return true;
}

/* Length of the line starting at data[0] (up to, not including, its line
 * break) and, via *brk, the length of that break: 0 at end of input, 2 for
 * CRLF, 1 for lone CR or LF. */
static size_t line_len(const char *data, size_t len, size_t *brk)
{
  size_t i;

  for (i = 0; i < len; i++) {
    if ('\n' == data[i]) {
      *brk = 1;
      return i;
    }
    if ('\r' == data[i]) {
      *brk = (i + 1 < len && '\n' == data[i + 1]) ? 2 : 1;
      return i;
    }
  }
  *brk = 0;
  return len;
}

/* Size (out == NULL) or write the "data:" lines of data[0..len). One
 * function serves both passes so that they can never disagree. */
static size_t data_lines(const char *data, size_t len, char *out)
{
  size_t total = 0;
  size_t pos = 0;

  for (;;) {
    size_t brk;
    size_t n = line_len(data + pos, len - pos, &brk);
    /* "data:" + (" " + line, if the line is not empty) + "\n" */
    size_t need = 5 + (n > 0 ? 1 + n : 0) + 1;

    if (NULL != out) {
      char *p = out + total;

      memcpy(p, "data:", 5);
      p += 5;
      if (n > 0) {
        *p++ = ' ';
        memcpy(p, data + pos, n);
        p += n;
      }
      *p = '\n';
    }
    total += need;
    pos += n;
    if (0 == brk)
      break;
    pos += brk;
  }
  return total;
}

static int retry_text(long retry, char *buf, size_t cap)
{
  return snprintf(buf, cap, "%ld", retry);
}

size_t sh_fmt_event_size(const struct sh_event *ev)
{
  size_t n = 0;

  if (NULL != ev->event)
    n += 7 + strlen(ev->event) + 1; /* "event: " v "\n" */
  if (NULL != ev->id)
    n += 4 + strlen(ev->id) + 1; /* "id: " v "\n" */
  if (ev->retry >= 0) {
    char buf[32];

    n += 7 + (size_t) retry_text(ev->retry, buf, sizeof(buf)) + 1;
  }
  n += data_lines(ev->data, ev->data_len, NULL);
  return n + 1; /* the blank line */
}

static char *put_field(char *p, const char *name, size_t name_len,
                       const char *value, size_t value_len)
{
  memcpy(p, name, name_len);
  p += name_len;
  memcpy(p, value, value_len);
  p += value_len;
  *p++ = '\n';
  return p;
}

size_t sh_fmt_event(const struct sh_event *ev, char *out)
{
  char *p = out;

  if (NULL != ev->event)
    p = put_field(p, "event: ", 7, ev->event, strlen(ev->event));
  if (NULL != ev->id)
    p = put_field(p, "id: ", 4, ev->id, strlen(ev->id));
  if (ev->retry >= 0) {
    char buf[32];
    int n = retry_text(ev->retry, buf, sizeof(buf));

    p = put_field(p, "retry: ", 7, buf, (size_t) n);
  }
  p += data_lines(ev->data, ev->data_len, p);
  *p++ = '\n';
  return (size_t) (p - out);
}

size_t sh_fmt_comment_size(size_t text_len)
{
  return 1 + text_len + 2;
}

size_t sh_fmt_comment(const char *text, size_t text_len, char *out)
{
  char *p = out;

  *p++ = ':';
  memcpy(p, text, text_len);
  p += text_len;
  *p++ = '\n';
  *p++ = '\n';
  return (size_t) (p - out);
}
