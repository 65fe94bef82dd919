/* demo.h - the demo announcer: publish "It is <date> now!" every
 * period, so `curl -N .../sse` shows a live stream with no publisher.
 *
 * Threads: one thread of its own, started and stopped by the control
 * thread; it only calls ssehub_publish(), which is thread-safe.
 */
#ifndef SH_DEMO_H
#define SH_DEMO_H

struct ssehub;

/* Start announcing on hub every period_ms. Returns 0 or a negative errno. */
int sh_demo_start(struct ssehub *hub, unsigned period_ms);

/* Stop and join the announcer; no-op if it was not started. */
void sh_demo_stop(void);

#endif /* SH_DEMO_H */
