/* compress: every kind round-trips, empty input included; gzip output is
 * real gzip (zlib reads it back with its own gzip reader); a failing sink
 * stops parallel gzip with its error instead of hanging; corrupt, truncated,
 * oversized input and trailing garbage are refused with a message, while
 * concatenated gzip members and zstd frames are read whole; a bomb is
 * refused before it costs more memory than the first stage. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

static void expect_error(const void *data, size_t len, size_t limit, int err, const char *needle)
{
	struct buf back = BUF_INIT(limit);
	struct errmsg e = { "" };

	assert_int_equal(compress__decode(data, len, &back, &e), err);
	if (!strstr(e.text, needle))
		fail_msg("expected \"%s\" in \"%s\"", needle, e.text);
	buf__free(&back);
}

/* A bomb (a few MB expanding to far more than the limit) is refused having
 * kept no more than COMPRESS_STAGE_BYTES; it once cost the whole limit. An
 * input past the stage but within the limit decodes exactly, up to the
 * limit itself. */
static void test_bomb_bounded(void **state)
{
	enum compress_kind kinds[] = { COMPRESS_GZIP, COMPRESS_ZSTD };
	size_t limit = COMPRESS_STAGE_BYTES + (8u << 20), k;
	struct buf zeros = BUF_INIT(0), words = BUF_INIT(0);

	assert_int_equal(buf__reserve(&zeros, 2 * limit), 0);
	memset(zeros.data, 0, 2 * limit);
	zeros.len = 2 * limit;
	make_input(&words, COMPRESS_STAGE_BYTES + (4u << 20));
	for (k = 0; k < 2; k++) {
		struct buf bomb = BUF_INIT(0), z = BUF_INIT(0), back = BUF_INIT(limit);
		struct errmsg e = { "" };

		compress_all(kinds[k], 1, &zeros, 1u << 20, &bomb);
		assert_int_equal(compress__decode(bomb.data, bomb.len, &back, &e), -E2BIG);
		assert_non_null(strstr(e.text, "expands past the limit of 40 MiB"));
		assert_true(back.cap <= COMPRESS_STAGE_BYTES);
		buf__free(&back);
		/* past the stage, within the limit: every byte */
		compress_all(kinds[k], 1, &words, 1u << 20, &z);
		assert_int_equal(compress__decode(z.data, z.len, &back, &e), 0);
		assert_int_equal(back.len, words.len);
		assert_memory_equal(back.data, words.data, words.len);
		buf__free(&back);
		/* exactly at the limit, and one byte over it */
		back = BUF_INIT(words.len);
		assert_int_equal(compress__decode(z.data, z.len, &back, &e), 0);
		buf__free(&back);
		back = BUF_INIT(words.len - 1);
		assert_int_equal(compress__decode(z.data, z.len, &back, &e), -E2BIG);
		buf__free(&back);
		buf__free(&bomb);
		buf__free(&z);
	}
	buf__free(&zeros);
	buf__free(&words);
}

/* `cat a.gz b.gz` is one gzip file to every gzip reader, and `cat a.zst
 * b.zst` one zstd file; a member cut short after the first is truncation. */
static void test_members(void **state)
{
	enum compress_kind kinds[] = { COMPRESS_GZIP, COMPRESS_ZSTD };
	struct buf a = BUF_INIT(0), big = BUF_INIT(0), empty = BUF_INIT(0);
	size_t k;

	assert_int_equal(buf__append(&a, "hello ", 6), 0);
	make_input(&big, 2 * PGZIP_BLOCK + 99);
	for (k = 0; k < 2; k++) {
		struct buf out = BUF_INIT(0), back = BUF_INIT(0);
		struct errmsg e = { "" };
		char needle[64];
		size_t first;

		compress_all(kinds[k], COMPRESS_LEVEL_DEFAULT, &a, 6, &out);
		first = out.len;
		compress_all(kinds[k], 1, &a, 6, &out);
		compress_all(kinds[k], COMPRESS_LEVEL_DEFAULT, &big, 65536, &out);
		compress_all(kinds[k], COMPRESS_LEVEL_DEFAULT, &empty, 1, &out);
		assert_int_equal(compress__decode(out.data, out.len, &back, &e), 0);
		assert_int_equal(back.len, 12 + big.len);
		assert_memory_equal(back.data, "hello hello ", 12);
		assert_memory_equal(back.data + 12, big.data, big.len);
		buf__free(&back);
		snprintf(needle, sizeof(needle), "truncated %s", compress__name(kinds[k]));
		expect_error(out.data, first + 1, 0, -EBADMSG, needle);
		expect_error(out.data, first + 2, 0, -EBADMSG, needle);
		buf__free(&out);
	}
	buf__free(&a);
	buf__free(&big);
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
		snprintf(needle, sizeof(needle), "expands past the limit of 1048575 bytes");
		expect_error(out.data, out.len, (1u << 20) - 1, -E2BIG, needle);
		out.data[out.len / 2] ^= 0x55;
		out.data[out.len / 2 + 1] ^= 0x55;
		snprintf(needle, sizeof(needle), "corrupt %s", name);
		expect_error(out.data, out.len, 0, -EBADMSG, needle);
		buf__free(&out);
	}
	buf__free(&in);
}

/* An empty profile still makes a valid, empty file of each kind. */
static void test_empty(void **state)
{
	enum compress_kind kinds[] = { COMPRESS_NONE, COMPRESS_GZIP, COMPRESS_ZSTD };
	int threads[] = { 0, 4 };
	struct buf in = BUF_INIT(0);
	size_t k, i;

	for (k = 0; k < 3; k++) {
		struct buf out = BUF_INIT(0), back = BUF_INIT(0);
		struct errmsg e = { "" };

		compress_all(kinds[k], COMPRESS_LEVEL_DEFAULT, &in, 1, &out);
		assert_int_equal(compress__detect(out.data, out.len), kinds[k]);
		assert_int_equal(compress__decode(out.data, out.len, &back, &e), 0);
		assert_int_equal(back.len, 0);
		buf__free(&out);
		buf__free(&back);
	}
	/* Both gzip paths agree byte for byte, and zlib sees one empty member. */
	for (i = 0; i < 2; i++) {
		struct buf out = BUF_INIT(0);
		struct pgzip *g = pgzip__new(6, threads[i], buf_sink, &out);
		unsigned char back[16];
		z_stream z = { 0 };

		assert_non_null(g);
		assert_int_equal(pgzip__finish(g), 0);
		pgzip__free(g);
		assert_int_equal(inflateInit2(&z, 16 + 15), Z_OK);
		z.next_in = out.data;
		z.avail_in = (uInt)out.len;
		z.next_out = back;
		z.avail_out = sizeof(back);
		assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
		assert_int_equal(z.avail_in, 0);
		assert_int_equal(z.total_out, 0);
		inflateEnd(&z);
		buf__free(&out);
	}
}

/* A sink that takes `room` bytes, then fails with ENOSPC. */
struct failing_sink {
	size_t room, calls_after_error;
	bool failed;
};

static int failing_sink(void *ctx, const void *data, size_t len)
{
	struct failing_sink *f = ctx;

	if (f->failed)
		f->calls_after_error++;
	if (len > f->room) {
		f->failed = true;
		return -ENOSPC;
	}
	f->room -= len;
	return 0;
}

/* A full disk mid-file comes back from write or finish as the sink's own
 * error, on every thread count; nothing more is written after it, and free
 * joins the workers (a deadlock here trips the alarm in main). */
static void test_sink_error(void **state)
{
	/* Failing on the header, in it, on early blocks, and on the trailer. */
	size_t rooms[] = { 0, 5, PGZIP_BLOCK / 4, 3 * PGZIP_BLOCK / 4, 0 };
	size_t nrooms = sizeof(rooms) / sizeof(rooms[0]);
	int threads[] = { 0, 1, 4 };
	struct buf in = BUF_INIT(0), out = BUF_INIT(0);
	size_t r, t, off;

	make_input(&in, 6 * PGZIP_BLOCK + 777);
	compress_all(COMPRESS_GZIP, 6, &in, in.len, &out);
	rooms[nrooms - 1] = out.len - 4;
	for (t = 0; t < 3; t++)
		for (r = 0; r < nrooms; r++) {
			struct failing_sink f = { .room = rooms[r] };
			struct pgzip *g = pgzip__new(6, threads[t], failing_sink, &f);
			int err = 0;

			assert_non_null(g);
			for (off = 0; off < in.len && !err; off += 100000)
				err = pgzip__write(g, in.data + off,
						   in.len - off < 100000 ? in.len - off : 100000);
			if (!err)
				err = pgzip__finish(g);
			assert_int_equal(err, -ENOSPC);
			assert_true(f.failed);
			assert_int_equal(f.calls_after_error, 0);
			/* Sticky: a later call reports it again without writing. */
			assert_int_equal(pgzip__finish(g), -ENOSPC);
			assert_int_equal(f.calls_after_error, 0);
			pgzip__free(g);
		}
	/* The same through the public writer, whatever threads this host has. */
	{
		struct failing_sink f = { .room = 1000 };
		struct compress_writer *w = compress_writer__new(COMPRESS_GZIP, 6, failing_sink, &f);
		int err;

		assert_non_null(w);
		err = compress_writer__write(w, in.data, in.len);
		if (!err)
			err = compress_writer__finish(w);
		assert_int_equal(err, -ENOSPC);
		compress_writer__free(w);
	}
	buf__free(&in);
	buf__free(&out);
}

/* Go's gzip reader (go tool pprof, Pyroscope) refuses bytes after the last
 * member, zero padding too; so does zstd's after the last frame. */
static void test_trailing_garbage(void **state)
{
	enum compress_kind kinds[] = { COMPRESS_GZIP, COMPRESS_ZSTD };
	static const unsigned char zeros[512];
	struct buf in = BUF_INIT(0);
	size_t k;

	make_input(&in, 100000);
	for (k = 0; k < 2; k++) {
		struct buf out = BUF_INIT(0), junk = BUF_INIT(0), pad = BUF_INIT(0);
		const char *name = compress__name(kinds[k]);
		char needle[80];

		compress_all(kinds[k], COMPRESS_LEVEL_DEFAULT, &in, in.len, &out);
		assert_int_equal(buf__append(&junk, out.data, out.len), 0);
		assert_int_equal(buf__append(&junk, "hello, world", 12), 0);
		snprintf(needle, sizeof(needle), "12 bytes of trailing garbage after the %s data",
			 name);
		expect_error(junk.data, junk.len, 0, -EBADMSG, needle);
		/* One stray byte is garbage too, not a silently ignored tail. */
		expect_error(junk.data, out.len + 1, 0, -EBADMSG, "1 byte of trailing garbage");

		assert_int_equal(buf__append(&pad, out.data, out.len), 0);
		assert_int_equal(buf__append(&pad, zeros, sizeof(zeros)), 0);
		snprintf(needle, sizeof(needle),
			 "512 bytes of trailing garbage after the %s data (zero padding)", name);
		expect_error(pad.data, pad.len, 0, -EBADMSG, needle);
		buf__free(&out);
		buf__free(&junk);
		buf__free(&pad);
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
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_sink_error),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_trailing_garbage),
		cmocka_unit_test(test_bomb_bounded),
		cmocka_unit_test(test_names_and_levels),
	};

	/* A deadlocked writer fails the run instead of hanging it. */
	alarm(300);
	return cmocka_run_group_tests_name("compress", tests, NULL, NULL);
}
