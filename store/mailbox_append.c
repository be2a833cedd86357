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
	static unsigned	 seq;
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

#define KEYS_DIR	".keys"
#define KEY_MAX		64

static bool
valid_key(const char *key)
{
	size_t n = strlen(key);

	return n > 0 && n <= KEY_MAX && key[0] != '.' &&
	    strspn(key, "0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-") == n;
}

/*
 * Under the lock: did an append with key already put a message that is
 * still here? 1 and *uid_r set, 0 if not, -1 with errno.
 */
static int
key_done(struct store_mbox *mb, const char *key, uint32_t *uid_r)
{
	struct store_msg	 m;
	char			 path[PATH_MAX], *text, *end;
	unsigned long		 uid;
	size_t			 len;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", mb->dir,
	    KEYS_DIR, key) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((text = fsio_read_file(path, 32, &len)) == NULL)
		return errno == ENOENT ? 0 : -1;
	errno = 0;
	uid = strtoul(text, &end, 10);
	if (errno != 0 || end == text || uid == 0 || uid > UINT32_MAX) {
		free(text);
		return 0;	/* torn or junk: not a record */
	}
	free(text);
	/* The record is written before the message appears: check it did. */
	if (mbox_index_find(mb, (uint32_t)uid) == NULL &&
	    mbox_rescan_uid(mb, (uint32_t)uid, &m) == -1)
		return errno == ENOENT ? 0 : -1;
	*uid_r = (uint32_t)uid;
	return 1;
}

/* Record key -> uid durably (under the lock, before the rename). */
static int
key_write(struct store_mbox *mb, const char *key, uint32_t uid)
{
	char	 path[PATH_MAX], text[16];
	int	 n;

	snprintf(path, sizeof(path), "%s/%s", mb->dir, KEYS_DIR);
	if (mkdir(path, 0700) == 0) {
		if (fsio_fsync_dir(mb->dir) == -1)
			return -1;
	} else if (errno != EEXIST)
		return -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", mb->dir,
	    KEYS_DIR, key) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	n = snprintf(text, sizeof(text), "%u\n", (unsigned)uid);
	return fsio_write_atomic(path, text, (size_t)n, 0600);
}

int
store_mbox_forget_key(struct store_mbox *mb, const char *key)
{
	char path[PATH_MAX];

	if (!valid_key(key)) {
		errno = EINVAL;
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", mb->dir,
	    KEYS_DIR, key) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return unlink(path) == -1 && errno != ENOENT ? -1 : 0;
}

static int
append(struct store_mbox *mb, const char *key, const void *data, size_t len,
    time_t internaldate, const struct store_flags *flags, uint32_t *uid_r,
    bool *dup_r, char *err, size_t errlen)
{
	struct mbox_status	 disk;
	struct store_msg	 m;
	char			 tmp[PATH_MAX], shard[PATH_MAX];
	char			 dst[PATH_MAX];
	size_t			 n0 = mb->nmsgs;
	int			 lockfd = -1, saved;
	bool			 tmp_live = false;

	memset(&m, 0, sizeof(m));
	if (flags != NULL) {
		m.flags.sys = flags->sys & STORE_F_ALL;
		m.flags.kw = flags->kw & STORE_KW_ALL;
	}
	if (internaldate == 0)
		internaldate = time(NULL);
	/* Keyed: a retry of a stored message must not be refused for the
	 * room it takes itself, so that check waits for the key's. */
	if (key == NULL && mbox_quota_check(mb, len, 1, err, errlen) == -1)
		return -1;
	m.size = (off_t)len;
	m.internaldate = internaldate;
	if (write_tmp(mb, data, len, internaldate, tmp) == -1) {
		err_printf(err, errlen, "%s: write: %s", mb->tmpdir,
		    strerror(errno));
		return -1;
	}
	tmp_live = true;
	if ((lockfd = mbox_lock(mb)) == -1) {
		err_printf(err, errlen, "%s/%s: %s", mb->dir, MBOX_LOCK,
		    strerror(errno));
		goto fail;
	}
	/*
	 * Another handle or process may have appended since we last looked:
	 * status.json under the lock is the allocator. Our own uidnext is
	 * the floor, so a stale or rebuilt file never hands a UID back.
	 */
	if (mbox_status_read(mb->dir, &disk) == 0)
		mbox_status_merge(&mb->st, &disk);
	/* Their messages first, so ours is the highest uid we report. */
	if (mbox_catch_up(mb) == -1) {
		err_printf(err, errlen, "scan %s: %s", mb->dir,
		    strerror(errno));
		goto fail;
	}
	if (key != NULL) {
		switch (key_done(mb, key, &m.uid)) {
		case 1:
			/* Delivered before (a retry after a crash). */
			if (uid_r != NULL)
				*uid_r = m.uid;
			*dup_r = true;
			mbox_unlock(lockfd);
			(void)unlink(tmp);
			mbox_emit_new(mb, n0);
			return 0;
		case -1:
			err_printf(err, errlen, "%s: key %s: %s", mb->dir, key,
			    strerror(errno));
			goto fail;
		}
		if (mbox_quota_check(mb, len, 1, err, errlen) == -1)
			goto fail;
	}
	m.uid = mb->st.uidnext;
	if (m.uid == 0 || m.uid == UINT32_MAX) {
		/* RFC 3501 2.3.1.1: out of UIDs; needs a new UIDVALIDITY. */
		errno = EOVERFLOW;
		err_printf(err, errlen, "%s: UIDs exhausted", mb->dir);
		goto fail;
	}
	if (mbox_shard_path(mb, m.uid, shard) == -1 ||
	    mbox_msg_path(mb, m.uid, &m.flags, dst, sizeof(dst)) == -1) {
		err_printf(err, errlen, "%s: %s", mb->dir, strerror(errno));
		goto fail;
	}
	if (mkdir(shard, 0700) == 0) {
		if (fsio_fsync_dir(mb->dir) == -1) {
			err_printf(err, errlen, "fsync %s: %s", mb->dir,
			    strerror(errno));
			goto fail;
		}
	} else if (errno != EEXIST) {
		err_printf(err, errlen, "mkdir %s: %s", shard, strerror(errno));
		goto fail;
	}
	/*
	 * Reserve the uid durably before the message appears: a crash in
	 * between leaves a gap in the UIDs, never a uid that status.json
	 * would hand out a second time to a handle that has not rescanned.
	 */
	mb->st.uidnext = m.uid + 1;
	if (mbox_status_write(mb->dir, &mb->st) == -1) {
		err_printf(err, errlen, "%s/%s: %s", mb->dir, MBOX_STATUS,
		    strerror(errno));
		goto fail;
	}
	if (key != NULL && key_write(mb, key, m.uid) == -1) {
		err_printf(err, errlen, "%s/%s/%s: %s", mb->dir, KEYS_DIR, key,
		    strerror(errno));
		goto fail;
	}
	/* RENAME_NOREPLACE: never clobber a file that is already there. */
	if (fsio_rename_noreplace(tmp, dst) == -1) {
		err_printf(err, errlen, "rename %s: %s", dst, strerror(errno));
		goto fail;
	}
	/* From here on the message is in the mailbox. */
	tmp_live = false;
	mbox_index_add(&mb->msgs, &mb->nmsgs, &mb->cap, &m);
	mb->seen_next = m.uid + 1;
	store_quota_add(mb->quota, (int64_t)len, 1);
	if (uid_r != NULL)
		*uid_r = m.uid;
	if (fsio_fsync_dir(shard) == -1) {
		err_printf(err, errlen, "fsync %s: %s", shard, strerror(errno));
		goto fail;
	}
	mbox_unlock(lockfd);
	mbox_emit_new(mb, n0);
	return 0;
fail:
	saved = errno;
	if (lockfd != -1)
		mbox_unlock(lockfd);
	if (tmp_live)
		(void)unlink(tmp);
	mbox_emit_new(mb, n0);
	errno = saved;
	return -1;
}

int
store_mbox_append(struct store_mbox *mb, const void *data, size_t len,
    time_t internaldate, const struct store_flags *flags, uint32_t *uid_r,
    char *err, size_t errlen)
{
	return append(mb, NULL, data, len, internaldate, flags, uid_r, NULL,
	    err, errlen);
}

int
store_mbox_append_once(struct store_mbox *mb, const char *key,
    const void *data, size_t len, time_t internaldate,
    const struct store_flags *flags, uint32_t *uid_r, bool *dup_r,
    char *err, size_t errlen)
{
	*dup_r = false;
	if (!valid_key(key)) {
		errno = EINVAL;
		err_printf(err, errlen, "invalid append key");
		return -1;
	}
	return append(mb, key, data, len, internaldate, flags, uid_r, dup_r,
	    err, errlen);
}
