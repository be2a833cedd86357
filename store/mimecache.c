/*
 * mimecache: an LRU of parsed MIME trees under a byte bound. See
 * mimecache.h. Entries are found through a chained hash on (handle, uid)
 * and kept on one list, most recently used at the head.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "store/mimecache.h"

#define NBUCKETS	4096

struct entry {
	const struct store_mbox	*mb;
	uint32_t		 uid;
	struct mime_part	*root;
	size_t			 bytes;
	struct entry		*hnext;
	struct entry		*prev, *next;	/* LRU, head = newest */
};

struct store_mimecache {
	size_t			 max_bytes;
	struct entry		*buckets[NBUCKETS];
	struct entry		*head, *tail;
	struct mime_part	*oversize;	/* the last too-big tree */
	struct store_mimecache_stats st;
};

static unsigned
bucket(const struct store_mbox *mb, uint32_t uid)
{
	uintptr_t h = (uintptr_t)mb;

	h ^= h >> 17;
	return (unsigned)((h * 31 + uid) % NBUCKETS);
}

struct store_mimecache *
store_mimecache_new(size_t max_bytes)
{
	struct store_mimecache *c = xcalloc(1, sizeof(*c));

	c->max_bytes = max_bytes;
	return c;
}

static void
lru_unlink(struct store_mimecache *c, struct entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push(struct store_mimecache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head != NULL)
		c->head->prev = e;
	else
		c->tail = e;
	c->head = e;
}

static void
entry_free(struct store_mimecache *c, struct entry *e)
{
	struct entry **pp = &c->buckets[bucket(e->mb, e->uid)];

	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	lru_unlink(c, e);
	c->st.bytes -= e->bytes;
	c->st.entries--;
	mime_free(&e->root);
	free(e);
}

const struct mime_part *
store_mimecache_get(struct store_mimecache *c, struct store_mbox *mb,
    uint32_t uid, char *err, size_t errlen)
{
	struct entry	*e;
	unsigned	 b = bucket(mb, uid);
	char		*data;
	size_t		 len;

	for (e = c->buckets[b]; e != NULL; e = e->hnext)
		if (e->mb == mb && e->uid == uid) {
			c->st.hits++;
			lru_unlink(c, e);
			lru_push(c, e);
			return e->root;
		}
	c->st.misses++;
	if ((data = store_mbox_read(mb, uid, &len)) == NULL) {
		err_printf(err, errlen, "uid %u: %s", (unsigned)uid,
		    errno == ENOENT ? "no such message" : strerror(errno));
		return NULL;
	}
	e = xcalloc(1, sizeof(*e));
	e->mb = mb;
	e->uid = uid;
	e->root = mime_parse(data, len);
	e->bytes = mime_mem_size(e->root) + sizeof(*e);
	free(data);
	mime_free(&c->oversize);
	if (e->bytes > c->max_bytes) {
		/* Kept only until the next call, as documented. */
		c->oversize = e->root;
		free(e);
		return c->oversize;
	}
	while (c->tail != NULL && c->st.bytes + e->bytes > c->max_bytes) {
		c->st.evictions++;
		entry_free(c, c->tail);
	}
	e->hnext = c->buckets[b];
	c->buckets[b] = e;
	lru_push(c, e);
	c->st.bytes += e->bytes;
	c->st.entries++;
	return e->root;
}

void
store_mimecache_forget(struct store_mimecache *c, const struct store_mbox *mb)
{
	struct entry *e, *next;

	if (c == NULL)
		return;
	for (e = c->head; e != NULL; e = next) {
		next = e->next;
		if (e->mb == mb)
			entry_free(c, e);
	}
}

void
store_mimecache_stats(const struct store_mimecache *c,
    struct store_mimecache_stats *st)
{
	*st = c->st;
}

void
store_mimecache_free(struct store_mimecache **cp)
{
	struct store_mimecache *c;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	while (c->head != NULL)
		entry_free(c, c->head);
	mime_free(&c->oversize);
	free(c);
	*cp = NULL;
}
