/*
 * mailbox: on-disk mailbox primitives. See mailbox.h and DESIGN.md
 * "The store".
 *
 * The file name is the truth about a message (uid and flags); the index is
 * a cache of the last scan. Every change is one atomic directory operation
 * (rename into the shard, rename within it, unlink) followed by an fsync of
 * the directory (STYLE.md 6), so a crash leaves each message either fully
 * present under one name or absent. Only UID and keyword allocation need
 * the mailbox lock: rmail deliver and the server both append.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsio.h"
#include "core/util.h"
#include "store/mailbox_private.h"
#include "store/names.h"

/* How often set_flags/expunge chase a file another process renamed. */
#define CHASE_MAX	5

/* A dirname from store_name_to_dir() is one component, never a dot-file. */
static bool
valid_dirname(const char *d)
{
	return d[0] != '\0' && d[0] != '.' && strchr(d, '/') == NULL &&
	    strlen(d) < STORE_DIRNAME_MAX;
}

int
mbox_lock(const struct store_mbox *mb)
{
	char	 path[PATH_MAX];
	int	 fd, saved;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", mb->dir, MBOX_LOCK) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/*
	 * Opened per use, not kept: flock belongs to the open file
	 * description, which a fork()ed child would share with its parent.
	 */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return -1;
	while (flock(fd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void
mbox_unlock(int fd)
{
	int saved = errno;

	/* Closing releases the lock; nothing was written through fd. */
	(void)close(fd);
	errno = saved;
}

/*
 * Load status.json into mb->st, rebuilding it when missing or corrupt.
 * The rebuild happens under the lock, after a second read, so two
 * processes opening at once agree on one UIDVALIDITY.
 */
int
mbox_load_status(struct store_mbox *mb)
{
	struct mbox_status	 st;
	int			 lockfd;

	if (mbox_status_read(mb->dir, &st) == 0)
		goto ok;
	if (errno != ENOENT && errno != EINVAL)
		return -1;
	if ((lockfd = mbox_lock(mb)) == -1)
		return -1;
	if (mbox_status_read(mb->dir, &st) == -1) {
		if (errno != ENOENT && errno != EINVAL) {
			mbox_unlock(lockfd);
			return -1;
		}
		mbox_status_init(&st);
		/* UIDs above what the old status said may be on disk. */
		if (mb->st.uidnext > st.uidnext)
			st.uidnext = mb->st.uidnext;
		if (mbox_status_write(mb->dir, &st) == -1) {
			mbox_status_free(&st);
			mbox_unlock(lockfd);
			return -1;
		}
		mb->rebuilt = true;
	}
	mbox_unlock(lockfd);
ok:
	mbox_status_free(&mb->st);
	mb->st = st;
	return 0;
}

/*
 * RFC 3501 2.3.1.1: UIDNEXT must stay above every UID in the mailbox, even
 * when status.json lagged (crash between rename and status write, rebuilt
 * status). Raise it under the lock and persist.
 */
int
mbox_raise_uidnext(struct store_mbox *mb)
{
	struct mbox_status	 disk;
	uint32_t		 want;
	int			 lockfd;

	if (mb->nmsgs == 0)
		return 0;
	want = mb->msgs[mb->nmsgs - 1].uid;
	if (want == UINT32_MAX || want < mb->st.uidnext)
		return 0;	/* an exhausted mailbox is caught by append */
	want++;
	if ((lockfd = mbox_lock(mb)) == -1)
		return -1;
	if (mbox_status_read(mb->dir, &disk) == 0)
		mbox_status_merge(&mb->st, &disk);
	if (mb->st.uidnext < want) {
		mb->st.uidnext = want;
		if (mbox_status_write(mb->dir, &mb->st) == -1) {
			mbox_unlock(lockfd);
			return -1;
		}
	}
	mbox_unlock(lockfd);
	return 0;
}

int
store_mbox_create(const char *user_dir, const char *dirname,
    const char *special_use, char *err, size_t errlen)
{
	struct store_mbox	 mb;
	char			*parent = NULL;
	bool			 made = false;
	int			 lockfd = -1, saved;

	memset(&mb, 0, sizeof(mb));
	if (!valid_dirname(dirname) ||
	    (special_use != NULL && !mbox_special_use_valid(special_use))) {
		errno = EINVAL;
		err_printf(err, errlen, "%s: invalid mailbox directory or "
		    "special-use", dirname);
		return -1;
	}
	parent = xasprintf("%s/mailboxes", user_dir);
	mb.dir = xasprintf("%s/%s", parent, dirname);
	if (fsio_mkdirs(parent, 0700) == -1) {
		err_printf(err, errlen, "%s: %s", parent, strerror(errno));
		goto fail;
	}
	if (mkdir(mb.dir, 0700) == -1) {
		err_printf(err, errlen, "%s: %s", mb.dir, errno == EEXIST ?
		    "mailbox already exists" : strerror(errno));
		goto fail;
	}
	made = true;
	mbox_status_init(&mb.st);
	if (special_use != NULL)
		mb.st.special_use = xstrdup(special_use);
	/* Under the lock, so an open racing us does not rebuild it. */
	if ((lockfd = mbox_lock(&mb)) == -1 ||
	    mbox_status_write(mb.dir, &mb.st) == -1) {
		err_printf(err, errlen, "%s/%s: %s", mb.dir, MBOX_STATUS,
		    strerror(errno));
		goto fail;
	}
	mbox_unlock(lockfd);
	lockfd = -1;
	/* The new directory entry must survive a crash too (STYLE.md 6). */
	if (fsio_fsync_dir(parent) == -1) {
		err_printf(err, errlen, "fsync %s: %s", parent, strerror(errno));
		goto fail;
	}
	mbox_status_free(&mb.st);
	free(mb.dir);
	free(parent);
	return 0;
fail:
	saved = errno;
	if (lockfd != -1)
		mbox_unlock(lockfd);
	if (made) {
		char *p;

		p = xasprintf("%s/%s", mb.dir, MBOX_STATUS);
		(void)unlink(p);
		free(p);
		p = xasprintf("%s/%s", mb.dir, MBOX_LOCK);
		(void)unlink(p);
		free(p);
		(void)rmdir(mb.dir);
	}
	mbox_status_free(&mb.st);
	free(mb.dir);
	free(parent);
	errno = saved;
	return -1;
}

static struct store_mbox *
mbox_open(const char *user_dir, const char *dirname, bool scan, char *err,
    size_t errlen)
{
	struct store_mbox	*mb;
	struct stat		 st;
	int			 saved;

	if (!valid_dirname(dirname)) {
		errno = EINVAL;
		err_printf(err, errlen, "%s: invalid mailbox directory", dirname);
		return NULL;
	}
	mb = xcalloc(1, sizeof(*mb));
	mb->dir = xasprintf("%s/mailboxes/%s", user_dir, dirname);
	mb->userdir = xstrdup(user_dir);
	mb->tmpdir = xasprintf("%s/tmp", user_dir);
	/* Room for "/SHARD/NAME" so no later path can be truncated. */
	if (strlen(mb->dir) + STORE_SHARD_MAX + STORE_FNAME_MAX >= PATH_MAX ||
	    strlen(mb->tmpdir) + 64 >= PATH_MAX) {
		errno = ENAMETOOLONG;
		err_printf(err, errlen, "%s: %s", mb->dir, strerror(errno));
		goto fail;
	}
	if (stat(mb->dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		if (errno == 0 || errno == ENOTDIR)
			errno = ENOENT;
		err_printf(err, errlen, "%s: %s", mb->dir, errno == ENOENT ?
		    "no such mailbox" : strerror(errno));
		goto fail;
	}
	if (mbox_load_status(mb) == -1) {
		err_printf(err, errlen, "%s/%s: %s", mb->dir, MBOX_STATUS,
		    strerror(errno));
		goto fail;
	}
	if (mb->st.noselect) {
		errno = ENOTDIR;
		err_printf(err, errlen, "%s: mailbox is \\Noselect", mb->dir);
		goto fail;
	}
	if (!scan && !mb->rebuilt) {
		/* status.json is written before any uid appears: trust it. */
		mb->seen_next = mb->st.uidnext;
		mb->recent_next = mb->st.uidnext;
		mb->partial = true;
		return mb;
	}
	if (mbox_scan_all(mb, &mb->msgs, &mb->nmsgs, &mb->cap) == -1) {
		err_printf(err, errlen, "scan %s: %s", mb->dir, strerror(errno));
		goto fail;
	}
	if (mbox_raise_uidnext(mb) == -1) {
		err_printf(err, errlen, "%s/%s: %s", mb->dir, MBOX_STATUS,
		    strerror(errno));
		goto fail;
	}
	mb->seen_next = mb->nmsgs > 0 ? mb->msgs[mb->nmsgs - 1].uid + 1 : 1;
	mb->recent_next = mb->st.uidnext;
	return mb;
fail:
	saved = errno;
	store_mbox_close(&mb);
	errno = saved;
	return NULL;
}

struct store_mbox *
store_mbox_open(const char *user_dir, const char *dirname, char *err,
    size_t errlen)
{
	return mbox_open(user_dir, dirname, true, err, errlen);
}

struct store_mbox *
store_mbox_open_append(const char *user_dir, const char *dirname, char *err,
    size_t errlen)
{
	return mbox_open(user_dir, dirname, false, err, errlen);
}

void
store_mbox_close(struct store_mbox **mbp)
{
	struct store_mbox *mb;

	if (mbp == NULL || (mb = *mbp) == NULL)
		return;
	mbox_subs_free(mb);
	free(mb->dirty);
	mbox_status_free(&mb->st);
	free(mb->msgs);
	free(mb->userdir);
	free(mb->tmpdir);
	free(mb->dir);
	free(mb);
	*mbp = NULL;
}

uint32_t
store_mbox_uidvalidity(const struct store_mbox *mb)
{
	return mb->st.uidvalidity;
}

uint32_t
store_mbox_uidnext(const struct store_mbox *mb)
{
	return mb->st.uidnext;
}

uint32_t
store_mbox_recent_first(const struct store_mbox *mb)
{
	return mb->recent_next;
}

uint32_t
store_mbox_recent_claim(struct store_mbox *mb, uint32_t upto)
{
	uint32_t first = mb->recent_next;

	if (upto > mb->recent_next)
		mb->recent_next = upto;
	return first;
}

bool
store_mbox_rebuilt(const struct store_mbox *mb)
{
	return mb->rebuilt;
}

bool
store_mbox_subscribed(const struct store_mbox *mb)
{
	return mb->st.subscribed;
}

const char *
store_mbox_special_use(const struct store_mbox *mb)
{
	return mb->st.special_use;
}

size_t
store_mbox_count(const struct store_mbox *mb)
{
	return mb->nmsgs;
}

const struct store_msg *
store_mbox_at(const struct store_mbox *mb, size_t i)
{
	return i < mb->nmsgs ? &mb->msgs[i] : NULL;
}

const struct store_msg *
store_mbox_find(const struct store_mbox *mb, uint32_t uid)
{
	return mbox_index_find(mb, uid);
}

int
store_mbox_path(const struct store_mbox *mb, uint32_t uid, char *buf,
    size_t len)
{
	const struct store_msg *m;

	if ((m = mbox_index_find(mb, uid)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	return mbox_msg_path(mb, uid, &m->flags, buf, len);
}

char *
store_mbox_read(struct store_mbox *mb, uint32_t uid, size_t *len_r)
{
	struct store_msg	*m, found;
	char			 path[PATH_MAX], *data;
	int			 tries;

	for (tries = 0; tries < CHASE_MAX; tries++) {
		if ((m = mbox_index_find(mb, uid)) == NULL) {
			errno = ENOENT;
			return NULL;
		}
		if (mbox_msg_path(mb, uid, &m->flags, path, sizeof(path)) == -1)
			return NULL;
		/* Messages never change: the index size bounds the read. */
		data = fsio_read_file(path, (size_t)m->size + 1, len_r);
		if (data != NULL || errno != ENOENT)
			return data;
		/* Another process renamed (flags) or expunged it. */
		if (mbox_rescan_uid(mb, uid, &found) == -1) {
			if (errno == ENOENT)
				mbox_drop(mb, m);
			return NULL;
		}
		if (found.flags.sys != m->flags.sys ||
		    found.flags.kw != m->flags.kw) {
			*m = found;
			mbox_emit(mb, STORE_EV_FLAGS, uid, m);
		} else
			*m = found;
	}
	errno = EAGAIN;
	return NULL;
}

static void
mark_dirty(struct store_mbox *mb, uint32_t shardno)
{
	for (size_t i = mb->ndirty; i > 0; i--)
		if (mb->dirty[i - 1] == shardno)
			return;
	if (mb->ndirty == mb->dirty_cap) {
		mb->dirty_cap = mb->dirty_cap ? mb->dirty_cap * 2 : 8;
		mb->dirty = xrealloc(mb->dirty, mb->dirty_cap * sizeof(*mb->dirty));
	}
	mb->dirty[mb->ndirty++] = shardno;
}

void
store_mbox_flags_begin(struct store_mbox *mb)
{
	mb->flags_batch = true;
}

int
store_mbox_flags_commit(struct store_mbox *mb)
{
	char shard[PATH_MAX];
	int rc = 0, saved = 0;

	mb->flags_batch = false;
	for (size_t i = 0; i < mb->ndirty; i++) {
		uint32_t uid = mb->dirty[i] * 1000 + (mb->dirty[i] == 0);

		if (mbox_shard_path(mb, uid, shard) == -1 ||
		    fsio_fsync_dir(shard) == -1) {
			if (rc == 0)
				saved = errno;
			rc = -1;
		}
	}
	mb->ndirty = 0;
	if (rc == -1)
		errno = saved;
	return rc;
}

int
store_mbox_set_flags(struct store_mbox *mb, uint32_t uid,
    const struct store_flags *flags)
{
	struct store_msg	*m, found;
	struct store_flags	 want;
	struct stat		 st;
	char			 from[PATH_MAX], to[PATH_MAX], shard[PATH_MAX];
	int			 tries;

	want.sys = flags->sys & STORE_F_ALL;
	want.kw = flags->kw & STORE_KW_ALL;
	if ((m = mbox_index_find(mb, uid)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (mbox_shard_path(mb, uid, shard) == -1 ||
	    mbox_msg_path(mb, uid, &want, to, sizeof(to)) == -1)
		return -1;
	for (tries = 0; tries < CHASE_MAX; tries++) {
		if (mbox_msg_path(mb, uid, &m->flags, from, sizeof(from)) == -1)
			return -1;
		if (strcmp(from, to) == 0) {
			/* Nothing to rename; but say ENOENT if it is gone. */
			if (stat(from, &st) == 0)
				return 0;
		} else if (rename(from, to) == 0) {
			m->flags = want;
			mbox_emit(mb, STORE_EV_FLAGS, uid, m);
			if (mb->flags_batch) {
				mark_dirty(mb, uid / 1000);
				return 0;
			}
			/* STYLE.md 6: a flag change is durable once the
			 * directory is synced. */
			return fsio_fsync_dir(shard);
		}
		if (errno != ENOENT)
			return -1;
		/* Renamed or expunged by someone else: find its name. */
		if (mbox_rescan_uid(mb, uid, &found) == -1) {
			if (errno == ENOENT)
				mbox_drop(mb, m);
			return -1;
		}
		m->flags = found.flags;
		m->size = found.size;
		m->internaldate = found.internaldate;
	}
	errno = EAGAIN;
	return -1;
}

/* m left the mailbox: out of the index and the quota; tell subscribers. */
void
mbox_drop(struct store_mbox *mb, struct store_msg *m)
{
	uint32_t uid = m->uid;

	if (uid >= mb->seen_next)
		mb->seen_next = uid + 1;
	store_quota_add(mb->quota, -(int64_t)m->size, -1);
	mbox_index_remove(mb, m);
	mbox_emit(mb, STORE_EV_EXPUNGE, uid, NULL);
}

void
store_mbox_set_quota(struct store_mbox *mb, struct store_quota *q)
{
	mb->quota = q;
}

int
mbox_quota_check(struct store_mbox *mb, uint64_t bytes, uint64_t msgs,
    char *err, size_t errlen)
{
	struct store_quota *q = mb->quota;

	if (q == NULL || (q->max_bytes == 0 && q->max_messages == 0))
		return 0;
	if ((q->counted == 0 ||
	    time(NULL) - q->counted > STORE_QUOTA_RECOUNT_SECS) &&
	    store_quota_count(mb->userdir, q) == -1) {
		err_printf(err, errlen, "%s: counting quota usage: %s",
		    mb->userdir, strerror(errno));
		return -1;
	}
	return store_quota_check(q, bytes, msgs, err, errlen);
}

/*
 * Unlink uid's file, chasing renames by other processes. 0 when it is gone
 * (by us or someone else), -1 with errno. The index is not touched.
 */
static int
unlink_msg(struct store_mbox *mb, struct store_msg *m)
{
	struct store_msg	 found;
	char			 path[PATH_MAX];
	int			 tries;

	for (tries = 0; tries < CHASE_MAX; tries++) {
		if (mbox_msg_path(mb, m->uid, &m->flags, path,
		    sizeof(path)) == -1)
			return -1;
		if (unlink(path) == 0)
			return 0;
		if (errno != ENOENT)
			return -1;
		if (mbox_rescan_uid(mb, m->uid, &found) == -1)
			/* Already expunged elsewhere: the goal is reached. */
			return errno == ENOENT ? 0 : -1;
		m->flags = found.flags;
	}
	errno = EAGAIN;
	return -1;
}

int
store_mbox_expunge(struct store_mbox *mb, uint32_t uid)
{
	struct store_msg	*m;
	char			 shard[PATH_MAX];

	if ((m = mbox_index_find(mb, uid)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (mbox_shard_path(mb, uid, shard) == -1 || unlink_msg(mb, m) == -1)
		return -1;
	mbox_drop(mb, m);
	return fsio_fsync_dir(shard);
}

int
store_mbox_expunge_uids(struct store_mbox *mb, const uint32_t *uids,
    size_t n)
{
	struct store_msg	*m;
	char			 shard[PATH_MAX];
	uint32_t		*gone;
	size_t			 i, j, k, ngone = 0;
	int			 first = 0;
	bool			 synced;

	for (i = 1; i < n; i++)
		if (uids[i] <= uids[i - 1]) {
			errno = EINVAL;
			return -1;
		}
	gone = xcalloc(n > 0 ? n : 1, sizeof(*gone));
	for (i = 0; i < n; i++) {
		if ((m = mbox_index_find(mb, uids[i])) == NULL)
			continue;
		if (unlink_msg(mb, m) == -1) {
			if (first == 0)
				first = errno;
			continue;
		}
		gone[ngone++] = uids[i];
	}
	/* One fsync per shard (uids ascend, so shards do too). */
	for (i = 0; i < ngone; i++) {
		synced = i > 0 && gone[i] / 1000 == gone[i - 1] / 1000;
		if (!synced && (mbox_shard_path(mb, gone[i], shard) == -1 ||
		    fsio_fsync_dir(shard) == -1) && first == 0)
			first = errno;
	}
	/* One pass over the index instead of a memmove per message. */
	for (i = j = k = 0; i < mb->nmsgs; i++) {
		if (k < ngone && mb->msgs[i].uid == gone[k]) {
			store_quota_add(mb->quota, -(int64_t)mb->msgs[i].size,
			    -1);
			k++;
			continue;
		}
		mb->msgs[j++] = mb->msgs[i];
	}
	mb->nmsgs = j;
	if (ngone > 0 && gone[ngone - 1] >= mb->seen_next)
		mb->seen_next = gone[ngone - 1] + 1;
	for (i = 0; i < ngone; i++)
		mbox_emit(mb, STORE_EV_EXPUNGE, gone[i], NULL);
	free(gone);
	errno = first;
	return first != 0 ? -1 : 0;
}
