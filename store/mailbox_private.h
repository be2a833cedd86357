/*
 * mailbox_private: internals shared by store/mailbox*.c. Never include from
 * outside store/.
 */
#ifndef RMAIL_STORE_MAILBOX_PRIVATE_H
#define RMAIL_STORE_MAILBOX_PRIVATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/fname.h"
#include "store/mailbox.h"
#include "store/quota.h"

#define MBOX_STATUS	"status.json"
#define MBOX_LOCK	".lock"
/* Once-keys kept in status.json (the most recent; see mailbox.h). */
#define MBOX_KEYS_MAX	256
#define MBOX_KEY_LEN	64

/* An append's once-key and the uid it was given. */
struct mbox_key {
	char		 key[MBOX_KEY_LEN + 1];
	uint32_t	 uid;
};

/* The contents of status.json. */
struct mbox_status {
	uint32_t	 uidvalidity;	/* never 0 */
	uint32_t	 uidnext;	/* >= 1 */
	char		*keywords[STORE_KW_MAX];	/* owned */
	unsigned	 nkw;		/* entries used in keywords */
	bool		 subscribed;
	char		*special_use;	/* owned, NULL for none */
	/* Deleted while it had children (RFC 3501 6.3.4): no messages, not
	 * selectable; "noselect": true in status.json, absent when false. */
	bool		 noselect;
	/* Once-keys, oldest first, at most MBOX_KEYS_MAX ("keys" in
	 * status.json, absent when none). */
	struct mbox_key	*keys;
	size_t		 nkeys;
};

struct store_sub {
	struct store_sub	*next;
	store_event_fn		 fn;		/* NULL once unsubscribed */
	void			*arg;
};

struct store_mbox {
	char			*dir;		/* USER_DIR/mailboxes/DIRNAME */
	char			*userdir;	/* USER_DIR */
	char			*tmpdir;	/* USER_DIR/tmp */
	struct mbox_status	 st;
	struct store_msg	*msgs;		/* sorted by uid, no duplicates */
	size_t			 nmsgs;
	size_t			 cap;		/* allocated entries in msgs */
	bool			 rebuilt;	/* status.json was rebuilt */
	/* Above every uid the index ever held: a file found by a scan below
	 * it was not appended since (an admin restored it, say) and gets a
	 * fresh uid, so UIDs only ever grow for every session. */
	uint32_t		 seen_next;
	/* Opened by store_mbox_open_append(): the index holds only what was
	 * appended since, so older files are not strays. */
	bool			 partial;
	/* store_mbox_flags_begin(): shards renamed in, not yet synced. */
	bool			 flags_batch;
	uint32_t		*dirty;		/* shard numbers, unsorted */
	size_t			 ndirty, dirty_cap;
	/* \Recent: the lowest uid no session has claimed yet. */
	uint32_t		 recent_next;
	struct store_sub	*subs;		/* subscribers, newest first */
	unsigned		 emitting;	/* depth of mbox_emit() calls */
	struct store_quota	*quota;		/* the user's, or NULL */
	void			*hubent;	/* store/hub.c's entry, or NULL */
};

/* mailbox_status.c */

/* A fresh UIDVALIDITY: now, but above any this process handed out. */
uint32_t mbox_uidvalidity_new(void);
/* A new status: fresh uidvalidity, uidnext 1, subscribed, no keywords. */
void	 mbox_status_init(struct mbox_status *);
void	 mbox_status_free(struct mbox_status *);
/*
 * Read dir/status.json into *st (initialised here). 0, or -1 with errno:
 * ENOENT missing, EINVAL corrupt (bad JSON, version, or field), or the
 * system error. *st is left empty (freeable) on failure.
 */
int	 mbox_status_read(const char *dir, struct mbox_status *st);
/* Write dir/status.json atomically (mode 0600). 0, or -1 with errno. */
int	 mbox_status_write(const char *dir, const struct mbox_status *st);
/*
 * Fold a status just read from disk into the handle's: uidnext is the
 * larger of the two (UIDs never go back); keywords are append-only, so the
 * longer list wins; the rest (once-keys too) comes from disk. Consumes
 * *disk.
 */
void	 mbox_status_merge(struct mbox_status *mem, struct mbox_status *disk);
/* The uid recorded for key, or 0. */
uint32_t mbox_status_key_find(const struct mbox_status *, const char *key);
/* Record key -> uid, dropping the oldest beyond MBOX_KEYS_MAX. */
void	 mbox_status_key_add(struct mbox_status *, const char *key,
	    uint32_t uid);
/* An RFC 6154 attribute: '\\' then an atom of at most 64 bytes. */
bool	 mbox_special_use_valid(const char *);
/* Index of keyword in st (case-insensitive), or -1. */
int	 mbox_status_kw_find(const struct mbox_status *, const char *keyword);

/* mailbox_scan.c */

/* buf = the shard directory of uid. 0, or -1 with ENAMETOOLONG. */
int	 mbox_shard_path(const struct store_mbox *, uint32_t uid,
	    char buf[PATH_MAX]);
/* buf = the path of uid with flags fl. 0, or -1 with ENAMETOOLONG. */
int	 mbox_msg_path(const struct store_mbox *, uint32_t uid,
	    const struct store_flags *fl, char *buf, size_t len);
/* Append *m to a growing array (*msgs, *n used, *cap allocated). */
void	 mbox_index_add(struct store_msg **msgs, size_t *n, size_t *cap,
	    const struct store_msg *m);
/* Binary search of mb's index; NULL when uid is not there. */
struct store_msg *mbox_index_find(const struct store_mbox *, uint32_t uid);
/* Remove *m, an element of mb's index; later elements move down. */
void	 mbox_index_remove(struct store_mbox *, struct store_msg *m);
/*
 * Scan every shard of mb->dir into a fresh UID-sorted array without
 * duplicates (*msgs_r, caller frees; *n_r used, *cap_r allocated).
 * 0, or -1 with errno and nothing allocated.
 */
int	 mbox_scan_all(const struct store_mbox *, struct store_msg **msgs_r,
	    size_t *n_r, size_t *cap_r);
/* Sort by uid keeping one entry per uid; the new count. */
size_t	 mbox_sort_unique(struct store_msg *msgs, size_t n);
/* The same for one shard (uid / 1000 == shardno); a missing shard
 * directory is an empty shard. */
int	 mbox_scan_shard(const struct store_mbox *, uint32_t shardno,
	    struct store_msg **msgs_r, size_t *n_r, size_t *cap_r);
/*
 * Find uid's current file by rescanning its shard: 0 and *m_r filled, or
 * -1 with errno ENOENT when it is gone, or another error.
 */
int	 mbox_rescan_uid(const struct store_mbox *, uint32_t uid,
	    struct store_msg *m_r);

/* mailbox_notify.c */

/* Tell every subscriber: type, uid, and the message (NULL unless EXISTS or
 * FLAGS). Unsubscribed entries are freed once no emit is running. */
void	 mbox_emit(struct store_mbox *, enum store_ev type, uint32_t uid,
	    const struct store_msg *msg);
/* Free every subscriber (at close). */
void	 mbox_subs_free(struct store_mbox *);

/* mailbox_sync.c */

/*
 * Under the mailbox lock, with status.json just merged: add to the index
 * the messages other handles and processes appended since this one last
 * looked (uids seen_next .. st.uidnext - 1; appends rename under the lock,
 * so all of them are on disk by now) and raise seen_next to st.uidnext.
 * Subscribers are not told: the caller calls mbox_emit_new() once the lock
 * is released. 0, or -1 with errno (the index may have grown).
 */
int	 mbox_catch_up(struct store_mbox *);
/* Emit EXISTS for every index entry from position from on. */
void	 mbox_emit_new(struct store_mbox *, size_t from);

/* mailbox.c */

/* flock(LOCK_EX) dir/.lock: the fd to pass to mbox_unlock(), or -1. */
int	 mbox_lock(const struct store_mbox *);
/* Release the lock; keeps errno. */
void	 mbox_unlock(int fd);
/* Load status.json into mb->st, rebuilding it (under the lock) when
 * missing or corrupt. 0, or -1 with errno. */
int	 mbox_load_status(struct store_mbox *);
/* Raise uidnext above the highest uid in the index, persisted. */
int	 mbox_raise_uidnext(struct store_mbox *);
/* *m is gone from disk: drop it from index and quota, emit EXPUNGE. */
void	 mbox_drop(struct store_mbox *, struct store_msg *m);
/* store_quota_check() against mb's quota, counting the usage first when
 * it never was or is older than STORE_QUOTA_RECOUNT_SECS. 0 or -1. */
int	 mbox_quota_check(struct store_mbox *, uint64_t bytes, uint64_t msgs,
	    char *err, size_t errlen);

#endif
