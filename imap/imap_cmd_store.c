/*
 * imap_cmd_store: STORE and UID STORE (RFC 3501 6.4.6): FLAGS, +FLAGS,
 * -FLAGS, each with .SILENT. Every change is a rename of the message
 * file (store/mailbox.h); the FETCH responses go out in chunks like
 * FETCH's, so STORE 1:* on a large mailbox never trips the output cap.
 */
#include "imap/imap_private.h"
#include "core/conn.h"
#include "core/util.h"
#include "store/mailbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STORE_CHUNK	256	/* messages per step */

enum store_op {
	OP_SET,
	OP_ADD,
	OP_REMOVE,
};

struct store_ctx {
	enum store_op		 op;
	bool			 silent;
	bool			 uid;
	struct store_flags	 flags;
	uint32_t		*uids;
	size_t			 n, i;
	size_t			 missing, failed;
	int			 err;
};

static void
store_free(void *arg)
{
	struct store_ctx *ctx = arg;

	free(ctx->uids);
	free(ctx);
}

static void
commit(struct store_ctx *ctx, struct imap_view *v)
{
	if (store_mbox_flags_commit(v->mb) == -1) {
		ctx->failed++;
		ctx->err = errno;
	}
}

static bool
store_step(struct imap_session *s, void *arg)
{
	struct store_ctx *ctx = arg;
	struct imap_view *v = s->view;
	struct buf b;
	size_t done = 0;

	buf_init(&b, SIZE_MAX);
	/* One directory sync per shard per chunk, before its responses. */
	store_mbox_flags_begin(v->mb);
	while (ctx->i < ctx->n) {
		uint32_t uid = ctx->uids[ctx->i++];
		const struct store_msg *m = store_mbox_find(v->mb, uid);
		uint32_t seq = imap_view_seq(v, uid);
		struct store_flags nf;

		if (m == NULL || seq == 0) {
			ctx->missing++;
			continue;
		}
		nf = m->flags;
		switch (ctx->op) {
		case OP_SET:
			nf = ctx->flags;
			break;
		case OP_ADD:
			nf.sys |= ctx->flags.sys;
			nf.kw |= ctx->flags.kw;
			break;
		case OP_REMOVE:
			nf.sys &= (uint8_t)~ctx->flags.sys;
			nf.kw &= ~ctx->flags.kw;
			break;
		}
		if (nf.sys != m->flags.sys || nf.kw != m->flags.kw) {
			v->self_flags = true;
			if (store_mbox_set_flags(v->mb, uid, &nf) == -1) {
				v->self_flags = false;
				if (errno == ENOENT) {
					ctx->missing++;
				} else {
					ctx->failed++;
					ctx->err = errno;
				}
				continue;
			}
			v->self_flags = false;
		}
		if (!ctx->silent) {
			buf_appendf(&b, "* %u FETCH (FLAGS ", seq);
			imap_fmt_flags(&b, v->mb, &nf, imap_view_is_recent(v, uid));
			if (ctx->uid)
				buf_appendf(&b, " UID %u", uid);
			buf_appendf(&b, ")\r\n");
		}
		if (++done == STORE_CHUNK) {
			commit(ctx, v);
			imap_send(s, &b);
			if (conn_output_high_water(s->conn)) {
				buf_release(&b);
				return false;
			}
			done = 0;
			store_mbox_flags_begin(v->mb);
		}
	}
	commit(ctx, v);
	imap_send(s, &b);
	buf_release(&b);
	if (ctx->failed > 0)
		imap_tagged(s, "NO [%s] Flags of %zu messages could not be "
		    "changed", imap_errno_code(ctx->err), ctx->failed);
	else if (ctx->missing > 0)
		imap_tagged(s, "NO [EXPUNGEISSUED] Some of the requested "
		    "messages no longer exist");
	else
		imap_tagged(s, "OK %sSTORE completed", ctx->uid ? "UID " : "");
	return true;
}

void
imap_cmd_store(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct store_ctx *ctx;
	const char *item, *why = NULL;
	struct imap_arg list;
	size_t ilen;

	if (cmd->nargs < 3 || cmd->args[1].type != IMAP_ARG_ATOM) {
		imap_tagged(s, "BAD Expected: STORE sequence-set "
		    "[+|-]FLAGS[.SILENT] (flags)");
		return;
	}
	if (s->view->readonly) {
		imap_tagged(s, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->uid = cmd->uid;
	item = cmd->args[1].str;
	ctx->op = *item == '+' ? OP_ADD : *item == '-' ? OP_REMOVE : OP_SET;
	if (ctx->op != OP_SET)
		item++;
	ilen = strlen(item);
	if (ilen == 12 && ascii_casecmp(item, "FLAGS.SILENT") == 0)
		ctx->silent = true;
	else if (ilen != 5 || ascii_casecmp(item, "FLAGS") != 0) {
		store_free(ctx);
		imap_tagged(s, "BAD Unknown STORE item (FLAGS, +FLAGS, -FLAGS)");
		return;
	}
	/* "(\Seen \Flagged)" or the flags as separate arguments. */
	if (cmd->nargs == 3 && cmd->args[2].type == IMAP_ARG_LIST) {
		list = cmd->args[2];
	} else {
		memset(&list, 0, sizeof(list));
		list.type = IMAP_ARG_LIST;
		list.list = &cmd->args[2];
		list.nlist = cmd->nargs - 2;
	}
	/* Keywords are created only when they are being set. */
	if (imap_parse_flags(&list, s->view->mb, ctx->op != OP_REMOVE,
	    &ctx->flags, &why) == -1) {
		store_free(ctx);
		if (why[0] == '[')
			imap_tagged(s, "NO %s", why);
		else
			imap_tagged(s, "BAD %s", why);
		return;
	}
	if (imap_view_uids(s, &cmd->args[0], cmd->uid, &ctx->uids,
	    &ctx->n) == -1) {
		store_free(ctx);
		return;
	}
	if (store_step(s, ctx))
		store_free(ctx);
	else
		imap_continue(s, store_step, store_free, ctx);
}
