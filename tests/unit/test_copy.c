/* Unit tests: store/copy (COPY and MOVE between mailboxes). */
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
#include <unistd.h>

#include "core/fsio.h"
#include "core/util.h"
#include "store/copy.h"
#include "store/mailbox.h"
#include "store/quota.h"
#include "tests/unit/storetest.h"
#include "tests/unit/tmpdir.h"

/*
 * Fault injection: this link() overrides libc's for the whole test binary
 * (the store is linked in statically), so a test can make the store's
 * link(2) fail. fail_errno 0: the real link; else fail call number
 * fail_at (1-based, counted from the last reset) with fail_errno, or every
 * call when fail_at is 0.
 */
static int	link_fail_errno;
static int	link_fail_at;
static int	link_calls;

int
link(const char *from, const char *to)
{
	link_calls++;
	if (link_fail_errno != 0 &&
	    (link_fail_at == 0 || link_calls == link_fail_at)) {
		errno = link_fail_errno;
		return -1;
	}
	return linkat(AT_FDCWD, from, AT_FDCWD, to, 0);
}

static void
link_fail(int err, int at)
{
	link_fail_errno = err;
	link_fail_at = at;
	link_calls = 0;
}

/* The per-test user directory: USER/{mailboxes,tmp}. */
struct udir {
	char	 dir[64];
};

static int
setup(void **state)
{
	struct udir *u = xcalloc(1, sizeof(*u));

	if (tmp_user_dir(u->dir) == -1) {
		free(u);
		return -1;
	}
	link_fail(0, 0);
	*state = u;
	return 0;
}

static int
teardown(void **state)
{
	struct udir *u = *state;

	link_fail(0, 0);
	tmp_rm_rf(u->dir);
	free(u);
	return 0;
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static struct store_mbox *
make_mbox(struct udir *u, const char *name)
{
	return st_make_mbox(u->dir, name);
}

static void
stat_msg(const struct store_mbox *mb, uint32_t uid, struct stat *st)
{
	char path[PATH_MAX];

	assert_int_equal(store_mbox_path(mb, uid, path, sizeof(path)), 0);
	assert_int_equal(stat(path, st), 0);
}

/* Assert that message uid of mb holds exactly text. */
static void
assert_body(const struct store_mbox *mb, uint32_t uid, const char *text)
{
	char	 path[PATH_MAX], *data;
	size_t	 len;

	assert_int_equal(store_mbox_path(mb, uid, path, sizeof(path)), 0);
	data = fsio_read_file(path, 1 << 20, &len);
	assert_non_null(data);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(data, text, len);
	free(data);
}

static int
do_copy(struct store_mbox *src, struct store_mbox *dst, const uint32_t *uids,
    size_t n, bool move, uint32_t *out)
{
	char err[256] = "";
	int r;

	r = store_mbox_copy(src, dst, uids, n, move, out, err, sizeof(err));
	if (r == -1)
		assert_true(strlen(err) > 0);
	return r;
}

/* Events recorded by a subscriber. */
struct evlog {
	size_t		 n;
	enum store_ev	 type[16];
	uint32_t	 uid[16];
};

static void
record(void *arg, const struct store_event *ev)
{
	struct evlog *l = arg;

	assert_true(l->n < NELEM(l->type));
	if (ev->type == STORE_EV_EXISTS) {
		/* The message is in the index by the time it is announced. */
		assert_non_null(ev->msg);
		assert_int_equal(ev->msg->uid, ev->uid);
	}
	l->type[l->n] = ev->type;
	l->uid[l->n] = ev->uid;
	l->n++;
}

static const char *const texts[] = {
	"Subject: one\r\n\r\n1\r\n",
	"Subject: two\r\n\r\ntwo\r\n",
	"Subject: three\r\n\r\nthree!\r\n",
};
static const time_t dates[] = { 1000000000, 1100000000, 1200000000 };

/* INBOX with texts[] as uids 1..3: no flags, \Seen, \Flagged \Answered. */
static struct store_mbox *
make_src(struct udir *u)
{
	struct store_mbox	*mb = make_mbox(u, "INBOX");
	struct store_flags	 fl[3] = {
		{ 0, 0 },
		{ STORE_F_SEEN, 0 },
		{ STORE_F_FLAGGED | STORE_F_ANSWERED, 0 },
	};

	for (size_t i = 0; i < 3; i++)
		assert_int_equal(st_append(mb, texts[i], dates[i], &fl[i]), i + 1);
	return mb;
}

static void
test_copy_basic(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*src, *dst, *again;
	const struct store_msg	*a, *b;
	const uint32_t		 uids[] = { 1, 2, 3 };
	uint32_t		 out[3];
	struct stat		 st;
	char			 err[256];
	size_t			 i;

	src = make_src(u);
	dst = make_mbox(u, "Archive");
	assert_int_equal(st_append(dst, "old\r\n", 0, NULL), 1);

	assert_int_equal(do_copy(src, dst, uids, 3, false, out), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(out[i], i + 2);
		a = store_mbox_find(src, uids[i]);
		b = store_mbox_find(dst, out[i]);
		assert_non_null(a);
		assert_non_null(b);
		assert_int_equal(b->flags.sys, a->flags.sys);
		assert_int_equal(b->flags.kw, 0);
		assert_int_equal(b->size, a->size);
		assert_int_equal(b->internaldate, dates[i]);
		assert_body(dst, out[i], texts[i]);
		assert_body(src, uids[i], texts[i]);
		/* Same file system: a hard link, one inode for both. */
		stat_msg(dst, out[i], &st);
		assert_int_equal(st.st_nlink, 2);
		assert_int_equal(st.st_mtime, dates[i]);
	}
	assert_int_equal(store_mbox_count(src), 3);
	assert_int_equal(store_mbox_count(dst), 4);
	assert_int_equal(store_mbox_uidnext(dst), 5);
	assert_int_equal(store_mbox_uidnext(src), 4);
	assert_int_equal(tmp_count_files(u->dir, "tmp"), 0);

	/* Another handle (or process) finds the copies on disk. */
	again = store_mbox_open(u->dir, "Archive", err, sizeof(err));
	assert_non_null(again);
	assert_int_equal(store_mbox_count(again), 4);
	assert_int_equal(store_mbox_uidnext(again), 5);
	for (i = 0; i < 4; i++)
		assert_memory_equal(store_mbox_at(again, i),
		    store_mbox_at(dst, i), sizeof(struct store_msg));
	/* And allocates after the block. */
	assert_int_equal(st_append(again, "next\r\n", 0, NULL), 5);
	store_mbox_close(&again);
	store_mbox_close(&dst);
	store_mbox_close(&src);
}

static void
test_copy_keywords(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*src, *dst;
	struct store_flags	 fl = { STORE_F_SEEN, 0 };
	const uint32_t		 uids[] = { 1, 2 };
	uint32_t		 out[2];
	char			 kw[16];
	int			 i;

	src = make_mbox(u, "INBOX");
	dst = make_mbox(u, "Archive");
	assert_int_equal(store_mbox_keyword(src, "$Junk", true), 0);
	assert_int_equal(store_mbox_keyword(src, "work", true), 1);
	assert_int_equal(store_mbox_keyword(src, "home", true), 2);
	assert_int_equal(store_mbox_keyword(dst, "HOME", true), 0);
	assert_int_equal(store_mbox_keyword(dst, "other", true), 1);

	fl.kw = 1u << 1 | 1u << 2;	/* work, home */
	st_append(src, "a\r\n", 0, &fl);
	fl.kw = 1u << 0;		/* $Junk */
	st_append(src, "b\r\n", 0, &fl);

	assert_int_equal(do_copy(src, dst, uids, 2, false, out), 0);
	/* home is dst's 0 (matched without case); work is new: 2. */
	assert_int_equal(store_mbox_find(dst, out[0])->flags.sys,
	    STORE_F_SEEN);
	assert_int_equal(store_mbox_find(dst, out[0])->flags.kw,
	    1u << 0 | 1u << 2);
	assert_int_equal(store_mbox_keyword_count(dst), 4);
	assert_string_equal(store_mbox_keyword_name(dst, 2), "work");
	assert_string_equal(store_mbox_keyword_name(dst, 3), "$Junk");
	assert_int_equal(store_mbox_find(dst, out[1])->flags.kw, 1u << 3);
	/* The source keeps its own bits. */
	assert_int_equal(store_mbox_find(src, 1)->flags.kw, 1u << 1 | 1u << 2);

	/* A full keyword list: the keyword is dropped, the copy made. */
	for (i = 4; i < 26; i++) {
		snprintf(kw, sizeof(kw), "kw%d", i);
		assert_int_equal(store_mbox_keyword(dst, kw, true), i);
	}
	assert_int_equal(store_mbox_keyword(src, "late", true), 3);
	fl.kw = 1u << 3 | 1u << 1;	/* late, work */
	assert_int_equal(st_append(src, "c\r\n", 0, &fl), 3);
	assert_int_equal(do_copy(src, dst, (const uint32_t []){ 3 }, 1, false,
	    out), 0);
	assert_int_equal(store_mbox_find(dst, out[0])->flags.kw, 1u << 2);
	assert_int_equal(store_mbox_keyword_count(dst), 26);
	store_mbox_close(&dst);
	store_mbox_close(&src);
}

static void
test_copy_missing(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*src, *dst;
	const uint32_t		 uids[] = { 1, 2, 3, 9 };
	const uint32_t		 bad[] = { 2, 1 };
	uint32_t		 out[4];

	src = make_src(u);
	dst = make_mbox(u, "Archive");
	assert_int_equal(store_mbox_expunge(src, 2), 0);
	assert_int_equal(do_copy(src, dst, uids, 4, false, out), 0);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2], 2);
	assert_int_equal(out[3], 0);
	assert_int_equal(store_mbox_count(dst), 2);
	assert_body(dst, 2, texts[2]);

	/* Nothing left to copy: success, nothing allocated. */
	out[0] = 42;
	assert_int_equal(do_copy(src, dst, (const uint32_t []){ 2 }, 1, false,
	    out), 0);
	assert_int_equal(out[0], 0);
	assert_int_equal(store_mbox_uidnext(dst), 3);
	assert_int_equal(do_copy(src, dst, NULL, 0, false, NULL), 0);

	/* Not ascending (or duplicates): refused before anything. */
	errno = 0;
	assert_int_equal(do_copy(src, dst, bad, 2, false, out), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_mbox_count(dst), 2);
	store_mbox_close(&dst);
	store_mbox_close(&src);
}

static void
test_move_events(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*src, *dst;
	struct store_sub	*ss, *ds;
	struct evlog		 sl, dl;
	const uint32_t		 uids[] = { 1, 3 };
	uint32_t		 out[2];
	struct stat		 st;
	char			 path[PATH_MAX];
	size_t			 i;

	memset(&sl, 0, sizeof(sl));
	memset(&dl, 0, sizeof(dl));
	src = make_src(u);
	dst = make_mbox(u, "Archive");
	ss = store_mbox_subscribe(src, record, &sl);
	ds = store_mbox_subscribe(dst, record, &dl);
	assert_int_equal(store_mbox_path(src, 1, path, sizeof(path)), 0);

	assert_int_equal(do_copy(src, dst, uids, 2, true, out), 0);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
	assert_int_equal(store_mbox_count(src), 1);
	assert_int_equal(store_mbox_at(src, 0)->uid, 2);
	assert_false(exists(path));
	assert_int_equal(tmp_count_files(u->dir, "mailboxes/INBOX/0000"), 1);
	assert_int_equal(store_mbox_count(dst), 2);
	for (i = 0; i < 2; i++) {
		assert_body(dst, out[i], texts[uids[i] - 1]);
		stat_msg(dst, out[i], &st);
		assert_int_equal(st.st_nlink, 1);
		assert_int_equal(st.st_mtime, dates[uids[i] - 1]);
	}
	assert_int_equal(store_mbox_find(dst, 2)->flags.sys,
	    STORE_F_FLAGGED | STORE_F_ANSWERED);

	assert_int_equal(dl.n, 2);
	assert_int_equal(dl.type[0], STORE_EV_EXISTS);
	assert_int_equal(dl.uid[0], 1);
	assert_int_equal(dl.type[1], STORE_EV_EXISTS);
	assert_int_equal(dl.uid[1], 2);
	assert_int_equal(sl.n, 2);
	assert_int_equal(sl.type[0], STORE_EV_EXPUNGE);
	assert_int_equal(sl.uid[0], 1);
	assert_int_equal(sl.type[1], STORE_EV_EXPUNGE);
	assert_int_equal(sl.uid[1], 3);
	store_mbox_unsubscribe(src, &ss);
	store_mbox_unsubscribe(dst, &ds);
	store_mbox_close(&dst);
	store_mbox_close(&src);
}

static void
test_copy_quota(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*src, *dst;
	struct store_quota	 q;
	const uint32_t		 two[] = { 1, 2 };
	uint32_t		 out[2] = { 7, 7 };
	uint64_t		 bytes;
	char			 err[256] = "";

	src = make_src(u);
	dst = make_mbox(u, "Archive");
	memset(&q, 0, sizeof(q));
	q.max_messages = 3 + 1;
	store_mbox_set_quota(src, &q);
	store_mbox_set_quota(dst, &q);

	errno = 0;
	assert_int_equal(store_mbox_copy(src, dst, two, 2, false, out, err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EDQUOT);
	assert_non_null(strstr(err, "quota"));
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 0);
	assert_int_equal(store_mbox_count(dst), 0);
	assert_int_equal(store_mbox_uidnext(dst), 1);
	assert_int_equal(tmp_count_files(u->dir, "mailboxes/Archive/0000"), 0);
	assert_int_equal(q.messages, 3);
	bytes = q.bytes;

	/* One fits exactly. */
	assert_int_equal(do_copy(src, dst, (const uint32_t []){ 3 }, 1, false,
	    out), 0);
	assert_int_equal(q.messages, 4);
	assert_int_equal(q.bytes, bytes + strlen(texts[2]));
	bytes = q.bytes;

	/* At the limit, a move within the user's quota still works and the
	 * usage ends where it started. */
	assert_int_equal(do_copy(src, dst, two, 2, true, out), 0);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 3);
	assert_int_equal(store_mbox_count(src), 1);
	assert_int_equal(store_mbox_count(dst), 3);
	assert_int_equal(q.messages, 4);
	assert_int_equal(q.bytes, bytes);
	/* And agrees with a recount from disk. */
	assert_int_equal(store_quota_count(u->dir, &q), 0);
	assert_int_equal(q.messages, 4);
	assert_int_equal(q.bytes, bytes);

	/* A plain copy at the limit does not. */
	errno = 0;
	assert_int_equal(do_copy(dst, src, (const uint32_t []){ 2 }, 1, false,
	    out), -1);
	assert_int_equal(errno, EDQUOT);
	store_mbox_close(&dst);
	store_mbox_close(&src);
}

static void
test_copy_same_mailbox(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb;
	struct evlog		 l;
	struct store_sub	*s;
	const uint32_t		 uids[] = { 1, 3 };
	uint32_t		 out[2];
	struct stat		 st;

	memset(&l, 0, sizeof(l));
	mb = make_src(u);
	s = store_mbox_subscribe(mb, record, &l);
	assert_int_equal(do_copy(mb, mb, uids, 2, false, out), 0);
	assert_int_equal(out[0], 4);
	assert_int_equal(out[1], 5);
	assert_int_equal(store_mbox_count(mb), 5);
	assert_int_equal(store_mbox_uidnext(mb), 6);
	assert_body(mb, 4, texts[0]);
	assert_body(mb, 5, texts[2]);
	assert_int_equal(store_mbox_find(mb, 5)->flags.sys,
	    STORE_F_FLAGGED | STORE_F_ANSWERED);
	stat_msg(mb, 5, &st);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(l.n, 2);

	/* A move within the mailbox: new uids, the old ones expunged. */
	assert_int_equal(do_copy(mb, mb, (const uint32_t []){ 2 }, 1, true,
	    out), 0);
	assert_int_equal(out[0], 6);
	assert_null(store_mbox_find(mb, 2));
	assert_body(mb, 6, texts[1]);
	assert_int_equal(store_mbox_count(mb), 5);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.type[2], STORE_EV_EXISTS);
	assert_int_equal(l.uid[2], 6);
	assert_int_equal(l.type[3], STORE_EV_EXPUNGE);
	assert_int_equal(l.uid[3], 2);
	store_mbox_unsubscribe(mb, &s);
	store_mbox_close(&mb);
}

static void
test_copy_rollback(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*src, *dst, *again;
	struct store_quota	 q;
	struct evlog		 l;
	struct store_sub	*s;
	const uint32_t		 uids[] = { 1, 2, 3 };
	uint32_t		 out[3] = { 7, 7, 7 };
	struct stat		 st;
	char			 err[256];

	memset(&l, 0, sizeof(l));
	memset(&q, 0, sizeof(q));
	q.max_messages = 100;
	src = make_src(u);
	dst = make_mbox(u, "Archive");
	store_mbox_set_quota(dst, &q);
	assert_int_equal(st_append(dst, "old\r\n", 0, NULL), 1);
	s = store_mbox_subscribe(dst, record, &l);

	/* RFC 3501 6.4.7: the third link fails, so none may stay. */
	link_fail(EIO, 3);
	errno = 0;
	assert_int_equal(do_copy(src, dst, uids, 3, false, out), -1);
	assert_int_equal(errno, EIO);
	link_fail(0, 0);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[2], 0);
	assert_int_equal(store_mbox_count(dst), 1);
	assert_int_equal(tmp_count_files(u->dir, "mailboxes/Archive/0000"), 1);
	assert_int_equal(l.n, 0);
	assert_int_equal(q.messages, 4);
	stat_msg(src, 1, &st);
	assert_int_equal(st.st_nlink, 1);
	/* The reserved block stays a gap: UIDs only grow. */
	assert_int_equal(store_mbox_uidnext(dst), 5);
	again = store_mbox_open(u->dir, "Archive", err, sizeof(err));
	assert_non_null(again);
	assert_int_equal(store_mbox_count(again), 1);
	assert_int_equal(store_mbox_uidnext(again), 5);
	store_mbox_close(&again);

	/* A failed move expunges nothing. */
	link_fail(EIO, 2);
	assert_int_equal(do_copy(src, dst, uids, 3, true, out), -1);
	link_fail(0, 0);
	assert_int_equal(store_mbox_count(src), 3);
	assert_int_equal(tmp_count_files(u->dir, "mailboxes/INBOX/0000"), 3);
	assert_int_equal(tmp_count_files(u->dir, "mailboxes/Archive/0000"), 1);

	/* And the next copy works, after the gaps. */
	assert_int_equal(do_copy(src, dst, uids, 3, false, out), 0);
	assert_int_equal(out[0], 8);
	assert_int_equal(out[2], 10);
	assert_int_equal(l.n, 3);
	store_mbox_unsubscribe(dst, &s);
	store_mbox_close(&dst);
	store_mbox_close(&src);
}

static void
test_copy_fallback(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*src, *dst;
	const uint32_t		 uids[] = { 1, 2, 3 };
	uint32_t		 out[3];
	struct stat		 st;
	size_t			 i;
	const int		 errs[] = { EXDEV, EMLINK, EPERM };

	src = make_src(u);
	dst = make_mbox(u, "Archive");
	/* Another file system, too many links, no links at all: copy the
	 * bytes instead. */
	for (size_t e = 0; e < NELEM(errs); e++) {
		link_fail(errs[e], 0);
		assert_int_equal(do_copy(src, dst, uids, 3, false, out), 0);
		link_fail(0, 0);
		for (i = 0; i < 3; i++) {
			assert_int_equal(out[i], 3 * e + i + 1);
			assert_body(dst, out[i], texts[i]);
			stat_msg(dst, out[i], &st);
			assert_int_equal(st.st_nlink, 1);
			assert_int_equal(st.st_mtime, dates[i]);
			assert_int_equal(st.st_mode & 0777, 0600);
			assert_int_equal(store_mbox_find(dst, out[i])->flags.sys,
			    store_mbox_find(src, uids[i])->flags.sys);
			stat_msg(src, uids[i], &st);
			assert_int_equal(st.st_nlink, 1);
		}
	}
	assert_int_equal(tmp_count_files(u->dir, "tmp"), 0);
	store_mbox_close(&dst);
	store_mbox_close(&src);
}

static void
test_copy_chase(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*src, *other, *dst;
	struct store_flags	 draft = { STORE_F_DRAFT, 0 };
	struct evlog		 l;
	struct store_sub	*s;
	const uint32_t		 uids[] = { 1, 2, 3 };
	uint32_t		 out[3];
	char			 err[256];

	memset(&l, 0, sizeof(l));
	src = make_src(u);
	dst = make_mbox(u, "Archive");
	other = store_mbox_open(u->dir, "INBOX", err, sizeof(err));
	assert_non_null(other);
	s = store_mbox_subscribe(src, record, &l);
	/* Behind src's back: 1 renamed, 2 expunged. */
	assert_int_equal(store_mbox_set_flags(other, 1, &draft), 0);
	assert_int_equal(store_mbox_expunge(other, 2), 0);

	assert_int_equal(do_copy(src, dst, uids, 3, true, out), 0);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 0);	/* a gap */
	assert_int_equal(out[2], 3);
	assert_body(dst, 1, texts[0]);
	assert_body(dst, 3, texts[2]);
	assert_int_equal(store_mbox_count(dst), 2);
	assert_int_equal(store_mbox_uidnext(dst), 4);
	/* src learnt that 2 is gone, and moved 1 and 3. */
	assert_int_equal(store_mbox_count(src), 0);
	assert_int_equal(tmp_count_files(u->dir, "mailboxes/INBOX/0000"), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.uid[0], 2);
	assert_int_equal(l.uid[1], 1);
	assert_int_equal(l.uid[2], 3);
	store_mbox_unsubscribe(src, &s);
	store_mbox_close(&other);
	store_mbox_close(&dst);
	store_mbox_close(&src);
}

static void
test_copy_catch_up(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*src, *dst, *other;
	struct store_sub	*s;
	struct evlog		 l;
	const uint32_t		 uids[] = { 1, 2 };
	uint32_t		 out[2];
	char			 err[256];
	size_t			 i;

	memset(&l, 0, sizeof(l));
	src = make_src(u);
	dst = make_mbox(u, "Archive");
	other = store_mbox_open(u->dir, "Archive", err, sizeof(err));
	assert_non_null(other);
	s = store_mbox_subscribe(dst, record, &l);
	/* Another handle (rmail deliver, say) appends behind dst's back. */
	assert_int_equal(st_append(other, "theirs\r\n", 0, NULL), 1);

	assert_int_equal(do_copy(src, dst, uids, 2, false, out), 0);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 3);
	/* Theirs is taken in first, so EXISTS comes in uid order. */
	assert_int_equal(store_mbox_count(dst), 3);
	assert_int_equal(l.n, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(l.type[i], STORE_EV_EXISTS);
		assert_int_equal(l.uid[i], i + 1);
	}
	/* A refresh finds nothing new and re-uids nothing. */
	assert_int_equal(store_mbox_refresh(dst), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(store_mbox_refresh(other), 0);
	assert_int_equal(store_mbox_count(other), 3);
	for (i = 0; i < 3; i++)
		assert_memory_equal(store_mbox_at(other, i),
		    store_mbox_at(dst, i), sizeof(struct store_msg));
	assert_int_equal(store_mbox_uidnext(other), 4);
	assert_body(dst, 1, "theirs\r\n");
	assert_body(dst, 3, texts[1]);
	/* And the next append on either handle goes after the block. */
	assert_int_equal(st_append(other, "more\r\n", 0, NULL), 4);
	assert_int_equal(st_append(dst, "more\r\n", 0, NULL), 5);
	store_mbox_unsubscribe(dst, &s);
	store_mbox_close(&other);
	store_mbox_close(&dst);
	store_mbox_close(&src);
}

static void
test_copy_overflow(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*src, *dst;
	const uint32_t		 uids[] = { 1, 2 };
	uint32_t		 out[2];
	char			*status, *text, *path;

	src = make_src(u);
	dst = make_mbox(u, "Archive");
	status = xasprintf("%s/mailboxes/Archive/status.json", u->dir);
	text = xasprintf("{\"version\": 1, \"uidvalidity\": %u, "
	    "\"uidnext\": 4294967294, \"keywords\": []}",
	    store_mbox_uidvalidity(dst));
	assert_int_equal(fsio_write_atomic(status, text, strlen(text), 0600),
	    0);
	free(text);
	free(status);

	/* RFC 3501 2.3.1.1: two would need 4294967295 too. */
	errno = 0;
	assert_int_equal(do_copy(src, dst, uids, 2, false, out), -1);
	assert_int_equal(errno, EOVERFLOW);
	assert_int_equal(store_mbox_count(dst), 0);
	path = xasprintf("%s/mailboxes/Archive/4294967", u->dir);
	assert_false(exists(path));
	/* One still fits. */
	assert_int_equal(do_copy(src, dst, uids, 1, false, out), 0);
	assert_int_equal(out[0], 4294967294u);
	assert_body(dst, 4294967294u, texts[0]);
	assert_true(exists(path));
	free(path);
	store_mbox_close(&dst);
	store_mbox_close(&src);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_copy_basic),
		T(test_copy_keywords),
		T(test_copy_missing),
		T(test_move_events),
		T(test_copy_quota),
		T(test_copy_same_mailbox),
		T(test_copy_rollback),
		T(test_copy_fallback),
		T(test_copy_chase),
		T(test_copy_catch_up),
		T(test_copy_overflow),
	};

	return cmocka_run_group_tests_name("copy", tests, NULL, NULL);
}
