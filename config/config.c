/*
 * config: load, default and validate the JSON configuration.
 *
 * The file is walked object by object in document order (see jsonpos_walk);
 * each member has a handler that checks its type and range and stores it in
 * struct conf, which starts out holding every default. Checks that join two
 * keys (an alias's domain must be one of "domains") run after the walk, so
 * key order in the file never changes what is accepted.
 */
#include "config/config.h"
#include "config/jsonpos.h"
#include "core/fsio.h"
#include "core/net.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONF_MAX_FILE	(16u * 1024 * 1024)

/* The validator's state beside the jsonpos context. */
struct cstate {
	struct conf	*conf;
	const char	*dir;		/* absolute directory of the file */
	json_t		*aliases;	/* the "aliases" object, for the cross-check */
};

static const char *const svc_names[CONF_SVC_COUNT] = {
	[CONF_SVC_SMTP] = "smtp",
	[CONF_SVC_SUBMISSION] = "submission",
	[CONF_SVC_SUBMISSIONS] = "submissions",
	[CONF_SVC_IMAP] = "imap",
	[CONF_SVC_IMAPS] = "imaps",
};

static const unsigned svc_ports[CONF_SVC_COUNT] = { 25, 587, 465, 143, 993 };

enum limit_type { LIM_U64, LIM_UNSIGNED, LIM_SIZE };

struct limit_def {
	size_t		 off;	/* in struct conf_limits */
	enum limit_type	 type;
	uint64_t	 min;
	uint64_t	 max;
	uint64_t	 def;
};

/* Member offsets in struct conf, carried in jsonpos_field.arg. */
#define CONF_OFF(member)	(&(const size_t){ offsetof(struct conf, member) })
#define LIMIT(member, type, min, max, def) \
	(&(const struct limit_def){ offsetof(struct conf_limits, member), \
	    type, min, max, def })

static struct cstate *
cst(struct jsonpos_ctx *ctx)
{
	return ctx->user;
}

/* A nested object: its field table rides in the parent field's arg. */
struct subobj {
	const struct jsonpos_field	*fields;
	size_t				 n;
};
#define SUBOBJ(t)	(&(const struct subobj){ t, NELEM(t) })

static int
f_object(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	const struct subobj *sub = f->arg;

	return jsonpos_walk(ctx, v, sub->fields, sub->n);
}

static void
strv_push(struct conf_strv *sv, char *s)
{
	sv->v = xrealloc(sv->v, (sv->n + 1) * sizeof(*sv->v));
	sv->v[sv->n++] = s;
}

static void
strv_clear(struct conf_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	FREE_NULL(sv->v);
	sv->n = 0;
}

static bool
strv_has(const struct conf_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

static void
strip_trailing_dot(char *s)
{
	size_t n = strlen(s);

	if (n > 1 && s[n - 1] == '.')
		s[n - 1] = '\0';
}

static char *
resolve(const char *dir, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	if (p[0] == '.' && p[1] == '/')
		p += 2;
	return xasprintf("%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", p);
}

bool
conf_valid_hostname(const char *s)
{
	size_t len = strlen(s), lab = 0;
	char prev = '.';

	if (len == 0 || len > 253)
		return false;
	for (; *s != '\0'; prev = *s++) {
		char ch = *s;

		if (ch == '.') {
			if (lab == 0 || prev == '-')
				return false;
			lab = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-'))
			return false;
		if ((ch == '-' && lab == 0) || ++lab > 63)
			return false;
	}
	return lab > 0 && prev != '-';
}

bool
conf_valid_address(const char *s)
{
	const char *at = strchr(s, '@');
	size_t local;

	if (at == NULL || strlen(s) > 254)
		return false;
	local = (size_t)(at - s);
	if (local == 0 || local > 64 || s[0] == '.' || at[-1] == '.')
		return false;
	for (const char *p = s; p < at; p++) {
		if (*p == '.' && p[1] == '.')
			return false;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9'))
			continue;
		/* RFC 5322 atext less '/', plus the dots checked above. */
		if (strchr("!#$%&'*+-=?^_`{|}~.", *p) == NULL)
			return false;
	}
	return conf_valid_hostname(at + 1);
}

/* A non-empty string, returned as-is (owned by the JSON). */
static const char *
get_string(struct jsonpos_ctx *ctx, json_t *v)
{
	if (jsonpos_expect(ctx, v, JSON_STRING) == -1)
		return NULL;
	if (json_string_length(v) == 0) {
		jsonpos_fail(ctx, JSONPOS_VALUE, "must not be empty");
		return NULL;
	}
	return json_string_value(v);
}

static int
get_int(struct jsonpos_ctx *ctx, json_t *v, uint64_t min, uint64_t max,
    uint64_t *r)
{
	json_int_t i;

	if (jsonpos_expect(ctx, v, JSON_INTEGER) == -1)
		return -1;
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
		return jsonpos_fail(ctx, JSONPOS_VALUE,
		    "must be between %llu and %llu", (unsigned long long)min,
		    (unsigned long long)max);
	*r = (uint64_t)i;
	return 0;
}

/*
 * How a string value is checked and stored: a single string (f_string)
 * into a char * member, or an array of them (f_list) into a conf_strv.
 */
struct strspec {
	size_t		  off;		/* of the member in struct conf */
	bool		(*valid)(const char *);	/* NULL: anything non-empty */
	const char	 *what;		/* for "invalid WHAT "VALUE" HINT" */
	const char	 *hint;
	unsigned	  flags;
};
#define S_LOWER		0x01	/* lower-case the value */
#define S_NODOT		0x02	/* strip one trailing dot (a domain) */
#define S_NULL		0x04	/* null is allowed and means "not set" */
#define S_NONEMPTY	0x08	/* a list needs at least one element */
#define S_UNIQUE	0x10	/* no element twice */

#define STR(member, valid, what, hint, flags) \
	(&(const struct strspec){ offsetof(struct conf, member), valid, what, \
	    hint, flags })

/* Check one string per spec; a new allocation, or NULL after an error. */
static char *
check_string(struct jsonpos_ctx *ctx, json_t *v, const struct strspec *sp)
{
	const char *s;
	char *r, q[300];

	if ((s = get_string(ctx, v)) == NULL)
		return NULL;
	r = xstrdup(s);
	if (sp->flags & S_LOWER)
		ascii_lower(r);
	if (sp->flags & S_NODOT)
		strip_trailing_dot(r);
	if (sp->valid != NULL && !sp->valid(r)) {
		free(r);
		jsonpos_fail(ctx, JSONPOS_VALUE, "invalid %s %s%s", sp->what,
		    jsonpos_quote(s, q, sizeof(q)), sp->hint);
		return NULL;
	}
	return r;
}

static int
f_string(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	const struct strspec *sp = f->arg;
	char **dst = (char **)(void *)((char *)cst(ctx)->conf + sp->off);
	char *r;

	if (json_is_null(v) && (sp->flags & S_NULL)) {
		FREE_NULL(*dst);
		return 0;
	}
	if (!json_is_string(v))
		return jsonpos_type_error(ctx, v, (sp->flags & S_NULL) ?
		    "a string or null" : "a string");
	if ((r = check_string(ctx, v, sp)) == NULL)
		return -1;
	free(*dst);
	*dst = r;
	return 0;
}

static int
f_list(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	const struct strspec *sp = f->arg;
	struct conf_strv *sv = (void *)((char *)cst(ctx)->conf + sp->off);
	json_t *e;
	size_t i;

	if (jsonpos_expect(ctx, v, JSON_ARRAY) == -1)
		return -1;
	if ((sp->flags & S_NONEMPTY) && json_array_size(v) == 0)
		return jsonpos_fail(ctx, JSONPOS_VALUE, "must not be empty");
	strv_clear(sv);
	json_array_foreach(v, i, e) {
		char *r;

		jsonpos_push_index(ctx, i);
		if ((r = check_string(ctx, e, sp)) == NULL)
			return -1;
		if ((sp->flags & S_UNIQUE) && strv_has(sv, r)) {
			free(r);
			return jsonpos_fail(ctx, JSONPOS_VALUE, "listed twice");
		}
		strv_push(sv, r);
		jsonpos_pop(ctx);
	}
	return 0;
}

/* A file or directory path, resolved against the config's directory. */
static int
f_path(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	char **dst = (char **)(void *)((char *)cst(ctx)->conf +
	    *(const size_t *)f->arg);
	const char *s;

	if ((s = get_string(ctx, v)) == NULL)
		return -1;
	free(*dst);
	*dst = resolve(cst(ctx)->dir, s);
	return 0;
}

static bool
valid_user(const char *s)
{
	/* The portable user name set (POSIX 3.437), and no leading '-'. */
	return strlen(s) <= 32 && s[0] != '-' &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == strlen(s);
}

static bool
valid_listen(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	return net_parse_addr(s, &ss, &sl) == 0;
}

static bool
valid_host(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	return conf_valid_hostname(s) || inet_pton(AF_INET6, s, a) == 1;
}

static bool
valid_dns_server(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1 ||
	    valid_listen(s);
}

static bool
valid_tls_mode(const char *s)
{
	return strcmp(s, "starttls") == 0 || strcmp(s, "tls") == 0;
}

static bool
valid_level(const char *s)
{
	return strcmp(s, "debug") == 0 || strcmp(s, "info") == 0 ||
	    strcmp(s, "warn") == 0 || strcmp(s, "error") == 0;
}

static bool
valid_log_format(const char *s)
{
	return strcmp(s, "kv") == 0 || strcmp(s, "json") == 0;
}

static int
add_target(struct jsonpos_ctx *ctx, struct conf_alias *a, json_t *v)
{
	static const struct strspec target = { 0, conf_valid_address,
	    "address", " (expected local@domain)", S_LOWER };
	char *t, q[300];

	if ((t = check_string(ctx, v, &target)) == NULL)
		return -1;
	if (strv_has(&a->to, t)) {
		free(t);
		return jsonpos_fail(ctx, JSONPOS_VALUE, "duplicate target %s",
		    jsonpos_quote(json_string_value(v), q, sizeof(q)));
	}
	strv_push(&a->to, t);
	return 0;
}

static int
f_aliases(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	struct conf *conf = cst(ctx)->conf;
	const char *key;
	json_t *val;
	char q[300];

	(void)f;
	if (jsonpos_expect(ctx, v, JSON_OBJECT) == -1)
		return -1;
	cst(ctx)->aliases = v;
	conf->aliases = xcalloc(json_object_size(v), sizeof(*conf->aliases));
	json_object_foreach(v, key, val) {
		struct conf_alias *a = &conf->aliases[conf->naliases++];
		json_t *e;
		size_t i;

		jsonpos_push_key(ctx, key);
		a->from = xstrdup(key);
		ascii_lower(a->from);
		if (a->from[0] == '@' ? !conf_valid_hostname(a->from + 1) :
		    !conf_valid_address(a->from))
			return jsonpos_fail(ctx, JSONPOS_KEY, "invalid alias %s "
			    "(expected \"local@domain\" or \"@domain\")",
			    jsonpos_quote(key, q, sizeof(q)));
		for (size_t k = 0; k + 1 < conf->naliases; k++)
			if (strcmp(conf->aliases[k].from, a->from) == 0)
				return jsonpos_fail(ctx, JSONPOS_KEY,
				    "alias listed twice (case does not matter)");
		if (json_is_string(val)) {
			if (add_target(ctx, a, val) == -1)
				return -1;
		} else if (json_is_array(val)) {
			if (json_array_size(val) == 0)
				return jsonpos_fail(ctx, JSONPOS_VALUE,
				    "must not be empty");
			json_array_foreach(val, i, e) {
				jsonpos_push_index(ctx, i);
				if (add_target(ctx, a, e) == -1)
					return -1;
				jsonpos_pop(ctx);
			}
		} else {
			return jsonpos_type_error(ctx, val,
			    "a string or an array of strings");
		}
		jsonpos_pop(ctx);
	}
	return 0;
}

/* Runs after the walk: "domains" may come after "aliases" in the file. */
static int
check_alias_domains(struct jsonpos_ctx *ctx)
{
	struct conf *conf = cst(ctx)->conf;
	const char *key;
	json_t *val;
	size_t i = 0;
	char q[300];

	if (cst(ctx)->aliases == NULL)
		return 0;
	json_object_foreach(cst(ctx)->aliases, key, val) {
		const char *dom = strrchr(conf->aliases[i++].from, '@') + 1;

		if (!conf_is_local_domain(conf, dom)) {
			jsonpos_push_key(ctx, "aliases");
			jsonpos_push_key(ctx, key);
			return jsonpos_fail(ctx, JSONPOS_KEY,
			    "domain %s is not one of \"domains\"",
			    jsonpos_quote(dom, q, sizeof(q)));
		}
	}
	return 0;
}

static int
f_port(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	unsigned *dst = (unsigned *)(void *)((char *)cst(ctx)->conf +
	    *(const size_t *)f->arg);
	uint64_t port;

	if (get_int(ctx, v, 1, 65535, &port) == -1)
		return -1;
	*dst = (unsigned)port;
	return 0;
}

static const struct jsonpos_field smarthost_fields[] = {
	{ "host", f_string, true, STR(smarthost.host, valid_host, "host",
	    " (expected a hostname or IP address)", S_NODOT) },
	{ "port", f_port, false, CONF_OFF(smarthost.port) },
	{ "tls", f_string, false, STR(smarthost.tls, valid_tls_mode,
	    "TLS mode", " (expected \"starttls\" or \"tls\")", 0) },
	{ "username", f_string, false, STR(smarthost.username, NULL, "", "",
	    S_NULL) },
	{ "password", f_string, false, STR(smarthost.password, NULL, "", "",
	    S_NULL) },
	{ "ca_file", f_path, false, CONF_OFF(smarthost.ca_file) },
};

static int
f_smarthost(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	struct conf_smarthost *sh = &cst(ctx)->conf->smarthost;
	bool nouser;

	(void)f;
	if (json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return jsonpos_type_error(ctx, v, "an object or null");
	sh->port = 587;
	sh->tls = xstrdup("starttls");
	if (jsonpos_walk(ctx, v, smarthost_fields, NELEM(smarthost_fields)) == -1)
		return -1;
	if ((nouser = sh->username == NULL) != (sh->password == NULL)) {
		jsonpos_push_key(ctx, nouser ? "username" : "password");
		return jsonpos_fail(ctx, JSONPOS_PARENT, "required when %s is set",
		    nouser ? "\"password\"" : "\"username\"");
	}
	return 0;
}

static const struct jsonpos_field listen_fields[] = {
#define LISTEN(svc) STR(listen[svc], valid_listen, "address", \
	" (expected \"IP:PORT\" or \"[IPV6]:PORT\")", 0)
	{ "smtp", f_list, false, LISTEN(CONF_SVC_SMTP) },
	{ "submission", f_list, false, LISTEN(CONF_SVC_SUBMISSION) },
	{ "submissions", f_list, false, LISTEN(CONF_SVC_SUBMISSIONS) },
	{ "imap", f_list, false, LISTEN(CONF_SVC_IMAP) },
	{ "imaps", f_list, false, LISTEN(CONF_SVC_IMAPS) },
#undef LISTEN
};

/* A true/false value. */
static int
f_bool(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	bool *dst = (bool *)(void *)((char *)cst(ctx)->conf +
	    *(const size_t *)f->arg);

	if (!json_is_boolean(v))
		return jsonpos_type_error(ctx, v, "true or false");
	*dst = json_is_true(v);
	return 0;
}

static const struct jsonpos_field tls_fields[] = {
	{ "cert", f_path, false, CONF_OFF(tls_cert) },
	{ "key", f_path, false, CONF_OFF(tls_key) },
	{ "plaintext_auth_loopback", f_bool, false,
	    CONF_OFF(tls_plaintext_loopback) },
};

/* relay.retry.max_age_secs and delay_notice_secs: whole seconds. */
struct secs_def {
	size_t		 off;	/* in struct conf_retry */
	uint64_t	 min;
	uint64_t	 max;
};
#define RETRY_SECS(member, min, max) \
	(&(const struct secs_def){ offsetof(struct conf_retry, member), min, max })
#define RETRY_MAX_AGE	(30u * 86400)

static int
f_retry_secs(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	const struct secs_def *d = f->arg;
	uint64_t val;

	if (get_int(ctx, v, d->min, d->max, &val) == -1)
		return -1;
	*(unsigned *)(void *)((char *)&cst(ctx)->conf->retry + d->off) =
	    (unsigned)val;
	return 0;
}

static int
f_retry_schedule(struct jsonpos_ctx *ctx, json_t *v,
    const struct jsonpos_field *f)
{
	struct conf_retry *r = &cst(ctx)->conf->retry;
	json_t *e;
	size_t i;

	(void)f;
	if (jsonpos_expect(ctx, v, JSON_ARRAY) == -1)
		return -1;
	if (json_array_size(v) == 0)
		return jsonpos_fail(ctx, JSONPOS_VALUE, "must not be empty");
	if (json_array_size(v) > CONF_RETRY_STEPS_MAX)
		return jsonpos_fail(ctx, JSONPOS_VALUE,
		    "must have at most %u entries", CONF_RETRY_STEPS_MAX);
	r->schedule_secs = xrealloc(r->schedule_secs,
	    json_array_size(v) * sizeof(*r->schedule_secs));
	r->nschedule = 0;
	json_array_foreach(v, i, e) {
		uint64_t secs;

		jsonpos_push_index(ctx, i);
		if (get_int(ctx, e, 1, 86400, &secs) == -1)
			return -1;
		r->schedule_secs[r->nschedule++] = (unsigned)secs;
		jsonpos_pop(ctx);
	}
	return 0;
}

static const unsigned retry_default_schedule[] = {
	300, 600, 1200, 2400, 3600, 7200
};

static const struct jsonpos_field retry_fields[] = {
	{ "schedule_secs", f_retry_schedule, false, NULL },
	{ "max_age_secs", f_retry_secs, false,
	    RETRY_SECS(max_age_secs, 60, RETRY_MAX_AGE) },
	{ "delay_notice_secs", f_retry_secs, false,
	    RETRY_SECS(delay_notice_secs, 0, RETRY_MAX_AGE) },
};

static int
f_retry(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	const struct conf_retry *r = &cst(ctx)->conf->retry;

	(void)f;
	if (jsonpos_walk(ctx, v, retry_fields, NELEM(retry_fields)) == -1)
		return -1;
	/* After the walk: the two keys may come in either order. */
	if (r->delay_notice_secs != 0 &&
	    r->delay_notice_secs >= r->max_age_secs) {
		jsonpos_push_key(ctx, "delay_notice_secs");
		return jsonpos_fail(ctx, JSONPOS_VALUE,
		    "must be less than max_age_secs (%u), or 0 for no notice",
		    r->max_age_secs);
	}
	return 0;
}

static const struct jsonpos_field relay_fields[] = {
	{ "smarthost", f_smarthost, false, NULL },
	{ "dns_servers", f_list, false, STR(dns_servers, valid_dns_server,
	    "DNS server", " (expected \"IP\", \"IP:PORT\" or \"[IPV6]:PORT\")", 0) },
	{ "smtp_port", f_port, false, CONF_OFF(smtp_port) },
	{ "retry", f_retry, false, NULL },
};

static const struct jsonpos_field dkim_fields[] = {
	/* It becomes SELECTOR._domainkey.DOMAIN (RFC 6376 section 3.6.2.1). */
	{ "selector", f_string, false, STR(dkim_selector, conf_valid_hostname,
	    "selector", " (letters, digits, '-' and '.')", 0) },
};

static void
store_limit(struct conf_limits *lim, const struct limit_def *d, uint64_t val)
{
	void *p = (char *)lim + d->off;

	switch (d->type) {
	case LIM_U64:
		*(uint64_t *)p = val;
		break;
	case LIM_UNSIGNED:
		*(unsigned *)p = (unsigned)val;
		break;
	case LIM_SIZE:
		*(size_t *)p = (size_t)val;
		break;
	}
}

static int
f_limit(struct jsonpos_ctx *ctx, json_t *v, const struct jsonpos_field *f)
{
	const struct limit_def *d = f->arg;
	uint64_t val;

	if (get_int(ctx, v, d->min, d->max, &val) == -1)
		return -1;
	store_limit(&cst(ctx)->conf->limits, d, val);
	return 0;
}

static const struct jsonpos_field limit_fields[] = {
	{ "max_message_bytes", f_limit, false,
	    LIMIT(max_message_bytes, LIM_U64, 1024, 1ull << 31, 50u << 20) },
	{ "max_connections", f_limit, false,
	    LIMIT(max_connections, LIM_UNSIGNED, 1, 1000000, 2000) },
	{ "max_connections_per_ip", f_limit, false,
	    LIMIT(max_connections_per_ip, LIM_UNSIGNED, 1, 100000, 20) },
	{ "smtp_line_bytes", f_limit, false,
	    LIMIT(smtp_line_bytes, LIM_SIZE, 512, 1048576, 4096) },
	{ "imap_line_bytes", f_limit, false,
	    LIMIT(imap_line_bytes, LIM_SIZE, 1024, 16777216, 65536) },
	{ "output_buffer_bytes", f_limit, false,
	    LIMIT(output_buffer_bytes, LIM_SIZE, 65536, 1073741824, 4u << 20) },
	{ "smtp_timeout_secs", f_limit, false,
	    LIMIT(smtp_timeout_secs, LIM_UNSIGNED, 1, 86400, 300) },
	{ "imap_timeout_secs", f_limit, false,
	    LIMIT(imap_timeout_secs, LIM_UNSIGNED, 1, 86400, 1800) },
	{ "login_timeout_secs", f_limit, false,
	    LIMIT(login_timeout_secs, LIM_UNSIGNED, 1, 86400, 60) },
	{ "shutdown_grace_secs", f_limit, false,
	    LIMIT(shutdown_grace_secs, LIM_UNSIGNED, 0, 300, 10) },
};

static const struct jsonpos_field log_fields[] = {
	{ "level", f_string, false, STR(log_level, valid_level, "log level",
	    " (expected \"debug\", \"info\", \"warn\" or \"error\")", 0) },
	{ "format", f_string, false, STR(log_format, valid_log_format,
	    "log format", " (expected \"kv\" or \"json\")", 0) },
};

#define HOSTNAME_HINT	" (letters, digits, '-' and '.')"

static const struct jsonpos_field top_fields[] = {
	{ "hostname", f_string, true, STR(hostname, conf_valid_hostname,
	    "hostname", HOSTNAME_HINT, S_NODOT) },
	{ "domains", f_list, true, STR(domains, conf_valid_hostname,
	    "domain", HOSTNAME_HINT, S_LOWER | S_NODOT | S_NONEMPTY | S_UNIQUE) },
	{ "data_dir", f_path, true, CONF_OFF(data_dir) },
	{ "users_file", f_path, false, CONF_OFF(users_file) },
	{ "user", f_string, false, STR(user, valid_user, "user name", "",
	    S_NULL) },
	{ "listen", f_object, false, SUBOBJ(listen_fields) },
	{ "tls", f_object, false, SUBOBJ(tls_fields) },
	{ "aliases", f_aliases, false, NULL },
	{ "relay", f_object, false, SUBOBJ(relay_fields) },
	{ "dkim", f_object, false, SUBOBJ(dkim_fields) },
	{ "limits", f_object, false, SUBOBJ(limit_fields) },
	{ "log", f_object, false, SUBOBJ(log_fields) },
	{ "sample", f_bool, false, CONF_OFF(sample) },
};

static void
set_defaults(struct conf *conf, const char *dir)
{
	conf->users_file = resolve(dir, "users.json");
	conf->tls_cert = resolve(dir, "tls/fullchain.pem");
	conf->tls_key = resolve(dir, "tls/privkey.pem");
	for (int s = 0; s < CONF_SVC_COUNT; s++) {
		strv_push(&conf->listen[s], xasprintf("0.0.0.0:%u", svc_ports[s]));
		strv_push(&conf->listen[s], xasprintf("[::]:%u", svc_ports[s]));
	}
	conf->smtp_port = 25;
	/* Keep in step with relay/retry.c's default policy. */
	conf->retry.nschedule = NELEM(retry_default_schedule);
	conf->retry.schedule_secs = xmalloc(sizeof(retry_default_schedule));
	memcpy(conf->retry.schedule_secs, retry_default_schedule,
	    sizeof(retry_default_schedule));
	conf->retry.max_age_secs = 5 * 86400;
	conf->retry.delay_notice_secs = 0;
	conf->dkim_selector = xstrdup("rmail");
	conf->log_level = xstrdup("info");
	conf->log_format = xstrdup("kv");
	for (size_t i = 0; i < NELEM(limit_fields); i++) {
		const struct limit_def *d = limit_fields[i].arg;

		store_limit(&conf->limits, d, d->def);
	}
}

/* path made absolute without touching the file system. */
static char *
absolute(const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return xstrdup(path);
	return resolve(cwd, path);
}

/* Takes ownership of abspath. */
static struct conf *
parse(const char *file, char *abspath, const char *text, size_t len,
    struct conf_error *err)
{
	struct conf *conf = xcalloc(1, sizeof(*conf));
	struct cstate st = { .conf = conf };
	struct jsonpos_ctx ctx = {
		.file = file, .text = text, .len = len,
		.err = err->msg, .errlen = sizeof(err->msg), .user = &st,
	};
	char *dir, *slash;
	json_t *root;

	conf->path = abspath;
	dir = xstrdup(abspath);
	if ((slash = strrchr(dir, '/')) != NULL) {
		slash[slash == dir ? 1 : 0] = '\0';
	} else {
		free(dir);
		dir = xstrdup(".");
	}
	st.dir = dir;
	set_defaults(conf, dir);
	root = jsonpos_load(file, text, len, err->msg, sizeof(err->msg));
	if (root == NULL ||
	    jsonpos_walk(&ctx, root, top_fields, NELEM(top_fields)) == -1 ||
	    check_alias_domains(&ctx) == -1) {
		json_decref(root);
		free(dir);
		conf_free(&conf);
		return NULL;
	}
	json_decref(root);
	free(dir);
	err->msg[0] = '\0';
	return conf;
}

struct conf *
conf_parse(const char *path, const char *text, size_t len,
    struct conf_error *err_r)
{
	struct conf_error dummy;

	return parse(path, absolute(path), text, len,
	    err_r != NULL ? err_r : &dummy);
}

struct conf *
conf_load(const char *path, struct conf_error *err_r)
{
	struct conf_error dummy;
	struct conf *conf;
	char *text, *abspath;
	size_t len;

	if (err_r == NULL)
		err_r = &dummy;
	if ((text = fsio_read_file(path, CONF_MAX_FILE, &len)) == NULL) {
		snprintf(err_r->msg, sizeof(err_r->msg), "%s: cannot read: %s",
		    path, strerror(errno));
		return NULL;
	}
	if ((abspath = realpath(path, NULL)) == NULL)
		abspath = absolute(path);
	conf = parse(path, abspath, text, len, err_r);
	free(text);
	return conf;
}

void
conf_free(struct conf **confp)
{
	struct conf *conf = *confp;

	if (conf == NULL)
		return;
	free(conf->path);
	free(conf->hostname);
	strv_clear(&conf->domains);
	free(conf->data_dir);
	free(conf->users_file);
	free(conf->user);
	for (int s = 0; s < CONF_SVC_COUNT; s++)
		strv_clear(&conf->listen[s]);
	free(conf->tls_cert);
	free(conf->tls_key);
	for (size_t i = 0; i < conf->naliases; i++) {
		free(conf->aliases[i].from);
		strv_clear(&conf->aliases[i].to);
	}
	free(conf->aliases);
	free(conf->smarthost.host);
	free(conf->smarthost.tls);
	free(conf->smarthost.username);
	free(conf->smarthost.password);
	free(conf->smarthost.ca_file);
	strv_clear(&conf->dns_servers);
	free(conf->retry.schedule_secs);
	free(conf->dkim_selector);
	free(conf->log_level);
	free(conf->log_format);
	free(conf);
	*confp = NULL;
}

bool
conf_is_local_domain(const struct conf *conf, const char *domain)
{
	size_t n;

	if (conf == NULL || domain == NULL)
		return false;
	n = strlen(domain);
	if (n > 1 && domain[n - 1] == '.')
		n--;
	for (size_t i = 0; i < conf->domains.n; i++) {
		const char *d = conf->domains.v[i];

		if (strlen(d) == n && ascii_ncasecmp(d, domain, n) == 0)
			return true;
	}
	return false;
}

const char *
conf_service_name(enum conf_service s)
{
	if ((unsigned)s >= CONF_SVC_COUNT)
		return "unknown";
	return svc_names[s];
}

const char *
conf_default_path(const char *arg)
{
	const char *env;

	if (arg != NULL && arg[0] != '\0')
		return arg;
	if ((env = getenv("RMAIL_CONFIG")) != NULL && env[0] != '\0')
		return env;
	return "/etc/rmail/rmail.json";
}
