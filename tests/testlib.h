/* testlib.h - helpers for the integration tests: run the real ssehub
 * program on a free loopback port, speak HTTP/1.1 over real sockets and
 * read event streams (chunked or identity bodies).
 *
 * Everything here is for tests: blocking calls carry timeouts so a broken
 * server fails a test instead of hanging it, and servers are stopped by
 * the PID we started.
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- the server process ------------------------------------------------ */

struct tl_server {
  pid_t pid;
  uint16_t port;
  char log_path[64];   /* the server's stderr */
};

/* When > 0, servers started afterwards get this RLIMIT_NOFILE. */
extern int tl_server_nofile;

/* Path of the ssehub binary ($SSEHUB_BIN, else src/ssehub). */
const char *tl_bin(void);

/* Start ssehub --bind 127.0.0.1 --port 0 plus args (NULL-terminated) and
 * wait up to 5 s (scaled) for its "listening on" line. Returns 0 or -1.
 * $TL_SERVER_WRAPPER, if set, prefixes the command (valgrind). */
int tl_server_start(struct tl_server *s, const char *const *args);

/* Like tl_server_start(), with the server's standard input a pipe whose
 * write end is returned in *stdin_w. */
int tl_server_start_piped(struct tl_server *s, const char *const *args,
                          int *stdin_w);

/* Send sig and wait up to timeout_ms for the exit. Returns the wait status,
 * or -1 if it did not exit (it is then SIGKILLed). *elapsed_ms (if not
 * NULL) receives how long the exit took. */
int tl_server_stop(struct tl_server *s, int sig, int timeout_ms,
                   long long *elapsed_ms);

/* Run the binary with args to completion (at most timeout_ms), capturing
 * stdout+stderr into out. Returns the wait status or -1. */
int tl_run(const char *const *args, char *out, size_t cap, int timeout_ms);

/* Whether the server's log contains text. */
bool tl_server_log_contains(const struct tl_server *s, const char *text);

/* Factor for time limits: $CK_TIMEOUT_MULTIPLIER (sanitizers, valgrind). */
int tl_scale(void);

long long tl_now_ms(void);

/* Open file descriptors of a process (/proc/PID/fd), or -1. */
int tl_count_fds(pid_t pid);

/* A process's resident memory (VmRSS) in KiB, or -1. */
long tl_rss_kib(pid_t pid);

/* Whether the server runs under ASan, TSan or valgrind, whose allocators
 * keep freed memory (quarantine) and add their own: its RSS says nothing
 * then. */
bool tl_instrumented(pid_t pid);
void tl_sleep_ms(int ms);

/* ---- plain HTTP ---------------------------------------------------------- */

/* Blocking TCP connect to 127.0.0.1:port from source address src (NULL for
 * the default); the socket has a 5 s receive timeout. Returns fd or -1. */
int tl_connect(uint16_t port, const char *src);

struct tl_response {
  int status;
  char head[4096];     /* status line and headers, NUL-terminated */
  char body[65536];    /* de-chunked body, NUL-terminated (truncated) */
  size_t body_len;
};

/* Send raw request bytes on a new connection and read the whole response
 * (the connection is closed by us after one response). Returns status or
 * -1 on a transport error. */
int tl_http(uint16_t port, const char *raw, size_t raw_len,
            struct tl_response *r);

/* POST /publish with a form body (already urlencoded). Returns the status;
 * r->body holds the JSON answer. */
int tl_publish_form(uint16_t port, const char *form, struct tl_response *r);

/* The "id" of a publish answer, copied into id. */
bool tl_answer_id(const struct tl_response *r, char *id, size_t cap);

/* POST /publish with a text/plain body. Returns the status. */
int tl_publish(uint16_t port, const char *data, size_t len,
               struct tl_response *r);

/* GET /stats and return the named counter, or -1. */
long long tl_stat(uint16_t port, const char *name);

/* Poll tl_stat until it equals want or timeout_ms passes; returns the
 * last value seen. */
long long tl_wait_stat(uint16_t port, const char *name, long long want,
                       int timeout_ms);

/* Value of header name in r->head (case-insensitive), copied to out;
 * false if absent. */
bool tl_header(const struct tl_response *r, const char *name, char *out,
               size_t cap);

/* ---- event streams --------------------------------------------------------- */

struct tl_sse {
  int fd;
  int status;               /* HTTP status once headers are read, else 0 */
  bool chunked;
  bool ended;               /* clean end of body seen (last chunk) */
  bool closed;              /* peer closed the connection */
  char head[4096];          /* status line and headers */
  size_t head_len;
  int state;                /* decoder state (testlib.c) */
  char line[40];            /* partial chunk-size line */
  size_t line_len;
  size_t chunk_left;        /* body bytes left in the current chunk */
  char *body;               /* de-chunked bytes not yet taken as frames */
  size_t body_len;
  size_t body_cap;
};

/* Connect and send "GET path HTTP/1.1" (extra_headers may be NULL or
 * "Name: value\r\n..."). Returns 0 or -1. The socket stays blocking with a
 * receive timeout; use tl_sse_pump() for many streams in one poll loop. */
int tl_sse_open(struct tl_sse *s, uint16_t port, const char *path,
                const char *extra_headers, const char *src);

/* Close the socket and free the buffers. */
void tl_sse_close(struct tl_sse *s);

/* Wait up to timeout_ms for bytes, read what is available and decode it.
 * Returns bytes read, 0 on timeout, -1 when the connection closed. */
int tl_sse_pump(struct tl_sse *s, int timeout_ms);

/* Feed raw bytes read elsewhere into the decoder. */
void tl_sse_feed(struct tl_sse *s, const char *data, size_t n);

/* Next complete frame (text up to and excluding the blank line) into out,
 * NUL-terminated. Returns its length, or -1 if no complete frame is
 * buffered. Does no I/O. */
int tl_sse_take(struct tl_sse *s, char *out, size_t cap);

/* Wait up to timeout_ms for the next frame. Returns its length, -1 on
 * timeout or close. */
int tl_sse_next(struct tl_sse *s, char *out, size_t cap, int timeout_ms);

/* Remove the "id: ..." line from a frame in place (tests that compare the
 * rest of a frame); returns the id's length, or -1 if there was none, and
 * copies the id into id (if not NULL, cap bytes). */
int tl_strip_id(char *frame, char *id, size_t cap);

/* Like tl_sse_next(), skipping heartbeat comment frames (":"). */
int tl_sse_next_event(struct tl_sse *s, char *out, size_t cap, int timeout_ms);

#endif /* TESTLIB_H */
