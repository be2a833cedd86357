/*
 * queue_bounce: telling the sender what could not be delivered (RFC 3464,
 * relay/bounce.h): compose the report and queue it with the null sender,
 * like any other message, to the original sender, local or remote.
 */
#include "relay/queue.h"
#include "relay/queue_env.h"
#include "relay/queue_private.h"
#include "relay/bounce.h"
#include "relay/route.h"
#include "config/config.h"
#include "config/env.h"
#include "core/fsio.h"
#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void
queue_bounce(struct queue *q, const char *qdir, const struct queue_msgenv *e,
    const struct bounce_rcpt *rs, size_t n)
{
	struct rmail_env *env = queue_env_of(q);
	struct route_list to = { 0 };
	struct queue_envelope qe;
	struct bounce_info bi;
	char *mpath, *msg, *report, id[QUEUE_ID_MAX], err[256];
	size_t len, rlen;
	uint64_t skip;
	enum route_status rst;

	if (n == 0)
		return;
	if (!bounce_wanted(e->from)) {
		/* RFC 5321 6.1: never report to the null sender. */
		for (size_t i = 0; i < n; i++)
			log_info("queue", 0, NULL, "event=bounce-dropped id=%s "
			    "to=%s reason=null-sender", e->id,
			    log_q(rs[i].final_rcpt));
		return;
	}
	mpath = queue_msg_path(qdir, e->id);
	msg = fsio_read_file(mpath, SIZE_MAX, &len);
	free(mpath);
	if (msg == NULL) {
		msg = xstrdup("");
		len = 0;
	}
	skip = e->local_head <= len ? e->local_head : 0;
	memset(&bi, 0, sizeof(bi));
	bi.hostname = env->conf->hostname;
	bi.sender = e->from;
	bi.queue_id = e->id;
	bi.arrival = e->received;
	bi.rcpts = rs;
	bi.nrcpts = n;
	bi.msg = msg + skip;
	bi.msglen = len - (size_t)skip;
	report = bounce_compose(&bi, &rlen);
	free(msg);
	rst = route_resolve(env->conf, env->users, e->from, &to);
	if (rst != ROUTE_OK && rst != ROUTE_REMOTE) {
		log_warn("queue", 0, NULL, "event=bounce-dropped id=%s to=%s "
		    "reason=unroutable-sender", e->id, log_q(e->from));
		goto out;
	}
	memset(&qe, 0, sizeof(qe));
	qe.mail_from = "";
	qe.targets = &to;
	if (queue_submit(q, &qe, report, rlen, id, err, sizeof(err)) == -1) {
		log_error("queue", 0, NULL, "event=bounce-failed id=%s to=%s "
		    "err=%s", e->id, log_q(e->from), log_q(err));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		log_info("queue", 0, NULL, "event=%s id=%s to=%s "
		    "status=%s bounce_id=%s sender=%s", rs[i].action ==
		    BOUNCE_DELAYED ? "delay-notice" : "bounced", e->id,
		    log_q(rs[i].final_rcpt), rs[i].status != NULL ?
		    rs[i].status : "5.0.0", id, log_q(e->from));
out:
	route_list_clear(&to);
	free(report);
}
