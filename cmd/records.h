/*
 * records: the DNS records to publish for rmail's domains, private to
 * cmd/. rmail init prints them and saves them as DATA_DIR/dns-records.txt;
 * rmail diagnose compares what DNS serves with the same values.
 *
 * All results are new allocations the caller frees.
 */
#ifndef RMAIL_CMD_RECORDS_H
#define RMAIL_CMD_RECORDS_H

#include <stddef.h>
#include <sys/socket.h>

struct conf;

/* Name of the snippet file inside the data dir. */
#define RECORDS_FILE	"dns-records.txt"

/*
 * The SPF policy for a domain whose mail leaves from ips (n may be 0):
 *   "v=spf1 ip4:A ip6:B mx -all"   with addresses, in ips' order
 *   "v=spf1 mx -all"               without
 * The explicit addresses authorise the server with no DNS lookup (none
 * counted against SPF's limit of 10) even while its A/AAAA records are
 * missing or wrong; "mx" keeps a later move of the MX host covered.
 */
char	*records_spf(const struct sockaddr_storage *ips, size_t n);
/* "v=DMARC1; p=quarantine; rua=mailto:postmaster@DOMAIN" */
char	*records_dmarc(const char *domain);
/* "v=TLSRPTv1; rua=mailto:postmaster@DOMAIN" (RFC 8460) */
char	*records_tlsrpt(const char *domain);

/*
 * The whole zone snippet for every domain of conf, in zone file syntax
 * with comments, ending in a newline:
 *   DOMAIN. IN MX 10 HOST.
 *   HOST. IN A IP / HOST. IN AAAA IP   (or a commented placeholder)
 *   DOMAIN. IN TXT "v=spf1 ..."
 *   the DKIM lines exactly as `rmail dkim show DOMAIN` prints them
 *   _dmarc.DOMAIN. IN TXT "..." and _smtp._tls.DOMAIN. IN TXT "..."
 *   _submissions._tcp, _submission._tcp, _imaps._tcp, _imap._tcp SRV
 *     (RFC 6186; the port the config listens on, "0 0 0 ." when the
 *     service is not configured)
 *   "; PTR: IP -> HOST." per address, for the provider to set
 * then the next steps as comments. A DKIM key that cannot be read is a
 * comment naming the problem. Never NULL.
 */
char	*records_zone(const struct conf *, const struct sockaddr_storage *ips,
	    size_t n);

#endif
