/*
 * fname: the message filename codec of the store (DESIGN.md "The store").
 *
 *	SHARD/UUUUUUUU_FLAGS.eml
 *
 * UUUUUUUU is the UID in decimal, zero-padded to at least eight digits
 * (UIDs above 99999999 simply use more digits). FLAGS is the system flags
 * as upper-case letters in alphabetical order (A=\Answered D=\Deleted
 * F=\Flagged S=\Seen T=\Draft), then the keywords as lower-case letters
 * a..z, where letter 'a'+i is bit i of the keyword mask and names entry i
 * of the mailbox's keyword list. SHARD is uid / 1000, zero-padded to at
 * least four digits.
 *
 * Parsing is strict: only the exact output of the formatter is accepted,
 * so two different file names can never denote the same message, and
 * dot-files (temporary files) never parse.
 */
#ifndef RMAIL_STORE_FNAME_H
#define RMAIL_STORE_FNAME_H

#include <stddef.h>
#include <stdint.h>

/* System flag bits (RFC 3501 2.3.2). */
enum {
	STORE_F_ANSWERED	= 1,
	STORE_F_DELETED		= 2,
	STORE_F_FLAGGED		= 4,
	STORE_F_SEEN		= 8,
	STORE_F_DRAFT		= 16,
};
#define STORE_F_ALL	0x1f

/* At most 26 keywords per mailbox: one lower-case letter each. */
#define STORE_KW_MAX	26
#define STORE_KW_ALL	((uint32_t)0x3ffffff)

struct store_flags {
	uint8_t		 sys;	/* STORE_F_* bits */
	uint32_t	 kw;	/* bit i = keyword list entry i, i < 26 */
};

/* 10 digits + '_' + 5 + 26 letters + ".eml" + NUL = 47; rounded up. */
#define STORE_FNAME_MAX	64
/* 7 digits (4294967295 / 1000) + NUL; rounded up. */
#define STORE_SHARD_MAX	16

/*
 * Write the file name of uid with flags into buf, NUL-terminated; returns
 * its length (excluding the NUL). Never fails: bits outside STORE_F_ALL
 * and STORE_KW_ALL are ignored, so callers must not rely on them being
 * stored. uid must be non-zero (asserted).
 */
size_t	 store_fname_format(uint32_t uid, const struct store_flags *,
	    char buf[STORE_FNAME_MAX]);

/*
 * Parse a file name. Returns 0 and fills *uid_r and *flags_r only when name
 * is exactly what store_fname_format() would produce for some uid 1..
 * UINT32_MAX; otherwise -1 and the outputs are untouched.
 */
int	 store_fname_parse(const char *name, uint32_t *uid_r,
	    struct store_flags *flags_r);

/* Write the shard directory name of uid into buf; returns its length. */
size_t	 store_shard_format(uint32_t uid, char buf[STORE_SHARD_MAX]);

/*
 * Parse a shard directory name. 0 and *shard_r = uid / 1000 of the UIDs it
 * holds, only for canonical names (what store_shard_format() writes for
 * some uid); otherwise -1 and *shard_r is untouched.
 */
int	 store_shard_parse(const char *name, uint32_t *shard_r);

/*
 * Map an IMAP system flag name ("\Seen", any case) to its STORE_F_* bit.
 * 0 and *sys_r set, or -1 when flagname is not one of the five stored
 * system flags (\Recent is session state, never stored, so it is -1 too).
 */
int	 store_flags_from_imap(const char *flagname, uint8_t *sys_r);

/* The IMAP spelling ("\Seen") of a single STORE_F_* bit, or NULL when bit
 * is not exactly one known flag. */
const char	*store_flag_imap_name(uint8_t bit);

#endif
