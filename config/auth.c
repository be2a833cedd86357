/* auth: check a user's password on the worker pool. */
#include "config/auth.h"
#include "config/env.h"
#include "config/users.h"
#include "core/util.h"
#include "core/worker.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct auth_job {
	char	*address;
	char	*password;
	char	*hash;		/* copy of the stored hash, or the dummy's */
	bool	 known;
	bool	 ok;
	void	(*done)(bool, const char *, void *);
	void	*arg;
};

static void
auth_work(void *p)
{
	struct auth_job *j = p;
	bool match = users_verify_hash(j->hash, j->password);

	j->ok = match && j->known;
}

static void
auth_done(void *p)
{
	struct auth_job *j = p;

	j->done(j->ok, j->address, j->arg);
	OPENSSL_cleanse(j->password, strlen(j->password));
	free(j->password);
	free(j->address);
	free(j->hash);
	free(j);
}

void
auth_verify_async(struct rmail_env *env, const char *address, const char *password,
    void (*done)(bool, const char *, void *), void *arg)
{
	struct auth_job *j = xcalloc(1, sizeof(*j));
	const struct user *u = users_find(env->users, address);

	j->address = xstrdup(u != NULL ? u->address : address);
	ascii_lower(j->address);
	j->password = xstrdup(password);
	j->known = u != NULL;
	j->hash = xstrdup(u != NULL ? u->password : users_dummy_hash());
	j->done = done;
	j->arg = arg;
	worker_submit(env->worker, auth_work, auth_done, j);
}
