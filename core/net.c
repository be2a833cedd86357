/* net: socket addresses as text; the host's public addresses. */
#include "core/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
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

int
net_parse_ip(const char *s, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 1];
	size_t n = strlen(s);

	memset(ss, 0, sizeof(*ss));
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return 0;
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		return 0;
	}
	return -1;
}

/* Special-purpose IPv4 ranges (RFC 6890 and successors), never public. */
static bool
v4_is_public(uint32_t a)
{
	static const struct { uint32_t net; unsigned len; } special[] = {
		{ 0x00000000, 8 },	/* "this network" */
		{ 0x0a000000, 8 },	/* RFC 1918 */
		{ 0x64400000, 10 },	/* shared address space (CGNAT) */
		{ 0x7f000000, 8 },	/* loopback */
		{ 0xa9fe0000, 16 },	/* link-local */
		{ 0xac100000, 12 },	/* RFC 1918 */
		{ 0xc0000000, 24 },	/* IETF protocol assignments */
		{ 0xc0000200, 24 },	/* TEST-NET-1 */
		{ 0xc0a80000, 16 },	/* RFC 1918 */
		{ 0xc6120000, 15 },	/* benchmarking */
		{ 0xc6336400, 24 },	/* TEST-NET-2 */
		{ 0xcb007100, 24 },	/* TEST-NET-3 */
		{ 0xe0000000, 4 },	/* multicast */
		{ 0xf0000000, 4 },	/* reserved, broadcast */
	};

	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		uint32_t mask = 0xffffffffu << (32 - special[i].len);

		if ((a & mask) == special[i].net)
			return false;
	}
	return true;
}

bool
net_is_public(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return v4_is_public(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		const uint8_t *b = a->s6_addr;

		/* Global unicast is 2000::/3; everything else (::1, ::,
		 * v4-mapped, fe80::/10, fc00::/7, ff00::/8) is not. */
		if ((b[0] & 0xe0) != 0x20)
			return false;
		if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
			return false;	/* 2001:db8::/32 documentation */
		if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00)
			return false;	/* 2001::/32 Teredo */
		if (b[0] == 0x20 && b[1] == 0x02)
			return false;	/* 2002::/16 6to4 */
		return true;
	}
	return false;
}

static bool
same_ip(const struct sockaddr_storage *x, const struct sockaddr *y)
{
	if (x->ss_family != y->sa_family)
		return false;
	if (y->sa_family == AF_INET)
		return ((const struct sockaddr_in *)x)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)y)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)x)->sin6_addr,
	    &((const struct sockaddr_in6 *)y)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

ssize_t
net_public_addrs(struct sockaddr_storage *addrs_r, size_t max)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct ifaddrs *ifs, *ifa;
	size_t n = 0;

	if (getifaddrs(&ifs) == -1)
		return -1;
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		for (ifa = ifs; ifa != NULL && n < max; ifa = ifa->ifa_next) {
			const struct sockaddr *sa = ifa->ifa_addr;
			bool dup = false;

			if (sa == NULL || sa->sa_family != families[f] ||
			    !(ifa->ifa_flags & IFF_UP) ||
			    (ifa->ifa_flags & IFF_LOOPBACK) || !net_is_public(sa))
				continue;
			for (size_t i = 0; i < n && !dup; i++)
				dup = same_ip(&addrs_r[i], sa);
			if (dup)
				continue;
			memset(&addrs_r[n], 0, sizeof(addrs_r[n]));
			if (sa->sa_family == AF_INET)
				memcpy(&addrs_r[n], sa, sizeof(struct sockaddr_in));
			else
				memcpy(&addrs_r[n], sa, sizeof(struct sockaddr_in6));
			/* port 0; a link's scope id means nothing for a global address */
			if (sa->sa_family == AF_INET6)
				((struct sockaddr_in6 *)&addrs_r[n])->sin6_scope_id = 0;
			n++;
		}
	}
	freeifaddrs(ifs);
	return (ssize_t)n;
}
