/* smtp: SMTP sessions (foundation scaffold; see smtp.h). */
#include "smtp/smtp.h"
#include "config/env.h"
#include "core/conn.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct smtp_server {
	struct rmail_env	*env;
	enum conf_service	 svc;
	struct listen_service	 ls;
	char			 busy_ip[160];
	char			 busy_all[160];
};

struct smtp_session {
	struct smtp_server	*srv;
	struct conn		*conn;
	unsigned		 errors;	/* bad commands; 421 past the limit */
};

#define SMTP_MAX_ERRORS	10

static const char *
hostname(const struct smtp_session *s)
{
	return s->srv->env->conf->hostname;
}

static void
smtp_error(struct smtp_session *s)
{
	if (++s->errors < SMTP_MAX_ERRORS)
		return;
	conn_reply(s->conn, "421 4.7.0 %s Too many errors, closing connection", hostname(s));
	conn_close(s->conn, CONN_CLOSE_FLUSH, "too many errors");
}

static void
smtp_command(struct smtp_session *s, const char *line)
{
	size_t vlen = strcspn(line, " ");

	if (vlen == 4 && ascii_ncasecmp(line, "NOOP", 4) == 0) {
		conn_reply(s->conn, "250 2.0.0 OK");
	} else if (vlen == 4 && ascii_ncasecmp(line, "QUIT", 4) == 0) {
		conn_reply(s->conn, "221 2.0.0 %s closing connection", hostname(s));
		conn_close(s->conn, CONN_CLOSE_FLUSH, "quit");
	} else {
		conn_reply(s->conn, "502 5.5.1 Command not implemented");
		smtp_error(s);
	}
}

static void
smtp_on_data(struct conn *c, void *ctx)
{
	struct smtp_session *s = ctx;
	char *line;
	size_t len;
	bool crlf;

	while (!conn_is_closing(c)) {
		switch (conn_line(c, &line, &len, &crlf)) {
		case CONN_LINE_MORE:
			return;
		case CONN_LINE_TOOLONG:
			conn_reply(s->conn, "500 5.5.2 Line too long");
			smtp_error(s);
			break;
		case CONN_LINE_OK:
			smtp_command(s, line);
			break;
		}
	}
}

static void
smtp_on_timeout(struct conn *c, void *ctx)
{
	struct smtp_session *s = ctx;

	conn_reply(s->conn, "421 4.4.2 %s Timeout exceeded, closing connection", hostname(s));
	conn_close(c, CONN_CLOSE_FLUSH, "timeout");
}

static void
smtp_on_shutdown(struct conn *c, void *ctx)
{
	struct smtp_session *s = ctx;

	conn_reply(s->conn, "421 4.3.2 %s Service shutting down", hostname(s));
	conn_close(c, CONN_CLOSE_FLUSH, "shutdown");
}

static void
smtp_on_free(void *ctx)
{
	free(ctx);
}

static const struct conn_proto smtp_proto = {
	.on_data = smtp_on_data,
	.on_timeout = smtp_on_timeout,
	.on_shutdown = smtp_on_shutdown,
	.on_free = smtp_on_free,
};

static void
smtp_open(struct conn *c, void *arg)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->srv = arg;
	s->conn = c;
	conn_set_proto(c, &smtp_proto, s);
	conn_reply(s->conn, "220 %s ESMTP rmail", hostname(s));
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
