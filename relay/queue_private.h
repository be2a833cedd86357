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
struct store_mbox;

enum queue_local_res {
	QUEUE_LOCAL_OK,		/* stored (or was already: idempotent) */
	QUEUE_LOCAL_TEMP,	/* try again later (quota, disk, store error) */
	QUEUE_LOCAL_PERM,	/* never will work (the user is gone) */
};

/*
 * Deliver target i (local) of envelope e: msg (len bytes, CRLF) with
 * Return-Path and Delivered-To prepended into the user's INBOX, at most
 * once per (e->id, i) (store_mbox_append_once(), key "ID.i"). On OK,
 * *uid_r is set and *mb_r holds the INBOX handle until
 * queue_local_done(); otherwise *mb_r is NULL and err says why.
 */
enum queue_local_res queue_local_deliver(struct rmail_env *env,
	    const struct queue_msgenv *e, size_t i, const char *msg,
	    size_t len, struct store_mbox **mb_r, uint32_t *uid_r, char *err,
	    size_t errlen);

/*
 * Release the handle from queue_local_deliver(); with forget, first drop
 * the store's once-key of target i (only once the envelope recorded the
 * delivery). A failure to forget is only logged: the key is harmless.
 */
void	 queue_local_done(struct rmail_env *env,
	    const struct queue_msgenv *e, size_t i, struct store_mbox **mbp,
	    bool forget);

/* Is s (n bytes) well-formed UTF-8? */
bool	 queue_utf8_valid(const char *s, size_t n);

#endif
