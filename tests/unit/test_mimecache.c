/* Unit tests: store/mimecache (parsed trees under a memory bound) and
 * store_mbox_read (reading a message another process renamed). */
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
#include "store/mailbox.h"
#include "store/mimecache.h"
#include "tests/unit/tmpdir.h"

static const char multipart[] =
    "From: a@b.test\r\n"
    "Subject: parts\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"xx\"\r\n"
    "\r\n"
    "--xx\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "hello\r\n"
    "--xx\r\n"
    "Content-Type: application/pdf; name=\"a.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0=\r\n"
    "--xx--\r\n";

struct fix {
	char			 dir[64];
	struct store_mbox	*mb;
	uint32_t		 uids[3];
};

static int
setup(void **state)
{
	struct fix	*f = xcalloc(1, sizeof(*f));
	char		 err[256];

	if (tmp_user_dir(f->dir) == -1 ||
	    store_mbox_create(f->dir, "INBOX", NULL, err, sizeof(err)) == -1 ||
	    (f->mb = store_mbox_open(f->dir, "INBOX", err, sizeof(err))) ==
	    NULL)
		return -1;
	for (int i = 0; i < 3; i++)
		if (store_mbox_append(f->mb, multipart, strlen(multipart), 0,
		    NULL, &f->uids[i], err, sizeof(err)) == -1)
			return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	store_mbox_close(&f->mb);
	tmp_rm_rf(f->dir);
	free(f);
	return 0;
}

static void
test_hit_after_miss(void **state)
{
	struct fix			*f = *state;
	struct store_mimecache		*c = store_mimecache_new(1 << 20);
	struct store_mimecache_stats	 st;
	const struct mime_part		*p, *again;
	char				 err[256];

	p = store_mimecache_get(c, f->mb, f->uids[0], err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(p->type, "multipart");
	assert_int_equal(p->nchildren, 2);
	assert_string_equal(p->children[1].subtype, "pdf");
	again = store_mimecache_get(c, f->mb, f->uids[0], err, sizeof(err));
	assert_ptr_equal(p, again);
	store_mimecache_stats(c, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.entries, 1);
	assert_true(st.bytes >= mime_mem_size(p));
	/* Forgetting the handle empties it. */
	store_mimecache_forget(c, f->mb);
	store_mimecache_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	store_mimecache_free(&c);
	assert_null(c);
}

static void
test_memory_bound(void **state)
{
	struct fix			*f = *state;
	struct store_mimecache		*c;
	struct store_mimecache_stats	 st;
	const struct mime_part		*p;
	char				 err[256];
	size_t				 one;

	/* Room for two trees, not three: the least recently used goes. */
	c = store_mimecache_new(1 << 20);
	p = store_mimecache_get(c, f->mb, f->uids[0], err, sizeof(err));
	store_mimecache_stats(c, &st);
	one = st.bytes;
	store_mimecache_free(&c);
	assert_non_null(p);

	c = store_mimecache_new(2 * one + one / 2);
	assert_non_null(store_mimecache_get(c, f->mb, f->uids[0], err,
	    sizeof(err)));
	assert_non_null(store_mimecache_get(c, f->mb, f->uids[1], err,
	    sizeof(err)));
	/* Touch uid 0 so uid 1 is the oldest. */
	assert_non_null(store_mimecache_get(c, f->mb, f->uids[0], err,
	    sizeof(err)));
	assert_non_null(store_mimecache_get(c, f->mb, f->uids[2], err,
	    sizeof(err)));
	store_mimecache_stats(c, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.evictions, 1);
	assert_true(st.bytes <= 2 * one + one / 2);
	assert_int_equal(st.hits, 1);
	store_mimecache_get(c, f->mb, f->uids[0], err, sizeof(err));
	store_mimecache_stats(c, &st);
	assert_int_equal(st.hits, 2);	/* still there */
	store_mimecache_get(c, f->mb, f->uids[1], err, sizeof(err));
	store_mimecache_stats(c, &st);
	assert_int_equal(st.misses, 4);	/* was evicted */
	store_mimecache_free(&c);

	/* A tree bigger than the whole bound is returned, never kept. */
	c = store_mimecache_new(16);
	p = store_mimecache_get(c, f->mb, f->uids[0], err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(p->subtype, "mixed");
	store_mimecache_stats(c, &st);
	assert_int_equal(st.entries, 0);
	store_mimecache_free(&c);
}

static void
test_expunged(void **state)
{
	struct fix		*f = *state;
	struct store_mimecache	*c = store_mimecache_new(1 << 20);
	char			 err[256];

	assert_int_equal(store_mbox_expunge(f->mb, f->uids[1]), 0);
	assert_null(store_mimecache_get(c, f->mb, f->uids[1], err,
	    sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "no such message"));
	store_mimecache_free(&c);
}

static void
on_event(void *arg, const struct store_event *ev)
{
	struct store_event *last = arg;

	*last = *ev;
	last->msg = NULL;
}

/* Another handle renamed (flags) or expunged the file: read chases. */
static void
test_read_chases_rename(void **state)
{
	struct fix		*f = *state;
	struct store_mbox	*other;
	struct store_flags	 fl = { .sys = STORE_F_SEEN, .kw = 0 };
	struct store_event	 last;
	struct store_sub	*sub;
	char			 err[256], *data;
	size_t			 len;

	memset(&last, 0, sizeof(last));
	sub = store_mbox_subscribe(f->mb, on_event, &last);
	other = store_mbox_open(f->dir, "INBOX", err, sizeof(err));
	assert_non_null(other);
	assert_int_equal(store_mbox_set_flags(other, f->uids[0], &fl), 0);
	assert_int_equal(store_mbox_expunge(other, f->uids[2]), 0);
	store_mbox_close(&other);

	data = store_mbox_read(f->mb, f->uids[0], &len);
	assert_non_null(data);
	assert_int_equal(len, strlen(multipart));
	assert_memory_equal(data, multipart, len);
	free(data);
	assert_int_equal(last.type, STORE_EV_FLAGS);
	assert_int_equal(store_mbox_find(f->mb, f->uids[0])->flags.sys,
	    STORE_F_SEEN);

	assert_null(store_mbox_read(f->mb, f->uids[2], &len));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(last.type, STORE_EV_EXPUNGE);
	assert_null(store_mbox_find(f->mb, f->uids[2]));
	store_mbox_unsubscribe(f->mb, &sub);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_hit_after_miss),
		T(test_memory_bound),
		T(test_expunged),
		T(test_read_chases_rename),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
