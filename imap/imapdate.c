/*
 * imapdate: IMAP "date" and "date-time" (RFC 3501 9) and the calendar day
 * of an RFC 5322 Date: field (RFC 5322 3.3, with the obsolete forms of
 * 4.3). Civil-date arithmetic is done here (days from 1970-01-01 in the
 * proleptic Gregorian calendar), so neither TZ nor the locale matter.
 */
#include "imap/imapdate.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define DAY_SECS	86400

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int64_t y, int m)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

/* Days from 1970-01-01 to y-m-d (m 1..12), proleptic Gregorian; the
 * era-based algorithm (400-year cycles of 146097 days, years starting in
 * March so the leap day comes last). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	if (m <= 2)
		y--;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void
civil_from_days(int64_t z, int64_t *y_r, int *m_r, int *d_r)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d_r = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m_r = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y_r = yoe + era * 400 + (*m_r <= 2);
}

/* Floor division of t by a day, for times before 1970 too. */
static int64_t
day_of(int64_t t)
{
	return t >= 0 ? t / DAY_SECS : -((-t + DAY_SECS - 1) / DAY_SECS);
}

/* A three-letter month name, any case, at s: 1..12, or 0. */
static int
month_of(const char *s)
{
	for (int i = 0; i < 12; i++)
		if (lower(s[0]) == lower(months[i][0]) &&
		    lower(s[1]) == lower(months[i][1]) &&
		    lower(s[2]) == lower(months[i][2]))
			return i + 1;
	return 0;
}

/* Exactly n digits at *sp: their value, advancing; -1 if not. */
static int
digits(const char **sp, int n)
{
	const char *s = *sp;
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*sp = s + n;
	return v;
}

/* "Mon-yyyy" after the day: 0 and the fields, advancing; or -1. */
static int
month_year(const char **sp, int *m_r, int *y_r)
{
	const char *s = *sp;

	if (*s != '-' || (*m_r = month_of(s + 1)) == 0 || s[4] != '-')
		return -1;
	s += 5;
	if ((*y_r = digits(&s, 4)) < 0)
		return -1;
	*sp = s;
	return 0;
}

int
imap_date_parse(const char *s, time_t *day_r)
{
	int d, m, y;

	if (!is_digit(s[0]))
		return -1;
	if (is_digit(s[1])) {
		d = (s[0] - '0') * 10 + (s[1] - '0');
		s += 2;
	} else {
		d = s[0] - '0';
		s++;
	}
	if (month_year(&s, &m, &y) < 0 || *s != '\0')
		return -1;
	if (d < 1 || d > month_days(y, m))
		return -1;
	*day_r = (time_t)(days_from_civil(y, m, d) * DAY_SECS);
	return 0;
}

int
imap_datetime_parse(const char *s, time_t *t_r)
{
	int d, m, y, hh, mm, ss, zh, zm, sign;
	int64_t t;

	/* date-day-fixed: SP DIGIT / 2DIGIT; a lone digit is tolerated. */
	if (s[0] == ' ' && is_digit(s[1])) {
		d = s[1] - '0';
		s += 2;
	} else if (is_digit(s[0]) && is_digit(s[1])) {
		d = (s[0] - '0') * 10 + (s[1] - '0');
		s += 2;
	} else if (is_digit(s[0])) {
		d = s[0] - '0';
		s++;
	} else
		return -1;
	if (month_year(&s, &m, &y) < 0 || *s++ != ' ')
		return -1;
	if ((hh = digits(&s, 2)) < 0 || *s++ != ':' ||
	    (mm = digits(&s, 2)) < 0 || *s++ != ':' ||
	    (ss = digits(&s, 2)) < 0 || *s++ != ' ')
		return -1;
	if (*s != '+' && *s != '-')
		return -1;
	sign = *s++ == '-' ? -1 : 1;
	if ((zh = digits(&s, 2)) < 0 || (zm = digits(&s, 2)) < 0 ||
	    *s != '\0')
		return -1;
	if (d < 1 || d > month_days(y, m) || hh > 23 || mm > 59 || ss > 60 ||
	    zh > 23 || zm > 59)
		return -1;
	t = days_from_civil(y, m, d) * DAY_SECS + hh * 3600 + mm * 60 + ss;
	t -= sign * (zh * 3600 + zm * 60);
	*t_r = (time_t)t;
	return 0;
}

/* v (>= 0) as exactly n digits, zero-padded, at p. */
static void
put_num(char *p, int v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

char *
imap_datetime_format(time_t t, long tz_secs, char buf[IMAP_DATETIME_LEN])
{
	/* 0000-01-01 00:00:00 and 9999-12-31 23:59:59 UTC. */
	const int64_t tmin = -62167219200LL, tmax = 253402300799LL;
	int64_t local, y, days, secs;
	long tz_min;
	int m, d;

	if (tz_secs > 23 * 3600 + 59 * 60)
		tz_secs = 23 * 3600 + 59 * 60;
	if (tz_secs < -(23 * 3600 + 59 * 60))
		tz_secs = -(23 * 3600 + 59 * 60);
	tz_min = tz_secs / 60;
	local = (int64_t)t + tz_min * 60;
	if (local < tmin)
		local = tmin;
	if (local > tmax)
		local = tmax;
	days = day_of(local);
	secs = local - days * DAY_SECS;
	civil_from_days(days, &y, &m, &d);
	put_num(buf, d, 2);
	buf[2] = '-';
	memcpy(buf + 3, months[m - 1], 3);
	buf[6] = '-';
	put_num(buf + 7, (int)y, 4);
	buf[11] = ' ';
	put_num(buf + 12, (int)(secs / 3600), 2);
	buf[14] = ':';
	put_num(buf + 15, (int)(secs / 60 % 60), 2);
	buf[17] = ':';
	put_num(buf + 18, (int)(secs % 60), 2);
	buf[20] = ' ';
	buf[21] = tz_min < 0 ? '-' : '+';
	if (tz_min < 0)
		tz_min = -tz_min;
	put_num(buf + 22, (int)(tz_min / 60), 2);
	put_num(buf + 24, (int)(tz_min % 60), 2);
	buf[26] = '\0';
	return buf;
}

/* Skip blanks, line breaks and (nested) comments. */
static const char *
skip_cfws(const char *s)
{
	int depth = 0;

	for (; *s != '\0'; s++) {
		if (depth > 0) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			else if (*s == '(')
				depth++;
			else if (*s == ')')
				depth--;
		} else if (*s == '(')
			depth++;
		else if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			break;
	}
	return s;
}

/* Up to max digits at *sp (at least one): the value and count, or -1. */
static int
number(const char **sp, int max, int *ndigits_r)
{
	const char *s = *sp;
	int v = 0, n = 0;

	while (n < max && is_digit(s[n])) {
		v = v * 10 + (s[n] - '0');
		n++;
	}
	if (n == 0 || is_digit(s[n]))
		return -1;
	*sp = s + n;
	if (ndigits_r != NULL)
		*ndigits_r = n;
	return v;
}

/* Letters at s: their count. */
static size_t
word_len(const char *s)
{
	size_t n = 0;

	while (is_alpha(s[n]))
		n++;
	return n;
}

/* The time "hh:mm[:ss]" and zone, validated: 0, or -1. */
static int
rfc5322_time_zone(const char *s)
{
	int hh, mm, ss = 0, zh, zm;
	size_t n;

	if ((hh = number(&s, 2, NULL)) < 0)
		return -1;
	s = skip_cfws(s);
	if (*s++ != ':')
		return -1;
	s = skip_cfws(s);
	if ((mm = number(&s, 2, NULL)) < 0)
		return -1;
	s = skip_cfws(s);
	if (*s == ':') {
		s = skip_cfws(s + 1);
		if ((ss = number(&s, 2, NULL)) < 0)
			return -1;
	}
	if (hh > 23 || mm > 59 || ss > 60)
		return -1;
	s = skip_cfws(s);
	if (*s == '+' || *s == '-') {
		s++;
		if ((zh = digits(&s, 2)) < 0 || (zm = digits(&s, 2)) < 0 ||
		    is_digit(*s) || zm > 59)
			return -1;
		(void)zh;
	} else if ((n = word_len(s)) > 0) {
		/* UT, GMT, Z, EST..PDT, military letters: RFC 5322 4.3 says
		 * the unknown ones mean -0000; only the day matters here, so
		 * any name will do, but not junk glued to it. */
		if (n > 5 || is_digit(s[n]))
			return -1;
	}
	/* Whatever follows (comments, junk) is ignored. */
	return 0;
}

int
imap_rfc5322_day(const char *value, time_t *day_r)
{
	const char *s = skip_cfws(value);
	int d, m, y, ny;
	size_t n;

	/* Optional day-of-week, with or without its comma. */
	if ((n = word_len(s)) > 0) {
		if (n < 3)
			return -1;
		s = skip_cfws(s + n);
		if (*s == ',')
			s = skip_cfws(s + 1);
	} else if (*s == ',')
		return -1;
	if ((d = number(&s, 2, NULL)) < 0)
		return -1;
	/* "1 Jan 2020", also the "1-Jan-2020" of some broken mailers. */
	if (*s == '-')
		s++;
	else
		s = skip_cfws(s);
	if ((n = word_len(s)) < 3 || (m = month_of(s)) == 0)
		return -1;
	/* A full month name must be that month's. */
	if (n > 3) {
		static const char *full[12] = {
			"january", "february", "march", "april", "may", "june",
			"july", "august", "september", "october", "november",
			"december",
		};

		if (n != strlen(full[m - 1]))
			return -1;
		for (size_t i = 0; i < n; i++)
			if (lower(s[i]) != full[m - 1][i])
				return -1;
	}
	s += n;
	if (*s == '-')
		s++;
	else
		s = skip_cfws(s);
	if ((y = number(&s, 4, &ny)) < 0 || ny == 1)
		return -1;
	if (ny == 2)
		y += y < 50 ? 2000 : 1900;
	else if (ny == 3)
		y += 1900;
	if (d < 1 || d > month_days(y, m))
		return -1;
	s = skip_cfws(s);
	if (is_digit(*s) && rfc5322_time_zone(s) < 0)
		return -1;
	*day_r = (time_t)(days_from_civil(y, m, d) * DAY_SECS);
	return 0;
}
