/* claims.h - what a signed token (JWT) allows: its claims, parsed (pure).
 *
 * Purpose: turn the JSON of a verified token's payload into the topics it
 * may subscribe to and publish to, and its validity window; and read the
 * "alg" of a token's header before any signature is checked. The layout
 * (README, "Signed tokens"; doc/protocol.md):
 *
 *   {"exp": 1767225600, "nbf": 1767222000,
 *    "ssehub": {"subscribe": ["orders", "news"], "publish": ["*"]}}
 *
 * "*" in a list allows every topic (and, for publish, an event without a
 * topic: a broadcast). A missing list allows nothing. exp and nbf are
 * optional NumericDates (seconds since 1970, fractions allowed); other
 * claims (iss, sub, aud, iat, ...) are ignored.
 *
 * Strict: the input must be one JSON object (RFC 8259), at most 64 levels
 * deep, with no duplicate key among those read (exp, nbf, ssehub, and
 * subscribe/publish inside ssehub), the right types (numbers, an object,
 * arrays of strings), each topic 1-256 bytes without CR, LF or NUL, at
 * most SH_CLAIMS_MAX_TOPICS per list. Anything else is -EINVAL: a token
 * that cannot be read exactly is refused, never read in part.
 *
 * No I/O, no locks; allocation only in sh_claims_parse(). Fuzzed
 * (tests/fuzz/fuzz_claims.c).
 * Ownership: a parsed struct sh_claims owns its strings; free it with
 * sh_claims_free(). Thread-safety: reentrant; a parsed struct is
 * read-only and may be read from any thread.
 */
#ifndef SH_CLAIMS_H
#define SH_CLAIMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most topics in one list of a token. */
#define SH_CLAIMS_MAX_TOPICS 1024

/* Seconds of clock difference tolerated on exp and nbf (the issuer's
 * clock and ours): a token is valid from nbf - 30 s to exp + 30 s. */
#define SH_CLAIMS_LEEWAY_S 30

struct sh_topic_grant {
  bool all;      /* "*" was listed */
  unsigned n;    /* the other topics listed */
  char **topics; /* n strings, into claims.buf */
};

struct sh_claims {
  bool has_exp, has_nbf;
  int64_t exp, nbf; /* whole seconds (fractions dropped toward the past) */
  struct sh_topic_grant subscribe, publish;
  char *buf; /* owns every string above */
};

enum sh_claims_time {
  SH_CLAIMS_VALID,
  SH_CLAIMS_EXPIRED, /* now > exp + leeway */
  SH_CLAIMS_NOT_YET  /* now < nbf - leeway */
};

/* Parse json[0..len) (no NUL needed) into *c. Returns 0; -EINVAL when
 * the text is not as described above; -ENOMEM. On error *c owns
 * nothing (sh_claims_free() on it is harmless). */
int sh_claims_parse(const char *json, size_t len, struct sh_claims *c);

void sh_claims_free(struct sh_claims *c);

/* Whether the token is valid at now (seconds since 1970), with leeway. */
enum sh_claims_time sh_claims_check_time(const struct sh_claims *c, int64_t now,
                                         unsigned leeway_s);

/* Whether g allows topic ("*" itself needs "*" listed). */
bool sh_claims_allows(const struct sh_topic_grant *g, const char *topic);

/* The "alg" member of a JOSE header's JSON (json[0..len)) into
 * alg[0..cap), NUL-terminated. Returns 0, or -EINVAL when the header is
 * not a strict JSON object, has no string "alg" (or two), has "crit"
 * (an extension ssehub would have to understand), or the value does not
 * fit. */
int sh_claims_header_alg(const char *json, size_t len, char *alg, size_t cap);

/* Decode base64url (RFC 4648 section 5, no padding, as JWS uses it) of
 * in[0..len) into out (room for len * 3 / 4 bytes). Returns the decoded
 * length, or -EINVAL for a character outside the alphabet, a length of
 * 1 mod 4, or non-zero trailing bits. */
long sh_base64url_decode(const char *in, size_t len, unsigned char *out);

#endif /* SH_CLAIMS_H */
