/* records: the DNS records to publish. See records.h. */
#include "cmd/records.h"
#include "config/config.h"
#include "core/net.h"
#include "core/util.h"
#include "relay/dkim.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing string; allocation failure aborts through xrealloc. */
struct text {
	char	*s;
	size_t	 len;
	size_t	 cap;
};

static void
add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	char *piece;
	size_t n;

	va_start(ap, fmt);
	if (vasprintf(&piece, fmt, ap) == -1)
		abort();
	va_end(ap);
	n = strlen(piece);
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->s = xrealloc(t->s, t->cap);
	}
	memcpy(t->s + t->len, piece, n + 1);
	t->len += n;
	free(piece);
}

char *
records_spf(const struct sockaddr_storage *ips, size_t n)
{
	struct text t = { NULL, 0, 0 };
	char ip[NET_IPSTRLEN];

	add(&t, "v=spf1");
	for (size_t i = 0; i < n; i++)
		add(&t, " %s:%s", ips[i].ss_family == AF_INET ? "ip4" : "ip6",
		    net_ip_str((const struct sockaddr *)&ips[i], ip));
	add(&t, " mx -all");
	return t.s;
}

char *
records_dmarc(const char *domain)
{
	return xasprintf("v=DMARC1; p=quarantine; rua=mailto:postmaster@%s",
	    domain);
}

char *
records_tlsrpt(const char *domain)
{
	return xasprintf("v=TLSRPTv1; rua=mailto:postmaster@%s", domain);
}

/* The port of a service's first listen address; 0 when it has none. */
static unsigned
service_port(const struct conf *conf, enum conf_service svc)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (conf->listen[svc].n == 0 ||
	    net_parse_addr(conf->listen[svc].v[0], &ss, &len) == -1)
		return 0;
	return ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* The DKIM lines of `rmail dkim show` (cmd/dkim.c prints the same). */
static void
add_dkim(struct text *t, const struct conf *conf, const char *domain)
{
	struct dkim_key *keys[DKIM_ALG_COUNT];
	char err[1024];
	size_t n;

	if (dkim_keys_load(conf->data_dir, domain, conf->dkim_selector, keys, &n,
	    err, sizeof(err)) == -1) {
		add(t, "; DKIM: %s\n", err);
		return;
	}
	if (n == 0)
		add(t, "; DKIM: no key yet; run 'rmail dkim generate %s'\n", domain);
	for (size_t i = 0; i < n; i++) {
		char *line = dkim_zone_line(keys[i], domain, conf->dkim_selector);

		if (line == NULL)
			add(t, "; DKIM: cannot make the %s record (selector '%s')\n",
			    dkim_alg_name(dkim_key_alg(keys[i])), conf->dkim_selector);
		else
			add(t, "%s\n", line);
		free(line);
		dkim_key_free(&keys[i]);
	}
}

static void
add_domain(struct text *t, const struct conf *conf, const char *domain,
    const struct sockaddr_storage *ips, size_t n)
{
	/* RFC 6186 section 3; submissions (465) is RFC 8314 section 5.1. */
	static const struct { const char *name; enum conf_service svc; } srv[] = {
		{ "_submissions._tcp", CONF_SVC_SUBMISSIONS },
		{ "_submission._tcp", CONF_SVC_SUBMISSION },
		{ "_imaps._tcp", CONF_SVC_IMAPS },
		{ "_imap._tcp", CONF_SVC_IMAP },
	};
	const char *host = conf->hostname;
	char *v;

	add(t, "; ---- %s ----\n", domain);
	add(t, "%s. IN MX 10 %s.\n", domain, host);
	v = records_spf(ips, n);
	add(t, "%s. IN TXT \"%s\"\n", domain, v);
	free(v);
	add_dkim(t, conf, domain);
	v = records_dmarc(domain);
	add(t, "_dmarc.%s. IN TXT \"%s\"\n", domain, v);
	free(v);
	v = records_tlsrpt(domain);
	add(t, "_smtp._tls.%s. IN TXT \"%s\"\n", domain, v);
	free(v);
	for (size_t i = 0; i < sizeof(srv) / sizeof(srv[0]); i++) {
		unsigned port = service_port(conf, srv[i].svc);

		if (port == 0)	/* "." : the service is not offered */
			add(t, "%s.%s. IN SRV 0 0 0 .\n", srv[i].name, domain);
		else
			add(t, "%s.%s. IN SRV 0 1 %u %s.\n", srv[i].name, domain,
			    port, host);
	}
}

char *
records_zone(const struct conf *conf, const struct sockaddr_storage *ips,
    size_t n)
{
	struct text t = { NULL, 0, 0 };
	const char *host = conf->hostname;
	char ip[NET_IPSTRLEN];
	size_t n4 = 0, n6 = 0;

	add(&t, "; DNS records to publish for %s (made by rmail init)\n", host);
	add(&t, "; ---- the mail host ----\n");
	for (size_t i = 0; i < n; i++) {
		bool v4 = ips[i].ss_family == AF_INET;

		if (v4)
			n4++;
		else
			n6++;
		add(&t, "%s. IN %s %s\n", host, v4 ? "A" : "AAAA",
		    net_ip_str((const struct sockaddr *)&ips[i], ip));
	}
	if (n4 == 0)
		add(&t, "; %s. IN A <your public IPv4>\n", host);
	if (n6 == 0)
		add(&t, "; %s. IN AAAA <your public IPv6>\n", host);
	for (size_t d = 0; d < conf->domains.n; d++)
		add_domain(&t, conf, conf->domains.v[d], ips, n);

	add(&t, "; ---- reverse DNS: ask your VPS provider for ----\n");
	for (size_t i = 0; i < n; i++)
		add(&t, "; PTR: %s -> %s.\n",
		    net_ip_str((const struct sockaddr *)&ips[i], ip), host);
	if (n == 0)
		add(&t, "; PTR: <your public IP> -> %s.\n", host);
	if (n == 0)
		add(&t, "; no public address was found on this host's interfaces "
		    "(behind NAT?):\n;   give them with rmail init --public-ip IP\n");

	add(&t, "; ---- next steps ----\n");
	add(&t, "; 1. open the ports 25 465 587 143 993 (TCP) in the firewall "
	    "and at the provider;\n;    many VPS providers block outbound 25 "
	    "until asked\n");
	add(&t, "; 2. a real certificate for %s, e.g.\n"
	    ";      certbot certonly --standalone -d %s \\\n"
	    ";          --deploy-hook /etc/letsencrypt/renewal-hooks/deploy/rmail\n"
	    ";    with the deploy hook from docs/operations.md (\"Certificates\n"
	    ";    with certbot\"): at every renewal it copies the certificate to\n"
	    ";    %s and %s\n"
	    ";    (readable by the server) and runs rmail reload\n", host, host,
	    conf->tls_cert, conf->tls_key);
	add(&t, "; 3. once the records are published: rmail diagnose%s%s\n",
	    conf->path != NULL ? " -c " : "", conf->path != NULL ? conf->path : "");
	return t.s;
}
