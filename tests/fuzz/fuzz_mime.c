/*
 * fuzz_mime: the MIME parser (store/mime.c, mime_hdr.c, mime_decode.c)
 * and what IMAP builds from its tree (imap/fmt.c BODYSTRUCTURE and
 * ENVELOPE, imap/section.c). The input is one message. Every part's byte
 * ranges must lie inside it; headers are walked and decoded (RFC 2047,
 * RFC 2231 parameters), bodies decoded by their transfer encoding into
 * buffers of exactly the documented size, then converted to UTF-8 from
 * their charset.
 */
#include "tests/fuzz/fuzz.h"

#include <stdbool.h>

#include "core/buf.h"
#include "imap/fmt.h"
#include "imap/section.h"
#include "store/mime.h"

static size_t
walk(const char *data, size_t len, const struct mime_part *m, unsigned depth)
{
	const char *hdr = data + m->hdr_off, *name, *val;
	size_t pos = 0, nlen, vlen, count = 1;
	char *s, *out, *u;

	FUZZ_CHECK(depth <= MIME_MAX_DEPTH + 1);
	FUZZ_CHECK(m->hdr_off <= len && m->hdr_len <= len - m->hdr_off);
	FUZZ_CHECK(m->body_off <= len && m->body_len <= len - m->body_off);
	FUZZ_CHECK(m->hdr_off + m->hdr_len <= m->body_off);
	FUZZ_CHECK(m->type != NULL && m->subtype != NULL);
	FUZZ_CHECK(m->encoding != NULL);
	FUZZ_CHECK(m->nparams <= MIME_MAX_PARAMS);
	for (size_t i = 0; i < m->nparams; i++)
		FUZZ_CHECK(m->params[i].name != NULL &&
		    m->params[i].value != NULL);

	while (mime_header_next(hdr, m->hdr_len, &pos, &name, &nlen, &val,
	    &vlen) == 1) {
		FUZZ_CHECK(name >= hdr && name + nlen <= hdr + m->hdr_len);
		FUZZ_CHECK(val >= hdr && val + vlen <= hdr + m->hdr_len);
		FUZZ_CHECK(pos <= m->hdr_len);
		s = mime_header_unfold(val, vlen);
		u = mime_decode_words(s);
		free(u);
		free(s);
	}
	if ((s = mime_header_get(hdr, m->hdr_len, "subject")) != NULL) {
		free(mime_decode_words(s));
		free(s);
	}

	/* The body, decoded as a client would see it. */
	{
		const char *body = data + m->body_off;
		size_t n = m->body_len, dlen = n;
		const char *cs = mime_param_get(m->params, m->nparams,
		    "charset");

		out = NULL;
		if (strcmp(m->encoding, "base64") == 0) {
			out = xmalloc(n * 3 / 4 + 3);
			dlen = mime_decode_base64(body, n, out);
			FUZZ_CHECK(dlen <= n * 3 / 4 + 3);
		} else if (strcmp(m->encoding, "quoted-printable") == 0) {
			out = xmalloc(n + 1);
			dlen = mime_decode_qp(body, n, out);
			FUZZ_CHECK(dlen <= n);
		}
		if (strcmp(m->type, "text") == 0) {
			size_t ulen;

			u = mime_to_utf8(cs, out != NULL ? out : body, dlen,
			    &ulen);
			FUZZ_CHECK(u != NULL && u[ulen] == '\0');
			free(u);
		}
		free(out);
	}

	for (size_t i = 0; i < m->nchildren; i++)
		count += walk(data, len, &m->children[i], depth + 1);
	if (m->message != NULL)
		count += walk(data, len, m->message, depth + 1);
	return count;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sections[] = {
		"", "TEXT", "HEADER", "1", "1.MIME", "2.HEADER",
		"HEADER.FIELDS (Subject From)", "1.1.TEXT", "3.1",
	};
	const char *d = (const char *)data;
	struct mime_part *root = mime_parse(d, size);
	struct buf b;

	FUZZ_CHECK(root != NULL);
	FUZZ_CHECK(walk(d, size, root, 0) <= MIME_MAX_PARTS + 1);
	(void)mime_mem_size(root);

	buf_init(&b, 64 << 20);
	(void)imap_fmt_bodystructure(&b, d, size, root, true);
	(void)imap_fmt_bodystructure(&b, d, size, root, false);
	(void)imap_fmt_envelope(&b, d, size, root);
	buf_release(&b);

	for (size_t i = 0; i < NELEM(sections); i++) {
		struct imap_section sec;
		const char *p;
		size_t len;
		char *copy;

		memset(&sec, 0, sizeof(sec));
		FUZZ_CHECK(imap_section_parse(sections[i], "<1.1000>", &sec)
		    == 0);
		imap_section_get(d, size, root, &sec, &p, &len, &copy);
		FUZZ_CHECK(len <= 1000);
		if (copy == NULL && len > 0)
			FUZZ_CHECK(p >= d && p + len <= d + size);
		free(copy);
		imap_section_free(&sec);
	}
	mime_free(&root);
	FUZZ_CHECK(root == NULL);
	return 0;
}
