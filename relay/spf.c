/*
 * spf: RFC 7208 check_host() over a synchronous lookup function.
 *
 * A record is parsed whole first (section 4.6: a syntax error anywhere is
 * PermError, whatever comes before it), its domain-specs expanded at once
 * (no macro we support needs DNS), then its terms are evaluated left to
 * right. The counters of section 4.6.4 live in one state shared by the
 * whole include/redirect tree.
 */
#include "relay/spf.h"

#include "core/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPF_MAX_TERMS	64
#define SPF_NAME_MAX	253

enum spf_mech {
	SPF_M_ALL,
	SPF_M_INCLUDE,
	SPF_M_A,
	SPF_M_MX,
	SPF_M_PTR,
	SPF_M_IP4,
	SPF_M_IP6,
	SPF_M_EXISTS,
};

struct spf_term {
	enum spf_mech		 mech;
	char			 qual;		/* + - ~ ? */
	char			*text;		/* as written, for reasons */
	char			*domain;	/* expanded target, or NULL */
	struct sockaddr_storage	 net;		/* ip4, ip6 */
	int			 cidr4, cidr6;
};

struct spf_record {
	struct spf_term	 terms[SPF_MAX_TERMS];
	size_t		 nterms;
	char		*redirect;	/* expanded, or NULL */
};

struct spf_state {
	struct sockaddr_storage	 ip;
	const char		*sender;	/* local@domain */
	const char		*helo;
	spf_lookup_fn		*lookup;
	void			*arg;
	struct spf_check	*out;
};

const char *
spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_NONE:		return "none";
	case SPF_NEUTRAL:	return "neutral";
	case SPF_PASS:		return "pass";
	case SPF_FAIL:		return "fail";
	case SPF_SOFTFAIL:	return "softfail";
	case SPF_TEMPERROR:	return "temperror";
	case SPF_PERMERROR:	return "permerror";
	}
	return "?";
}

void
spf_answer_clear(struct spf_answer *a)
{
	for (size_t i = 0; i < a->nstrs; i++)
		free(a->strs[i]);
	free(a->strs);
	free(a->addrs);
	memset(a, 0, sizeof(*a));
}

static void spf_reason(struct spf_state *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
spf_reason(struct spf_state *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->out->reason, sizeof(st->out->reason), fmt, ap);
	va_end(ap);
}

static void
spf_record_clear(struct spf_record *rec)
{
	for (size_t i = 0; i < rec->nterms; i++) {
		free(rec->terms[i].text);
		free(rec->terms[i].domain);
	}
	free(rec->redirect);
	memset(rec, 0, sizeof(*rec));
}

/* Macros (section 7). */

static void
spf_append(char *out, size_t *len, size_t cap, const char *s, size_t n)
{
	if (*len + n >= cap)
		n = *len < cap - 1 ? cap - 1 - *len : 0;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
}

/* The value of a macro letter into buf. -1 for a letter not allowed. */
static int
spf_macro_value(const struct spf_state *st, const char *domain, char letter,
    char *buf, size_t cap)
{
	const struct sockaddr_storage *ip = &st->ip;
	const char *at = strrchr(st->sender, '@');

	switch (tolower((unsigned char)letter)) {
	case 's':
		str_lcpy(buf, st->sender, cap);
		return 0;
	case 'l':
		snprintf(buf, cap, "%.*s", at != NULL ?
		    (int)(at - st->sender) : 10, at != NULL ? st->sender :
		    "postmaster");
		return 0;
	case 'o':
		str_lcpy(buf, at != NULL ? at + 1 : st->sender, cap);
		return 0;
	case 'd':
		str_lcpy(buf, domain, cap);
		return 0;
	case 'h':
		str_lcpy(buf, st->helo != NULL ? st->helo : "unknown", cap);
		return 0;
	case 'p':
		str_lcpy(buf, "unknown", cap);
		return 0;
	case 'v':
		str_lcpy(buf, ip->ss_family == AF_INET ? "in-addr" : "ip6", cap);
		return 0;
	case 'i':
		if (ip->ss_family == AF_INET) {
			inet_ntop(AF_INET, &((const struct sockaddr_in *)
			    (const void *)ip)->sin_addr, buf, (socklen_t)cap);
		} else {
			static const char hex[] = "0123456789abcdef";
			const uint8_t *b = ((const struct sockaddr_in6 *)
			    (const void *)ip)->sin6_addr.s6_addr;
			size_t off = 0;

			for (int i = 0; i < 16 && off + 4 < cap; i++) {
				buf[off++] = hex[b[i] >> 4];
				buf[off++] = '.';
				buf[off++] = hex[b[i] & 0x0f];
				buf[off++] = '.';
			}
			buf[off > 0 ? off - 1 : 0] = '\0';
		}
		return 0;
	}
	return -1;
}

/*
 * Expand the macro-string s (up to end) into out. 0, or -1 on a syntax
 * error.
 */
static int
spf_expand(const struct spf_state *st, const char *domain, const char *s,
    const char *end, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	while (s < end) {
		char val[512], *parts[128], *p;
		const char *close, *q;
		char delims[16] = "";
		size_t np = 0, nd = 0, len0;
		unsigned keep = 0;
		bool rev = false, digits = false;

		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return -1;
		if (*s != '%') {
			spf_append(out, &len, cap, s, 1);
			s++;
			continue;
		}
		if (s + 1 >= end)
			return -1;
		if (s[1] == '%' || s[1] == '_' || s[1] == '-') {
			spf_append(out, &len, cap, s[1] == '%' ? "%" :
			    s[1] == '_' ? " " : "%20", s[1] == '-' ? 3 : 1);
			s += 2;
			continue;
		}
		if (s[1] != '{' || (close = memchr(s, '}', (size_t)(end - s))) ==
		    NULL)
			return -1;
		if (spf_macro_value(st, domain, s[2], val, sizeof(val)) == -1)
			return -1;
		for (q = s + 3; q < close && isdigit((unsigned char)*q); q++) {
			digits = true;
			keep = keep * 10 + (unsigned)(*q - '0');
			if (keep > 128)
				keep = 128;
		}
		if (digits && keep == 0)
			return -1;
		if (q < close && (*q == 'r' || *q == 'R')) {
			rev = true;
			q++;
		}
		for (; q < close; q++) {
			if (strchr(".-+,/_=", *q) == NULL || nd + 1 >= sizeof(delims))
				return -1;
			delims[nd++] = *q;
		}
		if (nd == 0)
			delims[nd++] = '.';
		delims[nd] = '\0';
		for (p = val; np < NELEM(parts); ) {
			parts[np++] = p;
			p += strcspn(p, delims);
			if (*p == '\0')
				break;
			*p++ = '\0';
		}
		if (rev)
			for (size_t i = 0; i < np / 2; i++) {
				char *t = parts[i];

				parts[i] = parts[np - 1 - i];
				parts[np - 1 - i] = t;
			}
		len0 = len;
		for (size_t i = keep > 0 && keep < np ? np - keep : 0; i < np;
		    i++) {
			if (len > len0)
				spf_append(out, &len, cap, ".", 1);
			spf_append(out, &len, cap, parts[i], strlen(parts[i]));
		}
		s = close + 1;
	}
	return 0;
}

/*
 * Expand a domain-spec; its result must look like a domain name (labels
 * of 1..63, a dot, at most SPF_NAME_MAX; a trailing dot is dropped).
 */
static char *
spf_domain_spec(const struct spf_state *st, const char *domain, const char *s,
    const char *end)
{
	char buf[1024];
	size_t len;
	const char *p, *label;

	if (s == end || spf_expand(st, domain, s, end, buf, sizeof(buf)) == -1)
		return NULL;
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '.')
		buf[--len] = '\0';
	/* Section 4.8: over 253, drop labels from the left. */
	p = buf;
	while (strlen(p) > SPF_NAME_MAX && strchr(p, '.') != NULL)
		p = strchr(p, '.') + 1;
	if (*p == '\0' || strchr(p, '.') == NULL || strlen(p) > SPF_NAME_MAX)
		return NULL;
	for (label = p; ; ) {
		size_t l = strcspn(label, ".");

		if (l == 0 || l > 63)
			return NULL;
		if (label[l] == '\0')
			break;
		label += l + 1;
	}
	return xstrdup(p);
}

/* Parsing. */

/* "/N" with N in 0..max at *sp (up to end). 0, 1 when absent, -1. */
static int
spf_cidr(const char **sp, const char *end, int max, int *cidr_r)
{
	const char *s = *sp;
	int v = 0;

	if (s >= end || *s != '/')
		return 1;
	s++;
	if (s >= end || !isdigit((unsigned char)*s))
		return -1;
	if (*s == '0' && s + 1 < end && isdigit((unsigned char)s[1]))
		return -1;
	while (s < end && isdigit((unsigned char)*s)) {
		v = v * 10 + (*s++ - '0');
		if (v > max)
			return -1;
	}
	*cidr_r = v;
	*sp = s;
	return 0;
}

static int
spf_parse_term(const struct spf_state *st, const char *domain,
    const char *s, const char *end, struct spf_record *rec)
{
	static const struct {
		const char	*name;
		enum spf_mech	 mech;
	} mechs[] = {
		{ "all", SPF_M_ALL }, { "include", SPF_M_INCLUDE },
		{ "a", SPF_M_A }, { "mx", SPF_M_MX }, { "ptr", SPF_M_PTR },
		{ "ip4", SPF_M_IP4 }, { "ip6", SPF_M_IP6 },
		{ "exists", SPF_M_EXISTS },
	};
	struct spf_term *t;
	const char *start = s, *p, *arg, *slash;
	char qual = '+';
	size_t nlen, i;

	/* A modifier: name "=" macro-string. */
	for (p = s; p < end && (isalnum((unsigned char)*p) || *p == '-' ||
	    *p == '_' || *p == '.'); p++)
		;
	if (p < end && *p == '=' && p > s && isalpha((unsigned char)*s)) {
		nlen = (size_t)(p - s);
		if (nlen == 8 && ascii_ncasecmp(s, "redirect", 8) == 0) {
			if (rec->redirect != NULL)
				return -1;
			rec->redirect = spf_domain_spec(st, domain, p + 1, end);
			return rec->redirect != NULL ? 0 : -1;
		}
		/* exp= and unknown modifiers: ignored. */
		return 0;
	}
	if (*s == '+' || *s == '-' || *s == '~' || *s == '?')
		qual = *s++;
	for (p = s; p < end && *p != ':' && *p != '/'; p++)
		;
	nlen = (size_t)(p - s);
	for (i = 0; i < NELEM(mechs); i++)
		if (strlen(mechs[i].name) == nlen &&
		    ascii_ncasecmp(s, mechs[i].name, nlen) == 0)
			break;
	if (i == NELEM(mechs) || rec->nterms == SPF_MAX_TERMS)
		return -1;
	t = &rec->terms[rec->nterms];
	memset(t, 0, sizeof(*t));
	t->mech = mechs[i].mech;
	t->qual = qual;
	t->cidr4 = 32;
	t->cidr6 = 128;
	arg = p < end && *p == ':' ? p + 1 : NULL;
	switch (t->mech) {
	case SPF_M_ALL:
		if (p != end)
			return -1;
		break;
	case SPF_M_INCLUDE:
	case SPF_M_EXISTS:
	case SPF_M_PTR:
		if (arg == NULL && (t->mech != SPF_M_PTR || p != end))
			return -1;
		if (arg != NULL && (t->domain = spf_domain_spec(st, domain, arg,
		    end)) == NULL)
			return -1;
		break;
	case SPF_M_A:
	case SPF_M_MX:
		/* [":" domain-spec] ["/" ip4-cidr] ["//" ip6-cidr] */
		slash = arg != NULL ? arg : p;
		while (slash < end && *slash != '/')
			slash++;
		if (arg != NULL && (t->domain = spf_domain_spec(st, domain, arg,
		    slash)) == NULL)
			return -1;
		if (arg == NULL && p != slash)
			return -1;
		p = slash;
		if (p + 1 < end && p[1] != '/' &&
		    spf_cidr(&p, end, 32, &t->cidr4) == -1)
			goto bad_cidr;
		if (p < end) {
			if (p[0] != '/' || p + 1 >= end || p[1] != '/')
				goto bad_cidr;
			p++;
			if (spf_cidr(&p, end, 128, &t->cidr6) != 0)
				goto bad_cidr;
		}
		if (p != end)
			goto bad_cidr;
		break;
	case SPF_M_IP4:
	case SPF_M_IP6: {
		char addr[INET6_ADDRSTRLEN];
		int fam = t->mech == SPF_M_IP4 ? AF_INET : AF_INET6;
		int rc;

		if (arg == NULL)
			return -1;
		for (p = arg; p < end && *p != '/'; p++)
			;
		if ((size_t)(p - arg) >= sizeof(addr) || p == arg)
			return -1;
		memcpy(addr, arg, (size_t)(p - arg));
		addr[p - arg] = '\0';
		t->net.ss_family = (sa_family_t)fam;
		if (inet_pton(fam, addr, fam == AF_INET ?
		    (void *)&((struct sockaddr_in *)&t->net)->sin_addr :
		    (void *)&((struct sockaddr_in6 *)&t->net)->sin6_addr) != 1)
			return -1;
		rc = spf_cidr(&p, end, fam == AF_INET ? 32 : 128,
		    fam == AF_INET ? &t->cidr4 : &t->cidr6);
		if (rc == -1 || p != end)
			return -1;
		break;
	}
	}
	t->text = xstrndup(start, (size_t)(end - start));
	rec->nterms++;
	return 0;

bad_cidr:
	/* The term is not counted: its domain is ours to free. */
	FREE_NULL(t->domain);
	return -1;
}

/*
 * Parse the record text (it starts with "v=spf1"). 0, or -1 with the
 * offending term in st's reason.
 */
static int
spf_parse(struct spf_state *st, const char *domain, const char *text,
    struct spf_record *rec)
{
	const char *s = text + 6, *e;

	memset(rec, 0, sizeof(*rec));
	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			return 0;
		for (e = s; *e != '\0' && *e != ' '; e++)
			;
		if (spf_parse_term(st, domain, s, e, rec) == -1) {
			spf_reason(st, "syntax error in the SPF record of %s: "
			    "'%.*s'", domain, (int)(e - s) > 64 ? 64 :
			    (int)(e - s), s);
			return -1;
		}
		s = e;
	}
}

/* Evaluation. */

static bool
spf_in_net(const struct sockaddr_storage *ip, const struct sockaddr_storage *net,
    int cidr4, int cidr6)
{
	const uint8_t *a, *b;
	int bits;

	if (ip->ss_family != net->ss_family)
		return false;
	if (ip->ss_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)ip)->sin_addr;
		b = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)net)->sin_addr;
		bits = cidr4;
	} else {
		a = ((const struct sockaddr_in6 *)(const void *)ip)->
		    sin6_addr.s6_addr;
		b = ((const struct sockaddr_in6 *)(const void *)net)->
		    sin6_addr.s6_addr;
		bits = cidr6;
	}
	for (int i = 0; bits > 0; i++, bits -= 8) {
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		if ((a[i] & mask) != (b[i] & mask))
			return false;
	}
	return true;
}

/* Count one DNS-querying term. false (and the reason) past the limit. */
static bool
spf_count(struct spf_state *st)
{
	if (++st->out->lookups > SPF_MAX_LOOKUPS) {
		spf_reason(st, "more than %d DNS lookups (RFC 7208 4.6.4)",
		    SPF_MAX_LOOKUPS);
		return false;
	}
	return true;
}

/*
 * Look up name, counting void answers. 0 OK, 1 void (NXDOMAIN or no
 * record), -1 TempError, -2 PermError (too many void lookups); the reason
 * is set for the errors.
 */
static int
spf_lookup(struct spf_state *st, const char *name, enum spf_rr rr,
    struct spf_answer *a)
{
	static const char *const rrname[] = { "TXT", "A", "AAAA", "MX" };

	memset(a, 0, sizeof(*a));
	st->lookup(st->arg, name, rr, a);
	switch (a->status) {
	case DNS_OK:
		if (a->nstrs + a->naddrs > 0)
			return 0;
		/* FALLTHROUGH */
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		if (++st->out->void_lookups > SPF_MAX_VOID) {
			spf_reason(st, "more than %d void DNS lookups (RFC 7208 "
			    "4.6.4), the last %s %s", SPF_MAX_VOID,
			    rrname[rr], name);
			return -2;
		}
		return 1;
	default:
		spf_reason(st, "temporary DNS failure: %s %s", rrname[rr], name);
		return -1;
	}
}

/* Does an address of name (ip's family) fall in the term's network? */
static int
spf_match_addrs(struct spf_state *st, const char *name,
    const struct spf_term *t, bool *match_r)
{
	struct spf_answer a;
	int rc;

	rc = spf_lookup(st, name, st->ip.ss_family == AF_INET ? SPF_RR_A :
	    SPF_RR_AAAA, &a);
	for (size_t i = 0; rc == 0 && i < a.naddrs && !*match_r; i++)
		*match_r = spf_in_net(&st->ip, &a.addrs[i], t->cidr4, t->cidr6);
	spf_answer_clear(&a);
	return rc < 0 ? rc : 0;
}

static enum spf_result spf_eval(struct spf_state *, const char *domain);

static enum spf_result
spf_qual_result(char qual)
{
	switch (qual) {
	case '-':	return SPF_FAIL;
	case '~':	return SPF_SOFTFAIL;
	case '?':	return SPF_NEUTRAL;
	default:	return SPF_PASS;
	}
}

/* -1 TempError, -2 PermError, 0 evaluated (*match_r). */
static int
spf_term_match(struct spf_state *st, const char *domain,
    const struct spf_term *t, bool *match_r)
{
	const char *target = t->domain != NULL ? t->domain : domain;
	struct spf_answer a;
	enum spf_result r;
	int rc;

	*match_r = false;
	switch (t->mech) {
	case SPF_M_ALL:
		*match_r = true;
		return 0;
	case SPF_M_IP4:
	case SPF_M_IP6:
		*match_r = spf_in_net(&st->ip, &t->net, t->cidr4, t->cidr6);
		return 0;
	case SPF_M_INCLUDE:
		if (!spf_count(st))
			return -2;
		r = spf_eval(st, target);
		switch (r) {
		case SPF_PASS:
			*match_r = true;
			return 0;
		case SPF_TEMPERROR:
			return -1;
		case SPF_NONE:
			spf_reason(st, "include:%s: no SPF record there", target);
			return -2;
		case SPF_PERMERROR:
			return -2;
		default:
			return 0;
		}
	case SPF_M_A:
		if (!spf_count(st))
			return -2;
		return spf_match_addrs(st, target, t, match_r);
	case SPF_M_MX:
		if (!spf_count(st))
			return -2;
		if ((rc = spf_lookup(st, target, SPF_RR_MX, &a)) == 0) {
			if (a.nstrs > SPF_MAX_MX_ADDR) {
				spf_reason(st, "mx of %s: more than %d MX "
				    "records (RFC 7208 4.6.4)", target,
				    SPF_MAX_MX_ADDR);
				rc = -2;
			}
			for (size_t i = 0; rc == 0 && i < a.nstrs &&
			    !*match_r; i++)
				if (a.strs[i][0] != '\0')
					rc = spf_match_addrs(st, a.strs[i], t,
					    match_r);
		}
		spf_answer_clear(&a);
		return rc < 0 ? rc : 0;
	case SPF_M_PTR:
		/* Deprecated (section 5.5); never matches here. */
		if (!spf_count(st))
			return -2;
		return 0;
	case SPF_M_EXISTS:
		if (!spf_count(st))
			return -2;
		rc = spf_lookup(st, target, SPF_RR_A, &a);
		*match_r = rc == 0 && a.naddrs > 0;
		spf_answer_clear(&a);
		return rc < 0 ? rc : 0;
	}
	return 0;
}

/* The one "v=spf1" record among a's strings, or NULL (and *count_r). */
static const char *
spf_select(const struct spf_answer *a, size_t *count_r)
{
	const char *found = NULL;

	*count_r = 0;
	for (size_t i = 0; i < a->nstrs; i++) {
		const char *s = a->strs[i];

		if (ascii_ncasecmp(s, "v=spf1", 6) == 0 &&
		    (s[6] == '\0' || s[6] == ' ')) {
			(*count_r)++;
			found = s;
		}
	}
	return found;
}

static enum spf_result
spf_eval(struct spf_state *st, const char *domain)
{
	struct spf_answer a;
	struct spf_record rec;
	enum spf_result r = SPF_NEUTRAL;
	const char *text;
	size_t count;
	bool matched = false;

	memset(&a, 0, sizeof(a));
	st->lookup(st->arg, domain, SPF_RR_TXT, &a);
	if (a.status == DNS_TEMPFAIL || a.status == DNS_CANCELLED) {
		spf_answer_clear(&a);
		spf_reason(st, "temporary DNS failure: TXT %s", domain);
		return SPF_TEMPERROR;
	}
	text = spf_select(&a, &count);
	if (count == 0) {
		spf_answer_clear(&a);
		spf_reason(st, "no SPF record at %s", domain);
		return SPF_NONE;
	}
	if (count > 1) {
		spf_answer_clear(&a);
		spf_reason(st, "%zu SPF records at %s (RFC 7208 4.5: exactly "
		    "one)", count, domain);
		return SPF_PERMERROR;
	}
	if (spf_parse(st, domain, text, &rec) == -1) {
		spf_answer_clear(&a);
		spf_record_clear(&rec);
		return SPF_PERMERROR;
	}
	spf_answer_clear(&a);
	for (size_t i = 0; i < rec.nterms; i++) {
		const struct spf_term *t = &rec.terms[i];
		int rc = spf_term_match(st, domain, t, &matched);

		if (rc == -1) {
			r = SPF_TEMPERROR;
			goto done;
		}
		if (rc == -2) {
			r = SPF_PERMERROR;
			goto done;
		}
		if (matched) {
			r = spf_qual_result(t->qual);
			/* An include keeps the reason its record gave. */
			if (t->mech != SPF_M_INCLUDE)
				spf_reason(st, "%s matched in %s", t->text,
				    domain);
			goto done;
		}
	}
	if (rec.redirect != NULL) {
		if (!spf_count(st)) {
			r = SPF_PERMERROR;
			goto done;
		}
		r = spf_eval(st, rec.redirect);
		if (r == SPF_NONE) {
			spf_reason(st, "redirect=%s: no SPF record there",
			    rec.redirect);
			r = SPF_PERMERROR;
		}
		goto done;
	}
	spf_reason(st, "no term matched in %s (neutral)", domain);
done:
	spf_record_clear(&rec);
	return r;
}

void
spf_check_host(const struct sockaddr *ip, const char *domain,
    const char *sender, const char *helo, spf_lookup_fn *lookup, void *arg,
    struct spf_check *check_r)
{
	struct spf_state st;
	char *dflt = NULL;

	memset(check_r, 0, sizeof(*check_r));
	memset(&st, 0, sizeof(st));
	memcpy(&st.ip, ip, ip->sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	if (sender == NULL)
		sender = dflt = xasprintf("postmaster@%s", domain);
	st.sender = sender;
	st.helo = helo;
	st.lookup = lookup;
	st.arg = arg;
	st.out = check_r;
	check_r->result = spf_eval(&st, domain);
	free(dflt);
}
