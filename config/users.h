/*
 * users: the user directory, a JSON file separate from the config.
 *
 *   {"version": 1, "users": [
 *     {"address": "alice@example.com",
 *      "password": "$pbkdf2-sha256$600000$<salt b64>$<hash b64>",
 *      "quota_bytes": 0, "quota_messages": 0}]}
 *
 * Hashes are PBKDF2-HMAC-SHA256 with a 16-byte random salt and a stored
 * iteration count (never below USERS_MIN_ITERATIONS). Verification is
 * constant-time. Hashing is slow on purpose: servers call users_verify from
 * a worker thread, never from the loop.
 */
#ifndef RMAIL_USERS_H
#define RMAIL_USERS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define USERS_MIN_ITERATIONS		100000
#define USERS_DEFAULT_ITERATIONS	600000

struct users;

struct user {
	char		*address;	/* lower-cased local@domain */
	char		*password;	/* the encoded hash string */
	uint64_t	 quota_bytes;	/* 0: unlimited */
	uint64_t	 quota_messages;	/* 0: unlimited */
};

/* Load path. A missing file is an empty directory. NULL with err set:
 * "FILE: cannot read: REASON", or "FILE:LINE:COL: KEYPATH: what is wrong"
 * (e.g. "users[3].password: iteration count 1000 is below the minimum
 * 100000"; "FILE:LINE:COL: invalid JSON: ..." for syntax errors). */
struct users	*users_load(const char *path, char *err, size_t errlen);
struct users	*users_new_empty(void);
void		 users_free(struct users **);
/* Write atomically (mode 0640). 0, or -1 with errno. */
int		 users_save(const struct users *, const char *path);

size_t		 users_count(const struct users *);
const struct user *users_at(const struct users *, size_t i);
/* Case-insensitive lookup; NULL when unknown. */
const struct user *users_find(const struct users *, const char *address);
/* Add or replace the password (address lower-cased; a new user gets no
 * quotas; iterations 0 means USERS_DEFAULT_ITERATIONS). Returns 0, or -1
 * with a reason in err when the address is invalid (conf_valid_address)
 * or iterations is outside USERS_MIN_ITERATIONS..10000000. */
int		 users_set(struct users *, const char *address,
		    const char *password, unsigned iterations, char *err, size_t errlen);
/* 0, or -1 when unknown. */
int		 users_del(struct users *, const char *address);

/* Encode a new hash of password into out (at least USERS_HASH_MAX);
 * iterations 0 means the default. 0, or -1 with errno (EINVAL for an
 * iteration count out of range, ERANGE for a short out, EIO). */
#define USERS_HASH_MAX	160
int		 users_hash_password(const char *password, unsigned iterations,
		    char *out, size_t outlen);
/* Constant-time check of password against an encoded hash. A malformed
 * hash never verifies. */
bool		 users_verify_hash(const char *encoded, const char *password);
/* A hash of a random password with the default iteration count, for
 * verifying against when the user is unknown (same timing either way). */
const char	*users_dummy_hash(void);

#endif
