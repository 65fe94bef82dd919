/* check_form.c - unit tests for urlencoded form parsing (src/form.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "form.h"

#define MAX_FIELDS 8

struct parsed {
  char buf[256]; /* the body, decoded in place */
  struct sh_form_field f[MAX_FIELDS];
  int rc;
};

/* Parse a copy of text (with the spare byte form.h asks for, and a guard
 * byte after it that must survive) into p, allowing max fields. The bytes
 * past the body are hex digits, so reading beyond the body while decoding
 * a truncated escape would go unnoticed as an error. */
static void parse(struct parsed *p, const char *text, size_t len, size_t max)
{
  ck_assert_uint_lt(len + 2, sizeof(p->buf));
  memset(p->buf, 'A', sizeof(p->buf));
  memcpy(p->buf, text, len);
  memset(p->f, 0, sizeof(p->f));
  p->rc = sh_form_parse(p->buf, len, p->f, max);
  ck_assert_int_eq(p->buf[len + 1], 'A');
}

/* Field i has exactly key and value (given with lengths), NUL-terminated. */
static void expect_field(const struct parsed *p, int i, const char *key,
                         size_t key_len, const char *val, size_t val_len)
{
  const struct sh_form_field *f = &p->f[i];

  ck_assert_uint_eq(f->key_len, key_len);
  ck_assert_mem_eq(f->key, key, key_len);
  ck_assert_int_eq(f->key[key_len], '\0');
  ck_assert_uint_eq(f->val_len, val_len);
  ck_assert_ptr_nonnull(f->val);
  if (val_len > 0)
    ck_assert_mem_eq(f->val, val, val_len);
  ck_assert_int_eq(f->val[val_len], '\0');
  /* Fields point into the caller's buffer. */
  ck_assert(f->key >= p->buf && f->key < p->buf + sizeof(p->buf));
  ck_assert(f->val >= p->buf && f->val < p->buf + sizeof(p->buf));
}

#define PARSE(p, lit, max) parse((p), (lit), sizeof(lit) - 1, (max))

/* ---- core ---------------------------------------------------------------- */

START_TEST(test_form_two_fields)
{
  struct parsed p;

  PARSE(&p, "data=hello&event=x", MAX_FIELDS);
  ck_assert_int_eq(p.rc, 2);
  expect_field(&p, 0, "data", 4, "hello", 5);
  expect_field(&p, 1, "event", 5, "x", 1);
  ck_assert_str_eq(p.f[0].key, "data");
  ck_assert_str_eq(p.f[0].val, "hello");
  ck_assert_str_eq(p.f[1].key, "event");
  ck_assert_str_eq(p.f[1].val, "x");
}
END_TEST

START_TEST(test_form_plus_is_space)
{
  struct parsed p;

  PARSE(&p, "data=a+b++c&k+1=+", MAX_FIELDS);
  ck_assert_int_eq(p.rc, 2);
  expect_field(&p, 0, "data", 4, "a b  c", 6);
  expect_field(&p, 1, "k 1", 3, " ", 1);
}
END_TEST

START_TEST(test_form_percent_decoding)
{
  struct parsed p;

  PARSE(&p, "data=x%0Ay%0d%0az&%41%62c=%41%4a%4F%7e", MAX_FIELDS);
  ck_assert_int_eq(p.rc, 2);
  expect_field(&p, 0, "data", 4, "x\ny\r\nz", 6);
  expect_field(&p, 1, "Abc", 3, "AJO~", 4);

  /* A decoded '+', '&' or '=' is data, not syntax. */
  PARSE(&p, "a=%2B%26b%3D1", MAX_FIELDS);
  ck_assert_int_eq(p.rc, 1);
  expect_field(&p, 0, "a", 1, "+&b=1", 5);

  /* Bytes >= 0x80 decode as themselves. */
  PARSE(&p, "e=caf%C3%A9%ff", MAX_FIELDS);
  ck_assert_int_eq(p.rc, 1);
  expect_field(&p, 0, "e", 1, "caf\xc3\xa9\xff", 6);
}
END_TEST

START_TEST(test_form_nul_in_value)
{
  struct parsed p;

  PARSE(&p, "data=a%00b&id=1", MAX_FIELDS);
  ck_assert_int_eq(p.rc, 2);
  expect_field(&p, 0, "data", 4, "a\0b", 3);
  expect_field(&p, 1, "id", 2, "1", 1);
}
END_TEST

START_TEST(test_form_empty_body)
{
  struct parsed p;

  PARSE(&p, "", MAX_FIELDS);
  ck_assert_int_eq(p.rc, 0);
  PARSE(&p, "&&&", MAX_FIELDS);
  ck_assert_int_eq(p.rc, 0);
  PARSE(&p, "", 0);
  ck_assert_int_eq(p.rc, 0);
}
END_TEST

START_TEST(test_form_skips_empty_pairs)
{
  struct parsed p;

  PARSE(&p, "a=1&&b=2&", MAX_FIELDS);
  ck_assert_int_eq(p.rc, 2);
  expect_field(&p, 0, "a", 1, "1", 1);
  expect_field(&p, 1, "b", 1, "2", 1);

  PARSE(&p, "&a=1", MAX_FIELDS);
  ck_assert_int_eq(p.rc, 1);
  expect_field(&p, 0, "a", 1, "1", 1);
}
END_TEST

START_TEST(test_form_key_without_value)
{
  struct parsed p;

  PARSE(&p, "flag&a=1&last", MAX_FIELDS);
  ck_assert_int_eq(p.rc, 3);
  expect_field(&p, 0, "flag", 4, "", 0);
  ck_assert_str_eq(p.f[0].val, "");
  expect_field(&p, 1, "a", 1, "1", 1);
  expect_field(&p, 2, "last", 4, "", 0);
  ck_assert_str_eq(p.f[2].val, "");

  /* "k=" has an empty value too; "=v" an empty key. */
  PARSE(&p, "k=&=v", MAX_FIELDS);
  ck_assert_int_eq(p.rc, 2);
  expect_field(&p, 0, "k", 1, "", 0);
  expect_field(&p, 1, "", 0, "v", 1);
}
END_TEST

START_TEST(test_form_value_contains_equals)
{
  struct parsed p;

  PARSE(&p, "a=b=c&d==", MAX_FIELDS);
  ck_assert_int_eq(p.rc, 2);
  expect_field(&p, 0, "a", 1, "b=c", 3);
  expect_field(&p, 1, "d", 1, "=", 1);
}
END_TEST

/* ---- errors -------------------------------------------------------------- */

START_TEST(test_form_bad_percent_is_einval)
{
  struct parsed p;

  PARSE(&p, "a=%", MAX_FIELDS);
  ck_assert_int_eq(p.rc, -EINVAL);
  PARSE(&p, "a=%4", MAX_FIELDS);
  ck_assert_int_eq(p.rc, -EINVAL);
  PARSE(&p, "a=%zz", MAX_FIELDS);
  ck_assert_int_eq(p.rc, -EINVAL);
  PARSE(&p, "a=%4g", MAX_FIELDS);
  ck_assert_int_eq(p.rc, -EINVAL);
  PARSE(&p, "a=%g4", MAX_FIELDS);
  ck_assert_int_eq(p.rc, -EINVAL);
  /* Truncated escapes before a separator do not borrow the next pair. */
  PARSE(&p, "a=%4&b=1", MAX_FIELDS);
  ck_assert_int_eq(p.rc, -EINVAL);
  PARSE(&p, "a=%&41", MAX_FIELDS);
  ck_assert_int_eq(p.rc, -EINVAL);
  /* In keys as well as values, and in pairs after valid ones. */
  PARSE(&p, "%zz=1", MAX_FIELDS);
  ck_assert_int_eq(p.rc, -EINVAL);
  PARSE(&p, "ok=1&k%=2", MAX_FIELDS);
  ck_assert_int_eq(p.rc, -EINVAL);
  PARSE(&p, "ok=1&%", MAX_FIELDS);
  ck_assert_int_eq(p.rc, -EINVAL);
}
END_TEST

START_TEST(test_form_too_many_fields)
{
  struct parsed p;

  PARSE(&p, "a=1&b=2&c=3", 2);
  ck_assert_int_eq(p.rc, -E2BIG);
  PARSE(&p, "a", 0);
  ck_assert_int_eq(p.rc, -E2BIG);
  /* Exactly max is fine, and empty pairs do not count. */
  PARSE(&p, "a=1&b=2", 2);
  ck_assert_int_eq(p.rc, 2);
  PARSE(&p, "a=1&&b=2&&", 2);
  ck_assert_int_eq(p.rc, 2);
  expect_field(&p, 1, "b", 1, "2", 1);
}
END_TEST

static Suite *form_suite(void)
{
  Suite *s = suite_create("form");
  TCase *core = tcase_create("core");
  TCase *errors = tcase_create("errors");

  tcase_add_test(core, test_form_two_fields);
  tcase_add_test(core, test_form_plus_is_space);
  tcase_add_test(core, test_form_percent_decoding);
  tcase_add_test(core, test_form_nul_in_value);
  tcase_add_test(core, test_form_empty_body);
  tcase_add_test(core, test_form_skips_empty_pairs);
  tcase_add_test(core, test_form_key_without_value);
  tcase_add_test(core, test_form_value_contains_equals);
  suite_add_tcase(s, core);

  tcase_add_test(errors, test_form_bad_percent_is_einval);
  tcase_add_test(errors, test_form_too_many_fields);
  suite_add_tcase(s, errors);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(form_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
