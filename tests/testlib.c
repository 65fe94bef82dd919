/* testlib.c - helpers for the integration tests (see testlib.h). */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "testlib.h"

enum {
  ST_HEAD,
  ST_SIZE,
  ST_DATA,
  ST_DATA_CRLF,
  ST_TRAILER,
  ST_IDENTITY,
  ST_DONE
};

int tl_count_fds(pid_t pid)
{
  char path[64];
  struct dirent *e;
  DIR *d;
  int n = 0;

  snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
  d = opendir(path);
  if (NULL == d)
    return -1;
  while (NULL != (e = readdir(d)))
    if ('.' != e->d_name[0])
      n++;
  closedir(d);
  return n;
}

/* The number after "<field>:" in /proc/PID/status, or -1. */
static long proc_status(pid_t pid, const char *field)
{
  char path[64], line[256];
  size_t n = strlen(field);
  long v = -1;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
  f = fopen(path, "r");
  if (NULL == f)
    return -1;
  while (NULL != fgets(line, sizeof(line), f))
    if (0 == strncmp(line, field, n) && ':' == line[n])
      v = atol(line + n + 1);
  fclose(f);
  return v;
}

long tl_rss_kib(pid_t pid)
{
  return proc_status(pid, "VmRSS");
}

int tl_count_threads(pid_t pid)
{
  return (int) proc_status(pid, "Threads");
}

bool tl_instrumented(pid_t pid)
{
  const char *w = getenv("TL_SERVER_WRAPPER");
  char path[64], line[512];
  bool found = NULL != w && '\0' != w[0];
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/maps", (int) pid);
  f = fopen(path, "r");
  while (!found && NULL != f && NULL != fgets(line, sizeof(line), f))
    found = NULL != strstr(line, "libasan") || NULL != strstr(line, "libtsan");
  if (NULL != f)
    fclose(f);
  return found;
}

long long tl_now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tl_sleep_ms(int ms)
{
  struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

  while (0 != nanosleep(&ts, &ts) && EINTR == errno)
    ;
}

bool tl_flag_within(atomic_bool *flag, int ms)
{
  long long deadline = tl_now_ms() + ms;

  while (!atomic_load(flag) && tl_now_ms() < deadline)
    tl_sleep_ms(1);
  return atomic_load(flag);
}

const char *tl_bin(void)
{
  const char *b = getenv("SSEHUB_BIN");

  return NULL != b && '\0' != b[0] ? b : "src/ssehub";
}

/* ---- processes ------------------------------------------------------------ */

char *tl_read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t cap = 0, n = 0, r;

  if (NULL == f)
    return NULL;
  do {
    if (n + 4096 + 1 > cap) {
      cap = cap * 2 + 8192;
      buf = realloc(buf, cap);
    }
    r = fread(buf + n, 1, 4096, f);
    n += r;
  } while (r > 0);
  fclose(f);
  buf[n] = '\0';
  if (NULL != len)
    *len = n;
  return buf;
}

bool tl_server_log_contains(const struct tl_server *s, const char *text)
{
  char *log = tl_read_file(s->log_path, NULL);
  bool found = NULL != log && NULL != strstr(log, text);

  free(log);
  return found;
}

int tl_server_log_count(const struct tl_server *s, const char *text)
{
  char *log = tl_read_file(s->log_path, NULL);
  const char *p;
  int count = 0;

  ck_assert_ptr_nonnull(log);
  for (p = log; NULL != (p = strstr(p, text)); p += strlen(text))
    count++;
  free(log);
  return count;
}

void tl_server_hup_and_wait(const struct tl_server *s, const char *done)
{
  int before = tl_server_log_count(s, done);
  long long deadline = tl_now_ms() + 5000 * tl_scale();

  ck_assert_int_eq(0, kill(s->pid, SIGHUP));
  while (tl_server_log_count(s, done) == before && tl_now_ms() < deadline)
    tl_sleep_ms(10);
  if (tl_server_log_count(s, done) == before)
    tl_server_print_log(s);
  ck_assert_msg(tl_server_log_count(s, done) > before, "no '%s' after SIGHUP",
                done);
}

int tl_scale(void)
{
  const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
  int v = NULL != m ? atoi(m) : 1;

  return v > 0 ? v : 1;
}

/* $TL_SERVER_WRAPPER (e.g. "valgrind --error-exitcode=99") is split on
 * spaces and put in front of the server's command line. */
static int add_wrapper(const char **argv, char *buf, size_t cap)
{
  const char *w = getenv("TL_SERVER_WRAPPER");
  int argc = 0;
  char *tok, *save = NULL;

  if (NULL == w || '\0' == w[0])
    return 0;
  snprintf(buf, cap, "%s", w);
  for (tok = strtok_r(buf, " ", &save); NULL != tok && argc < 16;
       tok = strtok_r(NULL, " ", &save))
    argv[argc++] = tok;
  return argc;
}

int tl_server_nofile;

void tl_raise_nofile(void)
{
  struct rlimit rl;

  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

static int start(struct tl_server *s, const char *const *args, int *stdin_w);

int tl_server_start(struct tl_server *s, const char *const *args)
{
  return start(s, args, NULL);
}

int tl_server_start_piped(struct tl_server *s, const char *const *args,
                          int *stdin_w)
{
  return start(s, args, stdin_w);
}

static int start(struct tl_server *s, const char *const *args, int *stdin_w)
{
  int in[2] = { -1, -1 };
  static char wrapper[512];
  const char *argv[80];
  int argc, fd, i;
  long long deadline;

  memset(s, 0, sizeof(*s));
  snprintf(s->log_path, sizeof(s->log_path), "/tmp/ssehub-test-XXXXXX");
  fd = mkstemp(s->log_path);
  if (fd < 0)
    return -1;
  argc = add_wrapper(argv, wrapper, sizeof(wrapper));
  argv[argc++] = tl_bin();
  argv[argc++] = "--bind";
  argv[argc++] = "127.0.0.1";
  argv[argc++] = "--port";
  argv[argc++] = "0";
  for (i = 0; NULL != args && NULL != args[i] && argc < 78; i++)
    argv[argc++] = args[i];
  argv[argc] = NULL;
  if (NULL != stdin_w && 0 != pipe(in))
    return -1;
  s->pid = fork();
  if (0 == s->pid) {
    if (in[0] >= 0) {
      dup2(in[0], 0);
      close(in[1]);
    }
    /* A failed assertion ends the test process early: take the server
     * with it rather than leave it running. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (tl_server_nofile > 0) {
      struct rlimit rl = { (rlim_t) tl_server_nofile,
                           (rlim_t) tl_server_nofile };

      setrlimit(RLIMIT_NOFILE, &rl);
    }
    dup2(fd, 2);
    dup2(fd, 1);
    execvp(argv[0], (char *const *) argv);
    _exit(127);
  }
  close(fd);
  if (NULL != stdin_w) {
    close(in[0]);
    *stdin_w = in[1];
  }
  deadline = tl_now_ms() + 5000 * tl_scale();
  while (tl_now_ms() < deadline) {
    char *log = tl_read_file(s->log_path, NULL);
    /* "http://" or, with --tls-cert, "https://". */
    const char *p = NULL != log ? strstr(log, "listening on http") : NULL;

    if (NULL != p)
      p = strstr(p, "://127.0.0.1:");
    if (NULL != p) {
      s->port = (uint16_t) atoi(p + strlen("://127.0.0.1:"));
      free(log);
      return 0;
    }
    free(log);
    if (0 != waitpid(s->pid, NULL, WNOHANG))
      break;
    tl_sleep_ms(10);
  }
  kill(s->pid, SIGKILL);
  waitpid(s->pid, NULL, 0);
  s->pid = 0;
  return -1;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
  long long deadline = tl_now_ms() + timeout_ms;
  int status;

  while (tl_now_ms() < deadline) {
    pid_t r = waitpid(pid, &status, WNOHANG);

    if (r == pid)
      return status;
    if (r < 0)
      return -1;
    tl_sleep_ms(2);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return -1;
}

void tl_server_print_log(const struct tl_server *s)
{
  char *log = tl_read_file(s->log_path, NULL);

  fprintf(stderr, "---- server log:\n%s----\n", NULL != log ? log : "");
  free(log);
}

void tl_server_reaped(struct tl_server *s, int status)
{
  if (status < 0 || !WIFEXITED(status) || 0 != WEXITSTATUS(status)) {
    /* Show why (a sanitizer report, an abort message) in the test log. */
    fprintf(stderr, "server exit status %d\n", status);
    tl_server_print_log(s);
  }
  unlink(s->log_path);
  s->pid = 0;
}

int tl_server_stop(struct tl_server *s, int sig, int timeout_ms,
                   long long *elapsed_ms)
{
  long long t0 = tl_now_ms();
  int status;

  if (s->pid <= 0)
    return -1;
  kill(s->pid, sig);
  status = wait_exit(s->pid, timeout_ms * tl_scale());
  if (NULL != elapsed_ms)
    *elapsed_ms = tl_now_ms() - t0;
  tl_server_reaped(s, status);
  return status;
}

void tl_server_start_ok(struct tl_server *s, const char *const *args)
{
  ck_assert_msg(0 == tl_server_start(s, args), "server did not start (%s)",
                tl_bin());
}

void tl_server_stop_ok(struct tl_server *s)
{
  int st = tl_server_stop(s, SIGTERM, 5000, NULL);

  ck_assert_msg(st >= 0 && WIFEXITED(st) && 0 == WEXITSTATUS(st),
                "server did not exit 0 on SIGTERM (status %d)", st);
}

/* Read what fd gives into buf (cap bytes, NUL-terminated; the excess is
 * read and dropped so the writer never blocks on a full pipe). Returns
 * false at end of file. */
static bool drain_into(int fd, char *buf, size_t cap, size_t *len)
{
  char scratch[4096];
  bool room = *len + 1 < cap;
  ssize_t n = read(fd, room ? buf + *len : scratch,
                   room ? cap - 1 - *len : sizeof(scratch));

  if (n < 0)
    return EINTR == errno || EAGAIN == errno;
  if (0 == n)
    return false;
  if (room) {
    *len += (size_t) n;
    buf[*len] = '\0';
  }
  return true;
}

int tl_run_split(const char *const *args, char *out, size_t out_cap, char *err,
                 size_t err_cap, int timeout_ms)
{
  const char *argv[64];
  int po[2], pe[2] = { -1, -1 }, argc = 0, status, i;
  size_t no = 0, ne = 0;
  long long deadline = tl_now_ms() + timeout_ms;
  bool killed = false;
  pid_t pid;

  out[0] = '\0';
  if (NULL != err)
    err[0] = '\0';
  argv[argc++] = tl_bin();
  for (i = 0; NULL != args[i] && argc < 63; i++)
    argv[argc++] = args[i];
  argv[argc] = NULL;
  /* Close-on-exec: the program gets the write ends as 1 and 2 only. */
  if (0 != pipe2(po, O_CLOEXEC))
    return -1;
  if (NULL != err && 0 != pipe2(pe, O_CLOEXEC)) {
    close(po[0]);
    close(po[1]);
    return -1;
  }
  pid = fork();
  if (pid < 0) {
    close(po[0]);
    close(po[1]);
    if (pe[0] >= 0) {
      close(pe[0]);
      close(pe[1]);
    }
    return -1;
  }
  if (0 == pid) {
    int devnull = open("/dev/null", O_RDONLY);

    if (devnull >= 0)
      dup2(devnull, 0);
    dup2(po[1], 1);
    dup2(pe[1] >= 0 ? pe[1] : po[1], 2);
    execv(argv[0], (char *const *) argv);
    _exit(127);
  }
  close(po[1]);
  if (pe[1] >= 0)
    close(pe[1]);
  /* Until both pipes reach end of file: the program and anything it
   * started have closed them. */
  while (po[0] >= 0 || pe[0] >= 0) {
    struct pollfd pfd[2] = { { .fd = po[0], .events = POLLIN },
                             { .fd = pe[0], .events = POLLIN } };
    long long left = deadline - tl_now_ms();

    if (left <= 0) {
      killed = true;
      break;
    }
    if (poll(pfd, 2, (int) left) <= 0)
      continue;
    if (0 != pfd[0].revents && !drain_into(po[0], out, out_cap, &no)) {
      close(po[0]);
      po[0] = -1;
    }
    if (0 != pfd[1].revents && !drain_into(pe[0], err, err_cap, &ne)) {
      close(pe[0]);
      pe[0] = -1;
    }
  }
  if (po[0] >= 0)
    close(po[0]);
  if (pe[0] >= 0)
    close(pe[0]);
  if (killed)
    kill(pid, SIGKILL);
  if (pid != waitpid(pid, &status, 0))
    return -1;
  return killed ? -1 : status;
}

int tl_run(const char *const *args, char *out, size_t cap, int timeout_ms)
{
  return tl_run_split(args, out, cap, NULL, 0, timeout_ms);
}

/* ---- sockets ---------------------------------------------------------------- */

int tl_connect_slow(uint16_t port, const char *src, int rcvbuf, int mss)
{
  struct sockaddr_in a;
  struct timeval tv = { 5, 0 };
  int one = 1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (rcvbuf > 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  if (mss > 0)
    setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  if (NULL != src) {
    /* Choose the port at connect(): many connections per source address
     * (bind() alone would give each its own port, whatever the peer). */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    inet_pton(AF_INET, src, &a.sin_addr);
    if (0 != bind(fd, (struct sockaddr *) &a, sizeof(a)))
      goto fail;
  }
  a.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (0 != connect(fd, (struct sockaddr *) &a, sizeof(a)))
    goto fail;
  return fd;
fail:
  close(fd);
  return -1;
}

int tl_connect(uint16_t port, const char *src)
{
  return tl_connect_slow(port, src, 0, 0);
}

int tl_send_all(int fd, const void *data, size_t n)
{
  const char *p = data;

  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

    if (w < 0 && EINTR == errno)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t) w;
  }
  return 0;
}

/* ---- the body decoder ----------------------------------------------------- */

static void body_append(struct tl_sse *s, const char *p, size_t n)
{
  if (s->body_len + n + 1 > s->body_cap) {
    size_t cap = s->body_cap > 0 ? s->body_cap : 4096;

    while (cap < s->body_len + n + 1)
      cap *= 2;
    s->body = realloc(s->body, cap);
    s->body_cap = cap;
  }
  memcpy(s->body + s->body_len, p, n);
  s->body_len += n;
  s->body[s->body_len] = '\0';
}

static void parse_head(struct tl_sse *s)
{
  char te[64];
  struct tl_response tmp;

  s->status = atoi(s->head + 9);
  memcpy(tmp.head, s->head, sizeof(tmp.head));
  s->chunked = tl_header(&tmp, "Transfer-Encoding", te, sizeof(te))
               && NULL != strstr(te, "chunked");
  s->state = s->chunked ? ST_SIZE : ST_IDENTITY;
}

void tl_sse_feed(struct tl_sse *s, const char *p, size_t n)
{
  size_t i = 0;

  while (i < n) {
    char c = p[i];

    switch (s->state) {
    case ST_HEAD:
      if (s->head_len + 1 < sizeof(s->head))
        s->head[s->head_len++] = c;
      s->head[s->head_len] = '\0';
      i++;
      if (s->head_len >= 4
          && 0 == memcmp(s->head + s->head_len - 4, "\r\n\r\n", 4))
        parse_head(s);
      break;
    case ST_SIZE:
      i++;
      if ('\n' != c) {
        if (s->line_len + 1 < sizeof(s->line))
          s->line[s->line_len++] = c;
        break;
      }
      s->line[s->line_len] = '\0';
      s->chunk_left = strtoul(s->line, NULL, 16);
      s->line_len = 0;
      s->state = 0 == s->chunk_left ? ST_TRAILER : ST_DATA;
      break;
    case ST_DATA: {
      size_t take = n - i < s->chunk_left ? n - i : s->chunk_left;

      body_append(s, p + i, take);
      i += take;
      s->chunk_left -= take;
      if (0 == s->chunk_left) {
        s->state = ST_DATA_CRLF;
        s->line_len = 0;
      }
      break;
    }
    case ST_DATA_CRLF:
      i++;
      if ('\n' == c)
        s->state = ST_SIZE;
      break;
    case ST_TRAILER:
      i++;
      if ('\n' == c) {
        if (0 == s->line_len) {
          s->state = ST_DONE;
          s->ended = true;
        }
        s->line_len = 0;
      } else if ('\r' != c) {
        s->line_len++;
      }
      break;
    case ST_IDENTITY:
      body_append(s, p + i, n - i);
      i = n;
      break;
    default:
      i = n;
      break;
    }
  }
}

int tl_sse_send(struct tl_sse *s, int fd, const char *raw, size_t len)
{
  memset(s, 0, sizeof(*s));
  s->fd = fd;
  return fd >= 0 && 0 == tl_send_all(fd, raw, len) ? 0 : -1;
}

/* The GET of a stream, from src on a link with rcvbuf and mss (0: the
 * defaults). */
static int sse_open(struct tl_sse *s, uint16_t port, const char *path,
                    const char *extra_headers, const char *src, int rcvbuf,
                    int mss)
{
  char req[1024];
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Accept: text/event-stream\r\n%s\r\n",
                   path, NULL != extra_headers ? extra_headers : "");

  if (0
      != tl_sse_send(s, tl_connect_slow(port, src, rcvbuf, mss), req,
                     (size_t) n)) {
    tl_sse_close(s);
    return -1;
  }
  return 0;
}

int tl_sse_open(struct tl_sse *s, uint16_t port, const char *path,
                const char *extra_headers, const char *src)
{
  return sse_open(s, port, path, extra_headers, src, 0, 0);
}

int tl_sse_open_slow(struct tl_sse *s, uint16_t port, const char *path,
                     const char *src, int rcvbuf, int mss)
{
  return sse_open(s, port, path, NULL, src, rcvbuf, mss);
}

bool tl_sse_got_ok(struct tl_sse *s, int timeout_ms)
{
  char frame[128];

  return tl_sse_next(s, frame, sizeof(frame), timeout_ms) >= 0
         && 200 == s->status && 0 == strncmp(frame, ":ok\n", 4);
}

int tl_sse_open_crowd(struct tl_sse *s, int n, uint16_t port,
                      const struct tl_crowd *how)
{
  char src[32], path[64];
  long long deadline;
  int i, opened, ok = 0;

  for (i = 0; i < n; i++) {
    snprintf(src, sizeof(src), "127.0.0.%d", how->src0 + i % how->nsrc);
    if (NULL != how->topic_prefix)
      snprintf(path, sizeof(path), "/sse?topic=%s%d", how->topic_prefix,
               how->groups > 0 ? i % how->groups : 0);
    else
      snprintf(path, sizeof(path), "/sse");
    if (0 != sse_open(&s[i], port, path, NULL, src, how->rcvbuf, how->mss))
      break;
  }
  opened = i;
  deadline = tl_now_ms() + 30000 * tl_scale();
  for (i = 0; i < opened && tl_now_ms() < deadline; i++)
    if (tl_sse_got_ok(&s[i], 5000 * tl_scale()))
      ok++;
  return ok;
}

void tl_sse_close(struct tl_sse *s)
{
  if (s->fd >= 0)
    close(s->fd);
  s->fd = -1;
  free(s->body);
  s->body = NULL;
  s->body_len = s->body_cap = 0;
}

int tl_sse_pump(struct tl_sse *s, int timeout_ms)
{
  struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
  char buf[65536];
  ssize_t r;

  if (s->closed)
    return -1;
  if (poll(&pfd, 1, timeout_ms) <= 0)
    return 0;
  r = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
  if (r < 0 && (EAGAIN == errno || EINTR == errno))
    return 0;
  if (r <= 0) {
    s->closed = true;
    return -1;
  }
  tl_sse_feed(s, buf, (size_t) r);
  return (int) r;
}

int tl_sse_take(struct tl_sse *s, char *out, size_t cap)
{
  char *end;
  size_t len, n;

  if (0 == s->body_len)
    return -1;
  end = memmem(s->body, s->body_len, "\n\n", 2);
  if (NULL == end)
    return -1;
  len = (size_t) (end - s->body);
  n = len < cap - 1 ? len : cap - 1;
  memcpy(out, s->body, n);
  out[n] = '\0';
  memmove(s->body, end + 2, s->body_len - len - 2);
  s->body_len -= len + 2;
  return (int) len;
}

int tl_sse_next(struct tl_sse *s, char *out, size_t cap, int timeout_ms)
{
  long long deadline = tl_now_ms() + timeout_ms;

  for (;;) {
    int n = tl_sse_take(s, out, cap);
    long long left = deadline - tl_now_ms();

    if (n >= 0)
      return n;
    if (left <= 0 || tl_sse_pump(s, (int) left) < 0)
      return -1;
  }
}

int tl_sse_next_event(struct tl_sse *s, char *out, size_t cap, int timeout_ms)
{
  long long deadline = tl_now_ms() + timeout_ms;

  for (;;) {
    long long left = deadline - tl_now_ms();
    int n = tl_sse_next(s, out, cap, left > 0 ? (int) left : 0);

    if (n < 0 || ':' != out[0])
      return n;
  }
}

/* ---- one-shot requests ------------------------------------------------------ */

int tl_http_from(uint16_t port, const char *src, const char *raw,
                 size_t raw_len, struct tl_response *r, int timeout_ms)
{
  struct tl_sse s;
  long long deadline = tl_now_ms() + timeout_ms;

  memset(r, 0, sizeof(*r));
  r->status = -1;
  memset(&s, 0, sizeof(s));
  s.fd = tl_connect(port, src);
  if (s.fd < 0)
    return -1;
  if (0 != tl_send_all(s.fd, raw, raw_len)) {
    tl_sse_close(&s);
    return -1;
  }
  while (tl_now_ms() < deadline && !s.ended && !s.closed) {
    /* Content-Length bodies: done once that many bytes are in. */
    if (0 != s.status && !s.chunked) {
      struct tl_response h;
      char cl[32];

      memcpy(h.head, s.head, sizeof(h.head));
      if (tl_header(&h, "Content-Length", cl, sizeof(cl))
          && s.body_len >= (size_t) atol(cl))
        break;
    }
    tl_sse_pump(&s, 100);
  }
  r->status = s.status;
  memcpy(r->head, s.head, sizeof(r->head));
  r->body_len = s.body_len < sizeof(r->body) - 1 ? s.body_len
                                                 : sizeof(r->body) - 1;
  if (r->body_len > 0)
    memcpy(r->body, s.body, r->body_len);
  r->body[r->body_len] = '\0';
  tl_sse_close(&s);
  return 0 != r->status ? r->status : -1;
}

int tl_http(uint16_t port, const char *raw, size_t raw_len,
            struct tl_response *r)
{
  return tl_http_from(port, NULL, raw, raw_len, r, 5000);
}

int tl_publish_query(uint16_t port, const char *query, const char *data,
                     size_t len, struct tl_response *r, int timeout_ms)
{
  struct tl_response *local = NULL != r ? NULL : malloc(sizeof(*local));
  char *req = malloc(len + 512);
  int n, status;

  n = snprintf(req, 512,
               "POST /publish%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
               "Connection: close\r\n\r\n",
               query, len);
  memcpy(req + n, data, len);
  status = tl_http_from(port, NULL, req, (size_t) n + len,
                        NULL != r ? r : local, timeout_ms);
  free(req);
  free(local);
  return status;
}

int tl_publish(uint16_t port, const char *data, size_t len,
               struct tl_response *r)
{
  return tl_publish_query(port, "", data, len, r, 5000);
}

int tl_publish_form(uint16_t port, const char *form, struct tl_response *r)
{
  static __thread struct tl_response local;
  char req[8192];
  int n = snprintf(req, sizeof(req),
                   "POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                   strlen(form), form);

  return tl_http(port, req, (size_t) n, NULL != r ? r : &local);
}

bool tl_answer_id(const struct tl_response *r, char *id, size_t cap)
{
  const char *p = strstr(r->body, "\"id\":\"");
  const char *end;

  if (NULL == p)
    return false;
  p += 6;
  end = strchr(p, '"');
  if (NULL == end || (size_t) (end - p) >= cap)
    return false;
  memcpy(id, p, (size_t) (end - p));
  id[end - p] = '\0';
  return true;
}

long long tl_stat(uint16_t port, const char *name)
{
  return tl_stat_with(port, name, "");
}

long long tl_stat_with(uint16_t port, const char *name, const char *headers)
{
  struct tl_response r;
  char key[64], req[512];
  const char *p;
  int n = snprintf(req, sizeof(req),
                   "GET /stats HTTP/1.1\r\nHost: x\r\n%s"
                   "Connection: close\r\n\r\n",
                   headers);

  if (n < 0 || (size_t) n >= sizeof(req)
      || 200 != tl_http(port, req, (size_t) n, &r))
    return -1;
  snprintf(key, sizeof(key), "\"%s\":", name);
  p = strstr(r.body, key);
  return NULL != p ? atoll(p + strlen(key)) : -1;
}

long long tl_wait_stat(uint16_t port, const char *name, long long want,
                       int timeout_ms)
{
  return tl_wait_stat_with(port, name, want, timeout_ms, "");
}

long long tl_wait_stat_with(uint16_t port, const char *name, long long want,
                            int timeout_ms, const char *headers)
{
  long long deadline = tl_now_ms() + timeout_ms;
  long long v;

  for (;;) {
    v = tl_stat_with(port, name, headers);
    if (v == want || tl_now_ms() >= deadline)
      return v;
    tl_sleep_ms(20);
  }
}

const char *tl_find_header(const char *head, size_t len, const char *name)
{
  size_t n = strlen(name), i;

  /* A header line starts after a line feed: never the status line. */
  for (i = 0; i + n + 2 < len; i++)
    if ('\n' == head[i] && 0 == strncasecmp(head + i + 1, name, n)
        && ':' == head[i + 1 + n]) {
      const char *v = head + i + 2 + n;

      while (v < head + len && ' ' == *v)
        v++;
      return v;
    }
  return NULL;
}

bool tl_header(const struct tl_response *r, const char *name, char *out,
               size_t cap)
{
  const char *v = tl_find_header(r->head, strlen(r->head), name);
  const char *eol = NULL != v ? strstr(v, "\r\n") : NULL;
  size_t len;

  if (NULL == eol)
    return false;
  len = (size_t) (eol - v);
  if (len >= cap)
    len = cap - 1;
  memcpy(out, v, len);
  out[len] = '\0';
  return true;
}

int tl_strip_id(char *frame, char *id, size_t cap)
{
  char *line = frame, *end;
  size_t n;

  while (0 != strncmp(line, "id: ", 4)) {
    line = strchr(line, '\n');
    if (NULL == line)
      return -1;
    line++;
  }
  end = strchr(line, '\n');
  n = NULL != end ? (size_t) (end - line) - 4 : strlen(line) - 4;
  if (NULL != id && cap > 0)
    snprintf(id, cap, "%.*s", (int) n, line + 4);
  if (NULL != end)
    memmove(line, end + 1, strlen(end + 1) + 1);
  else if (line > frame)
    line[-1] = '\0'; /* the id was the last line: drop its separator too */
  else
    line[0] = '\0';
  return (int) n;
}

/* ---- several nodes ---------------------------------------------------------- */

void tl_server_kill(struct tl_server *s)
{
  if (s->pid <= 0)
    return;
  kill(s->pid, SIGKILL);
  waitpid(s->pid, NULL, 0);
  unlink(s->log_path);
  s->pid = 0;
}

int tl_nodes_start(struct tl_server *nodes, int n, unsigned flags,
                   const char *const *args)
{
  const char *argv[80];
  char port[16];
  int argc = 0, i;

  for (i = 0; NULL != args && NULL != args[i] && argc < 75; i++)
    argv[argc++] = args[i];
  if (0 != (flags & TL_NODES_SHARE_PORT))
    argv[argc++] = "--reuse-port";
  argv[argc] = NULL;
  for (i = 0; i < n; i++) {
    /* The later --port wins over tl_server_start()'s "--port 0". */
    if (i > 0 && 0 != (flags & TL_NODES_SHARE_PORT)) {
      snprintf(port, sizeof(port), "%u", (unsigned) nodes[0].port);
      argv[argc] = "--port";
      argv[argc + 1] = port;
      argv[argc + 2] = NULL;
    }
    if (0 != tl_server_start(&nodes[i], argv)) {
      fprintf(stderr, "node %d of %d did not start\n", i, n);
      tl_server_print_log(&nodes[i]);
      unlink(nodes[i].log_path);
      while (i-- > 0)
        tl_server_stop(&nodes[i], SIGTERM, 5000, NULL);
      return -1;
    }
  }
  return 0;
}

int tl_nodes_stop(struct tl_server *nodes, int n)
{
  int bad = 0, i, st;

  /* SIGTERM them all first: they stop in parallel. */
  for (i = 0; i < n; i++)
    if (nodes[i].pid > 0)
      kill(nodes[i].pid, SIGTERM);
  for (i = 0; i < n; i++) {
    if (nodes[i].pid <= 0)
      continue;
    st = tl_server_stop(&nodes[i], SIGTERM, 5000, NULL);
    if (st < 0 || !WIFEXITED(st) || 0 != WEXITSTATUS(st))
      bad++;
  }
  return bad;
}

bool tl_stat_str(uint16_t port, const char *name, char *out, size_t cap)
{
  static const char req[] = "GET /stats HTTP/1.1\r\nHost: x\r\n"
                            "Connection: close\r\n\r\n";
  struct tl_response *r = malloc(sizeof(*r));
  char key[80];
  const char *p, *end;
  bool ok = false;

  if (NULL == r)
    return false;
  snprintf(key, sizeof(key), "\"%s\":\"", name);
  if (200 == tl_http(port, req, sizeof(req) - 1, r)
      && NULL != (p = strstr(r->body, key))) {
    p += strlen(key);
    end = strchr(p, '"');
    if (NULL != end && (size_t) (end - p) < cap) {
      memcpy(out, p, (size_t) (end - p));
      out[end - p] = '\0';
      ok = true;
    }
  }
  free(r);
  return ok;
}

bool tl_wait_stat_str(uint16_t port, const char *name, const char *want,
                      int timeout_ms)
{
  long long deadline = tl_now_ms() + timeout_ms;
  char v[256];

  for (;;) {
    if (tl_stat_str(port, name, v, sizeof(v)) && 0 == strcmp(v, want))
      return true;
    if (tl_now_ms() >= deadline)
      return false;
    tl_sleep_ms(20);
  }
}

uint16_t tl_free_port(void)
{
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  uint16_t port = 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return 0;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (0 == bind(fd, (struct sockaddr *) &a, sizeof(a))
      && 0 == getsockname(fd, (struct sockaddr *) &a, &len))
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* ---- redis-server ------------------------------------------------------------ */

static const char *redis_bin(void)
{
  const char *b = getenv("TL_REDIS_SERVER");

  return NULL != b && '\0' != b[0] ? b : "redis-server";
}

bool tl_redis_available(void)
{
  const char *argv[] = { redis_bin(), "--version", NULL };
  int st;
  pid_t pid = fork();

  if (pid < 0)
    return false;
  if (0 == pid) {
    int devnull = open("/dev/null", O_RDWR);

    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    execvp(argv[0], (char *const *) argv);
    _exit(127);
  }
  return pid == waitpid(pid, &st, 0) && WIFEXITED(st) && 0 == WEXITSTATUS(st);
}

static off_t file_size(const char *path)
{
  struct stat st;

  return 0 == stat(path, &st) ? st.st_size : 0;
}

/* Fork and exec redis-server on r->port with its options; its output
 * goes to the end of r->log_path. */
static int redis_spawn(struct tl_redis *r)
{
  const char *argv[64];
  char port[16];
  int argc = 0, fd;
  size_t off;
  bool aof = 0 != (r->flags & TL_REDIS_AOF);

  snprintf(port, sizeof(port), "%u", (unsigned) r->port);
  argv[argc++] = redis_bin();
  argv[argc++] = "--port";
  argv[argc++] = port;
  argv[argc++] = "--bind";
  argv[argc++] = "127.0.0.1";
  argv[argc++] = "--dir";
  argv[argc++] = r->dir;
  argv[argc++] = "--daemonize";
  argv[argc++] = "no";
  argv[argc++] = "--logfile";
  argv[argc++] = "";
  /* Never an RDB snapshot: with AOF off a restart must find nothing (the
   * engine's "reset" case); with AOF on the AOF alone is the data. */
  argv[argc++] = "--save";
  argv[argc++] = "";
  argv[argc++] = "--appendonly";
  argv[argc++] = aof ? "yes" : "no";
  if (aof) {
    argv[argc++] = "--appendfsync";
    argv[argc++] = "always";
  }
  for (off = 0; off < r->args_len && argc < 62;
       off += strlen(r->args + off) + 1)
    argv[argc++] = r->args + off;
  argv[argc] = NULL;

  fd = open(r->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  r->pid = fork();
  if (r->pid < 0) {
    close(fd);
    r->pid = 0;
    return -1;
  }
  if (0 == r->pid) {
    int devnull = open("/dev/null", O_RDONLY);

    if (devnull >= 0)
      dup2(devnull, 0);
    /* A failed assertion ends the test process early: take Redis with it
     * rather than leave it running. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fd, 1);
    dup2(fd, 2);
    execvp(argv[0], (char *const *) argv);
    _exit(127);
  }
  close(fd);
  return 0;
}

/* Whether the reply means the server is up and serving: anything but a
 * transport failure or -LOADING (still reading its AOF). With
 * --requirepass, a -NOAUTH counts too: it answers. */
static bool redis_answers(const struct tl_redis *r, int timeout_ms)
{
  static const char *const ping[] = { "PING", NULL };
  struct tl_resp v;
  bool up;

  if (0 != tl_redis_cmdv(r, timeout_ms, &v, ping))
    return false;
  up = '-' != v.type || 0 != strncmp(v.str, "LOADING", 7);
  tl_resp_free(&v);
  return up;
}

/* Wait for the server spawned last to say it is ready in its log (after
 * log_from: earlier runs wrote before it) and to answer PING. Returns 0;
 * 1 if it exited first (the log says why; on a taken port, try another);
 * -1 on timeout (then it is killed). */
static int redis_wait_ready(struct tl_redis *r, off_t log_from, int timeout_ms)
{
  long long deadline = tl_now_ms() + timeout_ms;
  bool ready = false;

  while (tl_now_ms() < deadline) {
    if (r->pid == waitpid(r->pid, NULL, WNOHANG)) {
      r->pid = 0;
      return 1;
    }
    /* The log line first: a PONG alone could come from another process
     * that took the port after we chose it. Redis logs it only once it
     * listens and has loaded its data. */
    if (!ready) {
      char *log = tl_read_file(r->log_path, NULL);

      ready = NULL != log && (off_t) strlen(log) >= log_from
              && NULL != strstr(log + log_from, "Ready to accept connections");
      free(log);
    }
    if (ready && redis_answers(r, 1000))
      return 0;
    tl_sleep_ms(10);
  }
  kill(r->pid, SIGKILL);
  waitpid(r->pid, NULL, 0);
  r->pid = 0;
  return -1;
}

int tl_redis_start(struct tl_redis *r, unsigned flags, const char *const *extra)
{
  int attempt, i, rc = -1;

  const char *tmp = getenv("TMPDIR");

  memset(r, 0, sizeof(*r));
  r->flags = flags;
  snprintf(r->dir, sizeof(r->dir), "%s/ssehub-redis-XXXXXX",
           NULL != tmp && '\0' != tmp[0] ? tmp : "/tmp");
  if (NULL == mkdtemp(r->dir)) {
    r->dir[0] = '\0';
    return -1;
  }
  snprintf(r->log_path, sizeof(r->log_path), "%s/redis.log", r->dir);
  for (i = 0; NULL != extra && NULL != extra[i]; i++) {
    size_t n = strlen(extra[i]) + 1;

    if (r->args_len + n > sizeof(r->args))
      return -1;
    memcpy(r->args + r->args_len, extra[i], n);
    r->args_len += n;
    if (0 == strcmp(extra[i], "--requirepass") && NULL != extra[i + 1])
      snprintf(r->password, sizeof(r->password), "%s", extra[i + 1]);
  }
  /* The port is free when chosen, not necessarily when Redis binds it:
   * on "Address already in use" take another. */
  for (attempt = 0; attempt < 5; attempt++) {
    off_t from = file_size(r->log_path);

    r->port = tl_free_port();
    if (0 == r->port || 0 != redis_spawn(r))
      break;
    rc = redis_wait_ready(r, from, 5000 * tl_scale());
    if (rc <= 0)
      break;
  }
  if (0 != rc) {
    fprintf(stderr, "redis-server did not start (%s)\n", redis_bin());
    tl_redis_print_log(r);
    tl_redis_cleanup(r);
    return -1;
  }
  return 0;
}

int tl_redis_stop(struct tl_redis *r, int timeout_ms)
{
  int st;

  if (r->pid <= 0)
    return -1;
  kill(r->pid, SIGTERM);
  /* A stopped process keeps SIGTERM pending until it runs again. */
  kill(r->pid, SIGCONT);
  st = wait_exit(r->pid, timeout_ms * tl_scale());
  r->pid = 0;
  return st;
}

void tl_redis_kill(struct tl_redis *r)
{
  if (r->pid <= 0)
    return;
  kill(r->pid, SIGKILL);
  waitpid(r->pid, NULL, 0);
  r->pid = 0;
}

/* The state letter of /proc/PID/stat ('R', 'S', 'T' stopped, ...), or 0. */
static char proc_state(pid_t pid)
{
  char path[64], buf[512];
  const char *p;
  size_t n;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
  f = fopen(path, "r");
  if (NULL == f)
    return 0;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* "pid (comm) S ...": comm may hold spaces and parentheses. */
  p = strrchr(buf, ')');
  return NULL != p && ' ' == p[1] ? p[2] : 0;
}

int tl_redis_pause(struct tl_redis *r)
{
  long long deadline = tl_now_ms() + 2000 * tl_scale();

  if (r->pid <= 0 || 0 != kill(r->pid, SIGSTOP))
    return -1;
  /* SIGSTOP is asynchronous: return once it has taken effect, so that
   * what the test does next happens while Redis is paused. */
  while ('T' != proc_state(r->pid) && tl_now_ms() < deadline)
    tl_sleep_ms(1);
  return 'T' == proc_state(r->pid) ? 0 : -1;
}

int tl_redis_resume(struct tl_redis *r)
{
  return r->pid > 0 && 0 == kill(r->pid, SIGCONT) ? 0 : -1;
}

int tl_redis_restart(struct tl_redis *r)
{
  long long deadline = tl_now_ms() + 5000 * tl_scale();
  int rc = -1;

  if (r->pid > 0)
    return -1;
  /* Same port: the nodes must find it where it was. The port was ours a
   * moment ago, and Redis sets SO_REUSEADDR, so a failure to bind is
   * another process that took it meanwhile: retry while time remains. */
  while (tl_now_ms() < deadline) {
    off_t from = file_size(r->log_path);

    if (0 != redis_spawn(r))
      break;
    rc = redis_wait_ready(r, from, (int) (deadline - tl_now_ms()));
    if (rc <= 0)
      break;
    tl_sleep_ms(50);
  }
  if (0 != rc) {
    fprintf(stderr, "redis-server did not restart on port %u\n",
            (unsigned) r->port);
    tl_redis_print_log(r);
    return -1;
  }
  return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw)
{
  (void) st;
  (void) type;
  (void) ftw;
  remove(path);
  return 0;
}

void tl_rmtree(const char *dir)
{
  /* Depth first: files, then the directories that held them. */
  nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

void tl_redis_cleanup(struct tl_redis *r)
{
  if (r->pid > 0)
    tl_redis_stop(r, 5000);
  if (NULL != strstr(r->dir, "/ssehub-redis-"))
    tl_rmtree(r->dir);
  r->dir[0] = '\0';
}

void tl_redis_url(const struct tl_redis *r, char *buf, size_t cap)
{
  snprintf(buf, cap, "redis://127.0.0.1:%u/0", (unsigned) r->port);
}

void tl_redis_print_log(const struct tl_redis *r)
{
  char *log = tl_read_file(r->log_path, NULL);

  fprintf(stderr, "---- redis log (%s):\n%s----\n", r->log_path,
          NULL != log ? log : "");
  free(log);
}

/* ---- a tiny RESP2 client ------------------------------------------------------ */

struct resp_reader {
  int fd;
  long long deadline;
  char buf[8192];
  size_t pos, len;
};

/* More bytes into the buffer (which the caller has emptied), before the
 * deadline. */
static int rr_fill(struct resp_reader *b)
{
  struct pollfd pfd = { .fd = b->fd, .events = POLLIN };
  long long left = b->deadline - tl_now_ms();
  ssize_t n;

  if (left <= 0 || poll(&pfd, 1, (int) left) <= 0)
    return -1;
  n = recv(b->fd, b->buf, sizeof(b->buf), 0);
  if (n <= 0)
    return -1;
  b->pos = 0;
  b->len = (size_t) n;
  return 0;
}

/* n bytes into out. */
static int rr_bytes(struct resp_reader *b, char *out, size_t n)
{
  while (n > 0) {
    size_t take;

    if (b->pos == b->len && 0 != rr_fill(b))
      return -1;
    take = b->len - b->pos < n ? b->len - b->pos : n;
    memcpy(out, b->buf + b->pos, take);
    b->pos += take;
    out += take;
    n -= take;
  }
  return 0;
}

/* One line, without its CRLF, into out (NUL-terminated). */
static int rr_line(struct resp_reader *b, char *out, size_t cap)
{
  size_t n = 0;
  char c;

  for (;;) {
    if (0 != rr_bytes(b, &c, 1))
      return -1;
    if ('\n' == c)
      break;
    if (n + 1 < cap)
      out[n++] = c;
  }
  if (n > 0 && '\r' == out[n - 1])
    n--;
  out[n] = '\0';
  return (int) n;
}

static int resp_parse(struct resp_reader *b, struct tl_resp *v, int depth)
{
  char line[1024], crlf[2];
  long long n;
  size_t i;

  memset(v, 0, sizeof(*v));
  if (depth > 8 || rr_line(b, line, sizeof(line)) < 1)
    return -1;
  v->type = line[0];
  switch (line[0]) {
  case '+':
  case '-':
    v->len = strlen(line + 1);
    v->str = strdup(line + 1);
    return NULL != v->str ? 0 : -1;
  case ':':
    v->integer = atoll(line + 1);
    return 0;
  case '$':
    n = atoll(line + 1);
    if (n < 0) {
      v->type = '_';
      return 0;
    }
    v->len = (size_t) n;
    v->str = malloc(v->len + 1);
    if (NULL == v->str || 0 != rr_bytes(b, v->str, v->len)
        || 0 != rr_bytes(b, crlf, 2))
      return -1;
    v->str[v->len] = '\0';
    return 0;
  case '*':
    n = atoll(line + 1);
    if (n < 0) {
      v->type = '_';
      return 0;
    }
    v->elem = calloc((size_t) n + 1, sizeof(*v->elem));
    if (NULL == v->elem)
      return -1;
    for (i = 0; i < (size_t) n; i++) {
      v->n = i + 1; /* so that tl_resp_free() frees what was parsed */
      if (0 != resp_parse(b, &v->elem[i], depth + 1))
        return -1;
    }
    v->n = (size_t) n;
    return 0;
  default:
    return -1;
  }
}

void tl_resp_free(struct tl_resp *v)
{
  size_t i;

  for (i = 0; NULL != v->elem && i < v->n; i++)
    tl_resp_free(&v->elem[i]);
  free(v->elem);
  free(v->str);
  memset(v, 0, sizeof(*v));
}

/* Write one command as a RESP array of bulk strings. */
static int resp_send(int fd, const char *const *argv)
{
  char head[32];
  int argc = 0, i, n;

  while (NULL != argv[argc])
    argc++;
  n = snprintf(head, sizeof(head), "*%d\r\n", argc);
  if (0 != tl_send_all(fd, head, (size_t) n))
    return -1;
  for (i = 0; i < argc; i++) {
    size_t len = strlen(argv[i]);

    n = snprintf(head, sizeof(head), "$%zu\r\n", len);
    if (0 != tl_send_all(fd, head, (size_t) n)
        || 0 != tl_send_all(fd, argv[i], len)
        || 0 != tl_send_all(fd, "\r\n", 2))
      return -1;
  }
  return 0;
}

int tl_redis_cmdv(const struct tl_redis *r, int timeout_ms,
                  struct tl_resp *reply, const char *const *argv)
{
  struct resp_reader *b = calloc(1, sizeof(*b));
  int rc = -1;

  memset(reply, 0, sizeof(*reply));
  if (NULL == b)
    return -1;
  b->deadline = tl_now_ms() + timeout_ms;
  b->fd = tl_connect(r->port, NULL);
  if (b->fd < 0)
    goto out;
  if ('\0' != r->password[0]) {
    const char *auth[] = { "AUTH", r->password, NULL };

    if (0 != resp_send(b->fd, auth) || 0 != resp_parse(b, reply, 0))
      goto out;
    if ('+' != reply->type)
      goto out_reply; /* the AUTH error is the answer */
    tl_resp_free(reply);
  }
  if (0 != resp_send(b->fd, argv) || 0 != resp_parse(b, reply, 0))
    goto out;
out_reply:
  rc = 0;
out:
  if (0 != rc)
    tl_resp_free(reply);
  if (b->fd >= 0)
    close(b->fd);
  free(b);
  return rc;
}

/* The NULL-terminated arguments after first (itself an argument) into
 * argv (at most cap - 1 of them). */
static void collect_args(const char **argv, size_t cap, const char *first,
                         va_list ap)
{
  size_t n = 0;
  const char *a;

  for (a = first; NULL != a && n + 1 < cap; a = va_arg(ap, const char *))
    argv[n++] = a;
  argv[n] = NULL;
}

int tl_redis_cmd(const struct tl_redis *r, struct tl_resp *reply, ...)
{
  const char *argv[32];
  va_list ap;

  va_start(ap, reply);
  collect_args(argv, 32, va_arg(ap, const char *), ap);
  va_end(ap);
  return tl_redis_cmdv(r, 5000 * tl_scale(), reply, argv);
}

long long tl_redis_int(const struct tl_redis *r, ...)
{
  const char *argv[32];
  struct tl_resp v;
  long long n = -1;
  va_list ap;

  va_start(ap, r);
  collect_args(argv, 32, va_arg(ap, const char *), ap);
  va_end(ap);
  if (0 == tl_redis_cmdv(r, 5000 * tl_scale(), &v, argv) && ':' == v.type)
    n = v.integer;
  tl_resp_free(&v);
  return n;
}

/* ---- names that collide under FNV-1a ------------------------------------- */

#define FNV_PRIME 1099511628211ull
/* The offset basis the registry and the per-address table used (a digit
 * short of FNV's 14695981039346656037: the names must collide under the
 * function as it was, not as published). */
#define FNV_BASIS 1469598103934665603ull

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    h = (h ^ (unsigned char) s[i]) * FNV_PRIME;
  return h;
}

/* See testlib.h. Each name: a long shared prefix (so that comparing
 * two names costs what comparing real ones of that length would), six
 * characters from i, and a three-character tail. With collide, the tail
 * is chosen so that the low TL_FNV_COLLIDE_BITS of FNV-1a-64 are one value for
 * every name: the hash's low bits depend only on the low bits of its state,
 * and multiplying by the odd prime is invertible there, so for each tail
 * the state it needs can be computed backwards from the target, and
 * prefixes tried until one reaches such a state. Without collide, the
 * tail is fixed and the names spread as any would. */
void tl_fnv_names(char *names, int n, size_t stride, bool collide)
{
  const uint64_t mask = (1ull << TL_FNV_COLLIDE_BITS) - 1,
                 target = 0x5a5a5 & mask;
  uint64_t inv = 1, base;
  int32_t *need = NULL;
  char prefix[224];
  unsigned a, b, c, found = 0;
  uint64_t k;
  int i;

  memset(prefix, 'p', sizeof(prefix) - 1);
  memcpy(prefix, "flood-", 6);
  prefix[sizeof(prefix) - 1] = '\0';
  base = fnv1a(FNV_BASIS, prefix, strlen(prefix));
  if (collide) {
    /* The prime's inverse mod 2^64 (Newton: 6 steps double 1 good bit). */
    for (i = 0; i < 6; i++)
      inv *= 2 - FNV_PRIME * inv;
    ck_assert(1 == (uint64_t) (inv * FNV_PRIME));
    need = malloc(sizeof(*need) << TL_FNV_COLLIDE_BITS);
    ck_assert_ptr_nonnull(need);
    memset(need, 0xff, sizeof(*need) << TL_FNV_COLLIDE_BITS);
    for (a = 0; a < 64; a++)
      for (b = 0; b < 64; b++)
        for (c = 0; c < 64; c++) {
          uint64_t s = target;

          s = ((s * inv) ^ (unsigned char) alphabet[c]) & mask;
          s = ((s * inv) ^ (unsigned char) alphabet[b]) & mask;
          s = ((s * inv) ^ (unsigned char) alphabet[a]) & mask;
          need[s] = (int32_t) ((a << 12) | (b << 6) | c);
        }
  }
  for (k = 0; found < (unsigned) n; k++) {
    char mid[7];
    uint64_t h;
    int32_t t = (int32_t) ((1 << 12) | (2 << 6) | 3);

    ck_assert_uint_lt(k, 64ull * 64 * 64 * 64 * 64 * 64);
    for (i = 0; i < 6; i++)
      mid[i] = alphabet[(k >> (6 * i)) & 63];
    mid[6] = '\0';
    h = fnv1a(base, mid, 6);
    if (collide && (t = need[h & mask]) < 0)
      continue;
    char *name = names + found * stride;

    snprintf(name, stride, "%s%s%c%c%c", prefix, mid, alphabet[(t >> 12) & 63],
             alphabet[(t >> 6) & 63], alphabet[t & 63]);
    if (collide)
      ck_assert_uint_eq(fnv1a(FNV_BASIS, name, strlen(name)) & mask, target);
    found++;
  }
  free(need);
}
