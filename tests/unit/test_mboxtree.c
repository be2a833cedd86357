/* Unit tests: store/mboxtree (mailbox hierarchy: list, create, delete,
 * rename, subscribe). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsio.h"
#include "core/util.h"
#include "store/mailbox.h"
#include "store/mboxtree.h"
#include "store/names.h"
#include "tests/unit/storetest.h"
#include "tests/unit/tmpdir.h"

struct udir {
	char	 dir[64];
};

static int
setup(void **state)
{
	struct udir	*u = xcalloc(1, sizeof(*u));

	if (tmp_user_dir(u->dir) == -1) {
		free(u);
		return -1;
	}
	*state = u;
	return 0;
}

static int
teardown(void **state)
{
	struct udir *u = *state;

	tmp_rm_rf(u->dir);
	free(u);
	return 0;
}

/* Directory name of a canonical mailbox name. */
static const char *
dirof(const char *name)
{
	static char	 buf[STORE_DIRNAME_MAX];
	const char	*why;

	assert_int_equal(store_name_to_dir(name, buf, sizeof(buf), &why), 0);
	return buf;
}

static bool
mbox_exists(struct udir *u, const char *name)
{
	struct stat	 st;
	char		*p = xasprintf("%s/mailboxes/%s", u->dir, dirof(name));
	int		 r = stat(p, &st);

	free(p);
	return r == 0 && S_ISDIR(st.st_mode);
}

/* Entries of USER/mailboxes (or a mailbox dir) starting with a dot
 * other than "." and "..", minus lock file. */
static size_t
count_entries(const char *path, bool dots)
{
	struct dirent	*de;
	DIR		*d;
	size_t		 n = 0;

	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((de->d_name[0] == '.') == dots)
			n++;
	}
	closedir(d);
	return n;
}

static void
create(struct udir *u, const char *name, const char *special)
{
	char err[256];

	assert_int_equal(store_tree_create(u->dir, name, special, err,
	    sizeof(err)), 0);
}

static struct store_mbox *
mopen(struct udir *u, const char *name)
{
	return st_open_mbox(u->dir, dirof(name));
}

static uint32_t
append(struct udir *u, const char *name, const char *text, uint8_t sys,
    const char *kw)
{
	struct store_mbox	*mb = mopen(u, name);
	struct store_flags	 fl = { sys, 0 };
	char			 err[256];
	uint32_t		 uid = 0;
	int			 k;

	if (kw != NULL) {
		k = store_mbox_keyword(mb, kw, true);
		assert_true(k >= 0);
		fl.kw = (uint32_t)1 << k;
	}
	assert_int_equal(store_mbox_append(mb, text, strlen(text), 1000000,
	    &fl, &uid, err, sizeof(err)), 0);
	store_mbox_close(&mb);
	return uid;
}

/* Contents of message uid of mailbox name; caller frees. */
static char *
msg_text(struct store_mbox *mb, uint32_t uid)
{
	char	 path[4096];
	char	*text;
	size_t	 len;

	assert_int_equal(store_mbox_path(mb, uid, path, sizeof(path)), 0);
	text = fsio_read_file(path, 1 << 20, &len);
	assert_non_null(text);
	return text;
}

static void
assert_msg(struct store_mbox *mb, uint32_t uid, const char *text,
    uint8_t sys, const char *kw)
{
	const struct store_msg	*m = store_mbox_find(mb, uid);
	char			*got;

	assert_non_null(m);
	assert_int_equal(m->flags.sys, sys);
	if (kw == NULL)
		assert_int_equal(m->flags.kw, 0);
	else {
		int k = store_mbox_keyword(mb, kw, false);

		assert_true(k >= 0);
		assert_int_equal(m->flags.kw, (uint32_t)1 << k);
	}
	assert_int_equal(m->internaldate, 1000000);
	got = msg_text(mb, uid);
	assert_string_equal(got, text);
	free(got);
}

struct listing {
	struct store_tree_entry	*e;
	size_t			 n;
};

static void
list(struct udir *u, struct listing *l)
{
	char	 err[256];
	size_t	 i;

	assert_int_equal(store_tree_list(u->dir, &l->e, &l->n, err,
	    sizeof(err)), 0);
	for (i = 1; i < l->n; i++)
		assert_true(strcmp(l->e[i - 1].name, l->e[i].name) < 0);
}

static const struct store_tree_entry *
find(const struct listing *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->e[i].name, name) == 0)
			return &l->e[i];
	return NULL;
}

static void
unlist(struct listing *l)
{
	store_tree_free(l->e, l->n);
	memset(l, 0, sizeof(*l));
}

static void
test_list_hierarchy(void **state)
{
	struct udir			*u = *state;
	struct listing			 l;
	const struct store_tree_entry	*e;
	char				*p;
	int				 fd;

	list(u, &l);
	assert_int_equal(l.n, 0);
	unlist(&l);

	create(u, "Work/Projects/X", NULL);
	create(u, "Work", NULL);
	create(u, "Work-2", NULL);
	create(u, "Sent", "\\Sent");
	assert_int_equal(store_mbox_create(u->dir, "INBOX", NULL, NULL, 0), 0);
	/* Not mailboxes: dot-dir, bad escape, non-canonical INBOX, file. */
	p = xasprintf("%s/mailboxes/.deleting.1.0", u->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/mailboxes/bad%%zz", u->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/mailboxes/inbox", u->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/mailboxes/plainfile", u->dir);
	assert_true((fd = open(p, O_CREAT | O_WRONLY, 0600)) != -1);
	close(fd);
	free(p);

	list(u, &l);
	assert_int_equal(l.n, 6);
	assert_string_equal(l.e[0].name, "INBOX");
	assert_string_equal(l.e[1].name, "Sent");
	assert_string_equal(l.e[2].name, "Work");
	assert_string_equal(l.e[3].name, "Work-2");
	assert_string_equal(l.e[4].name, "Work/Projects");
	assert_string_equal(l.e[5].name, "Work/Projects/X");

	e = find(&l, "INBOX");
	assert_false(e->noselect);
	assert_false(e->has_children);
	assert_true(e->subscribed);
	assert_null(e->special_use);
	e = find(&l, "Sent");
	assert_string_equal(e->special_use, "\\Sent");
	assert_false(e->noselect);
	e = find(&l, "Work");
	assert_true(e->has_children);
	assert_false(e->noselect);
	assert_false(e->implied);
	e = find(&l, "Work-2");
	assert_false(e->has_children);
	e = find(&l, "Work/Projects");
	assert_true(e->implied);
	assert_true(e->noselect);
	assert_true(e->has_children);
	assert_false(e->subscribed);
	assert_null(e->special_use);
	e = find(&l, "Work/Projects/X");
	assert_false(e->implied);
	assert_false(e->noselect);
	assert_false(e->has_children);
	unlist(&l);

	/* Parents are never created on disk. */
	assert_false(mbox_exists(u, "Work/Projects"));
}

static void
test_create_exists(void **state)
{
	struct udir	*u = *state;
	char		 err[256];

	/* INBOX always exists, even before its directory does. */
	assert_int_equal(store_tree_create(u->dir, "INBOX", NULL, err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(store_mbox_create(u->dir, "INBOX", NULL, NULL, 0), 0);
	assert_int_equal(store_tree_create(u->dir, "INBOX", NULL, err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);

	create(u, "A", NULL);
	err[0] = '\0';
	assert_int_equal(store_tree_create(u->dir, "A", NULL, err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	assert_true(strlen(err) > 0);
	/* An implied parent can be created for real. */
	create(u, "B/C", NULL);
	create(u, "B", "\\Archive");
	assert_true(mbox_exists(u, "B"));
	assert_int_equal(store_tree_create(u->dir, "Bad", "Sent", err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
}

static void
test_delete_leaf(void **state)
{
	struct udir	*u = *state;
	struct listing	 l;
	char		 err[256], *mboxes;

	create(u, "Trash", NULL);
	append(u, "Trash", "Subject: x\r\n\r\nbody\r\n", 0, NULL);
	assert_int_equal(store_tree_delete(u->dir, "Trash", err,
	    sizeof(err)), 0);
	assert_false(mbox_exists(u, "Trash"));
	mboxes = xasprintf("%s/mailboxes", u->dir);
	assert_int_equal(count_entries(mboxes, true), 0);	/* no .deleting */
	free(mboxes);
	list(u, &l);
	assert_null(find(&l, "Trash"));
	unlist(&l);
	assert_int_equal(store_tree_delete(u->dir, "Trash", err,
	    sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);

	/* Recreated from scratch: UIDs start again at 1. */
	create(u, "Trash", NULL);
	assert_int_equal(append(u, "Trash", "again\r\n", 0, NULL), 1);
}

static void
test_delete_inbox_refused(void **state)
{
	struct udir	*u = *state;
	char		 err[256];

	assert_int_equal(store_mbox_create(u->dir, "INBOX", NULL, NULL, 0), 0);
	err[0] = '\0';
	assert_int_equal(store_tree_delete(u->dir, "INBOX", err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EPERM);
	assert_string_equal(err, "cannot delete INBOX");
	assert_true(mbox_exists(u, "INBOX"));
	/* INBOX's children are ordinary. */
	create(u, "INBOX/Sub", NULL);
	assert_int_equal(store_tree_delete(u->dir, "INBOX/Sub", err,
	    sizeof(err)), 0);
}

static void
test_delete_with_children(void **state)
{
	struct udir			*u = *state;
	struct listing			 l;
	const struct store_tree_entry	*e;
	struct store_mbox		*mb;
	char				 err[256], *p;
	uint32_t			 uv, uid;

	create(u, "A", NULL);
	create(u, "A/B", NULL);
	append(u, "A", "one\r\n", 0, NULL);
	append(u, "A", "two\r\n", 0, NULL);
	uid = append(u, "A/B", "child\r\n", STORE_F_SEEN, NULL);
	mb = mopen(u, "A");
	uv = store_mbox_uidvalidity(mb);
	store_mbox_close(&mb);

	assert_int_equal(store_tree_delete(u->dir, "A", err, sizeof(err)), 0);
	assert_true(mbox_exists(u, "A"));
	p = xasprintf("%s/mailboxes/A", u->dir);
	/* Only status.json (and .lock) are left: the shards are gone. */
	assert_int_equal(count_entries(p, false), 1);
	free(p);
	errno = 0;
	assert_null(store_mbox_open(u->dir, "A", err, sizeof(err)));
	assert_int_equal(errno, ENOTDIR);

	list(u, &l);
	e = find(&l, "A");
	assert_non_null(e);
	assert_true(e->noselect);
	assert_false(e->implied);
	assert_true(e->has_children);
	assert_false(find(&l, "A/B")->noselect);
	unlist(&l);
	mb = mopen(u, "A/B");
	assert_int_equal(store_mbox_count(mb), 1);
	assert_msg(mb, uid, "child\r\n", STORE_F_SEEN, NULL);
	store_mbox_close(&mb);

	/* Again: \Noselect with inferiors. */
	err[0] = '\0';
	assert_int_equal(store_tree_delete(u->dir, "A", err, sizeof(err)), -1);
	assert_int_equal(errno, ENOTEMPTY);
	assert_non_null(strstr(err, "inferior"));

	/* CREATE makes it selectable again, UIDs not reused. */
	create(u, "A", NULL);
	mb = mopen(u, "A");
	assert_int_equal(store_mbox_count(mb), 0);
	assert_true(store_mbox_uidnext(mb) >= 3);
	assert_true(store_mbox_uidvalidity(mb) != uv);
	store_mbox_close(&mb);

	/* Without children now: the whole directory goes. */
	assert_int_equal(store_tree_delete(u->dir, "A/B", err, sizeof(err)),
	    0);
	assert_int_equal(store_tree_delete(u->dir, "A", err, sizeof(err)), 0);
	assert_false(mbox_exists(u, "A"));

	/* An implied parent: nothing to delete, it has inferiors. */
	create(u, "P/Q", NULL);
	assert_int_equal(store_tree_delete(u->dir, "P", err, sizeof(err)), -1);
	assert_int_equal(errno, ENOTEMPTY);
	assert_true(mbox_exists(u, "P/Q"));
}

static void
test_noselect_leaf(void **state)
{
	struct udir	*u = *state;
	struct listing	 l;
	char		 err[256];

	/* A \Noselect mailbox whose children went: a plain delete. */
	create(u, "A", NULL);
	create(u, "A/B", NULL);
	assert_int_equal(store_tree_delete(u->dir, "A", err, sizeof(err)), 0);
	assert_int_equal(store_tree_delete(u->dir, "A/B", err, sizeof(err)),
	    0);
	list(u, &l);
	assert_int_equal(l.n, 1);
	assert_true(l.e[0].noselect);
	assert_false(l.e[0].has_children);
	unlist(&l);
	assert_int_equal(store_tree_delete(u->dir, "A", err, sizeof(err)), 0);
	list(u, &l);
	assert_int_equal(l.n, 0);
	unlist(&l);
}

static void
test_rename_leaf(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb;
	char			 err[256];
	uint32_t		 uv, uid;

	create(u, "Old", "\\Archive");
	uid = append(u, "Old", "hello\r\n", STORE_F_FLAGGED, "$Work");
	mb = mopen(u, "Old");
	uv = store_mbox_uidvalidity(mb);
	store_mbox_close(&mb);
	assert_int_equal(store_tree_rename(u->dir, "Old", "New", err,
	    sizeof(err)), 0);
	assert_false(mbox_exists(u, "Old"));
	mb = mopen(u, "New");
	assert_int_equal(store_mbox_uidvalidity(mb), uv);
	assert_string_equal(store_mbox_special_use(mb), "\\Archive");
	assert_int_equal(store_mbox_count(mb), 1);
	assert_msg(mb, uid, "hello\r\n", STORE_F_FLAGGED, "$Work");
	store_mbox_close(&mb);
	assert_int_equal(store_tree_rename(u->dir, "Old", "Other", err,
	    sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_rename_subtree(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb;
	char			 err[256];
	uint32_t		 u1, u2, u3;

	create(u, "A", NULL);
	create(u, "A/B", NULL);
	create(u, "A/B/C", NULL);
	create(u, "AB", NULL);
	create(u, "A-x", NULL);
	u1 = append(u, "A", "a1\r\n", STORE_F_SEEN | STORE_F_ANSWERED, NULL);
	u2 = append(u, "A", "a2\r\n", 0, "Later");
	u3 = append(u, "A/B/C", "c1\r\n", STORE_F_DRAFT, NULL);
	assert_int_equal(store_tree_rename(u->dir, "A", "Z/Y", err,
	    sizeof(err)), 0);
	assert_false(mbox_exists(u, "A"));
	assert_false(mbox_exists(u, "A/B"));
	assert_false(mbox_exists(u, "A/B/C"));
	assert_true(mbox_exists(u, "Z/Y"));
	assert_true(mbox_exists(u, "Z/Y/B"));
	assert_true(mbox_exists(u, "Z/Y/B/C"));
	assert_false(mbox_exists(u, "Z"));
	assert_true(mbox_exists(u, "AB"));
	assert_true(mbox_exists(u, "A-x"));
	mb = mopen(u, "Z/Y");
	assert_int_equal(store_mbox_count(mb), 2);
	assert_msg(mb, u1, "a1\r\n", STORE_F_SEEN | STORE_F_ANSWERED, NULL);
	assert_msg(mb, u2, "a2\r\n", 0, "Later");
	store_mbox_close(&mb);
	mb = mopen(u, "Z/Y/B/C");
	assert_msg(mb, u3, "c1\r\n", STORE_F_DRAFT, NULL);
	store_mbox_close(&mb);

	/* An implied parent: its children move. */
	assert_int_equal(store_tree_rename(u->dir, "Z", "Q", err,
	    sizeof(err)), 0);
	assert_true(mbox_exists(u, "Q/Y"));
	assert_true(mbox_exists(u, "Q/Y/B/C"));
	assert_false(mbox_exists(u, "Z/Y"));
}

static void
test_rename_refused(void **state)
{
	struct udir	*u = *state;
	char		 err[256];

	assert_int_equal(store_mbox_create(u->dir, "INBOX", NULL, NULL, 0), 0);
	create(u, "A", NULL);
	create(u, "B", NULL);
	create(u, "C/D", NULL);
	assert_int_equal(store_tree_rename(u->dir, "A", "A/B", err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_tree_rename(u->dir, "A", "B", err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(store_tree_rename(u->dir, "A", "A", err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(store_tree_rename(u->dir, "A", "C", err,
	    sizeof(err)), -1);	/* implied */
	assert_int_equal(errno, EEXIST);
	assert_int_equal(store_tree_rename(u->dir, "A", "INBOX", err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(store_tree_rename(u->dir, "INBOX", "B", err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(store_tree_rename(u->dir, "Nope", "X", err,
	    sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	assert_true(mbox_exists(u, "A"));
	assert_true(mbox_exists(u, "B"));
	assert_false(mbox_exists(u, "X"));
}

static void
test_rename_inbox(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb;
	char			 err[256];
	uint32_t		 uv, u2;

	assert_int_equal(store_mbox_create(u->dir, "INBOX", NULL, NULL, 0), 0);
	create(u, "INBOX/Kid", NULL);
	append(u, "INBOX", "m1\r\n", STORE_F_SEEN, NULL);
	u2 = append(u, "INBOX", "m2\r\n", 0, NULL);
	append(u, "INBOX", "m3\r\n", STORE_F_FLAGGED, "Later");
	append(u, "INBOX/Kid", "kid\r\n", 0, NULL);
	mb = mopen(u, "INBOX");
	assert_int_equal(store_mbox_expunge(mb, u2), 0);	/* uids 1, 3 */
	uv = store_mbox_uidvalidity(mb);
	assert_int_equal(store_mbox_uidnext(mb), 4);
	store_mbox_close(&mb);

	assert_int_equal(store_tree_rename(u->dir, "INBOX", "INBOX/Old", err,
	    sizeof(err)), 0);
	mb = mopen(u, "INBOX");
	assert_int_equal(store_mbox_count(mb), 0);
	assert_int_equal(store_mbox_uidnext(mb), 4);
	assert_int_equal(store_mbox_uidvalidity(mb), uv);
	store_mbox_close(&mb);

	mb = mopen(u, "INBOX/Old");
	assert_int_equal(store_mbox_count(mb), 2);
	assert_int_equal(store_mbox_uidnext(mb), 3);
	assert_msg(mb, 1, "m1\r\n", STORE_F_SEEN, NULL);
	assert_msg(mb, 2, "m3\r\n", STORE_F_FLAGGED, "Later");
	store_mbox_close(&mb);
	assert_int_equal(append(u, "INBOX/Old", "m4\r\n", 0, NULL), 3);

	/* INBOX's children stay where they are. */
	mb = mopen(u, "INBOX/Kid");
	assert_int_equal(store_mbox_count(mb), 1);
	store_mbox_close(&mb);

	/* INBOX keeps receiving. */
	assert_int_equal(append(u, "INBOX", "m5\r\n", 0, NULL), 4);

	/* An empty INBOX renames to an empty mailbox. */
	mb = mopen(u, "INBOX");
	assert_int_equal(store_mbox_expunge(mb, 4), 0);
	store_mbox_close(&mb);
	assert_int_equal(store_tree_rename(u->dir, "INBOX", "Empty", err,
	    sizeof(err)), 0);
	mb = mopen(u, "Empty");
	assert_int_equal(store_mbox_count(mb), 0);
	assert_int_equal(store_mbox_uidnext(mb), 1);
	store_mbox_close(&mb);
}

static void
test_subscribe(void **state)
{
	struct udir		*u = *state;
	struct store_mbox	*mb;
	struct listing		 l;
	char			 err[256], *p;

	create(u, "A", NULL);
	create(u, "A/B", NULL);
	assert_int_equal(store_tree_subscribe(u->dir, "A/B", false, err,
	    sizeof(err)), 0);
	list(u, &l);
	assert_true(find(&l, "A")->subscribed);
	assert_false(find(&l, "A/B")->subscribed);
	unlist(&l);
	mb = mopen(u, "A/B");
	assert_false(store_mbox_subscribed(mb));
	store_mbox_close(&mb);
	assert_int_equal(store_tree_subscribe(u->dir, "A/B", true, err,
	    sizeof(err)), 0);
	mb = mopen(u, "A/B");
	assert_true(store_mbox_subscribed(mb));
	store_mbox_close(&mb);

	/* Kept across delete-to-\Noselect and rename. */
	assert_int_equal(store_tree_subscribe(u->dir, "A", false, err,
	    sizeof(err)), 0);
	assert_int_equal(store_tree_delete(u->dir, "A", err, sizeof(err)), 0);
	assert_int_equal(store_tree_rename(u->dir, "A", "R", err,
	    sizeof(err)), 0);
	list(u, &l);
	assert_true(find(&l, "R")->noselect);
	assert_false(find(&l, "R")->subscribed);
	assert_true(find(&l, "R/B")->subscribed);
	unlist(&l);
	assert_int_equal(store_tree_subscribe(u->dir, "R", true, err,
	    sizeof(err)), 0);

	/* Missing status.json is rebuilt first. */
	p = xasprintf("%s/mailboxes/%s/status.json", u->dir, dirof("R/B"));
	assert_int_equal(unlink(p), 0);
	free(p);
	assert_int_equal(store_tree_subscribe(u->dir, "R/B", false, err,
	    sizeof(err)), 0);
	mb = mopen(u, "R/B");
	assert_false(store_mbox_subscribed(mb));
	store_mbox_close(&mb);

	assert_int_equal(store_tree_subscribe(u->dir, "Nope", true, err,
	    sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	create(u, "X/Y", NULL);
	assert_int_equal(store_tree_subscribe(u->dir, "X", true, err,
	    sizeof(err)), -1);	/* implied */
	assert_int_equal(errno, ENOENT);
}

static void
test_escaped_names(void **state)
{
	static const char *const names[] = {
		"Entw&APw-rfe", "Entw&APw-rfe/.hidden 100 &AKM-", ".dot",
		"a&-b/c",
	};
	struct udir		*u = *state;
	struct store_mbox	*mb;
	struct listing		 l;
	char			 canon[STORE_MNAME_MAX], err[256];
	const char		*why;
	size_t			 i;
	uint32_t		 uid;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(store_name_check(names[i], canon,
		    sizeof(canon), &why), 0);
		assert_string_equal(canon, names[i]);
		create(u, names[i], NULL);
	}
	/* One directory each, decoded to UTF-8 and escaped. */
	assert_true(mbox_exists(u, "Entw&APw-rfe"));
	assert_string_equal(dirof("Entw&APw-rfe/.hidden 100 &AKM-"),
	    "Entw\xc3\xbc" "rfe%2F.hidden 100 \xc2\xa3");
	assert_string_equal(dirof(".dot"), "%2Edot");
	list(u, &l);
	assert_int_equal(l.n, 5);	/* + implied "a&-b" */
	assert_true(find(&l, "Entw&APw-rfe")->has_children);
	assert_non_null(find(&l, "Entw&APw-rfe/.hidden 100 &AKM-"));
	assert_non_null(find(&l, ".dot"));
	assert_true(find(&l, "a&-b")->implied);
	unlist(&l);

	uid = append(u, "Entw&APw-rfe/.hidden 100 &AKM-", "x\r\n", 0, NULL);
	assert_int_equal(store_tree_rename(u->dir, "Entw&APw-rfe",
	    "&AMk-t&AOk-", err, sizeof(err)), 0);
	mb = mopen(u, "&AMk-t&AOk-/.hidden 100 &AKM-");
	assert_msg(mb, uid, "x\r\n", 0, NULL);
	store_mbox_close(&mb);
	assert_int_equal(store_tree_subscribe(u->dir, "&AMk-t&AOk-", false,
	    err, sizeof(err)), 0);
	assert_int_equal(store_tree_delete(u->dir, "&AMk-t&AOk-", err,
	    sizeof(err)), 0);	/* -> \Noselect */
	assert_int_equal(store_tree_delete(u->dir,
	    "&AMk-t&AOk-/.hidden 100 &AKM-", err, sizeof(err)), 0);
	assert_int_equal(store_tree_delete(u->dir, "&AMk-t&AOk-", err,
	    sizeof(err)), 0);
	assert_int_equal(store_tree_delete(u->dir, ".dot", err, sizeof(err)),
	    0);
	list(u, &l);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.e[0].name, "a&-b");
	assert_string_equal(l.e[1].name, "a&-b/c");
	unlist(&l);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_list_hierarchy),
		T(test_create_exists),
		T(test_delete_leaf),
		T(test_delete_inbox_refused),
		T(test_delete_with_children),
		T(test_noselect_leaf),
		T(test_rename_leaf),
		T(test_rename_subtree),
		T(test_rename_refused),
		T(test_rename_inbox),
		T(test_subscribe),
		T(test_escaped_names),
	};

	return cmocka_run_group_tests_name("mboxtree", tests, NULL, NULL);
}
