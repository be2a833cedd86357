/*
 * log: one key=value line per event on stderr.
 *
 *   ts=2026-11-21T01:02:03.456Z level=info svc=imap conn=1f ip=127.0.0.1 msg="accepted"
 *
 * Values are quoted when they hold spaces, quotes, '=' or control bytes,
 * and escaped so a client cannot forge a log line. errno is preserved.
 * When stderr is the systemd journal ($JOURNAL_STREAM names it), ts= is
 * left out: journald stamps every line itself.
 *
 * The json format writes the same fields as one JSON object per line,
 * every value a string:
 *
 *   {"ts":"2026-11-21T01:02:03.456Z","level":"info","svc":"imap",...}
 */
#ifndef RMAIL_LOG_H
#define RMAIL_LOG_H

#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_KV, LOG_FORMAT_JSON };

void	 log_set_level(enum log_level);
enum log_level log_get_level(void);
/* "debug", "info", "warn", "error". 0, or -1 when the name is unknown. */
int	 log_level_parse(const char *, enum log_level *level_r);
void	 log_set_format(enum log_format);
/* "kv", "json". 0, or -1 when the name is unknown. */
int	 log_format_parse(const char *, enum log_format *format_r);

/*
 * Log one event. svc and ip may be NULL; conn 0 means none. fmt gives the
 * remaining key=value pairs, already formatted; use log_q() to quote
 * client-supplied text.
 */
void	 log_event(enum log_level, const char *svc, uint32_t conn,
	    const char *ip, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

#define log_debug(...)	do { if (log_get_level() <= LOG_DEBUG) \
	log_event(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)	log_event(LOG_INFO, __VA_ARGS__)
#define log_warn(...)	log_event(LOG_WARN, __VA_ARGS__)
#define log_error(...)	log_event(LOG_ERROR, __VA_ARGS__)

/*
 * Quote s as a log value: always returns a pointer to one of a few rotating
 * static buffers (so up to 4 may appear in one log_event call), truncated
 * at 512 bytes. Not thread-safe: only for the loop thread.
 */
const char *log_q(const char *s);

#endif
