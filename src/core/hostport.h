/* hostport.h - parse "ADDR:PORT" listener addresses (--admin-bind).
 *
 * Purpose: one parser for the program's flag check and the hub's option
 * check, so the two cannot disagree. ADDR is an IPv4 literal
 * ("127.0.0.1:9100") or a bracketed IPv6 literal ("[::1]:9100"); host
 * names are refused (a listener's address should not depend on DNS).
 * PORT is 1-65535.
 *
 * Thread-safety: pure functions.
 */
#ifndef SH_HOSTPORT_H
#define SH_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>

/* Room for any IPv6 literal and its NUL (INET6_ADDRSTRLEN). */
#define SH_HOST_MAX 46

/* Split s into host (without brackets) and port. Returns 0, or -EINVAL
 * when s is not of the form above. host must have SH_HOST_MAX bytes. */
int sh_hostport_parse(const char *s, char host[SH_HOST_MAX], uint16_t *port);

/* A listen address (--bind, ssehub_options.bind_address): "ADDR",
 * "[IPV6]", "IPV4:PORT" or "[IPV6]:PORT", ADDR an IPv4 or IPv6 literal or
 * a host name (resolved once, at listen). host gets the address without
 * brackets, *port the port or 0 when none is given. Returns 0 or -EINVAL
 * (brackets around anything but an IPv6 literal, a bad port, too long). */
int sh_bind_parse(const char *s, char host[SH_HOST_MAX], uint16_t *port);

#endif /* SH_HOSTPORT_H */
