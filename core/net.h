/* net: socket addresses as text; the host's public addresses. */
#ifndef RMAIL_NET_H
#define RMAIL_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/*
 * Parse "A.B.C.D:PORT" or "[V6]:PORT" (numeric only, port 1..65535).
 * 0, or -1 when malformed.
 */
int	net_parse_addr(const char *, struct sockaddr_storage *ss_r, socklen_t *len_r);
/* "A.B.C.D" or "V6" (no port) into buf of at least NET_IPSTRLEN bytes. */
#define NET_IPSTRLEN	46
const char *net_ip_str(const struct sockaddr *, char *buf);
/* "A.B.C.D:PORT" / "[V6]:PORT" into buf of at least NET_ADDRSTRLEN bytes. */
#define NET_ADDRSTRLEN	56
const char *net_addr_str(const struct sockaddr *, char *buf);
/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool	net_is_loopback(const struct sockaddr *);
/*
 * Parse a bare IP literal, "A.B.C.D" or "V6" (brackets allowed), port 0.
 * 0, or -1 when malformed.
 */
int	net_parse_ip(const char *, struct sockaddr_storage *ss_r);
/*
 * True for a global unicast address: not unspecified, loopback,
 * link-local (169.254/16, fe80::/10), private (RFC 1918, ULA fc00::/7),
 * shared (100.64/10), multicast, documentation, benchmarking, reserved
 * (0/8, 240/4), nor v4-mapped/NAT64/6to4/Teredo forms of those.
 */
bool	net_is_public(const struct sockaddr *);
/*
 * The host's public addresses, read from its interfaces (getifaddrs; no
 * network traffic): every net_is_public address of an interface that is
 * up, IPv4 first, duplicates dropped, port 0. At most max go to addrs_r.
 * Returns how many (0: none, e.g. behind NAT), or -1 with errno.
 */
ssize_t	net_public_addrs(struct sockaddr_storage *addrs_r, size_t max);
/* Make fd non-blocking and close-on-exec. 0, or -1 with errno. */
int	net_set_nonblock(int fd);

#endif
