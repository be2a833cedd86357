/*
 * Unit tests: relay/queue (durable submit, local delivery through the hub,
 * remote targets left pending, restart, no duplicate after a crash between
 * append and envelope update, over-quota deferral and retry) and the
 * envelope files (relay/queue_env.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "config/config.h"
#include "config/env.h"
#include "config/users.h"
#include "core/fsio.h"
#include "core/log.h"
#include "core/util.h"
#include "relay/queue.h"
#include "relay/queue_env.h"
#include "relay/route.h"
#include "store/hub.h"
#include "store/mailbox.h"
#include "store/user.h"
#include "tests/unit/tmpdir.h"

#define DOMAIN	"example.test"
#define ALICE	"alice@" DOMAIN
#define BOB	"bob@" DOMAIN
#define REMOTE	"carol@remote.test"
#define SENDER	"sender@remote.test"
#define MSG	"Received: from x\r\nSubject: hi\r\n\r\nhello\r\n"

struct fix {
	char			 dir[64];
	char			*qdir;
	struct rmail_env	 env;
};

static char hash[USERS_HASH_MAX];

/* Write the users file: alice and bob, alice with the given quota. */
static void
write_users(struct fix *f, uint64_t alice_msgs)
{
	char *path = xasprintf("%s/users.json", f->dir);
	char *text = xasprintf("{\"version\": 1, \"users\": ["
	    "{\"address\": \"" ALICE "\", \"password\": \"%s\", "
	    "\"quota_bytes\": 0, \"quota_messages\": %llu},"
	    "{\"address\": \"" BOB "\", \"password\": \"%s\"}]}\n", hash,
	    (unsigned long long)alice_msgs, hash);
	char err[512];

	assert_int_equal(fsio_write_atomic(path, text, strlen(text), 0600), 0);
	users_free(&f->env.users);
	f->env.users = users_load(path, err, sizeof(err));
	if (f->env.users == NULL)
		fail_msg("users_load: %s", err);
	free(text);
	free(path);
}

static int
setup(void **state)
{
	struct fix		*f = xcalloc(1, sizeof(*f));
	struct conf_error	 cerr;
	char			*cpath, *text, err[512];

	if (hash[0] == '\0')
		assert_int_equal(users_hash_password("pw", USERS_MIN_ITERATIONS,
		    hash, sizeof(hash)), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/rmail-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	cpath = xasprintf("%s/rmail.json", f->dir);
	text = xasprintf("{\"hostname\": \"mail." DOMAIN "\", \"domains\": "
	    "[\"" DOMAIN "\"], \"data_dir\": \"%s/data\", \"users_file\": "
	    "\"%s/users.json\", \"relay\": {\"dns_servers\": "
	    "[\"127.0.0.1:1\"]}}\n", f->dir, f->dir);
	/* No test reaches the network: remote targets ask a DNS server
	 * that refuses (port 1), so they are deferred, never bounced. */
	assert_int_equal(fsio_write_atomic(cpath, text, strlen(text), 0600), 0);
	f->env.conf = conf_load(cpath, &cerr);
	if (f->env.conf == NULL)
		fail_msg("conf_load: %s", cerr.msg);
	free(text);
	free(cpath);
	write_users(f, 0);
	f->env.loop = ev_loop_new(EVFLAG_AUTO);
	f->env.hub = store_hub_new(f->env.loop, 0);
	f->env.queue = queue_new(&f->env, err, sizeof(err));
	if (f->env.queue == NULL)
		fail_msg("queue_new: %s", err);
	f->qdir = xasprintf("%s/data/queue", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	queue_free(&f->env.queue);
	store_hub_free(&f->env.hub);
	ev_loop_destroy(f->env.loop);
	users_free(&f->env.users);
	conf_free(&f->env.conf);
	tmp_rm_rf(f->dir);
	free(f->qdir);
	free(f);
	return 0;
}

/* Restart: a new queue on the same files. */
static void
restart(struct fix *f)
{
	char err[512];

	queue_free(&f->env.queue);
	f->env.queue = queue_new(&f->env, err, sizeof(err));
	if (f->env.queue == NULL)
		fail_msg("queue_new: %s", err);
}

/* Run the loop a little: enough for every due attempt. */
static void
spin(struct fix *f)
{
	/* Past the queue's coalescing delay (10 ms), then the loop's work. */
	for (int i = 0; i < 25; i++) {
		ev_run(f->env.loop, EVRUN_NOWAIT);
		usleep(2000);
	}
}

static void
submit(struct fix *f, const char *const *addrs, const bool *local, size_t n,
    char id[QUEUE_ID_MAX])
{
	struct route_target	 t[8];
	struct route_list	 rl = { t, n };
	struct queue_envelope	 qe = {
		.mail_from = SENDER, .targets = &rl, .client_ip = "192.0.2.1",
		.helo = "client\r\nx", .auth_user = NULL, .smtputf8 = false,
	};
	char			 err[512];

	for (size_t i = 0; i < n; i++) {
		t[i].addr = (char *)addrs[i];
		t[i].local = local[i];
	}
	if (queue_submit(f->env.queue, &qe, MSG, strlen(MSG), id, err,
	    sizeof(err)) == -1)
		fail_msg("queue_submit: %s", err);
	assert_true(queue_id_valid(id));
}

static char *
user_dir(struct fix *f, const char *local)
{
	return xasprintf("%s/data/mail/" DOMAIN "/%s", f->dir, local);
}

/* Messages in a user's INBOX (a fresh handle: what is on disk). The
 * content of the first goes to *first_r when not NULL. */
static size_t
inbox_count(struct fix *f, const char *local, char **first_r, uint32_t *uid_r)
{
	char			*dir = user_dir(f, local), err[512];
	struct store_mbox	*mb;
	size_t			 n, len;

	mb = store_mbox_open(dir, "INBOX", err, sizeof(err));
	free(dir);
	if (mb == NULL) {
		assert_int_equal(errno, ENOENT);
		return 0;
	}
	n = store_mbox_count(mb);
	if (first_r != NULL && n > 0)
		*first_r = store_mbox_read(mb, store_mbox_at(mb, 0)->uid, &len);
	if (uid_r != NULL && n > 0)
		*uid_r = store_mbox_at(mb, 0)->uid;
	store_mbox_close(&mb);
	return n;
}

/* The inode of the first message in a user's INBOX (uid 1, no flags). */
static ino_t
first_inode(struct fix *f, const char *local)
{
	char		*dir = user_dir(f, local), *p;
	struct stat	 st;

	p = xasprintf("%s/mailboxes/INBOX/0000/00000001_.eml", dir);
	assert_int_equal(stat(p, &st), 0);
	free(p);
	free(dir);
	return st.st_ino;
}

static void
load_env(struct fix *f, const char *id, struct queue_msgenv *e)
{
	char err[512];

	if (queue_msgenv_load(f->qdir, id, e, err, sizeof(err)) == -1)
		fail_msg("load %s: %s", id, err);
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static bool
queued(struct fix *f, const char *id)
{
	char *e = queue_env_path(f->qdir, id), *m = queue_msg_path(f->qdir, id);
	bool env = exists(e), msg = exists(m);

	free(e);
	free(m);
	assert_int_equal(env, msg);
	return env;
}

static void
test_deliver_local_and_remote(void **state)
{
	struct fix		*f = *state;
	const char *const	 addrs[] = { ALICE, BOB, REMOTE };
	const bool		 local[] = { true, true, false };
	struct queue_msgenv	 e;
	char			 id[QUEUE_ID_MAX], *m = NULL, *want, *keys;

	submit(f, addrs, local, 3, id);
	/* Durable before the loop ran: both files are there. */
	assert_true(queued(f, id));
	assert_int_equal(queue_count(f->env.queue), 1);
	load_env(f, id, &e);
	assert_string_equal(e.from, SENDER);
	assert_string_equal(e.helo, "client??x");
	/* Return-Path first: what local copies keep, the relay skips. */
	assert_int_equal(e.local_head, strlen("Return-Path: <" SENDER ">\r\n"));
	assert_int_equal(e.size, e.local_head + strlen(MSG));
	assert_int_equal(e.t[0].state, QUEUE_T_PENDING);
	queue_msgenv_clear(&e);

	spin(f);
	/* Two local copies: the same bytes (no Delivered-To naming one of
	 * them), one file hard-linked into both INBOXes. */
	assert_int_equal(inbox_count(f, "alice", &m, NULL), 1);
	want = "Return-Path: <" SENDER ">\r\n" MSG;
	assert_string_equal(m, want);
	free(m);
	assert_int_equal(inbox_count(f, "bob", &m, NULL), 1);
	assert_string_equal(m, want);
	free(m);
	assert_true(first_inode(f, "alice") == first_inode(f, "bob"));

	/* The remote target keeps the message queued: the relay tried at
	 * most once (the DNS server refuses: deferred, not bounced). */
	assert_true(queued(f, id));
	assert_int_equal(queue_count(f->env.queue), 1);
	load_env(f, id, &e);
	assert_int_equal(e.t[0].state, QUEUE_T_DONE);
	assert_int_equal(e.t[0].uid, 1);
	assert_int_equal(e.t[1].state, QUEUE_T_DONE);
	assert_int_equal(e.t[2].state, QUEUE_T_PENDING);
	assert_false(e.t[2].local);
	assert_true(e.t[2].attempts <= 1);
	/* Tried or not yet, never failed for good. */
	assert_true((e.t[2].attempts == 0) == (e.t[2].last_error == NULL));
	queue_msgenv_clear(&e);

	/* The shared copy staged in tmp/ is gone once linked. */
	keys = xasprintf("%s/tmp/%s.stored", f->qdir, id);
	assert_false(exists(keys));
	free(keys);

	/* Kicking again delivers nothing twice. */
	queue_kick(f->env.queue);
	spin(f);
	assert_int_equal(inbox_count(f, "alice", NULL, NULL), 1);
	assert_int_equal(inbox_count(f, "bob", NULL, NULL), 1);
}

static void
test_all_done_removed(void **state)
{
	struct fix		*f = *state;
	const char *const	 addrs[] = { ALICE, BOB };
	const bool		 local[] = { true, true };
	char			 id[QUEUE_ID_MAX], id2[QUEUE_ID_MAX];

	submit(f, addrs, local, 2, id);
	submit(f, addrs, local, 1, id2);
	assert_true(strcmp(id, id2) < 0);	/* time-ordered */
	assert_int_equal(queue_count(f->env.queue), 2);
	spin(f);
	assert_false(queued(f, id));
	assert_false(queued(f, id2));
	assert_int_equal(queue_count(f->env.queue), 0);
	assert_int_equal(inbox_count(f, "alice", NULL, NULL), 2);
	assert_int_equal(inbox_count(f, "bob", NULL, NULL), 1);
	/* Nothing staged is left behind. */
	{
		char *k = xasprintf("%s/tmp/%s.stored", f->qdir, id);

		assert_false(exists(k));
		free(k);
	}
}

static void
test_restart_resumes(void **state)
{
	struct fix		*f = *state;
	const char *const	 addrs[] = { ALICE };
	const bool		 local[] = { true };
	char			 id[QUEUE_ID_MAX], *p;

	submit(f, addrs, local, 1, id);
	/* Stopped before the loop ran: the message waits on disk. */
	restart(f);
	assert_int_equal(inbox_count(f, "alice", NULL, NULL), 0);

	/* Litter of a crash: a tmp file, a message without envelope (mid
	 * submit), an envelope without message, a half-written envelope. */
	p = xasprintf("%s/tmp/0000000000000001", f->qdir);
	assert_int_equal(fsio_write_atomic(p, "x", 1, 0600), 0);
	free(p);
	p = xasprintf("%s/msg/0000000000000002", f->qdir);
	assert_int_equal(fsio_write_atomic(p, "x", 1, 0600), 0);
	free(p);
	p = xasprintf("%s/env/0000000000000003.json", f->qdir);
	assert_int_equal(fsio_write_atomic(p, "{}", 2, 0600), 0);
	free(p);
	p = xasprintf("%s/env/.tmp.0000000000000004.json", f->qdir);
	assert_int_equal(fsio_write_atomic(p, "{", 1, 0600), 0);
	free(p);

	restart(f);
	assert_int_equal(queue_count(f->env.queue), 1);
	p = xasprintf("%s/tmp/0000000000000001", f->qdir);
	assert_false(exists(p));
	free(p);
	p = xasprintf("%s/msg/0000000000000002", f->qdir);
	assert_false(exists(p));
	free(p);
	p = xasprintf("%s/env/0000000000000003.json", f->qdir);
	assert_false(exists(p));
	free(p);
	p = xasprintf("%s/env/.tmp.0000000000000004.json", f->qdir);
	assert_false(exists(p));
	free(p);

	spin(f);
	assert_int_equal(inbox_count(f, "alice", NULL, NULL), 1);
	assert_false(queued(f, id));
	assert_int_equal(queue_count(f->env.queue), 0);
}

/*
 * A crash after the store append but before the envelope said done: the
 * store holds the message and its key; the envelope still says pending.
 * The next run must find the key and store nothing again.
 */
static void
test_crash_no_duplicate(void **state)
{
	struct fix		*f = *state;
	const char *const	 addrs[] = { ALICE, REMOTE };
	const bool		 local[] = { true, false };
	struct queue_msgenv	 e;
	struct store_mbox	*mb;
	char			 id[QUEUE_ID_MAX], key[64], err[512], *dir, *data;
	size_t			 len;
	uint32_t		 uid = 0, uid2 = 0;
	bool			 dup = true;

	submit(f, addrs, local, 2, id);
	restart(f);	/* "crashed" before delivering */

	/* What the crashed delivery did: append_once with the key. */
	dir = xmalloc(PATH_MAX);
	assert_int_equal(store_user_ensure(f->env.conf->data_dir, ALICE, dir,
	    PATH_MAX, err, sizeof(err)), 0);
	mb = store_mbox_open(dir, "INBOX", err, sizeof(err));
	assert_non_null(mb);
	data = store_crlf("Return-Path: <" SENDER ">\r\nDelivered-To: " ALICE
	    "\r\n", MSG, strlen(MSG), &len);
	snprintf(key, sizeof(key), "%s.0", id);
	assert_int_equal(store_mbox_append_once(mb, key, data, len, 0, NULL,
	    &uid, &dup, err, sizeof(err)), 0);
	assert_false(dup);
	store_mbox_close(&mb);
	free(data);
	free(dir);

	spin(f);
	assert_int_equal(inbox_count(f, "alice", NULL, &uid2), 1);
	assert_int_equal(uid2, uid);
	load_env(f, id, &e);
	assert_int_equal(e.t[0].state, QUEUE_T_DONE);
	assert_int_equal(e.t[0].uid, uid);
	queue_msgenv_clear(&e);
}

/*
 * After a restart the queue delivers oldest first, as it did before:
 * readdir's order is the file system's. It matters after a crash: the
 * message a crash cut mid-delivery must come before hundreds of later
 * ones push its key out of the mailbox's duplicate window.
 */
static void
test_restart_delivers_oldest_first(void **state)
{
	struct fix		*f = *state;
	struct route_target	 t = { .addr = (char *)ALICE, .local = true };
	struct route_list	 rl = { &t, 1 };
	struct queue_envelope	 qe = {
		.mail_from = SENDER, .targets = &rl, .client_ip = "192.0.2.1",
		.helo = "client",
	};
	struct store_mbox	*mb;
	char			 id[QUEUE_ID_MAX], msg[128], err[512], *dir, *got;
	size_t			 len;
	const size_t		 n = 24;

	for (size_t i = 0; i < n; i++) {
		snprintf(msg, sizeof(msg), "Subject: %zu\r\n\r\nmessage %zu\r\n", i, i);
		if (queue_submit(f->env.queue, &qe, msg, strlen(msg), id, err,
		    sizeof(err)) == -1)
			fail_msg("queue_submit: %s", err);
	}
	restart(f);
	spin(f);
	dir = user_dir(f, "alice");
	mb = store_mbox_open(dir, "INBOX", err, sizeof(err));
	free(dir);
	assert_non_null(mb);
	assert_int_equal(store_mbox_count(mb), n);
	for (size_t i = 0; i < n; i++) {
		snprintf(msg, sizeof(msg), "\r\nmessage %zu\r\n", i);
		got = store_mbox_read(mb, store_mbox_at(mb, i)->uid, &len);
		assert_non_null(got);
		if (strstr(got, msg) == NULL)
			fail_msg("uid %u holds %s, want message %zu",
			    (unsigned)store_mbox_at(mb, i)->uid, got, i);
		free(got);
	}
	store_mbox_close(&mb);
}

static void
test_over_quota_deferred(void **state)
{
	struct fix		*f = *state;
	const char *const	 addrs[] = { ALICE };
	const bool		 local[] = { true };
	struct queue_msgenv	 e;
	char			 id[QUEUE_ID_MAX], err[512];
	time_t			 now;

	/* One message allowed; the first fills the mailbox. */
	write_users(f, 1);
	assert_int_equal(queue_local_room(f->env.queue, ALICE, 100, err,
	    sizeof(err)), 0);
	submit(f, addrs, local, 1, id);
	spin(f);
	assert_int_equal(inbox_count(f, "alice", NULL, NULL), 1);
	assert_false(queued(f, id));

	/* Full now: SMTP would answer 452 4.2.2 at RCPT and after DATA. */
	assert_int_equal(queue_local_room(f->env.queue, ALICE, 0, err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EDQUOT);
	assert_int_equal(queue_local_room(f->env.queue, ALICE, 10, err,
	    sizeof(err)), -1);
	assert_int_equal(errno, EDQUOT);
	/* Other users and unknown addresses have room. */
	assert_int_equal(queue_local_room(f->env.queue, BOB, 0, err,
	    sizeof(err)), 0);
	assert_int_equal(queue_local_room(f->env.queue, "nobody@" DOMAIN, 0,
	    err, sizeof(err)), 0);

	/* Accepted anyway (the check raced): deferred, not lost. */
	now = time(NULL);
	submit(f, addrs, local, 1, id);
	spin(f);
	assert_int_equal(inbox_count(f, "alice", NULL, NULL), 1);
	assert_true(queued(f, id));
	load_env(f, id, &e);
	assert_int_equal(e.t[0].state, QUEUE_T_PENDING);
	assert_int_equal(e.t[0].attempts, 1);
	assert_true(e.t[0].next_try >= now + 60);
	assert_non_null(e.t[0].last_error);
	assert_non_null(strstr(e.t[0].last_error, "4.2.2"));
	queue_msgenv_clear(&e);

	/* Not retried before its time. */
	spin(f);
	load_env(f, id, &e);
	assert_int_equal(e.t[0].attempts, 1);
	queue_msgenv_clear(&e);

	/* Quota raised (reload), then a flush: delivered. */
	write_users(f, 10);
	queue_kick(f->env.queue);
	spin(f);
	assert_int_equal(inbox_count(f, "alice", NULL, NULL), 2);
	assert_false(queued(f, id));
	assert_int_equal(queue_count(f->env.queue), 0);
}

static void
test_vanished_user_fails(void **state)
{
	struct fix		*f = *state;
	const char *const	 addrs[] = { "gone@" DOMAIN, ALICE };
	const bool		 local[] = { true, true };
	char			 id[QUEUE_ID_MAX];

	struct queue_msgenv	 e;
	char			*envdir, bid[QUEUE_ID_MAX] = "";
	struct dirent		*de;
	DIR			*d;

	submit(f, addrs, local, 2, id);
	spin(f);
	/* Permanently failed target, delivered one: the message is done. */
	assert_false(queued(f, id));
	assert_int_equal(inbox_count(f, "alice", NULL, NULL), 1);
	/* What is queued now is the bounce to the sender (RFC 3464), from
	 * the null sender. */
	assert_int_equal(queue_count(f->env.queue), 1);
	envdir = xasprintf("%s/env", f->qdir);
	assert_non_null(d = opendir(envdir));
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] != '.' && n > 5 && n - 5 < sizeof(bid)) {
			memcpy(bid, de->d_name, n - 5);	/* less ".json" */
			bid[n - 5] = '\0';
		}
	}
	closedir(d);
	free(envdir);
	assert_string_not_equal(bid, "");
	assert_string_not_equal(bid, id);
	load_env(f, bid, &e);
	assert_string_equal(e.from, "");
	assert_int_equal(e.n, 1);
	assert_string_equal(e.t[0].addr, SENDER);
	assert_false(e.t[0].local);
	queue_msgenv_clear(&e);
}

static void
test_submit_refuses_bad_envelope(void **state)
{
	struct fix		*f = *state;
	struct route_target	 t = { "evil\r\nX: y@" DOMAIN, true };
	struct route_list	 rl = { &t, 1 };
	struct queue_envelope	 qe = { .mail_from = SENDER, .targets = &rl };
	char			 id[QUEUE_ID_MAX], err[512];

	assert_int_equal(queue_submit(f->env.queue, &qe, MSG, strlen(MSG), id,
	    err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	rl.n = 0;
	assert_int_equal(queue_submit(f->env.queue, &qe, MSG, strlen(MSG), id,
	    err, sizeof(err)), -1);
	assert_int_equal(queue_count(f->env.queue), 0);
}

/* Count the entries of a queue folder (dot-files included). */
static size_t
dir_entries(struct fix *f, const char *sub)
{
	char		*p = xasprintf("%s/%s", f->qdir, sub);
	struct dirent	*de;
	DIR		*d = opendir(p);
	size_t		 n = 0;

	free(p);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* A write that fails midway (here: a folder gone) leaves nothing. */
static void
test_submit_failure_leaves_nothing(void **state)
{
	struct fix		*f = *state;
	struct route_target	 t = { ALICE, true };
	struct route_list	 rl = { &t, 1 };
	struct queue_envelope	 qe = { .mail_from = SENDER, .targets = &rl };
	char			 id[QUEUE_ID_MAX], err[512], *p;

	/* The envelope cannot be written: the message goes again. */
	p = xasprintf("%s/env", f->qdir);
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(queue_submit(f->env.queue, &qe, MSG, strlen(MSG), id,
	    err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "write-envelope"));
	assert_int_equal(dir_entries(f, "msg"), 0);
	assert_int_equal(dir_entries(f, "tmp"), 0);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);

	/* The message cannot be renamed into msg/. */
	p = xasprintf("%s/msg", f->qdir);
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(queue_submit(f->env.queue, &qe, MSG, strlen(MSG), id,
	    err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(dir_entries(f, "env"), 0);
	assert_int_equal(dir_entries(f, "tmp"), 0);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);

	assert_int_equal(queue_count(f->env.queue), 0);
	/* And the queue works again once the folders are back. */
	assert_int_equal(queue_submit(f->env.queue, &qe, MSG, strlen(MSG), id,
	    err, sizeof(err)), 0);
	spin(f);
	assert_int_equal(inbox_count(f, "alice", NULL, NULL), 1);
}

static void
test_id_valid(void **state)
{
	(void)state;
	assert_true(queue_id_valid("0AZaz9"));
	assert_true(queue_id_valid("0123456789012345678901234567890"));	/* 31 */
	assert_false(queue_id_valid("01234567890123456789012345678901"));
	assert_false(queue_id_valid(""));
	assert_false(queue_id_valid("../x"));
	assert_false(queue_id_valid("a.json"));
	assert_false(queue_id_valid("a b"));
	assert_false(queue_id_valid("a/b"));
}

static void
test_env_parse(void **state)
{
	static const struct {
		const char	*text;
		const char	*err;	/* NULL: parses */
	} cases[] = {
		{ "{\"version\":1,\"from\":\"\",\"targets\":[{\"addr\":\"a@b\"}]}",
		  NULL },
		{ "{\"version\":2,\"from\":\"\",\"targets\":[{\"addr\":\"a@b\"}]}",
		  "version" },
		{ "{\"version\":1,\"targets\":[{\"addr\":\"a@b\"}]}", "from" },
		{ "{\"version\":1,\"from\":\"\",\"targets\":[]}", "targets" },
		{ "{\"version\":1,\"from\":\"x\\r\\n\",\"targets\":"
		  "[{\"addr\":\"a@b\"}]}", "from" },
		{ "{\"version\":1,\"from\":\"\",\"targets\":[{\"addr\":\"ab\"}]}",
		  "targets[0].addr" },
		{ "{\"version\":1,\"from\":\"\",\"targets\":[{\"addr\":\"a@b\","
		  "\"state\":\"lost\"}]}", "targets[0].state" },
		{ "{\"version\":1,\"id\":\"other\",\"from\":\"\",\"targets\":"
		  "[{\"addr\":\"a@b\"}]}", "id" },
		{ "{\"version\":1,\"from\":\"\",\"targets\":[{\"addr\":\"a@b\","
		  "\"attempts\":-1}]}", "targets[0].attempts" },
		{ "[", "invalid JSON" },
	};
	struct queue_msgenv e, e2;
	char err[512], *text;
	size_t len;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		int r = queue_msgenv_parse(cases[i].text, strlen(cases[i].text),
		    "ID1", &e, err, sizeof(err));

		if (cases[i].err == NULL) {
			assert_int_equal(r, 0);
			assert_string_equal(e.id, "ID1");
			assert_true(e.t[0].local == false);
			assert_int_equal(e.t[0].state, QUEUE_T_PENDING);
			queue_msgenv_clear(&e);
		} else {
			assert_int_equal(r, -1);
			if (strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
				fail_msg("case %zu: %s", i, err);
		}
	}

	/* Round trip of everything. */
	memset(&e, 0, sizeof(e));
	snprintf(e.id, sizeof(e.id), "ABC");
	e.from = xstrdup("s@x");
	e.received = 1700000000;
	e.client_ip = xstrdup("::1");
	e.auth_user = xstrdup("u@x");
	e.smtputf8 = true;
	e.size = 42;
	e.n = 2;
	e.t = xcalloc(2, sizeof(*e.t));
	e.t[0].addr = xstrdup("a@x");
	e.t[0].local = true;
	e.t[0].state = QUEUE_T_DONE;
	e.t[0].uid = 7;
	e.t[1].addr = xstrdup("b@y");
	e.t[1].state = QUEUE_T_FAILED;
	e.t[1].attempts = 3;
	e.t[1].next_try = 1700000100;
	e.t[1].last_error = xstrdup("nope \"quoted\"");
	text = queue_msgenv_dump(&e, &len);
	assert_int_equal(queue_msgenv_parse(text, len, "ABC", &e2, err,
	    sizeof(err)), 0);
	assert_string_equal(e2.from, "s@x");
	assert_int_equal(e2.received, 1700000000);
	assert_string_equal(e2.client_ip, "::1");
	assert_null(e2.helo);
	assert_string_equal(e2.auth_user, "u@x");
	assert_true(e2.smtputf8);
	assert_int_equal(e2.size, 42);
	assert_int_equal(e2.n, 2);
	assert_int_equal(e2.t[0].state, QUEUE_T_DONE);
	assert_int_equal(e2.t[0].uid, 7);
	assert_true(e2.t[0].local);
	assert_int_equal(e2.t[1].state, QUEUE_T_FAILED);
	assert_int_equal(e2.t[1].attempts, 3);
	assert_int_equal(e2.t[1].next_try, 1700000100);
	assert_string_equal(e2.t[1].last_error, "nope \"quoted\"");
	free(text);
	queue_msgenv_clear(&e);
	queue_msgenv_clear(&e2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_env_parse),
		cmocka_unit_test_setup_teardown(test_deliver_local_and_remote,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_done_removed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restart_resumes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash_no_duplicate, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restart_delivers_oldest_first,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_over_quota_deferred, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_vanished_user_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_submit_refuses_bad_envelope,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_failure_leaves_nothing,
		    setup, teardown),
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
