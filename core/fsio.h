/* fsio: durable file writes and small file helpers. */
#ifndef RMAIL_FSIO_H
#define RMAIL_FSIO_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Create or replace dir/name atomically and durably: write ".tmp.NAME"
 * (O_EXCL, mode), fsync, close, rename over NAME, fsync the directory.
 * 0, or -1 with errno; on failure nothing is left behind and the old
 * file, if any, is untouched.
 */
int	 fsio_write_atomic(const char *path, const void *data, size_t len,
	    mode_t mode);
/* write(2) all of len bytes, retrying short writes and EINTR.
 * 0, or -1 with errno. */
int	 fsio_write_all(int fd, const void *data, size_t len);
/*
 * Read fd to EOF, at most max bytes, into a NUL-terminated allocation (NULs
 * inside kept). The file size is only a hint (/proc files report 0, a file
 * may grow while read). Returns it and sets *len_r, or NULL with errno
 * (EFBIG past max). fd stays open.
 */
char	*fsio_read_fd(int fd, size_t max, size_t *len_r);
/* Open path and fsio_read_fd() it. */
char	*fsio_read_file(const char *path, size_t max, size_t *len_r);
/* mkdir -p with mode for each created component. 0, or -1 with errno. */
int	 fsio_mkdirs(const char *path, mode_t mode);
/*
 * rename(2) that never replaces an existing target (RENAME_NOREPLACE; on a
 * file system without it, check first: racy only there). 0, or -1 with
 * errno (EEXIST when the target exists).
 */
int	 fsio_rename_noreplace(const char *from, const char *to);
/* rm -r path without following symlinks; ENOENT anywhere is success
 * (someone else removed it first). 0, or -1 with errno of the first error. */
int	 fsio_remove_tree(const char *path);
/* fsync a directory by path. */
int	 fsio_fsync_dir(const char *path);

#endif
