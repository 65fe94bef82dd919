/* http_auth.c - who may publish and subscribe (see http_auth.h).
 *
 * Tokens are compared in constant time (the time depends on the length of
 * the expected token only), so a client cannot find a token byte by byte
 * by timing answers. Tokens are never logged.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conn.h"
#include "http_auth.h"
#include "hub.h"
#include "protocol_limits.h"
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

/* A reference to the key in force, or NULL; a reload may replace it
 * meanwhile, this request keeps checking against the one it took. The
 * check itself (a signature: 4 us for HS256, 30 us for RS256, 130 us for
 * ES256, measured) runs without the lock. */
static struct sh_jwt_key *jwt_key(struct ssehub *hub)
{
  struct sh_jwt_key *k;

  sh_mutex_lock(&hub->conf_lock);
  k = sh_jwt_key_ref(hub->jwt);
  sh_mutex_unlock(&hub->conf_lock);
  return k;
}

/* t[0..len): the static token (every topic), else, with a key, a signed
 * token (the topics of its claims). */
static enum sh_auth check_both(struct ssehub *hub, const char *const *tok,
                               struct sh_jwt_key *key, const char *t,
                               size_t len, struct sh_grant *g)
{
  enum sh_jwt_err e;

  if (SH_AUTH_OK == check_token(hub, tok, t, len))
    return SH_AUTH_OK;
  if (NULL == key || NULL == g)
    return SH_AUTH_WRONG;
  e = sh_jwt_verify(key, t, len, (int64_t) time(NULL), &g->claims);
  if (SH_JWT_OK != e) {
    g->jwt = e;
    return SH_AUTH_JWT;
  }
  g->limited = true;
  return SH_AUTH_OK;
}

static void grant_init(struct sh_grant *g)
{
  if (NULL != g) {
    memset(g, 0, sizeof(*g));
    g->jwt = SH_JWT_OK;
  }
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

enum sh_auth sh_auth_publish(struct ssehub *hub, struct MHD_Connection *conn,
                             struct sh_grant *g)
{
  struct sh_jwt_key *key = NULL != g ? jwt_key(hub) : NULL;
  const char *t = bearer(conn);
  enum sh_auth r;
  int open;

  grant_init(g);
  if (!has_token(hub, &hub->opt.publish_token, &open)
      && (NULL == t || NULL == key)) {
    struct sh_ipkey k;

    if (open || (sh_http_client_key(conn, &k) && sh_ipkey_is_loopback(&k)))
      r = SH_AUTH_OK;
    else
      r = NULL != key ? SH_AUTH_MISSING : SH_AUTH_FORBIDDEN;
  } else if (NULL == t) {
    r = SH_AUTH_MISSING;
  } else {
    r = check_both(hub, &hub->opt.publish_token, key, t, strlen(t), g);
  }
  sh_jwt_key_unref(key);
  return r;
}

enum sh_auth sh_auth_subscribe(struct ssehub *hub, struct MHD_Connection *conn,
                               struct sh_grant *g)
{
  const char *const *tok = &hub->opt.subscribe_token, *t;
  struct sh_jwt_key *key = jwt_key(hub);
  enum sh_auth r = SH_AUTH_MISSING;
  size_t len;

  grant_init(g);
  if (!has_token(hub, tok, NULL) && NULL == key)
    return SH_AUTH_OK;
  /* Browsers' EventSource cannot set headers: a cookie or the query. */
  if (NULL != (t = bearer(conn)))
    r = check_both(hub, tok, key, t, strlen(t), g);
  else if (NULL != (t = cookie(conn, "ssehub_token", &len)))
    r = check_both(hub, tok, key, t, len, g);
  else if (NULL
           != (t = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                               "access_token")))
    r = check_both(hub, tok, key, t, strlen(t), g);
  sh_jwt_key_unref(key);
  return r;
}

bool sh_grant_allows(const struct sh_grant *g, bool publish, const char *topic)
{
  const struct sh_topic_grant *tg;

  if (!g->limited)
    return true;
  tg = publish ? &g->claims.publish : &g->claims.subscribe;
  return NULL == topic ? tg->all : sh_claims_allows(tg, topic);
}

void sh_grant_free(struct sh_grant *g)
{
  if (NULL != g && g->limited) {
    sh_claims_free(&g->claims);
    g->limited = false;
  }
}

enum MHD_Result sh_auth_refuse(struct ssehub *hub, struct MHD_Connection *conn,
                               enum sh_auth why, const struct sh_grant *g)
{
  sh_count(&hub->n.unauthorized, 1);
  if (SH_AUTH_JWT == why) {
    const char *reason = sh_jwt_err_reason(NULL != g ? g->jwt
                                                     : SH_JWT_MALFORMED);
    char body[96], hdr[160];

    sh_count(&hub->n.jwt_refused, 1);
    snprintf(body, sizeof(body), "invalid token: %s\n", reason);
    /* RFC 6750 section 3: the reason, for the developer. */
    snprintf(hdr, sizeof(hdr),
             "Bearer realm=\"ssehub\", error=\"invalid_token\", "
             "error_description=\"%s\"",
             reason);
    return sh_http_reply(hub, conn, MHD_HTTP_UNAUTHORIZED, true, body,
                         MHD_HTTP_HEADER_WWW_AUTHENTICATE, hdr, NULL);
  }
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

enum MHD_Result sh_auth_forbid_topic(struct ssehub *hub,
                                     struct MHD_Connection *conn, bool publish,
                                     const char *topic)
{
  char body[SH_MAX_TOPIC_LEN + 128];

  sh_count(&hub->n.unauthorized, 1);
  sh_count(&hub->n.jwt_forbidden, 1);
  if (NULL == topic)
    snprintf(body, sizeof(body),
             "the token does not allow publishing without a topic (a "
             "broadcast needs \"*\" in its publish claim)\n");
  else
    snprintf(body, sizeof(body), "the token does not allow %s topic '%s'\n",
             publish ? "publishing to" : "subscribing to", topic);
  return sh_http_reply(hub, conn, MHD_HTTP_FORBIDDEN, true, body,
                       MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                       "Bearer realm=\"ssehub\", error=\"insufficient_scope\"",
                       NULL);
}
