/*
 * imap_cmd_mailbox: CREATE (with RFC 6154 CREATE-SPECIAL-USE), DELETE,
 * RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 3501 6.3.3-6.3.7), STATUS (6.3.10,
 * and SIZE from RFC 8438) and NAMESPACE (RFC 2342), on top of
 * store/mboxtree.h. LIST and LSUB are in imap_cmd_list.c; the STATUS
 * counting here serves LIST-STATUS too.
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
#include "store/hub.h"
#include "store/mailbox.h"
#include "store/mboxtree.h"
#include "store/names.h"

/* Store messages can hold paths: they go to the log, never to the client. */
static void
mbox_log(struct imap_session *s, const char *cmd, const char *name,
    const char *err)
{
	log_error(s->srv->ls.name, conn_id(s->conn), conn_ip(s->conn),
	    "event=mailbox-error cmd=%s mailbox=%s err=%s", cmd, log_q(name),
	    log_q(err));
}

/*
 * The tagged NO for a store failure e (errno) of cmd on name, with the RFC
 * 5530 code from imap_errno_code() and a text of our own.
 */
static void
mbox_no(struct imap_session *s, const char *cmd, const char *name, int e,
    const char *err)
{
	const char *text;

	switch (e) {
	case ENOENT:
		text = "Mailbox does not exist";
		break;
	case EEXIST:
		text = "Mailbox already exists";
		break;
	case ENOTEMPTY:
		text = "Mailbox has inferior hierarchical names";
		break;
	case ENOTDIR:
		text = "Mailbox is not selectable";
		break;
	case EPERM:
		text = "Not permitted on this mailbox";
		break;
	case EINVAL:
		text = "Invalid mailbox name";
		break;
	case EDQUOT:
		text = "Quota exceeded";
		break;
	default:
		mbox_log(s, cmd, name, err);
		text = "Internal error";
		break;
	}
	imap_tagged(s, "NO [%s] %s", imap_errno_code(e), text);
}

/* CREATE */

/* RFC 6154 2: the attributes a mailbox can be created with. \All and
 * \Flagged are virtual mailboxes this store cannot make. */
static const char *const special_uses[] = {
	"\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash",
};

/*
 * CREATE's parameter list (RFC 4466 create-params): only USE (RFC 6154
 * 3). *use_r is the one special use asked for, or NULL. 0, or -1 after
 * the reply (BAD for syntax, NO [USEATTR] for what we cannot do).
 */
static int
create_params(struct imap_session *s, const struct imap_arg *arg,
    const char **use_r)
{
	const struct imap_arg	*a, *u;
	size_t			 i, j, k;

	*use_r = NULL;
	if (arg->type != IMAP_ARG_LIST) {
		imap_tagged(s, "BAD Expected a CREATE parameter list");
		return -1;
	}
	for (i = 0; i < arg->nlist; i++) {
		a = &arg->list[i];
		if (!imap_arg_is_atom(a, "USE") || i + 1 >= arg->nlist ||
		    a[1].type != IMAP_ARG_LIST) {
			imap_tagged(s, "BAD Unknown CREATE parameter");
			return -1;
		}
		a++;
		i++;
		for (j = 0; j < a->nlist; j++) {
			u = &a->list[j];
			if (u->type != IMAP_ARG_ATOM || u->str[0] != '\\') {
				imap_tagged(s, "BAD Invalid special-use "
				    "attribute");
				return -1;
			}
			for (k = 0; k < NELEM(special_uses); k++)
				if (ascii_casecmp(u->str, special_uses[k]) == 0)
					break;
			if (k == NELEM(special_uses)) {
				imap_tagged(s, "NO [USEATTR] Unsupported "
				    "special-use attribute");
				return -1;
			}
			if (*use_r != NULL && *use_r != special_uses[k]) {
				imap_tagged(s, "NO [USEATTR] Only one "
				    "special-use attribute per mailbox");
				return -1;
			}
			*use_r = special_uses[k];
		}
	}
	return 0;
}

void
imap_cmd_create(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap_arg	 namearg;
	char		 canon[STORE_MNAME_MAX], err[512], *stripped = NULL;
	const char	*name, *use = NULL;

	if (cmd->nargs != 1 && cmd->nargs != 2) {
		imap_tagged(s, "BAD CREATE takes a mailbox name and optional "
		    "parameters");
		return;
	}
	if (cmd->nargs == 2 && create_params(s, &cmd->args[1], &use) == -1)
		return;
	/* RFC 3501 6.3.3: a trailing separator only declares the intent to
	 * create children; the mailbox is the name without it. */
	namearg = cmd->args[0];
	name = imap_arg_astring(&namearg);
	if (name != NULL && namearg.len > 1 && name[namearg.len - 1] == '/') {
		stripped = xstrndup(name, namearg.len - 1);
		namearg.str = stripped;
		namearg.len--;
	}
	if (imap_arg_mailbox(s, &namearg, canon, NULL) == -1)
		goto done;
	if (store_tree_create(s->user_dir, canon, use, err, sizeof(err)) ==
	    -1) {
		mbox_no(s, "CREATE", canon, errno, err);
		goto done;
	}
	imap_tagged(s, "OK CREATE completed");
done:
	free(stripped);
}

/* DELETE */

/*
 * The session's own DELETE or RENAME of its selected mailbox (or of a
 * parent of it, for RENAME) leaves the selected state, as Dovecot does;
 * other sessions on it get BYE when the store reports it gone.
 */
static void
deselect_if(struct imap_session *s, const char *name, bool subtree)
{
	const char *sel = imap_selected_name(s);
	size_t n = strlen(name);

	if (sel == NULL || strncmp(sel, name, n) != 0 ||
	    (sel[n] != '\0' && (!subtree || sel[n] != '/')))
		return;
	imap_view_close(s);
	s->state = IMAP_ST_AUTH;
}

void
imap_cmd_delete(struct imap_session *s, const struct imap_cmd *cmd)
{
	char canon[STORE_MNAME_MAX], err[512];

	if (cmd->nargs != 1) {
		imap_tagged(s, "BAD DELETE takes a mailbox name");
		return;
	}
	if (imap_arg_mailbox(s, &cmd->args[0], canon, NULL) == -1)
		return;
	if (strcmp(canon, "INBOX") == 0) {
		imap_tagged(s, "NO [CANNOT] INBOX cannot be deleted");
		return;
	}
	/*
	 * A mailbox with children becomes \Noselect; one that already is
	 * (or an implied parent) is ENOTEMPTY: RFC 3501 6.3.4 calls that an
	 * error, and CANNOT (RFC 5530) says retrying will not help.
	 */
	if (store_tree_delete(s->user_dir, canon, err, sizeof(err)) == -1) {
		mbox_no(s, "DELETE", canon, errno, err);
		return;
	}
	deselect_if(s, canon, false);
	imap_tagged(s, "OK DELETE completed");
}

/* RENAME */

void
imap_cmd_rename(struct imap_session *s, const struct imap_cmd *cmd)
{
	char	from[STORE_MNAME_MAX], to[STORE_MNAME_MAX], err[512];
	size_t	flen;

	if (cmd->nargs != 2) {
		imap_tagged(s, "BAD RENAME takes two mailbox names");
		return;
	}
	if (imap_arg_mailbox(s, &cmd->args[0], from, NULL) == -1 ||
	    imap_arg_mailbox(s, &cmd->args[1], to, NULL) == -1)
		return;
	if (store_tree_rename(s->user_dir, from, to, err, sizeof(err)) == 0) {
		/* RENAME INBOX moves its messages; INBOX itself stays. */
		if (strcmp(from, "INBOX") != 0)
			deselect_if(s, from, true);
		imap_tagged(s, "OK RENAME completed");
		return;
	}
	flen = strlen(from);
	if (errno == EINVAL && strcmp(from, "INBOX") != 0 &&
	    strncmp(to, from, flen) == 0 && to[flen] == '/') {
		imap_tagged(s, "NO [CANNOT] Cannot rename a mailbox into "
		    "itself");
		return;
	}
	if (errno == EINVAL) {
		imap_tagged(s, "NO [CANNOT] Cannot rename: a new name would "
		    "be too long");
		return;
	}
	mbox_no(s, "RENAME", from, errno, err);
}

/* SUBSCRIBE, UNSUBSCRIBE */

static void
subscribe(struct imap_session *s, const struct imap_cmd *cmd, bool on)
{
	const char	*verb = on ? "SUBSCRIBE" : "UNSUBSCRIBE";
	char		 canon[STORE_MNAME_MAX], err[512];

	if (cmd->nargs != 1) {
		imap_tagged(s, "BAD %s takes a mailbox name", verb);
		return;
	}
	if (imap_arg_mailbox(s, &cmd->args[0], canon, NULL) == -1)
		return;
	/* Only existing mailboxes carry a subscription (store/mboxtree.h). */
	if (store_tree_subscribe(s->user_dir, canon, on, err, sizeof(err)) ==
	    -1) {
		mbox_no(s, verb, canon, errno, err);
		return;
	}
	imap_tagged(s, "OK %s completed", verb);
}

void
imap_cmd_subscribe(struct imap_session *s, const struct imap_cmd *cmd)
{
	subscribe(s, cmd, true);
}

void
imap_cmd_unsubscribe(struct imap_session *s, const struct imap_cmd *cmd)
{
	subscribe(s, cmd, false);
}

/* STATUS */

static const struct {
	const char		*name;
	enum imap_status_item	 item;
} status_names[] = {
	{ "MESSAGES", IMAP_STATUS_MESSAGES },
	{ "RECENT", IMAP_STATUS_RECENT },
	{ "UIDNEXT", IMAP_STATUS_UIDNEXT },
	{ "UIDVALIDITY", IMAP_STATUS_UIDVALIDITY },
	{ "UNSEEN", IMAP_STATUS_UNSEEN },
	{ "SIZE", IMAP_STATUS_SIZE },
};

static const char *
status_name(enum imap_status_item item)
{
	size_t i;

	for (i = 0; i < NELEM(status_names); i++)
		if (status_names[i].item == item)
			return status_names[i].name;
	return "?";
}

int
imap_status_parse(const struct imap_arg *arg, struct imap_status_req *req,
    const char **why_r)
{
	size_t i, j, k;

	req->n = 0;
	if (arg->type != IMAP_ARG_LIST || arg->nlist == 0) {
		*why_r = "Expected a list of status items";
		return -1;
	}
	for (i = 0; i < arg->nlist; i++) {
		for (j = 0; j < NELEM(status_names); j++)
			if (imap_arg_is_atom(&arg->list[i],
			    status_names[j].name))
				break;
		if (j == NELEM(status_names)) {
			*why_r = "Unknown status item";
			return -1;
		}
		for (k = 0; k < req->n; k++)
			if (req->item[k] == status_names[j].item)
				break;
		if (k == req->n)
			req->item[req->n++] = status_names[j].item;
	}
	return 0;
}

int
imap_status_append(struct imap_session *s, const char *canon,
    const char *dir, const struct imap_status_req *req, struct buf *b,
    char *err, size_t errlen)
{
	struct store_hub	*hub = s->srv->env->hub;
	struct store_mbox	*mb;
	const struct store_msg	*m;
	const struct imap_view	*view = NULL;
	unsigned long long	 v, unseen = 0, recent = 0, size = 0;
	uint32_t		 recent_first;
	size_t			 i, n, oldlen = b->len;
	bool			 scan = false;
	int			 r;

	if ((mb = store_hub_open(hub, s->user_dir, dir, err, errlen)) == NULL)
		return -1;
	for (i = 0; i < req->n; i++)
		if (req->item[i] == IMAP_STATUS_UNSEEN ||
		    req->item[i] == IMAP_STATUS_RECENT ||
		    req->item[i] == IMAP_STATUS_SIZE)
			scan = true;
	/* This session's own \Recent messages were claimed by its SELECT:
	 * they stay recent to it (RFC 3501 2.3.2). */
	if (s->view != NULL && s->view->mb == mb)
		view = s->view;
	recent_first = store_mbox_recent_first(mb);
	n = store_mbox_count(mb);
	for (i = 0; scan && i < n; i++) {
		m = store_mbox_at(mb, i);
		if ((m->flags.sys & STORE_F_SEEN) == 0)
			unseen++;
		if (m->uid >= recent_first ||
		    (view != NULL && imap_view_is_recent(view, m->uid)))
			recent++;
		size += (unsigned long long)m->size;
	}
	r = buf_append(b, "* STATUS ", 9) == -1 ||
	    imap_fmt_astring(b, canon) == -1 || buf_append(b, " (", 2) == -1;
	for (i = 0; !r && i < req->n; i++) {
		switch (req->item[i]) {
		case IMAP_STATUS_MESSAGES:
			v = n;
			break;
		case IMAP_STATUS_RECENT:
			v = recent;
			break;
		case IMAP_STATUS_UIDNEXT:
			v = store_mbox_uidnext(mb);
			break;
		case IMAP_STATUS_UIDVALIDITY:
			v = store_mbox_uidvalidity(mb);
			break;
		case IMAP_STATUS_UNSEEN:
			v = unseen;
			break;
		case IMAP_STATUS_SIZE:
		default:
			v = size;
			break;
		}
		r = buf_appendf(b, "%s%s %llu", i > 0 ? " " : "",
		    status_name(req->item[i]), v) == -1;
	}
	if (!r)
		r = buf_append(b, ")\r\n", 3) == -1;
	store_hub_release(hub, &mb);
	if (r) {
		b->len = oldlen;
		err_printf(err, errlen, "STATUS response too long");
		errno = ENOBUFS;
		return -1;
	}
	return 0;
}

void
imap_cmd_status(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap_status_req	 req;
	struct buf		 b;
	char			 canon[STORE_MNAME_MAX], dir[STORE_DIRNAME_MAX];
	char			 err[512];
	const char		*why;

	if (cmd->nargs != 2) {
		imap_tagged(s, "BAD STATUS takes a mailbox name and a list of "
		    "items");
		return;
	}
	if (imap_status_parse(&cmd->args[1], &req, &why) == -1) {
		imap_tagged(s, "BAD %s", why);
		return;
	}
	if (imap_arg_mailbox(s, &cmd->args[0], canon, dir) == -1)
		return;
	buf_init(&b, 2 * STORE_MNAME_MAX + 512);
	if (imap_status_append(s, canon, dir, &req, &b, err, sizeof(err)) ==
	    -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			imap_tagged(s, "NO [NONEXISTENT] %s",
			    errno == ENOENT ? "Mailbox does not exist" :
			    "Mailbox is not selectable");
		else
			mbox_no(s, "STATUS", canon, errno, err);
		buf_release(&b);
		return;
	}
	imap_send(s, &b);
	buf_release(&b);
	imap_tagged(s, "OK STATUS completed");
}

/* NAMESPACE (RFC 2342 5): one personal namespace, no prefix. */
void
imap_cmd_namespace(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		imap_tagged(s, "BAD NAMESPACE takes no arguments");
		return;
	}
	imap_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_tagged(s, "OK NAMESPACE completed");
}
