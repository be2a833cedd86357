/*
 * mx: MX resolution for the outbound relay (RFC 5321 section 5.1,
 * RFC 7505), over relay/dns.
 *
 * One request: the MX query, then A and AAAA of every host at once; the
 * result is assembled when the last answer is in. Ordering, literals,
 * null MX detection and the cache are pure functions, tested on their own.
 */
#include "relay/mx.h"

#include "config/config.h"
#include "core/util.h"
#include "relay/dns.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <unistd.h>

/* One address query of a request: family of host. */
struct mx_aq {
	struct mx_req		*req;
	size_t			 host;		/* index in req->res->hosts */
	struct dns_query	*q;		/* NULL once answered */
};

struct mx_req {
	struct mx		*mx;
	char			*domain;	/* lower case, no trailing dot */
	mx_cb			*cb;
	void			*arg;
	struct dns_query	*mxq;		/* the MX query while pending */
	struct mx_aq		*aq;		/* 2 per host: AAAA, A */
	size_t			 naq;
	size_t			 pending;	/* address queries outstanding */
	struct mx_result	*res;		/* being built, or ready */
	bool			 tempfail;	/* an address lookup failed for now */
	char			 temperr[256];
	ev_timer		 defer;		/* delivers a ready res from the loop */
	struct mx_req		*prev, *next;
};

struct mx {
	struct dns		*dns;
	struct mx_cache		*cache;
	time_t			(*now)(void *);
	void			*now_arg;
	uint64_t		 rng;
	struct mx_req		*reqs;
};

struct mx_cache_ent {
	char			*domain;
	struct mx_result	*res;
	time_t			 expires;
};

struct mx_cache {
	struct mx_cache_ent	*v;
	size_t			 n, cap, max;
};

/* Pure parts. */

uint64_t
mx_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int
mx_pref_cmp(const void *a, const void *b)
{
	const struct mx_host *x = a, *y = b;

	return (x->pref > y->pref) - (x->pref < y->pref);
}

void
mx_order(struct mx_host *hosts, size_t n, uint64_t *rng)
{
	size_t i, j;

	if (n > 1)
		qsort(hosts, n, sizeof(*hosts), mx_pref_cmp);
	/* Fisher-Yates within each run of equal preference (RFC 5321
	 * section 5.1: "randomize them to spread the load"). The modulo
	 * bias of a 64-bit draw over at most a few dozen hosts is nil. */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && hosts[j].pref == hosts[i].pref; j++)
			;
		for (size_t k = j - 1; k > i; k--) {
			size_t r = i + (size_t)(mx_random(rng) % (k - i + 1));
			struct mx_host t = hosts[k];

			hosts[k] = hosts[r];
			hosts[r] = t;
		}
	}
}

void
mx_interleave(struct sockaddr_storage *addrs, size_t n)
{
	struct sockaddr_storage *v6, *v4;
	size_t n6 = 0, n4 = 0, i6 = 0, i4 = 0;

	if (n < 2)
		return;
	v6 = xcalloc(n, sizeof(*v6));
	v4 = xcalloc(n, sizeof(*v4));
	for (size_t i = 0; i < n; i++) {
		if (addrs[i].ss_family == AF_INET6)
			v6[n6++] = addrs[i];
		else
			v4[n4++] = addrs[i];
	}
	for (size_t i = 0; i < n; i++) {
		bool six = (i % 2 == 0 && i6 < n6) || i4 == n4;

		addrs[i] = six ? v6[i6++] : v4[i4++];
	}
	free(v6);
	free(v4);
}

int
mx_parse_literal(const char *s, struct sockaddr_storage *ss_r)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t len;
	const char *in;

	if (*s != '[')
		return 0;
	len = strlen(s);
	if (len < 3 || s[len - 1] != ']' || len - 2 >= sizeof(buf))
		return -1;
	memcpy(buf, s + 1, len - 2);
	buf[len - 2] = '\0';
	memset(ss_r, 0, sizeof(*ss_r));
	if (ascii_ncasecmp(buf, "IPv6:", 5) == 0) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss_r;

		in = buf + 5;
		if (inet_pton(AF_INET6, in, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		return 1;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss_r;

		/* inet_pton takes only dotted quads: no "1", no octal. */
		if (inet_pton(AF_INET, buf, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		return 1;
	}
}

bool
mx_is_null(const char *const *exchanges, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (exchanges[i][0] != '\0')
			return false;
	return true;
}

/* Results. */

static struct mx_result *
mx_result_new(enum mx_status st)
{
	struct mx_result *res = xcalloc(1, sizeof(*res));

	res->status = st;
	return res;
}

static void
mx_result_fail(struct mx_result *res, enum mx_status st, uint32_t ttl,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
mx_result_fail(struct mx_result *res, enum mx_status st, uint32_t ttl,
    const char *fmt, ...)
{
	va_list ap;

	for (size_t i = 0; i < res->nhosts; i++) {
		free(res->hosts[i].name);
		free(res->hosts[i].addrs);
	}
	FREE_NULL(res->hosts);
	res->nhosts = 0;
	res->status = st;
	res->ttl = ttl;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
}

static void
mx_add_host(struct mx_result *res, const char *name, uint16_t pref)
{
	struct mx_host *h;

	res->hosts = xrealloc(res->hosts, (res->nhosts + 1) * sizeof(*h));
	h = &res->hosts[res->nhosts++];
	memset(h, 0, sizeof(*h));
	h->name = xstrdup(name);
	h->pref = pref;
}

void
mx_result_free(struct mx_result **resp)
{
	struct mx_result *res = *resp;

	if (res == NULL)
		return;
	*resp = NULL;
	for (size_t i = 0; i < res->nhosts; i++) {
		free(res->hosts[i].name);
		free(res->hosts[i].addrs);
	}
	free(res->hosts);
	free(res);
}

struct mx_result *
mx_result_dup(const struct mx_result *res)
{
	struct mx_result *d = xmalloc(sizeof(*d));

	*d = *res;
	d->hosts = res->nhosts > 0 ?
	    xcalloc(res->nhosts, sizeof(*d->hosts)) : NULL;
	for (size_t i = 0; i < res->nhosts; i++) {
		const struct mx_host *h = &res->hosts[i];

		d->hosts[i] = *h;
		d->hosts[i].name = xstrdup(h->name);
		d->hosts[i].addrs = NULL;
		if (h->naddrs > 0) {
			d->hosts[i].addrs = xcalloc(h->naddrs, sizeof(*h->addrs));
			memcpy(d->hosts[i].addrs, h->addrs,
			    h->naddrs * sizeof(*h->addrs));
		}
	}
	return d;
}

/* The cache. */

struct mx_cache *
mx_cache_new(size_t max)
{
	struct mx_cache *c = xcalloc(1, sizeof(*c));

	c->max = max > 0 ? max : MX_CACHE_ENTRIES;
	return c;
}

static void
mx_cache_drop(struct mx_cache *c, size_t i)
{
	free(c->v[i].domain);
	mx_result_free(&c->v[i].res);
	c->v[i] = c->v[--c->n];
}

void
mx_cache_free(struct mx_cache **cp)
{
	struct mx_cache *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	while (c->n > 0)
		mx_cache_drop(c, c->n - 1);
	free(c->v);
	free(c);
}

size_t
mx_cache_count(const struct mx_cache *c)
{
	return c->n;
}

static ssize_t
mx_cache_find(const struct mx_cache *c, const char *domain)
{
	for (size_t i = 0; i < c->n; i++)
		if (ascii_casecmp(c->v[i].domain, domain) == 0)
			return (ssize_t)i;
	return -1;
}

struct mx_result *
mx_cache_get(struct mx_cache *c, const char *domain, time_t now)
{
	ssize_t i = mx_cache_find(c, domain);

	if (i < 0)
		return NULL;
	if (c->v[i].expires <= now) {
		mx_cache_drop(c, (size_t)i);
		return NULL;
	}
	return mx_result_dup(c->v[i].res);
}

void
mx_cache_put(struct mx_cache *c, const char *domain,
    const struct mx_result *res, time_t now)
{
	ssize_t i;

	if (res->ttl == 0 || res->status == MX_TEMPFAIL ||
	    res->status == MX_CANCELLED)
		return;
	if ((i = mx_cache_find(c, domain)) >= 0)
		mx_cache_drop(c, (size_t)i);
	if (c->n == c->max) {
		for (size_t k = c->n; k-- > 0; )
			if (c->v[k].expires <= now)
				mx_cache_drop(c, k);
	}
	if (c->n == c->max) {
		size_t soon = 0;

		for (size_t k = 1; k < c->n; k++)
			if (c->v[k].expires < c->v[soon].expires)
				soon = k;
		mx_cache_drop(c, soon);
	}
	if (c->n == c->cap) {
		c->cap = c->cap > 0 ? c->cap * 2 : 16;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n].domain = xstrdup(domain);
	ascii_lower(c->v[c->n].domain);
	c->v[c->n].res = mx_result_dup(res);
	c->v[c->n].expires = now + (time_t)res->ttl;
	c->n++;
}

/* The resolver. */

static time_t
mx_clock_monotonic(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

struct mx *
mx_new(struct dns *dns, size_t cache_entries)
{
	struct mx *mx = xcalloc(1, sizeof(*mx));

	mx->dns = dns;
	mx->cache = mx_cache_new(cache_entries);
	mx->now = mx_clock_monotonic;
	if (getrandom(&mx->rng, sizeof(mx->rng), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(mx->rng))
		mx->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	return mx;
}

void
mx_set_clock(struct mx *mx, time_t (*now)(void *), void *arg)
{
	mx->now = now != NULL ? now : mx_clock_monotonic;
	mx->now_arg = arg;
}

static uint32_t
mx_min_ttl(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Release everything of req but its result; unlink it. */
static void
mx_req_release(struct mx_req *req)
{
	struct mx *mx = req->mx;

	dns_cancel(&req->mxq);
	for (size_t i = 0; i < req->naq; i++)
		dns_cancel(&req->aq[i].q);
	free(req->aq);
	ev_timer_stop(dns_loop(mx->dns), &req->defer);
	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		mx->reqs = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	free(req->domain);
	free(req);
}

/* Hand req's result to its callback; req is gone afterwards. */
static void
mx_finish(struct mx_req *req)
{
	struct mx_result *res = req->res;
	mx_cb *cb = req->cb;
	void *arg = req->arg;

	req->res = NULL;
	mx_req_release(req);
	cb(res, arg);
}

static void
mx_on_defer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	mx_finish(w->data);
}

static void
mx_ready(struct mx_req *req)
{
	ev_timer_start(dns_loop(req->mx->dns), &req->defer);
}

/* Every address answer is in: drop hosts without one, order, cache. */
static void
mx_assemble(struct mx_req *req)
{
	struct mx *mx = req->mx;
	struct mx_result *res = req->res;
	size_t k = 0;

	for (size_t i = 0; i < res->nhosts; i++) {
		struct mx_host *h = &res->hosts[i];

		if (h->naddrs == 0) {
			free(h->name);
			free(h->addrs);
			if (!res->implicit)
				res->nskipped++;
			continue;
		}
		mx_interleave(h->addrs, h->naddrs);
		res->hosts[k++] = *h;
	}
	res->nhosts = k;
	if (k == 0) {
		if (req->tempfail)
			mx_result_fail(res, MX_TEMPFAIL, 0, "%s", req->temperr);
		else if (res->implicit)
			mx_result_fail(res, MX_PERMFAIL,
			    mx_min_ttl(res->ttl, MX_CACHE_NEG_TTL),
			    "%s: no MX record and no address record",
			    req->domain);
		else
			mx_result_fail(res, MX_PERMFAIL,
			    mx_min_ttl(res->ttl, MX_CACHE_NEG_TTL),
			    "%s: no MX host has an address", req->domain);
	} else if (req->tempfail)
		res->ttl = 0;	/* partial: do not remember it */
	mx_cache_put(mx->cache, req->domain, res, mx->now(mx->now_arg));
	if (res->status == MX_OK)
		mx_order(res->hosts, res->nhosts, &mx->rng);
	mx_finish(req);
}

static void
mx_cancelled(struct mx_req *req)
{
	mx_result_fail(req->res, MX_CANCELLED, 0, "cancelled");
	mx_finish(req);
}

static void
mx_on_addr(const struct dns_answer *a, void *arg)
{
	struct mx_aq *aq = arg;
	struct mx_req *req = aq->req;
	struct mx_result *res = req->res;
	struct mx_host *h = &res->hosts[aq->host];
	int family = (aq - req->aq) % 2 == 0 ? AF_INET6 : AF_INET;

	aq->q = NULL;
	switch (a->status) {
	case DNS_CANCELLED:
		mx_cancelled(req);
		return;
	case DNS_OK:
		h->addrs = xrealloc(h->addrs,
		    (h->naddrs + a->naddrs) * sizeof(*h->addrs));
		memcpy(h->addrs + h->naddrs, a->addrs,
		    a->naddrs * sizeof(*a->addrs));
		h->naddrs += a->naddrs;
		res->ttl = mx_min_ttl(res->ttl, a->ttl);
		break;
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		res->ttl = mx_min_ttl(res->ttl, a->ttl);
		break;
	case DNS_TEMPFAIL:
		if (!req->tempfail)
			snprintf(req->temperr, sizeof(req->temperr),
			    "temporary DNS failure: %s %s: %s",
			    family == AF_INET6 ? "AAAA" : "A", h->name,
			    a->error);
		req->tempfail = true;
		break;
	}
	if (--req->pending == 0)
		mx_assemble(req);
}

static int
mx_host_cmp_name(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;
	int c = strcmp(x->host, y->host);

	if (c != 0)
		return c;
	return (x->pref > y->pref) - (x->pref < y->pref);
}

/* The MX records as hosts: null MX entries dropped, duplicates merged at
 * their lowest preference, at most MX_MAX_HOSTS of the lowest preferences. */
static void
mx_hosts_from_records(struct mx_result *res, const struct dns_mx *recs,
    size_t n)
{
	struct dns_mx *v = xcalloc(n, sizeof(*v));
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (recs[i].host[0] != '\0')
			v[m++] = recs[i];
	qsort(v, m, sizeof(*v), mx_host_cmp_name);
	for (size_t i = 0; i < m; i++)
		if (i == 0 || strcmp(v[i].host, v[i - 1].host) != 0)
			mx_add_host(res, v[i].host, v[i].pref);
	free(v);
	if (res->nhosts > MX_MAX_HOSTS) {
		qsort(res->hosts, res->nhosts, sizeof(*res->hosts),
		    mx_pref_cmp);
		for (size_t i = MX_MAX_HOSTS; i < res->nhosts; i++)
			free(res->hosts[i].name);
		res->nhosts = MX_MAX_HOSTS;
	}
}

static void
mx_on_mx(const struct dns_answer *a, void *arg)
{
	struct mx_req *req = arg;
	struct mx_result *res = req->res;

	req->mxq = NULL;
	switch (a->status) {
	case DNS_CANCELLED:
		mx_cancelled(req);
		return;
	case DNS_TEMPFAIL:
		mx_result_fail(res, MX_TEMPFAIL, 0,
		    "temporary DNS failure: MX %s: %s", req->domain, a->error);
		mx_finish(req);
		return;
	case DNS_NXDOMAIN:
		mx_result_fail(res, MX_PERMFAIL,
		    mx_min_ttl(a->ttl, MX_CACHE_NEG_TTL),
		    "%s: NXDOMAIN (no such domain)", req->domain);
		mx_cache_put(req->mx->cache, req->domain, res,
		    req->mx->now(req->mx->now_arg));
		mx_finish(req);
		return;
	case DNS_NODATA:
		/* RFC 5321 section 5.1: the implicit MX. */
		res->implicit = true;
		res->ttl = mx_min_ttl(a->ttl, MX_CACHE_MAX_TTL);
		mx_add_host(res, req->domain, 0);
		break;
	case DNS_OK: {
		const char **ex = xcalloc(a->nmx, sizeof(*ex));
		bool null;

		for (size_t i = 0; i < a->nmx; i++)
			ex[i] = a->mx[i].host;
		null = mx_is_null(ex, a->nmx);
		free(ex);
		res->ttl = mx_min_ttl(a->ttl, MX_CACHE_MAX_TTL);
		if (null) {
			mx_result_fail(res, MX_NULLMX, res->ttl,
			    "null MX: %s does not accept mail (RFC 7505)",
			    req->domain);
			mx_cache_put(req->mx->cache, req->domain, res,
			    req->mx->now(req->mx->now_arg));
			mx_finish(req);
			return;
		}
		mx_hosts_from_records(res, a->mx, a->nmx);
		break;
	}
	}
	if (res->nhosts == 0) {
		mx_assemble(req);
		return;
	}
	req->naq = 2 * res->nhosts;
	req->aq = xcalloc(req->naq, sizeof(*req->aq));
	req->pending = req->naq;
	/* All handles exist before any query starts: an answer can only
	 * come from the loop, after this function. */
	for (size_t i = 0; i < req->naq; i++) {
		struct mx_aq *aq = &req->aq[i];

		aq->req = req;
		aq->host = i / 2;
		aq->q = dns_query_addr(req->mx->dns, res->hosts[i / 2].name,
		    i % 2 == 0 ? AF_INET6 : AF_INET, mx_on_addr, aq);
	}
}

struct mx_req *
mx_resolve(struct mx *mx, const char *domain, mx_cb *cb, void *arg)
{
	struct mx_req *req = xcalloc(1, sizeof(*req));
	struct sockaddr_storage ss;
	size_t len;
	int lit;

	req->mx = mx;
	req->cb = cb;
	req->arg = arg;
	ev_timer_init(&req->defer, mx_on_defer, 0., 0.);
	req->defer.data = req;
	req->next = mx->reqs;
	if (req->next != NULL)
		req->next->prev = req;
	mx->reqs = req;
	req->domain = xstrdup(domain);
	len = strlen(req->domain);
	if (len > 1 && req->domain[len - 1] == '.')
		req->domain[len - 1] = '\0';

	req->res = mx_result_new(MX_OK);
	if ((lit = mx_parse_literal(req->domain, &ss)) != 0) {
		if (lit < 0)
			mx_result_fail(req->res, MX_PERMFAIL, 0,
			    "%s: invalid address literal", req->domain);
		else {
			mx_add_host(req->res, req->domain, 0);
			req->res->hosts[0].addrs = xmalloc(sizeof(ss));
			req->res->hosts[0].addrs[0] = ss;
			req->res->hosts[0].naddrs = 1;
		}
		mx_ready(req);
		return req;
	}
	ascii_lower(req->domain);
	if (!conf_valid_hostname(req->domain)) {
		mx_result_fail(req->res, MX_PERMFAIL, 0,
		    "%s: invalid domain name", req->domain);
		mx_ready(req);
		return req;
	}
	mx_result_free(&req->res);
	if ((req->res = mx_cache_get(mx->cache, req->domain,
	    mx->now(mx->now_arg))) != NULL) {
		if (req->res->status == MX_OK)
			mx_order(req->res->hosts, req->res->nhosts, &mx->rng);
		mx_ready(req);
		return req;
	}
	req->res = mx_result_new(MX_OK);
	req->mxq = dns_query_mx(mx->dns, req->domain, mx_on_mx, req);
	return req;
}

void
mx_cancel(struct mx_req **reqp)
{
	struct mx_req *req = *reqp;

	if (req == NULL)
		return;
	*reqp = NULL;
	mx_result_free(&req->res);
	mx_req_release(req);
}

void
mx_free(struct mx **mxp)
{
	struct mx *mx = *mxp;

	if (mx == NULL)
		return;
	*mxp = NULL;
	while (mx->reqs != NULL)
		mx_cancelled(mx->reqs);
	mx_cache_free(&mx->cache);
	free(mx);
}
