/* search internals shared by imap/search*.c; not for use outside imap/. */
#ifndef RMAIL_IMAP_SEARCH_PRIVATE_H
#define RMAIL_IMAP_SEARCH_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/search.h"

/* A growable byte string. */
struct sbuf {
	char	*s;
	size_t	 len, cap;
};

struct sfield;

/* What one message's evaluation has loaded and decoded so far. */
struct search_eval {
	const struct imap_search_msg *msg;
	int			 loaded;	/* 0 not yet, 1 yes, -1 failed */
	const char		*data;
	size_t			 len;
	const struct mime_part	*root;
	bool			 have_hdr, have_body, have_sent;
	struct sbuf		 hdr;
	struct sfield		*fields;
	size_t			 nfields, fcap;
	struct sbuf		 body;		/* text parts, NUL-separated */
	int			 sent;		/* 1 sent_day valid, else 0 */
	int64_t			 sent_day;
};

/* Fold s[0..n-1] to lower case in place (see search_text.c). */
void	 imap_search_fold_utf8(char *s, size_t n);
/* Free what ev has loaded and decoded. */
void	 imap_search_ev_done(struct search_eval *ev);

/*
 * The data keys, on folded needles: 1 match, 0 not, -1 the message data
 * could not be loaded.
 */
/* HEADER, FROM, SUBJECT...: some field called field contains needle. */
int	 imap_search_ev_header(struct search_eval *ev, const char *field,
	    const char *needle, size_t nlen);
/* TEXT's header half: any field, its name included. */
int	 imap_search_ev_headers_all(struct search_eval *ev, const char *needle,
	    size_t nlen);
/* BODY, and TEXT's body half. */
int	 imap_search_ev_body(struct search_eval *ev, const char *needle,
	    size_t nlen);
/* The day of the Date: field: 1 and *day_r, 0 when there is no usable
 * one, -1 when the data cannot be loaded. */
int	 imap_search_ev_sent_day(struct search_eval *ev, int64_t *day_r);

#endif
