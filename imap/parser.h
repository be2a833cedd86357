/*
 * parser: the IMAP command parser (RFC 3501 section 9, LITERAL+ RFC 7888).
 *
 * Incremental: the session feeds it one command line at a time (line end
 * removed) and, whenever a line ends in a literal marker "{n}" or "{n+}",
 * the n literal bytes in as many pieces as they arrive; the parser
 * tokenises as it goes and says what it needs next. A command is
 *
 *	tag SP name [SP args] 		("UID" SP name folds into uid = true)
 *
 * and its arguments are a tree of atoms, quoted strings, literals, NIL and
 * parenthesised lists. Atoms are read permissively (anything but SP, CTL,
 * '(', ')', '"' and a leading '{'), so sequence sets ("1:*"), flags
 * ("\Seen"), list patterns ("%") and fetch attributes are atoms; an atom
 * that reaches a '[' continues to the matching ']' whatever is inside
 * (spaces, parentheses, quotes: "BODY[HEADER.FIELDS (From To)]<0.100>"
 * is one atom), and an optional "<...>" right after the ']' belongs to it.
 * Bytes >= 0x80 are accepted in atoms and quoted strings (UTF-8). Tokens
 * are separated by one or more SP (extra and trailing SP are tolerated);
 * a token followed directly by anything but SP or ')' is an error.
 *
 * Limits (struct imap_parser_limits): the bytes of command text excluding
 * literals, the nesting depth of lists, the number of arguments in all, and
 * the size of each literal, which the session decides per command (APPEND
 * takes messages, nothing else needs more than a few KB): it learns the
 * literal's size, and whether it is synchronising, before any of its bytes
 * are read, so it can refuse it (no "+ " continuation) or skip it.
 */
#ifndef RMAIL_IMAP_PARSER_H
#define RMAIL_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_TAG_MAX		64
#define IMAP_DEPTH_MAX		16	/* nested lists */
#define IMAP_ARGS_MAX		10000	/* tokens per command */

enum imap_arg_type {
	IMAP_ARG_ATOM,		/* str: the atom as sent (case kept) */
	IMAP_ARG_QUOTED,	/* str: unescaped contents */
	IMAP_ARG_LITERAL,	/* str: the bytes (may hold NULs; see len) */
	IMAP_ARG_NIL,		/* the atom NIL (any case); str NULL */
	IMAP_ARG_LIST,		/* list/nlist: the elements */
};

struct imap_arg {
	enum imap_arg_type	 type;
	char			*str;	/* NUL-terminated; NULL for NIL, LIST */
	size_t			 len;	/* bytes in str */
	bool			 literal8;	/* "~{n}" (RFC 3516), LITERAL only */
	struct imap_arg		*list;
	size_t			 nlist;
};

struct imap_cmd {
	char			*tag;
	char			*name;	/* upper-cased; the subcommand after UID */
	bool			 uid;	/* "UID FETCH" etc. */
	struct imap_arg		*args;	/* top-level arguments */
	size_t			 nargs;
};

/*
 * A literal's size is checked when its "{n}" is read, inside the
 * imap_parser_line() call that also reads the command name, so the
 * session cannot raise the limit for APPEND in between: append_literal_max
 * (when not 0) applies to every literal of a command named APPEND. No
 * literal may exceed 4294967295 bytes whatever the limits.
 */
struct imap_parser_limits {
	size_t	 line_max;	/* command text excluding literals */
	size_t	 literal_max;	/* default literal size limit */
	uint64_t append_literal_max;	/* APPEND's literals; 0: literal_max */
};

enum imap_parse_res {
	IMAP_PARSE_DONE,	/* the command is complete: imap_parser_cmd() */
	IMAP_PARSE_LITERAL,	/* feed imap_parser_literal_size() bytes */
	IMAP_PARSE_LINE,	/* feed the next line (after a literal) */
	IMAP_PARSE_ERROR,	/* malformed or over a limit: imap_parser_error() */
};

struct imap_parser;

struct imap_parser *imap_parser_new(const struct imap_parser_limits *);
void	 imap_parser_free(struct imap_parser **);
/* Forget the command in progress (after DONE or ERROR, or to abandon),
 * freeing all it holds, and undo imap_parser_set_literal_max(). */
void	 imap_parser_reset(struct imap_parser *);

/*
 * Feed one line (without its CRLF; may contain anything but is refused
 * with ERROR if it holds a NUL). Returns what comes next. After LITERAL the
 * session looks at imap_parser_literal_size() and either feeds exactly
 * that many bytes with imap_parser_literal() (sending "+ " first for a
 * synchronising one) or gives up on the command.
 */
enum imap_parse_res imap_parser_line(struct imap_parser *, const char *line,
	    size_t len);
/*
 * The announced size of the pending literal; *sync_r false for "{n+}".
 * Also after ERROR: when the failing line ended in a literal marker
 * (e.g. "Literal too large"), its size (UINT64_MAX if it does not fit)
 * and kind, so the session can discard the bytes of a non-synchronising
 * literal the client sends anyway; 0 and sync when there was none.
 * An empty literal ("{0}") needs no imap_parser_literal() call: the next
 * imap_parser_line() may follow directly.
 */
uint64_t imap_parser_literal_size(const struct imap_parser *, bool *sync_r);
/* Feed literal bytes (any split, never more than are due: asserted);
 * returns LITERAL while more are due, then LINE (the rest of the command
 * line follows the literal, possibly empty). */
enum imap_parse_res imap_parser_literal(struct imap_parser *,
	    const void *data, size_t len);
/* Raise (or lower) the literal limit for the command in progress, for
 * the literals announced after this call (until reset); it overrides
 * both limits of struct imap_parser_limits. */
void	 imap_parser_set_literal_max(struct imap_parser *, uint64_t max);

/*
 * The tag and name seen so far, or NULL: known once the first line is
 * fed (even when the command later fails), so a BAD can carry the tag and
 * the literal limit can depend on the command.
 */
const char *imap_parser_tag(const struct imap_parser *);
const char *imap_parser_name(const struct imap_parser *);

/* After DONE: the command, owned by the parser until reset/free. */
const struct imap_cmd *imap_parser_cmd(const struct imap_parser *);
/* After ERROR: why ("Missing tag", "Literal too large", ...); static or
 * owned by the parser. *toobig_r true when a limit was passed (the session
 * answers BAD [TOOBIG] / NO [TOOBIG]). */
const char *imap_parser_error(const struct imap_parser *, bool *toobig_r);

/* Argument helpers. */
/* Atom, quoted or literal without NULs: its C string; else NULL. */
const char *imap_arg_astring(const struct imap_arg *);
/* The same, and NIL: NULL with *nil_r true (false otherwise). */
const char *imap_arg_nstring(const struct imap_arg *, bool *nil_r);
/* An atom equal to word (ASCII case-insensitive); NIL matches "NIL". */
bool	 imap_arg_is_atom(const struct imap_arg *, const char *word);

#endif
