/*
 * conn_io: the protocol's side of a connection: complete lines or raw
 * bytes in (withheld while the client is not reading its output), replies
 * out (cut off past the output bound), timeouts and phase deadlines,
 * STARTTLS in either role, and the accessors. The connection's life (the
 * pump, handshake, reads, writes and close) is in conn.c.
 */
#include "core/conn.h"
#include "core/conn_private.h"
#include "core/log.h"
#include "core/tls.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*
 * A client that does not read its replies gets no more commands run: input
 * is withheld (whatever a protocol loop asks) until the output drains.
 */
static bool
conn_output_high(struct conn *c)
{
	if (c->out.len < c->out_high)
		return false;
	c->out_blocked = true;
	return true;
}

bool
conn_output_high_water(const struct conn *c)
{
	return c->out.len >= c->out_high;
}

void
conn_want_drain(struct conn *c)
{
	c->drain_wanted = true;
	if (!c->in_cb)
		conn_update(c);
}

enum conn_line_res
conn_line(struct conn *c, char **line_r, size_t *len_r, bool *crlf_r)
{
	ssize_t n;
	char *p;

	if (c->state != CS_OPEN || conn_output_high(c))
		return CONN_LINE_MORE;
	while (c->skipping) {
		if ((n = buf_find_lf(&c->in)) == -1) {
			c->consumed += c->in.len;
			conn_credit(c, c->in.len);
			buf_consume(&c->in, c->in.len);
			return CONN_LINE_MORE;
		}
		c->consumed += (size_t)n;
		conn_progress(c);
		buf_consume(&c->in, (size_t)n);
		c->skipping = false;
	}
	if ((n = buf_find_lf(&c->in)) == -1) {
		if (!buf_full(&c->in))
			return CONN_LINE_MORE;
		c->consumed += c->in.len;
		conn_credit(c, c->in.len);
		buf_consume(&c->in, c->in.len);
		c->skipping = true;
		return CONN_LINE_TOOLONG;
	}
	p = (char *)buf_head(&c->in);
	c->consumed += (size_t)n;
	conn_progress(c);
	buf_consume(&c->in, (size_t)n);
	/* The bytes stay in place until the next read into the buffer. */
	n--;			/* drop LF */
	*crlf_r = n > 0 && p[n - 1] == '\r';
	if (*crlf_r)
		n--;
	p[n] = '\0';
	*line_r = p;
	*len_r = (size_t)n;
	return CONN_LINE_OK;
}

size_t
conn_take(struct conn *c, const uint8_t **p_r, size_t max)
{
	size_t n = c->in.len < max ? c->in.len : max;

	/* n == 0 first: an empty buffer may have no storage to point at. */
	if (n == 0 || c->state != CS_OPEN || conn_output_high(c))
		return 0;
	*p_r = buf_head(&c->in);
	c->consumed += n;
	/* Protocols that split lines themselves (SMTP) or read a literal:
	 * a line end among the bytes is a complete line. */
	if (memchr(*p_r, '\n', n) != NULL)
		conn_progress(c);
	else
		conn_credit(c, n);
	buf_consume(&c->in, n);
	return n;
}

size_t
conn_buffered(const struct conn *c)
{
	return c->in.len;
}

/* Past out_max the client is not reading its replies: cut it off. */
static int
conn_overflow(struct conn *c)
{
	log_warn(c->svc, c->id, c->ip, "event=output-overflow max=%zu", c->out.max);
	conn_close(c, CONN_CLOSE_ABORT, "output buffer overflow");
	return -1;
}

int
conn_write(struct conn *c, const void *p, size_t n)
{
	if (c->state > CS_CLOSING)
		return -1;
	if (buf_append(&c->out, p, n) == -1)
		return conn_overflow(c);
	conn_kick(c);
	return 0;
}

static int
conn_vprintf(struct conn *c, const char *crlf, const char *fmt, va_list ap)
{
	if (c->state > CS_CLOSING)
		return -1;
	if (buf_vappendf(&c->out, fmt, ap) == -1 ||
	    buf_append(&c->out, crlf, strlen(crlf)) == -1)
		return conn_overflow(c);
	conn_kick(c);
	return 0;
}

int
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = conn_vprintf(c, "", fmt, ap);
	va_end(ap);
	return r;
}

int
conn_reply(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = conn_vprintf(c, "\r\n", fmt, ap);
	va_end(ap);
	return r;
}

size_t
conn_output_pending(const struct conn *c)
{
	return c->out.len;
}

void
conn_pause(struct conn *c, bool paused)
{
	c->paused = paused;
	if (!paused)
		conn_kick(c);
}

void
conn_set_timeout(struct conn *c, unsigned secs)
{
	c->timeout_secs = secs;
	if (c->state >= CS_CLOSING)
		return;
	conn_progress(c);
	conn_arm(c);
}

void
conn_set_deadline(struct conn *c, unsigned secs)
{
	c->limit_at = secs > 0 ? ev_now(c->loop) + secs : 0;
	if (c->state < CS_CLOSING)
		conn_arm(c);
}

static void
conn_starttls_ssl(struct conn *c, struct ssl_st *ssl)
{
	/* Anything the peer pipelined after the command (or, for a client,
	 * after the server's 220) is discarded. */
	c->consumed += c->in.len;
	buf_consume(&c->in, c->in.len);
	c->skipping = false;
	c->ssl = ssl;
	c->state = CS_STARTTLS_FLUSH;
	conn_kick(c);
}

int
conn_starttls(struct conn *c, struct tls_ctx *tls)
{
	if (c->ssl != NULL || c->state != CS_OPEN)
		return -1;
	conn_starttls_ssl(c, tls_accept_new(tls, c->fd));
	return 0;
}

int
conn_starttls_client(struct conn *c, struct tls_ctx *tls, const char *host)
{
	if (c->ssl != NULL || c->state != CS_OPEN)
		return -1;
	/* With nothing left to flush, the pump goes straight to the
	 * handshake, which writes our ClientHello. */
	conn_starttls_ssl(c, tls_connect_new(tls, c->fd, host));
	return 0;
}

bool
conn_is_tls(const struct conn *c)
{
	return c->ssl != NULL && c->state != CS_STARTTLS_FLUSH;
}

bool
conn_tls_verified(const struct conn *c)
{
	return conn_is_tls(c) && c->state != CS_HANDSHAKE &&
	    tls_peer_verified(c->ssl);
}

const char *
conn_tls_version(const struct conn *c)
{
	return conn_is_tls(c) ? tls_version(c->ssl) : NULL;
}

const char *
conn_tls_cipher(const struct conn *c)
{
	return conn_is_tls(c) ? tls_cipher(c->ssl) : NULL;
}

uint32_t
conn_id(const struct conn *c)
{
	return c->id;
}

const char *
conn_ip(const struct conn *c)
{
	return c->ip;
}

const char *
conn_svc(const struct conn *c)
{
	return c->svc;
}

const struct sockaddr *
conn_peer(const struct conn *c)
{
	return (const struct sockaddr *)&c->peer;
}
