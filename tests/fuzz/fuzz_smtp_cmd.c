/*
 * fuzz_smtp_cmd: the SMTP command-line parsers (smtp/session.c,
 * smtp/auth.c) and the address parsing behind them (relay/route.c,
 * relay/mx.c domain literals). Each input line is a command as the
 * dispatcher gets it (CRLF removed): the verb is found the dispatcher's
 * way; MAIL FROM:/RCPT TO: paths and parameters are split with the
 * session's own parse_path() and next_param(), the path checked for UTF-8,
 * normalised and resolved against an in-memory config (aliases, a
 * catch-all, two users); HELO/EHLO arguments are checked; AUTH responses
 * are base64-decoded and split as AUTH PLAIN does.
 *
 * The session's static functions are reached by including the two
 * source files here (their objects in the archive are then never linked).
 */
#include "smtp/session.c"
#include "smtp/auth.c"

#include "tests/fuzz/fuzz.h"
#include "config/config.h"
#include "config/users.h"
#include "relay/mx.h"

static struct conf	*fz_conf;
static struct users	*fz_users;

static void
setup(void)
{
	static const char text[] =
	    "{\"hostname\": \"mail.example.com\","
	    " \"domains\": [\"example.com\", \"example.org\"],"
	    " \"data_dir\": \"/nonexistent/data\","
	    " \"aliases\": {"
	    "   \"postmaster@example.com\": \"alice@example.com\","
	    "   \"team@example.com\": [\"alice@example.com\", \"bob@example.com\"],"
	    "   \"fwd@example.com\": [\"someone@remote.test\", \"bob@example.com\"],"
	    "   \"loop1@example.com\": \"loop2@example.com\","
	    "   \"loop2@example.com\": [\"loop1@example.com\", \"bob@example.com\"],"
	    "   \"@example.org\": \"bob@example.com\""
	    " }}";
	struct conf_error cerr;
	char err[256];

	fz_conf = conf_parse("/nonexistent/rmail.json", text, strlen(text),
	    &cerr);
	FUZZ_CHECK(fz_conf != NULL);
	fz_users = users_new_empty();
	FUZZ_CHECK(users_set(fz_users, "alice@example.com", "pw", 100000, err,
	    sizeof(err)) == 0);
	FUZZ_CHECK(users_set(fz_users, "bob@example.com", "pw", 100000, err,
	    sizeof(err)) == 0);
}

static void
do_path(char *args, bool rcpt)
{
	char *path, *params, *key, *val, *norm, *again;
	struct route_list l = { 0 };
	struct sockaddr_storage ss;
	enum route_status st;

	if (parse_path(args, &path, &params) == -1)
		return;
	FUZZ_CHECK(strchr(params, '\0') != NULL);
	while ((key = next_param(&params, &val)) != NULL) {
		/* "=x" gives the key "" (refused as unsupported). */
		FUZZ_CHECK((*key != '\0' || val != NULL) &&
		    strchr(key, ' ') == NULL);
		FUZZ_CHECK(val == NULL || strchr(val, ' ') == NULL);
	}
	if (has_8bit(path))
		(void)utf8_valid(path);
	if ((norm = route_normalize(path)) != NULL) {
		/* Normalising is idempotent. */
		again = route_normalize(norm);
		FUZZ_CHECK(again != NULL && strcmp(again, norm) == 0);
		free(again);
		(void)mx_parse_literal(strrchr(norm, '@') + 1, &ss);
		(void)route_may_send_as(fz_conf, fz_users, "alice@example.com",
		    norm);
		free(norm);
	}
	if (!rcpt)
		return;
	st = route_resolve(fz_conf, fz_users, path, &l);
	FUZZ_CHECK((st == ROUTE_OK || st == ROUTE_REMOTE) == (l.n > 0));
	FUZZ_CHECK(l.n <= ROUTE_MAX_TARGETS);
	for (size_t i = 0; i < l.n; i++)
		FUZZ_CHECK(l.v[i].addr != NULL);
	route_list_clear(&l);
}

static void
do_sasl(const char *b64)
{
	size_t len;
	char *raw = sasl_decode(b64, &len), *user, *pass;

	if (raw == NULL)
		return;
	FUZZ_CHECK(raw[len] == '\0');
	user = memchr(raw, '\0', len);
	pass = user != NULL && (size_t)(user - raw) < len ?
	    memchr(user + 1, '\0', len - (size_t)(user + 1 - raw)) : NULL;
	if (pass != NULL)
		FUZZ_CHECK(pass < raw + len);
	sasl_free(raw, len);
}

static void
do_line(char *line)
{
	size_t vlen = strcspn(line, " ");
	char *args = line[vlen] == ' ' ? line + vlen + 1 : line + vlen;

	while (*args == ' ')
		args++;
	if (vlen == 4 && ascii_ncasecmp(line, "MAIL", 4) == 0) {
		if (ascii_ncasecmp(args, "FROM:", 5) == 0)
			do_path(args + 5, false);
	} else if (vlen == 4 && ascii_ncasecmp(line, "RCPT", 4) == 0) {
		if (ascii_ncasecmp(args, "TO:", 3) == 0)
			do_path(args + 3, true);
	} else if (vlen == 4 && (ascii_ncasecmp(line, "HELO", 4) == 0 ||
	    ascii_ncasecmp(line, "EHLO", 4) == 0)) {
		char *sp = strchr(args, ' ');

		if (sp != NULL)
			*sp = '\0';
		(void)helo_ok(args);
	} else if (vlen == 4 && ascii_ncasecmp(line, "AUTH", 4) == 0) {
		char *sp = strchr(args, ' ');

		if (sp != NULL)
			do_sasl(sp + 1);
	} else {
		do_sasl(line);	/* an AUTH continuation line */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *p, *line;

	if (fz_conf == NULL)
		setup();
	text = fuzz_str(data, size);
	for (p = text; (line = strsep(&p, "\n")) != NULL; ) {
		size_t n = strlen(line);

		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		do_line(line);
	}
	free(text);
	return 0;
}
