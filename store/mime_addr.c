/* mime_addr: RFC 5322 3.4 address lists, tolerant of what mail really
 * carries (obs- syntax, missing brackets or hosts, stray junk). */
#include "store/mime_private.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

enum tok_type { TOK_ATOM, TOK_QSTR, TOK_COMMENT, TOK_DLIT, TOK_SPECIAL };

struct tok {
	enum tok_type	 type;
	char		 c;	/* TOK_SPECIAL: one of <>@,;: */
	char		*text;	/* others: unescaped content */
};

struct toks {
	struct tok	*v;
	size_t		 n, cap;
};

struct addrs {
	struct mime_addr *v;
	size_t		 n, cap;
};

static void
tok_add(struct toks *t, enum tok_type type, char c, char *text)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n].type = type;
	t->v[t->n].c = c;
	t->v[t->n].text = text;
	t->n++;
}

/* Content of a quoted-string or comment starting after its opening char;
 * returns where scanning stopped (after the closing char, or at NUL). */
static const char *
delimited(const char *s, char close, struct mime_sb *sb)
{
	int depth = 1;

	for (; *s != '\0'; s++) {
		if (*s == '\\' && s[1] != '\0') {
			mime_sb_addc(sb, *++s);
			continue;
		}
		if (close == ')' && *s == '(')
			depth++;
		else if (*s == close && --depth == 0)
			return s + 1;
		mime_sb_addc(sb, *s);
	}
	return s;
}

static void
tokenize(const char *s, struct toks *t)
{
	while (*s != '\0') {
		struct mime_sb sb = { 0 };
		const char *e;

		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n' ||
		    *s == ')') {
			s++;
		} else if (*s == '(' || *s == '"') {
			bool comment = *s == '(';

			s = delimited(s + 1, comment ? ')' : '"', &sb);
			tok_add(t, comment ? TOK_COMMENT : TOK_QSTR, 0,
			    mime_sb_finish(&sb, NULL));
		} else if (*s == '[') {
			e = s + strcspn(s, "]");
			if (*e == ']')
				e++;
			tok_add(t, TOK_DLIT, 0, xstrndup(s, (size_t)(e - s)));
			s = e;
		} else if (strchr("<>@,;:", *s) != NULL) {
			tok_add(t, TOK_SPECIAL, *s, NULL);
			s++;
		} else {
			e = s + strcspn(s, " \t\r\n()<>@,;:\"[");
			tok_add(t, TOK_ATOM, 0, xstrndup(s, (size_t)(e - s)));
			s = e;
		}
	}
}

static void
addr_add(struct addrs *a, char *name, char *adl, char *mailbox, char *host)
{
	struct mime_addr *m;

	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	m = &a->v[a->n++];
	m->name = name;
	m->adl = adl;
	m->mailbox = mailbox;
	m->host = host;
	m->group_start = mailbox != NULL && host == NULL;
	m->group_end = mailbox == NULL;
}

static bool
is_special(const struct tok *t, char c)
{
	return t->type == TOK_SPECIAL && t->c == c;
}

/* A display name: words joined by one space, encoded-words decoded. */
static char *
phrase(const struct tok *t, size_t i, size_t j)
{
	struct mime_sb sb = { 0 };
	char *raw, *dec;

	for (; i < j; i++) {
		if (t[i].type != TOK_ATOM && t[i].type != TOK_QSTR)
			continue;
		if (sb.len > 0)
			mime_sb_addc(&sb, ' ');
		mime_sb_add(&sb, t[i].text, strlen(t[i].text));
	}
	if (sb.len == 0)
		return NULL;
	raw = mime_sb_finish(&sb, NULL);
	dec = mime_decode_words(raw);
	free(raw);
	return dec;
}

/* Local part or domain as written, comments and blanks dropped. */
static char *
spec(const struct tok *t, size_t i, size_t j)
{
	struct mime_sb sb = { 0 };

	for (; i < j; i++) {
		switch (t[i].type) {
		case TOK_ATOM:
		case TOK_DLIT:
			mime_sb_add(&sb, t[i].text, strlen(t[i].text));
			break;
		case TOK_QSTR:
			mime_sb_addc(&sb, '"');
			for (const char *p = t[i].text; *p != '\0'; p++) {
				if (*p == '"' || *p == '\\')
					mime_sb_addc(&sb, '\\');
				mime_sb_addc(&sb, *p);
			}
			mime_sb_addc(&sb, '"');
			break;
		case TOK_SPECIAL:
			if (t[i].c == '@' || t[i].c == ',' || t[i].c == ':')
				mime_sb_addc(&sb, t[i].c);	/* adl */
			break;
		case TOK_COMMENT:
			break;
		}
	}
	return mime_sb_finish(&sb, NULL);
}

static void
addr_spec(const struct tok *t, size_t i, size_t j, char **mbox_r,
    char **host_r)
{
	size_t at = j;

	for (size_t k = i; k < j; k++)
		if (is_special(&t[k], '@'))
			at = k;		/* the last one: "a@b@c" is a@b at c */
	*mbox_r = spec(t, i, at);
	*host_r = at < j ? spec(t, at + 1, j) : NULL;
	if (*host_r != NULL && **host_r == '\0')
		FREE_NULL(*host_r);
	if (*host_r == NULL)
		*host_r = xstrdup(MIME_ADDR_MISSING_HOST);
}

/* One mailbox in tokens [i, j) (no top-level ',' or ';' inside). */
static void
mailbox(struct addrs *a, const struct tok *t, size_t i, size_t j)
{
	char *name = NULL, *adl = NULL, *mbox, *host;
	size_t lt = j, gt, k;
	bool any = false;

	for (k = i; k < j; k++) {
		if (t[k].type != TOK_COMMENT)
			any = true;
		if (lt == j && is_special(&t[k], '<'))
			lt = k;
	}
	if (!any)
		return;		/* empty list element, or only a comment */
	if (lt < j) {
		name = phrase(t, i, lt);
		for (gt = lt + 1; gt < j && !is_special(&t[gt], '>'); gt++)
			;
		k = lt + 1;
		/* Source route "@a,@b:" (RFC 5322 4.4 obs-route). */
		if (k < gt && is_special(&t[k], '@')) {
			size_t c;

			for (c = k; c < gt && !is_special(&t[c], ':'); c++)
				;
			if (c < gt) {
				adl = spec(t, k, c);
				k = c + 1;
			}
		}
		addr_spec(t, k, gt, &mbox, &host);
	} else
		addr_spec(t, i, j, &mbox, &host);
	if (name == NULL) {
		/* "a@b (Name)": the comment is the only name there is. */
		for (k = j; k > i; k--) {
			if (t[k - 1].type == TOK_COMMENT &&
			    t[k - 1].text[0] != '\0') {
				name = mime_decode_words(t[k - 1].text);
				break;
			}
		}
	}
	addr_add(a, name, adl, mbox, host);
}

size_t
mime_parse_addresses(const char *s, struct mime_addr **addrs_r)
{
	struct toks t = { 0 };
	struct addrs a = { 0 };
	bool in_group = false;
	size_t i = 0;

	tokenize(s, &t);
	while (i < t.n) {
		bool angle = false, seen_angle = false, group = false;
		size_t j;

		for (j = i; j < t.n; j++) {
			if (t.v[j].type != TOK_SPECIAL)
				continue;
			if (t.v[j].c == '<')
				angle = seen_angle = true;
			else if (t.v[j].c == '>')
				angle = false;
			else if (angle)
				continue;	/* route ',' and ':' */
			else if (t.v[j].c == ',' || t.v[j].c == ';')
				break;
			else if (t.v[j].c == ':' && !in_group && !seen_angle) {
				group = true;
				break;
			}
		}
		if (group) {
			char *name = phrase(t.v, i, j);

			addr_add(&a, NULL, NULL, name ? name : xstrdup(""), NULL);
			in_group = true;
		} else {
			mailbox(&a, t.v, i, j);
			if (j < t.n && is_special(&t.v[j], ';') && in_group) {
				addr_add(&a, NULL, NULL, NULL, NULL);
				in_group = false;
			}
		}
		i = j + 1;
	}
	if (in_group)		/* "group: a@b" without ';' */
		addr_add(&a, NULL, NULL, NULL, NULL);
	for (i = 0; i < t.n; i++)
		free(t.v[i].text);
	free(t.v);
	*addrs_r = a.v;
	return a.n;
}

void
mime_addrs_free(struct mime_addr *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].name);
		free(a[i].adl);
		free(a[i].mailbox);
		free(a[i].host);
	}
	free(a);
}
