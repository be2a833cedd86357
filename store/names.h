/*
 * names: IMAP mailbox names, their on-disk directory names, and modified
 * UTF-7 (RFC 3501 5.1.3).
 *
 * Layout (flat): every mailbox, at any hierarchy depth, is one directory
 * directly under USER/mailboxes/. Its name is the full mailbox name ('/' is
 * the hierarchy separator) decoded to UTF-8, so admins can read it, and
 * escaped so it is always exactly one safe path component:
 *
 *	'%'		-> "%25"
 *	'/'		-> "%2F"	(hierarchy stays inside the name)
 *	leading '.'	-> "%2E"	(no dot-files, no "." or "..")
 *
 * Control characters (< 0x20, 0x7f) are refused, never escaped, and the
 * result must fit NAME_MAX (255 bytes). Because nothing but these three
 * escapes is ever written, the reverse mapping accepts nothing else: a
 * directory made by hand is ignored rather than misread.
 *
 * Two layers: store_name_check() is the policy for names clients send
 * (no wildcards, no empty or "."/".." levels, INBOX canonicalised);
 * store_name_to_dir()/store_dir_to_name() are the plain codec, a bijection
 * between canonical modified UTF-7 names without control characters and
 * directory names up to 255 bytes. Lists built from directories should keep
 * only names that store_name_check() accepts unchanged.
 */
#ifndef RMAIL_STORE_NAMES_H
#define RMAIL_STORE_NAMES_H

#include <stddef.h>

/* On-disk name, NAME_MAX + NUL. */
#define STORE_DIRNAME_MAX	256
/*
 * Buffer for a canonical mUTF-7 mailbox name, NUL included. Enough for any
 * name whose directory fits STORE_DIRNAME_MAX: the worst expansion is an
 * isolated U+0080..U+07FF, 2 bytes on disk and 5 in mUTF-7 ("&AOk-").
 */
#define STORE_MNAME_MAX		1024

/*
 * Decode modified UTF-7 into NUL-terminated UTF-8 in out (outlen bytes).
 * 0, or -1 with errno EILSEQ when in is malformed or not in the canonical
 * form that mutf7_encode() writes (RFC 3501 5.1.3: only printable US-ASCII
 * 0x20..0x7e; '&' only as "&-"; base64 runs use ',' for '/', no padding,
 * end in '-', encode at least one character and never a printable ASCII
 * one, leave no extra characters and no non-zero leftover bits; UTF-16
 * surrogates come in pairs; no U+0000; no two runs back to back), or with
 * errno ENOBUFS when out is too small. out is unspecified on failure.
 */
int	 mutf7_decode(const char *in, char *out, size_t outlen);

/*
 * Encode NUL-terminated UTF-8 into canonical modified UTF-7 in out.
 * 0, or -1 with errno EILSEQ on invalid UTF-8 (bad sequences, overlongs,
 * surrogates, > U+10FFFF) or ENOBUFS when out is too small.
 */
int	 mutf7_encode(const char *utf8, char *out, size_t outlen);

/*
 * Validate a mailbox name as a client sent it (unquoted, modified UTF-7)
 * and write its canonical form to canon (canonlen bytes; STORE_MNAME_MAX
 * always suffices). The only change made is INBOX: a first hierarchy level
 * equal to "INBOX" in any case becomes "INBOX" (RFC 3501 5.1); every other
 * level keeps its case. A name accepted here always has a directory name
 * (store_name_to_dir() succeeds on canon).
 * 0, or -1 with *why_r set to a static, human-readable reason (empty,
 * control character, 8-bit byte, invalid mUTF-7, wildcard '*' or '%',
 * empty level, "." or ".." level, too long, buffer too small).
 */
int	 store_name_check(const char *mname, char *canon, size_t canonlen,
	    const char **why_r);

/*
 * Map a canonical mUTF-7 name to its directory name in dir (dirlen bytes;
 * STORE_DIRNAME_MAX always suffices). The result contains no '/', never
 * starts with '.', and is 1..255 bytes. 0, or -1 with *why_r set when the
 * name is empty, not canonical mUTF-7, holds a control character, or its
 * directory name is too long or does not fit dir.
 */
int	 store_name_to_dir(const char *canon_mname, char *dir, size_t dirlen,
	    const char **why_r);

/*
 * The reverse of store_name_to_dir(): 0 and the mUTF-7 name in mname (len
 * bytes), or -1 when dir is not exactly something store_name_to_dir() could
 * have written (escapes other than upper-case "%25", "%2F", and "%2E" at
 * the start; a raw leading '.' or any '/'; control characters; invalid
 * UTF-8; longer than 255 bytes) or mname is too small.
 */
int	 store_dir_to_name(const char *dir, char *mname, size_t len);

#endif
