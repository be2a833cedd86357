/* queue_env: envelope files of the queue. See queue_env.h. */
#include "relay/queue_env.h"
#include "relay/queue_private.h"

#include "core/fsio.h"
#include "core/util.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Envelopes are small; anything bigger is not one of ours. */
#define QUEUE_ENV_FILE_MAX	(4u << 20)

static const char *const tstate_names[] = {
	[QUEUE_T_PENDING] = "pending",
	[QUEUE_T_DONE] = "done",
	[QUEUE_T_FAILED] = "failed",
};

bool
queue_id_valid(const char *id)
{
	size_t n;

	for (n = 0; id[n] != '\0'; n++) {
		char c = id[n];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z')))
			return false;
		if (n + 1 >= QUEUE_ID_MAX)
			return false;
	}
	return n > 0;
}

const char *
queue_tstate_name(enum queue_tstate s)
{
	return (size_t)s < NELEM(tstate_names) ? tstate_names[s] : "?";
}

char *
queue_msg_path(const char *qdir, const char *id)
{
	return xasprintf("%s/" QUEUE_MSGDIR "/%s", qdir, id);
}

char *
queue_env_path(const char *qdir, const char *id)
{
	return xasprintf("%s/" QUEUE_ENVDIR "/%s.json", qdir, id);
}

void
queue_msgenv_clear(struct queue_msgenv *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->t[i].addr);
		free(e->t[i].last_error);
	}
	free(e->t);
	free(e->from);
	free(e->client_ip);
	free(e->helo);
	free(e->auth_user);
	memset(e, 0, sizeof(*e));
}

/* No control characters: these texts end up in headers and logs. */
static bool
text_ok(const char *s)
{
	size_t n = strlen(s);

	if (n > QUEUE_FIELD_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/*
 * Optional string member: absent or null leaves *out NULL. 0, or -1 with
 * err when it is something else or not a usable text.
 */
static int
get_str(json_t *obj, const char *key, bool required, char **out, char *err,
    size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		err_printf(err, errlen, "%s: missing", key);
		return -1;
	}
	if (!json_is_string(v) || strlen(json_string_value(v)) !=
	    json_string_length(v) || !text_ok(json_string_value(v))) {
		err_printf(err, errlen, "%s: expected a string without control "
		    "characters", key);
		return -1;
	}
	*out = xstrdup(json_string_value(v));
	return 0;
}

/* Optional non-negative integer member (absent or null: 0). */
static int
get_uint(json_t *obj, const char *key, uint64_t max, uint64_t *out, char *err,
    size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max) {
		err_printf(err, errlen, "%s: expected an integer 0..%" PRIu64,
		    key, max);
		return -1;
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int
get_bool(json_t *obj, const char *key, bool dflt, bool *out, char *err,
    size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	*out = dflt;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		err_printf(err, errlen, "%s: expected true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static int
parse_target(json_t *o, size_t i, struct queue_target *t, char *err,
    size_t errlen)
{
	char		 sub[512], *state = NULL;
	uint64_t	 u;
	size_t		 k;

	if (!json_is_object(o)) {
		err_printf(err, errlen, "targets[%zu]: expected an object", i);
		return -1;
	}
	if (get_str(o, "addr", true, &t->addr, sub, sizeof(sub)) == -1 ||
	    get_bool(o, "local", false, &t->local, sub, sizeof(sub)) == -1 ||
	    get_str(o, "state", false, &state, sub, sizeof(sub)) == -1 ||
	    get_uint(o, "attempts", UINT32_MAX, &u, sub, sizeof(sub)) == -1)
		goto fail;
	t->attempts = (unsigned)u;
	if (get_uint(o, "next_try", INT64_MAX, &u, sub, sizeof(sub)) == -1)
		goto fail;
	t->next_try = (time_t)u;
	if (get_str(o, "last_error", false, &t->last_error, sub,
	    sizeof(sub)) == -1 ||
	    get_uint(o, "uid", UINT32_MAX, &u, sub, sizeof(sub)) == -1)
		goto fail;
	t->uid = (uint32_t)u;
	if (get_bool(o, "notified", false, &t->notified, sub,
	    sizeof(sub)) == -1)
		goto fail;
	t->state = QUEUE_T_PENDING;
	if (state != NULL) {
		for (k = 0; k < NELEM(tstate_names); k++)
			if (strcmp(state, tstate_names[k]) == 0)
				break;
		if (k == NELEM(tstate_names)) {
			snprintf(sub, sizeof(sub), "state: expected pending, done "
			    "or failed");
			goto fail;
		}
		t->state = (enum queue_tstate)k;
	}
	if (strchr(t->addr, '@') == NULL) {
		snprintf(sub, sizeof(sub), "addr: not an address");
		goto fail;
	}
	free(state);
	return 0;
fail:
	err_printf(err, errlen, "targets[%zu].%s", i, sub);
	free(state);
	return -1;
}

int
queue_msgenv_parse(const char *text, size_t len, const char *expect_id,
    struct queue_msgenv *e, char *err, size_t errlen)
{
	json_error_t	 jerr;
	json_t		*root, *v, *arr;
	char		*id = NULL;
	uint64_t	 u;

	memset(e, 0, sizeof(*e));
	if ((root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		err_printf(err, errlen, "invalid JSON at line %d: %s",
		    jerr.line, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		err_printf(err, errlen, "expected an object");
		goto fail;
	}
	v = json_object_get(root, "version");
	if (!json_is_integer(v) || json_integer_value(v) != 1) {
		err_printf(err, errlen, "version: expected 1");
		goto fail;
	}
	if (get_str(root, "id", expect_id == NULL, &id, err, errlen) == -1)
		goto fail;
	if (id != NULL && !queue_id_valid(id)) {
		err_printf(err, errlen, "id: not a queue id");
		goto fail;
	}
	if (expect_id != NULL && id != NULL && strcmp(id, expect_id) != 0) {
		err_printf(err, errlen, "id: \"%s\" in the file of %s", id,
		    expect_id);
		goto fail;
	}
	snprintf(e->id, sizeof(e->id), "%s", id != NULL ? id : expect_id);
	if (get_str(root, "from", true, &e->from, err, errlen) == -1 ||
	    get_str(root, "client_ip", false, &e->client_ip, err, errlen) == -1 ||
	    get_str(root, "helo", false, &e->helo, err, errlen) == -1 ||
	    get_str(root, "auth_user", false, &e->auth_user, err, errlen) == -1 ||
	    get_bool(root, "smtputf8", false, &e->smtputf8, err, errlen) == -1 ||
	    get_uint(root, "size", UINT64_MAX >> 1, &e->size, err, errlen) == -1 ||
	    get_uint(root, "local_head", UINT64_MAX >> 1, &e->local_head, err,
	    errlen) == -1 ||
	    get_uint(root, "received", INT64_MAX, &u, err, errlen) == -1)
		goto fail;
	e->received = (time_t)u;
	if (e->local_head > e->size) {
		err_printf(err, errlen, "local_head: more than size");
		goto fail;
	}
	arr = json_object_get(root, "targets");
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > QUEUE_TARGETS_MAX) {
		err_printf(err, errlen, "targets: expected an array of 1..%d "
		    "targets", QUEUE_TARGETS_MAX);
		goto fail;
	}
	e->t = xcalloc(json_array_size(arr), sizeof(*e->t));
	for (size_t i = 0; i < json_array_size(arr); i++) {
		e->n = i + 1;	/* so clear frees a half-parsed target */
		if (parse_target(json_array_get(arr, i), i, &e->t[i], err,
		    errlen) == -1)
			goto fail;
	}
	free(id);
	json_decref(root);
	return 0;
fail:
	free(id);
	json_decref(root);
	queue_msgenv_clear(e);
	return -1;
}

int
queue_msgenv_load(const char *qdir, const char *id, struct queue_msgenv *e,
    char *err, size_t errlen)
{
	char	*path, *text, sub[512];
	size_t	 len;
	int	 rv = -1;

	memset(e, 0, sizeof(*e));
	if (!queue_id_valid(id)) {
		err_printf(err, errlen, "not a queue id");
		errno = EINVAL;
		return -1;
	}
	path = queue_env_path(qdir, id);
	if ((text = fsio_read_file(path, QUEUE_ENV_FILE_MAX, &len)) == NULL) {
		err_printf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (queue_msgenv_parse(text, len, id, e, sub, sizeof(sub)) == -1) {
		err_printf(err, errlen, "%s: %s", path, sub);
		errno = EINVAL;
		goto out;
	}
	rv = 0;
out:
	free(text);
	free(path);
	return rv;
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

char *
queue_msgenv_dump(const struct queue_msgenv *e, size_t *len_r)
{
	json_t	*root, *arr;
	char	*text, *out;

	arr = json_array();
	for (size_t i = 0; i < e->n; i++) {
		const struct queue_target *t = &e->t[i];
		json_t *o = json_object();

		json_object_set_new(o, "addr", json_string(t->addr));
		json_object_set_new(o, "local", json_boolean(t->local));
		json_object_set_new(o, "state",
		    json_string(queue_tstate_name(t->state)));
		json_object_set_new(o, "attempts", json_integer(t->attempts));
		json_object_set_new(o, "next_try",
		    json_integer((json_int_t)t->next_try));
		json_object_set_new(o, "last_error", str_or_null(t->last_error));
		json_object_set_new(o, "uid", t->uid != 0 ?
		    json_integer(t->uid) : json_null());
		json_object_set_new(o, "notified", json_boolean(t->notified));
		json_array_append_new(arr, o);
	}
	root = json_object();
	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "id", json_string(e->id));
	json_object_set_new(root, "from", json_string(e->from));
	json_object_set_new(root, "received",
	    json_integer((json_int_t)e->received));
	json_object_set_new(root, "client_ip", str_or_null(e->client_ip));
	json_object_set_new(root, "helo", str_or_null(e->helo));
	json_object_set_new(root, "auth_user", str_or_null(e->auth_user));
	json_object_set_new(root, "smtputf8", json_boolean(e->smtputf8));
	json_object_set_new(root, "size", json_integer((json_int_t)e->size));
	json_object_set_new(root, "local_head",
	    json_integer((json_int_t)e->local_head));
	json_object_set_new(root, "targets", arr);
	text = json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
	json_decref(root);
	if (text == NULL)
		abort();	/* allocation failure, as xmalloc */
	out = xasprintf("%s\n", text);
	free(text);
	*len_r = strlen(out);
	return out;
}

int
queue_msgenv_save(const char *qdir, const struct queue_msgenv *e)
{
	char	*path, *text;
	size_t	 len;
	int	 rv, saved;

	path = queue_env_path(qdir, e->id);
	text = queue_msgenv_dump(e, &len);
	rv = fsio_write_atomic(path, text, len, 0600);
	saved = errno;
	free(text);
	free(path);
	errno = saved;
	return rv;
}

bool
queue_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i], need;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else
			return false;
		if (n - i <= need)
			return false;
		for (unsigned k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* Overlongs, surrogates, past U+10FFFF. */
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += need + 1;
	}
	return true;
}
