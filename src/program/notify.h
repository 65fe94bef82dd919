/* notify.h - tell the service manager what the program is doing.
 *
 * Purpose: systemd's Type=notify protocol (sd_notify(3)): READY=1 once
 * listening, RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1
 * at shutdown, each with a STATUS= line for `systemctl status`. Sent
 * only when $NOTIFY_SOCKET is set (systemd sets it) and the program was
 * built with libsystemd (configure --with-systemd, HAVE_SYSTEMD);
 * otherwise every call does nothing. Failures are ignored: a manager
 * that does not listen must not stop the server.
 *
 * Thread-safety: call from the program's main thread.
 */
#ifndef SH_NOTIFY_H
#define SH_NOTIFY_H

/* Listening and serving; status says how (one line). */
void sh_notify_ready(const char *status);

/* A reload starts (RELOADING=1 with MONOTONIC_USEC, which systemd 253's
 * Type=notify-reload needs and older ones ignore). */
void sh_notify_reloading(void);

/* Shutting down. */
void sh_notify_stopping(void);

#endif /* SH_NOTIFY_H */
