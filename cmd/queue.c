/*
 * rmail queue list|show|delete|flush: look at and manage DATA/queue
 * (relay/queue.h) from outside the server. Reading and deleting work on
 * the files; flush signals the running server (SIGUSR1).
 */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "config/config.h"
#include "core/fsio.h"
#include "core/util.h"
#include "relay/queue_env.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Most bytes of a message read for its headers by `show`. */
#define QUEUE_SHOW_HEAD_MAX	(256u << 10)
/* Most bytes of a recipient's last error shown by `list`. */
#define QUEUE_LIST_ERROR_MAX	80

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ids of every envelope in qdir/env, sorted (oldest first); -1 when
 * the folder cannot be read (none: an empty queue). */
static ssize_t
list_ids(const char *qdir, char ***ids_r)
{
	char		*envdir = xasprintf("%s/" QUEUE_ENVDIR, qdir);
	char		**ids = NULL;
	size_t		 n = 0;
	struct dirent	*de;
	DIR		*d;

	*ids_r = NULL;
	if ((d = opendir(envdir)) == NULL) {
		int saved = errno;

		if (saved == ENOENT) {
			free(envdir);
			return 0;
		}
		fprintf(stderr, "rmail: %s: %s\n", envdir, strerror(saved));
		free(envdir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char *id;

		if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		id = xstrndup(de->d_name, len - 5);
		if (!queue_id_valid(id)) {
			free(id);
			continue;
		}
		ids = xrealloc(ids, (n + 1) * sizeof(*ids));
		ids[n++] = id;
	}
	closedir(d);
	free(envdir);
	if (n > 0)
		qsort(ids, n, sizeof(*ids), cmp_str);
	*ids_r = ids;
	return (ssize_t)n;
}

/* "45s", "12m", "3h", "2d". */
static void
fmt_age(time_t secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		snprintf(buf, len, "%llds", (long long)secs);
	else if (secs < 2 * 3600)
		snprintf(buf, len, "%lldm", (long long)(secs / 60));
	else if (secs < 2 * 86400)
		snprintf(buf, len, "%lldh", (long long)(secs / 3600));
	else
		snprintf(buf, len, "%lldd", (long long)(secs / 86400));
}

static void
fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * What happened to target t, as list and show name it: pending (not
 * tried yet), deferred (tried, will be again), delivered, bounced (failed;
 * the sender was told) or failed (failed with a null sender, so nobody
 * could be told).
 */
static const char *
target_state(const struct queue_msgenv *e, const struct queue_target *t)
{
	switch (t->state) {
	case QUEUE_T_PENDING:
		return t->attempts > 0 ? "deferred" : "pending";
	case QUEUE_T_DONE:
		return "delivered";
	case QUEUE_T_FAILED:
		return e->from[0] != '\0' ? "bounced" : "failed";
	}
	return "?";
}

/*
 * Print s between double quotes: '"' and '\\' escaped with a backslash,
 * control characters as '?'. max > 0: at most about max bytes, cut at a
 * UTF-8 character boundary and ended with "...".
 */
static void
print_quoted(const char *s, size_t max)
{
	size_t n = strlen(s), end = n;

	if (max > 0 && n > max) {
		end = max;
		while (end > 0 && ((unsigned char)s[end] & 0xc0) == 0x80)
			end--;
	}
	putchar('"');
	for (size_t i = 0; i < end; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else
			putchar(c < 0x20 || c == 0x7f ? '?' : c);
	}
	printf("%s\"", end < n ? "..." : "");
}

static int
queue_list(const char *qdir)
{
	char	**ids, err[1024], age[32];
	ssize_t	 n;
	time_t	 now = time(NULL);

	if ((n = list_ids(qdir, &ids)) == -1)
		return 1;
	for (ssize_t i = 0; i < n; i++) {
		struct queue_msgenv e;

		if (queue_msgenv_load(qdir, ids[i], &e, err, sizeof(err)) == -1) {
			/* Delivered and removed since the listing: skip. */
			if (errno != ENOENT)
				printf("%s  ?  ?  (unreadable envelope: %s)\n",
				    ids[i], err);
			continue;
		}
		fmt_age(now - e.received, age, sizeof(age));
		printf("%s  %s  %llu  <%s> ", e.id, age,
		    (unsigned long long)e.size, e.from);
		for (size_t k = 0; k < e.n; k++) {
			const struct queue_target *t = &e.t[k];

			printf(" %s:%s%s", t->addr, target_state(&e, t),
			    t->local ? "" : "(remote)");
			if (t->state != QUEUE_T_PENDING || t->attempts == 0)
				continue;
			/* Deferred: when next, how often so far, and why. */
			if (t->next_try > now)
				fmt_age(t->next_try - now, age, sizeof(age));
			else
				snprintf(age, sizeof(age), "now");
			printf("[next=%s attempts=%u", age, t->attempts);
			if (t->last_error != NULL) {
				printf(" error=");
				print_quoted(t->last_error, QUEUE_LIST_ERROR_MAX);
			}
			printf("]");
		}
		printf("\n");
		queue_msgenv_clear(&e);
	}
	for (ssize_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return 0;
}

/* Print the header section of msg/ID, control characters shown as '?'. */
static void
print_headers(const char *qdir, const char *id)
{
	char	*path = queue_msg_path(qdir, id), *text = NULL;
	size_t	 len = 0, i;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (text = fsio_read_fd(fd, QUEUE_SHOW_HEAD_MAX, &len)) == NULL) {
		/* Larger than the cap: read just the start. */
		if (fd != -1 && errno == EFBIG && lseek(fd, 0, SEEK_SET) == 0) {
			text = xmalloc(QUEUE_SHOW_HEAD_MAX + 1);
			ssize_t r = read(fd, text, QUEUE_SHOW_HEAD_MAX);

			len = r > 0 ? (size_t)r : 0;
			text[len] = '\0';
		} else
			printf("(message unreadable: %s)\n", strerror(errno));
	}
	if (fd != -1)
		close(fd);
	for (i = 0; text != NULL && i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\r' && i + 1 < len && text[i + 1] == '\n')
			continue;
		if (c == '\n') {
			putchar('\n');
			/* A blank line ends the header section. */
			if (i + 2 < len && text[i + 1] == '\r' && text[i + 2] == '\n')
				break;
			if (i + 1 < len && text[i + 1] == '\n')
				break;
			continue;
		}
		putchar(c < 0x20 && c != '\t' ? '?' : c == 0x7f ? '?' : c);
	}
	if (text != NULL && i == len && len > 0 && text[len - 1] != '\n')
		putchar('\n');
	free(text);
	free(path);
}

static int
queue_show(const char *qdir, const char *id)
{
	struct queue_msgenv	 e;
	char			 err[1024], when[64], age[32];
	time_t			 now = time(NULL);

	if (queue_msgenv_load(qdir, id, &e, err, sizeof(err)) == -1) {
		if (errno == ENOENT)
			fprintf(stderr, "rmail: %s: no such message in the queue\n",
			    id);
		else
			fprintf(stderr, "rmail: %s\n", err);
		return 1;
	}
	fmt_time(e.received, when, sizeof(when));
	fmt_age(now - e.received, age, sizeof(age));
	printf("id: %s\nfrom: <%s>\nreceived: %s (%s ago)\n", e.id, e.from,
	    when, age);
	printf("client_ip: %s\nhelo: %s\nauth_user: %s\nsmtputf8: %s\n"
	    "size: %llu\n",
	    e.client_ip ? e.client_ip : "-", e.helo ? e.helo : "-",
	    e.auth_user ? e.auth_user : "-", e.smtputf8 ? "yes" : "no",
	    (unsigned long long)e.size);
	for (size_t k = 0; k < e.n; k++) {
		const struct queue_target *t = &e.t[k];

		printf("target: %s %s %s attempts=%u", t->addr,
		    t->local ? "local" : "remote", target_state(&e, t),
		    t->attempts);
		if (t->state == QUEUE_T_PENDING && t->next_try != 0) {
			fmt_time(t->next_try, when, sizeof(when));
			printf(" next_try=%s", when);
		}
		if (t->uid != 0)
			printf(" uid=%u", (unsigned)t->uid);
		if (t->last_error != NULL) {
			printf(" last_error=");
			print_quoted(t->last_error, 0);
		}
		if (t->notified)
			printf(" notified=yes");
		printf("\n");
	}
	printf("\n");
	print_headers(qdir, id);
	queue_msgenv_clear(&e);
	return 0;
}

static int
queue_delete(const char *qdir, const char *id)
{
	char	*env = queue_env_path(qdir, id), *msg = queue_msg_path(qdir, id);
	bool	 found = false;
	int	 rv = 1;

	/* Envelope first: without it the server will never deliver. */
	if (unlink(env) == 0)
		found = true;
	else if (errno != ENOENT) {
		fprintf(stderr, "rmail: %s: %s\n", env, strerror(errno));
		goto out;
	}
	if (unlink(msg) == 0)
		found = true;
	else if (errno != ENOENT) {
		fprintf(stderr, "rmail: %s: %s\n", msg, strerror(errno));
		goto out;
	}
	if (!found) {
		fprintf(stderr, "rmail: %s: no such message in the queue\n", id);
		goto out;
	}
	printf("rmail: deleted %s\n", id);
	rv = 0;
out:
	free(env);
	free(msg);
	return rv;
}

int
cmd_queue(int argc, char **argv)
{
	const char *c_arg = NULL, *pos[2], *id = NULL;
	const struct cmd_opt opts[] = {
		{ "-c", true, &c_arg, NULL },
	};
	struct conf *conf;
	char *qdir;
	size_t npos;
	bool needs_id;
	int rv;

	npos = cmd_parse_args("queue", argc, argv, opts, NELEM(opts), pos, 2);
	if (npos == 0)
		cmd_usage_error("queue", "missing subcommand: list, show, delete "
		    "or flush");
	needs_id = strcmp(pos[0], "show") == 0 || strcmp(pos[0], "delete") == 0;
	if (!needs_id && strcmp(pos[0], "list") != 0 &&
	    strcmp(pos[0], "flush") != 0)
		cmd_usage_error("queue", "unknown subcommand '%s'", pos[0]);
	if (needs_id && npos < 2)
		cmd_usage_error("queue", "%s needs a queue ID", pos[0]);
	if (!needs_id && npos > 1)
		cmd_usage_error("queue", "unexpected argument '%s'", pos[1]);
	if (needs_id) {
		id = pos[1];
		/* Ids name files: nothing else may reach a path. */
		if (!queue_id_valid(id))
			cmd_usage_error("queue", "'%s' is not a queue ID "
			    "(letters and digits only, at most %d)", id,
			    QUEUE_ID_MAX - 1);
	}

	if ((conf = cmd_load_config(c_arg)) == NULL)
		return 2;
	qdir = xasprintf("%s/" QUEUE_DIRNAME, conf->data_dir);
	if (strcmp(pos[0], "list") == 0)
		rv = queue_list(qdir);
	else if (strcmp(pos[0], "show") == 0)
		rv = queue_show(qdir, id);
	else if (strcmp(pos[0], "delete") == 0)
		rv = queue_delete(qdir, id);
	else if (cmd_signal_server(conf->data_dir, SIGUSR1)) {
		printf("rmail: asked the running server to retry the queue now\n");
		rv = 0;
	} else {
		fprintf(stderr, "rmail: no running server to flush (no live pid "
		    "in %s/rmail.pid)\n", conf->data_dir);
		rv = 1;
	}
	free(qdir);
	conf_free(&conf);
	return rv;
}
