/*
 * hub: the server's shared mailbox handles (DESIGN.md "The store").
 *
 * One handle per mailbox for the whole process, whatever the number of
 * sessions that select it: the first open scans the shards, every later
 * one is a table lookup. Every write goes through that one handle, so its
 * index is current and its subscribers (store_mbox_subscribe()) hear of
 * every change at once. Changes made by other processes (rmail deliver,
 * an admin moving files) are picked up from inotify within the loop
 * iteration that sees them, and reported the same way. Without inotify
 * (no instance left, no watch left: fs.inotify.max_user_instances and
 * max_user_watches) the hub falls back to checking directory mtimes once
 * a second.
 *
 * A mailbox nobody holds stays open (and watched) for a while, so a client
 * that reconnects, or reselects, finds it ready: at most linger_secs, and
 * at most linger_msgs messages in all such idle handles (oldest go first).
 *
 * The hub also keeps one quota record per user (store/quota.h), attached
 * to every handle of that user it opens.
 *
 * Loop thread only, like the handles themselves.
 */
#ifndef RMAIL_STORE_HUB_H
#define RMAIL_STORE_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "store/mailbox.h"
#include "store/mimecache.h"
#include "store/quota.h"

#define STORE_HUB_LINGER_SECS	300
#define STORE_HUB_LINGER_MSGS	500000

struct store_hub;

enum {
	STORE_HUB_POLL = 1,	/* never use inotify (tests the fallback) */
};

/* A hub on loop; flags STORE_HUB_*. Never fails (inotify failing only
 * means polling). */
struct store_hub *store_hub_new(struct ev_loop *loop, int flags);
/* Close every handle (subscribers should be gone) and free the hub. */
void	 store_hub_free(struct store_hub **hubp);

/* Change the linger limits (0 secs: close a handle as soon as released). */
void	 store_hub_set_linger(struct store_hub *, double secs, size_t msgs);

/*
 * The shared handle of USER_DIR's mailbox DIRNAME (store_mbox_open()
 * arguments and errors), opened and scanned on first use. Pair every
 * successful open with store_hub_release(). The handle stays valid until
 * released even if the mailbox is deleted meanwhile (subscribers get
 * STORE_EV_GONE and the next open finds the new mailbox, if any).
 */
struct store_mbox *store_hub_open(struct store_hub *, const char *user_dir,
	    const char *dirname, char *err, size_t errlen);
/* Let go of a handle from store_hub_open(); *mbp becomes NULL. Unsubscribe
 * first. */
void	 store_hub_release(struct store_hub *, struct store_mbox **mbp);

/*
 * The quota record of USER_DIR, created on first use (unlimited), with its
 * limits set to max_bytes and max_messages (0: unlimited) from the users
 * file. Valid until the hub is freed.
 */
struct store_quota *store_hub_quota(struct store_hub *, const char *user_dir,
	    uint64_t max_bytes, uint64_t max_messages);

/* The MIME tree cache of the hub's handles (store/mimecache.h), bounded
 * by STORE_MIMECACHE_BYTES; entries go with their handle. */
struct store_mimecache *store_hub_mimecache(struct store_hub *);

/* Handles the hub has open: held by someone, and lingering. */
size_t	 store_hub_count(const struct store_hub *, size_t *lingering_r);
/* True when the hub watches with inotify (false: polling). */
bool	 store_hub_inotify(const struct store_hub *);

#endif
