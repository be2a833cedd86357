/*
 * dkim: DKIM signing keys, DNS records and DKIM-Signature header fields
 * (RFC 6376; rsa-sha256, and ed25519-sha256 from RFC 8463).
 *
 * Keys live in DATA_DIR/dkim/ (mode 0700), one PEM file (PKCS#8, mode
 * 0600) per domain, selector and algorithm:
 *   DATA_DIR/dkim/DOMAIN.SELECTOR.rsa.key       RSA 2048
 *   DATA_DIR/dkim/DOMAIN.SELECTOR.ed25519.key   Ed25519
 * SELECTOR is the config's dkim.selector. One DNS name holds one key (a
 * verifier given two TXT records at one name may take either), so the
 * two algorithms publish under two selectors (dkim_key_selector):
 *   SELECTOR._domainkey.DOMAIN           "v=DKIM1; k=rsa; p=..."
 *   SELECTOR-ed25519._domainkey.DOMAIN   "v=DKIM1; k=ed25519; p=..."
 *
 * Signatures: v=1; a=; c=relaxed/relaxed; d=; s=; t=; h=; bh=; b=, no l=
 * and no x=. h= is dkim_header_list() (relay/dkim_canon.h: the usual
 * originator and content fields, From over-signed). a=rsa-sha256 is
 * RSASSA-PKCS1-v1_5 over SHA-256 of the signed data; a=ed25519-sha256 is
 * PureEdDSA Ed25519 over the 32-byte SHA-256 of the same data (RFC 8463
 * section 3: the hash is signed, not the data).
 */
#ifndef RMAIL_RELAY_DKIM_H
#define RMAIL_RELAY_DKIM_H

#include <stddef.h>
#include <time.h>

#define DKIM_RSA_BITS		2048
/* Smallest RSA key loaded: RFC 8301 3.2, verifiers refuse smaller ones. */
#define DKIM_RSA_MIN_BITS	1024
/* Column at which DKIM-Signature lines are folded (a tab counts 8). */
#define DKIM_FOLD_COLUMNS	76
/* Longest character-string in a TXT record (RFC 1035 3.3). */
#define DKIM_TXT_STRING_MAX	255

enum dkim_alg {
	DKIM_ALG_RSA,		/* rsa-sha256 */
	DKIM_ALG_ED25519,	/* ed25519-sha256 */
	DKIM_ALG_COUNT
};

struct dkim_key;

/* "rsa" or "ed25519": the k= value and the key file's suffix. */
const char	*dkim_alg_name(enum dkim_alg);

/*
 * DATA_DIR/dkim/DOMAIN.SELECTOR.ALG.key, a new allocation; NULL when
 * domain or selector holds anything but letters, digits, '-' and '.', or
 * starts with '.' (they name a file).
 */
char		*dkim_key_path(const char *data_dir, const char *domain,
		    const char *selector, enum dkim_alg);

/*
 * The selector a key of alg signs and publishes under: selector itself
 * for RSA, "SELECTOR-ed25519" for Ed25519. A new allocation; NULL when
 * the result's last label would pass 63 bytes or the name 253.
 */
char		*dkim_key_selector(const char *selector, enum dkim_alg);

/*
 * Load a PEM private key (RSA of at least DKIM_RSA_MIN_BITS, or Ed25519).
 * A new key to release with dkim_key_free, or NULL with the reason in err
 * (naming path). The file's bytes are wiped from memory once parsed.
 */
struct dkim_key	*dkim_key_load(const char *path, char *err, size_t errlen);
void		 dkim_key_free(struct dkim_key **);
enum dkim_alg	 dkim_key_alg(const struct dkim_key *);
/* Key size in bits (2048, 256 for Ed25519). */
int		 dkim_key_bits(const struct dkim_key *);

/*
 * Load whichever of DOMAIN's keys exist, RSA first, into keys_r (at most
 * DKIM_ALG_COUNT; the rest set to NULL), their number in *nkeys_r (0: no
 * key file). 0, or -1 with err set when a key file exists but cannot be
 * read or parsed (nothing is returned then).
 */
int		 dkim_keys_load(const char *data_dir, const char *domain,
		    const char *selector, struct dkim_key *keys_r[DKIM_ALG_COUNT],
		    size_t *nkeys_r, char *err, size_t errlen);

/*
 * Generate a key (RSA DKIM_RSA_BITS or Ed25519) and write it to path as
 * PKCS#8 PEM, mode 0600, atomically and durably (fsio_write_atomic: an
 * existing file is replaced whole or not at all). The parent directory is
 * created with mode 0700 when missing. 0, or -1 with err set.
 */
int		 dkim_key_generate(const char *path, enum dkim_alg, char *err,
		    size_t errlen);

/*
 * The TXT record value for the key's public half: "v=DKIM1; k=rsa; p=B64"
 * (p= the DER SubjectPublicKeyInfo, as opendkim-genkey writes it) or
 * "v=DKIM1; k=ed25519; p=B64" (the raw 32-byte key, RFC 8463 4.2). A new
 * allocation; NULL only when OpenSSL fails.
 */
char		*dkim_dns_record(const struct dkim_key *);

/*
 * value as the character-strings of a TXT record: "..." "..." each
 * holding at most DKIM_TXT_STRING_MAX bytes of value ('"' and '\'
 * escaped, never split from what they escape). A new allocation.
 */
char		*dkim_txt_strings(const char *value);

/*
 * The zone file line for the key:
 *   SELECTOR._domainkey.DOMAIN. IN TXT ( "v=DKIM1; k=rsa; p=..." "..." )
 * with dkim_key_selector's name; no newline. A new allocation, or NULL
 * (bad selector, OpenSSL failure).
 */
char		*dkim_zone_line(const struct dkim_key *, const char *domain,
		    const char *selector);

/*
 * Sign msg (the whole message as it will be sent: CRLF line ends, header
 * section, empty line, body) for domain with each of keys in turn;
 * selector is the base selector (dkim_key_selector gives each key's s=),
 * now goes into t=. Returns the header block to prepend to the message:
 * one "DKIM-Signature: ..." field per key, in keys' order, folded at
 * DKIM_FOLD_COLUMNS, each ending in CRLF; a new allocation. NULL with err
 * set when nkeys is 0, the selector is unusable or OpenSSL fails.
 */
char		*dkim_sign(const struct dkim_key *const *keys, size_t nkeys,
		    const char *domain, const char *selector, time_t now,
		    const char *msg, size_t len, char *err, size_t errlen);

#endif
