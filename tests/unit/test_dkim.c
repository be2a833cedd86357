/*
 * Unit tests: relay/dkim_canon (canonicalisation, body hash, h= selection)
 * and relay/dkim (keys, DNS records, signatures verified here with the
 * public key from the DNS record, and the RFC 8463 example verified over
 * our canonicalisation).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/base64.h"
#include "core/util.h"
#include "relay/dkim.h"
#include "relay/dkim_canon.h"
#include "tmpdir.h"

#define MSG \
	"From: Joe SixPack <joe@football.example.com>\r\n" \
	"To: Suzie Q <suzie@shopping.example.net>\r\n" \
	"Subject: Is dinner ready?\r\n" \
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" \
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n" \
	"\r\n" \
	"Hi.\r\n" \
	"\r\n" \
	"We lost the game.  Are you hungry yet?\r\n" \
	"\r\n" \
	"Joe.\r\n"

/* RFC 8463 appendix A.3: relaxed/relaxed, Ed25519 (RFC 8032 7.1 key). */
#define RFC8463_SIG \
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n" \
	" d=football.example.com; i=@football.example.com;\r\n" \
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n" \
	" subject : date : message-id : from : subject : date;\r\n" \
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n" \
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n" \
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
#define RFC8463_PUB	"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

/* ----- helpers ----- */

static void
check_header(enum dkim_canon c, const char *in, const char *want)
{
	size_t n;
	char *out = dkim_canon_header(c, in, strlen(in), &n);

	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	free(out);
}

static void
check_body(enum dkim_canon c, const char *in, const char *want)
{
	size_t n;
	char *out = dkim_canon_body(c, in, strlen(in), &n);

	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	free(out);
}

static char *
b64(const unsigned char *p, size_t n)
{
	char *s = xmalloc(BASE64_ENCODED_LEN(n) + 1);

	base64_encode(p, n, s);
	return s;
}

/* Decode base64 with folding whitespace in it; length in *n_r. */
static unsigned char *
unb64(const char *s, size_t *n_r)
{
	char *clean = xmalloc(strlen(s) + 1);
	unsigned char *out;
	size_t k = 0;
	ssize_t n;

	for (; *s != '\0'; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			clean[k++] = *s;
	out = xmalloc(BASE64_DECODED_MAX(k) + 1);
	n = base64_decode(clean, k, out);
	free(clean);
	assert_true(n >= 0);
	*n_r = (size_t)n;
	return out;
}

/* The value of tag in a DKIM-Signature field (whitespace removed). */
static char *
sig_tag(const char *field, const char *tag)
{
	const char *v = strchr(field, ':') + 1;
	char *flat = xmalloc(strlen(v) + 1), *p, *save, *out = NULL;
	size_t k = 0;

	for (; *v != '\0'; v++)
		if (*v != ' ' && *v != '\t' && *v != '\r' && *v != '\n')
			flat[k++] = *v;
	flat[k] = '\0';
	for (p = strtok_r(flat, ";", &save); p != NULL;
	    p = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(p, '=');

		if (eq != NULL && (size_t)(eq - p) == strlen(tag) &&
		    strncmp(p, tag, strlen(tag)) == 0) {
			out = xstrdup(eq + 1);
			break;
		}
	}
	free(flat);
	return out;
}

/* The public key the DNS record names (as a verifier sees it). */
static EVP_PKEY *
record_key(const char *record)
{
	const char *p = strstr(record, "p=");
	unsigned char *der;
	const unsigned char *q;
	EVP_PKEY *pub;
	size_t n;

	assert_non_null(p);
	der = unb64(p + 2, &n);
	q = der;
	if (strstr(record, "k=ed25519") != NULL)
		pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, n);
	else
		pub = d2i_PUBKEY(NULL, &q, (long)n);
	free(der);
	assert_non_null(pub);
	return pub;
}

enum verdict { V_OK, V_BODY, V_SIG };

/*
 * Verify one relaxed/relaxed DKIM-Signature field (sig, ending CRLF)
 * over msg as RFC 6376 6.1.3 and RFC 8463 say.
 */
static enum verdict
verify(const char *sig, const char *msg, size_t len, EVP_PKEY *pub)
{
	unsigned char bh[DKIM_HASH_LEN], hash[DKIM_HASH_LEN], *want_bh, *b;
	char *h = sig_tag(sig, "h"), *bhs = sig_tag(sig, "bh"), *bs = sig_tag(sig, "b");
	char *a = sig_tag(sig, "a"), *hdata, *stripped, *csig, *data;
	size_t body = dkim_body_offset(msg, len), nbh, nb, hlen, clen;
	const char *bpos = NULL;
	unsigned int hl;
	enum verdict v = V_OK;
	EVP_MD_CTX *ctx;
	bool ed = strcmp(a, "ed25519-sha256") == 0;

	assert_non_null(h);
	assert_non_null(bhs);
	assert_non_null(bs);
	assert_int_equal(dkim_body_hash(DKIM_CANON_RELAXED, msg + body, len - body,
	    bh), 0);
	want_bh = unb64(bhs, &nbh);
	assert_int_equal(nbh, DKIM_HASH_LEN);
	if (memcmp(bh, want_bh, DKIM_HASH_LEN) != 0)
		v = V_BODY;
	/* The field with b='s value (folding included) removed. */
	for (const char *p = sig + 1; *p != '\0'; p++)
		if (p[0] == 'b' && p[1] == '=' && (p[-1] == ' ' || p[-1] == '\t' ||
		    p[-1] == ';'))
			bpos = p + 2;
	assert_non_null(bpos);
	stripped = xstrndup(sig, (size_t)(bpos - sig));
	csig = dkim_canon_header(DKIM_CANON_RELAXED, stripped, strlen(stripped),
	    &clen);
	clen -= 2;
	hdata = dkim_canon_headers(DKIM_CANON_RELAXED, msg, body, h, &hlen);
	data = xmalloc(hlen + clen);
	memcpy(data, hdata, hlen);
	memcpy(data + hlen, csig, clen);
	b = unb64(bs, &nb);

	assert_non_null(ctx = EVP_MD_CTX_new());
	if (ed) {
		assert_int_equal(EVP_Digest(data, hlen + clen, hash, &hl,
		    EVP_sha256(), NULL), 1);
		/* Init fails for a key of the other type: a bad signature. */
		if ((EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) != 1 ||
		    EVP_DigestVerify(ctx, b, nb, hash, sizeof(hash)) != 1) &&
		    v == V_OK)
			v = V_SIG;
	} else {
		if ((EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
		    pub) != 1 || EVP_DigestVerify(ctx, b, nb, (unsigned char *)data,
		    hlen + clen) != 1) && v == V_OK)
			v = V_SIG;
	}
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	free(b);
	free(data);
	free(hdata);
	free(csig);
	free(stripped);
	free(want_bh);
	free(a);
	free(bs);
	free(bhs);
	free(h);
	return v;
}

/* ----- canonicalisation ----- */

/* RFC 6376 3.4.6. */
static void
test_rfc6376_example(void **state)
{
	static const char msg[] =
	    "A: X\r\n"
	    "B : Y\t\r\n"
	    "\tZ  \r\n"
	    "\r\n"
	    " C \r\n"
	    "D \t E\r\n"
	    "\r\n"
	    "\r\n";
	size_t body = dkim_body_offset(msg, strlen(msg)), n;
	char *out;

	(void)state;
	assert_int_equal(body, strlen("A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n"));
	out = dkim_canon_headers(DKIM_CANON_RELAXED, msg, body, "a:b", &n);
	assert_string_equal(out, "a:X\r\nb:Y Z\r\n");
	free(out);
	out = dkim_canon_headers(DKIM_CANON_SIMPLE, msg, body, "a:b", &n);
	assert_string_equal(out, "A: X\r\nB : Y\t\r\n\tZ  \r\n");
	free(out);
	check_body(DKIM_CANON_RELAXED, msg + body, " C\r\nD E\r\n");
	check_body(DKIM_CANON_SIMPLE, msg + body, " C \r\nD \t E\r\n");
}

static void
test_header_edges(void **state)
{
	(void)state;
	/* Name case, WSP around the colon, folding, runs of WSP. */
	check_header(DKIM_CANON_RELAXED, "SUBJECT:  Hello\t World  \r\n",
	    "subject:Hello World\r\n");
	check_header(DKIM_CANON_RELAXED, "Subject \t:x", "subject:x\r\n");
	check_header(DKIM_CANON_RELAXED, "To: a@b,\r\n  c@d,\r\n\td@e\r\n",
	    "to:a@b, c@d, d@e\r\n");
	check_header(DKIM_CANON_RELAXED, "X-Empty:\r\n", "x-empty:\r\n");
	check_header(DKIM_CANON_RELAXED, "X-Blank: \t \r\n", "x-blank:\r\n");
	check_header(DKIM_CANON_RELAXED, "X: a:b : c\r\n", "x:a:b : c\r\n");
	/* simple: byte for byte; a missing CRLF is added. */
	check_header(DKIM_CANON_SIMPLE, "SUBJECT:  Hello\t World  \r\n",
	    "SUBJECT:  Hello\t World  \r\n");
	check_header(DKIM_CANON_SIMPLE, "To: a@b,\r\n  c@d", "To: a@b,\r\n  c@d\r\n");
}

static void
test_body_edges(void **state)
{
	static const struct {
		enum dkim_canon	 c;
		const char	*in;
		const char	*out;
	} t[] = {
		/* Empty body: CRLF for simple, nothing for relaxed. */
		{ DKIM_CANON_SIMPLE,	"",			"\r\n" },
		{ DKIM_CANON_RELAXED,	"",			"" },
		{ DKIM_CANON_SIMPLE,	"\r\n\r\n\r\n",		"\r\n" },
		{ DKIM_CANON_RELAXED,	"\r\n\r\n\r\n",		"" },
		/* Lines of only WSP: empty in relaxed only. */
		{ DKIM_CANON_SIMPLE,	"  \r\n",		"  \r\n" },
		{ DKIM_CANON_RELAXED,	"  \r\n\t\r\n",		"" },
		{ DKIM_CANON_RELAXED,	"a\r\n \r\n\r\n",	"a\r\n" },
		/* Trailing WSP, runs inside a line. */
		{ DKIM_CANON_RELAXED,	"a  b\t\tc \t\r\n",	"a b c\r\n" },
		{ DKIM_CANON_SIMPLE,	"a  b\t\tc \t\r\n",	"a  b\t\tc \t\r\n" },
		{ DKIM_CANON_RELAXED,	"\t lead\r\n",		" lead\r\n" },
		/* Empty lines inside are kept, at the end dropped. */
		{ DKIM_CANON_SIMPLE,	"a\r\n\r\nb\r\n\r\n",	"a\r\n\r\nb\r\n" },
		{ DKIM_CANON_RELAXED,	"a\r\n\r\nb\r\n\r\n",	"a\r\n\r\nb\r\n" },
		/* No final CRLF: one is added. */
		{ DKIM_CANON_SIMPLE,	"abc",			"abc\r\n" },
		{ DKIM_CANON_RELAXED,	"abc  ",		"abc\r\n" },
		/* A bare LF or CR is an ordinary byte. */
		{ DKIM_CANON_SIMPLE,	"a\nb\rc\r\n",		"a\nb\rc\r\n" },
	};

	(void)state;
	for (size_t i = 0; i < NELEM(t); i++)
		check_body(t[i].c, t[i].in, t[i].out);
}

static void
test_body_offset(void **state)
{
	(void)state;
	assert_int_equal(dkim_body_offset("\r\nbody", 6), 2);
	assert_int_equal(dkim_body_offset("A: b\r\n", 6), 6);
	assert_int_equal(dkim_body_offset("A: b\r\n\r\n", 8), 8);
	assert_int_equal(dkim_body_offset("", 0), 0);
}

static void
test_body_hash(void **state)
{
	static const char body[] =
	    "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";
	unsigned char h[DKIM_HASH_LEN];
	char *s;

	(void)state;
	/* RFC 8463 A.3 bh= (relaxed). */
	assert_int_equal(dkim_body_hash(DKIM_CANON_RELAXED, body, strlen(body),
	    h), 0);
	s = b64(h, sizeof(h));
	assert_string_equal(s, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	free(s);
	/* Its simple/simple draft twin (bh= of python-dkim's rfc6376.signed.msg). */
	assert_int_equal(dkim_body_hash(DKIM_CANON_SIMPLE, body, strlen(body),
	    h), 0);
	s = b64(h, sizeof(h));
	assert_string_equal(s, "4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=");
	free(s);
	/* Empty body: SHA-256 of "" (relaxed) and of CRLF (simple). */
	assert_int_equal(dkim_body_hash(DKIM_CANON_RELAXED, "", 0, h), 0);
	s = b64(h, sizeof(h));
	assert_string_equal(s, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	free(s);
	assert_int_equal(dkim_body_hash(DKIM_CANON_SIMPLE, "", 0, h), 0);
	s = b64(h, sizeof(h));
	assert_string_equal(s, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
	free(s);
}

/* A body over the hashing stage's buffer hashes as its canonical form. */
static void
test_body_hash_large(void **state)
{
	unsigned char h1[DKIM_HASH_LEN], h2[DKIM_HASH_LEN];
	size_t n = 300000, cn;
	char *body = xmalloc(n + 1), *canon;

	(void)state;
	for (size_t i = 0; i < n; i++)
		body[i] = (i % 50 == 48) ? '\r' : (i % 50 == 49) ? '\n' :
		    (i % 7 == 0) ? ' ' : (i % 11 == 0) ? '\t' : 'x';
	body[n] = '\0';
	for (int c = DKIM_CANON_SIMPLE; c <= DKIM_CANON_RELAXED; c++) {
		canon = dkim_canon_body((enum dkim_canon)c, body, n, &cn);
		assert_int_equal(EVP_Digest(canon, cn, h1, NULL, EVP_sha256(),
		    NULL), 1);
		assert_int_equal(dkim_body_hash((enum dkim_canon)c, body, n, h2), 0);
		assert_memory_equal(h1, h2, DKIM_HASH_LEN);
		free(canon);
	}
	free(body);
}

/* ----- h= ----- */

static void
test_header_list(void **state)
{
	static const char hdr[] =
	    "Received: from x\r\n"
	    "TO: a@b\r\n"
	    "X-Mailer: y\r\n"
	    "from: me@example.com\r\n"
	    "Cc: c@d\r\n"
	    "Subject: s\r\n"
	    "To: e@f\r\n"
	    "Content-Type: text/plain\r\n"
	    "References: <a@b>\r\n"
	    "  <c@d>\r\n"
	    "Date: now\r\n"
	    "\r\n"
	    "From: not a header\r\n";
	char *l;

	(void)state;
	l = dkim_header_list(hdr, dkim_body_offset(hdr, strlen(hdr)));
	assert_string_equal(l, "from:from:to:to:cc:subject:date:content-type:"
	    "references");
	free(l);
	/* No From at all: still listed (mandatory), once. */
	l = dkim_header_list("Subject: x\r\n", 12);
	assert_string_equal(l, "from:subject");
	free(l);
	l = dkim_header_list(MSG, dkim_body_offset(MSG, strlen(MSG)));
	assert_string_equal(l, "from:from:to:subject:date:message-id");
	free(l);
}

/* RFC 6376 5.4.2: bottom-up, absent instances sign nothing. */
static void
test_canon_headers_select(void **state)
{
	static const char hdr[] =
	    "To: first\r\n"
	    "From: me\r\n"
	    "to: second\r\n"
	    "\r\n";
	size_t n;
	char *out;

	(void)state;
	out = dkim_canon_headers(DKIM_CANON_RELAXED, hdr, strlen(hdr),
	    "from:from:to:to:to:cc", &n);
	assert_string_equal(out, "from:me\r\nto:second\r\nto:first\r\n");
	free(out);
	/* Spaces, folding and case in h= do not matter. */
	out = dkim_canon_headers(DKIM_CANON_SIMPLE, hdr, strlen(hdr),
	    " TO :\r\n to ", &n);
	assert_string_equal(out, "to: second\r\nTo: first\r\n");
	free(out);
	out = dkim_canon_headers(DKIM_CANON_SIMPLE, hdr, strlen(hdr), "", &n);
	assert_int_equal(n, 0);
	assert_string_equal(out, "");
	free(out);
}

/* ----- keys, records, signatures ----- */

static int
setup(void **state)
{
	return tmp_setup(state, "key");
}

static int
teardown(void **state)
{
	struct tmp *t = *state;
	char *d = xasprintf("%s/dkim", t->dir);

	tmp_rm_rf(d);
	free(d);
	return tmp_teardown(state);
}

static struct dkim_key *
make_key(struct tmp *t, enum dkim_alg alg)
{
	char err[512], *path = dkim_key_path(t->dir, "example.com", "rmail", alg);
	struct dkim_key *key;

	assert_non_null(path);
	assert_int_equal(dkim_key_generate(path, alg, err, sizeof(err)), 0);
	key = dkim_key_load(path, err, sizeof(err));
	if (key == NULL)
		fail_msg("%s", err);
	free(path);
	return key;
}

static void
test_key_roundtrip(void **state)
{
	struct tmp *t = *state;
	struct dkim_key *key;
	struct stat st;
	char err[512], *path, *dir, *r1, *r2;

	for (int a = 0; a < DKIM_ALG_COUNT; a++) {
		path = dkim_key_path(t->dir, "example.com", "rmail",
		    (enum dkim_alg)a);
		key = make_key(t, (enum dkim_alg)a);
		assert_int_equal(dkim_key_alg(key), a);
		assert_int_equal(dkim_key_bits(key), a == DKIM_ALG_RSA ? 2048 : 256);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		dir = xasprintf("%s/dkim", t->dir);
		assert_int_equal(stat(dir, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0700);
		free(dir);
		r1 = dkim_dns_record(key);
		dkim_key_free(&key);
		assert_null(key);
		/* Loading again gives the same key. */
		key = dkim_key_load(path, err, sizeof(err));
		assert_non_null(key);
		r2 = dkim_dns_record(key);
		assert_string_equal(r1, r2);
		assert_true(strncmp(r1, a == DKIM_ALG_RSA ? "v=DKIM1; k=rsa; p=" :
		    "v=DKIM1; k=ed25519; p=", a == DKIM_ALG_RSA ? 18 : 22) == 0);
		free(r2);
		dkim_key_free(&key);
		/* Generating again replaces the key. */
		assert_int_equal(dkim_key_generate(path, (enum dkim_alg)a, err,
		    sizeof(err)), 0);
		key = dkim_key_load(path, err, sizeof(err));
		r2 = dkim_dns_record(key);
		assert_string_not_equal(r1, r2);
		free(r1);
		free(r2);
		dkim_key_free(&key);
		free(path);
	}
}

static void
write_pem(const char *path, EVP_PKEY *pkey)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(fclose(f), 0);
}

static void
test_key_refused(void **state)
{
	struct tmp *t = *state;
	EVP_PKEY *pkey;
	char err[512];
	FILE *f;

	/* Missing file, junk, a small RSA key, an EC key. */
	assert_null(dkim_key_load(t->path, err, sizeof(err)));
	assert_non_null(strstr(err, t->path));
	assert_non_null(f = fopen(t->path, "w"));
	fputs("not a key\n", f);
	fclose(f);
	assert_null(dkim_key_load(t->path, err, sizeof(err)));
	assert_non_null(strstr(err, "not a PEM private key"));
	assert_non_null(pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512));
	write_pem(t->path, pkey);
	EVP_PKEY_free(pkey);
	assert_null(dkim_key_load(t->path, err, sizeof(err)));
	assert_non_null(strstr(err, "512 bits"));
	assert_non_null(pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
	write_pem(t->path, pkey);
	EVP_PKEY_free(pkey);
	assert_null(dkim_key_load(t->path, err, sizeof(err)));
	assert_non_null(strstr(err, "RSA or Ed25519"));
}

static void
test_keys_load(void **state)
{
	struct tmp *t = *state;
	struct dkim_key *keys[DKIM_ALG_COUNT], *k;
	char err[512], *path;
	size_t n = 99;
	FILE *f;

	assert_int_equal(dkim_keys_load(t->dir, "example.com", "rmail", keys, &n,
	    err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	k = make_key(t, DKIM_ALG_ED25519);
	dkim_key_free(&k);
	assert_int_equal(dkim_keys_load(t->dir, "example.com", "rmail", keys, &n,
	    err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(dkim_key_alg(keys[0]), DKIM_ALG_ED25519);
	assert_null(keys[1]);
	dkim_key_free(&keys[0]);
	k = make_key(t, DKIM_ALG_RSA);
	dkim_key_free(&k);
	assert_int_equal(dkim_keys_load(t->dir, "example.com", "rmail", keys, &n,
	    err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(dkim_key_alg(keys[0]), DKIM_ALG_RSA);
	assert_int_equal(dkim_key_alg(keys[1]), DKIM_ALG_ED25519);
	dkim_key_free(&keys[0]);
	dkim_key_free(&keys[1]);
	/* A broken key file is an error, not a missing key. */
	path = dkim_key_path(t->dir, "example.com", "rmail", DKIM_ALG_ED25519);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(dkim_keys_load(t->dir, "example.com", "rmail", keys, &n,
	    err, sizeof(err)), -1);
	assert_null(keys[0]);
	free(path);
}

static void
test_paths_selectors(void **state)
{
	char *s, label[64];

	(void)state;
	s = dkim_key_path("/d", "example.com", "rmail", DKIM_ALG_RSA);
	assert_string_equal(s, "/d/dkim/example.com.rmail.rsa.key");
	free(s);
	s = dkim_key_path("/d", "example.com", "rmail", DKIM_ALG_ED25519);
	assert_string_equal(s, "/d/dkim/example.com.rmail.ed25519.key");
	free(s);
	assert_null(dkim_key_path("/d", "../x", "rmail", DKIM_ALG_RSA));
	assert_null(dkim_key_path("/d", "a/b", "rmail", DKIM_ALG_RSA));
	assert_null(dkim_key_path("/d", "example.com", "", DKIM_ALG_RSA));
	assert_null(dkim_key_path("/d", "example.com", ".x", DKIM_ALG_RSA));

	s = dkim_key_selector("rmail", DKIM_ALG_RSA);
	assert_string_equal(s, "rmail");
	free(s);
	s = dkim_key_selector("rmail", DKIM_ALG_ED25519);
	assert_string_equal(s, "rmail-ed25519");
	free(s);
	memset(label, 'a', 60);
	label[60] = '\0';
	s = dkim_key_selector(label, DKIM_ALG_RSA);
	assert_string_equal(s, label);
	free(s);
	assert_null(dkim_key_selector(label, DKIM_ALG_ED25519));
}

static void
test_txt_strings(void **state)
{
	char v[700], *s, *want;

	(void)state;
	memset(v, 'a', sizeof(v));
	v[255] = '\0';
	s = dkim_txt_strings(v);
	want = xasprintf("\"%s\"", v);
	assert_string_equal(s, want);
	free(want);
	free(s);
	v[255] = 'b';
	v[256] = '\0';
	s = dkim_txt_strings(v);
	assert_int_equal(strlen(s), 256 + 5);
	assert_string_equal(s + 255 + 1, "\" \"b\"");
	free(s);
	memset(v, 'a', sizeof(v));
	v[600] = '\0';
	s = dkim_txt_strings(v);
	/* 255 + 255 + 90. */
	assert_int_equal(strlen(s), 600 + 3 * 2 + 2);
	assert_int_equal(s[256], '"');
	assert_int_equal(s[257], ' ');
	assert_int_equal(s[514], '"');
	assert_int_equal(s[515], ' ');
	assert_int_equal(s[516], '"');
	free(s);
	/* Quotes and backslashes are escaped, not counted twice. */
	s = dkim_txt_strings("a\"b\\c");
	assert_string_equal(s, "\"a\\\"b\\\\c\"");
	free(s);
}

static void
test_zone_line(void **state)
{
	static const char ed_prefix[] = "rmail-ed25519._domainkey.example.com. "
	    "IN TXT ( \"v=DKIM1; k=ed25519; p=";
	struct tmp *t = *state;
	struct dkim_key *key;
	char *line, *rec, *strs, *want;

	key = make_key(t, DKIM_ALG_RSA);
	line = dkim_zone_line(key, "example.com", "rmail");
	rec = dkim_dns_record(key);
	/* RSA 2048: 410 bytes, two strings. */
	assert_true(strlen(rec) > 255 && strlen(rec) <= 510);
	strs = dkim_txt_strings(rec);
	want = xasprintf("rmail._domainkey.example.com. IN TXT ( %s )", strs);
	assert_string_equal(line, want);
	assert_non_null(strstr(line, "\" \""));
	free(want);
	free(strs);
	free(rec);
	free(line);
	dkim_key_free(&key);
	key = make_key(t, DKIM_ALG_ED25519);
	line = dkim_zone_line(key, "example.com", "rmail");
	assert_true(strncmp(line, ed_prefix, strlen(ed_prefix)) == 0);
	assert_null(strstr(line, "\" \""));
	free(line);
	dkim_key_free(&key);
}

/* Every line of a signature field fits DKIM_FOLD_COLUMNS (tab = 8). */
static void
check_folding(const char *field)
{
	unsigned col = 0;

	for (const char *p = field; *p != '\0'; p++) {
		if (*p == '\r') {
			assert_int_equal(p[1], '\n');
			/* Each continuation starts with a tab. */
			assert_true(p[2] == '\t' || p[2] == '\0');
			assert_true(col <= DKIM_FOLD_COLUMNS);
			col = 0;
			p++;
		} else if (*p == '\t')
			col = (col / 8 + 1) * 8;
		else
			col++;
	}
}

/* The fields of a block returned by dkim_sign, one allocation each. */
static size_t
split_block(const char *block, char **fields, size_t max)
{
	size_t n = 0;
	const char *p = block, *next;

	while (*p != '\0' && n < max) {
		assert_true(strncmp(p, "DKIM-Signature: ", 16) == 0);
		next = strstr(p + 1, "\r\nDKIM-Signature:");
		next = next != NULL ? next + 2 : p + strlen(p);
		fields[n++] = xstrndup(p, (size_t)(next - p));
		p = next;
	}
	assert_int_equal(*p, '\0');
	return n;
}

static void
test_sign_verify(void **state)
{
	static const char msg[] =
	    "Received: from client\r\n"
	    "From: Alice <alice@example.com>\r\n"
	    "To: bob@example.org,\r\n"
	    "\tcarol@example.net\r\n"
	    "Subject:  Lunch   plans \r\n"
	    "Date: Mon, 1 Jan 2024 12:00:00 +0000\r\n"
	    "Message-ID: <1@example.com>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "\r\n"
	    "Hello  Bob, \r\n"
	    "\r\n"
	    "see you.\r\n"
	    "\r\n\r\n";
	struct tmp *t = *state;
	struct dkim_key *keys[2];
	char *block, *fields[4], *rec, *tag, *m, err[512];
	EVP_PKEY *pubs[2];
	size_t len = strlen(msg), n;

	keys[0] = make_key(t, DKIM_ALG_RSA);
	keys[1] = make_key(t, DKIM_ALG_ED25519);
	for (int i = 0; i < 2; i++) {
		rec = dkim_dns_record(keys[i]);
		pubs[i] = record_key(rec);
		free(rec);
	}
	block = dkim_sign((const struct dkim_key *const *)keys, 2, "example.com",
	    "rmail", 1700000000, msg, len, err, sizeof(err));
	if (block == NULL)
		fail_msg("%s", err);
	n = split_block(block, fields, NELEM(fields));
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		check_folding(fields[i]);
		tag = sig_tag(fields[i], "a");
		assert_string_equal(tag, i == 0 ? "rsa-sha256" : "ed25519-sha256");
		free(tag);
		tag = sig_tag(fields[i], "s");
		assert_string_equal(tag, i == 0 ? "rmail" : "rmail-ed25519");
		free(tag);
		tag = sig_tag(fields[i], "h");
		assert_string_equal(tag, "from:from:to:subject:date:message-id:"
		    "mime-version:content-type");
		free(tag);
		tag = sig_tag(fields[i], "t");
		assert_string_equal(tag, "1700000000");
		free(tag);
		tag = sig_tag(fields[i], "d");
		assert_string_equal(tag, "example.com");
		free(tag);
		tag = sig_tag(fields[i], "c");
		assert_string_equal(tag, "relaxed/relaxed");
		free(tag);
		assert_null(sig_tag(fields[i], "l"));
		assert_true(strncmp(fields[i], "DKIM-Signature: v=1; a=", 23) == 0);

		/* Valid as it is, and as a receiver sees it (prepended). */
		assert_int_equal(verify(fields[i], msg, len, pubs[i]), V_OK);
		m = xasprintf("%s%s", block, msg);
		assert_int_equal(verify(fields[i], m, strlen(m), pubs[i]), V_OK);
		/* Whitespace changes that relaxed forgives. */
		free(m);
		m = xstrdup(msg);
		memcpy(strstr(m, "Lunch   plans") + 5, " \t ", 3);
		memcpy(strstr(m, "Subject:  "), "subject:\t ", 10);
		assert_int_equal(verify(fields[i], m, len, pubs[i]), V_OK);
		/* One body byte changed. */
		*strstr(m, "see you") = 'S';
		assert_int_equal(verify(fields[i], m, len, pubs[i]), V_BODY);
		free(m);
		/* A signed header changed. */
		m = xstrdup(msg);
		*strstr(m, "Lunch") = 'P';
		assert_int_equal(verify(fields[i], m, len, pubs[i]), V_SIG);
		free(m);
		/* A From added on top: over-signing catches it. */
		m = xasprintf("From: mallory@evil.test\r\n%s", msg);
		assert_int_equal(verify(fields[i], m, strlen(m), pubs[i]), V_SIG);
		free(m);
		/* An unsigned header added: still valid. */
		m = xasprintf("X-Spam: no\r\n%s", msg);
		assert_int_equal(verify(fields[i], m, strlen(m), pubs[i]), V_OK);
		free(m);
		/* The other key does not verify it. */
		assert_int_equal(verify(fields[i], msg, len, pubs[1 - i]), V_SIG);
		free(fields[i]);
	}
	free(block);

	/* No keys: an error. Headers only, no body: signs the empty body. */
	assert_null(dkim_sign((const struct dkim_key *const *)keys, 0,
	    "example.com", "rmail", 0, msg, len, err, sizeof(err)));
	block = dkim_sign((const struct dkim_key *const *)keys + 1, 1,
	    "example.com", "rmail", 0, "From: a@example.com\r\n", 21, err,
	    sizeof(err));
	assert_non_null(block);
	tag = sig_tag(block, "bh");
	assert_string_equal(tag, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	free(tag);
	assert_int_equal(verify(block, "From: a@example.com\r\n", 21, pubs[1]), V_OK);
	free(block);

	for (int i = 0; i < 2; i++) {
		EVP_PKEY_free(pubs[i]);
		dkim_key_free(&keys[i]);
	}
}

/* RFC 8463 A.3 verifies over our canonicalisation and h= selection. */
static void
test_rfc8463_vector(void **state)
{
	char *rec = xstrdup("v=DKIM1; k=ed25519; p=" RFC8463_PUB), *m;
	EVP_PKEY *pub = record_key(rec);

	(void)state;
	assert_int_equal(verify(RFC8463_SIG, MSG, strlen(MSG), pub), V_OK);
	m = xstrdup(MSG);
	*strstr(m, "dinner") = 'D';
	assert_int_equal(verify(RFC8463_SIG, m, strlen(m), pub), V_SIG);
	free(m);
	EVP_PKEY_free(pub);
	free(rec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6376_example),
		cmocka_unit_test(test_header_edges),
		cmocka_unit_test(test_body_edges),
		cmocka_unit_test(test_body_offset),
		cmocka_unit_test(test_body_hash),
		cmocka_unit_test(test_body_hash_large),
		cmocka_unit_test(test_header_list),
		cmocka_unit_test(test_canon_headers_select),
		cmocka_unit_test(test_paths_selectors),
		cmocka_unit_test(test_txt_strings),
		cmocka_unit_test(test_rfc8463_vector),
		cmocka_unit_test_setup_teardown(test_key_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zone_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
