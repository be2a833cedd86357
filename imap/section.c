/* section: FETCH BODY[section]<partial> (RFC 3501 6.4.5). See section.h. */
#include "imap/section.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"

static const struct {
	const char		*name;
	enum imap_section_text	 text;
} sec_keywords[] = {
	/* longest first: "HEADER" is a prefix of the others */
	{ "HEADER.FIELDS.NOT",	IMAP_SEC_FIELDS_NOT },
	{ "HEADER.FIELDS",	IMAP_SEC_FIELDS },
	{ "HEADER",		IMAP_SEC_HEADER },
	{ "TEXT",		IMAP_SEC_TEXT },
	{ "MIME",		IMAP_SEC_MIME },
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A decimal number of at most 64 bits at *sp; leading zeros refused
 * unless zero_ok (partial offsets). */
static int
parse_number(const char **sp, bool zero_ok, uint64_t *n_r)
{
	const char *s = *sp;
	uint64_t n = 0;

	if (!is_digit(*s) || (*s == '0' && is_digit(s[1])))
		return -1;
	for (; is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	if (n == 0 && !zero_ok)
		return -1;
	*sp = s;
	*n_r = n;
	return 0;
}

static void
add_field(struct imap_section *sec, const char *s, size_t n)
{
	sec->fields = xrealloc(sec->fields,
	    (sec->nfields + 1) * sizeof(*sec->fields));
	sec->fields[sec->nfields++] = xstrndup(s, n);
}

/* "(" name *(SP name) ")" at the end of the spec; names are atoms or
 * quoted strings. */
static int
parse_fields(const char *s, struct imap_section *sec)
{
	while (*s == ' ')
		s++;
	if (*s++ != '(')
		return -1;
	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == ')')
			break;
		if (sec->nfields == IMAP_SECTION_FIELDS)
			return -1;
		if (*s == '"') {
			char *tmp = xmalloc(strlen(s));
			size_t n = 0;

			for (s++; *s != '"' && *s != '\0'; s++) {
				if (*s == '\\' && s[1] != '\0')
					s++;
				tmp[n++] = *s;
			}
			if (*s != '"') {
				free(tmp);
				return -1;
			}
			s++;
			add_field(sec, tmp, n);
			free(tmp);
		} else {
			size_t n = 0;

			while ((unsigned char)s[n] > ' ' && s[n] != 0x7f &&
			    strchr("()\"{", s[n]) == NULL)
				n++;
			if (n == 0)
				return -1;
			add_field(sec, s, n);
			s += n;
		}
	}
	if (sec->nfields == 0 || s[1] != '\0')
		return -1;
	return 0;
}

static int
parse_partial(const char *s, struct imap_section *sec)
{
	if (s == NULL || *s == '\0')
		return 0;
	if (*s++ != '<' || parse_number(&s, true, &sec->offset) < 0 ||
	    *s++ != '.' || parse_number(&s, true, &sec->count) < 0 ||
	    *s++ != '>' || *s != '\0')
		return -1;
	sec->partial = true;
	return 0;
}

static int
parse_spec(const char *s, struct imap_section *sec)
{
	size_t i, n;

	while (is_digit(*s)) {
		uint64_t num;

		if (sec->nparts == IMAP_SECTION_DEPTH ||
		    parse_number(&s, false, &num) < 0 || num > UINT32_MAX)
			return -1;
		sec->part[sec->nparts++] = (uint32_t)num;
		if (*s == '\0')
			return 0;
		if (*s++ != '.' || *s == '\0')
			return -1;
	}
	if (*s == '\0')
		return 0;	/* BODY[] */
	for (i = 0; i < NELEM(sec_keywords); i++) {
		n = strlen(sec_keywords[i].name);
		if (ascii_ncasecmp(s, sec_keywords[i].name, n) == 0 &&
		    (s[n] == '\0' || s[n] == ' ' || s[n] == '('))
			break;
	}
	if (i == NELEM(sec_keywords))
		return -1;
	sec->text = sec_keywords[i].text;
	s += n;
	if (sec->text == IMAP_SEC_MIME && sec->nparts == 0)
		return -1;
	if (sec->text == IMAP_SEC_FIELDS || sec->text == IMAP_SEC_FIELDS_NOT)
		return parse_fields(s, sec);
	return *s == '\0' ? 0 : -1;
}

int
imap_section_parse(const char *spec, const char *partial,
    struct imap_section *sec)
{
	memset(sec, 0, sizeof(*sec));
	if (parse_spec(spec, sec) < 0 || parse_partial(partial, sec) < 0) {
		imap_section_free(sec);
		return -1;
	}
	return 0;
}

void
imap_section_free(struct imap_section *sec)
{
	for (size_t i = 0; i < sec->nfields; i++)
		free(sec->fields[i]);
	free(sec->fields);
	memset(sec, 0, sizeof(*sec));
}

/* A field name in the echo: an atom when it can be one inside "[...]". */
static int
name_field(struct buf *b, const char *f)
{
	size_t n = strlen(f);
	bool atom = n > 0;

	for (size_t i = 0; atom && i < n; i++) {
		unsigned char c = (unsigned char)f[i];

		if (c <= ' ' || c >= 0x7f || strchr("(){%*\"\\[]", c) != NULL)
			atom = false;
	}
	if (atom)
		return buf_append(b, f, n);
	if (buf_append(b, "\"", 1) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((f[i] == '"' || f[i] == '\\') && buf_append(b, "\\", 1) < 0)
			return -1;
		if (buf_append(b, &f[i], 1) < 0)
			return -1;
	}
	return buf_append(b, "\"", 1);
}

int
imap_section_name(struct buf *b, const struct imap_section *sec)
{
	if (buf_append(b, "BODY[", 5) < 0)
		return -1;
	for (size_t i = 0; i < sec->nparts; i++) {
		if (buf_appendf(b, i > 0 ? ".%u" : "%u",
		    (unsigned)sec->part[i]) < 0)
			return -1;
	}
	if (sec->text != IMAP_SEC_ALL) {
		const char *kw = NULL;

		for (size_t i = 0; i < NELEM(sec_keywords); i++)
			if (sec_keywords[i].text == sec->text)
				kw = sec_keywords[i].name;
		if (buf_appendf(b, "%s%s", sec->nparts > 0 ? "." : "",
		    kw) < 0)
			return -1;
	}
	if (sec->text == IMAP_SEC_FIELDS || sec->text == IMAP_SEC_FIELDS_NOT) {
		for (size_t i = 0; i < sec->nfields; i++) {
			if (buf_append(b, i > 0 ? " " : " (", i > 0 ? 1 : 2) <
			    0 || name_field(b, sec->fields[i]) < 0)
				return -1;
		}
		if (buf_append(b, ")", 1) < 0)
			return -1;
	}
	if (buf_append(b, "]", 1) < 0)
		return -1;
	if (sec->partial &&
	    buf_appendf(b, "<%llu>", (unsigned long long)sec->offset) < 0)
		return -1;
	return 0;
}

static bool
is_type(const struct mime_part *p, const char *type, const char *subtype)
{
	return strcmp(p->type, type) == 0 &&
	    (subtype == NULL || strcmp(p->subtype, subtype) == 0);
}

/* The part that sec's part numbers name, or NULL when there is none. */
static const struct mime_part *
find_part(const struct mime_part *root, const struct imap_section *sec)
{
	const struct mime_part *p = root;

	for (size_t i = 0; i < sec->nparts; i++) {
		uint32_t n = sec->part[i];
		bool message = i == 0;	/* p is a message's root */

		if (i > 0 && is_type(p, "message", "rfc822")) {
			if ((p = p->message) == NULL)
				return NULL;
			message = true;
		}
		if (is_type(p, "multipart", NULL)) {
			if (n == 0 || n > p->nchildren)
				return NULL;
			p = &p->children[n - 1];
		} else if (!message || n != 1)
			return NULL;
	}
	return p;
}

/* Is the field f of length flen (up to its colon) one of sec's names? */
static bool
field_listed(const struct imap_section *sec, const char *f, size_t flen)
{
	for (size_t i = 0; i < sec->nfields; i++)
		if (strlen(sec->fields[i]) == flen &&
		    ascii_ncasecmp(sec->fields[i], f, flen) == 0)
			return true;
	return false;
}

/*
 * HEADER.FIELDS[.NOT] of the header block hdr/hlen into a new buffer. A
 * field is a line and the continuation lines (starting with a blank) after
 * it; its name runs up to the colon, blanks before the colon dropped. A
 * line without a colon names nothing, so only .NOT returns it.
 */
static char *
header_fields(const char *hdr, size_t hlen, const struct imap_section *sec,
    size_t *len_r)
{
	bool want = sec->text == IMAP_SEC_FIELDS;
	char *out = xmalloc(hlen + 5);
	size_t pos = 0, o = 0;

	while (pos < hlen) {
		const char *lf = memchr(hdr + pos, '\n', hlen - pos);
		size_t ls = pos, end, ce;
		const char *colon;
		size_t nlen = 0;

		end = lf != NULL ? (size_t)(lf - hdr) + 1 : hlen;
		ce = lf != NULL ? end - 1 : hlen;
		if (ce > ls && hdr[ce - 1] == '\r')
			ce--;
		if (ce == ls)
			break;		/* the blank line */
		while (end < hlen && (hdr[end] == ' ' || hdr[end] == '\t')) {
			lf = memchr(hdr + end, '\n', hlen - end);
			end = lf != NULL ? (size_t)(lf - hdr) + 1 : hlen;
		}
		pos = end;
		if (hdr[ls] != ' ' && hdr[ls] != '\t' &&
		    (colon = memchr(hdr + ls, ':', ce - ls)) != NULL) {
			nlen = (size_t)(colon - (hdr + ls));
			while (nlen > 0 && (hdr[ls + nlen - 1] == ' ' ||
			    hdr[ls + nlen - 1] == '\t'))
				nlen--;
		}
		if ((nlen > 0 && field_listed(sec, hdr + ls, nlen)) != want)
			continue;
		memcpy(out + o, hdr + ls, end - ls);
		o += end - ls;
		if (hdr[end - 1] != '\n') {
			/* the last line of a header without a blank line */
			memcpy(out + o, "\r\n", 2);
			o += 2;
		}
	}
	memcpy(out + o, "\r\n", 2);
	*len_r = o + 2;
	return out;
}

void
imap_section_get(const char *data, size_t len,
    const struct mime_part *root, const struct imap_section *sec,
    const char **p_r, size_t *len_r, char **copy_r)
{
	const struct mime_part *part = find_part(root, sec), *msg = NULL;
	const char *p = "";
	size_t off = 0, n = 0;

	*copy_r = NULL;
	if (part != NULL && sec->text != IMAP_SEC_ALL &&
	    sec->text != IMAP_SEC_MIME) {
		/* HEADER* and TEXT: of the message, or of the message that
		 * a message/rfc822 part holds */
		if (sec->nparts == 0)
			msg = root;
		else if (is_type(part, "message", "rfc822"))
			msg = part->message;
	}
	switch (sec->text) {
	case IMAP_SEC_ALL:
		if (sec->nparts == 0)
			n = len;
		else if (part != NULL) {
			off = part->body_off;
			n = part->body_len;
		}
		break;
	case IMAP_SEC_MIME:
		if (part != NULL && sec->nparts > 0) {
			off = part->hdr_off;
			n = part->hdr_len;
		}
		break;
	case IMAP_SEC_HEADER:
	case IMAP_SEC_FIELDS:
	case IMAP_SEC_FIELDS_NOT:
		if (msg != NULL) {
			off = msg->hdr_off;
			n = msg->hdr_len;
		}
		break;
	case IMAP_SEC_TEXT:
		if (msg != NULL) {
			off = msg->body_off;
			n = msg->body_len;
		}
		break;
	}
	/* A tree that does not fit the data gives what does. */
	if (off > len)
		off = n = 0;
	if (n > len - off)
		n = len - off;
	if (n > 0)
		p = data + off;
	if (sec->text == IMAP_SEC_FIELDS || sec->text == IMAP_SEC_FIELDS_NOT) {
		if (msg != NULL) {
			*copy_r = header_fields(p, n, sec, &n);
			p = *copy_r;
		} else
			n = 0;
	}
	if (sec->partial) {
		if (sec->offset >= n)
			n = 0;
		else {
			p += sec->offset;
			n -= (size_t)sec->offset;
			if (sec->count < n)
				n = (size_t)sec->count;
		}
	}
	if (n == 0 && *copy_r == NULL)
		p = "";
	*p_r = p;
	*len_r = n;
}
