/*
 * imap_cmd_append: APPEND (RFC 3501 6.3.11) with MULTIAPPEND (RFC 3502),
 * APPENDUID (RFC 4315) and APPENDLIMIT (RFC 7889).
 *
 *	APPEND mailbox [(flags)] [date-time] literal [[(flags)] [date] literal]...
 *
 * The session refused any literal over the limit before it was read
 * (imap_session.c). All messages go in one store batch, all or nothing:
 * when one cannot be stored, those stored before it are removed again.
 */
#include "imap/imap_private.h"
#include "imap/imapdate.h"
#include "config/env.h"
#include "core/util.h"
#include "store/hub.h"
#include "store/mailbox.h"
#include "store/names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define APPEND_MAX	1000	/* messages in one MULTIAPPEND */

struct append_msg {
	const struct imap_arg	*flags;		/* or NULL */
	time_t			 date;		/* 0: now */
	const struct imap_arg	*data;
};

/* Split the arguments after the mailbox into messages. -1: BAD sent. */
static int
parse_msgs(struct imap_session *s, const struct imap_cmd *cmd,
    struct append_msg *m, size_t *n_r)
{
	size_t n = 0;

	for (size_t i = 1; i < cmd->nargs; ) {
		struct append_msg *a = &m[n];

		if (n == APPEND_MAX) {
			imap_tagged(s, "NO [LIMIT] Too many messages in one APPEND");
			return -1;
		}
		memset(a, 0, sizeof(*a));
		if (cmd->args[i].type == IMAP_ARG_LIST)
			a->flags = &cmd->args[i++];
		if (i < cmd->nargs && cmd->args[i].type == IMAP_ARG_QUOTED &&
		    i + 1 < cmd->nargs) {
			if (imap_datetime_parse(cmd->args[i].str, &a->date) == -1) {
				imap_tagged(s, "BAD Invalid date-time");
				return -1;
			}
			i++;
		}
		if (i == cmd->nargs || (cmd->args[i].type != IMAP_ARG_LITERAL &&
		    cmd->args[i].type != IMAP_ARG_QUOTED)) {
			imap_tagged(s, "BAD Expected: APPEND mailbox [(flags)] "
			    "[date-time] literal");
			return -1;
		}
		a->data = &cmd->args[i++];
		n++;
	}
	if (n == 0) {
		imap_tagged(s, "BAD Expected: APPEND mailbox [(flags)] "
		    "[date-time] literal");
		return -1;
	}
	*n_r = n;
	return 0;
}

void
imap_cmd_append(struct imap_session *s, const struct imap_cmd *cmd)
{
	char canon[STORE_MNAME_MAX], dir[STORE_DIRNAME_MAX], err[256];
	struct append_msg *m;
	struct store_append *v;
	struct store_mbox *mb;
	uint32_t *uids;
	size_t n = 0, stored = 0;
	const char *why;
	int rc, e = 0;

	if (cmd->nargs < 2) {
		imap_tagged(s, "BAD Expected: APPEND mailbox [(flags)] "
		    "[date-time] literal");
		return;
	}
	if (imap_arg_mailbox(s, &cmd->args[0], canon, dir) == -1)
		return;
	m = xcalloc(cmd->nargs, sizeof(*m));
	if (parse_msgs(s, cmd, m, &n) == -1) {
		free(m);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (m[i].data->len == 0) {
			free(m);
			imap_tagged(s, "NO Cannot store an empty message");
			return;
		}
	if ((mb = store_hub_open(s->srv->env->hub, s->user_dir, dir, err,
	    sizeof(err))) == NULL) {
		free(m);
		if (errno == ENOENT || errno == ENOTDIR)
			imap_tagged(s, "NO [TRYCREATE] Mailbox does not exist");
		else
			imap_tagged(s, "NO [SERVERBUG] Cannot open mailbox");
		return;
	}
	store_mbox_set_quota(mb, imap_user_quota(s));
	v = xcalloc(n, sizeof(*v));
	uids = xcalloc(n, sizeof(*uids));
	for (size_t i = 0; i < n; i++) {
		if (m[i].flags != NULL && imap_parse_flags(m[i].flags, mb, true,
		    &v[i].flags, &why) == -1) {
			e = -1;
			break;
		}
		/* Stored with CRLF line ends, so RFC822.SIZE is the file's. */
		v[i].data = store_crlf(NULL, m[i].data->str, m[i].data->len,
		    &v[i].len);
		v[i].internaldate = m[i].date;
	}
	if (e == -1) {
		imap_tagged(s, "%s %s", why[0] == '[' ? "NO" : "BAD", why);
		goto out;
	}
	rc = store_mbox_append_many(mb, v, n, err, sizeof(err));
	for (size_t i = 0; i < n; i++) {
		if (v[i].uid != 0 && v[i].error == 0)
			uids[stored++] = v[i].uid;
		else if (e == 0)
			e = v[i].error != 0 ? v[i].error : EIO;
	}
	if (rc == -1 && e == 0)
		e = errno != 0 ? errno : EIO;
	if (e != 0) {
		/* All or nothing (RFC 3502): take back what went in. */
		if (stored > 0)
			(void)store_mbox_expunge_uids(mb, uids, stored);
		imap_tagged(s, "NO [%s] APPEND failed: %s", imap_errno_code(e),
		    e == EDQUOT ? "over quota" : e == ENOSPC ?
		    "not enough disk space on the server" :
		    "cannot store the message");
	} else {
		char *set = imap_uidset_str(uids, stored);

		imap_tagged(s, "OK [APPENDUID %u %s] APPEND completed",
		    store_mbox_uidvalidity(mb), set);
		free(set);
	}
out:
	for (size_t i = 0; i < n; i++)
		free((void *)v[i].data);
	free(v);
	free(uids);
	free(m);
	store_hub_release(s->srv->env->hub, &mb);
}
