/*
 * client: the outbound SMTP client. See client.h.
 *
 * One attempt = one address: a non-blocking connect (our own ev_io and
 * ev_timer), then a conn (core/conn.h) that reads replies as lines. Until
 * a session is "through" (greeting, EHLO, TLS and AUTH as required), any
 * failure moves on to the next address; after that the session decides
 * every recipient, and a lost connection is a temporary failure for those
 * still undecided. Each step arms the conn's idle timer with its RFC 5321
 * 4.5.3.2 timeout: the timer restarts on every read and, while the message
 * is written, on every drain of the output buffer.
 *
 * Whatever a callback decides, moving to the next attempt and reporting
 * the result run from our timer, never from inside a conn callback or
 * from smtp_client_start(): the conn and the caller never see the client
 * vanish under them.
 *
 * Replies are read, and results built and reported, in client_reply.c.
 */
#include "relay/client_private.h"
#include "core/base64.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/net.h"
#include "core/util.h"

#include <assert.h>
#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLIENT_OUT_MAX	(1024 * 1024)	/* commands, or a stretch of the body */
#define BODY_CHUNK	(64 * 1024)

const struct smtp_client_timeouts smtp_client_timeouts_default = {
	.connect = 30,
	.greeting = 300,
	.command = 300,
	.mail = 300,
	.rcpt = 300,
	.data_init = 120,
	.data_block = 180,
	.data_term = 600,
};

static const char *const cl_state_names[] = {
	"start", "connect", "greeting", "EHLO", "HELO", "STARTTLS",
	"TLS handshake", "AUTH", "AUTH", "AUTH", "AUTH", "MAIL", "RCPT",
	"DATA", "message", "end of data", "done",
};
_Static_assert(NELEM(cl_state_names) == CL_DONE + 1, "cl_state_names");

static void	cl_next_attempt(struct smtp_client *);
static void	cl_after_hello(struct smtp_client *);

static const struct conn_proto cl_proto;

/* The name TLS sends as SNI and verifies: an address literal's address
 * ("[192.0.2.1]" from MX resolution), else the host name. */
static const char *
cl_tls_name(const struct smtp_client *cl)
{
	return cl->host[0] == '[' ? cl->ip : cl->host;
}

static uint32_t
cl_conn_id(const struct smtp_client *cl)
{
	return cl->conn != NULL ? conn_id(cl->conn) : 0;
}

/* Run the timer callback from the loop, at once. */
static void
cl_soon(struct smtp_client *cl)
{
	ev_timer_stop(cl->loop, &cl->timer);
	ev_timer_set(&cl->timer, 0., 0.);
	ev_timer_start(cl->loop, &cl->timer);
}

/*
 * Let go of the session's conn: QUIT and flush when polite, else reset.
 * The conn finishes closing on its own; it no longer knows us.
 */
static void
cl_detach(struct smtp_client *cl, bool quit)
{
	struct conn *c = cl->conn;

	if (c == NULL)
		return;
	conn_set_proto(c, NULL, NULL);
	conn_set_close_hook(c, NULL, NULL);
	if (quit && !conn_is_closing(c)) {
		(void)conn_reply(c, "QUIT");
		conn_close(c, CONN_CLOSE_FLUSH, "quit");
	} else {
		conn_close(c, CONN_CLOSE_ABORT, "relay session ended");
	}
	conn_unref(&cl->conn);
}

static void
cl_stop_connect(struct smtp_client *cl)
{
	ev_io_stop(cl->loop, &cl->cio);
	ev_timer_stop(cl->loop, &cl->timer);
	if (cl->cfd != -1) {
		close(cl->cfd);
		cl->cfd = -1;
	}
}
static void
cl_finish(struct smtp_client *cl, bool quit)
{
	cl_detach(cl, quit);
	cl->state = CL_DONE;
	cl_soon(cl);
}

/*
 * This attempt failed before the session got through: remember why and
 * move on. code/enhanced describe a reply (0/"" for our own reasons).
 */
static void
cl_attempt_failed(struct smtp_client *cl, bool quit, int code,
    const char *enhanced, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
cl_attempt_failed(struct smtp_client *cl, bool quit, int code,
    const char *enhanced, const char *fmt, ...)
{
	char why[REPLY_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_info(CLIENT_SVC, cl_conn_id(cl), cl->ip,
	    "event=relay-attempt-failed id=%s host=%s state=%s reason=%s",
	    cl_log_id(cl), log_q(cl->host), cl_state_names[cl->state], log_q(why));
	cl->last.code = code;
	str_lcpy(cl->last.enhanced, enhanced, sizeof(cl->last.enhanced));
	snprintf(cl->last.text, sizeof(cl->last.text), "%s", why);
	if (code < 500 || code >= 600)
		cl->all_perm = false;
	cl_detach(cl, quit);
	cl->state = CL_START;
	cl_soon(cl);
}

/* The session that got through broke down: the rest wait for a retry. */
static void
cl_session_lost(struct smtp_client *cl, const char *why)
{
	char text[REPLY_TEXT_MAX + 128];

	snprintf(text, sizeof(text), "%s with %s[%s] while in %s", why,
	    cl->host, cl->ip, cl_state_names[cl->state]);
	log_info(CLIENT_SVC, cl_conn_id(cl), cl->ip,
	    "event=relay-session-lost id=%s host=%s reason=%s", cl_log_id(cl),
	    log_q(cl->host), log_q(text));
	smtp_client_decide_rest(cl, false, SMTP_RCPT_TEMPFAIL, 0, "4.4.2",
	    text);
	cl_finish(cl, false);
}

/* The conn failed, timed out or was closed under us. */
static void
cl_conn_failed(struct smtp_client *cl, const char *why)
{
	if (cl->through) {
		cl_session_lost(cl, why);
		return;
	}
	/* RFC 7435: a broken TLS stack is no reason to give up on the
	 * address; try it once more in plaintext. */
	if (cl->state == CL_HANDSHAKE && cl->policy == SMTP_TLS_OPPORTUNISTIC)
		cl->retry_plain = true;
	cl_attempt_failed(cl, false, 0, "", "%s with %s[%s]", why, cl->host,
	    cl->ip);
}

static void
cl_send(struct smtp_client *cl, enum cl_state next, unsigned timeout,
    const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
cl_send(struct smtp_client *cl, enum cl_state next, unsigned timeout,
    const char *fmt, ...)
{
	char line[REPLY_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	assert(n >= 0 && (size_t)n < sizeof(line));
	cl->state = next;
	conn_set_timeout(cl->conn, timeout);
	(void)conn_reply(cl->conn, "%s", line);
}

/* The final step: MAIL, and with PIPELINING every RCPT in the same write. */
static void
cl_send_envelope(struct smtp_client *cl)
{
	char params[128] = "";
	size_t n = 0;

	if (cl->ext & EXT_SIZE)
		n += (size_t)snprintf(params + n, sizeof(params) - n, " SIZE=%zu",
		    cl->len);
	if (cl->eightbit && (cl->ext & EXT_8BITMIME))
		n += (size_t)snprintf(params + n, sizeof(params) - n,
		    " BODY=8BITMIME");
	if (cl->need_smtputf8)
		(void)snprintf(params + n, sizeof(params) - n, " SMTPUTF8");
	cl_send(cl, CL_MAIL, cl->to.mail, "MAIL FROM:<%s>%s", cl->sender, params);
	cl->rcpt_next = 0;
	while (cl->rcpt_next < cl->nrcpts && cl->rcpts[cl->rcpt_next].decided)
		cl->rcpt_next++;
	if (!(cl->ext & EXT_PIPELINING))
		return;
	/* Replies come back in order (RFC 2920 3.1); rcpt_next walks them. */
	for (size_t i = cl->rcpt_next; i < cl->nrcpts; i++) {
		if (!cl->rcpts[i].decided)
			(void)conn_reply(cl->conn, "RCPT TO:<%s>", cl->rcpts[i].addr);
	}
}

static void
cl_through(struct smtp_client *cl)
{
	char text[REPLY_TEXT_MAX];

	cl->through = true;
	log_info(CLIENT_SVC, cl_conn_id(cl), cl->ip, "event=relay-session id=%s "
	    "host=%s tls=%s verified=%s esmtp=%s pipelining=%s auth=%s",
	    cl_log_id(cl), log_q(cl->host),
	    cl->tls_on ? cl->tls_version : "no", cl->tls_verified ? "yes" : "no",
	    cl->ext != 0 ? "yes" : "no",
	    (cl->ext & EXT_PIPELINING) ? "yes" : "no", cl->authed ? "yes" : "no");
	if (cl->need_smtputf8 && !(cl->ext & EXT_SMTPUTF8)) {
		/* RFC 6531 3.2: never downgrade; the message bounces. */
		snprintf(text, sizeof(text), "the envelope needs SMTPUTF8, which "
		    "%s[%s] does not offer", cl->host, cl->ip);
		smtp_client_decide_rest(cl, false, SMTP_RCPT_PERMFAIL, 0, "5.6.7",
		    text);
		cl_finish(cl, true);
		return;
	}
	if (cl->size_max > 0 && cl->len > cl->size_max) {
		/* RFC 1870 6.2: a fixed limit smaller than the message. */
		snprintf(text, sizeof(text), "message size %zu exceeds the limit of "
		    "%" PRIu64 " bytes of %s[%s]", cl->len, cl->size_max,
		    cl->host, cl->ip);
		smtp_client_decide_rest(cl, false, SMTP_RCPT_PERMFAIL, 0, "5.3.4",
		    text);
		cl_finish(cl, true);
		return;
	}
	cl_send_envelope(cl);
}

static void
cl_send_auth(struct smtp_client *cl)
{
	size_t ul = strlen(cl->username), pl = strlen(cl->password);
	size_t rawlen = ul + pl + 2;
	unsigned char *raw;
	char *b64;

	if (cl->ext & EXT_AUTH_PLAIN) {
		/* RFC 4616: authzid (empty) NUL authcid NUL passwd. */
		raw = xmalloc(rawlen);
		raw[0] = '\0';
		memcpy(raw + 1, cl->username, ul);
		raw[ul + 1] = '\0';
		memcpy(raw + ul + 2, cl->password, pl);
		b64 = xmalloc(BASE64_ENCODED_LEN(rawlen) + 1);
		base64_encode(raw, rawlen, b64);
		cl->state = CL_AUTH_PLAIN;
		conn_set_timeout(cl->conn, cl->to.command);
		(void)conn_reply(cl->conn, "AUTH PLAIN %s", b64);
		explicit_bzero(raw, rawlen);
		explicit_bzero(b64, strlen(b64));
		free(raw);
		free(b64);
		return;
	}
	cl_send(cl, CL_AUTH_LOGIN, cl->to.command, "AUTH LOGIN");
}

/* Answer a 334 with base64 of s (AUTH LOGIN's username or password). */
static void
cl_send_b64(struct smtp_client *cl, enum cl_state next, const char *s)
{
	size_t n = strlen(s);
	char *b64 = xmalloc(BASE64_ENCODED_LEN(n) + 1);

	base64_encode((const unsigned char *)s, n, b64);
	cl->state = next;
	conn_set_timeout(cl->conn, cl->to.command);
	(void)conn_reply(cl->conn, "%s", b64);
	explicit_bzero(b64, strlen(b64));
	free(b64);
}

/* EHLO or HELO accepted: STARTTLS, then AUTH, then the envelope. */
static void
cl_after_hello(struct smtp_client *cl)
{
	if (!cl->tls_on) {
		if ((cl->ext & EXT_STARTTLS) && cl->tls != NULL &&
		    !cl->no_starttls && cl->policy != SMTP_TLS_IMPLICIT) {
			cl_send(cl, CL_STARTTLS, cl->to.command, "STARTTLS");
			return;
		}
		if (cl->policy != SMTP_TLS_OPPORTUNISTIC) {
			cl_attempt_failed(cl, true, 0, "4.7.0",
			    "%s[%s] does not offer STARTTLS, which is required",
			    cl->host, cl->ip);
			return;
		}
	}
	if (cl->username != NULL && !cl->authed) {
		if (!cl->tls_on)
			cl_attempt_failed(cl, true, 0, "4.7.0", "not sending "
			    "credentials to %s[%s] without TLS", cl->host, cl->ip);
		else if (!(cl->ext & (EXT_AUTH_PLAIN | EXT_AUTH_LOGIN)))
			cl_attempt_failed(cl, true, 0, "4.7.0", "%s[%s] offers "
			    "neither AUTH PLAIN nor AUTH LOGIN", cl->host, cl->ip);
		else
			cl_send_auth(cl);
		return;
	}
	cl_through(cl);
}

/* Write the message, dot-stuffed, while the output stays below the mark. */
static void
cl_body_step(struct smtp_client *cl)
{
	struct conn *c = cl->conn;

	conn_set_timeout(c, cl->to.data_block);	/* progress was made */
	while (cl->pos < cl->len && !conn_output_high_water(c)) {
		const char *p = cl->data + cl->pos;
		size_t n = cl->len - cl->pos;
		const char *dot;

		if (n > BODY_CHUNK)
			n = BODY_CHUNK;
		/* RFC 5321 4.5.2: a line starting with '.' gets another. */
		if (cl->bol && *p == '.' && conn_write(c, ".", 1) == -1)
			return;
		if ((dot = memmem(p, n, "\n.", 2)) != NULL)
			n = (size_t)(dot - p) + 1;
		if (conn_write(c, p, n) == -1)
			return;
		cl->pos += n;
		cl->bol = p[n - 1] == '\n';
	}
	if (cl->pos < cl->len) {
		conn_want_drain(c);
		return;
	}
	if (!cl->bol && cl->len > 0)
		(void)conn_write(c, "\r\n", 2);
	cl_send(cl, CL_DOT, cl->to.data_term, ".");
}

static void
cl_rcpt_done(struct smtp_client *cl)
{
	do
		cl->rcpt_next++;
	while (cl->rcpt_next < cl->nrcpts && cl->rcpts[cl->rcpt_next].decided);
	if (cl->rcpt_next < cl->nrcpts) {
		if (!(cl->ext & EXT_PIPELINING))
			cl_send(cl, CL_RCPT, cl->to.rcpt, "RCPT TO:<%s>",
			    cl->rcpts[cl->rcpt_next].addr);
		else
			conn_set_timeout(cl->conn, cl->to.rcpt);
		return;
	}
	if (cl->naccepted == 0) {
		cl_finish(cl, true);	/* RFC 5321 3.3: no DATA without one */
		return;
	}
	cl_send(cl, CL_DATA, cl->to.data_init, "DATA");
}

/* A complete reply in the current state. */
static void
cl_on_reply(struct smtp_client *cl)
{
	int code = cl->r.code, cls = code / 100;

	switch (cl->state) {
	case CL_GREETING:
		if (cls == 2)
			cl_send(cl, CL_EHLO, cl->to.command, "EHLO %s", cl->helo);
		else
			/* RFC 5321 3.1, 5.1: try the next address. */
			cl_attempt_failed(cl, true, code, cl->r.enhanced,
			    "greeting from %s[%s]: %s", cl->host, cl->ip,
			    cl->r.text);
		break;
	case CL_EHLO:
		if (cls == 2)
			cl_after_hello(cl);
		else if (cls == 5) {
			cl->ext = 0;
			cl->size_max = 0;
			cl_send(cl, CL_HELO, cl->to.command, "HELO %s", cl->helo);
		} else
			cl_attempt_failed(cl, true, code, cl->r.enhanced,
			    "EHLO to %s[%s]: %s", cl->host, cl->ip, cl->r.text);
		break;
	case CL_HELO:
		if (cls == 2)
			cl_after_hello(cl);
		else
			cl_attempt_failed(cl, true, code, cl->r.enhanced,
			    "HELO to %s[%s]: %s", cl->host, cl->ip, cl->r.text);
		break;
	case CL_STARTTLS:
		if (cls == 2) {
			cl->state = CL_HANDSHAKE;
			conn_set_timeout(cl->conn, cl->to.command);
			(void)conn_starttls_client(cl->conn, cl->tls,
			    cl_tls_name(cl));
		} else if (cl->policy == SMTP_TLS_OPPORTUNISTIC) {
			/* RFC 3207 4: carry on in plaintext. */
			cl->no_starttls = true;
			cl_after_hello(cl);
		} else
			cl_attempt_failed(cl, true, code, cl->r.enhanced,
			    "STARTTLS to %s[%s]: %s", cl->host, cl->ip, cl->r.text);
		break;
	case CL_AUTH_PLAIN:
	case CL_AUTH_PASS:
		if (cls == 2) {
			cl->authed = true;
			cl_after_hello(cl);
		} else
			/* Not the recipients' fault: retried once fixed. */
			cl_attempt_failed(cl, true, 0, "4.7.8",
			    "authentication as %s to %s[%s] failed: %s",
			    cl->username, cl->host, cl->ip, cl->r.text);
		break;
	case CL_AUTH_LOGIN:
	case CL_AUTH_USER:
		if (code == 334)
			cl_send_b64(cl, cl->state == CL_AUTH_LOGIN ? CL_AUTH_USER :
			    CL_AUTH_PASS, cl->state == CL_AUTH_LOGIN ?
			    cl->username : cl->password);
		else
			cl_attempt_failed(cl, true, 0, "4.7.8",
			    "AUTH LOGIN to %s[%s]: %s", cl->host, cl->ip,
			    cl->r.text);
		break;
	case CL_MAIL:
		if (cls != 2) {
			smtp_client_decide_reply(cl, NULL, false);
			cl_finish(cl, true);
		} else if (cl->ext & EXT_PIPELINING) {
			cl->state = CL_RCPT;
			conn_set_timeout(cl->conn, cl->to.rcpt);
		} else
			cl_send(cl, CL_RCPT, cl->to.rcpt, "RCPT TO:<%s>",
			    cl->rcpts[cl->rcpt_next].addr);
		break;
	case CL_RCPT:
		if (cls == 2) {
			cl->rcpts[cl->rcpt_next].accepted = true;
			cl->naccepted++;
		} else
			smtp_client_decide_reply(cl, &cl->rcpts[cl->rcpt_next],
			    false);
		cl_rcpt_done(cl);
		break;
	case CL_DATA:
		if (cls == 3) {
			cl->state = CL_BODY;
			cl->pos = 0;
			cl->bol = true;
			cl_body_step(cl);
		} else {
			smtp_client_decide_reply(cl, NULL, true);
			cl_finish(cl, true);
		}
		break;
	case CL_DOT:
		smtp_client_decide_reply(cl, NULL, true);
		cl_finish(cl, true);
		break;
	default: {
		/* A reply nobody asked for (a 421 while we write the
		 * message): the server has given up on the session. */
		char why[REPLY_TEXT_MAX + 32];

		snprintf(why, sizeof(why), "unexpected reply \"%s\"", cl->r.text);
		cl_conn_failed(cl, why);
		break;
	}
	}
}

static void
cl_on_data(struct conn *c, void *arg)
{
	struct smtp_client *cl = arg;
	char *line;
	size_t len;
	bool crlf;

	while (cl->conn == c && cl->state != CL_DONE && cl->state != CL_START) {
		switch (conn_line(c, &line, &len, &crlf)) {
		case CONN_LINE_MORE:
			return;
		case CONN_LINE_TOOLONG:
			cl_conn_failed(cl, "reply line too long");
			return;
		case CONN_LINE_OK:
			break;
		}
		switch (smtp_client_reply_line(cl, line, len)) {
		case -1:
			cl_conn_failed(cl, "malformed reply");
			return;
		case 0:
			break;
		default:
			cl_on_reply(cl);
			break;
		}
	}
}

static void
cl_on_drain(struct conn *c, void *arg)
{
	struct smtp_client *cl = arg;

	if (cl->conn == c && cl->state == CL_BODY)
		cl_body_step(cl);
}

static void
cl_on_tls_ready(struct conn *c, void *arg)
{
	struct smtp_client *cl = arg;

	cl->tls_on = true;
	cl->tls_verified = conn_tls_verified(c);
	str_lcpy(cl->tls_version, conn_tls_version(c), sizeof(cl->tls_version));
	log_info(CLIENT_SVC, conn_id(c), cl->ip, "event=relay-tls id=%s host=%s "
	    "version=%s cipher=%s verified=%s", cl_log_id(cl), log_q(cl->host),
	    cl->tls_version, conn_tls_cipher(c), cl->tls_verified ? "yes" : "no");
	/* The verifying context fails the handshake itself; this is the
	 * belt to those braces. */
	if (cl->policy != SMTP_TLS_OPPORTUNISTIC && !cl->tls_verified) {
		cl_attempt_failed(cl, false, 0, "4.7.5", "the certificate of "
		    "%s[%s] did not verify", cl->host, cl->ip);
		return;
	}
	if (cl->state != CL_HANDSHAKE)
		return;	/* implicit TLS: the greeting comes next */
	/* RFC 3207 4.2: forget what was learnt in plaintext. */
	cl->ext = 0;
	cl->size_max = 0;
	cl_send(cl, CL_EHLO, cl->to.command, "EHLO %s", cl->helo);
}

static void
cl_on_timeout(struct conn *c, void *arg)
{
	struct smtp_client *cl = arg;

	(void)c;
	cl_conn_failed(cl, "timeout");
}

static void
cl_on_hangup(struct conn *c, void *arg)
{
	struct smtp_client *cl = arg;

	(void)c;
	cl_conn_failed(cl, "connection closed");
}

/* The conn closed by itself (a TLS or socket error, a handshake timeout). */
static void
cl_on_close(struct conn *c, void *arg)
{
	struct smtp_client *cl = arg;

	(void)c;
	cl_conn_failed(cl, cl->state == CL_HANDSHAKE || (cl->state == CL_GREETING &&
	    cl->policy == SMTP_TLS_IMPLICIT && !cl->tls_on) ?
	    "TLS handshake failed" : "connection lost");
}

static void
cl_on_free(void *arg)
{
	(void)arg;	/* the client owns itself */
}

static const struct conn_proto cl_proto = {
	.on_data = cl_on_data,
	.on_timeout = cl_on_timeout,
	.on_tls_ready = cl_on_tls_ready,
	.on_hangup = cl_on_hangup,
	.on_drain = cl_on_drain,
	.on_free = cl_on_free,
};

static void
cl_connected(struct smtp_client *cl, int fd)
{
	const struct sockaddr_storage *sa = &cl->hosts[cl->hi].addrs[cl->ai];
	struct conn_opts o;

	cl_stop_connect(cl);
	memset(&o, 0, sizeof(o));
	o.line_max = REPLY_LINE_MAX;
	o.out_max = CLIENT_OUT_MAX;
	o.timeout_secs = cl->to.greeting;
	if (cl->policy == SMTP_TLS_IMPLICIT) {
		o.tls = cl->tls;
		o.tls_client = true;
		o.tls_host = cl_tls_name(cl);
	}
	cl->conn = conn_new(cl->loop, fd, (const struct sockaddr *)sa,
	    CLIENT_SVC, &o);
	conn_ref(cl->conn);
	conn_set_proto(cl->conn, &cl_proto, cl);
	conn_set_close_hook(cl->conn, cl_on_close, cl);
	cl->state = CL_GREETING;
	log_debug(CLIENT_SVC, conn_id(cl->conn), cl->ip,
	    "event=relay-connected id=%s host=%s", cl_log_id(cl), log_q(cl->host));
}

static void
cl_connect_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct smtp_client *cl = w->data;
	int fd = cl->cfd, err = 0;
	socklen_t sl = sizeof(err);

	(void)loop;
	(void)revents;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1)
		err = errno;
	if (err == 0) {
		cl->cfd = -1;	/* the conn owns it now */
		cl_connected(cl, fd);
		return;
	}
	cl_stop_connect(cl);
	cl_attempt_failed(cl, false, 0, "", "connect to %s[%s]:%u: %s",
	    cl->host, cl->ip, cl->cport, strerror(err));
}

/* Start connecting to hosts[hi].addrs[ai]. 0, or -1 (and cl->last set). */
static int
cl_connect(struct smtp_client *cl)
{
	struct sockaddr_storage sa = cl->hosts[cl->hi].addrs[cl->ai];
	socklen_t sl;
	int fd, one = 1;

	cl->host = cl->hosts[cl->hi].name;
	cl->through = cl->authed = cl->tls_on = cl->tls_verified = false;
	cl->tls_version[0] = '\0';
	cl->ext = 0;
	cl->size_max = 0;
	cl->naccepted = 0;
	cl->r.open = false;
	if (sa.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&sa;

		if (cl->port != 0)
			sin6->sin6_port = htons((uint16_t)cl->port);
		cl->cport = ntohs(sin6->sin6_port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&sa;

		if (cl->port != 0)
			sin->sin_port = htons((uint16_t)cl->port);
		cl->cport = ntohs(sin->sin_port);
		sl = sizeof(struct sockaddr_in);
	}
	net_ip_str((const struct sockaddr *)&sa, cl->ip);
	cl->hosts[cl->hi].addrs[cl->ai] = sa;	/* the conn's peer, with port */
	log_info(CLIENT_SVC, 0, cl->ip, "event=relay-connect id=%s host=%s "
	    "port=%u tls=%s", cl_log_id(cl), log_q(cl->host), cl->cport,
	    cl->policy == SMTP_TLS_IMPLICIT ? "implicit" : cl->no_starttls ?
	    "no" : cl->policy == SMTP_TLS_OPPORTUNISTIC ? "opportunistic" :
	    "required");
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	/* Pipelined commands go out in one segment, at once. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&sa, sl) == 0) {
		cl_connected(cl, fd);
		return 0;
	}
	if (errno == EINPROGRESS) {
		cl->cfd = fd;
		cl->state = CL_CONNECT;
		ev_io_set(&cl->cio, fd, EV_WRITE);
		ev_io_start(cl->loop, &cl->cio);
		ev_timer_stop(cl->loop, &cl->timer);
		ev_timer_set(&cl->timer, cl->to.connect, 0.);
		ev_timer_start(cl->loop, &cl->timer);
		return 0;
	}
fail:
	snprintf(cl->last.text, sizeof(cl->last.text), "connect to %s[%s]:%u: %s",
	    cl->host, cl->ip, cl->cport, strerror(errno));
	cl->last.code = 0;
	cl->last.enhanced[0] = '\0';
	cl->all_perm = false;
	log_info(CLIENT_SVC, 0, cl->ip, "event=relay-attempt-failed id=%s "
	    "host=%s state=connect reason=%s", cl_log_id(cl), log_q(cl->host),
	    log_q(cl->last.text));
	if (fd != -1)
		close(fd);
	return -1;
}

/* Pick the next address (or the same one, in plaintext). */
static bool
cl_pick(struct smtp_client *cl)
{
	if (cl->retry_plain) {
		cl->retry_plain = false;
		cl->no_starttls = true;
		return true;
	}
	cl->no_starttls = false;
	if (cl->attempts++ > 0)
		cl->ai++;
	while (cl->hi < cl->nhosts && cl->ai >= cl->hosts[cl->hi].naddrs) {
		cl->hi++;
		cl->ai = 0;
	}
	return cl->hi < cl->nhosts;
}

static void
cl_next_attempt(struct smtp_client *cl)
{
	while (cl_pick(cl)) {
		if (cl_connect(cl) == 0)
			return;
	}
	/* Nobody got through. A 5xx from every one (greeting, HELO) is
	 * final; anything else may pass. */
	if (cl->attempts == 0)
		snprintf(cl->last.text, sizeof(cl->last.text), "no address to try");
	smtp_client_decide_rest(cl, false, cl->all_perm && cl->attempts > 0 ?
	    SMTP_RCPT_PERMFAIL : SMTP_RCPT_TEMPFAIL, cl->last.code,
	    cl->last.enhanced, cl->last.text);
	cl->state = CL_DONE;
	cl_soon(cl);
}

static void
cl_free(struct smtp_client *cl)
{
	cl_stop_connect(cl);
	cl_detach(cl, false);
	for (size_t i = 0; i < cl->nhosts; i++) {
		free(cl->hosts[i].name);
		free(cl->hosts[i].addrs);
	}
	free(cl->hosts);
	for (size_t i = 0; i < cl->nrcpts; i++) {
		free(cl->rcpts[i].addr);
		free(cl->rcpts[i].text);
	}
	free(cl->rcpts);
	if (cl->password != NULL)
		explicit_bzero(cl->password, strlen(cl->password));
	free(cl->password);
	free(cl->username);
	free(cl->sender);
	free(cl->helo);
	free(cl->id);
	free(cl);
}
static void
cl_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct smtp_client *cl = w->data;

	(void)loop;
	(void)revents;
	switch (cl->state) {
	case CL_START:
		cl_next_attempt(cl);
		break;
	case CL_CONNECT:
		cl_stop_connect(cl);
		cl_attempt_failed(cl, false, 0, "", "connect to %s[%s]:%u: "
		    "timed out", cl->host, cl->ip, cl->cport);
		break;
	case CL_DONE:
		smtp_client_report(cl);
		cl_free(cl);
		break;
	default:
		break;
	}
}
struct smtp_client *
smtp_client_start(struct ev_loop *loop, const struct smtp_client_job *job,
    smtp_client_done_cb *done, void *arg)
{
	struct smtp_client *cl = xcalloc(1, sizeof(*cl));

	assert(job->nrcpts > 0 && job->helo != NULL && done != NULL);
	assert(job->tls != NULL || job->tls_policy == SMTP_TLS_OPPORTUNISTIC);
	cl->loop = loop;
	cl->cfd = -1;
	cl->done = done;
	cl->arg = arg;
	cl->id = job->id != NULL ? xstrdup(job->id) : NULL;
	cl->hosts = xcalloc(job->nhosts > 0 ? job->nhosts : 1, sizeof(*cl->hosts));
	cl->nhosts = job->nhosts;
	for (size_t i = 0; i < job->nhosts; i++) {
		const struct smtp_client_host *h = &job->hosts[i];

		cl->hosts[i].name = xstrdup(h->name);
		cl->hosts[i].naddrs = h->naddrs;
		cl->hosts[i].addrs = xcalloc(h->naddrs > 0 ? h->naddrs : 1,
		    sizeof(*h->addrs));
		memcpy(cl->hosts[i].addrs, h->addrs, h->naddrs * sizeof(*h->addrs));
	}
	cl->port = job->port;
	cl->helo = xstrdup(job->helo);
	cl->policy = job->tls_policy;
	cl->tls = job->tls;
	if (job->username != NULL) {
		cl->username = xstrdup(job->username);
		cl->password = xstrdup(job->password != NULL ? job->password : "");
	}
	cl->sender = xstrdup(job->sender);
	cl->nrcpts = job->nrcpts;
	cl->rcpts = xcalloc(job->nrcpts, sizeof(*cl->rcpts));
	for (size_t i = 0; i < job->nrcpts; i++)
		cl->rcpts[i].addr = xstrdup(job->rcpts[i]);
	cl->data = job->data;
	cl->len = job->len;
	cl->need_smtputf8 = job->need_smtputf8;
	for (size_t i = 0; i < job->len && !cl->eightbit; i++)
		cl->eightbit = (unsigned char)job->data[i] >= 0x80;
	cl->to = job->timeouts != NULL ? *job->timeouts :
	    smtp_client_timeouts_default;
	cl->all_perm = true;
	ev_io_init(&cl->cio, cl_connect_cb, -1, EV_WRITE);
	cl->cio.data = cl;
	ev_timer_init(&cl->timer, cl_timer_cb, 0., 0.);
	cl->timer.data = cl;

	/* What no server could change: refuse before connecting. */
	if (!smtp_client_valid_addr(cl->sender))
		smtp_client_decide_rest(cl, false, SMTP_RCPT_PERMFAIL, 0, "5.1.7",
		    "invalid sender address");
	for (size_t i = 0; i < cl->nrcpts; i++) {
		if (!smtp_client_valid_addr(cl->rcpts[i].addr))
			smtp_client_decide(cl, &cl->rcpts[i], SMTP_RCPT_PERMFAIL,
			    0, "5.1.3", "invalid recipient address");
	}
	cl->state = CL_DONE;
	for (size_t i = 0; i < cl->nrcpts; i++) {
		if (!cl->rcpts[i].decided)
			cl->state = CL_START;
	}
	cl_soon(cl);
	return cl;
}

void
smtp_client_cancel(struct smtp_client **cp)
{
	struct smtp_client *cl = *cp;

	if (cl == NULL)
		return;
	*cp = NULL;
	log_info(CLIENT_SVC, cl_conn_id(cl), cl->ip[0] != '\0' ? cl->ip : NULL,
	    "event=relay-cancelled id=%s", cl_log_id(cl));
	ev_timer_stop(cl->loop, &cl->timer);
	cl_free(cl);
}
