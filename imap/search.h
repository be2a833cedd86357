/*
 * search: IMAP SEARCH programs (RFC 3501 6.4.4; ESEARCH RFC 4731 return
 * options are the command's business): parse the search keys into a tree,
 * then test messages against it.
 *
 * Semantics, where RFC 3501 leaves room:
 * - Keys are ASCII case-insensitive; a list of keys, at the top or in
 *   parentheses, is their AND.
 * - BEFORE, ON, SINCE compare the UTC calendar day of INTERNALDATE with
 *   the date. SENTBEFORE, SENTON, SENTSINCE compare the date written in
 *   the Date: field, disregarding its time and zone (imap_rfc5322_day); a
 *   message without a parseable Date: matches none of the three.
 * - LARGER n / SMALLER n: size > n / size < n (the RFC822.SIZE).
 * - FROM, TO, CC, BCC, SUBJECT and HEADER: some field of that name in the
 *   top-level header, unfolded and RFC 2047-decoded (for addresses the
 *   whole value: names and addresses), contains the string. An empty
 *   string matches every message having the field.
 * - BODY: the text of every text/ part, after Content-Transfer-Encoding
 *   (base64, quoted-printable) and conversion from its charset to UTF-8,
 *   and of messages embedded as message/rfc822 (their decoded header
 *   fields and their text parts); other parts are skipped. TEXT: any
 *   header field as "Name: decoded value", or BODY.
 * - String matching is a substring test folded to lower case for ASCII
 *   and the two-byte UTF-8 letters of Latin-1 Supplement, Latin
 *   Extended-A, Greek and Cyrillic (imap_search_text). An empty string is
 *   in every text.
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

/* Nesting of parenthesised lists, NOT and OR. */
#define IMAP_SEARCH_DEPTH_MAX	64
/* Keys in one program (each key, NOT, OR and list of two or more). */
#define IMAP_SEARCH_KEYS_MAX	10000

struct imap_search;

/*
 * What a search asks of a message. The caller fills the cheap fields
 * and provides data() to load the message (file bytes and parsed tree)
 * only when a key needs it (headers, body, Date:): it is called at most
 * once per imap_search_match().
 */
struct imap_search_msg {
	uint32_t		 seq, uid;
	struct store_flags	 flags;
	bool			 recent;
	uint64_t		 size;
	time_t			 internaldate;
	/* Load the message: 0 and *data_r, *len_r, *root_r (the tree from
	 * mime_parse() of those bytes), valid until imap_search_match()
	 * returns; or -1 (unreadable, e.g. expunged). NULL behaves as -1. */
	int			(*data)(void *arg, const char **data_r,
				    size_t *len_r, const struct mime_part **root_r);
	void			*arg;
};

/*
 * The context the keys resolve against, at parse time: sequence sets need
 * the highest sequence number and UID ('*'), keywords map to bits by name.
 */
struct imap_search_ctx {
	uint32_t	 max_seq, max_uid;
	/* The bit (0..25) of keyword name in the mailbox, or -1 when the
	 * mailbox has no such keyword (KEYWORD then matches nothing,
	 * UNKEYWORD everything). NULL: no keywords at all. */
	int		(*keyword)(void *arg, const char *name);
	void		*arg;
};

/*
 * Parse the search keys args[0..n-1] (after the command's own options). A
 * leading "CHARSET x" is handled here: UTF-8 and US-ASCII (any case) are
 * accepted; any other gives -1 with *badcharset_r true, for the caller's
 * "NO [BADCHARSET (UTF-8 US-ASCII)]". Strings are taken as UTF-8.
 * Returns 0 and *search_r (free with imap_search_free), or -1 with a
 * message in err (for BAD: unknown key, missing or invalid argument,
 * no keys, nesting past IMAP_SEARCH_DEPTH_MAX, more than
 * IMAP_SEARCH_KEYS_MAX keys) and *badcharset_r false. badcharset_r may be
 * NULL. ctx is used only during the call.
 */
int	 imap_search_parse(const struct imap_arg *args, size_t n,
	    const struct imap_search_ctx *ctx, struct imap_search **search_r,
	    bool *badcharset_r, char *err, size_t errlen);
/* Free and set *searchp to NULL; NULL is fine. */
void	 imap_search_free(struct imap_search **searchp);
/* True when some key needs the message data (header, body or Date:), so
 * the caller can skip preparing data() otherwise. */
bool	 imap_search_needs_data(const struct imap_search *);
/*
 * Does msg match? Keys needing no data are tried first within each AND
 * and OR, and the data is loaded only when a key still needs it. When
 * data() fails the message does not match (even under NOT). Allocates
 * nothing unless data is needed.
 */
bool	 imap_search_match(const struct imap_search *,
	    const struct imap_search_msg *msg);

/*
 * Case-insensitive substring search (the SEARCH text keys): needle (a C
 * string) in hay[0..haylen-1], both UTF-8, folded as described above.
 * Exposed for tests.
 */
bool	 imap_search_text(const char *hay, size_t haylen, const char *needle);

#endif
