/*
 * rmail deliver: the local delivery agent. Reads one message on stdin and
 * appends it to the INBOX of the recipient (or of the local users an alias
 * names), for an MTA to call. Exit codes follow sysexits(3), which is what
 * MTAs act on: 0 delivered (durably), 65 message refused (too large), 67
 * no such user, 75 temporary failure (try again later), 2 bad usage.
 */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "config/aliases.h"
#include "config/config.h"
#include "config/users.h"
#include "core/fsio.h"
#include "core/util.h"
#include "store/mailbox.h"
#include "store/quota.h"
#include "store/names.h"
#include "store/user.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

/* Longest -f SENDER accepted (RFC 5321 4.5.3.1.3 path: 256 octets). */
#define DELIVER_SENDER_MAX	256

/*
 * A sender goes into a header: no control characters (no CRLF
 * injection), no spaces, no angle brackets that would end the path.
 */
static bool
valid_sender(const char *s)
{
	size_t n = strlen(s);

	if (n > DELIVER_SENDER_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>')
			return false;
	}
	return true;
}

/* Add address to the target list unless it is there already. */
static void
add_target(const char ***v, size_t *n, const char *address)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], address) == 0)
			return;
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = address;
}

/*
 * The local users rcpt (lower-cased) delivers to: itself when a user,
 * else the targets of its alias that are users (one level, as the queue
 * would do for one hop). Pointers belong to users.
 */
static size_t
resolve(const struct conf *conf, const struct users *users, const char *rcpt,
    const char ***targets_r)
{
	const struct conf_strv	*to;
	const struct user	*u;
	size_t			 n = 0;

	*targets_r = NULL;
	if ((u = users_find(users, rcpt)) != NULL) {
		add_target(targets_r, &n, u->address);
		return n;
	}
	if ((to = aliases_lookup(conf, rcpt)) == NULL)
		return 0;
	for (size_t i = 0; i < to->n; i++) {
		if ((u = users_find(users, to->v[i])) == NULL) {
			fprintf(stderr, "rmail: %s: alias target %s is not a "
			    "local user; skipped\n", rcpt, to->v[i]);
			continue;
		}
		add_target(targets_r, &n, u->address);
	}
	return n;
}

/* Append msg to address's INBOX. 0, or -1 after printing why. */
static int
deliver_one(const struct conf *conf, const struct user *u, const char *msg,
    size_t len, bool verbose)
{
	const char		*address = u->address;
	struct store_quota	 quota;
	struct store_mbox	*mb;
	char			 dir[PATH_MAX], inbox[STORE_DIRNAME_MAX];
	char			 err[1024];
	const char		*why;
	uint32_t		 uid;

	if (store_user_ensure(conf->data_dir, address, dir, sizeof(dir), err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "rmail: %s: %s\n", address, err);
		return -1;
	}
	if (store_name_to_dir("INBOX", inbox, sizeof(inbox), &why) == -1) {
		fprintf(stderr, "rmail: INBOX: %s\n", why);
		return -1;
	}
	if ((mb = store_mbox_open_append(dir, inbox, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "rmail: %s: %s\n", address, err);
		return -1;
	}
	/*
	 * Over quota is a temporary failure (4.2.2, exit 75), as it is for
	 * the server's SMTP: the MTA retries while the user makes room,
	 * and bounces when its queue lifetime runs out.
	 */
	memset(&quota, 0, sizeof(quota));
	quota.max_bytes = u->quota_bytes;
	quota.max_messages = u->quota_messages;
	store_mbox_set_quota(mb, &quota);
	/*
	 * A failure after the message entered the mailbox (only the last
	 * fsync) is a failure too: not durable means not delivered, and
	 * the MTA's retry may then leave a duplicate, never a loss.
	 */
	if (store_mbox_append(mb, msg, len, 0, NULL, &uid, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "rmail: %s: %s%s\n", address,
		    errno == EDQUOT ? "4.2.2 mailbox full: " : "", err);
		store_mbox_close(&mb);
		return -1;
	}
	store_mbox_close(&mb);
	if (verbose)
		printf("rmail: delivered to %s INBOX uid %u\n", address,
		    (unsigned)uid);
	return 0;
}

int
cmd_deliver(int argc, char **argv)
{
	const char *c_arg = NULL, *sender = "", *pos[1];
	bool verbose = false;
	const struct cmd_opt opts[] = {
		{ "-c", true, &c_arg, NULL },
		{ "-f", true, &sender, NULL },
		{ "-v", false, NULL, &verbose },
	};
	struct conf *conf = NULL;
	struct users *users = NULL;
	const char **targets = NULL;
	char *rcpt = NULL, *data = NULL, *msg = NULL, *hdr = NULL, derr[512];
	size_t ntargets, len, msglen;
	int rv = EX_TEMPFAIL;

	if (cmd_parse_args("deliver", argc, argv, opts, NELEM(opts), pos,
	    1) != 1)
		cmd_usage_error("deliver", "missing RECIPIENT");
	if (!valid_sender(sender))
		cmd_usage_error("deliver", "-f: not a usable sender address");

	/* A broken config is fixed by the admin: the MTA should retry. */
	if ((conf = cmd_load_config(c_arg)) == NULL)
		return EX_TEMPFAIL;
	if ((users = cmd_load_users(conf)) == NULL)
		goto out;
	/* Run by root (an MTA's pipe, a script): store as the server does. */
	if (cmd_drop_privileges(conf, derr, sizeof(derr)) == -1) {
		fprintf(stderr, "rmail: %s\n", derr);
		goto out;
	}

	rcpt = xstrdup(pos[0]);
	ascii_lower(rcpt);
	/* Checked first: rcpt goes into a header (no CRLF injection). */
	if (!conf_valid_address(rcpt) ||
	    (ntargets = resolve(conf, users, rcpt, &targets)) == 0) {
		fprintf(stderr, "rmail: %s: no such user\n", pos[0]);
		rv = EX_NOUSER;
		goto out;
	}

	if ((data = fsio_read_fd(STDIN_FILENO, conf->limits.max_message_bytes,
	    &len)) == NULL) {
		if (errno == EFBIG) {
			fprintf(stderr, "rmail: message too large (limit %llu "
			    "bytes)\n",
			    (unsigned long long)conf->limits.max_message_bytes);
			rv = EX_DATAERR;
		} else
			fprintf(stderr, "rmail: stdin: %s\n", strerror(errno));
		goto out;
	}
	/* Trace headers first (RFC 5321 4.4), then the message in CRLF. */
	hdr = xasprintf("Return-Path: <%s>\r\nDelivered-To: %s\r\n", sender, rcpt);
	msg = store_crlf(hdr, data, len, &msglen);

	/*
	 * Stop at the first failure: 75 makes the MTA retry the whole
	 * message, so every further append would only be a duplicate.
	 */
	for (size_t i = 0; i < ntargets; i++)
		if (deliver_one(conf, users_find(users, targets[i]), msg,
		    msglen, verbose) == -1)
			goto out;
	rv = 0;
out:
	free(msg);
	free(hdr);
	free(data);
	free(targets);
	free(rcpt);
	users_free(&users);
	conf_free(&conf);
	return rv;
}
