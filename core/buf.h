/*
 * buf: a growable byte buffer with a hard cap.
 *
 * Unread bytes live in data[off .. off+len). Storage is allocated lazily and
 * may be released when empty (buf_release), so an idle connection holds no
 * buffer memory at all. Growing past `max` fails with ENOBUFS; allocation
 * failure aborts (see xmalloc in core/util.h).
 */
#ifndef RMAIL_BUF_H
#define RMAIL_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf {
	uint8_t	*data;
	size_t	 off;	/* first unread byte */
	size_t	 len;	/* unread bytes */
	size_t	 cap;	/* allocated bytes */
	size_t	 max;	/* hard cap on cap; 0 means no growth allowed */
};

void	 buf_init(struct buf *, size_t max);
/* Frees storage; the buffer stays usable (empty). */
void	 buf_release(struct buf *);
/* Append n bytes. 0, or -1 with errno ENOBUFS when it would pass max. */
int	 buf_append(struct buf *, const void *, size_t);
int	 buf_appendf(struct buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_vappendf(struct buf *, const char *fmt, va_list)
	    __attribute__((format(printf, 2, 0)));
/* Make room for up to n bytes at the tail; returns the writable count,
 * which is less than n only when max is reached (0 when full). */
size_t	 buf_prepare(struct buf *, size_t n);
uint8_t	*buf_tail(struct buf *);
void	 buf_commit(struct buf *, size_t n);
void	 buf_consume(struct buf *, size_t n);
static inline uint8_t *buf_head(const struct buf *b) { return b->data + b->off; }
/* Length of the first line including its LF, or -1 when no LF is buffered. */
ssize_t	 buf_find_lf(const struct buf *);
/* True when no more bytes can be added. */
int	 buf_full(const struct buf *);

#endif
