/*
 * rmail dkim generate|show|sign: DKIM keys of a local domain (relay/dkim.h),
 * the TXT records to publish for them, and signing a message by hand so an
 * admin can check keys and DNS with any verifier.
 *
 * sign is a command rather than a test-only tool: it runs exactly the code
 * the relay signs with, from the key files the server reads, and gives an
 * admin a way to test a published record before real mail depends on it.
 */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "config/config.h"
#include "core/fsio.h"
#include "core/util.h"
#include "relay/dkim.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Print the zone line of each key DOMAIN has. 0, or 1 (none, or broken). */
static int
print_records(const struct conf *conf, const char *domain)
{
	struct dkim_key *keys[DKIM_ALG_COUNT];
	char err[1024];
	size_t n;
	int rv = 0;

	if (dkim_keys_load(conf->data_dir, domain, conf->dkim_selector, keys, &n,
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "rmail: %s\n", err);
		return 1;
	}
	if (n == 0) {
		fprintf(stderr, "rmail: no DKIM key for %s in %s/dkim; run "
		    "'rmail dkim generate %s'\n", domain, conf->data_dir, domain);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		char *line = dkim_zone_line(keys[i], domain, conf->dkim_selector);

		if (line == NULL) {
			fprintf(stderr, "rmail: cannot make the %s record for %s "
			    "(selector '%s')\n", dkim_alg_name(dkim_key_alg(keys[i])),
			    domain, conf->dkim_selector);
			rv = 1;
		} else
			printf("%s\n", line);
		free(line);
		dkim_key_free(&keys[i]);
	}
	return rv;
}

static int
dkim_generate(const struct conf *conf, const char *domain, bool ed25519,
    bool force)
{
	enum dkim_alg algs[DKIM_ALG_COUNT] = { DKIM_ALG_RSA, DKIM_ALG_ED25519 };
	char *paths[DKIM_ALG_COUNT] = { NULL, NULL }, *dir, err[1024];
	size_t n = ed25519 ? 2 : 1;
	struct cmd_owner owner;
	struct stat st;
	int rv = 1;

	for (size_t i = 0; i < n; i++) {
		char *sel = dkim_key_selector(conf->dkim_selector, algs[i]);

		paths[i] = dkim_key_path(conf->data_dir, domain,
		    conf->dkim_selector, algs[i]);
		if (paths[i] == NULL || sel == NULL) {
			fprintf(stderr, "rmail: dkim.selector '%s' cannot name a "
			    "%s key\n", conf->dkim_selector,
			    dkim_alg_name(algs[i]));
			free(sel);
			goto out;
		}
		free(sel);
		if (!force && lstat(paths[i], &st) == 0) {
			fprintf(stderr, "rmail: %s already exists; use --force to "
			    "replace it (its DNS record must then change too)\n",
			    paths[i]);
			goto out;
		}
	}
	/* Run as root, the key goes to whoever owns the data (the server). */
	cmd_owner_get(conf->data_dir, &owner);
	dir = xasprintf("%s/dkim", conf->data_dir);
	for (size_t i = 0; i < n; i++) {
		if (dkim_key_generate(paths[i], algs[i], err, sizeof(err)) == -1) {
			fprintf(stderr, "rmail: %s\n", err);
			free(dir);
			goto out;
		}
		cmd_owner_restore(dir, &owner);
		cmd_owner_restore(paths[i], &owner);
		printf("rmail: wrote %s (%s)\n", paths[i], algs[i] == DKIM_ALG_RSA ?
		    "RSA 2048" : "Ed25519");
	}
	free(dir);
	printf("publish in DNS:\n");
	fflush(stdout);
	rv = print_records(conf, domain);
out:
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	return rv;
}

/* Bare LF made CRLF: DKIM and SMTP both want CRLF lines. */
static char *
crlf(const char *in, size_t n, size_t *len_r)
{
	size_t extra = 0, o = 0;
	char *out;

	for (size_t i = 0; i < n; i++)
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			extra++;
	out = xmalloc(n + extra + 1);
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = in[i];
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

static int
dkim_sign_stdin(const struct conf *conf, const char *domain)
{
	struct dkim_key *keys[DKIM_ALG_COUNT];
	char *raw, *msg = NULL, *hdrs = NULL, err[1024];
	size_t rawlen, len, n = 0;
	int rv = 1;

	if ((raw = fsio_read_fd(STDIN_FILENO, conf->limits.max_message_bytes,
	    &rawlen)) == NULL) {
		if (errno == EFBIG)
			fprintf(stderr, "rmail: the message is larger than "
			    "limits.max_message_bytes (%llu)\n",
			    (unsigned long long)conf->limits.max_message_bytes);
		else
			fprintf(stderr, "rmail: cannot read the message: %s\n",
			    strerror(errno));
		return 1;
	}
	msg = crlf(raw, rawlen, &len);
	free(raw);
	if (dkim_keys_load(conf->data_dir, domain, conf->dkim_selector, keys, &n,
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "rmail: %s\n", err);
		goto out;
	}
	if (n == 0) {
		fprintf(stderr, "rmail: no DKIM key for %s in %s/dkim; run "
		    "'rmail dkim generate %s'\n", domain, conf->data_dir, domain);
		goto out;
	}
	if ((hdrs = dkim_sign((const struct dkim_key *const *)keys, n, domain,
	    conf->dkim_selector, time(NULL), msg, len, err, sizeof(err))) == NULL) {
		fprintf(stderr, "rmail: %s\n", err);
		goto out;
	}
	if (fwrite(hdrs, 1, strlen(hdrs), stdout) != strlen(hdrs) ||
	    fwrite(msg, 1, len, stdout) != len || fflush(stdout) != 0) {
		fprintf(stderr, "rmail: cannot write the signed message: %s\n",
		    strerror(errno));
		goto out;
	}
	rv = 0;
out:
	for (size_t i = 0; i < n; i++)
		dkim_key_free(&keys[i]);
	free(hdrs);
	free(msg);
	return rv;
}

int
cmd_dkim(int argc, char **argv)
{
	const char *c_arg = NULL, *pos[2];
	bool ed25519 = false, force = false;
	const struct cmd_opt opts[] = {
		{ "-c", true, &c_arg, NULL },
		{ "--ed25519", false, NULL, &ed25519 },
		{ "--force", false, NULL, &force },
	};
	struct conf *conf;
	char *domain;
	size_t npos, n;
	int rv = 1;

	npos = cmd_parse_args("dkim", argc, argv, opts, NELEM(opts), pos, 2);
	if (npos == 0)
		cmd_usage_error("dkim", "missing subcommand: generate, show or sign");
	if (strcmp(pos[0], "generate") != 0 && strcmp(pos[0], "show") != 0 &&
	    strcmp(pos[0], "sign") != 0)
		cmd_usage_error("dkim", "unknown subcommand '%s'", pos[0]);
	if (npos < 2)
		cmd_usage_error("dkim", "%s needs DOMAIN", pos[0]);
	if ((ed25519 || force) && strcmp(pos[0], "generate") != 0)
		cmd_usage_error("dkim", "%s is for generate only",
		    ed25519 ? "--ed25519" : "--force");

	if ((conf = cmd_load_config(c_arg)) == NULL)
		return 2;
	domain = xstrdup(pos[1]);
	ascii_lower(domain);
	if ((n = strlen(domain)) > 1 && domain[n - 1] == '.')
		domain[n - 1] = '\0';
	if (!conf_is_local_domain(conf, domain)) {
		fprintf(stderr, "rmail: '%s' is not one of the domains in %s\n",
		    pos[1], conf->path);
		goto out;
	}
	if (strcmp(pos[0], "generate") == 0)
		rv = dkim_generate(conf, domain, ed25519, force);
	else if (strcmp(pos[0], "show") == 0)
		rv = print_records(conf, domain);
	else
		rv = dkim_sign_stdin(conf, domain);
out:
	free(domain);
	conf_free(&conf);
	return rv;
}
