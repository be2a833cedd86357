/*
 * fuzz.h: what the libFuzzer targets share (tests/fuzz/README.md).
 *
 * Every target is deterministic, frees everything it allocates per input
 * (LeakSanitizer runs after each input), and touches neither the file
 * system nor the network. FUZZ_CHECK states an invariant of the parser
 * under test: a failure aborts, which libFuzzer reports as a crash.
 */
#ifndef RMAIL_FUZZ_H
#define RMAIL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

/* The input as a C string (it ends at its first NUL, if any); free it. */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);

	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * Split the input at its first LF: *a_r the part before (a C string) and
 * *b_r the rest (NULL when there is no LF). Free *a_r only.
 */
static inline void
fuzz_split(const uint8_t *data, size_t size, char **a_r, char **b_r)
{
	char *s = fuzz_str(data, size), *lf = strchr(s, '\n');

	*b_r = NULL;
	if (lf != NULL) {
		*lf = '\0';
		*b_r = lf + 1;
	}
	*a_r = s;
}

/* A message with a bit of everything, for the targets that need one. */
static const char fuzz_sample_msg[] =
    "Return-Path: <alice@example.com>\r\n"
    "From: Alice =?UTF-8?Q?M=C3=BCller?= <alice@example.com>\r\n"
    "To: bob@example.com, \"Carol C.\" <carol@example.org>,\r\n"
    " team: dave@example.net;\r\n"
    "Cc: undisclosed-recipients:;\r\n"
    "Subject: =?ISO-8859-1?B?SGVsbG8gd29ybGQ=?= again\r\n"
    "Date: Tue, 1 Jul 2025 10:00:00 +0200\r\n"
    "Message-ID: <1@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=C3=A9 au lait, soft=\r\nbreak\r\n"
    "--b1\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: x@example.com\r\n"
    "Subject: inner\r\n"
    "\r\n"
    "inner body\r\n"
    "--b1\r\n"
    "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
    "Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC.bin\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAECAwQ=\r\n"
    "--b1--\r\n"
    "epilogue\r\n";

#endif
