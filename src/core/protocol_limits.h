/* protocol_limits.h - the protocol's fixed limits, in one place (doc/protocol.md).
 * Not "limits.h": with src/core on the include path it would hide the
 * system <limits.h>. */
#ifndef SH_PROTOCOL_LIMITS_H
#define SH_PROTOCOL_LIMITS_H

/* Most topics one event may be published to, or one stream subscribe to. */
#define SH_MAX_FRAME_TOPICS 16

/* Longest topic name and event id, in bytes. */
#define SH_MAX_TOPIC_LEN 256
#define SH_MAX_ID_LEN 256

/* Longest Last-Event-ID considered; longer ones are treated as unknown. */
#define SH_MAX_LAST_ID 256

/* Connections libmicrohttpd admits beyond max_clients, so that excess
 * stream requests and publishers still reach the handler and get an
 * answer (429, 503) instead of waiting in the listen queue. */
#define SH_CONN_HEADROOM 64u

#endif /* SH_PROTOCOL_LIMITS_H */
