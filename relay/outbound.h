/*
 * outbound: deliveries to other domains (DESIGN.md "How data flows",
 * Outbound), for the queue.
 *
 * The queue hands over one message's targets at one domain at a time; a
 * job resolves the domain (relay/mx.h: MX records in preference order, or
 * the smarthost when one is configured), runs the SMTP client
 * (relay/client.h: opportunistic STARTTLS to MX hosts, verified TLS and
 * AUTH to a smarthost) and reports one result per target, always from the
 * loop, never from within outbound_start(). Connections are limited per
 * destination domain and in all (outbound_busy()).
 */
#ifndef RMAIL_RELAY_OUTBOUND_H
#define RMAIL_RELAY_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rmail_env;
struct outbound;

/* Concurrent jobs (each one SMTP connection at a time). */
#define OUTBOUND_MAX_JOBS	32
#define OUTBOUND_MAX_PER_DOMAIN	4
/* More Received fields than this: a mail loop (RFC 5321 6.3). */
#define OUTBOUND_MAX_HOPS	50

enum outbound_status {
	OUTBOUND_DELIVERED,
	OUTBOUND_TEMPFAIL,
	OUTBOUND_PERMFAIL,
};

struct outbound_result {
	size_t			 idx;		/* the target's index in its envelope */
	enum outbound_status	 status;
	char			 enhanced[16];	/* "5.1.1"; "" when unknown */
	const char		*text;		/* the remote reply or our reason */
	const char		*remote_mta;	/* host that answered; "" if none */
	bool			 remote;	/* text is an SMTP reply (else ours) */
};

/* Results of one job: rs[0..n-1], valid during the call only. */
typedef void outbound_done_fn(void *arg, const char *id,
	    const struct outbound_result *rs, size_t n);

/* NULL with err set when the DNS resolver cannot be set up. */
struct outbound *outbound_new(struct rmail_env *, outbound_done_fn *done,
	    void *arg, char *err, size_t errlen);
/* Cancel every job (no callbacks) and free. */
void	 outbound_free(struct outbound **);

/* True when a job for domain cannot start now (limits). */
bool	 outbound_busy(const struct outbound *, const char *domain);
/* True while a job holds target idx of message id. */
bool	 outbound_inflight(const struct outbound *, const char *id, size_t idx);
size_t	 outbound_jobs(const struct outbound *);

/*
 * Deliver targets addrs[i] (envelope indexes idx[i]), all at domain, of
 * message id: msg is its path, skip the bytes of the queue's own head
 * (Return-Path) to leave out. The result comes through done.
 */
void	 outbound_start(struct outbound *, const char *id, const char *msg,
	    uint64_t skip, const char *sender, bool smtputf8,
	    const char *domain, const char *const *addrs, const size_t *idx,
	    size_t n);

#endif
