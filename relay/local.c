/*
 * local: delivery of queued messages to local users' INBOXes, through the
 * server's hub so IMAP sessions hear of them at once.
 *
 * A pass hands over every due local target of several messages at once;
 * they are grouped by mailbox, and each mailbox takes its group in one
 * store_mbox_append_many(): one lock, one durable status.json write (the
 * uids and the once-keys), one fsync of the shard.
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

/* Where one delivery goes, resolved on the loop. */
struct dest {
	size_t			 d;	/* index into the deliveries */
	const struct user	*u;	/* its user */
	char			*dir;	/* the user's folder */
};


static int
dest_cmp(const void *a, const void *b)
{
	const struct dest *x = a, *y = b;
	int c = strcmp(x->dir, y->dir);

	/* Stable within a mailbox: the pass's order is the uid order. */
	if (c != 0)
		return c;
	return x->d < y->d ? -1 : x->d > y->d;
}

/* Deliver v[dests[0..n).d], all for the user folder dir, in one batch. */
static void
deliver_group(struct rmail_env *env, struct queue_delivery *v,
    const struct dest *dests, size_t n, const char *inbox)
{
	const struct user		*u = dests[0].u;
	struct store_append		*a;
	struct store_mbox		*mb;
	char				 serr[512];
	char				(*keys)[QUEUE_ID_MAX + 24];
	const char			*dir = dests[0].dir;

	(void)store_hub_quota(env->hub, dir, u->quota_bytes, u->quota_messages);
	mb = store_hub_open(env->hub, dir, inbox, serr, sizeof(serr));
	if (mb == NULL && errno == ENOENT) {
		/* A first delivery: make (or mend) the user's folder. */
		char udir[PATH_MAX];

		if (store_user_ensure(env->conf->data_dir, u->address, udir,
		    sizeof(udir), serr, sizeof(serr)) == 0)
			mb = store_hub_open(env->hub, dir, inbox, serr,
			    sizeof(serr));
	}
	if (mb == NULL) {
		for (size_t k = 0; k < n; k++) {
			v[dests[k].d].res = QUEUE_LOCAL_TEMP;
			err_printf(v[dests[k].d].err, sizeof(v->err), "4.3.0 %s",
			    serr);
		}
		return;
	}
	a = xcalloc(n, sizeof(*a));
	keys = xcalloc(n, sizeof(*keys));
	for (size_t k = 0; k < n; k++) {
		const struct queue_delivery *qd = &v[dests[k].d];

		/* The store's once-key of target i: "ID.i". */
		snprintf(keys[k], sizeof(keys[k]), "%s.%zu", qd->e->id, qd->i);
		a[k].key = keys[k];
		a[k].data = qd->data;
		a[k].len = qd->len;
		a[k].link_from = qd->link_from;
	}
	serr[0] = '\0';
	(void)store_mbox_append_many(mb, a, n, serr, sizeof(serr));
	for (size_t k = 0; k < n; k++) {
		struct queue_delivery *qd = &v[dests[k].d];

		if (a[k].error == 0) {
			qd->res = QUEUE_LOCAL_OK;
			qd->uid = a[k].uid;
			qd->dup = a[k].dup;
			if (qd->dup)
				log_info("queue", 0, NULL, "event=duplicate-"
				    "skipped id=%s to=%s uid=%u", qd->e->id,
				    log_q(qd->e->t[qd->i].addr),
				    (unsigned)qd->uid);
			continue;
		}
		/* Over quota, disk full, a store error: all temporary. */
		qd->res = QUEUE_LOCAL_TEMP;
		if (a[k].error == EDQUOT)
			err_printf(qd->err, sizeof(qd->err), "4.2.2 mailbox "
			    "full: %s is over quota", u->address);
		else
			err_printf(qd->err, sizeof(qd->err), "4.3.0 %s",
			    serr[0] != '\0' ? serr : strerror(a[k].error));
	}
	free(keys);
	free(a);
	store_hub_release(env->hub, &mb);
}

void
queue_local_deliver_many(struct rmail_env *env, struct queue_delivery *v,
    size_t n)
{
	struct dest	*dests = xcalloc(n ? n : 1, sizeof(*dests));
	char		 dir[PATH_MAX], inbox[STORE_DIRNAME_MAX];
	size_t		 nd = 0, k, j;

	for (k = 0; k < n; k++) {
		struct queue_delivery	*qd = &v[k];
		const struct user	*u;

		qd->res = QUEUE_LOCAL_TEMP;
		qd->uid = 0;
		qd->dup = false;
		qd->err[0] = '\0';
		u = users_find(env->users, qd->e->t[qd->i].addr);
		if (u == NULL) {
			qd->res = QUEUE_LOCAL_PERM;
			err_printf(qd->err, sizeof(qd->err), "5.1.1 %s: no "
			    "such user (not in the users file any more)",
			    qd->e->t[qd->i].addr);
			continue;
		}
		if (store_user_dir(env->conf->data_dir, u->address, dir,
		    sizeof(dir)) == -1) {
			err_printf(qd->err, sizeof(qd->err), "4.3.0 %s: %s",
			    u->address, strerror(errno));
			continue;
		}
		dests[nd].d = k;
		dests[nd].u = u;
		dests[nd++].dir = xstrdup(dir);
	}
	/* Every INBOX is named the same: the user folder tells them apart. */
	(void)store_name_to_dir("INBOX", inbox, sizeof(inbox), NULL);
	qsort(dests, nd, sizeof(*dests), dest_cmp);
	for (k = 0; k < nd; k = j) {
		for (j = k + 1; j < nd && strcmp(dests[j].dir,
		    dests[k].dir) == 0; j++)
			;
		deliver_group(env, v, &dests[k], j - k, inbox);
	}
	for (k = 0; k < nd; k++)
		free(dests[k].dir);
	free(dests);
}
