/*
 * rmail import maildir: migrate a Dovecot Maildir/Maildir++ account into
 * a user's store folder. This file is the command line: the user must be
 * in the users file (no folder is made for a stranger) and DIR a Maildir;
 * cmd/import_maildir.c does the import (see there for the mapping,
 * idempotence and subscriptions).
 */
#include "cmd/cmd.h"
#include "cmd/import.h"
#include "cmd/common.h"
#include "config/config.h"
#include "config/users.h"
#include "core/util.h"
#include "store/user.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int
cmd_import(int argc, char **argv)
{
	const char *c_arg = NULL, *user = NULL, *pos[1];
	const struct cmd_opt opts[] = {
		{ "-c", true, &c_arg, NULL },
		{ "--user", true, &user, NULL },
	};
	struct conf *conf = NULL;
	struct users *users = NULL;
	const struct user *u;
	struct stat st;
	char user_dir[PATH_MAX], err[1024], derr[512], *addr = NULL, *sub;
	int rv = 1, dropped;

	if (argc < 2)
		cmd_usage_error("import", "missing source type (maildir)");
	if (strcmp(argv[1], "maildir") != 0)
		cmd_usage_error("import", "unknown source type '%s'", argv[1]);
	if (cmd_parse_args("import", argc - 1, argv + 1, opts, NELEM(opts),
	    pos, 1) != 1)
		cmd_usage_error("import", "missing DIR");
	if (user == NULL)
		cmd_usage_error("import", "missing --user ADDRESS");

	if ((conf = cmd_load_config(c_arg)) == NULL)
		return 2;
	if ((users = cmd_load_users(conf)) == NULL) {
		rv = 2;
		goto out;
	}
	/* The imported files must be the server's, as its own would be. */
	if ((dropped = cmd_drop_privileges(conf, derr, sizeof(derr))) == -1) {
		fprintf(stderr, "rmail: %s\n", derr);
		goto out;
	}
	addr = xstrdup(user);
	ascii_lower(addr);
	if ((u = users_find(users, addr)) == NULL) {
		fprintf(stderr, "rmail: %s: no such user\n", user);
		goto out;
	}
	if (stat(pos[0], &st) == -1) {
		fprintf(stderr, "rmail: %s: %s%s%s%s\n", pos[0], strerror(errno),
		    dropped == 1 && errno == EACCES ? " (the import runs as " : "",
		    dropped == 1 && errno == EACCES ? conf->user : "",
		    dropped == 1 && errno == EACCES ? ", the server's user: let it "
		    "read the Maildir)" : "");
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "rmail: %s: not a directory\n", pos[0]);
		goto out;
	}
	/* A Maildir has cur/ (new/ may be missing in a copied tree). */
	sub = xasprintf("%s/cur", pos[0]);
	if (stat(sub, &st) == -1 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "rmail: %s: not a Maildir (no cur/ "
		    "directory)\n", pos[0]);
		free(sub);
		goto out;
	}
	free(sub);
	if (store_user_ensure(conf->data_dir, u->address, user_dir,
	    sizeof(user_dir), err, sizeof(err)) == -1) {
		fprintf(stderr, "rmail: %s: %s\n", u->address, err);
		goto out;
	}
	rv = import_maildir(user_dir, pos[0]);
out:
	free(addr);
	users_free(&users);
	conf_free(&conf);
	return rv;
}
