/*
 * route: where an envelope recipient goes, and whom a user may send as.
 *
 * Addresses arrive from SMTP as the text between < and > (RFC 5321 4.1.2).
 * route_normalize() strips an obsolete source route ("@a,@b:user@dom",
 * RFC 5321 C and 4.1.1.3: it is never honoured), drops one trailing dot
 * of the domain and lower-cases the domain. The local part is kept as is
 * for remote domains and lower-cased for ours.
 *
 * For our domains (conf->domains) an address resolves, in this order:
 *   1. a user (users file) of that exact address;
 *   2. an exact alias, then its targets (each resolved again, so an alias
 *      may name another alias; at most ROUTE_MAX_DEPTH levels and
 *      ROUTE_MAX_TARGETS final targets, loops cut);
 *   3. user+tag@domain: the same again for user@domain (subaddressing);
 *   4. a catch-all alias "@domain".
 * Anything else at our domains is unknown (550 5.1.1): a local part with
 * '%', '!', '@' or quotes matches no user, so "user%other@ours",
 * "\"user@other\"@ours" and the like can never relay.
 * An address at any other domain is remote: only an authenticated
 * submission may send there (554 5.7.1 relay denied otherwise).
 */
#ifndef RMAIL_RELAY_ROUTE_H
#define RMAIL_RELAY_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct users;

#define ROUTE_MAX_DEPTH		8
#define ROUTE_MAX_TARGETS	100
/* RFC 5321 4.5.3.1: 64 local + '@' + 255 domain. */
#define ROUTE_ADDR_MAX		320

enum route_status {
	ROUTE_OK = 0,		/* targets filled (at least one) */
	ROUTE_REMOTE,		/* not one of our domains: one remote target */
	ROUTE_UNKNOWN,		/* our domain, no such user or alias */
	ROUTE_INVALID,		/* not a usable address */
};

struct route_target {
	char	*addr;		/* local: the user's address; else remote */
	bool	 local;
};

struct route_list {
	struct route_target	*v;
	size_t			 n;
};

/*
 * Normalise an envelope address as above into a new string, or NULL when
 * it is not a usable address (empty, no '@', empty local part or domain,
 * longer than ROUTE_ADDR_MAX, control characters or spaces outside quotes,
 * a domain that is not a hostname or address literal).
 */
char	*route_normalize(const char *path);

/*
 * Resolve rcpt (as given; normalised here) into out (appended to, so one
 * list can collect a whole transaction; duplicates are not added twice).
 * ROUTE_REMOTE appends the normalised address as a remote target.
 * Aliases pointing outside our domains give remote targets (forwarding).
 */
enum route_status route_resolve(const struct conf *, const struct users *,
	    const char *rcpt, struct route_list *out);

/* Free the targets; the list is empty and reusable afterwards. */
void	 route_list_clear(struct route_list *);

/*
 * May the authenticated user (its address from the users file) use addr
 * (normalised here) as envelope sender or From: address? Yes for its own
 * address, its own address with a +tag, and an alias at our domains that
 * resolves to it (a catch-all only when the address is not a user or an
 * exact alias of someone else). The null sender "" is allowed.
 */
bool	 route_may_send_as(const struct conf *, const struct users *,
	    const char *user, const char *addr);

#endif
