/* siphash.h - a keyed hash for every table keyed by client input.
 *
 * Purpose: topic names and client addresses are chosen by clients, so a
 * table indexed by a fixed, public hash of them (FNV-1a, say) can be fed
 * keys that all land in one bucket, turning each lookup into a walk of
 * every entry. SipHash (Aumasson and Bernstein, 2012) with a secret
 * per-process key drawn from getrandom(2) makes such collisions
 * impossible to compute from outside. SipHash-2-4, the reference
 * variant, whose published test vectors tests/check_siphash.c checks.
 *
 * Usage: a table keeps a struct sh_hashkey, fills it once with
 * sh_hashkey_random() when it is created, and indexes buckets with
 * sh_siphash(&key, bytes, len) & (nbuckets - 1).
 *
 * No allocation, no locks. Thread-safety: reentrant; a key is read-only
 * once drawn.
 */
#ifndef SH_SIPHASH_H
#define SH_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct sh_hashkey {
  uint64_t k0, k1;
};

/* Draw a key from the kernel's random source (getrandom(2), which waits
 * only at early boot, before the pool is first seeded). Returns 0 or a
 * negative errno. */
int sh_hashkey_random(struct sh_hashkey *k);

/* SipHash-2-4 of data[0..n) under k. */
uint64_t sh_siphash(const struct sh_hashkey *k, const void *data, size_t n);

#endif /* SH_SIPHASH_H */
