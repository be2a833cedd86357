/*
 * quota: a user's storage limits (users file "quota_bytes",
 * "quota_messages") and usage, checked on every append and copy.
 *
 * Usage is the sum of RFC822.SIZE (file sizes) and message counts over
 * all the user's mailboxes. It is counted from disk (one stat per message)
 * when first needed and kept current by every change made through a
 * mailbox handle that carries the record (store_mbox_set_quota()); the
 * server recounts it when it is older than STORE_QUOTA_RECOUNT_SECS, which
 * catches what other processes and admins did. Over-quota is EDQUOT, which
 * the protocols map to SMTP 452 4.2.2 (temporary, RFC 3463: mailbox full)
 * or 552 5.2.2 and IMAP NO [OVERQUOTA] (RFC 9208).
 */
#ifndef RMAIL_STORE_QUOTA_H
#define RMAIL_STORE_QUOTA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define STORE_QUOTA_RECOUNT_SECS	300

struct store_quota {
	uint64_t	 max_bytes;	/* 0: unlimited */
	uint64_t	 max_messages;	/* 0: unlimited */
	uint64_t	 bytes;		/* usage, valid when counted != 0 */
	uint64_t	 messages;
	time_t		 counted;	/* when usage was counted; 0: never */
};

/*
 * Count the usage of every mailbox under USER_DIR/mailboxes into q->bytes
 * and q->messages and set q->counted. 0, or -1 with errno (q unchanged).
 * A user without a mailboxes folder uses nothing.
 */
int	 store_quota_count(const char *user_dir, struct store_quota *q);

/*
 * May add_messages messages of add_bytes bytes in total be stored? 0 when
 * q is NULL, unlimited, or the result stays within both limits; -1 with
 * errno EDQUOT and err saying which limit and by how much otherwise.
 * The usage must have been counted (q->counted != 0) unless unlimited.
 */
int	 store_quota_check(const struct store_quota *q, uint64_t add_bytes,
	    uint64_t add_messages, char *err, size_t errlen);

/* Apply a change to the usage (negative when messages leave); clamps at 0
 * and ignores an uncounted record. */
void	 store_quota_add(struct store_quota *q, int64_t bytes,
	    int64_t messages);

#endif
