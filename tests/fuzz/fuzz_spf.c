/*
 * fuzz_spf: relay/spf.c, our own SPF (RFC 7208) record parser and
 * check_host() evaluator (mechanisms, modifiers, macros, CIDR lengths,
 * lookup limits), over a zone given in the input and answered from
 * memory. The input is text:
 *
 *	IP DOMAIN [SENDER]			the first line: what to check
 *	NAME TYPE VALUE[|VALUE...]		then the zone, one RRset per line
 *
 * TYPE is TXT, A, AAAA or MX; VALUE TEMPFAIL makes that lookup fail; NAME
 * "*" answers any name not listed. Unknown names are NXDOMAIN, a listed
 * name without the type asked is NODATA.
 */
#include "tests/fuzz/fuzz.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "relay/dns.h"
#include "relay/spf.h"

#define ZONE_MAX	64

struct rr {
	const char	*name;
	enum spf_rr	 type;
	char		*values;
};

struct zone {
	struct rr	 rr[ZONE_MAX];
	size_t		 n;
	unsigned	 asked;
};

static int
parse_ip(const char *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)ss)->sin6_addr)
	    == 1) {
		ss->ss_family = AF_INET6;
		return 0;
	}
	return -1;
}

static void
answer(const struct rr *r, enum spf_rr type, struct spf_answer *a)
{
	char *copy, *p, *v;

	if (strcmp(r->values, "TEMPFAIL") == 0) {
		a->status = DNS_TEMPFAIL;
		return;
	}
	a->status = DNS_OK;
	copy = xstrdup(r->values);
	for (p = copy; (v = strsep(&p, "|")) != NULL; ) {
		struct sockaddr_storage ss;

		if (type == SPF_RR_TXT || type == SPF_RR_MX) {
			a->strs = xrealloc(a->strs, (a->nstrs + 1) *
			    sizeof(*a->strs));
			a->strs[a->nstrs++] = xstrdup(v);
		} else if (parse_ip(v, &ss) == 0 &&
		    (ss.ss_family == AF_INET) == (type == SPF_RR_A)) {
			a->addrs = xrealloc(a->addrs, (a->naddrs + 1) *
			    sizeof(*a->addrs));
			a->addrs[a->naddrs++] = ss;
		}
	}
	free(copy);
}

static void
lookup(void *arg, const char *name, enum spf_rr type, struct spf_answer *a)
{
	struct zone *z = arg;
	bool known = false;

	z->asked++;
	FUZZ_CHECK(name != NULL);
	a->status = DNS_NXDOMAIN;
	for (int pass = 0; pass < 2 && !known; pass++) {
		for (size_t i = 0; i < z->n; i++) {
			const struct rr *r = &z->rr[i];

			if (strcmp(r->name, pass == 0 ? name : "*") != 0)
				continue;
			known = true;
			if (r->type == type) {
				answer(r, type, a);
				return;
			}
		}
	}
	if (known)
		a->status = DNS_NODATA;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = { "TXT", "A", "AAAA", "MX" };
	char *text = fuzz_str(data, size), *p = text, *line, *ip, *dom, *snd;
	struct zone z = { .n = 0 };
	struct sockaddr_storage ss;
	struct spf_check c;

	line = strsep(&p, "\n");
	ip = strsep(&line, " ");
	dom = line != NULL ? strsep(&line, " ") : NULL;
	snd = line;
	while (p != NULL && z.n < ZONE_MAX) {
		char *name, *type, *l = strsep(&p, "\n");

		name = strsep(&l, " ");
		type = l != NULL ? strsep(&l, " ") : NULL;
		if (type == NULL || l == NULL)
			continue;
		for (size_t t = 0; t < NELEM(types); t++)
			if (strcmp(type, types[t]) == 0) {
				z.rr[z.n].name = name;
				z.rr[z.n].type = (enum spf_rr)t;
				z.rr[z.n].values = l;
				z.n++;
			}
	}
	if (dom != NULL && parse_ip(ip, &ss) == 0) {
		memset(&c, 0, sizeof(c));
		spf_check_host((struct sockaddr *)&ss, dom, snd,
		    "mail.example.com", lookup, &z, &c);
		FUZZ_CHECK(c.result >= SPF_NONE && c.result <= SPF_PERMERROR);
		FUZZ_CHECK(strlen(c.reason) < sizeof(c.reason));
		FUZZ_CHECK(spf_result_name(c.result) != NULL);
		/* RFC 7208 4.6.4: at most 10 terms that ask DNS (the 11th
		 * is where it stops), plus the record lookups themselves. */
		FUZZ_CHECK(c.lookups <= SPF_MAX_LOOKUPS + 1);
		FUZZ_CHECK(z.asked <= 2 * (SPF_MAX_LOOKUPS + 1) *
		    (SPF_MAX_MX_ADDR + 2));
	}
	free(text);
	return 0;
}
