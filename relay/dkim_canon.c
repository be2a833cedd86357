/* dkim_canon: DKIM canonicalisation and header selection. See dkim_canon.h. */
#include "relay/dkim_canon.h"
#include "core/util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* Hash through a staging buffer: relaxed body output comes a word at a time. */
#define SINK_FLUSH	8192

/*
 * Where canonical bytes go: a growing string, or a digest (then buf only
 * stages up to SINK_FLUSH bytes).
 */
struct sink {
	EVP_MD_CTX	*md;	/* NULL: keep everything in buf */
	char		*buf;
	size_t		 len;
	size_t		 cap;
	bool		 failed;	/* a digest update failed */
};

static const char *const signed_names[] = {
	"from", "to", "cc", "subject", "date", "message-id", "reply-to",
	"mime-version", "content-type", "in-reply-to", "references",
};

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static void
sink_flush(struct sink *s)
{
	if (s->md == NULL || s->len == 0)
		return;
	if (EVP_DigestUpdate(s->md, s->buf, s->len) != 1)
		s->failed = true;
	s->len = 0;
}

static void
sink_put(struct sink *s, const void *p, size_t n)
{
	if (s->md != NULL && s->len + n > SINK_FLUSH) {
		sink_flush(s);
		if (n > SINK_FLUSH) {
			if (EVP_DigestUpdate(s->md, p, n) != 1)
				s->failed = true;
			return;
		}
	}
	if (n + 1 > s->cap - s->len) {
		size_t cap = s->cap == 0 ? 256 : s->cap;

		while (n + 1 > cap - s->len) {
			if (cap > SIZE_MAX / 2)
				abort();
			cap *= 2;
		}
		s->buf = xrealloc(s->buf, cap);
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

static void
sink_str(struct sink *s, const char *str)
{
	sink_put(s, str, strlen(str));
}

/* The whole of s->buf (NUL-terminated, possibly empty) to the caller. */
static char *
sink_take(struct sink *s, size_t *len_r)
{
	if (s->buf == NULL)
		sink_put(s, "", 0);
	*len_r = s->len;
	return s->buf;
}

/* End of the line starting at pos: the offset of its CRLF, or len. */
static size_t
line_end(const char *p, size_t pos, size_t len)
{
	const char *cr = len - pos >= 2 ? memmem(p + pos, len - pos, "\r\n", 2) :
	    NULL;

	return cr != NULL ? (size_t)(cr - p) : len;
}

size_t
dkim_body_offset(const char *msg, size_t len)
{
	const char *end;

	if (len >= 2 && msg[0] == '\r' && msg[1] == '\n')
		return 2;
	if (len < 4 || (end = memmem(msg, len, "\r\n\r\n", 4)) == NULL)
		return len;
	return (size_t)(end - msg) + 4;
}

/* ----- bodies ----- */

/* Runs of WSP as one SP; line holds no trailing WSP. */
static void
put_compressed(struct sink *s, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && !is_wsp(p[j]))
			j++;
		sink_put(s, p + i, j - i);
		if (j == n)
			break;
		sink_put(s, " ", 1);
		while (j < n && is_wsp(p[j]))
			j++;
		i = j;
	}
}

static void
canon_body(struct sink *s, enum dkim_canon c, const char *body, size_t len)
{
	size_t pos = 0, empty = 0;	/* empty lines held back */
	bool any = false;

	while (pos < len) {
		size_t eol = line_end(body, pos, len), end = eol;

		if (c == DKIM_CANON_RELAXED)
			while (end > pos && is_wsp(body[end - 1]))
				end--;
		if (end == pos)
			empty++;
		else {
			for (; empty > 0; empty--)
				sink_put(s, "\r\n", 2);
			if (c == DKIM_CANON_RELAXED)
				put_compressed(s, body + pos, end - pos);
			else
				sink_put(s, body + pos, end - pos);
			sink_put(s, "\r\n", 2);
			any = true;
		}
		pos = eol < len ? eol + 2 : len;
	}
	/* RFC 6376 3.4.3: an empty simple body is one CRLF. */
	if (!any && c == DKIM_CANON_SIMPLE)
		sink_put(s, "\r\n", 2);
}

char *
dkim_canon_body(enum dkim_canon c, const char *body, size_t len, size_t *len_r)
{
	struct sink s = { 0 };

	canon_body(&s, c, body, len);
	return sink_take(&s, len_r);
}

int
dkim_body_hash(enum dkim_canon c, const char *body, size_t len,
    unsigned char hash_r[DKIM_HASH_LEN])
{
	struct sink s = { 0 };
	unsigned int n = 0;
	int rv = -1;

	if ((s.md = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1)
		goto out;
	canon_body(&s, c, body, len);
	sink_flush(&s);
	if (!s.failed && EVP_DigestFinal_ex(s.md, hash_r, &n) == 1 &&
	    n == DKIM_HASH_LEN)
		rv = 0;
out:
	EVP_MD_CTX_free(s.md);
	free(s.buf);
	return rv;
}

/* ----- headers ----- */

struct field {
	size_t	off;
	size_t	len;		/* up to and excluding the final CRLF */
	size_t	namelen;	/* before ':', trailing WSP excluded */
	bool	used;
};

/* Length of the name of field p[0..n): up to ':' (or all), WSP trimmed. */
static size_t
field_namelen(const char *p, size_t n)
{
	const char *colon = memchr(p, ':', n);
	size_t k = colon != NULL ? (size_t)(colon - p) : n;

	while (k > 0 && is_wsp(p[k - 1]))
		k--;
	return k;
}

/* Split the header section into fields; stops at the empty line. */
static struct field *
split_fields(const char *hdr, size_t len, size_t *n_r)
{
	struct field *f = NULL;
	size_t n = 0, cap = 0, pos = 0;

	while (pos < len) {
		size_t start = pos, eol = line_end(hdr, pos, len);

		if (eol == pos)
			break;	/* the empty line: the body follows */
		/* Continuation lines start with WSP (RFC 5322 2.2.3). */
		while (eol + 2 < len && is_wsp(hdr[eol + 2]))
			eol = line_end(hdr, eol + 2, len);
		if (n == cap) {
			cap = cap == 0 ? 32 : cap * 2;
			f = xrealloc(f, cap * sizeof(*f));
		}
		f[n].off = start;
		f[n].len = eol - start;
		f[n].namelen = field_namelen(hdr + start, eol - start);
		f[n].used = false;
		n++;
		pos = eol < len ? eol + 2 : len;
	}
	*n_r = n;
	return f;
}

static void
canon_field(struct sink *s, enum dkim_canon c, const char *p, size_t n)
{
	const char *colon;
	size_t namelen, i;
	bool space = false, value = false;

	if (n >= 2 && p[n - 2] == '\r' && p[n - 1] == '\n')
		n -= 2;
	if (c == DKIM_CANON_SIMPLE) {
		sink_put(s, p, n);
		sink_put(s, "\r\n", 2);
		return;
	}
	namelen = field_namelen(p, n);
	for (i = 0; i < namelen; i++) {
		char ch = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] - 'A' + 'a') :
		    p[i];

		sink_put(s, &ch, 1);
	}
	sink_put(s, ":", 1);
	colon = memchr(p, ':', n);
	for (i = colon != NULL ? (size_t)(colon - p) + 1 : n; i < n; i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') {
			i++;	/* unfold: the CRLF goes, the WSP after it stays */
			continue;
		}
		if (is_wsp(p[i])) {
			space = true;
			continue;
		}
		if (space && value)
			sink_put(s, " ", 1);
		space = false;
		value = true;
		sink_put(s, p + i, 1);
	}
	sink_put(s, "\r\n", 2);
}

char *
dkim_canon_header(enum dkim_canon c, const char *field, size_t len,
    size_t *len_r)
{
	struct sink s = { 0 };

	canon_field(&s, c, field, len);
	return sink_take(&s, len_r);
}

static bool
name_is(const char *hdr, const struct field *f, const char *name, size_t n)
{
	return f->namelen == n && ascii_ncasecmp(hdr + f->off, name, n) == 0;
}

char *
dkim_header_list(const char *hdr, size_t len)
{
	struct sink s = { 0 };
	struct field *f;
	size_t nf, dummy;

	f = split_fields(hdr, len, &nf);
	for (size_t i = 0; i < NELEM(signed_names); i++) {
		const char *name = signed_names[i];
		size_t count = 0;

		for (size_t j = 0; j < nf; j++)
			if (name_is(hdr, &f[j], name, strlen(name)))
				count++;
		if (i == 0)
			count++;	/* over-sign From */
		for (size_t k = 0; k < count && k < DKIM_HLIST_MAX_EACH; k++) {
			if (s.len > 0)
				sink_put(&s, ":", 1);
			sink_str(&s, name);
		}
	}
	free(f);
	return sink_take(&s, &dummy);
}

char *
dkim_canon_headers(enum dkim_canon c, const char *hdr, size_t len,
    const char *hlist, size_t *len_r)
{
	struct sink s = { 0 };
	struct field *f;
	const char *p = hlist;
	size_t nf;

	f = split_fields(hdr, len, &nf);
	while (*p != '\0') {
		const char *name, *end;
		size_t n;

		while (is_wsp(*p) || *p == '\r' || *p == '\n')
			p++;
		name = p;
		end = p + strcspn(p, ":");
		p = *end == ':' ? end + 1 : end;
		while (end > name && (is_wsp(end[-1]) || end[-1] == '\r' ||
		    end[-1] == '\n'))
			end--;
		if ((n = (size_t)(end - name)) == 0)
			continue;
		for (size_t j = nf; j > 0; j--) {
			struct field *fj = &f[j - 1];

			if (!fj->used && name_is(hdr, fj, name, n)) {
				fj->used = true;
				canon_field(&s, c, hdr + fj->off, fj->len);
				break;
			}
		}
	}
	free(f);
	return sink_take(&s, len_r);
}
