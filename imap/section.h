/*
 * section: the body sections of FETCH BODY[...] and BODY.PEEK[...]
 * (RFC 3501 6.4.5), with an optional partial. BINARY[] (RFC 3516) is not
 * handled here. The RFC822, RFC822.HEADER and RFC822.TEXT items are the
 * caller's aliases for BODY[], BODY.PEEK[HEADER] and BODY[TEXT]; it names
 * them itself in the response.
 *
 *	section  = [part-number *("." part-number) ["." text]] | text
 *	text     = HEADER | HEADER.FIELDS (f ...) | HEADER.FIELDS.NOT (f ...)
 *	           | TEXT | MIME (MIME only after a part number)
 *	partial  = "<" offset "." count ">"   (only in requests)
 *
 * Part numbers (RFC 3501 6.4.5): n picks the nth child of a multipart; a
 * message that is not multipart has only part 1, its body. A number after
 * a message/rfc822 part goes into the embedded message (with the same
 * rule: "2.1" of a non-multipart embedded message is its body), and
 * HEADER* and TEXT after a message/rfc822 part apply to the embedded
 * message. message/global is a leaf, as in fmt.h's BODYSTRUCTURE.
 */
#ifndef RMAIL_IMAP_SECTION_H
#define RMAIL_IMAP_SECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/mime.h"

struct buf;

#define IMAP_SECTION_DEPTH	32	/* part numbers */
#define IMAP_SECTION_FIELDS	100	/* header field names */

enum imap_section_text {
	IMAP_SEC_ALL,		/* BODY[] or BODY[1.2]: the part's content */
	IMAP_SEC_HEADER,
	IMAP_SEC_FIELDS,
	IMAP_SEC_FIELDS_NOT,
	IMAP_SEC_TEXT,
	IMAP_SEC_MIME,
};

struct imap_section {
	uint32_t		 part[IMAP_SECTION_DEPTH];	/* >= 1 */
	size_t			 nparts;
	enum imap_section_text	 text;
	char			**fields;	/* FIELDS / FIELDS.NOT: names as
						 * sent, quotes removed */
	size_t			 nfields;
	bool			 partial;
	uint64_t		 offset, count;	/* partial <offset.count> */
};

/*
 * Parse what is between '[' and ']' (spec, a C string, e.g. "1.2.MIME" or
 * "HEADER.FIELDS (From \"To\")"; keywords in any case, field names atoms
 * or quoted strings) and an optional partial (a C string "<0.100>", or
 * NULL or "" for none) into sec. Returns 0, or -1 when either is malformed
 * (part number 0 or with a leading zero, more than IMAP_SECTION_DEPTH
 * part numbers, MIME without a part number, an empty field list or more
 * than IMAP_SECTION_FIELDS names, a number past 64 bits). A count of 0 is
 * accepted and gives an empty result. After -1 sec holds nothing to free;
 * imap_section_free() is harmless on it all the same.
 */
int	 imap_section_parse(const char *spec, const char *partial,
	    struct imap_section *sec);
/* Free the field names and reset sec to an empty BODY[]. */
void	 imap_section_free(struct imap_section *sec);

/*
 * Append what the FETCH response must name the item: "BODY[" section "]",
 * keywords upper-cased, part numbers in decimal, field names as requested
 * (atoms where possible, else quoted) separated by one space, then
 * "<offset>" for a partial (RFC 3501 7.4.2: the origin octet only), e.g.
 * BODY[1.HEADER.FIELDS (From To)]<0>. Returns 0, or -1 (ENOBUFS).
 */
int	 imap_section_name(struct buf *b, const struct imap_section *sec);

/*
 * The bytes of the section in the message data/len, parsed into root.
 * Sets *p_r and *len_r, and *copy_r to NULL or a buffer that the caller
 * frees and that *p_r points into. ALL, HEADER, TEXT and MIME are ranges
 * of data; HEADER.FIELDS and HEADER.FIELDS.NOT are built in *copy_r: the
 * matching (resp. other) fields of the header block, in their order and
 * with their continuation lines as stored, then a CRLF blank line (always,
 * even when nothing matched). Field names match case-insensitively. A
 * section that does not exist (no such part, HEADER/TEXT after a part that
 * is not message/rfc822) is empty, as RFC 3501 wants. The partial is then
 * applied: bytes from offset, at most count of them; an offset past the
 * end gives an empty result. Never fails.
 */
void	 imap_section_get(const char *data, size_t len,
	    const struct mime_part *root, const struct imap_section *sec,
	    const char **p_r, size_t *len_r, char **copy_r);

#endif
