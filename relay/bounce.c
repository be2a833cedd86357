/*
 * bounce: RFC 3464 delivery status notifications. See bounce.h.
 *
 * The three parts are written into their own buffers first, so that the
 * boundary can be chosen to appear in none of them (the original headers
 * and remote replies are not ours), then joined under the top header.
 */
#include "relay/bounce.h"

#include "core/buf.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* RFC 5322 2.1.1: lines SHOULD stay within 78 characters, MUST within 998. */
#define LINE_SOFT	78
#define LINE_HARD	998
/* The human-readable part is wrapped a little shorter. */
#define TEXT_WIDTH	76
/* Room for any RFC 5322 date fmt_date() writes (years past 9999 too). */
#define DATE_MAX	128

/* Buffers here grow without a cap: every input is bounded already. */
static void
buf_open(struct buf *b)
{
	buf_init(b, SIZE_MAX / 2);
}

/* The bytes of b; never NULL, even before anything was appended. */
static const char *
bdata(const struct buf *b)
{
	return b->len > 0 ? (const char *)buf_head(b) : "";
}

static void
put(struct buf *b, const char *s)
{
	(void)buf_append(b, s, strlen(s));
}

static void
putn(struct buf *b, const char *s, size_t n)
{
	(void)buf_append(b, s, n);
}

static void putf(struct buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
putf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)buf_vappendf(b, fmt, ap);
	va_end(ap);
}

static bool
has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/*
 * Remote text made safe for a 7-bit header field: CR, LF and tabs become
 * spaces, runs of spaces one, leading and trailing ones go; other control
 * and 8-bit bytes become '?'. At most BOUNCE_DIAG_MAX bytes ("..." marks a
 * cut). A new allocation.
 */
static char *
clean_ascii(const char *s)
{
	size_t n = 0, max = BOUNCE_DIAG_MAX;
	char *r = xmalloc(max + 4);
	bool cut = false;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (n > 0 && r[n - 1] != ' ')
				c = ' ';
			else
				continue;
		} else if (c < 0x20 || c >= 0x7f) {
			c = '?';
		}
		if (n == max) {
			cut = true;
			break;
		}
		r[n++] = (char)c;
	}
	while (n > 0 && r[n - 1] == ' ')
		n--;
	if (cut) {
		memcpy(r + n, "...", 3);
		n += 3;
	}
	r[n] = '\0';
	return r;
}

/*
 * Length of the UTF-8 sequence at s (NUL-terminated), and its code point
 * in cp_r; 0 when the bytes there are not valid UTF-8 (RFC 3629).
 */
static size_t
utf8_seq(const unsigned char *s, uint32_t *cp_r)
{
	uint32_t cp, min;
	size_t n;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

/* An address for the human text and To:: valid UTF-8 kept, control
 * bytes, blanks and invalid bytes made '?'. A new allocation. */
static char *
clean_addr(const char *s)
{
	char *r = xmalloc(strlen(s) + 1), *o = r;
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		uint32_t cp;
		size_t n = utf8_seq(p, &cp);

		if (n == 0 || cp < 0x20 || cp == 0x7f) {
			*o++ = '?';
			p += n == 0 ? 1 : n;
			continue;
		}
		memcpy(o, p, n);
		o += n;
		p += n;
	}
	*o = '\0';
	return r;
}

/*
 * An address-type and address for Original- and Final-Recipient: printable
 * ASCII as "rfc822; ADDR"; anything else as "utf-8; " and the
 * utf-8-addr-xtext form of RFC 6533 3 (the field stays 7-bit: '+', '=',
 * '\', blanks, controls and non-ASCII characters become \x{HEX}; invalid
 * UTF-8 bytes U+FFFD).
 */
static void
put_addr_type(struct buf *b, const char *addr)
{
	const unsigned char *p = (const unsigned char *)addr;
	bool plain = true;

	for (const unsigned char *q = p; *q != '\0'; q++)
		if (*q < 0x20 || *q >= 0x7f)
			plain = false;
	if (plain) {
		putf(b, "rfc822; %s", addr);
		return;
	}
	put(b, "utf-8; ");
	while (*p != '\0') {
		uint32_t cp;
		size_t n = utf8_seq(p, &cp);

		if (n == 0) {
			cp = 0xfffd;
			n = 1;
		}
		if (cp > 0x20 && cp < 0x7f && cp != '+' && cp != '=' &&
		    cp != '\\')
			putn(b, (const char *)p, 1);
		else
			putf(b, "\\x{%X}", (unsigned)cp);
		p += n;
	}
}

/* RFC 5322 3.3 date-time, in UTC, independent of the locale. */
static void
fmt_date(time_t t, char *out, size_t outlen)
{
	static const char days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		/* Out of range: the epoch rather than garbage. */
		memset(&tm, 0, sizeof(tm));
		tm.tm_mday = 1;
		tm.tm_year = 70;
		tm.tm_wday = 4;
	}
	snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void
put_date_field(struct buf *b, const char *name, time_t t)
{
	char date[DATE_MAX];

	fmt_date(t, date, sizeof(date));
	putf(b, "%s: %s\r\n", name, date);
}

/* A status code of RFC 3463 ("5.1.1"), class 2, 4 or 5. */
static bool
valid_status(const char *s)
{
	size_t n;

	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
	    s[1] != '.')
		return false;
	s += 2;
	for (int part = 0; part < 2; part++) {
		n = strspn(s, "0123456789");
		if (n < 1 || n > 3)
			return false;
		s += n;
		if (part == 0 && *s++ != '.')
			return false;
	}
	return *s == '\0';
}

/*
 * A header field "NAME: WORDS" folded (RFC 5322 2.2.3) before the spaces
 * of words (single-spaced, as clean_ascii() leaves it) so that no line
 * passes LINE_SOFT; a word too long for a line of its own is split.
 * Unfolding gives back "NAME: WORDS" exactly, unless a word was split.
 */
static void
put_folded(struct buf *b, const char *name, const char *words)
{
	size_t col;

	put(b, name);
	put(b, ":");
	col = strlen(name) + 1;
	while (*words != '\0') {
		size_t wlen = strcspn(words, " ");

		if (col + 1 + wlen <= LINE_SOFT) {
			put(b, " ");
			putn(b, words, wlen);
			col += 1 + wlen;
		} else if (col > 1) {
			/* The space that follows becomes the fold's WSP. */
			put(b, "\r\n");
			col = 0;
			continue;
		} else {
			/* Alone on a continuation line and still too long. */
			wlen = LINE_SOFT - 1;
			put(b, " ");
			putn(b, words, wlen);
			col = LINE_SOFT;
			words += wlen;
			continue;
		}
		words += wlen;
		if (*words == ' ')
			words++;
	}
	put(b, "\r\n");
}

/*
 * Plain text wrapped at TEXT_WIDTH: the first line continues at column
 * col, the next ones start with indent. Words longer than a line are
 * split. Ends with CRLF.
 */
static void
put_wrapped(struct buf *b, size_t col, const char *indent, const char *words)
{
	size_t ilen = strlen(indent);
	bool lead = false;	/* a word is on this line: a space goes first */

	while (*words == ' ')
		words++;
	while (*words != '\0') {
		size_t wlen = strcspn(words, " ");
		size_t need = (lead ? 1 : 0) + wlen;

		if (col + need > TEXT_WIDTH) {
			if (lead) {
				putf(b, "\r\n%s", indent);
				col = ilen;
				lead = false;
				continue;
			}
			wlen = TEXT_WIDTH > col ? TEXT_WIDTH - col : 1;
			need = wlen;
		}
		if (lead)
			put(b, " ");
		putn(b, words, wlen);
		col += need;
		lead = true;
		words += wlen;
		while (*words == ' ')
			words++;
	}
	put(b, "\r\n");
}

/*
 * The header block of msg: up to, not including, the empty line that ends
 * it (or all of msg), cut at a line end within BOUNCE_HEADERS_MAX.
 */
static size_t
header_block(const char *msg, size_t len)
{
	size_t pos = 0, lastend = 0;

	while (pos < len) {
		const char *nl = memchr(msg + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - msg) + 1 : len;
		size_t text = end - pos;

		if (text > 0 && msg[end - 1] == '\n')
			text--;
		if (text > 0 && msg[pos + text - 1] == '\r')
			text--;
		if (text == 0)
			break;		/* the empty line */
		if (end > BOUNCE_HEADERS_MAX)
			break;
		lastend = end;
		pos = end;
	}
	return pos >= len ? len : lastend;
}

/*
 * The original header block for text/rfc822-headers: line ends made CRLF
 * (a bare CR or LF is a line end), NUL bytes '?', a line that passes
 * LINE_HARD broken into continuation lines.
 */
static void
put_headers(struct buf *b, const char *h, size_t len)
{
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		char c = h[i];

		if (c == '\r' || c == '\n') {
			if (c == '\r' && i + 1 < len && h[i + 1] == '\n')
				i++;
			put(b, "\r\n");
			col = 0;
			continue;
		}
		if (col == LINE_HARD - 1) {
			put(b, "\r\n ");
			col = 1;
		}
		if (c == '\0')
			c = '?';
		putn(b, &c, 1);
		col++;
	}
	if (col > 0)
		put(b, "\r\n");
}

static const char *
rcpt_status(const struct bounce_rcpt *r)
{
	if (valid_status(r->status))
		return r->status;
	return r->action == BOUNCE_FAILED ? "5.0.0" : "4.0.0";
}

/* Part 2: message/delivery-status (RFC 3464 2). */
static void
put_dsn(struct buf *b, const struct bounce_info *info)
{
	char *s;

	s = clean_ascii(info->hostname);
	putf(b, "Reporting-MTA: dns; %s\r\n", s);
	free(s);
	if (info->queue_id != NULL) {
		/* An extension field (RFC 3464 2.4), as Postfix's. */
		s = clean_ascii(info->queue_id);
		putf(b, "X-Rmail-Queue-ID: %s\r\n", s);
		free(s);
	}
	if (info->arrival != 0)
		put_date_field(b, "Arrival-Date", info->arrival);
	for (size_t i = 0; i < info->nrcpts; i++) {
		const struct bounce_rcpt *r = &info->rcpts[i];

		put(b, "\r\n");
		if (r->orig_rcpt != NULL) {
			put(b, "Original-Recipient: ");
			put_addr_type(b, r->orig_rcpt);
			put(b, "\r\n");
		}
		put(b, "Final-Recipient: ");
		put_addr_type(b, r->final_rcpt);
		put(b, "\r\n");
		putf(b, "Action: %s\r\n",
		    r->action == BOUNCE_FAILED ? "failed" : "delayed");
		putf(b, "Status: %s\r\n", rcpt_status(r));
		if (r->remote_mta != NULL) {
			s = clean_ascii(r->remote_mta);
			putf(b, "Remote-MTA: dns; %s\r\n", s);
			free(s);
		}
		if (r->diagnostic != NULL) {
			char *d = clean_ascii(r->diagnostic);
			char *t = clean_ascii(r->diag_type != NULL ?
			    r->diag_type : "smtp");

			s = xasprintf("%s; %s", t, d);
			put_folded(b, "Diagnostic-Code", s);
			free(s);
			free(t);
			free(d);
		}
		if (r->last_attempt != 0)
			put_date_field(b, "Last-Attempt-Date", r->last_attempt);
		if (r->action == BOUNCE_DELAYED && r->retry_until != 0)
			put_date_field(b, "Will-Retry-Until", r->retry_until);
	}
}

/* Part 1: what happened, for a person. */
static void
put_text(struct buf *b, const struct bounce_info *info, bool failed,
    bool delayed)
{
	char *s = clean_ascii(info->hostname);

	putf(b, "This is the mail delivery system at %s.\r\n\r\n", s);
	free(s);
	if (failed)
		put(b, "Your message could not be delivered to one or more "
		    "recipients.\r\nThe mail system gave up on them: the "
		    "message will not be sent to them\r\nagain.\r\n\r\n");
	if (delayed)
		put(b, "Your message has not been delivered yet to one or more "
		    "recipients.\r\nThis is only a warning: delivery is still "
		    "being tried, and you do not\r\nneed to send the message "
		    "again.\r\n\r\n");
	put(b, "The headers of your message are attached.\r\n");
	for (size_t i = 0; i < info->nrcpts; i++) {
		const struct bounce_rcpt *r = &info->rcpts[i];
		char *addr = clean_addr(r->final_rcpt), *line;

		put(b, "\r\n");
		if (r->orig_rcpt != NULL && strcmp(r->orig_rcpt,
		    r->final_rcpt) != 0) {
			char *orig = clean_addr(r->orig_rcpt);

			line = xasprintf("<%s> (sent to <%s>): %s", addr, orig,
			    r->action == BOUNCE_FAILED ? "delivery failed." :
			    "not delivered yet.");
			free(orig);
		} else {
			line = xasprintf("<%s>: %s", addr,
			    r->action == BOUNCE_FAILED ? "delivery failed." :
			    "not delivered yet.");
		}
		put_wrapped(b, 0, "    ", line);
		free(line);
		free(addr);
		if (r->diagnostic != NULL) {
			char *d = clean_ascii(r->diagnostic);

			if (r->remote_mta != NULL &&
			    (r->diag_type == NULL ||
			    ascii_casecmp(r->diag_type, "smtp") == 0)) {
				char *h = clean_ascii(r->remote_mta);

				line = xasprintf("The mail server %s answered: %s",
				    h, d);
				free(h);
			} else {
				line = xasprintf("Reason: %s", d);
			}
			put(b, "    ");
			put_wrapped(b, 4, "    ", line);
			free(line);
			free(d);
		}
		if (r->action == BOUNCE_DELAYED && r->retry_until != 0) {
			char date[DATE_MAX];

			fmt_date(r->retry_until, date, sizeof(date));
			putf(b, "    Delivery will be tried until %s.\r\n", date);
		}
	}
}

static bool
mem_has(const struct buf *b, const char *needle)
{
	return memmem(bdata(b), b->len, needle, strlen(needle)) != NULL;
}

char *
bounce_compose(const struct bounce_info *info, size_t *len_r)
{
	static unsigned counter;
	struct buf text, dsn, hdrs, out;
	bool failed = false, delayed = false;
	char boundary[96], date[DATE_MAX], *to, *host, *qid, *r;
	size_t hlen;
	time_t now = info->now != 0 ? info->now : time(NULL);

	for (size_t i = 0; i < info->nrcpts; i++) {
		if (info->rcpts[i].action == BOUNCE_FAILED)
			failed = true;
		else
			delayed = true;
	}
	buf_open(&text);
	buf_open(&dsn);
	buf_open(&hdrs);
	buf_open(&out);
	put_text(&text, info, failed, delayed);
	put_dsn(&dsn, info);
	hlen = info->msg != NULL ? header_block(info->msg, info->msglen) : 0;
	put_headers(&hdrs, info->msg, hlen);

	host = clean_ascii(info->hostname);
	qid = clean_ascii(info->queue_id != NULL ? info->queue_id : "");
	/* Unique per host (time, process, a counter), and found in no part.
	 * At most 50 characters (RFC 2046 5.1.1 allows 70). */
	do {
		snprintf(boundary, sizeof(boundary), "=_rmail_%llx_%lx_%x",
		    (unsigned long long)now, (unsigned long)getpid(),
		    counter++);
	} while (mem_has(&text, boundary) || mem_has(&dsn, boundary) ||
	    mem_has(&hdrs, boundary));

	to = clean_addr(info->sender);
	if (to[0] == '<' && strlen(to) >= 2 && to[strlen(to) - 1] == '>') {
		memmove(to, to + 1, strlen(to) - 2);
		to[strlen(to) - 2] = '\0';
	}
	putf(&out, "From: \"Mail Delivery System\" <MAILER-DAEMON@%s>\r\n", host);
	putf(&out, "To: <%s>\r\n", to);
	putf(&out, "Subject: %s\r\n", failed ?
	    "Undelivered Mail Returned to Sender" :
	    "Delayed Mail (still being retried)");
	fmt_date(now, date, sizeof(date));
	putf(&out, "Date: %s\r\n", date);
	putf(&out, "Message-ID: <%s%s%s@%s>\r\n", qid, qid[0] != '\0' ? "." : "",
	    boundary + 2, host);
	put(&out, "Auto-Submitted: auto-replied\r\n");
	put(&out, "MIME-Version: 1.0\r\n");
	putf(&out, "Content-Type: multipart/report; report-type=delivery-status;"
	    "\r\n\tboundary=\"%s\"\r\n", boundary);
	if (has_8bit(bdata(&text), text.len) ||
	    has_8bit(bdata(&hdrs), hdrs.len))
		put(&out, "Content-Transfer-Encoding: 8bit\r\n");
	put(&out, "\r\nThis is a MIME-encapsulated message.\r\n");

	putf(&out, "\r\n--%s\r\n", boundary);
	put(&out, "Content-Description: Notification\r\n");
	if (has_8bit(bdata(&text), text.len))
		put(&out, "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n");
	else
		put(&out, "Content-Type: text/plain; charset=us-ascii\r\n");
	put(&out, "\r\n");
	putn(&out, bdata(&text), text.len);

	putf(&out, "\r\n--%s\r\n", boundary);
	put(&out, "Content-Description: Delivery report\r\n");
	put(&out, "Content-Type: message/delivery-status\r\n\r\n");
	putn(&out, bdata(&dsn), dsn.len);

	putf(&out, "\r\n--%s\r\n", boundary);
	put(&out, "Content-Description: Undelivered Message Headers\r\n");
	put(&out, "Content-Type: text/rfc822-headers\r\n");
	if (has_8bit(bdata(&hdrs), hdrs.len))
		put(&out, "Content-Transfer-Encoding: 8bit\r\n");
	put(&out, "\r\n");
	putn(&out, bdata(&hdrs), hdrs.len);
	putf(&out, "\r\n--%s--\r\n", boundary);

	r = xstrndup(bdata(&out), out.len);
	if (len_r != NULL)
		*len_r = out.len;
	free(to);
	free(qid);
	free(host);
	buf_release(&text);
	buf_release(&dsn);
	buf_release(&hdrs);
	buf_release(&out);
	return r;
}

bool
bounce_wanted(const char *sender)
{
	return sender != NULL && sender[0] != '\0' && strcmp(sender, "<>") != 0;
}

/* True when the line at p (n bytes, no line end) starts a Received:
 * field: the name, optional blanks (RFC 5322 4.5.3 obs), a colon. */
static bool
is_received(const char *p, size_t n)
{
	static const char name[] = "received";
	size_t i = sizeof(name) - 1;

	if (n < i || ascii_ncasecmp(p, name, i) != 0)
		return false;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

size_t
bounce_count_received(const char *msg, size_t len)
{
	size_t pos = 0, count = 0;

	while (pos < len) {
		const char *nl = memchr(msg + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - msg) + 1 : len;
		size_t n = end - pos;

		if (n > 0 && msg[pos + n - 1] == '\n')
			n--;
		if (n > 0 && msg[pos + n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		if (is_received(msg + pos, n))
			count++;
		pos = end;
	}
	return count;
}
