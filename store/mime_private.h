/* mime internals shared by store/mime*.c; not for use outside store/. */
#ifndef RMAIL_MIME_PRIVATE_H
#define RMAIL_MIME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "store/mime.h"

/* A growing string; s is NULL until the first append. */
struct mime_sb {
	char	*s;
	size_t	 len, cap;
};

void	 mime_sb_add(struct mime_sb *, const void *, size_t);
void	 mime_sb_addc(struct mime_sb *, char);
/* NUL-terminate and hand over the string (never NULL); sb is reset. */
char	*mime_sb_finish(struct mime_sb *, size_t *len_r);
void	 mime_sb_free(struct mime_sb *);

/* Quoted-printable; header (RFC 2047 "Q") also maps '_' to space. */
size_t	 mime_qp_decode(const char *in, size_t n, char *out, bool header);

/* Skip blanks and (nested) comments (RFC 5322 3.2.2). */
const char *mime_skip_cfws(const char *);
/* A RFC 2045 token at *sp (after CFWS), malloc'd and lower-cased, *sp
 * advanced; NULL when there is none. */
char	*mime_token(const char **sp);
/* Parameters "; name=value ..." starting at s (RFC 2045 5.1, RFC 2231). */
void	 mime_parse_params(const char *s, struct mime_param **params_r,
	    size_t *n_r);
void	 mime_params_free(struct mime_param *, size_t);

#endif
