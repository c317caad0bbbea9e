/* Cron-style schedules: the five fields of crontab(5) (minute hour
 * day-of-month month day-of-week) and the next minute they match. */
#ifndef BPPROF_AGENT_CRON_H
#define BPPROF_AGENT_CRON_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/errmsg.h"

struct cron {
	uint64_t minutes;	/* bit m: minute m (0-59) */
	uint32_t hours;		/* bit h (0-23) */
	uint32_t days;		/* bit d (1-31) */
	uint16_t months;	/* bit m (1-12) */
	uint8_t weekdays;	/* bit d (0-6, 0 = Sunday; 7 is read as 0) */
	bool days_star, weekdays_star;	/* the field began with '*' */
};

/* Numbers, names (jan-dec, sun-sat; any case), lists, ranges a-b, steps
 * * /n and a-b/n, a/n (a to the end), and @yearly @annually @monthly
 * @weekly @daily @midnight @hourly. 0, or -EINVAL with e naming the field
 * and what is wrong with it. */
int cron__parse(struct cron *c, const char *expr, struct errmsg *e);

/* The first minute strictly after `after` that matches, in local time
 * (TZ), as crontab(5) reads it: when both day fields are restricted a day
 * matches if either does. -1 when nothing matches within 5 years (Feb 30). */
time_t cron__next(const struct cron *c, time_t after);

#endif
