/* sse_fmt.h - the text/event-stream wire format (WHATWG HTML §9.2), pure.
 *
 * Purpose: turn an event (data, optional name, id, retry) or a comment into
 * the exact bytes a client must receive, and validate fields that would
 * corrupt the stream. No I/O, no locks, no allocation: callers size a
 * buffer with the *_size() function, then write it with the matching
 * function, which writes exactly that many bytes.
 *
 * Line breaks: the spec treats CRLF, lone CR and lone LF as line ends. Data
 * is split at each of them and every line becomes its own "data:" line, so
 * the client reassembles the data with LF between lines. A trailing line
 * break therefore survives as a trailing LF on the client; empty data is
 * sent as one empty "data:" line, which browsers dispatch as "".
 *
 * Thread-safety: all functions are reentrant.
 */
#ifndef SH_SSE_FMT_H
#define SH_SSE_FMT_H

#include <stdbool.h>
#include <stddef.h>

struct sh_event {
  const char *data; /* may be NULL when data_len is 0 */
  size_t data_len;
  const char *event; /* event name ("event:" field), NULL for none */
  const char *id;    /* event id ("id:" field), NULL for none */
  long retry;        /* reconnection time in ms, < 0 for none */
};

/* True when s[0..len) may be the value of an id/event field: it must not
 * contain CR, LF or NUL, each of which would end or corrupt the field. */
bool sh_fmt_field_ok(const char *s, size_t len);

/* Number of bytes sh_fmt_event() writes for ev. */
size_t sh_fmt_event_size(const struct sh_event *ev);

/* Write ev to out, which must hold sh_fmt_event_size(ev) bytes; returns the
 * number written. The caller validates event/id with sh_fmt_field_ok(). */
size_t sh_fmt_event(const struct sh_event *ev, char *out);

/* Comment frame ":text\n\n" (":ok\n\n" for "ok"); text must not contain
 * line breaks. Sizes and writes like the event pair above. */
size_t sh_fmt_comment_size(size_t text_len);
size_t sh_fmt_comment(const char *text, size_t text_len, char *out);

#endif /* SH_SSE_FMT_H */
