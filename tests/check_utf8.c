/* check_utf8.c - unit tests for strict UTF-8 validation (src/core/utf8.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "utf8.h"

#define VALID(lit) sh_utf8_valid((lit), sizeof(lit) - 1)
#define CHECK(lit) sh_text_check((lit), sizeof(lit) - 1)

START_TEST(test_utf8_accepts_every_length)
{
  uint32_t cp = 0;

  ck_assert(VALID(""));
  ck_assert(VALID("plain ascii"));
  ck_assert(VALID("caf\xc3\xa9"));      /* U+00E9 */
  ck_assert(VALID("\xe2\x82\xac"));     /* U+20AC */
  ck_assert(VALID("\xf0\x9f\x98\x80")); /* U+1F600 */
  ck_assert(VALID("\xf4\x8f\xbf\xbf")); /* U+10FFFF, the last */
  ck_assert(VALID("\xed\x9f\xbf"));     /* U+D7FF */
  ck_assert(VALID("\xee\x80\x80"));     /* U+E000 */
  ck_assert(VALID("\xef\xbf\xbd"));     /* U+FFFD */
  ck_assert_uint_eq(sh_utf8_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
  ck_assert_uint_eq(cp, 0x1f600);
  ck_assert_uint_eq(sh_utf8_decode("\xc2\x80", 2, &cp), 2);
  ck_assert_uint_eq(cp, 0x80);
}
END_TEST

START_TEST(test_utf8_refuses_overlongs)
{
  ck_assert(!VALID("\xc0\xaf")); /* '/' in two bytes */
  ck_assert(!VALID("\xc1\xbf"));
  ck_assert(!VALID("\xe0\x80\xaf"));     /* '/' in three */
  ck_assert(!VALID("\xe0\x9f\xbf"));     /* U+07FF in three */
  ck_assert(!VALID("\xf0\x80\x80\xaf")); /* '/' in four */
  ck_assert(!VALID("\xf0\x8f\xbf\xbf")); /* U+FFFF in four */
  ck_assert(!VALID("\xc0\x80"));         /* "modified UTF-8" NUL */
}
END_TEST

START_TEST(test_utf8_refuses_surrogates_and_beyond)
{
  ck_assert(!VALID("\xed\xa0\x80"));             /* U+D800 */
  ck_assert(!VALID("\xed\xbf\xbf"));             /* U+DFFF */
  ck_assert(!VALID("\xed\xa0\xbd\xed\xb8\x80")); /* a CESU-8 pair */
  ck_assert(!VALID("\xf4\x90\x80\x80"));         /* U+110000 */
  ck_assert(!VALID("\xf5\x80\x80\x80"));
  ck_assert(!VALID("\xff"));
  ck_assert(!VALID("\xfe"));
}
END_TEST

START_TEST(test_utf8_refuses_broken_sequences)
{
  ck_assert(!VALID("\x80")); /* a lone continuation byte */
  ck_assert(!VALID("a\xbf"));
  ck_assert(!VALID("\xc3")); /* cut at the end */
  ck_assert(!VALID("\xe2\x82"));
  ck_assert(!VALID("\xf0\x9f\x98"));
  ck_assert(!VALID("\xc3(x")); /* a lead without continuation */
  ck_assert(!VALID("\xe2\x28\xa1"));
  /* Past the 8-byte ASCII steps: a bad byte anywhere, a sequence across
   * a step's edge. */
  ck_assert(!VALID("0123456789abcdef\xff"));
  ck_assert(!VALID("01234567\x80"));
  ck_assert(VALID("0123456\xc3\xa9"
                  "89abcdef\xe2\x82\xac"
                  "0123456789"));
  ck_assert(!VALID("0123456\xc3"
                   "0123456789abcdef"));
  /* The length bounds the read: the byte after n is not looked at. */
  ck_assert(!sh_utf8_valid("\xc3\xa9", 1));
  ck_assert(sh_utf8_valid("ok\xff", 2));
}
END_TEST

START_TEST(test_utf8_field_controls)
{
  ck_assert_int_eq(CHECK("order-42"), SH_TEXT_OK);
  ck_assert_int_eq(CHECK("caf\xc3\xa9 \xf0\x9f\x98\x80"), SH_TEXT_OK);
  ck_assert_int_eq(CHECK("a\tb"), SH_TEXT_CONTROL);
  ck_assert_int_eq(CHECK("a\nb"), SH_TEXT_CONTROL);
  ck_assert_int_eq(CHECK("a\rb"), SH_TEXT_CONTROL);
  ck_assert_int_eq(sh_text_check("a\0b", 3), SH_TEXT_CONTROL);
  ck_assert_int_eq(CHECK("\x1b[31m"), SH_TEXT_CONTROL); /* ESC */
  ck_assert_int_eq(CHECK("del\x7f"), SH_TEXT_CONTROL);
  ck_assert_int_eq(CHECK("c1\xc2\x85"), SH_TEXT_CONTROL); /* U+0085 NEL */
  ck_assert_int_eq(CHECK("c1\xc2\x9f"), SH_TEXT_CONTROL);
  ck_assert_int_eq(CHECK("nbsp\xc2\xa0"), SH_TEXT_OK); /* U+00A0 */
  /* Invalid UTF-8 is named first, wherever the control character is. */
  ck_assert_int_eq(CHECK("\n\xff"), SH_TEXT_BAD_UTF8);
  ck_assert_int_eq(CHECK("%\xff\xfe"), SH_TEXT_BAD_UTF8);
}
END_TEST

/* Every 1- and 2-byte string agrees with a decoder written from the table
 * of RFC 3629 section 4 (well-formed byte sequences). */
static bool rfc_valid2(const unsigned char *b, size_t n)
{
  if (1 == n)
    return b[0] < 0x80;
  if (b[0] < 0x80)
    return b[1] < 0x80;
  return b[0] >= 0xc2 && b[0] <= 0xdf && b[1] >= 0x80 && b[1] <= 0xbf;
}

START_TEST(test_utf8_exhaustive_two_bytes)
{
  unsigned a, b;

  for (a = 0; a < 256; a++) {
    unsigned char s[2] = { (unsigned char) a, 0 };

    ck_assert_int_eq(sh_utf8_valid((char *) s, 1), rfc_valid2(s, 1));
    for (b = 0; b < 256; b++) {
      s[1] = (unsigned char) b;
      ck_assert_int_eq(sh_utf8_valid((char *) s, 2), rfc_valid2(s, 2));
    }
  }
}
END_TEST

static Suite *utf8_suite(void)
{
  Suite *s = suite_create("utf8");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, test_utf8_accepts_every_length);
  tcase_add_test(tc, test_utf8_refuses_overlongs);
  tcase_add_test(tc, test_utf8_refuses_surrogates_and_beyond);
  tcase_add_test(tc, test_utf8_refuses_broken_sequences);
  tcase_add_test(tc, test_utf8_field_controls);
  tcase_add_test(tc, test_utf8_exhaustive_two_bytes);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(utf8_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
