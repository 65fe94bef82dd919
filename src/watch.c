/* watch.c - notices peers that hang up while parked (see watch.h). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hub.h"
#include "watch.h"

#define EVENTS_PER_WAIT 256

static uint64_t key(int fd, uint32_t gen)
{
  return ((uint64_t) gen << 32) | (uint32_t) fd;
}

static void *run(void *arg)
{
  struct ssehub *hub = arg;
  struct epoll_event ev[EVENTS_PER_WAIT];

  for (;;) {
    int n = epoll_wait(hub->watch.epfd, ev, EVENTS_PER_WAIT, -1);
    int i;

    if (n < 0 && EINTR == errno)
      continue;
    if (n < 0)
      break;
    for (i = 0; i < n; i++) {
      struct sh_client *c;

      if (UINT64_MAX == ev[i].data.u64)
        return NULL; /* stop_fd */
      c = sh_registry_find(&hub->reg, (int) (ev[i].data.u64 & 0xffffffffu),
                           (uint32_t) (ev[i].data.u64 >> 32));
      if (NULL == c)
        continue;
      sh_client_hangup(c);
      sh_count(&hub->n.hangups, 1);
      sh_client_unref(c);
    }
  }
  sh_log(&hub->log, SSEHUB_LOG_ERROR, "hang-up watcher stopped: epoll_wait: %s",
         strerror(errno));
  return NULL;
}

int sh_watch_start(struct ssehub *hub)
{
  struct sh_watch *w = &hub->watch;
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
  sigset_t all, old;
  int rc;

  w->epfd = epoll_create1(EPOLL_CLOEXEC);
  w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->epfd < 0 || w->stop_fd < 0
      || 0 != epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->stop_fd, &ev)) {
    rc = -errno;
    goto fail;
  }
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = -pthread_create(&w->thread, NULL, run, hub);
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

void sh_watch_stop(struct ssehub *hub)
{
  struct sh_watch *w = &hub->watch;

  if (!w->running)
    return;
  eventfd_write(w->stop_fd, 1);
  pthread_join(w->thread, NULL);
  close(w->epfd);
  close(w->stop_fd);
  w->epfd = w->stop_fd = -1;
  w->running = false;
}

void sh_watch_add(struct ssehub *hub, struct sh_client *c)
{
  struct epoll_event ev = { .events = EPOLLRDHUP | EPOLLET,
                            .data.u64 = key(c->fd, c->gen) };

  if (c->fd < 0 || !hub->watch.running)
    return;
  if (0 != epoll_ctl(hub->watch.epfd, EPOLL_CTL_ADD, c->fd, &ev))
    sh_log_limited(&hub->log, SSEHUB_LOG_WARNING,
                   "cannot watch a stream for hang-ups: %s", strerror(errno));
}
