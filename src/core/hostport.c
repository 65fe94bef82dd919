/* hostport.c - "ADDR:PORT" parsing (see hostport.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "hostport.h"

static int parse_port(const char *s, uint16_t *port)
{
  char *end;
  unsigned long v;

  if (s[0] < '0' || s[0] > '9')
    return -EINVAL;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (0 != errno || '\0' != *end || 0 == v || v > 65535)
    return -EINVAL;
  *port = (uint16_t) v;
  return 0;
}

int sh_hostport_parse(const char *s, char host[SH_HOST_MAX], uint16_t *port)
{
  unsigned char addr[sizeof(struct in6_addr)];
  const char *colon;
  size_t len;
  int family = AF_INET;

  if (NULL == s)
    return -EINVAL;
  if ('[' == s[0]) {
    const char *close = strchr(s, ']');

    if (NULL == close || ':' != close[1])
      return -EINVAL;
    s++;
    len = (size_t) (close - s);
    colon = close + 1;
    family = AF_INET6;
  } else {
    colon = strrchr(s, ':');
    if (NULL == colon)
      return -EINVAL;
    len = (size_t) (colon - s);
  }
  if (0 == len || len >= SH_HOST_MAX)
    return -EINVAL;
  memcpy(host, s, len);
  host[len] = '\0';
  if (1 != inet_pton(family, host, addr))
    return -EINVAL;
  return parse_port(colon + 1, port);
}

int sh_bind_parse(const char *s, char host[SH_HOST_MAX], uint16_t *port)
{
  unsigned char addr[sizeof(struct in6_addr)];
  const char *colon, *end;
  size_t len;

  *port = 0;
  if (NULL == s || '\0' == s[0])
    return -EINVAL;
  if ('[' == s[0]) {
    end = strchr(s, ']');
    if (NULL == end || ('\0' != end[1] && ':' != end[1]))
      return -EINVAL;
    len = (size_t) (end - s - 1);
    if (0 == len || len >= SH_HOST_MAX)
      return -EINVAL;
    memcpy(host, s + 1, len);
    host[len] = '\0';
    if (1 != inet_pton(AF_INET6, host, addr))
      return -EINVAL;
    return ':' == end[1] ? parse_port(end + 2, port) : 0;
  }
  colon = strchr(s, ':');
  if (NULL != colon && NULL == strchr(colon + 1, ':')) {
    /* One colon: a host and a port. */
    len = (size_t) (colon - s);
    if (0 == len || len >= SH_HOST_MAX || 0 != parse_port(colon + 1, port))
      return -EINVAL;
    memcpy(host, s, len);
    host[len] = '\0';
    return 0;
  }
  len = strlen(s);
  if (len >= SH_HOST_MAX)
    return -EINVAL;
  memcpy(host, s, len + 1);
  /* Two colons or more: only an IPv6 literal has them. */
  if (NULL != colon && 1 != inet_pton(AF_INET6, host, addr))
    return -EINVAL;
  return 0;
}
