/* Unit tests: core/buf and core/base64. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "core/base64.h"
#include "core/buf.h"

static void
test_append_consume(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_append(&b, "hello ", 6), 0);
	assert_int_equal(buf_appendf(&b, "%s %d", "world", 42), 0);
	assert_int_equal(b.len, 14);
	assert_memory_equal(buf_head(&b), "hello world 42", 14);
	buf_consume(&b, 6);
	assert_int_equal(b.len, 8);
	assert_memory_equal(buf_head(&b), "world 42", 8);
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	buf_release(&b);
	assert_null(b.data);
}

static void
test_hard_cap(void **state)
{
	struct buf b;
	char chunk[100];

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	buf_init(&b, 250);
	assert_int_equal(buf_append(&b, chunk, 100), 0);
	assert_int_equal(buf_append(&b, chunk, 100), 0);
	errno = 0;
	assert_int_equal(buf_append(&b, chunk, 100), -1);
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(b.len, 200);	/* the failed append changed nothing */
	assert_true(b.cap <= 250);
	assert_int_equal(buf_append(&b, chunk, 50), 0);
	assert_true(buf_full(&b));
	assert_int_equal(buf_prepare(&b, 10), 0);
	/* Consuming makes room again without growing past the cap. */
	buf_consume(&b, 120);
	assert_true(buf_prepare(&b, 100) >= 100);
	assert_true(b.cap <= 250);
	buf_release(&b);
}

static void
test_appendf_long(void **state)
{
	struct buf b;
	char big[3000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 1 << 16);
	assert_int_equal(buf_appendf(&b, "[%s]", big), 0);
	assert_int_equal(b.len, sizeof(big) + 1);
	assert_int_equal(buf_head(&b)[0], '[');
	assert_int_equal(buf_head(&b)[b.len - 1], ']');
	buf_release(&b);
	buf_init(&b, 100);
	assert_int_equal(buf_appendf(&b, "%s", big), -1);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

static void
test_find_lf(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(buf_find_lf(&b), -1);
	buf_append(&b, "abc", 3);
	assert_int_equal(buf_find_lf(&b), -1);
	buf_append(&b, "\r\ndef\n", 6);
	assert_int_equal(buf_find_lf(&b), 5);
	buf_consume(&b, 5);
	assert_int_equal(buf_find_lf(&b), 4);
	buf_release(&b);
}

static void
test_prepare_commit(void **state)
{
	struct buf b;
	size_t room;

	(void)state;
	buf_init(&b, 4096);
	room = buf_prepare(&b, 16);
	assert_true(room >= 16);
	memcpy(buf_tail(&b), "0123456789abcdef", 16);
	buf_commit(&b, 16);
	assert_int_equal(b.len, 16);
	/* Asking for more than the cap allows yields what is left. */
	room = buf_prepare(&b, 100000);
	assert_int_equal(room, 4096 - 16);
	buf_release(&b);
}

static void
test_base64(void **state)
{
	static const struct {
		const char *plain, *enc;
	} t[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	static const char *bad[] = { "Zg=", "Z===", "Zm9v!A==", "Zg==Zg==", "Zm=v", "====" };
	unsigned char out[64];
	char enc[64];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ssize_t n = base64_decode(t[i].enc, strlen(t[i].enc), out);

		assert_int_equal(n, strlen(t[i].plain));
		assert_memory_equal(out, t[i].plain, (size_t)n);
		base64_encode((const unsigned char *)t[i].plain, strlen(t[i].plain), enc);
		assert_string_equal(enc, t[i].enc);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(base64_decode(bad[i], strlen(bad[i]), out), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_consume),
		cmocka_unit_test(test_hard_cap),
		cmocka_unit_test(test_appendf_long),
		cmocka_unit_test(test_find_lf),
		cmocka_unit_test(test_prepare_commit),
		cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
