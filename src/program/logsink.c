/* logsink.c - the program's bounded, non-blocking log (see logsink.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "logsink.h"
#include "sync.h"

#define MAX_SLOTS 1048576u
#define BATCH 64 /* lines per writev() */

enum dest { TO_STDERR, TO_ACCESS };

struct slot {
  uint16_t len;
  uint8_t dest;
  char text[SH_LOGSINK_LINE];
};

/* clang-format off */
struct sh_logsink {
  enum sh_log_format format;   /* immutable */
  bool journal;                /* immutable: stderr is the journal */
  int access_fd;               /* immutable: -1 none, 2 stderr, or a file */
  _Atomic int level;           /* enum ssehub_log_level */
  atomic_uint_fast64_t dropped_total;
  pthread_t writer;            /* control thread */
  pthread_mutex_t lock;        /* guards the queue fields below */
  pthread_cond_t wake;         /* with lock: a line, a drop, or stop */
  struct slot *slots;          /* [cap]; see logsink.h for who owns which */
  unsigned cap, head, count;   /* lock */
  uint64_t dropped;            /* lock: not yet reported */
  bool stopping;               /* lock */
  pthread_mutex_t hook_lock;   /* guards the two below (leaf) */
  void (*hook)(void *cls, uint64_t n);
  void *hook_cls;
};
/* clang-format on */

/* sd-daemon(3): SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG. */
static const char *journal_prefix(enum ssehub_log_level l)
{
  switch (l) {
  case SSEHUB_LOG_ERROR:
    return "<3>";
  case SSEHUB_LOG_WARNING:
    return "<4>";
  case SSEHUB_LOG_INFO:
    return "<6>";
  default:
    return "<7>";
  }
}

/* systemd sets JOURNAL_STREAM="<device>:<inode>" of the stream it connects
 * to stdout/stderr; stderr is the journal only if it is still that file
 * (not redirected by a wrapper script). */
static bool stderr_is_journal(void)
{
  const char *js = getenv("JOURNAL_STREAM");
  unsigned long long dev, ino;
  struct stat st;
  char tail;

  if (NULL == js || 2 != sscanf(js, "%llu:%llu%c", &dev, &ino, &tail))
    return false;
  if (0 != fstat(2, &st))
    return false;
  return (unsigned long long) st.st_dev == dev
         && (unsigned long long) st.st_ino == ino;
}

/* RFC 3339, UTC, milliseconds: "2026-12-05T06:01:02.345Z" (24 bytes). */
static void timestamp(char *buf, size_t cap)
{
  struct timespec ts;
  struct tm tm;
  size_t n;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* ---- escaping ------------------------------------------------------------ */

/* Text format: printable as is (UTF-8 included), control bytes and DEL
 * as \xHH, and with quoted, '"' and '\\' escaped too. */
static size_t text_escape(char *out, size_t cap, const char *src, bool quoted)
{
  const unsigned char *s = (const unsigned char *) src;
  size_t o = 0;

  if (0 == cap)
    return 0;
  for (; '\0' != *s; s++) {
    char esc[8];
    size_t plen = 1;

    if (*s < 0x20 || 0x7f == *s)
      plen = (size_t) snprintf(esc, sizeof(esc), "\\x%02x", *s);
    else if (quoted && ('"' == *s || '\\' == *s))
      esc[0] = '\\', esc[1] = (char) *s, plen = 2;
    else
      esc[0] = (char) *s;
    if (o + plen >= cap)
      break;
    memcpy(out + o, esc, plen);
    o += plen;
  }
  out[o] = '\0';
  return o;
}

/* ---- the queue ----------------------------------------------------------- */

/* Copy one finished line into the tail slot, or count it as dropped. */
static void enqueue(struct sh_logsink *s, enum dest d, const char *line,
                    size_t len)
{
  bool was_empty;

  if (len > SH_LOGSINK_LINE)
    len = SH_LOGSINK_LINE;
  sh_mutex_lock(&s->lock);
  if (s->count == s->cap || s->stopping) {
    s->dropped++;
    atomic_fetch_add_explicit(&s->dropped_total, 1, memory_order_relaxed);
    sh_mutex_unlock(&s->lock);
    /* Counted now, not when the writer has room again: while stderr is
     * stuck, /stats must already show the loss. */
    sh_mutex_lock(&s->hook_lock);
    if (NULL != s->hook)
      s->hook(s->hook_cls, 1);
    sh_mutex_unlock(&s->hook_lock);
    return;
  }
  {
    struct slot *sl = &s->slots[(s->head + s->count) % s->cap];

    memcpy(sl->text, line, len);
    sl->len = (uint16_t) len;
    sl->dest = (uint8_t) d;
  }
  was_empty = 0 == s->count++;
  if (was_empty)
    sh_cond_signal(&s->wake);
  sh_mutex_unlock(&s->lock);
}

static void write_all(int fd, const struct iovec *iov, int n)
{
  struct iovec v[BATCH];
  int i = 0;

  memcpy(v, iov, (size_t) n * sizeof(*v));
  while (i < n) {
    ssize_t w = writev(fd, v + i, n - i);

    if (w < 0) {
      if (EINTR == errno)
        continue;
      return; /* nowhere to say it: the log itself failed */
    }
    while (i < n && (size_t) w >= v[i].iov_len)
      w -= (ssize_t) v[i++].iov_len;
    if (i < n) {
      v[i].iov_base = (char *) v[i].iov_base + w;
      v[i].iov_len -= (size_t) w;
    }
  }
}

/* Write slots [first, first + n) (no wrap), grouped by destination. */
static void write_slots(struct sh_logsink *s, unsigned first, unsigned n)
{
  struct iovec iov[BATCH];
  int k = 0, fd = -1;
  unsigned i;

  for (i = 0; i < n; i++) {
    const struct slot *sl = &s->slots[first + i];
    int to = TO_ACCESS == sl->dest ? s->access_fd : 2;

    if (k > 0 && (to != fd || BATCH == k)) {
      write_all(fd, iov, k);
      k = 0;
    }
    fd = to;
    iov[k].iov_base = (void *) sl->text;
    iov[k].iov_len = sl->len;
    k++;
  }
  if (k > 0)
    write_all(fd, iov, k);
}

static size_t format_plain(struct sh_logsink *s, char *out, size_t cap,
                           enum ssehub_log_level level, const char *msg);

static void report_drops(struct sh_logsink *s, uint64_t n)
{
  char msg[64], line[256];
  size_t len;
  struct iovec iov;

  snprintf(msg, sizeof(msg), "%" PRIu64 " log lines dropped", n);
  len = format_plain(s, line, sizeof(line), SSEHUB_LOG_WARNING, msg);
  iov.iov_base = line;
  iov.iov_len = len;
  write_all(2, &iov, 1);
}

static void *writer_main(void *arg)
{
  struct sh_logsink *s = arg;
  unsigned first, n;
  uint64_t drops;

  sh_mutex_lock(&s->lock);
  for (;;) {
    while (0 == s->count && 0 == s->dropped && !s->stopping)
      sh_cond_wait(&s->wake, &s->lock);
    if (0 == s->count && 0 == s->dropped)
      break; /* stopping, and all is written */
    first = s->head;
    n = s->count < s->cap - first ? s->count : s->cap - first;
    drops = s->dropped;
    s->dropped = 0;
    sh_mutex_unlock(&s->lock);
    write_slots(s, first, n);
    if (drops > 0)
      report_drops(s, drops); /* room again: say so once */
    sh_mutex_lock(&s->lock);
    s->head = (s->head + n) % s->cap;
    s->count -= n;
  }
  sh_mutex_unlock(&s->lock);
  return NULL;
}

/* ---- formatting ---------------------------------------------------------- */

/* One finished line for stderr: text or JSON, with its newline. */
static size_t format_plain(struct sh_logsink *s, char *out, size_t cap,
                           enum ssehub_log_level level, const char *msg)
{
  char ts[32];
  size_t n;

  if (SH_LOG_JSON == s->format) {
    struct sh_json j;

    timestamp(ts, sizeof(ts));
    sh_json_init(&j, out, cap);
    sh_json_begin_object(&j);
    sh_json_key(&j, "ts");
    sh_json_string(&j, ts);
    sh_json_key(&j, "level");
    sh_json_string(&j, sh_log_level_name(level));
    sh_json_key(&j, "msg");
    /* Cut, not dropped: the rest takes under 64 bytes. */
    sh_json_string_max(&j, msg, strlen(msg), cap - 64);
    sh_json_end_object(&j);
    return sh_json_finish(&j, true);
  }
  if (s->journal) {
    n = (size_t) snprintf(out, cap, "%s", journal_prefix(level));
  } else {
    timestamp(ts, sizeof(ts));
    n = (size_t) snprintf(out, cap, "%s %s: ", ts, sh_log_level_name(level));
  }
  n += text_escape(out + n, cap - n - 1, msg, false);
  out[n++] = '\n';
  return n;
}

static bool wanted(struct sh_logsink *s, enum ssehub_log_level level)
{
  return (int) level <= atomic_load_explicit(&s->level, memory_order_relaxed);
}

void sh_logsink_hub_log(void *cls, enum ssehub_log_level level,
                        const char *line)
{
  struct sh_logsink *s = cls;
  char out[SH_LOGSINK_LINE];

  if (!wanted(s, level))
    return;
  enqueue(s, TO_STDERR, out, format_plain(s, out, sizeof(out), level, line));
}

void sh_logsink_log(struct sh_logsink *s, enum ssehub_log_level level,
                    const char *fmt, ...)
{
  char msg[SH_LOGSINK_LINE];
  va_list ap;

  if (!wanted(s, level))
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  sh_logsink_hub_log(s, level, msg);
}

/* The program's sink for sh_say(): set by sh_logsink_new(), cleared by
 * sh_logsink_free() (the control thread, when no other thread logs). */
static _Atomic(struct sh_logsink *) program_sink;

void sh_say(enum ssehub_log_level level, const char *fmt, ...)
{
  struct sh_logsink *s = atomic_load(&program_sink);
  char msg[SH_LOGSINK_LINE];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (NULL != s) {
    sh_logsink_hub_log(s, level, msg);
    return;
  }
  {
    struct sh_logsink plain = { .format = SH_LOG_TEXT };
    char out[SH_LOGSINK_LINE];
    size_t n = format_plain(&plain, out, sizeof(out), level, msg);

    fwrite(out, 1, n, stderr);
  }
}

static size_t access_json(struct sh_logsink *s, char *out, size_t cap,
                          const struct ssehub_access *a)
{
  struct sh_json j;
  char ts[32];

  (void) s;
  timestamp(ts, sizeof(ts));
  sh_json_init(&j, out, cap);
  sh_json_begin_object(&j);
  sh_json_key(&j, "ts");
  sh_json_string(&j, ts);
  sh_json_key(&j, "level");
  sh_json_string(&j, "info");
  sh_json_key(&j, "msg");
  sh_json_string(&j, "access");
  sh_json_key(&j, "client");
  sh_json_string_max(&j, a->client, strlen(a->client), 64);
  sh_json_key(&j, "method");
  sh_json_string_max(&j, a->method, strlen(a->method), 32);
  sh_json_key(&j, "path");
  /* What is left, less room for the rest: numbers and the reason (about
   * 110 bytes), so the line is whole, the path cut if need be. */
  sh_json_string_max(&j, a->path, strlen(a->path),
                     j.cap - j.len > 220 ? j.cap - j.len - 220 : 0);
  sh_json_key(&j, "status");
  sh_json_uint(&j, a->status);
  sh_json_key(&j, "bytes");
  sh_json_uint(&j, a->bytes);
  sh_json_key(&j, "duration_ms");
  sh_json_uint(&j, a->duration_ms);
  if (NULL != a->end) {
    sh_json_key(&j, "end");
    sh_json_string(&j, a->end);
  }
  sh_json_end_object(&j);
  return sh_json_finish(&j, true);
}

static size_t access_text(struct sh_logsink *s, char *out, size_t cap,
                          const struct ssehub_access *a)
{
  char ts[32];
  size_t n;

  if (s->journal && 2 == s->access_fd) {
    n = (size_t) snprintf(out, cap, "<6>access ");
  } else {
    timestamp(ts, sizeof(ts));
    n = (size_t) snprintf(out, cap, "%s info: access ", ts);
  }
  n += text_escape(out + n, 64, a->client, false);
  out[n++] = ' ';
  out[n++] = '"';
  n += text_escape(out + n, 32, a->method, true);
  out[n++] = ' ';
  n += text_escape(out + n, cap - n - 160, a->path, true);
  n += (size_t) snprintf(out + n, cap - n,
                         "\" %u %" PRIu64 " %" PRIu64 "ms%s%s\n", a->status,
                         a->bytes, a->duration_ms, NULL != a->end ? " " : "",
                         NULL != a->end ? a->end : "");
  return n;
}

void sh_logsink_access(void *cls, const struct ssehub_access *a)
{
  struct sh_logsink *s = cls;
  char out[SH_LOGSINK_LINE];
  size_t n;

  if (s->access_fd < 0)
    return;
  n = SH_LOG_JSON == s->format ? access_json(s, out, sizeof(out), a)
                               : access_text(s, out, sizeof(out), a);
  enqueue(s, TO_ACCESS, out, n);
}

/* ---- lifecycle ----------------------------------------------------------- */

static int open_access(const char *path)
{
  int fd;

  if (NULL == path)
    return -1;
  if (0 == strcmp(path, "-"))
    return 2;
  fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  return fd < 0 ? -errno : fd;
}

static unsigned queue_slots(unsigned slots)
{
  const char *env = getenv("SSEHUB_LOG_QUEUE");
  char *end;
  unsigned long v;

  if (NULL != env) {
    v = strtoul(env, &end, 10);
    if ('\0' == *end && v >= 1 && v <= MAX_SLOTS)
      return (unsigned) v;
  }
  return 0 == slots ? SH_LOGSINK_SLOTS : slots;
}

struct sh_logsink *sh_logsink_new(enum sh_log_format format,
                                  enum ssehub_log_level level,
                                  const char *access_path, unsigned slots,
                                  int *err)
{
  struct sh_logsink *s = calloc(1, sizeof(*s));
  sigset_t all, old;
  int rc = -ENOMEM;

  if (NULL == s)
    goto fail;
  s->format = format;
  s->journal = stderr_is_journal();
  atomic_init(&s->level, (int) level);
  atomic_init(&s->dropped_total, 0);
  s->cap = queue_slots(slots);
  s->slots = malloc((size_t) s->cap * sizeof(*s->slots));
  if (NULL == s->slots)
    goto fail_sink;
  s->access_fd = open_access(access_path);
  if (s->access_fd < -1) {
    rc = s->access_fd;
    goto fail_slots;
  }
  sh_mutex_init(&s->lock);
  sh_mutex_init(&s->hook_lock);
  sh_cond_init(&s->wake);
  /* The writer takes no signal: main() waits for them with sigwait(). */
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  rc = -pthread_create(&s->writer, NULL, writer_main, s);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (0 != rc)
    goto fail_locks;
  atomic_store(&program_sink, s);
  return s;
fail_locks:
  sh_cond_destroy(&s->wake);
  sh_mutex_destroy(&s->hook_lock);
  sh_mutex_destroy(&s->lock);
  if (s->access_fd > 2)
    close(s->access_fd);
fail_slots:
  free(s->slots);
fail_sink:
  free(s);
fail:
  if (NULL != err)
    *err = rc;
  return NULL;
}

void sh_logsink_free(struct sh_logsink *s)
{
  if (NULL == s)
    return;
  atomic_compare_exchange_strong(&program_sink, &s, NULL);
  sh_mutex_lock(&s->lock);
  s->stopping = true;
  sh_cond_signal(&s->wake);
  sh_mutex_unlock(&s->lock);
  pthread_join(s->writer, NULL);
  sh_cond_destroy(&s->wake);
  sh_mutex_destroy(&s->hook_lock);
  sh_mutex_destroy(&s->lock);
  if (s->access_fd > 2)
    close(s->access_fd);
  free(s->slots);
  free(s);
}

void sh_logsink_set_level(struct sh_logsink *s, enum ssehub_log_level level)
{
  atomic_store(&s->level, (int) level);
}

void sh_logsink_set_drop_hook(struct sh_logsink *s,
                              void (*fn)(void *cls, uint64_t n), void *cls)
{
  sh_mutex_lock(&s->hook_lock);
  s->hook = fn;
  s->hook_cls = cls;
  sh_mutex_unlock(&s->hook_lock);
}

uint64_t sh_logsink_dropped(struct sh_logsink *s)
{
  return atomic_load(&s->dropped_total);
}
