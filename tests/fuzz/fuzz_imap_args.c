/*
 * fuzz_imap_args: the parsers of single IMAP arguments. The first byte
 * picks one, the rest is its text:
 *	0 imap/seqset.c	sequence sets ("1:*,5"), resolved and queried
 *	1 imap/imapdate.c	SEARCH dates and APPEND date-times (round trip)
 *	2 imap/imapdate.c	RFC 5322 Date: header values
 *	3 imap/section.c	BODY[section]<partial> ("spec" LF "partial"),
 *			named and applied to a sample message
 *	4 imap/listmatch.c	LIST reference LF pattern LF name
 *	5 imap/fmt.c	strings written as quoted, literal or atom
 */
#include "tests/fuzz/fuzz.h"

#include <time.h>

#include "core/buf.h"
#include "imap/fmt.h"
#include "imap/imapdate.h"
#include "imap/listmatch.h"
#include "imap/section.h"
#include "imap/seqset.h"
#include "store/mime.h"

static void
do_seqset(const char *s)
{
	struct imap_seqset set = { 0 };
	uint32_t star = (uint32_t)strlen(s) * 3;

	if (imap_seqset_parse(s, &set) != 0) {
		imap_seqset_free(&set);
		return;
	}
	FUZZ_CHECK(set.n >= 1 && set.n <= IMAP_SEQSET_MAX);
	imap_seqset_resolve(&set, star);
	for (size_t i = 0; i < set.n; i++) {
		FUZZ_CHECK(set.r[i].lo <= set.r[i].hi);
		FUZZ_CHECK(imap_seqset_has(&set, set.r[i].lo));
		FUZZ_CHECK(imap_seqset_has(&set, set.r[i].hi));
	}
	(void)imap_seqset_has(&set, 0);
	(void)imap_seqset_has(&set, UINT32_MAX);
	imap_seqset_free(&set);
}

static void
do_date(const char *s)
{
	char buf[IMAP_DATETIME_LEN];
	time_t t, t2;

	(void)imap_date_parse(s, &t);
	if (imap_datetime_parse(s, &t) == 0) {
		/* What we write, we read back to the same second. */
		FUZZ_CHECK(imap_datetime_format(t, 0, buf) == buf);
		FUZZ_CHECK(strlen(buf) == IMAP_DATETIME_LEN - 1);
		if (t >= -62167219200 && t <= 253402300799) {
			FUZZ_CHECK(imap_datetime_parse(buf, &t2) == 0);
			FUZZ_CHECK(t2 == t);
		}
	}
}

static void
do_section(const char *spec, const char *partial)
{
	static struct mime_part *root;
	struct imap_section sec;
	struct buf b;
	const char *p;
	size_t len;
	char *copy;

	memset(&sec, 0, sizeof(sec));
	if (imap_section_parse(spec, partial, &sec) != 0) {
		imap_section_free(&sec);
		return;
	}
	FUZZ_CHECK(sec.nparts <= IMAP_SECTION_DEPTH);
	FUZZ_CHECK(sec.nfields <= IMAP_SECTION_FIELDS);
	buf_init(&b, 1 << 20);
	FUZZ_CHECK(imap_section_name(&b, &sec) == 0);
	buf_release(&b);
	if (root == NULL)
		root = mime_parse(fuzz_sample_msg, sizeof(fuzz_sample_msg) - 1);
	imap_section_get(fuzz_sample_msg, sizeof(fuzz_sample_msg) - 1, root,
	    &sec, &p, &len, &copy);
	FUZZ_CHECK(len == 0 || p != NULL);
	if (copy == NULL && len > 0)
		FUZZ_CHECK(p >= fuzz_sample_msg && p + len <=
		    fuzz_sample_msg + sizeof(fuzz_sample_msg) - 1);
	free(copy);
	imap_section_free(&sec);
}

static void
do_list(char *text)
{
	char *ref = text, *pat, *name, *joined;
	struct imap_listpat *lp;

	if ((pat = strchr(ref, '\n')) == NULL)
		return;
	*pat++ = '\0';
	if ((name = strchr(pat, '\n')) == NULL)
		name = pat + strlen(pat);
	else
		*name++ = '\0';
	if ((joined = imap_list_join(ref, pat)) == NULL)
		return;
	if ((lp = imap_listpat_new(joined)) != NULL) {
		bool m = imap_listpat_match(lp, name);

		FUZZ_CHECK(m == imap_list_match(joined, name));
		imap_listpat_free(&lp);
		FUZZ_CHECK(lp == NULL);
	}
	free(joined);
}

static void
do_fmt(const uint8_t *data, size_t size, const char *s)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	(void)imap_fmt_string(&b, (const char *)data, size);
	(void)imap_fmt_nstring(&b, s);
	(void)imap_fmt_nstring(&b, NULL);
	(void)imap_fmt_astring(&b, s);
	buf_release(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *a, *b;

	if (size < 1)
		return 0;
	s = fuzz_str(data + 1, size - 1);
	switch (data[0] % 6) {
	case 0:
		do_seqset(s);
		break;
	case 1:
		do_date(s);
		break;
	case 2: {
		time_t day;

		(void)imap_rfc5322_day(s, &day);
		break;
	}
	case 3:
		fuzz_split(data + 1, size - 1, &a, &b);
		do_section(a, b);
		free(a);
		break;
	case 4:
		do_list(s);
		break;
	case 5:
		do_fmt(data + 1, size - 1, s);
		break;
	}
	free(s);
	return 0;
}
