/* check_jwt.c - signed per-topic tokens (--jwt-key-file) against the real
 * program.
 *
 * Keys are made with openssl genpkey in a temporary directory, and tokens
 * signed with openssl dgst, as README's recipe does (so a token from any
 * other JWT library is what the server sees): HS256 with a secret, RS256
 * and ES256 with private keys whose public halves the server holds.
 * Checked: the topics of the claim open streams and publishes, and none
 * other (403 with a reason, not a silent filter); "*"; replay stays within
 * the claim; bad tokens (expired, not yet valid, forged, alg none,
 * HS256 signed with the public key, malformed, huge) are 401 with their
 * reason and counted; the static token beside them; a new key on SIGHUP.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "testlib.h"

static struct tl_server srv;
static char dir[40];

static void setup(void)
{
  memset(&srv, 0, sizeof(srv));
  strcpy(dir, "/tmp/check_jwt_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
  char cmd[96];

  if (srv.pid > 0)
    tl_server_stop(&srv, SIGKILL, 5000, NULL);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  ck_assert_int_eq(0, system(cmd));
}

static int exit_code(int status)
{
  return -1 != status && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#ifdef HAVE_JWT
/* Everything below needs a build with libjwt; without it only the flag's
 * refusal is tested (test_jwt_unsupported_build_exits_2). */
static void path_in(char *out, size_t cap, const char *name)
{
  snprintf(out, cap, "%s/%s", dir, name);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command; a missing tool (openssl) fails the test. */
static void sh(const char *fmt, ...)
{
  char cmd[2048];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  ck_assert_msg(0 == system(cmd), "failed: %s", cmd);
}

static void write_file(const char *name, const char *text)
{
  char path[128], tmp[140];
  FILE *f;

  path_in(path, sizeof(path), name);
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  f = fopen(tmp, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  ck_assert_int_eq(0, fclose(f));
  ck_assert_int_eq(0, rename(tmp, path)); /* a reload reads it whole */
}

static size_t read_file(const char *name, unsigned char *buf, size_t cap)
{
  char path[128];
  FILE *f;
  size_t n;

  path_in(path, sizeof(path), name);
  f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

/* A key pair: NAME.pem (private, signs) and NAME.pub (public, for the
 * server). kind: "rsa" or "ec". */
static void make_keypair(const char *name, const char *kind)
{
  sh("cd '%s' && openssl genpkey %s -out %s.pem 2>/dev/null && "
     "openssl pkey -in %s.pem -pubout -out %s.pub",
     dir,
     0 == strcmp(kind, "rsa") ? "-algorithm RSA -pkeyopt rsa_keygen_bits:2048"
                              : "-algorithm EC -pkeyopt "
                                "ec_paramgen_curve:P-256",
     name, name, name);
}

static void b64url(const unsigned char *s, size_t n, char *out)
{
  static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789-_";
  size_t i;

  for (i = 0; i < n; i += 3) {
    unsigned long v = (unsigned long) s[i] << 16;

    if (i + 1 < n)
      v |= (unsigned long) s[i + 1] << 8;
    if (i + 2 < n)
      v |= s[i + 2];
    *out++ = a[v >> 18];
    *out++ = a[(v >> 12) & 63];
    if (i + 1 < n)
      *out++ = a[(v >> 6) & 63];
    if (i + 2 < n)
      *out++ = a[v & 63];
  }
  *out = '\0';
}

/* An ECDSA signature as openssl writes it (DER: SEQUENCE of INTEGER r, s)
 * into JWS form: r and s, 32 bytes each, big-endian. */
static size_t der_to_raw(const unsigned char *der, size_t n, unsigned char *out)
{
  size_t i = 2, k;

  ck_assert_uint_ge(n, 8);
  ck_assert_int_eq(der[0], 0x30);
  if (der[1] & 0x80)
    i = 2 + (der[1] & 0x7f);
  memset(out, 0, 64);
  for (k = 0; k < 2; k++) {
    size_t len;

    ck_assert_int_eq(der[i], 0x02);
    len = der[i + 1];
    i += 2;
    while (len > 32) { /* a leading zero keeps the integer positive */
      i++;
      len--;
    }
    memcpy(out + 32 * k + (32 - len), der + i, len);
    i += len;
  }
  return 64;
}

/* A token: header {"alg":alg,"typ":"JWT"}, payload, signed by openssl
 * with key (in dir: a secret file for HS256, NAME.pem for RS/ES; NULL:
 * no signature, for alg "none"). */
static void mint(char *out, size_t cap, const char *alg, const char *key,
                 const char *payload)
{
  char header[64], h[128], p[1024], input[1200];
  unsigned char sig[1024], raw[64];
  size_t n;

  snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
  b64url((const unsigned char *) header, strlen(header), h);
  b64url((const unsigned char *) payload, strlen(payload), p);
  snprintf(input, sizeof(input), "%s.%s", h, p);
  if (NULL == key) {
    snprintf(out, cap, "%s.", input);
    return;
  }
  write_file("input", input);
  if ('H' == alg[0])
    /* The key's exact bytes (hexkey: $(cat) would drop a final newline). */
    sh("cd '%s' && openssl dgst -sha256 -mac HMAC -macopt "
       "hexkey:$(od -An -v -tx1 %s | tr -d ' \\n') -binary -out sig input",
       dir, key);
  else
    sh("cd '%s' && openssl dgst -sha256 -sign %s -binary -out sig input", dir,
       key);
  n = read_file("sig", sig, sizeof(sig));
  if ('E' == alg[0]) {
    n = der_to_raw(sig, n, raw);
    memcpy(sig, raw, n);
  }
  ck_assert_uint_lt(strlen(input) + 2 + n * 4 / 3 + 4, cap);
  snprintf(out, cap, "%s.", input);
  b64url(sig, n, out + strlen(out));
}

/* A payload: the subscribe and publish lists (JSON array contents, NULL:
 * absent), and exp/nbf relative to now (0: absent). */
static void claims(char *out, size_t cap, const char *sub, const char *pub,
                   long exp_in, long nbf_in)
{
  long now = (long) time(NULL);
  int n = snprintf(out, cap, "{\"sub\":\"test\"");

  if (0 != exp_in)
    n += snprintf(out + n, cap - (size_t) n, ",\"exp\":%ld", now + exp_in);
  if (0 != nbf_in)
    n += snprintf(out + n, cap - (size_t) n, ",\"nbf\":%ld", now + nbf_in);
  n += snprintf(out + n, cap - (size_t) n, ",\"ssehub\":{");
  if (NULL != sub)
    n += snprintf(out + n, cap - (size_t) n, "\"subscribe\":[%s]%s", sub,
                  NULL != pub ? "," : "");
  if (NULL != pub)
    n += snprintf(out + n, cap - (size_t) n, "\"publish\":[%s]", pub);
  snprintf(out + n, cap - (size_t) n, "}}");
}

/* HEAD /sse (the stream's answer without the stream) with extra headers;
 * get: GET instead, for a refusal's body (a stream would never end). */
static int request_sse(bool get, const char *path, const char *headers,
                       struct tl_response *r)
{
  char req[12288];
  int n = snprintf(req, sizeof(req),
                   "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n",
                   get ? "GET" : "HEAD", path, headers);

  ck_assert_int_lt(n, (int) sizeof(req));
  return tl_http(srv.port, req, (size_t) n, r);
}

static int head_sse(const char *path, const char *headers,
                    struct tl_response *r)
{
  return request_sse(false, path, headers, r);
}

/* /sse?topic=... with the token as a bearer header: HEAD (sub_with) or,
 * for a refusal and its reason in r->body, GET (sub_get). */
static int sub_req(bool get, const char *token, const char *query,
                   struct tl_response *r)
{
  char hdr[10000], path[512];

  snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", token);
  snprintf(path, sizeof(path), "/sse%s", query);
  return request_sse(get, path, hdr, r);
}

static int sub_with(const char *token, const char *query, struct tl_response *r)
{
  return sub_req(false, token, query, r);
}

static int sub_get(const char *token, const char *query, struct tl_response *r)
{
  return sub_req(true, token, query, r);
}

/* POST /publish?query with a bearer token (NULL: none). */
static int pub_with(const char *token, const char *query, struct tl_response *r)
{
  char raw[10000];
  int n = snprintf(raw, sizeof(raw),
                   "POST /publish%s HTTP/1.1\r\nHost: x\r\n%s%s%s"
                   "Content-Type: text/plain\r\nContent-Length: 5\r\n"
                   "Connection: close\r\n\r\nhello",
                   query, NULL != token ? "Authorization: Bearer " : "",
                   NULL != token ? token : "", NULL != token ? "\r\n" : "");

  return tl_http(srv.port, raw, (size_t) n, r);
}

static void start(const char *key_name, const char *extra_flag,
                  const char *extra_value)
{
  static char key[128];
  const char *args[] = { "--jwt-key-file", key, extra_flag, extra_value, NULL };

  path_in(key, sizeof(key), key_name);
  tl_server_start_ok(&srv, args);
}

static const char secret[] = "kai7AhZ3eiph8oos9Oofah4Ohsh0eew5";

#define BODY_HAS(r, text)                                                \
  ck_assert_msg(NULL != strstr((r)->body, text), "body '%s' lacks '%s'", \
                (r)->body, text)

START_TEST(test_jwt_topics_of_the_claim)
{
  struct tl_response *r = malloc(sizeof(*r));
  char payload[512], a[2048], all[2048], hdr[2200];

  ck_assert_ptr_nonnull(r);
  write_file("secret", secret);
  start("secret", NULL, NULL);
  claims(payload, sizeof(payload), "\"a\"", NULL, 300, 0);
  mint(a, sizeof(a), "HS256", "secret", payload);
  claims(payload, sizeof(payload), "\"*\"", NULL, 300, 0);
  mint(all, sizeof(all), "HS256", "secret", payload);

  /* A token is needed now (no static token: the key alone asks for it). */
  ck_assert_int_eq(401, head_sse("/sse?topic=a", "", r));
  ck_assert_int_eq(200, sub_with(a, "?topic=a", r));
  /* No topic: the events published without one, which everyone gets. */
  ck_assert_int_eq(200, sub_with(a, "", r));
  /* Outside the claim: 403 with the reason, not a quietly smaller stream. */
  ck_assert_int_eq(403, sub_get(a, "?topic=b", r));
  BODY_HAS(r, "does not allow subscribing to topic 'b'");
  ck_assert(tl_header(r, "WWW-Authenticate", hdr, sizeof(hdr)));
  ck_assert_ptr_nonnull(strstr(hdr, "insufficient_scope"));
  ck_assert_int_eq(403, sub_with(a, "?topic=a&topic=b", r));
  ck_assert_int_eq(403, sub_get(a, "?topic=*", r));
  BODY_HAS(r, "topic '*'");
  /* "*" in the claim: any topic, and topic=*. */
  ck_assert_int_eq(200, sub_with(all, "?topic=*", r));
  ck_assert_int_eq(200, sub_with(all, "?topic=b&topic=zz", r));
  /* The two ways a browser's EventSource can carry it. */
  snprintf(hdr, sizeof(hdr), "Cookie: x=1; ssehub_token=%s; y=2\r\n", a);
  ck_assert_int_eq(200, head_sse("/sse?topic=a", hdr, r));
  ck_assert_int_eq(403, head_sse("/sse?topic=b", hdr, r));
  snprintf(hdr, sizeof(hdr), "/sse?topic=a&access_token=%s", a);
  ck_assert_int_eq(200, head_sse(hdr, "", r));
  /* A real stream, not just its head: its events arrive. */
  {
    struct tl_sse s;
    char frame[512];

    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", a);
    ck_assert_int_eq(0, tl_sse_open(&s, srv.port, "/sse?topic=a", hdr, NULL));
    ck_assert(tl_sse_got_ok(&s, 5000 * tl_scale()));
    ck_assert_int_eq(200, pub_with(NULL, "?topic=b", r)); /* loopback */
    ck_assert_int_eq(200, pub_with(NULL, "?topic=a", r));
    ck_assert_int_gt(tl_sse_next_event(&s, frame, sizeof(frame),
                                       5000 * tl_scale()),
                     0);
    ck_assert_ptr_nonnull(strstr(frame, "data: hello"));
    tl_sse_close(&s);
  }
  ck_assert_int_eq(4, tl_stat(srv.port, "jwt_forbidden"));
  ck_assert_int_eq(0, tl_stat(srv.port, "jwt_refused"));
  ck_assert_int_eq(5, tl_stat(srv.port, "unauthorized"));
  tl_server_stop_ok(&srv);
  free(r);
}
END_TEST

/* README's recipe, as printed there (the key file's path aside): a text
 * secret from openssl rand, with its line break, and a shell-made token. */
START_TEST(test_jwt_readme_recipe)
{
  struct tl_response *r = malloc(sizeof(*r));
  char token[1024];
  size_t n;

  ck_assert_ptr_nonnull(r);
  sh("openssl rand -hex 32 >'%s/jwt.secret'", dir);
  sh("cd '%s' && cat >recipe.sh <<'EOF'\n"
     "b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }\n"
     "h=$(printf '{\"alg\":\"HS256\",\"typ\":\"JWT\"}' | b64url)\n"
     "p=$(printf '{\"exp\":%%d,\"ssehub\":{\"subscribe\":[\"orders\"]}}' \\\n"
     "      $(( $(date +%%s) + 3600 )) | b64url)\n"
     "s=$(printf '%%s.%%s' \"$h\" \"$p\" | openssl dgst -sha256 -mac HMAC \\\n"
     "      -macopt key:\"$(cat /etc/ssehub/jwt.secret)\" -binary | b64url)\n"
     "echo \"$h.$p.$s\"\n"
     "EOF\n"
     "sed -i 's|/etc/ssehub/jwt.secret|%s/jwt.secret|' recipe.sh && "
     "sh recipe.sh >token",
     dir, dir);
  n = read_file("token", (unsigned char *) token, sizeof(token) - 1);
  ck_assert_uint_gt(n, 20);
  token[n - 1] = '\0'; /* echo's line break */
  start("jwt.secret", NULL, NULL);
  ck_assert_int_eq(200, sub_with(token, "?topic=orders", r));
  ck_assert_int_eq(403, sub_with(token, "?topic=other", r));
  tl_server_stop_ok(&srv);
  free(r);
}
END_TEST

START_TEST(test_jwt_bad_tokens_are_401)
{
  struct tl_response *r = malloc(sizeof(*r));
  char payload[512], t[2048], good[2048], forged[4096], hdr[512];
  char *huge = malloc(9001), *dot;
  long long refused = 0;

  ck_assert_ptr_nonnull(r);
  ck_assert_ptr_nonnull(huge);
  write_file("secret", secret);
  write_file("other", "another secret of at least 32 bytes!");
  start("secret", NULL, NULL);
  claims(payload, sizeof(payload), "\"a\"", NULL, 300, 0);
  mint(good, sizeof(good), "HS256", "secret", payload);
  ck_assert_int_eq(200, sub_with(good, "?topic=a", r));

#define REFUSED(token, reason)                                     \
  do {                                                             \
    ck_assert_int_eq(401, sub_get(token, "?topic=a", r));          \
    BODY_HAS(r, reason);                                           \
    ck_assert(tl_header(r, "WWW-Authenticate", hdr, sizeof(hdr))); \
    ck_assert_ptr_nonnull(strstr(hdr, "error=\"invalid_token\"")); \
    refused++;                                                     \
  } while (0)

  /* Expired, beyond the 30 s leeway. */
  claims(payload, sizeof(payload), "\"a\"", NULL, -60, 0);
  mint(t, sizeof(t), "HS256", "secret", payload);
  REFUSED(t, "token expired");
  /* Within the leeway: still valid. */
  claims(payload, sizeof(payload), "\"a\"", NULL, -10, 0);
  mint(t, sizeof(t), "HS256", "secret", payload);
  ck_assert_int_eq(200, sub_with(t, "?topic=a", r));
  /* Not yet valid. */
  claims(payload, sizeof(payload), "\"a\"", NULL, 600, 300);
  mint(t, sizeof(t), "HS256", "secret", payload);
  REFUSED(t, "token not yet valid");
  /* Signed with another secret. */
  claims(payload, sizeof(payload), "\"a\"", NULL, 300, 0);
  mint(t, sizeof(t), "HS256", "other", payload);
  REFUSED(t, "signature does not verify");
  /* The good token's signature on a payload asking for more. */
  claims(payload, sizeof(payload), "\"*\"", "\"*\"", 300, 0);
  mint(t, sizeof(t), "HS256", "secret", payload);
  dot = strrchr(t, '.');
  snprintf(forged, sizeof(forged), "%.*s%s", (int) (dot - t), t,
           strrchr(good, '.'));
  REFUSED(forged, "signature does not verify");
  /* alg none, unsigned. */
  mint(t, sizeof(t), "none", NULL, payload);
  REFUSED(t, "algorithm not accepted");
  /* ... and none with the good token's signature kept. */
  snprintf(forged, sizeof(forged), "%.*s%s", (int) (strrchr(t, '.') - t), t,
           strrchr(good, '.'));
  REFUSED(forged, "algorithm not accepted");
  /* Malformed: not a JWT, bad base64, payload not JSON. */
  REFUSED("not-a-token", "malformed token");
  REFUSED("e30.e30.!!!!", "malformed token");
  REFUSED("eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.AAAA", "malformed token");
  /* Huge: refused unread (8 KiB cap), the server unharmed. */
  memset(huge, 'A', 9000);
  huge[9000] = '\0';
  huge[100] = '.';
  huge[200] = '.';
  REFUSED(huge, "token too large");
  /* Bigger than the request's headers may be (--connection-memory):
   * libmicrohttpd answers 431 before the token is looked at. */
  {
    size_t cap = 48 * 1024;
    char *raw = malloc(cap);
    int n;

    ck_assert_ptr_nonnull(raw);
    n = snprintf(raw, cap,
                 "HEAD /sse HTTP/1.1\r\nHost: x\r\n"
                 "Authorization: Bearer ");
    memset(raw + n, 'A', 40000);
    n += 40000;
    n += snprintf(raw + n, cap - (size_t) n, "\r\n\r\n");
    ck_assert_int_eq(431, tl_http(srv.port, raw, (size_t) n, r));
    free(raw);
  }
  ck_assert_int_eq(1, tl_stat(srv.port, "headers_too_large"));
  ck_assert_int_eq(refused, tl_stat(srv.port, "jwt_refused"));
  ck_assert_int_eq(refused, tl_stat(srv.port, "unauthorized"));
  /* Still serving. */
  ck_assert_int_eq(200, sub_with(good, "?topic=a", r));
  tl_server_stop_ok(&srv);
  free(huge);
  free(r);
#undef REFUSED
}
END_TEST

START_TEST(test_jwt_rs256_and_key_confusion)
{
  struct tl_response *r = malloc(sizeof(*r));
  char payload[512], t[2048];

  ck_assert_ptr_nonnull(r);
  make_keypair("rsa", "rsa");
  start("rsa.pub", NULL, NULL);
  ck_assert(tl_server_log_contains(&srv, "signed tokens: RS256"));
  claims(payload, sizeof(payload), "\"*\"", NULL, 300, 0);
  mint(t, sizeof(t), "RS256", "rsa.pem", payload);
  ck_assert_int_eq(200, sub_with(t, "?topic=x", r));
  /* HS256 whose secret is the server's public key, which anyone may
   * have: the algorithm is the key's, so it is refused unverified. */
  mint(t, sizeof(t), "HS256", "rsa.pub", payload);
  ck_assert_int_eq(401, sub_get(t, "?topic=x", r));
  BODY_HAS(r, "algorithm not accepted");
  ck_assert_int_eq(1, tl_stat(srv.port, "jwt_refused"));
  tl_server_stop_ok(&srv);
  free(r);
}
END_TEST

START_TEST(test_jwt_es256)
{
  struct tl_response *r = malloc(sizeof(*r));
  char payload[512], t[2048];

  ck_assert_ptr_nonnull(r);
  make_keypair("ec", "ec");
  make_keypair("rsa", "rsa");
  start("ec.pub", NULL, NULL);
  ck_assert(tl_server_log_contains(&srv, "signed tokens: ES256"));
  claims(payload, sizeof(payload), "\"x\"", NULL, 300, 0);
  mint(t, sizeof(t), "ES256", "ec.pem", payload);
  ck_assert_int_eq(200, sub_with(t, "?topic=x", r));
  ck_assert_int_eq(403, sub_with(t, "?topic=y", r));
  mint(t, sizeof(t), "RS256", "rsa.pem", payload);
  ck_assert_int_eq(401, sub_with(t, "?topic=x", r));
  tl_server_stop_ok(&srv);
  free(r);
}
END_TEST

START_TEST(test_jwt_publish_claims)
{
  struct tl_response *r = malloc(sizeof(*r));
  char payload[512], a[2048], all[2048], none[2048];

  ck_assert_ptr_nonnull(r);
  write_file("secret", secret);
  start("secret", NULL, NULL);
  claims(payload, sizeof(payload), NULL, "\"a\"", 300, 0);
  mint(a, sizeof(a), "HS256", "secret", payload);
  claims(payload, sizeof(payload), NULL, "\"*\"", 300, 0);
  mint(all, sizeof(all), "HS256", "secret", payload);
  claims(payload, sizeof(payload), "\"*\"", NULL, 300, 0);
  mint(none, sizeof(none), "HS256", "secret", payload);

  ck_assert_int_eq(200, pub_with(a, "?topic=a", r));
  ck_assert_int_eq(403, pub_with(a, "?topic=b", r));
  BODY_HAS(r, "does not allow publishing to topic 'b'");
  ck_assert_int_eq(403, pub_with(a, "?topic=a&topic=b", r));
  /* Without a topic the event goes to everyone: it needs "*". */
  ck_assert_int_eq(403, pub_with(a, "", r));
  BODY_HAS(r, "without a topic");
  ck_assert_int_eq(200, pub_with(all, "", r));
  ck_assert_int_eq(200, pub_with(all, "?topic=b", r));
  /* A subscribe claim does not allow publishing. */
  ck_assert_int_eq(403, pub_with(none, "?topic=a", r));
  /* A bad token is 401 even from loopback (which may publish without
   * one: no static publish token here). */
  ck_assert_int_eq(401, pub_with("x.y.z", "?topic=a", r));
  ck_assert_int_eq(200, pub_with(NULL, "?topic=b", r));
  ck_assert_int_eq(4, tl_stat(srv.port, "jwt_forbidden"));
  ck_assert_int_eq(1, tl_stat(srv.port, "jwt_refused"));
  ck_assert_int_eq(4, tl_stat(srv.port, "published"));
  tl_server_stop_ok(&srv);
  free(r);
}
END_TEST

START_TEST(test_jwt_replay_stays_in_the_claim)
{
  struct tl_response *r = malloc(sizeof(*r));
  char payload[512], a[2048], hdr[2400], first[64], frame[1024];
  const char *queries[] = { "?topic=a", "?topic=b", "", "?topic=a&topic=b",
                            "?topic=b" };
  const char *want[] = { "data: hello-0", "data: hello-2", "data: hello-3" };
  struct tl_sse s;
  unsigned i;

  ck_assert_ptr_nonnull(r);
  write_file("secret", secret);
  start("secret", NULL, NULL);
  claims(payload, sizeof(payload), "\"a\"", NULL, 300, 0);
  mint(a, sizeof(a), "HS256", "secret", payload);
  /* An event to resume after, then a, b, everyone, a+b, b. */
  ck_assert_int_eq(200, pub_with(NULL, "?topic=zz", r));
  ck_assert(tl_answer_id(r, first, sizeof(first)));
  for (i = 0; i < 5; i++) {
    char raw[256];
    int n = snprintf(raw, sizeof(raw),
                     "POST /publish%s HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: text/plain\r\nContent-Length: 7\r\n"
                     "Connection: close\r\n\r\nhello-%u",
                     queries[i], i);

    ck_assert_int_eq(200, tl_http(srv.port, raw, (size_t) n, r));
  }
  /* Resuming on a topic outside the claim: refused, nothing replayed. */
  snprintf(hdr, sizeof(hdr),
           "Authorization: Bearer %s\r\nLast-Event-ID: %s\r\n", a, first);
  ck_assert_int_eq(403, head_sse("/sse?topic=b", hdr, r));
  /* On a: the events of a (hello-3 was published to a and b) and the
   * one for everyone; none of b's alone. */
  ck_assert_int_eq(0, tl_sse_open(&s, srv.port, "/sse?topic=a", hdr, NULL));
  ck_assert(tl_sse_got_ok(&s, 5000 * tl_scale()));
  for (i = 0; i < 3; i++) {
    ck_assert_int_gt(tl_sse_next_event(&s, frame, sizeof(frame),
                                       5000 * tl_scale()),
                     0);
    ck_assert_msg(NULL != strstr(frame, want[i]), "frame %u: %s", i, frame);
  }
  ck_assert_int_eq(-1, tl_sse_next_event(&s, frame, sizeof(frame), 300));
  tl_sse_close(&s);
  tl_server_stop_ok(&srv);
  free(r);
}
END_TEST

START_TEST(test_jwt_beside_the_static_token)
{
  struct tl_response *r = malloc(sizeof(*r));
  char payload[512], a[2048], token[128];

  ck_assert_ptr_nonnull(r);
  write_file("secret", secret);
  write_file("static", "static-token-1\n");
  path_in(token, sizeof(token), "static");
  start("secret", "--subscribe-token-file", token);
  claims(payload, sizeof(payload), "\"a\"", NULL, 300, 0);
  mint(a, sizeof(a), "HS256", "secret", payload);
  /* The static token opens every topic; a signed one its own. */
  ck_assert_int_eq(200, sub_with("static-token-1", "?topic=*", r));
  ck_assert_int_eq(200, sub_with("static-token-1", "?topic=b", r));
  ck_assert_int_eq(200, sub_with(a, "?topic=a", r));
  ck_assert_int_eq(403, sub_with(a, "?topic=b", r));
  ck_assert_int_eq(401, sub_with("static-token-2", "?topic=a", r));
  ck_assert_int_eq(401, head_sse("/sse", "", r));
  tl_server_stop_ok(&srv);
  free(r);
}
END_TEST

START_TEST(test_jwt_sighup_new_key)
{
  struct tl_response *r = malloc(sizeof(*r));
  char payload[512], t1[2048], t2[2048], key[128], conf[160];
  const char *args[] = { "--config", conf, NULL };
  unsigned char pem[4096];
  size_t n;

  ck_assert_ptr_nonnull(r);
  make_keypair("k1", "ec");
  make_keypair("k2", "ec");
  n = read_file("k1.pub", pem, sizeof(pem) - 1);
  pem[n] = '\0';
  write_file("key.pub", (char *) pem);
  path_in(key, sizeof(key), "key.pub");
  path_in(conf, sizeof(conf), "ssehub.conf");
  snprintf((char *) pem, sizeof(pem), "jwt-key-file = %s\n", key);
  write_file("ssehub.conf", (char *) pem);
  tl_server_start_ok(&srv, args);
  claims(payload, sizeof(payload), "\"a\"", NULL, 300, 0);
  mint(t1, sizeof(t1), "ES256", "k1.pem", payload);
  mint(t2, sizeof(t2), "ES256", "k2.pem", payload);
  ck_assert_int_eq(200, sub_with(t1, "?topic=a", r));
  ck_assert_int_eq(401, sub_with(t2, "?topic=a", r));

  /* Rotate the key on disk: nothing changes until SIGHUP. */
  n = read_file("k2.pub", pem, sizeof(pem) - 1);
  pem[n] = '\0';
  write_file("key.pub", (char *) pem);
  ck_assert_int_eq(200, sub_with(t1, "?topic=a", r));
  tl_server_hup_and_wait(&srv, "reloaded");
  ck_assert_int_eq(1, tl_server_log_count(&srv, "jwt key replaced"));
  ck_assert_int_eq(401, sub_with(t1, "?topic=a", r));
  ck_assert_int_eq(200, sub_with(t2, "?topic=a", r));

  /* A bad key refuses the reload whole: the key in force stays. */
  write_file("key.pub", "-----BEGIN PUBLIC KEY-----\nnot a key\n"
                        "-----END PUBLIC KEY-----\n");
  tl_server_hup_and_wait(&srv, "reload refused");
  ck_assert_int_eq(200, sub_with(t2, "?topic=a", r));
  ck_assert_int_eq(2, tl_stat(srv.port, "jwt_refused"));
  tl_server_stop_ok(&srv);
  free(r);
}
END_TEST

START_TEST(test_jwt_bad_key_file_exits_2)
{
  char out[2048], key[128];
  const char *args[] = { "--jwt-key-file", key, NULL };

  path_in(key, sizeof(key), "short");
  write_file("short", "too-short\n");
  ck_assert_int_eq(2, exit_code(
                          tl_run(args, out, sizeof(out), 5000 * tl_scale())));
  ck_assert_msg(NULL != strstr(out, "at least 32 bytes"), "%s", out);
  /* A private key by mistake: refused (the server needs the public one). */
  make_keypair("rsa", "rsa");
  path_in(key, sizeof(key), "rsa.pem");
  ck_assert_int_eq(2, exit_code(
                          tl_run(args, out, sizeof(out), 5000 * tl_scale())));
  ck_assert_msg(NULL != strstr(out, "not a PEM public key"), "%s", out);
  path_in(key, sizeof(key), "missing");
  ck_assert_int_eq(2, exit_code(
                          tl_run(args, out, sizeof(out), 5000 * tl_scale())));
}
END_TEST

#endif /* HAVE_JWT */

#ifndef HAVE_JWT
START_TEST(test_jwt_unsupported_build_exits_2)
{
  char out[2048];
  const char *args[] = { "--jwt-key-file", "/dev/null", NULL };

  ck_assert_int_eq(2, exit_code(
                          tl_run(args, out, sizeof(out), 5000 * tl_scale())));
  ck_assert_msg(NULL != strstr(out, "lacks JWT support"), "%s", out);
}
END_TEST
#endif

static Suite *jwt_suite(void)
{
  Suite *s = suite_create("jwt");
  TCase *tc = tcase_create("jwt");
  tcase_add_checked_fixture(tc, setup, teardown);
  /* RSA keys from openssl, several servers: time under sanitizers. */
  tcase_set_timeout(tc, 60);
#ifndef HAVE_JWT
  tcase_add_test(tc, test_jwt_unsupported_build_exits_2);
#else
  {
    tcase_add_test(tc, test_jwt_topics_of_the_claim);
    tcase_add_test(tc, test_jwt_readme_recipe);
    tcase_add_test(tc, test_jwt_bad_tokens_are_401);
    tcase_add_test(tc, test_jwt_rs256_and_key_confusion);
    tcase_add_test(tc, test_jwt_es256);
    tcase_add_test(tc, test_jwt_publish_claims);
    tcase_add_test(tc, test_jwt_replay_stays_in_the_claim);
    tcase_add_test(tc, test_jwt_beside_the_static_token);
    tcase_add_test(tc, test_jwt_sighup_new_key);
    tcase_add_test(tc, test_jwt_bad_key_file_exits_2);
  }
#endif
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(jwt_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
