/* streamid.h - Redis stream ids ("<ms>-<n>") as the hub's sequence numbers.
 *
 * Purpose: with the Redis engine, an event's id is the id Redis gave its
 * stream entry, and its sequence number (what orders and de-duplicates
 * frames: client.h, history.h) is that id packed into 64 bits:
 * ms << SH_STREAMID_NBITS | n. Entries Redis numbers itself ("*") have n
 * in the low thousands at most (n counts entries added in the same
 * millisecond), so 20 bits leave ample room and 44 bits of milliseconds
 * last until the year 2527. Ids that do not fit are refused by parse.
 *
 * Pure functions, reentrant.
 */
#ifndef SH_STREAMID_H
#define SH_STREAMID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SH_STREAMID_NBITS 20
/* "<ms>-<n>" of any packed id, with its NUL. */
#define SH_STREAMID_MAX 32

/* Split "<a>-<b>", two decimal numbers of 1-19 digits and nothing else
 * (the shape of stream ids and of the in-memory engine's ids); false for
 * any other text. */
bool sh_id_split(const char *s, uint64_t *a, uint64_t *b);

/* Parse "<ms>-<n>" (decimal, nothing else) into a sequence number; false
 * for other text and for ids that do not pack (see above). "0-0" packs to
 * 0, which no entry has. */
bool sh_streamid_parse(const char *s, uint64_t *seq);

/* Write the id of seq into buf (cap bytes); returns its length as
 * snprintf() does. */
int sh_streamid_format(uint64_t seq, char *buf, size_t cap);

/* The millisecond part of a packed id. */
static inline uint64_t sh_streamid_ms(uint64_t seq)
{
  return seq >> SH_STREAMID_NBITS;
}

#endif /* SH_STREAMID_H */
