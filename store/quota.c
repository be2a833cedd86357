/*
 * quota: counting and checking a user's usage. See quota.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "store/fname.h"
#include "store/quota.h"

/* Add the messages in directory fd (a shard) to *bytes, *msgs. */
static int
count_shard(int fd, uint64_t *bytes, uint64_t *msgs)
{
	DIR			*d;
	struct dirent		*de;
	struct stat		 st;
	struct store_flags	 fl;
	uint32_t		 uid;
	int			 saved;

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
		if (store_fname_parse(de->d_name, &uid, &fl) == -1)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
			continue;	/* expunged meanwhile, or not a message */
		*bytes += (uint64_t)st.st_size;
		(*msgs)++;
	}
	saved = errno;
	closedir(d);
	errno = saved;
	return saved != 0 ? -1 : 0;
}

/* Walk the directory fd: its shards when shards, else its mailboxes. */
static int
count_dir(int fd, int depth, uint64_t *bytes, uint64_t *msgs)
{
	DIR		*d;
	struct dirent	*de;
	uint32_t	 shard;
	int		 sub, r = 0, saved;

	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			r = errno != 0 ? -1 : 0;
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if (depth == 1 && store_shard_parse(de->d_name, &shard) == -1)
			continue;
		sub = openat(dirfd(d), de->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub == -1) {
			if (errno == ENOENT || errno == ENOTDIR ||
			    errno == ELOOP)
				continue;	/* gone, or not a folder */
			r = -1;
			break;
		}
		r = depth == 0 ? count_dir(sub, 1, bytes, msgs) :
		    count_shard(sub, bytes, msgs);
		/* A mailbox deleted or renamed during the walk: skip it. */
		if (r == -1 && errno != ENOENT)
			break;
		r = 0;
	}
	saved = errno;
	closedir(d);
	errno = saved;
	return r;
}

int
store_quota_count(const char *user_dir, struct store_quota *q)
{
	uint64_t	 bytes = 0, msgs = 0;
	char		*dir;
	int		 fd;

	dir = xasprintf("%s/mailboxes", user_dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd == -1) {
		if (errno != ENOENT)
			return -1;
	} else if (count_dir(fd, 0, &bytes, &msgs) == -1)
		return -1;
	q->bytes = bytes;
	q->messages = msgs;
	q->counted = time(NULL);
	if (q->counted == 0)
		q->counted = 1;
	return 0;
}

int
store_quota_check(const struct store_quota *q, uint64_t add_bytes,
    uint64_t add_messages, char *err, size_t errlen)
{
	if (q == NULL)
		return 0;
	if (q->max_bytes != 0 && (add_bytes > q->max_bytes ||
	    q->bytes > q->max_bytes - add_bytes)) {
		err_printf(err, errlen, "over quota: %" PRIu64 " of %" PRIu64
		    " bytes used, %" PRIu64 " more would not fit", q->bytes,
		    q->max_bytes, add_bytes);
		errno = EDQUOT;
		return -1;
	}
	if (q->max_messages != 0 && (add_messages > q->max_messages ||
	    q->messages > q->max_messages - add_messages)) {
		err_printf(err, errlen, "over quota: %" PRIu64 " of %" PRIu64
		    " messages stored, %" PRIu64 " more would not fit",
		    q->messages, q->max_messages, add_messages);
		errno = EDQUOT;
		return -1;
	}
	return 0;
}

void
store_quota_add(struct store_quota *q, int64_t bytes, int64_t messages)
{
	if (q == NULL || q->counted == 0)
		return;
	if (bytes < 0 && (uint64_t)-bytes > q->bytes)
		q->bytes = 0;
	else
		q->bytes += (uint64_t)bytes;
	if (messages < 0 && (uint64_t)-messages > q->messages)
		q->messages = 0;
	else
		q->messages += (uint64_t)messages;
}
