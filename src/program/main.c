/* main.c - the ssehub program: parse flags and the config file, run a hub
 * until SIGINT/SIGTERM, reload on SIGHUP.
 *
 * Exit codes: 0 after a clean stop (or --help/--version), 1 when the
 * server cannot start (port in use, ...), 2 for bad usage (a bad flag, a
 * bad config file line, an unreadable token file).
 *
 * Signals: SIGINT, SIGTERM and SIGHUP are blocked before any thread
 * starts (every thread inherits the mask) and taken synchronously with
 * sigwait() here, so shutdown and reload run on this thread with no
 * async-signal-safety concerns. SIGPIPE is ignored: a peer vanishing
 * mid-send must never kill us.
 *
 * Reload (SIGHUP): the command line and the config file are read again,
 * and the token files; the result goes to ssehub_reload(), which applies
 * what can change live and logs what needs a restart. Anything wrong
 * (a bad line, an unreadable token file) refuses the reload as a whole:
 * the settings in force stay.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <hiredis/hiredis.h>

#include "cli.h"
#include "conffile.h"
#include "demo.h"
#include "jwtkey.h"
#include "logsink.h"
#include "notify.h"
#include "ssehub.h"
#include "stdin_pub.h"

/* The program's log (logsink.h): from start to exit, once flags are read;
 * usage errors before that go to stderr bare. */
static struct sh_logsink *sink;

#define say(level, ...) sh_say(SSEHUB_LOG_##level, __VA_ARGS__)

/* Every client is a socket: take all the descriptors the hard limit
 * allows before the hub sizes its default client limit from it. */
static void raise_fd_limit(void)
{
  struct rlimit rl;

  if (0 == getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* Read a whole (small) file into a new string (*len bytes, if len is not
 * NULL, then a NUL); NULL with a message. */
static char *slurp_n(const char *flag, const char *path, size_t max,
                     size_t *len)
{
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n;

  if (NULL == f) {
    say(ERROR, "%s: cannot read %s: %s", flag, path, strerror(errno));
    return NULL;
  }
  buf = malloc(max + 1);
  n = NULL != buf ? fread(buf, 1, max + 1, f) : 0;
  fclose(f);
  if (NULL == buf || n > max) {
    say(ERROR, "%s: %s is larger than %zu bytes", flag, path, max);
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  if (NULL != len)
    *len = n;
  return buf;
}

static char *slurp(const char *flag, const char *path, size_t max)
{
  return slurp_n(flag, path, max, NULL);
}

/* A token file holds one token; surrounding whitespace is ignored. */
static char *read_token(const char *flag, const char *path)
{
  char *t = slurp(flag, path, 4096), *p;
  size_t n;

  if (NULL == t)
    return NULL;
  n = strlen(t);
  while (n > 0 && NULL != strchr(" \t\r\n", t[n - 1]))
    t[--n] = '\0';
  for (p = t; ' ' == *p || '\t' == *p; p++)
    ;
  memmove(t, p, strlen(p) + 1);
  for (p = t; '\0' != *p; p++)
    if ((unsigned char) *p <= ' ' || 127 == *p)
      break;
  if ('\0' == t[0] || '\0' != *p) {
    say(ERROR, "%s: %s must hold one token (printable, no spaces)", flag, path);
    free(t);
    return NULL;
  }
  return t;
}

/* A password file holds the password on its first line (a final line
 * break is not part of it; spaces are). */
static char *read_password(const char *flag, const char *path)
{
  char *t = slurp(flag, path, 4096);
  size_t n;

  if (NULL == t)
    return NULL;
  n = strlen(t);
  while (n > 0 && ('\n' == t[n - 1] || '\r' == t[n - 1]))
    t[--n] = '\0';
  if (0 == n || NULL != strpbrk(t, "\r\n")) {
    say(ERROR, "%s: %s must hold the password on one line", flag, path);
    free(t);
    return NULL;
  }
  return t;
}

/* The JWT key file: PEM text (an RSA or EC public key), else an HS256
 * secret. A secret that is text (printable ASCII) loses its final line
 * break, as `echo secret >FILE` adds one; a binary one (e.g. from
 * /dev/urandom) is every byte of the file. The key is checked here too,
 * to say what is wrong with it. */
static bool read_jwt_key(struct sh_config *cfg)
{
  const char *flag = "--jwt-key-file", *why;
  struct sh_jwt_key *k;
  size_t n, i;
  char *t = slurp_n(flag, cfg->jwt_key_file, 64 * 1024, &n);
  bool text = true;
  int rc;

  if (NULL == t)
    return false;
  for (i = 0; i < n; i++)
    if (((unsigned char) t[i] < ' ' || 127 == t[i])
        && NULL == strchr("\t\r\n", t[i]))
      text = false;
  if (text && NULL == strstr(t, "-----BEGIN "))
    while (n > 0 && ('\n' == t[n - 1] || '\r' == t[n - 1]))
      t[--n] = '\0';
  rc = sh_jwt_key_new(t, n, &k, &why);
  if (0 != rc) {
    say(ERROR, "%s: %s: %s", flag, cfg->jwt_key_file,
        -ENOMEM == rc ? "out of memory" : why);
    memset(t, 0, n);
    free(t);
    return false;
  }
  say(INFO, "signed tokens: %s, key from %s", sh_jwt_key_alg(k),
      cfg->jwt_key_file);
  sh_jwt_key_unref(k);
  cfg->hub.jwt_key = t;
  cfg->hub.jwt_key_len = n;
  return true;
}

/* Fill the hub options from the files the flags name. Returns false (and
 * has said why) on a problem; the strings are freed by free_secrets(). */
static bool load_files(struct sh_config *cfg)
{
  struct ssehub_options *o = &cfg->hub;

  if (NULL != cfg->publish_token_file
      && NULL
             == (o->publish_token = read_token("--publish-token-file",
                                               cfg->publish_token_file)))
    return false;
  if (NULL != cfg->subscribe_token_file
      && NULL
             == (o->subscribe_token = read_token("--subscribe-token-file",
                                                 cfg->subscribe_token_file)))
    return false;
  if (NULL != cfg->tls_cert_file
      && (NULL
              == (o->tls_cert_pem = slurp("--tls-cert", cfg->tls_cert_file,
                                          1 << 20))
          || NULL
                 == (o->tls_key_pem = slurp("--tls-key", cfg->tls_key_file,
                                            1 << 20))))
    return false;
  if (NULL != cfg->redis_password_file
      && NULL
             == (o->redis_password = read_password("--redis-password-file",
                                                   cfg->redis_password_file)))
    return false;
  if (NULL != cfg->jwt_key_file && !read_jwt_key(cfg))
    return false;
  return true;
}

static void free_secrets(struct sh_config *cfg)
{
  const char *s[] = { cfg->hub.publish_token, cfg->hub.subscribe_token,
                      cfg->hub.tls_key_pem, cfg->hub.tls_cert_pem,
                      cfg->hub.redis_password };
  size_t i;

  for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
    if (NULL != s[i]) {
      memset((char *) s[i], 0, strlen(s[i]));
      free((char *) s[i]);
    }
  }
  cfg->hub.publish_token = cfg->hub.subscribe_token = NULL;
  cfg->hub.tls_key_pem = cfg->hub.tls_cert_pem = NULL;
  cfg->hub.redis_password = NULL;
  if (NULL != cfg->hub.jwt_key) {
    memset((char *) cfg->hub.jwt_key, 0, cfg->hub.jwt_key_len);
    free((char *) cfg->hub.jwt_key);
    cfg->hub.jwt_key = NULL;
    cfg->hub.jwt_key_len = 0;
  }
}

/* The settings in force and what their strings point into. */
struct settings {
  struct sh_config cfg; /* strings point into argv, text or getenv() */
  char *text;           /* the config file's text, or NULL */
};

static void settings_free(struct settings *s)
{
  free(s->text);
  s->text = NULL;
}

/* The command line, over the config file it names (--config), into s.
 * On SH_CLI_ERROR, err holds one line and *usage says whether it is the
 * command line's (worth a pointer to --help) or the file's. */
static enum sh_cli_result load_settings(struct settings *s, int argc,
                                        char **argv, char *err, size_t errlen,
                                        bool *usage)
{
  struct sh_config cli;
  enum sh_cli_result r;

  s->text = NULL;
  *usage = true;
  r = sh_cli_parse(&s->cfg, argc, argv, err, errlen);
  if (SH_CLI_RUN != r || NULL == s->cfg.config_file)
    return r;
  *usage = false;
  cli = s->cfg;
  if (0 != sh_conffile_read(cli.config_file, &s->text, err, errlen))
    return SH_CLI_ERROR;
  sh_cli_init(&s->cfg);
  if (0 != sh_conffile_parse(&s->cfg, cli.config_file, s->text, err, errlen))
    return SH_CLI_ERROR;
  return sh_cli_merge(&s->cfg, &cli, err, errlen);
}

static void say_publish_policy(const struct ssehub_options *o, bool token)
{
  if (token)
    say(INFO, "publishing needs the bearer token from the token file");
  else if (o->publish_open)
    say(WARNING, "publishing is open to every address (--publish-open, no "
                 "token)");
  else
    say(INFO, "publishing is allowed from loopback only (no "
              "--publish-token-file)");
}

static int start_error(const struct sh_config *cfg, int rc)
{
  if (-EADDRINUSE == rc)
    say(ERROR, "port %u is already in use; choose another with --port",
        (unsigned) cfg->hub.port);
  else if (-EPROTO == rc)
    say(ERROR,
        "TLS certificate or key rejected: check that %s and %s are PEM "
        "files of a matching certificate and key",
        cfg->tls_cert_file, cfg->tls_key_file);
  else
    say(ERROR, "cannot listen on %s port %u: %s",
        NULL != cfg->hub.bind_address ? cfg->hub.bind_address : "*",
        (unsigned) cfg->hub.port, ssehub_strerror(rc));
  return 1;
}

/* --version: ours and the libraries' (libmicrohttpd's as loaded;
 * hiredis's as built, since 0.14 has no run-time version). */
static void print_version(void)
{
  printf("ssehub %s\n", PACKAGE_VERSION);
  printf("libmicrohttpd %s\n", MHD_get_version());
  printf("hiredis %d.%d.%d\n", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
}

/* Start the log: its format, level and access log come from the flags,
 * and the hub's log and access callbacks go to it. Returns 0, or the exit
 * code after saying why. */
static int start_log(struct sh_config *cfg)
{
  int err = 0;

  sink = sh_logsink_new((enum sh_log_format) cfg->log_format,
                        cfg->hub.log_level, cfg->access_log, 0, &err);
  if (NULL == sink) {
    fprintf(stderr, "ssehub: %s%s: %s\n",
            NULL != cfg->access_log ? "--access-log: cannot open " : "log",
            NULL != cfg->access_log ? cfg->access_log : "", strerror(-err));
    return 2;
  }
  cfg->hub.log = sh_logsink_hub_log;
  cfg->hub.log_cls = sink;
  if (NULL != cfg->access_log) {
    cfg->hub.access_log = sh_logsink_access;
    cfg->hub.access_log_cls = sink;
  }
  return 0;
}

/* Write what the log holds, then exit with rc. */
static int stop_log(int rc)
{
  sh_logsink_free(sink);
  sink = NULL;
  return rc;
}

/* The sink's drop hook: the hub's log_dropped statistic. */
static void count_drops(void *cls, uint64_t n)
{
  ssehub_count_log_dropped(cls, n);
}

/* The program's own settings, which only a restart changes. */
static void say_fixed(const struct sh_config *now, const struct sh_config *next)
{
  if (now->tick_ms != next->tick_ms)
    say(WARNING, "tick changed: needs a restart");
  if (now->stdin_mode != next->stdin_mode)
    say(WARNING, "stdin changed: needs a restart");
  if (now->log_format != next->log_format)
    say(WARNING, "log-format changed: needs a restart");
  if ((NULL == now->access_log) != (NULL == next->access_log)
      || (NULL != now->access_log
          && 0 != strcmp(now->access_log, next->access_log)))
    say(WARNING, "access-log changed: needs a restart");
}

/* SIGHUP: read the command line, the config file and the token files
 * again and apply them; on any error keep the settings in force. */
static void reload(struct ssehub *hub, struct settings *now, int argc,
                   char **argv)
{
  struct settings next;
  char err[256];
  bool usage;
  int rc;

  sh_notify_reloading();
  say(INFO, "SIGHUP received, reloading");
  if (SH_CLI_RUN
      != load_settings(&next, argc, argv, err, sizeof(err), &usage)) {
    say(ERROR, "%s", err);
    goto refused;
  }
  if (!load_files(&next.cfg))
    goto refused;
  /* The log and access log stay the sink's; only its level changes. */
  next.cfg.hub.log = now->cfg.hub.log;
  next.cfg.hub.log_cls = now->cfg.hub.log_cls;
  next.cfg.hub.access_log = now->cfg.hub.access_log;
  next.cfg.hub.access_log_cls = now->cfg.hub.access_log_cls;
  rc = ssehub_reload(hub, &next.cfg.hub);
  if (rc >= 0) {
    sh_logsink_set_level(sink, next.cfg.hub.log_level);
    say_fixed(&now->cfg, &next.cfg);
    say_publish_policy(&next.cfg.hub, NULL != next.cfg.hub.publish_token);
  }
  free_secrets(&next.cfg); /* the hub keeps its own copies */
  if (rc < 0)
    goto refused;
  settings_free(now);
  *now = next;
  now->cfg.hub.cors_origins = now->cfg.origins;
  say(INFO, "reloaded%s",
      rc > 0 ? " (some settings need a restart, see above)" : "");
  sh_notify_ready("serving (reloaded)");
  return;

refused:
  free_secrets(&next.cfg);
  settings_free(&next);
  say(ERROR, "reload refused; the settings in force stay");
  sh_notify_ready("serving (the last reload was refused)");
}

int main(int argc, char **argv)
{
  struct settings set;
  struct ssehub *hub;
  sigset_t sigs;
  char err[256], status[128];
  bool token, usage;
  int rc, sig;

  switch (load_settings(&set, argc, argv, err, sizeof(err), &usage)) {
  case SH_CLI_HELP:
    sh_cli_usage(stdout);
    return 0;
  case SH_CLI_VERSION:
    print_version();
    return 0;
  case SH_CLI_ERROR:
    if (usage)
      fprintf(stderr, "ssehub: %s\nTry 'ssehub --help' for more information.\n",
              err);
    else
      fprintf(stderr, "ssehub: %s\n", err);
    settings_free(&set);
    return 2;
  case SH_CLI_RUN:
    break;
  }
  rc = start_log(&set.cfg);
  if (0 != rc) {
    settings_free(&set);
    return rc;
  }
  if (!load_files(&set.cfg)) {
    free_secrets(&set.cfg);
    settings_free(&set);
    return stop_log(2);
  }
  raise_fd_limit();
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);

  token = NULL != set.cfg.hub.publish_token;
  hub = ssehub_new(&set.cfg.hub, &rc);
  free_secrets(&set.cfg); /* the hub keeps its own copies */
  if (NULL == hub) {
    say(ERROR, "cannot start: %s", ssehub_strerror(rc));
    settings_free(&set);
    return stop_log(-EINVAL == rc ? 2 : 1);
  }
  sh_logsink_set_drop_hook(sink, count_drops, hub);
  rc = ssehub_listen(hub);
  if (0 != rc) {
    sh_logsink_set_drop_hook(sink, NULL, NULL);
    ssehub_free(hub);
    rc = start_error(&set.cfg, rc);
    settings_free(&set);
    return stop_log(rc);
  }
  say_publish_policy(&set.cfg.hub, token);
  if (set.cfg.hub.reuse_port && NULL == set.cfg.hub.redis_url)
    say(WARNING, "--reuse-port without --redis: each process on the port is "
                 "a hub of its own (a publish reaches only the clients of "
                 "the process that takes it)");
  say(INFO, "listening on http://%s:%u/ (stream /sse, publish POST /publish)",
      NULL != set.cfg.hub.bind_address ? set.cfg.hub.bind_address : "0.0.0.0",
      (unsigned) ssehub_port(hub));
  if (NULL != set.cfg.hub.admin_bind)
    say(INFO,
        "admin endpoints on http://%s/ (/metrics, /stats, /healthz, /readyz; "
        "not on the main port)",
        set.cfg.hub.admin_bind);
  if (set.cfg.tick_ms > 0) {
    rc = sh_demo_start(hub, set.cfg.tick_ms);
    if (0 != rc)
      say(WARNING, "demo announcer not started: %s", strerror(-rc));
  }

  if (SH_STDIN_OFF != set.cfg.stdin_mode) {
    /* Blocks mode needs room for field names around the data. */
    rc = sh_stdin_start(hub, SH_STDIN_BLOCKS == set.cfg.stdin_mode,
                        set.cfg.hub.max_event_size + 4096);
    if (0 != rc)
      say(WARNING, "--stdin reader not started: %s", strerror(-rc));
  }

  snprintf(status, sizeof(status), "serving on port %u",
           (unsigned) ssehub_port(hub));
  sh_notify_ready(status);

  for (;;) {
    if (0 != sigwait(&sigs, &sig))
      continue;
    if (SIGHUP != sig)
      break;
    reload(hub, &set, argc, argv);
  }
  sh_notify_stopping();
  say(INFO, "%s received, stopping", SIGINT == sig ? "SIGINT" : "SIGTERM");
  sh_demo_stop();
  sh_stdin_stop();
  sh_logsink_set_drop_hook(sink, NULL, NULL);
  ssehub_free(hub);
  settings_free(&set);
  return stop_log(0);
}
