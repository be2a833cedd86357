/*
 * aliases: resolve an address through the config's aliases.
 *
 * An exact entry wins over a catch-all "@domain". Addresses compare
 * case-insensitively. Resolution is one level (targets are not themselves
 * expanded here; the queue expands with loop detection).
 */
#ifndef RMAIL_ALIASES_H
#define RMAIL_ALIASES_H

#include <stddef.h>

struct conf;
struct conf_strv;

/* The targets for address, or NULL when no alias applies. */
const struct conf_strv *aliases_lookup(const struct conf *, const char *address);
/* Only an exact entry for address; only the catch-all "@domain". */
const struct conf_strv *aliases_lookup_exact(const struct conf *,
	    const char *address);
const struct conf_strv *aliases_lookup_catchall(const struct conf *,
	    const char *domain);

/*
 * Edit the aliases of the config file at path, keeping every other key
 * and the key order as they are (the text is re-indented, two spaces),
 * and write it back atomically. add appends targets (no duplicate
 * targets); del removes the whole alias when target is NULL, else that one
 * target (the last target removed takes its alias along). FROM and TO are
 * lower-cased; a new alias is written as a one-element array, a string
 * value becomes an array when a second target is added. The edited file
 * must pass conf_parse before it replaces the old one (same mode, same
 * owner when run as root; a symlink is followed). 0, or -1 with a message
 * in err, the file untouched.
 */
int	aliases_edit_add(const char *path, const char *from, const char *to,
	    char *err, size_t errlen);
int	aliases_edit_del(const char *path, const char *from, const char *to,
	    char *err, size_t errlen);

#endif
