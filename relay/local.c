/*
 * local: delivery of one queued message to one local user's INBOX,
 * through the server's hub so IMAP sessions hear of it at once.
 */
#include "relay/queue_env.h"
#include "relay/queue_private.h"

#include "config/config.h"
#include "config/env.h"
#include "config/users.h"
#include "core/log.h"
#include "core/util.h"
#include "store/hub.h"
#include "store/mailbox.h"
#include "store/names.h"
#include "store/user.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The store's once-key of target i: "ID.i". */
static void
target_key(const struct queue_msgenv *e, size_t i, char *key, size_t len)
{
	snprintf(key, len, "%s.%zu", e->id, i);
}

/* The user's folder and INBOX, or -1 with err. */
static int
inbox_of(const struct rmail_env *env, const char *addr, char *dir,
    size_t dirlen, char *inbox, size_t inboxlen, char *err, size_t errlen)
{
	const char *why;

	if (store_user_ensure(env->conf->data_dir, addr, dir, dirlen, err,
	    errlen) == -1)
		return -1;
	if (store_name_to_dir("INBOX", inbox, inboxlen, &why) == -1) {
		err_printf(err, errlen, "INBOX: %s", why);
		return -1;
	}
	return 0;
}

enum queue_local_res
queue_local_deliver(struct rmail_env *env, const struct queue_msgenv *e,
    size_t i, const char *msg, size_t len, struct store_mbox **mb_r,
    uint32_t *uid_r, char *err, size_t errlen)
{
	const struct queue_target	*t = &e->t[i];
	const struct user		*u;
	struct store_mbox		*mb;
	char				 dir[PATH_MAX], inbox[STORE_DIRNAME_MAX];
	char				 key[QUEUE_ID_MAX + 24], serr[512];
	char				*hdr, *data;
	size_t				 datalen;
	bool				 dup = false;
	int				 r;

	*mb_r = NULL;
	if ((u = users_find(env->users, t->addr)) == NULL) {
		err_printf(err, errlen, "5.1.1 %s: no such user (not in the "
		    "users file any more)", t->addr);
		return QUEUE_LOCAL_PERM;
	}
	if (inbox_of(env, u->address, dir, sizeof(dir), inbox, sizeof(inbox),
	    serr, sizeof(serr)) == -1) {
		err_printf(err, errlen, "4.3.0 %s", serr);
		return QUEUE_LOCAL_TEMP;
	}
	/* The hub attaches the user's quota record to the handle. */
	(void)store_hub_quota(env->hub, dir, u->quota_bytes,
	    u->quota_messages);
	if ((mb = store_hub_open(env->hub, dir, inbox, serr,
	    sizeof(serr))) == NULL) {
		err_printf(err, errlen, "4.3.0 %s", serr);
		return QUEUE_LOCAL_TEMP;
	}
	/* Trace headers first (RFC 5321 4.4); the message is CRLF already. */
	hdr = xasprintf("Return-Path: <%s>\r\nDelivered-To: %s\r\n", e->from,
	    t->addr);
	data = store_crlf(hdr, msg, len, &datalen);
	target_key(e, i, key, sizeof(key));
	r = store_mbox_append_once(mb, key, data, datalen, 0, NULL, uid_r,
	    &dup, serr, sizeof(serr));
	if (r == -1) {
		/* Over quota, disk full, a store error: all temporary. */
		err_printf(err, errlen, "%s %s", errno == EDQUOT ?
		    "4.2.2 mailbox full:" : "4.3.0", serr);
	} else if (dup)
		log_info("queue", 0, NULL, "event=duplicate-skipped id=%s to=%s "
		    "uid=%u", e->id, log_q(t->addr), (unsigned)*uid_r);
	free(data);
	free(hdr);
	if (r == -1) {
		store_hub_release(env->hub, &mb);
		return QUEUE_LOCAL_TEMP;
	}
	*mb_r = mb;
	return QUEUE_LOCAL_OK;
}

void
queue_local_done(struct rmail_env *env, const struct queue_msgenv *e,
    size_t i, struct store_mbox **mbp, bool forget)
{
	char key[QUEUE_ID_MAX + 24];

	if (*mbp == NULL)
		return;
	target_key(e, i, key, sizeof(key));
	if (forget && store_mbox_forget_key(*mbp, key) == -1)
		log_warn("queue", 0, NULL, "event=forget-key-failed id=%s to=%s "
		    "err=%s", e->id, log_q(e->t[i].addr), log_q(strerror(errno)));
	store_hub_release(env->hub, mbp);
}
