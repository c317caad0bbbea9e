/* Cron schedules: parsing the five crontab(5) fields into bit sets, and
 * finding the next local minute that matches them. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "daemon/cron.h"

#define SPACE " \t\n\v\f\r"

struct field {
	const char *name;
	int lo, hi;	/* the values a number may take */
	int end;	/* where `*` and `a/n` stop: day-of-week 7 is only an alias */
	const char *names;	/* three letters each, the first one meaning lo */
	bool qmark;	/* `?` reads as `*`, as Quartz writes the day fields */
};

static const struct field fields[5] = {
	{ "minute", 0, 59, 59, NULL, false },
	{ "hour", 0, 23, 23, NULL, false },
	{ "day-of-month", 1, 31, 31, NULL, true },
	{ "month", 1, 12, 12, "janfebmaraprmayjunjulaugsepoctnovdec", false },
	{ "day-of-week", 0, 7, 6, "sunmontuewedthufrisat", true },
};

static const char *const macros[][2] = {
	{ "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" }, { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* A number or name at *p (advanced past it) of the field text [s, end). */
static int parse_value(const struct field *f, const char *s, const char *end, const char **p,
		       int *v, struct errmsg *e)
{
	const char *q = *p, *name = f->names;
	int n = 0;

	if (q < end && isdigit((unsigned char)*q)) {
		for (; q < end && isdigit((unsigned char)*q); q++)
			n = n < 1000 ? n * 10 + (*q - '0') : n;
		if (n < f->lo || n > f->hi)
			return errmsg__set(e, -EINVAL, "%s field: %.*s is out of range %d-%d",
					   f->name, (int)(q - *p), *p, f->lo, f->hi);
	} else {
		while (q < end && isalpha((unsigned char)*q))
			q++;
		if (q == *p)
			return errmsg__set(e, -EINVAL, "%s field: expected a number in '%.*s'",
					   f->name, (int)(end - s), s);
		while (name && *name && (q - *p != 3 || strncasecmp(name, *p, 3)))
			name += 3;
		if (!name || !*name)
			return errmsg__set(e, -EINVAL, "%s field: '%.*s' is not a number%s", f->name,
					   (int)(q - *p), *p,
					   !name ? "" : f->lo ? " or month name" : " or day name");
		n = f->lo + (int)(name - f->names) / 3;
	}
	*v = n;
	*p = q;
	return 0;
}

/* One field, [s, end): a comma list of *, ?, a, a-b, each maybe /step. */
static int parse_field(const struct field *f, const char *s, const char *end, uint64_t *bits,
		       struct errmsg *e)
{
	const char *p = s, *d;
	int a, b, step, err;
	bool open;	/* a lone start, which a step stretches to the end */

	for (*bits = 0;; p++) {
		open = false;
		if (p < end && (*p == '*' || (*p == '?' && f->qmark))) {
			a = f->lo;
			b = f->end;
			p++;
		} else {
			if (p == end || *p == ',')
				return errmsg__set(e, -EINVAL, "%s field: empty item in '%.*s'",
						   f->name, (int)(end - s), s);
			if ((err = parse_value(f, s, end, &p, &a, e)))
				return err;
			b = a;
			open = p == end || *p != '-';
			if (!open) {
				p++;
				if ((err = parse_value(f, s, end, &p, &b, e)))
					return err;
			}
			if (a > b)
				return errmsg__set(e, -EINVAL, "%s field: range %d-%d is reversed",
						   f->name, a, b);
		}
		step = 1;
		if (p < end && *p == '/') {
			for (d = ++p, step = 0; p < end && isdigit((unsigned char)*p); p++)
				step = step < 1000 ? step * 10 + (*p - '0') : step;
			if (p == d)
				return errmsg__set(e, -EINVAL, "%s field: no step after '/' in '%.*s'",
						   f->name, (int)(end - s), s);
			if (step == 0)
				return errmsg__set(e, -EINVAL, "%s field: step 0", f->name);
			if (step > f->end)
				return errmsg__set(e, -EINVAL, "%s field: step %.*s is out of range 1-%d",
						   f->name, (int)(p - d), d, f->end);
			if (open)
				b = f->end;
		}
		for (; a <= b; a += step)
			*bits |= 1ull << a % (f->hi == 7 ? 7 : 64);
		if (p == end)
			return 0;
		if (*p != ',')
			return errmsg__set(e, -EINVAL, "%s field: unexpected '%c' in '%.*s'",
					   f->name, *p, (int)(end - s), s);
	}
}

static int parse_macro(struct cron *c, const char *p, struct errmsg *e)
{
	size_t n = strcspn(p, SPACE), i;

	for (i = n; isspace((unsigned char)p[i]); i++)
		;
	if (n == 7 && !strncmp(p, "@reboot", 7))
		return errmsg__set(e, -EINVAL, "@reboot runs once at startup: not a schedule");
	if (p[i])
		return errmsg__set(e, -EINVAL, "unexpected '%s' after %.*s", p + i, (int)n, p);
	for (i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
		if (strlen(macros[i][0]) == n && !strncmp(p, macros[i][0], n))
			return cron__parse(c, macros[i][1], e);
	return errmsg__set(e, -EINVAL, "unknown macro '%.*s'", (int)n, p);
}

int cron__parse(struct cron *c, const char *expr, struct errmsg *e)
{
	const char *tok[5], *p = expr;
	uint64_t bits[5];
	int n = 0, i, err;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '@')
		return parse_macro(c, p, e);
	for (; *p; n++) {
		if (n < 5)
			tok[n] = p;
		p += strcspn(p, SPACE);
		while (isspace((unsigned char)*p))
			p++;
	}
	if (n == 0)
		return errmsg__set(e, -EINVAL, "empty schedule");
	if (n != 5)
		return errmsg__set(e, -EINVAL, "expected 5 fields, got %d", n);
	for (i = 0; i < 5; i++)
		if ((err = parse_field(&fields[i], tok[i], tok[i] + strcspn(tok[i], SPACE), &bits[i], e)))
			return err;
	*c = (struct cron){
		.minutes = bits[0], .hours = (uint32_t)bits[1], .days = (uint32_t)bits[2],
		.months = (uint16_t)bits[3], .weekdays = (uint8_t)bits[4],
		.days_star = *tok[2] == '*' || *tok[2] == '?',
		.weekdays_star = *tok[4] == '*' || *tok[4] == '?',
	};
	return 0;
}

/* The lowest set bit of bits at or above `from`, or -1. */
static int next_bit(uint64_t bits, int from)
{
	bits = from < 64 ? bits >> from << from : 0;
	return bits ? __builtin_ctzll(bits) : -1;
}

static int days_in(int year, int mon)
{
	static const char n[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	year += 1900;
	return n[mon] + (mon == 1 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0));
}

/* The days of tm's month that match, bit d for day d: either day field
 * when both are restricted, as crontab(5) says, else both. */
static uint32_t day_mask(const struct cron *c, const struct tm *tm)
{
	int n = days_in(tm->tm_year, tm->tm_mon), d;
	int wday1 = ((tm->tm_wday - tm->tm_mday + 1) % 7 + 7) % 7;	/* of the 1st */
	uint32_t dom = c->days & (uint32_t)((2ull << n) - 2), dow = 0;

	for (d = 1; d <= n; d++)
		dow |= (uint32_t)(c->weekdays >> (wday1 + d - 1) % 7 & 1) << d;
	return c->days_star || c->weekdays_star ? dom & dow : dom | dow;
}

/* Compares the dates of a and b: <0, 0, >0. */
static int date_cmp(const struct tm *a, const struct tm *b)
{
	return (a->tm_year - b->tm_year) * 512 + (a->tm_mon - b->tm_mon) * 32 +
	       a->tm_mday - b->tm_mday;
}

/* The first instant of local day year-mon-mday (struct tm units, past the
 * month's end meaning the next). mktime's answer is only a guess where
 * midnight falls in a DST gap or comes twice, so it is moved to the first
 * instant local time shows that day. */
static time_t day_start(int year, int mon, int mday)
{
	struct tm want = { .tm_year = year, .tm_mon = mon, .tm_mday = mday }, got;
	time_t t, p;
	int i;

	timegm(&want);	/* normalises the date, independent of TZ */
	got = want;
	got.tm_isdst = -1;
	if ((t = mktime(&got)) == (time_t)-1)
		return -1;
	for (i = 0; i < 3 && localtime_r(&t, &got) && date_cmp(&got, &want) < 0; i++)
		t += 3600 - got.tm_min * 60 - got.tm_sec;	/* still the day before */
	p = t - 3600;
	if (localtime_r(&p, &got) && date_cmp(&got, &want) >= 0)
		t = p - got.tm_min * 60 - got.tm_sec;	/* midnight came twice */
	return t;
}

/* Walks local time from `after`, skipping whole months, days and hours that
 * cannot match. Hours and minutes advance in real time, as in robfig/cron
 * v3, and DST behaves as there: a wall time a spring-forward skips never
 * fires; one a fall-back repeats fires at each occurrence, the first one
 * first, so `every 15 minutes` keeps firing through the repeated hour. */
time_t cron__next(const struct cron *c, time_t after)
{
	struct cron m = *c;
	struct tm tm;
	time_t t;
	int limit, i, n;

	m.minutes &= (1ull << 60) - 1;
	m.hours &= (1u << 24) - 1;
	m.months &= 0x1ffe;
	m.weekdays &= 0x7f;
	if (!m.minutes || !m.hours || !(m.days & ~1u) || !m.months || !m.weekdays ||
	    after > INT64_MAX / 2 || after < INT64_MIN / 2)
		return -1;
	tzset();
	t = after + 1;
	if (!localtime_r(&t, &tm))
		return -1;
	limit = tm.tm_year + 5;	/* robfig's limit too */
	for (i = 0; i < 2000; i++) {
		if (t == (time_t)-1 || !localtime_r(&t, &tm) || tm.tm_year > limit)
			return -1;
		if (!(m.months >> (tm.tm_mon + 1) & 1)) {
			n = next_bit(m.months, tm.tm_mon + 2);
			t = n > 0 ? day_start(tm.tm_year, n - 1, 1) :
				    day_start(tm.tm_year + 1, next_bit(m.months, 1) - 1, 1);
		} else if (!(day_mask(&m, &tm) >> tm.tm_mday & 1)) {
			n = next_bit(day_mask(&m, &tm), tm.tm_mday + 1);
			t = day_start(tm.tm_year, tm.tm_mon + (n < 0), n < 0 ? 1 : n);
		} else if (!(m.hours >> tm.tm_hour & 1)) {
			if (next_bit(m.hours, tm.tm_hour + 1) < 0)
				t = day_start(tm.tm_year, tm.tm_mon, tm.tm_mday + 1);
			else
				t += 3600 - tm.tm_min * 60 - tm.tm_sec;
		} else if (tm.tm_sec || !(m.minutes >> tm.tm_min & 1)) {
			n = next_bit(m.minutes, tm.tm_min + 1);
			t += (n > 0 ? n - tm.tm_min : 60 - tm.tm_min) * 60 - tm.tm_sec;
		} else {
			return t;
		}
	}
	return -1;
}
