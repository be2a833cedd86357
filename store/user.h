/*
 * user: where a user's folder lives, and creating it (DESIGN.md "The store").
 *
 *	DATA_DIR/mail/DOMAIN/LOCAL/
 *	    mailboxes/INBOX/ Drafts/ Sent/ Trash/ Junk/ Archive/
 *	    tmp/
 *
 * The address is lower-cased; LOCAL and DOMAIN must each be one safe path
 * component (not empty, no '/', no leading '.', no control character,
 * LOCAL <= 64 and DOMAIN <= 253 bytes), so no address can name a path
 * outside DATA_DIR/mail.
 */
#ifndef RMAIL_STORE_USER_H
#define RMAIL_STORE_USER_H

#include <stddef.h>

/*
 * Write DATA_DIR/mail/DOMAIN/LOCAL for address (split at its last '@')
 * into buf (len bytes). 0, or -1 with errno EINVAL (address refused as
 * above) or ENAMETOOLONG (buf too small). Touches nothing on disk.
 */
int	 store_user_dir(const char *data_dir, const char *address, char *buf,
	    size_t len);

/*
 * Make sure the user's folder exists and write its path to dir_r (len
 * bytes). A new folder is built complete under a dot-name in the domain
 * directory (mailboxes/, tmp/, INBOX and the special-use mailboxes Drafts,
 * Sent, Trash, Junk, Archive) and renamed into place, so other processes
 * see either no folder or a whole one, and two processes racing to create
 * it end with one folder. An existing folder only gets mailboxes/, tmp/
 * and INBOX back if they are missing; the other mailboxes are the user's
 * to delete. tmp/ is never cleaned here: another process may be writing.
 * Safe to call before every delivery. 0, or -1 with errno and err set.
 */
int	 store_user_ensure(const char *data_dir, const char *address,
	    char *dir_r, size_t len, char *err, size_t errlen);

#endif
