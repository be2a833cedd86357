/*
 * imap_view: the selected mailbox as one session sees it (RFC 3501
 * 2.3.1.2, 5.2, 7.4.1; RFC 2180 multi-access).
 *
 * The store's shared handle reports every change at once (store/mailbox.h
 * "Change notification"); the view records them and imap_view_flush()
 * tells the client at the next point where it may: EXISTS and FETCH FLAGS
 * after any command, EXPUNGE only after commands other than FETCH, STORE
 * and SEARCH (sequence numbers must not move under a client that is
 * working with them), and at once during IDLE. Until its EXPUNGE is sent
 * an expunged message keeps its sequence number: uids[] still holds it.
 */
#include "imap/imap_private.h"
#include "imap/seqset.h"
#include "config/env.h"
#include "core/conn.h"
#include "core/util.h"
#include "store/hub.h"
#include "store/mailbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void
u32_push(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		*cap = *cap < 16 ? 16 : *cap * 2;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = x;
}

/* Index of x in sorted v[0..n), or -1. */
static ssize_t
u32_find(const uint32_t *v, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] < x)
			lo = mid + 1;
		else if (v[mid] > x)
			hi = mid;
		else
			return (ssize_t)mid;
	}
	return -1;
}

/* Insert x into sorted v unless present (events mostly come in order). */
static void
u32_insert(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	size_t lo = 0, hi = *n;

	if (*n == 0 || (*v)[*n - 1] < x) {
		u32_push(v, n, cap, x);
		return;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((*v)[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	if ((*v)[lo] == x)
		return;
	u32_push(v, n, cap, 0);
	memmove(*v + lo + 1, *v + lo, (*n - 1 - lo) * sizeof(**v));
	(*v)[lo] = x;
}

uint32_t
imap_view_seq(const struct imap_view *v, uint32_t uid)
{
	ssize_t i = u32_find(v->uids, v->n, uid);

	return i < 0 ? 0 : (uint32_t)i + 1;
}

bool
imap_view_is_recent(const struct imap_view *v, uint32_t uid)
{
	return v->nrecent > 0 && u32_find(v->recent, v->nrecent, uid) >= 0;
}

static void
view_event(void *arg, const struct store_event *ev)
{
	struct imap_session *s = arg;
	struct imap_view *v = s->view;

	switch (ev->type) {
	case STORE_EV_EXISTS:
		u32_push(&v->uids, &v->n, &v->cap, ev->uid);
		/* \Recent goes to the first read-write session to see it. */
		if (!v->readonly && ev->uid >= store_mbox_recent_first(v->mb)) {
			store_mbox_recent_claim(v->mb, ev->uid + 1);
			u32_push(&v->recent, &v->nrecent, &v->recent_cap,
			    ev->uid);
		}
		break;
	case STORE_EV_FLAGS:
		if (!v->self_flags)
			u32_insert(&v->changed, &v->nchanged, &v->changed_cap,
			    ev->uid);
		break;
	case STORE_EV_EXPUNGE:
		if (u32_find(v->uids, v->n, ev->uid) >= 0)
			u32_insert(&v->gone, &v->ngone, &v->gone_cap, ev->uid);
		break;
	case STORE_EV_STATUS:
		v->keywords_changed = true;
		break;
	case STORE_EV_GONE:
		v->deleted = true;
		store_mbox_unsubscribe(v->mb, &v->sub);
		break;
	}
	if (s->idling && s->cont == NULL)
		imap_view_flush(s, true);
}

int
imap_fmt_flag_names(struct buf *b, const struct store_mbox *mb)
{
	int rc = buf_appendf(b, "\\Answered \\Flagged \\Deleted \\Seen \\Draft");

	for (unsigned i = 0; i < store_mbox_keyword_count(mb); i++)
		rc |= buf_appendf(b, " %s", store_mbox_keyword_name(mb, i));
	return rc;
}

int
imap_fmt_flags(struct buf *b, const struct store_mbox *mb,
    const struct store_flags *f, bool recent)
{
	static const uint8_t order[] = { STORE_F_SEEN, STORE_F_ANSWERED,
	    STORE_F_FLAGGED, STORE_F_DELETED, STORE_F_DRAFT };
	const char *sep = "";
	int rc = buf_append(b, "(", 1);

	for (size_t i = 0; i < NELEM(order); i++)
		if (f->sys & order[i]) {
			rc |= buf_appendf(b, "%s%s", sep,
			    store_flag_imap_name(order[i]));
			sep = " ";
		}
	if (recent) {
		rc |= buf_appendf(b, "%s\\Recent", sep);
		sep = " ";
	}
	for (unsigned i = 0; i < STORE_KW_MAX; i++)
		if (f->kw & (1u << i)) {
			const char *kw = store_mbox_keyword_name(mb, i);

			if (kw != NULL) {
				rc |= buf_appendf(b, "%s%s", sep, kw);
				sep = " ";
			}
		}
	return rc | buf_append(b, ")", 1);
}

int
imap_parse_flags(const struct imap_arg *arg, struct store_mbox *mb,
    bool create, struct store_flags *flags_r, const char **why_r)
{
	const struct imap_arg *v = arg;
	size_t n = 1;

	memset(flags_r, 0, sizeof(*flags_r));
	if (arg->type == IMAP_ARG_LIST) {
		v = arg->list;
		n = arg->nlist;
	}
	for (size_t i = 0; i < n; i++) {
		const char *f = v[i].type == IMAP_ARG_ATOM ? v[i].str : NULL;
		uint8_t bit;
		int kw;

		if (f == NULL) {
			*why_r = "Invalid flag";
			return -1;
		}
		if (f[0] == '\\') {
			if (store_flags_from_imap(f, &bit) == 0) {
				flags_r->sys |= bit;
				continue;
			}
			if (ascii_casecmp(f, "\\Recent") == 0) {
				*why_r = "\\Recent cannot be set";
				return -1;
			}
			*why_r = "Unknown system flag";
			return -1;
		}
		if ((kw = store_mbox_keyword(mb, f, create)) >= 0) {
			flags_r->kw |= 1u << kw;
			continue;
		}
		if (errno == ENOENT)
			continue;	/* not creating: matches nothing */
		/*
		 * ENOSPC is also the disk's, when status.json cannot be
		 * rewritten: only a full list is the client's limit. A
		 * server-side failure is NO, never BAD.
		 */
		if (errno == ENOSPC &&
		    store_mbox_keyword_count(mb) >= STORE_KW_MAX)
			*why_r = "[LIMIT] Too many keywords";
		else if (errno == EINVAL)
			*why_r = "Invalid keyword";
		else if (errno == ENOSPC || errno == EDQUOT)
			*why_r = "[LIMIT] Not enough disk space to add a keyword";
		else
			*why_r = "[SERVERBUG] Cannot add keyword";
		return -1;
	}
	return 0;
}

int
imap_fmt_permanentflags(struct buf *b, const struct store_mbox *mb,
    bool readonly)
{
	int rc = 0;

	if (readonly)
		return 0;
	rc = imap_fmt_flag_names(b, mb);
	/* \* only while a new keyword still fits (RFC 3501 7.1). */
	if (store_mbox_keyword_count(mb) < STORE_KW_MAX)
		rc |= buf_appendf(b, " \\*");
	return rc;
}

static void
send_flags(struct imap_session *s)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	buf_appendf(&b, "* FLAGS (");
	imap_fmt_flag_names(&b, s->view->mb);
	buf_appendf(&b, ")\r\n* OK [PERMANENTFLAGS (");
	imap_fmt_permanentflags(&b, s->view->mb, s->view->readonly);
	buf_appendf(&b, ")] Flags permitted\r\n");
	imap_send(s, &b);
	buf_release(&b);
}

void
imap_view_flush(struct imap_session *s, bool allow_expunge)
{
	struct imap_view *v = s->view;
	struct buf b;

	if (v == NULL)
		return;
	if (v->deleted) {
		imap_untagged(s, "BYE [UNAVAILABLE] The selected mailbox was "
		    "deleted or renamed");
		conn_close(s->conn, CONN_CLOSE_FLUSH, "mailbox gone");
		return;
	}
	buf_init(&b, SIZE_MAX);
	if (allow_expunge && v->ngone > 0) {
		size_t out = 0, g = 0;

		/* The client must know a message before it hears it went:
		 * one that came and went since the last EXISTS is announced
		 * first. */
		if (v->announced != v->n) {
			buf_appendf(&b, "* %zu EXISTS\r\n", v->n);
			v->announced = v->n;
		}

		/* One pass: each EXPUNGE names the sequence number the
		 * message has after the ones reported before it. */
		for (size_t i = 0; i < v->n; i++) {
			if (g < v->ngone && v->uids[i] == v->gone[g]) {
				buf_appendf(&b, "* %zu EXPUNGE\r\n", out + 1);
				g++;
				continue;
			}
			v->uids[out++] = v->uids[i];
		}
		v->announced = out;
		v->n = out;
		/* The recent entries of gone uids go too. */
		size_t k = 0;

		for (size_t i = 0; i < v->nrecent; i++)
			if (u32_find(v->gone, v->ngone, v->recent[i]) < 0)
				v->recent[k++] = v->recent[i];
		v->nrecent = k;
		v->ngone = 0;
	}
	if (v->keywords_changed) {
		v->keywords_changed = false;
		imap_send(s, &b);
		send_flags(s);
	}
	if (v->announced != v->n) {
		buf_appendf(&b, "* %zu EXISTS\r\n", v->n);
		v->announced = v->n;
	}
	if (v->recent_announced != v->nrecent) {
		buf_appendf(&b, "* %zu RECENT\r\n", v->nrecent);
		v->recent_announced = v->nrecent;
	}
	for (size_t i = 0; i < v->nchanged; i++) {
		const struct store_msg *m = store_mbox_find(v->mb, v->changed[i]);
		uint32_t seq = imap_view_seq(v, v->changed[i]);

		if (m == NULL || seq == 0)
			continue;
		buf_appendf(&b, "* %u FETCH (FLAGS ", seq);
		imap_fmt_flags(&b, v->mb, &m->flags,
		    imap_view_is_recent(v, m->uid));
		buf_appendf(&b, " UID %u)\r\n", m->uid);
	}
	v->nchanged = 0;
	imap_send(s, &b);
	buf_release(&b);
}

int
imap_view_open(struct imap_session *s, const char *name, const char *dir,
    bool readonly, char *err, size_t errlen)
{
	struct rmail_env *env = s->srv->env;
	struct imap_view *v;
	struct store_mbox *mb;
	size_t n;
	uint32_t first;

	if ((mb = store_hub_open(env->hub, s->user_dir, dir, err, errlen)) == NULL)
		return -1;
	store_mbox_set_quota(mb, imap_user_quota(s));
	v = xcalloc(1, sizeof(*v));
	v->mb = mb;
	v->name = xstrdup(name);
	v->readonly = readonly;
	n = store_mbox_count(mb);
	v->uids = xmalloc((n > 0 ? n : 1) * sizeof(*v->uids));
	v->cap = n > 0 ? n : 1;
	for (size_t i = 0; i < n; i++)
		v->uids[i] = store_mbox_at(mb, i)->uid;
	v->n = n;
	if (!readonly) {
		first = store_mbox_recent_claim(mb, store_mbox_uidnext(mb));
		for (size_t i = 0; i < n; i++)
			if (v->uids[i] >= first)
				u32_push(&v->recent, &v->nrecent,
				    &v->recent_cap, v->uids[i]);
	}
	v->sub = store_mbox_subscribe(mb, view_event, s);
	s->view = v;
	return 0;
}

void
imap_view_close(struct imap_session *s)
{
	struct imap_view *v = s->view;

	if (v == NULL)
		return;
	if (v->sub != NULL)
		store_mbox_unsubscribe(v->mb, &v->sub);
	store_hub_release(s->srv->env->hub, &v->mb);
	free(v->uids);
	free(v->recent);
	free(v->gone);
	free(v->changed);
	free(v->name);
	free(v);
	s->view = NULL;
}

int
imap_view_uids(struct imap_session *s, const struct imap_arg *arg, bool uid,
    uint32_t **uids_r, size_t *n_r)
{
	struct imap_view *v = s->view;
	struct imap_seqset set;
	uint32_t *out = NULL;
	size_t n = 0, cap = 0;

	*uids_r = NULL;
	*n_r = 0;
	if (arg->type != IMAP_ARG_ATOM || imap_seqset_parse(arg->str, &set) == -1) {
		imap_tagged(s, "BAD Invalid sequence set");
		return -1;
	}
	if (uid) {
		imap_seqset_resolve(&set, v->n > 0 ? v->uids[v->n - 1] : 0);
		for (size_t r = 0; r < set.n; r++) {
			/* Walk the view from the range's first uid. */
			size_t lo = 0, hi = v->n;

			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;

				if (v->uids[mid] < set.r[r].lo)
					lo = mid + 1;
				else
					hi = mid;
			}
			for (; lo < v->n && v->uids[lo] <= set.r[r].hi; lo++)
				u32_push(&out, &n, &cap, v->uids[lo]);
		}
	} else {
		/* "1:*" in an empty mailbox is nothing, not an error. */
		bool star = strchr(arg->str, '*') != NULL;

		imap_seqset_resolve(&set, (uint32_t)v->n);
		for (size_t r = 0; r < set.n; r++) {
			if (star && set.r[r].hi > v->n)
				set.r[r].hi = (uint32_t)v->n;
			if (set.r[r].lo == 0)
				set.r[r].lo = 1;
			if (set.r[r].hi > v->n) {
				imap_seqset_free(&set);
				free(out);
				imap_tagged(s, "BAD Invalid sequence number "
				    "(only %zu messages)", v->n);
				return -1;
			}
			for (uint32_t q = set.r[r].lo; q != 0 && q <= set.r[r].hi; q++) {
				u32_push(&out, &n, &cap, v->uids[q - 1]);
				if (q == UINT32_MAX)
					break;
			}
		}
	}
	imap_seqset_free(&set);
	*uids_r = out;
	*n_r = n;
	return 0;
}
