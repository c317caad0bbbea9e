/* base: buffers respect their limit, the hash index finds what was put in
 * across growth, numbers parse strictly, the arena keeps its budget. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/htab.h"
#include "base/parse.h"

static void test_buf_limit(void **state)
{
	struct buf b = BUF_INIT(10);

	assert_int_equal(buf__append(&b, "0123456789", 10), 0);
	assert_int_equal(buf__append(&b, "x", 1), -E2BIG);
	assert_int_equal(b.len, 10);
	buf__free(&b);
	assert_int_equal(buf__appendf(&b, "%d-%s", 42, "x"), 0);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "42-x", 4);
	buf__free(&b);
}

static bool u64__eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const uint64_t *)ctx)[idx] == *(const uint64_t *)key;
}

static void test_htab(void **state)
{
	enum { N = 100000 };
	static uint64_t keys[N];
	struct htab t;
	uint64_t k;
	uint32_t i;

	assert_int_equal(htab__init(&t, 0), 0);
	for (i = 0; i < N; i++) {
		keys[i] = (uint64_t)i * 2654435761u;
		/* a weak hash on purpose: collisions must still resolve */
		assert_int_equal(htab__insert(&t, (uint32_t)(keys[i] % 1021), i), 0);
	}
	for (i = 0; i < N; i++)
		assert_int_equal(htab__find(&t, (uint32_t)(keys[i] % 1021), u64__eq, keys, &keys[i]), i);
	k = 7;
	assert_int_equal(htab__find(&t, (uint32_t)(k % 1021), u64__eq, keys, &k), -1);
	htab__free(&t);
}

static void test_parse(void **state)
{
	int64_t v;
	uint64_t u;

	assert_int_equal(parse__int64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse__int64("101", 0, 100, &v), -ERANGE);
	assert_int_equal(parse__int64("4x", 0, 100, &v), -EINVAL);
	assert_int_equal(parse__int64("", 0, 100, &v), -EINVAL);
	assert_int_equal(parse__int64(" 3", 0, 100, &v), -EINVAL);
	assert_int_equal(parse__int64("+3", 0, 100, &v), -EINVAL);
	assert_int_equal(parse__int64("-", -5, 100, &v), -EINVAL);
	assert_int_equal(parse__int64("-3", -5, 100, &v), 0);
	assert_int_equal(v, -3);
	assert_int_equal(parse__u64n("18", 2, 8, &u), -EINVAL);
	assert_int_equal(parse__int64("99999999999999999999", INT64_MIN, INT64_MAX, &v), -ERANGE);
	assert_int_equal(parse__u64n("ffffffff8101", 12, 16, &u), 0);
	assert_int_equal(u, 0xffffffff8101ull);
	assert_int_equal(parse__u64n("1ffffffffffffffff", 17, 16, &u), -ERANGE);
	assert_int_equal(parse__u64n("12a", 3, 10, &u), -EINVAL);
}

static void test_parse_duration(void **state)
{
	double v;

	assert_int_equal(parse__duration("10", 1e6, &v), 0);
	assert_true(v == 10);
	assert_int_equal(parse__duration("2.5s", 1e6, &v), 0);
	assert_true(v == 2.5);
	assert_int_equal(parse__duration("250ms", 1e6, &v), 0);
	assert_true(v == 0.25);
	assert_int_equal(parse__duration("15m", 1e6, &v), 0);
	assert_true(v == 900);
	assert_int_equal(parse__duration("1h", 1e6, &v), 0);
	assert_true(v == 3600);
	assert_int_equal(parse__duration(".5", 1e6, &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(parse__duration("0", 1e6, &v), -ERANGE);
	assert_int_equal(parse__duration("2d", 3600, &v), -ERANGE);
	assert_int_equal(parse__duration("1e999", 1e6, &v), -ERANGE);
	assert_int_equal(parse__duration("", 1e6, &v), -EINVAL);
	assert_int_equal(parse__duration("-1", 1e6, &v), -EINVAL);
	assert_int_equal(parse__duration(" 1", 1e6, &v), -EINVAL);
	assert_int_equal(parse__duration("nan", 1e6, &v), -EINVAL);
	assert_int_equal(parse__duration("0x10", 1e6, &v), -EINVAL);
	assert_int_equal(parse__duration("10 s", 1e6, &v), -EINVAL);
	assert_int_equal(parse__duration("10sec", 1e6, &v), -EINVAL);
}

static void test_parse_size(void **state)
{
	uint64_t v;

	assert_int_equal(parse__size("524288", 1ull << 32, &v), 0);
	assert_true(v == 524288);
	assert_int_equal(parse__size("0", 1ull << 32, &v), 0);
	assert_true(v == 0);
	assert_int_equal(parse__size("512k", 1ull << 32, &v), 0);
	assert_true(v == 524288);
	assert_int_equal(parse__size("4MiB", 1ull << 32, &v), 0);
	assert_true(v == 4 << 20);
	assert_int_equal(parse__size("4G", 1ull << 32, &v), 0);
	assert_true(v == 4ull << 30);
	assert_int_equal(parse__size("5G", 1ull << 32, &v), -ERANGE);
	assert_int_equal(parse__size("99999999999999999999", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse__size("", 100, &v), -EINVAL);
	assert_int_equal(parse__size("-1", 100, &v), -EINVAL);
	assert_int_equal(parse__size("1.5k", 1ull << 32, &v), -EINVAL);
	assert_int_equal(parse__size("1kb", 1ull << 32, &v), -EINVAL);
	assert_int_equal(parse__size(" 1", 100, &v), -EINVAL);
}

static void test_arena_budget(void **state)
{
	struct arena *a = arena__new(1000);
	char *s;

	assert_non_null(arena__alloc(a, 500));
	s = arena__strndup(a, "hello", 3);
	assert_string_equal(s, "hel");
	assert_false(arena__over_budget(a));
	assert_null(arena__alloc(a, 600));
	assert_int_equal(errno, E2BIG);
	assert_true(arena__over_budget(a));
	assert_true(arena__used(a) <= 1000);
	arena__free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_limit),
		cmocka_unit_test(test_htab),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_arena_budget),
	};

	return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
