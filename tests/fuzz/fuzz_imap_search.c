/*
 * fuzz_imap_search: imap/search.c and search_text.c. The input is IMAP
 * wire text (see fuzz_imap_parser.c); the arguments of every complete
 * command are parsed as SEARCH criteria, and an accepted search is run
 * over three messages (two sharing one parsed MIME message, one that
 * cannot be read), as SEARCH and UID SEARCH would.
 */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_imap.h"
#include "imap/search.h"

static struct mime_part *sample_root;

static int
msg_data(void *arg, const char **data_r, size_t *len_r,
    const struct mime_part **root_r)
{
	if (arg == NULL)
		return -1;	/* expunged under our feet */
	if (sample_root == NULL)
		sample_root = mime_parse(fuzz_sample_msg,
		    sizeof(fuzz_sample_msg) - 1);
	*data_r = fuzz_sample_msg;
	*len_r = sizeof(fuzz_sample_msg) - 1;
	*root_r = sample_root;
	return 0;
}

static int
keyword(void *arg, const char *name)
{
	(void)arg;
	if (ascii_casecmp(name, "$Forwarded") == 0)
		return 0;
	if (ascii_casecmp(name, "Work") == 0)
		return 3;
	return -1;
}

static void
on_cmd(const struct imap_cmd *cmd, void *arg)
{
	static const struct imap_search_ctx ctx = {
		.max_seq = 3, .max_uid = 42, .keyword = keyword,
	};
	struct imap_search_msg msgs[3] = {
		{ .seq = 1, .uid = 7, .flags = { STORE_F_SEEN, 1 },
		  .size = sizeof(fuzz_sample_msg) - 1,
		  .internaldate = 1751356800, .data = msg_data,
		  .arg = (void *)1 },
		{ .seq = 2, .uid = 9, .flags = { STORE_F_FLAGGED |
		  STORE_F_DELETED, 8 }, .recent = true, .size = 10,
		  .internaldate = 0, .data = msg_data, .arg = (void *)1 },
		{ .seq = 3, .uid = 42, .size = 1 << 20,
		  .internaldate = 4102444800, .data = msg_data, .arg = NULL },
	};
	struct imap_search *search = NULL;
	bool badcharset = false;
	char err[256];

	(void)arg;
	err[0] = '\0';
	if (imap_search_parse(cmd->args, cmd->nargs, &ctx, &search,
	    &badcharset, err, sizeof(err)) != 0) {
		FUZZ_CHECK(search == NULL);
		FUZZ_CHECK(strlen(err) < sizeof(err));
		return;
	}
	FUZZ_CHECK(search != NULL);
	(void)imap_search_needs_data(search);
	for (size_t i = 0; i < NELEM(msgs); i++)
		(void)imap_search_match(search, &msgs[i]);
	imap_search_free(&search);
	FUZZ_CHECK(search == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct imap_parser_limits lim = {
		.line_max = 4000,
		.literal_max = 400,
	};
	struct imap_parser *p = imap_parser_new(&lim);

	fuzz_imap_wire(p, data, size, 0, on_cmd, NULL);
	imap_parser_free(&p);
	return 0;
}
