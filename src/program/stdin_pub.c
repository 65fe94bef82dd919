/* stdin_pub.c - publish what arrives on standard input (see stdin_pub.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssehub.h"
#include "logsink.h"
#include "pubfields.h"
#include "stdin_pub.h"

#define MAX_BLOCK_TOPICS 16

/* The one reader of the process. stop_pipe[1] is written to stop it. */
static struct {
  struct ssehub *hub;
  bool blocks;
  size_t max_line;
  int stop_pipe[2];
  pthread_t thread;
  bool running;
  unsigned long lineno;
  /* blocks mode: the event being assembled */
  char *data;
  size_t data_len;
  bool have_data;
  char *event, *id, *topics[MAX_BLOCK_TOPICS];
  unsigned ntopics;
  long retry;
  const char *bad; /* why the block will not be published, or NULL */
} in = { .stop_pipe = { -1, -1 } };

/* Publish, waiting while the queue is full: backpressure, not loss. */
static void publish(const struct ssehub_event *ev)
{
  const char *bad = sh_event_check(ev);
  int rc;

  /* What POST /publish would answer 400, with the same reason. */
  if (NULL != bad) {
    sh_say(SSEHUB_LOG_WARNING, "stdin line %lu: not published: %.*s", in.lineno,
           (int) strlen(bad) - 1, bad);
    return;
  }

  /* Queue full: wait for room (the broadcaster's next pop, which a full
   * queue guarantees) rather than drop the line; give up only when the
   * hub stops. */
  rc = ssehub_publish_wait(in.hub, ev, NULL, -1);
  if (0 != rc && -ESHUTDOWN != rc)
    sh_say(SSEHUB_LOG_WARNING, "stdin line %lu: not published: %s", in.lineno,
           ssehub_strerror(rc));
}

static void reset_block(void)
{
  unsigned i;

  free(in.data);
  free(in.event);
  free(in.id);
  for (i = 0; i < in.ntopics; i++)
    free(in.topics[i]);
  in.data = in.event = in.id = NULL;
  in.data_len = 0;
  in.have_data = false;
  in.ntopics = 0;
  in.retry = -1;
  in.bad = NULL;
}

static void flush_block(void)
{
  struct ssehub_event ev = { .data = in.data,
                             .data_len = in.data_len,
                             .event = in.event,
                             .id = in.id,
                             .retry = in.retry,
                             .topics = (const char *const *) in.topics,
                             .ntopics = in.ntopics };

  if (in.have_data && NULL != in.bad)
    sh_say(SSEHUB_LOG_WARNING, "stdin line %lu: block not published: %.*s",
           in.lineno, (int) strlen(in.bad) - 1, in.bad);
  else if (in.have_data)
    publish(&ev);
  else if (NULL != in.event || NULL != in.id || in.ntopics > 0)
    sh_say(SSEHUB_LOG_WARNING, "stdin line %lu: block without data ignored",
           in.lineno);
  reset_block();
}

static void set_str(char **dst, const char *v)
{
  free(*dst);
  *dst = strdup(v);
}

static void block_line(const char *line, size_t len)
{
  const char *colon = memchr(line, ':', len);
  char name[16];
  const char *v;
  size_t nlen, vlen;

  if (0 == len) {
    flush_block();
    return;
  }
  if (':' == line[0])
    return; /* comment */
  nlen = NULL != colon ? (size_t) (colon - line) : len;
  v = NULL != colon ? colon + 1 : line + len;
  if (' ' == *v)
    v++;
  vlen = (size_t) (line + len - v);
  if (nlen >= sizeof(name)) {
    sh_say(SSEHUB_LOG_WARNING, "stdin line %lu: unknown field ignored",
           in.lineno);
    return;
  }
  memcpy(name, line, nlen);
  name[nlen] = '\0';
  if (0 == strcmp(name, "data")) {
    /* Lines after the first join with LF, as in the event-stream format. */
    char *d = realloc(in.data, in.data_len + vlen + 2);

    if (NULL == d)
      return;
    in.data = d;
    if (in.have_data)
      in.data[in.data_len++] = '\n';
    memcpy(in.data + in.data_len, v, vlen);
    in.data_len += vlen;
    in.data[in.data_len] = '\0';
    in.have_data = true;
  } else if (0 == strcmp(name, "event")) {
    /* Checked with the length: a NUL would cut the copy short. */
    if (NULL == in.bad)
      in.bad = sh_field_check(SH_FIELD_EVENT, v, vlen);
    set_str(&in.event, v);
  } else if (0 == strcmp(name, "id")) {
    if (NULL == in.bad)
      in.bad = sh_field_check(SH_FIELD_ID, v, vlen);
    set_str(&in.id, v);
  } else if (0 == strcmp(name, "retry")) {
    in.retry = strspn(v, "0123456789") == vlen && vlen > 0 && vlen < 10
                   ? atol(v)
                   : -1;
  } else if (0 == strcmp(name, "topic")) {
    if (NULL == in.bad)
      in.bad = sh_field_check(SH_FIELD_TOPIC, v, vlen);
    if (in.ntopics < MAX_BLOCK_TOPICS)
      in.topics[in.ntopics++] = strdup(v);
  } else {
    sh_say(SSEHUB_LOG_WARNING, "stdin line %lu: unknown field '%s' ignored",
           in.lineno, name);
  }
}

/* One complete line (terminator removed; the buffer has room for a NUL). */
static void on_line(char *line, size_t len)
{
  in.lineno++;
  if (len > 0 && '\r' == line[len - 1])
    len--;
  line[len] = '\0';
  if (in.blocks) {
    block_line(line, len);
  } else {
    struct ssehub_event ev = { .data = line, .data_len = len, .retry = -1 };

    publish(&ev);
  }
}

static void *run(void *arg)
{
  size_t cap = in.max_line + 2, len = 0;
  char *buf = malloc(cap);
  bool skipping = false;

  (void) arg;
  if (NULL == buf)
    return NULL;
  for (;;) {
    struct pollfd p[2] = { { .fd = 0, .events = POLLIN },
                           { .fd = in.stop_pipe[0], .events = POLLIN } };
    ssize_t r;
    char *nl;

    if (poll(p, 2, -1) < 0 && EINTR != errno)
      break;
    if (0 != p[1].revents)
      break;
    if (0 == p[0].revents)
      continue;
    r = read(0, buf + len, cap - 1 - len);
    if (r < 0 && (EINTR == errno || EAGAIN == errno))
      continue;
    if (r <= 0) {
      if (len > 0 && !skipping)
        on_line(buf, len);
      if (in.blocks)
        flush_block();
      break; /* end of input: keep serving, stop reading */
    }
    len += (size_t) r;
    while (NULL != (nl = memchr(buf, '\n', len))) {
      size_t n = (size_t) (nl - buf);

      if (skipping)
        skipping = false;
      else
        on_line(buf, n);
      memmove(buf, nl + 1, len - n - 1);
      len -= n + 1;
    }
    if (len == cap - 1) {
      in.lineno++;
      sh_say(SSEHUB_LOG_WARNING,
             "stdin line %lu: longer than %zu bytes, not "
             "published",
             in.lineno, in.max_line);
      skipping = true;
      len = 0;
    }
  }
  free(buf);
  reset_block();
  return NULL;
}

int sh_stdin_start(struct ssehub *hub, bool blocks, size_t max_line)
{
  sigset_t all, old;
  int rc;

  if (0 != pipe(in.stop_pipe))
    return -errno;
  in.hub = hub;
  in.blocks = blocks;
  in.max_line = max_line;
  in.retry = -1;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = pthread_create(&in.thread, NULL, run, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (0 != rc) {
    close(in.stop_pipe[0]);
    close(in.stop_pipe[1]);
    return -rc;
  }
  in.running = true;
  return 0;
}

void sh_stdin_stop(void)
{
  if (!in.running)
    return;
  (void) !write(in.stop_pipe[1], "x", 1);
  pthread_join(in.thread, NULL);
  close(in.stop_pipe[0]);
  close(in.stop_pipe[1]);
  in.running = false;
}
