/* json.c - the one JSON writer (see json.h). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

void sh_json_init(struct sh_json *j, char *buf, size_t cap)
{
  memset(j, 0, sizeof(*j));
  j->buf = buf;
  j->cap = cap;
  j->overflow = 0 == cap;
  if (cap > 0)
    buf[0] = '\0';
}

/* Append s[0..n) whole, or mark the overflow and append nothing. */
static void put(struct sh_json *j, const char *s, size_t n)
{
  if (j->overflow || n >= j->cap - j->len) {
    j->overflow = true;
    return;
  }
  memcpy(j->buf + j->len, s, n);
  j->len += n;
  j->buf[j->len] = '\0';
}

/* Before any value or key: the comma between items. */
static void separate(struct sh_json *j)
{
  uint32_t bit = 1u << j->depth;

  if (j->after_key) {
    j->after_key = false;
    return;
  }
  if (j->depth > 0 && 0 != (j->filled & bit))
    put(j, ",", 1);
  j->filled |= bit;
}

static void open_container(struct sh_json *j, char c)
{
  separate(j);
  if (j->depth + 1 >= SH_JSON_MAX_DEPTH) {
    j->overflow = true;
    return;
  }
  put(j, &c, 1);
  j->depth++;
  j->filled &= ~(1u << j->depth);
}

static void close_container(struct sh_json *j, char c)
{
  if (0 == j->depth) {
    j->overflow = true;
    return;
  }
  put(j, &c, 1);
  j->depth--;
}

void sh_json_begin_object(struct sh_json *j)
{
  open_container(j, '{');
}
void sh_json_end_object(struct sh_json *j)
{
  close_container(j, '}');
}
void sh_json_begin_array(struct sh_json *j)
{
  open_container(j, '[');
}
void sh_json_end_array(struct sh_json *j)
{
  close_container(j, ']');
}

/* The escaped form of the character at s[0..n) into esc (8 bytes), its
 * length in *plen, and how many input bytes it takes. When the character
 * needs no escape, *piece points at s itself. */
static size_t escape_one(const char *s, size_t n, char *esc, const char **piece,
                         size_t *plen)
{
  unsigned char ch = (unsigned char) s[0];
  uint32_t cp;
  size_t step;

  *piece = esc;
  switch (ch) {
  case '"':
    memcpy(esc, "\\\"", 2), *plen = 2;
    return 1;
  case '\\':
    memcpy(esc, "\\\\", 2), *plen = 2;
    return 1;
  case '\n':
    memcpy(esc, "\\n", 2), *plen = 2;
    return 1;
  case '\r':
    memcpy(esc, "\\r", 2), *plen = 2;
    return 1;
  case '\t':
    memcpy(esc, "\\t", 2), *plen = 2;
    return 1;
  case '\b':
    memcpy(esc, "\\b", 2), *plen = 2;
    return 1;
  case '\f':
    memcpy(esc, "\\f", 2), *plen = 2;
    return 1;
  default:
    break;
  }
  if (ch < 0x20 || 0x7f == ch) {
    snprintf(esc, 8, "\\u%04x", ch);
    *plen = 6;
    return 1;
  }
  if (ch < 0x80) {
    *piece = s, *plen = 1;
    return 1;
  }
  step = sh_utf8_decode(s, n, &cp);
  if (0 == step) {
    /* Not UTF-8: one replacement character per byte, as decoders do. */
    memcpy(esc, "\\ufffd", 6), *plen = 6;
    return 1;
  }
  *piece = s, *plen = step;
  return step;
}

size_t sh_json_escape(char *out, size_t cap, const char *s, size_t n)
{
  size_t o = 0, i = 0;

  if (0 == cap)
    return 0;
  while (i < n) {
    char esc[8];
    const char *piece;
    size_t plen, step = escape_one(s + i, n - i, esc, &piece, &plen);

    if (o + plen >= cap)
      break; /* never a cut escape or character */
    memcpy(out + o, piece, plen);
    o += plen;
    i += step;
  }
  out[o] = '\0';
  return o;
}

/* The string with its quotes; with limit, cut to max escaped bytes. */
static void string(struct sh_json *j, const char *s, size_t n, bool limit,
                   size_t max)
{
  size_t i = 0, used = 0;

  put(j, "\"", 1);
  while (i < n && !j->overflow) {
    char esc[8];
    const char *piece;
    size_t plen, step = escape_one(s + i, n - i, esc, &piece, &plen);

    if (limit && used + plen > max)
      break;
    put(j, piece, plen);
    used += plen;
    i += step;
  }
  put(j, "\"", 1);
}

void sh_json_key(struct sh_json *j, const char *key)
{
  separate(j);
  string(j, key, strlen(key), false, 0);
  put(j, ":", 1);
  j->after_key = true;
}

void sh_json_string(struct sh_json *j, const char *s)
{
  sh_json_string_n(j, s, strlen(s));
}

void sh_json_string_n(struct sh_json *j, const char *s, size_t n)
{
  separate(j);
  string(j, s, n, false, 0);
}

void sh_json_string_max(struct sh_json *j, const char *s, size_t n, size_t max)
{
  separate(j);
  string(j, s, n, true, max);
}

void sh_json_uint(struct sh_json *j, uint64_t v)
{
  char num[24];
  int w = snprintf(num, sizeof(num), "%" PRIu64, v);

  separate(j);
  put(j, num, (size_t) w);
}

void sh_json_int(struct sh_json *j, int64_t v)
{
  char num[24];
  int w = snprintf(num, sizeof(num), "%" PRId64, v);

  separate(j);
  put(j, num, (size_t) w);
}

void sh_json_bool(struct sh_json *j, bool v)
{
  separate(j);
  put(j, v ? "true" : "false", v ? 4 : 5);
}

void sh_json_null(struct sh_json *j)
{
  separate(j);
  put(j, "null", 4);
}

size_t sh_json_finish(struct sh_json *j, bool newline)
{
  if (newline)
    put(j, "\n", 1);
  if (j->overflow || 0 != j->depth || j->after_key)
    return 0;
  return j->len;
}
