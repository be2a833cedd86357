/*
 * throttle: failure counts by key, shared by every service of the server
 * (SMTP AUTH on 587 and 465, IMAP LOGIN), so a client gains nothing by
 * moving between ports.
 *
 * A key is any string ("ip:ADDR", "user:ADDR"); keys longer than
 * THROTTLE_KEY_MAX - 1 bytes are cut there. A record counts the failures
 * since its first one; once `window` seconds have passed since that first
 * failure the count is over and the next failure starts a fresh window.
 * The table holds at most `max` records: when it is full, a new key takes
 * the place of the record that failed least recently. Storage is allocated
 * at the first failure.
 *
 * Loop thread only: no locking.
 */
#ifndef RMAIL_THROTTLE_H
#define RMAIL_THROTTLE_H

#include <stddef.h>
#include <time.h>

#define THROTTLE_KEY_MAX	328	/* bytes, with the NUL ("user:" + an address) */

struct throttle;

struct throttle	*throttle_new(size_t max, time_t window);
void		 throttle_free(struct throttle **);
/* Failures of key in its current window; 0 for an unknown key. */
unsigned	 throttle_count(const struct throttle *, const char *key, time_t now);
/* Count one failure of key at now. */
void		 throttle_fail(struct throttle *, const char *key, time_t now);
/* Forget key (a success). */
void		 throttle_clear(struct throttle *, const char *key);
/* Records held (for tests and logs). */
size_t		 throttle_size(const struct throttle *);

#endif
