/*
 * imap_cmd_fetch: FETCH and UID FETCH (RFC 3501 6.4.5, 7.4.2).
 *
 * Each message's response is built whole in ctx->out, then written in
 * chunks while the client reads: a FETCH 1:* of a large mailbox, or one
 * large message, never holds more than one message plus the connection's
 * high-water mark, and never trips the output cap. Messages another
 * session expunged meanwhile are skipped and the command ends in
 * NO [EXPUNGEISSUED] (RFC 2180 4.1.2, RFC 5530).
 */
#include "imap/imap_private.h"
#include "imap/fmt.h"
#include "imap/imapdate.h"
#include "imap/section.h"
#include "config/env.h"
#include "core/conn.h"
#include "core/util.h"
#include "store/hub.h"
#include "store/mailbox.h"
#include "store/mimecache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_ATTS_MAX	100
#define FETCH_CHUNK	(64 * 1024)

enum fetch_kind {
	F_FLAGS,
	F_INTERNALDATE,
	F_SIZE,
	F_UID,
	F_ENVELOPE,
	F_BODY,		/* BODY without a section: BODYSTRUCTURE sans ext */
	F_BODYSTRUCTURE,
	F_RFC822,
	F_RFC822_HEADER,
	F_RFC822_TEXT,
	F_SECTION,	/* BODY[...] / BODY.PEEK[...] */
};

struct fetch_att {
	enum fetch_kind		 kind;
	struct imap_section	 sec;	/* F_SECTION */
};

struct fetch_ctx {
	struct fetch_att	 att[FETCH_ATTS_MAX];
	size_t			 natt;
	bool			 need_data;
	bool			 set_seen;	/* a non-PEEK body item */
	bool			 has_flags, has_uid;
	uint32_t		*uids;
	size_t			 n, i;
	size_t			 missing;	/* expunged meanwhile */
	struct buf		 out;
	const char		*cmdname;	/* "FETCH" / "UID FETCH" */
};

static void
fetch_free(void *arg)
{
	struct fetch_ctx *ctx = arg;

	for (size_t i = 0; i < ctx->natt; i++)
		if (ctx->att[i].kind == F_SECTION)
			imap_section_free(&ctx->att[i].sec);
	free(ctx->uids);
	buf_release(&ctx->out);
	free(ctx);
}

static int
add_att(struct fetch_ctx *ctx, enum fetch_kind kind)
{
	if (ctx->natt == FETCH_ATTS_MAX)
		return -1;
	ctx->att[ctx->natt].kind = kind;
	ctx->natt++;
	switch (kind) {
	case F_FLAGS:
		ctx->has_flags = true;
		break;
	case F_UID:
		ctx->has_uid = true;
		break;
	case F_ENVELOPE:
	case F_BODY:
	case F_BODYSTRUCTURE:
	case F_RFC822_HEADER:
		ctx->need_data = true;
		break;
	case F_RFC822:
	case F_RFC822_TEXT:
		ctx->need_data = true;
		ctx->set_seen = true;
		break;
	default:
		break;
	}
	return 0;
}

/* "BODY[...]<...>" or "BODY.PEEK[...]<...>" */
static int
parse_section_att(struct fetch_ctx *ctx, const char *a)
{
	const char *lb = strchr(a, '['), *rb = strrchr(a, ']');
	size_t plen = (size_t)(lb - a);
	bool peek;
	char *spec;
	struct fetch_att *fa;
	int rc;

	if (lb == NULL || rb == NULL || rb < lb || ctx->natt == FETCH_ATTS_MAX)
		return -1;
	if (plen == 4 && ascii_ncasecmp(a, "BODY", 4) == 0)
		peek = false;
	else if (plen == 9 && ascii_ncasecmp(a, "BODY.PEEK", 9) == 0)
		peek = true;
	else
		return -1;
	if (rb[1] != '\0' && rb[1] != '<')
		return -1;
	spec = xstrndup(lb + 1, (size_t)(rb - lb - 1));
	fa = &ctx->att[ctx->natt];
	memset(fa, 0, sizeof(*fa));
	rc = imap_section_parse(spec, rb + 1, &fa->sec);
	free(spec);
	if (rc == -1)
		return -1;
	fa->kind = F_SECTION;
	ctx->natt++;
	ctx->need_data = true;
	if (!peek)
		ctx->set_seen = true;
	return 0;
}

static int
parse_att(struct fetch_ctx *ctx, const struct imap_arg *arg, bool top)
{
	static const struct {
		const char	*name;
		enum fetch_kind	 kind;
	} simple[] = {
		{ "FLAGS", F_FLAGS }, { "INTERNALDATE", F_INTERNALDATE },
		{ "RFC822.SIZE", F_SIZE }, { "UID", F_UID },
		{ "ENVELOPE", F_ENVELOPE }, { "BODY", F_BODY },
		{ "BODYSTRUCTURE", F_BODYSTRUCTURE }, { "RFC822", F_RFC822 },
		{ "RFC822.HEADER", F_RFC822_HEADER },
		{ "RFC822.TEXT", F_RFC822_TEXT },
	};
	const char *a;

	if (arg->type != IMAP_ARG_ATOM)
		return -1;
	a = arg->str;
	if (top) {	/* macros, RFC 3501 6.4.5 */
		if (ascii_casecmp(a, "ALL") == 0)
			return add_att(ctx, F_FLAGS) | add_att(ctx, F_INTERNALDATE) |
			    add_att(ctx, F_SIZE) | add_att(ctx, F_ENVELOPE);
		if (ascii_casecmp(a, "FAST") == 0)
			return add_att(ctx, F_FLAGS) | add_att(ctx, F_INTERNALDATE) |
			    add_att(ctx, F_SIZE);
		if (ascii_casecmp(a, "FULL") == 0)
			return add_att(ctx, F_FLAGS) | add_att(ctx, F_INTERNALDATE) |
			    add_att(ctx, F_SIZE) | add_att(ctx, F_ENVELOPE) |
			    add_att(ctx, F_BODY);
	}
	if (strchr(a, '[') != NULL)
		return parse_section_att(ctx, a);
	for (size_t i = 0; i < NELEM(simple); i++)
		if (ascii_casecmp(a, simple[i].name) == 0)
			return add_att(ctx, simple[i].kind);
	return -1;
}

/* A literal: "{n}\r\n" and the bytes. */
static void
put_literal(struct buf *b, const char *p, size_t len)
{
	buf_appendf(b, "{%zu}\r\n", len);
	buf_append(b, p, len);
}

/* Build one message's response into ctx->out. */
static void
fetch_one(struct imap_session *s, struct fetch_ctx *ctx, uint32_t uid)
{
	struct imap_view *v = s->view;
	const struct store_msg *m = store_mbox_find(v->mb, uid);
	struct store_flags flags;
	uint32_t seq = imap_view_seq(v, uid);
	char *data = NULL;
	size_t len = 0;
	const struct mime_part *root = NULL;
	bool flags_changed = false;
	const char *sep = "";
	char date[IMAP_DATETIME_LEN], err[256];

	if (m == NULL || seq == 0) {
		ctx->missing++;
		return;
	}
	flags = m->flags;
	if (ctx->need_data) {
		if ((data = store_mbox_read(v->mb, uid, &len)) == NULL) {
			ctx->missing++;
			return;
		}
		root = store_mimecache_get(store_hub_mimecache(s->srv->env->hub),
		    v->mb, uid, err, sizeof(err));
		if (root == NULL) {
			free(data);
			ctx->missing++;
			return;
		}
		/* m may have moved in the index (a rename found on read). */
		if ((m = store_mbox_find(v->mb, uid)) == NULL) {
			free(data);
			ctx->missing++;
			return;
		}
		flags = m->flags;
	}
	if (ctx->set_seen && !v->readonly && (flags.sys & STORE_F_SEEN) == 0) {
		struct store_flags nf = flags;

		nf.sys |= STORE_F_SEEN;
		v->self_flags = true;
		if (store_mbox_set_flags(v->mb, uid, &nf) == 0) {
			flags = nf;
			flags_changed = true;
		}
		v->self_flags = false;
	}
	buf_appendf(&ctx->out, "* %u FETCH (", seq);
	if (s->view != NULL && !ctx->has_uid &&
	    strncmp(ctx->cmdname, "UID", 3) == 0) {
		buf_appendf(&ctx->out, "UID %u", uid);
		sep = " ";
	}
	for (size_t i = 0; i < ctx->natt; i++) {
		struct fetch_att *fa = &ctx->att[i];
		const char *p;
		size_t plen;
		char *copy;

		buf_appendf(&ctx->out, "%s", sep);
		sep = " ";
		switch (fa->kind) {
		case F_FLAGS:
			buf_appendf(&ctx->out, "FLAGS ");
			imap_fmt_flags(&ctx->out, v->mb, &flags,
			    imap_view_is_recent(v, uid));
			break;
		case F_INTERNALDATE:
			buf_appendf(&ctx->out, "INTERNALDATE \"%s\"",
			    imap_datetime_format(m->internaldate, 0, date));
			break;
		case F_SIZE:
			buf_appendf(&ctx->out, "RFC822.SIZE %lld",
			    (long long)m->size);
			break;
		case F_UID:
			buf_appendf(&ctx->out, "UID %u", uid);
			break;
		case F_ENVELOPE:
			buf_appendf(&ctx->out, "ENVELOPE ");
			imap_fmt_envelope(&ctx->out, data, len, root);
			break;
		case F_BODY:
		case F_BODYSTRUCTURE:
			buf_appendf(&ctx->out, "%s ", fa->kind == F_BODY ?
			    "BODY" : "BODYSTRUCTURE");
			imap_fmt_bodystructure(&ctx->out, data, len, root,
			    fa->kind == F_BODYSTRUCTURE);
			break;
		case F_RFC822:
			buf_appendf(&ctx->out, "RFC822 ");
			put_literal(&ctx->out, data, len);
			break;
		case F_RFC822_HEADER:
			buf_appendf(&ctx->out, "RFC822.HEADER ");
			put_literal(&ctx->out, data + root->hdr_off,
			    root->hdr_len);
			break;
		case F_RFC822_TEXT:
			buf_appendf(&ctx->out, "RFC822.TEXT ");
			put_literal(&ctx->out, data + root->body_off,
			    root->body_len);
			break;
		case F_SECTION:
			imap_section_name(&ctx->out, &fa->sec);
			buf_append(&ctx->out, " ", 1);
			imap_section_get(data, len, root, &fa->sec, &p, &plen,
			    &copy);
			put_literal(&ctx->out, p, plen);
			free(copy);
			break;
		}
	}
	if (flags_changed && !ctx->has_flags) {
		buf_appendf(&ctx->out, "%sFLAGS ", sep);
		imap_fmt_flags(&ctx->out, v->mb, &flags,
		    imap_view_is_recent(v, uid));
	}
	buf_appendf(&ctx->out, ")\r\n");
	free(data);
}

/* Write what is built, then build more, until done or the client lags. */
static bool
fetch_step(struct imap_session *s, void *arg)
{
	struct fetch_ctx *ctx = arg;

	for (;;) {
		while (ctx->out.len > 0) {
			size_t n = ctx->out.len < FETCH_CHUNK ? ctx->out.len :
			    FETCH_CHUNK;

			if (conn_write(s->conn, buf_head(&ctx->out), n) == -1)
				return true;	/* aborted */
			buf_consume(&ctx->out, n);
			if (conn_output_high_water(s->conn))
				return false;
		}
		buf_release(&ctx->out);
		if (ctx->i == ctx->n || s->view == NULL)
			break;
		fetch_one(s, ctx, ctx->uids[ctx->i++]);
	}
	/* A UID FETCH may name expunged uids: RFC 2180 4.1.2 lets it answer
	 * with what exists; the EXPUNGE responses follow it. */
	if (ctx->missing > 0 && strncmp(ctx->cmdname, "UID", 3) != 0)
		imap_tagged(s, "NO [EXPUNGEISSUED] Some of the requested "
		    "messages no longer exist");
	else
		imap_tagged(s, "OK %s completed", ctx->cmdname);
	return true;
}

void
imap_cmd_fetch(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct fetch_ctx *ctx;
	const struct imap_arg *atts;

	if (cmd->nargs != 2) {
		imap_tagged(s, "BAD Expected: FETCH sequence-set items");
		return;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	buf_init(&ctx->out, SIZE_MAX);
	ctx->cmdname = cmd->uid ? "UID FETCH" : "FETCH";
	atts = &cmd->args[1];
	if (atts->type == IMAP_ARG_LIST) {
		if (atts->nlist == 0)
			goto bad;
		for (size_t i = 0; i < atts->nlist; i++)
			if (parse_att(ctx, &atts->list[i], false) == -1)
				goto bad;
	} else if (parse_att(ctx, atts, true) == -1) {
		goto bad;
	}
	if (ctx->set_seen && s->view->readonly)
		ctx->set_seen = false;
	if (imap_view_uids(s, &cmd->args[0], cmd->uid, &ctx->uids, &ctx->n) == -1) {
		fetch_free(ctx);
		return;
	}
	if (fetch_step(s, ctx))
		fetch_free(ctx);
	else
		imap_continue(s, fetch_step, fetch_free, ctx);
	return;
bad:
	fetch_free(ctx);
	imap_tagged(s, "BAD Invalid FETCH item list");
}
