/* addr.h - client addresses: CIDRs, address literals, and the real client
 * behind a trusted reverse proxy (X-Forwarded-For, RFC 7239 Forwarded).
 *
 * Purpose: the one place that decides which address a request comes from.
 * Every use of a client's address (per-IP limits, the publish rate,
 * loopback-only publishing and admin access, the access log) takes the
 * address that sh_addr_resolve() gives, through the HTTP adapter's
 * sh_http_client_key() (conn.h); nothing else reads the peer address.
 *
 * Addresses are struct sh_ipkey (iplimit.h): 16 bytes, IPv4 as the mapped
 * ::ffff:a.b.c.d. So an IPv4 client is the same client whether it reached
 * an IPv4 socket or a dual-stack IPv6 one, and a CIDR written in IPv4
 * ("10.0.0.0/8") matches both. sh_ipkey_format() prints a mapped address
 * as plain IPv4.
 *
 * The rule (README, "Behind a proxy"): only when the peer is in a trusted
 * network are the headers read; then the client is the right-most address
 * of the chain that is not itself trusted (each proxy appends the address
 * it saw, so everything left of the last untrusted hop could have been
 * written by the client). X-Forwarded-For is used when present (every
 * common proxy appends it), else Forwarded's for= parameters. A hop that
 * is not an address (for=unknown, an obfuscated _name, garbage, a field
 * that does not parse, more than SH_FWD_MAX_HOPS hops or SH_FWD_MAX_FIELDS
 * header lines) makes the client the peer itself: a limit then falls on
 * the proxy rather than on an address someone may have made up. A chain
 * whose every hop is trusted gives its left-most hop.
 *
 * Parsing is bounded: one forward pass over each header field, no
 * allocation, at most SH_FWD_MAX_HOPS hops remembered (the right-most).
 *
 * Thread-safety: pure functions over caller-owned memory.
 */
#ifndef SH_ADDR_H
#define SH_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "iplimit.h"

/* Room for any address sh_ipkey_format() writes, with its NUL. */
#define SH_ADDR_STRLEN 46

/* The most --trusted-proxy networks. */
#define SH_MAX_TRUSTED 64

/* Header lines of one kind and hops in a chain that are looked at; more
 * makes the client the peer (no real chain of proxies is that long). */
#define SH_FWD_MAX_FIELDS 8
#define SH_FWD_MAX_HOPS 32

/* A network: net's first bits bits (IPv4 networks have 96 + n bits). */
struct sh_cidr {
  struct sh_ipkey net;
  unsigned bits;
};

/* Parse "ADDR/N" or a bare "ADDR" (one host), ADDR an IPv4 or IPv6
 * literal (IPv6 may be bracketed), N 0-32 or 0-128 by family. Host bits
 * set beyond N are refused (a typo for another network). Returns 0 or
 * -EINVAL. */
int sh_cidr_parse(const char *s, struct sh_cidr *c);

/* Whether k is in one of the n networks of set. */
bool sh_cidr_match(const struct sh_cidr *set, size_t n,
                   const struct sh_ipkey *k);

/* Parse exactly len bytes of s as an IPv4 or IPv6 literal (no brackets,
 * port or zone). False for anything else. */
bool sh_addr_parse(const char *s, size_t len, struct sh_ipkey *k);

/* k as text: dotted IPv4 for IPv4 and mapped addresses, else RFC 5952
 * IPv6. buf holds SH_ADDR_STRLEN bytes. Returns buf. */
const char *sh_ipkey_format(const struct sh_ipkey *k, char buf[SH_ADDR_STRLEN]);

/* Whether k is an IPv4 address (mapped). */
bool sh_ipkey_is_v4(const struct sh_ipkey *k);

/* The forwarding headers of one request: pointers into the request's
 * header values (not owned), in the order they came. A field counted
 * beyond SH_FWD_MAX_FIELDS sets overflow. */
struct sh_fwd_headers {
  const char *xff[SH_FWD_MAX_FIELDS];
  size_t xff_len[SH_FWD_MAX_FIELDS];
  unsigned nxff;
  const char *fwd[SH_FWD_MAX_FIELDS];
  size_t fwd_len[SH_FWD_MAX_FIELDS];
  unsigned nfwd;
  bool overflow;
};

/* Where sh_addr_resolve() took the client from. */
enum sh_addr_source {
  SH_ADDR_PEER,      /* the peer: not trusted, or no forwarding header */
  SH_ADDR_FORWARDED, /* a hop of X-Forwarded-For or Forwarded */
  SH_ADDR_INVALID    /* the peer, because the header had a hop that is
                        not an address, or was malformed or too long */
};

/* The client of a request from peer, by the rule above; h may be NULL
 * (no headers). Writes *client in every case. */
enum sh_addr_source sh_addr_resolve(const struct sh_cidr *trusted,
                                    size_t ntrusted,
                                    const struct sh_ipkey *peer,
                                    const struct sh_fwd_headers *h,
                                    struct sh_ipkey *client);

#endif /* SH_ADDR_H */
