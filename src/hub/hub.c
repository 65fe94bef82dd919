/* hub.c - lifecycle, publishing and counters of a hub (implements most of
 * ssehub.h; the HTTP side is in http*.c). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "broadcaster.h"
#include "hostport.h"
#include "hub.h"
#include "jitter.h"
#include "pubfields.h"
#include "sse_fmt.h"
#include "streamid.h"
#include "sync.h"

/* How long ssehub_stop() lets streams finish on their own before the
 * daemon closes what is left. */
#define STOP_GRACE_MS 500

unsigned ssehub_version(void)
{
  return SSEHUB_VERSION_NUM;
}

const char *ssehub_version_string(void)
{
  return SSEHUB_VERSION_STRING;
}

static void defaults(struct ssehub_options *o)
{
  memset(o, 0, sizeof(*o));
  o->size = sizeof(*o);
  o->port = 8888;
  o->client_buffer = 1024 * 1024;
  o->max_event_size = 64 * 1024;
  o->publish_queue = SH_BATCH_MAX / 2;
  o->publish_wait_ms = 5000;
  o->heartbeat_ms = 15 * 1000;
  o->retry_after_s = 5;
  o->connection_memory = 32 * 1024;
  o->connection_timeout_s = 60;
  o->header_timeout_s = 10;
  o->history_size = 1000;
  o->retry_ms = 3000;
  o->demo_page = 1;
  o->max_buffered = 256u * 1024 * 1024;
  o->log_level = SSEHUB_LOG_INFO;
  o->redis_stream = "ssehub";
  o->ipv6_prefix = 64;
}

void ssehub_options_init(struct ssehub_options *o, size_t size)
{
  struct ssehub_options d;

  defaults(&d);
  /* A caller built against an older header has fewer fields: give it
   * those, and its own size, so ssehub_new() knows where they end. */
  if (size > sizeof(d))
    size = sizeof(d);
  d.size = size;
  memcpy(o, &d, size);
}

/* Read the caller's options, however old or new its header: fields it
 * does not have keep their defaults; fields this library does not know
 * must be zero (else the caller asked for something we cannot do). */
static int take_options(struct ssehub_options *dst,
                        const struct ssehub_options *o)
{
  const unsigned char *extra = (const unsigned char *) o + sizeof(*dst);
  size_t i;

  defaults(dst);
  if (o->size < offsetof(struct ssehub_options, bind_address)
      || o->size > 64 * sizeof(*dst))
    return -EINVAL; /* not filled by ssehub_options_default() */
  for (i = sizeof(*dst); i < o->size; i++)
    if (0 != extra[i - sizeof(*dst)])
      return -EINVAL;
  memcpy(dst, o, o->size < sizeof(*dst) ? o->size : sizeof(*dst));
  dst->size = sizeof(*dst);
  return 0;
}

/* The cores this process may run on (taskset, cgroup cpusets), not the
 * machine's: two workers pinned to one core only take turns (measured:
 * fan-out to 8,000 clients p99 190 ms with 2 workers, 145 ms with 1). */
static unsigned usable_cores(void)
{
  cpu_set_t set;
  long n;

  if (0 == sched_getaffinity(0, sizeof(set), &set) && CPU_COUNT(&set) > 0)
    return (unsigned) CPU_COUNT(&set);
  n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned) n : 1;
}

/* File descriptors the process needs besides client sockets: per worker
 * an epoll fd and an eventfd, the listen socket, stdio, logs, and the
 * connections MHD admits above max_clients. */
static unsigned fd_reserve(unsigned threads)
{
  return SH_CONN_HEADROOM + 2 * threads + 32;
}

static unsigned default_max_clients(unsigned threads)
{
  struct rlimit rl;
  rlim_t cap = 1024;

  if (0 == getrlimit(RLIMIT_NOFILE, &rl) && RLIM_INFINITY != rl.rlim_cur)
    cap = rl.rlim_cur;
  else if (0 == getrlimit(RLIMIT_NOFILE, &rl))
    cap = 1024 * 1024;
  if (cap <= fd_reserve(threads) + 1)
    return 1;
  return (unsigned) (cap - fd_reserve(threads));
}

/* Streams may take descriptors up to the open-file limit less half the
 * headroom MHD has above max_clients: the rest stays for publishes,
 * scrapes, refusals and logs. With max_clients derived from the limit
 * (default_max_clients()) the registry is full first; this refuses
 * streams when --max-clients is set above what the limit allows, or
 * other descriptors use it up, before accept() fails with EMFILE (MHD
 * then stops accepting, and clients wait unanswered in the backlog). */
static unsigned fd_budget_of(void)
{
  struct rlimit rl;

  if (0 != getrlimit(RLIMIT_NOFILE, &rl) || RLIM_INFINITY == rl.rlim_cur
      || rl.rlim_cur > UINT32_MAX)
    return UINT32_MAX;
  if (rl.rlim_cur <= SH_CONN_HEADROOM)
    return (unsigned) rl.rlim_cur;
  return (unsigned) (rl.rlim_cur - SH_CONN_HEADROOM / 2);
}

/* The hang-up watcher finds clients by fd; no fd can exceed the limit. */
static size_t fd_table_size(void)
{
  struct rlimit rl;

  if (0 != getrlimit(RLIMIT_NOFILE, &rl) || RLIM_INFINITY == rl.rlim_cur
      || rl.rlim_cur > 1024 * 1024)
    return 1024 * 1024;
  return (size_t) rl.rlim_cur;
}

static int check_options(const struct ssehub_options *o)
{
  char host[SH_HOST_MAX];
  uint16_t port;
  unsigned i;

  if (0 == o->client_buffer || 0 == o->max_event_size || 0 == o->publish_queue
      || o->threads > 1024 || o->connection_memory < 4096
      || (SSEHUB_WHEN_FULL_429 != o->when_full
          && SSEHUB_WHEN_FULL_RETRY != o->when_full)
      || o->history_size > 1000000 || o->publish_wait_ms > 60000
      || (o->ncors_origins > 0 && NULL == o->cors_origins)
      || ((NULL == o->tls_cert_pem) != (NULL == o->tls_key_pem))
      || (NULL != o->publish_token && '\0' == o->publish_token[0])
      || (NULL != o->subscribe_token && '\0' == o->subscribe_token[0])
      || (NULL != o->redis_url
          && (NULL == o->redis_stream || '\0' == o->redis_stream[0]))
      || (NULL != o->admin_bind
          && 0 != sh_hostport_parse(o->admin_bind, host, &port))
      || (NULL != o->bind_address
          && 0 != sh_bind_parse(o->bind_address, host, &port)))
    return -EINVAL;
  for (i = 0; i < o->ncors_origins; i++)
    if (NULL == o->cors_origins[i]
        || !sh_fmt_field_ok(o->cors_origins[i], strlen(o->cors_origins[i])))
      return -EINVAL;
  if (o->ipv6_prefix < 1 || o->ipv6_prefix > 128
      || o->ntrusted_proxies > SH_MAX_TRUSTED
      || (o->ntrusted_proxies > 0 && NULL == o->trusted_proxies))
    return -EINVAL;
  for (i = 0; i < o->ntrusted_proxies; i++) {
    struct sh_cidr c;

    if (0 != sh_cidr_parse(o->trusted_proxies[i], &c))
      return -EINVAL;
  }
  return 0;
}

/* The trusted proxies of o, parsed (check_options() passed): *out is NULL
 * for none. Returns 0 or -ENOMEM. */
static int parse_trusted(const struct ssehub_options *o, struct sh_cidr **out)
{
  unsigned i;

  *out = NULL;
  if (0 == o->ntrusted_proxies)
    return 0;
  *out = calloc(o->ntrusted_proxies, sizeof(**out));
  if (NULL == *out)
    return -ENOMEM;
  for (i = 0; i < o->ntrusted_proxies; i++)
    (void) sh_cidr_parse(o->trusted_proxies[i], &(*out)[i]);
  return 0;
}

static struct sh_frame *comment_frame(const char *text)
{
  size_t len = strlen(text);
  struct sh_frame *f = sh_frame_new(sh_fmt_comment_size(len));

  if (NULL != f)
    sh_fmt_comment(text, len, f->bytes);
  return f;
}

/* ":ok" (so every browser fires onopen at once) and the reconnection
 * delay, in one frame. */
static struct sh_frame *preamble_frame(unsigned retry_ms)
{
  char text[64];
  int n = 0 == retry_ms
              ? snprintf(text, sizeof(text), ":ok\n\n")
              : snprintf(text, sizeof(text), ":ok\nretry: %u\n\n", retry_ms);

  return sh_frame_new_copy(text, (size_t) n);
}

/* Deep-copy the strings of the options into the hub. */
static int copy_strings(struct ssehub *hub, const struct ssehub_options *o)
{
  const char *const src[] = { o->bind_address,    o->publish_token,
                              o->subscribe_token, o->tls_cert_pem,
                              o->tls_key_pem,     o->redis_url,
                              o->redis_password,  o->redis_stream,
                              o->admin_bind };
  const char **dst[] = { &hub->opt.bind_address,    &hub->opt.publish_token,
                         &hub->opt.subscribe_token, &hub->opt.tls_cert_pem,
                         &hub->opt.tls_key_pem,     &hub->opt.redis_url,
                         &hub->opt.redis_password,  &hub->opt.redis_stream,
                         &hub->opt.admin_bind };
  char **origins;
  unsigned i;

  /* Own nothing until copied, so that a failure frees only our copies. */
  hub->opt.cors_origins = NULL;
  for (i = 0; i < sizeof(dst) / sizeof(dst[0]); i++)
    *dst[i] = NULL;
  for (i = 0; i < sizeof(dst) / sizeof(dst[0]); i++) {
    if (NULL != src[i]) {
      *dst[i] = strdup(src[i]);
      if (NULL == *dst[i])
        return -ENOMEM;
    }
  }
  if (0 == o->ncors_origins)
    return 0;
  origins = calloc(o->ncors_origins, sizeof(*origins));
  if (NULL == origins)
    return -ENOMEM;
  hub->opt.cors_origins = (const char *const *) origins;
  for (i = 0; i < o->ncors_origins; i++) {
    origins[i] = strdup(o->cors_origins[i]);
    if (NULL == origins[i])
      return -ENOMEM;
  }
  return 0;
}

/* Publish the numbers a reload may change (state.h, "Live settings"). */
static void set_live(struct ssehub *hub, const struct ssehub_options *o)
{
  struct sh_live *l = &hub->live;

  atomic_store(&l->max_clients, o->max_clients);
  atomic_store(&l->max_clients_per_ip, o->max_clients_per_ip);
  atomic_store(&l->publish_rate, o->publish_rate);
  atomic_store(&l->client_buffer, o->client_buffer);
  atomic_store(&l->max_buffered, o->max_buffered);
  atomic_store(&l->max_event_size, o->max_event_size);
  atomic_store(&l->publish_wait_ms, o->publish_wait_ms);
  atomic_store(&l->retry_after_s, o->retry_after_s);
  atomic_store(&l->heartbeat_ms, o->heartbeat_ms);
  atomic_store(&l->retry_ms, o->retry_ms);
  atomic_store(&l->when_full, o->when_full);
}

/* Overwrite a secret before freeing it, so it does not linger in freed
 * memory (core dumps, later allocations). */
static void free_secret(const char *s)
{
  if (NULL != s) {
    volatile char *p = (volatile char *) s;

    while ('\0' != *p)
      *p++ = '\0';
    free((char *) s);
  }
}

/* The length of the options' JWT key (0 means a string's). */
static size_t jwt_key_len(const struct ssehub_options *o)
{
  return 0 != o->jwt_key_len ? o->jwt_key_len : strlen(o->jwt_key);
}

static void free_strings(struct ssehub *hub)
{
  unsigned i;

  free((char *) hub->opt.bind_address);
  free_secret(hub->opt.publish_token);
  free_secret(hub->opt.subscribe_token);
  free_secret(hub->opt.tls_key_pem);
  free((char *) hub->opt.tls_cert_pem);
  free_secret(hub->opt.redis_url); /* may hold a password */
  free_secret(hub->opt.redis_password);
  free((char *) hub->opt.redis_stream);
  free((char *) hub->opt.admin_bind);
  if (NULL != hub->opt.cors_origins)
    for (i = 0; i < hub->opt.ncors_origins; i++)
      free((char *) hub->opt.cors_origins[i]);
  free((void *) hub->opt.cors_origins);
}

static uint64_t wall_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Give memory back after many clients left. glibc keeps freed blocks
 * (connection pools above all) in its arenas, so without this the RSS
 * after a crowd has gone stays at its peak; malloc_trim() returns the
 * whole free pages of every arena. Done when the client count fell by a
 * quarter (and at least 256) since the last trim or peak. */
static void trim_memory(struct ssehub *hub)
{
  size_t now = sh_registry_count(&hub->reg);

  if (now > hub->trim_peak)
    hub->trim_peak = now;
  if (hub->trim_peak - now >= 256
      && hub->trim_peak - now >= hub->trim_peak / 4) {
    malloc_trim(0);
    hub->trim_peak = now;
  }
}

/* The watcher's tick, every SH_WATCH_TICK_MS (watch.h): requests past
 * their deadline (slow-loris), held publishes whose wait ran out (so
 * their 503 is on time even during a long fan-out round), and, every
 * 5 s, memory given back. */
static void housekeeping(void *arg)
{
  struct ssehub *hub = arg;
  unsigned n = sh_deadlines_expire(&hub->deadlines, sh_now_ms());

  if (n > 0) {
    sh_count(&hub->n.header_timeouts, n);
    sh_log_limited(&hub->log, SSEHUB_LOG_INFO,
                   "closed %u connection(s) that sent no complete request "
                   "within %lld ms",
                   n, hub->deadlines.timeout_ms);
  }
  sh_pubqueue_wake_expired(&hub->queue, sh_now_ms());
  if (NULL != hub->redis)
    sh_redis_expire(hub->redis, sh_now_ms());
  if (0 == ++hub->ticks % (5000 / SH_WATCH_TICK_MS))
    trim_memory(hub);
}

/* Stream retention: what --history asks for, but never so little that a
 * node a moment behind finds its next entries trimmed. */
#define SH_STREAM_MIN_LEN 1000u

/* The Redis engine, feeding the broadcaster's queue (engine.h). */
static int start_redis(struct ssehub *hub)
{
  struct sh_redis_config cfg = {
    .stream = hub->opt.redis_stream,
    .maxlen = hub->opt.history_size > SH_STREAM_MIN_LEN ? hub->opt.history_size
                                                        : SH_STREAM_MIN_LEN,
    .max_age_ms = hub->opt.history_age_ms,
    /* Publishes waiting for Redis: a stalled Redis holds them up to
     * publish_wait_ms, so this bounds the memory they take then. */
    .outbox_cap = (size_t) hub->opt.publish_queue * 32,
    .preload = hub->opt.history_size,
    .queue = &hub->queue,
    .history = &hub->history,
    .log = &hub->log,
    .n = &hub->n,
  };
  struct sh_redis_addr addr;
  char err[160];
  int rc = sh_redis_url_parse(hub->opt.redis_url, &addr, err, sizeof(err));

  if (0 != rc)
    return rc;
  if (NULL != hub->opt.redis_password) {
    free(addr.password);
    addr.password = strdup(hub->opt.redis_password);
    if (NULL == addr.password) {
      sh_redis_addr_free(&addr);
      return -ENOMEM;
    }
  }
  cfg.addr = &addr;
  rc = sh_redis_start(&hub->redis, &cfg);
  sh_redis_addr_free(&addr);
  return rc;
}

struct ssehub *ssehub_new(const struct ssehub_options *opts, int *err)
{
  struct ssehub_options own, *o = &own;
  struct ssehub *hub;
  int rc = take_options(o, opts);

  if (0 == rc)
    rc = check_options(o);
  if (0 != rc)
    goto fail;
  rc = -ENOMEM;
  hub = calloc(1, sizeof(*hub));
  if (NULL == hub)
    goto fail;
  hub->watch.epfd = hub->watch.stop_fd = -1;
  hub->opt = *o;
  /* Diagnostics only (doc/internals.md): every batch through the ring
   * and libmicrohttpd, as without the direct-write workaround. */
  hub->no_direct_writes = NULL != getenv("SSEHUB_NO_DIRECT_WRITES");
  /* Diagnostics too: every client told the same retry, as before jitter
   * (scripts/restart-spread.py measures both). */
  hub->no_retry_jitter = NULL != getenv("SSEHUB_NO_RETRY_JITTER");
  hub->fd_budget = fd_budget_of();
  if (0 == hub->opt.threads)
    hub->opt.threads = usable_cores();
  if (0 == hub->opt.max_clients)
    hub->opt.max_clients = default_max_clients(hub->opt.threads);
  hub->epoch = wall_ms();
  /* The caller's strings are not kept: the parsed networks are; the key
   * lives in hub->jwt only (and is wiped when freed). */
  hub->opt.trusted_proxies = NULL;
  hub->opt.ntrusted_proxies = 0;
  hub->opt.jwt_key = NULL;
  hub->opt.jwt_key_len = 0;
  rc = copy_strings(hub, o);
  if (0 == rc && NULL != o->jwt_key)
    rc = sh_jwt_key_new(o->jwt_key, jwt_key_len(o), &hub->jwt, NULL);
  if (0 == rc)
    rc = parse_trusted(o, &hub->trusted);
  if (0 != rc)
    goto fail_hub;
  hub->ntrusted = NULL != hub->trusted ? o->ntrusted_proxies : 0;
  rc = -ENOMEM;
  sh_log_init(&hub->log, o->log, o->log_cls, o->log_level);
  sh_mutex_init(&hub->conf_lock);
  set_live(hub, &hub->opt);
  hub->ok_frame = preamble_frame(hub->opt.retry_ms);
  hub->heartbeat = comment_frame("");
  hub->snap = calloc(hub->opt.max_clients, sizeof(*hub->snap));
  if (NULL == hub->ok_frame || NULL == hub->heartbeat || NULL == hub->snap)
    goto fail_log;
  rc = sh_registry_init(&hub->reg, hub->opt.max_clients, fd_table_size());
  if (0 != rc)
    goto fail_log;
  rc = sh_pubqueue_init(&hub->queue, hub->opt.publish_queue);
  if (0 != rc)
    goto fail_registry;
  rc = sh_history_init(&hub->history, hub->opt.history_size,
                       hub->opt.history_age_ms, hub->epoch);
  if (0 != rc)
    goto fail_queue;
  if (NULL != hub->opt.redis_url)
    sh_history_use_stream_ids(&hub->history);
  rc = sh_iplimit_init(&hub->iplimit, hub->opt.max_clients_per_ip,
                       hub->opt.publish_rate);
  if (0 != rc)
    goto fail_history;
  sh_iplimit_set_v6_prefix(&hub->iplimit, hub->opt.ipv6_prefix);
  sh_deadlines_init(&hub->deadlines,
                    (long long) hub->opt.header_timeout_s * 1000);
  /* The engine before the threads that read hub->redis; its reader
   * may queue events before the broadcaster runs: they wait there. */
  if (NULL != hub->opt.redis_url) {
    rc = start_redis(hub);
    if (0 != rc)
      goto fail_deadlines;
  }
  rc = sh_watch_start(&hub->watch, &hub->reg, &hub->log, housekeeping, hub);
  if (0 != rc)
    goto fail_redis;
  rc = sh_broadcaster_start(hub);
  if (0 != rc)
    goto fail_watch;
  return hub;

fail_watch:
  sh_watch_stop(&hub->watch);
fail_redis:
  /* Closing the queue lets a reader waiting for room give up. */
  sh_pubqueue_close(&hub->queue);
  sh_redis_free(hub->redis);
fail_deadlines:
  sh_deadlines_destroy(&hub->deadlines);
  sh_iplimit_destroy(&hub->iplimit);
fail_history:
  sh_history_destroy(&hub->history);
fail_queue:
  sh_pubqueue_destroy(&hub->queue);
fail_registry:
  sh_registry_destroy(&hub->reg);
fail_log:
  free(hub->snap);
  sh_frame_unref(hub->heartbeat);
  sh_frame_unref(hub->ok_frame);
  sh_mutex_destroy(&hub->conf_lock);
  sh_log_destroy(&hub->log);
fail_hub:
  sh_jwt_key_unref(hub->jwt);
  free_strings(hub);
  free(hub->trusted);
  free(hub);
fail:
  if (NULL != err)
    *err = rc;
  return NULL;
}

int ssehub_event_id(const struct ssehub *hub, uint64_t seq, char *buf,
                    size_t cap)
{
  if (NULL != hub->opt.redis_url)
    return sh_streamid_format(seq, buf, cap);
  return snprintf(buf, cap, "%llu-%llu", (unsigned long long) hub->epoch,
                  (unsigned long long) seq);
}

static int check_event(const struct ssehub *hub, const struct ssehub_event *ev)
{
  if (ev->data_len > sh_live(hub, max_event_size))
    return -EMSGSIZE;
  /* The same checks as POST /publish's (pubfields.h). */
  if (ev->retry < -1 || NULL != sh_event_check(ev))
    return -EINVAL;
  return 0;
}

/* Whether ev may be published now: not stopping, valid fields. */
static int admissible(const struct ssehub *hub, const struct ssehub_event *ev)
{
  if (atomic_load(&hub->stopping))
    return -ESHUTDOWN;
  return check_event(hub, ev);
}

/* Check, reserve a place in the queue (waiting for one until deadline_ms
 * if wait; < 0: no limit), format the frame and queue it. */
static int publish_until(struct ssehub *hub, const struct ssehub_event *ev,
                         uint64_t *seq, bool wait, long long deadline_ms)
{
  struct sh_event e = { .data = ev->data,
                        .data_len = ev->data_len,
                        .event = ev->event,
                        .id = ev->id,
                        .retry = ev->retry };
  char id[48];
  struct sh_frame *f;
  uint64_t next;
  int rc;

  rc = admissible(hub, ev);
  if (0 != rc)
    return rc;
  /* The id holds the sequence number, which must follow queue order, so
   * the frame is formatted while the queue is reserved (pubqueue.h). The
   * format is a few memcpy calls; the allocation is one per event. */
  rc = wait ? sh_pubqueue_reserve_wait(&hub->queue, &next, deadline_ms)
            : sh_pubqueue_reserve(&hub->queue, &next);
  if (0 != rc)
    return rc;
  if (NULL == e.id) {
    ssehub_event_id(hub, next, id, sizeof(id));
    e.id = id;
  }
  f = sh_frame_new_event(sh_fmt_event_size(&e), e.id, strlen(e.id), ev->topics,
                         ev->ntopics);
  if (NULL == f) {
    sh_pubqueue_cancel(&hub->queue);
    return -ENOMEM;
  }
  sh_fmt_event(&e, f->bytes);
  f->seq = next;
  f->born_ns = sh_now_ns();
  f->born_ms = (long long) (f->born_ns / 1000000u);
  sh_pubqueue_commit(&hub->queue, f);
  sh_count(&hub->n.published, 1);
  if (NULL != seq)
    *seq = next;
  return 0;
}

/* A library caller waiting for Redis to take its event. */
struct waiting {
  struct sh_redis_ticket t;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;
};

static void waiting_done(struct sh_redis_ticket *t)
{
  struct waiting *w = (struct waiting *) t;

  sh_mutex_lock(&w->lock);
  w->done = true;
  sh_cond_signal(&w->cond);
  sh_mutex_unlock(&w->lock);
}

/* Publish through Redis: fire and forget when !wait, else block until
 * Redis has the event or deadline_ms (< 0: publish_wait_ms) passes. */
static int publish_redis(struct ssehub *hub, const struct ssehub_event *ev,
                         uint64_t *seq, bool wait, long long deadline_ms)
{
  struct waiting w = { .t = { .done = waiting_done } };
  int rc;

  rc = admissible(hub, ev);
  if (0 != rc)
    return rc;
  if (NULL != seq)
    *seq = 0;
  if (!wait) {
    rc = sh_redis_submit(hub->redis, ev, NULL);
    if (0 == rc)
      sh_count(&hub->n.published, 1);
    return rc;
  }
  w.t.deadline_ms = deadline_ms >= 0
                        ? deadline_ms
                        : sh_now_ms()
                              + (long long) sh_live(hub, publish_wait_ms);
  sh_mutex_init(&w.lock);
  sh_cond_init(&w.cond);
  rc = sh_redis_submit(hub->redis, ev, &w.t);
  if (0 == rc) {
    sh_mutex_lock(&w.lock);
    while (!w.done)
      sh_cond_wait(&w.cond, &w.lock);
    sh_mutex_unlock(&w.lock);
    rc = w.t.rc;
  }
  sh_cond_destroy(&w.cond);
  sh_mutex_destroy(&w.lock);
  if (0 == rc) {
    sh_count(&hub->n.published, 1);
    if (NULL != seq)
      *seq = w.t.seq;
  } else if (-EAGAIN == rc || -EIO == rc || -EPROTO == rc) {
    /* Not in the stream by the deadline, the link failed, or Redis
     * refused it (out of memory): all "try again later". */
    sh_count(&hub->n.publish_link_refused, 1);
    rc = -EAGAIN;
  }
  return rc;
}

int sh_hub_submit(struct ssehub *hub, const struct ssehub_event *ev,
                  struct sh_redis_ticket *t)
{
  int rc = admissible(hub, ev);

  return 0 != rc ? rc : sh_redis_submit(hub->redis, ev, t);
}

int ssehub_publish(struct ssehub *hub, const struct ssehub_event *ev,
                   uint64_t *seq)
{
  int rc = sh_hub_publish(hub, ev, seq);

  if (-EAGAIN == rc)
    sh_count(&hub->n.publish_refused, 1);
  return rc;
}

int ssehub_publish_wait(struct ssehub *hub, const struct ssehub_event *ev,
                        uint64_t *seq, long timeout_ms)
{
  int rc;

  if (NULL != hub->redis)
    return publish_redis(hub, ev, seq, true,
                         timeout_ms < 0 || timeout_ms > 365LL * 86400 * 1000
                             ? sh_now_ms() + 365LL * 86400 * 1000
                             : sh_now_ms() + timeout_ms);
  if (0 == timeout_ms)
    return ssehub_publish(hub, ev, seq);
  /* Beyond a year is no limit (and cannot overflow the deadline). */
  rc = publish_until(hub, ev, seq, true,
                     timeout_ms < 0 || timeout_ms > 365LL * 86400 * 1000
                         ? -1
                         : sh_now_ms() + timeout_ms);
  if (-EAGAIN == rc)
    sh_count(&hub->n.publish_refused, 1);
  return rc;
}

int sh_hub_publish(struct ssehub *hub, const struct ssehub_event *ev,
                   uint64_t *seq)
{
  if (NULL != hub->redis)
    return publish_redis(hub, ev, seq, false, 0);
  return publish_until(hub, ev, seq, false, 0);
}

int ssehub_publish_text(struct ssehub *hub, const char *data, size_t len,
                        uint64_t *seq)
{
  struct ssehub_event ev = { .data = data, .data_len = len, .retry = -1 };

  return ssehub_publish(hub, &ev, seq);
}

size_t ssehub_client_count(struct ssehub *hub)
{
  return sh_registry_count(&hub->reg);
}

/* Open descriptors of the process (0 if unknown): a leak shows here. */
static uint64_t fds_in_use(void)
{
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  uint64_t n = 0;

  if (NULL == d)
    return 0;
  while (NULL != (e = readdir(d)))
    if ('.' != e->d_name[0])
      n++;
  closedir(d);
  return n - 1; /* the directory stream's own descriptor */
}

void ssehub_get_stats_size(struct ssehub *hub, struct ssehub_stats *st,
                           size_t size)
{
  struct ssehub_stats all;

  /* Counters from the table, then the gauges, computed now. */
#define SH_STAT_LOAD_COUNTER(name) all.name = atomic_load(&hub->n.name);
#define SH_STAT_LOAD_GAUGE(name)
#define SH_STAT_LOAD(name, kind, help) SH_STAT_LOAD_##kind(name)
  SSEHUB_STATS(SH_STAT_LOAD)
  all.clients = sh_registry_count(&hub->reg);
  all.topics = sh_registry_topic_count(&hub->reg);
  all.buffered_bytes = (uint64_t) atomic_load(&hub->buffered);
  all.fds = fds_in_use();
  {
    size_t waiting = 0;

    all.queue_depth = sh_pubqueue_depth(&hub->queue, &waiting);
    all.publish_waiting = waiting;
  }
  all.history_events = sh_history_count(&hub->history);
  all.redis_link_up = all.redis_lag_ms = 0;
  if (NULL != hub->redis) {
    struct sh_redis_status rs;

    sh_redis_status(hub->redis, &rs);
    all.redis_link_up = rs.up;
    all.redis_lag_ms = rs.lag_ms;
  }
  /* A caller built against an older ssehub.h has a shorter struct. */
  memcpy(st, &all, size < sizeof(all) ? size : sizeof(all));
}

void ssehub_count_log_dropped(struct ssehub *hub, uint64_t n)
{
  sh_count(&hub->n.log_dropped, n);
}

unsigned sh_hub_retry_ms(struct ssehub *hub, unsigned base_ms)
{
  return sh_jitter_ms(base_ms, hub->no_retry_jitter);
}

/* A stream's last frame at shutdown: "retry:" jittered around retry_ms
 * (retry_after_s when no retry is configured), so that the clients of a
 * restarted server come back spread over a window rather than all in the
 * same second. One per stream (a distinct delay each); NULL when there
 * is nothing to send or no memory. */
static struct sh_frame *retry_frame(struct ssehub *hub)
{
  unsigned base = sh_live(hub, retry_ms);
  char text[40];
  int n;

  if (0 == base)
    base = sh_live(hub, retry_after_s) * 1000u;
  if (0 == base)
    return NULL;
  n = snprintf(text, sizeof(text), "retry: %u\n\n", sh_hub_retry_ms(hub, base));
  return sh_frame_new_copy(text, (size_t) n);
}

void ssehub_stop(struct ssehub *hub)
{
  long long deadline;
  size_t i, n;

  if (hub->stopped)
    return;
  atomic_store(&hub->stopping, true);
  /* Redis first: what is queued for the stream goes out (or is answered
   * 503), and the reader stops feeding the broadcaster. */
  if (NULL != hub->redis)
    sh_redis_stop(hub->redis);
  /* Deliver what was accepted, then no resume can come from there. */
  sh_broadcaster_stop(hub);
  /* No new streams; every open one ends after draining its ring. */
  n = sh_registry_close(&hub->reg, hub->snap);
  sh_count(&hub->n.shutdown_ends, n);
  for (i = 0; i < n; i++) {
    struct sh_frame *f = retry_frame(hub);

    /* Without the frame (no memory) the stream still ends. */
    sh_client_end(hub->snap[i], f);
    sh_frame_unref(f);
  }
  sh_registry_release(hub->snap, n);
  /* The grace starts now, whatever the steps above took (a stalled
   * Redis holds sh_redis_stop() for up to its own grace). */
  deadline = sh_now_ms() + STOP_GRACE_MS;
  while (sh_registry_count(&hub->reg) > 0 && sh_now_ms() < deadline)
    usleep(2000);
  /* Streams still open (peers not reading) are not suspended: readers
   * never suspend once closing is set, so stopping MHD is safe. */
  sh_watch_stop(&hub->watch);
  /* The daemon last: MHD panics if it still has suspended connections. */
  if (NULL != hub->stop_daemon)
    hub->stop_daemon(hub);
  hub->stopped = true;
}

void ssehub_free(struct ssehub *hub)
{
  if (NULL == hub)
    return;
  ssehub_stop(hub);
  sh_redis_free(hub->redis);
  sh_deadlines_destroy(&hub->deadlines);
  sh_pubqueue_destroy(&hub->queue);
  sh_history_destroy(&hub->history);
  sh_iplimit_destroy(&hub->iplimit);
  sh_registry_destroy(&hub->reg);
  free(hub->snap);
  free(hub->tsnap);
  sh_frame_unref(hub->heartbeat);
  sh_frame_unref(hub->ok_frame);
  sh_jwt_key_unref(hub->jwt);
  sh_mutex_destroy(&hub->conf_lock);
  sh_log_destroy(&hub->log);
  free_strings(hub);
  free(hub->trusted);
  free(hub);
}

const char *ssehub_strerror(int err)
{
  switch (err) {
  case 0:
    return "success";
  case -EINVAL:
    return "invalid argument";
  case -EMSGSIZE:
    return "event too large";
  case -EAGAIN:
    return "publish queue full; retry later";
  case -ESHUTDOWN:
    return "hub is stopping";
  case -ENOMEM:
    return "out of memory";
  case -EADDRINUSE:
    return "address already in use";
  case -EADDRNOTAVAIL:
    return "cannot bind to that address";
  case -EALREADY:
    return "already listening";
  case -EBUSY:
    return "too many clients";
  case -EPROTO:
    return "TLS certificate or key rejected";
  case -ENOTSUP:
    return "this build lacks JWT support (jwt_key)";
  default:
    return strerror(-err);
  }
}

/* --- Reload (ssehub_reload(), ssehub.h; state.h "Live settings") --- */

static bool str_differs(const char *a, const char *b)
{
  if (NULL == a || NULL == b)
    return a != b;
  return 0 != strcmp(a, b);
}

/* Log, once each, the settings in o that differ from those in force but
 * cannot change without a restart; returns how many. Named by the
 * ssehub program's flags, which are also its config file's keys. */
static int log_fixed(struct ssehub *hub, const struct ssehub_options *o)
{
  const struct ssehub_options *h = &hub->opt;
  bool redis = NULL != h->redis_url;
  const struct {
    const char *key;
    bool changed;
  } fixed[] = {
    { "port", h->port != o->port },
    { "bind", str_differs(h->bind_address, o->bind_address) },
    { "threads", h->threads != o->threads },
    { "max-clients", o->max_clients > h->max_clients },
    { "publish-queue", h->publish_queue != o->publish_queue },
    { "connection-memory", h->connection_memory != o->connection_memory },
    { "timeout", h->connection_timeout_s != o->connection_timeout_s },
    { "header-timeout", h->header_timeout_s != o->header_timeout_s },
    { "no-demo-page", (0 != h->demo_page) != (0 != o->demo_page) },
    { "tls-cert", str_differs(h->tls_cert_pem, o->tls_cert_pem) },
    { "tls-key", str_differs(h->tls_key_pem, o->tls_key_pem) },
    { "redis", str_differs(h->redis_url, o->redis_url) },
    { "redis-password-file",
      str_differs(h->redis_password, o->redis_password) },
    { "redis-stream", redis && str_differs(h->redis_stream, o->redis_stream) },
    { "reuse-port", (0 != h->reuse_port) != (0 != o->reuse_port) },
    { "admin-bind", str_differs(h->admin_bind, o->admin_bind) },
    /* With Redis the history is the stream's window, sized at start. */
    { "history", redis && h->history_size != o->history_size },
    { "history-age", redis && h->history_age_ms != o->history_age_ms },
    /* A stream is released under the key it was counted with. */
    { "ipv6-prefix", h->ipv6_prefix != o->ipv6_prefix },
  };
  size_t i;
  int n = 0;

  for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
    if (fixed[i].changed) {
      sh_log(&hub->log, SSEHUB_LOG_WARNING, "%s changed: needs a restart",
             fixed[i].key);
      n++;
    }
  }
  return n;
}

/* What a reload installs, allocated before anything changes. */
struct staged {
  char *publish_token;
  char *subscribe_token;
  char **origins;
  unsigned norigins;
  struct sh_frame *ok_frame; /* NULL: retry unchanged */
  struct sh_cidr *trusted;   /* the new trusted proxies (NULL: none) */
  unsigned ntrusted;
  struct sh_jwt_key *jwt;
};

static void staged_free(struct staged *s)
{
  unsigned i;

  free_secret(s->publish_token);
  free_secret(s->subscribe_token);
  for (i = 0; NULL != s->origins && i < s->norigins; i++)
    free(s->origins[i]);
  free(s->origins);
  sh_frame_unref(s->ok_frame);
  free(s->trusted);
  sh_jwt_key_unref(s->jwt);
}

static int stage(struct ssehub *hub, const struct ssehub_options *o,
                 struct staged *s)
{
  unsigned i;

  memset(s, 0, sizeof(*s));
  if ((NULL != o->publish_token
       && NULL == (s->publish_token = strdup(o->publish_token)))
      || (NULL != o->subscribe_token
          && NULL == (s->subscribe_token = strdup(o->subscribe_token))))
    goto fail;
  if (o->ncors_origins > 0) {
    s->origins = calloc(o->ncors_origins, sizeof(*s->origins));
    if (NULL == s->origins)
      goto fail;
    s->norigins = o->ncors_origins;
    for (i = 0; i < o->ncors_origins; i++)
      if (NULL == (s->origins[i] = strdup(o->cors_origins[i])))
        goto fail;
  }
  if (o->retry_ms != sh_live(hub, retry_ms)
      && NULL == (s->ok_frame = preamble_frame(o->retry_ms)))
    goto fail;
  if (0 != parse_trusted(o, &s->trusted))
    goto fail;
  s->ntrusted = NULL != s->trusted ? o->ntrusted_proxies : 0;
  if (NULL != o->jwt_key) {
    const char *why;
    int rc = sh_jwt_key_new(o->jwt_key, jwt_key_len(o), &s->jwt, &why);

    if (0 != rc) {
      if (-ENOMEM != rc)
        sh_log(&hub->log, SSEHUB_LOG_ERROR, "jwt key: %s", why);
      staged_free(s);
      return rc;
    }
  }
  return 0;

fail:
  staged_free(s);
  return -ENOMEM;
}

/* Swap the strings and the preamble in under conf_lock; s then holds the
 * old ones, freed by the caller after the lock is released. */
static void install(struct ssehub *hub, const struct ssehub_options *o,
                    struct staged *s)
{
  struct ssehub_options *h = &hub->opt;
  const char *pt = h->publish_token, *st = h->subscribe_token;
  const char *const *orig = h->cors_origins;
  unsigned norig = h->ncors_origins;
  struct sh_frame *ok = hub->ok_frame;
  struct sh_cidr *tr;
  unsigned ntr;
  struct sh_jwt_key *jwt = hub->jwt;

  sh_mutex_lock(&hub->conf_lock);
  hub->jwt = s->jwt;
  h->publish_token = s->publish_token;
  h->subscribe_token = s->subscribe_token;
  h->publish_open = o->publish_open;
  h->cors_origins = (const char *const *) s->origins;
  h->ncors_origins = s->norigins;
  if (NULL != s->ok_frame)
    hub->ok_frame = s->ok_frame;
  tr = hub->trusted;
  ntr = hub->ntrusted;
  hub->trusted = s->trusted;
  hub->ntrusted = s->ntrusted;
  sh_mutex_unlock(&hub->conf_lock);
  s->trusted = tr;
  s->ntrusted = ntr;
  s->publish_token = (char *) pt;
  s->subscribe_token = (char *) st;
  s->origins = (char **) orig;
  s->norigins = norig;
  s->ok_frame = NULL != s->ok_frame ? ok : NULL;
  /* Requests checking a token hold their own reference to the old key. */
  s->jwt = jwt;
}

int ssehub_reload(struct ssehub *hub, const struct ssehub_options *opts)
{
  struct ssehub_options own, *o = &own;
  struct staged s;
  bool key_changed, heartbeat_changed;
  int nfixed, rc = take_options(o, opts);

  if (0 == rc)
    rc = check_options(o);
  if (0 != rc)
    goto refused;
  if (atomic_load(&hub->stopping))
    return -ESHUTDOWN;
  /* 0 means what it meant at start: derived. */
  if (0 == o->threads)
    o->threads = usable_cores();
  if (0 == o->max_clients)
    o->max_clients = default_max_clients(hub->opt.threads);
  rc = stage(hub, o, &s);
  if (0 != rc)
    goto refused;
  /* The two steps that can fail (allocations) before anything shows. */
  rc = sh_iplimit_set(&hub->iplimit, o->max_clients_per_ip, o->publish_rate);
  if (0 == rc && NULL == hub->redis
      && (o->history_size != hub->history.cap
          || o->history_age_ms != (unsigned) hub->history.max_age_ms)) {
    rc = sh_history_resize(&hub->history, o->history_size, o->history_age_ms);
    if (0 != rc)
      sh_iplimit_set(&hub->iplimit, sh_live(hub, max_clients_per_ip),
                     sh_live(hub, publish_rate));
  }
  if (0 != rc) {
    staged_free(&s);
    goto refused;
  }
  /* hub->jwt is written by this thread only: read without the lock. */
  key_changed = !sh_jwt_key_same(hub->jwt, s.jwt);
  install(hub, o, &s);
  staged_free(&s); /* the old strings, frame and key */
  if (key_changed)
    sh_log(&hub->log, SSEHUB_LOG_INFO, "jwt key %s",
           NULL == hub->jwt ? "removed: signed tokens are refused"
                            : "replaced: tokens signed with the old one "
                              "are refused");
  nfixed = log_fixed(hub, o);
  /* Above what was allocated at start: keep the limit in force. */
  if (o->max_clients > hub->opt.max_clients)
    o->max_clients = sh_live(hub, max_clients);
  sh_registry_set_limit(&hub->reg, o->max_clients);
  heartbeat_changed = o->heartbeat_ms != sh_live(hub, heartbeat_ms);
  set_live(hub, o);
  /* The broadcaster sleeps until the old heartbeat's deadline: wake it
   * to take the new one now. */
  if (heartbeat_changed)
    sh_pubqueue_nudge(&hub->queue);
  sh_log_set_level(&hub->log, o->log_level);
  return nfixed;

refused:
  sh_log(&hub->log, SSEHUB_LOG_ERROR,
         "reload refused (%s); the settings in force stay",
         ssehub_strerror(rc));
  return rc;
}
