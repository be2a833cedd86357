/*
 * route: recipient resolution and send-as checks. See route.h.
 *
 * The one rule that keeps rmail from being an open relay lives here: an
 * address is remote only when its domain, after normalisation, is not one
 * of ours. Everything at our domains resolves through users and aliases
 * or is unknown; nothing in a local part (%, !, quotes, a second @) is
 * ever interpreted as a further hop.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config/aliases.h"
#include "config/config.h"
#include "config/users.h"
#include "core/util.h"
#include "relay/route.h"

/* A domain: a hostname with labels of letters, digits, '-' or UTF-8
 * bytes (SMTPUTF8), or an address literal "[...]". */
static bool
valid_domain(const char *d)
{
	size_t	 n = strlen(d), label = 0;

	if (n == 0 || n > 255)
		return false;
	if (d[0] == '[')
		return n > 2 && d[n - 1] == ']' &&
		    strspn(d + 1, "0123456789abcdefABCDEF.:IPv") == n - 2;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || d[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (label == 0 && c == '-')
			return false;
		if (!isalnum(c) && c != '-' && c < 0x80)
			return false;
		label++;
	}
	return true;
}

/*
 * A local part: printable; outside a quoted string no blanks and none of
 * RFC 5322's specials (a Dot-string is atext, RFC 5321 4.1.2), so that
 * "@a:b@c" can never come out of a normalisation as a new source route
 * and "a<b" or "a,b" never reach a header as an address.
 */
static bool
valid_local(const char *l, size_t n)
{
	bool quoted = n >= 2 && l[0] == '"' && l[n - 1] == '"';

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)l[i];

		if (c < 0x20 || c == 0x7f)
			return false;
		if (!quoted && (c == ' ' || strchr("()<>[]:;@\\,\"", c) != NULL))
			return false;
	}
	return true;
}

char *
route_normalize(const char *path)
{
	const char	*p = path, *at;
	char		*out, *dom;
	size_t		 n, llen;

	if (path == NULL)
		return NULL;
	/* RFC 5321 4.1.2: "@a,@b:" is parsed and then ignored. */
	if (*p == '@') {
		if ((p = strchr(p, ':')) == NULL)
			return NULL;
		p++;
	}
	n = strlen(p);
	if (n == 0 || n > ROUTE_ADDR_MAX || (at = strrchr(p, '@')) == NULL)
		return NULL;
	llen = (size_t)(at - p);
	if (!valid_local(p, llen))
		return NULL;
	out = xstrdup(p);
	dom = out + llen + 1;
	n = strlen(dom);
	if (n > 1 && dom[n - 1] == '.')
		dom[--n] = '\0';
	ascii_lower(dom);
	if (!valid_domain(dom)) {
		free(out);
		return NULL;
	}
	return out;
}

static bool
list_has(const struct route_list *l, const char *addr)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].addr, addr) == 0)
			return true;
	return false;
}

static void
list_add(struct route_list *l, const char *addr, bool local)
{
	if (list_has(l, addr))
		return;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n].addr = xstrdup(addr);
	l->v[l->n].local = local;
	l->n++;
}

void
route_list_clear(struct route_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].addr);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* One resolution: the addresses already expanded (loop cut), the count
 * of targets found (including ones the list already had). */
struct walk {
	const struct conf	*conf;
	const struct users	*users;
	struct route_list	*out;
	struct route_list	 seen;
	size_t			 found;
};

static void	 expand(struct walk *, const char *addr, int depth);

static void
add_target(struct walk *w, const char *target, int depth)
{
	char		*t;
	const char	*at;

	if ((t = route_normalize(target)) == NULL)
		return;
	at = strrchr(t, '@');
	if (conf_is_local_domain(w->conf, at + 1)) {
		ascii_lower(t);
		expand(w, t, depth + 1);
	} else if (w->out->n < ROUTE_MAX_TARGETS) {
		/* Forwarding out: the relay takes it. */
		list_add(w->out, t, false);
		w->found++;
	}
	free(t);
}

static void
add_targets(struct walk *w, const struct conf_strv *to, int depth)
{
	for (size_t i = 0; i < to->n; i++)
		add_target(w, to->v[i], depth);
}

/* Resolve addr (lower-cased, at one of our domains). Catch-all only when
 * with_catchall: a subaddress tries its base first. */
static bool
resolve_local(struct walk *w, const char *addr, int depth)
{
	const struct user	*u;
	const struct conf_strv	*to;

	if ((u = users_find(w->users, addr)) != NULL) {
		if (w->out->n < ROUTE_MAX_TARGETS || list_has(w->out,
		    u->address)) {
			list_add(w->out, u->address, true);
			w->found++;
		}
		return true;
	}
	if ((to = aliases_lookup_exact(w->conf, addr)) != NULL) {
		add_targets(w, to, depth);
		return true;
	}
	return false;
}

static void
expand(struct walk *w, const char *addr, int depth)
{
	const struct conf_strv	*to;
	const char		*at = strrchr(addr, '@'), *plus;
	char			*base;

	if (depth > ROUTE_MAX_DEPTH || list_has(&w->seen, addr))
		return;		/* alias loop, or too deep */
	list_add(&w->seen, addr, true);
	if (resolve_local(w, addr, depth))
		return;
	/* user+tag@domain -> user@domain (RFC 5233 subaddressing). */
	plus = memchr(addr, '+', (size_t)(at - addr));
	if (plus != NULL && plus > addr) {
		base = xasprintf("%.*s%s", (int)(plus - addr), addr, at);
		if (!list_has(&w->seen, base)) {
			list_add(&w->seen, base, true);
			if (resolve_local(w, base, depth)) {
				free(base);
				return;
			}
		}
		free(base);
	}
	if ((to = aliases_lookup_catchall(w->conf, at + 1)) != NULL)
		add_targets(w, to, depth);
}

enum route_status
route_resolve(const struct conf *conf, const struct users *users,
    const char *rcpt, struct route_list *out)
{
	struct walk	 w;
	char		*addr;
	const char	*at;

	if ((addr = route_normalize(rcpt)) == NULL)
		return ROUTE_INVALID;
	at = strrchr(addr, '@');
	if (!conf_is_local_domain(conf, at + 1)) {
		list_add(out, addr, false);
		free(addr);
		return ROUTE_REMOTE;
	}
	ascii_lower(addr);
	memset(&w, 0, sizeof(w));
	w.conf = conf;
	w.users = users;
	w.out = out;
	expand(&w, addr, 0);
	route_list_clear(&w.seen);
	free(addr);
	return w.found > 0 ? ROUTE_OK : ROUTE_UNKNOWN;
}

bool
route_may_send_as(const struct conf *conf, const struct users *users,
    const char *user, const char *addr)
{
	struct route_list	 l = { NULL, 0 };
	bool			 ok = false;

	if (addr[0] == '\0')
		return true;	/* the null sender (bounces) */
	if (route_resolve(conf, users, addr, &l) == ROUTE_OK)
		for (size_t i = 0; i < l.n && !ok; i++)
			ok = l.v[i].local &&
			    ascii_casecmp(l.v[i].addr, user) == 0;
	route_list_clear(&l);
	return ok;
}
