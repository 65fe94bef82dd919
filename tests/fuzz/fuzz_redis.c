/* fuzz_redis.c - libFuzzer harness for what the Redis engine reads from
 * outside: the --redis URL (sh_redis_url_parse(), src/cluster/redis_url.h)
 * and ids that look like stream ids (sh_streamid_parse(),
 * src/core/streamid.h), which come from Last-Event-ID headers and from
 * whatever else writes to the shared stream.
 *
 * The input, cut at MAX_INPUT bytes and at its first NUL, is used as both.
 * Checked:
 *   - a URL is either accepted, with a TCP host and a port in 1-65535 or
 *     an absolute socket path (exactly one of them), or refused with
 *     -EINVAL, a one-line reason and nothing left allocated; the name for
 *     log lines never holds the userinfo (with the password);
 *   - a stream id that parses formats back to the same seq, and its text
 *     is "<ms>-<n>" of decimal digits; seqs order as the ids do.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_url.h"
#include "streamid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "fuzz_redis: check failed at line %d: %s\n", __LINE__, \
              #cond);                                                        \
      abort();                                                               \
    }                                                                        \
  } while (0)

#define MAX_INPUT 512

static void check_url(const char *s)
{
  struct sh_redis_addr a;
  char err[160] = "", name[600];
  int rc = sh_redis_url_parse(s, &a, err, sizeof(err));

  if (0 != rc) {
    CHECK(-EINVAL == rc);
    CHECK('\0' != err[0] && NULL == strchr(err, '\n'));
    CHECK(NULL == a.host && NULL == a.path && NULL == a.user
          && NULL == a.password);
    return;
  }
  CHECK((NULL == a.host) != (NULL == a.path));
  if (NULL != a.host)
    CHECK('\0' != a.host[0] && a.port >= 1 && a.port <= 65535);
  else
    CHECK('/' == a.path[0]);
  /* The name for log lines is host:port or the path: never the
   * userinfo, which holds the password. */
  sh_redis_addr_name(&a, name, sizeof(name));
  if (NULL != a.host)
    CHECK(NULL == strchr(name, '@'));
  sh_redis_addr_free(&a);
}

static void check_id(const char *s)
{
  char back[SH_STREAMID_MAX];
  uint64_t seq, again, ms, n;

  if (!sh_streamid_parse(s, &seq))
    return;
  CHECK(sh_id_split(s, &ms, &n));
  CHECK(sh_streamid_format(seq, back, sizeof(back)) < (int) sizeof(back));
  CHECK(sh_streamid_parse(back, &again) && again == seq);
  CHECK(sh_streamid_ms(seq) == ms);
  /* The next id in the same millisecond, if it packs, sorts after. */
  snprintf(back, sizeof(back), "%llu-%llu", (unsigned long long) ms,
           (unsigned long long) n + 1);
  if (sh_streamid_parse(back, &again))
    CHECK(again > seq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char s[MAX_INPUT + 1];

  if (size > MAX_INPUT)
    size = MAX_INPUT;
  memcpy(s, data, size);
  s[size] = '\0';
  check_url(s);
  check_id(s);
  return 0;
}
