/* net: socket addresses as text. */
#ifndef RMAIL_NET_H
#define RMAIL_NET_H

#include <stdbool.h>
#include <sys/socket.h>

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
/* Make fd non-blocking and close-on-exec. 0, or -1 with errno. */
int	net_set_nonblock(int fd);

#endif
