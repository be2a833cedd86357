/*
 * listmatch: LIST/LSUB mailbox patterns (RFC 3501 6.3.8-6.3.9).
 *
 * A pattern is matched against canonical mailbox names (store/names.h),
 * '/' being the hierarchy separator: '*' matches any run of characters,
 * '%' any run without '/', every other byte itself. The name "INBOX" is
 * case-insensitive (RFC 3501 5.1): when a name's first level is INBOX,
 * its first five characters match the pattern whatever the pattern's
 * case, so "inbox", "Inbox/%" and "inb*" find INBOX and its children.
 *
 * The match is an NFA walk, O(pattern * name) time and O(pattern) memory
 * whatever the wildcards (no exponential backtracking on "*a*a*a*b").
 */
#ifndef RMAIL_IMAP_LISTMATCH_H
#define RMAIL_IMAP_LISTMATCH_H

#include <stdbool.h>
#include <stddef.h>

/* Longest pattern (after joining the reference) that is matched at all;
 * longer ones match nothing (no name is longer than STORE_MNAME_MAX). */
#define IMAP_LIST_PATTERN_MAX	4096

/*
 * The full pattern of "LIST reference pattern": the reference with the
 * pattern appended (RFC 3501 6.3.8), one '/' dropped when the reference
 * ends in '/' and the pattern starts with one. A new allocation.
 */
char	*imap_list_join(const char *ref, const char *pattern);

/*
 * A pattern compiled for matching many names (runs of wildcards folded:
 * "%*" is "*", "%%" is "%"), with its scratch space: matching allocates
 * nothing. Never fails; a pattern longer than IMAP_LIST_PATTERN_MAX
 * compiles to one that matches nothing.
 */
struct imap_listpat;

struct imap_listpat *imap_listpat_new(const char *pattern);
void	 imap_listpat_free(struct imap_listpat **);
/* True when name (canonical) matches the pattern. */
bool	 imap_listpat_match(struct imap_listpat *, const char *name);

/* The same for one name: compile, match, free. */
bool	 imap_list_match(const char *pattern, const char *name);

#endif
