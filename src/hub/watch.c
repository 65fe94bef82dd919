/* watch.c - notices peers that hang up while parked (see watch.h). */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hub.h"
#include "sync.h"
#include "watch.h"

#define EVENTS_PER_WAIT 256

static uint64_t key(int fd, uint32_t gen)
{
  return ((uint64_t) gen << 32) | (uint32_t) fd;
}

/* With plock held: append p (the newest) at the tail. */
static void link_pending(struct sh_watch *w, struct sh_pending *p)
{
  p->prev = w->pending.prev;
  p->next = &w->pending;
  w->pending.prev->next = p;
  w->pending.prev = p;
  p->listed = true;
}

/* With plock held. */
static void unlink_pending(struct sh_pending *p)
{
  if (!p->listed)
    return;
  p->prev->next = p->next;
  p->next->prev = p->prev;
  p->listed = false;
}

/* Shut down connections still without a complete request after the
 * header deadline (oldest first, so the walk stops at the first young
 * one). */
static void expire_headers(struct ssehub *hub)
{
  struct sh_watch *w = &hub->watch;
  long long cutoff = sh_now_ms() - w->header_timeout_ms;
  unsigned n = 0;

  sh_mutex_lock(&w->plock);
  while (w->pending.next != &w->pending
         && w->pending.next->start_ms < cutoff) {
    struct sh_pending *p = w->pending.next;

    unlink_pending(p);
    shutdown(p->fd, SHUT_RDWR);
    n++;
  }
  sh_mutex_unlock(&w->plock);
  if (n > 0) {
    sh_count(&hub->n.header_timeouts, n);
    sh_log_limited(&hub->log, SSEHUB_LOG_INFO,
                   "closed %u connection(s) that sent no complete request "
                   "within %lld ms", n, w->header_timeout_ms);
  }
}

/* Give memory back after many clients left. glibc keeps freed blocks
 * (connection pools above all) in its arenas, so without this the RSS
 * after a crowd has gone stays at its peak; malloc_trim() returns the
 * whole free pages of every arena. Checked every 5 s, done when the
 * client count fell by a quarter (and at least 256) since the last trim
 * or peak. */
static void trim_memory(struct ssehub *hub, size_t *peak)
{
  size_t now = sh_registry_count(&hub->reg);

  if (now > *peak)
    *peak = now;
  if (*peak - now >= 256 && *peak - now >= *peak / 4) {
    malloc_trim(0);
    *peak = now;
  }
}

static void *run(void *arg)
{
  struct ssehub *hub = arg;
  struct epoll_event ev[EVENTS_PER_WAIT];
  long long next_scan = sh_now_ms() + 500, next_trim = sh_now_ms() + 5000;
  size_t peak = 0;

  for (;;) {
    int n = epoll_wait(hub->watch.epfd, ev, EVENTS_PER_WAIT, 500);
    int i;

    if (sh_now_ms() >= next_scan) {
      if (hub->watch.header_timeout_ms > 0)
        expire_headers(hub);
      /* Held publishes answer 503 on time even during a long fan-out. */
      sh_pubqueue_wake_expired(&hub->queue, sh_now_ms());
      next_scan = sh_now_ms() + 500;
    }
    if (sh_now_ms() >= next_trim) {
      trim_memory(hub, &peak);
      next_trim = sh_now_ms() + 5000;
    }

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
      if (0 != (ev[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        sh_client_hangup(c); /* counts it (client.h) */
      } else if (0 != (ev[i].events & EPOLLOUT)) {
        sh_client_writable(c); /* the rest of a direct write (sockio.h) */
      }
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

  if (!w->plock_ready) {
    sh_mutex_init(&w->plock);
    w->plock_ready = true;
  }
  w->pending.next = w->pending.prev = &w->pending;
  w->header_timeout_ms = (long long) hub->opt.header_timeout_s * 1000;
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
  /* The pending entries are freed by MHD's close notifications. */
  eventfd_write(w->stop_fd, 1);
  pthread_join(w->thread, NULL);
  close(w->epfd);
  close(w->stop_fd);
  w->epfd = w->stop_fd = -1;
  w->running = false;
}

void sh_watch_add(struct ssehub *hub, struct sh_client *c)
{
  int rc;

  if (c->io.fd < 0 || !hub->watch.running)
    return;
  /* The client hands our set and its key to sockio.c, which registers the
   * socket and later switches it to EPOLLOUT for a tail and back. */
  rc = sh_client_watch(c, hub->watch.epfd, key(c->io.fd, c->gen));
  if (0 != rc)
    sh_log_limited(&hub->log, SSEHUB_LOG_WARNING,
                   "cannot watch a stream for hang-ups: %s", strerror(-rc));
}

void sh_watch_connection(void *cls, struct MHD_Connection *conn,
                         void **socket_context,
                         enum MHD_ConnectionNotificationCode code)
{
  struct ssehub *hub = cls;
  struct sh_watch *w = &hub->watch;
  struct sh_pending *p = *socket_context;

  if (MHD_CONNECTION_NOTIFY_STARTED == code) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

    if (0 == w->header_timeout_ms || NULL == ci)
      return;
    p = calloc(1, sizeof(*p));
    if (NULL == p)
      return; /* only the deadline is lost for this connection */
    p->fd = ci->connect_fd;
    p->start_ms = sh_now_ms();
    sh_mutex_lock(&w->plock);
    link_pending(w, p);
    sh_mutex_unlock(&w->plock);
    *socket_context = p;
  } else if (NULL != p) { /* MHD_CONNECTION_NOTIFY_CLOSED */
    sh_mutex_lock(&w->plock);
    unlink_pending(p);
    sh_mutex_unlock(&w->plock);
    free(p);
    *socket_context = NULL;
  }
}

/* The deadline entry sh_watch_connection() gave conn, or NULL. */
static struct sh_pending *pending_of(struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

  return NULL != ci ? ci->socket_context : NULL;
}

void sh_watch_admitted(struct ssehub *hub, struct MHD_Connection *conn)
{
  struct sh_pending *p = pending_of(conn);

  if (NULL == p)
    return;
  sh_mutex_lock(&hub->watch.plock);
  unlink_pending(p);
  sh_mutex_unlock(&hub->watch.plock);
}

void sh_watch_destroy(struct ssehub *hub)
{
  if (hub->watch.plock_ready)
    sh_mutex_destroy(&hub->watch.plock);
  hub->watch.plock_ready = false;
}

void sh_watch_rearm(struct ssehub *hub, struct MHD_Connection *conn)
{
  struct sh_pending *p = pending_of(conn);
  struct sh_watch *w = &hub->watch;

  if (NULL == p)
    return;
  sh_mutex_lock(&w->plock);
  unlink_pending(p);
  p->start_ms = sh_now_ms();
  link_pending(w, p);
  sh_mutex_unlock(&w->plock);
}
