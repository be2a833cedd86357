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

struct search_load {
	struct imap_session	*s;
	uint32_t		 uid;
	char			*data;
};

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

void
imap_cmd_search(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap_view *v = s->view;
	const struct imap_arg *args = cmd->args;
	size_t nargs = cmd->nargs;
	struct imap_search *prog = NULL;
	struct imap_search_ctx sctx = {
		.max_seq = (uint32_t)v->n,
		.max_uid = v->n > 0 ? v->uids[v->n - 1] : 0,
		.keyword = keyword_bit,
		.arg = s,
	};
	struct search_load load = { .s = s };
	uint32_t *hits;
	size_t nhits = 0;
	unsigned ret = 0;
	bool esearch = false, badcharset = false, need;
	char err[256];
	struct buf b;

	if (nargs >= 2 && imap_arg_is_atom(&args[0], "RETURN")) {
		if (parse_return(&args[1], &ret) == -1) {
			imap_tagged(s, "BAD Invalid RETURN options");
			return;
		}
		esearch = true;
		args += 2;
		nargs -= 2;
	}
	if (imap_search_parse(args, nargs, &sctx, &prog, &badcharset, err,
	    sizeof(err)) == -1) {
		if (badcharset)
			imap_tagged(s, "NO [BADCHARSET (UTF-8 US-ASCII)] %s", err);
		else
			imap_tagged(s, "BAD %s", err);
		return;
	}
	need = imap_search_needs_data(prog);
	hits = xmalloc((v->n > 0 ? v->n : 1) * sizeof(*hits));
	for (size_t i = 0; i < v->n; i++) {
		uint32_t uid = v->uids[i];
		const struct store_msg *m = store_mbox_find(v->mb, uid);
		struct imap_search_msg sm;

		if (m == NULL)
			continue;	/* expunged meanwhile */
		memset(&sm, 0, sizeof(sm));
		sm.seq = (uint32_t)i + 1;
		sm.uid = uid;
		sm.flags = m->flags;
		sm.recent = imap_view_is_recent(v, uid);
		sm.size = (uint64_t)m->size;
		sm.internaldate = m->internaldate;
		if (need) {
			load.uid = uid;
			sm.data = load_data;
			sm.arg = &load;
		}
		if (imap_search_match(prog, &sm))
			hits[nhits++] = cmd->uid ? uid : (uint32_t)i + 1;
	}
	free(load.data);
	imap_search_free(&prog);
	buf_init(&b, SIZE_MAX);
	if (!esearch) {
		buf_appendf(&b, "* SEARCH");
		for (size_t i = 0; i < nhits; i++)
			buf_appendf(&b, " %u", hits[i]);
		buf_appendf(&b, "\r\n");
	} else {
		buf_appendf(&b, "* ESEARCH (TAG \"%s\")%s", s->tag,
		    cmd->uid ? " UID" : "");
		if (nhits > 0 && (ret & RET_MIN))
			buf_appendf(&b, " MIN %u", hits[0]);
		if (nhits > 0 && (ret & RET_MAX))
			buf_appendf(&b, " MAX %u", hits[nhits - 1]);
		if (ret & RET_COUNT)
			buf_appendf(&b, " COUNT %zu", nhits);
		if (nhits > 0 && (ret & RET_ALL)) {
			char *set = imap_uidset_str(hits, nhits);

			buf_appendf(&b, " ALL %s", set);
			free(set);
		}
		buf_appendf(&b, "\r\n");
	}
	imap_send(s, &b);
	buf_release(&b);
	free(hits);
	imap_tagged(s, "OK %sSEARCH completed", cmd->uid ? "UID " : "");
}
