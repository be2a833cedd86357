/* jsonpos: positions and error messages for the JSON files of config/. */
#include "config/jsonpos.h"
#include "core/util.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The tokenizer only ever runs on text jansson has already seen, so it is
 * lenient: it finds things, it does not validate. It never reads past len.
 */
struct cur {
	const char	*s;
	size_t		 len;
	size_t		 pos;
	unsigned	 line;
	unsigned	 col;
};

static void
cur_init(struct cur *c, const char *s, size_t len)
{
	c->s = s;
	c->len = len;
	c->pos = 0;
	c->line = 1;
	c->col = 1;
}

static int
peek(const struct cur *c)
{
	return c->pos < c->len ? (unsigned char)c->s[c->pos] : -1;
}

static void
adv(struct cur *c)
{
	unsigned char ch;

	if (c->pos >= c->len)
		return;
	ch = (unsigned char)c->s[c->pos++];
	if (ch == '\n') {
		c->line++;
		c->col = 1;
	} else if ((ch & 0xc0) != 0x80) {
		/* UTF-8 continuation bytes belong to the previous character. */
		c->col++;
	}
}

static void
skip_ws(struct cur *c)
{
	for (;;) {
		int ch = peek(c);

		if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
			return;
		adv(c);
	}
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int
read_hex4(struct cur *c, unsigned *v_r)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hexval(peek(c));

		if (h < 0)
			return -1;
		v = v * 16 + (unsigned)h;
		adv(c);
	}
	*v_r = v;
	return 0;
}

static size_t
utf8_put(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Scan the string at the cursor (which is at its '"'). With out non-NULL,
 * store the decoded text (NUL-terminated; the caller frees). Decoded text
 * never outgrows the raw text, which sizes the allocation.
 */
static int
scan_string(struct cur *c, char **out)
{
	char *buf = NULL;
	size_t n = 0;
	int ch;

	if (peek(c) != '"')
		return -1;
	adv(c);
	if (out != NULL)
		buf = xmalloc(c->len - c->pos + 1);
	for (;;) {
		ch = peek(c);
		if (ch == -1)
			goto fail;
		adv(c);
		if (ch == '"')
			break;
		if (ch != '\\') {
			if (buf != NULL)
				buf[n++] = (char)ch;
			continue;
		}
		ch = peek(c);
		adv(c);
		if (ch == 'u') {
			unsigned cp, lo;

			if (read_hex4(c, &cp) == -1)
				goto fail;
			/* A surrogate pair is one code point, as jansson decodes it. */
			if (cp >= 0xd800 && cp < 0xdc00 && peek(c) == '\\' &&
			    c->pos + 1 < c->len && c->s[c->pos + 1] == 'u') {
				adv(c);
				adv(c);
				if (read_hex4(c, &lo) == -1)
					goto fail;
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					    (lo - 0xdc00);
				} else {
					if (buf != NULL)
						n += utf8_put(buf + n, cp);
					cp = lo;
				}
			}
			if (buf != NULL)
				n += utf8_put(buf + n, cp);
			continue;
		}
		switch (ch) {
		case 'b': ch = '\b'; break;
		case 'f': ch = '\f'; break;
		case 'n': ch = '\n'; break;
		case 'r': ch = '\r'; break;
		case 't': ch = '\t'; break;
		case '"': case '\\': case '/': break;
		default: goto fail;
		}
		if (buf != NULL)
			buf[n++] = (char)ch;
	}
	if (out != NULL) {
		buf[n] = '\0';
		*out = buf;
	}
	return 0;
fail:
	free(buf);
	return -1;
}

/* Skip the value at the cursor (after whitespace). */
static int
skip_value(struct cur *c)
{
	int ch = peek(c), depth = 0;
	size_t start = c->pos;

	if (ch == '"')
		return scan_string(c, NULL);
	if (ch == '{' || ch == '[') {
		do {
			ch = peek(c);
			if (ch == -1)
				return -1;
			if (ch == '"') {
				if (scan_string(c, NULL) == -1)
					return -1;
				continue;
			}
			if (ch == '{' || ch == '[')
				depth++;
			else if (ch == '}' || ch == ']')
				depth--;
			adv(c);
		} while (depth > 0);
		return 0;
	}
	while ((ch = peek(c)) != -1 && strchr(",]} \t\r\n", ch) == NULL)
		adv(c);
	return c->pos > start ? 0 : -1;
}

/* After a member or element: 1 at ',' (consumed), 0 at the closing char. */
static int
next_item(struct cur *c, int close)
{
	skip_ws(c);
	if (peek(c) == ',') {
		adv(c);
		return 1;
	}
	return peek(c) == close ? 0 : -1;
}

int
jsonpos_find(const char *text, size_t len, const struct jsonpos_step *path,
    size_t n, enum jsonpos_at at, unsigned *line_r, unsigned *col_r)
{
	struct cur c;

	if (at == JSONPOS_PARENT) {
		if (n > 0)
			n--;
		at = JSONPOS_VALUE;
	}
	cur_init(&c, text, len);
	skip_ws(&c);
	for (size_t i = 0; i < n; i++) {
		const struct jsonpos_step *st = &path[i];

		if (st->key != NULL) {
			if (peek(&c) != '{')
				return -1;
			adv(&c);
			for (;;) {
				unsigned kl, kc;
				char *key;
				bool match;

				skip_ws(&c);
				kl = c.line;
				kc = c.col;
				if (scan_string(&c, &key) == -1)
					return -1;
				match = strcmp(key, st->key) == 0;
				free(key);
				skip_ws(&c);
				if (peek(&c) != ':')
					return -1;
				adv(&c);
				skip_ws(&c);
				if (match) {
					if (i + 1 == n && at == JSONPOS_KEY) {
						*line_r = kl;
						*col_r = kc;
						return 0;
					}
					break;
				}
				if (skip_value(&c) == -1 || next_item(&c, '}') != 1)
					return -1;
			}
		} else {
			if (peek(&c) != '[')
				return -1;
			adv(&c);
			for (size_t k = 0; ; k++) {
				skip_ws(&c);
				if (peek(&c) == ']')
					return -1;
				if (k == st->index)
					break;
				if (skip_value(&c) == -1 || next_item(&c, ']') != 1)
					return -1;
			}
		}
	}
	if (peek(&c) == -1)
		return -1;
	*line_r = c.line;
	*col_r = c.col;
	return 0;
}

const char *
jsonpos_quote(const char *s, char *buf, size_t buflen)
{
	size_t n = 0;

	assert(buflen >= 8);
	buf[n++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		char tmp[8];
		size_t k;

		if (ch == '"' || ch == '\\')
			k = (size_t)snprintf(tmp, sizeof(tmp), "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			k = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", ch);
		else
			tmp[0] = (char)ch, k = 1;
		/* Leave room for "..." + '"' + NUL when cutting. */
		if (n + k + 5 > buflen) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		memcpy(buf + n, tmp, k);
		n += k;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

static bool
plain_key(const char *k)
{
	if (*k == '\0')
		return false;
	for (; *k != '\0'; k++) {
		unsigned char ch = (unsigned char)*k;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

void
jsonpos_format_path(const struct jsonpos_step *path, size_t n, char *buf,
    size_t buflen)
{
	size_t used = 0;

	if (n == 0) {
		snprintf(buf, buflen, "(top)");
		return;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < buflen; i++) {
		char q[256];
		int k;

		if (path[i].key == NULL)
			k = snprintf(buf + used, buflen - used, "[%zu]", path[i].index);
		else
			k = snprintf(buf + used, buflen - used, "%s%s",
			    i > 0 ? "." : "", plain_key(path[i].key) ? path[i].key :
			    jsonpos_quote(path[i].key, q, sizeof(q)));
		if (k < 0)
			break;
		used += (size_t)k;
	}
}

/* State of the duplicate search: the path down to the current value. */
struct dupscan {
	struct cur		 c;
	struct jsonpos_step	 path[JSONPOS_MAX_DEPTH];
	char			*pathbuf;
	size_t			 pathlen;
	unsigned		 line;
	unsigned		 col;
};

/* 1 when a duplicate was found (and recorded), 0 when none, -1 malformed. */
static int
dup_value(struct dupscan *d, size_t depth)
{
	struct cur *c = &d->c;
	char **keys = NULL;
	size_t nkeys = 0;
	int r = -1, ch;

	skip_ws(c);
	ch = peek(c);
	if (depth >= JSONPOS_MAX_DEPTH || (ch != '{' && ch != '['))
		return skip_value(c) == -1 ? -1 : 0;
	adv(c);
	skip_ws(c);
	if (peek(c) == (ch == '{' ? '}' : ']')) {
		adv(c);
		return 0;
	}
	for (size_t i = 0; ; i++) {
		if (ch == '{') {
			unsigned kl, kc;
			char *key;

			skip_ws(c);
			kl = c->line;
			kc = c->col;
			if (scan_string(c, &key) == -1)
				goto out;
			keys = xrealloc(keys, (nkeys + 1) * sizeof(*keys));
			keys[nkeys++] = key;
			d->path[depth].key = key;
			for (size_t k = 0; k + 1 < nkeys; k++) {
				if (strcmp(keys[k], key) == 0) {
					jsonpos_format_path(d->path, depth + 1,
					    d->pathbuf, d->pathlen);
					d->line = kl;
					d->col = kc;
					r = 1;
					goto out;
				}
			}
			skip_ws(c);
			if (peek(c) != ':')
				goto out;
			adv(c);
		} else {
			d->path[depth].key = NULL;
			d->path[depth].index = i;
		}
		if ((r = dup_value(d, depth + 1)) != 0)
			goto out;
		r = -1;
		switch (next_item(c, ch == '{' ? '}' : ']')) {
		case 1:
			continue;
		case 0:
			adv(c);
			r = 0;
			goto out;
		default:
			goto out;
		}
	}
out:
	for (size_t k = 0; k < nkeys; k++)
		free(keys[k]);
	free(keys);
	return r;
}

int
jsonpos_find_duplicate(const char *text, size_t len, char *pathbuf,
    size_t pathlen, unsigned *line_r, unsigned *col_r)
{
	struct dupscan d;

	memset(&d, 0, sizeof(d));
	cur_init(&d.c, text, len);
	d.pathbuf = pathbuf;
	d.pathlen = pathlen;
	if (dup_value(&d, 0) != 1)
		return -1;
	*line_r = d.line;
	*col_r = d.col;
	return 0;
}

/* Levenshtein distance, or SIZE_MAX for strings too long to bother with. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

const char *
jsonpos_suggest(const char *key, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX;

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(key, names[i]);
		size_t longest = strlen(key) > strlen(names[i]) ?
		    strlen(key) : strlen(names[i]);

		/* Close in absolute terms, and not most of the word changed. */
		if (d <= 3 && 2 * d <= longest && d < bestd) {
			best = names[i];
			bestd = d;
		}
	}
	return best;
}

json_t *
jsonpos_load(const char *file, const char *text, size_t len, char *err,
    size_t errlen)
{
	json_error_t je;
	json_t *root;
	unsigned line, col;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		char path[512];

		if (strncmp(je.text, "duplicate object key", 20) == 0 &&
		    jsonpos_find_duplicate(text, len, path, sizeof(path),
		    &line, &col) == 0) {
			snprintf(err, errlen, "%s:%u:%u: %s: duplicate key",
			    file, line, col, path);
			return NULL;
		}
		/* jansson says column 0 for an error at the start of a line. */
		snprintf(err, errlen, "%s:%d:%d: invalid JSON: %s", file,
		    je.line > 0 ? je.line : 1, je.column > 0 ? je.column : 1,
		    je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		if (jsonpos_find(text, len, NULL, 0, JSONPOS_VALUE, &line, &col) == -1)
			line = col = 1;
		snprintf(err, errlen, "%s:%u:%u: (top): expected an object, got %s",
		    file, line, col, jsonpos_type_name(root));
		json_decref(root);
		return NULL;
	}
	return root;
}

void
jsonpos_push_key(struct jsonpos_ctx *ctx, const char *key)
{
	assert(ctx->depth < JSONPOS_MAX_DEPTH);
	ctx->path[ctx->depth].key = key;
	ctx->path[ctx->depth].index = 0;
	ctx->depth++;
}

void
jsonpos_push_index(struct jsonpos_ctx *ctx, size_t i)
{
	assert(ctx->depth < JSONPOS_MAX_DEPTH);
	ctx->path[ctx->depth].key = NULL;
	ctx->path[ctx->depth].index = i;
	ctx->depth++;
}

void
jsonpos_pop(struct jsonpos_ctx *ctx)
{
	assert(ctx->depth > 0);
	ctx->depth--;
}

int
jsonpos_fail(struct jsonpos_ctx *ctx, enum jsonpos_at at, const char *fmt, ...)
{
	char path[512], msg[768];
	unsigned line = 1, col = 1;
	size_t n = ctx->depth;
	va_list ap;

	/*
	 * A path the text does not hold (it cannot happen for text jansson
	 * parsed, short of a bug) still gets the nearest enclosing position.
	 */
	while (jsonpos_find(ctx->text, ctx->len, ctx->path, n, at, &line,
	    &col) == -1 && n > 0) {
		n--;
		at = JSONPOS_VALUE;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	jsonpos_format_path(ctx->path, ctx->depth, path, sizeof(path));
	snprintf(ctx->err, ctx->errlen, "%s:%u:%u: %s: %s", ctx->file, line, col,
	    path, msg);
	return -1;
}

const char *
jsonpos_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:	return "object";
	case JSON_ARRAY:	return "array";
	case JSON_STRING:	return "string";
	case JSON_INTEGER:	return "integer";
	case JSON_REAL:		return "number";
	case JSON_TRUE:
	case JSON_FALSE:	return "boolean";
	case JSON_NULL:		return "null";
	}
	return "?";
}

int
jsonpos_type_error(struct jsonpos_ctx *ctx, const json_t *v, const char *what)
{
	return jsonpos_fail(ctx, JSONPOS_VALUE, "expected %s, got %s", what,
	    jsonpos_type_name(v));
}

int
jsonpos_expect(struct jsonpos_ctx *ctx, const json_t *v, json_type t)
{
	static const char *const what[] = {
		[JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",
		[JSON_STRING] = "a string", [JSON_INTEGER] = "an integer",
		[JSON_REAL] = "a number", [JSON_TRUE] = "a boolean",
		[JSON_FALSE] = "a boolean", [JSON_NULL] = "null",
	};

	if (json_typeof(v) == t)
		return 0;
	return jsonpos_type_error(ctx, v, what[t]);
}

int
jsonpos_walk(struct jsonpos_ctx *ctx, json_t *obj,
    const struct jsonpos_field *fields, size_t nfields)
{
	const char *names[64];
	const char *key;
	json_t *v;

	assert(nfields <= NELEM(names));
	if (jsonpos_expect(ctx, obj, JSON_OBJECT) == -1)
		return -1;
	json_object_foreach(obj, key, v) {
		const struct jsonpos_field *f = NULL;
		int r;

		for (size_t i = 0; i < nfields && f == NULL; i++)
			if (strcmp(fields[i].name, key) == 0)
				f = &fields[i];
		jsonpos_push_key(ctx, key);
		if (f == NULL) {
			const char *near;
			char q1[128], q2[128];

			for (size_t i = 0; i < nfields; i++)
				names[i] = fields[i].name;
			near = jsonpos_suggest(key, names, nfields);
			if (near != NULL)
				return jsonpos_fail(ctx, JSONPOS_KEY,
				    "unknown key %s (did you mean %s?)",
				    jsonpos_quote(key, q1, sizeof(q1)),
				    jsonpos_quote(near, q2, sizeof(q2)));
			return jsonpos_fail(ctx, JSONPOS_KEY, "unknown key %s",
			    jsonpos_quote(key, q1, sizeof(q1)));
		}
		r = f->fn(ctx, v, f);
		jsonpos_pop(ctx);
		if (r == -1)
			return -1;
	}
	for (size_t i = 0; i < nfields; i++) {
		if (fields[i].required && json_object_get(obj, fields[i].name) == NULL) {
			jsonpos_push_key(ctx, fields[i].name);
			return jsonpos_fail(ctx, JSONPOS_PARENT, "missing required key");
		}
	}
	return 0;
}
