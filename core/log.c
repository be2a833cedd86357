/* log: one key=value line per event on stderr. */
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum log_level cur_level = LOG_INFO;
static const char *level_names[] = { "debug", "info", "warn", "error" };

void
log_set_level(enum log_level l)
{
	cur_level = l;
}

enum log_level
log_get_level(void)
{
	return cur_level;
}

int
log_level_parse(const char *s, enum log_level *level_r)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*level_r = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_event(enum log_level level, const char *svc, uint32_t conn, const char *ip,
    const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;
	int saved = errno;

	if (level < cur_level) {
		errno = saved;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ level=%s",
	    ts.tv_nsec / 1000000, level_names[level]);
	if (svc != NULL)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " svc=%s", svc);
	if (conn != 0)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " conn=%x", conn);
	if (ip != NULL)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " ip=%s", ip);
	if (n < sizeof(line) - 1) {
		line[n++] = ' ';
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
	}
	line[sizeof(line) - 2] = '\0';
	n = strlen(line);
	line[n++] = '\n';
	/* One write per line so lines from forked helpers never interleave. */
	(void)fwrite(line, 1, n, stderr);
	fflush(stderr);
	errno = saved;
}

const char *
log_q(const char *s)
{
	static char ring[4][600];
	static unsigned next;
	char *out = ring[next++ % 4];
	size_t o = 0;
	int quote = (*s == '\0');

	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) {
			quote = 1;
			break;
		}
	}
	if (quote)
		out[o++] = '"';
	for (; *s != '\0' && o < 512; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < ' ' || c == 0x7f) {
			o += (size_t)snprintf(out + o, 8, "\\x%02x", c);
		} else {
			out[o++] = (char)c;	/* UTF-8 passes through */
		}
	}
	if (*s != '\0') {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	if (quote)
		out[o++] = '"';
	out[o] = '\0';
	return out;
}
