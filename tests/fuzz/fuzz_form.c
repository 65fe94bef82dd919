/* fuzz_form.c - libFuzzer harness for sh_form_parse() (src/form.h).
 *
 * The input is a publish body. It is parsed in place (in a buffer with the
 * one spare byte the contract asks for) and checked two ways:
 *   - invariants: the return value is a field count in [0, MAX_FIELDS],
 *     -EINVAL or -E2BIG; every key/value lies inside the buffer with its
 *     NUL terminator, fields come in order and do not overlap;
 *   - against a straightforward reference decoder working on a pristine
 *     copy: same field count and the same decoded bytes, and an error
 *     only when the reference sees one of that kind.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

#define MAX_FIELDS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "fuzz_form: check failed at line %d: %s\n", __LINE__, \
              #cond);                                                       \
      abort();                                                              \
    }                                                                       \
  } while (0)

static int hexval(unsigned char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Reference decoder: src[0..len) into out; returns the length or -1. */
static long ref_decode(const uint8_t *src, size_t len, uint8_t *out)
{
  size_t i, o = 0;

  for (i = 0; i < len; i++) {
    if ('+' == src[i]) {
      out[o++] = ' ';
    } else if ('%' == src[i]) {
      if (len - i < 3 || hexval(src[i + 1]) < 0 || hexval(src[i + 2]) < 0)
        return -1;
      out[o++] = (uint8_t) (hexval(src[i + 1]) * 16 + hexval(src[i + 2]));
      i += 2;
    } else {
      out[o++] = src[i];
    }
  }
  return (long) o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct sh_form_field f[MAX_FIELDS];
  char *buf = malloc(size + 1); /* exactly one spare byte */
  uint8_t *tmp = malloc(size + 1);
  size_t pos = 0, nref = 0, i;
  int n, bad_enc = 0, too_many = 0;

  CHECK(NULL != buf && NULL != tmp);
  if (size > 0)
    memcpy(buf, data, size);
  buf[size] = (char) 0xA5; /* the spare byte's old content is junk */
  memset(f, 0xA5, sizeof(f));

  n = sh_form_parse(buf, size, f, MAX_FIELDS);
  CHECK(-EINVAL == n || -E2BIG == n || (n >= 0 && n <= MAX_FIELDS));

  if (n >= 0) {
    const char *end = buf + size + 1; /* one past the spare byte */
    const char *prev_end = buf;

    for (i = 0; i < (size_t) n; i++) {
      CHECK(f[i].key >= buf && f[i].key < end);
      CHECK(f[i].key_len <= size && f[i].key_len < (size_t) (end - f[i].key));
      CHECK('\0' == f[i].key[f[i].key_len]);
      CHECK(f[i].val >= buf && f[i].val < end);
      CHECK(f[i].val_len <= size && f[i].val_len < (size_t) (end - f[i].val));
      CHECK('\0' == f[i].val[f[i].val_len]);
      /* In order and disjoint: a field's key starts after the previous
       * field's value terminator... */
      CHECK(i == 0 ? f[i].key >= prev_end : f[i].key > prev_end);
      /* ...and its value starts at or after its key's terminator. */
      CHECK(f[i].val >= f[i].key + f[i].key_len);
      prev_end = f[i].val + f[i].val_len;
    }
  }

  /* The reference: split the pristine input at '&', skip empty pairs. */
  while (pos <= size) {
    const uint8_t *pair = data + pos;
    const uint8_t *amp = size > pos ? memchr(pair, '&', size - pos) : NULL;
    size_t plen = NULL != amp ? (size_t) (amp - pair) : size - pos;
    const uint8_t *eq;
    size_t klen, vlen;
    long k, v;

    pos += plen + 1;
    if (0 == plen)
      continue;
    if (nref == MAX_FIELDS) {
      too_many = 1;
      nref++;
      continue; /* keep scanning: a later bad encoding counts too */
    }
    if (nref > MAX_FIELDS) {
      nref++;
      continue;
    }
    eq = memchr(pair, '=', plen);
    klen = NULL != eq ? (size_t) (eq - pair) : plen;
    vlen = NULL != eq ? plen - klen - 1 : 0;
    k = ref_decode(pair, klen, tmp);
    v = k >= 0 && NULL != eq ? ref_decode(eq + 1, vlen, tmp + klen) : 0;
    if (k < 0 || v < 0) {
      bad_enc = 1;
      nref++;
      continue;
    }
    if (n >= 0 && nref < (size_t) n) {
      CHECK(f[nref].key_len == (size_t) k);
      CHECK(0 == memcmp(f[nref].key, tmp, (size_t) k));
      CHECK(f[nref].val_len == (size_t) v);
      CHECK(0 == memcmp(f[nref].val, tmp + klen, (size_t) v));
    }
    nref++;
  }

  if (n >= 0) {
    CHECK(!bad_enc && !too_many);
    CHECK((size_t) n == nref);
  } else if (-EINVAL == n) {
    CHECK(bad_enc);
  } else {
    CHECK(too_many);
  }

  free(tmp);
  free(buf);
  return 0;
}
