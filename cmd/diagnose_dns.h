/*
 * diagnose_dns: what diagnose_dns.c (the loop, the lookups, checks 4, 5
 * and 7) and diagnose_domain.c (check 6, each domain) share. cmd/ only.
 */
#ifndef RMAIL_CMD_DIAGNOSE_DNS_H
#define RMAIL_CMD_DIAGNOSE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "relay/dns.h"

struct conf;
struct diag;
struct diag_ctx;
struct ev_loop;

/* What one lookup gave, copied out of the callback. */
struct dd_ans {
	enum dns_status		 status;
	char			 error[128];
	char			**strs;		/* TXT, MX exchanges, PTR names */
	uint16_t		*prefs;		/* MX preferences */
	size_t			 nstrs;
	struct sockaddr_storage	*addrs;
	size_t			 naddrs;
};

struct dd {
	struct diag		*d;
	const struct diag_ctx	*ctx;
	const struct conf	*conf;
	struct ev_loop		*loop;
	struct dns		*dns;
	const char		*host;		/* conf->hostname */
};

enum dd_type { DD_A, DD_AAAA, DD_MX, DD_TXT, DD_PTR };

void	 diag_dd_ans_clear(struct dd_ans *);
/* One lookup, waited for. name is the address for DD_PTR. */
void	 diag_dd_lookup(struct dd *, enum dd_type, const void *name,
	    struct dd_ans *ans_r);
/* ss's address as text into buf ("?" when it cannot be); returns buf. */
const char *diag_dd_ntop(const struct sockaddr_storage *ss, char *buf,
	    size_t len);
/* Whether two DNS names are the same, ignoring case and a final dot. */
bool	 diag_dd_same_name(const char *, const char *);

/* Check 6 for dom: MX, SPF, DKIM, DMARC, TLS-RPT and MTA-STS
 * (diagnose_domain.c). */
void	 diag_check_domain(struct dd *, const char *dom);

#endif
