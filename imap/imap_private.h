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
	uint64_t		 skip_left;	/* its bytes still to discard */
};

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

/* Commands (each file's export). */
typedef void imap_cmd_fn(struct imap_session *, const struct imap_cmd *);

/* imap_cmd_mailbox.c / imap_cmd_list.c (mailbox management) */
imap_cmd_fn imap_cmd_create, imap_cmd_delete, imap_cmd_rename,
	    imap_cmd_subscribe, imap_cmd_unsubscribe, imap_cmd_list,
	    imap_cmd_lsub, imap_cmd_status, imap_cmd_namespace;

#endif
