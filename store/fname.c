/*
 * fname: message file and shard directory names. See fname.h.
 *
 * The parser accepts exactly one spelling per (uid, flags) pair. Flag
 * changes are renames, and a scan that found both "00000007_S.eml" and
 * "00000007_.eml" could not tell which is current; refusing everything
 * non-canonical keeps that from ever being a question.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "store/fname.h"

#define UID_PAD		8
#define SHARD_PAD	4

/* In alphabetical order of their letters: the file name order. */
static const struct sysflag {
	char		 letter;
	uint8_t		 bit;
	const char	*imap;
} sysflags[] = {
	{ 'A', STORE_F_ANSWERED,	"\\Answered" },
	{ 'D', STORE_F_DELETED,		"\\Deleted" },
	{ 'F', STORE_F_FLAGGED,		"\\Flagged" },
	{ 'S', STORE_F_SEEN,		"\\Seen" },
	{ 'T', STORE_F_DRAFT,		"\\Draft" },
};

/*
 * Parse the canonical zero-padded decimal at *sp, at least pad digits, with
 * no leading zero beyond the padding. Advances *sp past the digits.
 * 0, or -1 when absent, non-canonical or above max.
 */
static int
parse_padded(const char **sp, size_t pad, uint32_t max, uint32_t *v_r)
{
	const char	*s = *sp;
	uint64_t	 v = 0;
	size_t		 n = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		v = v * 10 + (uint64_t)(s[n] - '0');
		if (v > max)
			return -1;	/* also stops runaway digit strings */
		n++;
	}
	if (n < pad)
		return -1;
	/* Longer than the padding: the printf %0Nu output has no zero lead. */
	if (n > pad && s[0] == '0')
		return -1;
	*sp = s + n;
	*v_r = (uint32_t)v;
	return 0;
}

size_t
store_fname_format(uint32_t uid, const struct store_flags *fl,
    char buf[STORE_FNAME_MAX])
{
	size_t	 i;
	int	 n;

	assert(uid != 0);
	n = snprintf(buf, STORE_FNAME_MAX, "%0*" PRIu32 "_", UID_PAD, uid);
	assert(n > 0 && n < STORE_FNAME_MAX);
	for (i = 0; i < NELEM(sysflags); i++)
		if (fl->sys & sysflags[i].bit)
			buf[n++] = sysflags[i].letter;
	for (i = 0; i < STORE_KW_MAX; i++)
		if (fl->kw & ((uint32_t)1 << i))
			buf[n++] = (char)('a' + i);
	memcpy(buf + n, ".eml", 5);
	return (size_t)n + 4;
}

int
store_fname_parse(const char *name, uint32_t *uid_r,
    struct store_flags *flags_r)
{
	const char	*s = name;
	struct store_flags fl = { 0, 0 };
	uint32_t	 uid;
	size_t		 next = 0;	/* first sysflags[] entry still allowed */
	int		 lastkw = -1;

	if (parse_padded(&s, UID_PAD, UINT32_MAX, &uid) == -1 || uid == 0)
		return -1;
	if (*s++ != '_')
		return -1;
	/* Strictly increasing letters: in order and no duplicates. */
	for (; *s >= 'A' && *s <= 'Z'; s++) {
		while (next < NELEM(sysflags) && sysflags[next].letter < *s)
			next++;
		if (next == NELEM(sysflags) || sysflags[next].letter != *s)
			return -1;
		fl.sys |= sysflags[next++].bit;
	}
	for (; *s >= 'a' && *s <= 'z'; s++) {
		if (*s - 'a' <= lastkw)
			return -1;
		lastkw = *s - 'a';
		fl.kw |= (uint32_t)1 << lastkw;
	}
	if (strcmp(s, ".eml") != 0)
		return -1;
	*uid_r = uid;
	*flags_r = fl;
	return 0;
}

size_t
store_shard_format(uint32_t uid, char buf[STORE_SHARD_MAX])
{
	int	 n;

	n = snprintf(buf, STORE_SHARD_MAX, "%0*" PRIu32, SHARD_PAD,
	    uid / 1000);
	assert(n > 0 && n < STORE_SHARD_MAX);
	return (size_t)n;
}

int
store_shard_parse(const char *name, uint32_t *shard_r)
{
	const char	*s = name;
	uint32_t	 shard;

	if (parse_padded(&s, SHARD_PAD, UINT32_MAX / 1000, &shard) == -1 ||
	    *s != '\0')
		return -1;
	*shard_r = shard;
	return 0;
}

int
store_flags_from_imap(const char *flagname, uint8_t *sys_r)
{
	size_t	 i;

	/* RFC 3501 2.3.2: flag names are case-insensitive. */
	for (i = 0; i < NELEM(sysflags); i++) {
		if (ascii_casecmp(flagname, sysflags[i].imap) == 0) {
			*sys_r = sysflags[i].bit;
			return 0;
		}
	}
	return -1;
}

const char *
store_flag_imap_name(uint8_t bit)
{
	size_t	 i;

	for (i = 0; i < NELEM(sysflags); i++)
		if (sysflags[i].bit == bit)
			return sysflags[i].imap;
	return NULL;
}
