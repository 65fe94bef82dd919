/* json.h - the one JSON writer: every JSON answer and log line uses it.
 *
 * Purpose: write JSON (RFC 8259) into a caller's bounded buffer so that
 * the result always parses with a strict parser and is always valid
 * UTF-8, whatever bytes a client put in the strings: quotes, backslashes
 * and control characters are escaped (\" \\ \n \r \t \b \f, else \u00XX,
 * DEL included), and each byte that does not start a valid UTF-8 sequence
 * (utf8.h) becomes \ufffd, the replacement character a decoder would show.
 * Commas and colons are placed by the writer, so callers only say what
 * comes next.
 *
 * Bounded: nothing is written past cap. A value that does not fit marks
 * the writer as overflowed (sh_json_finish() then returns 0) rather than
 * leaving a cut document; sh_json_string_max() instead shortens a string
 * to a byte budget, never cutting an escape or a character, for log lines
 * that must stay within their size.
 *
 * Usage:
 *     char buf[256];
 *     struct sh_json j;
 *     sh_json_init(&j, buf, sizeof(buf));
 *     sh_json_begin_object(&j);
 *     sh_json_key(&j, "id");
 *     sh_json_string(&j, id);
 *     sh_json_key(&j, "seq");
 *     sh_json_uint(&j, seq);
 *     sh_json_end_object(&j);
 *     n = sh_json_finish(&j, true);   (buf holds "{...}\n", NUL-ended)
 *
 * No allocation, no locks. Thread-safety: a writer is used by one thread.
 */
#ifndef SH_JSON_H
#define SH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of objects and arrays. */
#define SH_JSON_MAX_DEPTH 16

struct sh_json {
  char *buf;
  size_t cap; /* bytes of buf, the NUL included */
  size_t len; /* bytes written so far, without the NUL */
  bool overflow;
  bool after_key;  /* a key was written: its value comes next */
  unsigned depth;  /* open objects and arrays */
  uint32_t filled; /* bit d: the container at depth d has an item */
};

/* Start writing into buf (cap > 0 bytes). */
void sh_json_init(struct sh_json *j, char *buf, size_t cap);

void sh_json_begin_object(struct sh_json *j);
void sh_json_end_object(struct sh_json *j);
void sh_json_begin_array(struct sh_json *j);
void sh_json_end_array(struct sh_json *j);

/* The name of the next member of the object being written (escaped like
 * any string). */
void sh_json_key(struct sh_json *j, const char *key);

/* Values. A NUL-terminated string, or n bytes that may hold anything
 * (NUL included). */
void sh_json_string(struct sh_json *j, const char *s);
void sh_json_string_n(struct sh_json *j, const char *s, size_t n);
/* s[0..n) shortened so that its escaped form takes at most max bytes
 * between the quotes (never an overflow for that reason). */
void sh_json_string_max(struct sh_json *j, const char *s, size_t n, size_t max);
void sh_json_uint(struct sh_json *j, uint64_t v);
void sh_json_int(struct sh_json *j, int64_t v);
void sh_json_bool(struct sh_json *j, bool v);
void sh_json_null(struct sh_json *j);

/* End the document, with a line feed if newline; returns its length
 * (buf is NUL-terminated), or 0 when it overflowed or is not closed. */
size_t sh_json_finish(struct sh_json *j, bool newline);

/* Escape s[0..n) as the inside of a JSON string into out: at most cap - 1
 * bytes and a NUL, never a cut escape or character. Returns the length.
 * (What the writer does for a string, for callers that splice one into a
 * fixed template.) */
size_t sh_json_escape(char *out, size_t cap, const char *s, size_t n);

#endif /* SH_JSON_H */
