/* rmail mx: show where the relay would send mail for a domain. */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "config/config.h"
#include "core/util.h"
#include "relay/dns.h"
#include "relay/mx.h"

#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

struct mx_cli {
	struct ev_loop		*loop;
	struct mx_result	*res;
};

static void
mx_cli_done(struct mx_result *res, void *arg)
{
	struct mx_cli *cli = arg;

	cli->res = res;
	ev_break(cli->loop, EVBREAK_ALL);
}

static void
mx_cli_print(const struct mx_result *res, const char *domain)
{
	char a[INET6_ADDRSTRLEN];

	if (res->implicit)
		fprintf(stderr, "rmail: %s has no MX record: implicit MX "
		    "(its own addresses, RFC 5321 section 5.1)\n", domain);
	if (res->nskipped > 0)
		fprintf(stderr, "rmail: %zu MX host%s of %s skipped: no "
		    "address\n", res->nskipped, res->nskipped == 1 ? "" : "s",
		    domain);
	for (size_t i = 0; i < res->nhosts; i++) {
		const struct mx_host *h = &res->hosts[i];

		printf("%u %s", (unsigned)h->pref, h->name);
		for (size_t k = 0; k < h->naddrs; k++) {
			const struct sockaddr_storage *ss = &h->addrs[k];
			const void *p = ss->ss_family == AF_INET6 ?
			    (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr :
			    (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

			if (inet_ntop(ss->ss_family, p, a, sizeof(a)) == NULL)
				str_lcpy(a, "?", sizeof(a));
			printf(" %s", a);
		}
		putchar('\n');
	}
}

int
cmd_mx(int argc, char **argv)
{
	const char *c_arg = NULL, *server = NULL, *domain;
	const struct cmd_opt opts[] = {
		{ "-c", true, &c_arg, NULL },
		{ "--dns-server", true, &server, NULL },
	};
	struct conf *conf = NULL;
	struct mx_cli cli = { 0 };
	struct dns *dns;
	struct mx *mx;
	char err[256], *servers[1];
	char *const *sv = NULL;
	size_t nsv = 0;
	int rc;

	if (cmd_parse_args("mx", argc, argv, opts, NELEM(opts), &domain, 1) != 1)
		cmd_usage_error("mx", "a domain is needed");
	/* --dns-server alone needs no config. */
	if (server == NULL || c_arg != NULL) {
		if ((conf = cmd_load_config(c_arg)) == NULL)
			return 2;
		sv = conf->dns_servers.v;
		nsv = conf->dns_servers.n;
	}
	if (server != NULL) {
		servers[0] = (char *)server;
		sv = servers;
		nsv = 1;
	}
	cli.loop = ev_loop_new(EVFLAG_AUTO);
	if (cli.loop == NULL) {
		fprintf(stderr, "rmail: cannot create an event loop\n");
		conf_free(&conf);
		return 1;
	}
	if ((dns = dns_new(cli.loop, sv, nsv, err, sizeof(err))) == NULL) {
		fprintf(stderr, "rmail: %s\n", err);
		ev_loop_destroy(cli.loop);
		conf_free(&conf);
		return 2;
	}
	mx = mx_new(dns, 0);
	(void)mx_resolve(mx, domain, mx_cli_done, &cli);
	ev_run(cli.loop, 0);
	mx_free(&mx);		/* only if the loop stopped early */
	dns_free(&dns);
	ev_loop_destroy(cli.loop);

	if (cli.res == NULL) {
		fprintf(stderr, "rmail: no answer\n");
		rc = 1;
	} else if (cli.res->status == MX_OK) {
		mx_cli_print(cli.res, domain);
		rc = 0;
	} else {
		fprintf(stderr, "rmail: %s\n", cli.res->error);
		rc = 1;
	}
	mx_result_free(&cli.res);
	conf_free(&conf);
	return rc;
}
