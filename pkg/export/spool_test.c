/* spool: order kept across put/peek/pop and restarts, the byte bound drops
 * the oldest and counts them, files are real zstd frames, corrupt entries
 * are skipped, foreign files are kept, and write errors change nothing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zstd.h>

#include "base/buf.h"
#include "export/spool.h"

static char dir[64];

static int make_dir(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/bpprof-spool-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int remove_dir(void **state)
{
	char mnt[PATH_MAX];

	/* A failed tmpfs test may leave its mount behind. */
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	umount2(mnt, MNT_DETACH);
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *at(char out[PATH_MAX], const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", dir, name);
	return out;
}

/* Names in path (sorted, joined by spaces) for exact comparisons. */
static void listing(const char *path, char *out, size_t n)
{
	struct dirent **names;
	size_t used = 0;
	int i, count;

	count = scandir(path, &names, NULL, alphasort);
	assert_true(count >= 0);
	out[0] = '\0';
	for (i = 0; i < count; i++) {
		if (names[i]->d_name[0] != '.')
			used += (size_t)snprintf(out + used, n - used, "%s%s", used ? " " : "",
						 names[i]->d_name);
		free(names[i]);
		assert_true(used < n);
	}
	free(names);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Incompressible, so compressed sizes are predictable: same len, same size. */
static void random_bytes(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	while (len--) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		*p++ = (uint8_t)x;
	}
}

static void put_text(struct spool *s, const char *text, const char *kind)
{
	struct errmsg e = { "" };

	assert_int_equal(spool__put(s, text, strlen(text), kind, &e), 0);
}

static void expect_peek(struct spool *s, const void *want, size_t len, const char *want_name)
{
	struct buf out = BUF_INIT(0);
	struct errmsg e = { "" };
	char name[64];

	assert_int_equal(spool__peek(s, &out, name, sizeof(name), &e), 0);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.data, want, len);
	if (want_name)
		assert_string_equal(name, want_name);
	assert_int_equal(out.limit, 0);	/* the caller's limit is given back */
	buf__free(&out);
}

static void expect_empty(struct spool *s)
{
	struct buf out = BUF_INIT(0);
	struct errmsg e = { "" };

	assert_int_equal(spool__peek(s, &out, NULL, 0, &e), -ENOENT);
	assert_int_equal(spool__pop(s), -ENOENT);
	buf__free(&out);
}

static void test_order(void **state)
{
	struct errmsg e = { "" };
	struct spool_stats st;
	struct spool *s = spool__open(dir, 1 << 20, &e);

	assert_non_null(s);
	expect_empty(s);
	put_text(s, "first", "cpu");
	put_text(s, "second", "heap");
	expect_peek(s, "first", 5, "00000000000000000000-cpu.pb.zst");
	expect_peek(s, "first", 5, NULL);	/* peek does not consume */
	put_text(s, "third", "cpu");
	assert_int_equal(spool__pop(s), 0);
	expect_peek(s, "second", 6, "00000000000000000001-heap.pb.zst");
	assert_int_equal(spool__pop(s), 0);
	expect_peek(s, "third", 5, "00000000000000000002-cpu.pb.zst");
	spool__stats(s, &st);
	assert_int_equal(st.entries, 1);
	assert_true(st.bytes > 5);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(spool__pop(s), 0);
	expect_empty(s);
	spool__stats(s, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(spool__put(s, "x", 1, "CPU", &e), -EINVAL);
	assert_int_equal(spool__put(s, "x", 1, "", &e), -EINVAL);
	assert_int_equal(spool__put(s, "x", 1, "cpu/../x", &e), -EINVAL);
	spool__free(s);
	spool__free(NULL);
}

static void test_restart(void **state)
{
	struct spool_stats before, after;
	struct errmsg e = { "" };
	struct spool *s = spool__open(dir, 1 << 20, &e);

	assert_non_null(s);
	put_text(s, "zero", "cpu");
	put_text(s, "one", "heap");
	put_text(s, "two", "cpu");
	assert_int_equal(spool__pop(s), 0);
	spool__stats(s, &before);
	spool__free(s);

	s = spool__open(dir, 1 << 20, &e);
	assert_non_null(s);
	spool__stats(s, &after);
	assert_int_equal(after.entries, 2);
	assert_int_equal(after.bytes, before.bytes);
	put_text(s, "three", "cpu");
	expect_peek(s, "one", 3, "00000000000000000001-heap.pb.zst");
	assert_int_equal(spool__pop(s), 0);
	expect_peek(s, "two", 3, "00000000000000000002-cpu.pb.zst");
	assert_int_equal(spool__pop(s), 0);
	expect_peek(s, "three", 5, "00000000000000000003-cpu.pb.zst");
	spool__free(s);
}

#define ENTRY_LEN 2000

static void test_bound(void **state)
{
	uint8_t data[5][ENTRY_LEN];
	struct errmsg e = { "" };
	struct spool_stats st;
	struct spool *s;
	uint64_t one;
	int i;

	for (i = 0; i < 5; i++)
		random_bytes(data[i], ENTRY_LEN, (uint32_t)i + 1);
	/* Learn one entry's compressed size, then bound at three and a half. */
	s = spool__open(dir, 1 << 20, &e);
	assert_non_null(s);
	assert_int_equal(spool__put(s, data[0], ENTRY_LEN, "cpu", &e), 0);
	spool__stats(s, &st);
	one = st.bytes;
	assert_int_equal(spool__pop(s), 0);
	spool__free(s);

	s = spool__open(dir, one * 3 + one / 2, &e);
	assert_non_null(s);
	for (i = 0; i < 5; i++)
		assert_int_equal(spool__put(s, data[i], ENTRY_LEN, "cpu", &e), 0);
	spool__stats(s, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.bytes, 3 * one);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.dropped_bytes, 2 * one);
	for (i = 2; i < 5; i++) {
		expect_peek(s, data[i], ENTRY_LEN, NULL);
		assert_int_equal(spool__pop(s), 0);
	}
	expect_empty(s);
	spool__free(s);

	/* Reopened with a smaller bound: the oldest go, counted. */
	s = spool__open(dir, 1 << 20, &e);
	assert_non_null(s);
	for (i = 0; i < 3; i++)
		assert_int_equal(spool__put(s, data[i], ENTRY_LEN, "cpu", &e), 0);
	spool__free(s);
	s = spool__open(dir, one + one / 2, &e);
	assert_non_null(s);
	spool__stats(s, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.dropped, 2);
	expect_peek(s, data[2], ENTRY_LEN, NULL);
	spool__free(s);
}

static void test_too_big(void **state)
{
	uint8_t data[ENTRY_LEN];
	struct errmsg e = { "" };
	struct spool_stats st;
	struct spool *s = spool__open(dir, 1000, &e);
	char names[256];

	assert_non_null(s);
	put_text(s, "small", "cpu");
	random_bytes(data, sizeof(data), 7);
	assert_int_equal(spool__put(s, data, sizeof(data), "cpu", &e), -EFBIG);
	assert_non_null(strstr(e.text, "larger than the whole spool"));
	spool__stats(s, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.dropped, 0);	/* the caller counts a refusal */
	listing(dir, names, sizeof(names));
	assert_string_equal(names, "00000000000000000000-cpu.pb.zst");
	expect_peek(s, "small", 5, NULL);
	spool__free(s);
}

/* Read by libzstd itself, not through compress/. */
static void test_real_zstd(void **state)
{
	uint8_t data[ENTRY_LEN], back[ENTRY_LEN + 16];
	struct errmsg e = { "" };
	char path[PATH_MAX];
	uint8_t *file;
	struct stat st;
	size_t n;
	FILE *fp;
	struct spool *s = spool__open(dir, 1 << 20, &e);

	assert_non_null(s);
	memset(data, 'a', sizeof(data) / 2);
	random_bytes(data + sizeof(data) / 2, sizeof(data) / 2, 3);
	assert_int_equal(spool__put(s, data, sizeof(data), "heap", &e), 0);
	spool__free(s);

	assert_int_equal(stat(at(path, "00000000000000000000-heap.pb.zst"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);	/* umask 077 in main */
	file = malloc((size_t)st.st_size);
	assert_non_null(file);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(file, 1, (size_t)st.st_size, fp), (size_t)st.st_size);
	fclose(fp);
	assert_memory_equal(file, "\x28\xb5\x2f\xfd", 4);
	n = ZSTD_decompress(back, sizeof(back), file, (size_t)st.st_size);
	assert_false(ZSTD_isError(n));
	assert_int_equal(n, sizeof(data));
	assert_memory_equal(back, data, sizeof(data));
	free(file);
}

static void test_corrupt(void **state)
{
	static const char garbage[] = "this is not zstd at all";
	struct errmsg e = { "" };
	struct spool_stats st;
	char path[PATH_MAX], names[512];
	struct spool *s = spool__open(dir, 1 << 20, &e);

	assert_non_null(s);
	put_text(s, "zero", "cpu");
	put_text(s, "one", "cpu");
	put_text(s, "two", "cpu");
	put_text(s, "three", "cpu");
	/* Garbage, a truncated zstd frame, and a vanished file. */
	write_bytes(at(path, "00000000000000000000-cpu.pb.zst"), garbage, sizeof(garbage));
	write_bytes(at(path, "00000000000000000001-cpu.pb.zst"), "\x28\xb5\x2f\xfd\x00", 5);
	assert_int_equal(unlink(at(path, "00000000000000000002-cpu.pb.zst")), 0);
	expect_peek(s, "three", 5, "00000000000000000003-cpu.pb.zst");
	spool__stats(s, &st);
	assert_int_equal(st.entries, 1);
	/* unreadable, not dropped for room: the spool was never full */
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.unreadable, 3);
	listing(dir, names, sizeof(names));
	assert_string_equal(names, "00000000000000000003-cpu.pb.zst");
	spool__free(s);

	/* Found corrupt on open: skipped the same way. */
	write_bytes(at(path, "00000000000000000000-cpu.pb.zst"), garbage, sizeof(garbage));
	s = spool__open(dir, 1 << 20, &e);
	assert_non_null(s);
	expect_peek(s, "three", 5, NULL);
	spool__stats(s, &st);
	assert_int_equal(st.unreadable, 1);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.dropped_bytes, 0);
	spool__free(s);
}

static void test_foreign(void **state)
{
	struct errmsg e = { "" };
	struct spool_stats st;
	char path[PATH_MAX], names[1024];
	struct spool *s;

	write_bytes(at(path, "notes.txt"), "x", 1);
	write_bytes(at(path, "00000000000000000007-cpu.pb.gz"), "x", 1);
	write_bytes(at(path, "7-cpu.pb.zst"), "x", 1);
	write_bytes(at(path, "99999999999999999999-cpu.pb.zst"), "x", 1);	/* > 2^64 */
	write_bytes(at(path, "00000000000000000007-CPU.pb.zst"), "x", 1);
	write_bytes(at(path, "00000000000000000007-cpu.pb.zst.bak"), "x", 1);
	write_bytes(at(path, "other.tmp"), "x", 1);
	assert_int_equal(mkdir(at(path, "00000000000000000008-cpu.pb.zst"), 0700), 0);
	/* What a killed out_file leaves where O_TMPFILE is missing. */
	write_bytes(at(path, "00000000000000000009-cpu.pb.zst.tmp.123.0"), "x", 1);
	write_bytes(at(path, "00000000000000000009-cpu.pb.zst.tmp.AbC123"), "x", 1);
	s = spool__open(dir, 1 << 20, &e);
	assert_non_null(s);
	spool__stats(s, &st);
	assert_int_equal(st.entries, 0);
	expect_empty(s);
	put_text(s, "new", "cpu");
	expect_peek(s, "new", 3, "00000000000000000000-cpu.pb.zst");
	assert_int_equal(spool__pop(s), 0);
	spool__free(s);
	listing(dir, names, sizeof(names));
	assert_string_equal(names, "00000000000000000007-CPU.pb.zst 00000000000000000007-cpu.pb.gz "
			    "00000000000000000007-cpu.pb.zst.bak 00000000000000000008-cpu.pb.zst "
			    "7-cpu.pb.zst 99999999999999999999-cpu.pb.zst notes.txt other.tmp");
}

static void test_open_errors(void **state)
{
	struct errmsg e = { "" };
	char path[PATH_MAX], want[PATH_MAX + 32];
	struct spool *s;
	struct stat st;

	/* Created with its parents, private. */
	s = spool__open(at(path, "a/b/c"), 1 << 20, &e);
	assert_non_null(s);
	spool__free(s);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(at(path, "a"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	write_bytes(at(path, "file"), "x", 1);
	errno = 0;
	assert_null(spool__open(path, 1 << 20, &e));
	assert_int_equal(errno, ENOTDIR);
	snprintf(want, sizeof(want), "spool %s: not a directory", path);
	assert_string_equal(e.text, want);
	assert_null(spool__open(at(path, "file/sub"), 1 << 20, &e));
	assert_int_equal(errno, ENOTDIR);

	assert_null(spool__open(dir, 0, &e));
	assert_int_equal(errno, EINVAL);
	assert_null(spool__open("", 1 << 20, &e));
	assert_int_equal(errno, EINVAL);
	memset(want, 'x', sizeof(want) - 1);
	want[sizeof(want) - 1] = '\0';
	assert_null(spool__open(want, 1 << 20, &e));
	assert_int_equal(errno, ENAMETOOLONG);

	/* A trailing slash is the same directory. */
	snprintf(want, sizeof(want), "%s/a/b/c/", dir);
	s = spool__open(want, 1 << 20, &e);
	assert_non_null(s);
	spool__free(s);

	/* Root writes through mode bits; the read-only mount below covers it. */
	if (geteuid() == 0)
		return;
	assert_int_equal(mkdir(at(path, "ro"), 0500), 0);
	assert_null(spool__open(path, 1 << 20, &e));
	assert_int_equal(errno, EACCES);
	assert_non_null(strstr(e.text, "not writable: Permission denied"));
	chmod(path, 0700);
}

/* A tiny tmpfs at dir/mnt, or skip (needs root). */
static void mount_tmpfs(char path[PATH_MAX], unsigned long flags)
{
	assert_int_equal(mkdir(at(path, "mnt"), 0700), 0);
	if (geteuid() != 0 || mount("tmpfs", path, "tmpfs", flags, "size=64k,mode=0700")) {
		print_message("cannot mount a tmpfs (%s): skipped\n", strerror(errno));
		skip();
	}
}

static void test_read_only(void **state)
{
	struct errmsg e = { "" };
	char path[PATH_MAX];

	mount_tmpfs(path, MS_RDONLY);
	errno = 0;
	assert_null(spool__open(path, 1 << 20, &e));
	assert_int_equal(errno, EROFS);
	assert_non_null(strstr(e.text, "not writable: Read-only file system"));
	assert_int_equal(umount(path), 0);
}

static void test_disk_full(void **state)
{
	uint8_t data[20000];
	struct spool_stats before, after;
	struct errmsg e = { "" };
	char path[PATH_MAX], names_before[512], names_after[512];
	struct spool *s;
	int i, err = 0;

	mount_tmpfs(path, 0);
	s = spool__open(path, 1 << 20, &e);
	assert_non_null(s);
	for (i = 0; i < 10 && !err; i++) {
		spool__stats(s, &before);
		listing(path, names_before, sizeof(names_before));
		random_bytes(data, sizeof(data), (uint32_t)i);
		err = spool__put(s, data, sizeof(data), "cpu", &e);
	}
	assert_int_equal(err, -ENOSPC);
	assert_true(i > 1);
	assert_non_null(strstr(e.text, "cannot write 0000000000000000000"));
	assert_non_null(strstr(e.text, ".pb.zst: No space left on device"));
	spool__stats(s, &after);
	assert_memory_equal(&after, &before, sizeof(after));
	listing(path, names_after, sizeof(names_after));
	assert_string_equal(names_after, names_before);
	/* Still usable: the oldest is there, and a pop makes room again. */
	random_bytes(data, sizeof(data), 0);
	expect_peek(s, data, sizeof(data), "00000000000000000000-cpu.pb.zst");
	assert_int_equal(spool__pop(s), 0);
	random_bytes(data, sizeof(data), 99);
	assert_int_equal(spool__put(s, data, sizeof(data), "cpu", &e), 0);
	spool__free(s);
	assert_int_equal(umount(path), 0);
}

/* A producer that writes `chunks` pieces of "abc", or fails. */
struct producer {
	size_t chunks;
	int fail;
};

static int produce(void *arg, struct compress_writer *w, struct errmsg *e)
{
	static const char zeros[1 << 20];
	const struct producer *p = arg;
	size_t i;
	int err = 0;

	if (p->fail)
		return errmsg__set(e, p->fail, "the producer gave up");
	for (i = 0; !err && i < p->chunks; i++)
		err = p->chunks > 3 ? compress_writer__write(w, zeros, sizeof(zeros)) :
				      compress_writer__write(w, "abc", 3);
	return err ? errmsg__set(e, err, "write: %d", err) : 0;
}

/* put_fill: streamed into the entry, read back as bytes; its failures and
 * an entry that peek could not read back (over SPOOL_MAX_ENTRY_BYTES
 * uncompressed) leave nothing behind. */
static void test_put_fill(void **state)
{
	struct producer three = { 3, 0 }, fails = { 1, -EINVAL },
			huge = { (SPOOL_MAX_ENTRY_BYTES >> 20) + 1, 0 };
	struct errmsg e = { "" };
	struct spool_stats st;
	struct spool *s = spool__open(dir, 1 << 20, &e);
	char names[256];

	assert_non_null(s);
	assert_int_equal(spool__put_fill(s, SPOOL_SEQ_NEXT, produce, &three, "cpu", NULL, &e), 0);
	assert_int_equal(spool__put_fill(s, SPOOL_SEQ_NEXT, produce, &fails, "cpu", NULL, &e), -EINVAL);
	assert_non_null(strstr(e.text, "the producer gave up"));
	assert_int_equal(spool__put_fill(s, SPOOL_SEQ_NEXT, produce, &huge, "heap", NULL, &e), -EFBIG);
	assert_non_null(strstr(e.text, "limit"));
	assert_int_equal(spool__put_fill(s, SPOOL_SEQ_NEXT, produce, &three, "CPU", NULL, &e), -EINVAL);
	spool__stats(s, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.dropped, 0);
	listing(dir, names, sizeof(names));
	assert_string_equal(names, "00000000000000000000-cpu.pb.zst");
	expect_peek(s, "abcabcabc", 9, "00000000000000000000-cpu.pb.zst");
	spool__free(s);
}

/* One owner per directory: two daemons on one spool once wrote the same
 * sequence numbers over each other's windows. The second is refused,
 * naming the first's pid; once the first is gone the directory is free. */
static void test_one_owner(void **state)
{
	struct errmsg e = { "" };
	struct spool *a = spool__open(dir, 1 << 20, &e), *b;
	char want[64];

	assert_non_null(a);
	put_text(a, "mine", "cpu");
	b = spool__open(dir, 1 << 20, &e);
	assert_null(b);
	assert_int_equal(errno, EBUSY);
	snprintf(want, sizeof(want), "in use by pid %d", (int)getpid());
	if (!strstr(e.text, want))
		fail_msg("%s", e.text);
	expect_peek(a, "mine", 4, "00000000000000000000-cpu.pb.zst");
	spool__free(a);
	b = spool__open(dir, 1 << 20, &e);
	assert_non_null(b);
	expect_peek(b, "mine", 4, NULL);
	spool__free(b);
}

/* Entries are kept by sequence number, whichever is put first: a window
 * numbered earlier but spooled later still goes out first. */
static void test_seq_order(void **state)
{
	struct producer three = { 3, 0 };
	struct errmsg e = { "" };
	struct spool *s = spool__open(dir, 1 << 20, &e);
	uint64_t base, bytes = 0;

	assert_non_null(s);
	base = spool__next_seq(s);
	assert_int_equal(spool__put_fill(s, base + 2, produce, &three, "cpu", &bytes, &e), 0);
	assert_true(bytes > 0);
	assert_int_equal(spool__put_fill(s, base, produce, &three, "heap", NULL, &e), 0);
	assert_int_equal(spool__put_fill(s, base + 2, produce, &three, "heap", NULL, &e), -EEXIST);
	put_text(s, "after", "cpu");
	expect_peek(s, "abcabcabc", 9, "00000000000000000000-heap.pb.zst");
	assert_int_equal(spool__pop(s), 0);
	expect_peek(s, "abcabcabc", 9, "00000000000000000002-cpu.pb.zst");
	assert_int_equal(spool__pop(s), 0);
	expect_peek(s, "after", 5, "00000000000000000003-cpu.pb.zst");
	spool__free(s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, make_dir, remove_dir)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_order),	     T(test_restart),	  T(test_bound),
		T(test_too_big),     T(test_real_zstd),	  T(test_corrupt),
		T(test_foreign),     T(test_open_errors), T(test_read_only),
		T(test_disk_full),   T(test_put_fill),	  T(test_one_owner),
		T(test_seq_order),
	};

	umask(077);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
