/*
 * queue: the durable queue between SMTP's 250 and delivery (DESIGN.md
 * "The queue").
 *
 *	DATA/queue/
 *	    msg/ID	the message as accepted (Received: already prepended),
 *			CRLF, never changed after it is written
 *	    env/ID.json	the envelope and per-target progress, replaced
 *			atomically (fsio_write_atomic) on every change
 *	    tmp/	files being written; emptied at start
 *
 * queue_submit() writes msg/ID (Return-Path first: see local_head in
 * relay/queue_env.h) and env/ID.json, fsyncs both and the folders, and
 * only then returns: the caller's 250 names ID. Delivery then runs on the
 * loop, in passes that take what arrived within QUEUE_COALESCE: each local
 * target gets a hard link to msg/ID in its user's INBOX through the hub,
 * grouped per mailbox (store_mbox_append_many()), idempotently per (ID,
 * target) (once-key "ID.i"), so a crash between the append and the
 * envelope update never stores a message twice. Remote
 * targets wait for the relay (its own issue) and are listed by
 * `rmail queue list`. A message leaves the queue when every target is done.
 * Temporary failures (over quota, disk full, a store error) are retried
 * with a growing delay; the envelope records the attempts and last error.
 *
 * Loop thread only.
 */
#ifndef RMAIL_RELAY_QUEUE_H
#define RMAIL_RELAY_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "relay/route.h"

struct rmail_env;
struct queue;

/*
 * Queue ids: [0-9A-Za-z] only (they name files), at most QUEUE_ID_MAX - 1
 * characters, unique per host and sorting in time order (17 characters:
 * microseconds, a counter, the pid). The file format and the id check
 * for ids from outside are in relay/queue_env.h.
 */
#define QUEUE_ID_MAX	32

/* What SMTP hands over with a message. */
struct queue_envelope {
	const char		*mail_from;	/* normalised; "" = null sender */
	const struct route_list	*targets;	/* resolved, at least one */
	const char		*client_ip;	/* for the log and `show` */
	const char		*helo;
	const char		*auth_user;	/* NULL unless submission */
	bool			 smtputf8;
};

/*
 * Open the queue in env->conf->data_dir/queue (created 0700 if missing),
 * clean tmp/, and schedule every message found there for delivery (a
 * restart resumes). env->hub must be set. NULL with err set on failure.
 */
struct queue	*queue_new(struct rmail_env *env, char *err, size_t errlen);
void		 queue_free(struct queue **);

/*
 * Durably queue len bytes of data (the message as it will be stored,
 * CRLF, Received: first) for envelope env. 0 and id_r set once everything
 * is on disk; delivery is scheduled on the loop. -1 with errno and err:
 * ENOSPC/EDQUOT (the filesystem's) map to 452 4.3.1, anything else to
 * 451 4.3.0; EINVAL (and 451 4.3.0 or 501) for an envelope that could
 * not be written back (no targets, control characters or invalid UTF-8
 * in an address). Nothing is left behind on failure. The HELO text,
 * client_ip and auth_user are copied with control and 8-bit bytes made '?'.
 */
int	 queue_submit(struct queue *, const struct queue_envelope *env,
	    const char *data, size_t len, char id_r[QUEUE_ID_MAX],
	    char *err, size_t errlen);

/*
 * Would a message of size bytes fit the quota of local user addr? For
 * SMTP to answer 452 4.2.2 at RCPT (size 0: already full?) and at the end
 * of DATA, before accepting. 0 when it fits (or the user has no quota),
 * -1 with errno EDQUOT and err saying why. addr is a local target's
 * address (route_resolve()); an unknown user, or usage that cannot be
 * counted, gives 0: delivery decides then (a retry, never a loss).
 */
int	 queue_local_room(struct queue *, const char *addr, uint64_t size,
	    char *err, size_t errlen);

/*
 * Retry every waiting message now, ignoring the targets' next_try
 * (SIGUSR1, `rmail queue flush`). Also picks up envelopes written into
 * DATA/queue/env by hand since the start.
 */
void	 queue_kick(struct queue *);

/* Messages in the queue, including those waiting only for the relay
 * (for the log at shutdown and tests). */
size_t	 queue_count(const struct queue *);
/* Remote deliveries in progress (a stopping server waits for them, up to
 * its grace period, rather than cut a transaction a remote is inside). */
size_t	 queue_remote_inflight(const struct queue *);

#endif
