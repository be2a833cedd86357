/*
 * rmail alias add|del|list: edit the aliases of the config file, then ask
 * a running server to reload it.
 */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "config/aliases.h"
#include "config/config.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
alias_list(const struct conf *conf)
{
	for (size_t i = 0; i < conf->naliases; i++) {
		const struct conf_alias *a = &conf->aliases[i];

		printf("%s ->", a->from);
		for (size_t j = 0; j < a->to.n; j++)
			printf("%s %s", j == 0 ? "" : ",", a->to.v[j]);
		printf("\n");
	}
	return 0;
}

/* FROM is local@domain or "@domain" (catch-all) in one of our domains. */
static bool
from_ok(const struct conf *conf, const char *from)
{
	const char *domain = from[0] == '@' ? from + 1 : cmd_addr_domain(from);

	if (domain == NULL || *domain == '\0' || strchr(domain, '@') != NULL) {
		fprintf(stderr, "rmail: '%s' is not an address or @domain\n", from);
		return false;
	}
	if (!conf_is_local_domain(conf, domain)) {
		fprintf(stderr, "rmail: %s: domain '%s' is not one of the domains "
		    "in %s\n", from, domain, conf->path);
		return false;
	}
	return true;
}

int
cmd_alias(int argc, char **argv)
{
	const char *c_arg = NULL, *pos[3], *to;
	const struct cmd_opt opts[] = {
		{ "-c", true, &c_arg, NULL },
	};
	struct conf *conf;
	struct cmd_owner owner;
	char *from = NULL, err[1024];
	size_t npos;
	bool add;
	int rv = 1, r;

	npos = cmd_parse_args("alias", argc, argv, opts, NELEM(opts), pos, 3);
	if (npos == 0)
		cmd_usage_error("alias", "missing subcommand: add, del or list");
	if (strcmp(pos[0], "list") == 0) {
		if (npos > 1)
			cmd_usage_error("alias", "unexpected argument '%s'", pos[1]);
		if ((conf = cmd_load_config(c_arg)) == NULL)
			return 2;
		rv = alias_list(conf);
		conf_free(&conf);
		return rv;
	}
	add = strcmp(pos[0], "add") == 0;
	if (!add && strcmp(pos[0], "del") != 0)
		cmd_usage_error("alias", "unknown subcommand '%s'", pos[0]);
	if (npos < 2 || (add && npos < 3))
		cmd_usage_error("alias", add ? "add needs FROM and TO" :
		    "del needs FROM");
	to = npos == 3 ? pos[2] : NULL;

	if ((conf = cmd_load_config(c_arg)) == NULL)
		return 2;
	from = xstrdup(pos[1]);
	ascii_lower(from);
	if (!from_ok(conf, from))
		goto out;
	if (to != NULL && cmd_addr_domain(to) == NULL) {
		fprintf(stderr, "rmail: '%s' is not an address (LOCAL@DOMAIN)\n", to);
		goto out;
	}

	cmd_owner_get(conf->path, &owner);
	if (add)
		r = aliases_edit_add(conf->path, from, to, err, sizeof(err));
	else
		r = aliases_edit_del(conf->path, from, to, err, sizeof(err));
	if (r == -1) {
		fprintf(stderr, "rmail: %s\n", err);
		goto out;
	}
	cmd_owner_restore(conf->path, &owner);
	if (to != NULL)
		printf("rmail: %s %s -> %s", add ? "added" : "removed", from, to);
	else
		printf("rmail: removed %s", from);
	printf("%s\n", cmd_notify_server(conf->data_dir) ?
	    " (running server reloaded)" : "");
	rv = 0;
out:
	free(from);
	conf_free(&conf);
	return rv;
}
