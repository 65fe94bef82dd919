/* form.h - application/x-www-form-urlencoded parsing, in place.
 *
 * Purpose: split a publish body into key/value fields and decode them
 * ("+" is a space, "%XX" a byte), without allocating: decoding only ever
 * shortens text, so each key and value is decoded where it lies and then
 * NUL-terminated. Invalid percent-encoding is an error, never guessed at.
 * Decoded values may contain any byte, NUL included: use the lengths.
 *
 * Ownership: fields point into the caller's buffer, which must be
 * writable and have one spare byte after body[len - 1].
 *
 * Thread-safety: reentrant.
 */
#ifndef SH_FORM_H
#define SH_FORM_H

#include <stddef.h>

struct sh_form_field {
  const char *key;
  size_t key_len;
  const char *val;
  size_t val_len;
};

/* The value of one hex digit of a %XX escape, or -1. */
int sh_form_hexval(char c);

/* Parse body[0..len) into at most max fields. Empty pairs ("a=1&&b=2") are
 * skipped; a pair without "=" has an empty value. Returns the number of
 * fields, -EINVAL for bad percent-encoding, -E2BIG for more than max
 * fields. On error the buffer's contents are unspecified. */
int sh_form_parse(char *body, size_t len, struct sh_form_field *fields,
                  size_t max);

#endif /* SH_FORM_H */
