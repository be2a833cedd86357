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
 * Verify address/password. done runs later on the loop with ok and the
 * canonical (lower-case) address, valid only during the call. The password
 * is copied and wiped after use. The caller keeps arg alive until done.
 */
void	auth_verify_async(struct rmail_env *, const char *address,
	    const char *password, void (*done)(bool ok, const char *address, void *arg),
	    void *arg);

#endif
