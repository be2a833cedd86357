/*
 * retry: the retry schedule's arithmetic. See retry.h.
 */
#include "relay/retry.h"

#include "config/config.h"
#include "core/util.h"

#include <assert.h>

/* Keep in step with the defaults of relay.retry in config/config.c. */
static const unsigned default_schedule[] = { 300, 600, 1200, 2400, 3600, 7200 };

static const struct retry_policy default_policy = {
	.schedule = default_schedule,
	.n = NELEM(default_schedule),
	.max_age = 5 * 86400,
	.delay_notice = 0,
};

const struct retry_policy *
retry_policy_default(void)
{
	return &default_policy;
}

void
retry_policy_from_conf(const struct conf_retry *cr, struct retry_policy *policy_r)
{
	policy_r->schedule = cr->schedule_secs;
	policy_r->n = cr->nschedule;
	policy_r->max_age = cr->max_age_secs;
	policy_r->delay_notice = cr->delay_notice_secs;
}

unsigned
retry_delay(const struct retry_policy *p, unsigned attempts)
{
	assert(p->n > 0);
	if (attempts == 0)
		attempts = 1;
	if (attempts > p->n)
		attempts = (unsigned)p->n;
	return p->schedule[attempts - 1];
}

/* Seconds since queued; 0 when the clock went back. */
static time_t
age(time_t queued, time_t now)
{
	return now > queued ? now - queued : 0;
}

bool
retry_expired(const struct retry_policy *p, time_t queued, time_t now)
{
	return age(queued, now) >= (time_t)p->max_age;
}

time_t
retry_next(const struct retry_policy *p, unsigned attempts, time_t queued,
    time_t now)
{
	time_t next, deadline;

	if (attempts == 0)
		return now;
	if (retry_expired(p, queued, now))
		return 0;
	next = now + (time_t)retry_delay(p, attempts);
	deadline = queued + (time_t)p->max_age;
	return next < deadline ? next : deadline;
}

time_t
retry_delay_notice_time(const struct retry_policy *p, time_t queued)
{
	if (p->delay_notice == 0 || p->delay_notice >= p->max_age)
		return 0;
	return queued + (time_t)p->delay_notice;
}

bool
retry_delay_notice_due(const struct retry_policy *p, time_t queued,
    time_t now, bool sent)
{
	time_t due = retry_delay_notice_time(p, queued);

	return !sent && due != 0 && now >= due && !retry_expired(p, queued, now);
}
