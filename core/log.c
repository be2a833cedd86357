/* log: one key=value line per event on stderr. */
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum log_level cur_level = LOG_INFO;
static enum log_format cur_format = LOG_FORMAT_KV;
static int to_journal = -1;	/* -1: not looked at yet */
static const char *level_names[] = { "debug", "info", "warn", "error" };
static const char *format_names[] = { "kv", "json" };

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
log_set_format(enum log_format f)
{
	cur_format = f;
}

int
log_format_parse(const char *s, enum log_format *format_r)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (strcmp(s, format_names[i]) == 0) {
			*format_r = (enum log_format)i;
			return 0;
		}
	}
	return -1;
}

/* systemd sets JOURNAL_STREAM=DEV:INODE for the stream it connects. */
static bool
stderr_is_journal(void)
{
	const char *js;
	unsigned long long dev, ino;
	struct stat st;

	if (to_journal == -1) {
		js = getenv("JOURNAL_STREAM");
		to_journal = js != NULL &&
		    sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
		    fstat(STDERR_FILENO, &st) == 0 &&
		    (unsigned long long)st.st_dev == dev &&
		    (unsigned long long)st.st_ino == ino;
	}
	return to_journal;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned cp;

	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	len = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = p[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates, past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A JSON string of v[0 .. n) at out + *o; false when it does not fit. */
static bool
json_str(char *out, size_t *o, size_t cap, const char *v, size_t n)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t k = *o, u;

	if (k + 2 > cap)
		return false;
	out[k++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (k + 8 > cap)
			return false;
		if (p[i] == '"' || p[i] == '\\') {
			out[k++] = '\\';
			out[k++] = (char)p[i];
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			k += (size_t)snprintf(out + k, 7, "\\u%04x", p[i]);
		} else if (p[i] < 0x80) {
			out[k++] = (char)p[i];
		} else if ((u = utf8_len(p + i, n - i)) > 0) {
			if (k + u + 8 > cap)
				return false;
			memcpy(out + k, p + i, u);
			k += u;
			i += u - 1;
		} else {
			/* Not UTF-8: keep the byte's value, as U+0080..U+00FF. */
			k += (size_t)snprintf(out + k, 7, "\\u%04x", p[i]);
		}
	}
	out[k++] = '"';
	*o = k;
	return true;
}

/*
 * The key=value line kv (as log_event formats it, values quoted and
 * escaped by log_q) as one JSON object. A stray word without '=' goes
 * under "text". Truncated fields are dropped whole: the object is always
 * well formed.
 */
static size_t
kv_to_json(const char *kv, char *out, size_t cap)
{
	char val[1024];
	size_t o = 0, vn, keep;
	const char *p = kv, *key;
	size_t keylen;

	out[o++] = '{';
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		key = p;
		while (*p != '\0' && *p != ' ' && *p != '=')
			p++;
		keylen = (size_t)(p - key);
		vn = 0;
		if (*p != '=') {
			/* A bare word: it is the value. */
			memcpy(val, key, keylen < sizeof(val) ? keylen : sizeof(val) - 1);
			vn = keylen < sizeof(val) ? keylen : sizeof(val) - 1;
			key = "text";
			keylen = 4;
		} else if (*++p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				unsigned hex;
				char c = *p;

				if (*p == '\\' && p[1] == 'x' &&
				    sscanf(p + 2, "%2x", &hex) == 1) {
					c = (char)hex;
					p += 3;
				} else if (*p == '\\' && p[1] != '\0')
					c = *++p;
				if (vn < sizeof(val))
					val[vn++] = c;
			}
			if (*p == '"')
				p++;
		} else {
			while (*p != '\0' && *p != ' ') {
				if (vn < sizeof(val))
					val[vn++] = *p;
				p++;
			}
		}
		keep = o;
		if (o > 1)
			out[o++] = ',';
		if (!json_str(out, &o, cap - 2, key, keylen)) {
			o = keep;
			break;
		}
		out[o++] = ':';
		if (!json_str(out, &o, cap - 2, val, vn)) {
			o = keep;
			break;
		}
	}
	out[o++] = '}';
	out[o] = '\0';
	return o;
}

void
log_event(enum log_level level, const char *svc, uint32_t conn, const char *ip,
    const char *fmt, ...)
{
	char line[2048], json[8192], *out;
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;
	int saved = errno;

	if (level < cur_level) {
		errno = saved;
		return;
	}
	n = 0;
	if (cur_format == LOG_FORMAT_JSON || !stderr_is_journal()) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ ",
		    ts.tv_nsec / 1000000);
	}
	n += (size_t)snprintf(line + n, sizeof(line) - n, "level=%s",
	    level_names[level]);
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
	if (cur_format == LOG_FORMAT_JSON) {
		out = json;
		n = kv_to_json(line, json, sizeof(json) - 1);
	} else {
		out = line;
		n = strlen(line);
	}
	out[n++] = '\n';
	/* One write per line so lines from forked helpers never interleave. */
	(void)fwrite(out, 1, n, stderr);
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
