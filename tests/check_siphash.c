/* check_siphash.c - unit tests for the keyed hash (src/core/siphash.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "siphash.h"

/* The reference vectors of SipHash-2-4 (vectors.h of the authors'
 * implementation): key 00 01 .. 0f, message 00 01 .. (len - 1), the
 * output read as a little-endian 64-bit number. Lengths 0-11 and 15
 * cover every tail length, with and without a whole block before it. */
static const struct {
  size_t len;
  uint64_t out;
} vectors[] = {
  { 0, 0x726fdb47dd0e0e31ull },  { 1, 0x74f839c593dc67fdull },
  { 2, 0x0d6c8009d9a94f5aull },  { 3, 0x85676696d7fb7e2dull },
  { 4, 0xcf2794e0277187b7ull },  { 5, 0x18765564cd99a68dull },
  { 6, 0xcbc9466e58fee3ceull },  { 7, 0xab0200f58b01d137ull },
  { 8, 0x93f5f5799a932462ull },  { 9, 0x9e0082df0ba9e4b0ull },
  { 10, 0x7a5dbbc594ddb9f3ull }, { 11, 0xf4b32f46226bada7ull },
  { 15, 0xa129ca6149be45e5ull },
};

START_TEST(test_siphash_reference_vectors)
{
  struct sh_hashkey k = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };
  unsigned char msg[16];
  size_t i;

  for (i = 0; i < sizeof(msg); i++)
    msg[i] = (unsigned char) i;
  for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
    ck_assert_msg(sh_siphash(&k, msg, vectors[i].len) == vectors[i].out,
                  "length %zu", vectors[i].len);
}
END_TEST

START_TEST(test_siphash_key_is_random_and_matters)
{
  struct sh_hashkey a, b;

  ck_assert_int_eq(sh_hashkey_random(&a), 0);
  ck_assert_int_eq(sh_hashkey_random(&b), 0);
  /* 128 random bits twice alike: a broken source, not chance. */
  ck_assert(a.k0 != b.k0 || a.k1 != b.k1);
  ck_assert(sh_siphash(&a, "topic", 5) != sh_siphash(&b, "topic", 5));
  ck_assert(sh_siphash(&a, "topic", 5) == sh_siphash(&a, "topic", 5));
}
END_TEST

static Suite *siphash_suite(void)
{
  Suite *s = suite_create("siphash");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, test_siphash_reference_vectors);
  tcase_add_test(tc, test_siphash_key_is_random_and_matters);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(siphash_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
