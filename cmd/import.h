/* import: migrate mail from other servers' formats into the store. */
#ifndef RMAIL_CMD_IMPORT_H
#define RMAIL_CMD_IMPORT_H

/*
 * Import the Maildir++ tree src (Dovecot layout: cur/ new/ .Folder.Sub,
 * dovecot-keywords, subscriptions) into the existing store folder user_dir.
 * Idempotent per source message. Returns the exit status: 0 all imported
 * or already present, 1 something failed (reported on stderr).
 */
int	import_maildir(const char *user_dir, const char *src);

#endif
