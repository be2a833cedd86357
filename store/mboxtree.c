/*
 * mboxtree: the mailbox hierarchy (RFC 3501 6.3.3-6.3.9). See mboxtree.h
 * and DESIGN.md "The store".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsio.h"
#include "core/util.h"
#include "store/mailbox_private.h"
#include "store/mboxtree.h"
#include "store/names.h"

/* How often a message moved out of INBOX is chased after a flag change. */
#define CHASE_MAX	5

/* A sorted list of the names that have a directory. */
struct names {
	char	**v;
	size_t	  n;
	size_t	  cap;
};

static void
names_free(struct names *nm)
{
	size_t i;

	for (i = 0; i < nm->n; i++)
		free(nm->v[i]);
	free(nm->v);
	memset(nm, 0, sizeof(*nm));
}

static void
names_add(struct names *nm, const char *s)
{
	if (nm->n == nm->cap) {
		nm->cap = nm->cap == 0 ? 16 : nm->cap * 2;
		nm->v = xrealloc(nm->v, nm->cap * sizeof(*nm->v));
	}
	nm->v[nm->n++] = xstrdup(s);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
names_has(const struct names *nm, const char *s)
{
	return nm->n > 0 &&
	    bsearch(&s, nm->v, nm->n, sizeof(*nm->v), str_cmp) != NULL;
}

/* s starts with parent + "/". */
static bool
is_inferior(const char *s, const char *parent)
{
	size_t len = strlen(parent);

	return strncmp(s, parent, len) == 0 && s[len] == '/';
}

static bool
names_has_children(const struct names *nm, const char *s)
{
	size_t i;

	for (i = 0; i < nm->n; i++)
		if (is_inferior(nm->v[i], s))
			return true;
	return false;
}

/* Read USER_DIR/mailboxes into nm, sorted. A missing directory is empty. */
static int
names_read(const char *mboxes, struct names *nm)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 name[STORE_MNAME_MAX], canon[STORE_MNAME_MAX];
	const char	*why;
	int		 saved;

	memset(nm, 0, sizeof(*nm));
	if ((d = opendir(mboxes)) == NULL)
		return errno == ENOENT ? 0 : -1;
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.' ||
		    store_dir_to_name(de->d_name, name, sizeof(name)) == -1 ||
		    store_name_check(name, canon, sizeof(canon), &why) == -1 ||
		    strcmp(name, canon) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1) {
			if (errno == ENOENT)
				continue;	/* deleted meanwhile */
			goto fail;
		}
		if (S_ISDIR(st.st_mode))
			names_add(nm, name);
	}
	if (errno != 0)
		goto fail;
	closedir(d);
	if (nm->n > 0)
		qsort(nm->v, nm->n, sizeof(*nm->v), str_cmp);
	return 0;
fail:
	saved = errno;
	closedir(d);
	names_free(nm);
	errno = saved;
	return -1;
}

/* USER_DIR/mailboxes/DIRNAME of name, allocated; NULL with EINVAL. */
static char *
mbox_path(const char *user_dir, const char *name, char *err, size_t errlen)
{
	char		 dir[STORE_DIRNAME_MAX];
	const char	*why;

	if (store_name_to_dir(name, dir, sizeof(dir), &why) == -1) {
		errno = EINVAL;
		err_printf(err, errlen, "%s: %s", name, why);
		return NULL;
	}
	return xasprintf("%s/mailboxes/%s", user_dir, dir);
}

static bool
is_dir(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Read dir's status.json under its lock (*lockfd_r, release with
 * mbox_unlock()). A missing or corrupt file is rebuilt by opening the
 * mailbox when rebuild is set, else reported as EINVAL/ENOENT.
 */
static int
status_lock_read(const char *user_dir, const char *path, bool rebuild,
    struct mbox_status *st, int *lockfd_r, char *err, size_t errlen)
{
	struct store_mbox	 fake, *mb;
	const char		*dirname = strrchr(path, '/') + 1;
	int			 lockfd;

	memset(&fake, 0, sizeof(fake));
	fake.dir = (char *)path;
	if ((lockfd = mbox_lock(&fake)) == -1) {
		err_printf(err, errlen, "%s/%s: %s", path, MBOX_LOCK,
		    strerror(errno));
		return -1;
	}
	if (mbox_status_read(path, st) == 0) {
		*lockfd_r = lockfd;
		return 0;
	}
	if (!rebuild || (errno != ENOENT && errno != EINVAL))
		goto fail;
	mbox_unlock(lockfd);
	if ((mb = store_mbox_open(user_dir, dirname, err, errlen)) == NULL)
		return -1;
	store_mbox_close(&mb);
	if ((lockfd = mbox_lock(&fake)) == -1) {
		err_printf(err, errlen, "%s/%s: %s", path, MBOX_LOCK,
		    strerror(errno));
		return -1;
	}
	if (mbox_status_read(path, st) == 0) {
		*lockfd_r = lockfd;
		return 0;
	}
fail:
	mbox_unlock(lockfd);
	err_printf(err, errlen, "%s/%s: %s", path, MBOX_STATUS, strerror(errno));
	return -1;
}

/* list */

static int
entry_cmp(const void *a, const void *b)
{
	const struct store_tree_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	/* A real mailbox sorts before an implied one of the same name. */
	return c != 0 ? c : (int)x->implied - (int)y->implied;
}

static void
entry_add(struct store_tree_entry **v, size_t *n, size_t *cap,
    const char *name, size_t len, bool implied)
{
	struct store_tree_entry *e;

	if (*n == *cap) {
		*cap = *cap == 0 ? 16 : *cap * 2;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	e = &(*v)[(*n)++];
	memset(e, 0, sizeof(*e));
	e->name = xstrndup(name, len);
	e->implied = implied;
	e->noselect = implied;
	e->subscribed = !implied;
}

void
store_tree_free(struct store_tree_entry *entries, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(entries[i].name);
		free(entries[i].special_use);
	}
	free(entries);
}

int
store_tree_list(const char *user_dir, struct store_tree_entry **entries_r,
    size_t *n_r, char *err, size_t errlen)
{
	struct names		 nm;
	struct store_tree_entry	*v = NULL, key, *parent;
	struct mbox_status	 st;
	size_t			 n = 0, cap = 0, i, j;
	char			*mboxes, *path, *slash;

	*entries_r = NULL;
	*n_r = 0;
	mboxes = xasprintf("%s/mailboxes", user_dir);
	if (names_read(mboxes, &nm) == -1) {
		err_printf(err, errlen, "%s: %s", mboxes, strerror(errno));
		free(mboxes);
		return -1;
	}
	/* Every name, and every prefix of one at a '/' (implied parents). */
	for (i = 0; i < nm.n; i++) {
		entry_add(&v, &n, &cap, nm.v[i], strlen(nm.v[i]), false);
		for (slash = strchr(nm.v[i], '/'); slash != NULL;
		    slash = strchr(slash + 1, '/'))
			entry_add(&v, &n, &cap, nm.v[i],
			    (size_t)(slash - nm.v[i]), true);
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), entry_cmp);
	for (i = j = 0; i < n; i++) {
		if (j > 0 && strcmp(v[j - 1].name, v[i].name) == 0) {
			free(v[i].name);
			continue;
		}
		v[j++] = v[i];
	}
	n = j;
	for (i = 0; i < n; i++) {
		/* The direct parent is always listed: mark it. */
		if ((slash = strrchr(v[i].name, '/')) != NULL) {
			key.name = xstrndup(v[i].name,
			    (size_t)(slash - v[i].name));
			key.implied = false;
			parent = bsearch(&key, v, n, sizeof(*v), entry_cmp);
			if (parent == NULL) {
				key.implied = true;
				parent = bsearch(&key, v, n, sizeof(*v),
				    entry_cmp);
			}
			free(key.name);
			if (parent != NULL)
				parent->has_children = true;
		}
		if (v[i].implied)
			continue;
		if ((path = mbox_path(user_dir, v[i].name, NULL, 0)) == NULL)
			continue;	/* cannot happen: it came from a dir */
		if (mbox_status_read(path, &st) == 0) {
			v[i].subscribed = st.subscribed;
			v[i].noselect = st.noselect;
			v[i].special_use = st.special_use;
			st.special_use = NULL;
			mbox_status_free(&st);
		}
		free(path);
	}
	names_free(&nm);
	free(mboxes);
	*entries_r = v;
	*n_r = n;
	return 0;
}

/* create */

int
store_tree_create(const char *user_dir, const char *name,
    const char *special_use, char *err, size_t errlen)
{
	struct mbox_status	 st;
	char			*path;
	int			 lockfd, r = -1;

	if (strcmp(name, "INBOX") == 0) {
		errno = EEXIST;
		err_printf(err, errlen, "INBOX: mailbox already exists");
		return -1;
	}
	if ((path = mbox_path(user_dir, name, err, errlen)) == NULL)
		return -1;
	if (store_mbox_create(user_dir, strrchr(path, '/') + 1, special_use,
	    err, errlen) == 0) {
		free(path);
		return 0;
	}
	if (errno != EEXIST)
		goto out;
	/* Exists: only a \Noselect mailbox can be made selectable again. */
	if (status_lock_read(user_dir, path, false, &st, &lockfd, NULL, 0) ==
	    -1) {
		errno = EEXIST;
		err_printf(err, errlen, "%s: mailbox already exists", name);
		goto out;
	}
	if (!st.noselect) {
		errno = EEXIST;
		err_printf(err, errlen, "%s: mailbox already exists", name);
	} else {
		/* Its messages are gone: clients must drop cached UIDs. */
		st.noselect = false;
		st.uidvalidity = mbox_uidvalidity_new();
		free(st.special_use);
		st.special_use = special_use != NULL ? xstrdup(special_use) :
		    NULL;
		if ((r = mbox_status_write(path, &st)) == -1)
			err_printf(err, errlen, "%s/%s: %s", path, MBOX_STATUS,
			    strerror(errno));
	}
	mbox_status_free(&st);
	mbox_unlock(lockfd);
out:
	free(path);
	return r;
}

/* delete */

/* Remove every shard (the messages) of the mailbox at path. */
static int
remove_shards(const char *path)
{
	DIR		*d;
	struct dirent	*de;
	uint32_t	 shardno;
	char		*sub;
	int		 saved;

	if ((d = opendir(path)) == NULL)
		return -1;
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.' ||
		    store_shard_parse(de->d_name, &shardno) == -1)
			continue;
		sub = xasprintf("%s/%s", path, de->d_name);
		if (fsio_remove_tree(sub) == -1) {
			saved = errno;
			free(sub);
			closedir(d);
			errno = saved;
			return -1;
		}
		free(sub);
	}
	saved = errno;
	closedir(d);
	if (saved != 0) {
		errno = saved;
		return -1;
	}
	return fsio_fsync_dir(path);
}

/* Mark path \Noselect (under its lock), then drop its messages. */
static int
make_noselect(const char *path, const char *name, char *err, size_t errlen)
{
	struct store_mbox	 fake;
	struct mbox_status	 st;
	int			 lockfd, r;

	memset(&fake, 0, sizeof(fake));
	fake.dir = (char *)path;
	if ((lockfd = mbox_lock(&fake)) == -1) {
		err_printf(err, errlen, "%s/%s: %s", path, MBOX_LOCK,
		    strerror(errno));
		return -1;
	}
	if (mbox_status_read(path, &st) == -1) {
		if (errno != ENOENT && errno != EINVAL) {
			err_printf(err, errlen, "%s/%s: %s", path, MBOX_STATUS,
			    strerror(errno));
			mbox_unlock(lockfd);
			return -1;
		}
		/* Lost status: the messages go anyway, so start afresh. */
		mbox_status_init(&st);
	}
	if (st.noselect) {
		mbox_status_free(&st);
		mbox_unlock(lockfd);
		errno = ENOTEMPTY;
		err_printf(err, errlen, "%s: has inferior hierarchical names",
		    name);
		return -1;
	}
	st.noselect = true;
	r = mbox_status_write(path, &st);
	mbox_status_free(&st);
	mbox_unlock(lockfd);
	if (r == -1) {
		err_printf(err, errlen, "%s/%s: %s", path, MBOX_STATUS,
		    strerror(errno));
		return -1;
	}
	if (remove_shards(path) == -1) {
		err_printf(err, errlen, "%s: removing messages: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
store_tree_delete(const char *user_dir, const char *name, char *err,
    size_t errlen)
{
	static unsigned	 seq;
	struct names	 nm;
	char		*mboxes, *path = NULL, *gone = NULL;
	int		 r = -1;

	if (strcmp(name, "INBOX") == 0) {
		errno = EPERM;
		err_printf(err, errlen, "cannot delete INBOX");
		return -1;
	}
	mboxes = xasprintf("%s/mailboxes", user_dir);
	if (names_read(mboxes, &nm) == -1) {
		err_printf(err, errlen, "%s: %s", mboxes, strerror(errno));
		free(mboxes);
		return -1;
	}
	if ((path = mbox_path(user_dir, name, err, errlen)) == NULL)
		goto out;
	if (names_has_children(&nm, name)) {
		if (!is_dir(path)) {
			errno = ENOTEMPTY;
			err_printf(err, errlen, "%s: has inferior hierarchical "
			    "names", name);
			goto out;
		}
		r = make_noselect(path, name, err, errlen);
		goto out;
	}
	if (!is_dir(path)) {
		errno = ENOENT;
		err_printf(err, errlen, "%s: no such mailbox", name);
		goto out;
	}
	/* Out of sight first, so a crash never leaves half a mailbox. */
	gone = xasprintf("%s/.deleting.%ld.%u", mboxes, (long)getpid(), seq++);
	if (fsio_rename_noreplace(path, gone) == -1) {
		err_printf(err, errlen, "rename %s: %s", path, strerror(errno));
		if (errno == ENOENT)
			err_printf(err, errlen, "%s: no such mailbox", name);
		goto out;
	}
	if (fsio_fsync_dir(mboxes) == -1) {
		err_printf(err, errlen, "fsync %s: %s", mboxes, strerror(errno));
		goto out;
	}
	if (fsio_remove_tree(gone) == -1) {
		err_printf(err, errlen, "remove %s: %s", gone, strerror(errno));
		goto out;
	}
	r = 0;
out:
	names_free(&nm);
	free(gone);
	free(path);
	free(mboxes);
	return r;
}

/* rename */

/*
 * Move one INBOX message (index entry *m of src) to uid in dst. 1 moved,
 * 0 gone meanwhile (expunged elsewhere), -1 error.
 */
static int
move_msg(struct store_mbox *src, const struct store_msg *m,
    struct store_mbox *dst, uint32_t uid)
{
	struct store_msg	 cur = *m;
	char			 from[PATH_MAX], to[PATH_MAX];
	char			 shard[PATH_MAX];
	int			 tries;

	if (mbox_shard_path(dst, uid, shard) == -1)
		return -1;
	if (mkdir(shard, 0700) == 0) {
		if (fsio_fsync_dir(dst->dir) == -1)
			return -1;
	} else if (errno != EEXIST)
		return -1;
	for (tries = 0; tries < CHASE_MAX; tries++) {
		if (mbox_msg_path(src, cur.uid, &cur.flags, from,
		    sizeof(from)) == -1 ||
		    mbox_msg_path(dst, uid, &cur.flags, to, sizeof(to)) == -1)
			return -1;
		if (fsio_rename_noreplace(from, to) == 0)
			return 1;
		if (errno != ENOENT)
			return -1;
		/* Flags changed by another session: find its name. */
		if (mbox_rescan_uid(src, cur.uid, &cur) == -1)
			return errno == ENOENT ? 0 : -1;
	}
	errno = EAGAIN;
	return -1;
}

static int
rename_inbox(const char *user_dir, const char *to, char *err, size_t errlen)
{
	struct store_mbox	*src = NULL, *dst = NULL;
	struct mbox_status	 disk;
	const struct store_msg	*m;
	char			*path, shard[PATH_MAX], last[PATH_MAX];
	char			 srcshard[PATH_MAX], srclast[PATH_MAX];
	uint32_t		 uid;
	size_t			 i, n;
	unsigned		 k;
	int			 lockfd = -1, r = -1, moved;

	if ((path = mbox_path(user_dir, to, err, errlen)) == NULL)
		return -1;
	if (store_mbox_create(user_dir, strrchr(path, '/') + 1, NULL, err,
	    errlen) == -1)
		goto out;
	if ((src = store_mbox_open(user_dir, "INBOX", err, errlen)) == NULL ||
	    (dst = store_mbox_open(user_dir, strrchr(path, '/') + 1, err,
	    errlen)) == NULL)
		goto out;
	/* Hold to's lock: appends to it wait until the UIDs are placed. */
	if ((lockfd = mbox_lock(dst)) == -1) {
		err_printf(err, errlen, "%s/%s: %s", dst->dir, MBOX_LOCK,
		    strerror(errno));
		goto out;
	}
	if (mbox_status_read(dst->dir, &disk) == 0)
		mbox_status_merge(&dst->st, &disk);
	if (dst->st.nkw != 0) {
		/* Only a racing client could have added one. */
		errno = EAGAIN;
		err_printf(err, errlen, "%s: changed during rename", to);
		goto out;
	}
	n = store_mbox_count(src);
	if ((uint64_t)dst->st.uidnext + n >= UINT32_MAX) {
		errno = EOVERFLOW;
		err_printf(err, errlen, "%s: UIDs exhausted", to);
		goto out;
	}
	/* Keyword bits in the file names index INBOX's list: copy it. */
	for (k = 0; k < src->st.nkw; k++)
		dst->st.keywords[k] = xstrdup(src->st.keywords[k]);
	dst->st.nkw = src->st.nkw;
	uid = dst->st.uidnext;
	/* The UIDs are reserved before any message appears (as append). */
	dst->st.uidnext = uid + (uint32_t)n;
	if (mbox_status_write(dst->dir, &dst->st) == -1) {
		err_printf(err, errlen, "%s/%s: %s", dst->dir, MBOX_STATUS,
		    strerror(errno));
		goto out;
	}
	last[0] = srclast[0] = '\0';
	for (i = 0; i < n; i++) {
		m = store_mbox_at(src, i);
		if (mbox_shard_path(dst, uid, shard) == -1 ||
		    mbox_shard_path(src, m->uid, srcshard) == -1)
			goto msgfail;
		/* UIDs ascend, so each shard is synced once it is done. */
		if ((last[0] != '\0' && strcmp(last, shard) != 0 &&
		    fsio_fsync_dir(last) == -1) ||
		    (srclast[0] != '\0' && strcmp(srclast, srcshard) != 0 &&
		    fsio_fsync_dir(srclast) == -1))
			goto msgfail;
		memcpy(last, shard, sizeof(last));
		memcpy(srclast, srcshard, sizeof(srclast));
		if ((moved = move_msg(src, m, dst, uid)) == -1)
			goto msgfail;
		uid += (uint32_t)moved;
	}
	if ((last[0] != '\0' && fsio_fsync_dir(last) == -1) ||
	    (srclast[0] != '\0' && fsio_fsync_dir(srclast) == -1))
		goto msgfail;
	r = 0;
	goto out;
msgfail:
	err_printf(err, errlen, "moving INBOX messages to %s: %s", to,
	    strerror(errno));
out:
	if (lockfd != -1)
		mbox_unlock(lockfd);
	store_mbox_close(&dst);
	store_mbox_close(&src);
	free(path);
	return r;
}

struct move {
	char	*from;		/* paths */
	char	*to;
};

int
store_tree_rename(const char *user_dir, const char *from, const char *to,
    char *err, size_t errlen)
{
	struct names	 nm;
	struct move	*mv = NULL;
	char		*mboxes, *newname, canon[STORE_MNAME_MAX];
	const char	*why;
	size_t		 nmv = 0, i, flen = strlen(from);
	int		 r = -1, saved;

	if (strcmp(to, "INBOX") == 0) {
		errno = EEXIST;
		err_printf(err, errlen, "INBOX: mailbox already exists");
		return -1;
	}
	if (strcmp(from, "INBOX") != 0 && is_inferior(to, from)) {
		errno = EINVAL;
		err_printf(err, errlen, "cannot rename %s into its own subtree",
		    from);
		return -1;
	}
	mboxes = xasprintf("%s/mailboxes", user_dir);
	if (names_read(mboxes, &nm) == -1) {
		err_printf(err, errlen, "%s: %s", mboxes, strerror(errno));
		free(mboxes);
		return -1;
	}
	if (strcmp(from, "INBOX") != 0 && !names_has(&nm, from) &&
	    !names_has_children(&nm, from)) {
		errno = ENOENT;
		err_printf(err, errlen, "%s: no such mailbox", from);
		goto out;
	}
	if (names_has(&nm, to) || names_has_children(&nm, to)) {
		errno = EEXIST;
		err_printf(err, errlen, "%s: mailbox already exists", to);
		goto out;
	}
	if (strcmp(from, "INBOX") == 0) {
		r = rename_inbox(user_dir, to, err, errlen);
		goto out;
	}
	/* from itself, if it has a directory, and every inferior name. */
	mv = xcalloc(nm.n + 1, sizeof(*mv));
	for (i = 0; i < nm.n; i++) {
		if (strcmp(nm.v[i], from) != 0 && !is_inferior(nm.v[i], from))
			continue;
		newname = xasprintf("%s%s", to, nm.v[i] + flen);
		if (store_name_check(newname, canon, sizeof(canon), &why) ==
		    -1 || strcmp(newname, canon) != 0) {
			errno = EINVAL;
			err_printf(err, errlen, "%s: %s", newname,
			    strcmp(newname, canon) != 0 ? "not canonical" :
			    why);
			free(newname);
			goto out;
		}
		mv[nmv].from = mbox_path(user_dir, nm.v[i], err, errlen);
		mv[nmv].to = mbox_path(user_dir, newname, err, errlen);
		free(newname);
		nmv++;
		if (mv[nmv - 1].from == NULL || mv[nmv - 1].to == NULL) {
			errno = EINVAL;
			goto out;
		}
	}
	if (nmv == 0) {
		errno = ENOENT;
		err_printf(err, errlen, "%s: no such mailbox", from);
		goto out;
	}
	for (i = 0; i < nmv; i++) {
		if (fsio_rename_noreplace(mv[i].from, mv[i].to) == 0)
			continue;
		saved = errno;
		err_printf(err, errlen, "rename %s: %s", mv[i].from,
		    strerror(errno));
		while (i-- > 0)
			(void)fsio_rename_noreplace(mv[i].to, mv[i].from);
		(void)fsio_fsync_dir(mboxes);
		errno = saved;
		goto out;
	}
	if (fsio_fsync_dir(mboxes) == -1) {
		err_printf(err, errlen, "fsync %s: %s", mboxes, strerror(errno));
		goto out;
	}
	r = 0;
out:
	saved = errno;
	for (i = 0; i < nmv; i++) {
		free(mv[i].from);
		free(mv[i].to);
	}
	free(mv);
	names_free(&nm);
	free(mboxes);
	errno = saved;
	return r;
}

/* subscribe */

int
store_tree_subscribe(const char *user_dir, const char *name, bool on,
    char *err, size_t errlen)
{
	struct mbox_status	 st;
	char			*path;
	int			 lockfd, r = -1;

	if ((path = mbox_path(user_dir, name, err, errlen)) == NULL)
		return -1;
	if (!is_dir(path)) {
		errno = ENOENT;
		err_printf(err, errlen, "%s: no such mailbox", name);
		goto out;
	}
	if (status_lock_read(user_dir, path, true, &st, &lockfd, err,
	    errlen) == -1)
		goto out;
	st.subscribed = on;
	if ((r = mbox_status_write(path, &st)) == -1)
		err_printf(err, errlen, "%s/%s: %s", path, MBOX_STATUS,
		    strerror(errno));
	mbox_status_free(&st);
	mbox_unlock(lockfd);
out:
	free(path);
	return r;
}
