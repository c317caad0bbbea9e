/* folded stacks: the libbpf-tools capture, the shapes other tools write,
 * refusals, writing (inline order, sums, chunks) and round trips. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/log.h"
#include "convert/convert.h"
#include "convert/internal.h"
#include "pprof/folded.h"
#include "convert/reader_test.h"
#include "fileio/fileio.h"
#include "pprof/builder.h"
#include "pprof/codec.h"
#include "pprof/builder_test.h"

static const char fixture[] = "testdata/perf/libbpf-tools-profile-folded.txt";

static struct pprof_profile *read_ok(const char *text, size_t len)
{
	return reader__ok(folded__read, text, len);
}

static void expect_refused(const char *text, size_t len, const char *message)
{
	reader__refused(folded__read, text, len, message);
}

static int buf_sink(void *ctx, const void *data, size_t len)
{
	return buf__append(ctx, data, len);
}

/* folded__write into a NUL-terminated buffer the caller frees. */
static char *write_ok(const struct pprof_profile *p, size_t index)
{
	struct buf out = BUF_INIT(0);
	struct errmsg e = { "" };

	if (folded__write(p, index, buf_sink, &out, &e))
		fail_msg("folded__write: %s", e.text);
	assert_int_equal(buf__append(&out, "", 1), 0);
	return (char *)out.data;
}

static const char *function_name(const pprof_pb *pb, uint64_t loc_id, size_t line)
{
	const pprof_location_pb *loc = pb->location[loc_id - 1];

	assert_int_equal(loc->id, loc_id);
	assert_true(line < loc->n_line);
	return pprof__str(pb, pb->function[loc->line[line]->function_id - 1]->name);
}

static void test_libbpf_tools_capture(void **state)
{
	struct buf b = BUF_INIT(0);
	struct pprof_profile *p;
	struct capture c;
	struct errmsg e;
	const pprof_pb *pb;
	const char *warn;
	char *out;

	assert_int_equal(fileio__read_all(fixture, &b, &e), 0);
	capture__begin(&c);
	p = read_ok((const char *)b.data, b.len);
	warn = capture__end(&c);
	/* the "WARNING: 1 stack traces could not be displayed." line */
	assert_non_null(strstr(warn, "folded: lines skipped (# comments, or not 'frame;frame COUNT' "
				     "with COUNT above 0): 1, the first at line 1"));
	pb = p->pb;
	assert_int_equal(pb->n_sample_type, 1);
	assert_string_equal(pprof__str(pb, pb->sample_type[0]->type), "samples");
	assert_string_equal(pprof__str(pb, pb->sample_type[0]->unit), "count");
	assert_int_equal(total(pb, 0), 198);
	/* 28 lines, 4 distinct stacks; the first is gzip;[unknown], leaf first */
	assert_int_equal(pb->n_sample, 4);
	assert_int_equal(pb->sample[0]->value[0], 183);
	assert_int_equal(pb->sample[0]->n_location_id, 2);
	assert_string_equal(function_name(pb, pb->sample[0]->location_id[0], 0), "[unknown]");
	assert_string_equal(function_name(pb, pb->sample[0]->location_id[1], 0), "gzip");
	assert_int_equal(pb->sample[3]->n_location_id, 7);
	assert_string_equal(function_name(pb, pb->sample[3]->location_id[0], 0),
			    "damon_pa_batch_lock");
	assert_string_equal(function_name(pb, pb->sample[3]->location_id[6], 0), "kdamond.0");
	/* names are functions; locations carry no mapping or address */
	assert_int_equal(pb->n_mapping, 0);
	assert_int_equal(pb->location[0]->mapping_id, 0);
	assert_int_equal(pb->location[0]->address, 0);

	out = write_ok(p, 0);
	assert_string_equal(out,
			    "gzip;[unknown] 183\n"
			    "gzip;[unknown];[unknown] 13\n"
			    "gzip;[Missed User Stack] 1\n"
			    "kdamond.0;ret_from_fork_asm;ret_from_fork;kthread;kdamond_fn;"
			    "damon_pa_check_accesses;damon_pa_batch_lock 1\n");
	free(out);
	pprof__free(p);
	buf__free(&b);
}

static void test_shapes(void **state)
{
	/* C++ names with blanks, tab before the count, CRLF, a blank line,
	 * an empty frame, no final newline */
	static const char text[] =
		"app;main;foo(int, char const*) const;[unknown] 3\r\n"
		"\n"
		"app;main\t2\r\n"
		"  app;main;foo(int, char const*) const;[unknown]   4  \n"
		"app;;leaf 1";
	struct pprof_profile *p = read_ok(text, sizeof(text) - 1);
	const pprof_pb *pb = p->pb;
	const pprof_location_pb *empty;
	char *out;

	assert_int_equal(pb->n_sample, 3);
	assert_int_equal(pb->sample[0]->value[0], 7);
	assert_int_equal(pb->sample[0]->n_location_id, 4);
	assert_string_equal(function_name(pb, pb->sample[0]->location_id[1], 0),
			    "foo(int, char const*) const");
	assert_int_equal(pb->sample[1]->value[0], 2);
	assert_int_equal(pb->sample[1]->n_location_id, 2);
	assert_string_equal(function_name(pb, pb->sample[1]->location_id[0], 0), "main");
	/* the empty frame keeps its place, as a location nothing is known about */
	assert_int_equal(pb->sample[2]->n_location_id, 3);
	empty = pb->location[pb->sample[2]->location_id[1] - 1];
	assert_int_equal(empty->n_line, 0);
	assert_string_equal(function_name(pb, pb->sample[2]->location_id[0], 0), "leaf");

	out = write_ok(p, 0);
	assert_string_equal(out, "app;main;foo(int, char const*) const;[unknown] 7\n"
				 "app;main 2\n"
				 "app;[unknown];leaf 1\n");
	free(out);
	pprof__free(p);
}

static void test_refused(void **state)
{
	char *big;

	expect_refused("", 0, "no stacks found: not folded stacks?");
	expect_refused("\n\n  \n", 4, "no stacks found: not folded stacks?");
	expect_refused("hello world\nno count here\n", 26,
		       "no stacks found: not folded stacks? (lines skipped: 2, the first at line 1)");
	expect_refused("a;b 1\na;b 18446744073709551616\n", 31, "line 2: count out of range");
	expect_refused("a;b 9223372036854775808\n", 24, "line 1: count out of range");
	expect_refused("a 9223372036854775807\nb 1\n", 26, "line 2: counts add up past");

	big = malloc(CONVERT_MAX_LINE + 16);
	assert_non_null(big);
	memcpy(big, "a 1\n", 4);
	memset(big + 4, 'x', CONVERT_MAX_LINE + 1);
	memcpy(big + 4 + CONVERT_MAX_LINE + 1, " 1\n", 3);
	expect_refused(big, CONVERT_MAX_LINE + 8, "line 2: longer than 1048576 bytes");
	free(big);
}

/* Lines a tool would not write are skipped and counted when they are a few
 * in input named folded (--from folded); most such lines are refused. */
static void test_skipped_lines(void **state)
{
	static const char text[] = "a;b 2\n5\n a\x00 3\n;a -1\nx;y 1\nc 1.5\nq 1\nr 1\ns 1\n";
	struct pprof_profile *p;
	struct capture c;

	capture__begin(&c);
	p = read_ok(text, sizeof(text) - 1);
	assert_non_null(strstr(capture__end(&c), "COUNT above 0): 4, the first at line 2"));
	assert_int_equal(p->pb->n_sample, 5);
	assert_int_equal(total(p->pb, 0), 6);
	pprof__free(p);
}

/* perf script -F comm,tid,ip,sym with call chains: "COMM TID" looks like a
 * stack of one frame with the thread id as its count, the frames are no
 * folded lines. Named folded, most lines do not parse: refused (issue 19),
 * not read as thread ids summed. Detected, the first such line refuses. */
static void test_mostly_not_folded(void **state)
{
	static const char capture[] = "testdata/perf/perf-script-comm-tid-ip-sym.txt";
	struct pprof_profile *p = (void *)1;
	struct buf b = BUF_INIT(0);
	struct errmsg e = { "" };

	assert_int_equal(fileio__read_all(capture, &b, &e), 0);
	expect_refused((const char *)b.data, b.len, "most lines are not 'frame;frame COUNT' (23 of "
		       "29, the first at line 2): not folded stacks?");
	assert_int_equal(folded__read_mode((const char *)b.data, b.len, true, &p, &e), -EBADMSG);
	assert_null(p);
	assert_non_null(strstr(e.text, "line 2: expected 'frame;frame COUNT', got '1160 leaf'"));
	/* half and half is not most: skipped, counted */
	log__set_level(LOG_ERROR);
	p = read_ok("a 1\nzzz\n", 8);
	assert_int_equal(total(p->pb, 0), 1);
	pprof__free(p);
	log__set_level(LOG_INFO);
	buf__free(&b);
}

/* Detected folded text (strict): every line a stack, a comment, a count of
 * 0, profile's WARNING line or a stack of empty frames; anything else is
 * refused, a NUL byte said. ";;; 2" holds no frame at all: skipped, not
 * four [unknown] frames (issue 19). */
static void test_strict(void **state)
{
	static const char fixture_text[] = "WARNING: 1 stack traces could not be displayed.\n"
					   "# note\na;b 0\n;;; 2\na;b 3\n";
	struct pprof_profile *p = NULL;
	struct errmsg e = { "" };

	log__set_level(LOG_ERROR);
	assert_int_equal(folded__read_mode(fixture_text, sizeof(fixture_text) - 1, true, &p, &e), 0);
	assert_int_equal(p->pb->n_sample, 1);
	assert_int_equal(p->pb->n_location, 2);
	assert_int_equal(total(p->pb, 0), 3);
	pprof__free(p);
	p = read_ok(";;; 2\n; ; 1\na 1\n", 16);
	assert_int_equal(p->pb->n_sample, 1);
	assert_int_equal(p->pb->n_location, 1);
	pprof__free(p);
	p = (void *)1;
	assert_int_equal(folded__read_mode("a 1\nb\0c 2\n", 11, true, &p, &e), -EBADMSG);
	assert_null(p);
	assert_non_null(strstr(e.text, "line 2: expected 'frame;frame COUNT' (it holds a NUL byte)"));
	p = (void *)1;
	assert_int_equal(folded__read_mode(";;; 2\n", 6, true, &p, &e), -EBADMSG);
	assert_non_null(strstr(e.text, "no stacks found"));
	log__set_level(LOG_INFO);
}

/* "#" comments and counts of 0 carry no stack: skipped and counted, and
 * text of nothing else (such as a perf script --header) is refused rather
 * than read as an empty profile. */
static void test_comments_and_zero_counts(void **state)
{
	static const char text[] = "# made by hand\n#\na;b 0\na;b 2\n  # c 5\nc 1\n";
	static const char header[] = "# CPU 0: Core ID 0, Die ID 0, Socket ID 0\n"
				     "# CPU 1: Core ID 1, Die ID 0, Socket ID 0\n"
				     "# nrcpus online : 2\n";
	struct pprof_profile *p;
	struct capture c;

	capture__begin(&c);
	p = read_ok(text, sizeof(text) - 1);
	assert_non_null(strstr(capture__end(&c), "COUNT above 0): 4, the first at line 1"));
	assert_int_equal(p->pb->n_sample, 2);
	assert_int_equal(total(p->pb, 0), 3);
	pprof__free(p);

	expect_refused("a;b 0\nc 0\n", 10, "no stacks found: not folded stacks? (lines skipped: "
		       "2, the first at line 1)");
	/* perf script -I: lines that end in a number, the first ones in 0 */
	expect_refused(header, sizeof(header) - 1,
		       "no stacks found: not folded stacks? (lines skipped: 3, the first at line 1)");
}

/* Deeper than CONVERT_MAX_FRAMES: the leaf end stays, and the user hears. */
static void test_deep_stack(void **state)
{
	struct buf text = BUF_INIT(0);
	struct pprof_profile *p;
	struct capture c;
	const pprof_sample_pb *s;
	size_t i;

	for (i = 0; i < CONVERT_MAX_FRAMES + 100; i++)
		assert_int_equal(buf__appendf(&text, "%sf%zu", i ? ";" : "", i), 0);
	assert_int_equal(buf__appendf(&text, " 1\n"), 0);
	capture__begin(&c);
	p = read_ok((const char *)text.data, text.len);
	assert_non_null(strstr(capture__end(&c), "folded: stacks deeper than 4096 frames cut to "
					      "their leaf-most 4096: 1, the first at line 1"));
	s = p->pb->sample[0];
	assert_int_equal(s->n_location_id, CONVERT_MAX_FRAMES);
	assert_string_equal(function_name(p->pb, s->location_id[0], 0), "f4195");
	assert_string_equal(function_name(p->pb, s->location_id[CONVERT_MAX_FRAMES - 1], 0), "f100");
	pprof__free(p);
	buf__free(&text);
}

/* Whatever the bytes, the reader answers 0 or -EBADMSG. */
static void test_random_bytes(void **state)
{
	static const char alphabet[] = "ab; 0123456789\n\r\t\x00\xff[]";
	char data[512];
	unsigned seed = 7;
	int round;

	log__set_level(LOG_ERROR);
	for (round = 0; round < 2000; round++) {
		size_t len = (size_t)rand_r(&seed) % sizeof(data), i;
		struct pprof_profile *p = NULL;
		struct errmsg e = { "" };
		int err;

		for (i = 0; i < len; i++)
			data[i] = round & 1 ? (char)rand_r(&seed)
					    : alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		err = folded__read(data, len, &p, &e);
		if (err && err != -EBADMSG)
			fail_msg("round %d: %d %s", round, err, e.text);
		if (!err) {
			char *out = write_ok(p, 0);

			free(out);
			pprof__free(p);
		}
	}
	log__set_level(LOG_INFO);
}

/* A location's lines are innermost first; the folded stack reads root
 * first, so the caller comes before what was inlined into it. */
static struct pprof_profile *inlined_profile(void)
{
	static const struct pprof_value_type types[] = {
		{ "samples", "count" }, { "cpu", "nanoseconds" },
	};
	struct pprof_builder *b = pprof_builder__new(types, 2);
	struct pprof_mapping m = { .memory_start = 0x1000, .memory_limit = 0x9000,
				   .filename = "/bin/app" };
	struct pprof_label pid1 = { .key = "pid", .num = 1 }, pid2 = { .key = "pid", .num = 2 };
	struct pprof_line lines[2];
	uint64_t map, f_main, f_outer, f_inner, f_odd, l_main, l_inl, l_unk, l_odd, stack[3];
	int64_t v1[] = { 5, 50 }, v2[] = { 2, 20 }, v0[] = { 0, 0 }, v3[] = { 1, 0 };
	struct pprof_profile *p;

	assert_non_null(b);
	map = builder_test__mapping(b, &m);
	f_main = builder_test__function(b, "main", NULL, NULL, 0);
	f_outer = builder_test__function(b, "outer", NULL, NULL, 0);
	f_inner = builder_test__function(b, "inner", NULL, NULL, 0);
	f_odd = builder_test__function(b, "a;b\nc", NULL, NULL, 0);
	lines[0] = (struct pprof_line){ f_main, 3 };
	l_main = builder_test__location(b, map, 0x1100, lines, 1);
	lines[0] = (struct pprof_line){ f_inner, 20 };	/* inlined into outer */
	lines[1] = (struct pprof_line){ f_outer, 10 };
	l_inl = builder_test__location(b, map, 0x1200, lines, 2);
	l_unk = builder_test__location(b, map, 0x1300, NULL, 0);
	lines[0] = (struct pprof_line){ f_odd, 1 };
	l_odd = builder_test__location(b, map, 0x1400, lines, 1);

	stack[0] = l_unk, stack[1] = l_inl, stack[2] = l_main;
	assert_int_equal(pprof_builder__add_sample(b, stack, 3, v1, &pid1, 1), 0);
	stack[0] = l_main;
	assert_int_equal(pprof_builder__add_sample(b, stack, 1, v0, NULL, 0), 0);
	stack[0] = l_odd, stack[1] = l_main;
	assert_int_equal(pprof_builder__add_sample(b, stack, 2, v3, NULL, 0), 0);
	/* the first stack again with another label: one folded line */
	stack[0] = l_unk, stack[1] = l_inl, stack[2] = l_main;
	assert_int_equal(pprof_builder__add_sample(b, stack, 3, v2, &pid2, 1), 0);
	assert_int_equal(pprof_builder__add_sample(b, stack, 0, v2, NULL, 0), 0);
	p = pprof_builder__finish(b);
	assert_non_null(p);
	pprof_builder__free(b);
	return p;
}

static void test_write(void **state)
{
	struct pprof_profile *p = inlined_profile();
	struct buf out = BUF_INIT(0);
	struct errmsg e = { "" };
	char *text;

	text = write_ok(p, 0);
	assert_string_equal(text, "main;outer;inner;[app] 7\n"
				  "main;a_b_c 1\n"
				  "[unknown] 2\n");
	free(text);
	/* by the second value, zero totals are left out */
	text = write_ok(p, 1);
	assert_string_equal(text, "main;outer;inner;[app] 70\n"
				  "[unknown] 20\n");
	free(text);
	assert_int_equal(folded__write(p, 2, buf_sink, &out, &e), -EINVAL);
	assert_non_null(strstr(e.text, "sample type 2 out of range"));
	assert_int_equal(out.len, 0);
	/* ids index the arrays directly; one past the end is refused, not read */
	p->pb->sample[0]->location_id[1] = p->pb->n_location + 1;
	assert_int_equal(folded__write(p, 0, buf_sink, &out, &e), -EINVAL);
	assert_non_null(strstr(e.text, "sample 0: no location 5"));
	p->pb->sample[0]->location_id[1] = 2;
	p->pb->location[1]->line[0]->function_id = 0;
	assert_int_equal(folded__write(p, 0, buf_sink, &out, &e), -EINVAL);
	assert_non_null(strstr(e.text, "location 2: no function 0"));
	pprof__free(p);
}

struct chunks {
	struct buf all;
	size_t calls, largest;
	int fail_at;
};

static int chunk_sink(void *ctx, const void *data, size_t len)
{
	struct chunks *c = ctx;

	if (++c->calls == (size_t)c->fail_at)
		return -EIO;
	c->largest = len > c->largest ? len : c->largest;
	return buf__append(&c->all, data, len);
}

/* Output leaves in chunks, not a sink call per frame or line; sink errors
 * come back. */
static void test_write_chunks(void **state)
{
	struct buf text = BUF_INIT(0);
	struct chunks c = { .all = BUF_INIT(0) };
	struct pprof_profile *p;
	struct errmsg e = { "" };
	size_t i;

	for (i = 0; i < 20000; i++)
		assert_int_equal(buf__appendf(&text, "process;main;function_number_%zu %zu\n", i, i + 1), 0);
	p = read_ok((const char *)text.data, text.len);
	assert_int_equal(folded__write(p, 0, chunk_sink, &c, &e), 0);
	assert_int_equal(c.all.len, text.len);
	assert_memory_equal(c.all.data, text.data, text.len);
	assert_true(c.calls > 1 && c.calls < 20);
	assert_true(c.largest >= 4096);

	buf__free(&c.all);
	c = (struct chunks){ .all = BUF_INIT(0), .fail_at = 2 };
	assert_int_equal(folded__write(p, 0, chunk_sink, &c, &e), -EIO);
	assert_non_null(strstr(e.text, "cannot write folded stacks"));
	buf__free(&c.all);
	pprof__free(p);
	buf__free(&text);
}

/* folded -> pprof -> bytes -> pprof -> folded keeps every stack and sum. */
static void test_round_trip(void **state)
{
	static const char text[] = "app;main;work 1\napp;main;idle 2\napp;main;work 3\n"
				   "app;[unknown];x 4\n";
	struct pprof_profile *a = read_ok(text, sizeof(text) - 1), *b = NULL;
	struct compress_writer *w;
	struct buf bytes = BUF_INIT(0);
	struct errmsg e = { "" };
	char *out;

	w = compress_writer__new(COMPRESS_GZIP, COMPRESS_LEVEL_DEFAULT, buf_sink, &bytes);
	assert_non_null(w);
	assert_int_equal(pprof__encode(a, w, &e), 0);
	assert_int_equal(compress_writer__finish(w), 0);
	compress_writer__free(w);
	if (pprof__decode_any(bytes.data, bytes.len, &b, &e))
		fail_msg("decode: %s", e.text);
	out = write_ok(b, 0);
	assert_string_equal(out, "app;main;work 4\napp;main;idle 2\napp;[unknown];x 4\n");
	free(out);
	pprof__free(a);
	pprof__free(b);
	buf__free(&bytes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libbpf_tools_capture),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_skipped_lines),
		cmocka_unit_test(test_mostly_not_folded),
		cmocka_unit_test(test_strict),
		cmocka_unit_test(test_comments_and_zero_counts),
		cmocka_unit_test(test_deep_stack),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_write_chunks),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
