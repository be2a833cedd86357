/*
 * fuzz_smtp_reply: relay/client_reply.c, how the outbound relay reads a
 * remote server's replies: multi-line replies joined, the enhanced status
 * code (RFC 3463), EHLO keywords (SIZE, AUTH, STARTTLS...). The first
 * input byte says whether the replies answer EHLO; each following line
 * (LF or CRLF) is one reply line. No connection: a bare client struct.
 */
#include "relay/client_private.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_client cl;
	char *text, *p, *line;

	if (size < 1)
		return 0;
	memset(&cl, 0, sizeof(cl));
	cl.state = data[0] & 1 ? CL_EHLO : CL_MAIL;
	text = fuzz_str(data + 1, size - 1);
	for (p = text; (line = strsep(&p, "\n")) != NULL; ) {
		size_t n = strlen(line);
		int r;

		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		r = smtp_client_reply_line(&cl, line, n);
		FUZZ_CHECK(r >= -1 && r <= 1);
		FUZZ_CHECK(cl.r.len < sizeof(cl.r.text));
		FUZZ_CHECK(strlen(cl.r.text) == cl.r.len);
		FUZZ_CHECK(strlen(cl.r.enhanced) < sizeof(cl.r.enhanced));
		if (r == 1) {
			FUZZ_CHECK(cl.r.code >= 200 && cl.r.code <= 599);
			FUZZ_CHECK(!cl.r.open);
			(void)smtp_client_valid_addr(cl.r.text);
		}
		if (r == -1)
			cl.r.open = false;	/* the client drops the session */
	}
	free(text);
	return 0;
}
