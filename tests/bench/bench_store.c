/*
 * bench_store: store figures as JSON lines (run by `make bench`).
 *
 *   append_durable   4 KB messages appended one by one, fsync each: msgs/s
 *   open_cold        first open (scan) of a 100,000-message mailbox: ms
 *   open_cold_hub    the same through the server's hub (adds the watches)
 *   open_warm        a second session opening it through the hub: ms
 *   open_warm_lingering  reopening after every session released it: ms
 *   set_flags        \Seen set on 10,000 messages (rename + fsync): changes/s
 *   inotify_echo     the hub digesting the inotify events of those renames
 *   pickup_other_process  another process appends; ms until EXISTS is heard
 *
 * Usage: bench_store DIR (an empty scratch directory; left for the caller
 * to remove). The 100,000 files are written directly with the filename
 * codec (no fsync) since only the open is measured.
 */
#include "store/fname.h"
#include "store/hub.h"
#include "store/mailbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#define BIG	100000
#define NAPPEND	2000
#define NFLAGS	10000

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, err != NULL ? err : strerror(errno));
	exit(1);
}

static void
make_user(const char *user)
{
	char p[4096];

	if (mkdir(user, 0700) == -1)
		die(user, NULL);
	snprintf(p, sizeof(p), "%s/mailboxes", user);
	if (mkdir(p, 0700) == -1)
		die(p, NULL);
	snprintf(p, sizeof(p), "%s/tmp", user);
	if (mkdir(p, 0700) == -1)
		die(p, NULL);
}

/* Fill mailboxes/big with BIG small messages, as a long-lived INBOX. */
static void
fill_big(const char *user, const char *msg, size_t len)
{
	char dir[2048], path[2200], shard[STORE_SHARD_MAX], name[STORE_FNAME_MAX];
	struct store_flags fl = { 0, 0 };
	char err[512];
	FILE *f;

	if (store_mbox_create(user, "big", NULL, err, sizeof(err)) == -1)
		die("create big", err);
	for (uint32_t uid = 1; uid <= BIG; uid++) {
		if (uid % 1000 == 0 || uid == 1) {
			store_shard_format(uid, shard);
			snprintf(dir, sizeof(dir), "%s/mailboxes/big/%s", user, shard);
			if (mkdir(dir, 0700) == -1 && errno != EEXIST)
				die(dir, NULL);
		}
		fl.sys = uid % 3 == 0 ? STORE_F_SEEN : 0;
		store_fname_format(uid, &fl, name);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if ((f = fopen(path, "w")) == NULL || fwrite(msg, 1, len, f) != len ||
		    fclose(f) != 0)
			die(path, NULL);
	}
}

static double	 heard_at;

static void
on_exists(void *arg, const struct store_event *ev)
{
	(void)arg;
	if (ev->type == STORE_EV_EXISTS && heard_at == 0)
		heard_at = now();
}

/* Another process appends: how long until a subscriber hears EXISTS. */
static void
pickup(struct store_hub *hub, struct ev_loop *loop, struct store_mbox *mb,
    const char *user, const char *msg)
{
	struct store_sub	*sub;
	struct store_mbox	*other;
	char			 err[512];
	double			 t0, sum = 0, worst = 0;
	pid_t			 pid;
	int			 i, status;

	(void)hub;
	sub = store_mbox_subscribe(mb, on_exists, NULL);
	for (i = 0; i < 20; i++) {
		heard_at = 0;
		t0 = now();
		if ((pid = fork()) == 0) {
			other = store_mbox_open_append(user, "big", err,
			    sizeof(err));
			_exit(other == NULL || store_mbox_append(other, msg,
			    1024, 0, NULL, NULL, err, sizeof(err)) == -1);
		}
		while (heard_at == 0 && now() - t0 < 5)
			ev_run(loop, EVRUN_ONCE);
		waitpid(pid, &status, 0);
		if (heard_at == 0)
			die("pickup", "no EXISTS within 5 s");
		sum += heard_at - t0;
		if (heard_at - t0 > worst)
			worst = heard_at - t0;
	}
	store_mbox_unsubscribe(mb, &sub);
	printf("{\"bench\":\"store_pickup_other_process\",\"runs\":%d,"
	    "\"mean_ms\":%.1f,\"max_ms\":%.1f,\"target_ms\":1000,\"note\":\"fork, "
	    "open as rmail deliver does, append (fsync), until EXISTS\"}\n", i, sum / i * 1000,
	    worst * 1000);
}

int
main(int argc, char **argv)
{
	char user[1024], err[512], *msg;
	struct store_mbox *mb;
	struct store_hub *hub;
	struct ev_loop *loop;
	struct store_flags seen = { STORE_F_SEEN, 0 };
	const size_t len = 4096;
	double t0, t;
	uint32_t uid;

	if (argc != 2)
		die("usage", "bench_store DIR");
	snprintf(user, sizeof(user), "%s/user", argv[1]);
	make_user(user);
	msg = malloc(len);
	memset(msg, 'x', len);
	memcpy(msg, "Subject: bench\r\n\r\n", 18);
	for (size_t i = 76; i < len; i += 78)
		memcpy(msg + i, "\r\n", 2);

	if (store_mbox_create(user, "INBOX", NULL, err, sizeof(err)) == -1)
		die("create INBOX", err);
	if ((mb = store_mbox_open(user, "INBOX", err, sizeof(err))) == NULL)
		die("open INBOX", err);
	t0 = now();
	for (int i = 0; i < NAPPEND; i++)
		if (store_mbox_append(mb, msg, len, 0, NULL, &uid, err, sizeof(err)) == -1)
			die("append", err);
	t = now() - t0;
	printf("{\"bench\":\"store_append_durable\",\"msgs\":%d,\"bytes\":%zu,"
	    "\"seconds\":%.3f,\"msgs_per_sec\":%.0f}\n", NAPPEND, len, t, NAPPEND / t);
	store_mbox_close(&mb);

	fill_big(user, msg, 1024);
	sync();
	t0 = now();
	if ((mb = store_mbox_open(user, "big", err, sizeof(err))) == NULL)
		die("open big", err);
	t = now() - t0;
	if (store_mbox_count(mb) != BIG)
		die("open big", "wrong message count");
	printf("{\"bench\":\"store_open_cold\",\"msgs\":%d,\"ms\":%.1f,\"target_ms\":300}\n",
	    BIG, t * 1000);
	store_mbox_close(&mb);

	/* The server's way: the hub scans once, then shares the handle. */
	loop = ev_loop_new(EVFLAG_AUTO);
	hub = store_hub_new(loop, 0);
	t0 = now();
	if ((mb = store_hub_open(hub, user, "big", err, sizeof(err))) == NULL)
		die("hub open big", err);
	t = now() - t0;
	printf("{\"bench\":\"store_open_cold_hub\",\"msgs\":%d,\"ms\":%.1f,"
	    "\"note\":\"scan plus one inotify watch per shard\"}\n", BIG, t * 1000);
	{
		struct store_mbox *again;

		t0 = now();
		again = store_hub_open(hub, user, "big", err, sizeof(err));
		t = now() - t0;
		if (again != mb)
			die("hub reopen", "not shared");
		store_hub_release(hub, &again);
		printf("{\"bench\":\"store_open_warm\",\"msgs\":%d,\"ms\":%.4f,"
		    "\"target_ms\":1,\"note\":\"second session, handle held\"}\n",
		    BIG, t * 1000);
		store_hub_release(hub, &mb);
		t0 = now();
		mb = store_hub_open(hub, user, "big", err, sizeof(err));
		t = now() - t0;
		if (mb == NULL)
			die("hub reopen", err);
		printf("{\"bench\":\"store_open_warm_lingering\",\"msgs\":%d,"
		    "\"ms\":%.4f,\"target_ms\":1,\"note\":\"reselect after every "
		    "session let go\"}\n", BIG, t * 1000);
	}

	t0 = now();
	for (size_t i = 0, n = 0; n < NFLAGS && i < store_mbox_count(mb); i++) {
		const struct store_msg *m = store_mbox_at(mb, i);

		if (m->flags.sys & STORE_F_SEEN)
			continue;
		if (store_mbox_set_flags(mb, m->uid, &seen) == -1)
			die("set_flags", NULL);
		n++;
	}
	t = now() - t0;
	printf("{\"bench\":\"store_set_flags\",\"changes\":%d,\"seconds\":%.3f,"
	    "\"changes_per_sec\":%.0f}\n", NFLAGS, t, NFLAGS / t);
	/* The inotify echo of those renames: one rescan per touched shard. */
	t0 = now();
	ev_run(loop, EVRUN_NOWAIT);
	t = now() - t0;
	printf("{\"bench\":\"store_inotify_echo\",\"changes\":%d,\"ms\":%.1f}\n",
	    NFLAGS, t * 1000);
	pickup(hub, loop, mb, user, msg);
	store_hub_release(hub, &mb);
	store_hub_free(&hub);
	ev_loop_destroy(loop);
	free(msg);
	return 0;
}
