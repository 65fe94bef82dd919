/* utf8.h - strict UTF-8 validation for the text fields clients send.
 *
 * Purpose: the one place that says what "valid text" means for an event's
 * id, name and topics, a stream's topics and Last-Event-ID, and an
 * event's data (doc/protocol.md, "Text fields"). Strict UTF-8 is the
 * Unicode standard's (RFC 3629): no overlong forms, no UTF-16 surrogates
 * (U+D800-U+DFFF), nothing above U+10FFFF, no truncated sequence. A field
 * also holds no control character: Unicode's general category Cc, that is
 * U+0000-U+001F, U+007F and U+0080-U+009F (CR, LF and NUL among them,
 * which would end or corrupt an SSE line; the others make logs and pages
 * lie). The JSON writer (json.h) uses the same decoder, so what it emits
 * is always valid UTF-8.
 *
 * No I/O, no locks, no allocation. Thread-safety: reentrant.
 */
#ifndef SH_UTF8_H
#define SH_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The length (1-4) of the valid UTF-8 sequence at s[0..n), n > 0, with
 * its code point in *cp; 0 when s does not start with one. */
size_t sh_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* True when s[0..n) is entirely valid UTF-8 (an empty string is). */
bool sh_utf8_valid(const char *s, size_t n);

/* What is wrong with a text field, if anything. */
enum sh_text {
  SH_TEXT_OK = 0,
  SH_TEXT_BAD_UTF8, /* not valid UTF-8 */
  SH_TEXT_CONTROL   /* valid, but holds a control character (Cc) */
};

/* Check s[0..n) as an id, event name or topic: valid UTF-8 without
 * control characters. Invalid UTF-8 is reported first. */
enum sh_text sh_text_check(const char *s, size_t n);

#endif /* SH_UTF8_H */
