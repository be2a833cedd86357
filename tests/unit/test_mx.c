/*
 * Unit tests: relay/mx (ordering, literals, null MX, address interleaving,
 * the TTL cache) and relay/dns + mx_resolve on a libev loop against a tiny
 * in-process DNS server (caching with an injected clock, cancellation).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/util.h"
#include "relay/dns.h"
#include "relay/mx.h"

static struct mx_host *
hosts_make(const uint16_t *prefs, size_t n)
{
	struct mx_host *h = xcalloc(n, sizeof(*h));

	for (size_t i = 0; i < n; i++) {
		h[i].name = xasprintf("h%zu", i);
		h[i].pref = prefs[i];
	}
	return h;
}

static void
hosts_free(struct mx_host *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i].name);
	free(h);
}

static void
test_order_by_preference(void **state)
{
	static const uint16_t prefs[] = { 30, 10, 20, 0, 65535, 10, 5 };
	size_t n = NELEM(prefs);

	(void)state;
	for (uint64_t seed = 0; seed < 200; seed++) {
		struct mx_host *h = hosts_make(prefs, n);
		uint64_t rng = seed;
		unsigned seen = 0;

		mx_order(h, n, &rng);
		for (size_t i = 1; i < n; i++)
			assert_true(h[i - 1].pref <= h[i].pref);
		/* Still the same hosts, each once. */
		for (size_t i = 0; i < n; i++) {
			unsigned k = (unsigned)atoi(h[i].name + 1);

			assert_int_equal(h[i].pref, prefs[k]);
			assert_false(seen & (1u << k));
			seen |= 1u << k;
		}
		hosts_free(h, n);
	}
}

/* Equal preferences: every permutation comes up, about as often. */
static void
test_order_equal_all_permutations(void **state)
{
	static const uint16_t prefs[] = { 20, 10, 10, 10, 10, 5 };
	enum { RUNS = 24000 };
	unsigned counts[4 * 4 * 4 * 4] = { 0 };
	size_t n = NELEM(prefs), distinct = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= RUNS; seed++) {
		struct mx_host *h = hosts_make(prefs, n);
		uint64_t rng = seed * 7919;
		unsigned code = 0;

		mx_order(h, n, &rng);
		assert_string_equal(h[0].name, "h5");
		assert_string_equal(h[5].name, "h0");
		for (size_t i = 1; i <= 4; i++)
			code = code * 4 + (unsigned)(atoi(h[i].name + 1) - 1);
		counts[code]++;
		hosts_free(h, n);
	}
	for (size_t i = 0; i < NELEM(counts); i++) {
		if (counts[i] == 0)
			continue;
		distinct++;
		/* 1000 expected for each of the 24; a fair shuffle stays well
		 * within +-20%. */
		assert_in_range(counts[i], 800, 1200);
	}
	assert_int_equal(distinct, 24);
}

static void
test_order_small(void **state)
{
	uint64_t rng = 42;
	static const uint16_t one[] = { 7 };
	struct mx_host *h = hosts_make(one, 1);

	(void)state;
	mx_order(h, 0, &rng);
	mx_order(h, 1, &rng);
	assert_string_equal(h[0].name, "h0");
	hosts_free(h, 1);
}

static void
test_null_mx(void **state)
{
	const char *null1[] = { "" };
	const char *null2[] = { "", "" };
	const char *mixed[] = { "", "mx.example.com" };
	const char *real[] = { "mx.example.com" };

	(void)state;
	assert_true(mx_is_null(null1, 1));
	assert_true(mx_is_null(null2, 2));
	assert_false(mx_is_null(mixed, 2));
	assert_false(mx_is_null(real, 1));
	assert_false(mx_is_null(NULL, 0));
}

static void
test_literals(void **state)
{
	static const struct {
		const char	*in;
		int		 rc;
		int		 family;
		const char	*addr;
	} t[] = {
		{ "[192.0.2.1]", 1, AF_INET, "192.0.2.1" },
		{ "[IPv6:2001:db8::1]", 1, AF_INET6, "2001:db8::1" },
		{ "[ipv6:::1]", 1, AF_INET6, "::1" },
		{ "[IPV6:::ffff:192.0.2.1]", 1, AF_INET6, "::ffff:192.0.2.1" },
		{ "example.com", 0, 0, NULL },
		{ "192.0.2.1", 0, 0, NULL },
		{ "[::1]", -1, 0, NULL },		/* needs the IPv6: tag */
		{ "[192.0.2]", -1, 0, NULL },
		{ "[192.0.2.256]", -1, 0, NULL },
		{ "[010.0.0.1]", -1, 0, NULL },		/* no octal */
		{ "[192.0.2.1", -1, 0, NULL },
		{ "[]", -1, 0, NULL },
		{ "[", -1, 0, NULL },
		{ "[IPv6:]", -1, 0, NULL },
		{ "[IPv6:192.0.2.1]", -1, 0, NULL },
		{ "[x-tag:whatever]", -1, 0, NULL },
		{ "[192.0.2.1] ", -1, 0, NULL },
	};

	(void)state;
	for (size_t i = 0; i < NELEM(t); i++) {
		struct sockaddr_storage ss;
		char buf[INET6_ADDRSTRLEN];
		int rc = mx_parse_literal(t[i].in, &ss);

		if (rc != t[i].rc)
			fail_msg("%s: %d, expected %d", t[i].in, rc, t[i].rc);
		if (rc != 1)
			continue;
		assert_int_equal(ss.ss_family, t[i].family);
		inet_ntop(ss.ss_family, ss.ss_family == AF_INET ?
		    (void *)&((struct sockaddr_in *)&ss)->sin_addr :
		    (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr,
		    buf, sizeof(buf));
		assert_string_equal(buf, t[i].addr);
	}
}

static struct sockaddr_storage
sa(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		ss.ss_family = AF_INET6;
		inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	} else {
		ss.ss_family = AF_INET;
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
	}
	return ss;
}

static void
sa_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	inet_ntop(ss->ss_family, ss->ss_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)ss)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr,
	    buf, (socklen_t)len);
}

static void
check_interleave(const char *const *in, const char *const *want, size_t n)
{
	struct sockaddr_storage v[8];
	char buf[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < n; i++)
		v[i] = sa(in[i]);
	mx_interleave(v, n);
	for (size_t i = 0; i < n; i++) {
		sa_str(&v[i], buf, sizeof(buf));
		assert_string_equal(buf, want[i]);
	}
}

static void
test_interleave(void **state)
{
	const char *a[] = { "192.0.2.1", "192.0.2.2", "2001:db8::1",
	    "2001:db8::2", "2001:db8::3" };
	const char *aw[] = { "2001:db8::1", "192.0.2.1", "2001:db8::2",
	    "192.0.2.2", "2001:db8::3" };
	const char *b[] = { "192.0.2.1", "192.0.2.2", "192.0.2.3" };
	const char *c[] = { "2001:db8::1", "192.0.2.1", "192.0.2.2",
	    "192.0.2.3" };
	const char *cw[] = { "2001:db8::1", "192.0.2.1", "192.0.2.2",
	    "192.0.2.3" };
	const char *d[] = { "192.0.2.9", "2001:db8::9" };
	const char *dw[] = { "2001:db8::9", "192.0.2.9" };

	(void)state;
	check_interleave(a, aw, NELEM(a));
	check_interleave(b, b, NELEM(b));
	check_interleave(c, cw, NELEM(c));
	check_interleave(d, dw, NELEM(d));
	check_interleave(d, dw, 0);
}

static struct mx_result *
result_make(enum mx_status st, uint32_t ttl, const char *host)
{
	struct mx_result *r = xcalloc(1, sizeof(*r));

	r->status = st;
	r->ttl = ttl;
	if (host != NULL) {
		r->hosts = xcalloc(1, sizeof(*r->hosts));
		r->hosts[0].name = xstrdup(host);
		r->hosts[0].pref = 10;
		r->hosts[0].addrs = xcalloc(1, sizeof(*r->hosts[0].addrs));
		r->hosts[0].addrs[0] = sa("192.0.2.1");
		r->hosts[0].naddrs = 1;
		r->nhosts = 1;
	}
	return r;
}

static void
test_cache_ttl(void **state)
{
	struct mx_cache *c = mx_cache_new(8);
	struct mx_result *r = result_make(MX_OK, 60, "mx.a.test"), *g;

	(void)state;
	mx_cache_put(c, "A.test", r, 1000);
	/* A deep copy was stored. */
	free(r->hosts[0].name);
	r->hosts[0].name = xstrdup("changed");
	assert_null(mx_cache_get(c, "b.test", 1000));
	g = mx_cache_get(c, "a.TEST", 1059);
	assert_non_null(g);
	assert_int_equal(g->status, MX_OK);
	assert_int_equal(g->nhosts, 1);
	assert_string_equal(g->hosts[0].name, "mx.a.test");
	assert_int_equal(g->hosts[0].naddrs, 1);
	mx_result_free(&g);
	assert_null(g);
	/* Expired at now + ttl, and dropped. */
	assert_null(mx_cache_get(c, "a.test", 1060));
	assert_int_equal(mx_cache_count(c), 0);

	/* ttl 0, temporary failures: never stored. */
	r->ttl = 0;
	mx_cache_put(c, "a.test", r, 1000);
	r->ttl = 60;
	r->status = MX_TEMPFAIL;
	mx_cache_put(c, "a.test", r, 1000);
	assert_int_equal(mx_cache_count(c), 0);
	mx_result_free(&r);

	/* Negative entries like any other. */
	r = result_make(MX_PERMFAIL, 300, NULL);
	str_lcpy(r->error, "nx.test: NXDOMAIN", sizeof(r->error));
	mx_cache_put(c, "nx.test", r, 0);
	g = mx_cache_get(c, "nx.test", 299);
	assert_non_null(g);
	assert_int_equal(g->status, MX_PERMFAIL);
	assert_string_equal(g->error, "nx.test: NXDOMAIN");
	mx_result_free(&g);
	/* A new put replaces. */
	r->ttl = 10;
	mx_cache_put(c, "nx.test", r, 1000);
	assert_int_equal(mx_cache_count(c), 1);
	assert_null(mx_cache_get(c, "nx.test", 1010));
	mx_result_free(&r);
	mx_cache_free(&c);
	assert_null(c);
}

static void
test_cache_bounded(void **state)
{
	struct mx_cache *c = mx_cache_new(3);
	struct mx_result *r = result_make(MX_OK, 100, "mx.test"), *g;

	(void)state;
	mx_cache_put(c, "a.test", r, 0);	/* expires 100 */
	r->ttl = 50;
	mx_cache_put(c, "b.test", r, 0);	/* expires 50 */
	r->ttl = 200;
	mx_cache_put(c, "c.test", r, 0);	/* expires 200 */
	mx_cache_put(c, "d.test", r, 0);	/* full: b goes (soonest) */
	assert_int_equal(mx_cache_count(c), 3);
	assert_null(mx_cache_get(c, "b.test", 1));
	g = mx_cache_get(c, "a.test", 1);
	assert_non_null(g);
	mx_result_free(&g);
	/* At 150, a has expired: it goes before any live entry. */
	mx_cache_put(c, "e.test", r, 150);
	assert_int_equal(mx_cache_count(c), 3);
	assert_null(mx_cache_get(c, "a.test", 150));
	g = mx_cache_get(c, "c.test", 150);
	assert_non_null(g);
	mx_result_free(&g);
	g = mx_cache_get(c, "e.test", 150);
	assert_non_null(g);
	mx_result_free(&g);
	/* Many more than the bound. */
	for (int i = 0; i < 100; i++) {
		char name[32];

		snprintf(name, sizeof(name), "n%d.test", i);
		mx_cache_put(c, name, r, 200);
	}
	assert_int_equal(mx_cache_count(c), 3);
	mx_result_free(&r);
	mx_cache_free(&c);
}

/*
 * A tiny DNS server on a loopback UDP socket, run by the same loop:
 *   MX c.test     -> MX 10 mx.c.test, TTL 300
 *   A mx.c.test   -> 192.0.2.1, TTL 100
 *   AAAA mx.c.test -> NODATA, SOA TTL 600 MINIMUM 50 (negative TTL 50)
 *   PTR 192.0.2.1 -> MX.c.test; PTR 2001:db8::1 -> v6.c.test
 *   MX silent.test -> no answer at all
 *   anything else -> NXDOMAIN, no SOA
 */
struct fakedns {
	int		 fd;
	ev_io		 io;
	unsigned	 queries;
	char		 server[64];
};

static size_t
put_name(uint8_t *p, const char *name)
{
	size_t off = 0;

	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t len = dot != NULL ? (size_t)(dot - name) : strlen(name);

		p[off++] = (uint8_t)len;
		memcpy(p + off, name, len);
		off += len;
		name += len + (dot != NULL);
	}
	p[off++] = 0;
	return off;
}

static size_t
put_rr(uint8_t *p, unsigned type, uint32_t ttl, const uint8_t *rd,
    size_t rdlen)
{
	p[0] = 0xc0;		/* the question's name */
	p[1] = 12;
	p[2] = (uint8_t)(type >> 8);
	p[3] = (uint8_t)type;
	p[4] = 0;
	p[5] = 1;
	p[6] = (uint8_t)(ttl >> 24);
	p[7] = (uint8_t)(ttl >> 16);
	p[8] = (uint8_t)(ttl >> 8);
	p[9] = (uint8_t)ttl;
	p[10] = (uint8_t)(rdlen >> 8);
	p[11] = (uint8_t)rdlen;
	memcpy(p + 12, rd, rdlen);
	return 12 + rdlen;
}

static void
fakedns_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fakedns *f = w->data;
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	uint8_t q[512], r[1024], rd[256];
	char name[256];
	ssize_t n;
	size_t off = 12, nlen = 0, rlen, qend;
	unsigned qtype, an = 0, ns = 0, rcode = 0;

	(void)loop;
	(void)revents;
	n = recvfrom(f->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fromlen);
	if (n < 17)
		return;
	f->queries++;
	while (off < (size_t)n && q[off] != 0) {
		size_t l = q[off];

		if (nlen > 0)
			name[nlen++] = '.';
		memcpy(name + nlen, q + off + 1, l);
		nlen += l;
		off += 1 + l;
	}
	name[nlen] = '\0';
	qend = off + 5;
	qtype = (unsigned)q[off + 1] << 8 | q[off + 2];
	if (strcmp(name, "silent.test") == 0)
		return;
	memcpy(r, q, qend);
	rlen = qend;
	if (strcmp(name, "c.test") == 0 && qtype == 15) {
		rd[0] = 0;
		rd[1] = 10;
		rlen += put_rr(r + rlen, 15, 300, rd, 2 + put_name(rd + 2,
		    "mx.c.test"));
		an = 1;
	} else if (strcmp(name, "mx.c.test") == 0 && qtype == 1) {
		static const uint8_t a[] = { 192, 0, 2, 1 };

		rlen += put_rr(r + rlen, 1, 100, a, 4);
		an = 1;
	} else if (strcmp(name, "1.2.0.192.in-addr.arpa") == 0 &&
	    qtype == 12) {
		rlen += put_rr(r + rlen, 12, 100, rd, put_name(rd, "MX.c.test"));
		an = 1;
	} else if (strcmp(name, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa") == 0 && qtype == 12) {
		rlen += put_rr(r + rlen, 12, 100, rd, put_name(rd, "v6.c.test"));
		an = 1;
	} else if (strcmp(name, "mx.c.test") == 0 && qtype == 28) {
		/* mname, rname (pointers to the question), then serial,
		 * refresh, retry, expire, minimum = 50. */
		static const uint8_t soa[] = { 0xc0, 12, 0xc0, 12,
		    0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 50 };

		rlen += put_rr(r + rlen, 6, 600, soa, sizeof(soa));
		ns = 1;
	} else
		rcode = 3;
	r[2] = 0x84 | (q[2] & 0x01);	/* QR, AA, RD copied */
	r[3] = 0x80 | (uint8_t)rcode;	/* RA */
	r[6] = 0;
	r[7] = (uint8_t)an;
	r[8] = 0;
	r[9] = (uint8_t)ns;
	r[10] = r[11] = 0;
	(void)sendto(f->fd, r, rlen, 0, (struct sockaddr *)&from, fromlen);
}

static void
fakedns_start(struct ev_loop *loop, struct fakedns *f)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(f, 0, sizeof(*f));
	f->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(f->fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(f->server, sizeof(f->server), "127.0.0.1:%u",
	    ntohs(sin.sin_port));
	ev_io_init(&f->io, fakedns_on_read, f->fd, EV_READ);
	f->io.data = f;
	ev_io_start(loop, &f->io);
}

static void
fakedns_stop(struct ev_loop *loop, struct fakedns *f)
{
	ev_io_stop(loop, &f->io);
	close(f->fd);
}

struct waiter {
	struct ev_loop		*loop;
	struct mx_result	*res;
	unsigned		 calls;
	bool			 returned;	/* mx_resolve had returned */
};

static void
on_result(struct mx_result *res, void *arg)
{
	struct waiter *w = arg;

	assert_true(w->returned);
	w->calls++;
	mx_result_free(&w->res);
	w->res = res;
	ev_break(w->loop, EVBREAK_ALL);
}

static time_t fake_now;

static time_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

struct env {
	struct ev_loop	*loop;
	struct fakedns	 fake;
	struct dns	*dns;
	struct mx	*mx;
};

static void
env_start(struct env *e)
{
	char err[256], *servers[1];

	e->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(e->loop);
	fakedns_start(e->loop, &e->fake);
	servers[0] = e->fake.server;
	e->dns = dns_new(e->loop, servers, 1, err, sizeof(err));
	if (e->dns == NULL)
		fail_msg("dns_new: %s", err);
	dns_set_timeout(e->dns, 200, 1);
	e->mx = mx_new(e->dns, 0);
	mx_set_clock(e->mx, fake_clock, NULL);
}

static void
env_stop(struct env *e)
{
	mx_free(&e->mx);
	dns_free(&e->dns);
	fakedns_stop(e->loop, &e->fake);
	ev_loop_destroy(e->loop);
}

static void
resolve(struct env *e, const char *domain, struct waiter *w)
{
	memset(w, 0, sizeof(*w));
	w->loop = e->loop;
	(void)mx_resolve(e->mx, domain, on_result, w);
	w->returned = true;
	ev_run(e->loop, 0);
	assert_int_equal(w->calls, 1);
	assert_non_null(w->res);
}

static void
test_resolve_cache_clock(void **state)
{
	struct env e;
	struct waiter w;

	(void)state;
	fake_now = 1000;
	env_start(&e);
	resolve(&e, "c.test", &w);
	assert_int_equal(w.res->status, MX_OK);
	assert_int_equal(w.res->nhosts, 1);
	assert_string_equal(w.res->hosts[0].name, "mx.c.test");
	assert_int_equal(w.res->hosts[0].pref, 10);
	assert_int_equal(w.res->hosts[0].naddrs, 1);
	/* min(MX 300, A 100, AAAA's negative TTL min(600, 50)) */
	assert_int_equal(w.res->ttl, 50);
	assert_int_equal(e.fake.queries, 3);
	mx_result_free(&w.res);

	fake_now = 1049;
	resolve(&e, "C.test.", &w);
	assert_int_equal(w.res->status, MX_OK);
	assert_string_equal(w.res->hosts[0].name, "mx.c.test");
	assert_int_equal(e.fake.queries, 3);	/* from the cache */
	mx_result_free(&w.res);

	fake_now = 1050;
	resolve(&e, "c.test", &w);
	assert_int_equal(w.res->status, MX_OK);
	assert_int_equal(e.fake.queries, 6);	/* expired: asked again */
	mx_result_free(&w.res);

	/* NXDOMAIN without SOA: DNS_NEG_TTL_DEFAULT, capped. */
	resolve(&e, "nx.test", &w);
	assert_int_equal(w.res->status, MX_PERMFAIL);
	assert_non_null(strstr(w.res->error, "NXDOMAIN"));
	assert_int_equal(w.res->ttl, MX_CACHE_NEG_TTL);
	mx_result_free(&w.res);
	resolve(&e, "nx.test", &w);
	assert_int_equal(w.res->status, MX_PERMFAIL);
	assert_int_equal(e.fake.queries, 7);
	mx_result_free(&w.res);

	/* Timeout: temporary, not cached. */
	resolve(&e, "silent.test", &w);
	assert_int_equal(w.res->status, MX_TEMPFAIL);
	assert_non_null(strstr(w.res->error, "timeout"));
	mx_result_free(&w.res);
	env_stop(&e);
}

static void
test_resolve_literal_and_invalid(void **state)
{
	struct env e;
	struct waiter w;

	(void)state;
	env_start(&e);
	resolve(&e, "[192.0.2.7]", &w);
	assert_int_equal(w.res->status, MX_OK);
	assert_int_equal(w.res->nhosts, 1);
	assert_string_equal(w.res->hosts[0].name, "[192.0.2.7]");
	assert_int_equal(w.res->hosts[0].naddrs, 1);
	mx_result_free(&w.res);
	resolve(&e, "[192.0.2]", &w);
	assert_int_equal(w.res->status, MX_PERMFAIL);
	mx_result_free(&w.res);
	resolve(&e, "-bad-.test", &w);
	assert_int_equal(w.res->status, MX_PERMFAIL);
	mx_result_free(&w.res);
	assert_int_equal(e.fake.queries, 0);
	env_stop(&e);
}

static void
test_cancel(void **state)
{
	struct env e;
	struct waiter w1, w2, w3;
	struct mx_req *req;

	(void)state;
	env_start(&e);
	memset(&w1, 0, sizeof(w1));
	memset(&w2, 0, sizeof(w2));
	memset(&w3, 0, sizeof(w3));
	w1.loop = w2.loop = w3.loop = e.loop;
	w1.returned = w2.returned = w3.returned = true;

	/* mx_cancel: never called back, also for a ready literal. */
	req = mx_resolve(e.mx, "silent.test", on_result, &w1);
	mx_cancel(&req);
	assert_null(req);
	req = mx_resolve(e.mx, "[192.0.2.1]", on_result, &w1);
	mx_cancel(&req);
	ev_run(e.loop, EVRUN_NOWAIT);

	/* mx_free: pending requests get MX_CANCELLED, before it returns. */
	(void)mx_resolve(e.mx, "silent.test", on_result, &w2);
	(void)mx_resolve(e.mx, "[192.0.2.1]", on_result, &w3);
	ev_run(e.loop, EVRUN_NOWAIT);
	mx_free(&e.mx);
	assert_int_equal(w1.calls, 0);
	assert_int_equal(w2.calls, 1);
	assert_int_equal(w2.res->status, MX_CANCELLED);
	assert_int_equal(w3.calls, 1);
	mx_result_free(&w2.res);
	mx_result_free(&w3.res);

	/* dns_free under a live mx: its requests end MX_CANCELLED too. */
	e.mx = mx_new(e.dns, 0);
	memset(&w2, 0, sizeof(w2));
	w2.loop = e.loop;
	w2.returned = true;
	(void)mx_resolve(e.mx, "silent.test", on_result, &w2);
	ev_run(e.loop, EVRUN_NOWAIT);
	dns_free(&e.dns);
	assert_int_equal(w2.calls, 1);
	assert_int_equal(w2.res->status, MX_CANCELLED);
	mx_result_free(&w2.res);
	mx_free(&e.mx);
	fakedns_stop(e.loop, &e.fake);
	ev_loop_destroy(e.loop);
}

struct ptr_waiter {
	struct ev_loop	*loop;
	enum dns_status	 status;
	char		 name[256];
	size_t		 n;
};

static void
on_ptr(const struct dns_answer *a, void *arg)
{
	struct ptr_waiter *w = arg;

	w->status = a->status;
	w->n = a->nptr;
	if (a->nptr > 0)
		str_lcpy(w->name, a->ptr[0], sizeof(w->name));
	ev_break(w->loop, EVBREAK_ALL);
}

static void
test_ptr(void **state)
{
	struct env e;
	struct ptr_waiter w;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	(void)state;
	env_start(&e);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	memset(&w, 0, sizeof(w));
	w.loop = e.loop;
	(void)dns_query_ptr(e.dns, (struct sockaddr *)&sin, on_ptr, &w);
	ev_run(e.loop, 0);
	assert_int_equal(w.status, DNS_OK);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.name, "mx.c.test");

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
	memset(&w, 0, sizeof(w));
	w.loop = e.loop;
	(void)dns_query_ptr(e.dns, (struct sockaddr *)&sin6, on_ptr, &w);
	ev_run(e.loop, 0);
	assert_int_equal(w.status, DNS_OK);
	assert_string_equal(w.name, "v6.c.test");

	inet_pton(AF_INET, "192.0.2.2", &sin.sin_addr);
	memset(&w, 0, sizeof(w));
	w.loop = e.loop;
	(void)dns_query_ptr(e.dns, (struct sockaddr *)&sin, on_ptr, &w);
	ev_run(e.loop, 0);
	assert_int_equal(w.status, DNS_NXDOMAIN);
	assert_int_equal(w.n, 0);
	env_stop(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_by_preference),
		cmocka_unit_test(test_order_equal_all_permutations),
		cmocka_unit_test(test_order_small),
		cmocka_unit_test(test_null_mx),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_interleave),
		cmocka_unit_test(test_cache_ttl),
		cmocka_unit_test(test_cache_bounded),
		cmocka_unit_test(test_resolve_cache_clock),
		cmocka_unit_test(test_resolve_literal_and_invalid),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_ptr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
