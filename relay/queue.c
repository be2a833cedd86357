/*
 * queue: durable queue and its scheduler (relay/queue.h). Local delivery
 * of one target is in local.c; the envelope files in queue_env.c.
 *
 * The server keeps one small entry per queued message (id, when to look
 * at it next) and reads the envelope from disk at every attempt, so what
 * `rmail queue delete` or an admin did to the files is seen, and an
 * envelope is the only record of progress. One ev_timer drives all
 * attempts; at most QUEUE_BATCH messages are attempted per callback so a
 * long queue never holds the loop for long.
 */
#include "relay/queue.h"
#include "relay/queue_env.h"
#include "relay/queue_private.h"
#include "relay/bounce.h"
#include "relay/outbound.h"
#include "relay/retry.h"

#include "config/config.h"
#include "config/env.h"
#include "config/users.h"
#include "core/fsio.h"
#include "core/log.h"
#include "core/util.h"
#include "store/hub.h"
#include "store/quota.h"
#include "store/user.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <ev.h>

/* Messages attempted per pass (timer callback), and copies to stop at. */
#define QUEUE_BATCH		64
#define QUEUE_PASS_COPIES	256
/*
 * Under load passes start at most this often (seconds): a new message
 * waits for the next pass, which delivers all that came meanwhile, and
 * each mailbox takes them under one lock and one status.json write,
 * instead of one pass per message. A message that arrives while the queue
 * is quiet is delivered in the next loop iteration, so an IMAP client in
 * IDLE sees it at once.
 */
#define QUEUE_COALESCE		0.050
/* Retry delays of a temporary failure: 1 min, doubling, at most 1 h. */
#define QUEUE_RETRY_MIN		60
#define QUEUE_RETRY_MAX		3600

/* One queued message as the scheduler knows it. */
struct qent {
	char	 id[QUEUE_ID_MAX];
	double	 due;		/* wall clock of the next attempt; INFINITY:
				 * nothing to do here (remote targets only) */
	bool	 forced;	/* queue_kick(): ignore the targets' next_try */
	bool	 held;		/* remote targets wait for a free connection */
};

struct queue {
	struct rmail_env	*env;
	char			*dir;		/* DATA_DIR/queue */
	struct qent		*v;
	size_t			 n, cap;
	ev_timer		 timer;
	struct outbound		*ob;		/* remote targets */
	double			 last_pass;	/* ev_now() when the last began */
	size_t			 last_msgs;	/* messages it delivered */
	unsigned		 counter;	/* for ids made in one microsecond */
};

/* --- ids ---------------------------------------------------------------- */

static const char b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* v in base 62, exactly width digits (most significant first). */
static void
put_b62(char *out, uint64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		out[i] = b62[v % 62];
		v /= 62;
	}
}

/*
 * 17 characters: microseconds since the epoch (10 digits, good until the
 * year 28000), a per-process counter (3), the pid (4: pids stay below
 * 2^22). The alphabet is in ASCII order, so ids sort by time, and no two
 * processes alive at once share a pid.
 */
static void
make_id(struct queue *q, char id[QUEUE_ID_MAX])
{
	struct timeval tv;
	uint64_t us;

	gettimeofday(&tv, NULL);
	us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
	put_b62(id, us, 10);
	put_b62(id + 10, q->counter++ % (62 * 62 * 62), 3);
	put_b62(id + 13, (uint64_t)getpid() % (62 * 62 * 62 * 62), 4);
	id[17] = '\0';
}

/* --- the schedule ----------------------------------------------------- */

static struct qent *
find_ent(struct queue *q, const char *id)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->v[i].id, id) == 0)
			return &q->v[i];
	return NULL;
}

static struct qent *
add_ent(struct queue *q, const char *id, double due)
{
	struct qent *e;

	if ((e = find_ent(q, id)) != NULL) {
		if (due < e->due)
			e->due = due;
		return e;
	}
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 16;
		q->v = xrealloc(q->v, q->cap * sizeof(*q->v));
	}
	e = &q->v[q->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->due = due;
	return e;
}

static void
drop_ent(struct queue *q, struct qent *e)
{
	size_t i = (size_t)(e - q->v);

	memmove(&q->v[i], &q->v[i + 1], (q->n - i - 1) * sizeof(*q->v));
	q->n--;
}

/* (Re)arm the timer for the earliest due entry. */
static void
schedule(struct queue *q)
{
	struct ev_loop *loop = q->env->loop;
	double first = INFINITY, now = ev_now(loop);

	for (size_t i = 0; i < q->n; i++)
		if (q->v[i].due < first)
			first = q->v[i].due;
	ev_timer_stop(loop, &q->timer);
	if (first == INFINITY)
		return;
	ev_timer_set(&q->timer, first > now ? first - now : 0, 0);
	ev_timer_start(loop, &q->timer);
}

static time_t
local_retry_delay(unsigned attempts)
{
	time_t d = QUEUE_RETRY_MIN;

	for (unsigned i = 1; i < attempts && d < QUEUE_RETRY_MAX; i++)
		d *= 2;
	return d < QUEUE_RETRY_MAX ? d : QUEUE_RETRY_MAX;
}

/* --- removing a message ----------------------------------------------- */

/*
 * Envelope first, made durable, then the message: a crash in between
 * leaves an orphan message, which the next start removes; never an
 * envelope whose deliveries could be attempted again without the bytes.
 * 0 once the envelope is durably gone (a message file that will not go
 * is only logged), -1 with errno when the envelope is still there.
 */
static int
remove_files(const char *qdir, const char *id)
{
	char	*env = queue_env_path(qdir, id), *msg = queue_msg_path(qdir, id);
	char	*d = xasprintf("%s/" QUEUE_ENVDIR, qdir);
	int	 rv = -1;

	if (unlink(env) == -1 && errno != ENOENT) {
		log_error("queue", 0, NULL, "event=io-error op=unlink path=%s "
		    "err=%s", log_q(env), log_q(strerror(errno)));
		goto out;
	}
	/* Durable before the message file goes. */
	if (fsio_fsync_dir(d) == -1) {
		log_error("queue", 0, NULL, "event=io-error op=fsync path=%s "
		    "err=%s", log_q(d), log_q(strerror(errno)));
		goto out;
	}
	if (unlink(msg) == -1 && errno != ENOENT)
		log_warn("queue", 0, NULL, "event=io-error op=unlink path=%s "
		    "err=%s", log_q(msg), log_q(strerror(errno)));
	rv = 0;
out:
	free(d);
	free(env);
	free(msg);
	return rv;
}

/* --- a delivery pass --------------------------------------------------- */

/* One message of a pass. */
struct pmsg {
	char			 id[QUEUE_ID_MAX];
	struct queue_msgenv	 e;
	bool			 loaded;	/* e is valid, and the message
						 * is there */
	char			*link;		/* msg/ID: what local copies
						 * link to (local_head set) */
	char			*data;		/* or the bytes to write */
	size_t			 datalen;
	size_t			 ntried;
	double			 next;		/* its entry's next due time */
	bool			 gone;		/* left the queue */
	struct bounce_rcpt	*br;		/* failed in this pass: to report */
	size_t			 nbr;
	bool			 forced;	/* queue_kick(): ignore next_try */
	bool			 held;		/* a remote target waits for a slot */
};

/* Note target t of p as failed for good, to be reported to the sender. */
static void
add_bounce(struct pmsg *p, const struct queue_target *t, const char *status,
    const char *remote_mta, bool remote, time_t now)
{
	struct bounce_rcpt *b;

	p->br = xrealloc(p->br, (p->nbr + 1) * sizeof(*p->br));
	b = &p->br[p->nbr++];
	memset(b, 0, sizeof(*b));
	b->final_rcpt = t->addr;
	b->action = BOUNCE_FAILED;
	b->status = status;
	b->remote_mta = remote_mta != NULL && *remote_mta ? remote_mta : NULL;
	b->diagnostic = t->last_error;
	b->diag_type = remote ? NULL : "X-Rmail";
	b->last_attempt = now;
}


static void
set_error(struct queue_target *t, const char *err)
{
	free(t->last_error);
	t->last_error = xstrdup(err);
}

/* One line per attempt, once the envelope has it (so a reader of the log
 * finds the envelope agreeing). */
static void
log_result(const struct queue_msgenv *e, const struct queue_target *t,
    enum queue_local_res r, time_t now)
{
	switch (r) {
	case QUEUE_LOCAL_OK:
		log_info("queue", 0, NULL, "event=delivered id=%s to=%s uid=%u",
		    e->id, log_q(t->addr), (unsigned)t->uid);
		break;
	case QUEUE_LOCAL_TEMP:
		log_warn("queue", 0, NULL, "event=deferred id=%s to=%s "
		    "attempts=%u retry_in=%lld err=%s", e->id, log_q(t->addr),
		    t->attempts, (long long)(t->next_try - now),
		    log_q(t->last_error));
		break;
	case QUEUE_LOCAL_PERM:
		log_error("queue", 0, NULL, "event=failed id=%s to=%s err=%s",
		    e->id, log_q(t->addr), log_q(t->last_error));
		break;
	}
}

/*
 * Read the envelope of p->id and find its message: linked as it is when
 * queue_submit() wrote it (local_head), else read and given its
 * Return-Path and CRLF here (an envelope made by hand). 0 when there is
 * something to do, else -1 with p->gone (it left the queue) or p->next.
 */
static int
load(struct queue *q, struct pmsg *p, time_t now)
{
	char		 err[1024], *mpath, *msg = NULL, *hdr;
	struct stat	 st;
	size_t		 len;
	int		 serr;

	if (queue_msgenv_load(q->dir, p->id, &p->e, err, sizeof(err)) == -1) {
		if (errno == ENOENT) {
			/* Deleted by `rmail queue delete` or an admin. */
			log_info("queue", 0, NULL, "event=gone id=%s", p->id);
			p->gone = true;
			return -1;
		}
		log_error("queue", 0, NULL, "event=bad-envelope id=%s err=%s",
		    p->id, log_q(err));
		p->next = (double)now + QUEUE_RETRY_MAX;
		return -1;
	}
	mpath = queue_msg_path(q->dir, p->id);
	if (p->e.local_head > 0 ? stat(mpath, &st) == 0 :
	    (msg = fsio_read_file(mpath, SIZE_MAX, &len)) != NULL) {
		p->loaded = true;
		if (msg == NULL) {
			p->link = mpath;
			return 0;
		}
		hdr = xasprintf("Return-Path: <%s>\r\n", p->e.from);
		p->data = store_crlf(hdr, msg, len, &p->datalen);
		free(hdr);
		free(msg);
		free(mpath);
		return 0;
	}
	serr = errno;
	log_error("queue", 0, NULL, "event=io-error op=read path=%s err=%s",
	    log_q(mpath), log_q(strerror(serr)));
	free(mpath);
	if (serr == ENOENT) {
		/* Nothing left to deliver: the envelope is an orphan. */
		p->gone = remove_files(q->dir, p->id) == 0;
		if (!p->gone)
			p->next = (double)now + QUEUE_RETRY_MIN;
		return -1;
	}
	p->next = (double)now + QUEUE_RETRY_MIN;
	return -1;
}

/* Is target i of p due in this pass? */
static bool
due(const struct pmsg *p, size_t i, bool forced, time_t now)
{
	const struct queue_target *t = &p->e.t[i];

	return t->local && t->state == QUEUE_T_PENDING &&
	    (forced || t->next_try <= now);
}

/* Fold delivery results into the envelope of their message. */
static void
apply(struct queue *q, struct queue_delivery *v, size_t n, struct pmsg *msgs,
    size_t nmsgs, time_t now)
{
	struct retry_policy policy;

	retry_policy_from_conf(&q->env->conf->retry, &policy);
	for (size_t k = 0; k < n; k++) {
		struct pmsg *p = NULL;
		struct queue_target *t;

		for (size_t m = 0; m < nmsgs && p == NULL; m++)
			if (&msgs[m].e == v[k].e)
				p = &msgs[m];
		t = &p->e.t[v[k].i];
		p->ntried++;
		switch (v[k].res) {
		case QUEUE_LOCAL_OK:
			t->state = QUEUE_T_DONE;
			t->uid = v[k].uid;
			FREE_NULL(t->last_error);
			break;
		case QUEUE_LOCAL_TEMP:
			t->attempts++;
			t->next_try = now + local_retry_delay(t->attempts);
			set_error(t, v[k].err);
			if (retry_expired(&policy, p->e.received, now)) {
				/* Full for the whole retry period: give up. */
				t->state = QUEUE_T_FAILED;
				add_bounce(p, t, "4.2.2", NULL, false, now);
			}
			break;
		case QUEUE_LOCAL_PERM:
			t->attempts++;
			t->state = QUEUE_T_FAILED;
			set_error(t, v[k].err);
			add_bounce(p, t, "5.1.1", NULL, false, now);
			break;
		}
	}
}

/*
 * Record the pass: an envelope with nothing left to do is removed (which
 * records every result at once), the others rewritten when something was
 * tried. Removals share one fsync of env/; the message files go only
 * once that is done (the store keeps its links to them).
 */
static void
record(struct queue *q, struct pmsg *msgs, size_t n, time_t now)
{
	char	*d = xasprintf("%s/" QUEUE_ENVDIR, q->dir);
	bool	*removing = xcalloc(n ? n : 1, sizeof(*removing)), any = false;

	for (size_t m = 0; m < n; m++) {
		struct pmsg *p = &msgs[m];
		bool waiting = false;

		if (!p->loaded)
			continue;
		p->next = INFINITY;
		for (size_t i = 0; i < p->e.n; i++) {
			const struct queue_target *t = &p->e.t[i];

			if (t->state != QUEUE_T_PENDING)
				continue;
			waiting = true;
			if (!t->local && outbound_inflight(q->ob, p->id, i))
				continue;	/* its result reschedules */
			if (!t->local && t->next_try <= now) {
				/* Due but held by the connection limits. */
				if ((double)now + 1 < p->next)
					p->next = (double)now + 1;
			} else if ((double)t->next_try < p->next)
				p->next = (double)t->next_try;
		}
		if (!waiting) {
			char *env = queue_env_path(q->dir, p->id);

			if (unlink(env) == 0 || errno == ENOENT)
				removing[m] = any = true;
			else {
				log_error("queue", 0, NULL, "event=io-error "
				    "op=unlink path=%s err=%s", log_q(env),
				    log_q(strerror(errno)));
				p->next = (double)now + QUEUE_RETRY_MIN;
			}
			free(env);
		} else if (p->ntried > 0 && queue_msgenv_save(q->dir,
		    &p->e) == -1) {
			log_error("queue", 0, NULL, "event=io-error op=write "
			    "id=%s err=%s", p->id, log_q(strerror(errno)));
			p->next = (double)now + QUEUE_RETRY_MIN;
		}
	}
	if (any && fsio_fsync_dir(d) == -1) {
		/* The envelopes may come back after a crash: the store's
		 * once-keys make that harmless. Keep the messages. */
		log_error("queue", 0, NULL, "event=io-error op=fsync path=%s "
		    "err=%s", log_q(d), log_q(strerror(errno)));
		memset(removing, 0, n * sizeof(*removing));
	}
	for (size_t m = 0; m < n; m++) {
		struct pmsg *p = &msgs[m];

		if (!p->loaded || !removing[m])
			continue;
		p->gone = true;
		{
			char *mp = queue_msg_path(q->dir, p->id);

			if (unlink(mp) == -1 && errno != ENOENT)
				log_warn("queue", 0, NULL, "event=io-error "
				    "op=unlink path=%s err=%s", log_q(mp),
				    log_q(strerror(errno)));
			free(mp);
		}
	}
	free(removing);
	free(d);
}

/* --- remote targets ----------------------------------------------------- */

static const char *
domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : addr;
}

/*
 * Hand the due remote targets of the pass's messages to the outbound
 * relay, one job per message and destination domain (one connection
 * carries all of that message's recipients there). Targets held back by
 * the connection limits stay due; record() looks at them again in a
 * second.
 */
static void
start_remote(struct queue *q, struct pmsg *msgs, size_t nmsgs, time_t now)
{
	for (size_t m = 0; m < nmsgs; m++) {
		struct pmsg *p = &msgs[m];
		const struct queue_target *t = p->e.t;
		bool *taken;

		if (!p->loaded || q->env->stopping)
			continue;
		taken = xcalloc(p->e.n ? p->e.n : 1, sizeof(*taken));
		for (size_t i = 0; i < p->e.n; i++) {
			const char *dom, **addrs;
			size_t *idx, n = 0;
			char *mpath;

			if (taken[i] || t[i].local ||
			    t[i].state != QUEUE_T_PENDING ||
			    (!p->forced && t[i].next_try > now) ||
			    outbound_inflight(q->ob, p->id, i))
				continue;
			dom = domain_of(t[i].addr);
			if (outbound_busy(q->ob, dom)) {
				p->held = true;
				continue;
			}
			addrs = xcalloc(p->e.n, sizeof(*addrs));
			idx = xcalloc(p->e.n, sizeof(*idx));
			for (size_t k = i; k < p->e.n; k++) {
				if (taken[k] || t[k].local ||
				    t[k].state != QUEUE_T_PENDING ||
				    (!p->forced && t[k].next_try > now) ||
				    ascii_casecmp(domain_of(t[k].addr), dom) != 0 ||
				    outbound_inflight(q->ob, p->id, k))
					continue;
				taken[k] = true;
				addrs[n] = t[k].addr;
				idx[n++] = k;
			}
			mpath = queue_msg_path(q->dir, p->id);
			outbound_start(q->ob, p->id, mpath, p->e.local_head,
			    p->e.from, p->e.smtputf8, dom, addrs, idx, n);
			free(mpath);
			free(addrs);
			free(idx);
		}
		free(taken);
	}
}

/* A job's results: fold them into the envelope, report failures. */
static void
remote_done(void *arg, const char *id, const struct outbound_result *rs,
    size_t n)
{
	struct queue		*q = arg;
	struct pmsg		 p;
	struct retry_policy	 policy;
	struct qent		*ent;
	time_t			 now = time(NULL), now_up;
	double			 evt;
	char			 err[1024];

	memset(&p, 0, sizeof(p));
	snprintf(p.id, sizeof(p.id), "%s", id);
	p.next = INFINITY;
	evt = ev_now(q->env->loop);
	now_up = (time_t)evt;
	if ((double)now_up < evt)
		now_up++;
	if (queue_msgenv_load(q->dir, id, &p.e, err, sizeof(err)) == -1) {
		/* Deleted meanwhile (rmail queue delete): nothing to do. */
		log_info("queue", 0, NULL, "event=gone id=%s", id);
		return;
	}
	p.loaded = true;
	retry_policy_from_conf(&q->env->conf->retry, &policy);
	for (size_t k = 0; k < n; k++) {
		struct queue_target *t;
		char *why;

		if (rs[k].idx >= p.e.n)
			continue;
		t = &p.e.t[rs[k].idx];
		if (t->local || t->state != QUEUE_T_PENDING)
			continue;
		p.ntried++;
		switch (rs[k].status) {
		case OUTBOUND_DELIVERED:
			t->state = QUEUE_T_DONE;
			FREE_NULL(t->last_error);
			log_info("queue", 0, NULL, "event=delivered id=%s to=%s "
			    "relay=%s", id, log_q(t->addr),
			    log_q(rs[k].remote_mta));
			break;
		case OUTBOUND_TEMPFAIL:
			t->attempts++;
			set_error(t, rs[k].text);
			/* Whole seconds, rounded up: never sooner than the
			 * schedule says. */
			t->next_try = retry_next(&policy, t->attempts,
			    p.e.received, now_up);
			if (t->next_try != 0) {
				log_warn("queue", 0, NULL, "event=deferred id=%s "
				    "to=%s attempts=%u retry_in=%lld err=%s", id,
				    log_q(t->addr), t->attempts,
				    (long long)(t->next_try - now),
				    log_q(t->last_error));
				/* Still trying after relay.retry.delay_notice_secs:
				 * tell the sender once (off by default). */
				if (retry_delay_notice_due(&policy, p.e.received,
				    now, t->notified)) {
					t->notified = true;
					add_bounce(&p, t, rs[k].enhanced[0] ?
					    rs[k].enhanced : "4.0.0",
					    rs[k].remote_mta, rs[k].remote, now);
					p.br[p.nbr - 1].action = BOUNCE_DELAYED;
					p.br[p.nbr - 1].retry_until =
					    p.e.received + (time_t)policy.max_age;
				}
				break;
			}
			/* Retried for the whole period: give up. */
			why = xasprintf("%s (gave up after %u attempts)",
			    rs[k].text, t->attempts);
			set_error(t, why);
			free(why);
			t->state = QUEUE_T_FAILED;
			add_bounce(&p, t, rs[k].enhanced[0] ? rs[k].enhanced :
			    "4.4.7", rs[k].remote_mta, rs[k].remote, now);
			break;
		case OUTBOUND_PERMFAIL:
			t->attempts++;
			set_error(t, rs[k].text);
			t->state = QUEUE_T_FAILED;
			add_bounce(&p, t, rs[k].enhanced[0] ? rs[k].enhanced :
			    "5.0.0", rs[k].remote_mta, rs[k].remote, now);
			log_error("queue", 0, NULL, "event=failed id=%s to=%s "
			    "err=%s", id, log_q(t->addr), log_q(t->last_error));
			break;
		}
	}
	if (p.nbr > 0)
		queue_bounce(q, q->dir, &p.e, p.br, p.nbr);
	record(q, &p, 1, now);
	if ((ent = find_ent(q, id)) != NULL) {
		if (p.gone)
			drop_ent(q, ent);
		else
			ent->due = p.next;
	}
	/* A connection is free: what waited for one goes now. */
	for (size_t i = 0; i < q->n; i++)
		if (q->v[i].held) {
			q->v[i].held = false;
			if (q->v[i].due > ev_now(q->env->loop))
				q->v[i].due = ev_now(q->env->loop);
		}
	if (p.gone)
		log_info("queue", 0, NULL, "event=removed id=%s", id);
	free(p.br);
	queue_msgenv_clear(&p.e);
	schedule(q);
}

struct rmail_env *
queue_env_of(struct queue *q)
{
	return q->env;
}

/*
 * One pass over the due messages, at most QUEUE_BATCH of them and about
 * QUEUE_PASS_COPIES copies, so the loop is never held for long.
 *
 * Order, for "never twice" (DESIGN.md "The queue"): each append records
 * its once-key in the store with its uid; the envelope then records every
 * result of the pass (rewritten, or removed durably when nothing is left
 * to do). A crash in between finds the key, and the next append of that
 * target is a no-op. The keys are never removed: a mailbox keeps its most
 * recent ones, far more than one pass makes.
 */
static void
pass(struct queue *q)
{
	struct pmsg		*msgs;
	struct queue_delivery	*v = NULL;
	size_t			 nmsgs = 0, nv = 0, capv = 0, copies = 0;
	time_t			 now = time(NULL);
	double			 evnow = ev_now(q->env->loop);

	q->last_pass = evnow;
	msgs = xcalloc(QUEUE_BATCH, sizeof(*msgs));
	for (size_t k = 0; k < q->n && nmsgs < QUEUE_BATCH &&
	    copies < QUEUE_PASS_COPIES && !q->env->stopping; k++) {
		struct qent	*ent = &q->v[k];
		struct pmsg	*p;

		if (ent->due > evnow + QUEUE_COALESCE)
			continue;
		p = &msgs[nmsgs++];
		snprintf(p->id, sizeof(p->id), "%s", ent->id);
		p->forced = ent->forced;
		p->next = INFINITY;
		if (load(q, p, now) == -1)
			continue;
		for (size_t i = 0; i < p->e.n; i++) {
			if (!due(p, i, ent->forced, now))
				continue;
			if (nv == capv) {
				capv = capv ? capv * 2 : 64;
				v = xrealloc(v, capv * sizeof(*v));
			}
			memset(&v[nv], 0, sizeof(v[nv]));
			v[nv].e = &p->e;
			v[nv].i = i;
			v[nv].data = p->data;
			v[nv].len = p->datalen;
			v[nv++].link_from = p->link;
			copies++;
		}
	}
	queue_local_deliver_many(q->env, v, nv);
	apply(q, v, nv, msgs, nmsgs, now);
	for (size_t m = 0; m < nmsgs; m++)
		if (msgs[m].nbr > 0)
			queue_bounce(q, q->dir, &msgs[m].e, msgs[m].br,
			    msgs[m].nbr);
	start_remote(q, msgs, nmsgs, now);
	record(q, msgs, nmsgs, now);
	for (size_t k = 0; k < nv; k++) {
		const struct queue_target *t = &v[k].e->t[v[k].i];

		log_result(v[k].e, t, v[k].res, now);
	}
	for (size_t m = 0; m < nmsgs; m++) {
		struct pmsg	*p = &msgs[m];
		struct qent	*ent = find_ent(q, p->id);

		if (p->gone && p->loaded)
			log_info("queue", 0, NULL, "event=removed id=%s", p->id);
		if (ent != NULL) {
			ent->forced = false;
			ent->held = p->held;
			if (p->gone)
				drop_ent(q, ent);
			else
				ent->due = p->next;
		}
		free(p->link);
		free(p->data);
		free(p->br);
		queue_msgenv_clear(&p->e);
	}
	q->last_msgs = nmsgs;
	free(v);
	free(msgs);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct queue *q = w->data;

	(void)loop;
	(void)revents;
	pass(q);
	schedule(q);
}

/* --- start, restart --------------------------------------------------- */

/* Remove every file in dir (not recursing). */
static void
empty_dir(const char *dir)
{
	struct dirent	*de;
	DIR		*d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *p;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (unlink(p) == -1)
			log_warn("queue", 0, NULL, "event=io-error op=unlink "
			    "path=%s err=%s", log_q(p), log_q(strerror(errno)));
		free(p);
	}
	closedir(d);
}

static bool
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Ids sort by time (the alphabet is in ASCII order). */
static int
ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct qent *)a)->id, ((const struct qent *)b)->id);
}

/*
 * Walk env/ (add every envelope with its message to the schedule, due at
 * once) and, at start, msg/ (drop messages without an envelope: a crash
 * mid-submit, before the 250). Also used by queue_kick() to find
 * envelopes written by hand.
 */
static void
scan(struct queue *q, bool at_start)
{
	char		*envdir = xasprintf("%s/" QUEUE_ENVDIR, q->dir);
	char		*msgdir = xasprintf("%s/" QUEUE_MSGDIR, q->dir);
	double		 now = ev_now(q->env->loop);
	struct dirent	*de;
	DIR		*d;

	if ((d = opendir(envdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char id[QUEUE_ID_MAX], *mp;
			size_t n = strlen(de->d_name);

			if (de->d_name[0] == '.') {
				/* A fsio_write_atomic() left by a crash. */
				if (at_start && strncmp(de->d_name, ".tmp.", 5) == 0) {
					char *p = xasprintf("%s/%s", envdir,
					    de->d_name);
					(void)unlink(p);
					free(p);
				}
				continue;
			}
			if (n <= 5 || n - 5 >= sizeof(id) ||
			    strcmp(de->d_name + n - 5, ".json") != 0)
				continue;
			memcpy(id, de->d_name, n - 5);
			id[n - 5] = '\0';
			if (!queue_id_valid(id))
				continue;
			mp = queue_msg_path(q->dir, id);
			if (!file_exists(mp)) {
				log_error("queue", 0, NULL, "event=orphan-envelope "
				    "id=%s msg=\"message file missing; envelope "
				    "removed\"", id);
				(void)remove_files(q->dir, id);
			} else
				add_ent(q, id, now);
			free(mp);
		}
		closedir(d);
	}
	if (at_start && (d = opendir(msgdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char *ep, *mp;

			if (!queue_id_valid(de->d_name))
				continue;
			ep = queue_env_path(q->dir, de->d_name);
			if (!file_exists(ep)) {
				mp = queue_msg_path(q->dir, de->d_name);
				log_warn("queue", 0, NULL, "event=orphan-message "
				    "id=%s msg=\"no envelope (accepted "
				    "unfinished); removed\"", de->d_name);
				(void)unlink(mp);
				free(mp);
			}
			free(ep);
		}
		closedir(d);
	}
	free(envdir);
	free(msgdir);
	/*
	 * Oldest first, as before the restart: readdir's order is the file
	 * system's. A message a crash cut mid-delivery then comes before
	 * later ones can push its key out of the mailbox's window of recent
	 * keys (store_mbox_append_once), which would deliver it twice.
	 */
	if (q->n > 1)
		qsort(q->v, q->n, sizeof(*q->v), ent_cmp);
}

struct queue *
queue_new(struct rmail_env *env, char *err, size_t errlen)
{
	static const char *const subs[] = { QUEUE_MSGDIR, QUEUE_ENVDIR,
	    QUEUE_TMPDIR };
	struct queue *q;

	q = xcalloc(1, sizeof(*q));
	q->env = env;
	q->dir = xasprintf("%s/" QUEUE_DIRNAME, env->conf->data_dir);
	for (size_t i = 0; i < NELEM(subs); i++) {
		char *p = xasprintf("%s/%s", q->dir, subs[i]);
		int r = fsio_mkdirs(p, 0700);

		if (r == -1)
			err_printf(err, errlen, "%s: %s", p, strerror(errno));
		free(p);
		if (r == -1) {
			free(q->dir);
			free(q);
			return NULL;
		}
	}
	{
		char *tmp = xasprintf("%s/" QUEUE_TMPDIR, q->dir);

		empty_dir(tmp);
		free(tmp);
	}
	if ((q->ob = outbound_new(env, remote_done, q, err, errlen)) == NULL) {
		free(q->dir);
		free(q);
		return NULL;
	}
	ev_timer_init(&q->timer, timer_cb, 0, 0);
	/* After the loop's I/O: an SMTP 250 goes out before its delivery. */
	ev_set_priority(&q->timer, EV_MINPRI);
	q->timer.data = q;
	scan(q, true);
	log_info("queue", 0, NULL, "event=started messages=%zu", q->n);
	schedule(q);
	return q;
}

void
queue_free(struct queue **qp)
{
	struct queue *q = *qp;

	if (q == NULL)
		return;
	ev_timer_stop(q->env->loop, &q->timer);
	outbound_free(&q->ob);
	free(q->v);
	free(q->dir);
	free(q);
	*qp = NULL;
}

void
queue_kick(struct queue *q)
{
	double now = ev_now(q->env->loop);

	scan(q, false);
	for (size_t i = 0; i < q->n; i++) {
		q->v[i].due = now;
		q->v[i].forced = true;
	}
	log_info("queue", 0, NULL, "event=flush messages=%zu", q->n);
	schedule(q);
}

size_t
queue_count(const struct queue *q)
{
	return q->n;
}

size_t
queue_remote_inflight(const struct queue *q)
{
	return q->ob != NULL ? outbound_jobs(q->ob) : 0;
}

/* --- submit ----------------------------------------------------------- */

/* HELO text and the like, made safe for a JSON string and a log line. */
static char *
clean_text(const char *s)
{
	char *c;

	if (s == NULL)
		return NULL;
	/* xstrndup() copies n bytes whatever the string: bound it first. */
	c = xstrndup(s, strnlen(s, QUEUE_FIELD_MAX));
	for (char *p = c; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return c;
}

/* An address we write must read back: UTF-8 (SMTPUTF8), no controls. */
static bool
addr_ok(const char *s)
{
	size_t n = strlen(s);

	if (n > QUEUE_FIELD_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return queue_utf8_valid(s, n);
}

int
queue_submit(struct queue *q, const struct queue_envelope *env,
    const char *data, size_t len, char id_r[QUEUE_ID_MAX], char *err,
    size_t errlen)
{
	struct queue_msgenv	 e;
	char			 id[QUEUE_ID_MAX];
	char			*tmp = NULL, *mpath = NULL, *epath = NULL, *d;
	char			*head = NULL, *sig = NULL;
	const char		*op = "write";
	int			 fd = -1, saved;
	bool			 renamed = false;
	double			 now_ev;

	memset(&e, 0, sizeof(e));
	if (env->targets == NULL || env->targets->n == 0 ||
	    env->targets->n > QUEUE_TARGETS_MAX || env->mail_from == NULL ||
	    !addr_ok(env->mail_from)) {
		err_printf(err, errlen, "queue: bad envelope");
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < env->targets->n; i++)
		if (!addr_ok(env->targets->v[i].addr) ||
		    strchr(env->targets->v[i].addr, '@') == NULL) {
			err_printf(err, errlen, "queue: bad recipient");
			errno = EINVAL;
			return -1;
		}
	make_id(q, id);
	tmp = xasprintf("%s/" QUEUE_TMPDIR "/%s", q->dir, id);
	mpath = queue_msg_path(q->dir, id);
	epath = queue_env_path(q->dir, id);

	/*
	 * The message: tmp, fsync, rename, fsync msg/. It starts with the
	 * Return-Path that local copies keep (the relay skips it), so a
	 * local delivery is a hard link: no copy, one inode for all.
	 */
	head = xasprintf("Return-Path: <%s>\r\n", env->mail_from);
	/* What users submit leaves signed (DKIM): part of the message. */
	if (env->auth_user != NULL)
		sig = queue_dkim_sign(q->env, id, data, len);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		goto fail;
	if (fsio_write_all(fd, head, strlen(head)) == -1 ||
	    (sig != NULL && fsio_write_all(fd, sig, strlen(sig)) == -1) ||
	    fsio_write_all(fd, data, len) == -1)
		goto fail;
	op = "fsync";
	if (fsync(fd) == -1)
		goto fail;
	op = "close";
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	op = "rename";
	if (fsio_rename_noreplace(tmp, mpath) == -1)
		goto fail;
	renamed = true;
	op = "fsync";
	d = xasprintf("%s/" QUEUE_MSGDIR, q->dir);
	if (fsio_fsync_dir(d) == -1) {
		free(d);
		goto fail;
	}
	free(d);

	/* The envelope, only once the message is durable. */
	snprintf(e.id, sizeof(e.id), "%s", id);
	e.from = xstrdup(env->mail_from);
	e.received = time(NULL);
	e.client_ip = clean_text(env->client_ip);
	e.helo = clean_text(env->helo);
	e.auth_user = clean_text(env->auth_user);
	e.smtputf8 = env->smtputf8;
	e.local_head = strlen(head);
	e.size = e.local_head + (sig != NULL ? strlen(sig) : 0) + len;
	e.n = env->targets->n;
	e.t = xcalloc(e.n, sizeof(*e.t));
	for (size_t i = 0; i < e.n; i++) {
		e.t[i].addr = xstrdup(env->targets->v[i].addr);
		e.t[i].local = env->targets->v[i].local;
		e.t[i].state = QUEUE_T_PENDING;
	}
	op = "write-envelope";
	if (queue_msgenv_save(q->dir, &e) == -1)
		goto fail;

	snprintf(id_r, QUEUE_ID_MAX, "%s", id);
	log_info("queue", 0, env->client_ip, "event=queued id=%s from=%s "
	    "size=%zu nrcpt=%zu", id, log_q(e.from), len, e.n);
	/*
	 * At once while the queue is quiet (the last pass is old, or it
	 * carried a single message: one sender at a time), else with the
	 * next pass, which takes everything that came meanwhile.
	 */
	now_ev = ev_now(q->env->loop);
	add_ent(q, id, q->last_msgs > 1 && q->last_pass + QUEUE_COALESCE > now_ev ?
	    q->last_pass + QUEUE_COALESCE : now_ev);
	schedule(q);
	queue_msgenv_clear(&e);
	free(head);
	free(sig);
	free(tmp);
	free(mpath);
	free(epath);
	return 0;

fail:
	saved = errno;
	log_error("queue", 0, NULL, "event=io-error op=%s id=%s err=%s", op, id,
	    log_q(strerror(saved)));
	err_printf(err, errlen, "queue: %s: %s", op, strerror(saved));
	if (fd != -1)
		close(fd);
	(void)unlink(tmp);
	if (renamed) {
		(void)unlink(epath);
		(void)unlink(mpath);
	}
	queue_msgenv_clear(&e);
	free(head);
	free(sig);
	free(tmp);
	free(mpath);
	free(epath);
	errno = saved;
	return -1;
}

/* --- quota ahead of time --------------------------------------------- */

int
queue_local_room(struct queue *q, const char *addr, uint64_t size, char *err,
    size_t errlen)
{
	const struct user	*u;
	struct store_quota	*quota;
	char			 dir[PATH_MAX];

	if ((u = users_find(q->env->users, addr)) == NULL ||
	    (u->quota_bytes == 0 && u->quota_messages == 0))
		return 0;
	if (store_user_dir(q->env->conf->data_dir, u->address, dir,
	    sizeof(dir)) == -1)
		return 0;	/* delivery will say */
	quota = store_hub_quota(q->env->hub, dir, u->quota_bytes,
	    u->quota_messages);
	if ((quota->counted == 0 ||
	    time(NULL) - quota->counted > STORE_QUOTA_RECOUNT_SECS) &&
	    store_quota_count(dir, quota) == -1)
		return 0;	/* cannot tell: let delivery decide */
	if (size == 0) {
		/* Already full: not even one more byte or message. */
		if (store_quota_check(quota, 1, 1, NULL, 0) == -1) {
			err_printf(err, errlen, "mailbox of %s is full",
			    u->address);
			errno = EDQUOT;
			return -1;
		}
		return 0;
	}
	return store_quota_check(quota, size, 1, err, errlen);
}
