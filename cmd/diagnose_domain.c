/*
 * diagnose_domain: check 6 of `rmail diagnose` (cmd/diagnose.h), each
 * domain's MX, SPF, DKIM, DMARC, TLS-RPT and MTA-STS, looked up with
 * diagnose_dns.c's lookups on its loop (cmd/diagnose_dns.h).
 */
#include "cmd/diagnose.h"
#include "cmd/diagnose_dns.h"
#include "config/config.h"
#include "core/util.h"
#include "relay/dkim.h"
#include "relay/dns.h"
#include "relay/spf.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Check 6: each domain. */

static void
dd_check_mx(struct dd *dd, const char *dom)
{
	struct dd_ans a;
	char *fix = xasprintf("%s. IN MX 10 %s.", dom, dd->host);
	bool ok = false;

	diag_dd_lookup(dd, DD_MX, dom, &a);
	if (a.status == DNS_TEMPFAIL || a.status == DNS_CANCELLED)
		diag_add(dd->d, "dns.mx", DIAG_SKIP, NULL, "MX %s: %s", dom,
		    a.error);
	else if (a.status != DNS_OK)
		diag_add(dd->d, "dns.mx", DIAG_FAIL, fix, "%s has no MX record "
		    "(%s)", dom, a.error);
	else {
		for (size_t i = 0; i < a.nstrs && !ok; i++)
			ok = diag_dd_same_name(a.strs[i], dd->host);
		if (ok)
			diag_add(dd->d, "dns.mx", DIAG_PASS, NULL, "MX of %s: %s",
			    dom, dd->host);
		else
			diag_add(dd->d, "dns.mx", DIAG_FAIL, fix, "MX of %s is "
			    "%s%s, not %s", dom, a.strs[0][0] != '\0' ?
			    a.strs[0] : ". (null MX)", a.nstrs > 1 ? " (and "
			    "others)" : "", dd->host);
	}
	diag_dd_ans_clear(&a);
	free(fix);
}

static void
dd_spf_lookup(void *arg, const char *name, enum spf_rr rr,
    struct spf_answer *ans_r)
{
	static const enum dd_type types[] = { DD_TXT, DD_A, DD_AAAA, DD_MX };
	struct dd_ans a;

	diag_dd_lookup(arg, types[rr], name, &a);
	ans_r->status = a.status;
	ans_r->strs = a.strs;
	ans_r->nstrs = a.nstrs;
	ans_r->addrs = a.addrs;
	ans_r->naddrs = a.naddrs;
	free(a.prefs);
}

static void
dd_check_spf(struct dd *dd, const char *dom)
{
	const struct diag_ctx *ctx = dd->ctx;
	struct dd_ans a;
	char *fix = xasprintf("%s. IN TXT \"v=spf1 mx -all\"", dom);
	const char *rec = NULL;
	size_t n = 0;

	diag_dd_lookup(dd, DD_TXT, dom, &a);
	if (a.status == DNS_TEMPFAIL || a.status == DNS_CANCELLED) {
		diag_add(dd->d, "dns.spf", DIAG_SKIP, NULL, "TXT %s: %s", dom,
		    a.error);
		goto out;
	}
	for (size_t i = 0; i < a.nstrs; i++)
		if (ascii_ncasecmp(a.strs[i], "v=spf1", 6) == 0 &&
		    (a.strs[i][6] == '\0' || a.strs[i][6] == ' ')) {
			rec = a.strs[i];
			n++;
		}
	if (n == 0) {
		diag_add(dd->d, "dns.spf", DIAG_FAIL, fix, "%s has no SPF record",
		    dom);
		goto out;
	}
	if (n > 1) {
		char *mfix = xasprintf("keep one SPF record, merging the "
		    "others into it, e.g. %s", fix);

		diag_add(dd->d, "dns.spf", DIAG_FAIL, mfix, "%s has %zu SPF "
		    "records (RFC 7208 4.5: receivers then fail every message)",
		    dom, n);
		free(mfix);
		goto out;
	}
	if (ctx->npublic == 0) {
		diag_add(dd->d, "dns.spf", DIAG_PASS, NULL, "SPF of %s: \"%s\" "
		    "(no public address to evaluate)", dom, rec);
		goto out;
	}
	for (size_t i = 0; i < ctx->npublic; i++) {
		struct spf_check c;
		char ip[INET6_ADDRSTRLEN], *ifix;
		const char *v = ctx->public_ips[i].ss_family == AF_INET ?
		    "ip4" : "ip6";

		diag_dd_ntop(&ctx->public_ips[i], ip, sizeof(ip));
		spf_check_host((const struct sockaddr *)&ctx->public_ips[i], dom,
		    NULL, dd->host, dd_spf_lookup, dd, &c);
		switch (c.result) {
		case SPF_PASS:
			diag_add(dd->d, "dns.spf", DIAG_PASS, NULL, "SPF of %s "
			    "authorises %s: %s (%u DNS lookups)", dom, ip,
			    c.reason, c.lookups);
			break;
		case SPF_TEMPERROR:
			diag_add(dd->d, "dns.spf", DIAG_SKIP, NULL, "SPF of %s "
			    "for %s: %s", dom, ip, c.reason);
			break;
		case SPF_PERMERROR:
			if (strstr(c.reason, "DNS lookups") != NULL)
				ifix = xasprintf("cut the terms that ask DNS "
				    "(include, a, mx, ptr, exists, redirect) to "
				    "%d or fewer, e.g. %s", SPF_MAX_LOOKUPS, fix);
			else
				ifix = xasprintf("correct the record, e.g. %s",
				    fix);
			diag_add(dd->d, "dns.spf", DIAG_FAIL, ifix, "SPF of %s "
			    "is invalid (permerror): %s", dom, c.reason);
			free(ifix);
			break;
		default:
			ifix = xasprintf("authorise %s in the SPF record, e.g. "
			    "%s. IN TXT \"v=spf1 mx %s:%s -all\"", ip, dom, v,
			    ip);
			diag_add(dd->d, "dns.spf", DIAG_FAIL, ifix, "SPF of %s "
			    "does not authorise %s: %s (%s)", dom, ip,
			    spf_result_name(c.result), c.reason);
			free(ifix);
			break;
		}
	}
out:
	diag_dd_ans_clear(&a);
	free(fix);
}

/* The value of tag in a "k=v; k=v" record, whitespace removed, or NULL. */
static char *
dd_tag(const char *rec, const char *tag)
{
	size_t tlen = strlen(tag);
	const char *p = rec;

	while (*p != '\0') {
		const char *end = p + strcspn(p, ";"), *eq;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL) {
			const char *k = eq;

			while (k > p && (k[-1] == ' ' || k[-1] == '\t'))
				k--;
			if ((size_t)(k - p) == tlen &&
			    ascii_ncasecmp(p, tag, tlen) == 0) {
				char *v = xmalloc((size_t)(end - eq));
				size_t n = 0;

				for (const char *q = eq + 1; q < end; q++)
					if (*q != ' ' && *q != '\t' &&
					    *q != '\r' && *q != '\n')
						v[n++] = *q;
				v[n] = '\0';
				return v;
			}
		}
		p = *end == ';' ? end + 1 : end;
	}
	return NULL;
}

static void
dd_check_dkim(struct dd *dd, const char *dom)
{
	struct dkim_key *keys[DKIM_ALG_COUNT];
	const char *sel = dd->conf->dkim_selector;
	size_t nkeys = 0;
	char err[256];

	if (dkim_keys_load(dd->conf->data_dir, dom, sel, keys, &nkeys, err,
	    sizeof(err)) == -1) {
		diag_add(dd->d, "dns.dkim", DIAG_SKIP, NULL, "DKIM key of %s: %s",
		    dom, err);
		return;
	}
	if (nkeys == 0) {
		diag_add(dd->d, "dns.dkim", DIAG_SKIP, NULL, "no DKIM key for %s "
		    "(rmail dkim generate %s)", dom, dom);
		return;
	}
	for (size_t i = 0; i < nkeys; i++) {
		char *ksel = dkim_key_selector(sel, dkim_key_alg(keys[i]));
		char *want = dkim_dns_record(keys[i]);
		char *line = dkim_zone_line(keys[i], dom, sel);
		char *name, *fix, *want_p, *have_p = NULL;
		struct dd_ans a;
		size_t ndkim = 0;

		if (ksel == NULL || want == NULL || line == NULL) {
			diag_add(dd->d, "dns.dkim", DIAG_SKIP, NULL, "DKIM record "
			    "of %s: cannot be computed", dom);
			free(ksel);
			free(want);
			free(line);
			continue;
		}
		name = xasprintf("%s._domainkey.%s", ksel, dom);
		fix = xasprintf("publish the record `rmail dkim show %s` "
		    "prints: %s", dom, line);
		want_p = dd_tag(want, "p");
		diag_dd_lookup(dd, DD_TXT, name, &a);
		for (size_t j = 0; j < a.nstrs; j++) {
			char *p = dd_tag(a.strs[j], "p"), *v = dd_tag(a.strs[j],
			    "v");

			if (p != NULL && (v == NULL || strcmp(v, "DKIM1") == 0)) {
				ndkim++;
				if (have_p == NULL || (want_p != NULL &&
				    strcmp(p, want_p) == 0)) {
					free(have_p);
					have_p = p;
					p = NULL;
				}
			}
			free(p);
			free(v);
		}
		if (a.status == DNS_TEMPFAIL || a.status == DNS_CANCELLED)
			diag_add(dd->d, "dns.dkim", DIAG_SKIP, NULL, "TXT %s: %s",
			    name, a.error);
		else if (have_p == NULL)
			diag_add(dd->d, "dns.dkim", DIAG_FAIL, fix, "no DKIM "
			    "record at %s", name);
		else if (want_p == NULL || strcmp(have_p, want_p) != 0)
			diag_add(dd->d, "dns.dkim", DIAG_FAIL, fix, "the DKIM "
			    "record at %s holds a different %s key than %s's "
			    "key file", name, dkim_alg_name(dkim_key_alg(keys[i])),
			    dom);
		else if (ndkim > 1)
			diag_add(dd->d, "dns.dkim", DIAG_WARN, fix, "%zu DKIM "
			    "records at %s (verifiers may take any one)", ndkim,
			    name);
		else
			diag_add(dd->d, "dns.dkim", DIAG_PASS, NULL, "DKIM record "
			    "at %s matches the %s key", name,
			    dkim_alg_name(dkim_key_alg(keys[i])));
		diag_dd_ans_clear(&a);
		free(have_p);
		free(want_p);
		free(fix);
		free(name);
		free(line);
		free(want);
		free(ksel);
	}
	for (size_t i = 0; i < nkeys; i++)
		dkim_key_free(&keys[i]);
}

/* The TXT records of name starting with prefix (a "v=" tag). */
static size_t
dd_txt_with(struct dd *dd, const char *name, const char *prefix,
    struct dd_ans *a, const char **first_r)
{
	size_t n = 0, plen = strlen(prefix);

	*first_r = NULL;
	diag_dd_lookup(dd, DD_TXT, name, a);
	for (size_t i = 0; i < a->nstrs; i++) {
		const char *s = a->strs[i];

		while (*s == ' ')
			s++;
		if (ascii_ncasecmp(s, prefix, plen) == 0 &&
		    (s[plen] == '\0' || s[plen] == ';' || s[plen] == ' ')) {
			if (n++ == 0)
				*first_r = a->strs[i];
		}
	}
	return n;
}

static void
dd_check_dmarc(struct dd *dd, const char *dom)
{
	char *name = xasprintf("_dmarc.%s", dom);
	char *fix = xasprintf("_dmarc.%s. IN TXT \"v=DMARC1; p=quarantine; "
	    "rua=mailto:postmaster@%s\"", dom, dom);
	const char *rec;
	struct dd_ans a;
	size_t n;
	char *p = NULL;

	n = dd_txt_with(dd, name, "v=DMARC1", &a, &rec);
	if (a.status == DNS_TEMPFAIL || a.status == DNS_CANCELLED)
		diag_add(dd->d, "dns.dmarc", DIAG_SKIP, NULL, "TXT %s: %s", name,
		    a.error);
	else if (n == 0)
		diag_add(dd->d, "dns.dmarc", DIAG_WARN, fix, "no DMARC record "
		    "at %s", name);
	else if (n > 1)
		diag_add(dd->d, "dns.dmarc", DIAG_FAIL, fix, "%zu DMARC records "
		    "at %s (RFC 7489 6.6.3: receivers then ignore them all)", n,
		    name);
	else if ((p = dd_tag(rec, "p")) == NULL || (strcmp(p, "none") != 0 &&
	    strcmp(p, "quarantine") != 0 && strcmp(p, "reject") != 0))
		diag_add(dd->d, "dns.dmarc", DIAG_FAIL, fix, "the DMARC record "
		    "at %s has no valid p= policy: \"%s\"", name, rec);
	else {
		diag_add(dd->d, "dns.dmarc", DIAG_PASS, NULL, "DMARC record at "
		    "%s: \"%s\"", name, rec);
		diag_add(dd->d, "dns.dmarc", DIAG_INFO, NULL, "DMARC policy of "
		    "%s: %s%s", dom, p, strcmp(p, "none") == 0 ? " (receivers "
		    "only report; quarantine or reject once reports look "
		    "right)" : "");
	}
	free(p);
	diag_dd_ans_clear(&a);
	free(fix);
	free(name);
}

static void
dd_check_info(struct dd *dd, const char *check, const char *dom,
    const char *label, const char *prefix, const char *what,
    const char *suggest)
{
	char *name = xasprintf("%s.%s", label, dom);
	const char *rec;
	struct dd_ans a;

	if (dd_txt_with(dd, name, prefix, &a, &rec) > 0)
		diag_add(dd->d, check, DIAG_INFO, NULL, "%s record at %s: \"%s\"",
		    what, name, rec);
	else if (a.status == DNS_TEMPFAIL || a.status == DNS_CANCELLED)
		diag_add(dd->d, check, DIAG_SKIP, NULL, "TXT %s: %s", name,
		    a.error);
	else
		diag_add(dd->d, check, DIAG_INFO, NULL, "no %s record at %s "
		    "(optional%s%s)", what, name, suggest != NULL ? "; " : "",
		    suggest != NULL ? suggest : "");
	diag_dd_ans_clear(&a);
	free(name);
}

void
diag_check_domain(struct dd *dd, const char *dom)
{
	char *suggest;

	dd_check_mx(dd, dom);
	dd_check_spf(dd, dom);
	dd_check_dkim(dd, dom);
	dd_check_dmarc(dd, dom);
	suggest = xasprintf("_smtp._tls.%s. IN TXT \"v=TLSRPTv1; "
	    "rua=mailto:postmaster@%s\"", dom, dom);
	dd_check_info(dd, "dns.tlsrpt", dom, "_smtp._tls", "v=TLSRPTv1",
	    "TLS-RPT", suggest);
	free(suggest);
	dd_check_info(dd, "dns.mta_sts", dom, "_mta-sts", "v=STSv1",
	    "MTA-STS", NULL);
}
