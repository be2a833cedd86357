/* certgen: a self-signed certificate for a fresh install. See certgen.h. */
#include "config/certgen.h"
#include "core/fsio.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define CERTGEN_DAYS	825
#define CERTGEN_BACKDATE_SECS	3600	/* tolerate clients whose clock is behind */
#define CN_MAX		64		/* ub-common-name, RFC 5280 appendix A */

/* Format "what: <OpenSSL's reason>" into err and clear the error queue. */
static int
ossl_fail(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char reason[256];

	if (e != 0) {
		ERR_error_string_n(e, reason, sizeof(reason));
		snprintf(err, errlen, "%s: %s", what, reason);
	} else
		snprintf(err, errlen, "%s failed", what);
	ERR_clear_error();
	return -1;
}

/*
 * Only what a DNS name may hold: the name goes into the SAN through
 * OpenSSL's "DNS:..." text syntax, where a ',' or ':' would add entries.
 */
static bool
valid_hostname(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
		if (c == '.' && h[i + 1] == '.')
			return false;
	}
	return true;
}

static int
add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ex;
	int ok;

	if ((ex = X509V3_EXT_nconf_nid(NULL, ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return ok ? 0 : -1;
}

static int
set_random_serial(X509 *cert)
{
	unsigned char rnd[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	rnd[0] &= 0x7f;	/* DER stays 16 bytes; serials must be positive */
	if ((bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) == NULL)
		return -1;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

/* Build and sign the certificate for pkey. NULL with err set. */
static X509 *
make_cert(const char *hostname, EVP_PKEY *pkey, char *err, size_t errlen)
{
	X509V3_CTX ctx;
	X509 *cert;
	X509_NAME *name;
	char san[300];
	const char *cn = hostname;

	if ((cert = X509_new()) == NULL) {
		ossl_fail(err, errlen, "X509_new");
		return NULL;
	}
	if (X509_set_version(cert, X509_VERSION_3) != 1 ||
	    set_random_serial(cert) == -1) {
		ossl_fail(err, errlen, "setting version and serial");
		goto fail;
	}
	if (X509_gmtime_adj(X509_getm_notBefore(cert), -CERTGEN_BACKDATE_SECS) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), CERTGEN_DAYS,
	    -CERTGEN_BACKDATE_SECS, NULL) == NULL) {
		ossl_fail(err, errlen, "setting the validity");
		goto fail;
	}
	/* A name too long for CN lives in the SAN only, which is what counts. */
	if (strlen(cn) > CN_MAX)
		cn = "rmail self-signed";
	name = X509_get_subject_name(cert);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(cert, name) != 1 ||
	    X509_set_pubkey(cert, pkey) != 1) {
		ossl_fail(err, errlen, "setting the subject");
		goto fail;
	}

	if (strcmp(hostname, "localhost") == 0)
		snprintf(san, sizeof(san), "DNS:%s,IP:127.0.0.1,IP:::1", hostname);
	else
		snprintf(san, sizeof(san), "DNS:%s", hostname);
	/* Self-signed: the certificate is its own issuer (for the AKID). */
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	if (add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == -1 ||
	    add_ext(cert, &ctx, NID_key_usage,
	    "critical,digitalSignature,keyCertSign") == -1 ||
	    add_ext(cert, &ctx, NID_ext_key_usage, "serverAuth") == -1 ||
	    add_ext(cert, &ctx, NID_subject_key_identifier, "hash") == -1 ||
	    add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always") == -1 ||
	    add_ext(cert, &ctx, NID_subject_alt_name, san) == -1) {
		ossl_fail(err, errlen, "adding the certificate extensions");
		goto fail;
	}
	if (X509_sign(cert, pkey, EVP_sha256()) == 0) {
		ossl_fail(err, errlen, "signing the certificate");
		goto fail;
	}
	return cert;
fail:
	X509_free(cert);
	return NULL;
}

/* Write what bio holds to path atomically with mode. */
static int
write_bio(BIO *bio, const char *path, mode_t mode, char *err, size_t errlen)
{
	char *data;
	long n;

	if ((n = BIO_get_mem_data(bio, &data)) <= 0) {
		snprintf(err, errlen, "%s: no PEM data to write", path);
		return -1;
	}
	if (fsio_write_atomic(path, data, (size_t)n, mode) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
certgen_self_signed(const char *hostname, const char *cert_path,
    const char *key_path, char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	BIO *kbio = NULL, *cbio = NULL;
	int rv = -1;

	if (!valid_hostname(hostname)) {
		snprintf(err, errlen, "cannot make a certificate for '%s': "
		    "not a valid host name", hostname);
		return -1;
	}
	ERR_clear_error();
	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL) {
		ossl_fail(err, errlen, "generating an EC P-256 key");
		goto out;
	}
	if ((cert = make_cert(hostname, pkey, err, errlen)) == NULL)
		goto out;

	/* Secure heap for the key's PEM: it is wiped when freed. */
	if ((kbio = BIO_new(BIO_s_secmem())) == NULL ||
	    (cbio = BIO_new(BIO_s_mem())) == NULL) {
		ossl_fail(err, errlen, "BIO_new");
		goto out;
	}
	if (PEM_write_bio_PrivateKey(kbio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509(cbio, cert) != 1) {
		ossl_fail(err, errlen, "encoding PEM");
		goto out;
	}
	if (write_bio(kbio, key_path, 0600, err, errlen) == -1 ||
	    write_bio(cbio, cert_path, 0644, err, errlen) == -1)
		goto out;
	rv = 0;
out:
	BIO_free(cbio);
	BIO_free(kbio);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	return rv;
}
