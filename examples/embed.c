/* embed.c - libssehub inside an application's own libmicrohttpd daemon.
 *
 * The application serves its own page at / and mounts the hub under
 * /events/ (so the stream is /events/sse and publishing is
 * POST /events/publish); its main thread publishes "tick N" every second
 * until SIGINT or SIGTERM, then stops in the order the library needs.
 *
 *   cc embed.c $(pkg-config --cflags --libs ssehub) -o embed
 *   ./embed 8080 &   curl -N http://127.0.0.1:8080/events/sse
 *
 * Argument: the port (default 8080; 0 picks a free one). It prints
 * "listening on http://127.0.0.1:PORT/" once it serves.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>
#include <ssehub.h>

#define MOUNT "/events"

static const char page[] =
    "<!doctype html><title>embed</title><pre id=log></pre><script>"
    "new EventSource('" MOUNT "/sse').onmessage = function (e) {"
    "  document.getElementById('log').textContent += e.data + '\\n'; };"
    "</script>\n";

/* The application's routing: the hub gets the requests under MOUNT, with
 * the prefix stripped and con_cls passed through untouched. */
static enum MHD_Result route(void *cls, struct MHD_Connection *conn,
                             const char *url, const char *method,
                             const char *version, const char *upload_data,
                             size_t *upload_data_size, void **con_cls)
{
  struct ssehub *hub = cls;
  struct MHD_Response *resp;
  enum MHD_Result ret;

  if (0 == strncmp(url, MOUNT "/", strlen(MOUNT) + 1))
    return ssehub_mhd_handler(hub, conn, url + strlen(MOUNT), method, version,
                              upload_data, upload_data_size, con_cls);
  if (0 != strcmp(url, "/"))
    return MHD_NO;
  resp = MHD_create_response_from_buffer(strlen(page), (void *) page,
                                         MHD_RESPMEM_PERSISTENT);
  if (NULL == resp)
    return MHD_NO;
  MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
  ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
  MHD_destroy_response(resp);
  return ret;
}

/* The daemon the library needs: its own threads (epoll), suspend and
 * resume allowed, a connection limit above the hub's client limit (so
 * excess clients get a 429 rather than wait in the listen queue), and the
 * hub's completion and connection callbacks. */
static struct MHD_Daemon *start_daemon(struct ssehub *hub, uint16_t port,
                                       unsigned max_clients)
{
  struct sockaddr_in addr = { .sin_family = AF_INET,
                              .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

  return MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD
                              | MHD_ALLOW_SUSPEND_RESUME,
                          0, NULL, NULL, &route, hub, MHD_OPTION_SOCK_ADDR,
                          &addr, MHD_OPTION_CONNECTION_LIMIT, max_clients + 64,
                          MHD_OPTION_NOTIFY_COMPLETED, &ssehub_mhd_completed,
                          hub, MHD_OPTION_NOTIFY_CONNECTION,
                          &ssehub_mhd_connection, hub, MHD_OPTION_END);
}

int main(int argc, char **argv)
{
  struct ssehub_options o;
  struct ssehub *hub;
  struct MHD_Daemon *d;
  const union MHD_DaemonInfo *info;
  sigset_t stop;
  struct timespec tick = { 1, 0 };
  unsigned long n = 0;
  int err = 0, rc = EXIT_FAILURE;

  ssehub_options_default(&o); /* always first: it sets o.size */
  o.max_clients = 1000;
  o.demo_page = 0; /* the application has its own page */
  hub = ssehub_new(&o, &err);
  if (NULL == hub) {
    fprintf(stderr, "embed: ssehub_new: %s\n", ssehub_strerror(err));
    return EXIT_FAILURE;
  }
  /* Signals are taken synchronously below, by this thread only; the
   * daemon's threads inherit the mask. */
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);
  d = start_daemon(hub, (uint16_t) (argc > 1 ? atoi(argv[1]) : 8080),
                   o.max_clients);
  if (NULL == d) {
    fprintf(stderr, "embed: cannot start the daemon\n");
    goto out;
  }
  info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  printf("listening on http://127.0.0.1:%u/ (libssehub %s)\n",
         (unsigned) info->port, ssehub_version_string());
  fflush(stdout);

  /* Publish every second until a stop signal arrives. */
  for (;;) {
    char text[32];
    int len = snprintf(text, sizeof(text), "tick %lu", ++n);

    err = ssehub_publish_text(hub, text, (size_t) len, NULL);
    if (0 != err)
      fprintf(stderr, "embed: publish: %s\n", ssehub_strerror(err));
    if (sigtimedwait(&stop, NULL, &tick) >= 0)
      break;
  }
  /* The order matters: the hub ends its streams first (a suspended
   * connection left behind would make MHD_stop_daemon() abort). */
  ssehub_stop(hub);
  MHD_stop_daemon(d);
  rc = EXIT_SUCCESS;
out:
  ssehub_free(hub);
  return rc;
}
