/* entry.h - one Redis stream entry, as the engine writes it, to a frame.
 *
 * An entry is [id, [field, value, ...]] with the fields d (data), e
 * (event name), i (a publisher's own id), r (retry) and one t per topic
 * (engine.h). Unknown fields are ignored, and fields that would corrupt
 * the stream or that a publish would be refused for (an event name, id or
 * topic that is not valid UTF-8 or holds a control character, a bad
 * topic: pubfields.h) are dropped, as a reader of a shared log must:
 * anything may write to it. Data that is not valid UTF-8 makes the entry
 * no event (*bad).
 *
 * Pure apart from the allocation; reentrant.
 */
#ifndef SH_ENTRY_H
#define SH_ENTRY_H

#include <stdbool.h>

#include <hiredis/hiredis.h>

#include "frame.h"

/* The frame of entry e: its SSE id is the publisher's id if it has one,
 * else the stream id; its seq is the stream id packed (streamid.h). NULL
 * when e is not an entry with a valid stream id (*bad) or out of memory
 * (!*bad). */
struct sh_frame *sh_entry_frame(const redisReply *e, bool *bad);

#endif /* SH_ENTRY_H */
