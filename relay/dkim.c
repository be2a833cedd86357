/* dkim: keys, DNS records and DKIM-Signature fields. See dkim.h. */
#include "relay/dkim.h"
#include "relay/dkim_canon.h"
#include "core/base64.h"
#include "core/fsio.h"
#include "core/util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define KEY_FILE_MAX	(64 * 1024)	/* a 16384-bit RSA PEM is ~13 KB */
#define ED25519_SUFFIX	"-ed25519"

struct dkim_key {
	EVP_PKEY	*pkey;
	enum dkim_alg	 alg;
};

/* A growing header field, tracking the column for folding. */
struct fold {
	char		*buf;
	size_t		 len;
	size_t		 cap;
	unsigned	 col;	/* display column; a tab moves to the next 8 */
};

static const char *const alg_names[DKIM_ALG_COUNT] = { "rsa", "ed25519" };
static const char *const sig_algs[DKIM_ALG_COUNT] = {
	"rsa-sha256", "ed25519-sha256"
};

/* "what: OpenSSL's reason" into err; clears OpenSSL's error queue. */
static void
ossl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char reason[256];

	if (e != 0) {
		ERR_error_string_n(e, reason, sizeof(reason));
		err_printf(err, errlen, "%s: %s", what, reason);
	} else
		err_printf(err, errlen, "%s failed", what);
	ERR_clear_error();
}

const char *
dkim_alg_name(enum dkim_alg alg)
{
	return alg >= 0 && alg < DKIM_ALG_COUNT ? alg_names[alg] : "?";
}

/* A file name component: letters, digits, '-', '.'; not starting '.'. */
static bool
name_ok(const char *s)
{
	if (*s == '\0' || *s == '.')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return false;
	return true;
}

char *
dkim_key_path(const char *data_dir, const char *domain, const char *selector,
    enum dkim_alg alg)
{
	if (!name_ok(domain) || !name_ok(selector) || alg < 0 ||
	    alg >= DKIM_ALG_COUNT)
		return NULL;
	return xasprintf("%s/dkim/%s.%s.%s.key", data_dir, domain, selector,
	    alg_names[alg]);
}

char *
dkim_key_selector(const char *selector, enum dkim_alg alg)
{
	const char *dot;
	char *s;

	s = xasprintf("%s%s", selector, alg == DKIM_ALG_ED25519 ?
	    ED25519_SUFFIX : "");
	dot = strrchr(s, '.');
	if (*selector == '\0' || strlen(s) > 253 ||
	    strlen(dot != NULL ? dot + 1 : s) > 63)
		FREE_NULL(s);
	return s;
}

/* ----- keys ----- */

struct dkim_key *
dkim_key_load(const char *path, char *err, size_t errlen)
{
	struct dkim_key *key;
	EVP_PKEY *pkey = NULL;
	BIO *bio;
	char *pem, what[512];
	size_t n;
	int type;

	if ((pem = fsio_read_file(path, KEY_FILE_MAX, &n)) == NULL) {
		err_printf(err, errlen, "cannot read DKIM key %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)n)) != NULL) {
		pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	OPENSSL_cleanse(pem, n);
	free(pem);
	if (pkey == NULL) {
		snprintf(what, sizeof(what), "%s: not a PEM private key", path);
		ossl_err(err, errlen, what);
		return NULL;
	}
	key = xcalloc(1, sizeof(*key));
	key->pkey = pkey;
	type = EVP_PKEY_get_base_id(pkey);
	if (type == EVP_PKEY_ED25519)
		key->alg = DKIM_ALG_ED25519;
	else if (type == EVP_PKEY_RSA) {
		key->alg = DKIM_ALG_RSA;
		if (EVP_PKEY_get_bits(pkey) < DKIM_RSA_MIN_BITS) {
			err_printf(err, errlen, "%s: RSA key of %d bits; DKIM "
			    "needs at least %d", path, EVP_PKEY_get_bits(pkey),
			    DKIM_RSA_MIN_BITS);
			dkim_key_free(&key);
		}
	} else {
		err_printf(err, errlen, "%s: a %s key; DKIM keys are RSA or "
		    "Ed25519", path, OBJ_nid2sn(type));
		dkim_key_free(&key);
	}
	return key;
}

void
dkim_key_free(struct dkim_key **keyp)
{
	if (*keyp == NULL)
		return;
	EVP_PKEY_free((*keyp)->pkey);
	FREE_NULL(*keyp);
}

enum dkim_alg
dkim_key_alg(const struct dkim_key *key)
{
	return key->alg;
}

int
dkim_key_bits(const struct dkim_key *key)
{
	return EVP_PKEY_get_bits(key->pkey);
}

int
dkim_keys_load(const char *data_dir, const char *domain, const char *selector,
    struct dkim_key *keys_r[DKIM_ALG_COUNT], size_t *nkeys_r, char *err,
    size_t errlen)
{
	size_t n = 0;

	for (int a = 0; a < DKIM_ALG_COUNT; a++)
		keys_r[a] = NULL;
	*nkeys_r = 0;
	for (int a = 0; a < DKIM_ALG_COUNT; a++) {
		char *path = dkim_key_path(data_dir, domain, selector,
		    (enum dkim_alg)a);
		struct stat st;

		if (path == NULL) {
			err_printf(err, errlen, "'%s' or '%s' cannot name a DKIM "
			    "key file", domain, selector);
			goto fail;
		}
		if (stat(path, &st) == -1 && errno == ENOENT) {
			free(path);
			continue;
		}
		keys_r[n] = dkim_key_load(path, err, errlen);
		free(path);
		if (keys_r[n] == NULL)
			goto fail;
		n++;
	}
	*nkeys_r = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		dkim_key_free(&keys_r[i]);
	return -1;
}

int
dkim_key_generate(const char *path, enum dkim_alg alg, char *err,
    size_t errlen)
{
	EVP_PKEY *pkey;
	BIO *bio = NULL;
	const char *slash;
	char *dir, *data;
	long n;
	int rv = -1;

	slash = strrchr(path, '/');
	if (slash != NULL && slash != path) {
		dir = xstrndup(path, (size_t)(slash - path));
		if (fsio_mkdirs(dir, 0700) == -1) {
			err_printf(err, errlen, "cannot create directory %s: %s",
			    dir, strerror(errno));
			free(dir);
			return -1;
		}
		free(dir);
	}
	if (alg == DKIM_ALG_RSA)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)DKIM_RSA_BITS);
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pkey == NULL) {
		ossl_err(err, errlen, "DKIM key generation");
		return -1;
	}
	/* secmem: the PEM text is wiped when the BIO is freed. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (n = BIO_get_mem_data(bio, &data)) <= 0) {
		ossl_err(err, errlen, "writing the DKIM key as PEM");
		goto out;
	}
	if (fsio_write_atomic(path, data, (size_t)n, 0600) == -1) {
		err_printf(err, errlen, "cannot write DKIM key %s: %s", path,
		    strerror(errno));
		goto out;
	}
	rv = 0;
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return rv;
}

/* ----- DNS ----- */

char *
dkim_dns_record(const struct dkim_key *key)
{
	unsigned char *der = NULL, *p;
	char *b64, *rec;
	size_t n;
	int len;

	if (key->alg == DKIM_ALG_ED25519) {
		if (EVP_PKEY_get_raw_public_key(key->pkey, NULL, &n) != 1)
			goto fail;
		der = xmalloc(n);
		if (EVP_PKEY_get_raw_public_key(key->pkey, der, &n) != 1)
			goto fail;
	} else {
		if ((len = i2d_PUBKEY(key->pkey, NULL)) <= 0)
			goto fail;
		der = p = xmalloc((size_t)len);
		if (i2d_PUBKEY(key->pkey, &p) != len)
			goto fail;
		n = (size_t)len;
	}
	b64 = xmalloc(BASE64_ENCODED_LEN(n) + 1);
	base64_encode(der, n, b64);
	rec = xasprintf("v=DKIM1; k=%s; p=%s", alg_names[key->alg], b64);
	free(b64);
	free(der);
	return rec;
fail:
	ERR_clear_error();
	free(der);
	return NULL;
}

char *
dkim_txt_strings(const char *value)
{
	size_t n = strlen(value), used = 0, o = 0;
	/* Worst case: every byte escaped, plus quotes and spaces per string. */
	char *out = xmalloc(2 * n + 4 * (n / DKIM_TXT_STRING_MAX + 1) + 1);

	out[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (used == DKIM_TXT_STRING_MAX) {
			memcpy(out + o, "\" \"", 3);
			o += 3;
			used = 0;
		}
		if (value[i] == '"' || value[i] == '\\')
			out[o++] = '\\';
		out[o++] = value[i];
		used++;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

char *
dkim_zone_line(const struct dkim_key *key, const char *domain,
    const char *selector)
{
	char *sel, *rec, *strs, *line;

	if ((sel = dkim_key_selector(selector, key->alg)) == NULL)
		return NULL;
	if ((rec = dkim_dns_record(key)) == NULL) {
		free(sel);
		return NULL;
	}
	strs = dkim_txt_strings(rec);
	line = xasprintf("%s._domainkey.%s. IN TXT ( %s )", sel, domain, strs);
	free(strs);
	free(rec);
	free(sel);
	return line;
}

/* ----- signing ----- */

static void
fold_raw(struct fold *f, const char *s, size_t n)
{
	if (n + 1 > f->cap - f->len) {
		size_t cap = f->cap == 0 ? 512 : f->cap;

		while (n + 1 > cap - f->len) {
			if (cap > SIZE_MAX / 2)
				abort();
			cap *= 2;
		}
		f->buf = xrealloc(f->buf, cap);
		f->cap = cap;
	}
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	f->buf[f->len] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			f->col = 0;
		else if (s[i] == '\t')
			f->col = (f->col / 8 + 1) * 8;
		else if (s[i] != '\r')
			f->col++;
	}
}

/* tok after a space, or on a new continuation line when it would not fit. */
static void
fold_token(struct fold *f, const char *tok, bool space)
{
	size_t n = strlen(tok);

	if (f->col + (space ? 1 : 0) + n > DKIM_FOLD_COLUMNS)
		fold_raw(f, "\r\n\t", 3);
	else if (space)
		fold_raw(f, " ", 1);
	fold_raw(f, tok, n);
}

/* The b= value, filling each line up to DKIM_FOLD_COLUMNS. */
static void
fold_b64(struct fold *f, const char *b64)
{
	size_t n = strlen(b64);

	while (n > 0) {
		size_t room = f->col < DKIM_FOLD_COLUMNS ?
		    DKIM_FOLD_COLUMNS - f->col : 0, k;

		if (room == 0) {
			fold_raw(f, "\r\n\t", 3);
			continue;
		}
		k = n < room ? n : room;
		fold_raw(f, b64, k);
		b64 += k;
		n -= k;
	}
}

/* The signature field up to and including "b=" (the part that is signed). */
static void
sig_prefix(struct fold *f, enum dkim_alg alg, const char *domain,
    const char *sel, time_t now, const char *hlist,
    const unsigned char bh[DKIM_HASH_LEN])
{
	char tok[600], b64[BASE64_ENCODED_LEN(DKIM_HASH_LEN) + 1];
	const char *p = hlist;
	bool first = true;

	fold_raw(f, "DKIM-Signature:", 15);
	fold_token(f, "v=1;", true);
	snprintf(tok, sizeof(tok), "a=%s;", sig_algs[alg]);
	fold_token(f, tok, true);
	fold_token(f, "c=relaxed/relaxed;", true);
	snprintf(tok, sizeof(tok), "d=%s;", domain);
	fold_token(f, tok, true);
	snprintf(tok, sizeof(tok), "s=%s;", sel);
	fold_token(f, tok, true);
	snprintf(tok, sizeof(tok), "t=%lld;", (long long)now);
	fold_token(f, tok, true);
	/* h= one name at a time: FWS may follow each ':' (RFC 6376 3.5). */
	while (*p != '\0') {
		size_t n = strcspn(p, ":");
		bool last = p[n] == '\0';

		snprintf(tok, sizeof(tok), "%s%.*s%s", first ? "h=" : "",
		    (int)n, p, last ? ";" : ":");
		fold_token(f, tok, first);
		first = false;
		p += last ? n : n + 1;
	}
	base64_encode(bh, DKIM_HASH_LEN, b64);
	snprintf(tok, sizeof(tok), "bh=%s;", b64);
	fold_token(f, tok, true);
	/* Keep a few characters of the value on the line of "b=". */
	if (f->col + 1 + 2 + 8 > DKIM_FOLD_COLUMNS)
		fold_raw(f, "\r\n\t", 3);
	else
		fold_raw(f, " ", 1);
	fold_raw(f, "b=", 2);
}

/* Sign data with key as a= says. A new allocation, length in *len_r. */
static unsigned char *
sign_data(const struct dkim_key *key, const char *data, size_t n,
    size_t *len_r, char *err, size_t errlen)
{
	unsigned char hash[DKIM_HASH_LEN], *sig = NULL;
	const unsigned char *in = (const unsigned char *)data;
	const EVP_MD *md = EVP_sha256();
	unsigned int hlen = 0;
	EVP_MD_CTX *ctx;
	size_t slen = 0;

	if (key->alg == DKIM_ALG_ED25519) {
		/* RFC 8463 3: Ed25519 signs the SHA-256 hash of the data. */
		if (EVP_Digest(data, n, hash, &hlen, EVP_sha256(), NULL) != 1 ||
		    hlen != DKIM_HASH_LEN) {
			ossl_err(err, errlen, "SHA-256");
			return NULL;
		}
		in = hash;
		n = hlen;
		md = NULL;	/* PureEdDSA: no digest of its own */
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, md, NULL, key->pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &slen, in, n) != 1)
		goto fail;
	sig = xmalloc(slen);
	if (EVP_DigestSign(ctx, sig, &slen, in, n) != 1)
		goto fail;
	EVP_MD_CTX_free(ctx);
	*len_r = slen;
	return sig;
fail:
	ossl_err(err, errlen, key->alg == DKIM_ALG_RSA ? "rsa-sha256 signing" :
	    "ed25519-sha256 signing");
	free(sig);
	EVP_MD_CTX_free(ctx);
	return NULL;
}

/* One DKIM-Signature field into out; hdata is the signed header data. */
static int
sign_one(struct fold *out, const struct dkim_key *key, const char *domain,
    const char *selector, time_t now, const char *hlist,
    const unsigned char bh[DKIM_HASH_LEN], const char *hdata, size_t hlen,
    char *err, size_t errlen)
{
	struct fold f = { 0 };
	unsigned char *sig = NULL;
	char *sel, *csig = NULL, *data = NULL, *b64 = NULL;
	size_t clen, slen;
	int rv = -1;

	if ((sel = dkim_key_selector(selector, key->alg)) == NULL) {
		err_printf(err, errlen, "DKIM selector '%s' is too long for a "
		    "%s key", selector, alg_names[key->alg]);
		return -1;
	}
	sig_prefix(&f, key->alg, domain, sel, now, hlist, bh);
	/*
	 * RFC 6376 3.7: the signed data ends with this field itself, b=
	 * empty, canonicalised, without its final CRLF.
	 */
	csig = dkim_canon_header(DKIM_CANON_RELAXED, f.buf, f.len, &clen);
	clen -= 2;
	data = xmalloc(hlen + clen + 1);
	memcpy(data, hdata, hlen);
	memcpy(data + hlen, csig, clen);
	if ((sig = sign_data(key, data, hlen + clen, &slen, err, errlen)) == NULL)
		goto out;
	b64 = xmalloc(BASE64_ENCODED_LEN(slen) + 1);
	base64_encode(sig, slen, b64);
	fold_b64(&f, b64);
	fold_raw(&f, "\r\n", 2);
	fold_raw(out, f.buf, f.len);
	rv = 0;
out:
	free(b64);
	free(sig);
	free(data);
	free(csig);
	free(f.buf);
	free(sel);
	return rv;
}

char *
dkim_sign(const struct dkim_key *const *keys, size_t nkeys, const char *domain,
    const char *selector, time_t now, const char *msg, size_t len, char *err,
    size_t errlen)
{
	unsigned char bh[DKIM_HASH_LEN];
	struct fold out = { 0 };
	char *hlist, *hdata;
	size_t body, hlen;

	if (nkeys == 0) {
		err_printf(err, errlen, "no DKIM key to sign with");
		return NULL;
	}
	body = dkim_body_offset(msg, len);
	if (dkim_body_hash(DKIM_CANON_RELAXED, msg + body, len - body, bh) == -1) {
		ossl_err(err, errlen, "DKIM body hash");
		return NULL;
	}
	hlist = dkim_header_list(msg, body);
	hdata = dkim_canon_headers(DKIM_CANON_RELAXED, msg, body, hlist, &hlen);
	for (size_t i = 0; i < nkeys; i++) {
		if (sign_one(&out, keys[i], domain, selector, now, hlist, bh,
		    hdata, hlen, err, errlen) == -1) {
			FREE_NULL(out.buf);
			break;
		}
	}
	free(hdata);
	free(hlist);
	return out.buf;
}
