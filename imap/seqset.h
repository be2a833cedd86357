/*
 * seqset: IMAP sequence sets (RFC 3501 9 "sequence-set"): "1,3:5,7:*",
 * ranges in either order, '*' meaning the largest number in use, and the
 * "$" of SEARCHRES is not supported (a parse error).
 */
#ifndef RMAIL_IMAP_SEQSET_H
#define RMAIL_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* '*' before resolution: 0, which no seq-number can be (UINT32_MAX is a
 * valid number: "UID FETCH 1:4294967295"). */
#define IMAP_SEQ_STAR		0
#define IMAP_SEQSET_MAX		10000		/* ranges per set */

struct imap_range {
	uint32_t	 lo, hi;	/* lo <= hi after resolution */
};

struct imap_seqset {
	struct imap_range	*r;
	size_t			 n;
};

/* Parse s (a C string). 0, or -1 (empty, 0, junk, too many ranges): *set
 * is then empty. Numbers are 1..4294967295 with no leading '+' or '-'. */
int	 imap_seqset_parse(const char *s, struct imap_seqset *set);
void	 imap_seqset_free(struct imap_seqset *set);
/*
 * Replace '*' with star (the highest sequence number or UID; 0 for an
 * empty mailbox, where "*" then matches nothing for sequence numbers but
 * RFC 3501 6.4.8 says "UID n:*" matches the highest UID, so callers pass
 * the highest uid or, when empty, 0), order each range lo <= hi, sort and
 * merge overlapping or adjacent ranges. As 0 is never a sequence number
 * or UID, a range reaching 0 (star 0) starts at 1 instead and "*" alone
 * is dropped: with star 0 the set may become empty.
 */
void	 imap_seqset_resolve(struct imap_seqset *set, uint32_t star);
/* Membership after resolve: binary search. */
bool	 imap_seqset_has(const struct imap_seqset *set, uint32_t v);

#endif
