/* heap: the BPF sampler's countdown draw (the very function heap.bpf.c
 * runs) is exponential with the configured mean; sampling by Go's rule and
 * unsampling by heap__weight gives back the true totals; the live table
 * takes freed blocks out of "in use" and survives growth and deletion. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bpf/heap_sample.h"
#include "collect/heap.h"
#include "heap/heap.h"

static uint32_t table[HEAP_LOG_TABLE];

/* xorshift: reproducible, and good enough to feed the draw */
static uint32_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 32);
}

static void test_draw_is_exponential(void **state)
{
	const uint64_t rate = 524288;
	enum { N = 2000000 };
	uint64_t seed = 88172645463325252ull, over_3r = 0;
	double sum = 0;
	int i;

	heap__fill_log_table(table);
	for (i = 0; i < N; i++) {
		uint64_t d = heap_sample_draw(rnd(&seed), rate, table);

		sum += (double)d;
		over_3r += d > 3 * rate;
	}
	/* mean R (standard error R/√N ≈ 0.07%), P(X > 3R) = e^−3 */
	assert_true(fabs(sum / N / rate - 1) < 0.005);
	assert_true(fabs((double)over_3r / N - exp(-3)) < 0.002);
	/* the extremes stay finite: r = 0 and r = 1 are the largest draws */
	assert_true(heap_sample_draw(0, rate, table) == heap_sample_draw(1, rate, table));
	assert_true(heap_sample_draw(1, rate, table) < 32 * rate);
	assert_true(heap_sample_draw(UINT32_MAX, rate, table) < rate / 1000);
	assert_true(heap_sample_draw(1, HEAP_MAX_RATE, table) > 0);	/* no overflow */
}

/* The table is filled without libm (the preload library fills its own):
 * every entry as libm's log gives it. */
static void test_log_table(void **state)
{
	unsigned i;

	heap__fill_log_table(table);
	for (i = 0; i < HEAP_LOG_TABLE; i++) {
		double m = (HEAP_LOG_TABLE + i + 0.5) / (2.0 * HEAP_LOG_TABLE);

		assert_int_equal(table[i], llround(-log(m) * (double)(1u << HEAP_LOG_SHIFT)));
	}
}

static void test_weight(void **state)
{
	assert_true(heap__weight(100, 0) == 1);
	assert_true(heap__weight(0, 512) == 0);
	assert_true(fabs(heap__weight(512, 512) - 1 / (1 - exp(-1))) < 1e-12);
	/* a tiny allocation stands for about rate/size of them */
	assert_true(fabs(heap__weight(1, 1 << 20) - (1 << 20)) < 1);
	assert_true(fabs(heap__weight(1ull << 40, 512) - 1) < 1e-12);
}

/* Sample a stream of allocations the way heap.bpf.c does, weigh what was
 * sampled: the estimates come back within a few standard errors. */
static void test_unsampling(void **state)
{
	static const uint64_t sizes[] = { 16, 1000, 65536, 1 << 20, 8 << 20 };
	const uint64_t rate = 524288;
	uint64_t seed = 0x2545f4914f6cdd1dull, countdown;
	size_t k;

	heap__fill_log_table(table);
	countdown = heap_sample_draw(rnd(&seed), rate, table);
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		/* 4 GiB of each size: ~8000 expected samples */
		uint64_t n = (4ull << 30) / sizes[k], i;
		double objects = 0, space = 0;

		for (i = 0; i < n; i++) {
			if (sizes[k] < countdown) {
				countdown -= sizes[k];
				continue;
			}
			countdown = heap_sample_draw(rnd(&seed), rate, table);
			objects += heap__weight(sizes[k], rate);
			space += heap__weight(sizes[k], rate) * (double)sizes[k];
		}
		assert_true(fabs(objects / (double)n - 1) < 0.05);
		assert_true(fabs(space / ((double)n * (double)sizes[k]) - 1) < 0.05);
	}
}

static int add_sample(struct heap_table *h, uint32_t pid)
{
	struct stacks_sample key = { .proc = pid, .pid = pid, .tid = pid };

	/* as ingest does: every sample names its process and thread */
	if (stacks__intern_string(&h->stacks, "comm", 4, &key.comm) ||
	    stacks__intern_string(&h->stacks, "thread", 6, &key.thread_comm))
		return -1;
	return stacks__add(&h->stacks, &key, 1);
}

static void test_live_table(void **state)
{
	enum { N = 50000 };
	struct heap_table h;
	int a, b;
	uint64_t id;

	assert_int_equal(heap_table__init(&h, 0, 0), 0);
	a = add_sample(&h, 1);
	assert_int_equal(heap_table__alloc(&h, a, 1, 100, true), 0);
	b = add_sample(&h, 2);
	assert_int_equal(heap_table__alloc(&h, b, 2, 50, true), 0);
	a = add_sample(&h, 1);
	assert_int_equal(heap_table__alloc(&h, a, 3, 100, true), 0);
	assert_true(h.vals[a].alloc_space == 200 && h.vals[a].inuse_space == 200);
	assert_int_equal(heap_table__freed(&h, 1), 0);
	assert_true(h.vals[a].alloc_space == 200 && h.vals[a].inuse_space == 100);
	assert_true(h.vals[a].alloc_objects == 2 && h.vals[a].inuse_objects == 1);
	assert_int_equal(heap_table__freed(&h, 1), -ENOENT);	/* twice */
	assert_int_equal(heap_table__freed(&h, 99), -ENOENT);	/* never seen */
	assert_int_equal(h.unknown_frees, 2);
	/* an untracked block is allocated and in use, and stays in use */
	assert_int_equal(heap_table__alloc(&h, b, 4, 10, false), 0);
	assert_true(h.vals[b].inuse_space == 60);
	assert_int_equal(h.untracked, 1);

	/* many ids, freed in a scattered order: every one is found once */
	for (id = 100; id < 100 + N; id++)
		assert_int_equal(heap_table__alloc(&h, b, id, 1, true), 0);
	for (id = 100; id < 100 + N; id += 2)
		assert_int_equal(heap_table__freed(&h, id), 0);
	for (id = 101; id < 100 + N; id += 2)
		assert_int_equal(heap_table__freed(&h, id), 0);
	for (id = 100; id < 100 + N; id++)
		assert_int_equal(heap_table__freed(&h, id), -ENOENT);
	assert_true(h.vals[b].inuse_space == 60);
	assert_int_equal(heap_table__freed(&h, 2), 0);
	assert_int_equal(heap_table__freed(&h, 3), 0);
	assert_int_equal(h.n_live, 0);
	heap_table__free(&h);
}

/* Weights differ by size; once a sample's last tracked block is freed its
 * in-use values are exactly zero, not a floating-point rest. */
static void test_inuse_returns_to_zero(void **state)
{
	struct heap_table h;
	int a;

	assert_int_equal(heap_table__init(&h, 524288, 0), 0);
	a = add_sample(&h, 1);
	assert_int_equal(heap_table__alloc(&h, a, 1, 24, true), 0);
	assert_int_equal(heap_table__alloc(&h, a, 2, 3 << 20, true), 0);
	assert_int_equal(heap_table__alloc(&h, a, 3, 777, true), 0);
	assert_int_equal(heap_table__freed(&h, 1), 0);
	assert_true(h.vals[a].inuse_objects > 1);	/* the big block and the 777 */
	assert_int_equal(heap_table__freed(&h, 3), 0);
	assert_int_equal(heap_table__freed(&h, 2), 0);
	assert_true(h.vals[a].inuse_objects == 0 && h.vals[a].inuse_space == 0);
	assert_true(h.vals[a].alloc_space > 3 << 20);
	heap_table__free(&h);
}

/* A daemon window: allocations count afresh, what is held stays held; once
 * samples that hold nothing dominate they go, and the live blocks follow
 * their samples to the new indexes (a later free still finds its block). */
static void test_next_window(void **state)
{
	enum { DEAD = 3000 };
	struct heap_table h;
	int held, i, s;

	assert_int_equal(heap_table__init(&h, 0, 0), 0);
	for (i = 0; i < DEAD; i++) {
		s = add_sample(&h, 1000 + (uint32_t)i);
		assert_int_equal(heap_table__alloc(&h, s, 10 + (uint64_t)i, 8, true), 0);
		assert_int_equal(heap_table__freed(&h, 10 + (uint64_t)i), 0);
	}
	held = add_sample(&h, 7);
	assert_int_equal(heap_table__alloc(&h, held, 1, 64, true), 0);
	assert_int_equal(heap_table__alloc(&h, held, 2, 64, true), 0);
	assert_int_equal(heap_table__freed(&h, 1), 0);
	assert_int_equal(heap_table__next_window(&h), 0);
	assert_int_equal(h.stacks.n_samples, 1);	/* compacted: only the held one */
	assert_int_equal(h.stacks.samples[0].pid, 7);
	assert_true(h.vals[0].alloc_objects == 0 && h.vals[0].alloc_space == 0);
	assert_true(h.vals[0].inuse_objects == 1 && h.vals[0].inuse_space == 64);
	s = add_sample(&h, 7);				/* the same identity again */
	assert_int_equal(s, 0);
	assert_int_equal(heap_table__alloc(&h, s, 3, 32, true), 0);
	assert_true(h.vals[0].alloc_space == 32 && h.vals[0].inuse_space == 96);
	assert_int_equal(heap_table__freed(&h, 2), 0);	/* found after the move */
	assert_true(h.vals[0].inuse_space == 32);
	heap_table__free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_draw_is_exponential),
		cmocka_unit_test(test_log_table),
		cmocka_unit_test(test_weight),
		cmocka_unit_test(test_unsampling),
		cmocka_unit_test(test_live_table),
		cmocka_unit_test(test_inuse_returns_to_zero),
		cmocka_unit_test(test_next_window),
	};

	return cmocka_run_group_tests_name("heap", tests, NULL, NULL);
}
