/*
 * queue_dkim: DKIM-sign what users submit (RFC 6376; relay/dkim.h).
 *
 * A message submitted with AUTH (587, 465) whose From: address is at one
 * of our domains is signed for that domain, before it is queued, with
 * every key DATA/dkim holds for it (RSA, and Ed25519 when generated).
 * A domain without a key is sent unsigned (logged once per message).
 */
#include "relay/queue_private.h"
#include "relay/dkim.h"
#include "config/config.h"
#include "config/env.h"
#include "core/log.h"
#include "core/util.h"
#include "store/mime.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The domain of the first From: address, lower-cased, or NULL. */
static char *
from_domain(const char *data, size_t len)
{
	const char *end = memmem(data, len, "\r\n\r\n", 4);
	size_t hlen = end != NULL ? (size_t)(end - data) + 4 : len;
	struct mime_addr *a = NULL;
	char *from, *dom = NULL;
	size_t n;

	if ((from = mime_header_get(data, hlen, "From")) == NULL)
		return NULL;
	n = mime_parse_addresses(from, &a);
	for (size_t i = 0; i < n && dom == NULL; i++)
		if (a[i].host != NULL && a[i].mailbox != NULL &&
		    strcmp(a[i].host, MIME_ADDR_MISSING_HOST) != 0) {
			dom = xstrdup(a[i].host);
			ascii_lower(dom);
		}
	mime_addrs_free(a, n);
	free(from);
	return dom;
}

char *
queue_dkim_sign(struct rmail_env *env, const char *id, const char *data,
    size_t len)
{
	const struct conf *cf = env->conf;
	struct dkim_key *keys[DKIM_ALG_COUNT];
	size_t nkeys = 0;
	char *dom, *sig = NULL, err[256];

	if ((dom = from_domain(data, len)) == NULL ||
	    !conf_is_local_domain(cf, dom)) {
		free(dom);
		return NULL;
	}
	if (dkim_keys_load(cf->data_dir, dom, cf->dkim_selector, keys, &nkeys,
	    err, sizeof(err)) == -1) {
		log_error("queue", 0, NULL, "event=dkim-failed id=%s domain=%s "
		    "err=%s", id, log_q(dom), log_q(err));
		free(dom);
		return NULL;
	}
	if (nkeys == 0) {
		log_warn("queue", 0, NULL, "event=dkim-no-key id=%s domain=%s "
		    "hint=%s", id, log_q(dom), log_q("rmail dkim generate"));
		free(dom);
		return NULL;
	}
	if ((sig = dkim_sign((const struct dkim_key *const *)keys, nkeys, dom,
	    cf->dkim_selector, time(NULL), data, len, err, sizeof(err))) == NULL)
		log_error("queue", 0, NULL, "event=dkim-failed id=%s domain=%s "
		    "err=%s", id, log_q(dom), log_q(err));
	else
		log_info("queue", 0, NULL, "event=dkim-signed id=%s domain=%s "
		    "keys=%zu", id, log_q(dom), nkeys);
	for (size_t i = 0; i < nkeys; i++)
		dkim_key_free(&keys[i]);
	free(dom);
	return sig;
}
