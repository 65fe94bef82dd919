/* testlib.h - helpers for the tests: run the real ssehub program on a
 * free loopback port, speak HTTP/1.1 over real sockets, read event streams
 * (chunked or identity bodies), run the program to completion; and, for
 * the unit tests, frames made to order.
 *
 * Everything here is for tests: blocking calls carry timeouts so a broken
 * server fails a test instead of hanging it, and servers are stopped by
 * the PID we started.
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- the server process ------------------------------------------------ */

struct tl_server {
  pid_t pid;
  uint16_t port;
  char log_path[64]; /* the server's stderr */
};

/* When > 0, servers started afterwards get this RLIMIT_NOFILE. */
extern int tl_server_nofile;

/* Raise this process's RLIMIT_NOFILE soft limit to the hard limit (tests
 * that hold thousands of streams). */
void tl_raise_nofile(void);

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

/* Send sig and wait up to timeout_ms (scaled) for the exit. Returns the
 * wait status, or -1 if it did not exit (it is then SIGKILLed). Shows the
 * server's log unless it exited 0 (tl_server_reaped()). *elapsed_ms (if
 * not NULL) receives how long the exit took. */
int tl_server_stop(struct tl_server *s, int sig, int timeout_ms,
                   long long *elapsed_ms);

/* For Check tests: tl_server_start() that fails the test if the server
 * did not start, and SIGTERM that fails it unless the server exits 0
 * within 5 s (scaled). */
void tl_server_start_ok(struct tl_server *s, const char *const *args);
void tl_server_stop_ok(struct tl_server *s);

/* The caller waited for the server itself (status as from waitpid(), -1
 * if it did not exit): show its log unless it exited 0, delete the log
 * and forget the PID. */
void tl_server_reaped(struct tl_server *s, int status);

/* Copy the server's log so far to stderr (why a test failed). */
void tl_server_print_log(const struct tl_server *s);

/* Run the binary with args to completion (at most timeout_ms), standard
 * input /dev/null, capturing stdout+stderr into out. Returns the wait
 * status, or -1 if it had to be killed. */
int tl_run(const char *const *args, char *out, size_t cap, int timeout_ms);

/* Like tl_run(), with stdout into out and stderr into err, each
 * NUL-terminated (and truncated to its buffer). */
int tl_run_split(const char *const *args, char *out, size_t out_cap, char *err,
                 size_t err_cap, int timeout_ms);

/* Whether the server's log contains text. */
bool tl_server_log_contains(const struct tl_server *s, const char *text);

/* How many times text is in the server's log. */
int tl_server_log_count(const struct tl_server *s, const char *text);

/* Send SIGHUP and wait (5 s, scaled) until the server has logged done
 * once more ("info: reloaded" or "reload refused"); fails otherwise. */
void tl_server_hup_and_wait(const struct tl_server *s, const char *done);

/* The whole file, NUL-terminated (its length in *len if len is not
 * NULL); NULL if it cannot be opened. The caller frees it. */
char *tl_read_file(const char *path, size_t *len);

/* Factor for time limits: $CK_TIMEOUT_MULTIPLIER (sanitizers, valgrind). */
int tl_scale(void);

long long tl_now_ms(void);

/* Open file descriptors of a process (/proc/PID/fd), or -1. */
int tl_count_fds(pid_t pid);

/* A process's resident memory (VmRSS) in KiB, or -1. */
long tl_rss_kib(pid_t pid);

/* A process's threads, or -1. */
int tl_count_threads(pid_t pid);

/* Whether the server runs under ASan, TSan or valgrind, whose allocators
 * keep freed memory (quarantine) and add their own: its RSS says nothing
 * then. */
bool tl_instrumented(pid_t pid);
void tl_sleep_ms(int ms);

/* Whether *flag is set within ms (a thread of the test finished): true as
 * soon as it is; false after ms. Scale waits that should succeed, not the
 * ones that check something does not happen. */
bool tl_flag_within(atomic_bool *flag, int ms);

/* ---- plain HTTP ---------------------------------------------------------- */

/* Blocking TCP connect to 127.0.0.1:port from source address src (NULL for
 * the default); the socket has 5 s send and receive timeouts. Returns fd
 * or -1. Many connections may share one source address (the local port
 * is chosen at connect()). */
int tl_connect(uint16_t port, const char *src);

/* Like tl_connect(), for a client on a slow link: rcvbuf > 0 sets the
 * receive buffer before connecting, so the window is small from the start
 * (shrinking it later makes TCP trickle), and mss > 0 an Internet-like
 * segment size (on loopback, with its 64 KiB MSS, the server's send
 * buffer autotunes up to tcp_wmem's 4 MiB). */
int tl_connect_slow(uint16_t port, const char *src, int rcvbuf, int mss);

/* Send all n bytes, retrying short writes. Returns 0, or -1 when the peer
 * stopped taking them (it may have answered and closed). */
int tl_send_all(int fd, const void *p, size_t n);

struct tl_response {
  int status;
  char head[4096];  /* status line and headers, NUL-terminated */
  char body[65536]; /* de-chunked body, NUL-terminated (truncated) */
  size_t body_len;
};

/* Send raw request bytes on a new connection and read the whole response
 * (the connection is closed by us after one response), for at most 5 s.
 * Returns status or -1 on a transport error. */
int tl_http(uint16_t port, const char *raw, size_t raw_len,
            struct tl_response *r);

/* tl_http() from source address src (NULL for the default), waiting up
 * to timeout_ms for the response. */
int tl_http_from(uint16_t port, const char *src, const char *raw,
                 size_t raw_len, struct tl_response *r, int timeout_ms);

/* POST /publish with a form body (already urlencoded). Returns the status;
 * r->body holds the JSON answer. */
int tl_publish_form(uint16_t port, const char *form, struct tl_response *r);

/* The "id" of a publish answer, copied into id. */
bool tl_answer_id(const struct tl_response *r, char *id, size_t cap);

/* POST /publish with a text/plain body. Returns the status. */
int tl_publish(uint16_t port, const char *data, size_t len,
               struct tl_response *r);

/* POST /publish<query> (query "" or "?topic=...") with a text/plain body,
 * waiting up to timeout_ms for the answer; r may be NULL. Returns the
 * status, or -1 on a transport error. */
int tl_publish_query(uint16_t port, const char *query, const char *data,
                     size_t len, struct tl_response *r, int timeout_ms);

/* GET /stats and return the named counter, or -1. */
long long tl_stat(uint16_t port, const char *name);

/* tl_stat() with extra request headers ("Authorization: ...\r\n"): /stats
 * is allowed as publishing is (a publish token, when one is set). */
long long tl_stat_with(uint16_t port, const char *name, const char *headers);

/* tl_wait_stat() with extra request headers, as tl_stat_with(). */
long long tl_wait_stat_with(uint16_t port, const char *name, long long want,
                            int timeout_ms, const char *headers);

/* Poll tl_stat until it equals want or timeout_ms passes; returns the
 * last value seen. */
long long tl_wait_stat(uint16_t port, const char *name, long long want,
                       int timeout_ms);

/* Value of header name in r->head (case-insensitive), copied to out;
 * false if absent. */
bool tl_header(const struct tl_response *r, const char *name, char *out,
               size_t cap);

/* The value of header name (case-insensitive, spaces after the colon
 * skipped) in the first len bytes of a response head, which need not be
 * NUL-terminated; NULL if absent. The value runs to the next "\r\n". */
const char *tl_find_header(const char *head, size_t len, const char *name);

/* ---- event streams --------------------------------------------------------- */

struct tl_sse {
  int fd;
  int status; /* HTTP status once headers are read, else 0 */
  bool chunked;
  bool ended;      /* clean end of body seen (last chunk) */
  bool closed;     /* peer closed the connection */
  char head[4096]; /* status line and headers */
  size_t head_len;
  int state;     /* decoder state (testlib.c) */
  char line[40]; /* partial chunk-size line */
  size_t line_len;
  size_t chunk_left; /* body bytes left in the current chunk */
  char *body;        /* de-chunked bytes not yet taken as frames */
  size_t body_len;
  size_t body_cap;
};

/* Connect and send "GET path HTTP/1.1" (extra_headers may be NULL or
 * "Name: value\r\n..."). Returns 0 or -1. The socket stays blocking with a
 * receive timeout; use tl_sse_pump() for many streams in one poll loop. */
int tl_sse_open(struct tl_sse *s, uint16_t port, const char *path,
                const char *extra_headers, const char *src);

/* tl_sse_open() on a slow link (tl_connect_slow()). */
int tl_sse_open_slow(struct tl_sse *s, uint16_t port, const char *path,
                     const char *src, int rcvbuf, int mss);

/* Make s a stream on the connected socket fd (s owns it from now on, even
 * when this fails) and send the raw request bytes. Returns 0, or -1 if fd
 * is -1 or not everything could be sent; what the server answered can
 * still be read. */
int tl_sse_send(struct tl_sse *s, int fd, const char *raw, size_t len);

/* Whether the stream's first frame is the ":ok" of an admitted (200)
 * stream, within timeout_ms. */
bool tl_sse_got_ok(struct tl_sse *s, int timeout_ms);

/* How tl_sse_open_crowd() opens its streams: stream i asks for /sse or,
 * with topic_prefix, /sse?topic=<topic_prefix><i % groups>; it comes from
 * 127.0.0.<src0 + i % nsrc>, over tl_connect_slow(rcvbuf, mss) (0, 0: an
 * ordinary loopback link). */
struct tl_crowd {
  const char *topic_prefix;
  int groups;
  int src0, nsrc;
  int rcvbuf, mss;
};

/* Open n streams (all requests first), then wait for each one's 200 and
 * ":ok" (5 s each, 30 s in all, scaled). Returns how many were admitted;
 * opening stops at the first connection that fails. */
int tl_sse_open_crowd(struct tl_sse *s, int n, uint16_t port,
                      const struct tl_crowd *how);

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

/* ---- several nodes --------------------------------------------------------- */

/* SIGKILL a server and reap it, quietly: for tests that kill a node on
 * purpose (its log is deleted, not shown). */
void tl_server_kill(struct tl_server *s);

/* tl_nodes_start() flags. */
enum {
  /* Nodes 1..n-1 listen on node 0's port, all with --reuse-port: one
   * address, the kernel spreading connections over the processes. */
  TL_NODES_SHARE_PORT = 1
};

/* Start n servers with the same args (tl_server_start(), each on a free
 * port unless TL_NODES_SHARE_PORT). Returns 0, or -1 with none left
 * running. */
int tl_nodes_start(struct tl_server *nodes, int n, unsigned flags,
                   const char *const *args);

/* SIGTERM every node still running (pid > 0; a node killed with
 * tl_server_kill() is skipped). Returns how many did not exit 0 within
 * 5 s (scaled); their logs are shown. */
int tl_nodes_stop(struct tl_server *nodes, int n);

/* GET /stats and copy the named string value (without its quotes) into
 * out; false if absent or not a string. */
bool tl_stat_str(uint16_t port, const char *name, char *out, size_t cap);

/* Poll tl_stat_str() until it equals want or timeout_ms passes. */
bool tl_wait_stat_str(uint16_t port, const char *name, const char *want,
                      int timeout_ms);

/* A free TCP port on 127.0.0.1 (bound, then released: another process
 * may take it before we do, so starting on it must be retried). 0 on
 * failure. */
uint16_t tl_free_port(void);

/* ---- redis-server ------------------------------------------------------------ */

/* A real redis-server for the tests of the Redis engine: its own port on
 * 127.0.0.1 and its own temporary directory, so that tests never share
 * (or damage) a Redis someone else runs, and a restart on the same port
 * and directory finds the same append-only file. The process is killed
 * with the test that started it (PR_SET_PDEATHSIG), as servers are. */
struct tl_redis {
  pid_t pid; /* 0 while not running */
  uint16_t port;
  unsigned flags;     /* TL_REDIS_* as started */
  char dir[256];      /* its working directory (AOF files, the log) */
  char log_path[288]; /* dir/redis.log, appended to by every restart */
  char password[64];  /* the --requirepass given, "" if none */
  char args[1024];    /* the extra arguments, NUL-separated, for restarts */
  size_t args_len;
};

/* tl_redis_start() flags. */
enum {
  /* appendonly yes with appendfsync always: every write acknowledged to
   * a client is on disk, so it survives kill -9 and a restart. Without
   * it nothing survives a restart (no AOF, no RDB: `--save ''`). */
  TL_REDIS_AOF = 1
};

/* Start redis-server ($TL_REDIS_SERVER, else redis-server from PATH) on
 * a free loopback port in a new directory ssehub-redis-XXXXXX under
 * $TMPDIR (else /tmp), plus extra args
 * (NULL-terminated, may be NULL; e.g. "--requirepass", "x", which later
 * commands then AUTH with). Waits up to 5 s (scaled) for it to answer
 * PING. Returns 0, or -1 with nothing left running (the log is shown). */
int tl_redis_start(struct tl_redis *r, unsigned flags,
                   const char *const *extra);

/* Whether redis-server can be run at all (tests that need one exit 77,
 * "skipped", when it cannot). */
bool tl_redis_available(void);

/* SIGTERM (and SIGCONT, should it be paused), then SIGKILL if it has not
 * exited within timeout_ms (scaled). Its port and directory are kept for
 * tl_redis_restart(). Returns the wait status, or -1 if it had to be
 * killed or was not running. */
int tl_redis_stop(struct tl_redis *r, int timeout_ms);

/* kill -9, reaped before returning: a crash. Whatever the append-only file
 * holds survives (with TL_REDIS_AOF, every acknowledged write). */
void tl_redis_kill(struct tl_redis *r);

/* SIGSTOP / SIGCONT. tl_redis_pause() returns once the process is stopped
 * (the kernel still accepts connections into its listen queue, so
 * clients see a Redis that takes requests and never answers). Return 0,
 * or -1 if it is not running. */
int tl_redis_pause(struct tl_redis *r);
int tl_redis_resume(struct tl_redis *r);

/* Start it again, after tl_redis_stop() or tl_redis_kill(), with the same
 * port, directory, flags and extra args; waits until it answers PING (with
 * AOF: once the file is loaded). Returns 0 or -1. */
int tl_redis_restart(struct tl_redis *r);

/* Stop it if it runs and delete its directory. */
void tl_redis_cleanup(struct tl_redis *r);

/* Delete a directory and everything in it (no symbolic link followed). */
void tl_rmtree(const char *dir);

/* "redis://127.0.0.1:<port>/0" into buf. */
void tl_redis_url(const struct tl_redis *r, char *buf, size_t cap);

/* Copy the server's log to stderr (why a test failed). */
void tl_redis_print_log(const struct tl_redis *r);

/* One RESP2 reply. */
struct tl_resp {
  char type;         /* '+' status, '-' error, ':' integer, '$' bulk string,
                     '*' array, '_' null (a nil bulk or array) */
  long long integer; /* ':' */
  char *str;         /* '+', '-', '$': NUL-terminated, len bytes */
  size_t len;
  size_t n; /* '*': elements */
  struct tl_resp *elem;
};

/* Send one command (argv NULL-terminated) on a new connection (AUTH
 * first if the server was started with --requirepass) and read its reply
 * into *reply (free it with tl_resp_free()), waiting at most timeout_ms.
 * Returns 0 when a reply was read (an error reply too: see reply->type),
 * -1 when none was (refused, closed, timed out, not RESP). */
int tl_redis_cmdv(const struct tl_redis *r, int timeout_ms,
                  struct tl_resp *reply, const char *const *argv);

/* tl_redis_cmdv() with the arguments listed (NULL after the last), 5 s
 * (scaled). */
int tl_redis_cmd(const struct tl_redis *r, struct tl_resp *reply, ...)
    __attribute__((sentinel));

/* The integer reply of a command (XLEN, DEL, EXISTS, ...), or -1 when the
 * reply is not an integer. */
long long tl_redis_int(const struct tl_redis *r, ...) __attribute__((sentinel));

void tl_resp_free(struct tl_resp *reply);

/* ---- hash flooding ---------------------------------------------------------- */

/* Bytes per name of tl_fnv_names() (each is 232 bytes and a NUL). */
#define TL_FNV_NAME_CAP 256
/* The low bits of FNV-1a-64 that colliding names share: one bucket of a
 * power-of-two table of up to 2^20 buckets. */
#define TL_FNV_COLLIDE_BITS 20

/* n distinct topic names, each at names + i * stride (stride >= 256),
 * sharing a long prefix. With collide, all have the same low
 * TL_FNV_COLLIDE_BITS bits of unseeded FNV-1a-64 (the hash the registry
 * and the per-address table used before SipHash); without, the same
 * shape, spread as any names would be. Deterministic. */
void tl_fnv_names(char *names, int n, size_t stride, bool collide);

/* ---- unit tests of src/core (testlib_core.c) ------------------------------ */

/* These use the hub's internals: not for check_embed, which links only
 * the public library. They fail the test when out of memory. */
struct sh_frame;
struct sh_client;

/* A frame holding a copy of a NUL-terminated string. */
struct sh_frame *tl_frame_str(const char *s);

/* A frame of len bytes, all equal to ch. */
struct sh_frame *tl_frame_fill(char ch, size_t len);

/* The references a frame holds now. */
unsigned tl_frame_refs(const struct sh_frame *f);

/* A client with no connection and no socket, a ring of 8 to 4096 slots
 * and max_bytes: it never calls into MHD as long as sh_client_read() is
 * not called on it with an empty, open ring. */
struct sh_client *tl_client(size_t max_bytes);

#endif /* TESTLIB_H */
