/*
 * rmail serve: bind every listener, then run the one loop.
 *
 * SIGHUP reloads config, users and certificate as one unit: everything is
 * loaded and validated first and swapped only if all of it is good, so a
 * bad edit never takes a running server down. SIGTERM/SIGINT stop
 * accepting, ask every session to say goodbye, and exit once they are gone
 * or the grace period ends.
 */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "config/auth.h"
#include "config/config.h"
#include "config/env.h"
#include "config/users.h"
#include "core/conn.h"
#include "core/fsio.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/net.h"
#include "core/notify.h"
#include "core/throttle.h"
#include "core/tls.h"
#include "core/util.h"
#include "core/worker.h"
#include "imap/imap.h"
#include "relay/queue.h"
#include "smtp/smtp.h"
#include "store/hub.h"

#include <errno.h>
#include <ev.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct server {
	struct rmail_env	 env;
	struct listeners	*listeners;
	struct smtp_server	*smtp[3];	/* smtp, submission, submissions */
	struct imap_server	*imap[2];	/* imap, imaps */
	ev_signal		 sigterm, sigint, sighup;
	ev_signal		 sigusr1;	/* rmail queue flush */
	ev_timer		 grace;		/* shutdown deadline */
	ev_timer		 drain;		/* polls for the last connection */
	char			 pidfile[PATH_MAX];
	unsigned		 reloads;	/* rmail.reload's sequence number */
	int			 exit_code;
};

static void
apply_conf(struct server *srv)
{
	const struct conf *cf = srv->env.conf;
	enum log_level lvl;
	enum log_format fmt;

	if (log_level_parse(cf->log_level, &lvl) == 0)
		log_set_level(lvl);
	if (log_format_parse(cf->log_format, &fmt) == 0)
		log_set_format(fmt);
	listeners_set_limits(srv->listeners, cf->limits.max_connections,
	    cf->limits.max_connections_per_ip);
	listeners_set_tls(srv->listeners, srv->env.tls);
	for (size_t i = 0; i < NELEM(srv->smtp); i++)
		smtp_server_configure(srv->smtp[i]);
	for (size_t i = 0; i < NELEM(srv->imap); i++)
		imap_server_configure(srv->imap[i]);
}

static bool
same_listeners(const struct conf *a, const struct conf *b)
{
	for (int s = 0; s < CONF_SVC_COUNT; s++) {
		if (a->listen[s].n != b->listen[s].n)
			return false;
		for (size_t i = 0; i < a->listen[s].n; i++)
			if (strcmp(a->listen[s].v[i], b->listen[s].v[i]) != 0)
				return false;
	}
	return true;
}

/*
 * DATA/rmail.reload, for `rmail reload` waiting on the outcome:
 * "PID SEQ ok" or "PID SEQ failed REASON", one line, replaced atomically.
 */
static void
reload_status(struct server *srv, const char *err)
{
	char path[PATH_MAX], line[1200];
	int n;

	snprintf(path, sizeof(path), "%s/rmail.reload", srv->env.conf->data_dir);
	n = snprintf(line, sizeof(line), "%ld %u %s%s\n", (long)getpid(),
	    ++srv->reloads, err == NULL ? "ok" : "failed ", err == NULL ? "" : err);
	if (n > 0 && (size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	if (fsio_write_atomic(path, line, (size_t)n, 0644) == -1)
		log_warn(NULL, 0, NULL, "event=io-error path=%s err=%s", log_q(path),
		    log_q(strerror(errno)));
}

static void
reload(struct server *srv)
{
	struct conf *conf;
	struct users *users;
	struct tls_ctx *tls;
	char err[1024];

	(void)notify_send("RELOADING=1");
	if (cmd_load_runtime(srv->env.conf->path, &conf, &users, &tls, err,
	    sizeof(err)) == -1) {
		log_error(NULL, 0, NULL, "event=reload-failed err=%s "
		    "msg=\"reload refused; still running the previous configuration\"",
		    log_q(err));
		reload_status(srv, err);
		(void)notify_send("READY=1");
		return;
	}
	if (!same_listeners(srv->env.conf, conf))
		log_warn(NULL, 0, NULL, "event=reload msg=\"listen addresses changed; "
		    "they take effect at the next restart\"");
	conf_free(&srv->env.conf);
	users_free(&srv->env.users);
	tls_ctx_free(&srv->env.tls);	/* live TLS connections keep their own */
	srv->env.conf = conf;
	srv->env.users = users;
	srv->env.tls = tls;
	apply_conf(srv);
	log_info(NULL, 0, NULL, "event=reloaded users=%zu aliases=%zu",
	    users_count(users), conf->naliases);
	reload_status(srv, NULL);
	(void)notify_send("READY=1");
}

static void
say_goodbye(struct conn *c, void *arg)
{
	(void)arg;
	conn_shutdown(c);
}

static void
drain_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = w->data;

	(void)revents;
	if (listeners_nconns(srv->listeners) == 0 && worker_pending(srv->env.worker) == 0 &&
	    (srv->env.queue == NULL || queue_remote_inflight(srv->env.queue) == 0))
		ev_break(loop, EVBREAK_ALL);
}

static void
grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = w->data;

	(void)revents;
	log_warn(NULL, 0, NULL, "event=shutdown msg=\"grace period over\" open=%zu "
	    "relaying=%zu", listeners_nconns(srv->listeners), srv->env.queue != NULL ?
	    queue_remote_inflight(srv->env.queue) : 0);
	ev_break(loop, EVBREAK_ALL);
}

static void
shutdown_begin(struct server *srv, int signo)
{
	struct ev_loop *loop = srv->env.loop;

	if (srv->env.stopping)
		return;
	srv->env.stopping = true;
	(void)notify_send("STOPPING=1");
	log_info(NULL, 0, NULL, "event=shutdown signal=%s open=%zu",
	    signo == SIGINT ? "INT" : "TERM", listeners_nconns(srv->listeners));
	listeners_stop(srv->listeners);
	listeners_foreach(srv->listeners, say_goodbye, NULL);
	ev_timer_init(&srv->grace, grace_cb, srv->env.conf->limits.shutdown_grace_secs, 0);
	srv->grace.data = srv;
	ev_timer_start(loop, &srv->grace);
	ev_timer_init(&srv->drain, drain_cb, 0, 0.02);
	srv->drain.data = srv;
	ev_timer_start(loop, &srv->drain);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct server *srv = w->data;

	(void)loop;
	(void)revents;
	if (w->signum == SIGHUP)
		reload(srv);
	else if (w->signum == SIGUSR1) {
		if (srv->env.queue != NULL)
			queue_kick(srv->env.queue);
	}
	else
		shutdown_begin(srv, w->signum);
}

static int
bind_all(struct server *srv)
{
	const struct conf *cf = srv->env.conf;
	char err[512];
	size_t n = 0;

	for (int s = 0; s < CONF_SVC_COUNT; s++) {
		struct listen_service *ls = s <= CONF_SVC_SUBMISSIONS ?
		    smtp_server_service(srv->smtp[s]) :
		    imap_server_service(srv->imap[s - CONF_SVC_IMAP]);

		for (size_t i = 0; i < cf->listen[s].n; i++, n++) {
			if (listeners_add(srv->listeners, ls, cf->listen[s].v[i],
			    err, sizeof(err)) == -1) {
				fprintf(stderr, "rmail: %s\n", err);
				return -1;
			}
		}
	}
	if (n == 0) {
		fprintf(stderr, "rmail: %s: no listeners configured\n", cf->path);
		return -1;
	}
	return 0;
}

/* Every listen address is on loopback: nobody else can reach it. */
static bool
loopback_only(const struct conf *cf)
{
	struct sockaddr_storage ss;
	socklen_t len;

	for (int s = 0; s < CONF_SVC_COUNT; s++)
		for (size_t i = 0; i < cf->listen[s].n; i++)
			if (net_parse_addr(cf->listen[s].v[i], &ss, &len) == -1 ||
			    !net_is_loopback((struct sockaddr *)&ss))
				return false;
	return true;
}

/*
 * Started as root: become conf->user now that the ports are bound, before
 * the loop reads a byte from any client. Without a user, root is refused
 * unless nothing but this host can connect (a dev or test instance).
 */
static int
drop_privileges(const struct conf *cf)
{
	char err[512];

	if (geteuid() != 0 && getuid() != 0)
		return 0;
	if (cf->user == NULL) {
		if (loopback_only(cf)) {
			log_warn(NULL, 0, NULL, "event=running-as-root msg=\"allowed "
			    "only because every listener is on loopback; set "
			    "\\\"user\\\" in %s to drop privileges\"", cf->path);
			return 0;
		}
		fprintf(stderr, "rmail: %s: refusing to serve the network as root: "
		    "set \"user\" to the account to run as (rmail init as root "
		    "writes \"user\": \"rmail\")\n", cf->path);
		return -1;
	}
	if (cmd_drop_privileges(cf, err, sizeof(err)) == -1) {
		fprintf(stderr, "rmail: %s\n", err);
		return -1;
	}
	log_info(NULL, 0, NULL, "event=privileges-dropped user=%s uid=%u",
	    log_q(cf->user), (unsigned)getuid());
	return 0;
}

/* Connections need descriptors: take the hard limit. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
write_pidfile(struct server *srv)
{
	char line[32];
	int n;

	snprintf(srv->pidfile, sizeof(srv->pidfile), "%s/rmail.pid", srv->env.conf->data_dir);
	n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (fsio_write_atomic(srv->pidfile, line, (size_t)n, 0644) == -1) {
		fprintf(stderr, "rmail: %s: %s\n", srv->pidfile, strerror(errno));
		srv->pidfile[0] = '\0';
		return -1;
	}
	return 0;
}

static void
server_free(struct server *srv)
{
	struct ev_loop *loop = srv->env.loop;

	/* First: drain_cb reads the listeners, and the loop runs again below
	 * (password checks still on the pool when the grace period ended). */
	ev_timer_stop(loop, &srv->grace);
	ev_timer_stop(loop, &srv->drain);
	if (srv->pidfile[0] != '\0')
		unlink(srv->pidfile);
	listeners_free(&srv->listeners);
	/* Aborted sessions may still wait on password checks. */
	while (srv->env.worker != NULL && worker_pending(srv->env.worker) > 0)
		ev_run(loop, EVRUN_ONCE);
	worker_free(&srv->env.worker);
	for (size_t i = 0; i < NELEM(srv->smtp); i++)
		smtp_server_free(&srv->smtp[i]);
	for (size_t i = 0; i < NELEM(srv->imap); i++)
		imap_server_free(&srv->imap[i]);
	/* After the sessions, which submit to it; before the hub, whose
	 * handles its deliveries use. */
	if (srv->env.queue != NULL)
		log_info(NULL, 0, NULL, "event=queue-at-shutdown messages=%zu",
		    queue_count(srv->env.queue));
	queue_free(&srv->env.queue);
	/* After the sessions: they hold mailbox handles. */
	store_hub_free(&srv->env.hub);
	/* After the sessions, whose password checks count failures in it. */
	throttle_free(&srv->env.auth_throttle);
	tls_ctx_free(&srv->env.tls);
	users_free(&srv->env.users);
	conf_free(&srv->env.conf);
	ev_signal_stop(loop, &srv->sigterm);
	ev_signal_stop(loop, &srv->sigint);
	ev_signal_stop(loop, &srv->sighup);
	ev_signal_stop(loop, &srv->sigusr1);
	ev_loop_destroy(loop);
}

int
cmd_serve(int argc, char **argv)
{
	struct server srv;
	const char *cpath = NULL;
	char err[1024];
	long ncpu;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			cpath = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			cpath = argv[i] + 9;
		else
			cmd_usage_error("serve", "unknown argument '%s'", argv[i]);
	}
	memset(&srv, 0, sizeof(srv));
	(void)notify_init();
	if (cmd_load_runtime(conf_default_path(cpath), &srv.env.conf, &srv.env.users,
	    &srv.env.tls, err, sizeof(err)) == -1) {
		fprintf(stderr, "rmail: %s\n", err);
		return 2;
	}
	raise_fd_limit();
	srv.env.loop = ev_default_loop(EVFLAG_AUTO);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	srv.env.worker = worker_new(srv.env.loop, ncpu < 2 ? 2 : (int)(ncpu > 8 ? 8 : ncpu));
	(void)users_dummy_hash();	/* computed now, not during the first login */
	/* One table for every service: 587, 465 and IMAP count together. */
	srv.env.auth_throttle = throttle_new(AUTH_THROTTLE_MAX, AUTH_THROTTLE_WINDOW);
	srv.listeners = listeners_new(srv.env.loop);
	for (int s = 0; s <= CONF_SVC_SUBMISSIONS; s++)
		srv.smtp[s] = smtp_server_new(&srv.env, (enum conf_service)s);
	for (int s = CONF_SVC_IMAP; s <= CONF_SVC_IMAPS; s++)
		srv.imap[s - CONF_SVC_IMAP] = imap_server_new(&srv.env, (enum conf_service)s);
	apply_conf(&srv);
	srv.exit_code = 0;
	if (bind_all(&srv) == -1 || drop_privileges(srv.env.conf) == -1 ||
	    write_pidfile(&srv) == -1) {
		server_free(&srv);
		return 1;
	}
	/* As the service user: the store is theirs. */
	srv.env.hub = store_hub_new(srv.env.loop, 0);
	/* Resumes what a previous run left queued. */
	if ((srv.env.queue = queue_new(&srv.env, err, sizeof(err))) == NULL) {
		fprintf(stderr, "rmail: queue: %s\n", err);
		server_free(&srv);
		return 1;
	}
	ev_signal_init(&srv.sigterm, signal_cb, SIGTERM);
	ev_signal_init(&srv.sigint, signal_cb, SIGINT);
	ev_signal_init(&srv.sighup, signal_cb, SIGHUP);
	ev_signal_init(&srv.sigusr1, signal_cb, SIGUSR1);
	srv.sigterm.data = srv.sigint.data = srv.sighup.data = &srv;
	srv.sigusr1.data = &srv;
	ev_signal_start(srv.env.loop, &srv.sigterm);
	ev_signal_start(srv.env.loop, &srv.sigint);
	ev_signal_start(srv.env.loop, &srv.sighup);
	ev_signal_start(srv.env.loop, &srv.sigusr1);
	log_info(NULL, 0, NULL, "event=ready version=%s pid=%ld config=%s",
	    RMAIL_VERSION, (long)getpid(), log_q(srv.env.conf->path));
	(void)notify_send("READY=1\nSTATUS=serving");
	ev_run(srv.env.loop, 0);
	log_info(NULL, 0, NULL, "event=stopped");
	server_free(&srv);
	return srv.exit_code;
}
