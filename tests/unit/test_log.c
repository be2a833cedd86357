/* Unit tests: core/log (key=value and JSON lines, what clients cannot forge). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

/* Run one log_event with stderr sent to a file; the line written. */
static char *
capture(enum log_format fmt, const char *svc, const char *kv)
{
	char path[] = "/tmp/rmail-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	static char out[16384];
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	log_set_format(fmt);
	log_event(LOG_WARN, svc, 0x1f, "192.0.2.7", "%s", kv);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	assert_true(n > 0);
	out[n] = '\0';
	log_set_format(LOG_FORMAT_KV);
	return out;
}

static void
test_kv(void **state)
{
	char *line;

	(void)state;
	line = capture(LOG_FORMAT_KV, "smtp", "event=accepted id=abc");
	assert_memory_equal(line, "ts=", 3);
	assert_non_null(strstr(line, "Z level=warn svc=smtp conn=1f "
	    "ip=192.0.2.7 event=accepted id=abc\n"));
	/* One line, whatever a client put in a value. */
	assert_string_equal(log_q("a\r\nlevel=error"), "\"a\\x0d\\x0alevel=error\"");
}

static void
test_json(void **state)
{
	char kv[256], *line;

	(void)state;
	snprintf(kv, sizeof(kv), "event=rejected from=%s helo=%s n=3",
	    log_q("\"evil\" x=y\\"), log_q("caf\xc3\xa9\x01\xff"));
	line = capture(LOG_FORMAT_JSON, "submission", kv);
	assert_memory_equal(line, "{\"ts\":\"", 7);
	assert_non_null(strstr(line, "Z\",\"level\":\"warn\",\"svc\":\"submission\","
	    "\"conn\":\"1f\",\"ip\":\"192.0.2.7\",\"event\":\"rejected\","
	    "\"from\":\"\\\"evil\\\" x=y\\\\\","
	    /* valid UTF-8 kept, control and stray bytes escaped */
	    "\"helo\":\"caf\xc3\xa9\\u0001\\u00ff\",\"n\":\"3\"}\n"));
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
}

static void
test_json_long_value_stays_valid(void **state)
{
	char big[1500], kv[1700], *line;
	size_t n;

	(void)state;
	memset(big, '\x01', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(kv, sizeof(kv), "event=x v=%s end=1", log_q(big));
	line = capture(LOG_FORMAT_JSON, NULL, kv);
	n = strlen(line);
	/* Truncated values are cut, but the object is closed and one line. */
	assert_true(n > 2);
	assert_memory_equal(line + n - 2, "}\n", 2);
	assert_non_null(strstr(line, "\"event\":\"x\""));
}

static void
test_parse(void **state)
{
	enum log_format f;
	enum log_level l;

	(void)state;
	assert_int_equal(log_format_parse("json", &f), 0);
	assert_int_equal(f, LOG_FORMAT_JSON);
	assert_int_equal(log_format_parse("kv", &f), 0);
	assert_int_equal(f, LOG_FORMAT_KV);
	assert_int_equal(log_format_parse("JSON", &f), -1);
	assert_int_equal(log_level_parse("warn", &l), 0);
	assert_int_equal(l, LOG_WARN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_long_value_stays_valid),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
