/* buf: a growable byte buffer with a hard cap. */
#include "core/buf.h"
#include "core/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP	512

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

/*
 * Ensure room for n more bytes at the tail, compacting first and then
 * doubling. -1/ENOBUFS when off+len+n cannot fit under max.
 */
static int
buf_reserve(struct buf *b, size_t n)
{
	size_t need, ncap;

	if (n > b->max || b->len > b->max - n) {
		errno = ENOBUFS;
		return -1;
	}
	need = b->len + n;
	if (b->off + need <= b->cap)
		return 0;
	if (need <= b->cap) {
		/* Enough room once the consumed prefix is gone. */
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		return 0;
	}
	ncap = b->cap ? b->cap : BUF_MIN_CAP;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? SIZE_MAX : ncap * 2;
	if (ncap > b->max)
		ncap = b->max;
	if (b->off > 0 && b->len > 0)
		memmove(b->data, b->data + b->off, b->len);
	b->off = 0;
	b->data = xrealloc(b->data, ncap);
	b->cap = ncap;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->data + b->off + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vappendf(b, fmt, ap);
	va_end(ap);
	return r;
}

/* Format into a small stack buffer; only long output formats twice,
 * straight into the buffer. Nothing is appended on failure. */
int
buf_vappendf(struct buf *b, const char *fmt, va_list ap)
{
	char small[512];
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0 || (size_t)n < sizeof(small)) {
		va_end(ap2);
		return n < 0 ? -1 : buf_append(b, small, (size_t)n);
	}
	if (buf_reserve(b, (size_t)n + 1) == -1) {	/* +1: vsnprintf's NUL */
		va_end(ap2);
		return -1;
	}
	vsnprintf((char *)b->data + b->off + b->len, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	b->len += (size_t)n;
	return 0;
}

size_t
buf_prepare(struct buf *b, size_t n)
{
	size_t room;

	if (b->len >= b->max)
		return 0;
	room = b->max - b->len;
	if (n > room)
		n = room;
	if (buf_reserve(b, n) == -1)
		return 0;
	return b->cap - b->off - b->len;
}

uint8_t *
buf_tail(struct buf *b)
{
	return b->data + b->off + b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
	b->len += n;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->off = b->len = 0;
		return;
	}
	b->off += n;
	b->len -= n;
}

ssize_t
buf_find_lf(const struct buf *b)
{
	const uint8_t *p;

	if (b->len == 0)
		return -1;
	p = memchr(b->data + b->off, '\n', b->len);
	return p == NULL ? -1 : (ssize_t)(p - (b->data + b->off)) + 1;
}

int
buf_full(const struct buf *b)
{
	return b->len >= b->max;
}
