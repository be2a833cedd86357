/*
 * conn: one client connection on the loop.
 *
 * Every event runs conn_pump(): handshake if one is under way, read what
 * the socket has (bounded), hand buffered input to the protocol, write what
 * is queued, then recompute the watcher's interest from the buffers' state
 * (sniproxy's reactivate_watcher). Work that happens outside an I/O
 * callback (a worker finished, output queued from a timer) feeds the
 * watcher an EV_CUSTOM event, so all socket work funnels through the pump.
 *
 * Timeouts are deadlines for progress, not idle timers reset by every byte
 * (which a client trickling a byte at a time, slowloris, would keep alive
 * for ever): a complete line restarts the deadline; other bytes, raw input
 * taken (literals, message data) or output the client accepted, only earn
 * time at MIN_RATE, never past one full timeout from now (Postfix's
 * per-record deadline and smtpd_min_data_rate). A second, absolute
 * deadline (conn_set_deadline) bounds a whole phase, such as the login.
 * The timer is re-armed lazily: progress only moves a timestamp, and the
 * timer, when it fires early, sleeps again for what is left.
 */
#include "core/conn.h"
#include "core/conn_private.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/net.h"
#include "core/tls.h"
#include "core/util.h"

#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK	16384
#define READ_BUDGET	(256 * 1024)	/* per callback, for fairness */
#define CLOSE_SECS	5.0		/* flush + linger bound */
#define LINGER_SECS	2.0
#define MIN_RATE	1024.0		/* bytes/s that earn time without a line */

static void conn_pump(struct conn *, int revents);

static uint32_t
next_id(void)
{
	static uint32_t id;

	if (id == 0)
		id = (uint32_t)time(NULL) * 2654435761u | 1;
	return ++id;
}

static void
conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	conn_pump(w->data, revents);
}

/* The nearest deadline in loop time; 0: none. */
static ev_tstamp
conn_deadline(const struct conn *c)
{
	ev_tstamp d = 0;

	if (c->timeout_secs > 0)
		d = c->active + c->timeout_secs;
	if (c->limit_at > 0 && (d == 0 || c->limit_at < d))
		d = c->limit_at;
	return d;
}

/* (Re)start the timer for the nearest deadline. */
void
conn_arm(struct conn *c)
{
	ev_tstamp d = conn_deadline(c), left;

	if (d == 0) {
		ev_timer_stop(c->loop, &c->timer);
		return;
	}
	left = d - ev_now(c->loop);
	c->timer.repeat = left > 0.001 ? left : 0.001;
	ev_timer_again(c->loop, &c->timer);
}

/* A complete line arrived: a full timeout again. */
void
conn_progress(struct conn *c)
{
	c->active = ev_now(c->loop);
}

/* n bytes moved without completing a line: time at MIN_RATE, capped. */
void
conn_credit(struct conn *c, size_t n)
{
	ev_tstamp now = ev_now(c->loop);

	c->active += (ev_tstamp)n / MIN_RATE;
	if (c->active > now)
		c->active = now;
}

static void conn_final_close(struct conn *, bool abortive);

/* Bytes the kernel holds for the peer: not sent yet, or not acknowledged. */
static int
conn_unsent(const struct conn *c)
{
	int n = 0;

	if (ioctl(c->fd, TIOCOUTQ, &n) == -1)
		return 0;
	return n;
}

static void
conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;
	ev_tstamp d;

	(void)revents;
	if (c->state < CS_CLOSING) {
		/* Progress since the timer was set moved the deadline. */
		d = conn_deadline(c);
		if (d == 0 || d - ev_now(loop) > 0.01) {
			conn_arm(c);
			return;
		}
	}
	conn_ref(c);
	switch (c->state) {
	case CS_OPEN:
		log_info(c->svc, c->id, c->ip, "event=timeout");
		if (c->proto != NULL && c->proto->on_timeout != NULL)
			c->proto->on_timeout(c, c->ctx);
		else
			conn_close(c, CONN_CLOSE_ABORT, "timeout");
		break;
	case CS_HANDSHAKE:
		conn_close(c, CONN_CLOSE_ABORT, "tls handshake timeout");
		break;
	case CS_LINGER:
		/* Everything we sent was taken: a plain close loses nothing. */
		conn_final_close(c, conn_unsent(c) != 0);
		break;
	default:
		conn_close(c, CONN_CLOSE_ABORT, "close timeout");
		break;
	}
	if (c->state != CS_CLOSED)
		conn_pump(c, EV_CUSTOM);
	conn_unref(&c);
}

/* Run the pump soon, from the loop, unless we are inside it already. */
void
conn_kick(struct conn *c)
{
	if (!c->in_cb && c->state != CS_CLOSED)
		ev_feed_event(c->loop, &c->io, EV_CUSTOM);
}

struct conn *
conn_new(struct ev_loop *loop, int fd, const struct sockaddr *peer,
    const char *svc, const struct conn_opts *o)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->fd = fd;
	c->refs = 1;	/* the socket's own reference */
	c->id = next_id();
	c->svc = svc;
	memcpy(&c->peer, peer, peer->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	net_ip_str(peer, c->ip);
	buf_init(&c->in, o->line_max);
	buf_init(&c->out, o->out_max);
	/* Back-pressure starts where one more step of CONN_WRITE_STEP still
	 * fits under the cap, so a client that reads slowly is held back,
	 * never cut off; only output written past the mark can overflow. */
	if (o->out_max >= 2 * CONN_WRITE_STEP)
		c->out_high = CONN_WRITE_STEP;
	else if (o->out_max > CONN_WRITE_STEP)
		c->out_high = o->out_max - CONN_WRITE_STEP;
	else
		c->out_high = 1;	/* one step at a time, from empty */
	ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
	c->io.data = c;
	ev_init(&c->timer, conn_timer_cb);
	c->timer.data = c;
	c->timeout_secs = o->timeout_secs;
	c->active = ev_now(loop);
	if (o->tls != NULL && o->tls_client) {
		c->ssl = tls_connect_new(o->tls, fd, o->tls_host);
		c->state = CS_HANDSHAKE;
	} else if (o->tls != NULL) {
		c->ssl = tls_accept_new(o->tls, fd);
		c->state = CS_HANDSHAKE;
	} else {
		c->state = CS_OPEN;
	}
	ev_io_start(loop, &c->io);
	if (c->state == CS_HANDSHAKE && o->tls_client)
		ev_feed_event(loop, &c->io, EV_CUSTOM);	/* we speak first */
	conn_arm(c);
	return c;
}

void
conn_set_proto(struct conn *c, const struct conn_proto *p, void *ctx)
{
	c->proto = p;
	c->ctx = ctx;
}

void
conn_set_close_hook(struct conn *c, void (*fn)(struct conn *, void *), void *arg)
{
	c->close_hook = fn;
	c->close_arg = arg;
}

void
conn_ref(struct conn *c)
{
	c->refs++;
}

void
conn_unref(struct conn **cp)
{
	struct conn *c = *cp;

	*cp = NULL;
	if (c == NULL || --c->refs > 0)
		return;
	/* Only a closed conn can lose its socket's reference. */
	if (c->proto != NULL && c->proto->on_free != NULL)
		c->proto->on_free(c->ctx);
	free(c);
}

/* Close the socket now; the socket's reference goes with it. */
static void
conn_final_close(struct conn *c, bool abortive)
{
	if (c->state == CS_CLOSED)
		return;
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->timer);
	ev_clear_pending(c->loop, &c->io);
	ev_clear_pending(c->loop, &c->timer);
	if (abortive) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	if (c->ssl != NULL)
		tls_free(&c->ssl);
	close(c->fd);
	c->fd = -1;
	c->state = CS_CLOSED;
	buf_release(&c->in);
	buf_release(&c->out);
	if (c->close_hook != NULL)
		c->close_hook(c, c->close_arg);
	conn_unref(&c);
}

static void
conn_hangup(struct conn *c, const char *why)
{
	log_debug(c->svc, c->id, c->ip, "event=hangup reason=%s", log_q(why));
	if (c->proto != NULL && c->proto->on_hangup != NULL)
		c->proto->on_hangup(c, c->ctx);
	if (c->state != CS_OPEN)
		return;
	/* A half-closed client may still read the replies it asked for. */
	if (c->out.len > 0)
		conn_close(c, CONN_CLOSE_FLUSH, why);
	else
		conn_final_close(c, false);
}

void
conn_close(struct conn *c, enum conn_close_how how, const char *reason)
{
	/* An abort overrides a close already under way (a stuck client at exit). */
	if (c->state == CS_CLOSED || (c->state >= CS_CLOSING && how != CONN_CLOSE_ABORT))
		return;
	log_debug(c->svc, c->id, c->ip, "event=close reason=%s", log_q(reason));
	if (how == CONN_CLOSE_ABORT) {
		conn_final_close(c, true);
		return;
	}
	c->state = CS_CLOSING;
	buf_consume(&c->in, c->in.len);
	c->timer.repeat = CLOSE_SECS;
	ev_timer_again(c->loop, &c->timer);
	conn_kick(c);
}

void
conn_shutdown(struct conn *c)
{
	if (c->state >= CS_CLOSING)
		return;
	if (c->state == CS_OPEN && c->proto != NULL && c->proto->on_shutdown != NULL)
		c->proto->on_shutdown(c, c->ctx);
	else
		conn_close(c, CONN_CLOSE_FLUSH, "shutdown");
}

bool
conn_is_closing(const struct conn *c)
{
	return c->state >= CS_CLOSING;
}

/*
 * Write side done: send close_notify, shut down writing, and drain the
 * client's input until it closes, so unread input does not make the kernel
 * reset the connection before the client has read our last reply. Output
 * the client has not taken yet is waited for the same way: closed, the
 * socket would be orphaned in the kernel with it, for minutes if the
 * client never reads; when the linger time is up it is reset instead.
 */
static void
conn_linger(struct conn *c)
{
	int unread = 0;

	if (c->ssl != NULL)
		tls_shutdown(c->ssl);
	/* Nothing either way: closing now sends a plain FIN, no reset. */
	if (ioctl(c->fd, FIONREAD, &unread) == 0 && unread == 0 &&
	    conn_unsent(c) == 0) {
		conn_final_close(c, false);
		return;
	}
	if (shutdown(c->fd, SHUT_WR) == -1) {
		conn_final_close(c, false);
		return;
	}
	c->state = CS_LINGER;
	c->timer.repeat = LINGER_SECS;
	ev_timer_again(c->loop, &c->timer);
}

static void
conn_drain_linger(struct conn *c)
{
	char scratch[4096];

	for (int i = 0; i < 16; i++) {
		ssize_t n = read(c->fd, scratch, sizeof(scratch));

		if (n > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		break;	/* EOF or error */
	}
	conn_final_close(c, false);
}

static void
conn_handshake(struct conn *c)
{
	c->tls_want_read = c->tls_want_write = false;
	switch (tls_handshake(c->ssl)) {
	case TLS_OK:
		c->state = CS_OPEN;
		log_debug(c->svc, c->id, c->ip, "event=tls version=%s cipher=%s",
		    tls_version(c->ssl), tls_cipher(c->ssl));
		if (c->proto != NULL && c->proto->on_tls_ready != NULL)
			c->proto->on_tls_ready(c, c->ctx);
		break;
	case TLS_WANT_READ:
		c->tls_want_read = true;
		break;
	case TLS_WANT_WRITE:
		c->tls_want_write = true;
		break;
	case TLS_EOF:
		conn_final_close(c, true);
		break;
	case TLS_ERR:
		log_info(c->svc, c->id, c->ip, "event=tls-error err=%s",
		    log_q(tls_last_error()));
		conn_final_close(c, true);
		break;
	}
}

/* Read what the socket has, within the budget and the buffer's room. */
static void
conn_fill(struct conn *c)
{
	size_t total = 0;

	c->read_more = false;
	c->tls_want_write = false;
	while (total < READ_BUDGET) {
		size_t room = buf_prepare(&c->in, READ_CHUNK);
		size_t got = 0;

		if (room == 0) {
			c->read_more = c->ssl != NULL && tls_has_pending(c->ssl);
			return;
		}
		if (c->ssl != NULL) {
			switch (tls_read(c->ssl, buf_tail(&c->in), room, &got)) {
			case TLS_OK:
				break;
			case TLS_WANT_READ:
				return;
			case TLS_WANT_WRITE:
				c->tls_want_write = true;
				return;
			case TLS_EOF:
				c->eof = true;
				return;
			case TLS_ERR:
				log_info(c->svc, c->id, c->ip, "event=tls-error err=%s",
				    log_q(tls_last_error()));
				c->eof = true;
				return;
			}
		} else {
			ssize_t n = read(c->fd, buf_tail(&c->in), room);

			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				c->eof = true;
				return;
			}
			got = (size_t)n;
		}
		buf_commit(&c->in, got);
		total += got;
	}
	c->read_more = true;
}

/* Write what is queued. */
static void
conn_flush(struct conn *c)
{
	c->tls_want_read = false;
	while (c->out.len > 0) {
		size_t put = 0;

		if (c->ssl != NULL && c->state != CS_STARTTLS_FLUSH) {
			switch (tls_write(c->ssl, buf_head(&c->out), c->out.len, &put)) {
			case TLS_OK:
				break;
			case TLS_WANT_WRITE:
				return;
			case TLS_WANT_READ:
				c->tls_want_read = true;
				return;
			default:
				conn_final_close(c, true);
				return;
			}
		} else {
			ssize_t n = send(c->fd, buf_head(&c->out), c->out.len, MSG_NOSIGNAL);

			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n == -1) {
				conn_final_close(c, true);
				return;
			}
			put = (size_t)n;
		}
		buf_consume(&c->out, put);
		conn_credit(c, put);
	}
	buf_release(&c->out);
}

/* Hand buffered input to the protocol while it makes progress. */
static void
conn_dispatch(struct conn *c)
{
	while (c->state == CS_OPEN && !c->paused && c->in.len > 0 &&
	    c->proto != NULL) {
		uint64_t before = c->consumed;

		if (c->out.len >= c->out_high) {
			c->out_blocked = true;	/* resumed by conn_update */
			break;
		}

		c->proto->on_data(c, c->ctx);
		if (c->consumed == before)
			break;	/* it wants more than is buffered */
	}
}

void
conn_update(struct conn *c)
{
	int ev = 0;

	switch (c->state) {
	case CS_HANDSHAKE:
		ev = c->tls_want_write ? EV_WRITE : EV_READ;
		break;
	case CS_OPEN:
		if (!buf_full(&c->in) && c->out.len < c->out_high && !c->eof)
			ev |= EV_READ;
		if (c->out.len > 0 || c->tls_want_write)
			ev |= EV_WRITE;
		if (c->tls_want_read)
			ev |= EV_READ;
		break;
	case CS_STARTTLS_FLUSH:
	case CS_CLOSING:
		ev = c->tls_want_read ? EV_READ : EV_WRITE;
		break;
	case CS_LINGER:
		ev = EV_READ;
		break;
	case CS_CLOSED:
		return;
	}
	if (c->drain_wanted && c->out.len < c->out_high)
		ev |= EV_WRITE;	/* the pump runs on_drain */
	if (ev != (c->io.events & (EV_READ | EV_WRITE))) {
		ev_io_stop(c->loop, &c->io);
		ev_io_set(&c->io, c->fd, ev);
		ev_io_start(c->loop, &c->io);
	}
	if (c->read_more && (ev & EV_READ))
		ev_feed_event(c->loop, &c->io, EV_READ);
	/* Output drained below the mark: run the commands still buffered. */
	if (c->out_blocked && c->out.len < c->out_high && c->state == CS_OPEN) {
		c->out_blocked = false;
		if (c->in.len > 0)
			ev_feed_event(c->loop, &c->io, EV_CUSTOM);
	}
}

static void
conn_pump(struct conn *c, int revents)
{
	conn_ref(c);
	c->in_cb = true;
	if (c->state == CS_HANDSHAKE)
		conn_handshake(c);
	if (c->state == CS_LINGER)
		conn_drain_linger(c);
	if (c->state == CS_OPEN && (revents & (EV_READ | EV_WRITE)) &&
	    !buf_full(&c->in) && !c->eof)
		conn_fill(c);
	for (;;) {
		bool drained = false;

		conn_dispatch(c);
		if (c->state == CS_OPEN || c->state == CS_STARTTLS_FLUSH ||
		    c->state == CS_CLOSING)
			conn_flush(c);
		/* A long command continues while the client keeps reading,
		 * one step per loop iteration so other connections get
		 * their turn in between. */
		if (c->state == CS_OPEN && c->drain_wanted &&
		    c->out.len < c->out_high && c->proto != NULL &&
		    c->proto->on_drain != NULL) {
			c->drain_wanted = false;
			drained = true;
			c->proto->on_drain(c, c->ctx);
			if (c->state == CS_OPEN)
				conn_flush(c);
		}
		/* It ended and unpaused: run what was pipelined behind it. */
		if (!drained || c->paused || c->in.len == 0 ||
		    c->state != CS_OPEN)
			break;
	}
	if (c->state == CS_STARTTLS_FLUSH && c->out.len == 0) {
		/* The "go ahead" is out; whatever arrives now is TLS. */
		c->state = CS_HANDSHAKE;
		conn_handshake(c);
	}
	if (c->state == CS_OPEN && c->eof)
		conn_hangup(c, "peer closed");
	if (c->state == CS_CLOSING && c->out.len == 0)
		conn_linger(c);
	if (c->state != CS_CLOSED) {
		if (c->in.len == 0)
			buf_release(&c->in);	/* idle connections hold no buffer */
		conn_update(c);
	}
	c->in_cb = false;
	conn_unref(&c);
}
