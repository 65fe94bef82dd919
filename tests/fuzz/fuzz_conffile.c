/* fuzz_conffile.c - libFuzzer harness for the config file parser,
 * sh_conffile_parse() (src/program/conffile.h).
 *
 * The input is the file's text (cut at its first NUL, as
 * sh_conffile_read() refuses a NUL). Checked:
 *   - the result is 0 or -EINVAL;
 *   - -EINVAL comes with a non-empty one-line message (printable bytes
 *     only) that starts with the file's name and a line number;
 *   - 0: the CORS origins and the bind address point into the text, are
 *     non-empty, and the origins hold no CR, LF, space or comma.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conffile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "fuzz_conffile: check failed at line %d: %s\n", \
              __LINE__, #cond);                                       \
      abort();                                                        \
    }                                                                 \
  } while (0)

static int in_text(const char *s, const char *buf, size_t len)
{
  return s >= buf && s < buf + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *buf = malloc(size + 1), err[256];
  struct sh_config cfg;
  unsigned k;
  int rc;

  CHECK(NULL != buf);
  if (size > 0)
    memcpy(buf, data, size);
  buf[size] = '\0';
  memset(err, 'X', sizeof(err));
  sh_cli_init(&cfg);
  rc = sh_conffile_parse(&cfg, "f", buf, err, sizeof(err));
  CHECK(0 == rc || -EINVAL == rc);
  if (0 != rc) {
    CHECK(NULL != memchr(err, '\0', sizeof(err)));
    CHECK(0 == strncmp(err, "f:", 2) && err[2] >= '1' && err[2] <= '9');
    for (k = 0; '\0' != err[k]; k++)
      CHECK((unsigned char) err[k] >= 0x20 && 0x7f != err[k]);
  } else {
    CHECK(cfg.hub.ncors_origins <= SH_CLI_MAX_ORIGINS);
    for (k = 0; k < cfg.hub.ncors_origins; k++) {
      CHECK(in_text(cfg.origins[k], buf, size + 1));
      CHECK('\0' != cfg.origins[k][0]);
      CHECK(NULL == strpbrk(cfg.origins[k], "\r\n ,"));
    }
    if (NULL != cfg.hub.bind_address)
      CHECK(in_text(cfg.hub.bind_address, buf, size + 1)
            && '\0' != cfg.hub.bind_address[0]);
    CHECK(NULL == cfg.config_file);
  }
  free(buf);
  return 0;
}
