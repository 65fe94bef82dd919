/* iplimit.c - limits per client address (see iplimit.h). */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "iplimit.h"
#include "siphash.h"
#include "sync.h"

#define COUNT_BUCKETS 4096

struct sh_ipcount {
  struct sh_ipkey key;
  unsigned streams;
  struct sh_ipcount *next;
};

/* Addresses are chosen by clients too (an IPv6 client has a /64 of them):
 * keyed SipHash, so that no one can aim at one bucket or rate slot. */
static size_t hash(const struct sh_iplimit *l, const struct sh_ipkey *k)
{
  return (size_t) sh_siphash(&l->hkey, k->b, sizeof(k->b));
}

int sh_iplimit_init(struct sh_iplimit *l, unsigned max_streams, unsigned rate)
{
  int rc;

  memset(l, 0, sizeof(*l));
  atomic_init(&l->max_streams, max_streams);
  atomic_init(&l->rate, rate);
  rc = sh_hashkey_random(&l->hkey);
  if (0 != rc)
    return rc;
  l->buckets = calloc(COUNT_BUCKETS, sizeof(*l->buckets));
  if (NULL == l->buckets)
    return -ENOMEM;
  l->nbuckets = COUNT_BUCKETS;
  if (rate > 0) {
    l->rate_slots = calloc(SH_RATE_SLOTS, sizeof(*l->rate_slots));
    if (NULL == l->rate_slots) {
      free(l->buckets);
      return -ENOMEM;
    }
  }
  sh_mutex_init(&l->lock);
  return 0;
}

int sh_iplimit_set(struct sh_iplimit *l, unsigned max_streams, unsigned rate)
{
  int rc = 0;

  sh_mutex_lock(&l->lock);
  if (rate > 0 && NULL == l->rate_slots) {
    l->rate_slots = calloc(SH_RATE_SLOTS, sizeof(*l->rate_slots));
    if (NULL == l->rate_slots)
      rc = -ENOMEM;
  }
  if (0 == rc) {
    atomic_store(&l->max_streams, max_streams);
    atomic_store(&l->rate, rate);
  }
  sh_mutex_unlock(&l->lock);
  return rc;
}

void sh_iplimit_destroy(struct sh_iplimit *l)
{
  size_t i;

  for (i = 0; i < l->nbuckets; i++) {
    struct sh_ipcount *c = l->buckets[i], *next;

    for (; NULL != c; c = next) {
      next = c->next;
      free(c);
    }
  }
  free(l->buckets);
  free(l->rate_slots);
  sh_mutex_destroy(&l->lock);
}

bool sh_ipkey_of(const struct sockaddr *sa, struct sh_ipkey *k)
{
  memset(k, 0, sizeof(*k));
  if (NULL == sa)
    return false;
  if (AF_INET == sa->sa_family) {
    const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

    k->b[10] = k->b[11] = 0xff;
    memcpy(k->b + 12, &in->sin_addr, 4);
    return true;
  }
  if (AF_INET6 == sa->sa_family) {
    memcpy(k->b, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
    return true;
  }
  return false;
}

bool sh_ipkey_is_loopback(const struct sh_ipkey *k)
{
  static const uint8_t mapped[12] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
  };
  static const uint8_t one[16] = { 0, 0, 0, 0, 0, 0, 0, 0,
                                   0, 0, 0, 0, 0, 0, 0, 1 };

  if (0 == memcmp(k->b, mapped, 12))
    return 127 == k->b[12];
  return 0 == memcmp(k->b, one, 16);
}

int sh_iplimit_stream_acquire(struct sh_iplimit *l, const struct sh_ipkey *k)
{
  struct sh_ipcount **head, *c;
  unsigned max = atomic_load(&l->max_streams);
  int rc = 0;

  sh_mutex_lock(&l->lock);
  head = &l->buckets[hash(l, k) & (l->nbuckets - 1)];
  for (c = *head; NULL != c && 0 != memcmp(&c->key, k, sizeof(*k)); c = c->next)
    ;
  if (NULL == c) {
    c = calloc(1, sizeof(*c));
    if (NULL == c) {
      rc = -ENOMEM;
      goto out;
    }
    c->key = *k;
    c->next = *head;
    *head = c;
  }
  if (max > 0 && c->streams >= max)
    rc = -EBUSY;
  else
    c->streams++;
out:
  sh_mutex_unlock(&l->lock);
  return rc;
}

void sh_iplimit_stream_release(struct sh_iplimit *l, const struct sh_ipkey *k)
{
  struct sh_ipcount **pp, *c;

  sh_mutex_lock(&l->lock);
  for (pp = &l->buckets[hash(l, k) & (l->nbuckets - 1)]; NULL != (c = *pp);
       pp = &c->next) {
    if (0 != memcmp(&c->key, k, sizeof(*k)))
      continue;
    if (c->streams > 0)
      c->streams--;
    if (0 == c->streams) {
      *pp = c->next;
      free(c);
    }
    break;
  }
  sh_mutex_unlock(&l->lock);
}

bool sh_iplimit_publish_allow(struct sh_iplimit *l, const struct sh_ipkey *k,
                              long long now_ms)
{
  struct sh_ratebucket *b;
  unsigned rate = atomic_load(&l->rate);
  bool ok;

  if (0 == rate)
    return true;
  sh_mutex_lock(&l->lock);
  b = &l->rate_slots[hash(l, k) % SH_RATE_SLOTS];
  if (!b->used || 0 != memcmp(&b->key, k, sizeof(*k))) {
    b->used = true;
    b->key = *k;
    b->tokens = rate;
    b->last_ms = now_ms;
  }
  /* Refill at `rate` per second, up to a burst of `rate`. */
  b->tokens += (double) (now_ms - b->last_ms) * rate / 1000.0;
  if (b->tokens > rate)
    b->tokens = rate;
  b->last_ms = now_ms;
  ok = b->tokens >= 1.0;
  if (ok)
    b->tokens -= 1.0;
  sh_mutex_unlock(&l->lock);
  return ok;
}
