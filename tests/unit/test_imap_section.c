/* Unit tests: imap/section (BODY[section]<partial> parsing, naming and
 * extraction). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "imap/section.h"
#include "store/mime.h"

static const char msg_nested[] =
    "From: x@example.com\r\n"
    "Subject: nested\r\n"
    "X-Long: a\r\n"
    "  b\r\n"
    "\tc\r\n"
    "MIME-Version: 1.0\r\n"
    "x-long : second\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "plain body\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<b>html</b>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAEC\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: inner@example.com\r\n"
    "Subject: inside\r\n"
    "Content-Type: multipart/mixed; boundary=\"m\"\r\n"
    "\r\n"
    "--m\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "inner one\r\n"
    "--m\r\n"
    "\r\n"
    "inner two\r\n"
    "--m--\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: single\r\n"
    "\r\n"
    "just text\r\n"
    "--outer--\r\n";

/* The section spec[partial] of msg, as a NUL-terminated copy. */
static char *
get(const char *msg, const char *spec, const char *partial)
{
	size_t len = strlen(msg), n;
	struct mime_part *root = mime_parse(msg, len);
	struct imap_section sec;
	const char *p;
	char *copy, *s;

	assert_int_equal(imap_section_parse(spec, partial, &sec), 0);
	imap_section_get(msg, len, root, &sec, &p, &n, &copy);
	assert_non_null(p);
	s = xstrndup(p, n);
	assert_int_equal(strlen(s), n);
	free(copy);
	imap_section_free(&sec);
	mime_free(&root);
	return s;
}

static void
check(const char *msg, const char *spec, const char *partial,
    const char *expect)
{
	char *got = get(msg, spec, partial);

	assert_string_equal(got, expect);
	free(got);
}

static void
check_name(const char *spec, const char *partial, const char *expect)
{
	struct imap_section sec;
	struct buf b;
	char *got;

	assert_int_equal(imap_section_parse(spec, partial, &sec), 0);
	buf_init(&b, 1024);
	assert_int_equal(imap_section_name(&b, &sec), 0);
	got = xstrndup((const char *)buf_head(&b), b.len);
	assert_string_equal(got, expect);
	free(got);
	buf_release(&b);
	imap_section_free(&sec);
}

static void
bad(const char *spec, const char *partial)
{
	struct imap_section sec;

	assert_int_equal(imap_section_parse(spec, partial, &sec), -1);
	assert_null(sec.fields);
	imap_section_free(&sec);
}

static void
test_parse(void **state)
{
	struct imap_section sec;

	(void)state;
	assert_int_equal(imap_section_parse("4.2.1.mime", "<10.20>", &sec), 0);
	assert_int_equal(sec.nparts, 3);
	assert_int_equal(sec.part[0], 4);
	assert_int_equal(sec.part[1], 2);
	assert_int_equal(sec.part[2], 1);
	assert_int_equal(sec.text, IMAP_SEC_MIME);
	assert_true(sec.partial);
	assert_int_equal(sec.offset, 10);
	assert_int_equal(sec.count, 20);
	imap_section_free(&sec);

	assert_int_equal(imap_section_parse(
	    "HEADER.FIELDS.NOT (From \"X-A b\"  \"q\\\"\")", "", &sec), 0);
	assert_int_equal(sec.nparts, 0);
	assert_int_equal(sec.text, IMAP_SEC_FIELDS_NOT);
	assert_false(sec.partial);
	assert_int_equal(sec.nfields, 3);
	assert_string_equal(sec.fields[0], "From");
	assert_string_equal(sec.fields[1], "X-A b");
	assert_string_equal(sec.fields[2], "q\"");
	imap_section_free(&sec);
	assert_int_equal(sec.nfields, 0);

	assert_int_equal(imap_section_parse("", NULL, &sec), 0);
	assert_int_equal(sec.text, IMAP_SEC_ALL);
	assert_int_equal(sec.nparts, 0);
	imap_section_free(&sec);

	bad("0", NULL);
	bad("01", NULL);
	bad("1.", NULL);
	bad(".1", NULL);
	bad("1..2", NULL);
	bad("MIME", NULL);
	bad("HEADERS", NULL);
	bad("HEADER.FIELDS", NULL);
	bad("HEADER.FIELDS ()", NULL);
	bad("HEADER.FIELDS (From", NULL);
	bad("HEADER.FIELDS (From) x", NULL);
	bad("HEADER.FIELDS (\"From)", NULL);
	bad("TEXT.1", NULL);
	bad("1.TEXTX", NULL);
	bad("4294967296", NULL);
	bad("", "<1>");
	bad("", "<1.>");
	bad("", "<.1>");
	bad("", "<1.2");
	bad("", "<1.2>x");
	bad("", "<99999999999999999999.1>");
	bad("1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23."
	    "24.25.26.27.28.29.30.31.32.33", NULL);
}

static void
test_name(void **state)
{
	(void)state;
	check_name("", NULL, "BODY[]");
	check_name("", "<0.100>", "BODY[]<0>");
	check_name("1.2", "<5.10>", "BODY[1.2]<5>");
	check_name("header", NULL, "BODY[HEADER]");
	check_name("3.text", NULL, "BODY[3.TEXT]");
	check_name("1.Mime", NULL, "BODY[1.MIME]");
	check_name("HEADER.FIELDS (From To)", NULL,
	    "BODY[HEADER.FIELDS (From To)]");
	check_name("header.fields.not (list-id  \"X Y\" \"Z\")", "<0.1>",
	    "BODY[HEADER.FIELDS.NOT (list-id \"X Y\" Z)]<0>");
	check_name("2.HEADER.FIELDS (\"a]b\")", NULL,
	    "BODY[2.HEADER.FIELDS (\"a]b\")]");
}

static void
test_parts(void **state)
{
	(void)state;
	check(msg_nested, "1.1", NULL, "plain body");
	check(msg_nested, "1.2", NULL, "<b>html</b>");
	check(msg_nested, "1", NULL,
	    "--inner\r\nContent-Type: text/plain\r\n\r\nplain body\r\n"
	    "--inner\r\nContent-Type: text/html\r\n\r\n<b>html</b>\r\n"
	    "--inner--");
	check(msg_nested, "2", NULL, "AAEC");
	check(msg_nested, "1.2.MIME", NULL, "Content-Type: text/html\r\n\r\n");
	check(msg_nested, "2.MIME", NULL,
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n");
	/* Nonexistent parts are empty. */
	check(msg_nested, "6", NULL, "");
	check(msg_nested, "1.3", NULL, "");
	check(msg_nested, "2.1", NULL, "");	/* a leaf has no parts */
	check(msg_nested, "1.1.1", NULL, "");
	check(msg_nested, "9.MIME", NULL, "");
	check(msg_nested, "9.HEADER", NULL, "");
	check(msg_nested, "1.HEADER", NULL, "");	/* not message/rfc822 */
	check(msg_nested, "2.TEXT", NULL, "");
}

static void
test_rfc822(void **state)
{
	static const char inner[] =
	    "From: inner@example.com\r\n"
	    "Subject: inside\r\n"
	    "Content-Type: multipart/mixed; boundary=\"m\"\r\n"
	    "\r\n";
	static const char inner_text[] =
	    "--m\r\nContent-Type: text/plain\r\n\r\ninner one\r\n"
	    "--m\r\n\r\ninner two\r\n--m--";
	char *all = xasprintf("%s%s", inner, inner_text);

	(void)state;
	check(msg_nested, "3", NULL, all);
	check(msg_nested, "3.HEADER", NULL, inner);
	check(msg_nested, "3.TEXT", NULL, inner_text);
	check(msg_nested, "3.MIME", NULL,
	    "Content-Type: message/rfc822\r\n\r\n");
	check(msg_nested, "3.1", NULL, "inner one");
	check(msg_nested, "3.2", NULL, "inner two");
	check(msg_nested, "3.2.MIME", NULL, "\r\n");
	check(msg_nested, "3.1.MIME", NULL, "Content-Type: text/plain\r\n\r\n");
	check(msg_nested, "3.3", NULL, "");
	check(msg_nested, "3.HEADER.FIELDS (subject)", NULL,
	    "Subject: inside\r\n\r\n");
	/* A non-multipart embedded message: its part 1 is its body. */
	check(msg_nested, "4.1", NULL, "just text");
	check(msg_nested, "4.1.MIME", NULL, "Subject: single\r\n\r\n");
	check(msg_nested, "4.2", NULL, "");
	check(msg_nested, "4.HEADER", NULL, "Subject: single\r\n\r\n");
	check(msg_nested, "4.TEXT", NULL, "just text");
	check(msg_nested, "4.1.1", NULL, "");
	free(all);
}

static void
test_header_fields(void **state)
{
	(void)state;
	check(msg_nested, "HEADER.FIELDS (SUBJECT x-long)", NULL,
	    "Subject: nested\r\n"
	    "X-Long: a\r\n  b\r\n\tc\r\n"
	    "x-long : second\r\n"
	    "\r\n");
	check(msg_nested, "HEADER.FIELDS.NOT (Content-Type X-LONG "
	    "mime-version)", NULL,
	    "From: x@example.com\r\nSubject: nested\r\n\r\n");
	check(msg_nested, "HEADER.FIELDS (Nope)", NULL, "\r\n");
	check(msg_nested, "HEADER.FIELDS (X-Lon)", NULL, "\r\n");
	check(msg_nested, "HEADER.FIELDS (Subject)", "<2.5>", "bject");
	check(msg_nested, "HEADER.FIELDS (Subject)", "<100.5>", "");
	check(msg_nested, "1.HEADER.FIELDS (Subject)", NULL, "");
	/* No blank line and no final line break: the blank line is added
	 * all the same, after a line end. */
	check("A: 1\r\nB: 2", "HEADER.FIELDS (b)", NULL, "B: 2\r\n\r\n");
	check("A: 1\r\nB: 2", "HEADER.FIELDS.NOT (b)", NULL, "A: 1\r\n\r\n");
	/* Lines that are not fields only come out of .NOT. */
	check(" lead\r\nnocolon\r\nA: 1\r\n\r\nbody", "HEADER.FIELDS.NOT (a)",
	    NULL, " lead\r\nnocolon\r\n\r\n");
	check(" lead\r\nnocolon\r\nA: 1\r\n\r\nbody",
	    "HEADER.FIELDS (nocolon lead)", NULL, "\r\n");
}

static void
test_whole(void **state)
{
	static const char simple[] =
	    "Subject: hi\r\nContent-Type: text/plain\r\n\r\nline one\r\n";
	static const char nobody[] = "Subject: no body\r\n";

	(void)state;
	check(simple, "", NULL, simple);
	check(simple, "HEADER", NULL,
	    "Subject: hi\r\nContent-Type: text/plain\r\n\r\n");
	check(simple, "TEXT", NULL, "line one\r\n");
	check(simple, "1", NULL, "line one\r\n");
	check(simple, "1.MIME", NULL,
	    "Subject: hi\r\nContent-Type: text/plain\r\n\r\n");
	check(simple, "2", NULL, "");
	check(simple, "1.1", NULL, "");
	check(simple, "1.TEXT", NULL, "");	/* 1 is not message/rfc822 */

	check(nobody, "HEADER", NULL, nobody);
	check(nobody, "TEXT", NULL, "");
	check(nobody, "1", NULL, "");
	check(nobody, "", NULL, nobody);
	check("", "", NULL, "");
	check("", "HEADER.FIELDS (a)", NULL, "\r\n");
}

static void
test_partial(void **state)
{
	(void)state;
	check(msg_nested, "", "<0.4>", "From");
	check(msg_nested, "1.2", "<3.4>", "html");
	check(msg_nested, "1.2", "<3.1000>", "html</b>");
	check(msg_nested, "1.2", "<11.1>", "");		/* at the end */
	check(msg_nested, "1.2", "<100000.5>", "");
	check(msg_nested, "1.2", "<0.0>", "");
	check(msg_nested, "1.2", "<0.18446744073709551615>", "<b>html</b>");
	check(msg_nested, "1.2", "<18446744073709551615.1>", "");
	check(msg_nested, "3.TEXT", "<5.12>", "Content-Type");
	check(msg_nested, "9", "<0.10>", "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_rfc822),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_partial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
