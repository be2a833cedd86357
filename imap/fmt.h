/*
 * fmt: writing IMAP data items (RFC 3501 9) into a struct buf: strings
 * (quoted when safe, else a literal), nstrings, astrings, and the two
 * structures FETCH builds from a parsed message (store/mime.h): ENVELOPE
 * and BODY/BODYSTRUCTURE.
 *
 * Every writer appends to b and returns 0, or -1 with errno ENOBUFS when
 * b's cap was reached; b then holds a truncated item and the caller must
 * drop the whole response.
 */
#ifndef RMAIL_IMAP_FMT_H
#define RMAIL_IMAP_FMT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "store/mime.h"

/* Strings of this many bytes or more always go as literals. */
#define IMAP_FMT_QUOTED_MAX	4096

/* A string: quoted ("..." with \ and " escaped) when len <
 * IMAP_FMT_QUOTED_MAX and it has no CR, LF, NUL or 8-bit byte, else a
 * literal {len}\r\n<bytes>. */
int	 imap_fmt_string(struct buf *b, const char *s, size_t len);
/* The same for a C string, or NIL for NULL. */
int	 imap_fmt_nstring(struct buf *b, const char *s);
/* An astring (RFC 3501 ASTRING-CHAR): an atom when s is non-empty, has
 * no atom-specials other than ']' and is not "NIL" in any case, else as
 * imap_fmt_string(). For mailbox names in LIST. */
int	 imap_fmt_astring(struct buf *b, const char *s);

/*
 * ENVELOPE (RFC 3501 7.4.2), parentheses included, of the message whose
 * header block is data[part->hdr_off .. +hdr_len]:
 *
 *	(date subject from sender reply-to to cc bcc in-reply-to message-id)
 *
 * Each field is the first of its name; NIL when absent. date, subject,
 * in-reply-to and message-id are the unfolded raw values, not RFC 2047-
 * decoded. Address lists are ((name adl mailbox host) ...), NIL when the
 * field is absent or holds no address; a group is (NIL NIL "name" NIL)
 * ... (NIL NIL NIL NIL). sender and reply-to are from's list when they
 * are absent or hold no address (RFC 3501). Display names are sent as
 * written (encoded-words left encoded, quotes removed, words joined by one
 * space, as Dovecot does); an 8-bit name that is not valid UTF-8 has its
 * bad bytes replaced by U+FFFD (store/mime.h). For the ENVELOPE of a
 * message/rfc822 part pass part->message.
 */
int	 imap_fmt_envelope(struct buf *b, const char *data, size_t len,
	    const struct mime_part *part);

/*
 * BODY (extended false) or BODYSTRUCTURE (true) of part, recursively: the
 * RFC 3501 "body" production, parentheses included. As Dovecot writes it:
 *
 *  - multipart: (child)(child)... "subtype", then when extended the
 *    parameters (or NIL), disposition, language, location. A multipart
 *    without children shows one empty text/plain child.
 *  - other: "type" "subtype" params id description "encoding" size,
 *    then lines for text/ parts, or envelope body lines for
 *    message/rfc822, then when extended md5 disposition language
 *    location. Type, subtype and
 *    encoding are lower-case as store/mime.h gives them; size is body_len
 *    and lines body_lines. A text part without a charset parameter gets
 *    "charset" "us-ascii" appended to its parameters. A message/rfc822
 *    part that store/mime.h did not parse (encoded, too deep) shows an
 *    all-NIL envelope and an empty text/plain body. message/global is
 *    written as a basic part (IMAP4rev1 knows only message/rfc822).
 *  - params: ("name" "value" ...) or NIL. A value with 8-bit bytes (the
 *    UTF-8 that store/mime.h decoded from RFC 2231 or RFC 2047) is sent
 *    RFC 2231-encoded as "name*" "utf-8''%XX..." so that it stays 7-bit.
 *  - disposition: ("token" params) or NIL; language: ("tag" ...) or NIL
 *    (Content-Language split at commas); id, description, md5, location:
 *    nstrings.
 */
int	 imap_fmt_bodystructure(struct buf *b, const char *data, size_t len,
	    const struct mime_part *part, bool extended);

#endif
