/*
 * throttle: a bounded table of failure counts by key (see throttle.h).
 *
 * A plain array searched linearly: it is touched once per failed or
 * checked login, never per byte, and its bound keeps the scan short
 * enough.
 */
#include "core/throttle.h"
#include "core/util.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct throttle_rec {
	char	 key[THROTTLE_KEY_MAX];
	unsigned fails;		/* failures since first */
	time_t	 first;		/* first failure of the window */
	time_t	 last;		/* last failure: the oldest record is evicted */
};

struct throttle {
	struct throttle_rec	*recs;	/* max records, allocated lazily */
	size_t			 n;
	size_t			 max;
	time_t			 window;	/* seconds a failure counts */
};

struct throttle *
throttle_new(size_t max, time_t window)
{
	struct throttle *t = xcalloc(1, sizeof(*t));

	assert(max > 0);
	t->max = max;
	t->window = window;
	return t;
}

void
throttle_free(struct throttle **tp)
{
	if (*tp == NULL)
		return;
	free((*tp)->recs);
	FREE_NULL(*tp);
}

/* key as the table stores it (cut to THROTTLE_KEY_MAX - 1 bytes). */
static struct throttle_rec *
find(const struct throttle *t, const char *key)
{
	size_t klen = strnlen(key, THROTTLE_KEY_MAX - 1);

	for (size_t i = 0; i < t->n; i++)
		if (strncmp(t->recs[i].key, key, klen) == 0 &&
		    t->recs[i].key[klen] == '\0')
			return &t->recs[i];
	return NULL;
}

unsigned
throttle_count(const struct throttle *t, const char *key, time_t now)
{
	const struct throttle_rec *r = find(t, key);

	if (r == NULL || now - r->first > t->window)
		return 0;
	return r->fails;
}

void
throttle_fail(struct throttle *t, const char *key, time_t now)
{
	struct throttle_rec *r = find(t, key);

	if (r == NULL) {
		if (t->recs == NULL)
			t->recs = xcalloc(t->max, sizeof(*t->recs));
		if (t->n < t->max) {
			r = &t->recs[t->n++];
		} else {
			/* Full: the record failed least recently goes. */
			r = &t->recs[0];
			for (size_t i = 1; i < t->n; i++)
				if (t->recs[i].last < r->last)
					r = &t->recs[i];
		}
		snprintf(r->key, sizeof(r->key), "%s", key);
		r->fails = 0;
		r->first = now;
	}
	if (now - r->first > t->window) {
		r->fails = 0;
		r->first = now;
	}
	r->fails++;
	r->last = now;
}

void
throttle_clear(struct throttle *t, const char *key)
{
	struct throttle_rec *r = find(t, key);

	if (r != NULL)
		*r = t->recs[--t->n];
}

size_t
throttle_size(const struct throttle *t)
{
	return t->n;
}
