/*
 * hub: shared mailbox handles, kept current from inotify. See hub.h.
 *
 * Each open mailbox is an entry: the handle, a reference count, and the
 * inotify watches on its folder and on each shard folder. An inotify
 * event only marks what it touched (status.json, a shard, the whole
 * mailbox after a queue overflow); once the queue is drained, each marked
 * entry is refreshed: status first (new keywords name the letters in new
 * file names), then the marked shards in ascending order, so EXISTS comes
 * in uid order. The refresh compares the disk with the index, so events
 * caused by this process's own writes find nothing to report.
 *
 * Watches are added before the first scan: a change racing the scan is
 * then either in the scan or in the queue.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "store/fname.h"
#include "store/hub.h"
#include "store/mailbox_private.h"
#include "store/mimecache.h"

#define NBUCKETS	256
#define POLL_SECS	1.0
#define MBOX_DIR_WATCH	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | \
			 IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define SHARD_WATCH	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | \
			 IN_DELETE | IN_ONLYDIR)
#define SHARD_NONE	UINT32_MAX	/* a watch on the mailbox folder */

/* A shard folder's last seen mtime, for polling. */
struct shard_mtime {
	uint32_t		 shard;
	struct timespec		 mtime;
};

struct ent {
	struct ent		*next;		/* hash bucket */
	struct ent		*idle_prev, *idle_next;	/* when refs == 0 */
	struct store_hub	*hub;
	char			*key;		/* the mailbox folder */
	unsigned		 hash;
	struct store_mbox	*mb;
	unsigned		 refs;
	ev_tstamp		 idle_since;
	bool			 gone;		/* deleted or renamed */
	bool			 polled;	/* no inotify: poll mtimes */
	bool			 marked;	/* on the hub's work list */
	bool			 status_dirty, all_dirty;
	uint32_t		*dirty;		/* shards to rescan */
	size_t			 ndirty, dirtycap;
	struct ent		*work_next;
	/* Polling state. */
	ino_t			 ino;
	struct timespec		 dir_mtime, status_mtime;
	struct shard_mtime	*shards;
	size_t			 nshards;
};

struct watch {
	int			 wd;
	struct ent		*e;
	uint32_t		 shard;		/* SHARD_NONE: the folder */
};

struct quota_rec {
	struct quota_rec	*next;
	char			*user_dir;
	struct store_quota	 q;
	bool			 tmp_cleaned;	/* store_user_clean_tmp() ran */
};

struct store_hub {
	struct ev_loop		*loop;
	struct ent		*buckets[NBUCKETS];
	struct ent		*idle_head, *idle_tail;	/* oldest first */
	size_t			 nopen, nidle, idle_msgs;
	double			 linger_secs;
	size_t			 linger_msgs;
	int			 ifd;		/* inotify, or -1 */
	ev_io			 io;
	ev_timer		 tick;
	struct watch		*watches;	/* sorted by wd */
	size_t			 nwatches, watchcap;
	struct ent		*work;		/* entries to refresh */
	struct quota_rec	*quotas;
	struct store_mimecache	*mime;
};

static void	 ent_free(struct store_hub *, struct ent *);

static unsigned
hash_str(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* --- watches ----------------------------------------------------------- */

static struct watch *
watch_find(struct store_hub *hub, int wd)
{
	size_t lo = 0, hi = hub->nwatches, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (hub->watches[mid].wd == wd)
			return &hub->watches[mid];
		if (hub->watches[mid].wd < wd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Watch path for e; false when the kernel refused (the caller polls). */
static bool
watch_add(struct store_hub *hub, struct ent *e, const char *path,
    uint32_t shard)
{
	struct watch	*w;
	size_t		 i;
	int		 wd;

	if (hub->ifd == -1)
		return false;
	wd = inotify_add_watch(hub->ifd, path,
	    shard == SHARD_NONE ? MBOX_DIR_WATCH : SHARD_WATCH);
	if (wd == -1)
		return errno == ENOENT;	/* gone already: nothing to watch */
	if ((w = watch_find(hub, wd)) != NULL) {
		/* The same folder twice (inotify reuses the wd). */
		w->e = e;
		w->shard = shard;
		return true;
	}
	if (hub->nwatches == hub->watchcap) {
		hub->watchcap = hub->watchcap == 0 ? 64 : hub->watchcap * 2;
		hub->watches = xrealloc(hub->watches,
		    hub->watchcap * sizeof(*hub->watches));
	}
	/* wds mostly grow, so this is usually an append. */
	for (i = hub->nwatches; i > 0 && hub->watches[i - 1].wd > wd; i--)
		hub->watches[i] = hub->watches[i - 1];
	hub->watches[i].wd = wd;
	hub->watches[i].e = e;
	hub->watches[i].shard = shard;
	hub->nwatches++;
	return true;
}

static void
watch_drop(struct store_hub *hub, size_t i, bool rm)
{
	if (rm)
		(void)inotify_rm_watch(hub->ifd, hub->watches[i].wd);
	memmove(&hub->watches[i], &hub->watches[i + 1],
	    (hub->nwatches - i - 1) * sizeof(*hub->watches));
	hub->nwatches--;
}

static void
watches_drop_ent(struct store_hub *hub, struct ent *e)
{
	size_t i;

	for (i = 0; i < hub->nwatches; )
		if (hub->watches[i].e == e)
			watch_drop(hub, i, true);
		else
			i++;
}

/* --- marking and refreshing -------------------------------------------- */

static void
mark(struct store_hub *hub, struct ent *e)
{
	if (!e->marked) {
		e->marked = true;
		e->work_next = hub->work;
		hub->work = e;
	}
}

static void
mark_shard(struct store_hub *hub, struct ent *e, uint32_t shard)
{
	size_t i;

	for (i = 0; i < e->ndirty; i++)
		if (e->dirty[i] == shard)
			goto out;
	if (e->ndirty == e->dirtycap) {
		e->dirtycap = e->dirtycap == 0 ? 4 : e->dirtycap * 2;
		e->dirty = xrealloc(e->dirty, e->dirtycap * sizeof(*e->dirty));
	}
	e->dirty[e->ndirty++] = shard;
out:
	mark(hub, e);
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Take e out of the table: the next open of its name starts afresh. */
static void
ent_unlink(struct store_hub *hub, struct ent *e)
{
	struct ent **pp = &hub->buckets[e->hash % NBUCKETS];

	for (; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	e->next = NULL;
}

static void
idle_remove(struct store_hub *hub, struct ent *e)
{
	if (e->idle_prev != NULL)
		e->idle_prev->idle_next = e->idle_next;
	else
		hub->idle_head = e->idle_next;
	if (e->idle_next != NULL)
		e->idle_next->idle_prev = e->idle_prev;
	else
		hub->idle_tail = e->idle_prev;
	e->idle_prev = e->idle_next = NULL;
	hub->nidle--;
	hub->idle_msgs -= store_mbox_count(e->mb);
}

/* The mailbox folder vanished or was renamed: tell, and let go. */
static void
ent_gone(struct store_hub *hub, struct ent *e)
{
	if (e->gone)
		return;
	e->gone = true;
	watches_drop_ent(hub, e);
	ent_unlink(hub, e);
	log_info("store", 0, NULL, "event=mailbox-gone dir=%s", log_q(e->key));
	mbox_emit(e->mb, STORE_EV_GONE, 0, NULL);
	if (e->refs == 0) {
		idle_remove(hub, e);
		ent_free(hub, e);
	}
}

/* Record the mtimes polling compares against: the folder's, status.json's
 * and each shard's. Called before a full rescan, so nothing slips by. */
static void
poll_record(struct ent *e)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	uint32_t	 shard;
	size_t		 cap = 0;
	char		*p;

	free(e->shards);
	e->shards = NULL;
	e->nshards = 0;
	if (stat(e->key, &st) == -1)
		return;
	e->ino = st.st_ino;
	e->dir_mtime = st.st_mtim;
	p = xasprintf("%s/%s", e->key, MBOX_STATUS);
	if (stat(p, &st) == 0)
		e->status_mtime = st.st_mtim;
	free(p);
	if ((d = opendir(e->key)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (store_shard_parse(de->d_name, &shard) == -1 ||
		    fstatat(dirfd(d), de->d_name, &st, 0) == -1)
			continue;
		if (e->nshards == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			e->shards = xrealloc(e->shards, cap * sizeof(*e->shards));
		}
		e->shards[e->nshards].shard = shard;
		e->shards[e->nshards++].mtime = st.st_mtim;
	}
	closedir(d);
}

static bool
ts_differ(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec != b->tv_sec || a->tv_nsec != b->tv_nsec;
}

/* Compare the mtimes with the recorded ones and mark what changed. */
static void
poll_check(struct store_hub *hub, struct ent *e)
{
	struct stat	 st;
	char		 path[PATH_MAX];
	char		 shard[STORE_SHARD_MAX];
	size_t		 i;

	if (stat(e->key, &st) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			ent_gone(hub, e);
		return;
	}
	if (st.st_ino != e->ino) {
		ent_gone(hub, e);	/* deleted and made again */
		return;
	}
	if (ts_differ(&st.st_mtim, &e->dir_mtime)) {
		/* Shards came or went (or status.json was replaced). */
		e->all_dirty = true;
		mark(hub, e);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", e->key, MBOX_STATUS);
	if (stat(path, &st) == 0 && ts_differ(&st.st_mtim, &e->status_mtime)) {
		e->status_mtime = st.st_mtim;
		e->status_dirty = true;
		mark(hub, e);
	}
	for (i = 0; i < e->nshards; i++) {
		store_shard_format(e->shards[i].shard * 1000, shard);
		snprintf(path, sizeof(path), "%s/%s", e->key, shard);
		if (stat(path, &st) == -1 ||
		    ts_differ(&st.st_mtim, &e->shards[i].mtime)) {
			if (stat(path, &st) == 0)
				e->shards[i].mtime = st.st_mtim;
			mark_shard(hub, e, e->shards[i].shard);
		}
	}
}

static void
refresh_ent(struct store_hub *hub, struct ent *e)
{
	size_t	 i;
	int	 r = 0;

	if (e->gone)
		return;
	if (e->all_dirty) {
		if (e->polled)
			poll_record(e);
		r = store_mbox_refresh(e->mb);
	} else {
		if (e->status_dirty)
			r = store_mbox_refresh_status(e->mb);
		if (e->ndirty > 1)
			qsort(e->dirty, e->ndirty, sizeof(*e->dirty), u32_cmp);
		for (i = 0; i < e->ndirty && r == 0; i++)
			r = store_mbox_refresh_shard(e->mb, e->dirty[i]);
	}
	e->all_dirty = e->status_dirty = false;
	e->ndirty = 0;
	if (r == -1 && errno == ENOENT)
		ent_gone(hub, e);
	else if (r == -1)
		log_warn("store", 0, NULL, "event=refresh-failed dir=%s "
		    "error=%s", log_q(e->key), log_q(strerror(errno)));
	else if (e->mb->st.noselect)
		ent_gone(hub, e);	/* deleted while it had children */
}

/* Refresh every marked entry. An entry freed meanwhile is never marked:
 * ent_free() takes it off the list first. */
static void
run_work(struct store_hub *hub)
{
	struct ent *e;

	while ((e = hub->work) != NULL) {
		hub->work = e->work_next;
		e->marked = false;
		refresh_ent(hub, e);
	}
}

static void
on_inotify(struct ev_loop *loop, ev_io *w, int revents)
{
	struct store_hub		*hub = w->data;
	char				 buf[16384]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event	*ev;
	struct watch			*wa;
	struct ent			*e;
	uint32_t			 shard, uid;
	struct store_flags		 fl;
	ssize_t				 n;
	size_t				 i;
	char				 path[PATH_MAX];

	(void)loop;
	(void)revents;
	for (;;) {
		n = read(hub->ifd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;
		    p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(void *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				/* Events were lost: rescan everything. */
				for (i = 0; i < NBUCKETS; i++)
					for (e = hub->buckets[i]; e != NULL;
					    e = e->next) {
						e->all_dirty = true;
						mark(hub, e);
					}
				continue;
			}
			if ((wa = watch_find(hub, ev->wd)) == NULL)
				continue;
			e = wa->e;
			if (ev->mask & IN_IGNORED) {
				/* The kernel dropped it (folder deleted). */
				watch_drop(hub, (size_t)(wa - hub->watches),
				    false);
				continue;
			}
			if (wa->shard != SHARD_NONE) {
				if (ev->len > 0 && store_fname_parse(ev->name,
				    &uid, &fl) == 0)
					mark_shard(hub, e, wa->shard);
				continue;
			}
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
				ent_gone(hub, e);
				continue;
			}
			if (ev->len == 0)
				continue;
			if (strcmp(ev->name, MBOX_STATUS) == 0) {
				e->status_dirty = true;
				mark(hub, e);
			} else if (store_shard_parse(ev->name, &shard) == 0) {
				if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
				    (ev->mask & IN_ISDIR)) {
					snprintf(path, sizeof(path), "%s/%s",
					    e->key, ev->name);
					if (!watch_add(hub, e, path, shard)) {
						/* Out of watches: poll it all
						 * (the refresh records). */
						watches_drop_ent(hub, e);
						e->polled = true;
						e->all_dirty = true;
					}
				}
				mark_shard(hub, e, shard);
			}
		}
	}
	run_work(hub);
}

/* Once a second: poll the entries inotify cannot watch, close idle ones. */
static void
on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct store_hub	*hub = w->data;
	struct ent		*e, *next;
	ev_tstamp		 now = ev_now(loop);
	size_t			 i;

	(void)revents;
	for (i = 0; i < NBUCKETS; i++)
		for (e = hub->buckets[i]; e != NULL; e = next) {
			next = e->next;
			if (e->polled)
				poll_check(hub, e);
		}
	run_work(hub);
	while ((e = hub->idle_head) != NULL &&
	    now - e->idle_since >= hub->linger_secs) {
		idle_remove(hub, e);
		ent_free(hub, e);
	}
}

/* Close idle handles, oldest first, until the limits hold. */
static void
trim_idle(struct store_hub *hub)
{
	struct ent *e;

	while ((e = hub->idle_head) != NULL && (hub->linger_secs <= 0 ||
	    hub->idle_msgs > hub->linger_msgs)) {
		idle_remove(hub, e);
		ent_free(hub, e);
	}
}

/* --- entries ----------------------------------------------------------- */

static void
ent_free(struct store_hub *hub, struct ent *e)
{
	struct ent **pp;

	if (!e->gone) {
		watches_drop_ent(hub, e);
		ent_unlink(hub, e);
	}
	if (e->marked)
		for (pp = &hub->work; *pp != NULL; pp = &(*pp)->work_next)
			if (*pp == e) {
				*pp = e->work_next;
				break;
			}
	hub->nopen--;
	store_mimecache_forget(hub->mime, e->mb);
	store_mbox_close(&e->mb);
	free(e->dirty);
	free(e->shards);
	free(e->key);
	free(e);
}

/* Watch the folder and its shards; false when something was refused. */
static bool
watch_ent(struct store_hub *hub, struct ent *e)
{
	DIR		*d;
	struct dirent	*de;
	uint32_t	 shard;
	char		 path[PATH_MAX];
	bool		 ok;

	if (!watch_add(hub, e, e->key, SHARD_NONE))
		return false;
	if ((d = opendir(e->key)) == NULL)
		return errno == ENOENT;	/* open reports it */
	ok = true;
	while (ok && (de = readdir(d)) != NULL) {
		if (store_shard_parse(de->d_name, &shard) == -1)
			continue;
		snprintf(path, sizeof(path), "%s/%s", e->key, de->d_name);
		ok = watch_add(hub, e, path, shard);
	}
	closedir(d);
	return ok;
}

static struct quota_rec *
quota_find(struct store_hub *hub, const char *user_dir)
{
	struct quota_rec *q;

	for (q = hub->quotas; q != NULL; q = q->next)
		if (strcmp(q->user_dir, user_dir) == 0)
			return q;
	q = xcalloc(1, sizeof(*q));
	q->user_dir = xstrdup(user_dir);
	q->next = hub->quotas;
	hub->quotas = q;
	return q;
}

struct store_mbox *
store_hub_open(struct store_hub *hub, const char *user_dir,
    const char *dirname, char *err, size_t errlen)
{
	struct quota_rec *q;
	struct ent	*e;
	char		*key;
	unsigned	 h;
	int		 saved;

	key = xasprintf("%s/mailboxes/%s", user_dir, dirname);
	h = hash_str(key);
	for (e = hub->buckets[h % NBUCKETS]; e != NULL; e = e->next)
		if (e->hash == h && strcmp(e->key, key) == 0)
			break;
	if (e != NULL) {
		free(key);
		if (e->refs++ == 0)
			idle_remove(hub, e);
		/* Polled handles check before they are used again. */
		if (e->polled) {
			poll_check(hub, e);
			run_work(hub);
		}
		return e->mb;
	}
	q = quota_find(hub, user_dir);
	if (!q->tmp_cleaned) {
		/*
		 * A crash mid-append leaves files in USER/tmp that nothing
		 * else removes (and a hard link there pins a queue message's
		 * bytes): sweep once, before this process appends for the
		 * user. Best effort: a file that stays is only space.
		 */
		q->tmp_cleaned = true;
		(void)store_user_clean_tmp(user_dir);
	}
	e = xcalloc(1, sizeof(*e));
	e->hub = hub;
	e->key = key;
	e->hash = h;
	e->refs = 1;
	e->polled = !watch_ent(hub, e);
	if (e->polled) {
		watches_drop_ent(hub, e);
		poll_record(e);
	}
	if ((e->mb = store_mbox_open(user_dir, dirname, err, errlen)) == NULL) {
		saved = errno;
		watches_drop_ent(hub, e);
		free(e->shards);
		free(e->dirty);
		free(e->key);
		free(e);
		errno = saved;
		return NULL;
	}
	store_mbox_set_quota(e->mb, &q->q);
	e->mb->hubent = e;
	e->next = hub->buckets[h % NBUCKETS];
	hub->buckets[h % NBUCKETS] = e;
	hub->nopen++;
	return e->mb;
}

void
store_hub_release(struct store_hub *hub, struct store_mbox **mbp)
{
	struct ent *e;

	if (mbp == NULL || *mbp == NULL)
		return;
	e = (*mbp)->hubent;
	*mbp = NULL;
	if (--e->refs > 0)
		return;
	if (e->gone) {
		ent_free(hub, e);
		return;
	}
	e->idle_since = ev_now(hub->loop);
	e->idle_prev = hub->idle_tail;
	e->idle_next = NULL;
	if (hub->idle_tail != NULL)
		hub->idle_tail->idle_next = e;
	else
		hub->idle_head = e;
	hub->idle_tail = e;
	hub->nidle++;
	hub->idle_msgs += store_mbox_count(e->mb);
	trim_idle(hub);
}

struct store_quota *
store_hub_quota(struct store_hub *hub, const char *user_dir,
    uint64_t max_bytes, uint64_t max_messages)
{
	struct quota_rec *q = quota_find(hub, user_dir);

	q->q.max_bytes = max_bytes;
	q->q.max_messages = max_messages;
	return &q->q;
}

/* --- the hub ----------------------------------------------------------- */

struct store_hub *
store_hub_new(struct ev_loop *loop, int flags)
{
	struct store_hub *hub = xcalloc(1, sizeof(*hub));

	hub->loop = loop;
	hub->linger_secs = STORE_HUB_LINGER_SECS;
	hub->linger_msgs = STORE_HUB_LINGER_MSGS;
	hub->ifd = -1;
	hub->mime = store_mimecache_new(STORE_MIMECACHE_BYTES);
	if (!(flags & STORE_HUB_POLL)) {
		hub->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (hub->ifd == -1)
			log_warn("store", 0, NULL, "event=inotify-unavailable "
			    "error=%s fallback=poll", log_q(strerror(errno)));
	}
	if (hub->ifd != -1) {
		ev_io_init(&hub->io, on_inotify, hub->ifd, EV_READ);
		hub->io.data = hub;
		ev_io_start(loop, &hub->io);
		ev_unref(loop);
	}
	ev_timer_init(&hub->tick, on_tick, POLL_SECS, POLL_SECS);
	hub->tick.data = hub;
	ev_timer_start(loop, &hub->tick);
	ev_unref(loop);		/* the tick alone keeps no loop running */
	return hub;
}

void
store_hub_set_linger(struct store_hub *hub, double secs, size_t msgs)
{
	hub->linger_secs = secs;
	hub->linger_msgs = msgs;
	trim_idle(hub);
}

void
store_hub_free(struct store_hub **hubp)
{
	struct store_hub	*hub;
	struct quota_rec	*q, *qn;
	struct ent		*e;
	size_t			 i;

	if (hubp == NULL || (hub = *hubp) == NULL)
		return;
	while ((e = hub->idle_head) != NULL) {
		idle_remove(hub, e);
		ent_free(hub, e);
	}
	for (i = 0; i < NBUCKETS; i++)
		while ((e = hub->buckets[i]) != NULL)
			ent_free(hub, e);	/* still held: a caller's bug */
	ev_ref(hub->loop);
	ev_timer_stop(hub->loop, &hub->tick);
	if (hub->ifd != -1) {
		ev_ref(hub->loop);
		ev_io_stop(hub->loop, &hub->io);
		close(hub->ifd);
	}
	for (q = hub->quotas; q != NULL; q = qn) {
		qn = q->next;
		free(q->user_dir);
		free(q);
	}
	store_mimecache_free(&hub->mime);
	free(hub->watches);
	free(hub);
	*hubp = NULL;
}

size_t
store_hub_count(const struct store_hub *hub, size_t *lingering_r)
{
	if (lingering_r != NULL)
		*lingering_r = hub->nidle;
	return hub->nopen;
}

bool
store_hub_inotify(const struct store_hub *hub)
{
	return hub->ifd != -1;
}

struct store_mimecache *
store_hub_mimecache(struct store_hub *hub)
{
	return hub->mime;
}
