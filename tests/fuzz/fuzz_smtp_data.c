/*
 * fuzz_smtp_data: smtp/data.c, the DATA reader (dot-unstuffing, end only
 * at CRLF "." CRLF, bare CR/LF detection, the size cap) and the BDAT CRLF
 * check, fed in chunks of a size taken from the first input byte, each
 * compared with a plain reference written from RFC 5321 4.5.2: the
 * message ends at the first CRLF "." CRLF of CRLF + input, a '.' first on
 * a line is dropped, and a CR not followed by LF or an LF not preceded by
 * CR is bare. Messages follow one another (pipelining) until the input
 * ends.
 */
#include "smtp/smtp_private.h"
#include "tests/fuzz/fuzz.h"

#include <stdbool.h>

struct ref {
	size_t	 used;		/* bytes up to and including the end; or n */
	bool	 done;
	bool	 bare;
	char	*body;		/* unstuffed content, without the end line */
	size_t	 blen;
};

static void
reference(const uint8_t *p, size_t n, struct ref *r)
{
	size_t i, end = n;

	memset(r, 0, sizeof(*r));
	/* The end: "\r\n.\r\n" with the start counting as after CRLF. */
	if (n >= 3 && memcmp(p, ".\r\n", 3) == 0) {
		end = 0;
		r->done = true;
		r->used = 3;
	}
	for (i = 0; !r->done && i + 5 <= n; i++)
		if (memcmp(p + i, "\r\n.\r\n", 5) == 0) {
			end = i + 2;
			r->done = true;
			r->used = i + 5;
		}
	if (!r->done)
		r->used = n;
	r->body = xmalloc(end + 1);
	for (i = 0; i < end; i++) {
		bool bol = i == 0 || (i >= 2 && p[i - 2] == '\r' &&
		    p[i - 1] == '\n');

		if (p[i] == '.' && bol)
			continue;
		r->body[r->blen++] = (char)p[i];
	}
	/* Bare line ends among the bytes consumed (a last CR, when the
	 * message has not ended, is still undecided). */
	for (i = 0; i < (r->done ? end : n); i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] != '\n')
			r->bare = true;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			r->bare = true;
	}
}

static bool
crlf_reference(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] != '\n')
			return true;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return true;
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p;
	size_t n, chunk, off;
	uint64_t max;
	struct smtp_crlf c1 = { 0 }, c2 = { 0 };

	if (size < 1)
		return 0;
	chunk = data[0] & 0x0f;		/* 0: all at once */
	max = data[0] & 0x10 ? 64 : 1 << 20;
	p = data + 1;
	n = size - 1;

	/* BDAT: any split gives the same verdict as the whole. */
	smtp_crlf_feed(&c1, p, n);
	for (off = 0; off < n; ) {
		size_t k = chunk == 0 || n - off < chunk ? n - off : chunk;

		smtp_crlf_feed(&c2, p + off, k);
		off += k;
	}
	FUZZ_CHECK(c1.bare == c2.bare && c1.prev_cr == c2.prev_cr);
	FUZZ_CHECK(c1.bare == crlf_reference(p, n));

	/* DATA, message after message. */
	while (n > 0) {
		struct smtp_dot d;
		struct smtp_body b;
		struct ref r;
		bool done = false;

		memset(&b, 0, sizeof(b));
		smtp_body_init(&b, max);
		smtp_dot_init(&d);
		reference(p, n, &r);
		for (off = 0; off < n && !done; ) {
			size_t k = chunk == 0 || n - off < chunk ? n - off :
			    chunk;
			size_t used = smtp_dot_feed(&d, p + off, k, &b, &done);

			FUZZ_CHECK(used <= k);
			FUZZ_CHECK(done || used == k);
			off += used;
		}
		FUZZ_CHECK(done == r.done);
		FUZZ_CHECK(off == r.used);
		FUZZ_CHECK(d.bare == r.bare);
		if (done) {
			FUZZ_CHECK(b.size == r.blen);
			FUZZ_CHECK(b.too_big == (r.blen > max));
		} else {
			FUZZ_CHECK(b.size <= r.blen);
		}
		if (!b.too_big)
			FUZZ_CHECK(memcmp(smtp_body_data(&b), r.body,
			    (size_t)b.size) == 0);
		smtp_body_free(&b);
		free(r.body);
		if (!done)
			break;
		p += off;
		n -= off;
	}
	return 0;
}
