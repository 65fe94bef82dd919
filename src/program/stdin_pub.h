/* stdin_pub.h - publish what arrives on standard input (--stdin).
 *
 * Lines mode: every line (LF or CRLF terminated; a last line without one
 * counts at end of input) is one event. Blocks mode: blank-line-separated
 * blocks of "event:", "id:", "retry:", "topic:" and "data:" lines, like
 * the event-stream format (several data lines make multi-line data; lines
 * starting with ":" are comments).
 *
 * Nothing read is dropped: when the publish queue is full, reading waits
 * and retries. Input that cannot be published (a line over
 * --max-event-size, a bad field) is reported on stderr with its line
 * number. End of input stops reading; the server keeps serving.
 *
 * Threads: one reader thread of its own; it only calls ssehub_publish().
 * Start and stop from the control thread; stop interrupts a blocked read.
 */
#ifndef SH_STDIN_PUB_H
#define SH_STDIN_PUB_H

#include <stdbool.h>
#include <stddef.h>

struct ssehub;

/* Returns 0 or a negative errno. */
int sh_stdin_start(struct ssehub *hub, bool blocks, size_t max_line);

/* Stop and join the reader; no-op if not started. */
void sh_stdin_stop(void);

#endif /* SH_STDIN_PUB_H */
