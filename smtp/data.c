/*
 * smtp data: the message content readers.
 *
 * DATA (RFC 5321 4.1.1.4): content ends only at CRLF "." CRLF, leading
 * dots are unstuffed (4.5.2), and a bare CR or LF anywhere refuses the
 * message without ever counting as a line end, so no variant of
 * "<LF>.<LF>" can end a message early or smuggle a second one
 * (https://www.postfix.org/smtp-smuggling.html). Lines have no cap of
 * their own: the message size limit bounds everything.
 *
 * BDAT (RFC 3030): exactly n bytes per chunk, no unstuffing; the same
 * CRLF-only rule is checked across chunk boundaries.
 */
#include "smtp/smtp_private.h"
#include "config/env.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void
smtp_body_init(struct smtp_body *b, uint64_t max)
{
	static const uint8_t zero[SMTP_HEADROOM];

	buf_release(&b->b);
	buf_init(&b->b, (size_t)max + SMTP_HEADROOM);
	b->size = 0;
	b->max = max;
	b->too_big = false;
	buf_append(&b->b, zero, sizeof(zero));
}

void
smtp_body_add(struct smtp_body *b, const void *p, size_t n)
{
	b->size += n;
	if (b->too_big)
		return;
	if (b->size > b->max) {
		/* Keep reading to the end, store nothing more (552 then). */
		b->too_big = true;
		buf_release(&b->b);
		return;
	}
	buf_append(&b->b, p, n);
}

void
smtp_body_free(struct smtp_body *b)
{
	buf_release(&b->b);
	b->size = 0;
	b->too_big = false;
}

const uint8_t *
smtp_body_data(const struct smtp_body *b)
{
	return buf_head(&b->b) + SMTP_HEADROOM;
}

void
smtp_dot_init(struct smtp_dot *d)
{
	d->state = SMTP_DOT_BOL;
	d->bare = false;
}

size_t
smtp_dot_feed(struct smtp_dot *d, const uint8_t *p, size_t n,
    struct smtp_body *body, bool *done_r)
{
	size_t i = 0, j;

	*done_r = false;
	while (i < n) {
		uint8_t c = p[i];

		switch (d->state) {
		case SMTP_DOT_MID:
			for (j = i; j < n && p[j] != '\r' && p[j] != '\n'; j++)
				;
			if (j > i) {
				smtp_body_add(body, p + i, j - i);
				i = j;
				break;
			}
			if (c == '\r') {
				d->state = SMTP_DOT_CR;
			} else {
				/* Bare LF: kept, refused, and still mid-line. */
				d->bare = true;
				smtp_body_add(body, "\n", 1);
			}
			i++;
			break;
		case SMTP_DOT_CR:
			if (c == '\n') {
				smtp_body_add(body, "\r\n", 2);
				d->state = SMTP_DOT_BOL;
				i++;
			} else {
				/* Bare CR; c is looked at again mid-line. */
				d->bare = true;
				smtp_body_add(body, "\r", 1);
				d->state = SMTP_DOT_MID;
			}
			break;
		case SMTP_DOT_BOL:
			if (c == '.') {
				d->state = SMTP_DOT_DOT;
				i++;
			} else {
				d->state = SMTP_DOT_MID;
			}
			break;
		case SMTP_DOT_DOT:
			if (c == '\r') {
				d->state = SMTP_DOT_DOTCR;
				i++;
			} else {
				/* A stuffed dot: dropped; c starts the line's text. */
				d->state = SMTP_DOT_MID;
			}
			break;
		case SMTP_DOT_DOTCR:
			if (c == '\n') {
				d->state = SMTP_DOT_BOL;
				*done_r = true;
				return i + 1;
			}
			/* ".<CR>x": a bare CR, not the end. */
			d->bare = true;
			smtp_body_add(body, "\r", 1);
			d->state = SMTP_DOT_MID;
			break;
		}
	}
	return i;
}

void
smtp_crlf_feed(struct smtp_crlf *st, const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n;

	while (p < end) {
		if (st->prev_cr) {
			if (*p != '\n')
				st->bare = true;
			st->prev_cr = false;
			if (*p == '\n') {
				p++;
				continue;
			}
		}
		/* Skip to the next CR or LF. */
		while (p < end && *p != '\r' && *p != '\n')
			p++;
		if (p == end)
			break;
		if (*p == '\n')
			st->bare = true;
		else
			st->prev_cr = true;
		p++;
	}
}

void
cmd_data(struct smtp_session *s, char *args)
{
	(void)args;
	smtp_body_init(&s->body, s->srv->env->conf->limits.max_message_bytes);
	smtp_dot_init(&s->dot);
	s->input = SMTP_IN_DATA;
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
bdat_chunk_done(struct smtp_session *s)
{
	s->input = SMTP_IN_CMD;
	if (s->bdat_reject != NULL) {
		const char *r = s->bdat_reject;

		s->bdat_reject = NULL;
		smtp_error(s, "%s", r);
		return;
	}
	if (s->body.too_big) {
		/* RFC 3030 2: a failed chunk ends the transaction. */
		log_info(s->srv->ls.name, conn_id(s->conn), conn_ip(s->conn),
		    "event=rejected reason=too-big from=%s size=%" PRIu64,
		    log_q(s->mail_from), s->body.size);
		smtp_txn_reset(s);
		smtp_error(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	if (!s->bdat_last) {
		smtp_reply(s, "250 2.0.0 %" PRIu64 " octets received", s->bdat_chunk);
		return;
	}
	if (s->crlf.prev_cr)
		s->crlf.bare = true;	/* ends in a lone CR */
	smtp_message_end(s, s->crlf.bare);
}

void
cmd_bdat(struct smtp_session *s, char *args)
{
	uint64_t n = 0;
	char *p = args;
	bool last = false;

	if (*p < '0' || *p > '9') {
		smtp_error(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		return;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10) {
			smtp_error(s, "501 5.5.4 Syntax: BDAT size [LAST]");
			return;
		}
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (*p == ' ' && ascii_casecmp(p + 1, "LAST") == 0)
		last = true;
	else if (*p != '\0') {
		smtp_error(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		return;
	}
	s->bdat_left = s->bdat_chunk = n;
	s->bdat_last = last;
	s->bdat_reject = NULL;
	/* Out of sequence: the chunk's bytes are read and thrown away. */
	if (smtp_is_submission(s) && s->auth_user == NULL)
		s->bdat_reject = "530 5.7.0 Authentication required";
	else if (s->state == SMTP_ST_GREET || s->state == SMTP_ST_HELO)
		s->bdat_reject = "503 5.5.1 Need MAIL before BDAT";
	else if (s->state == SMTP_ST_MAIL)
		s->bdat_reject = "554 5.5.1 No valid recipients";
	if (s->bdat_reject == NULL && s->state == SMTP_ST_RCPT) {
		smtp_body_init(&s->body, s->srv->env->conf->limits.max_message_bytes);
		s->crlf.prev_cr = s->crlf.bare = false;
		s->state = SMTP_ST_CHUNK;
	}
	if (n == 0) {
		bdat_chunk_done(s);
		return;
	}
	s->input = SMTP_IN_BDAT;
}

size_t
smtp_data_input(struct smtp_session *s, const uint8_t *p, size_t n)
{
	bool done;
	size_t used;

	if (s->input == SMTP_IN_DATA) {
		used = smtp_dot_feed(&s->dot, p, n, &s->body, &done);
		if (done) {
			s->input = SMTP_IN_CMD;
			smtp_message_end(s, s->dot.bare);
		}
		return used;
	}
	used = n < s->bdat_left ? n : (size_t)s->bdat_left;
	if (s->bdat_reject == NULL) {
		smtp_crlf_feed(&s->crlf, p, used);
		smtp_body_add(&s->body, p, used);
	}
	s->bdat_left -= used;
	if (s->bdat_left == 0)
		bdat_chunk_done(s);
	return used;
}
