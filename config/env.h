/*
 * env: the live, reloadable state every protocol session reads.
 *
 * cmd/serve.c owns it and swaps conf, users and tls on reload. Sessions
 * keep a pointer to the env, never to what it points to: they read
 * env->conf (etc.) at the moment they need it, so a reload never leaves a
 * session holding freed memory.
 */
#ifndef RMAIL_ENV_H
#define RMAIL_ENV_H

#include <stdbool.h>

struct ev_loop;
struct conf;
struct users;
struct tls_ctx;
struct worker;
struct store_hub;
struct queue;
struct throttle;

struct rmail_env {
	struct ev_loop	*loop;
	struct conf	*conf;		/* current config */
	struct users	*users;		/* current user directory */
	struct tls_ctx	*tls;		/* current server TLS context */
	struct worker	*worker;	/* slow work off the loop */
	struct store_hub *hub;		/* shared mailbox handles (store/hub.h) */
	struct queue	*queue;		/* relay/queue.h */
	struct throttle	*auth_throttle;	/* failed logins, every service (config/auth.h) */
	bool		 stopping;	/* SIGTERM received */
};

#endif
