/* imap: the IMAP listeners (see imap.h); sessions live in imap_session.c. */
#include "imap/imap.h"
#include "imap/imap_private.h"
#include "config/env.h"
#include "core/conn.h"
#include "core/listener.h"
#include "core/util.h"

#include <stdlib.h>

static void
imap_open(struct conn *c, void *arg)
{
	imap_session_open(c, arg);
}

static const char *
imap_busy(void *arg, bool per_ip)
{
	(void)arg;
	return per_ip ? "* BYE [UNAVAILABLE] Too many connections from your address\r\n" :
	    "* BYE [UNAVAILABLE] Too many connections, try again later\r\n";
}

void
imap_server_configure(struct imap_server *srv)
{
	const struct conf *cf = srv->env->conf;

	/* A command line may be up to imap_line_bytes in all (the parser
	 * counts); one physical line the same. */
	srv->ls.line_max = cf->limits.imap_line_bytes + 2;
	srv->ls.out_max = cf->limits.output_buffer_bytes;
	srv->ls.timeout_secs = cf->limits.login_timeout_secs;
}

struct imap_server *
imap_server_new(struct rmail_env *env, enum conf_service svc)
{
	struct imap_server *srv = xcalloc(1, sizeof(*srv));

	srv->env = env;
	srv->svc = svc;
	srv->ls.name = conf_service_name(svc);
	srv->ls.implicit_tls = svc == CONF_SVC_IMAPS;
	srv->ls.open = imap_open;
	srv->ls.busy = imap_busy;
	srv->ls.arg = srv;
	imap_server_configure(srv);
	return srv;
}

void
imap_server_free(struct imap_server **srvp)
{
	FREE_NULL(*srvp);
}

struct listen_service *
imap_server_service(struct imap_server *srv)
{
	return &srv->ls;
}
