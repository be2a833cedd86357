/*
 * mailbox_sync: bringing a handle's index in line with the disk after
 * other processes changed it, and telling subscribers what changed. See
 * mailbox.h (store_mbox_refresh*) and "Change notification".
 *
 * A scan is compared with the index, uid by uid:
 *   - same uid, other flags: another process stored flags (FLAGS);
 *   - on disk only, above every uid the index ever held: appended by
 *     another process (EXISTS), in uid order;
 *   - on disk only, below that: a file put back by hand. Reporting it
 *     would break IMAP's rule that new messages have higher UIDs, so it
 *     gets a fresh uid first (rename under the lock), then EXISTS;
 *   - in the index only: expunged (EXPUNGE), but only after checking its
 *     last known name and rescanning its shard: readdir(3) racing a rename
 *     may miss an entry, and a message must never look expunged because of
 *     a flag change.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsio.h"
#include "core/util.h"
#include "store/mailbox_private.h"

/* Index position of the first uid >= uid. */
static size_t
lower_bound(const struct store_mbox *mb, uint64_t uid)
{
	size_t lo = 0, hi = mb->nmsgs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (mb->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Give the stray message *m (on disk under m->uid) a fresh uid: reserve
 * it in status.json under the lock, then rename. 0 with m->uid updated;
 * 1 when the file vanished meanwhile; -1 with errno.
 */
static int
reuid(struct store_mbox *mb, struct store_msg *m)
{
	struct mbox_status	 disk;
	char			 from[PATH_MAX], to[PATH_MAX], shard[PATH_MAX];
	uint32_t		 uid;
	int			 lockfd, r = -1;

	if ((lockfd = mbox_lock(mb)) == -1)
		return -1;
	if (mbox_status_read(mb->dir, &disk) == 0)
		mbox_status_merge(&mb->st, &disk);
	uid = mb->st.uidnext;
	if (uid < mb->seen_next)
		uid = mb->seen_next;
	if (uid == 0 || uid == UINT32_MAX) {
		errno = EOVERFLOW;
		goto out;
	}
	if (mbox_msg_path(mb, m->uid, &m->flags, from, sizeof(from)) == -1 ||
	    mbox_msg_path(mb, uid, &m->flags, to, sizeof(to)) == -1 ||
	    mbox_shard_path(mb, uid, shard) == -1)
		goto out;
	if (mkdir(shard, 0700) == 0) {
		if (fsio_fsync_dir(mb->dir) == -1)
			goto out;
	} else if (errno != EEXIST)
		goto out;
	mb->st.uidnext = uid + 1;
	if (mbox_status_write(mb->dir, &mb->st) == -1)
		goto out;
	if (fsio_rename_noreplace(from, to) == -1) {
		r = errno == ENOENT ? 1 : -1;
		goto out;
	}
	if (fsio_fsync_dir(shard) == -1)
		goto out;
	if (mbox_shard_path(mb, m->uid, shard) == 0)
		(void)fsio_fsync_dir(shard);
	m->uid = uid;
	r = 0;
out:
	mbox_unlock(lockfd);
	return r;
}

/* Is the message still on disk, perhaps under other flags? Updates *m. */
static bool
still_there(const struct store_mbox *mb, struct store_msg *m)
{
	char			 path[PATH_MAX];
	struct store_msg	 found;
	struct stat		 st;

	if (mbox_msg_path(mb, m->uid, &m->flags, path, sizeof(path)) == 0 &&
	    lstat(path, &st) == 0 && S_ISREG(st.st_mode))
		return true;
	if (mbox_rescan_uid(mb, m->uid, &found) == 0) {
		*m = found;
		return true;
	}
	return false;
}

static void
update(struct store_mbox *mb, struct store_msg *m, const struct store_msg *d)
{
	bool flags = m->flags.sys != d->flags.sys || m->flags.kw != d->flags.kw;

	*m = *d;
	if (flags)
		mbox_emit(mb, STORE_EV_FLAGS, m->uid, m);
}

/*
 * Apply scan[0..n) (sorted, unique), which is the disk's view of uids
 * lo..hi, to the index. 0, or -1 with errno when a stray could not be
 * given a new uid (everything else has been applied).
 */
static int
sync_range(struct store_mbox *mb, uint32_t lo, uint32_t hi,
    const struct store_msg *scan, size_t n)
{
	struct store_msg	*m, *news = NULL, cur;
	uint32_t		*gone = NULL;
	size_t			 a, b, i, j, ngone = 0, nnew = 0, cap = 0;
	int			 r = 0, saved = 0;

	if (mb->nmsgs > 0 && mb->msgs[mb->nmsgs - 1].uid >= mb->seen_next)
		mb->seen_next = mb->msgs[mb->nmsgs - 1].uid + 1;
	a = lower_bound(mb, lo);
	b = lower_bound(mb, (uint64_t)hi + 1);
	if (b > a)
		gone = xcalloc(b - a, sizeof(*gone));
	/* Flag changes first, in place; collect the rest. */
	for (i = a, j = 0; i < b || j < n; ) {
		if (j == n || (i < b && mb->msgs[i].uid < scan[j].uid))
			gone[ngone++] = mb->msgs[i++].uid;
		else if (i == b || mb->msgs[i].uid > scan[j].uid)
			mbox_index_add(&news, &nnew, &cap, &scan[j++]);
		else
			update(mb, &mb->msgs[i++], &scan[j++]);
	}
	for (i = 0; i < ngone; i++) {
		if ((m = mbox_index_find(mb, gone[i])) == NULL)
			continue;
		cur = *m;
		if (still_there(mb, &cur))
			update(mb, m, &cur);
		else
			mbox_drop(mb, m);
	}
	for (i = 0; i < nnew; i++) {
		cur = news[i];
		if (cur.uid < mb->seen_next) {
			int rr = reuid(mb, &cur);

			if (rr == 1)
				continue;
			if (rr == -1) {
				/* Left where it is; tried again next time. */
				r = -1;
				saved = errno;
				continue;
			}
		}
		mbox_index_add(&mb->msgs, &mb->nmsgs, &mb->cap, &cur);
		mb->seen_next = cur.uid + 1;
		store_quota_add(mb->quota, (int64_t)cur.size, 1);
		mbox_emit(mb, STORE_EV_EXISTS, cur.uid,
		    mbox_index_find(mb, cur.uid));
	}
	free(gone);
	free(news);
	errno = saved;
	return r;
}

int
store_mbox_refresh_status(struct store_mbox *mb)
{
	struct mbox_status	 disk;
	unsigned		 nkw = mb->st.nkw;
	bool			 sub = mb->st.subscribed;

	if (mbox_status_read(mb->dir, &disk) == 0)
		mbox_status_merge(&mb->st, &disk);
	else if (errno == ENOENT || errno == EINVAL) {
		/* Missing/corrupt: rebuild as open does (keeps our floor). */
		if (access(mb->dir, F_OK) == -1 || mbox_load_status(mb) == -1)
			return -1;
	} else
		return -1;
	/* uidnext moves with every append, which EXISTS already says. */
	if (mb->st.nkw != nkw || mb->st.subscribed != sub)
		mbox_emit(mb, STORE_EV_STATUS, 0, NULL);
	return 0;
}

int
store_mbox_refresh(struct store_mbox *mb)
{
	struct store_msg	*msgs;
	size_t			 n, cap;
	int			 r;

	if (store_mbox_refresh_status(mb) == -1)
		return -1;
	if (mbox_scan_all(mb, &msgs, &n, &cap) == -1)
		return -1;
	if (mb->partial) {
		/* First full look: everything on disk is the mailbox, as
		 * at open; only what this handle never knew is new to it. */
		for (size_t i = 0; i < mb->nmsgs; i++)
			mbox_index_add(&msgs, &n, &cap, &mb->msgs[i]);
		n = mbox_sort_unique(msgs, n);
		free(mb->msgs);
		mb->msgs = msgs;
		mb->nmsgs = n;
		mb->cap = cap;
		mb->partial = false;
		if (n > 0 && msgs[n - 1].uid >= mb->seen_next)
			mb->seen_next = msgs[n - 1].uid + 1;
		return mbox_raise_uidnext(mb);
	}
	r = sync_range(mb, 1, UINT32_MAX, msgs, n);
	free(msgs);
	if (mbox_raise_uidnext(mb) == -1)
		r = -1;
	return r;
}

int
store_mbox_refresh_shard(struct store_mbox *mb, uint32_t shardno)
{
	struct store_msg	*msgs;
	size_t			 n, cap;
	uint32_t		 lo, hi;
	int			 r;

	if (shardno > UINT32_MAX / 1000) {
		errno = EINVAL;
		return -1;
	}
	if (mb->partial)
		return store_mbox_refresh(mb);
	if (mbox_scan_shard(mb, shardno, &msgs, &n, &cap) == -1)
		return -1;
	lo = shardno * 1000;
	hi = shardno == UINT32_MAX / 1000 ? UINT32_MAX : lo + 999;
	r = sync_range(mb, lo == 0 ? 1 : lo, hi, msgs, n);
	free(msgs);
	if (mbox_raise_uidnext(mb) == -1)
		r = -1;
	return r;
}

int
mbox_catch_up(struct store_mbox *mb)
{
	struct store_msg	*msgs;
	size_t			 n, cap, i;
	uint32_t		 shard, last, top;

	if (mb->nmsgs > 0 && mb->msgs[mb->nmsgs - 1].uid >= mb->seen_next)
		mb->seen_next = mb->msgs[mb->nmsgs - 1].uid + 1;
	if (mb->st.uidnext <= mb->seen_next)
		return 0;
	last = (mb->st.uidnext - 1) / 1000;
	for (shard = mb->seen_next / 1000; shard <= last; shard++) {
		if (mbox_scan_shard(mb, shard, &msgs, &n, &cap) == -1)
			return -1;
		for (i = 0; i < n; i++) {
			top = mb->nmsgs > 0 ? mb->msgs[mb->nmsgs - 1].uid : 0;
			if (msgs[i].uid < mb->seen_next ||
			    msgs[i].uid >= mb->st.uidnext || msgs[i].uid <= top)
				continue;
			mbox_index_add(&mb->msgs, &mb->nmsgs, &mb->cap,
			    &msgs[i]);
			store_quota_add(mb->quota, (int64_t)msgs[i].size, 1);
		}
		free(msgs);
	}
	mb->seen_next = mb->st.uidnext;
	return 0;
}

void
mbox_emit_new(struct store_mbox *mb, size_t from)
{
	size_t i;

	/* The index does not change during emit: callbacks may not. */
	for (i = from; i < mb->nmsgs; i++)
		mbox_emit(mb, STORE_EV_EXISTS, mb->msgs[i].uid, &mb->msgs[i]);
}
