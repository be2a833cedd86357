/*
 * dns: asynchronous DNS queries on the libev loop (c-ares underneath).
 *
 * c-ares enters rmail only here: its sockets become ev_io watchers (through
 * ARES_OPT_SOCK_STATE_CB) and its retransmission timeouts one ev_timer, so a
 * lookup never blocks the loop. Answers come back already parsed and
 * classified (dns_status) with the TTL a cache may keep them for.
 *
 * Callbacks run from the loop, never from inside the call that started the
 * query. Lifetime rules:
 *   - dns_cancel(&q): the query's callback is never called; *q becomes NULL.
 *     Only for a query whose callback has not run yet.
 *   - dns_free(&dns): every query still pending gets its callback, once,
 *     with DNS_CANCELLED, before dns_free returns; none is called after.
 *     A callback given DNS_CANCELLED must not start a new query.
 *   - dns_free must not be called from inside a dns callback.
 */
#ifndef RMAIL_DNS_H
#define RMAIL_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ev_loop;
struct dns;
struct dns_query;

/* Negative answers (NXDOMAIN, NODATA) are kept for the SOA's negative TTL
 * (RFC 2308 section 5), or this many seconds when the answer has no SOA. */
#define DNS_NEG_TTL_DEFAULT	300

enum dns_status {
	DNS_OK,		/* the answer holds records of the type asked */
	DNS_NODATA,	/* the name exists, without records of that type */
	DNS_NXDOMAIN,	/* the name does not exist (or is not a valid name) */
	DNS_TEMPFAIL,	/* SERVFAIL, REFUSED, timeout, network or bad answer */
	DNS_CANCELLED,	/* dns_free ran before the answer came */
};

struct dns_mx {
	uint16_t	 pref;
	char		*host;		/* lower case, no trailing dot; "" is the
					 * root (RFC 7505 null MX) */
};

/*
 * What a callback is given. Valid only during the callback: copy what is
 * needed.
 */
struct dns_answer {
	enum dns_status		 status;
	/* Seconds the answer may be cached: DNS_OK the lowest TTL of the
	 * answer's records (CNAMEs included); NODATA and NXDOMAIN the
	 * negative TTL; 0 otherwise. */
	uint32_t		 ttl;
	/* Not DNS_OK: what happened, e.g. "SERVFAIL", "timeout",
	 * "refused or unreachable", "NXDOMAIN". */
	char			 error[128];
	/* DNS_OK of dns_query_mx: the records, in the answer's order. */
	struct dns_mx		*mx;
	size_t			 nmx;
	/* DNS_OK of dns_query_addr: addresses (port 0), in the answer's
	 * order, CNAMEs followed. */
	struct sockaddr_storage	*addrs;
	size_t			 naddrs;
	/* DNS_OK of dns_query_txt: one string per TXT record, its
	 * character-strings concatenated (RFC 7208 section 3.3). */
	char			**txt;
	size_t			 ntxt;
	/* DNS_OK of dns_query_ptr: the names, lower case, no trailing
	 * dot, in the answer's order. */
	char			**ptr;
	size_t			 nptr;
};

typedef void dns_cb(const struct dns_answer *, void *arg);

/*
 * A resolver on loop. servers: nservers strings "IP", "IP:PORT" or
 * "[IPV6]:PORT" (port 53 when absent), tried in order; none (nservers 0):
 * the system's, from /etc/resolv.conf. Returns NULL with err set on a bad
 * server string or a c-ares failure.
 */
struct dns	*dns_new(struct ev_loop *loop, char *const *servers,
		    size_t nservers, char *err, size_t errlen);
void		 dns_free(struct dns **);

/*
 * Per-try timeout (milliseconds, default 2500) and tries per server
 * (default 2), for queries started afterwards. Both at least 1.
 */
void		 dns_set_timeout(struct dns *, unsigned timeout_ms, unsigned tries);

/*
 * Queries, class IN, name taken as fully qualified (no search list; a
 * trailing dot is fine). The handle is valid until the callback has run or
 * dns_cancel; it is never NULL.
 */
struct dns_query *dns_query_mx(struct dns *, const char *name, dns_cb *,
		    void *arg);
/* family: AF_INET (A) or AF_INET6 (AAAA). */
struct dns_query *dns_query_addr(struct dns *, const char *name, int family,
		    dns_cb *, void *arg);
struct dns_query *dns_query_txt(struct dns *, const char *name, dns_cb *,
		    void *arg);
/* The PTR records of addr (AF_INET or AF_INET6; the port is ignored),
 * asked at its in-addr.arpa or ip6.arpa name. */
struct dns_query *dns_query_ptr(struct dns *, const struct sockaddr *addr,
		    dns_cb *, void *arg);
void		 dns_cancel(struct dns_query **);

/* The loop the resolver runs on. */
struct ev_loop	*dns_loop(const struct dns *);

/* "DNS_OK" style names, for logs. */
const char	*dns_status_name(enum dns_status);

#endif
