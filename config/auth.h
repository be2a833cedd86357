/*
 * auth: check a user's password without stalling the loop.
 *
 * The PBKDF2 work runs on the env's worker pool against a private copy of
 * the user's hash (a reload may free the user directory meanwhile); an
 * unknown user is checked against a dummy hash so the answer takes the same
 * time either way.
 */
#ifndef RMAIL_AUTH_H
#define RMAIL_AUTH_H

#include <stdbool.h>

struct rmail_env;

/*
 * Failed logins, counted per client IP and per account in env->auth_throttle
 * (core/throttle.h), one table for every service: past AUTH_DELAY_AT
 * failures every answer, success or not, is delayed (1, 2, 4, ... seconds,
 * at most AUTH_DELAY_MAX), and past AUTH_LOCK_AT the client is refused.
 */
#define AUTH_THROTTLE_MAX	4096	/* IPs and accounts remembered */
#define AUTH_THROTTLE_WINDOW	600	/* seconds a failure counts */
#define AUTH_DELAY_AT		5	/* failures before answers are delayed */
#define AUTH_LOCK_AT		10	/* failures before the client is refused */
#define AUTH_DELAY_MAX		30	/* seconds */

/*
 * Verify address/password. done runs later on the loop with ok and the
 * canonical (lower-case) address, valid only during the call. The password
 * is copied and wiped after use. The caller keeps arg alive until done.
 */
void	auth_verify_async(struct rmail_env *, const char *address,
	    const char *password, void (*done)(bool ok, const char *address, void *arg),
	    void *arg);

#endif
