/* http_sse.h - GET|HEAD /sse: admit a client and stream its ring
 * (internal). Threads: MHD worker threads. */
#ifndef SH_HTTP_SSE_H
#define SH_HTTP_SSE_H

#include <stdbool.h>

#include <microhttpd.h>

struct ssehub;

/* Answer a stream request whose headers are complete. */
enum MHD_Result sh_sse_open(struct ssehub *hub, struct MHD_Connection *conn,
                            bool head, const char *version);

#endif /* SH_HTTP_SSE_H */
