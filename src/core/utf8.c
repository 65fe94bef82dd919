/* utf8.c - strict UTF-8 validation (see utf8.h). */
#include "config.h"

#include <string.h>

#include "utf8.h"

size_t sh_utf8_decode(const char *str, size_t n, uint32_t *cp)
{
  const unsigned char *s = (const unsigned char *) str;
  size_t len, i;
  uint32_t c;

  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  /* 0xc0, 0xc1 and 0xf5-0xff start only overlong or out-of-range forms. */
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    len = 2, c = s[0] & 0x1f;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    len = 3, c = s[0] & 0x0f;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    len = 4, c = s[0] & 0x07;
  else
    return 0;
  if (n < len)
    return 0;
  for (i = 1; i < len; i++) {
    if (0x80 != (s[i] & 0xc0))
      return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  if ((3 == len && c < 0x800) || (4 == len && c < 0x10000)
      || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
    return 0;
  *cp = c;
  return len;
}

bool sh_utf8_valid(const char *s, size_t n)
{
  size_t i = 0, step;
  uint32_t cp;

  while (i < n) {
    /* ASCII, most of any text, 8 bytes at a time (every publish's data
     * is checked: keep it cheap). */
    if (n - i >= 8) {
      uint64_t w;

      memcpy(&w, s + i, 8);
      if (0 == (w & 0x8080808080808080ull)) {
        i += 8;
        continue;
      }
    }
    if ((unsigned char) s[i] < 0x80) {
      i++;
      continue;
    }
    step = sh_utf8_decode(s + i, n - i, &cp);
    if (0 == step)
      return false;
    i += step;
  }
  return true;
}

static bool is_control(uint32_t cp)
{
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

enum sh_text sh_text_check(const char *s, size_t n)
{
  bool control = false;
  size_t i = 0, step;
  uint32_t cp;

  while (i < n) {
    step = sh_utf8_decode(s + i, n - i, &cp);
    if (0 == step)
      return SH_TEXT_BAD_UTF8;
    control = control || is_control(cp);
    i += step;
  }
  return control ? SH_TEXT_CONTROL : SH_TEXT_OK;
}
