/* listmatch: LIST/LSUB mailbox patterns. See listmatch.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "imap/listmatch.h"

struct imap_listpat {
	char		*pat;	/* wildcard runs folded */
	size_t		 len;
	bool		 never;	/* too long: matches nothing */
	/* NFA state sets: positions in pat (len = accepted). */
	uint32_t	*cur, *nxt;
	size_t		 ncur, nnxt;
	uint32_t	*mark;	/* mark[st] == gen: st is in nxt */
	uint32_t	 gen;
};

static bool
is_wild(char c)
{
	return c == '*' || c == '%';
}

struct imap_listpat *
imap_listpat_new(const char *pattern)
{
	struct imap_listpat	*lp;
	size_t			 n, i, o;
	bool			 star;

	lp = xcalloc(1, sizeof(*lp));
	n = strlen(pattern);
	if (n > IMAP_LIST_PATTERN_MAX) {
		lp->never = true;
		n = 0;
	}
	lp->pat = xmalloc(n + 1);
	for (i = o = 0; i < n; ) {
		if (!is_wild(pattern[i])) {
			lp->pat[o++] = pattern[i++];
			continue;
		}
		for (star = false; i < n && is_wild(pattern[i]); i++)
			star |= pattern[i] == '*';
		lp->pat[o++] = star ? '*' : '%';
	}
	lp->pat[o] = '\0';
	lp->len = o;
	lp->cur = xcalloc(o + 1, sizeof(*lp->cur));
	lp->nxt = xcalloc(o + 1, sizeof(*lp->nxt));
	lp->mark = xcalloc(o + 1, sizeof(*lp->mark));
	return lp;
}

void
imap_listpat_free(struct imap_listpat **lpp)
{
	struct imap_listpat *lp = *lpp;

	if (lp == NULL)
		return;
	free(lp->pat);
	free(lp->cur);
	free(lp->nxt);
	free(lp->mark);
	free(lp);
	*lpp = NULL;
}

/* Add state st to nxt, with its closure: a wildcard may match nothing, so
 * the state after it is reached too (runs are folded: at most one step). */
static void
add_state(struct imap_listpat *lp, uint32_t st)
{
	for (;;) {
		if (lp->mark[st] == lp->gen)
			return;
		lp->mark[st] = lp->gen;
		lp->nxt[lp->nnxt++] = st;
		if (st >= lp->len || !is_wild(lp->pat[st]))
			return;
		st++;
	}
}

/* Start a new nxt set. */
static void
new_gen(struct imap_listpat *lp)
{
	if (++lp->gen == 0) {
		memset(lp->mark, 0, (lp->len + 1) * sizeof(*lp->mark));
		lp->gen = 1;
	}
	lp->nnxt = 0;
}

static void
swap_sets(struct imap_listpat *lp)
{
	uint32_t *t = lp->cur;

	lp->cur = lp->nxt;
	lp->nxt = t;
	lp->ncur = lp->nnxt;
}

static char
ascii_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

bool
imap_listpat_match(struct imap_listpat *lp, const char *name)
{
	size_t	 k, i;
	uint32_t st;
	char	 p, c;
	bool	 inbox;

	if (lp->never)
		return false;
	/* RFC 3501 5.1: INBOX in any case (names are canonical: "INBOX"). */
	inbox = strncmp(name, "INBOX", 5) == 0 &&
	    (name[5] == '\0' || name[5] == '/');
	new_gen(lp);
	add_state(lp, 0);
	swap_sets(lp);
	for (k = 0; name[k] != '\0'; k++) {
		c = name[k];
		new_gen(lp);
		for (i = 0; i < lp->ncur; i++) {
			st = lp->cur[i];
			if (st >= lp->len)
				continue;
			p = lp->pat[st];
			if (p == '*' || (p == '%' && c != '/'))
				add_state(lp, st);
			else if (p == c || (inbox && k < 5 && ascii_upper(p) == c))
				add_state(lp, st + 1);
		}
		swap_sets(lp);
		if (lp->ncur == 0)
			return false;
	}
	for (i = 0; i < lp->ncur; i++)
		if (lp->cur[i] == lp->len)
			return true;
	return false;
}

bool
imap_list_match(const char *pattern, const char *name)
{
	struct imap_listpat	*lp = imap_listpat_new(pattern);
	bool			 r = imap_listpat_match(lp, name);

	imap_listpat_free(&lp);
	return r;
}

char *
imap_list_join(const char *ref, const char *pattern)
{
	size_t rlen = strlen(ref);

	if (rlen > 0 && ref[rlen - 1] == '/' && pattern[0] == '/')
		pattern++;
	return xasprintf("%s%s", ref, pattern);
}
