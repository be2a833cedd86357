/*
 * mimecache: parsed MIME trees of messages, kept under a memory bound.
 *
 * IMAP clients ask for a message's structure more than once (ENVELOPE and
 * BODYSTRUCTURE at sync, then BODY[1] when it is opened, then SEARCH):
 * the tree (store/mime.h) is kept, least recently used first out, while
 * all trees together stay under max_bytes (mime_mem_size()). Offsets in a
 * tree index the message file, which never changes for a uid, so an entry
 * stays true for as long as the handle it came from is open; a handle's
 * entries must be forgotten before it is closed (store/hub.c does).
 *
 * Loop thread only.
 */
#ifndef RMAIL_STORE_MIMECACHE_H
#define RMAIL_STORE_MIMECACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store/mailbox.h"
#include "store/mime.h"

#define STORE_MIMECACHE_BYTES	(32u * 1024 * 1024)

struct store_mimecache;

struct store_mimecache_stats {
	size_t		 bytes, entries;
	uint64_t	 hits, misses, evictions;
};

struct store_mimecache *store_mimecache_new(size_t max_bytes);
void	 store_mimecache_free(struct store_mimecache **);

/*
 * The tree of message uid in mb: from the cache, or read (store_mbox_read())
 * and parsed, then cached. Valid until the next call on this cache. NULL
 * with errno and err set when the message cannot be read (ENOENT: not in
 * the index, or expunged). A tree larger than max_bytes is still returned
 * but not kept.
 */
const struct mime_part *store_mimecache_get(struct store_mimecache *,
	    struct store_mbox *mb, uint32_t uid, char *err, size_t errlen);
/* Drop mb's entries (before closing mb). */
void	 store_mimecache_forget(struct store_mimecache *,
	    const struct store_mbox *mb);
void	 store_mimecache_stats(const struct store_mimecache *,
	    struct store_mimecache_stats *);

#endif
