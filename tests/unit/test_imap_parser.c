/* Unit tests: imap/parser, the incremental IMAP command parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "imap/parser.h"

static const struct imap_parser_limits test_lim = {
	.line_max = 1000,
	.literal_max = 100,
};

/* Chunk sizes for literal bytes: 0 is all at once. */
static const size_t chunks[] = { 0, 1, 2, 3, 7 };

/*
 * Drive p with wire text (lines ending in CRLF, literal bytes after a
 * "{n}" line), literal bytes chunk at a time. Returns the last result;
 * *used_r: the wire bytes consumed.
 */
static enum imap_parse_res
drive(struct imap_parser *p, const char *wire, size_t wlen, size_t chunk,
    size_t *used_r)
{
	const char		*s = wire, *e = wire + wlen, *crlf;
	enum imap_parse_res	 r;
	uint64_t		 n;
	size_t			 k;
	bool			 sync;

	for (;;) {
		crlf = memmem(s, (size_t)(e - s), "\r\n", 2);
		assert_non_null(crlf);
		r = imap_parser_line(p, s, (size_t)(crlf - s));
		s = crlf + 2;
		if (r != IMAP_PARSE_LITERAL)
			break;
		n = imap_parser_literal_size(p, &sync);
		assert_true(n <= (uint64_t)(e - s));
		if (n == 0) {
			/* Alternate: feed nothing at all, or an empty call. */
			if (chunk % 2 == 1) {
				r = imap_parser_literal(p, "", 0);
				assert_int_equal(r, IMAP_PARSE_LINE);
			}
			continue;
		}
		while (n > 0) {
			k = chunk == 0 || chunk > n ? (size_t)n : chunk;
			r = imap_parser_literal(p, s, k);
			s += k;
			n -= k;
			assert_int_equal(r, n > 0 ? IMAP_PARSE_LITERAL :
			    IMAP_PARSE_LINE);
		}
	}
	if (used_r != NULL)
		*used_r = (size_t)(s - wire);
	return r;
}

static void
render_args(const struct imap_arg *v, size_t n, char *buf, size_t len,
    size_t *off)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			*off += (size_t)snprintf(buf + *off, len - *off, " ");
		switch (v[i].type) {
		case IMAP_ARG_ATOM:
			*off += (size_t)snprintf(buf + *off, len - *off, "%s",
			    v[i].str);
			assert_int_equal(strlen(v[i].str), v[i].len);
			break;
		case IMAP_ARG_QUOTED:
			*off += (size_t)snprintf(buf + *off, len - *off,
			    "\"%s\"", v[i].str);
			assert_int_equal(strlen(v[i].str), v[i].len);
			break;
		case IMAP_ARG_LITERAL:
			*off += (size_t)snprintf(buf + *off, len - *off,
			    "%s{%s}", v[i].literal8 ? "~" : "", v[i].str);
			assert_int_equal(v[i].str[v[i].len], '\0');
			break;
		case IMAP_ARG_NIL:
			assert_null(v[i].str);
			*off += (size_t)snprintf(buf + *off, len - *off, "NIL");
			break;
		case IMAP_ARG_LIST:
			assert_null(v[i].str);
			*off += (size_t)snprintf(buf + *off, len - *off, "(");
			render_args(v[i].list, v[i].nlist, buf, len, off);
			*off += (size_t)snprintf(buf + *off, len - *off, ")");
			break;
		}
		assert_true(*off < len);
	}
}

/*
 * The command in wire parses, whatever the literal split, to tag, name,
 * uid and args rendered as: atom, "quoted", {literal}, ~{literal8}, NIL,
 * (list).
 */
static void
check_cmd(const char *wire, const char *tag, const char *name, bool uid,
    const char *args)
{
	struct imap_parser	*p = imap_parser_new(&test_lim);
	const struct imap_cmd	*cmd;
	char			 buf[4096];
	size_t			 i, off, used;

	for (i = 0; i < NELEM(chunks); i++) {
		if (drive(p, wire, strlen(wire), chunks[i], &used) !=
		    IMAP_PARSE_DONE)
			fail_msg("\"%s\": %s", wire,
			    imap_parser_error(p, NULL));
		assert_int_equal(used, strlen(wire));
		cmd = imap_parser_cmd(p);
		assert_non_null(cmd);
		assert_string_equal(cmd->tag, tag);
		assert_string_equal(cmd->name, name);
		assert_int_equal(cmd->uid, uid);
		assert_string_equal(imap_parser_tag(p), tag);
		assert_string_equal(imap_parser_name(p), name);
		off = 0;
		buf[0] = '\0';
		render_args(cmd->args, cmd->nargs, buf, sizeof(buf), &off);
		assert_string_equal(buf, args);
		assert_null(imap_parser_error(p, NULL));
		imap_parser_reset(p);
		assert_null(imap_parser_cmd(p));
		assert_null(imap_parser_tag(p));
	}
	imap_parser_free(&p);
	assert_null(p);
}

/* wire fails with msg; the tag and name seen (or NULL) and toobig. */
static void
check_err(const char *wire, size_t wlen, const char *msg, const char *tag,
    const char *name, bool toobig)
{
	struct imap_parser	*p = imap_parser_new(&test_lim);
	const char		*err;
	bool			 big;
	size_t			 i;

	for (i = 0; i < NELEM(chunks); i++) {
		assert_int_equal(drive(p, wire, wlen, chunks[i], NULL),
		    IMAP_PARSE_ERROR);
		big = !toobig;
		err = imap_parser_error(p, &big);
		assert_non_null(err);
		assert_string_equal(err, msg);
		assert_int_equal(big, toobig);
		assert_null(imap_parser_cmd(p));
		if (tag == NULL)
			assert_null(imap_parser_tag(p));
		else
			assert_string_equal(imap_parser_tag(p), tag);
		if (name == NULL)
			assert_null(imap_parser_name(p));
		else
			assert_string_equal(imap_parser_name(p), name);
		/* Stays failed until reset. */
		assert_int_equal(imap_parser_line(p, "x", 1),
		    IMAP_PARSE_ERROR);
		imap_parser_reset(p);
		/* And then the next command is fine. */
		assert_int_equal(imap_parser_line(p, "b2 NOOP", 7),
		    IMAP_PARSE_DONE);
		assert_string_equal(imap_parser_cmd(p)->tag, "b2");
		imap_parser_reset(p);
	}
	imap_parser_free(&p);
}

#define CHECK_ERR(wire, msg, tag, name, toobig) \
	check_err(wire, sizeof(wire) - 1, msg, tag, name, toobig)

static void
test_simple(void **state)
{
	(void)state;
	check_cmd("a1 NOOP\r\n", "a1", "NOOP", false, "");
	check_cmd("a1 noop\r\n", "a1", "NOOP", false, "");
	check_cmd("A.1] Capability\r\n", "A.1]", "CAPABILITY", false, "");
	check_cmd("a1 LOGIN joe secret\r\n", "a1", "LOGIN", false,
	    "joe secret");
	/* Extra and trailing spaces are tolerated. */
	check_cmd("a1 LOGIN  joe   secret \r\n", "a1", "LOGIN", false,
	    "joe secret");
	check_cmd("a1 NOOP \r\n", "a1", "NOOP", false, "");
}

static void
test_atoms(void **state)
{
	(void)state;
	check_cmd("a FETCH 1:*,3 (FLAGS BODY[HEADER.FIELDS (From To)]<0.100>"
	    " BODY.PEEK[] RFC822.SIZE)\r\n", "a", "FETCH", false,
	    "1:*,3 (FLAGS BODY[HEADER.FIELDS (From To)]<0.100> BODY.PEEK[]"
	    " RFC822.SIZE)");
	check_cmd("a STORE 1 +FLAGS.SILENT (\\Seen \\Answered $Junk)\r\n",
	    "a", "STORE", false, "1 +FLAGS.SILENT (\\Seen \\Answered $Junk)");
	check_cmd("a LIST \"\" %/*\r\n", "a", "LIST", false, "\"\" %/*");
	/* Brackets run to the matching ']', quotes and nesting included. */
	check_cmd("a FETCH 1 BODY[HEADER.FIELDS (\"X]\" Y)]\r\n", "a",
	    "FETCH", false, "1 BODY[HEADER.FIELDS (\"X]\" Y)]");
	check_cmd("a FETCH 1 (BINARY.PEEK[1.2]<5.10>)\r\n", "a", "FETCH",
	    false, "1 (BINARY.PEEK[1.2]<5.10>)");
	check_cmd("a X a[b[c]d]e ]x [y]\r\n", "a", "X", false,
	    "a[b[c]d]e ]x [y]");
	/* Atoms keep their case; '~' alone and '{' inside are atom bytes. */
	check_cmd("a X Hello ~user a{5} ~\r\n", "a", "X", false,
	    "Hello ~user a{5} ~");
	/* 8-bit bytes are accepted (UTF-8). */
	check_cmd("a X caf\xc3\xa9\r\n", "a", "X", false, "caf\xc3\xa9");
}

static void
test_quoted(void **state)
{
	struct imap_parser	*p = imap_parser_new(&test_lim);
	const struct imap_cmd	*cmd;
	static const char	 line[] = "a LOGIN \"us\\\\er\" \"p\\\"w d\" \"\"";

	(void)state;
	assert_int_equal(imap_parser_line(p, line, sizeof(line) - 1),
	    IMAP_PARSE_DONE);
	cmd = imap_parser_cmd(p);
	assert_int_equal(cmd->nargs, 3);
	assert_int_equal(cmd->args[0].type, IMAP_ARG_QUOTED);
	assert_string_equal(cmd->args[0].str, "us\\er");
	assert_int_equal(cmd->args[0].len, 5);
	assert_string_equal(cmd->args[1].str, "p\"w d");
	assert_int_equal(cmd->args[2].type, IMAP_ARG_QUOTED);
	assert_string_equal(cmd->args[2].str, "");
	assert_int_equal(cmd->args[2].len, 0);
	imap_parser_free(&p);

	check_cmd("a X \"(a b)\" \"{5}\" \"caf\xc3\xa9\" \"\t\"\r\n", "a", "X",
	    false, "\"(a b)\" \"{5}\" \"caf\xc3\xa9\" \"\t\"");
	check_cmd("a X (\"a\" \"b\")\r\n", "a", "X", false, "(\"a\" \"b\")");
}

static void
test_nil(void **state)
{
	(void)state;
	check_cmd("a X NIL nil Nil \"NIL\" NILS (NIL)\r\n", "a", "X", false,
	    "NIL NIL NIL \"NIL\" NILS (NIL)");
}

static void
test_lists(void **state)
{
	(void)state;
	check_cmd("a X (a (b (c)) () d)\r\n", "a", "X", false,
	    "(a (b (c)) () d)");
	check_cmd("a X ()\r\n", "a", "X", false, "()");
	check_cmd("a X (((())))\r\n", "a", "X", false, "(((())))");
	check_cmd("a X ( a  b )\r\n", "a", "X", false, "(a b)");
	check_cmd("a X (a) (b)\r\n", "a", "X", false, "(a) (b)");
}

static void
test_depth(void **state)
{
	char	 wire[256], want[256];
	size_t	 i;

	(void)state;
	/* IMAP_DEPTH_MAX nested lists are fine. */
	strcpy(wire, "a X ");
	for (i = 0; i < IMAP_DEPTH_MAX; i++)
		strcat(wire, "(");
	for (i = 0; i < IMAP_DEPTH_MAX; i++)
		strcat(wire, ")");
	snprintf(want, sizeof(want), "%s", wire + 4);
	strcat(wire, "\r\n");
	check_cmd(wire, "a", "X", false, want);
	/* One more is not. */
	strcpy(wire, "a X ");
	for (i = 0; i <= IMAP_DEPTH_MAX; i++)
		strcat(wire, "(");
	for (i = 0; i <= IMAP_DEPTH_MAX; i++)
		strcat(wire, ")");
	strcat(wire, "\r\n");
	check_err(wire, strlen(wire), "Nesting too deep", "a", "X", true);
}

static void
test_uid(void **state)
{
	(void)state;
	check_cmd("a uid fetch 1:* FLAGS\r\n", "a", "FETCH", true,
	    "1:* FLAGS");
	check_cmd("a UID STORE 1 FLAGS ()\r\n", "a", "STORE", true,
	    "1 FLAGS ()");
	check_cmd("a UID EXPUNGE\r\n", "a", "EXPUNGE", true, "");
	CHECK_ERR("a UID\r\n", "Missing command after UID", "a", "UID",
	    false);
	CHECK_ERR("a uid \r\n", "Missing command after UID", "a", "UID",
	    false);
	CHECK_ERR("a UID (x)\r\n", "Invalid command name", "a", "UID", false);
}

static void
test_literals(void **state)
{
	(void)state;
	check_cmd("a LOGIN {3}\r\njoe {6+}\r\nsec et\r\n", "a", "LOGIN",
	    false, "{joe} {sec et}");
	/* Literal then more arguments then another literal. */
	check_cmd("a X {2}\r\nab c (d {4+}\r\n)x\r\n e) f\r\n", "a", "X",
	    false, "{ab} c (d {)x\r\n} e) f");
	/* A literal ending the command: the line after it is empty. */
	check_cmd("a APPEND INBOX (\\Seen) {5}\r\nhello\r\n", "a", "APPEND",
	    false, "INBOX (\\Seen) {hello}");
	/* Literal8. */
	check_cmd("a APPEND INBOX ~{5+}\r\nhe\r\no\r\n", "a", "APPEND", false,
	    "INBOX ~{he\r\no}");
	/* Empty literals, fed with an empty call or not at all. */
	check_cmd("a LOGIN {0}\r\n {0+}\r\n\r\n", "a", "LOGIN", false,
	    "{} {}");
	/* Literals in a list, back to back. */
	check_cmd("a X ({1}\r\na {1}\r\nb)\r\n", "a", "X", false,
	    "({a} {b})");
	/* Leading zeros in the size. */
	check_cmd("a X {002}\r\nab\r\n", "a", "X", false, "{ab}");
	/* The bytes are anything: CRLF, parentheses, quotes. */
	check_cmd("a X {8}\r\n(\")\r\n{1}\r\n", "a", "X", false,
	    "{(\")\r\n{1}}");
}

static void
test_literal_nul(void **state)
{
	struct imap_parser	*p = imap_parser_new(&test_lim);
	const struct imap_cmd	*cmd;
	bool			 sync, nil;

	(void)state;
	assert_int_equal(imap_parser_line(p, "a X {3}", 7),
	    IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal_size(p, &sync), 3);
	assert_true(sync);
	assert_int_equal(imap_parser_literal(p, "a\0b", 3), IMAP_PARSE_LINE);
	assert_int_equal(imap_parser_line(p, " {2+}", 5), IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal_size(p, &sync), 2);
	assert_false(sync);
	assert_int_equal(imap_parser_literal(p, "ok", 2), IMAP_PARSE_LINE);
	assert_int_equal(imap_parser_line(p, "", 0), IMAP_PARSE_DONE);
	cmd = imap_parser_cmd(p);
	assert_int_equal(cmd->nargs, 2);
	assert_int_equal(cmd->args[0].type, IMAP_ARG_LITERAL);
	assert_int_equal(cmd->args[0].len, 3);
	assert_memory_equal(cmd->args[0].str, "a\0b", 3);
	assert_false(cmd->args[0].literal8);
	assert_null(imap_arg_astring(&cmd->args[0]));
	assert_null(imap_arg_nstring(&cmd->args[0], &nil));
	assert_false(nil);
	assert_string_equal(imap_arg_astring(&cmd->args[1]), "ok");
	imap_parser_free(&p);
}

static void
test_helpers(void **state)
{
	struct imap_parser	*p = imap_parser_new(&test_lim);
	const struct imap_cmd	*cmd;
	static const char	 line[] = "a X Atom \"q s\" NIL (l) {2}";
	bool			 nil;

	(void)state;
	assert_int_equal(imap_parser_line(p, line, sizeof(line) - 1),
	    IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal(p, "li", 2), IMAP_PARSE_LINE);
	assert_int_equal(imap_parser_line(p, "", 0), IMAP_PARSE_DONE);
	cmd = imap_parser_cmd(p);
	assert_int_equal(cmd->nargs, 5);
	assert_string_equal(imap_arg_astring(&cmd->args[0]), "Atom");
	assert_string_equal(imap_arg_astring(&cmd->args[1]), "q s");
	assert_null(imap_arg_astring(&cmd->args[2]));
	assert_null(imap_arg_astring(&cmd->args[3]));
	assert_string_equal(imap_arg_astring(&cmd->args[4]), "li");
	nil = true;
	assert_string_equal(imap_arg_nstring(&cmd->args[0], &nil), "Atom");
	assert_false(nil);
	assert_null(imap_arg_nstring(&cmd->args[2], &nil));
	assert_true(nil);
	assert_null(imap_arg_nstring(&cmd->args[3], &nil));
	assert_false(nil);
	assert_string_equal(imap_arg_nstring(&cmd->args[4], &nil), "li");
	assert_false(nil);
	assert_true(imap_arg_is_atom(&cmd->args[0], "ATOM"));
	assert_true(imap_arg_is_atom(&cmd->args[0], "atom"));
	assert_false(imap_arg_is_atom(&cmd->args[0], "ato"));
	assert_false(imap_arg_is_atom(&cmd->args[1], "q s"));
	assert_true(imap_arg_is_atom(&cmd->args[2], "nil"));
	assert_false(imap_arg_is_atom(&cmd->args[3], "l"));
	assert_false(imap_arg_is_atom(&cmd->args[4], "li"));
	assert_int_equal(cmd->args[3].type, IMAP_ARG_LIST);
	assert_int_equal(cmd->args[3].nlist, 1);
	assert_true(imap_arg_is_atom(&cmd->args[3].list[0], "L"));
	imap_parser_free(&p);
}

static void
test_malformed(void **state)
{
	(void)state;
	CHECK_ERR("\r\n", "Missing tag", NULL, NULL, false);
	CHECK_ERR(" a NOOP\r\n", "Missing tag", NULL, NULL, false);
	CHECK_ERR("+ NOOP\r\n", "Invalid tag", NULL, NULL, false);
	CHECK_ERR("a+ NOOP\r\n", "Invalid tag", NULL, NULL, false);
	CHECK_ERR("a* NOOP\r\n", "Invalid tag", NULL, NULL, false);
	CHECK_ERR("a(b NOOP\r\n", "Invalid tag", NULL, NULL, false);
	CHECK_ERR("t\xc3\xa9 NOOP\r\n", "Invalid tag", NULL, NULL, false);
	CHECK_ERR("a\r\n", "Missing command", "a", NULL, false);
	CHECK_ERR("a \r\n", "Missing command", "a", NULL, false);
	CHECK_ERR("a  NOOP\r\n", "Missing command", "a", NULL, false);
	CHECK_ERR("a NO(OP\r\n", "Invalid command name", "a", NULL, false);
	CHECK_ERR("a NOOP(\r\n", "Invalid command name", "a", NULL, false);
	CHECK_ERR("a X (a\r\n", "Unbalanced parenthesis", "a", "X", false);
	CHECK_ERR("a X (a (b)\r\n", "Unbalanced parenthesis", "a", "X",
	    false);
	CHECK_ERR("a X a)\r\n", "Unbalanced parenthesis", "a", "X", false);
	CHECK_ERR("a X )\r\n", "Unbalanced parenthesis", "a", "X", false);
	CHECK_ERR("a X) \r\n", "Invalid command name", "a", NULL, false);
	CHECK_ERR("a X \"abc\r\n", "Invalid quoted string", "a", "X", false);
	CHECK_ERR("a X \"a\\x\"\r\n", "Invalid quoted string", "a", "X",
	    false);
	CHECK_ERR("a X \"a\\\r\n", "Invalid quoted string", "a", "X", false);
	CHECK_ERR("a X \"a\rb\"\r\n", "Invalid quoted string", "a", "X",
	    false);
	CHECK_ERR("a X \"a\nb\"\r\n", "Invalid quoted string", "a", "X",
	    false);
	CHECK_ERR("a X \"a\"b\r\n", "Missing space between arguments", "a",
	    "X", false);
	CHECK_ERR("a X a\"b\"\r\n", "Missing space between arguments", "a",
	    "X", false);
	CHECK_ERR("a X FLAGS(\\Seen)\r\n", "Missing space between arguments",
	    "a", "X", false);
	CHECK_ERR("a X (a)(b)\r\n", "Missing space between arguments", "a",
	    "X", false);
	CHECK_ERR("a X BODY[HEADER\r\n", "Missing ']'", "a", "X", false);
	CHECK_ERR("a X BODY[\"]\r\n", "Invalid quoted string", "a", "X",
	    false);
	CHECK_ERR("a X BODY[\ta]\r\n", "Invalid characters in atom", "a",
	    "X", false);
	CHECK_ERR("a X \x01\r\n", "Invalid characters in command", "a", "X",
	    false);
	CHECK_ERR("a X a\tb\r\n", "Missing space between arguments", "a",
	    "X", false);
	CHECK_ERR("a X {abc}\r\n", "Invalid literal", "a", "X", false);
	CHECK_ERR("a X {}\r\n", "Invalid literal", "a", "X", false);
	CHECK_ERR("a X {5}x\r\n", "Invalid literal", "a", "X", false);
	CHECK_ERR("a X {5} \r\n", "Invalid literal", "a", "X", false);
	CHECK_ERR("a X {5++}\r\n", "Invalid literal", "a", "X", false);
	CHECK_ERR("a X {-1}\r\n", "Invalid literal", "a", "X", false);
	CHECK_ERR("a X ~{x}\r\n", "Invalid literal", "a", "X", false);
	/* After a literal: the next token needs a space. */
	CHECK_ERR("a X {1}\r\nax\r\n", "Missing space between arguments",
	    "a", "X", false);
	CHECK_ERR("a X {1}\r\na)\r\n", "Unbalanced parenthesis", "a", "X",
	    false);
	CHECK_ERR("a X ({1}\r\na\r\n", "Unbalanced parenthesis", "a", "X",
	    false);
	/* NUL anywhere in the command text. */
	CHECK_ERR("a X a\0b\r\n", "NUL in command line", "a", "X", false);
	CHECK_ERR("a X \"a\0b\"\r\n", "NUL in command line", "a", "X", false);
	CHECK_ERR("a X {1}\r\nx \0\r\n", "NUL in command line", "a", "X",
	    false);
	CHECK_ERR("a\0 X\r\n", "Invalid tag", NULL, NULL, false);
}

static void
test_tag_length(void **state)
{
	char	 wire[IMAP_TAG_MAX + 16], tag[IMAP_TAG_MAX + 2];

	(void)state;
	memset(tag, 't', IMAP_TAG_MAX);
	tag[IMAP_TAG_MAX] = '\0';
	snprintf(wire, sizeof(wire), "%s NOOP\r\n", tag);
	check_cmd(wire, tag, "NOOP", false, "");
	memset(tag, 't', IMAP_TAG_MAX + 1);
	tag[IMAP_TAG_MAX + 1] = '\0';
	snprintf(wire, sizeof(wire), "%s NOOP\r\n", tag);
	check_err(wire, strlen(wire), "Invalid tag", NULL, NULL, false);
}

static void
test_line_too_long(void **state)
{
	struct imap_parser_limits	 lim = { .line_max = 20,
					    .literal_max = 100 };
	struct imap_parser		*p = imap_parser_new(&lim);
	bool				 big, sync;

	(void)state;
	/* Exactly line_max is fine. */
	assert_int_equal(imap_parser_line(p, "a X 0123456789abcdef", 20),
	    IMAP_PARSE_DONE);
	imap_parser_reset(p);
	/* One more is not, and the tag and name are still known. */
	assert_int_equal(imap_parser_line(p, "a X 0123456789abcdefg", 21),
	    IMAP_PARSE_ERROR);
	assert_string_equal(imap_parser_error(p, &big), "Line too long");
	assert_true(big);
	assert_string_equal(imap_parser_tag(p), "a");
	assert_string_equal(imap_parser_name(p), "X");
	imap_parser_reset(p);
	/* Across lines, literal bytes not counted: 8 + 7 + 5 = 20. */
	assert_int_equal(imap_parser_line(p, "a X {40}", 8),
	    IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal(p,
	    "0123456789012345678901234567890123456789", 40), IMAP_PARSE_LINE);
	assert_int_equal(imap_parser_line(p, " b {40}", 7),
	    IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal(p,
	    "0123456789012345678901234567890123456789", 40), IMAP_PARSE_LINE);
	assert_int_equal(imap_parser_line(p, " cdef", 5), IMAP_PARSE_DONE);
	assert_int_equal(imap_parser_cmd(p)->nargs, 4);
	imap_parser_reset(p);
	/* 8 + 8 = 16, then 5 more is 21: too long, at a literal. */
	assert_int_equal(imap_parser_line(p, "a X {40}", 8),
	    IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal(p,
	    "0123456789012345678901234567890123456789", 40), IMAP_PARSE_LINE);
	assert_int_equal(imap_parser_line(p, " bb {40}", 8),
	    IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal(p,
	    "0123456789012345678901234567890123456789", 40), IMAP_PARSE_LINE);
	assert_int_equal(imap_parser_line(p, " {3+}", 5), IMAP_PARSE_ERROR);
	assert_string_equal(imap_parser_error(p, &big), "Line too long");
	assert_true(big);
	/* The literal of the failed line is reported, to skip it. */
	assert_int_equal(imap_parser_literal_size(p, &sync), 3);
	assert_false(sync);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_literal_size(p, &sync), 0);
	assert_true(sync);
	assert_int_equal(imap_parser_line(p, "b NOOP", 6), IMAP_PARSE_DONE);
	imap_parser_free(&p);
}

static void
test_literal_too_large(void **state)
{
	struct imap_parser_limits	 lim = { .line_max = 100,
					    .literal_max = 10,
					    .append_literal_max = 1000 };
	struct imap_parser		*p = imap_parser_new(&lim);
	bool				 big, sync;

	(void)state;
	assert_int_equal(imap_parser_line(p, "a X {10}", 8),
	    IMAP_PARSE_LITERAL);
	imap_parser_reset(p);
	/* Refused before any byte, size and kind still known. */
	assert_int_equal(imap_parser_line(p, "a X {11+}", 9),
	    IMAP_PARSE_ERROR);
	assert_string_equal(imap_parser_error(p, &big), "Literal too large");
	assert_true(big);
	assert_int_equal(imap_parser_literal_size(p, &sync), 11);
	assert_false(sync);
	assert_string_equal(imap_parser_tag(p), "a");
	imap_parser_reset(p);
	assert_int_equal(imap_parser_line(p, "a X {11}", 8), IMAP_PARSE_ERROR);
	assert_int_equal(imap_parser_literal_size(p, &sync), 11);
	assert_true(sync);
	imap_parser_reset(p);
	/* APPEND has its own limit, for each of its literals. */
	assert_int_equal(imap_parser_line(p, "a APPEND INBOX {1000}", 21),
	    IMAP_PARSE_LITERAL);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_line(p, "a append INBOX {1001+}", 22),
	    IMAP_PARSE_ERROR);
	assert_true(imap_parser_error(p, &big) != NULL && big);
	assert_int_equal(imap_parser_literal_size(p, &sync), 1001);
	imap_parser_reset(p);
	/* set_literal_max overrides both, until reset. */
	imap_parser_set_literal_max(p, 3);
	assert_int_equal(imap_parser_line(p, "a APPEND INBOX {4}", 18),
	    IMAP_PARSE_ERROR);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_line(p, "a X {5}", 7), IMAP_PARSE_LITERAL);
	imap_parser_set_literal_max(p, 20);
	assert_int_equal(imap_parser_literal(p, "12345", 5), IMAP_PARSE_LINE);
	assert_int_equal(imap_parser_line(p, " {20}", 5), IMAP_PARSE_LITERAL);
	imap_parser_reset(p);
	/* Huge sizes do not overflow; over 2^32 never passes. */
	imap_parser_set_literal_max(p, UINT64_MAX);
	assert_int_equal(imap_parser_line(p, "a X {4294967296}", 16),
	    IMAP_PARSE_ERROR);
	assert_true(imap_parser_error(p, &big) != NULL && big);
	assert_true(imap_parser_literal_size(p, &sync) == 4294967296ULL);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_line(p,
	    "a X {18446744073709551616}", 26), IMAP_PARSE_ERROR);
	assert_true(imap_parser_literal_size(p, &sync) == UINT64_MAX);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_line(p,
	    "a X {999999999999999999999999999999+}", 37), IMAP_PARSE_ERROR);
	assert_true(imap_parser_literal_size(p, &sync) == UINT64_MAX);
	assert_false(sync);
	assert_true(imap_parser_error(p, &big) != NULL && big);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_line(p, "b NOOP", 6), IMAP_PARSE_DONE);
	imap_parser_free(&p);
}

/* Another error on a line ending in a literal still reports it. */
static void
test_error_reports_literal(void **state)
{
	struct imap_parser	*p = imap_parser_new(&test_lim);
	bool			 sync;

	(void)state;
	assert_int_equal(imap_parser_line(p, "a X ) {5+}", 10),
	    IMAP_PARSE_ERROR);
	assert_int_equal(imap_parser_literal_size(p, &sync), 5);
	assert_false(sync);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_line(p, "a X ) {5x}", 10),
	    IMAP_PARSE_ERROR);
	assert_int_equal(imap_parser_literal_size(p, &sync), 0);
	assert_true(sync);
	imap_parser_free(&p);
}

static void
test_arg_count(void **state)
{
	struct imap_parser_limits	 lim = { .line_max = 100000,
					    .literal_max = 10 };
	struct imap_parser		*p = imap_parser_new(&lim);
	const struct imap_cmd		*cmd;
	char				*line;
	size_t				 i, len;
	bool				 big;

	(void)state;
	/* "(" and IMAP_ARGS_MAX - 1 atoms: exactly the limit. */
	line = xmalloc(8 + 2 * IMAP_ARGS_MAX + 2);
	len = (size_t)sprintf(line, "a X (");
	for (i = 0; i < IMAP_ARGS_MAX - 1; i++)
		len += (size_t)sprintf(line + len, "x ");
	line[len - 1] = ')';
	assert_int_equal(imap_parser_line(p, line, len), IMAP_PARSE_DONE);
	cmd = imap_parser_cmd(p);
	assert_int_equal(cmd->nargs, 1);
	assert_int_equal(cmd->args[0].nlist, IMAP_ARGS_MAX - 1);
	imap_parser_reset(p);
	/* One more. */
	line[len - 1] = ' ';
	line[len++] = 'y';
	line[len++] = ')';
	assert_int_equal(imap_parser_line(p, line, len), IMAP_PARSE_ERROR);
	assert_string_equal(imap_parser_error(p, &big), "Too many arguments");
	assert_true(big);
	imap_parser_reset(p);
	/* Lists count as tokens too. */
	len = (size_t)sprintf(line, "a X");
	for (i = 0; i < IMAP_ARGS_MAX / 2; i++)
		len += (size_t)sprintf(line + len, " ()");
	assert_int_equal(imap_parser_line(p, line, len), IMAP_PARSE_DONE);
	imap_parser_reset(p);
	free(line);
	imap_parser_free(&p);
}

/* Calls out of order are errors, not crashes. */
static void
test_misuse(void **state)
{
	struct imap_parser	*p = imap_parser_new(&test_lim);

	(void)state;
	assert_int_equal(imap_parser_literal(p, "x", 1), IMAP_PARSE_ERROR);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_line(p, "a X {2}", 7), IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_line(p, "b", 1), IMAP_PARSE_ERROR);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_line(p, "a X", 3), IMAP_PARSE_DONE);
	assert_int_equal(imap_parser_line(p, "b X", 3), IMAP_PARSE_ERROR);
	assert_null(imap_parser_cmd(p));
	imap_parser_reset(p);
	/* Abandon a command in the middle of a literal: all freed. */
	assert_int_equal(imap_parser_line(p, "a X (b {20}", 11),
	    IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal(p, "12345", 5),
	    IMAP_PARSE_LITERAL);
	imap_parser_free(&p);
	imap_parser_free(&p);
}

/* The strings of a command stay valid while later lines arrive. */
static void
test_strings_stable(void **state)
{
	struct imap_parser	*p = imap_parser_new(&test_lim);
	const struct imap_cmd	*cmd;
	const char		*tag;
	char			 line[64];
	int			 i;

	(void)state;
	strcpy(line, "tag1 X first (a");
	assert_int_equal(imap_parser_line(p, line, strlen(line)),
	    IMAP_PARSE_ERROR);
	imap_parser_reset(p);
	strcpy(line, "tag1 X first (a {1}");
	assert_int_equal(imap_parser_line(p, line, strlen(line)),
	    IMAP_PARSE_LITERAL);
	tag = imap_parser_tag(p);
	memset(line, 'z', sizeof(line));
	assert_int_equal(imap_parser_literal(p, "L", 1), IMAP_PARSE_LINE);
	for (i = 0; i < 50; i++) {
		snprintf(line, sizeof(line), " w%d {1}", i);
		assert_int_equal(imap_parser_line(p, line, strlen(line)),
		    IMAP_PARSE_LITERAL);
		assert_int_equal(imap_parser_literal(p, "M", 1),
		    IMAP_PARSE_LINE);
	}
	assert_int_equal(imap_parser_line(p, ")", 1), IMAP_PARSE_DONE);
	cmd = imap_parser_cmd(p);
	assert_ptr_equal(cmd->tag, tag);
	assert_string_equal(cmd->tag, "tag1");
	assert_int_equal(cmd->nargs, 2);
	assert_string_equal(cmd->args[0].str, "first");
	assert_int_equal(cmd->args[1].nlist, 102);
	assert_string_equal(cmd->args[1].list[0].str, "a");
	assert_string_equal(cmd->args[1].list[1].str, "L");
	assert_string_equal(cmd->args[1].list[100].str, "w49");
	assert_string_equal(cmd->args[1].list[101].str, "M");
	imap_parser_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_atoms),
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_nil),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_uid),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_literal_nul),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_tag_length),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_literal_too_large),
		cmocka_unit_test(test_error_reports_literal),
		cmocka_unit_test(test_arg_count),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_strings_stable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
