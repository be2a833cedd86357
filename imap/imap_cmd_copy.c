/*
 * imap_cmd_copy: COPY, UID COPY (RFC 3501 6.4.7) and MOVE, UID MOVE
 * (RFC 6851), with UIDPLUS's COPYUID (RFC 4315). The store does the work
 * (store/copy.h: hard links, one UID block, all or nothing).
 */
#include "imap/imap_private.h"
#include "config/env.h"
#include "core/buf.h"
#include "core/conn.h"
#include "core/util.h"
#include "store/copy.h"
#include "store/hub.h"
#include "store/mailbox.h"
#include "store/names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Append uids (ascending) to b as a compact set: "3:5,9". */
static void
put_uidset(struct buf *b, const uint32_t *u, size_t n)
{
	const char *sep = "";

	for (size_t i = 0; i < n; ) {
		size_t j = i;

		while (j + 1 < n && u[j + 1] == u[j] + 1)
			j++;
		if (j == i)
			buf_appendf(b, "%s%u", sep, u[i]);
		else
			buf_appendf(b, "%s%u:%u", sep, u[i], u[j]);
		sep = ",";
		i = j + 1;
	}
}

/* Format a COPYUID/APPENDUID set into a heap string. */
char *
imap_uidset_str(const uint32_t *u, size_t n)
{
	struct buf b;
	char *s;

	buf_init(&b, SIZE_MAX);
	put_uidset(&b, u, n);
	buf_append(&b, "", 1);
	s = xstrdup((char *)buf_head(&b));
	buf_release(&b);
	return s;
}

static void
copy_common(struct imap_session *s, const struct imap_cmd *cmd, bool move)
{
	struct imap_view *v = s->view;
	char canon[STORE_MNAME_MAX], dir[STORE_DIRNAME_MAX], err[256];
	struct store_mbox *dst;
	uint32_t *uids = NULL, *dst_uids = NULL, *src_ok, *dst_ok;
	size_t n = 0, k = 0;
	const char *what = move ? "MOVE" : "COPY";

	if (cmd->nargs != 2) {
		imap_tagged(s, "BAD Expected: %s sequence-set mailbox", what);
		return;
	}
	if (move && v->readonly) {
		imap_tagged(s, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	if (imap_arg_mailbox(s, &cmd->args[1], canon, dir) == -1)
		return;
	if (imap_view_uids(s, &cmd->args[0], cmd->uid, &uids, &n) == -1)
		return;
	if ((dst = store_hub_open(s->srv->env->hub, s->user_dir, dir, err,
	    sizeof(err))) == NULL) {
		free(uids);
		if (errno == ENOENT || errno == ENOTDIR)
			imap_tagged(s, "NO [TRYCREATE] Mailbox does not exist");
		else
			imap_tagged(s, "NO [SERVERBUG] Cannot open mailbox");
		return;
	}
	store_mbox_set_quota(dst, imap_user_quota(s));
	dst_uids = xcalloc(n > 0 ? n : 1, sizeof(*dst_uids));
	/* A failed copy leaves every dst_uids 0; a move whose expunge failed
	 * copied (store/copy.h): that still reports COPYUID. */
	if (n > 0 && store_mbox_copy(v->mb, dst, uids, n, move, dst_uids, err,
	    sizeof(err)) == -1) {
		int e = errno;
		bool any = false;

		for (size_t i = 0; i < n; i++)
			any |= dst_uids[i] != 0;
		if (!any) {
			store_hub_release(s->srv->env->hub, &dst);
			free(uids);
			free(dst_uids);
			imap_tagged(s, "NO [%s] %s failed: %s",
			    imap_errno_code(e), what, e == EDQUOT ?
			    "over quota" : "cannot copy the messages");
			return;
		}
	}
	/* COPYUID pairs the messages that were copied. */
	src_ok = xcalloc(n > 0 ? n : 1, sizeof(*src_ok));
	dst_ok = xcalloc(n > 0 ? n : 1, sizeof(*dst_ok));
	for (size_t i = 0; i < n; i++)
		if (dst_uids[i] != 0) {
			src_ok[k] = uids[i];
			dst_ok[k++] = dst_uids[i];
		}
	if (k > 0) {
		char *a = imap_uidset_str(src_ok, k), *b = imap_uidset_str(dst_ok, k);
		uint32_t uv = store_mbox_uidvalidity(dst);

		if (move) {
			imap_untagged(s, "OK [COPYUID %u %s %s] Moved", uv, a, b);
			imap_tagged(s, "OK %s%s completed", cmd->uid ? "UID " : "",
			    what);
		} else {
			imap_tagged(s, "OK [COPYUID %u %s %s] %s%s completed", uv,
			    a, b, cmd->uid ? "UID " : "", what);
		}
		free(a);
		free(b);
	} else if (n > 0) {
		imap_tagged(s, "NO [EXPUNGEISSUED] The messages no longer exist");
	} else {
		imap_tagged(s, "OK %s%s completed (nothing to do)",
		    cmd->uid ? "UID " : "", what);
	}
	store_hub_release(s->srv->env->hub, &dst);
	free(src_ok);
	free(dst_ok);
	free(uids);
	free(dst_uids);
}

void
imap_cmd_copy(struct imap_session *s, const struct imap_cmd *cmd)
{
	copy_common(s, cmd, false);
}

void
imap_cmd_move(struct imap_session *s, const struct imap_cmd *cmd)
{
	copy_common(s, cmd, true);
}
