/*
 * fuzz_imap.h: drive imap/parser.c with wire bytes, for the IMAP targets.
 */
#ifndef RMAIL_FUZZ_IMAP_H
#define RMAIL_FUZZ_IMAP_H

#include <stdbool.h>
#include <string.h>

#include "imap/parser.h"
#include "tests/fuzz/fuzz.h"

typedef void fuzz_imap_cb(const struct imap_cmd *, void *arg);

/* Check the shape of a parsed argument tree; returns the tokens in it. */
static inline size_t
fuzz_imap_check_args(const struct imap_arg *v, size_t n, unsigned depth)
{
	size_t count = n;

	FUZZ_CHECK(depth <= IMAP_DEPTH_MAX + 1);
	FUZZ_CHECK(n == 0 || v != NULL);
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *a = &v[i];
		bool nil;

		switch (a->type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_QUOTED:
			FUZZ_CHECK(a->str != NULL);
			FUZZ_CHECK(strlen(a->str) == a->len);
			FUZZ_CHECK(imap_arg_astring(a) == a->str);
			break;
		case IMAP_ARG_LITERAL:
			FUZZ_CHECK(a->str != NULL && a->str[a->len] == '\0');
			FUZZ_CHECK((imap_arg_astring(a) != NULL) ==
			    (memchr(a->str, '\0', a->len) == NULL));
			break;
		case IMAP_ARG_NIL:
			FUZZ_CHECK(a->str == NULL);
			FUZZ_CHECK(imap_arg_nstring(a, &nil) == NULL && nil);
			FUZZ_CHECK(imap_arg_is_atom(a, "NIL"));
			break;
		case IMAP_ARG_LIST:
			FUZZ_CHECK(a->str == NULL);
			count += fuzz_imap_check_args(a->list, a->nlist,
			    depth + 1);
			break;
		default:
			FUZZ_CHECK(!"unknown argument type");
		}
	}
	return count;
}

static inline void
fuzz_imap_check_cmd(const struct imap_cmd *cmd)
{
	FUZZ_CHECK(cmd != NULL && cmd->tag != NULL && cmd->name != NULL);
	FUZZ_CHECK(*cmd->tag != '\0' && strlen(cmd->tag) <= IMAP_TAG_MAX);
	for (const char *c = cmd->name; *c != '\0'; c++)
		FUZZ_CHECK(!(*c >= 'a' && *c <= 'z'));
	FUZZ_CHECK(fuzz_imap_check_args(cmd->args, cmd->nargs, 0) <=
	    IMAP_ARGS_MAX);
}

/*
 * Feed wire (lines ending in LF or CRLF, literal bytes after a marker) to
 * p, literal bytes chunk at a time (0: all at once), calling cb for every
 * complete command. Whatever is left unfinished is abandoned (reset).
 */
static inline void
fuzz_imap_wire(struct imap_parser *p, const uint8_t *d, size_t n,
    size_t chunk, fuzz_imap_cb *cb, void *arg)
{
	const uint8_t *s = d, *e = d + n;
	enum imap_parse_res r = IMAP_PARSE_LINE;
	bool toobig, sync;

	while (s < e) {
		if (r == IMAP_PARSE_LITERAL) {
			uint64_t left = imap_parser_literal_size(p, &sync);

			if (left > (uint64_t)(e - s))
				left = (uint64_t)(e - s);	/* cut short */
			while (left > 0) {
				size_t k = chunk == 0 || chunk > left ?
				    (size_t)left : chunk;

				r = imap_parser_literal(p, s, k);
				s += k;
				left -= k;
				FUZZ_CHECK(r == IMAP_PARSE_LITERAL ||
				    (r == IMAP_PARSE_LINE && left == 0));
			}
			if (r == IMAP_PARSE_LITERAL) {
				/* Announced zero bytes, or the input ended. */
				if (imap_parser_literal_size(p, &sync) != 0)
					break;
				r = IMAP_PARSE_LINE;
			}
			continue;
		}
		{
			const uint8_t *lf = memchr(s, '\n', (size_t)(e - s));
			size_t ll = lf != NULL ? (size_t)(lf - s) :
			    (size_t)(e - s);

			r = imap_parser_line(p, (const char *)s,
			    ll > 0 && s[ll - 1] == '\r' ? ll - 1 : ll);
			s = lf != NULL ? lf + 1 : e;
		}
		switch (r) {
		case IMAP_PARSE_DONE:
			fuzz_imap_check_cmd(imap_parser_cmd(p));
			cb(imap_parser_cmd(p), arg);
			imap_parser_reset(p);
			r = IMAP_PARSE_LINE;
			break;
		case IMAP_PARSE_ERROR:
			FUZZ_CHECK(imap_parser_error(p, &toobig) != NULL);
			(void)imap_parser_literal_size(p, &sync);
			imap_parser_reset(p);
			r = IMAP_PARSE_LINE;
			break;
		case IMAP_PARSE_LITERAL:
			(void)imap_parser_tag(p);
			FUZZ_CHECK(imap_parser_name(p) != NULL);
			break;
		case IMAP_PARSE_LINE:
			break;
		}
	}
	imap_parser_reset(p);
}

#endif
