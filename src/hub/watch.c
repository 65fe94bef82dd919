/* watch.c - the watcher thread (see watch.h). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sync.h"
#include "watch.h"

#define EVENTS_PER_WAIT 256

static uint64_t key(int fd, uint32_t gen)
{
  return ((uint64_t) gen << 32) | (uint32_t) fd;
}

/* Hand each event to the client it belongs to, if still registered. */
static void dispatch(struct sh_watch *w, const struct epoll_event *ev, int n)
{
  int i;

  for (i = 0; i < n; i++) {
    struct sh_client *c = sh_registry_find(w->reg,
                                           (int) (ev[i].data.u64 & 0xffffffffu),
                                           (uint32_t) (ev[i].data.u64 >> 32));

    if (NULL == c)
      continue;
    if (0 != (ev[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
      sh_client_hangup(c); /* counts it (client.h) */
    else if (0 != (ev[i].events & EPOLLOUT))
      sh_client_writable(c); /* the rest of a direct write (sockio.h) */
    sh_client_unref(c);
  }
}

static void *run(void *arg)
{
  struct sh_watch *w = arg;
  struct epoll_event ev[EVENTS_PER_WAIT];
  long long next_tick = sh_now_ms() + SH_WATCH_TICK_MS;

  for (;;) {
    int n = epoll_wait(w->epfd, ev, EVENTS_PER_WAIT, SH_WATCH_TICK_MS);
    int i;

    if (sh_now_ms() >= next_tick) {
      w->tick(w->tick_arg);
      next_tick = sh_now_ms() + SH_WATCH_TICK_MS;
    }
    if (n < 0 && EINTR == errno)
      continue;
    if (n < 0)
      break;
    for (i = 0; i < n; i++)
      if (UINT64_MAX == ev[i].data.u64)
        return NULL; /* stop_fd */
    dispatch(w, ev, n);
  }
  sh_log(w->log, SSEHUB_LOG_ERROR, "hang-up watcher stopped: epoll_wait: %s",
         strerror(errno));
  return NULL;
}

int sh_watch_start(struct sh_watch *w, struct sh_registry *reg,
                   struct sh_log *log, void (*tick)(void *arg), void *arg)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
  sigset_t all, old;
  int rc;

  w->reg = reg;
  w->log = log;
  w->tick = tick;
  w->tick_arg = arg;
  w->epfd = epoll_create1(EPOLL_CLOEXEC);
  w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->epfd < 0 || w->stop_fd < 0
      || 0 != epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->stop_fd, &ev)) {
    rc = -errno;
    goto fail;
  }
  /* The program takes its signals on its main thread only. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = -pthread_create(&w->thread, NULL, run, w);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (0 != rc)
    goto fail;
  w->running = true;
  return 0;
fail:
  if (w->epfd >= 0)
    close(w->epfd);
  if (w->stop_fd >= 0)
    close(w->stop_fd);
  w->epfd = w->stop_fd = -1;
  return rc;
}

void sh_watch_stop(struct sh_watch *w)
{
  if (!w->running)
    return;
  eventfd_write(w->stop_fd, 1);
  pthread_join(w->thread, NULL);
  close(w->epfd);
  close(w->stop_fd);
  w->epfd = w->stop_fd = -1;
  w->running = false;
}

void sh_watch_add(struct sh_watch *w, struct sh_client *c)
{
  int rc;

  if (c->io.fd < 0 || !w->running)
    return;
  /* The client hands our set and its key to sockio.c, which registers the
   * socket and later switches it to EPOLLOUT for a tail and back. */
  rc = sh_client_watch(c, w->epfd, key(c->io.fd, c->gen));
  if (0 != rc)
    sh_log_limited(w->log, SSEHUB_LOG_WARNING,
                   "cannot watch a stream for hang-ups: %s", strerror(-rc));
}
