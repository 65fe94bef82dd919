/* check_clientaddr.c - client addresses as a user meets them: behind a
 * real nginx (Debian's nginx-light, running doc/nginx.conf with its ports,
 * certificate and paths substituted), forged X-Forwarded-For headers, and
 * IPv6 (the dual-stack default, --bind [::1], one /64 = one client).
 *
 *   - forged headers from an untrusted peer are ignored, a trusted peer's
 *     name the client: per-IP limits, loopback-only publishing, the
 *     access log (test_clientaddr_forged_direct);
 *   - through nginx: the headers and ":ok" arrive before any event, events
 *     arrive one at a time as published, per-IP limits hold per real
 *     client (several 127.0.0.x source addresses), a forged prefix sent
 *     to nginx is skipped (test_clientaddr_nginx_stream);
 *   - through nginx over TLS and HTTP/2: 20 streams on one connection, all
 *     live at once (curl --http2 --parallel) (test_clientaddr_nginx_http2);
 *   - IPv6: the default listens on IPv4 and IPv6, an IPv4 client through
 *     the dual-stack socket is the same client (limit, log) as ever;
 *     stream and publish over [::1]; in a network namespace of the test's
 *     own (unshare, root), two addresses of one /64 share a per-IP limit,
 *     another /64 does not, and --ipv6-prefix 128 separates them.
 *
 * Needs nginx, openssl, curl and ip (scripts/deps.txt); a missing one
 * fails the test.
 */
#define _GNU_SOURCE
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "testlib.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

/* ---- helpers --------------------------------------------------------------- */

/* Replace the first `from` in *s by `to` (reallocating); fails the test
 * when the shipped file no longer has it. */
static void replace(char **s, const char *from, const char *to)
{
  char *p = strstr(*s, from), *out;
  size_t a, fl = strlen(from), tl = strlen(to), n = strlen(*s);

  ck_assert_msg(NULL != p, "doc/nginx.conf has no '%s'", from);
  a = (size_t) (p - *s);
  out = malloc(n - fl + tl + 1);
  ck_assert_ptr_nonnull(out);
  memcpy(out, *s, a);
  memcpy(out + a, to, tl);
  memcpy(out + a + tl, p + fl, n - a - fl + 1);
  free(*s);
  *s = out;
}

static pid_t spawn(const char *const *argv, const char *out_path)
{
  pid_t pid = fork();

  ck_assert_int_ge(pid, 0);
  if (0 == pid) {
    int fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execvp(argv[0], (char *const *) argv);
    _exit(127);
  }
  return pid;
}

static void stop(pid_t pid)
{
  int st;

  if (pid <= 0)
    return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 500; i++) {
    if (pid == waitpid(pid, &st, WNOHANG))
      return;
    tl_sleep_ms(10);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
}

static bool tool(const char *name)
{
  char cmd[128];

  snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
  return 0 == system(cmd);
}

/* A connected TCP socket from src (NULL: any) to dst:port, either family;
 * 5 s timeouts. -1 on failure. */
static int connect_any(const char *dst, uint16_t port, const char *src)
{
  struct sockaddr_storage d, s;
  socklen_t len;
  struct timeval tv = { 5, 0 };
  bool v6 = NULL != strchr(dst, ':');
  int fd;

  memset(&d, 0, sizeof(d));
  memset(&s, 0, sizeof(s));
  if (v6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *) &d;

    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ck_assert_int_eq(inet_pton(AF_INET6, dst, &a->sin6_addr), 1);
    len = sizeof(*a);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *) &d;

    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    ck_assert_int_eq(inet_pton(AF_INET, dst, &a->sin_addr), 1);
    len = sizeof(*a);
  }
  fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (NULL != src) {
    s.ss_family = d.ss_family;
    if (v6)
      ck_assert_int_eq(inet_pton(AF_INET6, src,
                                 &((struct sockaddr_in6 *) &s)->sin6_addr),
                       1);
    else
      ck_assert_int_eq(inet_pton(AF_INET, src,
                                 &((struct sockaddr_in *) &s)->sin_addr),
                       1);
    if (0 != bind(fd, (struct sockaddr *) &s, len)) {
      close(fd);
      return -1;
    }
  }
  if (0 != connect(fd, (struct sockaddr *) &d, len)) {
    close(fd);
    return -1;
  }
  return fd;
}

/* GET /sse to dst:port from src with extra headers; s is the stream. */
static void open_stream(struct tl_sse *s, const char *dst, uint16_t port,
                        const char *src, const char *headers)
{
  char req[512];
  int n = snprintf(req, sizeof(req),
                   "GET /sse HTTP/1.1\r\nHost: localhost\r\n"
                   "Accept: text/event-stream\r\n%s\r\n",
                   NULL != headers ? headers : "");

  ck_assert_msg(0
                    == tl_sse_send(s, connect_any(dst, port, src), req,
                                   (size_t) n),
                "cannot connect from %s to %s port %u", src ? src : "-", dst,
                (unsigned) port);
}

/* The status of a stream's answer (0 if none within timeout_ms). */
static int stream_status(struct tl_sse *s, int timeout_ms)
{
  long long deadline = tl_now_ms() + timeout_ms;

  while (0 == s->status && tl_now_ms() < deadline)
    if (tl_sse_pump(s, 50) < 0)
      break;
  return s->status;
}

/* Whether the stream was refused for a limit: 429 (--when-full=429), or
 * a 200 whose body is an ssehub-overload event instead of ":ok" (the retry
 * mode of --when-full, issue 13 part 1): the tests hold either way. */
static bool refused(struct tl_sse *s, int timeout_ms)
{
  char frame[512];
  int i;

  if (429 == stream_status(s, timeout_ms))
    return true;
  if (200 != s->status)
    return false;
  for (i = 0; i < 3; i++) {
    if (tl_sse_next(s, frame, sizeof(frame), timeout_ms) < 0)
      return false;
    if (0 == strncmp(frame, ":ok", 3))
      return false;
    if (NULL != strstr(frame, "event: ssehub-overload"))
      return true;
  }
  return false;
}

/* POST /publish (form body) to dst:port from src with extra headers;
 * returns the status. */
static int publish(const char *dst, uint16_t port, const char *src,
                   const char *headers, const char *form)
{
  char req[1024];
  struct tl_sse s;
  int n = snprintf(req, sizeof(req),
                   "POST /publish HTTP/1.1\r\nHost: localhost\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
                   strlen(form), NULL != headers ? headers : "", form);
  int status;

  ck_assert_int_eq(tl_sse_send(&s, connect_any(dst, port, src), req,
                               (size_t) n),
                   0);
  status = stream_status(&s, 5000 * tl_scale());
  tl_sse_close(&s);
  return status;
}

/* ssehub started by the test itself, for listen addresses testlib's
 * tl_server_start() (always --bind 127.0.0.1) does not give. */
struct own_server {
  pid_t pid;
  uint16_t port;
  char url[96];
  char log[64];
};

static void own_start(struct own_server *o, const char *const *args)
{
  const char *argv[40];
  int n = 0;
  long long deadline;

  memset(o, 0, sizeof(*o));
  snprintf(o->log, sizeof(o->log), "/tmp/ssehub-addr-XXXXXX");
  close(mkstemp(o->log));
  argv[n++] = tl_bin();
  for (; NULL != *args; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  o->pid = spawn(argv, o->log);
  deadline = tl_now_ms() + 5000 * tl_scale();
  while (tl_now_ms() < deadline) {
    char *log = tl_read_file(o->log, NULL);
    const char *p = NULL != log ? strstr(log, "listening on ") : NULL;

    if (NULL != p) {
      const char *end = strchr(p + 13, ' '), *colon;

      snprintf(o->url, sizeof(o->url), "%.*s", (int) (end - p - 13), p + 13);
      colon = strrchr(o->url, ':');
      o->port = (uint16_t) atoi(colon + 1);
      free(log);
      return;
    }
    free(log);
    tl_sleep_ms(20);
  }
  ck_abort_msg("ssehub did not start: %s", o->log);
}

static bool own_log_contains(const struct own_server *o, const char *text)
{
  char *log = tl_read_file(o->log, NULL);
  bool found = NULL != log && NULL != strstr(log, text);

  free(log);
  return found;
}

/* The log lines are written by the sink's own thread: poll for them. */
static bool own_log_within(const struct own_server *o, const char *text)
{
  long long deadline = tl_now_ms() + 3000 * tl_scale();

  while (!own_log_contains(o, text) && tl_now_ms() < deadline)
    tl_sleep_ms(20);
  return own_log_contains(o, text);
}

static bool log_within(const struct tl_server *s, const char *text)
{
  long long deadline = tl_now_ms() + 3000 * tl_scale();

  while (!tl_server_log_contains(s, text) && tl_now_ms() < deadline)
    tl_sleep_ms(20);
  return tl_server_log_contains(s, text);
}

static void own_stop(struct own_server *o)
{
  stop(o->pid);
  unlink(o->log);
}

/* ---- forged headers, no proxy ---------------------------------------------- */

START_TEST(test_clientaddr_forged_direct)
{
  const char *args[] = { "--trusted-proxy",
                         "127.0.0.2",
                         "--max-clients-per-ip",
                         "1",
                         "--access-log",
                         "-",
                         NULL };
  struct tl_server srv;
  struct tl_sse a, b, c, d, e, f, g;

  tl_server_start_ok(&srv, args);
  /* From 127.0.0.1, not trusted: the header is ignored, both are 127.0.0.1
   * and the second is over the limit of one. */
  open_stream(&a, "127.0.0.1", srv.port, "127.0.0.1",
              "X-Forwarded-For: 203.0.113.1\r\n");
  ck_assert(tl_sse_got_ok(&a, 3000 * tl_scale()));
  open_stream(&b, "127.0.0.1", srv.port, "127.0.0.1",
              "X-Forwarded-For: 203.0.113.2\r\n");
  ck_assert(refused(&b, 3000 * tl_scale()));
  /* From the trusted 127.0.0.2: the header names the client. */
  open_stream(&c, "127.0.0.1", srv.port, "127.0.0.2",
              "X-Forwarded-For: 203.0.113.1\r\n");
  ck_assert(tl_sse_got_ok(&c, 3000 * tl_scale()));
  open_stream(&d, "127.0.0.1", srv.port, "127.0.0.2",
              "Forwarded: for=203.0.113.2\r\n");
  ck_assert(tl_sse_got_ok(&d, 3000 * tl_scale()));
  open_stream(&e, "127.0.0.1", srv.port, "127.0.0.2",
              "X-Forwarded-For: 127.0.0.1, 203.0.113.1\r\n");
  ck_assert(refused(&e, 3000 * tl_scale()));
  /* A hop that is no address: the client is the proxy itself, said once
   * in the log; a second such stream is the proxy's second. */
  open_stream(&f, "127.0.0.1", srv.port, "127.0.0.2",
              "X-Forwarded-For: unknown\r\n");
  ck_assert(tl_sse_got_ok(&f, 3000 * tl_scale()));
  open_stream(&g, "127.0.0.1", srv.port, "127.0.0.2",
              "Forwarded: for=_hidden\r\n");
  ck_assert(refused(&g, 3000 * tl_scale()));
  ck_assert(log_within(&srv, "trusted proxy 127.0.0.2 sent"));
  /* Loopback-only publishing: a trusted proxy's remote client is not
   * loopback; an untrusted loopback peer's header changes nothing. */
  ck_assert_int_eq(publish("127.0.0.1", srv.port, "127.0.0.2",
                           "X-Forwarded-For: 203.0.113.9\r\n", "data=x"),
                   403);
  ck_assert_int_eq(publish("127.0.0.1", srv.port, "127.0.0.1",
                           "X-Forwarded-For: 203.0.113.9\r\n", "data=y"),
                   200);
  /* The access log names the real clients. */
  ck_assert(log_within(&srv, "access 127.0.0.1 \"GET /sse\" "));
  ck_assert(log_within(&srv, "access 203.0.113.1 \"GET /sse\" "));
  ck_assert(log_within(&srv, "access 203.0.113.9 \"POST /publish\" 403"));
  ck_assert(log_within(&srv, "access 127.0.0.1 \"POST /publish\" 200"));
  tl_sse_close(&a);
  tl_sse_close(&b);
  tl_sse_close(&c);
  tl_sse_close(&d);
  tl_sse_close(&e);
  tl_sse_close(&f);
  tl_sse_close(&g);
  tl_server_stop_ok(&srv);
}
END_TEST

/* --trusted-proxy is live: a reload that drops the proxy makes its
 * headers ignored from the next request on. */
START_TEST(test_clientaddr_trusted_proxy_reload)
{
  char conf[] = "/tmp/ssehub-addr-conf-XXXXXX";
  const char *args[] = { "--config", conf, NULL };
  struct tl_server srv;
  struct tl_sse a, b, c, d;
  FILE *f;
  int fd = mkstemp(conf);

  ck_assert_int_ge(fd, 0);
  close(fd);
  f = fopen(conf, "w");
  ck_assert_ptr_nonnull(f);
  fputs("max-clients-per-ip = 1\ntrusted-proxy = 127.0.0.2\n", f);
  fclose(f);
  tl_server_start_ok(&srv, args);
  open_stream(&a, "127.0.0.1", srv.port, "127.0.0.2",
              "X-Forwarded-For: 203.0.113.1\r\n");
  ck_assert(tl_sse_got_ok(&a, 3000 * tl_scale()));
  open_stream(&b, "127.0.0.1", srv.port, "127.0.0.2",
              "X-Forwarded-For: 203.0.113.2\r\n");
  ck_assert(tl_sse_got_ok(&b, 3000 * tl_scale()));
  f = fopen(conf, "w");
  ck_assert_ptr_nonnull(f);
  fputs("max-clients-per-ip = 1\n", f);
  fclose(f);
  kill(srv.pid, SIGHUP);
  ck_assert(log_within(&srv, "reloaded"));
  ck_assert(!tl_server_log_contains(&srv, "trusted-proxy changed"));
  /* Now 127.0.0.2 is the client: its first stream is in, the second,
   * whatever its header says, over the limit. */
  open_stream(&c, "127.0.0.1", srv.port, "127.0.0.2",
              "X-Forwarded-For: 203.0.113.3\r\n");
  ck_assert(tl_sse_got_ok(&c, 3000 * tl_scale()));
  open_stream(&d, "127.0.0.1", srv.port, "127.0.0.2",
              "X-Forwarded-For: 203.0.113.4\r\n");
  ck_assert(refused(&d, 3000 * tl_scale()));
  tl_sse_close(&a);
  tl_sse_close(&b);
  tl_sse_close(&c);
  tl_sse_close(&d);
  tl_server_stop_ok(&srv);
  unlink(conf);
}
END_TEST

/* ---- nginx ------------------------------------------------------------------ */

struct nginx {
  pid_t pid;
  char dir[64];
  uint16_t plain, tls;
};

static void nginx_start(struct nginx *n, uint16_t upstream)
{
  char *conf, path[160], buf[512], cmd[512];
  const char *argv[10];
  FILE *f;
  long long deadline;
  int fd = -1;

  ck_assert_msg(tool("nginx") || 0 == access("/usr/sbin/nginx", X_OK),
                "nginx is missing (apt-get install nginx-light; "
                "scripts/deps.txt)");
  ck_assert_msg(tool("openssl"), "openssl is missing");
  memset(n, 0, sizeof(*n));
  snprintf(n->dir, sizeof(n->dir), "/tmp/ssehub-nginx-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(n->dir));
  snprintf(cmd, sizeof(cmd),
           "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
           "/CN=localhost -keyout %s/key.pem -out %s/cert.pem "
           ">%s/openssl.log 2>&1",
           n->dir, n->dir, n->dir);
  ck_assert_msg(0 == system(cmd), "openssl could not make a certificate");
  n->plain = tl_free_port();
  n->tls = tl_free_port();
  ck_assert(0 != n->plain && 0 != n->tls && n->plain != n->tls);

  snprintf(path, sizeof(path), "%s/doc/nginx.conf", TOP_SRCDIR);
  conf = tl_read_file(path, NULL);
  ck_assert_msg(NULL != conf, "cannot read %s", path);
  snprintf(buf, sizeof(buf),
           "worker_processes 1;\ndaemon off;\npid %s/nginx.pid;\n"
           "error_log %s/error.log info;",
           n->dir, n->dir);
  replace(&conf, "worker_processes auto;", buf);
  snprintf(buf, sizeof(buf),
           "http {\n    access_log %s/access.log;\n"
           "    client_body_temp_path %s/body;\n"
           "    proxy_temp_path %s/proxy;\n",
           n->dir, n->dir, n->dir);
  replace(&conf, "http {\n", buf);
  snprintf(buf, sizeof(buf), "server 127.0.0.1:%u;", (unsigned) upstream);
  replace(&conf, "server 127.0.0.1:8888;", buf);
  /* The TLS + HTTP/2 listener, and a plain HTTP/1.1 one for the C
   * clients (same server block, same proxying). */
  snprintf(buf, sizeof(buf),
           "listen 127.0.0.1:%u ssl http2;\n        listen 127.0.0.1:%u;",
           (unsigned) n->tls, (unsigned) n->plain);
  replace(&conf, "listen 443 ssl http2;", buf);
  replace(&conf, "listen [::]:443 ssl http2;", "");
  snprintf(buf, sizeof(buf), "%s/cert.pem", n->dir);
  replace(&conf, "/etc/ssl/certs/example.com.pem", buf);
  snprintf(buf, sizeof(buf), "%s/key.pem", n->dir);
  replace(&conf, "/etc/ssl/private/example.com.key", buf);
  snprintf(path, sizeof(path), "%s/nginx.conf", n->dir);
  f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(conf, f);
  fclose(f);
  free(conf);

  argv[0] = access("/usr/sbin/nginx", X_OK) == 0 ? "/usr/sbin/nginx" : "nginx";
  argv[1] = "-p";
  argv[2] = n->dir;
  argv[3] = "-c";
  argv[4] = path;
  argv[5] = "-e";
  snprintf(buf, sizeof(buf), "%s/error.log", n->dir);
  argv[6] = buf;
  argv[7] = NULL;
  snprintf(cmd, sizeof(cmd), "%s/nginx.out", n->dir);
  n->pid = spawn(argv, cmd);
  deadline = tl_now_ms() + 5000 * tl_scale();
  while (tl_now_ms() < deadline
         && (fd = connect_any("127.0.0.1", n->plain, NULL)) < 0)
    tl_sleep_ms(20);
  if (fd < 0) {
    snprintf(cmd, sizeof(cmd), "cat %s/nginx.out %s/error.log >&2", n->dir,
             n->dir);
    (void) system(cmd);
    ck_abort_msg("nginx did not start");
  }
  close(fd);
}

static void nginx_stop(struct nginx *n)
{
  char cmd[128];

  stop(n->pid);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", n->dir);
  (void) system(cmd);
}

START_TEST(test_clientaddr_nginx_stream)
{
  const char *args[] = { "--trusted-proxy",
                         "127.0.0.1",
                         "--max-clients-per-ip",
                         "2",
                         "--access-log",
                         "-",
                         NULL };
  struct tl_server srv;
  struct nginx ng;
  struct tl_sse s, more[4];
  char frame[256], want[64];
  int i;

  tl_server_start_ok(&srv, args);
  nginx_start(&ng, srv.port);

  /* Headers and ":ok" through nginx, with no event published. */
  open_stream(&s, "127.0.0.1", ng.plain, "127.0.0.2", NULL);
  ck_assert_msg(tl_sse_got_ok(&s, 3000 * tl_scale()),
                "no :ok through nginx (status %d)", s.status);
  ck_assert(NULL != tl_find_header(s.head, s.head_len, "Content-Type"));
  ck_assert_ptr_nonnull(strstr(s.head, "text/event-stream"));

  /* Unbuffered: each event arrives on its own, soon after its publish,
   * before the next one is published. */
  for (i = 0; i < 5; i++) {
    long long t0, dt;

    snprintf(want, sizeof(want), "data=through-nginx-%d", i);
    t0 = tl_now_ms();
    ck_assert_int_eq(tl_publish_form(srv.port, want, NULL), 200);
    ck_assert_int_ge(tl_sse_next_event(&s, frame, sizeof(frame),
                                       2000 * tl_scale()),
                     0);
    dt = tl_now_ms() - t0;
    snprintf(want, sizeof(want), "data: through-nginx-%d", i);
    ck_assert_msg(NULL != strstr(frame, want), "got '%s', want '%s'", frame,
                  want);
    ck_assert_msg(dt < 500 * tl_scale(), "event %d took %lld ms", i, dt);
    fprintf(stderr,
            "through nginx: event %d arrived %lld ms after its publish\n", i,
            dt);
    ck_assert_int_lt(tl_sse_take(&s, frame, sizeof(frame)), 0);
    tl_sleep_ms(100);
  }

  /* Per real client: 127.0.0.2 holds one, gets one more, then 429;
   * 127.0.0.3 has its own two. */
  open_stream(&more[0], "127.0.0.1", ng.plain, "127.0.0.2", NULL);
  ck_assert(tl_sse_got_ok(&more[0], 3000 * tl_scale()));
  open_stream(&more[1], "127.0.0.1", ng.plain, "127.0.0.2", NULL);
  ck_assert(refused(&more[1], 3000 * tl_scale()));
  open_stream(&more[2], "127.0.0.1", ng.plain, "127.0.0.3", NULL);
  ck_assert(tl_sse_got_ok(&more[2], 3000 * tl_scale()));
  /* A client's forged prefix: nginx appends the real 127.0.0.4, which
   * is what counts, not the full 127.0.0.2. */
  open_stream(&more[3], "127.0.0.1", ng.plain, "127.0.0.4",
              "X-Forwarded-For: 127.0.0.2\r\n");
  ck_assert(tl_sse_got_ok(&more[3], 3000 * tl_scale()));
  ck_assert_int_eq(tl_stat(srv.port, "clients"), 4);
  ck_assert(log_within(&srv, "access 127.0.0.2 \"GET /sse\" "));
  {
    /* One refusal, whichever --when-full answered it. */
    long long r = tl_stat(srv.port, "rejected_per_ip");
    long long o = tl_stat(srv.port, "overload_per_ip");

    ck_assert_int_eq((r > 0 ? r : 0) + (o > 0 ? o : 0), 1);
  }
  for (i = 0; i < 4; i++)
    tl_sse_close(&more[i]);
  tl_sse_close(&s);
  nginx_stop(&ng);
  tl_server_stop_ok(&srv);
}
END_TEST

/* ESTABLISHED TCP connections whose local port is port (the server's
 * side of each connection to it), from /proc/net/tcp. */
static int established_to(uint16_t port)
{
  FILE *f = fopen("/proc/net/tcp", "r");
  char line[512];
  int n = 0;

  ck_assert_ptr_nonnull(f);
  while (NULL != fgets(line, sizeof(line), f)) {
    unsigned lport, st;

    if (2 == sscanf(line, " %*d: %*8X:%X %*8X:%*X %X", &lport, &st)
        && lport == port && 0x01 == st)
      n++;
  }
  fclose(f);
  return n;
}

START_TEST(test_clientaddr_nginx_http2)
{
  const char *args[] = { "--trusted-proxy", "127.0.0.1", NULL };
  struct tl_server srv;
  struct nginx ng;
  char url[20][96], out[160], *argv[64], buf[4096];
  int i, n = 0, fds[2], seen = 0, conns;
  pid_t curl;
  long long deadline;
  size_t have = 0;
  char *acc;

  ck_assert_msg(tool("curl"), "curl is missing");
  tl_server_start_ok(&srv, args);
  nginx_start(&ng, srv.port);
  argv[n++] = "curl";
  argv[n++] = "--http2";
  argv[n++] = "-k";
  argv[n++] = "-s";
  argv[n++] = "--no-progress-meter";
  argv[n++] = "-N";
  argv[n++] = "--parallel";
  argv[n++] = "--parallel-max";
  argv[n++] = "20";
  argv[n++] = "--max-time";
  argv[n++] = "30";
  for (i = 0; i < 20; i++) {
    snprintf(url[i], sizeof(url[i]), "https://127.0.0.1:%u/sse?s=%d",
             (unsigned) ng.tls, i);
    argv[n++] = url[i];
  }
  argv[n] = NULL;
  ck_assert_int_eq(pipe(fds), 0);
  curl = fork();
  ck_assert_int_ge(curl, 0);
  if (0 == curl) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], 1);
    close(fds[0]);
    execvp(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  /* All 20 streams are in at ssehub, over one TLS connection to nginx. */
  ck_assert_int_eq(tl_wait_stat(srv.port, "clients", 20, 10000 * tl_scale()),
                   20);
  conns = established_to(ng.tls);
  ck_assert_msg(1 == conns, "%d connections to nginx's TLS port", conns);
  /* And all live: one publish reaches every one of them. */
  ck_assert_int_eq(tl_publish_form(srv.port, "data=h2-all-live", NULL), 200);
  acc = calloc(1, 1 << 16);
  ck_assert_ptr_nonnull(acc);
  deadline = tl_now_ms() + 5000 * tl_scale();
  while (seen < 20 && tl_now_ms() < deadline) {
    struct pollfd p = { .fd = fds[0], .events = POLLIN };
    ssize_t r;

    if (poll(&p, 1, 100) <= 0)
      continue;
    r = read(fds[0], buf, sizeof(buf));
    if (r <= 0)
      break;
    if (have + (size_t) r < (1 << 16) - 1) {
      memcpy(acc + have, buf, (size_t) r);
      have += (size_t) r;
    }
    seen = 0;
    for (char *p2 = acc; NULL != (p2 = strstr(p2, "data: h2-all-live")); p2++)
      seen++;
  }
  fprintf(stderr, "HTTP/2: %d of 20 streams got the event, %d connection(s)\n",
          seen, conns);
  snprintf(out, sizeof(out), "%d of 20 streams got the event", seen);
  ck_assert_msg(20 == seen, "%s", out);
  free(acc);
  kill(curl, SIGTERM);
  waitpid(curl, NULL, 0);
  close(fds[0]);
  nginx_stop(&ng);
  tl_server_stop_ok(&srv);
}
END_TEST

/* ---- IPv6 --------------------------------------------------------------------- */

START_TEST(test_clientaddr_dual_stack_default)
{
  const char *args[] = { "--port",
                         "0",
                         "--max-clients-per-ip",
                         "1",
                         "--access-log",
                         "-",
                         "--trusted-proxy",
                         "127.0.0.1",
                         NULL };
  struct own_server o;
  struct tl_sse v4, v4b, v6;
  char frame[256];

  own_start(&o, args);
  /* Both families on the one default socket, URL in brackets. */
  ck_assert_msg(0 == strncmp(o.url, "http://[::]:", 12), "url %s", o.url);
  open_stream(&v4, "127.0.0.1", o.port, NULL, NULL);
  ck_assert(tl_sse_got_ok(&v4, 3000 * tl_scale()));
  /* The IPv4 client arrived as ::ffff:127.0.0.1: still the same client
   * for the per-IP limit. */
  open_stream(&v4b, "127.0.0.1", o.port, NULL, NULL);
  ck_assert(refused(&v4b, 3000 * tl_scale()));
  open_stream(&v6, "::1", o.port, NULL, NULL);
  ck_assert(tl_sse_got_ok(&v6, 3000 * tl_scale()));
  /* Publishing over [::1] is loopback publishing. */
  ck_assert_int_eq(publish("::1", o.port, NULL, NULL, "data=over-v6"), 200);
  ck_assert_int_ge(tl_sse_next_event(&v6, frame, sizeof(frame),
                                     3000 * tl_scale()),
                   0);
  ck_assert_ptr_nonnull(strstr(frame, "data: over-v6"));
  ck_assert_int_ge(tl_sse_next_event(&v4, frame, sizeof(frame),
                                     3000 * tl_scale()),
                   0);
  ck_assert_ptr_nonnull(strstr(frame, "data: over-v6"));
  /* A trusted IPv4 proxy is trusted as ::ffff:127.0.0.1 too: its header
   * names the client, who is not loopback. */
  ck_assert_int_eq(publish("127.0.0.1", o.port, NULL,
                           "X-Forwarded-For: 198.51.100.7\r\n", "data=no"),
                   403);
  ck_assert(own_log_within(&o, "access 198.51.100.7 \"POST /publish\" 403"));
  /* Logs print IPv4 as IPv4, never ::ffff:. */
  ck_assert(own_log_within(&o, "access 127.0.0.1 \"GET /sse\" "));
  ck_assert(own_log_within(&o, "access ::1 \"POST /publish\" 200"));
  ck_assert(!own_log_contains(&o, "::ffff:"));
  tl_sse_close(&v4);
  tl_sse_close(&v4b);
  tl_sse_close(&v6);
  own_stop(&o);
}
END_TEST

START_TEST(test_clientaddr_bind_v6)
{
  const char *args[] = { "--bind", "[::1]", "--port", "0", NULL };
  const char *args2[] = { "--bind", "::1", "--port", "0", NULL };
  struct own_server o;
  struct tl_sse s;

  own_start(&o, args);
  ck_assert_msg(0 == strncmp(o.url, "http://[::1]:", 13), "url %s", o.url);
  open_stream(&s, "::1", o.port, NULL, NULL);
  ck_assert(tl_sse_got_ok(&s, 3000 * tl_scale()));
  tl_sse_close(&s);
  /* Only ::1: not IPv4. */
  ck_assert_int_lt(connect_any("127.0.0.1", o.port, NULL), 0);
  own_stop(&o);
  own_start(&o, args2);
  ck_assert_msg(0 == strncmp(o.url, "http://[::1]:", 13), "url %s", o.url);
  own_stop(&o);
}
END_TEST

/* In a network namespace of this test process's own: three addresses on
 * lo, two in 2001:db8:1:2::/64 and one in the next /64. */
static void own_netns(void)
{
  ck_assert_msg(tool("ip"), "ip (iproute2) is missing");
  ck_assert_msg(0 == unshare(CLONE_NEWNET),
                "unshare(CLONE_NEWNET): %s (the test needs root)",
                strerror(errno));
  ck_assert_int_eq(system("ip link set lo up && "
                          "ip -6 addr add 2001:db8:1:2::1/64 dev lo nodad && "
                          "ip -6 addr add 2001:db8:1:2::2/64 dev lo nodad && "
                          "ip -6 addr add 2001:db8:1:3::1/64 dev lo nodad"),
                   0);
}

START_TEST(test_clientaddr_ipv6_prefix)
{
  const char *args[] = { "--port", "0", "--max-clients-per-ip", "1", NULL };
  const char *args128[] = {
    "--port", "0", "--max-clients-per-ip", "1", "--ipv6-prefix", "128", NULL
  };
  struct own_server o;
  struct tl_sse a, b, c;

  /* Check runs each test in its own process: the namespace dies with it. */
  own_netns();
  own_start(&o, args);
  open_stream(&a, "2001:db8:1:2::1", o.port, "2001:db8:1:2::1", NULL);
  ck_assert(tl_sse_got_ok(&a, 3000 * tl_scale()));
  /* Another address of the same /64: the same client. */
  open_stream(&b, "2001:db8:1:2::1", o.port, "2001:db8:1:2::2", NULL);
  ck_assert(refused(&b, 3000 * tl_scale()));
  /* The next /64: another client. */
  open_stream(&c, "2001:db8:1:2::1", o.port, "2001:db8:1:3::1", NULL);
  ck_assert(tl_sse_got_ok(&c, 3000 * tl_scale()));
  /* Publishing from a global address is not loopback. */
  ck_assert_int_eq(publish("2001:db8:1:2::1", o.port, "2001:db8:1:3::1", NULL,
                           "data=x"),
                   403);
  tl_sse_close(&a);
  tl_sse_close(&b);
  tl_sse_close(&c);
  own_stop(&o);

  /* --ipv6-prefix 128: every address on its own. */
  own_start(&o, args128);
  open_stream(&a, "2001:db8:1:2::1", o.port, "2001:db8:1:2::1", NULL);
  ck_assert(tl_sse_got_ok(&a, 3000 * tl_scale()));
  open_stream(&b, "2001:db8:1:2::1", o.port, "2001:db8:1:2::2", NULL);
  ck_assert(tl_sse_got_ok(&b, 3000 * tl_scale()));
  tl_sse_close(&a);
  tl_sse_close(&b);
  own_stop(&o);
}
END_TEST

static Suite *clientaddr_suite(void)
{
  Suite *s = suite_create("clientaddr");
  TCase *direct = tcase_create("direct");
  TCase *proxy = tcase_create("nginx");
  TCase *v6 = tcase_create("ipv6");

  tcase_set_timeout(direct, 30);
  tcase_add_test(direct, test_clientaddr_forged_direct);
  tcase_add_test(direct, test_clientaddr_trusted_proxy_reload);
  suite_add_tcase(s, direct);
  tcase_set_timeout(proxy, 60);
  tcase_add_test(proxy, test_clientaddr_nginx_stream);
  tcase_add_test(proxy, test_clientaddr_nginx_http2);
  suite_add_tcase(s, proxy);
  tcase_set_timeout(v6, 30);
  tcase_add_test(v6, test_clientaddr_dual_stack_default);
  tcase_add_test(v6, test_clientaddr_bind_v6);
  tcase_add_test(v6, test_clientaddr_ipv6_prefix);
  suite_add_tcase(s, v6);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(clientaddr_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
