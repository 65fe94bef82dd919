/* http_auth.c - who may publish and subscribe (see http_auth.h).
 *
 * Tokens are compared in constant time (the time depends on the length of
 * the expected token only), so a client cannot find a token byte by byte
 * by timing answers. Tokens are never logged.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "conn.h"
#include "http_auth.h"
#include "hub.h"
#include "sync.h"

bool sh_token_equal(const char *given, size_t given_len, const char *token)
{
  size_t n = strlen(token), i;
  unsigned char diff = (unsigned char) (given_len != n);

  for (i = 0; i < n; i++)
    diff |= (unsigned char) (token[i] ^ (i < given_len ? given[i] : 0));
  return 0 == diff;
}

/* The token of an "Authorization: Bearer <token>" header, or NULL. */
static const char *bearer(struct MHD_Connection *conn)
{
  const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                              MHD_HTTP_HEADER_AUTHORIZATION);

  if (NULL == h || 0 != strncasecmp(h, "Bearer ", 7))
    return NULL;
  h += 7;
  while (' ' == *h)
    h++;
  return h;
}

/* The value of cookie name in the Cookie header, with its length. */
static const char *cookie(struct MHD_Connection *conn, const char *name,
                          size_t *len)
{
  const char *c = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                              MHD_HTTP_HEADER_COOKIE);
  size_t n = strlen(name);

  while (NULL != c && '\0' != *c) {
    while (' ' == *c || ';' == *c)
      c++;
    if (0 == strncmp(c, name, n) && '=' == c[n]) {
      c += n + 1;
      *len = strcspn(c, ";");
      return c;
    }
    c = strchr(c, ';');
  }
  return NULL;
}

/* The tokens are compared under conf_lock: a reload (ssehub_reload())
 * swaps and frees them under it, so the one compared is never freed
 * meanwhile. The comparison is short and does no I/O. */
static enum sh_auth check_token(struct ssehub *hub, const char *const *tok,
                                const char *t, size_t len)
{
  bool ok;

  sh_mutex_lock(&hub->conf_lock);
  /* Removed by a reload since has_token(): refuse this one request. */
  ok = NULL != *tok && sh_token_equal(t, len, *tok);
  sh_mutex_unlock(&hub->conf_lock);
  return ok ? SH_AUTH_OK : SH_AUTH_WRONG;
}

/* Whether a token is configured, and the policy without one (a reload
 * may change both). */
static bool has_token(struct ssehub *hub, const char *const *tok, int *open)
{
  bool has;

  sh_mutex_lock(&hub->conf_lock);
  has = NULL != *tok;
  if (NULL != open)
    *open = hub->opt.publish_open;
  sh_mutex_unlock(&hub->conf_lock);
  return has;
}

enum sh_auth sh_auth_publish(struct ssehub *hub, struct MHD_Connection *conn)
{
  const char *t;
  int open;

  if (!has_token(hub, &hub->opt.publish_token, &open)) {
    struct sh_ipkey k;

    if (open)
      return SH_AUTH_OK;
    return sh_http_client_key(hub, conn, &k) && sh_ipkey_is_loopback(&k)
               ? SH_AUTH_OK
               : SH_AUTH_FORBIDDEN;
  }
  t = bearer(conn);
  if (NULL == t)
    return SH_AUTH_MISSING;
  return check_token(hub, &hub->opt.publish_token, t, strlen(t));
}

enum sh_auth sh_auth_subscribe(struct ssehub *hub, struct MHD_Connection *conn)
{
  const char *const *tok = &hub->opt.subscribe_token, *t;
  size_t len;

  if (!has_token(hub, tok, NULL))
    return SH_AUTH_OK;
  /* Browsers' EventSource cannot set headers: a cookie or the query. */
  if (NULL != (t = bearer(conn)))
    return check_token(hub, tok, t, strlen(t));
  if (NULL != (t = cookie(conn, "ssehub_token", &len)))
    return check_token(hub, tok, t, len);
  t = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "access_token");
  if (NULL != t)
    return check_token(hub, tok, t, strlen(t));
  return SH_AUTH_MISSING;
}

enum MHD_Result sh_auth_refuse(struct ssehub *hub, struct MHD_Connection *conn,
                               enum sh_auth why)
{
  sh_count(&hub->n.unauthorized, 1);
  if (SH_AUTH_FORBIDDEN == why)
    return sh_http_reply(hub, conn, MHD_HTTP_FORBIDDEN, true,
                         "publishing is allowed from loopback only; use a "
                         "token (--publish-token-file) or --publish-open\n",
                         NULL);
  if (SH_AUTH_MISSING == why)
    return sh_http_reply(hub, conn, MHD_HTTP_UNAUTHORIZED, true,
                         "a bearer token is required\n",
                         MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                         "Bearer realm=\"ssehub\"", NULL);
  return sh_http_reply(hub, conn, MHD_HTTP_UNAUTHORIZED, true,
                       "invalid token\n", MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                       "Bearer realm=\"ssehub\", error=\"invalid_token\"",
                       NULL);
}
