/*
 * tls: OpenSSL contexts (the server's, and the outbound relay's client
 * contexts) and per-connection TLS I/O.
 * OpenSSL's TLS API is used only here; conn.c drives it through these verbs.
 *
 * A tls_ctx is reference counted by OpenSSL itself: every connection's SSL
 * holds the context it was made from, so a reload can swap in a new context
 * and free the old one while old connections keep using it.
 */
#ifndef RMAIL_TLS_H
#define RMAIL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tls_ctx;
struct ssl_st;	/* OpenSSL's SSL */

enum tls_res {
	TLS_OK,		/* done (handshake complete, or n bytes moved) */
	TLS_WANT_READ,	/* retry when the socket is readable */
	TLS_WANT_WRITE,	/* retry when the socket is writable */
	TLS_EOF,	/* peer closed (close_notify or TCP EOF) */
	TLS_ERR,	/* protocol or socket error; the reason is logged by caller */
};

/*
 * Server context: TLS 1.2+, modern ciphers, certificate chain and key from
 * PEM files, checked to match. NULL with a message in err on failure.
 */
struct tls_ctx	*tls_ctx_new(const char *cert_file, const char *key_file,
		    char *err, size_t errlen);
void		 tls_ctx_free(struct tls_ctx **);

/*
 * Client context (outbound SMTP): TLS 1.2+, trusting ca_file (PEM) or,
 * when it is NULL, the system's store. verify: a handshake whose
 * certificate chain or name does not verify fails (smarthost modes).
 * Otherwise (opportunistic STARTTLS, RFC 7435) any certificate is
 * accepted and tls_peer_verified() tells whether it would have passed.
 * NULL with a message in err on failure.
 */
struct tls_ctx	*tls_client_ctx_new(bool verify, const char *ca_file,
		    char *err, size_t errlen);

/* A server-side SSL for fd. Never NULL (allocation failure aborts). */
struct ssl_st	*tls_accept_new(struct tls_ctx *, int fd);
/*
 * A client-side SSL for fd, from a tls_client_ctx_new() context. host
 * (may be NULL) is sent as SNI unless it is an IP literal, and is the
 * name (or address) the certificate must match. Never NULL.
 */
struct ssl_st	*tls_connect_new(struct tls_ctx *, int fd, const char *host);
/* After the handshake: the peer sent a certificate whose chain and name
 * verified against the context's trust store. */
bool		 tls_peer_verified(struct ssl_st *);
void		 tls_free(struct ssl_st **);
enum tls_res	 tls_handshake(struct ssl_st *);
/* Read up to n bytes; *got_r set on TLS_OK. */
enum tls_res	 tls_read(struct ssl_st *, void *buf, size_t n, size_t *got_r);
enum tls_res	 tls_write(struct ssl_st *, const void *buf, size_t n, size_t *put_r);
/* Decrypted bytes OpenSSL holds that poll() cannot see. */
bool		 tls_has_pending(struct ssl_st *);
/* Send close_notify without waiting for the peer's. */
void		 tls_shutdown(struct ssl_st *);
/* "TLSv1.3", cipher name; valid while the SSL lives. */
const char	*tls_version(struct ssl_st *);
const char	*tls_cipher(struct ssl_st *);
/* The last OpenSSL error as text (clears the queue). */
const char	*tls_last_error(void);

#endif
