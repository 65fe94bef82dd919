/* cli.c - the ssehub program's command line (see cli.h). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_table.h"
#include "hostport.h"
#include "logsink.h"
#include "redis_url.h"

#define KIB UINT64_C(1024)
#define MIB (UINT64_C(1024) * 1024)
#define MAX_SECONDS 86400u
#define DAY_MS (MAX_SECONDS * UINT64_C(1000))

/* Where an entry's value goes: member m of struct sh_config, which must
 * have the C type the store tag stands for, or the build fails (a negative
 * array size). The member is named, never evaluated. */
/* clang-format off */
#define MEMBER(m) (((struct sh_config *) 0)->m)
#define TYPE_IS(m, type)                                                   \
  (0 * sizeof(char[__builtin_types_compatible_p(__typeof__(MEMBER(m)), type) \
                   ? 1 : -1]))
#define AT(m, tag, type)                                                   \
  .store = tag, .off = offsetof(struct sh_config, m) + TYPE_IS(m, type)
#define AT_U16(m) AT(m, SH_STORE_U16, uint16_t)
#define AT_UNSIGNED(m) AT(m, SH_STORE_UNSIGNED, unsigned)
#define AT_SIZE(m) AT(m, SH_STORE_SIZE, size_t)
#define AT_INT(m) AT(m, SH_STORE_INT, int)
#define AT_LOG_LEVEL(m) AT(m, SH_STORE_LOG_LEVEL, enum ssehub_log_level)
#define AT_STDIN_MODE(m) AT(m, SH_STORE_STDIN_MODE, enum sh_stdin_mode)
#define AT_STRING(m) AT(m, SH_STORE_STRING, const char *)
/* A repeatable string: array m holds the values, unsigned n counts them;
 * the array's length is the most a user may give. */
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define AT_STRINGS(m, n)                                                   \
  AT(m, SH_STORE_STRINGS, const char *[NELEM(MEMBER(m))]),                 \
  .count_off = offsetof(struct sh_config, n) + TYPE_IS(n, unsigned),       \
  .max = NELEM(MEMBER(m))

static const struct sh_opt_choice stdin_modes[] = {
  { "lines", SH_STDIN_LINES },    /* the first is what --stdin alone means */
  { "blocks", SH_STDIN_BLOCKS },
  { NULL, 0 }
};

static const struct sh_opt_choice when_full_modes[] = {
  { "retry", SSEHUB_WHEN_FULL_RETRY }, /* --when-full alone */
  { "429", SSEHUB_WHEN_FULL_429 },
  { NULL, 0 }
};

static const struct sh_opt_choice log_formats[] = {
  { "text", SH_LOG_TEXT },
  { "json", SH_LOG_JSON },
  { NULL, 0 }
};
/* clang-format on */

/* Every flag, in --help order.
 *
 * To add a flag: give it a member in struct ssehub_options (ssehub.h, its
 * default in ssehub_options_default()) or in struct sh_config (cli.h),
 * then one entry here:
 *   .name     the long flag without "--", also its config-file key;
 *   .letter   its short flag, if it has one;
 *   .kind     what the value is (cli_table.h); .arg names it in --help;
 *   AT_<type>(member)  where the value goes; the build fails when the
 *             member is not of that type;
 *   .min, .max  the range (seconds in ms; .zero_ok when 0 = off is
 *             allowed below .min), or .nonempty, .reject and .expect for
 *             text;
 *   .help     wrapped by hand like its neighbours, "{default}" where the
 *             default value goes and "{env}" for .env's variable.
 * getopt_long(), --help, the check and its error message follow from it;
 * tests/check_cli.c checks that the entry reached --help and getopt and
 * that its lines fit. A check between flags goes in finish(). */
/* clang-format off */
const struct sh_opt sh_cli_opts[] = {
  { .name = "port", .letter = 'p', .kind = SH_OPT_UINT, .arg = "N",
    AT_U16(hub.port), .min = 0, .max = 65535,
    .help = "TCP port (default {default}; 0 picks a free one)" },
  { .name = "bind", .letter = 'b', .kind = SH_OPT_STRING, .arg = "ADDR",
    AT_STRING(hub.bind_address), .nonempty = true, .expect = "an address",
    .help = "address to listen on: 127.0.0.1, ::1,\n"
            "[::1]:8888 (default: all, IPv6 and IPv4)" },
  { .name = "threads", .kind = SH_OPT_UINT, .arg = "N",
    AT_UNSIGNED(hub.threads), .min = 1, .max = 1024,
    .help = "HTTP worker threads, and threads sharing\n"
            "each fan-out (default: one per core this\n"
            "process may run on)" },
  { .name = "max-clients", .kind = SH_OPT_UINT, .arg = "N",
    AT_UNSIGNED(hub.max_clients), .min = 1, .max = 10000000,
    .help = "streams admitted; more get 429\n"
            "(default: what the open-file limit allows)" },
  { .name = "client-buffer", .kind = SH_OPT_SIZE, .arg = "BYTES",
    AT_SIZE(hub.client_buffer), .min = KIB, .max = 1024 * MIB,
    .help = "unsent bytes queued per client before it is\n"
            "disconnected as too slow (default {default})" },
  { .name = "max-event-size", .kind = SH_OPT_SIZE, .arg = "BYTES",
    AT_SIZE(hub.max_event_size), .min = 1, .max = 64 * MIB,
    .help = "largest event data; larger is 413 (default {default})" },
  { .name = "publish-queue", .kind = SH_OPT_UINT, .arg = "N",
    AT_UNSIGNED(hub.publish_queue), .min = 1, .max = 1000000,
    .help = "events waiting for fan-out (default {default}); a\n"
            "shorter queue means lower delivery latency\n"
            "under a publish flood, a longer one absorbs\n"
            "bigger bursts without holding publishers" },
  { .name = "publish-wait", .kind = SH_OPT_SECONDS, .arg = "SECONDS",
    AT_UNSIGNED(hub.publish_wait_ms), .min = 0, .max = 60000,
    .help = "with the queue full, hold a publish this\n"
            "long for room before answering 503\n"
            "(default {default}; 0 = answer 503 at once)" },
  { .name = "heartbeat", .kind = SH_OPT_SECONDS, .arg = "SECONDS",
    AT_UNSIGNED(hub.heartbeat_ms), .zero_ok = true, .min = 100,
    .max = DAY_MS,
    .help = "comment sent when idle this long; 0 = off\n"
            "(default {default})" },
  { .name = "tick", .kind = SH_OPT_SECONDS, .arg = "SECONDS",
    AT_UNSIGNED(tick_ms), .min = 10, .max = DAY_MS,
    .help = "demo: publish \"It is <date> now!\" this often" },
  { .name = "connection-memory", .kind = SH_OPT_SIZE, .arg = "BYTES",
    AT_SIZE(hub.connection_memory), .min = 4 * KIB, .max = 16 * MIB,
    .help = "per-connection buffer; caps request\n"
            "headers at about half of it, cookies at a\n"
            "quarter (default {default}; idle streams give the\n"
            "unused part back)" },
  { .name = "timeout", .kind = SH_OPT_UINT, .arg = "SECONDS",
    AT_UNSIGNED(hub.connection_timeout_s), .min = 0, .max = MAX_SECONDS,
    .help = "close connections stalled this long (default\n"
            "{default}; idle streams never time out); 0 = never" },
  { .name = "header-timeout", .kind = SH_OPT_UINT, .arg = "SECONDS",
    AT_UNSIGNED(hub.header_timeout_s), .min = 0, .max = MAX_SECONDS,
    .help = "close a connection whose first request\n"
            "(headers, and a publish's body) is not complete\n"
            "this long after it connected (slow-loris;\n"
            "default {default}; 0 = never)" },
  { .name = "retry-after", .kind = SH_OPT_UINT, .arg = "SECONDS",
    AT_UNSIGNED(hub.retry_after_s), .min = 0, .max = MAX_SECONDS,
    .help = "Retry-After sent with 429 and 503 (default {default})" },
  { .name = "history", .kind = SH_OPT_UINT, .arg = "N",
    AT_SIZE(hub.history_size), .min = 0, .max = 1000000,
    .help = "events kept for Last-Event-ID resume\n"
            "(default {default}; 0 = none)" },
  { .name = "history-age", .kind = SH_OPT_SECONDS, .arg = "SECONDS",
    AT_UNSIGNED(hub.history_age_ms), .min = 1, .max = DAY_MS,
    .help = "also forget events older than this (default:\n"
            "no age limit)" },
  { .name = "retry", .kind = SH_OPT_UINT, .arg = "MS",
    AT_UNSIGNED(hub.retry_ms), .min = 0, .max = DAY_MS, .unit = "ms",
    .help = "reconnection delay sent to clients on connect\n"
            "(default {default}; 0 = none)" },
  { .name = "cors-origin", .kind = SH_OPT_LIST, .arg = "ORIGIN",
    AT_STRINGS(origins, hub.ncors_origins), .nonempty = true,
    .reject = "\r\n ,",
    .expect = "one origin such as https://example.com, or *",
    .help = "allow this origin cross-origin (repeatable),\n"
            "or * for any" },
  { .name = "no-demo-page", .kind = SH_OPT_SET, AT_INT(hub.demo_page),
    .set = 0, .help = "do not serve the demo page at /" },
  { .name = "stdin", .kind = SH_OPT_CHOICE, .arg = "blocks",
    AT_STDIN_MODE(stdin_mode), .choices = stdin_modes,
    .help = "publish each line of standard input as an\n"
            "event; =blocks reads event-stream style\n"
            "blocks (event:, id:, topic:, data: lines)" },
  { .name = "publish-token-file", .kind = SH_OPT_STRING, .arg = "FILE",
    AT_STRING(publish_token_file), .env = "SSEHUB_PUBLISH_TOKEN_FILE",
    .help = "POST /publish needs \"Authorization:\n"
            "Bearer <token in FILE>\" (also\n"
            "${env})" },
  { .name = "publish-open", .kind = SH_OPT_SET, AT_INT(hub.publish_open),
    .set = 1,
    .help = "without a token, let any address publish\n"
            "(default: loopback only)" },
  { .name = "subscribe-token-file", .kind = SH_OPT_STRING, .arg = "FILE",
    AT_STRING(subscribe_token_file), .env = "SSEHUB_SUBSCRIBE_TOKEN_FILE",
    .help = "/sse needs this token: bearer header,\n"
            "cookie ssehub_token or ?access_token= (also\n"
            "${env})" },
  { .name = "jwt-key-file", .kind = SH_OPT_STRING, .arg = "FILE",
    AT_STRING(jwt_key_file), .nonempty = true, .env = "SSEHUB_JWT_KEY_FILE",
    .expect = "a file name",
    .help = "accept signed tokens (JWT) naming the topics\n"
            "they may use; FILE: an HS256 secret, or an\n"
            "RSA or EC public key in PEM (also\n"
            "${env})" },
  { .name = "max-clients-per-ip", .kind = SH_OPT_UINT, .arg = "N",
    AT_UNSIGNED(hub.max_clients_per_ip), .min = 1, .max = 10000000,
    .help = "streams per client address; more get 429" },
  { .name = "publish-rate", .kind = SH_OPT_UINT, .arg = "N",
    AT_UNSIGNED(hub.publish_rate), .min = 1, .max = 10000000,
    .help = "publishes per second per address; more get 429" },
  { .name = "max-buffered", .kind = SH_OPT_SIZE, .arg = "BYTES",
    AT_SIZE(hub.max_buffered), .zero_ok = true, .min = 64 * KIB,
    .max = 1048576 * MIB,
    .help = "unsent bytes of all clients together; over it\n"
            "the furthest behind are cut (default {default};\n"
            "0 = no ceiling)" },
  { .name = "tls-cert", .kind = SH_OPT_STRING, .arg = "FILE",
    AT_STRING(tls_cert_file),
    .help = "serve HTTPS with this PEM certificate (chain)" },
  { .name = "tls-key", .kind = SH_OPT_STRING, .arg = "FILE",
    AT_STRING(tls_key_file), .help = "... and this PEM private key" },
  { .name = "redis", .kind = SH_OPT_STRING, .arg = "URL",
    AT_STRING(hub.redis_url), .nonempty = true,
    .expect = "a URL such as redis://127.0.0.1:6379/0",
    .help = "share one log with other nodes through\n"
            "Redis: redis://[user@]host:port/db or\n"
            "unix:///path (default: one process, in memory)" },
  { .name = "redis-password-file", .kind = SH_OPT_STRING, .arg = "FILE",
    AT_STRING(redis_password_file), .env = "SSEHUB_REDIS_PASSWORD_FILE",
    .help = "AUTH to Redis with the password in FILE\n"
            "(also ${env})" },
  { .name = "redis-stream", .kind = SH_OPT_STRING, .arg = "NAME",
    AT_STRING(hub.redis_stream), .nonempty = true, .reject = " \r\n",
    .expect = "a key name without spaces",
    .help = "the Redis stream's key, so that several\n"
            "hubs can share one Redis (default ssehub)" },
  { .name = "reuse-port", .kind = SH_OPT_SET, AT_INT(hub.reuse_port),
    .set = 1,
    .help = "let several processes listen on one port\n"
            "(a cluster on one machine, with --redis)" },
  { .name = "admin-bind", .kind = SH_OPT_STRING, .arg = "ADDR:PORT",
    AT_STRING(hub.admin_bind), .nonempty = true,
    .expect = "ADDR:PORT such as 127.0.0.1:9100 or [::1]:9100",
    .help = "serve /metrics, /stats, /healthz, /readyz\n"
            "on this second listener, open to all who\n"
            "reach it, and not on the main port" },
  { .name = "config", .kind = SH_OPT_STRING, .arg = "FILE",
    AT_STRING(config_file), .nonempty = true, .expect = "a file name",
    .help = "read settings from FILE: \"key = value\" lines\n"
            "named as these options; the command line\n"
            "overrides it; SIGHUP reads it again" },
  { .name = "quiet", .letter = 'q', .kind = SH_OPT_SET,
    AT_LOG_LEVEL(hub.log_level), .set = SSEHUB_LOG_ERROR,
    .help = "log errors only" },
  { .name = "verbose", .letter = 'v', .kind = SH_OPT_SET,
    AT_LOG_LEVEL(hub.log_level), .set = SSEHUB_LOG_DEBUG,
    .help = "log debug messages" },
  { .name = "log-format", .kind = SH_OPT_CHOICE, .arg = "FORMAT",
    AT_INT(log_format), .choices = log_formats,
    .help = "log lines as text (the default) or json:\n"
            "--log-format=json, one object per line" },
  { .name = "access-log", .kind = SH_OPT_STRING, .arg = "FILE",
    AT_STRING(access_log), .nonempty = true, .expect = "a file or -",
    .help = "append one line per request and per ended\n"
            "stream to FILE (- = standard error)" },
  { .name = "trusted-proxy", .kind = SH_OPT_LIST, .arg = "CIDR",
    AT_STRINGS(proxies, hub.ntrusted_proxies), .nonempty = true,
    .expect = "a network such as 10.0.0.0/8, ::1/128 or 127.0.0.1",
    .help = "a reverse proxy's network (repeatable): the\n"
            "client of its requests is the last untrusted\n"
            "address of X-Forwarded-For (or Forwarded)" },
  { .name = "ipv6-prefix", .kind = SH_OPT_UINT, .arg = "BITS",
    AT_UNSIGNED(hub.ipv6_prefix), .min = 1, .max = 128,
    .help = "per-IP limits and rates count an IPv6\n"
            "client by its /BITS network (default {default})" },
  { .name = "when-full", .kind = SH_OPT_CHOICE, .arg = "MODE",
    AT_INT(hub.when_full), .choices = when_full_modes,
    .help = "a stream refused for a limit (max-clients,\n"
            "per-IP, open files) gets retry (the default):\n"
            "200, a jittered retry: around --retry-after and\n"
            "an ssehub-overload event, which a browser's\n"
            "EventSource rides out; or 429 and Retry-After:\n"
            "--when-full=429" },
  { .name = "help", .letter = 'h', .kind = SH_OPT_ACTION,
    .set = SH_CLI_HELP, .help = "show this help and exit" },
  { .name = "version", .letter = 'V', .kind = SH_OPT_ACTION,
    .set = SH_CLI_VERSION, .help = "show the version and exit" }
};
/* clang-format on */
const size_t sh_cli_nopts = NELEM(sh_cli_opts);
_Static_assert(NELEM(sh_cli_opts) <= SH_CLI_MAX_OPTS,
               "struct sh_getopt needs room for every flag");

static enum sh_cli_result fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void sh_cli_vformat_error(char *err, size_t errlen, const char *fmt, va_list ap)
{
  char *p;

  vsnprintf(err, errlen, fmt, ap);
  for (p = err; '\0' != *p; p++)
    if ((unsigned char) *p < 0x20 || 0x7f == (unsigned char) *p)
      *p = '?';
}

static enum sh_cli_result fail(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  sh_cli_vformat_error(err, errlen, fmt, ap);
  va_end(ap);
  return SH_CLI_ERROR;
}

/* Unsigned decimal in [min, max]; no sign, no spaces, no trailing text. */
static bool parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
  uint64_t v = 0;

  if ('\0' == *s)
    return false;
  for (; '\0' != *s; s++) {
    if (*s < '0' || *s > '9')
      return false;
    if (v > (UINT64_MAX - 9) / 10)
      return false;
    v = v * 10 + (uint64_t) (*s - '0');
  }
  if (v < min || v > max)
    return false;
  *out = v;
  return true;
}

/* Size with an optional K/M suffix (powers of 1024). */
static bool parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
  char buf[32];
  size_t n = strlen(s);
  uint64_t mult = 1, v;

  if (0 == n || n >= sizeof(buf))
    return false;
  memcpy(buf, s, n + 1);
  if ('k' == buf[n - 1] || 'K' == buf[n - 1])
    mult = 1024;
  else if ('m' == buf[n - 1] || 'M' == buf[n - 1])
    mult = 1024 * 1024;
  if (mult > 1)
    buf[n - 1] = '\0';
  if (!parse_uint(buf, 0, UINT64_MAX / mult, &v))
    return false;
  v *= mult;
  if (v < min || v > max)
    return false;
  *out = v;
  return true;
}

/* Seconds as "D" or "D.DDD" (millisecond precision) into milliseconds. */
static bool parse_seconds(const char *s, uint64_t min_ms, uint64_t max_ms,
                          uint64_t *out_ms)
{
  const char *dot = strchr(s, '.');
  char whole[16];
  uint64_t secs, ms = 0;
  size_t wl = NULL != dot ? (size_t) (dot - s) : strlen(s);
  int digits = 0;

  if (0 == wl || wl >= sizeof(whole))
    return false;
  memcpy(whole, s, wl);
  whole[wl] = '\0';
  if (!parse_uint(whole, 0, MAX_SECONDS, &secs))
    return false;
  if (NULL != dot) {
    const char *p;

    if ('\0' == dot[1])
      return false;
    for (p = dot + 1; '\0' != *p; p++) {
      if (*p < '0' || *p > '9' || ++digits > 3)
        return false;
      ms = ms * 10 + (uint64_t) (*p - '0');
    }
    while (digits++ < 3)
      ms *= 10;
  }
  ms += secs * 1000;
  if (ms < min_ms || ms > max_ms)
    return false;
  *out_ms = ms;
  return true;
}

/* Does the flag take a value: no_argument, required_ or optional_? */
static int has_arg(const struct sh_opt *opt)
{
  switch (opt->kind) {
  case SH_OPT_SET:
  case SH_OPT_ACTION:
    return no_argument;
  case SH_OPT_CHOICE:
    return optional_argument;
  default:
    return required_argument;
  }
}

void sh_cli_getopt(struct sh_getopt *g)
{
  char *s = g->shortopts;
  size_t i;

  *s++ = ':'; /* a missing value comes back as ':', not '?' */
  for (i = 0; i < sh_cli_nopts; i++) {
    const struct sh_opt *opt = &sh_cli_opts[i];
    struct option *lo = &g->longopts[i];

    lo->name = opt->name;
    lo->has_arg = has_arg(opt);
    lo->flag = NULL;
    /* With its letter, "--quiet" and "-q" are one case for the loop. */
    lo->val = 0 != opt->letter ? opt->letter : SH_CLI_VAL0 + (int) i;
    if (0 != opt->letter) {
      *s++ = opt->letter;
      if (no_argument != lo->has_arg)
        *s++ = ':';
      if (optional_argument == lo->has_arg)
        *s++ = ':';
    }
  }
  memset(&g->longopts[i], 0, sizeof(g->longopts[i]));
  *s = '\0';
}

/* The entry getopt_long() returned c for, or NULL (an error code). */
static const struct sh_opt *by_val(int c)
{
  size_t i;

  if (c >= SH_CLI_VAL0)
    return (size_t) (c - SH_CLI_VAL0) < sh_cli_nopts
               ? &sh_cli_opts[c - SH_CLI_VAL0]
               : NULL;
  for (i = 0; i < sh_cli_nopts; i++)
    if (0 != sh_cli_opts[i].letter && c == sh_cli_opts[i].letter)
      return &sh_cli_opts[i];
  return NULL;
}

static const struct sh_opt *by_name(const char *name)
{
  size_t i;

  for (i = 0; i < sh_cli_nopts; i++)
    if (0 == strcmp(name, sh_cli_opts[i].name))
      return &sh_cli_opts[i];
  return NULL;
}

/* The member of cfg at offset off (of the type its entry's tag says). */
static void *member(struct sh_config *cfg, size_t off)
{
  return (char *) cfg + off;
}

/* The numeric member an entry writes, as an integer (for --help). */
static uint64_t load(struct sh_config *cfg, const struct sh_opt *opt)
{
  const void *p = member(cfg, opt->off);

  switch (opt->store) {
  case SH_STORE_U16:
    return *(const uint16_t *) p;
  case SH_STORE_UNSIGNED:
    return *(const unsigned *) p;
  case SH_STORE_SIZE:
    return *(const size_t *) p;
  default:
    return 0;
  }
}

static void store(struct sh_config *cfg, const struct sh_opt *opt, uint64_t v)
{
  void *p = member(cfg, opt->off);

  switch (opt->store) {
  case SH_STORE_U16:
    *(uint16_t *) p = (uint16_t) v;
    break;
  case SH_STORE_UNSIGNED:
    *(unsigned *) p = (unsigned) v;
    break;
  case SH_STORE_SIZE:
    *(size_t *) p = (size_t) v;
    break;
  case SH_STORE_INT:
    *(int *) p = (int) v;
    break;
  case SH_STORE_LOG_LEVEL:
    *(enum ssehub_log_level *) p = (enum ssehub_log_level) v;
    break;
  case SH_STORE_STDIN_MODE:
    *(enum sh_stdin_mode *) p = (enum sh_stdin_mode) v;
    break;
  default:
    break;
  }
}

/* A value as the user would write it: sizes in K or M when exact,
 * milliseconds as seconds with the decimals needed. */
static void fmt_value(const struct sh_opt *opt, uint64_t v, char *buf,
                      size_t len)
{
  if (SH_OPT_SIZE == opt->kind && 0 != v && 0 == v % MIB) {
    snprintf(buf, len, "%" PRIu64 "M", v / MIB);
  } else if (SH_OPT_SIZE == opt->kind && 0 != v && 0 == v % KIB) {
    snprintf(buf, len, "%" PRIu64 "K", v / KIB);
  } else if (SH_OPT_SECONDS == opt->kind && 0 != v % 1000) {
    size_t n;

    snprintf(buf, len, "%" PRIu64 ".%03u", v / 1000, (unsigned) (v % 1000));
    for (n = strlen(buf); '0' == buf[n - 1]; n--)
      buf[n - 1] = '\0';
  } else {
    snprintf(buf, len, "%" PRIu64, SH_OPT_SECONDS == opt->kind ? v / 1000 : v);
  }
}

/* "0 or 0.1-86400 seconds": what a numeric flag accepts, for its error. */
static void fmt_range(const struct sh_opt *opt, char *buf, size_t len)
{
  const char *unit = SH_OPT_SECONDS == opt->kind ? "seconds" : opt->unit;
  char lo[24], hi[24];

  fmt_value(opt, opt->min, lo, sizeof(lo));
  fmt_value(opt, opt->max, hi, sizeof(hi));
  snprintf(buf, len, "%s%s-%s%s%s", opt->zero_ok ? "0 or " : "", lo, hi,
           NULL != unit ? " " : "", NULL != unit ? unit : "");
}

/* "lines or blocks" */
static void fmt_choices(const struct sh_opt *opt, char *buf, size_t len)
{
  const struct sh_opt_choice *c;
  size_t n = 0;

  buf[0] = '\0';
  for (c = opt->choices; NULL != c->name && n < len; c++)
    n += (size_t) snprintf(buf + n, len - n, "%s%s",
                           c == opt->choices   ? ""
                           : NULL == c[1].name ? " or "
                                               : ", ",
                           c->name);
}

/* A number in opt's range: [min, max], or 0 as well with zero_ok. */
static bool parse_number(const struct sh_opt *opt, const char *s, uint64_t *out)
{
  uint64_t lo = opt->zero_ok ? 0 : opt->min;
  bool ok;

  if (SH_OPT_SIZE == opt->kind)
    ok = parse_size(s, lo, opt->max, out);
  else if (SH_OPT_SECONDS == opt->kind)
    ok = parse_seconds(s, lo, opt->max, out);
  else
    ok = parse_uint(s, lo, opt->max, out);
  return ok && (0 == *out || *out >= opt->min);
}

static bool string_ok(const struct sh_opt *opt, const char *s)
{
  return !(opt->nonempty && '\0' == s[0])
         && !(NULL != opt->reject && NULL != strpbrk(s, opt->reject));
}

static enum sh_cli_result apply(struct sh_config *cfg, const struct sh_opt *opt,
                                const char *value, char *err, size_t errlen)
{
  void *p = member(cfg, opt->off);
  char expect[128];
  uint64_t v;

  /* getopt_long() has made these hold already; a config file has not. */
  if (NULL == value && required_argument == has_arg(opt))
    return fail(err, errlen, "option '--%s' needs a value", opt->name);
  if (NULL != value && no_argument == has_arg(opt))
    return fail(err, errlen, "option '--%s' takes no value", opt->name);
  switch (opt->kind) {
  case SH_OPT_UINT:
  case SH_OPT_SIZE:
  case SH_OPT_SECONDS:
    if (!parse_number(opt, value, &v)) {
      fmt_range(opt, expect, sizeof(expect));
      return fail(err, errlen, "invalid --%s '%s' (expected %s)", opt->name,
                  value, expect);
    }
    store(cfg, opt, v);
    break;
  case SH_OPT_STRING:
  case SH_OPT_LIST:
    if (!string_ok(opt, value))
      return fail(err, errlen, "invalid --%s '%s' (expected %s)", opt->name,
                  value, opt->expect);
    if (SH_OPT_STRING == opt->kind) {
      *(const char **) p = value;
    } else {
      unsigned *n = member(cfg, opt->count_off);

      if (*n >= opt->max)
        return fail(err, errlen, "too many --%s (at most %" PRIu64 ")",
                    opt->name, opt->max);
      ((const char **) p)[(*n)++] = value;
    }
    break;
  case SH_OPT_CHOICE: {
    const struct sh_opt_choice *c = opt->choices;

    while (NULL != value && NULL != c->name && 0 != strcmp(value, c->name))
      c++;
    if (NULL == c->name) {
      fmt_choices(opt, expect, sizeof(expect));
      /* '=': an optional value can only be given as --flag=value. */
      return fail(err, errlen, "invalid --%s='%s' (expected %s)", opt->name,
                  value, expect);
    }
    store(cfg, opt, (uint64_t) c->value);
    break;
  }
  case SH_OPT_SET:
    store(cfg, opt, (uint64_t) opt->set);
    break;
  case SH_OPT_ACTION:
    return (enum sh_cli_result) opt->set;
  }
  return SH_CLI_RUN;
}

enum sh_cli_result sh_cli_apply(struct sh_config *cfg, const char *name,
                                const char *value, char *err, size_t errlen)
{
  const struct sh_opt *opt = by_name(name);

  if (NULL == opt)
    return fail(err, errlen, "unknown option '--%s'", name);
  return apply(cfg, opt, value, err, errlen);
}

/* The configuration before any flag: the hub's defaults. */
void sh_cli_init(struct sh_config *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  ssehub_options_default(&cfg->hub);
  /* The program's default, not the library's (which keeps the old 429
   * for embedders): its streams are mostly browsers' EventSources, which
   * never come back from a 429 (README, "When the server is full"). */
  cfg->hub.when_full = SSEHUB_WHEN_FULL_RETRY;
  /* With no origin counted the hub sends no CORS headers; --cors-origin
   * only has to count. */
  cfg->hub.cors_origins = cfg->origins;
  cfg->hub.trusted_proxies = cfg->proxies;
}

/* After every flag: the checks between flags, then the environment for
 * what no flag set. */
static enum sh_cli_result finish(struct sh_config *cfg, char *err,
                                 size_t errlen)
{
  size_t i;

  if ((NULL == cfg->tls_cert_file) != (NULL == cfg->tls_key_file))
    return fail(err, errlen, "--tls-cert and --tls-key go together");
  if (NULL != cfg->hub.redis_url) {
    struct sh_redis_addr a;
    int rc = sh_redis_url_parse(cfg->hub.redis_url, &a, err, errlen);

    if (-EINVAL == rc)
      return SH_CLI_ERROR;
    if (0 != rc)
      return fail(err, errlen, "--redis: out of memory");
    sh_redis_addr_free(&a);
  }
  for (i = 0; i < sh_cli_nopts; i++) {
    const struct sh_opt *opt = &sh_cli_opts[i];
    const char **p;

    if (NULL == opt->env || SH_STORE_STRING != opt->store)
      continue;
    p = member(cfg, opt->off);
    if (NULL == *p)
      *p = getenv(opt->env);
  }
  if (NULL == cfg->hub.redis_url && NULL != cfg->redis_password_file)
    return fail(err, errlen, "--redis-password-file needs --redis");
  for (i = 0; i < cfg->hub.ntrusted_proxies; i++) {
    struct sh_cidr c;

    if (0 != sh_cidr_parse(cfg->proxies[i], &c))
      return fail(err, errlen,
                  "--trusted-proxy: '%s' is not a network (ADDR/BITS or one "
                  "address, IPv4 or IPv6, host bits clear: 10.0.0.0/8, "
                  "fd00::/8, 127.0.0.1)",
                  cfg->proxies[i]);
  }
  if (NULL != cfg->hub.bind_address) {
    char host[SH_HOST_MAX];
    uint16_t port;

    if (0 != sh_bind_parse(cfg->hub.bind_address, host, &port))
      return fail(err, errlen,
                  "--bind: '%s' is not an address (127.0.0.1, ::1, [::1], "
                  "or with a port: [::1]:8888, 127.0.0.1:8888)",
                  cfg->hub.bind_address);
    /* A port in --bind is the port; with --port too, they must agree. */
    if (0 != port && port != cfg->hub.port
        && 0 != (cfg->given & (UINT64_C(1) << (by_name("port") - sh_cli_opts))))
      return fail(err, errlen,
                  "--bind names port %u and --port %u: give the port once",
                  (unsigned) port, (unsigned) cfg->hub.port);
  }
#ifndef HAVE_JWT
  if (NULL != cfg->jwt_key_file)
    return fail(err, errlen,
                "--jwt-key-file: this build lacks JWT support (configure "
                "--with-jwt, with libjwt-gnutls-dev installed)");
#endif
  if (NULL != cfg->hub.admin_bind) {
    char host[SH_HOST_MAX];
    uint16_t port;

    if (0 != sh_hostport_parse(cfg->hub.admin_bind, host, &port))
      return fail(err, errlen,
                  "--admin-bind: '%s' is not ADDR:PORT (an IPv4 address or "
                  "a bracketed IPv6 one, port 1-65535: 127.0.0.1:9100, "
                  "[::1]:9100)",
                  cfg->hub.admin_bind);
  }
  return SH_CLI_RUN;
}

enum sh_cli_result sh_cli_parse(struct sh_config *cfg, int argc, char **argv,
                                char *err, size_t errlen)
{
  struct sh_getopt g;
  int c;

  sh_cli_init(cfg);
  sh_cli_getopt(&g);
  optind = 0; /* full re-initialisation, so the parser can run again */
  opterr = 0;
  while (-1 != (c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL))) {
    const struct sh_opt *opt = by_val(c);
    const char *name = argv[optind - 1];
    enum sh_cli_result r;

    if (NULL != opt) {
      r = sh_cli_apply(cfg, opt->name, optarg, err, errlen);
      if (SH_CLI_RUN != r)
        return r;
      cfg->given |= UINT64_C(1) << (opt - sh_cli_opts);
    } else if (':' == c) {
      return fail(err, errlen, "option '%s' needs a value", name);
    } else if (0 != optopt && optopt < 256) {
      /* In a group like "-qx", optind has not moved past the group yet:
       * name the offending letter, not argv[optind - 1]. */
      return fail(err, errlen, "unknown option '-%c'", optopt);
    } else {
      return fail(err, errlen, "unknown or ambiguous option '%s'", name);
    }
  }
  if (optind < argc)
    return fail(err, errlen, "unexpected argument '%s'", argv[optind]);
  return finish(cfg, err, errlen);
}

/* Bytes of the member an entry writes (a list: its whole array). */
static size_t store_size(const struct sh_opt *opt)
{
  switch (opt->store) {
  case SH_STORE_U16:
    return sizeof(uint16_t);
  case SH_STORE_UNSIGNED:
    return sizeof(unsigned);
  case SH_STORE_SIZE:
    return sizeof(size_t);
  case SH_STORE_INT:
    return sizeof(int);
  case SH_STORE_LOG_LEVEL:
    return sizeof(enum ssehub_log_level);
  case SH_STORE_STDIN_MODE:
    return sizeof(enum sh_stdin_mode);
  case SH_STORE_STRING:
    return sizeof(const char *);
  case SH_STORE_STRINGS:
    return (size_t) opt->max * sizeof(const char *);
  default:
    return 0;
  }
}

enum sh_cli_result sh_cli_merge(struct sh_config *cfg,
                                const struct sh_config *cli, char *err,
                                size_t errlen)
{
  size_t i;

  for (i = 0; i < sh_cli_nopts; i++) {
    const struct sh_opt *opt = &sh_cli_opts[i];

    if (0 == (cli->given & (UINT64_C(1) << i)))
      continue;
    memcpy(member(cfg, opt->off), (const char *) cli + opt->off,
           store_size(opt));
    if (SH_STORE_STRINGS == opt->store)
      memcpy(member(cfg, opt->count_off), (const char *) cli + opt->count_off,
             sizeof(unsigned));
  }
  cfg->given = cli->given;
  return finish(cfg, err, errlen);
}

/* --help: the flags start at column 2, their text at HELP_COL, or two
 * spaces after a longer flag. */
#define HELP_COL 28

/* Print opt's help text and end the line: "{default}" becomes the value in
 * defaults, "{env}" the environment variable, and the lines after the
 * first start at HELP_COL. */
static void put_help(FILE *out, const struct sh_opt *opt,
                     struct sh_config *defaults)
{
  static const char def[] = "{default}", env[] = "{env}";
  const char *p = opt->help;
  char value[24];

  while ('\0' != *p) {
    if (0 == strncmp(p, def, sizeof(def) - 1)) {
      fmt_value(opt, load(defaults, opt), value, sizeof(value));
      fputs(value, out);
      p += sizeof(def) - 1;
    } else if (NULL != opt->env && 0 == strncmp(p, env, sizeof(env) - 1)) {
      fputs(opt->env, out);
      p += sizeof(env) - 1;
    } else if ('\n' == *p) {
      fprintf(out, "\n%*s", HELP_COL, "");
      p++;
    } else {
      fputc(*p++, out);
    }
  }
  fputc('\n', out);
}

void sh_cli_usage(FILE *out)
{
  struct sh_config defaults;
  size_t i;

  sh_cli_init(&defaults);
  fputs("Usage: ssehub [OPTION]...\n"
        "Serve Server-Sent Events: clients GET /sse, publishers POST "
        "/publish.\n\n",
        out);
  for (i = 0; i < sh_cli_nopts; i++) {
    const struct sh_opt *opt = &sh_cli_opts[i];
    int arg = has_arg(opt);
    int col;

    if (0 != opt->letter)
      col = fprintf(out, "  -%c, --%s", opt->letter, opt->name);
    else
      col = fprintf(out, "      --%s", opt->name);
    if (required_argument == arg)
      col += fprintf(out, "=%s", opt->arg);
    else if (optional_argument == arg)
      col += fprintf(out, "[=%s]", opt->arg);
    fprintf(out, "%*s", col < HELP_COL ? HELP_COL - col : 2, "");
    put_help(out, opt, &defaults);
  }
  fputs("\n"
        "BYTES accept a K or M suffix (powers of 1024); SECONDS accept "
        "decimals.\n"
        "Example: ssehub --tick 2   then   curl -N "
        "http://localhost:8888/sse\n",
        out);
}
