/* claims.c - a token's claims, parsed strictly (see claims.h).
 *
 * A small recursive-descent JSON reader rather than a JSON library: it
 * reads only what ssehub needs, refuses what is ambiguous (duplicate
 * keys among those read, invalid UTF-8, lone surrogates), is bounded in
 * depth, and is fuzzed on its own. libjwt has parsed the payload already
 * (with jansson); reading it a second time here keeps the rules ours
 * whatever that library accepts.
 */
#include "config.h"

#include <errno.h>
#include <math.h> /* isfinite */
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "form.h"
#include "pubfields.h"
#include "utf8.h"

#define MAX_DEPTH 64

struct parser {
  const char *s;
  size_t len, i;
  unsigned depth;
};

static void ws(struct parser *p)
{
  while (p->i < p->len
         && (' ' == p->s[p->i] || '\t' == p->s[p->i] || '\n' == p->s[p->i]
             || '\r' == p->s[p->i]))
    p->i++;
}

static bool eat(struct parser *p, char c)
{
  ws(p);
  if (p->i < p->len && c == p->s[p->i]) {
    p->i++;
    return true;
  }
  return false;
}

/* Four hex digits at p->i, as a code unit; -1 if not. */
static long hex4(struct parser *p)
{
  long v = 0;
  int k, h;

  if (p->len - p->i < 4)
    return -1;
  for (k = 0; k < 4; k++) {
    h = sh_form_hexval(p->s[p->i + (size_t) k]);
    if (h < 0)
      return -1;
    v = v * 16 + h;
  }
  p->i += 4;
  return v;
}

static size_t put_utf8(unsigned long cp, char *out)
{
  if (cp < 0x80) {
    out[0] = (char) cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char) (0xC0 | (cp >> 6));
    out[1] = (char) (0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char) (0xE0 | (cp >> 12));
    out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char) (0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char) (0xF0 | (cp >> 18));
  out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char) (0x80 | (cp & 0x3F));
  return 4;
}

/* A string at p->i (after whitespace). Decoded into out (room for the
 * rest of the input: decoding never grows) when out is not NULL, with
 * its length in *n; not NUL-terminated. */
static int string(struct parser *p, char *out, size_t *n)
{
  size_t o = 0, k;

  if (!eat(p, '"'))
    return -EINVAL;
  for (;;) {
    unsigned char c;

    if (p->i >= p->len)
      return -EINVAL;
    c = (unsigned char) p->s[p->i];
    if ('"' == c) {
      p->i++;
      break;
    }
    if (c < 0x20)
      return -EINVAL;
    if ('\\' != c) {
      uint32_t code; /* not needed: the bytes are copied as they are */

      k = sh_utf8_decode(p->s + p->i, p->len - p->i, &code);
      if (0 == k)
        return -EINVAL;
      if (NULL != out)
        memcpy(out + o, p->s + p->i, k);
      o += k;
      p->i += k;
      continue;
    }
    if (++p->i >= p->len)
      return -EINVAL;
    c = (unsigned char) p->s[p->i++];
    if ('u' == c) {
      long u = hex4(p), lo;
      unsigned long cp;
      char tmp[4];

      if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
        return -EINVAL;
      cp = (unsigned long) u;
      if (u >= 0xD800 && u <= 0xDBFF) {
        if (p->len - p->i < 2 || '\\' != p->s[p->i] || 'u' != p->s[p->i + 1])
          return -EINVAL;
        p->i += 2;
        lo = hex4(p);
        if (lo < 0xDC00 || lo > 0xDFFF)
          return -EINVAL;
        cp = 0x10000 + (((unsigned long) u - 0xD800) << 10)
             + ((unsigned long) lo - 0xDC00);
      }
      k = put_utf8(cp, tmp);
      if (NULL != out)
        memcpy(out + o, tmp, k);
      o += k;
      continue;
    }
    switch (c) {
    case '"':
    case '\\':
    case '/':
      break;
    case 'b':
      c = '\b';
      break;
    case 'f':
      c = '\f';
      break;
    case 'n':
      c = '\n';
      break;
    case 'r':
      c = '\r';
      break;
    case 't':
      c = '\t';
      break;
    default:
      return -EINVAL;
    }
    if (NULL != out)
      out[o] = (char) c;
    o++;
  }
  if (NULL != n)
    *n = o;
  return 0;
}

static bool digit(const struct parser *p)
{
  return p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9';
}

/* A number (RFC 8259 grammar); its value in *v when v is not NULL. */
static int number(struct parser *p, double *v)
{
  size_t start;
  char text[64];

  ws(p);
  start = p->i;
  if (p->i < p->len && '-' == p->s[p->i])
    p->i++;
  if (!digit(p))
    return -EINVAL;
  if ('0' == p->s[p->i])
    p->i++;
  else
    while (digit(p))
      p->i++;
  if (p->i < p->len && '.' == p->s[p->i]) {
    p->i++;
    if (!digit(p))
      return -EINVAL;
    while (digit(p))
      p->i++;
  }
  if (p->i < p->len && ('e' == p->s[p->i] || 'E' == p->s[p->i])) {
    p->i++;
    if (p->i < p->len && ('+' == p->s[p->i] || '-' == p->s[p->i]))
      p->i++;
    if (!digit(p))
      return -EINVAL;
    while (digit(p))
      p->i++;
  }
  if (NULL == v)
    return 0;
  /* A date needs no more digits than this; longer is not one. */
  if (p->i - start >= sizeof(text))
    return -EINVAL;
  memcpy(text, p->s + start, p->i - start);
  text[p->i - start] = '\0';
  *v = strtod(text, NULL);
  return isfinite(*v) ? 0 : -EINVAL;
}

static bool literal(struct parser *p, const char *word)
{
  size_t n = strlen(word);

  ws(p);
  if (p->len - p->i < n || 0 != memcmp(p->s + p->i, word, n))
    return false;
  p->i += n;
  return true;
}

static int skip_value(struct parser *p);

/* The members or elements of an object or array whose opening bracket
 * has been read, each only checked. */
static int skip_container(struct parser *p, bool object)
{
  char close = object ? '}' : ']';
  int rc;

  if (++p->depth > MAX_DEPTH)
    return -EINVAL;
  if (eat(p, close)) {
    p->depth--;
    return 0;
  }
  do {
    if (object && (0 != (rc = string(p, NULL, NULL)) || !eat(p, ':')))
      return -EINVAL;
    if (0 != (rc = skip_value(p)))
      return rc;
  } while (eat(p, ','));
  if (!eat(p, close))
    return -EINVAL;
  p->depth--;
  return 0;
}

static int skip_value(struct parser *p)
{
  ws(p);
  if (p->i >= p->len)
    return -EINVAL;
  switch (p->s[p->i]) {
  case '{':
    p->i++;
    return skip_container(p, true);
  case '[':
    p->i++;
    return skip_container(p, false);
  case '"':
    return string(p, NULL, NULL);
  case 't':
    return literal(p, "true") ? 0 : -EINVAL;
  case 'f':
    return literal(p, "false") ? 0 : -EINVAL;
  case 'n':
    return literal(p, "null") ? 0 : -EINVAL;
  default:
    return number(p, NULL);
  }
}

/* What sh_claims_parse() is filling. */
struct fill {
  struct sh_claims *c;
  char *key;   /* scratch: the key being read */
  size_t used; /* bytes of c->buf taken */
};

static bool key_is(const char *key, size_t n, const char *name)
{
  return n == strlen(name) && 0 == memcmp(key, name, n);
}

/* A NumericDate, rounded toward the past and kept within int64. */
static int date(struct parser *p, int64_t *out)
{
  double v;
  int rc = number(p, &v);

  if (0 != rc)
    return rc;
  if (v > 9.0e15 || v < -9.0e15)
    return -EINVAL;
  *out = (int64_t) v; /* toward zero; then toward the past */
  if ((double) *out > v)
    (*out)--;
  return 0;
}

/* An array of topics into g. */
static int topic_list(struct parser *p, struct fill *f,
                      struct sh_topic_grant *g)
{
  unsigned cap = 0;
  int rc;

  if (!eat(p, '['))
    return -EINVAL;
  if (eat(p, ']'))
    return 0;
  do {
    char *t = f->c->buf + f->used;
    size_t n;

    ws(p);
    rc = string(p, t, &n);
    if (0 != rc)
      return rc;
    t[n] = '\0';
    if (strlen(t) != n || !sh_topic_ok(t, n))
      return -EINVAL;
    f->used += n + 1;
    if (0 == strcmp(t, "*")) {
      g->all = true;
      continue;
    }
    if (g->n == SH_CLAIMS_MAX_TOPICS)
      return -EINVAL;
    if (g->n == cap) {
      char **more;

      cap = 0 == cap ? 8 : cap * 2;
      more = realloc(g->topics, cap * sizeof(*more));
      if (NULL == more)
        return -ENOMEM;
      g->topics = more;
    }
    g->topics[g->n++] = t;
  } while (eat(p, ','));
  return eat(p, ']') ? 0 : -EINVAL;
}

/* The "ssehub" object. */
static int grants(struct parser *p, struct fill *f)
{
  bool seen_sub = false, seen_pub = false;
  int rc;

  if (!eat(p, '{'))
    return -EINVAL;
  if (eat(p, '}'))
    return 0;
  do {
    size_t n;

    rc = string(p, f->key, &n);
    if (0 != rc || !eat(p, ':'))
      return -EINVAL;
    if (key_is(f->key, n, "subscribe") || key_is(f->key, n, "publish")) {
      bool sub = 's' == f->key[0], *seen = sub ? &seen_sub : &seen_pub;

      if (*seen)
        return -EINVAL;
      *seen = true;
      rc = topic_list(p, f, sub ? &f->c->subscribe : &f->c->publish);
    } else {
      rc = skip_value(p);
    }
    if (0 != rc)
      return rc;
  } while (eat(p, ','));
  return eat(p, '}') ? 0 : -EINVAL;
}

static int payload(struct parser *p, struct fill *f)
{
  bool seen_grants = false;
  int rc;

  if (!eat(p, '{'))
    return -EINVAL;
  p->depth = 1;
  if (!eat(p, '}')) {
    do {
      size_t n;

      rc = string(p, f->key, &n);
      if (0 != rc || !eat(p, ':'))
        return -EINVAL;
      if (key_is(f->key, n, "exp") || key_is(f->key, n, "nbf")) {
        bool exp = 'e' == f->key[0];
        bool *has = exp ? &f->c->has_exp : &f->c->has_nbf;

        if (*has)
          return -EINVAL;
        *has = true;
        rc = date(p, exp ? &f->c->exp : &f->c->nbf);
      } else if (key_is(f->key, n, "ssehub")) {
        if (seen_grants)
          return -EINVAL;
        seen_grants = true;
        rc = grants(p, f);
      } else {
        rc = skip_value(p);
      }
      if (0 != rc)
        return rc;
    } while (eat(p, ','));
    if (!eat(p, '}'))
      return -EINVAL;
  }
  ws(p);
  return p->i == p->len ? 0 : -EINVAL;
}

int sh_claims_parse(const char *json, size_t len, struct sh_claims *c)
{
  struct parser p = { .s = json, .len = len, .i = 0, .depth = 0 };
  struct fill f = { .c = c, .key = NULL, .used = 0 };
  int rc = -ENOMEM;

  memset(c, 0, sizeof(*c));
  /* Decoded strings are never longer than their JSON form, so the whole
   * input's length bounds both the topics together and any one key. */
  c->buf = malloc(len + 1);
  f.key = malloc(len + 1);
  if (NULL != c->buf && NULL != f.key)
    rc = payload(&p, &f);
  free(f.key);
  if (0 != rc)
    sh_claims_free(c);
  return rc;
}

void sh_claims_free(struct sh_claims *c)
{
  free(c->subscribe.topics);
  free(c->publish.topics);
  free(c->buf);
  memset(c, 0, sizeof(*c));
}

enum sh_claims_time sh_claims_check_time(const struct sh_claims *c, int64_t now,
                                         unsigned leeway_s)
{
  /* exp and nbf are within +-9e15 (date()): adding the leeway to them
   * cannot overflow, whatever now is. */
  if (c->has_exp && now > c->exp + (int64_t) leeway_s)
    return SH_CLAIMS_EXPIRED;
  if (c->has_nbf && now < c->nbf - (int64_t) leeway_s)
    return SH_CLAIMS_NOT_YET;
  return SH_CLAIMS_VALID;
}

bool sh_claims_allows(const struct sh_topic_grant *g, const char *topic)
{
  unsigned i;

  if (g->all)
    return true;
  if (0 == strcmp(topic, "*"))
    return false;
  for (i = 0; i < g->n; i++)
    if (0 == strcmp(g->topics[i], topic))
      return true;
  return false;
}

int sh_claims_header_alg(const char *json, size_t len, char *alg, size_t cap)
{
  struct parser p = { .s = json, .len = len, .i = 0, .depth = 1 };
  char *key = malloc(len + 1);
  bool seen = false;
  int rc = -EINVAL;

  if (NULL == key)
    return -ENOMEM;
  if (!eat(&p, '{') || eat(&p, '}'))
    goto out;
  do {
    size_t n;

    if (0 != string(&p, key, &n) || !eat(&p, ':'))
      goto out;
    if (key_is(key, n, "alg")) {
      if (seen)
        goto out;
      seen = true;
      ws(&p);
      if (0 != string(&p, key, &n) || n >= cap || NULL != memchr(key, 0, n))
        goto out;
      memcpy(alg, key, n);
      alg[n] = '\0';
    } else if (key_is(key, n, "crit")) {
      /* Extensions that must be understood (RFC 7515 section 4.1.11):
       * ssehub understands none. */
      goto out;
    } else if (0 != skip_value(&p)) {
      goto out;
    }
  } while (eat(&p, ','));
  if (!eat(&p, '}'))
    goto out;
  ws(&p);
  if (p.i == p.len && seen)
    rc = 0;
out:
  free(key);
  return rc;
}

static int b64val(char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if ('-' == c)
    return 62;
  if ('_' == c)
    return 63;
  return -1;
}

long sh_base64url_decode(const char *in, size_t len, unsigned char *out)
{
  unsigned long acc = 0;
  unsigned bits = 0;
  size_t i, o = 0;

  if (1 == len % 4)
    return -EINVAL;
  for (i = 0; i < len; i++) {
    int v = b64val(in[i]);

    if (v < 0)
      return -EINVAL;
    acc = (acc << 6) | (unsigned long) v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char) (acc >> bits);
      acc &= (1UL << bits) - 1;
    }
  }
  /* The unused low bits of the last character must be zero (RFC 4648
   * section 3.5), so that one token has one spelling. */
  if (0 != acc)
    return -EINVAL;
  return (long) o;
}
