/* check_pubfields.c - unit tests for the publish fields' checks
 * (src/core/pubfields.h): the one-line reasons that name the field, and
 * ssehub_publish()'s checks (sh_event_check()) agreeing with them. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "pubfields.h"

/* Apply a form body (a copy: it is decoded in place) and finish. */
static const char *form(struct sh_pubfields *f, char *buf, size_t cap,
                        const char *body)
{
  size_t n = strlen(body);

  ck_assert_uint_lt(n + 1, cap);
  memcpy(buf, body, n + 1);
  sh_pubfields_init(f);
  sh_pubfields_from_form(f, buf, n);
  sh_pubfields_finish(f);
  return f->bad;
}

#define FORM(body) form(&f, buf, sizeof(buf), (body))

START_TEST(test_pubfields_reasons_name_the_field)
{
  struct sh_pubfields f;
  char buf[512];

  ck_assert_ptr_null(FORM("data=x&id=caf%C3%A9&event=%E2%82%AC&topic=a"));
  ck_assert_str_eq(FORM("data=x&id=%FF%FE"), "id is not valid UTF-8\n");
  ck_assert_str_eq(FORM("data=x&id=a%09b"), "id holds a control character\n");
  ck_assert_str_eq(FORM("data=x&id=a%0Ab"), "id holds a control character\n");
  ck_assert_str_eq(FORM("data=x&id=a%00b"), "id holds a control character\n");
  ck_assert_str_eq(FORM("data=x&id=%C0%AF"), "id is not valid UTF-8\n");
  ck_assert_str_eq(FORM("data=x&id="), "field id must be 1-256 bytes\n");
  ck_assert_str_eq(FORM("data=x&event=%ED%A0%80"),
                   "event is not valid UTF-8\n");
  ck_assert_str_eq(FORM("data=x&event=%1B%5B2J"),
                   "event holds a control character\n");
  ck_assert_str_eq(FORM("data=x&topic=%F4%90%80%80"),
                   "topic is not valid UTF-8\n");
  ck_assert_str_eq(FORM("data=x&topic=a%C2%85"),
                   "topic holds a control character\n");
  ck_assert_str_eq(FORM("data=%FF"), "data is not valid UTF-8\n");
  /* Data may hold control characters: it is the publisher's text. */
  ck_assert_ptr_null(FORM("data=a%09b%00c%1B"));
}
END_TEST

START_TEST(test_pubfields_last_event_id)
{
  ck_assert_ptr_null(sh_field_check(SH_FIELD_LAST_ID, "1-2", 3));
  ck_assert_ptr_null(sh_field_check(SH_FIELD_LAST_ID, "", 0));
  ck_assert_str_eq(sh_field_check(SH_FIELD_LAST_ID, "\xff", 1),
                   "Last-Event-ID is not valid UTF-8\n");
  ck_assert_str_eq(sh_field_check(SH_FIELD_LAST_ID, "a\x7f", 2),
                   "Last-Event-ID holds a control character\n");
}
END_TEST

/* The library's door refuses what the HTTP one does. */
START_TEST(test_pubfields_event_check_agrees)
{
  const char *bad_topic[] = { "ok", "t\xff" };
  const char *star[] = { "*" };
  struct ssehub_event ev = { .data = "x", .data_len = 1, .retry = -1 };

  ck_assert_ptr_null(sh_event_check(&ev));
  ev.id = "\xff\xfe";
  ck_assert_str_eq(sh_event_check(&ev), "id is not valid UTF-8\n");
  ev.id = "ok";
  ev.event = "a\tb";
  ck_assert_str_eq(sh_event_check(&ev), "event holds a control character\n");
  ev.event = NULL;
  ev.topics = bad_topic;
  ev.ntopics = 2;
  ck_assert_str_eq(sh_event_check(&ev), "topic is not valid UTF-8\n");
  ev.topics = star;
  ev.ntopics = 1;
  ck_assert_ptr_nonnull(sh_event_check(&ev));
  ev.ntopics = 0;
  ev.data = "caf\xc3";
  ev.data_len = 4;
  ck_assert_str_eq(sh_event_check(&ev), "data is not valid UTF-8\n");
  ev.data_len = 3; /* the length, not the NUL, ends data */
  ck_assert_ptr_null(sh_event_check(&ev));
}
END_TEST

static Suite *pubfields_suite(void)
{
  Suite *s = suite_create("pubfields");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, test_pubfields_reasons_name_the_field);
  tcase_add_test(tc, test_pubfields_last_event_id);
  tcase_add_test(tc, test_pubfields_event_check_agrees);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(pubfields_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
