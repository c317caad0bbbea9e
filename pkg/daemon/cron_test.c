/* cron: every syntax form parses to the right bits, every mistake gets its
 * one-line message, and next() finds the right minute across month and
 * year ends, leap years, both day-field rules and DST. Runs in TZ=UTC
 * except where a test names its zone. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "daemon/cron.h"

#define BITS(lo, hi) ((~0ull >> (63 - (hi))) & (~0ull << (lo)))

static struct cron parse_ok(const char *expr)
{
	struct errmsg e = { "" };
	struct cron c;

	if (cron__parse(&c, expr, &e))
		fail_msg("'%s' refused: %s", expr, e.text);
	return c;
}

static time_t utc(int y, int mon, int d, int h, int min, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = min, .tm_sec = s };

	return timegm(&tm);
}

static time_t next(const char *expr, time_t after)
{
	struct cron c = parse_ok(expr);

	return cron__next(&c, after);
}

static int set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
	return 0;
}

static int utc_zone(void **state)
{
	return set_tz("UTC");
}

static void test_parse_forms(void **state)
{
	struct cron c = parse_ok("* * * * *");

	assert_true(c.minutes == BITS(0, 59) && c.hours == BITS(0, 23));
	assert_true(c.days == BITS(1, 31) && c.months == BITS(1, 12) && c.weekdays == 0x7f);
	assert_true(c.days_star && c.weekdays_star);

	c = parse_ok("5 4 3 2 1");
	assert_true(c.minutes == 1ull << 5 && c.hours == 1u << 4 && c.days == 1u << 3);
	assert_true(c.months == 1u << 2 && c.weekdays == 1u << 1);
	assert_false(c.days_star || c.weekdays_star);

	c = parse_ok("1-3,7,50-59/5 */6 1-10/3 */5 1/2");
	assert_true(c.minutes == (BITS(1, 3) | 1ull << 7 | 1ull << 50 | 1ull << 55));
	assert_true(c.hours == (1u << 0 | 1u << 6 | 1u << 12 | 1u << 18));
	assert_true(c.days == (1u << 1 | 1u << 4 | 1u << 7 | 1u << 10));
	assert_true(c.months == (1u << 1 | 1u << 6 | 1u << 11));
	assert_true(c.weekdays == (1u << 1 | 1u << 3 | 1u << 5));	/* a/n stops at 6 */
	assert_false(c.days_star || c.weekdays_star);

	c = parse_ok("58/1 23/20 31/2 12/5 6/3");	/* a/n from a to the end */
	assert_true(c.minutes == BITS(58, 59) && c.hours == 1u << 23 && c.days == 1u << 31);
	assert_true(c.months == 1u << 12 && c.weekdays == 1u << 6);

	c = parse_ok("5-5/2 0-0 1-1 1-1 0-0");	/* a range of one, not a/n */
	assert_true(c.minutes == 1ull << 5 && c.hours == 1 && c.weekdays == 1);

	c = parse_ok("05 007 09 * *");
	assert_true(c.minutes == 1ull << 5 && c.hours == 1u << 7 && c.days == 1u << 9);

	c = parse_ok(" \t0\t0  *  *\t* \n");
	assert_true(c.minutes == 1 && c.hours == 1 && c.weekdays == 0x7f);
}

static void test_parse_names_and_aliases(void **state)
{
	struct cron c = parse_ok("0 0 * jan,MAR,Dec sun,Tue,FRI");

	assert_true(c.months == (1u << 1 | 1u << 3 | 1u << 12));
	assert_true(c.weekdays == (1u << 0 | 1u << 2 | 1u << 5));

	c = parse_ok("0 0 * feb-apr mon-fri");
	assert_true(c.months == BITS(2, 4) && c.weekdays == BITS(1, 5));
	c = parse_ok("0 0 * jan-dec/3 sun-sat/2");
	assert_true(c.months == (1u << 1 | 1u << 4 | 1u << 7 | 1u << 10));
	assert_true(c.weekdays == (1u << 0 | 1u << 2 | 1u << 4 | 1u << 6));
	c = parse_ok("0 0 * 2-apr mon-5");
	assert_true(c.months == BITS(2, 4) && c.weekdays == BITS(1, 5));

	/* day-of-week 7 is Sunday, alone and in ranges */
	assert_int_equal(parse_ok("0 0 * * 7").weekdays, 1);
	assert_int_equal(parse_ok("0 0 * * 5-7").weekdays, 1u << 0 | 1u << 5 | 1u << 6);
	assert_int_equal(parse_ok("0 0 * * 0-7").weekdays, 0x7f);
	assert_int_equal(parse_ok("0 0 * * */2").weekdays, 1u << 0 | 1u << 2 | 1u << 4 | 1u << 6);

	/* `?` is `*` in the day fields; a day field beginning with * or ? is
	 * unrestricted even with a step (Vixie cron's rule) */
	c = parse_ok("0 0 ? * 1");
	assert_true(c.days == BITS(1, 31) && c.days_star && !c.weekdays_star);
	c = parse_ok("0 0 1 * ?");
	assert_true(c.weekdays == 0x7f && !c.days_star && c.weekdays_star);
	c = parse_ok("0 0 */2 * */3");
	assert_true(c.days_star && c.weekdays_star);
	c = parse_ok("0 0 1,* * 1,*");
	assert_true(c.days == BITS(1, 31) && !c.days_star && !c.weekdays_star);
}

static void test_parse_macros(void **state)
{
	static const char *const pairs[][2] = {
		{ "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" },
		{ "@monthly", "0 0 1 * *" }, { "@weekly", "0 0 * * 0" },
		{ "@daily", "0 0 * * *" }, { "@midnight", "0 0 * * *" },
		{ "@hourly", "0 * * * *" }, { "  @daily \t", "0 0 * * *" },
	};
	struct cron a, b;
	size_t i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		a = parse_ok(pairs[i][0]);
		b = parse_ok(pairs[i][1]);
		assert_memory_equal(&a, &b, sizeof(a));
	}
}

static void test_parse_errors(void **state)
{
	static const char *const cases[][2] = {
		{ "", "empty schedule" },
		{ " \t ", "empty schedule" },
		{ "* * * *", "expected 5 fields, got 4" },
		{ "* * * * * *", "expected 5 fields, got 6" },
		{ "60 * * * *", "minute field: 60 is out of range 0-59" },
		{ "* 24 * * *", "hour field: 24 is out of range 0-23" },
		{ "* * 0 * *", "day-of-month field: 0 is out of range 1-31" },
		{ "* * * 13 *", "month field: 13 is out of range 1-12" },
		{ "* * * * 8", "day-of-week field: 8 is out of range 0-7" },
		{ "99999999999 * * * *", "minute field: 99999999999 is out of range 0-59" },
		{ "* */0 * * *", "hour field: step 0" },
		{ "* * 1-31/0 * *", "day-of-month field: step 0" },
		{ "*/60 * * * *", "minute field: step 60 is out of range 1-59" },
		{ "* * * * */7", "day-of-week field: step 7 is out of range 1-6" },
		{ "*/ * * * *", "minute field: no step after '/' in '*/'" },
		{ "* * 5-2 * *", "day-of-month field: range 5-2 is reversed" },
		{ "* * * * fri-mon", "day-of-week field: range 5-1 is reversed" },
		{ "5x * * * *", "minute field: unexpected 'x' in '5x'" },
		{ "1-2-3 * * * *", "minute field: unexpected '-' in '1-2-3'" },
		{ "1/2/3 * * * *", "minute field: unexpected '/' in '1/2/3'" },
		{ "*-5 * * * *", "minute field: unexpected '-' in '*-5'" },
		{ "1,,2 * * * *", "minute field: empty item in '1,,2'" },
		{ "1, * * * *", "minute field: empty item in '1,'" },
		{ ",1 * * * *", "minute field: empty item in ',1'" },
		{ "-1 * * * *", "minute field: expected a number in '-1'" },
		{ "+5 * * * *", "minute field: expected a number in '+5'" },
		{ "5- * * * *", "minute field: expected a number in '5-'" },
		{ "? * * * *", "minute field: expected a number in '?'" },
		{ "* * * ? *", "month field: expected a number in '?'" },
		{ "jan * * * *", "minute field: 'jan' is not a number" },
		{ "* * * january *", "month field: 'january' is not a number or month name" },
		{ "* * * * sunday", "day-of-week field: 'sunday' is not a number or day name" },
		{ "* * * * mon-foo", "day-of-week field: 'foo' is not a number or day name" },
		{ "@reboot", "@reboot runs once at startup: not a schedule" },
		{ "@every 5m", "unexpected '5m' after @every" },
		{ "@daily extra", "unexpected 'extra' after @daily" },
		{ "@Daily", "unknown macro '@Daily'" },
		{ "@", "unknown macro '@'" },
	};
	struct cron c, keep;
	struct errmsg e;
	size_t i;

	memset(&keep, 0xa5, sizeof(keep));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = keep;
		e.text[0] = '\0';
		if (cron__parse(&c, cases[i][0], &e) != -EINVAL)
			fail_msg("'%s' was accepted", cases[i][0]);
		assert_string_equal(e.text, cases[i][1]);
		assert_memory_equal(&c, &keep, sizeof(c));	/* untouched on error */
	}
	assert_int_equal(cron__parse(&c, "61 * * * *", NULL), -EINVAL);
}

static void test_next_strictly_after(void **state)
{
	time_t t = utc(2024, 5, 6, 10, 0, 0);

	assert_int_equal(next("* * * * *", t), t + 60);
	assert_int_equal(next("* * * * *", t - 1), t);
	assert_int_equal(next("* * * * *", t + 30), t + 60);
	assert_int_equal(next("* * * * *", t + 59), t + 60);
	assert_int_equal(next("0 10 * * *", t), utc(2024, 5, 7, 10, 0, 0));
	assert_int_equal(next("0 10 * * *", t - 1), t);

	assert_int_equal(next("*/15 * * * *", utc(2024, 5, 6, 10, 7, 0)), utc(2024, 5, 6, 10, 15, 0));
	assert_int_equal(next("*/15 * * * *", utc(2024, 5, 6, 10, 45, 0)), utc(2024, 5, 6, 11, 0, 0));
	assert_int_equal(next("*/15 * * * *", utc(2024, 12, 31, 23, 50, 0)), utc(2025, 1, 1, 0, 0, 0));
	assert_int_equal(next("7,59 3-4 * * *", utc(2024, 5, 6, 3, 7, 0)), utc(2024, 5, 6, 3, 59, 0));
	assert_int_equal(next("7,59 3-4 * * *", utc(2024, 5, 6, 3, 59, 0)), utc(2024, 5, 6, 4, 7, 0));
	assert_int_equal(next("7,59 3-4 * * *", utc(2024, 5, 6, 4, 59, 0)), utc(2024, 5, 7, 3, 7, 0));
}

static void test_next_month_and_year_ends(void **state)
{
	assert_int_equal(next("0 0 1 * *", utc(2024, 1, 31, 12, 0, 0)), utc(2024, 2, 1, 0, 0, 0));
	assert_int_equal(next("0 0 1 * *", utc(2024, 12, 15, 0, 0, 0)), utc(2025, 1, 1, 0, 0, 0));
	assert_int_equal(next("59 23 31 12 *", utc(2024, 1, 1, 0, 0, 0)), utc(2024, 12, 31, 23, 59, 0));
	assert_int_equal(next("59 23 31 12 *", utc(2024, 12, 31, 23, 59, 0)), utc(2025, 12, 31, 23, 59, 0));
	/* the 31st skips February and the 30-day months */
	assert_int_equal(next("0 0 31 * *", utc(2024, 1, 31, 0, 0, 0)), utc(2024, 3, 31, 0, 0, 0));
	assert_int_equal(next("0 0 31 * *", utc(2024, 3, 31, 0, 0, 0)), utc(2024, 5, 31, 0, 0, 0));
	assert_int_equal(next("0 12 * jun,feb *", utc(2024, 6, 30, 12, 0, 0)), utc(2025, 2, 1, 12, 0, 0));
	assert_int_equal(next("@yearly", utc(2024, 1, 1, 0, 0, 0)), utc(2025, 1, 1, 0, 0, 0));
	assert_int_equal(next("@monthly", utc(2024, 2, 29, 23, 59, 59)), utc(2024, 3, 1, 0, 0, 0));
	assert_int_equal(next("@hourly", utc(2024, 2, 29, 23, 0, 0)), utc(2024, 3, 1, 0, 0, 0));
}

static void test_next_leap_years(void **state)
{
	assert_int_equal(next("0 0 29 2 *", utc(2024, 1, 1, 0, 0, 0)), utc(2024, 2, 29, 0, 0, 0));
	assert_int_equal(next("0 0 29 2 *", utc(2024, 3, 1, 0, 0, 0)), utc(2028, 2, 29, 0, 0, 0));
	assert_int_equal(next("0 0 * 2 *", utc(2023, 2, 28, 0, 0, 0)), utc(2024, 2, 1, 0, 0, 0));
	assert_int_equal(next("0 0 * 2 *", utc(2024, 2, 28, 0, 0, 0)), utc(2024, 2, 29, 0, 0, 0));
	/* 2100 is not a leap year, 2000 was */
	assert_int_equal(next("0 0 29 2 *", utc(2099, 3, 1, 0, 0, 0)), utc(2104, 2, 29, 0, 0, 0));
	assert_int_equal(next("0 0 29 2 *", utc(1997, 3, 1, 0, 0, 0)), utc(2000, 2, 29, 0, 0, 0));
}

static void test_next_day_fields(void **state)
{
	time_t t;

	/* both restricted: the 13th or a Friday (2024-01-01 is a Monday) */
	t = next("0 0 13 * fri", utc(2024, 1, 1, 0, 0, 0));
	assert_int_equal(t, utc(2024, 1, 5, 0, 0, 0));
	t = next("0 0 13 * fri", t);
	assert_int_equal(t, utc(2024, 1, 12, 0, 0, 0));
	t = next("0 0 13 * fri", t);
	assert_int_equal(t, utc(2024, 1, 13, 0, 0, 0));
	assert_int_equal(next("0 0 13 * fri", t), utc(2024, 1, 19, 0, 0, 0));

	/* one begins with '*': both must match, so odd days that are Mondays */
	t = next("0 0 */2 * mon", utc(2023, 12, 31, 0, 0, 0));
	assert_int_equal(t, utc(2024, 1, 1, 0, 0, 0));
	t = next("0 0 */2 * mon", t);
	assert_int_equal(t, utc(2024, 1, 15, 0, 0, 0));
	assert_int_equal(next("0 0 */2 * mon", t), utc(2024, 1, 29, 0, 0, 0));

	/* weekdays only: Friday 10:00 to Monday 09:00 */
	assert_int_equal(next("0 9 * * mon-fri", utc(2024, 1, 5, 10, 0, 0)), utc(2024, 1, 8, 9, 0, 0));
	assert_int_equal(next("0 9 ? * 1-5", utc(2024, 1, 5, 8, 0, 0)), utc(2024, 1, 5, 9, 0, 0));
	assert_int_equal(next("0 0 * * 7", utc(2024, 1, 1, 0, 0, 0)), utc(2024, 1, 7, 0, 0, 0));
	assert_int_equal(next("@weekly", utc(2024, 1, 7, 0, 0, 0)), utc(2024, 1, 14, 0, 0, 0));
	/* days of the month only */
	assert_int_equal(next("0 0 1,15 * *", utc(2024, 1, 1, 0, 0, 0)), utc(2024, 1, 15, 0, 0, 0));
	assert_int_equal(next("0 0 1,15 * ?", utc(2024, 1, 15, 0, 0, 0)), utc(2024, 2, 1, 0, 0, 0));
}

static void test_next_never(void **state)
{
	struct cron c = { 0 };
	time_t t = utc(2024, 1, 1, 0, 0, 0);

	assert_int_equal(next("0 0 30 2 *", t), -1);
	assert_int_equal(next("0 0 31 4,6,9,11 *", t), -1);
	/* five years at most: after 2096 the next Feb 29 is in 2104 */
	assert_int_equal(next("0 0 29 2 *", utc(2096, 3, 1, 0, 0, 0)), -1);
	assert_int_equal(next("0 0 1 1 *", utc(2030, 1, 1, 0, 0, 0)), utc(2031, 1, 1, 0, 0, 0));
	assert_int_equal(next("0 0 30-31 2 *", t), -1);
	assert_int_equal(cron__next(&c, t), -1);	/* no bits at all */
}

static void test_next_dst_new_york(void **state)
{
	set_tz("America/New_York");
	/* 2024-03-10 02:00 EST became 03:00 EDT: 02:30 did not exist that day */
	assert_int_equal(next("30 2 * * *", 1710003600), 1710138600);	/* 03-11 02:30 EDT */
	assert_int_equal(next("0 * * * *", 1710050400), 1710054000);	/* 01:00 EST -> 03:00 EDT */
	assert_int_equal(next("0 0 * * *", 1710003600), 1710046800);	/* 03-10 00:00 EST */
	/* 2024-11-03 02:00 EDT became 01:00 EST: 01:30 came twice */
	assert_int_equal(next("30 1 * * *", 1730563200), 1730611800);	/* 01:30 EDT */
	assert_int_equal(next("30 1 * * *", 1730611800), 1730615400);	/* 01:30 EST */
	assert_int_equal(next("30 1 * * *", 1730615400), 1730701800);	/* 11-04 01:30 EST */
	assert_int_equal(next("*/30 * * * *", 1730611800), 1730613600);	/* 01:00 EST */
	assert_int_equal(next("0 2 * * *", 1730609999), 1730617200);	/* 02:00 EST */
	set_tz("UTC");
}

static void test_next_dst_berlin(void **state)
{
	set_tz("Europe/Berlin");
	/* 2024-03-31 02:00 CET became 03:00 CEST, 2024-10-27 03:00 CEST 02:00 CET */
	assert_int_equal(next("15 2 * * *", utc(2024, 3, 30, 12, 0, 0)), utc(2024, 4, 1, 0, 15, 0));
	assert_int_equal(next("15 2 * * *", utc(2024, 10, 26, 12, 0, 0)), utc(2024, 10, 27, 0, 15, 0));
	assert_int_equal(next("15 2 * * *", utc(2024, 10, 27, 0, 15, 0)), utc(2024, 10, 27, 1, 15, 0));
	assert_int_equal(next("0 0 1 * *", utc(2024, 10, 27, 0, 0, 0)), utc(2024, 10, 31, 23, 0, 0));
	set_tz("UTC");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_names_and_aliases),
		cmocka_unit_test(test_parse_macros),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_next_strictly_after),
		cmocka_unit_test(test_next_month_and_year_ends),
		cmocka_unit_test(test_next_leap_years),
		cmocka_unit_test(test_next_day_fields),
		cmocka_unit_test(test_next_never),
		cmocka_unit_test_teardown(test_next_dst_new_york, utc_zone),
		cmocka_unit_test_teardown(test_next_dst_berlin, utc_zone),
	};

	return cmocka_run_group_tests(tests, utc_zone, NULL);
}
