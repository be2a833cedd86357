/*
 * conn_private: what core/conn.c (the connection's life: pump, handshake,
 * reads, writes, close) and core/conn_io.c (the protocol's side: lines
 * and bytes in, replies out, timeouts, STARTTLS, accessors) share. Not for
 * use outside core/conn*.c.
 */
#ifndef RMAIL_CONN_PRIVATE_H
#define RMAIL_CONN_PRIVATE_H

#include "core/buf.h"
#include "core/conn.h"
#include "core/net.h"

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum conn_state {
	CS_HANDSHAKE,		/* TLS handshake running (implicit or STARTTLS) */
	CS_OPEN,		/* exchanging protocol data */
	CS_STARTTLS_FLUSH,	/* writing the last plaintext reply before TLS */
	CS_CLOSING,		/* conn_close(FLUSH): writing what is queued */
	CS_LINGER,		/* write side shut; draining input until EOF */
	CS_CLOSED,		/* socket closed; waiting for the last unref */
};

struct conn {
	ev_io			 io;
	ev_timer		 timer;
	struct ev_loop		*loop;
	int			 fd;
	struct ssl_st		*ssl;
	enum conn_state		 state;
	struct buf		 in;	/* max = line_max */
	struct buf		 out;	/* max = out_max */
	size_t			 out_high;	/* back-pressure mark: stop taking
					 * input and running steps at this */
	unsigned		 refs;
	unsigned		 timeout_secs;	/* deadline after progress; 0 none */
	ev_tstamp		 active;	/* last progress (loop time) */
	ev_tstamp		 limit_at;	/* absolute deadline; 0 none */
	uint64_t		 consumed;	/* input bytes handed out, for progress */
	bool			 paused;
	bool			 skipping;	/* dropping the rest of a too-long line */
	bool			 in_cb;		/* inside conn_pump */
	bool			 eof;		/* peer finished sending */
	bool			 read_more;	/* stopped reading with data left */
	bool			 out_blocked;	/* input withheld: output over out_high */
	bool			 drain_wanted;	/* on_drain when below out_high */
	bool			 tls_want_write;	/* handshake/read needs writable */
	bool			 tls_want_read;		/* handshake/write needs readable */
	const struct conn_proto	*proto;
	void			*ctx;
	void			(*close_hook)(struct conn *, void *);
	void			*close_arg;
	uint32_t		 id;
	const char		*svc;
	struct sockaddr_storage	 peer;
	char			 ip[NET_IPSTRLEN];
};

/* The deadline moves: a complete line (or a phase's end) was seen. */
void	conn_progress(struct conn *);
/* n bytes of raw input or accepted output: earn time at the minimum rate. */
void	conn_credit(struct conn *, size_t n);
/* Re-arm the timer for the nearest deadline. */
void	conn_arm(struct conn *);
/* Run the pump soon (an EV_CUSTOM event), from outside an I/O callback. */
void	conn_kick(struct conn *);
/* Recompute the watcher's interest from the buffers' state. */
void	conn_update(struct conn *);

#endif
