/*
 * tmpdir: a cmocka fixture giving each test a fresh directory under /tmp
 * and a file path inside it; both are removed after the test.
 */
#ifndef RMAIL_TEST_TMPDIR_H
#define RMAIL_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"

struct tmp {
	char	 dir[64];
	char	*path;	/* dir/NAME; the test may create it */
};

static inline int
tmp_setup(void **state, const char *name)
{
	struct tmp *t = xcalloc(1, sizeof(*t));

	snprintf(t->dir, sizeof(t->dir), "/tmp/rmail-test-XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	t->path = xasprintf("%s/%s", t->dir, name);
	*state = t;
	return 0;
}

static inline int
tmp_teardown(void **state)
{
	struct tmp *t = *state;

	(void)unlink(t->path);
	(void)rmdir(t->dir);
	free(t->path);
	free(t);
	return 0;
}

/* rm -rf path (no symlinks followed). */
static inline void
tmp_rm_rf(const char *path)
{
	struct stat st;
	struct dirent *de;
	DIR *d;

	if (lstat(path, &st) == -1)
		return;
	if (!S_ISDIR(st.st_mode) || (d = opendir(path)) == NULL) {
		(void)unlink(path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char *sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		sub = xasprintf("%s/%s", path, de->d_name);
		tmp_rm_rf(sub);
		free(sub);
	}
	closedir(d);
	(void)rmdir(path);
}

/* Entries other than dot-files in dir/sub (a shard, tmp/): 0 when the
 * folder is missing. */
static inline size_t
tmp_count_files(const char *dir, const char *sub)
{
	struct dirent	*de;
	DIR		*d;
	char		*p = xasprintf("%s/%s", dir, sub);
	size_t		 n = 0;

	d = opendir(p);
	free(p);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* A fresh user folder: dir (64 bytes) = mkdtemp, with tmp/ and mailboxes/.
 * 0, or -1 (nothing left behind). */
static inline int
tmp_user_dir(char dir[64])
{
	static const char *const subs[] = { "tmp", "mailboxes" };

	snprintf(dir, 64, "/tmp/rmail-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		char *p = xasprintf("%s/%s", dir, subs[i]);
		int r = mkdir(p, 0700);

		free(p);
		if (r == -1) {
			tmp_rm_rf(dir);
			return -1;
		}
	}
	return 0;
}

#endif
