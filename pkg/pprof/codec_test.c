/* pprof codec: foreign profiles decode, re-encode and decode to the same
 * tree; hostile bytes are refused with the rule that failed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "fileio/fileio.h"
#include "pprof/builder.h"
#include "pprof/codec.h"
#include "pprof/builder_test.h"

static const char *const foreign[] = {
	"testdata/pprof/go-runtime-cpu.pb.gz",
	"testdata/pprof/parca-alloc_objects.pb.gz",
	"testdata/pprof/parca-alloc_space_delta.pb.gz",
	"testdata/pprof/parca-fgprof.pb.gz",
	"testdata/pprof/parca-fib.pb.gz",
	"testdata/pprof/parca-inlining-disabled-cpu.stripped.pprof",
	"testdata/pprof/parca-no-python.pb.gz",
	"testdata/pprof/parca-normal-cpu.stripped.pprof",
	"testdata/pprof/parca-profile-with-labels.pb.gz",
	"testdata/pprof/parca-profile1.pb.gz",
	"testdata/pprof/parca-single-stack.pb.gz",
	"testdata/pprof/parca-stripped-cpu.stripped.pprof",
	"testdata/pprof/parca-two-stacks.pb.gz",
};

static struct pprof_profile *read_profile(const char *path)
{
	struct buf b = BUF_INIT(1u << 30);
	struct pprof_profile *p = NULL;
	struct errmsg e;

	assert_int_equal(fileio__read_all(path, &b, &e), 0);
	if (pprof__decode_any(b.data, b.len, &p, &e))
		fail_msg("%s: %s", path, e.text);
	buf__free(&b);
	return p;
}

static int buf_sink(void *ctx, const void *data, size_t len)
{
	return buf__append(ctx, data, len);
}

static void encode(const struct pprof_profile *p, enum compress_kind kind, struct buf *out)
{
	struct compress_writer *w = compress_writer__new(kind, -1, buf_sink, out);
	struct errmsg e;

	assert_non_null(w);
	if (pprof__encode(p, w, &e))
		fail_msg("encode: %s", e.text);
	assert_int_equal(compress_writer__finish(w), 0);
	compress_writer__free(w);
}

static uint64_t total(const pprof_pb *pb, size_t index)
{
	uint64_t t = 0;
	size_t i;

	for (i = 0; i < pb->n_sample; i++)
		t += (uint64_t)pb->sample[i]->value[index];
	return t;
}

static void test_foreign_round_trip(void **state)
{
	size_t i, k;

	for (i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		struct pprof_profile *a = read_profile(foreign[i]), *b = NULL;
		enum compress_kind kinds[] = { COMPRESS_NONE, COMPRESS_GZIP, COMPRESS_ZSTD };

		assert_int_equal(pprof__normalize_ids(a), 0);
		for (k = 0; k < 3; k++) {
			struct buf out = BUF_INIT(0);
			struct errmsg e;
			size_t t;

			encode(a, kinds[k], &out);
			if (pprof__decode_any(out.data, out.len, &b, &e))
				fail_msg("%s re-read: %s", foreign[i], e.text);
			assert_int_equal(b->pb->n_sample, a->pb->n_sample);
			assert_int_equal(b->pb->n_location, a->pb->n_location);
			assert_int_equal(b->pb->n_function, a->pb->n_function);
			assert_int_equal(b->pb->n_mapping, a->pb->n_mapping);
			assert_int_equal(b->pb->n_string_table, a->pb->n_string_table);
			assert_int_equal(b->pb->time_nanos, a->pb->time_nanos);
			for (t = 0; t < a->pb->n_sample_type; t++)
				assert_int_equal(total(a->pb, t), total(b->pb, t));
			pprof__free(b);
			buf__free(&out);
		}
		pprof__free(a);
	}
}

/* Go's runtime profile, as google/pprof reads it: 2 sample types, 9 samples. */
static void test_go_cpu_reading(void **state)
{
	struct pprof_profile *p = read_profile("testdata/pprof/go-runtime-cpu.pb.gz");
	const pprof_pb *pb = p->pb;

	assert_int_equal(pb->n_sample_type, 2);
	assert_string_equal(pprof__str(pb, pb->sample_type[0]->type), "samples");
	assert_string_equal(pprof__str(pb, pb->sample_type[1]->unit), "nanoseconds");
	assert_string_equal(pprof__str(pb, pb->period_type->type), "cpu");
	assert_true(pb->n_sample > 0);
	assert_int_equal(total(pb, 1), total(pb, 0) * (uint64_t)pb->period);
	pprof__free(p);
}

static void expect_refused(const void *data, size_t len, const char *needle)
{
	struct pprof_profile *p = NULL;
	struct errmsg e = { "" };
	int err = pprof__decode_any(data, len, &p, &e);

	assert_true(err < 0);
	assert_null(p);
	if (!strstr(e.text, needle))
		fail_msg("expected \"%s\" in \"%s\"", needle, e.text);
}

static void test_bad_inputs(void **state)
{
	/* string_table = ["", "x"]; then sample_type {type: 7} */
	static const uint8_t bad_index[] = { 0x32, 0x00, 0x32, 0x01, 'x', 0x0a, 0x02, 0x08, 0x07 };
	/* a function with id 0 */
	static const uint8_t zero_id[] = { 0x32, 0x00, 0x2a, 0x02, 0x10, 0x00 };
	/* field 1 length-delimited, length is an 11-byte varint */
	static const uint8_t huge_varint[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					       0xff, 0xff, 0xff, 0xff, 0x01 };
	/* string_table[0] = "a" */
	static const uint8_t first_string[] = { 0x32, 0x01, 'a' };
	/* time_nanos twice: two profiles glued together */
	static const uint8_t twice[] = { 0x32, 0x00, 0x48, 0x01, 0x48, 0x02 };
	/* a sample pointing at location 5, none exist */
	static const uint8_t dangling[] = { 0x32, 0x00, 0x0a, 0x00, 0x12, 0x05, 0x0a, 0x01, 0x05,
					    0x10, 0x01 };
	/* a sample with 2 values for 1 sample type */
	static const uint8_t values[] = { 0x32, 0x00, 0x0a, 0x00, 0x12, 0x04, 0x12, 0x02, 0x01, 0x02 };
	static const uint8_t group[] = { 0x0b, 0x0c };
	/* a field claiming more bytes than there are */
	static const uint8_t overrun[] = { 0x12, 0x10, 0x00 };
	static const uint8_t gzip_truncated[] = { 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00 };
	uint8_t random[4096], many_types[2 * 65 + 4];
	size_t i;
	unsigned seed = 42;

	expect_refused(bad_index, sizeof(bad_index), "string index 7 out of range");
	expect_refused(zero_id, sizeof(zero_id), "has id 0");
	expect_refused(huge_varint, sizeof(huge_varint), "varint longer than 10 bytes");
	expect_refused(first_string, sizeof(first_string), "string_table[0]");
	expect_refused(twice, sizeof(twice), "concatenated profiles");
	expect_refused(dangling, sizeof(dangling), "location 5, which does not exist");
	expect_refused(values, sizeof(values), "2 values for 1 sample types");
	expect_refused(group, sizeof(group), "wire type");
	expect_refused(overrun, sizeof(overrun), "truncated");
	expect_refused(gzip_truncated, sizeof(gzip_truncated), "truncated gzip");
	expect_refused("", 0, "empty");
	/* 65 empty sample types, then a sample whose varint is cut short: the
	 * count is refused before unpacking (a 45 KB zstd file of 256M sample
	 * types took 4.7 GB and 21 s to refuse after unpacking). */
	for (i = 0; i < 65; i++) {
		many_types[2 * i] = 0x0a;
		many_types[2 * i + 1] = 0x00;
	}
	memcpy(many_types + 130, (const uint8_t[]){ 0x12, 0x02, 0x08, 0xff }, 4);
	expect_refused(many_types, sizeof(many_types), "65 sample types (limit 64)");
	for (i = 0; i < sizeof(random); i++)
		random[i] = (uint8_t)(rand_r(&seed) >> 8);
	expect_refused(random, sizeof(random), "");
}

/* Truncating a real profile anywhere never crashes and never succeeds
 * silently with the wrong content. */
static void test_every_truncation(void **state)
{
	struct buf b = BUF_INIT(0), raw = BUF_INIT(0);
	struct errmsg e;
	size_t cut;

	assert_int_equal(fileio__read_all("testdata/pprof/parca-two-stacks.pb.gz", &b, &e), 0);
	assert_int_equal(compress__decode(b.data, b.len, &raw, &e), 0);
	for (cut = 0; cut < b.len; cut++) {
		struct pprof_profile *p = NULL;

		assert_true(pprof__decode_any(b.data, cut, &p, &e) < 0);
	}
	for (cut = 0; cut < raw.len; cut++) {
		struct pprof_profile *p = NULL;

		if (pprof__decode(raw.data, cut, &p, &e) == 0)
			pprof__free(p);	/* a cut at a field boundary is a smaller valid profile */
	}
	buf__free(&b);
	buf__free(&raw);
}

/* A refused renumbering (duplicate mapping ids) must not free the indexes
 * it never built (they were uninitialised). */
static void test_normalize_refused(void **state)
{
	static const struct pprof_value_type type = { "samples", "count" };
	struct pprof_builder *b = pprof_builder__new(&type, 1);
	struct pprof_mapping m = { .filename = "/bin/a" };
	struct pprof_profile *p;

	assert_non_null(b);
	assert_int_equal(builder_test__mapping(b, &m), 1);
	m.filename = "/bin/b";
	assert_int_equal(builder_test__mapping(b, &m), 2);
	p = pprof_builder__finish(b);
	pprof_builder__free(b);
	assert_non_null(p);
	p->pb->mapping[1]->id = 1;
	assert_int_equal(pprof__normalize_ids(p), -EINVAL);
	pprof__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_foreign_round_trip),
		cmocka_unit_test(test_go_cpu_reading),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_normalize_refused),
	};

	return cmocka_run_group_tests_name("pprof/codec", tests, NULL, NULL);
}
