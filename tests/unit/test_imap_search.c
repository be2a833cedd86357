/* Unit tests: imap/search (SEARCH program parsing and matching). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "imap/imapdate.h"
#include "imap/search.h"
#include "store/mime.h"

/*
 * Arguments as the IMAP parser would give them, built from a spec:
 * blank-separated atoms (NIL in any case is IMAP_ARG_NIL), "quoted
 * strings" (with \" and \\), and parenthesised lists. Keeps these tests independent of parser.c.
 */
static void
args_build(const char **sp, struct imap_arg **v_r, size_t *n_r)
{
	struct imap_arg *v = NULL, *a;
	const char *s = *sp;
	size_t n = 0, len;
	char *str;

	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == '\0' || *s == ')')
			break;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		a = &v[n++];
		memset(a, 0, sizeof(*a));
		if (*s == '(') {
			s++;
			a->type = IMAP_ARG_LIST;
			args_build(&s, &a->list, &a->nlist);
			assert_int_equal(*s, ')');
			s++;
		} else if (*s == '"') {
			a->type = IMAP_ARG_QUOTED;
			str = xmalloc(strlen(s));
			len = 0;
			for (s++; *s != '"'; s++) {
				assert_int_not_equal(*s, '\0');
				if (*s == '\\')
					s++;
				str[len++] = *s;
			}
			s++;
			str[len] = '\0';
			a->str = str;
			a->len = len;
		} else {
			len = strcspn(s, " ()");
			a->type = IMAP_ARG_ATOM;
			a->str = xstrndup(s, len);
			a->len = len;
			s += len;
			if (ascii_casecmp(a->str, "NIL") == 0) {
				/* As the parser gives it. */
				a->type = IMAP_ARG_NIL;
				FREE_NULL(a->str);
				a->len = 0;
			}
		}
	}
	*sp = s;
	*v_r = v;
	*n_r = n;
}

static void
args_free(struct imap_arg *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		args_free(v[i].list, v[i].nlist);
		free(v[i].str);
	}
	free(v);
}

/* The test mailbox. */
struct tmsg {
	uint32_t	 uid;
	uint8_t		 sys;
	uint32_t	 kw;
	bool		 recent;
	uint64_t	 size;
	const char	*idate;		/* INTERNALDATE, IMAP date-time */
	const char	*raw;		/* NULL: data() fails */
	struct mime_part *root;
	int		 loads;		/* data() calls */
};

static struct tmsg msgs[] = {
	{ 10, STORE_F_SEEN | STORE_F_ANSWERED, 0, false, 100,
	  "02-Jan-2020 10:00:00 +0000",
	  "From: \"Alice Example\" <alice@example.com>\r\n"
	  "To: bob@example.org\r\n"
	  "Cc: carol@example.net\r\n"
	  "Subject: Hello\r\n world\r\n"
	  "Date: Wed, 1 Jan 2020 23:30:00 -1100\r\n"
	  "\r\n"
	  "The quick brown fox\r\n", NULL, 0 },
	{ 20, STORE_F_FLAGGED, 1, true, 2000,
	  "15-Mar-2021 00:00:00 +0100",	/* 14 March, UTC */
	  "From: =?UTF-8?B?SsO8cmdlbiBHcm/Dnw==?= <j@example.de>\r\n"
	  "To: Team <team@example.de>\r\n"
	  "Subject: =?ISO-8859-1?Q?=C4pfel_und_=D6l?=\r\n"
	  "Date: 15 Mar 21 09:00 +0100\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: text/plain; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: base64\r\n"
	  "\r\n"
	  "R3LDvMOfZSBhdXMgTcO8bmNoZW4sIMOEw5bDnA0K\r\n", NULL, 0 },
	{ 30, STORE_F_DELETED | STORE_F_DRAFT, 8, false, 3000,
	  "31-Dec-2021 23:59:59 +0000",
	  "From: dave@example.com\r\n"
	  "Bcc: secret-list@example.com\r\n"
	  "Subject: Menu\r\n"
	  "X-Mailer: FooMail 1.0\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	  "\r\n"
	  "preamble hidden\r\n"
	  "--b1\r\n"
	  "Content-Type: multipart/alternative; boundary=b2\r\n"
	  "\r\n"
	  "--b2\r\n"
	  "Content-Type: text/plain; charset=ISO-8859-1\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n"
	  "\r\n"
	  "Caf=E9 cr=E8me =C4=D6 and a very long line that goes =\r\n"
	  "on and on\r\n"
	  "--b2\r\n"
	  "Content-Type: text/html; charset=us-ascii\r\n"
	  "\r\n"
	  "<p>Html part</p>\r\n"
	  "--b2--\r\n"
	  "--b1\r\n"
	  "Content-Type: application/octet-stream\r\n"
	  "Content-Transfer-Encoding: base64\r\n"
	  "\r\n"
	  "c2VjcmV0d29yZCBpbiBhbiBhdHRhY2htZW50DQo=\r\n"
	  "--b1--\r\n", NULL, 0 },
	{ 40, 0, 0, true, 4000,
	  "01-Jan-2022 00:00:00 +0000",
	  "From: ivan@example.ru\r\n"
	  "To: all@example.ru\r\n"
	  "Subject: =?UTF-8?B?"
	  "0J/RgNC40LLQtdGCIM6azpHOm86XzpzOlc6hzpEgzrrPjM+DzrzOv8+C?=\r\n"
	  "Date: Sat, 1 Jan 2022 00:00:00 +0000\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=zz\r\n"
	  "\r\n"
	  "--zz\r\n"
	  "Content-Type: text/plain\r\n"
	  "\r\n"
	  "See the forwarded message.\r\n"
	  "--zz\r\n"
	  "Content-Type: message/rfc822\r\n"
	  "\r\n"
	  "From: inner@example.org\r\n"
	  "Subject: Inner subject\r\n"
	  "\r\n"
	  "inner body text\r\n"
	  "--zz--\r\n", NULL, 0 },
	{ 50, STORE_F_SEEN, 0, false, 500,
	  "01-Jan-2022 00:00:00 +0000", NULL, NULL, 0 },
};
#define NMSGS	NELEM(msgs)
#define MAX_UID	50

static int
t_data(void *arg, const char **data_r, size_t *len_r,
    const struct mime_part **root_r)
{
	struct tmsg *m = arg;

	m->loads++;
	if (m->raw == NULL)
		return -1;
	if (m->root == NULL)
		m->root = mime_parse(m->raw, strlen(m->raw));
	*data_r = m->raw;
	*len_r = strlen(m->raw);
	*root_r = m->root;
	return 0;
}

/* Keywords: $Forwarded is bit 0, Work bit 3; nothing else exists. */
static int
t_keyword(void *arg, const char *name)
{
	(void)arg;
	if (ascii_casecmp(name, "$Forwarded") == 0)
		return 0;
	if (ascii_casecmp(name, "Work") == 0)
		return 3;
	return -1;
}

static const struct imap_search_ctx ctx = {
	.max_seq = NMSGS, .max_uid = MAX_UID, .keyword = t_keyword,
};

static int
setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < NMSGS; i++)
		msgs[i].root = NULL;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < NMSGS; i++)
		mime_free(&msgs[i].root);
	return 0;
}

static int
parse(const char *spec, struct imap_search **search_r, bool *bad_r,
    char *err, size_t errlen)
{
	struct imap_arg *v;
	size_t n;
	int r;

	args_build(&spec, &v, &n);
	assert_int_equal(*spec, '\0');
	r = imap_search_parse(v, n, &ctx, search_r, bad_r, err, errlen);
	args_free(v, n);
	return r;
}

static void
fill(struct imap_search_msg *sm, size_t i)
{
	time_t t;

	memset(sm, 0, sizeof(*sm));
	sm->seq = (uint32_t)i + 1;
	sm->uid = msgs[i].uid;
	sm->flags.sys = msgs[i].sys;
	sm->flags.kw = msgs[i].kw;
	sm->recent = msgs[i].recent;
	sm->size = msgs[i].size;
	assert_int_equal(imap_datetime_parse(msgs[i].idate, &t), 0);
	sm->internaldate = t;
	sm->data = t_data;
	sm->arg = &msgs[i];
}

/* The sequence numbers matching spec, as "1 3 4"; static buffer. */
static const char *
run(const char *spec)
{
	static char out[64];
	struct imap_search *search = NULL;
	struct imap_search_msg sm;
	char err[128];
	bool bad = true;
	size_t len = 0;

	if (parse(spec, &search, &bad, err, sizeof(err)) != 0)
		fail_msg("parse \"%s\": %s", spec, err);
	assert_false(bad);
	out[0] = '\0';
	for (size_t i = 0; i < NMSGS; i++) {
		fill(&sm, i);
		if (imap_search_match(search, &sm))
			len += (size_t)snprintf(out + len, sizeof(out) - len,
			    "%s%zu", len > 0 ? " " : "", i + 1);
	}
	imap_search_free(&search);
	assert_null(search);
	return out;
}

#define MATCH(spec, want) do {						\
	const char *got_ = run(spec);					\
	if (strcmp(got_, want) != 0)					\
		fail_msg("%s: got \"%s\", want \"%s\"", spec, got_, want); \
} while (0)

static void
test_flags(void **state)
{
	(void)state;
	MATCH("ALL", "1 2 3 4 5");
	MATCH("all", "1 2 3 4 5");
	MATCH("SEEN", "1 5");
	MATCH("UnSeen", "2 3 4");
	MATCH("ANSWERED", "1");
	MATCH("UNANSWERED", "2 3 4 5");
	MATCH("DELETED", "3");
	MATCH("UNDELETED", "1 2 4 5");
	MATCH("DRAFT", "3");
	MATCH("UNDRAFT", "1 2 4 5");
	MATCH("FLAGGED", "2");
	MATCH("UNFLAGGED", "1 3 4 5");
	MATCH("RECENT", "2 4");
	MATCH("OLD", "1 3 5");
	MATCH("NEW", "2 4");
	MATCH("KEYWORD $Forwarded", "2");
	MATCH("KEYWORD $forwarded", "2");
	MATCH("UNKEYWORD $Forwarded", "1 3 4 5");
	MATCH("KEYWORD Work", "3");
	MATCH("KEYWORD \"Work\"", "3");
	MATCH("KEYWORD $Junk", "");
	MATCH("UNKEYWORD $Junk", "1 2 3 4 5");
	MATCH("LARGER 500", "2 3 4");
	MATCH("LARGER 499", "2 3 4 5");
	MATCH("SMALLER 500", "1");
	MATCH("SMALLER 3000 LARGER 100", "2 5");
	MATCH("LARGER 18446744073709551615", "");
}

static void
test_sets(void **state)
{
	(void)state;
	MATCH("1", "1");
	MATCH("*", "5");
	MATCH("2:*", "2 3 4 5");
	MATCH("*:4", "4 5");
	MATCH("1,3,5", "1 3 5");
	MATCH("4:2", "2 3 4");
	MATCH("6:*", "5");
	MATCH("7", "");
	MATCH("UID 20", "2");
	MATCH("UID 20:40", "2 3 4");
	MATCH("uid 30:*", "3 4 5");
	MATCH("UID *", "5");
	MATCH("UID 60:*", "5");	/* RFC 3501 6.4.8: n:* has the last */
	MATCH("UID 1:19,41:45", "1");
	MATCH("1:3 UID 20:50", "2 3");
}

static void
test_logic(void **state)
{
	(void)state;
	MATCH("OR SEEN FLAGGED", "1 2 5");
	MATCH("OR (SEEN ANSWERED) DELETED", "1 3");
	MATCH("NOT SEEN", "2 3 4");
	MATCH("NOT NOT SEEN", "1 5");
	MATCH("NOT (SEEN ANSWERED)", "2 3 4 5");
	MATCH("NOT OR SEEN RECENT", "3");
	MATCH("(SEEN) (UNANSWERED)", "5");
	MATCH("((SEEN))", "1 5");
	MATCH("OR OR 1 2 3", "1 2 3");
	MATCH("OR 1 OR 2 (3 DELETED)", "1 2 3");
	MATCH("SEEN NOT 1", "5");
	MATCH("(OR SEEN FLAGGED) (OR RECENT DELETED)", "2");
	MATCH("OR NOT SEEN NOT UNSEEN", "1 2 3 4 5");
}

static void
test_dates(void **state)
{
	(void)state;
	/* INTERNALDATE, UTC days: 2 Jan 2020, 14 Mar 2021, 31 Dec 2021,
	 * 1 Jan 2022, 1 Jan 2022. */
	MATCH("BEFORE 2-Jan-2020", "");
	MATCH("ON 2-Jan-2020", "1");
	MATCH("ON \"02-Jan-2020\"", "1");
	MATCH("SINCE 2-Jan-2020", "1 2 3 4 5");
	MATCH("BEFORE 3-Jan-2020", "1");
	MATCH("ON 14-Mar-2021", "2");
	MATCH("ON 15-Mar-2021", "");
	MATCH("SINCE 31-Dec-2021", "3 4 5");
	MATCH("SINCE 1-jan-2022", "4 5");
	MATCH("BEFORE 1-Jan-2022", "1 2 3");
	/* Date: as written, its zone disregarded: 1 Jan 2020, 15 Mar 2021,
	 * none, 1 Jan 2022; 5 is unreadable. */
	MATCH("SENTON 1-Jan-2020", "1");
	MATCH("SENTBEFORE 2-Jan-2020", "1");
	MATCH("SENTBEFORE 1-Jan-2020", "");
	MATCH("SENTON 15-Mar-2021", "2");
	MATCH("SENTSINCE 15-Mar-2021", "2 4");
	MATCH("SENTSINCE 1-Jan-1970", "1 2 4");
	MATCH("NOT SENTSINCE 1-Jan-1970", "3");
	MATCH("OR SEEN SENTON 1-Jan-2022", "1 4 5");
}

static void
test_headers(void **state)
{
	(void)state;
	MATCH("FROM alice", "1");
	MATCH("FROM \"ALICE EXAMPLE\"", "1");
	MATCH("FROM example.com", "1 3");
	MATCH("FROM \"<alice@example.com>\"", "1");
	MATCH("TO bob", "1");
	MATCH("TO team", "2");
	MATCH("CC carol", "1");
	MATCH("BCC secret-list", "3");
	MATCH("BCC example", "3");
	MATCH("SUBJECT \"hello world\"", "1");
	MATCH("SUBJECT hello", "1");
	MATCH("SUBJECT \"\"", "1 2 3 4");
	/* RFC 2047 and folding beyond ASCII. */
	MATCH("FROM jürgen", "2");
	MATCH("FROM JÜRGEN", "2");
	MATCH("FROM \"groß\"", "2");
	MATCH("SUBJECT äpfel", "2");
	MATCH("SUBJECT \"ÄPFEL UND ÖL\"", "2");
	MATCH("SUBJECT \"äpfel und öl\"", "2");
	MATCH("SUBJECT привет", "4");
	MATCH("SUBJECT ПРИВЕТ", "4");
	MATCH("SUBJECT καλημερα", "4");
	MATCH("SUBJECT ΚΌΣΜΟΣ", "4");	/* final sigma folds to sigma */
	MATCH("SUBJECT inner", "");	/* the embedded message's */
	MATCH("HEADER X-Mailer \"\"", "3");
	MATCH("HEADER x-mailer foomail", "3");
	MATCH("HEADER X-MAILER \"FooMail 1.0\"", "3");
	MATCH("HEADER X-Mailer barmail", "");
	MATCH("HEADER Date \"\"", "1 2 4");
	MATCH("HEADER Content-Type multipart", "3 4");
	MATCH("NOT HEADER Date \"\"", "3");
	MATCH("HEADER \"\" \"\"", "");
	/* NIL is an astring like any atom. */
	MATCH("SUBJECT nil", "");
	MATCH("HEADER X-Mailer NIL", "");
	MATCH("HEADER NIL \"\"", "");
	MATCH("NOT KEYWORD NIL", "1 2 3 4 5");
}

static void
test_body_text(void **state)
{
	(void)state;
	MATCH("BODY fox", "1");
	MATCH("BODY \"QUICK BROWN\"", "1");
	MATCH("BODY quick TO bob", "1");
	/* base64, UTF-8 */
	MATCH("BODY \"grüße aus münchen\"", "2");
	MATCH("BODY MÜNCHEN", "2");
	MATCH("BODY äöü", "2");
	MATCH("BODY R3LDvMOf", "");
	/* quoted-printable ISO-8859-1, soft line break, the html part */
	MATCH("BODY \"café crème äö\"", "3");
	MATCH("BODY \"CAFÉ\"", "3");
	MATCH("BODY \"goes on and on\"", "3");
	MATCH("BODY \"html part\"", "3");
	MATCH("BODY secretword", "");		/* application/octet-stream */
	MATCH("BODY preamble", "");
	MATCH("BODY \"=E9\"", "");
	/* embedded message/rfc822: its header and text are body */
	MATCH("BODY \"inner body\"", "4");
	MATCH("BODY \"inner subject\"", "4");
	MATCH("BODY forwarded", "4");
	MATCH("BODY subject", "4");
	MATCH("BODY \"\"", "1 2 3 4");
	/* TEXT: header fields ("Name: value") or body */
	MATCH("TEXT fox", "1");
	MATCH("TEXT alice", "1");
	MATCH("TEXT \"x-mailer: foomail\"", "3");
	MATCH("TEXT äpfel", "2");
	MATCH("TEXT münchen", "2");
	MATCH("TEXT inner", "4");
	MATCH("TEXT example", "1 2 3 4");
	MATCH("TEXT zzzz", "");
	MATCH("NOT TEXT zzzz", "1 2 3 4");
	MATCH("OR SEEN TEXT zzzz", "1 5");
}

static void
test_fold(void **state)
{
	(void)state;
	assert_true(imap_search_text("xÄÖy", strlen("xÄÖy"), "äö"));
	assert_true(imap_search_text("xäöy", strlen("xäöy"), "ÄÖ"));
	assert_true(imap_search_text("Hello", 5, "hELLO"));
	assert_true(imap_search_text("Hello", 5, ""));
	assert_true(imap_search_text("", 0, ""));
	assert_false(imap_search_text("Hell", 4, "hello"));
	assert_false(imap_search_text("Hello", 5, "hello!"));
	assert_true(imap_search_text("ŸES", strlen("ŸES"), "ÿes"));
	assert_true(imap_search_text("ŁÓDŹ", strlen("ŁÓDŹ"), "łódź"));
	assert_true(imap_search_text("ČEŠTINA", strlen("ČEŠTINA"),
	    "čeština"));
	assert_true(imap_search_text("ΆΈΉΊΌΎΏ", strlen("ΆΈΉΊΌΎΏ"),
	    "άέήίόύώ"));
	assert_true(imap_search_text("ЁЖИК ЇЖАК", strlen("ЁЖИК ЇЖАК"),
	    "ёжик їжак"));
	assert_true(imap_search_text("ÞÆØÅ", strlen("ÞÆØÅ"), "þæøå"));
	/* × and ÷ are not letters: no fold */
	assert_false(imap_search_text("×", strlen("×"), "÷"));
	assert_false(imap_search_text("ä", strlen("ä"), "a"));
	/* Hay with NULs and invalid UTF-8 is searched bytewise. */
	assert_true(imap_search_text("a\0b\xc3Xc", 6, "xc"));
	assert_false(imap_search_text("a\0b", 3, "ab"));
}

static void
test_charset(void **state)
{
	struct imap_search *search = NULL;
	char err[128];
	bool bad;

	(void)state;
	MATCH("CHARSET UTF-8 SEEN", "1 5");
	MATCH("charset utf-8 SEEN", "1 5");
	MATCH("CHARSET \"US-ASCII\" FROM alice", "1");
	MATCH("CHARSET us-ascii ALL", "1 2 3 4 5");

	assert_int_equal(parse("CHARSET ISO-8859-1 ALL", &search, &bad, err,
	    sizeof(err)), -1);
	assert_true(bad);
	assert_null(search);
	assert_int_equal(parse("CHARSET KOI8-R", &search, &bad, err,
	    sizeof(err)), -1);
	assert_true(bad);
	/* Not a charset problem: BAD, not BADCHARSET. */
	assert_int_equal(parse("CHARSET", &search, &bad, err,
	    sizeof(err)), -1);
	assert_false(bad);
	assert_int_equal(parse("CHARSET UTF-8", &search, &bad, err,
	    sizeof(err)), -1);
	assert_false(bad);
	assert_int_equal(parse("CHARSET (UTF-8) ALL", &search, &bad, err,
	    sizeof(err)), -1);
	assert_false(bad);
	assert_int_equal(parse("ALL CHARSET UTF-8", &search, &bad, err,
	    sizeof(err)), -1);
	assert_false(bad);
	/* badcharset_r may be NULL. */
	assert_int_equal(parse("CHARSET BIG5 ALL", &search, NULL, err,
	    sizeof(err)), -1);
}

static void
bad_parse(const char *spec, const char *want_err)
{
	struct imap_search *search = NULL;
	char err[128] = "";
	bool bad = true;

	if (parse(spec, &search, &bad, err, sizeof(err)) != -1)
		fail_msg("\"%s\" parsed", spec);
	assert_null(search);
	assert_false(bad);
	if (strstr(err, want_err) == NULL)
		fail_msg("\"%s\": error \"%s\", want \"%s\"", spec, err,
		    want_err);
}

static void
test_parse_errors(void **state)
{
	struct imap_search *search = NULL;
	struct imap_arg lit[2];
	char err[128], *spec;
	size_t len;

	(void)state;
	bad_parse("", "Missing search keys");
	bad_parse("()", "Missing search keys");
	bad_parse("FOO", "Unknown search key");
	bad_parse("SEEN FOO", "Unknown search key");
	bad_parse("\"SEEN\"", "Search key expected");
	bad_parse("NIL", "Search key expected");
	bad_parse("BEFORE", "Missing argument");
	bad_parse("BEFORE 1-Foo-2020", "Invalid argument for BEFORE");
	bad_parse("BEFORE 30-Feb-2020", "Invalid argument");
	bad_parse("SENTON (1-Jan-2020)", "Invalid argument");
	bad_parse("LARGER abc", "Invalid argument for LARGER");
	bad_parse("LARGER -1", "Invalid argument");
	bad_parse("LARGER \"5\"", "Invalid argument");
	bad_parse("SMALLER 18446744073709551616", "Invalid argument");
	bad_parse("UID x", "Invalid argument for UID");
	bad_parse("UID", "Missing argument");
	bad_parse("0", "Invalid sequence set");
	bad_parse("1:", "Invalid sequence set");
	bad_parse("$", "Invalid sequence set");
	bad_parse("1,,2", "Invalid sequence set");
	bad_parse("OR SEEN", "Missing argument for OR");
	bad_parse("OR", "Missing argument for OR");
	bad_parse("NOT", "Missing argument for NOT");
	bad_parse("NOT FOO", "Unknown search key");
	bad_parse("HEADER Subject", "Missing argument for HEADER");
	bad_parse("HEADER", "Missing argument for HEADER");
	bad_parse("SUBJECT", "Missing argument for SUBJECT");
	bad_parse("SUBJECT (a)", "Invalid argument for SUBJECT");
	bad_parse("KEYWORD", "Missing argument");
	bad_parse("(SEEN (FLAGGED FOO))", "Unknown search key");

	/* A literal holding a NUL is no astring. */
	memset(lit, 0, sizeof(lit));
	lit[0].type = IMAP_ARG_ATOM;
	lit[0].str = xstrdup("BODY");
	lit[0].len = 4;
	lit[1].type = IMAP_ARG_LITERAL;
	lit[1].str = xmalloc(4);
	memcpy(lit[1].str, "a\0b", 4);
	lit[1].len = 3;
	assert_int_equal(imap_search_parse(lit, 2, &ctx, &search, NULL, err,
	    sizeof(err)), -1);
	/* ... but a literal without one is. */
	lit[1].len = 1;
	assert_int_equal(imap_search_parse(lit, 2, &ctx, &search, NULL, err,
	    sizeof(err)), 0);
	imap_search_free(&search);
	imap_search_free(&search);	/* NULL is fine */
	free(lit[0].str);
	free(lit[1].str);

	/* Nesting: 64 levels are fine, 65 are not, whatever the mix. */
	spec = xmalloc(66 * 12 + 16);
	len = 0;
	for (int i = 0; i < 64; i++)
		len += (size_t)sprintf(spec + len, "NOT ");
	strcpy(spec + len, "SEEN");
	MATCH(spec, "1 5");
	strcpy(spec + len, "NOT SEEN");
	bad_parse(spec, "nested too deeply");
	len = 0;
	for (int i = 0; i < 64; i++)
		len += (size_t)sprintf(spec + len, "(");
	len += (size_t)sprintf(spec + len, "SEEN");
	for (int i = 0; i < 64; i++)
		len += (size_t)sprintf(spec + len, ")");
	MATCH(spec, "1 5");
	memmove(spec + 1, spec, len + 1);
	spec[0] = '(';
	strcat(spec, ")");
	bad_parse(spec, "nested too deeply");
	/* OR and a list: two levels each. */
	for (int k = 32; k <= 33; k++) {
		len = 0;
		for (int i = 0; i < k; i++)
			len += (size_t)sprintf(spec + len, "OR (");
		len += (size_t)sprintf(spec + len, "SEEN");
		for (int i = 0; i < k; i++)
			len += (size_t)sprintf(spec + len, ") FLAGGED");
		if (k == 32)
			MATCH(spec, "1 2 5");
		else
			bad_parse(spec, "nested too deeply");
	}
	free(spec);

	/* Keys: 10000 are fine, 10001 are not. */
	spec = xmalloc(10001 * 5 + 1);
	len = 0;
	for (int i = 0; i < 9999; i++)
		len += (size_t)sprintf(spec + len, "SEEN ");
	strcpy(spec + len, "SEEN");
	assert_int_equal(parse(spec, &search, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Too many search keys"));
	strcpy(spec + len, "");
	assert_int_equal(parse(spec, &search, NULL, err, sizeof(err)), 0);
	imap_search_free(&search);
	free(spec);
}

static void
test_needs_data(void **state)
{
	static const struct {
		const char	*spec;
		bool		 needs;
	} cases[] = {
		{ "SEEN", false },
		{ "ALL", false },
		{ "1:* UID 3 LARGER 5 BEFORE 1-Jan-2020 KEYWORD Work", false },
		{ "OR SEEN NOT (FLAGGED ON 1-Jan-2020)", false },
		{ "SENTON 1-Jan-2020", true },
		{ "OR SEEN BODY x", true },
		{ "NOT (SEEN (TEXT x))", true },
		{ "HEADER X-Foo \"\"", true },
		{ "SEEN SUBJECT x", true },
	};
	struct imap_search *search;
	char err[128];

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		assert_int_equal(parse(cases[i].spec, &search, NULL, err,
		    sizeof(err)), 0);
		assert_int_equal(imap_search_needs_data(search),
		    cases[i].needs);
		imap_search_free(&search);
	}
}

static void
test_lazy(void **state)
{
	(void)state;
	for (size_t i = 0; i < NMSGS; i++)
		msgs[i].loads = 0;
	/* The flag key, though written last, decides first. */
	MATCH("BODY fox SUBJECT hello SENTON 1-Jan-2020 SEEN", "1");
	assert_int_equal(msgs[0].loads, 1);
	assert_int_equal(msgs[1].loads, 0);
	assert_int_equal(msgs[2].loads, 0);
	assert_int_equal(msgs[3].loads, 0);
	assert_int_equal(msgs[4].loads, 1);
	MATCH("OR UNSEEN BODY zzz", "2 3 4");
	assert_int_equal(msgs[0].loads, 2);
	assert_int_equal(msgs[1].loads, 0);
	assert_int_equal(msgs[4].loads, 2);
	MATCH("FLAGGED DELETED", "");
	assert_int_equal(msgs[1].loads, 0);
	/* An unreadable message matches nothing that needs its data, even
	 * under NOT. */
	MATCH("NOT BODY zzz", "1 2 3 4");
	MATCH("UID 50 NOT SUBJECT zzz", "");
	MATCH("UID 50", "5");
}

/* Flag searches over many messages: no data, and quick. */
static void
test_many(void **state)
{
	static const struct imap_search_ctx big = {
		.max_seq = 100000, .max_uid = 200000,
	};
	struct imap_search *search;
	struct imap_search_msg sm;
	struct imap_arg *v;
	const char *spec = "OR (UNSEEN UNDELETED) (FLAGGED NOT 1:10) "
	    "UID 3:*";
	char err[128];
	size_t n, hits = 0, want = 0;
	clock_t t0;
	double secs;

	(void)state;
	args_build(&spec, &v, &n);
	assert_int_equal(imap_search_parse(v, n, &big, &search, NULL, err,
	    sizeof(err)), 0);
	args_free(v, n);
	assert_false(imap_search_needs_data(search));
	memset(&sm, 0, sizeof(sm));	/* data() NULL: never called */
	t0 = clock();
	for (int round = 0; round < 10; round++)
		for (uint32_t i = 1; i <= 100000; i++) {
			sm.seq = i;
			sm.uid = i * 2;
			sm.flags.sys = (uint8_t)(i % 32);
			if (imap_search_match(search, &sm))
				hits++;
		}
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	for (uint32_t i = 2; i <= 100000; i++) {
		unsigned f = i % 32;

		if (((f & STORE_F_SEEN) == 0 && (f & STORE_F_DELETED) == 0) ||
		    ((f & STORE_F_FLAGGED) != 0 && i > 10))
			want++;
	}
	assert_int_equal(hits, want * 10);
	/* A million evaluations take milliseconds; allow for slow builds. */
	assert_true(secs < 5.0);
	imap_search_free(&search);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_logic),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_body_text),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_charset),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_needs_data),
		cmocka_unit_test(test_lazy),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
