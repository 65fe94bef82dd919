/* fuzz_claims.c - libFuzzer harness for a signed token's claims
 * (src/core/claims.h) and the checks before a signature (jwtkey.h).
 *
 * The first byte picks what the rest of the input is:
 *   % 4 == 0  a token payload's JSON, for sh_claims_parse(): on success
 *             every topic listed is 1-256 bytes without CR, LF or NUL,
 *             at most SH_CLAIMS_MAX_TOPICS per list, "*" only as the
 *             `all` flag, and each is allowed by its list; a time check
 *             on the result never crashes;
 *   % 4 == 1  a JOSE header's JSON, for sh_claims_header_alg(): on
 *             success the alg fits the buffer;
 *   % 4 == 2  base64url text for sh_base64url_decode(): on success,
 *             encoding the bytes again gives back the input exactly (one
 *             spelling per value);
 *   % 4 == 3  a whole token, for sh_jwt_verify() against a fixed HS256
 *             key (a build with libjwt): never crashes or leaks; an input
 *             over SH_JWT_MAX_TOKEN is refused as too large.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "jwtkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "fuzz_claims: check failed at line %d: %s\n", __LINE__, \
              #cond);                                                         \
      abort();                                                                \
    }                                                                         \
  } while (0)

static void check_grant(const struct sh_topic_grant *g)
{
  unsigned i;

  CHECK(g->n <= SH_CLAIMS_MAX_TOPICS);
  for (i = 0; i < g->n; i++) {
    size_t n = strlen(g->topics[i]);

    CHECK(n >= 1 && n <= 256);
    CHECK(NULL == strpbrk(g->topics[i], "\r\n"));
    CHECK(0 != strcmp(g->topics[i], "*"));
    CHECK(sh_claims_allows(g, g->topics[i]));
  }
  CHECK(g->all == sh_claims_allows(g, "*"));
}

static void payload(const char *s, size_t n)
{
  struct sh_claims c;

  if (0 != sh_claims_parse(s, n, &c))
    return;
  check_grant(&c.subscribe);
  check_grant(&c.publish);
  (void) sh_claims_check_time(&c, 0, SH_CLAIMS_LEEWAY_S);
  (void) sh_claims_check_time(&c, INT64_MAX, SH_CLAIMS_LEEWAY_S);
  (void) sh_claims_check_time(&c, INT64_MIN, SH_CLAIMS_LEEWAY_S);
  sh_claims_free(&c);
}

static void header(const char *s, size_t n)
{
  char alg[16];

  if (0 == sh_claims_header_alg(s, n, alg, sizeof(alg)))
    CHECK(strlen(alg) < sizeof(alg));
}

static void base64url(const char *s, size_t n)
{
  static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789-_";
  unsigned char *out = malloc(n + 1);
  char *again = malloc(n + 4);
  long got;
  size_t i, o = 0;

  CHECK(NULL != out && NULL != again);
  got = sh_base64url_decode(s, n, out);
  if (got >= 0) {
    CHECK((size_t) got == n * 3 / 4);
    for (i = 0; i < (size_t) got; i += 3) {
      unsigned long v = (unsigned long) out[i] << 16;

      if (i + 1 < (size_t) got)
        v |= (unsigned long) out[i + 1] << 8;
      if (i + 2 < (size_t) got)
        v |= out[i + 2];
      again[o++] = a[v >> 18];
      again[o++] = a[(v >> 12) & 63];
      if (i + 1 < (size_t) got)
        again[o++] = a[(v >> 6) & 63];
      if (i + 2 < (size_t) got)
        again[o++] = a[v & 63];
    }
    CHECK(o == n && 0 == memcmp(again, s, n));
  }
  free(out);
  free(again);
}

static void token(const char *s, size_t n)
{
  static struct sh_jwt_key *key;
  static int tried;
  struct sh_claims c;
  enum sh_jwt_err e;

  if (!tried) {
    tried = 1;
    sh_jwt_key_new("0123456789abcdef0123456789abcdef", 32, &key, NULL);
  }
  if (NULL == key)
    return; /* a build without libjwt */
  e = sh_jwt_verify(key, s, n, 1767225600, &c);
  if (n > SH_JWT_MAX_TOKEN)
    CHECK(SH_JWT_TOO_LARGE == e);
  if (SH_JWT_OK == e) {
    check_grant(&c.subscribe);
    check_grant(&c.publish);
    sh_claims_free(&c);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *s = (const char *) data + 1;

  if (0 == size)
    return 0;
  switch (data[0] % 4) {
  case 0:
    payload(s, size - 1);
    break;
  case 1:
    header(s, size - 1);
    break;
  case 2:
    base64url(s, size - 1);
    break;
  default:
    token(s, size - 1);
    break;
  }
  return 0;
}
