/*
 * smtp: listener glue, session life cycle and the input pump.
 *
 * Input is taken from the conn as raw bytes into the session's own buffer
 * (capped at the command line limit) and split into lines here, because a
 * message body is read with different rules (no line cap, CRLF-only, exact
 * BDAT byte counts) and the bytes after a message's end may already hold
 * the next pipelined commands.
 */
#include "smtp/smtp_private.h"
#include "config/env.h"
#include "core/conn.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
smtp_hostname(const struct smtp_session *s)
{
	return s->srv->env->conf->hostname;
}

bool
smtp_is_submission(const struct smtp_session *s)
{
	return s->srv->svc != CONF_SVC_SMTP;
}

void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	conn_reply(s->conn, "%s", line);
}

void
smtp_error(struct smtp_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	conn_reply(s->conn, "%s", line);
	if (++s->errors < SMTP_MAX_ERRORS)
		return;
	log_info(s->srv->ls.name, conn_id(s->conn), conn_ip(s->conn),
	    "event=too-many-errors");
	conn_reply(s->conn, "421 4.7.0 %s Too many errors, closing connection",
	    smtp_hostname(s));
	conn_close(s->conn, CONN_CLOSE_FLUSH, "too many errors");
}

void
smtp_set_busy(struct smtp_session *s, bool busy)
{
	s->busy = busy;
	conn_pause(s->conn, busy);
}

/*
 * One command or SASL line from s->in. Returns true when it used input,
 * false when a whole line is not buffered yet.
 */
static bool
smtp_line(struct smtp_session *s)
{
	ssize_t n = s->in.len > 0 ? buf_find_lf(&s->in) : -1;
	char *line;
	size_t len;
	bool crlf;

	if (s->skipping) {
		if (n == -1) {
			buf_consume(&s->in, s->in.len);
			return false;
		}
		buf_consume(&s->in, (size_t)n);
		s->skipping = false;
		return true;
	}
	if (n == -1) {
		if (s->in.len < s->in.max)
			return false;
		buf_consume(&s->in, s->in.len);
		s->skipping = true;
		s->sasl = SMTP_SASL_NONE;
		if (s->input == SMTP_IN_SASL)
			s->input = SMTP_IN_CMD;
		smtp_error(s, "500 5.5.2 Line too long");
		return true;
	}
	/* Consumed first: the bytes stay in place until the next append. */
	line = (char *)buf_head(&s->in);
	buf_consume(&s->in, (size_t)n);
	len = (size_t)n - 1;
	crlf = len > 0 && line[len - 1] == '\r';
	if (crlf)
		len--;
	line[len] = '\0';
	if (!crlf || memchr(line, '\r', len) != NULL || strlen(line) != len) {
		/* A bare LF or CR, or NUL: never guess where a command ends. */
		if (s->input == SMTP_IN_SASL) {
			s->input = SMTP_IN_CMD;
			s->sasl = SMTP_SASL_NONE;
		}
		smtp_error(s, "500 5.5.2 Syntax error: command lines end with CRLF");
		return true;
	}
	if (s->input == SMTP_IN_SASL)
		smtp_sasl_line(s, line, len);
	else
		smtp_command(s, line);
	return true;
}

/* Between MAIL and the end of the message (or of the last BDAT chunk). */
static bool
in_transaction(const struct smtp_session *s)
{
	return s->state >= SMTP_ST_MAIL || s->input == SMTP_IN_DATA ||
	    s->input == SMTP_IN_BDAT;
}

static void
goodbye(struct smtp_session *s)
{
	smtp_auth_cancel(s);
	conn_reply(s->conn, "421 4.3.2 %s Service shutting down", smtp_hostname(s));
	conn_close(s->conn, CONN_CLOSE_FLUSH, "shutdown");
}

void
smtp_pump(struct smtp_session *s)
{
	struct conn *c = s->conn;
	const uint8_t *p;
	size_t n, used;

	conn_ref(c);
	while (!conn_is_closing(c) && !s->busy) {
		/* A stopping server let the transaction finish: it has. */
		if (s->stopping && !in_transaction(s)) {
			goodbye(s);
			break;
		}
		if (s->input == SMTP_IN_DATA || s->input == SMTP_IN_BDAT) {
			if (s->in.len > 0) {
				used = smtp_data_input(s, buf_head(&s->in), s->in.len);
				buf_consume(&s->in, used);
				continue;
			}
			/* Straight from the conn; keep what follows the end. */
			if ((n = conn_take(c, &p, SIZE_MAX)) == 0)
				break;
			used = smtp_data_input(s, p, n);
			if (used < n && buf_append(&s->in, p + used, n - used) == -1) {
				conn_close(c, CONN_CLOSE_ABORT, "input overflow");
				break;
			}
			continue;
		}
		if (smtp_line(s))
			continue;
		if ((n = conn_take(c, &p, s->in.max - s->in.len)) == 0)
			break;
		buf_append(&s->in, p, n);
	}
	conn_unref(&c);
}

static void
smtp_on_data(struct conn *c, void *ctx)
{
	(void)c;
	smtp_pump(ctx);
}

static void
smtp_on_timeout(struct conn *c, void *ctx)
{
	struct smtp_session *s = ctx;

	/* An AUTH answer held back by the throttle would never be sent now;
	 * its timer must not keep the session alive past the close (at exit,
	 * nothing would ever run it). */
	smtp_auth_cancel(s);
	conn_reply(s->conn, "421 4.4.2 %s Timeout exceeded, closing connection",
	    smtp_hostname(s));
	conn_close(c, CONN_CLOSE_FLUSH, "timeout");
}

static void
smtp_on_tls_ready(struct conn *c, void *ctx)
{
	struct smtp_session *s = ctx;

	(void)c;
	/* RFC 3207 4.2: the client starts over with EHLO. */
	smtp_session_reset(s);
}

static void
smtp_on_hangup(struct conn *c, void *ctx)
{
	struct smtp_session *s = ctx;

	(void)c;
	if (in_transaction(s))
		log_info(s->srv->ls.name, conn_id(s->conn), conn_ip(s->conn),
		    "event=aborted reason=\"client closed during transaction\"");
	smtp_auth_cancel(s);
}

/*
 * A server stop: idle sessions get 421 now; one inside a transaction may
 * finish it (its 250 is a promise worth keeping) and gets the 421 right
 * after, or is cut at the end of the grace period.
 */
static void
smtp_on_shutdown(struct conn *c, void *ctx)
{
	struct smtp_session *s = ctx;

	(void)c;
	s->stopping = true;
	if (in_transaction(s)) {
		log_info(s->srv->ls.name, conn_id(s->conn), conn_ip(s->conn),
		    "event=shutdown-wait msg=\"finishing the transaction in progress\"");
		return;
	}
	goodbye(s);
}

static void
smtp_on_free(void *ctx)
{
	struct smtp_session *s = ctx;

	smtp_session_reset(s);
	buf_release(&s->in);
	free(s->delay);
	free(s);
}

static const struct conn_proto smtp_proto = {
	.on_data = smtp_on_data,
	.on_timeout = smtp_on_timeout,
	.on_tls_ready = smtp_on_tls_ready,
	.on_hangup = smtp_on_hangup,
	.on_shutdown = smtp_on_shutdown,
	.on_free = smtp_on_free,
};

static void
smtp_open(struct conn *c, void *arg)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->srv = arg;
	s->conn = c;
	buf_init(&s->in, s->srv->env->conf->limits.smtp_line_bytes);
	conn_set_proto(c, &smtp_proto, s);
	conn_reply(s->conn, "220 %s ESMTP rmail", smtp_hostname(s));
}

static const char *
smtp_busy(void *arg, bool per_ip)
{
	struct smtp_server *srv = arg;

	return per_ip ? srv->busy_ip : srv->busy_all;
}

void
smtp_server_configure(struct smtp_server *srv)
{
	const struct conf *cf = srv->env->conf;

	srv->ls.line_max = cf->limits.smtp_line_bytes;
	srv->ls.out_max = cf->limits.output_buffer_bytes;
	srv->ls.timeout_secs = cf->limits.smtp_timeout_secs;
	snprintf(srv->busy_ip, sizeof(srv->busy_ip),
	    "421 4.7.0 %s Too many connections from your address\r\n", cf->hostname);
	snprintf(srv->busy_all, sizeof(srv->busy_all),
	    "421 4.3.2 %s Too many connections, try again later\r\n", cf->hostname);
}

struct smtp_server *
smtp_server_new(struct rmail_env *env, enum conf_service svc)
{
	struct smtp_server *srv = xcalloc(1, sizeof(*srv));

	srv->env = env;
	srv->svc = svc;
	srv->ls.name = conf_service_name(svc);
	srv->ls.implicit_tls = svc == CONF_SVC_SUBMISSIONS;
	srv->ls.open = smtp_open;
	srv->ls.busy = smtp_busy;
	srv->ls.arg = srv;
	smtp_server_configure(srv);
	return srv;
}

void
smtp_server_free(struct smtp_server **srvp)
{
	FREE_NULL(*srvp);
}

struct listen_service *
smtp_server_service(struct smtp_server *srv)
{
	return &srv->ls;
}
