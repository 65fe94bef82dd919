/* check_reload.c - SIGHUP reloads the config file and the token files of
 * a running ssehub without dropping a stream (ssehub_reload(), main.c).
 *
 * The real program on a loopback port, its config in a temporary
 * directory: 1,000 streams keep every event exactly once in order through
 * several reloads; a rotated publish token counts from the next request;
 * heartbeat, retry, max-clients-per-ip and max-clients change live; a
 * bad file is refused whole; a changed port is logged as needing a
 * restart. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "testlib.h"

static struct tl_server srv;
static char dir[32], conf[96], token[96];

static void write_atomically(const char *path, const char *text)
{
  char tmp[128];
  FILE *f;

  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  f = fopen(tmp, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  ck_assert_int_eq(0, fclose(f));
  /* A reload never reads half a file. */
  ck_assert_int_eq(0, rename(tmp, path));
}

static void setup(void)
{
  memset(&srv, 0, sizeof(srv));
  strcpy(dir, "/tmp/check_reload_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(conf, sizeof(conf), "%s/ssehub.conf", dir);
  snprintf(token, sizeof(token), "%s/publish.token", dir);
}

static void teardown(void)
{
  char path[128];

  if (srv.pid > 0)
    tl_server_stop(&srv, SIGKILL, 5000, NULL);
  unlink(conf);
  unlink(token);
  snprintf(path, sizeof(path), "%s.tmp", conf);
  unlink(path);
  rmdir(dir);
}

static void start_with_config(const char *text)
{
  const char *args[] = { "--config", conf, NULL };

  write_atomically(conf, text);
  tl_server_start_ok(&srv, args);
}

/* POST /publish with a bearer token (NULL: none). */
static int publish_with(const char *tok, const char *data)
{
  char raw[512];
  struct tl_response *r = malloc(sizeof(*r));
  int n, status;

  ck_assert_ptr_nonnull(r);
  n = snprintf(raw, sizeof(raw),
               "POST /publish HTTP/1.1\r\nHost: x\r\n%s%s%s"
               "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
               "Connection: close\r\n\r\n%s",
               NULL != tok ? "Authorization: Bearer " : "",
               NULL != tok ? tok : "", NULL != tok ? "\r\n" : "", strlen(data),
               data);
  status = tl_http(srv.port, raw, (size_t) n, r);
  free(r);
  return status;
}

/* The status of a GET /sse from src; the stream is kept open in s when
 * admitted (200), else closed. */
static int open_stream(struct tl_sse *s, const char *src)
{
  long long deadline = tl_now_ms() + 5000 * tl_scale();

  ck_assert_int_eq(0, tl_sse_open(s, srv.port, "/sse", NULL, src));
  while (0 == s->status && tl_now_ms() < deadline)
    if (tl_sse_pump(s, 100) < 0)
      break;
  if (200 != s->status) {
    int st = s->status;

    tl_sse_close(s);
    return st;
  }
  return 200;
}

/* ---- 1,000 streams through several reloads ------------------------------- */

enum { CLIENTS = 1000, EVENTS = 300, RELOADS = 6 };

static atomic_int published;
static atomic_bool publisher_done;

/* Publish "event-N" for N = 0.. EVENTS - 1, in order, each until taken
 * (a 503 under load is retried; anything else fails the test). */
static void *publisher(void *arg)
{
  char text[32];
  int i, st;

  (void) arg;
  for (i = 0; i < EVENTS; i++) {
    snprintf(text, sizeof(text), "event-%03d", i);
    do {
      st = tl_publish(srv.port, text, strlen(text), NULL);
    } while (503 == st);
    if (200 != st)
      break;
    atomic_store(&published, i + 1);
    if (0 == i % 10)
      tl_sleep_ms(5); /* spread the events over the reloads */
  }
  atomic_store(&publisher_done, true);
  return NULL;
}

static const char *const variants[] = {
  "heartbeat = 0.1\nretry = 1000\nhistory = 10\nmax-clients-per-ip = 5000\n",
  "heartbeat = 0\nretry = 2000\nhistory = 2000\npublish-rate = 100000\n",
  "heartbeat = 0.1\ncors-origin = https://a.example\nverbose\n",
};

START_TEST(test_reload_1000_streams_keep_every_event_once_in_order)
{
  static const struct tl_crowd crowd = { .src0 = 2, .nsrc = 8 };
  struct pollfd *pfd = calloc(CLIENTS, sizeof(*pfd));
  int *next = calloc(CLIENTS, sizeof(int));
  struct tl_sse *s = calloc(CLIENTS, sizeof(*s));
  char text[64], frame[256], buf[65536], body[512];
  long long deadline;
  pthread_t th;
  int i, done = 0, reloads = 0;

  ck_assert_ptr_nonnull(pfd);
  ck_assert_ptr_nonnull(next);
  ck_assert_ptr_nonnull(s);
  tl_raise_nofile();
  start_with_config("heartbeat = 0\nmax-clients = 1500\n");
  ck_assert_int_eq(CLIENTS, tl_sse_open_crowd(s, CLIENTS, srv.port, &crowd));
  ck_assert_int_eq(CLIENTS, tl_stat(srv.port, "clients"));

  atomic_store(&published, 0);
  atomic_store(&publisher_done, false);
  ck_assert_int_eq(0, pthread_create(&th, NULL, publisher, NULL));
  /* Reload while the events flow: before, during and after. */
  while (reloads < RELOADS) {
    int at = atomic_load(&published);

    if (at < (reloads + 1) * EVENTS / (RELOADS + 2)
        && !atomic_load(&publisher_done)) {
      tl_sleep_ms(2);
      continue;
    }
    snprintf(body, sizeof(body), "max-clients = 1500\n%s",
             variants[reloads % 3]);
    write_atomically(conf, body);
    tl_server_hup_and_wait(&srv, "info: reloaded");
    reloads++;
  }
  ck_assert_int_eq(0, pthread_join(th, NULL));
  ck_assert_int_eq(EVENTS, atomic_load(&published));
  printf("reload: %d reloads while publishing %d events to %d streams\n",
         reloads, EVENTS, CLIENTS);

  for (i = 0; i < CLIENTS; i++) {
    pfd[i].fd = s[i].fd;
    pfd[i].events = POLLIN;
  }
  deadline = tl_now_ms() + 30000 * tl_scale();
  while (done < CLIENTS && tl_now_ms() < deadline) {
    if (poll(pfd, CLIENTS, 1000) <= 0)
      continue;
    for (i = 0; i < CLIENTS; i++) {
      ssize_t r;

      if (0 == (pfd[i].revents & (POLLIN | POLLHUP)))
        continue;
      r = recv(s[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
      ck_assert_msg(r > 0, "client %d lost its stream", i);
      tl_sse_feed(&s[i], buf, (size_t) r);
      while (tl_sse_take(&s[i], frame, sizeof(frame)) >= 0) {
        if (':' == frame[0])
          continue; /* heartbeats, switched on and off by the reloads */
        ck_assert_msg(next[i] < EVENTS, "client %d: extra frame '%s'", i,
                      frame);
        ck_assert_int_gt(tl_strip_id(frame, NULL, 0), 0);
        snprintf(text, sizeof(text), "data: event-%03d", next[i]);
        ck_assert_msg(0 == strcmp(frame, text),
                      "client %d: expected '%s', got '%s'", i, text, frame);
        if (++next[i] == EVENTS)
          done++;
      }
    }
  }
  ck_assert_int_eq(done, CLIENTS);
  /* None duplicated: whatever came after the last event is heartbeats. */
  tl_sleep_ms(300);
  for (i = 0; i < CLIENTS; i++) {
    ssize_t r;

    while ((r = recv(s[i].fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
      tl_sse_feed(&s[i], buf, (size_t) r);
    ck_assert_msg(r < 0 && EAGAIN == errno, "client %d: stream ended", i);
    while (tl_sse_take(&s[i], frame, sizeof(frame)) >= 0)
      ck_assert_msg(':' == frame[0], "client %d: extra frame '%s'", i, frame);
  }
  /* None dropped: every stream is still registered. */
  ck_assert_int_eq(CLIENTS, tl_stat(srv.port, "clients"));
  ck_assert_int_eq(0, tl_stat(srv.port, "slow_disconnects"));
  for (i = 0; i < CLIENTS; i++)
    tl_sse_close(&s[i]);
  ck_assert_int_eq(0, tl_wait_stat(srv.port, "clients", 0, 5000));
  free(s);
  free(pfd);
  free(next);
  tl_server_stop_ok(&srv);
}
END_TEST

/* ---- the publish token rotated on disk ------------------------------------ */

START_TEST(test_reload_rotated_token_counts_from_the_next_request)
{
  char text[256];

  write_atomically(token, "old-token-1\n");
  snprintf(text, sizeof(text), "publish-token-file = %s\n", token);
  start_with_config(text);
  ck_assert_int_eq(200, publish_with("old-token-1", "a"));
  ck_assert_int_eq(401, publish_with("new-token-2", "b"));

  write_atomically(token, "new-token-2\n");
  /* On disk only: still the old one until SIGHUP. */
  ck_assert_int_eq(200, publish_with("old-token-1", "c"));
  tl_server_hup_and_wait(&srv, "info: reloaded");
  ck_assert_int_eq(401, publish_with("old-token-1", "d"));
  ck_assert_int_eq(200, publish_with("new-token-2", "e"));
  ck_assert_int_eq(401, publish_with(NULL, "f"));

  /* An unreadable token file refuses the reload: the token stays. */
  unlink(token);
  tl_server_hup_and_wait(&srv, "reload refused");
  ck_assert(tl_server_log_contains(&srv, "cannot read"));
  ck_assert_int_eq(200, publish_with("new-token-2", "g"));
  tl_server_stop_ok(&srv);
}
END_TEST

/* ---- settings that change live --------------------------------------------- */

START_TEST(test_reload_heartbeat_retry_and_limits_change_live)
{
  struct tl_sse a, b, c, d;
  char frame[256];
  long long t0;

  start_with_config("heartbeat = 0\nretry = 3000\nwhen-full = 429\n");
  ck_assert_int_eq(200, open_stream(&a, NULL));
  ck_assert_int_ge(tl_sse_next(&a, frame, sizeof(frame), 2000), 0);
  ck_assert_str_eq(":ok\nretry: 3000", frame);
  /* No heartbeat: nothing comes. */
  ck_assert_int_eq(-1, tl_sse_next(&a, frame, sizeof(frame), 300));

  write_atomically(conf, "heartbeat = 0.2\nretry = 1234\n"
                         "max-clients-per-ip = 2\nwhen-full = 429\n");
  tl_server_hup_and_wait(&srv, "info: reloaded");
  /* The open stream gets heartbeats now, within a second or so. */
  t0 = tl_now_ms();
  ck_assert_int_ge(tl_sse_next(&a, frame, sizeof(frame), 2000 * tl_scale()), 0);
  ck_assert_str_eq(":", frame);
  printf("reload: first heartbeat %lld ms after the reload\n",
         tl_now_ms() - t0);
  /* A new stream gets the new retry. */
  ck_assert_int_eq(200, open_stream(&b, NULL));
  ck_assert_int_ge(tl_sse_next(&b, frame, sizeof(frame), 2000), 0);
  ck_assert_str_eq(":ok\nretry: 1234", frame);
  /* Two streams from 127.0.0.1 already: a third is refused. */
  ck_assert_int_eq(429, open_stream(&c, NULL));
  ck_assert_int_eq(200, open_stream(&c, "127.0.0.9"));

  /* max-clients lowered below the streams open: the open ones stay,
   * a new one is refused; raised again, admitted. */
  write_atomically(conf, "heartbeat = 0.2\nmax-clients = 3\nwhen-full = 429\n");
  tl_server_hup_and_wait(&srv, "info: reloaded");
  ck_assert_int_eq(429, open_stream(&d, "127.0.0.10"));
  ck_assert_int_eq(3, tl_stat(srv.port, "clients"));
  /* when-full is live: without the line, the program's default, retry:
   * the refused stream is answered 200 and ssehub-overload, and ends. */
  write_atomically(conf, "heartbeat = 0.2\nmax-clients = 3\n");
  tl_server_hup_and_wait(&srv, "info: reloaded");
  ck_assert_int_eq(200, open_stream(&d, "127.0.0.10"));
  ck_assert_int_ge(tl_sse_next(&d, frame, sizeof(frame), 2000), 0);
  ck_assert_ptr_nonnull(strstr(frame, "event: ssehub-overload"));
  ck_assert_int_eq(-1, tl_sse_next(&d, frame, sizeof(frame), 2000));
  ck_assert(d.closed);
  tl_sse_close(&d);
  ck_assert_int_eq(1, tl_stat(srv.port, "overload_full"));
  ck_assert_int_eq(1, tl_stat(srv.port, "rejected_full"));
  ck_assert_int_eq(3, tl_stat(srv.port, "clients"));
  write_atomically(conf, "heartbeat = 0.2\n");
  tl_server_hup_and_wait(&srv, "info: reloaded");
  ck_assert_int_eq(200, open_stream(&d, NULL)); /* per-IP limit gone too */
  /* The first stream lived through all of it. */
  ck_assert_int_eq(200, publish_with(NULL, "still-here"));
  do {
    ck_assert_int_ge(tl_sse_next(&a, frame, sizeof(frame), 2000), 0);
  } while (':' == frame[0]);
  tl_strip_id(frame, NULL, 0);
  ck_assert_str_eq("data: still-here", frame);
  tl_sse_close(&a);
  tl_sse_close(&b);
  tl_sse_close(&c);
  tl_sse_close(&d);
  tl_server_stop_ok(&srv);
}
END_TEST

/* ---- a bad file is refused whole -------------------------------------------- */

START_TEST(test_reload_bad_line_keeps_the_old_settings)
{
  struct tl_sse a, b;
  char frame[256];

  start_with_config("retry = 1111\nheartbeat = 0\n");
  ck_assert_int_eq(200, open_stream(&a, NULL));
  /* The first line alone would change retry; the third is bad. */
  write_atomically(conf, "retry = 2222\nheartbeat = 0.1\nprot = 8080\n");
  tl_server_hup_and_wait(&srv, "reload refused");
  ck_assert(
      tl_server_log_contains(&srv, "ssehub.conf:3: unknown key \"prot\""));
  ck_assert(tl_server_log_contains(&srv, "error: reload refused"));
  /* Still serving, with the old retry and no heartbeat. */
  ck_assert_int_eq(200, open_stream(&b, NULL));
  ck_assert_int_ge(tl_sse_next(&b, frame, sizeof(frame), 2000), 0);
  ck_assert_str_eq(":ok\nretry: 1111", frame);
  ck_assert_int_eq(-1, tl_sse_next(&b, frame, sizeof(frame), 400));
  ck_assert_int_eq(200, publish_with(NULL, "after-bad"));
  ck_assert_int_ge(tl_sse_next_event(&a, frame, sizeof(frame), 2000), 0);
  tl_strip_id(frame, NULL, 0);
  ck_assert_str_eq("data: after-bad", frame);
  /* Fixed, it applies. */
  write_atomically(conf, "retry = 2222\n");
  tl_server_hup_and_wait(&srv, "info: reloaded");
  tl_sse_close(&b);
  ck_assert_int_eq(200, open_stream(&b, NULL));
  ck_assert_int_ge(tl_sse_next(&b, frame, sizeof(frame), 2000), 0);
  ck_assert_str_eq(":ok\nretry: 2222", frame);
  tl_sse_close(&a);
  tl_sse_close(&b);
  tl_server_stop_ok(&srv);
}
END_TEST

/* ---- what needs a restart ---------------------------------------------------- */

/* Start ssehub with nothing but --config (the port from the file);
 * false (and reaped) if it did not listen. */
static bool start_config_only(void)
{
  long long deadline = tl_now_ms() + 5000 * tl_scale();
  int fd;

  snprintf(srv.log_path, sizeof(srv.log_path), "%s/log", dir);
  srv.pid = fork();
  ck_assert_int_ge(srv.pid, 0);
  if (0 == srv.pid) {
    fd = open(srv.log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    execl(tl_bin(), tl_bin(), "--config", conf, (char *) NULL);
    _exit(127);
  }
  while (!tl_server_log_contains(&srv, "listening on") && tl_now_ms() < deadline
         && 0 == waitpid(srv.pid, &fd, WNOHANG))
    tl_sleep_ms(10);
  if (tl_server_log_contains(&srv, "listening on"))
    return true;
  tl_server_stop(&srv, SIGKILL, 1000, NULL);
  return false;
}

START_TEST(test_reload_port_change_needs_a_restart)
{
  char text[256];
  uint16_t port = 0, other = tl_free_port();
  int tries;

  ck_assert_uint_ne(0, other);
  /* A free port can be taken by another process before we bind it. */
  for (tries = 0; tries < 5; tries++) {
    port = tl_free_port();
    snprintf(text, sizeof(text), "bind = 127.0.0.1\nport = %u\n", port);
    write_atomically(conf, text);
    if (start_config_only())
      break;
  }
  ck_assert_msg(tries < 5, "ssehub did not start on a free port");
  srv.port = port;
  ck_assert_int_eq(200, tl_publish(port, "x", 1, NULL));
  snprintf(text, sizeof(text),
           "bind = 127.0.0.1\nport = %u\nthreads = 7\nretry = 10\n", other);
  write_atomically(conf, text);
  tl_server_hup_and_wait(&srv, "info: reloaded");
  ck_assert(tl_server_log_contains(&srv, "port changed: needs a restart"));
  ck_assert(tl_server_log_contains(&srv, "threads changed: needs a restart"));
  ck_assert_int_eq(1, tl_server_log_count(&srv, "port changed"));
  /* Still on the old port. */
  ck_assert_int_eq(200, tl_publish(port, "y", 1, NULL));
  tl_server_stop_ok(&srv);
}
END_TEST

static Suite *reload_suite(void)
{
  Suite *s = suite_create("reload");
  TCase *tc = tcase_create("reload");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_reload_1000_streams_keep_every_event_once_in_order);
  tcase_add_test(tc, test_reload_rotated_token_counts_from_the_next_request);
  tcase_add_test(tc, test_reload_heartbeat_retry_and_limits_change_live);
  tcase_add_test(tc, test_reload_bad_line_keeps_the_old_settings);
  tcase_add_test(tc, test_reload_port_change_needs_a_restart);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(reload_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
