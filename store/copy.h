/*
 * copy: IMAP COPY (RFC 3501 6.4.7) and MOVE (RFC 6851) between two
 * mailboxes of the store (DESIGN.md "The store").
 *
 * A copy is a hard link of the source file under its new name in the
 * destination, so it costs one directory entry and no bytes; across file
 * systems (or where links are refused) the bytes are copied instead.
 */
#ifndef RMAIL_STORE_COPY_H
#define RMAIL_STORE_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_mbox;

/*
 * Copy the messages uids[0..n-1] (strictly ascending; not necessarily all
 * in src's index) of src into dst; src == dst is allowed. With move, the
 * copied source messages are then expunged (RFC 6851 3.3).
 *
 * Each message still in src gets a new UID in dst; the UIDs are one block
 * allocated under dst's lock in the order of uids[], so dst_uids (n
 * entries, may be NULL) is ascending too: dst_uids[i] is the new UID of
 * uids[i], or 0 when uids[i] was already expunged (not in src's index, or
 * its file vanished meanwhile): that is skipped, not an error. The caller
 * builds COPYUID (RFC 4315 3) from the non-zero pairs and
 * store_mbox_uidvalidity(dst).
 *
 * Copies keep the system flags, INTERNALDATE and size. Keywords map by
 * name: a keyword new to dst is added to its list; when that list is full
 * (26) the keyword is dropped from the copy, which RFC 3501 6.4.7 allows
 * ("SHOULD" keep flags). The flags are those src's index had on entry.
 *
 * Quota: dst's attached quota must fit the copies (EDQUOT), except for a
 * move where src and dst carry the same quota record, which does not
 * change usage.
 *
 * Changes are reported to dst's subscribers (STORE_EV_EXISTS, in UID
 * order) and, for a move, to src's (STORE_EV_EXPUNGE), after dst's lock is
 * released.
 *
 * Returns 0 on success (also when nothing was left to copy).
 * -1 with errno and err set:
 *   - the copy failed: dst is as it was (RFC 3501 6.4.7), except that
 *     UIDNEXT may have moved past the reserved block (a gap, never a
 *     reused UID) and keywords may have been added to its list. EINVAL
 *     uids not strictly ascending; EDQUOT over quota; EOVERFLOW dst out of
 *     UIDs; EAGAIN a source file kept being renamed by another process;
 *     else the system error. Nothing was expunged from src, and every
 *     dst_uids[i] is 0.
 *   - move only: the copy succeeded (dst_uids set, dst and its quota
 *     updated, events emitted) but expunging some source message failed
 *     (errno from store_mbox_expunge_uids()); the others were still expunged.
 *     Messages are then in both mailboxes, never in neither; the caller
 *     should still report COPYUID.
 */
int	 store_mbox_copy(struct store_mbox *src, struct store_mbox *dst,
	    const uint32_t *uids, size_t n, bool move, uint32_t *dst_uids,
	    char *err, size_t errlen);

#endif
