/* base64: RFC 4648 standard alphabet, strict decoding. */
#ifndef RMAIL_BASE64_H
#define RMAIL_BASE64_H

#include <stddef.h>
#include <sys/types.h>

/* Decoded size bound for n input bytes. */
#define BASE64_DECODED_MAX(n)	(((n) + 3) / 4 * 3)
/* Encoded size for n input bytes, excluding the NUL. */
#define BASE64_ENCODED_LEN(n)	(((n) + 2) / 3 * 4)

/*
 * The 6-bit value of one base64 character, or -1. sym63 is the alphabet's
 * last symbol: '/' in RFC 4648, ',' in IMAP's modified UTF-7 (RFC 3501
 * 5.1.3).
 */
int	base64_value(unsigned char c, char sym63);

/* Decode n chars of in (padding required, no whitespace) into out.
 * Returns the decoded length, or -1 when malformed. */
ssize_t	base64_decode(const char *in, size_t n, unsigned char *out);
/* Encode n bytes into out (BASE64_ENCODED_LEN(n) + 1 bytes, NUL-terminated). */
size_t	base64_encode(const unsigned char *in, size_t n, char *out);

#endif
