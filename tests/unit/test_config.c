/* Unit tests: config/config (load, defaults, validation, error positions). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/fsio.h"
#include "core/util.h"

/* Lines 1-4 of most test files; the case's own text is line 5. */
#define BASE	"{\n" \
		"  \"hostname\": \"mail.example.com\",\n" \
		"  \"domains\": [\"example.com\"],\n" \
		"  \"data_dir\": \"/var/lib/rmail\",\n"

static struct conf *
parse_str(const char *text, struct conf_error *err)
{
	return conf_parse("/etc/rmail/rmail.json", text, strlen(text), err);
}

static void
test_minimal_defaults(void **state)
{
	static const char *const want_listen[CONF_SVC_COUNT][2] = {
		{ "0.0.0.0:25", "[::]:25" }, { "0.0.0.0:587", "[::]:587" },
		{ "0.0.0.0:465", "[::]:465" }, { "0.0.0.0:143", "[::]:143" },
		{ "0.0.0.0:993", "[::]:993" },
	};
	struct conf_error err;
	struct conf *c;

	(void)state;
	c = parse_str("{\"hostname\": \"mail.example.com.\", "
	    "\"domains\": [\"Example.COM.\"], \"data_dir\": \"/var/lib/rmail\"}",
	    &err);
	assert_non_null(c);
	assert_string_equal(c->path, "/etc/rmail/rmail.json");
	assert_string_equal(c->hostname, "mail.example.com");
	assert_int_equal(c->domains.n, 1);
	assert_string_equal(c->domains.v[0], "example.com");
	assert_string_equal(c->data_dir, "/var/lib/rmail");
	assert_string_equal(c->users_file, "/etc/rmail/users.json");
	assert_null(c->user);
	for (int s = 0; s < CONF_SVC_COUNT; s++) {
		assert_int_equal(c->listen[s].n, 2);
		assert_string_equal(c->listen[s].v[0], want_listen[s][0]);
		assert_string_equal(c->listen[s].v[1], want_listen[s][1]);
	}
	assert_string_equal(c->tls_cert, "/etc/rmail/tls/fullchain.pem");
	assert_string_equal(c->tls_key, "/etc/rmail/tls/privkey.pem");
	assert_int_equal(c->naliases, 0);
	assert_null(c->smarthost.host);
	assert_null(c->smarthost.username);
	assert_null(c->smarthost.password);
	assert_int_equal(c->dns_servers.n, 0);
	assert_int_equal(c->smtp_port, 25);
	assert_string_equal(c->dkim_selector, "rmail");
	assert_string_equal(c->log_level, "info");
	assert_string_equal(c->log_format, "kv");
	assert_false(c->sample);
	assert_int_equal(c->limits.max_message_bytes, 52428800);
	assert_int_equal(c->limits.max_connections, 2000);
	assert_int_equal(c->limits.max_connections_per_ip, 20);
	assert_int_equal(c->limits.smtp_line_bytes, 4096);
	assert_int_equal(c->limits.imap_line_bytes, 65536);
	assert_int_equal(c->limits.output_buffer_bytes, 4194304);
	assert_int_equal(c->limits.smtp_timeout_secs, 300);
	assert_int_equal(c->limits.imap_timeout_secs, 1800);
	assert_int_equal(c->limits.login_timeout_secs, 60);
	assert_int_equal(c->limits.shutdown_grace_secs, 10);
	assert_true(conf_is_local_domain(c, "EXAMPLE.com"));
	assert_true(conf_is_local_domain(c, "example.com."));
	assert_false(conf_is_local_domain(c, "example.org"));
	assert_false(conf_is_local_domain(c, "xexample.com"));
	assert_false(conf_is_local_domain(c, NULL));
	conf_free(&c);
	assert_null(c);
	conf_free(&c);
}

static const char full_config[] =
    "{\n"
    "  \"hostname\": \"mx.example.org\",\n"
    "  \"domains\": [\"example.org\", \"example.net\"],\n"
    "  \"data_dir\": \"/srv/mail\",\n"
    "  \"users_file\": \"/srv/users.json\",\n"
    "  \"user\": \"rmail\",\n"
    "  \"listen\": {\n"
    "    \"smtp\": [\"127.0.0.1:2525\"],\n"
    "    \"submission\": [\"[::1]:2587\", \"127.0.0.1:2587\"],\n"
    "    \"submissions\": [],\n"
    "    \"imap\": [\"127.0.0.1:2143\"],\n"
    "    \"imaps\": [\"127.0.0.1:2993\"]\n"
    "  },\n"
    "  \"tls\": {\"cert\": \"/srv/cert.pem\", \"key\": \"/srv/key.pem\"},\n"
    "  \"aliases\": {\n"
    "    \"Postmaster@Example.org\": [\"Alice@example.org\", \"bob@example.net\"],\n"
    "    \"@example.net\": \"carol@example.org\"\n"
    "  },\n"
    "  \"relay\": {\n"
    "    \"smarthost\": {\"host\": \"smtp.relay.test\", \"port\": 2465,\n"
    "      \"tls\": \"tls\", \"username\": \"u\", \"password\": \"p w\"},\n"
    "    \"dns_servers\": [\"127.0.0.1\", \"127.0.0.1:5353\", \"[::1]:53\", \"::1\"],\n"
    "    \"smtp_port\": 2525\n"
    "  },\n"
    "  \"dkim\": {\"selector\": \"s2024\"},\n"
    "  \"limits\": {\n"
    "    \"max_message_bytes\": 1024, \"max_connections\": 1000000,\n"
    "    \"max_connections_per_ip\": 1, \"smtp_line_bytes\": 512,\n"
    "    \"imap_line_bytes\": 16777216, \"output_buffer_bytes\": 65536,\n"
    "    \"smtp_timeout_secs\": 1, \"imap_timeout_secs\": 86400,\n"
    "    \"login_timeout_secs\": 7, \"shutdown_grace_secs\": 0\n"
    "  },\n"
    "  \"log\": {\"level\": \"debug\", \"format\": \"json\"},\n"
    "  \"sample\": true\n"
    "}\n";

static void
test_full_config(void **state)
{
	struct conf_error err;
	struct conf *c;

	(void)state;
	c = parse_str(full_config, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_string_equal(c->hostname, "mx.example.org");
	assert_int_equal(c->domains.n, 2);
	assert_string_equal(c->domains.v[1], "example.net");
	assert_string_equal(c->data_dir, "/srv/mail");
	assert_string_equal(c->users_file, "/srv/users.json");
	assert_string_equal(c->user, "rmail");
	assert_int_equal(c->listen[CONF_SVC_SMTP].n, 1);
	assert_string_equal(c->listen[CONF_SVC_SMTP].v[0], "127.0.0.1:2525");
	assert_int_equal(c->listen[CONF_SVC_SUBMISSION].n, 2);
	assert_string_equal(c->listen[CONF_SVC_SUBMISSION].v[0], "[::1]:2587");
	assert_int_equal(c->listen[CONF_SVC_SUBMISSIONS].n, 0);
	assert_string_equal(c->listen[CONF_SVC_IMAP].v[0], "127.0.0.1:2143");
	assert_string_equal(c->listen[CONF_SVC_IMAPS].v[0], "127.0.0.1:2993");
	assert_string_equal(c->tls_cert, "/srv/cert.pem");
	assert_string_equal(c->tls_key, "/srv/key.pem");
	assert_int_equal(c->naliases, 2);
	assert_string_equal(c->aliases[0].from, "postmaster@example.org");
	assert_int_equal(c->aliases[0].to.n, 2);
	assert_string_equal(c->aliases[0].to.v[0], "alice@example.org");
	assert_string_equal(c->aliases[0].to.v[1], "bob@example.net");
	assert_string_equal(c->aliases[1].from, "@example.net");
	assert_int_equal(c->aliases[1].to.n, 1);
	assert_string_equal(c->aliases[1].to.v[0], "carol@example.org");
	assert_string_equal(c->smarthost.host, "smtp.relay.test");
	assert_int_equal(c->smarthost.port, 2465);
	assert_string_equal(c->smarthost.tls, "tls");
	assert_string_equal(c->smarthost.username, "u");
	assert_string_equal(c->smarthost.password, "p w");
	assert_int_equal(c->dns_servers.n, 4);
	assert_string_equal(c->dns_servers.v[2], "[::1]:53");
	assert_int_equal(c->smtp_port, 2525);
	assert_string_equal(c->dkim_selector, "s2024");
	assert_string_equal(c->log_level, "debug");
	assert_string_equal(c->log_format, "json");
	assert_true(c->sample);
	assert_int_equal(c->limits.max_message_bytes, 1024);
	assert_int_equal(c->limits.max_connections, 1000000);
	assert_int_equal(c->limits.max_connections_per_ip, 1);
	assert_int_equal(c->limits.smtp_line_bytes, 512);
	assert_int_equal(c->limits.imap_line_bytes, 16777216);
	assert_int_equal(c->limits.output_buffer_bytes, 65536);
	assert_int_equal(c->limits.smtp_timeout_secs, 1);
	assert_int_equal(c->limits.imap_timeout_secs, 86400);
	assert_int_equal(c->limits.login_timeout_secs, 7);
	assert_int_equal(c->limits.shutdown_grace_secs, 0);
	conf_free(&c);
}

static void
test_smarthost_defaults(void **state)
{
	struct conf_error err;
	struct conf *c;

	(void)state;
	c = parse_str(BASE "  \"relay\": {\"smarthost\": {\"host\": \"10.0.0.1\"}, "
	    "\"dns_servers\": []},\n  \"user\": null\n}", &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_string_equal(c->smarthost.host, "10.0.0.1");
	assert_int_equal(c->smarthost.port, 587);
	assert_string_equal(c->smarthost.tls, "starttls");
	assert_null(c->smarthost.username);
	assert_null(c->user);
	conf_free(&c);
}

/* Each class of error: the exact message, position included. */
static const struct {
	const char	*body;	/* line 5 of BASE + body + "\n}" */
	const char	*want;	/* after "/etc/rmail/rmail.json:" */
} error_cases[] = {
	{ "  \"limits\": {\"max_mesage_bytes\": 5}",
	  "5:14: limits.max_mesage_bytes: unknown key \"max_mesage_bytes\" "
	  "(did you mean \"max_message_bytes\"?)" },
	{ "  \"frobnicate\": true",
	  "5:3: frobnicate: unknown key \"frobnicate\"" },
	{ "  \"Hostname\": \"x\"",
	  "5:3: Hostname: unknown key \"Hostname\" (did you mean \"hostname\"?)" },
	{ "  \"limits\": {\"max_message_bytes\": \"50M\"}",
	  "5:35: limits.max_message_bytes: expected an integer, got string" },
	{ "  \"limits\": {\"smtp_timeout_secs\": 1.5}",
	  "5:35: limits.smtp_timeout_secs: expected an integer, got number" },
	{ "  \"limits\": {\"max_message_bytes\": 1023}",
	  "5:35: limits.max_message_bytes: must be between 1024 and 2147483648" },
	{ "  \"log\": {\"format\": \"syslog\"}",
	  "5:21: log.format: invalid log format \"syslog\" (expected \"kv\" or \"json\")" },
	{ "  \"sample\": \"yes\"",
	  "5:13: sample: expected true or false, got string" },
	{ "  \"limits\": {\"shutdown_grace_secs\": -1}",
	  "5:37: limits.shutdown_grace_secs: must be between 0 and 300" },
	{ "  \"limits\": {\"max_connections\": 0}",
	  "5:33: limits.max_connections: must be between 1 and 1000000" },
	{ "  \"listen\": {\"smtp\": [\"0.0.0.0:25\",\n    \"localhost:25\"]}",
	  "6:5: listen.smtp[1]: invalid address \"localhost:25\" "
	  "(expected \"IP:PORT\" or \"[IPV6]:PORT\")" },
	{ "  \"listen\": {\"imaps\": \"0.0.0.0:993\"}",
	  "5:23: listen.imaps: expected an array, got string" },
	{ "  \"listen\": []",
	  "5:13: listen: expected an object, got array" },
	{ "  \"aliases\": {\n    \"abuse@example.org\": \"a@example.com\"}",
	  "6:5: aliases.\"abuse@example.org\": domain \"example.org\" is not "
	  "one of \"domains\"" },
	{ "  \"aliases\": {\"@example.com\": [\"a@example.com\", \"nope\"]}",
	  "5:49: aliases.\"@example.com\"[1]: invalid address \"nope\" "
	  "(expected local@domain)" },
	{ "  \"aliases\": {\"x@example.com\": [\"a@b.c\", \"A@B.C\"]}",
	  "5:42: aliases.\"x@example.com\"[1]: duplicate target \"A@B.C\"" },
	{ "  \"aliases\": {\"x@example.com\": []}",
	  "5:32: aliases.\"x@example.com\": must not be empty" },
	{ "  \"aliases\": {\"x@example.com\": 1}",
	  "5:32: aliases.\"x@example.com\": expected a string or an array of "
	  "strings, got integer" },
	{ "  \"aliases\": {\"not an address\": \"a@b.c\"}",
	  "5:15: aliases.\"not an address\": invalid alias \"not an address\" "
	  "(expected \"local@domain\" or \"@domain\")" },
	{ "  \"aliases\": {\"a@example.com\": \"b@b.c\", \"A@example.com\": \"c@c.c\"}",
	  "5:41: aliases.\"A@example.com\": alias listed twice "
	  "(case does not matter)" },
	{ "  \"data_dir\": \"/x\"",
	  "5:3: data_dir: duplicate key" },
	{ "  \"relay\": {\"smarthost\": {\"port\": 25}}",
	  "5:26: relay.smarthost.host: missing required key" },
	{ "  \"relay\": {\"smarthost\": {\"host\": \"h\", \"username\": \"u\"}}",
	  "5:26: relay.smarthost.password: required when \"username\" is set" },
	{ "  \"relay\": {\"smarthost\": {\"host\": \"h\", \"tls\": \"ssl\"}}",
	  "5:47: relay.smarthost.tls: invalid TLS mode \"ssl\" "
	  "(expected \"starttls\" or \"tls\")" },
	{ "  \"relay\": {\"smarthost\": \"h\"}",
	  "5:26: relay.smarthost: expected an object or null, got string" },
	{ "  \"relay\": {\"dns_servers\": [\"8.8.8.8:99999\"]}",
	  "5:29: relay.dns_servers[0]: invalid DNS server \"8.8.8.8:99999\" "
	  "(expected \"IP\", \"IP:PORT\" or \"[IPV6]:PORT\")" },
	{ "  \"relay\": {\"smtp_port\": 0}",
	  "5:26: relay.smtp_port: must be between 1 and 65535" },
	{ "  \"log\": {\"level\": \"verbose\"}",
	  "5:20: log.level: invalid log level \"verbose\" "
	  "(expected \"debug\", \"info\", \"warn\" or \"error\")" },
	{ "  \"dkim\": {\"selector\": \"\"}",
	  "5:24: dkim.selector: must not be empty" },
	{ "  \"user\": \"-root\"",
	  "5:11: user: invalid user name \"-root\"" },
	{ "  \"tls\": {\"cert\": 1}",
	  "5:19: tls.cert: expected a string, got integer" },
	/* Columns count characters, not bytes; escapes are decoded. */
	{ "  \"dkim\": {\"selector\": \"s\"}, \"\xc3\xa9t\xc3\xa9\": 1, "
	  "\"\\u0066rob\": 2",
	  "5:30: \"\xc3\xa9t\xc3\xa9\": unknown key \"\xc3\xa9t\xc3\xa9\"" },
	{ "  \"limits\": {\"smtp_line_bytes\": 100}, \"\\u0066rob\": 2",
	  "5:33: limits.smtp_line_bytes: must be between 512 and 1048576" },
	{ "  \"log\": {}, \"\\u0066rob\": 2",
	  "5:14: frob: unknown key \"frob\"" },
	{ "  \"log\": {\"level\": \"info\"}, \"\\u006cog\": {}",
	  "5:29: log: duplicate key" },
	{ "  \"listen\": {\"smtp\": [\"1.2.3.4:25\"], \"smtp\": []}",
	  "5:38: listen.smtp: duplicate key" },
	{ "  \"limits\": {\"max_message_bytes\": 1024,,}",
	  "5:40: invalid JSON: string or '}' expected near ','" },
};

static void
test_errors(void **state)
{
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(error_cases); i++) {
		struct conf_error err;
		struct conf *c;
		char *text, *want;

		text = xasprintf("%s%s\n}\n", BASE, error_cases[i].body);
		want = xasprintf("/etc/rmail/rmail.json:%s", error_cases[i].want);
		c = parse_str(text, &err);
		if (c != NULL) {
			print_error("case %zu accepted: %s\n", i, error_cases[i].body);
			conf_free(&c);
			failed++;
		} else if (strcmp(err.msg, want) != 0) {
			print_error("case %zu:\n got  %s\n want %s\n", i, err.msg,
			    want);
			failed++;
		}
		free(text);
		free(want);
	}
	assert_int_equal(failed, 0);
}

/* Errors that need a text of their own. */
static const struct {
	const char	*text;
	const char	*want;
} raw_cases[] = {
	{ "{\n  \"hostname\": \"h\",\n  \"domains\": [\"example.com\"]\n}",
	  "t.json:1:1: data_dir: missing required key" },
	{ "\n  {\"data_dir\": \"/d\", \"domains\": [\"example.com\"]}",
	  "t.json:2:3: hostname: missing required key" },
	{ "{\"hostname\": \"h\", \"data_dir\": \"d\", \"domains\": []}",
	  "t.json:1:47: domains: must not be empty" },
	{ "{\"hostname\": \"h\", \"data_dir\": \"d\", \"domains\": [\"a.b\", \"A.B.\"]}",
	  "t.json:1:55: domains[1]: listed twice" },
	{ "{\"hostname\": \"h\", \"data_dir\": \"d\", \"domains\": [\"a..b\"]}",
	  "t.json:1:48: domains[0]: invalid domain \"a..b\" "
	  "(letters, digits, '-' and '.')" },
	{ "{\"hostname\": \"mail_x\", \"data_dir\": \"d\", \"domains\": [\"a.b\"]}",
	  "t.json:1:14: hostname: invalid hostname \"mail_x\" "
	  "(letters, digits, '-' and '.')" },
	{ "{\"hostname\": \"h\", \"data_dir\": \"\", \"domains\": [\"a.b\"]}",
	  "t.json:1:31: data_dir: must not be empty" },
	{ "[1, 2]", "t.json:1:1: (top): expected an object, got array" },
	{ "", "t.json:1:1: invalid JSON: '[' or '{' expected near end of file" },
	{ "{\n  \"hostname\": \"h\",\n  \"domains\": [\"a.b\"]\n  \"data_dir\": \"d\"\n}",
	  "t.json:4:12: invalid JSON: '}' expected near '\"data_dir\"'" },
	{ "{\"a\": {\"b\": [{\"c\": 1, \"c\": 2}]}}",
	  "t.json:1:23: a.b[0].c: duplicate key" },
};

static void
test_raw_errors(void **state)
{
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(raw_cases); i++) {
		struct conf_error err;
		struct conf *c;

		c = conf_parse("t.json", raw_cases[i].text, strlen(raw_cases[i].text),
		    &err);
		if (c != NULL) {
			print_error("raw case %zu accepted\n", i);
			conf_free(&c);
			failed++;
		} else if (strcmp(err.msg, raw_cases[i].want) != 0) {
			print_error("raw case %zu:\n got  %s\n want %s\n", i,
			    err.msg, raw_cases[i].want);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void
test_load_relative_paths(void **state)
{
	char tmpl[] = "/tmp/rmail-test-config-XXXXXX";
	char *dir, *real, *path, *want;
	struct conf_error err;
	struct conf *c;
	const char *text = "{\"hostname\": \"h\", \"domains\": [\"a.b\"],\n"
	    " \"data_dir\": \"data\", \"users_file\": \"./etc/u.json\",\n"
	    " \"tls\": {\"cert\": \"../c.pem\"}}\n";

	(void)state;
	assert_non_null(dir = mkdtemp(tmpl));
	real = realpath(dir, NULL);
	path = xasprintf("%s/rmail.json", dir);
	assert_int_equal(fsio_write_atomic(path, text, strlen(text), 0600), 0);

	c = conf_load(path, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	want = xasprintf("%s/rmail.json", real);
	assert_string_equal(c->path, want);
	free(want);
	want = xasprintf("%s/data", real);
	assert_string_equal(c->data_dir, want);
	free(want);
	want = xasprintf("%s/etc/u.json", real);
	assert_string_equal(c->users_file, want);
	free(want);
	want = xasprintf("%s/../c.pem", real);
	assert_string_equal(c->tls_cert, want);
	free(want);
	want = xasprintf("%s/tls/privkey.pem", real);
	assert_string_equal(c->tls_key, want);
	free(want);
	conf_free(&c);

	/* A relative config path resolves against the working directory. */
	c = conf_parse("sub/r.json", text, strlen(text), &err);
	assert_non_null(c);
	assert_true(c->path[0] == '/');
	assert_non_null(strstr(c->data_dir, "/sub/data"));
	conf_free(&c);

	assert_int_equal(unlink(path), 0);
	c = conf_load(path, &err);
	assert_null(c);
	want = xasprintf("%s: cannot read: %s", path, strerror(ENOENT));
	assert_string_equal(err.msg, want);
	free(want);
	assert_int_equal(rmdir(dir), 0);
	free(path);
	free(real);
}

static void
test_load_error_names_file_as_given(void **state)
{
	char tmpl[] = "/tmp/rmail-test-config-XXXXXX";
	struct conf_error err;
	char *dir, *path;

	(void)state;
	assert_non_null(dir = mkdtemp(tmpl));
	path = xasprintf("%s/bad.json", dir);
	assert_int_equal(fsio_write_atomic(path, "{\n  \"x\": 1,\n}", 13, 0600), 0);
	assert_null(conf_load(path, &err));
	assert_true(strncmp(err.msg, path, strlen(path)) == 0);
	assert_string_equal(err.msg + strlen(path),
	    ":3:1: invalid JSON: string or '}' expected near '}'");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(path);
}

static void
test_names(void **state)
{
	static const struct {
		const char	*s;
		bool		 host;
		bool		 addr;
	} t[] = {
		{ "example.com", true, false },
		{ "a-b.c0", true, false },
		{ "localhost", true, false },
		{ "-a.com", false, false },
		{ "a-.com", false, false },
		{ "a..com", false, false },
		{ "a.com.", false, false },
		{ "", false, false },
		{ "a_b.com", false, false },
		{ "alice@example.com", false, true },
		{ "a.b+tag@example.com", false, true },
		{ "@example.com", false, false },
		{ "alice@", false, false },
		{ ".a@example.com", false, false },
		{ "a.@example.com", false, false },
		{ "a..b@example.com", false, false },
		{ "a b@example.com", false, false },
		{ "a/b@example.com", false, false },
		{ "a@b@example.com", false, false },
		{ "a\x01@example.com", false, false },
	};

	(void)state;
	for (size_t i = 0; i < NELEM(t); i++) {
		if (conf_valid_hostname(t[i].s) != t[i].host)
			fail_msg("hostname %zu \"%s\"", i, t[i].s);
		if (conf_valid_address(t[i].s) != t[i].addr)
			fail_msg("address %zu \"%s\"", i, t[i].s);
	}
	{
		char label[70], addr[300];

		/* Labels of up to 63 bytes; local parts of up to 64. */
		memset(label, 'a', 64);
		label[64] = '\0';
		assert_false(conf_valid_hostname(label));
		snprintf(addr, sizeof(addr), "%s@example.com", label);
		assert_true(conf_valid_address(addr));
		snprintf(addr, sizeof(addr), "%sa@example.com", label);
		assert_false(conf_valid_address(addr));
		label[63] = '\0';
		assert_true(conf_valid_hostname(label));
	}
}

static void
test_misc(void **state)
{
	(void)state;
	assert_string_equal(conf_service_name(CONF_SVC_SMTP), "smtp");
	assert_string_equal(conf_service_name(CONF_SVC_SUBMISSION), "submission");
	assert_string_equal(conf_service_name(CONF_SVC_SUBMISSIONS), "submissions");
	assert_string_equal(conf_service_name(CONF_SVC_IMAP), "imap");
	assert_string_equal(conf_service_name(CONF_SVC_IMAPS), "imaps");

	assert_int_equal(unsetenv("RMAIL_CONFIG"), 0);
	assert_string_equal(conf_default_path("/a.json"), "/a.json");
	assert_string_equal(conf_default_path(NULL), "/etc/rmail/rmail.json");
	assert_int_equal(setenv("RMAIL_CONFIG", "/env.json", 1), 0);
	assert_string_equal(conf_default_path(NULL), "/env.json");
	assert_string_equal(conf_default_path("/a.json"), "/a.json");
	assert_int_equal(unsetenv("RMAIL_CONFIG"), 0);

	/* A NULL error pointer is allowed. */
	assert_null(conf_parse("x.json", "{", 1, NULL));
}

/* relay.retry: defaults, values, and each error. */
static const struct {
	const char	*body;	/* line 5 of BASE + body + "\n}" */
	const char	*want;	/* after "/etc/rmail/rmail.json:" */
} retry_error_cases[] = {
	{ "  \"relay\": {\"retry\": {\"schedule_secs\": []}}",
	  "5:40: relay.retry.schedule_secs: must not be empty" },
	{ "  \"relay\": {\"retry\": {\"schedule_secs\": [60, 0]}}",
	  "5:45: relay.retry.schedule_secs[1]: must be between 1 and 86400" },
	{ "  \"relay\": {\"retry\": {\"schedule_secs\": [86401]}}",
	  "5:41: relay.retry.schedule_secs[0]: must be between 1 and 86400" },
	{ "  \"relay\": {\"retry\": {\"schedule_secs\": [\"5m\"]}}",
	  "5:41: relay.retry.schedule_secs[0]: expected an integer, got string" },
	{ "  \"relay\": {\"retry\": {\"schedule_secs\": 300}}",
	  "5:40: relay.retry.schedule_secs: expected an array, got integer" },
	{ "  \"relay\": {\"retry\": {\"schedule_secs\": [1,1,1,1,1,1,1,1,1,1,1,1,"
	  "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
	  "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}}",
	  "5:40: relay.retry.schedule_secs: must have at most 64 entries" },
	{ "  \"relay\": {\"retry\": {\"max_age_secs\": 59}}",
	  "5:39: relay.retry.max_age_secs: must be between 60 and 2592000" },
	{ "  \"relay\": {\"retry\": {\"max_age_secs\": 2592001}}",
	  "5:39: relay.retry.max_age_secs: must be between 60 and 2592000" },
	{ "  \"relay\": {\"retry\": {\"delay_notice_secs\": -1}}",
	  "5:44: relay.retry.delay_notice_secs: must be between 0 and 2592000" },
	/* The notice must come before expiry, in either key order. */
	{ "  \"relay\": {\"retry\": {\"delay_notice_secs\": 3600, "
	  "\"max_age_secs\": 3600}}",
	  "5:44: relay.retry.delay_notice_secs: must be less than max_age_secs "
	  "(3600), or 0 for no notice" },
	{ "  \"relay\": {\"retry\": {\"max_age_secs\": 600, "
	  "\"delay_notice_secs\": 900}}",
	  "5:65: relay.retry.delay_notice_secs: must be less than max_age_secs "
	  "(600), or 0 for no notice" },
	{ "  \"relay\": {\"retry\": {\"delay_notice_secs\": 432000}}",
	  "5:44: relay.retry.delay_notice_secs: must be less than max_age_secs "
	  "(432000), or 0 for no notice" },
	{ "  \"relay\": {\"retry\": {\"max_age_sec\": 600}}",
	  "5:23: relay.retry.max_age_sec: unknown key \"max_age_sec\" "
	  "(did you mean \"max_age_secs\"?)" },
	{ "  \"relay\": {\"retry\": [300]}",
	  "5:22: relay.retry: expected an object, got array" },
};

static void
test_relay_retry(void **state)
{
	struct conf_error err;
	struct conf *c;
	int failed = 0;

	(void)state;
	c = parse_str(BASE "  \"user\": null\n}", &err);
	assert_non_null(c);
	assert_int_equal(c->retry.nschedule, 6);
	assert_int_equal(c->retry.schedule_secs[0], 300);
	assert_int_equal(c->retry.schedule_secs[1], 600);
	assert_int_equal(c->retry.schedule_secs[2], 1200);
	assert_int_equal(c->retry.schedule_secs[3], 2400);
	assert_int_equal(c->retry.schedule_secs[4], 3600);
	assert_int_equal(c->retry.schedule_secs[5], 7200);
	assert_int_equal(c->retry.max_age_secs, 432000);
	assert_int_equal(c->retry.delay_notice_secs, 0);
	conf_free(&c);

	c = parse_str(BASE "  \"relay\": {\"retry\": {\"schedule_secs\": "
	    "[86400, 1, 30], \"max_age_secs\": 2592000, "
	    "\"delay_notice_secs\": 2591999}}\n}", &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(c->retry.nschedule, 3);
	assert_int_equal(c->retry.schedule_secs[0], 86400);
	assert_int_equal(c->retry.schedule_secs[1], 1);
	assert_int_equal(c->retry.schedule_secs[2], 30);
	assert_int_equal(c->retry.max_age_secs, 2592000);
	assert_int_equal(c->retry.delay_notice_secs, 2591999);
	conf_free(&c);

	/* Only some keys: the others keep their defaults. */
	c = parse_str(BASE "  \"relay\": {\"retry\": {\"max_age_secs\": 60, "
	    "\"delay_notice_secs\": 0}}\n}", &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(c->retry.nschedule, 6);
	assert_int_equal(c->retry.max_age_secs, 60);
	conf_free(&c);

	for (size_t i = 0; i < NELEM(retry_error_cases); i++) {
		char *text, *want;

		text = xasprintf("%s%s\n}\n", BASE, retry_error_cases[i].body);
		want = xasprintf("/etc/rmail/rmail.json:%s",
		    retry_error_cases[i].want);
		c = parse_str(text, &err);
		if (c != NULL) {
			print_error("retry case %zu accepted: %s\n", i,
			    retry_error_cases[i].body);
			conf_free(&c);
			failed++;
		} else if (strcmp(err.msg, want) != 0) {
			print_error("retry case %zu:\n got  %s\n want %s\n", i,
			    err.msg, want);
			failed++;
		}
		free(text);
		free(want);
	}
	assert_int_equal(failed, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_smarthost_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_raw_errors),
		cmocka_unit_test(test_load_relative_paths),
		cmocka_unit_test(test_load_error_names_file_as_given),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_misc),
		cmocka_unit_test(test_relay_retry),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
