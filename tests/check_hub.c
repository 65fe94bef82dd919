/* check_hub.c - the hub's publish path and broadcaster through internal
 * state: refusal when the publish queue is full, POST /publish and
 * ssehub_publish_wait() held while it is full (and refused once their
 * wait runs out), order, and a slow
 * client being cut off without affecting the others. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "client.h"
#include "hub.h"
#include "sync.h"
#include "testlib.h"

static struct ssehub *new_hub(unsigned queue)
{
  struct ssehub_options o;
  struct ssehub *hub;

  ssehub_options_default(&o);
  o.heartbeat_ms = 0;
  o.publish_queue = queue;
  o.max_clients = 16;
  hub = ssehub_new(&o, NULL);
  ck_assert_ptr_nonnull(hub);
  return hub;
}

static struct sh_client *add_client(struct ssehub *hub, size_t max_bytes)
{
  struct sh_client *c = tl_client(max_bytes);

  ck_assert_int_eq(0, sh_registry_add(&hub->reg, c));
  return c;
}

static void remove_client(struct ssehub *hub, struct sh_client *c)
{
  sh_client_gone(c);
  sh_registry_remove(&hub->reg, c);
  sh_client_unref(c);
}

static size_t queued(struct ssehub *hub)
{
  size_t n;

  sh_mutex_lock(&hub->queue.lock);
  n = hub->queue.count;
  sh_mutex_unlock(&hub->queue.lock);
  return n;
}

static uint32_t ring_count(struct sh_client *c)
{
  uint32_t n;

  sh_mutex_lock(&c->lock);
  n = sh_ring_count(&c->ring);
  sh_mutex_unlock(&c->lock);
  return n;
}

static void wait_for(struct sh_client *c, uint32_t frames)
{
  int i;

  for (i = 0; i < 2000 && ring_count(c) < frames; i++)
    usleep(1000);
  ck_assert_uint_eq(frames, ring_count(c));
}

static void publish(struct ssehub *hub, const char *text, int want)
{
  ck_assert_int_eq(want, ssehub_publish_text(hub, text, strlen(text), NULL));
}

START_TEST(test_hub_publish_refused_when_queue_full_never_dropped)
{
  struct ssehub *hub = new_hub(4);
  struct sh_client *c = add_client(hub, 1 << 20);
  struct ssehub_stats st;
  char buf[256];
  size_t n;
  int i;

  /* Hold the client's lock: the broadcaster blocks delivering e1. */
  sh_mutex_lock(&c->lock);
  publish(hub, "e1", 0);
  for (i = 0; i < 2000 && queued(hub) > 0; i++)
    usleep(1000);
  ck_assert_uint_eq(0, queued(hub));
  publish(hub, "e2", 0);
  publish(hub, "e3", 0);
  publish(hub, "e4", 0);
  publish(hub, "e5", 0);
  /* The queue (4) is full: refused, not dropped and not blocking. */
  publish(hub, "e6", -EAGAIN);
  ssehub_get_stats(hub, &st);
  ck_assert_uint_eq(5, st.published);
  ck_assert_uint_eq(1, st.publish_refused);
  sh_mutex_unlock(&c->lock);

  wait_for(c, 5);
  sh_mutex_lock(&c->lock);
  n = sh_ring_drain(&c->ring, buf, sizeof(buf) - 1);
  sh_mutex_unlock(&c->lock);
  buf[n] = '\0';
  {
    char want[512], id[5][48];

    for (i = 0; i < 5; i++)
      ssehub_event_id(hub, (uint64_t) i + 1, id[i], sizeof(id[i]));
    snprintf(want, sizeof(want),
             "id: %s\ndata: e1\n\nid: %s\ndata: e2\n\nid: %s\ndata: e3\n\n"
             "id: %s\ndata: e4\n\nid: %s\ndata: e5\n\n",
             id[0], id[1], id[2], id[3], id[4]);
    ck_assert_str_eq(buf, want);
  }
  /* Once there is room again, publishing works. */
  publish(hub, "e7", 0);
  wait_for(c, 1);
  remove_client(hub, c);
  ssehub_free(hub);
}
END_TEST

START_TEST(test_hub_slow_client_cut_others_keep_everything)
{
  struct ssehub *hub = new_hub(1024);
  struct sh_client *slow = add_client(hub, 64);
  struct sh_client *fast = add_client(hub, 1 << 20);
  struct ssehub_stats st;
  char text[32];
  int i;

  for (i = 0; i < 20; i++) {
    snprintf(text, sizeof(text), "event %02d", i);
    publish(hub, text, 0);
  }
  wait_for(fast, 20);
  sh_mutex_lock(&slow->lock);
  ck_assert(slow->cut);
  ck_assert_uint_eq(0, sh_ring_count(&slow->ring));
  ck_assert_uint_eq(0, sh_ring_pending(&slow->ring));
  sh_mutex_unlock(&slow->lock);
  ssehub_get_stats(hub, &st);
  ck_assert_uint_eq(1, st.slow_disconnects);
  remove_client(hub, slow);
  remove_client(hub, fast);
  ssehub_free(hub);
}
END_TEST

START_TEST(test_hub_stop_delivers_what_was_accepted)
{
  struct ssehub *hub = new_hub(256);
  struct sh_client *c = add_client(hub, 1 << 20);
  int i;

  /* More than one batch (64) waits when the stop comes. */
  sh_mutex_lock(&c->lock);
  for (i = 0; i < 200; i++)
    publish(hub, "accepted", 0);
  sh_mutex_unlock(&c->lock);
  /* Stop joins the broadcaster only after it delivered the queue. */
  ssehub_stop(hub);
  /* The 200 events, then the stop's jittered retry (3000 ms +-50 %). */
  ck_assert_uint_eq(200 + 1, ring_count(c));
  {
    static char all[65536];
    size_t len = 0;
    ssize_t n;
    const char *last;
    unsigned v = 0;

    while ((n = sh_client_read(c, all + len, sizeof(all) - 1 - len)) > 0)
      len += (size_t) n;
    ck_assert_int_eq(n, MHD_CONTENT_READER_END_OF_STREAM);
    all[len] = '\0';
    last = strstr(all, "retry: ");
    ck_assert_ptr_nonnull(last);
    ck_assert_int_eq(1, sscanf(last, "retry: %u\n\n", &v));
    ck_assert_uint_ge(v, 1500);
    ck_assert_uint_le(v, 4500);
    ck_assert_str_eq(last + strcspn(last, "\n"), "\n\n");
  }
  publish(hub, "late", -ESHUTDOWN);
  remove_client(hub, c);
  ssehub_free(hub);
}
END_TEST

/* ---- POST /publish while the queue is full ---------------------------- */

struct http_pub {
  uint16_t port;
  const char *form;
  struct tl_response r;
  long long ms; /* how long the answer took */
  atomic_bool done;
};

static void *http_pub_run(void *arg)
{
  struct http_pub *p = arg;
  long long t0 = sh_now_ms();

  tl_publish_form(p->port, p->form, &p->r);
  p->ms = sh_now_ms() - t0;
  atomic_store(&p->done, true);
  return NULL;
}

static void http_pub_start(struct http_pub *p, pthread_t *t, uint16_t port,
                           const char *form)
{
  memset(p, 0, sizeof(*p));
  p->port = port;
  p->form = form;
  atomic_init(&p->done, false);
  ck_assert_int_eq(0, pthread_create(t, NULL, http_pub_run, p));
}

/* Whether publish_held reaches want within ms (the request has arrived
 * and parked; under valgrind that takes a while). */
static bool held_within(struct ssehub *hub, uint64_t want, int ms)
{
  struct ssehub_stats st;
  int i;

  for (i = 0; i < ms; i++) {
    ssehub_get_stats(hub, &st);
    if (st.publish_held >= want)
      return true;
    usleep(1000);
  }
  return false;
}

/* A hub on HTTP with a one-event queue, and a client whose lock the test
 * holds so the broadcaster blocks in the first fan-out: the next publish
 * fills the queue, and a POST after it finds the queue full. */
static struct ssehub *blocked_hub(unsigned wait_ms, struct sh_client **c)
{
  struct ssehub_options o;
  struct ssehub *hub;
  int i;

  ssehub_options_default(&o);
  o.bind_address = "127.0.0.1";
  o.port = 0;
  o.heartbeat_ms = 0;
  o.publish_queue = 1;
  o.publish_wait_ms = wait_ms;
  o.max_clients = 16;
  hub = ssehub_new(&o, NULL);
  ck_assert_ptr_nonnull(hub);
  ck_assert_int_eq(0, ssehub_listen(hub));
  *c = add_client(hub, 1 << 20);
  sh_mutex_lock(&(*c)->lock);
  publish(hub, "e1", 0);
  for (i = 0; i < 2000 && queued(hub) > 0; i++)
    usleep(1000);
  ck_assert_uint_eq(0, queued(hub)); /* the broadcaster holds e1 */
  publish(hub, "e2", 0);
  publish(hub, "e3", -EAGAIN); /* full */
  return hub;
}

static void expect_ring(struct ssehub *hub, struct sh_client *c,
                        const char *const *data, int n)
{
  char buf[1024], want[1024], id[48];
  size_t len, off = 0;
  int i;

  wait_for(c, (uint32_t) n);
  for (i = 0; i < n; i++) {
    ssehub_event_id(hub, (uint64_t) i + 1, id, sizeof(id));
    off += (size_t) snprintf(want + off, sizeof(want) - off,
                             "id: %s\ndata: %s\n\n", id, data[i]);
  }
  sh_mutex_lock(&c->lock);
  len = sh_ring_drain(&c->ring, buf, sizeof(buf) - 1);
  sh_mutex_unlock(&c->lock);
  buf[len] = '\0';
  ck_assert_str_eq(buf, want);
}

START_TEST(test_hub_http_publish_held_until_room)
{
  static const char *const want[] = { "e1", "e2", "held" };
  struct sh_client *c;
  struct ssehub *hub = blocked_hub(5000, &c);
  struct ssehub_stats st;
  struct http_pub p;
  pthread_t t;

  http_pub_start(&p, &t, ssehub_port(hub), "data=held");
  /* Not refused: held, and no answer while the queue stays full. */
  ck_assert(held_within(hub, 1, 3000 * tl_scale()));
  ck_assert_msg(!tl_flag_within(&p.done, 500),
                "answered %d while the queue was full", p.r.status);
  ssehub_get_stats(hub, &st);
  ck_assert_uint_eq(1, st.publish_held);
  ck_assert_uint_eq(1, st.publish_refused); /* only the direct e3 */
  /* The broadcaster moves on: the held publish gets in, and its answer. */
  sh_mutex_unlock(&c->lock);
  ck_assert(tl_flag_within(&p.done, 5000 * tl_scale()));
  pthread_join(t, NULL);
  ck_assert_int_eq(200, p.r.status);
  ck_assert_ptr_nonnull(strstr(p.r.body, "\"seq\":3"));
  expect_ring(hub, c, want, 3);
  ssehub_get_stats(hub, &st);
  ck_assert_uint_eq(3, st.published);
  ck_assert_uint_eq(1, st.publish_refused);
  remove_client(hub, c);
  ssehub_free(hub);
}
END_TEST

START_TEST(test_hub_http_publish_refused_when_wait_runs_out)
{
  static const char *const want[] = { "e1", "e2" };
  struct sh_client *c;
  struct ssehub *hub = blocked_hub(300, &c);
  struct ssehub_stats st;
  struct http_pub p;
  pthread_t t;
  bool answered;

  http_pub_start(&p, &t, ssehub_port(hub), "data=late");
  /* The broadcaster stays blocked: the 503 must come from the wait's
   * end (noticed within the watcher's half-second tick), not a pop. */
  answered = tl_flag_within(&p.done, 5000 * tl_scale());
  if (!answered)
    sh_mutex_unlock(&c->lock); /* let the thread finish before failing */
  ck_assert_msg(answered, "no answer 5 s into a 300 ms wait");
  pthread_join(t, NULL);
  ck_assert_int_eq(503, p.r.status);
  ck_assert_ptr_nonnull(strstr(p.r.body, "publish queue full"));
  ck_assert_ptr_nonnull(strstr(p.r.head, "Retry-After: 5"));
  ck_assert_int_ge(p.ms, 300);
  ssehub_get_stats(hub, &st);
  ck_assert_uint_eq(1, st.publish_held);
  ck_assert_uint_eq(2, st.publish_refused);
  /* Refused means not published: the client gets e1 and e2 only. */
  sh_mutex_unlock(&c->lock);
  expect_ring(hub, c, want, 2);
  usleep(100 * 1000);
  ck_assert_uint_eq(0, ring_count(c));
  remove_client(hub, c);
  ssehub_free(hub);
}
END_TEST

START_TEST(test_hub_http_publish_held_answered_at_stop)
{
  struct sh_client *c;
  struct ssehub *hub = blocked_hub(5000, &c);
  struct http_pub p;
  pthread_t t;

  http_pub_start(&p, &t, ssehub_port(hub), "data=held");
  ck_assert(held_within(hub, 1, 3000 * tl_scale()));
  ck_assert(!tl_flag_within(&p.done, 300));
  /* What ssehub_stop() does first: close the queue. The held request is
   * woken and told the server is stopping, without waiting 5 s. */
  sh_pubqueue_close(&hub->queue);
  ck_assert(tl_flag_within(&p.done, 2000 * tl_scale()));
  pthread_join(t, NULL);
  ck_assert_int_eq(503, p.r.status);
  ck_assert_ptr_nonnull(strstr(p.r.body, "shutting down"));
  sh_mutex_unlock(&c->lock);
  ssehub_stop(hub);
  remove_client(hub, c);
  ssehub_free(hub);
}
END_TEST

/* ---- ssehub_publish_wait(): the same hold for library callers ------------ */

struct lib_pub {
  struct ssehub *hub;
  long timeout_ms;
  int rc;
  long long ms;
  atomic_bool done;
};

static void *lib_pub_run(void *arg)
{
  struct lib_pub *p = arg;
  struct ssehub_event ev = { .data = "waited", .data_len = 6, .retry = -1 };
  long long t0 = sh_now_ms();

  p->rc = ssehub_publish_wait(p->hub, &ev, NULL, p->timeout_ms);
  p->ms = sh_now_ms() - t0;
  atomic_store(&p->done, true);
  return NULL;
}

static void lib_pub_start(struct lib_pub *p, pthread_t *t, struct ssehub *hub,
                          long timeout_ms)
{
  memset(p, 0, sizeof(*p));
  p->hub = hub;
  p->timeout_ms = timeout_ms;
  atomic_init(&p->done, false);
  ck_assert_int_eq(0, pthread_create(t, NULL, lib_pub_run, p));
}

START_TEST(test_hub_publish_wait_sleeps_until_room_or_timeout)
{
  static const char *const want[] = { "e1", "e2", "waited" };
  struct sh_client *c;
  struct ssehub *hub = blocked_hub(0, &c);
  struct ssehub_stats st;
  struct lib_pub p;
  pthread_t t;

  /* A limit that runs out: -EAGAIN, counted, after the limit. */
  lib_pub_start(&p, &t, hub, 300);
  ck_assert(tl_flag_within(&p.done, 5000 * tl_scale()));
  pthread_join(t, NULL);
  ck_assert_int_eq(-EAGAIN, p.rc);
  ck_assert_int_ge(p.ms, 300);
  ssehub_get_stats(hub, &st);
  ck_assert_uint_eq(2, st.publish_refused); /* e3 in blocked_hub, and this */
  /* No limit: it sleeps while the queue is full, then gets in, in order. */
  lib_pub_start(&p, &t, hub, -1);
  ck_assert(!tl_flag_within(&p.done, 500));
  sh_mutex_unlock(&c->lock);
  ck_assert(tl_flag_within(&p.done, 5000 * tl_scale()));
  pthread_join(t, NULL);
  ck_assert_int_eq(0, p.rc);
  expect_ring(hub, c, want, 3);
  ssehub_get_stats(hub, &st);
  ck_assert_uint_eq(2, st.publish_refused);
  remove_client(hub, c);
  ssehub_free(hub);
}
END_TEST

START_TEST(test_hub_publish_wait_ends_at_stop)
{
  struct sh_client *c;
  struct ssehub *hub = blocked_hub(0, &c);
  struct lib_pub p;
  pthread_t t;

  lib_pub_start(&p, &t, hub, -1);
  ck_assert(!tl_flag_within(&p.done, 300));
  sh_pubqueue_close(&hub->queue); /* what ssehub_stop() does first */
  ck_assert(tl_flag_within(&p.done, 2000 * tl_scale()));
  pthread_join(t, NULL);
  ck_assert_int_eq(-ESHUTDOWN, p.rc);
  sh_mutex_unlock(&c->lock);
  ssehub_stop(hub);
  remove_client(hub, c);
  ssehub_free(hub);
}
END_TEST

static size_t history_count(struct ssehub *hub)
{
  size_t n;

  sh_history_lock(&hub->history);
  n = hub->history.count;
  sh_history_unlock(&hub->history);
  return n;
}

static atomic_bool reload_publisher_stop;

static void *reload_publisher(void *arg)
{
  struct ssehub *hub = arg;

  while (!atomic_load(&reload_publisher_stop))
    if (-EAGAIN == ssehub_publish_text(hub, "x", 1, NULL))
      usleep(100);
  return NULL;
}

/* ssehub_reload() from the library: what changes, what needs a restart
 * (counted), what is refused whole; and many reloads while another
 * thread publishes (TSan sees the live settings' accesses). */
START_TEST(test_hub_reload_applies_counts_and_refuses)
{
  struct ssehub_options o;
  struct ssehub *hub = new_hub(32);
  pthread_t th;
  int i;

  ssehub_options_default(&o);
  o.heartbeat_ms = 0;
  o.publish_queue = 32;
  o.max_clients = 16;
  for (i = 0; i < 10; i++)
    publish(hub, "e", 0);
  for (i = 0; i < 2000 && history_count(hub) < 10; i++)
    usleep(1000);
  ck_assert_uint_eq(10, history_count(hub));

  /* Live: the history keeps its newest 3; a smaller event limit. */
  o.history_size = 3;
  o.max_event_size = 4;
  ck_assert_int_eq(0, ssehub_reload(hub, &o));
  ck_assert_uint_eq(3, history_count(hub));
  publish(hub, "hello", -EMSGSIZE);
  publish(hub, "hi", 0);

  /* Needs a restart: counted, the rest still applied. */
  o.port = 9999;
  o.publish_queue = 5;
  o.max_clients = 100; /* above the 16 allocated at start */
  o.max_event_size = 64;
  ck_assert_int_eq(3, ssehub_reload(hub, &o));
  ck_assert_uint_eq(16, sh_live(hub, max_clients));
  publish(hub, "hello", 0);

  /* Invalid: nothing changes. */
  o.port = 8888;
  o.publish_queue = 32;
  o.max_clients = 8;
  o.max_event_size = 4;
  o.client_buffer = 0;
  ck_assert_int_eq(-EINVAL, ssehub_reload(hub, &o));
  publish(hub, "hello", 0);
  ck_assert_uint_eq(16, sh_live(hub, max_clients));

  o.client_buffer = 1024 * 1024;
  atomic_store(&reload_publisher_stop, false);
  ck_assert_int_eq(0, pthread_create(&th, NULL, reload_publisher, hub));
  for (i = 0; i < 200; i++) {
    o.retry_ms = 1000 + (unsigned) i;
    o.heartbeat_ms = 0 == i % 2 ? 0 : 100;
    o.history_size = (size_t) (i % 7);
    o.publish_token = 0 == i % 3 ? "t1" : "t2";
    ck_assert_int_eq(0, ssehub_reload(hub, &o));
  }
  atomic_store(&reload_publisher_stop, true);
  ck_assert_int_eq(0, pthread_join(th, NULL));
  ssehub_free(hub);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("hub");
  TCase *tc = tcase_create("core");
  SRunner *sr;
  int failed;

  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, test_hub_publish_refused_when_queue_full_never_dropped);
  tcase_add_test(tc, test_hub_slow_client_cut_others_keep_everything);
  tcase_add_test(tc, test_hub_stop_delivers_what_was_accepted);
  tcase_add_test(tc, test_hub_http_publish_held_until_room);
  tcase_add_test(tc, test_hub_http_publish_refused_when_wait_runs_out);
  tcase_add_test(tc, test_hub_http_publish_held_answered_at_stop);
  tcase_add_test(tc, test_hub_publish_wait_sleeps_until_room_or_timeout);
  tcase_add_test(tc, test_hub_publish_wait_ends_at_stop);
  tcase_add_test(tc, test_hub_reload_applies_counts_and_refuses);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
