/* check_claims.c - unit tests for a signed token's claims (src/core/claims.h)
 * and its verification against a key (src/core/jwtkey.h).
 *
 * Keys of every kind are made by openssl(1) in a temporary directory;
 * tokens are signed by libjwt itself (HS256) or assembled by hand (the
 * forged ones). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#ifdef HAVE_JWT
#include <jwt.h>
#endif

#include "claims.h"
#include "jwtkey.h"

static int parse(const char *json, struct sh_claims *c)
{
  return sh_claims_parse(json, strlen(json), c);
}

START_TEST(test_claims_layout)
{
  struct sh_claims c;

  ck_assert_int_eq(0, parse("{\"sub\":\"u1\",\"exp\":1767225600,"
                            "\"nbf\":1767222000.9,\"ssehub\":{\"subscribe\":"
                            "[\"orders\",\"news\"],\"publish\":[\"*\"]},"
                            "\"iat\":1,\"x\":[{\"y\":null}]}",
                            &c));
  ck_assert(c.has_exp);
  ck_assert(c.has_nbf);
  ck_assert_int_eq(c.exp, 1767225600);
  ck_assert_int_eq(c.nbf, 1767222000); /* fractions toward the past */
  ck_assert(!c.subscribe.all);
  ck_assert_uint_eq(c.subscribe.n, 2);
  ck_assert_str_eq(c.subscribe.topics[0], "orders");
  ck_assert_str_eq(c.subscribe.topics[1], "news");
  ck_assert(c.publish.all);
  ck_assert(sh_claims_allows(&c.subscribe, "news"));
  ck_assert(!sh_claims_allows(&c.subscribe, "new"));
  ck_assert(!sh_claims_allows(&c.subscribe, "*"));
  ck_assert(sh_claims_allows(&c.publish, "anything"));
  ck_assert(sh_claims_allows(&c.publish, "*"));
  sh_claims_free(&c);
}
END_TEST

START_TEST(test_claims_missing_lists_allow_nothing)
{
  struct sh_claims c;

  ck_assert_int_eq(0, parse("{}", &c));
  ck_assert(!c.has_exp);
  ck_assert(!sh_claims_allows(&c.subscribe, "a"));
  ck_assert(!sh_claims_allows(&c.publish, "a"));
  sh_claims_free(&c);
  ck_assert_int_eq(0, parse(" {\"ssehub\":{\"subscribe\":[]}} ", &c));
  ck_assert_uint_eq(c.subscribe.n, 0);
  ck_assert(!c.subscribe.all);
  sh_claims_free(&c);
}
END_TEST

START_TEST(test_claims_escapes_decoded)
{
  struct sh_claims c;

  /* Keys are compared decoded: "ex\u0070" is exp. */
  ck_assert_int_eq(0, parse("{\"ex\\u0070\":5,\"ssehub\":{\"subscribe\":"
                            "[\"a\\/b\",\"caf\\u00e9\",\"\\ud83d\\ude00\","
                            "\"\xc3\xa9t\xc3\xa9\"]}}",
                            &c));
  ck_assert(c.has_exp);
  ck_assert_int_eq(c.exp, 5);
  ck_assert_str_eq(c.subscribe.topics[0], "a/b");
  ck_assert_str_eq(c.subscribe.topics[1], "caf\xc3\xa9");
  ck_assert_str_eq(c.subscribe.topics[2], "\xf0\x9f\x98\x80");
  ck_assert_str_eq(c.subscribe.topics[3], "\xc3\xa9t\xc3\xa9");
  sh_claims_free(&c);
}
END_TEST

START_TEST(test_claims_malformed_is_einval)
{
  static const char *const bad[] = {
    "",
    "[]",
    "\"x\"",
    "{",
    "{} x",
    "{\"exp\":1,}",
    "{\"exp\":\"1\"}",
    "{\"exp\":1,\"exp\":2}",
    "{\"exp\":1e999}",
    "{\"exp\":01}",
    "{\"exp\":-}",
    "{\"ssehub\":[]}",
    "{\"ssehub\":{},\"ssehub\":{}}",
    "{\"ssehub\":{\"subscribe\":[\"a\"],\"subscribe\":[\"b\"]}}",
    "{\"ssehub\":{\"subscribe\":\"a\"}}",
    "{\"ssehub\":{\"subscribe\":[1]}}",
    "{\"ssehub\":{\"subscribe\":[\"\"]}}",
    "{\"ssehub\":{\"subscribe\":[\"a\\nb\"]}}",
    "{\"ssehub\":{\"subscribe\":[\"a\\u0000b\"]}}",
    "{\"ssehub\":{\"subscribe\":[\"\\ud83d\"]}}",
    "{\"ssehub\":{\"subscribe\":[\"\\ude00\"]}}",
    "{\"ssehub\":{\"subscribe\":[\"\xff\"]}}",
    "{\"ssehub\":{\"subscribe\":[\"\xc0\xaf\"]}}",
    "{\"ssehub\":{\"subscribe\":[\"\xed\xa0\x80\"]}}",
    "{\"ssehub\":{\"subscribe\":[\"a\tb\"]}}",
    "{\"ssehub\":{\"subscribe\":[\"a\\x\"]}}",
    "{\"x\":tru}",
    "{\"x\":[1,]}",
    "{'exp':1}",
  };
  struct sh_claims c;
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ck_assert_msg(-EINVAL == parse(bad[i], &c), "accepted: %s", bad[i]);
}
END_TEST

START_TEST(test_claims_depth_and_count_bounded)
{
  char json[4096], *p = json;
  struct sh_claims c;
  int i;

  /* 60 levels inside an ignored claim: fine; 70: refused. */
  p += sprintf(p, "{\"x\":");
  for (i = 0; i < 60; i++)
    *p++ = '[';
  for (i = 0; i < 60; i++)
    *p++ = ']';
  strcpy(p, "}");
  ck_assert_int_eq(0, parse(json, &c));
  sh_claims_free(&c);
  p = json + sprintf(json, "{\"x\":");
  for (i = 0; i < 70; i++)
    *p++ = '[';
  for (i = 0; i < 70; i++)
    *p++ = ']';
  strcpy(p, "}");
  ck_assert_int_eq(-EINVAL, parse(json, &c));
}
END_TEST

START_TEST(test_claims_too_many_topics)
{
  size_t cap = 16 + (SH_CLAIMS_MAX_TOPICS + 1) * 12 + 64;
  char *json = malloc(cap), *p = json;
  struct sh_claims c;
  int i;

  ck_assert_ptr_nonnull(json);
  p += sprintf(p, "{\"ssehub\":{\"subscribe\":[");
  for (i = 0; i < SH_CLAIMS_MAX_TOPICS; i++)
    p += sprintf(p, "%s\"t%d\"", 0 == i ? "" : ",", i);
  strcpy(p, "]}}");
  ck_assert_int_eq(0, parse(json, &c));
  ck_assert_uint_eq(c.subscribe.n, SH_CLAIMS_MAX_TOPICS);
  ck_assert(sh_claims_allows(&c.subscribe, "t1023"));
  sh_claims_free(&c);
  sprintf(p, ",\"one-more\"]}}");
  ck_assert_int_eq(-EINVAL, parse(json, &c));
  free(json);
}
END_TEST

START_TEST(test_claims_time_window_has_leeway)
{
  struct sh_claims c;

  ck_assert_int_eq(0, parse("{\"exp\":1000,\"nbf\":500}", &c));
  ck_assert_int_eq(SH_CLAIMS_VALID, sh_claims_check_time(&c, 1030, 30));
  ck_assert_int_eq(SH_CLAIMS_EXPIRED, sh_claims_check_time(&c, 1031, 30));
  ck_assert_int_eq(SH_CLAIMS_VALID, sh_claims_check_time(&c, 470, 30));
  ck_assert_int_eq(SH_CLAIMS_NOT_YET, sh_claims_check_time(&c, 469, 30));
  sh_claims_free(&c);
  /* Without exp or nbf: valid at any time. */
  ck_assert_int_eq(0, parse("{}", &c));
  ck_assert_int_eq(SH_CLAIMS_VALID, sh_claims_check_time(&c, INT64_MAX, 30));
  sh_claims_free(&c);
}
END_TEST

START_TEST(test_claims_header_alg)
{
  char alg[16];

#define ALG(json) sh_claims_header_alg(json, strlen(json), alg, sizeof(alg))
  ck_assert_int_eq(0, ALG("{\"typ\":\"JWT\",\"alg\":\"RS256\"}"));
  ck_assert_str_eq(alg, "RS256");
  ck_assert_int_eq(0, ALG("{\"alg\":\"none\"}"));
  ck_assert_str_eq(alg, "none");
  ck_assert_int_eq(-EINVAL, ALG("{\"typ\":\"JWT\"}"));
  ck_assert_int_eq(-EINVAL, ALG("{\"alg\":\"HS256\",\"alg\":\"none\"}"));
  ck_assert_int_eq(-EINVAL, ALG("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}"));
  ck_assert_int_eq(-EINVAL, ALG("{\"alg\":256}"));
  ck_assert_int_eq(-EINVAL, ALG("{\"alg\":\"a-very-long-algorithm\"}"));
  ck_assert_int_eq(-EINVAL, ALG("{}"));
#undef ALG
}
END_TEST

START_TEST(test_claims_base64url)
{
  unsigned char out[16];

  ck_assert_int_eq(0, sh_base64url_decode("", 0, out));
  ck_assert_int_eq(1, sh_base64url_decode("QQ", 2, out));
  ck_assert_int_eq(out[0], 'A');
  ck_assert_int_eq(3, sh_base64url_decode("-_-_", 4, out));
  ck_assert_int_eq(out[0], 0xfb);
  ck_assert_int_eq(-EINVAL, sh_base64url_decode("QR", 2, out)); /* bits */
  ck_assert_int_eq(-EINVAL, sh_base64url_decode("Q", 1, out));
  ck_assert_int_eq(-EINVAL, sh_base64url_decode("QQ==", 4, out));
  ck_assert_int_eq(-EINVAL, sh_base64url_decode("a+b/", 4, out));
}
END_TEST

/* ---- keys and verification ------------------------------------------- */

static const char secret[] = "0123456789abcdef0123456789abcdef";

static struct sh_jwt_key *key_ok(const void *k, size_t len, const char *alg)
{
  struct sh_jwt_key *key;
  const char *why = NULL;
  int rc = sh_jwt_key_new(k, len, &key, &why);

  ck_assert_msg(0 == rc, "key refused: %s", NULL != why ? why : "?");
  ck_assert_str_eq(sh_jwt_key_alg(key), alg);
  return key;
}

#ifdef HAVE_JWT
static enum sh_jwt_err verify(const struct sh_jwt_key *k, const char *t)
{
  struct sh_claims c;
  enum sh_jwt_err e = sh_jwt_verify(k, t, strlen(t), (int64_t) time(NULL), &c);

  if (SH_JWT_OK == e)
    sh_claims_free(&c);
  return e;
}

static char *b64url(const char *s, char *out)
{
  static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789-_";
  size_t n = strlen(s), i;
  char *p = out;

  for (i = 0; i + 2 < n; i += 3) {
    unsigned v = ((unsigned char) s[i] << 16) | ((unsigned char) s[i + 1] << 8)
                 | (unsigned char) s[i + 2];

    *p++ = a[v >> 18];
    *p++ = a[(v >> 12) & 63];
    *p++ = a[(v >> 6) & 63];
    *p++ = a[v & 63];
  }
  if (n - i == 1) {
    unsigned v = (unsigned char) s[i] << 16;

    *p++ = a[v >> 18];
    *p++ = a[(v >> 12) & 63];
  } else if (n - i == 2) {
    unsigned v = ((unsigned char) s[i] << 16) | ((unsigned char) s[i + 1] << 8);

    *p++ = a[v >> 18];
    *p++ = a[(v >> 12) & 63];
    *p++ = a[(v >> 6) & 63];
  }
  *p = '\0';
  return out;
}

/* An HS256 token of payload, signed by libjwt with key. */
static char *hs256(const char *payload, const char *key)
{
  jwt_t *j = NULL;
  char *t;

  ck_assert_int_eq(0, jwt_new(&j));
  ck_assert_int_eq(0, jwt_add_grants_json(j, payload));
  ck_assert_int_eq(0, jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *) key,
                                  (int) strlen(key)));
  t = jwt_encode_str(j);
  ck_assert_ptr_nonnull(t);
  jwt_free(j);
  return t;
}

/* openssl genpkey + pkey -pubout into a temporary directory: the public
 * key's PEM text (malloc'd). */
static char *public_key(const char *genpkey_args)
{
  char dir[] = "/tmp/check_claims.XXXXXX", cmd[1024], *pem;
  size_t n;
  FILE *f;

  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(cmd, sizeof(cmd),
           "openssl genpkey %s -out %s/k.pem 2>/dev/null && "
           "openssl pkey -in %s/k.pem -pubout -out %s/k.pub",
           genpkey_args, dir, dir, dir);
  ck_assert_msg(0 == system(cmd), "openssl failed: %s", cmd);
  snprintf(cmd, sizeof(cmd), "%s/k.pub", dir);
  f = fopen(cmd, "r");
  ck_assert_ptr_nonnull(f);
  pem = calloc(1, 8192);
  n = fread(pem, 1, 8191, f);
  fclose(f);
  ck_assert_uint_gt(n, 0);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  ck_assert_int_eq(0, system(cmd));
  return pem;
}
#endif

START_TEST(test_jwtkey_kinds)
{
  struct sh_jwt_key *k;
  const char *why;

  if (!sh_jwt_supported()) {
    ck_assert_int_eq(-ENOTSUP, sh_jwt_key_new(secret, 32, &k, &why));
    return;
  }
  ck_assert_int_eq(-EINVAL, sh_jwt_key_new(secret, 31, &k, &why));
  ck_assert_ptr_nonnull(strstr(why, "32 bytes"));
  sh_jwt_key_unref(key_ok(secret, 32, "HS256"));
  ck_assert_int_eq(-EINVAL, sh_jwt_key_new("-----BEGIN PUBLIC KEY-----\nxx\n",
                                           30, &k, &why));
#ifdef HAVE_JWT
  {
    char *rsa = public_key("-algorithm RSA -pkeyopt rsa_keygen_bits:2048");
    char *rsa1k = public_key("-algorithm RSA -pkeyopt rsa_keygen_bits:1024");
    char *ec = public_key("-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
    char *ec384 = public_key("-algorithm EC -pkeyopt ec_paramgen_curve:P-384");
    char *ed = public_key("-algorithm ED25519");

    sh_jwt_key_unref(key_ok(rsa, strlen(rsa), "RS256"));
    sh_jwt_key_unref(key_ok(ec, strlen(ec), "ES256"));
    sh_jwt_key_unref(key_ok(ec384, strlen(ec384), "ES384"));
    ck_assert_int_eq(-EINVAL, sh_jwt_key_new(rsa1k, strlen(rsa1k), &k, &why));
    ck_assert_ptr_nonnull(strstr(why, "2048"));
    ck_assert_int_eq(-EINVAL, sh_jwt_key_new(ed, strlen(ed), &k, &why));
    free(rsa);
    free(rsa1k);
    free(ec);
    free(ec384);
    free(ed);
  }
#endif
}
END_TEST

START_TEST(test_jwtkey_verify)
{
#ifdef HAVE_JWT
  struct sh_jwt_key *k = key_ok(secret, strlen(secret), "HS256");
  char payload[256], h[256], p[512], forged[2048], *t, *dot, *big;
  struct sh_claims c;
  long now = (long) time(NULL);

  /* Good: the claims come back. */
  snprintf(payload, sizeof(payload),
           "{\"exp\":%ld,\"ssehub\":{\"subscribe\":[\"a\"]}}", now + 60);
  t = hs256(payload, secret);
  ck_assert_int_eq(SH_JWT_OK,
                   sh_jwt_verify(k, t, strlen(t), (int64_t) now, &c));
  ck_assert_str_eq(c.subscribe.topics[0], "a");
  sh_claims_free(&c);
  /* The same token read as a cookie would be: no NUL after it. */
  memcpy(forged, t, strlen(t));
  forged[strlen(t)] = ';';
  ck_assert_int_eq(SH_JWT_OK,
                   sh_jwt_verify(k, forged, strlen(t), (int64_t) now, &c));
  sh_claims_free(&c);
  /* Another payload under the same signature. */
  dot = strchr(t, '.');
  snprintf(forged, sizeof(forged), "%.*s.%s%s", (int) (dot - t), t,
           b64url("{\"ssehub\":{\"subscribe\":[\"*\"]}}", p), strrchr(t, '.'));
  ck_assert_int_eq(SH_JWT_SIGNATURE, verify(k, forged));
  free(t);
  /* Signed with another secret. */
  t = hs256(payload, "another secret, also 32 bytes long");
  ck_assert_int_eq(SH_JWT_SIGNATURE, verify(k, t));
  free(t);
  /* alg none, with and without a signature part. */
  snprintf(forged, sizeof(forged), "%s.%s.",
           b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}", h), b64url(payload, p));
  ck_assert_int_eq(SH_JWT_ALG, verify(k, forged));
  /* Another HMAC than the key's. */
  snprintf(forged, sizeof(forged), "%s.%s.AAAA",
           b64url("{\"alg\":\"HS512\"}", h), b64url(payload, p));
  ck_assert_int_eq(SH_JWT_ALG, verify(k, forged));
  /* Expired and not yet valid, beyond the leeway. */
  snprintf(payload, sizeof(payload), "{\"exp\":%ld}", now - 31);
  t = hs256(payload, secret);
  ck_assert_int_eq(SH_JWT_EXPIRED, verify(k, t));
  free(t);
  snprintf(payload, sizeof(payload), "{\"nbf\":%ld}", now + 120);
  t = hs256(payload, secret);
  ck_assert_int_eq(SH_JWT_NOT_YET, verify(k, t));
  free(t);
  /* Malformed shapes. */
  ck_assert_int_eq(SH_JWT_MALFORMED, verify(k, ""));
  ck_assert_int_eq(SH_JWT_MALFORMED, verify(k, "a.b"));
  ck_assert_int_eq(SH_JWT_MALFORMED, verify(k, "a.b.c.d"));
  ck_assert_int_eq(SH_JWT_MALFORMED, verify(k, ".b.c"));
  ck_assert_int_eq(SH_JWT_MALFORMED, verify(k, "%%%.b.c"));
  snprintf(forged, sizeof(forged), "%s.%s.AAAA",
           b64url("{\"alg\":\"HS256\"}", h), b64url("[1]", p));
  ck_assert_int_eq(SH_JWT_MALFORMED, verify(k, forged));
  /* Over the size limit: refused unread. */
  big = malloc(SH_JWT_MAX_TOKEN + 2);
  memset(big, 'A', SH_JWT_MAX_TOKEN + 1);
  big[SH_JWT_MAX_TOKEN + 1] = '\0';
  ck_assert_int_eq(SH_JWT_TOO_LARGE, verify(k, big));
  free(big);
  sh_jwt_key_unref(k);
#endif
}
END_TEST

START_TEST(test_jwtkey_hs256_with_public_key_refused)
{
#ifdef HAVE_JWT
  /* The key-confusion attack: an HS256 token whose HMAC secret is the
   * server's public key (which is public). libjwt alone would verify it
   * with the PEM bytes as the secret; the key's algorithm refuses it. */
  char *pem = public_key("-algorithm RSA -pkeyopt rsa_keygen_bits:2048");
  struct sh_jwt_key *k = key_ok(pem, strlen(pem), "RS256");
  char *t = hs256("{\"ssehub\":{\"subscribe\":[\"*\"]}}", pem);
  jwt_t *j = NULL;

  /* What libjwt alone does with it (why the header is checked first). */
  ck_assert_int_eq(0, jwt_decode(&j, t, (const unsigned char *) pem,
                                 (int) strlen(pem)));
  jwt_free(j);
  ck_assert_int_eq(SH_JWT_ALG, verify(k, t));
  free(t);
  sh_jwt_key_unref(k);
  free(pem);
#endif
}
END_TEST

static Suite *claims_suite(void)
{
  Suite *s = suite_create("claims");
  TCase *claims = tcase_create("claims");
  TCase *keys = tcase_create("jwtkey");

  tcase_add_test(claims, test_claims_layout);
  tcase_add_test(claims, test_claims_missing_lists_allow_nothing);
  tcase_add_test(claims, test_claims_escapes_decoded);
  tcase_add_test(claims, test_claims_malformed_is_einval);
  tcase_add_test(claims, test_claims_depth_and_count_bounded);
  tcase_add_test(claims, test_claims_too_many_topics);
  tcase_add_test(claims, test_claims_time_window_has_leeway);
  tcase_add_test(claims, test_claims_header_alg);
  tcase_add_test(claims, test_claims_base64url);
  suite_add_tcase(s, claims);

  /* openssl makes RSA keys: give it time under sanitizers. */
  tcase_set_timeout(keys, 30);
  tcase_add_test(keys, test_jwtkey_kinds);
  tcase_add_test(keys, test_jwtkey_verify);
  tcase_add_test(keys, test_jwtkey_hs256_with_public_key_refused);
  suite_add_tcase(s, keys);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(claims_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
