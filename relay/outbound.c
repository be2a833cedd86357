/*
 * outbound: one job per (message, destination domain); see outbound.h.
 */
#include "relay/outbound.h"
#include "relay/bounce.h"
#include "relay/client.h"
#include "relay/dns.h"
#include "relay/mx.h"
#include "config/config.h"
#include "config/env.h"
#include "core/fsio.h"
#include "core/log.h"
#include "core/tls.h"
#include "core/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

struct ob_job {
	struct outbound		*ob;
	struct ob_job		*next, *prev;
	char			*id;
	char			*domain;
	char			*sender;
	char			**rcpts;
	size_t			*idx;
	size_t			 n;
	bool			 smtputf8;
	char			*data;		/* the message, head skipped */
	size_t			 len;
	struct mx_req		*mxreq;
	struct mx_result	*mxres;
	/* Smarthost by name: its A and AAAA answers. */
	struct dns_query	*q4, *q6;
	struct sockaddr_storage	*addrs;
	size_t			 naddrs;
	char			 dnserr[128];
	struct smtp_client_host	*hosts;
	size_t			 nhosts;
	struct smtp_client	*client;
	ev_timer		 fail;		/* reports an early failure */
	enum outbound_status	 fail_status;
	char			 fail_enh[16];
	char			*fail_text;
	bool			 linked;	/* on ob->jobs */
};

struct outbound {
	struct rmail_env	*env;
	struct dns		*dns;
	struct mx		*mx;
	struct tls_ctx		*tls_any;	/* MX: opportunistic */
	struct tls_ctx		*tls_verify;	/* smarthost, or NULL */
	outbound_done_fn	*done;
	void			*arg;
	struct ob_job		*jobs;
	size_t			 njobs;
};

/* Take j off the list of jobs: it no longer holds its targets. */
static void
job_unlink(struct ob_job *j)
{
	struct outbound *ob = j->ob;

	if (j->linked) {
		if (j->prev != NULL)
			j->prev->next = j->next;
		else
			ob->jobs = j->next;
		if (j->next != NULL)
			j->next->prev = j->prev;
		ob->njobs--;
		j->linked = false;
	}
}

static void
job_free(struct ob_job *j)
{
	struct outbound *ob = j->ob;

	job_unlink(j);
	ev_timer_stop(ob->env->loop, &j->fail);
	mx_cancel(&j->mxreq);
	dns_cancel(&j->q4);
	dns_cancel(&j->q6);
	smtp_client_cancel(&j->client);
	mx_result_free(&j->mxres);
	for (size_t i = 0; i < j->n; i++)
		free(j->rcpts[i]);
	free(j->rcpts);
	free(j->idx);
	free(j->addrs);
	free(j->hosts);
	free(j->data);
	free(j->fail_text);
	free(j->sender);
	free(j->domain);
	free(j->id);
	free(j);
}

/* Report the same outcome for every target, then end the job. */
static void
report_all(struct ob_job *j, enum outbound_status st, const char *enh,
    const char *text)
{
	struct outbound_result *rs = xcalloc(j->n, sizeof(*rs));

	for (size_t i = 0; i < j->n; i++) {
		rs[i].idx = j->idx[i];
		rs[i].status = st;
		snprintf(rs[i].enhanced, sizeof(rs[i].enhanced), "%s", enh);
		rs[i].text = text;
		rs[i].remote_mta = "";
		log_info("relay", 0, NULL, "event=relay-result id=%s to=%s "
		    "status=%s err=%s", j->id, log_q(j->rcpts[i]),
		    st == OUTBOUND_PERMFAIL ? "permfail" : "tempfail",
		    log_q(text));
	}
	/* Done before the queue hears of it: it reschedules the targets
	 * and may start a new job in the freed slot. */
	job_unlink(j);
	j->ob->done(j->ob->arg, j->id, rs, j->n);
	free(rs);
	job_free(j);
}

static void
fail_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ob_job *j = w->data;

	(void)loop;
	(void)revents;
	report_all(j, j->fail_status, j->fail_enh, j->fail_text);
}

/* Fail the job from the loop, not from the caller's stack. */
static void
fail_later(struct ob_job *j, enum outbound_status st, const char *enh,
    const char *text)
{
	j->fail_status = st;
	snprintf(j->fail_enh, sizeof(j->fail_enh), "%s", enh);
	free(j->fail_text);
	j->fail_text = xstrdup(text);
	ev_timer_set(&j->fail, 0, 0);
	ev_timer_start(j->ob->env->loop, &j->fail);
}

static void
client_done(const struct smtp_client_result *res, void *arg)
{
	struct ob_job *j = arg;
	struct outbound_result *rs = xcalloc(j->n, sizeof(*rs));

	j->client = NULL;	/* it frees itself after this call */
	for (size_t i = 0; i < j->n && i < res->nrcpts; i++) {
		const struct smtp_rcpt_result *r = &res->rcpts[i];

		rs[i].idx = j->idx[i];
		rs[i].status = r->status == SMTP_RCPT_DELIVERED ?
		    OUTBOUND_DELIVERED : r->status == SMTP_RCPT_TEMPFAIL ?
		    OUTBOUND_TEMPFAIL : OUTBOUND_PERMFAIL;
		snprintf(rs[i].enhanced, sizeof(rs[i].enhanced), "%s",
		    r->enhanced);
		rs[i].text = r->text != NULL ? r->text : "";
		rs[i].remote_mta = r->host != NULL ? r->host : "";
		rs[i].remote = r->code != 0;
		log_info("relay", 0, NULL, "event=relay-result id=%s to=%s "
		    "status=%s host=%s ip=%s tls=%s verified=%s reply=%s",
		    j->id, log_q(j->rcpts[i]), rs[i].status ==
		    OUTBOUND_DELIVERED ? "delivered" : rs[i].status ==
		    OUTBOUND_TEMPFAIL ? "tempfail" : "permfail",
		    log_q(rs[i].remote_mta), r->ip[0] ? r->ip : "-",
		    r->tls ? (r->tls_version[0] ? r->tls_version : "yes") : "no",
		    r->tls_verified ? "yes" : "no", log_q(rs[i].text));
	}
	/* Done before the queue hears of it: it reschedules the targets
	 * and may start a new job in the freed slot. */
	job_unlink(j);
	j->ob->done(j->ob->arg, j->id, rs, j->n);
	free(rs);
	job_free(j);
}

static void
start_client(struct ob_job *j, bool smarthost)
{
	const struct conf *cf = j->ob->env->conf;
	struct smtp_client_job cj;

	memset(&cj, 0, sizeof(cj));
	cj.id = j->id;
	cj.hosts = j->hosts;
	cj.nhosts = j->nhosts;
	cj.helo = cf->hostname;
	cj.sender = j->sender;
	cj.rcpts = (const char *const *)j->rcpts;
	cj.nrcpts = j->n;
	cj.data = j->data;
	cj.len = j->len;
	cj.need_smtputf8 = j->smtputf8;
	if (smarthost) {
		cj.port = cf->smarthost.port;
		cj.tls_policy = strcmp(cf->smarthost.tls, "tls") == 0 ?
		    SMTP_TLS_IMPLICIT : SMTP_TLS_REQUIRE_STARTTLS;
		cj.tls = j->ob->tls_verify;
		cj.username = cf->smarthost.username;
		cj.password = cf->smarthost.password;
	} else {
		cj.port = cf->smtp_port;
		cj.tls_policy = SMTP_TLS_OPPORTUNISTIC;
		cj.tls = j->ob->tls_any;
	}
	j->client = smtp_client_start(j->ob->env->loop, &cj, client_done, j);
}

static void
mx_done(struct mx_result *res, void *arg)
{
	struct ob_job *j = arg;
	char text[300];

	j->mxreq = NULL;
	j->mxres = res;
	switch (res->status) {
	case MX_OK:
		j->hosts = xcalloc(res->nhosts, sizeof(*j->hosts));
		for (size_t i = 0; i < res->nhosts; i++) {
			j->hosts[i].name = res->hosts[i].name;
			j->hosts[i].addrs = res->hosts[i].addrs;
			j->hosts[i].naddrs = res->hosts[i].naddrs;
		}
		j->nhosts = res->nhosts;
		start_client(j, false);
		return;
	case MX_CANCELLED:
		return;	/* outbound_free: the job goes with it */
	case MX_TEMPFAIL:
		snprintf(text, sizeof(text), "%s", res->error);
		report_all(j, OUTBOUND_TEMPFAIL, "4.4.3", text);
		return;
	case MX_NULLMX:
		snprintf(text, sizeof(text), "%s", res->error);
		report_all(j, OUTBOUND_PERMFAIL, "5.1.10", text);
		return;
	case MX_PERMFAIL:
		snprintf(text, sizeof(text), "%s", res->error);
		report_all(j, OUTBOUND_PERMFAIL, "5.1.2", text);
		return;
	}
}

/* Both smarthost lookups answered: connect, or give up for now. */
static void
smarthost_ready(struct ob_job *j)
{
	char text[300];

	if (j->q4 != NULL || j->q6 != NULL)
		return;
	if (j->naddrs == 0) {
		snprintf(text, sizeof(text), "smarthost %s: no address (%s)",
		    j->ob->env->conf->smarthost.host, j->dnserr[0] ?
		    j->dnserr : "no A or AAAA record");
		report_all(j, OUTBOUND_TEMPFAIL, "4.4.3", text);
		return;
	}
	j->hosts = xcalloc(1, sizeof(*j->hosts));
	j->hosts[0].name = j->ob->env->conf->smarthost.host;
	j->hosts[0].addrs = j->addrs;
	j->hosts[0].naddrs = j->naddrs;
	j->nhosts = 1;
	start_client(j, true);
}

static void
smarthost_addr(const struct dns_answer *a, void *arg, bool v6)
{
	struct ob_job *j = arg;

	if (v6)
		j->q6 = NULL;
	else
		j->q4 = NULL;
	if (a->status == DNS_CANCELLED)
		return;
	if (a->status == DNS_OK && a->naddrs > 0) {
		j->addrs = xrealloc(j->addrs, (j->naddrs + a->naddrs) *
		    sizeof(*j->addrs));
		memcpy(j->addrs + j->naddrs, a->addrs, a->naddrs *
		    sizeof(*a->addrs));
		j->naddrs += a->naddrs;
	} else if (a->status != DNS_NODATA) {
		snprintf(j->dnserr, sizeof(j->dnserr), "%s", a->error);
	}
	smarthost_ready(j);
}

static void
smarthost_a(const struct dns_answer *a, void *arg)
{
	smarthost_addr(a, arg, false);
}

static void
smarthost_aaaa(const struct dns_answer *a, void *arg)
{
	smarthost_addr(a, arg, true);
}

static void
resolve_smarthost(struct ob_job *j)
{
	const char *host = j->ob->env->conf->smarthost.host;
	char lit[300];
	struct sockaddr_storage ss;

	/* An address is used as is. */
	snprintf(lit, sizeof(lit), strchr(host, ':') != NULL ? "[IPv6:%s]" :
	    "[%s]", host);
	if (mx_parse_literal(lit, &ss) == 1) {
		j->addrs = xmalloc(sizeof(*j->addrs));
		j->addrs[0] = ss;
		j->naddrs = 1;
		smarthost_ready(j);
		return;
	}
	/* Both queries are started before either can answer (answers come
	 * from the loop), so smarthost_ready() waits for the second. */
	j->q6 = dns_query_addr(j->ob->dns, host, AF_INET6, smarthost_aaaa, j);
	j->q4 = dns_query_addr(j->ob->dns, host, AF_INET, smarthost_a, j);
}

void
outbound_start(struct outbound *ob, const char *id, const char *msg,
    uint64_t skip, const char *sender, bool smtputf8, const char *domain,
    const char *const *addrs, const size_t *idx, size_t n)
{
	struct ob_job *j = xcalloc(1, sizeof(*j));
	const struct conf *cf = ob->env->conf;
	char *data;
	size_t len;

	j->ob = ob;
	j->id = xstrdup(id);
	j->domain = xstrdup(domain);
	j->sender = xstrdup(sender);
	j->smtputf8 = smtputf8;
	j->n = n;
	j->rcpts = xcalloc(n, sizeof(*j->rcpts));
	j->idx = xcalloc(n, sizeof(*j->idx));
	for (size_t i = 0; i < n; i++) {
		j->rcpts[i] = xstrdup(addrs[i]);
		j->idx[i] = idx[i];
	}
	ev_init(&j->fail, fail_cb);
	j->fail.data = j;
	j->next = ob->jobs;
	if (ob->jobs != NULL)
		ob->jobs->prev = j;
	ob->jobs = j;
	ob->njobs++;
	j->linked = true;

	if ((data = fsio_read_file(msg, SIZE_MAX, &len)) == NULL) {
		char text[300];

		snprintf(text, sizeof(text), "cannot read the queued message: %s",
		    strerror(errno));
		fail_later(j, OUTBOUND_TEMPFAIL, "4.3.0", text);
		return;
	}
	if (skip > len)
		skip = len;
	j->len = len - (size_t)skip;
	j->data = xmalloc(j->len + 1);
	memcpy(j->data, data + skip, j->len);
	j->data[j->len] = '\0';
	free(data);
	if (bounce_count_received(j->data, j->len) > OUTBOUND_MAX_HOPS) {
		fail_later(j, OUTBOUND_PERMFAIL, "5.4.6", "mail loop: more than "
		    "50 Received header fields");
		return;
	}
	log_info("relay", 0, NULL, "event=relay-start id=%s domain=%s nrcpt=%zu "
	    "via=%s", id, log_q(domain), n, cf->smarthost.host != NULL ?
	    "smarthost" : "mx");
	if (cf->smarthost.host != NULL) {
		if (ob->tls_verify == NULL) {
			fail_later(j, OUTBOUND_TEMPFAIL, "4.7.5",
			    "smarthost TLS context unavailable");
			return;
		}
		resolve_smarthost(j);
	} else {
		j->mxreq = mx_resolve(ob->mx, domain, mx_done, j);
	}
}

bool
outbound_busy(const struct outbound *ob, const char *domain)
{
	size_t same = 0;

	if (ob->njobs >= OUTBOUND_MAX_JOBS)
		return true;
	for (const struct ob_job *j = ob->jobs; j != NULL; j = j->next)
		if (strcmp(j->domain, domain) == 0 &&
		    ++same >= OUTBOUND_MAX_PER_DOMAIN)
			return true;
	return false;
}

bool
outbound_inflight(const struct outbound *ob, const char *id, size_t idx)
{
	for (const struct ob_job *j = ob->jobs; j != NULL; j = j->next) {
		if (strcmp(j->id, id) != 0)
			continue;
		for (size_t i = 0; i < j->n; i++)
			if (j->idx[i] == idx)
				return true;
	}
	return false;
}

size_t
outbound_jobs(const struct outbound *ob)
{
	return ob->njobs;
}

struct outbound *
outbound_new(struct rmail_env *env, outbound_done_fn *done, void *arg,
    char *err, size_t errlen)
{
	struct outbound *ob = xcalloc(1, sizeof(*ob));
	const struct conf *cf = env->conf;
	char terr[256];

	ob->env = env;
	ob->done = done;
	ob->arg = arg;
	if ((ob->dns = dns_new(env->loop, cf->dns_servers.v, cf->dns_servers.n,
	    err, errlen)) == NULL) {
		free(ob);
		return NULL;
	}
	ob->mx = mx_new(ob->dns, 0);
	if ((ob->tls_any = tls_client_ctx_new(false, NULL, terr,
	    sizeof(terr))) == NULL)
		log_warn("relay", 0, NULL, "event=tls-unavailable err=%s",
		    log_q(terr));
	if (cf->smarthost.host != NULL && (ob->tls_verify = tls_client_ctx_new(
	    true, cf->smarthost.ca_file, terr, sizeof(terr))) == NULL)
		log_error("relay", 0, NULL, "event=tls-unavailable "
		    "smarthost=%s err=%s", log_q(cf->smarthost.host),
		    log_q(terr));
	return ob;
}

void
outbound_free(struct outbound **obp)
{
	struct outbound *ob = *obp;

	if (ob == NULL)
		return;
	while (ob->jobs != NULL)
		job_free(ob->jobs);
	mx_free(&ob->mx);
	dns_free(&ob->dns);
	tls_ctx_free(&ob->tls_any);
	tls_ctx_free(&ob->tls_verify);
	free(ob);
	*obp = NULL;
}
