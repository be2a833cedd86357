/*
 * diagnose: `rmail diagnose` (DESIGN.md CLI contract), private to cmd/.
 *
 * Every check adds one or more results: a status, what it found, and for
 * WARN and FAIL the exact fix (the record to add, the command to run).
 * diagnose.c runs the checks in order and prints one line per result
 * (or JSON with --json); the exit status is 1 when any result FAILs.
 *
 * Check families, each in its own file:
 *   diagnose_local.c  1 config, users, DKIM key files, data dir, disk;
 *                     2 TLS certificate; 3 listeners; 8 queue
 *   diagnose_dns.c    4 outbound port 25; 5 hostname A/AAAA, PTR, FCrDNS;
 *                     7 DNS blocklists (and the loop checks 4 to 7 run on)
 *   diagnose_domain.c 6 per domain MX, SPF, DKIM, DMARC, TLS-RPT, MTA-STS
 *                     (with diagnose_dns.c's lookups: diagnose_dns.h)
 */
#ifndef RMAIL_CMD_DIAGNOSE_H
#define RMAIL_CMD_DIAGNOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct conf;
struct users;

enum diag_status {
	DIAG_PASS,
	DIAG_INFO,	/* worth knowing, never a problem */
	DIAG_SKIP,	/* could not be checked (no network, not configured) */
	DIAG_WARN,
	DIAG_FAIL,
};

struct diag;

/*
 * Add a result. check is a short stable id ("tls.expiry", "dns.spf"),
 * found says what was seen, fix (NULL for PASS/INFO/SKIP) what to do,
 * printf-style in found only: fix is taken as is.
 */
void	 diag_add(struct diag *, const char *check, enum diag_status,
	    const char *fix, const char *found_fmt, ...)
	    __attribute__((format(printf, 5, 6)));

/* What the checks are given. */
struct diag_ctx {
	const char		*config_path;
	struct conf		*conf;		/* NULL when the config is invalid */
	struct users		*users;		/* NULL when unreadable */
	/* The host's public addresses (--public-ip, else its interfaces'
	 * global addresses), port 0. */
	struct sockaddr_storage	*public_ips;
	size_t			 npublic;
	/* --dns-server (NULL: relay.dns_servers, else the system's). */
	const char		*dns_server;
	/* Domain whose first MX the port 25 probe connects to. */
	const char		*probe_domain;
	unsigned		 timeout_secs;	/* per network check */
};

void	 diag_check_local(struct diag *, const struct diag_ctx *);
void	 diag_check_dns(struct diag *, const struct diag_ctx *);

#endif
