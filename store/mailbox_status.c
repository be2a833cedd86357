/*
 * mailbox_status: status.json of a mailbox and its keyword list. See
 * mailbox.h and DESIGN.md "The store".
 *
 * jansson enters store/ here and only for this file (the lead's exception
 * to STYLE.md 1). status.json is small: a version, two counters, at most
 * 26 keywords of at most 255 bytes, two attributes, and the most recent
 * once-keys of keyed appends (MBOX_KEYS_MAX of at most 64 bytes).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/fsio.h"
#include "core/util.h"
#include "store/mailbox_private.h"

#define STATUS_VERSION	1
/* 26 keywords * 255 bytes, 256 keys * ~80 bytes, JSON escaping, and the
 * rest, with room. */
#define STATUS_MAX	(128 * 1024)
#define KW_LEN_MAX	255
#define SPECIAL_LEN_MAX	64

static bool	 json_uid32(json_t *, uint32_t *);

uint32_t
mbox_uidvalidity_new(void)
{
	/*
	 * RFC 3501 2.3.1.1: a mailbox recreated under the same name must get
	 * a different UIDVALIDITY, so clients drop cached UIDs. The time is
	 * a good source across restarts; the counter covers two mailboxes
	 * made (or rebuilt) in the same second by this process.
	 */
	static uint32_t	 last;
	time_t		 now = time(NULL);
	uint32_t	 v;

	v = now > 0 && (uint64_t)now < UINT32_MAX ? (uint32_t)now : 1;
	if (v <= last)
		v = last + 1;
	if (v == 0)
		v = 1;
	last = v;
	return v;
}

void
mbox_status_init(struct mbox_status *st)
{
	memset(st, 0, sizeof(*st));
	st->uidvalidity = mbox_uidvalidity_new();
	st->uidnext = 1;
	st->subscribed = true;
}

void
mbox_status_free(struct mbox_status *st)
{
	unsigned i;

	for (i = 0; i < st->nkw; i++)
		free(st->keywords[i]);
	free(st->special_use);
	free(st->keys);
	memset(st, 0, sizeof(*st));
}

uint32_t
mbox_status_key_find(const struct mbox_status *st, const char *key)
{
	/* Newest first: a retry looks for a recent key. */
	for (size_t i = st->nkeys; i-- > 0; )
		if (strcmp(st->keys[i].key, key) == 0)
			return st->keys[i].uid;
	return 0;
}

void
mbox_status_key_add(struct mbox_status *st, const char *key, uint32_t uid)
{
	if (st->keys == NULL)
		st->keys = xcalloc(MBOX_KEYS_MAX, sizeof(*st->keys));
	if (st->nkeys == MBOX_KEYS_MAX) {
		memmove(&st->keys[0], &st->keys[1],
		    (MBOX_KEYS_MAX - 1) * sizeof(*st->keys));
		st->nkeys--;
	}
	snprintf(st->keys[st->nkeys].key, sizeof(st->keys->key), "%s", key);
	st->keys[st->nkeys++].uid = uid;
}

/* "keys": [["KEY", uid], ...]; a bad entry makes the file corrupt. */
static int
keys_read(json_t *v, struct mbox_status *st)
{
	if (v == NULL)
		return 0;
	if (!json_is_array(v) || json_array_size(v) > MBOX_KEYS_MAX)
		return -1;
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t		*e = json_array_get(v, i);
		const char	*k = json_string_value(json_array_get(e, 0));
		uint32_t	 uid;

		if (!json_is_array(e) || json_array_size(e) != 2 || k == NULL ||
		    strlen(k) > MBOX_KEY_LEN ||
		    !json_uid32(json_array_get(e, 1), &uid))
			return -1;
		mbox_status_key_add(st, k, uid);
	}
	return 0;
}

/* RFC 3501 9: atom-specials are "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]". */
static bool
is_atom(const char *s, size_t max)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];

		if (n >= max || c <= 0x20 || c >= 0x7f ||
		    strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return n > 0;
}

bool
mbox_special_use_valid(const char *s)
{
	return s[0] == '\\' && is_atom(s + 1, SPECIAL_LEN_MAX);
}

static bool
json_uid32(json_t *v, uint32_t *r)
{
	json_int_t n;

	if (!json_is_integer(v))
		return false;
	n = json_integer_value(v);
	if (n < 1 || n > (json_int_t)UINT32_MAX)
		return false;
	*r = (uint32_t)n;
	return true;
}

int
mbox_status_read(const char *dir, struct mbox_status *st)
{
	json_t		*root = NULL, *v, *kw;
	json_error_t	 jerr;
	char		*path, *text = NULL;
	size_t		 len, i;
	int		 saved;

	memset(st, 0, sizeof(*st));
	path = xasprintf("%s/%s", dir, MBOX_STATUS);
	if ((text = fsio_read_file(path, STATUS_MAX, &len)) == NULL) {
		if (errno == EFBIG)
			errno = EINVAL;
		goto fail;
	}
	if ((root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL || !json_is_object(root))
		goto corrupt;
	v = json_object_get(root, "version");
	if (!json_is_integer(v) || json_integer_value(v) != STATUS_VERSION)
		goto corrupt;
	if (!json_uid32(json_object_get(root, "uidvalidity"),
	    &st->uidvalidity) ||
	    !json_uid32(json_object_get(root, "uidnext"), &st->uidnext))
		goto corrupt;
	kw = json_object_get(root, "keywords");
	if (!json_is_array(kw) || json_array_size(kw) > STORE_KW_MAX)
		goto corrupt;
	for (i = 0; i < json_array_size(kw); i++) {
		const char *s = json_string_value(json_array_get(kw, i));

		if (s == NULL || s[0] == '\\' || !is_atom(s, KW_LEN_MAX) ||
		    mbox_status_kw_find(st, s) != -1)
			goto corrupt;
		st->keywords[st->nkw++] = xstrdup(s);
	}
	/* Optional fields: an older writer may have left them out. */
	v = json_object_get(root, "subscribed");
	if (v != NULL && !json_is_boolean(v))
		goto corrupt;
	st->subscribed = v == NULL || json_is_true(v);
	v = json_object_get(root, "special_use");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) ||
		    !mbox_special_use_valid(json_string_value(v)))
			goto corrupt;
		st->special_use = xstrdup(json_string_value(v));
	}
	v = json_object_get(root, "noselect");
	if (v != NULL && !json_is_boolean(v))
		goto corrupt;
	st->noselect = json_is_true(v);
	if (keys_read(json_object_get(root, "keys"), st) == -1)
		goto corrupt;
	json_decref(root);
	free(text);
	free(path);
	return 0;
corrupt:
	/* jansson may leave any errno behind; callers rebuild on EINVAL. */
	errno = EINVAL;
fail:
	saved = errno;
	json_decref(root);
	free(text);
	free(path);
	mbox_status_free(st);
	errno = saved;
	return -1;
}

int
mbox_status_write(const char *dir, const struct mbox_status *st)
{
	json_t	*root, *kw;
	char	*path = NULL, *text = NULL;
	unsigned i;
	int	 r = -1, saved;

	kw = json_array();
	for (i = 0; i < st->nkw; i++)
		json_array_append_new(kw, json_string(st->keywords[i]));
	root = json_pack("{s:i, s:I, s:I, s:o, s:b, s:s?}",
	    "version", STATUS_VERSION,
	    "uidvalidity", (json_int_t)st->uidvalidity,
	    "uidnext", (json_int_t)st->uidnext,
	    "keywords", kw,
	    "subscribed", st->subscribed,
	    "special_use", st->special_use);
	if (root == NULL) {
		/* Only on allocation failure; json_pack consumed kw. */
		errno = ENOMEM;
		return -1;
	}
	/* Only written when set, so ordinary mailboxes keep their format. */
	if (st->noselect &&
	    json_object_set_new(root, "noselect", json_true()) == -1) {
		errno = ENOMEM;
		goto out;
	}
	if (st->nkeys > 0) {
		json_t *keys = json_array();

		for (size_t k = 0; k < st->nkeys; k++)
			json_array_append_new(keys, json_pack("[s, I]",
			    st->keys[k].key, (json_int_t)st->keys[k].uid));
		if (json_object_set_new(root, "keys", keys) == -1) {
			errno = ENOMEM;
			goto out;
		}
	}
	if ((text = json_dumps(root, JSON_INDENT(1))) == NULL) {
		errno = ENOMEM;
		goto out;
	}
	path = xasprintf("%s/%s", dir, MBOX_STATUS);
	r = fsio_write_atomic(path, text, strlen(text), 0600);
out:
	saved = errno;
	free(path);
	free(text);
	json_decref(root);
	errno = saved;
	return r;
}

void
mbox_status_merge(struct mbox_status *mem, struct mbox_status *disk)
{
	unsigned i;

	if (disk->uidnext < mem->uidnext)
		disk->uidnext = mem->uidnext;
	if (disk->nkw < mem->nkw) {
		/* disk lost keywords (rebuilt by hand?): keep ours. */
		for (i = 0; i < disk->nkw; i++)
			free(disk->keywords[i]);
		for (i = 0; i < mem->nkw; i++) {
			disk->keywords[i] = mem->keywords[i];
			mem->keywords[i] = NULL;
		}
		disk->nkw = mem->nkw;
		mem->nkw = 0;
	}
	mbox_status_free(mem);
	*mem = *disk;
	memset(disk, 0, sizeof(*disk));
}

int
mbox_status_kw_find(const struct mbox_status *st, const char *keyword)
{
	unsigned i;

	for (i = 0; i < st->nkw; i++)
		if (ascii_casecmp(st->keywords[i], keyword) == 0)
			return (int)i;
	return -1;
}

int
store_mbox_keyword(struct store_mbox *mb, const char *keyword, bool create)
{
	struct mbox_status	 disk;
	int			 i, lockfd = -1, saved;

	if ((i = mbox_status_kw_find(&mb->st, keyword)) != -1)
		return i;
	if (!create) {
		errno = ENOENT;
		return -1;
	}
	/* RFC 3501 2.3.2: keywords are atoms and never start with '\'. */
	if (keyword[0] == '\\' || !is_atom(keyword, KW_LEN_MAX)) {
		errno = EINVAL;
		return -1;
	}
	if ((lockfd = mbox_lock(mb)) == -1)
		return -1;
	/* Another process may have added keywords: their bits are in use. */
	if (mbox_status_read(mb->dir, &disk) == 0)
		mbox_status_merge(&mb->st, &disk);
	if ((i = mbox_status_kw_find(&mb->st, keyword)) != -1)
		goto done;
	if (mb->st.nkw >= STORE_KW_MAX) {
		errno = ENOSPC;
		goto fail;
	}
	i = (int)mb->st.nkw;
	mb->st.keywords[mb->st.nkw++] = xstrdup(keyword);
	if (mbox_status_write(mb->dir, &mb->st) == -1) {
		saved = errno;
		free(mb->st.keywords[--mb->st.nkw]);
		mb->st.keywords[mb->st.nkw] = NULL;
		errno = saved;
		goto fail;
	}
	mbox_unlock(lockfd);
	mbox_emit(mb, STORE_EV_STATUS, 0, NULL);
	return i;
done:
	mbox_unlock(lockfd);
	return i;
fail:
	mbox_unlock(lockfd);
	return -1;
}

unsigned
store_mbox_keyword_count(const struct store_mbox *mb)
{
	return mb->st.nkw;
}

const char *
store_mbox_keyword_name(const struct store_mbox *mb, unsigned i)
{
	return i < mb->st.nkw ? mb->st.keywords[i] : NULL;
}
