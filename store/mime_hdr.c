/* mime_hdr: header fields (RFC 5322 2.2), encoded-words (RFC 2047) and
 * parameters (RFC 2045 5.1, RFC 2231). */
#include "store/mime_private.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define CHARSET_MAX	40
/* Raw "name*N*=" pieces looked at per field, and sections per parameter. */
#define RAW_PARAMS_MAX	(MIME_MAX_PARAMS * 4)
#define SECTIONS_MAX	1000

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int
mime_header_next(const char *hdr, size_t len, size_t *pos,
    const char **name_r, size_t *namelen_r, const char **val_r,
    size_t *vallen_r)
{
	size_t p = *pos;

	while (p < len) {
		const char *lf = memchr(hdr + p, '\n', len - p);
		size_t ls = p, ce, ne, vs, ve, colon;
		size_t next = lf != NULL ? (size_t)(lf - hdr) + 1 : len;
		const char *c;

		ce = lf != NULL ? (size_t)(lf - hdr) : len;
		if (ce > ls && hdr[ce - 1] == '\r')
			ce--;
		if (ce == ls)		/* the blank line ends the header */
			break;
		p = next;
		/* A continuation with no field before it, or a line that is
		 * not "name:" (an mbox From_ line, junk): skip it. */
		if (is_blank(hdr[ls]) ||
		    (c = memchr(hdr + ls, ':', ce - ls)) == NULL)
			continue;
		colon = (size_t)(c - hdr);
		ne = colon;
		while (ne > ls && is_blank(hdr[ne - 1]))	/* obs-optional */
			ne--;
		if (ne == ls)
			continue;
		for (size_t i = ls; i < ne; i++)
			if ((unsigned char)hdr[i] <= ' ' || hdr[i] == 0x7f)
				goto skip;
		vs = colon + 1;
		ve = ce;
		while (p < len && is_blank(hdr[p])) {
			/* Folded continuation line (RFC 5322 2.2.3). */
			lf = memchr(hdr + p, '\n', len - p);
			next = lf != NULL ? (size_t)(lf - hdr) + 1 : len;
			ve = lf != NULL ? (size_t)(lf - hdr) : len;
			if (ve > p && hdr[ve - 1] == '\r')
				ve--;
			p = next;
		}
		while (vs < ve && is_blank(hdr[vs]))
			vs++;
		*name_r = hdr + ls;
		*namelen_r = ne - ls;
		*val_r = hdr + vs;
		*vallen_r = ve - vs;
		*pos = p;
		return 1;
skip:		;
	}
	*pos = len;
	return 0;
}

char *
mime_header_unfold(const char *val, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t o = 0, s = 0;

	/* Unfolding removes the line breaks and keeps the blanks. NULs
	 * would cut the C string short: drop them too. */
	for (size_t i = 0; i < len; i++)
		if (val[i] != '\r' && val[i] != '\n' && val[i] != '\0')
			out[o++] = val[i];
	while (o > 0 && is_blank(out[o - 1]))
		o--;
	while (s < o && is_blank(out[s]))
		s++;
	memmove(out, out + s, o - s);
	out[o - s] = '\0';
	return out;
}

char *
mime_header_get(const char *hdr, size_t len, const char *name)
{
	size_t pos = 0, nlen = strlen(name), fnlen, vlen;
	const char *fname, *val;

	while (mime_header_next(hdr, len, &pos, &fname, &fnlen, &val, &vlen))
		if (fnlen == nlen && ascii_ncasecmp(fname, name, nlen) == 0)
			return mime_header_unfold(val, vlen);
	return NULL;
}

/*
 * One RFC 2047 encoded-word "=?charset?E?text?=" at s. Returns its length,
 * or 0 when s does not start one. Stricter than RFC 2047 about nothing but
 * blanks: words with blanks inside are left alone, as most readers do.
 */
static size_t
encoded_word(const char *s, char *cs, char *enc_r, const char **txt_r,
    size_t *txtlen_r)
{
	const char *p = s + 2, *q;
	size_t n;

	if (s[0] != '=' || s[1] != '?')
		return 0;
	for (q = p; *q != '\0' && *q != '?'; q++)
		if ((unsigned char)*q <= ' ')
			return 0;
	n = (size_t)(q - p);
	if (*q != '?' || n == 0 || n > CHARSET_MAX)
		return 0;
	memcpy(cs, p, n);
	cs[n] = '\0';
	cs[strcspn(cs, "*")] = '\0';	/* RFC 2231 5: "charset*lang" */
	q++;
	if ((*q != 'B' && *q != 'b' && *q != 'Q' && *q != 'q') || q[1] != '?')
		return 0;
	*enc_r = (*q == 'B' || *q == 'b') ? 'B' : 'Q';
	p = q + 2;
	for (q = p; *q != '\0' && *q != '?'; q++)
		if ((unsigned char)*q <= ' ')
			return 0;
	if (q[0] != '?' || q[1] != '=')
		return 0;
	*txt_r = p;
	*txtlen_r = (size_t)(q - p);
	return (size_t)(q + 2 - s);
}

static void
flush_words(struct mime_sb *out, struct mime_sb *raw, const char *cs)
{
	size_t n;
	char *u;

	if (raw->len == 0)
		return;
	u = mime_to_utf8(cs, raw->s, raw->len, &n);
	mime_sb_add(out, u, n);
	free(u);
	raw->len = 0;
}

static void
add_literal(struct mime_sb *out, const char *s, size_t n)
{
	size_t ulen;
	char *u = mime_to_utf8(NULL, s, n, &ulen);

	mime_sb_add(out, u, ulen);
	free(u);
}

char *
mime_decode_words(const char *s)
{
	struct mime_sb out = { 0 }, raw = { 0 };
	char cs[CHARSET_MAX + 1], pcs[CHARSET_MAX + 1] = "";
	const char *p = s, *lit = s, *txt;
	bool pending = false;
	size_t wl, tl;
	char enc;

	while (*p != '\0') {
		char *tmp;
		size_t dl;

		if ((wl = encoded_word(p, cs, &enc, &txt, &tl)) == 0) {
			p++;
			continue;
		}
		/* Blanks between two encoded-words are dropped (RFC 2047
		 * 6.2); other text between them ends the run. */
		if (!pending || strspn(lit, " \t\r\n") < (size_t)(p - lit)) {
			flush_words(&out, &raw, pcs);
			add_literal(&out, lit, (size_t)(p - lit));
		} else if (ascii_casecmp(cs, pcs) != 0)
			flush_words(&out, &raw, pcs);
		tmp = xmalloc(tl + 3);
		if (enc == 'B')
			dl = mime_decode_base64(txt, tl, tmp);
		else
			dl = mime_qp_decode(txt, tl, tmp, true);
		mime_sb_add(&raw, tmp, dl);
		free(tmp);
		memcpy(pcs, cs, sizeof(pcs));
		pending = true;
		p += wl;
		lit = p;
	}
	flush_words(&out, &raw, pcs);
	add_literal(&out, lit, (size_t)(p - lit));
	mime_sb_free(&raw);
	return mime_sb_finish(&out, NULL);
}

const char *
mime_skip_cfws(const char *s)
{
	for (;;) {
		int depth = 0;

		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (*s != '(')
			return s;
		do {
			if (*s == '\\' && s[1] != '\0')
				s++;
			else if (*s == '(')
				depth++;
			else if (*s == ')')
				depth--;
			s++;
		} while (depth > 0 && *s != '\0');
	}
}

static bool
is_token_char(char c)
{
	return (unsigned char)c > ' ' && (unsigned char)c < 0x7f &&
	    strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

char *
mime_token(const char **sp)
{
	const char *s = mime_skip_cfws(*sp), *e = s;
	char *t;

	while (is_token_char(*e))
		e++;
	if (e == s)
		return NULL;
	t = xstrndup(s, (size_t)(e - s));
	ascii_lower(t);
	*sp = e;
	return t;
}

struct raw_param {
	char	*name;		/* without "*N" and "*" */
	int	 section;	/* -1 when not an RFC 2231 section */
	bool	 ext;		/* "name*": charset'lang'%XX encoded */
	char	*value;
};

/* A parameter value: quoted-string, or (tolerantly) a run of anything
 * but ';', blanks, '"' and '(' - real mail has unquoted '=' and '/'. */
static char *
param_value(const char **sp)
{
	struct mime_sb sb = { 0 };
	const char *s = mime_skip_cfws(*sp);

	if (*s == '"') {
		for (s++; *s != '\0' && *s != '"'; s++) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			if (*s != '\r' && *s != '\n')
				mime_sb_addc(&sb, *s);
		}
		if (*s == '"')
			s++;
	} else {
		while (*s != '\0' && *s != ';' && *s != '"' && *s != '(' &&
		    (unsigned char)*s > ' ')
			mime_sb_addc(&sb, *s++);
	}
	*sp = s;
	return mime_sb_finish(&sb, NULL);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 2231 4: %XX-decode s into sb, keeping invalid escapes. */
static void
pct_decode(struct mime_sb *sb, const char *s)
{
	while (*s != '\0') {
		int h, l;

		if (*s == '%' && (h = hexval(s[1])) >= 0 &&
		    (l = hexval(s[2])) >= 0) {
			mime_sb_addc(sb, (char)(h << 4 | l));
			s += 3;
		} else
			mime_sb_addc(sb, *s++);
	}
}

/* Split "charset'lang'rest" (RFC 2231 4); cs gets the charset or "". */
static const char *
ext_prefix(const char *v, char *cs)
{
	const char *q1 = strchr(v, '\''), *q2;

	cs[0] = '\0';
	if (q1 == NULL || (q2 = strchr(q1 + 1, '\'')) == NULL)
		return v;
	if ((size_t)(q1 - v) <= CHARSET_MAX) {
		memcpy(cs, v, (size_t)(q1 - v));
		cs[q1 - v] = '\0';
	}
	return q2 + 1;
}

static const struct raw_param *
find_raw(const struct raw_param *raw, size_t nraw, const char *name,
    int section)
{
	for (size_t i = 0; i < nraw; i++)
		if (raw[i].section == section && strcmp(raw[i].name, name) == 0)
			return &raw[i];
	return NULL;
}

/* The value of parameter name from its raw pieces: RFC 2231 sections win
 * over "name*=", which wins over a plain "name=" (RFC 2231 writers send
 * the plain one as a fallback). */
static char *
join_param(const struct raw_param *raw, size_t nraw, const char *name)
{
	struct mime_sb sb = { 0 };
	char cs[CHARSET_MAX + 1] = "";
	const struct raw_param *r;
	size_t n;
	char *bytes, *u;

	if (find_raw(raw, nraw, name, 0) != NULL) {
		for (int sec = 0; sec < SECTIONS_MAX; sec++) {
			if ((r = find_raw(raw, nraw, name, sec)) == NULL)
				break;	/* a gap ends the value */
			if (!r->ext)
				mime_sb_add(&sb, r->value, strlen(r->value));
			else if (sec == 0)
				pct_decode(&sb, ext_prefix(r->value, cs));
			else
				pct_decode(&sb, r->value);
		}
	} else {
		for (size_t i = 0; i < nraw; i++) {
			if (raw[i].section == -1 && raw[i].ext &&
			    strcmp(raw[i].name, name) == 0) {
				pct_decode(&sb, ext_prefix(raw[i].value, cs));
				goto convert;
			}
		}
		/* Plain value; decode RFC 2047 words too, which RFC 2047 5
		 * forbids but many mailers send for file names. */
		for (size_t i = 0; i < nraw; i++)
			if (raw[i].section == -1 && !raw[i].ext &&
			    strcmp(raw[i].name, name) == 0)
				return mime_decode_words(raw[i].value);
		return xstrdup("");
	}
convert:
	bytes = mime_sb_finish(&sb, &n);
	u = mime_to_utf8(cs[0] != '\0' ? cs : NULL, bytes, n, NULL);
	free(bytes);
	return u;
}

static void
raw_add(struct raw_param *raw, size_t *nraw, char *name, char *value)
{
	size_t l = strlen(name);
	struct raw_param *r;

	if (*nraw >= RAW_PARAMS_MAX) {
		free(name);
		free(value);
		return;
	}
	r = &raw[(*nraw)++];
	r->section = -1;
	r->ext = false;
	if (l > 1 && name[l - 1] == '*') {
		r->ext = true;
		name[--l] = '\0';
	}
	/* "name*N": a section number, no leading zeros (RFC 2231 3). */
	{
		char *star = strrchr(name, '*');

		if (star != NULL && star > name && star[1] != '\0' &&
		    strspn(star + 1, "0123456789") == strlen(star + 1) &&
		    strlen(star + 1) <= 3 && (star[1] != '0' || star[2] == '\0')) {
			r->section = atoi(star + 1);
			*star = '\0';
		}
	}
	r->name = name;
	r->value = value;
}

void
mime_parse_params(const char *s, struct mime_param **params_r, size_t *n_r)
{
	struct raw_param *raw = xcalloc(RAW_PARAMS_MAX, sizeof(*raw));
	struct mime_param *out = NULL;
	size_t nraw = 0, nout = 0;

	for (;;) {
		char *name;

		s = mime_skip_cfws(s);
		if (*s == '\0')
			break;
		if (*s == ';') {
			s++;
			continue;
		}
		/* Tolerate a missing ';' before a parameter. */
		if ((name = mime_token(&s)) == NULL) {
			s++;	/* junk byte */
			continue;
		}
		s = mime_skip_cfws(s);
		if (*s != '=') {
			free(name);
			s += strcspn(s, ";");
			continue;
		}
		s++;
		raw_add(raw, &nraw, name, param_value(&s));
	}
	for (size_t i = 0; i < nraw && nout < MIME_MAX_PARAMS; i++) {
		bool dup = false;

		for (size_t j = 0; j < nout && !dup; j++)
			dup = strcmp(out[j].name, raw[i].name) == 0;
		if (dup)
			continue;
		if (out == NULL)
			out = xcalloc(MIME_MAX_PARAMS, sizeof(*out));
		out[nout].name = xstrdup(raw[i].name);
		out[nout].value = join_param(raw, nraw, raw[i].name);
		nout++;
	}
	for (size_t i = 0; i < nraw; i++) {
		free(raw[i].name);
		free(raw[i].value);
	}
	free(raw);
	*params_r = out;
	*n_r = nout;
}

void
mime_params_free(struct mime_param *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
}

const char *
mime_param_get(const struct mime_param *p, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_casecmp(p[i].name, name) == 0)
			return p[i].value;
	return NULL;
}
