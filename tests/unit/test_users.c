/* Unit tests: config/users (hashes, load/save, lookups). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/users.h"
#include "core/fsio.h"
#include "core/util.h"
#include "tests/unit/tmpdir.h"

/* The minimum is legal and keeps the tests fast. */
#define ITER	USERS_MIN_ITERATIONS

/* A hash of "secret" with 100000 iterations and a zero salt. */
#define GOOD	"$pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$" \
		"uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8="

static int
setup_tmp(void **state)
{
	return tmp_setup(state, "users.json");
}

static int
teardown_tmp(void **state)
{
	return tmp_teardown(state);
}

static void
write_file(const char *path, const char *text)
{
	assert_int_equal(fsio_write_atomic(path, text, strlen(text), 0600), 0);
}

static void
test_hash_roundtrip(void **state)
{
	char h1[USERS_HASH_MAX], h2[USERS_HASH_MAX];

	(void)state;
	assert_int_equal(users_hash_password("correct horse", ITER, h1, sizeof(h1)), 0);
	assert_int_equal(strncmp(h1, "$pbkdf2-sha256$100000$", 22), 0);
	assert_int_equal(strlen(h1), 22 + 24 + 1 + 44);
	assert_true(users_verify_hash(h1, "correct horse"));
	assert_false(users_verify_hash(h1, "correct horsE"));
	assert_false(users_verify_hash(h1, ""));
	assert_false(users_verify_hash(h1, NULL));
	/* A fresh salt every time. */
	assert_int_equal(users_hash_password("correct horse", ITER, h2, sizeof(h2)), 0);
	assert_string_not_equal(h1, h2);
	assert_true(users_verify_hash(h2, "correct horse"));
	/* A known vector pins the encoding. */
	assert_true(users_verify_hash(GOOD, "secret"));
	assert_false(users_verify_hash(GOOD, "Secret"));

	assert_int_equal(users_hash_password("x", ITER - 1, h1, sizeof(h1)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(users_hash_password("x", ITER, h1, 40), -1);
	assert_int_equal(errno, ERANGE);
}

static void
test_malformed_hashes(void **state)
{
	static const char *const bad[] = {
		"",
		"$pbkdf2-sha256$",
		"$pbkdf2-sha1$100000$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=",
		"$pbkdf2-sha256$$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=",
		"$pbkdf2-sha256$1e5$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=",
		"$pbkdf2-sha256$0100000$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=",
		/* below the minimum, above the maximum */
		"$pbkdf2-sha256$99999$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=",
		"$pbkdf2-sha256$10000001$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=",
		"$pbkdf2-sha256$999999999999$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=",
		/* salt: short, long, unpadded, bad character, stray low bits */
		"$pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAA$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=",
		"$pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAAAA$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=",
		"$pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=",
		"$pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAA*A==$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=",
		"$pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAB==$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=",
		/* hash: truncated, unpadded, stray low bits, whitespace */
		"$pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kY",
		"$pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8",
		"$pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf9=",
		"$pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8= ",
		/* extra field, missing field */
		"$pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$"
		    "uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=$",
		"$pbkdf2-sha256$100000$uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=",
		"secret",
	};

	(void)state;
	for (size_t i = 0; i < NELEM(bad); i++)
		if (users_verify_hash(bad[i], "secret"))
			fail_msg("malformed hash %zu verified", i);
	assert_false(users_verify_hash(NULL, "secret"));
}

static void
test_dummy_hash(void **state)
{
	const char *d;

	(void)state;
	d = users_dummy_hash();
	assert_non_null(d);
	assert_int_equal(strncmp(d, "$pbkdf2-sha256$600000$", 22), 0);
	assert_ptr_equal(users_dummy_hash(), d);
	assert_false(users_verify_hash(d, ""));
}

static void
test_missing_file_is_empty(void **state)
{
	struct tmp *t = *state;
	struct users *u;
	char err[1024];

	u = users_load(t->path, err, sizeof(err));
	assert_non_null(u);
	assert_int_equal(users_count(u), 0);
	assert_null(users_at(u, 0));
	assert_null(users_find(u, "a@b.c"));
	users_free(&u);
	assert_null(u);
}

static void
test_set_save_load(void **state)
{
	struct tmp *t = *state;
	const struct user *e;
	struct users *u;
	struct stat st;
	char err[1024], *text, *edited;
	size_t len;

	(void)state;
	u = users_new_empty();
	assert_int_equal(users_set(u, "Alice@Example.COM", "pw1", ITER, err,
	    sizeof(err)), 0);
	assert_int_equal(users_set(u, "bob@example.com", "pw2", ITER, err,
	    sizeof(err)), 0);
	assert_int_equal(users_count(u), 2);
	assert_string_equal(users_at(u, 0)->address, "alice@example.com");
	/* Replacing keeps the position and changes the password. */
	assert_int_equal(users_set(u, "ALICE@example.com", "pw3", ITER, err,
	    sizeof(err)), 0);
	assert_int_equal(users_count(u), 2);
	e = users_find(u, "alice@EXAMPLE.com");
	assert_ptr_equal(e, users_at(u, 0));
	assert_true(users_verify_hash(e->password, "pw3"));
	assert_false(users_verify_hash(e->password, "pw1"));
	assert_int_equal(users_save(u, t->path), 0);
	users_free(&u);

	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	text = fsio_read_file(t->path, 1 << 20, &len);
	assert_non_null(text);
	assert_int_equal(strncmp(text, "{\n  \"version\": 1,\n  \"users\": [\n", 31), 0);
	assert_int_equal(text[len - 1], '\n');

	/* Quotas survive a round trip through the file. */
	edited = xstrdup(text);
	{
		char *q = strstr(edited, "\"quota_bytes\": 0");

		assert_non_null(q);
		memcpy(q, "\"quota_bytes\": 7", 16);
		q = strstr(edited, "\"quota_messages\": 0");
		memcpy(q, "\"quota_messages\": 9", 19);
	}
	write_file(t->path, edited);
	u = users_load(t->path, err, sizeof(err));
	if (u == NULL)
		fail_msg("%s", err);
	assert_int_equal(users_count(u), 2);
	e = users_find(u, "Alice@example.com");
	assert_non_null(e);
	assert_int_equal(e->quota_bytes, 7);
	assert_int_equal(e->quota_messages, 9);
	assert_true(users_verify_hash(e->password, "pw3"));
	e = users_find(u, "bob@example.com");
	assert_int_equal(e->quota_bytes, 0);
	assert_true(users_verify_hash(e->password, "pw2"));

	/* Save what was loaded: the same bytes. */
	assert_int_equal(users_save(u, t->path), 0);
	free(text);
	text = fsio_read_file(t->path, 1 << 20, &len);
	assert_string_equal(text, edited);

	assert_int_equal(users_del(u, "BOB@example.com"), 0);
	assert_int_equal(users_del(u, "bob@example.com"), -1);
	assert_int_equal(users_count(u), 1);
	assert_null(users_find(u, "bob@example.com"));
	assert_non_null(users_find(u, "alice@example.com"));
	assert_int_equal(users_del(u, "alice@example.com"), 0);
	assert_int_equal(users_count(u), 0);
	users_free(&u);
	free(text);
	free(edited);
}

static void
test_set_refused(void **state)
{
	static const char *const bad[] = {
		"alice", "@example.com", "alice@", "a b@example.com",
		"a\tb@example.com", "a/b@example.com", "alice@exa mple.com",
		"alice@-example.com", "",
	};
	struct users *u = users_new_empty();
	char err[256], longaddr[300];

	(void)state;
	for (size_t i = 0; i < NELEM(bad); i++) {
		err[0] = '\0';
		if (users_set(u, bad[i], "pw", ITER, err, sizeof(err)) != -1)
			fail_msg("address %zu accepted", i);
		assert_non_null(strstr(err, "invalid address"));
	}
	memset(longaddr, 'a', 250);
	memcpy(longaddr + 250, "@b.c", 5);
	assert_int_equal(users_set(u, longaddr, "pw", ITER, err, sizeof(err)), -1);
	assert_int_equal(users_set(u, "a@b.c", "pw", ITER - 1, err, sizeof(err)), -1);
	assert_string_equal(err, "iteration count 99999 is outside 100000..10000000");
	assert_int_equal(users_count(u), 0);
	users_free(&u);
}

/* Files users_load refuses, and what it says (after "PATH:"). */
static const struct {
	const char	*text;
	const char	*want;
} load_errors[] = {
	{ "{\"version\": 1, \"users\": [\n"
	  "  {\"address\": \"a@b.c\", \"password\": \"$pbkdf2-sha256$1000$"
	  "AAAAAAAAAAAAAAAAAAAAAA==$uLzr8VOIfPgKJMy5y/LISltaQC6CRENEAMIiT8kYtf8=\"}]}",
	  "2:36: users[0].password: iteration count 1000 is below the minimum 100000" },
	{ "{\"version\": 1, \"users\": [\n"
	  "  {\"address\": \"a@b.c\", \"password\": \"" GOOD "\"},\n"
	  "  {\"address\": \"A@B.C\", \"password\": \"" GOOD "\"}]}",
	  "3:15: users[1].address: duplicate address \"a@b.c\" (also users[0])" },
	{ "{\"version\": 1, \"users\": [{\"address\": \"a@b.c\", \"password\": \"x\"}]}",
	  "1:59: users[0].password: not a password hash "
	  "(expected \"$pbkdf2-sha256$ITERATIONS$SALT$HASH\")" },
	{ "{\"version\": 1, \"users\": [{\"address\": \"a b@c\", \"password\": \"x\"}]}",
	  "1:38: users[0].address: invalid address \"a b@c\" (expected local@domain)" },
	{ "{\"version\": 1, \"users\": [{\"address\": \"a@b.c\"}]}",
	  "1:26: users[0].password: missing required key" },
	{ "{\"version\": 1, \"users\": [{\"adress\": \"a@b.c\"}]}",
	  "1:27: users[0].adress: unknown key \"adress\" (did you mean \"address\"?)" },
	{ "{\"version\": 1, \"users\": [{\"address\": \"a@b.c\", \"password\": \""
	  GOOD "\", \"quota_bytes\": -1}]}",
	  "1:169: users[0].quota_bytes: must not be negative" },
	{ "{\"version\": 2, \"users\": []}",
	  "1:13: version: unsupported version 2 (expected 1)" },
	{ "{\"users\": []}",
	  "1:1: version: missing required key" },
	{ "{\"version\": 1, \"users\": {}}",
	  "1:25: users: expected an array, got object" },
	{ "{\"version\": 1, \"users\": [}",
	  "1:26: invalid JSON: unexpected token near '}'" },
};

static void
test_load_errors(void **state)
{
	struct tmp *t = *state;
	int failed = 0;

	for (size_t i = 0; i < NELEM(load_errors); i++) {
		struct users *u;
		char err[1024], *want;

		write_file(t->path, load_errors[i].text);
		want = xasprintf("%s:%s", t->path, load_errors[i].want);
		u = users_load(t->path, err, sizeof(err));
		if (u != NULL) {
			print_error("case %zu accepted\n", i);
			users_free(&u);
			failed++;
		} else if (strcmp(err, want) != 0) {
			print_error("case %zu:\n got  %s\n want %s\n", i, err, want);
			failed++;
		}
		free(want);
	}
	assert_int_equal(failed, 0);
}

static void
test_unreadable(void **state)
{
	struct tmp *t = *state;
	char err[1024], *want;

	/* A directory where the file should be. */
	assert_int_equal(mkdir(t->path, 0700), 0);
	assert_null(users_load(t->path, err, sizeof(err)));
	want = xasprintf("%s: cannot read: %s", t->path, strerror(EISDIR));
	if (strcmp(err, want) != 0) {
		/* Some systems fail the read, not the open: same form. */
		assert_int_equal(strncmp(err, want, strlen(t->path) + 15), 0);
	}
	free(want);
	assert_int_equal(rmdir(t->path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_roundtrip),
		cmocka_unit_test(test_malformed_hashes),
		cmocka_unit_test(test_dummy_hash),
		cmocka_unit_test_setup_teardown(test_missing_file_is_empty,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_set_save_load,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test(test_set_refused),
		cmocka_unit_test_setup_teardown(test_load_errors,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_unreadable,
		    setup_tmp, teardown_tmp),
	};

	return cmocka_run_group_tests_name("users", tests, NULL, NULL);
}
