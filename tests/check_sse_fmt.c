/* check_sse_fmt.c - unit tests for the event-stream formatter (sse_fmt.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "sse_fmt.h"

#define CANARY ((char) 0x5a)

/* Format ev into a buffer of exactly sh_fmt_event_size(ev) bytes plus a
 * canary, check the size/return agreement and the canary, and return the
 * malloc'd bytes (NUL-terminated for convenience) with *len set. */
static char *format_event(const struct sh_event *ev, size_t *len)
{
  size_t size = sh_fmt_event_size(ev);
  char *out = malloc(size + 2);
  size_t n;

  ck_assert_ptr_nonnull(out);
  memset(out, CANARY, size + 2);
  n = sh_fmt_event(ev, out);
  ck_assert_uint_eq(n, size);
  ck_assert_int_eq(out[size], CANARY);
  ck_assert_int_eq(out[size + 1], CANARY);
  out[size] = '\0';
  *len = n;
  return out;
}

/* Format ev and compare with the exact expected text. */
static void expect_event(const struct sh_event *ev, const char *want)
{
  size_t len;
  char *got = format_event(ev, &len);

  ck_assert_msg(len == strlen(want) && 0 == memcmp(got, want, len),
                "got \"%s\" (%zu bytes), want \"%s\" (%zu bytes)", got, len,
                want, strlen(want));
  free(got);
}

static void expect_data(const char *data, size_t len, const char *want)
{
  struct sh_event ev = { data, len, NULL, NULL, -1 };

  expect_event(&ev, want);
}

/* ---- core ---------------------------------------------------------------- */

START_TEST(test_sse_fmt_simple_data)
{
  expect_data("hi", 2, "data: hi\n\n");
}
END_TEST

START_TEST(test_sse_fmt_multiline_lf)
{
  expect_data("a\nb", 3, "data: a\ndata: b\n\n");
  expect_data("a\nb\nc", 5, "data: a\ndata: b\ndata: c\n\n");
}
END_TEST

START_TEST(test_sse_fmt_cr_and_crlf_are_breaks)
{
  expect_data("a\r\nb", 4, "data: a\ndata: b\n\n");
  expect_data("a\rb", 3, "data: a\ndata: b\n\n");
  expect_data("a\r\r\nb", 5, "data: a\ndata:\ndata: b\n\n");
  expect_data("a\n\rb", 4, "data: a\ndata:\ndata: b\n\n");
  expect_data("a\n\nb", 4, "data: a\ndata:\ndata: b\n\n");
}
END_TEST

START_TEST(test_sse_fmt_trailing_break)
{
  expect_data("a\n", 2, "data: a\ndata:\n\n");
  expect_data("a\r", 2, "data: a\ndata:\n\n");
  expect_data("a\r\n", 3, "data: a\ndata:\n\n");
  expect_data("\n", 1, "data:\ndata:\n\n");
  expect_data("\r\n", 2, "data:\ndata:\n\n");
}
END_TEST

START_TEST(test_sse_fmt_empty_data)
{
  expect_data(NULL, 0, "data:\n\n");
  expect_data("", 0, "data:\n\n");
}
END_TEST

START_TEST(test_sse_fmt_fields_order)
{
  struct sh_event ev = { "d", 1, "x", "7", 3000 };

  expect_event(&ev, "event: x\nid: 7\nretry: 3000\ndata: d\n\n");

  ev.event = NULL;
  expect_event(&ev, "id: 7\nretry: 3000\ndata: d\n\n");
  ev.id = NULL;
  ev.retry = 0;
  expect_event(&ev, "retry: 0\ndata: d\n\n");
  ev.retry = -1;
  ev.event = "update";
  expect_event(&ev, "event: update\ndata: d\n\n");
  /* An empty id is a real field (it resets the last event id). */
  ev.event = NULL;
  ev.id = "";
  expect_event(&ev, "id: \ndata: d\n\n");
}
END_TEST

START_TEST(test_sse_fmt_bytes_preserved)
{
  /* One space is added after "data:"; the data's own space survives. */
  expect_data(" lead", 5, "data:  lead\n\n");
  expect_data("k: v", 4, "data: k: v\n\n");
  expect_data(":x", 2, "data: :x\n\n");
  expect_data("tab\there ", 9, "data: tab\there \n\n");
  expect_data("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
              "data: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n\n");
}
END_TEST

START_TEST(test_sse_fmt_large_single_line)
{
  size_t n = 64 * 1024;
  char *data = malloc(n);
  struct sh_event ev;
  size_t len;
  char *got;

  ck_assert_ptr_nonnull(data);
  memset(data, 'q', n);
  data[0] = 'A';
  data[n - 1] = 'Z';
  ev.data = data;
  ev.data_len = n;
  ev.event = NULL;
  ev.id = NULL;
  ev.retry = -1;
  got = format_event(&ev, &len);
  ck_assert_uint_eq(len, 6 + n + 2);
  ck_assert_mem_eq(got, "data: A", 7);
  ck_assert_mem_eq(got + 6, data, n);
  ck_assert_mem_eq(got + 6 + n - 1, "Z\n\n", 3);
  free(got);
  free(data);
}
END_TEST

START_TEST(test_sse_fmt_field_ok)
{
  ck_assert(sh_fmt_field_ok("update", 6));
  ck_assert(sh_fmt_field_ok("a b:c\t\xc3\xa9", 8));
  ck_assert(sh_fmt_field_ok("", 0));
  ck_assert(!sh_fmt_field_ok("a\nb", 3));
  ck_assert(!sh_fmt_field_ok("a\rb", 3));
  ck_assert(!sh_fmt_field_ok("a\0b", 3));
  ck_assert(!sh_fmt_field_ok("\n", 1));
  ck_assert(!sh_fmt_field_ok("abc\r", 4));
  ck_assert(!sh_fmt_field_ok("\0", 1));
  /* Only the first len bytes are examined. */
  ck_assert(sh_fmt_field_ok("ab\n", 2));
}
END_TEST

START_TEST(test_sse_fmt_comment)
{
  char buf[16];
  size_t n;

  memset(buf, CANARY, sizeof(buf));
  ck_assert_uint_eq(sh_fmt_comment_size(2), 5);
  n = sh_fmt_comment("ok", 2, buf);
  ck_assert_uint_eq(n, 5);
  ck_assert_mem_eq(buf, ":ok\n\n", 5);
  ck_assert_int_eq(buf[5], CANARY);

  memset(buf, CANARY, sizeof(buf));
  ck_assert_uint_eq(sh_fmt_comment_size(0), 3);
  n = sh_fmt_comment("", 0, buf);
  ck_assert_uint_eq(n, 3);
  ck_assert_mem_eq(buf, ":\n\n", 3);
  ck_assert_int_eq(buf[3], CANARY);
}
END_TEST

/* ---- property ------------------------------------------------------------ */

/* A minimal event-stream parser after WHATWG HTML §9.2.6, for one event:
 * split at CRLF, CR or LF; for "data" fields strip one leading space from
 * the value and join the values with LF. Returns the data length. Also
 * checks that the frame ends with exactly one blank line and has no other
 * blank line (so it dispatches exactly one event). */
static size_t parse_data(const char *s, size_t len, char *out)
{
  size_t pos = 0, n = 0;
  int lines = 0, blanks = 0;
  int dispatched = 0;

  while (pos < len) {
    size_t start = pos, end, colon;

    while (pos < len && '\r' != s[pos] && '\n' != s[pos])
      pos++;
    end = pos;
    ck_assert_msg(pos < len, "frame does not end with a line break");
    if ('\r' == s[pos] && pos + 1 < len && '\n' == s[pos + 1])
      pos += 2;
    else
      pos += 1;
    if (end == start) {
      blanks++;
      dispatched = 1;
      continue;
    }
    ck_assert_msg(!dispatched, "field after the blank line");
    for (colon = start; colon < end && ':' != s[colon]; colon++)
      ;
    if (colon == start)
      continue; /* comment */
    if (colon - start == 4 && 0 == memcmp(s + start, "data", 4)) {
      size_t v = colon < end ? colon + 1 : end;

      if (v < end && ' ' == s[v])
        v++;
      if (lines++ > 0)
        out[n++] = '\n';
      memcpy(out + n, s + v, end - v);
      n += end - v;
    }
  }
  ck_assert_int_eq(blanks, 1);
  ck_assert_int_ge(lines, 1);
  return n;
}

/* data with every CRLF and lone CR replaced by LF. */
static size_t normalise(const char *s, size_t len, char *out)
{
  size_t i, n = 0;

  for (i = 0; i < len; i++) {
    if ('\r' == s[i]) {
      out[n++] = '\n';
      if (i + 1 < len && '\n' == s[i + 1])
        i++;
    } else {
      out[n++] = s[i];
    }
  }
  return n;
}

START_TEST(test_sse_fmt_roundtrip_random)
{
  static const char alphabet[] = { '\r', '\n', 'a', ' ', ':', 'b', '\r' };
  char data[64];
  char want[64];
  char got[512];
  unsigned iter;

  srand(12345);
  for (iter = 0; iter < 20000; iter++) {
    struct sh_event ev = { data, 0, NULL, NULL, -1 };
    size_t len = (size_t) rand() % sizeof(data);
    size_t i, flen, wlen, glen;
    char *frame;

    for (i = 0; i < len; i++)
      data[i] = alphabet[(size_t) rand() % sizeof(alphabet)];
    ev.data_len = len;
    if (0 == iter % 3)
      ev.id = "42";
    if (0 == iter % 5)
      ev.event = "ev";
    frame = format_event(&ev, &flen);
    ck_assert_uint_lt(flen, sizeof(got));
    glen = parse_data(frame, flen, got);
    wlen = normalise(data, len, want);
    ck_assert_msg(glen == wlen && 0 == memcmp(got, want, wlen),
                  "iteration %u: round trip of %zu bytes gave %zu bytes, "
                  "want %zu",
                  iter, len, glen, wlen);
    free(frame);
  }
}
END_TEST

static Suite *sse_fmt_suite(void)
{
  Suite *s = suite_create("sse_fmt");
  TCase *core = tcase_create("core");
  TCase *property = tcase_create("property");

  tcase_add_test(core, test_sse_fmt_simple_data);
  tcase_add_test(core, test_sse_fmt_multiline_lf);
  tcase_add_test(core, test_sse_fmt_cr_and_crlf_are_breaks);
  tcase_add_test(core, test_sse_fmt_trailing_break);
  tcase_add_test(core, test_sse_fmt_empty_data);
  tcase_add_test(core, test_sse_fmt_fields_order);
  tcase_add_test(core, test_sse_fmt_bytes_preserved);
  tcase_add_test(core, test_sse_fmt_large_single_line);
  tcase_add_test(core, test_sse_fmt_field_ok);
  tcase_add_test(core, test_sse_fmt_comment);
  suite_add_tcase(s, core);

  tcase_add_test(property, test_sse_fmt_roundtrip_random);
  suite_add_tcase(s, property);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(sse_fmt_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
