/*
 * fuzz_mime_addr: header values as IMAP's ENVELOPE and SEARCH read them
 * (store/mime_addr.c, mime_hdr.c): address lists (RFC 5322 3.4 with
 * groups, comments, source routes, obsolete forms), RFC 2047 encoded
 * words, unfolding. The input is one raw header value.
 */
#include "tests/fuzz/fuzz.h"

#include <stdbool.h>

#include "store/mime.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), *u, *w;
	struct mime_addr *v = NULL;
	size_t n;
	int open = 0;

	n = mime_parse_addresses(s, &v);
	FUZZ_CHECK((n == 0) == (v == NULL));
	for (size_t i = 0; i < n; i++) {
		const struct mime_addr *a = &v[i];

		if (a->group_start) {
			FUZZ_CHECK(!a->group_end && a->host == NULL);
			FUZZ_CHECK(open == 0);
			open++;
		} else if (a->group_end) {
			FUZZ_CHECK(a->name == NULL && a->adl == NULL &&
			    a->mailbox == NULL && a->host == NULL);
			FUZZ_CHECK(open == 1);
			open--;
		} else {
			FUZZ_CHECK(a->mailbox != NULL && a->host != NULL);
		}
	}
	FUZZ_CHECK(open == 0);	/* an unclosed group is closed */
	mime_addrs_free(v, n);

	u = mime_header_unfold((const char *)data, size);
	FUZZ_CHECK(strchr(u, '\n') == NULL);
	w = mime_decode_words(u);
	FUZZ_CHECK(w != NULL);
	free(w);
	free(u);
	free(s);
	return 0;
}
