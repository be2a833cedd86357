/*
 * fuzz_dns: the DNS answer handling that is ours (relay/dns.c): the walk
 * over answer and authority records (TTLs, the SOA negative TTL, MX and
 * PTR names), the TXT string joining and address copying around c-ares'
 * parsers, and what the relay parses as text: resolver addresses
 * ("IP", "IP:PORT", "[V6]:PORT", relay.dns_servers) and domain literals
 * (relay/mx.c, "[192.0.2.1]", "[IPv6:...]").
 *
 * The first byte picks: 0..4 a raw DNS answer to an MX, PTR, A, AAAA or
 * TXT query (bits 3-4: success, NODATA or NXDOMAIN as c-ares reported
 * it), anything else the text parsers. dns.c is included to reach its
 * static functions (its object in the archive is then never linked).
 */
#include "relay/dns.c"

#include "tests/fuzz/fuzz.h"
#include "relay/mx.h"

static void
check_name(const char *h)
{
	size_t n = strlen(h);

	/* No trailing dot, but for one escaped by c-ares: a label that
	 * holds a '.' comes out as "host\." */
	FUZZ_CHECK(n < 2 || h[n - 1] != '.' || h[n - 2] == '\\');
	for (; *h != '\0'; h++)
		FUZZ_CHECK(!(*h >= 'A' && *h <= 'Z'));
}

static void
do_answer(int type, int status, const uint8_t *buf, size_t size)
{
	struct dns_answer a;
	int len = size > 65535 ? 65535 : (int)size;

	dns_build_answer(type, status, buf, len, &a);
	FUZZ_CHECK(strlen(a.error) < sizeof(a.error));
	if (a.status == DNS_OK) {
		FUZZ_CHECK(a.nmx + a.naddrs + a.ntxt + a.nptr > 0);
		FUZZ_CHECK(a.ttl <= 0x7fffffff);
	}
	FUZZ_CHECK(a.nmx <= DNS_MAX_RECORDS && a.nptr <= DNS_MAX_RECORDS &&
	    a.ntxt <= DNS_MAX_RECORDS && a.naddrs <= DNS_MAX_RECORDS);
	for (size_t i = 0; i < a.nmx; i++)
		check_name(a.mx[i].host);
	for (size_t i = 0; i < a.nptr; i++)
		check_name(a.ptr[i]);
	for (size_t i = 0; i < a.ntxt; i++)
		FUZZ_CHECK(a.txt[i] != NULL);
	for (size_t i = 0; i < a.naddrs; i++)
		FUZZ_CHECK(a.addrs[i].ss_family == (type == T_A ? AF_INET :
		    AF_INET6));
	dns_answer_clear(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = { T_MX, T_PTR, T_A, T_AAAA, T_TXT };
	static const int statuses[] = {
		ARES_SUCCESS, ARES_ENODATA, ARES_ENOTFOUND, ARES_SUCCESS,
	};
	unsigned sel;

	if (size < 1)
		return 0;
	sel = data[0];
	if ((sel & 7) < NELEM(types)) {
		do_answer(types[sel & 7], statuses[(sel >> 3) & 3], data + 1,
		    size - 1);
	} else {
		char *s = fuzz_str(data + 1, size - 1);
		struct ares_addr_port_node n;
		struct sockaddr_storage ss;
		int r;

		if (dns_parse_server(s, &n) == 0)
			FUZZ_CHECK(n.family == AF_INET || n.family == AF_INET6);
		r = mx_parse_literal(s, &ss);
		FUZZ_CHECK(r >= -1 && r <= 1);
		FUZZ_CHECK(r == 0 || s[0] == '[');
		if (r == 1)
			FUZZ_CHECK(ss.ss_family == AF_INET ||
			    ss.ss_family == AF_INET6);
		free(s);
	}
	return 0;
}
