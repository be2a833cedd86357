/*
 * listener: listening sockets, accept, and connection caps.
 *
 * Per-IP counts live in a small chained hash keyed by (service, address);
 * entries vanish when their count drops to zero, so the table holds only
 * addresses with open connections.
 */
#include "core/listener.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/net.h"
#include "core/util.h"

#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BUDGET	64	/* per callback, so one busy port cannot starve others */
#define IPTAB_SIZE	1024
#define EMFILE_PAUSE	0.1	/* seconds to stop accepting when out of fds */

struct ipcount {
	struct ipcount			*next;
	const struct listen_service	*svc;
	uint8_t				 addr[16];
	unsigned			 n;
};

struct lsock {
	ev_io			 io;
	struct listeners	*ls;
	struct listen_service	*svc;
	char			 addr[NET_ADDRSTRLEN];
	struct lsock		*next;
};

/* One open connection, on the list used for shutdown. */
struct lconn {
	struct listeners *ls;
	struct conn	*conn;
	struct lconn	*prev, *next;
	struct ipcount	*ip;
};

struct listeners {
	struct ev_loop	*loop;
	struct lsock	*socks;
	struct lconn	*conns;
	size_t		 nconns;
	unsigned	 max_total;
	unsigned	 max_per_ip;
	struct tls_ctx	*tls;
	ev_timer	 resume;	/* restarts accepting after EMFILE */
	struct ipcount	*iptab[IPTAB_SIZE];
	ev_tstamp	 refused_at;	/* last event=refused line */
	unsigned	 refused_quiet;	/* refusals not logged since */
};

static void
ip_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			memcpy(key + 12, &s6->sin6_addr.s6_addr[12], 4);
		else
			memcpy(key, &s6->sin6_addr, 16);
	} else {
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	}
}

static unsigned
ip_hash(const struct listen_service *svc, const uint8_t key[16])
{
	uint32_t h = 2166136261u ^ (uint32_t)(uintptr_t)svc;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % IPTAB_SIZE;
}

static struct ipcount *
ip_get(struct listeners *ls, const struct listen_service *svc,
    const struct sockaddr *sa)
{
	uint8_t key[16];
	unsigned h;
	struct ipcount *e;

	ip_key(sa, key);
	h = ip_hash(svc, key);
	for (e = ls->iptab[h]; e != NULL; e = e->next)
		if (e->svc == svc && memcmp(e->addr, key, 16) == 0)
			return e;
	e = xcalloc(1, sizeof(*e));
	e->svc = svc;
	memcpy(e->addr, key, 16);
	e->next = ls->iptab[h];
	ls->iptab[h] = e;
	return e;
}

/* Drop one connection from e; the entry goes when none is left. */
static void
ip_put(struct listeners *ls, struct ipcount *e)
{
	struct ipcount **pp;

	if (e->n > 0 && --e->n > 0)
		return;
	for (pp = &ls->iptab[ip_hash(e->svc, e->addr)]; *pp != e; pp = &(*pp)->next)
		;
	*pp = e->next;
	free(e);
}

static void
on_conn_closed(struct conn *c, void *arg)
{
	struct lconn *lc = arg;
	struct listeners *ls = lc->ls;

	(void)c;
	if (lc->prev != NULL)
		lc->prev->next = lc->next;
	else
		ls->conns = lc->next;
	if (lc->next != NULL)
		lc->next->prev = lc->prev;
	ls->nconns--;
	ip_put(ls, lc->ip);
	free(lc);
}

/* Refuse a connection over a cap: busy reply (plaintext only), close. */
static void
refuse(struct lsock *s, int fd, const char *ip, bool per_ip)
{
	struct listeners *ls = s->ls;
	const char *reply = NULL;

	if (!s->svc->implicit_tls && s->svc->busy != NULL)
		reply = s->svc->busy(s->svc->arg, per_ip);
	if (reply != NULL)
		(void)send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);
	/* A flood must not flood the log too: at most a line a second, which
	 * counts the refusals it stood for. */
	if (ev_now(ls->loop) - ls->refused_at >= 1.0) {
		log_info(s->svc->name, 0, ip, "event=refused reason=%s "
		    "unlogged_before=%u", per_ip ? "per-ip-limit" :
		    "connection-limit", ls->refused_quiet);
		ls->refused_at = ev_now(ls->loop);
		ls->refused_quiet = 0;
	} else
		ls->refused_quiet++;
	/* Orderly FIN after the reply; the client has sent nothing yet. */
	shutdown(fd, SHUT_WR);
	close(fd);
}

static void
accept_one(struct lsock *s, int fd, const struct sockaddr *peer)
{
	struct listeners *ls = s->ls;
	struct listen_service *svc = s->svc;
	struct conn_opts o;
	struct ipcount *ipc;
	struct lconn *lc;
	char ip[NET_IPSTRLEN];
	struct conn *c;
	int one = 1;

	net_ip_str(peer, ip);
	if (ls->nconns >= ls->max_total) {
		refuse(s, fd, ip, false);
		return;
	}
	ipc = ip_get(ls, svc, peer);
	if (ipc->n >= ls->max_per_ip) {
		refuse(s, fd, ip, true);
		return;
	}
	ipc->n++;
	/* Replies are written whole; Nagle would only hold the last segment
	 * of a TLS flight back for the peer's delayed ACK (~40 ms). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&o, 0, sizeof(o));
	o.line_max = svc->line_max;
	o.out_max = svc->out_max;
	o.timeout_secs = svc->timeout_secs;
	o.tls = svc->implicit_tls ? ls->tls : NULL;
	c = conn_new(ls->loop, fd, peer, svc->name, &o);
	lc = xcalloc(1, sizeof(*lc));
	lc->ls = ls;
	lc->conn = c;
	lc->ip = ipc;
	lc->next = ls->conns;
	if (ls->conns != NULL)
		ls->conns->prev = lc;
	ls->conns = lc;
	ls->nconns++;
	conn_set_close_hook(c, on_conn_closed, lc);
	log_debug(svc->name, conn_id(c), ip, "event=connect");
	svc->open(c, svc->arg);
}

static void
resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct listeners *ls = w->data;

	(void)revents;
	for (struct lsock *s = ls->socks; s != NULL; s = s->next)
		ev_io_start(loop, &s->io);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct lsock *s = w->data;

	(void)revents;
	for (int i = 0; i < ACCEPT_BUDGET; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(w->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Stop every listener for a moment instead of
				 * spinning on a socket we cannot accept. */
				log_warn(s->svc->name, 0, NULL, "event=accept-error err=%s",
				    log_q(strerror(errno)));
				for (struct lsock *t = s->ls->socks; t != NULL; t = t->next)
					ev_io_stop(loop, &t->io);
				ev_timer_set(&s->ls->resume, EMFILE_PAUSE, 0);
				ev_timer_start(loop, &s->ls->resume);
			}
			return;	/* EAGAIN, ECONNABORTED, EINTR: try next time */
		}
		accept_one(s, fd, (struct sockaddr *)&ss);
	}
}

struct listeners *
listeners_new(struct ev_loop *loop)
{
	struct listeners *ls = xcalloc(1, sizeof(*ls));

	ls->loop = loop;
	ls->max_total = 1000;
	ls->max_per_ip = 20;
	ev_init(&ls->resume, resume_cb);
	ls->resume.data = ls;
	return ls;
}

int
listeners_add(struct listeners *ls, struct listen_service *svc, const char *addr,
    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct lsock *s;
	int fd, one = 1;

	if (net_parse_addr(addr, &ss, &sl) == -1) {
		snprintf(err, errlen, "listen.%s: bad address \"%s\"", svc->name, addr);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "listen.%s %s: socket: %s", svc->name, addr, strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::]:25 and 0.0.0.0:25 are configured as two listeners. */
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1 || listen(fd, 511) == -1) {
		snprintf(err, errlen, "listen.%s %s: %s", svc->name, addr, strerror(errno));
		close(fd);
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->ls = ls;
	s->svc = svc;
	net_addr_str((struct sockaddr *)&ss, s->addr);
	ev_io_init(&s->io, accept_cb, fd, EV_READ);
	s->io.data = s;
	ev_io_start(ls->loop, &s->io);
	s->next = ls->socks;
	ls->socks = s;
	log_info(svc->name, 0, NULL, "event=listening addr=%s", s->addr);
	return 0;
}

void
listeners_set_limits(struct listeners *ls, unsigned max_total, unsigned max_per_ip)
{
	ls->max_total = max_total;
	ls->max_per_ip = max_per_ip;
}

void
listeners_set_tls(struct listeners *ls, struct tls_ctx *tls)
{
	ls->tls = tls;
}

void
listeners_stop(struct listeners *ls)
{
	struct lsock *s;

	ev_timer_stop(ls->loop, &ls->resume);
	while ((s = ls->socks) != NULL) {
		ls->socks = s->next;
		ev_io_stop(ls->loop, &s->io);
		close(s->io.fd);
		free(s);
	}
}

size_t
listeners_nconns(const struct listeners *ls)
{
	return ls->nconns;
}

void
listeners_foreach(struct listeners *ls, void (*fn)(struct conn *, void *), void *arg)
{
	struct lconn *lc, *next;

	for (lc = ls->conns; lc != NULL; lc = next) {
		struct conn *c = lc->conn;

		next = lc->next;	/* fn may close c and free lc */
		conn_ref(c);
		fn(c, arg);
		conn_unref(&c);
	}
}

static void
abort_conn(struct conn *c, void *arg)
{
	(void)arg;
	conn_close(c, CONN_CLOSE_ABORT, "server exit");
}

void
listeners_free(struct listeners **lsp)
{
	struct listeners *ls = *lsp;

	if (ls == NULL)
		return;
	listeners_stop(ls);
	listeners_foreach(ls, abort_conn, NULL);
	free(ls);
	*lsp = NULL;
}
