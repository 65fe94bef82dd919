/*
 * loadgen.c - benchmark load client for ssehub (Server-Sent Events).
 *
 * Opens N subscriber streams (GET /sse) from source addresses 127.0.0.2,
 * .3, ... over T epoll threads, publishes numbered, timestamped events
 * (POST /publish, text/plain) from one publisher thread, and checks that
 * every subscriber gets every event exactly once and in order; measures
 * delivery latency and broadcast fan-out completion time.
 *
 * Build (standalone, not part of the autotools build):
 *   gcc -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
 *       -Wmissing-prototypes -Wformat=2 -Wvla -D_GNU_SOURCE -pthread \
 *       -o /tmp/loadgen scripts/loadgen.c -lm
 *
 * Examples (server: src/ssehub --bind 127.0.0.1 --port 18900 --heartbeat 0):
 *   loadgen --port 18900 --clients 1000 --rate 10 --duration 5
 *   loadgen --port 18900 --clients 1000 --closed-loop --duration 5 --json r.json
 *   loadgen --port 18900 --clients 5000 --hold --duration 30  # "HOLDING n"
 *
 * Clusters (several nodes joined by Redis): --port P1,P2,P3 spreads the
 * subscribers over the nodes in turn and publishes go to the --publish-port
 * list in turn (default: the same ports), over --publish-conns keep-alive
 * connections (with one SO_REUSEPORT port, several connections land on
 * several nodes). --source binds the subscribers to given loopback
 * addresses, so that several load processes use disjoint ones. --listen
 * publishes nothing and checks events published by someone else (the
 * 100,000-subscriber run: one publisher, several load processes); its
 * JSON lists each event's deliveries and the latency histogram, to merge.
 *   loadgen --port 18901,18902,18903 --clients 1000 --rate 100 --duration 10
 *   loadgen --port 18900 --clients 16000 --listen --duration 400 \
 *           --source 127.0.1.1-127.0.1.4 --json part1.json
 *
 * Timeline: at t=0 connecting (paced by --connect-rate) and publishing
 * start together. The measurement window runs from max(--warmup, the
 * moment every client has connected or failed) to --duration, when
 * publishing stops. Then at most 2.4 s of drain (until every live
 * subscriber has the last accepted event), then every socket is closed:
 * with the server's /stats fetched before and after, the whole run never
 * takes longer than --duration + 3 s. Latency and fan-out figures
 * cover events sent inside the window; delivery counts (expected,
 * received, lost, ...) cover the whole run.
 *
 * Exit status: 0 run completed; 1 run completed but deliveries were lost,
 * duplicated or reordered; 2 bad usage; 3 setup failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, strcasestr, RUSAGE_THREAD */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define NS_PER_S 1000000000LL
#define NS_PER_MS 1000000LL
#define LINE_CAP 96            /* bytes kept of each line (prefix) */
#define RDBUF_SIZE (64 * 1024) /* read buffer, one per worker thread */
#define MAX_THREADS 64
#define FD_RESERVE 64
/* Drain cap. It plus two /stats requests and closing the sockets keep
 * every run within --duration + 3 s. */
#define DRAIN_NS (2400 * NS_PER_MS)
#define STATS_TIMEOUT_NS (250 * NS_PER_MS)
#define CONNECT_TIMEOUT_NS (10 * NS_PER_S)
#define PUB_IO_TIMEOUT_NS (1 * NS_PER_S)
#define SEQ_CAP_MAX (1ULL << 24) /* events per run (fan-out table) */
#define MAX_ERRNO 160
#define PAYLOAD_PREFIX_MAX 41    /* strlen("<u64> <i64>") at most */
#define MAX_PORTS 64             /* --port / --publish-port lists */
#define MAX_SRC 1024             /* --source addresses */
#define MAX_PUB_CONNS 64         /* --publish-conns */
#define LISTEN_EVENTS_MAX 100000 /* per-event rows in --listen JSON */

/* ------------------------------------------------------------------ */
/* options */

struct options {
  char host_str[INET_ADDRSTRLEN];
  struct in_addr host;
  int port, publish_port; /* the first of each list */
  int ports[MAX_PORTS], publish_ports[MAX_PORTS];
  unsigned nports, npublish_ports, publish_conns;
  unsigned clients, sources, threads;
  uint32_t src[MAX_SRC]; /* --source addresses, host order; 0 = none */
  unsigned nsrc;
  double rate;
  int closed_loop, rate_given;
  double duration, warmup, connect_rate;
  size_t size, cookie;
  const char *json, *path, *publish_path;
  int hold, http10, listen;
  uint64_t expect_events; /* --listen: events 1..N expected (0 = seen) */
};

static struct options O;

/* ------------------------------------------------------------------ */
/* shared state */

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define RLOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
/* Counters written by one thread only and read by others for progress. */
#define BUMP(w, f, k) \
  __atomic_store_n(&(w)->st.f, (w)->st.f + (uint64_t) (k), __ATOMIC_RELAXED)

static int64_t g_t0, g_deadline, g_hard_end;
static int64_t g_win_start = INT64_MAX; /* set once all clients resolved */
static int64_t g_win_end = INT64_MAX;
static uint64_t g_sent_hi;   /* highest seq whose request was started */
static uint64_t g_acc_hi;    /* highest seq accepted (200); 1..acc_hi all */
static uint64_t g_final_seq; /* acc_hi when publishing ended */
static int g_ending, g_draining, g_stop;
static volatile sig_atomic_t g_signal;
static struct sockaddr_in g_srv; /* the first port: /stats */
static struct sockaddr_in g_srvs[MAX_PORTS], g_pub_srvs[MAX_PORTS];

/* Per event: when it was sent, when its last delivery arrived and how
 * many deliveries there were. Indexed by seq; a lazily backed mapping. */
struct fo_slot {
  int64_t send_ns;
  int64_t max_recv;
  uint32_t count;
  uint32_t pad;
};

static struct fo_slot *g_fo;
static uint64_t g_seq_cap;

/* ------------------------------------------------------------------ */
/* time */

static int64_t now_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
  struct timespec ts;

  ts.tv_sec = (time_t) (t / NS_PER_S);
  ts.tv_nsec = (long) (t % NS_PER_S);
  while (EINTR == clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)
         && !g_signal)
    ;
}

static double secs(int64_t ns)
{
  return (double) ns / 1e9;
}

/* ------------------------------------------------------------------ */
/* histogram: 1 us resolution below 1024 us, then 512 sub-buckets per
 * power of two (relative error < 0.2 %) up to 2^24 us (16.7 s). */

#define H_SUB_BITS 9
#define H_SUB (1u << H_SUB_BITS)
#define H_LIN (2u * H_SUB)
#define H_MAXEXP 24u
#define H_BUCKETS (H_LIN + (H_MAXEXP - (H_SUB_BITS + 1)) * H_SUB + 1)

struct hist {
  uint64_t count;
  uint64_t max_ns;
  uint64_t b[H_BUCKETS];
};

static unsigned h_index(uint64_t us)
{
  unsigned e;

  if (us < H_LIN)
    return (unsigned) us;
  e = 63u - (unsigned) __builtin_clzll(us);
  if (e >= H_MAXEXP)
    return H_BUCKETS - 1;
  return H_LIN + (e - (H_SUB_BITS + 1)) * H_SUB
         + ((unsigned) (us >> (e - H_SUB_BITS)) - H_SUB);
}

/* Exclusive upper edge of bucket i, in us. */
static uint64_t h_upper_us(unsigned i)
{
  unsigned j, e;

  if (i < H_LIN)
    return i + 1;
  j = i - H_LIN;
  e = j / H_SUB + H_SUB_BITS + 1;
  return (uint64_t) (H_SUB + j % H_SUB + 1) << (e - H_SUB_BITS);
}

static void hist_add(struct hist *h, int64_t ns)
{
  uint64_t v = ns > 0 ? (uint64_t) ns : 0;

  h->b[h_index(v / 1000)]++;
  h->count++;
  if (v > h->max_ns)
    h->max_ns = v;
}

static void hist_merge(struct hist *dst, const struct hist *src)
{
  unsigned i;

  for (i = 0; i < H_BUCKETS; i++)
    dst->b[i] += src->b[i];
  dst->count += src->count;
  if (src->max_ns > dst->max_ns)
    dst->max_ns = src->max_ns;
}

/* p-th percentile in ms: the upper edge of the bucket holding it (never
 * more than the exact maximum). */
static double hist_pct_ms(const struct hist *h, double p)
{
  uint64_t target, cum = 0;
  unsigned i;

  if (0 == h->count)
    return 0.0;
  target = (uint64_t) ceil(p / 100.0 * (double) h->count);
  if (target < 1)
    target = 1;
  for (i = 0; i < H_BUCKETS; i++) {
    cum += h->b[i];
    if (cum >= target) {
      double ms = (double) h_upper_us(i) / 1000.0;
      double mx = (double) h->max_ns / 1e6;

      return (i == H_BUCKETS - 1 || ms > mx) ? mx : ms;
    }
  }
  return (double) h->max_ns / 1e6;
}

/* ------------------------------------------------------------------ */
/* subscriber connections */

enum { C_IDLE, C_CONNECTING, C_SENDING, C_HEADERS, C_BODY, C_CLOSED };
enum { K_SIZE, K_EXT, K_DATA, K_DATA_CR, K_DATA_LF, K_TRAILER };
enum why {
  F_CONNECT,
  F_IO,
  F_RESET,
  F_EOF,
  F_PROTO,
  F_TIMEOUT,
  F_STATUS,
  F_ENDED,
  F_SHUTDOWN
};

struct conn {
  int fd;
  uint32_t idx; /* global index */
  uint8_t state, chunked, ck_state, ck_flag;
  uint8_t first_frame_seen, got_ok, f_data, f_comment, f_ok, f_multi;
  uint8_t ev_ok, have_first, was_connected, last_ch;
  uint16_t line_len, status, req_off;
  uint64_t line_total; /* full length of the current line */
  uint64_t ck_left;    /* bytes left in the current chunk */
  int64_t clen_left;   /* identity body: bytes left, -1 = to EOF */
  int64_t t_start;
  uint64_t ev_seq, ev_dlen;
  int64_t ev_ts;
  uint64_t start_guar; /* first seq surely published after admit */
  uint64_t end_acc;    /* acc_hi when the stream ended */
  uint64_t min_seq, last_seq, bits;
  uint64_t received, unique, dups, reord;
  char line[LINE_CAP + 1];
};

struct wstats {
  uint64_t attempted, connected, s429, sother, conn_err, io_err, resets;
  uint64_t srv_closed, srv_ended, early_close, timeouts, proto_err;
  uint64_t resolved, live;
  uint64_t deliveries, win_deliveries, gaps, dups, reord, foreign;
  uint64_t size_bad, heartbeats, bytes, no_ok;
};

struct worker {
  struct wstats st; /* first: its own cache lines */
  char pad0[64];
  pthread_t th;
  unsigned id;
  int ep;
  struct conn *conns;
  unsigned n, next;
  int drained;
  int ru_have0, ru_have1;
  struct rusage ru0, ru1;
  int64_t ru_t0, ru_t1;
  size_t req_len;
  char req[62 * 1024]; /* the subscribe request (with --cookie) */
  uint64_t err_errno[MAX_ERRNO];
  struct hist lat;
  char rdbuf[RDBUF_SIZE];
};

static struct worker **g_w;

/* Publisher figures; written by the publisher thread, read after join. */
static struct {
  uint64_t attempts, accepted, r503, r429, bad_status, io_errors, ambiguous;
  uint64_t connects;
  int last_bad, fatal, capped;
  int64_t t_first, t_last;
  char last_bad_text[128];
  struct hist rtt;
} g_pub;

static void count_errno(struct worker *w, int e)
{
  w->err_errno[(e > 0 && e < MAX_ERRNO) ? e : 0]++;
}

static void conn_end(struct worker *w, struct conn *c, enum why why, int err)
{
  int connected = C_BODY == c->state;

  if (C_CLOSED == c->state)
    return;
  if (!connected && F_SHUTDOWN != why && C_IDLE != c->state)
    BUMP(w, resolved, 1);
  switch (why) {
  case F_CONNECT:
    BUMP(w, conn_err, 1);
    count_errno(w, err);
    break;
  case F_IO:
    BUMP(w, io_err, 1);
    count_errno(w, err);
    break;
  case F_RESET:
    BUMP(w, resets, 1);
    break;
  case F_EOF:
    if (connected)
      BUMP(w, srv_closed, 1);
    else
      BUMP(w, early_close, 1);
    break;
  case F_PROTO:
    BUMP(w, proto_err, 1);
    break;
  case F_TIMEOUT:
    BUMP(w, timeouts, 1);
    break;
  case F_ENDED:
    BUMP(w, srv_ended, 1);
    break;
  case F_STATUS:
  case F_SHUTDOWN:
    break;
  }
  if (c->fd >= 0) {
    close(c->fd);
    c->fd = -1;
  }
  if (connected) {
    c->end_acc = LOAD(g_acc_hi);
    BUMP(w, live, -1);
  }
  c->state = C_CLOSED;
}

static int64_t connect_due(const struct worker *w, unsigned k)
{
  double gi = (double) k * O.threads + w->id;

  if (O.connect_rate <= 0)
    return g_t0;
  return g_t0 + (int64_t) (gi * 1e9 / O.connect_rate);
}

static void conn_start(struct worker *w, struct conn *c, int64_t now)
{
  struct sockaddr_in src;
  struct epoll_event ev;
  int one = 1, fd, rc;

  BUMP(w, attempted, 1);
  c->t_start = now;
  c->state = C_CONNECTING;
  fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    conn_end(w, c, F_CONNECT, errno);
    return;
  }
  c->fd = fd;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
  memset(&src, 0, sizeof(src));
  src.sin_family = AF_INET;
  if (O.nsrc > 0)
    src.sin_addr.s_addr = htonl(O.src[c->idx % O.nsrc]);
  else
    src.sin_addr.s_addr = htonl(0x7f000002u + c->idx % O.sources);
  if (0 != bind(fd, (struct sockaddr *) &src, sizeof(src))) {
    conn_end(w, c, F_CONNECT, errno);
    return;
  }
  rc = connect(fd, (struct sockaddr *) &g_srvs[c->idx % O.nports],
               sizeof(g_srvs[0]));
  if (0 != rc && EINPROGRESS != errno) {
    conn_end(w, c, F_CONNECT, errno);
    return;
  }
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLOUT;
  ev.data.ptr = c;
  if (0 != epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev))
    conn_end(w, c, F_CONNECT, errno);
}

/* Append bytes up to (not including) the next LF to the line prefix;
 * returns the bytes consumed (including the LF) and sets *done at LF. */
static size_t take_line(struct conn *c, const char *p, size_t n, int *done)
{
  const char *nl = memchr(p, '\n', n);
  size_t seg = NULL != nl ? (size_t) (nl - p) : n;

  if (c->line_len < LINE_CAP) {
    size_t room = LINE_CAP - c->line_len;
    size_t k = seg < room ? seg : room;

    memcpy(c->line + c->line_len, p, k);
    c->line_len = (uint16_t) (c->line_len + k);
  }
  if (seg > 0)
    c->last_ch = (uint8_t) p[seg - 1];
  c->line_total += seg;
  *done = NULL != nl;
  return NULL != nl ? seg + 1 : seg;
}

/* Drop the CR of a CRLF line ending; NUL-terminate the prefix. */
static void finish_line(struct conn *c)
{
  if (c->line_total > 0 && '\r' == c->last_ch) {
    c->line_total--;
    if (c->line_len > c->line_total)
      c->line_len = (uint16_t) c->line_total;
  }
  c->line[c->line_len] = '\0';
}

static void reset_line(struct conn *c)
{
  c->line_len = 0;
  c->line_total = 0;
  c->last_ch = 0;
}

static int is_digit(char ch)
{
  return ch >= '0' && ch <= '9';
}

/* "<seq> <ts>..." -> seq, ts. complete: the prefix holds the whole line. */
static int parse_payload(const char *p, size_t n, int complete, uint64_t *seq,
                         int64_t *ts)
{
  uint64_t a = 0;
  int64_t b = 0;
  size_t i = 0, j;

  while (i < n && is_digit(p[i])) {
    if (a > (UINT64_MAX - 9) / 10)
      return 0;
    a = a * 10 + (uint64_t) (p[i++] - '0');
  }
  if (0 == i || i >= n || ' ' != p[i])
    return 0;
  j = ++i;
  while (i < n && is_digit(p[i])) {
    if (b > (INT64_MAX - 9) / 10)
      return 0;
    b = b * 10 + (p[i++] - '0');
  }
  if (i == j || (i == n && !complete))
    return 0;
  *seq = a;
  *ts = b;
  return 1;
}

static void deliver(struct worker *w, struct conn *c, int64_t now)
{
  uint64_t s = c->ev_seq;
  int64_t ws, we, cur;

  if (0 == s || s >= g_seq_cap || NULL == g_fo) {
    BUMP(w, foreign, 1);
    return;
  }
  if (O.listen) {
    /* Published by someone else: the payload's timestamp is the send
     * time (CLOCK_MONOTONIC, the same clock in every process), and the
     * highest seq seen stands for the highest published. */
    uint64_t hi = RLOAD(g_acc_hi);

    if (0 == RLOAD(g_fo[s].send_ns))
      __atomic_store_n(&g_fo[s].send_ns, c->ev_ts, __ATOMIC_RELAXED);
    while (s > hi
           && !__atomic_compare_exchange_n(&g_acc_hi, &hi, s, 1,
                                           __ATOMIC_RELEASE, __ATOMIC_RELAXED))
      ;
    hi = RLOAD(g_sent_hi);
    while (s > hi
           && !__atomic_compare_exchange_n(&g_sent_hi, &hi, s, 1,
                                           __ATOMIC_RELEASE, __ATOMIC_RELAXED))
      ;
  }
  if (O.size >= PAYLOAD_PREFIX_MAX && c->ev_dlen != O.size)
    BUMP(w, size_bad, 1);
  c->received++;
  BUMP(w, deliveries, 1);
  if (!c->have_first) {
    c->have_first = 1;
    c->min_seq = c->last_seq = s;
    c->bits = 1;
    c->unique = 1;
  } else if (s > c->last_seq) {
    uint64_t d = s - c->last_seq;

    if (d > 1)
      BUMP(w, gaps, d - 1);
    c->bits = d >= 64 ? 1 : (c->bits << d) | 1;
    c->last_seq = s;
    c->unique++;
  } else {
    uint64_t d = c->last_seq - s;

    if (d < 64 && 0 == (c->bits & (1ULL << d))) {
      c->bits |= 1ULL << d; /* late, but new: reordered */
      c->unique++;
      c->reord++;
      BUMP(w, reord, 1);
      if (s < c->min_seq)
        c->min_seq = s;
    } else {
      c->dups++; /* seen (or too old to tell): duplicate */
      BUMP(w, dups, 1);
    }
  }
  ws = RLOAD(g_win_start);
  we = RLOAD(g_win_end);
  if (c->ev_ts >= ws && c->ev_ts < we)
    hist_add(&w->lat, now - c->ev_ts);
  if (now >= ws && now < we)
    BUMP(w, win_deliveries, 1);
  __atomic_fetch_add(&g_fo[s].count, 1, __ATOMIC_RELAXED);
  cur = RLOAD(g_fo[s].max_recv);
  while (now > cur
         && !__atomic_compare_exchange_n(&g_fo[s].max_recv, &cur, now, 1,
                                         __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    ;
}

static void sse_dispatch(struct worker *w, struct conn *c, int64_t now)
{
  if (c->f_data) {
    if (!c->first_frame_seen)
      BUMP(w, no_ok, 1);
    if (c->ev_ok && !c->f_multi)
      deliver(w, c, now);
    else
      BUMP(w, foreign, 1);
    c->first_frame_seen = 1;
  } else if (c->f_comment) {
    if (!c->first_frame_seen) {
      if (c->f_ok)
        c->got_ok = 1;
      else
        BUMP(w, no_ok, 1);
    } else {
      BUMP(w, heartbeats, 1);
    }
    c->first_frame_seen = 1;
  }
  c->f_data = c->f_comment = c->f_ok = c->f_multi = c->ev_ok = 0;
}

static void sse_line(struct worker *w, struct conn *c, int64_t now)
{
  const char *s = c->line;
  size_t len = c->line_len, skip;

  if (0 == c->line_total) {
    sse_dispatch(w, c, now);
    return;
  }
  if (':' == s[0]) {
    c->f_comment = 1;
    if (len >= 3 && 'o' == s[1] && 'k' == s[2])
      c->f_ok = 1;
    return;
  }
  if (len >= 5 && 0 == memcmp(s, "data:", 5)) {
    if (c->f_data) {
      c->f_multi = 1;
      return;
    }
    c->f_data = 1;
    skip = (len > 5 && ' ' == s[5]) ? 6 : 5;
    c->ev_dlen = c->line_total - skip;
    c->ev_ok = (uint8_t) parse_payload(s + skip, len - skip,
                                       c->line_total == len, &c->ev_seq,
                                       &c->ev_ts);
  }
  /* id:, event:, retry: and unknown fields are not needed */
}

static void sse_feed(struct worker *w, struct conn *c, const char *p, size_t n,
                     int64_t now)
{
  while (n > 0) {
    int done;
    size_t k = take_line(c, p, n, &done);

    p += k;
    n -= k;
    if (done) {
      finish_line(c);
      sse_line(w, c, now);
      reset_line(c);
    }
  }
}

static void end_headers(struct worker *w, struct conn *c)
{
  if (c->status >= 100 && c->status < 200) { /* interim response */
    c->status = 0;
    c->chunked = 0;
    c->clen_left = -1;
    return;
  }
  if (200 != c->status) {
    if (429 == c->status)
      BUMP(w, s429, 1);
    else
      BUMP(w, sother, 1);
    conn_end(w, c, F_STATUS, 0);
    return;
  }
  /* The server registers a client before it sends the headers, so every
   * publish request started from now on must reach this client. */
  c->start_guar = LOAD(g_sent_hi) + 1;
  c->state = C_BODY;
  c->was_connected = 1;
  c->ck_state = K_SIZE;
  c->ck_left = 0;
  c->ck_flag = 0;
  if (c->chunked)
    c->clen_left = -1;
  BUMP(w, connected, 1);
  BUMP(w, resolved, 1);
  BUMP(w, live, 1);
}

static void header_line(struct worker *w, struct conn *c)
{
  const char *s = c->line;
  size_t len = c->line_len;

  if (0 == c->status) {
    if (len < 12 || 0 != strncmp(s, "HTTP/1.", 7) || ' ' != s[8]
        || !is_digit(s[9]) || !is_digit(s[10]) || !is_digit(s[11])) {
      conn_end(w, c, F_PROTO, 0);
      return;
    }
    c->status = (uint16_t) ((s[9] - '0') * 100 + (s[10] - '0') * 10
                            + (s[11] - '0'));
    return;
  }
  if (0 == c->line_total) {
    end_headers(w, c);
    return;
  }
  if (0 == strncasecmp(s, "transfer-encoding:", 18)) {
    if (NULL != strcasestr(s + 18, "chunked"))
      c->chunked = 1;
  } else if (0 == strncasecmp(s, "content-length:", 15)) {
    c->clen_left = strtoll(s + 15, NULL, 10);
    if (c->clen_left < 0)
      c->clen_left = -1;
  }
}

static int hexval(unsigned char ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* Bytes from the socket: status line and headers, then the chunked or
 * identity body, whose content goes to the SSE parser. */
static void feed(struct worker *w, struct conn *c, const char *p, size_t n,
                 int64_t now)
{
  while (n > 0) {
    unsigned char ch;
    size_t k;

    if (C_HEADERS == c->state) {
      int done;

      k = take_line(c, p, n, &done);
      p += k;
      n -= k;
      if (done) {
        finish_line(c);
        header_line(w, c);
        reset_line(c);
        if (C_BODY == c->state && !c->chunked && 0 == c->clen_left) {
          conn_end(w, c, F_ENDED, 0);
          return;
        }
      }
      continue;
    }
    if (C_BODY != c->state)
      return;
    if (!c->chunked) {
      k = n;
      if (c->clen_left >= 0 && (uint64_t) c->clen_left < k)
        k = (size_t) c->clen_left;
      sse_feed(w, c, p, k, now);
      p += k;
      n -= k;
      if (c->clen_left >= 0) {
        c->clen_left -= (int64_t) k;
        if (0 == c->clen_left) {
          conn_end(w, c, F_ENDED, 0);
          return;
        }
      }
      continue;
    }
    switch (c->ck_state) {
    case K_SIZE: {
      int v;

      ch = (unsigned char) *p++;
      n--;
      v = hexval(ch);
      if (v >= 0) {
        if (c->ck_left >> 40)
          goto proto;
        c->ck_left = c->ck_left * 16 + (uint64_t) v;
        c->ck_flag = 1;
      } else if ('\n' == ch) {
        if (!c->ck_flag)
          goto proto;
        c->ck_state = c->ck_left > 0 ? K_DATA : K_TRAILER;
        c->ck_flag = 0;
      } else if (';' == ch || ' ' == ch || '\t' == ch) {
        c->ck_state = K_EXT;
      } else if ('\r' != ch) {
        goto proto;
      }
      break;
    }
    case K_EXT: {
      const char *nl = memchr(p, '\n', n);

      if (NULL == nl) {
        n = 0;
        break;
      }
      k = (size_t) (nl - p) + 1;
      p += k;
      n -= k;
      if (!c->ck_flag)
        goto proto;
      c->ck_state = c->ck_left > 0 ? K_DATA : K_TRAILER;
      c->ck_flag = 0;
      break;
    }
    case K_DATA:
      k = (uint64_t) n < c->ck_left ? n : (size_t) c->ck_left;
      sse_feed(w, c, p, k, now);
      p += k;
      n -= k;
      c->ck_left -= k;
      if (0 == c->ck_left)
        c->ck_state = K_DATA_CR;
      break;
    case K_DATA_CR:
      ch = (unsigned char) *p++;
      n--;
      if ('\r' == ch)
        c->ck_state = K_DATA_LF;
      else if ('\n' == ch)
        c->ck_state = K_SIZE;
      else
        goto proto;
      break;
    case K_DATA_LF:
      ch = (unsigned char) *p++;
      n--;
      if ('\n' != ch)
        goto proto;
      c->ck_state = K_SIZE;
      break;
    case K_TRAILER: /* after the last chunk: until a blank line */
      ch = (unsigned char) *p++;
      n--;
      if ('\n' == ch) {
        if (!c->ck_flag) {
          conn_end(w, c, F_ENDED, 0);
          return;
        }
        c->ck_flag = 0;
      } else if ('\r' != ch) {
        c->ck_flag = 1;
      }
      break;
    default:
      goto proto;
    }
  }
  return;
proto:
  conn_end(w, c, F_PROTO, 0);
}

static void conn_read(struct worker *w, struct conn *c)
{
  ssize_t r = recv(c->fd, w->rdbuf, RDBUF_SIZE, 0);

  if (r > 0) {
    BUMP(w, bytes, r);
    feed(w, c, w->rdbuf, (size_t) r, now_ns());
    return;
  }
  if (0 == r) {
    conn_end(w, c, F_EOF, 0);
    return;
  }
  if (EAGAIN == errno || EWOULDBLOCK == errno || EINTR == errno)
    return;
  if (ECONNRESET == errno)
    conn_end(w, c, F_RESET, errno);
  else
    conn_end(w, c, F_IO, errno);
}

static void conn_event(struct worker *w, struct conn *c, uint32_t evm)
{
  if (C_CONNECTING == c->state) {
    int err = 0;
    socklen_t len = sizeof(err);

    if (0 != getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len))
      err = errno;
    if (0 == err && (evm & (EPOLLERR | EPOLLHUP)) && !(evm & EPOLLOUT))
      err = ECONNABORTED;
    if (0 != err) {
      conn_end(w, c, ECONNRESET == err ? F_RESET : F_CONNECT, err);
      return;
    }
    if (!(evm & EPOLLOUT))
      return;
    c->state = C_SENDING;
  }
  if (C_SENDING == c->state) {
    struct epoll_event ev;

    while (c->req_off < w->req_len) {
      ssize_t k = send(c->fd, w->req + c->req_off, w->req_len - c->req_off,
                       MSG_NOSIGNAL);

      if (k < 0) {
        if (EAGAIN == errno || EWOULDBLOCK == errno || EINTR == errno)
          return;
        conn_end(w, c, ECONNRESET == errno ? F_RESET : F_CONNECT, errno);
        return;
      }
      c->req_off = (uint16_t) (c->req_off + k);
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (0 != epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev)) {
      conn_end(w, c, F_CONNECT, errno);
      return;
    }
    c->state = C_HEADERS;
    return;
  }
  if (C_HEADERS == c->state || C_BODY == c->state)
    conn_read(w, c);
}

/* Connect timeouts; during the drain, whether every live subscriber has
 * the last accepted event. */
static void worker_scan(struct worker *w, int64_t now)
{
  int draining = LOAD(g_draining), all = 1;
  uint64_t fin = draining ? LOAD(g_final_seq) : 0;
  unsigned i;

  for (i = 0; i < w->next; i++) {
    struct conn *c = &w->conns[i];

    if ((C_CONNECTING == c->state || C_SENDING == c->state
         || C_HEADERS == c->state)
        && now - c->t_start > CONNECT_TIMEOUT_NS)
      conn_end(w, c, F_TIMEOUT, 0);
    else if (draining && C_BODY == c->state
             && (c->have_first ? c->last_seq < fin : c->start_guar <= fin))
      all = 0;
  }
  if (draining)
    STORE(w->drained, all);
}

static void *worker_main(void *arg)
{
  struct worker *w = arg;
  struct epoll_event evs[512];
  int64_t last_scan = 0;
  unsigned i;

  for (;;) {
    int64_t now = now_ns(), ws = RLOAD(g_win_start);
    int timeout_ms = 20, n;

    if (LOAD(g_stop) || now >= g_hard_end)
      break;
    if (!w->ru_have0 && now >= ws) {
      getrusage(RUSAGE_THREAD, &w->ru0);
      w->ru_t0 = now;
      w->ru_have0 = 1;
    }
    if (w->ru_have0 && !w->ru_have1 && now >= RLOAD(g_win_end)) {
      getrusage(RUSAGE_THREAD, &w->ru1);
      w->ru_t1 = now;
      w->ru_have1 = 1;
    }
    if (!LOAD(g_ending) && w->next < w->n) {
      int64_t due;

      while (w->next < w->n && connect_due(w, w->next) <= now) {
        conn_start(w, &w->conns[w->next], now);
        w->next++;
      }
      if (w->next < w->n) {
        due = connect_due(w, w->next) - now;
        if (due < 20 * NS_PER_MS)
          timeout_ms = (int) ((due + NS_PER_MS - 1) / NS_PER_MS);
      }
    }
    if (LOAD(g_draining))
      timeout_ms = timeout_ms < 5 ? timeout_ms : 5;
    n = epoll_wait(w->ep, evs, (int) (sizeof(evs) / sizeof(evs[0])),
                   timeout_ms);
    for (i = 0; n > 0 && i < (unsigned) n; i++)
      conn_event(w, evs[i].data.ptr, evs[i].events);
    now = now_ns();
    if (now - last_scan >= (LOAD(g_draining) ? 5 : 100) * NS_PER_MS) {
      worker_scan(w, now);
      last_scan = now;
    }
  }
  for (i = 0; i < w->next; i++)
    conn_end(w, &w->conns[i], F_SHUTDOWN, 0);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* publisher (blocking-style I/O on a non-blocking socket, with poll) */

static int wait_fd(int fd, short evm, int64_t until)
{
  for (;;) {
    int64_t left = until - now_ns();
    struct pollfd pfd;
    int r;

    if (left <= 0)
      return 0;
    pfd.fd = fd;
    pfd.events = evm;
    pfd.revents = 0;
    r = poll(&pfd, 1, (int) ((left + NS_PER_MS - 1) / NS_PER_MS));
    if (r < 0 && EINTR == errno)
      continue;
    return r;
  }
}

static int tcp_connect(const struct sockaddr_in *to, int64_t until)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1, err = 0;
  socklen_t len = sizeof(err);

  if (fd < 0)
    return -1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (0 != connect(fd, (const struct sockaddr *) to, sizeof(*to))) {
    if (EINPROGRESS != errno || wait_fd(fd, POLLOUT, until) <= 0
        || 0 != getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || 0 != err) {
      close(fd);
      return -1;
    }
  }
  return fd;
}

static int send_all(int fd, struct iovec *iov, int cnt, int64_t until)
{
  while (cnt > 0) {
    struct msghdr mh;
    ssize_t k;
    size_t left;

    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = iov;
    mh.msg_iovlen = (size_t) cnt;
    k = sendmsg(fd, &mh, MSG_NOSIGNAL);
    if (k < 0) {
      if (EINTR == errno)
        continue;
      if ((EAGAIN == errno || EWOULDBLOCK == errno)
          && wait_fd(fd, POLLOUT, until) > 0)
        continue;
      return -1;
    }
    left = (size_t) k;
    while (cnt > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      iov++;
      cnt--;
    }
    if (cnt > 0) {
      iov->iov_base = (char *) iov->iov_base + left;
      iov->iov_len -= left;
    }
  }
  return 0;
}

/* Read one response. Returns 0 and sets *status, *keep (connection may
 * be reused) and the body's first bytes in body[]; -1 on I/O failure. */
static int read_response(int fd, char *buf, size_t cap, int *status, int *keep,
                         char *body, size_t body_cap, int64_t until)
{
  size_t have = 0, got;
  char *hend, *line;
  long long clen = -1;
  int close_hdr = 0, chunked = 0;

  for (;;) {
    ssize_t r;

    hend = have >= 4 ? memmem(buf, have, "\r\n\r\n", 4) : NULL;
    if (NULL != hend)
      break;
    if (have + 1 >= cap)
      return -1;
    r = recv(fd, buf + have, cap - 1 - have, 0);
    if (r > 0) {
      have += (size_t) r;
      continue;
    }
    if (r < 0 && EINTR == errno)
      continue;
    if (r < 0 && (EAGAIN == errno || EWOULDBLOCK == errno)
        && wait_fd(fd, POLLIN, until) > 0)
      continue;
    return -1;
  }
  if (have < 12 || 0 != strncmp(buf, "HTTP/1.", 7) || !is_digit(buf[9])
      || !is_digit(buf[10]) || !is_digit(buf[11]))
    return -1;
  *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
  *hend = '\0';
  for (line = strstr(buf, "\r\n"); NULL != line; line = strstr(line, "\r\n")) {
    line += 2;
    if (0 == strncasecmp(line, "content-length:", 15))
      clen = strtoll(line + 15, NULL, 10);
    else if (0 == strncasecmp(line, "connection:", 11)) {
      char *eol = strstr(line, "\r\n");
      char *cl = strcasestr(line + 11, "close");

      if (NULL != cl && (NULL == eol || cl < eol))
        close_hdr = 1;
    } else if (0 == strncasecmp(line, "transfer-encoding:", 18)) {
      chunked = 1;
    }
  }
  *keep = '1' == buf[7] && !close_hdr && !chunked && clen >= 0;
  got = have - (size_t) (hend + 4 - buf);
  if (body_cap > 0) {
    size_t k = got < body_cap - 1 ? got : body_cap - 1;

    memcpy(body, hend + 4, k);
    body[k] = '\0';
  }
  if (clen < 0)
    return 0;
  while ((long long) got < clen) { /* discard the rest of the body */
    ssize_t r = recv(fd, buf, cap, 0);

    if (r > 0) {
      got += (size_t) r;
      continue;
    }
    if (r < 0 && EINTR == errno)
      continue;
    if (r < 0 && (EAGAIN == errno || EWOULDBLOCK == errno)
        && wait_fd(fd, POLLIN, until) > 0)
      continue;
    *keep = 0;
    break;
  }
  return 0;
}

static void *publisher_main(void *arg)
{
  size_t cap = O.size > PAYLOAD_PREFIX_MAX ? O.size : PAYLOAD_PREFIX_MAX;
  char *body = malloc(cap + 1);
  char hdr[640], resp[4096], rbody[128], pfx[64];
  int64_t period = O.closed_loop ? 0 : (int64_t) (1e9 / O.rate);
  int64_t due = g_t0, next_at = 0, backoff = 0;
  uint64_t seq = 1;
  size_t prev_plen = 0;
  /* --publish-conns keep-alive connections, to the publish ports in
   * turn; each publish takes the next one (one request in flight). */
  int fds[MAX_PUB_CONNS];
  unsigned cur = 0, j;

  (void) arg;
  for (j = 0; j < MAX_PUB_CONNS; j++)
    fds[j] = -1;
  if (NULL == body) {
    g_pub.fatal = 1;
    snprintf(g_pub.last_bad_text, sizeof(g_pub.last_bad_text), "out of memory");
    return NULL;
  }
  memset(body, 'x', cap);
  for (;;) {
    int64_t now = now_ns(), ts, until;
    size_t plen, blen;
    struct iovec iov[2];
    int hl, status = 0, keep = 0, fd = fds[cur];
    int pport = O.publish_ports[cur % O.npublish_ports];

    if (LOAD(g_ending) || now >= g_deadline)
      break;
    if (seq >= g_seq_cap) {
      g_pub.capped = 1;
      break;
    }
    if (next_at > now || (period > 0 && 0 == backoff && due > now)) {
      int64_t t = next_at > now ? next_at : due;

      sleep_until(t < g_deadline ? t : g_deadline);
      continue;
    }
    if (fd < 0) {
      fd = fds[cur] = tcp_connect(&g_pub_srvs[cur % O.npublish_ports],
                                  now + PUB_IO_TIMEOUT_NS);
      if (fd < 0) {
        g_pub.io_errors++;
        next_at = now_ns() + 50 * NS_PER_MS;
        continue;
      }
      g_pub.connects++;
    }
    STORE(g_sent_hi, seq);
    ts = now_ns();
    plen = (size_t) snprintf(pfx, sizeof(pfx), "%" PRIu64 " %" PRId64, seq, ts);
    memcpy(body, pfx, plen);
    if (prev_plen > plen)
      memset(body + plen, 'x', prev_plen - plen);
    prev_plen = plen;
    blen = plen > O.size ? plen : O.size;
    hl = snprintf(hdr, sizeof(hdr),
                  "POST %s HTTP/1.1\r\nHost: %s:%d\r\n"
                  "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                  O.publish_path, O.host_str, pport, blen);
    iov[0].iov_base = hdr;
    iov[0].iov_len = (size_t) hl;
    iov[1].iov_base = body;
    iov[1].iov_len = blen;
    g_pub.attempts++;
    g_fo[seq].send_ns = ts;
    until = ts + PUB_IO_TIMEOUT_NS;
    if (0 != send_all(fd, iov, 2, until)) {
      g_pub.io_errors++;
      close(fd);
      fds[cur] = -1;
      next_at = now_ns() + 10 * NS_PER_MS;
      continue; /* retry the same seq */
    }
    if (0
        != read_response(fd, resp, sizeof(resp), &status, &keep, rbody,
                         sizeof(rbody), until)) {
      /* Sent but unanswered: it may have been published. Retrying could
       * duplicate it, skipping could lose it; retry and count. */
      g_pub.io_errors++;
      g_pub.ambiguous++;
      close(fd);
      fds[cur] = -1;
      next_at = now_ns() + 10 * NS_PER_MS;
      continue;
    }
    hist_add(&g_pub.rtt, now_ns() - ts);
    if (!keep) {
      close(fd);
      fds[cur] = -1;
    }
    /* Any 2xx: nchan answers 201 (delivered) or 202 (queued, no
     * subscriber), ssehub and the seed server 200. */
    if (status >= 200 && status < 300) {
      STORE(g_acc_hi, seq);
      g_pub.accepted++;
      if (0 == g_pub.t_first)
        g_pub.t_first = ts;
      g_pub.t_last = ts;
      seq++;
      cur = (cur + 1) % O.publish_conns;
      backoff = 0;
      next_at = 0;
      if (period > 0) {
        due += period;
        if (due < now_ns() - period) /* fell behind: do not burst */
          due = now_ns();
      }
    } else if (503 == status || 429 == status) {
      /* queue full (503) or publish rate limit (429): nothing was
       * published; back off and retry the same seq */
      if (503 == status)
        g_pub.r503++;
      else
        g_pub.r429++;
      backoff = 0 == backoff ? 500000 : backoff * 2;
      if (backoff > 16 * NS_PER_MS)
        backoff = 16 * NS_PER_MS;
      next_at = now_ns() + backoff; /* retry the same seq */
    } else {
      char *nl = strchr(rbody, '\n');

      if (NULL != nl)
        *nl = '\0';
      g_pub.bad_status++;
      g_pub.last_bad = status;
      g_pub.fatal = 1;
      snprintf(g_pub.last_bad_text, sizeof(g_pub.last_bad_text), "%s", rbody);
      fprintf(stderr,
              "loadgen: POST %s answered %d (%s); publishing "
              "stopped\n",
              O.publish_path, status, rbody);
      break;
    }
  }
  for (j = 0; j < MAX_PUB_CONNS; j++)
    if (fds[j] >= 0)
      close(fds[j]);
  free(body);
  return NULL;
}

/* GET /stats (one line of JSON) into out; "" when it fails. */
static void fetch_stats(char *out, size_t cap)
{
  int64_t until = now_ns() + STATS_TIMEOUT_NS;
  char req[256], resp[4096];
  struct iovec iov;
  int fd, status = 0, keep = 0, n;
  char *nl;

  out[0] = '\0';
  fd = tcp_connect(&g_srv, until);
  if (fd < 0)
    return;
  n = snprintf(req, sizeof(req),
               "GET /stats HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n"
               "\r\n",
               O.host_str, O.port);
  iov.iov_base = req;
  iov.iov_len = (size_t) n;
  if (0 == send_all(fd, &iov, 1, until)
      && 0
             == read_response(fd, resp, sizeof(resp), &status, &keep, out, cap,
                              until)
      && 200 == status && '{' == out[0]) {
    nl = strchr(out, '\n');
    if (NULL != nl)
      *nl = '\0';
  } else {
    out[0] = '\0';
  }
  close(fd);
}

/* ------------------------------------------------------------------ */
/* command line */

static void usage(FILE *f)
{
  fputs(
      "Usage: loadgen --port P --clients N [options]\n"
      "Benchmark load client for ssehub (loopback only).\n"
      "  --port P[,P2...]     server port (required); with several, the\n"
      "                       subscribers are spread over them in turn\n"
      "                       (nodes of a cluster); /stats is the first's\n"
      "  --host ADDR          server address in 127.0.0.0/8 (default 127.0.0.1)\n"
      "  --clients N          subscriber streams (required)\n"
      "  --sources K          source addresses 127.0.0.2.. (default 32)\n"
      "  --source ADDR        bind the subscribers to this loopback source\n"
      "                       address instead; repeatable, also A,B,... or\n"
      "                       a range A-B; clients take them in turn\n"
      "  --rate R             publish R events/s, paced (default 10)\n"
      "  --closed-loop        publish as fast as the server accepts\n"
      "  --duration S         seconds from start until publishing stops "
      "(default 10)\n"
      "  --warmup S           seconds before the measurement window opens "
      "(default 0;\n"
      "                       it also waits until every client connected)\n"
      "  --size BYTES         event data size, K/M suffix ok (default 128)\n"
      "  --connect-rate C     new connections per second, 0 = unpaced "
      "(default 2000)\n"
      "  --threads T          subscriber epoll threads (default 1)\n"
      "  --path PATH          stream path (default /sse)\n"
      "  --cookie BYTES       send a Cookie header this long with each\n"
      "                       subscribe request (browser-sized headers)\n"
      "  --publish-path PATH  publish path (default /publish)\n"
      "  --publish-port P2[,P3...]  publish port(s) (default: the --port\n"
      "                       list); publishes go to them in turn\n"
      "  --publish-conns K    keep-alive publish connections, used in turn\n"
      "                       (default: one per publish port; with one\n"
      "                       SO_REUSEPORT port, K > 1 lands on several\n"
      "                       nodes)\n"
      "  --http1.0            subscribe with HTTP/1.0 (identity body)\n"
      "  --hold               only connect and hold the clients, print\n"
      "                       \"HOLDING n\" once all are connected\n"
      "  --listen             publish nothing: hold the clients (\"HOLDING n\"\n"
      "                       once all are connected) and check the events\n"
      "                       someone else publishes (data \"<seq> <ns>\",\n"
      "                       seq from 1, ns = CLOCK_MONOTONIC at send):\n"
      "                       every client must get each once, in order;\n"
      "                       the JSON lists every event's deliveries\n"
      "  --expect-events N    with --listen: events 1..N were published\n"
      "                       (default: the highest seq any client saw)\n"
      "  --json FILE          also write the results as JSON\n"
      "  -h, --help           this text\n",
      f);
}

static void usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *fmt, ...)
{
  va_list ap;

  fputs("loadgen: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs(" (see --help)\n", stderr);
  exit(2);
}

static double arg_double(const char *name, const char *v, double lo, double hi)
{
  char *end;
  double d;

  errno = 0;
  d = strtod(v, &end);
  if (0 != errno || end == v || '\0' != *end || !(d >= lo && d <= hi))
    usage_error("%s wants a number from %g to %g, not '%s'", name, lo, hi, v);
  return d;
}

static unsigned long long arg_uint(const char *name, const char *v,
                                   unsigned long long lo, unsigned long long hi,
                                   int suffix)
{
  unsigned long long x;
  char *end;

  errno = 0;
  if ('-' == v[0] || '+' == v[0] || ' ' == v[0])
    usage_error("%s wants a whole number from %llu to %llu, not '%s'", name, lo,
                hi, v);
  x = strtoull(v, &end, 10);
  if (suffix && end != v && ('K' == *end || 'k' == *end) && '\0' == end[1]
      && x <= (1ULL << 40)) {
    x *= 1024;
    end++;
  } else if (suffix && end != v && ('M' == *end || 'm' == *end)
             && '\0' == end[1] && x <= (1ULL << 30)) {
    x *= 1024 * 1024;
    end++;
  }
  if (0 != errno || end == v || '\0' != *end || x < lo || x > hi)
    usage_error("%s wants a whole number from %llu to %llu, not '%s'", name, lo,
                hi, v);
  return x;
}

static const char *arg_path(const char *name, const char *v)
{
  size_t i, n = strlen(v);

  if ('/' != v[0] || n > 200)
    usage_error("%s must start with '/' (at most 200 bytes): '%s'", name, v);
  for (i = 0; i < n; i++)
    if ((unsigned char) v[i] <= ' ' || 127 == (unsigned char) v[i])
      usage_error("%s must not contain spaces or control characters", name);
  return v;
}

/* "P" or "P1,P2,...": ports into out[], returns how many. */
static unsigned arg_ports(const char *name, const char *v, int *out)
{
  char buf[64 * 8], *tok, *save = NULL;
  unsigned n = 0;

  if (strlen(v) >= sizeof(buf))
    usage_error("%s: list too long", name);
  strcpy(buf, v);
  for (tok = strtok_r(buf, ",", &save); NULL != tok;
       tok = strtok_r(NULL, ",", &save)) {
    if (n >= MAX_PORTS)
      usage_error("%s: at most %d ports", name, MAX_PORTS);
    out[n++] = (int) arg_uint(name, tok, 1, 65535, 0);
  }
  if (0 == n)
    usage_error("%s needs a port", name);
  return n;
}

static uint32_t arg_loopback(const char *name, const char *v)
{
  struct in_addr a;
  uint32_t h;

  if (1 != inet_pton(AF_INET, v, &a))
    usage_error("%s wants an IPv4 address, not '%s'", name, v);
  h = ntohl(a.s_addr);
  if (127 != h >> 24)
    usage_error("%s %s is not in 127.0.0.0/8; loopback only", name, v);
  return h;
}

/* --source: "A", "A,B,...", "A-B" (a range), appended to O.src. */
static void arg_sources(const char *name, const char *v)
{
  char buf[4096], *tok, *save = NULL;

  if (strlen(v) >= sizeof(buf))
    usage_error("%s: list too long", name);
  strcpy(buf, v);
  for (tok = strtok_r(buf, ",", &save); NULL != tok;
       tok = strtok_r(NULL, ",", &save)) {
    char *dash = strchr(tok, '-');
    uint32_t lo, hi, a;

    if (NULL != dash)
      *dash = '\0';
    lo = arg_loopback(name, tok);
    hi = NULL != dash ? arg_loopback(name, dash + 1) : lo;
    if (hi < lo)
      usage_error("%s: empty range %s-%s", name, tok, dash + 1);
    for (a = lo; a <= hi; a++) {
      if (O.nsrc >= MAX_SRC)
        usage_error("%s: at most %d addresses", name, MAX_SRC);
      O.src[O.nsrc++] = a;
    }
  }
}

static void parse_args(int argc, char **argv)
{
  const char *host = "127.0.0.1";
  int i, have_port = 0, have_clients = 0, have_pport = 0;

  memset(&O, 0, sizeof(O));
  O.sources = 32;
  O.rate = 10;
  O.duration = 10;
  O.size = 128;
  O.connect_rate = 2000;
  O.threads = 1;
  O.path = "/sse";
  O.publish_path = "/publish";
  for (i = 1; i < argc; i++) {
    char name[64];
    const char *a = argv[i], *v = NULL, *eq;
    size_t nl;

    if (0 == strcmp(a, "-h") || 0 == strcmp(a, "--help")) {
      usage(stdout);
      exit(0);
    }
    if (0 != strncmp(a, "--", 2))
      usage_error("unexpected argument '%s'", a);
    eq = strchr(a, '=');
    nl = NULL != eq ? (size_t) (eq - a) : strlen(a);
    if (nl >= sizeof(name))
      usage_error("unknown option '%s'", a);
    memcpy(name, a, nl);
    name[nl] = '\0';
    if (0 == strcmp(name, "--closed-loop") || 0 == strcmp(name, "--hold")
        || 0 == strcmp(name, "--listen") || 0 == strcmp(name, "--http1.0")
        || 0 == strcmp(name, "--http10")) {
      if (NULL != eq)
        usage_error("%s takes no value", name);
      if (0 == strcmp(name, "--closed-loop"))
        O.closed_loop = 1;
      else if (0 == strcmp(name, "--hold"))
        O.hold = 1;
      else if (0 == strcmp(name, "--listen"))
        O.listen = 1;
      else
        O.http10 = 1;
      continue;
    }
    if (0 != strcmp(name, "--port") && 0 != strcmp(name, "--host")
        && 0 != strcmp(name, "--clients") && 0 != strcmp(name, "--sources")
        && 0 != strcmp(name, "--rate") && 0 != strcmp(name, "--duration")
        && 0 != strcmp(name, "--size") && 0 != strcmp(name, "--connect-rate")
        && 0 != strcmp(name, "--json") && 0 != strcmp(name, "--threads")
        && 0 != strcmp(name, "--path") && 0 != strcmp(name, "--publish-path")
        && 0 != strcmp(name, "--publish-port") && 0 != strcmp(name, "--warmup")
        && 0 != strcmp(name, "--cookie") && 0 != strcmp(name, "--source")
        && 0 != strcmp(name, "--publish-conns")
        && 0 != strcmp(name, "--expect-events"))
      usage_error("unknown option '%s'", name);
    if (NULL != eq)
      v = eq + 1;
    else if (i + 1 < argc)
      v = argv[++i];
    else
      usage_error("%s needs a value", name);
    if (0 == strcmp(name, "--port")) {
      O.nports = arg_ports(name, v, O.ports);
      O.port = O.ports[0];
      have_port = 1;
    } else if (0 == strcmp(name, "--publish-port")) {
      O.npublish_ports = arg_ports(name, v, O.publish_ports);
      O.publish_port = O.publish_ports[0];
      have_pport = 1;
    } else if (0 == strcmp(name, "--source")) {
      arg_sources(name, v);
    } else if (0 == strcmp(name, "--publish-conns")) {
      O.publish_conns = (unsigned) arg_uint(name, v, 1, MAX_PUB_CONNS, 0);
    } else if (0 == strcmp(name, "--expect-events")) {
      O.expect_events = arg_uint(name, v, 1, SEQ_CAP_MAX - 1, 0);
    } else if (0 == strcmp(name, "--host")) {
      host = v;
    } else if (0 == strcmp(name, "--clients")) {
      O.clients = (unsigned) arg_uint(name, v, 1, 1000000, 0);
      have_clients = 1;
    } else if (0 == strcmp(name, "--sources")) {
      O.sources = (unsigned) arg_uint(name, v, 1, 65000, 0);
    } else if (0 == strcmp(name, "--rate")) {
      O.rate = arg_double(name, v, 0.001, 1e6);
      O.rate_given = 1;
    } else if (0 == strcmp(name, "--duration")) {
      O.duration = arg_double(name, v, 0.001, 86400);
    } else if (0 == strcmp(name, "--warmup")) {
      O.warmup = arg_double(name, v, 0, 86400);
    } else if (0 == strcmp(name, "--size")) {
      O.size = (size_t) arg_uint(name, v, 1, 64ULL << 20, 1);
    } else if (0 == strcmp(name, "--cookie")) {
      O.cookie = (size_t) arg_uint(name, v, 0, 60000, 1);
    } else if (0 == strcmp(name, "--connect-rate")) {
      O.connect_rate = arg_double(name, v, 0, 1e7);
    } else if (0 == strcmp(name, "--threads")) {
      O.threads = (unsigned) arg_uint(name, v, 1, MAX_THREADS, 0);
    } else if (0 == strcmp(name, "--json")) {
      if ('\0' == v[0])
        usage_error("--json needs a file name");
      O.json = v;
    } else if (0 == strcmp(name, "--path")) {
      O.path = arg_path(name, v);
    } else {
      O.publish_path = arg_path(name, v);
    }
  }
  if (!have_port)
    usage_error("--port is required");
  if (!have_clients)
    usage_error("--clients is required");
  if (O.closed_loop && O.rate_given)
    usage_error("--rate and --closed-loop exclude each other");
  if (O.hold && (O.closed_loop || O.rate_given))
    usage_error("--hold publishes nothing; drop --rate/--closed-loop");
  if (O.listen && (O.closed_loop || O.rate_given || O.hold))
    usage_error("--listen publishes nothing; drop --rate/--closed-loop/--hold");
  if (O.expect_events > 0 && !O.listen)
    usage_error("--expect-events goes with --listen");
  if (O.warmup >= O.duration)
    usage_error("--warmup (%g) must be shorter than --duration (%g)", O.warmup,
                O.duration);
  if (1 != inet_pton(AF_INET, host, &O.host))
    usage_error("--host wants an IPv4 address, not '%s'", host);
  if (127 != (ntohl(O.host.s_addr) >> 24))
    usage_error("--host %s is not in 127.0.0.0/8; loopback only", host);
  inet_ntop(AF_INET, &O.host, O.host_str, sizeof(O.host_str));
  if (!have_pport) {
    memcpy(O.publish_ports, O.ports, sizeof(O.ports));
    O.npublish_ports = O.nports;
    O.publish_port = O.port;
  }
  if (0 == O.publish_conns)
    O.publish_conns = O.npublish_ports;
  if (O.threads > O.clients)
    O.threads = O.clients;
}

/* ------------------------------------------------------------------ */
/* results */

struct report {
  struct wstats t;
  uint64_t unfinished, expected, received, unique, lost;
  uint64_t lost_alive, lost_gone, head_lost, subs_loss, dups, reord;
  uint64_t fo_events, fo_incomplete, pub_in_window;
  uint64_t errnos[MAX_ERRNO];
  double ramp_s, win_start_s, win_end_s, win_s, drain_s, total_s;
  int drain_complete;
  double deliv_rate, pub_rate, pub_rate_window;
  double cpu_win_pct, cpu_user_s, cpu_sys_s, cpu_run_pct, cpu_thread_max;
  struct hist lat, fo;
  char stats_before[1024], stats_after[1024];
};

static double tv_s(const struct timeval *tv)
{
  return (double) tv->tv_sec + (double) tv->tv_usec / 1e6;
}

static void sum_stats(struct wstats *s)
{
  unsigned i, j;

  memset(s, 0, sizeof(*s));
  for (i = 0; i < O.threads; i++) {
    const uint64_t *src = (const uint64_t *) &g_w[i]->st;
    uint64_t *dst = (uint64_t *) s;

    for (j = 0; j < sizeof(*s) / sizeof(uint64_t); j++)
      dst[j] += __atomic_load_n(&src[j], __ATOMIC_RELAXED);
  }
}

static void compute(struct report *r, int64_t t_end)
{
  uint64_t maxend = 0, s, acc = LOAD(g_acc_hi);
  int32_t *diff = NULL;
  int64_t ws = g_win_start, we = g_win_end;
  unsigned i, k;
  int pass;

  sum_stats(&r->t);
  r->unfinished = O.clients - r->t.resolved;
  for (i = 0; i < O.threads; i++) {
    hist_merge(&r->lat, &g_w[i]->lat);
    for (k = 0; k < MAX_ERRNO; k++)
      r->errnos[k] += g_w[i]->err_errno[k];
    if (g_w[i]->ru_have0 && g_w[i]->ru_have1 && g_w[i]->ru_t1 > g_w[i]->ru_t0) {
      double cpu = tv_s(&g_w[i]->ru1.ru_utime) + tv_s(&g_w[i]->ru1.ru_stime)
                   - tv_s(&g_w[i]->ru0.ru_utime) - tv_s(&g_w[i]->ru0.ru_stime);
      double pct = 100.0 * cpu / secs(g_w[i]->ru_t1 - g_w[i]->ru_t0);

      if (pct > r->cpu_thread_max)
        r->cpu_thread_max = pct;
    }
  }
  /* Per subscriber: expected = every seq from its start to its end. */
  for (pass = 0; pass < 2; pass++) {
    for (i = 0; i < O.threads; i++) {
      for (k = 0; k < g_w[i]->n; k++) {
        const struct conn *c = &g_w[i]->conns[k];
        uint64_t start, end, exp;

        if (!c->was_connected)
          continue;
        start = c->start_guar;
        if (c->have_first && c->min_seq < start)
          start = c->min_seq;
        end = c->end_acc;
        if (c->have_first && c->last_seq > end)
          end = c->last_seq;
        exp = end >= start ? end - start + 1 : 0;
        if (1 == pass) {
          if (NULL != diff && exp > 0) {
            diff[start]++;
            diff[end + 1]--;
          }
          continue;
        }
        if (end > maxend)
          maxend = end;
        r->expected += exp;
        r->received += c->received;
        r->unique += c->unique;
        r->dups += c->dups;
        r->reord += c->reord;
        if (exp > c->unique) {
          r->lost += exp - c->unique;
          r->subs_loss++;
          if (C_CLOSED == c->state && c->end_acc < acc)
            r->lost_gone += exp - c->unique;
          else
            r->lost_alive += exp - c->unique;
        }
        if (c->have_first && c->min_seq > c->start_guar)
          r->head_lost += c->min_seq - c->start_guar;
      }
    }
    if (0 == pass) {
      if (NULL == g_fo || 0 == maxend)
        break;
      diff = calloc(maxend + 2, sizeof(*diff));
      if (NULL == diff)
        break;
    }
  }
  /* Events accepted inside the window, and the fan-out completion of
   * each: until its last expected receiver had it. */
  if (NULL != g_fo)
    for (s = 1; s <= acc; s++)
      if (g_fo[s].send_ns >= ws && g_fo[s].send_ns < we)
        r->pub_in_window++;
  if (NULL != g_fo && NULL != diff) {
    int64_t receivers = 0;

    for (s = 1; s <= maxend; s++) {
      receivers += diff[s];
      if (s > acc || g_fo[s].send_ns < ws || g_fo[s].send_ns >= we)
        continue;
      if (receivers <= 0)
        continue;
      if ((int64_t) g_fo[s].count >= receivers) {
        hist_add(&r->fo, g_fo[s].max_recv - g_fo[s].send_ns);
        r->fo_events++;
      } else {
        r->fo_incomplete++;
      }
    }
  }
  free(diff);
  r->total_s = secs(t_end - g_t0);
  if (g_pub.accepted > 0 && g_pub.t_last > g_pub.t_first)
    r->pub_rate = (double) (g_pub.accepted - 1)
                  / secs(g_pub.t_last - g_pub.t_first);
  if (ws != INT64_MAX && we > ws) {
    r->win_start_s = secs(ws - g_t0);
    r->win_end_s = secs(we - g_t0);
    r->win_s = secs(we - ws);
    r->deliv_rate = (double) r->t.win_deliveries / r->win_s;
    r->pub_rate_window = (double) r->pub_in_window / r->win_s;
  }
}

static void print_errnos(FILE *f, const struct report *r)
{
  unsigned k;
  int any = 0;

  for (k = 0; k < MAX_ERRNO; k++) {
    if (0 == r->errnos[k])
      continue;
    fprintf(f, "%s%s: %" PRIu64, any ? ", " : "  socket errors: ",
            0 == k ? "other" : strerror((int) k), r->errnos[k]);
    any = 1;
  }
  if (any)
    fputc('\n', f);
}

static void print_table(FILE *f, const struct report *r)
{
  const struct wstats *t = &r->t;

  fprintf(f, "\n== loadgen: %u clients on %s:%d", O.clients, O.host_str,
          O.port);
  for (unsigned i = 1; i < O.nports; i++)
    fprintf(f, ",%d", O.ports[i]);
  fprintf(f, "%s, %u thread(s), %u sources, ", O.path, O.threads,
          O.nsrc > 0 ? O.nsrc : O.sources);
  if (O.hold)
    fprintf(f, "hold");
  else if (O.listen)
    fprintf(f, "listen (published elsewhere)");
  else if (O.closed_loop)
    fprintf(f, "closed-loop");
  else
    fprintf(f, "rate %g/s", O.rate);
  fprintf(f, ", size %zu B, HTTP/1.%d ==\n", O.size, O.http10 ? 0 : 1);
  fprintf(f, "time          run %.2f s, duration %g s, all clients resolved ",
          r->total_s, O.duration);
  if (r->ramp_s >= 0)
    fprintf(f, "after %.2f s\n", r->ramp_s);
  else
    fprintf(f, "NEVER (raise --duration or --connect-rate)\n");
  if (r->win_s > 0)
    fprintf(f, "window        %.2f .. %.2f s (%.2f s)\n", r->win_start_s,
            r->win_end_s, r->win_s);
  else
    fprintf(f, "window        EMPTY (connecting did not finish before "
               "--duration)\n");
  fprintf(f,
          "clients       attempted %" PRIu64 ", connected %" PRIu64
          ", 429 %" PRIu64 ", other-status %" PRIu64 ", connect-errors %" PRIu64
          ", timeouts %" PRIu64 ", unfinished %" PRIu64 "\n",
          t->attempted, t->connected, t->s429, t->sother, t->conn_err,
          t->timeouts, r->unfinished);
  fprintf(f,
          "disconnects   resets %" PRIu64 ", closed-by-server %" PRIu64
          ", stream-ended %" PRIu64 ", closed-before-response %" PRIu64
          ", io-errors %" PRIu64 ", protocol-errors %" PRIu64
          ", missing-:ok %" PRIu64 "\n",
          t->resets, t->srv_closed, t->srv_ended, t->early_close, t->io_err,
          t->proto_err, t->no_ok);
  print_errnos(f, r);
  if (O.listen)
    fprintf(f,
            "published     elsewhere: highest seq seen %" PRIu64 "%s, %" PRIu64
            " in window\n",
            LOAD(g_acc_hi), O.expect_events > 0 ? " (or --expect-events)" : "",
            r->pub_in_window);
  if (!O.hold && !O.listen) {
    fprintf(f,
            "published     accepted %" PRIu64 " (%.1f/s; %" PRIu64
            " in window, %.1f/s), 503-retries %" PRIu64 ", 429-retries %" PRIu64
            ", io-errors %" PRIu64 " (unanswered %" PRIu64
            "), refused %" PRIu64,
            g_pub.accepted, r->pub_rate, r->pub_in_window, r->pub_rate_window,
            g_pub.r503, g_pub.r429, g_pub.io_errors, g_pub.ambiguous,
            g_pub.bad_status);
    if (g_pub.bad_status)
      fprintf(f, " (last %d: %s)", g_pub.last_bad, g_pub.last_bad_text);
    if (g_pub.capped)
      fprintf(f, " [stopped at the %" PRIu64 "-event cap]", g_seq_cap - 1);
    fputc('\n', f);
    fprintf(f, "publish rtt   ms p50 %.3f  p99 %.3f  max %.3f\n",
            hist_pct_ms(&g_pub.rtt, 50), hist_pct_ms(&g_pub.rtt, 99),
            (double) g_pub.rtt.max_ns / 1e6);
  }
  if (!O.hold) {
    fprintf(f,
            "deliveries    expected %" PRIu64 ", received %" PRIu64
            ", lost %" PRIu64 " (to live clients %" PRIu64
            ", before a disconnect %" PRIu64 ", at stream start %" PRIu64
            "; %" PRIu64 " clients affected), duplicated %" PRIu64
            ", reordered %" PRIu64 "\n",
            r->expected, r->received, r->lost, r->lost_alive, r->lost_gone,
            r->head_lost, r->subs_loss, r->dups, r->reord);
    fprintf(f,
            "              foreign/unparsable %" PRIu64 ", wrong-size %" PRIu64
            ", heartbeats %" PRIu64 ", bytes %" PRIu64 "\n",
            t->foreign, t->size_bad, t->heartbeats, t->bytes);
    if (!O.listen)
      fprintf(f, "drain         %.3f s, %s\n", r->drain_s,
              r->drain_complete ? "every live client got the last event"
                                : "TIMED OUT: some clients never got the "
                                  "last event");
    fprintf(f,
            "throughput    %" PRIu64 " deliveries in window = %.0f "
            "deliveries/s\n",
            t->win_deliveries, r->deliv_rate);
    fprintf(f,
            "latency  ms   n=%" PRIu64 "  p50 %.3f  p90 %.3f  p99 %.3f  "
            "p99.9 %.3f  max %.3f\n",
            r->lat.count, hist_pct_ms(&r->lat, 50), hist_pct_ms(&r->lat, 90),
            hist_pct_ms(&r->lat, 99), hist_pct_ms(&r->lat, 99.9),
            (double) r->lat.max_ns / 1e6);
    fprintf(f,
            "fan-out  ms   events=%" PRIu64 " (incomplete %" PRIu64
            ")  p50 %.3f  p99 %.3f  max %.3f\n",
            r->fo_events, r->fo_incomplete, hist_pct_ms(&r->fo, 50),
            hist_pct_ms(&r->fo, 99), (double) r->fo.max_ns / 1e6);
  }
  fprintf(f,
          "client cpu    window %.1f%% of one core (user %.2f s, sys "
          "%.2f s), busiest worker thread %.1f%%, whole run %.1f%%\n",
          r->cpu_win_pct, r->cpu_user_s, r->cpu_sys_s, r->cpu_thread_max,
          r->cpu_run_pct);
  if ('\0' != r->stats_after[0])
    fprintf(f, "server stats  %s\n", r->stats_after);
  fflush(f);
}

static void json_stats(FILE *f, const char *name, const char *v)
{
  fprintf(f, ",\n  \"%s\": ", name);
  if ('\0' != v[0])
    fputs(v, f);
  else
    fputs("null", f);
}

static void json_ints(FILE *f, const char *name, const int *v, unsigned n)
{
  unsigned i;

  fprintf(f, ", \"%s\": [", name);
  for (i = 0; i < n; i++)
    fprintf(f, "%s%d", i > 0 ? ", " : "", v[i]);
  fputc(']', f);
}

/* --listen: what several processes' results need to be merged: every
 * event's deliveries and fan-out (last delivery - payload timestamp),
 * and the latency histogram's buckets. */
static void json_listen(FILE *f, const struct report *r)
{
  uint64_t s, hi = LOAD(g_acc_hi);
  unsigned i;
  int first = 1;

  if (hi > LISTEN_EVENTS_MAX)
    hi = LISTEN_EVENTS_MAX;
  if (NULL == g_fo || hi >= g_seq_cap)
    hi = NULL == g_fo ? 0 : g_seq_cap - 1;
  fputs(",\n  \"events\": [", f);
  for (s = 1; s <= hi; s++) {
    const struct fo_slot *e = &g_fo[s];

    fprintf(f, "%s[%" PRIu64 ", %u, %.3f]", 1 == s ? "" : ", ", s, e->count,
            e->count > 0 && e->send_ns > 0
                ? (double) (e->max_recv - e->send_ns) / 1e6
                : -1.0);
  }
  fputs("],\n  \"latency_hist_us\": [", f);
  for (i = 0; i < H_BUCKETS; i++) {
    if (0 == r->lat.b[i])
      continue;
    fprintf(f, "%s[%" PRIu64 ", %" PRIu64 "]", first ? "" : ", ", h_upper_us(i),
            r->lat.b[i]);
    first = 0;
  }
  fprintf(f, "],\n  \"latency_max_ms\": %.3f", (double) r->lat.max_ns / 1e6);
}

static int write_json(const char *path, const struct report *r)
{
  const struct wstats *t = &r->t;
  FILE *f = fopen(path, "w");

  if (NULL == f) {
    fprintf(stderr, "loadgen: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  fprintf(f,
          "{\n  \"config\": {\"clients\": %u, \"threads\": %u, "
          "\"sources\": %u, \"mode\": \"%s\", \"rate\": %g, \"size\": %zu, "
          "\"duration_s\": %g, \"warmup_s\": %g, \"connect_rate\": %g, "
          "\"http\": \"1.%d\", \"host\": \"%s\", \"port\": %d, "
          "\"publish_port\": %d",
          O.clients, O.threads, O.nsrc > 0 ? O.nsrc : O.sources,
          O.hold          ? "hold"
          : O.listen      ? "listen"
          : O.closed_loop ? "closed-loop"
                          : "rate",
          O.closed_loop || O.hold ? 0.0 : O.rate, O.size, O.duration, O.warmup,
          O.connect_rate, O.http10 ? 0 : 1, O.host_str, O.port, O.publish_port);
  json_ints(f, "ports", O.ports, O.nports);
  json_ints(f, "publish_ports", O.publish_ports, O.npublish_ports);
  fprintf(f, ", \"publish_conns\": %u},\n", O.publish_conns);
  fprintf(f,
          "  \"time\": {\"run_s\": %.3f, \"ramp_s\": %.3f, "
          "\"window_start_s\": %.3f, \"window_end_s\": %.3f, "
          "\"window_s\": %.3f, \"drain_s\": %.3f, \"drain_complete\": %s},\n",
          r->total_s, r->ramp_s, r->win_start_s, r->win_end_s, r->win_s,
          r->drain_s, r->drain_complete ? "true" : "false");
  fprintf(f,
          "  \"clients\": {\"attempted\": %" PRIu64 ", \"connected\": %" PRIu64
          ", \"http_429\": %" PRIu64 ", \"other_status\": %" PRIu64
          ", \"connect_errors\": %" PRIu64 ", \"timeouts\": %" PRIu64
          ", \"unfinished\": %" PRIu64 ", \"resets\": %" PRIu64
          ", \"closed_by_server\": %" PRIu64 ", \"stream_ended\": %" PRIu64
          ", \"closed_before_response\": %" PRIu64 ", \"io_errors\": %" PRIu64
          ", \"protocol_errors\": %" PRIu64 ", \"missing_ok\": %" PRIu64 "},\n",
          t->attempted, t->connected, t->s429, t->sother, t->conn_err,
          t->timeouts, r->unfinished, t->resets, t->srv_closed, t->srv_ended,
          t->early_close, t->io_err, t->proto_err, t->no_ok);
  fprintf(f,
          "  \"published\": {\"accepted\": %" PRIu64 ", \"rate\": %.3f, "
          "\"in_window\": %" PRIu64
          ", \"window_rate\": %.3f, \"attempts\": %" PRIu64
          ", \"retries_503\": %" PRIu64 ", \"retries_429\": %" PRIu64
          ", \"io_errors\": %" PRIu64 ", \"unanswered\": %" PRIu64
          ", \"refused\": %" PRIu64
          ", \"last_refusal_status\": %d, \"capped\": %s, "
          "\"rtt_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f}},\n",
          g_pub.accepted, r->pub_rate, r->pub_in_window, r->pub_rate_window,
          g_pub.attempts, g_pub.r503, g_pub.r429, g_pub.io_errors,
          g_pub.ambiguous, g_pub.bad_status, g_pub.last_bad,
          g_pub.capped ? "true" : "false", hist_pct_ms(&g_pub.rtt, 50),
          hist_pct_ms(&g_pub.rtt, 99), (double) g_pub.rtt.max_ns / 1e6);
  fprintf(f,
          "  \"deliveries\": {\"expected\": %" PRIu64 ", \"received\": %" PRIu64
          ", \"lost\": %" PRIu64 ", \"lost_live_clients\": %" PRIu64
          ", \"lost_before_disconnect\": %" PRIu64
          ", \"lost_at_start\": %" PRIu64 ", \"clients_with_loss\": %" PRIu64
          ", \"duplicated\": %" PRIu64 ", \"reordered\": %" PRIu64
          ", \"foreign\": %" PRIu64 ", \"wrong_size\": %" PRIu64
          ", \"heartbeats\": %" PRIu64 ", \"bytes\": %" PRIu64
          ", \"in_window\": %" PRIu64 ", \"per_s\": %.1f},\n",
          r->expected, r->received, r->lost, r->lost_alive, r->lost_gone,
          r->head_lost, r->subs_loss, r->dups, r->reord, t->foreign,
          t->size_bad, t->heartbeats, t->bytes, t->win_deliveries,
          r->deliv_rate);
  fprintf(f,
          "  \"latency_ms\": {\"count\": %" PRIu64 ", \"p50\": %.3f, "
          "\"p90\": %.3f, \"p99\": %.3f, \"p99_9\": %.3f, \"max\": %.3f},\n",
          r->lat.count, hist_pct_ms(&r->lat, 50), hist_pct_ms(&r->lat, 90),
          hist_pct_ms(&r->lat, 99), hist_pct_ms(&r->lat, 99.9),
          (double) r->lat.max_ns / 1e6);
  fprintf(f,
          "  \"fanout_ms\": {\"events\": %" PRIu64 ", \"incomplete\": %" PRIu64
          ", \"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f},\n",
          r->fo_events, r->fo_incomplete, hist_pct_ms(&r->fo, 50),
          hist_pct_ms(&r->fo, 99), (double) r->fo.max_ns / 1e6);
  fprintf(f,
          "  \"cpu\": {\"window_pct_of_core\": %.1f, \"user_s\": %.3f, "
          "\"sys_s\": %.3f, \"busiest_thread_pct\": %.1f, "
          "\"run_pct_of_core\": %.1f}",
          r->cpu_win_pct, r->cpu_user_s, r->cpu_sys_s, r->cpu_thread_max,
          r->cpu_run_pct);
  if (O.listen)
    json_listen(f, r);
  json_stats(f, "server_stats_before", r->stats_before);
  json_stats(f, "server_stats_after", r->stats_after);
  fputs("\n}\n", f);
  if (0 != fclose(f)) {
    fprintf(stderr, "loadgen: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ */

/* First SIGINT/SIGTERM ends the run early (with drain and report), a
 * second one skips the rest of the drain. */
static void on_signal(int sig)
{
  (void) sig;
  g_signal = g_signal + 1;
}

static void progress(int64_t now, uint64_t *prev_deliv, uint64_t *prev_acc)
{
  struct wstats s;
  uint64_t acc = LOAD(g_acc_hi);

  sum_stats(&s);
  fprintf(stderr,
          "[%6.1fs] clients %" PRIu64 " connected, %" PRIu64 " 429, %" PRIu64
          " failed, %" PRIu64 " live | published %" PRIu64 " (+%" PRIu64
          ") | deliveries %" PRIu64 " (+%" PRIu64 ") gaps %" PRIu64
          " dup %" PRIu64 " reord %" PRIu64 "\n",
          secs(now - g_t0), s.connected, s.s429,
          s.resolved - s.connected - s.s429, s.live, acc, acc - *prev_acc,
          s.deliveries, s.deliveries - *prev_deliv, s.gaps, s.dups, s.reord);
  *prev_deliv = s.deliveries;
  *prev_acc = acc;
}

int main(int argc, char **argv)
{
  static struct report rep;
  struct rlimit rl;
  struct rusage ru_start, ru0, ru1, ru_end;
  struct sigaction sa;
  pthread_t pub_th;
  int64_t now, ramp_done = -1, next_prog, t_ru0 = 0, t_ru1 = 0;
  int64_t t_drained = -1, t_end_pub, drain_end;
  sig_atomic_t sigs;
  uint64_t prev_deliv = 0, prev_acc = 0;
  int have_ru0 = 0, have_ru1 = 0, holding = 0, rc;
  unsigned i, k;

  parse_args(argc, argv);

  if (0 != getrlimit(RLIMIT_NOFILE, &rl)) {
    perror("loadgen: getrlimit");
    return 3;
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (RLIM_INFINITY != rl.rlim_cur
      && (rlim_t) O.clients + FD_RESERVE > rl.rlim_cur) {
    fprintf(stderr,
            "loadgen: --clients %u needs %u file descriptors, more "
            "than the open-file limit %llu (hard limit %llu); use at most "
            "%llu clients\n",
            O.clients, O.clients + FD_RESERVE, (unsigned long long) rl.rlim_cur,
            (unsigned long long) rl.rlim_max,
            rl.rlim_cur > FD_RESERVE
                ? (unsigned long long) (rl.rlim_cur - FD_RESERVE)
                : 0ULL);
    return 2;
  }

  memset(&g_srv, 0, sizeof(g_srv));
  g_srv.sin_family = AF_INET;
  g_srv.sin_addr = O.host;
  g_srv.sin_port = htons((uint16_t) O.port);
  for (i = 0; i < O.nports; i++) {
    g_srvs[i] = g_srv;
    g_srvs[i].sin_port = htons((uint16_t) O.ports[i]);
  }
  for (i = 0; i < O.npublish_ports; i++) {
    g_pub_srvs[i] = g_srv;
    g_pub_srvs[i].sin_port = htons((uint16_t) O.publish_ports[i]);
  }

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (!O.hold) {
    for (g_seq_cap = SEQ_CAP_MAX; g_seq_cap >= 1024; g_seq_cap /= 4) {
      void *m = mmap(NULL, g_seq_cap * sizeof(struct fo_slot),
                     PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

      if (MAP_FAILED != m) {
        g_fo = m;
        break;
      }
    }
    if (NULL == g_fo) {
      fprintf(stderr, "loadgen: cannot map the event table\n");
      return 3;
    }
  }

  g_w = calloc(O.threads, sizeof(*g_w));
  if (NULL == g_w)
    return 3;
  for (i = 0; i < O.threads; i++) {
    size_t sz = (sizeof(struct worker) + 63) & ~(size_t) 63;
    struct worker *w = aligned_alloc(64, sz);
    int n;

    if (NULL == w) {
      fprintf(stderr, "loadgen: out of memory\n");
      return 3;
    }
    memset(w, 0, sizeof(*w));
    w->id = i;
    w->n = (O.clients - i + O.threads - 1) / O.threads;
    w->conns = calloc(w->n, sizeof(struct conn));
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    if (NULL == w->conns || w->ep < 0) {
      fprintf(stderr, "loadgen: cannot set up worker %u: %s\n", i,
              strerror(errno));
      return 3;
    }
    for (k = 0; k < w->n; k++) {
      w->conns[k].fd = -1;
      w->conns[k].idx = k * O.threads + i;
      w->conns[k].clen_left = -1;
    }
    n = snprintf(w->req, sizeof(w->req),
                 "GET %s HTTP/1.%d\r\nHost: %s:%d\r\n"
                 "Accept: text/event-stream\r\nCache-Control: no-cache\r\n",
                 O.path, O.http10 ? 0 : 1, O.host_str, O.port);
    if (O.cookie > 0) { /* "Cookie: " + name=value pairs, O.cookie bytes */
      n += snprintf(w->req + n, sizeof(w->req) - (size_t) n, "Cookie: ");
      for (size_t b = 0; b < O.cookie; b++)
        w->req[n++] = (0 == b % 40 && b > 0) ? ';' : (char) ('a' + b % 26);
      w->req[n++] = '\r';
      w->req[n++] = '\n';
    }
    n += snprintf(w->req + n, sizeof(w->req) - (size_t) n, "\r\n");
    w->req_len = (size_t) n;
    g_w[i] = w;
  }

  fetch_stats(rep.stats_before, sizeof(rep.stats_before));
  getrusage(RUSAGE_SELF, &ru_start);
  g_t0 = now_ns();
  g_deadline = g_t0 + (int64_t) (O.duration * 1e9);
  g_hard_end = g_deadline + DRAIN_NS;
  STORE(g_win_end, g_deadline);
  for (i = 0; i < O.threads; i++) {
    rc = pthread_create(&g_w[i]->th, NULL, worker_main, g_w[i]);
    if (0 != rc) {
      fprintf(stderr, "loadgen: pthread_create: %s\n", strerror(rc));
      return 3;
    }
  }
  if (!O.hold && !O.listen) {
    rc = pthread_create(&pub_th, NULL, publisher_main, NULL);
    if (0 != rc) {
      fprintf(stderr, "loadgen: pthread_create: %s\n", strerror(rc));
      return 3;
    }
  }

  next_prog = g_t0 + NS_PER_S;
  for (;;) {
    struct wstats s;
    int64_t step;

    now = now_ns();
    if (g_signal) {
      STORE(g_win_end, now);
      STORE(g_ending, 1);
      fprintf(stderr, "loadgen: interrupted, stopping\n");
    }
    if (ramp_done < 0) {
      sum_stats(&s);
      if (s.resolved >= O.clients) {
        int64_t ws = g_t0 + (int64_t) (O.warmup * 1e9);

        ramp_done = now;
        if (ws < now)
          ws = now;
        if (ws < g_deadline)
          STORE(g_win_start, ws);
        if (O.hold || O.listen) {
          printf("HOLDING %" PRIu64 "\n", s.connected);
          fflush(stdout);
          holding = 1;
        }
      }
    }
    if (!have_ru0 && now >= RLOAD(g_win_start) && now < g_deadline) {
      getrusage(RUSAGE_SELF, &ru0);
      t_ru0 = now;
      have_ru0 = 1;
    }
    if (now >= g_deadline || g_signal)
      break;
    if (now >= next_prog) {
      progress(now, &prev_deliv, &prev_acc);
      next_prog += NS_PER_S;
    }
    step = 10 * NS_PER_MS;
    if (now + step > g_deadline)
      step = g_deadline - now;
    sleep_until(now + step);
  }
  STORE(g_ending, 1);
  getrusage(RUSAGE_SELF, &ru1);
  t_ru1 = now_ns();
  t_end_pub = t_ru1;
  drain_end = t_end_pub + DRAIN_NS < g_hard_end ? t_end_pub + DRAIN_NS
                                                : g_hard_end;
  sigs = g_signal;
  have_ru1 = have_ru0;
  if (holding || O.hold)
    fprintf(stderr, "loadgen: hold time over, closing\n");

  if (O.listen) {
    /* Every client still connected is due every event published. */
    uint64_t hi = LOAD(g_acc_hi);

    if (O.expect_events > hi)
      STORE(g_acc_hi, O.expect_events);
    STORE(g_final_seq, LOAD(g_acc_hi));
  } else if (!O.hold) {
    pthread_join(pub_th, NULL);
    STORE(g_final_seq, LOAD(g_acc_hi));
    STORE(g_draining, 1);
    for (;;) {
      int all = 1;

      now = now_ns();
      for (i = 0; i < O.threads; i++)
        if (!LOAD(g_w[i]->drained))
          all = 0;
      if (all) {
        t_drained = now;
        break;
      }
      if (now >= drain_end || g_signal > sigs)
        break;
      sleep_until(now + 2 * NS_PER_MS);
    }
  }
  STORE(g_stop, 1);
  for (i = 0; i < O.threads; i++)
    pthread_join(g_w[i]->th, NULL);
  now = now_ns();
  getrusage(RUSAGE_SELF, &ru_end);
  progress(now, &prev_deliv, &prev_acc);
  fetch_stats(rep.stats_after, sizeof(rep.stats_after));

  rep.ramp_s = ramp_done >= 0 ? secs(ramp_done - g_t0) : -1;
  rep.drain_complete = O.hold || O.listen || t_drained >= 0;
  rep.drain_s = O.hold || O.listen
                    ? 0
                    : secs((t_drained >= 0 ? t_drained : now) - t_end_pub);
  if (have_ru0 && have_ru1 && t_ru1 > t_ru0) {
    rep.cpu_user_s = tv_s(&ru1.ru_utime) - tv_s(&ru0.ru_utime);
    rep.cpu_sys_s = tv_s(&ru1.ru_stime) - tv_s(&ru0.ru_stime);
    rep.cpu_win_pct = 100.0 * (rep.cpu_user_s + rep.cpu_sys_s)
                      / secs(t_ru1 - t_ru0);
  }
  rep.cpu_run_pct = 100.0
                    * (tv_s(&ru_end.ru_utime) + tv_s(&ru_end.ru_stime)
                       - tv_s(&ru_start.ru_utime) - tv_s(&ru_start.ru_stime))
                    / secs(now - g_t0);
  compute(&rep, now);
  print_table(stdout, &rep);
  if (NULL != O.json && 0 != write_json(O.json, &rep))
    return 3;
  if (rep.lost > 0 || rep.dups > 0 || rep.reord > 0)
    return 1;
  return 0;
}
