/* notify: sd_notify(3)'s datagram protocol, spoken directly. */
#include "core/notify.h"
#include "core/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_un notify_addr;
static socklen_t notify_len;	/* 0: no service manager */
static bool notify_read;

bool
notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t n;

	if (notify_read)
		return notify_len != 0;
	notify_read = true;
	if (path == NULL || *path == '\0')
		return false;
	n = strlen(path);
	/* A file system socket, or '@' for the abstract namespace. AF_VSOCK
	 * addresses ("vsock:...") are for VMs: not for us. */
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(notify_addr.sun_path)) {
		log_warn(NULL, 0, NULL, "event=notify-unusable socket=%s "
		    "msg=\"NOTIFY_SOCKET is not a unix socket path; not notifying\"",
		    log_q(path));
		return false;
	}
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, n);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';
	/* Abstract names are exactly n bytes long: no terminating NUL. */
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (path[0] == '/' ? 1 : 0));
	return true;
}

int
notify_send(const char *state)
{
	char msg[512];
	struct timespec ts;
	int fd, n, rc;

	if (!notify_init()) {
		errno = ENOTCONN;
		return -1;
	}
	if (strcmp(state, "RELOADING=1") == 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		n = snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		    (unsigned long long)ts.tv_sec * 1000000ull +
		    (unsigned long long)ts.tv_nsec / 1000);
	} else
		n = snprintf(msg, sizeof(msg), "%s", state);
	if (n < 0 || (size_t)n >= sizeof(msg)) {
		errno = EMSGSIZE;
		return -1;
	}
	/* A fresh socket per message: a handful per process lifetime, and
	 * nothing to keep open across the privilege drop. */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = sendto(fd, msg, (size_t)n, MSG_NOSIGNAL,
	    (const struct sockaddr *)&notify_addr, notify_len) == n ? 0 : -1;
	if (rc == -1) {
		int e = errno;

		log_warn(NULL, 0, NULL, "event=notify-failed state=%s err=%s",
		    log_q(state), log_q(strerror(e)));
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}
