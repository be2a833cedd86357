/* Unit tests: store/names, mailbox names, directory names and mUTF-7. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "store/names.h"

/* Modified UTF-7 <-> UTF-8, both directions exact (RFC 3501 5.1.3). */
static const struct {
	const char	*mutf7;
	const char	*utf8;
} vectors[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "&ZeVnLIqe-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },	/* 日本語 */
	{ "Entw&APw-rfe", "Entw\xc3\xbcrfe" },
	{ "&-", "&" },
	{ "&-&-", "&&" },
	{ "a&-b", "a&b" },
	{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "&2D3eAA-", "\xf0\x9f\x98\x80" },		/* U+1F600, a pair */
	{ "&ZeU--", "\xe6\x97\xa5-" },
	{ "&ZeU-&-", "\xe6\x97\xa5&" },
	{ "a&AOkA6QDp- b", "a\xc3\xa9\xc3\xa9\xc3\xa9 b" },
	{ "&AAE-", "\x01" },
	{ "&AH8-", "\x7f" },
	{ "&AOk-", "\xc3\xa9" },
	{ "&AIA-", "\xc2\x80" },
	{ "&APw-/&IKw-/&2D3eAA-x",
	    "\xc3\xbc/\xe2\x82\xac/\xf0\x9f\x98\x80x" },
	{ "&BB8EQAQ4BDIENQRC- &BDwEOARA-",
	    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 "
	    "\xd0\xbc\xd0\xb8\xd1\x80" },
	{ "&B,8IAP,,2,,f,w-",
	    "\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf" },
	{ " !\"#$%'()*+,-./0123456789:;<=>?@[\\]^_`{|}~",
	    " !\"#$%'()*+,-./0123456789:;<=>?@[\\]^_`{|}~" },
};

static void
test_mutf7_vectors(void **state)
{
	char	 buf[256];
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(vectors); i++) {
		assert_int_equal(mutf7_decode(vectors[i].mutf7, buf,
		    sizeof(buf)), 0);
		assert_string_equal(buf, vectors[i].utf8);
		assert_int_equal(mutf7_encode(vectors[i].utf8, buf,
		    sizeof(buf)), 0);
		assert_string_equal(buf, vectors[i].mutf7);
	}
}

static void
test_mutf7_decode_rejects(void **state)
{
	static const char *bad[] = {
		"&Jjo!",		/* '!' inside a run */
		"&U,BTFw",		/* no terminator */
		"&ZeVnLIqe",
		"&",
		"a&",
		"&AGE-",		/* encodes printable 'a' */
		"&ACY-",		/* encodes '&' itself */
		"&AC8-",		/* encodes '/' */
		"&ZeVnLIqe-&ZeU-",	/* two runs back to back */
		"&AOk-&AOk-",
		"&Ze/n-",		/* '/' is not in the modified alphabet */
		"&ZeU=-",		/* no padding */
		"&ZeU",
		"&&-",
		"&-&",
		"&A-",			/* too short for one UTF-16 unit */
		"&AA-",
		"&AOkA-",		/* one sextet too many */
		"&AOl-",		/* leftover bits not zero */
		"&ZeV-",
		"&2D0-",		/* lone high surrogate */
		"&3gA-",		/* lone low surrogate */
		"&2D3eANg9-",		/* pair then a lone high */
		"&3gDYPQ-",		/* pair reversed */
		"&2D0AYQ-",		/* high then 'a' */
		"&2D3YPQ-",		/* high then high */
		"&2D0-&3gA-",		/* a pair split across runs */
		"&AAA-",		/* U+0000 */
		"\xc3\xa9",		/* raw 8-bit */
		"Entw\xfcrfe",
		"\x01",			/* raw control */
		"a\tb",
		"\x7f",
	};
	char	 buf[256];
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		errno = 0;
		if (mutf7_decode(bad[i], buf, sizeof(buf)) != -1)
			fail_msg("decoded bad \"%s\"", bad[i]);
		assert_int_equal(errno, EILSEQ);
	}
}

static void
test_mutf7_encode_rejects(void **state)
{
	static const char *bad[] = {
		"\xc0\xaf",		/* overlong '/' */
		"\xc1\xbf",
		"\xe0\x80\xaf",
		"\xf0\x80\x80\xaf",
		"\xe0\x9f\xbf",		/* overlong U+07FF */
		"\xed\xa0\x80",		/* surrogate U+D800 */
		"\xed\xbf\xbf",
		"\xf4\x90\x80\x80",	/* U+110000 */
		"\xf5\x80\x80\x80",
		"\xf8\x88\x80\x80\x80",
		"\xc3",			/* truncated */
		"a\xe6\x97",
		"\x80",			/* lone continuation */
		"\xbf",
		"\xfe",
		"\xff",
		"\xc3\xc3\xa9",
	};
	char	 buf[64];
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		errno = 0;
		if (mutf7_encode(bad[i], buf, sizeof(buf)) != -1)
			fail_msg("encoded bad UTF-8 #%zu", i);
		assert_int_equal(errno, EILSEQ);
	}
}

/* Every output size short of the need fails cleanly; the exact one works. */
static void
test_mutf7_no_room(void **state)
{
	char	 buf[64];
	size_t	 i, n, need;

	(void)state;
	for (i = 0; i < NELEM(vectors); i++) {
		need = strlen(vectors[i].mutf7) + 1;
		for (n = 0; n < need; n++) {
			errno = 0;
			assert_int_equal(mutf7_encode(vectors[i].utf8, buf, n),
			    -1);
			assert_int_equal(errno, ENOBUFS);
		}
		assert_int_equal(mutf7_encode(vectors[i].utf8, buf, need), 0);
		need = strlen(vectors[i].utf8) + 1;
		for (n = 0; n < need; n++) {
			errno = 0;
			assert_int_equal(mutf7_decode(vectors[i].mutf7, buf, n),
			    -1);
			assert_int_equal(errno, ENOBUFS);
		}
		assert_int_equal(mutf7_decode(vectors[i].mutf7, buf, need), 0);
	}
}

static char *
repeat(char c, size_t n)
{
	static char	 big[2048];

	assert_true(n < sizeof(big));
	memset(big, c, n);
	big[n] = '\0';
	return big;
}

static void
test_name_check_rejects(void **state)
{
	static const char *bad[] = {
		"",
		"..", ".", "a/../b", "../x", "./x", "a/./b", "x/..", "x/.",
		"../../etc/passwd", "INBOX/..",
		"/etc", "/", "a//b", "a/", "//", "INBOX/",
		"\x01", "a\x1f" "b", "\x7f", "a\tb", "a\nb", "a\rb",
		"\xc3\xa9", "Entw\xc3\xbcrfe", "\xff",
		"*", "a*", "a%b", "%", "INBOX/*",
		"&Jjo!", "&U,BTFw", "&AGE-", "&ZeVnLIqe", "&2D0-",
		"&AAA-",		/* NUL, the only way it can get here */
		"&AAE-",		/* encoded control characters */
		"a&AB8-", "&AH8-", "&AAo-",
		"&AOk-&AOk-",		/* non-canonical */
	};
	char		 canon[STORE_MNAME_MAX];
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		why = NULL;
		if (store_name_check(bad[i], canon, sizeof(canon), &why) != -1)
			fail_msg("accepted name #%zu \"%s\"", i, bad[i]);
		assert_non_null(why);
	}
	/* A NUL cut into a name reaches us only as its prefix. */
	assert_int_equal(store_name_check("a\0/../x", canon, sizeof(canon),
	    &why), 0);
	assert_string_equal(canon, "a");

	/* Too long: NAME_MAX counts the escaped UTF-8, not the input. */
	assert_int_equal(store_name_check(repeat('x', 300), canon,
	    sizeof(canon), &why), -1);
	assert_string_equal(why, "mailbox name too long");
	assert_int_equal(store_name_check(repeat('x', 255), canon,
	    sizeof(canon), &why), 0);
	assert_int_equal(store_name_check(repeat('x', 256), canon,
	    sizeof(canon), &why), -1);
	assert_int_equal(store_name_check(repeat('x', 1500), canon,
	    sizeof(canon), &why), -1);
	/* 85 '/'-separated levels: 3 bytes each on disk. */
	{
		char	 s[300];
		size_t	 j, n = 0;

		for (j = 0; j < 86; j++) {
			s[n++] = 'a';
			s[n++] = '/';
		}
		s[n - 1] = '\0';	/* 86 'a', 85 '/' = 86 + 255 > 255 */
		assert_int_equal(store_name_check(s, canon, sizeof(canon),
		    &why), -1);
		assert_string_equal(why, "mailbox name too long");
	}
	/* The canonical name must fit the caller's buffer. */
	assert_int_equal(store_name_check("Sent", canon, 4, &why), -1);
	assert_int_equal(store_name_check("Sent", canon, 5, &why), 0);
	/* why_r may be NULL. */
	assert_int_equal(store_name_check("", canon, sizeof(canon), NULL), -1);
}

static void
test_name_check_accepts(void **state)
{
	static const struct {
		const char	*in;
		const char	*canon;
	} t[] = {
		{ "INBOX", "INBOX" },
		{ "inbox", "INBOX" },
		{ "InBoX", "INBOX" },
		{ "inbox/Sub", "INBOX/Sub" },
		{ "inbox/inbox", "INBOX/inbox" },
		{ "Inboxes", "Inboxes" },
		{ "My/INBOX", "My/INBOX" },
		{ "Sent", "Sent" },
		{ "sent", "sent" },
		{ "Archive/2024", "Archive/2024" },
		{ ".hidden", ".hidden" },
		{ "a/.b/..c/...", "a/.b/..c/..." },
		{ "a.", "a." },
		{ " ", " " },
		{ "Entw&APw-rfe", "Entw&APw-rfe" },
		{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
		    "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
		{ "&-", "&-" },
		{ "Tom &- Jerry", "Tom &- Jerry" },
		{ "\\", "\\" },
		{ "\"quoted\"", "\"quoted\"" },
	};
	char		 canon[STORE_MNAME_MAX];
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		why = NULL;
		if (store_name_check(t[i].in, canon, sizeof(canon), &why) != 0)
			fail_msg("refused \"%s\": %s", t[i].in, why);
		assert_string_equal(canon, t[i].canon);
	}
}

static void
test_escaping(void **state)
{
	static const struct {
		const char	*mname;
		const char	*dir;
	} t[] = {
		{ "INBOX", "INBOX" },
		{ "Archive/2024", "Archive%2F2024" },
		{ ".hidden", "%2Ehidden" },
		{ ".", "%2E" },
		{ "..", "%2E." },
		{ "a/../b", "a%2F..%2Fb" },
		{ "a.b/.c", "a.b%2F.c" },
		{ "100%", "100%25" },
		{ "%2F", "%252F" },
		{ "%", "%25" },
		{ "/", "%2F" },
		{ "Entw&APw-rfe", "Entw\xc3\xbcrfe" },
		{ "&-", "&" },
		{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
		    "~peter%2Fmail%2F\xe5\x8f\xb0\xe5\x8c\x97%2F"
		    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	};
	char		 dir[STORE_DIRNAME_MAX], name[STORE_MNAME_MAX];
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		why = NULL;
		if (store_name_to_dir(t[i].mname, dir, sizeof(dir), &why) != 0)
			fail_msg("no dir for \"%s\": %s", t[i].mname, why);
		assert_string_equal(dir, t[i].dir);
		assert_int_equal(store_dir_to_name(t[i].dir, name,
		    sizeof(name)), 0);
		assert_string_equal(name, t[i].mname);
	}
	/* Names the codec refuses. */
	assert_int_equal(store_name_to_dir("", dir, sizeof(dir), &why), -1);
	assert_int_equal(store_name_to_dir("&AGE-", dir, sizeof(dir), &why),
	    -1);
	assert_int_equal(store_name_to_dir("&AAE-", dir, sizeof(dir), &why),
	    -1);
	assert_int_equal(store_name_to_dir("a\x01", dir, sizeof(dir), &why),
	    -1);
	assert_int_equal(store_name_to_dir(repeat('/', 86), dir, sizeof(dir),
	    &why), -1);
	assert_int_equal(store_name_to_dir(repeat('/', 85), dir, sizeof(dir),
	    &why), 0);
	assert_int_equal(strlen(dir), 255);
	assert_int_equal(store_name_to_dir("Sent", dir, 4, &why), -1);
	assert_int_equal(store_name_to_dir("Sent", dir, 5, NULL), 0);
}

static void
test_dir_rejects(void **state)
{
	static const char *bad[] = {
		"", ".", "..", ".hidden", "..%2F", "a/b", "/",
		"%2e", "%2f", "%2Fx%2f",	/* lower-case hex */
		"%", "a%", "a%2", "%41", "%20", "%00", "%2G", "%%",
		"a%2E",				/* '.' escaped past the start */
		"%2E%2E",
		"a\x01", "\x7f", "tab\there",
		"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xff",
	};
	char	 name[STORE_MNAME_MAX];
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++)
		if (store_dir_to_name(bad[i], name, sizeof(name)) != -1)
			fail_msg("accepted dir #%zu \"%s\"", i, bad[i]);
	assert_int_equal(store_dir_to_name(repeat('x', 256), name,
	    sizeof(name)), -1);
	assert_int_equal(store_dir_to_name(repeat('x', 255), name,
	    sizeof(name)), 0);
	assert_int_equal(store_dir_to_name("Entw\xc3\xbcrfe", name, 12), -1);
	assert_int_equal(store_dir_to_name("Entw\xc3\xbcrfe", name, 13), 0);
	assert_string_equal(name, "Entw&APw-rfe");
}

/* Deterministic PRNG so a failure reproduces. */
static uint32_t
rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33);
}

static size_t
put_utf8(char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | cp >> 6);
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | cp >> 12);
		p[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | cp >> 18);
	p[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	p[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static uint32_t
rnd_char(uint64_t *s)
{
	static const uint32_t special[] = {
		'.', '.', '&', '&', '-', '~', ' ', '\\', '"', 'I', 'n', 'x',
		0x80, 0xe9, 0xfc, 0x7ff, 0x800, 0x65e5, 0xfeff, 0xfffd,
		0xffff, 0x10000, 0x1f600, 0x10ffff,
	};
	uint32_t	 c;

	switch (rnd(s) % 4) {
	case 0:
		return special[rnd(s) % NELEM(special)];
	case 1:
		/* Any non-ASCII BMP character, surrogates excepted. */
		do
			c = 0x80 + rnd(s) % (0x10000 - 0x80);
		while (c >= 0xd800 && c <= 0xdfff);
		return c;
	default:
		do
			c = 0x20 + rnd(s) % 95;
		while (c == '*' || c == '%' || c == '/');
		return c;
	}
}

static void
test_property_round_trip(void **state)
{
	char		 utf8[1024], m[STORE_MNAME_MAX], canon[STORE_MNAME_MAX];
	char		 dir[STORE_DIRNAME_MAX], back[STORE_MNAME_MAX];
	char		 dec[2 * STORE_MNAME_MAX];
	const char	*why;
	uint64_t	 seed = 0x5eed;
	size_t		 n, clen, start, nlevels, l;
	int		 iter, accepted = 0, toolong = 0;

	(void)state;
	for (iter = 0; iter < 5000; iter++) {
		n = 0;
		nlevels = 1 + rnd(&seed) % 4;
		for (l = 0; l < nlevels; l++) {
			if (l > 0)
				utf8[n++] = '/';
			start = n;
			clen = 1 + rnd(&seed) % (iter % 10 == 0 ? 80 : 12);
			while (clen-- > 0)
				n += put_utf8(utf8 + n, rnd_char(&seed));
			/* "." and ".." are not levels; make them "._" etc. */
			if ((n - start == 1 && utf8[start] == '.') ||
			    (n - start == 2 && utf8[start] == '.' &&
			    utf8[start + 1] == '.'))
				utf8[n++] = '_';
		}
		utf8[n] = '\0';
		assert_int_equal(mutf7_encode(utf8, m, sizeof(m)), 0);
		assert_int_equal(mutf7_decode(m, dec, sizeof(dec)), 0);
		assert_string_equal(dec, utf8);

		why = NULL;
		if (store_name_check(m, canon, sizeof(canon), &why) == -1) {
			/* The only acceptable refusal for these names. */
			assert_string_equal(why, "mailbox name too long");
			assert_int_equal(store_name_to_dir(m, dir, sizeof(dir),
			    &why), -1);
			toolong++;
			continue;
		}
		accepted++;
		/* Only INBOX's case may change. */
		if (strcmp(canon, m) != 0) {
			assert_int_equal(ascii_ncasecmp(m, "INBOX", 5), 0);
			assert_string_equal(canon + 5, m + 5);
		}
		assert_int_equal(store_name_to_dir(canon, dir, sizeof(dir),
		    &why), 0);
		assert_null(strchr(dir, '/'));
		assert_true(dir[0] != '.');
		assert_true(strcmp(dir, ".") != 0 && strcmp(dir, "..") != 0);
		assert_true(strlen(dir) >= 1 && strlen(dir) <= 255);
		assert_int_equal(store_dir_to_name(dir, back, sizeof(back)), 0);
		assert_string_equal(back, canon);
		/* And the canonical name checks as itself. */
		assert_int_equal(store_name_check(canon, back, sizeof(back),
		    &why), 0);
		assert_string_equal(back, canon);
	}
	/* The generator must exercise both outcomes, mostly acceptance. */
	assert_true(accepted > 4000);
	assert_true(toolong > 0);
}

/* Random bytes never crash the decoders, and whatever decodes re-encodes
 * to the same bytes (one spelling per name). */
static void
test_property_garbage(void **state)
{
	static const char alphabet[] = "&-&-AZaz09+,/.%*ABCDEabcde2D3g\x01\x7f"
	    "\xc3\xa9 ";
	char		 in[32], out[256], again[256], dir[STORE_DIRNAME_MAX];
	const char	*why;
	uint64_t	 seed = 42;
	size_t		 n, i;
	int		 iter;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		n = rnd(&seed) % (sizeof(in) - 1);
		for (i = 0; i < n; i++)
			in[i] = alphabet[rnd(&seed) % (sizeof(alphabet) - 1)];
		in[n] = '\0';
		if (mutf7_decode(in, out, sizeof(out)) == 0) {
			assert_int_equal(mutf7_encode(out, again,
			    sizeof(again)), 0);
			assert_string_equal(again, in);
		}
		if (store_dir_to_name(in, out, sizeof(out)) == 0) {
			assert_int_equal(store_name_to_dir(out, dir,
			    sizeof(dir), &why), 0);
			assert_string_equal(dir, in);
		}
		if (store_name_check(in, out, sizeof(out), &why) == 0) {
			assert_int_equal(store_name_to_dir(out, dir,
			    sizeof(dir), &why), 0);
			assert_null(strchr(dir, '/'));
			assert_true(dir[0] != '.');
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutf7_vectors),
		cmocka_unit_test(test_mutf7_decode_rejects),
		cmocka_unit_test(test_mutf7_encode_rejects),
		cmocka_unit_test(test_mutf7_no_room),
		cmocka_unit_test(test_name_check_rejects),
		cmocka_unit_test(test_name_check_accepts),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_dir_rejects),
		cmocka_unit_test(test_property_round_trip),
		cmocka_unit_test(test_property_garbage),
	};

	return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
