/* addr.c - client addresses and forwarding headers (see addr.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "addr.h"

static const uint8_t v4_mapped[12] = {
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

bool sh_ipkey_is_v4(const struct sh_ipkey *k)
{
  return 0 == memcmp(k->b, v4_mapped, sizeof(v4_mapped));
}

bool sh_addr_parse(const char *s, size_t len, struct sh_ipkey *k)
{
  char buf[SH_ADDR_STRLEN];

  if (0 == len || len >= sizeof(buf) || NULL != memchr(s, '\0', len))
    return false;
  memcpy(buf, s, len);
  buf[len] = '\0';
  memset(k, 0, sizeof(*k));
  if (NULL != memchr(buf, ':', len))
    return 1 == inet_pton(AF_INET6, buf, k->b);
  k->b[10] = k->b[11] = 0xff;
  return 1 == inet_pton(AF_INET, buf, k->b + 12);
}

const char *sh_ipkey_format(const struct sh_ipkey *k, char buf[SH_ADDR_STRLEN])
{
  const char *r = sh_ipkey_is_v4(k)
                      ? inet_ntop(AF_INET, k->b + 12, buf, SH_ADDR_STRLEN)
                      : inet_ntop(AF_INET6, k->b, buf, SH_ADDR_STRLEN);

  if (NULL == r)
    strcpy(buf, "-");
  return buf;
}

int sh_cidr_parse(const char *s, struct sh_cidr *c)
{
  const char *slash, *a = s, *end;
  unsigned bits = 0, max, i;
  size_t alen;

  if (NULL == s)
    return -EINVAL;
  slash = strchr(s, '/');
  end = NULL != slash ? slash : s + strlen(s);
  alen = (size_t) (end - s);
  if (alen >= 2 && '[' == a[0] && ']' == a[alen - 1]) {
    a++;
    alen -= 2;
    if (NULL == memchr(a, ':', alen))
      return -EINVAL; /* brackets are for IPv6 */
  }
  memset(c, 0, sizeof(*c));
  if (!sh_addr_parse(a, alen, &c->net))
    return -EINVAL;
  /* A literal IPv4-mapped IPv6 network is an IPv4 one, as written. */
  max = sh_ipkey_is_v4(&c->net) && NULL == memchr(a, ':', alen) ? 32 : 128;
  if (NULL == slash) {
    bits = max;
  } else {
    const char *p = slash + 1;

    if ('\0' == *p || strlen(p) > 3)
      return -EINVAL;
    for (; '\0' != *p; p++) {
      if (*p < '0' || *p > '9')
        return -EINVAL;
      bits = bits * 10 + (unsigned) (*p - '0');
    }
    if (bits > max || (slash[1] == '0' && slash[2] != '\0'))
      return -EINVAL; /* out of range, or a leading zero */
  }
  c->bits = 32 == max ? 96 + bits : bits;
  /* Host bits set: "10.0.0.1/8" is more likely a typo than 10.0.0.0/8. */
  for (i = c->bits; i < 128; i++)
    if (c->net.b[i / 8] & (0x80u >> (i % 8)))
      return -EINVAL;
  return 0;
}

static bool in_net(const struct sh_cidr *c, const struct sh_ipkey *k)
{
  unsigned whole = c->bits / 8, rest = c->bits % 8;

  if (0 != memcmp(c->net.b, k->b, whole))
    return false;
  if (0 == rest)
    return true;
  return 0 == ((c->net.b[whole] ^ k->b[whole]) & (0xffu << (8 - rest)));
}

bool sh_cidr_match(const struct sh_cidr *set, size_t n,
                   const struct sh_ipkey *k)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (in_net(&set[i], k))
      return true;
  return false;
}

/* --- Forwarding headers --- */

/* A hop: the text naming one address (not yet parsed). */
struct hop {
  const char *s;
  size_t len; /* 0: the element named no address (Forwarded without for=) */
};

/* The right-most SH_FWD_MAX_HOPS hops of a chain, and how many it had. */
struct chain {
  struct hop hop[SH_FWD_MAX_HOPS];
  unsigned total;
};

static void push(struct chain *ch, const char *s, size_t len)
{
  ch->hop[ch->total % SH_FWD_MAX_HOPS] = (struct hop){ s, len };
  ch->total++;
}

static bool ows(char c)
{
  return ' ' == c || '\t' == c;
}

/* RFC 9110 tchar. */
static bool tchar(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9') || NULL != strchr("!#$%&'*+-.^_`|~", c);
}

static bool digit(char c)
{
  return c >= '0' && c <= '9';
}

/* A port after an address: 1-5 digits, or an obfuscated "_name"
 * (RFC 7239 6.3: ALPHA / DIGIT / "." / "_" / "-"). */
static bool port_ok(const char *s, size_t len)
{
  size_t i;
  unsigned v;

  if (0 == len)
    return false;
  if ('_' == s[0]) {
    for (i = 1; i < len; i++)
      if (!(tchar(s[i]) && NULL == strchr("!#$%&'*+^`|~", s[i])))
        return false;
    return len > 1;
  }
  if (len > 5)
    return false;
  for (i = 0, v = 0; i < len; i++) {
    if (!digit(s[i]))
      return false;
    v = v * 10 + (unsigned) (s[i] - '0');
  }
  return v <= 65535;
}

/* A node: "a.b.c.d", "a.b.c.d:port", "[v6]", "[v6]:port", or a bare
 * IPv6 literal. Anything else (unknown, _obfuscated) is not an address. */
static bool node_addr(const char *s, size_t len, struct sh_ipkey *k)
{
  const char *colon;

  if (0 == len)
    return false; /* an element without for= */
  if ('[' == s[0]) {
    const char *close = memchr(s, ']', len);
    size_t rest;

    if (NULL == close)
      return false;
    rest = len - (size_t) (close + 1 - s);
    if (rest > 0 && (':' != close[1] || !port_ok(close + 2, rest - 1)))
      return false;
    return NULL != memchr(s + 1, ':', (size_t) (close - s - 1))
           && sh_addr_parse(s + 1, (size_t) (close - s - 1), k);
  }
  colon = memchr(s, ':', len);
  if (NULL != colon
      && NULL == memchr(colon + 1, ':', len - (size_t) (colon + 1 - s))
      && NULL != memchr(s, '.', (size_t) (colon - s))) {
    /* One colon after a dotted address: IPv4 with a port. */
    if (!port_ok(colon + 1, len - (size_t) (colon + 1 - s)))
      return false;
    return sh_addr_parse(s, (size_t) (colon - s), k);
  }
  return sh_addr_parse(s, len, k);
}

/* X-Forwarded-For: addresses separated by commas; empty elements are
 * skipped (RFC 9110 5.6.1). Never fails: a hop is checked when used. */
static void parse_xff(const char *s, size_t len, struct chain *ch)
{
  size_t i = 0;

  while (i < len) {
    size_t start, end;

    while (i < len && (ows(s[i]) || ',' == s[i]))
      i++;
    if (i >= len)
      break;
    start = i;
    while (i < len && ',' != s[i])
      i++;
    end = i;
    while (end > start && ows(s[end - 1]))
      end--;
    /* Not empty: start is not OWS or a comma. */
    push(ch, s + start, end - start);
  }
}

/* Forwarded (RFC 7239 4): elements separated by commas, each pairs
 * "token=value" separated by semicolons, value a token or a quoted
 * string. Each element is one hop, its for= value (0 length without
 * one). False when the field does not follow the grammar, a parameter
 * repeats for= in one element, or a for= value holds an escape. */
static bool parse_forwarded(const char *s, size_t len, struct chain *ch)
{
  size_t i = 0;

  for (;;) {
    const char *fv = NULL;
    size_t fl = 0;
    bool seen = false, any = false;

    while (i < len && (ows(s[i]) || ',' == s[i]))
      i++; /* empty elements */
    if (i >= len)
      return true;
    for (;;) {
      size_t ns = i, vs, vl;
      bool is_for;

      while (i < len && ows(s[i]))
        i++;
      ns = i;
      while (i < len && tchar(s[i]))
        i++;
      if (i == ns || i >= len || '=' != s[i])
        return false;
      is_for = 3 == i - ns && 0 == strncasecmp(s + ns, "for", 3);
      i++;
      if (i < len && '"' == s[i]) {
        bool esc = false;

        vs = ++i;
        while (i < len && '"' != s[i]) {
          if ('\\' == s[i]) {
            esc = true;
            i++;
          } else if ((unsigned char) s[i] < 0x20 && '\t' != s[i]) {
            return false;
          }
          i++;
        }
        if (i >= len)
          return false; /* unterminated */
        vl = i - vs;
        i++;
        if (is_for && esc)
          return false;
      } else {
        vs = i;
        while (i < len && tchar(s[i]))
          i++;
        vl = i - vs;
        if (0 == vl)
          return false;
      }
      if (is_for) {
        if (seen)
          return false;
        seen = true;
        fv = s + vs;
        fl = vl;
      }
      any = true;
      while (i < len && ows(s[i]))
        i++;
      if (i < len && ';' == s[i]) {
        i++;
        continue;
      }
      if (i >= len || ',' == s[i])
        break;
      return false;
    }
    if (any)
      push(ch, fv, fl);
  }
}

enum sh_addr_source sh_addr_resolve(const struct sh_cidr *trusted,
                                    size_t ntrusted,
                                    const struct sh_ipkey *peer,
                                    const struct sh_fwd_headers *h,
                                    struct sh_ipkey *client)
{
  struct chain ch;
  unsigned i, n, kept;
  struct sh_ipkey k;

  *client = *peer;
  if (NULL == h || 0 == ntrusted || (0 == h->nxff && 0 == h->nfwd)
      || !sh_cidr_match(trusted, ntrusted, peer))
    return SH_ADDR_PEER;
  if (h->overflow)
    return SH_ADDR_INVALID;
  ch.total = 0;
  if (h->nxff > 0) {
    for (i = 0; i < h->nxff && i < SH_FWD_MAX_FIELDS; i++)
      parse_xff(h->xff[i], h->xff_len[i], &ch);
  } else {
    for (i = 0; i < h->nfwd && i < SH_FWD_MAX_FIELDS; i++)
      if (!parse_forwarded(h->fwd[i], h->fwd_len[i], &ch))
        return SH_ADDR_INVALID;
  }
  if (0 == ch.total)
    return SH_ADDR_PEER; /* an empty header: no hop at all */
  kept = ch.total < SH_FWD_MAX_HOPS ? ch.total : SH_FWD_MAX_HOPS;
  for (n = 0; n < kept; n++) {
    const struct hop *hp = &ch.hop[(ch.total - 1 - n) % SH_FWD_MAX_HOPS];

    if (!node_addr(hp->s, hp->len, &k))
      return SH_ADDR_INVALID;
    if (!sh_cidr_match(trusted, ntrusted, &k)) {
      *client = k;
      return SH_ADDR_FORWARDED;
    }
  }
  /* Every hop kept is trusted: too long to follow, or the left-most. */
  if (ch.total > SH_FWD_MAX_HOPS)
    return SH_ADDR_INVALID;
  *client = k;
  return SH_ADDR_FORWARDED;
}
