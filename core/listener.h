/*
 * listener: the server's listening sockets and the connections they
 * accept, with a global connection cap and a per-IP cap per service.
 *
 * A connection over a cap is refused before any TLS handshake: on a
 * plaintext service the protocol's busy reply is written first, on an
 * implicit-TLS service the socket is simply closed.
 */
#ifndef RMAIL_LISTENER_H
#define RMAIL_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

struct ev_loop;
struct conn;
struct tls_ctx;
struct listeners;

struct listen_service {
	const char	*name;		/* "smtp", "imaps", ...: log svc= */
	bool		 implicit_tls;
	/* Start a session on a new conn (set its proto, queue the greeting). */
	void		(*open)(struct conn *, void *arg);
	/* The busy reply, CRLF-terminated, for a plaintext service; per_ip
	 * tells which cap was hit. May be NULL. */
	const char	*(*busy)(void *arg, bool per_ip);
	void		*arg;
	/* Per-connection settings; the tls field is ignored (see below). */
	size_t		 line_max;
	size_t		 out_max;
	unsigned	 timeout_secs;
};

struct listeners *listeners_new(struct ev_loop *);
/* Closes listening sockets and aborts every connection. */
void		 listeners_free(struct listeners **);

/*
 * Bind addr ("IP:PORT", "[V6]:PORT") for svc, which must outlive the
 * listeners. 0, or -1 with a message in err.
 */
int		 listeners_add(struct listeners *, struct listen_service *svc,
		    const char *addr, char *err, size_t errlen);
/* Caps: total connections, and connections per IP per service. */
void		 listeners_set_limits(struct listeners *, unsigned max_total,
		    unsigned max_per_ip);
/* The context new implicit-TLS connections use (not owned). */
void		 listeners_set_tls(struct listeners *, struct tls_ctx *);
/* Stop accepting (shutdown); the sockets close. */
void		 listeners_stop(struct listeners *);
size_t		 listeners_nconns(const struct listeners *);
/* Call fn on every open connection (e.g. to say goodbye). */
void		 listeners_foreach(struct listeners *,
		    void (*fn)(struct conn *, void *), void *arg);

#endif
