/* fuzz_cli.c - libFuzzer harness for the command line, sh_cli_parse()
 * (src/cli.h).
 *
 * The input is split at NUL bytes into at most MAX_ARGS - 1 arguments
 * (an input without NUL is one argument; a trailing NUL adds no empty
 * one), after argv[0] = "ssehub". Checked:
 *   - the result is one of enum sh_cli_result;
 *   - SH_CLI_ERROR comes with a non-empty one-line message (no '\n'),
 *     NUL-terminated inside err;
 *   - SH_CLI_RUN: the CORS origins and bind address are non-empty and point
 *     into argv; origins hold no CR, LF, space or comma, at most 32.
 * Build with -DFUZZ_CLI_LAX_ERR to skip the one-line check.
 * sh_cli_parse() resets getopt's state itself (optind = 0), so nothing is
 * carried from one run to the next.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "fuzz_cli: check failed at line %d: %s\n", __LINE__, \
              #cond);                                                      \
      abort();                                                             \
    }                                                                      \
  } while (0)

#define MAX_ARGS 32
#define ERR_LEN 256

static int in_args(const char *s, const char *buf, size_t len)
{
  return s >= buf && s < buf + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static char prog[] = "ssehub";
  char *buf = malloc(size + 1);
  char *argv[MAX_ARGS + 1];
  char err[ERR_LEN];
  struct sh_config cfg;
  enum sh_cli_result r;
  size_t pos = 0, errlen;
  int argc = 1, i;

  CHECK(NULL != buf);
  if (size > 0)
    memcpy(buf, data, size);
  buf[size] = '\0';
  argv[0] = prog;
  while (pos < size && argc < MAX_ARGS) {
    argv[argc++] = buf + pos;
    pos += strlen(buf + pos) + 1;
  }
  argv[argc] = NULL;
  memset(err, 'X', sizeof(err)); /* not terminated unless written */

  r = sh_cli_parse(&cfg, argc, argv, err, sizeof(err));
  CHECK(SH_CLI_RUN == r || SH_CLI_HELP == r || SH_CLI_VERSION == r
        || SH_CLI_ERROR == r);
  if (SH_CLI_ERROR == r) {
    CHECK(NULL != memchr(err, '\0', sizeof(err)));
    errlen = strlen(err);
    CHECK(errlen > 0);
#ifndef FUZZ_CLI_LAX_ERR
    if (NULL != strchr(err, '\n')) {
      fprintf(stderr, "fuzz_cli: error message is not one line: \"");
      for (i = 0; err[i]; i++) {
        if ('\n' == err[i])
          fputs("\\n", stderr);
        else
          fputc(err[i], stderr);
      }
      fprintf(stderr, "\"\n");
      abort();
    }
#endif
  } else if (SH_CLI_RUN == r) {
    const struct ssehub_options *o = &cfg.hub;
    unsigned k;

    /* Structure only: value ranges belong to cli.c and may change. */
    CHECK(o->ncors_origins <= SH_CLI_MAX_ORIGINS);
    CHECK(0 == o->ncors_origins || o->cors_origins == cfg.origins);
    for (k = 0; k < o->ncors_origins; k++) {
      CHECK(in_args(cfg.origins[k], buf, size + 1));
      CHECK('\0' != cfg.origins[k][0]);
      CHECK(NULL == strpbrk(cfg.origins[k], "\r\n ,"));
    }
    if (NULL != o->bind_address)
      CHECK(in_args(o->bind_address, buf, size + 1)
            && '\0' != o->bind_address[0]);
    CHECK(SH_STDIN_OFF == cfg.stdin_mode || SH_STDIN_LINES == cfg.stdin_mode
          || SH_STDIN_BLOCKS == cfg.stdin_mode);
  }
  (void) i;
  free(buf);
  return 0;
}
