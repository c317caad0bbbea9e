/* Aggregation: identical samples add up, stacks are stored once, limits
 * refuse without damage, reset starts empty. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stacks/stacks.h"

static int add(struct stacks *t, uint32_t pid, const char *comm, const uint64_t *k, size_t nk,
		const uint64_t *u, size_t nu, uint64_t count)
{
	struct stacks_sample s = { .proc = pid, .pid = pid, .tid = pid };

	assert_int_equal(stacks__intern_string(t, comm, strlen(comm), &s.comm), 0);
	s.thread_comm = s.comm;
	assert_int_equal(stacks__intern_stack(t, k, nk, &s.kstack), 0);
	assert_int_equal(stacks__intern_stack(t, u, nu, &s.ustack), 0);
	return stacks__add(t, &s, count);
}

static void test_aggregate(void **state)
{
	static const uint64_t k[] = { 0xffffffff81000010, 0xffffffff81000020 };
	static const uint64_t u1[] = { 0x401000, 0x402000, 0x403000 };
	static const uint64_t u2[] = { 0x401000, 0x402000 };
	struct stacks t;
	const uint64_t *f;
	size_t n;

	assert_int_equal(stacks__init(&t, 0), 0);
	assert_int_equal(add(&t, 10, "a", k, 2, u1, 3, 1), 0);
	assert_int_equal(add(&t, 10, "a", k, 2, u1, 3, 2), 0);	/* the same sample */
	assert_int_equal(add(&t, 10, "a", k, 2, u2, 2, 1), 1);	/* a prefix is another stack */
	assert_int_equal(add(&t, 11, "b", k, 2, u1, 3, 1), 2);	/* another process */
	assert_int_equal(add(&t, 11, "b", NULL, 0, u1, 3, 1), 3);	/* no kernel part */
	assert_int_equal(t.n_samples, 4);
	assert_int_equal(t.total, 6);
	assert_int_equal(t.samples[0].count, 3);
	assert_int_equal(t.n_stacks, 4);	/* empty, k, u1, u2 */
	f = stacks__frames(&t, t.samples[1].ustack, &n);
	assert_int_equal(n, 2);
	assert_memory_equal(f, u2, sizeof(u2));
	assert_string_equal(stacks__string(&t, t.samples[3].comm), "b");
	assert_int_equal(t.samples[3].kstack, 0);

	assert_int_equal(stacks__reset(&t), 0);
	assert_int_equal(t.n_samples, 0);
	assert_int_equal(t.total, 0);
	assert_int_equal(add(&t, 12, "c", k, 2, u1, 3, 5), 0);
	assert_int_equal(t.n_samples, 1);
	assert_int_equal(t.total, 5);
	stacks__free(&t);
}

/* Off-CPU samples: the thread state (tag) keeps otherwise identical samples
 * apart, and each sums its waits' nanoseconds beside their count. */
static void test_tag_and_value(void **state)
{
	static const uint64_t k[] = { 0xffffffff81000010 };
	struct stacks_sample s = { .proc = 7, .pid = 7, .tid = 8 };
	struct stacks t;

	assert_int_equal(stacks__init(&t, 0), 0);
	assert_int_equal(stacks__intern_stack(&t, k, 1, &s.kstack), 0);
	s.tag = 2;
	assert_int_equal(stacks__add_value(&t, &s, 1, 20000000), 0);
	assert_int_equal(stacks__add_value(&t, &s, 1, 10000000), 0);
	s.tag = 1;
	assert_int_equal(stacks__add_value(&t, &s, 1, 500), 1);
	s.tag = 0;
	s.value = 99;	/* ignored: only the argument adds */
	assert_int_equal(stacks__add(&t, &s, 3), 2);
	assert_int_equal(t.n_samples, 3);
	assert_int_equal(t.samples[0].count, 2);
	assert_int_equal(t.samples[0].value, 30000000);
	assert_int_equal(t.samples[1].value, 500);
	assert_int_equal(t.samples[2].value, 0);
	assert_int_equal(t.total, 6);
	assert_int_equal(t.total_value, 30000500);
	assert_int_equal(stacks__reset(&t), 0);
	assert_int_equal(t.total_value, 0);
	stacks__free(&t);
}

static void test_limits(void **state)
{
	static uint64_t deep[STACKS_MAX_FRAMES + 1];
	uint64_t frames[64];
	struct stacks t;
	uint32_t id;
	size_t i, before;
	int err = 0;

	assert_int_equal(stacks__init(&t, 0), 0);
	assert_int_equal(stacks__intern_stack(&t, deep, STACKS_MAX_FRAMES + 1, &id), -E2BIG);
	stacks__free(&t);

	/* A small budget fills up with distinct stacks, then refuses cleanly. */
	assert_int_equal(stacks__init(&t, 256 << 10), 0);
	for (i = 0; i < 100000 && !err; i++) {
		memset(frames, 0, sizeof(frames));
		frames[0] = i;
		before = t.n_stacks;
		err = stacks__intern_stack(&t, frames, 64, &id);
	}
	assert_int_equal(err, -E2BIG);
	assert_int_equal(t.n_stacks, before);
	assert_true(stacks__bytes(&t) <= 256 << 10);
	/* what is there is still found */
	frames[0] = 0;
	assert_int_equal(stacks__intern_stack(&t, frames, 64, &id), 0);
	assert_int_equal(id, 1);
	stacks__free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aggregate),
		cmocka_unit_test(test_tag_and_value),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
