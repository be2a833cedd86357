/* seqset: IMAP sequence sets (RFC 3501 9 "sequence-set"). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/util.h"
#include "imap/seqset.h"

/*
 * One seq-number at *sp: nz-number or '*'. 0, or -1 for anything else
 * (a leading 0, no digits, more than 4294967295).
 */
static int
seqset_number(const char **sp, uint32_t *v_r)
{
	const char	*s = *sp;
	uint64_t	 v = 0;

	if (*s == '*') {
		*v_r = IMAP_SEQ_STAR;
		*sp = s + 1;
		return 0;
	}
	if (*s < '1' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*v_r = (uint32_t)v;
	*sp = s;
	return 0;
}

int
imap_seqset_parse(const char *s, struct imap_seqset *set)
{
	struct imap_range	 rg;
	size_t			 cap = 0;

	set->r = NULL;
	set->n = 0;
	for (;;) {
		if (seqset_number(&s, &rg.lo) == -1)
			goto fail;
		rg.hi = rg.lo;
		if (*s == ':') {
			s++;
			if (seqset_number(&s, &rg.hi) == -1)
				goto fail;
		}
		if (set->n == IMAP_SEQSET_MAX)
			goto fail;
		if (set->n == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			if (cap > IMAP_SEQSET_MAX)
				cap = IMAP_SEQSET_MAX;
			set->r = xrealloc(set->r, cap * sizeof(*set->r));
		}
		set->r[set->n++] = rg;
		if (*s == '\0')
			return 0;
		if (*s != ',')
			goto fail;
		s++;
	}
fail:
	imap_seqset_free(set);
	return -1;
}

void
imap_seqset_free(struct imap_seqset *set)
{
	FREE_NULL(set->r);
	set->n = 0;
}

static int
seqset_cmp(const void *a, const void *b)
{
	const struct imap_range	*x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

/*
 * With star 0 (an empty mailbox) a range may end up touching 0, which is
 * never a sequence number or UID: it is clamped to start at 1, and a range
 * that was 0:0 ("*" alone) is dropped, so the set may become empty.
 */
void
imap_seqset_resolve(struct imap_seqset *set, uint32_t star)
{
	struct imap_range	*r;
	size_t			 i, n;
	uint32_t		 t;

	n = 0;
	for (i = 0; i < set->n; i++) {
		r = &set->r[i];
		if (r->lo == IMAP_SEQ_STAR)
			r->lo = star;
		if (r->hi == IMAP_SEQ_STAR)
			r->hi = star;
		if (r->lo > r->hi) {
			t = r->lo;
			r->lo = r->hi;
			r->hi = t;
		}
		if (r->hi == 0)
			continue;
		if (r->lo == 0)
			r->lo = 1;
		set->r[n++] = *r;
	}
	set->n = n;
	if (n == 0)
		return;
	qsort(set->r, n, sizeof(*set->r), seqset_cmp);
	n = 1;
	for (i = 1; i < set->n; i++) {
		r = &set->r[n - 1];
		/* Overlapping or adjacent (no uint32 overflow at hi = max). */
		if ((uint64_t)set->r[i].lo <= (uint64_t)r->hi + 1) {
			if (set->r[i].hi > r->hi)
				r->hi = set->r[i].hi;
		} else
			set->r[n++] = set->r[i];
	}
	set->n = n;
}

bool
imap_seqset_has(const struct imap_seqset *set, uint32_t v)
{
	size_t	 lo = 0, hi = set->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v < set->r[mid].lo)
			hi = mid;
		else if (v > set->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}
