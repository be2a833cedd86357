/*
 * smtp_private: what the files of smtp/ share. Never included from another
 * folder.
 *
 *	smtp_server.c	listener glue, session life cycle, the input pump
 *	session.c	the state machine and the commands (RFC 5321)
 *	data.c		DATA (dot-stuffed, CRLF-only) and BDAT byte readers
 *	auth.c		AUTH PLAIN/LOGIN (RFC 4954) and failure throttling
 *	message.c	end of message: checks, added headers, queue_submit
 */
#ifndef RMAIL_SMTP_PRIVATE_H
#define RMAIL_SMTP_PRIVATE_H

#include "smtp/smtp.h"
#include "core/buf.h"
#include "core/listener.h"
#include "relay/route.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct conn;

#define SMTP_MAX_ERRORS		10	/* bad commands before 421 */
/* NOOP, RSET, VRFY and HELP a session may send between accepted messages
 * before each further one counts as an error (Postfix's junk limit): a
 * client cannot hold a connection for ever with commands that do nothing. */
#define SMTP_MAX_JUNK		100
#define SMTP_MAX_RCPTS		100	/* RCPT accepted per message (452 4.5.3) */
#define SMTP_HELO_MAX		255	/* HELO/EHLO argument kept (longer: 501) */
#define SMTP_HEADROOM		2048	/* room before the body for added headers */

struct smtp_server {
	struct rmail_env	*env;
	enum conf_service	 svc;
	struct listen_service	 ls;
	char			 busy_ip[160];
	char			 busy_all[160];
};

/* SMTP states (RFC 5321 4.1.4 command order). */
enum smtp_state {
	SMTP_ST_GREET,		/* no EHLO/HELO yet (again after STARTTLS) */
	SMTP_ST_HELO,		/* greeted: MAIL may start a transaction */
	SMTP_ST_MAIL,		/* MAIL accepted, no recipient yet */
	SMTP_ST_RCPT,		/* at least one recipient: DATA or BDAT next */
	SMTP_ST_CHUNK,		/* BDAT chunks taken, LAST not yet (RFC 3030) */
};

/* What the next input bytes are. */
enum smtp_input {
	SMTP_IN_CMD,		/* a command line */
	SMTP_IN_SASL,		/* an AUTH response line */
	SMTP_IN_DATA,		/* DATA content up to CRLF.CRLF */
	SMTP_IN_BDAT,		/* bdat_left bytes of a BDAT chunk */
};

/* The message being received: body bytes after SMTP_HEADROOM. */
struct smtp_body {
	struct buf	 b;
	uint64_t	 size;		/* body bytes seen, stored or not */
	uint64_t	 max;		/* past it: too_big, nothing more stored */
	bool		 too_big;
};

/*
 * DATA reader (RFC 5321 4.1.1.4, 4.5.2): undoes dot-stuffing and ends
 * only at CRLF "." CRLF. A bare CR or LF anywhere sets bare (the message
 * is then refused) but never ends a line for the terminator's purposes,
 * so "\n.\n", "\n.\r\n" and "\r\n.\n" can never end or split a message.
 */
enum smtp_dot_state {
	SMTP_DOT_BOL,		/* after CRLF (or at the start) */
	SMTP_DOT_MID,		/* inside a line */
	SMTP_DOT_CR,		/* inside a line, after CR */
	SMTP_DOT_DOT,		/* a '.' first on the line */
	SMTP_DOT_DOTCR,		/* ".\r" first on the line */
};

struct smtp_dot {
	enum smtp_dot_state	 state;
	bool			 bare;	/* a bare CR or LF was seen */
};

/* BDAT content check: CRLF line ends only, across chunk boundaries. */
struct smtp_crlf {
	bool	 prev_cr;
	bool	 bare;
};

enum smtp_sasl {
	SMTP_SASL_NONE,
	SMTP_SASL_PLAIN,	/* 334 sent, awaiting the PLAIN response */
	SMTP_SASL_LOGIN_USER,	/* AUTH LOGIN: awaiting the user name */
	SMTP_SASL_LOGIN_PASS,	/* AUTH LOGIN: awaiting the password */
};

struct smtp_session {
	struct smtp_server	*srv;
	struct conn		*conn;
	enum smtp_state		 state;
	enum smtp_input		 input;
	struct buf		 in;	/* command bytes; input taken past a message end */
	bool			 skipping;	/* dropping the rest of a too-long line */
	unsigned		 errors;	/* 5xx replies; 421 at SMTP_MAX_ERRORS */
	unsigned		 junk;		/* see SMTP_MAX_JUNK */
	bool			 esmtp;		/* EHLO rather than HELO */
	bool			 stopping;	/* server stop: goodbye after this transaction */
	char			*helo;
	char			*auth_user;	/* canonical address once authenticated */

	/* AUTH in progress */
	bool			 busy;		/* password check or delay: input waits */
	enum smtp_sasl		 sasl;
	char			*sasl_user;	/* AUTH LOGIN user name */
	char			*auth_try;	/* account being checked (throttle key) */
	bool			 auth_ok;	/* result held during a delay */
	void			*delay;		/* ev_timer for a throttle delay */

	/* The transaction (MAIL .. end of message) */
	char			*mail_from;	/* normalised; "" null sender */
	bool			 smtputf8;
	struct route_list	 rcpts;		/* every target, deduplicated */
	size_t			 nrcpt;		/* RCPT commands accepted */
	char			*first_rcpt;	/* for Received "for" with one RCPT */
	struct smtp_body	 body;
	struct smtp_dot		 dot;
	struct smtp_crlf	 crlf;
	uint64_t		 bdat_left;	/* chunk bytes still to read */
	uint64_t		 bdat_chunk;	/* this chunk's size */
	bool			 bdat_last;
	const char		*bdat_reject;	/* reply after discarding the chunk */
};

/* smtp_server.c */
const char	*smtp_hostname(const struct smtp_session *);
bool		 smtp_is_submission(const struct smtp_session *);
/* Reply and count a client error (421 and close past the limit). */
void		 smtp_error(struct smtp_session *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
void		 smtp_reply(struct smtp_session *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Process buffered input until more is needed (or busy, or closing). */
void		 smtp_pump(struct smtp_session *);
void		 smtp_set_busy(struct smtp_session *, bool);

/* session.c */
void		 smtp_command(struct smtp_session *, char *line);
/* Forget the transaction (RSET, end of message, EHLO, STARTTLS). */
void		 smtp_txn_reset(struct smtp_session *);
/* Forget everything up to the greeting (RFC 3207 4.2). */
void		 smtp_session_reset(struct smtp_session *);

/* data.c */
void		 smtp_dot_init(struct smtp_dot *);
/*
 * Feed n DATA bytes. Unstuffed content goes to body. Returns the bytes
 * consumed; *done_r is true when they ended with the terminating
 * CRLF.CRLF (the bytes after it are not consumed).
 */
size_t		 smtp_dot_feed(struct smtp_dot *, const uint8_t *, size_t n,
		    struct smtp_body *, bool *done_r);
void		 smtp_crlf_feed(struct smtp_crlf *, const uint8_t *, size_t n);
void		 smtp_body_init(struct smtp_body *, uint64_t max);
void		 smtp_body_add(struct smtp_body *, const void *, size_t);
void		 smtp_body_free(struct smtp_body *);
/* Body bytes (stored ones; valid unless too_big). */
const uint8_t	*smtp_body_data(const struct smtp_body *);
void		 cmd_data(struct smtp_session *, char *args);
void		 cmd_bdat(struct smtp_session *, char *args);
/* Consume n input bytes in DATA or BDAT mode; returns bytes used. */
size_t		 smtp_data_input(struct smtp_session *, const uint8_t *, size_t n);

/* auth.c */
void		 cmd_auth(struct smtp_session *, char *args);
void		 smtp_sasl_line(struct smtp_session *, char *line, size_t len);
/* The session is going away: stop a pending delay. */
void		 smtp_auth_cancel(struct smtp_session *);

/* message.c */
/* The message is complete (bare: a bare CR/LF was seen): answer it. */
void		 smtp_message_end(struct smtp_session *, bool bare);

#endif
