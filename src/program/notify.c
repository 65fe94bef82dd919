/* notify.c - systemd notifications (see notify.h). */
#include "config.h"

#include <stdio.h>
#include <time.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "notify.h"

#ifdef HAVE_SYSTEMD
void sh_notify_ready(const char *status)
{
  sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void sh_notify_reloading(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  sd_notifyf(0, "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu",
             (unsigned long long) ts.tv_sec * 1000000ULL
                 + (unsigned long long) ts.tv_nsec / 1000);
}

void sh_notify_stopping(void)
{
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}
#else
void sh_notify_ready(const char *status)
{
  (void) status;
}

void sh_notify_reloading(void)
{
}

void sh_notify_stopping(void)
{
}
#endif
