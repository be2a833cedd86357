/* mime_decode: base64, quoted-printable and charset conversion to UTF-8. */
#include "store/mime_private.h"
#include "core/base64.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* Longest charset name we hand to iconv_open. */
#define CHARSET_MAX	40

static const char utf8_repl[] = "\xef\xbf\xbd";	/* U+FFFD */

void
mime_sb_add(struct mime_sb *sb, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (n > SIZE_MAX / 2 - sb->len)
		abort();
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 64;

		while (cap < sb->len + n + 1)
			cap *= 2;
		sb->s = xrealloc(sb->s, cap);
		sb->cap = cap;
	}
	memcpy(sb->s + sb->len, p, n);
	sb->len += n;
}

void
mime_sb_addc(struct mime_sb *sb, char c)
{
	mime_sb_add(sb, &c, 1);
}

char *
mime_sb_finish(struct mime_sb *sb, size_t *len_r)
{
	char *s;

	if (sb->s == NULL)
		sb->s = xmalloc(1);
	sb->s[sb->len] = '\0';
	s = sb->s;
	if (len_r != NULL)
		*len_r = sb->len;
	sb->s = NULL;
	sb->len = sb->cap = 0;
	return s;
}

void
mime_sb_free(struct mime_sb *sb)
{
	FREE_NULL(sb->s);
	sb->len = sb->cap = 0;
}


size_t
mime_decode_base64(const char *in, size_t n, char *out)
{
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0;

	/* RFC 2045 6.8 says to ignore characters outside the alphabet; we
	 * only skip line breaks and blanks, and stop at anything else, so
	 * that junk after the encoded data (a signature, a stray boundary)
	 * is not decoded into garbage. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if ((v = base64_value(c, '/')) < 0)
			break;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	return o;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')	/* RFC 2045 6.7 (1): be robust */
		return c - 'a' + 10;
	return -1;
}

size_t
mime_qp_decode(const char *in, size_t n, char *out, bool header)
{
	size_t o = 0, i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)in[i];

		if (c == '=') {
			size_t j = i + 1;
			int h, l;

			if (j + 1 < n && (h = hexval((unsigned char)in[j])) >= 0 &&
			    (l = hexval((unsigned char)in[j + 1])) >= 0) {
				out[o++] = (char)(h << 4 | l);
				i += 3;
				continue;
			}
			/* Soft line break: "=" then optional transport
			 * padding then CRLF or LF (RFC 2045 6.7 (3), (5)). */
			while (j < n && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < n && in[j] == '\r' && j + 1 < n && in[j + 1] == '\n') {
				i = j + 2;
				continue;
			}
			if (j < n && in[j] == '\n') {
				i = j + 1;
				continue;
			}
			if (j == n && !header) {	/* "=" at the very end */
				i = n;
				continue;
			}
			out[o++] = '=';		/* invalid: keep it */
			i++;
			continue;
		}
		if (!header && (c == ' ' || c == '\t')) {
			size_t j = i;

			/* Blanks before a line break were added in transit
			 * and must be deleted (RFC 2045 6.7 (3)). */
			while (j < n && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < n && (in[j] == '\n' ||
			    (in[j] == '\r' && j + 1 < n && in[j + 1] == '\n'))) {
				i = j;
				continue;
			}
			memcpy(out + o, in + i, j - i);
			o += j - i;
			i = j;
			continue;
		}
		out[o++] = (header && c == '_') ? ' ' : (char)c;	/* RFC 2047 4.2 (2) */
		i++;
	}
	return o;
}

size_t
mime_decode_qp(const char *in, size_t n, char *out)
{
	return mime_qp_decode(in, n, out, false);
}

/* Length of the valid UTF-8 sequence at p (RFC 3629 4), or 0. */
static size_t
utf8_seqlen(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates, past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static void
utf8_validate(struct mime_sb *sb, const char *in, size_t n)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0;

	while (i < n) {
		size_t l = utf8_seqlen(p + i, n - i);

		if (l == 0) {
			mime_sb_add(sb, utf8_repl, 3);
			i++;
		} else {
			mime_sb_add(sb, p + i, l);
			i += l;
		}
	}
}

/* Names mail uses that glibc iconv does not know, or knows as a subset. */
static const struct {
	const char *mail, *iconv;
} charset_alias[] = {
	{ "ks_c_5601-1987",	"CP949" },
	{ "gb2312",		"GB18030" },
	{ "gbk",		"GB18030" },
	{ "iso-8859-8-i",	"ISO-8859-8" },
	{ "x-sjis",		"SHIFT_JIS" },
	{ "x-gbk",		"GB18030" },
	{ "us-ascii",		"UTF-8" },
	{ "ascii",		"UTF-8" },
	{ "utf8",		"UTF-8" },
};

/* Map a charset label to an iconv name, or NULL when it is not one we
 * will hand to iconv (only [A-Za-z0-9._:-]: no "//TRANSLIT" tricks). */
static const char *
charset_name(const char *cs, char *buf, size_t bufsz)
{
	size_t n = strlen(cs);

	if (n == 0 || n >= bufsz)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = cs[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == ':'))
			return NULL;
	}
	for (size_t i = 0; i < NELEM(charset_alias); i++)
		if (ascii_casecmp(cs, charset_alias[i].mail) == 0)
			return charset_alias[i].iconv;
	memcpy(buf, cs, n + 1);
	return buf;
}

char *
mime_to_utf8(const char *charset, const char *in, size_t n, size_t *outlen_r)
{
	struct mime_sb sb = { 0 };
	char namebuf[CHARSET_MAX + 1];
	const char *name = NULL;
	iconv_t cd;
	char *ip, obuf[4096];
	size_t ileft;

	if (charset != NULL)
		name = charset_name(charset, namebuf, sizeof(namebuf));
	if (name == NULL || ascii_casecmp(name, "UTF-8") == 0 ||
	    (cd = iconv_open("UTF-8", name)) == (iconv_t)-1) {
		utf8_validate(&sb, in, n);
		return mime_sb_finish(&sb, outlen_r);
	}
	ip = (char *)(uintptr_t)in;	/* iconv's prototype is not const */
	ileft = n;
	while (ileft > 0) {
		char *op = obuf;
		size_t oleft = sizeof(obuf);
		size_t r = iconv(cd, &ip, &ileft, &op, &oleft);
		int err = errno;

		mime_sb_add(&sb, obuf, sizeof(obuf) - oleft);
		if (r != (size_t)-1)
			break;
		if (err == E2BIG)
			continue;
		/* EILSEQ: one bad byte; EINVAL: truncated sequence at the
		 * end. Either way replace one byte and go on. */
		mime_sb_add(&sb, utf8_repl, 3);
		ip++;
		ileft--;
	}
	{
		/* Flush a stateful encoding's shift state. */
		char *op = obuf;
		size_t oleft = sizeof(obuf);

		if (iconv(cd, NULL, NULL, &op, &oleft) != (size_t)-1)
			mime_sb_add(&sb, obuf, sizeof(obuf) - oleft);
	}
	iconv_close(cd);
	return mime_sb_finish(&sb, outlen_r);
}
