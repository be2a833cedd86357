/* confgen: the text of a fresh config file. See confgen.h. */
#include "config/confgen.h"
#include "core/util.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Standard ports in enum conf_service order. */
static const unsigned std_ports[CONF_SVC_COUNT] = { 25, 587, 465, 143, 993 };

/* Listen keys in the order a reader expects them (enum order). */
static const char *const svc_keys[CONF_SVC_COUNT] = {
	"smtp", "submission", "submissions", "imap", "imaps"
};

unsigned
confgen_port(unsigned port_base, enum conf_service svc)
{
	assert(svc >= 0 && svc < CONF_SVC_COUNT);
	return port_base + std_ports[svc];
}

/* json_object_set_new, aborting on allocation failure like xmalloc. */
static void
set(json_t *obj, const char *key, json_t *val)
{
	if (val == NULL || json_object_set_new(obj, key, val) == -1)
		abort();
}

static void
append(json_t *arr, json_t *val)
{
	if (val == NULL || json_array_append_new(arr, val) == -1)
		abort();
}

static json_t *
listen_object(const struct confgen_opts *o)
{
	json_t *listen = json_object();

	if (listen == NULL)
		abort();
	for (int svc = 0; svc < CONF_SVC_COUNT; svc++) {
		json_t *arr = json_array();

		if (arr == NULL)
			abort();
		for (size_t i = 0; i < o->nlisten; i++) {
			char *a = xasprintf("%s:%u", o->listen[i],
			    confgen_port(o->port_base, (enum conf_service)svc));

			append(arr, json_string(a));
			free(a);
		}
		set(listen, svc_keys[svc], arr);
	}
	return listen;
}

static json_t *
aliases_object(const struct confgen_opts *o)
{
	static const char *const roles[] = { "postmaster", "abuse" };
	json_t *aliases = json_object();

	if (aliases == NULL)
		abort();
	if (o->admin == NULL)
		return aliases;
	for (size_t i = 0; i < NELEM(roles); i++) {
		char *from = xasprintf("%s@%s", roles[i], o->domain);
		json_t *to;

		/* The admin is postmaster@ itself: a mailbox, not an alias
		 * to itself. */
		if (ascii_casecmp(from, o->admin) == 0) {
			free(from);
			continue;
		}
		if ((to = json_array()) == NULL)
			abort();
		append(to, json_string(o->admin));
		set(aliases, from, to);
		free(from);
	}
	return aliases;
}

/* JSON strings must be UTF-8; a path from the command line may not be. */
static bool
all_utf8(const struct confgen_opts *o)
{
	const char *v[] = { o->hostname, o->domain, o->data_dir, o->users_file,
	    o->tls_cert, o->tls_key, o->user, o->admin };

	for (size_t i = 0; i < NELEM(v); i++) {
		json_t *s;

		if (v[i] == NULL)
			continue;
		if ((s = json_string(v[i])) == NULL)
			return false;
		json_decref(s);
	}
	for (size_t i = 0; i < o->nlisten; i++) {
		json_t *s;

		if ((s = json_string(o->listen[i])) == NULL)
			return false;
		json_decref(s);
	}
	return true;
}

char *
confgen_config_json(const struct confgen_opts *o)
{
	json_t *root, *domains, *tls, *relay, *obj;
	char *text, *out;

	assert(o->nlisten > 0 && o->nlisten <= CONFGEN_MAX_LISTEN);
	if (!all_utf8(o))
		return NULL;
	if ((root = json_object()) == NULL || (domains = json_array()) == NULL ||
	    (tls = json_object()) == NULL || (relay = json_object()) == NULL)
		abort();

	set(root, "hostname", json_string(o->hostname));
	append(domains, json_string(o->domain));
	set(root, "domains", domains);
	set(root, "data_dir", json_string(o->data_dir));
	set(root, "users_file", json_string(o->users_file));
	if (o->user != NULL)
		set(root, "user", json_string(o->user));
	set(root, "listen", listen_object(o));
	set(tls, "cert", json_string(o->tls_cert));
	set(tls, "key", json_string(o->tls_key));
	set(root, "tls", tls);
	set(root, "aliases", aliases_object(o));
	set(relay, "smarthost", json_null());
	set(relay, "dns_servers", json_array());
	set(relay, "smtp_port", json_integer(25));
	set(root, "relay", relay);
	set(root, "dkim", obj = json_object());
	set(obj, "selector", json_string("rmail"));
	set(root, "limits", obj = json_object());
	set(obj, "max_message_bytes", json_integer(52428800));
	set(root, "log", obj = json_object());
	set(obj, "level", json_string("info"));

	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (text == NULL)
		abort();
	out = xasprintf("%s\n", text);
	free(text);
	return out;
}
