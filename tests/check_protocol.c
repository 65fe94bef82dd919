/* check_protocol.c - the event-stream protocol of doc/protocol.md against
 * the real program: ids, Last-Event-ID resume (also while publishing),
 * the ssehub-missed notice, topics, CORS, the demo page and --stdin. */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

static struct tl_server srv;

/* Publish form fields; return the event's id in id (if not NULL). */
static void publish(const char *form, char *id, size_t cap)
{
  struct tl_response r;

  ck_assert_msg(200 == tl_publish_form(srv.port, form, &r),
                "publish '%s' failed: %d %s", form, r.status, r.body);
  if (NULL != id)
    ck_assert(tl_answer_id(&r, id, cap));
}

static void open_stream(struct tl_sse *s, const char *path, const char *headers)
{
  char frame[256];

  ck_assert_int_eq(0, tl_sse_open(s, srv.port, path, headers, NULL));
  ck_assert_int_ge(tl_sse_next(s, frame, sizeof(frame), 3000), 0);
  ck_assert_int_eq(200, s->status);
  ck_assert_msg(0 == strncmp(frame, ":ok", 3), "first frame '%s'", frame);
}

/* Next event frame: its id into id, the rest (event/data lines) in out. */
static void next_event(struct tl_sse *s, char *out, size_t cap, char *id,
                       size_t idcap)
{
  ck_assert_msg(tl_sse_next_event(s, out, cap, 3000) >= 0, "no event came");
  if (NULL != id)
    ck_assert_msg(tl_strip_id(out, id, idcap) > 0, "no id in '%s'", out);
}

static void expect_quiet(struct tl_sse *s, int ms)
{
  char frame[256];

  ck_assert_msg(tl_sse_next_event(s, frame, sizeof(frame), ms) < 0,
                "unexpected frame '%s'", frame);
}

/* ---- ids ----------------------------------------------------------------------- */

START_TEST(test_protocol_ids_fields_and_refusals)
{
  static const char *const args[] = { "--heartbeat", "0", NULL };
  struct tl_sse s;
  struct tl_response r;
  char id1[64], id2[64], got[64], frame[512];
  unsigned long long e1, n1, e2, n2;

  tl_server_start_ok(&srv, args);
  open_stream(&s, "/sse", NULL);
  publish("data=one", id1, sizeof(id1));
  publish("data=two&event=note&retry=1500", id2, sizeof(id2));
  ck_assert_int_eq(2, sscanf(id1, "%llu-%llu", &e1, &n1));
  ck_assert_int_eq(2, sscanf(id2, "%llu-%llu", &e2, &n2));
  ck_assert(e1 == e2 && n2 == n1 + 1 && e1 > 1700000000000ull);

  next_event(&s, frame, sizeof(frame), got, sizeof(got));
  ck_assert_str_eq(got, id1);
  ck_assert_str_eq(frame, "data: one");
  next_event(&s, frame, sizeof(frame), got, sizeof(got));
  ck_assert_str_eq(got, id2);
  ck_assert_str_eq(frame, "event: note\nretry: 1500\ndata: two");

  /* The answer is JSON, with one Content-Type. */
  ck_assert_int_eq(200, tl_publish_form(srv.port, "data=typed", &r));
  ck_assert_ptr_nonnull(strstr(r.head, "Content-Type: application/json"));
  ck_assert_ptr_null(
      strstr(strstr(r.head, "Content-Type") + 1, "Content-Type"));
  next_event(&s, frame, sizeof(frame), NULL, 0);
  /* A publisher's own id goes out as is, and is in the answer. */
  publish("data=mine&id=order%2F17", got, sizeof(got));
  ck_assert_str_eq(got, "order/17");
  next_event(&s, frame, sizeof(frame), got, sizeof(got));
  ck_assert_str_eq(got, "order/17");

  /* Fields that would corrupt the stream are refused, with a reason. */
  ck_assert_int_eq(400, tl_publish_form(srv.port, "data=x&id=a%0Ab", &r));
  ck_assert_ptr_nonnull(strstr(r.body, "id"));
  ck_assert_int_eq(400, tl_publish_form(srv.port, "data=x&id=", &r));
  ck_assert_int_eq(400, tl_publish_form(srv.port, "data=x&id=a%00b", &r));
  ck_assert_int_eq(400, tl_publish_form(srv.port, "data=x&retry=soon", &r));
  ck_assert_ptr_nonnull(strstr(r.body, "retry"));
  ck_assert_int_eq(400, tl_publish_form(srv.port, "data=x&event=a%0Db", &r));
  ck_assert_int_eq(400, tl_publish_form(srv.port, "data=x&topic=a%0Ab", &r));
  ck_assert_int_eq(400, tl_publish_form(srv.port, "data=x&topic=*", &r));
  /* A field name with a NUL in it is not the name before the NUL. */
  ck_assert_int_eq(400, tl_publish_form(srv.port,
                                        "data%00junk=x&event%00y=evil", &r));
  ck_assert_ptr_nonnull(strstr(r.body, "unknown field"));
  ck_assert_int_eq(
      400, tl_publish_form(
               srv.port,
               "data=x&topic=1&topic=2&topic=3&topic=4&topic=5&topic=6"
               "&topic=7&topic=8&topic=9&topic=10&topic=11&topic=12&topic=13"
               "&topic=14&topic=15&topic=16&topic=17",
               &r));
  ck_assert_ptr_nonnull(strstr(r.body, "too many topics"));
  expect_quiet(&s, 300);
  tl_sse_close(&s);
  tl_server_stop_ok(&srv);
}
END_TEST

/* ---- resume ------------------------------------------------------------------ */

START_TEST(test_protocol_resume_replays_what_followed)
{
  static const char *const args[] = { "--heartbeat", "0", NULL };
  char ids[10][64], hdr[128], frame[256], got[64], want[32];
  struct tl_sse s;
  int i;

  tl_server_start_ok(&srv, args);
  for (i = 0; i < 10; i++) {
    snprintf(frame, sizeof(frame), "data=e%d", i);
    publish(frame, ids[i], sizeof(ids[i]));
  }
  snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s\r\n", ids[3]);
  open_stream(&s, "/sse", hdr);
  for (i = 4; i < 10; i++) {
    next_event(&s, frame, sizeof(frame), got, sizeof(got));
    snprintf(want, sizeof(want), "data: e%d", i);
    ck_assert_str_eq(frame, want);
    ck_assert_str_eq(got, ids[i]);
  }
  publish("data=live", NULL, 0);
  next_event(&s, frame, sizeof(frame), NULL, 0);
  ck_assert_int_gt(tl_strip_id(frame, NULL, 0), 0);
  ck_assert_str_eq(frame, "data: live");
  tl_sse_close(&s);

  /* The newest id: nothing to replay, no notice. Also via the query. */
  snprintf(hdr, sizeof(hdr), "/sse?lastEventId=%s", ids[9]);
  open_stream(&s, hdr, NULL);
  next_event(&s, frame, sizeof(frame), NULL, 0);
  ck_assert_int_gt(tl_strip_id(frame, NULL, 0), 0);
  ck_assert_str_eq(frame, "data: live");
  expect_quiet(&s, 200);
  tl_sse_close(&s);
  ck_assert_int_eq(2, tl_stat(srv.port, "resumes"));
  tl_server_stop_ok(&srv);
}
END_TEST

static void expect_missed(struct tl_sse *s, const char *last, const char *why)
{
  char frame[512], want[512];

  next_event(s, frame, sizeof(frame), NULL, 0);
  snprintf(want, sizeof(want),
           "event: ssehub-missed\ndata: {\"lastEventId\":\"%s\","
           "\"reason\":\"%s\"}",
           last, why);
  ck_assert_str_eq(frame, want);
}

START_TEST(test_protocol_missed_notice_reasons)
{
  static const char *const args[] = { "--heartbeat", "0", "--history", "5",
                                      NULL };
  char ids[20][64], hdr[160], frame[256], want[32], old[64], got[64];
  unsigned long long epoch, seq;
  struct tl_sse s, live;
  int i;

  tl_server_start_ok(&srv, args);
  /* A publish is answered once queued; the broadcaster records it in the
   * history just before it hands it out. A live stream that has seen e19
   * therefore proves e19 is in the history (else e14..e18 would be
   * replayed and e19 come live: right, but not what is checked here). */
  open_stream(&live, "/sse", NULL);
  for (i = 0; i < 20; i++) {
    snprintf(frame, sizeof(frame), "data=e%d", i);
    publish(frame, ids[i], sizeof(ids[i]));
  }
  for (i = 0; i < 20; i++)
    next_event(&live, frame, sizeof(frame), got, sizeof(got));
  ck_assert_str_eq(frame, "data: e19");
  ck_assert_str_eq(got, ids[19]);
  tl_sse_close(&live);
  /* Expired: older than the 5 retained; the 5 follow the notice. */
  snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s\r\n", ids[2]);
  open_stream(&s, "/sse", hdr);
  expect_missed(&s, ids[2], "expired");
  for (i = 15; i < 20; i++) {
    next_event(&s, frame, sizeof(frame), NULL, 0);
    ck_assert_int_gt(tl_strip_id(frame, NULL, 0), 0);
    snprintf(want, sizeof(want), "data: e%d", i);
    ck_assert_str_eq(frame, want);
  }
  tl_sse_close(&s);

  /* Restart: an id of an earlier run of the hub. */
  ck_assert_int_eq(2, sscanf(ids[0], "%llu-%llu", &epoch, &seq));
  snprintf(old, sizeof(old), "%llu-%llu", epoch - 60000, seq + 3);
  snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s\r\n", old);
  open_stream(&s, "/sse", hdr);
  expect_missed(&s, old, "restart");
  tl_sse_close(&s);

  /* Unknown: never seen; quotes in it are escaped in the JSON. */
  open_stream(&s, "/sse", "Last-Event-ID: no\"such\r\n");
  expect_missed(&s, "no\\\"such", "unknown");
  next_event(&s, frame, sizeof(frame), NULL, 0);
  ck_assert_int_gt(tl_strip_id(frame, NULL, 0), 0);
  ck_assert_str_eq(frame, "data: e15");
  tl_sse_close(&s);
  tl_server_stop_ok(&srv);
}
END_TEST

/* Resume while events keep coming: a client that reconnects again and
 * again with its last id must see every event exactly once, in order. */
struct pub_ctx {
  uint16_t port;
  int count;
  volatile int done;
};

static void *publisher(void *arg)
{
  struct pub_ctx *p = arg;
  char form[32];
  int i;

  for (i = 0; i < p->count; i++) {
    snprintf(form, sizeof(form), "data=%d", i);
    if (200 != tl_publish_form(p->port, form, NULL))
      i--; /* 503: publish the same event again */
  }
  p->done = 1;
  return NULL;
}

START_TEST(test_protocol_resume_without_gap_while_publishing)
{
  static const char *const args[] = { "--heartbeat", "0", "--history", "100000",
                                      NULL };
  struct pub_ctx p = { 0, 1500, 0 };
  char last[64] = "", hdr[160], frame[256];
  int next = 0, reconnects = 0;
  long long deadline;
  pthread_t th;

  tl_server_start_ok(&srv, args);
  p.port = srv.port;
  deadline = tl_now_ms() + 60000 * tl_scale();
  while (next < p.count && tl_now_ms() < deadline) {
    struct tl_sse s;
    int taken = 0;

    snprintf(hdr, sizeof(hdr), "%s%s%s",
             '\0' != last[0] ? "Last-Event-ID: " : "", last,
             '\0' != last[0] ? "\r\n" : "");
    open_stream(&s, "/sse", hdr);
    /* The first stream is live before anything is published. */
    if (0 == reconnects)
      ck_assert_int_eq(0, pthread_create(&th, NULL, publisher, &p));
    /* Take a handful of events, then drop the connection. */
    while (taken < 37 && next < p.count
           && tl_sse_next_event(&s, frame, sizeof(frame), 3000) >= 0) {
      char want[32];

      ck_assert_msg(NULL == strstr(frame, "ssehub-missed"), "missed: %s",
                    frame);
      ck_assert(tl_strip_id(frame, last, sizeof(last)) > 0);
      snprintf(want, sizeof(want), "data: %d", next);
      ck_assert_msg(0 == strcmp(frame, want), "expected '%s', got '%s'", want,
                    frame);
      next++;
      taken++;
    }
    tl_sse_close(&s);
    reconnects++;
  }
  pthread_join(th, NULL);
  ck_assert_int_eq(next, p.count);
  ck_assert_int_gt(reconnects, 10);
  tl_server_stop_ok(&srv);
}
END_TEST

/* ---- topics ------------------------------------------------------------------- */

static void expect_data(struct tl_sse *s, const char *want)
{
  char frame[256];

  next_event(s, frame, sizeof(frame), NULL, 0);
  ck_assert_int_gt(tl_strip_id(frame, NULL, 0), 0);
  ck_assert_str_eq(frame, want);
}

START_TEST(test_protocol_topics_isolate_and_replay_respects_them)
{
  static const char *const args[] = { "--heartbeat", "0", NULL };
  struct tl_sse a, b, ab, none, all, again;
  char first[64], hdr[128];

  tl_server_start_ok(&srv, args);
  open_stream(&a, "/sse?topic=a", NULL);
  open_stream(&b, "/sse?topic=b", NULL);
  open_stream(&ab, "/sse?topic=a&topic=b&topic=a", NULL);
  open_stream(&none, "/sse", NULL);
  open_stream(&all, "/sse?topic=*", NULL);
  ck_assert_int_eq(3, tl_stat(srv.port, "topics"));

  publish("data=to-a&topic=a", first, sizeof(first));
  publish("data=to-b&topic=b", NULL, 0);
  publish("data=to-ab&topic=a&topic=b", NULL, 0);
  publish("data=to-all", NULL, 0);
  publish("data=to-c&topic=c", NULL, 0);

  expect_data(&a, "data: to-a");
  expect_data(&a, "data: to-ab");
  expect_data(&a, "data: to-all");
  expect_data(&b, "data: to-b");
  expect_data(&b, "data: to-ab");
  expect_data(&b, "data: to-all");
  expect_data(&ab, "data: to-a");
  expect_data(&ab, "data: to-b");
  expect_data(&ab, "data: to-ab"); /* once, though in both topics */
  expect_data(&ab, "data: to-all");
  expect_data(&none, "data: to-all");
  expect_data(&all, "data: to-a");
  expect_data(&all, "data: to-b");
  expect_data(&all, "data: to-ab");
  expect_data(&all, "data: to-all");
  expect_data(&all, "data: to-c");
  expect_quiet(&a, 200);
  expect_quiet(&b, 50);
  expect_quiet(&ab, 50);
  expect_quiet(&none, 50);
  expect_quiet(&all, 50);

  /* Replay for topic b after the first event: never a's own events. */
  snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s\r\n", first);
  open_stream(&again, "/sse?topic=b", hdr);
  expect_data(&again, "data: to-b");
  expect_data(&again, "data: to-ab");
  expect_data(&again, "data: to-all");
  expect_quiet(&again, 200);

  tl_sse_close(&a);
  tl_sse_close(&b);
  tl_sse_close(&ab);
  tl_sse_close(&none);
  tl_sse_close(&all);
  tl_sse_close(&again);
  ck_assert_int_eq(0, tl_wait_stat(srv.port, "topics", 0, 3000));
  tl_server_stop_ok(&srv);
}
END_TEST

START_TEST(test_protocol_bad_subscriptions_refused)
{
  struct tl_response r;
  static const char *const args[] = { "--heartbeat", "0", NULL };
  static const char nul[] = "GET /sse?topic=a%00b HTTP/1.1\r\nHost: x\r\n"
                            "Connection: close\r\n\r\n";

  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(400, tl_http(srv.port, nul, sizeof(nul) - 1, &r));
  ck_assert_ptr_nonnull(strstr(r.body, "topic"));
  {
    char req[2048], *p = req;
    int i;

    p += sprintf(p, "GET /sse?");
    for (i = 0; i < 17; i++)
      p += sprintf(p, "topic=t%d&", i);
    p += sprintf(p, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    ck_assert_int_eq(400, tl_http(srv.port, req, (size_t) (p - req), &r));
    ck_assert_ptr_nonnull(strstr(r.body, "too many topics"));
  }
  ck_assert_int_eq(0, tl_stat(srv.port, "clients"));
  tl_server_stop_ok(&srv);
}
END_TEST

/* ---- browsers ------------------------------------------------------------------ */

START_TEST(test_protocol_cors)
{
  static const char *const args[] = { "--cors-origin", "https://app.example",
                                      "--heartbeat", "0", NULL };
  static const char pre[] = "OPTIONS /publish HTTP/1.1\r\nHost: x\r\n"
                            "Origin: https://app.example\r\n"
                            "Access-Control-Request-Method: POST\r\n"
                            "Connection: close\r\n\r\n";
  static const char evil[] = "OPTIONS /sse HTTP/1.1\r\nHost: x\r\n"
                             "Origin: https://evil.example\r\n"
                             "Connection: close\r\n\r\n";
  struct tl_response r;
  struct tl_sse s;
  char v[128];

  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(204, tl_http(srv.port, pre, sizeof(pre) - 1, &r));
  ck_assert(tl_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)));
  ck_assert_str_eq(v, "https://app.example");
  ck_assert(tl_header(&r, "Access-Control-Allow-Methods", v, sizeof(v)));
  ck_assert_ptr_nonnull(strstr(v, "POST"));
  ck_assert(tl_header(&r, "Access-Control-Allow-Headers", v, sizeof(v)));
  ck_assert_ptr_nonnull(strstr(v, "Last-Event-ID"));
  ck_assert_int_eq(403, tl_http(srv.port, evil, sizeof(evil) - 1, &r));

  open_stream(&s, "/sse", "Origin: https://app.example\r\n");
  memcpy(r.head, s.head, sizeof(r.head));
  ck_assert(tl_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)));
  ck_assert_str_eq(v, "https://app.example");
  ck_assert(tl_header(&r, "Access-Control-Allow-Credentials", v, sizeof(v)));
  ck_assert_str_eq(v, "true");
  tl_sse_close(&s);
  open_stream(&s, "/sse", "Origin: https://evil.example\r\n");
  memcpy(r.head, s.head, sizeof(r.head));
  ck_assert(!tl_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)));
  tl_sse_close(&s);
  tl_server_stop_ok(&srv);

  {
    static const char *const star[] = { "--cors-origin", "*", NULL };
    static const char get[] = "GET /stats HTTP/1.1\r\nHost: x\r\n"
                              "Origin: https://any.example\r\n"
                              "Connection: close\r\n\r\n";

    tl_server_start_ok(&srv, star);
    ck_assert_int_eq(200, tl_http(srv.port, get, sizeof(get) - 1, &r));
    ck_assert(tl_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)));
    ck_assert_str_eq(v, "*");
    tl_server_stop_ok(&srv);
  }
}
END_TEST

START_TEST(test_protocol_demo_page_and_retry)
{
  static const char *const args[] = { "--retry", "750", NULL };
  static const char *const off[] = { "--no-demo-page", "--retry", "0", NULL };
  static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n"
                            "Connection: close\r\n\r\n";
  struct tl_response r;
  struct tl_sse s;
  char v[64], frame[128];

  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(200, tl_http(srv.port, get, sizeof(get) - 1, &r));
  ck_assert(tl_header(&r, "Content-Type", v, sizeof(v)));
  ck_assert_str_eq(v, "text/html; charset=utf-8");
  ck_assert_ptr_nonnull(strstr(r.body, "new EventSource("));
  ck_assert_int_eq(0, tl_sse_open(&s, srv.port, "/sse", NULL, NULL));
  ck_assert_int_ge(tl_sse_next(&s, frame, sizeof(frame), 3000), 0);
  ck_assert_str_eq(frame, ":ok\nretry: 750");
  tl_sse_close(&s);
  tl_server_stop_ok(&srv);

  tl_server_start_ok(&srv, off);
  ck_assert_int_eq(404, tl_http(srv.port, get, sizeof(get) - 1, &r));
  ck_assert_int_eq(0, tl_sse_open(&s, srv.port, "/sse", NULL, NULL));
  ck_assert_int_ge(tl_sse_next(&s, frame, sizeof(frame), 3000), 0);
  ck_assert_str_eq(frame, ":ok");
  tl_sse_close(&s);
  tl_server_stop_ok(&srv);
}
END_TEST

/* ---- stdin ----------------------------------------------------------------------- */

static void write_str(int fd, const char *s)
{
  ck_assert_int_eq((int) strlen(s), (int) write(fd, s, strlen(s)));
}

START_TEST(test_protocol_stdin_lines_and_blocks)
{
  static const char *const lines[] = { "--stdin", "--heartbeat", "0", NULL };
  static const char *const blocks[] = { "--stdin=blocks", "--heartbeat", "0",
                                        NULL };
  struct tl_sse s, t;
  char frame[256], id[64];
  int w;

  ck_assert_int_eq(0, tl_server_start_piped(&srv, lines, &w));
  open_stream(&s, "/sse", NULL);
  write_str(w, "first line\nsecond\r\n");
  expect_data(&s, "data: first line");
  expect_data(&s, "data: second");
  write_str(w, "no newline yet");
  close(w); /* end of input: the last line counts, serving goes on */
  expect_data(&s, "data: no newline yet");
  ck_assert_int_eq(200, tl_publish(srv.port, "still", 5, NULL));
  expect_data(&s, "data: still");
  tl_sse_close(&s);
  tl_server_stop_ok(&srv);

  ck_assert_int_eq(0, tl_server_start_piped(&srv, blocks, &w));
  open_stream(&s, "/sse", NULL);
  open_stream(&t, "/sse?topic=logs", NULL);
  write_str(w, ": a comment\nevent: deploy\nid: d-1\ndata: line 1\n"
               "data: line 2\n\ntopic: logs\ndata: to logs\n\n");
  next_event(&s, frame, sizeof(frame), id, sizeof(id));
  ck_assert_str_eq(id, "d-1");
  ck_assert_str_eq(frame, "event: deploy\ndata: line 1\ndata: line 2");
  expect_data(&t, "event: deploy\ndata: line 1\ndata: line 2");
  expect_data(&t, "data: to logs");
  expect_quiet(&s, 200);
  close(w);
  tl_sse_close(&s);
  tl_sse_close(&t);
  tl_server_stop_ok(&srv);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("protocol");
  TCase *ids = tcase_create("ids");
  TCase *resume = tcase_create("resume");
  TCase *topics = tcase_create("topics");
  TCase *browsers = tcase_create("browsers");
  SRunner *sr;
  int failed;

  signal(SIGPIPE, SIG_IGN);
  tcase_set_timeout(ids, 30);
  tcase_add_test(ids, test_protocol_ids_fields_and_refusals);
  tcase_add_test(ids, test_protocol_stdin_lines_and_blocks);
  suite_add_tcase(s, ids);
  tcase_set_timeout(resume, 120);
  tcase_add_test(resume, test_protocol_resume_replays_what_followed);
  tcase_add_test(resume, test_protocol_missed_notice_reasons);
  tcase_add_test(resume, test_protocol_resume_without_gap_while_publishing);
  suite_add_tcase(s, resume);
  tcase_set_timeout(topics, 30);
  tcase_add_test(topics, test_protocol_topics_isolate_and_replay_respects_them);
  tcase_add_test(topics, test_protocol_bad_subscriptions_refused);
  suite_add_tcase(s, topics);
  tcase_set_timeout(browsers, 30);
  tcase_add_test(browsers, test_protocol_cors);
  tcase_add_test(browsers, test_protocol_demo_page_and_retry);
  suite_add_tcase(s, browsers);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
