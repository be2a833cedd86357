/*
 * fuzz_config: the JSON files rmail reads, all from memory: the config
 * (config/config.c conf_parse, config/jsonpos.c for positions in
 * errors), the users file (config/users.c) and a queue envelope
 * (relay/queue_env.c queue_msgenv_parse). Every input goes to all three.
 *
 * users_load() reads its file itself; the same steps run here on the
 * input, with users.c included to reach its validators (its object in the
 * archive is then never linked).
 */
#include "config/users.c"

#include "tests/fuzz/fuzz.h"
#include "config/aliases.h"
#include "config/config.h"
#include "relay/queue_env.h"

static void
do_conf(const char *text, size_t len)
{
	struct conf_error err;
	struct conf *c;

	err.msg[0] = '\0';
	c = conf_parse("/nonexistent/rmail.json", text, len, &err);
	if (c == NULL) {
		FUZZ_CHECK(err.msg[0] != '\0' &&
		    strlen(err.msg) < sizeof(err.msg));
		return;
	}
	FUZZ_CHECK(c->hostname != NULL && c->data_dir != NULL);
	FUZZ_CHECK(c->domains.n >= 1);
	FUZZ_CHECK(c->retry.nschedule >= 1 &&
	    c->retry.nschedule <= CONF_RETRY_STEPS_MAX);
	for (size_t i = 0; i < c->domains.n; i++)
		FUZZ_CHECK(conf_is_local_domain(c, c->domains.v[i]));
	for (size_t i = 0; i < c->naliases; i++) {
		FUZZ_CHECK(c->aliases[i].to.n >= 1);
		FUZZ_CHECK(aliases_lookup(c, c->aliases[i].from) != NULL ||
		    c->aliases[i].from[0] == '@');
	}
	(void)aliases_lookup(c, "nobody@example.com");
	conf_free(&c);
	FUZZ_CHECK(c == NULL);
}

/* users_load() without the file. */
static void
do_users(const char *text, size_t len)
{
	const char *path = "/nonexistent/users.json";
	char err[512];
	struct ustate st;
	struct jsonpos_ctx ctx = {
		.file = path, .err = err, .errlen = sizeof(err), .user = &st,
		.text = text, .len = len,
	};
	json_t *root;
	int r;

	if ((root = jsonpos_load(path, text, len, err, sizeof(err))) == NULL)
		return;
	memset(&st, 0, sizeof(st));
	st.users = users_new_empty();
	r = jsonpos_walk(&ctx, root, top_fields, NELEM(top_fields));
	user_clear(&st.cur);
	json_decref(root);
	if (r == 0) {
		for (size_t i = 0; i < users_count(st.users); i++) {
			const struct user *u = users_at(st.users, i);

			FUZZ_CHECK(u->address != NULL && u->password != NULL);
			FUZZ_CHECK(users_find(st.users, u->address) == u);
		}
	}
	users_free(&st.users);
}

static void
do_env(const char *text, size_t len)
{
	struct queue_msgenv e, e2;
	char err[512], *dump, *dump2;
	size_t dlen, dlen2;

	memset(&e, 0, sizeof(e));
	if (queue_msgenv_parse(text, len, NULL, &e, err, sizeof(err)) != 0)
		return;
	FUZZ_CHECK(queue_id_valid(e.id));
	/* What we write, we read back as it was. */
	dump = queue_msgenv_dump(&e, &dlen);
	memset(&e2, 0, sizeof(e2));
	FUZZ_CHECK(queue_msgenv_parse(dump, dlen, e.id, &e2, err,
	    sizeof(err)) == 0);
	dump2 = queue_msgenv_dump(&e2, &dlen2);
	FUZZ_CHECK(dlen == dlen2 && memcmp(dump, dump2, dlen) == 0);
	free(dump2);
	free(dump);
	queue_msgenv_clear(&e2);
	queue_msgenv_clear(&e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	do_conf((const char *)data, size);
	do_users((const char *)data, size);
	do_env((const char *)data, size);
	return 0;
}
