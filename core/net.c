/* net: socket addresses as text. */
#include "core/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
parse_port(const char *s, in_port_t *port_r)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port_r = htons((in_port_t)v);
	return 0;
}

int
net_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len_r)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':' || (n = (size_t)(end - s - 1)) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1 ||
		    parse_port(end + 2, &sin6->sin6_port) == -1)
			return -1;
		sin6->sin6_family = AF_INET6;
		*len_r = sizeof(*sin6);
		return 0;
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	if ((colon = strrchr(s, ':')) == NULL || (n = (size_t)(colon - s)) >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1 ||
	    parse_port(colon + 1, &sin->sin_port) == -1)
		return -1;
	sin->sin_family = AF_INET;
	*len_r = sizeof(*sin);
	return 0;
}

const char *
net_ip_str(const struct sockaddr *sa, char *buf)
{
	const void *a;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		/* Show v4-mapped peers as plain IPv4 so per-IP limits agree. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			return inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf, NET_IPSTRLEN);
		a = &sin6->sin6_addr;
	} else if (sa->sa_family == AF_INET) {
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	} else {
		snprintf(buf, NET_IPSTRLEN, "unix");
		return buf;
	}
	if (inet_ntop(sa->sa_family, a, buf, NET_IPSTRLEN) == NULL)
		snprintf(buf, NET_IPSTRLEN, "?");
	return buf;
}

const char *
net_addr_str(const struct sockaddr *sa, char *buf)
{
	char ip[NET_IPSTRLEN];
	unsigned port = 0;

	net_ip_str(sa, ip);
	if (sa->sa_family == AF_INET6) {
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
		snprintf(buf, NET_ADDRSTRLEN, "[%s]:%u", ip, port);
	} else {
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
		snprintf(buf, NET_ADDRSTRLEN, "%s:%u", ip, port);
	}
	return buf;
}

int
net_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

bool
net_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		const uint8_t *b = sin6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && b[12] == 127;
	}
	return false;
}
