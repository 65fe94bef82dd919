/* broadcaster.h - the thread that fans published events out to clients.
 *
 * DESIGN
 *   One thread per hub. It pops up to SH_BATCH_MAX frames from the publish
 *   queue, snapshots the registry (references, not locks, keep clients
 *   alive meanwhile), and hands each client the whole batch under the
 *   client lock: an idle parked stream gets it as one non-blocking write
 *   (sockio.h, direct writes), any other has it appended to its ring and
 *   its connection resumed once if it was parked. Per client and batch
 *   that is one lock and one send, or up to SH_BATCH_MAX pointer stores
 *   and at most one MHD_resume_connection(); no allocation. A client whose
 *   ring overflows is cut off (client.h) without slowing anyone else.
 *   With several usable cores the snapshot is split among the broadcaster
 *   and fan-out helpers (fanpool.h); one batch is done everywhere before
 *   the next starts, so order per client holds.
 *
 *   When no event has been fanned out for heartbeat_ms, it fans out the
 *   shared heartbeat comment instead: proxies see traffic, and a send to a
 *   dead peer fails, which is how MHD 0.9.75 (no EPOLLRDHUP) finds peers
 *   that vanished without a FIN: within two heartbeat intervals.
 *
 *   On stop the publish queue is closed; the thread still delivers every
 *   frame that was accepted before the close, then exits.
 */
#ifndef SH_BROADCASTER_H
#define SH_BROADCASTER_H

struct ssehub;

/* Start the thread (control thread). Returns 0 or a negative errno. */
int sh_broadcaster_start(struct ssehub *hub);

/* Close the publish queue and join the thread (control thread). */
void sh_broadcaster_stop(struct ssehub *hub);

#endif /* SH_BROADCASTER_H */
