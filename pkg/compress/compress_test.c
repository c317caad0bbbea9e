/* compress: every kind round-trips; gzip output is real gzip (zlib reads
 * it back with its own gzip reader); corrupt, truncated and oversized input
 * is refused with a message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "compress/compress.h"
#include "compress/pgzip.h"

static int buf_sink(void *ctx, const void *data, size_t len)
{
	return buf__append(ctx, data, len);
}

/* Compressible but not trivial: words with a pseudo-random walk. */
static void make_input(struct buf *b, size_t n)
{
	unsigned seed = 7;

	while (b->len < n) {
		char word[32];
		int len = snprintf(word, sizeof(word), "frame_%u;", rand_r(&seed) % 5000);

		assert_int_equal(buf__append(b, word, (size_t)len), 0);
	}
}

static void compress_all(enum compress_kind kind, int level, const struct buf *in,
			 size_t piece, struct buf *out)
{
	struct compress_writer *w = compress_writer__new(kind, level, buf_sink, out);
	size_t off;

	assert_non_null(w);
	for (off = 0; off < in->len; off += piece) {
		size_t n = in->len - off < piece ? in->len - off : piece;

		assert_int_equal(compress_writer__write(w, in->data + off, n), 0);
	}
	assert_int_equal(compress_writer__finish(w), 0);
	assert_int_equal(compress_writer__bytes_in(w), in->len);
	compress_writer__free(w);
}

static void test_round_trip(void **state)
{
	enum compress_kind kinds[] = { COMPRESS_NONE, COMPRESS_GZIP, COMPRESS_ZSTD };
	size_t pieces[] = { 1, 1000, 1u << 20 };
	struct buf in = BUF_INIT(0);
	size_t k, i;

	make_input(&in, 3u << 20);
	for (k = 0; k < 3; k++)
		for (i = 0; i < 3; i++) {
			struct buf out = BUF_INIT(0), back = BUF_INIT(0);
			struct errmsg e;

			compress_all(kinds[k], COMPRESS_LEVEL_DEFAULT, &in, pieces[i], &out);
			assert_int_equal(compress__detect(out.data, out.len), kinds[k]);
			if (kinds[k] != COMPRESS_NONE)
				assert_true(out.len < in.len / 2);
			assert_int_equal(compress__decode(out.data, out.len, &back, &e), 0);
			assert_int_equal(back.len, in.len);
			assert_memory_equal(back.data, in.data, in.len);
			buf__free(&out);
			buf__free(&back);
		}
	buf__free(&in);
}

/* zlib's own gzip file reader accepts what we write. */
static void test_gzip_is_gzip(void **state)
{
	struct buf in = BUF_INIT(0), out = BUF_INIT(0);
	char path[] = "/tmp/bpprof-gz-XXXXXX", back[4096];
	int fd, n;
	gzFile gz;

	make_input(&in, 3000);
	compress_all(COMPRESS_GZIP, 9, &in, 100, &out);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, out.data, out.len), (ssize_t)out.len);
	close(fd);
	gz = gzopen(path, "rb");
	assert_non_null(gz);
	n = gzread(gz, back, sizeof(back));
	assert_int_equal(n, (int)in.len);
	assert_memory_equal(back, in.data, in.len);
	gzclose(gz);
	unlink(path);
	buf__free(&in);
	buf__free(&out);
}

/* Blocks compressed on any number of threads make the same single gzip
 * member, which zlib's own reader inflates back. */
static void test_parallel_blocks(void **state)
{
	struct buf in = BUF_INIT(0), ref = BUF_INIT(0), back = BUF_INIT(0);
	int threads[] = { 0, 1, 2, 4 };
	size_t i;

	make_input(&in, 5 * PGZIP_BLOCK + 12345);
	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		struct buf out = BUF_INIT(0);
		struct pgzip *g = pgzip__new(6, threads[i], buf_sink, &out);
		z_stream z = { 0 };

		assert_non_null(g);
		assert_int_equal(pgzip__write(g, in.data, 1000), 0);
		assert_int_equal(pgzip__write(g, in.data + 1000, in.len - 1000), 0);
		assert_int_equal(pgzip__finish(g), 0);
		pgzip__free(g);
		if (i == 0) {
			ref = out;
			/* zlib inflates it as one member, CRC and length checked */
			assert_int_equal(buf__reserve(&back, in.len + 1), 0);
			assert_int_equal(inflateInit2(&z, 16 + 15), Z_OK);
			z.next_in = ref.data;
			z.avail_in = (uInt)ref.len;
			z.next_out = back.data;
			z.avail_out = (uInt)in.len + 1;
			assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
			assert_int_equal(z.avail_in, 0);
			assert_int_equal(z.total_out, in.len);
			assert_memory_equal(back.data, in.data, in.len);
			inflateEnd(&z);
			continue;
		}
		assert_int_equal(out.len, ref.len);
		assert_memory_equal(out.data, ref.data, ref.len);
		buf__free(&out);
	}
	buf__free(&in);
	buf__free(&ref);
	buf__free(&back);
}

/* `cat a.gz b.gz` is one gzip file to every gzip reader. */
static void test_gzip_members(void **state)
{
	struct buf a = BUF_INIT(0), out = BUF_INIT(0), back = BUF_INIT(0);
	struct errmsg e;

	assert_int_equal(buf__append(&a, "hello ", 6), 0);
	compress_all(COMPRESS_GZIP, 6, &a, 6, &out);
	compress_all(COMPRESS_GZIP, 1, &a, 6, &out);
	assert_int_equal(compress__decode(out.data, out.len, &back, &e), 0);
	assert_int_equal(back.len, 12);
	assert_memory_equal(back.data, "hello hello ", 12);
	buf__free(&a);
	buf__free(&out);
	buf__free(&back);
}

static void expect_error(const void *data, size_t len, size_t limit, int err, const char *needle)
{
	struct buf back = BUF_INIT(limit);
	struct errmsg e = { "" };

	assert_int_equal(compress__decode(data, len, &back, &e), err);
	if (!strstr(e.text, needle))
		fail_msg("expected \"%s\" in \"%s\"", needle, e.text);
	buf__free(&back);
}

static void test_bad_input(void **state)
{
	enum compress_kind kinds[] = { COMPRESS_GZIP, COMPRESS_ZSTD };
	struct buf in = BUF_INIT(0);
	size_t k;

	make_input(&in, 1u << 20);
	for (k = 0; k < 2; k++) {
		struct buf out = BUF_INIT(0);
		const char *name = compress__name(kinds[k]);
		char needle[64];

		compress_all(kinds[k], COMPRESS_LEVEL_DEFAULT, &in, 4096, &out);
		snprintf(needle, sizeof(needle), "truncated %s", name);
		expect_error(out.data, out.len / 2, 0, -EBADMSG, needle);
		expect_error(out.data, out.len - 1, 0, -EBADMSG, needle);
		snprintf(needle, sizeof(needle), "expands past the 0 MiB limit");
		expect_error(out.data, out.len, (1u << 20) - 1, -E2BIG, needle);
		out.data[out.len / 2] ^= 0x55;
		out.data[out.len / 2 + 1] ^= 0x55;
		snprintf(needle, sizeof(needle), "corrupt %s", name);
		expect_error(out.data, out.len, 0, -EBADMSG, needle);
		buf__free(&out);
	}
	buf__free(&in);
}

static void test_names_and_levels(void **state)
{
	enum compress_kind k;

	assert_int_equal(compress__parse_kind("zstd", &k), 0);
	assert_int_equal(k, COMPRESS_ZSTD);
	assert_int_equal(compress__parse_kind("lz4", &k), -EINVAL);
	assert_string_equal(compress__pprof_suffix(COMPRESS_GZIP), ".pb.gz");
	assert_string_equal(compress__pprof_suffix(COMPRESS_ZSTD), ".pb.zst");
	assert_string_equal(compress__pprof_suffix(COMPRESS_NONE), ".pb");
	assert_int_equal(compress__check_level(COMPRESS_GZIP, 10), -ERANGE);
	assert_int_equal(compress__check_level(COMPRESS_ZSTD, 19), 0);
	assert_null(compress_writer__new(COMPRESS_GZIP, 12, buf_sink, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_gzip_is_gzip),
		cmocka_unit_test(test_parallel_blocks),
		cmocka_unit_test(test_gzip_members),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_names_and_levels),
	};

	return cmocka_run_group_tests_name("compress", tests, NULL, NULL);
}
