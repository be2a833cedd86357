/*
 * fuzz_imap_parser: imap/parser.c, the incremental IMAP command parser,
 * fed wire bytes the way the session does: one line at a time (LF or
 * CRLF removed), then, after a "{n}" / "{n+}" / "~{n}" marker, the n
 * literal bytes in pieces of a size taken from the first input byte.
 * Several commands per input go through one parser (reset in between),
 * and a literal cut short by the end of the input is abandoned.
 */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_imap.h"

static void
on_cmd(const struct imap_cmd *cmd, void *arg)
{
	(void)cmd;
	(void)arg;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct imap_parser_limits lim = {
		.line_max = 2000,
		.literal_max = 200,
		.append_literal_max = 4000,
	};
	struct imap_parser *p;

	if (size < 1)
		return 0;
	p = imap_parser_new(&lim);
	fuzz_imap_wire(p, data + 1, size - 1, data[0] % 8, on_cmd, NULL);
	imap_parser_free(&p);
	return 0;
}
