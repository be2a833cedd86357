/*
 * fuzz_message: what the relay reads out of a message it sends or returns:
 * DKIM canonicalisation and the signed header list (relay/dkim_canon.c),
 * and the delivery status notification built around the original's
 * headers (relay/bounce.c). The input is one message; its first line also
 * serves as the remote server's reply quoted in the DSN.
 *
 * Checked: the streamed body hash equals SHA-256 of the canonical body;
 * canonicalising is idempotent; a DSN is CRLF-only, its lines within
 * RFC 5322's 998 bytes, and parses as a multipart/report of three parts.
 */
#include "tests/fuzz/fuzz.h"

#include <stdbool.h>
#include <openssl/evp.h>

#include "relay/bounce.h"
#include "relay/dkim_canon.h"
#include "store/mime.h"

static void
do_dkim(const char *msg, size_t len)
{
	static const enum dkim_canon modes[] = {
		DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED,
	};
	size_t boff = dkim_body_offset(msg, len), hlen, clen, c2len;
	char *hlist, *h, *c, *c2;
	unsigned char hash[DKIM_HASH_LEN], md[EVP_MAX_MD_SIZE];
	unsigned mdlen;

	FUZZ_CHECK(boff <= len);
	hlist = dkim_header_list(msg, boff);
	FUZZ_CHECK(hlist != NULL && *hlist != '\0');
	for (size_t i = 0; i < NELEM(modes); i++) {
		h = dkim_canon_headers(modes[i], msg, boff, hlist, &hlen);
		FUZZ_CHECK(h != NULL);
		free(h);

		c = dkim_canon_body(modes[i], msg + boff, len - boff, &clen);
		FUZZ_CHECK(c != NULL && c[clen] == '\0');
		FUZZ_CHECK(dkim_body_hash(modes[i], msg + boff, len - boff,
		    hash) == 0);
		FUZZ_CHECK(EVP_Digest(c, clen, md, &mdlen, EVP_sha256(), NULL)
		    == 1);
		FUZZ_CHECK(mdlen == DKIM_HASH_LEN &&
		    memcmp(md, hash, DKIM_HASH_LEN) == 0);
		c2 = dkim_canon_body(modes[i], c, clen, &c2len);
		FUZZ_CHECK(c2len == clen && memcmp(c, c2, clen) == 0);
		free(c2);
		free(c);
	}
	/* The first field, alone. */
	{
		const char *e = memchr(msg, '\n', boff);
		size_t flen = e != NULL ? (size_t)(e - msg) + 1 : boff;

		for (size_t i = 0; i < NELEM(modes); i++) {
			h = dkim_canon_header(modes[i], msg, flen, &hlen);
			FUZZ_CHECK(h != NULL && hlen >= 2 &&
			    memcmp(h + hlen - 2, "\r\n", 2) == 0);
			if (modes[i] == DKIM_CANON_RELAXED) {
				c = dkim_canon_header(modes[i], h, hlen, &clen);
				FUZZ_CHECK(clen == hlen &&
				    memcmp(c, h, hlen) == 0);
				free(c);
			}
			free(h);
		}
	}
	free(hlist);
}

static void
do_bounce(const char *msg, size_t len)
{
	char *diag = fuzz_str((const uint8_t *)msg, len), *lf, *dsn;
	struct bounce_rcpt r[2] = {
		{ .orig_rcpt = "Someone@Remote.test",
		  .final_rcpt = "someone@remote.test",
		  .action = BOUNCE_FAILED, .status = "5.1.1",
		  .remote_mta = "mx.remote.test", .last_attempt = 1751356800 },
		{ .final_rcpt = "other@remote.test", .action = BOUNCE_DELAYED,
		  .diagnostic = "no route to host", .diag_type = "X-Rmail",
		  .retry_until = 1751788800 },
	};
	struct bounce_info info = {
		.hostname = "mail.example.com", .sender = "<alice@example.com>",
		.queue_id = "0123456789abcdef", .arrival = 1751356000,
		.now = 1751357000, .rcpts = r, .nrcpts = 2,
		.msg = msg, .msglen = len,
	};
	struct mime_part *root;
	size_t dlen, col = 0;

	if ((lf = strchr(diag, '\n')) != NULL)
		*lf = '\0';
	r[0].diagnostic = diag;
	(void)bounce_count_received(msg, len);
	dsn = bounce_compose(&info, &dlen);
	FUZZ_CHECK(dsn != NULL && strlen(dsn) == dlen);
	for (size_t i = 0; i < dlen; i++) {
		if (dsn[i] == '\n') {
			FUZZ_CHECK(i > 0 && dsn[i - 1] == '\r');
			col = 0;
			continue;
		}
		FUZZ_CHECK(dsn[i] != '\r' || (i + 1 < dlen &&
		    dsn[i + 1] == '\n'));
		FUZZ_CHECK(++col <= 999);	/* 998 and the CR */
	}
	root = mime_parse(dsn, dlen);
	FUZZ_CHECK(strcmp(root->type, "multipart") == 0 &&
	    strcmp(root->subtype, "report") == 0);
	FUZZ_CHECK(root->nchildren == 3);
	mime_free(&root);
	free(dsn);
	free(diag);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	do_dkim((const char *)data, size);
	do_bounce((const char *)data, size);
	return 0;
}
