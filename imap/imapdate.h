/*
 * imapdate: IMAP dates (RFC 3501 9): "date" for SEARCH (d-Mon-yyyy; the
 * caller passes the astring's contents, quotes already removed) and
 * "date-time" for APPEND and INTERNALDATE ("dd-Mon-yyyy hh:mm:ss +zzzz").
 * Times are time_t seconds since 1970-01-01 00:00:00 UTC in the proleptic
 * Gregorian calendar, computed here without TZ or the locale.
 */
#ifndef RMAIL_IMAP_IMAPDATE_H
#define RMAIL_IMAP_IMAPDATE_H

#include <stddef.h>
#include <time.h>

#define IMAP_DATETIME_LEN	27	/* "dd-Mon-yyyy hh:mm:ss +zzzz" + NUL */

/*
 * "1-Feb-1994" or "01-Feb-1994": a 1 or 2 digit day, a three-letter month
 * in any case, a 4-digit year, nothing else. Returns 0 and *day_r = that
 * day at 00:00:00 UTC; -1 (*day_r untouched) when malformed or the day
 * does not exist in that month (leap years counted).
 */
int	 imap_date_parse(const char *s, time_t *day_r);
/*
 * "17-Jul-1996 02:44:25 -0700": the day two digits, space-padded
 * (" 7-Jul-...", RFC 3501) or, tolerated, a single digit; month any case;
 * hh 00-23, mm 00-59, ss 00-60; zone sign and 4 digits, hours 00-23,
 * minutes 00-59. Returns 0 and *t_r (the UTC instant), or -1 (*t_r
 * untouched) when malformed or out of range.
 */
int	 imap_datetime_parse(const char *s, time_t *t_r);
/*
 * Format t as seen in the zone tz_secs east of UTC (e.g. 3600 for +0100;
 * truncated to whole minutes, clamped to +-23:59) into buf, without
 * quotes: "17-Jul-1996 02:44:25 -0700", the day zero-padded to two digits
 * (valid date-day-fixed). Years outside 0000..9999 are clamped to the
 * first or last second of that range. Returns buf.
 */
char	*imap_datetime_format(time_t t, long tz_secs,
	    char buf[IMAP_DATETIME_LEN]);
/*
 * The calendar date written in an RFC 5322 Date: value (a C string, folded
 * or not), as 00:00 UTC of that date like imap_date_parse gives: the time
 * and zone are disregarded (RFC 3501 SENTBEFORE, SENTON, SENTSINCE).
 * Tolerant: optional day-of-week with or without its comma, comments and
 * extra blanks anywhere between tokens, "1-Jan-2020", full month names,
 * 2-digit years (< 50 is 20xx, else 19xx) and 3-digit years (+ 1900). A
 * time, when present, must be hh:mm[:ss] in range; the zone may be +-hhmm,
 * a name (UT, GMT, Z, EST, PDT, ...) or missing; anything after the zone
 * is ignored. Returns 0 and *day_r, or -1 when no valid date is found.
 */
int	 imap_rfc5322_day(const char *value, time_t *day_r);

#endif
