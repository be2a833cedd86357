/*
 * mailbox: on-disk mailbox primitives (DESIGN.md "The store").
 *
 *	USER_DIR/mailboxes/DIRNAME/
 *	    status.json		{"version": 1, "uidvalidity": N, "uidnext": N,
 *				 "keywords": [...], "subscribed": true,
 *				 "special_use": "\\Sent" or null}
 *	    .lock		flock(2)ed while a UID or keyword is allocated
 *	    SHARD/NAME		messages; names from store/fname.h
 *	USER_DIR/tmp/		files being written; emptied at start
 *
 * DIRNAME is what store_name_to_dir() (store/names.h) returns. A handle
 * holds an index (UID-sorted array of messages) built from a directory
 * scan, and sees changes made through other handles or processes only
 * after store_mbox_refresh() or when an operation trips over them
 * (set_flags/expunge rescan the shard on ENOENT). The server shares one
 * handle per mailbox between all its sessions and keeps it current from
 * inotify (store/hub.h); sessions subscribe to its changes here.
 *
 * Handles are not thread-safe: the server uses them on the loop thread.
 *
 * Functions taking err/errlen write a human-readable message there on
 * failure (always NUL-terminated when errlen > 0); errno is kept.
 */
#ifndef RMAIL_STORE_MAILBOX_H
#define RMAIL_STORE_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "store/fname.h"

struct store_mbox;

/* One message as the index knows it. */
struct store_msg {
	uint32_t		 uid;		/* >= 1, unique in the mailbox */
	struct store_flags	 flags;		/* as in the file name */
	off_t			 size;		/* bytes: RFC822.SIZE */
	time_t			 internaldate;	/* file mtime, seconds */
};

/*
 * Create the mailbox directory USER_DIR/mailboxes/DIRNAME (mode 0700;
 * USER_DIR/mailboxes is created if missing) with a fresh status.json: a new
 * UIDVALIDITY, uidnext 1, no keywords, subscribed, special_use as given
 * (NULL for none, else an RFC 6154 attribute such as "\\Sent").
 * 0, or -1 with errno and err set: EEXIST when the mailbox exists, EINVAL
 * for a dirname that is not one path component (empty, '/', leading '.')
 * or a malformed special_use, or the system error. On failure nothing is
 * left behind (except for EEXIST, where the existing mailbox is untouched).
 */
int	 store_mbox_create(const char *user_dir, const char *dirname,
	    const char *special_use, char *err, size_t errlen);

/*
 * Open a mailbox: read status.json and scan every shard. A missing or
 * corrupt status.json is rebuilt (new UIDVALIDITY, no keywords) and
 * store_mbox_rebuilt() then returns true. UIDNEXT is raised above the
 * highest UID on disk, and persisted, if status.json lagged.
 * Returns a handle the caller owns (free with store_mbox_close()), or NULL
 * with errno and err set: ENOENT when the mailbox does not exist, ENOTDIR
 * when it is \Noselect (deleted while it had children, store/mboxtree.h),
 * EINVAL for a bad dirname, ENAMETOOLONG, or the system error.
 */
struct store_mbox *store_mbox_open(const char *user_dir, const char *dirname,
	    char *err, size_t errlen);

/*
 * The same for appending only (rmail deliver): no scan, so the index starts
 * empty and holds only what this handle appends (and what others appended
 * meanwhile, which each append takes in). Opening a 100,000-message INBOX
 * costs a status.json read instead of 100,000 stats. A missing or corrupt
 * status.json still means a full scan, to raise UIDNEXT above the disk.
 */
struct store_mbox *store_mbox_open_append(const char *user_dir,
	    const char *dirname, char *err, size_t errlen);

/* Free the handle and set *mbp to NULL; NULL or *mbp == NULL is a no-op. */
void	 store_mbox_close(struct store_mbox **mbp);

uint32_t store_mbox_uidvalidity(const struct store_mbox *);
/* The UID the next append will get at the least (RFC 3501 2.3.1.1). */
uint32_t store_mbox_uidnext(const struct store_mbox *);
/*
 * \Recent (RFC 3501 2.3.2): a message is recent to exactly one session,
 * the first to see it. The handle keeps the lowest uid no session has
 * claimed; it starts at UIDNEXT when the handle is opened (the server
 * keeps handles open while anyone uses them and a while after, so mail
 * delivered meanwhile is recent; after a restart nothing is).
 * store_mbox_recent_first() is that uid; store_mbox_recent_claim() raises
 * it to upto (never lowers it) and returns what it was: the claimer's
 * recent messages are the uids in [returned, upto).
 */
uint32_t store_mbox_recent_first(const struct store_mbox *);
uint32_t store_mbox_recent_claim(struct store_mbox *, uint32_t upto);
/* True when open or refresh had to rebuild a missing/corrupt status.json. */
bool	 store_mbox_rebuilt(const struct store_mbox *);
bool	 store_mbox_subscribed(const struct store_mbox *);
/* The special-use attribute, or NULL; owned by the handle. */
const char	*store_mbox_special_use(const struct store_mbox *);

/* Number of messages in the index. */
size_t	 store_mbox_count(const struct store_mbox *);
/*
 * Message i (0-based) in UID order, or NULL when i >= count. The pointer
 * belongs to the handle and is valid until the next call that changes the
 * index (append, set_flags, expunge, keyword, refresh, close).
 */
const struct store_msg *store_mbox_at(const struct store_mbox *, size_t i);
/* The message with uid, or NULL; same lifetime as store_mbox_at(). */
const struct store_msg *store_mbox_find(const struct store_mbox *,
	    uint32_t uid);

/*
 * Write the current path of message uid into buf (len bytes), for reading.
 * The file may have been renamed or removed by another process since the
 * last scan: a failed open means "refresh and retry" (or expunged).
 * 0, or -1 with errno ENOENT (uid not in the index) or ENAMETOOLONG.
 */
int	 store_mbox_path(const struct store_mbox *, uint32_t uid, char *buf,
	    size_t len);

/*
 * Read message uid whole: a NUL-terminated allocation, length in *len_r.
 * A file renamed by another process is found again (its new flags go to
 * subscribers as FLAGS). NULL with errno: ENOENT when uid is not in the
 * index or was expunged (then it leaves the index: EXPUNGE), EFBIG when
 * the file grew past the size in the index (someone wrote into it), EAGAIN
 * when it kept being renamed, or the system error.
 */
char	*store_mbox_read(struct store_mbox *, uint32_t uid, size_t *len_r);

/*
 * A message as the store keeps it (CRLF line ends, so RFC822.SIZE is the
 * file size): head (NULL or already CRLF, e.g. trace headers) followed by
 * data with every bare LF made CRLF; existing CRLF and lone CR are kept.
 * Returns a new NUL-terminated allocation and its length in *len_r.
 */
char	*store_crlf(const char *head, const char *data, size_t len,
	    size_t *len_r);

/*
 * Append len bytes of data (stored as is: CRLF line ends are the caller's
 * business) with internaldate (0 = now) and flags (NULL = none; bits outside
 * STORE_F_ALL/STORE_KW_ALL are dropped). The UID is allocated under the
 * mailbox lock from status.json, so other handles and processes never get
 * the same one. On success 0 and *uid_r (when not NULL) set.
 * -1 with errno and err set:
 *   - before the message entered the mailbox (*uid_r untouched): no
 *     message was added; at most UIDNEXT moved past a reserved uid (the
 *     uid is made durable in status.json before the message appears, so
 *     a crash leaves a gap, never a uid handed out twice). EOVERFLOW when
 *     UIDs are exhausted; EDQUOT over the attached quota (store/quota.h).
 *   - after it did (the final fsync of the shard failed; *uid_r set): the
 *     message is in the index and on disk but may not survive a crash.
 */
int	 store_mbox_append(struct store_mbox *, const void *data, size_t len,
	    time_t internaldate, const struct store_flags *flags,
	    uint32_t *uid_r, char *err, size_t errlen);

/*
 * store_mbox_append() at most once per key: a token of 1..64 bytes of
 * [0-9A-Za-z._-] not starting with '.' (EINVAL otherwise), such as a queue
 * id and target number. When an earlier append with this key put a message
 * that is still in the mailbox, nothing is written: *uid_r is that uid and
 * *dup_r true. The key is recorded in status.json, in the same durable
 * write that reserves the uid, before the message appears, so a crash
 * anywhere leaves either no message or a message the record points at.
 * A mailbox remembers its MBOX_KEYS_MAX (256) most recent keys: enough for
 * a caller that records the outcome itself right after the append (the
 * queue does, per pass), which is the only time a key is asked again.
 */
int	 store_mbox_append_once(struct store_mbox *, const char *key,
	    const void *data, size_t len, time_t internaldate,
	    const struct store_flags *flags, uint32_t *uid_r, bool *dup_r,
	    char *err, size_t errlen);

/* One message of store_mbox_append_many(). */
struct store_append {
	/* In. */
	const char		*key;		/* once-key, or NULL */
	const void		*data;		/* the bytes (CRLF), len long */
	size_t			 len;
	/* NULL, or a durable file holding the message (CRLF) with its
	 * INTERNALDATE as mtime: hard-linked instead of written, so several
	 * mailboxes share one inode; len and internaldate are then taken
	 * from it. Where linking is impossible (EXDEV, EMLINK, EPERM) data,
	 * or without data the file's bytes, are written instead. */
	const char		*link_from;
	time_t			 internaldate;	/* 0: now */
	struct store_flags	 flags;
	/* Out. */
	uint32_t		 uid;		/* 0 unless stored (or dup) */
	bool			 dup;		/* stored before, by key */
	int			 error;		/* 0, or errno: not stored */
};

/*
 * Append n messages under one lock and one durable status.json write, in
 * order (the uids ascend with the array): what store_mbox_append() and
 * store_mbox_append_once() do one at a time, for a fraction of the cost.
 * Each item ends stored (uid set, error 0; dup when its key was done) or
 * not (error set: EDQUOT for an item that does not fit the quota after
 * the items before it, or the errno that stopped the batch). 0 when every
 * item was decided by itself (stored, dup or EDQUOT); -1 with errno and
 * err when a store error stopped the batch: the items without a uid were
 * not added, and a batch that fails after its renames (the final shard
 * fsync) leaves the renamed items in place with their uids and error set.
 */
int	 store_mbox_append_many(struct store_mbox *, struct store_append *v,
	    size_t n, char *err, size_t errlen);

/*
 * Attach the user's quota record (store/quota.h; not owned, NULL for none):
 * append and copy then refuse with EDQUOT what would not fit, and every
 * change through this handle keeps q's usage current. Several handles of
 * one user share one record.
 */
struct store_quota;
void	 store_mbox_set_quota(struct store_mbox *, struct store_quota *q);

/*
 * Replace the flags of uid (a rename within its shard). When another
 * process renamed the file meanwhile, the shard is rescanned and the rename
 * retried (at most 5 times). 0 on success. -1 with errno: ENOENT when uid is
 * not in the index or no longer on disk (then it is dropped from the
 * index); EAGAIN when the retries ran out; else the system error. If the
 * rename succeeded but the fsync of the shard failed, the index has the new
 * flags and -1 is returned.
 */
int	 store_mbox_set_flags(struct store_mbox *, uint32_t uid,
	    const struct store_flags *flags);

/*
 * Many flag changes (IMAP STORE 1:*): after store_mbox_flags_begin(),
 * store_mbox_set_flags() renames without syncing the shard directory each
 * time; store_mbox_flags_commit() syncs every shard touched, once, and
 * ends the batch. The changes are durable when it returns 0; -1 with the
 * errno of the first failed sync (the renames stand).
 */
void	 store_mbox_flags_begin(struct store_mbox *);
int	 store_mbox_flags_commit(struct store_mbox *);

/*
 * Remove message uid (unlink) and drop it from the index. 0 also when
 * another process removed it first. -1 with errno: ENOENT when uid is not
 * in the index; EAGAIN when retries ran out; the system error otherwise
 * (if only the fsync of the shard failed, the message is gone from disk and
 * index all the same).
 */
int	 store_mbox_expunge(struct store_mbox *, uint32_t uid);

/*
 * Expunge many (IMAP EXPUNGE, MOVE): uids strictly ascending (EINVAL
 * otherwise); uids not in the index are skipped. One fsync per shard and
 * one pass over the index, then EXPUNGE for each in uid order. 0, or -1
 * with the errno of the first failure (the others are still expunged).
 */
int	 store_mbox_expunge_uids(struct store_mbox *, const uint32_t *uids,
	    size_t n);

/*
 * The index of keyword in the mailbox's keyword list (ASCII
 * case-insensitive, RFC 3501 2.3.2), which is its bit in store_flags.kw.
 * When absent and create is true, add it (under the lock, after re-reading
 * status.json so no other process's keyword is lost) and persist it.
 * Returns 0..25, or -1 with errno: ENOENT absent and !create; ENOSPC the
 * list already has STORE_KW_MAX (26) entries; EINVAL keyword is not an
 * atom (RFC 3501 9), starts with '\' or is longer than 255 bytes; else the
 * system error.
 */
int	 store_mbox_keyword(struct store_mbox *, const char *keyword,
	    bool create);
/* Number of keywords, and keyword i (NULL when out of range; owned by the
 * handle, valid until close). Keywords are never removed or reordered. */
unsigned store_mbox_keyword_count(const struct store_mbox *);
const char	*store_mbox_keyword_name(const struct store_mbox *, unsigned i);

/*
 * Pick up what other processes did: re-read status.json (a missing or
 * corrupt one is rebuilt as in store_mbox_open()), rescan, and report the
 * differences to subscribers (see "Change notification" below: messages
 * found on disk below the highest uid the index ever held are renamed to
 * fresh uids first). store_mbox_refresh() rescans every shard;
 * store_mbox_refresh_shard() only uids shardno*1000 .. shardno*1000+999;
 * store_mbox_refresh_status() only re-reads status.json (STORE_EV_STATUS
 * when keywords or the subscription changed).
 * 0, or -1 with errno (ENOENT when the mailbox directory is gone). On
 * failure the index keeps what was applied before the failure.
 */
int	 store_mbox_refresh(struct store_mbox *);
int	 store_mbox_refresh_shard(struct store_mbox *, uint32_t shardno);
int	 store_mbox_refresh_status(struct store_mbox *);

/*
 * Change notification. Every change to the index, whether made through
 * this handle (append, set_flags, expunge, copy) or found by a refresh
 * (another process's work), is reported to every subscriber, synchronously
 * and in order, before the call that made or found it returns:
 *   STORE_EV_EXISTS   a new message, msg set; always a UID above every
 *                     UID in the index before it (so IMAP can append it
 *                     to its message sequence).
 *   STORE_EV_FLAGS    msg's flags changed (msg set, the new flags).
 *   STORE_EV_EXPUNGE  uid left the mailbox (msg NULL).
 *   STORE_EV_STATUS   a keyword was added, or the subscription changed.
 *   STORE_EV_GONE     the mailbox was deleted or renamed underneath; the
 *                     handle is stale and every subscriber should let go.
 * msg points into the index and is valid only during the callback. A
 * callback may unsubscribe (any subscriber) but must not change this
 * mailbox (no append/set_flags/expunge/refresh): record, then act later.
 */
enum store_ev {
	STORE_EV_EXISTS = 1,
	STORE_EV_FLAGS,
	STORE_EV_EXPUNGE,
	STORE_EV_STATUS,
	STORE_EV_GONE,
};

struct store_event {
	enum store_ev		 type;
	uint32_t		 uid;	/* 0 for STATUS and GONE */
	const struct store_msg	*msg;	/* EXISTS and FLAGS, else NULL */
};

typedef void	(*store_event_fn)(void *arg, const struct store_event *);

struct store_sub;

/* Call fn(arg, event) for every change from now on. Never fails. */
struct store_sub *store_mbox_subscribe(struct store_mbox *, store_event_fn fn,
	    void *arg);
/* Stop; *subp becomes NULL (NULL is a no-op). Safe inside a callback. */
void	 store_mbox_unsubscribe(struct store_mbox *, struct store_sub **subp);
/* Number of live subscribers. */
size_t	 store_mbox_subscribers(const struct store_mbox *);

/*
 * Remove leftover files (from a crash mid-append) in USER_DIR/tmp: every
 * file but those another live process (rmail deliver, rmail import) may
 * still be writing, by the pid its name starts with, for at most
 * STORE_TMP_STALE_SECS. Call before this process appends for the user
 * (the hub does, on the user's first open). 0 (also when the directory
 * does not exist), or -1 with errno of the first failure.
 */
#define STORE_TMP_STALE_SECS	3600
int	 store_user_clean_tmp(const char *user_dir);

#endif
