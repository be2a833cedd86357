/*
 * aliases: lookup in the loaded config, and edits of the config file.
 *
 * An edit works on the file's JSON (jansson keeps member order), never on
 * struct conf, so every other key survives as written. The edited text is
 * validated with conf_parse before it replaces the file: an edit that would
 * leave a config the server refuses is never written.
 */
#include "config/aliases.h"
#include "config/config.h"
#include "config/jsonpos.h"
#include "core/fsio.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ALIASES_MAX_FILE	(16u * 1024 * 1024)

const struct conf_strv *
aliases_lookup_exact(const struct conf *conf, const char *address)
{
	if (conf == NULL || address == NULL)
		return NULL;
	for (size_t i = 0; i < conf->naliases; i++)
		if (ascii_casecmp(conf->aliases[i].from, address) == 0)
			return &conf->aliases[i].to;
	return NULL;
}

const struct conf_strv *
aliases_lookup_catchall(const struct conf *conf, const char *domain)
{
	if (conf == NULL || domain == NULL)
		return NULL;
	for (size_t i = 0; i < conf->naliases; i++) {
		const char *from = conf->aliases[i].from;

		if (from[0] == '@' && ascii_casecmp(from + 1, domain) == 0)
			return &conf->aliases[i].to;
	}
	return NULL;
}

const struct conf_strv *
aliases_lookup(const struct conf *conf, const char *address)
{
	const struct conf_strv	*to;
	const char		*at;

	if ((to = aliases_lookup_exact(conf, address)) != NULL)
		return to;
	if (address == NULL || (at = strrchr(address, '@')) == NULL)
		return NULL;
	return aliases_lookup_catchall(conf, at + 1);
}

/* The member of obj whose name equals name ignoring case, or NULL. */
static const char *
find_key(json_t *obj, const char *name, json_t **val_r)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		if (ascii_casecmp(key, name) == 0) {
			*val_r = v;
			return key;
		}
	}
	return NULL;
}

/* Index of target in an alias's array value, ignoring case, or -1. */
static ssize_t
find_target(json_t *arr, const char *target)
{
	json_t *e;
	size_t i;

	json_array_foreach(arr, i, e)
		if (json_is_string(e) &&
		    ascii_casecmp(json_string_value(e), target) == 0)
			return (ssize_t)i;
	return -1;
}

/* Apply the edit to root. 0, or -1 with a message in err. */
static int
apply(json_t *root, const char *from, const char *to, bool add, char *err,
    size_t errlen)
{
	json_t *aliases, *val = NULL;
	const char *key;
	char qf[300], qt[300];
	char *k;
	ssize_t i;

	jsonpos_quote(from, qf, sizeof(qf));
	if (to != NULL)
		jsonpos_quote(to, qt, sizeof(qt));
	if ((aliases = json_object_get(root, "aliases")) == NULL) {
		if (!add) {
			snprintf(err, errlen, "no alias %s", qf);
			return -1;
		}
		aliases = json_object();
		json_object_set_new(root, "aliases", aliases);
	}
	key = find_key(aliases, from, &val);
	if (add) {
		if (key == NULL) {
			/* One form for new entries, however many targets follow. */
			json_object_set_new(aliases, from, json_pack("[s]", to));
			return 0;
		}
		if (json_is_string(val)) {
			if (ascii_casecmp(json_string_value(val), to) == 0)
				goto dup;
			json_object_set_new(aliases, key, json_pack("[s,s]",
			    json_string_value(val), to));
			return 0;
		}
		if (find_target(val, to) != -1)
			goto dup;
		json_array_append_new(val, json_string(to));
		return 0;
	}
	if (key == NULL) {
		snprintf(err, errlen, "no alias %s", qf);
		return -1;
	}
	if (to != NULL) {
		if (json_is_string(val)) {
			if (ascii_casecmp(json_string_value(val), to) != 0)
				goto notarget;
		} else {
			if ((i = find_target(val, to)) == -1)
				goto notarget;
			json_array_remove(val, (size_t)i);
			if (json_array_size(val) > 0)
				return 0;
		}
	}
	/* The last target goes with its alias: an empty list is refused. */
	k = xstrdup(key);
	json_object_del(aliases, k);
	free(k);
	return 0;
dup:
	snprintf(err, errlen, "alias %s already has target %s", qf, qt);
	return -1;
notarget:
	snprintf(err, errlen, "alias %s has no target %s", qf, qt);
	return -1;
}

static int
edit(const char *path, const char *from_arg, const char *to_arg, bool add,
    char *err, size_t errlen)
{
	struct conf_error cerr;
	struct conf *conf = NULL;
	struct stat st;
	json_t *root = NULL;
	char *real = NULL, *text = NULL, *out = NULL, *from = NULL, *to = NULL;
	char q[300];
	size_t len;
	int r = -1;

	/* Write through a symlink to the file it names, not over the link. */
	if ((real = realpath(path, NULL)) == NULL ||
	    (text = fsio_read_file(real, ALIASES_MAX_FILE, &len)) == NULL ||
	    stat(real, &st) == -1) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	if ((conf = conf_parse(path, text, len, &cerr)) == NULL) {
		snprintf(err, errlen, "%s", cerr.msg);
		goto out;
	}
	from = xstrdup(from_arg != NULL ? from_arg : "");
	ascii_lower(from);
	if (from[0] == '@' ? !conf_valid_hostname(from + 1) :
	    !conf_valid_address(from)) {
		snprintf(err, errlen, "invalid alias %s (expected local@domain "
		    "or @domain)", jsonpos_quote(from_arg != NULL ? from_arg : "",
		    q, sizeof(q)));
		goto out;
	}
	if (to_arg != NULL) {
		to = xstrdup(to_arg);
		ascii_lower(to);
		if (!conf_valid_address(to)) {
			snprintf(err, errlen, "invalid address %s (expected "
			    "local@domain)", jsonpos_quote(to_arg, q, sizeof(q)));
			goto out;
		}
	} else if (add) {
		snprintf(err, errlen, "missing target address");
		goto out;
	}
	if (add && !conf_is_local_domain(conf, strrchr(from, '@') + 1)) {
		snprintf(err, errlen, "domain %s is not one of \"domains\" in %s",
		    jsonpos_quote(strrchr(from, '@') + 1, q, sizeof(q)), path);
		goto out;
	}
	if ((root = jsonpos_load(path, text, len, err, errlen)) == NULL ||
	    apply(root, from, to, add, err, errlen) == -1)
		goto out;
	if ((out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL) {
		snprintf(err, errlen, "%s: cannot encode the edited config", path);
		goto out;
	}
	len = strlen(out);
	out = xrealloc(out, len + 2);
	out[len++] = '\n';
	out[len] = '\0';
	conf_free(&conf);
	if ((conf = conf_parse(path, out, len, &cerr)) == NULL) {
		snprintf(err, errlen, "edit refused: %s", cerr.msg);
		goto out;
	}
	if (fsio_write_atomic(real, out, len, st.st_mode & 07777) == -1) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		goto out;
	}
	/*
	 * The new file belongs to whoever wrote it; root editing a config the
	 * server (running as its own user) must read gives it back.
	 */
	if (geteuid() == 0 && (st.st_uid != 0 || st.st_gid != 0) &&
	    chown(real, st.st_uid, st.st_gid) == -1) {
		snprintf(err, errlen, "%s: written, but cannot restore its owner: %s",
		    path, strerror(errno));
		goto out;
	}
	r = 0;
out:
	conf_free(&conf);
	json_decref(root);
	free(real);
	free(text);
	free(out);
	free(from);
	free(to);
	return r;
}

int
aliases_edit_add(const char *path, const char *from, const char *to,
    char *err, size_t errlen)
{
	return edit(path, from, to, true, err, errlen);
}

int
aliases_edit_del(const char *path, const char *from, const char *to,
    char *err, size_t errlen)
{
	return edit(path, from, to, false, err, errlen);
}
