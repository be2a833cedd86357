/* imap: IMAP sessions (foundation scaffold; see imap.h). */
#include "imap/imap.h"
#include "config/auth.h"
#include "config/env.h"
#include "core/base64.h"
#include "core/conn.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define IMAP_TAG_MAX	64
#define IMAP_ARG_MAX	1024	/* user names and passwords */

enum imap_state {
	IMAP_ST_NOTAUTH,	/* RFC 3501 3.1 */
	IMAP_ST_AUTH,		/* 3.2 */
	IMAP_ST_LOGOUT,		/* 3.4 */
};

struct imap_server {
	struct rmail_env	*env;
	enum conf_service	 svc;
	struct listen_service	 ls;
};

struct imap_session {
	struct imap_server	*srv;
	struct conn		*conn;
	enum imap_state		 state;
	char			 tag[IMAP_TAG_MAX + 1];	/* command in progress */
	bool			 sasl_wait;	/* AUTHENTICATE awaits its response line */
	bool			 auth_busy;	/* a password check is running */
	char			*user;		/* once authenticated */
};

static const char *
capabilities(const struct imap_session *s)
{
	if (!conn_is_tls(s->conn))
		return "IMAP4rev1 SASL-IR STARTTLS LOGINDISABLED";
	return "IMAP4rev1 SASL-IR AUTH=PLAIN";
}

/*
 * Parse one astring (atom or quoted string, RFC 3501 section 9) at *pp into
 * out. Returns 0 and advances *pp past it and one following space, or -1.
 */
static int
parse_astring(const char **pp, char *out, size_t outlen)
{
	const char *p = *pp;
	size_t o = 0;

	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0' || *p == '\r' || *p == '\n')
				return -1;
			if (*p == '\\') {
				p++;
				if (*p != '\\' && *p != '"')
					return -1;
			}
			if (o + 1 >= outlen)
				return -1;
			out[o++] = *p;
		}
		p++;
	} else {
		for (; *p != '\0' && *p != ' '; p++) {
			unsigned char c = (unsigned char)*p;

			if (c < 0x21 || c >= 0x7f || strchr("(){%*\"\\", c) != NULL ||
			    o + 1 >= outlen)
				return -1;
			out[o++] = *p;
		}
		if (o == 0)
			return -1;
	}
	out[o] = '\0';
	if (*p == ' ')
		p++;
	else if (*p != '\0')
		return -1;
	*pp = p;
	return 0;
}

static void
auth_done(bool ok, const char *address, void *arg)
{
	struct imap_session *s = arg;

	s->auth_busy = false;
	if (!conn_is_closing(s->conn)) {
		if (ok) {
			s->state = IMAP_ST_AUTH;
			s->user = xstrdup(address);
			conn_set_timeout(s->conn, s->srv->env->conf->limits.imap_timeout_secs);
			log_info(s->srv->ls.name, conn_id(s->conn), conn_ip(s->conn),
			    "event=login user=%s", log_q(address));
			conn_reply(s->conn, "%s OK [CAPABILITY %s] Logged in", s->tag,
			    capabilities(s));
		} else {
			log_info(s->srv->ls.name, conn_id(s->conn), conn_ip(s->conn),
			    "event=auth-failed user=%s", log_q(address));
			conn_reply(s->conn, "%s NO [AUTHENTICATIONFAILED] Authentication failed",
			    s->tag);
		}
		conn_pause(s->conn, false);
	}
	struct conn *c = s->conn;

	conn_unref(&c);	/* the job's reference */
}

static void
start_auth(struct imap_session *s, const char *user, const char *pass)
{
	s->auth_busy = true;
	conn_ref(s->conn);
	conn_pause(s->conn, true);	/* pipelined commands wait for the answer */
	auth_verify_async(s->srv->env, user, pass, auth_done, s);
}

static void
cmd_login(struct imap_session *s, const char *args)
{
	char user[IMAP_ARG_MAX], pass[IMAP_ARG_MAX];

	if (parse_astring(&args, user, sizeof(user)) == -1 ||
	    parse_astring(&args, pass, sizeof(pass)) == -1 || *args != '\0') {
		conn_reply(s->conn, "%s BAD Expected: LOGIN user password", s->tag);
		return;
	}
	start_auth(s, user, pass);
	OPENSSL_cleanse(pass, sizeof(pass));
}

/* RFC 4616 PLAIN: [authzid] NUL authcid NUL passwd, base64. */
static void
sasl_plain(struct imap_session *s, const char *b64)
{
	unsigned char raw[3 * IMAP_ARG_MAX];
	size_t n = strlen(b64);
	ssize_t len;
	const char *authz, *user, *pass;

	if (strcmp(b64, "*") == 0) {
		conn_reply(s->conn, "%s BAD Authentication cancelled", s->tag);
		return;
	}
	if (BASE64_DECODED_MAX(n) >= sizeof(raw) ||
	    (len = base64_decode(b64, n, raw)) == -1) {
		conn_reply(s->conn, "%s BAD Invalid base64 in SASL response", s->tag);
		return;
	}
	raw[len] = '\0';
	authz = (const char *)raw;
	user = memchr(raw, '\0', (size_t)len);
	pass = user != NULL ? memchr(user + 1, '\0', (size_t)len - (size_t)(user + 1 - authz)) : NULL;
	if (user == NULL || pass == NULL || (*authz != '\0' &&
	    ascii_casecmp(authz, user + 1) != 0)) {
		conn_reply(s->conn, "%s NO [AUTHENTICATIONFAILED] Authentication failed", s->tag);
		OPENSSL_cleanse(raw, sizeof(raw));
		return;
	}
	start_auth(s, user + 1, pass + 1);
	OPENSSL_cleanse(raw, sizeof(raw));
}

static void
cmd_authenticate(struct imap_session *s, const char *args)
{
	size_t mlen = strcspn(args, " ");

	if (mlen != 5 || ascii_ncasecmp(args, "PLAIN", 5) != 0) {
		conn_reply(s->conn, "%s NO [CANNOT] Unsupported authentication mechanism", s->tag);
		return;
	}
	if (args[5] == ' ') {
		sasl_plain(s, args + 6);	/* SASL-IR, RFC 4959 */
		return;
	}
	s->sasl_wait = true;
	conn_reply(s->conn, "+ ");
}

static void
imap_command(struct imap_session *s, char *line)
{
	const char *cmd, *args;
	size_t tlen = strcspn(line, " ");
	size_t clen;

	if (tlen == 0 || tlen > IMAP_TAG_MAX || line[tlen] != ' ') {
		conn_reply(s->conn, "* BAD Missing or invalid tag");
		return;
	}
	memcpy(s->tag, line, tlen);
	s->tag[tlen] = '\0';
	if (strpbrk(s->tag, "+(){%*\"\\") != NULL) {
		conn_reply(s->conn, "* BAD Invalid tag");
		return;
	}
	cmd = line + tlen + 1;
	clen = strcspn(cmd, " ");
	args = cmd[clen] == ' ' ? cmd + clen + 1 : cmd + clen;
#define IS(name) (clen == sizeof(name) - 1 && ascii_ncasecmp(cmd, name, clen) == 0)
	if (IS("CAPABILITY")) {
		conn_reply(s->conn, "* CAPABILITY %s", capabilities(s));
		conn_reply(s->conn, "%s OK CAPABILITY completed", s->tag);
	} else if (IS("NOOP")) {
		conn_reply(s->conn, "%s OK NOOP completed", s->tag);
	} else if (IS("LOGOUT")) {
		conn_reply(s->conn, "* BYE Logging out");
		conn_reply(s->conn, "%s OK LOGOUT completed", s->tag);
		s->state = IMAP_ST_LOGOUT;
		conn_close(s->conn, CONN_CLOSE_FLUSH, "logout");
	} else if (IS("STARTTLS") && s->state == IMAP_ST_NOTAUTH) {
		if (conn_is_tls(s->conn)) {
			conn_reply(s->conn, "%s BAD TLS is already active", s->tag);
			return;
		}
		conn_reply(s->conn, "%s OK Begin TLS negotiation now", s->tag);
		conn_starttls(s->conn, s->srv->env->tls);
	} else if ((IS("LOGIN") || IS("AUTHENTICATE")) && s->state == IMAP_ST_NOTAUTH) {
		if (!conn_is_tls(s->conn)) {
			conn_reply(s->conn, "%s NO [PRIVACYREQUIRED] Use STARTTLS first", s->tag);
			return;
		}
		if (IS("LOGIN"))
			cmd_login(s, args);
		else
			cmd_authenticate(s, args);
	} else {
		conn_reply(s->conn, "%s BAD Unknown command or wrong state", s->tag);
	}
#undef IS
}

static void
imap_on_data(struct conn *c, void *ctx)
{
	struct imap_session *s = ctx;
	char *line;
	size_t len;
	bool crlf;

	while (!conn_is_closing(c) && !s->auth_busy) {
		switch (conn_line(c, &line, &len, &crlf)) {
		case CONN_LINE_MORE:
			return;
		case CONN_LINE_TOOLONG:
			s->sasl_wait = false;
			conn_reply(s->conn, "* BAD [TOOBIG] Command line too long");
			break;
		case CONN_LINE_OK:
			if (strlen(line) != len) {
				conn_reply(s->conn, "* BAD NUL byte in command");
			} else if (s->sasl_wait) {
				s->sasl_wait = false;
				sasl_plain(s, line);
				OPENSSL_cleanse(line, len);
			} else {
				imap_command(s, line);
			}
			break;
		}
	}
}

static void
imap_on_timeout(struct conn *c, void *ctx)
{
	struct imap_session *s = ctx;

	conn_reply(s->conn, "* BYE Autologout; idle for too long");
	conn_close(c, CONN_CLOSE_FLUSH, "timeout");
}

static void
imap_on_shutdown(struct conn *c, void *ctx)
{
	struct imap_session *s = ctx;

	conn_reply(s->conn, "* BYE Server shutting down");
	conn_close(c, CONN_CLOSE_FLUSH, "shutdown");
}

static void
imap_on_free(void *ctx)
{
	struct imap_session *s = ctx;

	free(s->user);
	free(s);
}

static const struct conn_proto imap_proto = {
	.on_data = imap_on_data,
	.on_timeout = imap_on_timeout,
	.on_shutdown = imap_on_shutdown,
	.on_free = imap_on_free,
};

static void
imap_open(struct conn *c, void *arg)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));

	s->srv = arg;
	s->conn = c;
	conn_set_proto(c, &imap_proto, s);
	conn_set_timeout(c, s->srv->env->conf->limits.login_timeout_secs);
	conn_reply(s->conn, "* OK [CAPABILITY %s] %s rmail ready",
	    s->srv->ls.implicit_tls ? "IMAP4rev1 SASL-IR AUTH=PLAIN" : capabilities(s),
	    s->srv->env->conf->hostname);
}

static const char *
imap_busy(void *arg, bool per_ip)
{
	(void)arg;
	return per_ip ? "* BYE [UNAVAILABLE] Too many connections from your address\r\n" :
	    "* BYE [UNAVAILABLE] Too many connections, try again later\r\n";
}

void
imap_server_configure(struct imap_server *srv)
{
	const struct conf *cf = srv->env->conf;

	srv->ls.line_max = cf->limits.imap_line_bytes;
	srv->ls.out_max = cf->limits.output_buffer_bytes;
	srv->ls.timeout_secs = cf->limits.login_timeout_secs;
}

struct imap_server *
imap_server_new(struct rmail_env *env, enum conf_service svc)
{
	struct imap_server *srv = xcalloc(1, sizeof(*srv));

	srv->env = env;
	srv->svc = svc;
	srv->ls.name = conf_service_name(svc);
	srv->ls.implicit_tls = svc == CONF_SVC_IMAPS;
	srv->ls.open = imap_open;
	srv->ls.busy = imap_busy;
	srv->ls.arg = srv;
	imap_server_configure(srv);
	return srv;
}

void
imap_server_free(struct imap_server **srvp)
{
	FREE_NULL(*srvp);
}

struct listen_service *
imap_server_service(struct imap_server *srv)
{
	return &srv->ls;
}
