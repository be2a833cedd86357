/* Unit tests: relay/bounce (RFC 3464 notifications, parsed back with
 * store/mime; the null sender rule; Received: counting). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "relay/bounce.h"
#include "store/mime.h"

#define T0	((time_t)1700000000)	/* Tue, 14 Nov 2023 22:13:20 +0000 */

static const char orig_msg[] =
    "Received: from client.example.com (client.example.com [192.0.2.1])\r\n"
    "\tby mail.example.com with ESMTPS id 0123ABC; Tue, 14 Nov 2023\r\n"
    "\t22:13:20 +0000\r\n"
    "From: Alice <alice@example.com>\r\n"
    "To: bob@remote.test, carol@remote.test\r\n"
    "Subject: Lunch?\r\n"
    "Message-ID: <lunch-1@example.com>\r\n"
    "\r\n"
    "BODY-SECRET: this line is in the body and must not come back.\r\n"
    "Received: from nowhere\r\n";

/*
 * Compose, then check what every notification must satisfy: CRLF line
 * ends only, no line past 998 characters, no NUL.
 */
static char *
compose(const struct bounce_info *bi, size_t *len_r)
{
	size_t len, col = 0;
	char *s = bounce_compose(bi, &len);

	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n') {
			assert_true(i > 0 && s[i - 1] == '\r');
			col = 0;
		} else if (s[i] == '\r') {
			assert_true(i + 1 < len && s[i + 1] == '\n');
		} else {
			assert_true(++col <= 998);
		}
	}
	assert_true(len >= 2 && s[len - 2] == '\r' && s[len - 1] == '\n');
	if (len_r != NULL)
		*len_r = len;
	return s;
}

/* The value of header name in a part's header block (malloc'd) or NULL. */
static char *
part_header(const char *msg, const struct mime_part *p, const char *name)
{
	return mime_header_get(msg + p->hdr_off, p->hdr_len, name);
}

static void
assert_header(const char *msg, const struct mime_part *p, const char *name,
    const char *want)
{
	char *v = part_header(msg, p, name);

	if (v == NULL)
		fail_msg("no %s field", name);
	if (strcmp(v, want) != 0)
		fail_msg("%s: got \"%s\", want \"%s\"", name, v, want);
	free(v);
}

/* The blocks of a message/delivery-status body, split at empty lines. */
struct blocks {
	const char	*p[16];
	size_t		 len[16];
	size_t		 n;
};

static void
split_blocks(const char *body, size_t len, struct blocks *b)
{
	size_t start = 0;

	b->n = 0;
	while (start < len) {
		const char *e = memmem(body + start, len - start, "\r\n\r\n", 4);
		size_t end = e != NULL ? (size_t)(e - body) + 2 : len;

		assert_true(b->n < 16);
		b->p[b->n] = body + start;
		b->len[b->n] = end - start;
		b->n++;
		start = e != NULL ? end + 2 : len;
	}
}

static void
assert_field(const struct blocks *b, size_t i, const char *name,
    const char *want)
{
	char *v = mime_header_get(b->p[i], b->len[i], name);

	if (want == NULL) {
		if (v != NULL)
			fail_msg("block %zu: unexpected %s: %s", i, name, v);
		return;
	}
	if (v == NULL)
		fail_msg("block %zu: no %s field", i, name);
	if (strcmp(v, want) != 0)
		fail_msg("block %zu: %s: got \"%s\", want \"%s\"", i, name, v,
		    want);
	free(v);
}

static const struct bounce_rcpt two_rcpts[] = {
	{ .orig_rcpt = "Bob@Remote.test", .final_rcpt = "bob@remote.test",
	  .action = BOUNCE_FAILED, .status = "5.1.1",
	  .remote_mta = "mx1.remote.test",
	  .diagnostic = "550 5.1.1 <bob@remote.test>: Recipient address "
	  "rejected: User unknown", .last_attempt = T0 + 60 },
	{ .final_rcpt = "carol@remote.test", .action = BOUNCE_FAILED,
	  .status = NULL, .remote_mta = NULL,
	  .diagnostic = "Host or domain name not found",
	  .diag_type = "X-Rmail", .last_attempt = T0 + 120 },
};

static struct bounce_info
info_two(void)
{
	struct bounce_info bi = {
		.hostname = "mail.example.com", .sender = "alice@example.com",
		.queue_id = "0123ABC", .arrival = T0, .now = T0 + 180,
		.rcpts = two_rcpts, .nrcpts = NELEM(two_rcpts),
		.msg = orig_msg, .msglen = sizeof(orig_msg) - 1,
	};

	return bi;
}

static void
test_structure(void **state)
{
	struct bounce_info bi = info_two();
	struct mime_part *root;
	const struct mime_part *c;
	char *s, *v;
	size_t len;

	(void)state;
	s = compose(&bi, &len);
	root = mime_parse(s, len);
	assert_string_equal(root->type, "multipart");
	assert_string_equal(root->subtype, "report");
	assert_string_equal(mime_param_get(root->params, root->nparams,
	    "report-type"), "delivery-status");
	assert_non_null(mime_param_get(root->params, root->nparams, "boundary"));
	assert_header(s, root, "From",
	    "\"Mail Delivery System\" <MAILER-DAEMON@mail.example.com>");
	assert_header(s, root, "To", "<alice@example.com>");
	assert_header(s, root, "Subject", "Undelivered Mail Returned to Sender");
	assert_header(s, root, "Date", "Tue, 14 Nov 2023 22:16:20 +0000");
	assert_header(s, root, "Auto-Submitted", "auto-replied");
	assert_header(s, root, "MIME-Version", "1.0");
	v = part_header(s, root, "Message-ID");
	assert_non_null(v);
	assert_true(v[0] == '<' && strstr(v, "0123ABC") != NULL);
	assert_non_null(strstr(v, "@mail.example.com>"));
	free(v);
	/* All ASCII: no 8bit declared anywhere. */
	assert_null(strstr(s, "8bit"));

	assert_int_equal(root->nchildren, 3);
	c = &root->children[0];
	assert_string_equal(c->type, "text");
	assert_string_equal(c->subtype, "plain");
	c = &root->children[1];
	assert_string_equal(c->type, "message");
	assert_string_equal(c->subtype, "delivery-status");
	c = &root->children[2];
	assert_string_equal(c->type, "text");
	assert_string_equal(c->subtype, "rfc822-headers");
	mime_free(&root);
	free(s);
}

static void
test_text_part(void **state)
{
	struct bounce_info bi = info_two();
	struct mime_part *root;
	const struct mime_part *c;
	char *s, *text;
	size_t len;

	(void)state;
	s = compose(&bi, &len);
	root = mime_parse(s, len);
	assert_int_equal(root->nchildren, 3);
	c = &root->children[0];
	assert_string_equal(mime_param_get(c->params, c->nparams, "charset"),
	    "us-ascii");
	text = xstrndup(s + c->body_off, c->body_len);
	assert_non_null(strstr(text, "mail.example.com"));
	assert_non_null(strstr(text, "could not be delivered"));
	assert_null(strstr(text, "not been delivered yet"));
	assert_non_null(strstr(text,
	    "<bob@remote.test> (sent to <Bob@Remote.test>): delivery failed."));
	assert_non_null(strstr(text, "The mail server mx1.remote.test answered: "
	    "550 5.1.1 <bob@remote.test>:"));
	assert_non_null(strstr(text, "<carol@remote.test>: delivery failed."));
	assert_non_null(strstr(text,
	    "    Reason: Host or domain name not found"));
	/* Wrapped for reading. */
	for (const char *l = text; *l != '\0';) {
		const char *e = strstr(l, "\r\n");
		size_t n = e != NULL ? (size_t)(e - l) : strlen(l);

		assert_true(n <= 76);
		l += n + (e != NULL ? 2 : 0);
	}
	free(text);
	mime_free(&root);
	free(s);
}

static void
test_dsn_fields(void **state)
{
	struct bounce_info bi = info_two();
	struct mime_part *root;
	const struct mime_part *c;
	struct blocks b;
	char *s;
	size_t len;

	(void)state;
	s = compose(&bi, &len);
	root = mime_parse(s, len);
	assert_int_equal(root->nchildren, 3);
	c = &root->children[1];
	split_blocks(s + c->body_off, c->body_len, &b);
	assert_int_equal(b.n, 3);

	assert_field(&b, 0, "Reporting-MTA", "dns; mail.example.com");
	assert_field(&b, 0, "X-Rmail-Queue-ID", "0123ABC");
	assert_field(&b, 0, "Arrival-Date", "Tue, 14 Nov 2023 22:13:20 +0000");
	assert_field(&b, 0, "Final-Recipient", NULL);

	assert_field(&b, 1, "Original-Recipient", "rfc822; Bob@Remote.test");
	assert_field(&b, 1, "Final-Recipient", "rfc822; bob@remote.test");
	assert_field(&b, 1, "Action", "failed");
	assert_field(&b, 1, "Status", "5.1.1");
	assert_field(&b, 1, "Remote-MTA", "dns; mx1.remote.test");
	assert_field(&b, 1, "Diagnostic-Code", "smtp; 550 5.1.1 "
	    "<bob@remote.test>: Recipient address rejected: User unknown");
	assert_field(&b, 1, "Last-Attempt-Date",
	    "Tue, 14 Nov 2023 22:14:20 +0000");
	assert_field(&b, 1, "Will-Retry-Until", NULL);

	assert_field(&b, 2, "Original-Recipient", NULL);
	assert_field(&b, 2, "Final-Recipient", "rfc822; carol@remote.test");
	assert_field(&b, 2, "Action", "failed");
	assert_field(&b, 2, "Status", "5.0.0");	/* none given */
	assert_field(&b, 2, "Remote-MTA", NULL);
	assert_field(&b, 2, "Diagnostic-Code",
	    "X-Rmail; Host or domain name not found");
	assert_field(&b, 2, "Last-Attempt-Date",
	    "Tue, 14 Nov 2023 22:15:20 +0000");

	/* The per-recipient fields in RFC 3464 2.3 order. */
	{
		const char *blk = b.p[1];
		const char *o = strstr(blk, "Original-Recipient:");
		const char *f = strstr(blk, "Final-Recipient:");
		const char *a = strstr(blk, "Action:");
		const char *st = strstr(blk, "Status:");
		const char *r = strstr(blk, "Remote-MTA:");
		const char *d = strstr(blk, "Diagnostic-Code:");
		const char *l = strstr(blk, "Last-Attempt-Date:");

		assert_true(o < f && f < a && a < st && st < r && r < d &&
		    d < l);
	}
	mime_free(&root);
	free(s);
}

static void
test_delayed(void **state)
{
	static const struct bounce_rcpt r[] = {
		{ .final_rcpt = "dave@slow.test", .action = BOUNCE_DELAYED,
		  .status = "4.4.1", .remote_mta = "mx.slow.test",
		  .diagnostic = "421 4.4.1 Try again later",
		  .last_attempt = T0 + 4 * 3600,
		  .retry_until = T0 + 5 * 86400 },
		{ .final_rcpt = "erin@slow.test", .action = BOUNCE_DELAYED,
		  .status = "bogus", .last_attempt = T0 + 4 * 3600 },
	};
	struct bounce_info bi = {
		.hostname = "mail.example.com", .sender = "<alice@example.com>",
		.arrival = T0, .now = T0 + 4 * 3600, .rcpts = r,
		.nrcpts = NELEM(r), .msg = orig_msg,
		.msglen = sizeof(orig_msg) - 1,
	};
	struct mime_part *root;
	const struct mime_part *c;
	struct blocks b;
	char *s, *text;
	size_t len;

	(void)state;
	s = compose(&bi, &len);
	root = mime_parse(s, len);
	/* A sender given with its brackets keeps one pair. */
	assert_header(s, root, "To", "<alice@example.com>");
	assert_header(s, root, "Subject", "Delayed Mail (still being retried)");
	assert_int_equal(root->nchildren, 3);
	c = &root->children[0];
	text = xstrndup(s + c->body_off, c->body_len);
	assert_non_null(strstr(text, "not been delivered yet"));
	assert_non_null(strstr(text, "do not\r\nneed to send"));
	assert_null(strstr(text, "could not be delivered"));
	assert_non_null(strstr(text, "<dave@slow.test>: not delivered yet."));
	assert_non_null(strstr(text, "Delivery will be tried until "
	    "Sun, 19 Nov 2023 22:13:20 +0000."));
	free(text);

	c = &root->children[1];
	split_blocks(s + c->body_off, c->body_len, &b);
	assert_int_equal(b.n, 3);
	assert_field(&b, 0, "X-Rmail-Queue-ID", NULL);	/* none given */
	assert_field(&b, 1, "Action", "delayed");
	assert_field(&b, 1, "Status", "4.4.1");
	assert_field(&b, 1, "Diagnostic-Code", "smtp; 421 4.4.1 Try again later");
	assert_field(&b, 1, "Will-Retry-Until",
	    "Sun, 19 Nov 2023 22:13:20 +0000");
	assert_field(&b, 2, "Action", "delayed");
	assert_field(&b, 2, "Status", "4.0.0");		/* "bogus" replaced */
	assert_field(&b, 2, "Diagnostic-Code", NULL);
	assert_field(&b, 2, "Will-Retry-Until", NULL);
	mime_free(&root);
	free(s);
}

/* Check the Diagnostic-Code of the first recipient block of s: every line
 * of the field within 78 characters; returns the unfolded value. */
static char *
folded_diag(const char *s, size_t len)
{
	struct mime_part *root = mime_parse(s, len);
	const struct mime_part *c;
	const char *f, *end;
	struct blocks b;
	char *v;

	assert_int_equal(root->nchildren, 3);
	c = &root->children[1];
	split_blocks(s + c->body_off, c->body_len, &b);
	assert_true(b.n >= 2);
	f = strstr(b.p[1], "Diagnostic-Code:");
	assert_non_null(f);
	/* The field runs to the first line that does not start with WSP. */
	for (end = f;;) {
		const char *e = strstr(end, "\r\n");

		assert_non_null(e);
		assert_true(e - end <= 78);
		end = e + 2;
		if (*end != ' ' && *end != '\t')
			break;
	}
	assert_true(end - f > 600);		/* it was folded, not cut */
	v = mime_header_get(b.p[1], b.len[1], "Diagnostic-Code");
	assert_non_null(v);
	mime_free(&root);
	return v;
}

static void
test_fold_long_diagnostic(void **state)
{
	struct bounce_rcpt r = {
		.final_rcpt = "bob@remote.test", .action = BOUNCE_FAILED,
		.status = "5.7.1", .remote_mta = "mx1.remote.test",
	};
	struct bounce_info bi = info_two();
	char diag[700], token[601], *s, *v, *want;
	size_t len;

	(void)state;
	bi.rcpts = &r;
	bi.nrcpts = 1;

	/* 600 bytes of words: folded at spaces, unfolds to the same. */
	strcpy(diag, "550 5.7.1");
	while (strlen(diag) < 600)
		strcat(diag, " policy");
	diag[600] = '\0';
	assert_int_equal(strlen(diag), 600);
	r.diagnostic = diag;
	s = compose(&bi, &len);
	v = folded_diag(s, len);
	want = xasprintf("smtp; %s", diag);
	assert_string_equal(v, want);
	free(want);
	free(v);
	free(s);

	/* One 600-byte word: split over lines; nothing lost but blanks
	 * inserted where it was cut. */
	memset(token, 'x', 600);
	token[600] = '\0';
	snprintf(diag, sizeof(diag), "550 %s", token);
	r.diagnostic = diag;
	s = compose(&bi, &len);
	v = folded_diag(s, len);
	assert_int_equal(strncmp(v, "smtp; 550 x", 11), 0);
	{
		size_t x = 0;

		for (const char *p = v; *p != '\0'; p++)
			x += *p == 'x';
		assert_int_equal(x, 600);
	}
	free(v);
	free(s);

	/* Longer than BOUNCE_DIAG_MAX: cut, marked. */
	{
		char *big = xmalloc(BOUNCE_DIAG_MAX * 2 + 1);

		memset(big, 'y', BOUNCE_DIAG_MAX * 2);
		big[BOUNCE_DIAG_MAX * 2] = '\0';
		memcpy(big, "550 ", 4);
		r.diagnostic = big;
		s = compose(&bi, &len);
		v = folded_diag(s, len);
		assert_true(strlen(v) < BOUNCE_DIAG_MAX + 100);
		assert_non_null(strstr(v, "..."));
		free(v);
		free(s);
		free(big);
	}
}

/* Bytes from a remote server never reach a header as they came. */
static void
test_sanitise(void **state)
{
	struct bounce_rcpt r = {
		.final_rcpt = "bob@remote.test", .action = BOUNCE_FAILED,
		.status = "5.1.1", .remote_mta = "mx\xff.remote.test\r\nX-Evil: 1",
		.diagnostic = "550-5.1.1 first \xc3\xa9 line\r\n"
		"550 5.1.1\tsecond\x01\x7f line\r\nX-Injected: yes\r\n",
	};
	struct bounce_info bi = info_two();
	struct mime_part *root;
	const struct mime_part *c;
	struct blocks b;
	char *s;
	size_t len;

	(void)state;
	bi.rcpts = &r;
	bi.nrcpts = 1;
	s = compose(&bi, &len);
	root = mime_parse(s, len);
	assert_int_equal(root->nchildren, 3);
	c = &root->children[1];
	/* The whole delivery-status part is printable ASCII. */
	for (size_t i = c->body_off; i < c->body_off + c->body_len; i++) {
		unsigned char ch = (unsigned char)s[i];

		assert_true(ch == '\r' || ch == '\n' ||
		    (ch >= 0x20 && ch < 0x7f));
	}
	split_blocks(s + c->body_off, c->body_len, &b);
	assert_int_equal(b.n, 2);
	assert_field(&b, 1, "Remote-MTA", "dns; mx?.remote.test X-Evil: 1");
	assert_field(&b, 1, "Diagnostic-Code", "smtp; 550-5.1.1 first ?? line "
	    "550 5.1.1 second?? line X-Injected: yes");
	assert_field(&b, 1, "X-Evil", NULL);
	assert_field(&b, 1, "X-Injected", NULL);
	/* Nor in the text part, nor as a header of the notification. */
	assert_null(strstr(s, "\nX-Injected"));
	assert_null(strstr(s, "\nX-Evil"));
	assert_null(strstr(s, "\xff"));
	assert_null(strstr(s, "\x01"));
	mime_free(&root);
	free(s);
}

/* Non-ASCII addresses: utf-8-addr-xtext (RFC 6533) in the report, UTF-8
 * in To: and the text, which is then declared 8bit. */
static void
test_utf8_addresses(void **state)
{
	struct bounce_rcpt r = {
		.orig_rcpt = "j\xc3\xbcrgen+tag@r\xc3\xa9mote.test",
		.final_rcpt = "j\xc3\xbcrgen@r\xc3\xa9mote.test",
		.action = BOUNCE_FAILED, .status = "5.1.1",
	};
	struct bounce_info bi = info_two();
	struct mime_part *root;
	const struct mime_part *c;
	struct blocks b;
	char *s;
	size_t len;

	(void)state;
	bi.rcpts = &r;
	bi.nrcpts = 1;
	bi.sender = "b\xc3\xa9\x61@example.com";
	s = compose(&bi, &len);
	root = mime_parse(s, len);
	assert_header(s, root, "To", "<b\xc3\xa9\x61@example.com>");
	assert_header(s, root, "Content-Transfer-Encoding", "8bit");
	assert_int_equal(root->nchildren, 3);
	c = &root->children[0];
	assert_string_equal(mime_param_get(c->params, c->nparams, "charset"),
	    "utf-8");
	assert_string_equal(c->encoding, "8bit");
	c = &root->children[1];
	split_blocks(s + c->body_off, c->body_len, &b);
	assert_field(&b, 1, "Original-Recipient",
	    "utf-8; j\\x{FC}rgen\\x{2B}tag@r\\x{E9}mote.test");
	assert_field(&b, 1, "Final-Recipient",
	    "utf-8; j\\x{FC}rgen@r\\x{E9}mote.test");
	mime_free(&root);
	free(s);
}

static void
test_original_headers(void **state)
{
	struct bounce_info bi = info_two();
	struct mime_part *root;
	const struct mime_part *c;
	char *s, *h;
	size_t len;

	(void)state;
	s = compose(&bi, &len);
	root = mime_parse(s, len);
	assert_int_equal(root->nchildren, 3);
	c = &root->children[2];
	h = xstrndup(s + c->body_off, c->body_len);
	/* The header block exactly, with its last CRLF (the one before the
	 * boundary is the delimiter's), and nothing of the body. */
	assert_int_equal(strlen(h),
	    (size_t)(strstr(orig_msg, "\r\n\r\n") - orig_msg) + 2);
	assert_memory_equal(h, orig_msg, strlen(h));
	assert_non_null(strstr(h, "Subject: Lunch?"));
	assert_non_null(strstr(h, "Message-ID: <lunch-1@example.com>"));
	assert_null(strstr(s, "BODY-SECRET"));
	assert_null(strstr(s, "from nowhere"));
	assert_string_equal(c->encoding, "7bit");
	free(h);
	mime_free(&root);
	free(s);
}

/* Odd originals: bare LFs, no body, nothing at all, 8-bit headers, a
 * header block past BOUNCE_HEADERS_MAX, a boundary-like line. */
static void
test_original_odd(void **state)
{
	struct bounce_info bi = info_two();
	struct mime_part *root;
	const struct mime_part *c;
	char *s, *h, *big;
	size_t len, n;

	(void)state;
	/* LF line ends: made CRLF (compose() checks), body left out. */
	bi.msg = "Subject: lf\nFrom: a@b\n\nbody-lf\n";
	bi.msglen = strlen(bi.msg);
	s = compose(&bi, &len);
	assert_non_null(strstr(s, "\r\nSubject: lf\r\nFrom: a@b\r\n\r\n--"));
	assert_null(strstr(s, "body-lf"));
	free(s);

	/* Headers only, no final line end. */
	bi.msg = "Subject: only\r\nX-Last: yes";
	bi.msglen = strlen(bi.msg);
	s = compose(&bi, &len);
	assert_non_null(strstr(s, "\r\nSubject: only\r\nX-Last: yes\r\n\r\n--"));
	free(s);

	/* Empty message, and none at all. */
	bi.msg = "";
	bi.msglen = 0;
	s = compose(&bi, &len);
	root = mime_parse(s, len);
	assert_int_equal(root->nchildren, 3);
	assert_int_equal(root->children[2].body_len, 0);
	mime_free(&root);
	free(s);
	bi.msg = NULL;
	s = compose(&bi, &len);
	free(s);

	/* 8-bit header (raw UTF-8 subject): kept, declared 8bit. */
	bi.msg = "Subject: \xc3\xa9t\xc3\xa9\r\n\r\nbody\r\n";
	bi.msglen = strlen(bi.msg);
	s = compose(&bi, &len);
	root = mime_parse(s, len);
	assert_int_equal(root->nchildren, 3);
	c = &root->children[2];
	assert_string_equal(c->encoding, "8bit");
	assert_header(s, root, "Content-Transfer-Encoding", "8bit");
	assert_non_null(strstr(s, "Subject: \xc3\xa9t\xc3\xa9\r\n"));
	mime_free(&root);
	free(s);

	/* A huge header block: cut at a line end within the limit. */
	n = BOUNCE_HEADERS_MAX * 2;
	big = xmalloc(n + 64);
	len = 0;
	while (len < n) {
		len += (size_t)sprintf(big + len, "X-Filler-%06zu: abcdef\r\n",
		    len);
	}
	memcpy(big + len, "\r\nbody\r\n", 8);
	bi.msg = big;
	bi.msglen = len + 8;
	s = compose(&bi, &len);
	root = mime_parse(s, len);
	assert_int_equal(root->nchildren, 3);
	c = &root->children[2];
	assert_true(c->body_len <= BOUNCE_HEADERS_MAX);
	assert_true(c->body_len > BOUNCE_HEADERS_MAX - 100);
	h = xstrndup(s + c->body_off, c->body_len);
	assert_int_equal(strncmp(h, big, strlen(h)), 0);
	assert_int_equal(strncmp(h + strlen(h) - 2, "\r\n", 2), 0);
	free(h);
	mime_free(&root);
	free(s);
	free(big);

	/* One header line past 998 characters: broken into continuations. */
	big = xmalloc(3000);
	memcpy(big, "X-Long: ", 8);
	memset(big + 8, 'z', 2500);
	memcpy(big + 2508, "\r\n\r\n", 5);
	bi.msg = big;
	bi.msglen = strlen(big);
	s = compose(&bi, &len);		/* checks the 998 limit */
	root = mime_parse(s, len);
	c = &root->children[2];
	h = mime_header_get(s + c->body_off, c->body_len, "X-Long");
	assert_non_null(h);
	n = 0;
	for (const char *p = h; *p != '\0'; p++)
		n += *p == 'z';
	assert_int_equal(n, 2500);
	free(h);
	mime_free(&root);
	free(s);
	free(big);
}

/* The boundary never occurs in what it separates. */
static void
test_boundary_unique(void **state)
{
	struct bounce_info bi = info_two();
	struct mime_part *root;
	char *s, *msg, *b0, next[128], *us;
	size_t len;
	unsigned long long t;
	unsigned long pid;
	unsigned cnt;

	(void)state;
	s = compose(&bi, &len);
	root = mime_parse(s, len);
	b0 = xstrdup(mime_param_get(root->params, root->nparams, "boundary"));
	mime_free(&root);
	free(s);
	/* "=_rmail_TIME_PID_COUNTER": the next one has COUNTER + 1. */
	assert_int_equal(sscanf(b0, "=_rmail_%llx_%lx_%x", &t, &pid, &cnt), 3);
	assert_int_equal(pid, (unsigned long)getpid());
	snprintf(next, sizeof(next), "=_rmail_%llx_%lx_%x", t, pid, cnt + 1);
	msg = xasprintf("Subject: trap\r\nX-Trap: --%s\r\n\r\n", next);
	bi.msg = msg;
	bi.msglen = strlen(msg);
	s = compose(&bi, &len);
	root = mime_parse(s, len);
	us = xstrdup(mime_param_get(root->params, root->nparams, "boundary"));
	assert_string_not_equal(us, next);
	assert_int_equal(root->nchildren, 3);
	assert_non_null(strstr(s, next));	/* the header is still there */
	mime_free(&root);
	free(us);
	free(s);
	free(msg);
	free(b0);
}

static void
test_bounce_wanted(void **state)
{
	(void)state;
	assert_false(bounce_wanted(""));
	assert_false(bounce_wanted("<>"));
	assert_false(bounce_wanted(NULL));
	assert_true(bounce_wanted("alice@example.com"));
	assert_true(bounce_wanted("<alice@example.com>"));
	/* RFC 5321: only the null path is exempt, not MAILER-DAEMON. */
	assert_true(bounce_wanted("MAILER-DAEMON@example.com"));
	assert_true(bounce_wanted("postmaster@example.com"));
}

static void
test_count_received(void **state)
{
	static const struct {
		const char	*msg;
		size_t		 want;
	} cases[] = {
		{ "", 0 },
		{ "Subject: x\r\n\r\nReceived: body\r\n", 0 },
		{ "Received: a\r\n\r\nReceived: body\r\n", 1 },
		{ "Received: a\r\n b\r\nRECEIVED: c\r\nreceived:d\r\n", 3 },
		/* Blanks before the colon (RFC 5322 4.5.3). */
		{ "Received : a\r\nReceived\t: b\r\n", 2 },
		/* Other names, continuations, no colon. */
		{ "X-Received: a\r\nReceived-SPF: pass\r\n Received: c\r\n"
		  "\tReceived: d\r\nReceived\r\nReceivedx: e\r\n", 0 },
		/* LF only, no end of line at the end. */
		{ "Received: a\nReceived: b\n\nReceived: c\n", 2 },
		{ "Received: a\r\nReceived: b", 2 },
		/* A blank line first: no headers at all. */
		{ "\r\nReceived: a\r\n", 0 },
	};
	char *big;
	size_t len = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t got = bounce_count_received(cases[i].msg,
		    strlen(cases[i].msg));

		if (got != cases[i].want)
			fail_msg("case %zu: got %zu, want %zu", i, got,
			    cases[i].want);
	}
	/* len bounds the scan. */
	assert_int_equal(bounce_count_received("Received: a\r\nReceived: b", 13),
	    1);
	assert_int_equal(bounce_count_received("Received: a", 5), 0);

	/* The loop rule's threshold. */
	big = xmalloc(100 * 64);
	for (int i = 0; i < BOUNCE_MAX_RECEIVED + 1; i++)
		len += (size_t)sprintf(big + len, "Received: from hop%d\r\n", i);
	len += (size_t)sprintf(big + len, "Subject: loop\r\n\r\nbody\r\n");
	assert_int_equal(bounce_count_received(big, len),
	    BOUNCE_MAX_RECEIVED + 1);
	assert_true(bounce_count_received(big, len) > BOUNCE_MAX_RECEIVED);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_text_part),
		cmocka_unit_test(test_dsn_fields),
		cmocka_unit_test(test_delayed),
		cmocka_unit_test(test_fold_long_diagnostic),
		cmocka_unit_test(test_sanitise),
		cmocka_unit_test(test_utf8_addresses),
		cmocka_unit_test(test_original_headers),
		cmocka_unit_test(test_original_odd),
		cmocka_unit_test(test_boundary_unique),
		cmocka_unit_test(test_bounce_wanted),
		cmocka_unit_test(test_count_received),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
