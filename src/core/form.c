/* form.c - application/x-www-form-urlencoded parsing (see form.h). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "form.h"

int sh_form_hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decode s[0..len) in place; returns the decoded length or -EINVAL. */
static long decode(char *s, size_t len)
{
  size_t in = 0, out = 0;

  while (in < len) {
    char c = s[in];

    if ('+' == c) {
      s[out++] = ' ';
      in++;
    } else if ('%' == c) {
      int hi, lo;

      if (in + 2 >= len)
        return -EINVAL;
      hi = sh_form_hexval(s[in + 1]);
      lo = sh_form_hexval(s[in + 2]);
      if (hi < 0 || lo < 0)
        return -EINVAL;
      s[out++] = (char) (hi * 16 + lo);
      in += 3;
    } else {
      s[out++] = c;
      in++;
    }
  }
  return (long) out;
}

int sh_form_parse(char *body, size_t len, struct sh_form_field *fields,
                  size_t max)
{
  size_t pos = 0;
  size_t n = 0;

  while (pos <= len) {
    char *pair = body + pos;
    char *amp = memchr(pair, '&', len - pos);
    size_t pair_len = NULL != amp ? (size_t) (amp - pair) : len - pos;
    char *eq;
    size_t key_len, val_len;
    long k, v;

    pos += pair_len + 1;
    if (0 == pair_len)
      continue;
    if (n == max)
      return -E2BIG;
    eq = memchr(pair, '=', pair_len);
    key_len = NULL != eq ? (size_t) (eq - pair) : pair_len;
    val_len = NULL != eq ? pair_len - key_len - 1 : 0;
    k = decode(pair, key_len);
    if (k < 0)
      return -EINVAL;
    v = NULL != eq ? decode(eq + 1, val_len) : 0;
    if (v < 0)
      return -EINVAL;
    /* Terminate after decoding: the terminator lands inside the original
     * span or on the separator just consumed, never on unread input. */
    pair[k] = '\0';
    fields[n].key = pair;
    fields[n].key_len = (size_t) k;
    if (NULL != eq) {
      eq[1 + v] = '\0';
      fields[n].val = eq + 1;
    } else {
      fields[n].val = pair + k; /* the empty string just written */
    }
    fields[n].val_len = (size_t) v;
    n++;
  }
  return (int) n;
}
