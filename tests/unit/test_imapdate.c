/* Unit tests: imap/imapdate (IMAP date, date-time, RFC 5322 Date: day). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "imap/imapdate.h"

/* Seconds of some known instants, UTC. */
#define T_1970		((time_t)0)
#define T_2000_02_29	((time_t)951782400)	/* 2000-02-29 00:00 */
#define T_2020_01_01	((time_t)1577836800)
#define T_1996_07_17	((time_t)837561600)	/* 1996-07-17 00:00 */

static time_t
date(const char *s)
{
	time_t t = 12345;

	assert_int_equal(imap_date_parse(s, &t), 0);
	return t;
}

static void
bad_date(const char *s)
{
	time_t t = 12345;

	assert_int_equal(imap_date_parse(s, &t), -1);
	assert_int_equal(t, 12345);
}

static void
test_date(void **state)
{
	(void)state;
	assert_int_equal(date("1-Jan-1970"), T_1970);
	assert_int_equal(date("01-Jan-1970"), T_1970);
	assert_int_equal(date("1-JAN-2020"), T_2020_01_01);
	assert_int_equal(date("1-jan-2020"), T_2020_01_01);
	assert_int_equal(date("17-Jul-1996"), T_1996_07_17);
	assert_int_equal(date("29-Feb-2000"), T_2000_02_29);
	assert_int_equal(date("29-Feb-2024"), (time_t)1709164800);
	assert_int_equal(date("31-Dec-1969"), (time_t)-86400);
	assert_int_equal(date("1-Mar-1900"), (time_t)-2203891200LL);
	assert_int_equal(date("31-Dec-9999"), (time_t)253402214400LL);

	bad_date("");
	bad_date("29-Feb-1900");	/* not a leap year */
	bad_date("29-Feb-2023");
	bad_date("30-Feb-2000");
	bad_date("31-Apr-2020");
	bad_date("32-Jan-2020");
	bad_date("0-Jan-2020");
	bad_date("00-Jan-2020");
	bad_date("001-Jan-2020");
	bad_date("1-Jnu-2020");
	bad_date("1-January-2020");
	bad_date("1-Jan-20");
	bad_date("1-Jan-20201");
	bad_date("1 Jan 2020");
	bad_date(" 1-Jan-2020");
	bad_date("1-Jan-2020 ");
	bad_date("\"1-Jan-2020\"");
	bad_date("1-Jan-");
	bad_date("1-Ja");
}

static time_t
datetime(const char *s)
{
	time_t t = 12345;

	assert_int_equal(imap_datetime_parse(s, &t), 0);
	return t;
}

static void
bad_datetime(const char *s)
{
	time_t t = 12345;

	assert_int_equal(imap_datetime_parse(s, &t), -1);
	assert_int_equal(t, 12345);
}

static void
test_datetime(void **state)
{
	(void)state;
	assert_int_equal(datetime("17-Jul-1996 02:44:25 -0700"),
	    T_1996_07_17 + 9 * 3600 + 44 * 60 + 25);
	assert_int_equal(datetime("01-Jan-2020 00:00:00 +0000"),
	    T_2020_01_01);
	assert_int_equal(datetime(" 1-Jan-2020 01:30:00 +0130"),
	    T_2020_01_01);
	assert_int_equal(datetime("1-Jan-2020 00:00:00 +0000"),
	    T_2020_01_01);
	assert_int_equal(datetime("01-jan-2020 00:00:00 -0000"),
	    T_2020_01_01);
	assert_int_equal(datetime("31-Dec-2019 23:59:59 +0000"),
	    T_2020_01_01 - 1);
	assert_int_equal(datetime("29-Feb-2000 23:00:00 -2300"),
	    T_2000_02_29 + 46 * 3600);

	bad_datetime("");
	bad_datetime("17-Jul-1996");
	bad_datetime("17-Jul-1996 02:44:25");
	bad_datetime("17-Jul-1996 02:44 -0700");
	bad_datetime("17-Jul-1996 24:00:00 +0000");
	bad_datetime("17-Jul-1996 23:60:00 +0000");
	bad_datetime("17-Jul-1996 23:00:61 +0000");
	bad_datetime("17-Jul-1996 02:44:25 +0060");
	bad_datetime("17-Jul-1996 02:44:25 +2400");
	bad_datetime("17-Jul-1996 02:44:25 0700");
	bad_datetime("17-Jul-1996 02:44:25 +070");
	bad_datetime("17-Jul-1996 02:44:25 +07000");
	bad_datetime("17-Jul-1996 02:44:25 -0700 ");
	bad_datetime("17-Jul-1996  02:44:25 -0700");
	bad_datetime("29-Feb-2100 00:00:00 +0000");
	bad_datetime("  1-Jan-2020 00:00:00 +0000");
	bad_datetime("17-Jul-96 02:44:25 -0700");
	bad_datetime("17-Jul-1996 2:44:25 -0700");
}

static void
check_format(time_t t, long tz, const char *want)
{
	char buf[IMAP_DATETIME_LEN];
	time_t back;

	assert_ptr_equal(imap_datetime_format(t, tz, buf), buf);
	assert_string_equal(buf, want);
	assert_int_equal(strlen(buf), IMAP_DATETIME_LEN - 1);
	assert_int_equal(imap_datetime_parse(buf, &back), 0);
	assert_int_equal(back, t);
}

static void
test_format(void **state)
{
	char buf[IMAP_DATETIME_LEN];

	(void)state;
	check_format(0, 0, "01-Jan-1970 00:00:00 +0000");
	check_format(T_1996_07_17 + 9 * 3600 + 44 * 60 + 25, -7 * 3600,
	    "17-Jul-1996 02:44:25 -0700");
	check_format(T_2020_01_01, 5 * 3600 + 30 * 60,
	    "01-Jan-2020 05:30:00 +0530");
	check_format(T_2020_01_01, -(3 * 3600 + 30 * 60),
	    "31-Dec-2019 20:30:00 -0330");
	check_format(T_2000_02_29 + 86399, 0, "29-Feb-2000 23:59:59 +0000");
	check_format(-1, 0, "31-Dec-1969 23:59:59 +0000");
	check_format(-2203891200LL, 3600, "01-Mar-1900 01:00:00 +0100");

	/* Round trips over a range of days, zones and times. */
	for (int64_t t = -3000000000LL; t < 5000000000LL; t += 7777777) {
		time_t back;

		for (long tz = -12 * 3600; tz <= 14 * 3600; tz += 45 * 60) {
			imap_datetime_format((time_t)t, tz, buf);
			assert_int_equal(imap_datetime_parse(buf, &back), 0);
			assert_int_equal(back, (time_t)t);
		}
	}

	/* Zones beyond +-23:59 and years beyond 9999 are clamped. */
	imap_datetime_format(0, 30 * 3600, buf);
	assert_string_equal(buf, "01-Jan-1970 23:59:00 +2359");
	imap_datetime_format((time_t)400000000000LL, 0, buf);
	assert_string_equal(buf, "31-Dec-9999 23:59:59 +0000");
	imap_datetime_format((time_t)-70000000000LL, 0, buf);
	assert_string_equal(buf, "01-Jan-0000 00:00:00 +0000");
}

static time_t
sent(const char *s)
{
	time_t t = 12345;

	if (imap_rfc5322_day(s, &t) != 0)
		fail_msg("imap_rfc5322_day(\"%s\") failed", s);
	return t;
}

static void
bad_sent(const char *s)
{
	time_t t = 12345;

	if (imap_rfc5322_day(s, &t) != -1)
		fail_msg("imap_rfc5322_day(\"%s\") succeeded", s);
	assert_int_equal(t, 12345);
}

static void
test_rfc5322(void **state)
{
	(void)state;
	assert_int_equal(sent("Wed, 1 Jan 2020 10:00:00 +0100"),
	    T_2020_01_01);
	assert_int_equal(sent("1 Jan 2020 10:00:00 +0100"), T_2020_01_01);
	assert_int_equal(sent("01 Jan 2020 10:00 +0100"), T_2020_01_01);
	/* The date as written, whatever the zone says. */
	assert_int_equal(sent("Wed, 1 Jan 2020 00:30:00 +0200"),
	    T_2020_01_01);
	assert_int_equal(sent("Wed, 1 Jan 2020 23:30:00 -1100"),
	    T_2020_01_01);
	assert_int_equal(sent("Wed, 01 Jan 2020 10:00:00 GMT"), T_2020_01_01);
	assert_int_equal(sent("Wed, 01 Jan 2020 10:00:00 UT"), T_2020_01_01);
	assert_int_equal(sent("Wed, 01 Jan 2020 10:00:00 Z"), T_2020_01_01);
	assert_int_equal(sent("Wed, 01 Jan 2020 10:00:00 EST"), T_2020_01_01);
	assert_int_equal(sent("Wed, 01 Jan 2020 10:00:00 PDT"), T_2020_01_01);
	assert_int_equal(sent("Wed, 01 Jan 2020 10:00:00"), T_2020_01_01);
	assert_int_equal(sent("Wed, 01 Jan 2020"), T_2020_01_01);
	assert_int_equal(sent("Wed, 1 Jan 2020 10:00:00 +0100 (CET)"),
	    T_2020_01_01);
	assert_int_equal(sent("  Wed,\r\n 1 Jan 2020\r\n 10:00:00 +0100"),
	    T_2020_01_01);
	assert_int_equal(sent("(comment) Wed , 1 Jan 2020 10:00:00 +0100"),
	    T_2020_01_01);
	assert_int_equal(sent("Wed 1 Jan 2020 10:00:00 +0100"), T_2020_01_01);
	assert_int_equal(sent("wed, 1 JAN 2020 10:00:00 +0100"),
	    T_2020_01_01);
	assert_int_equal(sent("1-Jan-2020 10:00:00 +0100"), T_2020_01_01);
	assert_int_equal(sent("1 January 2020"), T_2020_01_01);
	/* Obsolete years. */
	assert_int_equal(sent("Wed, 1 Jan 20 10:00:00 +0100"), T_2020_01_01);
	assert_int_equal(sent("Thu, 1 Jan 70 00:00:00 +0000"), T_1970);
	assert_int_equal(sent("17 Jul 96 02:44:25 -0700"), T_1996_07_17);
	assert_int_equal(sent("17 Jul 49 02:44:25 -0700"),
	    date("17-Jul-2049"));
	assert_int_equal(sent("17 Jul 50 02:44:25 -0700"),
	    date("17-Jul-1950"));
	assert_int_equal(sent("17 Jul 096 02:44:25 -0700"), T_1996_07_17);
	assert_int_equal(sent("Tue, 29 Feb 2000 12:00:00 +0000"),
	    T_2000_02_29);
	assert_int_equal(sent("17 Jul 1996 02:44:60 -0700"), T_1996_07_17);

	bad_sent("");
	bad_sent("garbage");
	bad_sent("Wed,");
	bad_sent("Wed, 32 Jan 2020 10:00:00 +0100");
	bad_sent("Wed, 29 Feb 2019 10:00:00 +0100");
	bad_sent("Wed, 1 Foo 2020 10:00:00 +0100");
	bad_sent("Wed, 1 Janu 2020 10:00:00 +0100");
	bad_sent("Wed, 1 Jan 2 10:00:00 +0100");
	bad_sent("Wed, 1 Jan 20201 10:00:00 +0100");
	bad_sent("Wed, 1 Jan 2020 25:00:00 +0100");
	bad_sent("Wed, 1 Jan 2020 10:61:00 +0100");
	bad_sent("Wed, 1 Jan 2020 10:00:00 +01");
	bad_sent("Wed, 1 Jan 2020 10:00:00 +0170");
	bad_sent("Wed, 1 Jan 2020 10 +0100");
	bad_sent("Jan 1 2020");
	bad_sent("2020-01-01T10:00:00Z");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_datetime),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_rfc5322),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
