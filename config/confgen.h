/*
 * confgen: the text of a fresh config file, for rmail init.
 *
 * Builds the JSON with jansson (which only config/ may use) so the CLI
 * never formats JSON by hand. The result is not validated here: the
 * caller runs it through conf_parse before writing it anywhere.
 */
#ifndef RMAIL_CONFGEN_H
#define RMAIL_CONFGEN_H

#include <stddef.h>

#include "config/config.h"

#define CONFGEN_MAX_LISTEN	4

struct confgen_opts {
	const char	*hostname;
	const char	*domain;	/* the one domain */
	const char	*data_dir;	/* absolute */
	const char	*users_file;	/* absolute */
	const char	*tls_cert;	/* absolute */
	const char	*tls_key;	/* absolute */
	const char	*user;		/* account to drop to as root; NULL: omit */
	/* Addresses every service listens on, as written in the config:
	 * "0.0.0.0", "[::]", "127.0.0.1". At least one. */
	const char	*listen[CONFGEN_MAX_LISTEN];
	size_t		 nlisten;
	unsigned	 port_base;	/* 0: the standard ports */
	/* postmaster@ and abuse@ DOMAIN point here (RFC 2142), except the
	 * one that is the admin's own address; may be NULL: no aliases. */
	const char	*admin;
};

/*
 * The port a service gets with port_base: base + its standard port
 * (25, 587, 465, 143, 993 in conf_service order).
 */
unsigned	 confgen_port(unsigned port_base, enum conf_service);

/*
 * The config as pretty-printed JSON text ending in a newline, in a new
 * allocation the caller frees; NULL when a value is not valid UTF-8.
 */
char		*confgen_config_json(const struct confgen_opts *);

#endif
