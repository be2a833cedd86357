/*
 * Unit tests: smtp/data.c, the DATA reader (dot-unstuffing, CRLF.CRLF
 * only, bare CR/LF) and the BDAT CRLF check, fed whole and one byte at a
 * time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "smtp/smtp_private.h"

struct dot_case {
	const char	*in;		/* DATA bytes after the 354 */
	const char	*body;		/* unstuffed content; NULL: never ends */
	bool		 bare;
	size_t		 rest;		/* bytes left after the terminator */
};

static const struct dot_case dot_cases[] = {
	{ ".\r\n", "", false, 0 },
	{ "a\r\n.\r\n", "a\r\n", false, 0 },
	{ "a\r\n.\r\nQUIT\r\n", "a\r\n", false, 6 },
	{ "..\r\n.\r\n", ".\r\n", false, 0 },
	{ "...x\r\n.y\r\n.\r\n", "..x\r\ny\r\n", false, 0 },
	{ "a.\r\n .\r\n.\r\n", "a.\r\n .\r\n", false, 0 },
	{ "\xc3\xa9\x80\xff\r\n.\r\n", "\xc3\xa9\x80\xff\r\n", false, 0 },
	/* Smuggling: none of these ends the message where the bare form is. */
	{ "a\n.\nb\r\n.\r\n", "a\n.\nb\r\n", true, 0 },
	{ "a\n.\r\nb\r\n.\r\n", "a\n.\r\nb\r\n", true, 0 },
	{ "a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n", true, 0 },	/* the dot unstuffed */
	{ "a\r.\r\nb\r\n.\r\n", "a\r.\r\nb\r\n", true, 0 },
	{ "a\r\n.\r\rb\r\n.\r\n", "a\r\n\r\rb\r\n", true, 0 },
	{ "a\r\n.\r", NULL, false, 0 },
	{ "a\n.\n", NULL, true, 0 },
	{ "a\r\r\n.\r\n", "a\r\r\n", true, 0 },
};

static void
run_dot(const struct dot_case *tc, size_t step)
{
	struct smtp_dot d;
	struct smtp_body b;
	size_t n = strlen(tc->in), off = 0;
	bool done = false;

	memset(&b, 0, sizeof(b));
	smtp_body_init(&b, 1 << 20);
	smtp_dot_init(&d);
	while (off < n && !done) {
		size_t chunk = step == 0 || n - off < step ? n - off : step;

		off += smtp_dot_feed(&d, (const uint8_t *)tc->in + off, chunk, &b, &done);
	}
	if (tc->body == NULL) {
		assert_false(done);
	} else {
		assert_true(done);
		assert_int_equal(n - off, tc->rest);
		assert_int_equal(b.size, strlen(tc->body));
		assert_memory_equal(smtp_body_data(&b), tc->body, b.size);
	}
	assert_int_equal(d.bare, tc->bare);
	smtp_body_free(&b);
}

static void
test_dot_whole(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(dot_cases) / sizeof(dot_cases[0]); i++)
		run_dot(&dot_cases[i], 0);
}

static void
test_dot_bytewise(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(dot_cases) / sizeof(dot_cases[0]); i++) {
		run_dot(&dot_cases[i], 1);
		run_dot(&dot_cases[i], 2);
		run_dot(&dot_cases[i], 3);
	}
}

static void
test_size_limit(void **state)
{
	struct smtp_dot d;
	struct smtp_body b;
	const char *in = "0123456789\r\n0123456789\r\n.\r\n";
	bool done;
	size_t used;

	(void)state;
	memset(&b, 0, sizeof(b));
	smtp_body_init(&b, 16);
	smtp_dot_init(&d);
	used = smtp_dot_feed(&d, (const uint8_t *)in, strlen(in), &b, &done);
	/* Read to the end all the same; nothing past the limit is kept. */
	assert_true(done);
	assert_int_equal(used, strlen(in));
	assert_true(b.too_big);
	assert_int_equal(b.size, 24);
	smtp_body_free(&b);
}

static void
test_crlf(void **state)
{
	static const struct {
		const char *chunks[3];
		bool bare;
	} cases[] = {
		{ { "a\r\nb\r\n", NULL }, false },
		{ { "a\r", "\nb\r\n", NULL }, false },
		{ { "a\nb", NULL }, true },
		{ { "a\r", "b", NULL }, true },
		{ { "a\r", "\r\n", NULL }, true },
		{ { "", "a", NULL }, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_crlf st = { false, false };

		for (size_t j = 0; j < 3 && cases[i].chunks[j] != NULL; j++)
			smtp_crlf_feed(&st, (const uint8_t *)cases[i].chunks[j],
			    strlen(cases[i].chunks[j]));
		assert_int_equal(st.bare, cases[i].bare);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dot_whole),
		cmocka_unit_test(test_dot_bytewise),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_crlf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
