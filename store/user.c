/* user: a user's folder, its path and its creation. See user.h. */
#include "store/user.h"
#include "store/mailbox.h"
#include "store/names.h"
#include "core/fsio.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define USER_LOCAL_MAX	64
#define USER_DOMAIN_MAX	253

/* The mailboxes of a new folder; INBOX also comes back when missing. */
static const struct {
	const char	*name;
	const char	*special_use;
} user_mailboxes[] = {
	{ "INBOX",	NULL },
	{ "Drafts",	"\\Drafts" },
	{ "Sent",	"\\Sent" },
	{ "Trash",	"\\Trash" },
	{ "Junk",	"\\Junk" },
	{ "Archive",	"\\Archive" },
};

/* One path component that cannot climb out or hide: see user.h. */
static bool
valid_component(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '/' || c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

int
store_user_dir(const char *data_dir, const char *address, char *buf,
    size_t len)
{
	char		 addr[USER_LOCAL_MAX + 1 + USER_DOMAIN_MAX + 1];
	const char	*at;
	size_t		 n = strlen(address);
	int		 r;

	if (n >= sizeof(addr) || (at = strrchr(address, '@')) == NULL ||
	    !valid_component(address, (size_t)(at - address), USER_LOCAL_MAX) ||
	    !valid_component(at + 1, strlen(at + 1), USER_DOMAIN_MAX)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(addr, address, n + 1);
	ascii_lower(addr);
	addr[at - address] = '\0';
	r = snprintf(buf, len, "%s/mail/%s/%s", data_dir,
	    addr + (at - address) + 1, addr);
	if (r < 0 || (size_t)r >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* mkdir that is content with an existing directory; *made_r when new. */
static int
mkdir_ok(const char *path, bool *made_r)
{
	if (mkdir(path, 0700) == 0) {
		if (made_r != NULL)
			*made_r = true;
		return 0;
	}
	return errno == EEXIST ? 0 : -1;
}

static int
create_mailbox(const char *user_dir, size_t i, char *err, size_t errlen)
{
	char		 dirname[STORE_DIRNAME_MAX];
	const char	*why;

	if (store_name_to_dir(user_mailboxes[i].name, dirname,
	    sizeof(dirname), &why) == -1) {
		errno = EINVAL;
		err_printf(err, errlen, "%s: %s", user_mailboxes[i].name, why);
		return -1;
	}
	/* EEXIST: made by another process, or already there; both fine. */
	if (store_mbox_create(user_dir, dirname, user_mailboxes[i].special_use,
	    err, errlen) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/* Put back what deliveries cannot do without in an existing folder. */
static int
repair_user(const char *dir, char *err, size_t errlen)
{
	static const char *const sub[] = { "mailboxes", "tmp" };
	char	 path[PATH_MAX];
	bool	 made = false;
	int	 r;

	for (size_t i = 0; i < NELEM(sub); i++) {
		r = snprintf(path, sizeof(path), "%s/%s", dir, sub[i]);
		if (r < 0 || (size_t)r >= sizeof(path)) {
			errno = ENAMETOOLONG;
			err_printf(err, errlen, "%s: %s", dir, strerror(errno));
			return -1;
		}
		if (mkdir_ok(path, &made) == -1) {
			err_printf(err, errlen, "mkdir %s: %s", path,
			    strerror(errno));
			return -1;
		}
	}
	if (made && fsio_fsync_dir(dir) == -1) {
		err_printf(err, errlen, "fsync %s: %s", dir, strerror(errno));
		return -1;
	}
	return create_mailbox(dir, 0, err, errlen);
}

/*
 * Build the whole folder under a dot-name (never a valid LOCAL, so never
 * mistaken for a user) and rename it into place. 0 also when another
 * process won the race: its folder is as complete as ours would be.
 */
static int
create_user(const char *data_dir, const char *dir, char *err, size_t errlen)
{
	char		 stage[PATH_MAX], domdir[PATH_MAX], path[PATH_MAX];
	const char	*slash = strrchr(dir, '/');
	int		 r;

	/* dir is DATA_DIR/mail/DOMAIN/LOCAL, as store_user_dir wrote it. */
	r = snprintf(domdir, sizeof(domdir), "%.*s", (int)(slash - dir), dir);
	if (r < 0 || (size_t)r >= sizeof(domdir) ||
	    (r = snprintf(stage, sizeof(stage), "%s/.%s.new.%ld", domdir,
	    slash + 1, (long)getpid())) < 0 || (size_t)r >= sizeof(stage) ||
	    (r = snprintf(path, sizeof(path), "%s/tmp", stage)) < 0 ||
	    (size_t)r >= sizeof(path)) {
		errno = ENAMETOOLONG;
		err_printf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (fsio_mkdirs(domdir, 0700) == -1) {
		err_printf(err, errlen, "%s: %s", domdir, strerror(errno));
		return -1;
	}
	/* A leftover of a crashed process that had our pid: ours now. */
	(void)fsio_remove_tree(stage);
	if (mkdir(stage, 0700) == -1) {
		err_printf(err, errlen, "mkdir %s: %s", stage, strerror(errno));
		goto fail;
	}
	if (mkdir(path, 0700) == -1) {
		err_printf(err, errlen, "mkdir %s: %s", path, strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < NELEM(user_mailboxes); i++)
		if (create_mailbox(stage, i, err, errlen) == -1)
			goto fail;
	if (fsio_fsync_dir(stage) == -1) {
		err_printf(err, errlen, "fsync %s: %s", stage, strerror(errno));
		goto fail;
	}
	/* RENAME_NOREPLACE: an existing folder, even empty, is not ours. */
	if (fsio_rename_noreplace(stage, dir) == -1) {
		if (errno != EEXIST && errno != ENOTEMPTY) {
			err_printf(err, errlen, "rename %s: %s", dir,
			    strerror(errno));
			goto fail;
		}
		(void)fsio_remove_tree(stage);
		return repair_user(dir, err, errlen);
	}
	/* The new entries must survive a crash: the folder, the domain. */
	r = snprintf(path, sizeof(path), "%s/mail", data_dir);
	if (fsio_fsync_dir(domdir) == -1 || r < 0 ||
	    (size_t)r >= sizeof(path) || fsio_fsync_dir(path) == -1) {
		err_printf(err, errlen, "fsync %s: %s", domdir, strerror(errno));
		return -1;
	}
	return 0;
fail:
	(void)fsio_remove_tree(stage);
	return -1;
}

int
store_user_ensure(const char *data_dir, const char *address, char *dir_r,
    size_t len, char *err, size_t errlen)
{
	struct stat st;

	if (store_user_dir(data_dir, address, dir_r, len) == -1) {
		err_printf(err, errlen, "%s: %s", address, errno == EINVAL ?
		    "not an address that can have a mail folder" :
		    strerror(errno));
		return -1;
	}
	if (stat(dir_r, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			err_printf(err, errlen, "%s: %s", dir_r, strerror(errno));
			return -1;
		}
		return repair_user(dir_r, err, errlen);
	}
	if (errno != ENOENT) {
		err_printf(err, errlen, "%s: %s", dir_r, strerror(errno));
		return -1;
	}
	return create_user(data_dir, dir_r, err, errlen);
}
