/* redis_url.h - where the Redis engine's server is: --redis URL, parsed.
 *
 * Purpose: turn "redis://[user:password@]host:port/db" or
 * "unix:///path/to/socket" into a struct sh_redis_addr, with a one-line
 * reason for anything else, so that the command line can exit 2 with it
 * before anything starts. Percent-escapes are decoded in the user and
 * password (so a password may hold '@' or ':'). A password given in the
 * URL is allowed (libraries accept it) but the program prefers
 * --redis-password-file, which keeps it off the command line.
 *
 * Pure (no I/O), reentrant. The struct owns copies of every string.
 */
#ifndef SH_REDIS_URL_H
#define SH_REDIS_URL_H

#include <stddef.h>

struct sh_redis_addr {
  char *host;     /* TCP host name or address; NULL for a Unix socket */
  unsigned port;  /* TCP port (default 6379) */
  char *path;     /* Unix socket path; NULL for TCP */
  char *user;     /* ACL user for AUTH; NULL = the default user */
  char *password; /* NULL = no AUTH */
  unsigned db;    /* SELECT this database (default 0) */
};

/* Parse url into a (zeroed first). Returns 0, -ENOMEM, or -EINVAL with a
 * reason (one line, no newline) in err. */
int sh_redis_url_parse(const char *url, struct sh_redis_addr *a, char *err,
                       size_t errlen);

/* Free the strings (the password is overwritten first). */
void sh_redis_addr_free(struct sh_redis_addr *a);

/* "host:port" or the socket path, for log lines (never the password). */
void sh_redis_addr_name(const struct sh_redis_addr *a, char *buf, size_t cap);

#endif /* SH_REDIS_URL_H */
