/* check_server.c - integration tests: the real ssehub program on a free
 * loopback port, spoken to over real sockets. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

static struct tl_server srv;

static int publish_text(const char *text)
{
  return tl_publish(srv.port, text, strlen(text), NULL);
}

/* ---- protocol ---------------------------------------------------------------- */

START_TEST(test_server_headers_and_ok_before_any_event)
{
  static const char *const args[] = { "--heartbeat", "0", NULL };
  struct tl_sse s;
  struct tl_response r;
  char frame[256], v[128];
  long long t0;

  tl_server_start_ok(&srv, args);
  t0 = tl_now_ms();
  ck_assert_int_eq(0, tl_sse_open(&s, srv.port, "/sse", NULL, NULL));
  /* Nothing has been published: the ":ok" frame must come by itself. */
  ck_assert_int_ge(tl_sse_next(&s, frame, sizeof(frame), 2000), 0);
  ck_assert_msg(tl_now_ms() - t0 < 1000 * tl_scale(),
                "first frame took %lld ms", tl_now_ms() - t0);
  ck_assert_str_eq(frame, ":ok\nretry: 3000");
  ck_assert_int_eq(s.status, 200);
  memcpy(r.head, s.head, sizeof(r.head));
  ck_assert(tl_header(&r, "Content-Type", v, sizeof(v)));
  ck_assert_str_eq(v, "text/event-stream; charset=utf-8");
  ck_assert(tl_header(&r, "Cache-Control", v, sizeof(v)));
  ck_assert_str_eq(v, "no-cache");
  ck_assert(tl_header(&r, "Connection", v, sizeof(v)));
  ck_assert(0 == strcasecmp(v, "keep-alive"));
  ck_assert(tl_header(&r, "X-Accel-Buffering", v, sizeof(v)));
  ck_assert_str_eq(v, "no");
  ck_assert(s.chunked);

  ck_assert_int_eq(200, publish_text("first"));
  ck_assert_int_ge(tl_sse_next(&s, frame, sizeof(frame), 2000), 0);
  ck_assert_int_gt(tl_strip_id(frame, NULL, 0), 0);
  ck_assert_str_eq(frame, "data: first");
  tl_sse_close(&s);
  tl_server_stop_ok(&srv);
}
END_TEST

START_TEST(test_server_publish_form_and_text)
{
  static const char form[] =
      "POST /publish HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
      "Content-Type: application/x-www-form-urlencoded\r\n"
      "Content-Length: 38\r\n\r\n"
      "data=line+one%0Aline%20two&event=greet";
  static const char text[] =
      "POST /publish?event=raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: 10\r\n\r\n"
      "a\r\nb\rc\nd\xc3\xa9";
  static const char *const args[] = { "--heartbeat", "0", NULL };
  struct tl_response r;
  struct tl_sse s;
  char frame[256];

  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(0, tl_sse_open(&s, srv.port, "/sse", NULL, NULL));
  ck_assert_int_ge(tl_sse_next(&s, frame, sizeof(frame), 2000), 0);

  ck_assert_int_eq(200, tl_http(srv.port, form, sizeof(form) - 1, &r));
  ck_assert_ptr_nonnull(strstr(r.body, "\"seq\":1"));
  ck_assert_int_ge(tl_sse_next(&s, frame, sizeof(frame), 2000), 0);
  ck_assert_int_gt(tl_strip_id(frame, NULL, 0), 0);
  ck_assert_str_eq(frame, "event: greet\ndata: line one\ndata: line two");

  /* CRLF, lone CR and LF each end a line; UTF-8 passes through. */
  ck_assert_int_eq(200, tl_http(srv.port, text, sizeof(text) - 1, &r));
  ck_assert_int_ge(tl_sse_next(&s, frame, sizeof(frame), 2000), 0);
  ck_assert_int_gt(tl_strip_id(frame, NULL, 0), 0);
  ck_assert_str_eq(frame,
                   "event: raw\ndata: a\ndata: b\ndata: c\ndata: d\xc3\xa9");
  tl_sse_close(&s);
  tl_server_stop_ok(&srv);
}
END_TEST

static void expect_status(const char *raw, int status, const char *reason)
{
  struct tl_response r;
  char *nl;

  ck_assert_int_eq(status, tl_http(srv.port, raw, strlen(raw), &r));
  /* One line, saying why. */
  nl = strchr(r.body, '\n');
  ck_assert_msg(NULL != nl && '\0' == nl[1], "body is not one line: '%s'",
                r.body);
  ck_assert_msg(NULL != strstr(r.body, reason), "'%s' lacks '%s'", r.body,
                reason);
}

static void expect_post(const char *type, const char *body, int status,
                        const char *reason)
{
  char raw[1024];

  snprintf(raw, sizeof(raw),
           "POST /publish HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
           type, strlen(body), body);
  expect_status(raw, status, reason);
}

START_TEST(test_server_bad_requests_get_clear_errors)
{
  static const char *const args[] = { "--max-event-size", "100", NULL };
  char big[512];
  struct tl_response r;
  char v[64];

  tl_server_start_ok(&srv, args);
  expect_post("application/x-www-form-urlencoded", "event=x", 400,
              "missing field: data");
  expect_post("application/x-www-form-urlencoded", "data=%zz", 400,
              "percent-encoding");
  expect_post("application/x-www-form-urlencoded", "data=x&data=y", 400,
              "more than once");
  expect_post("application/x-www-form-urlencoded", "data=x&event=a%0Aevil", 400,
              "event");
  expect_post("application/x-www-form-urlencoded", "data=x&colour=red", 400,
              "unknown field");
  expect_post("application/json", "{}", 415, "Content-Type");
  /* 101 bytes of data with a 100-byte limit. */
  memset(big, 'x', 101);
  ck_assert_int_eq(413, tl_publish(srv.port, big, 101, &r));
  ck_assert_ptr_nonnull(strstr(r.body, "too large"));
  ck_assert_int_eq(200, tl_publish(srv.port, big, 100, NULL));

  expect_status("GET /publish HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                405, "POST");
  {
    static const char del[] = "DELETE /sse HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n";

    ck_assert_int_eq(405, tl_http(srv.port, del, sizeof(del) - 1, &r));
  }
  ck_assert(tl_header(&r, "Allow", v, sizeof(v)));
  ck_assert_str_eq(v, "GET, HEAD, OPTIONS");
  expect_status("GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                404, "not found");
  /* The server is still fine. */
  ck_assert_int_eq(200, publish_text("still here"));
  tl_server_stop_ok(&srv);
}
END_TEST

START_TEST(test_server_http10_client_gets_identity_stream)
{
  static const char *const args[] = { "--heartbeat", "0", NULL };
  static const char req[] = "GET /sse HTTP/1.0\r\n\r\n";
  struct tl_sse s;
  char frame[128];

  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(0, tl_sse_send(&s, tl_connect(srv.port, NULL), req,
                                  sizeof(req) - 1));
  ck_assert_int_ge(tl_sse_next(&s, frame, sizeof(frame), 2000), 0);
  ck_assert_str_eq(frame, ":ok\nretry: 3000");
  ck_assert(!s.chunked);
  ck_assert_int_eq(200, publish_text("one-oh"));
  ck_assert_int_ge(tl_sse_next(&s, frame, sizeof(frame), 2000), 0);
  ck_assert_int_gt(tl_strip_id(frame, NULL, 0), 0);
  ck_assert_str_eq(frame, "data: one-oh");
  tl_sse_close(&s);
  tl_server_stop_ok(&srv);
}
END_TEST

START_TEST(test_server_heartbeat_and_tick)
{
  static const char *const args[] = { "--heartbeat", "0.2", "--tick", "0.3",
                                      NULL };
  struct tl_sse s;
  char frame[256];
  int heartbeats = 0, ticks = 0;
  long long deadline;

  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(0, tl_sse_open(&s, srv.port, "/sse", NULL, NULL));
  deadline = tl_now_ms() + 1500;
  while (tl_now_ms() < deadline) {
    if (tl_sse_next(&s, frame, sizeof(frame), 200) < 0)
      continue;
    if (0 == strcmp(frame, ":"))
      heartbeats++;
    else if (tl_strip_id(frame, NULL, 0) > 0
             && 0 == strncmp(frame, "data: It is ", 12)
             && NULL != strstr(frame, " now!"))
      ticks++;
  }
  ck_assert_int_ge(ticks, 3);
  tl_sse_close(&s);
  tl_server_stop_ok(&srv);

  /* Without ticks, an idle stream gets a heartbeat every 0.2 s. */
  {
    static const char *const hb_only[] = { "--heartbeat", "0.2", NULL };

    tl_server_start_ok(&srv, hb_only);
    ck_assert_int_eq(0, tl_sse_open(&s, srv.port, "/sse", NULL, NULL));
    deadline = tl_now_ms() + 1100;
    while (tl_now_ms() < deadline)
      if (tl_sse_next(&s, frame, sizeof(frame), 200) >= 0
          && 0 == strcmp(frame, ":"))
        heartbeats++;
    ck_assert_int_ge(heartbeats, 3);
    tl_sse_close(&s);
    tl_server_stop_ok(&srv);
  }
}
END_TEST

/* ---- limits --------------------------------------------------------------------- */

START_TEST(test_server_max_clients_429_then_admits_after_leave)
{
  /* No heartbeat: the hang-up watcher alone must notice the leaver. */
  static const char *const args[] = { "--max-clients",   "3",
                                      "--heartbeat",     "0",
                                      "--when-full=429", NULL };
  static const char req[] = "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n";
  struct tl_sse s[4];
  struct tl_response r;
  char frame[64], v[64];
  int i;

  tl_server_start_ok(&srv, args);
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(0, tl_sse_open(&s[i], srv.port, "/sse", NULL, NULL));
    ck_assert_int_ge(tl_sse_next(&s[i], frame, sizeof(frame), 2000), 0);
    ck_assert_int_eq(s[i].status, 200);
  }
  ck_assert_int_eq(429, tl_http(srv.port, req, sizeof(req) - 1, &r));
  ck_assert(tl_header(&r, "Retry-After", v, sizeof(v)));
  ck_assert_int_gt(atoi(v), 0);
  ck_assert(tl_header(&r, "Connection", v, sizeof(v)));
  ck_assert_str_eq(v, "close");
  ck_assert_ptr_nonnull(strstr(r.body, "too many clients"));
  ck_assert_int_eq(3, tl_stat(srv.port, "clients"));
  ck_assert_int_eq(1, tl_stat(srv.port, "rejected_full"));
  /* HEAD tells what a GET would get (the demo page relies on it). */
  {
    static const char head[] = "HEAD /sse HTTP/1.1\r\nHost: x\r\n"
                               "Connection: close\r\n\r\n";

    ck_assert_int_eq(429, tl_http(srv.port, head, sizeof(head) - 1, &r));
  }

  /* One leaves; once the server noticed, a newcomer is admitted. */
  tl_sse_close(&s[0]);
  ck_assert_int_eq(2, tl_wait_stat(srv.port, "clients", 2, 3000));
  ck_assert_int_eq(0, tl_sse_open(&s[3], srv.port, "/sse", NULL, NULL));
  ck_assert_int_ge(tl_sse_next(&s[3], frame, sizeof(frame), 2000), 0);
  ck_assert_int_eq(s[3].status, 200);
  for (i = 1; i < 4; i++)
    tl_sse_close(&s[i]);
  tl_server_stop_ok(&srv);
}
END_TEST

START_TEST(test_server_killed_client_is_removed)
{
  /* No heartbeat: the kernel's FIN for the killed process is enough. */
  static const char *const args[] = { "--heartbeat", "0", NULL };
  int ready[2];
  pid_t child;
  long long t0;
  char c;

  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(0, pipe(ready));
  child = fork();
  if (0 == child) {
    struct tl_sse s;
    char frame[64];

    if (0 == tl_sse_open(&s, srv.port, "/sse", NULL, NULL)
        && tl_sse_next(&s, frame, sizeof(frame), 2000) >= 0)
      (void) !write(ready[1], "r", 1);
    pause();
    _exit(0);
  }
  ck_assert_int_eq(1, (int) read(ready[0], &c, 1));
  ck_assert_int_eq(1, tl_stat(srv.port, "clients"));
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  t0 = tl_now_ms();
  ck_assert_int_eq(0, tl_wait_stat(srv.port, "clients", 0, 3000));
  ck_assert_msg(tl_now_ms() - t0 < 1000 * tl_scale(), "removal took %lld ms",
                tl_now_ms() - t0);
  ck_assert_int_eq(1, tl_stat(srv.port, "hangups"));
  close(ready[0]);
  close(ready[1]);
  tl_server_stop_ok(&srv);
}
END_TEST

/* Publish numbered event k: "000042:" and letters, size bytes in all
 * (payload has room for size + 1). */
static void publish_numbered(char *payload, size_t size, int k)
{
  int n = snprintf(payload, size + 1, "%06d:", k);

  memset(payload + n, 'a' + k % 26, size - (size_t) n);
  ck_assert_int_eq(200, tl_publish(srv.port, payload, size, NULL));
}

/* Take the events s has buffered (frame: room for size + 64): each must be
 * the numbered event *next, whole. */
static void take_numbered(struct tl_sse *s, char *frame, size_t size, int *next)
{
  while (tl_sse_take(s, frame, size + 64) >= 0) {
    char want[32];

    ck_assert_int_gt(tl_strip_id(frame, NULL, 0), 0);
    snprintf(want, sizeof(want), "data: %06d:", *next);
    ck_assert_msg(0 == strncmp(frame, want, strlen(want)),
                  "event %d out of order or torn: %.20s", *next, frame);
    ck_assert_int_eq((int) strlen(frame), 6 + (int) size);
    (*next)++;
  }
}

/* A client that stops reading fills the kernel buffers, then its ring, and
 * is cut off; a reading client meanwhile gets every event, in order. */
START_TEST(test_server_non_reading_client_dropped_others_unharmed)
{
  static const char *const args[] = { "--heartbeat", "0", "--client-buffer",
                                      "256K", NULL };
  enum { EVENTS = 600, SIZE = 16 * 1024 };
  static const char req[] = "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n";
  struct tl_sse good;
  char *payload = malloc(SIZE + 1), *frame = malloc(SIZE + 64);
  int slow, rcv = 4096, next = 0, sent = 0;
  long long deadline;

  tl_server_start_ok(&srv, args);
  slow = tl_connect(srv.port, NULL);
  ck_assert_int_ge(slow, 0);
  setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
  ck_assert_int_eq((int) sizeof(req) - 1,
                   (int) send(slow, req, sizeof(req) - 1, 0));
  ck_assert_int_eq(0, tl_sse_open(&good, srv.port, "/sse", NULL, NULL));
  ck_assert_int_ge(tl_sse_next(&good, frame, SIZE + 64, 2000), 0);
  ck_assert_int_eq(2, tl_wait_stat(srv.port, "clients", 2, 2000));

  deadline = tl_now_ms() + 30000;
  while (next < EVENTS && tl_now_ms() < deadline) {
    /* Keep a few events in flight; read whatever arrived. */
    if (sent < EVENTS && sent - next < 8)
      publish_numbered(payload, SIZE, sent++);
    take_numbered(&good, frame, SIZE, &next);
    tl_sse_pump(&good, sent - next >= 8 ? 50 : 0);
  }
  ck_assert_int_eq(next, EVENTS);
  ck_assert_int_eq(1, tl_wait_stat(srv.port, "slow_disconnects", 1, 5000));
  ck_assert_int_eq(1, tl_wait_stat(srv.port, "clients", 1, 5000));
  close(slow);
  tl_sse_close(&good);
  free(payload);
  free(frame);
  tl_server_stop_ok(&srv);
}
END_TEST

/* Streams that end while another client is stalled are closed at once.
 * libmicrohttpd 0.9.75 leaves a resumed connection whose reader ends it
 * with an error in its list, closed but not cleaned up, until its timeout
 * scan reaches it; that scan stops at the oldest live connection, and a
 * client that stopped reading stays the oldest until its timeout (60 s).
 * Every peer that hung up meanwhile kept its descriptor and its place
 * under the connection limit, and after a few dozen the server stopped
 * accepting anyone. */
START_TEST(test_server_hangups_behind_a_stalled_reader_are_closed)
{
  static const char *const args[] = {
    "--heartbeat", "0", "--max-clients",   "4",
    "--threads",   "1", "--client-buffer", "64M",
    NULL
  };
  /* Events over SH_DIRECT_MAX (16 KiB) always go through libmicrohttpd,
   * so the stalled stream ends up as the bug needs it: live, not parked,
   * waiting to write. */
  enum { SIZE = 32 * 1024, CYCLES = 200 };
  static const char req[] = "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n";
  char *payload = malloc(SIZE);
  int stalled, rcv = 4096, i, base_fds, fds;
  long long deadline;

  tl_server_start_ok(&srv, args);
  base_fds = (int) tl_stat(srv.port, "fds");
  stalled = tl_connect(srv.port, NULL);
  ck_assert_int_ge(stalled, 0);
  setsockopt(stalled, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
  ck_assert_int_eq((int) sizeof(req) - 1,
                   (int) send(stalled, req, sizeof(req) - 1, 0));
  ck_assert_int_eq(1, tl_wait_stat(srv.port, "clients", 1, 2000));

  /* Fill the stalled client's socket until the server holds events for it
   * (its send is blocked), without reaching its 64 MiB buffer; whatever
   * the kernel's buffers take (a few MiB), the rest stays queued. */
  memset(payload, 'x', SIZE);
  for (i = 0; i < 1000 && tl_stat(srv.port, "buffered_bytes") < 8 * SIZE; i++)
    ck_assert_int_eq(200, tl_publish(srv.port, payload, SIZE, NULL));
  tl_sleep_ms(200);
  ck_assert_msg(tl_stat(srv.port, "buffered_bytes") >= 4 * SIZE,
                "the stalled client's socket never filled (%d events, "
                "%lld bytes queued)",
                i, tl_stat(srv.port, "buffered_bytes"));

  /* Others come, read their ":ok" and leave, one after the other: far
   * more than the connection limit (4 + 64) in all. */
  for (i = 0; i < CYCLES; i++) {
    struct tl_sse s;

    ck_assert_msg(0 == tl_sse_open(&s, srv.port, "/sse", NULL, NULL),
                  "connect %d: %s", i, strerror(errno));
    ck_assert_msg(tl_sse_got_ok(&s, 3000 * tl_scale()),
                  "client %d of %d got no stream (status %d, server fds "
                  "%lld)",
                  i, CYCLES, s.status, tl_stat(srv.port, "fds"));
    tl_sse_close(&s);
    /* Gone from the registry before the next one comes (under load the
     * server may take a moment; the bug is in what happens after). */
    ck_assert_msg(1 == tl_wait_stat(srv.port, "clients", 1, 3000 * tl_scale()),
                  "after client %d of %d left, the server still counts "
                  "%lld clients (-1: it no longer answers; at its "
                  "connection limit, 4 + 64?)",
                  i, CYCLES, tl_stat(srv.port, "clients"));
  }
  ck_assert_int_eq(CYCLES, tl_wait_stat(srv.port, "hangups", CYCLES, 3000));
  ck_assert_int_eq(1, tl_wait_stat(srv.port, "clients", 1, 3000));
  /* Their descriptors are closed: only the stalled one is left. */
  deadline = tl_now_ms() + 2000 * tl_scale();
  while ((fds = (int) tl_stat(srv.port, "fds")) > base_fds + 1
         && tl_now_ms() < deadline)
    tl_sleep_ms(20);
  ck_assert_msg(fds <= base_fds + 1,
                "server fds %d after %d clients left, "
                "%d before they came (+1 for the stalled one)",
                fds, CYCLES, base_fds);
  ck_assert_int_eq(0, tl_stat(srv.port, "slow_disconnects"));
  close(stalled);
  free(payload);
  tl_server_stop_ok(&srv);
}
END_TEST

/* A reader that stops reading fills its socket: a direct write is then
 * taken only in part, and the rest ("tail") must go out before anything
 * MHD sends, or the chunked stream would be cut in two. Once it reads
 * again it must get every event whole, once, in order. */
START_TEST(test_server_paused_reader_gets_every_event_whole)
{
  static const char *const args[] = { "--heartbeat", "0", "--client-buffer",
                                      "8M", NULL };
  enum { SIZE = 3000, MAX_EVENTS = 3000 };
  static const char req[] = "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n";
  char *payload = malloc(SIZE + 1), *frame = malloc(SIZE + 64);
  struct tl_sse s;
  int rcv = 8192, sent = 0, next = 0, extra;
  long long deadline;

  tl_server_start_ok(&srv, args);
  /* A small receive buffer from the start (loopback's MSS kept). */
  ck_assert_int_eq(0, tl_sse_send(&s, tl_connect_slow(srv.port, NULL, rcv, 0),
                                  req, sizeof(req) - 1));
  ck_assert_int_ge(tl_sse_next(&s, frame, SIZE + 64, 2000), 0);
  ck_assert_int_eq(200, s.status);
  /* Publish without reading until a write is cut short, then some more
   * (they queue behind the tail). Until then each event waits for its
   * direct write: an event that went through libmicrohttpd instead (the
   * stream busy, as on a loaded machine) could be the one that fills the
   * socket, and then no direct write ever comes again. */
  for (extra = -1; sent < MAX_EVENTS && extra != 0; sent++) {
    long long direct = tl_stat(srv.port, "direct_writes");

    publish_numbered(payload, SIZE, sent);
    if (extra < 0) {
      deadline = tl_now_ms() + 200 * tl_scale();
      while (tl_stat(srv.port, "direct_writes") == direct
             && tl_now_ms() < deadline)
        tl_sleep_ms(1);
    }
    if (extra < 0 && tl_stat(srv.port, "direct_tails") > 0)
      extra = 20;
    else if (extra > 0)
      extra--;
  }
  ck_assert_msg(0 == extra, "no direct write was cut short in %d events", sent);
  deadline = tl_now_ms() + 20000;
  while (next < sent && tl_now_ms() < deadline) {
    take_numbered(&s, frame, SIZE, &next);
    if (next < sent)
      ck_assert_int_ge(tl_sse_pump(&s, 1000), 0);
  }
  ck_assert_int_eq(next, sent);
  printf("server: paused reader: %d events of %d bytes, %lld tail(s), all "
         "whole and in order\n",
         sent, SIZE, tl_stat(srv.port, "direct_tails"));
  ck_assert_int_eq(0, tl_stat(srv.port, "slow_disconnects"));
  tl_sse_close(&s);
  free(payload);
  free(frame);
  tl_server_stop_ok(&srv);
}
END_TEST

/* ---- when the server is full ------------------------------------------------ */

/* One refused GET /sse, answered as --when-full=retry answers: 200
 * text/event-stream, "retry: N", one ssehub-overload event whose data
 * names the limit, no ":ok" and no id: line, then the end of the body
 * (and of the connection). Returns N. */
static int expect_overload(const char *src, const char *limit, int max)
{
  static const char req[] = "GET /sse HTTP/1.1\r\nHost: x\r\n"
                            "Last-Event-ID: 5-7\r\n\r\n";
  struct tl_response r;
  char v[128], want[128];
  int retry = -1, n = 0;

  ck_assert_int_eq(200, tl_http_from(srv.port, src, req, sizeof(req) - 1, &r,
                                     5000 * tl_scale()));
  ck_assert(tl_header(&r, "Content-Type", v, sizeof(v)));
  ck_assert_str_eq(v, "text/event-stream; charset=utf-8");
  ck_assert(tl_header(&r, "Connection", v, sizeof(v)));
  ck_assert_str_eq(v, "close");
  ck_assert_msg(
      1 == sscanf(r.body, "retry: %d\nevent: ssehub-overload\n%n", &retry, &n)
          && n > 0,
      "not an overload answer: %s", r.body);
  snprintf(want, sizeof(want),
           "data: {\"limit\":\"%s\",\"max\":%d,\"retry\":%d}\n\n", limit, max,
           retry);
  /* The whole body: the event, and nothing after it (the end). */
  ck_assert_str_eq(r.body + n, want);
  ck_assert_ptr_null(strstr(r.body, ":ok"));
  ck_assert_ptr_null(strstr(r.body, "\nid:"));
  return retry;
}

START_TEST(test_server_when_full_retry_answers_overload)
{
  static const char *const args[] = { "--max-clients",
                                      "2",
                                      "--max-clients-per-ip",
                                      "1",
                                      "--retry-after",
                                      "2",
                                      "--heartbeat",
                                      "0",
                                      NULL };
  enum { REFUSALS = 60 };
  struct tl_sse a, b, c;
  struct tl_response r;
  int i, v, lo = 1 << 30, hi = 0, first = -1, differ = 0;
  static const char metrics[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                                "Connection: close\r\n\r\n";

  tl_server_start_ok(&srv, args); /* when-full: the program's default */
  ck_assert_int_eq(0, tl_sse_open(&a, srv.port, "/sse", NULL, "127.0.0.2"));
  ck_assert(tl_sse_got_ok(&a, 2000));
  /* Per address: a second stream from 127.0.0.2. */
  v = expect_overload("127.0.0.2", "max_clients_per_ip", 1);
  ck_assert_int_eq(1, tl_stat(srv.port, "overload_per_ip"));
  ck_assert_int_eq(0, tl_stat(srv.port, "rejected_per_ip"));
  ck_assert_int_eq(0, tl_sse_open(&b, srv.port, "/sse", NULL, "127.0.0.3"));
  ck_assert(tl_sse_got_ok(&b, 2000));
  /* Full: every refusal its own delay, within 2000 ms +-50 %. */
  for (i = 0; i < REFUSALS; i++) {
    v = expect_overload("127.0.0.4", "max_clients", 2);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    if (first < 0)
      first = v;
    differ += v != first;
  }
  printf("overload: %d refusals told retry %d..%d ms\n", REFUSALS, lo, hi);
  ck_assert_int_ge(lo, 1000);
  ck_assert_int_le(hi, 3000);
  ck_assert_int_gt(differ, REFUSALS / 2);
  ck_assert_int_gt(hi - lo, 1000);
  /* Counted as refusals, by limit and by the answer's code; no slot
   * taken. */
  ck_assert_int_eq(REFUSALS, tl_stat(srv.port, "overload_full"));
  ck_assert_int_eq(0, tl_stat(srv.port, "rejected_full"));
  ck_assert_int_eq(2, tl_stat(srv.port, "clients"));
  ck_assert_int_eq(2, tl_stat(srv.port, "clients_total"));
  ck_assert_int_eq(200, tl_http(srv.port, metrics, sizeof(metrics) - 1, &r));
  ck_assert_ptr_nonnull(strstr(
      r.body,
      "ssehub_refusals_total{reason=\"max_clients\",code=\"200\"} 60\n"));
  ck_assert_ptr_nonnull(
      strstr(r.body,
             "ssehub_refusals_total{reason=\"per_ip\",code=\"200\"} 1\n"));
  ck_assert_ptr_nonnull(
      strstr(r.body,
             "ssehub_refusals_total{reason=\"max_clients\",code=\"429\"} 0\n"));
  /* A slot frees: the next one is a stream again. */
  tl_sse_close(&a);
  ck_assert_int_eq(1, tl_wait_stat(srv.port, "clients", 1, 3000));
  ck_assert_int_eq(0, tl_sse_open(&c, srv.port, "/sse", NULL, "127.0.0.4"));
  ck_assert(tl_sse_got_ok(&c, 2000));
  tl_sse_close(&b);
  tl_sse_close(&c);
  tl_server_stop_ok(&srv);
}
END_TEST

/* Near the open-file limit a stream is refused too ("open_files"), as
 * the overload answer in retry mode, before accept() would fail. */
START_TEST(test_server_when_full_retry_open_files)
{
  static const char *const args[] = { "--max-clients", "1000", "--threads", "1",
                                      "--heartbeat",   "0",    NULL };
  enum { N = 80 };
  struct tl_sse s[N];
  int i, admitted = 0, refused = 0;
  long long deadline;

  if (NULL != getenv("TL_SERVER_WRAPPER")) {
    fprintf(stderr, "open-files: not run under a wrapper (valgrind)\n");
    return;
  }
  tl_server_nofile = 96; /* streams may take fds below 96 - 32 */
  tl_server_start_ok(&srv, args);
  tl_server_nofile = 0;
  for (i = 0; i < N; i++)
    ck_assert_int_eq(0,
                     tl_sse_open(&s[i], srv.port, "/sse", NULL, "127.0.0.5"));
  deadline = tl_now_ms() + 5000 * tl_scale();
  for (i = 0; i < N; i++) {
    char frame[256];

    while (0 == s[i].status && tl_now_ms() < deadline)
      tl_sse_pump(&s[i], 100);
    ck_assert_int_eq(200, s[i].status);
    ck_assert_int_ge(tl_sse_next(&s[i], frame, sizeof(frame), 2000), 0);
    if (0 == strncmp(frame, ":ok", 3)) {
      admitted++;
    } else {
      ck_assert_msg(NULL
                        != strstr(frame,
                                  "event: ssehub-overload\ndata: "
                                  "{\"limit\":\"open_files\",\"max\":64,"),
                    "stream %d: %s", i, frame);
      refused++;
    }
  }
  fprintf(stderr, "open-files: %d admitted, %d refused\n", admitted, refused);
  ck_assert_int_gt(admitted, 30);
  ck_assert_int_gt(refused, 0);
  ck_assert_int_eq(refused, tl_stat(srv.port, "overload_fds"));
  ck_assert_int_eq(admitted, tl_stat(srv.port, "clients"));
  for (i = 0; i < N; i++)
    tl_sse_close(&s[i]);
  tl_server_stop_ok(&srv);
}
END_TEST

/* ---- scale ------------------------------------------------------------------------ */

/* Open n streams from source addresses 127.0.0.2-9, all admitted. */
static struct tl_sse *open_many(int n)
{
  static const struct tl_crowd crowd = { .src0 = 2, .nsrc = 8 };
  struct tl_sse *s = calloc((size_t) n, sizeof(*s));

  ck_assert_int_eq(n, tl_sse_open_crowd(s, n, srv.port, &crowd));
  return s;
}

START_TEST(test_server_2000_clients_get_every_event_once_in_order)
{
  static const char *const args[] = { "--heartbeat", "0", "--max-clients",
                                      "2500", NULL };
  enum { CLIENTS = 2000, EVENTS = 100 };
  struct pollfd *pfd = calloc(CLIENTS, sizeof(*pfd));
  int *next = calloc(CLIENTS, sizeof(int));
  struct tl_sse *s;
  char text[64], frame[128], buf[65536];
  long long deadline;
  long rss0, rss1;
  int i, e, done = 0;

  tl_raise_nofile();
  tl_server_start_ok(&srv, args);
  rss0 = tl_rss_kib(srv.pid);
  s = open_many(CLIENTS);
  ck_assert_int_eq(CLIENTS, tl_stat(srv.port, "clients"));
  /* Idle streams are cheap: each costs the pages that hold its request
   * and bookkeeping, not the connection's whole buffer (32 KiB). */
  tl_sleep_ms(300);
  rss1 = tl_rss_kib(srv.pid);
  printf("server: %d idle streams: VmRSS %ld -> %ld KiB (%.2f KiB each)\n",
         CLIENTS, rss0, rss1, (double) (rss1 - rss0) / CLIENTS);
  if (!tl_instrumented(srv.pid))
    ck_assert_msg(rss1 - rss0 <= 8 * CLIENTS, "%d idle streams took %ld KiB",
                  CLIENTS, rss1 - rss0);
  for (e = 0; e < EVENTS; e++) {
    snprintf(text, sizeof(text), "event-%03d", e);
    ck_assert_int_eq(200, publish_text(text));
  }
  for (i = 0; i < CLIENTS; i++) {
    pfd[i].fd = s[i].fd;
    pfd[i].events = POLLIN;
  }
  deadline = tl_now_ms() + 30000;
  while (done < CLIENTS && tl_now_ms() < deadline) {
    if (poll(pfd, CLIENTS, 1000) <= 0)
      continue;
    for (i = 0; i < CLIENTS; i++) {
      ssize_t r;

      if (0 == (pfd[i].revents & POLLIN))
        continue;
      r = recv(s[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
      ck_assert_msg(r > 0, "client %d lost its stream", i);
      tl_sse_feed(&s[i], buf, (size_t) r);
      while (tl_sse_take(&s[i], frame, sizeof(frame)) >= 0) {
        ck_assert_int_gt(tl_strip_id(frame, NULL, 0), 0);
        snprintf(text, sizeof(text), "data: event-%03d", next[i]);
        ck_assert_msg(0 == strcmp(frame, text),
                      "client %d: expected '%s', got '%s'", i, text, frame);
        if (++next[i] == EVENTS) {
          done++;
          pfd[i].fd = -1; /* any further frame would be a duplicate ... */
        }
      }
    }
  }
  ck_assert_int_eq(done, CLIENTS);
  /* ... so check none arrived on the finished streams. */
  tl_sleep_ms(200);
  for (i = 0; i < CLIENTS; i++) {
    ssize_t r = recv(s[i].fd, buf, sizeof(buf), MSG_DONTWAIT);

    ck_assert_msg(r < 0 && EAGAIN == errno, "client %d got extra bytes", i);
    tl_sse_close(&s[i]);
  }
  ck_assert_int_eq(0, tl_wait_stat(srv.port, "clients", 0, 5000));
  free(s);
  free(pfd);
  free(next);
  tl_server_stop_ok(&srv);
}
END_TEST

START_TEST(test_server_sigterm_with_clients_exits_0_promptly)
{
  static const char *const args[] = { "--heartbeat", "0", "--retry", "2000",
                                      NULL };
  enum { CLIENTS = 500 };
  struct tl_sse *s;
  long long elapsed;
  int st, i, ended = 0, told = 0, lo = 1 << 30, hi = 0;
  char frame[128];
  static unsigned char seen[3001];
  int distinct = 0;

  tl_raise_nofile();
  tl_server_start_ok(&srv, args);
  s = open_many(CLIENTS);
  st = tl_server_stop(&srv, SIGTERM, 5000, &elapsed);
  ck_assert_msg(st >= 0 && WIFEXITED(st) && 0 == WEXITSTATUS(st),
                "exit status %d", st);
  ck_assert_msg(elapsed < 1000 * tl_scale(), "took %lld ms to exit", elapsed);
  /* Every stream was ended cleanly (chunked terminator) or closed. */
  for (i = 0; i < CLIENTS; i++) {
    while (!s[i].ended && tl_sse_pump(&s[i], 1000) > 0)
      ;
    if (s[i].ended)
      ended++;
    /* The last frame before the end: "retry:", jittered per stream
     * (2000 ms +-50 %), so the clients of a restarted server do not all
     * come back in the same second. */
    while (tl_sse_take(&s[i], frame, sizeof(frame)) >= 0) {
      int v;

      if (1 == sscanf(frame, "retry: %d", &v) && 0 == strchr(frame, '\n')) {
        told++;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        if (v >= 0 && v <= 3000 && !seen[v]) {
          seen[v] = 1;
          distinct++;
        }
      }
    }
    tl_sse_close(&s[i]);
  }
  ck_assert_int_eq(ended, CLIENTS);
  printf("sigterm: %d of %d streams told retry %d..%d ms, %d distinct\n", told,
         CLIENTS, lo, hi, distinct);
  ck_assert_int_eq(told, CLIENTS);
  ck_assert_int_ge(lo, 1000);
  ck_assert_int_le(hi, 3000);
  /* Uniform over 2001 values: 500 draws give about 440 distinct, and
   * span nearly the whole window. */
  ck_assert_int_ge(distinct, 300);
  ck_assert_int_le(lo, 1200);
  ck_assert_int_ge(hi, 2800);
  free(s);
}
END_TEST

START_TEST(test_server_port_in_use_exits_1)
{
  char port[16], out[1024];
  const char *args[] = { "--bind", "127.0.0.1", "--port", port, NULL };
  int st;

  tl_server_start_ok(&srv, NULL);
  snprintf(port, sizeof(port), "%u", (unsigned) srv.port);
  st = tl_run(args, out, sizeof(out), 5000);
  ck_assert_msg(st >= 0 && WIFEXITED(st) && 1 == WEXITSTATUS(st),
                "status %d, output: %s", st, out);
  ck_assert_ptr_nonnull(strstr(out, "already in use"));
  tl_server_stop_ok(&srv);
}
END_TEST

static Suite *server_suite(void)
{
  Suite *s = suite_create("server");
  TCase *proto = tcase_create("protocol");
  TCase *limits = tcase_create("limits");
  TCase *scale = tcase_create("scale");

  tcase_set_timeout(proto, 30);
  tcase_add_test(proto, test_server_headers_and_ok_before_any_event);
  tcase_add_test(proto, test_server_publish_form_and_text);
  tcase_add_test(proto, test_server_bad_requests_get_clear_errors);
  tcase_add_test(proto, test_server_http10_client_gets_identity_stream);
  tcase_add_test(proto, test_server_heartbeat_and_tick);
  tcase_add_test(proto, test_server_port_in_use_exits_1);
  suite_add_tcase(s, proto);

  tcase_set_timeout(limits, 60);
  tcase_add_test(limits, test_server_max_clients_429_then_admits_after_leave);
  tcase_add_test(limits, test_server_killed_client_is_removed);
  tcase_add_test(limits,
                 test_server_non_reading_client_dropped_others_unharmed);
  tcase_add_test(limits,
                 test_server_hangups_behind_a_stalled_reader_are_closed);
  tcase_add_test(limits, test_server_paused_reader_gets_every_event_whole);
  tcase_add_test(limits, test_server_when_full_retry_answers_overload);
  tcase_add_test(limits, test_server_when_full_retry_open_files);
  suite_add_tcase(s, limits);

  tcase_set_timeout(scale, 120);
  tcase_add_test(scale, test_server_2000_clients_get_every_event_once_in_order);
  tcase_add_test(scale, test_server_sigterm_with_clients_exits_0_promptly);
  suite_add_tcase(s, scale);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(server_suite());
  int failed;

  signal(SIGPIPE, SIG_IGN);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
