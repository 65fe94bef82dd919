/* check_entry.c - unit tests for one Redis stream entry to a frame
 * (src/cluster/entry.h): the fields the engine writes become the exact
 * SSE bytes, and what another writer of the shared log may have put
 * there cannot corrupt a stream. Replies are built by hand, as hiredis
 * would hand them over. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "entry.h"
#include "streamid.h"

/* A reply tree, freed by the test's arena (the structs are hiredis's). */
static redisReply *str(const char *s)
{
  redisReply *r = calloc(1, sizeof(*r));

  r->type = REDIS_REPLY_STRING;
  r->len = strlen(s);
  r->str = strdup(s);
  return r;
}

static redisReply *arr(size_t n, redisReply **items)
{
  redisReply *r = calloc(1, sizeof(*r));

  r->type = REDIS_REPLY_ARRAY;
  r->elements = n;
  r->element = calloc(n > 0 ? n : 1, sizeof(*r->element));
  memcpy(r->element, items, n * sizeof(*items));
  return r;
}

/* An entry: id and a NULL-terminated list of field, value strings. */
static redisReply *entry(const char *id, const char *const *kv)
{
  redisReply *fields[64], *pair[2];
  size_t n = 0;

  while (NULL != kv[n]) {
    fields[n] = str(kv[n]);
    n++;
  }
  pair[0] = str(id);
  pair[1] = arr(n, fields);
  return arr(2, pair);
}

static void frame_is(struct sh_frame *f, const char *bytes)
{
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(f->len, strlen(bytes));
  ck_assert_int_eq(0, memcmp(f->bytes, bytes, f->len));
}

START_TEST(test_entry_fields_to_bytes)
{
  const char *kv[] = { "d", "line1\nline2", "e", "order", "r", "2500", "t", "a",
                       "t", "b c",          NULL };
  redisReply *e = entry("1796437335962-3", kv);
  bool bad = true;
  struct sh_frame *f = sh_entry_frame(e, &bad);
  uint64_t seq;

  ck_assert(!bad);
  frame_is(f, "event: order\nid: 1796437335962-3\nretry: 2500\n"
              "data: line1\ndata: line2\n\n");
  ck_assert(sh_streamid_parse("1796437335962-3", &seq));
  ck_assert_uint_eq(f->seq, seq);
  ck_assert_str_eq(f->id, "1796437335962-3");
  ck_assert_uint_eq(f->ntopics, 2);
  ck_assert_str_eq(f->topics[0], "a");
  ck_assert_str_eq(f->topics[1], "b c");
  sh_frame_unref(f);
  freeReplyObject(e);
}
END_TEST

START_TEST(test_entry_publisher_id_is_the_sse_id)
{
  const char *kv[] = { "d", "x", "i", "order-17", NULL };
  redisReply *e = entry("5-0", kv);
  bool bad;
  struct sh_frame *f = sh_entry_frame(e, &bad);

  frame_is(f, "id: order-17\ndata: x\n\n");
  ck_assert_str_eq(f->id, "order-17");
  ck_assert_uint_eq(f->seq, (uint64_t) 5 << SH_STREAMID_NBITS);
  sh_frame_unref(f);
  freeReplyObject(e);
}
END_TEST

START_TEST(test_entry_hostile_fields_dropped)
{
  /* A line break in an event name or id would forge fields; a topic of
   * "" is not a topic; unknown and long keys are someone else's. */
  const char *kv[] = { "d", "ok", "e",  "x\ndata: forged", "i", "a\rb",
                       "t", "",   "zz", "other",           "x", "y",
                       NULL };
  redisReply *e = entry("7-1", kv);
  bool bad;
  struct sh_frame *f = sh_entry_frame(e, &bad);

  ck_assert(!bad);
  frame_is(f, "id: 7-1\ndata: ok\n\n");
  ck_assert_uint_eq(f->ntopics, 0);
  sh_frame_unref(f);
  freeReplyObject(e);
}
END_TEST

/* What a publish would refuse is dropped the same way: fields that are not
 * valid UTF-8 or hold a control character; data that is not UTF-8 makes
 * the entry no event at all. */
START_TEST(test_entry_invalid_text_dropped)
{
  const char *kv[] = { "d", "ok",       "e", "\xff\xfe", "i", "tab\there",
                       "t", "\xc0\xaf", "t", "fine",     NULL };
  const char *kv_data[] = { "d", "caf\xc3", NULL };
  redisReply *e = entry("7-2", kv), *e2 = entry("7-3", kv_data);
  bool bad;
  struct sh_frame *f = sh_entry_frame(e, &bad);

  ck_assert(!bad);
  frame_is(f, "id: 7-2\ndata: ok\n\n");
  ck_assert_uint_eq(f->ntopics, 1);
  ck_assert_str_eq(f->topics[0], "fine");
  sh_frame_unref(f);
  ck_assert_ptr_null(sh_entry_frame(e2, &bad));
  ck_assert(bad);
  freeReplyObject(e);
  freeReplyObject(e2);
}
END_TEST

START_TEST(test_entry_not_an_entry)
{
  const char *kv[] = { "d", "x", NULL };
  redisReply *bad_id = entry("not-an-id", kv);
  redisReply *zero = entry("0-0", kv);
  redisReply *s = str("7-1");
  bool bad = false;

  ck_assert_ptr_null(sh_entry_frame(bad_id, &bad));
  ck_assert(bad);
  bad = false;
  ck_assert_ptr_null(sh_entry_frame(zero, &bad));
  ck_assert(bad);
  bad = false;
  ck_assert_ptr_null(sh_entry_frame(s, &bad));
  ck_assert(bad);
  freeReplyObject(bad_id);
  freeReplyObject(zero);
  freeReplyObject(s);
}
END_TEST

START_TEST(test_entry_no_data_is_an_empty_event)
{
  const char *kv[] = { "e", "ping", NULL };
  redisReply *e = entry("9-0", kv);
  bool bad;
  struct sh_frame *f = sh_entry_frame(e, &bad);

  frame_is(f, "event: ping\nid: 9-0\ndata:\n\n");
  sh_frame_unref(f);
  freeReplyObject(e);
}
END_TEST

static Suite *entry_suite(void)
{
  Suite *s = suite_create("entry");
  TCase *tc = tcase_create("entry");

  tcase_add_test(tc, test_entry_fields_to_bytes);
  tcase_add_test(tc, test_entry_publisher_id_is_the_sse_id);
  tcase_add_test(tc, test_entry_hostile_fields_dropped);
  tcase_add_test(tc, test_entry_invalid_text_dropped);
  tcase_add_test(tc, test_entry_not_an_entry);
  tcase_add_test(tc, test_entry_no_data_is_an_empty_event);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(entry_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
