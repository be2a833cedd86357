/*
 * imap_cmd_select: entering and leaving the selected state and what is
 * done there to the mailbox as a whole: SELECT, EXAMINE (RFC 3501 6.3.1,
 * 6.3.2), CHECK, CLOSE, EXPUNGE, UID EXPUNGE (RFC 4315), UNSELECT (RFC
 * 3691), IDLE (RFC 2177).
 */
#include "imap/imap_private.h"
#include "config/env.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/util.h"
#include "store/mailbox.h"
#include "store/names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void
select_common(struct imap_session *s, const struct imap_cmd *cmd,
    bool readonly)
{
	char canon[STORE_MNAME_MAX], dir[STORE_DIRNAME_MAX], err[256];
	struct imap_view *v;
	uint32_t unseen = 0;
	struct buf b;

	if (cmd->nargs != 1) {
		imap_tagged(s, "BAD Expected: %s mailbox", cmd->name);
		return;
	}
	/* A SELECT deselects first, even when it fails (RFC 3501 6.3.1). */
	imap_view_close(s);
	s->state = IMAP_ST_AUTH;
	if (imap_arg_mailbox(s, &cmd->args[0], canon, dir) == -1)
		return;
	if (imap_view_open(s, canon, dir, readonly, err, sizeof(err)) == -1) {
		int e = errno;

		imap_tagged(s, "NO [%s] %s", e == ENOTDIR ? "CANNOT" :
		    imap_errno_code(e), e == ENOENT ? "Mailbox does not exist" :
		    e == ENOTDIR ? "Mailbox cannot be selected (\\Noselect)" :
		    "Cannot open mailbox");
		if (e != ENOENT && e != ENOTDIR)
			log_error(s->srv->ls.name, conn_id(s->conn),
			    conn_ip(s->conn), "event=select-failed error=%s",
			    log_q(err));
		return;
	}
	v = s->view;
	s->state = IMAP_ST_SELECTED;
	for (size_t i = 0; i < v->n; i++) {
		const struct store_msg *m = store_mbox_at(v->mb, i);

		if ((m->flags.sys & STORE_F_SEEN) == 0) {
			unseen = (uint32_t)i + 1;
			break;
		}
	}
	buf_init(&b, SIZE_MAX);
	buf_appendf(&b, "* FLAGS (");
	imap_fmt_flag_names(&b, v->mb);
	buf_appendf(&b, ")\r\n* OK [PERMANENTFLAGS (");
	imap_fmt_permanentflags(&b, v->mb, readonly);
	buf_appendf(&b, ")] Flags permitted\r\n");
	buf_appendf(&b, "* %zu EXISTS\r\n* %zu RECENT\r\n", v->n, v->nrecent);
	if (unseen != 0)
		buf_appendf(&b, "* OK [UNSEEN %u] First unseen\r\n", unseen);
	buf_appendf(&b, "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	    "* OK [UIDNEXT %u] Predicted next UID\r\n",
	    store_mbox_uidvalidity(v->mb), store_mbox_uidnext(v->mb));
	imap_send(s, &b);
	buf_release(&b);
	v->announced = v->n;
	v->recent_announced = v->nrecent;
	imap_tagged(s, "OK [%s] %s completed", readonly ? "READ-ONLY" :
	    "READ-WRITE", cmd->name);
}

void
imap_cmd_select(struct imap_session *s, const struct imap_cmd *cmd)
{
	select_common(s, cmd, false);
}

void
imap_cmd_examine(struct imap_session *s, const struct imap_cmd *cmd)
{
	select_common(s, cmd, true);
}

void
imap_cmd_check(struct imap_session *s, const struct imap_cmd *cmd)
{
	(void)cmd;
	/* Every change is on disk when its command answers. */
	imap_tagged(s, "OK CHECK completed");
}

/*
 * Expunge the \Deleted messages of the view, or only those among only
 * (UID EXPUNGE). 0, or -1 with errno.
 */
static int
expunge_deleted(struct imap_session *s, const uint32_t *only, size_t nonly)
{
	struct imap_view *v = s->view;
	uint32_t *del = xmalloc((v->n > 0 ? v->n : 1) * sizeof(*del));
	size_t n = 0, k = 0;
	int rc = 0;

	for (size_t i = 0; i < v->n; i++) {
		const struct store_msg *m = store_mbox_find(v->mb, v->uids[i]);

		if (m == NULL || (m->flags.sys & STORE_F_DELETED) == 0)
			continue;
		if (only != NULL) {
			while (k < nonly && only[k] < m->uid)
				k++;
			if (k == nonly || only[k] != m->uid)
				continue;
		}
		del[n++] = m->uid;
	}
	if (n > 0)
		rc = store_mbox_expunge_uids(v->mb, del, n);
	free(del);
	return rc;
}

void
imap_cmd_expunge(struct imap_session *s, const struct imap_cmd *cmd)
{
	uint32_t *only = NULL;
	size_t nonly = 0;

	if (cmd->nargs != (cmd->uid ? 1u : 0u)) {
		imap_tagged(s, "BAD Expected: %sEXPUNGE%s", cmd->uid ? "UID " : "",
		    cmd->uid ? " uid-set" : "");
		return;
	}
	if (s->view->readonly) {
		imap_tagged(s, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	if (cmd->uid && imap_view_uids(s, &cmd->args[0], true, &only,
	    &nonly) == -1)
		return;
	if ((!cmd->uid || nonly > 0) &&
	    expunge_deleted(s, cmd->uid ? only : NULL, nonly) == -1) {
		int e = errno;

		free(only);
		imap_tagged(s, "NO [%s] Some messages could not be expunged",
		    imap_errno_code(e));
		return;
	}
	free(only);
	imap_tagged(s, "OK %sEXPUNGE completed", cmd->uid ? "UID " : "");
}

void
imap_cmd_close(struct imap_session *s, const struct imap_cmd *cmd)
{
	(void)cmd;
	/* No EXPUNGE responses (RFC 3501 6.4.2); errors are not reported. */
	if (!s->view->readonly)
		(void)expunge_deleted(s, NULL, 0);
	imap_view_close(s);
	s->state = IMAP_ST_AUTH;
	imap_tagged(s, "OK CLOSE completed");
}

void
imap_cmd_unselect(struct imap_session *s, const struct imap_cmd *cmd)
{
	(void)cmd;
	imap_view_close(s);
	s->state = IMAP_ST_AUTH;
	imap_tagged(s, "OK UNSELECT completed");
}

void
imap_cmd_idle(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		imap_tagged(s, "BAD IDLE takes no arguments");
		return;
	}
	s->idling = true;
	conn_reply(s->conn, "+ idling");
	imap_view_flush(s, true);
}

void
imap_idle_line(struct imap_session *s, const char *line)
{
	s->idling = false;
	if (ascii_casecmp(line, "DONE") != 0) {
		imap_tagged(s, "BAD Expected DONE to end IDLE");
		return;
	}
	imap_tagged(s, "OK IDLE terminated");
}
