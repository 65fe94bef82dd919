/* redis_url.c - parse --redis URL (see redis_url.h). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "redis_url.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -EINVAL;
}

/* A copy of s[0..len) with %XX decoded; *bad on a malformed escape or an
 * encoded NUL. NULL with *bad false means out of memory. */
static char *decode(const char *s, size_t len, bool *bad)
{
  char *out = malloc(len + 1), *o = out;
  size_t i;

  *bad = false;
  if (NULL == out)
    return NULL;
  for (i = 0; i < len; i++) {
    int hi, lo;

    if ('%' != s[i]) {
      *o++ = s[i];
      continue;
    }
    hi = i + 2 < len ? sh_form_hexval(s[i + 1]) : -1;
    lo = i + 2 < len ? sh_form_hexval(s[i + 2]) : -1;
    if (hi < 0 || lo < 0 || (0 == hi && 0 == lo)) {
      *bad = true;
      free(out);
      return NULL;
    }
    *o++ = (char) (hi << 4 | lo);
    i += 2;
  }
  *o = '\0';
  return out;
}

static bool all_digits(const char *s, size_t len)
{
  size_t i;

  for (i = 0; i < len; i++)
    if (s[i] < '0' || s[i] > '9')
      return false;
  return len > 0;
}

static int parse_unix(const char *path, struct sh_redis_addr *a, char *err,
                      size_t errlen)
{
  if ('/' != path[0])
    return fail(err, errlen,
                "--redis unix:// needs an absolute socket path "
                "(unix:///run/redis/redis.sock)");
  if (strlen(path) > 107)
    return fail(err, errlen,
                "--redis: the socket path is longer than a "
                "Unix socket allows (107 bytes)");
  a->path = strdup(path);
  return NULL == a->path ? -ENOMEM : 0;
}

/* "[user:password@]host[:port][/db]" */
static int parse_tcp(const char *s, struct sh_redis_addr *a, char *err,
                     size_t errlen)
{
  const char *at = strrchr(s, '@'), *host = s, *end, *colon, *slash;
  bool bad = false;

  if (NULL != at) {
    const char *sep = memchr(s, ':', (size_t) (at - s));
    size_t ulen = NULL != sep ? (size_t) (sep - s) : (size_t) (at - s);

    if (ulen > 0) {
      a->user = decode(s, ulen, &bad);
      if (NULL == a->user)
        goto bad_or_nomem;
    }
    if (NULL != sep) {
      a->password = decode(sep + 1, (size_t) (at - sep - 1), &bad);
      if (NULL == a->password)
        goto bad_or_nomem;
    }
    host = at + 1;
  }
  slash = strchr(host, '/');
  end = NULL != slash ? slash : host + strlen(host);
  if ('[' == host[0]) {
    const char *rb = memchr(host, ']', (size_t) (end - host));

    if (NULL == rb)
      return fail(err, errlen, "--redis: unclosed [ in the host");
    a->host = strndup(host + 1, (size_t) (rb - host - 1));
    colon = rb + 1 < end && ':' == rb[1] ? rb + 1 : NULL;
    if (rb + 1 < end && NULL == colon)
      return fail(err, errlen, "--redis: junk after ] in the host");
  } else {
    colon = memchr(host, ':', (size_t) (end - host));
    a->host = strndup(host, (size_t) ((NULL != colon ? colon : end) - host));
  }
  if (NULL == a->host)
    return -ENOMEM;
  if ('\0' == a->host[0])
    return fail(err, errlen, "--redis: no host (redis://host:port/db)");
  a->port = 6379;
  if (NULL != colon) {
    size_t n = (size_t) (end - colon - 1);

    if (!all_digits(colon + 1, n) || n > 5
        || (a->port = (unsigned) strtoul(colon + 1, NULL, 10)) < 1
        || a->port > 65535)
      return fail(err, errlen, "--redis: the port must be 1-65535");
  }
  if (NULL != slash && '\0' != slash[1]) {
    size_t n = strlen(slash + 1);

    if (!all_digits(slash + 1, n) || n > 5)
      return fail(err, errlen,
                  "--redis: the database after / must be a "
                  "number (redis://host:port/0)");
    a->db = (unsigned) strtoul(slash + 1, NULL, 10);
  }
  return 0;

bad_or_nomem:
  if (bad)
    return fail(err, errlen,
                "--redis: a bad %%-escape in the user or "
                "password");
  return -ENOMEM;
}

int sh_redis_url_parse(const char *url, struct sh_redis_addr *a, char *err,
                       size_t errlen)
{
  const char *p;
  int rc;

  memset(a, 0, sizeof(*a));
  for (p = url; '\0' != *p; p++)
    if ((unsigned char) *p <= 0x20 || 0x7f == (unsigned char) *p)
      return fail(err, errlen,
                  "--redis: the URL has a space or a control "
                  "character");
  if (0 == strncmp(url, "redis://", 8))
    rc = parse_tcp(url + 8, a, err, errlen);
  else if (0 == strncmp(url, "unix://", 7))
    rc = parse_unix(url + 7, a, err, errlen);
  else
    rc = fail(err, errlen,
              "--redis: expected redis://[user:password@]"
              "host:port/db or unix:///path/to/socket");
  if (0 != rc)
    sh_redis_addr_free(a);
  return rc;
}

void sh_redis_addr_free(struct sh_redis_addr *a)
{
  if (NULL != a->password) {
    volatile char *p = a->password;

    while ('\0' != *p)
      *p++ = '\0';
  }
  free(a->host);
  free(a->path);
  free(a->user);
  free(a->password);
  memset(a, 0, sizeof(*a));
}

void sh_redis_addr_name(const struct sh_redis_addr *a, char *buf, size_t cap)
{
  if (NULL != a->path)
    snprintf(buf, cap, "%s", a->path);
  else if (NULL != strchr(a->host, ':'))
    snprintf(buf, cap, "[%s]:%u", a->host, a->port);
  else
    snprintf(buf, cap, "%s:%u", a->host, a->port);
}
