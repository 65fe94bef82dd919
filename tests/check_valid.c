/* check_valid.c - answers that are always valid, against the real ssehub.
 *
 *   - ids, event names and topics that are not valid UTF-8 or hold a
 *     control character, and data that is not valid UTF-8, are refused
 *     with 400 and a one-line reason naming the field, at every door:
 *     form and text/plain publishes, GET /sse's topics and Last-Event-ID,
 *     --stdin=blocks; a subscriber sees none of them;
 *   - every JSON answer (a publish's 200, /stats, the ssehub-missed
 *     notice's data, the ssehub-overload event's data; with the Redis
 *     engine too) parses with python3's
 *     strict json.loads and is UTF-8, with quotes, backslashes and
 *     non-ASCII in what it echoes (log lines: tests/check_logs.c); no
 *     refusal answers JSON;
 *   - 10,000 topic names that all share one bucket under the unseeded
 *     FNV-1a hash the registry used to have subscribe as fast as as many
 *     ordinary names (a relative bound, both measured here);
 *   - --threads 1, or one CPU, starts without libmicrohttpd's warning.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testlib.h"

/* ---- helpers ------------------------------------------------------------ */

/* All of p[0..n) to a file or pipe (tl_send_all() is for sockets). */
static void write_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);

    if (w < 0 && EINTR == errno)
      continue;
    ck_assert_int_gt(w, 0);
    p += w;
    n -= (size_t) w;
  }
}

/* python3 decodes body[0..len) as UTF-8 (strictly: a bad byte fails) and
 * parses it with json.loads(strict=True), then prints it back as ASCII
 * JSON with sorted keys into out. Returns python's exit status. */
static int strict_json(const char *body, size_t len, char *out, size_t cap)
{
  static const char script[] =
      "import json, sys\n"
      "raw = open(sys.argv[1], 'rb').read()\n"
      "o = json.loads(raw.decode('utf-8', errors='strict'), strict=True)\n"
      "print(json.dumps(o, sort_keys=True, ensure_ascii=True))\n";
  char path[] = "/tmp/check_valid_json.XXXXXX", cmd[256];
  int fd = mkstemp(path), st;
  FILE *p;
  size_t n;

  ck_assert_int_ge(fd, 0);
  write_all(fd, body, len);
  close(fd);
  setenv("TL_PY", script, 1);
  snprintf(cmd, sizeof(cmd), "python3 -c \"$TL_PY\" '%s' 2>&1", path);
  p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  st = pclose(p);
  unlink(path);
  return st;
}

/* Assert that r is a strict-JSON 200 answer; its re-encoding into out. */
static void json_answer(const struct tl_response *r, char *out, size_t cap)
{
  char type[128];

  ck_assert_msg(200 == r->status, "%d %s", r->status, r->body);
  ck_assert(tl_header(r, "Content-Type", type, sizeof(type)));
  ck_assert_str_eq(type, "application/json");
  ck_assert_msg(0 == strict_json(r->body, r->body_len, out, cap),
                "not strict JSON: %s -> %s", r->body, out);
}

static int get(uint16_t port, const char *path, const char *headers,
               struct tl_response *r)
{
  char req[2048];
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n",
                   path, NULL != headers ? headers : "");

  return tl_http(port, req, (size_t) n, r);
}

/* The 400 and its one-line reason. */
static void refused(int status, const struct tl_response *r, const char *why,
                    const char *what)
{
  ck_assert_msg(400 == status, "%s: %d %s", what, status, r->body);
  ck_assert_msg(0 == strcmp(r->body, why), "%s: reason \"%s\", want \"%s\"",
                what, r->body, why);
}

/* ---- refusals ----------------------------------------------------------- */

static const struct {
  const char *form, *why;
} bad_forms[] = {
  { "data=x&id=%FF%FE", "id is not valid UTF-8\n" },
  { "data=x&id=%C0%AF", "id is not valid UTF-8\n" },         /* overlong */
  { "data=x&id=%ED%A0%80", "id is not valid UTF-8\n" },      /* U+D800 */
  { "data=x&id=%F4%90%80%80", "id is not valid UTF-8\n" },   /* > 10FFFF */
  { "data=x&id=%E2%82", "id is not valid UTF-8\n" },         /* cut */
  { "data=x&id=a%09b", "id holds a control character\n" },   /* TAB */
  { "data=x&id=a%C2%85", "id holds a control character\n" }, /* U+0085 */
  { "data=x&event=%FF", "event is not valid UTF-8\n" },
  { "data=x&event=red%1B%5B0m", "event holds a control character\n" },
  { "data=x&topic=%FE", "topic is not valid UTF-8\n" },
  { "data=x&topic=a%7F", "topic holds a control character\n" },
  { "data=%FF%FE", "data is not valid UTF-8\n" },
  { "data=caf%C3", "data is not valid UTF-8\n" },
};

START_TEST(test_valid_bad_text_is_refused_naming_the_field)
{
  static const char *const args[] = { NULL };
  struct tl_server srv;
  struct tl_response r;
  struct tl_sse sub;
  char frame[1024];
  long long before;
  size_t i;
  int st;

  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(tl_sse_open(&sub, srv.port, "/sse?topic=*", NULL, NULL), 0);
  ck_assert(tl_sse_got_ok(&sub, 5000 * tl_scale()));
  before = tl_stat(srv.port, "bad_requests");
  for (i = 0; i < sizeof(bad_forms) / sizeof(bad_forms[0]); i++)
    refused(tl_publish_form(srv.port, bad_forms[i].form, &r), &r,
            bad_forms[i].why, bad_forms[i].form);
  /* text/plain: the fields from the query, the body as data. */
  refused(tl_publish_query(srv.port, "?id=%FF%FE", "x", 1, &r, 5000), &r,
          "id is not valid UTF-8\n", "text/plain id");
  refused(tl_publish(srv.port, "ok \xff", 4, &r), &r,
          "data is not valid UTF-8\n", "text/plain data");
  /* Subscribers: topics and Last-Event-ID. */
  refused(get(srv.port, "/sse?topic=%FF", NULL, &r), &r,
          "topic is not valid UTF-8\n", "GET topic");
  refused(get(srv.port, "/sse?topic=ok&topic=a%01", NULL, &r), &r,
          "topic holds a control character\n", "GET topic control");
  refused(get(srv.port, "/sse", "Last-Event-ID: 1-\xff\xfe\r\n", &r), &r,
          "Last-Event-ID is not valid UTF-8\n", "Last-Event-ID header");
  refused(get(srv.port, "/sse?lastEventId=%C0%AF", NULL, &r), &r,
          "Last-Event-ID is not valid UTF-8\n", "lastEventId");
  refused(get(srv.port, "/sse?lastEventId=a%1Bb", NULL, &r), &r,
          "Last-Event-ID holds a control character\n", "lastEventId ctl");
  ck_assert_int_eq(tl_stat(srv.port, "bad_requests") - before,
                   (long long) (sizeof(bad_forms) / sizeof(bad_forms[0])) + 7);
  /* Valid text of every length still goes through, and it is the first
   * thing the subscriber sees: nothing refused reached the stream. */
  ck_assert_int_eq(tl_publish_form(srv.port,
                                   "data=caf%C3%A9+%F0%9F%98%80+a%09b&"
                                   "id=%E2%82%AC-1&event=%C3%BCber&topic=t",
                                   &r),
                   200);
  st = tl_sse_next(&sub, frame, sizeof(frame), 5000 * tl_scale());
  ck_assert_int_gt(st, 0);
  ck_assert_str_eq(frame, "event: \xc3\xbc"
                          "ber\nid: \xe2\x82\xac-1\ndata: caf\xc3\xa9 "
                          "\xf0\x9f\x98\x80 a\tb");
  tl_sse_close(&sub);
  tl_server_stop_ok(&srv);
}
END_TEST

START_TEST(test_valid_stdin_blocks_refused_naming_the_field)
{
  static const char *const args[] = { "--stdin=blocks", NULL };
  static const char input[] = "id: \xff\xfe\ndata: bad id\n\n"
                              "event: a\x1b[0m\ndata: bad event\n\n"
                              "topic: \xc0\xaf\ndata: bad topic\n\n"
                              "data: bad \xff data\n\n"
                              "id: fine-1\ndata: fine\n\n";
  struct tl_server srv;
  struct tl_sse sub;
  char frame[1024];
  int w;

  ck_assert_int_eq(tl_server_start_piped(&srv, args, &w), 0);
  ck_assert_int_eq(tl_sse_open(&sub, srv.port, "/sse", NULL, NULL), 0);
  ck_assert(tl_sse_got_ok(&sub, 5000 * tl_scale()));
  write_all(w, input, sizeof(input) - 1);
  ck_assert_int_gt(tl_sse_next(&sub, frame, sizeof(frame), 5000 * tl_scale()),
                   0);
  ck_assert_str_eq(frame, "id: fine-1\ndata: fine");
  ck_assert(tl_server_log_contains(&srv, "id is not valid UTF-8"));
  ck_assert(tl_server_log_contains(&srv, "event holds a control character"));
  ck_assert(tl_server_log_contains(&srv, "topic is not valid UTF-8"));
  ck_assert(tl_server_log_contains(&srv, "data is not valid UTF-8"));
  close(w);
  tl_sse_close(&sub);
  tl_server_stop_ok(&srv);
}
END_TEST

/* ---- JSON answers ------------------------------------------------------- */

START_TEST(test_valid_json_answers_parse_strictly)
{
  static const char *const args[] = { NULL };
  struct tl_server srv;
  struct tl_response r;
  struct tl_sse sub;
  char out[8192], frame[4096], hdr[640], want[420];
  const char *data;
  size_t i;

  tl_server_start_ok(&srv, args);
  /* A publish's answer echoes the publisher's id: quotes, backslashes,
   * a slash, non-ASCII and a character outside the BMP. */
  ck_assert_int_eq(tl_publish_form(srv.port,
                                   "data=x&id=q%22b%5Cs%2F%3C%2F%C3%A9%F0%9F"
                                   "%98%80",
                                   &r),
                   200);
  json_answer(&r, out, sizeof(out));
  ck_assert_msg(NULL
                    != strstr(out, "\"id\": \"q\\\"b\\\\s/</\\u00e9"
                                   "\\ud83d\\ude00\""),
                "%s", out);
  /* The hub's own id. */
  ck_assert_int_eq(tl_publish_form(srv.port, "data=y", &r), 200);
  json_answer(&r, out, sizeof(out));
  ck_assert_msg(NULL != strstr(out, "\"seq\": 2"), "%s", out);
  /* A publish with every byte a form can carry in its data. */
  {
    char form[1024] = "data=", *p = form + 5;

    for (i = 1; i < 128; i++)
      p += sprintf(p, "%%%02X", (unsigned) i);
    ck_assert_int_eq(tl_publish_form(srv.port, form, &r), 200);
    json_answer(&r, out, sizeof(out));
  }
  /* /stats, once something has happened. */
  ck_assert_int_eq(get(srv.port, "/stats", NULL, &r), 200);
  json_answer(&r, out, sizeof(out));
  ck_assert_msg(NULL != strstr(out, "\"published\": 3"), "%s", out);
  ck_assert_msg(NULL != strstr(out, "\"engine\": \"memory\""), "%s", out);
  /* The ssehub-missed notice echoes the client's Last-Event-ID (valid
   * UTF-8, but with quotes and backslashes) in JSON data. */
  snprintf(hdr, sizeof(hdr), "Last-Event-ID: a\"b\\c\xc3\xa9}\r\n");
  ck_assert_int_eq(tl_sse_open(&sub, srv.port, "/sse", hdr, NULL), 0);
  ck_assert(tl_sse_got_ok(&sub, 5000 * tl_scale()));
  ck_assert_int_gt(tl_sse_next(&sub, frame, sizeof(frame), 5000 * tl_scale()),
                   0);
  ck_assert_msg(0 == strncmp(frame, "event: ssehub-missed\ndata: ", 27), "%s",
                frame);
  data = frame + 27;
  ck_assert_msg(0 == strict_json(data, strlen(data), out, sizeof(out)),
                "not strict JSON: %s -> %s", data, out);
  ck_assert_str_eq(out, "{\"lastEventId\": \"a\\\"b\\\\c\\u00e9}\", "
                        "\"reason\": \"unknown\"}\n");
  tl_sse_close(&sub);
  /* One too long for the history: said as such, still JSON. */
  memset(want, 'x', 400);
  want[400] = '\0';
  snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s\r\n", want);
  ck_assert_int_eq(tl_sse_open(&sub, srv.port, "/sse", hdr, NULL), 0);
  ck_assert(tl_sse_got_ok(&sub, 5000 * tl_scale()));
  ck_assert_int_gt(tl_sse_next(&sub, frame, sizeof(frame), 5000 * tl_scale()),
                   0);
  data = frame + 27;
  ck_assert_int_eq(strict_json(data, strlen(data), out, sizeof(out)), 0);
  ck_assert_msg(NULL != strstr(out, "\"lastEventId\": \"(too long)\""), "%s",
                out);
  tl_sse_close(&sub);
  /* Refusals are one line of text, not JSON: nothing to parse there. */
  ck_assert_int_eq(tl_publish_form(srv.port, "data=x&id=%FF", &r), 400);
  ck_assert(tl_header(&r, "Content-Type", out, sizeof(out)));
  ck_assert_msg(0 == strncmp(out, "text/plain", 10), "%s", out);
  tl_server_stop_ok(&srv);
}
END_TEST

/* The ssehub-overload event's data (--when-full=retry, the default): one
 * line of strict JSON naming the limit. */
START_TEST(test_valid_overload_data_parses_strictly)
{
  static const char *const args[] = { "--max-clients", "1", "--heartbeat", "0",
                                      NULL };
  struct tl_server srv;
  struct tl_sse hold, over;
  char frame[512], out[1024];
  const char *data;

  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(tl_sse_open(&hold, srv.port, "/sse", NULL, NULL), 0);
  ck_assert(tl_sse_got_ok(&hold, 5000 * tl_scale()));
  ck_assert_int_eq(tl_sse_open(&over, srv.port, "/sse", NULL, NULL), 0);
  ck_assert_int_gt(tl_sse_next(&over, frame, sizeof(frame), 5000 * tl_scale()),
                   0);
  ck_assert_int_eq(200, over.status);
  data = strstr(frame, "\nevent: ssehub-overload\ndata: ");
  ck_assert_msg(NULL != data, "%s", frame);
  data += strlen("\nevent: ssehub-overload\ndata: ");
  ck_assert_ptr_null(strchr(data, '\n'));
  ck_assert_msg(0 == strict_json(data, strlen(data), out, sizeof(out)),
                "not strict JSON: %s -> %s", data, out);
  ck_assert_msg(NULL != strstr(out, "\"limit\": \"max_clients\", \"max\": 1"),
                "%s", out);
  tl_sse_close(&over);
  tl_sse_close(&hold);
  tl_server_stop_ok(&srv);
}
END_TEST

/* The Redis engine's answers: a publisher's id with the stream's id beside
 * it, and /stats with the link's state and the newest id read. */
START_TEST(test_valid_json_answers_with_redis_parse_strictly)
{
  struct tl_redis rds;
  struct tl_server srv;
  struct tl_response r;
  char url[128], out[8192];
  const char *args[] = { "--redis", url, NULL };

  ck_assert_msg(0 == tl_redis_start(&rds, 0, NULL),
                "redis-server did not start (scripts/setup.sh installs it)");
  tl_redis_url(&rds, url, sizeof(url));
  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(tl_publish_form(srv.port, "data=x&id=q%22b%5Cs%C3%A9", &r),
                   200);
  json_answer(&r, out, sizeof(out));
  ck_assert_msg(NULL != strstr(out, "\"id\": \"q\\\"b\\\\s\\u00e9\""), "%s",
                out);
  ck_assert_msg(NULL != strstr(out, "\"stream_id\": \""), "%s", out);
  ck_assert_int_eq(tl_publish_form(srv.port, "data=y", &r), 200);
  json_answer(&r, out, sizeof(out));
  ck_assert_int_eq(get(srv.port, "/stats", NULL, &r), 200);
  json_answer(&r, out, sizeof(out));
  ck_assert_msg(NULL != strstr(out, "\"engine\": \"redis\""), "%s", out);
  ck_assert_msg(NULL != strstr(out, "\"redis_link\": \"up\""), "%s", out);
  tl_server_stop_ok(&srv);
  tl_redis_cleanup(&rds);
}
END_TEST

/* ---- hash flooding ------------------------------------------------------ */

#define NAMES 10000
#define PER_STREAM 16 /* SH_MAX_FRAME_TOPICS */
#define NAME_CAP TL_FNV_NAME_CAP
#define STREAMS (NAMES / PER_STREAM)
/* Subscribe STREAMS streams of PER_STREAM names each, one after another
 * (each waits for its ":ok", which the hub sends once every topic is
 * registered). Returns the milliseconds it took; the streams stay open in
 * s until the caller closes them. */
static long long subscribe_all(uint16_t port, char (*names)[NAME_CAP],
                               struct tl_sse *s)
{
  static char req[PER_STREAM * (NAME_CAP + 8) + 256];
  long long t0 = tl_now_ms();
  int i, j;

  for (i = 0; i < STREAMS; i++) {
    char *p = req;

    p += sprintf(p, "GET /sse?");
    for (j = 0; j < PER_STREAM; j++)
      p += sprintf(p, "%stopic=%s", 0 == j ? "" : "&",
                   names[i * PER_STREAM + j]);
    p += sprintf(p, " HTTP/1.1\r\nHost: x\r\n\r\n");
    memset(&s[i], 0, sizeof(s[i]));
    ck_assert_int_eq(tl_sse_send(&s[i], tl_connect(port, NULL), req,
                                 (size_t) (p - req)),
                     0);
    ck_assert_msg(tl_sse_got_ok(&s[i], 10000 * tl_scale()), "stream %d", i);
  }
  return tl_now_ms() - t0;
}

static long long measure(char (*names)[NAME_CAP], struct tl_sse *s)
{
  static const char *const args[] = { "--max-clients", "2000", NULL };
  struct tl_server srv;
  long long ms;
  int i;

  tl_server_start_ok(&srv, args);
  ms = subscribe_all(srv.port, names, s);
  ck_assert_int_eq(tl_stat(srv.port, "topics"), NAMES);
  for (i = 0; i < STREAMS; i++)
    tl_sse_close(&s[i]);
  tl_server_stop_ok(&srv);
  return ms;
}

START_TEST(test_valid_fnv_colliding_topics_subscribe_as_fast)
{
  char(*plain)[NAME_CAP] = calloc(NAMES, NAME_CAP);
  char(*collide)[NAME_CAP] = calloc(NAMES, NAME_CAP);
  struct tl_sse *s = calloc(STREAMS, sizeof(*s));
  long long tp = 0, tc = 0;
  int round;

  ck_assert(NULL != plain && NULL != collide && NULL != s);
  tl_raise_nofile();
  tl_fnv_names(plain[0], NAMES, NAME_CAP, false);
  tl_fnv_names(collide[0], NAMES, NAME_CAP, true);
  /* Twice each, alternating, keeping each kind's best: a hiccup of the
   * machine slows one run, not the comparison. */
  for (round = 0; round < 2; round++) {
    long long p = measure(plain, s), c = measure(collide, s);

    tp = 0 == round || p < tp ? p : tp;
    tc = 0 == round || c < tc ? c : tc;
  }
  fprintf(stderr,
          "check_valid: %d topics in %d streams: ordinary names %lld ms, "
          "FNV-1a-colliding names %lld ms\n",
          NAMES, STREAMS, tp, tc);
  /* Under the old hash the colliding names share one chain: each new one
   * is compared with all before it (about 5e7 comparisons of 230-byte
   * names), several times the ordinary run. */
  ck_assert_msg(tc <= 2 * tp + 20,
                "colliding names took %lld ms, ordinary ones %lld ms", tc, tp);
  free(plain);
  free(collide);
  free(s);
}
END_TEST

/* ---- one thread --------------------------------------------------------- */

/* Start with args under wrapper (prefixed to $TL_SERVER_WRAPPER), serve
 * a stream and a publish, stop, and return whether stderr was free of
 * libmicrohttpd's words for its thread pool. */
static void starts_silently(const char *const *args, const char *wrapper)
{
  const char *old = getenv("TL_SERVER_WRAPPER");
  char w[256], line[1024];
  struct tl_server srv;
  struct tl_response r;
  struct tl_sse sub;
  FILE *f;

  snprintf(w, sizeof(w), "%s%s%s", NULL != wrapper ? wrapper : "",
           NULL != wrapper && NULL != old ? " " : "", NULL != old ? old : "");
  setenv("TL_SERVER_WRAPPER", w, 1);
  tl_server_start_ok(&srv, args);
  if (NULL != old)
    setenv("TL_SERVER_WRAPPER", old, 1);
  else
    unsetenv("TL_SERVER_WRAPPER");
  ck_assert_int_eq(tl_sse_open(&sub, srv.port, "/sse", NULL, NULL), 0);
  ck_assert(tl_sse_got_ok(&sub, 5000 * tl_scale()));
  ck_assert_int_eq(tl_publish_form(srv.port, "data=one", &r), 200);
  tl_sse_close(&sub);
  f = fopen(srv.log_path, "r");
  ck_assert_ptr_nonnull(f);
  while (NULL != fgets(line, sizeof(line), f))
    ck_assert_msg(NULL == strstr(line, "thread pool")
                      && NULL == strstr(line, "Warning")
                      && NULL == strstr(line, "warning"),
                  "stderr: %s", line);
  fclose(f);
  tl_server_stop_ok(&srv);
}

START_TEST(test_valid_one_thread_starts_silently)
{
  static const char *const one[] = { "--threads", "1", NULL };
  static const char *const none[] = { NULL };

  starts_silently(one, NULL);
  /* One CPU: the default thread count is the usable cores. taskset
   * (util-linux) must be there: a missing tool fails the test. */
  ck_assert_msg(0 == system("taskset -c 0 true"), "taskset -c 0 failed");
  starts_silently(none, "taskset -c 0");
}
END_TEST

static Suite *valid_suite(void)
{
  Suite *s = suite_create("valid");
  TCase *tc = tcase_create("server");

  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_valid_bad_text_is_refused_naming_the_field);
  tcase_add_test(tc, test_valid_stdin_blocks_refused_naming_the_field);
  tcase_add_test(tc, test_valid_json_answers_parse_strictly);
  tcase_add_test(tc, test_valid_overload_data_parses_strictly);
  tcase_add_test(tc, test_valid_json_answers_with_redis_parse_strictly);
  tcase_add_test(tc, test_valid_fnv_colliding_topics_subscribe_as_fast);
  tcase_add_test(tc, test_valid_one_thread_starts_silently);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(valid_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
