/* tls: OpenSSL contexts (server and client) and per-connection TLS I/O. */
#include "core/tls.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* Mozilla's "intermediate" TLS 1.2 suites (forward secret AEAD only);
 * TLS 1.3 keeps OpenSSL's defaults. */
#define TLS12_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct tls_ctx {
	SSL_CTX	*ctx;
};

const char *
tls_last_error(void)
{
	static char msg[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return errno != 0 ? strerror(errno) : "unknown error";
	ERR_error_string_n(e, msg, sizeof(msg));
	ERR_clear_error();
	return msg;
}

struct tls_ctx *
tls_ctx_new(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
	struct tls_ctx *t;
	SSL_CTX *ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s", tls_last_error());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Many mail clients drop TCP without close_notify; that is a hangup,
	 * not an error (and our protocols frame their own data). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	/*
	 * RELEASE_BUFFERS frees the 16 KB+ record buffers of an idle
	 * connection; partial and moving writes fit our growable output buffer.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Stateless tickets resume sessions; a server-side cache would cost
	 * memory per client for little gain. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 1);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		snprintf(err, errlen, "cipher list: %s", tls_last_error());
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		snprintf(err, errlen, "tls.cert %s: %s", cert_file, tls_last_error());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "tls.key %s: %s", key_file, tls_last_error());
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "tls.key %s does not match tls.cert %s",
		    key_file, cert_file);
		goto fail;
	}
	t = xcalloc(1, sizeof(*t));
	t->ctx = ctx;
	return t;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

struct tls_ctx *
tls_client_ctx_new(bool verify, const char *ca_file, char *err, size_t errlen)
{
	struct tls_ctx *t;
	SSL_CTX *ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s", tls_last_error());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/*
	 * The cipher list stays OpenSSL's default: an MX whose suites are
	 * older than ours would otherwise get the message in plaintext,
	 * which is worse than any suite TLS 1.2 still allows.
	 */
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			snprintf(err, errlen, "CA file %s: %s", ca_file,
			    tls_last_error());
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "system CA store: %s", tls_last_error());
		goto fail;
	}
	/* Without VERIFY_PEER the chain and name are still checked and the
	 * outcome kept in SSL_get_verify_result(), which is what
	 * opportunistic TLS reports. */
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	t = xcalloc(1, sizeof(*t));
	t->ctx = ctx;
	return t;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

void
tls_ctx_free(struct tls_ctx **tp)
{
	if (*tp == NULL)
		return;
	SSL_CTX_free((*tp)->ctx);	/* live SSLs keep their own reference */
	free(*tp);
	*tp = NULL;
}

SSL *
tls_accept_new(struct tls_ctx *t, int fd)
{
	SSL *ssl = SSL_new(t->ctx);

	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		fprintf(stderr, "rmail: SSL_new: %s\n", tls_last_error());
		abort();
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

SSL *
tls_connect_new(struct tls_ctx *t, int fd, const char *host)
{
	SSL *ssl = SSL_new(t->ctx);
	unsigned char addr[16];
	bool ip;

	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		fprintf(stderr, "rmail: SSL_new: %s\n", tls_last_error());
		abort();
	}
	SSL_set_connect_state(ssl);
	if (host != NULL && *host != '\0') {
		ip = inet_pton(AF_INET, host, addr) == 1 ||
		    inet_pton(AF_INET6, host, addr) == 1;
		/* RFC 6066 section 3: no IP literals in SNI. */
		if (ip) {
			(void)X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
		} else {
			(void)SSL_set_tlsext_host_name(ssl, host);
			(void)SSL_set1_host(ssl, host);
		}
		/* A name matches the whole certificate name or a wildcard of
		 * one label (RFC 6125 6.4.3), never a partial label. */
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	}
	ERR_clear_error();
	return ssl;
}

bool
tls_peer_verified(SSL *ssl)
{
	return SSL_get0_peer_certificate(ssl) != NULL &&
	    SSL_get_verify_result(ssl) == X509_V_OK;
}

void
tls_free(SSL **sp)
{
	SSL_free(*sp);
	*sp = NULL;
}

static enum tls_res
map_error(SSL *ssl, int r)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_EOF;
	case SSL_ERROR_SYSCALL:
		if (errno == EAGAIN || errno == EINTR)
			return TLS_WANT_READ;
		/* An unexpected EOF is an EOF to us; the peer went away. */
		if (ERR_peek_error() == 0 && errno == 0)
			return TLS_EOF;
		return TLS_ERR;
	default:
		return TLS_ERR;
	}
}

enum tls_res
tls_handshake(SSL *ssl)
{
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(ssl);
	return r == 1 ? TLS_OK : map_error(ssl, r);
}

enum tls_res
tls_read(SSL *ssl, void *buf, size_t n, size_t *got_r)
{
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_read_ex(ssl, buf, n, got_r);
	return r == 1 ? TLS_OK : map_error(ssl, r);
}

enum tls_res
tls_write(SSL *ssl, const void *buf, size_t n, size_t *put_r)
{
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_write_ex(ssl, buf, n, put_r);
	return r == 1 ? TLS_OK : map_error(ssl, r);
}

bool
tls_has_pending(SSL *ssl)
{
	return SSL_pending(ssl) > 0;
}

void
tls_shutdown(SSL *ssl)
{
	ERR_clear_error();
	if (SSL_is_init_finished(ssl))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

const char *
tls_version(SSL *ssl)
{
	return SSL_get_version(ssl);
}

const char *
tls_cipher(SSL *ssl)
{
	return SSL_get_cipher_name(ssl);
}
