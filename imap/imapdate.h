/*
 * imapdate: IMAP dates (RFC 3501 9): "date" for SEARCH (d-Mon-yyyy, also
 * quoted by the caller's astring) and "date-time" for APPEND and
 * INTERNALDATE ("dd-Mon-yyyy hh:mm:ss +zzzz", day space-padded or not).
 */
#ifndef RMAIL_IMAP_IMAPDATE_H
#define RMAIL_IMAP_IMAPDATE_H

#include <stddef.h>
#include <time.h>

#define IMAP_DATETIME_LEN	27	/* "dd-Mon-yyyy hh:mm:ss +zzzz" + NUL */

/* "1-Feb-1994" (1 or 2 digit day, month any case). 0 and *day_r set to
 * that day's 00:00:00 UTC as a time_t; -1 when malformed or impossible. */
int	 imap_date_parse(const char *s, time_t *day_r);
/* "17-Jul-1996 02:44:25 -0700" (first char may be a space). 0 and *t_r,
 * or -1. */
int	 imap_datetime_parse(const char *s, time_t *t_r);
/* Format t in zone offset tz_secs (e.g. 0 for +0000) into buf, without
 * quotes: "17-Jul-1996 02:44:25 -0700" (day zero- or space-padded as
 * Dovecot: two digits, zero-padded). Returns buf. */
char	*imap_datetime_format(time_t t, long tz_secs,
	    char buf[IMAP_DATETIME_LEN]);
/*
 * The date (day at 00:00 UTC, as imap_date_parse gives) of an RFC 5322
 * Date: header value, in the header's own zone (RFC 3501 SENTBEFORE etc.
 * compare dates "disregarding time and timezone"). -1 when unparseable.
 */
int	 imap_rfc5322_day(const char *value, time_t *day_r);

#endif
