/* Unit tests: imap/listmatch, LIST patterns (RFC 3501 6.3.8). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "imap/listmatch.h"

static const struct {
	const char	*pattern;
	const char	*name;
	bool		 match;
} cases[] = {
	{ "*", "INBOX", true },
	{ "*", "a/b/c", true },
	{ "%", "INBOX", true },
	{ "%", "a/b", false },
	{ "%", "a", true },
	{ "%/%", "a/b", true },
	{ "%/%", "a/b/c", false },
	{ "%/*", "a/b/c", true },
	{ "a/%", "a", false },
	{ "a/%", "a/b", true },
	{ "a/%", "a/", true },
	{ "a/*", "a/b/c", true },
	{ "a*", "a", true },
	{ "a*", "ab/c", true },
	{ "a%", "ab/c", false },
	{ "a%c", "abbbc", true },
	{ "a%c", "ab/c", false },
	{ "a*c", "ab/c", true },
	{ "a*c", "ab/cd", false },
	{ "", "", true },
	{ "", "a", false },
	{ "abc", "abc", true },
	{ "abc", "abcd", false },
	{ "abc", "ab", false },
	{ "Abc", "abc", false },	/* case-sensitive... */
	{ "inbox", "INBOX", true },	/* ...except INBOX */
	{ "Inbox", "INBOX", true },
	{ "inbox/%", "INBOX/Sub", true },
	{ "inbox/sub", "INBOX/Sub", false },
	{ "inb*", "INBOX", true },
	{ "INB%", "INBOX/x", false },
	{ "inbox", "INBOXES", false },
	{ "inboxes", "INBOXES", false },
	{ "INBOXES", "INBOXES", true },
	{ "inbox*", "INBOXES", false },
	{ "%*%", "a/b", true },
	{ "%%", "a/b", false },
	{ "%%", "ab", true },
	{ "*%", "a/b", true },
	{ "&-*", "&-x", true },
	{ "*a*a*a*a*a*a*a*a*a*a*b",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
	{ "*a*a*a*a*a*a*a*a*a*a*b",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", true },
	{ "%a%a%a%a%a%a%a%a%a%a%b",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/aaaaaaab", false },
};

static void
test_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		if (imap_list_match(cases[i].pattern, cases[i].name) !=
		    cases[i].match)
			fail_msg("pattern \"%s\" name \"%s\": expected %s",
			    cases[i].pattern, cases[i].name,
			    cases[i].match ? "match" : "no match");
	}
}

/* One compiled pattern reused across names gives the same answers. */
static void
test_reuse(void **state)
{
	struct imap_listpat	*lp;
	size_t			 i, j;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		lp = imap_listpat_new(cases[i].pattern);
		for (j = 0; j < NELEM(cases); j++)
			assert_int_equal(imap_listpat_match(lp, cases[j].name),
			    imap_list_match(cases[i].pattern, cases[j].name));
		imap_listpat_free(&lp);
		assert_null(lp);
	}
	imap_listpat_free(&lp);
}

static void
test_too_long(void **state)
{
	char	*pat;

	(void)state;
	pat = xmalloc(IMAP_LIST_PATTERN_MAX + 2);
	memset(pat, '*', IMAP_LIST_PATTERN_MAX + 1);
	pat[IMAP_LIST_PATTERN_MAX + 1] = '\0';
	assert_false(imap_list_match(pat, "a"));
	pat[IMAP_LIST_PATTERN_MAX] = '\0';
	assert_true(imap_list_match(pat, "a"));
	free(pat);
}

static void
test_join(void **state)
{
	static const struct {
		const char *ref, *pat, *full;
	} v[] = {
		{ "", "*", "*" },
		{ "a/", "%", "a/%" },
		{ "a/", "/b", "a/b" },
		{ "a", "/b", "a/b" },
		{ "a", "b", "ab" },
		{ "", "", "" },
	};
	size_t	 i;
	char	*s;

	(void)state;
	for (i = 0; i < NELEM(v); i++) {
		s = imap_list_join(v[i].ref, v[i].pat);
		assert_string_equal(s, v[i].full);
		free(s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_join),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
