/*
 * cmd: the rmail subcommands. Each takes the arguments after its name
 * (argv[0] is the subcommand) and returns the exit status:
 * 0 success, 1 a check or operation failed, 2 bad usage or bad config.
 */
#ifndef RMAIL_CMD_H
#define RMAIL_CMD_H

int	cmd_serve(int argc, char **argv);
int	cmd_init(int argc, char **argv);
int	cmd_check_config(int argc, char **argv);
int	cmd_reload(int argc, char **argv);
int	cmd_user(int argc, char **argv);
int	cmd_alias(int argc, char **argv);
int	cmd_deliver(int, char **);
int	cmd_import(int, char **);
int	cmd_queue(int, char **);
int	cmd_mx(int, char **);
int	cmd_dkim(int, char **);
int	cmd_diagnose(int, char **);

/* Print the help of one command (or the overview when name is NULL) to
 * stdout. 0, or 2 when the command is unknown. */
int	cmd_help(const char *name);
/* Usage error: "rmail: MSG" and the command's usage line on stderr; exits 2. */
void	cmd_usage_error(const char *command, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

/*
 * Tell a running server to reload (SIGHUP to the pid in DATA_DIR/rmail.pid)
 * after the CLI changed users or aliases. Quiet when no server runs.
 * Returns 1 when a server was signalled, 0 otherwise.
 */
int	cmd_notify_server(const char *data_dir);
/* The same with any signal (SIGUSR1: retry the queue now). */
int	cmd_signal_server(const char *data_dir, int sig);

#endif
