/* check_json.c - unit tests for the JSON writer (src/core/json.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "json.h"
#include "utf8.h"

/* The document s (n bytes) written as one string value. */
static const char *as_string(char *buf, size_t cap, const char *s, size_t n)
{
  struct sh_json j;

  sh_json_init(&j, buf, cap);
  sh_json_string_n(&j, s, n);
  ck_assert_uint_gt(sh_json_finish(&j, false), 0);
  return buf;
}

#define STR(lit) as_string(buf, sizeof(buf), (lit), sizeof(lit) - 1)

START_TEST(test_json_object_and_array)
{
  char buf[256];
  struct sh_json j;
  size_t n;

  sh_json_init(&j, buf, sizeof(buf));
  sh_json_begin_object(&j);
  sh_json_key(&j, "id");
  sh_json_string(&j, "1-2");
  sh_json_key(&j, "seq");
  sh_json_uint(&j, 18446744073709551615ull);
  sh_json_key(&j, "delta");
  sh_json_int(&j, -5);
  sh_json_key(&j, "list");
  sh_json_begin_array(&j);
  sh_json_bool(&j, true);
  sh_json_null(&j);
  sh_json_begin_object(&j);
  sh_json_end_object(&j);
  sh_json_begin_array(&j);
  sh_json_end_array(&j);
  sh_json_end_array(&j);
  sh_json_end_object(&j);
  n = sh_json_finish(&j, true);
  ck_assert_str_eq(buf, "{\"id\":\"1-2\",\"seq\":18446744073709551615,"
                        "\"delta\":-5,\"list\":[true,null,{},[]]}\n");
  ck_assert_uint_eq(n, strlen(buf));
}
END_TEST

START_TEST(test_json_escapes_what_a_parser_refuses)
{
  char buf[256];

  ck_assert_str_eq(STR("a\"b\\c"), "\"a\\\"b\\\\c\"");
  ck_assert_str_eq(STR("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  ck_assert_str_eq(STR("\x01\x1f\x7f"), "\"\\u0001\\u001f\\u007f\"");
  ck_assert_str_eq(STR("a\0b"), "\"a\\u0000b\"");
  ck_assert_str_eq(STR("/</script>"), "\"/</script>\"");
  /* Valid UTF-8 passes as it is. */
  ck_assert_str_eq(STR("caf\xc3\xa9\xf0\x9f\x98\x80"),
                   "\"caf\xc3\xa9\xf0\x9f\x98\x80\"");
}
END_TEST

START_TEST(test_json_never_emits_invalid_utf8)
{
  char buf[256];

  ck_assert_str_eq(STR("%\xff\xfe"), "\"%\\ufffd\\ufffd\"");
  ck_assert_str_eq(STR("\xc0\xaf"), "\"\\ufffd\\ufffd\""); /* overlong */
  ck_assert_str_eq(STR("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\""); /* D800 */
  ck_assert_str_eq(STR("x\xc3"), "\"x\\ufffd\"");                     /* cut */
  ck_assert(sh_utf8_valid(buf, strlen(buf)));
}
END_TEST

START_TEST(test_json_keys_are_escaped_too)
{
  char buf[64];
  struct sh_json j;

  sh_json_init(&j, buf, sizeof(buf));
  sh_json_begin_object(&j);
  sh_json_key(&j, "a\"b");
  sh_json_uint(&j, 1);
  sh_json_end_object(&j);
  ck_assert_uint_gt(sh_json_finish(&j, false), 0);
  ck_assert_str_eq(buf, "{\"a\\\"b\":1}");
}
END_TEST

START_TEST(test_json_overflow_is_no_document)
{
  char buf[16];
  struct sh_json j;
  size_t cap;

  /* Every capacity too small for the document fails whole; none writes
   * past its end. */
  for (cap = 1; cap <= sizeof("{\"k\":\"abcdef\"}\n"); cap++) {
    memset(buf, 'Z', sizeof(buf));
    sh_json_init(&j, buf, cap);
    sh_json_begin_object(&j);
    sh_json_key(&j, "k");
    sh_json_string(&j, "abcdef");
    sh_json_end_object(&j);
    if (cap < sizeof("{\"k\":\"abcdef\"}\n"))
      ck_assert_uint_eq(sh_json_finish(&j, true), 0);
    else
      ck_assert_uint_eq(sh_json_finish(&j, true), cap - 1);
    if (cap < sizeof(buf))
      ck_assert_int_eq(buf[cap], 'Z');
  }
  /* An unclosed document is no document either. */
  sh_json_init(&j, buf, sizeof(buf));
  sh_json_begin_array(&j);
  ck_assert_uint_eq(sh_json_finish(&j, false), 0);
}
END_TEST

START_TEST(test_json_string_max_cuts_whole_characters)
{
  char buf[64];
  struct sh_json j;

  sh_json_init(&j, buf, sizeof(buf));
  /* "ab" then an escape of 2 bytes then a 2-byte character: a budget of 5
   * keeps "ab\"" (4 bytes) and drops the character that would not fit. */
  sh_json_string_max(&j, "ab\"\xc3\xa9", 5, 5);
  ck_assert_uint_gt(sh_json_finish(&j, false), 0);
  ck_assert_str_eq(buf, "\"ab\\\"\"");
  sh_json_init(&j, buf, sizeof(buf));
  sh_json_string_max(&j, "\x01", 1, 5); /* \u0001 is 6: nothing */
  ck_assert_uint_gt(sh_json_finish(&j, false), 0);
  ck_assert_str_eq(buf, "\"\"");
}
END_TEST

START_TEST(test_json_escape_into_template)
{
  char out[8];

  ck_assert_uint_eq(sh_json_escape(out, sizeof(out), "a\"\xff", 3), 3);
  ck_assert_str_eq(out, "a\\\""); /* \ufffd (6) would not fit */
  ck_assert_uint_eq(sh_json_escape(out, 1, "abc", 3), 0);
  ck_assert_str_eq(out, "");
}
END_TEST

/* Random byte strings: the writer's string always is valid UTF-8 with no
 * raw control byte, and decoding its escapes gives the input back, each
 * byte that did not start a valid UTF-8 sequence as U+FFFD. */
static size_t decode_string(const char *j, size_t n, char *out)
{
  const size_t bad = (size_t) -1;
  size_t i = 1, o = 0;
  unsigned cp;

  /* No ck_assert in here: each one is a write to Check's pipe. */
  if (n < 2 || '"' != j[0] || '"' != j[n - 1])
    return bad;
  while (i < n - 1) {
    if ((unsigned char) j[i] < 0x20 || 0x7f == j[i] || '"' == j[i])
      return bad;
    if ('\\' != j[i]) {
      out[o++] = j[i++];
      continue;
    }
    switch (j[i + 1]) {
    case '"':
      out[o++] = '"';
      break;
    case '\\':
      out[o++] = '\\';
      break;
    case 'n':
      out[o++] = '\n';
      break;
    case 'r':
      out[o++] = '\r';
      break;
    case 't':
      out[o++] = '\t';
      break;
    case 'b':
      out[o++] = '\b';
      break;
    case 'f':
      out[o++] = '\f';
      break;
    case 'u':
      if (1 != sscanf(j + i + 2, "%4x", &cp))
        return bad;
      if (cp < 0x80) {
        out[o++] = (char) cp;
      } else if (0xfffd == cp) {
        memcpy(out + o, "\xef\xbf\xbd", 3);
        o += 3;
      } else {
        return bad;
      }
      i += 4;
      break;
    default:
      return bad;
    }
    i += 2;
  }
  return o;
}

START_TEST(test_json_random_bytes_round_trip)
{
  static const unsigned char pool[] = { 0x00, 0x01, 0x1f, '"',  '\\', '/',
                                        'a',  0x7f, 0x80, 0xbf, 0xc0, 0xc2,
                                        0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xed,
                                        0xa0, 0xf0, 0x9f, 0x98, 0xf4, 0x90,
                                        0xff, '\n', '\t', ' ' };
  static char in[64], buf[64 * 6 + 8], back[64 * 3 + 8], want[64 * 3 + 8];
  unsigned x = 12345;
  int round, failures = 0;

  for (round = 0; round < 20000; round++) {
    size_t n, i, w = 0, len;
    struct sh_json j;

    x = x * 1103515245u + 12345u;
    n = (x >> 16) % sizeof(in);
    for (i = 0; i < n; i++) {
      x = x * 1103515245u + 12345u;
      in[i] = (char) pool[(x >> 16) % sizeof(pool)];
    }
    sh_json_init(&j, buf, sizeof(buf));
    sh_json_string_n(&j, in, n);
    len = sh_json_finish(&j, false);
    for (i = 0; i < n;) {
      uint32_t cp;
      size_t step = sh_utf8_decode(in + i, n - i, &cp);

      if (0 == step) {
        memcpy(want + w, "\xef\xbf\xbd", 3);
        w += 3;
        i++;
      } else {
        memcpy(want + w, in + i, step);
        w += step;
        i += step;
      }
    }
    failures += 0 == len || !sh_utf8_valid(buf, len)
                || decode_string(buf, len, back) != w
                || 0 != memcmp(back, want, w);
  }
  ck_assert_int_eq(failures, 0);
}
END_TEST

static Suite *json_suite(void)
{
  Suite *s = suite_create("json");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, test_json_object_and_array);
  tcase_add_test(tc, test_json_escapes_what_a_parser_refuses);
  tcase_add_test(tc, test_json_never_emits_invalid_utf8);
  tcase_add_test(tc, test_json_keys_are_escaped_too);
  tcase_add_test(tc, test_json_overflow_is_no_document);
  tcase_add_test(tc, test_json_string_max_cuts_whole_characters);
  tcase_add_test(tc, test_json_escape_into_template);
  tcase_add_test(tc, test_json_random_bytes_round_trip);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(json_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
