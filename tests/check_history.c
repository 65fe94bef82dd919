/* check_history.c - unit tests for the record behind Last-Event-ID
 * (src/core/history.h): what is kept, and where a reconnecting client's
 * id leaves off. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "frame.h"
#include "history.h"
#include "streamid.h"
#include "sync.h"
#include "testlib.h"

enum { EPOCH = 1700000000 };

/* An event frame as the hub makes it: seq, its id ("<epoch>-<seq>" unless
 * custom_id), born age_ms ago. */
static struct sh_frame *event(uint64_t seq, const char *custom_id,
                              long long age_ms)
{
  char id[48], text[64];
  int n = snprintf(text, sizeof(text), "data: %llu\n\n",
                   (unsigned long long) seq);
  struct sh_frame *f;

  if (NULL == custom_id)
    snprintf(id, sizeof(id), "%d-%llu", EPOCH, (unsigned long long) seq);
  else
    snprintf(id, sizeof(id), "%s", custom_id);
  f = sh_frame_new_event((size_t) n, id, strlen(id), NULL, 0);
  ck_assert_ptr_nonnull(f);
  memcpy(f->bytes, text, (size_t) n);
  f->seq = seq;
  f->born_ms = sh_now_ms() - age_ms;
  return f;
}

/* Append events first..last (hub ids, born now) one batch at a time, as
 * the broadcaster does, and drop the caller's references. */
static void append_range(struct sh_history *h, uint64_t first, uint64_t last)
{
  uint64_t s;

  for (s = first; s <= last; s++) {
    struct sh_frame *f = event(s, NULL, 0);

    sh_history_append(h, &f, 1);
    sh_frame_unref(f);
  }
}

/* The seqs retained, oldest first, as "3,4,5". */
static void retained(struct sh_history *h, char *out, size_t cap)
{
  size_t i, off = 0;

  out[0] = '\0';
  sh_history_lock(h);
  for (i = 0; i < h->count; i++)
    off += (size_t) snprintf(out + off, cap - off, "%s%llu", i ? "," : "",
                             (unsigned long long) sh_history_at(h, i)->seq);
  sh_history_unlock(h);
}

/* Locate last_id; *from receives the index of the first frame to replay
 * and *first its seq (0 if nothing is to be replayed). */
static enum sh_resume locate(struct sh_history *h, const char *last_id,
                             size_t *from, uint64_t *first)
{
  enum sh_resume r;

  sh_history_lock(h);
  r = sh_history_locate(h, last_id, from);
  *first = *from < h->count ? sh_history_at(h, *from)->seq : 0;
  sh_history_unlock(h);
  return r;
}

static const char *hub_id(uint64_t seq)
{
  static char id[48];

  snprintf(id, sizeof(id), "%d-%llu", EPOCH, (unsigned long long) seq);
  return id;
}

/* ---- what is kept ------------------------------------------------------- */

START_TEST(test_history_append_beyond_cap_drops_oldest)
{
  struct sh_history h;
  struct sh_frame *kept, *dropped;
  char seqs[128];

  ck_assert_int_eq(0, sh_history_init(&h, 4, 0, EPOCH));
  dropped = event(1, NULL, 0);
  sh_history_append(&h, &dropped, 1);
  ck_assert_uint_eq(tl_frame_refs(dropped), 2); /* the history's own */
  append_range(&h, 2, 3);
  retained(&h, seqs, sizeof(seqs));
  ck_assert_str_eq(seqs, "1,2,3");
  append_range(&h, 4, 6);
  retained(&h, seqs, sizeof(seqs));
  ck_assert_str_eq(seqs, "3,4,5,6");
  ck_assert_uint_eq(h.newest_seq, 6);
  /* What it dropped it let go of. */
  ck_assert_uint_eq(tl_frame_refs(dropped), 1);
  sh_frame_unref(dropped);
  kept = sh_history_at(&h, 3);
  sh_frame_ref(kept);
  sh_history_destroy(&h);
  ck_assert_uint_eq(tl_frame_refs(kept), 1); /* destroy lets go too */
  sh_frame_unref(kept);
}
END_TEST

/* A reload resizes the history: shrunk, it keeps the newest frames (and
 * lets go of the others); grown, it keeps them all and takes more; 0
 * drops everything, and it can grow again from there. */
START_TEST(test_history_resize_keeps_the_newest)
{
  struct sh_history h;
  struct sh_frame *oldest;
  char seqs[128];

  ck_assert_int_eq(0, sh_history_init(&h, 4, 0, EPOCH));
  oldest = event(1, NULL, 0);
  sh_history_append(&h, &oldest, 1);
  append_range(&h, 2, 6); /* ring wrapped: 3,4,5,6 */
  append_range(&h, 7, 7);
  ck_assert_int_eq(0, sh_history_resize(&h, 2, 0));
  retained(&h, seqs, sizeof(seqs));
  ck_assert_str_eq(seqs, "6,7");
  ck_assert_int_eq(0, sh_history_resize(&h, 5, 0));
  append_range(&h, 8, 11);
  retained(&h, seqs, sizeof(seqs));
  ck_assert_str_eq(seqs, "7,8,9,10,11");
  ck_assert_int_eq(0, sh_history_resize(&h, 0, 0));
  retained(&h, seqs, sizeof(seqs));
  ck_assert_str_eq(seqs, "");
  append_range(&h, 12, 12);
  ck_assert_int_eq(0, sh_history_resize(&h, 3, 0));
  append_range(&h, 13, 14);
  retained(&h, seqs, sizeof(seqs));
  ck_assert_str_eq(seqs, "13,14");
  ck_assert_uint_eq(h.newest_seq, 14);
  ck_assert_uint_eq(tl_frame_refs(oldest), 1);
  sh_frame_unref(oldest);
  sh_history_destroy(&h);
}
END_TEST

/* A batch larger than the history keeps its newest events. */
START_TEST(test_history_batch_larger_than_cap)
{
  struct sh_frame *batch[10];
  struct sh_history h;
  char seqs[128];
  int i;

  ck_assert_int_eq(0, sh_history_init(&h, 3, 0, EPOCH));
  for (i = 0; i < 10; i++)
    batch[i] = event((uint64_t) i + 1, NULL, 0);
  sh_history_append(&h, batch, 10);
  retained(&h, seqs, sizeof(seqs));
  ck_assert_str_eq(seqs, "8,9,10");
  for (i = 0; i < 10; i++) {
    ck_assert_uint_eq(tl_frame_refs(batch[i]), i < 7 ? 1 : 2);
    sh_frame_unref(batch[i]);
  }
  sh_history_destroy(&h);
}
END_TEST

/* ---- locate ------------------------------------------------------------- */

START_TEST(test_history_locate_live_without_id)
{
  struct sh_history h;
  uint64_t first;
  size_t from;

  ck_assert_int_eq(0, sh_history_init(&h, 8, 0, EPOCH));
  append_range(&h, 1, 5);
  ck_assert_int_eq(SH_RESUME_LIVE, locate(&h, NULL, &from, &first));
  ck_assert_uint_eq(from, 5); /* nothing replayed */
  ck_assert_int_eq(SH_RESUME_LIVE, locate(&h, "", &from, &first));
  ck_assert_uint_eq(from, 5);
  sh_history_destroy(&h);
}
END_TEST

/* A retained id: replay exactly what followed it, after a wrap too. */
START_TEST(test_history_locate_from_replays_what_followed)
{
  struct sh_history h;
  uint64_t first;
  size_t from;

  ck_assert_int_eq(0, sh_history_init(&h, 4, 0, EPOCH));
  append_range(&h, 1, 6); /* retains 3..6 */
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, hub_id(4), &from, &first));
  ck_assert_uint_eq(from, 2);
  ck_assert_uint_eq(first, 5);
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, hub_id(3), &from, &first));
  ck_assert_uint_eq(first, 4);
  /* The newest: nothing to replay. */
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, hub_id(6), &from, &first));
  ck_assert_uint_eq(from, 4);
  /* The event just before the oldest retained one: everything retained
   * followed it, nothing was missed. */
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, hub_id(2), &from, &first));
  ck_assert_uint_eq(from, 0);
  ck_assert_uint_eq(first, 3);
  sh_history_destroy(&h);
}
END_TEST

/* Older than what is retained: the client missed events it cannot get. */
START_TEST(test_history_locate_expired)
{
  struct sh_history h;
  uint64_t first;
  size_t from = 99;

  ck_assert_int_eq(0, sh_history_init(&h, 4, 0, EPOCH));
  append_range(&h, 1, 6);
  ck_assert_int_eq(SH_RESUME_EXPIRED, locate(&h, hub_id(1), &from, &first));
  ck_assert_uint_eq(from, 0); /* replay all that is retained */
  ck_assert_str_eq(sh_resume_reason(SH_RESUME_EXPIRED), "expired");
  sh_history_destroy(&h);
}
END_TEST

/* An id of an earlier run of the hub (a smaller epoch): "restart". */
START_TEST(test_history_locate_restart)
{
  struct sh_history h;
  char id[48];
  uint64_t first;
  size_t from = 99;

  ck_assert_int_eq(0, sh_history_init(&h, 4, 0, EPOCH));
  append_range(&h, 1, 3);
  snprintf(id, sizeof(id), "%d-2", EPOCH - 1);
  ck_assert_int_eq(SH_RESUME_RESTART, locate(&h, id, &from, &first));
  ck_assert_uint_eq(from, 0);
  /* Even one whose seq is far ahead of this run's. */
  snprintf(id, sizeof(id), "%d-999999", EPOCH - 3600);
  ck_assert_int_eq(SH_RESUME_RESTART, locate(&h, id, &from, &first));
  ck_assert_str_eq(sh_resume_reason(SH_RESUME_RESTART), "restart");
  sh_history_destroy(&h);
}
END_TEST

/* Ids this hub never gave out: a later epoch, a seq not reached yet, and
 * text that is not a hub id at all. */
START_TEST(test_history_locate_unknown)
{
  static const char *const junk[] = { "hello",
                                      "-5",
                                      "5-",
                                      "1700000000-",
                                      "1700000000--2",
                                      "1700000000-2-3",
                                      " 1700000000-2",
                                      "1700000000-2 ",
                                      "1700000000-0x2",
                                      "+1700000000-2",
                                      "1700000000-99999999999999999999",
                                      "17000000000000000000000-1" };
  struct sh_history h;
  char id[48];
  uint64_t first;
  size_t from = 99, i;

  ck_assert_int_eq(0, sh_history_init(&h, 4, 0, EPOCH));
  append_range(&h, 1, 3);
  snprintf(id, sizeof(id), "%d-2", EPOCH + 1);
  ck_assert_int_eq(SH_RESUME_UNKNOWN, locate(&h, id, &from, &first));
  ck_assert_uint_eq(from, 0);
  ck_assert_int_eq(SH_RESUME_UNKNOWN, locate(&h, hub_id(4), &from, &first));
  for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
    ck_assert_msg(SH_RESUME_UNKNOWN == locate(&h, junk[i], &from, &first),
                  "'%s' is not unknown", junk[i]);
  ck_assert_str_eq(sh_resume_reason(SH_RESUME_UNKNOWN), "unknown");
  sh_history_destroy(&h);
}
END_TEST

/* Publisher-chosen ids are found while retained (the newest of equal ones
 * wins); once dropped they are unknown: nothing tells how old they were. */
START_TEST(test_history_locate_custom_ids)
{
  static const char *const ids[] = { "order-1", NULL, "order-2", "dup", "dup" };
  struct sh_history h;
  uint64_t first, s;
  size_t from;

  ck_assert_int_eq(0, sh_history_init(&h, 5, 0, EPOCH));
  for (s = 1; s <= 5; s++) {
    struct sh_frame *f = event(s, ids[s - 1], 0);

    sh_history_append(&h, &f, 1);
    sh_frame_unref(f);
  }
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, "order-1", &from, &first));
  ck_assert_uint_eq(first, 2);
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, "order-2", &from, &first));
  ck_assert_uint_eq(first, 4);
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, hub_id(2), &from, &first));
  ck_assert_uint_eq(first, 3);
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, "dup", &from, &first));
  ck_assert_uint_eq(from, 5);
  /* Push order-1 out. */
  append_range(&h, 6, 6);
  ck_assert_int_eq(SH_RESUME_UNKNOWN, locate(&h, "order-1", &from, &first));
  ck_assert_uint_eq(from, 0);
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, "order-2", &from, &first));
  ck_assert_uint_eq(first, 4);
  sh_history_destroy(&h);
}
END_TEST

/* With max_age_ms, locate first drops what is older; a client whose event
 * aged out missed the ones after it that aged out too. */
START_TEST(test_history_max_age_expires_old_events)
{
  struct sh_history h;
  struct sh_frame *f[4];
  uint64_t first;
  size_t from;
  char seqs[64];
  int i;

  ck_assert_int_eq(0, sh_history_init(&h, 8, 60000, EPOCH));
  f[0] = event(1, NULL, 120000);
  f[1] = event(2, "custom-2", 90000);
  f[2] = event(3, NULL, 1000);
  f[3] = event(4, NULL, 0);
  sh_history_append(&h, f, 4);
  for (i = 0; i < 4; i++)
    sh_frame_unref(f[i]);
  retained(&h, seqs, sizeof(seqs));
  ck_assert_str_eq(seqs, "1,2,3,4"); /* nothing happens until locate */
  ck_assert_int_eq(SH_RESUME_EXPIRED, locate(&h, hub_id(1), &from, &first));
  ck_assert_uint_eq(first, 3);
  retained(&h, seqs, sizeof(seqs));
  ck_assert_str_eq(seqs, "3,4");
  ck_assert_int_eq(SH_RESUME_UNKNOWN, locate(&h, "custom-2", &from, &first));
  /* Event 2's successor is retained: nothing missed. */
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, hub_id(2), &from, &first));
  ck_assert_uint_eq(first, 3);
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, hub_id(3), &from, &first));
  ck_assert_uint_eq(first, 4);
  sh_history_destroy(&h);
}
END_TEST

/* Everything aged out: the newest id means nothing was missed; an older
 * one, that something was. */
START_TEST(test_history_max_age_all_expired)
{
  struct sh_history h;
  struct sh_frame *f[2];
  uint64_t first;
  size_t from;

  ck_assert_int_eq(0, sh_history_init(&h, 8, 1000, EPOCH));
  f[0] = event(1, NULL, 5000);
  f[1] = event(2, NULL, 2000);
  sh_history_append(&h, f, 2);
  sh_frame_unref(f[0]);
  sh_frame_unref(f[1]);
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, hub_id(2), &from, &first));
  ck_assert_uint_eq(h.count, 0);
  ck_assert_uint_eq(from, 0);
  ck_assert_int_eq(SH_RESUME_EXPIRED, locate(&h, hub_id(1), &from, &first));
  ck_assert_int_eq(SH_RESUME_LIVE, locate(&h, NULL, &from, &first));
  ck_assert_uint_eq(from, 0);
  sh_history_destroy(&h);
}
END_TEST

/* --history 0: nothing is retained, but the newest seq is still known, so
 * a client that saw the newest event resumes without a notice and one
 * that did not learns it missed some. */
START_TEST(test_history_cap_0_tracks_newest_seq)
{
  struct sh_history h;
  struct sh_frame *f;
  uint64_t first;
  size_t from;

  ck_assert_int_eq(0, sh_history_init(&h, 0, 0, EPOCH));
  f = event(1, NULL, 0);
  sh_history_append(&h, &f, 1);
  ck_assert_uint_eq(tl_frame_refs(f), 1); /* not kept */
  sh_frame_unref(f);
  append_range(&h, 2, 7);
  ck_assert_uint_eq(h.count, 0);
  ck_assert_uint_eq(h.newest_seq, 7);
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, hub_id(7), &from, &first));
  ck_assert_uint_eq(from, 0);
  ck_assert_int_eq(SH_RESUME_EXPIRED, locate(&h, hub_id(6), &from, &first));
  ck_assert_int_eq(SH_RESUME_UNKNOWN, locate(&h, hub_id(8), &from, &first));
  ck_assert_int_eq(SH_RESUME_LIVE, locate(&h, NULL, &from, &first));
  sh_history_destroy(&h);
}
END_TEST

/* ---- stream ids (the Redis engine) -------------------------------------- */

/* A frame whose id is the stream id "<ms>-<n>" and seq its packed form. */
static struct sh_frame *stream_event(uint64_t ms, uint64_t n)
{
  char id[SH_STREAMID_MAX];
  uint64_t seq;
  struct sh_frame *f;

  snprintf(id, sizeof(id), "%llu-%llu", (unsigned long long) ms,
           (unsigned long long) n);
  ck_assert(sh_streamid_parse(id, &seq));
  f = sh_frame_new_event(8, id, strlen(id), NULL, 0);
  ck_assert_ptr_nonnull(f);
  memcpy(f->bytes, "data: x\n", 8);
  f->seq = seq;
  f->born_ms = sh_now_ms();
  return f;
}

START_TEST(test_streamid_parse_and_format)
{
  char buf[SH_STREAMID_MAX];
  uint64_t a, b;

  ck_assert(sh_streamid_parse("1796437335962-0", &a));
  ck_assert(sh_streamid_parse("1796437335962-1", &b));
  ck_assert_uint_lt(a, b);
  ck_assert(sh_streamid_parse("1796437335963-0", &b));
  ck_assert_uint_lt(a + 1000, b); /* a later ms sorts after any n */
  sh_streamid_format(a, buf, sizeof(buf));
  ck_assert_str_eq(buf, "1796437335962-0");
  ck_assert_uint_eq(sh_streamid_ms(a), 1796437335962ULL);
  /* Not stream ids: no part, empty parts, signs, junk, too big. */
  ck_assert(!sh_streamid_parse("1796437335962", &a));
  ck_assert(!sh_streamid_parse("-1", &a));
  ck_assert(!sh_streamid_parse("1-", &a));
  ck_assert(!sh_streamid_parse("1-2-3", &a));
  ck_assert(!sh_streamid_parse("1-+2", &a));
  ck_assert(!sh_streamid_parse("order-17", &a));
  ck_assert(!sh_streamid_parse("1-1048576", &a)); /* n over 20 bits */
  ck_assert(!sh_streamid_parse("99999999999999999-0", &a));
}
END_TEST

START_TEST(test_history_stream_ids_locate)
{
  struct sh_history h;
  uint64_t first, seq;
  size_t from;
  int i;

  ck_assert_int_eq(0, sh_history_init(&h, 3, 0, EPOCH));
  sh_history_use_stream_ids(&h);
  /* A node that has read nothing yet: any id is ahead of it. */
  ck_assert_int_eq(SH_RESUME_AHEAD, locate(&h, "1000-0", &from, &first));
  for (i = 0; i < 5; i++) { /* 1000-0 .. 1004-0; 1002..1004 kept */
    struct sh_frame *f = stream_event(1000 + (uint64_t) i, 0);

    sh_history_append(&h, &f, 1);
    sh_frame_unref(f);
  }
  /* In the window: what followed it. */
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, "1002-0", &from, &first));
  ck_assert_uint_eq(from, 1);
  sh_streamid_parse("1003-0", &seq);
  ck_assert_uint_eq(first, seq);
  /* Between two entries (not an id it holds): after it, too. */
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, "1003-7", &from, &first));
  ck_assert_uint_eq(from, 2);
  /* The newest: nothing to replay. */
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, "1004-0", &from, &first));
  ck_assert_uint_eq(from, 3);
  /* Before the window and beyond it: only Redis knows. */
  ck_assert_int_eq(SH_RESUME_OLDER, locate(&h, "1000-0", &from, &first));
  ck_assert_uint_eq(from, 3);
  ck_assert_int_eq(SH_RESUME_AHEAD, locate(&h, "1005-0", &from, &first));
  /* A publisher's id the window does not hold. */
  ck_assert_int_eq(SH_RESUME_UNKNOWN, locate(&h, "order-9", &from, &first));
  /* Notices (seq 0) are not events: not kept. */
  {
    struct sh_frame *n = tl_frame_str("event: x\ndata: y\n\n");

    n->seq = 0;
    sh_history_append(&h, &n, 1);
    ck_assert_uint_eq(tl_frame_refs(n), 1);
    sh_frame_unref(n);
  }
  /* Cleared (Redis lost the log): everything is older now. */
  sh_history_clear(&h);
  ck_assert_uint_eq(h.count, 0);
  ck_assert_int_eq(SH_RESUME_OLDER, locate(&h, "1003-0", &from, &first));
  ck_assert_int_eq(SH_RESUME_FROM, locate(&h, "1004-0", &from, &first));
  sh_history_destroy(&h);
}
END_TEST

static Suite *history_suite(void)
{
  Suite *s = suite_create("history");
  TCase *keep = tcase_create("keep");
  TCase *loc = tcase_create("locate");
  TCase *age = tcase_create("age");
  TCase *sid = tcase_create("stream_ids");

  tcase_add_test(keep, test_history_append_beyond_cap_drops_oldest);
  tcase_add_test(keep, test_history_batch_larger_than_cap);
  tcase_add_test(keep, test_history_resize_keeps_the_newest);
  tcase_add_test(keep, test_history_cap_0_tracks_newest_seq);
  suite_add_tcase(s, keep);

  tcase_add_test(loc, test_history_locate_live_without_id);
  tcase_add_test(loc, test_history_locate_from_replays_what_followed);
  tcase_add_test(loc, test_history_locate_expired);
  tcase_add_test(loc, test_history_locate_restart);
  tcase_add_test(loc, test_history_locate_unknown);
  tcase_add_test(loc, test_history_locate_custom_ids);
  suite_add_tcase(s, loc);

  tcase_add_test(age, test_history_max_age_expires_old_events);
  tcase_add_test(age, test_history_max_age_all_expired);
  suite_add_tcase(s, age);

  tcase_add_test(sid, test_streamid_parse_and_format);
  tcase_add_test(sid, test_history_stream_ids_locate);
  suite_add_tcase(s, sid);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(history_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
