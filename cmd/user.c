/*
 * rmail user add|passwd|del|list: edit the users file, then ask a running
 * server to reload it.
 */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "config/config.h"
#include "config/users.h"
#include "core/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum user_op { USER_ADD, USER_PASSWD, USER_DEL, USER_LIST };

static const struct {
	const char	*name;
	enum user_op	 op;
	bool		 takes_address;
	bool		 takes_password;
} user_ops[] = {
	{ "add",	USER_ADD,	true,	true },
	{ "passwd",	USER_PASSWD,	true,	true },
	{ "del",	USER_DEL,	true,	false },
	{ "list",	USER_LIST,	false,	false },
};

static int
user_list(const struct users *users)
{
	for (size_t i = 0; i < users_count(users); i++) {
		const struct user *u = users_at(users, i);

		printf("%s", u->address);
		if (u->quota_bytes != 0)
			printf(" quota_bytes=%" PRIu64, u->quota_bytes);
		if (u->quota_messages != 0)
			printf(" quota_messages=%" PRIu64, u->quota_messages);
		printf("\n");
	}
	return 0;
}

/* add and passwd: check, read the password, hash it into users. */
static int
user_set(const struct conf *conf, struct users *users, enum user_op op,
    const char *address, bool password_stdin)
{
	const char *domain = cmd_addr_domain(address);
	char *pw, err[512];
	int rv;

	if (op == USER_ADD) {
		if (domain == NULL) {
			fprintf(stderr, "rmail: '%s' is not an address "
			    "(LOCAL@DOMAIN)\n", address);
			return 1;
		}
		if (!conf_is_local_domain(conf, domain)) {
			fprintf(stderr, "rmail: %s: domain '%s' is not one of the "
			    "domains in %s\n", address, domain, conf->path);
			return 1;
		}
		if (users_find(users, address) != NULL) {
			fprintf(stderr, "rmail: user %s already exists in %s; use "
			    "'rmail user passwd' to change the password\n",
			    address, conf->users_file);
			return 1;
		}
	} else if (users_find(users, address) == NULL) {
		fprintf(stderr, "rmail: no user %s in %s\n", address, conf->users_file);
		return 1;
	}
	if ((pw = cmd_read_password(password_stdin, address)) == NULL)
		return 1;
	rv = users_set(users, address, pw, USERS_DEFAULT_ITERATIONS, err,
	    sizeof(err));
	cmd_free_password(&pw);
	if (rv == -1) {
		fprintf(stderr, "rmail: %s: %s\n", address, err);
		return 1;
	}
	return 0;
}

int
cmd_user(int argc, char **argv)
{
	const char *c_arg = NULL, *pos[2];
	bool password_stdin = false;
	const struct cmd_opt opts[] = {
		{ "-c", true, &c_arg, NULL },
		{ "--password-stdin", false, NULL, &password_stdin },
	};
	struct conf *conf;
	struct users *users;
	struct cmd_owner owner;
	char *address = NULL;
	const char *done = NULL;
	size_t npos, op;
	int rv = 1;

	npos = cmd_parse_args("user", argc, argv, opts, NELEM(opts), pos, 2);
	if (npos == 0)
		cmd_usage_error("user", "missing subcommand: add, passwd, del or list");
	for (op = 0; op < NELEM(user_ops); op++)
		if (strcmp(pos[0], user_ops[op].name) == 0)
			break;
	if (op == NELEM(user_ops))
		cmd_usage_error("user", "unknown subcommand '%s'", pos[0]);
	if (user_ops[op].takes_address && npos < 2)
		cmd_usage_error("user", "%s needs an ADDRESS", pos[0]);
	if (!user_ops[op].takes_address && npos > 1)
		cmd_usage_error("user", "unexpected argument '%s'", pos[1]);
	if (password_stdin && !user_ops[op].takes_password)
		cmd_usage_error("user", "--password-stdin only goes with add and "
		    "passwd");

	if ((conf = cmd_load_config(c_arg)) == NULL)
		return 2;
	if ((users = cmd_load_users(conf)) == NULL) {
		conf_free(&conf);
		return 2;
	}
	if (user_ops[op].op == USER_LIST) {
		rv = user_list(users);
		goto out;
	}

	address = xstrdup(pos[1]);
	ascii_lower(address);
	switch (user_ops[op].op) {
	case USER_ADD:
	case USER_PASSWD:
		if (user_set(conf, users, user_ops[op].op, address,
		    password_stdin) != 0)
			goto out;
		done = user_ops[op].op == USER_ADD ? "added" : "changed the password of";
		break;
	case USER_DEL:
		if (users_del(users, address) == -1) {
			fprintf(stderr, "rmail: no user %s in %s\n", address,
			    conf->users_file);
			goto out;
		}
		done = "deleted";
		break;
	case USER_LIST:
		break;
	}

	cmd_owner_get(conf->users_file, &owner);
	if (users_save(users, conf->users_file) == -1) {
		fprintf(stderr, "rmail: cannot write users file %s: %s\n",
		    conf->users_file, strerror(errno));
		goto out;
	}
	cmd_owner_restore(conf->users_file, &owner);
	printf("rmail: %s %s%s\n", done, address,
	    cmd_notify_server(conf->data_dir) ? " (running server reloaded)" : "");
	rv = 0;
out:
	free(address);
	users_free(&users);
	conf_free(&conf);
	return rv;
}
