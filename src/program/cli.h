/* cli.h - the ssehub program's command line.
 *
 * Purpose: turn argv into a struct sh_config (hub options plus the
 * program's own settings) with strict validation. The parser prints
 * nothing and exits nothing: it returns a result and, on error, a
 * one-line message, and main() maps results to exit codes (2 for usage
 * errors), so the parser is unit-testable and fuzzable.
 *
 * Thread-safety: uses getopt_long(), which keeps global state; call from
 * one thread.
 */
#ifndef SH_CLI_H
#define SH_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "ssehub.h"

/* Most --cors-origin flags. */
#define SH_CLI_MAX_ORIGINS 32

enum sh_stdin_mode {
  SH_STDIN_OFF,
  SH_STDIN_LINES, /* --stdin: one event per line */
  SH_STDIN_BLOCKS /* --stdin=blocks: event-stream style blocks */
};

struct sh_config {
  struct ssehub_options hub; /* strings point into argv */
  unsigned tick_ms;          /* demo announcer period; 0 = off */
  enum sh_stdin_mode stdin_mode;
  const char *origins[SH_CLI_MAX_ORIGINS]; /* hub.cors_origins points here */
  /* Files named by flags or the environment; main() reads them, so that
   * secrets never appear on the command line (ps) and the parser does no
   * I/O. */
  const char *publish_token_file;   /* or $SSEHUB_PUBLISH_TOKEN_FILE */
  const char *subscribe_token_file; /* or $SSEHUB_SUBSCRIBE_TOKEN_FILE */
  const char *tls_cert_file;
  const char *tls_key_file;
  const char *redis_password_file; /* or $SSEHUB_REDIS_PASSWORD_FILE */
  const char *config_file;         /* --config: read by main() (conffile.h) */
  uint64_t given; /* bit i: sh_cli_opts[i] was on the command line */
  /* -- logs (issue 12, part 6) -- */
  int log_format;         /* enum sh_log_format (logsink.h) */
  const char *access_log; /* --access-log FILE, "-" = stderr */
  /* -- client addresses (issue 13, parts 3 and 4) -- */
  const char *proxies[SH_MAX_TRUSTED]; /* hub.trusted_proxies points here */
  /* -- signed per-topic tokens (issue 13, part 2) -- */
  const char *jwt_key_file; /* or $SSEHUB_JWT_KEY_FILE */
};

enum sh_cli_result {
  SH_CLI_RUN,     /* start the server */
  SH_CLI_HELP,    /* --help: print usage, exit 0 */
  SH_CLI_VERSION, /* --version: print version, exit 0 */
  SH_CLI_ERROR    /* bad usage: print err, exit 2 */
};

/* Parse argv. On SH_CLI_ERROR, err holds one line (no newline). */
enum sh_cli_result sh_cli_parse(struct sh_config *cfg, int argc, char **argv,
                                char *err, size_t errlen);

/* Apply one setting to cfg as its flag would: name is the long flag
 * without "--" ("port"), value its text, NULL for a flag that takes none
 * (or to give --stdin no value). Same checks and one-line messages as
 * the command line; a config file's "name = value" lines go through
 * here. Returns SH_CLI_RUN when applied, SH_CLI_HELP or SH_CLI_VERSION
 * for those flags, SH_CLI_ERROR with err set. value must outlive cfg
 * (strings are not copied). Checks between flags (--tls-cert needs
 * --tls-key) and environment fallbacks are sh_cli_parse()'s. */
enum sh_cli_result sh_cli_apply(struct sh_config *cfg, const char *name,
                                const char *value, char *err, size_t errlen);

/* The configuration before any flag or file line: the hub's defaults. */
void sh_cli_init(struct sh_config *cfg);

/* Command-line flags override a config file: cfg holds the file's
 * settings (sh_cli_init(), then its lines through sh_cli_apply()), cli
 * what sh_cli_parse() made of argv. Copies into cfg every setting the
 * command line gave (a repeatable flag's values replace the file's
 * list), then runs the checks between flags and the environment
 * fallbacks on the result, as sh_cli_parse() does. */
enum sh_cli_result sh_cli_merge(struct sh_config *cfg,
                                const struct sh_config *cli, char *err,
                                size_t errlen);

void sh_cli_usage(FILE *out);

/* Format an error message into err[0..errlen) as one printable line: a
 * message quotes what the user typed (a flag's value, a config file's
 * line), and a newline or escape code in it must not reach the terminal
 * or the journal as such; control characters become '?'. For cli.c and
 * conffile.c. */
void sh_cli_vformat_error(char *err, size_t errlen, const char *fmt,
                          va_list ap);

#endif /* SH_CLI_H */
