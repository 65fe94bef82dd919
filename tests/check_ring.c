/* check_ring.c - unit tests for the per-client frame ring (src/core/ring.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "frame.h"
#include "ring.h"
#include "testlib.h"

/* ---- core ---------------------------------------------------------------- */

START_TEST(test_ring_init_rejects_bad_bounds)
{
  struct sh_ring r;

  ck_assert_int_eq(sh_ring_init(&r, 3, 8, 100), -EINVAL);
  ck_assert_int_eq(sh_ring_init(&r, 4, 12, 100), -EINVAL);
  ck_assert_int_eq(sh_ring_init(&r, 0, 8, 100), -EINVAL);
  ck_assert_int_eq(sh_ring_init(&r, 4, 0, 100), -EINVAL);
  ck_assert_int_eq(sh_ring_init(&r, 16, 8, 100), -EINVAL);
  ck_assert_int_eq(sh_ring_init(&r, 4, 8, 0), -EINVAL);

  ck_assert_int_eq(sh_ring_init(&r, 1, 1, 1), 0);
  ck_assert_uint_eq(r.mask + 1, 1);
  sh_ring_destroy(&r);
  ck_assert_int_eq(sh_ring_init(&r, 8, 8, 100), 0);
  ck_assert_uint_eq(r.mask + 1, 8);
  ck_assert(sh_ring_empty(&r));
  ck_assert_uint_eq(sh_ring_count(&r), 0);
  ck_assert_uint_eq(sh_ring_pending(&r), 0);
  sh_ring_destroy(&r);
}
END_TEST

START_TEST(test_ring_empty_drain_returns_zero)
{
  struct sh_ring r;
  char buf[16];

  memset(buf, 'x', sizeof(buf));
  ck_assert_int_eq(sh_ring_init(&r, 4, 16, 1024), 0);
  ck_assert_uint_eq(sh_ring_drain(&r, buf, sizeof(buf)), 0);
  ck_assert_int_eq(buf[0], 'x');
  ck_assert(sh_ring_empty(&r));
  sh_ring_destroy(&r);
}
END_TEST

START_TEST(test_ring_push_drain_in_order)
{
  struct sh_ring r;
  struct sh_frame *a = tl_frame_str("data: one\n\n");
  struct sh_frame *b = tl_frame_str("data: two\n\n");
  struct sh_frame *c = tl_frame_str("data: three\n\n");
  const char *want = "data: one\n\ndata: two\n\ndata: three\n\n";
  char buf[128];
  size_t n;

  ck_assert_int_eq(sh_ring_init(&r, 4, 16, 1024), 0);
  ck_assert_int_eq(sh_ring_push(&r, a), 0);
  ck_assert_int_eq(sh_ring_push(&r, b), 0);
  ck_assert_int_eq(sh_ring_push(&r, c), 0);
  ck_assert_uint_eq(sh_ring_count(&r), 3);
  ck_assert_uint_eq(sh_ring_pending(&r), strlen(want));

  n = sh_ring_drain(&r, buf, sizeof(buf));
  ck_assert_uint_eq(n, strlen(want));
  ck_assert_mem_eq(buf, want, n);
  ck_assert(sh_ring_empty(&r));
  ck_assert_uint_eq(sh_ring_pending(&r), 0);
  ck_assert_uint_eq(sh_ring_drain(&r, buf, sizeof(buf)), 0);

  sh_ring_destroy(&r);
  sh_frame_unref(a);
  sh_frame_unref(b);
  sh_frame_unref(c);
}
END_TEST

START_TEST(test_ring_partial_drain_splits_frames)
{
  struct sh_ring r;
  struct sh_frame *a = tl_frame_str("abcdefg"); /* 7 bytes */
  struct sh_frame *b = tl_frame_str("HIJKL");   /* 5 bytes */
  char buf[16];
  char out[16];
  size_t got = 0, n;

  ck_assert_int_eq(sh_ring_init(&r, 4, 16, 1024), 0);
  ck_assert_int_eq(sh_ring_push(&r, a), 0);
  ck_assert_int_eq(sh_ring_push(&r, b), 0);
  ck_assert_uint_eq(sh_ring_pending(&r), 12);

  n = sh_ring_drain(&r, buf, 3);
  ck_assert_uint_eq(n, 3);
  ck_assert_mem_eq(buf, "abc", 3);
  ck_assert_uint_eq(sh_ring_pending(&r), 9);
  ck_assert_uint_eq(r.off, 3);
  ck_assert_uint_eq(sh_ring_count(&r), 2);
  ck_assert_uint_eq(tl_frame_refs(a), 2); /* still queued */
  memcpy(out + got, buf, n);
  got += n;

  /* Crosses the frame boundary: rest of a, start of b. */
  n = sh_ring_drain(&r, buf, 6);
  ck_assert_uint_eq(n, 6);
  ck_assert_mem_eq(buf, "defgHI", 6);
  ck_assert_uint_eq(sh_ring_pending(&r), 3);
  ck_assert_uint_eq(sh_ring_count(&r), 1);
  ck_assert_uint_eq(r.off, 2);
  ck_assert_uint_eq(tl_frame_refs(a), 1); /* a was sent completely */
  ck_assert_uint_eq(tl_frame_refs(b), 2);
  memcpy(out + got, buf, n);
  got += n;

  /* Exactly the remainder. */
  n = sh_ring_drain(&r, buf, 3);
  ck_assert_uint_eq(n, 3);
  ck_assert_mem_eq(buf, "JKL", 3);
  memcpy(out + got, buf, n);
  got += n;
  ck_assert(sh_ring_empty(&r));
  ck_assert_uint_eq(sh_ring_pending(&r), 0);
  ck_assert_uint_eq(r.off, 0);
  ck_assert_uint_eq(tl_frame_refs(b), 1);
  ck_assert_uint_eq(got, 12);
  ck_assert_mem_eq(out, "abcdefgHIJKL", 12);

  /* max == 0 copies nothing and changes nothing. */
  ck_assert_int_eq(sh_ring_push(&r, a), 0);
  ck_assert_uint_eq(sh_ring_drain(&r, buf, 0), 0);
  ck_assert_uint_eq(sh_ring_pending(&r), 7);
  ck_assert_uint_eq(sh_ring_count(&r), 1);

  sh_ring_destroy(&r);
  ck_assert_uint_eq(tl_frame_refs(a), 1);
  sh_frame_unref(a);
  sh_frame_unref(b);
}
END_TEST

START_TEST(test_ring_wraps_around_in_order)
{
  struct sh_ring r;
  struct sh_frame *fr[10];
  unsigned next_push = 0, next_pop = 0;
  size_t i;
  char buf[64];

  for (i = 0; i < 10; i++) {
    char text[8];

    snprintf(text, sizeof(text), "<%zu>", i);
    fr[i] = tl_frame_str(text); /* 3 bytes each */
  }
  ck_assert_int_eq(sh_ring_init(&r, 4, 4, 1024), 0);
  /* Keep the ring between 1 and 4 frames deep while the free-running
   * indices run far past the capacity. */
  for (i = 0; i < 1000; i++) {
    unsigned k, push = 1 + (unsigned) (i % 3);

    for (k = 0; k < push && sh_ring_count(&r) < 4; k++) {
      ck_assert_int_eq(sh_ring_push(&r, fr[next_push % 10]), 0);
      next_push++;
    }
    /* Drain one frame and a half, alternating, checking the bytes. */
    while (sh_ring_count(&r) > 1) {
      char want[8];
      size_t n;

      snprintf(want, sizeof(want), "<%u>", next_pop % 10);
      n = sh_ring_drain(&r, buf, 2);
      ck_assert_uint_eq(n, 2);
      ck_assert_mem_eq(buf, want, 2);
      n = sh_ring_drain(&r, buf, 1);
      ck_assert_uint_eq(n, 1);
      ck_assert_mem_eq(buf, want + 2, 1);
      next_pop++;
    }
    ck_assert_uint_eq(r.mask + 1, 4);
  }
  ck_assert_uint_gt(next_push, 4 * 100);
  ck_assert_uint_eq(sh_ring_pending(&r), 3 * sh_ring_count(&r));
  sh_ring_destroy(&r);
  for (i = 0; i < 10; i++) {
    ck_assert_uint_eq(tl_frame_refs(fr[i]), 1);
    sh_frame_unref(fr[i]);
  }
}
END_TEST

START_TEST(test_ring_refs_taken_and_dropped)
{
  struct sh_ring r;
  struct sh_frame *a = tl_frame_str("aaaa");
  struct sh_frame *b = tl_frame_str("bb");
  char buf[16];

  ck_assert_int_eq(sh_ring_init(&r, 2, 8, 1024), 0);
  ck_assert_uint_eq(tl_frame_refs(a), 1);
  ck_assert_int_eq(sh_ring_push(&r, a), 0);
  ck_assert_uint_eq(tl_frame_refs(a), 2);
  ck_assert_int_eq(sh_ring_push(&r, a), 0);
  ck_assert_uint_eq(tl_frame_refs(a), 3);
  ck_assert_int_eq(sh_ring_push(&r, b), 0);
  ck_assert_uint_eq(tl_frame_refs(b), 2);

  /* Draining the first copy of a releases exactly one reference. */
  ck_assert_uint_eq(sh_ring_drain(&r, buf, 4), 4);
  ck_assert_uint_eq(tl_frame_refs(a), 2);
  /* A partial drain releases nothing. */
  ck_assert_uint_eq(sh_ring_drain(&r, buf, 1), 1);
  ck_assert_uint_eq(tl_frame_refs(a), 2);

  sh_ring_clear(&r);
  ck_assert_uint_eq(tl_frame_refs(a), 1);
  ck_assert_uint_eq(tl_frame_refs(b), 1);
  ck_assert(sh_ring_empty(&r));
  ck_assert_uint_eq(sh_ring_pending(&r), 0);
  ck_assert_uint_eq(r.off, 0);
  ck_assert_uint_eq(sh_ring_drain(&r, buf, sizeof(buf)), 0);

  /* The ring is usable after a clear, from offset 0. */
  ck_assert_int_eq(sh_ring_push(&r, b), 0);
  ck_assert_uint_eq(sh_ring_drain(&r, buf, sizeof(buf)), 2);
  ck_assert_mem_eq(buf, "bb", 2);
  ck_assert_uint_eq(tl_frame_refs(b), 1);

  /* destroy drops what is still queued. */
  ck_assert_int_eq(sh_ring_push(&r, a), 0);
  ck_assert_int_eq(sh_ring_push(&r, b), 0);
  sh_ring_destroy(&r);
  ck_assert_uint_eq(tl_frame_refs(a), 1);
  ck_assert_uint_eq(tl_frame_refs(b), 1);
  sh_frame_unref(a);
  sh_frame_unref(b);
}
END_TEST

/* ---- limits -------------------------------------------------------------- */

START_TEST(test_ring_grows_to_max_slots_then_refuses)
{
  struct sh_ring r;
  struct sh_frame *fr[16];
  struct sh_frame *extra = tl_frame_str("X");
  char buf[64];
  size_t i, n;

  ck_assert_int_eq(sh_ring_init(&r, 2, 16, 1024), 0);
  for (i = 0; i < 16; i++) {
    char text[4];

    text[0] = (char) ('a' + i);
    text[1] = '\0';
    fr[i] = tl_frame_str(text);
  }
  for (i = 0; i < 16; i++) {
    ck_assert_int_eq(sh_ring_push(&r, fr[i]), 0);
    ck_assert_uint_eq(sh_ring_count(&r), i + 1);
    /* capacity is the smallest power of two >= count, at least 2 */
    if (i + 1 <= 2)
      ck_assert_uint_eq(r.mask + 1, 2);
    else if (i + 1 <= 4)
      ck_assert_uint_eq(r.mask + 1, 4);
    else if (i + 1 <= 8)
      ck_assert_uint_eq(r.mask + 1, 8);
    else
      ck_assert_uint_eq(r.mask + 1, 16);
  }
  ck_assert_int_eq(sh_ring_push(&r, extra), -ENOBUFS);
  ck_assert_uint_eq(tl_frame_refs(extra), 1);
  ck_assert_uint_eq(sh_ring_count(&r), 16);
  ck_assert_uint_eq(sh_ring_pending(&r), 16);
  ck_assert_uint_eq(r.mask + 1, 16);

  n = sh_ring_drain(&r, buf, sizeof(buf));
  ck_assert_uint_eq(n, 16);
  ck_assert_mem_eq(buf, "abcdefghijklmnop", 16);
  for (i = 0; i < 16; i++)
    ck_assert_uint_eq(tl_frame_refs(fr[i]), 1);
  sh_ring_destroy(&r);
  for (i = 0; i < 16; i++)
    sh_frame_unref(fr[i]);
  sh_frame_unref(extra);
}
END_TEST

START_TEST(test_ring_growth_keeps_order_after_wrap)
{
  struct sh_ring r;
  struct sh_frame *fr[6];
  char buf[16];
  size_t i;

  for (i = 0; i < 6; i++) {
    char text[2] = { (char) ('0' + i), '\0' };

    fr[i] = tl_frame_str(text);
  }
  ck_assert_int_eq(sh_ring_init(&r, 4, 8, 1024), 0);
  /* Move head to slot 3 so the queued frames wrap in the array. */
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(sh_ring_push(&r, fr[5]), 0);
  ck_assert_uint_eq(sh_ring_drain(&r, buf, 3), 3);
  for (i = 0; i < 5; i++)
    ck_assert_int_eq(sh_ring_push(&r, fr[i]), 0); /* 5th push grows */
  ck_assert_uint_eq(r.mask + 1, 8);
  ck_assert_uint_eq(sh_ring_drain(&r, buf, sizeof(buf)), 5);
  ck_assert_mem_eq(buf, "01234", 5);
  sh_ring_destroy(&r);
  for (i = 0; i < 6; i++) {
    ck_assert_uint_eq(tl_frame_refs(fr[i]), 1);
    sh_frame_unref(fr[i]);
  }
}
END_TEST

START_TEST(test_ring_byte_limit_refuses)
{
  struct sh_ring r;
  struct sh_frame *f40 = tl_frame_fill('a', 40);
  struct sh_frame *f20 = tl_frame_fill('b', 20);
  struct sh_frame *f21 = tl_frame_fill('c', 21);
  char buf[128];

  ck_assert_int_eq(sh_ring_init(&r, 4, 64, 60), 0);
  ck_assert_int_eq(sh_ring_push(&r, f40), 0);
  /* 40 + 21 > 60: refused, ring unchanged. */
  ck_assert_int_eq(sh_ring_push(&r, f21), -ENOBUFS);
  ck_assert_uint_eq(tl_frame_refs(f21), 1);
  ck_assert_uint_eq(sh_ring_count(&r), 1);
  ck_assert_uint_eq(sh_ring_pending(&r), 40);
  /* 40 + 20 == 60: exactly at the limit is accepted. */
  ck_assert_int_eq(sh_ring_push(&r, f20), 0);
  ck_assert_uint_eq(sh_ring_pending(&r), 60);
  ck_assert_int_eq(sh_ring_push(&r, f20), -ENOBUFS);
  ck_assert_uint_eq(tl_frame_refs(f20), 2);

  /* Partial drain frees budget by the bytes sent, not whole frames. */
  ck_assert_uint_eq(sh_ring_drain(&r, buf, 21), 21);
  ck_assert_uint_eq(sh_ring_pending(&r), 39);
  ck_assert_int_eq(sh_ring_push(&r, f21), 0);
  ck_assert_uint_eq(sh_ring_pending(&r), 60);

  ck_assert_uint_eq(sh_ring_drain(&r, buf, sizeof(buf)), 60);
  ck_assert_mem_eq(buf, "aaaaaaaaaaaaaaaaaaa", 19);
  ck_assert_int_eq(buf[19], 'b');
  ck_assert_int_eq(buf[38], 'b');
  ck_assert_int_eq(buf[39], 'c');
  ck_assert_int_eq(buf[59], 'c');
  sh_ring_destroy(&r);
  ck_assert_uint_eq(tl_frame_refs(f40), 1);
  ck_assert_uint_eq(tl_frame_refs(f20), 1);
  ck_assert_uint_eq(tl_frame_refs(f21), 1);
  sh_frame_unref(f40);
  sh_frame_unref(f20);
  sh_frame_unref(f21);
}
END_TEST

START_TEST(test_ring_empty_accepts_oversized_frame)
{
  struct sh_ring r;
  struct sh_frame *big = tl_frame_fill('z', 500);
  struct sh_frame *one = tl_frame_fill('y', 1);
  char buf[600];
  size_t n, got = 0;

  ck_assert_int_eq(sh_ring_init(&r, 2, 4, 100), 0);
  ck_assert_int_eq(sh_ring_push(&r, big), 0);
  ck_assert_uint_eq(sh_ring_pending(&r), 500);
  /* Not empty any more: even one byte is over the limit. */
  ck_assert_int_eq(sh_ring_push(&r, one), -ENOBUFS);
  ck_assert_int_eq(sh_ring_push(&r, big), -ENOBUFS);
  ck_assert_uint_eq(sh_ring_count(&r), 1);
  ck_assert_uint_eq(sh_ring_pending(&r), 500);
  ck_assert_uint_eq(tl_frame_refs(big), 2);
  ck_assert_uint_eq(tl_frame_refs(one), 1);

  while ((n = sh_ring_drain(&r, buf + got, 128)) > 0)
    got += n;
  ck_assert_uint_eq(got, 500);
  ck_assert_int_eq(buf[0], 'z');
  ck_assert_int_eq(buf[499], 'z');
  ck_assert_uint_eq(tl_frame_refs(big), 1);
  /* Empty again: the oversized frame is accepted once more. */
  ck_assert_int_eq(sh_ring_push(&r, big), 0);
  sh_ring_destroy(&r);
  ck_assert_uint_eq(tl_frame_refs(big), 1);
  sh_frame_unref(big);
  sh_frame_unref(one);
}
END_TEST

START_TEST(test_ring_unchanged_after_refused_push)
{
  struct sh_ring r;
  struct sh_frame *a = tl_frame_str("0123456789");
  struct sh_frame *b = tl_frame_str("abcdefghij");
  struct sh_ring before;
  char buf[64];

  ck_assert_int_eq(sh_ring_init(&r, 2, 2, 1000), 0);
  ck_assert_int_eq(sh_ring_push(&r, a), 0);
  ck_assert_int_eq(sh_ring_push(&r, b), 0);
  ck_assert_uint_eq(sh_ring_drain(&r, buf, 4), 4);
  before = r;
  /* slot limit */
  ck_assert_int_eq(sh_ring_push(&r, a), -ENOBUFS);
  ck_assert_ptr_eq(r.slots, before.slots);
  ck_assert_uint_eq(r.mask, before.mask);
  ck_assert_uint_eq(r.head, before.head);
  ck_assert_uint_eq(r.tail, before.tail);
  ck_assert_uint_eq(r.off, before.off);
  ck_assert_uint_eq(r.pending, before.pending);
  ck_assert_uint_eq(tl_frame_refs(a), 2);
  ck_assert_uint_eq(tl_frame_refs(b), 2);
  ck_assert_uint_eq(sh_ring_drain(&r, buf, sizeof(buf)), 16);
  ck_assert_mem_eq(buf, "456789abcdefghij", 16);
  sh_ring_destroy(&r);

  /* byte limit */
  ck_assert_int_eq(sh_ring_init(&r, 2, 8, 15), 0);
  ck_assert_int_eq(sh_ring_push(&r, a), 0);
  ck_assert_uint_eq(sh_ring_drain(&r, buf, 2), 2);
  before = r;
  ck_assert_int_eq(sh_ring_push(&r, b), -ENOBUFS);
  ck_assert_ptr_eq(r.slots, before.slots);
  ck_assert_uint_eq(r.mask, before.mask);
  ck_assert_uint_eq(r.head, before.head);
  ck_assert_uint_eq(r.tail, before.tail);
  ck_assert_uint_eq(r.off, before.off);
  ck_assert_uint_eq(r.pending, before.pending);
  ck_assert_uint_eq(tl_frame_refs(b), 1);
  ck_assert_uint_eq(sh_ring_drain(&r, buf, sizeof(buf)), 8);
  ck_assert_mem_eq(buf, "23456789", 8);
  sh_ring_destroy(&r);
  sh_frame_unref(a);
  sh_frame_unref(b);
}
END_TEST

START_TEST(test_ring_shrinks_after_drain)
{
  struct sh_ring r;
  struct sh_frame *f = tl_frame_str("xy");
  char buf[64];
  size_t i;

  ck_assert_int_eq(sh_ring_init(&r, 2, 32, 1024), 0);
  for (i = 0; i < 20; i++)
    ck_assert_int_eq(sh_ring_push(&r, f), 0);
  ck_assert_uint_eq(r.mask + 1, 32);
  ck_assert_uint_eq(tl_frame_refs(f), 21);

  /* Not drained completely yet: keeps the large array. */
  ck_assert_uint_eq(sh_ring_drain(&r, buf, 39), 39);
  ck_assert_uint_eq(sh_ring_count(&r), 1);
  ck_assert_uint_eq(r.mask + 1, 32);
  ck_assert_uint_eq(sh_ring_drain(&r, buf, sizeof(buf)), 1);
  ck_assert(sh_ring_empty(&r));
  ck_assert_uint_eq(r.mask + 1, 2);
  ck_assert_uint_eq(tl_frame_refs(f), 1);

  /* Works normally after shrinking, and can grow again. */
  for (i = 0; i < 5; i++)
    ck_assert_int_eq(sh_ring_push(&r, f), 0);
  ck_assert_uint_eq(r.mask + 1, 8);
  ck_assert_uint_eq(sh_ring_drain(&r, buf, sizeof(buf)), 10);
  ck_assert_mem_eq(buf, "xyxyxyxyxy", 10);
  ck_assert_uint_eq(r.mask + 1, 2);
  sh_ring_destroy(&r);
  ck_assert_uint_eq(tl_frame_refs(f), 1);
  sh_frame_unref(f);
}
END_TEST

static Suite *ring_suite(void)
{
  Suite *s = suite_create("ring");
  TCase *core = tcase_create("core");
  TCase *limits = tcase_create("limits");

  tcase_add_test(core, test_ring_init_rejects_bad_bounds);
  tcase_add_test(core, test_ring_empty_drain_returns_zero);
  tcase_add_test(core, test_ring_push_drain_in_order);
  tcase_add_test(core, test_ring_partial_drain_splits_frames);
  tcase_add_test(core, test_ring_wraps_around_in_order);
  tcase_add_test(core, test_ring_refs_taken_and_dropped);
  suite_add_tcase(s, core);

  tcase_add_test(limits, test_ring_grows_to_max_slots_then_refuses);
  tcase_add_test(limits, test_ring_growth_keeps_order_after_wrap);
  tcase_add_test(limits, test_ring_byte_limit_refuses);
  tcase_add_test(limits, test_ring_empty_accepts_oversized_frame);
  tcase_add_test(limits, test_ring_unchanged_after_refused_push);
  tcase_add_test(limits, test_ring_shrinks_after_drain);
  suite_add_tcase(s, limits);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(ring_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
