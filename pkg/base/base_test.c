/* base: buffers respect their limit, the hash index finds what was put in
 * across growth and deletion and walks exactly what it holds, numbers parse
 * strictly, the arena keeps its budget. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/dynlib.h"
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

/* Taken bytes are the caller's; the buf starts over under its limit. */
static void test_buf_take(void **state)
{
	struct buf b = BUF_INIT(8);
	size_t len = 99;
	void *p;

	assert_null(buf__take(&b, &len));	/* never held any */
	assert_int_equal(len, 0);
	assert_int_equal(buf__append(&b, "abc", 3), 0);
	p = buf__take(&b, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(p, "abc", 3);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.limit, 8);
	assert_int_equal(buf__append(&b, "012345678", 9), -E2BIG);
	assert_int_equal(buf__append(&b, "01234567", 8), 0);
	free(p);
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

/* Runs that wrap past the last slot: deleting at the end shifts the
 * wrapped entries back over the edge. */
static void test_htab_delete_wraps(void **state)
{
	static const uint64_t keys[] = { 10, 11, 12, 13, 14, 20, 21 };
	/* 16 slots: five entries at home 15 fill 15, 0, 1, 2, 3; two at home 0
	 * come after them */
	static const uint32_t hashes[] = { 15, 31, 47, 15, 63, 0, 16 };
	struct htab t;
	uint32_t i;

	assert_int_equal(htab__init(&t, 0), 0);
	assert_int_equal(t.mask, 15);
	for (i = 0; i < 7; i++)
		assert_int_equal(htab__insert(&t, hashes[i], i), 0);
	assert_int_equal(htab__delete(&t, hashes[0], 0), 0);
	assert_int_equal(htab__delete(&t, hashes[0], 0), -ENOENT);	/* twice */
	assert_int_equal(htab__delete(&t, hashes[2], 1), -ENOENT);	/* idx under another hash */
	assert_int_equal(t.count, 6);
	for (i = 1; i < 7; i++)
		assert_int_equal(htab__find(&t, hashes[i], u64__eq, keys, &keys[i]), i);
	assert_int_equal(htab__find(&t, hashes[0], u64__eq, keys, &keys[0]), -1);
	/* the hole is gone: slot 15 holds a shifted entry, the run still ends */
	assert_true(t.slots[15] != 0);
	assert_int_equal(htab__delete(&t, hashes[5], 5), 0);
	assert_int_equal(htab__delete(&t, hashes[3], 3), 0);
	for (i = 1; i < 7; i++)
		assert_int_equal(htab__find(&t, hashes[i], u64__eq, keys, &keys[i]),
				 i == 3 || i == 5 ? -1 : (int64_t)i);
	htab__free(&t);
}

static uint32_t weak_hash(uint64_t k) { return (uint32_t)(k % 61); }
static uint32_t good_hash(uint64_t k) { return htab__hash(&k, sizeof(k), 3); }

/* Random inserts and deletes, checked against what should be there, then
 * a walk that meets each live entry once. Freed entries are reused, most
 * recent first, as a caller with a free list does. */
static void htab_churn(uint32_t (*hash)(uint64_t))
{
	enum { KEYS = 4096, ROUNDS = 300000, CHECK_EVERY = 25000 };
	static uint64_t entries[KEYS];	/* key of each entry in use */
	static int64_t where[KEYS];	/* key -> entry, or -1 */
	static uint32_t unused[KEYS];	/* entries free for reuse */
	static uint8_t seen[KEYS];
	struct htab_iter it = HTAB_ITER_INIT;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint32_t n = 0, n_unused = 0, high = 0, round, k, walked = 0;
	struct htab t;

	assert_int_equal(htab__init(&t, 0), 0);
	for (k = 0; k < KEYS; k++)
		where[k] = -1;
	for (round = 1; round <= ROUNDS; round++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		k = (uint32_t)(seed % KEYS);	/* about half the keys live at a time */
		if (where[k] < 0) {
			uint32_t at = n_unused ? unused[--n_unused] : high++;

			assert_int_equal(htab__insert(&t, hash(k), at), 0);
			entries[at] = k;
			where[k] = at;
			n++;
		} else {
			assert_int_equal(htab__delete(&t, hash(k), (uint32_t)where[k]), 0);
			entries[where[k]] = UINT64_MAX;
			unused[n_unused++] = (uint32_t)where[k];
			where[k] = -1;
			n--;
		}
		if (round % CHECK_EVERY)
			continue;
		assert_int_equal(t.count, n);
		for (k = 0; k < KEYS; k++) {
			uint64_t key = k;

			assert_int_equal(htab__find(&t, hash(k), u64__eq, entries, &key), where[k]);
		}
	}
	/* deletes free their slots: the table is sized by what is live, not
	 * by how much went through it */
	assert_true(t.mask + 1 <= 4 * KEYS);
	assert_true(n > 0 && n < KEYS);
	memset(seen, 0, sizeof(seen));
	while (htab__next(&t, &it)) {
		assert_true(it.idx < high && entries[it.idx] != UINT64_MAX);
		assert_int_equal(it.hash, hash(entries[it.idx]));
		assert_int_equal(seen[it.idx], 0);
		seen[it.idx] = 1;
		walked++;
	}
	assert_int_equal(walked, n);
	assert_false(htab__next(&t, &it));	/* stays at the end */
	/* delete everything: the walk meets nothing */
	for (k = 0; k < KEYS; k++)
		if (where[k] >= 0)
			assert_int_equal(htab__delete(&t, hash(k), (uint32_t)where[k]), 0);
	assert_int_equal(t.count, 0);
	it = HTAB_ITER_INIT;
	assert_false(htab__next(&t, &it));
	htab__free(&t);
	it = HTAB_ITER_INIT;
	assert_false(htab__next(&t, &it));	/* a freed table walks as empty */
}

static void test_htab_churn(void **state)
{
	htab_churn(weak_hash);	/* 61 hashes: one run thousands long, every hash shared */
	htab_churn(good_hash);
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
	assert_int_equal(parse__duration("100us", 1e6, &v), 0);
	assert_true(v > 99.999e-6 && v < 100.001e-6);
	assert_int_equal(parse__duration("1500ns", 1e6, &v), 0);
	assert_true(v > 1.4999e-6 && v < 1.5001e-6);
	assert_int_equal(parse__duration("15m", 1e6, &v), 0);
	assert_true(v == 900);
	assert_int_equal(parse__duration("1h", 1e6, &v), 0);
	assert_true(v == 3600);
	assert_int_equal(parse__duration(".5", 1e6, &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(parse__duration("0", 1e6, &v), -ERANGE);
	assert_int_equal(parse__duration("2d", 3600, &v), -ERANGE);
	assert_int_equal(parse__duration("1e999", 1e6, &v), -EINVAL);
	/* no exponents: "-d 1e3" was once 1000 s */
	assert_int_equal(parse__duration("1e3", 1e6, &v), -EINVAL);
	assert_int_equal(parse__duration("1E3s", 1e6, &v), -EINVAL);
	assert_int_equal(parse__duration("2.5e-1", 1e6, &v), -EINVAL);
	assert_int_equal(parse__duration("1.2.3", 1e6, &v), -EINVAL);
	assert_int_equal(parse__duration("1.", 1e6, &v), 0);
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

/* A library opened on first use: its functions resolved, the same as the
 * ones linked; a missing library or function fails, and keeps failing,
 * without a crash, saying which. (zlib: a dependency of every build.) */
static const char *const zlib_names[] = { "zlibVersion", "adler32" };
static const char *const missing_fn_names[] = { "zlibVersion", "bpprof_no_such_function" };

static void test_dynlib(void **state)
{
	struct { const char *(*version)(void); unsigned long (*adler)(unsigned long,
								     const unsigned char *,
								     unsigned); } z;
	struct { void *version, *missing; } m;
	static struct dynlib absent, partial, zlib;

	zlib = (struct dynlib)DYNLIB_INIT("libz.so.1", "the test", zlib_names, &z);
	assert_true(dynlib__load(&zlib));
	assert_true(dynlib__load(&zlib));	/* once: still loaded */
	assert_string_equal(z.version(), zlibVersion());
	assert_int_equal(z.adler(1, (const unsigned char *)"bpprof", 6),
			 adler32(1, (const unsigned char *)"bpprof", 6));

	absent = (struct dynlib)DYNLIB_INIT("libbpprof-absent.so.0", "the test", zlib_names, &z);
	assert_string_equal(dynlib__error(&zlib), "");
	assert_false(dynlib__load(&absent));
	assert_false(dynlib__load(&absent));
	assert_non_null(strstr(dynlib__error(&absent),
			       "the test needs libbpprof-absent.so.0, which cannot be loaded ("));

	partial = (struct dynlib)DYNLIB_INIT("libz.so.1", "the test", missing_fn_names, &m);
	assert_false(dynlib__load(&partial));
	assert_string_equal(dynlib__error(&partial),
			    "the test needs bpprof_no_such_function from libz.so.1, which it lacks");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_limit),
		cmocka_unit_test(test_buf_take),
		cmocka_unit_test(test_htab),
		cmocka_unit_test(test_htab_delete_wraps),
		cmocka_unit_test(test_htab_churn),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_arena_budget),
		cmocka_unit_test(test_dynlib),
	};

	return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
