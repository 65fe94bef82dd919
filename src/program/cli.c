/* cli.c - the ssehub program's command line (see cli.h). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_SECONDS 86400u

enum {
  OPT_PORT = 'p',
  OPT_BIND = 'b',
  OPT_HELP = 'h',
  OPT_VERSION = 'V',
  OPT_QUIET = 'q',
  OPT_VERBOSE = 'v',
  OPT_THREADS = 256,
  OPT_MAX_CLIENTS,
  OPT_CLIENT_BUFFER,
  OPT_MAX_EVENT_SIZE,
  OPT_PUBLISH_QUEUE,
  OPT_PUBLISH_WAIT,
  OPT_HEARTBEAT,
  OPT_TICK,
  OPT_CONN_MEMORY,
  OPT_TIMEOUT,
  OPT_RETRY_AFTER,
  OPT_HISTORY,
  OPT_HISTORY_AGE,
  OPT_RETRY,
  OPT_CORS_ORIGIN,
  OPT_NO_DEMO_PAGE,
  OPT_STDIN,
  OPT_PUBLISH_TOKEN_FILE,
  OPT_SUBSCRIBE_TOKEN_FILE,
  OPT_PUBLISH_OPEN,
  OPT_MAX_PER_IP,
  OPT_PUBLISH_RATE,
  OPT_MAX_BUFFERED,
  OPT_TLS_CERT,
  OPT_TLS_KEY,
  OPT_HEADER_TIMEOUT
};

static const struct option long_opts[] = {
  { "port", required_argument, NULL, OPT_PORT },
  { "bind", required_argument, NULL, OPT_BIND },
  { "threads", required_argument, NULL, OPT_THREADS },
  { "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
  { "client-buffer", required_argument, NULL, OPT_CLIENT_BUFFER },
  { "max-event-size", required_argument, NULL, OPT_MAX_EVENT_SIZE },
  { "publish-queue", required_argument, NULL, OPT_PUBLISH_QUEUE },
  { "publish-wait", required_argument, NULL, OPT_PUBLISH_WAIT },
  { "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
  { "tick", required_argument, NULL, OPT_TICK },
  { "connection-memory", required_argument, NULL, OPT_CONN_MEMORY },
  { "timeout", required_argument, NULL, OPT_TIMEOUT },
  { "retry-after", required_argument, NULL, OPT_RETRY_AFTER },
  { "history", required_argument, NULL, OPT_HISTORY },
  { "history-age", required_argument, NULL, OPT_HISTORY_AGE },
  { "retry", required_argument, NULL, OPT_RETRY },
  { "cors-origin", required_argument, NULL, OPT_CORS_ORIGIN },
  { "no-demo-page", no_argument, NULL, OPT_NO_DEMO_PAGE },
  { "stdin", optional_argument, NULL, OPT_STDIN },
  { "publish-token-file", required_argument, NULL, OPT_PUBLISH_TOKEN_FILE },
  { "subscribe-token-file", required_argument, NULL,
    OPT_SUBSCRIBE_TOKEN_FILE },
  { "publish-open", no_argument, NULL, OPT_PUBLISH_OPEN },
  { "max-clients-per-ip", required_argument, NULL, OPT_MAX_PER_IP },
  { "publish-rate", required_argument, NULL, OPT_PUBLISH_RATE },
  { "max-buffered", required_argument, NULL, OPT_MAX_BUFFERED },
  { "tls-cert", required_argument, NULL, OPT_TLS_CERT },
  { "tls-key", required_argument, NULL, OPT_TLS_KEY },
  { "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
  { "quiet", no_argument, NULL, OPT_QUIET },
  { "verbose", no_argument, NULL, OPT_VERBOSE },
  { "help", no_argument, NULL, OPT_HELP },
  { "version", no_argument, NULL, OPT_VERSION },
  { NULL, 0, NULL, 0 }
};

void sh_cli_usage(FILE *out)
{
  fputs(
"Usage: ssehub [OPTION]...\n"
"Serve Server-Sent Events: clients GET /sse, publishers POST /publish.\n"
"\n"
"  -p, --port=N              TCP port (default 8888; 0 picks a free one)\n"
"  -b, --bind=ADDR           address to listen on (default: all IPv4)\n"
"      --threads=N           HTTP worker threads, and threads sharing\n"
"                            each fan-out (default: one per core this\n"
"                            process may run on)\n"
"      --max-clients=N       streams admitted; more get 429\n"
"                            (default: what the open-file limit allows)\n"
"      --client-buffer=BYTES unsent bytes queued per client before it is\n"
"                            disconnected as too slow (default 1M)\n"
"      --max-event-size=BYTES  largest event data; larger is 413 (default 64K)\n"
"      --publish-queue=N     events waiting for fan-out (default 32); a\n"
"                            shorter queue means lower delivery latency\n"
"                            under a publish flood, a longer one absorbs\n"
"                            bigger bursts without holding publishers\n"
"      --publish-wait=SECONDS  with the queue full, hold a publish this\n"
"                            long for room before answering 503\n"
"                            (default 5; 0 = answer 503 at once)\n"
"      --heartbeat=SECONDS   comment sent when idle this long; 0 = off\n"
"                            (default 15)\n"
"      --tick=SECONDS        demo: publish \"It is <date> now!\" this often\n"
"      --connection-memory=BYTES  per-connection buffer; caps request\n"
"                            headers at about half of it, cookies at a\n"
"                            quarter (default 32K; idle streams give the\n"
"                            unused part back)\n"
"      --timeout=SECONDS     close connections stalled this long (default\n"
"                            60; idle streams never time out); 0 = never\n"
"      --header-timeout=SECONDS  close a connection whose first request\n"
"                            (headers, and a publish's body) is not complete\n"
"                            this long after it connected (slow-loris;\n"
"                            default 10; 0 = never)\n"
"      --retry-after=SECONDS Retry-After sent with 429 and 503 (default 5)\n"
"      --history=N           events kept for Last-Event-ID resume\n"
"                            (default 1000; 0 = none)\n"
"      --history-age=SECONDS also forget events older than this (default:\n"
"                            no age limit)\n"
"      --retry=MS            reconnection delay sent to clients on connect\n"
"                            (default 3000; 0 = none)\n"
"      --cors-origin=ORIGIN  allow this origin cross-origin (repeatable),\n"
"                            or * for any\n"
"      --no-demo-page        do not serve the demo page at /\n"
"      --stdin[=blocks]      publish each line of standard input as an\n"
"                            event; =blocks reads event-stream style\n"
"                            blocks (event:, id:, topic:, data: lines)\n"
"      --publish-token-file=FILE  POST /publish needs \"Authorization:\n"
"                            Bearer <token in FILE>\" (also\n"
"                            $SSEHUB_PUBLISH_TOKEN_FILE)\n"
"      --publish-open        without a token, let any address publish\n"
"                            (default: loopback only)\n"
"      --subscribe-token-file=FILE  /sse needs this token: bearer header,\n"
"                            cookie ssehub_token or ?access_token= (also\n"
"                            $SSEHUB_SUBSCRIBE_TOKEN_FILE)\n"
"      --max-clients-per-ip=N  streams per client address; more get 429\n"
"      --publish-rate=N      publishes per second per address; more get 429\n"
"      --max-buffered=BYTES  unsent bytes of all clients together; over it\n"
"                            the furthest behind are cut (default 256M;\n"
"                            0 = no ceiling)\n"
"      --tls-cert=FILE       serve HTTPS with this PEM certificate (chain)\n"
"      --tls-key=FILE        ... and this PEM private key\n"
"  -q, --quiet               log errors only\n"
"  -v, --verbose             log debug messages\n"
"  -h, --help                show this help and exit\n"
"  -V, --version             show the version and exit\n"
"\n"
"BYTES accept a K or M suffix (powers of 1024); SECONDS accept decimals.\n"
"Example: ssehub --tick 2   then   curl -N http://localhost:8888/sse\n",
      out);
}

static enum sh_cli_result fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum sh_cli_result fail(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  char *p;

  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  /* The message quotes what the user typed; it must stay one printable
   * line whatever that was (a value with a newline, escape codes). */
  for (p = err; '\0' != *p; p++)
    if ((unsigned char) *p < 0x20 || 0x7f == (unsigned char) *p)
      *p = '?';
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

enum sh_cli_result sh_cli_parse(struct sh_config *cfg, int argc, char **argv,
                                char *err, size_t errlen)
{
  struct ssehub_options *o = &cfg->hub;
  uint64_t v;
  int c;

  memset(cfg, 0, sizeof(*cfg));
  ssehub_options_default(o);
  optind = 0; /* full re-initialisation, so the parser can run again */
  opterr = 0;
  while (-1 != (c = getopt_long(argc, argv, ":p:b:qvhV", long_opts, NULL))) {
    const char *name = argv[optind - 1];

    switch (c) {
    case OPT_PORT:
      if (!parse_uint(optarg, 0, 65535, &v))
        return fail(err, errlen, "invalid --port '%s' (expected 0-65535)",
                    optarg);
      o->port = (uint16_t) v;
      break;
    case OPT_BIND:
      if ('\0' == optarg[0])
        return fail(err, errlen, "invalid --bind '' (expected an address)");
      o->bind_address = optarg;
      break;
    case OPT_THREADS:
      if (!parse_uint(optarg, 1, 1024, &v))
        return fail(err, errlen, "invalid --threads '%s' (expected 1-1024)",
                    optarg);
      o->threads = (unsigned) v;
      break;
    case OPT_MAX_CLIENTS:
      if (!parse_uint(optarg, 1, 10000000, &v))
        return fail(err, errlen,
                    "invalid --max-clients '%s' (expected 1-10000000)", optarg);
      o->max_clients = (unsigned) v;
      break;
    case OPT_CLIENT_BUFFER:
      if (!parse_size(optarg, 1024, 1024u * 1024 * 1024, &v))
        return fail(err, errlen,
                    "invalid --client-buffer '%s' (expected 1K-1024M)", optarg);
      o->client_buffer = (size_t) v;
      break;
    case OPT_MAX_EVENT_SIZE:
      if (!parse_size(optarg, 1, 64u * 1024 * 1024, &v))
        return fail(err, errlen,
                    "invalid --max-event-size '%s' (expected 1-64M)", optarg);
      o->max_event_size = (size_t) v;
      break;
    case OPT_PUBLISH_QUEUE:
      if (!parse_uint(optarg, 1, 1000000, &v))
        return fail(err, errlen,
                    "invalid --publish-queue '%s' (expected 1-1000000)", optarg);
      o->publish_queue = (unsigned) v;
      break;
    case OPT_PUBLISH_WAIT:
      if (!parse_seconds(optarg, 0, 60000, &v))
        return fail(err, errlen,
                    "invalid --publish-wait '%s' (expected 0-60 seconds)",
                    optarg);
      o->publish_wait_ms = (unsigned) v;
      break;
    case OPT_HEARTBEAT:
      if (!parse_seconds(optarg, 0, MAX_SECONDS * 1000ull, &v)
          || (v > 0 && v < 100))
        return fail(err, errlen,
                    "invalid --heartbeat '%s' (expected 0 or 0.1-86400 seconds)",
                    optarg);
      o->heartbeat_ms = (unsigned) v;
      break;
    case OPT_TICK:
      if (!parse_seconds(optarg, 10, MAX_SECONDS * 1000ull, &v))
        return fail(err, errlen,
                    "invalid --tick '%s' (expected 0.01-86400 seconds)", optarg);
      cfg->tick_ms = (unsigned) v;
      break;
    case OPT_CONN_MEMORY:
      if (!parse_size(optarg, 4096, 16u * 1024 * 1024, &v))
        return fail(err, errlen,
                    "invalid --connection-memory '%s' (expected 4K-16M)", optarg);
      o->connection_memory = (size_t) v;
      break;
    case OPT_TIMEOUT:
      if (!parse_uint(optarg, 0, MAX_SECONDS, &v))
        return fail(err, errlen, "invalid --timeout '%s' (expected 0-86400)",
                    optarg);
      o->connection_timeout_s = (unsigned) v;
      break;
    case OPT_RETRY_AFTER:
      if (!parse_uint(optarg, 0, MAX_SECONDS, &v))
        return fail(err, errlen,
                    "invalid --retry-after '%s' (expected 0-86400)", optarg);
      o->retry_after_s = (unsigned) v;
      break;
    case OPT_HISTORY:
      if (!parse_uint(optarg, 0, 1000000, &v))
        return fail(err, errlen, "invalid --history '%s' (expected 0-1000000)",
                    optarg);
      o->history_size = (size_t) v;
      break;
    case OPT_HISTORY_AGE:
      if (!parse_seconds(optarg, 1, MAX_SECONDS * 1000ull, &v))
        return fail(err, errlen,
                    "invalid --history-age '%s' (expected 0.001-86400 seconds)",
                    optarg);
      o->history_age_ms = (unsigned) v;
      break;
    case OPT_RETRY:
      if (!parse_uint(optarg, 0, 86400000, &v))
        return fail(err, errlen,
                    "invalid --retry '%s' (expected 0-86400000 ms)", optarg);
      o->retry_ms = (unsigned) v;
      break;
    case OPT_CORS_ORIGIN:
      if ('\0' == optarg[0] || strpbrk(optarg, "\r\n ,") != NULL)
        return fail(err, errlen,
                    "invalid --cors-origin '%s' (expected one origin such as "
                    "https://example.com, or *)", optarg);
      if (o->ncors_origins == SH_CLI_MAX_ORIGINS)
        return fail(err, errlen, "too many --cors-origin (at most %d)",
                    SH_CLI_MAX_ORIGINS);
      cfg->origins[o->ncors_origins++] = optarg;
      o->cors_origins = cfg->origins;
      break;
    case OPT_NO_DEMO_PAGE:
      o->demo_page = 0;
      break;
    case OPT_STDIN:
      if (NULL == optarg || 0 == strcmp(optarg, "lines"))
        cfg->stdin_mode = SH_STDIN_LINES;
      else if (0 == strcmp(optarg, "blocks"))
        cfg->stdin_mode = SH_STDIN_BLOCKS;
      else
        return fail(err, errlen,
                    "invalid --stdin='%s' (expected lines or blocks)", optarg);
      break;
    case OPT_PUBLISH_TOKEN_FILE:
      cfg->publish_token_file = optarg;
      break;
    case OPT_SUBSCRIBE_TOKEN_FILE:
      cfg->subscribe_token_file = optarg;
      break;
    case OPT_PUBLISH_OPEN:
      o->publish_open = 1;
      break;
    case OPT_MAX_PER_IP:
      if (!parse_uint(optarg, 1, 10000000, &v))
        return fail(err, errlen,
                    "invalid --max-clients-per-ip '%s' (expected 1-10000000)",
                    optarg);
      o->max_clients_per_ip = (unsigned) v;
      break;
    case OPT_PUBLISH_RATE:
      if (!parse_uint(optarg, 1, 10000000, &v))
        return fail(err, errlen,
                    "invalid --publish-rate '%s' (expected 1-10000000)", optarg);
      o->publish_rate = (unsigned) v;
      break;
    case OPT_MAX_BUFFERED:
      if (!parse_size(optarg, 0, 1ull << 40, &v)
          || (v > 0 && v < 64 * 1024))
        return fail(err, errlen,
                    "invalid --max-buffered '%s' (expected 0 or 64K-1048576M)",
                    optarg);
      o->max_buffered = (size_t) v;
      break;
    case OPT_HEADER_TIMEOUT:
      if (!parse_uint(optarg, 0, MAX_SECONDS, &v))
        return fail(err, errlen,
                    "invalid --header-timeout '%s' (expected 0-86400)", optarg);
      o->header_timeout_s = (unsigned) v;
      break;
    case OPT_TLS_CERT:
      cfg->tls_cert_file = optarg;
      break;
    case OPT_TLS_KEY:
      cfg->tls_key_file = optarg;
      break;
    case OPT_QUIET:
      o->log_level = SSEHUB_LOG_ERROR;
      break;
    case OPT_VERBOSE:
      o->log_level = SSEHUB_LOG_DEBUG;
      break;
    case OPT_HELP:
      return SH_CLI_HELP;
    case OPT_VERSION:
      return SH_CLI_VERSION;
    case ':':
      return fail(err, errlen, "option '%s' needs a value", name);
    default:
      /* In a group like "-qx", optind has not moved past the group yet:
       * name the offending letter, not argv[optind - 1]. */
      if (0 != optopt && optopt < 256)
        return fail(err, errlen, "unknown option '-%c'", optopt);
      return fail(err, errlen, "unknown or ambiguous option '%s'", name);
    }
  }
  if (optind < argc)
    return fail(err, errlen, "unexpected argument '%s'", argv[optind]);
  if ((NULL == cfg->tls_cert_file) != (NULL == cfg->tls_key_file))
    return fail(err, errlen, "--tls-cert and --tls-key go together");
  if (NULL == cfg->publish_token_file)
    cfg->publish_token_file = getenv("SSEHUB_PUBLISH_TOKEN_FILE");
  if (NULL == cfg->subscribe_token_file)
    cfg->subscribe_token_file = getenv("SSEHUB_SUBSCRIBE_TOKEN_FILE");
  return SH_CLI_RUN;
}
