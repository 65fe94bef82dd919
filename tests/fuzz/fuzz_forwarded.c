/* fuzz_forwarded.c - libFuzzer harness for client addresses behind
 * trusted proxies (src/core/addr.h): X-Forwarded-For and Forwarded
 * parsing, and CIDR parsing.
 *
 * The first byte picks what the rest is:
 *   'x'  X-Forwarded-For lines (split at '\n', at most SH_FWD_MAX_FIELDS
 *        + 1, so that overflow is reached too);
 *   'f'  Forwarded lines, likewise;
 *   'b'  the first line X-Forwarded-For, the others Forwarded;
 *   'c'  a --trusted-proxy network;
 *   else the same lines as 'x', from an untrusted peer.
 * The trusted networks are 10.0.0.0/8 and fd00::/8; the peer 10.0.0.1
 * (trusted) or 203.0.113.1 (not).
 * Checked:
 *   - from an untrusted peer the client is the peer, whatever the lines;
 *   - SH_ADDR_PEER and SH_ADDR_INVALID give the peer;
 *   - SH_ADDR_FORWARDED gives an address whose text occurs in the input
 *     (a hop, not something made up), untrusted unless every hop was;
 *   - a network that parses formats back ("ADDR/BITS") to one that parses
 *     to the same network, and contains its own base address.
 * Inputs are cut at MAX_INPUT bytes; a header line's length is bounded by
 * the connection memory in the server, far below it.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                    \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "fuzz_forwarded: check failed at line %d: %s\n", \
              __LINE__, #cond);                                        \
      abort();                                                         \
    }                                                                  \
  } while (0)

#define MAX_INPUT 65536

static void check_cidr(const char *text)
{
  struct sh_cidr c, back;
  char addr[SH_ADDR_STRLEN], again[SH_ADDR_STRLEN + 8];
  unsigned bits;

  if (0 != sh_cidr_parse(text, &c))
    return;
  CHECK(c.bits <= 128);
  CHECK(sh_cidr_match(&c, 1, &c.net));
  sh_ipkey_format(&c.net, addr);
  /* An IPv4 network is written with its IPv4 length. */
  bits = sh_ipkey_is_v4(&c.net) && c.bits >= 96 && NULL == strchr(addr, ':')
             ? c.bits - 96
             : c.bits;
  snprintf(again, sizeof(again), "%s/%u", addr, bits);
  if (0 == sh_cidr_parse(again, &back)) {
    CHECK(back.bits == c.bits);
    CHECK(0 == memcmp(&back.net, &c.net, sizeof(c.net)));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const nets[] = { "10.0.0.0/8", "fd00::/8" };
  struct sh_cidr trusted[2];
  struct sh_fwd_headers h;
  struct sh_ipkey peer, client;
  enum sh_addr_source src;
  char *text, *p, *line, mode;
  size_t i, nlines = 0;
  bool untrusted;

  if (0 == size)
    return 0;
  if (size > MAX_INPUT)
    size = MAX_INPUT;
  mode = (char) data[0];
  text = malloc(size);
  CHECK(NULL != text);
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';
  if ('c' == mode) {
    check_cidr(text);
    free(text);
    return 0;
  }
  for (i = 0; i < 2; i++)
    CHECK(0 == sh_cidr_parse(nets[i], &trusted[i]));
  untrusted = 'x' != mode && 'f' != mode && 'b' != mode;
  CHECK(sh_addr_parse(untrusted ? "203.0.113.1" : "10.0.0.1",
                      untrusted ? 11 : 8, &peer));
  memset(&h, 0, sizeof(h));
  /* Lines may hold NULs: each is passed with its length, as MHD does. */
  for (p = text; nlines <= SH_FWD_MAX_FIELDS; nlines++) {
    char *nl = memchr(p, '\n', (size_t) (text + size - 1 - p));
    size_t len = NULL != nl ? (size_t) (nl - p)
                            : (size_t) (text + size - 1 - p);
    bool fwd = 'f' == mode || ('b' == mode && nlines > 0);

    line = p;
    if (fwd) {
      if (h.nfwd == SH_FWD_MAX_FIELDS) {
        h.overflow = true;
      } else {
        h.fwd[h.nfwd] = line;
        h.fwd_len[h.nfwd++] = len;
      }
    } else if (h.nxff == SH_FWD_MAX_FIELDS) {
      h.overflow = true;
    } else {
      h.xff[h.nxff] = line;
      h.xff_len[h.nxff++] = len;
    }
    if (NULL == nl)
      break;
    p = nl + 1;
  }
  src = sh_addr_resolve(trusted, 2, &peer, &h, &client);
  if (untrusted || SH_ADDR_FORWARDED != src) {
    CHECK(untrusted ? SH_ADDR_PEER == src : true);
    CHECK(0 == memcmp(&client, &peer, sizeof(peer)));
  } else {
    char addr[SH_ADDR_STRLEN];

    /* The client came from the input: its text, or for IPv6 at least
     * some colon-separated text, is there. IPv4 is written one way only
     * (inet_pton refuses leading zeros), unless it was IPv4-mapped. */
    sh_ipkey_format(&client, addr);
    if (sh_ipkey_is_v4(&client) && NULL == memmem(text, size - 1, "::", 2)
        && NULL == memmem(text, size - 1, ":ffff", 5)
        && NULL == memmem(text, size - 1, ":FFFF", 5)
        && NULL == memmem(text, size - 1, "ffff:", 5))
      CHECK(NULL != memmem(text, size - 1, addr, strlen(addr)));
  }
  free(text);
  return 0;
}
