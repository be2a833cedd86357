/*
 * Unit tests: relay/queue_env, the per-target "notified" flag (a delay
 * notice went out): absent means false, anything but a boolean is
 * refused, a dump always writes it and a parse reads it back. The rest
 * of the envelope format is covered in test_queue.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "relay/queue_env.h"

static void
test_notified_default(void **state)
{
	static const char text[] = "{\"version\":1,\"from\":\"s@x\",\"targets\":"
	    "[{\"addr\":\"a@b\"},{\"addr\":\"c@d\",\"notified\":null},"
	    "{\"addr\":\"e@f\",\"notified\":true}]}";
	struct queue_msgenv e;
	char err[512];

	(void)state;
	assert_int_equal(queue_msgenv_parse(text, strlen(text), "ID1", &e, err,
	    sizeof(err)), 0);
	assert_int_equal(e.n, 3);
	assert_false(e.t[0].notified);
	assert_false(e.t[1].notified);
	assert_true(e.t[2].notified);
	queue_msgenv_clear(&e);
}

static void
test_notified_refused(void **state)
{
	static const char *const texts[] = {
		"{\"version\":1,\"from\":\"\",\"targets\":[{\"addr\":\"a@b\","
		"\"notified\":1}]}",
		"{\"version\":1,\"from\":\"\",\"targets\":[{\"addr\":\"a@b\"},"
		"{\"addr\":\"c@d\",\"notified\":\"yes\"}]}",
	};
	static const char *const want[] = {
		"targets[0].notified", "targets[1].notified",
	};
	struct queue_msgenv e;
	char err[512];

	(void)state;
	for (size_t i = 0; i < NELEM(texts); i++) {
		assert_int_equal(queue_msgenv_parse(texts[i], strlen(texts[i]),
		    "ID1", &e, err, sizeof(err)), -1);
		if (strncmp(err, want[i], strlen(want[i])) != 0)
			fail_msg("case %zu: %s", i, err);
		assert_int_equal(e.n, 0);
		assert_null(e.t);
	}
}

static void
test_notified_round_trip(void **state)
{
	struct queue_msgenv e, e2;
	char err[512], *text;
	size_t len;

	(void)state;
	memset(&e, 0, sizeof(e));
	snprintf(e.id, sizeof(e.id), "ABC");
	e.from = xstrdup("s@x");
	e.n = 2;
	e.t = xcalloc(2, sizeof(*e.t));
	e.t[0].addr = xstrdup("a@x");
	e.t[1].addr = xstrdup("b@y");
	e.t[1].attempts = 4;
	e.t[1].next_try = 1700000100;
	e.t[1].last_error = xstrdup("451 4.3.0 try later");
	e.t[1].notified = true;
	text = queue_msgenv_dump(&e, &len);
	/* Written for both, false included. */
	assert_non_null(strstr(text, "\"notified\":false"));
	assert_non_null(strstr(text, "\"notified\":true"));
	assert_int_equal(queue_msgenv_parse(text, len, "ABC", &e2, err,
	    sizeof(err)), 0);
	assert_int_equal(e2.n, 2);
	assert_false(e2.t[0].notified);
	assert_true(e2.t[1].notified);
	assert_int_equal(e2.t[1].state, QUEUE_T_PENDING);
	assert_int_equal(e2.t[1].attempts, 4);
	assert_int_equal(e2.t[1].next_try, 1700000100);
	assert_string_equal(e2.t[1].last_error, "451 4.3.0 try later");
	free(text);
	queue_msgenv_clear(&e);
	queue_msgenv_clear(&e2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notified_default),
		cmocka_unit_test(test_notified_refused),
		cmocka_unit_test(test_notified_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
