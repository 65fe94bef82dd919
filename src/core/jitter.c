/* jitter.c - spread reconnection delays (see jitter.h). */
#include "config.h"

#include <stdint.h>
#include <sys/random.h>
#include <time.h>

#include "jitter.h"

static _Thread_local uint64_t state;

/* A thread's first draw: 8 bytes from the kernel; should getrandom()
 * fail (a seccomp filter, a very old kernel), the clock and the state's
 * own address, which differ between threads and runs. Never zero, which
 * would stick xorshift at zero. */
static void seed(void)
{
  struct timespec ts;

  if (sizeof(state) != getrandom(&state, sizeof(state), GRND_NONBLOCK)) {
    clock_gettime(CLOCK_MONOTONIC, &ts);
    state = ((uint64_t) ts.tv_sec << 32) ^ (uint64_t) ts.tv_nsec
            ^ (uint64_t) (uintptr_t) &state;
  }
  if (0 == state)
    state = UINT64_C(0x9e3779b97f4a7c15);
}

/* xorshift64* (Vigna): 64-bit state, good enough for spreading load. */
static uint64_t next(void)
{
  if (0 == state)
    seed();
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * UINT64_C(2685821657736338717);
}

unsigned sh_jitter_ms(unsigned base_ms, bool off)
{
  uint64_t span = (uint64_t) base_ms / 2 * 2 + 1; /* values in the window */

  if (off || base_ms < 2)
    return base_ms;
  /* The high 32 bits, scaled without division bias worth a thought
   * (span < 2^33). */
  return base_ms - base_ms / 2 + (unsigned) (((next() >> 32) * span) >> 32);
}
