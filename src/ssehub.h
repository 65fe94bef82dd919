/* ssehub.h - public API of libssehub, a Server-Sent Events hub.
 *
 * Purpose
 *   A hub keeps a registry of live text/event-stream clients, each with a
 *   bounded queue of pending events, and a broadcaster thread that fans
 *   every published event out to every client: a registry of clients
 *   with a maximum (429 above it), a broadcast to all of them, cleanup
 *   when a client goes away, and a ":ok" first frame so that every
 *   browser fires onopen at once; a C library on libmicrohttpd (MHD).
 *
 *   Serve it either from its own MHD daemon (ssehub_listen()) or from a
 *   daemon you run, by calling ssehub_mhd_handler() and
 *   ssehub_mhd_completed() from your access handler and completion
 *   callback (see "Embedding in your own daemon" below).
 *
 * Routes served by the hub (doc/protocol.md has the details)
 *   GET|HEAD /sse   the event stream (?topic=..., Last-Event-ID resume)
 *   POST /publish   publish one event (form fields, or a text/plain body)
 *   GET /stats      counters as JSON
 *   GET /metrics    the same, and histograms, for Prometheus
 *   GET /healthz    200 while the process serves
 *   GET /readyz     200 when accepting streams and publishes, else 503
 *                   (these four: publishers only, or admin_bind's daemon)
 *   GET /           the demo page (unless options.demo_page is 0)
 *
 * Ownership
 *   ssehub_new() returns a hub owned by the caller, released with
 *   ssehub_free(). Strings in struct ssehub_options are copied by
 *   ssehub_new(); strings in struct ssehub_event are copied by
 *   ssehub_publish(): the caller keeps ownership of both.
 *
 * Thread-safety
 *   Not thread-safe unless stated otherwise. ssehub_publish(),
 *   ssehub_client_count(), ssehub_get_stats(), ssehub_mhd_handler() and
 *   ssehub_mhd_completed() are safe from any thread at any time between
 *   ssehub_new() and ssehub_free(). ssehub_listen(), ssehub_reload(),
 *   ssehub_stop() and ssehub_free() must be called from one controlling
 *   thread.
 *
 * Errors
 *   Functions returning int return 0 on success and a negative errno value
 *   on failure; ssehub_strerror() describes it.
 *
 * Compatibility
 *   The library's soname changes only when a binary built against an
 *   older ssehub.h could break (HACKING, "The library's version"). The
 *   structs the caller allocates grow only at their end, and carry their
 *   size: struct ssehub_options in its `size` member (set by
 *   ssehub_options_default()), struct ssehub_stats through the
 *   ssehub_get_stats() macro. So a program built against this header
 *   keeps working with a later libssehub of the same soname.
 */
#ifndef SSEHUB_H
#define SSEHUB_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header; ssehub_version() gives the library's. */
#define SSEHUB_VERSION_MAJOR 0
#define SSEHUB_VERSION_MINOR 2
#define SSEHUB_VERSION_PATCH 0
#define SSEHUB_VERSION_STRING "0.2.0"
/* One number that orders versions: 0xMMmmpp. */
#define SSEHUB_VERSION_NUM                                    \
  ((SSEHUB_VERSION_MAJOR << 16) | (SSEHUB_VERSION_MINOR << 8) \
   | SSEHUB_VERSION_PATCH)

#if defined(__GNUC__) && defined(SSEHUB_BUILDING)
#define SSEHUB_API __attribute__((visibility("default")))
#else
#define SSEHUB_API
#endif

struct ssehub;

/* The version of the library loaded at run time, as SSEHUB_VERSION_NUM
 * and as text ("0.2.0"). */
SSEHUB_API unsigned ssehub_version(void);
SSEHUB_API const char *ssehub_version_string(void);

enum ssehub_log_level {
  SSEHUB_LOG_ERROR = 0,
  SSEHUB_LOG_WARNING = 1,
  SSEHUB_LOG_INFO = 2,
  SSEHUB_LOG_DEBUG = 3
};

/* Receives one log line (no trailing newline). Called from any of the
 * hub's threads, so it must be thread-safe. */
typedef void (*ssehub_log_fn)(void *cls, enum ssehub_log_level level,
                              const char *line);

/* One line of the access log: a request the hub answered, or a stream
 * that ended. Every pointer is valid only during the callback; copy what
 * you keep. New fields are appended at the end (the hub allocates the
 * record, so a callback built against an older header reads only the
 * fields it knows). */
/* clang-format off */
struct ssehub_access {
  const char *client;     /* the peer's address, "203.0.113.5" or
                             "2001:db8::1" ("-" if unknown) */
  const char *method;     /* "GET", "POST", ... as the client sent it */
  const char *path;       /* the path without the query string: an
                             ?access_token= never reaches the log */
  unsigned status;        /* the HTTP status answered (200 for a stream) */
  uint64_t bytes;         /* body bytes handed to the socket (a stream:
                             every byte of the event stream) */
  uint64_t duration_ms;   /* request: from its first byte handled to its
                             answer; stream: from admission to its end */
  const char *end;        /* NULL for a request; a stream's reason to end:
                             "peer_hangup" (the client went away),
                             "slow_client" (over client_buffer),
                             "memory_cut" (over max_buffered),
                             "stopping" (the server stops),
                             "send_error" (a write failed mid-event),
                             "closed" (libmicrohttpd closed it: a send
                             error, the idle timeout); or a stream refused
                             with the when_full retry answer (a 200):
                             "overload_full", "overload_per_ip",
                             "overload_fds" */
};
/* clang-format on */

/* Receives one access record. Called on a libmicrohttpd worker thread,
 * for a stream from its response's free callback, with no hub lock held;
 * it must be thread-safe and should not block (it delays that worker's
 * other connections). It must not call ssehub_stop() or ssehub_free(). */
typedef void (*ssehub_access_fn)(void *cls, const struct ssehub_access *a);

/* Options of a hub. Fill it with ssehub_options_default(&o) first (which
 * sets size), then change what you need. New options are appended at the
 * end, with defaults that keep the old behaviour. */
/* clang-format off */
struct ssehub_options {
  size_t size;                /* sizeof the struct the caller was built
                                 with; set by ssehub_options_default() */
  const char *bind_address;   /* "127.0.0.1", "::1", "[::1]", or with a
                                 port that overrides port: "[::1]:8888",
                                 "127.0.0.1:8888"; NULL = all addresses,
                                 IPv6 and IPv4 on one dual-stack socket
                                 (IPv4 alone, with a warning, without
                                 IPv6) */
  uint16_t port;              /* TCP port; 0 = any free port (ssehub_port()) */
  unsigned threads;           /* MHD worker threads, and threads that
                                 share each fan-out; 0 = the cores this
                                 process may run on */
  unsigned max_clients;       /* stream limit (429 above it); 0 = derived
                                 from RLIMIT_NOFILE */
  size_t client_buffer;       /* max unsent bytes queued per client; a
                                 client over it is disconnected */
  size_t max_event_size;      /* max data bytes per event (413 above) */
  unsigned publish_queue;     /* events waiting for the broadcaster;
                                 it bounds how long an accepted event
                                 waits (half a batch by default). Over it
                                 ssehub_publish() returns -EAGAIN and
                                 POST /publish waits (publish_wait_ms) */
  unsigned heartbeat_ms;      /* comment frame interval; 0 = none */
  unsigned retry_after_s;     /* Retry-After sent with 429/503; the base
                                 of when_full retry's jittered "retry:" */
  size_t connection_memory;   /* MHD per-connection pool: bounds request
                                 headers (about half of it; cookies a
                                 quarter: 32 KiB takes 8 KiB of them);
                                 parked streams give the unused part back */
  unsigned connection_timeout_s; /* close a connection that makes no
                                 progress this long (stalled reader,
                                 slow request); suspended idle streams
                                 never time out */
  unsigned header_timeout_s;  /* close a connection whose first request
                                 is not complete this long after it was
                                 accepted (slow-loris); 0 = never */
  size_t history_size;        /* events kept for Last-Event-ID replay;
                                 0 = none */
  unsigned history_age_ms;    /* also forget events older than this;
                                 0 = no age limit */
  unsigned retry_ms;          /* "retry:" sent on connect; 0 = none */
  const char *const *cors_origins; /* origins allowed cross-origin, or
                                 "*"; NULL/0 = no CORS headers */
  unsigned ncors_origins;
  int demo_page;              /* nonzero: serve the demo page at / */
  const char *publish_token;  /* POST /publish needs "Authorization:
                                 Bearer <token>"; NULL = no token */
  int publish_open;           /* without a token: nonzero lets any
                                 address publish, 0 only loopback */
  const char *subscribe_token; /* /sse needs this token (bearer header,
                                 cookie ssehub_token or access_token
                                 query parameter); NULL = open */
  unsigned max_clients_per_ip; /* streams per client address; 0 = any */
  unsigned publish_rate;      /* publishes per second per address
                                 (burst the same); 0 = unlimited */
  size_t max_buffered;        /* ceiling on the unsent bytes of all
                                 clients together (each client's backlog
                                 counted in full); over it the clients
                                 furthest behind are cut; 0 = none */
  const char *tls_cert_pem;   /* PEM certificate (chain) and key, in
                                 memory; both set = serve HTTPS */
  const char *tls_key_pem;
  ssehub_log_fn log;          /* NULL = stderr */
  void *log_cls;
  enum ssehub_log_level log_level;
  unsigned publish_wait_ms;   /* POST /publish with the queue full: hold
                                 the request this long for room before
                                 answering 503; 0 = refuse at once (with
                                 Redis: how long a publish may wait for
                                 Redis to take it) */
  const char *redis_url;      /* the Redis engine: "redis://[user:pass@]
                                 host:port/db" or "unix:///path"; NULL =
                                 the in-memory engine (one process) */
  const char *redis_password; /* overrides one in the URL; NULL = none */
  const char *redis_stream;   /* the stream's key; NULL = "ssehub" */
  int reuse_port;             /* nonzero: SO_REUSEPORT, so several
                                 processes share the port */
  const char *admin_bind;     /* "ADDR:PORT" ("127.0.0.1:9100",
                                 "[::1]:9100"): serve /metrics, /stats,
                                 /healthz and /readyz, open to whoever
                                 reaches it, on a second daemon there
                                 (ssehub_listen()), and not on the main
                                 one; NULL = on the main daemon, allowed
                                 as publishing is */
  /* -- access log (issue 12, part 6) -- */
  ssehub_access_fn access_log; /* one call per answered request and per
                                 ended stream; NULL = none (the hub then
                                 does no access bookkeeping) */
  void *access_log_cls;
  /* -- signed per-topic tokens (issue 13, part 2) -- */
  const void *jwt_key;        /* the key signed tokens (JWT) are checked
                                 with, copied: PEM text of an RSA or EC
                                 public key (RS256, ES256/384/512), or
                                 else an HS256 secret of at least 32
                                 bytes; NULL = no signed tokens. Needs a
                                 build with libjwt (else -ENOTSUP) */
  size_t jwt_key_len;         /* its bytes; 0 = strlen(jwt_key) */
  /* -- client addresses (issue 13, parts 3 and 4) -- */
  const char *const *trusted_proxies; /* networks ("10.0.0.0/8",
                                 "::1/128", or one address) of reverse
                                 proxies: for requests from them the client
                                 is the right-most address of
                                 X-Forwarded-For (else Forwarded) that is
                                 not itself trusted, for every use of the
                                 address; NULL/0 = trust no header */
  unsigned ntrusted_proxies;  /* at most 64 */
  unsigned ipv6_prefix;       /* per-IP limits and publish rates count
                                 IPv6 clients by this many leading bits,
                                 1-128 (default 64: one subscriber's
                                 network); IPv4 clients by address */
  /* -- overload a plain EventSource rides out (issue 13, part 1) -- */
  int when_full;              /* a stream refused for a limit (max_clients,
                                 max_clients_per_ip, the open-file budget)
                                 gets SSEHUB_WHEN_FULL_429 (the default
                                 here, the old behaviour: 429 and
                                 Retry-After) or SSEHUB_WHEN_FULL_RETRY
                                 (200 text/event-stream: a jittered
                                 "retry:" around retry_after_s, one
                                 ssehub-overload event, end of stream, so
                                 a browser's EventSource comes back by
                                 itself); the ssehub program defaults to
                                 retry */
};
/* clang-format on */

/* Values of ssehub_options.when_full. */
enum ssehub_when_full { SSEHUB_WHEN_FULL_429 = 0, SSEHUB_WHEN_FULL_RETRY = 1 };

/* Fill o with the defaults: port 8888, all addresses, one thread per core,
 * 1 MiB client buffer, 64 KiB events, 32-event publish queue (5 s hold
 * for POST /publish when full), 15 s heartbeat, 32 KiB connection memory,
 * 60 s connection timeout, 10 s header timeout, 1000 events of history,
 * retry 3000 ms, demo page on, no CORS, publishing from loopback only,
 * 256 MiB max_buffered, no other limits, no TLS; and o->size. The macro
 * passes sizeof(*o), so the library writes only the fields the caller's
 * struct has. */
#define ssehub_options_default(o) ssehub_options_init((o), sizeof(*(o)))
SSEHUB_API void ssehub_options_init(struct ssehub_options *o, size_t size);

/* Create a hub and start its broadcaster thread (it does not listen yet).
 * Returns NULL on error, with *err (if not NULL) set to a negative errno:
 * -EINVAL for inconsistent options (or o->size not set by
 * ssehub_options_default(), or options this library does not know set to
 * something other than zero, or a jwt_key that is no usable key),
 * -ENOTSUP for a jwt_key in a build without JWT support, -ENOMEM. */
SSEHUB_API struct ssehub *ssehub_new(const struct ssehub_options *o, int *err);

/* Start the hub's own MHD daemon on options.bind_address:port. Returns 0,
 * -EADDRINUSE when the port is taken, -EADDRNOTAVAIL for a bad address,
 * -EALREADY if already listening, or another negative errno. */
SSEHUB_API int ssehub_listen(struct ssehub *hub);

/* The port the hub's own daemon listens on (useful with port 0), 0 if not
 * listening. */
SSEHUB_API uint16_t ssehub_port(const struct ssehub *hub);

/* The URL the hub's own daemon listens on, such as "http://[::]:8888/"
 * (all IPv6 and, dual-stack, IPv4 addresses), "http://0.0.0.0:8888/" or
 * "https://[::1]:8443/", IPv6 in brackets, into buf (NUL-terminated,
 * truncated to size). Returns the length it needed, or 0 (and "") when
 * the hub does not listen. */
SSEHUB_API size_t ssehub_url(const struct ssehub *hub, char *buf, size_t size);

/* clang-format off */
struct ssehub_event {
  const char *data;       /* valid UTF-8; line breaks split data lines */
  size_t data_len;
  const char *event;      /* optional event name: valid UTF-8, no control
                             character (CR, LF, NUL, ...: Unicode Cc) */
  const char *id;         /* optional id, the same, 1-256 bytes;
                             NULL = the hub assigns "<epoch>-<seq>" */
  long retry;             /* optional reconnection time in ms; -1 = none */
  const char *const *topics; /* deliver to subscribers of these topics
                             (at most 16, each 1-256 bytes of valid UTF-8
                             without control characters, not "*");
                             none = to every subscriber */
  unsigned ntopics;
};
/* clang-format on */

/* Queue ev for every connected client (a broadcast). Safe from
 * any thread. On success *seq (if not NULL) receives the event's sequence
 * number; sequence numbers increase strictly in publish order, which is
 * also the order every client receives events in.
 * With Redis (redis_url), the event is queued for the stream: 0 means
 * queued, *seq is 0 (the id is Redis's to give), and an event Redis does
 * not take within publish_wait_ms is logged and counted
 * (publish_link_refused); ssehub_publish_wait() returns only once Redis
 * has it, with its id as *seq.
 * Returns 0; -EINVAL for a field that would corrupt the stream or is not
 * valid UTF-8 (data included: doc/protocol.md, "Text"); -EMSGSIZE
 * for data over max_event_size; -EAGAIN when the publish queue is full
 * (nothing was queued: retry later); -ESHUTDOWN once stopping; -ENOMEM. */
SSEHUB_API int ssehub_publish(struct ssehub *hub, const struct ssehub_event *ev,
                              uint64_t *seq);

/* As ssehub_publish(), but while the publish queue is full the calling
 * thread sleeps until there is room (as POST /publish does), for at most
 * timeout_ms (< 0: no limit; 0: do not wait). Returns -EAGAIN only when
 * the time ran out, -ESHUTDOWN if the hub stops meanwhile. Any thread
 * except from within the hub's log callback, which may run on the thread
 * that makes room. */
SSEHUB_API int ssehub_publish_wait(struct ssehub *hub,
                                   const struct ssehub_event *ev, uint64_t *seq,
                                   long timeout_ms);

/* Write the hub-assigned id of the event with sequence number seq
 * ("<epoch>-<seq>"; with Redis the stream id "<ms>-<n>") into buf.
 * Returns its length (snprintf-style). */
SSEHUB_API int ssehub_event_id(const struct ssehub *hub, uint64_t seq,
                               char *buf, size_t cap);

/* Convenience: publish data only. */
SSEHUB_API int ssehub_publish_text(struct ssehub *hub, const char *data,
                                   size_t len, uint64_t *seq);

/* Number of registered stream clients. Safe from any thread. */
SSEHUB_API size_t ssehub_client_count(struct ssehub *hub);

/* The hub's statistics, one line each: X(name, kind, help).
 *
 * This table is the only place a statistic is named: struct ssehub_stats,
 * the hub's internal counters, ssehub_get_stats(), GET /stats and the
 * metrics output are all generated from it. kind is COUNTER (counts
 * up from 0 for the hub's lifetime) or GAUGE (a level, computed when read).
 * Append new lines at the end: the order is the layout of struct
 * ssehub_stats, which binaries built against an older header rely on. */
#define SSEHUB_STATS(X)                                                     \
  X(clients, GAUGE, "streams now registered")                               \
  X(clients_total, COUNTER, "streams ever admitted")                        \
  X(rejected_full, COUNTER, "streams refused with 429: over max_clients")   \
  X(slow_disconnects, COUNTER, "streams cut off: over client_buffer")       \
  X(published, COUNTER, "events accepted for publishing")                   \
  X(publish_refused, COUNTER,                                               \
    "publishes refused because the queue stayed full (-EAGAIN, 503)")       \
  X(frames_queued, COUNTER, "frames placed in client rings or written")     \
  X(bytes_sent, COUNTER, "stream bytes handed to the sockets")              \
  X(hangups, COUNTER, "streams ended because the peer went away")           \
  X(resumes, COUNTER, "streams that asked to resume (Last-Event-ID)")       \
  X(topics, GAUGE, "topics with at least one subscriber")                   \
  X(buffered_bytes, GAUGE, "unsent stream bytes queued, all clients")       \
  X(memory_cuts, COUNTER, "streams cut off: over max_buffered")             \
  X(rejected_per_ip, COUNTER,                                               \
    "streams refused with 429: over max_clients_per_ip")                    \
  X(rate_limited, COUNTER, "publishes refused with 429: over publish_rate") \
  X(unauthorized, COUNTER, "requests refused with 401 or 403")              \
  X(bad_requests, COUNTER, "requests refused with 400")                     \
  X(too_large, COUNTER, "publishes refused with 413")                       \
  X(headers_too_large, COUNTER,                                             \
    "requests refused with 431 or 414: over connection_memory")             \
  X(header_timeouts, COUNTER,                                               \
    "connections closed for not completing a request in header_timeout")    \
  X(direct_writes, COUNTER,                                                 \
    "batches written straight to an idle stream's socket")                  \
  X(direct_tails, COUNTER,                                                  \
    "direct writes the socket took only in part, finished when writable")   \
  X(publish_held, COUNTER,                                                  \
    "POST /publish requests that found the queue full and waited")          \
  X(fds, GAUGE, "open file descriptors of the process (0: unknown)")        \
  X(redis_link_up, GAUGE, "1 while the link to Redis works, else 0")        \
  X(redis_lag_ms, GAUGE,                                                    \
    "age of the newest stream entry when read (0: caught up)")              \
  X(redis_reconnects, COUNTER, "connections to Redis made again")           \
  X(publish_link_refused, COUNTER,                                          \
    "publishes refused because Redis did not take them in time (503)")      \
  X(redis_gaps, COUNTER,                                                    \
    "times entries were trimmed before this node read them (told)")         \
  X(heartbeats, COUNTER, "heartbeat rounds sent to every open stream")      \
  X(shutdown_ends, COUNTER, "streams ended because the hub stopped")        \
  X(refused_stopping, COUNTER,                                              \
    "streams and publishes refused with 503: the hub is stopping")          \
  X(queue_depth, GAUGE, "events waiting in the publish queue")              \
  X(publish_waiting, GAUGE,                                                 \
    "publishers now held waiting for room in the publish queue")            \
  X(history_events, GAUGE, "events kept for Last-Event-ID replay")          \
  X(log_dropped, COUNTER,                                                   \
    "log lines dropped because the log sink was full (told by the sink)")   \
  X(jwt_refused, COUNTER,                                                   \
    "signed tokens refused with 401: bad signature or algorithm, "          \
    "expired, not yet valid, malformed, too large (also in unauthorized)")  \
  X(jwt_forbidden, COUNTER,                                                 \
    "requests refused with 403: a topic outside the token's claim "         \
    "(also in unauthorized)")                                               \
  X(rejected_fds, COUNTER,                                                  \
    "streams refused with 429: near the open-file limit")                   \
  X(overload_full, COUNTER,                                                 \
    "streams answered ssehub-overload (200): over max_clients")             \
  X(overload_per_ip, COUNTER,                                               \
    "streams answered ssehub-overload (200): over max_clients_per_ip")      \
  X(overload_fds, COUNTER,                                                  \
    "streams answered ssehub-overload (200): near the open-file limit")

#define SSEHUB_STATS_FIELD_(name, kind, help) uint64_t name;
struct ssehub_stats {
  SSEHUB_STATS(SSEHUB_STATS_FIELD_)
};
#undef SSEHUB_STATS_FIELD_

/* Snapshot of the statistics into *st. Safe from any thread. Call it as
 * ssehub_get_stats(hub, &st): the macro passes sizeof(st), so a program
 * built against an older, shorter struct ssehub_stats gets its fields and
 * nothing is written past them. */
#define ssehub_get_stats(hub, st) \
  ssehub_get_stats_size((hub), (st), sizeof(*(st)))
SSEHUB_API void ssehub_get_stats_size(struct ssehub *hub,
                                      struct ssehub_stats *st, size_t size);

/* Apply new options to a running hub without dropping a stream (what the
 * ssehub program does on SIGHUP). o is a complete set, filled like
 * ssehub_new()'s (ssehub_options_default() first); its strings are
 * copied.
 *
 * Changes at once: publish_token, subscribe_token, jwt_key and
 * publish_open (the next request is checked against the new ones; a
 * token signed with the old key is refused from then on), max_clients
 * (up to the value in force at ssehub_new(), which sized the tables),
 * max_clients_per_ip and publish_rate, max_buffered, max_event_size,
 * publish_wait_ms, retry_after_s, when_full, cors_origins,
 * trusted_proxies, heartbeat_ms, log_level,
 * history_size and history_age_ms (the newest events are kept). For
 * streams opened from then on: client_buffer, and retry_ms (the ":ok"
 * preamble a stream gets on connect); open streams keep theirs.
 *
 * Cannot change: port, bind_address, threads, max_clients above the
 * start value, publish_queue, connection_memory, connection_timeout_s,
 * header_timeout_s, demo_page, the TLS certificate and key, reuse_port,
 * admin_bind, ipv6_prefix (a stream is released under the key it was
 * counted with),
 * the Redis settings (and, with Redis, history_size and history_age_ms);
 * log and log_cls are ignored. Each of these that differs from the value
 * in force is logged once, as a warning "<key> changed: needs a restart"
 * (key: the ssehub program's flag, e.g. "port", "tls-cert"), and
 * otherwise ignored.
 *
 * All or nothing: invalid options (as ssehub_new() would refuse) or a
 * failed allocation change nothing and are logged as an error.
 *
 * Returns the number of settings that need a restart (0: all applied),
 * -EINVAL, -ENOMEM, or -ESHUTDOWN once stopping. Call it from the thread
 * that controls the hub (the one that calls ssehub_stop()), never from
 * the log callback; requests, publishes and the hub's own threads go on
 * meanwhile. */
SSEHUB_API int ssehub_reload(struct ssehub *hub,
                             const struct ssehub_options *o);

/* Count n log lines (or access lines) that the embedder's log sink
 * dropped, in the log_dropped statistic: a log callback returns nothing,
 * so a sink that drops lines rather than block the hub's threads says so
 * here. Safe from any thread (one atomic add; it never logs). */
SSEHUB_API void ssehub_count_log_dropped(struct ssehub *hub, uint64_t n);

/* Graceful stop: refuse new streams (503), let the broadcaster deliver what
 * is queued, send every stream a "retry:" jittered by +-50 % around
 * retry_ms (retry_after_s when retry_ms is 0), so that its clients do not
 * all come back in the same second, end it with a clean end of body, and
 * stop the hub's own daemon if it has one. Bounded: streams that have not finished within
 * about half a second are closed. Idempotent. After it, publish returns
 * -ESHUTDOWN. */
SSEHUB_API void ssehub_stop(struct ssehub *hub);

/* Stop (if needed) and free the hub. NULL-safe. When embedded, call it only
 * after your own daemon has been stopped. */
SSEHUB_API void ssehub_free(struct ssehub *hub);

/* Text for a negative errno returned by this API. */
SSEHUB_API const char *ssehub_strerror(int err);

/* Embedding in your own daemon
 *
 *   Start your daemon with MHD_ALLOW_SUSPEND_RESUME and an internal polling
 *   thread or thread pool (not thread-per-connection), set
 *   MHD_OPTION_CONNECTION_LIMIT above max_clients (MHD's default of 1020
 *   would hold extra clients in the listen queue instead of answering 429),
 *   and pass ssehub_mhd_completed (with the hub as closure) as
 *   MHD_OPTION_NOTIFY_COMPLETED, or call it from your own callback.
 *   Optionally pass ssehub_mhd_connection (hub as closure) as
 *   MHD_OPTION_NOTIFY_CONNECTION for the header deadline (slow-loris).
 *   Route requests to ssehub_mhd_handler() with the hub as cls, passing
 *   con_cls through untouched; the hub owns *con_cls for those requests.
 *   url is matched as "/sse", "/publish", "/stats", "/metrics",
 *   "/healthz" or "/readyz" (strip your prefix); the last four are
 *   allowed as publishing is, or, with admin_bind set, answered 404 (only
 *   ssehub_listen()'s admin daemon serves them then).
 *   Shut down in this order: ssehub_stop(hub); MHD_stop_daemon(d);
 *   ssehub_free(hub). Stopping your daemon first would abort the process
 *   (MHD panics when suspended connections remain).
 *   examples/embed.c is a complete program that does all of this.
 */
SSEHUB_API enum MHD_Result ssehub_mhd_handler(
    void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size,
    void **con_cls);

SSEHUB_API void ssehub_mhd_completed(void *cls, struct MHD_Connection *conn,
                                     void **con_cls,
                                     enum MHD_RequestTerminationCode toe);

SSEHUB_API void ssehub_mhd_connection(void *cls, struct MHD_Connection *conn,
                                      void **socket_context,
                                      enum MHD_ConnectionNotificationCode code);

#ifdef __cplusplus
}
#endif

#endif /* SSEHUB_H */
