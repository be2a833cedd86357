/*
 * bounce: delivery status notifications (RFC 3464) for the relay, for a
 * message that failed (a bounce) or is still waiting (a delay warning).
 *
 * The notification is a complete message, CRLF line ends, 7-bit unless an
 * address or the original header block holds UTF-8:
 *
 *	From: "Mail Delivery System" <MAILER-DAEMON@HOSTNAME>
 *	To: <SENDER>
 *	Subject: Undelivered Mail Returned to Sender
 *	    (or Delayed Mail (still being retried) when no recipient failed)
 *	Date, Message-ID, Auto-Submitted: auto-replied (RFC 3834 5),
 *	MIME-Version: 1.0
 *	Content-Type: multipart/report; report-type=delivery-status (RFC 6522)
 *	  1. text/plain: what happened, in plain words
 *	  2. message/delivery-status: Reporting-MTA, X-Rmail-Queue-ID,
 *	     Arrival-Date, then per recipient Original-Recipient,
 *	     Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code,
 *	     Last-Attempt-Date, Will-Retry-Until (RFC 3464 2.2, 2.3)
 *	  3. text/rfc822-headers: the original header block, never its body
 *
 * Text that came from a remote server (replies, host names) is cleaned:
 * line breaks and tabs become spaces, runs of blanks one space, other
 * control and 8-bit bytes '?'. Diagnostic-Code is folded (RFC 5322 2.2.3)
 * into lines of at most 78 characters; a word longer than a line is split.
 *
 * The bounce is sent with the null reverse-path (RFC 5321 4.5.5), so it can
 * never cause another: see bounce_wanted().
 */
#ifndef RMAIL_RELAY_BOUNCE_H
#define RMAIL_RELAY_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* The relay bounces a message with more Received: fields than this, as a
 * mail loop (RFC 5321 6.3 suggests 100; Postfix uses 50). */
#define BOUNCE_MAX_RECEIVED	50
/* Most bytes of the original header block included; past this it is cut
 * at a line end (Postfix: header_size_limit 102400). */
#define BOUNCE_HEADERS_MAX	(100u * 1024)
/* Most bytes of one diagnostic kept (after cleaning). */
#define BOUNCE_DIAG_MAX		2048

enum bounce_action {
	BOUNCE_FAILED,		/* permanent failure or expiry: returned */
	BOUNCE_DELAYED,		/* still being retried: a warning */
};

struct bounce_rcpt {
	const char		*orig_rcpt;	/* as the client gave it in RCPT
						 * TO; NULL: not known */
	const char		*final_rcpt;	/* the address tried */
	enum bounce_action	 action;
	const char		*status;	/* "5.1.1", RFC 3463; NULL: 5.0.0
						 * (failed) or 4.0.0 (delayed) */
	const char		*remote_mta;	/* host that answered; NULL: none */
	/*
	 * The remote reply, e.g. "550 5.1.1 <x@y>: No such user" (multi-line
	 * replies may be given with their line breaks), written as
	 * "Diagnostic-Code: smtp; ...". Without a reply (DNS failure,
	 * connection refused, expiry) it is our own text, given with
	 * diag_type "X-Rmail". NULL: no Diagnostic-Code.
	 */
	const char		*diagnostic;
	const char		*diag_type;	/* NULL: "smtp" */
	time_t			 last_attempt;	/* 0: no Last-Attempt-Date */
	time_t			 retry_until;	/* delayed: Will-Retry-Until; 0: none */
};

struct bounce_info {
	const char		*hostname;	/* ours: Reporting-MTA, From: */
	const char		*sender;	/* the original envelope sender,
						 * with or without <> */
	const char		*queue_id;	/* NULL: none */
	time_t			 arrival;	/* when it was queued */
	time_t			 now;		/* Date:; 0: the clock's */
	const struct bounce_rcpt *rcpts;	/* at least one */
	size_t			 nrcpts;
	/* The original message, without the queue's Return-Path line: only
	 * its header block (up to the first empty line) is used. */
	const char		*msg;
	size_t			 msglen;
};

/*
 * Compose the notification. Returns a new NUL-terminated allocation
 * (caller frees) and its length in len_r (may be NULL). Never fails
 * (allocation failure aborts); info->hostname, info->sender and the
 * rcpts' final_rcpt must not be NULL, and bounce_wanted(info->sender)
 * should hold. Keeps a counter for unique boundaries and Message-IDs:
 * one thread (the loop's) only.
 */
char	*bounce_compose(const struct bounce_info *info, size_t *len_r);

/*
 * May a notification be sent to sender (an envelope reverse-path, with or
 * without its angle brackets)? Never to the null sender "" or "<>"
 * (RFC 5321 4.5.5, RFC 3464 2), which is what bounces carry themselves.
 * NULL is treated as the null sender.
 */
bool	 bounce_wanted(const char *sender);

/*
 * Received: fields in the header block of msg (up to the first empty
 * line, or len), for the mail loop rule (> BOUNCE_MAX_RECEIVED bounces).
 * Case-insensitive; blanks before the colon are allowed (RFC 5322 4.5).
 */
size_t	 bounce_count_received(const char *msg, size_t len);

#endif
