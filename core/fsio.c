/* fsio: durable file writes and small file helpers. */
#include "core/fsio.h"
#include "core/util.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
fsio_fsync_dir(const char *path)
{
	int fd, r, saved;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	r = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/* Split path into directory (written to dir) and base name. */
static const char *
split_path(const char *path, char *dir, size_t dirlen)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		snprintf(dir, dirlen, ".");
		return path;
	}
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1;	/* "/name" */
	if (n >= dirlen)
		n = dirlen - 1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return slash + 1;
}

int
fsio_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fsio_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	const char *base;
	int fd = -1, saved;

	base = split_path(path, dir, sizeof(dir));
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.tmp.%s", dir, base) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	(void)unlink(tmp);	/* a leftover from a crash */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd == -1)
		return -1;
	if (fsio_write_all(fd, data, len) == -1)
		goto fail;
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	return fsio_fsync_dir(dir);
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

char *
fsio_read_fd(int fd, size_t max, size_t *len_r)
{
	struct stat st;
	size_t len = 0, cap = 4096;
	char *buf;

	if (max > SIZE_MAX / 4)
		max = SIZE_MAX / 4;	/* so max + 2 and doubling cannot wrap */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		cap = (uint64_t)st.st_size < max ? (size_t)st.st_size + 2 : max + 2;
	if (cap > max + 2)
		cap = max + 2;	/* room for one byte past max, to see EFBIG */
	buf = xmalloc(cap);
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			cap = cap > (max + 2) / 2 ? max + 2 : cap * 2;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			int saved = errno;

			free(buf);
			errno = saved;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			free(buf);
			errno = EFBIG;
			return NULL;
		}
	}
	buf[len] = '\0';
	if (len_r != NULL)
		*len_r = len;
	return buf;
}

char *
fsio_read_file(const char *path, size_t max, size_t *len_r)
{
	char *data;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	data = fsio_read_fd(fd, max, len_r);
	saved = errno;
	close(fd);
	errno = saved;
	return data;
}

int
fsio_mkdirs(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(tmp, mode) == -1 && errno != EEXIST)
				return -1;
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

int
fsio_remove_tree(const char *path)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	char		*sub;
	int		 r = 0, saved;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == -1 && errno != ENOENT ? -1 : 0;
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		sub = xasprintf("%s/%s", path, de->d_name);
		if (fsio_remove_tree(sub) == -1 && r == 0) {
			saved = errno;
			r = -1;
		}
		free(sub);
	}
	closedir(d);
	if (r == -1) {
		errno = saved;
		return -1;
	}
	return rmdir(path) == -1 && errno != ENOENT ? -1 : 0;
}

int
fsio_rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL)
		return -1;
	/* File system without RENAME_NOREPLACE: check, then rename. */
	if (access(to, F_OK) == 0) {
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}
