/*
 * section: the body sections of FETCH BODY[...] / BODY.PEEK[...] /
 * BINARY... no: RFC 3501 6.4.5 only, and the RFC822* aliases.
 *
 *	section  = [part-number ("." part-number)*] ["." text] | text
 *	text     = HEADER | HEADER.FIELDS (f ...) | HEADER.FIELDS.NOT (f ...)
 *	           | TEXT | MIME (MIME only after a part number)
 *	partial  = "<" offset "." count ">"   (only in requests)
 */
#ifndef RMAIL_IMAP_SECTION_H
#define RMAIL_IMAP_SECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/mime.h"

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
	uint32_t		 part[IMAP_SECTION_DEPTH];
	size_t			 nparts;
	enum imap_section_text	 text;
	char			**fields;	/* FIELDS / FIELDS.NOT, as sent */
	size_t			 nfields;
	bool			 partial;
	uint64_t		 offset, count;	/* partial <offset.count> */
};

/*
 * Parse what is between '[' and ']' (spec, a C string, e.g. "1.2.MIME" or
 * "HEADER.FIELDS (From To)") and an optional partial (C string "<0.100>",
 * or NULL/"" for none) into sec. 0, or -1 when malformed (sec then needs no
 * free). Free the fields with imap_section_free().
 */
int	 imap_section_parse(const char *spec, const char *partial,
	    struct imap_section *sec);
void	 imap_section_free(struct imap_section *sec);

/*
 * Write the section name as a FETCH response names it ("BODY[" spec "]"
 * with the field names as given upper-cased... as Dovecot: the request's
 * text, and "<offset>" for a partial) into b. Returns 0 or -1 (ENOBUFS).
 */
struct buf;
int	 imap_section_name(struct buf *b, const struct imap_section *sec);

/*
 * The bytes of the section in message data/len (parsed into root). For
 * ALL/HEADER/TEXT/MIME the result is a range of data (*copy_r NULL); for
 * FIELDS/FIELDS.NOT a new allocation in *copy_r (the matching fields in
 * their order in the message, each with its folded lines, then the blank
 * line). The partial is applied. A part number that does not exist gives
 * an empty result (RFC 3501: "" for a nonexistent section). Returns 0 and
 * *p_r/*len_r (pointing into data or *copy_r, which the caller frees).
 * Never fails.
 */
void	 imap_section_get(const char *data, size_t len,
	    const struct mime_part *root, const struct imap_section *sec,
	    const char **p_r, size_t *len_r, char **copy_r);

#endif
