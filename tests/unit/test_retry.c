/* Unit tests: relay/retry (schedule arithmetic, expiry, delay notices). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "config/config.h"
#include "core/util.h"
#include "relay/retry.h"

#define T0	((time_t)1700000000)
#define DAY	86400

static void
test_default_policy(void **state)
{
	static const unsigned want[] = { 300, 600, 1200, 2400, 3600, 7200 };
	const struct retry_policy *p = retry_policy_default();

	(void)state;
	assert_int_equal(p->n, NELEM(want));
	for (size_t i = 0; i < NELEM(want); i++)
		assert_int_equal(p->schedule[i], want[i]);
	assert_int_equal(p->max_age, 5 * DAY);
	assert_int_equal(p->delay_notice, 0);
}

/* The config's defaults are the same policy. */
static void
test_conf_defaults_match(void **state)
{
	static const char text[] = "{\"hostname\": \"mail.example.com\", "
	    "\"domains\": [\"example.com\"], \"data_dir\": \"/var/lib/rmail\"}";
	const struct retry_policy *d = retry_policy_default();
	struct retry_policy p;
	struct conf_error err;
	struct conf *c;

	(void)state;
	c = conf_parse("/etc/rmail/rmail.json", text, strlen(text), &err);
	assert_non_null(c);
	retry_policy_from_conf(&c->retry, &p);
	assert_int_equal(p.n, d->n);
	assert_memory_equal(p.schedule, d->schedule, d->n * sizeof(unsigned));
	assert_int_equal(p.max_age, d->max_age);
	assert_int_equal(p.delay_notice, d->delay_notice);
	conf_free(&c);
}

static void
test_delay_steps(void **state)
{
	const struct retry_policy *p = retry_policy_default();

	(void)state;
	assert_int_equal(retry_delay(p, 0), 300);	/* taken as 1 */
	assert_int_equal(retry_delay(p, 1), 300);
	assert_int_equal(retry_delay(p, 2), 600);
	assert_int_equal(retry_delay(p, 3), 1200);
	assert_int_equal(retry_delay(p, 4), 2400);
	assert_int_equal(retry_delay(p, 5), 3600);
	assert_int_equal(retry_delay(p, 6), 7200);
	/* The last step repeats. */
	assert_int_equal(retry_delay(p, 7), 7200);
	assert_int_equal(retry_delay(p, 100), 7200);
	assert_int_equal(retry_delay(p, ~0u), 7200);
}

static void
test_next(void **state)
{
	const struct retry_policy *p = retry_policy_default();
	time_t now = T0;

	(void)state;
	/* Never tried: at once, even when old. */
	assert_int_equal(retry_next(p, 0, T0, T0), T0);
	assert_int_equal(retry_next(p, 0, T0, T0 + 10 * DAY), T0 + 10 * DAY);
	/* First failure right at arrival. */
	assert_int_equal(retry_next(p, 1, T0, T0), T0 + 300);
	/* Each step, failing at the time it was due. */
	now = T0 + 300;
	assert_int_equal(retry_next(p, 2, T0, now), now + 600);
	now += 600;
	assert_int_equal(retry_next(p, 3, T0, now), now + 1200);
	now += 1200;
	assert_int_equal(retry_next(p, 4, T0, now), now + 2400);
	now += 2400;
	assert_int_equal(retry_next(p, 5, T0, now), now + 3600);
	now += 3600;
	assert_int_equal(retry_next(p, 6, T0, now), now + 7200);
	now += 7200;
	assert_int_equal(retry_next(p, 7, T0, now), now + 7200);
	assert_int_equal(retry_next(p, 50, T0, T0 + 3 * DAY),
	    T0 + 3 * DAY + 7200);
	/* A clock that went back counts as age 0. */
	assert_int_equal(retry_next(p, 1, T0, T0 - 100), T0 - 100 + 300);
	assert_false(retry_expired(p, T0, T0 - 100));
}

static void
test_give_up(void **state)
{
	const struct retry_policy *p = retry_policy_default();
	time_t deadline = T0 + 5 * DAY;

	(void)state;
	/* The last retry lands exactly at the deadline, not past it. */
	assert_int_equal(retry_next(p, 30, T0, deadline - 7200), deadline);
	assert_int_equal(retry_next(p, 30, T0, deadline - 7201),
	    deadline - 1);
	assert_int_equal(retry_next(p, 30, T0, deadline - 1), deadline);
	assert_int_equal(retry_next(p, 1, T0, deadline - 1), deadline);
	assert_false(retry_expired(p, T0, deadline - 1));
	/* A failure at or after the deadline is final. */
	assert_true(retry_expired(p, T0, deadline));
	assert_int_equal(retry_next(p, 30, T0, deadline), 0);
	assert_int_equal(retry_next(p, 1, T0, deadline), 0);
	assert_int_equal(retry_next(p, 31, T0, deadline + 1), 0);
	assert_int_equal(retry_next(p, 31, T0, deadline + 100 * DAY), 0);

	/* Walking the whole schedule: every try before the deadline, the
	 * last one on it, then a bounce. */
	{
		time_t now = T0, next;
		unsigned attempts = 0;

		for (;;) {
			next = retry_next(p, ++attempts, T0, now);
			if (next == 0)
				break;
			assert_true(next > now);
			assert_true(next <= deadline);
			now = next;
		}
		assert_int_equal(now, deadline);
		/* Tries at 0, 5m, 15m, 35m, 1h15m, 2h15m, then every 2h
		 * (58 more, the last at 118h15m), then at 120h: 65 tries, the
		 * 65th failure is final. */
		assert_int_equal(attempts, 65);
	}
}

static void
test_delay_notice(void **state)
{
	static const unsigned sched[] = { 60 };
	struct retry_policy p = {
		.schedule = sched, .n = 1, .max_age = DAY, .delay_notice = 4 * 3600,
	};

	(void)state;
	/* Off by default. */
	assert_int_equal(retry_delay_notice_time(retry_policy_default(), T0), 0);
	assert_false(retry_delay_notice_due(retry_policy_default(), T0,
	    T0 + 4 * DAY, false));

	assert_int_equal(retry_delay_notice_time(&p, T0), T0 + 4 * 3600);
	assert_false(retry_delay_notice_due(&p, T0, T0, false));
	assert_false(retry_delay_notice_due(&p, T0, T0 + 4 * 3600 - 1, false));
	assert_true(retry_delay_notice_due(&p, T0, T0 + 4 * 3600, false));
	assert_true(retry_delay_notice_due(&p, T0, T0 + DAY - 1, false));
	/* Only once. */
	assert_false(retry_delay_notice_due(&p, T0, T0 + 4 * 3600, true));
	/* Expired: the bounce says it, no warning first. */
	assert_false(retry_delay_notice_due(&p, T0, T0 + DAY, false));

	/* A notice no earlier than expiry is never sent. */
	p.delay_notice = DAY;
	assert_int_equal(retry_delay_notice_time(&p, T0), 0);
	assert_false(retry_delay_notice_due(&p, T0, T0 + DAY - 1, false));
}

static void
test_custom(void **state)
{
	static const unsigned sched[] = { 10, 5, 3600 };
	struct retry_policy p = {
		.schedule = sched, .n = NELEM(sched), .max_age = 60,
	};
	static const unsigned one[] = { 1 };
	struct retry_policy q = { .schedule = one, .n = 1, .max_age = 60 };

	(void)state;
	/* Not ascending is fine. */
	assert_int_equal(retry_next(&p, 1, T0, T0), T0 + 10);
	assert_int_equal(retry_next(&p, 2, T0, T0 + 10), T0 + 15);
	/* A step longer than the lifetime: the last try is at expiry. */
	assert_int_equal(retry_next(&p, 3, T0, T0 + 15), T0 + 60);
	assert_int_equal(retry_next(&p, 4, T0, T0 + 60), 0);
	/* One-step schedule. */
	assert_int_equal(retry_next(&q, 1, T0, T0), T0 + 1);
	assert_int_equal(retry_next(&q, 59, T0, T0 + 58), T0 + 59);
	assert_int_equal(retry_next(&q, 60, T0, T0 + 59), T0 + 60);
	assert_int_equal(retry_next(&q, 61, T0, T0 + 60), 0);
}

/* A policy from a config with relay.retry set. */
static void
test_from_conf(void **state)
{
	static const char text[] = "{\"hostname\": \"mail.example.com\", "
	    "\"domains\": [\"example.com\"], \"data_dir\": \"/var/lib/rmail\", "
	    "\"relay\": {\"retry\": {\"schedule_secs\": [60, 120], "
	    "\"max_age_secs\": 3600, \"delay_notice_secs\": 1800}}}";
	struct retry_policy p;
	struct conf_error err;
	struct conf *c;

	(void)state;
	c = conf_parse("/etc/rmail/rmail.json", text, strlen(text), &err);
	assert_non_null(c);
	retry_policy_from_conf(&c->retry, &p);
	assert_int_equal(retry_next(&p, 1, T0, T0), T0 + 60);
	assert_int_equal(retry_next(&p, 2, T0, T0 + 60), T0 + 180);
	assert_int_equal(retry_next(&p, 9, T0, T0 + 3500), T0 + 3600);
	assert_int_equal(retry_next(&p, 10, T0, T0 + 3600), 0);
	assert_true(retry_delay_notice_due(&p, T0, T0 + 1800, false));
	conf_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_policy),
		cmocka_unit_test(test_conf_defaults_match),
		cmocka_unit_test(test_delay_steps),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_give_up),
		cmocka_unit_test(test_delay_notice),
		cmocka_unit_test(test_custom),
		cmocka_unit_test(test_from_conf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
