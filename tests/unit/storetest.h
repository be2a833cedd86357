/*
 * storetest: store fixtures shared by the cmocka store tests. Include
 * after <cmocka.h>.
 */
#ifndef RMAIL_TEST_STORETEST_H
#define RMAIL_TEST_STORETEST_H

#include <string.h>
#include <time.h>

#include "store/mailbox.h"

/* Create mailbox dirname in the user folder dir and open it. */
static inline struct store_mbox *
st_make_mbox(const char *dir, const char *dirname)
{
	struct store_mbox	*mb;
	char			 err[256];

	assert_int_equal(store_mbox_create(dir, dirname, NULL, err,
	    sizeof(err)), 0);
	mb = store_mbox_open(dir, dirname, err, sizeof(err));
	assert_non_null(mb);
	return mb;
}

/* Open the existing mailbox dirname in the user folder dir. */
static inline struct store_mbox *
st_open_mbox(const char *dir, const char *dirname)
{
	struct store_mbox	*mb;
	char			 err[256];

	mb = store_mbox_open(dir, dirname, err, sizeof(err));
	if (mb == NULL)
		fail_msg("open %s: %s", dirname, err);
	return mb;
}

/* Append text (its strlen) with INTERNALDATE when (0: now) and flags fl
 * (NULL: none); the new uid. */
static inline uint32_t
st_append(struct store_mbox *mb, const char *text, time_t when,
    const struct store_flags *fl)
{
	char		 err[256];
	uint32_t	 uid = 0;

	assert_int_equal(store_mbox_append(mb, text, strlen(text), when, fl,
	    &uid, err, sizeof(err)), 0);
	return uid;
}

#endif
