/*
 * rmail diagnose: run every check (cmd/diagnose.h), print one line per
 * result, or a JSON array with --json. Exit 0 when nothing FAILs, 1
 * otherwise, 2 on bad usage.
 *
 * This file loads the config and the users file (their failures are
 * reported here, with the loader's message; diag_check_local reports
 * them as PASS when they loaded), finds the host's public addresses and
 * hands both to the check families.
 */
#include "cmd/cmd.h"
#include "cmd/diagnose.h"
#include "config/config.h"
#include "config/users.h"
#include "core/net.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Default for --timeout, and its bounds. */
#define DIAG_TIMEOUT_DEFAULT	5
#define DIAG_TIMEOUT_MAX	300
/* --probe-domain default: a large provider's MX (check 4). */
#define DIAG_PROBE_DEFAULT	"gmail.com"
/* Most --public-ip options, and interface addresses kept. */
#define DIAG_PUBLIC_MAX		32

struct diag_result {
	char			*check;
	enum diag_status	 status;
	char			*found;
	char			*fix;	/* NULL for PASS, INFO, SKIP */
};

struct diag {
	struct diag_result	*r;
	size_t			 n;
	size_t			 cap;
};

static const char *
diag_status_name(enum diag_status st)
{
	switch (st) {
	case DIAG_PASS:	return "PASS";
	case DIAG_INFO:	return "INFO";
	case DIAG_SKIP:	return "SKIP";
	case DIAG_WARN:	return "WARN";
	case DIAG_FAIL:	return "FAIL";
	}
	return "?";
}

void
diag_add(struct diag *d, const char *check, enum diag_status st,
    const char *fix, const char *found_fmt, ...)
{
	struct diag_result *r;
	va_list ap;
	char *found;

	va_start(ap, found_fmt);
	if (vasprintf(&found, found_fmt, ap) < 0)
		abort();
	va_end(ap);
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 32;
		d->r = xrealloc(d->r, d->cap * sizeof(*d->r));
	}
	r = &d->r[d->n++];
	r->check = xstrdup(check);
	r->status = st;
	r->found = found;
	r->fix = fix != NULL && (st == DIAG_WARN || st == DIAG_FAIL) ?
	    xstrdup(fix) : NULL;
}

static void
diag_free(struct diag *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->r[i].check);
		free(d->r[i].found);
		free(d->r[i].fix);
	}
	FREE_NULL(d->r);
	d->n = d->cap = 0;
}

/* s as a JSON string, quotes included (RFC 8259 section 7). */
static void
diag_json_str(FILE *f, const char *s)
{
	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':	fputs("\\\"", f); break;
		case '\\':	fputs("\\\\", f); break;
		case '\n':	fputs("\\n", f); break;
		case '\r':	fputs("\\r", f); break;
		case '\t':	fputs("\\t", f); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void
diag_print_json(const struct diag *d)
{
	fputs("[", stdout);
	for (size_t i = 0; i < d->n; i++) {
		const struct diag_result *r = &d->r[i];

		fputs(i ? ",\n {" : "\n {", stdout);
		fputs("\"check\": ", stdout);
		diag_json_str(stdout, r->check);
		printf(", \"status\": \"%s\", \"found\": ",
		    diag_status_name(r->status));
		diag_json_str(stdout, r->found);
		fputs(", \"fix\": ", stdout);
		diag_json_str(stdout, r->fix);
		fputs("}", stdout);
	}
	fputs(d->n ? "\n]\n" : "]\n", stdout);
}

static void
diag_print_text(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag_result *r = &d->r[i];

		printf("%s  %s  %s\n", diag_status_name(r->status), r->check,
		    r->found);
		if (r->fix != NULL)
			printf("      fix: %s\n", r->fix);
	}
}

/*
 * "--name value" or "--name=value" at argv[*i] for option name: the
 * value (advancing *i past it), or NULL when argv[*i] is another option.
 * A missing value is a usage error.
 */
static const char *
diag_optval(int argc, char **argv, int *i, const char *name)
{
	size_t len = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, len) != 0)
		return NULL;
	if (a[len] == '=')
		return a + len + 1;
	if (a[len] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		cmd_usage_error("diagnose", "%s needs a value", name);
	return argv[++*i];
}

int
cmd_diagnose(int argc, char **argv)
{
	struct sockaddr_storage ips[DIAG_PUBLIC_MAX];
	struct diag d = { 0 };
	struct diag_ctx ctx = { 0 };
	struct conf_error cerr;
	char uerr[1024];
	const char *c_arg = NULL, *v;
	bool json = false, any_fail = false;
	size_t nips = 0;

	ctx.probe_domain = DIAG_PROBE_DEFAULT;
	ctx.timeout_secs = DIAG_TIMEOUT_DEFAULT;
	for (int i = 1; i < argc; i++) {
		if ((v = diag_optval(argc, argv, &i, "-c")) != NULL)
			c_arg = v;
		else if ((v = diag_optval(argc, argv, &i, "--dns-server")) != NULL)
			ctx.dns_server = v;
		else if ((v = diag_optval(argc, argv, &i, "--probe-domain")) != NULL) {
			if (!conf_valid_hostname(v))
				cmd_usage_error("diagnose", "--probe-domain: "
				    "'%s' is not a domain name", v);
			ctx.probe_domain = v;
		} else if ((v = diag_optval(argc, argv, &i, "--timeout")) != NULL) {
			char *end;
			unsigned long t = strtoul(v, &end, 10);

			if (*v < '0' || *v > '9' || *end != '\0' || t < 1 ||
			    t > DIAG_TIMEOUT_MAX)
				cmd_usage_error("diagnose", "--timeout: '%s' is "
				    "not a number of seconds from 1 to %d", v,
				    DIAG_TIMEOUT_MAX);
			ctx.timeout_secs = (unsigned)t;
		} else if ((v = diag_optval(argc, argv, &i, "--public-ip")) != NULL) {
			if (nips == DIAG_PUBLIC_MAX)
				cmd_usage_error("diagnose", "more than %d "
				    "--public-ip", DIAG_PUBLIC_MAX);
			if (net_parse_ip(v, &ips[nips]) != 0)
				cmd_usage_error("diagnose", "--public-ip: '%s' "
				    "is not an IPv4 or IPv6 address", v);
			nips++;
		} else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (argv[i][0] == '-')
			cmd_usage_error("diagnose", "unknown option '%s'", argv[i]);
		else
			cmd_usage_error("diagnose", "unexpected argument '%s'",
			    argv[i]);
	}

	ctx.config_path = conf_default_path(c_arg);
	if ((ctx.conf = conf_load(ctx.config_path, &cerr)) == NULL)
		diag_add(&d, "config", DIAG_FAIL, "correct the config, then "
		    "run rmail check-config", "%s", cerr.msg);
	else if ((ctx.users = users_load(ctx.conf->users_file, uerr,
	    sizeof(uerr))) == NULL)
		diag_add(&d, "users", DIAG_FAIL, "correct the users file, "
		    "then run rmail check-config", "%s", uerr);

	if (nips == 0) {
		ssize_t found = net_public_addrs(ips, DIAG_PUBLIC_MAX);

		nips = found > 0 ? (size_t)found : 0;
		if (nips == 0)
			diag_add(&d, "public_ip", DIAG_INFO, NULL, "no public "
			    "address on the interfaces; pass --public-ip");
	}
	ctx.public_ips = ips;
	ctx.npublic = nips;

	diag_check_local(&d, &ctx);
	diag_check_dns(&d, &ctx);

	for (size_t i = 0; i < d.n; i++)
		if (d.r[i].status == DIAG_FAIL)
			any_fail = true;
	if (json)
		diag_print_json(&d);
	else
		diag_print_text(&d);
	fflush(stdout);
	diag_free(&d);
	users_free(&ctx.users);
	conf_free(&ctx.conf);
	return any_fail ? 1 : 0;
}
