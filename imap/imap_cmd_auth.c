/*
 * imap_cmd_auth: STARTTLS, LOGIN and AUTHENTICATE (PLAIN with SASL-IR,
 * LOGIN) (RFC 3501 6.2, RFC 4959, RFC 4616). Passwords are checked on the
 * worker pool (config/auth.h), only over TLS unless the config allows
 * plaintext from loopback peers; input is held while a check runs.
 */
#include "imap/imap_private.h"
#include "config/auth.h"
#include "config/env.h"
#include "core/base64.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/net.h"
#include "core/util.h"
#include "store/user.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define IMAP_CRED_MAX	1024	/* user names and passwords */

enum {
	SASL_NONE,
	SASL_PLAIN,
	SASL_LOGIN_USER,
	SASL_LOGIN_PASS,
};

static bool
login_allowed(struct imap_session *s)
{
	return conn_is_tls(s->conn) ||
	    (s->srv->env->conf->tls_plaintext_loopback &&
	    net_is_loopback(conn_peer(s->conn)));
}

void
imap_cmd_starttls(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		imap_tagged(s, "BAD STARTTLS takes no arguments");
		return;
	}
	if (conn_is_tls(s->conn)) {
		imap_tagged(s, "BAD TLS is already active");
		return;
	}
	imap_tagged(s, "OK Begin TLS negotiation now");
	/* conn drops whatever the client pipelined after the command. */
	conn_starttls(s->conn, s->srv->env->tls);
}

static void
auth_done(bool ok, const char *address, void *arg)
{
	struct imap_session *s = arg;
	struct conn *c = s->conn;
	char dir[4096], err[256];

	s->auth_busy = false;
	if (!conn_is_closing(c)) {
		if (ok && store_user_ensure(s->srv->env->conf->data_dir, address,
		    dir, sizeof(dir), err, sizeof(err)) == -1) {
			log_error(s->srv->ls.name, conn_id(c), conn_ip(c),
			    "event=login-failed user=%s error=%s",
			    log_q(address), log_q(err));
			imap_tagged(s, "NO [UNAVAILABLE] Mail storage unavailable");
		} else if (ok) {
			s->state = IMAP_ST_AUTH;
			s->user = xstrdup(address);
			s->user_dir = xstrdup(dir);
			conn_set_deadline(c, 0);	/* the login phase's */
			conn_set_timeout(c,
			    s->srv->env->conf->limits.imap_timeout_secs);
			log_info(s->srv->ls.name, conn_id(c), conn_ip(c),
			    "event=login user=%s", log_q(address));
			imap_tagged(s, "OK [CAPABILITY %s] Logged in",
			    imap_capabilities(s));
		} else {
			log_info(s->srv->ls.name, conn_id(c), conn_ip(c),
			    "event=auth-failed user=%s", log_q(address));
			imap_tagged(s, "NO [AUTHENTICATIONFAILED] "
			    "Authentication failed");
		}
		conn_pause(c, false);
	}
	conn_unref(&c);	/* the job's reference */
}

static void
start_auth(struct imap_session *s, const char *user, const char *pass)
{
	s->auth_busy = true;
	conn_ref(s->conn);
	conn_pause(s->conn, true);	/* pipelined commands wait */
	auth_verify_async(s->srv->env, user, pass, auth_done, s);
}

void
imap_cmd_login(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *user, *pass;

	if (!login_allowed(s)) {
		imap_tagged(s, "NO [PRIVACYREQUIRED] Use STARTTLS first");
		return;
	}
	if (cmd->nargs != 2 || (user = imap_arg_astring(&cmd->args[0])) == NULL ||
	    (pass = imap_arg_astring(&cmd->args[1])) == NULL) {
		imap_tagged(s, "BAD Expected: LOGIN user password");
		return;
	}
	if (strlen(user) > IMAP_CRED_MAX || strlen(pass) > IMAP_CRED_MAX) {
		imap_tagged(s, "NO [AUTHENTICATIONFAILED] Authentication failed");
		return;
	}
	start_auth(s, user, pass);
	OPENSSL_cleanse(cmd->args[1].str, cmd->args[1].len);
}

/* RFC 4616 PLAIN: [authzid] NUL authcid NUL passwd. */
static void
sasl_plain(struct imap_session *s, const unsigned char *raw, size_t len)
{
	const char *authz = (const char *)raw, *user, *pass;

	user = memchr(raw, '\0', len);
	pass = user != NULL ? memchr(user + 1, '\0',
	    len - (size_t)(user + 1 - authz)) : NULL;
	if (user == NULL || pass == NULL || (*authz != '\0' &&
	    ascii_casecmp(authz, user + 1) != 0) ||
	    memchr(pass + 1, '\0', len - (size_t)(pass + 1 - authz)) != NULL) {
		imap_tagged(s, "NO [AUTHENTICATIONFAILED] Authentication failed");
		return;
	}
	start_auth(s, user + 1, pass + 1);
}

/* A client response: base64, or "*" to cancel. */
static void
sasl_step(struct imap_session *s, const char *b64)
{
	unsigned char raw[3 * IMAP_CRED_MAX + 4];
	size_t n = strlen(b64);
	ssize_t len;
	unsigned mech = s->sasl_mech;

	s->sasl_wait = false;
	s->sasl_mech = SASL_NONE;
	if (strcmp(b64, "*") == 0) {
		imap_tagged(s, "BAD Authentication cancelled");
		goto out;
	}
	if (BASE64_DECODED_MAX(n) >= sizeof(raw) ||
	    (len = base64_decode(b64, n, raw)) == -1) {
		imap_tagged(s, "BAD Invalid base64 in SASL response");
		goto out;
	}
	raw[len] = '\0';
	switch (mech) {
	case SASL_PLAIN:
		sasl_plain(s, raw, (size_t)len);
		break;
	case SASL_LOGIN_USER:
		if (memchr(raw, '\0', (size_t)len) != NULL) {
			imap_tagged(s, "BAD Invalid user name");
			break;
		}
		free(s->sasl_user);
		s->sasl_user = xstrdup((char *)raw);
		s->sasl_mech = SASL_LOGIN_PASS;
		s->sasl_wait = true;
		conn_reply(s->conn, "+ UGFzc3dvcmQ6");	/* "Password:" */
		break;
	case SASL_LOGIN_PASS:
		if (memchr(raw, '\0', (size_t)len) != NULL)
			imap_tagged(s, "NO [AUTHENTICATIONFAILED] "
			    "Authentication failed");
		else
			start_auth(s, s->sasl_user, (char *)raw);
		break;
	}
	OPENSSL_cleanse(raw, sizeof(raw));
out:
	if (!s->sasl_wait && s->sasl_user != NULL) {
		OPENSSL_cleanse(s->sasl_user, strlen(s->sasl_user));
		FREE_NULL(s->sasl_user);
	}
}

void
imap_sasl_line(struct imap_session *s, char *line, size_t len)
{
	if (strlen(line) != len) {
		s->sasl_wait = false;
		s->sasl_mech = SASL_NONE;
		imap_tagged(s, "BAD NUL byte in SASL response");
		return;
	}
	sasl_step(s, line);
}

void
imap_cmd_authenticate(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *mech, *ir = NULL;

	if (!login_allowed(s)) {
		imap_tagged(s, "NO [PRIVACYREQUIRED] Use STARTTLS first");
		return;
	}
	if (cmd->nargs < 1 || cmd->nargs > 2 ||
	    (mech = imap_arg_astring(&cmd->args[0])) == NULL ||
	    (cmd->nargs == 2 && (ir = imap_arg_astring(&cmd->args[1])) == NULL)) {
		imap_tagged(s, "BAD Expected: AUTHENTICATE mechanism [response]");
		return;
	}
	if (ascii_casecmp(mech, "PLAIN") == 0) {
		s->sasl_mech = SASL_PLAIN;
	} else if (ascii_casecmp(mech, "LOGIN") == 0) {
		s->sasl_mech = SASL_LOGIN_USER;
	} else {
		imap_tagged(s, "NO [CANNOT] Unsupported authentication mechanism");
		return;
	}
	if (ir != NULL) {	/* SASL-IR, RFC 4959; "=" is an empty response */
		char copy[4 * IMAP_CRED_MAX];

		if (strlen(ir) >= sizeof(copy)) {
			s->sasl_mech = SASL_NONE;
			imap_tagged(s, "BAD Initial response too long");
			return;
		}
		str_lcpy(copy, strcmp(ir, "=") == 0 ? "" : ir, sizeof(copy));
		OPENSSL_cleanse(cmd->args[1].str, cmd->args[1].len);
		sasl_step(s, copy);
		OPENSSL_cleanse(copy, sizeof(copy));
		return;
	}
	s->sasl_wait = true;
	conn_reply(s->conn, s->sasl_mech == SASL_LOGIN_USER ?
	    "+ VXNlcm5hbWU6" : "+ ");	/* "Username:" */
}
