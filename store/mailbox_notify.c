/*
 * mailbox_notify: subscribers to a mailbox's changes (mailbox.h "Change
 * notification"). A singly linked list; unsubscribing inside a callback
 * only clears fn, and the entry is freed once the outermost emit returns,
 * so the walk in progress never touches freed memory.
 */
#include <stdlib.h>

#include "core/util.h"
#include "store/mailbox_private.h"

struct store_sub *
store_mbox_subscribe(struct store_mbox *mb, store_event_fn fn, void *arg)
{
	struct store_sub *s = xcalloc(1, sizeof(*s));

	s->fn = fn;
	s->arg = arg;
	s->next = mb->subs;
	mb->subs = s;
	return s;
}

/* Unlink and free the entries whose fn was cleared. */
static void
sweep(struct store_mbox *mb)
{
	struct store_sub **pp = &mb->subs, *s;

	while ((s = *pp) != NULL) {
		if (s->fn == NULL) {
			*pp = s->next;
			free(s);
		} else
			pp = &s->next;
	}
}

void
store_mbox_unsubscribe(struct store_mbox *mb, struct store_sub **subp)
{
	if (subp == NULL || *subp == NULL)
		return;
	(*subp)->fn = NULL;
	*subp = NULL;
	if (mb->emitting == 0)
		sweep(mb);
}

size_t
store_mbox_subscribers(const struct store_mbox *mb)
{
	const struct store_sub	*s;
	size_t			 n = 0;

	for (s = mb->subs; s != NULL; s = s->next)
		if (s->fn != NULL)
			n++;
	return n;
}

void
mbox_emit(struct store_mbox *mb, enum store_ev type, uint32_t uid,
    const struct store_msg *msg)
{
	struct store_event	 ev;
	struct store_sub	*s;

	if (mb->subs == NULL)
		return;
	ev.type = type;
	ev.uid = uid;
	ev.msg = msg;
	mb->emitting++;
	/* Subscribers added by a callback are at the head: not called now. */
	for (s = mb->subs; s != NULL; s = s->next)
		if (s->fn != NULL)
			s->fn(s->arg, &ev);
	if (--mb->emitting == 0)
		sweep(mb);
}

void
mbox_subs_free(struct store_mbox *mb)
{
	struct store_sub *s, *next;

	for (s = mb->subs; s != NULL; s = next) {
		next = s->next;
		free(s);
	}
	mb->subs = NULL;
}
