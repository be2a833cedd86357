/*
 * imap_session: reading IMAP commands and running them (RFC 3501 2.2, 5.5).
 *
 * Input is fed to the incremental parser (imap/parser.h) one line at a
 * time; a literal is sent "+ " (when synchronising) and its bytes fed as
 * they arrive. A complete command is looked up in the table below, checked
 * against the session state and run. Everything a command says goes
 * through imap_tagged()/imap_untagged(); imap_tagged() first tells the
 * client what other sessions changed in the selected mailbox.
 */
#include "imap/imap_private.h"
#include "imap/imap.h"
#include "config/env.h"
#include "config/users.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/net.h"
#include "core/util.h"
#include "store/hub.h"
#include "store/names.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* Literals outside APPEND: mailbox names, search strings, passwords. */
#define IMAP_SMALL_LITERAL	(64 * 1024)
/* BADs in a row before the session is dropped. */
#define IMAP_BAD_MAX		20

enum {
	ST_N = 1 << IMAP_ST_NOTAUTH,
	ST_A = 1 << IMAP_ST_AUTH,
	ST_S = 1 << IMAP_ST_SELECTED,
	ST_ANY = ST_N | ST_A | ST_S,
	ST_AS = ST_A | ST_S,
};

struct imap_command {
	const char	*name;
	imap_cmd_fn	*fn;
	unsigned	 states;
	bool		 uid_ok;	/* valid after UID */
	bool		 expunge_ok;	/* EXPUNGE may be sent (RFC 3501 7.4.1) */
	bool		 noargs;	/* takes no arguments */
};

static const struct imap_command commands[] = {
	{ "CAPABILITY", imap_cmd_capability, ST_ANY, false, true, true },
	{ "NOOP", imap_cmd_noop, ST_ANY, false, true, true },
	{ "LOGOUT", imap_cmd_logout, ST_ANY, false, true, true },
	{ "ID", imap_cmd_id, ST_ANY, false, true, false },
	{ "STARTTLS", imap_cmd_starttls, ST_N, false, true, true },
	{ "LOGIN", imap_cmd_login, ST_N, false, true, false },
	{ "AUTHENTICATE", imap_cmd_authenticate, ST_N, false, true, false },
	{ "ENABLE", imap_cmd_enable, ST_AS, false, true, false },
	{ "SELECT", imap_cmd_select, ST_AS, false, true, false },
	{ "EXAMINE", imap_cmd_examine, ST_AS, false, true, false },
	{ "CREATE", imap_cmd_create, ST_AS, false, true, false },
	{ "DELETE", imap_cmd_delete, ST_AS, false, true, false },
	{ "RENAME", imap_cmd_rename, ST_AS, false, true, false },
	{ "SUBSCRIBE", imap_cmd_subscribe, ST_AS, false, true, false },
	{ "UNSUBSCRIBE", imap_cmd_unsubscribe, ST_AS, false, true, false },
	{ "LIST", imap_cmd_list, ST_AS, false, true, false },
	{ "LSUB", imap_cmd_lsub, ST_AS, false, true, false },
	{ "STATUS", imap_cmd_status, ST_AS, false, true, false },
	{ "NAMESPACE", imap_cmd_namespace, ST_AS, false, true, true },
	{ "APPEND", imap_cmd_append, ST_AS, false, true, false },
	{ "IDLE", imap_cmd_idle, ST_AS, false, true, true },
	{ "CHECK", imap_cmd_check, ST_S, false, true, true },
	{ "CLOSE", imap_cmd_close, ST_S, false, true, true },
	{ "UNSELECT", imap_cmd_unselect, ST_S, false, true, true },
	{ "EXPUNGE", imap_cmd_expunge, ST_S, true, true, false },
	{ "SEARCH", imap_cmd_search, ST_S, true, false, false },
	{ "FETCH", imap_cmd_fetch, ST_S, true, false, false },
	{ "STORE", imap_cmd_store, ST_S, true, false, false },
	{ "COPY", imap_cmd_copy, ST_S, true, true, false },
	{ "MOVE", imap_cmd_move, ST_S, true, true, false },
};

const char *
imap_capabilities(const struct imap_session *s)
{
	static char caps[512];
	const struct conf *cf = s->srv->env->conf;
	bool tls = conn_is_tls(s->conn);
	bool login_ok = tls || (cf->tls_plaintext_loopback &&
	    net_is_loopback(conn_peer(s->conn)));

	if (s->state == IMAP_ST_NOTAUTH) {
		snprintf(caps, sizeof(caps), "IMAP4rev1 LITERAL+ SASL-IR ID "
		    "ENABLE IDLE%s%s", tls ? "" : " STARTTLS",
		    login_ok ? " AUTH=PLAIN AUTH=LOGIN" : " LOGINDISABLED");
		return caps;
	}
	snprintf(caps, sizeof(caps), "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE "
	    "IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN LIST-EXTENDED "
	    "LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE APPENDLIMIT=%llu "
	    "MULTIAPPEND ESEARCH",
	    (unsigned long long)cf->limits.max_message_bytes);
	return caps;
}

/* Replies. */

/* Format into line (len bytes) or, when longer, a heap string. */
static char *
vformat(char *line, size_t len, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(line, len, fmt, ap2);
	va_end(ap2);
	if (n >= 0 && (size_t)n >= len) {
		char *big = xmalloc((size_t)n + 1);

		vsnprintf(big, (size_t)n + 1, fmt, ap);
		return big;
	}
	return line;
}

void
imap_tagged(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	char line[512], *p;

	if (s->view != NULL)
		imap_view_flush(s, !s->no_expunge);
	va_start(ap, fmt);
	p = vformat(line, sizeof(line), fmt, ap);
	va_end(ap);
	conn_reply(s->conn, "%s %s", s->tag, p);
	if (p != line)
		free(p);
}

void
imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	char line[512], *p;

	va_start(ap, fmt);
	p = vformat(line, sizeof(line), fmt, ap);
	va_end(ap);
	conn_reply(s->conn, "* %s", p);
	if (p != line)
		free(p);
}

void
imap_send(struct imap_session *s, struct buf *b)
{
	if (b->len > 0)
		conn_write(s->conn, buf_head(b), b->len);
	buf_consume(b, b->len);
}

const char *
imap_errno_code(int err)
{
	switch (err) {
	case ENOENT:
		return "NONEXISTENT";
	case EEXIST:
		return "ALREADYEXISTS";
	case EDQUOT:
		return "OVERQUOTA";
	case ENOSPC:
	case EOVERFLOW:
	case EFBIG:
		return "LIMIT";
	case EINVAL:
	case EPERM:
	case ENOTEMPTY:
	case ENOTDIR:
		return "CANNOT";
	default:
		return "SERVERBUG";
	}
}

int
imap_arg_mailbox(struct imap_session *s, const struct imap_arg *arg,
    char *canon, char *dir)
{
	const char *name = imap_arg_astring(arg), *why;
	char dbuf[STORE_DIRNAME_MAX];

	if (name == NULL) {
		imap_tagged(s, "BAD Expected a mailbox name");
		return -1;
	}
	if (store_name_check(name, canon, STORE_MNAME_MAX, &why) == -1 ||
	    store_name_to_dir(canon, dir != NULL ? dir : dbuf,
	    STORE_DIRNAME_MAX, &why) == -1) {
		imap_tagged(s, "NO [CANNOT] Invalid mailbox name: %s", why);
		return -1;
	}
	return 0;
}

struct store_quota *
imap_user_quota(struct imap_session *s)
{
	const struct user *u = users_find(s->srv->env->users, s->user);

	if (u == NULL)
		return NULL;
	return store_hub_quota(s->srv->env->hub, s->user_dir, u->quota_bytes,
	    u->quota_messages);
}

const char *
imap_selected_name(const struct imap_session *s)
{
	return s->view != NULL ? s->view->name : NULL;
}

void
imap_continue(struct imap_session *s, bool (*fn)(struct imap_session *,
    void *), void (*free_fn)(void *), void *ctx)
{
	s->cont = fn;
	s->cont_free = free_fn;
	s->cont_ctx = ctx;
	conn_pause(s->conn, true);
	conn_want_drain(s->conn);
}

/* Free the parser between commands: an idle session holds none. */
static void
parser_done(struct imap_session *s)
{
	imap_parser_free(&s->parser);
	s->lit_left = 0;
}

static void
cont_end(struct imap_session *s)
{
	if (s->cont_free != NULL)
		s->cont_free(s->cont_ctx);
	s->cont = NULL;
	s->cont_free = NULL;
	s->cont_ctx = NULL;
	s->no_expunge = false;
	parser_done(s);		/* the command's arguments */
}

static void
imap_on_drain(struct conn *c, void *ctx)
{
	struct imap_session *s = ctx;

	if (s->cont == NULL)
		return;
	if (conn_is_closing(c) || s->cont(s, s->cont_ctx)) {
		cont_end(s);
		conn_pause(c, false);
	} else {
		conn_want_drain(c);
	}
}

/* Dispatch. */

static void
run_command(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_command *ic = NULL;

	str_lcpy(s->tag, cmd->tag, sizeof(s->tag));
	for (size_t i = 0; i < NELEM(commands); i++)
		if (strcmp(commands[i].name, cmd->name) == 0) {
			ic = &commands[i];
			break;
		}
	if (ic == NULL || (cmd->uid && !ic->uid_ok)) {
		s->bad_count++;
		imap_tagged(s, "BAD Unknown command%s", cmd->uid ?
		    " after UID" : "");
		return;
	}
	if ((ic->states & (1u << s->state)) == 0) {
		s->bad_count++;
		imap_tagged(s, "BAD %s not allowed %s", ic->name,
		    s->state == IMAP_ST_NOTAUTH ? "before LOGIN" :
		    s->state == IMAP_ST_AUTH ? "without a selected mailbox" :
		    "now");
		return;
	}
	if (ic->noargs && cmd->nargs > 0) {
		s->bad_count++;
		imap_tagged(s, "BAD %s takes no arguments", ic->name);
		return;
	}
	s->bad_count = 0;
	/* RFC 3501 7.4.1: not during FETCH, STORE, SEARCH; their UID forms
	 * may report expunges, which tells the client sooner. */
	s->no_expunge = !ic->expunge_ok && !cmd->uid;
	ic->fn(s, cmd);
	if (s->cont == NULL)
		s->no_expunge = false;
}

static struct imap_parser *
session_parser(struct imap_session *s)
{
	if (s->parser == NULL) {
		struct imap_parser_limits lim = {
			.line_max = s->srv->env->conf->limits.imap_line_bytes,
			.literal_max = s->srv->env->conf->limits.max_message_bytes,
		};

		s->parser = imap_parser_new(&lim);
	}
	return s->parser;
}

static void
parse_error(struct imap_session *s)
{
	bool toobig = false;
	const char *why = imap_parser_error(s->parser, &toobig);
	const char *tag = imap_parser_tag(s->parser);
	bool sync = true;

	s->bad_count++;
	/* A non-synchronising literal on the refused line is coming anyway:
	 * read it and drop it, then the rest of its line. */
	if (imap_parser_literal_size(s->parser, &sync) > 0 && !sync) {
		s->skipping = true;
		s->skip_left = imap_parser_literal_size(s->parser, &sync);
	}
	if (tag != NULL) {
		str_lcpy(s->tag, tag, sizeof(s->tag));
		imap_tagged(s, "BAD %s%s", toobig ? "[TOOBIG] " : "", why);
	} else {
		imap_untagged(s, "BAD %s%s", toobig ? "[TOOBIG] " : "", why);
	}
}

/*
 * The parser wants a literal: accept it ("+ " when synchronising) or
 * refuse it before a byte is read. A refused non-synchronising literal
 * is on its way anyway: it is read and dropped, then its line.
 */
static void
literal_start(struct imap_session *s)
{
	bool sync;
	uint64_t n = imap_parser_literal_size(s->parser, &sync);
	const char *name = imap_parser_name(s->parser);
	uint64_t max = name != NULL && strcmp(name, "APPEND") == 0 ?
	    s->srv->env->conf->limits.max_message_bytes : IMAP_SMALL_LITERAL;
	const char *tag = imap_parser_tag(s->parser);

	if (n <= max) {
		s->lit_left = n;
		if (sync)
			conn_reply(s->conn, "+ OK");
		return;
	}
	str_lcpy(s->tag, tag != NULL ? tag : "*", sizeof(s->tag));
	if (name != NULL && strcmp(name, "APPEND") == 0)
		imap_tagged(s, "NO [TOOBIG] Message larger than APPENDLIMIT "
		    "(%llu bytes)", (unsigned long long)max);
	else
		imap_tagged(s, "BAD [TOOBIG] Literal too large");
	if (!sync) {
		s->skipping = true;
		s->skip_left = n;
	}
	parser_done(s);
}

/* A refused literal's line after its bytes: drop it, and any literal it
 * announces in turn. */
static void
skip_line(struct imap_session *s, const char *line, size_t len)
{
	size_t i;
	uint64_t n = 0;

	s->skip_line = false;
	if (len < 3 || line[len - 1] != '}')
		return;
	i = len - 1;
	if (line[i - 1] == '+')
		i--;
	else
		return;	/* a synchronising one waits for a "+ " we never send */
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9') {
		i--;
	}
	if (i == 0 || line[i - 1] != '{')
		return;
	for (size_t j = i; line[j] != '+'; j++)
		n = n * 10 + (uint64_t)(line[j] - '0');
	s->skipping = true;
	s->skip_left = n;
}

static void
feed_line(struct imap_session *s, char *line, size_t len)
{
	enum imap_parse_res r;

	if (s->skip_line) {
		skip_line(s, line, len);
		return;
	}
	if (s->idling) {
		imap_idle_line(s, line);
		return;
	}
	if (s->sasl_wait) {
		imap_sasl_line(s, line, len);
		OPENSSL_cleanse(line, len);
		return;
	}
	r = imap_parser_line(session_parser(s), line, len);
	OPENSSL_cleanse(line, len);	/* LOGIN passwords */
	switch (r) {
	case IMAP_PARSE_DONE:
		run_command(s, imap_parser_cmd(s->parser));
		if (s->cont == NULL)
			parser_done(s);
		break;
	case IMAP_PARSE_LITERAL:
		literal_start(s);
		break;
	case IMAP_PARSE_LINE:
		break;
	case IMAP_PARSE_ERROR:
		parse_error(s);
		parser_done(s);
		break;
	}
	if (s->bad_count >= IMAP_BAD_MAX) {
		imap_untagged(s, "BYE Too many invalid commands");
		conn_close(s->conn, CONN_CLOSE_FLUSH, "too many errors");
	}
}

static void
imap_on_data(struct conn *c, void *ctx)
{
	struct imap_session *s = ctx;
	const uint8_t *p;
	char *line;
	size_t len, n;
	bool crlf;

	while (!conn_is_closing(c) && !s->auth_busy && s->cont == NULL) {
		if (s->skipping) {
			n = conn_take(c, &p, s->skip_left > SIZE_MAX ?
			    SIZE_MAX : (size_t)s->skip_left);
			if (n == 0)
				return;
			s->skip_left -= n;
			if (s->skip_left == 0) {
				s->skipping = false;
				s->skip_line = true;
			}
			continue;
		}
		if (s->lit_left > 0) {
			n = conn_take(c, &p, s->lit_left > SIZE_MAX ?
			    SIZE_MAX : (size_t)s->lit_left);
			if (n == 0)
				return;
			s->lit_left -= n;
			(void)imap_parser_literal(s->parser, p, n);
			continue;
		}
		switch (conn_line(c, &line, &len, &crlf)) {
		case CONN_LINE_MORE:
			return;
		case CONN_LINE_TOOLONG:
			parser_done(s);
			s->sasl_wait = false;
			s->bad_count++;
			imap_untagged(s, "BAD [TOOBIG] Command line too long");
			break;
		case CONN_LINE_OK:
			feed_line(s, line, len);
			break;
		}
	}
}

static void
imap_on_timeout(struct conn *c, void *ctx)
{
	struct imap_session *s = ctx;

	imap_untagged(s, s->state == IMAP_ST_NOTAUTH ?
	    "BYE Autologout; not logged in in time" :
	    "BYE Autologout; idle for too long");
	conn_close(c, CONN_CLOSE_FLUSH, "timeout");
}

static void
imap_on_shutdown(struct conn *c, void *ctx)
{
	struct imap_session *s = ctx;

	imap_untagged(s, "BYE Server shutting down");
	conn_close(c, CONN_CLOSE_FLUSH, "shutdown");
}

static void
imap_on_free(void *ctx)
{
	struct imap_session *s = ctx;

	if (s->cont != NULL)
		cont_end(s);
	imap_view_close(s);
	imap_parser_free(&s->parser);
	if (s->sasl_user != NULL) {
		OPENSSL_cleanse(s->sasl_user, strlen(s->sasl_user));
		free(s->sasl_user);
	}
	free(s->user);
	free(s->user_dir);
	free(s);
}

static const struct conn_proto imap_proto = {
	.on_data = imap_on_data,
	.on_timeout = imap_on_timeout,
	.on_shutdown = imap_on_shutdown,
	.on_drain = imap_on_drain,
	.on_free = imap_on_free,
};

void
imap_session_open(struct conn *c, struct imap_server *srv)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));

	s->srv = srv;
	s->conn = c;
	conn_set_proto(c, &imap_proto, s);
	/* login_timeout_secs bounds each command and, so a client cannot
	 * hold a connection without logging in, the whole login phase. */
	conn_set_timeout(c, srv->env->conf->limits.login_timeout_secs);
	conn_set_deadline(c, srv->env->conf->limits.login_timeout_secs);
	imap_untagged(s, "OK [CAPABILITY %s] %s rmail ready",
	    imap_capabilities(s), srv->env->conf->hostname);
}
