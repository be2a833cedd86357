/* fmt: IMAP strings, ENVELOPE and BODY/BODYSTRUCTURE (RFC 3501 7.4.2,
 * 9). See fmt.h. */
#include "imap/fmt.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/*
 * A writer that remembers the first failure, so that a structure can be
 * written as a flat sequence of calls and checked once at the end.
 */
struct fmt_w {
	struct buf	*b;
	int		 rc;
};

static void
w_raw(struct fmt_w *w, const char *s, size_t n)
{
	if (w->rc == 0 && buf_append(w->b, s, n) < 0)
		w->rc = -1;
}

static void
w_str(struct fmt_w *w, const char *s)
{
	w_raw(w, s, strlen(s));
}

static void
w_string(struct fmt_w *w, const char *s, size_t n)
{
	if (w->rc == 0 && imap_fmt_string(w->b, s, n) < 0)
		w->rc = -1;
}

static void
w_nstring(struct fmt_w *w, const char *s)
{
	if (s == NULL)
		w_str(w, "NIL");
	else
		w_string(w, s, strlen(s));
}

static void
w_size(struct fmt_w *w, size_t n)
{
	if (w->rc == 0 && buf_appendf(w->b, " %zu", n) < 0)
		w->rc = -1;
}

/*
 * Strings
 */

static bool
quotable(const char *s, size_t len)
{
	if (len >= IMAP_FMT_QUOTED_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
			return false;
	}
	return true;
}

int
imap_fmt_string(struct buf *b, const char *s, size_t len)
{
	size_t i, start;

	if (!quotable(s, len)) {
		if (buf_appendf(b, "{%zu}\r\n", len) < 0)
			return -1;
		return buf_append(b, s, len);
	}
	if (buf_append(b, "\"", 1) < 0)
		return -1;
	for (i = start = 0; i < len; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		/* quoted-specials go escaped */
		if (buf_append(b, s + start, i - start) < 0 ||
		    buf_append(b, "\\", 1) < 0)
			return -1;
		start = i;
	}
	if (buf_append(b, s + start, len - start) < 0)
		return -1;
	return buf_append(b, "\"", 1);
}

int
imap_fmt_nstring(struct buf *b, const char *s)
{
	if (s == NULL)
		return buf_append(b, "NIL", 3);
	return imap_fmt_string(b, s, strlen(s));
}

int
imap_fmt_astring(struct buf *b, const char *s)
{
	size_t len = strlen(s);
	bool atom = len > 0 && ascii_casecmp(s, "NIL") != 0;

	for (size_t i = 0; atom && i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		/* atom-specials, with ']' allowed (resp-specials) */
		if (c <= ' ' || c >= 0x7f || strchr("(){%*\"\\", c) != NULL)
			atom = false;
	}
	if (atom)
		return buf_append(b, s, len);
	return imap_fmt_string(b, s, len);
}

/*
 * ENVELOPE
 */

/*
 * mime_parse_addresses() decodes RFC 2047 in display names; IMAP clients
 * expect them as written (Dovecot and UW-IMAP send them raw). Hide every
 * "=?" behind a byte that cannot occur in the value, so that no
 * encoded-word is recognised, and put it back afterwards.
 */
#define ADDR_MARK	'\x01'

static char *
addr_protect(const char *v)
{
	char *s = xstrdup(v);

	if (strchr(v, ADDR_MARK) != NULL)
		return s;	/* cannot hide: names come out decoded */
	for (char *p = s; (p = strstr(p, "=?")) != NULL; p += 2)
		*p = ADDR_MARK;
	return s;
}

static void
addr_unprotect(char *s)
{
	for (; s != NULL && (s = strchr(s, ADDR_MARK)) != NULL; s++)
		*s = '=';
}

/* The addresses of the first field called name, or 0 and NULL. */
static size_t
env_addrs(const char *hdr, size_t hlen, const char *name,
    struct mime_addr **addrs_r)
{
	char *v = mime_header_get(hdr, hlen, name), *pv;
	size_t n;

	*addrs_r = NULL;
	if (v == NULL)
		return 0;
	pv = addr_protect(v);
	n = mime_parse_addresses(pv, addrs_r);
	for (size_t i = 0; i < n; i++) {
		struct mime_addr *a = &(*addrs_r)[i];

		addr_unprotect(a->name);
		addr_unprotect(a->adl);
		addr_unprotect(a->mailbox);
		addr_unprotect(a->host);
	}
	free(pv);
	free(v);
	return n;
}

static void
w_addrs(struct fmt_w *w, const struct mime_addr *a, size_t n)
{
	if (n == 0) {
		w_str(w, "NIL");
		return;
	}
	w_str(w, "(");
	for (size_t i = 0; i < n; i++) {
		w_str(w, "(");
		w_nstring(w, a[i].name);
		w_str(w, " ");
		w_nstring(w, a[i].adl);
		w_str(w, " ");
		w_nstring(w, a[i].mailbox);
		w_str(w, " ");
		w_nstring(w, a[i].host);
		w_str(w, ")");
	}
	w_str(w, ")");
}

static void
w_hdr_nstring(struct fmt_w *w, const char *hdr, size_t hlen, const char *name)
{
	char *v = mime_header_get(hdr, hlen, name);

	w_nstring(w, v);
	free(v);
}

static void
w_envelope(struct fmt_w *w, const char *data, size_t len,
    const struct mime_part *part)
{
	static const char *const lists[] = {
		"From", "Sender", "Reply-To", "To", "Cc", "Bcc"
	};
	struct mime_addr *addrs[NELEM(lists)];
	size_t naddrs[NELEM(lists)];
	const char *hdr = "";
	size_t hlen = 0;

	if (part->hdr_off < len) {
		hdr = data + part->hdr_off;
		hlen = part->hdr_len;
		if (hlen > len - part->hdr_off)
			hlen = len - part->hdr_off;
	}
	for (size_t i = 0; i < NELEM(lists); i++)
		naddrs[i] = env_addrs(hdr, hlen, lists[i], &addrs[i]);

	w_str(w, "(");
	w_hdr_nstring(w, hdr, hlen, "Date");
	w_str(w, " ");
	w_hdr_nstring(w, hdr, hlen, "Subject");
	for (size_t i = 0; i < NELEM(lists); i++) {
		size_t k = i;

		/* Sender, Reply-To: absent or empty means From. */
		if ((i == 1 || i == 2) && naddrs[i] == 0)
			k = 0;
		w_str(w, " ");
		w_addrs(w, addrs[k], naddrs[k]);
	}
	w_str(w, " ");
	w_hdr_nstring(w, hdr, hlen, "In-Reply-To");
	w_str(w, " ");
	w_hdr_nstring(w, hdr, hlen, "Message-ID");
	w_str(w, ")");

	for (size_t i = 0; i < NELEM(lists); i++)
		mime_addrs_free(addrs[i], naddrs[i]);
}

int
imap_fmt_envelope(struct buf *b, const char *data, size_t len,
    const struct mime_part *part)
{
	struct fmt_w w = { b, 0 };

	w_envelope(&w, data, len, part);
	return w.rc;
}

/*
 * BODY / BODYSTRUCTURE
 */

#define EMPTY_ENVELOPE	"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
#define EMPTY_BODY	"(\"text\" \"plain\" (\"charset\" \"us-ascii\") " \
			"NIL NIL \"7bit\" 0 0"
#define EMPTY_EXT	" NIL NIL NIL NIL"

static bool
has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* RFC 2231 4: utf-8''value with everything outside attribute-char
 * %-encoded. */
static void
w_rfc2231(struct fmt_w *w, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(v), o = 0;
	char *s = xmalloc(7 + n * 3 + 1);

	memcpy(s, "utf-8''", 7);
	o = 7;
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		if (c > ' ' && c < 0x7f && strchr("*'%()<>@,;:\\\"/[]?=",
		    c) == NULL)
			s[o++] = (char)c;
		else {
			s[o++] = '%';
			s[o++] = hex[c >> 4];
			s[o++] = hex[c & 15];
		}
	}
	w_string(w, s, o);
	free(s);
}

static void
w_params(struct fmt_w *w, const struct mime_param *p, size_t n,
    bool default_charset)
{
	bool charset = false;

	if (n == 0 && !default_charset) {
		w_str(w, "NIL");
		return;
	}
	w_str(w, "(");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			w_str(w, " ");
		if (ascii_casecmp(p[i].name, "charset") == 0)
			charset = true;
		if (has_8bit(p[i].value)) {
			char *name = xasprintf("%s*", p[i].name);

			w_nstring(w, name);
			free(name);
			w_str(w, " ");
			w_rfc2231(w, p[i].value);
		} else {
			w_nstring(w, p[i].name);
			w_str(w, " ");
			w_nstring(w, p[i].value);
		}
	}
	if (default_charset && !charset)
		w_str(w, n > 0 ? " \"charset\" \"us-ascii\"" :
		    "\"charset\" \"us-ascii\"");
	w_str(w, ")");
}

/* Content-Language (RFC 3282): tags separated by commas, with CFWS. */
static void
w_language(struct fmt_w *w, const char *v)
{
	const char *s = v, *e;
	bool any = false;

	while (v != NULL && *s != '\0') {
		if (*s == '(') {		/* comment */
			int depth = 0;

			do {
				if (*s == '\\' && s[1] != '\0')
					s++;
				else if (*s == '(')
					depth++;
				else if (*s == ')')
					depth--;
				s++;
			} while (depth > 0 && *s != '\0');
			continue;
		}
		if (*s == ',' || *s == ' ' || *s == '\t') {
			s++;
			continue;
		}
		e = s + strcspn(s, ", \t(");
		w_str(w, any ? " " : "(");
		w_string(w, s, (size_t)(e - s));
		any = true;
		s = e;
	}
	w_str(w, any ? ")" : "NIL");
}

/* disposition language location, each after a space */
static void
w_ext_common(struct fmt_w *w, const struct mime_part *p)
{
	w_str(w, " ");
	if (p->disposition == NULL)
		w_str(w, "NIL");
	else {
		w_str(w, "(");
		w_nstring(w, p->disposition);
		w_str(w, " ");
		w_params(w, p->disp_params, p->ndisp_params, false);
		w_str(w, ")");
	}
	w_str(w, " ");
	w_language(w, p->language);
	w_str(w, " ");
	w_nstring(w, p->location);
}

static void w_body(struct fmt_w *, const char *, size_t,
    const struct mime_part *, bool);

static void
w_multipart(struct fmt_w *w, const char *data, size_t len,
    const struct mime_part *p, bool ext)
{
	if (p->nchildren == 0) {
		/* No delimiter found: RFC 3501 wants at least one body. */
		w_str(w, EMPTY_BODY);
		w_str(w, ext ? EMPTY_EXT ")" : ")");
	}
	for (size_t i = 0; i < p->nchildren; i++)
		w_body(w, data, len, &p->children[i], ext);
	w_str(w, " ");
	w_nstring(w, p->subtype);
	if (!ext)
		return;
	w_str(w, " ");
	w_params(w, p->params, p->nparams, false);
	w_ext_common(w, p);
}

static void
w_single(struct fmt_w *w, const char *data, size_t len,
    const struct mime_part *p, bool ext)
{
	bool text = strcmp(p->type, "text") == 0;
	bool rfc822 = strcmp(p->type, "message") == 0 &&
	    strcmp(p->subtype, "rfc822") == 0;

	w_nstring(w, p->type);
	w_str(w, " ");
	w_nstring(w, p->subtype);
	w_str(w, " ");
	w_params(w, p->params, p->nparams, text);
	w_str(w, " ");
	w_nstring(w, p->id);
	w_str(w, " ");
	w_nstring(w, p->description);
	w_str(w, " ");
	w_nstring(w, p->encoding);
	w_size(w, p->body_len);
	if (rfc822) {
		w_str(w, " ");
		if (p->message != NULL) {
			w_envelope(w, data, len, p->message);
			w_str(w, " ");
			w_body(w, data, len, p->message, ext);
		} else {
			w_str(w, EMPTY_ENVELOPE " " EMPTY_BODY);
			w_str(w, ext ? EMPTY_EXT ")" : ")");
		}
	}
	if (text || rfc822)
		w_size(w, p->body_lines);
	if (!ext)
		return;
	w_str(w, " ");
	w_nstring(w, p->md5);
	w_ext_common(w, p);
}

static void
w_body(struct fmt_w *w, const char *data, size_t len,
    const struct mime_part *p, bool ext)
{
	w_str(w, "(");
	if (strcmp(p->type, "multipart") == 0)
		w_multipart(w, data, len, p, ext);
	else
		w_single(w, data, len, p, ext);
	w_str(w, ")");
}

int
imap_fmt_bodystructure(struct buf *b, const char *data, size_t len,
    const struct mime_part *part, bool extended)
{
	struct fmt_w w = { b, 0 };

	w_body(&w, data, len, part, extended);
	return w.rc;
}
