/*
 * rmail init: write a config, users file, self-signed certificate, DKIM
 * key and data directory for a fresh install, then print (and save as
 * DATA_DIR/dns-records.txt) every DNS record to publish.
 *
 * Without --domain/--hostname on a terminal (and no --non-interactive),
 * it asks for what the flags would have given.
 *
 * Nothing is written until everything has been checked: the flags, the
 * config text (through conf_parse, so init never writes a config the
 * server refuses), existing files, and the admin's password. The config
 * is written last, so a failure part-way leaves no config pointing at
 * missing files.
 */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "cmd/records.h"
#include "config/certgen.h"
#include "config/confgen.h"
#include "config/config.h"
#include "config/users.h"
#include "core/fsio.h"
#include "core/net.h"
#include "core/util.h"
#include "relay/dkim.h"

#include <arpa/inet.h>
#include <assert.h>
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
#define MAX_PUBLIC_IPS		16
#define MAX_ANSWER		4096	/* one interactive answer, bytes */
#define PASSWORD_TRIES		3

struct init_args {
	const char	*c_arg;
	const char	*domain;
	const char	*hostname;
	const char	*data_dir;
	const char	*listen;
	const char	*port_base;
	const char	*admin;
	const char	*cert;		/* --cert: an existing certificate chain */
	const char	*key;		/* --key: its private key */
	bool		 password_stdin;
	bool		 non_interactive;
	bool		 force;
	/* --public-ip, repeatable (or comma-separated): replaces detection */
	struct sockaddr_storage	 public_ips[MAX_PUBLIC_IPS];
	size_t			 npublic;
	bool			 public_given;
	/* Interactive: the answers (a->domain etc. point into these) and
	 * the password typed for the admin. */
	char		*answers[8];
	size_t		 nanswers;
	char		*password;
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
	bool		 own_cert;	/* --cert/--key: used where they are */
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

/* --public-ip IP[,IP...]: cmd_parse_args keeps only the last value of an
 * option, so the repeated ones are collected here. */
static void
collect_public_ips(int argc, char **argv, struct init_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *v;
		char *copy, *tok, *save;

		if (strcmp(argv[i], "--") == 0)
			break;
		if (strncmp(argv[i], "--public-ip=", 12) == 0)
			v = argv[i] + 12;
		else if (strcmp(argv[i], "--public-ip") == 0 && i + 1 < argc)
			v = argv[++i];
		else
			continue;
		a->public_given = true;
		copy = xstrdup(v);
		for (tok = strtok_r(copy, ", ", &save); tok != NULL;
		    tok = strtok_r(NULL, ", ", &save)) {
			if (a->npublic == MAX_PUBLIC_IPS)
				cmd_usage_error("init", "--public-ip: at most %d "
				    "addresses", MAX_PUBLIC_IPS);
			if (net_parse_ip(tok, &a->public_ips[a->npublic]) == -1)
				cmd_usage_error("init", "--public-ip '%s': not an "
				    "IPv4 or IPv6 address", tok);
			a->npublic++;
		}
		free(copy);
	}
}

/* Interactive when on a terminal, not told otherwise, and a required
 * flag is missing. */
static bool
want_interactive(const struct init_args *a)
{
	return !a->non_interactive && isatty(STDIN_FILENO) &&
	    (a->domain == NULL || a->hostname == NULL);
}

static void
parse_args(int argc, char **argv, struct init_args *a)
{
	const char *public_ip = NULL;
	const struct cmd_opt opts[] = {
		{ "-c", true, &a->c_arg, NULL },
		{ "--domain", true, &a->domain, NULL },
		{ "--hostname", true, &a->hostname, NULL },
		{ "--data-dir", true, &a->data_dir, NULL },
		{ "--listen", true, &a->listen, NULL },
		{ "--port-base", true, &a->port_base, NULL },
		{ "--admin", true, &a->admin, NULL },
		{ "--cert", true, &a->cert, NULL },
		{ "--key", true, &a->key, NULL },
		{ "--public-ip", true, &public_ip, NULL },
		{ "--password-stdin", false, NULL, &a->password_stdin },
		{ "--non-interactive", false, NULL, &a->non_interactive },
		{ "--force", false, NULL, &a->force },
	};

	memset(a, 0, sizeof(*a));
	cmd_parse_args("init", argc, argv, opts, NELEM(opts), NULL, 0);
	collect_public_ips(argc, argv, a);
	if ((a->cert == NULL) != (a->key == NULL))
		cmd_usage_error("init", "--cert and --key go together");
	if ((a->domain == NULL || a->hostname == NULL) && !want_interactive(a))
		cmd_usage_error("init", "--domain and --hostname are required "
		    "(or run it on a terminal without --non-interactive to be "
		    "asked)");
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

/* The placeholder config a package installs ("sample": true): init's to
 * replace, no --force needed. */
static bool
is_sample(const char *config)
{
	struct conf_error err;
	struct conf *conf;
	bool sample;

	if ((conf = conf_load(config, &err)) == NULL)
		return false;
	sample = conf->sample;
	conf_free(&conf);
	return sample;
}

/* A file init may not write without --force. */
static bool
taken(const char *path, bool is_config)
{
	return exists(path) && !(is_config && is_sample(path));
}

/* Refuse to overwrite the config or users file without --force. */
static void
check_existing(struct init_plan *p, bool force)
{
	const char *mine[] = { p->config, p->users_file };
	bool cert = exists(p->cert), key = exists(p->key);

	for (size_t i = 0; i < NELEM(mine) && !force; i++) {
		if (taken(mine[i], i == 0)) {
			fprintf(stderr, "rmail: %s already exists; use --force to "
			    "overwrite it\n", mine[i]);
			exit(1);
		}
	}
	if (p->own_cert) {
		/* --cert/--key: used where they are, never replaced. */
		const char *tls[] = { p->cert, p->key };

		for (size_t i = 0; i < NELEM(tls); i++) {
			if (access(tls[i], R_OK) == -1) {
				fprintf(stderr, "rmail: cannot read %s: %s\n", tls[i],
				    strerror(errno));
				exit(1);
			}
		}
		return;
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
	if (a->cert != NULL) {
		p->cert = abs_path(a->cert);
		p->key = abs_path(a->key);
		p->own_cert = p->keep_cert = true;
	} else {
		p->cert = xasprintf("%s/fullchain.pem", p->tls_dir);
		p->key = xasprintf("%s/privkey.pem", p->tls_dir);
	}
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
	if (!p->own_cert)
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

/*
 * The DNS records: for the addresses given with --public-ip, else those
 * found on the interfaces. Printed, and saved where diagnose and the
 * admin find them again; a failure to save is reported, not fatal (the
 * rest is written by then and the records are on the screen).
 */
static void
summary_records(const struct init_plan *p, const struct init_args *a,
    const struct conf *conf)
{
	struct sockaddr_storage found[MAX_PUBLIC_IPS];
	const struct sockaddr_storage *ips = a->public_ips;
	size_t n = a->npublic;
	char *text, *path;

	if (!a->public_given) {
		ssize_t r = net_public_addrs(found, NELEM(found));

		if (r == -1) {
			fprintf(stderr, "rmail: cannot list the network interfaces "
			    "(%s); give the addresses with --public-ip\n",
			    strerror(errno));
			r = 0;
		}
		ips = found;
		n = (size_t)r;
	}
	text = records_zone(conf, ips, n);
	path = xasprintf("%s/%s", p->data_dir, RECORDS_FILE);
	if (fsio_write_atomic(path, text, strlen(text), 0644) == -1)
		fprintf(stderr, "rmail: cannot write %s: %s\n", path,
		    strerror(errno));
	printf("\nDNS records to publish (saved in %s):\n\n%s", path, text);
	free(path);
	free(text);
}

static void
summary(const struct init_plan *p, const struct init_args *a,
    const struct conf *conf)
{
	printf("rmail: initialized %s (host %s)\n\nwrote:\n", p->domain, p->hostname);
	printf("  %-40s config\n", p->config);
	printf("  %-40s users (%s)\n", p->users_file,
	    p->admin != NULL ? p->admin : "none yet");
	if (p->own_cert)
		printf("  %-40s used: the certificate given (and %s)\n", p->cert,
		    p->key);
	else if (p->keep_cert)
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
	summary_records(p, a, conf);
}

/* ---- interactive setup ---- */

/*
 * Ask question on the terminal, offering def (NULL: none), and return the
 * answer without surrounding blanks, or a copy of def when it is empty.
 * Read a byte at a time from fd 0 so nothing typed ahead is swallowed by
 * a buffer (the password prompt reads the terminal itself). End of input
 * cancels init.
 */
static char *
ask(const char *question, const char *def)
{
	char buf[MAX_ANSWER];
	size_t n = 0, start = 0;
	char c;

	if (def != NULL && *def != '\0')
		printf("%s [%s]: ", question, def);
	else
		printf("%s: ", question);
	fflush(stdout);
	for (;;) {
		ssize_t r = read(STDIN_FILENO, &c, 1);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "\nrmail: init cancelled, nothing written\n");
			exit(1);
		}
		if (c == '\n' || c == '\r')
			break;
		if (n + 1 < sizeof(buf))
			buf[n++] = c;
	}
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	while (start < n && (buf[start] == ' ' || buf[start] == '\t'))
		start++;
	if (start == n)
		return xstrdup(def != NULL ? def : "");
	return xstrndup(buf + start, n - start);
}

/* An answer init keeps: freed with the args. */
static const char *
keep(struct init_args *a, char *answer)
{
	assert(a->nanswers < NELEM(a->answers));
	a->answers[a->nanswers++] = answer;
	return answer;
}

/* Ask until the answer is a valid DNS name (lower-cased). */
static const char *
ask_name(struct init_args *a, const char *question, const char *def)
{
	for (;;) {
		char *v = ask(question, def);
		size_t n = strlen(v);

		if (n > 0 && v[n - 1] == '.')
			v[n - 1] = '\0';
		ascii_lower(v);
		if (conf_valid_hostname(v) && strchr(v, '.') != NULL)
			return keep(a, v);
		printf("  '%s' is not a domain name like example.com\n", v);
		free(v);
	}
}

static const char *
ask_admin(struct init_args *a, const char *domain)
{
	char *def = xasprintf("admin@%s", domain);

	for (;;) {
		char *v = ask("Admin address (postmaster@ and abuse@ go to it)", def);
		const char *d;

		ascii_lower(v);
		if (conf_valid_address(v) && (d = cmd_addr_domain(v)) != NULL &&
		    strcmp(d, domain) == 0) {
			free(def);
			return keep(a, v);
		}
		printf("  '%s' is not an address in %s (USER@%s)\n", v, domain,
		    domain);
		free(v);
	}
}

/* Ask until both entries match (the common helper turns echo off and
 * restores the terminal, signals included). */
static char *
ask_password(const char *admin)
{
	for (int i = 0; i < PASSWORD_TRIES; i++) {
		char *pw = cmd_read_password(false, admin);

		if (pw != NULL)
			return pw;
		if (i + 1 < PASSWORD_TRIES)
			printf("  again:\n");
	}
	fprintf(stderr, "rmail: no password set, nothing written\n");
	exit(1);
}

static bool
readable(const char *path)
{
	struct stat st;

	return access(path, R_OK) == 0 && stat(path, &st) == 0 &&
	    S_ISREG(st.st_mode);
}

/* An existing certificate (certbot's when there is one) or self-signed. */
static void
ask_cert(struct init_args *a, const char *host)
{
	char *le = xasprintf("/etc/letsencrypt/live/%s/fullchain.pem", host);
	const char *def = readable(le) ? le : "self-signed";

	for (;;) {
		char *v = ask("TLS certificate chain (a fullchain.pem path, or "
		    "self-signed)", def);

		if (strcmp(v, "self-signed") == 0 || strcmp(v, "none") == 0) {
			free(v);
			break;
		}
		if (readable(v)) {
			a->cert = keep(a, v);
			break;
		}
		printf("  cannot read the file %s\n", v);
		free(v);
	}
	free(le);
	if (a->cert == NULL)
		return;
	for (;;) {
		const char *slash = strrchr(a->cert, '/');
		char *def_key = slash == NULL ? xstrdup("privkey.pem") :
		    xasprintf("%.*s/privkey.pem", (int)(slash - a->cert), a->cert);
		char *v = ask("Its private key", def_key);

		free(def_key);
		if (readable(v)) {
			a->key = keep(a, v);
			return;
		}
		printf("  cannot read the file %s\n", v);
		free(v);
	}
}

/*
 * Ask for whatever the flags did not give. The config and users file are
 * checked first, so nobody answers questions for an init that would then
 * refuse to overwrite.
 */
static void
interact(struct init_args *a)
{
	char *config = abs_path(conf_default_path(a->c_arg));
	char *dir = dir_of(config);
	char *users = xasprintf("%s/users.json", dir);
	char *def;

	if (!a->force && (taken(config, true) || taken(users, false))) {
		fprintf(stderr, "rmail: %s already exists; use --force to "
		    "overwrite it\n", taken(config, true) ? config : users);
		exit(1);
	}
	printf("rmail init: setting up %s (Enter takes the [default])\n\n",
	    config);
	free(users);
	free(dir);
	free(config);
	if (a->domain == NULL)
		a->domain = ask_name(a, "Mail domain (the part after @)", NULL);
	def = xasprintf("mail.%s", a->domain);
	if (a->hostname == NULL)
		a->hostname = ask_name(a, "Hostname of this server (its MX)", def);
	free(def);
	if (a->admin == NULL)
		a->admin = ask_admin(a, a->domain);
	if (!a->password_stdin)
		a->password = ask_password(a->admin);
	if (a->data_dir == NULL)
		a->data_dir = keep(a, ask("Data directory (mail, queue, DKIM "
		    "keys)", DEFAULT_DATA_DIR));
	if (a->cert == NULL)
		ask_cert(a, a->hostname);
	printf("\n");
}

static void
args_free(struct init_args *a)
{
	for (size_t i = 0; i < a->nanswers; i++)
		free(a->answers[i]);
	cmd_free_password(&a->password);
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
	if (want_interactive(&a))
		interact(&a);
	plan(&a, &p);
	text = build_config(&p, &conf);
	plan_dkim(&p, conf);
	check_existing(&p, a.force);

	users = users_new_empty();
	if (p.admin != NULL) {
		if (a.password != NULL) {
			pw = a.password;
			a.password = NULL;
		} else if ((pw = cmd_read_password(a.password_stdin,
		    p.admin)) == NULL)
			return 1;
		if (users_set(users, p.admin, pw, USERS_DEFAULT_ITERATIONS, err,
		    sizeof(err)) == -1) {
			cmd_free_password(&pw);
			cmd_usage_error("init", "--admin '%s': %s", p.admin, err);
		}
		cmd_free_password(&pw);
	}
	write_all(&p, text, users);
	summary(&p, &a, conf);

	users_free(&users);
	conf_free(&conf);
	free(text);
	plan_free(&p);
	args_free(&a);
	return 0;
}
