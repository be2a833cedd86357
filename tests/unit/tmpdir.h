/*
 * tmpdir: a cmocka fixture giving each test a fresh directory under /tmp
 * and a file path inside it; both are removed after the test.
 */
#ifndef RMAIL_TEST_TMPDIR_H
#define RMAIL_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/util.h"

struct tmp {
	char	 dir[64];
	char	*path;	/* dir/NAME; the test may create it */
};

static inline int
tmp_setup(void **state, const char *name)
{
	struct tmp *t = xcalloc(1, sizeof(*t));

	snprintf(t->dir, sizeof(t->dir), "/tmp/rmail-test-XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	t->path = xasprintf("%s/%s", t->dir, name);
	*state = t;
	return 0;
}

static inline int
tmp_teardown(void **state)
{
	struct tmp *t = *state;

	(void)unlink(t->path);
	(void)rmdir(t->dir);
	free(t->path);
	free(t);
	return 0;
}

#endif
