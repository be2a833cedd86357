/*
 * smtp auth: AUTH PLAIN and LOGIN (RFC 4954, RFC 4616), with an initial
 * response or after a 334 challenge, on submission and submissions only,
 * and only over TLS.
 *
 * The password is checked on the worker pool (config/auth.h); the session
 * holds a reference on its conn for the job, and stops reading input until
 * the answer (pipelined commands wait). Failures are counted per client IP
 * and per account in the server's table: past AUTH_DELAY_AT every
 * answer, success or not, is delayed (so a client cannot learn it sooner
 * by hanging up), and past AUTH_LOCK_AT the client gets 421.
 */
#include "smtp/smtp_private.h"
#include "config/auth.h"
#include "config/env.h"
#include "core/base64.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/throttle.h"
#include "core/util.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct smtp_delay {
	ev_timer		 timer;
	struct smtp_session	*s;
	bool			 active;
};

static void
ip_key(const struct smtp_session *s, char *key, size_t len)
{
	snprintf(key, len, "ip:%s", conn_ip(s->conn));
}

static void
user_key(const char *user, char *key, size_t len)
{
	snprintf(key, len, "user:%s", user);
	ascii_lower(key);
}

/* ----- the exchange ----- */

static void
auth_finish(struct smtp_session *s)
{
	struct smtp_server *srv = s->srv;
	struct throttle *th = srv->env->auth_throttle;
	struct conn *c = s->conn;
	char ik[THROTTLE_KEY_MAX], uk[THROTTLE_KEY_MAX];
	time_t now = time(NULL);

	ip_key(s, ik, sizeof(ik));
	user_key(s->auth_try != NULL ? s->auth_try : "", uk, sizeof(uk));
	if (!conn_is_closing(c)) {
		if (s->auth_ok) {
			throttle_clear(th, uk);
			s->auth_user = s->auth_try;
			s->auth_try = NULL;
			log_info(srv->ls.name, conn_id(c), conn_ip(c),
			    "event=auth user=%s", log_q(s->auth_user));
			smtp_reply(s, "235 2.7.0 Authentication successful");
		} else if (throttle_count(th, ik, now) >= AUTH_LOCK_AT ||
		    throttle_count(th, uk, now) >= AUTH_LOCK_AT) {
			log_info(srv->ls.name, conn_id(c), conn_ip(c),
			    "event=auth-locked user=%s", log_q(s->auth_try));
			smtp_reply(s, "421 4.7.0 %s Too many authentication failures, closing connection",
			    smtp_hostname(s));
			conn_close(c, CONN_CLOSE_FLUSH, "auth failures");
		} else {
			smtp_error(s, "535 5.7.8 Authentication credentials invalid");
		}
	}
	FREE_NULL(s->auth_try);
	s->busy = false;
	if (!conn_is_closing(c)) {
		conn_pause(c, false);
		smtp_pump(s);	/* commands pipelined behind AUTH */
	}
	conn_unref(&c);		/* the check's reference */
}

static void
delay_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct smtp_delay *d = w->data;

	(void)loop;
	(void)revents;
	d->active = false;
	auth_finish(d->s);
}

static void
auth_done(bool ok, const char *address, void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_server *srv = s->srv;
	struct throttle *th = srv->env->auth_throttle;
	char ik[THROTTLE_KEY_MAX], uk[THROTTLE_KEY_MAX];
	time_t now = time(NULL);
	unsigned n, nu, delay;

	ip_key(s, ik, sizeof(ik));
	user_key(s->auth_try, uk, sizeof(uk));
	n = throttle_count(th, ik, now);
	nu = throttle_count(th, uk, now);
	if (nu > n)
		n = nu;
	s->auth_ok = ok;
	if (ok) {
		free(s->auth_try);
		s->auth_try = xstrdup(address);
	} else {
		log_info(srv->ls.name, conn_id(s->conn), conn_ip(s->conn),
		    "event=auth-failed user=%s", log_q(s->auth_try));
		throttle_fail(th, ik, now);
		throttle_fail(th, uk, now);
	}
	if (n < AUTH_DELAY_AT || conn_is_closing(s->conn)) {
		auth_finish(s);
		return;
	}
	delay = n - AUTH_DELAY_AT >= 5 ? AUTH_DELAY_MAX :
	    1u << (n - AUTH_DELAY_AT);
	if (delay > AUTH_DELAY_MAX)
		delay = AUTH_DELAY_MAX;
	if (s->delay == NULL)
		s->delay = xcalloc(1, sizeof(struct smtp_delay));
	struct smtp_delay *d = s->delay;

	d->s = s;
	ev_timer_init(&d->timer, delay_cb, (double)delay, 0.);
	d->timer.data = d;
	d->active = true;
	ev_timer_start(srv->env->loop, &d->timer);
}

void
smtp_auth_cancel(struct smtp_session *s)
{
	struct smtp_delay *d = s->delay;

	if (d == NULL || !d->active)
		return;
	ev_timer_stop(s->srv->env->loop, &d->timer);
	d->active = false;
	/* The client is gone or the server stops: no answer, no more input. */
	FREE_NULL(s->auth_try);
	s->busy = false;
	struct conn *c = s->conn;

	conn_unref(&c);		/* the check's reference */
}

static void
start_auth(struct smtp_session *s, const char *user, const char *pass)
{
	free(s->auth_try);
	s->auth_try = xstrdup(user);
	conn_ref(s->conn);
	smtp_set_busy(s, true);
	auth_verify_async(s->srv->env, user, pass, auth_done, s);
}

/* Decode a SASL response; malloc'd and NUL-terminated, or NULL. */
static char *
sasl_decode(const char *b64, size_t *len_r)
{
	size_t n = strlen(b64);
	size_t cap = BASE64_DECODED_MAX(n) + 1;
	char *raw = xmalloc(cap);
	ssize_t len = 0;

	if (strcmp(b64, "=") != 0 &&
	    (len = base64_decode(b64, n, (unsigned char *)raw)) == -1) {
		free(raw);
		return NULL;
	}
	raw[len] = '\0';
	*len_r = (size_t)len;
	return raw;
}

static void
sasl_free(char *raw, size_t len)
{
	if (raw == NULL)
		return;
	OPENSSL_cleanse(raw, len + 1);
	free(raw);
}

/* RFC 4616: [authzid] NUL authcid NUL passwd. */
static void
sasl_plain(struct smtp_session *s, const char *b64)
{
	size_t len;
	char *raw = sasl_decode(b64, &len);
	char *user, *pass;

	if (raw == NULL) {
		smtp_error(s, "501 5.5.2 Invalid base64 data");
		return;
	}
	user = memchr(raw, '\0', len);
	pass = user != NULL && (size_t)(user - raw) < len ?
	    memchr(user + 1, '\0', len - (size_t)(user + 1 - raw)) : NULL;
	if (user == NULL || pass == NULL || user[1] == '\0' ||
	    (*raw != '\0' && ascii_casecmp(raw, user + 1) != 0)) {
		sasl_free(raw, len);
		smtp_error(s, "535 5.7.8 Authentication credentials invalid");
		return;
	}
	start_auth(s, user + 1, pass + 1);
	sasl_free(raw, len);
}

void
smtp_sasl_line(struct smtp_session *s, char *line, size_t len)
{
	enum smtp_sasl step = s->sasl;
	size_t rlen;
	char *raw;

	s->input = SMTP_IN_CMD;
	s->sasl = SMTP_SASL_NONE;
	if (strcmp(line, "*") == 0) {
		FREE_NULL(s->sasl_user);
		smtp_error(s, "501 5.0.0 Authentication cancelled");
		return;
	}
	switch (step) {
	case SMTP_SASL_PLAIN:
		sasl_plain(s, line);
		break;
	case SMTP_SASL_LOGIN_USER:
	case SMTP_SASL_LOGIN_PASS:
		if ((raw = sasl_decode(line, &rlen)) == NULL ||
		    strlen(raw) != rlen) {
			sasl_free(raw, raw != NULL ? rlen : 0);
			FREE_NULL(s->sasl_user);
			smtp_error(s, "501 5.5.2 Invalid base64 data");
			break;
		}
		if (step == SMTP_SASL_LOGIN_USER) {
			free(s->sasl_user);
			s->sasl_user = raw;
			s->sasl = SMTP_SASL_LOGIN_PASS;
			s->input = SMTP_IN_SASL;
			smtp_reply(s, "334 UGFzc3dvcmQ6");	/* "Password:" */
			break;
		}
		start_auth(s, s->sasl_user, raw);
		FREE_NULL(s->sasl_user);
		sasl_free(raw, rlen);
		break;
	case SMTP_SASL_NONE:
		break;
	}
	OPENSSL_cleanse(line, len);
}

void
cmd_auth(struct smtp_session *s, char *args)
{
	struct smtp_server *srv = s->srv;
	const struct throttle *th = srv->env->auth_throttle;
	char ik[THROTTLE_KEY_MAX];
	char *mech = args, *initial;
	size_t rlen;

	if (!smtp_is_submission(s)) {
		smtp_error(s, "503 5.5.1 AUTH not available on this port");
		return;
	}
	if (!conn_is_tls(s->conn)) {
		smtp_error(s, "538 5.7.11 Encryption required for requested authentication mechanism");
		return;
	}
	if (s->auth_user != NULL) {
		smtp_error(s, "503 5.5.1 Already authenticated");
		return;
	}
	ip_key(s, ik, sizeof(ik));
	if (throttle_count(th, ik, time(NULL)) >= AUTH_LOCK_AT) {
		log_info(srv->ls.name, conn_id(s->conn), conn_ip(s->conn),
		    "event=auth-locked");
		smtp_reply(s, "421 4.7.0 %s Too many authentication failures, closing connection",
		    smtp_hostname(s));
		conn_close(s->conn, CONN_CLOSE_FLUSH, "auth failures");
		return;
	}
	initial = mech + strcspn(mech, " ");
	if (*initial == ' ')
		*initial++ = '\0';
	if (ascii_casecmp(mech, "PLAIN") == 0) {
		if (*initial != '\0') {
			sasl_plain(s, initial);
			OPENSSL_cleanse(initial, strlen(initial));
			return;
		}
		s->sasl = SMTP_SASL_PLAIN;
		s->input = SMTP_IN_SASL;
		smtp_reply(s, "334 ");
	} else if (ascii_casecmp(mech, "LOGIN") == 0) {
		if (*initial != '\0') {
			char *raw = sasl_decode(initial, &rlen);

			if (raw == NULL || strlen(raw) != rlen) {
				sasl_free(raw, raw != NULL ? rlen : 0);
				smtp_error(s, "501 5.5.2 Invalid base64 data");
				return;
			}
			free(s->sasl_user);
			s->sasl_user = raw;
			s->sasl = SMTP_SASL_LOGIN_PASS;
			s->input = SMTP_IN_SASL;
			smtp_reply(s, "334 UGFzc3dvcmQ6");
			return;
		}
		s->sasl = SMTP_SASL_LOGIN_USER;
		s->input = SMTP_IN_SASL;
		smtp_reply(s, "334 VXNlcm5hbWU6");	/* "Username:" */
	} else {
		smtp_error(s, "504 5.5.4 Unrecognized authentication type");
	}
}
