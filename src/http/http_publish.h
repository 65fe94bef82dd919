/* http_publish.h - POST /publish (internal). Threads: MHD worker threads;
 * a held request is resumed from the broadcaster or the watcher. */
#ifndef SH_HTTP_PUBLISH_H
#define SH_HTTP_PUBLISH_H

#include <stddef.h>

#include <microhttpd.h>

struct ssehub;

/* Called for every part of the request (*con_cls is its state). */
enum MHD_Result sh_publish_handle(struct ssehub *hub,
                                  struct MHD_Connection *conn,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls);

/* When the request's state was made (its first call), sh_now_ms(): the
 * start of its access log line. */
long long sh_publish_started_ms(const void *req);

/* Release a publish request's state (completion callback). */
void sh_publish_free(void *req);

#endif /* SH_HTTP_PUBLISH_H */
