/* util: allocation that aborts on failure, and small string helpers. */
#ifndef RMAIL_UTIL_H
#define RMAIL_UTIL_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
/* Exactly n bytes of s (which need not be NUL-terminated, and must hold
 * n bytes: unlike strndup(3) it does not stop at a NUL) plus a NUL. */
char	*xstrndup(const char *, size_t);
/* printf into a fresh allocation. */
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Format a message into err (when err is not NULL and errlen > 0),
 * truncating; errno is left as it was, so callers report then return. */
void	 err_printf(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* Free *p and set it to NULL. */
#define FREE_NULL(p) do { free(p); (p) = NULL; } while (0)
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ASCII case-insensitive compare, independent of locale. */
int	 ascii_casecmp(const char *, const char *);
int	 ascii_ncasecmp(const char *, const char *, size_t);
void	 ascii_lower(char *);
/* Copy src into dst (size bytes, NUL-terminated when size > 0), truncating;
 * returns strlen(src) (BSD strlcpy, which glibc 2.36 lacks). */
size_t	 str_lcpy(char *dst, const char *src, size_t size);

#endif
