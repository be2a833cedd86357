/*
 * Unit tests: store/hub (shared handles, change notification from this
 * process and from others, inotify and the polling fallback) and quota.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "core/util.h"
#include "store/hub.h"
#include "store/mailbox.h"
#include "store/quota.h"
#include "tests/unit/storetest.h"
#include "tests/unit/tmpdir.h"

/* What a subscriber heard. */
#define MAXEV	64
struct rec {
	size_t			 n;
	enum store_ev		 type[MAXEV];
	uint32_t		 uid[MAXEV];
	struct store_flags	 flags[MAXEV];
};

struct fix {
	char			 dir[64];
	char			*mbox;		/* USER/mailboxes/INBOX */
	struct ev_loop		*loop;
	struct store_hub	*hub;
	struct rec		 rec;
};

static void
on_event(void *arg, const struct store_event *ev)
{
	struct rec *r = arg;

	if (r->n == MAXEV)
		return;
	r->type[r->n] = ev->type;
	r->uid[r->n] = ev->uid;
	if (ev->msg != NULL) {
		assert_int_equal(ev->msg->uid, ev->uid);
		r->flags[r->n] = ev->msg->flags;
	}
	r->n++;
}

static int
setup_mode(void **state, int flags)
{
	struct fix	*f = xcalloc(1, sizeof(*f));
	char		 err[256];

	if (tmp_user_dir(f->dir) == -1) {
		free(f);
		return -1;
	}
	f->mbox = xasprintf("%s/mailboxes/INBOX", f->dir);
	if (store_mbox_create(f->dir, "INBOX", NULL, err, sizeof(err)) == -1)
		return -1;
	f->loop = ev_loop_new(EVFLAG_AUTO);
	f->hub = store_hub_new(f->loop, flags);
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_mode(state, 0);
}

static int
setup_poll(void **state)
{
	return setup_mode(state, STORE_HUB_POLL);
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	store_hub_free(&f->hub);
	ev_loop_destroy(f->loop);
	tmp_rm_rf(f->dir);
	free(f->mbox);
	free(f);
	return 0;
}

static void
on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	*(bool *)w->data = true;
	ev_break(loop, EVBREAK_ONE);
}

/* Run the loop until the subscriber has heard n events or secs passed. */
static void
wait_events(struct fix *f, size_t n, double secs)
{
	ev_timer	 t;
	bool		 expired = false;

	ev_timer_init(&t, on_timeout, secs, 0);
	t.data = &expired;
	ev_timer_start(f->loop, &t);
	while (f->rec.n < n && !expired)
		ev_run(f->loop, EVRUN_ONCE);
	ev_timer_stop(f->loop, &t);
}

static uint32_t
append(struct store_mbox *mb, const char *text, uint8_t sys)
{
	struct store_flags fl = { .sys = sys, .kw = 0 };

	return st_append(mb, text, 0, &fl);
}

static void
test_shared_and_lingering(void **state)
{
	struct fix		*f = *state;
	struct store_mbox	*a, *b, *c;
	char			 err[256];
	size_t			 idle;

	a = store_hub_open(f->hub, f->dir, "INBOX", err, sizeof(err));
	assert_non_null(a);
	b = store_hub_open(f->hub, f->dir, "INBOX", err, sizeof(err));
	/* One index for every session: b sees a's append at once. */
	assert_ptr_equal(a, b);
	append(a, "one\r\n", 0);
	assert_int_equal(store_mbox_count(b), 1);
	assert_int_equal(store_hub_count(f->hub, &idle), 1);
	assert_int_equal(idle, 0);
	store_hub_release(f->hub, &a);
	assert_null(a);
	store_hub_release(f->hub, &b);
	/* Released, but kept (and watched) for the next session. */
	assert_int_equal(store_hub_count(f->hub, &idle), 1);
	assert_int_equal(idle, 1);
	c = store_hub_open(f->hub, f->dir, "INBOX", err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(store_mbox_count(c), 1);
	assert_int_equal(store_hub_count(f->hub, &idle), 1);
	assert_int_equal(idle, 0);
	store_hub_release(f->hub, &c);
	/* No lingering: closed at once. */
	store_hub_set_linger(f->hub, 0, 0);
	assert_int_equal(store_hub_count(f->hub, &idle), 0);
	/* A missing mailbox is an error, and leaves nothing open. */
	assert_null(store_hub_open(f->hub, f->dir, "Nope", err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(store_hub_count(f->hub, NULL), 0);
}

static void
test_linger_bounded_by_messages(void **state)
{
	struct fix		*f = *state;
	struct store_mbox	*a, *b;
	char			 err[256];
	size_t			 idle;

	assert_int_equal(store_mbox_create(f->dir, "Other", NULL, err,
	    sizeof(err)), 0);
	store_hub_set_linger(f->hub, 300, 2);
	a = store_hub_open(f->hub, f->dir, "INBOX", err, sizeof(err));
	b = store_hub_open(f->hub, f->dir, "Other", err, sizeof(err));
	append(a, "1\r\n", 0);
	append(a, "2\r\n", 0);
	append(b, "3\r\n", 0);
	store_hub_release(f->hub, &a);
	assert_int_equal(store_hub_count(f->hub, &idle), 2);
	assert_int_equal(idle, 1);
	/* 3 idle messages > 2: the oldest idle handle (INBOX) goes. */
	store_hub_release(f->hub, &b);
	assert_int_equal(store_hub_count(f->hub, &idle), 1);
	assert_int_equal(idle, 1);
}

/* Changes through the shared handle are told at once, in order. */
static void
test_own_changes_notified(void **state)
{
	struct fix		*f = *state;
	struct store_mbox	*mb;
	struct store_sub	*sub, *other;
	struct store_flags	 fl = { .sys = STORE_F_SEEN, .kw = 0 };
	struct rec		 rec2;
	char			 err[256];
	uint32_t		 u1, u2;

	memset(&rec2, 0, sizeof(rec2));
	mb = store_hub_open(f->hub, f->dir, "INBOX", err, sizeof(err));
	sub = store_mbox_subscribe(mb, on_event, &f->rec);
	other = store_mbox_subscribe(mb, on_event, &rec2);
	assert_int_equal(store_mbox_subscribers(mb), 2);
	u1 = append(mb, "a\r\n", 0);
	u2 = append(mb, "b\r\n", 0);
	assert_int_equal(store_mbox_set_flags(mb, u1, &fl), 0);
	assert_int_equal(store_mbox_expunge(mb, u2), 0);
	assert_int_equal(f->rec.n, 4);
	assert_int_equal(f->rec.type[0], STORE_EV_EXISTS);
	assert_int_equal(f->rec.uid[0], u1);
	assert_int_equal(f->rec.type[1], STORE_EV_EXISTS);
	assert_int_equal(f->rec.uid[1], u2);
	assert_int_equal(f->rec.type[2], STORE_EV_FLAGS);
	assert_int_equal(f->rec.flags[2].sys, STORE_F_SEEN);
	assert_int_equal(f->rec.type[3], STORE_EV_EXPUNGE);
	assert_int_equal(f->rec.uid[3], u2);
	assert_int_equal(rec2.n, 4);
	/* A new keyword changes the status (IMAP's FLAGS list). */
	assert_int_equal(store_mbox_keyword(mb, "$Junk", true), 0);
	assert_int_equal(f->rec.type[4], STORE_EV_STATUS);
	store_mbox_unsubscribe(mb, &other);
	assert_null(other);
	append(mb, "c\r\n", 0);
	assert_int_equal(rec2.n, 5);
	assert_int_equal(f->rec.n, 6);
	store_mbox_unsubscribe(mb, &sub);
	assert_int_equal(store_mbox_subscribers(mb), 0);
	store_hub_release(f->hub, &mb);
}

struct selfdrop {
	struct store_mbox	*mb;
	struct store_sub	*sub;
	int			 calls;
};

static void
drop_self(void *arg, const struct store_event *ev)
{
	struct selfdrop *d = arg;

	(void)ev;
	d->calls++;
	store_mbox_unsubscribe(d->mb, &d->sub);
}

static void
test_unsubscribe_in_callback(void **state)
{
	struct fix		*f = *state;
	struct selfdrop		 d;
	struct store_sub	*sub;
	char			 err[256];

	d.mb = store_hub_open(f->hub, f->dir, "INBOX", err, sizeof(err));
	d.calls = 0;
	sub = store_mbox_subscribe(d.mb, on_event, &f->rec);
	d.sub = store_mbox_subscribe(d.mb, drop_self, &d);
	append(d.mb, "x\r\n", 0);
	append(d.mb, "y\r\n", 0);
	assert_int_equal(d.calls, 1);
	assert_null(d.sub);
	/* The other subscriber kept hearing. */
	assert_int_equal(f->rec.n, 2);
	store_mbox_unsubscribe(d.mb, &sub);
	store_hub_release(f->hub, &d.mb);
}

/* Another process appends, stores flags, adds a keyword and expunges:
 * the hub's subscribers hear each within a second. */
static void
other_process_changes(struct fix *f)
{
	struct store_mbox	*mb, *other;
	struct store_sub	*sub;
	struct store_flags	 fl;
	char			 err[256];
	pid_t			 pid;
	int			 status, kw;
	uint32_t		 mine;

	mb = store_hub_open(f->hub, f->dir, "INBOX", err, sizeof(err));
	assert_non_null(mb);
	mine = append(mb, "mine\r\n", 0);
	sub = store_mbox_subscribe(mb, on_event, &f->rec);

	/* A real second process, as rmail deliver is. */
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		other = store_mbox_open(f->dir, "INBOX", err, sizeof(err));
		_exit(other == NULL || store_mbox_append(other, "theirs\r\n",
		    8, 0, NULL, NULL, err, sizeof(err)) == -1 ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	wait_events(f, 1, 1.5);
	assert_int_equal(f->rec.n, 1);
	assert_int_equal(f->rec.type[0], STORE_EV_EXISTS);
	assert_int_equal(f->rec.uid[0], mine + 1);
	assert_int_equal(store_mbox_count(mb), 2);

	/* Flags, a keyword and an expunge from a handle of its own. */
	other = store_mbox_open(f->dir, "INBOX", err, sizeof(err));
	assert_non_null(other);
	kw = store_mbox_keyword(other, "work", true);
	assert_int_equal(kw, 0);
	fl.sys = STORE_F_FLAGGED;
	fl.kw = 1u << kw;
	assert_int_equal(store_mbox_set_flags(other, mine, &fl), 0);
	assert_int_equal(store_mbox_expunge(other, mine + 1), 0);
	store_mbox_close(&other);
	wait_events(f, 4, 1.5);
	assert_int_equal(f->rec.n, 4);
	assert_int_equal(f->rec.type[1], STORE_EV_STATUS);
	assert_int_equal(store_mbox_keyword_count(mb), 1);
	assert_string_equal(store_mbox_keyword_name(mb, 0), "work");
	assert_int_equal(f->rec.type[2], STORE_EV_FLAGS);
	assert_int_equal(f->rec.uid[2], mine);
	assert_int_equal(f->rec.flags[2].sys, STORE_F_FLAGGED);
	assert_int_equal(f->rec.flags[2].kw, 1);
	assert_int_equal(f->rec.type[3], STORE_EV_EXPUNGE);
	assert_int_equal(f->rec.uid[3], mine + 1);
	assert_int_equal(store_mbox_count(mb), 1);
	store_mbox_unsubscribe(mb, &sub);
	store_hub_release(f->hub, &mb);
}

static void
test_other_process_inotify(void **state)
{
	struct fix *f = *state;

	assert_true(store_hub_inotify(f->hub));
	other_process_changes(f);
}

static void
test_other_process_polling(void **state)
{
	struct fix *f = *state;

	assert_false(store_hub_inotify(f->hub));
	other_process_changes(f);
}

/* Own writes make inotify events too: they must not be reported twice. */
static void
test_own_writes_not_echoed(void **state)
{
	struct fix		*f = *state;
	struct store_mbox	*mb;
	struct store_sub	*sub;
	struct store_flags	 fl = { .sys = STORE_F_SEEN, .kw = 0 };
	char			 err[256];
	uint32_t		 u;

	mb = store_hub_open(f->hub, f->dir, "INBOX", err, sizeof(err));
	sub = store_mbox_subscribe(mb, on_event, &f->rec);
	u = append(mb, "a\r\n", 0);
	assert_int_equal(store_mbox_set_flags(mb, u, &fl), 0);
	assert_int_equal(f->rec.n, 2);
	wait_events(f, 3, 0.3);
	assert_int_equal(f->rec.n, 2);
	store_mbox_unsubscribe(mb, &sub);
	store_hub_release(f->hub, &mb);
}

/* A file put back by hand below the highest uid gets a fresh uid. */
static void
test_restored_file_gets_new_uid(void **state)
{
	struct fix		*f = *state;
	struct store_mbox	*mb;
	struct store_sub	*sub;
	struct stat		 st;
	char			 err[256], *from, *to;
	uint32_t		 u1, u2;

	mb = store_hub_open(f->hub, f->dir, "INBOX", err, sizeof(err));
	u1 = append(mb, "first\r\n", 0);
	u2 = append(mb, "second\r\n", 0);
	sub = store_mbox_subscribe(mb, on_event, &f->rec);
	/* An admin moves u1 away and back, as a backup restore would. */
	from = xasprintf("%s/0000/%08u_.eml", f->mbox, u1);
	to = xasprintf("%s/restore.eml", f->dir);
	assert_int_equal(rename(from, to), 0);
	wait_events(f, 1, 1.5);
	assert_int_equal(f->rec.type[0], STORE_EV_EXPUNGE);
	assert_int_equal(rename(to, from), 0);
	wait_events(f, 2, 1.5);
	assert_int_equal(f->rec.n, 2);
	assert_int_equal(f->rec.type[1], STORE_EV_EXISTS);
	assert_true(f->rec.uid[1] > u2);
	assert_int_equal(stat(from, &st), -1);
	free(from);
	from = xasprintf("%s/0000/%08u_.eml", f->mbox, f->rec.uid[1]);
	assert_int_equal(stat(from, &st), 0);
	assert_true(store_mbox_uidnext(mb) > f->rec.uid[1]);
	free(from);
	free(to);
	store_mbox_unsubscribe(mb, &sub);
	store_hub_release(f->hub, &mb);
}

static void
gone(struct fix *f)
{
	struct store_mbox	*mb, *again;
	struct store_sub	*sub;
	char			 err[256], *to;

	mb = store_hub_open(f->hub, f->dir, "INBOX", err, sizeof(err));
	append(mb, "a\r\n", 0);
	sub = store_mbox_subscribe(mb, on_event, &f->rec);
	to = xasprintf("%s/mailboxes/Renamed", f->dir);
	assert_int_equal(rename(f->mbox, to), 0);
	free(to);
	wait_events(f, 1, 1.5);
	assert_int_equal(f->rec.n, 1);
	assert_int_equal(f->rec.type[0], STORE_EV_GONE);
	/* The stale handle stays usable until released; a new open of the
	 * name finds no mailbox. */
	assert_int_equal(store_mbox_count(mb), 1);
	again = store_hub_open(f->hub, f->dir, "INBOX", err, sizeof(err));
	assert_null(again);
	assert_int_equal(errno, ENOENT);
	store_mbox_unsubscribe(mb, &sub);
	store_hub_release(f->hub, &mb);
	assert_int_equal(store_hub_count(f->hub, NULL), 0);
}

static void
test_gone_inotify(void **state)
{
	gone(*state);
}

static void
test_gone_polling(void **state)
{
	gone(*state);
}

static void
test_quota(void **state)
{
	struct fix		*f = *state;
	struct store_mbox	*mb, *other;
	struct store_quota	*q;
	char			 err[256];
	uint32_t		 u;

	/* One message already in another mailbox counts too. */
	assert_int_equal(store_mbox_create(f->dir, "Other", NULL, err,
	    sizeof(err)), 0);
	other = store_mbox_open(f->dir, "Other", err, sizeof(err));
	append(other, "12345\r\n", 0);
	store_mbox_close(&other);

	q = store_hub_quota(f->hub, f->dir, 0, 3);
	mb = store_hub_open(f->hub, f->dir, "INBOX", err, sizeof(err));
	u = append(mb, "a\r\n", 0);
	append(mb, "b\r\n", 0);
	assert_int_equal(q->messages, 3);
	assert_int_equal(q->bytes, 7 + 3 + 3);
	assert_int_equal(store_mbox_append(mb, "c\r\n", 3, 0, NULL, NULL, err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EDQUOT);
	assert_non_null(strstr(err, "3 of 3 messages"));
	assert_int_equal(store_mbox_count(mb), 2);
	/* Expunging makes room. */
	assert_int_equal(store_mbox_expunge(mb, u), 0);
	assert_int_equal(q->messages, 2);
	append(mb, "c\r\n", 0);
	/* A byte limit, checked before anything is written. */
	store_hub_quota(f->hub, f->dir, 20, 0);
	assert_int_equal(store_mbox_append(mb, "0123456789\r\n", 12, 0, NULL,
	    NULL, err, sizeof(err)), -1);
	assert_int_equal(errno, EDQUOT);
	assert_non_null(strstr(err, "bytes"));
	store_hub_quota(f->hub, f->dir, 0, 0);
	append(mb, "0123456789\r\n", 0);
	store_hub_release(f->hub, &mb);
}

static void
test_quota_count(void **state)
{
	struct fix		*f = *state;
	struct store_quota	 q;
	struct store_mbox	*mb;
	char			 err[256];

	memset(&q, 0, sizeof(q));
	assert_int_equal(store_quota_count(f->dir, &q), 0);
	assert_int_equal(q.messages, 0);
	assert_true(q.counted != 0);
	mb = store_mbox_open(f->dir, "INBOX", err, sizeof(err));
	append(mb, "abc\r\n", 0);
	append(mb, "de\r\n", 0);
	store_mbox_close(&mb);
	assert_int_equal(store_quota_count(f->dir, &q), 0);
	assert_int_equal(q.messages, 2);
	assert_int_equal(q.bytes, 9);
	q.max_messages = 2;
	assert_int_equal(store_quota_check(&q, 1, 1, err, sizeof(err)), -1);
	assert_int_equal(errno, EDQUOT);
	q.max_messages = 3;
	assert_int_equal(store_quota_check(&q, 1, 1, err, sizeof(err)), 0);
	q.max_bytes = 10;
	assert_int_equal(store_quota_check(&q, 2, 1, err, sizeof(err)), -1);
	assert_int_equal(store_quota_check(NULL, 2, 1, err, sizeof(err)), 0);
	store_quota_add(&q, -100, -100);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(q.messages, 0);
}

/* A pid that no process has now: a child that has exited and been reaped. */
static pid_t
dead_pid(void)
{
	pid_t pid = fork();

	assert_true(pid != -1);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static bool
has_file(const char *dir, const char *name)
{
	char		*p = xasprintf("%s/tmp/%s", dir, name);
	struct stat	 st;
	bool		 r = stat(p, &st) == 0;

	free(p);
	return r;
}

static void
put_file(const char *dir, const char *name)
{
	char	*p = xasprintf("%s/tmp/%s", dir, name);
	int	 fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd != -1);
	assert_int_equal(write(fd, "half", 4), 4);
	assert_int_equal(close(fd), 0);
	free(p);
}

/*
 * A crash mid-append (kill -9 of the server) leaves staged files in
 * USER/tmp, hard links to queue messages among them: the first open of
 * one of the user's mailboxes sweeps them, but not the file of a live
 * writer (rmail deliver, by the pid in its name).
 */
static void
test_first_open_cleans_tmp(void **state)
{
	struct fix		*f = *state;
	struct store_mbox	*mb;
	char			 dead[64], live[64], err[256];

	snprintf(dead, sizeof(dead), "%ld.1700000000.7.l", (long)dead_pid());
	snprintf(live, sizeof(live), "%ld.1700000000.8", (long)getppid());
	put_file(f->dir, dead);
	put_file(f->dir, live);
	put_file(f->dir, "junk");
	mb = store_hub_open(f->hub, f->dir, "INBOX", err, sizeof(err));
	assert_non_null(mb);
	assert_false(has_file(f->dir, dead));
	assert_false(has_file(f->dir, "junk"));
	assert_true(has_file(f->dir, live));
	/* Once per user and process: a later leftover is not looked at. */
	put_file(f->dir, dead);
	store_hub_release(f->hub, &mb);
	mb = store_hub_open(f->hub, f->dir, "INBOX", err, sizeof(err));
	assert_non_null(mb);
	assert_true(has_file(f->dir, dead));
	store_hub_release(f->hub, &mb);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
#define P(f)	cmocka_unit_test_setup_teardown(f, setup_poll, teardown)
	const struct CMUnitTest tests[] = {
		T(test_shared_and_lingering),
		T(test_linger_bounded_by_messages),
		T(test_own_changes_notified),
		T(test_unsubscribe_in_callback),
		T(test_other_process_inotify),
		P(test_other_process_polling),
		T(test_own_writes_not_echoed),
		T(test_restored_file_gets_new_uid),
		T(test_gone_inotify),
		P(test_gone_polling),
		T(test_quota),
		T(test_quota_count),
		T(test_first_open_cleans_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
