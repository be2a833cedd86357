/*
 * rmail init: write a config, users file, self-signed certificate and data
 * directory for a fresh install.
 *
 * Nothing is written until everything has been checked: the flags, the
 * config text (through conf_parse, so init never writes a config the
 * server refuses), existing files, and the admin's password. The config
 * is written last, so a failure part-way leaves no config pointing at
 * missing files.
 */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "config/certgen.h"
#include "config/confgen.h"
#include "config/config.h"
#include "config/users.h"
#include "core/fsio.h"
#include "core/util.h"
#include "relay/dkim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_DATA_DIR	"/var/lib/rmail"
#define SERVICE_ACCOUNT		"rmail"
#define MAX_PORT_BASE		(65535 - 993)	/* imaps is the highest */
#define LISTEN_MAX		(INET6_ADDRSTRLEN + 2)	/* "[V6]" */

struct init_args {
	const char	*c_arg;
	const char	*domain;
	const char	*hostname;
	const char	*data_dir;
	const char	*listen;
	const char	*port_base;
	const char	*admin;
	bool		 password_stdin;
	bool		 non_interactive;
	bool		 force;
};

/* Everything init will write, all paths absolute. */
struct init_plan {
	bool		 root_service;	/* root, standard ports: drop to "rmail" */
	char		*config;
	char		*config_dir;
	char		*users_file;
	char		*tls_dir;
	char		*cert;
	char		*key;
	char		*data_dir;
	char		*domain;	/* lower-cased */
	char		*hostname;	/* lower-cased */
	char		*admin;		/* lower-cased; NULL when none */
	unsigned	 port_base;
	char		 listen[2][LISTEN_MAX];
	size_t		 nlisten;
	bool		 keep_cert;	/* cert and key exist and no --force */
	char		*dkim_key;	/* the domain's RSA DKIM key */
	/* It exists: kept even with --force, since replacing it breaks the
	 * published DNS record (rmail dkim generate --force does that). */
	bool		 keep_dkim;
	/* Root with a service account: the server drops to it, and gets the
	 * data dir and read access to key and users file. Else both -1. */
	bool		 have_account;
	uid_t		 account_uid;
	gid_t		 account_gid;
};

static void
parse_args(int argc, char **argv, struct init_args *a)
{
	const struct cmd_opt opts[] = {
		{ "-c", true, &a->c_arg, NULL },
		{ "--domain", true, &a->domain, NULL },
		{ "--hostname", true, &a->hostname, NULL },
		{ "--data-dir", true, &a->data_dir, NULL },
		{ "--listen", true, &a->listen, NULL },
		{ "--port-base", true, &a->port_base, NULL },
		{ "--admin", true, &a->admin, NULL },
		{ "--password-stdin", false, NULL, &a->password_stdin },
		{ "--non-interactive", false, NULL, &a->non_interactive },
		{ "--force", false, NULL, &a->force },
	};

	memset(a, 0, sizeof(*a));
	cmd_parse_args("init", argc, argv, opts, NELEM(opts), NULL, 0);
	if (a->domain == NULL || a->hostname == NULL)
		cmd_usage_error("init", "--domain and --hostname are required "
		    "(interactive setup is not available yet)");
	if (a->password_stdin && a->admin == NULL)
		cmd_usage_error("init", "--password-stdin needs --admin");
	if (a->admin != NULL && !a->password_stdin && a->non_interactive)
		cmd_usage_error("init", "--admin with --non-interactive needs "
		    "--password-stdin");
}

/* A DNS name: labels of letters, digits and '-', 1..63 bytes, at most 253
 * in all, an optional trailing dot dropped. Returns it lower-cased. */
static char *
dns_name(const char *flag, const char *s)
{
	size_t n = strlen(s), label = 0;
	char *out;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		cmd_usage_error("init", "%s '%s': not a valid domain name", flag, s);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				cmd_usage_error("init", "%s '%s': empty label", flag, s);
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			cmd_usage_error("init", "%s '%s': '%c' is not allowed in a "
			    "domain name", flag, s, c);
		if (++label > 63)
			cmd_usage_error("init", "%s '%s': label longer than 63 "
			    "bytes", flag, s);
	}
	if (label == 0)
		cmd_usage_error("init", "%s '%s': empty label", flag, s);
	out = xstrndup(s, n);
	ascii_lower(out);
	return out;
}

/*
 * path made absolute against the working directory, with "." components
 * and repeated slashes dropped. ".." stays: resolving it by hand would be
 * wrong across symbolic links.
 */
static char *
abs_path(const char *path)
{
	char cwd[PATH_MAX], *joined, *out, *seg, *save;
	size_t n = 0;

	if (path[0] == '/')
		joined = xstrdup(path);
	else {
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			fprintf(stderr, "rmail: cannot find the working directory: %s\n",
			    strerror(errno));
			exit(1);
		}
		joined = xasprintf("%s/%s", cwd, path);
	}
	out = xmalloc(strlen(joined) + 2);
	for (seg = strtok_r(joined, "/", &save); seg != NULL;
	    seg = strtok_r(NULL, "/", &save)) {
		if (strcmp(seg, ".") == 0)
			continue;
		out[n++] = '/';
		memcpy(out + n, seg, strlen(seg));
		n += strlen(seg);
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	free(joined);
	return out;
}

static char *
dir_of(const char *abs)
{
	const char *slash = strrchr(abs, '/');

	return slash == abs ? xstrdup("/") : xstrndup(abs, (size_t)(slash - abs));
}

/* --listen ADDR: one IPv4 or IPv6 literal (brackets optional), written in
 * canonical form; IPv6 in brackets as the config wants. */
static void
plan_listen(struct init_plan *p, const char *arg)
{
	struct in6_addr a6;
	struct in_addr a4;
	char text[INET6_ADDRSTRLEN + 1], canon[INET6_ADDRSTRLEN];
	size_t n;

	if (arg == NULL) {
		snprintf(p->listen[0], sizeof(p->listen[0]), "0.0.0.0");
		snprintf(p->listen[1], sizeof(p->listen[1]), "[::]");
		p->nlisten = 2;
		return;
	}
	n = strlen(arg);
	if (n >= 2 && arg[0] == '[' && arg[n - 1] == ']' && n - 2 < sizeof(text)) {
		memcpy(text, arg + 1, n - 2);
		text[n - 2] = '\0';
	} else
		snprintf(text, sizeof(text), "%s", arg);
	p->nlisten = 1;
	if (arg[0] != '[' && inet_pton(AF_INET, text, &a4) == 1) {
		inet_ntop(AF_INET, &a4, canon, sizeof(canon));
		snprintf(p->listen[0], sizeof(p->listen[0]), "%s", canon);
	} else if (inet_pton(AF_INET6, text, &a6) == 1) {
		inet_ntop(AF_INET6, &a6, canon, sizeof(canon));
		snprintf(p->listen[0], sizeof(p->listen[0]), "[%s]", canon);
	} else
		cmd_usage_error("init", "--listen '%s': not an IPv4 or IPv6 address "
		    "(no port: use --port-base)", arg);
}

static unsigned
parse_port_base(const char *arg)
{
	char *end;
	unsigned long v;

	if (arg == NULL)
		return 0;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
	    v > MAX_PORT_BASE)
		cmd_usage_error("init", "--port-base '%s': must be a number from 0 "
		    "to %d (imaps at N+993 must stay within 65535)", arg,
		    MAX_PORT_BASE);
	return (unsigned)v;
}

/*
 * A root install on the standard ports names an account to drop to
 * ("user"); otherwise the server runs as its caller and the key is omitted. When the account
 * already exists, root hands it the data dir and read access to the key
 * and users file; when not, the summary says what to run.
 */
static void
plan_account(struct init_plan *p)
{
	struct passwd *pw;

	p->account_uid = (uid_t)-1;
	p->account_gid = (gid_t)-1;
	if (!p->root_service || (pw = getpwnam(SERVICE_ACCOUNT)) == NULL)
		return;
	p->have_account = true;
	p->account_uid = pw->pw_uid;
	p->account_gid = pw->pw_gid;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Refuse to overwrite the config or users file without --force. */
static void
check_existing(struct init_plan *p, bool force)
{
	const char *mine[] = { p->config, p->users_file };
	bool cert = exists(p->cert), key = exists(p->key);

	for (size_t i = 0; i < NELEM(mine) && !force; i++) {
		if (exists(mine[i])) {
			fprintf(stderr, "rmail: %s already exists; use --force to "
			    "overwrite it\n", mine[i]);
			exit(1);
		}
	}
	/* A certificate someone installed is kept unless forced. */
	if (!force && cert && key)
		p->keep_cert = true;
	else if (!force && (cert || key)) {
		fprintf(stderr, "rmail: %s exists without %s; use --force to "
		    "replace both with a new self-signed pair\n",
		    cert ? p->cert : p->key, cert ? p->key : p->cert);
		exit(1);
	}
}

static void
plan(const struct init_args *a, struct init_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->domain = dns_name("--domain", a->domain);
	p->hostname = dns_name("--hostname", a->hostname);
	if (a->admin != NULL) {
		const char *d = cmd_addr_domain(a->admin);

		if (d == NULL || ascii_casecmp(d, p->domain) != 0)
			cmd_usage_error("init", "--admin '%s': must be an address "
			    "in %s (USER@%s)", a->admin, p->domain, p->domain);
		p->admin = xstrdup(a->admin);
		ascii_lower(p->admin);
	}
	plan_listen(p, a->listen);
	p->port_base = parse_port_base(a->port_base);
	/*
	 * Root on the standard ports is a production install: the server must
	 * drop privileges. With --port-base (unprivileged ports: a dev or test
	 * instance) it runs as whoever starts it, root included.
	 */
	p->root_service = geteuid() == 0 && a->port_base == NULL;
	p->config = abs_path(conf_default_path(a->c_arg));
	p->config_dir = dir_of(p->config);
	p->users_file = xasprintf("%s/users.json", p->config_dir);
	p->tls_dir = xasprintf("%s/tls", p->config_dir);
	p->cert = xasprintf("%s/fullchain.pem", p->tls_dir);
	p->key = xasprintf("%s/privkey.pem", p->tls_dir);
	p->data_dir = abs_path(a->data_dir != NULL ? a->data_dir : DEFAULT_DATA_DIR);
	plan_account(p);
}

static void
plan_free(struct init_plan *p)
{
	free(p->config);
	free(p->config_dir);
	free(p->users_file);
	free(p->tls_dir);
	free(p->cert);
	free(p->key);
	free(p->data_dir);
	free(p->dkim_key);
	free(p->domain);
	free(p->hostname);
	free(p->admin);
}

/* The config text, checked by the same parser the server uses. */
static char *
build_config(const struct init_plan *p, struct conf **conf_r)
{
	struct confgen_opts o;
	struct conf_error err;
	char *text;

	memset(&o, 0, sizeof(o));
	o.hostname = p->hostname;
	o.domain = p->domain;
	o.data_dir = p->data_dir;
	o.users_file = p->users_file;
	o.tls_cert = p->cert;
	o.tls_key = p->key;
	o.user = p->root_service ? SERVICE_ACCOUNT : NULL;
	for (size_t i = 0; i < p->nlisten; i++)
		o.listen[i] = p->listen[i];
	o.nlisten = p->nlisten;
	o.port_base = p->port_base;
	o.admin = p->admin;
	if ((text = confgen_config_json(&o)) == NULL) {
		fprintf(stderr, "rmail: a path or name is not valid UTF-8; the "
		    "config is JSON and must be\n");
		exit(2);
	}
	if ((*conf_r = conf_parse(p->config, text, strlen(text), &err)) == NULL) {
		fprintf(stderr, "rmail: the config init would write is invalid: "
		    "%s\n", err.msg);
		exit(2);
	}
	return text;
}

/* The DKIM key's path; needs the selector from the config. */
static void
plan_dkim(struct init_plan *p, const struct conf *conf)
{
	if ((p->dkim_key = dkim_key_path(p->data_dir, p->domain,
	    conf->dkim_selector, DKIM_ALG_RSA)) == NULL) {
		fprintf(stderr, "rmail: dkim.selector '%s' cannot name a key "
		    "file\n", conf->dkim_selector);
		exit(2);
	}
	p->keep_dkim = exists(p->dkim_key);
}

/* mkdir -p, then chown what is not -1. */
static void
make_dir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	if (fsio_mkdirs(path, mode) == -1) {
		fprintf(stderr, "rmail: cannot create directory %s: %s\n", path,
		    strerror(errno));
		exit(1);
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) == -1) {
		fprintf(stderr, "rmail: cannot give %s to %s: %s\n", path,
		    SERVICE_ACCOUNT, strerror(errno));
		exit(1);
	}
}

/* Let the service account's group read a root-owned file (key, users). */
static void
share_with_account(const struct init_plan *p, const char *path)
{
	if (!p->have_account)
		return;
	if (chown(path, (uid_t)-1, p->account_gid) == -1 ||
	    chmod(path, 0640) == -1) {
		fprintf(stderr, "rmail: cannot give %s to group %s: %s\n", path,
		    SERVICE_ACCOUNT, strerror(errno));
		exit(1);
	}
}

static void
write_all(const struct init_plan *p, const char *text, const struct users *users)
{
	static const char *const sub[] = { "mail", "queue", "tmp" };
	char err[512], *dkim_dir;

	make_dir(p->config_dir, 0755, (uid_t)-1, (gid_t)-1);
	/* TLS: root's, readable by the account's group. Data: the account's. */
	make_dir(p->tls_dir, 0750, (uid_t)-1, p->account_gid);
	make_dir(p->data_dir, 0750, p->account_uid, p->account_gid);
	for (size_t i = 0; i < NELEM(sub); i++) {
		char *d = xasprintf("%s/%s", p->data_dir, sub[i]);

		make_dir(d, 0750, p->account_uid, p->account_gid);
		free(d);
	}
	if (!p->keep_cert) {
		if (certgen_self_signed(p->hostname, p->cert, p->key, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "rmail: %s\n", err);
			exit(1);
		}
		share_with_account(p, p->key);
	}
	/* The DKIM key is the server's alone: its account owns it, 0600. */
	dkim_dir = xasprintf("%s/dkim", p->data_dir);
	make_dir(dkim_dir, 0700, p->account_uid, p->account_gid);
	free(dkim_dir);
	if (!p->keep_dkim) {
		if (dkim_key_generate(p->dkim_key, DKIM_ALG_RSA, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "rmail: %s\n", err);
			exit(1);
		}
		if (p->have_account && chown(p->dkim_key, p->account_uid,
		    p->account_gid) == -1) {
			fprintf(stderr, "rmail: cannot give %s to %s: %s\n",
			    p->dkim_key, SERVICE_ACCOUNT, strerror(errno));
			exit(1);
		}
	}
	if (users_save(users, p->users_file) == -1) {
		fprintf(stderr, "rmail: cannot write users file %s: %s\n",
		    p->users_file, strerror(errno));
		exit(1);
	}
	share_with_account(p, p->users_file);
	if (fsio_write_atomic(p->config, text, strlen(text), 0644) == -1) {
		fprintf(stderr, "rmail: cannot write config %s: %s\n", p->config,
		    strerror(errno));
		exit(1);
	}
}

/* The DKIM TXT record to publish (rmail dkim show prints it again). */
static void
summary_dkim(const struct init_plan *p, const struct conf *conf)
{
	struct dkim_key *key;
	char err[1024], *line = NULL;

	if ((key = dkim_key_load(p->dkim_key, err, sizeof(err))) != NULL)
		line = dkim_zone_line(key, p->domain, conf->dkim_selector);
	if (line == NULL)
		printf("  DKIM: cannot read the key back (%s); see 'rmail dkim "
		    "show'\n", key == NULL ? err : "no record");
	else
		printf("  DNS: the DKIM record (TXT) of %s:\n    %s\n",
		    p->domain, line);
	free(line);
	dkim_key_free(&key);
}

static void
summary(const struct init_plan *p, const struct conf *conf)
{
	printf("rmail: initialized %s (host %s)\n\nwrote:\n", p->domain, p->hostname);
	printf("  %-40s config\n", p->config);
	printf("  %-40s users (%s)\n", p->users_file,
	    p->admin != NULL ? p->admin : "none yet");
	if (p->keep_cert)
		printf("  %-40s kept: the certificate already there\n", p->cert);
	else {
		printf("  %-40s self-signed certificate for %s\n", p->cert, p->hostname);
		printf("  %-40s its private key\n", p->key);
	}
	printf("  %-40s data (mail, queue, tmp)\n", p->data_dir);
	printf("  %-40s %s\n", p->dkim_key, p->keep_dkim ?
	    "kept: the DKIM key already there" : "DKIM key (RSA 2048)");
	printf("\nlisteners:\n");
	for (int s = 0; s < CONF_SVC_COUNT; s++) {
		printf("  %-12s", conf_service_name((enum conf_service)s));
		for (size_t i = 0; i < conf->listen[s].n; i++)
			printf(" %s", conf->listen[s].v[i]);
		printf("\n");
	}
	if (p->root_service && !p->have_account)
		printf("\nnote: run as root, the server drops to the account '%s',"
		    " which does not exist yet:\n"
		    "  useradd --system --user-group --home-dir %s --shell "
		    "/usr/sbin/nologin %s\n"
		    "  chown -R %s:%s %s\n"
		    "  chgrp %s %s %s %s && chmod 0640 %s %s\n",
		    SERVICE_ACCOUNT, p->data_dir, SERVICE_ACCOUNT,
		    SERVICE_ACCOUNT, SERVICE_ACCOUNT, p->data_dir,
		    SERVICE_ACCOUNT, p->tls_dir, p->key, p->users_file,
		    p->key, p->users_file);
	printf("\nnext steps:\n");
	printf("  rmail check-config -c %s\n", p->config);
	printf("  rmail serve -c %s\n", p->config);
	if (p->admin == NULL)
		printf("  rmail user add -c %s USER@%s\n", p->config, p->domain);
	printf("  mail client: host %s, IMAPS port %u, submission port %u "
	    "(STARTTLS) or %u (TLS),\n    user %s\n", p->hostname,
	    confgen_port(p->port_base, CONF_SVC_IMAPS),
	    confgen_port(p->port_base, CONF_SVC_SUBMISSION),
	    confgen_port(p->port_base, CONF_SVC_SUBMISSIONS),
	    p->admin != NULL ? p->admin : "(the address you add)");
	if (!p->keep_cert)
		printf("  the certificate is self-signed: have clients trust %s,\n"
		    "    or replace it and %s with real ones and send SIGHUP\n",
		    p->cert, p->key);
	printf("  DNS: an MX record for %s pointing at %s\n", p->domain, p->hostname);
	summary_dkim(p, conf);
}

int
cmd_init(int argc, char **argv)
{
	struct init_args a;
	struct init_plan p;
	struct users *users;
	struct conf *conf = NULL;
	char *text, *pw, err[512];

	parse_args(argc, argv, &a);
	plan(&a, &p);
	text = build_config(&p, &conf);
	plan_dkim(&p, conf);
	check_existing(&p, a.force);

	users = users_new_empty();
	if (p.admin != NULL) {
		if ((pw = cmd_read_password(a.password_stdin, p.admin)) == NULL)
			return 1;
		if (users_set(users, p.admin, pw, USERS_DEFAULT_ITERATIONS, err,
		    sizeof(err)) == -1) {
			cmd_free_password(&pw);
			cmd_usage_error("init", "--admin '%s': %s", p.admin, err);
		}
		cmd_free_password(&pw);
	}
	write_all(&p, text, users);
	summary(&p, conf);

	users_free(&users);
	conf_free(&conf);
	free(text);
	plan_free(&p);
	return 0;
}
