/*
 * certgen: a self-signed certificate for a fresh install (rmail init).
 *
 * The certificate is its own trust anchor: a client that loads it as its
 * CA file (Python's ssl.create_default_context(cafile=...), curl --cacert,
 * Thunderbird's exception) verifies the server with hostname checking on.
 * That is why it says CA:TRUE: OpenSSL refuses a trust anchor that is not
 * a CA under X509_V_FLAG_X509_STRICT, which newer Pythons turn on.
 *
 *   key:      EC P-256
 *   serial:   random, 127 bits
 *   subject:  CN=hostname (issuer the same)
 *   SAN:      DNS:hostname, plus IP:127.0.0.1 and IP:::1 for "localhost"
 *   ext:      basicConstraints critical CA:TRUE, pathlen:0;
 *             keyUsage critical digitalSignature, keyCertSign;
 *             extendedKeyUsage serverAuth; subject/authority key ids
 *   validity: now - 1 hour, for 825 days; signed with SHA-256
 */
#ifndef RMAIL_CERTGEN_H
#define RMAIL_CERTGEN_H

#include <stddef.h>

/*
 * Generate a key and certificate for hostname (letters, digits, '-', '.';
 * at most 253 bytes) and write them as PEM: the key to key_path (mode 0600)
 * and the certificate to cert_path (mode 0644), each atomically; the key is
 * written first. 0, or -1 with a message in err naming what failed and the
 * file involved.
 */
int	certgen_self_signed(const char *hostname, const char *cert_path,
	    const char *key_path, char *err, size_t errlen);

#endif
