/*
 * config: the one JSON configuration file, loaded, defaulted and validated.
 *
 * Every optional key has a default; every value is type- and range-checked;
 * unknown keys are refused with the nearest valid key suggested. An error
 * names file, line, column and key path, e.g.
 *   /etc/rmail/rmail.json:12:14: limits.max_message_bytes: must be between 1024 and 2147483648
 * Relative paths in the file are resolved against the file's directory.
 */
#ifndef RMAIL_CONFIG_H
#define RMAIL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum conf_service {
	CONF_SVC_SMTP,		/* 25, MX */
	CONF_SVC_SUBMISSION,	/* 587, STARTTLS */
	CONF_SVC_SUBMISSIONS,	/* 465, implicit TLS */
	CONF_SVC_IMAP,		/* 143, STARTTLS */
	CONF_SVC_IMAPS,		/* 993, implicit TLS */
	CONF_SVC_COUNT
};

/* "smtp", "submission", ... as used for listen keys and log svc=. */
const char	*conf_service_name(enum conf_service);

struct conf_strv {
	char	**v;
	size_t	  n;
};

struct conf_alias {
	char			*from;	/* lower-cased; "@domain" for a catch-all */
	struct conf_strv	 to;	/* one or more target addresses */
};

struct conf_limits {
	uint64_t	max_message_bytes;	/* default 50 MiB */
	unsigned	max_connections;	/* all services together; default 2000 */
	unsigned	max_connections_per_ip;	/* per service; default 20 */
	size_t		smtp_line_bytes;	/* command line incl. CRLF; default 4096 */
	size_t		imap_line_bytes;	/* command line excl. literals; default 65536 */
	size_t		output_buffer_bytes;	/* per connection; default 4 MiB */
	unsigned	smtp_timeout_secs;	/* idle between commands; default 300 */
	unsigned	imap_timeout_secs;	/* idle, authenticated; default 1800 */
	unsigned	login_timeout_secs;	/* before authentication; default 60 */
	unsigned	shutdown_grace_secs;	/* SIGTERM to forced close; default 2 */
};

struct conf_smarthost {
	char		*host;		/* NULL when no smarthost */
	unsigned	 port;
	char		*tls;		/* "starttls" or "tls" */
	char		*username;
	char		*password;
	char		*ca_file;	/* CAs to trust for it; NULL: system's */
};

/* relay.retry: the outbound retry schedule (relay/retry.h). */
#define CONF_RETRY_STEPS_MAX	64
struct conf_retry {
	unsigned	*schedule_secs;	/* delay after failure 1, 2, ...; the
					 * last repeats; 1..86400 each, at least
					 * one; default 300 600 1200 2400 3600 7200 */
	size_t		 nschedule;
	unsigned	 max_age_secs;	/* give up after; 60..30 days; default 5 days */
	unsigned	 delay_notice_secs;	/* warn the sender after; 0 (default): never */
};

struct conf {
	char			*path;		/* absolute path of the file loaded */
	char			*hostname;
	struct conf_strv	 domains;	/* lower-cased, at least one */
	char			*data_dir;	/* absolute */
	char			*users_file;	/* absolute */
	char			*user;		/* account to drop to as root; may be NULL */
	struct conf_strv	 listen[CONF_SVC_COUNT];	/* "ADDR:PORT", "[V6]:PORT" */
	char			*tls_cert;	/* absolute */
	char			*tls_key;	/* absolute */
	/* tls.plaintext_auth_loopback: IMAP LOGIN/AUTHENTICATE without TLS
	 * from loopback peers (tests, benchmarks, a local webmail). */
	bool			 tls_plaintext_loopback;
	struct conf_alias	*aliases;
	size_t			 naliases;
	struct conf_smarthost	 smarthost;
	struct conf_strv	 dns_servers;	/* "IP" or "IP:PORT" */
	unsigned		 smtp_port;	/* outbound; default 25 */
	struct conf_retry	 retry;
	char			*dkim_selector;	/* default "rmail" */
	char			*log_level;	/* "debug" | "info" | "warn" | "error" */
	char			*log_format;	/* "kv" (key=value) | "json" */
	struct conf_limits	 limits;
	/* The placeholder a package installs: valid, but not a server's
	 * config. serve and check-config refuse it; init replaces it. */
	bool			 sample;
};

/*
 * msg is one of (FILE as given to conf_load/conf_parse; LINE and COL
 * 1-based, COL in characters; KEYPATH like listen.smtp[1] or
 * aliases."postmaster@example.com", "(top)" for the root):
 *   FILE: cannot read: STRERROR
 *   FILE:LINE:COL: invalid JSON: JANSSON'S TEXT
 *   FILE:LINE:COL: KEYPATH: what is wrong
 * The position is the offending value's, or the key's for unknown and
 * duplicate keys, or the enclosing object's for a missing required key.
 */
struct conf_error {
	char	msg[1024];	/* "FILE:LINE:COL: KEY: what is wrong" */
};

/*
 * Load and validate path. Returns a new conf, or NULL with err_r->msg set.
 * Never prints.
 */
struct conf	*conf_load(const char *path, struct conf_error *err_r);
/* Same, from text in memory (path used for messages and relative paths). */
struct conf	*conf_parse(const char *path, const char *text, size_t len,
		    struct conf_error *err_r);
void		 conf_free(struct conf **);

/* True when domain (any case, trailing dot ignored) is one of ours. */
bool		 conf_is_local_domain(const struct conf *, const char *domain);

/* The config path: the -c argument, else $RMAIL_CONFIG, else /etc/rmail/rmail.json. */
const char	*conf_default_path(const char *arg);

/*
 * The syntax rmail accepts for names (shared with users and aliases):
 * a hostname or domain is letters, digits, '-' and '.', labels of 1..63
 * not starting or ending with '-', at most 253 bytes, no trailing dot;
 * an address is LOCAL@DOMAIN with LOCAL 1..64 bytes of RFC 5322 atext
 * other than '/' (it names a directory) with single inner dots, at most
 * 254 bytes in all. Case is not checked: callers lower-case first.
 */
bool		 conf_valid_hostname(const char *);
bool		 conf_valid_address(const char *);

#endif
