/*
 * smtp message: the end of DATA or BDAT LAST. Refuse what must be refused
 * (bare line ends, size, submission's From:, quota), add the Received
 * header (RFC 5321 4.4) and, on submission, Date and Message-ID when
 * missing (RFC 6409 8.2, 8.3), then hand the message to the durable queue
 * and answer 250 only once it is on disk.
 */
#include "smtp/smtp_private.h"
#include "config/env.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/util.h"
#include "relay/queue.h"
#include "store/mime.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* RFC 5322 3.3 date-time, in local time with its offset. */
static void
rfc5322_date(time_t t, char *out, size_t len)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char mons[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;
	char sign = '+';

	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	snprintf(out, len, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday % 7], tm.tm_mday, mons[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
	    off / 60, off % 60);
}

/* Client text safe inside a header and a comment. */
static void
sanitize(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in != '\0' && o + 1 < len; in++) {
		unsigned char c = (unsigned char)*in;

		out[o++] = c > ' ' && c < 0x7f && c != '(' && c != ')' &&
		    c != '\\' && c != ';' ? (char)c : '_';
	}
	out[o] = '\0';
}

/* What a submission's header block says (only the fields we look at). */
struct hdr_info {
	bool	 has_date;
	bool	 has_msgid;
	size_t	 nfrom;		/* From: fields */
	bool	 from_ok;	/* every address of every From: is the user's */
};

static bool
from_ok(const struct smtp_session *s, const char *val, size_t len)
{
	struct rmail_env *env = s->srv->env;
	char *v = mime_header_unfold(val, len);
	struct mime_addr *a = NULL;
	size_t n = mime_parse_addresses(v, &a), nmbox = 0;
	bool ok = true;

	for (size_t i = 0; i < n && ok; i++) {
		char *addr;

		if (a[i].group_start || a[i].group_end)
			continue;
		nmbox++;
		if (a[i].mailbox == NULL || a[i].host == NULL ||
		    strcmp(a[i].host, MIME_ADDR_MISSING_HOST) == 0) {
			ok = false;
			break;
		}
		addr = xasprintf("%s@%s", a[i].mailbox, a[i].host);
		ok = route_may_send_as(env->conf, env->users, s->auth_user, addr);
		free(addr);
	}
	mime_addrs_free(a, n);
	free(v);
	return ok && nmbox > 0;
}

static void
scan_headers(const struct smtp_session *s, const char *body, size_t len,
    struct hdr_info *h)
{
	const char *end = memmem(body, len, "\r\n\r\n", 4);
	size_t hlen = len >= 2 && body[0] == '\r' && body[1] == '\n' ? 0 :
	    end != NULL ? (size_t)(end - body) + 2 : len;
	size_t pos = 0, nlen, vlen;
	const char *name, *val;

	memset(h, 0, sizeof(*h));
	h->from_ok = true;
	while (mime_header_next(body, hlen, &pos, &name, &nlen, &val, &vlen) == 1) {
		if (nlen == 4 && ascii_ncasecmp(name, "Date", 4) == 0) {
			h->has_date = true;
		} else if (nlen == 10 && ascii_ncasecmp(name, "Message-ID", 10) == 0) {
			h->has_msgid = true;
		} else if (nlen == 4 && ascii_ncasecmp(name, "From", 4) == 0) {
			h->nfrom++;
			if (!from_ok(s, val, vlen))
				h->from_ok = false;
		}
	}
}

static void
message_id(const struct smtp_session *s, char *out, size_t len)
{
	uint8_t r[12];
	char hex[sizeof(r) * 2 + 1];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		/* Never expected; still unique enough with the time and conn. */
		uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)conn_id(s->conn) << 32);

		memcpy(r, &x, sizeof(x));
		memset(r + sizeof(x), 0, sizeof(r) - sizeof(x));
	}
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	snprintf(out, len, "<%s.%lld@%s>", hex, (long long)time(NULL), smtp_hostname(s));
}

/* The Received header: "with" per RFC 3848 / RFC 6531. */
static int
received(const struct smtp_session *s, time_t now, char *out, size_t len)
{
	struct conn *c = s->conn;
	const char *ip = conn_ip(c), *ver = conn_tls_version(c);
	char helo[SMTP_HELO_MAX + 1], date[64], tls[160] = "", rcpt[ROUTE_ADDR_MAX + 16] = "";
	char proto[16];

	sanitize(s->helo != NULL ? s->helo : "unknown", helo, sizeof(helo));
	rfc5322_date(now, date, sizeof(date));
	snprintf(proto, sizeof(proto), "%s%s%s",
	    s->smtputf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" : "SMTP",
	    ver != NULL && (s->esmtp || s->smtputf8) ? "S" : "",
	    s->auth_user != NULL && (s->esmtp || s->smtputf8) ? "A" : "");
	if (ver != NULL)
		snprintf(tls, sizeof(tls), " (%s cipher %s)", ver,
		    conn_tls_cipher(c) != NULL ? conn_tls_cipher(c) : "unknown");
	if (s->nrcpt == 1 && s->first_rcpt != NULL) {
		char r[ROUTE_ADDR_MAX + 1];

		sanitize(s->first_rcpt, r, sizeof(r));
		snprintf(rcpt, sizeof(rcpt), "\r\n\tfor <%s>", r);
	}
	return snprintf(out, len,
	    "Received: from %s (%s%s%s)\r\n"
	    "\tby %s (rmail) with %s%s%s;\r\n"
	    "\t%s\r\n",
	    helo, strchr(ip, ':') != NULL ? "[IPv6:" : "[", ip, "]",
	    smtp_hostname(s), proto, tls, rcpt, date);
}

static void
refuse(struct smtp_session *s, const char *why, const char *reply)
{
	log_info(s->srv->ls.name, conn_id(s->conn), conn_ip(s->conn),
	    "event=rejected reason=%s from=%s rcpts=%zu size=%" PRIu64, why,
	    log_q(s->mail_from), s->nrcpt, s->body.size);
	if (reply[0] == '5')
		smtp_error(s, "%s", reply);
	else
		smtp_reply(s, "%s", reply);
	smtp_txn_reset(s);
}

void
smtp_message_end(struct smtp_session *s, bool bare)
{
	struct rmail_env *env = s->srv->env;
	struct queue_envelope qe;
	struct hdr_info h = { .from_ok = true };
	char prefix[SMTP_HEADROOM], err[256], id[QUEUE_ID_MAX];
	const char *body;
	char *data;
	size_t blen, plen, len;
	time_t now = time(NULL);
	int n;

	if (bare) {
		refuse(s, "bare-line-end",
		    "550 5.6.11 Bare CR or LF in message; lines must end with CRLF");
		return;
	}
	if (s->body.too_big) {
		refuse(s, "too-big", "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	if (env->queue == NULL) {
		refuse(s, "no-queue", "451 4.3.0 Queue unavailable, try again later");
		return;
	}
	body = (const char *)smtp_body_data(&s->body);
	blen = (size_t)s->body.size;
	if (smtp_is_submission(s)) {
		scan_headers(s, body, blen, &h);
		if (h.nfrom == 0) {
			refuse(s, "no-from", "550 5.6.0 Message has no From: header");
			return;
		}
		if (!h.from_ok) {
			refuse(s, "from-not-owned",
			    "553 5.7.1 From: address not owned by authenticated user");
			return;
		}
	}
	n = received(s, now, prefix, sizeof(prefix));
	plen = n > 0 ? (size_t)n : 0;
	if (smtp_is_submission(s) && !h.has_date && plen < sizeof(prefix)) {
		char date[64];

		rfc5322_date(now, date, sizeof(date));
		n = snprintf(prefix + plen, sizeof(prefix) - plen, "Date: %s\r\n", date);
		plen += n > 0 ? (size_t)n : 0;
	}
	if (smtp_is_submission(s) && !h.has_msgid && plen < sizeof(prefix)) {
		char mid[320];

		message_id(s, mid, sizeof(mid));
		n = snprintf(prefix + plen, sizeof(prefix) - plen, "Message-ID: %s\r\n", mid);
		plen += n > 0 ? (size_t)n : 0;
	}
	if (plen >= sizeof(prefix)) {
		refuse(s, "header-overflow", "451 4.3.0 Local error, try again later");
		return;
	}
	/* The prefix goes in the room kept before the body: no copy. */
	len = plen + blen;
	data = (char *)body - plen;
	memcpy(data, prefix, plen);
	for (size_t i = 0; i < s->rcpts.n; i++) {
		if (!s->rcpts.v[i].local ||
		    queue_local_room(env->queue, s->rcpts.v[i].addr, len, err,
		    sizeof(err)) == 0 || errno != EDQUOT)
			continue;
		refuse(s, "over-quota", "452 4.2.2 Mailbox full");
		return;
	}
	qe = (struct queue_envelope){
		.mail_from = s->mail_from,
		.targets = &s->rcpts,
		.client_ip = conn_ip(s->conn),
		.helo = s->helo,
		.auth_user = s->auth_user,
		.smtputf8 = s->smtputf8,
	};
	if (queue_submit(env->queue, &qe, data, len, id, err, sizeof(err)) == -1) {
		int e = errno;

		log_warn(s->srv->ls.name, conn_id(s->conn), conn_ip(s->conn),
		    "event=queue-error err=%s", log_q(err));
		refuse(s, "queue-error", e == ENOSPC || e == EDQUOT ?
		    "452 4.3.1 Insufficient system storage" :
		    "451 4.3.0 Local error in processing, try again later");
		return;
	}
	/* The transaction's line: grep its id to follow the message. */
	log_info(s->srv->ls.name, conn_id(s->conn), conn_ip(s->conn),
	    "event=accepted id=%s from=%s rcpts=%zu targets=%zu size=%zu "
	    "helo=%s user=%s tls=%s cipher=%s", id, log_q(s->mail_from),
	    s->nrcpt, s->rcpts.n, len, log_q(s->helo != NULL ? s->helo : ""),
	    log_q(s->auth_user != NULL ? s->auth_user : ""),
	    conn_tls_version(s->conn) != NULL ? conn_tls_version(s->conn) : "no",
	    conn_tls_version(s->conn) != NULL ? conn_tls_cipher(s->conn) : "-");
	smtp_reply(s, "250 2.0.0 Ok: queued as %s", id);
	s->junk = 0;	/* a client that delivers is not idling */
	smtp_txn_reset(s);
}
