/*
 * queue_private: what queue.c, local.c and queue_env.c share (relay/ only).
 */
#ifndef RMAIL_RELAY_QUEUE_PRIVATE_H
#define RMAIL_RELAY_QUEUE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rmail_env;
struct queue_msgenv;

enum queue_local_res {
	QUEUE_LOCAL_OK,		/* stored (or was already: idempotent) */
	QUEUE_LOCAL_TEMP,	/* try again later (quota, disk, store error) */
	QUEUE_LOCAL_PERM,	/* never will work (the user is gone) */
};

/* One local target of one message in a delivery pass. */
struct queue_delivery {
	/* In. */
	const struct queue_msgenv *e;
	size_t		 i;		/* the target: e->t[i] */
	const char	*data;		/* the bytes to store (CRLF, trace
					 * headers first) */
	size_t		 len;
	const char	*link_from;	/* NULL, or a durable file with data */
	/* Out. */
	enum queue_local_res res;
	uint32_t	 uid;		/* OK: the INBOX uid */
	bool		 dup;		/* OK: stored by an earlier attempt */
	char		 err[512];	/* TEMP, PERM: why, status code first */
};

/*
 * Deliver each of v[0..n) into its user's INBOX through the hub, at most
 * once per (e->id, i) (store once-key "ID.i"), grouped so that each
 * mailbox takes its share in one store_mbox_append_many() in array
 * order. Every entry gets its res (and uid or err).
 */
void	 queue_local_deliver_many(struct rmail_env *env,
	    struct queue_delivery *v, size_t n);

/* The env a queue runs in (queue.c). */
struct queue;
struct bounce_rcpt;
struct rmail_env *queue_env_of(struct queue *);

/*
 * Report targets rs[0..n-1] of e (which failed for good, or, with
 * BOUNCE_DELAYED, are still being retried) to e's sender: an RFC 3464
 * report queued with the null sender (queue_bounce.c). Nothing for a null
 * sender, or one that routes nowhere (logged).
 */
void	 queue_bounce(struct queue *, const char *qdir,
	    const struct queue_msgenv *e, const struct bounce_rcpt *rs,
	    size_t n);

/*
 * The DKIM-Signature fields for a submitted message (queue_dkim.c): when
 * its From: domain is ours and has keys, else NULL. A new allocation to
 * put before the message.
 */
char	*queue_dkim_sign(struct rmail_env *, const char *id, const char *data,
	    size_t len);

/* Is s (n bytes) well-formed UTF-8? */
bool	 queue_utf8_valid(const char *s, size_t n);

#endif
