/* Unit tests: core/fsio reads (size only a hint, caps) and atomic writes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsio.h"
#include "tests/unit/tmpdir.h"

/* A pipe has no size: everything up to EOF must still come back. */
static void
test_read_pipe_to_eof(void **state)
{
	char big[10000];
	size_t len;
	char *data;
	int p[2];

	(void)state;
	memset(big, 'p', sizeof(big));
	big[5000] = '\0';	/* NULs inside are kept */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], big, sizeof(big)), (ssize_t)sizeof(big));
	close(p[1]);
	data = fsio_read_fd(p[0], 1 << 20, &len);
	close(p[0]);
	assert_non_null(data);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(data, big, sizeof(big));
	assert_int_equal(data[len], '\0');
	free(data);
}

static void
test_read_cap(void **state)
{
	char buf[100];
	size_t len;
	char *data;
	int p[2];

	(void)state;
	memset(buf, 'c', sizeof(buf));
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(p[1]);
	errno = 0;
	assert_null(fsio_read_fd(p[0], 99, &len));
	assert_int_equal(errno, EFBIG);
	close(p[0]);
	/* Exactly at the cap is fine. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(p[1]);
	data = fsio_read_fd(p[0], 100, &len);
	close(p[0]);
	assert_non_null(data);
	assert_int_equal(len, 100);
	free(data);
}

/* /proc files report size 0 yet have content. */
static void
test_read_proc(void **state)
{
	size_t len;
	char *data;

	(void)state;
	data = fsio_read_file("/proc/self/status", 1 << 20, &len);
	assert_non_null(data);
	assert_true(len > 0);
	assert_non_null(strstr(data, "Pid:"));
	free(data);
}

static void
test_atomic_write_replaces(void **state)
{
	struct tmp *t = *state;
	struct stat st;
	size_t len;
	char *data;

	assert_int_equal(fsio_write_atomic(t->path, "one", 3, 0600), 0);
	assert_int_equal(fsio_write_atomic(t->path, "second", 6, 0640), 0);
	data = fsio_read_file(t->path, 1024, &len);
	assert_non_null(data);
	assert_int_equal(len, 6);
	assert_string_equal(data, "second");
	free(data);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* No temporary file is left beside it. */
	{
		char *tmp = xasprintf("%s/.tmp.f", t->dir);

		assert_int_equal(access(tmp, F_OK), -1);
		free(tmp);
	}
	errno = 0;
	assert_null(fsio_read_file(t->path, 5, &len));
	assert_int_equal(errno, EFBIG);
}

static int
setup_tmp(void **state)
{
	return tmp_setup(state, "f");
}

static int
teardown_tmp(void **state)
{
	return tmp_teardown(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_pipe_to_eof),
		cmocka_unit_test(test_read_cap),
		cmocka_unit_test(test_read_proc),
		cmocka_unit_test_setup_teardown(test_atomic_write_replaces,
		    setup_tmp, teardown_tmp),
	};

	return cmocka_run_group_tests_name("fsio", tests, NULL, NULL);
}
