/* Unit tests: core/throttle (failed-login counts shared by every service). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/throttle.h"

static void
test_count_fail_clear(void **state)
{
	struct throttle *t = throttle_new(16, 600);

	(void)state;
	assert_int_equal(throttle_size(t), 0);
	assert_int_equal(throttle_count(t, "ip:192.0.2.1", 1000), 0);
	for (unsigned i = 1; i <= 10; i++) {
		throttle_fail(t, "ip:192.0.2.1", 1000 + i);
		assert_int_equal(throttle_count(t, "ip:192.0.2.1", 1000 + i), i);
	}
	throttle_fail(t, "user:a@example.test", 1000);
	assert_int_equal(throttle_count(t, "user:a@example.test", 1000), 1);
	/* Keys are separate and exact. */
	assert_int_equal(throttle_count(t, "ip:192.0.2.10", 1011), 0);
	assert_int_equal(throttle_count(t, "ip:192.0.2.", 1011), 0);
	assert_int_equal(throttle_size(t), 2);
	throttle_clear(t, "ip:192.0.2.1");
	assert_int_equal(throttle_count(t, "ip:192.0.2.1", 1011), 0);
	assert_int_equal(throttle_count(t, "user:a@example.test", 1000), 1);
	assert_int_equal(throttle_size(t), 1);
	throttle_clear(t, "ip:nobody");		/* unknown: nothing happens */
	assert_int_equal(throttle_size(t), 1);
	throttle_free(&t);
	assert_null(t);
	throttle_free(&t);			/* NULL is fine */
}

/* A failure counts for `window` seconds from the first of its run. */
static void
test_window(void **state)
{
	struct throttle *t = throttle_new(4, 600);

	(void)state;
	throttle_fail(t, "k", 1000);
	throttle_fail(t, "k", 1500);
	assert_int_equal(throttle_count(t, "k", 1600), 2);
	assert_int_equal(throttle_count(t, "k", 1601), 0);
	/* The next failure after the window starts a new count of one. */
	throttle_fail(t, "k", 1601);
	assert_int_equal(throttle_count(t, "k", 1601), 1);
	assert_int_equal(throttle_count(t, "k", 2201), 1);
	assert_int_equal(throttle_count(t, "k", 2202), 0);
	assert_int_equal(throttle_size(t), 1);
	throttle_free(&t);
}

/* Full: a new key replaces the record that failed least recently. */
static void
test_evicts_oldest(void **state)
{
	struct throttle *t = throttle_new(3, 600);

	(void)state;
	throttle_fail(t, "a", 100);
	throttle_fail(t, "b", 90);
	throttle_fail(t, "c", 110);
	throttle_fail(t, "a", 120);	/* a is recent again: b is the oldest */
	throttle_fail(t, "d", 130);
	assert_int_equal(throttle_size(t), 3);
	assert_int_equal(throttle_count(t, "b", 130), 0);
	assert_int_equal(throttle_count(t, "a", 130), 2);
	assert_int_equal(throttle_count(t, "c", 130), 1);
	assert_int_equal(throttle_count(t, "d", 130), 1);
	/* b comes back with a fresh count, in c's place (now the oldest). */
	throttle_fail(t, "b", 140);
	assert_int_equal(throttle_count(t, "b", 140), 1);
	assert_int_equal(throttle_count(t, "c", 140), 0);
	assert_int_equal(throttle_size(t), 3);
	throttle_free(&t);
}

/* Keys past THROTTLE_KEY_MAX - 1 bytes are cut: the same prefix is the
 * same record, counted and cleared alike. */
static void
test_long_keys(void **state)
{
	struct throttle *t = throttle_new(4, 600);
	char k1[THROTTLE_KEY_MAX + 50], k2[THROTTLE_KEY_MAX + 50];

	(void)state;
	memset(k1, 'x', sizeof(k1) - 1);
	k1[sizeof(k1) - 1] = '\0';
	memcpy(k2, k1, sizeof(k2));
	k2[THROTTLE_KEY_MAX + 10] = 'y';
	throttle_fail(t, k1, 1);
	throttle_fail(t, k2, 1);
	assert_int_equal(throttle_count(t, k1, 1), 2);
	assert_int_equal(throttle_size(t), 1);
	/* One byte shorter than the stored key is another key. */
	k1[THROTTLE_KEY_MAX - 2] = '\0';
	assert_int_equal(throttle_count(t, k1, 1), 0);
	throttle_clear(t, k2);
	assert_int_equal(throttle_size(t), 0);
	throttle_free(&t);
}

/* Clearing swaps the last record in: the others keep their counts. */
static void
test_clear_keeps_others(void **state)
{
	struct throttle *t = throttle_new(64, 600);
	char key[32];

	(void)state;
	for (unsigned i = 0; i < 64; i++) {
		snprintf(key, sizeof(key), "ip:10.0.0.%u", i);
		for (unsigned j = 0; j <= i % 5; j++)
			throttle_fail(t, key, 50);
	}
	for (unsigned i = 0; i < 64; i += 3) {
		snprintf(key, sizeof(key), "ip:10.0.0.%u", i);
		throttle_clear(t, key);
	}
	for (unsigned i = 0; i < 64; i++) {
		snprintf(key, sizeof(key), "ip:10.0.0.%u", i);
		assert_int_equal(throttle_count(t, key, 50), i % 3 == 0 ? 0 : i % 5 + 1);
	}
	throttle_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_fail_clear),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_evicts_oldest),
		cmocka_unit_test(test_long_keys),
		cmocka_unit_test(test_clear_keeps_others),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
