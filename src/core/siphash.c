/* siphash.c - SipHash-2-4 and its key (see siphash.h). */
#include "config.h"

#include <errno.h>
#include <sys/random.h>

#include "siphash.h"

int sh_hashkey_random(struct sh_hashkey *k)
{
  unsigned char *p = (unsigned char *) k;
  size_t got = 0;

  while (got < sizeof(*k)) {
    ssize_t n = getrandom(p + got, sizeof(*k) - got, 0);

    if (n < 0) {
      if (EINTR == errno)
        continue;
      return -errno;
    }
    got += (size_t) n;
  }
  return 0;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND       \
  do {                 \
    v0 += v1;          \
    v1 = ROTL(v1, 13); \
    v1 ^= v0;          \
    v0 = ROTL(v0, 32); \
    v2 += v3;          \
    v3 = ROTL(v3, 16); \
    v3 ^= v2;          \
    v0 += v3;          \
    v3 = ROTL(v3, 21); \
    v3 ^= v0;          \
    v2 += v1;          \
    v1 = ROTL(v1, 17); \
    v1 ^= v2;          \
    v2 = ROTL(v2, 32); \
  } while (0)

/* Little-endian load of 8 bytes, whatever the host's order. */
static uint64_t load64(const unsigned char *p)
{
  uint64_t v = 0;
  int i;

  for (i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

uint64_t sh_siphash(const struct sh_hashkey *k, const void *data, size_t n)
{
  const unsigned char *in = data, *end = in + (n & ~(size_t) 7);
  uint64_t v0 = 0x736f6d6570736575ull ^ k->k0;
  uint64_t v1 = 0x646f72616e646f6dull ^ k->k1;
  uint64_t v2 = 0x6c7967656e657261ull ^ k->k0;
  uint64_t v3 = 0x7465646279746573ull ^ k->k1;
  uint64_t b = (uint64_t) n << 56, m;
  size_t left = n & 7;

  for (; in != end; in += 8) {
    m = load64(in);
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  /* The last 0-7 bytes, with the length in the top byte. */
  while (left > 0) {
    left--;
    b |= (uint64_t) in[left] << (8 * left);
  }
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}
