/* jwtkey.h - verifying signed tokens (JWT, RFC 7519) against one key.
 *
 * Purpose: the key a hub trusts (ssehub_options.jwt_key), and the check
 * of a token presented with a request: its size, its form, its
 * algorithm, its signature (libjwt 1.10, GnuTLS backend), then its
 * claims (claims.h) and their validity window.
 *
 * The algorithm comes from the key, never from the token: an HS256
 * secret accepts HS256 tokens only; a PEM public key accepts RS256 (an
 * RSA key) or ES256/ES384/ES512 (an EC key on P-256/P-384/P-521). A
 * token whose header names another algorithm ("none" included, or HS256
 * against a public key: the key-confusion attack) is refused before its
 * signature is looked at.
 *
 * Without libjwt (configure --without-jwt, or not found) every function
 * exists: sh_jwt_key_new() returns -ENOTSUP.
 *
 * Ownership: a key is reference-counted and immutable once made; the
 * last sh_jwt_key_unref() wipes and frees it. Claims returned by
 * sh_jwt_verify() belong to the caller (sh_claims_free()).
 * Thread-safety: a key may be used and referenced from any thread.
 */
#ifndef SH_JWTKEY_H
#define SH_JWTKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "claims.h"

/* Longest token looked at; a longer one is refused unread. */
#define SH_JWT_MAX_TOKEN 8192

/* Shortest HS256 secret: the hash's size (RFC 7518 section 3.2). */
#define SH_JWT_MIN_SECRET 32

struct sh_jwt_key;

enum sh_jwt_err {
  SH_JWT_OK,
  SH_JWT_TOO_LARGE, /* over SH_JWT_MAX_TOKEN */
  SH_JWT_MALFORMED, /* not three base64url parts of JSON, bad claims */
  SH_JWT_ALG,       /* the header's alg is not the key's */
  SH_JWT_SIGNATURE, /* the signature does not verify */
  SH_JWT_EXPIRED,   /* exp passed (beyond the leeway) */
  SH_JWT_NOT_YET,   /* nbf still ahead (beyond the leeway) */
  SH_JWT_NOMEM
};

/* Whether this build can verify tokens. */
bool sh_jwt_supported(void);

/* A key from key[0..len): PEM text starting "-----BEGIN PUBLIC KEY-----"
 * (leading whitespace allowed) for RS/ES, else an HS256 secret of at
 * least SH_JWT_MIN_SECRET bytes, used byte for byte. Returns 0 with
 * *out; -EINVAL (with *why, if not NULL, saying what is wrong in one
 * line), -ENOTSUP without JWT support, -ENOMEM. */
int sh_jwt_key_new(const void *key, size_t len, struct sh_jwt_key **out,
                   const char **why);

struct sh_jwt_key *sh_jwt_key_ref(struct sh_jwt_key *k);
void sh_jwt_key_unref(struct sh_jwt_key *k); /* NULL-safe */

/* The algorithm the key verifies: "HS256", "RS256", "ES256", ... */
const char *sh_jwt_key_alg(const struct sh_jwt_key *k);

/* Whether a and b hold the same key (both may be NULL). */
bool sh_jwt_key_same(const struct sh_jwt_key *a, const struct sh_jwt_key *b);

/* Check token[0..len) (no NUL needed) at now (seconds since 1970) with
 * SH_CLAIMS_LEEWAY_S. On SH_JWT_OK *claims holds what it allows. */
enum sh_jwt_err sh_jwt_verify(const struct sh_jwt_key *k, const char *token,
                              size_t len, int64_t now,
                              struct sh_claims *claims);

/* One line for a refusal (no newline), as the 401 says it. */
const char *sh_jwt_err_reason(enum sh_jwt_err e);

#endif /* SH_JWTKEY_H */
