/*
 * imap_cmd_list: LIST and LSUB (RFC 3501 6.3.8-6.3.9) with LIST-EXTENDED
 * (RFC 5258), CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154) and LIST-STATUS
 * (RFC 5819).
 *
 * Both walk store_tree_list(): every mailbox, implied parents included,
 * sorted, with its subscription and special use. Each entry gets three
 * marks: it matches a pattern; it meets the selection criteria (LSUB and
 * SUBSCRIBED: subscribed; SPECIAL-USE: has a special use); some descendant
 * meets them without matching a pattern ("childinfo": LSUB's "%" rule and
 * RECURSIVEMATCH's CHILDINFO). What is listed follows from the marks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/env.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/util.h"
#include "imap/fmt.h"
#include "imap/imap_private.h"
#include "imap/listmatch.h"
#include "store/mboxtree.h"
#include "store/names.h"

/* One response line's cap: a name, its attributes, STATUS. */
#define LIST_LINE_MAX	(4 * STORE_MNAME_MAX + 1024)

struct list_opts {
	bool			 lsub;
	bool			 extended;	/* RFC 5258 syntax used */
	/* Selection options (RFC 5258 3.1, RFC 6154 5.1). */
	bool			 sel_subscribed;
	bool			 sel_special;
	bool			 recursive;	/* RECURSIVEMATCH */
	/* Return options (RFC 5258 3.2, RFC 6154, RFC 5819). */
	bool			 ret_subscribed;
	bool			 ret_status;
	struct imap_status_req	 status;
	/* Patterns with the reference joined. */
	struct imap_listpat	**pats;
	size_t			 npats;
};

/* Per tree entry. */
struct list_mark {
	bool	 match;		/* some pattern matches */
	bool	 selected;	/* meets the selection criteria */
	bool	 childinfo;	/* a descendant is selected but matches none */
};

static void
opts_free(struct list_opts *o)
{
	size_t i;

	for (i = 0; i < o->npats; i++)
		imap_listpat_free(&o->pats[i]);
	free(o->pats);
	o->pats = NULL;
	o->npats = 0;
}

/* Selection options: "(SUBSCRIBED RECURSIVEMATCH)". -1 after a BAD. */
static int
parse_select(struct imap_session *s, const struct imap_arg *arg,
    struct list_opts *o)
{
	const struct imap_arg	*a;
	size_t			 i;

	for (i = 0; i < arg->nlist; i++) {
		a = &arg->list[i];
		if (imap_arg_is_atom(a, "SUBSCRIBED"))
			o->sel_subscribed = o->ret_subscribed = true;
		else if (imap_arg_is_atom(a, "REMOTE"))
			;	/* there are no remote mailboxes */
		else if (imap_arg_is_atom(a, "RECURSIVEMATCH"))
			o->recursive = true;
		else if (imap_arg_is_atom(a, "SPECIAL-USE"))
			o->sel_special = true;
		else {
			imap_tagged(s, "BAD Unknown LIST selection option");
			return -1;
		}
	}
	/* RFC 5258 3.1: RECURSIVEMATCH needs a base option (SUBSCRIBED is
	 * our only one; SPECIAL-USE is independent, RFC 6154 6). */
	if (o->recursive && !o->sel_subscribed) {
		imap_tagged(s, "BAD RECURSIVEMATCH needs SUBSCRIBED");
		return -1;
	}
	return 0;
}

/* Return options: "(CHILDREN SUBSCRIBED STATUS (MESSAGES))". */
static int
parse_return(struct imap_session *s, const struct imap_arg *arg,
    struct list_opts *o)
{
	const struct imap_arg	*a;
	const char		*why;
	size_t			 i;

	if (arg->type != IMAP_ARG_LIST) {
		imap_tagged(s, "BAD Expected a list of return options");
		return -1;
	}
	for (i = 0; i < arg->nlist; i++) {
		a = &arg->list[i];
		if (imap_arg_is_atom(a, "SUBSCRIBED"))
			o->ret_subscribed = true;
		else if (imap_arg_is_atom(a, "CHILDREN") ||
		    imap_arg_is_atom(a, "SPECIAL-USE"))
			;	/* always returned */
		else if (imap_arg_is_atom(a, "STATUS") && i + 1 < arg->nlist) {
			if (imap_status_parse(&a[1], &o->status, &why) == -1) {
				imap_tagged(s, "BAD %s", why);
				return -1;
			}
			o->ret_status = true;
			i++;
		} else {
			imap_tagged(s, "BAD Unknown LIST return option");
			return -1;
		}
	}
	return 0;
}

static void
add_pattern(struct list_opts *o, const char *ref, const char *pat)
{
	char *full = imap_list_join(ref, pat);

	o->pats = xrealloc(o->pats, (o->npats + 1) * sizeof(*o->pats));
	o->pats[o->npats++] = imap_listpat_new(full);
	free(full);
}

/*
 * LIST [(sel)] ref (pattern | (pattern ...)) [RETURN (ret)], or LSUB ref
 * pattern. *root_r is set when the only pattern is "" (RFC 3501 6.3.8:
 * the caller answers with the separator). 0, or -1 after a BAD.
 */
static int
parse_args(struct imap_session *s, const struct imap_cmd *cmd,
    struct list_opts *o, bool *root_r)
{
	const struct imap_arg	*args = cmd->args, *p;
	const char		*ref, *pat;
	size_t			 n = cmd->nargs, i = 0, j;

	*root_r = false;
	if (!o->lsub && n > 0 && args[0].type == IMAP_ARG_LIST) {
		o->extended = true;
		if (parse_select(s, &args[0], o) == -1)
			return -1;
		i++;
	}
	if (n < i + 2 || (ref = imap_arg_astring(&args[i])) == NULL)
		goto bad;
	p = &args[i + 1];
	if (p->type == IMAP_ARG_LIST && !o->lsub) {
		o->extended = true;
		if (p->nlist == 0)
			goto bad;
		for (j = 0; j < p->nlist; j++) {
			if ((pat = imap_arg_astring(&p->list[j])) == NULL)
				goto bad;
			add_pattern(o, ref, pat);
		}
	} else {
		if ((pat = imap_arg_astring(p)) == NULL)
			goto bad;
		if (pat[0] == '\0')
			*root_r = true;
		add_pattern(o, ref, pat);
	}
	i += 2;
	if (!o->lsub && i < n && imap_arg_is_atom(&args[i], "RETURN")) {
		o->extended = true;
		if (i + 1 >= n || parse_return(s, &args[i + 1], o) == -1) {
			if (i + 1 >= n)
				imap_tagged(s, "BAD Expected return options");
			return -1;
		}
		i += 2;
	}
	if (i != n)
		goto bad;
	return 0;
bad:
	imap_tagged(s, "BAD %s takes a reference and a mailbox pattern",
	    o->lsub ? "LSUB" : "LIST");
	return -1;
}

static int
entry_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct store_tree_entry *)elem)->name);
}

/* The marks of every entry (see the top of the file). */
static void
mark_entries(const struct list_opts *o, const struct store_tree_entry *v,
    size_t n, struct list_mark *mk)
{
	const struct store_tree_entry	*e, *anc;
	size_t				 i, j;
	char				*name, *slash;

	for (i = 0; i < n; i++) {
		e = &v[i];
		for (j = 0; j < o->npats && !mk[i].match; j++)
			mk[i].match = imap_listpat_match(o->pats[j], e->name);
		if (o->lsub)
			mk[i].selected = e->subscribed;
		else
			mk[i].selected = (!o->sel_subscribed || e->subscribed) &&
			    (!o->sel_special || e->special_use != NULL);
	}
	if (!o->lsub && !o->recursive)
		return;
	/* Ancestors are all listed (implied ones too): mark each. */
	for (i = 0; i < n; i++) {
		if (!mk[i].selected || mk[i].match)
			continue;
		name = xstrdup(v[i].name);
		while ((slash = strrchr(name, '/')) != NULL) {
			*slash = '\0';
			anc = bsearch(name, v, n, sizeof(*v), entry_cmp);
			if (anc != NULL)
				mk[anc - v].childinfo = true;
		}
		free(name);
	}
}

/* The "(attrs)" of a LIST line. */
static int
list_attrs(struct buf *b, const struct list_opts *o,
    const struct store_tree_entry *e, const struct list_mark *mk)
{
	const char	*sep = "";
	int		 r = 0;

#define ATTR(a)	do { r |= buf_appendf(b, "%s%s", sep, (a)); sep = " "; } \
	    while (0)
	r |= buf_append(b, "(", 1);
	if (o->lsub) {
		/* RFC 3501 6.3.9: listed only for a subscribed child. */
		if (e->noselect || !mk->selected)
			ATTR("\\Noselect");
		return r | buf_append(b, ")", 1);
	}
	/* RFC 5258 3: \NonExistent implies \Noselect; RFC 3501 clients
	 * know only the latter. */
	if (e->implied)
		ATTR(o->extended ? "\\NonExistent" : "\\Noselect");
	else if (e->noselect)
		ATTR("\\Noselect");
	if (o->extended && o->ret_subscribed && e->subscribed)
		ATTR("\\Subscribed");
	ATTR(e->has_children ? "\\HasChildren" : "\\HasNoChildren");
	if (e->special_use != NULL && !e->implied)
		ATTR(e->special_use);
#undef ATTR
	return r | buf_append(b, ")", 1);
}

/* One "* LIST (...) "/" name [extended data]" line, and LIST-STATUS. */
static int
list_entry(struct imap_session *s, struct buf *b, const struct list_opts *o,
    const struct store_tree_entry *e, const struct list_mark *mk)
{
	char	 dir[STORE_DIRNAME_MAX], err[512];
	const char *why;
	int	 r;

	r = buf_appendf(b, "* %s ", o->lsub ? "LSUB" : "LIST");
	r |= list_attrs(b, o, e, mk);
	r |= buf_append(b, " \"/\" ", 5);
	r |= imap_fmt_astring(b, e->name);
	if (!o->lsub && o->recursive && mk->childinfo)
		r |= buf_appendf(b, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	r |= buf_append(b, "\r\n", 2);
	if (r != 0)
		return -1;
	/* RFC 5819: STATUS only for selectable mailboxes; one that vanished
	 * meanwhile (or cannot be opened) just gets none. */
	if (o->ret_status && !e->noselect && !e->implied &&
	    store_name_to_dir(e->name, dir, sizeof(dir), &why) == 0 &&
	    imap_status_append(s, e->name, dir, &o->status, b, err,
	    sizeof(err)) == -1 && errno != ENOENT && errno != ENOTDIR)
		log_warn(s->srv->ls.name, conn_id(s->conn), conn_ip(s->conn),
		    "event=list-status-error mailbox=%s err=%s",
		    log_q(e->name), log_q(err));
	imap_send(s, b);
	return 0;
}

static void
list(struct imap_session *s, const struct imap_cmd *cmd, bool lsub)
{
	struct list_opts	 o;
	struct store_tree_entry	*v = NULL;
	struct list_mark	*mk = NULL;
	struct buf		 b;
	size_t			 n = 0, i;
	char			 err[512];
	bool			 root, show;

	memset(&o, 0, sizeof(o));
	o.lsub = lsub;
	buf_init(&b, LIST_LINE_MAX);
	if (parse_args(s, cmd, &o, &root) == -1)
		goto done;
	if (root) {
		/* RFC 3501 6.3.8: the separator and the (empty) root. */
		if (!lsub)
			imap_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		goto ok;
	}
	if (store_tree_list(s->user_dir, &v, &n, err, sizeof(err)) == -1) {
		log_error(s->srv->ls.name, conn_id(s->conn), conn_ip(s->conn),
		    "event=mailbox-error cmd=%s err=%s", lsub ? "LSUB" : "LIST",
		    log_q(err));
		imap_tagged(s, "NO [SERVERBUG] Cannot list mailboxes");
		goto done;
	}
	mk = xcalloc(n > 0 ? n : 1, sizeof(*mk));
	mark_entries(&o, v, n, mk);
	for (i = 0; i < n; i++) {
		if (!mk[i].match)
			continue;
		if (lsub)
			show = mk[i].selected || mk[i].childinfo;
		else if (o.sel_subscribed || o.sel_special)
			show = mk[i].selected ||
			    (o.recursive && mk[i].childinfo);
		else
			show = true;
		if (show && list_entry(s, &b, &o, &v[i], &mk[i]) == -1) {
			/* Only a name near STORE_MNAME_MAX of quoting. */
			b.len = 0;
			log_warn(s->srv->ls.name, conn_id(s->conn),
			    conn_ip(s->conn), "event=list-skip mailbox=%s",
			    log_q(v[i].name));
		}
	}
ok:
	imap_tagged(s, "OK %s completed", lsub ? "LSUB" : "LIST");
done:
	buf_release(&b);
	free(mk);
	store_tree_free(v, n);
	opts_free(&o);
}

void
imap_cmd_list(struct imap_session *s, const struct imap_cmd *cmd)
{
	list(s, cmd, false);
}

void
imap_cmd_lsub(struct imap_session *s, const struct imap_cmd *cmd)
{
	list(s, cmd, true);
}
