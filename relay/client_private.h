/*
 * client_private: what client.c (the session) and client_reply.c (reply
 * parsing and results) share. relay/client*.c only.
 */
#ifndef RMAIL_RELAY_CLIENT_PRIVATE_H
#define RMAIL_RELAY_CLIENT_PRIVATE_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/net.h"
#include "relay/client.h"

struct conn;
struct tls_ctx;

#define CLIENT_SVC	"relay"
#define REPLY_LINE_MAX	4096		/* RFC 5321 4.5.3.1.5 says 512 */
#define REPLY_TEXT_MAX	1024		/* kept of a reply, for results and logs */

enum cl_state {
	CL_START,	/* the next attempt runs from the timer */
	CL_CONNECT,	/* TCP connect under way */
	CL_GREETING,	/* waiting for 220 (implicit TLS first, if any) */
	CL_EHLO,
	CL_HELO,	/* EHLO was refused with 5xx */
	CL_STARTTLS,	/* waiting for STARTTLS's 220 */
	CL_HANDSHAKE,	/* STARTTLS handshake running */
	CL_AUTH_PLAIN,	/* AUTH PLAIN with its response sent */
	CL_AUTH_LOGIN,	/* AUTH LOGIN sent; the username comes next */
	CL_AUTH_USER,	/* username sent; the password comes next */
	CL_AUTH_PASS,	/* password sent */
	CL_MAIL,	/* waiting for MAIL's reply */
	CL_RCPT,	/* waiting for the reply to RCPT rcpt_next */
	CL_DATA,	/* waiting for DATA's 354 */
	CL_BODY,	/* writing the message */
	CL_DOT,		/* waiting for the reply to the final dot */
	CL_DONE,	/* every recipient decided; the report runs from the timer */
};

#define EXT_STARTTLS	0x01u
#define EXT_PIPELINING	0x02u
#define EXT_SIZE	0x04u
#define EXT_SMTPUTF8	0x08u
#define EXT_8BITMIME	0x10u
#define EXT_AUTH_PLAIN	0x20u
#define EXT_AUTH_LOGIN	0x40u

struct cl_host {
	char			*name;
	struct sockaddr_storage	*addrs;
	size_t			 naddrs;
};

/* One recipient: the public result plus what backs its strings. */
struct cl_rcpt {
	char			*addr;
	bool			 decided;
	bool			 accepted;	/* RCPT got 2xx: the data's reply decides */
	char			*text;
	char			 tls_version[16];
	struct smtp_rcpt_result	 res;
};

/* A reply being read: lines joined as "250 first second". */
struct cl_reply {
	int		 code;
	bool		 open;		/* lines seen, the last one not yet */
	char		 enhanced[16];
	char		 text[REPLY_TEXT_MAX];
	size_t		 len;
};

/* Why an attempt failed, for when no session gets through. */
struct cl_failure {
	int		 code;
	char		 enhanced[16];
	char		 text[REPLY_TEXT_MAX + 128];
};

struct smtp_client {
	struct ev_loop		*loop;
	ev_io			 cio;		/* connect: writable */
	ev_timer		 timer;		/* connect timeout, or "soon" */
	int			 cfd;		/* socket being connected, or -1 */
	struct conn		*conn;		/* our reference, while a session runs */
	enum cl_state		 state;
	smtp_client_done_cb	*done;
	void			*arg;

	/* The job, copied. */
	char			*id;
	struct cl_host		*hosts;
	size_t			 nhosts;
	unsigned		 port;
	char			*helo;
	enum smtp_tls_policy	 policy;
	struct tls_ctx		*tls;
	char			*username;
	char			*password;
	char			*sender;
	struct cl_rcpt		*rcpts;
	size_t			 nrcpts;
	const char		*data;
	size_t			 len;
	bool			 need_smtputf8;
	bool			 eightbit;	/* data has bytes >= 0x80 */
	struct smtp_client_timeouts to;

	/* Which address: hosts[hi].addrs[ai]. */
	size_t			 hi, ai;
	unsigned		 attempts;
	bool			 retry_plain;	/* same address again, no STARTTLS */
	struct cl_failure	 last;		/* of the latest failed attempt */
	bool			 all_perm;	/* every attempt got a 5xx */

	/* The current session. */
	const char		*host;
	char			 ip[NET_IPSTRLEN];
	unsigned		 cport;		/* the port connected to */
	bool			 no_starttls;	/* opportunistic TLS failed here before */
	bool			 through;	/* this session decides the recipients */
	bool			 authed;
	bool			 tls_on;
	bool			 tls_verified;
	char			 tls_version[16];
	unsigned		 ext;		/* EXT_* from EHLO */
	uint64_t		 size_max;	/* SIZE's value; 0: none announced */
	size_t			 rcpt_next;	/* RCPT whose reply comes next */
	size_t			 naccepted;
	size_t			 pos;		/* message bytes written */
	bool			 bol;		/* the last byte written was LF */
	struct cl_reply		 r;
};

/* The queue id for log lines, "-" when the job had none. */
static inline const char *
cl_log_id(const struct smtp_client *cl)
{
	return cl->id != NULL ? cl->id : "-";
}

/* client_reply.c */

/*
 * Add one reply line to cl->r (EHLO keywords go to cl->ext and
 * cl->size_max while in CL_EHLO). 1 when the reply is complete, 0 when
 * more lines follow, -1 when the line is not a reply (RFC 5321 4.2).
 */
int	 smtp_client_reply_line(struct smtp_client *, const char *line,
	    size_t len);

/* Decide rc with this outcome, at the current host; text is copied. */
void	 smtp_client_decide(struct smtp_client *, struct cl_rcpt *rc,
	    enum smtp_rcpt_status, int code, const char *enhanced,
	    const char *text);
/* Every recipient not decided yet (only_accepted: those RCPT accepted). */
void	 smtp_client_decide_rest(struct smtp_client *, bool only_accepted,
	    enum smtp_rcpt_status, int code, const char *enhanced,
	    const char *text);
/* Decide rc (NULL: as smtp_client_decide_rest) by the reply just read. */
void	 smtp_client_decide_reply(struct smtp_client *, struct cl_rcpt *rc,
	    bool only_accepted);
/* Log every recipient's result and call done; all must be decided. */
void	 smtp_client_report(struct smtp_client *);

/* An address we can put between <> on a command line. */
bool	 smtp_client_valid_addr(const char *);

#endif
