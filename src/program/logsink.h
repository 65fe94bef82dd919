/* logsink.h - the ssehub program's log: timestamps, levels, text or JSON,
 * the access log, and a bounded queue so that logging never blocks.
 *
 * Purpose: every line the program writes once it runs (its own lines, the
 * hub's through ssehub_options.log, the access log through
 * ssehub_options.access_log) is formatted on the calling thread into a
 * fixed-size slot of a bounded queue and written by one writer thread.
 * A full queue drops the line and counts it at once through the drop
 * hook (the program's calls ssehub_count_log_dropped: the log_dropped
 * statistic, right while stderr is stuck): the broadcaster or an MHD
 * worker never waits for a slow terminal, pipe or disk. Once there is
 * room again the writer says "N log lines dropped" (a warning). At stop,
 * what is queued is written.
 *
 * Why in src/program and not src/core: the library's default logger
 * (core/log.c, stderr) serves embedders, who mostly pass their own
 * callback and own their process's log policy (format, destination,
 * threads). A writer thread and a queue of 1 MiB are the program's choice
 * to make, not something every embedded hub should start.
 *
 * Formats (one line each, ending in "\n"):
 *   text  "2026-12-05T06:01:02.345Z info: listening on ..."; access lines
 *         "2026-12-05T06:01:02.345Z info: access 127.0.0.1 \"GET /sse\"
 *         200 1234 61234ms peer_hangup" (the reason only for a stream).
 *         Control bytes become \xHH, so a line is one line whatever a
 *         client sent. On the journal (JOURNAL_STREAM names stderr's
 *         device:inode) stderr lines carry no timestamp and a priority
 *         prefix instead ("<6>listening on ..."; sd-daemon(3): <3> error,
 *         <4> warning, <6> info, <7> debug).
 *   json  {"ts":"...","level":"info","msg":"..."}; access lines add
 *         client, method, path, status, bytes, duration_ms and, for a
 *         stream, end. Strings are escaped for a strict parser: quotes,
 *         backslashes, control bytes (\u00XX), invalid UTF-8 (U+FFFD).
 *         No journal prefix: a JSON line stays parseable.
 *   A line longer than a slot (SH_LOGSINK_LINE) is cut, still valid.
 *
 * Threads and locks:
 *   - any thread: sh_logsink_log(), sh_logsink_hub_log() (the hub's log
 *     callback) and sh_logsink_access() (its access callback). They
 *     format outside any lock, then take `lock` only to copy the line into
 *     the tail slot (or count a drop) and signal `wake` when the queue was
 *     empty. They never wait for I/O. One whose line is dropped calls
 *     the drop hook under `hook_lock` (with `lock` released), a leaf lock
 *     that sh_logsink_set_drop_hook() also takes, so the control thread
 *     can clear the hook before it frees the hub.
 *   - the writer thread: takes `lock` to see how many slots are full, then
 *     writes them with the lock released (producers only ever write slots
 *     outside [head, head + count), so the writer owns those until it
 *     advances head under the lock again).
 *   - control thread: sh_logsink_new(), sh_logsink_set_drop_hook(),
 *     sh_logsink_set_level(), sh_logsink_free().
 *   `level` is atomic: a reload may change it while others log.
 *   Lock order: `lock` and `hook_lock` are leaves, never held together,
 *   and no hub lock is taken under them (the hook only adds to a counter).
 *
 * Ownership: sh_logsink_new() returns a sink the caller frees with
 * sh_logsink_free(), after the hub is freed (the hub's threads call it).
 */
#ifndef SH_LOGSINK_H
#define SH_LOGSINK_H

#include <stdbool.h>
#include <stdint.h>

#include "ssehub.h"

#define SH_LOGSINK_LINE 1024  /* bytes per slot, newline included */
#define SH_LOGSINK_SLOTS 1024 /* default queue length */

enum sh_log_format { SH_LOG_TEXT = 0, SH_LOG_JSON = 1 };

struct sh_logsink;

/* Start a sink writing to stderr (and the access log to access_path when
 * not NULL; "-" = stderr, else a file opened for appending, created 0640).
 * slots = 0 means SH_LOGSINK_SLOTS; $SSEHUB_LOG_QUEUE overrides it (a test
 * hook: 1-1048576). Returns NULL with *err = -errno (the access log could
 * not be opened, no memory, no thread). */
struct sh_logsink *sh_logsink_new(enum sh_log_format format,
                                  enum ssehub_log_level level,
                                  const char *access_path, unsigned slots,
                                  int *err);

/* Write what is queued, stop the writer, close the access log. NULL-safe. */
void sh_logsink_free(struct sh_logsink *s);

/* Lines above level are not written (the program's own; the hub filters
 * its own with its log_level). Any thread. */
void sh_logsink_set_level(struct sh_logsink *s, enum ssehub_log_level level);

/* fn(cls, n) is told of every n lines dropped, on the thread that
 * dropped them (it must not log); NULL clears it. Once this returns, the old hook is not running and will
 * not run again. */
void sh_logsink_set_drop_hook(struct sh_logsink *s,
                              void (*fn)(void *cls, uint64_t n), void *cls);

/* Lines dropped so far. Any thread. */
uint64_t sh_logsink_dropped(struct sh_logsink *s);

/* The program's own lines. Any thread. */
void sh_logsink_log(struct sh_logsink *s, enum ssehub_log_level level,
                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The program's own lines, to the sink made last by sh_logsink_new() and
 * not yet freed (the program has one), else to stderr with the same
 * format: main.c, demo.c and stdin_pub.c call it. Any thread. */
void sh_say(enum ssehub_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ssehub_log_fn: cls is the sink. */
void sh_logsink_hub_log(void *cls, enum ssehub_log_level level,
                        const char *line);

/* ssehub_access_fn: cls is the sink; nothing if it has no access log. */
void sh_logsink_access(void *cls, const struct ssehub_access *a);

#endif /* SH_LOGSINK_H */
