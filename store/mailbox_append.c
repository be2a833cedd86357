/*
 * mailbox_append: adding messages to a mailbox. See mailbox.h.
 *
 * The message is written and fsynced in the user's tmp/ first; then,
 * under the mailbox lock, the uid is reserved in status.json (durably,
 * before the message appears) and the file renamed into its shard. The
 * lock is held across the rename so that uids appear on disk in the order
 * they were handed out: every reader may then treat a uid below one it has
 * seen as "not new" (mailbox_sync.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsio.h"
#include "core/util.h"
#include "store/mailbox_private.h"

/* How many tmp names to try before giving up on O_EXCL collisions. */
#define TMP_TRIES	10

/* Write data to a new file in tmpdir; its path goes to path. */
static int
write_tmp(const struct store_mbox *mb, const void *data, size_t len,
    time_t internaldate, char path[PATH_MAX])
{
	static _Atomic unsigned	 seq;
	struct timespec	 ts[2];
	int		 fd = -1, tries, saved;

	/* pid + time + counter is unique on this host; O_EXCL checks. */
	for (tries = 0; ; tries++) {
		snprintf(path, PATH_MAX, "%s/%ld.%lld.%u", mb->tmpdir,
		    (long)getpid(), (long long)time(NULL), seq++);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		if (errno == ENOENT && tries == 0) {
			/* tmp/ is made with the user; recreate if lost. */
			if (mkdir(mb->tmpdir, 0700) == -1 && errno != EEXIST)
				return -1;
			continue;
		}
		if (errno != EEXIST || tries >= TMP_TRIES)
			return -1;
	}
	if (fsio_write_all(fd, data, len) == -1)
		goto fail;
	/* DESIGN.md "The store": INTERNALDATE is the file's mtime. */
	ts[0].tv_sec = ts[1].tv_sec = internaldate;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (futimens(fd, ts) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	(void)unlink(path);
	errno = saved;
	return -1;
}

char *
store_crlf(const char *head, const char *data, size_t len, size_t *len_r)
{
	size_t hlen = head != NULL ? strlen(head) : 0, bare = 0, o;
	char *out;

	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			bare++;
	out = xmalloc(hlen + len + bare + 1);
	memcpy(out, head != NULL ? head : "", hlen);
	o = hlen;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = data[i];
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

static bool
valid_key(const char *key)
{
	size_t n = strlen(key);

	return n > 0 && n <= MBOX_KEY_LEN && key[0] != '.' &&
	    strspn(key, "0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-") == n;
}

/*
 * Under the lock, status.json just merged: did an append with key put a
 * message that is still here? 1 and *uid_r set, 0 if not, -1 with errno.
 */
static int
key_done(struct store_mbox *mb, const char *key, uint32_t *uid_r)
{
	struct store_msg	 m;
	uint32_t		 uid;

	if ((uid = mbox_status_key_find(&mb->st, key)) == 0)
		return 0;
	/* The record is written before the message appears: check it did. */
	if (mbox_index_find(mb, uid) == NULL &&
	    mbox_rescan_uid(mb, uid, &m) == -1)
		return errno == ENOENT ? 0 : -1;
	*uid_r = uid;
	return 1;
}

/*
 * Put item a's bytes in a new file under tmp/. With link_from: a hard
 * link to it (no copy, no fsync: that file is durable), whose size and
 * mtime then become a's; when linking is impossible (another file system,
 * too many links), a written copy of data or, without data, of the file.
 * 0, or -1 with errno.
 */
static int
stage(const struct store_mbox *mb, struct store_append *a,
    char path[PATH_MAX])
{
	static _Atomic unsigned	 seq;
	struct stat		 st;
	char			*copy;
	size_t			 len;
	int			 r, saved;

	if (a->link_from == NULL)
		return write_tmp(mb, a->data, a->len, a->internaldate, path);
	for (int tries = 0; ; tries++) {
		snprintf(path, PATH_MAX, "%s/%ld.%lld.%u.l", mb->tmpdir,
		    (long)getpid(), (long long)time(NULL), seq++);
		if ((r = link(a->link_from, path)) == 0)
			break;
		saved = errno;
		/* tmp/ is made with the user; recreate if lost. */
		if (saved == ENOENT && tries == 0 &&
		    mkdir(mb->tmpdir, 0700) == 0)
			continue;
		errno = saved;
		/* EEXIST: a name left by a crash; take another. */
		if (saved != EEXIST || tries >= TMP_TRIES)
			break;
	}
	if (r == 0) {
		if (stat(path, &st) == -1) {
			saved = errno;
			(void)unlink(path);
			errno = saved;
			return -1;
		}
		a->len = (size_t)st.st_size;
		a->internaldate = st.st_mtime;
		return 0;
	}
	if (errno != EXDEV && errno != EMLINK && errno != EPERM)
		return -1;
	if (a->data != NULL)
		return write_tmp(mb, a->data, a->len, a->internaldate, path);
	if ((copy = fsio_read_file(a->link_from, SIZE_MAX, &len)) == NULL)
		return -1;
	a->len = len;
	r = write_tmp(mb, copy, len, a->internaldate, path);
	saved = errno;
	free(copy);
	errno = saved;
	return r;
}

/* Mark every item from i on that has no outcome yet as failed with e. */
static void
fail_rest(struct store_append *v, size_t n, size_t i, int e)
{
	for (; i < n; i++)
		if (v[i].uid == 0 && v[i].error == 0)
			v[i].error = e;
}

int
store_mbox_append_many(struct store_mbox *mb, struct store_append *v,
    size_t n, char *err, size_t errlen)
{
	struct mbox_status	 disk;
	struct store_msg	 m;
	char			(*tmp)[PATH_MAX], shard[PATH_MAX];
	char			 prev[PATH_MAX];
	char			 dst[PATH_MAX];
	uint64_t		 add_bytes = 0, add_msgs = 0;
	uint32_t		 uid, first_new = 0, last_shard = UINT32_MAX;
	size_t			 n0 = mb->nmsgs, i, nnew = 0;
	int			 lockfd = -1, saved, rv = -1;

	if (n == 0)
		return 0;
	tmp = xcalloc(n, sizeof(*tmp));
	for (i = 0; i < n; i++) {
		struct store_append *a = &v[i];

		a->uid = 0;
		a->dup = false;
		a->error = 0;
		a->flags.sys &= STORE_F_ALL;
		a->flags.kw &= STORE_KW_ALL;
		if (a->internaldate == 0)
			a->internaldate = time(NULL);
		if (a->key != NULL && !valid_key(a->key)) {
			a->error = EINVAL;
			err_printf(err, errlen, "invalid append key");
			continue;
		}
		/* Keyed: a retry of a stored message must not be refused for
		 * the room it takes itself, so that check waits for the key. */
		if (a->key == NULL && mbox_quota_check(mb, add_bytes + a->len,
		    add_msgs + 1, err, errlen) == -1) {
			a->error = errno;
			continue;
		}
		if (stage(mb, a, tmp[i]) == -1) {
			saved = errno;
			err_printf(err, errlen, "%s: write: %s", mb->tmpdir,
			    strerror(saved));
			fail_rest(v, n, 0, saved);
			goto out;
		}
		if (a->key == NULL) {
			add_bytes += a->len;
			add_msgs++;
		}
	}
	if ((lockfd = mbox_lock(mb)) == -1) {
		saved = errno;
		err_printf(err, errlen, "%s/%s: %s", mb->dir, MBOX_LOCK,
		    strerror(saved));
		fail_rest(v, n, 0, saved);
		goto out;
	}
	/*
	 * Another handle or process may have appended since we last looked:
	 * status.json under the lock is the allocator. Our own uidnext is
	 * the floor, so a stale or rebuilt file never hands a UID back.
	 */
	if (mbox_status_read(mb->dir, &disk) == 0)
		mbox_status_merge(&mb->st, &disk);
	/* Their messages first, so ours are the highest uids we report. */
	if (mbox_catch_up(mb) == -1) {
		saved = errno;
		err_printf(err, errlen, "scan %s: %s", mb->dir,
		    strerror(saved));
		fail_rest(v, n, 0, saved);
		goto out;
	}
	/* Decide every item, then hand out uids in array order. */
	uid = mb->st.uidnext;
	for (i = 0; i < n; i++) {
		struct store_append *a = &v[i];

		if (a->error != 0)
			continue;
		if (a->key != NULL) {
			switch (key_done(mb, a->key, &a->uid)) {
			case 1:
				/* Delivered before (a retry after a crash). */
				a->dup = true;
				continue;
			case -1:
				saved = errno;
				err_printf(err, errlen, "%s: key %s: %s",
				    mb->dir, a->key, strerror(saved));
				fail_rest(v, n, 0, saved);
				goto out;
			}
			if (mbox_quota_check(mb, add_bytes + a->len,
			    add_msgs + 1, err, errlen) == -1) {
				a->error = errno;
				continue;
			}
			add_bytes += a->len;
			add_msgs++;
		}
		if (uid == 0 || uid == UINT32_MAX) {
			/* RFC 3501 2.3.1.1: out of UIDs; needs a new
			 * UIDVALIDITY. */
			err_printf(err, errlen, "%s: UIDs exhausted", mb->dir);
			fail_rest(v, n, 0, EOVERFLOW);
			goto out;
		}
		if (first_new == 0)
			first_new = uid;
		a->uid = uid++;
		nnew++;
		if (a->key != NULL)
			mbox_status_key_add(&mb->st, a->key, a->uid);
	}
	if (nnew == 0) {
		rv = 0;
		goto out;
	}
	/*
	 * Reserve the uids (and record the keys) durably before the messages
	 * appear: a crash in between leaves a gap in the UIDs, never a uid
	 * that status.json would hand out a second time to a handle that has
	 * not rescanned.
	 */
	mb->st.uidnext = uid;
	if (mbox_status_write(mb->dir, &mb->st) == -1) {
		saved = errno;
		err_printf(err, errlen, "%s/%s: %s", mb->dir, MBOX_STATUS,
		    strerror(saved));
		for (i = 0; i < n; i++)
			if (!v[i].dup && v[i].uid != 0) {
				v[i].uid = 0;
				v[i].error = saved;
			}
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct store_append *a = &v[i];

		if (a->error != 0 || a->dup)
			continue;
		memset(&m, 0, sizeof(m));
		m.uid = a->uid;
		m.flags = a->flags;
		m.size = (off_t)a->len;
		m.internaldate = a->internaldate;
		if (mbox_shard_path(mb, m.uid, shard) == -1 ||
		    mbox_msg_path(mb, m.uid, &m.flags, dst, sizeof(dst)) == -1)
			goto rename_failed;
		if (m.uid / 1000 != last_shard) {
			/* A shard we leave is made durable first. */
			if (last_shard != UINT32_MAX && (mbox_shard_path(mb,
			    last_shard * 1000, prev) == -1 ||
			    fsio_fsync_dir(prev) == -1))
				goto rename_failed;
			/* A new shard's own entry must be durable too. */
			if (mkdir(shard, 0700) == 0) {
				if (fsio_fsync_dir(mb->dir) == -1)
					goto rename_failed;
			} else if (errno != EEXIST)
				goto rename_failed;
		}
		/* RENAME_NOREPLACE: never clobber a file already there. */
		if (fsio_rename_noreplace(tmp[i], dst) == -1)
			goto rename_failed;
		/* From here on the message is in the mailbox. */
		tmp[i][0] = '\0';
		last_shard = m.uid / 1000;
		mbox_index_add(&mb->msgs, &mb->nmsgs, &mb->cap, &m);
		mb->seen_next = m.uid + 1;
		store_quota_add(mb->quota, (int64_t)m.size, 1);
		continue;
rename_failed:
		saved = errno;
		err_printf(err, errlen, "rename %s: %s", dst, strerror(saved));
		for (size_t j = i; j < n; j++)
			if (!v[j].dup && v[j].uid != 0) {
				v[j].uid = 0;
				v[j].error = saved;
			}
		break;
	}
	if (last_shard != UINT32_MAX) {
		if (mbox_shard_path(mb, last_shard * 1000, shard) == -1 ||
		    fsio_fsync_dir(shard) == -1) {
			saved = errno;
			err_printf(err, errlen, "fsync %s: %s", shard,
			    strerror(saved));
			/* In the mailbox, but maybe not after a crash. */
			for (i = 0; i < n; i++)
				if (!v[i].dup && v[i].uid >= first_new &&
				    v[i].error == 0)
					v[i].error = saved;
			goto out;
		}
	}
	rv = 0;
	for (i = 0; i < n; i++)
		if (v[i].error != 0 && v[i].error != EDQUOT &&
		    v[i].error != EINVAL)
			rv = -1;
out:
	saved = errno;
	if (lockfd != -1)
		mbox_unlock(lockfd);
	for (i = 0; i < n; i++)
		if (tmp[i][0] != '\0')
			(void)unlink(tmp[i]);
	free(tmp);
	mbox_emit_new(mb, n0);
	if (rv == -1)
		for (i = 0; i < n; i++)
			if (v[i].error != 0 && v[i].error != EDQUOT) {
				saved = v[i].error;
				break;
			}
	errno = saved;
	return rv;
}

/* One item: the single-message calls share the batch's code. */
static int
append_one(struct store_mbox *mb, const char *key, const void *data,
    size_t len, time_t internaldate, const struct store_flags *flags,
    uint32_t *uid_r, bool *dup_r, char *err, size_t errlen)
{
	struct store_append a;

	memset(&a, 0, sizeof(a));
	a.key = key;
	a.data = data;
	a.len = len;
	a.internaldate = internaldate;
	if (flags != NULL)
		a.flags = *flags;
	(void)store_mbox_append_many(mb, &a, 1, err, errlen);
	if (a.uid != 0 && uid_r != NULL)
		*uid_r = a.uid;
	if (dup_r != NULL)
		*dup_r = a.dup;
	if (a.error != 0) {
		errno = a.error;
		return -1;
	}
	return 0;
}

int
store_mbox_append(struct store_mbox *mb, const void *data, size_t len,
    time_t internaldate, const struct store_flags *flags, uint32_t *uid_r,
    char *err, size_t errlen)
{
	return append_one(mb, NULL, data, len, internaldate, flags, uid_r,
	    NULL, err, errlen);
}

int
store_mbox_append_once(struct store_mbox *mb, const char *key,
    const void *data, size_t len, time_t internaldate,
    const struct store_flags *flags, uint32_t *uid_r, bool *dup_r,
    char *err, size_t errlen)
{
	*dup_r = false;
	return append_one(mb, key, data, len, internaldate, flags, uid_r,
	    dup_r, err, errlen);
}
