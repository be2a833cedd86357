/* Unit tests: store/mime (MIME tree, headers, addresses, decoders). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "store/mime.h"

#define TEST_DATA_DIR	"tests/data/mime"

/* Read a fixture, NUL-terminated for strstr (the parser gets the length). */
static char *
load(const char *name, size_t *len_r)
{
	char path[256];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len_r = (size_t)n;
	return buf;
}

/* Offset of the nth (0-based) occurrence of needle, plus skip. */
static size_t
off_of(const char *data, const char *needle, int nth, size_t skip)
{
	const char *p = data;

	for (;;) {
		p = strstr(p, needle);
		assert_non_null(p);
		if (nth-- == 0)
			return (size_t)(p - data) + skip;
		p++;
	}
}

/* Every range lies inside [0, len] and fits together. */
static void
check_ranges(const struct mime_part *p, size_t len)
{
	assert_true(p->hdr_off <= len);
	assert_true(p->hdr_len <= len - p->hdr_off);
	assert_int_equal(p->hdr_off + p->hdr_len, p->body_off);
	assert_true(p->body_len <= len - p->body_off);
	assert_non_null(p->type);
	assert_non_null(p->subtype);
	assert_non_null(p->encoding);
	for (size_t i = 0; i < p->nchildren; i++) {
		assert_true(p->children[i].hdr_off >= p->body_off);
		assert_true(p->children[i].body_off + p->children[i].body_len <=
		    p->body_off + p->body_len);
		check_ranges(&p->children[i], len);
	}
	if (p->message != NULL) {
		assert_int_equal(p->message->hdr_off, p->body_off);
		check_ranges(p->message, len);
	}
}

static void
assert_type(const struct mime_part *p, const char *type, const char *sub)
{
	assert_string_equal(p->type, type);
	assert_string_equal(p->subtype, sub);
}

static void
test_header_unfold(void **state)
{
	const char hdr[] = " leading-junk\r\n"
	    "From x Mon Jan  1 00:00:00 2024\r\n"
	    "Subject: one\r\n two\r\n\tthree  \r\n"
	    "X-Empty:\r\n"
	    "X-Late:\r\n  value\r\n"
	    "Bad Name: no\r\n"
	    "noColon\r\n"
	    "subject : second\r\n"
	    "\r\n"
	    "Body: not a header\r\n";
	static const struct {
		const char *name, *want;
	} t[] = {
		{ "subject",	"one two\tthree" },
		{ "X-EMPTY",	"" },
		{ "x-late",	"value" },
		{ "Bad Name",	NULL },
		{ "From x Mon Jan  1 00", NULL },
		{ "Body",	NULL },
		{ "Missing",	NULL },
	};
	const char *name, *val;
	size_t pos = 0, nlen, vlen, n = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(t); i++) {
		char *v = mime_header_get(hdr, sizeof(hdr) - 1, t[i].name);

		if (t[i].want == NULL)
			assert_null(v);
		else
			assert_string_equal(v, t[i].want);
		free(v);
	}
	while (mime_header_next(hdr, sizeof(hdr) - 1, &pos, &name, &nlen,
	    &val, &vlen))
		n++;
	assert_int_equal(n, 4);		/* Subject, X-Empty, X-Late, subject */
	/* Cut inside a field: never reads past len. */
	assert_null(mime_header_get(hdr, 55, "X-Empty"));
	{
		char *v = mime_header_get(hdr, 62, "subject");

		assert_string_equal(v, "one");
		free(v);
	}
}

static void
test_encoded_words(void **state)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "plain text", "plain text" },
		{ "=?UTF-8?B?w6lsw6h2ZQ==?=", "\xc3\xa9l\xc3\xa8ve" },
		{ "=?iso-8859-1?q?caf=E9_cr=E8me?=", "caf\xc3\xa9 cr\xc3\xa8me" },
		{ "=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab" },
		{ "=?utf-8?q?a?=\r\n =?utf-8?q?b?= c", "ab c" },
		/* A character split across two words survives the join. */
		{ "=?UTF-8?B?w6k=?= =?UTF-8?Q?=C3?= =?UTF-8?Q?=A8?=",
		    "\xc3\xa9\xc3\xa8" },
		{ "x =?utf-8?q?y?= z", "x y z" },
		{ "=?utf-8*en?q?lang?=", "lang" },
		{ "=?utf-8?x?bad?=", "=?utf-8?x?bad?=" },
		{ "=?utf-8?q?no end", "=?utf-8?q?no end" },
		{ "=?utf-8?q?has space?=", "=?utf-8?q?has space?=" },
		{ "=??q?empty?=", "=??q?empty?=" },
		{ "=?", "=?" },
		{ "raw \xff byte", "raw \xef\xbf\xbd byte" },
		{ "=?x-unknown?q?a=FFb?=", "a\xef\xbf\xbd" "b" },
		{ "", "" },
	};

	(void)state;
	for (size_t i = 0; i < NELEM(t); i++) {
		char *v = mime_decode_words(t[i].in);

		assert_string_equal(v, t[i].want);
		free(v);
	}
}

/* Content-Type and Content-Disposition parameters through mime_parse. */
static void
test_params(void **state)
{
	static const struct {
		const char *hdr, *type, *sub, *name, *want;
		size_t nparams;
	} t[] = {
		{ "Content-Type: Text/HTML; Charset=\"UTF-8\"",
		    "text", "html", "charset", "UTF-8", 1 },
		{ "Content-Type: text/plain (c) ; (c) format=flowed (c)",
		    "text", "plain", "format", "flowed", 1 },
		{ "Content-Type: application/x; name*0=\"a \"; name*1=b;"
		    " name*2=\".txt\"", "application", "x", "name", "a b.txt", 1 },
		{ "Content-Type: application/x; name*=iso-8859-1'fr'caf%E9",
		    "application", "x", "name", "caf\xc3\xa9", 1 },
		{ "Content-Type: application/x; name=\"fallback\";"
		    " name*0*=utf-8''%E2%82%AC; name*1*=%20x",
		    "application", "x", "name", "\xe2\x82\xac x", 1 },
		/* A gap ends the sections. */
		{ "Content-Type: application/x; name*0=a; name*2=c",
		    "application", "x", "name", "a", 1 },
		{ "Content-Type: application/x; name=\"=?utf-8?q?r=C3=A9?=.pdf\"",
		    "application", "x", "name", "r\xc3\xa9.pdf", 1 },
		{ "Content-Type: multipart/mixed; boundary=----=_Part_1",
		    "multipart", "mixed", "boundary", "----=_Part_1", 1 },
		{ "Content-Type: text/plain; a=\"q\\\"x\"; b=2; a=dup",
		    "text", "plain", "a", "q\"x", 2 },
		{ "Content-Type: text/plain charset=us-ascii",
		    "text", "plain", "charset", "us-ascii", 1 },
		{ "Content-Type: text", "text", "plain", "x", NULL, 0 },
		{ "Content-Type: /plain; a=b", "text", "plain", "a", NULL, 0 },
		{ "Content-Type: ;;;", "text", "plain", "x", NULL, 0 },
		{ "Content-Type: image/png; =x; junk; ; c=\"unterminated",
		    "image", "png", "c", "unterminated", 1 },
	};

	(void)state;
	for (size_t i = 0; i < NELEM(t); i++) {
		char *msg = xasprintf("%s\r\n\r\nbody\r\n", t[i].hdr);
		struct mime_part *p = mime_parse(msg, strlen(msg));
		const char *v;

		assert_type(p, t[i].type, t[i].sub);
		assert_int_equal(p->nparams, t[i].nparams);
		v = mime_param_get(p->params, p->nparams, t[i].name);
		if (t[i].want == NULL)
			assert_null(v);
		else
			assert_string_equal(v, t[i].want);
		mime_free(&p);
		assert_null(p);
		free(msg);
	}
}

struct want_addr {
	const char *name, *adl, *mailbox, *host;
};

static void
test_addresses(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		struct want_addr a[5];
	} t[] = {
		{ "a@b.example", 1, { { NULL, NULL, "a", "b.example" } } },
		{ "\"Doe, John\" <john@example.com>, x@y", 2, {
		    { "Doe, John", NULL, "john", "example.com" },
		    { NULL, NULL, "x", "y" } } },
		{ "John (the man) Smith <js@h> (ignored)", 1,
		    { { "John Smith", NULL, "js", "h" } } },
		{ "js@h (John Smith)", 1, { { "John Smith", NULL, "js", "h" } } },
		{ "undisclosed-recipients:;", 2, {
		    { NULL, NULL, "undisclosed-recipients", NULL },
		    { NULL, NULL, NULL, NULL } } },
		{ "Team: a@b, C <c@d>;, e@f", 5, {
		    { NULL, NULL, "Team", NULL },
		    { NULL, NULL, "a", "b" },
		    { "C", NULL, "c", "d" },
		    { NULL, NULL, NULL, NULL },
		    { NULL, NULL, "e", "f" } } },
		{ "<@r1,@r2:u@h>", 1, { { NULL, "@r1,@r2", "u", "h" } } },
		{ "=?utf-8?q?J=C3=B6rg?= <j@h>", 1,
		    { { "J\xc3\xb6rg", NULL, "j", "h" } } },
		{ "\"a b\"@h", 1, { { NULL, NULL, "\"a b\"", "h" } } },
		{ "localonly", 1,
		    { { NULL, NULL, "localonly", MIME_ADDR_MISSING_HOST } } },
		{ "Name <user@>", 1,
		    { { "Name", NULL, "user", MIME_ADDR_MISSING_HOST } } },
		{ ",, a@b ,", 1, { { NULL, NULL, "a", "b" } } },
		{ "g: a@b", 3, {
		    { NULL, NULL, "g", NULL },
		    { NULL, NULL, "a", "b" },
		    { NULL, NULL, NULL, NULL } } },
		{ "a@[1.2.3.4]", 1, { { NULL, NULL, "a", "[1.2.3.4]" } } },
		{ "", 0, { { NULL, NULL, NULL, NULL } } },
	};
	static const char *garbage[] = {
		"<<<>>>", "\"unterminated", "(unterminated", "@@@:;;:,<",
		"a@b@c", ";;", "<a@b", ">a@b<", "\\", "[a", "g:(x);",
		"Name <", "a:b:c;d;e:", "\"\\", "(\\",
	};

	(void)state;
	for (size_t i = 0; i < NELEM(t); i++) {
		struct mime_addr *a;
		size_t n = mime_parse_addresses(t[i].in, &a);

		assert_int_equal(n, t[i].n);
		for (size_t j = 0; j < n; j++) {
			const struct want_addr *w = &t[i].a[j];
			const char *got[4] = { a[j].name, a[j].adl,
			    a[j].mailbox, a[j].host };
			const char *want[4] = { w->name, w->adl, w->mailbox,
			    w->host };

			for (int k = 0; k < 4; k++) {
				if (want[k] == NULL)
					assert_null(got[k]);
				else
					assert_string_equal(got[k], want[k]);
			}
			assert_int_equal(a[j].group_start,
			    w->mailbox != NULL && w->host == NULL);
			assert_int_equal(a[j].group_end, w->mailbox == NULL);
		}
		mime_addrs_free(a, n);
	}
	for (size_t i = 0; i < NELEM(garbage); i++) {
		struct mime_addr *a;
		size_t n = mime_parse_addresses(garbage[i], &a);
		int open = 0;

		/* Groups always balance, so an ENVELOPE stays well formed. */
		for (size_t j = 0; j < n; j++) {
			open += a[j].group_start;
			open -= a[j].group_end;
			assert_true(open == 0 || open == 1);
			if (!a[j].group_start && !a[j].group_end) {
				assert_non_null(a[j].mailbox);
				assert_non_null(a[j].host);
			}
		}
		assert_int_equal(open, 0);
		mime_addrs_free(a, n);
	}
}

static void
test_single_part(void **state)
{
	size_t len;
	char *d = load("simple.eml", &len);
	struct mime_part *p = mime_parse(d, len);
	size_t body = off_of(d, "\r\n\r\n", 0, 4);
	char *v;

	(void)state;
	assert_type(p, "text", "plain");
	assert_string_equal(p->encoding, "7bit");
	assert_int_equal(p->nparams, 0);
	assert_int_equal(p->hdr_off, 0);
	assert_int_equal(p->hdr_len, body);
	assert_int_equal(p->body_off, body);
	assert_int_equal(p->body_len, len - body);
	assert_memory_equal(d + p->body_off, "Line one\r\n", 10);
	assert_int_equal(p->body_lines, 4);
	assert_int_equal(p->nchildren, 0);
	assert_null(p->message);
	v = mime_header_get(d + p->hdr_off, p->hdr_len, "subject");
	assert_string_equal(v, "Hello folded subject");
	free(v);
	check_ranges(p, len);
	mime_free(&p);
	free(d);
}

/* Expected body range: after the blank line following hdr_marker's
 * occurrence, up to (excluding) the CRLF before end_marker. */
static void
assert_body(const char *d, const struct mime_part *p, size_t start,
    const char *body_start, const char *end_marker, int nth_end)
{
	size_t b = off_of(d + start, body_start, 0, 0) + start;
	size_t e = off_of(d, end_marker, nth_end, 0);

	assert_int_equal(p->hdr_off, start);
	assert_int_equal(p->body_off, b);
	assert_int_equal(p->hdr_len, b - start);
	assert_int_equal(p->body_len, e - b);
}

static void
test_nested(void **state)
{
	size_t len;
	char *d = load("nested.eml", &len);
	struct mime_part *root = mime_parse(d, len), *alt, *pdf, *msg, *m;
	char *v;
	struct mime_addr *a;
	size_t n;

	(void)state;
	check_ranges(root, len);
	assert_type(root, "multipart", "mixed");
	assert_string_equal(mime_param_get(root->params, root->nparams,
	    "BOUNDARY"), "outer");
	assert_int_equal(root->body_off, off_of(d, "\r\n\r\n", 0, 4));
	assert_int_equal(root->body_len, len - root->body_off);
	assert_int_equal(root->nchildren, 3);

	/* multipart/alternative: starts after the first "--outer" line,
	 * ends before the CRLF of the second. */
	alt = &root->children[0];
	assert_type(alt, "multipart", "alternative");
	assert_body(d, alt, off_of(d, "--outer\r\n", 0, 9), "--inner\r\n",
	    "\r\n--outer\r\n", 1);
	assert_int_equal(alt->nchildren, 2);
	assert_type(&alt->children[0], "text", "plain");
	assert_string_equal(alt->children[0].encoding, "quoted-printable");
	assert_string_equal(mime_param_get(alt->children[0].params,
	    alt->children[0].nparams, "charset"), "utf-8");
	assert_body(d, &alt->children[0], off_of(d, "--inner\r\n", 0, 9),
	    "Hello caf", "\r\n--inner\r\n", 1);
	assert_int_equal(alt->children[0].body_lines, 1);
	assert_type(&alt->children[1], "text", "html");
	assert_string_equal(mime_param_get(alt->children[1].params,
	    alt->children[1].nparams, "charset"), "iso-8859-1");
	/* "--innerX" is not a delimiter: it stays in the html body. */
	assert_body(d, &alt->children[1], off_of(d, "--inner\r\n", 1, 9),
	    "<p>", "\r\n--inner--", 0);
	assert_int_equal(alt->children[1].body_lines, 2);
	assert_string_equal(alt->children[1].encoding, "7bit");

	pdf = &root->children[1];
	assert_type(pdf, "application", "pdf");
	assert_string_equal(pdf->encoding, "base64");
	assert_string_equal(mime_param_get(pdf->params, pdf->nparams, "name"),
	    "doc.pdf");
	assert_string_equal(pdf->disposition, "attachment");
	assert_int_equal(pdf->ndisp_params, 1);
	assert_string_equal(pdf->disp_params[0].name, "filename");
	assert_string_equal(pdf->disp_params[0].value, "r\xc3\xa9sum.pdf");
	assert_string_equal(pdf->id, "<a1@x>");
	assert_null(pdf->description);
	assert_body(d, pdf, off_of(d, "--outer\r\n", 1, 9), "JVBER",
	    "\r\n--outer\r\n", 2);
	assert_int_equal(pdf->nchildren, 0);

	msg = &root->children[2];
	assert_type(msg, "message", "rfc822");
	assert_body(d, msg, off_of(d, "--outer\r\n", 2, 9), "From: a@b",
	    "\r\n--outer--", 0);
	assert_int_equal(msg->body_lines, 15);
	assert_non_null(msg->message);
	m = msg->message;
	assert_type(m, "multipart", "mixed");
	assert_int_equal(m->hdr_off, msg->body_off);
	assert_int_equal(m->body_off, off_of(d, "\r\n\r\n--m2", 0, 4));
	assert_int_equal(m->body_off + m->body_len, msg->body_off + msg->body_len);
	v = mime_header_get(d + m->hdr_off, m->hdr_len, "Subject");
	assert_string_equal(v, "inner");
	free(v);
	assert_int_equal(m->nchildren, 2);
	assert_type(&m->children[0], "text", "plain");
	assert_body(d, &m->children[0], off_of(d, "--m2\r\n", 0, 6), "one",
	    "\r\n--m2\r\n", 1);
	assert_int_equal(m->children[0].body_lines, 2);
	assert_type(&m->children[1], "image", "png");
	assert_body(d, &m->children[1], off_of(d, "--m2\r\n", 1, 6), "iVBOR",
	    "\r\n--m2--", 0);

	/* The root's header for ENVELOPE. */
	v = mime_header_get(d, root->hdr_len, "from");
	n = mime_parse_addresses(v, &a);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].name, "Doe, John");
	mime_addrs_free(a, n);
	free(v);
	v = mime_header_get(d, root->hdr_len, "subject");
	{
		char *dec = mime_decode_words(v);

		assert_string_equal(dec, "\xc3\xa9l\xc3\xa8ve test");
		free(dec);
	}
	free(v);
	mime_free(&root);
	free(d);
}

static struct mime_part *
parse_str(const char *s)
{
	return mime_parse(s, strlen(s));
}

static void
test_boundaries(void **state)
{
	/* Missing close delimiter; trailing blanks after a delimiter; a
	 * close delimiter with trailing junk is no delimiter. */
	const char m1[] = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "preamble\r\n--b \t\r\n\r\nfirst\r\n--b--junk\r\n--b\r\n"
	    "Content-Type: text/html\r\n\r\nsecond\r\n";
	const char m2[] = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "no delimiters at all\r\n--bb\r\n";
	const char m3[] = "Content-Type: multipart/digest; boundary=d\r\n\r\n"
	    "--d\r\n\r\nFrom: x@y\r\n\r\nhi\r\n--d\r\n"
	    "Content-Type: text/plain\r\n\r\nt\r\n--d--";
	/* Empty parts and a close delimiter at the very end without CRLF;
	 * a delimiter (not close) at the end opens a last, empty part. */
	const char m4[] = "Content-Type: multipart/mixed; boundary=e\r\n\r\n"
	    "--e\r\n--e\r\n\r\n--e--";
	const char m5[] = "Content-Type: multipart/mixed; boundary=e\r\n\r\n"
	    "--e\r\nA\r\n--e";
	struct mime_part *p;

	(void)state;
	p = parse_str(m1);
	check_ranges(p, strlen(m1));
	assert_int_equal(p->nchildren, 2);
	assert_int_equal(p->children[0].hdr_len, 2);
	assert_int_equal(p->children[0].body_off, off_of(m1, "first", 0, 0));
	assert_int_equal(p->children[0].body_len,
	    off_of(m1, "\r\n--b\r\n", 0, 0) - off_of(m1, "first", 0, 0));
	assert_int_equal(p->children[0].body_lines, 2);
	assert_type(&p->children[1], "text", "html");
	assert_int_equal(p->children[1].body_off + p->children[1].body_len,
	    strlen(m1));
	mime_free(&p);

	p = parse_str(m2);
	assert_int_equal(p->nchildren, 0);
	mime_free(&p);

	p = parse_str(m3);
	check_ranges(p, strlen(m3));
	assert_int_equal(p->nchildren, 2);
	assert_type(&p->children[0], "message", "rfc822");
	assert_non_null(p->children[0].message);
	assert_type(&p->children[1], "text", "plain");
	assert_int_equal(p->children[1].body_len, 1);
	mime_free(&p);

	p = parse_str(m4);
	check_ranges(p, strlen(m4));
	assert_int_equal(p->nchildren, 2);
	assert_int_equal(p->children[0].hdr_len, 0);
	assert_int_equal(p->children[0].body_len, 0);
	/* Its only CRLF is the one that belongs to the next delimiter. */
	assert_int_equal(p->children[1].hdr_len, 0);
	assert_int_equal(p->children[1].body_len, 0);
	mime_free(&p);

	p = parse_str(m5);
	check_ranges(p, strlen(m5));
	assert_int_equal(p->nchildren, 2);
	assert_int_equal(p->children[0].hdr_len, 1);	/* "A": all header */
	assert_int_equal(p->children[1].hdr_off, strlen(m5));
	assert_int_equal(p->children[1].hdr_len + p->children[1].body_len, 0);
	mime_free(&p);
}

static void
test_deep_nesting(void **state)
{
	char *msg = xstrdup("");
	struct mime_part *p, *q;
	int depth = 0;

	(void)state;
	for (int i = 0; i < 40; i++) {
		char *m = xasprintf("%sContent-Type: multipart/mixed; "
		    "boundary=b%d\r\n\r\n--b%d\r\n", msg, i, i);

		free(msg);
		msg = m;
	}
	for (int i = 39; i >= 0; i--) {
		char *m = xasprintf("%s%s\r\n--b%d--", msg,
		    i == 39 ? "Content-Type: text/plain\r\n\r\nleaf" : "", i);

		free(msg);
		msg = m;
	}
	p = parse_str(msg);
	check_ranges(p, strlen(msg));
	for (q = p; q->nchildren > 0; q = &q->children[0]) {
		assert_int_equal(q->nchildren, 1);
		depth++;
	}
	assert_int_equal(depth, MIME_MAX_DEPTH);
	assert_type(q, "multipart", "mixed");
	assert_true(q->body_len > 0);
	mime_free(&p);
	free(msg);
}

static void
test_odd_messages(void **state)
{
	const char lf[] = "Subject: bare\n\nbody\nmore";
	const char lfm[] = "Content-Type: multipart/mixed; boundary=x\n\n"
	    "--x\nContent-Type: text/plain\n\nA\n--x\n\nB\n--x--\n";
	const char hdronly[] = "Subject: x\r\nFrom: a@b\r\n";
	struct mime_part *p;

	(void)state;
	p = mime_parse(lf, strlen(lf));
	assert_int_equal(p->hdr_len, 15);
	assert_int_equal(p->body_off, 15);
	assert_int_equal(p->body_len, 9);
	assert_int_equal(p->body_lines, 2);
	mime_free(&p);

	p = mime_parse(lfm, strlen(lfm));
	check_ranges(p, strlen(lfm));
	assert_int_equal(p->nchildren, 2);
	assert_int_equal(p->children[0].body_len, 1);
	assert_int_equal(lfm[p->children[0].body_off], 'A');
	assert_int_equal(p->children[1].hdr_len, 1);
	assert_int_equal(p->children[1].body_len, 1);
	assert_int_equal(lfm[p->children[1].body_off], 'B');
	mime_free(&p);

	p = mime_parse("", 0);
	assert_non_null(p);
	assert_type(p, "text", "plain");
	assert_int_equal(p->hdr_len + p->body_len + p->body_lines, 0);
	mime_free(&p);
	mime_free(&p);		/* NULL is fine */

	p = mime_parse(hdronly, strlen(hdronly));
	assert_int_equal(p->hdr_len, strlen(hdronly));
	assert_int_equal(p->body_off, strlen(hdronly));
	assert_int_equal(p->body_len, 0);
	assert_int_equal(p->body_lines, 0);
	mime_free(&p);
}

static void
test_base64(void **state)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "aGVsbG8=", "hello" },
		{ "aGVs\r\nbG8gd29y\r\n bGQ=", "hello world" },
		{ "aGVsbG8", "hello" },		/* missing padding */
		{ "aGVsbG8=junk", "hello" },	/* stops at padding */
		{ "aGVs*bG8=", "hel" },		/* stops at junk */
		{ "", "" },
		{ "YQ", "a" },
		{ "Y", "" },
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < NELEM(t); i++) {
		size_t n = mime_decode_base64(t[i].in, strlen(t[i].in), out);

		assert_int_equal(n, strlen(t[i].want));
		assert_memory_equal(out, t[i].want, n);
	}
}

static void
test_qp(void **state)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "caf=C3=A9", "caf\xc3\xa9" },
		{ "soft=\r\nbreak", "softbreak" },
		{ "soft=\nbreak", "softbreak" },
		{ "pad= \t\r\nded", "padded" },
		{ "trail  \r\nnext", "trail\r\nnext" },
		{ "lower=c3=a9", "lower\xc3\xa9" },
		{ "bad=ZZ =4 =", "bad=ZZ =4 " },
		{ "a_b = c", "a_b = c" },
		{ "end=4", "end=4" },
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < NELEM(t); i++) {
		size_t n = mime_decode_qp(t[i].in, strlen(t[i].in), out);

		assert_int_equal(n, strlen(t[i].want));
		assert_memory_equal(out, t[i].want, n);
	}
}

static void
test_iconv(void **state)
{
	static const struct {
		const char *cs, *in, *want;
	} t[] = {
		{ "ISO-8859-1", "caf\xe9", "caf\xc3\xa9" },
		{ "latin1", "\xa3", "\xc2\xa3" },
		{ "windows-1252", "\x80 \x93q\x94", "\xe2\x82\xac \xe2\x80\x9cq\xe2\x80\x9d" },
		{ "windows-1252", "a\x81z", "a\xef\xbf\xbdz" },	/* unmapped */
		{ "utf-8", "ok \xc3\xa9 \xc3", "ok \xc3\xa9 \xef\xbf\xbd" },
		{ "UTF-8", "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "us-ascii", "plain", "plain" },
		{ "no-such-charset", "x\xffy", "x\xef\xbf\xbdy" },
		{ "utf-8//TRANSLIT", "x\xffy", "x\xef\xbf\xbdy" },
		{ NULL, "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
		{ "", "", "" },
	};

	(void)state;
	for (size_t i = 0; i < NELEM(t); i++) {
		size_t n;
		char *u = mime_to_utf8(t[i].cs, t[i].in, strlen(t[i].in), &n);

		assert_int_equal(n, strlen(t[i].want));
		assert_string_equal(u, t[i].want);
		free(u);
	}
}

/* Every prefix of a complex message, each in an exact-size allocation so
 * that ASan catches a read past the end. */
static void
test_prefixes(void **state)
{
	size_t len;
	char *d = load("nested.eml", &len);

	(void)state;
	for (size_t n = 0; n <= len; n++) {
		char *copy = xmalloc(n);
		struct mime_part *p;

		memcpy(copy, d, n);
		p = mime_parse(copy, n);
		check_ranges(p, n);
		mime_free(&p);
		/* Also with bare LF line ends. */
		for (size_t i = 0, o = 0; i < n; i++)
			if (d[i] != '\r')
				copy[o++] = d[i];
		{
			size_t m = 0;

			for (size_t i = 0; i < n; i++)
				m += d[i] != '\r';
			p = mime_parse(copy, m);
			check_ranges(p, m);
			mime_free(&p);
		}
		free(copy);
	}
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_unfold),
		cmocka_unit_test(test_encoded_words),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_single_part),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_odd_messages),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_qp),
		cmocka_unit_test(test_iconv),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests_name("mime", tests, NULL, NULL);
}
