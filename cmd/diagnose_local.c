/*
 * diagnose_local: the checks that need nothing but this host
 * (cmd/diagnose.h): 1 config, users, DKIM key files, data dir, disk;
 * 2 TLS certificate; 3 listeners; 8 queue.
 *
 * The certificate is read with libcrypto's X509 API (no TLS involved);
 * the listeners are reached through core/tls.h like any client.
 */
#include "cmd/diagnose.h"
#include "config/config.h"
#include "config/users.h"
#include "core/net.h"
#include "core/tls.h"
#include "core/util.h"
#include "relay/dkim.h"
#include "relay/queue_env.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Disk: WARN under either. */
#define DIAG_DISK_MIN_BYTES	(1024ull * 1024 * 1024)
#define DIAG_DISK_MIN_PCT	10
#define DIAG_INODES_MIN_PCT	10
/* Certificate: WARN when it expires sooner. */
#define DIAG_CERT_WARN_DAYS	14
/* Queue: WARN over either. */
#define DIAG_QUEUE_OLD_SECS	86400
#define DIAG_QUEUE_DEFERRED_MAX	100
/* Greeting line kept for messages. */
#define DIAG_GREETING_MAX	512

/* ---- 1: config, users, DKIM keys, data dir, disk ---- */

static void
diag_dkim_key(struct diag *d, const struct conf *cf, const char *domain,
    enum dkim_alg alg)
{
	char *path, *fix, err[512];
	struct dkim_key *key;
	struct stat st;

	if ((path = dkim_key_path(cf->data_dir, domain, cf->dkim_selector,
	    alg)) == NULL) {
		diag_add(d, "dkim.key", DIAG_FAIL, "use a domain and "
		    "dkim.selector of letters, digits, '-' and '.'",
		    "%s: no usable key file name for selector %s", domain,
		    cf->dkim_selector);
		return;
	}
	if (stat(path, &st) != 0) {
		/* Ed25519 keys are optional; RSA is what every verifier knows. */
		if (alg == DKIM_ALG_RSA) {
			fix = xasprintf("rmail dkim generate %s", domain);
			diag_add(d, "dkim.key", DIAG_FAIL, fix, "%s: %s: %s",
			    domain, path, strerror(errno));
			free(fix);
		}
		free(path);
		return;
	}
	if ((key = dkim_key_load(path, err, sizeof(err))) == NULL) {
		fix = xasprintf("rmail dkim generate %s --force", domain);
		diag_add(d, "dkim.key", DIAG_FAIL, fix, "%s: %s", domain, err);
		free(fix);
	} else if ((st.st_mode & 077) != 0) {
		fix = xasprintf("chmod 600 %s", path);
		diag_add(d, "dkim.key", DIAG_WARN, fix, "%s: %s is mode %04o: "
		    "readable by others than the service", domain, path,
		    (unsigned)(st.st_mode & 07777));
		free(fix);
	} else
		diag_add(d, "dkim.key", DIAG_PASS, NULL, "%s: %s (%s %d, mode "
		    "%04o)", domain, path, dkim_alg_name(alg),
		    dkim_key_bits(key), (unsigned)(st.st_mode & 07777));
	dkim_key_free(&key);
	free(path);
}

static void
diag_data_dir(struct diag *d, const struct conf *cf)
{
	char *tmp, *fix;
	struct statvfs vfs;
	int fd;

	tmp = xasprintf("%s/.diagnose.XXXXXX", cf->data_dir);
	if ((fd = mkstemp(tmp)) < 0) {
		fix = xasprintf("create %s writable by the service's account"
		    "%s%s", cf->data_dir, cf->user ? " " : "",
		    cf->user ? cf->user : "");
		diag_add(d, "data_dir", DIAG_FAIL, fix, "%s: cannot create a "
		    "file: %s", cf->data_dir, strerror(errno));
		free(fix);
		free(tmp);
		return;
	}
	close(fd);
	unlink(tmp);
	free(tmp);
	diag_add(d, "data_dir", DIAG_PASS, NULL, "%s is writable", cf->data_dir);

	if (statvfs(cf->data_dir, &vfs) != 0) {
		diag_add(d, "disk", DIAG_SKIP, NULL, "statvfs %s: %s",
		    cf->data_dir, strerror(errno));
		return;
	}
	{
		unsigned long long total = (unsigned long long)vfs.f_blocks * vfs.f_frsize;
		unsigned long long avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
		unsigned pct = total ? (unsigned)(avail * 100 / total) : 100;
		unsigned ipct = vfs.f_files ?
		    (unsigned)((unsigned long long)vfs.f_favail * 100 / vfs.f_files) : 100;
		char ib[64] = "";

		if (vfs.f_files)
			snprintf(ib, sizeof(ib), ", %u%% of inodes free", ipct);
		fix = xasprintf("free space on the file system of %s (old "
		    "mail, logs) or grow it", cf->data_dir);
		diag_add(d, "disk", avail < DIAG_DISK_MIN_BYTES ||
		    pct < DIAG_DISK_MIN_PCT || ipct < DIAG_INODES_MIN_PCT ?
		    DIAG_WARN : DIAG_PASS, fix, "%.1f GB free (%u%%)%s",
		    (double)avail / 1e9, pct, ib);
		free(fix);
	}
}

/* ---- 2: the TLS certificate ---- */

/* An ASN1_TIME as seconds since the epoch; -1 when unreadable. */
static time_t
diag_asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	return timegm(&tm);
}

static void
diag_name(X509_NAME *n, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long l;

	buf[0] = '\0';
	if (b == NULL)
		return;
	X509_NAME_print_ex(b, n, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
	l = BIO_get_mem_data(b, &p);
	snprintf(buf, len, "%.*s", (int)(l < 0 ? 0 : l), p);
	BIO_free(b);
}

/* The certificates of a PEM file, leaf first; NULL with err set. */
static STACK_OF(X509) *
diag_read_certs(const char *path, char *err, size_t errlen)
{
	STACK_OF(X509) *sk;
	X509 *x;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	sk = sk_X509_new_null();
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	fclose(f);
	ERR_clear_error();
	if (sk_X509_num(sk) == 0) {
		snprintf(err, errlen, "%s: no PEM certificate", path);
		sk_X509_free(sk);
		return NULL;
	}
	return sk;
}

static void
diag_tls(struct diag *d, const struct conf *cf)
{
	char err[512], subj[256], iss[256], *fix, *certbot;
	STACK_OF(X509) *chain;
	X509 *leaf;
	EVP_PKEY *key = NULL;
	FILE *f;
	time_t now = time(NULL), nb, na;
	bool self_signed;

	/* Not certbot's own paths: the server (user rmail) cannot read
	 * them. The deploy hook copies them where it can, at every renewal. */
	certbot = xasprintf("certbot certonly --standalone -d %s --deploy-hook "
	    "/etc/letsencrypt/renewal-hooks/deploy/rmail, with the hook from "
	    "docs/operations.md (\"Certificates with certbot\"): it copies the "
	    "certificate to %s and %s, readable by the server, and runs rmail "
	    "reload", cf->hostname, cf->tls_cert, cf->tls_key);
	if ((chain = diag_read_certs(cf->tls_cert, err, sizeof(err))) == NULL) {
		diag_add(d, "tls.cert", DIAG_FAIL, certbot, "%s", err);
		free(certbot);
		return;
	}
	leaf = sk_X509_value(chain, 0);
	diag_name(X509_get_subject_name(leaf), subj, sizeof(subj));
	diag_name(X509_get_issuer_name(leaf), iss, sizeof(iss));
	diag_add(d, "tls.cert", DIAG_PASS, NULL, "%s: %s, issued by %s",
	    cf->tls_cert, subj, iss);

	if ((f = fopen(cf->tls_key, "r")) == NULL)
		snprintf(err, sizeof(err), "%s", strerror(errno));
	else {
		snprintf(err, sizeof(err), "no PEM private key");
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (key == NULL)
		diag_add(d, "tls.key", DIAG_FAIL, certbot, "%s: %s", cf->tls_key,
		    err);
	else if (X509_check_private_key(leaf, key) != 1)
		diag_add(d, "tls.key", DIAG_FAIL, "set tls.key to the key the "
		    "certificate was issued for", "%s does not match the "
		    "certificate's public key", cf->tls_key);
	else
		diag_add(d, "tls.key", DIAG_PASS, NULL, "%s matches the "
		    "certificate", cf->tls_key);
	EVP_PKEY_free(key);
	ERR_clear_error();

	if (X509_check_host(leaf, cf->hostname, 0, 0, NULL) == 1)
		diag_add(d, "tls.hostname", DIAG_PASS, NULL, "the certificate "
		    "covers %s", cf->hostname);
	else
		diag_add(d, "tls.hostname", DIAG_FAIL, certbot, "the "
		    "certificate does not cover %s (subject %s)", cf->hostname,
		    subj);

	nb = diag_asn1_time(X509_get0_notBefore(leaf));
	na = diag_asn1_time(X509_get0_notAfter(leaf));
	{
		char when[32] = "?";
		struct tm tm;

		if (na != -1 && gmtime_r(&na, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
		if (na == -1 || nb == -1)
			diag_add(d, "tls.expiry", DIAG_FAIL, certbot, "unreadable "
			    "validity dates");
		else if (now >= na)
			diag_add(d, "tls.expiry", DIAG_FAIL, certbot, "expired on "
			    "%s", when);
		else if (now < nb)
			diag_add(d, "tls.expiry", DIAG_FAIL, certbot, "not valid "
			    "yet (check the clock)");
		else if (na - now < DIAG_CERT_WARN_DAYS * 86400)
			diag_add(d, "tls.expiry", DIAG_WARN, certbot, "expires in "
			    "%lld days, on %s", (long long)((na - now) / 86400),
			    when);
		else
			diag_add(d, "tls.expiry", DIAG_PASS, NULL, "valid until %s "
			    "(%lld days)", when, (long long)((na - now) / 86400));
	}

	self_signed = X509_check_issued(leaf, leaf) == X509_V_OK;
	if (self_signed) {
		diag_add(d, "tls.chain", DIAG_WARN, certbot, "self-signed "
		    "certificate (%s): other servers and mail clients will not "
		    "trust it", subj);
	} else {
		X509_STORE *store = X509_STORE_new();
		X509_STORE_CTX *vc = X509_STORE_CTX_new();
		int rc, e;

		X509_STORE_set_default_paths(store);
		X509_STORE_CTX_init(vc, store, leaf, chain);
		/* Expiry is tls.expiry's business. */
		X509_STORE_CTX_set_flags(vc, X509_V_FLAG_NO_CHECK_TIME);
		rc = X509_verify_cert(vc);
		e = X509_STORE_CTX_get_error(vc);
		if (rc == 1)
			diag_add(d, "tls.chain", DIAG_PASS, NULL, "chain of %d "
			    "verifies to a trusted root", sk_X509_num(chain));
		else if (e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		    e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) {
			fix = xasprintf("put the intermediate certificates after "
			    "the server's in %s (certbot's fullchain.pem)",
			    cf->tls_cert);
			diag_add(d, "tls.chain", DIAG_FAIL, fix, "chain "
			    "incomplete: %s", X509_verify_cert_error_string(e));
			free(fix);
		} else
			diag_add(d, "tls.chain", DIAG_WARN, certbot, "chain does "
			    "not verify: %s", X509_verify_cert_error_string(e));
		X509_STORE_CTX_free(vc);
		X509_STORE_free(store);
	}
	ERR_clear_error();
	sk_X509_pop_free(chain, X509_free);
	free(certbot);
}

/* ---- 3: listeners ---- */

/*
 * The inode of a socket listening on TCP port (at addr or a wildcard
 * address of its family) from /proc/net/tcp or tcp6; 0 when none.
 */
static unsigned long
diag_listen_inode(const struct sockaddr_storage *ss)
{
	bool v6 = ss->ss_family == AF_INET6;
	unsigned port = ntohs(v6 ? ((const struct sockaddr_in6 *)ss)->sin6_port :
	    ((const struct sockaddr_in *)ss)->sin_port);
	const void *want = v6 ?
	    (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr :
	    (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
	size_t alen = v6 ? 16 : 4;
	static const uint8_t zero[16];
	unsigned long found = 0;
	char line[512];
	FILE *f;

	if ((f = fopen(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", "r")) == NULL)
		return 0;
	while (found == 0 && fgets(line, sizeof(line), f) != NULL) {
		char hex[33];
		unsigned lport, st;
		unsigned long inode;
		uint8_t a[16];

		if (sscanf(line, " %*u: %32[0-9A-Fa-f]:%x %*s %x %*s %*s %*s "
		    "%*s %*s %lu", hex, &lport, &st, &inode) != 4)
			continue;
		if (st != 0x0a || lport != port || strlen(hex) != alen * 2)
			continue;
		/* Each 32-bit word is printed as the host sees it. */
		for (size_t w = 0; w < alen / 4; w++) {
			char word[9];
			uint32_t v;

			memcpy(word, hex + w * 8, 8);
			word[8] = '\0';
			v = (uint32_t)strtoul(word, NULL, 16);
			memcpy(a + w * 4, &v, 4);
		}
		if (memcmp(a, want, alen) == 0 || memcmp(a, zero, alen) == 0)
			found = inode;
	}
	fclose(f);
	return found;
}

/* The process holding socket inode: its name into name, its pid; -1
 * when not found (another user's process when we are not root). */
static pid_t
diag_inode_owner(unsigned long inode, char *name, size_t namelen)
{
	char want[64], path[600], link[64];
	struct dirent *pe, *fe;
	DIR *proc, *fds;
	pid_t found = -1;

	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	if ((proc = opendir("/proc")) == NULL)
		return -1;
	while (found < 0 && (pe = readdir(proc)) != NULL) {
		if (pe->d_name[0] < '1' || pe->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", pe->d_name);
		if ((fds = opendir(path)) == NULL)
			continue;
		while ((fe = readdir(fds)) != NULL) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%s/fd/%s",
			    pe->d_name, fe->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, want) == 0) {
				found = (pid_t)atoi(pe->d_name);
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	if (found > 0) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", (int)found);
		name[0] = '\0';
		if ((f = fopen(path, "r")) != NULL) {
			if (fgets(name, (int)namelen, f) != NULL)
				name[strcspn(name, "\n")] = '\0';
			fclose(f);
		}
		if (name[0] == '\0')
			str_lcpy(name, "?", namelen);
	}
	return found;
}

/* A blocking TCP socket connected to ss within secs, with read and write
 * timeouts of secs; -1 with errno. */
static int
diag_connect(const struct sockaddr_storage *ss, socklen_t len, unsigned secs)
{
	struct timeval tv = { .tv_sec = secs };
	struct pollfd pfd;
	int fd, fl, e;
	socklen_t el = sizeof(e);

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, (const struct sockaddr *)ss, len) != 0) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)secs * 1000) != 1) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
			goto fail;
		if (e != 0) {
			errno = e;
			goto fail;
		}
	}
	fcntl(fd, F_SETFL, fl);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Read the first line (up to CRLF) into buf, printable ASCII only. 0, or
 * -1 with a reason in buf. */
static int
diag_read_line(int fd, struct ssl_st *ssl, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		char c;
		size_t got = 0;

		if (ssl != NULL) {
			if (tls_read(ssl, &c, 1, &got) != TLS_OK || got != 1)
				break;
		} else if (read(fd, &c, 1) != 1)
			break;
		if (c == '\n')
			break;
		if (c == '\r')
			continue;
		buf[n++] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	buf[n] = '\0';
	if (n == 0) {
		snprintf(buf, len, "no greeting (timed out or closed)");
		return -1;
	}
	return 0;
}

static void
diag_listener(struct diag *d, const struct diag_ctx *ctx, struct tls_ctx *tc,
    enum conf_service svc, const char *addr)
{
	bool tls = svc == CONF_SVC_SUBMISSIONS || svc == CONF_SVC_IMAPS;
	bool imap = svc == CONF_SVC_IMAP || svc == CONF_SVC_IMAPS;
	const char *expect = imap ? "* OK" : "220";
	char check[64], name[64], line[DIAG_GREETING_MAX], tlsver[32] = "";
	char *fix;
	struct sockaddr_storage ss;
	struct ssl_st *ssl = NULL;
	unsigned long inode;
	socklen_t len;
	pid_t pid = -1;
	int fd;

	snprintf(check, sizeof(check), "listen.%s", conf_service_name(svc));
	if (net_parse_addr(addr, &ss, &len) != 0) {
		diag_add(d, check, DIAG_FAIL, "correct the listen address in the "
		    "config", "%s: not ADDR:PORT", addr);
		return;
	}
	/* A wildcard address is reached over loopback. */
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
			sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
			sin6->sin6_addr = in6addr_loopback;
	}
	if ((inode = diag_listen_inode(&ss)) != 0)
		pid = diag_inode_owner(inode, name, sizeof(name));
	if (pid > 0 && strcmp(name, "rmail") != 0) {
		fix = xasprintf("stop %s (pid %d) or move rmail's %s listener "
		    "elsewhere, then restart rmail", name, (int)pid,
		    conf_service_name(svc));
		diag_add(d, check, DIAG_FAIL, fix, "%s: taken by %s (pid %d)",
		    addr, name, (int)pid);
		free(fix);
		return;
	}
	if ((fd = diag_connect(&ss, len, ctx->timeout_secs)) < 0) {
		if (errno == ECONNREFUSED && inode == 0)
			diag_add(d, check, DIAG_FAIL, "start it: rmail serve (or "
			    "systemctl start rmail), and read its log",
			    "%s: not listening: is rmail serve running?", addr);
		else
			diag_add(d, check, DIAG_FAIL, "check the firewall and "
			    "that rmail serve is running", "%s: cannot connect: "
			    "%s", addr, strerror(errno));
		return;
	}
	if (tls && tc != NULL) {
		ssl = tls_connect_new(tc, fd, NULL);
		if (tls_handshake(ssl) != TLS_OK) {
			diag_add(d, check, DIAG_FAIL, "check tls.cert and tls.key "
			    "and the server's log", "%s: TLS handshake failed: %s",
			    addr, tls_last_error());
			tls_free(&ssl);
			close(fd);
			return;
		}
		snprintf(tlsver, sizeof(tlsver), "%s, ", tls_version(ssl));
	}
	if (diag_read_line(fd, ssl, line, sizeof(line)) != 0 ||
	    strncmp(line, expect, strlen(expect)) != 0) {
		char who[96] = "";

		if (pid > 0)
			snprintf(who, sizeof(who), " (%s, pid %d)", name, (int)pid);
		fix = xasprintf("make sure rmail serve owns %s%s", addr,
		    tls ? " and that it speaks TLS there" : "");
		diag_add(d, check, DIAG_FAIL, fix, "%s: something else answers%s: "
		    "%s", addr, who, line);
		free(fix);
	} else
		diag_add(d, check, DIAG_PASS, NULL, "%s: %s%s greeting", addr,
		    tlsver, imap ? "* OK" : "220");
	if (ssl != NULL) {
		tls_shutdown(ssl);
		tls_free(&ssl);
	}
	close(fd);
}

static void
diag_listeners(struct diag *d, const struct diag_ctx *ctx)
{
	const struct conf *cf = ctx->conf;
	struct tls_ctx *tc;
	char err[256];

	if ((tc = tls_client_ctx_new(false, NULL, err, sizeof(err))) == NULL)
		diag_add(d, "listen", DIAG_SKIP, NULL, "no TLS client: %s", err);
	for (int s = 0; s < CONF_SVC_COUNT; s++)
		for (size_t i = 0; i < cf->listen[s].n; i++)
			diag_listener(d, ctx, tc, (enum conf_service)s,
			    cf->listen[s].v[i]);
	tls_ctx_free(&tc);
}

/* ---- 8: the queue ---- */

static void
diag_age(time_t secs, char *buf, size_t len)
{
	if (secs < 3600)
		snprintf(buf, len, "%lldm", (long long)secs / 60);
	else if (secs < 2 * 86400)
		snprintf(buf, len, "%lldh", (long long)secs / 3600);
	else
		snprintf(buf, len, "%lldd", (long long)secs / 86400);
}

static void
diag_queue(struct diag *d, const struct conf *cf)
{
	char *qdir, *edir, *fix, err[256], age[32] = "-";
	size_t nmsg = 0, deferred = 0, failed = 0, bad = 0;
	time_t now = time(NULL), oldest = 0;
	struct dirent *de;
	DIR *dir;

	qdir = xasprintf("%s/" QUEUE_DIRNAME, cf->data_dir);
	edir = xasprintf("%s/" QUEUE_ENVDIR, qdir);
	if ((dir = opendir(edir)) == NULL) {
		if (errno == ENOENT)
			diag_add(d, "queue", DIAG_PASS, NULL, "empty (no %s yet)",
			    edir);
		else
			diag_add(d, "queue", DIAG_WARN, "make the data dir "
			    "readable by the service", "%s: %s", edir,
			    strerror(errno));
		goto done;
	}
	while ((de = readdir(dir)) != NULL) {
		struct queue_msgenv e;
		size_t nl = strlen(de->d_name);
		bool def = false, fail = false;
		char id[QUEUE_ID_MAX + 8];
		struct stat st;
		char *path;

		if (de->d_name[0] == '.' || nl <= 5 || nl - 5 >= sizeof(id) ||
		    strcmp(de->d_name + nl - 5, ".json") != 0)
			continue;
		memcpy(id, de->d_name, nl - 5);
		id[nl - 5] = '\0';
		if (queue_msgenv_load(qdir, id, &e, err, sizeof(err)) != 0) {
			bad++;
			continue;
		}
		nmsg++;
		if (oldest == 0 || e.received < oldest)
			oldest = e.received;
		for (size_t i = 0; i < e.n; i++) {
			if (e.t[i].state == QUEUE_T_PENDING && e.t[i].attempts > 0)
				def = true;
			if (e.t[i].state == QUEUE_T_FAILED)
				fail = true;
		}
		deferred += def;
		/* The envelope is rewritten with each result: its mtime
		 * dates the failure. */
		path = queue_env_path(qdir, id);
		if (fail && stat(path, &st) == 0 && now - st.st_mtime < 86400)
			failed++;
		free(path);
		queue_msgenv_clear(&e);
	}
	closedir(dir);
	if (nmsg > 0)
		diag_age(now > oldest ? now - oldest : 0, age, sizeof(age));
	fix = xasprintf("rmail queue list -c %s shows each recipient's last "
	    "error; rmail queue flush retries now", cf->path);
	if (bad > 0)
		snprintf(err, sizeof(err), ", %zu unreadable envelope%s", bad,
		    bad == 1 ? "" : "s");
	else
		err[0] = '\0';
	diag_add(d, "queue", (nmsg > 0 && now - oldest > DIAG_QUEUE_OLD_SECS) ||
	    deferred > DIAG_QUEUE_DEFERRED_MAX || bad > 0 ? DIAG_WARN : DIAG_PASS,
	    fix, "%zu message%s, %zu deferred, oldest %s, %zu with failed "
	    "recipients in the last 24 h%s", nmsg, nmsg == 1 ? "" : "s",
	    deferred, age, failed, err);
	free(fix);
done:
	free(edir);
	free(qdir);
}

void
diag_check_local(struct diag *d, const struct diag_ctx *ctx)
{
	const struct conf *cf = ctx->conf;

	if (cf == NULL) {
		diag_add(d, "local", DIAG_SKIP, NULL, "no valid config: users, "
		    "DKIM keys, data dir, TLS, listeners and queue not checked");
		return;
	}
	diag_add(d, "config", DIAG_PASS, NULL, "%s is valid", cf->path);
	if (ctx->users != NULL) {
		size_t n = users_count(ctx->users);

		if (access(cf->users_file, R_OK) != 0)
			diag_add(d, "users", DIAG_WARN, "rmail user add "
			    "ADDRESS", "%s: %s: no accounts", cf->users_file,
			    strerror(errno));
		else if (n == 0)
			diag_add(d, "users", DIAG_WARN, "rmail user add "
			    "ADDRESS", "%s holds no accounts", cf->users_file);
		else
			diag_add(d, "users", DIAG_PASS, NULL, "%s: %zu account%s",
			    cf->users_file, n, n == 1 ? "" : "s");
	}
	for (size_t i = 0; i < cf->domains.n; i++)
		for (int a = 0; a < DKIM_ALG_COUNT; a++)
			diag_dkim_key(d, cf, cf->domains.v[i], (enum dkim_alg)a);
	diag_data_dir(d, cf);
	diag_tls(d, cf);
	diag_listeners(d, ctx);
	diag_queue(d, cf);
}
