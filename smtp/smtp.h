/*
 * smtp: the SMTP services (smtp 25, submission 587, submissions 465):
 * RFC 5321 with PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES,
 * CHUNKING, STARTTLS and (submission, over TLS only) AUTH PLAIN/LOGIN.
 * Port 25 takes mail for our domains only; submission takes mail from
 * authenticated users for anywhere. Accepted messages go to the durable
 * queue (relay/queue.h) before the 250. See smtp_private.h for the files.
 */
#ifndef RMAIL_SMTP_H
#define RMAIL_SMTP_H

#include "config/config.h"

struct rmail_env;
struct smtp_server;
struct listen_service;

struct smtp_server	*smtp_server_new(struct rmail_env *, enum conf_service);
void			 smtp_server_free(struct smtp_server **);
/* The listener description; valid as long as the server. */
struct listen_service	*smtp_server_service(struct smtp_server *);
/* Re-read limits and hostname from env->conf (after a reload). */
void			 smtp_server_configure(struct smtp_server *);

#endif
