/*
 * users: the user directory and its password hashes.
 *
 * A hash is "$pbkdf2-sha256$ITER$SALT$HASH" with standard base64 (padded)
 * for the 16-byte salt and the 32-byte PBKDF2-HMAC-SHA256 output. Parsing
 * is strict (canonical base64, no leading zeros, bounded ITER) so a hash
 * either means exactly one thing or is refused.
 */
#include "config/users.h"
#include "config/config.h"
#include "config/jsonpos.h"
#include "core/fsio.h"
#include "core/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define HASH_PREFIX	"$pbkdf2-sha256$"
#define SALT_LEN	16
#define DK_LEN		32
/* A crafted hash must not be able to stall a worker for minutes. */
#define MAX_ITERATIONS	10000000u
#define USERS_MAX_FILE	(64u * 1024 * 1024)

struct users {
	struct user	*v;
	size_t		 n;
	size_t		 cap;
};

struct hash_parts {
	unsigned long	 iter;
	unsigned char	 salt[SALT_LEN];
	unsigned char	 dk[DK_LEN];
};

enum hash_res { HASH_OK, HASH_MALFORMED, HASH_TOO_FEW, HASH_TOO_MANY };

/* Decode exactly outlen bytes from canonical padded base64 of slen chars. */
static int
b64_decode_exact(const char *s, size_t slen, unsigned char *out, size_t outlen)
{
	unsigned char tmp[64], re[96];
	size_t pad = (3 - outlen % 3) % 3;
	int n;

	if (slen != 4 * ((outlen + 2) / 3) || outlen > 48)
		return -1;
	for (size_t i = 0; i < slen; i++) {
		char ch = s[i];

		if (i >= slen - pad) {
			if (ch != '=')
				return -1;
		} else if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/')) {
			return -1;
		}
	}
	/* EVP_DecodeBlock counts the padding as zero bytes of output. */
	n = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)slen);
	if (n < 0 || (size_t)n != outlen + pad)
		return -1;
	/* Unused low bits must be zero, or two spellings would be one hash. */
	EVP_EncodeBlock(re, tmp, (int)outlen);
	if (memcmp(re, s, slen) != 0)
		return -1;
	memcpy(out, tmp, outlen);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return 0;
}

static enum hash_res
parse_hash(const char *enc, struct hash_parts *h)
{
	const char *p, *digits, *salt, *dk;
	unsigned long iter = 0;

	if (enc == NULL || strncmp(enc, HASH_PREFIX, strlen(HASH_PREFIX)) != 0)
		return HASH_MALFORMED;
	digits = p = enc + strlen(HASH_PREFIX);
	for (; *p >= '0' && *p <= '9'; p++) {
		if (p - digits == 9)
			return HASH_MALFORMED;
		iter = iter * 10 + (unsigned long)(*p - '0');
	}
	if (p == digits || (p - digits > 1 && digits[0] == '0') || *p != '$')
		return HASH_MALFORMED;
	salt = p + 1;
	if ((p = strchr(salt, '$')) == NULL)
		return HASH_MALFORMED;
	dk = p + 1;
	if (strchr(dk, '$') != NULL ||
	    b64_decode_exact(salt, (size_t)(p - salt), h->salt, SALT_LEN) == -1 ||
	    b64_decode_exact(dk, strlen(dk), h->dk, DK_LEN) == -1)
		return HASH_MALFORMED;
	h->iter = iter;
	if (iter < USERS_MIN_ITERATIONS)
		return HASH_TOO_FEW;
	if (iter > MAX_ITERATIONS)
		return HASH_TOO_MANY;
	return HASH_OK;
}

static int
pbkdf2(const char *password, const unsigned char *salt, unsigned long iter,
    unsigned char *out)
{
	return PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, SALT_LEN,
	    (int)iter, EVP_sha256(), DK_LEN, out) == 1 ? 0 : -1;
}

int
users_hash_password(const char *password, unsigned iterations, char *out,
    size_t outlen)
{
	unsigned char salt[SALT_LEN], dk[DK_LEN];
	char salt64[4 * ((SALT_LEN + 2) / 3) + 1], dk64[4 * ((DK_LEN + 2) / 3) + 1];
	int n;

	if (iterations == 0)
		iterations = USERS_DEFAULT_ITERATIONS;
	if (password == NULL || iterations < USERS_MIN_ITERATIONS ||
	    iterations > MAX_ITERATIONS) {
		errno = EINVAL;
		return -1;
	}
	if (RAND_bytes(salt, sizeof(salt)) != 1 ||
	    pbkdf2(password, salt, iterations, dk) == -1) {
		errno = EIO;
		return -1;
	}
	EVP_EncodeBlock((unsigned char *)salt64, salt, SALT_LEN);
	EVP_EncodeBlock((unsigned char *)dk64, dk, DK_LEN);
	OPENSSL_cleanse(dk, sizeof(dk));
	n = snprintf(out, outlen, HASH_PREFIX "%u$%s$%s", iterations, salt64,
	    dk64);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		errno = ERANGE;
		return -1;
	}
	return 0;
}

bool
users_verify_hash(const char *encoded, const char *password)
{
	struct hash_parts h;
	unsigned char dk[DK_LEN];
	bool ok;

	if (password == NULL || parse_hash(encoded, &h) != HASH_OK)
		return false;
	if (pbkdf2(password, h.salt, h.iter, dk) == -1)
		return false;
	ok = CRYPTO_memcmp(dk, h.dk, DK_LEN) == 0;
	OPENSSL_cleanse(dk, sizeof(dk));
	return ok;
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[USERS_HASH_MAX];

static void
make_dummy(void)
{
	unsigned char rnd[24];
	char pw[2 * sizeof(rnd) + 1];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		/* Without randomness there is nothing safe left to do. */
		fprintf(stderr, "rmail: no randomness for the dummy password hash\n");
		abort();
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
	if (users_hash_password(pw, USERS_DEFAULT_ITERATIONS, dummy_hash,
	    sizeof(dummy_hash)) == -1) {
		fprintf(stderr, "rmail: cannot compute the dummy password hash\n");
		abort();
	}
	OPENSSL_cleanse(pw, sizeof(pw));
}

const char *
users_dummy_hash(void)
{
	pthread_once(&dummy_once, make_dummy);
	return dummy_hash;
}

struct users *
users_new_empty(void)
{
	return xcalloc(1, sizeof(struct users));
}

static void
user_clear(struct user *u)
{
	free(u->address);
	free(u->password);
	memset(u, 0, sizeof(*u));
}

void
users_free(struct users **up)
{
	struct users *u = *up;

	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n; i++)
		user_clear(&u->v[i]);
	free(u->v);
	free(u);
	*up = NULL;
}

static void
users_append(struct users *u, const struct user *entry)
{
	if (u->n == u->cap) {
		u->cap = u->cap ? 2 * u->cap : 8;
		u->v = xrealloc(u->v, u->cap * sizeof(*u->v));
	}
	u->v[u->n++] = *entry;
}

static ssize_t
users_index(const struct users *u, const char *address)
{
	if (u == NULL || address == NULL)
		return -1;
	for (size_t i = 0; i < u->n; i++)
		if (ascii_casecmp(u->v[i].address, address) == 0)
			return (ssize_t)i;
	return -1;
}

size_t
users_count(const struct users *u)
{
	return u != NULL ? u->n : 0;
}

const struct user *
users_at(const struct users *u, size_t i)
{
	return u != NULL && i < u->n ? &u->v[i] : NULL;
}

const struct user *
users_find(const struct users *u, const char *address)
{
	ssize_t i = users_index(u, address);

	return i == -1 ? NULL : &u->v[i];
}

/* Loader state: the directory being built and the entry being read. */
struct ustate {
	struct users	*users;
	struct user	 cur;
};

static struct ustate *
ust(struct jsonpos_ctx *ctx)
{
	return ctx->user;
}

static int
f_version(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	(void)f;
	if (jsonpos_expect(ctx, v, JSON_INTEGER) == -1)
		return -1;
	if (json_integer_value(v) != 1)
		return jsonpos_fail(ctx, JSONPOS_VALUE,
		    "unsupported version %lld (expected 1)",
		    (long long)json_integer_value(v));
	return 0;
}

static int
f_address(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	struct user *cur = &ust(ctx)->cur;
	char q[300];
	char *a;

	(void)f;
	if (jsonpos_expect(ctx, v, JSON_STRING) == -1)
		return -1;
	a = xstrdup(json_string_value(v));
	ascii_lower(a);
	if (!conf_valid_address(a)) {
		free(a);
		return jsonpos_fail(ctx, JSONPOS_VALUE,
		    "invalid address %s (expected local@domain)",
		    jsonpos_quote(json_string_value(v), q, sizeof(q)));
	}
	cur->address = a;
	return 0;
}

static int
f_password(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	struct user *cur = &ust(ctx)->cur;
	struct hash_parts h;

	(void)f;
	if (jsonpos_expect(ctx, v, JSON_STRING) == -1)
		return -1;
	switch (parse_hash(json_string_value(v), &h)) {
	case HASH_OK:
		break;
	case HASH_TOO_FEW:
		return jsonpos_fail(ctx, JSONPOS_VALUE,
		    "iteration count %lu is below the minimum %u", h.iter,
		    (unsigned)USERS_MIN_ITERATIONS);
	case HASH_TOO_MANY:
		return jsonpos_fail(ctx, JSONPOS_VALUE,
		    "iteration count %lu is above the maximum %u", h.iter,
		    MAX_ITERATIONS);
	case HASH_MALFORMED:
		return jsonpos_fail(ctx, JSONPOS_VALUE, "not a password hash "
		    "(expected \"$pbkdf2-sha256$ITERATIONS$SALT$HASH\")");
	}
	cur->password = xstrdup(json_string_value(v));
	return 0;
}

static int
f_quota(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	uint64_t *dst = (uint64_t *)((char *)&ust(ctx)->cur + *(const size_t *)f->arg);

	if (jsonpos_expect(ctx, v, JSON_INTEGER) == -1)
		return -1;
	if (json_integer_value(v) < 0)
		return jsonpos_fail(ctx, JSONPOS_VALUE, "must not be negative");
	*dst = (uint64_t)json_integer_value(v);
	return 0;
}

#define USER_OFF(member)	(&(const size_t){ offsetof(struct user, member) })

static const struct jsonpos_field entry_fields[] = {
	{ "address", f_address, true, NULL },
	{ "password", f_password, true, NULL },
	{ "quota_bytes", f_quota, false, USER_OFF(quota_bytes) },
	{ "quota_messages", f_quota, false, USER_OFF(quota_messages) },
};

static int
f_users(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	struct ustate *st = ust(ctx);
	json_t *e;
	size_t i;

	(void)f;
	if (jsonpos_expect(ctx, v, JSON_ARRAY) == -1)
		return -1;
	json_array_foreach(v, i, e) {
		ssize_t other;
		char q[300];

		jsonpos_push_index(ctx, i);
		if (jsonpos_walk(ctx, e, entry_fields, NELEM(entry_fields)) == -1)
			return -1;
		if ((other = users_index(st->users, st->cur.address)) != -1) {
			jsonpos_push_key(ctx, "address");
			return jsonpos_fail(ctx, JSONPOS_VALUE,
			    "duplicate address %s (also users[%zd])",
			    jsonpos_quote(st->cur.address, q, sizeof(q)), other);
		}
		users_append(st->users, &st->cur);
		memset(&st->cur, 0, sizeof(st->cur));
		jsonpos_pop(ctx);
	}
	return 0;
}

static const struct jsonpos_field top_fields[] = {
	{ "version", f_version, true, NULL },
	{ "users", f_users, true, NULL },
};

struct users *
users_load(const char *path, char *err, size_t errlen)
{
	struct ustate st;
	struct jsonpos_ctx ctx = {
		.file = path, .err = err, .errlen = errlen, .user = &st,
	};
	json_t *root;
	char *text;
	size_t len;
	int r;

	if ((text = fsio_read_file(path, USERS_MAX_FILE, &len)) == NULL) {
		if (errno == ENOENT)
			return users_new_empty();
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	if ((root = jsonpos_load(path, text, len, err, errlen)) == NULL) {
		free(text);
		return NULL;
	}
	memset(&st, 0, sizeof(st));
	st.users = users_new_empty();
	ctx.text = text;
	ctx.len = len;
	r = jsonpos_walk(&ctx, root, top_fields, NELEM(top_fields));
	user_clear(&st.cur);
	json_decref(root);
	free(text);
	if (r == -1)
		users_free(&st.users);
	return st.users;
}

int
users_save(const struct users *u, const char *path)
{
	json_t *root, *arr;
	char *text, *withnl;
	size_t len;
	int r, saved;

	arr = json_array();
	for (size_t i = 0; u != NULL && i < u->n; i++) {
		const struct user *e = &u->v[i];

		json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I}",
		    "address", e->address, "password", e->password,
		    "quota_bytes", (json_int_t)e->quota_bytes,
		    "quota_messages", (json_int_t)e->quota_messages));
	}
	root = json_pack("{s:i, s:o}", "version", 1, "users", arr);
	text = root != NULL ? json_dumps(root, JSON_INDENT(2)) : NULL;
	json_decref(root);
	if (text == NULL) {
		errno = ENOMEM;
		return -1;
	}
	len = strlen(text);
	withnl = xmalloc(len + 2);
	memcpy(withnl, text, len);
	withnl[len++] = '\n';
	withnl[len] = '\0';
	free(text);
	r = fsio_write_atomic(path, withnl, len, 0640);
	saved = errno;
	free(withnl);
	errno = saved;
	return r;
}

int
users_set(struct users *u, const char *address, const char *password,
    unsigned iterations, char *err, size_t errlen)
{
	char hash[USERS_HASH_MAX], q[300];
	struct user entry;
	ssize_t i;
	char *a;

	if (iterations == 0)
		iterations = USERS_DEFAULT_ITERATIONS;
	if (address == NULL || password == NULL) {
		snprintf(err, errlen, "missing address or password");
		return -1;
	}
	a = xstrdup(address);
	ascii_lower(a);
	if (!conf_valid_address(a)) {
		snprintf(err, errlen, "invalid address %s (expected local@domain)",
		    jsonpos_quote(address, q, sizeof(q)));
		free(a);
		return -1;
	}
	if (iterations < USERS_MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
		snprintf(err, errlen, "iteration count %u is outside %u..%u",
		    iterations, (unsigned)USERS_MIN_ITERATIONS, MAX_ITERATIONS);
		free(a);
		return -1;
	}
	if (users_hash_password(password, iterations, hash, sizeof(hash)) == -1) {
		snprintf(err, errlen, "cannot hash the password: %s",
		    strerror(errno));
		free(a);
		return -1;
	}
	if ((i = users_index(u, a)) != -1) {
		free(a);
		free(u->v[i].password);
		u->v[i].password = xstrdup(hash);
	} else {
		memset(&entry, 0, sizeof(entry));
		entry.address = a;
		entry.password = xstrdup(hash);
		users_append(u, &entry);
	}
	OPENSSL_cleanse(hash, sizeof(hash));
	return 0;
}

int
users_del(struct users *u, const char *address)
{
	ssize_t i = users_index(u, address);

	if (i == -1)
		return -1;
	user_clear(&u->v[i]);
	memmove(&u->v[i], &u->v[i + 1], (u->n - (size_t)i - 1) * sizeof(*u->v));
	u->n--;
	return 0;
}
