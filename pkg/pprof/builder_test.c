/* builder: interning, 1..N ids, sample aggregation, labels, and a profile
 * that survives its own validation and a decode of its encoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "pprof/builder.h"
#include "pprof/codec.h"
#include "pprof/builder_test.h"

static const struct pprof_value_type cpu_types[] = {
	{ "samples", "count" }, { "cpu", "nanoseconds" },
};

static void test_interning(void **state)
{
	struct pprof_builder *b = pprof_builder__new(cpu_types, 2);
	struct pprof_mapping m = { .memory_start = 0x1000, .memory_limit = 0x2000,
				   .filename = "/bin/app", .has_functions = true };
	uint64_t f1, f2, l1, l2, m1;
	struct pprof_line line;

	assert_non_null(b);
	m1 = builder_test__mapping(b, &m);
	assert_int_equal(m1, 1);
	assert_int_equal(builder_test__mapping(b, &m), 1);
	f1 = builder_test__function(b, "main", NULL, "main.c", 10);
	f2 = builder_test__function(b, "work", NULL, "main.c", 20);
	assert_int_equal(f1, 1);
	assert_int_equal(f2, 2);
	assert_int_equal(builder_test__function(b, "main", NULL, "main.c", 10), 1);
	/* the same name in another file is another function */
	assert_int_equal(builder_test__function(b, "main", NULL, "other.c", 10), 3);
	line = (struct pprof_line){ f1, 12 };
	l1 = builder_test__location(b, m1, 0x1100, &line, 1);
	l2 = builder_test__location(b, m1, 0x1200, &line, 1);
	assert_int_equal(l1, 1);
	assert_int_equal(l2, 2);
	assert_int_equal(builder_test__location(b, m1, 0x1100, &line, 1), 1);
	/* a location may not point at a function that does not exist, and the
	 * builder stays failed */
	line.function_id = 99;
	assert_int_equal(pprof_builder__location(b, m1, 0x1300, &line, 1, &l1), -EINVAL);
	assert_int_equal(pprof_builder__function(b, "late", NULL, NULL, 0, &f1), -EINVAL);
	assert_null(pprof_builder__finish(b));
	pprof_builder__free(b);
}

static void test_samples_aggregate(void **state)
{
	struct pprof_builder *b = pprof_builder__new(cpu_types, 2);
	struct pprof_label labels[] = {
		{ .key = "pid", .num = 42 }, { .key = "comm", .str = "app" },
	};
	struct pprof_label other[] = {
		{ .key = "pid", .num = 43 }, { .key = "comm", .str = "app" },
	};
	/* refused for its second label: the first must leave no string behind */
	struct pprof_label reserved[] = {
		{ .key = "never_kept", .str = "nor_this" }, { .key = "pprof::base", .str = "x" },
	};
	int64_t v[2] = { 1, 10000000 };
	uint64_t f, l[2], stack[2];
	struct pprof_line line;
	struct pprof_profile *p;
	struct errmsg e;
	size_t i;

	f = builder_test__function(b, "leaf", NULL, NULL, 0);
	line = (struct pprof_line){ f, 1 };
	l[0] = builder_test__location(b, 0, 0, &line, 1);
	f = builder_test__function(b, "main", NULL, NULL, 0);
	line = (struct pprof_line){ f, 2 };
	l[1] = builder_test__location(b, 0, 0, &line, 1);
	stack[0] = l[0];
	stack[1] = l[1];
	for (i = 0; i < 5; i++)
		assert_int_equal(pprof_builder__add_sample(b, stack, 2, v, labels, 2), 0);
	assert_int_equal(pprof_builder__add_sample(b, stack, 2, v, other, 2), 0);
	assert_int_equal(pprof_builder__add_sample(b, stack, 1, v, labels, 2), 0);
	assert_int_equal(pprof_builder__add_sample(b, stack, 2, v, reserved, 2), -EINVAL);
	assert_int_equal(pprof_builder__sample_count(b), 3);
	pprof_builder__set_period(b, "cpu", "nanoseconds", 10000000);
	pprof_builder__set_time(b, 1700000000000000000, 10000000000);
	assert_int_equal(pprof_builder__add_comment(b, "made by a test"), 0);
	assert_int_equal(pprof_builder__set_frames(b, "malloc|free", NULL), 0);
	p = pprof_builder__finish(b);
	pprof_builder__free(b);
	assert_non_null(p);
	if (pprof__validate(p->pb, 1, &e))
		fail_msg("%s", e.text);
	assert_int_equal(p->pb->n_sample, 3);
	assert_int_equal(p->pb->sample[0]->value[0], 5);
	assert_int_equal(p->pb->sample[0]->value[1], 50000000);
	assert_int_equal(p->pb->sample[0]->n_label, 2);
	assert_string_equal(pprof__str(p->pb, p->pb->sample[0]->label[1]->str), "app");
	assert_int_equal(p->pb->sample[1]->label[0]->num, 43);
	assert_int_equal(p->pb->sample[2]->n_location_id, 1);
	assert_string_equal(p->pb->string_table[0], "");
	assert_string_equal(pprof__str(p->pb, p->pb->comment[0]), "made by a test");
	assert_string_equal(pprof__str(p->pb, p->pb->drop_frames), "malloc|free");
	assert_int_equal(p->pb->keep_frames, 0);
	for (i = 0; i < p->pb->n_string_table; i++) {
		size_t j;

		assert_string_not_equal(p->pb->string_table[i], "never_kept");
		assert_string_not_equal(p->pb->string_table[i], "nor_this");
		/* strings are interned: each once ("app" and "pid" are used twice) */
		for (j = 0; j < i; j++)
			assert_string_not_equal(p->pb->string_table[i], p->pb->string_table[j]);
	}
	assert_int_equal(pprof__default_sample_index(p->pb), 1);
	pprof__free(p);
}

/* Values that would add up past 64 bits are refused and change nothing, and
 * the builder holds no more sample types than a profile may have. */
static void test_value_overflow(void **state)
{
	struct pprof_value_type many[PPROF_MAX_SAMPLE_TYPES + 1];
	struct pprof_builder *b = pprof_builder__new(cpu_types, 2);
	int64_t big[2] = { 1, INT64_MAX }, neg[2] = { 1, INT64_MIN };
	struct pprof_profile *p;
	uint64_t f, l;
	struct pprof_line line;
	size_t i;

	f = builder_test__function(b, "leaf", NULL, NULL, 0);
	line = (struct pprof_line){ f, 1 };
	l = builder_test__location(b, 0, 0, &line, 1);
	assert_int_equal(pprof_builder__add_sample(b, &l, 1, big, NULL, 0), 0);
	assert_int_equal(pprof_builder__add_sample(b, &l, 1, big, NULL, 0), -ERANGE);
	assert_int_equal(pprof_builder__add_sample(b, &l, 1, neg, NULL, 0), 0);
	assert_int_equal(pprof_builder__add_sample(b, &l, 1, neg, NULL, 0), -ERANGE);
	p = pprof_builder__finish(b);
	pprof_builder__free(b);
	assert_non_null(p);
	assert_int_equal(p->pb->sample[0]->value[0], 2);
	assert_int_equal(p->pb->sample[0]->value[1], -1);
	pprof__free(p);

	for (i = 0; i < PPROF_MAX_SAMPLE_TYPES + 1; i++)
		many[i] = (struct pprof_value_type){ "samples", "count" };
	errno = 0;
	assert_null(pprof_builder__new(many, PPROF_MAX_SAMPLE_TYPES + 1));
	assert_int_equal(errno, E2BIG);
	b = pprof_builder__new(many, PPROF_MAX_SAMPLE_TYPES);
	assert_non_null(b);
	pprof_builder__free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interning),
		cmocka_unit_test(test_samples_aggregate),
		cmocka_unit_test(test_value_overflow),
	};

	return cmocka_run_group_tests_name("pprof/builder", tests, NULL, NULL);
}
