/*
 * smtp session: the state machine and the commands (RFC 5321 4.1, with
 * RFC 1870 SIZE, 6152 8BITMIME, 6531 SMTPUTF8, 3207 STARTTLS, 2034
 * ENHANCEDSTATUSCODES, 2920 PIPELINING, 3030 CHUNKING).
 *
 * Only the dispatcher answers 503 for a command out of sequence and 530
 * for one that needs authentication; handlers see a legal state.
 */
#include "smtp/smtp_private.h"
#include "config/env.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/util.h"
#include "relay/queue.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST(s)	(1u << SMTP_ST_##s)
#define ST_ANY	(ST(GREET) | ST(HELO) | ST(MAIL) | ST(RCPT) | ST(CHUNK))

enum {
	CMD_NEEDS_AUTH = 1 << 0,	/* submission: AUTH first (530) */
	CMD_NO_ARGS = 1 << 1,		/* arguments are a syntax error */
};

struct smtp_cmd {
	const char	*verb;
	unsigned	 allowed;	/* states where legal, else 503 */
	unsigned	 flags;
	void		(*fn)(struct smtp_session *, char *args);
};

static const char *
svc_name(const struct smtp_session *s)
{
	return s->srv->ls.name;
}

void
smtp_txn_reset(struct smtp_session *s)
{
	FREE_NULL(s->mail_from);
	FREE_NULL(s->first_rcpt);
	route_list_clear(&s->rcpts);
	s->nrcpt = 0;
	s->smtputf8 = false;
	smtp_body_free(&s->body);
	s->bdat_left = 0;
	s->bdat_last = false;
	s->bdat_reject = NULL;
	if (s->state > SMTP_ST_HELO)
		s->state = SMTP_ST_HELO;
}

void
smtp_session_reset(struct smtp_session *s)
{
	smtp_txn_reset(s);
	FREE_NULL(s->helo);
	FREE_NULL(s->auth_user);
	FREE_NULL(s->sasl_user);
	FREE_NULL(s->auth_try);
	buf_consume(&s->in, s->in.len);
	s->skipping = false;
	s->sasl = SMTP_SASL_NONE;
	s->input = SMTP_IN_CMD;
	s->esmtp = false;
	s->state = SMTP_ST_GREET;
}

static bool
tls_offered(const struct smtp_session *s)
{
	return !conn_is_tls(s->conn) && s->srv->svc != CONF_SVC_SUBMISSIONS &&
	    s->srv->env->tls != NULL;
}

static bool
auth_offered(const struct smtp_session *s)
{
	return smtp_is_submission(s) && conn_is_tls(s->conn) && s->auth_user == NULL;
}

/* A HELO/EHLO argument: a domain or address literal, printable ASCII. */
static bool
helo_ok(const char *arg)
{
	size_t n = strlen(arg);

	if (n == 0 || n > SMTP_HELO_MAX)
		return false;
	for (const char *p = arg; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

static void
greet(struct smtp_session *s, char *args, bool esmtp)
{
	char *sp = strchr(args, ' ');

	if (sp != NULL)
		*sp = '\0';	/* RFC 5321 4.1.1.1: words after the domain are ignored */
	if (!helo_ok(args)) {
		smtp_error(s, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	smtp_txn_reset(s);
	free(s->helo);
	s->helo = xstrdup(args);
	s->esmtp = esmtp;
	s->state = SMTP_ST_HELO;
}

static void
cmd_ehlo(struct smtp_session *s, char *args)
{
	struct conn *c = s->conn;

	greet(s, args, true);
	if (s->state != SMTP_ST_HELO || s->helo == NULL)
		return;
	conn_reply(c, "250-%s Hello %s [%s]", smtp_hostname(s), s->helo, conn_ip(c));
	conn_reply(c, "250-PIPELINING");
	conn_reply(c, "250-SIZE %" PRIu64, s->srv->env->conf->limits.max_message_bytes);
	conn_reply(c, "250-8BITMIME");
	conn_reply(c, "250-SMTPUTF8");
	conn_reply(c, "250-ENHANCEDSTATUSCODES");
	if (tls_offered(s))
		conn_reply(c, "250-STARTTLS");
	if (auth_offered(s))
		conn_reply(c, "250-AUTH PLAIN LOGIN");
	conn_reply(c, "250 CHUNKING");
}

static void
cmd_helo(struct smtp_session *s, char *args)
{
	greet(s, args, false);
	if (s->state == SMTP_ST_HELO && s->helo != NULL)
		smtp_reply(s, "250 %s", smtp_hostname(s));
}

static void
cmd_starttls(struct smtp_session *s, char *args)
{
	(void)args;
	if (conn_is_tls(s->conn)) {
		smtp_error(s, "503 5.5.1 TLS already active");
		return;
	}
	if (!tls_offered(s)) {
		smtp_reply(s, "454 4.7.0 TLS not available");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	smtp_session_reset(s);	/* and conn_starttls drops what the conn holds */
	if (conn_starttls(s->conn, s->srv->env->tls) == -1)
		conn_close(s->conn, CONN_CLOSE_FLUSH, "starttls failed");
}

/*
 * Split "<path> params" (after "FROM:" / "TO:"): the path between angle
 * brackets (quotes respected) into *path_r, the rest into *params_r.
 * 0, or -1 on a syntax error.
 */
static int
parse_path(char *arg, char **path_r, char **params_r)
{
	char *p = arg;
	bool quoted = false;

	while (*p == ' ')
		p++;	/* tolerated: "MAIL FROM: <a@b>" */
	if (*p != '<')
		return -1;
	*path_r = ++p;
	for (; *p != '\0'; p++) {
		if (quoted && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '>')
			break;
	}
	if (*p != '>')
		return -1;
	*p++ = '\0';
	if (*p != '\0' && *p != ' ')
		return -1;
	while (*p == ' ')
		p++;
	*params_r = p;
	return 0;
}

static bool
has_8bit(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return true;
	return false;
}

/* RFC 3629 UTF-8: no overlongs, surrogates or code points past U+10FFFF. */
static bool
utf8_valid(const char *str)
{
	const unsigned char *p = (const unsigned char *)str;

	while (*p != '\0') {
		unsigned c = *p++, n, cp, min;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1; cp = c & 0x1f; min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2; cp = c & 0x0f; min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3; cp = c & 0x07; min = 0x10000;
		} else {
			return false;
		}
		for (; n > 0; n--, p++) {
			if ((*p & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (*p & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	return true;
}

/* Next "KEY[=VALUE]" of space-separated params; NULL at the end. */
static char *
next_param(char **pp, char **val_r)
{
	char *p = *pp, *key, *eq;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return NULL;
	key = p;
	p += strcspn(p, " ");
	if (*p != '\0')
		*p++ = '\0';
	*pp = p;
	eq = strchr(key, '=');
	*val_r = NULL;
	if (eq != NULL) {
		*eq = '\0';
		*val_r = eq + 1;
	}
	return key;
}

static void
cmd_mail(struct smtp_session *s, char *args)
{
	const struct conf *cf = s->srv->env->conf;
	char *path, *params, *key, *val, *from;
	bool utf8 = false;

	if (ascii_ncasecmp(args, "FROM:", 5) != 0 ||
	    parse_path(args + 5, &path, &params) == -1) {
		smtp_error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	while ((key = next_param(&params, &val)) != NULL) {
		if (ascii_casecmp(key, "SIZE") == 0 && val != NULL) {
			char *end;
			unsigned long long n;

			errno = 0;
			n = strtoull(val, &end, 10);
			if (*val < '0' || *val > '9' || *end != '\0' || errno != 0) {
				smtp_error(s, "501 5.5.4 Bad SIZE parameter");
				return;
			}
			if (n > cf->limits.max_message_bytes) {
				smtp_error(s, "552 5.3.4 Message size exceeds fixed maximum message size");
				return;
			}
		} else if (ascii_casecmp(key, "BODY") == 0 && val != NULL) {
			if (ascii_casecmp(val, "8BITMIME") != 0 &&
			    ascii_casecmp(val, "7BIT") != 0) {
				smtp_error(s, "555 5.5.4 Unsupported BODY type");
				return;
			}
		} else if (ascii_casecmp(key, "SMTPUTF8") == 0 && val == NULL) {
			utf8 = true;
		} else if (ascii_casecmp(key, "AUTH") == 0 && val != NULL) {
			/* RFC 4954 5: accepted, and not trusted. */
		} else {
			smtp_error(s, "555 5.5.4 Unsupported parameter %s", key);
			return;
		}
	}
	if (has_8bit(path) && (!utf8 || !utf8_valid(path))) {
		smtp_error(s, "553 5.6.7 Non-ASCII address requires SMTPUTF8 and UTF-8");
		return;
	}
	if (*path == '\0') {
		from = xstrdup("");
	} else if ((from = route_normalize(path)) == NULL) {
		smtp_error(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	if (smtp_is_submission(s) &&
	    !route_may_send_as(cf, s->srv->env->users, s->auth_user, from)) {
		log_info(svc_name(s), conn_id(s->conn), conn_ip(s->conn),
		    "event=rejected reason=sender-not-owned from=%s", log_q(from));
		free(from);
		smtp_error(s, "553 5.7.1 Sender address not owned by authenticated user");
		return;
	}
	smtp_txn_reset(s);
	s->mail_from = from;
	s->smtputf8 = utf8;
	s->state = SMTP_ST_MAIL;
	smtp_reply(s, "250 2.1.0 Sender OK");
}

/* Drop the targets a refused RCPT appended (route_resolve appends). */
static void
rcpts_truncate(struct route_list *l, size_t n)
{
	while (l->n > n) {
		l->n--;
		free(l->v[l->n].addr);
		l->v[l->n].addr = NULL;
	}
}

static void
rcpt_refused(struct smtp_session *s, const char *rcpt, const char *why)
{
	log_info(svc_name(s), conn_id(s->conn), conn_ip(s->conn),
	    "event=rcpt-rejected reason=%s from=%s to=%s", why,
	    log_q(s->mail_from), log_q(rcpt));
}

static void
cmd_rcpt(struct smtp_session *s, char *args)
{
	struct rmail_env *env = s->srv->env;
	const struct conf *cf = env->conf;
	char *path, *params, *val, pm[ROUTE_ADDR_MAX + 16];
	size_t before = s->rcpts.n;
	enum route_status st;

	if (ascii_ncasecmp(args, "TO:", 3) != 0 ||
	    parse_path(args + 3, &path, &params) == -1 || *path == '\0') {
		smtp_error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (next_param(&params, &val) != NULL) {
		smtp_error(s, "555 5.5.4 Unsupported parameter");
		return;
	}
	if (s->nrcpt >= SMTP_MAX_RCPTS) {
		smtp_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	if (has_8bit(path) && (!s->smtputf8 || !utf8_valid(path))) {
		smtp_error(s, "553 5.6.7 Non-ASCII address requires SMTPUTF8 and UTF-8");
		return;
	}
	/* RFC 5321 4.5.1: "Postmaster" without a domain must be accepted. */
	if (ascii_casecmp(path, "postmaster") == 0) {
		snprintf(pm, sizeof(pm), "postmaster@%s", cf->domains.v[0]);
		path = pm;
	}
	st = route_resolve(cf, env->users, path, &s->rcpts);
	switch (st) {
	case ROUTE_OK:
		break;
	case ROUTE_REMOTE:
		if (smtp_is_submission(s) && s->auth_user != NULL)
			break;
		rcpts_truncate(&s->rcpts, before);
		rcpt_refused(s, path, "relay-denied");
		smtp_error(s, "554 5.7.1 Relay access denied");
		return;
	case ROUTE_UNKNOWN:
		rcpts_truncate(&s->rcpts, before);
		rcpt_refused(s, path, "unknown-user");
		smtp_error(s, "550 5.1.1 No such user here");
		return;
	case ROUTE_INVALID:
	default:
		rcpts_truncate(&s->rcpts, before);
		smtp_error(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	for (size_t i = before; i < s->rcpts.n && env->queue != NULL; i++) {
		char err[256];

		if (!s->rcpts.v[i].local ||
		    queue_local_room(env->queue, s->rcpts.v[i].addr, 0, err,
		    sizeof(err)) == 0 || errno != EDQUOT)
			continue;
		rcpts_truncate(&s->rcpts, before);
		rcpt_refused(s, path, "over-quota");
		smtp_reply(s, "452 4.2.2 Mailbox full");
		return;
	}
	if (s->nrcpt++ == 0)
		s->first_rcpt = xstrdup(path);
	s->state = SMTP_ST_RCPT;
	smtp_reply(s, "250 2.1.5 Recipient OK");
}

/* The reply to a command that does nothing: past SMTP_MAX_JUNK of them
 * since the last accepted message, each counts as an error. */
static void
junk_reply(struct smtp_session *s, const char *reply)
{
	if (++s->junk > SMTP_MAX_JUNK)
		smtp_error(s, "%s", reply);
	else
		smtp_reply(s, "%s", reply);
}

static void
cmd_rset(struct smtp_session *s, char *args)
{
	(void)args;
	smtp_txn_reset(s);
	junk_reply(s, "250 2.0.0 OK");
}

static void
cmd_noop(struct smtp_session *s, char *args)
{
	(void)args;
	junk_reply(s, "250 2.0.0 OK");
}

static void
cmd_quit(struct smtp_session *s, char *args)
{
	(void)args;
	smtp_reply(s, "221 2.0.0 %s closing connection", smtp_hostname(s));
	conn_close(s->conn, CONN_CLOSE_FLUSH, "quit");
}

static void
cmd_vrfy(struct smtp_session *s, char *args)
{
	(void)args;
	/* RFC 5321 3.5.3: no user enumeration. */
	junk_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void
cmd_help(struct smtp_session *s, char *args)
{
	(void)args;
	junk_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
}

static const struct smtp_cmd smtp_cmds[] = {
	{ "EHLO",	ST_ANY,			0,			cmd_ehlo },
	{ "HELO",	ST_ANY,			0,			cmd_helo },
	{ "STARTTLS",	ST_ANY,			CMD_NO_ARGS,		cmd_starttls },
	{ "AUTH",	ST(HELO),		0,			cmd_auth },
	{ "MAIL",	ST(HELO),		CMD_NEEDS_AUTH,		cmd_mail },
	{ "RCPT",	ST(MAIL) | ST(RCPT),	CMD_NEEDS_AUTH,		cmd_rcpt },
	{ "DATA",	ST(RCPT),		CMD_NEEDS_AUTH | CMD_NO_ARGS, cmd_data },
	{ "BDAT",	ST_ANY,			0,			cmd_bdat },
	{ "RSET",	ST_ANY,			CMD_NO_ARGS,		cmd_rset },
	{ "NOOP",	ST_ANY,			0,			cmd_noop },
	{ "QUIT",	ST_ANY,			CMD_NO_ARGS,		cmd_quit },
	{ "VRFY",	ST_ANY,			0,			cmd_vrfy },
	{ "EXPN",	ST_ANY,			0,			cmd_vrfy },
	{ "HELP",	ST_ANY,			0,			cmd_help },
};

static const char *
bad_sequence(const struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (strcmp(cmd->verb, "MAIL") == 0) {
		if (s->state == SMTP_ST_GREET)
			return "503 5.5.1 Send EHLO or HELO first";
		return "503 5.5.1 Nested MAIL command";
	}
	if (strcmp(cmd->verb, "RCPT") == 0)
		return "503 5.5.1 Need MAIL before RCPT";
	if (strcmp(cmd->verb, "DATA") == 0)
		return s->state == SMTP_ST_CHUNK ? "503 5.5.1 DATA not allowed after BDAT" :
		    s->state == SMTP_ST_MAIL ? "554 5.5.1 No valid recipients" :
		    "503 5.5.1 Need RCPT before DATA";
	if (strcmp(cmd->verb, "AUTH") == 0 && s->state == SMTP_ST_GREET)
		return "503 5.5.1 Send EHLO first";
	return "503 5.5.1 Bad sequence of commands";
}

void
smtp_command(struct smtp_session *s, char *line)
{
	size_t vlen = strcspn(line, " ");
	char *args = line[vlen] == ' ' ? line + vlen + 1 : line + vlen;
	const struct smtp_cmd *cmd = NULL;

	for (size_t i = 0; i < NELEM(smtp_cmds); i++) {
		if (strlen(smtp_cmds[i].verb) == vlen &&
		    ascii_ncasecmp(line, smtp_cmds[i].verb, vlen) == 0) {
			cmd = &smtp_cmds[i];
			break;
		}
	}
	if (cmd == NULL) {
		smtp_error(s, "502 5.5.1 Command not implemented");
		return;
	}
	while (*args == ' ')
		args++;
	if ((cmd->flags & CMD_NO_ARGS) && *args != '\0') {
		smtp_error(s, "501 5.5.4 Syntax: %s takes no arguments", cmd->verb);
		return;
	}
	/* BDAT checks its state itself: its bytes must be read either way. */
	if (!(cmd->allowed & (1u << s->state))) {
		smtp_error(s, "%s", bad_sequence(s, cmd));
		return;
	}
	if ((cmd->flags & CMD_NEEDS_AUTH) && smtp_is_submission(s) &&
	    s->auth_user == NULL) {
		smtp_error(s, "530 5.7.0 Authentication required");
		return;
	}
	cmd->fn(s, args);
}
