/* convert__read: bytes to a profile whatever the format, compressed or
 * not; what detection took the input for is said when it is refused; a
 * profile without samples is refused, pprof too. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/log.h"
#include "compress/compress.h"
#include "convert/convert.h"
#include "fileio/fileio.h"
#include "pprof/builder.h"
#include "pprof/codec.h"

static int buf_sink(void *ctx, const void *p, size_t n)
{
	return buf__append(ctx, p, n);
}

/* A pprof of one sample type and n samples, encoded. */
static void make_pprof(struct buf *out, size_t n, enum compress_kind kind)
{
	static const struct pprof_value_type type = { "samples", "count" };
	struct pprof_builder *b = pprof_builder__new(&type, 1);
	struct pprof_line line = { 0, 0 };
	struct compress_writer *w;
	struct pprof_profile *p;
	struct errmsg e = { "" };
	uint64_t loc;
	int64_t one = 1;
	size_t i;

	assert_non_null(b);
	assert_int_equal(pprof_builder__function(b, "main", "main", NULL, 0, &line.function_id), 0);
	assert_int_equal(pprof_builder__location(b, 0, 0, &line, 1, &loc), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(pprof_builder__add_sample(b, &loc, 1, &one, NULL, 0), 0);
	p = pprof_builder__finish(b);
	pprof_builder__free(b);
	assert_non_null(p);
	w = compress_writer__new(kind, COMPRESS_LEVEL_DEFAULT, buf_sink, out);
	assert_non_null(w);
	assert_int_equal(pprof__encode(p, w, &e), 0);
	assert_int_equal(compress_writer__finish(w), 0);
	compress_writer__free(w);
	pprof__free(p);
}

/* A pprof that decodes but holds no sample is refused, as the README
 * says of all input that yields none (issue 19 item 8). */
static void test_no_samples(void **state)
{
	struct buf b = BUF_INIT(0);
	struct pprof_profile *p = (void *)1;
	enum convert_format got = FORMAT_AUTO;
	struct errmsg e = { "" };

	make_pprof(&b, 0, COMPRESS_GZIP);
	assert_int_equal(convert__read(b.data, b.len, FORMAT_AUTO, &p, &got, &e), -EBADMSG);
	assert_null(p);
	assert_int_equal(got, FORMAT_PPROF);
	assert_non_null(strstr(e.text, "a profile without samples"));
	b.len = 0;
	make_pprof(&b, 3, COMPRESS_GZIP);
	assert_int_equal(convert__read(b.data, b.len, FORMAT_PPROF, &p, &got, &e), 0);
	assert_int_equal(p->pb->sample[0]->value[0], 3);
	pprof__free(p);
	buf__free(&b);
}

/* Compressed text is detected after decompression; a refusal of detected
 * input says what it was taken for, of named input not. */
static void test_formats(void **state)
{
	static const char heap[] = "heap profile: 1: 8 [1: 8] @ heapprofile\n1: 8 [1: 8] @ 0x1001\n";
	static const char bad[] = "heap profile: 1: 8 [1: 8] @ heapprofile\nnonsense\n";
	struct buf in = BUF_INIT(0), gz = BUF_INIT(0);
	enum convert_format got = FORMAT_AUTO;
	struct pprof_profile *p = NULL;
	struct compress_writer *w;
	struct errmsg e = { "" };

	w = compress_writer__new(COMPRESS_ZSTD, COMPRESS_LEVEL_DEFAULT, buf_sink, &gz);
	assert_non_null(w);
	assert_int_equal(compress_writer__write(w, heap, sizeof(heap) - 1), 0);
	assert_int_equal(compress_writer__finish(w), 0);
	compress_writer__free(w);
	assert_int_equal(convert__read(gz.data, gz.len, FORMAT_AUTO, &p, &got, &e), 0);
	assert_int_equal(got, FORMAT_HEAP_TEXT);
	assert_int_equal(p->pb->location[0]->address, 0x1000);
	pprof__free(p);
	assert_int_equal(convert__read(bad, sizeof(bad) - 1, FORMAT_AUTO, &p, &got, &e), -EBADMSG);
	assert_string_equal(e.text, "looks like a heap profile ('heap profile:'), but line 2: "
			    "expected a heap sample 'INUSE: BYTES [ALLOC: BYTES] @ 0xADDRESS...', "
			    "got 'nonsense'");
	assert_int_equal(convert__read(bad, sizeof(bad) - 1, FORMAT_HEAP_TEXT, &p, &got, &e),
			 -EBADMSG);
	assert_int_equal(strncmp(e.text, "line 2: expected a heap sample", 30), 0);
	assert_int_equal(convert__read(heap, sizeof(heap) - 1, FORMAT_CONTENTION_TEXT, &p, &got, &e),
			 -EBADMSG);
	assert_int_equal(convert__read("", 0, FORMAT_AUTO, &p, &got, &e), -EBADMSG);
	assert_string_equal(e.text, "empty file");
	buf__free(&in);
	buf__free(&gz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_samples),
		cmocka_unit_test(test_formats),
	};

	log__set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
