/*
 * imap: the IMAP services (imap 143 with STARTTLS, imaps 993).
 *
 * Foundation scaffold: greeting, CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN
 * and AUTHENTICATE PLAIN (password checks on the worker pool, only over
 * TLS), line limit, timeouts and shutdown. The full protocol builds on it.
 */
#ifndef RMAIL_IMAP_H
#define RMAIL_IMAP_H

#include "config/config.h"

struct rmail_env;
struct imap_server;
struct listen_service;

struct imap_server	*imap_server_new(struct rmail_env *, enum conf_service);
void			 imap_server_free(struct imap_server **);
struct listen_service	*imap_server_service(struct imap_server *);
/* Re-read limits from env->conf (after a reload). */
void			 imap_server_configure(struct imap_server *);

#endif
