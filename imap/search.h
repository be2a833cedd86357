/*
 * search: IMAP SEARCH programs (RFC 3501 6.4.4, ESEARCH RFC 4731
 * return options are the command's business): parse the search keys into
 * a tree, then test messages against it.
 */
#ifndef RMAIL_IMAP_SEARCH_H
#define RMAIL_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap/parser.h"
#include "store/fname.h"
#include "store/mime.h"

struct imap_search;

/*
 * What a search asks of a message. The caller fills the cheap fields
 * and provides data() to load the message (file bytes and parsed tree)
 * only when a key needs it (headers, body, Date:).
 */
struct imap_search_msg {
	uint32_t		 seq, uid;
	struct store_flags	 flags;
	bool			 recent;
	uint64_t		 size;
	time_t			 internaldate;
	/* Load the message: 0 and *data_r/*len_r/*root_r (valid until the
	 * next call), or -1 (unreadable, e.g. expunged: the message then
	 * matches no key that needs it). */
	int			(*data)(void *arg, const char **data_r,
				    size_t *len_r, const struct mime_part **root_r);
	void			*arg;
};

/*
 * The context the keys resolve against: sequence sets need the highest
 * sequence number and UID ('*'), keywords map to bits by name.
 */
struct imap_search_ctx {
	uint32_t	 max_seq, max_uid;
	/* The bit (0..25) of keyword name in the mailbox, or -1 when the
	 * mailbox has no such keyword (KEYWORD then matches nothing,
	 * UNKEYWORD everything). */
	int		(*keyword)(void *arg, const char *name);
	void		*arg;
};

/*
 * Parse the search keys args[0..n-1] (after the command's own options: a
 * leading "CHARSET x" is handled here; UTF-8 and US-ASCII accepted, any
 * other gives -1 with *badcharset_r true for [BADCHARSET (UTF-8 US-ASCII)]).
 * Returns 0 and *search_r, or -1 with err set (BAD).
 */
int	 imap_search_parse(const struct imap_arg *args, size_t n,
	    const struct imap_search_ctx *ctx, struct imap_search **search_r,
	    bool *badcharset_r, char *err, size_t errlen);
void	 imap_search_free(struct imap_search **);
/* True when some key needs the message data (so the caller can skip
 * loading it otherwise). */
bool	 imap_search_needs_data(const struct imap_search *);
/* Does msg match? */
bool	 imap_search_match(const struct imap_search *,
	    const struct imap_search_msg *msg);

/*
 * Case-insensitive substring search (the SEARCH text keys): needle and
 * hay are UTF-8; ASCII and the common Latin, Greek and Cyrillic letters
 * are folded. Exposed for tests.
 */
bool	 imap_search_text(const char *hay, size_t haylen, const char *needle);

#endif
