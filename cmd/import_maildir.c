/*
 * import_maildir: the Maildir/Maildir++ side of "rmail import maildir"
 * (cmd/import.c does the command line and the user's folder).
 *
 * DIR's cur/ and new/ are INBOX; every subdirectory ".A.B" is the folder
 * "A/B" (Maildir++ uses '.' as separator and a leading dot; names are
 * already modified UTF-7, which is what the store takes). Messages keep
 * their flags (from the ":2,FLAGS" suffix in cur/; new/ has none), their
 * keywords (letters a..z indexing the folder's dovecot-keywords) and
 * their mtime as INTERNALDATE, and get CRLF line ends.
 *
 * Idempotence: the Maildir base name (before ":2,") of every message
 * appended is recorded, fsynced, in the mailbox's ".imported" file (the
 * store ignores dot-files), and recorded names are skipped on the next
 * run. A crash between an append and its record can leave a duplicate
 * on the next run, never a loss.
 *
 * Subscriptions: when DIR/subscriptions exists, the mailboxes it lists
 * are subscribed and the imported ones it does not list unsubscribed;
 * without the file, subscriptions are left as they are.
 */
#include "cmd/import.h"
#include "core/fsio.h"
#include "core/util.h"
#include "store/mailbox.h"
#include "store/mboxtree.h"
#include "store/names.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMPORT_RECORD	".imported"

struct imp_count {
	unsigned long	 imported;
	unsigned long	 present;
	unsigned long	 skipped;
	unsigned long	 failed;
};

/* A Maildir++ folder: its source directory and store name. */
struct imp_folder {
	char		*src;
	char		*name;		/* canonical mUTF-7 */
	bool		 ok;		/* mailbox exists in the store */
};

/* A message file found in cur/ or new/. */
struct imp_msg {
	char		*path;
	char		*fname;		/* points into path */
	char		*base;		/* the part before ":2," */
	bool		 isnew;
	bool		 dup;		/* same base as an earlier file */
	struct timespec	 mtime;
};

/* A sorted set of strings, for the recorded base names. */
struct strset {
	char		**v;
	size_t		  n;
};

/* Per-folder keyword state: dovecot-keywords and what became of it. */
enum { KW_UNRESOLVED, KW_MAPPED, KW_DROPPED };
struct imp_kw {
	char		*name[STORE_KW_MAX];
	int		 state[STORE_KW_MAX];
	int		 bit[STORE_KW_MAX];
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
strset_has(const struct strset *s, const char *k)
{
	return s->n > 0 &&
	    bsearch(&k, s->v, s->n, sizeof(*s->v), cmp_str) != NULL;
}

static void
strset_free(struct strset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* Largest file read from the source tree: a sanity cap, not policy. */
#define IMP_FILE_MAX	((size_t)1 << 30)

/*
 * Read a whole regular file (not following a symlink: the source tree is
 * someone else's) into a new NUL-terminated buffer; *st_r gets its fstat.
 * 0, or -1 with errno (EINVAL for anything but a regular file, EFBIG past
 * IMP_FILE_MAX).
 */
static int
read_file(const char *path, char **data_r, size_t *len_r, struct stat *st_r)
{
	struct stat	 st;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	*data_r = fsio_read_fd(fd, IMP_FILE_MAX, len_r);
	saved = errno;
	close(fd);
	errno = saved;
	if (*data_r == NULL)
		return -1;
	if (st_r != NULL)
		*st_r = st;
	return 0;
}

/*
 * Load SRC/dovecot-keywords ("N name" per line) into kw. A missing file
 * means no keywords. 0, or -1 after printing why.
 */
static int
load_keywords(const char *src, struct imp_kw *kw)
{
	char	*path, *data, *line, *next, *end;
	size_t	 len;
	long	 n;

	memset(kw, 0, sizeof(*kw));
	path = xasprintf("%s/dovecot-keywords", src);
	if (read_file(path, &data, &len, NULL) == -1) {
		if (errno == ENOENT) {
			free(path);
			return 0;
		}
		fprintf(stderr, "rmail: %s: %s\n", path, strerror(errno));
		free(path);
		return -1;
	}
	for (line = data; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		len = strlen(line);
		while (len > 0 && (line[len - 1] == '\r' ||
		    line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		errno = 0;
		n = strtol(line, &end, 10);
		if (end == line || *end != ' ' || end[1] == '\0' || errno != 0)
			continue;		/* not "N name": ignore */
		if (n < 0 || n >= STORE_KW_MAX) {
			fprintf(stderr, "rmail: %s: keyword %ld (%s) has no "
			    "flag letter; dropped\n", path, n, end + 1);
			continue;
		}
		free(kw->name[n]);
		kw->name[n] = xstrdup(end + 1);
	}
	free(data);
	free(path);
	return 0;
}

static void
free_keywords(struct imp_kw *kw)
{
	for (size_t i = 0; i < STORE_KW_MAX; i++)
		free(kw->name[i]);
}

/*
 * The store keyword bit of Maildir letter index i, or -1 when it is
 * dropped (warned once per folder). -2 on a system error (printed).
 */
static int
map_keyword(struct store_mbox *mb, struct imp_kw *kw, const char *folder,
    int i)
{
	int	 b;

	if (kw->state[i] == KW_MAPPED)
		return kw->bit[i];
	if (kw->state[i] == KW_DROPPED)
		return -1;
	if (kw->name[i] == NULL) {
		fprintf(stderr, "rmail: import %s: keyword letter '%c' is not "
		    "in dovecot-keywords; dropped\n", folder, 'a' + i);
		kw->state[i] = KW_DROPPED;
		return -1;
	}
	if ((b = store_mbox_keyword(mb, kw->name[i], true)) == -1) {
		if (errno == ENOSPC || errno == EINVAL) {
			fprintf(stderr, "rmail: import %s: keyword %s: %s; "
			    "dropped\n", folder, kw->name[i], errno == ENOSPC ?
			    "the mailbox already has 26 keywords" :
			    "not a valid IMAP keyword");
			kw->state[i] = KW_DROPPED;
			return -1;
		}
		fprintf(stderr, "rmail: import %s: keyword %s: %s\n", folder,
		    kw->name[i], strerror(errno));
		return -2;
	}
	kw->state[i] = KW_MAPPED;
	kw->bit[i] = b;
	return b;
}

/*
 * Store flags for a file name. Letters after ":2," (cur/ only): R S T D F
 * are the system flags, P (passed) has no IMAP equivalent, a..z the
 * keywords. 0, or -1 after a system error (printed).
 */
static int
msg_flags(const struct imp_msg *m, struct store_mbox *mb, struct imp_kw *kw,
    const char *folder, struct store_flags *fl)
{
	const char	*info;
	int		 b;

	memset(fl, 0, sizeof(*fl));
	if (m->isnew || (info = strstr(m->fname, ":2,")) == NULL)
		return 0;
	for (info += 3; *info != '\0'; info++) {
		switch (*info) {
		case 'R':
			fl->sys |= STORE_F_ANSWERED;
			break;
		case 'S':
			fl->sys |= STORE_F_SEEN;
			break;
		case 'T':
			fl->sys |= STORE_F_DELETED;
			break;
		case 'D':
			fl->sys |= STORE_F_DRAFT;
			break;
		case 'F':
			fl->sys |= STORE_F_FLAGGED;
			break;
		default:
			if (*info < 'a' || *info > 'z')
				break;
			if ((b = map_keyword(mb, kw, folder, *info - 'a')) == -2)
				return -1;
			if (b >= 0)
				fl->kw |= (uint32_t)1 << b;
			break;
		}
	}
	return 0;
}

static void
free_msgs(struct imp_msg *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].base);
	}
	free(v);
}

/*
 * Add the message files of SRC/SUB to *v. A missing SUB is empty.
 * Dot-files are ignored; other non-files are skipped with a warning.
 * 0, or -1 after printing why.
 */
static int
scan_sub(const char *src, const char *sub, const char *folder,
    struct imp_msg **v, size_t *n, struct imp_count *c)
{
	struct dirent	*de;
	struct stat	 st;
	struct imp_msg	*m;
	char		*dir;
	const char	*info;
	DIR		*d;

	dir = xasprintf("%s/%s", src, sub);
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT) {
			free(dir);
			return 0;
		}
		fprintf(stderr, "rmail: %s: %s\n", dir, strerror(errno));
		free(dir);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue;	/* moved away meanwhile */
			fprintf(stderr, "rmail: %s/%s: %s\n", dir, de->d_name,
			    strerror(errno));
			c->failed++;
			continue;
		}
		/* A newline would break the one-name-per-line record. */
		if (!S_ISREG(st.st_mode) || strchr(de->d_name, '\n') != NULL) {
			fprintf(stderr, "rmail: import %s: %s/%s: not a "
			    "message file; skipped\n", folder, dir, de->d_name);
			c->skipped++;
			continue;
		}
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		m = &(*v)[(*n)++];
		memset(m, 0, sizeof(*m));
		m->path = xasprintf("%s/%s", dir, de->d_name);
		m->fname = m->path + strlen(dir) + 1;
		info = strstr(m->fname, ":2,");
		m->base = info != NULL ?
		    xstrndup(m->fname, (size_t)(info - m->fname)) :
		    xstrdup(m->fname);
		m->isnew = strcmp(sub, "new") == 0;
		m->mtime = st.st_mtim;
	}
	if (errno != 0) {
		fprintf(stderr, "rmail: %s: %s\n", dir, strerror(errno));
		closedir(d);
		free(dir);
		return -1;
	}
	closedir(d);
	free(dir);
	return 0;
}

static int
cmp_time(const struct imp_msg *a, const struct imp_msg *b)
{
	if (a->mtime.tv_sec != b->mtime.tv_sec)
		return a->mtime.tv_sec < b->mtime.tv_sec ? -1 : 1;
	if (a->mtime.tv_nsec != b->mtime.tv_nsec)
		return a->mtime.tv_nsec < b->mtime.tv_nsec ? -1 : 1;
	return strcmp(a->fname, b->fname);
}

static int
cmp_msg_time(const void *a, const void *b)
{
	return cmp_time(a, b);
}

/* By base name, then time order: the first of equal bases is kept. */
static int
cmp_msg_base(const void *a, const void *b)
{
	const struct imp_msg *x = a, *y = b;
	int r;

	if ((r = strcmp(x->base, y->base)) != 0)
		return r;
	return cmp_time(x, y);
}

/*
 * Load the record file into set. A last line without '\n' is a write
 * cut short by a crash: it is ignored (its message may come again) and
 * *need_nl_r tells the next writer to end it first.
 * 0, or -1 after printing why.
 */
static int
load_record(const char *path, struct strset *set, bool *need_nl_r)
{
	char	*data, *line, *nl;
	size_t	 len;

	*need_nl_r = false;
	if (read_file(path, &data, &len, NULL) == -1) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "rmail: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (line = data; (nl = memchr(line, '\n',
	    len - (size_t)(line - data))) != NULL; line = nl + 1) {
		if (nl == line)
			continue;
		set->v = xrealloc(set->v, (set->n + 1) * sizeof(*set->v));
		set->v[set->n++] = xstrndup(line, (size_t)(nl - line));
	}
	*need_nl_r = line != data + len;
	free(data);
	if (set->n > 0)
		qsort(set->v, set->n, sizeof(*set->v), cmp_str);
	return 0;
}

static int
write_all(int fd, const char *s, size_t len)
{
	ssize_t	 r;

	while (len > 0) {
		if ((r = write(fd, s, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += r;
		len -= (size_t)r;
	}
	return 0;
}

/*
 * Append base to the record (opened on first use; a new file's directory
 * is synced so the file itself survives a crash) and fsync it.
 * 0, or -1 with errno.
 */
static int
record(const char *mbox_path, int *fd, bool *need_nl, const char *base)
{
	char	*path, *line;
	int	 dfd, rv, saved;

	if (*fd == -1) {
		path = xasprintf("%s/%s", mbox_path, IMPORT_RECORD);
		*fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		if (*fd == -1 && errno == EEXIST)
			*fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		else if (*fd != -1) {
			if ((dfd = open(mbox_path, O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC)) == -1 || fsync(dfd) == -1) {
				saved = errno;
				if (dfd != -1)
					close(dfd);
				free(path);
				errno = saved;
				return -1;
			}
			close(dfd);
		}
		free(path);
		if (*fd == -1)
			return -1;
	}
	line = xasprintf("%s%s\n", *need_nl ? "\n" : "", base);
	rv = write_all(*fd, line, strlen(line));
	free(line);
	if (rv == -1 || fsync(*fd) == -1)
		return -1;
	*need_nl = false;
	return 0;
}

/* Import one message. 1 imported, 0 not (counted and printed), -1 the
 * record failed: stop this folder. */
static int
import_msg(struct store_mbox *mb, const char *mbox_path, const char *folder,
    const struct imp_msg *m, struct imp_kw *kw, int *recfd, bool *need_nl,
    struct imp_count *c)
{
	struct store_flags	 fl;
	struct stat		 st;
	char			*data, *msg, err[1024];
	size_t			 len, msglen;
	uint32_t		 uid = 0;

	if (read_file(m->path, &data, &len, &st) == -1) {
		if (errno == ENOENT) {
			/* Dovecot moved it (new/ -> cur/, or expunged). */
			fprintf(stderr, "rmail: import %s: %s: gone; "
			    "skipped\n", folder, m->path);
			c->skipped++;
			return 0;
		}
		fprintf(stderr, "rmail: import %s: %s: %s\n", folder, m->path,
		    strerror(errno));
		c->failed++;
		return 0;
	}
	if (msg_flags(m, mb, kw, folder, &fl) == -1) {
		free(data);
		c->failed++;
		return 0;
	}
	msg = store_crlf(NULL, data, len, &msglen);
	free(data);
	/* mtime 0 would mean "now" to the store: the epoch is 1 s later. */
	if (store_mbox_append(mb, msg, msglen, st.st_mtime != 0 ?
	    st.st_mtime : 1, &fl, &uid, err, sizeof(err)) == -1) {
		/*
		 * Not recorded even when it entered the mailbox (uid set,
		 * only the fsync failed): a rerun may then duplicate it,
		 * which beats losing it.
		 */
		fprintf(stderr, "rmail: import %s: %s: %s\n", folder, m->path,
		    err);
		free(msg);
		c->failed++;
		return 0;
	}
	free(msg);
	if (record(mbox_path, recfd, need_nl, m->base) == -1) {
		fprintf(stderr, "rmail: import %s: %s/%s: %s; stopping this "
		    "mailbox (its last message may be imported again)\n",
		    folder, mbox_path, IMPORT_RECORD, strerror(errno));
		c->failed++;
		return -1;
	}
	c->imported++;
	return 1;
}

static void
print_counts(const char *what, const struct imp_count *c, bool failed)
{
	printf("rmail: import %s: %lu imported, %lu already present, "
	    "%lu skipped", what, c->imported, c->present, c->skipped);
	if (failed || c->failed > 0)
		printf(", %lu failed", c->failed);
	putchar('\n');
}

/*
 * Import the Maildir src (cur/ and new/) into mailbox name of user_dir,
 * creating it. Counts go to tot. 0, or -1 when the mailbox could not be
 * created or opened (printed; message failures are only counted).
 */
static int
import_folder(const char *user_dir, const char *src, const char *name,
    struct imp_count *tot)
{
	struct imp_count	 c = { 0, 0, 0, 0 };
	struct store_mbox	*mb = NULL;
	struct imp_msg		*v = NULL;
	struct strset		 done = { NULL, 0 };
	struct imp_kw		 kw;
	char			 dirname[STORE_DIRNAME_MAX], err[1024];
	char			*mbox_path = NULL, *rec_path = NULL;
	const char		*why;
	size_t			 n = 0;
	bool			 need_nl;
	int			 recfd = -1, rv = -1;

	memset(&kw, 0, sizeof(kw));
	if (store_name_to_dir(name, dirname, sizeof(dirname), &why) == -1) {
		fprintf(stderr, "rmail: import %s: %s\n", name, why);
		return -1;
	}
	if (store_tree_create(user_dir, name, NULL, err, sizeof(err)) == -1 &&
	    errno != EEXIST) {
		fprintf(stderr, "rmail: import %s: %s\n", name, err);
		return -1;
	}
	if ((mb = store_mbox_open(user_dir, dirname, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "rmail: import %s: %s\n", name, err);
		return -1;
	}
	mbox_path = xasprintf("%s/mailboxes/%s", user_dir, dirname);
	rec_path = xasprintf("%s/%s", mbox_path, IMPORT_RECORD);
	if (load_record(rec_path, &done, &need_nl) == -1 ||
	    load_keywords(src, &kw) == -1 ||
	    scan_sub(src, "cur", name, &v, &n, &c) == -1 ||
	    scan_sub(src, "new", name, &v, &n, &c) == -1)
		goto out;

	/* The same base in cur/ and new/ (Dovecot mid-move) counts once. */
	if (n > 1) {
		qsort(v, n, sizeof(*v), cmp_msg_base);
		for (size_t i = 1; i < n; i++)
			v[i].dup = strcmp(v[i].base, v[i - 1].base) == 0;
		qsort(v, n, sizeof(*v), cmp_msg_time);
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].dup || strset_has(&done, v[i].base)) {
			c.present++;
			continue;
		}
		if (import_msg(mb, mbox_path, name, &v[i], &kw, &recfd,
		    &need_nl, &c) == -1)
			break;
	}
	rv = 0;
out:
	if (recfd != -1 && close(recfd) == -1) {
		fprintf(stderr, "rmail: %s: %s\n", rec_path, strerror(errno));
		c.failed++;
	}
	if (rv == -1)
		c.failed++;
	print_counts(name, &c, false);
	tot->imported += c.imported;
	tot->present += c.present;
	tot->skipped += c.skipped;
	tot->failed += c.failed;
	free_keywords(&kw);
	free_msgs(v, n);
	strset_free(&done);
	free(rec_path);
	free(mbox_path);
	store_mbox_close(&mb);
	return 0;
}

static int
cmp_folder(const void *a, const void *b)
{
	const struct imp_folder *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/*
 * The Maildir++ folders of src: directories ".A.B" -> "A/B". Invalid
 * names are skipped with a warning and counted in *skipped. Sorted by
 * name. 0, or -1 after printing why.
 */
static int
scan_folders(const char *src, struct imp_folder **v_r, size_t *n_r,
    unsigned long *skipped)
{
	struct dirent	*de;
	struct stat	 st;
	char		 canon[STORE_MNAME_MAX];
	char		*raw;
	const char	*why;
	DIR		*d;

	if ((d = opendir(src)) == NULL) {
		fprintf(stderr, "rmail: %s: %s\n", src, strerror(errno));
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) == -1 ||
		    !S_ISDIR(st.st_mode))
			continue;
		raw = xstrdup(de->d_name + 1);
		for (char *p = raw; *p != '\0'; p++)
			if (*p == '.')
				*p = '/';
		if (store_name_check(raw, canon, sizeof(canon), &why) == -1) {
			fprintf(stderr, "rmail: %s/%s: not a usable mailbox "
			    "name (%s); skipped\n", src, de->d_name, why);
			(*skipped)++;
			free(raw);
			continue;
		}
		free(raw);
		*v_r = xrealloc(*v_r, (*n_r + 1) * sizeof(**v_r));
		(*v_r)[*n_r].src = xasprintf("%s/%s", src, de->d_name);
		(*v_r)[*n_r].name = xstrdup(canon);
		(*v_r)[*n_r].ok = false;
		(*n_r)++;
	}
	if (errno != 0) {
		fprintf(stderr, "rmail: %s: %s\n", src, strerror(errno));
		closedir(d);
		return -1;
	}
	closedir(d);
	if (*n_r > 1)
		qsort(*v_r, *n_r, sizeof(**v_r), cmp_folder);
	return 0;
}

static bool
folder_known(const struct imp_folder *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].ok && strcmp(v[i].name, name) == 0)
			return true;
	return false;
}

/*
 * Apply SRC/subscriptions, when it exists: one name per line. Dovecot
 * writes '/' or '.' as separator (or '\t' after a "V\t2" header line):
 * '\t' always becomes '/', '.' only when that names an imported folder.
 * Listed mailboxes are subscribed (absent ones ignored with a warning),
 * imported ones not listed unsubscribed. 0, or -1 after printing a
 * failure (warnings do not count).
 */
static int
import_subscriptions(const char *user_dir, const char *src,
    struct imp_folder *v, size_t n)
{
	struct strset	 subs = { NULL, 0 };
	char		 canon[STORE_MNAME_MAX], err[1024];
	char		*path, *data, *line, *next, *conv;
	const char	*why, *use;
	size_t		 len;
	int		 rv = 0;

	path = xasprintf("%s/subscriptions", src);
	if (read_file(path, &data, &len, NULL) == -1) {
		if (errno == ENOENT) {
			free(path);
			return 0;
		}
		fprintf(stderr, "rmail: %s: %s\n", path, strerror(errno));
		free(path);
		return -1;
	}
	for (line = data; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0 || strncmp(line, "V\t", 2) == 0)
			continue;
		for (char *p = line; *p != '\0'; p++)
			if (*p == '\t')
				*p = '/';
		use = line;
		conv = xstrdup(line);
		for (char *p = conv; *p != '\0'; p++)
			if (*p == '.')
				*p = '/';
		if (strchr(line, '.') != NULL &&
		    store_name_check(conv, canon, sizeof(canon), &why) == 0 &&
		    folder_known(v, n, canon))
			use = conv;
		if (store_name_check(use, canon, sizeof(canon), &why) == -1) {
			fprintf(stderr, "rmail: %s: \"%s\": %s; ignored\n", path,
			    line, why);
			free(conv);
			continue;
		}
		free(conv);
		if (store_tree_subscribe(user_dir, canon, true, err,
		    sizeof(err)) == -1) {
			if (errno == ENOENT)
				fprintf(stderr, "rmail: %s: %s: no such "
				    "mailbox; ignored\n", path, canon);
			else {
				fprintf(stderr, "rmail: subscribe %s: %s\n",
				    canon, err);
				rv = -1;
			}
			continue;
		}
		subs.v = xrealloc(subs.v, (subs.n + 1) * sizeof(*subs.v));
		subs.v[subs.n++] = xstrdup(canon);
	}
	if (subs.n > 1)
		qsort(subs.v, subs.n, sizeof(*subs.v), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].ok || strset_has(&subs, v[i].name))
			continue;
		if (store_tree_subscribe(user_dir, v[i].name, false, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "rmail: unsubscribe %s: %s\n",
			    v[i].name, err);
			rv = -1;
		}
	}
	strset_free(&subs);
	free(data);
	free(path);
	return rv;
}

/*
 * Import the Maildir++ account src into the store folder user_dir
 * (which exists): INBOX, then the folders by name, then subscriptions.
 * Prints a line per mailbox and a total. The exit status: 0, or 1 when
 * something failed (printed).
 */
int
import_maildir(const char *user_dir, const char *src)
{
	struct imp_count	 tot = { 0, 0, 0, 0 };
	struct imp_folder	*folders = NULL;
	unsigned long		 fskipped = 0;
	size_t			 nfolders = 0;
	int			 rv = 0;

	if (scan_folders(src, &folders, &nfolders, &fskipped) == -1)
		return 1;
	if (import_folder(user_dir, src, "INBOX", &tot) == -1)
		rv = 1;
	for (size_t i = 0; i < nfolders; i++) {
		if (import_folder(user_dir, folders[i].src, folders[i].name,
		    &tot) == -1)
			rv = 1;
		else
			folders[i].ok = true;
	}
	if (import_subscriptions(user_dir, src, folders, nfolders) == -1)
		rv = 1;
	print_counts("total", &tot, true);
	if (fskipped > 0)
		printf("rmail: import: %lu folder%s skipped (invalid "
		    "name)\n", fskipped, fskipped == 1 ? "" : "s");
	if (tot.failed > 0)
		rv = 1;
	for (size_t i = 0; i < nfolders; i++) {
		free(folders[i].src);
		free(folders[i].name);
	}
	free(folders);
	return rv;
}
