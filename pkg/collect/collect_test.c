/* The pure parts of collect/: CPU lists and ring sizing. Attaching for real
 * is tested end to end, as root (tests/e2e-record.sh). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collect/collect.h"

static void test_cpulist(void **state)
{
	bool on[16];

	assert_int_equal(collect__parse_cpulist("0-1\n", on, 16), 2);
	assert_true(on[0] && on[1] && !on[2]);
	assert_int_equal(collect__parse_cpulist("0,2-4,7\n", on, 16), 5);
	assert_true(on[0] && !on[1] && on[2] && on[4] && !on[5] && on[7]);
	assert_int_equal(collect__parse_cpulist("3", on, 16), 1);
	assert_int_equal(collect__parse_cpulist("", on, 16), -EINVAL);
	assert_int_equal(collect__parse_cpulist("4-2", on, 16), -EINVAL);
	assert_int_equal(collect__parse_cpulist("0-16", on, 16), -EINVAL);
	assert_int_equal(collect__parse_cpulist("a", on, 16), -EINVAL);
	assert_int_equal(collect__parse_cpulist("1-", on, 16), -EINVAL);
	assert_int_equal(collect__parse_cpulist("1;2", on, 16), -EINVAL);
}

static void test_ring_size(void **state)
{
	size_t rec = sizeof(struct cpu_sample), page = 4096, s;

	/* 99 Hz on 2 CPUs: about 1 s of records, a power of two of pages */
	s = collect__ring_size(99, 2, rec, page);
	assert_true(s >= 99 * 2 * rec && s < 2 * 99 * 2 * rec);
	assert_int_equal(s & (s - 1), 0);
	/* grows with the rate and the CPUs */
	assert_true(collect__ring_size(999, 2, rec, page) > s);
	assert_true(collect__ring_size(99, 64, rec, page) > s);
	/* bounded both ways */
	assert_int_equal(collect__ring_size(1, 1, rec, page), COLLECT_MIN_RING);
	assert_int_equal(collect__ring_size(100000, 4096, rec, page), COLLECT_MAX_RING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpulist),
		cmocka_unit_test(test_ring_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
