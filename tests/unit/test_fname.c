/* Unit tests: store/fname, the message file and shard name codec. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "store/fname.h"

static const uint32_t uids[] = {
	1, 2, 9, 10, 41, 999, 1000, 1001, 9999, 10000, 123456, 999999,
	1000000, 9999999, 10000000, 12345678, 99999998, 99999999, 100000000,
	100000001, 999999999, 1000000000, 2147483647, 2147483648u,
	4294966999u, 4294967000u, 4294967294u, UINT32_MAX,
};

static const uint32_t kwmasks[] = {
	0, 1, 2, 3, 0x5, 0x80, 0x1000, 0x2000000, 0x2000001, 0x155555,
	0x2aaaaaa, STORE_KW_ALL,
};

static void
test_known_names(void **state)
{
	static const struct {
		uint32_t	 uid;
		uint8_t		 sys;
		uint32_t	 kw;
		const char	*name;
	} t[] = {
		{ 1, 0, 0, "00000001_.eml" },
		{ 2, STORE_F_SEEN, 0, "00000002_S.eml" },
		{ 41, STORE_F_ANSWERED | STORE_F_FLAGGED | STORE_F_SEEN, 0,
		    "00000041_AFS.eml" },
		{ 1000, STORE_F_FLAGGED | STORE_F_SEEN, 3,
		    "00001000_FSab.eml" },
		{ 99999999, STORE_F_ALL, 0, "99999999_ADFST.eml" },
		{ 100000000, STORE_F_DRAFT, 1u << 25, "100000000_Tz.eml" },
		{ UINT32_MAX, STORE_F_ALL, STORE_KW_ALL,
		    "4294967295_ADFSTabcdefghijklmnopqrstuvwxyz.eml" },
	};
	char		 buf[STORE_FNAME_MAX];
	struct store_flags fl;
	uint32_t	 uid;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		fl.sys = t[i].sys;
		fl.kw = t[i].kw;
		assert_int_equal(store_fname_format(t[i].uid, &fl, buf),
		    strlen(t[i].name));
		assert_string_equal(buf, t[i].name);
		assert_int_equal(store_fname_parse(t[i].name, &uid, &fl), 0);
		assert_int_equal(uid, t[i].uid);
		assert_int_equal(fl.sys, t[i].sys);
		assert_int_equal(fl.kw, t[i].kw);
	}
}

static void
test_round_trip(void **state)
{
	char		 buf[STORE_FNAME_MAX];
	struct store_flags fl, out;
	uint32_t	 uid;
	size_t		 i, k, len;
	unsigned	 sys;

	(void)state;
	for (i = 0; i < NELEM(uids); i++) {
		for (sys = 0; sys <= STORE_F_ALL; sys++) {
			for (k = 0; k < NELEM(kwmasks); k++) {
				fl.sys = (uint8_t)sys;
				fl.kw = kwmasks[k];
				len = store_fname_format(uids[i], &fl, buf);
				assert_int_equal(len, strlen(buf));
				assert_true(len < STORE_FNAME_MAX);
				assert_int_equal(
				    store_fname_parse(buf, &uid, &out), 0);
				assert_int_equal(uid, uids[i]);
				assert_int_equal(out.sys, fl.sys);
				assert_int_equal(out.kw, fl.kw);
			}
		}
	}
}

/* Every single keyword bit lands on its own letter and back. */
static void
test_keyword_bits(void **state)
{
	char		 buf[STORE_FNAME_MAX], want[STORE_FNAME_MAX];
	struct store_flags fl, out;
	uint32_t	 uid;
	int		 b;

	(void)state;
	for (b = 0; b < STORE_KW_MAX; b++) {
		fl.sys = 0;
		fl.kw = (uint32_t)1 << b;
		store_fname_format(7, &fl, buf);
		snprintf(want, sizeof(want), "00000007_%c.eml", 'a' + b);
		assert_string_equal(buf, want);
		assert_int_equal(store_fname_parse(buf, &uid, &out), 0);
		assert_int_equal(out.kw, fl.kw);
	}
	/* Bits 26..31 cannot be stored: they are dropped, not garbled. */
	fl.sys = 0;
	fl.kw = 0xfc000000u | 1;
	store_fname_format(7, &fl, buf);
	assert_string_equal(buf, "00000007_a.eml");
}

static void
test_rejects(void **state)
{
	static const char *bad[] = {
		"",
		"_.eml",
		"00000000_.eml",		/* uid 0 */
		"0000000000_.eml",		/* uid 0, long */
		"00000001_SA.eml",		/* wrong order */
		"00000001_SS.eml",		/* duplicate */
		"00000001_AA.eml",
		"00000001_aa.eml",
		"00000001_ba.eml",
		"00000001_aS.eml",		/* keywords before flags */
		"00000001_B.eml",		/* unknown letters */
		"00000001_R.eml",		/* \Recent is never stored */
		"00000001_Z.eml",
		"00000001_U.eml",
		"00000001_S1.eml",
		"00000001_S",			/* missing .eml */
		"00000001_S.",
		"00000001_S.em",
		"00000001_S.EML",
		"00000001_S.eml.",		/* trailing junk */
		"00000001_S.eml~",
		"00000001_S.eml/x",
		"00000001_S.emlx",
		"00000001_.eml ",
		"00000001",
		"00000001.eml",			/* no '_' */
		"00000001-S.eml",
		" 00000001_.eml",
		"+0000001_.eml",
		"-0000001_.eml",
		".tmp.x",			/* dot-files */
		".00000001_.eml",
		".tmp.00000001_S.eml",
		"0001_.eml",			/* too short padding */
		"1_.eml",
		"0000001_.eml",
		"000000001_.eml",		/* non-canonical padding */
		"0100000000_.eml",
		"04294967295_.eml",
		"4294967296_.eml",		/* overflow */
		"9999999999_.eml",
		"42949672950_.eml",
		"99999999999999999999999_.eml",
		"00000001_{.eml",		/* 'z' + 1: keyword bit 26 */
		"00000001_a{.eml",
		"00000001_z{.eml",
		"00000001_\xc3\xa9.eml",
		"0000000a_.eml",
	};
	struct store_flags fl = { 0x7f, 0xdead };
	uint32_t	 uid = 12345;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		if (store_fname_parse(bad[i], &uid, &fl) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		/* A failed parse leaves the outputs alone. */
		assert_int_equal(uid, 12345);
		assert_int_equal(fl.sys, 0x7f);
		assert_int_equal(fl.kw, 0xdead);
	}
}

static void
test_shard(void **state)
{
	static const struct {
		uint32_t	 uid;
		const char	*name;
		uint32_t	 shard;
	} t[] = {
		{ 1, "0000", 0 },
		{ 999, "0000", 0 },
		{ 1000, "0001", 1 },
		{ 41999, "0041", 41 },
		{ 9999999, "9999", 9999 },
		{ 10000000, "10000", 10000 },
		{ 99999999, "99999", 99999 },
		{ 100000000, "100000", 100000 },
		{ UINT32_MAX, "4294967", 4294967 },
	};
	static const char *bad[] = {
		"", "0", "000", "00000", "00001", "01000", "1", "123",
		"4294968", "9999999", "10000000", "00a1", "0001 ", " 0001",
		"0001/", ".0001", "-001", "+001", "tmp",
	};
	char		 buf[STORE_SHARD_MAX];
	uint32_t	 shard, u;
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		assert_int_equal(store_shard_format(t[i].uid, buf),
		    strlen(t[i].name));
		assert_string_equal(buf, t[i].name);
		assert_int_equal(store_shard_parse(buf, &shard), 0);
		assert_int_equal(shard, t[i].shard);
	}
	for (i = 0; i < NELEM(uids); i++) {
		store_shard_format(uids[i], buf);
		assert_int_equal(store_shard_parse(buf, &shard), 0);
		assert_int_equal(shard, uids[i] / 1000);
	}
	/* Every shard number formats canonically and parses back. */
	for (u = 0; u <= 20000; u++) {
		snprintf(buf, sizeof(buf), "%04" PRIu32, u);
		assert_int_equal(store_shard_parse(buf, &shard), 0);
		assert_int_equal(shard, u);
	}
	shard = 77;
	for (i = 0; i < NELEM(bad); i++) {
		if (store_shard_parse(bad[i], &shard) != -1)
			fail_msg("accepted shard \"%s\"", bad[i]);
		assert_int_equal(shard, 77);
	}
}

static void
test_imap_names(void **state)
{
	static const struct {
		const char	*name;
		int		 rc;
		uint8_t		 bit;
	} t[] = {
		{ "\\Answered", 0, STORE_F_ANSWERED },
		{ "\\Deleted", 0, STORE_F_DELETED },
		{ "\\Flagged", 0, STORE_F_FLAGGED },
		{ "\\Seen", 0, STORE_F_SEEN },
		{ "\\Draft", 0, STORE_F_DRAFT },
		{ "\\SEEN", 0, STORE_F_SEEN },
		{ "\\seen", 0, STORE_F_SEEN },
		{ "\\dRaFt", 0, STORE_F_DRAFT },
		{ "\\Recent", -1, 0 },
		{ "\\Seen ", -1, 0 },
		{ "\\Se", -1, 0 },
		{ "Seen", -1, 0 },
		{ "\\\\Seen", -1, 0 },
		{ "$Forwarded", -1, 0 },
		{ "\\*", -1, 0 },
		{ "", -1, 0 },
	};
	uint8_t		 bit;
	size_t		 i;
	unsigned	 b;
	const char	*s;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		bit = 0xff;
		assert_int_equal(store_flags_from_imap(t[i].name, &bit),
		    t[i].rc);
		if (t[i].rc == 0)
			assert_int_equal(bit, t[i].bit);
		else
			assert_int_equal(bit, 0xff);
	}
	assert_string_equal(store_flag_imap_name(STORE_F_SEEN), "\\Seen");
	assert_string_equal(store_flag_imap_name(STORE_F_DRAFT), "\\Draft");
	for (b = 0; b < 256; b++) {
		s = store_flag_imap_name((uint8_t)b);
		if (b == 1 || b == 2 || b == 4 || b == 8 || b == 16) {
			assert_non_null(s);
			assert_int_equal(store_flags_from_imap(s, &bit), 0);
			assert_int_equal(bit, b);
		} else
			assert_null(s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_names),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_keyword_bits),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_shard),
		cmocka_unit_test(test_imap_names),
	};

	return cmocka_run_group_tests_name("fname", tests, NULL, NULL);
}
