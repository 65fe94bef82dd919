/* conffile.c - the ssehub program's config file (see conffile.h). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_table.h"
#include "conffile.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  sh_cli_vformat_error(err, errlen, fmt, ap); /* whatever the file held */
  va_end(ap);
  return -EINVAL;
}

int sh_conffile_read(const char *path, char **text, char *err, size_t errlen)
{
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n;
  int rc;

  *text = NULL;
  if (NULL == f) {
    rc = -errno;
    snprintf(err, errlen, "%s: %s", path, strerror(-rc));
    return rc;
  }
  buf = malloc(SH_CONFFILE_MAX + 1);
  if (NULL == buf) {
    rc = -ENOMEM;
    snprintf(err, errlen, "%s: out of memory", path);
    goto out;
  }
  n = fread(buf, 1, SH_CONFFILE_MAX + 1, f);
  if (ferror(f)) {
    rc = -EIO;
    snprintf(err, errlen, "%s: read error", path);
  } else if (n > SH_CONFFILE_MAX) {
    rc = -EFBIG;
    snprintf(err, errlen, "%s: larger than %d bytes", path, SH_CONFFILE_MAX);
  } else if (NULL != memchr(buf, '\0', n)) {
    rc = -EINVAL;
    snprintf(err, errlen, "%s: not a text file (a NUL byte)", path);
  } else {
    buf[n] = '\0';
    *text = buf;
    buf = NULL;
    rc = 0;
  }
out:
  free(buf);
  fclose(f);
  return rc;
}

static bool blank(char c)
{
  return ' ' == c || '\t' == c || '\r' == c;
}

/* s without the blanks around it (in place). */
static char *trim(char *s)
{
  size_t n;

  while (blank(*s))
    s++;
  n = strlen(s);
  while (n > 0 && blank(s[n - 1]))
    s[--n] = '\0';
  return s;
}

static bool key_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || '-' == c;
}

static const struct sh_opt *find(const char *key)
{
  size_t i;

  for (i = 0; i < sh_cli_nopts; i++)
    if (0 == strcmp(key, sh_cli_opts[i].name))
      return &sh_cli_opts[i];
  return NULL;
}

/* One non-comment line: "key", or "key = value". */
static int parse_line(struct sh_config *cfg, const char *name, unsigned lineno,
                      char *line, char *err, size_t errlen)
{
  char *eq = strchr(line, '='), *key = line, *value = NULL, msg[256];
  const struct sh_opt *opt;
  size_t n;

  if (NULL != eq) {
    *eq = '\0';
    value = trim(eq + 1);
    n = strlen(value);
    if (n >= 2 && '"' == value[0] && '"' == value[n - 1]) {
      value[n - 1] = '\0';
      value++;
    }
  }
  key = trim(key);
  for (n = 0; key_char(key[n]); n++)
    ;
  if (0 == n || '\0' != key[n])
    return fail(err, errlen, "%s:%u: expected \"key = value\"", name, lineno);
  opt = find(key);
  if (NULL == opt)
    return fail(err, errlen, "%s:%u: unknown key \"%.64s\"", name, lineno, key);
  if (SH_OPT_ACTION == opt->kind || 0 == strcmp(key, "config"))
    return fail(err, errlen, "%s:%u: \"%s\" cannot be set in a config file",
                name, lineno, key);
  if (SH_OPT_SET == opt->kind && NULL != value) {
    if (0 == strcmp(value, "false"))
      return 0;
    if (0 != strcmp(value, "true"))
      return fail(err, errlen,
                  "%s:%u: \"%s\" takes true, false or no value, not '%.64s'",
                  name, lineno, key, value);
    value = NULL;
  }
  if (SH_CLI_RUN != sh_cli_apply(cfg, key, value, msg, sizeof(msg)))
    return fail(err, errlen, "%s:%u: %s", name, lineno, msg);
  return 0;
}

int sh_conffile_parse(struct sh_config *cfg, const char *name, char *text,
                      char *err, size_t errlen)
{
  unsigned lineno = 0;
  char *line = text, *next;
  int rc;

  for (; NULL != line; line = next) {
    char *t;

    lineno++;
    next = strchr(line, '\n');
    if (NULL != next)
      *next++ = '\0';
    t = trim(line);
    if ('\0' == *t || '#' == *t)
      continue;
    rc = parse_line(cfg, name, lineno, t, err, errlen);
    if (0 != rc)
      return rc;
  }
  return 0;
}
