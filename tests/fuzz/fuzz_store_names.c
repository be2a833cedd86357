/*
 * fuzz_store_names: the store's name codecs. store/names.c: modified
 * UTF-7 mailbox names (RFC 3501 5.1.3) both ways, mailbox name checks and
 * the name <-> directory mapping; store/fname.c: message file names
 * carrying the uid and flags, shard directories, IMAP flag names. Every
 * codec must round-trip what it accepts.
 */
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <stdbool.h>

#include "store/fname.h"
#include "store/names.h"

static void
do_mutf7(const char *s)
{
	char u[4 * STORE_MNAME_MAX], m[4 * STORE_MNAME_MAX], back[sizeof(m)];

	if (mutf7_decode(s, u, sizeof(u)) == 0) {
		/* Only canonical forms decode: encoding gives s again. */
		FUZZ_CHECK(mutf7_encode(u, m, sizeof(m)) == 0);
		FUZZ_CHECK(strcmp(m, s) == 0);
	}
	if (mutf7_encode(s, m, sizeof(m)) == 0) {
		FUZZ_CHECK(mutf7_decode(m, back, sizeof(back)) == 0);
		FUZZ_CHECK(strcmp(back, s) == 0);
	}
}

static void
do_mailbox(const char *s)
{
	char canon[STORE_MNAME_MAX], canon2[STORE_MNAME_MAX];
	char dir[STORE_DIRNAME_MAX], dir2[STORE_DIRNAME_MAX];
	char name[STORE_MNAME_MAX];
	const char *why;

	if (store_name_check(s, canon, sizeof(canon), &why) == 0) {
		FUZZ_CHECK(store_name_check(canon, canon2, sizeof(canon2),
		    &why) == 0 && strcmp(canon, canon2) == 0);
		/* Every level of an accepted name has a directory. */
		char *p = canon, *slash;

		do {
			if ((slash = strchr(p, '/')) != NULL)
				*slash = '\0';
			FUZZ_CHECK(store_name_to_dir(p, dir, sizeof(dir),
			    &why) == 0);
			FUZZ_CHECK(dir[0] != '\0' && dir[0] != '.' &&
			    strchr(dir, '/') == NULL);
			FUZZ_CHECK(store_dir_to_name(dir, name,
			    sizeof(name)) == 0 && strcmp(name, p) == 0);
			if (slash != NULL)
				p = slash + 1;
		} while (slash != NULL);
	} else {
		FUZZ_CHECK(why != NULL);
	}
	if (store_dir_to_name(s, name, sizeof(name)) == 0) {
		FUZZ_CHECK(store_name_to_dir(name, dir2, sizeof(dir2),
		    &why) == 0);
		FUZZ_CHECK(strcmp(dir2, s) == 0);
	}
}

static void
do_fname(const char *s)
{
	struct store_flags f, f2;
	char buf[STORE_FNAME_MAX], sbuf[STORE_SHARD_MAX];
	uint32_t uid, uid2, shard;
	uint8_t sys;

	if (store_fname_parse(s, &uid, &f) == 0) {
		FUZZ_CHECK((f.sys & ~STORE_F_ALL) == 0);
		FUZZ_CHECK((f.kw & ~STORE_KW_ALL) == 0);
		FUZZ_CHECK(uid != 0);
		/* Only exactly what the formatter writes is accepted. */
		FUZZ_CHECK(store_fname_format(uid, &f, buf) < STORE_FNAME_MAX);
		FUZZ_CHECK(strcmp(buf, s) == 0);
		FUZZ_CHECK(store_fname_parse(buf, &uid2, &f2) == 0);
		FUZZ_CHECK(uid2 == uid && f2.sys == f.sys && f2.kw == f.kw);
	}
	if (store_shard_parse(s, &shard) == 0) {
		FUZZ_CHECK(shard <= UINT32_MAX / 1000);
		FUZZ_CHECK(store_shard_format(shard * 1000, sbuf) <
		    STORE_SHARD_MAX);
		FUZZ_CHECK(strcmp(sbuf, s) == 0);
	}
	if (store_flags_from_imap(s, &sys) == 0)
		FUZZ_CHECK(store_flag_imap_name(sys) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);

	do_mutf7(s);
	do_mailbox(s);
	do_fname(s);
	free(s);
	return 0;
}
