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

/*
 * Edit the aliases of the config file at path, keeping every other key
 * as it is, and write it back atomically. add appends targets (no duplicate
 * targets); del removes the whole alias when target is NULL, else that one
 * target. 0, or -1 with a message in err.
 */
int	aliases_edit_add(const char *path, const char *from, const char *to,
	    char *err, size_t errlen);
int	aliases_edit_del(const char *path, const char *from, const char *to,
	    char *err, size_t errlen);

#endif
