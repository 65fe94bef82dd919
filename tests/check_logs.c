/* check_logs.c - the program's logs as an operator reads them: timestamps
 * and levels, -q, --log-format=json (parsed by python3's strict json),
 * the access log, journald prefixes, a flood that drops lines without
 * stalling the server, no secret in any line, and --version.
 *
 * Servers are started by this file (spawn()) where tl_server_start() does
 * not fit: -q prints no "listening on" line, and the journal and flood
 * cases need stderr to be a file or pipe of their own.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define TS_RE \
  "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

static void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");

  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* Start ssehub --bind 127.0.0.1 --port PORT args... with stderr on errfd. */
static pid_t spawn(uint16_t port, const char *const *args, int errfd)
{
  const char *argv[40];
  char portbuf[8];
  int argc = 0, i;
  pid_t pid;

  snprintf(portbuf, sizeof(portbuf), "%u", (unsigned) port);
  argv[argc++] = tl_bin();
  argv[argc++] = "--bind";
  argv[argc++] = "127.0.0.1";
  argv[argc++] = "--port";
  argv[argc++] = portbuf;
  for (i = 0; NULL != args && NULL != args[i] && argc < 39; i++)
    argv[argc++] = args[i];
  argv[argc] = NULL;
  pid = fork();
  if (0 == pid) {
    int null = open("/dev/null", O_RDWR);

    dup2(null, 0);
    dup2(null, 1);
    dup2(errfd, 2);
    execv(argv[0], (char *const *) argv);
    _exit(127);
  }
  ck_assert_int_gt(pid, 0);
  return pid;
}

/* The server answers /stats, within 5 s (scaled). */
static bool up(uint16_t port)
{
  long long deadline = tl_now_ms() + 5000 * tl_scale();

  while (tl_now_ms() < deadline) {
    if (tl_stat(port, "clients") >= 0)
      return true;
    tl_sleep_ms(20);
  }
  return false;
}

/* SIGTERM, then the exit status within 5 s (scaled), or -1. */
static int term(pid_t pid)
{
  long long deadline = tl_now_ms() + 5000 * tl_scale();
  int st;

  kill(pid, SIGTERM);
  while (tl_now_ms() < deadline) {
    if (pid == waitpid(pid, &st, WNOHANG))
      return st;
    tl_sleep_ms(10);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  return -1;
}

static int tmpfile_fd(char *path, size_t cap)
{
  int fd;

  snprintf(path, cap, "/tmp/ssehub-logs-XXXXXX");
  fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  return fd;
}

/* Every line of text matches the extended regex re; returns the lines. */
static int all_lines_match(const char *text, const char *re)
{
  regex_t rx;
  int n = 0;
  const char *p = text;

  ck_assert_int_eq(0, regcomp(&rx, re, REG_EXTENDED | REG_NOSUB));
  while ('\0' != *p) {
    const char *nl = strchr(p, '\n');
    char line[2048];
    size_t len;

    ck_assert_msg(NULL != nl, "unterminated last line: %s", p);
    len = (size_t) (nl - p);
    ck_assert_uint_lt(len, sizeof(line));
    memcpy(line, p, len);
    line[len] = '\0';
    ck_assert_msg(0 == regexec(&rx, line, 0, NULL, 0),
                  "line does not match /%s/: '%s'", re, line);
    n++;
    p = nl + 1;
  }
  regfree(&rx);
  return n;
}

static int count(const char *text, const char *needle)
{
  int n = 0;

  for (; NULL != (text = strstr(text, needle)); text += strlen(needle))
    n++;
  return n;
}

/* Whether the file at path contains text within ms (scaled). */
static bool file_within(const char *path, const char *text, int ms)
{
  long long deadline = tl_now_ms() + (long long) ms * tl_scale();

  while (tl_now_ms() < deadline) {
    char *all = tl_read_file(path, NULL);
    bool found = NULL != all && NULL != strstr(all, text);

    free(all);
    if (found)
      return true;
    tl_sleep_ms(10);
  }
  return false;
}

static void get(uint16_t port, const char *path, int want)
{
  struct tl_response r;
  char raw[512];
  int n = snprintf(raw, sizeof(raw),
                   "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                   path);

  ck_assert_int_eq(want, tl_http(port, raw, (size_t) n, &r));
}

START_TEST(test_logs_text_lines_have_timestamp_and_level)
{
  struct tl_server srv;
  char *log;
  int n;

  tl_server_start_ok(&srv, NULL);
  get(srv.port, "/stats", 200);
  n = term(srv.pid); /* not tl_server_stop(): it deletes the log */
  ck_assert(n >= 0 && WIFEXITED(n) && 0 == WEXITSTATUS(n));
  log = tl_read_file(srv.log_path, NULL);
  ck_assert_ptr_nonnull(log);
  n = all_lines_match(log, "^" TS_RE " (error|warning|info|debug): [^ ]");
  ck_assert_int_ge(n, 3);
  ck_assert_ptr_nonnull(strstr(log, "Z info: listening on http://"));
  ck_assert_ptr_nonnull(strstr(log, "Z info: publishing is allowed"));
  ck_assert_ptr_nonnull(strstr(log, "Z info: SIGTERM received, stopping"));
  free(log);
  unlink(srv.log_path);
}
END_TEST

START_TEST(test_logs_quiet_prints_only_errors)
{
  static const char *const quiet[] = { "-q", NULL };
  char path[64], out[512], err[2048], portbuf[8];
  uint16_t port = tl_free_port();
  int fd = tmpfile_fd(path, sizeof(path)), st;
  pid_t pid = spawn(port, quiet, fd);
  char *log;

  close(fd);
  ck_assert(up(port));
  get(port, "/stats", 200);
  st = term(pid);
  ck_assert(st >= 0 && WIFEXITED(st) && 0 == WEXITSTATUS(st));
  log = tl_read_file(path, NULL);
  ck_assert_msg('\0' == log[0], "-q printed: '%s'", log);
  free(log);
  unlink(path);

  /* An error still gets through, with its timestamp and level. */
  {
    struct tl_server srv;
    const char *args[] = {
      "-q", "--bind", "127.0.0.1", "--port", portbuf, NULL
    };

    tl_server_start_ok(&srv, NULL);
    snprintf(portbuf, sizeof(portbuf), "%u", (unsigned) srv.port);
    st = tl_run_split(args, out, sizeof(out), err, sizeof(err), 5000);
    tl_server_stop_ok(&srv);
    ck_assert(st >= 0 && WIFEXITED(st) && 1 == WEXITSTATUS(st));
    ck_assert_int_eq(1, all_lines_match(err, "^" TS_RE " error: port [0-9]+ "
                                             "is already in use"));
  }
}
END_TEST

/* python3 parses every line of path strictly (json.loads rejects raw
 * control characters and bad escapes; the bytes must be UTF-8), checks
 * the keys every line has, and prints the path of each access line in
 * ASCII JSON. Returns python's output. */
static void python_json(const char *path, char *out, size_t cap)
{
  static const char script[] =
      "import json, re, sys\n"
      "for raw in open(sys.argv[1], 'rb'):\n"
      "    o = json.loads(raw.decode('utf-8'))\n"
      "    assert re.fullmatch(r'" TS_RE "', o['ts']), o\n"
      "    assert o['level'] in ('error','warning','info','debug'), o\n"
      "    assert isinstance(o['msg'], str), o\n"
      "    if o['msg'] == 'access':\n"
      "        assert isinstance(o['status'], int) and "
      "isinstance(o['bytes'], int) and isinstance(o['duration_ms'], int)\n"
      "        print(o['status'], json.dumps(o['path']), o.get('end'))\n"
      "print('parsed')\n";
  char cmd[4096];
  FILE *p;
  size_t n;

  setenv("TL_PY", script, 1);
  snprintf(cmd, sizeof(cmd), "python3 -c \"$TL_PY\" '%s' 2>&1", path);
  p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  ck_assert_msg(0 == pclose(p), "python3: %s", out);
}

START_TEST(test_logs_json_lines_parse_strictly)
{
  static const char *const args[] = { "--log-format=json", "--access-log=-",
                                      "-v", NULL };
  /* A path with a control byte, a quote, a backslash, a tab and a byte
   * that is not UTF-8. */
  static const char raw[] = "GET /x%01%22%5C%09%FFy HTTP/1.1\r\nHost: x\r\n"
                            "Connection: close\r\n\r\n";
  struct tl_response r;
  char path[64], out[4096];
  uint16_t port = tl_free_port();
  int fd = tmpfile_fd(path, sizeof(path)), st;
  pid_t pid = spawn(port, args, fd);

  close(fd);
  ck_assert(up(port));
  ck_assert_int_eq(404, tl_http(port, raw, sizeof(raw) - 1, &r));
  get(port, "/stats", 200);
  st = term(pid);
  ck_assert(st >= 0 && WIFEXITED(st) && 0 == WEXITSTATUS(st));
  python_json(path, out, sizeof(out));
  ck_assert_msg(NULL != strstr(out, "parsed"), "%s", out);
  ck_assert_msg(NULL
                    != strstr(out, "404 \"/x\\u0001\\\"\\\\\\t\\ufffdy\" None"),
                "%s", out);
  ck_assert_msg(NULL != strstr(out, "200 \"/stats\" None"), "%s", out);
  unlink(path);
}
END_TEST

START_TEST(test_logs_access_log_requests_and_streams)
{
  char path[64], args_path[80];
  const char *args[] = { args_path, "--max-clients", "1", NULL };
  struct tl_server srv;
  struct tl_sse gone, stays, refused;
  struct tl_response r;
  char *log;
  int stats;
  int fd = tmpfile_fd(path, sizeof(path));

  close(fd);
  snprintf(args_path, sizeof(args_path), "--access-log=%s", path);
  tl_server_start_ok(&srv, args);
  get(srv.port, "/stats", 200);
  get(srv.port, "/nope", 404);
  ck_assert_int_eq(200, tl_publish_form(srv.port, "data=hello", &r));
  ck_assert_int_eq(0, tl_sse_open(&gone, srv.port, "/sse?access_token=abc",
                                  NULL, NULL));
  ck_assert(tl_sse_got_ok(&gone, 5000));
  tl_sse_close(&gone);
  ck_assert_int_eq(0, tl_wait_stat(srv.port, "clients", 0, 5000));
  ck_assert_int_eq(0, tl_sse_open(&stays, srv.port, "/sse", NULL, NULL));
  ck_assert(tl_sse_got_ok(&stays, 5000));
  /* Full: the retry answer is a 200 too; its line says it was refused. */
  ck_assert_int_eq(0, tl_sse_open(&refused, srv.port, "/sse", NULL, NULL));
  ck_assert_int_eq(1, tl_wait_stat(srv.port, "overload_full", 1, 5000));
  tl_sse_close(&refused);
  ck_assert_int_eq(0, tl_server_stop(&srv, SIGTERM, 5000, NULL));
  tl_sse_close(&stays);
  log = tl_read_file(path, NULL);
  ck_assert_ptr_nonnull(log);
  /* One line per answer: the requests (and tl_wait_stat()'s polls of
   * /stats), two streams and the refused one; nothing else. */
  stats = count(log, "\"GET /stats\" 200 ");
  ck_assert_int_ge(stats, 2);
  ck_assert_int_eq(stats + 5, all_lines_match(log, "^" TS_RE " info: access "
                                                   "127\\.0\\.0\\.1 \"[A-Z]+ "
                                                   "[^ ]+\" [0-9]{3} [0-9]+ "
                                                   "[0-9]+ms"));
  ck_assert_int_eq(1, count(log, "\"GET /nope\" 404 "));
  ck_assert_int_eq(1, count(log, "\"POST /publish\" 200 "));
  ck_assert_int_eq(3, count(log, "\"GET /sse\" 200 "));
  ck_assert_int_eq(1, count(log, "ms overload_full\n"));
  ck_assert_int_eq(1, count(log, "ms peer_hangup\n"));
  ck_assert_int_eq(1, count(log, "ms stopping\n"));
  ck_assert_ptr_null(strstr(log, "access_token"));
  ck_assert_ptr_null(strstr(log, "abc"));
  free(log);
  unlink(path);
}
END_TEST

/* A client that stops reading is cut as slow: its stream's line says so. */
START_TEST(test_logs_access_log_slow_client)
{
  char path[64], args_path[80];
  const char *args[] = { args_path, "--client-buffer", "1K", "--heartbeat", "0",
                         NULL };
  static const char req[] = "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n";
  enum { SIZE = 16 * 1024 };
  char *payload = malloc(SIZE), *log;
  struct tl_server srv;
  int fd = tmpfile_fd(path, sizeof(path)), slow, rcv = 4096, i, st;

  close(fd);
  snprintf(args_path, sizeof(args_path), "--access-log=%s", path);
  tl_server_start_ok(&srv, args);
  slow = tl_connect(srv.port, NULL);
  ck_assert_int_ge(slow, 0);
  setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
  ck_assert_int_eq((int) sizeof(req) - 1,
                   (int) send(slow, req, sizeof(req) - 1, 0));
  ck_assert_int_eq(1, tl_wait_stat(srv.port, "clients", 1, 5000));
  memset(payload, 's', SIZE);
  for (i = 0; i < 400 && tl_stat(srv.port, "slow_disconnects") < 1; i++)
    ck_assert_int_eq(200, tl_publish(srv.port, payload, SIZE, NULL));
  ck_assert_int_eq(1, tl_wait_stat(srv.port, "slow_disconnects", 1, 5000));
  ck_assert_int_eq(0, tl_wait_stat(srv.port, "clients", 0, 5000));
  close(slow);
  st = term(srv.pid);
  ck_assert(st >= 0 && WIFEXITED(st) && 0 == WEXITSTATUS(st));
  log = tl_read_file(path, NULL);
  ck_assert_int_eq(1, count(log, "\"GET /sse\" 200 "));
  ck_assert_msg(1 == count(log, "ms slow_client\n"), "%s", log);
  free(log);
  free(payload);
  unlink(path);
  unlink(srv.log_path);
}
END_TEST

START_TEST(test_logs_journal_stream_gives_priority_prefixes)
{
  char path[64], js[64];
  uint16_t port = tl_free_port();
  int fd = tmpfile_fd(path, sizeof(path)), st;
  struct stat sb;
  char *log;
  pid_t pid;

  ck_assert_int_eq(0, fstat(fd, &sb));
  snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long) sb.st_dev,
           (unsigned long long) sb.st_ino);
  setenv("JOURNAL_STREAM", js, 1);
  pid = spawn(port, NULL, fd);
  unsetenv("JOURNAL_STREAM");
  close(fd);
  ck_assert(up(port));
  st = term(pid);
  ck_assert(st >= 0 && WIFEXITED(st) && 0 == WEXITSTATUS(st));
  log = tl_read_file(path, NULL);
  ck_assert_int_ge(all_lines_match(log, "^<[3467]>[a-zA-Z-]"), 3);
  ck_assert_ptr_nonnull(strstr(log, "<6>listening on http://"));
  ck_assert_ptr_nonnull(strstr(log, "<6>SIGTERM received, stopping"));
  free(log);
  unlink(path);

  /* Another file's device:inode: stderr is not the journal. */
  port = tl_free_port();
  fd = tmpfile_fd(path, sizeof(path));
  snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long) sb.st_dev,
           (unsigned long long) sb.st_ino + 1);
  setenv("JOURNAL_STREAM", js, 1);
  pid = spawn(port, NULL, fd);
  unsetenv("JOURNAL_STREAM");
  close(fd);
  ck_assert(up(port));
  st = term(pid);
  log = tl_read_file(path, NULL);
  ck_assert_int_ge(all_lines_match(log, "^" TS_RE " [a-z]+: "), 3);
  free(log);
  unlink(path);
}
END_TEST

/* stderr is a pipe nobody reads: the writer blocks, the queue (16 slots
 * through the test hook) fills, and lines are dropped; the server keeps
 * answering and counts the drops at once. */
START_TEST(test_logs_flood_drops_and_stays_responsive)
{
  static const char *const args[] = { "--access-log=-", "-v", NULL };
  uint16_t port = tl_free_port();
  char buf[65536];
  long long worst = 0, dropped;
  size_t got = 0;
  int p[2], i, st;
  char *all = malloc(4 << 20);
  pid_t pid;

  ck_assert_int_eq(0, pipe(p));
  setenv("SSEHUB_LOG_QUEUE", "16", 1);
  pid = spawn(port, args, p[1]);
  unsetenv("SSEHUB_LOG_QUEUE");
  close(p[1]);
  ck_assert(up(port));
  /* 100-byte access lines: the 64 KiB pipe is full after about 650. */
  for (i = 0; i < 3000; i++) {
    long long t0 = tl_now_ms();

    get(port, "/stats", 200);
    if (tl_now_ms() - t0 > worst)
      worst = tl_now_ms() - t0;
  }
  dropped = tl_stat(port, "log_dropped");
  ck_assert_msg(dropped > 1000, "log_dropped %lld", dropped);
  ck_assert_msg(worst < 1000 * tl_scale(), "a request took %lld ms", worst);

  /* Read the pipe now: the sink writes what it holds, then says how many
   * lines it dropped, and the server exits. */
  kill(pid, SIGTERM);
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  {
    long long deadline = tl_now_ms() + 10000 * tl_scale();

    while (tl_now_ms() < deadline) {
      struct pollfd pfd = { .fd = p[0], .events = POLLIN };
      ssize_t n;

      poll(&pfd, 1, 100);
      n = read(p[0], buf, sizeof(buf));
      if (0 == n)
        break;
      if (n > 0 && got + (size_t) n < (4u << 20)) {
        memcpy(all + got, buf, (size_t) n);
        got += (size_t) n;
      }
    }
  }
  all[got] = '\0';
  close(p[0]);
  ck_assert_int_eq(pid, waitpid(pid, &st, 0));
  ck_assert(WIFEXITED(st) && 0 == WEXITSTATUS(st));
  ck_assert_msg(NULL != strstr(all, " log lines dropped\n"), "%s",
                all + (got > 2000 ? got - 2000 : 0));
  free(all);
}
END_TEST

START_TEST(test_logs_no_secret_in_any_line)
{
  static const char pub[] = "PubT0ken-sekrit-1", sub[] = "SubT0ken-sekrit-2",
                    redis_pw[] = "R3dis-sekrit-3", file_pw[] = "F1le-sekrit-4";
  char access[64], redis[128], accflag[80], req[1024];
  uint16_t dead = tl_free_port();
  const char *args[] = { "--publish-token-file",
                         "/tmp/ssehub-logs-pub",
                         "--subscribe-token-file",
                         "/tmp/ssehub-logs-sub",
                         "--redis",
                         redis,
                         "--publish-wait",
                         "0",
                         "-v",
                         accflag,
                         NULL };
  struct tl_server srv;
  struct tl_response r;
  char *log, *acc;
  int fd = tmpfile_fd(access, sizeof(access)), n;
  const char *secrets[] = { pub, sub, redis_pw, file_pw };
  size_t i;

  close(fd);
  write_file("/tmp/ssehub-logs-pub", pub);
  write_file("/tmp/ssehub-logs-sub", sub);
  snprintf(redis, sizeof(redis), "redis://user:%s@127.0.0.1:%u/0", redis_pw,
           (unsigned) dead);
  snprintf(accflag, sizeof(accflag), "--access-log=%s", access);
  tl_server_start_ok(&srv, args);
  /* Every place a secret travels: bearer headers (right and wrong),
   * the query parameter, the cookie, on every route. */
  n = snprintf(req, sizeof(req),
               "POST /publish?access_token=%s HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\nContent-Type: text/plain\r\n"
               "Content-Length: 2\r\nConnection: close\r\n\r\nhi",
               sub, pub);
  ck_assert_int_gt(tl_http(srv.port, req, (size_t) n, &r), 0);
  n = snprintf(req, sizeof(req),
               "POST /publish HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s-wrong\r\nContent-Length: 2\r\n"
               "Connection: close\r\n\r\nhi",
               file_pw);
  ck_assert_int_eq(401, tl_http(srv.port, req, (size_t) n, &r));
  n = snprintf(req, sizeof(req),
               "GET /sse?access_token=%s-wrong HTTP/1.1\r\nHost: x\r\n"
               "Connection: close\r\n\r\n",
               redis_pw);
  ck_assert_int_gt(tl_http(srv.port, req, (size_t) n, &r), 0);
  n = snprintf(req, sizeof(req),
               "GET /stats?access_token=%s HTTP/1.1\r\nHost: x\r\n"
               "Cookie: ssehub_token=%s\r\nAuthorization: Bearer %s\r\n"
               "Connection: close\r\n\r\n",
               sub, sub, pub);
  ck_assert_int_eq(200, tl_http(srv.port, req, (size_t) n, &r));
  {
    struct tl_sse s;
    char path[128];

    snprintf(path, sizeof(path), "/sse?access_token=%s", sub);
    ck_assert_int_eq(0, tl_sse_open(&s, srv.port, path, NULL, NULL));
    ck_assert(tl_sse_got_ok(&s, 5000));
    tl_sse_close(&s);
  }
  /* /stats needs the publish token here: wait for the stream's line. */
  ck_assert(file_within(access, "peer_hangup\n", 5000));
  n = term(srv.pid); /* not tl_server_stop(): it deletes the log */
  ck_assert(n >= 0 && WIFEXITED(n) && 0 == WEXITSTATUS(n));
  log = tl_read_file(srv.log_path, NULL);
  acc = tl_read_file(access, NULL);
  ck_assert_ptr_nonnull(log);
  ck_assert_ptr_nonnull(acc);
  ck_assert_int_ge(count(acc, " info: access "), 5);
  for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
    ck_assert_msg(NULL == strstr(log, secrets[i]), "%s in the log:\n%s",
                  secrets[i], log);
    ck_assert_msg(NULL == strstr(acc, secrets[i]), "%s in the access log:\n%s",
                  secrets[i], acc);
  }
  ck_assert_ptr_null(strstr(log, "sekrit"));
  ck_assert_ptr_null(strstr(acc, "sekrit"));
  free(log);
  free(acc);
  unlink(srv.log_path);
  unlink(access);
  unlink("/tmp/ssehub-logs-pub");
  unlink("/tmp/ssehub-logs-sub");
}
END_TEST

START_TEST(test_logs_version_lists_the_libraries)
{
  static const char *const args[] = { "--version", NULL };
  char out[512], err[512];
  int st = tl_run_split(args, out, sizeof(out), err, sizeof(err), 5000);

  ck_assert(st >= 0 && WIFEXITED(st) && 0 == WEXITSTATUS(st));
  ck_assert_int_eq(3, all_lines_match(out, "^(ssehub|libmicrohttpd|hiredis) "
                                           "[0-9]+\\.[0-9]+\\.[0-9]+$"));
  ck_assert_ptr_nonnull(strstr(out, "libmicrohttpd 0.9."));
  ck_assert_ptr_nonnull(strstr(out, "hiredis 0."));
  ck_assert_str_eq(err, "");
}
END_TEST

int main(void)
{
  Suite *s = suite_create("logs");
  TCase *tc = tcase_create("logs");
  SRunner *sr;
  int failed;

  signal(SIGPIPE, SIG_IGN);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_logs_text_lines_have_timestamp_and_level);
  tcase_add_test(tc, test_logs_quiet_prints_only_errors);
  tcase_add_test(tc, test_logs_json_lines_parse_strictly);
  tcase_add_test(tc, test_logs_access_log_requests_and_streams);
  tcase_add_test(tc, test_logs_access_log_slow_client);
  tcase_add_test(tc, test_logs_journal_stream_gives_priority_prefixes);
  tcase_add_test(tc, test_logs_flood_drops_and_stays_responsive);
  tcase_add_test(tc, test_logs_no_secret_in_any_line);
  tcase_add_test(tc, test_logs_version_lists_the_libraries);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
