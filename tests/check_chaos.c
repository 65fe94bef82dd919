/* check_chaos.c - many clients misbehaving at once against the real
 * ssehub program, on loopback.
 *
 * 5,000 streams spread over source addresses 127.0.0.2-127.0.0.29:
 *   - 3,000 well-behaved readers (one epoll loop in this process), which
 *     must get every event exactly once, in order, byte for byte;
 *   - 800 held by a child process that reads them, SIGKILLed mid-run
 *     (the server must notice: "hangups");
 *   - 600 that never read after ":ok" (SO_RCVBUF 4 KB), subscribed to
 *     heavy topics, which must be cut off ("slow_disconnects");
 *   - 600 slots of a child that opens a stream, reads ":ok" and closes,
 *     again and again.
 * Meanwhile a thread publishes 50 events/s of 1 KB for 10 s (retrying on
 * 503), and the heavy topics get 60 KB events. Afterwards, once everyone
 * has left, the server's memory and descriptors must be back near where
 * they started. A second test sends SIGTERM in the middle of a smaller run:
 * exit 0 within 2 s, and every reader got everything that was accepted and
 * a clean end of stream.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

static struct tl_server srv;

enum {
  EV_SIZE = 1000,      /* steady event data, bytes */
  BULK_SIZE = 60000,   /* heavy-topic event data */
  BULK_PER_GROUP = 24, /* 1.4 MB: over the 1 MiB client buffer */
  RCVBUF = 4096,       /* the non-readers' receive buffer ... */
  MSS = 1400,          /* ... and segment size */
  SLOT_BUF = 1024
}; /* a churn slot's answer buffer */

/* cond is what the server must do; the message says what it did. */
#define EXPECT(cond, ...) ck_assert_msg(cond, __VA_ARGS__)

/* ---- the server's figures ----------------------------------------------- */

/* A counter that may not exist in this version of /stats: 0 then. */
static long long stat0(const char *name)
{
  long long v = tl_stat(srv.port, name);

  return v > 0 ? v : 0;
}

/* ---- streams ------------------------------------------------------------ */

/* n streams that will never read after ":ok": heavy topics bulk-<i %
 * groups>, from 127.0.0.14-17, on a slow link (a small window from the
 * start, and an Internet-like MSS so that the server's kernel send buffer
 * does not autotune to 4 MiB and take what the server's own
 * --client-buffer accounting must see). Returns how many were admitted. */
static int open_silent(struct tl_sse *s, int n, int groups)
{
  struct tl_crowd how = { .topic_prefix = "bulk-",
                          .groups = groups,
                          .src0 = 14,
                          .nsrc = 4,
                          .rcvbuf = RCVBUF,
                          .mss = MSS };

  return tl_sse_open_crowd(s, n, srv.port, &how);
}

/* ---- the child that is killed ------------------------------------------- */

/* A child holding n well-behaved streams (it reads and discards). It
 * writes how many were admitted to the returned pipe, then reads until
 * killed (or 120 s). */
static pid_t spawn_holder(int n, int src0, int *ready_fd)
{
  int p[2];
  pid_t pid;

  ck_assert_int_eq(0, pipe(p));
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (0 == pid) {
    struct tl_sse *s = calloc((size_t) n, sizeof(*s));
    struct epoll_event ev, evs[128];
    static char buf[65536];
    long long end = tl_now_ms() + 120000;
    int ok, i, ep = epoll_create1(0);

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(p[0]);
    ok = tl_sse_open_crowd(s, n, srv.port,
                           &(struct tl_crowd){ .src0 = src0, .nsrc = 4 });
    for (i = 0; i < n; i++) {
      ev.events = EPOLLIN;
      ev.data.fd = s[i].fd;
      if (s[i].fd >= 0)
        epoll_ctl(ep, EPOLL_CTL_ADD, s[i].fd, &ev);
    }
    (void) !write(p[1], &ok, sizeof(ok));
    while (tl_now_ms() < end) {
      int k = epoll_wait(ep, evs, 128, 1000);

      for (i = 0; i < k; i++)
        if (recv(evs[i].data.fd, buf, sizeof(buf), MSG_DONTWAIT) == 0) {
          epoll_ctl(ep, EPOLL_CTL_DEL, evs[i].data.fd, NULL);
          close(evs[i].data.fd);
        }
    }
    _exit(0);
  }
  close(p[1]);
  *ready_fd = p[0];
  return pid;
}

static int wait_ready(int fd, int timeout_ms)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  int ok = -1;

  if (poll(&pfd, 1, timeout_ms) > 0
      && (ssize_t) sizeof(ok) != read(fd, &ok, sizeof(ok)))
    ok = -1;
  return ok;
}

/* ---- the child that connects and disconnects ---------------------------- */

struct churn_report {
  int cycles;     /* streams opened, ":ok" read, closed */
  int failures;   /* streams that did not give a 200 and ":ok" */
  char first[96]; /* what the first failure was */
};

static void churn_fail(struct churn_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void churn_fail(struct churn_report *r, const char *fmt, ...)
{
  va_list ap;

  if (0 == r->failures++) {
    va_start(ap, fmt);
    vsnprintf(r->first, sizeof(r->first), fmt, ap);
    va_end(ap);
  }
}

/* A child running `slots` streams at a time, each one: connect, read the
 * 200 and ":ok", close, again; at most max_cycles per slot and until run_ms
 * after the go byte arrives on *go_fd. Reports a struct churn_report on
 * *report_fd. */
static pid_t spawn_churn(int slots, int max_cycles, int run_ms, int src0,
                         int *go_fd, int *report_fd)
{
  int go[2], rep[2];
  pid_t pid;

  ck_assert_int_eq(0, pipe(go));
  ck_assert_int_eq(0, pipe(rep));
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (0 == pid) {
    static const char req[] = "GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    struct pollfd *pfd = calloc((size_t) slots, sizeof(*pfd));
    int *cycles = calloc((size_t) slots, sizeof(int));
    size_t *got = calloc((size_t) slots, sizeof(size_t));
    char *bufs = malloc((size_t) slots * SLOT_BUF);
    struct churn_report r;
    struct pollfd g = { .fd = go[0], .events = POLLIN };
    uint16_t port = srv.port;
    long long end;
    char src[32], buf[8];
    int i, live = 0;

    memset(&r, 0, sizeof(r));
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(go[1]);
    close(rep[0]);
    if (poll(&g, 1, 120000) <= 0 || 1 != read(go[0], buf, 1))
      _exit(1);
    end = tl_now_ms() + run_ms;
    for (i = 0; i < slots; i++) {
      snprintf(src, sizeof(src), "127.0.0.%d", src0 + i % 8);
      pfd[i].fd = tl_connect(port, src);
      pfd[i].events = POLLIN;
      if (pfd[i].fd >= 0
          && (ssize_t) sizeof(req) - 1
                 == send(pfd[i].fd, req, sizeof(req) - 1, MSG_NOSIGNAL))
        live++;
      else
        churn_fail(&r, "connect/send: %s", strerror(errno));
    }
    while (live > 0 && tl_now_ms() < end + 5000) {
      if (poll(pfd, (nfds_t) slots, 100) <= 0)
        continue;
      for (i = 0; i < slots; i++) {
        char *b = bufs + (size_t) i * SLOT_BUF;
        ssize_t n;

        if (pfd[i].fd < 0 || 0 == pfd[i].revents)
          continue;
        n = recv(pfd[i].fd, b + got[i], SLOT_BUF - 1 - got[i], MSG_DONTWAIT);
        if (n < 0 && (EAGAIN == errno || EINTR == errno))
          continue;
        if (n > 0) {
          got[i] += (size_t) n;
          b[got[i]] = '\0';
          if (NULL == strstr(b, ":ok\n") && got[i] < SLOT_BUF - 1)
            continue; /* the head and ":ok" may come in two reads */
          if (0 == strncmp(b, "HTTP/1.1 200", 12) && NULL != strstr(b, ":ok\n"))
            r.cycles++;
          else
            churn_fail(&r, "answer: %.60s", b);
        } else {
          churn_fail(&r, "recv: %s", 0 == n ? "closed" : strerror(errno));
        }
        close(pfd[i].fd);
        pfd[i].fd = -1;
        got[i] = 0;
        live--;
        if (++cycles[i] >= max_cycles || tl_now_ms() >= end)
          continue;
        snprintf(src, sizeof(src), "127.0.0.%d", src0 + i % 8);
        pfd[i].fd = tl_connect(port, src);
        if (pfd[i].fd >= 0
            && (ssize_t) sizeof(req) - 1
                   == send(pfd[i].fd, req, sizeof(req) - 1, MSG_NOSIGNAL)) {
          live++;
        } else {
          churn_fail(&r, "reconnect: %s", strerror(errno));
          if (pfd[i].fd >= 0)
            close(pfd[i].fd);
          pfd[i].fd = -1;
        }
      }
    }
    for (i = 0; i < slots; i++)
      if (pfd[i].fd >= 0)
        close(pfd[i].fd);
    (void) !write(rep[1], &r, sizeof(r));
    _exit(0);
  }
  close(go[0]);
  close(rep[1]);
  *go_fd = go[1];
  *report_fd = rep[0];
  return pid;
}

/* ---- the publisher ------------------------------------------------------ */

struct pub {
  int total;         /* steady events to publish, at most ... */
  int duration_ms;   /* ... in this long */
  int gap_ms;        /* between steady events */
  int groups;        /* heavy topics bulk-0 ... */
  int bulk_start_ms; /* first heavy group, then one group per ... */
  int bulk_gap_ms;   /* ... this many ms */
  atomic_int acked;  /* steady events answered 200 */
  atomic_int bulk_acked;
  atomic_int retries;   /* 503s retried */
  atomic_int max_ms;    /* the slowest publish */
  long long t0;         /* when publishing started */
  atomic_bool stopping; /* the server is being stopped: quit quietly */
  atomic_bool done;
  char error[256];
  char (*payload)[EV_SIZE + 1];
};

/* Steady event n's data: "n=000042|" and letters, EV_SIZE bytes. */
static void make_payload(int n, char *out)
{
  int i = snprintf(out, EV_SIZE + 1, "n=%06d|", n);

  for (; i < EV_SIZE; i++)
    out[i] = (char) ('a' + (n * 7 + i) % 26);
  out[EV_SIZE] = '\0';
}

/* POST /publish<query> with a text/plain body; retries 503s. Returns the
 * final status. Each answer may take up to 30 s: the server may be slow
 * while thousands of clients come and go on a busy machine. */
static int publish(struct pub *p, const char *query, const char *data,
                   size_t len)
{
  struct tl_response *answer = malloc(sizeof(*answer));
  int st = -1, tries;

  for (tries = 0; tries < 500; tries++) {
    long long t = tl_now_ms(), took;

    st = tl_publish_query(srv.port, query, data, len, answer,
                          30000 * tl_scale());
    took = tl_now_ms() - t;
    if (took > atomic_load(&p->max_ms))
      atomic_store(&p->max_ms, (int) took);
    if (st < 0 && !atomic_load(&p->stopping)) {
      /* Say why: is the server still accepting (its listen queue), and
       * what are its connections doing? */
      char cmd[160];

      snprintf(p->error, sizeof(p->error), "no answer after %lld ms: %.100s",
               took, answer->head);
      fprintf(stderr, "publish stalled at %lld ms into the run; fds %d\n",
              tl_now_ms() - p->t0, tl_count_fds(srv.pid));
      snprintf(cmd, sizeof(cmd),
               "ss -ltn 'sport = :%u' >&2; ss -tan "
               "'sport = :%u' | awk '{print $1}' | sort | uniq -c >&2",
               srv.port, srv.port);
      (void) !system(cmd);
    }
    if (503 != st || atomic_load(&p->stopping))
      break;
    atomic_fetch_add(&p->retries, 1);
    tl_sleep_ms(10);
  }
  free(answer);
  return st;
}

static void *publisher(void *arg)
{
  struct pub *p = arg;
  char *bulk = malloc(BULK_SIZE);
  long long t0 = tl_now_ms();
  int i = 0, g = 0;

  p->t0 = t0;
  memset(bulk, 'B', BULK_SIZE);
  while (i < p->total && !atomic_load(&p->stopping)
         && tl_now_ms() - t0 < p->duration_ms) {
    long long now = tl_now_ms(), due = t0 + (long long) i * p->gap_ms;
    int st;

    /* A heavy group: enough to overflow its non-readers' buffers. */
    if (g < p->groups
        && now >= t0 + p->bulk_start_ms + (long long) g * p->bulk_gap_ms) {
      char q[32];
      int k;

      snprintf(q, sizeof(q), "?topic=bulk-%d", g);
      for (k = 0; k < BULK_PER_GROUP && !atomic_load(&p->stopping); k++) {
        st = publish(p, q, bulk, BULK_SIZE);
        if (200 != st) {
          if (!atomic_load(&p->stopping) && '\0' == p->error[0])
            snprintf(p->error, sizeof(p->error), "bulk publish: %d", st);
          goto out;
        }
        atomic_fetch_add(&p->bulk_acked, 1);
      }
      g++;
      continue;
    }
    if (now < due) {
      tl_sleep_ms((int) (due - now) < 5 ? (int) (due - now) : 5);
      continue;
    }
    st = publish(p, "", p->payload[i], EV_SIZE);
    if (200 != st) {
      if (!atomic_load(&p->stopping) && '\0' == p->error[0])
        snprintf(p->error, sizeof(p->error), "publish %d: %d", i, st);
      break;
    }
    atomic_store(&p->acked, ++i);
  }
out:
  atomic_store(&p->done, true);
  free(bulk);
  return NULL;
}

/* ---- the readers -------------------------------------------------------- */

struct readers {
  int n;
  struct tl_sse *s;
  int *next; /* next steady event expected */
  int *told; /* "retry:" frames seen (the shutdown's jittered delay) */
  int ep;
  int total; /* events there are payloads for */
  int why;   /* errno of a lost stream, 0 for a close */
  char (*payload)[EV_SIZE + 1];
};

/* Check one frame of reader i: heartbeats pass; an event must be the next
 * one, whole. */
static void check_frame(struct readers *rd, int i, char *frame)
{
  int n = 0, ms;

  if (':' == frame[0])
    return;
  /* At a stop each stream is told when to come back, alone in a frame
   * (doc/protocol.md), after every event it was owed. */
  if (1 == sscanf(frame, "retry: %d%n", &ms, &n) && ms > 0
      && '\0' == frame[n + ('\n' == frame[n])]) {
    rd->told[i]++;
    return;
  }
  ck_assert_msg(rd->told[i] == 0, "reader %d: a frame after the stop's retry",
                i);
  ck_assert_msg(tl_strip_id(frame, NULL, 0) > 0, "reader %d: no id in '%.40s'",
                i, frame);
  ck_assert_msg(0 == strncmp(frame, "data: n=", 8),
                "reader %d: unexpected frame '%.60s'", i, frame);
  n = atoi(frame + 8);
  ck_assert_msg(n == rd->next[i], "reader %d: event %d after %d", i, n,
                rd->next[i] - 1);
  ck_assert_msg(n < rd->total && 0 == strcmp(frame + 6, rd->payload[n]),
                "reader %d: event %d corrupted", i, n);
  rd->next[i]++;
}

/* Readers that have the first want events. */
static int complete(const struct readers *rd, int want)
{
  int i, n = 0;

  for (i = 0; i < rd->n; i++)
    if (rd->next[i] >= want)
      n++;
  return n;
}

/* Read what is ready, for up to timeout_ms. Returns false if a reader's
 * stream ended or closed (its index in *which). */
static bool pump_readers(struct readers *rd, int timeout_ms, int *which)
{
  /* Small reads: tl_sse_take() moves the rest of the buffer per frame. */
  static char buf[16384];
  static char frame[EV_SIZE + 256];
  struct epoll_event evs[256];
  int k = epoll_wait(rd->ep, evs, 256, timeout_ms), j;

  for (j = 0; j < k; j++) {
    int i = (int) evs[j].data.u32;
    ssize_t r = recv(rd->s[i].fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (r < 0 && (EAGAIN == errno || EINTR == errno))
      continue;
    if (r > 0)
      tl_sse_feed(&rd->s[i], buf, (size_t) r);
    while (tl_sse_take(&rd->s[i], frame, sizeof(frame)) >= 0)
      check_frame(rd, i, frame);
    if (r <= 0 || rd->s[i].ended) {
      rd->s[i].closed = r <= 0;
      rd->why = r < 0 ? errno : 0;
      epoll_ctl(rd->ep, EPOLL_CTL_DEL, rd->s[i].fd, NULL);
      *which = i;
      return false;
    }
  }
  return true;
}

static void readers_init(struct readers *rd, int n, int total,
                         char (*payload)[EV_SIZE + 1])
{
  int i;

  rd->n = n;
  rd->total = total;
  rd->payload = payload;
  rd->s = calloc((size_t) n, sizeof(*rd->s));
  rd->next = calloc((size_t) n, sizeof(int));
  rd->told = calloc((size_t) n, sizeof(int));
  rd->ep = epoll_create1(EPOLL_CLOEXEC);
  ck_assert_int_ge(rd->ep, 0);
  ck_assert_int_eq(n, tl_sse_open_crowd(rd->s, n, srv.port,
                                        &(struct tl_crowd){ .src0 = 2,
                                                            .nsrc = 8 }));
  for (i = 0; i < n; i++) {
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t) i };

    ck_assert_int_eq(0, epoll_ctl(rd->ep, EPOLL_CTL_ADD, rd->s[i].fd, &ev));
  }
}

static void readers_free(struct readers *rd)
{
  int i;

  for (i = 0; i < rd->n; i++)
    tl_sse_close(&rd->s[i]);
  close(rd->ep);
  free(rd->s);
  free(rd->next);
  free(rd->told);
}

static char (*make_payloads(int total))[EV_SIZE + 1]
{
  char(*payload)[EV_SIZE + 1] = calloc((size_t) total, EV_SIZE + 1);
  int i;

  for (i = 0; i < total; i++)
    make_payload(i, payload[i]);
  return payload;
}

/* ---- 5,000 clients ------------------------------------------------------ */

START_TEST(test_chaos_5000_clients)
{
  /* No global ceiling: under TSan the server is so slow that honest
   * readers fall behind and --max-buffered (tested in check_security)
   * would cut them. */
  static const char *const args[] = {
    "--max-clients", "6000", "--max-buffered", "0", "--heartbeat", "1", NULL
  };
  enum {
    READERS = 3000,
    KILLED = 800,
    SILENT = 600,
    CHURN = 600,
    GROUPS = 4,
    TOTAL = 500,
    GAP_MS = 20,
    KILL_AT_MS = 6000,
    CHURN_MS = 5000,
    CHURN_CYCLES = 10
  };
  char(*payload)[EV_SIZE + 1] = make_payloads(TOTAL);
  struct pub p;
  struct readers rd;
  struct tl_sse *silent = calloc(SILENT, sizeof(*silent));
  struct churn_report cr;
  long long t0, t_conn, t_pub, now, h0 = -1, h1 = -1, c0 = -1, c1 = -1;
  long long slow, cuts, hangups;
  long base_rss, rss;
  int base_fds, fds, ready_fd, go_fd, report_fd, i, which, st, acked;
  pid_t holder, churn;
  pthread_t th;
  bool killed = false;

  memset(&cr, 0, sizeof(cr));
  tl_raise_nofile();
  tl_server_start_ok(&srv, args);
  tl_sleep_ms(200);
  base_rss = tl_rss_kib(srv.pid);
  base_fds = tl_count_fds(srv.pid);
  ck_assert_int_gt(base_rss, 0);
  ck_assert_int_gt(base_fds, 0);

  /* Everyone connects before the first publish: every reader must get
   * every event. */
  t0 = tl_now_ms();
  holder = spawn_holder(KILLED, 10, &ready_fd);
  churn = spawn_churn(CHURN, CHURN_CYCLES, CHURN_MS, 20, &go_fd, &report_fd);
  readers_init(&rd, READERS, TOTAL, payload);
  ck_assert_int_eq(SILENT, open_silent(silent, SILENT, GROUPS));
  ck_assert_int_eq(KILLED, wait_ready(ready_fd, 60000 * tl_scale()));
  ck_assert_int_eq(READERS + KILLED + SILENT, tl_stat(srv.port, "clients"));
  t_conn = tl_now_ms() - t0;

  memset(&p, 0, sizeof(p));
  p.total = TOTAL;
  p.duration_ms = TOTAL * GAP_MS * tl_scale();
  p.gap_ms = GAP_MS;
  p.groups = GROUPS;
  p.bulk_start_ms = 500;
  p.bulk_gap_ms = 1000;
  p.payload = payload;
  ck_assert_int_eq(1, (int) write(go_fd, "g", 1));
  t0 = tl_now_ms();
  ck_assert_int_eq(0, pthread_create(&th, NULL, publisher, &p));
  while (
      (!atomic_load(&p.done) || complete(&rd, atomic_load(&p.acked)) < READERS)
      && (now = tl_now_ms()) - t0 < 40000 * tl_scale()) {
    if (!pump_readers(&rd, 20, &which)) {
      fprintf(stderr,
              "/stats: slow_disconnects %lld memory_cuts %lld "
              "hangups %lld clients %lld\n",
              stat0("slow_disconnects"), stat0("memory_cuts"), stat0("hangups"),
              stat0("clients"));
      tl_server_print_log(&srv);
      ck_abort_msg("reader %d lost its stream after %d events (%s, "
                   "ended %d)",
                   which, rd.next[which],
                   0 != rd.why ? strerror(rd.why) : "closed",
                   rd.s[which].ended);
    }
    now = tl_now_ms();
    /* Kill the holder mid-run, once the churn is over; count what the
     * server noticed in the 2 s around it. */
    if (!killed && h0 < 0 && now - t0 >= KILL_AT_MS - 300) {
      h0 = tl_stat(srv.port, "hangups");
      c0 = tl_stat(srv.port, "clients");
    }
    if (!killed && now - t0 >= KILL_AT_MS) {
      kill(holder, SIGKILL);
      waitpid(holder, NULL, 0);
      killed = true;
    }
    if (killed && h1 < 0 && now - t0 >= KILL_AT_MS + 2000) {
      h1 = tl_stat(srv.port, "hangups");
      c1 = tl_stat(srv.port, "clients");
    }
  }
  t_pub = tl_now_ms() - t0;
  pthread_join(th, NULL);
  ck_assert_msg('\0' == p.error[0], "publisher: %s", p.error);
  acked = atomic_load(&p.acked);
  ck_assert_msg(acked >= TOTAL / 5,
                "only %d events published in %d ms "
                "(slowest publish %d ms)",
                acked, p.duration_ms, atomic_load(&p.max_ms));
  ck_assert_int_eq(GROUPS * BULK_PER_GROUP, atomic_load(&p.bulk_acked));
  for (i = 0; i < READERS; i++)
    ck_assert_msg(acked == rd.next[i], "reader %d got %d of %d events", i,
                  rd.next[i], acked);
  ck_assert_msg(killed && h1 >= 0, "the run ended before the kill");

  /* No duplicate comes late (heartbeats only). */
  now = tl_now_ms();
  while (tl_now_ms() - now < 1200)
    ck_assert_msg(pump_readers(&rd, 50, &which), "reader %d lost its stream",
                  which);

  /* The churn child. */
  ck_assert_int_eq(churn, waitpid(churn, &st, 0));
  ck_assert_msg(WIFEXITED(st) && 0 == WEXITSTATUS(st), "churn status %d", st);
  ck_assert_int_eq((int) sizeof(cr), (int) read(report_fd, &cr, sizeof(cr)));

  slow = stat0("slow_disconnects");
  cuts = stat0("memory_cuts");
  hangups = stat0("hangups");
  printf("chaos: %d readers, %d killed, %d silent, %d churn slots connected "
         "in %lld ms; %d events x %d readers + %d heavy events in %lld ms "
         "(%d retries on 503, slowest publish %d ms); churn %d cycles, %d "
         "failures; slow_disconnects %lld, memory_cuts %lld, hangups %lld "
         "(%lld in the kill window), clients %lld -> %lld around the "
         "kill\n",
         READERS, KILLED, SILENT, CHURN, t_conn, acked, READERS,
         GROUPS * BULK_PER_GROUP, t_pub, atomic_load(&p.retries),
         atomic_load(&p.max_ms), cr.cycles, cr.failures, slow, cuts, hangups,
         h1 - h0, c0, c1);
  fflush(stdout);
  ck_assert_msg(cr.cycles >= CHURN, "churn: only %d cycles", cr.cycles);
  ck_assert_msg(0 == cr.failures,
                "churn: %d streams without a 200 and :ok "
                "(first: %s)",
                cr.failures, cr.first);
  /* Every non-reader was cut off for not reading. */
  ck_assert_msg(slow >= SILENT * 9 / 10,
                "slow_disconnects %lld of %d "
                "non-readers (memory_cuts %lld)",
                slow, SILENT, cuts);
  ck_assert_msg(slow + cuts <= SILENT, "%lld readers cut as slow",
                slow + cuts - SILENT);
  /* The killed ones were all removed within 2 s, and counted as
   * hang-ups, whether the watcher or a failed direct write noticed first
   * (one whose death libmicrohttpd's own send noticed is removed without
   * being counted). */
  ck_assert_msg(c0 - c1 >= KILLED * 95 / 100,
                "clients %lld -> %lld within 2 s of killing %d", c0, c1,
                KILLED);
  ck_assert_msg(h1 - h0 >= KILLED / 2, "hangups %lld for %d killed", h1 - h0,
                KILLED);
  EXPECT(h1 - h0 >= KILLED * 95 / 100,
         "hangups +%lld in the 2 s after "
         "killing %d clients (all %lld removed)",
         h1 - h0, KILLED, c0 - c1);

  /* Everyone leaves: memory and descriptors come back. */
  readers_free(&rd);
  for (i = 0; i < SILENT; i++)
    tl_sse_close(&silent[i]);
  free(silent);
  ck_assert_int_eq(0, tl_wait_stat(srv.port, "clients", 0, 10000 * tl_scale()));
  now = tl_now_ms();
  while ((fds = tl_count_fds(srv.pid)) > base_fds + 2
         && tl_now_ms() - now < 5000 * tl_scale())
    tl_sleep_ms(50);
  while ((rss = tl_rss_kib(srv.pid)) > base_rss + 16 * 1024
         && tl_now_ms() - now < 12000 * tl_scale())
    tl_sleep_ms(50);
  printf("chaos: server VmRSS %ld KiB before, %ld KiB after (+%ld); "
         "fds %d before, %d after\n",
         base_rss, rss, rss - base_rss, base_fds, fds);
  fflush(stdout);
  ck_assert_msg(fds <= base_fds + 2, "fd leak: %d before, %d after", base_fds,
                fds);
  /* The server gives freed connection memory back (malloc_trim, checked
   * every 5 s) once the crowd has gone. */
  if (tl_instrumented(srv.pid))
    printf("chaos: (the server is instrumented: VmRSS not checked)\n");
  else
    EXPECT(rss <= base_rss + 16 * 1024,
           "server VmRSS %ld KiB before, "
           "%ld KiB after all %d clients left (+%ld KiB, allowed +16 MiB)",
           base_rss, rss, READERS + KILLED + SILENT + CHURN, rss - base_rss);
  free(payload);
  close(ready_fd);
  close(go_fd);
  close(report_fd);
  tl_server_stop_ok(&srv);
}
END_TEST

/* ---- SIGTERM in the middle ---------------------------------------------- */

START_TEST(test_chaos_sigterm_mid_run_exits_0_promptly)
{
  static const char *const args[] = { "--max-clients", "6000", "--heartbeat",
                                      "1", NULL };
  enum {
    READERS = 1200,
    KILLED = 300,
    SILENT = 250,
    CHURN = 250,
    GROUPS = 2,
    TOTAL = 500,
    GAP_MS = 20,
    KILL_AT_MS = 1500,
    TERM_AT_MS = 3000,
    CHURN_CYCLES = 1000
  };
  char(*payload)[EV_SIZE + 1] = make_payloads(TOTAL);
  struct pub p;
  struct readers rd;
  struct tl_sse *silent = calloc(SILENT, sizeof(*silent));
  long long t0, t_term = 0, elapsed = -1, now;
  int ready_fd, go_fd, report_fd, i, which, st = -1, ended = 0, acked;
  int least = TOTAL, most = 0, told = 0;
  pid_t holder, churn;
  pthread_t th;
  bool killed = false, exited = false;

  tl_raise_nofile();
  tl_server_start_ok(&srv, args);
  holder = spawn_holder(KILLED, 10, &ready_fd);
  churn = spawn_churn(CHURN, CHURN_CYCLES, 60000, 20, &go_fd, &report_fd);
  readers_init(&rd, READERS, TOTAL, payload);
  ck_assert_int_eq(SILENT, open_silent(silent, SILENT, GROUPS));
  ck_assert_int_eq(KILLED, wait_ready(ready_fd, 60000 * tl_scale()));
  ck_assert_int_eq(READERS + KILLED + SILENT, tl_stat(srv.port, "clients"));

  memset(&p, 0, sizeof(p));
  p.total = TOTAL;
  p.duration_ms = TOTAL * GAP_MS * tl_scale();
  p.gap_ms = GAP_MS;
  p.groups = GROUPS;
  p.bulk_start_ms = 300;
  p.bulk_gap_ms = 700;
  p.payload = payload;
  ck_assert_int_eq(1, (int) write(go_fd, "g", 1));
  t0 = tl_now_ms();
  ck_assert_int_eq(0, pthread_create(&th, NULL, publisher, &p));
  /* Until the server has exited and every reader's stream has ended. */
  while ((now = tl_now_ms()) - t0 < 20000 * tl_scale()) {
    if (!pump_readers(&rd, 10, &which)) {
      ck_assert_msg(0 != t_term, "reader %d's stream ended before SIGTERM",
                    which);
      if (rd.s[which].ended)
        ended++;
      tl_sse_close(&rd.s[which]);
      rd.s[which].fd = -1;
    }
    now = tl_now_ms();
    if (!killed && now - t0 >= KILL_AT_MS) {
      kill(holder, SIGKILL);
      waitpid(holder, NULL, 0);
      killed = true;
    }
    /* SIGTERM in the middle of the run: once TERM_AT_MS has passed and
     * at least 20 steady events were accepted. A machine slowed by
     * sanitizers or other load takes longer over the heavy groups, which
     * come first; it gets until 10 s (scaled) to get there. */
    if (0 == t_term && now - t0 >= TERM_AT_MS
        && (atomic_load(&p.acked) >= 20 || now - t0 >= 10000 * tl_scale())) {
      atomic_store(&p.stopping, true);
      t_term = tl_now_ms();
      kill(srv.pid, SIGTERM);
    }
    if (0 != t_term && !exited) {
      pid_t r = waitpid(srv.pid, &st, WNOHANG);

      if (r == srv.pid) {
        exited = true;
        elapsed = tl_now_ms() - t_term;
      } else if (tl_now_ms() - t_term > 10000 * tl_scale()) {
        break;
      }
    }
    if (exited && ended == READERS)
      break;
    if (exited && tl_now_ms() - t_term - elapsed > 3000 * tl_scale())
      break;
  }
  pthread_join(th, NULL);
  acked = atomic_load(&p.acked);
  for (i = 0; i < READERS; i++) {
    if (rd.next[i] < least)
      least = rd.next[i];
    if (rd.next[i] > most)
      most = rd.next[i];
    told += 1 == rd.told[i];
  }
  printf("chaos SIGTERM: %d readers, %d killed, %d silent, %d churn slots; "
         "%d events accepted; server exit status %d after %lld ms; %d of %d "
         "streams ended cleanly, %d told once when to come back; readers "
         "got %d..%d events; slowest publish %d ms\n",
         READERS, KILLED, SILENT, CHURN, acked, st, elapsed, ended, READERS,
         told, least, most, atomic_load(&p.max_ms));
  fflush(stdout);
  if (!exited) {
    kill(srv.pid, SIGKILL);
    waitpid(srv.pid, NULL, 0);
  }
  tl_server_reaped(&srv, exited ? st : -1);
  ck_assert_msg(exited, "the server did not exit within 10 s of SIGTERM");
  ck_assert_msg(WIFEXITED(st) && 0 == WEXITSTATUS(st),
                "exit status %d after SIGTERM", st);
  ck_assert_msg(elapsed < 2000 * tl_scale(), "took %lld ms to exit", elapsed);
  ck_assert_msg('\0' == p.error[0], "publisher: %s", p.error);
  ck_assert_msg(acked >= 10, "only %d events published before SIGTERM", acked);
  /* Everything accepted reached every reader, then a clean end. */
  ck_assert_msg(least >= acked, "a reader got %d of the %d accepted events",
                least, acked);
  ck_assert_int_eq(ended, READERS);
  ck_assert_int_eq(told, READERS);

  ck_assert_int_eq(churn, waitpid(churn, &st, 0));
  ck_assert_msg(WIFEXITED(st) && 0 == WEXITSTATUS(st), "churn status %d", st);
  readers_free(&rd);
  for (i = 0; i < SILENT; i++)
    tl_sse_close(&silent[i]);
  free(silent);
  free(payload);
  close(ready_fd);
  close(go_fd);
  close(report_fd);
}
END_TEST

/* ---- a reader that is late now and then --------------------------------- */

/* A reader that reads in bursts (every 500 ms, 8 KB receive buffer, MSS
 * 1400) while 200 events/s of 1 KB arrive: at most ~100 KB behind, far
 * from the 1 MiB client buffer. It must keep its stream and get every
 * event once, in order. */
START_TEST(test_chaos_bursty_reader_keeps_its_stream)
{
  static const char *const args[] = { "--heartbeat", "1", NULL };
  enum { TOTAL = 600, GAP_MS = 5, PAUSE_MS = 500 };
  char(*payload)[EV_SIZE + 1] = make_payloads(TOTAL);
  struct readers rd;
  struct pub p;
  pthread_t th;
  long long t0;
  char buf[65536];
  int acked, bursts = 0;

  tl_server_start_ok(&srv, args);
  memset(&rd, 0, sizeof(rd));
  rd.n = 1;
  rd.total = TOTAL;
  rd.payload = payload;
  rd.s = calloc(1, sizeof(*rd.s));
  rd.next = calloc(1, sizeof(int));
  rd.told = calloc(1, sizeof(int));
  ck_assert_int_eq(0, tl_sse_open_slow(&rd.s[0], srv.port, "/sse", "127.0.0.2",
                                       8192, MSS));
  ck_assert(tl_sse_got_ok(&rd.s[0], 3000));
  memset(&p, 0, sizeof(p));
  p.total = TOTAL;
  p.duration_ms = 20000;
  p.gap_ms = GAP_MS;
  p.payload = payload;
  t0 = tl_now_ms();
  ck_assert_int_eq(0, pthread_create(&th, NULL, publisher, &p));
  while ((!atomic_load(&p.done) || rd.next[0] < atomic_load(&p.acked))
         && tl_now_ms() - t0 < 30000 * tl_scale()) {
    char frame[EV_SIZE + 256];
    ssize_t r;

    tl_sleep_ms(PAUSE_MS);
    bursts++;
    while ((r = recv(rd.s[0].fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
      tl_sse_feed(&rd.s[0], buf, (size_t) r);
      while (tl_sse_take(&rd.s[0], frame, sizeof(frame)) >= 0)
        check_frame(&rd, 0, frame);
    }
    ck_assert_msg(r < 0 && (EAGAIN == errno || EINTR == errno),
                  "the bursty reader lost its stream after %d events and %d "
                  "bursts (%s; slow_disconnects %lld)",
                  rd.next[0], bursts,
                  r < 0 ? strerror(errno) : "closed by the server",
                  stat0("slow_disconnects"));
  }
  pthread_join(th, NULL);
  acked = atomic_load(&p.acked);
  printf("bursty reader: %d events in %d bursts, %lld ms\n", rd.next[0], bursts,
         tl_now_ms() - t0);
  fflush(stdout);
  ck_assert_msg('\0' == p.error[0], "publisher: %s", p.error);
  ck_assert_int_eq(TOTAL, acked);
  ck_assert_int_eq(TOTAL, rd.next[0]);
  ck_assert_int_eq(0, stat0("slow_disconnects"));
  tl_sse_close(&rd.s[0]);
  free(rd.s);
  free(rd.next);
  free(rd.told);
  free(payload);
  tl_server_stop_ok(&srv);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("chaos");
  TCase *scale = tcase_create("scale");
  TCase *term = tcase_create("sigterm");
  TCase *bursty = tcase_create("bursty");
  SRunner *sr;
  int failed;

  signal(SIGPIPE, SIG_IGN);
  tcase_set_timeout(scale, 120);
  tcase_add_test(scale, test_chaos_5000_clients);
  suite_add_tcase(s, scale);
  tcase_set_timeout(term, 60);
  tcase_add_test(term, test_chaos_sigterm_mid_run_exits_0_promptly);
  suite_add_tcase(s, term);
  tcase_set_timeout(bursty, 60);
  tcase_add_test(bursty, test_chaos_bursty_reader_keeps_its_stream);
  suite_add_tcase(s, bursty);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
