/* floor.c - the floor for "one write per event per client": a bare,
 * single-threaded epoll loop that writes each published event to each
 * subscriber socket with one send(), and does nothing else (no ring, no
 * backpressure, no ids, no HTTP beyond what the load client needs).
 *
 * It is a benchmark reference, not a server: scripts/bench.py runs it next
 * to ssehub and the peers so the cost of the kernel's send path on this
 * machine is measured in the same run rather than quoted.
 *
 *   floor PORT
 *
 *   GET /sse        200, text/event-stream, identity body until close
 *   POST /publish   the body (Content-Length) as one "data:" event to all
 *
 * A subscriber whose socket is full simply misses the event (the floor
 * does not buffer); the load client reports that as lost. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 65536
#define REQ_MAX 65536

struct conn {
  char *req; /* request bytes so far (NULL for a subscriber) */
  size_t len;
  int sub; /* 1: an event-stream subscriber */
};

static struct conn conns[MAX_FDS];
static int subs[MAX_FDS];
static int nsubs;

static void drop(int ep, int fd)
{
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  if (conns[fd].sub) {
    for (int i = 0; i < nsubs; i++)
      if (subs[i] == fd) {
        subs[i] = subs[--nsubs];
        break;
      }
  }
  free(conns[fd].req);
  memset(&conns[fd], 0, sizeof(conns[fd]));
  close(fd);
}

static void publish(const char *body, size_t len)
{
  static char ev[REQ_MAX + 16];
  size_t n = 0;

  memcpy(ev, "data: ", 6);
  n = 6;
  memcpy(ev + n, body, len);
  n += len;
  memcpy(ev + n, "\n\n", 2);
  n += 2;
  for (int i = 0; i < nsubs; i++)
    (void) send(subs[i], ev, n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* 1: request handled (connection kept or dropped), 0: need more bytes. */
static int handle(int fd)
{
  struct conn *c = &conns[fd];
  char *end = memmem(c->req, c->len, "\r\n\r\n", 4);
  size_t head, clen = 0;
  const char *cl;

  if (NULL == end)
    return 0;
  head = (size_t) (end - c->req) + 4;
  if (0 == strncmp(c->req, "GET /sse", 8)) {
    static const char ok[] =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\nConnection: close\r\n\r\n:ok\n\n";
    (void) send(fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL);
    c->sub = 1;
    subs[nsubs++] = fd;
    free(c->req);
    c->req = NULL;
    c->len = 0;
    return 1;
  }
  cl = strcasestr(c->req, "\r\ncontent-length:");
  if (NULL != cl && cl < end)
    clen = strtoul(cl + 17, NULL, 10);
  if (c->len < head + clen)
    return 0;
  if (0 == strncmp(c->req, "POST /publish", 13)) {
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
    publish(c->req + head, clen);
    (void) send(fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL);
  } else {
    static const char nf[] =
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    (void) send(fd, nf, sizeof(nf) - 1, MSG_NOSIGNAL);
  }
  memmove(c->req, c->req + head + clen, c->len - head - clen);
  c->len -= head + clen;
  return 1;
}

static void on_readable(int ep, int fd)
{
  struct conn *c = &conns[fd];
  char buf[4096];
  ssize_t r;

  if (c->sub) { /* a subscriber only ever sends its close */
    r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (0 == r || (r < 0 && EAGAIN != errno))
      drop(ep, fd);
    return;
  }
  if (NULL == c->req && NULL == (c->req = malloc(REQ_MAX)))
    return drop(ep, fd);
  r = recv(fd, c->req + c->len, REQ_MAX - c->len, MSG_DONTWAIT);
  if (0 == r || (r < 0 && EAGAIN != errno)
      || (r > 0 && c->len + (size_t) r >= REQ_MAX))
    return drop(ep, fd);
  if (r > 0)
    c->len += (size_t) r;
  while (NULL != c->req && c->len > 0 && handle(fd))
    ;
}

int main(int argc, char **argv)
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  struct epoll_event ev = { .events = EPOLLIN }, evs[256];
  int one = 1, lfd, ep;

  if (argc != 2) {
    fprintf(stderr, "usage: floor PORT\n");
    return 2;
  }
  a.sin_port = htons((uint16_t) atoi(argv[1]));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(lfd, (struct sockaddr *) &a, sizeof(a)) || listen(lfd, 4096)) {
    perror("floor: bind/listen");
    return 1;
  }
  ep = epoll_create1(0);
  ev.data.fd = lfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);

    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;

      if (fd != lfd) {
        on_readable(ep, fd);
        continue;
      }
      for (;;) {
        int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);

        if (c < 0)
          break;
        if (c >= MAX_FDS) {
          close(c);
          continue;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        ev.data.fd = c;
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
      }
    }
  }
}
