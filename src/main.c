/* main.c - the ssehub program: parse flags, run a hub until SIGINT/SIGTERM.
 *
 * Exit codes: 0 after a clean stop (or --help/--version), 1 when the
 * server cannot start (port in use, ...), 2 for bad usage.
 *
 * Signals: SIGINT and SIGTERM are blocked before any thread starts (every
 * thread inherits the mask) and taken synchronously with sigwait() here,
 * so shutdown runs on this thread with no async-signal-safety concerns.
 * SIGPIPE is ignored: a peer vanishing mid-send must never kill us.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "demo.h"
#include "ssehub.h"
#include "stdin_pub.h"

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

static int start_error(const struct sh_config *cfg, int rc)
{
  if (-EADDRINUSE == rc)
    fprintf(stderr,
            "ssehub: port %u is already in use; choose another with --port\n",
            (unsigned) cfg->hub.port);
  else
    fprintf(stderr, "ssehub: cannot listen on %s port %u: %s\n",
            NULL != cfg->hub.bind_address ? cfg->hub.bind_address : "*",
            (unsigned) cfg->hub.port, ssehub_strerror(rc));
  return 1;
}

int main(int argc, char **argv)
{
  struct sh_config cfg;
  struct ssehub *hub;
  sigset_t stop_set;
  char err[256];
  int rc, sig;

  switch (sh_cli_parse(&cfg, argc, argv, err, sizeof(err))) {
  case SH_CLI_HELP:
    sh_cli_usage(stdout);
    return 0;
  case SH_CLI_VERSION:
    printf("ssehub %s\n", PACKAGE_VERSION);
    return 0;
  case SH_CLI_ERROR:
    fprintf(stderr, "ssehub: %s\nTry 'ssehub --help' for more information.\n",
            err);
    return 2;
  case SH_CLI_RUN:
    break;
  }

  raise_fd_limit();
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_set, NULL);

  hub = ssehub_new(&cfg.hub, &rc);
  if (NULL == hub) {
    fprintf(stderr, "ssehub: cannot start: %s\n", ssehub_strerror(rc));
    return -EINVAL == rc ? 2 : 1;
  }
  rc = ssehub_listen(hub);
  if (0 != rc) {
    ssehub_free(hub);
    return start_error(&cfg, rc);
  }
  fprintf(stderr, "ssehub: listening on http://%s:%u/ (stream /sse, "
          "publish POST /publish)\n",
          NULL != cfg.hub.bind_address ? cfg.hub.bind_address : "0.0.0.0",
          (unsigned) ssehub_port(hub));
  if (cfg.tick_ms > 0) {
    rc = sh_demo_start(hub, cfg.tick_ms);
    if (0 != rc)
      fprintf(stderr, "ssehub: warning: demo announcer not started: %s\n",
              strerror(-rc));
  }

  if (SH_STDIN_OFF != cfg.stdin_mode) {
    /* Blocks mode needs room for field names around the data. */
    rc = sh_stdin_start(hub, SH_STDIN_BLOCKS == cfg.stdin_mode,
                        cfg.hub.max_event_size + 4096);
    if (0 != rc)
      fprintf(stderr, "ssehub: warning: --stdin reader not started: %s\n",
              strerror(-rc));
  }

  do {
    rc = sigwait(&stop_set, &sig);
  } while (0 != rc);
  fprintf(stderr, "ssehub: %s received, stopping\n",
          SIGINT == sig ? "SIGINT" : "SIGTERM");
  sh_demo_stop();
  sh_stdin_stop();
  ssehub_free(hub);
  return 0;
}
