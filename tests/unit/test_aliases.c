/* Unit tests: config/aliases (lookup, and edits of the config file). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/aliases.h"
#include "config/config.h"
#include "core/fsio.h"
#include "core/util.h"
#include "tests/unit/tmpdir.h"

static void
test_lookup(void **state)
{
	/* The catch-all comes first: an exact entry must still win. */
	static const char text[] = "{\"hostname\": \"h\", \"data_dir\": \"/d\","
	    " \"domains\": [\"example.com\", \"example.org\"], \"aliases\": {"
	    "\"@example.com\": \"catch@example.org\","
	    " \"PostMaster@example.com\": [\"alice@example.com\", \"bob@example.org\"],"
	    " \"abuse@example.org\": \"Alice@Example.com\"}}";
	struct conf_error err;
	const struct conf_strv *to;
	struct conf *c;

	(void)state;
	c = conf_parse("t.json", text, strlen(text), &err);
	if (c == NULL)
		fail_msg("%s", err.msg);

	to = aliases_lookup(c, "postmaster@example.com");
	assert_non_null(to);
	assert_int_equal(to->n, 2);
	assert_string_equal(to->v[0], "alice@example.com");
	assert_string_equal(to->v[1], "bob@example.org");
	assert_ptr_equal(aliases_lookup(c, "POSTMASTER@Example.COM"), to);

	to = aliases_lookup(c, "anyone@example.com");
	assert_non_null(to);
	assert_int_equal(to->n, 1);
	assert_string_equal(to->v[0], "catch@example.org");
	assert_ptr_equal(aliases_lookup(c, "Anyone@EXAMPLE.COM"), to);

	to = aliases_lookup(c, "abuse@example.org");
	assert_non_null(to);
	assert_string_equal(to->v[0], "alice@example.com");

	/* example.org has no catch-all. */
	assert_null(aliases_lookup(c, "someone@example.org"));
	assert_null(aliases_lookup(c, "postmaster@example.net"));
	assert_null(aliases_lookup(c, "no-at-sign"));
	assert_null(aliases_lookup(c, NULL));
	assert_null(aliases_lookup(NULL, "a@example.com"));
	conf_free(&c);
}

static int
setup_tmp(void **state)
{
	return tmp_setup(state, "rmail.json");
}

static int
teardown_tmp(void **state)
{
	return tmp_teardown(state);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	assert_int_equal(fsio_write_atomic(path, text, strlen(text), mode), 0);
}

static void
assert_file(const char *path, const char *want)
{
	char *got = fsio_read_file(path, 1 << 20, NULL);

	assert_non_null(got);
	if (strcmp(got, want) != 0)
		fail_msg("file differs:\n--- got\n%s--- want\n%s", got, want);
	free(got);
}

/* Entries in dir: an edit must leave no temp file behind. */
static size_t
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

#define HEAD	"{\n" \
		"  \"hostname\": \"mail.example.com\",\n" \
		"  \"domains\": [\n" \
		"    \"example.com\",\n" \
		"    \"example.org\"\n" \
		"  ],\n" \
		"  \"data_dir\": \"/var/lib/rmail\",\n"
#define TAIL	"  \"limits\": {\n" \
		"    \"max_message_bytes\": 1048576\n" \
		"  },\n" \
		"  \"log\": {\n" \
		"    \"level\": \"warn\"\n" \
		"  }\n" \
		"}\n"

static void
test_edit_roundtrip(void **state)
{
	struct tmp *t = *state;
	struct stat st;
	char err[1024];

	/* Compact input: the edit re-indents but keeps every key in order. */
	write_file(t->path, "{\"hostname\": \"mail.example.com\", \"domains\": "
	    "[\"example.com\", \"example.org\"], \"data_dir\": \"/var/lib/rmail\", "
	    "\"aliases\": {\"abuse@example.com\": \"Alice@example.com\"}, "
	    "\"limits\": {\"max_message_bytes\": 1048576}, "
	    "\"log\": {\"level\": \"warn\"}}", 0604);

	/* A second target turns a string into a list. */
	assert_int_equal(aliases_edit_add(t->path, "ABUSE@example.com",
	    "Bob@Example.org", err, sizeof(err)), 0);
	assert_file(t->path, HEAD
	    "  \"aliases\": {\n"
	    "    \"abuse@example.com\": [\n"
	    "      \"Alice@example.com\",\n"
	    "      \"bob@example.org\"\n"
	    "    ]\n"
	    "  },\n" TAIL);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);

	/* New aliases are lower-cased lists, appended in order. */
	assert_int_equal(aliases_edit_add(t->path, "@Example.ORG",
	    "carol@example.com", err, sizeof(err)), 0);
	assert_int_equal(aliases_edit_add(t->path, "postmaster@example.com",
	    "alice@example.com", err, sizeof(err)), 0);
	assert_file(t->path, HEAD
	    "  \"aliases\": {\n"
	    "    \"abuse@example.com\": [\n"
	    "      \"Alice@example.com\",\n"
	    "      \"bob@example.org\"\n"
	    "    ],\n"
	    "    \"@example.org\": [\n"
	    "      \"carol@example.com\"\n"
	    "    ],\n"
	    "    \"postmaster@example.com\": [\n"
	    "      \"alice@example.com\"\n"
	    "    ]\n"
	    "  },\n" TAIL);

	/* Removing targets, then whole aliases, case-insensitively. */
	assert_int_equal(aliases_edit_del(t->path, "abuse@example.com",
	    "ALICE@example.com", err, sizeof(err)), 0);
	assert_int_equal(aliases_edit_del(t->path, "@example.org", NULL, err,
	    sizeof(err)), 0);
	/* The last target takes its alias with it. */
	assert_int_equal(aliases_edit_del(t->path, "Postmaster@example.com",
	    "alice@example.com", err, sizeof(err)), 0);
	assert_file(t->path, HEAD
	    "  \"aliases\": {\n"
	    "    \"abuse@example.com\": [\n"
	    "      \"bob@example.org\"\n"
	    "    ]\n"
	    "  },\n" TAIL);
	assert_int_equal(aliases_edit_del(t->path, "abuse@example.com", NULL,
	    err, sizeof(err)), 0);
	assert_file(t->path, HEAD "  \"aliases\": {},\n" TAIL);
	assert_int_equal(count_entries(t->dir), 1);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
}

static void
test_edit_creates_aliases(void **state)
{
	struct tmp *t = *state;
	struct conf_error cerr;
	struct conf *c;
	char err[1024];

	write_file(t->path, "{\"hostname\": \"h\", \"domains\": [\"example.com\"],"
	    " \"data_dir\": \"d\"}", 0600);
	assert_int_equal(aliases_edit_add(t->path, "a@example.com", "b@example.net",
	    err, sizeof(err)), 0);
	assert_file(t->path, "{\n"
	    "  \"hostname\": \"h\",\n"
	    "  \"domains\": [\n"
	    "    \"example.com\"\n"
	    "  ],\n"
	    "  \"data_dir\": \"d\",\n"
	    "  \"aliases\": {\n"
	    "    \"a@example.com\": [\n"
	    "      \"b@example.net\"\n"
	    "    ]\n"
	    "  }\n"
	    "}\n");
	c = conf_load(t->path, &cerr);
	if (c == NULL)
		fail_msg("%s", cerr.msg);
	assert_non_null(aliases_lookup(c, "A@example.com"));
	conf_free(&c);
}

static void
test_edit_refused(void **state)
{
	static const char original[] =
	    "{\n"
	    "    \"hostname\": \"mail.example.com\",\n"
	    "    \"domains\": [\"example.com\"],\n"
	    "    \"data_dir\": \"/var/lib/rmail\",\n"
	    "    \"aliases\": {\"Abuse@example.com\": \"alice@example.com\",\n"
	    "                \"x@example.com\": [\"a@example.com\", \"b@example.com\"]}\n"
	    "}\n";
	static const struct {
		bool		 add;
		const char	*from;
		const char	*to;
		const char	*want;
	} t_[] = {
		{ true, "a@example.org", "b@example.com",
		  "domain \"example.org\" is not one of \"domains\" in PATH" },
		{ true, "@example.net", "b@example.com",
		  "domain \"example.net\" is not one of \"domains\" in PATH" },
		{ true, "abuse@example.com", "ALICE@example.com",
		  "alias \"abuse@example.com\" already has target "
		  "\"alice@example.com\"" },
		{ true, "x@example.com", "b@example.com",
		  "alias \"x@example.com\" already has target \"b@example.com\"" },
		{ true, "not an address", "b@example.com",
		  "invalid alias \"not an address\" (expected local@domain or "
		  "@domain)" },
		{ true, "", "b@example.com",
		  "invalid alias \"\" (expected local@domain or @domain)" },
		{ true, "a@example.com", "bob", "invalid address \"bob\" "
		  "(expected local@domain)" },
		{ true, "a@example.com", NULL, "missing target address" },
		{ false, "nobody@example.com", NULL,
		  "no alias \"nobody@example.com\"" },
		{ false, "abuse@example.com", "bob@example.com",
		  "alias \"abuse@example.com\" has no target \"bob@example.com\"" },
		{ false, "x@example.com", "c@example.com",
		  "alias \"x@example.com\" has no target \"c@example.com\"" },
	};
	struct tmp *t = *state;
	char err[1024];

	write_file(t->path, original, 0640);
	for (size_t i = 0; i < NELEM(t_); i++) {
		char *want;
		int r;

		err[0] = '\0';
		r = t_[i].add ?
		    aliases_edit_add(t->path, t_[i].from, t_[i].to, err, sizeof(err)) :
		    aliases_edit_del(t->path, t_[i].from, t_[i].to, err, sizeof(err));
		if (r != -1)
			fail_msg("edit %zu succeeded", i);
		if (strstr(t_[i].want, "PATH") != NULL) {
			want = xstrndup(t_[i].want, strlen(t_[i].want) - 4);
			want = xrealloc(want, strlen(want) + strlen(t->path) + 1);
			strcat(want, t->path);
		} else {
			want = xstrdup(t_[i].want);
		}
		if (strcmp(err, want) != 0)
			fail_msg("edit %zu:\n got  %s\n want %s", i, err, want);
		free(want);
		assert_file(t->path, original);
	}
	assert_int_equal(count_entries(t->dir), 1);
}

static void
test_edit_bad_file(void **state)
{
	struct tmp *t = *state;
	static const char bad[] = "{\"hostname\": \"h\", \"domains\": [\"example.com\"],"
	    " \"data_dir\": \"d\", \"limits\": {\"max_message_bytes\": 1}}";
	char err[1024], *want;

	/* A config that is already invalid is not edited. */
	write_file(t->path, bad, 0600);
	assert_int_equal(aliases_edit_add(t->path, "a@example.com",
	    "b@example.com", err, sizeof(err)), -1);
	want = xasprintf("%s:1:96: limits.max_message_bytes: must be between "
	    "1024 and 2147483648", t->path);
	assert_string_equal(err, want);
	free(want);
	assert_file(t->path, bad);

	assert_int_equal(unlink(t->path), 0);
	assert_int_equal(aliases_edit_del(t->path, "a@example.com", NULL, err,
	    sizeof(err)), -1);
	want = xasprintf("%s: cannot read: No such file or directory", t->path);
	assert_string_equal(err, want);
	free(want);
}

static void
test_edit_through_symlink(void **state)
{
	struct tmp *t = *state;
	char err[1024], *link;
	struct stat st;

	write_file(t->path, "{\"hostname\": \"h\", \"domains\": [\"example.com\"],"
	    " \"data_dir\": \"d\"}", 0600);
	link = xasprintf("%s/link.json", t->dir);
	assert_int_equal(symlink("rmail.json", link), 0);
	assert_int_equal(aliases_edit_add(link, "a@example.com", "b@example.com",
	    err, sizeof(err)), 0);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(aliases_edit_del(link, "a@example.com", NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(unlink(link), 0);
	free(link);
	assert_int_equal(count_entries(t->dir), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test_setup_teardown(test_edit_roundtrip,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_edit_creates_aliases,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_edit_refused,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_edit_bad_file,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_edit_through_symlink,
		    setup_tmp, teardown_tmp),
	};

	return cmocka_run_group_tests_name("aliases", tests, NULL, NULL);
}
