/*
 * mime: parse a stored message into a MIME tree (RFC 2045, 2046, 2047,
 * 2231, 5322) for IMAP FETCH BODYSTRUCTURE / ENVELOPE / BODY[section]
 * (RFC 3501 7.4.2) and SEARCH.
 *
 * Every function takes (data, len) and never reads past len nor assumes NUL
 * termination, except where a parameter is documented as a C string.
 * Malformed input always parses to something usable; nothing here fails
 * except by aborting on out-of-memory (xmalloc).
 */
#ifndef RMAIL_MIME_H
#define RMAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Multiparts and message/rfc822 nested deeper than this are leaves. */
#define MIME_MAX_DEPTH		32
/* Parts per message; past this a multipart's last child runs to its end. */
#define MIME_MAX_PARTS		10000
/* Parameters kept per Content-Type / Content-Disposition field. */
#define MIME_MAX_PARAMS		64
/* Host given to an address without one, as UW-IMAP does, so that a NULL
 * host keeps meaning "group start" in an IMAP ENVELOPE. */
#define MIME_ADDR_MISSING_HOST	".MISSING-HOST-NAME."

struct mime_param {
	char	*name;		/* lower-cased */
	char	*value;		/* RFC 2231 sections joined and %-decoded, or
				 * RFC 2047 words decoded; valid UTF-8 */
};

struct mime_part {
	/* Byte ranges into the data given to mime_parse(). The header block
	 * runs from the part start up to and including the blank line that
	 * ends it; without a blank line it is the whole part and the body is
	 * empty (body_off = end of part). The body ends before the line break
	 * that precedes the next boundary delimiter (RFC 2046 5.1.1). */
	size_t	 hdr_off, hdr_len;
	size_t	 body_off, body_len;
	/* Lines in the body: LFs, plus one if the body does not end with LF.
	 * Counted for every part; IMAP shows it for text/ and message/rfc822. */
	size_t	 body_lines;

	/* Lower-cased. Without a valid Content-Type: text/plain, or
	 * message/rfc822 inside multipart/digest (RFC 2045 5.2, 2046 5.1.5).
	 * No default charset parameter is invented: an IMAP writer wanting
	 * ("charset" "us-ascii") adds it itself. */
	char	*type, *subtype;
	struct mime_param *params;		/* Content-Type parameters */
	size_t	 nparams;

	/* Unfolded field values, not RFC 2047-decoded (IMAP sends them as
	 * they are), or NULL when absent. encoding is the
	 * lower-cased Content-Transfer-Encoding token, default "7bit". */
	char	*id, *description, *encoding, *md5;
	char	*disposition;			/* lower-cased token, or NULL */
	struct mime_param *disp_params;
	size_t	 ndisp_params;
	char	*language, *location;

	/* multipart/ only: the body parts between the delimiters (preamble
	 * and epilogue are not parts). May be 0 when no delimiter was found;
	 * IMAP writers must then invent an empty text/plain child. */
	struct mime_part *children;
	size_t	 nchildren;
	/* message/rfc822 and message/global: the embedded message's root, or
	 * NULL (too deep, or encoded with base64/quoted-printable). */
	struct mime_part *message;
};

/* Parse a whole message. Never returns NULL; release with mime_free(). */
struct mime_part *mime_parse(const char *data, size_t len);
/* Free a tree from mime_parse() and set *pp to NULL. NULL is fine. */
void	 mime_free(struct mime_part **pp);
/* Heap bytes held by a tree (its allocations' requested sizes), for
 * caches with a memory bound. */
size_t	 mime_mem_size(const struct mime_part *);
/* Value of parameter name (case-insensitive) or NULL. */
const char *mime_param_get(const struct mime_param *, size_t n,
	    const char *name);

/*
 * Header blocks (RFC 5322 2.2). hdr/len is a block as given by hdr_off and
 * hdr_len. mime_header_next() starts at *pos = 0 and returns 1 with the next
 * field's name and raw (still folded) value, pointing into hdr, advancing
 * *pos; it returns 0 at the blank line or the end. Lines that are not
 * "name: value" (no colon, blank in the name) are skipped.
 */
int	 mime_header_next(const char *hdr, size_t len, size_t *pos,
	    const char **name_r, size_t *namelen_r,
	    const char **val_r, size_t *vallen_r);
/* Value of the first field called name (case-insensitive), unfolded
 * (line breaks removed, leading and trailing blanks trimmed), malloc'd; or
 * NULL when there is none. */
char	*mime_header_get(const char *hdr, size_t len, const char *name);
/* Unfold a raw value as mime_header_get() does; malloc'd, never NULL. */
char	*mime_header_unfold(const char *val, size_t len);

/* RFC 2047: decode encoded-words in a C string to UTF-8. Adjacent
 * encoded-words are joined (the blanks between them dropped, and their
 * bytes joined before charset conversion, so a character split across two
 * words survives). Malformed words are left as they are; other bytes are
 * kept when valid UTF-8, else replaced by U+FFFD. malloc'd, never NULL. */
char	*mime_decode_words(const char *s);

/*
 * Addresses, as an IMAP ENVELOPE wants them: a group start has mailbox set
 * to the group name and host NULL; a group end has all four NULL. name is
 * the decoded display name (or the comment of "a@b (Name)"), adl the
 * source route ("@a,@b"), NULL when absent. A mailbox without a host gets
 * MIME_ADDR_MISSING_HOST. A quoted local part keeps its quotes.
 */
struct mime_addr {
	char	*name, *adl, *mailbox, *host;
	bool	 group_start, group_end;
};
/* Parse an address-list (a C string: an unfolded header value). Tolerant:
 * junk is skipped, an unclosed group is closed. Returns the count and
 * *addrs_r (NULL when 0); free with mime_addrs_free(). */
size_t	 mime_parse_addresses(const char *s, struct mime_addr **addrs_r);
void	 mime_addrs_free(struct mime_addr *, size_t);

/* Base64 (RFC 2045 6.8) into out, which holds at least n * 3 / 4 + 3 bytes.
 * Whitespace and line breaks are skipped; decoding stops at '=' or at any
 * other byte outside the alphabet. Returns the decoded length. */
size_t	 mime_decode_base64(const char *in, size_t n, char *out);
/* Quoted-printable (RFC 2045 6.7) into out, which holds at least n bytes:
 * soft line breaks removed, =XX decoded, blanks before a line break
 * dropped, invalid '=' sequences kept as they are. Returns the length. */
size_t	 mime_decode_qp(const char *in, size_t n, char *out);
/* Convert n bytes in charset (NULL or "" means UTF-8/US-ASCII) to UTF-8
 * with iconv. Bytes invalid in the charset, and any input in an unknown
 * charset, become U+FFFD or are validated as UTF-8: it never fails. The
 * result is NUL-terminated, malloc'd, its length in *outlen_r (may be NULL). */
char	*mime_to_utf8(const char *charset, const char *in, size_t n,
	    size_t *outlen_r);

#endif
