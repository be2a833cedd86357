/*
 * smtp: the SMTP services (smtp 25, submission 587, submissions 465).
 *
 * Foundation scaffold: sessions greet, answer NOOP and QUIT, refuse other
 * commands with 502, enforce the line limit and timeouts, and say goodbye
 * on shutdown. The protocol proper replaces the command handling.
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
