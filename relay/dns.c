/*
 * dns: c-ares on the libev loop.
 *
 * c-ares tells us which sockets it wants watched through its socket-state
 * callback; each becomes an ev_io that hands readiness to ares_process_fd.
 * One ev_timer follows ares_timeout so retransmissions and timeouts happen
 * without any socket activity. Answers are parsed here, so no other file
 * sees a c-ares type.
 */
#include "relay/dns.h"

#include "core/util.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <assert.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many records of one answer are kept. */
#define DNS_MAX_RECORDS	64

struct dns_sock {
	ev_io		 io;
	struct dns	*dns;
	struct dns_sock	*next;
};

struct dns_query {
	struct dns		*dns;
	int			 type;		/* T_MX, T_A, T_AAAA, T_TXT, T_PTR */
	dns_cb			*cb;		/* NULL once cancelled */
	void			*arg;
	bool			 in_ares;	/* c-ares will call back */
	bool			 starting;	/* inside ares_query */
	int			 early_status;	/* c-ares answered during ares_query */
	ev_timer		 defer;		/* delivers early_status from the loop */
	struct dns_query	*prev, *next;	/* dns->queries */
};

struct dns {
	struct ev_loop		*loop;
	ares_channel		 channel;
	ev_timer		 timer;		/* follows ares_timeout */
	struct dns_sock		*socks;
	struct dns_query	*queries;	/* every live handle */
	struct ares_addr_port_node *nodes;	/* explicit servers, or NULL */
	unsigned		 timeout_ms;	/* per try */
	unsigned		 tries;
	unsigned		 depth;		/* inside ares_process_fd */
	bool			 closing;
};

static void	dns_rearm(struct dns *);

const char *
dns_status_name(enum dns_status st)
{
	switch (st) {
	case DNS_OK:		return "ok";
	case DNS_NODATA:	return "nodata";
	case DNS_NXDOMAIN:	return "nxdomain";
	case DNS_TEMPFAIL:	return "tempfail";
	case DNS_CANCELLED:	return "cancelled";
	}
	return "?";
}

struct ev_loop *
dns_loop(const struct dns *dns)
{
	return dns->loop;
}

/* Socket and timer plumbing. */

static void
dns_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dns_sock *s = w->data;
	struct dns *dns = s->dns;
	int fd = w->fd;

	(void)loop;
	/* s may be freed inside ares_process_fd (the socket closed). */
	dns->depth++;
	ares_process_fd(dns->channel,
	    (revents & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (revents & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	dns->depth--;
	dns_rearm(dns);
}

static void
dns_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dns *dns = w->data;

	(void)loop;
	(void)revents;
	dns->depth++;
	ares_process_fd(dns->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns->depth--;
	dns_rearm(dns);
}

static void
dns_rearm(struct dns *dns)
{
	struct timeval tv, *tvp;

	ev_timer_stop(dns->loop, &dns->timer);
	if (dns->closing)
		return;
	if ((tvp = ares_timeout(dns->channel, NULL, &tv)) == NULL)
		return;
	ev_timer_set(&dns->timer, (double)tvp->tv_sec +
	    (double)tvp->tv_usec / 1e6, 0.);
	ev_timer_start(dns->loop, &dns->timer);
}

static void
dns_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *dns = data;
	struct dns_sock *s, **sp;
	int events = (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);

	for (sp = &dns->socks; (s = *sp) != NULL; sp = &s->next)
		if (s->io.fd == fd)
			break;
	if (events == 0) {
		if (s != NULL) {
			ev_io_stop(dns->loop, &s->io);
			*sp = s->next;
			free(s);
		}
		return;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->dns = dns;
		s->next = dns->socks;
		dns->socks = s;
		ev_io_init(&s->io, dns_on_io, fd, events);
		s->io.data = s;
	} else {
		ev_io_stop(dns->loop, &s->io);
		ev_io_set(&s->io, fd, events);
	}
	ev_io_start(dns->loop, &s->io);
}

/* Servers. */

/* "IP", "IP:PORT", "[IPV6]:PORT" or a bare IPv6 address. 0 or -1. */
static int
dns_parse_server(const char *s, struct ares_addr_port_node *n)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *p, *port = NULL;
	size_t len;
	unsigned long v;
	char *end;

	memset(n, 0, sizeof(*n));
	if (*s == '[') {
		if ((p = strchr(s, ']')) == NULL)
			return -1;
		len = (size_t)(p - s - 1);
		s++;
		if (p[1] == ':')
			port = p + 2;
		else if (p[1] != '\0')
			return -1;
	} else if ((p = strchr(s, ':')) != NULL && strchr(p + 1, ':') == NULL) {
		len = (size_t)(p - s);
		port = p + 1;
	} else
		len = strlen(s);
	if (len == 0 || len >= sizeof(host))
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, &n->addr.addr4) == 1)
		n->family = AF_INET;
	else if (inet_pton(AF_INET6, host, &n->addr.addr6) == 1)
		n->family = AF_INET6;
	else
		return -1;
	n->udp_port = n->tcp_port = 53;
	if (port != NULL) {
		if (*port < '0' || *port > '9')
			return -1;
		v = strtoul(port, &end, 10);
		if (*end != '\0' || v == 0 || v > 65535)
			return -1;
		n->udp_port = n->tcp_port = (int)v;
	}
	return 0;
}

/* (Re)build the channel from dns->nodes, timeout_ms and tries. */
static int
dns_channel_init(struct dns *dns, char *err, size_t errlen)
{
	struct ares_options opts;
	int rc;

	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = dns_sock_state;
	opts.sock_state_cb_data = dns;
	opts.timeout = (int)dns->timeout_ms;
	opts.tries = (int)dns->tries;
	rc = ares_init_options(&dns->channel, &opts,
	    ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (rc != ARES_SUCCESS) {
		err_printf(err, errlen, "c-ares: %s", ares_strerror(rc));
		return -1;
	}
	if (dns->nodes != NULL &&
	    (rc = ares_set_servers_ports(dns->channel, dns->nodes)) !=
	    ARES_SUCCESS) {
		err_printf(err, errlen, "c-ares: servers: %s", ares_strerror(rc));
		ares_destroy(dns->channel);
		return -1;
	}
	return 0;
}

struct dns *
dns_new(struct ev_loop *loop, char *const *servers, size_t nservers,
    char *err, size_t errlen)
{
	struct ares_addr_port_node *nodes = NULL;
	struct dns *dns;
	int rc;

	if (nservers > 0) {
		nodes = xcalloc(nservers, sizeof(*nodes));
		for (size_t i = 0; i < nservers; i++) {
			if (dns_parse_server(servers[i], &nodes[i]) == -1) {
				err_printf(err, errlen, "invalid DNS server "
				    "'%s' (expected IP, IP:PORT or [IPV6]:PORT)",
				    servers[i]);
				free(nodes);
				return NULL;
			}
			nodes[i].next = i + 1 < nservers ? &nodes[i + 1] : NULL;
		}
	}
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		err_printf(err, errlen, "c-ares: %s", ares_strerror(rc));
		free(nodes);
		return NULL;
	}
	dns = xcalloc(1, sizeof(*dns));
	dns->loop = loop;
	dns->nodes = nodes;
	dns->timeout_ms = 2500;
	dns->tries = 2;
	if (dns_channel_init(dns, err, errlen) == -1) {
		free(nodes);
		free(dns);
		ares_library_cleanup();
		return NULL;
	}
	ev_init(&dns->timer, dns_on_timer);
	dns->timer.data = dns;
	return dns;
}

void
dns_set_timeout(struct dns *dns, unsigned timeout_ms, unsigned tries)
{
	ares_channel old = dns->channel;

	/* c-ares 1.18 has no setter for these: build a new channel. Only
	 * while nothing is pending. */
	assert(dns->queries == NULL);
	dns->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	dns->tries = tries > 0 ? tries : 1;
	if (dns_channel_init(dns, NULL, 0) == 0)
		ares_destroy(old);	/* closes its sockets through dns_sock_state */
	else
		dns->channel = old;
}

/* Answer parsing. */

static void
dns_answer_clear(struct dns_answer *a)
{
	for (size_t i = 0; i < a->nmx; i++)
		free(a->mx[i].host);
	free(a->mx);
	free(a->addrs);
	for (size_t i = 0; i < a->ntxt; i++)
		free(a->txt[i]);
	free(a->txt);
	for (size_t i = 0; i < a->nptr; i++)
		free(a->ptr[i]);
	free(a->ptr);
	memset(a, 0, sizeof(*a));
}

/* Skip a possibly compressed name at *off. 0 or -1. */
static int
dns_skip_name(const uint8_t *buf, int len, int *off)
{
	while (*off < len) {
		uint8_t c = buf[*off];

		if (c == 0) {
			(*off)++;
			return 0;
		}
		if ((c & 0xc0) == 0xc0) {
			if (*off + 2 > len)
				return -1;
			*off += 2;
			return 0;
		}
		if ((c & 0xc0) != 0)
			return -1;
		*off += 1 + c;
	}
	return -1;
}

static uint32_t
dns_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * Read the answer and authority sections of buf: the lowest TTL of the
 * answer's records (ans_ttl_r, UINT32_MAX when none), its MX and PTR
 * records into a (when a is not NULL), and the negative TTL of an authority SOA
 * (neg_ttl_r: min of the SOA's TTL and MINIMUM, RFC 2308 section 5;
 * DNS_NEG_TTL_DEFAULT when there is none). 0, or -1 on a malformed message.
 */
static int
dns_walk(const uint8_t *buf, int len, struct dns_answer *a,
    uint32_t *ans_ttl_r, uint32_t *neg_ttl_r)
{
	unsigned qd, an, ns;
	int off = 12;

	*ans_ttl_r = UINT32_MAX;
	*neg_ttl_r = DNS_NEG_TTL_DEFAULT;
	if (buf == NULL || len < 12)
		return -1;
	qd = (unsigned)buf[4] << 8 | buf[5];
	an = (unsigned)buf[6] << 8 | buf[7];
	ns = (unsigned)buf[8] << 8 | buf[9];
	for (unsigned i = 0; i < qd; i++) {
		if (dns_skip_name(buf, len, &off) == -1 || off + 4 > len)
			return -1;
		off += 4;
	}
	for (unsigned i = 0; i < an + ns; i++) {
		unsigned type, rdlen;
		uint32_t ttl;
		int rd;

		if (dns_skip_name(buf, len, &off) == -1 || off + 10 > len)
			return -1;
		type = (unsigned)buf[off] << 8 | buf[off + 1];
		ttl = dns_get32(buf + off + 4);
		if (ttl > 0x7fffffff)		/* RFC 2181 section 8 */
			ttl = 0;
		rdlen = (unsigned)buf[off + 8] << 8 | buf[off + 9];
		rd = off + 10;
		if (rd + (int)rdlen > len)
			return -1;
		off = rd + (int)rdlen;
		if (i < an) {
			if (ttl < *ans_ttl_r)
				*ans_ttl_r = ttl;
			if (type == T_MX && a != NULL && rdlen >= 3 &&
			    a->nmx < DNS_MAX_RECORDS) {
				char *host;
				long elen;

				if (ares_expand_name(buf + rd + 2, buf, len,
				    &host, &elen) != ARES_SUCCESS)
					return -1;
				a->mx = xrealloc(a->mx,
				    (a->nmx + 1) * sizeof(*a->mx));
				a->mx[a->nmx].pref = (uint16_t)(buf[rd] << 8 |
				    buf[rd + 1]);
				a->mx[a->nmx].host = xstrdup(host);
				ares_free_string(host);
				ascii_lower(a->mx[a->nmx].host);
				/* c-ares gives "" for the root already; be
				 * sure about a trailing dot anyway. */
				{
					char *h = a->mx[a->nmx].host;
					size_t hl = strlen(h);

					if (hl > 0 && h[hl - 1] == '.')
						h[hl - 1] = '\0';
				}
				a->nmx++;
			} else if (type == T_PTR && a != NULL &&
			    a->nptr < DNS_MAX_RECORDS) {
				char *host;
				size_t hl;
				long elen;

				if (ares_expand_name(buf + rd, buf, len,
				    &host, &elen) != ARES_SUCCESS)
					return -1;
				a->ptr = xrealloc(a->ptr,
				    (a->nptr + 1) * sizeof(*a->ptr));
				a->ptr[a->nptr] = xstrdup(host);
				ares_free_string(host);
				ascii_lower(a->ptr[a->nptr]);
				hl = strlen(a->ptr[a->nptr]);
				if (hl > 0 && a->ptr[a->nptr][hl - 1] == '.')
					a->ptr[a->nptr][hl - 1] = '\0';
				a->nptr++;
			}
		} else if (type == T_SOA) {
			int p = rd;
			uint32_t min;

			if (dns_skip_name(buf, len, &p) == -1 ||
			    dns_skip_name(buf, len, &p) == -1 ||
			    p + 20 > rd + (int)rdlen)
				continue;
			min = dns_get32(buf + p + 16);
			*neg_ttl_r = ttl < min ? ttl : min;
		}
	}
	return 0;
}

static void
dns_parse_addrs(const uint8_t *buf, int len, int type, struct dns_answer *a)
{
	struct ares_addrttl a4[DNS_MAX_RECORDS];
	struct ares_addr6ttl a6[DNS_MAX_RECORDS];
	int n = DNS_MAX_RECORDS, rc;

	if (type == T_A)
		rc = ares_parse_a_reply(buf, len, NULL, a4, &n);
	else
		rc = ares_parse_aaaa_reply(buf, len, NULL, a6, &n);
	if (rc != ARES_SUCCESS || n <= 0)
		return;
	a->addrs = xcalloc((size_t)n, sizeof(*a->addrs));
	for (int i = 0; i < n; i++) {
		struct sockaddr_storage *ss = &a->addrs[i];

		if (type == T_A) {
			struct sockaddr_in *sin = (struct sockaddr_in *)ss;

			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, &a4[i].ipaddr,
			    sizeof(sin->sin_addr));
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, &a6[i].ip6addr,
			    sizeof(sin6->sin6_addr));
		}
	}
	a->naddrs = (size_t)n;
}

static void
dns_parse_txt(const uint8_t *buf, int len, struct dns_answer *a)
{
	struct ares_txt_ext *txt = NULL, *t;
	size_t cur = 0;

	if (ares_parse_txt_reply_ext(buf, len, &txt) != ARES_SUCCESS)
		return;
	for (t = txt; t != NULL; t = t->next) {
		char *s;

		if (t->record_start || a->ntxt == 0) {
			if (a->ntxt == DNS_MAX_RECORDS)
				break;
			a->txt = xrealloc(a->txt, (a->ntxt + 1) * sizeof(*a->txt));
			a->txt[a->ntxt++] = xstrdup("");
			cur = 0;
		}
		s = a->txt[a->ntxt - 1];
		s = xrealloc(s, cur + t->length + 1);
		memcpy(s + cur, t->txt, t->length);
		cur += t->length;
		s[cur] = '\0';
		a->txt[a->ntxt - 1] = s;
	}
	ares_free_data(txt);
}

static void
dns_build_answer(int type, int status, const uint8_t *buf, int len,
    struct dns_answer *a)
{
	uint32_t ans_ttl, neg_ttl;
	int wrc;

	memset(a, 0, sizeof(*a));
	switch (status) {
	case ARES_SUCCESS:
		if ((wrc = dns_walk(buf, len, type == T_MX || type == T_PTR ?
		    a : NULL, &ans_ttl, &neg_ttl)) == -1) {
			dns_answer_clear(a);
			a->status = DNS_TEMPFAIL;
			str_lcpy(a->error, "malformed answer", sizeof(a->error));
			return;
		}
		if (type == T_A || type == T_AAAA)
			dns_parse_addrs(buf, len, type, a);
		else if (type == T_TXT)
			dns_parse_txt(buf, len, a);
		if (a->nmx + a->naddrs + a->ntxt + a->nptr == 0) {
			/* Only CNAMEs, or records of another type. */
			a->status = DNS_NODATA;
			a->ttl = neg_ttl;
			str_lcpy(a->error, "no record", sizeof(a->error));
			return;
		}
		a->status = DNS_OK;
		a->ttl = ans_ttl;
		return;
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
		(void)dns_walk(buf, len, NULL, &ans_ttl, &neg_ttl);
		a->status = status == ARES_ENODATA ? DNS_NODATA : DNS_NXDOMAIN;
		a->ttl = neg_ttl;
		str_lcpy(a->error, status == ARES_ENODATA ? "no record" :
		    "NXDOMAIN", sizeof(a->error));
		return;
	case ARES_EBADNAME:
		a->status = DNS_NXDOMAIN;
		str_lcpy(a->error, "invalid name", sizeof(a->error));
		return;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		a->status = DNS_CANCELLED;
		str_lcpy(a->error, "cancelled", sizeof(a->error));
		return;
	case ARES_ESERVFAIL:
		str_lcpy(a->error, "SERVFAIL", sizeof(a->error));
		break;
	case ARES_EREFUSED:
		str_lcpy(a->error, "REFUSED", sizeof(a->error));
		break;
	case ARES_ETIMEOUT:
		str_lcpy(a->error, "timeout", sizeof(a->error));
		break;
	case ARES_ECONNREFUSED:
		str_lcpy(a->error, "refused or unreachable", sizeof(a->error));
		break;
	default:
		str_lcpy(a->error, ares_strerror(status), sizeof(a->error));
		break;
	}
	a->status = DNS_TEMPFAIL;
}

/* Queries. */

static void
dns_query_unlink_free(struct dns_query *q)
{
	struct dns *dns = q->dns;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		dns->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	ev_timer_stop(dns->loop, &q->defer);
	free(q);
}

static void
dns_deliver(struct dns_query *q, int status, const uint8_t *buf, int len)
{
	struct dns_answer a;
	dns_cb *cb = q->cb;
	void *arg = q->arg;
	int type = q->type;

	/* The handle dies before the callback runs, so that a callback may
	 * start new queries (or free what owned this one). */
	dns_query_unlink_free(q);
	if (cb == NULL)
		return;
	dns_build_answer(type, status, buf, len, &a);
	cb(&a, arg);
	dns_answer_clear(&a);
}

static void
dns_ares_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;

	(void)timeouts;
	q->in_ares = false;
	if (q->starting) {
		/* Answered inside ares_query (bad name, no server): deliver
		 * from the loop, as promised. */
		q->early_status = status;
		return;
	}
	dns_deliver(q, status, abuf, alen);
}

static void
dns_on_defer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dns_query *q = w->data;

	(void)loop;
	(void)revents;
	dns_deliver(q, q->early_status, NULL, 0);
}

static struct dns_query *
dns_start(struct dns *dns, const char *name, int type, dns_cb *cb, void *arg)
{
	struct dns_query *q;

	assert(!dns->closing);
	q = xcalloc(1, sizeof(*q));
	q->dns = dns;
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	ev_timer_init(&q->defer, dns_on_defer, 0., 0.);
	q->defer.data = q;
	q->next = dns->queries;
	if (q->next != NULL)
		q->next->prev = q;
	dns->queries = q;

	q->in_ares = true;
	q->starting = true;
	ares_query(dns->channel, name, C_IN, type, dns_ares_cb, q);
	q->starting = false;
	if (!q->in_ares)
		ev_timer_start(dns->loop, &q->defer);
	dns_rearm(dns);
	return q;
}

struct dns_query *
dns_query_mx(struct dns *dns, const char *name, dns_cb *cb, void *arg)
{
	return dns_start(dns, name, T_MX, cb, arg);
}

struct dns_query *
dns_query_addr(struct dns *dns, const char *name, int family, dns_cb *cb,
    void *arg)
{
	assert(family == AF_INET || family == AF_INET6);
	return dns_start(dns, name, family == AF_INET ? T_A : T_AAAA, cb, arg);
}

struct dns_query *
dns_query_txt(struct dns *dns, const char *name, dns_cb *cb, void *arg)
{
	return dns_start(dns, name, T_TXT, cb, arg);
}

struct dns_query *
dns_query_ptr(struct dns *dns, const struct sockaddr *addr, dns_cb *cb,
    void *arg)
{
	static const char hex[] = "0123456789abcdef";
	char name[80];
	size_t off = 0;

	if (addr->sa_family == AF_INET) {
		const uint8_t *b = (const uint8_t *)
		    &((const struct sockaddr_in *)(const void *)addr)->sin_addr;

		snprintf(name, sizeof(name), "%u.%u.%u.%u.in-addr.arpa",
		    b[3], b[2], b[1], b[0]);
	} else {
		const uint8_t *b = (const uint8_t *)
		    &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr;

		assert(addr->sa_family == AF_INET6);
		for (int i = 15; i >= 0; i--) {
			name[off++] = hex[b[i] & 0x0f];
			name[off++] = '.';
			name[off++] = hex[b[i] >> 4];
			name[off++] = '.';
		}
		memcpy(name + off, "ip6.arpa", sizeof("ip6.arpa"));
	}
	return dns_start(dns, name, T_PTR, cb, arg);
}

void
dns_cancel(struct dns_query **qp)
{
	struct dns_query *q = *qp;

	if (q == NULL)
		return;
	*qp = NULL;
	if (q->in_ares)
		q->cb = NULL;	/* freed when c-ares lets go of it */
	else
		dns_query_unlink_free(q);
}

void
dns_free(struct dns **dnsp)
{
	struct dns *dns = *dnsp;
	struct dns_query *q;

	if (dns == NULL)
		return;
	/* Not from a callback inside ares_process_fd: c-ares would return
	 * into a destroyed channel. */
	assert(dns->depth == 0);
	*dnsp = NULL;
	dns->closing = true;
	ev_timer_stop(dns->loop, &dns->timer);
	/* Calls every pending query back with ARES_EDESTRUCTION, and closes
	 * its sockets through dns_sock_state. */
	ares_destroy(dns->channel);
	/* Answers that were waiting for the loop. */
	while ((q = dns->queries) != NULL)
		dns_deliver(q, ARES_EDESTRUCTION, NULL, 0);
	while (dns->socks != NULL) {
		struct dns_sock *s = dns->socks;

		dns->socks = s->next;
		ev_io_stop(dns->loop, &s->io);
		free(s);
	}
	free(dns->nodes);
	free(dns);
	ares_library_cleanup();
}
