/*
 * diagnose_dns: checks 4 to 7 of `rmail diagnose` (cmd/diagnose.h):
 * outbound port 25, the hostname's A/AAAA, PTR and FCrDNS, each domain's
 * MX, SPF, DKIM, DMARC, TLS-RPT and MTA-STS (check 6, in
 * diagnose_domain.c), and the DNS blocklists.
 *
 * The checks run one after another on a loop of their own: each lookup
 * starts a query and runs the loop until its callback has copied the
 * answer (c-ares' timeouts bound the wait). The first lookup, the
 * hostname's A record, tells whether DNS answers at all: when the servers
 * refuse or time out, every DNS check is one SKIP line instead of a
 * stream of timeouts.
 */
#include "cmd/diagnose.h"
#include "cmd/diagnose_dns.h"
#include "config/config.h"
#include "core/util.h"
#include "relay/dns.h"
#include "relay/mx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The blocklists of check 7. */
static const char *const dd_dnsbls[] = {
	"zen.spamhaus.org",
	"bl.spamcop.net",
	"b.barracudacentral.org",
};

struct dd_wait {
	struct dd_ans	*ans;
	bool		 done;
};

void
diag_dd_ans_clear(struct dd_ans *a)
{
	for (size_t i = 0; i < a->nstrs; i++)
		free(a->strs[i]);
	free(a->strs);
	free(a->prefs);
	free(a->addrs);
	memset(a, 0, sizeof(*a));
}

static void
dd_on_answer(const struct dns_answer *a, void *arg)
{
	struct dd_wait *w = arg;
	struct dd_ans *r = w->ans;
	char *const *src = a->ntxt > 0 ? a->txt : a->ptr;
	size_t n = a->ntxt > 0 ? a->ntxt : a->nptr;

	w->done = true;
	r->status = a->status;
	str_lcpy(r->error, a->error, sizeof(r->error));
	if (a->nmx > 0) {
		r->strs = xcalloc(a->nmx, sizeof(*r->strs));
		r->prefs = xcalloc(a->nmx, sizeof(*r->prefs));
		for (size_t i = 0; i < a->nmx; i++) {
			r->strs[i] = xstrdup(a->mx[i].host);
			r->prefs[i] = a->mx[i].pref;
		}
		r->nstrs = a->nmx;
	} else if (n > 0) {
		r->strs = xcalloc(n, sizeof(*r->strs));
		for (size_t i = 0; i < n; i++)
			r->strs[i] = xstrdup(src[i]);
		r->nstrs = n;
	}
	if (a->naddrs > 0) {
		r->addrs = xcalloc(a->naddrs, sizeof(*r->addrs));
		memcpy(r->addrs, a->addrs, a->naddrs * sizeof(*r->addrs));
		r->naddrs = a->naddrs;
	}
}

/* One lookup, waited for. name is the address for DD_PTR. */
void
diag_dd_lookup(struct dd *dd, enum dd_type type, const void *name,
    struct dd_ans *ans_r)
{
	struct dd_wait w = { ans_r, false };

	memset(ans_r, 0, sizeof(*ans_r));
	switch (type) {
	case DD_A:
	case DD_AAAA:
		(void)dns_query_addr(dd->dns, name, type == DD_A ? AF_INET :
		    AF_INET6, dd_on_answer, &w);
		break;
	case DD_MX:
		(void)dns_query_mx(dd->dns, name, dd_on_answer, &w);
		break;
	case DD_TXT:
		(void)dns_query_txt(dd->dns, name, dd_on_answer, &w);
		break;
	case DD_PTR:
		(void)dns_query_ptr(dd->dns, name, dd_on_answer, &w);
		break;
	}
	while (!w.done)
		ev_run(dd->loop, EVRUN_ONCE);
}

const char *
diag_dd_ntop(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *p = ss->ss_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)(const void *)ss)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;

	if (inet_ntop(ss->ss_family, p, buf, (socklen_t)len) == NULL)
		str_lcpy(buf, "?", len);
	return buf;
}

static bool
dd_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)(const void *)a)->
		    sin_addr, &((const struct sockaddr_in *)(const void *)b)->
		    sin_addr, sizeof(struct in_addr)) == 0;
	return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->
	    sin6_addr, &((const struct sockaddr_in6 *)(const void *)b)->
	    sin6_addr, sizeof(struct in6_addr)) == 0;
}

bool
diag_dd_same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && ascii_ncasecmp(a, b, la) == 0;
}

/* The A and AAAA of name together; -1 (and err) when either failed
 * temporarily, whatever the other gave. */
static int
dd_addrs(struct dd *dd, const char *name, struct dd_ans *all_r,
    char *err, size_t errlen)
{
	struct dd_ans a;
	int rc = 0;

	memset(all_r, 0, sizeof(*all_r));
	for (int i = 0; i < 2; i++) {
		diag_dd_lookup(dd, i == 0 ? DD_A : DD_AAAA, name, &a);
		if (a.status == DNS_TEMPFAIL || a.status == DNS_CANCELLED) {
			err_printf(err, errlen, "%s %s: %s", i == 0 ? "A" :
			    "AAAA", name, a.error);
			rc = -1;
		}
		if (a.naddrs > 0) {
			all_r->addrs = xrealloc(all_r->addrs, (all_r->naddrs +
			    a.naddrs) * sizeof(*all_r->addrs));
			memcpy(all_r->addrs + all_r->naddrs, a.addrs,
			    a.naddrs * sizeof(*a.addrs));
			all_r->naddrs += a.naddrs;
		}
		diag_dd_ans_clear(&a);
	}
	all_r->status = all_r->naddrs > 0 ? DNS_OK : DNS_NODATA;
	return rc;
}

/* Check 4: outbound port 25. */

struct dd_mxwait {
	struct mx_result	*res;
};

static void
dd_on_mx(struct mx_result *res, void *arg)
{
	struct dd_mxwait *w = arg;

	w->res = res;
}

/*
 * Connect to ss:port and read the greeting within timeout_secs. 0 when a
 * 220 came, else -1 with what happened in err.
 */
static int
dd_smtp_probe(const struct sockaddr_storage *ss, unsigned port,
    unsigned timeout_secs, char *err, size_t errlen)
{
	struct sockaddr_storage to = *ss;
	struct pollfd pfd;
	char buf[512], ip[INET6_ADDRSTRLEN];
	size_t len = 0;
	int fd, e = 0, ms = (int)timeout_secs * 1000;
	socklen_t elen = sizeof(e);
	struct timespec t0, t1;

	if (to.ss_family == AF_INET)
		((struct sockaddr_in *)&to)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&to)->sin6_port = htons((uint16_t)port);
	diag_dd_ntop(ss, ip, sizeof(ip));
	if ((fd = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		err_printf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&to, to.ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) == -1 &&
	    errno != EINPROGRESS) {
		err_printf(err, errlen, "connect to %s port %u: %s", ip, port,
		    strerror(errno));
		close(fd);
		return -1;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (poll(&pfd, 1, ms) <= 0) {
		err_printf(err, errlen, "connect to %s port %u: no answer in "
		    "%u s", ip, port, timeout_secs);
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1 || e != 0) {
		err_printf(err, errlen, "connect to %s port %u: %s", ip, port,
		    strerror(e != 0 ? e : errno));
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n;
		long left;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = ms - ((t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000);
		pfd.events = POLLIN;
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
			err_printf(err, errlen, "%s port %u: connected, but no "
			    "greeting in %u s", ip, port, timeout_secs);
			break;
		}
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0) {
			err_printf(err, errlen, "%s port %u: connected, then "
			    "closed without a greeting", ip, port);
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (strchr(buf, '\n') != NULL || len == sizeof(buf) - 1) {
			buf[strcspn(buf, "\r\n")] = '\0';
			if (strncmp(buf, "220", 3) == 0) {
				(void)write(fd, "QUIT\r\n", 6);
				close(fd);
				err_printf(err, errlen, "%s", buf);
				return 0;
			}
			err_printf(err, errlen, "%s port %u: greeting '%.80s'",
			    ip, port, buf);
			break;
		}
	}
	close(fd);
	return -1;
}

static void
dd_check_port25(struct dd *dd)
{
	static const char fix[] = "outbound port 25 seems blocked (many VPS "
	    "providers block it; ask yours to open it, or use "
	    "relay.smarthost)";
	const char *probe = dd->ctx->probe_domain != NULL ?
	    dd->ctx->probe_domain : "gmail.com";
	unsigned port = dd->conf != NULL && dd->conf->smtp_port != 0 ?
	    dd->conf->smtp_port : 25;
	struct dd_mxwait w = { NULL };
	struct mx *mx = mx_new(dd->dns, 0);
	char err[256];

	(void)mx_resolve(mx, probe, dd_on_mx, &w);
	while (w.res == NULL)
		ev_run(dd->loop, EVRUN_ONCE);
	if (w.res->status != MX_OK)
		diag_add(dd->d, "port25", DIAG_SKIP, NULL, "cannot resolve the "
		    "probe domain %s: %s", probe, w.res->error);
	else if (dd_smtp_probe(&w.res->hosts[0].addrs[0], port,
	    dd->ctx->timeout_secs, err, sizeof(err)) == 0)
		diag_add(dd->d, "port25", DIAG_PASS, NULL, "outbound port %u "
		    "open: %s (MX of %s) greets '%.80s'", port,
		    w.res->hosts[0].name, probe, err);
	else
		diag_add(dd->d, "port25", DIAG_WARN, fix, "outbound port %u: "
		    "%s (MX of %s): %s", port, w.res->hosts[0].name, probe, err);
	mx_result_free(&w.res);
	mx_free(&mx);
}

/* Check 5: the hostname. */

static void
dd_check_host(struct dd *dd, const struct dd_ans *haddrs)
{
	const struct diag_ctx *ctx = dd->ctx;
	char ip[INET6_ADDRSTRLEN], err[256];

	if (ctx->npublic == 0) {
		diag_add(dd->d, "dns.host", DIAG_SKIP, NULL, "no public address "
		    "known (pass --public-ip)");
		return;
	}
	/* A/AAAA against the public addresses, both ways. */
	for (size_t i = 0; i < ctx->npublic; i++) {
		const struct sockaddr_storage *pub = &ctx->public_ips[i];
		const char *rr = pub->ss_family == AF_INET ? "A" : "AAAA";
		bool found = false;

		diag_dd_ntop(pub, ip, sizeof(ip));
		for (size_t j = 0; j < haddrs->naddrs && !found; j++)
			found = dd_same_ip(pub, &haddrs->addrs[j]);
		if (found) {
			diag_add(dd->d, "dns.host", DIAG_PASS, NULL, "%s %s %s",
			    dd->host, rr, ip);
		} else {
			char *fix = xasprintf("%s. IN %s %s", dd->host, rr, ip);

			diag_add(dd->d, "dns.host", DIAG_FAIL, fix, "%s has no "
			    "%s record %s (the public address)", dd->host, rr,
			    ip);
			free(fix);
		}
	}
	for (size_t j = 0; j < haddrs->naddrs; j++) {
		bool ours = false;
		char *fix;

		for (size_t i = 0; i < ctx->npublic && !ours; i++)
			ours = dd_same_ip(&ctx->public_ips[i], &haddrs->addrs[j]);
		if (ours)
			continue;
		diag_dd_ntop(&haddrs->addrs[j], ip, sizeof(ip));
		fix = xasprintf("remove %s. IN %s %s, or pass it with "
		    "--public-ip if it is this server's", dd->host,
		    haddrs->addrs[j].ss_family == AF_INET ? "A" : "AAAA", ip);
		diag_add(dd->d, "dns.host", DIAG_WARN, fix, "%s also resolves "
		    "to %s, not a public address of this server", dd->host, ip);
		free(fix);
	}

	/* PTR of each public address, and FCrDNS. */
	for (size_t i = 0; i < ctx->npublic; i++) {
		const struct sockaddr_storage *pub = &ctx->public_ips[i];
		struct dd_ans ptr;
		char *fix;
		bool names_host = false, confirmed = false;
		const char *confirmed_name = NULL;

		diag_dd_ntop(pub, ip, sizeof(ip));
		fix = xasprintf("ask your VPS provider to set the reverse DNS "
		    "(PTR) of %s to %s", ip, dd->host);
		diag_dd_lookup(dd, DD_PTR, pub, &ptr);
		if (ptr.status == DNS_TEMPFAIL || ptr.status == DNS_CANCELLED) {
			diag_add(dd->d, "dns.ptr", DIAG_SKIP, NULL, "PTR of %s: "
			    "%s", ip, ptr.error);
			goto next;
		}
		if (ptr.status != DNS_OK) {
			diag_add(dd->d, "dns.ptr", DIAG_FAIL, fix, "no PTR "
			    "record for %s (%s)", ip, ptr.error);
			goto next;
		}
		for (size_t j = 0; j < ptr.nstrs; j++) {
			struct dd_ans fwd;

			if (diag_dd_same_name(ptr.strs[j], dd->host))
				names_host = true;
			if (confirmed)
				continue;
			if (dd_addrs(dd, ptr.strs[j], &fwd, err,
			    sizeof(err)) == -1 && fwd.naddrs == 0) {
				diag_add(dd->d, "dns.fcrdns", DIAG_SKIP, NULL,
				    "%s", err);
				diag_dd_ans_clear(&fwd);
				goto next;
			}
			for (size_t k = 0; k < fwd.naddrs && !confirmed; k++)
				confirmed = dd_same_ip(pub, &fwd.addrs[k]);
			if (confirmed)
				confirmed_name = ptr.strs[j];
			diag_dd_ans_clear(&fwd);
		}
		if (names_host)
			diag_add(dd->d, "dns.ptr", DIAG_PASS, NULL, "PTR of %s "
			    "is %s", ip, dd->host);
		else
			diag_add(dd->d, "dns.ptr", DIAG_FAIL, fix, "PTR of %s "
			    "is %s, not %s", ip, ptr.strs[0], dd->host);
		if (confirmed) {
			diag_add(dd->d, "dns.fcrdns", DIAG_PASS, NULL, "%s -> %s "
			    "-> %s (forward-confirmed reverse DNS)", ip,
			    confirmed_name, ip);
		} else {
			char *ffix;

			if (names_host)
				ffix = xasprintf("%s. IN %s %s", dd->host,
				    pub->ss_family == AF_INET ? "A" : "AAAA",
				    ip);
			else
				ffix = xstrdup(fix);
			diag_add(dd->d, "dns.fcrdns", DIAG_FAIL, ffix, "PTR of %s "
			    "is %s, which does not resolve back to %s", ip,
			    ptr.strs[0], ip);
			free(ffix);
		}
next:
		diag_dd_ans_clear(&ptr);
		free(fix);
	}
}

/* Check 7: DNS blocklists. */

static void
dd_check_dnsbl(struct dd *dd)
{
	const struct diag_ctx *ctx = dd->ctx;
	size_t nv4 = 0;

	for (size_t i = 0; i < ctx->npublic; i++) {
		const struct sockaddr_storage *pub = &ctx->public_ips[i];
		const uint8_t *b;
		char ip[INET6_ADDRSTRLEN];

		if (pub->ss_family != AF_INET)
			continue;
		nv4++;
		b = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)pub)->sin_addr;
		diag_dd_ntop(pub, ip, sizeof(ip));
		for (size_t j = 0; j < NELEM(dd_dnsbls); j++) {
			char *name = xasprintf("%u.%u.%u.%u.%s", b[3], b[2],
			    b[1], b[0], dd_dnsbls[j]);
			char *fix, code[INET6_ADDRSTRLEN];
			struct dd_ans a;

			diag_dd_lookup(dd, DD_A, name, &a);
			if (a.status == DNS_NXDOMAIN || a.status == DNS_NODATA)
				diag_add(dd->d, "dnsbl", DIAG_PASS, NULL, "%s is "
				    "not listed on %s", ip, dd_dnsbls[j]);
			else if (a.status != DNS_OK)
				diag_add(dd->d, "dnsbl", DIAG_SKIP, NULL, "%s on "
				    "%s: %s", ip, dd_dnsbls[j], a.error);
			else if (strncmp(diag_dd_ntop(&a.addrs[0], code,
			    sizeof(code)), "127.255.255.", 12) == 0)
				/* Spamhaus' "query refused" codes: public
				 * resolvers are not served. */
				diag_add(dd->d, "dnsbl", DIAG_SKIP, NULL, "%s "
				    "refused the query (%s): use a resolver of "
				    "your own", dd_dnsbls[j], code);
			else {
				fix = xasprintf("find out why %s lists %s and "
				    "ask for removal on its website", dd_dnsbls[j],
				    ip);
				diag_add(dd->d, "dnsbl", DIAG_FAIL, fix, "%s is "
				    "listed on %s (%s)", ip, dd_dnsbls[j], code);
				free(fix);
			}
			diag_dd_ans_clear(&a);
			free(name);
		}
	}
	if (nv4 == 0)
		diag_add(dd->d, "dnsbl", DIAG_SKIP, NULL, "no public IPv4 address "
		    "to look up");
}

static void
dd_skip_all(struct diag *d, const char *why)
{
	static const char *const checks[] = { "port25", "dns.host", "dns.ptr",
	    "dns.mx", "dns.spf", "dns.dkim", "dns.dmarc", "dnsbl" };

	for (size_t i = 0; i < NELEM(checks); i++)
		diag_add(d, checks[i], DIAG_SKIP, NULL, "DNS unavailable: %s",
		    why);
}

void
diag_check_dns(struct diag *d, const struct diag_ctx *ctx)
{
	struct dd dd;
	struct dd_ans haddrs;
	char err[256], *servers[1];
	char *const *sv = NULL;
	size_t nsv = 0;
	unsigned tmo;

	memset(&dd, 0, sizeof(dd));
	dd.d = d;
	dd.ctx = ctx;
	dd.conf = ctx->conf;
	if (ctx->conf == NULL) {
		dd_skip_all(d, "no valid config (hostname and domains unknown)");
		return;
	}
	dd.host = ctx->conf->hostname;
	if (ctx->dns_server != NULL) {
		servers[0] = (char *)ctx->dns_server;
		sv = servers;
		nsv = 1;
	} else if (ctx->conf->dns_servers.n > 0) {
		sv = ctx->conf->dns_servers.v;
		nsv = ctx->conf->dns_servers.n;
	}
	if ((dd.loop = ev_loop_new(EVFLAG_AUTO)) == NULL) {
		dd_skip_all(d, "cannot create an event loop");
		return;
	}
	if ((dd.dns = dns_new(dd.loop, sv, nsv, err, sizeof(err))) == NULL) {
		dd_skip_all(d, err);
		ev_loop_destroy(dd.loop);
		return;
	}
	/* Two tries per server within the check's timeout. */
	tmo = ctx->timeout_secs > 0 ? ctx->timeout_secs : 5;
	dns_set_timeout(dd.dns, tmo * 500, 2);

	/* Does DNS answer at all? */
	if (dd_addrs(&dd, dd.host, &haddrs, err, sizeof(err)) == -1 &&
	    haddrs.naddrs == 0) {
		dd_skip_all(d, err);
		goto out;
	}
	dd_check_port25(&dd);
	dd_check_host(&dd, &haddrs);
	for (size_t i = 0; i < ctx->conf->domains.n; i++)
		diag_check_domain(&dd, ctx->conf->domains.v[i]);
	dd_check_dnsbl(&dd);
out:
	diag_dd_ans_clear(&haddrs);
	dns_free(&dd.dns);
	ev_loop_destroy(dd.loop);
}
