/* Unit tests: imap/fmt (strings, ENVELOPE, BODY, BODYSTRUCTURE). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "imap/fmt.h"
#include "store/mime.h"

#define TEST_DATA_DIR	"tests/data/mime"

/* What a writer produced, NUL-terminated, malloc'd. */
static char *
take(struct buf *b)
{
	char *s = xstrndup((const char *)buf_head(b), b->len);

	buf_release(b);
	return s;
}

static void
check_string(const char *s, size_t len, const char *expect)
{
	struct buf b;
	char *got;

	buf_init(&b, 1 << 20);
	assert_int_equal(imap_fmt_string(&b, s, len), 0);
	got = take(&b);
	assert_string_equal(got, expect);
	free(got);
}

static void
check_astring(const char *s, const char *expect)
{
	struct buf b;
	char *got;

	buf_init(&b, 1 << 20);
	assert_int_equal(imap_fmt_astring(&b, s), 0);
	got = take(&b);
	assert_string_equal(got, expect);
	free(got);
}

/* ENVELOPE, BODY and BODYSTRUCTURE of msg against the expected strings
 * (NULL: not checked). */
static void
check_msg(const char *msg, const char *env, const char *body,
    const char *bs)
{
	size_t len = strlen(msg);
	struct mime_part *root = mime_parse(msg, len);
	struct buf b;
	char *got;

	buf_init(&b, 1 << 20);
	if (env != NULL) {
		assert_int_equal(imap_fmt_envelope(&b, msg, len, root), 0);
		got = take(&b);
		assert_string_equal(got, env);
		free(got);
	}
	if (body != NULL) {
		assert_int_equal(imap_fmt_bodystructure(&b, msg, len, root,
		    false), 0);
		got = take(&b);
		assert_string_equal(got, body);
		free(got);
	}
	if (bs != NULL) {
		assert_int_equal(imap_fmt_bodystructure(&b, msg, len, root,
		    true), 0);
		got = take(&b);
		assert_string_equal(got, bs);
		free(got);
	}
	mime_free(&root);
}

static void
test_strings(void **state)
{
	char big[IMAP_FMT_QUOTED_MAX + 1], *expect;
	struct buf b;

	(void)state;
	check_string("", 0, "\"\"");
	check_string("plain text", 10, "\"plain text\"");
	check_string("a \"b\" \\c", 8, "\"a \\\"b\\\" \\\\c\"");
	check_string("two\r\nlines", 10, "{10}\r\ntwo\r\nlines");
	check_string("caf\xc3\xa9", 5, "{5}\r\ncaf\xc3\xa9");
	check_string("nul\0x", 5, "{5}\r\nnul");	/* compared up to NUL */
	check_string("abcdef", 3, "\"abc\"");	/* len, not strlen */

	memset(big, 'x', sizeof(big));
	expect = xasprintf("\"%.*s\"", IMAP_FMT_QUOTED_MAX - 1, big);
	check_string(big, IMAP_FMT_QUOTED_MAX - 1, expect);
	free(expect);
	expect = xasprintf("{%d}\r\n%.*s", IMAP_FMT_QUOTED_MAX,
	    IMAP_FMT_QUOTED_MAX, big);
	check_string(big, IMAP_FMT_QUOTED_MAX, expect);
	free(expect);

	buf_init(&b, 1 << 20);
	assert_int_equal(imap_fmt_nstring(&b, NULL), 0);
	assert_int_equal(imap_fmt_nstring(&b, "x"), 0);
	expect = take(&b);
	assert_string_equal(expect, "NIL\"x\"");
	free(expect);

	check_astring("INBOX", "INBOX");
	check_astring("Lists/[rmail]", "Lists/[rmail]");
	check_astring("", "\"\"");
	check_astring("nil", "\"nil\"");
	check_astring("Sent Items", "\"Sent Items\"");
	check_astring("a%b", "\"a%b\"");
	check_astring("a\\b", "\"a\\\\b\"");
	check_astring("Entw\xc3\xbcrfe", "{9}\r\nEntw\xc3\xbcrfe");

	/* The cap: -1, ENOBUFS. */
	buf_init(&b, 4);
	errno = 0;
	assert_int_equal(imap_fmt_string(&b, "too long", 8), -1);
	assert_int_equal(errno, ENOBUFS);
	buf_release(&b);
}

/* RFC 3501 8's sample message. */
static const char msg_simple[] =
    "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
    "From: Fred Foobar <foobar@Blurdybloop.COM>\r\n"
    "Subject: afternoon meeting\r\n"
    "To: mooch@owatagu.siam.edu\r\n"
    "Message-Id: <B27397-0100000@Blurdybloop.COM>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    "\r\n"
    "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";

static void
test_simple(void **state)
{
	(void)state;
	check_msg(msg_simple,
	    "(\"Mon, 7 Feb 1994 21:52:25 -0800 (PST)\" \"afternoon meeting\" "
	    "((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.COM\")) "
	    "((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.COM\")) "
	    "((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.COM\")) "
	    "((NIL NIL \"mooch\" \"owatagu.siam.edu\")) NIL NIL NIL "
	    "\"<B27397-0100000@Blurdybloop.COM>\")",
	    "(\"text\" \"plain\" (\"charset\" \"US-ASCII\") NIL NIL \"7bit\" "
	    "55 1)",
	    "(\"text\" \"plain\" (\"charset\" \"US-ASCII\") NIL NIL \"7bit\" "
	    "55 1 NIL NIL NIL NIL)");
}

static void
test_groups_and_words(void **state)
{
	(void)state;
	check_msg(
	    "From: =?UTF-8?Q?Andr=C3=A9?= <andre@example.org>\r\n"
	    "Sender:  \r\n"
	    "Reply-To: \"List\" <list@example.org>\r\n"
	    "To: Friends: \"Joe Q. Public\" <joe@example.com>,\r\n"
	    "  bob@example.com (Bob);, undisclosed-recipients:;\r\n"
	    "Cc: =?ISO-8859-1?B?SvZyZw==?= =?ISO-8859-1?B?ZW4=?=\r\n"
	    " <jq@example.net>, <@r1.example,@r2.example:mb@host.example>,\r\n"
	    " nohost\r\n"
	    "Bcc: \"a \\\"quoted\\\" name\" <q@example.com>\r\n"
	    "Subject: =?UTF-8?B?w6lsw6h2ZQ==?= test\r\n"
	    "\tfolded\r\n"
	    "In-Reply-To: <parent@example.org>\r\n"
	    "Message-ID: <child@example.org>\r\n"
	    "\r\n"
	    "body\r\n",
	    "(NIL \"=?UTF-8?B?w6lsw6h2ZQ==?= test\tfolded\" "
	    "((\"=?UTF-8?Q?Andr=C3=A9?=\" NIL \"andre\" \"example.org\")) "
	    "((\"=?UTF-8?Q?Andr=C3=A9?=\" NIL \"andre\" \"example.org\")) "
	    "((\"List\" NIL \"list\" \"example.org\")) "
	    "((NIL NIL \"Friends\" NIL)"
	    "(\"Joe Q. Public\" NIL \"joe\" \"example.com\")"
	    "(\"Bob\" NIL \"bob\" \"example.com\")"
	    "(NIL NIL NIL NIL)"
	    "(NIL NIL \"undisclosed-recipients\" NIL)"
	    "(NIL NIL NIL NIL)) "
	    "((\"=?ISO-8859-1?B?SvZyZw==?= =?ISO-8859-1?B?ZW4=?=\" NIL "
	    "\"jq\" \"example.net\")"
	    "(NIL \"@r1.example,@r2.example\" \"mb\" \"host.example\")"
	    "(NIL NIL \"nohost\" \".MISSING-HOST-NAME.\")) "
	    "((\"a \\\"quoted\\\" name\" NIL \"q\" \"example.com\")) "
	    "\"<parent@example.org>\" \"<child@example.org>\")",
	    NULL, NULL);

	/* Raw 8-bit names go as literals; an empty header gives all NIL. */
	check_msg("From: J\xc3\xb6rg <j@example.de>\r\n\r\n",
	    "(NIL NIL ((" "{5}\r\nJ\xc3\xb6rg" " NIL \"j\" \"example.de\")) "
	    "((" "{5}\r\nJ\xc3\xb6rg" " NIL \"j\" \"example.de\")) "
	    "((" "{5}\r\nJ\xc3\xb6rg" " NIL \"j\" \"example.de\")) "
	    "NIL NIL NIL NIL NIL)", NULL, NULL);
	check_msg("\r\nbody\r\n",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "6 1)", NULL);
}

static const char msg_alt[] =
    "From: a@example.com\r\n"
    "Subject: alt\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8; format=flowed\r\n"
    "\r\n"
    "plain\r\n"
    "--b1\r\n"
    "Content-Type: text/html\r\n"
    "Content-Transfer-Encoding: Quoted-Printable\r\n"
    "\r\n"
    "<p>html</p>\r\n"
    "\r\n"
    "--b1--\r\n";

static void
test_alternative(void **state)
{
	(void)state;
	check_msg(msg_alt, NULL,
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" "
	    "\"flowed\") NIL NIL \"7bit\" 5 1)"
	    "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"quoted-printable\" 13 1) \"alternative\")",
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" "
	    "\"flowed\") NIL NIL \"7bit\" 5 1 NIL NIL NIL NIL)"
	    "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"quoted-printable\" 13 1 NIL NIL NIL NIL) \"alternative\" "
	    "(\"boundary\" \"b1\") NIL NIL NIL)");
	/* A text part with other parameters but no charset. */
	check_msg("Content-Type: text/plain; format=flowed\r\n\r\nx", NULL,
	    "(\"text\" \"plain\" (\"format\" \"flowed\" \"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 1 1)", NULL);
}

static const char msg_nested[] =
    "From: x@example.com\r\n"
    "Subject: nested\r\n"
    "Content-Type: multipart/mixed; boundary=outer\r\n"
    "Content-Language: en\r\n"
    "\r\n"
    "preamble\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "plain body\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=\"iso-8859-1\"\r\n"
    "\r\n"
    "<b>html</b>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: application/pdf; name=\"r\\\"s.pdf\"\r\n"
    "Content-Disposition: attachment;\r\n"
    " filename=\"r s.pdf\"; size=4\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-ID: <a1@x>\r\n"
    "Content-Description: the report\r\n"
    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
    "Content-Language: en-GB, (comment) de\r\n"
    "Content-Location: http://example.com/r.pdf\r\n"
    "\r\n"
    "AAEC\r\n"
    "--outer\r\n"
    "Content-Type: image/png\r\n"
    "Content-Disposition: inline\r\n"
    "\r\n"
    "--outer--\r\n";

static void
test_nested(void **state)
{
	(void)state;
	check_msg(msg_nested, NULL,
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 10 1)"
	    "(\"text\" \"html\" (\"charset\" \"iso-8859-1\") NIL NIL "
	    "\"7bit\" 11 1) \"alternative\")"
	    "(\"application\" \"pdf\" (\"name\" \"r\\\"s.pdf\") \"<a1@x>\" "
	    "\"the report\" \"base64\" 4)"
	    "(\"image\" \"png\" NIL NIL NIL \"7bit\" 0) \"mixed\")",
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 10 1 NIL NIL NIL NIL)"
	    "(\"text\" \"html\" (\"charset\" \"iso-8859-1\") NIL NIL "
	    "\"7bit\" 11 1 NIL NIL NIL NIL) \"alternative\" "
	    "(\"boundary\" \"inner\") NIL NIL NIL)"
	    "(\"application\" \"pdf\" (\"name\" \"r\\\"s.pdf\") \"<a1@x>\" "
	    "\"the report\" \"base64\" 4 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" "
	    "(\"attachment\" (\"filename\" \"r s.pdf\" \"size\" \"4\")) "
	    "(\"en-GB\" \"de\") \"http://example.com/r.pdf\")"
	    "(\"image\" \"png\" NIL NIL NIL \"7bit\" 0 NIL (\"inline\" NIL) "
	    "NIL NIL) \"mixed\" (\"boundary\" \"outer\") NIL (\"en\") NIL)");
}

static const char msg_rfc822[] =
    "From: outer@example.com\r\n"
    "Subject: fwd\r\n"
    "Content-Type: multipart/mixed; boundary=\"o\"\r\n"
    "\r\n"
    "--o\r\n"
    "\r\n"
    "see attached\r\n"
    "--o\r\n"
    "Content-Type: message/rfc822\r\n"
    "Content-Disposition: attachment; filename=\"fwd.eml\"\r\n"
    "\r\n"
    "From: Inner <inner@example.com>\r\n"
    "Subject: inside\r\n"
    "Message-ID: <in@example.com>\r\n"
    "Content-Type: multipart/alternative; boundary=\"m\"\r\n"
    "\r\n"
    "--m\r\n"
    "\r\n"
    "one\r\n"
    "--m\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<i>two</i>\r\n"
    "--m--\r\n"
    "--o--\r\n";

static void
test_rfc822(void **state)
{
	static const char inner_env[] =
	    "(NIL \"inside\" "
	    "((\"Inner\" NIL \"inner\" \"example.com\")) "
	    "((\"Inner\" NIL \"inner\" \"example.com\")) "
	    "((\"Inner\" NIL \"inner\" \"example.com\")) "
	    "NIL NIL NIL NIL \"<in@example.com>\")";
	char *body, *bs;

	(void)state;
	body = xasprintf(
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 12 1)"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 194 %s "
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 3 1)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" 10 1) \"alternative\") 13) \"mixed\")", inner_env);
	bs = xasprintf(
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 12 1 NIL NIL NIL NIL)"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 194 %s "
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 3 1 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL) "
	    "\"alternative\" (\"boundary\" \"m\") NIL NIL NIL) 13 NIL "
	    "(\"attachment\" (\"filename\" \"fwd.eml\")) NIL NIL) \"mixed\" "
	    "(\"boundary\" \"o\") NIL NIL NIL)", inner_env);
	check_msg(msg_rfc822, NULL, body, bs);
	free(body);
	free(bs);

	/* Encoded message/rfc822: no tree, so an empty stand-in. */
	check_msg("Content-Type: message/rfc822\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nRnJvbTogYUBi\r\n", NULL,
	    "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 14 "
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
	    "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 1)",
	    "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 14 "
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
	    "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL "
	    "NIL) 1 NIL NIL NIL NIL)");
}

static void
test_odd(void **state)
{
	(void)state;
	/* No blank line: all header, empty body. */
	check_msg("From: a@b.example\r\nSubject: no body\r\n",
	    "(NIL \"no body\" ((NIL NIL \"a\" \"b.example\")) "
	    "((NIL NIL \"a\" \"b.example\")) ((NIL NIL \"a\" \"b.example\")) "
	    "NIL NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL)");
	/* A multipart without any delimiter gets one empty text/plain. */
	check_msg("Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
	    "no parts here\r\n", NULL,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0) \"mixed\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"zz\") NIL NIL "
	    "NIL)");
}

/* A buffer cap is reported, not overrun. */
static void
test_cap(void **state)
{
	size_t len = strlen(msg_nested);
	struct mime_part *root = mime_parse(msg_nested, len);
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	errno = 0;
	assert_int_equal(imap_fmt_bodystructure(&b, msg_nested, len, root,
	    true), -1);
	assert_int_equal(errno, ENOBUFS);
	assert_true(b.len <= 64);
	buf_release(&b);
	buf_init(&b, 16);
	assert_int_equal(imap_fmt_envelope(&b, msg_nested, len, root), -1);
	buf_release(&b);
	mime_free(&root);
}

/* tests/data/mime/nested.eml: an RFC 2231 filename with 8-bit content
 * goes back out RFC 2231-encoded, a multipart/digest-less message/rfc822
 * holds a multipart. */
static void
test_fixture(void **state)
{
	char path[256], *data, *got;
	struct mime_part *root;
	struct buf b;
	FILE *f;
	long n;

	(void)state;
	snprintf(path, sizeof(path), "%s/nested.eml", TEST_DATA_DIR);
	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	data = xmalloc((size_t)n + 1);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	root = mime_parse(data, (size_t)n);
	buf_init(&b, 1 << 20);
	assert_int_equal(imap_fmt_bodystructure(&b, data, (size_t)n, root,
	    true), 0);
	got = take(&b);
	assert_non_null(strstr(got, "(\"attachment\" (\"filename*\" "
	    "\"utf-8''r%C3%A9sum.pdf\"))"));
	assert_non_null(strstr(got, "\"message\" \"rfc822\" NIL NIL NIL "
	    "\"7bit\" "));
	assert_non_null(strstr(got, "(NIL \"inner\" ((NIL NIL \"a\" \"b\")) "));
	assert_null(strchr(got, '{'));		/* all 7-bit, no literal */
	free(got);
	assert_int_equal(imap_fmt_envelope(&b, data, (size_t)n, root), 0);
	got = take(&b);
	assert_string_equal(got, "(NIL \"=?UTF-8?B?w6lsw6h2ZQ==?= test\" "
	    "((\"Doe, John\" NIL \"john\" \"example.com\")) "
	    "((\"Doe, John\" NIL \"john\" \"example.com\")) "
	    "((\"Doe, John\" NIL \"john\" \"example.com\")) "
	    "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
	    "NIL NIL NIL NIL)");
	free(got);
	mime_free(&root);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_groups_and_words),
		cmocka_unit_test(test_alternative),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_rfc822),
		cmocka_unit_test(test_odd),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_fixture),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
