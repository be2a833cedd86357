/*
 * mboxtree: the mailbox hierarchy of a user (RFC 3501 6.3.3-6.3.9) on top
 * of the flat layout of store/names.h and store/mailbox.h.
 *
 * Every mailbox, at any depth, is one directory USER_DIR/mailboxes/DIRNAME
 * with DIRNAME = store_name_to_dir(NAME); '/' is the hierarchy separator
 * and lives inside the escaped name. Parents are never required: "A/B/C"
 * can exist without "A" or "A/B", which are then *implied* (listed as
 * \Noselect, no directory). A mailbox deleted while it had children keeps
 * its directory without messages and "noselect": true in status.json
 * (store_mbox_open() fails on it with ENOTDIR).
 *
 * Every function takes USER_DIR and canonical names (store_name_check()),
 * and returns 0, or -1 with errno and a human-readable message in err
 * (errlen bytes, always NUL-terminated when errlen > 0). A name that has no
 * directory name (store_name_to_dir() fails) is EINVAL.
 *
 * Multi-directory operations (renaming a subtree, renaming INBOX) are each
 * a sequence of atomic renames, not one: a crash in between leaves some
 * children or messages moved and some not, but never a message lost or
 * duplicated, and every directory whole.
 */
#ifndef RMAIL_STORE_MBOXTREE_H
#define RMAIL_STORE_MBOXTREE_H

#include <stdbool.h>
#include <stddef.h>

struct store_tree_entry {
	char	*name;		/* canonical mUTF-7 */
	bool	 noselect;	/* implied parent, or deleted with children */
	bool	 implied;	/* no directory: only a parent of others */
	bool	 subscribed;	/* false for implied entries */
	char	*special_use;	/* "\\Sent" etc., or NULL */
	bool	 has_children;	/* some "NAME/..." is listed */
};

/*
 * Every mailbox of the user, sorted by name (strcmp): each directory of
 * USER_DIR/mailboxes whose name store_dir_to_name() decodes to a name that
 * store_name_check() accepts unchanged (dot-files and anything else are
 * skipped), plus the implied parents of those names. A mailbox whose
 * status.json is missing or corrupt is listed as subscribed, selectable,
 * without special use (store_mbox_open() rebuilds it). A missing
 * mailboxes/ is an empty list. On success *entries_r (NULL when *n_r is 0)
 * belongs to the caller: free with store_tree_free().
 */
int	 store_tree_list(const char *user_dir,
	    struct store_tree_entry **entries_r, size_t *n_r, char *err,
	    size_t errlen);
void	 store_tree_free(struct store_tree_entry *entries, size_t n);

/*
 * CREATE (RFC 3501 6.3.3): make the mailbox, with special_use (NULL for
 * none, else an RFC 6154 attribute). Parents are not created (implied).
 * EEXIST when it exists, and always for "INBOX". A \Noselect mailbox of
 * that name becomes selectable again instead: a new UIDVALIDITY, UIDNEXT
 * kept (so no UID is reused), special_use as given, subscription kept.
 * The caller strips a trailing separator before calling.
 */
int	 store_tree_create(const char *user_dir, const char *name,
	    const char *special_use, char *err, size_t errlen);

/*
 * DELETE (RFC 3501 6.3.4).
 *  - "INBOX": EPERM.
 *  - no directory: ENOTEMPTY when it is an implied parent, else ENOENT.
 *  - with children (some "NAME/..." exists): its messages are removed and
 *    it becomes \Noselect (status.json "noselect": true, written before
 *    the messages go); when it already is \Noselect: ENOTEMPTY ("has
 *    inferior hierarchical names"). The children are untouched.
 *  - without children: the directory is renamed to a dot-name
 *    (".deleting.PID.N", invisible to listings) and mailboxes/ synced,
 *    then removed recursively. A crash during the removal leaves the
 *    dot-directory behind, never a half-deleted mailbox.
 * A handle another process has open on the mailbox is not told.
 */
int	 store_tree_delete(const char *user_dir, const char *name, char *err,
	    size_t errlen);

/*
 * RENAME (RFC 3501 6.3.5).
 *  - from == "INBOX": to is created and every INBOX message moved into it
 *    (rename of the file, same flags, keywords and INTERNALDATE) with new
 *    UIDs from to's UIDNEXT (1..n for a new mailbox) in INBOX UID order;
 *    INBOX's keyword list is copied. INBOX stays, empty, its UIDVALIDITY
 *    and UIDNEXT unchanged; its children do not move. Messages delivered
 *    to INBOX meanwhile stay there.
 *  - otherwise from's directory and those of all its children ("from/x"
 *    -> "to/x") are renamed, then mailboxes/ synced. from may be an
 *    implied parent (only its children move). On a failure the renames
 *    already done are undone (best effort).
 * ENOENT when from does not exist (neither directory nor children);
 * EEXIST when to exists (directory, implied parent, or "INBOX"); EINVAL
 * when to is inside from's subtree ("A" -> "A/B", not for INBOX) or a
 * new child name is too long.
 */
int	 store_tree_rename(const char *user_dir, const char *from,
	    const char *to, char *err, size_t errlen);

/*
 * SUBSCRIBE/UNSUBSCRIBE (RFC 3501 6.3.6-6.3.7): set "subscribed" in the
 * mailbox's status.json. Only existing mailboxes (directories, \Noselect
 * ones included) can be (un)subscribed: ENOENT otherwise, implied parents
 * too. A missing/corrupt status.json is rebuilt first as by
 * store_mbox_open().
 */
int	 store_tree_subscribe(const char *user_dir, const char *name, bool on,
	    char *err, size_t errlen);

#endif
