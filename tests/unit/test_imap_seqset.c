/* Unit tests: imap/seqset, IMAP sequence sets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "imap/seqset.h"

/* Render a set as "lo:hi,lo:hi" ('*' for IMAP_SEQ_STAR) to compare. */
static void
render(const struct imap_seqset *set, char *buf, size_t len)
{
	size_t	 i, off = 0;
	char	 a[16], b[16];

	buf[0] = '\0';
	for (i = 0; i < set->n; i++) {
		if (set->r[i].lo == IMAP_SEQ_STAR)
			snprintf(a, sizeof(a), "*");
		else
			snprintf(a, sizeof(a), "%u", set->r[i].lo);
		if (set->r[i].hi == IMAP_SEQ_STAR)
			snprintf(b, sizeof(b), "*");
		else
			snprintf(b, sizeof(b), "%u", set->r[i].hi);
		off += (size_t)snprintf(buf + off, len - off, "%s%s:%s",
		    i > 0 ? "," : "", a, b);
		assert_true(off < len);
	}
}

static void
check_parse(const char *s, const char *want)
{
	struct imap_seqset	 set;
	char			 buf[256];

	assert_int_equal(imap_seqset_parse(s, &set), 0);
	render(&set, buf, sizeof(buf));
	assert_string_equal(buf, want);
	imap_seqset_free(&set);
	assert_null(set.r);
	assert_int_equal(set.n, 0);
}

static void
check_resolve(const char *s, uint32_t star, const char *want)
{
	struct imap_seqset	 set;
	char			 buf[256];

	assert_int_equal(imap_seqset_parse(s, &set), 0);
	imap_seqset_resolve(&set, star);
	render(&set, buf, sizeof(buf));
	assert_string_equal(buf, want);
	imap_seqset_free(&set);
}

static void
test_parse(void **state)
{
	(void)state;
	check_parse("1", "1:1");
	check_parse("1:3", "1:3");
	check_parse("3:1", "3:1");	/* order kept until resolve */
	check_parse("*", "*:*");
	check_parse("1:*", "1:*");
	check_parse("*:5", "*:5");
	check_parse("1,3:5,7", "1:1,3:5,7:7");
	check_parse("4294967295", "4294967295:4294967295");
	check_parse("2:4294967295", "2:4294967295");
	check_parse("10,9,8", "10:10,9:9,8:8");
}

static void
test_parse_errors(void **state)
{
	static const char *bad[] = {
		"", "0", "0:3", "3:0", "01", "1:", ":1", ",", "1,", ",1",
		"1,,2", "a", "1a", "1::2", "1:2:3", "4294967296",
		"1:4294967296", "99999999999999999999", "+1", "-1", "1 ",
		" 1", "$", "1:**", "**", "1.2",
	};
	struct imap_seqset	 set;
	size_t			 i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		set.r = (void *)&set;	/* junk, must be overwritten */
		set.n = 99;
		if (imap_seqset_parse(bad[i], &set) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_null(set.r);
		assert_int_equal(set.n, 0);
	}
}

static void
test_too_many(void **state)
{
	struct imap_seqset	 set;
	char			*s, *p;
	size_t			 i;

	(void)state;
	s = xmalloc((IMAP_SEQSET_MAX + 1) * 2 + 1);
	p = s;
	for (i = 0; i < IMAP_SEQSET_MAX; i++) {
		*p++ = '1';
		*p++ = ',';
	}
	p[-1] = '\0';
	assert_int_equal(imap_seqset_parse(s, &set), 0);
	assert_int_equal(set.n, IMAP_SEQSET_MAX);
	imap_seqset_resolve(&set, 10);
	assert_int_equal(set.n, 1);
	imap_seqset_free(&set);
	p[-1] = ',';
	*p++ = '2';
	*p = '\0';
	assert_int_equal(imap_seqset_parse(s, &set), -1);
	assert_null(set.r);
	free(s);
}

static void
test_resolve(void **state)
{
	(void)state;
	check_resolve("1", 10, "1:1");
	check_resolve("3:1", 10, "1:3");
	check_resolve("*", 10, "10:10");
	check_resolve("1:*", 10, "1:10");
	check_resolve("*:5", 10, "5:10");
	check_resolve("*:50", 10, "10:50");	/* beyond star is kept */
	check_resolve("1,3:5,7", 10, "1:1,3:5,7:7");
	/* Sorted and merged: overlapping and adjacent. */
	check_resolve("7,1,3:5", 10, "1:1,3:5,7:7");
	check_resolve("1,2,3", 10, "1:3");
	check_resolve("5:3,2,6:8", 10, "2:8");
	check_resolve("1:5,3:4", 10, "1:5");
	check_resolve("1:5,2:9,20:30,31", 10, "1:9,20:31");
	check_resolve("4,4,4", 10, "4:4");
	check_resolve("1:*,3", 10, "1:10");
	check_resolve("4294967295,4294967294,1:4294967295", 7,
	    "1:4294967295");
	check_resolve("4294967294:4294967295,1", 7,
	    "1:1,4294967294:4294967295");
	/* Empty mailbox: "*" is 0, which no message has. */
	check_resolve("*", 0, "");
	check_resolve("1:*", 0, "1:1");
	check_resolve("3:*,*", 0, "1:3");
}

static void
test_has(void **state)
{
	struct imap_seqset	 set;
	uint32_t		 v;
	bool			 want;

	(void)state;
	assert_int_equal(imap_seqset_parse("7,1,3:5,20:*,4294967295",
	    &set), 0);
	imap_seqset_resolve(&set, 25);
	for (v = 0; v < 40; v++) {
		want = v == 1 || (v >= 3 && v <= 5) || v == 7 ||
		    (v >= 20 && v <= 25);
		if (imap_seqset_has(&set, v) != want)
			fail_msg("has(%u) != %d", v, want);
	}
	assert_true(imap_seqset_has(&set, UINT32_MAX));
	assert_false(imap_seqset_has(&set, UINT32_MAX - 1));
	imap_seqset_free(&set);
	/* Empty set. */
	assert_false(imap_seqset_has(&set, 1));
	assert_int_equal(imap_seqset_parse("*", &set), 0);
	imap_seqset_resolve(&set, 0);
	assert_false(imap_seqset_has(&set, 0));
	assert_false(imap_seqset_has(&set, 1));
	imap_seqset_free(&set);
	/* Many ranges: binary search against a linear check. */
	assert_int_equal(imap_seqset_parse(
	    "2,4,6,8,10,12,14,16,18,20:22,30,40:41,50", &set), 0);
	imap_seqset_resolve(&set, 100);
	for (v = 0; v < 60; v++) {
		want = (v >= 2 && v <= 18 && v % 2 == 0) ||
		    (v >= 20 && v <= 22) || v == 30 || v == 40 ||
		    v == 41 || v == 50;
		if (imap_seqset_has(&set, v) != want)
			fail_msg("has(%u) != %d", v, want);
	}
	imap_seqset_free(&set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_has),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
