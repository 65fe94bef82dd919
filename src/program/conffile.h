/* conffile.h - the ssehub program's config file (--config FILE).
 *
 * Purpose: read "key = value" lines into a struct sh_config through the
 * same option table, checks and messages as the command line
 * (sh_cli_apply()). The format:
 *   - one setting per line: a key, the long option's name without "--"
 *     ("port", "cors-origin"), then "=" and the value; spaces around
 *     either are ignored, and a value wholly in double quotes loses them
 *     (no escapes);
 *   - an option that takes no value ("reuse-port", "quiet") is the key
 *     alone or "key = true"; "key = false" leaves it unset (as the
 *     sample file shows the defaults); "stdin" alone means lines;
 *   - a line whose first non-blank character is '#' is a comment, as is
 *     a blank line; '#' elsewhere is part of the value;
 *   - a key given twice: the last wins; a repeatable one (cors-origin)
 *     adds a value each time;
 *   - "config", "help" and "version" are refused.
 *
 * Nothing here prints or exits: errors come back as one line
 * "FILE:LINE: what" for main() to print (and exit 2, or refuse a reload).
 *
 * Ownership: the values in cfg point into the text given to
 * sh_conffile_parse(), which must outlive cfg (sh_cli_apply() does not
 * copy); sh_conffile_read() returns it malloc'd, freed by the caller.
 *
 * Thread-safety: none needed; the program's control thread calls it.
 */
#ifndef SH_CONFFILE_H
#define SH_CONFFILE_H

#include <stddef.h>

#include "cli.h"

/* Largest config file accepted. */
#define SH_CONFFILE_MAX (1024 * 1024)

/* Read the file at path into a new NUL-terminated string *text. Returns
 * 0, or a negative errno with err = "PATH: reason" (unreadable, larger
 * than SH_CONFFILE_MAX, a NUL byte in it). */
int sh_conffile_read(const char *path, char **text, char *err, size_t errlen);

/* Apply the lines of text (modified in place) to cfg; name is the file's
 * name for messages. Returns 0, or -EINVAL with err = "NAME:LINE: what"
 * (cfg then holds the lines before that one). */
int sh_conffile_parse(struct sh_config *cfg, const char *name, char *text,
                      char *err, size_t errlen);

#endif /* SH_CONFFILE_H */
