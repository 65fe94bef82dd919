/* iplimit.h - limits per client address: streams held, publishes per second.
 *
 * Purpose: --max-clients-per-ip counts the streams each address holds,
 * exactly (a table entry per address with streams, freed at zero), and
 * --publish-rate gives each address a token bucket. The buckets live in a
 * fixed-size table indexed by a hash of the address: memory stays bounded
 * whatever the number of addresses, at the price that two addresses that
 * collide share (and reset) one bucket. Both tables hash with SipHash
 * under a key drawn at init (siphash.h), so collisions cannot be aimed.
 *
 * Addresses are compared as 16-byte IPv6 addresses (IPv4 mapped), so a
 * client is the same whether it came over IPv4 or as ::ffff:a.b.c.d.
 * Behind a reverse proxy every client has the proxy's address: leave these
 * limits off there.
 *
 * Every stream is counted, limit or not, so that a limit set by a reload
 * (sh_iplimit_set()) sees the streams already open.
 *
 * Thread-safety: `lock` guards the tables; the two limits are atomics that
 * sh_iplimit_set() changes while MHD worker threads read them.
 */
#ifndef SH_IPLIMIT_H
#define SH_IPLIMIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "siphash.h"

#define SH_RATE_SLOTS 4096

struct sh_ipkey {
  uint8_t b[16];
};

struct sh_ipcount;

struct sh_ratebucket {
  struct sh_ipkey key;
  double tokens;
  long long last_ms;
  bool used;
};

struct sh_iplimit {
  pthread_mutex_t lock;
  atomic_uint max_streams;     /* 0 = no limit */
  atomic_uint rate;            /* publishes/s, 0 = no limit */
  struct sh_ipcount **buckets; /* stream counts, chained hash */
  size_t nbuckets;
  struct sh_ratebucket *rate_slots; /* guarded by lock: SH_RATE_SLOTS,
                                       allocated once a rate is set */
  struct sh_hashkey hkey;           /* immutable: the tables' secret hash key */
};

/* Returns 0, -ENOMEM, or getrandom(2)'s error for the hash key. */
int sh_iplimit_init(struct sh_iplimit *l, unsigned max_streams, unsigned rate);
void sh_iplimit_destroy(struct sh_iplimit *l);

/* Change both limits (0 = none) for what comes next; streams already
 * over a lowered limit stay. Returns 0 or -ENOMEM (nothing changed). */
int sh_iplimit_set(struct sh_iplimit *l, unsigned max_streams, unsigned rate);

/* The key of a socket address; false for families other than IPv4/6. */
bool sh_ipkey_of(const struct sockaddr *sa, struct sh_ipkey *k);

/* Whether the address is loopback (127.0.0.0/8, ::1, ::ffff:127.x.x.x). */
bool sh_ipkey_is_loopback(const struct sh_ipkey *k);

/* Count one more stream for k: 0, -EBUSY over max_streams, -ENOMEM. */
int sh_iplimit_stream_acquire(struct sh_iplimit *l, const struct sh_ipkey *k);
void sh_iplimit_stream_release(struct sh_iplimit *l, const struct sh_ipkey *k);

/* Take one publish token for k; false when over the rate. */
bool sh_iplimit_publish_allow(struct sh_iplimit *l, const struct sh_ipkey *k,
                              long long now_ms);

#endif /* SH_IPLIMIT_H */
