/*
 * search_text: the message side of SEARCH evaluation. Loads a message
 * once, builds its decoded header fields, body text and Date: day lazily,
 * and matches folded needles in them; also the UTF-8 case folding the
 * parser applies to needles and imap_search_text.
 */
#include "imap/search_private.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "imap/imapdate.h"

/*
 * Case folding for the text keys: ASCII, and the two-byte UTF-8 letters of
 * Latin-1 Supplement, Latin Extended-A, Greek and Cyrillic, to lower case
 * (final sigma to sigma). Every mapping keeps the encoded length, so text
 * folds in place and a folded needle is found with memmem in a folded
 * haystack; a match always starts on a character boundary because a
 * (valid UTF-8) needle never starts with a continuation byte. Letters
 * whose folding would change length (U+0130, U+017F) stay as they are.
 */
static uint32_t
fold_cp(uint32_t c)
{
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 0x20;
	if (c >= 0x100 && c <= 0x17f) {
		if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149 ||
		    c == 0x17f)
			return c;
		if (c == 0x178)
			return 0xff;
		if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
			return (c & 1) ? c + 1 : c;
		return (c & 1) ? c : c + 1;
	}
	if (c >= 0x391 && c <= 0x3ab && c != 0x3a2)
		return c + 0x20;
	if (c == 0x386)
		return 0x3ac;
	if (c >= 0x388 && c <= 0x38a)
		return c + 0x25;
	if (c == 0x38c)
		return 0x3cc;
	if (c == 0x38e || c == 0x38f)
		return c + 0x3f;
	if (c == 0x3c2)
		return 0x3c3;
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	if (c >= 0x410 && c <= 0x42f)
		return c + 0x20;
	if ((c >= 0x460 && c <= 0x481) || (c >= 0x48a && c <= 0x4bf) ||
	    (c >= 0x4d0 && c <= 0x52f))
		return (c & 1) ? c : c + 1;
	if (c == 0x4c0)
		return 0x4cf;
	if (c >= 0x4c1 && c <= 0x4ce)
		return (c & 1) ? c + 1 : c;
	return c;
}

void
imap_search_fold_utf8(char *s, size_t n)
{
	unsigned char *u = (unsigned char *)s;
	uint32_t cp;

	for (size_t i = 0; i < n; i++) {
		if (u[i] >= 'A' && u[i] <= 'Z')
			u[i] += 'a' - 'A';
		else if ((u[i] & 0xe0) == 0xc0 && i + 1 < n &&
		    (u[i + 1] & 0xc0) == 0x80) {
			cp = (uint32_t)(u[i] & 0x1f) << 6 | (u[i + 1] & 0x3f);
			if (cp >= 0x80) {
				cp = fold_cp(cp);
				u[i] = (unsigned char)(0xc0 | cp >> 6);
				u[i + 1] = (unsigned char)(0x80 | (cp & 0x3f));
			}
			i++;
		}
	}
}

static bool
has_folded(const char *hay, size_t haylen, const char *needle, size_t nlen)
{
	if (nlen == 0)
		return true;
	return haylen >= nlen && memmem(hay, haylen, needle, nlen) != NULL;
}

bool
imap_search_text(const char *hay, size_t haylen, const char *needle)
{
	size_t nlen = strlen(needle);
	char *h, *nd;
	bool r;

	if (nlen == 0)
		return true;
	if (haylen < nlen)
		return false;
	h = xstrndup(hay, haylen);
	nd = xstrdup(needle);
	imap_search_fold_utf8(h, haylen);
	imap_search_fold_utf8(nd, nlen);
	r = has_folded(h, haylen, nd, nlen);
	free(h);
	free(nd);
	return r;
}

static void
sbuf_add(struct sbuf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (n > SIZE_MAX / 2 - b->len)
		abort();
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n)
			cap *= 2;
		b->s = xrealloc(b->s, cap);
		b->cap = cap;
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
}

/* One header field in search_eval.hdr: folded "name: value", then NUL. */
struct sfield {
	size_t	 off, namelen;	/* the name at off */
	size_t	 voff, end;	/* the value: [voff, end) */
};

static int
ev_load(struct search_eval *ev)
{
	const struct imap_search_msg *msg = ev->msg;

	if (ev->loaded == 0) {
		ev->loaded = -1;
		if (msg->data != NULL && msg->data(msg->arg, &ev->data,
		    &ev->len, &ev->root) == 0 && ev->root != NULL)
			ev->loaded = 1;
	}
	return ev->loaded;
}

void
imap_search_ev_done(struct search_eval *ev)
{
	free(ev->hdr.s);
	free(ev->fields);
	free(ev->body.s);
}

/*
 * Append the fields of a header block to b, each as folded
 * "name: decoded value" and a NUL (which no needle holds, so no match
 * spans two fields); record them in ev->fields when ev is not NULL.
 */
static void
add_header(struct sbuf *b, const char *hdr, size_t len,
    struct search_eval *ev)
{
	const char *name, *val;
	size_t pos = 0, namelen, vallen, off, voff;
	char *raw, *dec;

	while (mime_header_next(hdr, len, &pos, &name, &namelen, &val,
	    &vallen) == 1) {
		off = b->len;
		sbuf_add(b, name, namelen);
		sbuf_add(b, ": ", 2);
		voff = b->len;
		raw = mime_header_unfold(val, vallen);
		dec = mime_decode_words(raw);
		sbuf_add(b, dec, strlen(dec));
		free(dec);
		free(raw);
		imap_search_fold_utf8(b->s + off, b->len - off);
		if (ev != NULL) {
			if (ev->nfields == ev->fcap) {
				ev->fcap = ev->fcap ? ev->fcap * 2 : 16;
				ev->fields = xrealloc(ev->fields,
				    ev->fcap * sizeof(*ev->fields));
			}
			ev->fields[ev->nfields++] = (struct sfield){
				off, namelen, voff, b->len };
		}
		sbuf_add(b, "", 1);
	}
}

/* A text part's body: transfer-decoded, converted to UTF-8, folded. */
static void
add_text(struct sbuf *b, const char *data, const struct mime_part *part)
{
	const char *raw = data + part->body_off, *cs;
	size_t n = part->body_len, ulen;
	char *dec = NULL, *utf;

	if (part->encoding != NULL && strcmp(part->encoding, "base64") == 0) {
		dec = xmalloc(n / 4 * 3 + 3);
		n = mime_decode_base64(raw, n, dec);
		raw = dec;
	} else if (part->encoding != NULL &&
	    strcmp(part->encoding, "quoted-printable") == 0) {
		dec = xmalloc(n + 1);
		n = mime_decode_qp(raw, n, dec);
		raw = dec;
	}
	cs = mime_param_get(part->params, part->nparams, "charset");
	utf = mime_to_utf8(cs, raw, n, &ulen);
	imap_search_fold_utf8(utf, ulen);
	sbuf_add(b, utf, ulen);
	sbuf_add(b, "", 1);
	free(utf);
	free(dec);
}

/* The body text of part: text/ leaves, and embedded messages' header
 * fields and text; other leaves are skipped. */
static void
add_body(struct sbuf *b, const char *data, const struct mime_part *part)
{
	const struct mime_part *m;

	if (strcmp(part->type, "multipart") == 0) {
		for (size_t i = 0; i < part->nchildren; i++)
			add_body(b, data, &part->children[i]);
	} else if ((m = part->message) != NULL) {
		add_header(b, data + m->hdr_off, m->hdr_len, NULL);
		add_body(b, data, m);
	} else if (strcmp(part->type, "text") == 0)
		add_text(b, data, part);
}

static int
ev_headers(struct search_eval *ev)
{
	if (ev_load(ev) < 0)
		return -1;
	if (!ev->have_hdr) {
		ev->have_hdr = true;
		add_header(&ev->hdr, ev->data + ev->root->hdr_off,
		    ev->root->hdr_len, ev);
	}
	return 0;
}

/* HEADER, FROM, SUBJECT...: some field called field contains needle. */
int
imap_search_ev_header(struct search_eval *ev, const char *field,
    const char *needle, size_t nlen)
{
	size_t flen = strlen(field);
	const struct sfield *f;

	if (ev_headers(ev) < 0)
		return -1;
	for (size_t i = 0; i < ev->nfields; i++) {
		f = &ev->fields[i];
		if (f->namelen == flen &&
		    ascii_ncasecmp(ev->hdr.s + f->off, field, flen) == 0 &&
		    has_folded(ev->hdr.s + f->voff, f->end - f->voff, needle,
		    nlen))
			return 1;
	}
	return 0;
}

/* TEXT's header half: any field, its name included. */
int
imap_search_ev_headers_all(struct search_eval *ev, const char *needle,
    size_t nlen)
{
	if (ev_headers(ev) < 0)
		return -1;
	return has_folded(ev->hdr.s, ev->hdr.len, needle, nlen);
}

int
imap_search_ev_body(struct search_eval *ev, const char *needle, size_t nlen)
{
	if (ev_load(ev) < 0)
		return -1;
	if (nlen == 0)
		return 1;
	if (!ev->have_body) {
		ev->have_body = true;
		add_body(&ev->body, ev->data, ev->root);
	}
	return has_folded(ev->body.s, ev->body.len, needle, nlen);
}

/* The day of the Date: field: 1 and *day_r, 0 when there is no usable
 * one, -1 when the data cannot be loaded. */
int
imap_search_ev_sent_day(struct search_eval *ev, int64_t *day_r)
{
	char *v;
	time_t day;

	if (ev_load(ev) < 0)
		return -1;
	if (!ev->have_sent) {
		ev->have_sent = true;
		v = mime_header_get(ev->data + ev->root->hdr_off,
		    ev->root->hdr_len, "Date");
		if (v != NULL && imap_rfc5322_day(v, &day) == 0) {
			ev->sent = 1;
			ev->sent_day = (int64_t)day;
		}
		free(v);
	}
	*day_r = ev->sent_day;
	return ev->sent;
}
