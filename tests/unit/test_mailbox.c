/* Unit tests: store/mailbox (on-disk mailbox primitives). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fsio.h"
#include "core/util.h"
#include "store/mailbox.h"
#include "store/quota.h"
#include "tests/unit/storetest.h"
#include "tests/unit/tmpdir.h"

/* The per-test user directory: USER/{mailboxes,tmp}. */
struct udir {
	char	 dir[64];
	char	*mbox;		/* USER/mailboxes/INBOX */
};

static int
setup(void **state)
{
	struct udir	*u = xcalloc(1, sizeof(*u));

	if (tmp_user_dir(u->dir) == -1) {
		free(u);
		return -1;
	}
	u->mbox = xasprintf("%s/mailboxes/INBOX", u->dir);
	*state = u;
	return 0;
}

static int
teardown(void **state)
{
	struct udir *u = *state;

	tmp_rm_rf(u->dir);
	free(u->mbox);
	free(u);
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static bool
exists(const char *dir, const char *name)
{
	struct stat	 st;
	char		*p = xasprintf("%s/%s", dir, name);
	int		 r = stat(p, &st);

	free(p);
	return r == 0;
}

static struct store_mbox *
make_inbox(struct udir *u)
{
	return st_make_mbox(u->dir, "INBOX");
}

/* Open the INBOX make_inbox() made. */
static struct store_mbox *
open_inbox(struct udir *u)
{
	return st_open_mbox(u->dir, "INBOX");
}

static void
test_create_open_empty(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb, *sent;
	char			 err[256];

	mb = make_inbox(u);
	assert_int_equal(store_mbox_count(mb), 0);
	assert_int_equal(store_mbox_uidnext(mb), 1);
	assert_true(store_mbox_uidvalidity(mb) != 0);
	assert_false(store_mbox_rebuilt(mb));
	assert_true(store_mbox_subscribed(mb));
	assert_null(store_mbox_special_use(mb));
	assert_null(store_mbox_at(mb, 0));
	assert_null(store_mbox_find(mb, 1));
	assert_true(exists(u->mbox, "status.json"));

	/* Same second, different mailbox: UIDVALIDITY must differ. */
	assert_int_equal(store_mbox_create(u->dir, "Sent", "\\Sent", err,
	    sizeof(err)), 0);
	sent = store_mbox_open(u->dir, "Sent", err, sizeof(err));
	assert_non_null(sent);
	assert_string_equal(store_mbox_special_use(sent), "\\Sent");
	assert_true(store_mbox_uidvalidity(sent) !=
	    store_mbox_uidvalidity(mb));
	store_mbox_close(&sent);
	assert_null(sent);
	store_mbox_close(&mb);
	store_mbox_close(&mb);	/* no-op */

	errno = 0;
	assert_null(store_mbox_open(u->dir, "Nope", err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_true(strlen(err) > 0);
	errno = 0;
	assert_null(store_mbox_open(u->dir, "../x", err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_mbox_create(u->dir, "Bad", "Sent", err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
}

static void
test_create_twice(void **state)
{
	struct udir	*u = *state;
	char		 err[256] = "";

	assert_int_equal(store_mbox_create(u->dir, "INBOX", NULL, err,
	    sizeof(err)), 0);
	errno = 0;
	assert_int_equal(store_mbox_create(u->dir, "INBOX", NULL, err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(err, "exists"));
	assert_true(exists(u->mbox, "status.json"));
}

static void
test_append_reopen(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb, *again;
	const struct store_msg	*m;
	const char		*texts[] = { "a\r\n", "bb\r\n", "ccc\r\n" };
	time_t			 when[] = { 1000000000, 1100000000, 0 };
	char			 path[PATH_MAX], err[256], *data;
	struct stat		 st;
	size_t			 i, len;
	time_t			 before = time(NULL);

	mb = make_inbox(u);
	for (i = 0; i < 3; i++)
		assert_int_equal(st_append(mb, texts[i], when[i], NULL), i + 1);
	assert_int_equal(store_mbox_count(mb), 3);
	assert_int_equal(store_mbox_uidnext(mb), 4);
	assert_true(exists(u->mbox, "0000/00000001_.eml"));
	assert_true(exists(u->mbox, "0000/00000002_.eml"));
	assert_true(exists(u->mbox, "0000/00000003_.eml"));
	for (i = 0; i < 3; i++) {
		m = store_mbox_at(mb, i);
		assert_int_equal(m->uid, i + 1);
		assert_ptr_equal(store_mbox_find(mb, (uint32_t)i + 1), m);
		assert_int_equal(store_mbox_path(mb, m->uid, path,
		    sizeof(path)), 0);
		data = fsio_read_file(path, 1024, &len);
		assert_non_null(data);
		assert_int_equal(len, strlen(texts[i]));
		assert_memory_equal(data, texts[i], len);
		free(data);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_size, m->size);
		assert_int_equal(m->size, (off_t)strlen(texts[i]));
		assert_int_equal(st.st_mtime, m->internaldate);
		if (when[i] != 0)
			assert_int_equal(m->internaldate, when[i]);
		else
			assert_true(m->internaldate >= before);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	assert_int_equal(tmp_count_files(u->dir, "tmp"), 0);
	errno = 0;
	assert_int_equal(store_mbox_path(mb, 9, path, sizeof(path)), -1);
	assert_int_equal(errno, ENOENT);

	again = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(again);
	assert_int_equal(store_mbox_count(again), 3);
	assert_int_equal(store_mbox_uidnext(again), 4);
	assert_int_equal(store_mbox_uidvalidity(again),
	    store_mbox_uidvalidity(mb));
	for (i = 0; i < 3; i++)
		assert_memory_equal(store_mbox_at(again, i),
		    store_mbox_at(mb, i), sizeof(struct store_msg));
	store_mbox_close(&again);
	store_mbox_close(&mb);
}

static void
test_append_flags_and_set(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb, *again;
	struct store_flags	 fl = { STORE_F_SEEN | STORE_F_FLAGGED, 1 };
	struct store_flags	 none = { 0, 0 };
	char			 err[256];

	mb = make_inbox(u);
	assert_int_equal(st_append(mb, "x\r\n", 0, &fl), 1);
	assert_true(exists(u->mbox, "0000/00000001_FSa.eml"));
	assert_int_equal(store_mbox_find(mb, 1)->flags.sys, fl.sys);
	assert_int_equal(store_mbox_find(mb, 1)->flags.kw, 1);

	fl.sys = STORE_F_ANSWERED | STORE_F_DRAFT;
	fl.kw = 2;
	assert_int_equal(store_mbox_set_flags(mb, 1, &fl), 0);
	assert_false(exists(u->mbox, "0000/00000001_FSa.eml"));
	assert_true(exists(u->mbox, "0000/00000001_ATb.eml"));
	assert_int_equal(store_mbox_find(mb, 1)->flags.sys, fl.sys);
	/* Same flags again: no rename, still fine. */
	assert_int_equal(store_mbox_set_flags(mb, 1, &fl), 0);
	assert_int_equal(store_mbox_set_flags(mb, 1, &none), 0);
	assert_true(exists(u->mbox, "0000/00000001_.eml"));
	assert_int_equal(tmp_count_files(u->mbox, "0000"), 1);
	errno = 0;
	assert_int_equal(store_mbox_set_flags(mb, 7, &fl), -1);
	assert_int_equal(errno, ENOENT);

	assert_int_equal(store_mbox_set_flags(mb, 1, &fl), 0);
	again = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(again);
	assert_int_equal(store_mbox_find(again, 1)->flags.sys, fl.sys);
	assert_int_equal(store_mbox_find(again, 1)->flags.kw, fl.kw);
	store_mbox_close(&again);
	store_mbox_close(&mb);
}

/* A batch renames at once and syncs each shard once at commit; a fresh
 * handle (another process) sees the new flags. */
static void
test_set_flags_batch(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*a, *b;
	struct store_flags	 seen = { STORE_F_SEEN, 0 };
	char			 err[256];

	a = make_inbox(u);
	for (int i = 0; i < 5; i++)
		st_append(a, "x\r\n", 0, NULL);
	store_mbox_flags_begin(a);
	for (uint32_t uid = 1; uid <= 5; uid++)
		assert_int_equal(store_mbox_set_flags(a, uid, &seen), 0);
	assert_true(exists(u->mbox, "0000/00000003_S.eml"));
	assert_int_equal(store_mbox_flags_commit(a), 0);
	/* Outside a batch, set_flags syncs by itself again. */
	assert_int_equal(store_mbox_set_flags(a, 1, &(struct store_flags){ 0, 0 }), 0);
	assert_int_equal(store_mbox_flags_commit(a), 0);	/* nothing to do */
	b = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(store_mbox_find(b, 1)->flags.sys, 0);
	for (uint32_t uid = 2; uid <= 5; uid++)
		assert_int_equal(store_mbox_find(b, uid)->flags.sys, STORE_F_SEEN);
	assert_int_equal(tmp_count_files(u->mbox, "0000"), 5);
	store_mbox_close(&b);
	store_mbox_close(&a);
}

static void
test_set_flags_chase(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*a, *b;
	struct store_flags	 seen = { STORE_F_SEEN, 0 };
	struct store_flags	 flagged = { STORE_F_FLAGGED, 0 };
	char			 err[256];

	a = make_inbox(u);
	st_append(a, "1\r\n", 0, NULL);
	st_append(a, "2\r\n", 0, NULL);
	b = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(store_mbox_set_flags(b, 1, &seen), 0);
	/* a still believes "00000001_.eml": it must chase the rename. */
	assert_int_equal(store_mbox_set_flags(a, 1, &flagged), 0);
	assert_true(exists(u->mbox, "0000/00000001_F.eml"));
	assert_false(exists(u->mbox, "0000/00000001_S.eml"));
	assert_false(exists(u->mbox, "0000/00000001_.eml"));
	assert_int_equal(tmp_count_files(u->mbox, "0000"), 2);
	assert_int_equal(store_mbox_find(a, 1)->flags.sys, STORE_F_FLAGGED);

	/* b renamed to what a wants: the chase ends with nothing to do. */
	assert_int_equal(store_mbox_set_flags(b, 2, &seen), 0);
	assert_int_equal(store_mbox_set_flags(a, 2, &seen), 0);
	assert_true(exists(u->mbox, "0000/00000002_S.eml"));
	assert_int_equal(tmp_count_files(u->mbox, "0000"), 2);
	store_mbox_close(&b);
	store_mbox_close(&a);
}

static void
test_gone_elsewhere(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*a, *b;
	struct store_flags	 seen = { STORE_F_SEEN, 0 };
	char			 err[256];

	a = make_inbox(u);
	st_append(a, "1\r\n", 0, NULL);
	st_append(a, "2\r\n", 0, NULL);
	st_append(a, "3\r\n", 0, NULL);
	b = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(b);

	assert_int_equal(store_mbox_expunge(b, 1), 0);
	errno = 0;
	assert_int_equal(store_mbox_set_flags(a, 1, &seen), -1);
	assert_int_equal(errno, ENOENT);
	assert_null(store_mbox_find(a, 1));
	assert_int_equal(store_mbox_count(a), 2);

	/* Renamed then expunged elsewhere; expunge here still succeeds. */
	assert_int_equal(store_mbox_set_flags(b, 2, &seen), 0);
	assert_int_equal(store_mbox_expunge(b, 2), 0);
	assert_int_equal(store_mbox_expunge(a, 2), 0);
	assert_null(store_mbox_find(a, 2));
	assert_int_equal(store_mbox_count(a), 1);
	errno = 0;
	assert_int_equal(store_mbox_expunge(a, 2), -1);
	assert_int_equal(errno, ENOENT);

	/* Expunge chases a rename too. */
	assert_int_equal(store_mbox_set_flags(b, 3, &seen), 0);
	assert_int_equal(store_mbox_expunge(a, 3), 0);
	assert_int_equal(tmp_count_files(u->mbox, "0000"), 0);
	assert_int_equal(store_mbox_count(a), 0);
	store_mbox_close(&b);
	store_mbox_close(&a);
}

static void
test_expunge(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb;

	mb = make_inbox(u);
	st_append(mb, "1\r\n", 0, NULL);
	st_append(mb, "2\r\n", 0, NULL);
	st_append(mb, "3\r\n", 0, NULL);
	assert_int_equal(store_mbox_expunge(mb, 2), 0);
	assert_false(exists(u->mbox, "0000/00000002_.eml"));
	assert_int_equal(store_mbox_count(mb), 2);
	assert_int_equal(store_mbox_at(mb, 0)->uid, 1);
	assert_int_equal(store_mbox_at(mb, 1)->uid, 3);
	assert_null(store_mbox_find(mb, 2));
	/* UIDs are never reused (RFC 3501 2.3.1.1). */
	assert_int_equal(st_append(mb, "4\r\n", 0, NULL), 4);
	store_mbox_close(&mb);
}

static void
test_status_rebuilt(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb, *again;
	char			 err[256], *status;
	uint32_t		 uv;

	mb = make_inbox(u);
	st_append(mb, "1\r\n", 0, NULL);
	st_append(mb, "2\r\n", 0, NULL);
	st_append(mb, "3\r\n", 0, NULL);
	assert_true(store_mbox_keyword(mb, "$Junk", true) == 0);
	uv = store_mbox_uidvalidity(mb);
	store_mbox_close(&mb);

	status = xasprintf("%s/status.json", u->mbox);
	assert_int_equal(unlink(status), 0);
	again = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(again);
	assert_true(store_mbox_rebuilt(again));
	assert_int_equal(store_mbox_uidnext(again), 4);
	assert_int_equal(store_mbox_count(again), 3);
	assert_int_equal(store_mbox_keyword_count(again), 0);
	assert_true(store_mbox_uidvalidity(again) != uv);
	store_mbox_close(&again);

	/* Persisted: a further open does not rebuild again. */
	again = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(again);
	assert_false(store_mbox_rebuilt(again));
	assert_int_equal(store_mbox_uidnext(again), 4);
	store_mbox_close(&again);

	write_file(status, "{\"version\": 1, \"uidvalidity\": ");
	again = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(again);
	assert_true(store_mbox_rebuilt(again));
	assert_int_equal(store_mbox_uidnext(again), 4);
	assert_int_equal(st_append(again, "4\r\n", 0, NULL), 4);
	store_mbox_close(&again);
	free(status);
}

static void
test_uidnext_raised(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb, *again;
	char			 err[256], *status, *text;

	mb = make_inbox(u);
	st_append(mb, "1\r\n", 0, NULL);
	st_append(mb, "2\r\n", 0, NULL);
	st_append(mb, "3\r\n", 0, NULL);
	status = xasprintf("%s/status.json", u->mbox);
	text = xasprintf("{\"version\": 1, \"uidvalidity\": %u, "
	    "\"uidnext\": 2, \"keywords\": [], \"subscribed\": false, "
	    "\"special_use\": null}", store_mbox_uidvalidity(mb));
	write_file(status, text);
	free(text);

	/* mb's own floor wins over the stale file. */
	assert_int_equal(st_append(mb, "4\r\n", 0, NULL), 4);
	write_file(status, "{\"version\": 1, \"uidvalidity\": 7, "
	    "\"uidnext\": 2, \"keywords\": []}");
	again = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(again);
	assert_false(store_mbox_rebuilt(again));
	assert_int_equal(store_mbox_uidvalidity(again), 7);
	assert_true(store_mbox_subscribed(again));
	assert_int_equal(store_mbox_uidnext(again), 5);
	store_mbox_close(&again);
	/* The raise was persisted. */
	text = fsio_read_file(status, 4096, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"uidnext\": 5"));
	free(text);
	free(status);
	store_mbox_close(&mb);
}

static void
test_two_handles(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*a, *b;
	char			 err[256];
	uint32_t		 ua, ub;

	a = make_inbox(u);
	b = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(b);
	ua = st_append(a, "from a\r\n", 0, NULL);
	ub = st_append(b, "from b\r\n", 0, NULL);
	assert_int_equal(ua, 1);
	assert_int_equal(ub, 2);
	assert_int_equal(st_append(a, "a again\r\n", 0, NULL), 3);
	assert_true(exists(u->mbox, "0000/00000001_.eml"));
	assert_true(exists(u->mbox, "0000/00000002_.eml"));
	assert_true(exists(u->mbox, "0000/00000003_.eml"));
	/*
	 * An append first takes in what others appended (a's index must
	 * not announce 3 and then 2); b learns of 3 only on refresh.
	 */
	assert_int_equal(store_mbox_count(a), 3);
	assert_int_equal(store_mbox_at(a, 1)->uid, 2);
	assert_int_equal(store_mbox_count(b), 2);
	assert_int_equal(store_mbox_refresh(a), 0);
	assert_int_equal(store_mbox_count(a), 3);
	assert_int_equal(store_mbox_refresh(b), 0);
	assert_int_equal(store_mbox_count(b), 3);
	assert_int_equal(store_mbox_uidnext(b), 4);
	store_mbox_close(&b);
	store_mbox_close(&a);
}

#define FORK_N	200

static int
child_appends(const char *user_dir)
{
	struct store_mbox	*mb;
	char			 err[256];
	int			 i, rc = 0;

	if ((mb = store_mbox_open(user_dir, "INBOX", err, sizeof(err))) ==
	    NULL)
		return 1;
	for (i = 0; i < FORK_N; i++)
		if (store_mbox_append(mb, "child\r\n", 7, 0, NULL, NULL, err,
		    sizeof(err)) == -1)
			rc = 1;
	store_mbox_close(&mb);
	return rc;
}

static void
test_fork_concurrent(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb;
	pid_t			 pid;
	int			 i, status;
	size_t			 k;

	mb = make_inbox(u);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0)
		_exit(child_appends(u->dir));
	for (i = 0; i < FORK_N; i++)
		st_append(mb, "parent\r\n", 0, NULL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	assert_int_equal(store_mbox_refresh(mb), 0);
	assert_int_equal(store_mbox_count(mb), 2 * FORK_N);
	for (k = 0; k < store_mbox_count(mb); k++)
		assert_int_equal(store_mbox_at(mb, k)->uid, k + 1);
	assert_int_equal(store_mbox_uidnext(mb), 2 * FORK_N + 1);
	assert_int_equal(tmp_count_files(u->mbox, "0000"), 2 * FORK_N);
	store_mbox_close(&mb);
}

static void
test_keywords(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*a, *b;
	char			 err[256], kw[16];
	int			 i;

	a = make_inbox(u);
	b = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(store_mbox_keyword(a, "$Forwarded", true), 0);
	assert_int_equal(store_mbox_keyword(a, "$Junk", true), 1);
	assert_int_equal(store_mbox_keyword(a, "$forwarded", false), 0);
	assert_int_equal(store_mbox_keyword(a, "$JUNK", true), 1);
	errno = 0;
	assert_int_equal(store_mbox_keyword(a, "nope", false), -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(store_mbox_keyword(a, "a b", true), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_mbox_keyword(a, "\\Seen", true), -1);
	assert_int_equal(store_mbox_keyword(a, "", true), -1);

	/* b has not seen a's keywords: it must not reuse their bits. */
	assert_int_equal(store_mbox_keyword(b, "fromb", true), 2);
	assert_int_equal(store_mbox_keyword(b, "$junk", false), 1);
	assert_int_equal(store_mbox_keyword(a, "FROMB", true), 2);
	assert_int_equal(store_mbox_keyword_count(a), 3);
	assert_string_equal(store_mbox_keyword_name(a, 2), "fromb");
	assert_null(store_mbox_keyword_name(a, 3));

	for (i = 3; i < 26; i++) {
		snprintf(kw, sizeof(kw), "kw%d", i);
		assert_int_equal(store_mbox_keyword(a, kw, true), i);
	}
	errno = 0;
	assert_int_equal(store_mbox_keyword(a, "one-too-many", true), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(store_mbox_keyword(a, "kw25", true), 25);
	store_mbox_close(&b);
	store_mbox_close(&a);

	a = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(store_mbox_keyword_count(a), 26);
	assert_string_equal(store_mbox_keyword_name(a, 0), "$Forwarded");
	assert_string_equal(store_mbox_keyword_name(a, 25), "kw25");
	assert_int_equal(store_mbox_keyword(a, "KW7", false), 7);
	store_mbox_close(&a);
}

static void
test_junk_ignored(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb;
	char			 err[256], *p;
	size_t			 i;
	const char		*junk[] = {
		"0000/.00000005_.eml", "0000/hello", "0000/00000006_.eml.bak",
		"0000/6_.eml", "0000/00000006_SF.eml", "0000/00000006_ba.eml",
		"0001/00000007_.eml",	/* wrong shard */
		"abc/00000008_.eml",	/* not a shard */
		".tmp.status.json", "00000009_.eml",
	};

	mb = make_inbox(u);
	st_append(mb, "1\r\n", 0, NULL);
	store_mbox_close(&mb);
	p = xasprintf("%s/0001", u->mbox);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/abc", u->mbox);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	/* A directory with a message name is not a message. */
	p = xasprintf("%s/0000/00000004_.eml", u->mbox);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	for (i = 0; i < NELEM(junk); i++) {
		p = xasprintf("%s/%s", u->mbox, junk[i]);
		write_file(p, "junk");
		free(p);
	}
	mb = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(mb);
	assert_int_equal(store_mbox_count(mb), 1);
	assert_int_equal(store_mbox_at(mb, 0)->uid, 1);
	assert_int_equal(store_mbox_uidnext(mb), 2);
	assert_int_equal(store_mbox_refresh(mb), 0);
	assert_int_equal(store_mbox_count(mb), 1);
	store_mbox_close(&mb);
}

static void
test_clean_tmp(void **state)
{
	struct udir	*u = *state;
	char		*p;

	/* pid 0 is nobody's: a leftover. */
	p = xasprintf("%s/tmp/0.5678.0", u->dir);
	write_file(p, "half a message");
	free(p);
	p = xasprintf("%s/tmp/.hidden", u->dir);
	write_file(p, "x");
	free(p);
	assert_int_equal(store_user_clean_tmp(u->dir), 0);
	assert_int_equal(tmp_count_files(u->dir, "tmp"), 0);
	assert_true(exists(u->dir, "tmp"));
	assert_false(exists(u->dir, "tmp/.hidden"));
	/* No tmp/ at all is not an error. */
	p = xasprintf("%s/tmp", u->dir);
	assert_int_equal(rmdir(p), 0);
	free(p);
	assert_int_equal(store_user_clean_tmp(u->dir), 0);
}

static void
test_shard_crossing(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb;
	char			 err[256], *status, *text;
	uint32_t		 uv;

	mb = make_inbox(u);
	uv = store_mbox_uidvalidity(mb);
	store_mbox_close(&mb);
	status = xasprintf("%s/status.json", u->mbox);
	text = xasprintf("{\"version\": 1, \"uidvalidity\": %u, "
	    "\"uidnext\": 999, \"keywords\": [], \"subscribed\": true, "
	    "\"special_use\": null}", uv);
	write_file(status, text);
	free(text);
	free(status);

	mb = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(mb);
	assert_int_equal(st_append(mb, "999\r\n", 0, NULL), 999);
	assert_int_equal(st_append(mb, "1000\r\n", 0, NULL), 1000);
	assert_true(exists(u->mbox, "0000/00000999_.eml"));
	assert_true(exists(u->mbox, "0001/00001000_.eml"));
	store_mbox_close(&mb);
	mb = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(mb);
	assert_int_equal(store_mbox_count(mb), 2);
	assert_non_null(store_mbox_find(mb, 1000));
	assert_int_equal(store_mbox_uidnext(mb), 1001);
	assert_int_equal(store_mbox_expunge(mb, 1000), 0);
	assert_false(exists(u->mbox, "0001/00001000_.eml"));
	store_mbox_close(&mb);
}

static void
test_append_fails_cleanly(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb;
	char			 err[256] = "", *status, *text;
	uint32_t		 uid = 42;

	mb = make_inbox(u);
	status = xasprintf("%s/status.json", u->mbox);
	text = xasprintf("{\"version\": 1, \"uidvalidity\": %u, "
	    "\"uidnext\": 4294967295, \"keywords\": []}",
	    store_mbox_uidvalidity(mb));
	write_file(status, text);
	free(text);
	free(status);
	/* RFC 3501 2.3.1.1: no UID left; nothing may change. */
	errno = 0;
	assert_int_equal(store_mbox_append(mb, "x\r\n", 3, 0, NULL, &uid, err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EOVERFLOW);
	assert_true(strlen(err) > 0);
	assert_int_equal(uid, 42);
	assert_int_equal(store_mbox_count(mb), 0);
	assert_int_equal(tmp_count_files(u->dir, "tmp"), 0);
	assert_false(exists(u->mbox, "4294967"));
	store_mbox_close(&mb);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

static void
test_crlf(void **state)
{
	static const struct {
		const char *head, *in, *out;
	} t[] = {
		{ NULL, "", "" },
		{ NULL, "\n", "\r\n" },
		{ NULL, "a\nb\r\nc\rd\n", "a\r\nb\r\nc\rd\r\n" },
		{ "X: 1\r\n", "Subject: s\n\nbody", "X: 1\r\nSubject: s\r\n\r\nbody" },
	};
	size_t len;
	char *out;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		out = store_crlf(t[i].head, t[i].in, strlen(t[i].in), &len);
		assert_int_equal(len, strlen(t[i].out));
		assert_string_equal(out, t[i].out);
		free(out);
	}
}

static void
count_expunges(void *arg, const struct store_event *ev)
{
	uint32_t *last = arg;

	assert_int_equal(ev->type, STORE_EV_EXPUNGE);
	/* In uid order. */
	assert_true(ev->uid > last[0]);
	last[0] = ev->uid;
	last[1]++;
}

static void
test_expunge_many(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb, *other;
	struct store_sub	*sub;
	struct store_flags	 seen = { .sys = STORE_F_SEEN, .kw = 0 };
	uint32_t		 uids[6], gone[4], bad[2] = { 3, 2 }, heard[2] = { 0, 0 };
	char			 err[256];
	int			 i;

	mb = make_inbox(u);
	for (i = 0; i < 6; i++)
		uids[i] = st_append(mb, "m\r\n", 0, NULL);
	/* Another process renames one of them first: it is still found. */
	other = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(other);
	assert_int_equal(store_mbox_set_flags(other, uids[2], &seen), 0);
	store_mbox_close(&other);
	sub = store_mbox_subscribe(mb, count_expunges, heard);
	assert_int_equal(store_mbox_expunge_uids(mb, bad, 2), -1);
	assert_int_equal(errno, EINVAL);
	gone[0] = uids[0];
	gone[1] = uids[2];
	gone[2] = uids[4];
	gone[3] = 99;		/* not there: skipped */
	assert_int_equal(store_mbox_expunge_uids(mb, gone, 4), 0);
	assert_int_equal(heard[1], 3);
	assert_int_equal(store_mbox_count(mb), 3);
	assert_int_equal(store_mbox_at(mb, 0)->uid, uids[1]);
	assert_int_equal(store_mbox_at(mb, 1)->uid, uids[3]);
	assert_int_equal(store_mbox_at(mb, 2)->uid, uids[5]);
	assert_int_equal(tmp_count_files(u->mbox, "0000"), 3);
	store_mbox_unsubscribe(mb, &sub);
	/* What is on disk agrees. */
	assert_int_equal(store_mbox_refresh(mb), 0);
	assert_int_equal(store_mbox_count(mb), 3);
	store_mbox_close(&mb);
}

/* status.json's text, for what it records. */
static char *
status_text(const struct udir *u)
{
	char	*p = xasprintf("%s/status.json", u->mbox), *t;
	size_t	 len;

	t = fsio_read_file(p, 1 << 20, &len);
	free(p);
	assert_non_null(t);
	return t;
}

static void
test_append_once(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb;
	struct store_quota	 q;
	char			 err[256], *st;
	uint32_t		 uid1 = 0, uid = 0;
	bool			 dup = true;

	mb = make_inbox(u);
	assert_int_equal(store_mbox_append_once(mb, "Q1.0", "a\r\n", 3, 0,
	    NULL, &uid1, &dup, err, sizeof(err)), 0);
	assert_false(dup);
	/* The key is recorded with its uid in status.json. */
	st = status_text(u);
	assert_non_null(strstr(st, "\"Q1.0\""));
	free(st);
	/* The retry after a crash: nothing new, the same uid. */
	assert_int_equal(store_mbox_append_once(mb, "Q1.0", "a\r\n", 3, 0,
	    NULL, &uid, &dup, err, sizeof(err)), 0);
	assert_true(dup);
	assert_int_equal(uid, uid1);
	assert_int_equal(store_mbox_count(mb), 1);
	assert_int_equal(tmp_count_files(u->mbox, "0000"), 1);
	assert_int_equal(tmp_count_files(u->dir, "tmp"), 0);
	/* Even over quota the retry is answered (it takes no more room). */
	memset(&q, 0, sizeof(q));
	q.max_messages = 1;
	store_mbox_set_quota(mb, &q);
	assert_int_equal(store_mbox_append_once(mb, "Q1.0", "a\r\n", 3, 0,
	    NULL, &uid, &dup, err, sizeof(err)), 0);
	assert_true(dup);
	assert_int_equal(store_mbox_append_once(mb, "Q1.1", "a\r\n", 3, 0,
	    NULL, &uid, &dup, err, sizeof(err)), -1);
	assert_int_equal(errno, EDQUOT);
	store_mbox_set_quota(mb, NULL);
	/* Another handle (rmail deliver's kind) sees the record too. */
	{
		struct store_mbox *other = store_mbox_open_append(u->dir,
		    "INBOX", err, sizeof(err));

		assert_non_null(other);
		assert_int_equal(store_mbox_append_once(other, "Q1.0", "a\r\n",
		    3, 0, NULL, &uid, &dup, err, sizeof(err)), 0);
		assert_true(dup);
		assert_int_equal(uid, uid1);
		store_mbox_close(&other);
	}
	/* A message expunged since: the key no longer stops a new copy. */
	assert_int_equal(store_mbox_expunge_uids(mb, &uid1, 1), 0);
	assert_int_equal(store_mbox_append_once(mb, "Q1.0", "a\r\n", 3, 0,
	    NULL, &uid, &dup, err, sizeof(err)), 0);
	assert_false(dup);
	assert_true(uid > uid1);
	/* Keys are tokens: nothing else. */
	assert_int_equal(store_mbox_append_once(mb, "../x", "a\r\n", 3, 0,
	    NULL, &uid, &dup, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_mbox_append_once(mb, ".x", "a\r\n", 3, 0,
	    NULL, &uid, &dup, err, sizeof(err)), -1);
	assert_int_equal(store_mbox_append_once(mb, "", "a\r\n", 3, 0,
	    NULL, &uid, &dup, err, sizeof(err)), -1);
	assert_int_equal(store_mbox_refresh(mb), 0);
	assert_int_equal(store_mbox_count(mb), 1);
	store_mbox_close(&mb);
}

/* A key written by a crashed append whose message never appeared does
 * not count; the oldest keys go past MBOX_KEYS_MAX (256). */
static void
test_append_keys_bounded(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb;
	char			 err[256], key[32], *st;
	uint32_t		 uid = 0;
	bool			 dup;

	mb = make_inbox(u);
	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "K%d.0", i);
		assert_int_equal(store_mbox_append_once(mb, key, "a\r\n", 3,
		    0, NULL, &uid, &dup, err, sizeof(err)), 0);
		assert_false(dup);
	}
	st = status_text(u);
	assert_null(strstr(st, "\"K0.0\""));
	assert_null(strstr(st, "\"K43.0\""));
	assert_non_null(strstr(st, "\"K44.0\""));
	assert_non_null(strstr(st, "\"K299.0\""));
	free(st);
	/* A recent key is still answered. */
	assert_int_equal(store_mbox_append_once(mb, "K299.0", "a\r\n", 3, 0,
	    NULL, &uid, &dup, err, sizeof(err)), 0);
	assert_true(dup);
	assert_int_equal(uid, 300);
	store_mbox_close(&mb);
	/* A record pointing at a uid that never appeared (crash between
	 * the status write and the rename): reopen and append again. */
	{
		char *p = xasprintf("%s/status.json", u->mbox);
		char *t = status_text(u), *k = strstr(t, "\"K299.0\"");

		assert_non_null(k);
		/* Point K299.0 at uid 999, past every message. */
		k = strchr(k, ',');
		assert_non_null(k);
		k++;
		while (*k == ' ' || *k == '\n')
			k++;
		assert_int_equal(strncmp(k, "300", 3), 0);
		memcpy(k, "999", 3);
		write_file(p, t);
		free(t);
		free(p);
	}
	mb = open_inbox(u);
	assert_int_equal(store_mbox_append_once(mb, "K299.0", "a\r\n", 3, 0,
	    NULL, &uid, &dup, err, sizeof(err)), 0);
	assert_false(dup);
	store_mbox_close(&mb);
}

/* A batch: uids in array order, one key dup, one over quota, links. */
static void
test_append_many(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb;
	struct store_append	 a[4];
	struct store_quota	 q;
	struct stat		 st1, st2;
	char			 err[256], *src, p1[PATH_MAX], p2[PATH_MAX];
	uint32_t		 uid = 0;
	bool			 dup;

	mb = make_inbox(u);
	assert_int_equal(store_mbox_append_once(mb, "Q.0", "old\r\n", 5, 0,
	    NULL, &uid, &dup, err, sizeof(err)), 0);
	src = xasprintf("%s/shared-src", u->dir);
	write_file(src, "linked\r\n");
	memset(a, 0, sizeof(a));
	a[0].key = "Q.0";			/* done before */
	a[0].data = "old\r\n";
	a[0].len = 5;
	a[1].key = "Q.1";
	a[1].data = "linked\r\n";
	a[1].len = 8;
	a[1].link_from = src;
	a[2].key = "Q.2";
	a[2].data = "linked\r\n";
	a[2].len = 8;
	a[2].link_from = src;
	a[3].key = "Q.3";			/* over the quota */
	a[3].data = "x\r\n";
	a[3].len = 3;
	memset(&q, 0, sizeof(q));
	q.max_messages = 3;
	store_mbox_set_quota(mb, &q);
	assert_int_equal(store_mbox_append_many(mb, a, 4, err, sizeof(err)),
	    0);
	assert_true(a[0].dup);
	assert_int_equal(a[0].uid, uid);
	assert_int_equal(a[1].error, 0);
	assert_int_equal(a[2].error, 0);
	assert_int_equal(a[1].uid, uid + 1);
	assert_int_equal(a[2].uid, uid + 2);
	assert_int_equal(a[3].error, EDQUOT);
	assert_int_equal(a[3].uid, 0);
	assert_int_equal(store_mbox_count(mb), 3);
	store_mbox_set_quota(mb, NULL);
	/* The two copies are one inode (hard links), and read back. */
	snprintf(p1, sizeof(p1), "%s/0000/%08u_.eml", u->mbox, a[1].uid);
	snprintf(p2, sizeof(p2), "%s/0000/%08u_.eml", u->mbox, a[2].uid);
	assert_int_equal(stat(p1, &st1), 0);
	assert_int_equal(stat(p2, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(st1.st_size, 8);
	assert_int_equal(tmp_count_files(u->dir, "tmp"), 0);
	/* Another process sees the same. */
	{
		struct store_mbox *other = open_inbox(u);

		assert_int_equal(store_mbox_count(other), 3);
		store_mbox_close(&other);
	}
	free(src);
	store_mbox_close(&mb);
}

/* An append-only handle knows only its own appends: a refresh must take
 * the older messages as they are, never as strays to renumber. */
static void
test_open_append_then_refresh(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*full, *part;
	char			 err[256];

	full = make_inbox(u);
	st_append(full, "1\r\n", 0, NULL);
	st_append(full, "2\r\n", 0, NULL);
	part = store_mbox_open_append(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(part);
	assert_int_equal(store_mbox_count(part), 0);
	assert_int_equal(st_append(part, "3\r\n", 0, NULL), 3);
	assert_int_equal(store_mbox_count(part), 1);
	assert_int_equal(store_mbox_refresh_shard(part, 0), 0);
	assert_int_equal(store_mbox_count(part), 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(store_mbox_at(part, i)->uid, i + 1);
	assert_true(exists(u->mbox, "0000/00000001_.eml"));
	assert_true(exists(u->mbox, "0000/00000002_.eml"));
	assert_int_equal(store_mbox_uidnext(part), 4);
	/* From now on it is a full handle: a restored file is a stray. */
	assert_int_equal(store_mbox_refresh(part), 0);
	assert_int_equal(store_mbox_count(part), 3);
	store_mbox_close(&part);
	store_mbox_close(&full);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crlf),
		T(test_create_open_empty),
		T(test_create_twice),
		T(test_append_reopen),
		T(test_append_flags_and_set),
		T(test_set_flags_batch),
		T(test_set_flags_chase),
		T(test_gone_elsewhere),
		T(test_expunge),
		T(test_status_rebuilt),
		T(test_uidnext_raised),
		T(test_two_handles),
		T(test_fork_concurrent),
		T(test_keywords),
		T(test_junk_ignored),
		T(test_clean_tmp),
		T(test_shard_crossing),
		T(test_append_fails_cleanly),
		T(test_expunge_many),
		T(test_append_once),
		T(test_append_keys_bounded),
		T(test_append_many),
		T(test_open_append_then_refresh),
	};

	return cmocka_run_group_tests_name("mailbox", tests, NULL, NULL);
}
