/*
 * Unit tests: relay/client, the outbound SMTP client, on a real libev loop
 * against scripted SMTP servers on 127.0.0.1 (one thread each, blocking
 * sockets, TLS through core/tls.h with a throwaway self-signed cert).
 * Each server records the commands and message bytes it received.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/certgen.h"
#include "core/log.h"
#include "core/tls.h"
#include "relay/client.h"

#define MAXRCPT		8
#define BODY_MAX	(1024 * 1024)

static char	 tmpdir[64];
static char	 cert_path[128];
static char	 key_path[128];
static struct tls_ctx *srv_tls;		/* the scripted servers' */
static struct tls_ctx *opp_tls;		/* client: opportunistic, system store */
static struct tls_ctx *verify_tls;	/* client: verifying, trusts the cert */
static struct tls_ctx *verify_sys_tls;	/* client: verifying, system store */
static char	*bodies[64];		/* the servers' records, freed at the end */
static size_t	 nbodies;

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- a scripted SMTP server ---- */

struct srv {
	/* Script; NULL replies take the defaults. */
	const char	*greeting;	/* "220 ..."; NULL: never speak */
	const char	*ehlo;		/* whole reply, CRLF lines */
	const char	*ehlo_tls;	/* after TLS; NULL: ehlo */
	const char	*mail;
	const char	*rcpt[MAXRCPT];	/* in order */
	const char	*data;
	const char	*dot;		/* "": never answer the dot */
	bool		 implicit_tls;
	bool		 starttls_break;	/* first session: 220, then hang up */
	int		 sessions;	/* connections to serve; 0 means 1 */

	int		 lfd;
	unsigned short	 port;
	pthread_t	 th;

	/* Recorded. */
	char		 cmds[8192];	/* command lines, each ended by "\n" */
	size_t		 cmdslen;
	char		*body;		/* DATA lines as sent (stuffed), CRLF */
	size_t		 bodylen;
	int		 mail_chunk;	/* read() number the MAIL line came in */
	int		 rcpt_chunk[MAXRCPT];
	int		 nrcpt;
	int		 served;
	bool		 saw_tls;
};

struct sconn {
	int		 fd;
	struct ssl_st	*ssl;
	char		 buf[16384];
	size_t		 len;
	int		 chunks;
};

static int
sc_fill(struct sconn *sc)
{
	size_t got = 0;

	if (sc->len == sizeof(sc->buf))
		return -1;
	if (sc->ssl != NULL) {
		if (tls_read(sc->ssl, sc->buf + sc->len, sizeof(sc->buf) - sc->len,
		    &got) != TLS_OK)
			return -1;
	} else {
		ssize_t n = read(sc->fd, sc->buf + sc->len, sizeof(sc->buf) - sc->len);

		if (n <= 0)
			return -1;
		got = (size_t)n;
	}
	sc->len += got;
	sc->chunks++;
	return 0;
}

/* One line without its CRLF; -1 at EOF. */
static int
sc_line(struct sconn *sc, char *line, size_t max)
{
	char *lf;

	while ((lf = memchr(sc->buf, '\n', sc->len)) == NULL) {
		if (sc_fill(sc) == -1)
			return -1;
	}
	size_t n = (size_t)(lf - sc->buf) + 1;
	size_t l = n >= 2 && lf[-1] == '\r' ? n - 2 : n - 1;

	if (l >= max)
		l = max - 1;
	memcpy(line, sc->buf, l);
	line[l] = '\0';
	memmove(sc->buf, sc->buf + n, sc->len - n);
	sc->len -= n;
	return (int)l;
}

static void
sc_send(struct sconn *sc, const char *s)
{
	size_t n = strlen(s), put;

	if (sc->ssl != NULL) {
		(void)tls_write(sc->ssl, s, n, &put);
		return;
	}
	while (n > 0) {
		ssize_t w = send(sc->fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* One reply in one write: a second small write would wait for the
 * client's delayed ACK (Nagle). */
static void
sc_reply(struct sconn *sc, const char *s)
{
	char buf[2048];

	snprintf(buf, sizeof(buf), "%s%s", s,
	    s[strlen(s) - 1] != '\n' ? "\r\n" : "");
	sc_send(sc, buf);
}

static bool
sc_tls(struct srv *s, struct sconn *sc)
{
	sc->ssl = tls_accept_new(srv_tls, sc->fd);
	sc->len = 0;
	if (tls_handshake(sc->ssl) != TLS_OK)
		return false;
	s->saw_tls = true;
	return true;
}

static bool
verb(const char *line, const char *v)
{
	return strncasecmp(line, v, strlen(v)) == 0;
}

static void
srv_session(struct srv *s, int fd, int session)
{
	struct sconn sc = { .fd = fd };
	char line[1024];
	int rcpt = 0;

	if (s->implicit_tls && !sc_tls(s, &sc))
		goto out;
	if (s->greeting == NULL) {
		while (sc_line(&sc, line, sizeof(line)) >= 0)
			;
		goto out;
	}
	sc_reply(&sc, s->greeting);
	while (sc_line(&sc, line, sizeof(line)) >= 0) {
		size_t n = strlen(line);

		if (s->cmdslen + n + 2 < sizeof(s->cmds)) {
			memcpy(s->cmds + s->cmdslen, line, n);
			s->cmdslen += n;
			s->cmds[s->cmdslen++] = '\n';
			s->cmds[s->cmdslen] = '\0';
		}
		if (verb(line, "EHLO")) {
			sc_reply(&sc, sc.ssl != NULL && s->ehlo_tls != NULL ?
			    s->ehlo_tls : s->ehlo != NULL ? s->ehlo : "250 hi");
		} else if (verb(line, "HELO")) {
			sc_reply(&sc, "250 hello");
		} else if (verb(line, "STARTTLS")) {
			sc_reply(&sc, "220 2.0.0 go ahead");
			if (s->starttls_break && session == 0)
				goto out;
			if (!sc_tls(s, &sc))
				goto out;
		} else if (verb(line, "AUTH LOGIN")) {
			sc_reply(&sc, "334 VXNlcm5hbWU6");
		} else if (verb(line, "AUTH")) {
			sc_reply(&sc, "235 2.7.0 ok");
		} else if (strstr(s->cmds, "AUTH LOGIN") != NULL &&
		    strstr(s->cmds, "MAIL") == NULL && !verb(line, "QUIT") &&
		    strchr(line, ' ') == NULL) {
			/* AUTH LOGIN's username, then password. */
			sc_reply(&sc, strcmp(line, "dXNlcg==") == 0 ?
			    "334 UGFzc3dvcmQ6" : "235 2.7.0 ok");
		} else if (verb(line, "MAIL")) {
			s->mail_chunk = sc.chunks;
			sc_reply(&sc, s->mail != NULL ? s->mail : "250 2.1.0 ok");
		} else if (verb(line, "RCPT")) {
			if (rcpt < MAXRCPT)
				s->rcpt_chunk[rcpt] = sc.chunks;
			s->nrcpt++;
			sc_reply(&sc, rcpt < MAXRCPT && s->rcpt[rcpt] != NULL ?
			    s->rcpt[rcpt] : "250 2.1.5 ok");
			rcpt++;
		} else if (verb(line, "DATA")) {
			const char *r = s->data != NULL ? s->data : "354 go";

			sc_reply(&sc, r);
			if (r[0] != '3')
				continue;
			while (sc_line(&sc, line, sizeof(line)) >= 0 &&
			    strcmp(line, ".") != 0) {
				n = strlen(line);
				if (s->bodylen + n + 3 < BODY_MAX) {
					memcpy(s->body + s->bodylen, line, n);
					memcpy(s->body + s->bodylen + n, "\r\n", 3);
					s->bodylen += n + 2;
				}
			}
			if (s->dot != NULL && *s->dot == '\0') {
				while (sc_line(&sc, line, sizeof(line)) >= 0)
					;	/* stuck: wait for the client to go */
				break;
			}
			sc_reply(&sc, s->dot != NULL ? s->dot : "250 2.0.0 queued");
		} else if (verb(line, "QUIT")) {
			sc_reply(&sc, "221 2.0.0 bye");
			break;
		} else if (verb(line, "RSET") || verb(line, "NOOP")) {
			sc_reply(&sc, "250 ok");
		} else {
			sc_reply(&sc, "500 what");
		}
	}
out:
	if (sc.ssl != NULL) {
		tls_shutdown(sc.ssl);
		tls_free(&sc.ssl);
	}
	close(fd);
}

static void *
srv_main(void *arg)
{
	struct srv *s = arg;
	int sessions = s->sessions > 0 ? s->sessions : 1, one = 1;

	for (int i = 0; i < sessions; i++) {
		struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
		int fd;

		if (poll(&pfd, 1, 5000) != 1)
			break;
		if ((fd = accept(s->lfd, NULL, NULL)) == -1)
			break;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		s->served++;
		srv_session(s, fd, i);
	}
	return NULL;
}

static int
listen_any(unsigned short *port_r)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port_r = ntohs(sin.sin_port);
	return fd;
}

static void
srv_start(struct srv *s)
{
	s->lfd = listen_any(&s->port);
	s->body = calloc(1, BODY_MAX);
	assert_true(nbodies < NELEMS(bodies));
	bodies[nbodies++] = s->body;
	s->bodylen = 0;
	s->cmdslen = 0;
	s->cmds[0] = '\0';
	s->served = 0;
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void
srv_join(struct srv *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
	/* What was received stays for the checks; freed at the end. */
}

/* A port on 127.0.0.1 where nobody listens: connections are refused. */
static unsigned short
dead_port(void)
{
	unsigned short port;
	int fd = listen_any(&port);

	close(fd);
	return port;
}

/* ---- the client side ---- */

struct outcome {
	bool			 called;
	size_t			 n;
	enum smtp_rcpt_status	 status[MAXRCPT];
	int			 code[MAXRCPT];
	char			 enhanced[MAXRCPT][16];
	char			 text[MAXRCPT][1200];
	char			 host[MAXRCPT][64];
	char			 ip[MAXRCPT][64];
	bool			 tls[MAXRCPT];
	bool			 verified[MAXRCPT];
	char			 version[MAXRCPT][16];
};

static void
on_done(const struct smtp_client_result *res, void *arg)
{
	struct outcome *o = arg;

	assert_false(o->called);
	o->called = true;
	o->n = res->nrcpts;
	for (size_t i = 0; i < res->nrcpts && i < MAXRCPT; i++) {
		const struct smtp_rcpt_result *r = &res->rcpts[i];

		o->status[i] = r->status;
		o->code[i] = r->code;
		snprintf(o->enhanced[i], sizeof(o->enhanced[i]), "%s", r->enhanced);
		snprintf(o->text[i], sizeof(o->text[i]), "%s", r->text);
		snprintf(o->host[i], sizeof(o->host[i]), "%s", r->host);
		snprintf(o->ip[i], sizeof(o->ip[i]), "%s", r->ip);
		o->tls[i] = r->tls;
		o->verified[i] = r->tls_verified;
		snprintf(o->version[i], sizeof(o->version[i]), "%s", r->tls_version);
	}
}

static struct sockaddr_storage
addr_of(unsigned short port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons(port);
	return ss;
}

static const struct smtp_client_timeouts short_timeouts = {
	.connect = 2, .greeting = 2, .command = 2, .mail = 2, .rcpt = 2,
	.data_init = 2, .data_block = 2, .data_term = 2,
};

static const char *rcpts2[] = { "a@example.org", "b@example.org" };
static const char msg[] = "Subject: t\r\n\r\nhello\r\n";

static void
job_init(struct smtp_client_job *job, const struct smtp_client_host *hosts,
    size_t nhosts)
{
	memset(job, 0, sizeof(*job));
	job->id = "TESTID";
	job->hosts = hosts;
	job->nhosts = nhosts;
	job->port = 0;	/* each address's own */
	job->helo = "mx.test.example";
	job->tls_policy = SMTP_TLS_OPPORTUNISTIC;
	job->tls = opp_tls;
	job->sender = "s@test.example";
	job->rcpts = rcpts2;
	job->nrcpts = 2;
	job->data = msg;
	job->len = sizeof(msg) - 1;
	job->timeouts = &short_timeouts;
}

/* Run the client to its result, then until its connections are gone. */
static void
run(const struct smtp_client_job *job, struct outcome *o)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	ev_tstamp end = ev_time() + 8;

	memset(o, 0, sizeof(*o));
	(void)smtp_client_start(loop, job, on_done, o);
	assert_false(o->called);	/* never from inside start */
	while (!o->called && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	assert_true(o->called);
	ev_run(loop, 0);	/* the QUIT flushed, the socket closed */
	ev_loop_destroy(loop);
}

/* ---- tests ---- */

static void
test_pipelined_delivery(void **state)
{
	struct srv s = {
		.greeting = "220 sink ESMTP",
		.ehlo = "250-sink\r\n250-PIPELINING\r\n250-SIZE 100000\r\n"
		    "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n",
	};
	struct sockaddr_storage a;
	struct smtp_client_host h = { "sink.example", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	run(&job, &o);
	srv_join(&s);
	assert_int_equal(o.n, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(o.status[i], SMTP_RCPT_DELIVERED);
		assert_int_equal(o.code[i], 250);
		assert_string_equal(o.enhanced[i], "2.0.0");
		assert_string_equal(o.text[i], "250 2.0.0 queued");
		assert_string_equal(o.host[i], "sink.example");
		assert_string_equal(o.ip[i], "127.0.0.1");
		assert_false(o.tls[i]);
		assert_string_equal(o.version[i], "");
	}
	assert_string_equal(s.cmds, "EHLO mx.test.example\n"
	    "MAIL FROM:<s@test.example> SIZE=21\n"
	    "RCPT TO:<a@example.org>\nRCPT TO:<b@example.org>\n"
	    "DATA\nQUIT\n");
	/* MAIL and both RCPTs arrived in one read: one write (RFC 2920). */
	assert_int_equal(s.rcpt_chunk[0], s.mail_chunk);
	assert_int_equal(s.rcpt_chunk[1], s.mail_chunk);
	assert_int_equal(s.bodylen, sizeof(msg) - 1);
	assert_memory_equal(s.body, msg, sizeof(msg) - 1);
}

static void
test_helo_fallback_no_pipelining(void **state)
{
	struct srv s = {
		.greeting = "220 old",
		.ehlo = "502 5.5.1 what is EHLO",
		.rcpt = { "250 ok", "550 5.1.1 <b@example.org>: no such user" },
	};
	struct sockaddr_storage a;
	struct smtp_client_host h = { "old.example", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	run(&job, &o);
	srv_join(&s);
	assert_string_equal(s.cmds, "EHLO mx.test.example\nHELO mx.test.example\n"
	    "MAIL FROM:<s@test.example>\nRCPT TO:<a@example.org>\n"
	    "RCPT TO:<b@example.org>\nDATA\nQUIT\n");
	/* Without PIPELINING each RCPT waited for the previous reply. */
	assert_true(s.rcpt_chunk[0] > s.mail_chunk);
	assert_true(s.rcpt_chunk[1] > s.rcpt_chunk[0]);
	assert_int_equal(o.status[0], SMTP_RCPT_DELIVERED);
	assert_int_equal(o.status[1], SMTP_RCPT_PERMFAIL);
	assert_int_equal(o.code[1], 550);
	assert_string_equal(o.enhanced[1], "5.1.1");
	assert_string_equal(o.text[1], "550 5.1.1 <b@example.org>: no such user");
}

static void
test_refused_then_second_address(void **state)
{
	struct srv s = { .greeting = "220 second" };
	struct sockaddr_storage a[2];
	struct smtp_client_host h = { "mx.example", a, 2 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a[0] = addr_of(dead_port());
	a[1] = addr_of(s.port);
	job_init(&job, &h, 1);
	run(&job, &o);
	srv_join(&s);
	assert_int_equal(s.served, 1);
	assert_int_equal(o.status[0], SMTP_RCPT_DELIVERED);
	assert_int_equal(o.status[1], SMTP_RCPT_DELIVERED);
}

static void
test_4xx_greeting_next_host(void **state)
{
	struct srv busy = { .greeting = "421 4.3.2 busy, try later" };
	struct srv ok = { .greeting = "220 ok", .ehlo = "250-ok\r\n250 PIPELINING" };
	struct sockaddr_storage a1, a2;
	struct smtp_client_host h[2] = { { "mx1.example", &a1, 1 },
	    { "mx2.example", &a2, 1 } };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&busy);
	srv_start(&ok);
	a1 = addr_of(busy.port);
	a2 = addr_of(ok.port);
	job_init(&job, h, 2);
	run(&job, &o);
	srv_join(&busy);
	srv_join(&ok);
	assert_string_equal(busy.cmds, "QUIT\n");
	assert_int_equal(o.status[0], SMTP_RCPT_DELIVERED);
	assert_int_equal(o.status[1], SMTP_RCPT_DELIVERED);
	assert_string_equal(o.host[0], "mx2.example");
}

static void
test_5xx_greeting_everywhere_is_permanent(void **state)
{
	struct srv s = { .greeting = "554 5.7.1 no service here", .sessions = 2 };
	struct sockaddr_storage a;
	struct smtp_client_host h[2] = { { "mx1.example", &a, 1 },
	    { "mx2.example", &a, 1 } };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, h, 2);
	run(&job, &o);
	srv_join(&s);
	assert_int_equal(s.served, 2);	/* the 5xx moved on to the next */
	assert_int_equal(o.status[0], SMTP_RCPT_PERMFAIL);
	assert_int_equal(o.code[0], 554);
	assert_string_equal(o.enhanced[0], "5.7.1");
	assert_non_null(strstr(o.text[0], "no service here"));
}

static void
test_all_refused_tempfail(void **state)
{
	struct sockaddr_storage a[2];
	struct smtp_client_host h = { "mx.example", a, 2 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	a[0] = addr_of(dead_port());
	a[1] = addr_of(dead_port());
	job_init(&job, &h, 1);
	run(&job, &o);
	assert_int_equal(o.status[0], SMTP_RCPT_TEMPFAIL);
	assert_int_equal(o.status[1], SMTP_RCPT_TEMPFAIL);
	assert_int_equal(o.code[0], 0);
	assert_non_null(strstr(o.text[0], "refused"));
	assert_string_equal(o.ip[0], "127.0.0.1");
}

static void
test_per_recipient_results(void **state)
{
	struct srv s = {
		.greeting = "220 x",
		.ehlo = "250-x\r\n250 PIPELINING",
		.rcpt = { "550-5.1.1 first line\r\n550 5.1.1 unknown user",
		    "250 2.1.5 fine" },
	};
	struct sockaddr_storage a;
	struct smtp_client_host h = { "x.example", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	run(&job, &o);
	srv_join(&s);
	assert_int_equal(o.status[0], SMTP_RCPT_PERMFAIL);
	assert_int_equal(o.code[0], 550);
	assert_string_equal(o.enhanced[0], "5.1.1");
	assert_string_equal(o.text[0], "550 5.1.1 first line 5.1.1 unknown user");
	assert_int_equal(o.status[1], SMTP_RCPT_DELIVERED);
	assert_non_null(strstr(s.cmds, "DATA\n"));
}

static void
test_no_rcpt_accepted_no_data(void **state)
{
	struct srv s = {
		.greeting = "220 x",
		.ehlo = "250-x\r\n250 PIPELINING",
		.rcpt = { "450 4.2.1 mailbox busy", "550 5.1.1 unknown" },
	};
	struct sockaddr_storage a;
	struct smtp_client_host h = { "x.example", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	run(&job, &o);
	srv_join(&s);
	assert_null(strstr(s.cmds, "DATA"));
	assert_int_equal(o.status[0], SMTP_RCPT_TEMPFAIL);
	assert_string_equal(o.enhanced[0], "4.2.1");
	assert_int_equal(o.status[1], SMTP_RCPT_PERMFAIL);
}

static void
test_data_451_tempfails_all(void **state)
{
	struct srv s = {
		.greeting = "220 x",
		.ehlo = "250-x\r\n250 PIPELINING",
		.rcpt = { "250 ok", "250 ok" },
		.dot = "451 4.3.0 local error",
	};
	struct sockaddr_storage a;
	struct smtp_client_host h = { "x.example", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	run(&job, &o);
	srv_join(&s);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(o.status[i], SMTP_RCPT_TEMPFAIL);
		assert_int_equal(o.code[i], 451);
		assert_string_equal(o.text[i], "451 4.3.0 local error");
	}
}

static void
test_data_command_refused(void **state)
{
	struct srv s = {
		.greeting = "220 x",
		.rcpt = { "250 ok", "550 5.1.1 nope" },
		.data = "554 5.6.0 no thanks",
	};
	struct sockaddr_storage a;
	struct smtp_client_host h = { "x.example", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	run(&job, &o);
	srv_join(&s);
	assert_int_equal(o.status[0], SMTP_RCPT_PERMFAIL);
	assert_string_equal(o.text[0], "554 5.6.0 no thanks");
	assert_string_equal(o.text[1], "550 5.1.1 nope");	/* its own */
}

static void
test_size_too_small(void **state)
{
	struct srv s = {
		.greeting = "220 x",
		.ehlo = "250-x\r\n250-PIPELINING\r\n250 SIZE 10",
	};
	struct sockaddr_storage a;
	struct smtp_client_host h = { "x.example", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	run(&job, &o);
	srv_join(&s);
	assert_string_equal(s.cmds, "EHLO mx.test.example\nQUIT\n");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(o.status[i], SMTP_RCPT_PERMFAIL);
		assert_string_equal(o.enhanced[i], "5.3.4");
		assert_non_null(strstr(o.text[i], "exceeds"));
	}
}

static void
test_smtputf8_needed_not_offered(void **state)
{
	struct srv s = { .greeting = "220 x", .ehlo = "250-x\r\n250 PIPELINING" };
	struct srv u = { .greeting = "220 x", .ehlo = "250-x\r\n250 SMTPUTF8" };
	struct sockaddr_storage a;
	struct smtp_client_host h = { "x.example", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	job.need_smtputf8 = true;
	run(&job, &o);
	srv_join(&s);
	assert_null(strstr(s.cmds, "MAIL"));
	assert_int_equal(o.status[0], SMTP_RCPT_PERMFAIL);
	assert_string_equal(o.enhanced[0], "5.6.7");

	srv_start(&u);
	a = addr_of(u.port);
	run(&job, &o);
	srv_join(&u);
	assert_non_null(strstr(u.cmds, "MAIL FROM:<s@test.example> SMTPUTF8\n"));
	assert_int_equal(o.status[0], SMTP_RCPT_DELIVERED);
}

static void
test_dot_stuffing(void **state)
{
	/* Lines starting with '.', a lone ".", and no final CRLF. */
	static const char m[] = ".first\r\nmid\r\n.\r\n..two\r\nlast";
	static const char want[] = "..first\r\nmid\r\n..\r\n...two\r\nlast\r\n";
	struct srv s = { .greeting = "220 x" };
	struct sockaddr_storage a;
	struct smtp_client_host h = { "x.example", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	job.data = m;
	job.len = sizeof(m) - 1;
	run(&job, &o);
	srv_join(&s);
	assert_int_equal(o.status[0], SMTP_RCPT_DELIVERED);
	/* The server's record keeps the stuffing: what went over the wire. */
	assert_int_equal(s.bodylen, sizeof(want) - 1);
	assert_memory_equal(s.body, want, sizeof(want) - 1);
}

static void
test_large_message_streams(void **state)
{
	/* Many lines, some dotted: written in steps as the socket drains. */
	size_t n = 0, cap = 400000;
	char *m = malloc(cap);
	struct srv s = { .greeting = "220 x" };
	struct sockaddr_storage a;
	struct smtp_client_host h = { "x.example", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	while (n + 64 < cap)
		n += (size_t)snprintf(m + n, cap - n, "%sline %zu\r\n",
		    n % 7 == 0 ? "." : "", n);
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	job.data = m;
	job.len = n;
	run(&job, &o);
	srv_join(&s);
	assert_int_equal(o.status[0], SMTP_RCPT_DELIVERED);
	/* Unstuff what arrived: it must be the message again. */
	char *u = malloc(s.bodylen + 1);
	size_t un = 0;

	for (size_t i = 0; i < s.bodylen; i++) {
		if (s.body[i] == '.' && (i == 0 || s.body[i - 1] == '\n'))
			continue;
		u[un++] = s.body[i];
	}
	assert_int_equal(un, n);
	assert_memory_equal(u, m, n);
	free(u);
	free(m);
}

static void
test_starttls_opportunistic(void **state)
{
	struct srv s = {
		.greeting = "220 x",
		.ehlo = "250-x\r\n250-STARTTLS\r\n250 SIZE 10",	/* plaintext lies */
		.ehlo_tls = "250-x\r\n250-PIPELINING\r\n250 SIZE 100000",
	};
	struct sockaddr_storage a;
	struct smtp_client_host h = { "localhost", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	run(&job, &o);
	srv_join(&s);
	assert_true(s.saw_tls);
	assert_string_equal(s.cmds, "EHLO mx.test.example\nSTARTTLS\n"
	    "EHLO mx.test.example\nMAIL FROM:<s@test.example> SIZE=21\n"
	    "RCPT TO:<a@example.org>\nRCPT TO:<b@example.org>\nDATA\nQUIT\n");
	assert_int_equal(o.status[0], SMTP_RCPT_DELIVERED);
	assert_true(o.tls[0]);
	assert_false(o.verified[0]);	/* self-signed, not in the system store */
	assert_string_equal(o.version[0], "TLSv1.3");
}

static void
test_starttls_broken_retries_plain(void **state)
{
	struct srv s = {
		.greeting = "220 x",
		.ehlo = "250-x\r\n250 STARTTLS",
		.starttls_break = true,
		.sessions = 2,
	};
	struct sockaddr_storage a;
	struct smtp_client_host h = { "localhost", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	run(&job, &o);
	srv_join(&s);
	assert_int_equal(s.served, 2);
	assert_int_equal(o.status[0], SMTP_RCPT_DELIVERED);
	assert_false(o.tls[0]);
	/* The second session did not ask for TLS again. */
	assert_string_equal(s.cmds, "EHLO mx.test.example\nSTARTTLS\n"
	    "EHLO mx.test.example\nMAIL FROM:<s@test.example>\n"
	    "RCPT TO:<a@example.org>\nRCPT TO:<b@example.org>\nDATA\nQUIT\n");
}

static void
test_smarthost_starttls_auth_plain(void **state)
{
	struct srv s = {
		.greeting = "220 relay",
		.ehlo = "250-relay\r\n250 STARTTLS",
		.ehlo_tls = "250-relay\r\n250-AUTH LOGIN PLAIN\r\n250 PIPELINING",
	};
	struct sockaddr_storage a;
	struct smtp_client_host h = { "localhost", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	job.tls_policy = SMTP_TLS_REQUIRE_STARTTLS;
	job.tls = verify_tls;
	job.username = "user";
	job.password = "pass";
	run(&job, &o);
	srv_join(&s);
	/* base64("\0user\0pass"), sent only after TLS and the second EHLO. */
	assert_string_equal(s.cmds, "EHLO mx.test.example\nSTARTTLS\n"
	    "EHLO mx.test.example\nAUTH PLAIN AHVzZXIAcGFzcw==\n"
	    "MAIL FROM:<s@test.example>\nRCPT TO:<a@example.org>\n"
	    "RCPT TO:<b@example.org>\nDATA\nQUIT\n");
	assert_int_equal(o.status[0], SMTP_RCPT_DELIVERED);
	assert_true(o.tls[0]);
	assert_true(o.verified[0]);
}

static void
test_smarthost_implicit_tls_auth_login(void **state)
{
	struct srv s = {
		.implicit_tls = true,
		.greeting = "220 relay",
		.ehlo = "250-relay\r\n250 AUTH=LOGIN",
	};
	struct sockaddr_storage a;
	struct smtp_client_host h = { "localhost", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	job.tls_policy = SMTP_TLS_IMPLICIT;
	job.tls = verify_tls;
	job.username = "user";
	job.password = "pass";
	run(&job, &o);
	srv_join(&s);
	assert_string_equal(s.cmds, "EHLO mx.test.example\nAUTH LOGIN\n"
	    "dXNlcg==\ncGFzcw==\nMAIL FROM:<s@test.example>\n"
	    "RCPT TO:<a@example.org>\nRCPT TO:<b@example.org>\nDATA\nQUIT\n");
	assert_int_equal(o.status[1], SMTP_RCPT_DELIVERED);
	assert_true(o.verified[1]);
}

static void
test_address_literal_verifies_by_ip(void **state)
{
	/* "[127.0.0.1]" (an MX given as an address literal): no SNI, and the
	 * certificate must carry the address (certgen adds IP:127.0.0.1). */
	struct srv s = {
		.greeting = "220 relay",
		.ehlo = "250-relay\r\n250 STARTTLS",
	};
	struct sockaddr_storage a;
	struct smtp_client_host h = { "[127.0.0.1]", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	job.tls_policy = SMTP_TLS_REQUIRE_STARTTLS;
	job.tls = verify_tls;
	run(&job, &o);
	srv_join(&s);
	assert_int_equal(o.status[0], SMTP_RCPT_DELIVERED);
	assert_true(o.verified[0]);
	assert_string_equal(o.host[0], "[127.0.0.1]");
}

static void
test_smarthost_unverified_or_plain_refused(void **state)
{
	/* The cert does not verify against the system store: no AUTH, ever. */
	struct srv s = {
		.greeting = "220 relay",
		.ehlo = "250-relay\r\n250-AUTH PLAIN\r\n250 STARTTLS",
	};
	/* No STARTTLS at all: credentials never go out in plaintext. */
	struct srv p = { .greeting = "220 relay", .ehlo = "250-relay\r\n250 AUTH PLAIN" };
	struct sockaddr_storage a;
	struct smtp_client_host h = { "localhost", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	job.tls_policy = SMTP_TLS_REQUIRE_STARTTLS;
	job.tls = verify_sys_tls;
	job.username = "user";
	job.password = "pass";
	run(&job, &o);
	srv_join(&s);
	assert_null(strstr(s.cmds, "AUTH"));
	assert_int_equal(o.status[0], SMTP_RCPT_TEMPFAIL);
	assert_non_null(strstr(o.text[0], "TLS handshake failed"));

	srv_start(&p);
	a = addr_of(p.port);
	job.tls = verify_tls;
	run(&job, &o);
	srv_join(&p);
	assert_string_equal(p.cmds, "EHLO mx.test.example\nQUIT\n");
	assert_int_equal(o.status[0], SMTP_RCPT_TEMPFAIL);
	assert_non_null(strstr(o.text[0], "STARTTLS"));
}

static void
test_timeout_tempfail(void **state)
{
	struct srv s = { .greeting = NULL };	/* accepts, never speaks */
	struct sockaddr_storage a;
	struct smtp_client_host h = { "x.example", &a, 1 };
	struct smtp_client_timeouts t = short_timeouts;
	struct smtp_client_job job;
	struct outcome o;
	ev_tstamp t0 = ev_time();

	(void)state;
	t.greeting = 1;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	job.timeouts = &t;
	run(&job, &o);
	srv_join(&s);
	assert_true(ev_time() - t0 >= 0.9);
	assert_int_equal(o.status[0], SMTP_RCPT_TEMPFAIL);
	assert_int_equal(o.status[1], SMTP_RCPT_TEMPFAIL);
	assert_non_null(strstr(o.text[0], "timeout"));
}

static void
test_timeout_after_data(void **state)
{
	/* The server takes the message and never answers the final dot. */
	struct srv s = { .greeting = "220 x", .dot = "" };
	struct sockaddr_storage a;
	struct smtp_client_host h = { "x.example", &a, 1 };
	struct smtp_client_timeouts t = short_timeouts;
	struct smtp_client_job job;
	struct outcome o;

	(void)state;
	t.data_term = 1;
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	job.timeouts = &t;
	run(&job, &o);
	srv_join(&s);
	assert_int_equal(s.bodylen, sizeof(msg) - 1);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(o.status[i], SMTP_RCPT_TEMPFAIL);
		assert_string_equal(o.enhanced[i], "4.4.2");
		assert_non_null(strstr(o.text[i], "timeout"));
		assert_non_null(strstr(o.text[i], "end of data"));
	}
}

static void
test_cancel(void **state)
{
	struct srv s = { .greeting = NULL };
	struct sockaddr_storage a;
	struct smtp_client_host h = { "x.example", &a, 1 };
	struct smtp_client_job job;
	struct outcome o;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct smtp_client *cl;
	ev_tstamp end;

	(void)state;
	memset(&o, 0, sizeof(o));
	srv_start(&s);
	a = addr_of(s.port);
	job_init(&job, &h, 1);
	cl = smtp_client_start(loop, &job, on_done, &o);
	end = ev_time() + 0.3;
	while (ev_time() < end)
		ev_run(loop, EVRUN_NOWAIT);
	assert_int_equal(s.served, 1);	/* connected, waiting for a greeting */
	smtp_client_cancel(&cl);
	assert_null(cl);
	ev_run(loop, 0);
	assert_false(o.called);
	ev_loop_destroy(loop);
	srv_join(&s);	/* the server saw the connection go */

	/* Cancelled before it even started. */
	loop = ev_loop_new(EVFLAG_AUTO);
	cl = smtp_client_start(loop, &job, on_done, &o);
	smtp_client_cancel(&cl);
	ev_run(loop, 0);
	assert_false(o.called);
	ev_loop_destroy(loop);
}

static int
group_setup(void **state)
{
	char err[256];

	(void)state;
	/* As cmd/main.c: OpenSSL writes to a socket the peer closed. */
	signal(SIGPIPE, SIG_IGN);
	log_set_level(getenv("TEST_DEBUG") != NULL ? LOG_DEBUG : LOG_WARN);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rmail-test-client-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
	if (certgen_self_signed("localhost", cert_path, key_path, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "certgen: %s\n", err);
		return -1;
	}
	srv_tls = tls_ctx_new(cert_path, key_path, err, sizeof(err));
	opp_tls = tls_client_ctx_new(false, NULL, err, sizeof(err));
	verify_tls = tls_client_ctx_new(true, cert_path, err, sizeof(err));
	verify_sys_tls = tls_client_ctx_new(true, NULL, err, sizeof(err));
	if (srv_tls == NULL || opp_tls == NULL || verify_tls == NULL ||
	    verify_sys_tls == NULL) {
		fprintf(stderr, "tls: %s\n", err);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	tls_ctx_free(&srv_tls);
	tls_ctx_free(&opp_tls);
	tls_ctx_free(&verify_tls);
	tls_ctx_free(&verify_sys_tls);
	for (size_t i = 0; i < nbodies; i++)
		free(bodies[i]);
	unlink(cert_path);
	unlink(key_path);
	rmdir(tmpdir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelined_delivery),
		cmocka_unit_test(test_helo_fallback_no_pipelining),
		cmocka_unit_test(test_refused_then_second_address),
		cmocka_unit_test(test_4xx_greeting_next_host),
		cmocka_unit_test(test_5xx_greeting_everywhere_is_permanent),
		cmocka_unit_test(test_all_refused_tempfail),
		cmocka_unit_test(test_per_recipient_results),
		cmocka_unit_test(test_no_rcpt_accepted_no_data),
		cmocka_unit_test(test_data_451_tempfails_all),
		cmocka_unit_test(test_data_command_refused),
		cmocka_unit_test(test_size_too_small),
		cmocka_unit_test(test_smtputf8_needed_not_offered),
		cmocka_unit_test(test_dot_stuffing),
		cmocka_unit_test(test_large_message_streams),
		cmocka_unit_test(test_starttls_opportunistic),
		cmocka_unit_test(test_starttls_broken_retries_plain),
		cmocka_unit_test(test_smarthost_starttls_auth_plain),
		cmocka_unit_test(test_smarthost_implicit_tls_auth_login),
		cmocka_unit_test(test_address_literal_verifies_by_ip),
		cmocka_unit_test(test_smarthost_unverified_or_plain_refused),
		cmocka_unit_test(test_timeout_tempfail),
		cmocka_unit_test(test_timeout_after_data),
		cmocka_unit_test(test_cancel),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
