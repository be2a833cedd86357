/*
 * imap_cmd_search: SEARCH and UID SEARCH (RFC 3501 6.4.4) with ESEARCH
 * return options (RFC 4731: MIN MAX ALL COUNT). The keys are parsed and
 * evaluated by imap/search.h; this file walks the view and answers.
 */
#include "imap/imap_private.h"
#include "imap/search.h"
#include "config/env.h"
#include "core/util.h"
#include "store/hub.h"
#include "store/mailbox.h"
#include "store/mimecache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum {
	RET_MIN = 1,
	RET_MAX = 2,
	RET_ALL = 4,
	RET_COUNT = 8,
};

/* Messages tested per step: a search of a large mailbox runs in steps,
 * other clients served in between. */
#define SEARCH_STEP_FLAGS	20000
#define SEARCH_STEP_DATA	200

struct search_load {
	struct imap_session	*s;
	uint32_t		 uid;
	char			*data;
};

struct search_ctx {
	struct imap_search	*prog;
	bool			 need, esearch, uid;
	unsigned		 ret;
	size_t			 i, n;		/* next index into the view, end */
	uint32_t		*hits;
	size_t			 nhits;
	struct search_load	 load;
};

static void
search_free(void *arg)
{
	struct search_ctx *ctx = arg;

	imap_search_free(&ctx->prog);
	free(ctx->load.data);
	free(ctx->hits);
	free(ctx);
}

static int
load_data(void *arg, const char **data_r, size_t *len_r,
    const struct mime_part **root_r)
{
	struct search_load *l = arg;
	struct imap_view *v = l->s->view;
	char err[256];
	size_t len;

	free(l->data);
	if ((l->data = store_mbox_read(v->mb, l->uid, &len)) == NULL)
		return -1;
	if ((*root_r = store_mimecache_get(store_hub_mimecache(
	    l->s->srv->env->hub), v->mb, l->uid, err, sizeof(err))) == NULL)
		return -1;
	*data_r = l->data;
	*len_r = len;
	return 0;
}

static int
keyword_bit(void *arg, const char *name)
{
	struct imap_session *s = arg;

	return store_mbox_keyword(s->view->mb, name, false);
}

/* "RETURN (MIN MAX ...)": 0 and the bits, or -1. */
static int
parse_return(const struct imap_arg *list, unsigned *ret_r)
{
	*ret_r = 0;
	if (list->type != IMAP_ARG_LIST)
		return -1;
	for (size_t i = 0; i < list->nlist; i++) {
		const struct imap_arg *a = &list->list[i];

		if (imap_arg_is_atom(a, "MIN"))
			*ret_r |= RET_MIN;
		else if (imap_arg_is_atom(a, "MAX"))
			*ret_r |= RET_MAX;
		else if (imap_arg_is_atom(a, "ALL"))
			*ret_r |= RET_ALL;
		else if (imap_arg_is_atom(a, "COUNT"))
			*ret_r |= RET_COUNT;
		else
			return -1;
	}
	if (*ret_r == 0)
		*ret_r = RET_ALL;	/* RFC 4731 3.1: "()" means ALL */
	return 0;
}

static void
answer(struct imap_session *s, struct search_ctx *ctx)
{
	struct buf b;

	buf_init(&b, SIZE_MAX);
	if (!ctx->esearch) {
		buf_appendf(&b, "* SEARCH");
		for (size_t i = 0; i < ctx->nhits; i++)
			buf_appendf(&b, " %u", ctx->hits[i]);
		buf_appendf(&b, "\r\n");
	} else {
		buf_appendf(&b, "* ESEARCH (TAG \"%s\")%s", s->tag,
		    ctx->uid ? " UID" : "");
		if (ctx->nhits > 0 && (ctx->ret & RET_MIN))
			buf_appendf(&b, " MIN %u", ctx->hits[0]);
		if (ctx->nhits > 0 && (ctx->ret & RET_MAX))
			buf_appendf(&b, " MAX %u", ctx->hits[ctx->nhits - 1]);
		if (ctx->ret & RET_COUNT)
			buf_appendf(&b, " COUNT %zu", ctx->nhits);
		if (ctx->nhits > 0 && (ctx->ret & RET_ALL)) {
			char *set = imap_uidset_str(ctx->hits, ctx->nhits);

			buf_appendf(&b, " ALL %s", set);
			free(set);
		}
		buf_appendf(&b, "\r\n");
	}
	imap_send(s, &b);
	buf_release(&b);
	imap_tagged(s, "OK %sSEARCH completed", ctx->uid ? "UID " : "");
}

/* Test the next messages; true when done (and answered). */
static bool
search_step(struct imap_session *s, void *arg)
{
	struct search_ctx *ctx = arg;
	struct imap_view *v = s->view;
	size_t end = ctx->i + (ctx->need ? SEARCH_STEP_DATA : SEARCH_STEP_FLAGS);

	if (end > ctx->n)
		end = ctx->n;
	/* Until the command ends no EXPUNGE is sent, so the view keeps its
	 * first n messages in place; new ones go after them. */
	for (; ctx->i < end; ctx->i++) {
		uint32_t uid = v->uids[ctx->i];
		const struct store_msg *m = store_mbox_find(v->mb, uid);
		struct imap_search_msg sm;

		if (m == NULL)
			continue;	/* expunged meanwhile */
		memset(&sm, 0, sizeof(sm));
		sm.seq = (uint32_t)ctx->i + 1;
		sm.uid = uid;
		sm.flags = m->flags;
		sm.recent = imap_view_is_recent(v, uid);
		sm.size = (uint64_t)m->size;
		sm.internaldate = m->internaldate;
		if (ctx->need) {
			ctx->load.uid = uid;
			sm.data = load_data;
			sm.arg = &ctx->load;
		}
		if (imap_search_match(ctx->prog, &sm))
			ctx->hits[ctx->nhits++] = ctx->uid ? uid :
			    (uint32_t)ctx->i + 1;
	}
	if (ctx->i < ctx->n)
		return false;	/* more in the next loop iteration */
	answer(s, ctx);
	return true;
}

void
imap_cmd_search(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap_view *v = s->view;
	const struct imap_arg *args = cmd->args;
	size_t nargs = cmd->nargs;
	struct imap_search_ctx sctx = {
		.max_seq = (uint32_t)v->n,
		.max_uid = v->n > 0 ? v->uids[v->n - 1] : 0,
		.keyword = keyword_bit,
		.arg = s,
	};
	struct search_ctx *ctx = xcalloc(1, sizeof(*ctx));
	bool badcharset = false;
	char err[256];

	ctx->uid = cmd->uid;
	ctx->load.s = s;
	if (nargs >= 2 && imap_arg_is_atom(&args[0], "RETURN")) {
		if (parse_return(&args[1], &ctx->ret) == -1) {
			search_free(ctx);
			imap_tagged(s, "BAD Invalid RETURN options");
			return;
		}
		ctx->esearch = true;
		args += 2;
		nargs -= 2;
	}
	if (imap_search_parse(args, nargs, &sctx, &ctx->prog, &badcharset, err,
	    sizeof(err)) == -1) {
		search_free(ctx);
		if (badcharset)
			imap_tagged(s, "NO [BADCHARSET (UTF-8 US-ASCII)] %s", err);
		else
			imap_tagged(s, "BAD %s", err);
		return;
	}
	ctx->need = imap_search_needs_data(ctx->prog);
	ctx->n = v->n;
	ctx->hits = xmalloc((v->n > 0 ? v->n : 1) * sizeof(*ctx->hits));
	if (search_step(s, ctx))
		search_free(ctx);
	else
		imap_continue(s, search_step, search_free, ctx);
}
