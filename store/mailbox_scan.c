/*
 * mailbox_scan: reading a mailbox directory into an index, the index
 * itself, and message paths. See mailbox.h.
 *
 * A scan trusts only names store_fname_parse() accepts, in the shard their
 * UID belongs to, that are regular files: dot-files are tmp files of
 * fsio_write_atomic() or junk, and anything else was not written by us.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "store/mailbox_private.h"

/* buf = the shard directory of uid. 0, or -1 with ENAMETOOLONG. */
int
mbox_shard_path(const struct store_mbox *mb, uint32_t uid,
    char buf[PATH_MAX])
{
	char	 shard[STORE_SHARD_MAX];

	store_shard_format(uid, shard);
	if ((size_t)snprintf(buf, PATH_MAX, "%s/%s", mb->dir, shard) >=
	    PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
mbox_msg_path(const struct store_mbox *mb, uint32_t uid,
    const struct store_flags *fl, char *buf, size_t len)
{
	char	 shard[STORE_SHARD_MAX], name[STORE_FNAME_MAX];

	store_shard_format(uid, shard);
	store_fname_format(uid, fl, name);
	if ((size_t)snprintf(buf, len, "%s/%s/%s", mb->dir, shard, name) >=
	    len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
msg_cmp(const void *a, const void *b)
{
	const struct store_msg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

void
mbox_index_add(struct store_msg **msgs, size_t *n, size_t *cap,
    const struct store_msg *m)
{
	if (*n == *cap) {
		*cap = *cap == 0 ? 64 : *cap * 2;
		*msgs = xrealloc(*msgs, *cap * sizeof(**msgs));
	}
	(*msgs)[(*n)++] = *m;
}

struct store_msg *
mbox_index_find(const struct store_mbox *mb, uint32_t uid)
{
	struct store_msg key = { .uid = uid };

	if (mb->nmsgs == 0)
		return NULL;
	return bsearch(&key, mb->msgs, mb->nmsgs, sizeof(*mb->msgs), msg_cmp);
}

void
mbox_index_remove(struct store_mbox *mb, struct store_msg *m)
{
	size_t i = (size_t)(m - mb->msgs);

	assert(i < mb->nmsgs);
	memmove(m, m + 1, (mb->nmsgs - i - 1) * sizeof(*m));
	mb->nmsgs--;
}

/*
 * Scan one shard directory (dfd, number shardno) into the array. With
 * only != 0, look for that uid alone. Names that do not parse, dot-files,
 * UIDs in the wrong shard and non-regular files are not messages.
 *
 * A message's bytes and mtime never change, so a uid that known (a
 * handle's index, or NULL) holds needs no stat when readdir says it is a
 * regular file: a rescan after our own appends costs one readdir.
 */
static int
scan_shard(int dfd, uint32_t shardno, uint32_t only,
    const struct store_mbox *known, struct store_msg **msgs, size_t *n,
    size_t *cap)
{
	const struct store_msg *k;

	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	struct store_msg m;
	int		 fd, saved;

	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.')
			continue;
		memset(&m, 0, sizeof(m));
		if (store_fname_parse(de->d_name, &m.uid, &m.flags) == -1 ||
		    m.uid / 1000 != shardno || (only != 0 && m.uid != only))
			continue;
		if (known != NULL && de->d_type == DT_REG &&
		    (k = mbox_index_find(known, m.uid)) != NULL) {
			m.size = k->size;
			m.internaldate = k->internaldate;
			mbox_index_add(msgs, n, cap, &m);
			continue;
		}
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue;	/* renamed or expunged meanwhile */
			goto fail;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		m.size = st.st_size;
		m.internaldate = st.st_mtime;
		mbox_index_add(msgs, n, cap, &m);
	}
	if (errno != 0)
		goto fail;
	closedir(d);
	return 0;
fail:
	saved = errno;
	closedir(d);
	errno = saved;
	return -1;
}

/*
 * Sort by uid and keep one entry per uid; returns the new count. Two names
 * for one uid cannot come from our atomic renames, but a scan racing
 * another process's rename can see both.
 */
size_t
mbox_sort_unique(struct store_msg *msgs, size_t n)
{
	size_t i, j;

	if (n > 1)
		qsort(msgs, n, sizeof(*msgs), msg_cmp);
	for (i = j = 0; i < n; i++)
		if (j == 0 || msgs[j - 1].uid != msgs[i].uid)
			msgs[j++] = msgs[i];
	return j;
}

int
mbox_scan_shard(const struct store_mbox *mb, uint32_t shardno,
    struct store_msg **msgs_r, size_t *n_r, size_t *cap_r)
{
	char		 path[PATH_MAX];
	struct store_msg *msgs = NULL;
	size_t		 n = 0, cap = 0;
	int		 fd, r, saved;

	*msgs_r = NULL;
	*n_r = *cap_r = 0;
	if (shardno > UINT32_MAX / 1000 ||
	    mbox_shard_path(mb, shardno * 1000, path) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;	/* no shard: empty */
	r = scan_shard(fd, shardno, 0, mb, &msgs, &n, &cap);
	saved = errno;
	close(fd);
	if (r == -1) {
		free(msgs);
		errno = saved;
		return -1;
	}
	*msgs_r = msgs;
	*n_r = mbox_sort_unique(msgs, n);
	*cap_r = cap;
	return 0;
}

/* Scan every shard of mb->dir into a fresh sorted array. */
int
mbox_scan_all(const struct store_mbox *mb, struct store_msg **msgs_r,
    size_t *n_r, size_t *cap_r)
{
	DIR		*d;
	struct dirent	*de;
	struct store_msg *msgs = NULL;
	size_t		 n = 0, cap = 0;
	uint32_t	 shardno;
	int		 sfd, saved;

	if ((d = opendir(mb->dir)) == NULL)
		return -1;
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.' ||
		    store_shard_parse(de->d_name, &shardno) == -1)
			continue;
		sfd = openat(dirfd(d), de->d_name,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sfd == -1) {
			if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
				continue;
			goto fail;
		}
		if (scan_shard(sfd, shardno, 0, mb, &msgs, &n, &cap) == -1) {
			saved = errno;
			close(sfd);
			errno = saved;
			goto fail;
		}
		close(sfd);
	}
	if (errno != 0)
		goto fail;
	closedir(d);
	*msgs_r = msgs;
	*n_r = mbox_sort_unique(msgs, n);
	*cap_r = cap;
	return 0;
fail:
	saved = errno;
	free(msgs);
	closedir(d);
	errno = saved;
	return -1;
}

/*
 * Find uid's current file by rescanning its shard. 0 and *m_r filled,
 * -1 with errno ENOENT when it is gone, or another error.
 */
int
mbox_rescan_uid(const struct store_mbox *mb, uint32_t uid,
    struct store_msg *m_r)
{
	char		 path[PATH_MAX];
	struct store_msg *msgs = NULL;
	size_t		 n = 0, cap = 0;
	int		 fd, r, saved;

	if (mbox_shard_path(mb, uid, path) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;	/* ENOENT: the whole shard is gone */
	r = scan_shard(fd, uid / 1000, uid, NULL, &msgs, &n, &cap);
	saved = errno;
	close(fd);
	if (r == 0 && n == 0) {
		r = -1;
		saved = ENOENT;
	} else if (r == 0)
		*m_r = msgs[0];
	free(msgs);
	errno = saved;
	return r;
}

/*
 * Is tmp file name (with status st) possibly being written right now by
 * another process? Store tmp names start with the writer's pid
 * ("PID.TIME.SEQ..."): a file of a live process other than ours that it
 * touched recently (ctime: linked or written) may be renamed into a
 * mailbox any moment. Anything else is a crash's leftover. A recycled
 * pid only delays the cleanup until the file is an hour old.
 */
static bool
tmp_in_use(const char *name, const struct stat *st)
{
	char	*end;
	long	 pid;

	if (name[0] < '0' || name[0] > '9')
		return false;
	errno = 0;
	pid = strtol(name, &end, 10);
	if (errno != 0 || *end != '.' || pid <= 0 || pid == (long)getpid())
		return false;
	if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
		return false;
	return time(NULL) - st->st_ctime < STORE_TMP_STALE_SECS;
}

int
store_user_clean_tmp(const char *user_dir)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		*dir;
	int		 r = 0, first = 0;

	dir = xasprintf("%s/tmp", user_dir);
	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return errno == ENOENT ? 0 : -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || S_ISDIR(st.st_mode) ||
		    tmp_in_use(de->d_name, &st))
			continue;	/* gone, or not ours to remove */
		if (unlinkat(dirfd(d), de->d_name, 0) == -1 &&
		    errno != ENOENT && r == 0) {
			r = -1;
			first = errno;
		}
	}
	if (errno != 0 && r == 0) {
		r = -1;
		first = errno;
	}
	closedir(d);
	free(dir);
	errno = first;
	return r;
}
