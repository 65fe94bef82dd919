/* http_auth.h - who may publish and subscribe (internal).
 *
 * Two kinds of credentials, which combine (README, "Signed tokens"):
 *   - the static tokens (publish_token, subscribe_token): one secret
 *     each, which opens every topic;
 *   - signed tokens (jwt_key, jwtkey.h): each names the topics it may
 *     subscribe to and publish to. A token that is not the static one is
 *     checked as a signed token when a key is configured.
 * A token comes from "Authorization: Bearer", or, to subscribe only (a
 * browser's EventSource cannot set headers), the ssehub_token cookie or
 * the access_token query parameter, first found in that order.
 *
 * Tokens are compared in constant time and never logged (http_auth.c).
 * Ownership: a struct sh_grant filled by sh_auth_*() owns its claims
 * until sh_grant_free(). Threads: MHD worker threads.
 */
#ifndef SH_HTTP_AUTH_H
#define SH_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

#include "claims.h"
#include "jwtkey.h"

struct ssehub;

enum sh_auth {
  SH_AUTH_OK,
  SH_AUTH_MISSING,   /* 401: no token given */
  SH_AUTH_WRONG,     /* 401: a token, not the right one */
  SH_AUTH_FORBIDDEN, /* 403: no token configured, not from loopback */
  SH_AUTH_JWT        /* 401: a signed token, refused (grant.jwt: why) */
};

/* What a request's credentials allow. */
struct sh_grant {
  bool limited;            /* false: every topic (no credentials needed,
                              or the static token) */
  struct sh_claims claims; /* limited: the signed token's claims */
  enum sh_jwt_err jwt;     /* SH_AUTH_JWT: why the token was refused */
};

/* Constant-time comparison of given[0..given_len) with token. */
bool sh_token_equal(const char *given, size_t given_len, const char *token);

/* Whether the request may publish, and to which topics (*g). g NULL:
 * signed tokens are not accepted (the admin URLs, "allowed as publishing
 * is": the static token, or the no-token policy). Without a static
 * publish token, a request with no bearer token gets the no-token policy
 * (publish_open, else loopback only) and every topic, as before signed
 * tokens; with a key configured, a refused one is 401, not 403. */
enum sh_auth sh_auth_publish(struct ssehub *hub, struct MHD_Connection *conn,
                             struct sh_grant *g);

/* Whether the request may open a stream, and which topics (*g). Open to
 * all when neither a subscribe token nor a key is configured. */
enum sh_auth sh_auth_subscribe(struct ssehub *hub, struct MHD_Connection *conn,
                               struct sh_grant *g);

/* Whether g allows subscribing to (publish false) or publishing to topic;
 * topic NULL is a publish without a topic (a broadcast): it needs "*". */
bool sh_grant_allows(const struct sh_grant *g, bool publish, const char *topic);

void sh_grant_free(struct sh_grant *g); /* NULL-safe */

/* Answer 401 (with WWW-Authenticate) or 403 and count it; g (may be
 * NULL) says why a signed token was refused. */
enum MHD_Result sh_auth_refuse(struct ssehub *hub, struct MHD_Connection *conn,
                               enum sh_auth why, const struct sh_grant *g);

/* Answer 403: the signed token does not allow this topic (NULL: a
 * broadcast); counted in unauthorized and jwt_forbidden. */
enum MHD_Result sh_auth_forbid_topic(struct ssehub *hub,
                                     struct MHD_Connection *conn, bool publish,
                                     const char *topic);

#endif /* SH_HTTP_AUTH_H */
