/*
 * dkim_canon: the message side of DKIM (RFC 6376): header and body
 * canonicalisation, the body hash and which header fields are signed.
 * No keys here; relay/dkim.h signs with what this produces.
 *
 * Input is a message as it goes on the wire: CRLF line ends, header
 * section, an empty line, body. Lines split at CRLF only; a bare CR or LF
 * is an ordinary byte (SMTP never hands us one: smtp/ refuses them).
 * A message without the empty line is all header and an empty body.
 *
 * Canonicalisation (RFC 6376 3.4):
 *   simple header:  the field byte for byte, folding included.
 *   relaxed header: name lower-cased, WSP before and after ':' removed,
 *                   value unfolded (each CRLF removed), every run of SP/HTAB
 *                   made one SP, WSP at the value's ends removed; "name:value"
 *                   CRLF.
 *   simple body:    as is, but every empty line at the end removed; a body
 *                   without a final CRLF gets one, and an empty body is CRLF.
 *   relaxed body:   WSP at the end of each line removed, runs of WSP inside a
 *                   line made one SP, empty lines at the end removed, the
 *                   last line ending in CRLF; an empty body stays empty
 *                   (RFC 6376 erratum 3966), so does one of only blank lines.
 * A last line without CRLF is treated as a line (it gets the CRLF).
 */
#ifndef RMAIL_RELAY_DKIM_CANON_H
#define RMAIL_RELAY_DKIM_CANON_H

#include <stddef.h>

#define DKIM_HASH_LEN	32	/* SHA-256 */

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

/*
 * Header fields rmail signs (lower case, in h= order), when present:
 * from, to, cc, subject, date, message-id, reply-to, mime-version,
 * content-type, in-reply-to, references. Each is listed once per instance
 * in the message; "from" once more than that (at least once, RFC 6376 5.4
 * makes it mandatory). The extra "from" matches no field (RFC 6376 5.4.2:
 * a name listed more often than it occurs signs the absent instance as
 * empty), so a From: added in transit breaks the signature (over-signing,
 * RFC 6376 8.15). A name is listed at most DKIM_HLIST_MAX_EACH times (the
 * bottom-most instances are the ones signed), so h= stays bounded.
 */
#define DKIM_HLIST_MAX_EACH	64

/*
 * Offset of the body in msg: just past the CRLF CRLF that ends the header
 * section, len when there is none (no body), 2 when msg starts with CRLF
 * (no header).
 */
size_t	 dkim_body_offset(const char *msg, size_t len);

/*
 * One header field (its name, ':', value and continuation lines; with or
 * without its final CRLF) canonicalised; a new allocation ending in CRLF,
 * its length in *len_r (also NUL-terminated).
 */
char	*dkim_canon_header(enum dkim_canon, const char *field, size_t len,
	    size_t *len_r);
/* The body canonicalised: a new allocation (NUL-terminated), length in
 * *len_r. For tests; signing hashes it as it goes (dkim_body_hash). */
char	*dkim_canon_body(enum dkim_canon, const char *body, size_t len,
	    size_t *len_r);
/* SHA-256 of the canonical body (no l=). 0, or -1 when OpenSSL fails. */
int	 dkim_body_hash(enum dkim_canon, const char *body, size_t len,
	    unsigned char hash_r[DKIM_HASH_LEN]);

/*
 * The h= value for the header section hdr (msg up to dkim_body_offset):
 * "from:from:to:subject:date:message-id", names separated by ':' with no
 * space. A new allocation; never empty (at least "from").
 */
char	*dkim_header_list(const char *hdr, size_t len);

/*
 * The signed header data for hlist (an h= value; names split at ':', WSP
 * and CRLF around them ignored, case-insensitive): for each name in turn
 * the last instance not used yet, counting from the bottom (RFC 6376
 * 5.4.2), canonicalised; nothing for a name with no instance left. A new
 * allocation, length in *len_r.
 */
char	*dkim_canon_headers(enum dkim_canon, const char *hdr, size_t len,
	    const char *hlist, size_t *len_r);

#endif
