/*
 * common: helpers shared by the CLI subcommands (argument scanning,
 * password entry, loading the config, file ownership).
 *
 * These print their own messages ("rmail: ...") to stderr; callers only
 * choose the exit status.
 */
#ifndef RMAIL_CMD_COMMON_H
#define RMAIL_CMD_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct conf;
struct tls_ctx;
struct users;

/* Longest password accepted, in bytes. */
#define CMD_PASSWORD_MAX	1024

struct cmd_opt {
	const char	*name;		/* "-c", "--domain" */
	bool		 has_arg;	/* takes a value */
	const char	**val_r;	/* has_arg: set to the value (last one wins) */
	bool		*set_r;		/* !has_arg: set to true when given */
};

/*
 * Scan argv[1 .. argc) (argv[0] is the command's name, used in messages).
 * Options may come before, between or after positionals; "--name value"
 * and "--name=value" are the same; "--" ends the options. Positionals go
 * to pos_r in order. Returns how many there were (<= maxpos).
 * An unknown option, a missing value, a value given to a flag, or more
 * than maxpos positionals: cmd_usage_error(command, ...), which exits 2.
 */
size_t	 cmd_parse_args(const char *command, int argc, char **argv,
	    const struct cmd_opt *opts, size_t nopts, const char **pos_r,
	    size_t maxpos);

/*
 * Read a new password for address: the first line of stdin when
 * from_stdin (trailing CR/LF removed), else asked twice on /dev/tty with
 * echo off. Refuses an empty password, one over CMD_PASSWORD_MAX bytes,
 * one holding NUL, and two entries that differ. Returns a new allocation
 * to release with cmd_free_password, or NULL after printing why.
 */
char	*cmd_read_password(bool from_stdin, const char *address);
/* Wipe and free *pw; sets it to NULL. */
void	 cmd_free_password(char **pw);

/*
 * Load the config named by the -c argument (NULL: $RMAIL_CONFIG, then
 * the default). NULL after printing "rmail: FILE:LINE:COL: ..." to stderr;
 * the caller exits 2.
 */
struct conf *cmd_load_config(const char *c_arg);
/* "PATH: this is the sample config ...; create the real one with rmail
 * init" (a static buffer). */
const char *cmd_sample_msg(const char *path);
/*
 * What a server runs on and a reload replaces, loaded and checked as one:
 * the config at path (not a sample), its users file, its certificate and
 * key. 0; or -1 with every pointer NULL and err saying what is wrong.
 */
int	 cmd_load_runtime(const char *path, struct conf **conf_r,
	    struct users **users_r, struct tls_ctx **tls_r, char *err,
	    size_t errlen);
/*
 * Run as root with cf->user set: become that user for good (initgroups,
 * setgid, setuid, checked), so what the command writes in the store is
 * the server's. 1 when it did, 0 when there was nothing to do (not root,
 * or no user), -1 with err set.
 */
int	 cmd_drop_privileges(const struct conf *cf, char *err, size_t errlen);
/* The pid of the server running on data_dir (its rmail.pid names a live
 * rmail process), or 0. */
pid_t	 cmd_server_pid(const char *data_dir);

/* Load conf's users file. NULL after printing the error; exit 2. */
struct users *cmd_load_users(const struct conf *);

/* The domain part of local@domain, or NULL when address is not of that
 * shape (empty local part or domain). */
const char *cmd_addr_domain(const char *address);

/*
 * The owner of a file that the CLI is about to replace: when root rewrites
 * a file the server's account reads (users.json, the config), the new file
 * gets the old one's owner and group back, so a reload does not lock the
 * server out.
 */
struct cmd_owner {
	bool	known;
	uid_t	uid;
	gid_t	gid;
};
void	 cmd_owner_get(const char *path, struct cmd_owner *owner_r);
/* chown path back when it changed; warns on stderr on failure. */
void	 cmd_owner_restore(const char *path, const struct cmd_owner *);

#endif
