/*
 * conn: one client connection on the loop: a non-blocking socket, optional
 * TLS (implicit or STARTTLS), a capped input buffer read as CRLF lines or
 * raw bytes, an output buffer with back-pressure, progress deadlines, and
 * orderly or abortive close.
 *
 * The protocol supplies a conn_proto. Callbacks run on the loop thread;
 * the conn holds a reference across each, so a callback may close it.
 * conn_close() only marks: the socket closes once output is flushed (or at
 * once when aborting), and the protocol's on_free runs when the last
 * reference is dropped.
 */
#ifndef RMAIL_CONN_H
#define RMAIL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ev_loop;
struct conn;
struct tls_ctx;

struct conn_proto {
	/* Input is buffered: consume it with conn_line/conn_take. Not called
	 * while paused, closing, output is over the high-water mark, or a
	 * STARTTLS switch is under way. */
	void	(*on_data)(struct conn *, void *ctx);
	/* A deadline passed (conn_opts.timeout_secs or conn_set_deadline).
	 * NULL: the conn is closed abortively. */
	void	(*on_timeout)(struct conn *, void *ctx);
	/* A TLS handshake (implicit or STARTTLS) completed. May be NULL. */
	void	(*on_tls_ready)(struct conn *, void *ctx);
	/* The peer closed or the connection failed (not after conn_close).
	 * May be NULL. */
	void	(*on_hangup)(struct conn *, void *ctx);
	/* The server is stopping: say goodbye and conn_close(). NULL: the
	 * conn is closed (flushing what is queued). */
	void	(*on_shutdown)(struct conn *, void *ctx);
	/* Output drained below the high-water mark after conn_want_drain(),
	 * at most once per loop iteration. May be NULL. For commands that
	 * produce more output than the cap allows (IMAP FETCH 1:*), or work
	 * too long to do at once (SEARCH of a large mailbox): do a step, ask
	 * again, continue here while other connections are served between. */
	void	(*on_drain)(struct conn *, void *ctx);
	/* Last reference dropped: free ctx. Required. */
	void	(*on_free)(void *ctx);
};

enum conn_line_res {
	CONN_LINE_OK,		/* *line_r holds a line, its line end removed */
	CONN_LINE_MORE,		/* no complete line buffered yet */
	CONN_LINE_TOOLONG,	/* the line passed the limit: the bytes so far
				 * were dropped and the rest up to LF will be */
};

enum conn_close_how {
	CONN_CLOSE_FLUSH,	/* send pending output, then close */
	CONN_CLOSE_ABORT,	/* drop output, reset the connection */
};

struct conn_opts {
	size_t		 line_max;	/* input buffer cap: longest line incl. CRLF */
	size_t		 out_max;	/* output hard cap; past it the conn aborts
					 * (at least CONN_WRITE_STEP) */
	/* Deadline for progress; 0 none. A complete input line restarts it;
	 * other input taken and output sent earn time at a minimum data
	 * rate, up to timeout_secs from now; bytes that arrive without
	 * completing a line earn nothing (slowloris). */
	unsigned	 timeout_secs;
	struct tls_ctx	*tls;		/* non-NULL: implicit TLS handshake first */
	/* With tls: we connected out (relay), so run the client side of the
	 * handshake at once; tls_host is the SNI and the name verified
	 * (tls_connect_new), may be NULL. */
	bool		 tls_client;
	const char	*tls_host;
};

/* Takes ownership of fd. Reference count 1, dropped when it closes. */
struct conn	*conn_new(struct ev_loop *, int fd, const struct sockaddr *peer,
		    const char *svc, const struct conn_opts *);
void		 conn_set_proto(struct conn *, const struct conn_proto *, void *ctx);
void		 conn_ref(struct conn *);
void		 conn_unref(struct conn **);

void		 conn_close(struct conn *, enum conn_close_how, const char *reason);
bool		 conn_is_closing(const struct conn *);
/* Ask the protocol to end the session for a server stop (on_shutdown). */
void		 conn_shutdown(struct conn *);

/*
 * Next input line. On CONN_LINE_OK, *line_r points to len bytes followed
 * by a NUL, valid until the next conn call on this conn; *crlf_r tells
 * whether the line ended with CRLF (else a bare LF).
 */
enum conn_line_res conn_line(struct conn *, char **line_r, size_t *len_r,
		    bool *crlf_r);
/* Up to max raw buffered bytes, consumed; for literals and BDAT. */
size_t		 conn_take(struct conn *, const uint8_t **p_r, size_t max);
size_t		 conn_buffered(const struct conn *);

/* Queue output. Past out_max the conn is aborted and -1 returned. */
int		 conn_write(struct conn *, const void *, size_t);
int		 conn_printf(struct conn *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* One protocol reply line: fmt's output followed by CRLF. */
int		 conn_reply(struct conn *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
size_t		 conn_output_pending(const struct conn *);
/*
 * True when output is over the high-water mark: stop writing, ask for
 * on_drain with conn_want_drain(). A protocol that writes at most
 * CONN_WRITE_STEP bytes while this is false never passes out_max, however
 * slowly the client reads; input (commands) is withheld above the mark.
 */
#define CONN_WRITE_STEP	(64 * 1024)
bool		 conn_output_high_water(const struct conn *);
/* Call on_drain once, when output is below the mark (at once if it is). */
void		 conn_want_drain(struct conn *);

/* Stop or resume calling on_data (e.g. while a password is checked). */
void		 conn_pause(struct conn *, bool paused);
/* Change timeout_secs (see conn_opts) and restart it from now. */
void		 conn_set_timeout(struct conn *, unsigned secs);
/* An absolute deadline secs from now, whatever the progress (e.g. the
 * whole login phase); 0 removes it. */
void		 conn_set_deadline(struct conn *, unsigned secs);

/*
 * Switch to TLS: buffered and further plaintext input is discarded
 * (RFC 3207 section 4.2 / RFC 3501 6.2.1: no command injection), pending
 * output (the "go ahead" reply) is flushed in plaintext, then the
 * handshake runs and on_tls_ready is called. -1 when already TLS.
 */
int		 conn_starttls(struct conn *, struct tls_ctx *);
/*
 * The client side of STARTTLS, once the server's 220 is read: as above
 * (plaintext the server sent after its 220 is discarded: RFC 3207 section
 * 5, response injection), then the handshake starts with our hello.
 * tls is a client context; host as in tls_connect_new(). -1 when already
 * TLS.
 */
int		 conn_starttls_client(struct conn *, struct tls_ctx *,
		    const char *host);
bool		 conn_is_tls(const struct conn *);
/* TLS is up and the peer's certificate verified (tls_peer_verified). */
bool		 conn_tls_verified(const struct conn *);
/* "TLSv1.3", cipher; NULL when not TLS. */
const char	*conn_tls_version(const struct conn *);
const char	*conn_tls_cipher(const struct conn *);

uint32_t	 conn_id(const struct conn *);
const char	*conn_ip(const struct conn *);
const char	*conn_svc(const struct conn *);
const struct sockaddr *conn_peer(const struct conn *);

/* Hook for the owner (listeners) told when the socket is closed. */
void		 conn_set_close_hook(struct conn *, void (*)(struct conn *, void *), void *);

#endif
