/*
 * parser: the IMAP command parser (RFC 3501 section 9, LITERAL+ RFC 7888,
 * literal8 RFC 3516).
 *
 * A command arrives as lines split at literals; a line never ends inside
 * a token except at a literal marker, so the only state carried between
 * calls is the stack of open lists, the pending literal and whether the
 * next token needs a separator. Every token is its own allocation, freed
 * by imap_parser_reset(): an idle parser holds only its struct.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "imap/parser.h"

/* No literal is larger than this, whatever the limits say. */
#define PARSER_LITERAL_HARD_MAX	((uint64_t)UINT32_MAX)

enum parser_state {
	PS_HEAD,	/* expecting the first line */
	PS_LITERAL,	/* literal bytes due */
	PS_CONT,	/* expecting the line after a literal */
	PS_DONE,
	PS_ERROR,
};

/* The arguments of one open list (level 0: the command's). */
struct parser_level {
	struct imap_arg	*v;
	size_t		 n, cap;
};

struct imap_parser {
	struct imap_parser_limits lim;
	enum parser_state	 state;
	char			*tag;
	char			*name;
	bool			 uid;
	struct parser_level	 lvl[IMAP_DEPTH_MAX + 1];
	unsigned		 depth;		/* open lists */
	size_t			 ntok;		/* tokens so far, lists too */
	size_t			 used;		/* command text bytes so far */
	uint64_t		 lit_max;	/* set by set_literal_max */
	bool			 lit_max_set;
	uint64_t		 lit_size;	/* the literal announced last */
	bool			 lit_sync;
	bool			 lit8;
	uint64_t		 lit_got;
	char			*lit_buf;
	const char		*err;
	bool			 toobig;
	struct imap_cmd		 cmd;
};

struct imap_parser *
imap_parser_new(const struct imap_parser_limits *lim)
{
	struct imap_parser	*p;

	p = xcalloc(1, sizeof(*p));
	p->lim = *lim;
	p->lit_sync = true;
	return p;
}

static void
parser_free_args(struct imap_arg *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(v[i].str);
		if (v[i].type == IMAP_ARG_LIST)
			parser_free_args(v[i].list, v[i].nlist);
	}
	free(v);
}

void
imap_parser_reset(struct imap_parser *p)
{
	unsigned	 i;

	for (i = 0; i < NELEM(p->lvl); i++)
		parser_free_args(p->lvl[i].v, p->lvl[i].n);
	memset(p->lvl, 0, sizeof(p->lvl));
	free(p->tag);
	free(p->name);
	free(p->lit_buf);
	p->tag = p->name = p->lit_buf = NULL;
	p->uid = false;
	p->state = PS_HEAD;
	p->depth = 0;
	p->ntok = 0;
	p->used = 0;
	p->lit_max = 0;
	p->lit_max_set = false;
	p->lit_size = 0;
	p->lit_sync = true;
	p->lit8 = false;
	p->lit_got = 0;
	p->err = NULL;
	p->toobig = false;
	memset(&p->cmd, 0, sizeof(p->cmd));
}

void
imap_parser_free(struct imap_parser **pp)
{
	if (*pp == NULL)
		return;
	imap_parser_reset(*pp);
	FREE_NULL(*pp);
}

static enum imap_parse_res
parser_fail(struct imap_parser *p, const char *msg, bool toobig)
{
	p->state = PS_ERROR;
	p->err = msg;
	p->toobig = toobig;
	return IMAP_PARSE_ERROR;
}

static bool
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* ATOM-CHAR (RFC 3501 9), strictly: for command names. */
static bool
is_atom_char(unsigned char c)
{
	if (c >= 0x80 || is_ctl(c))
		return false;
	return strchr("(){ %*\"\\]", c) == NULL;
}

/* ASTRING-CHAR except '+': for tags. */
static bool
is_tag_char(unsigned char c)
{
	return c != '+' && (c == ']' || is_atom_char(c));
}

static void
parser_upper(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

/*
 * Read a word (up to SP or the end) at *sp that must be made of ok()
 * bytes: 1 on success with *w_r and *n_r, 0 if empty, -1 if a byte is wrong.
 */
static int
parser_word(const char **sp, const char *e, bool (*ok)(unsigned char),
    const char **w_r, size_t *n_r)
{
	const char	*s = *sp, *w = s;

	while (s < e && *s != ' ') {
		if (!ok((unsigned char)*s))
			return -1;
		s++;
	}
	*w_r = w;
	*n_r = (size_t)(s - w);
	*sp = s;
	return s > w ? 1 : 0;
}

/* "tag SP name [SP "UID" name]": 0 with *sp after the name, or -1. */
static int
parser_head(struct imap_parser *p, const char **sp, const char *e)
{
	const char	*w;
	size_t		 n;
	int		 r;

	r = parser_word(sp, e, is_tag_char, &w, &n);
	if (r == 0) {
		parser_fail(p, "Missing tag", false);
		return -1;
	}
	if (r == -1 || n > IMAP_TAG_MAX) {
		parser_fail(p, "Invalid tag", false);
		return -1;
	}
	p->tag = xstrndup(w, n);
	if (*sp < e)
		(*sp)++;
	r = parser_word(sp, e, is_atom_char, &w, &n);
	if (r == 0) {
		parser_fail(p, "Missing command", false);
		return -1;
	}
	if (r == -1) {
		parser_fail(p, "Invalid command name", false);
		return -1;
	}
	p->name = xstrndup(w, n);
	parser_upper(p->name);
	if (strcmp(p->name, "UID") != 0)
		return 0;
	if (*sp < e)
		(*sp)++;
	r = parser_word(sp, e, is_atom_char, &w, &n);
	if (r == 0) {
		parser_fail(p, "Missing command after UID", false);
		return -1;
	}
	if (r == -1) {
		parser_fail(p, "Invalid command name", false);
		return -1;
	}
	free(p->name);
	p->name = xstrndup(w, n);
	parser_upper(p->name);
	p->uid = true;
	return 0;
}

/* Count one more token: 0, or -1 over IMAP_ARGS_MAX. */
static int
parser_count(struct imap_parser *p)
{
	if (p->ntok >= IMAP_ARGS_MAX) {
		parser_fail(p, "Too many arguments", true);
		return -1;
	}
	p->ntok++;
	return 0;
}

/* Append a token to the innermost open list; str is taken over. */
static void
parser_append(struct imap_parser *p, enum imap_arg_type type, char *str,
    size_t len)
{
	struct parser_level	*l = &p->lvl[p->depth];
	struct imap_arg		*a;

	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 4 : l->cap * 2;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	a = &l->v[l->n++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->str = str;
	a->len = len;
}

/*
 * A quoted string at *sp (on the '"'): 0 with *sp after the closing '"',
 * or -1. Only \\ and \" escapes; no CR or LF (no NUL reaches here).
 */
static int
parser_quoted(struct imap_parser *p, const char **sp, const char *e)
{
	const char	*s = *sp + 1, *q;
	char		*out, *o;

	/* Find the end first, to allocate exactly. */
	for (q = s; q < e && *q != '"'; q++) {
		if (*q == '\r' || *q == '\n')
			goto bad;
		if (*q == '\\') {
			if (q + 1 == e || (q[1] != '\\' && q[1] != '"'))
				goto bad;
			q++;
		}
	}
	if (q == e)
		goto bad;
	if (parser_count(p) == -1)
		return -1;
	out = o = xmalloc((size_t)(q - s) + 1);
	for (; s < q; s++) {
		if (*s == '\\')
			s++;
		*o++ = *s;
	}
	*o = '\0';
	parser_append(p, IMAP_ARG_QUOTED, out, (size_t)(o - out));
	*sp = q + 1;
	return 0;
bad:
	parser_fail(p, "Invalid quoted string", false);
	return -1;
}

/*
 * An atom at *sp: up to SP, CTL, '(', ')' or '"', except that a '['
 * runs to its matching ']' whatever lies between (quoted strings
 * included, so a ']' in one does not end it). "NIL" is IMAP_ARG_NIL.
 */
static int
parser_atom(struct imap_parser *p, const char **sp, const char *e)
{
	const char	*s = *sp, *w = s;
	unsigned	 nest;
	unsigned char	 c;
	size_t		 n;

	while (s < e) {
		c = (unsigned char)*s;
		if (c == ' ' || c == '(' || c == ')' || c == '"' || is_ctl(c))
			break;
		s++;
		if (c != '[')
			continue;
		for (nest = 1; nest > 0; s++) {
			if (s == e) {
				parser_fail(p, "Missing ']'", false);
				return -1;
			}
			c = (unsigned char)*s;
			if (c == '[')
				nest++;
			else if (c == ']')
				nest--;
			else if (c == '"') {
				for (s++; s < e && *s != '"'; s++)
					if (*s == '\\' && s + 1 < e)
						s++;
				if (s == e) {
					parser_fail(p, "Invalid quoted string",
					    false);
					return -1;
				}
			} else if (is_ctl(c)) {
				parser_fail(p, "Invalid characters in atom",
				    false);
				return -1;
			}
		}
	}
	n = (size_t)(s - w);
	if (n == 0) {
		parser_fail(p, "Invalid characters in command", false);
		return -1;
	}
	if (parser_count(p) == -1)
		return -1;
	if (n == 3 && ascii_ncasecmp(w, "NIL", 3) == 0)
		parser_append(p, IMAP_ARG_NIL, NULL, 0);
	else
		parser_append(p, IMAP_ARG_ATOM, xstrndup(w, n), n);
	*sp = s;
	return 0;
}

/*
 * Parse "{digits[+]}" ending exactly at e, starting at s (on the '{').
 * 0 with the size (saturated at UINT64_MAX) and sync flag, or -1.
 */
static int
parser_literal_marker(const char *s, const char *e, uint64_t *size_r,
    bool *sync_r)
{
	uint64_t	 v = 0;
	const char	*d;
	bool		 sync = true;

	s++;
	for (d = s; s < e && *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			v = UINT64_MAX;
		else
			v = v * 10 + (uint64_t)(*s - '0');
	}
	if (s == d)
		return -1;
	if (s < e && *s == '+') {
		sync = false;
		s++;
	}
	if (s + 1 != e || *s != '}')
		return -1;
	*size_r = v;
	*sync_r = sync;
	return 0;
}

static uint64_t
parser_literal_max(const struct imap_parser *p)
{
	uint64_t	 max;

	if (p->lit_max_set)
		max = p->lit_max;
	else if (p->lim.append_literal_max != 0 && p->name != NULL &&
	    strcmp(p->name, "APPEND") == 0)
		max = p->lim.append_literal_max;
	else
		max = p->lim.literal_max;
	return max < PARSER_LITERAL_HARD_MAX ? max : PARSER_LITERAL_HARD_MAX;
}

/* A literal marker at s ("{" or "~{"), which must end the line. */
static enum imap_parse_res
parser_literal_start(struct imap_parser *p, const char *s, const char *e)
{
	bool	 lit8 = *s == '~';

	if (lit8)
		s++;
	if (parser_literal_marker(s, e, &p->lit_size, &p->lit_sync) == -1)
		return parser_fail(p, "Invalid literal", false);
	p->lit8 = lit8;
	if (parser_count(p) == -1)
		return IMAP_PARSE_ERROR;
	if (p->lit_size > parser_literal_max(p))
		return parser_fail(p, "Literal too large", true);
	p->lit_got = 0;
	p->lit_buf = xmalloc((size_t)p->lit_size + 1);
	p->state = PS_LITERAL;
	return IMAP_PARSE_LITERAL;
}

/*
 * Tokens from s to e; need_sep: the previous token has just ended, so
 * the next byte must be SP or ')'. Runs to the end of the line, a
 * literal marker or an error.
 */
static enum imap_parse_res
parser_args(struct imap_parser *p, const char *s, const char *e,
    bool need_sep)
{
	struct parser_level	*l;
	struct imap_arg		*a;
	unsigned char		 c;

	while (s < e) {
		c = (unsigned char)*s;
		if (c == ' ') {
			s++;
			need_sep = false;
			continue;
		}
		if (c == ')') {
			if (p->depth == 0)
				return parser_fail(p,
				    "Unbalanced parenthesis", false);
			l = &p->lvl[p->depth--];
			parser_append(p, IMAP_ARG_LIST, NULL, 0);
			a = &p->lvl[p->depth].v[p->lvl[p->depth].n - 1];
			a->list = l->v;
			a->nlist = l->n;
			memset(l, 0, sizeof(*l));
			s++;
			need_sep = true;
			continue;
		}
		if (need_sep)
			return parser_fail(p, "Missing space between arguments",
			    false);
		need_sep = true;
		if (c == '(') {
			if (p->depth == IMAP_DEPTH_MAX)
				return parser_fail(p, "Nesting too deep", true);
			if (parser_count(p) == -1)
				return IMAP_PARSE_ERROR;
			p->depth++;
			s++;
			need_sep = false;
		} else if (c == '"') {
			if (parser_quoted(p, &s, e) == -1)
				return IMAP_PARSE_ERROR;
		} else if (c == '{' || (c == '~' && s + 1 < e && s[1] == '{'))
			return parser_literal_start(p, s, e);
		else if (parser_atom(p, &s, e) == -1)
			return IMAP_PARSE_ERROR;
	}
	if (p->depth > 0)
		return parser_fail(p, "Unbalanced parenthesis", false);
	p->cmd.tag = p->tag;
	p->cmd.name = p->name;
	p->cmd.uid = p->uid;
	p->cmd.args = p->lvl[0].v;
	p->cmd.nargs = p->lvl[0].n;
	p->state = PS_DONE;
	return IMAP_PARSE_DONE;
}

/*
 * After an error, note a literal marker ending the line, so the session
 * knows the client may send (non-synchronising) or wait for (synchronising)
 * its bytes even though the command failed.
 */
static void
parser_note_literal(struct imap_parser *p, const char *line, size_t len)
{
	const char	*e = line + len, *s;

	if (p->lit_size != 0 || len == 0 || e[-1] != '}')
		return;
	for (s = e - 1; s > line && s[-1] != '{'; s--)
		;
	if (s == line)
		return;
	(void)parser_literal_marker(s - 1, e, &p->lit_size, &p->lit_sync);
}

static void
parser_literal_done(struct imap_parser *p)
{
	p->lit_buf[p->lit_got] = '\0';
	parser_append(p, IMAP_ARG_LITERAL, p->lit_buf, (size_t)p->lit_got);
	p->lvl[p->depth].v[p->lvl[p->depth].n - 1].literal8 = p->lit8;
	p->lit_buf = NULL;
	p->state = PS_CONT;
}

enum imap_parse_res
imap_parser_line(struct imap_parser *p, const char *line, size_t len)
{
	const char		*s = line, *e = line + len;
	enum imap_parse_res	 r;
	bool			 need_sep = true;

	/* An empty literal may be skipped by the session: nothing to feed. */
	if (p->state == PS_LITERAL && p->lit_got == p->lit_size)
		parser_literal_done(p);
	switch (p->state) {
	case PS_HEAD:
		if (parser_head(p, &s, e) == -1) {
			r = IMAP_PARSE_ERROR;
			goto out;
		}
		break;
	case PS_CONT:
		break;
	case PS_LITERAL:
		return parser_fail(p, "Line given while literal bytes due",
		    false);
	case PS_DONE:
		return parser_fail(p, "Line given after the command ended",
		    false);
	case PS_ERROR:
		return IMAP_PARSE_ERROR;
	}
	/* No literal is pending now; this line may announce one. */
	p->lit_size = 0;
	p->lit_sync = true;
	if (len > p->lim.line_max || p->used + len > p->lim.line_max) {
		r = parser_fail(p, "Line too long", true);
		goto out;
	}
	p->used += len;
	if (memchr(line, '\0', len) != NULL) {
		r = parser_fail(p, "NUL in command line", false);
		goto out;
	}
	r = parser_args(p, s, e, need_sep);
out:
	if (r == IMAP_PARSE_ERROR)
		parser_note_literal(p, line, len);
	return r;
}

uint64_t
imap_parser_literal_size(const struct imap_parser *p, bool *sync_r)
{
	if (sync_r != NULL)
		*sync_r = p->lit_sync;
	return p->lit_size;
}

enum imap_parse_res
imap_parser_literal(struct imap_parser *p, const void *data, size_t len)
{
	if (p->state == PS_ERROR)
		return IMAP_PARSE_ERROR;
	if (p->state != PS_LITERAL)
		return parser_fail(p, "Literal bytes given but none due",
		    false);
	/* The session feeds exactly the announced bytes. */
	assert(len <= p->lit_size - p->lit_got);
	if (len > 0) {
		memcpy(p->lit_buf + p->lit_got, data, len);
		p->lit_got += len;
	}
	if (p->lit_got < p->lit_size)
		return IMAP_PARSE_LITERAL;
	parser_literal_done(p);
	return IMAP_PARSE_LINE;
}

void
imap_parser_set_literal_max(struct imap_parser *p, uint64_t max)
{
	p->lit_max = max;
	p->lit_max_set = true;
}

const char *
imap_parser_tag(const struct imap_parser *p)
{
	return p->tag;
}

const char *
imap_parser_name(const struct imap_parser *p)
{
	return p->name;
}

const struct imap_cmd *
imap_parser_cmd(const struct imap_parser *p)
{
	return p->state == PS_DONE ? &p->cmd : NULL;
}

const char *
imap_parser_error(const struct imap_parser *p, bool *toobig_r)
{
	if (toobig_r != NULL)
		*toobig_r = p->state == PS_ERROR && p->toobig;
	return p->state == PS_ERROR ? p->err : NULL;
}

const char *
imap_arg_astring(const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_QUOTED:
		return a->str;
	case IMAP_ARG_LITERAL:
		return memchr(a->str, '\0', a->len) == NULL ? a->str : NULL;
	case IMAP_ARG_NIL:
	case IMAP_ARG_LIST:
		break;
	}
	return NULL;
}

const char *
imap_arg_nstring(const struct imap_arg *a, bool *nil_r)
{
	if (nil_r != NULL)
		*nil_r = a->type == IMAP_ARG_NIL;
	return imap_arg_astring(a);
}

bool
imap_arg_is_atom(const struct imap_arg *a, const char *word)
{
	if (a->type == IMAP_ARG_NIL)
		return ascii_casecmp(word, "NIL") == 0;
	return a->type == IMAP_ARG_ATOM && ascii_casecmp(a->str, word) == 0;
}
