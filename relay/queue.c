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

/* Messages attempted per timer callback. */
#define QUEUE_BATCH		64
/* Retry delays of a temporary failure: 1 min, doubling, at most 1 h. */
#define QUEUE_RETRY_MIN		60
#define QUEUE_RETRY_MAX		3600

/* One queued message as the scheduler knows it. */
struct qent {
	char	 id[QUEUE_ID_MAX];
	double	 due;		/* wall clock of the next attempt; INFINITY:
				 * nothing to do here (remote targets only) */
	bool	 forced;	/* queue_kick(): ignore the targets' next_try */
};

struct queue {
	struct rmail_env	*env;
	char			*dir;		/* DATA_DIR/queue */
	struct qent		*v;
	size_t			 n, cap;
	ev_timer		 timer;
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
retry_delay(unsigned attempts)
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
	/* Durable before the store's once-keys may go (see attempt()). */
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

/* --- one attempt ------------------------------------------------------ */

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
 * Attempt every due local target of message ent. Returns true when the
 * message left the queue (or was found gone) and ent must be dropped.
 *
 * Order, for "never twice" (DESIGN.md "The queue"): each append records
 * its once-key in the store; the envelope then records every result of
 * the pass in one atomic rewrite (or, when nothing is left to do, is
 * removed durably); only then are the keys dropped. A crash anywhere
 * before that finds either the target done or the key that makes the
 * next append a no-op.
 */
static bool
attempt(struct queue *q, struct qent *ent)
{
	struct queue_msgenv	  e;
	struct store_mbox	**mbs = NULL;
	signed char		 *res = NULL;	/* per target: -1 not tried */
	char			 *mpath, *msg = NULL, err[1024];
	size_t			  len, ntried = 0;
	time_t			  now = time(NULL);
	double			  next = INFINITY;
	bool			  waiting = false, gone = false, saved = false;

	if (queue_msgenv_load(q->dir, ent->id, &e, err, sizeof(err)) == -1) {
		if (errno == ENOENT) {
			/* Deleted by `rmail queue delete` or an admin. */
			log_info("queue", 0, NULL, "event=gone id=%s", ent->id);
			return true;
		}
		log_error("queue", 0, NULL, "event=bad-envelope id=%s err=%s",
		    ent->id, log_q(err));
		ent->due = (double)now + QUEUE_RETRY_MAX;
		return false;
	}
	mpath = queue_msg_path(q->dir, ent->id);
	msg = fsio_read_file(mpath, SIZE_MAX, &len);
	if (msg == NULL) {
		int serr = errno;

		log_error("queue", 0, NULL, "event=io-error op=read path=%s "
		    "err=%s", log_q(mpath), log_q(strerror(serr)));
		free(mpath);
		queue_msgenv_clear(&e);
		if (serr == ENOENT) {
			/* Nothing left to deliver: the envelope is an orphan. */
			(void)remove_files(q->dir, ent->id);
			return true;
		}
		ent->due = (double)now + QUEUE_RETRY_MIN;
		return false;
	}
	free(mpath);

	mbs = xcalloc(e.n, sizeof(*mbs));
	res = xmalloc(e.n);
	memset(res, -1, e.n);
	for (size_t i = 0; i < e.n && !q->env->stopping; i++) {
		struct queue_target *t = &e.t[i];
		enum queue_local_res r;
		uint32_t uid = 0;

		if (!t->local || t->state != QUEUE_T_PENDING)
			continue;
		if (!ent->forced && t->next_try > now)
			continue;
		r = queue_local_deliver(q->env, &e, i, msg, len, &mbs[i], &uid,
		    err, sizeof(err));
		res[i] = (signed char)r;
		ntried++;
		switch (r) {
		case QUEUE_LOCAL_OK:
			t->state = QUEUE_T_DONE;
			t->uid = uid;
			FREE_NULL(t->last_error);
			break;
		case QUEUE_LOCAL_TEMP:
			t->attempts++;
			t->next_try = now + retry_delay(t->attempts);
			set_error(t, err);
			break;
		case QUEUE_LOCAL_PERM:
			t->attempts++;
			t->state = QUEUE_T_FAILED;
			set_error(t, err);
			break;
		}
	}
	ent->forced = false;

	for (size_t i = 0; i < e.n; i++) {
		const struct queue_target *t = &e.t[i];

		if (t->state != QUEUE_T_PENDING)
			continue;
		waiting = true;
		if (t->local && (double)t->next_try < next)
			next = (double)t->next_try;
	}
	/* Finished: removing the envelope records every result at once. */
	if (!waiting && remove_files(q->dir, e.id) == 0)
		gone = saved = true;
	else if (ntried > 0) {
		if (queue_msgenv_save(q->dir, &e) == 0)
			saved = true;
		else {
			log_error("queue", 0, NULL, "event=io-error op=write "
			    "id=%s err=%s", e.id, log_q(strerror(errno)));
			next = (double)now + QUEUE_RETRY_MIN;
		}
	} else if (!waiting)
		next = (double)now + QUEUE_RETRY_MIN;	/* remove failed */
	for (size_t i = 0; i < e.n; i++) {
		if (res[i] == -1)
			continue;
		log_result(&e, &e.t[i], (enum queue_local_res)res[i], now);
		/* A key outliving a failed envelope write keeps us honest. */
		queue_local_done(q->env, &e, i, &mbs[i], saved);
	}
	if (gone)
		log_info("queue", 0, NULL, "event=removed id=%s", e.id);
	ent->due = next;
	free(res);
	free(mbs);
	free(msg);
	queue_msgenv_clear(&e);
	return gone;
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct queue	*q = w->data;
	double		 now = ev_now(loop);
	size_t		 done = 0, i = 0;

	(void)revents;
	while (i < q->n && done < QUEUE_BATCH && !q->env->stopping) {
		struct qent *ent = &q->v[i];

		if (ent->due > now) {
			i++;
			continue;
		}
		done++;
		if (attempt(q, ent))
			drop_ent(q, ent);
		else
			i++;
	}
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
	const char		*op = "write";
	int			 fd = -1, saved;
	bool			 renamed = false;

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

	/* The message: tmp, fsync, rename, fsync msg/. */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		goto fail;
	if (fsio_write_all(fd, data, len) == -1)
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
	e.size = len;
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
	add_ent(q, id, ev_now(q->env->loop));
	schedule(q);
	queue_msgenv_clear(&e);
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
