/*
 * spf: the SPF check_host() function (RFC 7208), for `rmail diagnose`.
 *
 * The evaluator does no I/O itself: it asks a lookup function for the TXT,
 * A, AAAA and MX records of a name and waits for the answer (diagnose runs
 * its own loop inside that function; unit tests answer from a table).
 *
 * Supported: the mechanisms all, include, a, mx, ptr (never matches; it
 * still costs a lookup), ip4, ip6 and exists, their qualifiers + - ~ ?,
 * the redirect modifier (exp= and unknown modifiers are ignored), macros
 * in domain-specs (s l o d i p h v, digits, r, delimiters, %% %_ %-),
 * the limits of section 4.6.4: at most SPF_MAX_LOOKUPS terms that ask DNS
 * (include, a, mx, ptr, exists, redirect), at most SPF_MAX_MX_ADDR hosts
 * per mx, at most SPF_MAX_VOID lookups answering NXDOMAIN or no records;
 * past any of them the result is PermError. A record with a syntax error
 * anywhere is PermError before any term is evaluated (section 4.6), and so
 * is a domain publishing more than one "v=spf1" record (section 4.5).
 */
#ifndef RMAIL_RELAY_SPF_H
#define RMAIL_RELAY_SPF_H

#include <stddef.h>
#include <sys/socket.h>

#include "relay/dns.h"

#define SPF_MAX_LOOKUPS	10
#define SPF_MAX_MX_ADDR	10
#define SPF_MAX_VOID	2

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

enum spf_rr {
	SPF_RR_TXT,
	SPF_RR_A,
	SPF_RR_AAAA,
	SPF_RR_MX,
};

/*
 * What a lookup gives back: status as relay/dns.h classifies it; for
 * DNS_OK the TXT strings (character-strings of one record concatenated)
 * or MX exchanges in strs, the A/AAAA addresses in addrs. Everything
 * allocated with the xmalloc family; the evaluator frees it with
 * spf_answer_clear.
 */
struct spf_answer {
	enum dns_status		 status;
	char			**strs;
	size_t			 nstrs;
	struct sockaddr_storage	*addrs;
	size_t			 naddrs;
};

/* Fill *ans_r (zeroed by the caller) for name (no trailing dot). */
typedef void spf_lookup_fn(void *arg, const char *name, enum spf_rr,
		    struct spf_answer *ans_r);

struct spf_check {
	enum spf_result	 result;
	unsigned	 lookups;	/* terms that asked DNS */
	unsigned	 void_lookups;
	/* Why: the matching term ("matched ip4:192.0.2.0/24 in example.com"),
	 * or the error ("more than 10 DNS lookups", "two SPF records at
	 * example.com", "syntax error in example.com: 'ip4:1.2.3'"). */
	char		 reason[256];
};

/*
 * check_host(ip, domain, sender) with helo as %{h}. sender may be NULL
 * ("postmaster@DOMAIN"). The result in *check_r.
 */
void		 spf_check_host(const struct sockaddr *ip, const char *domain,
		    const char *sender, const char *helo, spf_lookup_fn *lookup,
		    void *arg, struct spf_check *check_r);

void		 spf_answer_clear(struct spf_answer *);

/* "pass", "fail", "softfail", "neutral", "none", "permerror", "temperror". */
const char	*spf_result_name(enum spf_result);

#endif
