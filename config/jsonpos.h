/*
 * jsonpos: error reporting for the JSON files of config/ (private to config/).
 *
 * jansson keeps no positions for values, yet every error must name
 * "FILE:LINE:COL: KEYPATH: what is wrong". So when (and only when) an error
 * is reported, a small tokenizer walks the raw text again to find the line
 * and column of the key or value at a path. Lines and columns are 1-based;
 * columns count characters (UTF-8 sequences count one), as jansson does.
 *
 * On top of that: a loader that turns jansson's errors into the same form,
 * and an object walker that refuses unknown keys (suggesting the nearest
 * known one) and reports missing required keys.
 */
#ifndef RMAIL_JSONPOS_H
#define RMAIL_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* One step of a key path: an object member, or an array index. */
struct jsonpos_step {
	const char	*key;	/* member name; NULL for an array index */
	size_t		 index;
};

enum jsonpos_at {
	JSONPOS_VALUE,		/* the value at the path */
	JSONPOS_KEY,		/* the member name at the path (value for an index) */
	JSONPOS_PARENT,		/* the value enclosing the path (e.g. a missing key) */
};

/*
 * Find the position of the key or value at path in text. 0, or -1 when the
 * path is not in the text or the text is malformed on the way there.
 */
int	 jsonpos_find(const char *text, size_t len, const struct jsonpos_step *path,
	    size_t n, enum jsonpos_at at, unsigned *line_r, unsigned *col_r);

/*
 * Write path as text: keys joined by '.', indexes as "[i]", keys that are
 * empty or hold anything but letters, digits, '_' and '-' in double quotes
 * (`aliases."postmaster@example.com"`); "(top)" for the empty path.
 * Always NUL-terminates (truncating).
 */
void	 jsonpos_format_path(const struct jsonpos_step *path, size_t n,
	    char *buf, size_t buflen);

/*
 * The first duplicated member name in document order. 0 with the path of
 * the second occurrence in pathbuf and its key's position, or -1 when there
 * is none (or it lies too deep to look for).
 */
int	 jsonpos_find_duplicate(const char *text, size_t len, char *pathbuf,
	    size_t pathlen, unsigned *line_r, unsigned *col_r);

/*
 * s in double quotes, with '"', '\\' and control bytes escaped as in JSON,
 * truncated to fit buflen (at least 8). Returns buf.
 */
const char *jsonpos_quote(const char *s, char *buf, size_t buflen);

/* The nearest of names to key (edit distance), or NULL when none is close. */
const char *jsonpos_suggest(const char *key, const char *const *names, size_t n);

/*
 * Parse text (named file in messages) with JSON_REJECT_DUPLICATES and insist
 * on an object at the top. Returns the root (caller decrefs), or NULL with
 * one of these in err:
 *   FILE:LINE:COL: invalid JSON: <jansson's text>
 *   FILE:LINE:COL: KEYPATH: duplicate key
 *   FILE:LINE:COL: (top): expected an object, got array
 */
json_t	*jsonpos_load(const char *file, const char *text, size_t len,
	    char *err, size_t errlen);

#define JSONPOS_MAX_DEPTH	16

/* Where a validator is: the file, its text, the current key path. */
struct jsonpos_ctx {
	const char		*file;	/* as given, for messages */
	const char		*text;
	size_t			 len;
	struct jsonpos_step	 path[JSONPOS_MAX_DEPTH];
	size_t			 depth;
	char			*err;	/* the first error goes here */
	size_t			 errlen;
	void			*user;	/* the validator's own state */
};

void	 jsonpos_push_key(struct jsonpos_ctx *, const char *key);
void	 jsonpos_push_index(struct jsonpos_ctx *, size_t);
void	 jsonpos_pop(struct jsonpos_ctx *);

/* Write "FILE:LINE:COL: KEYPATH: MESSAGE" for the current path; returns -1. */
int	 jsonpos_fail(struct jsonpos_ctx *, enum jsonpos_at, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* "integer", "string", "object", "array", "number", "boolean", "null". */
const char *jsonpos_type_name(const json_t *);
/* Fail with "expected WHAT, got TYPE" at the value; returns -1. */
int	 jsonpos_type_error(struct jsonpos_ctx *, const json_t *, const char *what);
/* 0 when v has type t, else a type error ("an object", "a string", ...). */
int	 jsonpos_expect(struct jsonpos_ctx *, const json_t *v, json_type t);

struct jsonpos_field;
typedef int jsonpos_fn(struct jsonpos_ctx *, json_t *, const struct jsonpos_field *);

/* A member an object may hold. */
struct jsonpos_field {
	const char	*name;
	jsonpos_fn	*fn;		/* called with the path at this member */
	bool		 required;
	const void	*arg;		/* for fn */
};

/*
 * Check that obj is an object, then visit its members in document order:
 * an unknown one fails with `unknown key "K" (did you mean "N"?)` at the
 * key; a known one is handed to its field's fn. Then each required field
 * that is absent fails with "missing required key" at the object, with the
 * missing key's path. 0, or -1 on the first error.
 */
int	 jsonpos_walk(struct jsonpos_ctx *, json_t *obj,
	    const struct jsonpos_field *fields, size_t nfields);

#endif
