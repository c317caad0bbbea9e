/* Format names and detection: the real captures, pprof files and the text
 * variants each reader accepts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "compress/compress.h"
#include "convert/convert.h"
#include "fileio/fileio.h"

#define DETECT(s) convert__detect(s, sizeof(s) - 1)

static void test_names(void **state)
{
	static const struct {
		const char *name;
		enum convert_format format;
	} names[] = {
		{ "auto", FORMAT_AUTO }, { "pprof", FORMAT_PPROF }, { "folded", FORMAT_FOLDED },
		{ "collapsed", FORMAT_FOLDED }, { "gperftools-cpu", FORMAT_GPERFTOOLS_CPU },
		{ "heap-text", FORMAT_HEAP_TEXT }, { "contention-text", FORMAT_CONTENTION_TEXT },
		{ "go-count", FORMAT_GO_COUNT }, { "threadz", FORMAT_THREADZ }, { "java", FORMAT_JAVA },
		{ "perf-script", FORMAT_PERF_SCRIPT }, { "perf", FORMAT_PERF_SCRIPT },
	};
	enum convert_format f = FORMAT_PPROF;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(convert__parse_format(names[i].name, &f), 0);
		assert_int_equal(f, names[i].format);
		/* every name is listed for --from, and is its format's own */
		if (f != FORMAT_AUTO && strcmp(names[i].name, "collapsed") && strcmp(names[i].name, "perf")) {
			assert_non_null(strstr(convert__format_list(), names[i].name));
			assert_string_equal(convert__format_name(f), names[i].name);
		}
	}
	assert_int_equal(convert__parse_format("Folded", &f), -EINVAL);
	assert_int_equal(convert__parse_format("", &f), -EINVAL);
	assert_int_equal(convert__parse_format(NULL, &f), -EINVAL);
	assert_int_equal(f, FORMAT_PERF_SCRIPT);
	assert_string_equal(convert__format_name(FORMAT_PERF_SCRIPT), "perf-script");
	assert_string_equal(convert__format_name(FORMAT_FOLDED), "folded");
	assert_string_equal(convert__format_name(FORMAT_PPROF), "pprof");
	assert_string_equal(convert__format_name(FORMAT_AUTO), "auto");
}

static enum convert_format detect_file(const char *path)
{
	struct buf b = BUF_INIT(0), raw = BUF_INIT(0);
	enum convert_format f;
	struct errmsg e;

	assert_int_equal(fileio__read_all(path, &b, &e), 0);
	if (compress__decode(b.data, b.len, &raw, &e))
		fail_msg("%s: %s", path, e.text);
	f = convert__detect(raw.data, raw.len);
	buf__free(&b);
	buf__free(&raw);
	return f;
}

static void test_real_files(void **state)
{
	assert_int_equal(detect_file("testdata/perf/perf-script-gzip-dd.txt"), FORMAT_PERF_SCRIPT);
	assert_int_equal(detect_file("testdata/perf/perf-script-inline-dwarf.txt"), FORMAT_PERF_SCRIPT);
	assert_int_equal(detect_file("testdata/perf/perf-script-page-faults-cpu-clock.txt"),
			 FORMAT_PERF_SCRIPT);
	assert_int_equal(detect_file("testdata/perf/perf-script-side-band-header.txt"),
			 FORMAT_PERF_SCRIPT);
	assert_int_equal(detect_file("testdata/perf/perf-script-no-callchain.txt"), FORMAT_PERF_SCRIPT);
	assert_int_equal(detect_file("testdata/perf/libbpf-tools-profile-folded.txt"), FORMAT_FOLDED);
	assert_int_equal(detect_file("testdata/pprof/go-runtime-cpu.pb.gz"), FORMAT_PPROF);
	assert_int_equal(detect_file("testdata/pprof/parca-profile-with-labels.pb.gz"), FORMAT_PPROF);
	assert_int_equal(detect_file("testdata/pprof/parca-normal-cpu.stripped.pprof"), FORMAT_PPROF);
}

static void test_text_variants(void **state)
{
	/* perf script: after --header comments; CRLF; without call chains */
	assert_int_equal(DETECT("# ========\n# cmdline : perf record -g\n#\n\n"
				"app 1/2 [000] 1.000000: 1 cpu-clock:\n\t1234 foo (/bin/app)\n"),
			 FORMAT_PERF_SCRIPT);
	assert_int_equal(DETECT("app 2 1.000000: 1 cycles:u:\r\n\t    1234 foo (/bin/app)\r\n"),
			 FORMAT_PERF_SCRIPT);
	assert_int_equal(DETECT("   app 2 1.000000: 1 cpu-clock:   1234 foo (/bin/app)\n"
				"   app 2 1.001000: 1 cpu-clock:   1234 foo (/bin/app)\n"),
			 FORMAT_PERF_SCRIPT);
	assert_int_equal(DETECT("app 2 1.000000: 1 cpu-clock:\n\napp 2 1.001000: 1 cpu-clock:\n"),
			 FORMAT_PERF_SCRIPT);
	/* --show-namespace-events first: a side-band record over two lines */
	assert_int_equal(DETECT("perf-exec     0     0.000000: PERF_RECORD_NAMESPACES 9/9 - nr_namespaces: 7\n"
				"\t\t[0/net: 4/0xeffffff9, 1/uts: 4/0xeffffffe, 2/ipc: 4/0xefffffff, \n"),
			 FORMAT_PERF_SCRIPT);
	/* folded, with or without a warning first; other text goes to the
	 * folded reader, which says what is wrong */
	assert_int_equal(DETECT("main;work 3\n"), FORMAT_FOLDED);
	assert_int_equal(DETECT("WARNING: 1 stack traces could not be displayed.\nmain;work 3\n"),
			 FORMAT_FOLDED);
	assert_int_equal(DETECT("app 2 1.000000: 1 cpu-clock:\nsomething else\n"), FORMAT_FOLDED);
	assert_int_equal(DETECT("hello\n"), FORMAT_FOLDED);
	/* binary and empty input are pprof's to refuse */
	assert_int_equal(DETECT(""), FORMAT_PPROF);
	assert_int_equal(DETECT("\x0a\x04\x08\x01\x10\x02"), FORMAT_PPROF);
	/* one NUL byte does not make text binary (issue 19): the reader of
	 * the text it is says what is wrong with that line */
	assert_int_equal(DETECT("main;work 3\n\0"), FORMAT_FOLDED);
	assert_int_equal(DETECT("main;work 3\nmain;w\0rk 2\nmain 1\n"), FORMAT_FOLDED);
	assert_int_equal(DETECT("main;work 3\n\0\0\0\0\0\0"), FORMAT_PPROF);
	/* perf script -F +srcline without call chains: a source line follows
	 * the header's IP */
	assert_int_equal(DETECT("s 16040  3147.809398: cpu-clock:pppH:      55e06e3b3160 leaf "
				"(/tmp/gp/s)\n  s.c:2\n"), FORMAT_PERF_SCRIPT);
}

/* The legacy formats by their first line (after comments), as google/pprof
 * tells them apart. */
static void test_legacy(void **state)
{
	static const struct {
		const char *file;
		enum convert_format format;
	} files[] = {
		{ "cppbench.contention", FORMAT_CONTENTION_TEXT }, { "cppbench.cpu", FORMAT_GPERFTOOLS_CPU },
		{ "cppbench-64be.cpu", FORMAT_GPERFTOOLS_CPU }, { "cppbench.growth", FORMAT_HEAP_TEXT },
		{ "cppbench.heap", FORMAT_HEAP_TEXT }, { "cppbench.thread", FORMAT_THREADZ },
		{ "cppbench.thread.all", FORMAT_THREADZ }, { "cppbench.thread.none", FORMAT_THREADZ },
		{ "go.crc32.cpu", FORMAT_GPERFTOOLS_CPU }, { "go.godoc.thread", FORMAT_GO_COUNT },
		{ "gobench.cpu", FORMAT_GPERFTOOLS_CPU }, { "gobench-32le.cpu", FORMAT_GPERFTOOLS_CPU },
		{ "gobench-32be.cpu", FORMAT_GPERFTOOLS_CPU }, { "gobench-64be.cpu", FORMAT_GPERFTOOLS_CPU },
		{ "gobench.heap", FORMAT_HEAP_TEXT }, { "java.contention", FORMAT_JAVA },
		{ "java.cpu", FORMAT_GPERFTOOLS_CPU }, { "java-32be.cpu", FORMAT_GPERFTOOLS_CPU },
		{ "java-64le.cpu", FORMAT_GPERFTOOLS_CPU }, { "java.heap", FORMAT_JAVA },
	};
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "testdata/legacy/%s", files[i].file);
		if (detect_file(path) != files[i].format)
			fail_msg("%s: detected as %s", files[i].file,
				 convert__format_name(detect_file(path)));
	}
	assert_int_equal(DETECT("goroutine profile: total 4\n1 @ 0x1 0x2\n"), FORMAT_GO_COUNT);
	assert_int_equal(DETECT("# made by hand\n\nheap profile: 1: 2 [ 3: 4] @ heap_v2/524288\n"),
			 FORMAT_HEAP_TEXT);
	assert_int_equal(DETECT("--- mutex:\ncycles/second=1\n1 1 @ 0x1\n"), FORMAT_CONTENTION_TEXT);
	assert_int_equal(DETECT("--- contention:\ncycles/second=1\n1 1 @ 0x1\n"),
			 FORMAT_CONTENTION_TEXT);
	assert_int_equal(DETECT("--- contentionz 1 ---\nsampling period = 1\nresolution = ms\n"),
			 FORMAT_JAVA);
	assert_int_equal(DETECT("--- Thread 7f (name: main/1) stack: ---\n"), FORMAT_THREADZ);
	/* a name with a blank in it is no Go count profile */
	assert_int_equal(DETECT("a b profile: total 4\n"), FORMAT_FOLDED);
	/* 0, 3, 0, period 0: no header (the period is never 0) */
	assert_int_equal(convert__detect("\0\0\0\0\3\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20), FORMAT_PPROF);
	assert_int_equal(convert__detect("\0\0\0\0\3\0\0\0\0\0\0\0\x10\0\0\0\0\0\0\0", 20),
			 FORMAT_GPERFTOOLS_CPU);
}

/* Only the start is read: a long perf capture cut by the window is still
 * perf script, and bytes past the window do not matter. */
static void test_window(void **state)
{
	struct buf b = BUF_INIT(0);
	size_t i;

	assert_int_equal(buf__appendf(&b, "app 2 1.000000: 1 cpu-clock:\n"), 0);
	for (i = 0; i < 10000; i++)
		assert_int_equal(buf__appendf(&b, "\t%zx foo (/bin/app)\n", i), 0);
	assert_int_equal(buf__append(&b, "\0\1\2", 3), 0);
	assert_int_equal(convert__detect(b.data, b.len), FORMAT_PERF_SCRIPT);
	b.len = 0;
	for (i = 0; i < 10000; i++)
		assert_int_equal(buf__appendf(&b, "main;f%zu 1\n", i), 0);
	assert_int_equal(buf__append(&b, "\0", 1), 0);
	assert_int_equal(convert__detect(b.data, b.len), FORMAT_FOLDED);
	buf__free(&b);
}

/* perf script --header (-I) on a 256-CPU machine: a "# CPU N: ..." line per
 * CPU, more than the window holds, before the first sample. */
static void test_long_header(void **state)
{
	static const char capture[] = "testdata/perf/perf-script-side-band-header.txt";
	struct buf b = BUF_INIT(0), text = BUF_INIT(0);
	struct errmsg e;
	const char *first;
	size_t i;

	assert_int_equal(fileio__read_all(capture, &b, &e), 0);
	/* the real header, then the topology lines perf -I adds */
	first = memchr(b.data, '\n', b.len);
	assert_int_equal(buf__append(&text, b.data, (size_t)(first + 1 - (const char *)b.data)), 0);
	for (i = 0; i < 256; i++)
		assert_int_equal(buf__appendf(&text, "# CPU %zu: Core ID %zu, Die ID 0, Socket ID 0\n",
					      i, i), 0);
	assert_true(text.len > 8192);
	assert_int_equal(buf__append(&text, first + 1,
				     b.len - (size_t)(first + 1 - (const char *)b.data)), 0);
	assert_int_equal(convert__detect(text.data, text.len), FORMAT_PERF_SCRIPT);
	/* comments then binary: pprof's to refuse; comments only: text */
	text.len = 0;
	for (i = 0; i < 400; i++)
		assert_int_equal(buf__appendf(&text, "# CPU %zu: Core ID %zu\n\n", i, i), 0);
	assert_int_equal(convert__detect(text.data, text.len), FORMAT_FOLDED);
	assert_int_equal(buf__append(&text, "\x0a\x04\x08\x01\x10\x02", 6), 0);
	assert_int_equal(convert__detect(text.data, text.len), FORMAT_PPROF);
	text.len -= 6;
	assert_int_equal(buf__appendf(&text, "main;work 3\n"), 0);
	assert_int_equal(convert__detect(text.data, text.len), FORMAT_FOLDED);
	buf__free(&text);
	buf__free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_real_files),
		cmocka_unit_test(test_text_variants),
		cmocka_unit_test(test_legacy),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_long_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
