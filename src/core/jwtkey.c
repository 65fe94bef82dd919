/* jwtkey.c - verifying signed tokens against one key (see jwtkey.h).
 *
 * The order of the checks is the point: size first (nothing bigger is
 * read), then the form and the header's alg, decoded here, against the
 * key's algorithm (so "none" and HS256-signed-with-the-public-key never
 * reach a verifier), then the claims, parsed here from the payload's own
 * bytes (claims.h), and only then libjwt's signature check; the claims
 * are used only once that has passed. libjwt 1.10 takes the algorithm
 * from the token's header, which is why the header is checked first and
 * jwt_get_alg() again after.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_JWT
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <jwt.h>
#endif

#include "claims.h"
#include "jwtkey.h"

struct sh_jwt_key {
  atomic_uint refs;
  const char *alg; /* "HS256", "RS256", "ES256", ... (static) */
  size_t len;
  unsigned char bytes[]; /* len bytes, then a NUL (PEM is text) */
};

bool sh_jwt_supported(void)
{
#ifdef HAVE_JWT
  return true;
#else
  return false;
#endif
}

#ifdef HAVE_JWT
/* The algorithm a PEM public key verifies, or NULL (with *why). RSA keys
 * under 2048 bits are refused (RFC 7518 section 3.3). */
static const char *pem_alg(const unsigned char *pem, size_t len,
                           const char **why)
{
  gnutls_datum_t d = { (unsigned char *) pem, (unsigned) len };
  gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 };
  gnutls_ecc_curve_t curve;
  gnutls_pubkey_t k;
  const char *alg = NULL;
  unsigned bits = 0;
  int pk;

  *why = "not a PEM public key (\"-----BEGIN PUBLIC KEY-----\"; a private "
         "key or a certificate will not do)";
  if (len > 0xFFFFFFFFu || GNUTLS_E_SUCCESS != gnutls_pubkey_init(&k))
    return NULL;
  if (GNUTLS_E_SUCCESS != gnutls_pubkey_import(k, &d, GNUTLS_X509_FMT_PEM))
    goto out;
  pk = gnutls_pubkey_get_pk_algorithm(k, &bits);
  if (GNUTLS_PK_RSA == pk) {
    *why = "an RSA key must have at least 2048 bits";
    if (bits >= 2048)
      alg = "RS256";
  } else if (GNUTLS_PK_ECDSA == pk) {
    *why = "an EC key must be on P-256, P-384 or P-521";
    if (GNUTLS_E_SUCCESS == gnutls_pubkey_export_ecc_raw(k, &curve, &x, &y)) {
      if (GNUTLS_ECC_CURVE_SECP256R1 == curve)
        alg = "ES256";
      else if (GNUTLS_ECC_CURVE_SECP384R1 == curve)
        alg = "ES384";
      else if (GNUTLS_ECC_CURVE_SECP521R1 == curve)
        alg = "ES512";
      gnutls_free(x.data);
      gnutls_free(y.data);
    }
  } else {
    *why = "the PEM key must be an RSA or EC public key";
  }
out:
  gnutls_pubkey_deinit(k);
  return alg;
}
#endif

int sh_jwt_key_new(const void *key, size_t len, struct sh_jwt_key **out,
                   const char **why)
{
  const unsigned char *b = key;
  const char *alg, *whatever;
  struct sh_jwt_key *k;
  size_t i = 0;

  if (NULL == why)
    why = &whatever;
  *out = NULL;
  *why = "this build lacks JWT support (configure --with-jwt)";
  if (!sh_jwt_supported())
    return -ENOTSUP;
  while (i < len
         && (' ' == b[i] || '\t' == b[i] || '\n' == b[i] || '\r' == b[i]))
    i++;
  if (len - i >= 11 && 0 == memcmp(b + i, "-----BEGIN ", 11)) {
#ifdef HAVE_JWT
    alg = pem_alg(b, len, why);
#else
    alg = NULL;
#endif
    if (NULL == alg)
      return -EINVAL;
  } else {
    *why = "an HS256 secret must be at least 32 bytes";
    if (len < SH_JWT_MIN_SECRET)
      return -EINVAL;
    alg = "HS256";
  }
  /* libjwt takes the key length as an int. */
  *why = "the key is too large";
  if (len > 1 << 20)
    return -EINVAL;
  k = malloc(sizeof(*k) + len + 1);
  if (NULL == k)
    return -ENOMEM;
  atomic_init(&k->refs, 1);
  k->alg = alg;
  k->len = len;
  memcpy(k->bytes, b, len);
  k->bytes[len] = '\0';
  *why = NULL;
  *out = k;
  return 0;
}

struct sh_jwt_key *sh_jwt_key_ref(struct sh_jwt_key *k)
{
  if (NULL != k)
    atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
  return k;
}

void sh_jwt_key_unref(struct sh_jwt_key *k)
{
  volatile unsigned char *p;
  size_t i;

  /* acq_rel: the thread that frees sees every use by the others. */
  if (NULL == k
      || 1 != atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel))
    return;
  /* A secret does not linger in freed memory. */
  for (p = k->bytes, i = 0; i < k->len; i++)
    p[i] = 0;
  free(k);
}

const char *sh_jwt_key_alg(const struct sh_jwt_key *k)
{
  return k->alg;
}

bool sh_jwt_key_same(const struct sh_jwt_key *a, const struct sh_jwt_key *b)
{
  if (NULL == a || NULL == b)
    return a == b;
  return a->len == b->len && 0 == memcmp(a->bytes, b->bytes, a->len);
}

const char *sh_jwt_err_reason(enum sh_jwt_err e)
{
  switch (e) {
  case SH_JWT_OK:
    return "valid token";
  case SH_JWT_TOO_LARGE:
    return "token too large";
  case SH_JWT_MALFORMED:
    return "malformed token";
  case SH_JWT_ALG:
    return "token algorithm not accepted";
  case SH_JWT_SIGNATURE:
    return "token signature does not verify";
  case SH_JWT_EXPIRED:
    return "token expired";
  case SH_JWT_NOT_YET:
    return "token not yet valid";
  case SH_JWT_NOMEM:
    break;
  }
  return "out of memory";
}

/* Decode one base64url part into a NUL-terminated buffer. */
static long part(const char *s, size_t n, unsigned char *out)
{
  long got = sh_base64url_decode(s, n, out);

  if (got >= 0)
    out[got] = '\0';
  return got;
}

enum sh_jwt_err sh_jwt_verify(const struct sh_jwt_key *k, const char *token,
                              size_t len, int64_t now, struct sh_claims *claims)
{
  const char *dot1, *dot2;
  unsigned char *buf;
  char alg[16], *copy;
  enum sh_jwt_err e = SH_JWT_MALFORMED;
  long n;

  memset(claims, 0, sizeof(*claims));
  if (len > SH_JWT_MAX_TOKEN)
    return SH_JWT_TOO_LARGE;
  dot1 = memchr(token, '.', len);
  dot2 = NULL != dot1 ? memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token))
                      : NULL;
  if (NULL == dot2 || dot1 == token || dot2 == dot1 + 1
      || NULL != memchr(dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)))
    return SH_JWT_MALFORMED;
  /* One buffer: the decoded parts (each shorter than the token), then a
   * NUL-terminated copy of the token for libjwt. */
  buf = malloc(2 * (len + 1));
  if (NULL == buf)
    return SH_JWT_NOMEM;
  copy = (char *) buf + len + 1;
  n = part(token, (size_t) (dot1 - token), buf);
  if (n < 0
      || 0 != sh_claims_header_alg((char *) buf, (size_t) n, alg, sizeof(alg)))
    goto out;
  e = SH_JWT_ALG;
  if (0 != strcmp(alg, k->alg))
    goto out;
  e = SH_JWT_MALFORMED;
  n = part(dot1 + 1, (size_t) (dot2 - dot1 - 1), buf);
  if (n < 0)
    goto out;
  switch (sh_claims_parse((char *) buf, (size_t) n, claims)) {
  case 0:
    break;
  case -ENOMEM:
    e = SH_JWT_NOMEM;
    goto out;
  default:
    goto out;
  }
  e = SH_JWT_SIGNATURE;
#ifdef HAVE_JWT
  {
    jwt_t *j = NULL;
    int rc;

    memcpy(copy, token, len);
    copy[len] = '\0';
    rc = jwt_decode(&j, copy, k->bytes, (int) k->len);
    /* The header was checked above; check what libjwt verified with. */
    if (0 == rc && NULL != j
        && 0 == strcmp(jwt_alg_str(jwt_get_alg(j)), k->alg))
      e = SH_JWT_OK;
    else if (ENOMEM == rc)
      e = SH_JWT_NOMEM;
    jwt_free(j);
  }
#else
  (void) copy;
#endif
  if (SH_JWT_OK != e)
    goto out;
  switch (sh_claims_check_time(claims, now, SH_CLAIMS_LEEWAY_S)) {
  case SH_CLAIMS_EXPIRED:
    e = SH_JWT_EXPIRED;
    break;
  case SH_CLAIMS_NOT_YET:
    e = SH_JWT_NOT_YET;
    break;
  case SH_CLAIMS_VALID:
    break;
  }
out:
  free(buf);
  if (SH_JWT_OK != e)
    sh_claims_free(claims);
  return e;
}
