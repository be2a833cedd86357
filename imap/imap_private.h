/*
 * imap_private: what the IMAP command files share (never included from
 * outside imap/).
 *
 * One file per command family, like Dovecot's cmd-*.c: each exports
 * imap_cmd_NAME(), listed in the command table of imap_session.c. A
 * command runs to completion on the loop (the store is synchronous) and
 * ends with exactly one tagged reply through imap_tagged(), except the
 * few that wait for the client (IDLE, AUTHENTICATE) or a worker (LOGIN).
 */
#ifndef RMAIL_IMAP_PRIVATE_H
#define RMAIL_IMAP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/listener.h"
#include "imap/parser.h"
#include "store/fname.h"

struct rmail_env;
struct conn;
struct store_mbox;
struct store_sub;
struct store_quota;
struct imap_view;

enum imap_state {
	IMAP_ST_NOTAUTH,	/* RFC 3501 3.1 */
	IMAP_ST_AUTH,		/* 3.2 */
	IMAP_ST_SELECTED,	/* 3.3 */
	IMAP_ST_LOGOUT,		/* 3.4 */
};

struct imap_server {
	struct rmail_env	*env;
	enum conf_service	 svc;
	struct listen_service	 ls;
};

struct imap_session {
	struct imap_server	*srv;
	struct conn		*conn;
	enum imap_state		 state;
	struct imap_parser	*parser;	/* while a command is read */
	char			 tag[IMAP_TAG_MAX + 1];	/* command in progress */
	char			*user;		/* address, once authenticated */
	char			*user_dir;	/* DATA/mail/DOMAIN/LOCAL */
	struct imap_view	*view;		/* the selected mailbox, or NULL */
	bool			 auth_busy;	/* a password check is running */
	bool			 sasl_wait;	/* AUTHENTICATE awaits a response */
	bool			 idling;	/* in IDLE, until DONE */
	bool			 skipping;	/* discarding a refused literal */
	bool			 skip_line;	/* then the rest of its line */
	uint64_t		 skip_left;	/* its bytes still to discard */
	uint64_t		 lit_left;	/* literal bytes the parser awaits */
	unsigned		 sasl_mech;	/* AUTHENTICATE in progress */
	char			*sasl_user;	/* AUTHENTICATE LOGIN's first answer */
	/* A command that continues when output drains (FETCH 1:*): called
	 * again until it returns true, then cont_free(cont_ctx). */
	bool			(*cont)(struct imap_session *, void *ctx);
	void			(*cont_free)(void *ctx);
	void			*cont_ctx;
	/* Mid-command: EXPUNGE must wait (RFC 3501 7.4.1). */
	bool			 no_expunge;
	unsigned		 bad_count;	/* BADs in a row */
};

/* A new connection (imap_server.c hands it over). */
void	 imap_session_open(struct conn *, struct imap_server *);

/* Start a continued command (see cont above); its first step runs when
 * the current command returns. */
void	 imap_continue(struct imap_session *, bool (*fn)(struct imap_session *,
	    void *), void (*free_fn)(void *), void *ctx);

/*
 * Replies. imap_tagged() writes "TAG " then fmt (e.g. "OK [READ-WRITE]
 * SELECT completed") and CRLF; imap_untagged() writes "* " then fmt and
 * CRLF. imap_send() writes b's bytes as they are (a response built with
 * the fmt.h writers, CRLF included) and empties b.
 */
void	 imap_tagged(struct imap_session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 imap_untagged(struct imap_session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 imap_send(struct imap_session *, struct buf *b);

/*
 * The RFC 5530 response code for a store errno, for "NO [CODE] text":
 * ENOENT NONEXISTENT, EEXIST ALREADYEXISTS, EDQUOT OVERQUOTA, ENOSPC and
 * EOVERFLOW LIMIT, EINVAL and EPERM and ENOTEMPTY and ENOTDIR CANNOT, else
 * SERVERBUG.
 */
const char *imap_errno_code(int err);

/*
 * A mailbox name argument: astring, validated and canonicalised with
 * store_name_check() into canon (STORE_MNAME_MAX bytes) and its directory
 * name into dir (STORE_DIRNAME_MAX; may be NULL). 0, or -1 after a tagged
 * "BAD"/"NO [CANNOT]" has been sent.
 */
int	 imap_arg_mailbox(struct imap_session *, const struct imap_arg *,
	    char *canon, char *dir);

/* The user's quota record (hub-shared), or NULL when the user vanished. */
struct store_quota *imap_user_quota(struct imap_session *);

/* The currently selected mailbox's canonical name, or NULL. */
const char *imap_selected_name(const struct imap_session *);

/*
 * The selected mailbox (imap_view.c). The session's view of it: the
 * message sequence (RFC 3501 2.3.1.2) as this client knows it, its \Recent
 * messages, and the changes other sessions made that the client has not
 * been told yet (EXISTS, EXPUNGE, FETCH FLAGS, FLAGS), fed by the store's
 * change notification and sent by imap_view_flush().
 */
struct imap_view {
	struct store_mbox	*mb;		/* hub handle */
	struct store_sub	*sub;
	char			*name;		/* canonical mUTF-7 */
	bool			 readonly;	/* EXAMINE */
	uint32_t		*uids;		/* seq i+1 is uids[i] */
	size_t			 n, cap;
	size_t			 announced;	/* EXISTS the client knows */
	uint32_t		*recent;	/* this session's \Recent, sorted */
	size_t			 nrecent, recent_cap;
	size_t			 recent_announced;
	uint32_t		*gone;		/* expunged, not yet announced */
	size_t			 ngone, gone_cap;
	uint32_t		*changed;	/* flags changed, not announced */
	size_t			 nchanged, changed_cap;
	bool			 keywords_changed;
	bool			 deleted;	/* STORE_EV_GONE */
	bool			 self_flags;	/* ignore FLAGS events (own STORE) */
};

/* SELECT/EXAMINE: open name (canonical) and dir; 0, or -1 with errno and
 * err. Any previous view is closed first by the caller. */
int	 imap_view_open(struct imap_session *, const char *name,
	    const char *dir, bool readonly, char *err, size_t errlen);
void	 imap_view_close(struct imap_session *);
/*
 * Tell the client what changed: EXPUNGE (only when allow_expunge), then
 * EXISTS/RECENT, FETCH FLAGS, FLAGS/PERMANENTFLAGS. Called before every
 * tagged reply (imap_tagged() does it) and at once during IDLE.
 */
void	 imap_view_flush(struct imap_session *, bool allow_expunge);
/* Sequence number (1-based) of uid in the view, or 0. */
uint32_t imap_view_seq(const struct imap_view *, uint32_t uid);
bool	 imap_view_is_recent(const struct imap_view *, uint32_t uid);
/* Write "(\Seen kw ...)" for flags (and \Recent) into b. */
int	 imap_fmt_flags(struct buf *b, const struct store_mbox *mb,
	    const struct store_flags *flags, bool recent);
/* "\Answered \Flagged ... kw1 kw2" (no parentheses): FLAGS response. */
int	 imap_fmt_flag_names(struct buf *b, const struct store_mbox *mb);
/* The PERMANENTFLAGS list (without parentheses): none when read-only;
 * "\\*" while a new keyword can still be added. */
int	 imap_fmt_permanentflags(struct buf *b, const struct store_mbox *mb,
	    bool readonly);
/* Parse a flag list argument (a list or one atom) into flags; keywords
 * are created in mb when create (STORE, APPEND). 0, or -1 with a reason
 * in *why_r ("Invalid flag", "Too many keywords"). */
int	 imap_parse_flags(const struct imap_arg *, struct store_mbox *mb,
	    bool create, struct store_flags *flags_r, const char **why_r);
/*
 * A sequence-set argument resolved against the view into ascending uids
 * (those in the view; for UID sets, the uids present). 0, or -1 (BAD
 * syntax, reply sent). *uids_r is malloc'd (NULL when *n_r is 0).
 */
int	 imap_view_uids(struct imap_session *, const struct imap_arg *,
	    bool uid, uint32_t **uids_r, size_t *n_r);

/* "3:5,9" for ascending uids (COPYUID, APPENDUID); malloc'd. */
char	*imap_uidset_str(const uint32_t *uids, size_t n);

/* Commands (each file's export). */
typedef void imap_cmd_fn(struct imap_session *, const struct imap_cmd *);

imap_cmd_fn imap_cmd_capability, imap_cmd_noop, imap_cmd_logout,
	    imap_cmd_starttls, imap_cmd_login, imap_cmd_authenticate,
	    imap_cmd_id, imap_cmd_enable, imap_cmd_idle;
imap_cmd_fn imap_cmd_select, imap_cmd_examine, imap_cmd_close,
	    imap_cmd_unselect, imap_cmd_expunge, imap_cmd_check;
imap_cmd_fn imap_cmd_fetch, imap_cmd_store, imap_cmd_copy, imap_cmd_move,
	    imap_cmd_search, imap_cmd_append;
/* AUTHENTICATE's continuation line; IDLE's DONE (imap_auth.c, imap_cmd_select.c) */
void	 imap_sasl_line(struct imap_session *, char *line, size_t len);
void	 imap_idle_line(struct imap_session *, const char *line);
const char *imap_capabilities(const struct imap_session *);


/* imap_cmd_mailbox.c / imap_cmd_list.c (mailbox management) */
imap_cmd_fn imap_cmd_create, imap_cmd_delete, imap_cmd_rename,
	    imap_cmd_subscribe, imap_cmd_unsubscribe, imap_cmd_list,
	    imap_cmd_lsub, imap_cmd_status, imap_cmd_namespace;

/* ---- STATUS items, shared by STATUS and LIST-STATUS (imap_cmd_mailbox.c;
 * added with the mailbox commands) ---- */
enum imap_status_item {
	IMAP_STATUS_MESSAGES = 1,
	IMAP_STATUS_RECENT,
	IMAP_STATUS_UIDNEXT,
	IMAP_STATUS_UIDVALIDITY,
	IMAP_STATUS_UNSEEN,
	IMAP_STATUS_SIZE,		/* RFC 8438 */
};
#define IMAP_STATUS_ITEMS_MAX	6

/* The items asked for, in the order asked, each once. */
struct imap_status_req {
	enum imap_status_item	 item[IMAP_STATUS_ITEMS_MAX];
	size_t			 n;
};

/*
 * Parse a STATUS item list ("(MESSAGES UNSEEN)", RFC 3501 6.3.10) into
 * req. 0, or -1 with a reason for a BAD in *why_r (not a list, empty, an
 * unknown item).
 */
int	 imap_status_parse(const struct imap_arg *, struct imap_status_req *req,
	    const char **why_r);
/*
 * Append "* STATUS name (ITEM n ...)" CRLF for the mailbox canon (its
 * directory dir) to b, counted from its hub handle. 0, or -1 with errno
 * and err: ENOENT no such mailbox, ENOTDIR \Noselect, ENOBUFS b's cap,
 * else the store's error. b is unchanged on failure.
 */
int	 imap_status_append(struct imap_session *, const char *canon,
	    const char *dir, const struct imap_status_req *req, struct buf *b,
	    char *err, size_t errlen);
/* ---- end of the STATUS block ---- */

#endif
