/* check_embed.c - libssehub embedded in the embedder's own libmicrohttpd
 * daemon, through the public header and the shared library only. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

#include "ssehub.h"
#include "testlib.h"

struct app {
  struct ssehub *hub;
};

/* The embedder's routing: its own page at /hello, the hub under /hub/. */
static enum MHD_Result app_handler(void *cls, struct MHD_Connection *conn,
                                   const char *url, const char *method,
                                   const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
  struct app *app = cls;

  if (0 == strncmp(url, "/hub/", 5))
    return ssehub_mhd_handler(app->hub, conn, url + 4, method, version,
                              upload_data, upload_data_size, con_cls);
  if (0 == strcmp(url, "/hello")) {
    static char body[] = "hello from the app\n";
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);

    MHD_destroy_response(r);
    return ret;
  }
  return MHD_NO;
}

static struct MHD_Daemon *start_app(struct app *app, uint16_t *port)
{
  struct sockaddr_in lo = { .sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
      &app_handler, app, MHD_OPTION_SOCK_ADDR, &lo, MHD_OPTION_CONNECTION_LIMIT,
      2000u, MHD_OPTION_NOTIFY_COMPLETED, &ssehub_mhd_completed, app->hub,
      MHD_OPTION_END);
  const union MHD_DaemonInfo *info;

  ck_assert_ptr_nonnull(d);
  info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  ck_assert_ptr_nonnull(info);
  *port = info->port;
  return d;
}

START_TEST(test_embed_streams_in_own_daemon_and_stops_cleanly)
{
  struct ssehub_options o;
  struct app app;
  struct MHD_Daemon *d;
  struct tl_sse s[3];
  struct tl_response r;
  char frame[256], id[64], first_id[64];
  uint16_t port;
  uint64_t seq = 0;
  int err = 0, i;
  static const char hello[] = "GET /hello HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n";

  ssehub_options_default(&o);
  o.heartbeat_ms = 0;
  o.max_clients = 100;
  app.hub = ssehub_new(&o, &err);
  ck_assert_msg(NULL != app.hub, "ssehub_new: %s", ssehub_strerror(err));
  d = start_app(&app, &port);

  ck_assert_int_eq(200, tl_http(port, hello, sizeof(hello) - 1, &r));
  ck_assert_str_eq(r.body, "hello from the app\n");
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(0, tl_sse_open(&s[i], port, "/hub/sse", NULL, NULL));
    ck_assert_int_ge(tl_sse_next(&s[i], frame, sizeof(frame), 2000), 0);
    ck_assert_str_eq(frame, ":ok\nretry: 3000");
  }
  ck_assert_uint_eq(3, ssehub_client_count(app.hub));

  /* Publish from this (a foreign) thread. */
  ck_assert_int_eq(0, ssehub_publish_text(app.hub, "from C", 6, &seq));
  ck_assert_uint_eq(1, seq);
  ssehub_event_id(app.hub, seq, first_id, sizeof(first_id));
  ck_assert_ptr_nonnull(strstr(first_id, "-1"));
  {
    struct ssehub_event ev = { .data = "x\ny",
                               .data_len = 3,
                               .event = "update",
                               .id = "42",
                               .retry = 2500 };

    ck_assert_int_eq(0, ssehub_publish(app.hub, &ev, &seq));
    ck_assert_uint_eq(2, seq);
  }
  for (i = 0; i < 3; i++) {
    ck_assert_int_ge(tl_sse_next(&s[i], frame, sizeof(frame), 2000), 0);
    ck_assert_int_gt(tl_strip_id(frame, id, sizeof(id)), 0);
    ck_assert_int_eq(0, strcmp(id, first_id));
    ck_assert_str_eq(frame, "data: from C");
    ck_assert_int_ge(tl_sse_next(&s[i], frame, sizeof(frame), 2000), 0);
    ck_assert_str_eq(frame,
                     "event: update\nid: 42\nretry: 2500\ndata: x\ndata: y");
  }
  /* Publishing over HTTP through the embedder's routing works too. */
  {
    static const char pub[] = "POST /hub/publish HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n"
                              "Content-Type: text/plain\r\n"
                              "Content-Length: 4\r\n\r\nhttp";

    ck_assert_int_eq(200, tl_http(port, pub, sizeof(pub) - 1, &r));
    ck_assert_int_ge(tl_sse_next(&s[0], frame, sizeof(frame), 2000), 0);
    ck_assert_int_gt(tl_strip_id(frame, NULL, 0), 0);
    ck_assert_str_eq(frame, "data: http");
  }

  /* The documented order: hub first (ends the parked streams), daemon,
   * then free. Stopping MHD first would abort the process. */
  ssehub_stop(app.hub);
  for (i = 0; i < 3; i++) {
    while (!s[i].ended && tl_sse_pump(&s[i], 1000) > 0)
      ;
    ck_assert_msg(s[i].ended, "stream %d did not end cleanly", i);
  }
  ck_assert_int_eq(-ESHUTDOWN, ssehub_publish_text(app.hub, "late", 4, NULL));
  MHD_stop_daemon(d);
  ssehub_free(app.hub);
  for (i = 0; i < 3; i++)
    tl_sse_close(&s[i]);
}
END_TEST

START_TEST(test_embed_publish_refuses_bad_events)
{
  struct ssehub_options o;
  struct ssehub *hub;
  struct ssehub_event ev = { .data = "d", .data_len = 1, .retry = -1 };
  char big[200];

  ssehub_options_default(&o);
  o.max_event_size = 100;
  hub = ssehub_new(&o, NULL);
  ck_assert_ptr_nonnull(hub);
  memset(big, 'b', sizeof(big));
  ck_assert_int_eq(-EMSGSIZE, ssehub_publish_text(hub, big, 101, NULL));
  ck_assert_int_eq(0, ssehub_publish_text(hub, big, 100, NULL));
  ev.event = "bad\nname";
  ck_assert_int_eq(-EINVAL, ssehub_publish(hub, &ev, NULL));
  ev.event = NULL;
  ev.id = "bad\rid";
  ck_assert_int_eq(-EINVAL, ssehub_publish(hub, &ev, NULL));
  /* Text that is not valid UTF-8, or a control character in a field, is
   * refused as POST /publish refuses it (400). */
  ev.id = "\xff\xfe";
  ck_assert_int_eq(-EINVAL, ssehub_publish(hub, &ev, NULL));
  ev.id = "tab\there";
  ck_assert_int_eq(-EINVAL, ssehub_publish(hub, &ev, NULL));
  ev.id = NULL;
  ev.event = "\xed\xa0\x80"; /* a surrogate */
  ck_assert_int_eq(-EINVAL, ssehub_publish(hub, &ev, NULL));
  ev.event = NULL;
  {
    const char *topics[] = { "\xc0\xaf" };

    ev.topics = topics;
    ev.ntopics = 1;
    ck_assert_int_eq(-EINVAL, ssehub_publish(hub, &ev, NULL));
    ev.topics = NULL;
    ev.ntopics = 0;
  }
  ck_assert_int_eq(-EINVAL, ssehub_publish_text(hub, "caf\xc3", 4, NULL));
  ck_assert_int_eq(0, ssehub_publish_text(hub, "caf\xc3\xa9\t\x01", 7, NULL));
  ev.retry = -2;
  ck_assert_int_eq(-EINVAL, ssehub_publish(hub, &ev, NULL));
  ck_assert_str_eq(ssehub_strerror(-EAGAIN), "publish queue full; retry later");
  ssehub_free(hub);
}
END_TEST

START_TEST(test_embed_new_rejects_bad_options)
{
  struct ssehub_options o;
  int err = 0;

  ssehub_options_default(&o);
  o.publish_queue = 0;
  ck_assert_ptr_null(ssehub_new(&o, &err));
  ck_assert_int_eq(-EINVAL, err);
  ssehub_options_default(&o);
  o.client_buffer = 0;
  ck_assert_ptr_null(ssehub_new(&o, &err));
  ck_assert_int_eq(-EINVAL, err);
}
END_TEST

START_TEST(test_embed_own_daemon_port_zero_and_port_in_use)
{
  struct ssehub_options o;
  struct ssehub *a, *b;

  ssehub_options_default(&o);
  o.bind_address = "127.0.0.1";
  o.port = 0;
  a = ssehub_new(&o, NULL);
  ck_assert_ptr_nonnull(a);
  ck_assert_int_eq(0, ssehub_listen(a));
  ck_assert_uint_ne(0, ssehub_port(a));
  ck_assert_int_eq(-EALREADY, ssehub_listen(a));
  o.port = ssehub_port(a);
  b = ssehub_new(&o, NULL);
  ck_assert_ptr_nonnull(b);
  ck_assert_int_eq(-EADDRINUSE, ssehub_listen(b));
  ssehub_free(b);
  ssehub_free(a);
}
END_TEST

/* A program built against an older ssehub.h: its struct ssehub_options
 * ends before publish_wait_ms (the newest field then), and its struct
 * ssehub_stats before publish_held. The library must read and write only
 * what such a program has, and give the fields it lacks their defaults. */
struct old_options {
  unsigned char head[offsetof(struct ssehub_options, publish_wait_ms)];
};

START_TEST(test_embed_older_binaries_keep_working)
{
  union {
    struct ssehub_options o;
    unsigned char bytes[sizeof(struct ssehub_options) + 64];
  } u;
  struct ssehub_stats st;
  struct ssehub *hub;
  size_t old_size = sizeof(struct old_options), stats_size;
  int err = 0;

  /* Options: the old size is all the library writes... */
  memset(u.bytes, 0xa5, sizeof(u.bytes));
  ssehub_options_init(&u.o, old_size);
  ck_assert_uint_eq(old_size, u.o.size);
  ck_assert_uint_eq(8888, u.o.port);
  ck_assert_uint_eq(0xa5, u.bytes[old_size]);
  /* ... and all it reads: the bytes past it are not options. */
  u.o.heartbeat_ms = 0;
  hub = ssehub_new(&u.o, &err);
  ck_assert_msg(NULL != hub, "ssehub_new: %s", ssehub_strerror(err));
  ck_assert_int_eq(0, ssehub_publish_text(hub, "x", 1, NULL));

  /* Stats: an older, shorter struct is filled only as far as it goes. */
  stats_size = offsetof(struct ssehub_stats, publish_held);
  memset(&st, 0xa5, sizeof(st));
  ssehub_get_stats_size(hub, &st, stats_size);
  ck_assert_uint_eq(1, st.published);
  ck_assert_uint_eq(0xa5a5a5a5a5a5a5a5ull, st.publish_held);
  ssehub_get_stats(hub, &st);
  ck_assert_uint_eq(0, st.publish_held);
  ck_assert_uint_gt(st.fds, 0);
  ssehub_free(hub);

  /* Options never initialised, or a newer header's options the library
   * does not know set to non-zero values: refused, not guessed at. */
  memset(&u, 0, sizeof(u));
  ck_assert_ptr_null(ssehub_new(&u.o, &err));
  ck_assert_int_eq(-EINVAL, err);
  ssehub_options_default(&u.o);
  u.o.size = sizeof(u.bytes);
  u.o.heartbeat_ms = 0;
  hub = ssehub_new(&u.o, &err); /* unknown tail all zero: fine */
  ck_assert_ptr_nonnull(hub);
  ssehub_free(hub);
  u.bytes[sizeof(struct ssehub_options) + 3] = 1;
  ck_assert_ptr_null(ssehub_new(&u.o, &err));
  ck_assert_int_eq(-EINVAL, err);
}
END_TEST

START_TEST(test_embed_version_matches_header)
{
  char want[32];

  ck_assert_uint_eq(SSEHUB_VERSION_NUM, ssehub_version());
  ck_assert_str_eq(SSEHUB_VERSION_STRING, ssehub_version_string());
  snprintf(want, sizeof(want), "%d.%d.%d", SSEHUB_VERSION_MAJOR,
           SSEHUB_VERSION_MINOR, SSEHUB_VERSION_PATCH);
  ck_assert_str_eq(want, ssehub_version_string());
  ck_assert_str_eq(PACKAGE_VERSION, ssehub_version_string());
}
END_TEST

int main(void)
{
  Suite *s = suite_create("embed");
  TCase *tc = tcase_create("core");
  SRunner *sr;
  int failed;

  signal(SIGPIPE, SIG_IGN);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_embed_streams_in_own_daemon_and_stops_cleanly);
  tcase_add_test(tc, test_embed_publish_refuses_bad_events);
  tcase_add_test(tc, test_embed_new_rejects_bad_options);
  tcase_add_test(tc, test_embed_own_daemon_port_zero_and_port_in_use);
  tcase_add_test(tc, test_embed_older_binaries_keep_working);
  tcase_add_test(tc, test_embed_version_matches_header);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
