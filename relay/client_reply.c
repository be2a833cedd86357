/*
 * client_reply: the outbound SMTP client's reply side (see client.c):
 * replies read line by line (multi-line replies joined, enhanced status
 * codes of RFC 3463, EHLO keywords), server text made printable, and the
 * per-recipient results built from them and reported.
 */
#include "relay/client_private.h"
#include "core/log.h"
#include "core/util.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
smtp_rcpt_status_name(enum smtp_rcpt_status s)
{
	switch (s) {
	case SMTP_RCPT_DELIVERED:
		return "delivered";
	case SMTP_RCPT_TEMPFAIL:
		return "tempfail";
	case SMTP_RCPT_PERMFAIL:
		return "permfail";
	}
	return "?";
}

/* Copy s into dst as printable text (control bytes made '?'). */
static void
cl_clean_copy(char *dst, size_t size, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	dst[i] = '\0';
}

static enum smtp_rcpt_status
cl_status_of(int code)
{
	if (code >= 200 && code < 300)
		return SMTP_RCPT_DELIVERED;
	return code >= 500 && code < 600 ? SMTP_RCPT_PERMFAIL : SMTP_RCPT_TEMPFAIL;
}

void
smtp_client_decide(struct smtp_client *cl, struct cl_rcpt *rc,
    enum smtp_rcpt_status st, int code, const char *enhanced, const char *text)
{
	rc->decided = true;
	rc->accepted = false;
	free(rc->text);
	rc->text = xstrdup(text);
	rc->res.status = st;
	rc->res.code = code;
	str_lcpy(rc->res.enhanced, enhanced, sizeof(rc->res.enhanced));
	rc->res.host = cl->host != NULL ? cl->host : "";
	memcpy(rc->res.ip, cl->ip, sizeof(rc->res.ip));
	rc->res.tls = cl->tls_on;
	rc->res.tls_verified = cl->tls_verified;
	str_lcpy(rc->tls_version, cl->tls_version, sizeof(rc->tls_version));
}

void
smtp_client_decide_rest(struct smtp_client *cl, bool only_accepted,
    enum smtp_rcpt_status st, int code, const char *enhanced, const char *text)
{
	for (size_t i = 0; i < cl->nrcpts; i++) {
		struct cl_rcpt *rc = &cl->rcpts[i];

		if (!rc->decided && (!only_accepted || rc->accepted))
			smtp_client_decide(cl, rc, st, code, enhanced, text);
	}
}

void
smtp_client_decide_reply(struct smtp_client *cl, struct cl_rcpt *rc,
    bool only_accepted)
{
	enum smtp_rcpt_status st = cl_status_of(cl->r.code);

	if (rc != NULL)
		smtp_client_decide(cl, rc, st, cl->r.code, cl->r.enhanced,
		    cl->r.text);
	else
		smtp_client_decide_rest(cl, only_accepted, st, cl->r.code,
		    cl->r.enhanced, cl->r.text);
}

/* One EHLO keyword line (RFC 5321 4.1.1.1). */
static void
cl_ehlo_keyword(struct smtp_client *cl, const char *kw)
{
	size_t n = strcspn(kw, " =");
	const char *arg = kw[n] != '\0' ? kw + n + 1 : "";

	if (n == 8 && ascii_ncasecmp(kw, "STARTTLS", n) == 0)
		cl->ext |= EXT_STARTTLS;
	else if (n == 10 && ascii_ncasecmp(kw, "PIPELINING", n) == 0)
		cl->ext |= EXT_PIPELINING;
	else if (n == 8 && ascii_ncasecmp(kw, "SMTPUTF8", n) == 0)
		cl->ext |= EXT_SMTPUTF8;
	else if (n == 8 && ascii_ncasecmp(kw, "8BITMIME", n) == 0)
		cl->ext |= EXT_8BITMIME;
	else if (n == 4 && ascii_ncasecmp(kw, "SIZE", n) == 0) {
		/* "SIZE" alone or "SIZE 0": no fixed limit (RFC 1870 4). */
		char *end;
		unsigned long long v = strtoull(arg, &end, 10);

		cl->ext |= EXT_SIZE;
		cl->size_max = *arg >= '0' && *arg <= '9' && (*end == '\0' ||
		    *end == ' ') ? (uint64_t)v : 0;
	} else if (n == 4 && ascii_ncasecmp(kw, "AUTH", n) == 0) {
		/* "AUTH PLAIN LOGIN", or the old "AUTH=PLAIN LOGIN". */
		while (*arg != '\0') {
			size_t m = strcspn(arg, " ");

			if (m == 5 && ascii_ncasecmp(arg, "PLAIN", m) == 0)
				cl->ext |= EXT_AUTH_PLAIN;
			else if (m == 5 && ascii_ncasecmp(arg, "LOGIN", m) == 0)
				cl->ext |= EXT_AUTH_LOGIN;
			arg += m;
			arg += strspn(arg, " ");
		}
	}
}

/* "X.Y.Z" at the start of a reply's text (RFC 3463), class = code's. */
static void
cl_parse_enhanced(struct cl_reply *r, const char *t)
{
	size_t i = 0;

	r->enhanced[0] = '\0';
	if (t[0] - '0' != r->code / 100 || t[1] != '.')
		return;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;

		while (t[i + d] >= '0' && t[i + d] <= '9')
			d++;
		if (d == 0 || d > 3)
			return;
		i += d;
		if (part == 0 && t[i++] != '.')
			return;
	}
	if (t[i] != '\0' && t[i] != ' ')
		return;
	memcpy(r->enhanced, t, i);
	r->enhanced[i] = '\0';
}

int
smtp_client_reply_line(struct smtp_client *cl, const char *line, size_t len)
{
	struct cl_reply *r = &cl->r;
	const char *text;
	bool first = !r->open;
	int code;

	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9' ||
	    (len > 3 && line[3] != ' ' && line[3] != '-'))
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	text = len > 4 ? line + 4 : "";
	if (first) {
		r->code = code;
		r->open = true;
		r->len = (size_t)snprintf(r->text, sizeof(r->text), "%d", code);
		cl_parse_enhanced(r, text);
	} else if (code != r->code) {
		return -1;
	} else if (cl->state == CL_EHLO) {
		cl_ehlo_keyword(cl, text);
	}
	if (*text != '\0' && r->len + 2 < sizeof(r->text)) {
		r->text[r->len++] = ' ';
		cl_clean_copy(r->text + r->len, sizeof(r->text) - r->len, text);
		r->len += strlen(r->text + r->len);
	}
	if (len > 3 && line[3] == '-')
		return 0;
	r->open = false;
	return 1;
}

void
smtp_client_report(struct smtp_client *cl)
{
	struct smtp_rcpt_result *res = xcalloc(cl->nrcpts, sizeof(*res));
	struct smtp_client_result result = { .rcpts = res, .nrcpts = cl->nrcpts };

	for (size_t i = 0; i < cl->nrcpts; i++) {
		struct cl_rcpt *rc = &cl->rcpts[i];

		assert(rc->decided);
		res[i] = rc->res;
		res[i].text = rc->text;
		res[i].tls_version = rc->tls_version;
		log_info(CLIENT_SVC, 0, res[i].ip[0] != '\0' ? res[i].ip : NULL,
		    "event=relay-result id=%s to=%s status=%s host=%s tls=%s "
		    "verified=%s reply=%s",
		    cl_log_id(cl), log_q(rc->addr),
		    smtp_rcpt_status_name(res[i].status), log_q(res[i].host),
		    res[i].tls ? rc->tls_version : "no",
		    res[i].tls_verified ? "yes" : "no", log_q(rc->text));
	}
	cl->done(&result, cl->arg);
	free(res);
}

/* RFC 5321 4.5.3.1.3 allows 256 bytes for a path; we are lenient,
 * within reason. */
bool
smtp_client_valid_addr(const char *s)
{
	if (strlen(s) > 1000)
		return false;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '<' || *s == '>')
			return false;
	}
	return true;
}
