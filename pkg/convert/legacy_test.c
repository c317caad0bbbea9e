/* The legacy readers: google/pprof's own fixtures (types, period and totals
 * as `go tool pprof -proto` gives them; tests/e2e.sh compares whole
 * profiles live), the memory map's forms and heuristics, Go's number
 * syntax, the unsampling, and input cut or corrupted anywhere. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/log.h"
#include "convert/convert.h"
#include "convert/legacy.h"
#include "convert/reader_test.h"
#include "fileio/fileio.h"

typedef int read_fn(const char *, size_t, struct pprof_profile **, struct errmsg *);

static struct buf load(const char *name)
{
	struct buf b = BUF_INIT(0);
	struct errmsg e;
	char path[256];

	snprintf(path, sizeof(path), "testdata/legacy/%s", name);
	if (fileio__read_all(path, &b, &e))
		fail_msg("%s: %s", path, e.text);
	return b;
}

static const char *type_of(const pprof_pb *pb, size_t i)
{
	static char s[2][128];

	snprintf(s[i % 2], sizeof(s[0]), "%s/%s", pprof__str(pb, pb->sample_type[i]->type),
		 pprof__str(pb, pb->sample_type[i]->unit));
	return s[i % 2];
}

/* What `go tool pprof -proto` makes of each fixture. */
static const struct expect {
	const char *file;
	read_fn *read;
	const char *types[4];
	const char *period_type;	/* NULL: none */
	int64_t period, duration, totals[4];
} expected[] = {
	{ "cppbench.cpu", legacy_cpu__read, { "samples/count", "cpu/nanoseconds" }, "cpu/nanoseconds",
	  10000000, 0, { 712, 7120000000 } },
	{ "cppbench-64be.cpu", legacy_cpu__read, { "samples/count", "cpu/nanoseconds" },
	  "cpu/nanoseconds", 10000000, 0, { 712, 7120000000 } },
	{ "gobench.cpu", legacy_cpu__read, { "samples/count", "cpu/nanoseconds" }, "cpu/nanoseconds",
	  10000000, 0, { 305, 3050000000 } },
	{ "gobench-32le.cpu", legacy_cpu__read, { "samples/count", "cpu/nanoseconds" },
	  "cpu/nanoseconds", 10000000, 0, { 305, 3050000000 } },
	{ "gobench-32be.cpu", legacy_cpu__read, { "samples/count", "cpu/nanoseconds" },
	  "cpu/nanoseconds", 10000000, 0, { 305, 3050000000 } },
	{ "gobench-64be.cpu", legacy_cpu__read, { "samples/count", "cpu/nanoseconds" },
	  "cpu/nanoseconds", 10000000, 0, { 305, 3050000000 } },
	{ "go.crc32.cpu", legacy_cpu__read, { "samples/count", "cpu/nanoseconds" }, "cpu/nanoseconds",
	  10000000, 0, { 211, 2110000000 } },
	{ "java.cpu", legacy_cpu__read, { "samples/count", "cpu/nanoseconds" }, "cpu/nanoseconds",
	  10000000, 0, { 7, 70000000 } },
	{ "java-32be.cpu", legacy_java__read, { "samples/count", "cpu/nanoseconds" },
	  "cpu/nanoseconds", 10000000, 0, { 7, 70000000 } },
	{ "java-64le.cpu", legacy_cpu__read, { "samples/count", "cpu/nanoseconds" },
	  "cpu/nanoseconds", 10000000, 0, { 7, 70000000 } },
	{ "cppbench.heap", legacy_heap__read, { "objects/count", "space/bytes" }, "space/bytes", 524288,
	  0, { 41063, 80935293 } },
	{ "cppbench.growth", legacy_heap__read, { "objects/count", "space/bytes" }, "space/bytes", 1, 0,
	  { 85, 178257920 } },
	{ "gobench.heap", legacy_heap__read, { "alloc_objects/count", "alloc_space/bytes",
	  "inuse_objects/count", "inuse_space/bytes" }, "space/bytes", 524288, 0,
	  { 76049, 349266014, 9625, 7196884 } },
	{ "cppbench.contention", legacy_contention__read, { "contentions/count", "delay/nanoseconds" },
	  "contentions/count", 100, 16502830000000, { 3500, 690508213 } },
	{ "go.godoc.thread", legacy_count__read, { "threadcreate/count" }, "threadcreate/count", 1, 0,
	  { 7 } },
	{ "cppbench.thread", legacy_threadz__read, { "thread/count" }, "thread/count", 1, 0, { 4 } },
	{ "cppbench.thread.all", legacy_threadz__read, { "thread/count" }, "thread/count", 1, 0, { 4 } },
	{ "cppbench.thread.none", legacy_threadz__read, { "thread/count" }, "thread/count", 1, 0,
	  { 4 } },
	{ "java.contention", legacy_java__read, { "contentions/count", "delay/microseconds" },
	  "contentions/count", 100, 6019923000000, { 700, 1900 } },
	{ "java.heap", legacy_java__read, { "inuse_objects/count", "inuse_space/bytes" }, NULL, 0, 0,
	  { 67347, 9968703 } },
};

static void test_fixtures(void **state)
{
	struct pprof_profile *p;
	const pprof_pb *pb;
	struct capture c;
	struct buf b;
	size_t i, t;

	for (i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		const struct expect *x = &expected[i];

		b = load(x->file);
		capture__begin(&c);
		p = reader__ok(x->read, (const char *)b.data, b.len);
		capture__end(&c);
		pb = p->pb;
		for (t = 0; t < 4 && x->types[t]; t++) {
			if (t >= pb->n_sample_type || strcmp(type_of(pb, t), x->types[t]))
				fail_msg("%s: sample type %zu", x->file, t);
			if (total(pb, t) != x->totals[t])
				fail_msg("%s: %s total %lld, want %lld", x->file, x->types[t],
					 (long long)total(pb, t), (long long)x->totals[t]);
		}
		assert_int_equal(pb->n_sample_type, t);
		if (x->period_type) {
			char pt[128];

			snprintf(pt, sizeof(pt), "%s/%s", pprof__str(pb, pb->period_type->type),
				 pprof__str(pb, pb->period_type->unit));
			assert_string_equal(pt, x->period_type);
		}
		assert_int_equal(pb->period, x->period);
		assert_int_equal(pb->duration_nanos, x->duration);
		assert_true(pb->drop_frames > 0);
		pprof__free(p);
		buf__free(&b);
	}
}

/* The mappings of cppbench.heap: the "$source" substitution, the main
 * binary first and moved to 0x400000, libraries after. */
static void test_heap_mappings(void **state)
{
	struct buf b = load("cppbench.heap");
	struct pprof_profile *p = reader__ok(legacy_heap__read, (const char *)b.data, b.len);
	const pprof_pb *pb = p->pb;
	const pprof_mapping_pb *m = pb->mapping[0];

	assert_string_equal(pprof__str(pb, m->filename), "/home/cppbench_server_main");
	assert_int_equal(m->memory_start, 0x400000);
	assert_int_equal(m->memory_limit, 0xfcb000);
	assert_string_equal(pprof__str(pb, pb->mapping[1]->filename), "/lib/libnss_borg-2.15.so");
	/* every address is the return address minus one, in a mapping */
	assert_int_equal(pb->location[0]->address, 0xc635c8 - 1);
	assert_int_equal(pb->location[0]->mapping_id, 1);
	/* each sample says its block size */
	assert_string_equal(pprof__str(pb, pb->sample[0]->label[0]->key), "bytes");
	assert_int_equal(pb->sample[0]->label[0]->num, 9216);
	pprof__free(p);
	buf__free(&b);
}

static struct legacy *maps_of(const char *text, int want)
{
	static struct legacy lg;
	struct errmsg e = { "" };
	int err;

	legacy__free(&lg);
	assert_int_equal(legacy__init(&lg, "test"), 0);
	err = legacy__parse_maps(&lg, text, strlen(text), 1, &e);
	if (err != want)
		fail_msg("%s: %d (%s), want %d", text, err, e.text, want);
	return &lg;
}

static void expect_map(const struct legacy *lg, size_t i, uint64_t start, uint64_t limit,
		       uint64_t offset, const char *file, const char *build_id)
{
	const struct legacy_map *m;

	assert_true(i < lg->n_maps);
	m = &lg->maps[i];
	assert_int_equal(m->start, start);
	assert_int_equal(m->limit, limit);
	assert_int_equal(m->offset, offset);
	assert_string_equal(legacy__str(lg, m->file), file);
	assert_string_equal(legacy__str(lg, m->build_id), build_id);
}

static void test_maps(void **state)
{
	struct legacy *lg;

	/* /proc/PID/maps: executable mappings only, the path's first word;
	 * a shared one ("r-xs") as pprof reads it: no file, no offset */
	lg = maps_of("55d0-55e0 r--p 00000000 fd:01 12 /usr/bin/a\n"
		     "55e0-55f0 r-xp 00001000 fd:01 12 /usr/bin/a\n"
		     "7f00-7f10 r-xp 00002000 fd:01 13 /usr/lib/libc.so.6\n"
		     "7f20-7f30 r-xs 00000000 00:05 14 /dev/shm/code\n"
		     "7f40-7f50 r-xp 00000000 00:00 0 \n"
		     "7f60-7f70 r-xp 00000000 08:01 15 /tmp/my prog (deleted)\n", 0);
	assert_int_equal(lg->n_maps, 5);
	expect_map(lg, 0, 0x55e0, 0x55f0, 0x1000, "/usr/bin/a", "");
	expect_map(lg, 1, 0x7f00, 0x7f10, 0x2000, "/usr/lib/libc.so.6", "");
	expect_map(lg, 2, 0x7f20, 0x7f30, 0, "", "");
	expect_map(lg, 3, 0x7f40, 0x7f50, 0, "", "");
	expect_map(lg, 4, 0x7f60, 0x7f70, 0, "/tmp/my", "");
	/* brief forms: 0x prefixes, perms, (@offset), build id; glog prefix;
	 * "$name" substitutions (the first defined wins); a library is not
	 * the main binary, so the program moves first */
	lg = maps_of("\tsource=/home\n"
		     "I0102 15:04:05.000000 123 file.cc:45] 0x1000-0x2000: /lib/libm.so.6\n"
		     "  3000-4000 r-x $source/prog (@1000) abcdef01\n"
		     "source=/other\n"
		     "5000 6000: $source/x\n", 0);
	assert_int_equal(lg->n_maps, 3);
	expect_map(lg, 0, 0x3000, 0x4000, 0x1000, "/home/prog", "abcdef01");
	expect_map(lg, 1, 0x1000, 0x2000, 0, "/lib/libm.so.6", "");
	expect_map(lg, 2, 0x5000, 0x6000, 0, "/home/x", "");
	/* adjacent pieces of one file merge */
	lg = maps_of("1000-2000 r-xp 00000000 08:01 1 /bin/p\n2000-3000 r-xp 00001000 08:01 1 /bin/p\n", 0);
	assert_int_equal(lg->n_maps, 1);
	expect_map(lg, 0, 0x1000, 0x3000, 0, "/bin/p", "");
	/* "(deleted)" after a brief line's file, as after a maps line's path */
	lg = maps_of("1000-2000: /bin/q (deleted)\n", 0);
	expect_map(lg, 0, 0x1000, 0x2000, 0, "/bin/q", "");
	/* what pprof would half-read or ignore is refused: it reads nothing
	 * after "(deleted)" in a brief line */
	maps_of("1000-2000: /bin/q (deleted) (@1000)\n", -EBADMSG);
	maps_of("1000-2000: /bin/p trailing words\n", -EBADMSG);
	maps_of("just text\n", -EBADMSG);
	maps_of("1000-2000: pprof_main\n", -EBADMSG);
	maps_of("1000-2000 r-xp 00000000 08:01 1 /bin/p", -EBADMSG);	/* cut short */
	maps_of("10000000000000000-2 r-xp 0 0:0 0 /x\n", -EBADMSG);
	legacy__free(lg);
}

static void test_assign(void **state)
{
	static const int64_t one[1] = { 1 };
	struct legacy *lg;
	uint64_t addrs[3];

	/* the main binary linked at 0x400000 and mapped there: file offsets
	 * are addresses; an address in no mapping gets the catch-all one */
	lg = maps_of("400000-500000 r-xp 00000000 08:01 1 /bin/p\n", 0);
	assert_int_equal(lg->n_maps, 1);
	lg->n_types = 1;
	addrs[0] = 0x400100;
	addrs[1] = 0x900000;
	addrs[2] = 0;
	assert_int_equal(legacy__add_sample(lg, addrs, 3, one, NULL, 1), 0);
	assert_int_equal(legacy__assign_mappings(lg), 0);
	assert_int_equal(lg->locs[0].mapping, 0);
	assert_int_equal(lg->locs[1].mapping, 1);
	assert_true(lg->fake_map);
	expect_map(lg, 1, 0, UINT64_MAX, 0, "", "");
	assert_int_equal(lg->locs[2].mapping, LEGACY_NONE);	/* address 0: none */
	/* a mapping whose offset reaches down to an address takes it */
	lg = maps_of("601000-602000 r-xp 00001000 08:01 1 /lib/q.so\n", 0);
	lg->n_types = 1;
	addrs[0] = 0x600800;
	assert_int_equal(legacy__add_sample(lg, addrs, 1, one, NULL, 1), 0);
	assert_int_equal(legacy__assign_mappings(lg), 0);
	expect_map(lg, 0, 0x600000, 0x602000, 0, "/lib/q.so", "");
	/* a huge-page copy right below the binary is dropped */
	lg = maps_of("1000-2000: /anon_hugepage\n2000-3000 r-xp 00001000 08:01 1 /bin/p\n", 0);
	lg->n_types = 1;
	addrs[0] = 0x2100;
	assert_int_equal(legacy__add_sample(lg, addrs, 1, one, NULL, 1), 0);
	assert_int_equal(legacy__assign_mappings(lg), 0);
	expect_map(lg, 0, 0x2000, 0x3000, 0x1000, "/bin/p", "");
	legacy__free(lg);
}

static void test_go_numbers(void **state)
{
	static const struct {
		const char *s;
		int base, err;
		int64_t v;
	} cases[] = {
		{ "42", 10, 0, 42 }, { "-42", 10, 0, -42 }, { "+7", 10, 0, 7 }, { "010", 10, 0, 10 },
		{ "010", 0, 0, 8 }, { "0x1f", 0, 0, 31 }, { "0X1F", 0, 0, 31 }, { "0b101", 0, 0, 5 },
		{ "0o17", 0, 0, 15 }, { "1_000", 0, 0, 1000 }, { "0x_1", 0, 0, 1 }, { "0", 0, 0, 0 },
		{ "08", 0, -EINVAL, 0 }, { "1__0", 0, -EINVAL, 0 }, { "_1", 0, -EINVAL, 0 },
		{ "1_", 0, -EINVAL, 0 }, { "1_0", 10, -EINVAL, 0 }, { "0x", 0, -EINVAL, 0 },
		{ "", 0, -EINVAL, 0 }, { "-", 10, -EINVAL, 0 }, { "9223372036854775807", 10, 0, INT64_MAX },
		{ "-9223372036854775808", 10, 0, INT64_MIN }, { "9223372036854775808", 10, -ERANGE, 0 },
		{ "1 2", 0, -EINVAL, 0 },
	};
	uint64_t addrs[4];
	size_t i, n;
	int64_t v;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 0;
		if (legacy__parse_int(cases[i].s, strlen(cases[i].s), cases[i].base, &v) != cases[i].err ||
		    (!cases[i].err && v != cases[i].v))
			fail_msg("'%s' base %d: %lld", cases[i].s, cases[i].base, (long long)v);
	}
	/* addresses: "0x" then lowercase hex, anywhere */
	assert_int_equal(legacy__hex_addrs("PC: 0x00bc8f1c: f(0xA) 00x1 0x2ab", 33, addrs, 4, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(addrs[0], 0xbc8f1c);
	assert_int_equal(addrs[1], 0x1);
	assert_int_equal(addrs[2], 0x2ab);
	assert_int_equal(legacy__hex_addrs("0x1 0x2 0x3", 11, addrs, 2, &n), 0);
	assert_int_equal(n, 3);	/* found, two kept */
	assert_int_equal(legacy__hex_addrs("0x10000000000000000", 19, addrs, 4, &n), -ERANGE);
}

static void test_unsample(void **state)
{
	int64_t count = 1, size = 262144;

	/* 1 / (1 - e^(-1/2)) = 2.5414940825367984 */
	assert_int_equal(legacy__unsample(&count, &size, 524288), 0);
	assert_int_equal(count, 2);
	assert_int_equal(size, 666237);
	count = 3, size = 0;
	assert_int_equal(legacy__unsample(&count, &size, 524288), 0);
	assert_int_equal(count, 0);
	count = 5, size = 50;
	assert_int_equal(legacy__unsample(&count, &size, 1), 0);
	assert_int_equal(count, 5);
	count = 1, size = 1;
	assert_int_equal(legacy__unsample(&count, &size, INT64_MAX), -ERANGE);
}

#define REFUSED(read, s, m) reader__refused(read, s, sizeof(s) - 1, m)

static void test_refused(void **state)
{
	REFUSED(legacy_heap__read, "heap profile: 1: 2 [3: 4] @ heap_v2/8\n1: 2 [3: 4] @ 0x1 junk\n",
		"line 2: expected a heap sample");
	REFUSED(legacy_heap__read, "heap profile: 1: 2 [3: 4] @ heapz_v9/8\n",
		"unknown kind of heap profile");
	REFUSED(legacy_heap__read, "heap profile: 1: 2 [3: 4] @ heap_v2/8\n0: 2 [3: 4] @ 0x1\n",
		"line 2: inuse count is 0 but its bytes are 2");
	REFUSED(legacy_heap__read, "heap profile: 1: 2 [3: 4] @ heap_v2/8\n1: 2 [3: 4] @ 0x1",
		"line 2: input ends mid-line (cut short?)");
	REFUSED(legacy_heap__read, "heap profile: 1: 2 [3: 4] @ heap_v2/8\n0: 0 [0: 0] @ 0x1\n",
		"heap profile: no sample has both a frame and a value");
	REFUSED(legacy_contention__read, "--- contentionz 1 ---\nformat = java\n1 1 @ 0x1\n",
		"says this is a Java contention profile");
	REFUSED(legacy_contention__read, "--- contentionz 1 ---\nspeed = 3\n1 1 @ 0x1\n",
		"line 2: unknown attribute 'speed'");
	REFUSED(legacy_contention__read, "--- mutex:\ncycles/second=1\n11 @ 0x1\n",
		"line 3: expected a contention sample");
	REFUSED(legacy_contention__read, "--- mutex:\n1 1 @ 0x1\n--- other ---\n",
		"line 3: unknown section");
	REFUSED(legacy_count__read, "goroutine profile: total 1\n1 @  0x1\n",
		"line 2: expected 'COUNT @ 0xADDRESS...'");
	REFUSED(legacy_count__read, "goroutine profile: total 1\n08 @ 0x1\n", "line 2: bad count");
	REFUSED(legacy_count__read, "goroutine profile total 1\n", "expected 'NAME profile: total N'");
	REFUSED(legacy_threadz__read, "--- threadz 1 ---\n--- Thread 1 (name: a/1) stack: ---\n"
		"  PC: 0x1\n", "ends without a '--- Memory map: ---' section");
	REFUSED(legacy_threadz__read, "--- threadz 1 ---\n--- Thread x (name: a/1) stack: ---\n",
		"expected '--- Thread ID (name: NAME/TID) stack: ---'");
	REFUSED(legacy_java__read, "--- heapz 1 ---\nformat = java\nresolution = bytes\n"
		"1 0 @ 0x1\n", "a heap sample of 0 objects");
	REFUSED(legacy_java__read, "--- heapz 1 ---\nformat = java\n1 1 @ 0x1\n",
		"Java heap profile without sample types");
	REFUSED(legacy_java__read, "--- heapz 1 ---\nformat = cpp\n", "format 'cpp' (only java)");
	REFUSED(legacy_java__read, "--- heapz 1 ---\nresolution = bytes\n1 1 @ 0x1\nnonsense\n",
		"line 4: expected a sample");
	REFUSED(legacy_java__read, "--- heapz 1 ---\nresolution = bytes\n1 1 @ 0x1\n 0x1 a\n0x",
		"line 5: input ends mid-line");
	REFUSED(legacy_java__read, "\0\0\0\0\3\0\0\0\0\0\0\0\x10\0\0\0\0\0\0\0\0\0\0\0\1\0\0\0\0\0\0\0",
		"a C++ CPU profile, not a Java one");
}

/* A binary profile cut anywhere, and every byte of its header and first
 * records flipped: refused or read, never a crash or a profile that does
 * not validate. */
static void test_cpu_cut_and_flipped(void **state)
{
	struct buf b = load("cppbench.cpu");
	const char *text = memmem(b.data, b.len, "00400000-00fcb000", 17);
	size_t at = (size_t)(text - (const char *)b.data), cut, i;
	struct pprof_profile *p;
	struct errmsg e;

	log__set_level(LOG_ERROR);
	for (cut = 0; cut < b.len; cut += 7) {
		p = NULL;
		if (!legacy_cpu__read((const char *)b.data, cut, &p, &e)) {
			/* only the memory map, after the samples, may be cut:
			 * at a line's end it is a shorter map */
			if (cut < at || (cut > at && b.data[cut - 1] != '\n'))
				fail_msg("cut at %zu read", cut);
			assert_int_equal(pprof__validate(p->pb, 1, &e), 0);
			pprof__free(p);
		}
	}
	reader__refused(legacy_cpu__read, (const char *)b.data, 40 + 8 * 3,
			"has 11 frames but only 8 bytes follow");
	reader__refused(legacy_cpu__read, (const char *)b.data, 40, "no end record after 0 samples");
	for (i = 0; i < 256; i++) {
		b.data[i] ^= 0x5a;
		p = NULL;
		if (!legacy_cpu__read((const char *)b.data, b.len, &p, &e)) {
			assert_int_equal(pprof__validate(p->pb, 1, &e), 0);
			pprof__free(p);
		}
		b.data[i] ^= 0x5a;
	}
	log__set_level(LOG_INFO);
	buf__free(&b);
}

/* Text fixtures cut at every few bytes: a cut inside a line is refused. */
static void test_text_cut(void **state)
{
	static const struct {
		const char *file;
		read_fn *read;
	} files[] = {
		{ "cppbench.heap", legacy_heap__read }, { "cppbench.contention", legacy_contention__read },
		{ "go.godoc.thread", legacy_count__read }, { "cppbench.thread", legacy_threadz__read },
		{ "java.heap", legacy_java__read }, { "java.contention", legacy_java__read },
	};
	struct pprof_profile *p;
	struct errmsg e;
	size_t f, cut;

	log__set_level(LOG_ERROR);
	for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		struct buf b = load(files[f].file);

		for (cut = 1; cut < b.len; cut += 3) {
			int err;

			p = NULL;
			err = files[f].read((const char *)b.data, cut, &p, &e);
			if (b.data[cut - 1] != '\n' && err != -EBADMSG)
				fail_msg("%s cut at %zu: %d", files[f].file, cut, err);
			if (!err) {
				assert_int_equal(pprof__validate(p->pb, 1, &e), 0);
				pprof__free(p);
			}
		}
		buf__free(&b);
	}
	log__set_level(LOG_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_heap_mappings),
		cmocka_unit_test(test_maps),
		cmocka_unit_test(test_assign),
		cmocka_unit_test(test_go_numbers),
		cmocka_unit_test(test_unsample),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_cpu_cut_and_flipped),
		cmocka_unit_test(test_text_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
