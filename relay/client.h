/*
 * client: the outbound SMTP client (RFC 5321) that carries one message to
 * one destination: an MX host list, or a smarthost.
 *
 * It connects to each address of each host in order until a session gets
 * through the greeting, EHLO (HELO when EHLO is refused with 5xx), TLS and
 * AUTH; that session then decides every recipient. STARTTLS is used
 * whenever offered (RFC 3207, then EHLO again), PIPELINING sends MAIL and
 * all RCPTs in one write (RFC 2920), SIZE is announced and respected
 * (RFC 1870), SMTPUTF8 is asked for when the job needs it (RFC 6531).
 * The message is dot-stuffed on the way out and streamed from the
 * caller's bytes as the socket drains, never copied whole.
 *
 * Loop thread only. The result is delivered once, from the loop (never
 * from inside smtp_client_start()), unless the client is cancelled first.
 */
#ifndef RMAIL_RELAY_CLIENT_H
#define RMAIL_RELAY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/net.h"

struct ev_loop;
struct tls_ctx;
struct smtp_client;

enum smtp_tls_policy {
	/* STARTTLS whenever offered, any certificate (RFC 7435); when the
	 * handshake fails the same address is tried again in plaintext.
	 * Needs a tls_client_ctx_new(false, ...) context. */
	SMTP_TLS_OPPORTUNISTIC,
	/* Smarthost "starttls": STARTTLS must be offered and the
	 * certificate must verify for the host's name. */
	SMTP_TLS_REQUIRE_STARTTLS,
	/* Smarthost "tls": TLS from the first byte (port 465), verified. */
	SMTP_TLS_IMPLICIT,
};

/* One host to try: its addresses in the order to try them. */
struct smtp_client_host {
	const char			*name;	/* MX name: SNI, verification, logs */
	const struct sockaddr_storage	*addrs;	/* port: see job->port */
	size_t				 naddrs;
};

/*
 * RFC 5321 section 4.5.3.2 timeouts, in seconds; each also bounds a
 * silence while a reply is read (or, for data_block, while the socket
 * takes no more of the message). Defaults: smtp_client_timeouts_default.
 */
struct smtp_client_timeouts {
	unsigned	connect;	/* TCP connect; 30 (not in the RFC) */
	unsigned	greeting;	/* initial 220 (and implicit TLS); 300 */
	unsigned	command;	/* EHLO, STARTTLS (+ handshake), AUTH; 300 */
	unsigned	mail;		/* MAIL reply; 300 */
	unsigned	rcpt;		/* each RCPT reply; 300 */
	unsigned	data_init;	/* DATA's 354; 120 */
	unsigned	data_block;	/* no progress writing the message; 180 */
	unsigned	data_term;	/* reply to the final dot; 600 */
};

extern const struct smtp_client_timeouts smtp_client_timeouts_default;

/*
 * What to deliver, where. Everything is copied by smtp_client_start()
 * except data, which must stay valid and unchanged until the done
 * callback runs or the client is cancelled (a mapped queue file suits).
 */
struct smtp_client_job {
	const char			*id;	/* for log lines (queue id); may be NULL */
	const struct smtp_client_host	*hosts;
	size_t				 nhosts;
	/* 25, or the smarthost's; 0: each address's own port (tests). */
	unsigned			 port;
	const char			*helo;	/* our name: conf->hostname */
	enum smtp_tls_policy		 tls_policy;
	/* Client context for the policy: verifying (tls_client_ctx_new(true,
	 * ...)) unless opportunistic. NULL only for opportunistic: never
	 * STARTTLS. Not owned; must outlive the client. */
	struct tls_ctx			*tls;
	/* AUTH (PLAIN, else LOGIN), only ever over TLS; NULL: none. */
	const char			*username;
	const char			*password;
	const char			*sender;	/* "" for the null sender */
	const char * const		*rcpts;
	size_t				 nrcpts;
	const char			*data;	/* CRLF lines, not dot-stuffed */
	size_t				 len;
	bool				 need_smtputf8;	/* non-ASCII in the envelope */
	/* NULL: smtp_client_timeouts_default. Copied. */
	const struct smtp_client_timeouts *timeouts;
};

enum smtp_rcpt_status {
	SMTP_RCPT_DELIVERED,	/* the end of data was accepted (2xx) */
	SMTP_RCPT_TEMPFAIL,	/* try again later (4xx, no connection, timeout) */
	SMTP_RCPT_PERMFAIL,	/* bounce (5xx, or a limit that cannot change) */
};

/* One recipient's outcome. */
struct smtp_rcpt_result {
	enum smtp_rcpt_status	 status;
	/* The reply that decided it (e.g. 550), or 0 when none did: the
	 * text is then our own ("connection refused", "timeout ..."). */
	int			 code;
	char			 enhanced[16];	/* "5.1.1"; "" when unknown */
	/* The server's reply ("550 5.1.1 <x@y>: user unknown", lines joined
	 * by spaces, control bytes made '?', at most ~1 KB), or our text. */
	const char		*text;
	/* The host that last answered (or was last tried): "" when none. */
	const char		*host;
	char			 ip[NET_IPSTRLEN];
	bool			 tls;		/* that session ran TLS */
	bool			 tls_verified;	/* and its certificate verified */
	const char		*tls_version;	/* "TLSv1.3"; "" without TLS */
};

/* Per recipient, in the job's order. Valid during the callback only. */
struct smtp_client_result {
	const struct smtp_rcpt_result	*rcpts;
	size_t				 nrcpts;
};

/* Called once; the client is freed when it returns (do not cancel it). */
typedef void smtp_client_done_cb(const struct smtp_client_result *, void *arg);

/*
 * Start delivering job on loop. Never NULL: every failure, even of the
 * first socket(), is reported through done. The job needs at least one
 * host with an address, one recipient, a helo name, and (unless
 * opportunistic) a tls context.
 */
struct smtp_client *smtp_client_start(struct ev_loop *,
		    const struct smtp_client_job *, smtp_client_done_cb *done,
		    void *arg);
/* Stop at once (connection reset, no callback) and free; sets *cp NULL. */
void		 smtp_client_cancel(struct smtp_client **cp);

/* "delivered", "tempfail", "permfail". */
const char	*smtp_rcpt_status_name(enum smtp_rcpt_status);

#endif
