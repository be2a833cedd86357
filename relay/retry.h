/*
 * retry: when the relay tries a message again, when it gives up, and when
 * it warns the sender of a delay. Arithmetic only: no clock, no I/O.
 *
 * A recipient that failed temporarily (4xx, no answer, DNS trouble) waits
 * schedule[0] seconds after its first failure, schedule[1] after its
 * second, and so on; the last step repeats. The default schedule is 5m,
 * 10m, 20m, 40m, 1h, then every 2h. Once the message has been in the
 * queue max_age seconds (default 5 days; RFC 5321 4.5.4.1 asks for at
 * least 4-5 days) a further failure is final: the sender gets a bounce.
 * The last retry is moved to the very moment of expiry so that a message
 * always gets its full lifetime. Jitter, if wanted, is the caller's.
 *
 * Ages count from the time the message entered the queue (the envelope's
 * "received"), as Postfix's maximal_queue_lifetime does.
 */
#ifndef RMAIL_RELAY_RETRY_H
#define RMAIL_RELAY_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct conf_retry;

struct retry_policy {
	const unsigned	*schedule;	/* seconds after failure 1, 2, ...; the
					 * last repeats; at least one entry */
	size_t		 n;
	unsigned	 max_age;	/* seconds in the queue before giving up */
	unsigned	 delay_notice;	/* seconds in the queue before a delay
					 * notice; 0: never */
};

/* The built-in policy (the config's defaults): static, never freed. */
const struct retry_policy *retry_policy_default(void);

/* A policy over the config's relay.retry (which it points into: keep the
 * conf alive while the policy is used). */
void	 retry_policy_from_conf(const struct conf_retry *,
	    struct retry_policy *policy_r);

/*
 * The delay after the attempts-th failed attempt (attempts >= 1; 0 is
 * taken as 1): schedule[attempts - 1], or the last entry past the end.
 */
unsigned retry_delay(const struct retry_policy *, unsigned attempts);

/*
 * When to try next, given attempts failed attempts so far, a message
 * queued at queued, and the time now:
 *   - attempts 0 (never tried): now; a message is always tried once;
 *   - now at or past queued + max_age: 0, give up (bounce);
 *   - else now + retry_delay(attempts), but no later than
 *     queued + max_age (the last try falls on the moment of expiry).
 * A clock that went back (now < queued) counts as age 0.
 */
time_t	 retry_next(const struct retry_policy *, unsigned attempts,
	    time_t queued, time_t now);

/* True when a message queued at queued has expired at now: a temporary
 * failure now is final. */
bool	 retry_expired(const struct retry_policy *, time_t queued, time_t now);

/*
 * When the delay notice for a message queued at queued becomes due
 * (queued + delay_notice), or 0 when notices are off or the message
 * expires first (its bounce says it all).
 */
time_t	 retry_delay_notice_time(const struct retry_policy *, time_t queued);

/*
 * Should a delay notice go out now? True when notices are on, none was
 * sent yet (sent), now is at or past retry_delay_notice_time() and the
 * message has not expired (then it bounces instead). The relay asks this
 * after a temporary failure and records that it sent one.
 */
bool	 retry_delay_notice_due(const struct retry_policy *, time_t queued,
	    time_t now, bool sent);

#endif
