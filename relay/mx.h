/*
 * mx: where mail for a domain goes (RFC 5321 section 5.1).
 *
 * mx_resolve turns a domain into the ordered list of hosts to try, each
 * with its addresses in the order to try them:
 *   - MX records by preference, lowest first; hosts of equal preference in
 *     random order (a fresh shuffle on every call, cached or not);
 *   - no MX record (NODATA, or only a CNAME without MX): the implicit MX,
 *     the domain itself with preference 0;
 *   - one MX whose exchange is the root "." (RFC 7505 null MX): MX_NULLMX,
 *     the domain takes no mail; a "." among real MX records is ignored;
 *   - NXDOMAIN: MX_PERMFAIL; SERVFAIL, REFUSED, timeout: MX_TEMPFAIL;
 *   - each host's A and AAAA are both looked up (CNAMEs followed); a host
 *     without addresses is skipped; when every host is skipped the result
 *     is MX_TEMPFAIL if any lookup failed temporarily, else MX_PERMFAIL;
 *   - addresses of a host alternate between the families, IPv6 first
 *     (RFC 8305 section 4, RFC 6724's preference for IPv6), each family in
 *     the answer's order;
 *   - a domain literal "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321
 *     section 4.1.3) is the one host, used as is.
 * Addresses carry port 0: the caller sets the SMTP port.
 *
 * Results are cached per domain for the lowest TTL of the records used
 * (at most MX_CACHE_MAX_TTL); NXDOMAIN, null MX and "no address" answers
 * for their negative TTL (at most MX_CACHE_NEG_TTL); temporary failures
 * are never cached.
 */
#ifndef RMAIL_MX_H
#define RMAIL_MX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

struct dns;
struct mx;
struct mx_req;
struct mx_cache;

#define MX_MAX_HOSTS		32	/* MX records considered per domain */
#define MX_CACHE_MAX_TTL	3600	/* seconds */
#define MX_CACHE_NEG_TTL	300	/* seconds, for permanent failures */
#define MX_CACHE_ENTRIES	1024	/* default bound of the cache */

enum mx_status {
	MX_OK,		/* hosts holds at least one host with an address */
	MX_TEMPFAIL,	/* try again later; error says why */
	MX_PERMFAIL,	/* NXDOMAIN, no usable host, invalid domain */
	MX_NULLMX,	/* RFC 7505: the domain accepts no mail */
	MX_CANCELLED,	/* mx_free or dns_free ran first */
};

struct mx_host {
	char			*name;	/* lower case; the literal "[...]" as given */
	uint16_t		 pref;
	struct sockaddr_storage	*addrs;	/* in the order to try, port 0 */
	size_t			 naddrs;	/* > 0 in a result */
};

struct mx_result {
	enum mx_status	 status;
	/* Not MX_OK: the reason for a human, e.g.
	 * "null MX: example.com does not accept mail (RFC 7505)",
	 * "example.com: NXDOMAIN (no such domain)",
	 * "temporary DNS failure: MX example.com: SERVFAIL". */
	char		 error[256];
	struct mx_host	*hosts;		/* MX_OK: in the order to try */
	size_t		 nhosts;
	bool		 implicit;	/* no MX record: the domain's own addresses */
	size_t		 nskipped;	/* MX hosts dropped for lack of an address */
	uint32_t	 ttl;		/* seconds it may be cached (0: not) */
};

/* The callback owns res: release it with mx_result_free. */
typedef void mx_cb(struct mx_result *res, void *arg);

/* A resolver over dns (not owned; must outlive it) with a result cache
 * bounded to cache_entries (0: MX_CACHE_ENTRIES). */
struct mx	*mx_new(struct dns *, size_t cache_entries);
/*
 * Every pending request's callback runs once, with MX_CANCELLED, before
 * mx_free returns; none runs after. Not from inside an mx callback.
 */
void		 mx_free(struct mx **);

/*
 * Resolve domain (any case, trailing dot allowed). The callback runs once,
 * from the loop, never inside mx_resolve. The handle stays valid until the
 * callback has started; it is never NULL.
 */
struct mx_req	*mx_resolve(struct mx *, const char *domain, mx_cb *, void *arg);
/* Drop a request whose callback has not run yet: it never will. */
void		 mx_cancel(struct mx_req **);

/* Replace the clock the cache reads (seconds, monotonic); for tests. */
void		 mx_set_clock(struct mx *, time_t (*now)(void *), void *arg);

void		 mx_result_free(struct mx_result **);
/* A deep copy. */
struct mx_result *mx_result_dup(const struct mx_result *);

/*
 * Order hosts for delivery, in place: by preference, lowest first, and a
 * uniform random permutation within each group of equal preference, drawn
 * from *rng (any seed; advanced). Addresses are not touched.
 */
void		 mx_order(struct mx_host *hosts, size_t n, uint64_t *rng);
/* The generator mx_order uses (splitmix64): the next value of *state. */
uint64_t	 mx_random(uint64_t *state);

/*
 * Interleave addrs in place: AF_INET6 first, then alternate families,
 * each family keeping its relative order.
 */
void		 mx_interleave(struct sockaddr_storage *addrs, size_t n);

/*
 * Parse a domain literal: "[192.0.2.1]" or "[IPv6:2001:db8::1]" (prefix in
 * any case). 1 and *ss_r set (port 0) when s is a valid literal; 0 when s
 * does not start with '['; -1 when it does but is not a valid literal.
 */
int		 mx_parse_literal(const char *s, struct sockaddr_storage *ss_r);

/* True when the exchanges of a domain's MX records make an RFC 7505 null
 * MX: at least one, and every one the root "" (whatever the preference). */
bool		 mx_is_null(const char *const *exchanges, size_t n);

/*
 * The cache, on its own so that it can be tested with any clock: entries
 * are keyed by lower-cased domain, expire at now + ttl, and beyond max
 * entries the expired ones go first, then the one expiring soonest.
 */
struct mx_cache	*mx_cache_new(size_t max);
void		 mx_cache_free(struct mx_cache **);
/* A copy of the live entry for domain, or NULL. */
struct mx_result *mx_cache_get(struct mx_cache *, const char *domain,
		    time_t now);
/* Store a copy of res for res->ttl seconds; ttl 0 stores nothing. */
void		 mx_cache_put(struct mx_cache *, const char *domain,
		    const struct mx_result *res, time_t now);
size_t		 mx_cache_count(const struct mx_cache *);

#endif
