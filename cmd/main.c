/* rmail: command dispatch, help and version. */
#include "cmd/cmd.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct command {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
	const char	*summary;
	const char	*help;
} commands[] = {
	{ "serve", cmd_serve, "rmail serve [-c PATH]",
	  "run the mail server in the foreground",
	  "Binds every configured listener and serves SMTP, submission and IMAP.\n"
	  "Started as root, it drops to the config's \"user\" once the ports are\n"
	  "bound (and refuses to serve anything but loopback as root). Logs one\n"
	  "line per event to stderr (log.format: key=value or json). SIGHUP\n"
	  "reloads config, certificates, users and aliases; SIGTERM or SIGINT\n"
	  "stops: no new connections, transactions in progress may finish,\n"
	  "IMAP clients get * BYE, exit within limits.shutdown_grace_secs.\n"
	  "Under systemd (Type=notify) it reports READY=1, RELOADING=1 and\n"
	  "STOPPING=1 on $NOTIFY_SOCKET.\n" },
	{ "reload", cmd_reload, "rmail reload [-c PATH]",
	  "check the config, then make the running server reload it",
	  "Loads the config, users file, aliases, certificate and key as the\n"
	  "server would; when anything is wrong, prints why and exits 1 without\n"
	  "touching the server. Otherwise sends SIGHUP to the server named by\n"
	  "DATA/rmail.pid and waits for it to confirm (exit 0) or refuse (exit 1,\n"
	  "with its reason). Live connections keep their TLS session; new ones\n"
	  "use the new certificate. Changed listen addresses need a restart.\n" },
	{ "init", cmd_init,
	  "rmail init [-c PATH] --domain D --hostname H [--data-dir DIR] [--listen ADDR]\n"
	  "           [--port-base N] [--admin USER@D --password-stdin] [--public-ip IP]...\n"
	  "           [--cert PEM --key PEM] [--non-interactive] [--force]",
	  "create a config, users file, certificate, DKIM key and data directory",
	  "Writes the config (default /etc/rmail/rmail.json), the users file, a\n"
	  "self-signed certificate for the hostname (or uses --cert/--key), a DKIM\n"
	  "key and the data directory layout, then prints the DNS records to\n"
	  "publish (also saved as DATA/dns-records.txt) and the next steps.\n"
	  "On a terminal without --domain/--hostname it asks for what it needs.\n"
	  "--public-ip IP (repeatable) replaces the addresses found on the\n"
	  "interfaces in the A/AAAA, SPF and PTR records. --listen ADDR binds every\n"
	  "service on ADDR; --port-base N puts them at N+25, N+587, N+465, N+143\n"
	  "and N+993. Refuses to overwrite without --force.\n" },
	{ "check-config", cmd_check_config, "rmail check-config [-c PATH]",
	  "validate the config and users file",
	  "Loads and validates the config and the users file; prints each error\n"
	  "with file:line:column and key. Exit 0 when valid, 2 otherwise.\n" },
	{ "user", cmd_user,
	  "rmail user add|passwd|del|list [-c PATH] [ADDRESS] [--password-stdin]",
	  "manage users and passwords",
	  "add and passwd read the password from stdin with --password-stdin,\n"
	  "else prompt twice with echo off. A running server picks changes up.\n" },
	{ "alias", cmd_alias,
	  "rmail alias add|del|list [-c PATH] [FROM [TO]]",
	  "manage aliases",
	  "FROM is an address or @domain (catch-all); TO an address. del without\n"
	  "TO removes the whole alias. A running server picks changes up.\n" },
	{ "queue", cmd_queue, "rmail queue list|show|delete|flush [-c PATH] [ID]",
	  "inspect and manage the delivery queue",
	  "list prints one line per queued message: id, age, size, sender and\n"
	  "each recipient as ADDRESS:STATE, STATE one of pending (not tried\n"
	  "yet), deferred[next=IN attempts=N error=\"...\"] (will be retried),\n"
	  "delivered, bounced (failed, sender told) or failed (failed, null\n"
	  "sender), with (remote) after non-local ones. show ID prints the\n"
	  "envelope (state, attempts, next try, last error per recipient) and\n"
	  "the message's headers.\n"
	  "delete ID removes a message for good. flush asks the running server\n"
	  "to retry every waiting message now (SIGUSR1). Exit 0 on success, 1\n"
	  "when the message does not exist or no server runs (flush).\n" },
	{ "deliver", cmd_deliver, "rmail deliver [-c PATH] RECIPIENT < message",
	  "deliver a message from stdin into a local mailbox (LDA)",
	  "Appends the message to the INBOX of RECIPIENT, or of the local users\n"
	  "its alias names, with Return-Path (-f SENDER, default <>) and\n"
	  "Delivered-To prepended and bare LF made CRLF; -v reports the UID.\n"
	  "Exit 0 delivered (on disk, fsynced), 65 message too large, 67 no such\n"
	  "user, 75 temporary failure (bad config, store error: retry later),\n"
	  "2 bad usage.\n" },
	{ "import", cmd_import, "rmail import maildir [-c PATH] --user ADDRESS DIR",
	  "import a Maildir/Maildir++ (Dovecot) account",
	  "Copies DIR (cur/ and new/ into INBOX, each .A.B folder into A/B) into\n"
	  "the store of ADDRESS, keeping flags, dovecot-keywords and the file\n"
	  "mtime as INTERNALDATE; line ends become CRLF. Imported Maildir names\n"
	  "are recorded per mailbox (.imported), so running it again only adds\n"
	  "what is new. When DIR/subscriptions exists, the mailboxes it lists\n"
	  "are subscribed and the other imported folders unsubscribed (INBOX is\n"
	  "left alone). Exit 0 when everything was imported, 1 when something\n"
	  "failed (reported) or the user or DIR does not exist.\n" },
	{ "dkim", cmd_dkim,
	  "rmail dkim generate|show|sign [-c PATH] DOMAIN [--ed25519] [--force]",
	  "DKIM keys: create them, print their DNS records, sign a message",
	  "generate writes a 2048-bit RSA key (and an Ed25519 one with --ed25519)\n"
	  "to DATA_DIR/dkim/DOMAIN.SELECTOR.rsa.key (.ed25519.key), mode 0600,\n"
	  "and prints the TXT records to publish; it refuses to replace a key\n"
	  "without --force. show prints those records: SELECTOR._domainkey.DOMAIN\n"
	  "for RSA, SELECTOR-ed25519._domainkey.DOMAIN for Ed25519 (SELECTOR is\n"
	  "dkim.selector). sign reads a message on stdin and writes it to stdout\n"
	  "with one DKIM-Signature per key prepended (bare LF made CRLF), to\n"
	  "check keys and DNS with any verifier. Exit 0 done, 1 no key, a bad key\n"
	  "or not a local domain, 2 bad usage or config.\n" },
	{ "mx", cmd_mx, "rmail mx [-c PATH] [--dns-server IP[:PORT]] DOMAIN",
	  "show where the relay would send mail for a domain",
	  "Resolves DOMAIN as the outbound relay does (relay.dns_servers, else\n"
	  "/etc/resolv.conf; --dns-server overrides both and needs no config):\n"
	  "MX records by preference, random order among equal preferences, the\n"
	  "implicit MX when there is none, A and AAAA of every host. Prints one\n"
	  "line per host: preference, name, addresses in the order tried (IPv6\n"
	  "and IPv4 alternate, IPv6 first). Exit 0; 1 on a null MX (RFC 7505),\n"
	  "NXDOMAIN, no usable host or a temporary DNS failure (reported); 2 bad\n"
	  "usage or config.\n" },
	{ "diagnose", cmd_diagnose,
	  "rmail diagnose [-c PATH] [--dns-server IP[:PORT]] [--public-ip IP]...\n"
	  "               [--json] [--probe-domain D] [--timeout SECS]",
	  "check the setup and say how to fix what is wrong",
	  "Runs every check and prints one line each: PASS, INFO, SKIP, WARN or\n"
	  "FAIL, the check, what it found, and under a WARN or FAIL the fix (the\n"
	  "command to run, the record to publish). Local checks: config, users\n"
	  "file, DKIM key files (present, mode 0600), data dir writable, disk\n"
	  "and inodes free; the certificate (loads, matches its key, covers the\n"
	  "hostname, not expired, 14 days' warning, chain complete, self-signed);\n"
	  "each listener answers its greeting over loopback (TLS ports complete\n"
	  "a handshake), naming the process that holds a port rmail should;\n"
	  "the queue (deferred messages, oldest, recent failures). DNS checks:\n"
	  "outbound port 25 (to the first MX of --probe-domain, default\n"
	  "gmail.com), the hostname's A/AAAA and PTR, each domain's MX, SPF,\n"
	  "DKIM, DMARC, and blocklists. The public addresses are --public-ip,\n"
	  "else the interfaces' global ones; --dns-server picks the resolver;\n"
	  "--timeout bounds each network check (default 5 s). --json prints a\n"
	  "JSON array of {\"check\", \"status\", \"found\", \"fix\"}.\n"
	  "Exit 0 when nothing FAILs, 1 otherwise, 2 bad usage.\n" },
	{ "version", NULL, "rmail version", "print the version", "" },
	{ "help", NULL, "rmail help [COMMAND]", "show help", "" },
};

static const struct command *
find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int
cmd_help(const char *name)
{
	const struct command *c;

	if (name == NULL) {
		printf("rmail %s: a complete mail server for a small domain\n\n"
		    "usage: rmail COMMAND [ARGS]\n\ncommands:\n", RMAIL_VERSION);
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			printf("  %-14s %s\n", commands[i].name, commands[i].summary);
		printf("\nThe config path is -c PATH, else $RMAIL_CONFIG, else "
		    "/etc/rmail/rmail.json.\nRun 'rmail help COMMAND' for details.\n");
		return 0;
	}
	if ((c = find_command(name)) == NULL) {
		fprintf(stderr, "rmail: unknown command '%s'; run 'rmail help'\n", name);
		return 2;
	}
	printf("usage: %s\n\n%s%s", c->usage, c->summary, *c->help ? "\n\n" : "\n");
	fputs(c->help, stdout);
	return 0;
}

void
cmd_usage_error(const char *command, const char *fmt, ...)
{
	const struct command *c = find_command(command);
	va_list ap;

	fputs("rmail: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c != NULL)
		fprintf(stderr, "usage: %s\n", c->usage);
	exit(2);
}

int
main(int argc, char **argv)
{
	const struct command *c;

	/* A client hanging up must never kill the server. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		cmd_help(NULL);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(NULL);
	if (strcmp(argv[1], "--version") == 0)
		argv[1] = "version";
	if ((c = find_command(argv[1])) == NULL) {
		fprintf(stderr, "rmail: unknown command '%s'\n"
		    "usage: rmail COMMAND [ARGS]; run 'rmail help'\n", argv[1]);
		return 2;
	}
	if (strcmp(c->name, "version") == 0) {
		if (argc > 2)
			cmd_usage_error("version", "unexpected argument '%s'", argv[2]);
		printf("rmail %s\n", RMAIL_VERSION);
		return 0;
	}
	if (strcmp(c->name, "help") == 0) {
		if (argc > 3)
			cmd_usage_error("help", "too many arguments");
		return cmd_help(argc > 2 ? argv[2] : NULL);
	}
	return c->fn(argc - 1, argv + 1);
}
