/*
 * rmail reload: check what a reload would load, then have the running
 * server load it and wait for its answer.
 *
 * The check runs here first, so a typo is reported on the terminal and the
 * server is never asked to reload into it. The server then reloads on
 * SIGHUP and writes the outcome to DATA/rmail.reload ("PID SEQ ok" or
 * "PID SEQ failed REASON"): it may still refuse what this process could
 * read (a key only root can read, say), and the user hears why.
 */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "config/config.h"
#include "config/users.h"
#include "core/fsio.h"
#include "core/tls.h"
#include "core/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RELOAD_WAIT_MS	10000

struct reload_status {
	long		 pid;
	unsigned	 seq;
	bool		 ok;
	char		 why[1100];
};

/* DATA/rmail.reload; false when absent or unreadable. */
static bool
read_status(const char *data_dir, struct reload_status *st)
{
	char *path = xasprintf("%s/rmail.reload", data_dir), *text, *p;
	int off = 0;
	bool good;

	text = fsio_read_file(path, 2048, NULL);
	free(path);
	memset(st, 0, sizeof(*st));
	if (text == NULL)
		return false;
	good = sscanf(text, "%ld %u %n", &st->pid, &st->seq, &off) == 2 && off > 0;
	if (good) {
		p = text + off;
		p[strcspn(p, "\n")] = '\0';
		st->ok = strcmp(p, "ok") == 0;
		if (!st->ok)
			snprintf(st->why, sizeof(st->why), "%s",
			    strncmp(p, "failed ", 7) == 0 ? p + 7 : p);
	}
	free(text);
	return good;
}

int
cmd_reload(int argc, char **argv)
{
	const char *c_arg = NULL;
	const struct cmd_opt opts[] = {
		{ "-c", true, &c_arg, NULL },
	};
	struct conf *conf;
	struct users *users;
	struct tls_ctx *tls;
	struct reload_status before, after;
	char err[1024];
	pid_t pid;
	int rc = 1;

	cmd_parse_args("reload", argc, argv, opts, NELEM(opts), NULL, 0);
	if (cmd_load_runtime(conf_default_path(c_arg), &conf, &users, &tls, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "rmail: %s\nrmail: not reloaded: the running server "
		    "keeps its current configuration\n", err);
		return 1;
	}
	users_free(&users);
	tls_ctx_free(&tls);
	if ((pid = cmd_server_pid(conf->data_dir)) == 0) {
		fprintf(stderr, "rmail: no running server (no live pid in %s/rmail.pid);"
		    " the configuration is valid and takes effect when it starts\n",
		    conf->data_dir);
		goto out;
	}
	if (!read_status(conf->data_dir, &before) || before.pid != (long)pid)
		before.seq = 0;
	if (kill(pid, SIGHUP) == -1) {
		fprintf(stderr, "rmail: signalling pid %ld: %s\n", (long)pid,
		    strerror(errno));
		goto out;
	}
	for (int waited = 0; waited < RELOAD_WAIT_MS; waited += 20) {
		struct timespec ts = { 0, 20 * 1000000L };

		if (read_status(conf->data_dir, &after) && after.pid == (long)pid &&
		    after.seq > before.seq) {
			if (after.ok) {
				printf("rmail: reloaded (pid %ld)\n", (long)pid);
				rc = 0;
			} else
				fprintf(stderr, "rmail: the server refused the reload and "
				    "keeps its current configuration: %s\n", after.why);
			goto out;
		}
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "rmail: pid %ld did not confirm the reload within %d s; "
	    "see its log\n", (long)pid, RELOAD_WAIT_MS / 1000);
out:
	conf_free(&conf);
	return rc;
}
