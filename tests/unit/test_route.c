/* Unit tests: relay/route (recipient resolution, relay tricks, send-as). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/users.h"
#include "relay/route.h"

struct fix {
	struct conf	*conf;
	struct users	*users;
};

static int
setup(void **state)
{
	static const char text[] =
	    "{\"hostname\": \"mail.example.com\","
	    " \"domains\": [\"example.com\", \"example.org\"],"
	    " \"data_dir\": \"/var/lib/rmail\","
	    " \"aliases\": {"
	    "   \"postmaster@example.com\": \"alice@example.com\","
	    "   \"team@example.com\": [\"alice@example.com\", \"bob@example.com\"],"
	    "   \"fwd@example.com\": [\"someone@remote.test\", \"bob@example.com\"],"
	    "   \"chain@example.com\": \"team@example.com\","
	    "   \"loop1@example.com\": \"loop2@example.com\","
	    "   \"loop2@example.com\": [\"loop1@example.com\", \"bob@example.com\"],"
	    "   \"ghost@example.com\": \"nobody@example.com\","
	    "   \"@example.org\": \"bob@example.com\""
	    " }}";
	struct fix		*f = calloc(1, sizeof(*f));
	struct conf_error	 cerr;
	char			 err[256];

	f->conf = conf_parse("/etc/rmail/rmail.json", text, strlen(text), &cerr);
	if (f->conf == NULL) {
		fprintf(stderr, "%s\n", cerr.msg);
		return -1;
	}
	f->users = users_new_empty();
	if (users_set(f->users, "alice@example.com", "pw", 100000, err,
	    sizeof(err)) == -1 || users_set(f->users, "bob@example.com", "pw",
	    100000, err, sizeof(err)) == -1 || users_set(f->users,
	    "carol@example.org", "pw", 100000, err, sizeof(err)) == -1)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	conf_free(&f->conf);
	users_free(&f->users);
	free(f);
	return 0;
}

static void
check_norm(const char *in, const char *want)
{
	char *out = route_normalize(in);

	if (want == NULL) {
		if (out != NULL)
			fail_msg("%s normalised to %s, wanted refusal", in, out);
		return;
	}
	assert_non_null(out);
	assert_string_equal(out, want);
	free(out);
}

static void
test_normalize(void **state)
{
	(void)state;
	check_norm("Alice@Example.COM", "Alice@example.com");
	check_norm("alice@example.com.", "alice@example.com");
	check_norm("@relay.test,@other.test:bob@Remote.Test", "bob@remote.test");
	check_norm("\"a b\"@example.com", "\"a b\"@example.com");
	check_norm("x@[192.0.2.1]", "x@[192.0.2.1]");
	check_norm("jos\xc3\xa9@ex\xc3\xa4mple.com", "jos\xc3\xa9@ex\xc3\xa4mple.com");
	check_norm("", NULL);
	check_norm("alice", NULL);
	check_norm("@example.com", NULL);
	check_norm("alice@", NULL);
	check_norm("a b@example.com", NULL);
	check_norm("a\r\nb@example.com", NULL);
	check_norm("alice@exa mple.com", NULL);
	check_norm("alice@-bad.com", NULL);
	check_norm("alice@bad..com", NULL);
	check_norm("@relay.test", NULL);
	check_norm("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "@example.com", NULL);	/* 65-byte local part */
	/* Found by tests/fuzz/fuzz_smtp_cmd (regress/smtp_cmd/
	 * normalize-twice): a second source route came out as the local
	 * part "@b:c", which a later normalisation stripped again. Specials
	 * outside quotes are refused; inside quotes they stay. */
	check_norm("@a.test:@b.test:c@example.com", NULL);
	check_norm("@b.test:c@example.com", "c@example.com");
	check_norm("a@b@example.com", NULL);
	check_norm("a<b@example.com", NULL);
	check_norm("a,b@example.com", NULL);
	check_norm("a:b@example.com", NULL);
	check_norm("a\\b@example.com", NULL);
	check_norm("a\"b@example.com", NULL);
	check_norm("(x)a@example.com", NULL);
	check_norm("\"@a:b,c<d>\"@example.com", "\"@a:b,c<d>\"@example.com");
	check_norm("first.last+tag!%&'*=?^_`{|}~-@Example.com",
	    "first.last+tag!%&'*=?^_`{|}~-@example.com");
}

/* Resolve rcpt alone; the targets as "addr,addr" with R: for remote. */
static enum route_status
resolve(struct fix *f, const char *rcpt, char *buf, size_t len)
{
	struct route_list	 l = { NULL, 0 };
	enum route_status	 st;

	st = route_resolve(f->conf, f->users, rcpt, &l);
	buf[0] = '\0';
	for (size_t i = 0; i < l.n; i++) {
		if (i > 0)
			strncat(buf, ",", len - strlen(buf) - 1);
		if (!l.v[i].local)
			strncat(buf, "R:", len - strlen(buf) - 1);
		strncat(buf, l.v[i].addr, len - strlen(buf) - 1);
	}
	route_list_clear(&l);
	return st;
}

static void
test_resolve(void **state)
{
	struct fix	*f = *state;
	char		 t[512];

	assert_int_equal(resolve(f, "alice@example.com", t, sizeof(t)), ROUTE_OK);
	assert_string_equal(t, "alice@example.com");
	/* Case and the trailing dot of the domain do not matter. */
	assert_int_equal(resolve(f, "ALICE@Example.Com.", t, sizeof(t)), ROUTE_OK);
	assert_string_equal(t, "alice@example.com");
	assert_int_equal(resolve(f, "postmaster@example.com", t, sizeof(t)),
	    ROUTE_OK);
	assert_string_equal(t, "alice@example.com");
	assert_int_equal(resolve(f, "team@example.com", t, sizeof(t)), ROUTE_OK);
	assert_string_equal(t, "alice@example.com,bob@example.com");
	/* An alias naming an alias. */
	assert_int_equal(resolve(f, "chain@example.com", t, sizeof(t)), ROUTE_OK);
	assert_string_equal(t, "alice@example.com,bob@example.com");
	/* Forwarding out, plus a local copy. */
	assert_int_equal(resolve(f, "fwd@example.com", t, sizeof(t)), ROUTE_OK);
	assert_string_equal(t, "R:someone@remote.test,bob@example.com");
	/* A loop is cut; what it reaches still counts. */
	assert_int_equal(resolve(f, "loop1@example.com", t, sizeof(t)), ROUTE_OK);
	assert_string_equal(t, "bob@example.com");
	/* Subaddressing. */
	assert_int_equal(resolve(f, "alice+lists@example.com", t, sizeof(t)),
	    ROUTE_OK);
	assert_string_equal(t, "alice@example.com");
	assert_int_equal(resolve(f, "team+x@example.com", t, sizeof(t)), ROUTE_OK);
	assert_string_equal(t, "alice@example.com,bob@example.com");
	/* Catch-all for example.org, after its users. */
	assert_int_equal(resolve(f, "carol@example.org", t, sizeof(t)), ROUTE_OK);
	assert_string_equal(t, "carol@example.org");
	assert_int_equal(resolve(f, "anything@example.org", t, sizeof(t)),
	    ROUTE_OK);
	assert_string_equal(t, "bob@example.com");
	/* Unknown: no user, no alias, or an alias to nobody. */
	assert_int_equal(resolve(f, "nobody@example.com", t, sizeof(t)),
	    ROUTE_UNKNOWN);
	assert_int_equal(resolve(f, "ghost@example.com", t, sizeof(t)),
	    ROUTE_UNKNOWN);
	assert_int_equal(resolve(f, "+x@example.com", t, sizeof(t)), ROUTE_UNKNOWN);
	/* Elsewhere: remote. */
	assert_int_equal(resolve(f, "Someone@Remote.Test", t, sizeof(t)),
	    ROUTE_REMOTE);
	assert_string_equal(t, "R:Someone@remote.test");
	assert_int_equal(resolve(f, "bad address", t, sizeof(t)), ROUTE_INVALID);
}

/* The open-relay tricks: none may come out as a remote target. */
static void
test_relay_tricks(void **state)
{
	static const char *const tricks[] = {
		"someone%remote.test@example.com",
		"someone!remote.test@example.com",
		"\"someone@remote.test\"@example.com",
		"someone@remote.test@example.com",
		"@example.com:someone%remote.test@example.com",
	};
	struct fix	*f = *state;
	char		 t[512];

	for (size_t i = 0; i < sizeof(tricks) / sizeof(tricks[0]); i++) {
		enum route_status st = resolve(f, tricks[i], t, sizeof(t));

		if (st != ROUTE_UNKNOWN && st != ROUTE_INVALID)
			fail_msg("%s: status %d targets %s", tricks[i], st, t);
	}
	/* A source route is dropped, never followed: the final address
	 * decides (remote here, so only an authenticated user may). */
	assert_int_equal(resolve(f, "@example.com:someone@remote.test", t,
	    sizeof(t)), ROUTE_REMOTE);
	/* At example.org the catch-all takes the trick, locally. */
	assert_int_equal(resolve(f, "someone%remote.test@example.org", t,
	    sizeof(t)), ROUTE_OK);
	assert_string_equal(t, "bob@example.com");
}

static void
test_one_list_per_transaction(void **state)
{
	struct fix		*f = *state;
	struct route_list	 l = { NULL, 0 };

	assert_int_equal(route_resolve(f->conf, f->users, "alice@example.com",
	    &l), ROUTE_OK);
	assert_int_equal(route_resolve(f->conf, f->users, "team@example.com",
	    &l), ROUTE_OK);
	/* A second RCPT reaching the same user adds nothing, still OK. */
	assert_int_equal(route_resolve(f->conf, f->users, "postmaster@example.com",
	    &l), ROUTE_OK);
	assert_int_equal(l.n, 2);
	route_list_clear(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
}

static void
test_may_send_as(void **state)
{
	struct fix *f = *state;

	assert_true(route_may_send_as(f->conf, f->users, "alice@example.com",
	    "alice@example.com"));
	assert_true(route_may_send_as(f->conf, f->users, "alice@example.com",
	    "Alice@Example.COM"));
	assert_true(route_may_send_as(f->conf, f->users, "alice@example.com",
	    "alice+news@example.com"));
	assert_true(route_may_send_as(f->conf, f->users, "alice@example.com",
	    "postmaster@example.com"));
	assert_true(route_may_send_as(f->conf, f->users, "alice@example.com",
	    "team@example.com"));
	assert_true(route_may_send_as(f->conf, f->users, "alice@example.com", ""));
	assert_false(route_may_send_as(f->conf, f->users, "alice@example.com",
	    "bob@example.com"));
	assert_false(route_may_send_as(f->conf, f->users, "alice@example.com",
	    "alice@remote.test"));
	assert_false(route_may_send_as(f->conf, f->users, "alice@example.com",
	    "anything@example.org"));	/* bob's catch-all */
	assert_true(route_may_send_as(f->conf, f->users, "bob@example.com",
	    "anything@example.org"));
	assert_false(route_may_send_as(f->conf, f->users, "bob@example.com",
	    "carol@example.org"));	/* a user, not the catch-all */
	assert_false(route_may_send_as(f->conf, f->users, "alice@example.com",
	    "not an address"));
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		T(test_resolve),
		T(test_relay_tricks),
		T(test_one_list_per_transaction),
		T(test_may_send_as),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
