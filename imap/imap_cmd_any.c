/* imap_cmd_any: commands valid in every state: CAPABILITY, NOOP, LOGOUT,
 * ID (RFC 2971), ENABLE (RFC 5161). */
#include "imap/imap_private.h"
#include "config/env.h"
#include "core/conn.h"
#include "core/util.h"

#include <string.h>

void
imap_cmd_capability(struct imap_session *s, const struct imap_cmd *cmd)
{
	(void)cmd;
	imap_untagged(s, "CAPABILITY %s", imap_capabilities(s));
	imap_tagged(s, "OK CAPABILITY completed");
}

void
imap_cmd_noop(struct imap_session *s, const struct imap_cmd *cmd)
{
	(void)cmd;
	imap_tagged(s, "OK NOOP completed");
}

void
imap_cmd_logout(struct imap_session *s, const struct imap_cmd *cmd)
{
	(void)cmd;
	imap_untagged(s, "BYE Logging out");
	imap_tagged(s, "OK LOGOUT completed");
	s->state = IMAP_ST_LOGOUT;
	conn_close(s->conn, CONN_CLOSE_FLUSH, "logout");
}

void
imap_cmd_id(struct imap_session *s, const struct imap_cmd *cmd)
{
	/* The client's list is only for logs; RFC 2971 limits it to 30
	 * pairs, which the parser's limits cover. */
	if (cmd->nargs != 1 || (cmd->args[0].type != IMAP_ARG_NIL &&
	    cmd->args[0].type != IMAP_ARG_LIST)) {
		imap_tagged(s, "BAD Expected: ID (field value ...) or ID NIL");
		return;
	}
	imap_untagged(s, "ID (\"name\" \"rmail\" \"version\" \"%s\")",
	    RMAIL_VERSION);
	imap_tagged(s, "OK ID completed");
}

void
imap_cmd_enable(struct imap_session *s, const struct imap_cmd *cmd)
{
	/* No extension we offer needs enabling (no CONDSTORE, no UTF8=):
	 * RFC 5161 says to ignore unknown ones. */
	if (cmd->nargs == 0) {
		imap_tagged(s, "BAD Expected: ENABLE capability ...");
		return;
	}
	imap_untagged(s, "ENABLED");
	imap_tagged(s, "OK ENABLE completed");
}
