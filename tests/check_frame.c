/* check_frame.c - unit tests for the shared event frame (src/core/frame.h):
 * its reference count, its own HTTP/1.1 chunk framing, the id and topics
 * it carries, topic matching, and sizes too large to allocate. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "frame.h"
#include "testlib.h"

/* ---- references --------------------------------------------------------- */

START_TEST(test_frame_new_holds_one_reference_and_no_metadata)
{
  struct sh_frame *f = sh_frame_new_copy("data: x\n\n", 9);

  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(tl_frame_refs(f), 1);
  ck_assert_uint_eq(f->len, 9);
  ck_assert_mem_eq(f->bytes, "data: x\n\n", 9);
  ck_assert_uint_eq(f->seq, 0);
  ck_assert_ptr_null(f->id);
  ck_assert_uint_eq(f->ntopics, 0);
  sh_frame_unref(f);
}
END_TEST

START_TEST(test_frame_ref_and_unref_count)
{
  struct sh_frame *f = tl_frame_str("data: shared\n\n");

  /* ref returns the frame itself: storing it is one expression. */
  ck_assert_ptr_eq(sh_frame_ref(f), f);
  ck_assert_ptr_eq(sh_frame_ref(f), f);
  ck_assert_uint_eq(tl_frame_refs(f), 3);
  sh_frame_unref(f);
  sh_frame_unref(f);
  ck_assert_uint_eq(tl_frame_refs(f), 1);
  /* The bytes are untouched while a reference is held. */
  ck_assert_mem_eq(f->bytes, "data: shared\n\n", 14);
  sh_frame_unref(f); /* the last: freed (ASan, valgrind: a leak if not) */
  sh_frame_unref(NULL);
}
END_TEST

/* Many threads take and drop references to one frame at once, as client
 * rings on different MHD threads do: not one is lost or counted twice,
 * and every thread reads the same bytes throughout. The last reference
 * is then dropped on yet another thread (a ring drained after the
 * broadcaster let go), which frees the frame: under TSan a race on the
 * count or the bytes, under ASan or valgrind a double free or a leak, is
 * reported. */
enum { REF_THREADS = 4, REF_ROUNDS = 20000 };

struct ref_run {
  struct sh_frame *f;
  unsigned bad_reads;
};

static void *ref_worker(void *arg)
{
  struct ref_run *r = arg;
  struct sh_frame *mine[8];
  int i, k;

  for (i = 0; i < REF_ROUNDS; i++) {
    for (k = 0; k < 8; k++)
      mine[k] = sh_frame_ref(r->f);
    for (k = 0; k < 8; k++) {
      if ('s' != mine[k]->bytes[0])
        r->bad_reads++;
      sh_frame_unref(mine[k]);
    }
  }
  return NULL;
}

static void *drop_last(void *arg)
{
  sh_frame_unref(arg);
  return NULL;
}

START_TEST(test_frame_refcount_is_exact_across_threads)
{
  struct sh_frame *f = tl_frame_str("shared by every thread");
  struct ref_run runs[REF_THREADS];
  pthread_t t[REF_THREADS];
  int i;

  for (i = 0; i < REF_THREADS; i++) {
    runs[i].f = f;
    runs[i].bad_reads = 0;
    ck_assert_int_eq(0, pthread_create(&t[i], NULL, ref_worker, &runs[i]));
  }
  for (i = 0; i < REF_THREADS; i++) {
    ck_assert_int_eq(0, pthread_join(t[i], NULL));
    ck_assert_uint_eq(runs[i].bad_reads, 0);
  }
  ck_assert_uint_eq(tl_frame_refs(f), 1);
  ck_assert_int_eq(0, pthread_create(&t[0], NULL, drop_last, f));
  ck_assert_int_eq(0, pthread_join(t[0], NULL));
}
END_TEST

/* ---- frames as chunks --------------------------------------------------- */

/* Check that the chunk is "<hex of len>\r\n", len bytes equal to ch,
 * "\r\n", with the header ending where the bytes begin. */
static void check_chunk(const struct sh_frame *f, char ch, size_t len)
{
  size_t n, i;
  const char *c = sh_frame_chunk(f, &n);
  char *end;
  unsigned long v = strtoul(c, &end, 16);

  ck_assert_uint_eq(v, len);
  ck_assert_msg(end > c && '\r' == end[0] && '\n' == end[1],
                "no CRLF after the chunk size for %zu bytes", len);
  ck_assert_ptr_eq(end + 2, f->bytes);
  ck_assert_uint_eq((size_t) (end + 2 - c), f->head_len);
  for (i = 0; i < len; i++)
    if (ch != f->bytes[i])
      ck_abort_msg("byte %zu of %zu changed", i, len);
  ck_assert_uint_eq(n, (size_t) (end + 2 - c) + len + 2);
  ck_assert_int_eq(0, memcmp(f->bytes + len, "\r\n", 2));
}

/* A frame carries its own HTTP/1.1 chunk framing (direct writes send it
 * as is): right for every size, around the hex digit boundaries too, in
 * lower-case hex without leading zeros. */
START_TEST(test_frame_is_its_own_chunk)
{
  static const size_t sizes[] = { 1,   9,    10,   15,    16,    17,     255,
                                  256, 4095, 4096, 65535, 65536, 1048577 };
  size_t i;

  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    struct sh_frame *f = tl_frame_fill('a' + (char) i, sizes[i]);

    check_chunk(f, 'a' + (char) i, sizes[i]);
    sh_frame_unref(f);
  }
}
END_TEST

START_TEST(test_frame_chunk_header_text)
{
  static const struct {
    size_t len;
    const char *head;
  } cases[] = { { 1, "1\r\n" },
                { 10, "a\r\n" },
                { 255, "ff\r\n" },
                { 4096, "1000\r\n" },
                { 0xabcdef, "abcdef\r\n" } };
  size_t i, n;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct sh_frame *f = sh_frame_new(cases[i].len);
    const char *c;

    ck_assert_ptr_nonnull(f);
    c = sh_frame_chunk(f, &n);
    ck_assert_uint_eq(f->head_len, strlen(cases[i].head));
    ck_assert_mem_eq(c, cases[i].head, f->head_len);
    sh_frame_unref(f);
  }
}
END_TEST

/* An event frame keeps its id and topics after the chunk's CRLF, and the
 * CRLF after its bytes. */
START_TEST(test_frame_event_chunk_and_metadata_intact)
{
  static const char *const topics[] = { "news", "sport/football" };
  struct sh_frame *f = sh_frame_new_event(300, "id-42", 5, topics, 2);

  ck_assert_ptr_nonnull(f);
  memset(f->bytes, 'z', 300);
  check_chunk(f, 'z', 300);
  ck_assert_str_eq(f->id, "id-42");
  ck_assert_uint_eq(f->ntopics, 2);
  ck_assert_str_eq(f->topics[0], "news");
  ck_assert_str_eq(f->topics[1], "sport/football");
  sh_frame_unref(f);
}
END_TEST

/* ---- id and topics ------------------------------------------------------ */

/* The frame keeps copies: the publisher's buffers may change or go the
 * moment the call returns. id_len bytes are taken, NUL-terminated. */
START_TEST(test_frame_event_copies_id_and_topics)
{
  char id[] = "order-17-and-more", t0[] = "alpha", t1[] = "beta";
  const char *topics[] = { t0, t1 };
  struct sh_frame *f = sh_frame_new_event(4, id, 8, topics, 2);

  ck_assert_ptr_nonnull(f);
  memset(id, 'X', sizeof(id) - 1);
  memset(t0, 'Y', sizeof(t0) - 1);
  topics[1] = "gamma";
  ck_assert_str_eq(f->id, "order-17");
  ck_assert_str_eq(f->topics[0], "alpha");
  ck_assert_str_eq(f->topics[1], "beta");
  sh_frame_unref(f);

  /* No id, no topics: a frame for everyone without an id of its own. */
  f = sh_frame_new_event(4, NULL, 0, NULL, 0);
  ck_assert_ptr_nonnull(f);
  ck_assert_ptr_null(f->id);
  ck_assert_uint_eq(f->ntopics, 0);
  sh_frame_unref(f);
}
END_TEST

/* The topic pointers sit after the wire bytes, whose length is any: they
 * must be aligned whatever it is (UBSan reports a misaligned read), and
 * nothing may overlap the bytes or the chunk's CRLF. */
START_TEST(test_frame_event_topics_aligned_for_any_length)
{
  static const char *const topics[] = { "a", "bb", "ccc" };
  size_t len, idl;

  for (len = 0; len < 24; len++)
    for (idl = 0; idl < 10; idl++) {
      struct sh_frame *f = sh_frame_new_event(len, "0123456789", idl, topics,
                                              3);

      ck_assert_ptr_nonnull(f);
      memset(f->bytes, 'w', len);
      ck_assert_uint_eq((uintptr_t) f->topics % sizeof(char *), 0);
      ck_assert_str_eq(f->topics[0], "a");
      ck_assert_str_eq(f->topics[2], "ccc");
      ck_assert_uint_eq(strlen(f->id), idl);
      ck_assert_int_eq(0, memcmp(f->bytes + len, "\r\n", 2));
      sh_frame_unref(f);
    }
}
END_TEST

/* ---- topics ------------------------------------------------------------- */

START_TEST(test_frame_without_topics_goes_to_everyone)
{
  static const char *const some[] = { "news", "sport" };
  struct sh_frame *f = sh_frame_new_event(1, NULL, 0, NULL, 0);

  ck_assert_ptr_nonnull(f);
  ck_assert(sh_frame_matches(f, NULL, 0));
  ck_assert(sh_frame_matches(f, some, 2));
  sh_frame_unref(f);
}
END_TEST

START_TEST(test_frame_topics_match_any_subscribed_name_exactly)
{
  static const char *const topics[] = { "news", "sport/football" };
  static const char *const news[] = { "news" };
  static const char *const other_then_sport[] = { "weather", "sport/football" };
  static const char *const near[] = { "new", "News", "news ", "sport",
                                      "sport/football/uk" };
  static const char *const star[] = { "weather", "*" };
  struct sh_frame *f = sh_frame_new_event(1, NULL, 0, topics, 2);
  unsigned i;

  ck_assert_ptr_nonnull(f);
  ck_assert(sh_frame_matches(f, news, 1));
  ck_assert(sh_frame_matches(f, other_then_sport, 2));
  /* Names match whole and case-sensitively: no prefixes, no folding. */
  for (i = 0; i < 5; i++)
    ck_assert_msg(!sh_frame_matches(f, &near[i], 1), "'%s' matched", near[i]);
  ck_assert(!sh_frame_matches(f, near, 5));
  /* A plain stream (no topics) does not get topic events ... */
  ck_assert(!sh_frame_matches(f, NULL, 0));
  /* ... and "*" gets everything. */
  ck_assert(sh_frame_matches(f, star, 2));
  ck_assert(sh_frame_matches(f, &star[1], 1));
  sh_frame_unref(f);
}
END_TEST

/* ---- sizes -------------------------------------------------------------- */

/* Sizes whose allocation size would wrap around are refused (NULL), not
 * turned into a small allocation that the caller then overruns. */
START_TEST(test_frame_size_overflow_refused)
{
  static const char *const topics[] = { "t" };
  size_t over = SIZE_MAX - sizeof(struct sh_frame) - 1; /* + 2 wraps */

  ck_assert_ptr_null(sh_frame_new(SIZE_MAX));
  ck_assert_ptr_null(sh_frame_new(SIZE_MAX - 1));
  ck_assert_ptr_null(sh_frame_new(over));
  ck_assert_ptr_null(sh_frame_new_copy("x", SIZE_MAX));
  /* The id and topics come on top of the bytes: their room counts. */
  ck_assert_ptr_null(sh_frame_new_event(SIZE_MAX - sizeof(struct sh_frame) - 16,
                                        "id", 2, topics, 1));
  ck_assert_ptr_null(sh_frame_new_event(SIZE_MAX, NULL, 0, NULL, 0));
}
END_TEST

static Suite *frame_suite(void)
{
  Suite *s = suite_create("frame");
  TCase *refs = tcase_create("refs");
  TCase *chunks = tcase_create("chunks");
  TCase *meta = tcase_create("metadata");

  tcase_set_timeout(refs, 20);
  tcase_add_test(refs, test_frame_new_holds_one_reference_and_no_metadata);
  tcase_add_test(refs, test_frame_ref_and_unref_count);
  tcase_add_test(refs, test_frame_refcount_is_exact_across_threads);
  suite_add_tcase(s, refs);

  tcase_add_test(chunks, test_frame_is_its_own_chunk);
  tcase_add_test(chunks, test_frame_chunk_header_text);
  tcase_add_test(chunks, test_frame_event_chunk_and_metadata_intact);
  tcase_add_test(chunks, test_frame_size_overflow_refused);
  suite_add_tcase(s, chunks);

  tcase_add_test(meta, test_frame_event_copies_id_and_topics);
  tcase_add_test(meta, test_frame_event_topics_aligned_for_any_length);
  tcase_add_test(meta, test_frame_without_topics_goes_to_everyone);
  tcase_add_test(meta, test_frame_topics_match_any_subscribed_name_exactly);
  suite_add_tcase(s, meta);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(frame_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
