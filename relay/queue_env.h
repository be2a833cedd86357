/*
 * queue_env: the queue's files on disk (relay/queue.h), shared by the
 * server's queue and the `rmail queue` command.
 *
 *	DATA/queue/env/ID.json:
 *	{"version": 1, "id": "ID", "from": "a@b" or "", "received": UNIX_TS,
 *	 "client_ip": "..." or null, "helo": "..." or null,
 *	 "auth_user": "..." or null, "smtputf8": false, "size": N,
 *	 "local_head": N,
 *	 "targets": [{"addr": "...", "local": true,
 *	              "state": "pending" | "done" | "failed",
 *	              "attempts": N, "next_try": UNIX_TS,
 *	              "last_error": "..." or null, "uid": N or null,
 *	              "notified": false or true}]}
 *
 * Reading is lenient about what an admin may leave out when writing an
 * envelope by hand (everything but "version", "from" and "targets" with
 * their "addr" has a default); writing always writes every key.
 */
#ifndef RMAIL_RELAY_QUEUE_ENV_H
#define RMAIL_RELAY_QUEUE_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "relay/queue.h"

/* Folder names under DATA_DIR/QUEUE_DIRNAME. */
#define QUEUE_DIRNAME	"queue"
#define QUEUE_MSGDIR	"msg"
#define QUEUE_ENVDIR	"env"
#define QUEUE_TMPDIR	"tmp"
/* Longest address or text field kept from an envelope file. */
#define QUEUE_FIELD_MAX	1024
/* Most targets in one envelope (route.h caps a transaction at 100 each). */
#define QUEUE_TARGETS_MAX	10000

enum queue_tstate {
	QUEUE_T_PENDING,	/* not delivered yet (local) or waiting for the relay */
	QUEUE_T_DONE,		/* delivered; uid set for local targets */
	QUEUE_T_FAILED,		/* permanent failure (no bounce yet: relay issue) */
};

struct queue_target {
	char			*addr;		/* local: the user's address */
	bool			 local;
	enum queue_tstate	 state;
	unsigned		 attempts;	/* failed attempts so far */
	time_t			 next_try;	/* not before; 0: at once */
	char			*last_error;	/* NULL: none */
	uint32_t		 uid;		/* INBOX uid once done; 0: none */
	bool			 notified;	/* a delay notice was sent for it */
};

struct queue_msgenv {
	char			 id[QUEUE_ID_MAX];
	char			*from;		/* "" = null sender */
	time_t			 received;
	char			*client_ip;	/* may be NULL */
	char			*helo;		/* may be NULL */
	char			*auth_user;	/* NULL unless submission */
	bool			 smtputf8;
	uint64_t		 size;		/* bytes of msg/ID */
	/*
	 * msg/ID starts with this many bytes of Return-Path line that only
	 * local delivery keeps (RFC 5321 4.4); the relay sends what follows.
	 * Set by queue_submit(), which also guarantees CRLF line ends, so a
	 * local copy is a hard link to msg/ID. 0 (a hand-made envelope):
	 * local delivery writes Return-Path and CRLF itself.
	 */
	uint64_t		 local_head;
	struct queue_target	*t;
	size_t			 n;
};

/* True when id is 1..QUEUE_ID_MAX-1 characters of [0-9A-Za-z]: safe to
 * put in a path. */
bool	 queue_id_valid(const char *id);

/* "pending", "done", "failed". */
const char *queue_tstate_name(enum queue_tstate);

/*
 * Parse an envelope. expect_id (may be NULL) is the id its file name
 * gives: a different or missing "id" is refused. 0 and *e filled (release
 * with queue_msgenv_clear()), or -1 with err saying what is wrong (e
 * cleared). Addresses and texts holding control characters are refused
 * (they go into headers and log lines).
 */
int	 queue_msgenv_parse(const char *text, size_t len, const char *expect_id,
	    struct queue_msgenv *e, char *err, size_t errlen);

/* Read and parse DIR/env/ID.json (DIR = DATA_DIR/queue). -1 with errno
 * (ENOENT when there is no such envelope; EINVAL when it does not parse,
 * err says why) and err. */
int	 queue_msgenv_load(const char *qdir, const char *id,
	    struct queue_msgenv *e, char *err, size_t errlen);

/* Write DIR/env/ID.json atomically and durably (fsio_write_atomic).
 * 0, or -1 with errno. */
int	 queue_msgenv_save(const char *qdir, const struct queue_msgenv *e);

/* The JSON text of e, newline-terminated (a new allocation). */
char	*queue_msgenv_dump(const struct queue_msgenv *e, size_t *len_r);

/* Free what e holds and zero it. */
void	 queue_msgenv_clear(struct queue_msgenv *e);

/* Paths (new allocations): DIR/msg/ID, DIR/env/ID.json. */
char	*queue_msg_path(const char *qdir, const char *id);
char	*queue_env_path(const char *qdir, const char *id);

#endif
