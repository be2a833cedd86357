/* mime: the MIME tree of a message (RFC 2045, RFC 2046). See mime.h. */
#include "store/mime_private.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

struct parse_ctx {
	const char	*d;
	size_t		 nparts;	/* parsed so far, against MIME_MAX_PARTS */
};

struct range {
	size_t	start, end;
};

static void parse_part(struct parse_ctx *, struct mime_part *, size_t start,
    size_t end, int depth, bool in_digest);

/* Offset after the blank line ending the header block that starts at
 * start, or end when there is none (the part is all header). */
static size_t
header_end(const char *d, size_t start, size_t end)
{
	size_t pos = start;

	while (pos < end) {
		const char *lf = memchr(d + pos, '\n', end - pos);
		size_t ce = lf != NULL ? (size_t)(lf - d) : end;
		size_t next = lf != NULL ? ce + 1 : end;

		if (ce > pos && d[ce - 1] == '\r')
			ce--;
		if (ce == pos)
			return next;
		pos = next;
	}
	return end;
}

static size_t
count_lines(const char *d, size_t off, size_t len)
{
	const char *p, *e, *lf;
	size_t n = 0;

	if (len == 0)		/* d may be NULL for an empty message */
		return 0;
	p = d + off;
	e = p + len;
	while (p < e && (lf = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		n++;
		p = lf + 1;
	}
	return n + (p < e ? 1 : 0);	/* a last line without LF counts */
}

/*
 * Is there a boundary delimiter line at pos (a line start)? RFC 2046 5.1.1:
 * "--" boundary, "--" for the close delimiter, then optional blanks, then
 * the line end (or the end of the data). A line where the boundary is
 * only a prefix of something longer is not a delimiter.
 */
static bool
is_delimiter(const char *d, size_t pos, size_t end, const char *b,
    size_t blen, bool *close_r, size_t *next_r)
{
	size_t q = pos + 2 + blen;

	if (end - pos < 2 + blen || d[pos] != '-' || d[pos + 1] != '-' ||
	    memcmp(d + pos + 2, b, blen) != 0)
		return false;
	*close_r = false;
	if (end - q >= 2 && d[q] == '-' && d[q + 1] == '-') {
		*close_r = true;
		q += 2;
	}
	while (q < end && (d[q] == ' ' || d[q] == '\t'))
		q++;
	if (q < end && d[q] == '\r' && (q + 1 == end || d[q + 1] == '\n'))
		q++;
	if (q < end && d[q] == '\n')
		q++;
	else if (q < end)
		return false;	/* something after the boundary */
	*next_r = q;
	return true;
}

/* Split a multipart body [start, end) into body-part ranges. */
static size_t
split_multipart(struct parse_ctx *ctx, size_t start, size_t end,
    const char *b, struct range **ranges_r)
{
	const char *d = ctx->d;
	struct range *r = NULL;
	size_t n = 0, cap = 0, pos = start, pstart = 0, next, blen = strlen(b);
	bool in_part = false, close;

	while (pos < end) {
		const char *lf;

		if (d[pos] == '-' &&
		    is_delimiter(d, pos, end, b, blen, &close, &next)) {
			/* Past the cap the current part runs to the end. */
			if (ctx->nparts + n >= MIME_MAX_PARTS)
				break;
			if (in_part) {
				/* The line break before the delimiter belongs
				 * to it, not to the part (RFC 2046 5.1.1). */
				size_t pend = pos;

				if (pend > pstart && d[pend - 1] == '\n')
					pend--;
				if (pend > pstart && d[pend - 1] == '\r')
					pend--;
				if (n == cap) {
					cap = cap ? cap * 2 : 8;
					r = xrealloc(r, cap * sizeof(*r));
				}
				r[n].start = pstart;
				r[n++].end = pend;
			}
			if (close) {
				in_part = false;	/* the rest is epilogue */
				break;
			}
			in_part = true;
			pstart = pos = next;
			continue;
		}
		lf = memchr(d + pos, '\n', end - pos);
		pos = lf != NULL ? (size_t)(lf - d) + 1 : end;
	}
	if (in_part) {
		/* No close delimiter: the last part runs to the end. */
		if (n == cap)
			r = xrealloc(r, (cap + 1) * sizeof(*r));
		r[n].start = pstart;
		r[n++].end = end;
	}
	*ranges_r = r;
	return n;
}

static void
parse_content_type(struct mime_part *p, const char *v, bool in_digest)
{
	const char *s = v;
	char *type, *sub = NULL;

	if (v != NULL && (type = mime_token(&s)) != NULL) {
		s = mime_skip_cfws(s);
		if (*s == '/') {
			s++;
			sub = mime_token(&s);
		}
		if (sub != NULL) {
			p->type = type;
			p->subtype = sub;
			mime_parse_params(s, &p->params, &p->nparams);
			return;
		}
		free(type);
	}
	/* Absent or invalid: RFC 2045 5.2, RFC 2046 5.1.5 for digests. */
	p->type = xstrdup(in_digest ? "message" : "text");
	p->subtype = xstrdup(in_digest ? "rfc822" : "plain");
}

static void
set_once(char **field, const char *val, size_t vlen)
{
	if (*field == NULL)
		*field = mime_header_unfold(val, vlen);
}

static void
read_headers(struct mime_part *p, const char *hdr, size_t len,
    char **ctype_r, char **cte_r, char **disp_r)
{
	const struct {
		const char	*name;
		char		**field;
	} fields[] = {
		{ "Content-ID",		 &p->id },
		{ "Content-Description", &p->description },
		{ "Content-MD5",	 &p->md5 },
		{ "Content-Language",	 &p->language },
		{ "Content-Location",	 &p->location },
	};
	const char *name, *val;
	size_t pos = 0, nlen, vlen;

	while (mime_header_next(hdr, len, &pos, &name, &nlen, &val, &vlen)) {
		/* Only Content-* fields matter here (RFC 2045 9). */
		if (nlen < 8 || ascii_ncasecmp(name, "Content-", 8) != 0)
			continue;
		if (nlen == 12 && ascii_ncasecmp(name, "Content-Type", 12) == 0)
			set_once(ctype_r, val, vlen);
		else if (nlen == 25 && ascii_ncasecmp(name,
		    "Content-Transfer-Encoding", 25) == 0)
			set_once(cte_r, val, vlen);
		else if (nlen == 19 && ascii_ncasecmp(name,
		    "Content-Disposition", 19) == 0)
			set_once(disp_r, val, vlen);
		else {
			for (size_t i = 0; i < NELEM(fields); i++) {
				if (strlen(fields[i].name) == nlen &&
				    ascii_ncasecmp(name, fields[i].name, nlen) == 0)
					set_once(fields[i].field, val, vlen);
			}
		}
	}
}

static void
parse_part(struct parse_ctx *ctx, struct mime_part *p, size_t start,
    size_t end, int depth, bool in_digest)
{
	char *ctype = NULL, *cte = NULL, *disp = NULL;
	const char *boundary, *s;
	size_t body = header_end(ctx->d, start, end);

	ctx->nparts++;
	p->hdr_off = start;
	p->hdr_len = body - start;
	p->body_off = body;
	p->body_len = end - body;
	p->body_lines = count_lines(ctx->d, body, end - body);

	read_headers(p, ctx->d + start, p->hdr_len, &ctype, &cte, &disp);
	parse_content_type(p, ctype, in_digest);
	s = cte;
	if (cte == NULL || (p->encoding = mime_token(&s)) == NULL)
		p->encoding = xstrdup("7bit");
	s = disp;
	if (disp != NULL && (p->disposition = mime_token(&s)) != NULL)
		mime_parse_params(s, &p->disp_params, &p->ndisp_params);
	free(ctype);
	free(cte);
	free(disp);

	if (depth >= MIME_MAX_DEPTH || ctx->nparts >= MIME_MAX_PARTS)
		return;
	if (strcmp(p->type, "multipart") == 0) {
		struct range *r;

		boundary = mime_param_get(p->params, p->nparams, "boundary");
		if (boundary == NULL || boundary[0] == '\0')
			return;
		p->nchildren = split_multipart(ctx, body, end, boundary, &r);
		if (p->nchildren == 0)
			return;
		p->children = xcalloc(p->nchildren, sizeof(*p->children));
		for (size_t i = 0; i < p->nchildren; i++)
			parse_part(ctx, &p->children[i], r[i].start, r[i].end,
			    depth + 1, strcmp(p->subtype, "digest") == 0);
		free(r);
	} else if (strcmp(p->type, "message") == 0 &&
	    (strcmp(p->subtype, "rfc822") == 0 ||
	    strcmp(p->subtype, "global") == 0) &&
	    strcmp(p->encoding, "base64") != 0 &&
	    strcmp(p->encoding, "quoted-printable") != 0) {
		/* RFC 2046 5.2.1 forbids encoding message/rfc822; if it is
		 * encoded anyway we cannot give offsets into it. */
		p->message = xcalloc(1, sizeof(*p->message));
		parse_part(ctx, p->message, body, end, depth + 1, false);
	}
}

struct mime_part *
mime_parse(const char *data, size_t len)
{
	struct parse_ctx ctx = { data, 0 };
	struct mime_part *root = xcalloc(1, sizeof(*root));

	parse_part(&ctx, root, 0, len, 0, false);
	return root;
}

static void
part_clear(struct mime_part *p)
{
	free(p->type);
	free(p->subtype);
	mime_params_free(p->params, p->nparams);
	free(p->id);
	free(p->description);
	free(p->encoding);
	free(p->md5);
	free(p->disposition);
	mime_params_free(p->disp_params, p->ndisp_params);
	free(p->language);
	free(p->location);
	for (size_t i = 0; i < p->nchildren; i++)
		part_clear(&p->children[i]);
	free(p->children);
	if (p->message != NULL) {
		part_clear(p->message);
		free(p->message);
	}
}

void
mime_free(struct mime_part **pp)
{
	if (*pp == NULL)
		return;
	part_clear(*pp);
	FREE_NULL(*pp);
}

static size_t
str_size(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

static size_t
params_size(const struct mime_param *v, size_t n)
{
	size_t sum = n * sizeof(*v);

	for (size_t i = 0; i < n; i++)
		sum += str_size(v[i].name) + str_size(v[i].value);
	return sum;
}

/* What part_clear() would free, minus the part itself. */
static size_t
part_size(const struct mime_part *p)
{
	size_t sum;

	sum = str_size(p->type) + str_size(p->subtype) +
	    params_size(p->params, p->nparams) + str_size(p->id) +
	    str_size(p->description) + str_size(p->encoding) +
	    str_size(p->md5) + str_size(p->disposition) +
	    params_size(p->disp_params, p->ndisp_params) +
	    str_size(p->language) + str_size(p->location);
	sum += p->nchildren * sizeof(*p->children);
	for (size_t i = 0; i < p->nchildren; i++)
		sum += part_size(&p->children[i]);
	if (p->message != NULL)
		sum += sizeof(*p->message) + part_size(p->message);
	return sum;
}

size_t
mime_mem_size(const struct mime_part *p)
{
	return p != NULL ? sizeof(*p) + part_size(p) : 0;
}
