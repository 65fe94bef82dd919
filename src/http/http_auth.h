/* http_auth.h - who may publish and subscribe (internal).
 *
 * Tokens are compared in constant time and never logged (http_auth.c).
 * Threads: MHD worker threads.
 */
#ifndef SH_HTTP_AUTH_H
#define SH_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

struct ssehub;

enum sh_auth {
  SH_AUTH_OK,
  SH_AUTH_MISSING,  /* 401: no token given */
  SH_AUTH_WRONG,    /* 401: a token, not the right one */
  SH_AUTH_FORBIDDEN /* 403: no token configured, not from loopback */
};

/* Constant-time comparison of given[0..given_len) with token. */
bool sh_token_equal(const char *given, size_t given_len, const char *token);

enum sh_auth sh_auth_publish(struct ssehub *hub, struct MHD_Connection *conn);
enum sh_auth sh_auth_subscribe(struct ssehub *hub, struct MHD_Connection *conn);

/* Answer 401 (with WWW-Authenticate) or 403 and count it. */
enum MHD_Result sh_auth_refuse(struct ssehub *hub, struct MHD_Connection *conn,
                               enum sh_auth why);

#endif /* SH_HTTP_AUTH_H */
