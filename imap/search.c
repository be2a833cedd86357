/*
 * search: IMAP SEARCH keys (RFC 3501 6.4.4) parsed into a tree of nodes,
 * then evaluated per message.
 *
 * Evaluation touches only the fields of struct imap_search_msg until a
 * key needs the message itself; then the data is loaded once per message
 * and the decoded header fields, body text and Date: are built lazily and
 * kept for the other keys of the same message. Inside an
 * AND or OR the keys that need no data come first, so a flag key that
 * fails spares the load. A search that needs no data allocates nothing
 * per message.
 */
#include "imap/search_private.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "imap/imapdate.h"
#include "imap/seqset.h"

#define DAY_SECS	86400

enum skey {
	SK_ALL,
	SK_NONE,
	SK_AND,
	SK_OR,
	SK_NOT,
	SK_SEQ,
	SK_UID,
	SK_FLAG,		/* bits: a STORE_F_* bit set */
	SK_UNFLAG,		/* ... clear */
	SK_RECENT,
	SK_OLD,
	SK_NEW,			/* RECENT UNSEEN */
	SK_KEYWORD,		/* bits: 1 << keyword index, set */
	SK_UNKEYWORD,
	SK_LARGER,
	SK_SMALLER,
	SK_BEFORE,		/* INTERNALDATE's UTC day */
	SK_ON,
	SK_SINCE,
	SK_SENTBEFORE,		/* the Date: field's day */
	SK_SENTON,
	SK_SENTSINCE,
	SK_HEADER,		/* field, needle */
	SK_BODY,		/* needle */
	SK_TEXT,		/* needle */
};

struct snode {
	enum skey	  type;
	bool		  data;		/* this key or one below needs data */
	struct snode	**kids;		/* AND (any), OR (2), NOT (1) */
	size_t		  nkids;
	struct imap_seqset set;		/* SEQ, UID */
	uint32_t	  bits;		/* FLAG, UNFLAG, KEYWORD, UNKEYWORD */
	uint64_t	  num;		/* LARGER, SMALLER */
	int64_t		  day;		/* date keys: 00:00 UTC of the day */
	char		 *field;	/* HEADER: the field name */
	char		 *needle;	/* text keys: folded
					   (imap_search_fold_utf8) */
	size_t		  nlen;
};

struct imap_search {
	struct snode	*root;
};

/* What the argument after a key is. */
enum sarg {
	SA_NONE,
	SA_STR,		/* astring: the needle */
	SA_HDR,		/* field-name astring, then the needle */
	SA_DATE,
	SA_NUM,
	SA_SET,
	SA_KW,
	SA_KEY,		/* NOT: one key */
	SA_KEY2,	/* OR: two keys */
};

static const struct skeydef {
	const char	*name;
	enum skey	 type;
	enum sarg	 arg;
	uint32_t	 bits;
	const char	*field;		/* FROM etc.: the header they search */
} skeydefs[] = {
	{ "ALL",	SK_ALL,		SA_NONE,	0, NULL },
	{ "ANSWERED",	SK_FLAG,	SA_NONE,	STORE_F_ANSWERED, NULL },
	{ "BCC",	SK_HEADER,	SA_STR,		0, "Bcc" },
	{ "BEFORE",	SK_BEFORE,	SA_DATE,	0, NULL },
	{ "BODY",	SK_BODY,	SA_STR,		0, NULL },
	{ "CC",		SK_HEADER,	SA_STR,		0, "Cc" },
	{ "DELETED",	SK_FLAG,	SA_NONE,	STORE_F_DELETED, NULL },
	{ "DRAFT",	SK_FLAG,	SA_NONE,	STORE_F_DRAFT, NULL },
	{ "FLAGGED",	SK_FLAG,	SA_NONE,	STORE_F_FLAGGED, NULL },
	{ "FROM",	SK_HEADER,	SA_STR,		0, "From" },
	{ "HEADER",	SK_HEADER,	SA_HDR,		0, NULL },
	{ "KEYWORD",	SK_KEYWORD,	SA_KW,		0, NULL },
	{ "LARGER",	SK_LARGER,	SA_NUM,		0, NULL },
	{ "NEW",	SK_NEW,		SA_NONE,	0, NULL },
	{ "NOT",	SK_NOT,		SA_KEY,		0, NULL },
	{ "OLD",	SK_OLD,		SA_NONE,	0, NULL },
	{ "ON",		SK_ON,		SA_DATE,	0, NULL },
	{ "OR",		SK_OR,		SA_KEY2,	0, NULL },
	{ "RECENT",	SK_RECENT,	SA_NONE,	0, NULL },
	{ "SEEN",	SK_FLAG,	SA_NONE,	STORE_F_SEEN, NULL },
	{ "SENTBEFORE",	SK_SENTBEFORE,	SA_DATE,	0, NULL },
	{ "SENTON",	SK_SENTON,	SA_DATE,	0, NULL },
	{ "SENTSINCE",	SK_SENTSINCE,	SA_DATE,	0, NULL },
	{ "SINCE",	SK_SINCE,	SA_DATE,	0, NULL },
	{ "SMALLER",	SK_SMALLER,	SA_NUM,		0, NULL },
	{ "SUBJECT",	SK_HEADER,	SA_STR,		0, "Subject" },
	{ "TEXT",	SK_TEXT,	SA_STR,		0, NULL },
	{ "TO",		SK_HEADER,	SA_STR,		0, "To" },
	{ "UID",	SK_UID,		SA_SET,		0, NULL },
	{ "UNANSWERED",	SK_UNFLAG,	SA_NONE,	STORE_F_ANSWERED, NULL },
	{ "UNDELETED",	SK_UNFLAG,	SA_NONE,	STORE_F_DELETED, NULL },
	{ "UNDRAFT",	SK_UNFLAG,	SA_NONE,	STORE_F_DRAFT, NULL },
	{ "UNFLAGGED",	SK_UNFLAG,	SA_NONE,	STORE_F_FLAGGED, NULL },
	{ "UNKEYWORD",	SK_UNKEYWORD,	SA_KW,		0, NULL },
	{ "UNSEEN",	SK_UNFLAG,	SA_NONE,	STORE_F_SEEN, NULL },
};

struct sparse {
	const struct imap_search_ctx	*ctx;
	size_t				 nkeys;
	char				*err;
	size_t				 errlen;
};

static void	 snode_free(struct snode **);
static struct snode *parse_key(struct sparse *, const struct imap_arg *,
		    size_t, size_t *, unsigned);

/* Atom, quoted or literal without NULs: its C string, else NULL. NIL is
 * the atom "NIL" here (astring allows it). (Not imap_arg_astring: this
 * module stands on its own for its tests.) */
static const char *
arg_astring(const struct imap_arg *a)
{
	if (a->type == IMAP_ARG_NIL)
		return "NIL";
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_QUOTED &&
	    a->type != IMAP_ARG_LITERAL)
		return NULL;
	if (a->str == NULL || strlen(a->str) != a->len)
		return NULL;
	return a->str;
}

static bool
arg_is_atom(const struct imap_arg *a, const char *word)
{
	return a->type == IMAP_ARG_ATOM && a->str != NULL &&
	    ascii_casecmp(a->str, word) == 0;
}

static struct snode *
snode_new(struct sparse *p, enum skey type)
{
	struct snode *nd;

	if (++p->nkeys > IMAP_SEARCH_KEYS_MAX) {
		err_printf(p->err, p->errlen, "Too many search keys (max %d)",
		    IMAP_SEARCH_KEYS_MAX);
		return NULL;
	}
	nd = xcalloc(1, sizeof(*nd));
	nd->type = type;
	return nd;
}

static void
snode_free(struct snode **ndp)
{
	struct snode *nd = *ndp;

	if (nd == NULL)
		return;
	for (size_t i = 0; i < nd->nkids; i++)
		snode_free(&nd->kids[i]);
	free(nd->kids);
	imap_seqset_free(&nd->set);
	free(nd->field);
	free(nd->needle);
	free(nd);
	*ndp = NULL;
}

static void
snode_add(struct snode *nd, struct snode *kid)
{
	/* Capacity: the next power of two, so appends are amortised. */
	if ((nd->nkids & (nd->nkids - 1)) == 0)
		nd->kids = xrealloc(nd->kids, (nd->nkids ? nd->nkids * 2 : 1) *
		    sizeof(*nd->kids));
	nd->kids[nd->nkids++] = kid;
	nd->data |= kid->data;
}

/* Keys needing no data first (stable), so that they short-circuit. */
static void
snode_order(struct snode *nd)
{
	struct snode **v;
	size_t j = 0;

	if (!nd->data || nd->nkids < 2)
		return;
	v = xmalloc(nd->nkids * sizeof(*v));
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < nd->nkids; i++)
			if (nd->kids[i]->data == (pass == 1))
				v[j++] = nd->kids[i];
	memcpy(nd->kids, v, nd->nkids * sizeof(*v));
	free(v);
}

static int
parse_num(const char *s, uint64_t *v_r)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' ||
		    v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*v_r = v;
	return 0;
}

/* The argument of key def at args[*i], filled into nd. 0, or -1. */
static int
parse_arg(struct sparse *p, const struct skeydef *def, struct snode *nd,
    const struct imap_arg *args, size_t n, size_t *i, unsigned depth)
{
	const char *s = NULL;
	struct snode *kid;
	time_t day;
	int bit;

	if (def->arg == SA_NONE)
		return 0;
	if (*i >= n) {
		err_printf(p->err, p->errlen, "Missing argument for %s",
		    def->name);
		return -1;
	}
	if (def->arg == SA_KEY || def->arg == SA_KEY2) {
		for (int k = 0; k < (def->arg == SA_KEY ? 1 : 2); k++) {
			if (*i >= n) {
				err_printf(p->err, p->errlen,
				    "Missing argument for %s", def->name);
				return -1;
			}
			if ((kid = parse_key(p, args, n, i, depth + 1)) == NULL)
				return -1;
			snode_add(nd, kid);
		}
		return 0;
	}
	if (def->arg == SA_HDR) {
		if ((s = arg_astring(&args[*i])) == NULL)
			goto bad;
		nd->field = xstrdup(s);
		if (++*i >= n) {
			err_printf(p->err, p->errlen,
			    "Missing argument for %s", def->name);
			return -1;
		}
	}
	if ((s = arg_astring(&args[*i])) == NULL)
		goto bad;
	(*i)++;
	switch (def->arg) {
	case SA_STR:
	case SA_HDR:
		if (def->field != NULL)
			nd->field = xstrdup(def->field);
		nd->needle = xstrdup(s);
		nd->nlen = strlen(s);
		imap_search_fold_utf8(nd->needle, nd->nlen);
		nd->data = true;
		return 0;
	case SA_DATE:
		if (imap_date_parse(s, &day) < 0)
			goto bad;
		nd->day = (int64_t)day;
		nd->data = nd->type == SK_SENTBEFORE ||
		    nd->type == SK_SENTON || nd->type == SK_SENTSINCE;
		return 0;
	case SA_NUM:
		if (args[*i - 1].type != IMAP_ARG_ATOM ||
		    parse_num(s, &nd->num) < 0)
			goto bad;
		return 0;
	case SA_SET:
		if (args[*i - 1].type != IMAP_ARG_ATOM ||
		    imap_seqset_parse(s, &nd->set) < 0)
			goto bad;
		imap_seqset_resolve(&nd->set, p->ctx->max_uid);
		return 0;
	case SA_KW:
		bit = p->ctx->keyword != NULL ?
		    p->ctx->keyword(p->ctx->arg, s) : -1;
		if (bit < 0 || bit >= STORE_KW_MAX)
			nd->type = nd->type == SK_KEYWORD ? SK_NONE : SK_ALL;
		else
			nd->bits = (uint32_t)1 << bit;
		return 0;
	default:
		break;
	}
bad:
	err_printf(p->err, p->errlen, "Invalid argument for %s", def->name);
	return -1;
}

/* A parenthesised list or the whole program: its keys ANDed. */
static struct snode *
parse_list(struct sparse *p, const struct imap_arg *args, size_t n,
    unsigned depth)
{
	struct snode *nd, *kid;
	size_t i = 0;

	if (n == 0) {
		err_printf(p->err, p->errlen, "Missing search keys");
		return NULL;
	}
	if ((kid = parse_key(p, args, n, &i, depth)) == NULL)
		return NULL;
	if (i == n)
		return kid;
	if ((nd = snode_new(p, SK_AND)) == NULL) {
		snode_free(&kid);
		return NULL;
	}
	snode_add(nd, kid);
	while (i < n) {
		if ((kid = parse_key(p, args, n, &i, depth)) == NULL) {
			snode_free(&nd);
			return NULL;
		}
		snode_add(nd, kid);
	}
	snode_order(nd);
	return nd;
}

/* One key at args[*i], advancing *i past it and its arguments. */
static struct snode *
parse_key(struct sparse *p, const struct imap_arg *args, size_t n,
    size_t *i, unsigned depth)
{
	const struct imap_arg *a = &args[*i];
	const struct skeydef *def = NULL;
	struct snode *nd;

	if (depth > IMAP_SEARCH_DEPTH_MAX) {
		err_printf(p->err, p->errlen,
		    "Search keys nested too deeply (max %d)",
		    IMAP_SEARCH_DEPTH_MAX);
		return NULL;
	}
	if (a->type == IMAP_ARG_LIST) {
		(*i)++;
		return parse_list(p, a->list, a->nlist, depth + 1);
	}
	if (a->type != IMAP_ARG_ATOM || a->str == NULL) {
		err_printf(p->err, p->errlen, "Search key expected");
		return NULL;
	}
	if ((a->str[0] >= '0' && a->str[0] <= '9') || a->str[0] == '*' ||
	    a->str[0] == '$') {
		if ((nd = snode_new(p, SK_SEQ)) == NULL)
			return NULL;
		if (imap_seqset_parse(a->str, &nd->set) < 0) {
			err_printf(p->err, p->errlen, "Invalid sequence set");
			snode_free(&nd);
			return NULL;
		}
		imap_seqset_resolve(&nd->set, p->ctx->max_seq);
		(*i)++;
		return nd;
	}
	for (size_t k = 0; k < NELEM(skeydefs); k++)
		if (ascii_casecmp(a->str, skeydefs[k].name) == 0) {
			def = &skeydefs[k];
			break;
		}
	if (def == NULL) {
		err_printf(p->err, p->errlen, "Unknown search key: %.40s",
		    a->str);
		return NULL;
	}
	(*i)++;
	if ((nd = snode_new(p, def->type)) == NULL)
		return NULL;
	nd->bits = def->bits;
	if (parse_arg(p, def, nd, args, n, i, depth) < 0) {
		snode_free(&nd);
		return NULL;
	}
	if (nd->type == SK_OR)
		snode_order(nd);
	return nd;
}

int
imap_search_parse(const struct imap_arg *args, size_t n,
    const struct imap_search_ctx *ctx, struct imap_search **search_r,
    bool *badcharset_r, char *err, size_t errlen)
{
	struct sparse p = { .ctx = ctx, .err = err, .errlen = errlen };
	struct imap_search *search;
	struct snode *root;
	const char *cs;

	if (badcharset_r != NULL)
		*badcharset_r = false;
	if (n > 0 && arg_is_atom(&args[0], "CHARSET")) {
		if (n < 2 || (cs = arg_astring(&args[1])) == NULL) {
			err_printf(err, errlen, "Missing charset");
			return -1;
		}
		if (ascii_casecmp(cs, "UTF-8") != 0 &&
		    ascii_casecmp(cs, "US-ASCII") != 0) {
			if (badcharset_r != NULL)
				*badcharset_r = true;
			err_printf(err, errlen, "Unsupported charset");
			return -1;
		}
		args += 2;
		n -= 2;
	}
	if ((root = parse_list(&p, args, n, 0)) == NULL)
		return -1;
	search = xcalloc(1, sizeof(*search));
	search->root = root;
	*search_r = search;
	return 0;
}

void
imap_search_free(struct imap_search **searchp)
{
	if (*searchp == NULL)
		return;
	snode_free(&(*searchp)->root);
	FREE_NULL(*searchp);
}

bool
imap_search_needs_data(const struct imap_search *search)
{
	return search->root->data;
}

/* Floor division: the UTC day of t as 00:00 of it. */
static int64_t
utc_day(time_t t)
{
	int64_t v = (int64_t)t;

	if (v < 0)
		v -= DAY_SECS - 1;
	return v / DAY_SECS * DAY_SECS;
}

static int
cmp_day(enum skey type, int64_t day, int64_t key)
{
	switch (type) {
	case SK_BEFORE:
	case SK_SENTBEFORE:
		return day < key;
	case SK_ON:
	case SK_SENTON:
		return day == key;
	default:
		return day >= key;
	}
}

/* 1 match, 0 not, -1 the data was needed and could not be loaded. */
static int
eval(const struct snode *nd, struct search_eval *ev)
{
	const struct imap_search_msg *msg = ev->msg;
	int64_t day;
	int r;

	switch (nd->type) {
	case SK_ALL:
		return 1;
	case SK_NONE:
		return 0;
	case SK_AND:
		for (size_t i = 0; i < nd->nkids; i++)
			if ((r = eval(nd->kids[i], ev)) != 1)
				return r;
		return 1;
	case SK_OR:
		for (size_t i = 0; i < nd->nkids; i++)
			if ((r = eval(nd->kids[i], ev)) != 0)
				return r;
		return 0;
	case SK_NOT:
		r = eval(nd->kids[0], ev);
		return r < 0 ? r : !r;
	case SK_SEQ:
		return imap_seqset_has(&nd->set, msg->seq);
	case SK_UID:
		return imap_seqset_has(&nd->set, msg->uid);
	case SK_FLAG:
		return (msg->flags.sys & nd->bits) != 0;
	case SK_UNFLAG:
		return (msg->flags.sys & nd->bits) == 0;
	case SK_RECENT:
		return msg->recent;
	case SK_OLD:
		return !msg->recent;
	case SK_NEW:
		return msg->recent && (msg->flags.sys & STORE_F_SEEN) == 0;
	case SK_KEYWORD:
		return (msg->flags.kw & nd->bits) != 0;
	case SK_UNKEYWORD:
		return (msg->flags.kw & nd->bits) == 0;
	case SK_LARGER:
		return msg->size > nd->num;
	case SK_SMALLER:
		return msg->size < nd->num;
	case SK_BEFORE:
	case SK_ON:
	case SK_SINCE:
		return cmp_day(nd->type, utc_day(msg->internaldate), nd->day);
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE:
		if ((r = imap_search_ev_sent_day(ev, &day)) <= 0)
			return r;
		return cmp_day(nd->type, day, nd->day);
	case SK_HEADER:
		return imap_search_ev_header(ev, nd->field, nd->needle,
		    nd->nlen);
	case SK_BODY:
		return imap_search_ev_body(ev, nd->needle, nd->nlen);
	case SK_TEXT:
		if ((r = imap_search_ev_headers_all(ev, nd->needle,
		    nd->nlen)) != 0)
			return r;
		return imap_search_ev_body(ev, nd->needle, nd->nlen);
	}
	return 0;
}

bool
imap_search_match(const struct imap_search *search,
    const struct imap_search_msg *msg)
{
	struct search_eval ev = { .msg = msg };
	int r;

	r = eval(search->root, &ev);
	imap_search_ev_done(&ev);
	return r == 1;
}
