/* rmail check-config: load and validate the config and the users file. */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "config/config.h"
#include "config/users.h"
#include "core/util.h"

#include <stdio.h>

int
cmd_check_config(int argc, char **argv)
{
	const char *c_arg = NULL;
	const struct cmd_opt opts[] = {
		{ "-c", true, &c_arg, NULL },
	};
	struct conf *conf;
	struct users *users;

	cmd_parse_args("check-config", argc, argv, opts, NELEM(opts), NULL, 0);
	if ((conf = cmd_load_config(c_arg)) == NULL)
		return 2;
	if ((users = cmd_load_users(conf)) == NULL) {
		conf_free(&conf);
		return 2;
	}
	printf("rmail: config OK: %s (%zu users, %zu aliases)\n", conf->path,
	    users_count(users), conf->naliases);
	users_free(&users);
	conf_free(&conf);
	return 0;
}
