/* common: helpers shared by the CLI subcommands. See common.h. */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "config/config.h"
#include "config/users.h"
#include "core/fsio.h"
#include "core/tls.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static const struct cmd_opt *
find_opt(const struct cmd_opt *opts, size_t nopts, const char *name, size_t len)
{
	for (size_t i = 0; i < nopts; i++)
		if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

size_t
cmd_parse_args(const char *command, int argc, char **argv,
    const struct cmd_opt *opts, size_t nopts, const char **pos_r, size_t maxpos)
{
	size_t npos = 0;
	bool only_pos = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *val;
		const struct cmd_opt *o;
		size_t len;

		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (npos == maxpos)
				cmd_usage_error(command, "unexpected argument '%s'", a);
			pos_r[npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = true;
			continue;
		}
		eq = strchr(a, '=');
		len = eq != NULL ? (size_t)(eq - a) : strlen(a);
		if ((o = find_opt(opts, nopts, a, len)) == NULL)
			cmd_usage_error(command, "unknown option '%.*s'", (int)len, a);
		if (!o->has_arg) {
			if (eq != NULL)
				cmd_usage_error(command, "option '%s' takes no value", o->name);
			*o->set_r = true;
			continue;
		}
		if (eq != NULL)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			cmd_usage_error(command, "option '%s' needs a value", o->name);
		*o->val_r = val;
	}
	return npos;
}

void
cmd_free_password(char **pw)
{
	if (*pw == NULL)
		return;
	explicit_bzero(*pw, strlen(*pw));
	FREE_NULL(*pw);
}

/* Refuse what can never be a usable password. */
static bool
password_ok(const char *pw, size_t len)
{
	if (len == 0) {
		fprintf(stderr, "rmail: empty password refused\n");
		return false;
	}
	if (len > CMD_PASSWORD_MAX) {
		fprintf(stderr, "rmail: password longer than %d bytes refused\n",
		    CMD_PASSWORD_MAX);
		return false;
	}
	if (strlen(pw) != len) {
		fprintf(stderr, "rmail: password holds a NUL byte\n");
		return false;
	}
	return true;
}

static char *
read_stdin_password(void)
{
	char *line = NULL, *pw;
	size_t cap = 0;
	ssize_t n;

	n = getline(&line, &cap, stdin);
	if (n == -1) {
		fprintf(stderr, "rmail: --password-stdin: %s\n", ferror(stdin) ?
		    strerror(errno) : "no password on standard input");
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	pw = NULL;
	if (password_ok(line, (size_t)n))
		pw = xstrndup(line, (size_t)n);
	explicit_bzero(line, cap);
	free(line);
	return pw;
}

/* The terminal whose echo is off, so a signal can turn it back on. */
static volatile sig_atomic_t tty_fd = -1;
static struct termios tty_saved;

static void
tty_signal(int sig)
{
	if (tty_fd != -1)
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Prompt on fd and read one line (no echo). Returns its length, or -1 on
 * EOF/error; buf holds at most CMD_PASSWORD_MAX + 1 bytes plus NUL. */
static ssize_t
tty_read_line(int fd, const char *prompt, char *buf, size_t buflen)
{
	size_t n = 0;
	char c;

	if (write(fd, prompt, strlen(prompt)) == -1)
		return -1;
	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n' || c == '\r')
			break;
		if (n + 1 < buflen)
			buf[n] = c;
		n++;	/* keep counting: too long is reported, not cut */
	}
	buf[n < buflen ? n : buflen - 1] = '\0';
	return (ssize_t)n;
}

static char *
tty_password(const char *address)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa, old[NELEM(sigs)];
	struct termios noecho;
	char p1[CMD_PASSWORD_MAX + 2], p2[CMD_PASSWORD_MAX + 2], *prompt;
	char *pw = NULL;
	ssize_t n1, n2;
	int fd;

	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1 ||
	    tcgetattr(fd, &tty_saved) == -1) {
		fprintf(stderr, "rmail: no terminal to ask for the password on "
		    "(/dev/tty: %s); give it with --password-stdin\n", strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NELEM(sigs); i++)
		sigaction(sigs[i], &sa, &old[i]);
	noecho = tty_saved;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	noecho.c_lflag |= ECHONL;
	tty_fd = fd;
	if (tcsetattr(fd, TCSAFLUSH, &noecho) == -1) {
		fprintf(stderr, "rmail: cannot turn off echo on /dev/tty: %s\n",
		    strerror(errno));
		goto out;
	}
	prompt = xasprintf("New password for %s: ", address);
	n1 = tty_read_line(fd, prompt, p1, sizeof(p1));
	free(prompt);
	n2 = n1 == -1 ? -1 : tty_read_line(fd, "Repeat the password: ", p2, sizeof(p2));
	if (n1 == -1 || n2 == -1)
		fprintf(stderr, "\nrmail: no password entered\n");
	else if (n1 != n2 || strcmp(p1, p2) != 0)
		fprintf(stderr, "rmail: the passwords do not match\n");
	else if (password_ok(p1, (size_t)n1))
		pw = xstrdup(p1);
out:
	tcsetattr(fd, TCSAFLUSH, &tty_saved);
	tty_fd = -1;
	for (size_t i = 0; i < NELEM(sigs); i++)
		sigaction(sigs[i], &old[i], NULL);
	close(fd);
	explicit_bzero(p1, sizeof(p1));
	explicit_bzero(p2, sizeof(p2));
	return pw;
}

char *
cmd_read_password(bool from_stdin, const char *address)
{
	return from_stdin ? read_stdin_password() : tty_password(address);
}

struct conf *
cmd_load_config(const char *c_arg)
{
	struct conf_error err;
	struct conf *conf;

	if ((conf = conf_load(conf_default_path(c_arg), &err)) == NULL)
		fprintf(stderr, "rmail: %s\n", err.msg);
	else if (conf->sample) {
		fprintf(stderr, "rmail: %s\n", cmd_sample_msg(conf->path));
		conf_free(&conf);
	}
	return conf;
}

const char *
cmd_sample_msg(const char *path)
{
	static char msg[PATH_MAX + 160];

	snprintf(msg, sizeof(msg), "%s: this is the sample config the package "
	    "installed; create the real one with 'rmail init --domain DOMAIN "
	    "--hostname HOST' (see 'rmail help init')", path);
	return msg;
}

int
cmd_load_runtime(const char *path, struct conf **conf_r, struct users **users_r,
    struct tls_ctx **tls_r, char *err, size_t errlen)
{
	struct conf_error cerr;

	*conf_r = NULL;
	*users_r = NULL;
	*tls_r = NULL;
	if ((*conf_r = conf_load(path, &cerr)) == NULL) {
		snprintf(err, errlen, "%s", cerr.msg);
		return -1;
	}
	if ((*conf_r)->sample) {
		snprintf(err, errlen, "%s", cmd_sample_msg((*conf_r)->path));
		goto fail;
	}
	if ((*users_r = users_load((*conf_r)->users_file, err, errlen)) == NULL)
		goto fail;
	if ((*tls_r = tls_ctx_new((*conf_r)->tls_cert, (*conf_r)->tls_key, err,
	    errlen)) == NULL)
		goto fail;
	return 0;
fail:
	users_free(users_r);
	conf_free(conf_r);
	return -1;
}

struct users *
cmd_load_users(const struct conf *conf)
{
	struct users *users;
	char err[1024];

	if ((users = users_load(conf->users_file, err, sizeof(err))) == NULL)
		fprintf(stderr, "rmail: %s\n", err);
	return users;
}

const char *
cmd_addr_domain(const char *address)
{
	const char *at = strrchr(address, '@');

	if (at == NULL || at == address || at[1] == '\0')
		return NULL;
	return at + 1;
}

void
cmd_owner_get(const char *path, struct cmd_owner *owner_r)
{
	struct stat st;

	memset(owner_r, 0, sizeof(*owner_r));
	if (stat(path, &st) == 0) {
		owner_r->known = true;
		owner_r->uid = st.st_uid;
		owner_r->gid = st.st_gid;
	}
}

void
cmd_owner_restore(const char *path, const struct cmd_owner *owner)
{
	struct stat st;

	if (!owner->known || geteuid() != 0 || stat(path, &st) == -1)
		return;
	if (st.st_uid == owner->uid && st.st_gid == owner->gid)
		return;
	if (chown(path, owner->uid, owner->gid) == -1)
		fprintf(stderr, "rmail: warning: cannot give %s back to uid %u "
		    "gid %u: %s\n", path, (unsigned)owner->uid,
		    (unsigned)owner->gid, strerror(errno));
}

/*
 * Is pid an rmail process? Guards against a stale pid file whose number
 * now belongs to something else. Without /proc there is no way to tell,
 * so the pid file is trusted.
 */
static bool
looks_like_rmail(pid_t pid)
{
	char path[64], *text;
	const char *base;
	size_t n;
	bool yes = false;

	if (access("/proc/self/comm", R_OK) == -1)
		return true;
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	if ((text = fsio_read_file(path, 4096, &n)) != NULL)
		yes = strncmp(text, "rmail", 5) == 0;
	free(text);
	if (yes)
		return true;
	/* Renamed binaries (rmail-dev) or wrappers: look at argv[0]. */
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	if ((text = fsio_read_file(path, 1 << 20, &n)) == NULL)
		return false;
	base = strrchr(text, '/');	/* argv[0] ends at the first NUL */
	base = base != NULL ? base + 1 : text;
	yes = n > 0 && strncmp(base, "rmail", 5) == 0;
	free(text);
	return yes;
}

int
cmd_notify_server(const char *data_dir)
{
	return cmd_signal_server(data_dir, SIGHUP);
}

int
cmd_drop_privileges(const struct conf *cf, char *err, size_t errlen)
{
	struct passwd *pw;

	if ((geteuid() != 0 && getuid() != 0) || cf->user == NULL)
		return 0;
	if ((pw = getpwnam(cf->user)) == NULL) {
		snprintf(err, errlen, "%s: user \"%s\" does not exist", cf->path,
		    cf->user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "%s: \"user\" %s is root; name an "
		    "unprivileged account", cf->path, cf->user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		snprintf(err, errlen, "dropping privileges to %s: %s", cf->user,
		    strerror(errno));
		return -1;
	}
	/* All of it, for good: no way back to root, no id left over. */
	if (setuid(0) != -1 || geteuid() != pw->pw_uid || getuid() != pw->pw_uid ||
	    getegid() != pw->pw_gid || getgid() != pw->pw_gid) {
		snprintf(err, errlen, "privilege drop to %s did not hold", cf->user);
		return -1;
	}
	return 1;
}

pid_t
cmd_server_pid(const char *data_dir)
{
	char *path, *text, *end;
	long pid;

	path = xasprintf("%s/rmail.pid", data_dir);
	text = fsio_read_file(path, 64, NULL);
	free(path);
	if (text == NULL)
		return 0;
	errno = 0;
	pid = strtol(text, &end, 10);
	if (errno != 0 || end == text || (*end != '\n' && *end != '\0') ||
	    pid <= 1 || (pid_t)pid != pid || pid == (long)getpid()) {
		free(text);
		return 0;
	}
	free(text);
	if (kill((pid_t)pid, 0) == -1 || !looks_like_rmail((pid_t)pid))
		return 0;
	return (pid_t)pid;
}

int
cmd_signal_server(const char *data_dir, int sig)
{
	pid_t pid = cmd_server_pid(data_dir);

	return pid > 0 && kill(pid, sig) == 0;
}
