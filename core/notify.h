/*
 * notify: tell the service manager how the server is doing, over the
 * NOTIFY_SOCKET datagram protocol of sd_notify(3), without libsystemd.
 *
 *   notify_init();                   once, early: reads $NOTIFY_SOCKET
 *   notify_send("READY=1");          every listener bound, serving
 *   notify_send("RELOADING=1");      with MONOTONIC_USEC added for us
 *   notify_send("STOPPING=1");
 *
 * Outside systemd (no NOTIFY_SOCKET) every call is a cheap no-op.
 */
#ifndef RMAIL_NOTIFY_H
#define RMAIL_NOTIFY_H

#include <stdbool.h>

/* Take the socket address from the environment. False when there is none
 * (or it is unusable: a reason is logged). Idempotent. */
bool	notify_init(void);
/* Send state (newline-separated VAR=VALUE lines). "RELOADING=1" gets the
 * MONOTONIC_USEC= line systemd asks of Type=notify-reload services.
 * 0, or -1 with errno set (nothing to send to: ENOTCONN). */
int	notify_send(const char *state);

#endif
