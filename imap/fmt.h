/*
 * fmt: writing IMAP data items (RFC 3501 9) into a struct buf: strings
 * (quoted when safe, else a literal), nstrings, and the two structures
 * FETCH builds from a parsed message (store/mime.h): ENVELOPE and
 * BODY/BODYSTRUCTURE.
 *
 * Every writer appends to b and returns 0, or -1 (ENOBUFS: b's cap).
 */
#ifndef RMAIL_IMAP_FMT_H
#define RMAIL_IMAP_FMT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "store/mime.h"

/* A string: quoted ("..." with \ and " escaped) when len < 4096 and it has
 * no CR, LF, NUL or 8-bit byte, else a literal {len}\r\n<bytes>. */
int	 imap_fmt_string(struct buf *b, const char *s, size_t len);
/* The same for a C string, or NIL for NULL. */
int	 imap_fmt_nstring(struct buf *b, const char *s);
/* An astring: an atom when s is a non-empty atom (no atom-specials, not
 * "NIL"), else as imap_fmt_string(). For mailbox names in LIST. */
int	 imap_fmt_astring(struct buf *b, const char *s);

/*
 * ENVELOPE (RFC 3501 7.4.2) of the message whose header block is
 * data[part->hdr_off .. +hdr_len]: (date subject from sender reply-to to
 * cc bcc in-reply-to message-id), sender and reply-to defaulting to from,
 * addresses per store/mime.h, strings as sent (not RFC 2047-decoded).
 * For BODY[x] of a message/rfc822 part pass part->message.
 */
int	 imap_fmt_envelope(struct buf *b, const char *data, size_t len,
	    const struct mime_part *part);

/*
 * BODY (extended false) or BODYSTRUCTURE (true) of part, recursively
 * (RFC 3501 7.4.2 with RFC 3501 extension data: body-ext-1part md5,
 * disposition, language, location; body-ext-mpart parameters, disposition,
 * language, location). text/* gets ("charset" "us-ascii") when it has no
 * parameters... only when it has no charset param? As Dovecot: a text part
 * without parameters gets ("charset" "us-ascii"). A multipart without
 * children shows one empty text/plain child. message/rfc822 shows the
 * envelope, body structure and line count of the embedded message.
 */
int	 imap_fmt_bodystructure(struct buf *b, const char *data, size_t len,
	    const struct mime_part *part, bool extended);

#endif
