/*
 * copy: COPY and MOVE between mailboxes. See copy.h and DESIGN.md "The
 * store".
 *
 * The order of the steps is what makes a copy safe against crashes and
 * other processes:
 *   1. quota and keywords, without any lock (store_mbox_keyword() takes
 *      dst's lock itself, and flock is not recursive across open file
 *      descriptions: calling it under our lock would deadlock);
 *   2. under dst's lock, take in what other processes appended (as
 *      append does), reserve a block of UIDs and make it durable in
 *      status.json before any file appears, so a crash leaves a gap,
 *      never a UID handed out twice;
 *   3. link (or copy) each file straight to its final name, which is
 *      atomic and never replaces; fsync each shard once;
 *   4. add the copies to the index, unlock, then tell subscribers
 *      (callbacks must not run under the lock);
 *   5. for a move, expunge the sources, only once every copy is durable:
 *      a crash in between leaves the messages in both mailboxes, never in
 *      neither.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fsio.h"
#include "core/util.h"
#include "store/copy.h"
#include "store/mailbox_private.h"

/* How often a source file another process renamed is chased. */
#define CHASE_MAX	5
/* How many tmp names to try before giving up on O_EXCL collisions. */
#define TMP_TRIES	10

/* One message to copy; a snapshot, since src's index may move under us
 * (src == dst, or events run by the expunges of a move). */
struct copy_item {
	size_t			 i;	/* its index in uids[] */
	uint32_t		 uid;	/* in src */
	struct store_flags	 sflags; /* in src, for its file name */
	struct store_flags	 dflags; /* keywords mapped to dst's list */
	off_t			 size;
	time_t			 internaldate;
	uint32_t		 newuid;	/* in dst */
	bool			 made;	/* its dst file exists */
	bool			 gone;	/* its src file vanished */
};

/*
 * Map the keyword bits of fl (src's list) to dst's list by name, creating
 * them in dst. map caches each src bit: -2 unknown yet, -1 dropped.
 * 0, or -1 with errno and err set.
 */
static int
map_keywords(struct store_mbox *src, struct store_mbox *dst, int map[],
    uint32_t kw, uint32_t *kw_r, char *err, size_t errlen)
{
	const char	*name;
	unsigned	 bit;

	*kw_r = 0;
	for (bit = 0; bit < STORE_KW_MAX; bit++) {
		if ((kw & ((uint32_t)1 << bit)) == 0)
			continue;
		if (map[bit] == -2) {
			/* A bit past src's list cannot be named: drop it. */
			if ((name = store_mbox_keyword_name(src, bit)) == NULL)
				map[bit] = -1;
			else if ((map[bit] = store_mbox_keyword(dst, name,
			    true)) == -1 && (errno != ENOSPC ||
			    store_mbox_keyword_count(dst) < STORE_KW_MAX)) {
				err_printf(err, errlen, "%s: keyword %s: %s",
				    dst->dir, name, strerror(errno));
				map[bit] = -2;
				return -1;
			}
			/*
			 * ENOSPC with dst's list full (not the disk: that
			 * fails the copy). RFC 3501 6.4.7 only
			 * says the flags SHOULD be kept, so the copy goes
			 * without this keyword rather than failing.
			 */
		}
		if (map[bit] >= 0)
			*kw_r |= (uint32_t)1 << map[bit];
	}
	return 0;
}

/*
 * Copy the bytes of from into a new file in dst's tmp folder (mtime =
 * internaldate, synced) and rename it to to, never replacing. For when a
 * hard link is impossible. 0, or -1 with errno; *src_gone tells that from
 * did not exist (so the caller chases it). Nothing is left behind.
 */
static int
copy_bytes(const struct store_mbox *dst, const char *from, const char *to,
    time_t internaldate, bool *src_gone)
{
	static unsigned	 seq;
	struct timespec	 ts[2];
	char		 tmp[PATH_MAX], buf[65536];
	ssize_t		 r;
	int		 in, out = -1, tries, saved;
	bool		 tmp_live = false;

	*src_gone = false;
	if ((in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		*src_gone = errno == ENOENT;
		return -1;
	}
	/* pid + time + counter is unique on this host; O_EXCL checks. */
	for (tries = 0; ; tries++) {
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%ld.%lld.c%u",
		    dst->tmpdir, (long)getpid(), (long long)time(NULL),
		    seq++) >= sizeof(tmp)) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (out != -1) {
			tmp_live = true;
			break;
		}
		if (errno == ENOENT && tries == 0) {
			/* tmp/ is made with the user; recreate if lost. */
			if (mkdir(dst->tmpdir, 0700) == -1 && errno != EEXIST)
				goto fail;
			continue;
		}
		if (errno != EEXIST || tries >= TMP_TRIES)
			goto fail;
	}
	for (;;) {
		if ((r = read(in, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		if (fsio_write_all(out, buf, (size_t)r) == -1)
			goto fail;
	}
	/* DESIGN.md "The store": INTERNALDATE is the file's mtime. */
	ts[0].tv_sec = ts[1].tv_sec = internaldate;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (futimens(out, ts) == -1 || fsync(out) == -1)
		goto fail;
	if (close(out) == -1) {
		out = -1;
		goto fail;
	}
	out = -1;
	if (fsio_rename_noreplace(tmp, to) == -1)
		goto fail;
	close(in);
	return 0;
fail:
	saved = errno;
	if (out != -1)
		close(out);
	/* Only our own file: a name that failed O_EXCL is someone else's. */
	if (tmp_live)
		(void)unlink(tmp);
	close(in);
	errno = saved;
	return -1;
}

/*
 * Make the item's dst file: a hard link of the src file, or a byte copy where
 * links are refused. When another process renamed the source (a flag
 * change), find its new name and retry. 0 made, 1 the source is gone
 * (expunged meanwhile), -1 with errno and err set.
 */
static int
place(const struct store_mbox *src, const struct store_mbox *dst,
    struct copy_item *it, char *err, size_t errlen)
{
	struct store_msg	 found;
	struct store_flags	 cur = it->sflags;
	char			 from[PATH_MAX], to[PATH_MAX];
	bool			 gone;
	int			 tries;

	if (mbox_msg_path(dst, it->newuid, &it->dflags, to, sizeof(to)) == -1) {
		err_printf(err, errlen, "%s: %s", dst->dir, strerror(errno));
		return -1;
	}
	for (tries = 0; tries < CHASE_MAX; tries++) {
		if (mbox_msg_path(src, it->uid, &cur, from,
		    sizeof(from)) == -1) {
			err_printf(err, errlen, "%s: %s", src->dir,
			    strerror(errno));
			return -1;
		}
		/* link(2) is atomic and fails with EEXIST, never replaces. */
		if (link(from, to) == 0)
			return 0;
		gone = errno == ENOENT;
		/*
		 * EXDEV: another file system; EMLINK: too many links to the
		 * inode; EPERM: the file system has no hard links (or
		 * protected_hardlinks refuses). Copy the bytes then.
		 */
		if (errno == EXDEV || errno == EMLINK || errno == EPERM) {
			if (copy_bytes(dst, from, to, it->internaldate,
			    &gone) == 0)
				return 0;
		}
		if (!gone) {
			err_printf(err, errlen, "copy %s to %s: %s", from, to,
			    strerror(errno));
			return -1;
		}
		/* Renamed or expunged by someone else: find its name. */
		if (mbox_rescan_uid(src, it->uid, &found) == -1) {
			if (errno == ENOENT)
				return 1;
			err_printf(err, errlen, "%s: rescan uid %u: %s",
			    src->dir, it->uid, strerror(errno));
			return -1;
		}
		/* Same name as before: what is missing is on dst's side
		 * (its shard or the mailbox was removed meanwhile). */
		if (found.flags.sys == cur.sys && found.flags.kw == cur.kw) {
			errno = ENOENT;
			err_printf(err, errlen, "copy %s to %s: %s", from, to,
			    strerror(errno));
			return -1;
		}
		cur = found.flags;
	}
	errno = EAGAIN;
	err_printf(err, errlen, "%s: uid %u keeps being renamed", src->dir,
	    it->uid);
	return -1;
}

/* Remove the dst files made so far and sync their shards (best effort:
 * this runs on a failure path, whose errno the caller keeps). */
static void
rollback(const struct store_mbox *dst, struct copy_item *items, size_t k,
    uint32_t first_shard, uint32_t last_shard)
{
	char		 path[PATH_MAX];
	uint32_t	 s;
	size_t		 j;
	int		 saved = errno;

	for (j = 0; j < k; j++) {
		if (!items[j].made)
			continue;
		if (mbox_msg_path(dst, items[j].newuid, &items[j].dflags, path,
		    sizeof(path)) == 0)
			(void)unlink(path);
		items[j].made = false;
	}
	for (s = first_shard; s <= last_shard; s++)
		if (mbox_shard_path(dst, s * 1000, path) == 0)
			(void)fsio_fsync_dir(path);
	errno = saved;
}

int
store_mbox_copy(struct store_mbox *src, struct store_mbox *dst,
    const uint32_t *uids, size_t n, bool move, uint32_t *dst_uids,
    char *err, size_t errlen)
{
	struct mbox_status	 disk;
	struct copy_item	*items = NULL;
	const struct store_msg	*m;
	struct store_msg	 nm, *sm;
	char			 shard[PATH_MAX];
	uint64_t		 bytes = 0;
	uint32_t		 base, s, first_shard = 0, last_shard = 0;
	size_t			 i, k = 0, j, n0;
	int			 map[STORE_KW_MAX], lockfd = -1, r, saved;
	int			 rc = 0;
	bool			 same_quota, locked_work = false;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	for (i = 0; i < n; i++) {
		if (dst_uids != NULL)
			dst_uids[i] = 0;
		/* Also rules out duplicates, which a move would expunge twice. */
		if (i > 0 && uids[i] <= uids[i - 1]) {
			errno = EINVAL;
			err_printf(err, errlen, "copy: uids not ascending");
			return -1;
		}
	}

	n0 = dst->nmsgs;	/* from here on, new entries get EXISTS */
	/* Snapshot what we need: src's index may change under us. */
	items = xcalloc(n > 0 ? n : 1, sizeof(*items));
	for (i = 0; i < n; i++) {
		if ((m = mbox_index_find(src, uids[i])) == NULL)
			continue;	/* expunged already: skipped */
		items[k].i = i;
		items[k].uid = m->uid;
		items[k].sflags = m->flags;
		items[k].dflags.sys = m->flags.sys & STORE_F_ALL;
		items[k].size = m->size;
		items[k].internaldate = m->internaldate;
		bytes += (uint64_t)m->size;
		k++;
	}
	if (k == 0)
		goto done;

	/*
	 * A move within one user's quota leaves usage as it was. Otherwise
	 * dst's user must have room for every copy.
	 */
	same_quota = move && src->quota == dst->quota;
	if (!same_quota && mbox_quota_check(dst, bytes, k, err, errlen) == -1)
		goto fail;

	/* Keywords before the lock: store_mbox_keyword() takes it itself. */
	for (j = 0; j < STORE_KW_MAX; j++)
		map[j] = -2;
	for (j = 0; j < k; j++)
		if (map_keywords(src, dst, map, items[j].sflags.kw,
		    &items[j].dflags.kw, err, errlen) == -1)
			goto fail;

	if ((lockfd = mbox_lock(dst)) == -1) {
		err_printf(err, errlen, "%s/%s: %s", dst->dir, MBOX_LOCK,
		    strerror(errno));
		goto fail;
	}
	/*
	 * status.json under the lock is the allocator (as in append): other
	 * handles and processes may have taken UIDs since we last looked.
	 */
	if (mbox_status_read(dst->dir, &disk) == 0)
		mbox_status_merge(&dst->st, &disk);
	/*
	 * Their messages into the index first, so ours are the highest uids
	 * it holds and seen_next can move past the block: a later refresh
	 * would otherwise take a uid below it for a stray and re-uid it.
	 */
	if (mbox_catch_up(dst) == -1) {
		err_printf(err, errlen, "scan %s: %s", dst->dir,
		    strerror(errno));
		goto fail;
	}
	base = dst->st.uidnext;
	/* RFC 3501 2.3.1.1: no UID may reach 2^32-1 here, as in append. */
	if (base == 0 || (uint64_t)base + k > UINT32_MAX) {
		errno = EOVERFLOW;
		err_printf(err, errlen, "%s: UIDs exhausted", dst->dir);
		goto fail;
	}
	for (j = 0; j < k; j++)
		items[j].newuid = base + (uint32_t)j;
	first_shard = base / 1000;
	last_shard = (base + (uint32_t)k - 1) / 1000;
	/* Durable before any file appears: a crash leaves only a gap. */
	dst->st.uidnext = base + (uint32_t)k;
	if (mbox_status_write(dst->dir, &dst->st) == -1) {
		err_printf(err, errlen, "%s/%s: %s", dst->dir, MBOX_STATUS,
		    strerror(errno));
		goto fail;
	}
	locked_work = true;
	for (s = first_shard; s <= last_shard; s++) {
		if (mbox_shard_path(dst, s * 1000, shard) == -1) {
			err_printf(err, errlen, "%s: %s", dst->dir,
			    strerror(errno));
			goto fail;
		}
		if (mkdir(shard, 0700) == 0) {
			if (fsio_fsync_dir(dst->dir) == -1) {
				err_printf(err, errlen, "fsync %s: %s",
				    dst->dir, strerror(errno));
				goto fail;
			}
		} else if (errno != EEXIST) {
			err_printf(err, errlen, "mkdir %s: %s", shard,
			    strerror(errno));
			goto fail;
		}
	}
	for (j = 0; j < k; j++) {
		if ((r = place(src, dst, &items[j], err, errlen)) == -1)
			goto fail;
		if (r == 1)
			items[j].gone = true;	/* its uid stays a gap */
		else
			items[j].made = true;
	}
	/* One fsync per shard, not per message (STYLE.md 6). */
	for (s = first_shard; s <= last_shard; s++) {
		if (mbox_shard_path(dst, s * 1000, shard) == -1 ||
		    fsio_fsync_dir(shard) == -1) {
			err_printf(err, errlen, "fsync %s: %s", shard,
			    strerror(errno));
			goto fail;
		}
	}

	/*
	 * Every copy is durable: now the index and the quota. The block is
	 * above every uid in dst's index (catch-up took in the rest), so
	 * appending keeps it sorted.
	 */
	for (j = 0; j < k; j++) {
		if (!items[j].made)
			continue;
		memset(&nm, 0, sizeof(nm));
		nm.uid = items[j].newuid;
		nm.flags = items[j].dflags;
		nm.size = items[j].size;
		nm.internaldate = items[j].internaldate;
		mbox_index_add(&dst->msgs, &dst->nmsgs, &dst->cap, &nm);
		/*
		 * Always counted, also for a same-quota move: its expunges
		 * below subtract through mbox_drop(), so the sum is zero.
		 */
		store_quota_add(dst->quota, (int64_t)nm.size, 1);
		if (dst_uids != NULL)
			dst_uids[items[j].i] = nm.uid;
	}
	/* The whole block was seen, gaps included (as mbox_catch_up()). */
	dst->seen_next = dst->st.uidnext;
	mbox_unlock(lockfd);
	lockfd = -1;
	/* Callbacks only now, never under the lock; in uid order. */
	mbox_emit_new(dst, n0);

	/* Sources that vanished under us are expunged: say so (as
	 * set_flags does when it finds a file gone). */
	for (j = 0; j < k; j++)
		if (items[j].gone &&
		    (sm = mbox_index_find(src, items[j].uid)) != NULL)
			mbox_drop(src, sm);

	/* RFC 6851 3.3: the sources go only after the copy succeeded. */
	if (move) {
		uint32_t	*moved = xcalloc(k > 0 ? k : 1, sizeof(*moved));
		size_t		 nmoved = 0;

		/* items follow uids[], which ascend. */
		for (j = 0; j < k; j++)
			if (items[j].made)
				moved[nmoved++] = items[j].uid;
		if (store_mbox_expunge_uids(src, moved, nmoved) == -1) {
			err_printf(err, errlen, "%s: expunge after move: %s",
			    src->dir, strerror(errno));
			rc = -1;
		}
		free(moved);
	}
done:
	free(items);
	return rc;
fail:
	saved = errno;
	if (locked_work)
		rollback(dst, items, k, first_shard, last_shard);
	if (lockfd != -1)
		mbox_unlock(lockfd);
	/* What catch-up found is real: report it even though we failed. */
	mbox_emit_new(dst, n0);
	free(items);
	errno = saved;
	return -1;
}
