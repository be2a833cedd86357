/*
 * names: mailbox names, directory names and modified UTF-7. See names.h.
 *
 * Every mapping here is strict in both directions. A name must have one
 * spelling only, otherwise "&AOk-" and a sloppy equivalent would be two
 * mailboxes on disk that a client sees as one, and a directory must parse
 * back only if we could have written it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/base64.h"
#include "core/util.h"
#include "store/names.h"

#define NAME_MAX_BYTES	255	/* NAME_MAX on Linux and the BSDs */

/* RFC 3501 5.1.3: RFC 2152 base64 with ',' in place of '/'. */
static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";


/*
 * One code point of strict UTF-8 (RFC 3629): its length, or -1 for a bad
 * sequence, an overlong form, a surrogate or a value past U+10FFFF.
 */
static int
utf8_next(const unsigned char *s, uint32_t *cp_r)
{
	uint32_t	 cp, min;
	int		 n, i;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return -1;
	for (i = 1; i < n; i++) {
		/* Also stops at the NUL of a truncated sequence. */
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*cp_r = cp;
	return n;
}

/* Bounded output: room for the bytes and the final NUL, or fail. */
struct out {
	char	*p;
	size_t	 len;
	size_t	 cap;
	bool	 full;
};

static void
put(struct out *o, char c)
{
	if (o->len + 1 >= o->cap) {
		o->full = true;
		return;
	}
	o->p[o->len++] = c;
}

static void
put_utf8(struct out *o, uint32_t cp)
{
	if (cp < 0x80)
		put(o, (char)cp);
	else if (cp < 0x800) {
		put(o, (char)(0xc0 | cp >> 6));
		put(o, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		put(o, (char)(0xe0 | cp >> 12));
		put(o, (char)(0x80 | (cp >> 6 & 0x3f)));
		put(o, (char)(0x80 | (cp & 0x3f)));
	} else {
		put(o, (char)(0xf0 | cp >> 18));
		put(o, (char)(0x80 | (cp >> 12 & 0x3f)));
		put(o, (char)(0x80 | (cp >> 6 & 0x3f)));
		put(o, (char)(0x80 | (cp & 0x3f)));
	}
}

static int
finish(struct out *o)
{
	if (o->cap == 0 || o->full) {
		errno = ENOBUFS;
		return -1;
	}
	o->p[o->len] = '\0';
	return 0;
}

static bool
printable(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

int
mutf7_decode(const char *in, char *outbuf, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	struct out	 o = { outbuf, 0, outlen, false };
	uint32_t	 bits, unit, hi;
	int		 nbits, v;
	bool		 after_run = false;

	while (*s != '\0') {
		if (!printable(*s))
			goto bad;	/* 5.1.3: the encoding is 7-bit printable */
		if (*s != '&') {
			put(&o, (char)*s++);
			after_run = false;
			continue;
		}
		if (s[1] == '-') {
			put(&o, '&');
			s += 2;
			after_run = false;
			continue;
		}
		/* The encoder joins adjacent non-printables into one run. */
		if (after_run)
			goto bad;
		s++;
		bits = 0;
		nbits = 0;
		hi = 0;
		for (; *s != '-'; s++) {
			if ((v = base64_value(*s, ',')) == -1)
				goto bad;	/* includes NUL: unterminated */
			bits = bits << 6 | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			unit = bits >> nbits & 0xffff;
			bits &= ((uint32_t)1 << nbits) - 1;
			if (hi != 0) {
				if (unit < 0xdc00 || unit > 0xdfff)
					goto bad;
				put_utf8(&o, 0x10000 +
				    ((hi - 0xd800) << 10) + (unit - 0xdc00));
				hi = 0;
			} else if (unit >= 0xd800 && unit <= 0xdbff)
				hi = unit;
			else if (unit >= 0xdc00 && unit <= 0xdfff)
				goto bad;	/* low surrogate first */
			else if (printable(unit) || unit == 0)
				goto bad;	/* must be literal; NUL ends C */
			else
				put_utf8(&o, unit);
		}
		s++;
		/*
		 * The shortest encoding leaves 0, 2 or 4 zero bits. A sixth
		 * bit means a needless character; a run too short to hold one
		 * UTF-16 unit ("&A-") ends up here as well.
		 */
		if (nbits >= 6 || bits != 0 || hi != 0)
			goto bad;
		after_run = true;
	}
	return finish(&o);
 bad:
	errno = EILSEQ;
	return -1;
}

static void
put_b64(struct out *o, uint32_t *bits, int *nbits, uint32_t unit)
{
	*bits = *bits << 16 | unit;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		put(o, b64chars[*bits >> *nbits & 0x3f]);
	}
	*bits &= ((uint32_t)1 << *nbits) - 1;
}

int
mutf7_encode(const char *utf8, char *outbuf, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)utf8;
	struct out	 o = { outbuf, 0, outlen, false };
	uint32_t	 cp, bits = 0;
	int		 n, nbits = 0;
	bool		 inrun = false;

	while (*s != '\0') {
		if ((n = utf8_next(s, &cp)) == -1) {
			errno = EILSEQ;
			return -1;
		}
		s += n;
		if (printable(cp)) {
			if (inrun) {
				/* Pad the last sextet with zero bits. */
				if (nbits > 0)
					put(&o, b64chars[bits << (6 - nbits) &
					    0x3f]);
				put(&o, '-');
				inrun = false;
				bits = 0;
				nbits = 0;
			}
			put(&o, (char)cp);
			if (cp == '&')
				put(&o, '-');
			continue;
		}
		if (!inrun) {
			put(&o, '&');
			inrun = true;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			put_b64(&o, &bits, &nbits, 0xd800 + (cp >> 10));
			put_b64(&o, &bits, &nbits, 0xdc00 + (cp & 0x3ff));
		} else
			put_b64(&o, &bits, &nbits, cp);
	}
	if (inrun) {
		if (nbits > 0)
			put(&o, b64chars[bits << (6 - nbits) & 0x3f]);
		put(&o, '-');
	}
	return finish(&o);
}

static bool
is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/*
 * The codec of store_name_to_dir(), with the reason kept apart from the
 * policy of store_name_check() so both can share it.
 */
static int
name_to_dir(const char *mname, char *dir, size_t dirlen, const char **why_r)
{
	/* UTF-8 can outgrow mUTF-7 (3 bytes per 8/3 characters). */
	char		 utf8[2 * STORE_MNAME_MAX];
	char		 again[STORE_MNAME_MAX];
	size_t		 i, n = 0;
	const char	*esc;

	if (*mname == '\0') {
		*why_r = "empty mailbox name";
		return -1;
	}
	if (strlen(mname) >= STORE_MNAME_MAX) {
		*why_r = "mailbox name too long";
		return -1;
	}
	if (mutf7_decode(mname, utf8, sizeof(utf8)) == -1) {
		*why_r = "invalid modified UTF-7 in mailbox name";
		return -1;
	}
	/*
	 * The decoder only takes canonical input; re-encoding proves it, so
	 * that two names can never share a directory.
	 */
	if (mutf7_encode(utf8, again, sizeof(again)) == -1 ||
	    strcmp(again, mname) != 0) {
		*why_r = "non-canonical modified UTF-7 in mailbox name";
		return -1;
	}
	for (i = 0; utf8[i] != '\0'; i++) {
		if (is_control((unsigned char)utf8[i])) {
			*why_r = "control character in mailbox name";
			return -1;
		}
		if (utf8[i] == '%')
			esc = "%25";
		else if (utf8[i] == '/')
			esc = "%2F";
		else if (utf8[i] == '.' && i == 0)
			esc = "%2E";
		else
			esc = NULL;
		if (n + (esc != NULL ? 3 : 1) > NAME_MAX_BYTES) {
			*why_r = "mailbox name too long";
			return -1;
		}
		if (n + (esc != NULL ? 3 : 1) >= dirlen) {
			*why_r = "directory name buffer too small";
			return -1;
		}
		if (esc != NULL) {
			memcpy(dir + n, esc, 3);
			n += 3;
		} else
			dir[n++] = utf8[i];
	}
	dir[n] = '\0';
	return 0;
}

int
store_name_to_dir(const char *canon_mname, char *dir, size_t dirlen,
    const char **why_r)
{
	const char	*why = NULL;

	if (name_to_dir(canon_mname, dir, dirlen, &why) == -1) {
		if (why_r != NULL)
			*why_r = why;
		return -1;
	}
	return 0;
}

int
store_name_check(const char *mname, char *canon, size_t canonlen,
    const char **why_r)
{
	char		 dir[STORE_DIRNAME_MAX];
	const char	*p, *why = NULL;
	size_t		 len, clen;

	len = strlen(mname);
	if (len == 0) {
		why = "empty mailbox name";
		goto fail;
	}
	for (p = mname; *p != '\0'; p++) {
		if (is_control((unsigned char)*p)) {
			why = "control character in mailbox name";
			goto fail;
		}
		/* RFC 3501 5.1.3: clients send non-ASCII as mUTF-7. */
		if ((unsigned char)*p >= 0x80) {
			why = "8-bit character in mailbox name "
			    "(must be modified UTF-7)";
			goto fail;
		}
		/* RFC 3501 6.3.8: these are LIST wildcards. */
		if (*p == '*' || *p == '%') {
			why = "wildcard character ('*' or '%') in mailbox name";
			goto fail;
		}
	}
	if (len >= STORE_MNAME_MAX) {
		why = "mailbox name too long";
		goto fail;
	}
	/*
	 * Levels are checked on the mUTF-7 form: '/' and '.' are printable,
	 * so they are always literal there and mean the same decoded.
	 */
	for (p = mname;; p += clen + 1) {
		clen = strcspn(p, "/");
		if (clen == 0) {
			why = "empty hierarchy level in mailbox name "
			    "(leading, trailing or double '/')";
			goto fail;
		}
		if ((clen == 1 && p[0] == '.') ||
		    (clen == 2 && p[0] == '.' && p[1] == '.')) {
			why = "'.' or '..' as a hierarchy level in mailbox name";
			goto fail;
		}
		if (p[clen] == '\0')
			break;
	}
	if (len + 1 > canonlen) {
		why = "mailbox name buffer too small";
		goto fail;
	}
	memcpy(canon, mname, len + 1);
	/* RFC 3501 5.1: INBOX is case-insensitive, other names are not. */
	if (strcspn(canon, "/") == 5 && ascii_ncasecmp(canon, "INBOX", 5) == 0)
		memcpy(canon, "INBOX", 5);
	/* Decodes canonically, has no encoded control and fits NAME_MAX. */
	if (name_to_dir(canon, dir, sizeof(dir), &why) == -1)
		goto fail;
	return 0;
 fail:
	if (why_r != NULL)
		*why_r = why;
	return -1;
}

int
store_dir_to_name(const char *dir, char *mname, size_t len)
{
	char		 utf8[STORE_DIRNAME_MAX];
	char		 back[STORE_DIRNAME_MAX];
	const char	*why;
	size_t		 i, n = 0;

	if (dir[0] == '\0' || dir[0] == '.' || strlen(dir) > NAME_MAX_BYTES)
		return -1;
	for (i = 0; dir[i] != '\0'; i++) {
		if (dir[i] == '/' || is_control((unsigned char)dir[i]))
			return -1;
		if (dir[i] != '%') {
			utf8[n++] = dir[i];
			continue;
		}
		/* Exactly the escapes name_to_dir() writes, nothing looser. */
		if (strncmp(dir + i, "%25", 3) == 0)
			utf8[n++] = '%';
		else if (strncmp(dir + i, "%2F", 3) == 0)
			utf8[n++] = '/';
		else if (strncmp(dir + i, "%2E", 3) == 0 && i == 0)
			utf8[n++] = '.';
		else
			return -1;
		i += 2;
	}
	utf8[n] = '\0';
	if (mutf7_encode(utf8, mname, len) == -1)
		return -1;
	/* Holds by construction; checked so a bug cannot alias two dirs. */
	if (name_to_dir(mname, back, sizeof(back), &why) == -1 ||
	    strcmp(back, dir) != 0)
		return -1;
	return 0;
}
