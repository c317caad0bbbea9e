/* perf script: the gzip/dd capture read whole (every sample counted, labels,
 * mappings, unsymbolized frames kept), header and frame variants, and
 * refusals that name the line. */
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

#include "base/buf.h"
#include "base/log.h"
#include "convert/convert.h"
#include "pprof/folded.h"
#include "convert/reader_test.h"
#include "fileio/fileio.h"
#include "pprof/codec.h"

static const char fixture[] = "testdata/perf/perf-script-gzip-dd.txt";

static struct pprof_profile *read_ok(const char *text, size_t len)
{
	return reader__ok(perf_script__read, text, len);
}

#define READ_OK(s) read_ok(s, sizeof(s) - 1)

static void expect_refused(const char *text, size_t len, const char *message)
{
	reader__refused(perf_script__read, text, len, message);
}

#define REFUSED(s, m) expect_refused(s, sizeof(s) - 1, m)

static const pprof_label_pb *label(const pprof_pb *pb, const pprof_sample_pb *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->n_label; i++) {
		if (strcmp(pprof__str(pb, s->label[i]->key), key) == 0)
			return s->label[i];
	}
	return NULL;
}

static const pprof_location_pb *location(const pprof_pb *pb, uint64_t id)
{
	assert_true(id >= 1 && id <= pb->n_location);
	return pb->location[id - 1];
}

static const pprof_location_pb *location_at(const pprof_pb *pb, uint64_t address)
{
	size_t i;

	for (i = 0; i < pb->n_location; i++) {
		if (pb->location[i]->address == address)
			return pb->location[i];
	}
	fail_msg("no location at %#llx", (unsigned long long)address);
	return NULL;
}

static const char *mapping_file(const pprof_pb *pb, const pprof_location_pb *loc)
{
	if (!loc->mapping_id)
		return NULL;
	return pprof__str(pb, pb->mapping[loc->mapping_id - 1]->filename);
}

static const pprof_mapping_pb *mapping_named(const pprof_pb *pb, const char *name)
{
	size_t i;

	for (i = 0; i < pb->n_mapping; i++) {
		if (strcmp(pprof__str(pb, pb->mapping[i]->filename), name) == 0)
			return pb->mapping[i];
	}
	fail_msg("no mapping %s", name);
	return NULL;
}

static const char *function_name(const pprof_pb *pb, const pprof_location_pb *loc)
{
	assert_int_equal(loc->n_line, 1);
	return pprof__str(pb, pb->function[loc->line[0]->function_id - 1]->name);
}

static void test_gzip_dd_capture(void **state)
{
	struct buf b = BUF_INIT(0);
	struct pprof_profile *p;
	const pprof_location_pb *loc;
	const pprof_mapping_pb *m;
	struct errmsg e;
	const pprof_pb *pb;
	size_t i, dd = 0;

	assert_int_equal(fileio__read_all(fixture, &b, &e), 0);
	p = read_ok((const char *)b.data, b.len);
	pb = p->pb;
	assert_int_equal(pb->n_sample_type, 2);
	assert_string_equal(pprof__str(pb, pb->sample_type[0]->type), "samples");
	assert_string_equal(pprof__str(pb, pb->sample_type[1]->type), "cpu");
	assert_string_equal(pprof__str(pb, pb->sample_type[1]->unit), "nanoseconds");
	assert_string_equal(pprof__str(pb, pb->period_type->type), "cpu");
	assert_int_equal(pb->period, 1001001);
	assert_int_equal(total(pb, 0), 2499);
	assert_int_equal(total(pb, 1), 2499ll * 1001001);
	/* 4295.198180 - 4281.916305 s, plus the last sample's period */
	assert_int_equal(pb->duration_nanos, 13281875000ll + 1001001);

	/* one number in the header: it is the thread id */
	for (i = 0; i < pb->n_sample; i++) {
		const pprof_sample_pb *s = pb->sample[i];
		const pprof_label_pb *comm = label(pb, s, "comm"), *tid = label(pb, s, "tid");

		assert_non_null(comm);
		assert_non_null(tid);
		assert_null(label(pb, s, "pid"));
		assert_int_equal(comm->num, 0);
		assert_int_equal(tid->str, 0);
		if (strcmp(pprof__str(pb, comm->str), "dd") == 0) {
			assert_int_equal(tid->num, 14695);
			dd += (size_t)s->value[0];
		}
	}
	assert_int_equal(dd, 334);

	/* the second sample's leaf: a kernel frame with its symbol */
	loc = location_at(pb, 0xffffffff816284faull);
	assert_string_equal(mapping_file(pb, loc), "[kernel.kallsyms]");
	assert_string_equal(function_name(pb, loc), "__mmap_region");
	/* an unsymbolized frame keeps its binary and address, and no line */
	loc = location_at(pb, 0xcc5c);
	assert_string_equal(mapping_file(pb, loc), "/usr/bin/gzip");
	assert_int_equal(loc->n_line, 0);
	/* "0 [unknown] ([unknown])": no mapping */
	loc = location_at(pb, 0);
	assert_int_equal(loc->mapping_id, 0);
	assert_int_equal(loc->n_line, 0);

	assert_int_equal(pb->n_mapping, 4);
	m = mapping_named(pb, "/usr/bin/gzip");
	assert_int_equal(m->memory_start, 0x3f16);
	assert_int_equal(m->memory_limit, 0xcc5d);
	assert_int_equal(m->file_offset, 0x3f16);
	assert_false(m->has_functions);
	m = mapping_named(pb, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	assert_int_equal(m->memory_start, 0x5c400);
	assert_int_equal(m->memory_limit, 0xf82ae);
	assert_true(m->has_functions);
	m = mapping_named(pb, "[kernel.kallsyms]");
	assert_int_equal(m->memory_start, 0xffffffff81000130ull);
	assert_true(m->has_functions);
	pprof__free(p);
	buf__free(&b);
}

static void test_header_variants(void **state)
{
	struct capture c;
	struct pprof_profile *p;
	const pprof_sample_pb *s;
	const pprof_pb *pb;

	/* PID/TID, a CPU, event modifiers, offsets, CRLF, --header comments */
	p = READ_OK("# ========\r\n# captured on: x\r\n"
		    "perf 1234/1235 [003] 99.000000: PERF_RECORD_MMAP2 1234/1235: [0x1000(0x2000) @ 0 fd:01 3 0]: r-xp /lib/x.so\r\n"
		    "perf 1234/1235 [003] 100.000001:     250000 cpu-clock:ppp: \r\n"
		    "\tffffffff81000010 foo+0x10 ([kernel.kallsyms])\r\n"
		    "\t            1000 bar (/lib/x.so)\r\n"
		    "\r\n");
	pb = p->pb;
	s = pb->sample[0];
	assert_int_equal(label(pb, s, "pid")->num, 1234);
	assert_int_equal(label(pb, s, "tid")->num, 1235);
	assert_string_equal(pprof__str(pb, label(pb, s, "comm")->str), "perf");
	assert_int_equal(s->value[1], 250000);
	assert_int_equal(pb->period, 250000);
	assert_int_equal(pb->n_sample, 1);
	assert_int_equal(pb->duration_nanos, 250000);
	assert_int_equal(s->n_location_id, 2);
	assert_string_equal(function_name(pb, location(pb, s->location_id[0])), "foo");
	assert_int_equal(location(pb, s->location_id[0])->address, 0xffffffff81000010ull);
	assert_string_equal(function_name(pb, location(pb, s->location_id[1])), "bar");
	pprof__free(p);

	/* a command name with blanks; a counting event: samples only */
	p = READ_OK("Web Content 42 [000] 5.500000: 100003 cycles:u: \n"
		    "\t    1000 bar (/lib/x.so)\n\n"
		    "Web Content 42 [000] 5.600000: 100003 cycles:u: \n"
		    "\t    1000 bar (/lib/x.so)\n\n");
	pb = p->pb;
	assert_int_equal(pb->n_sample_type, 1);
	assert_int_equal(pb->n_sample, 1);
	assert_int_equal(pb->sample[0]->value[0], 2);
	assert_string_equal(pprof__str(pb, label(pb, pb->sample[0], "comm")->str), "Web Content");
	assert_string_equal(pprof__str(pb, pb->period_type->type), "cycles");
	assert_string_equal(pprof__str(pb, pb->period_type->unit), "count");
	assert_int_equal(pb->period, 100003);
	assert_int_equal(pb->duration_nanos, 100000000);
	pprof__free(p);

	/* without call chains: padded names, the IP on the header line, no
	 * blank lines; a sample without frames still counts, and is reported */
	capture__begin(&c);
	p = READ_OK("            gzip 14694  4281.920737:    1001001 cpu-clock:      4330 [unknown] (/usr/bin/gzip)\n"
		    "              dd 14695  4281.921737:    1001001 cpu-clock:  ffffffff81000000 x+0x1 ([kernel.kallsyms])\n"
		    "              dd 14695  4281.922737:    1001001 cpu-clock: \n");
	assert_non_null(strstr(capture__end(&c), "perf script: samples without any stack frame "
				"(no ip field?): 1, the first at line 3"));
	pb = p->pb;
	assert_int_equal(pb->n_sample, 3);
	assert_int_equal(total(pb, 0), 3);
	assert_int_equal(pb->sample[0]->n_location_id, 1);
	assert_int_equal(location(pb, pb->sample[0]->location_id[0])->address, 0x4330);
	assert_string_equal(pprof__str(pb, label(pb, pb->sample[1], "comm")->str), "dd");
	assert_string_equal(function_name(pb, location(pb, pb->sample[1]->location_id[0])), "x");
	assert_int_equal(pb->sample[2]->n_location_id, 0);
	pprof__free(p);

	/* symbols with blanks and parentheses; deleted binaries; no period;
	 * a tracepoint's payload after the event */
	p = READ_OK("app 7 1.000000: sched:sched_switch: prev_comm=app prev_pid=7 ==> next_comm=swapper/0\n"
		    "\t    1234 foo::bar(int, char const*) const+0x1f (/tmp/app (deleted))\n"
		    "\t    1300 operator+ (/tmp/app (deleted))\n"
		    "\t    1400 (/tmp/app (deleted))\n");
	pb = p->pb;
	s = pb->sample[0];
	assert_int_equal(pb->n_sample_type, 1);
	assert_null(pb->period_type);
	assert_int_equal(s->n_location_id, 3);
	assert_string_equal(function_name(pb, location(pb, s->location_id[0])),
			    "foo::bar(int, char const*) const");
	assert_string_equal(mapping_file(pb, location(pb, s->location_id[0])), "/tmp/app (deleted)");
	assert_string_equal(function_name(pb, location(pb, s->location_id[1])), "operator+");
	assert_int_equal(location(pb, s->location_id[2])->n_line, 0);
	assert_false(pb->mapping[0]->has_functions);
	pprof__free(p);
}

static int buf_sink(void *ctx, const void *data, size_t len)
{
	return buf__append(ctx, data, len);
}

/* What `bpprof convert --to folded` prints: the stacks a user sees. */
static char *folded_text(const struct pprof_profile *p)
{
	struct buf out = BUF_INIT(0);
	struct errmsg e = { "" };

	if (folded__write(p, 0, buf_sink, &out, &e))
		fail_msg("folded__write: %s", e.text);
	assert_int_equal(buf__append(&out, "", 1), 0);
	return (char *)out.data;
}

static struct pprof_profile *read_file_ok(const char *path, const char *warning)
{
	struct buf b = BUF_INIT(0);
	struct pprof_profile *p;
	struct capture c;
	struct errmsg e;
	const char *said;

	if (fileio__read_all(path, &b, &e))
		fail_msg("%s: %s", path, e.text);
	capture__begin(&c);
	p = read_ok((const char *)b.data, b.len);
	said = capture__end(&c);
	if (warning ? !strstr(said, warning) : *said != '\0')
		fail_msg("%s: expected warning \"%s\", got \"%s\"", path, warning ? warning : "", said);
	buf__free(&b);
	return p;
}

static const char *line_name(const pprof_pb *pb, const pprof_location_pb *loc, size_t i)
{
	assert_true(i < loc->n_line);
	return pprof__str(pb, pb->function[loc->line[i]->function_id - 1]->name);
}

static bool has_mapping(const pprof_pb *pb, const char *name)
{
	size_t i;

	for (i = 0; i < pb->n_mapping; i++) {
		if (strcmp(pprof__str(pb, pb->mapping[i]->filename), name) == 0)
			return true;
	}
	return false;
}

/* perf record --call-graph dwarf of `gcc -O2 -g` code: "(inlined)" frames
 * are the leading lines of their caller's location, never a mapping. */
static void test_inline_capture(void **state)
{
	struct pprof_profile *p = read_file_ok("testdata/perf/perf-script-inline-dwarf.txt", NULL);
	const pprof_pb *pb = p->pb;
	const pprof_location_pb *loc;
	char *text;

	assert_int_equal(total(pb, 0), 19);
	assert_false(has_mapping(pb, "inlined"));
	/* the binary pprof names (File:) is the program, not libc */
	assert_string_equal(pprof__str(pb, pb->mapping[0]->filename), "/tmp/ps/inl");
	assert_true(pb->mapping[0]->has_inline_frames);
	/* "11b4 inner+0x24 (inlined)" then "11b4 outer+0x24 (/tmp/ps/inl)" */
	loc = location_at(pb, 0x11b4);
	assert_string_equal(mapping_file(pb, loc), "/tmp/ps/inl");
	assert_int_equal(loc->n_line, 2);
	assert_string_equal(line_name(pb, loc, 0), "inner");
	assert_string_equal(line_name(pb, loc, 1), "outer");
	/* "27304 __libc_start_main_impl+0x84 (inlined)" then "10c0 _start":
	 * perf printed no frame of its own at 27304, so it stands alone */
	loc = location_at(pb, 0x27304);
	assert_int_equal(loc->mapping_id, 0);
	assert_string_equal(function_name(pb, loc), "__libc_start_main_impl");
	assert_string_equal(function_name(pb, location_at(pb, 0x10c0)), "_start");
	text = folded_text(p);
	assert_string_equal(text,
			    "_start;__libc_start_main_impl;__libc_start_call_main;main;outer;inner 18\n"
			    "_start;__libc_start_main_impl;__libc_start_call_main;main 1\n");
	free(text);
	pprof__free(p);
}

/* A frame with inlined functions before it is another location than the
 * same frame without; the frame cache must not mix them up. */
static void test_inline_cache(void **state)
{
	struct pprof_profile *p;
	const pprof_pb *pb;
	uint64_t with_two, bare, with_one;
	char *text;

	p = READ_OK("a 1 1.0: 1 cpu-clock:\n"
		    "\t      10 inner+0x1 (inlined)\n"
		    "\t      10 middle+0x1 (inlined)\n"
		    "\t      10 outer+0x1 (/bin/a)\n"
		    "\t      20 main (/bin/a)\n\n"
		    "a 1 1.1: 1 cpu-clock:\n"
		    "\t      10 outer+0x1 (/bin/a)\n"
		    "\t      20 main (/bin/a)\n\n"
		    "a 1 1.2: 1 cpu-clock:\n"
		    "\t      10 middle+0x1 (inlined)\n"
		    "\t      10 outer+0x1 (/bin/a)\n"
		    "\t      20 main (/bin/a)\n\n"
		    "a 1 1.3: 1 cpu-clock:\n"
		    "\t      10 outer+0x1 (/bin/a)\n"
		    "\t      30 lonely (inlined)\n");
	pb = p->pb;
	assert_int_equal(pb->n_sample, 4);
	with_two = pb->sample[0]->location_id[0];
	bare = pb->sample[1]->location_id[0];
	with_one = pb->sample[2]->location_id[0];
	assert_true(with_two != bare && bare != with_one && with_one != with_two);
	assert_int_equal(location(pb, with_two)->n_line, 3);
	assert_string_equal(line_name(pb, location(pb, with_two), 0), "inner");
	assert_string_equal(line_name(pb, location(pb, with_two), 2), "outer");
	assert_int_equal(location(pb, bare)->n_line, 1);
	assert_int_equal(location(pb, with_one)->n_line, 2);
	assert_int_equal(pb->sample[3]->location_id[0], bare);
	/* inlined frames last in a sample stand alone, without a binary */
	assert_int_equal(location(pb, pb->sample[3]->location_id[1])->mapping_id, 0);
	assert_int_equal(location(pb, pb->sample[3]->location_id[1])->address, 0x30);
	assert_int_equal(pb->n_mapping, 1);
	text = folded_text(p);
	assert_string_equal(text, "main;outer;middle;inner 1\n"
				  "main;outer 1\n"
				  "main;outer;middle 1\n"
				  "lonely;outer 1\n");
	free(text);
	pprof__free(p);
}

/* perf script --header --show-task-events --show-mmap-events
 * --show-switch-events --show-namespace-events: comments and side-band
 * records (some over several lines) are no samples, whatever their time. */
static void test_side_band(void **state)
{
	struct pprof_profile *p;
	const pprof_pb *pb;
	size_t i;

	p = read_file_ok("testdata/perf/perf-script-side-band-header.txt", NULL);
	pb = p->pb;
	assert_int_equal(pb->n_sample_type, 2);
	assert_string_equal(pprof__str(pb, pb->period_type->type), "cpu");
	assert_int_equal(total(pb, 0), 12);
	/* first sample 13601.591867, last 13601.603725, plus its period; the
	 * PERF_RECORD_MMAP at time 0 is not part of it */
	assert_int_equal(pb->duration_nanos, 11858000 + 1001001);
	for (i = 0; i < pb->n_sample; i++)
		assert_string_not_equal(pprof__str(pb, label(pb, pb->sample[i], "comm")->str),
					"perf-exec");
	pprof__free(p);

	/* "PERF_RECORD_COMM:" where the event goes is not the first event; a
	 * record's tab-led continuation lines are not frames */
	p = READ_OK("perf-exec     0     0.000000: PERF_RECORD_NAMESPACES 9/9 - nr_namespaces: 7\n"
		    "\t\t[0/net: 4/0xeffffff9, 1/uts: 4/0xeffffffe, 2/ipc: 4/0xefffffff, \n"
		    "\t\t 4/user: 4/0xeffffffd, 5/mnt: 4/0xeffffff8, 6/cgroup: 4/0xeffffffb]\n"
		    "perf-exec     0     0.000000: PERF_RECORD_COMM: perf-exec:29756/29756\n"
		    "sh 29756 11856.577723: PERF_RECORD_COMM exec: sh:29756/29756\n"
		    "sh 29756 11856.579489:    1001001 cpu-clock:ppp: \n"
		    "\t            4330 [unknown] (/usr/bin/dash)\n\n"
		    "sh 29756 11856.580000: PERF_RECORD_EXIT(29756:29756):(29755:29755)\n");
	pb = p->pb;
	assert_int_equal(pb->n_sample_type, 2);
	assert_int_equal(pb->n_sample, 1);
	assert_int_equal(pb->duration_nanos, 1001001);
	pprof__free(p);
	REFUSED("perf-exec 0 0.000000: PERF_RECORD_COMM: perf-exec:29756/29756\n"
		"sh 29756 11856.578438: PERF_RECORD_FORK(29758:29758):(29756:29756)\n",
		"no samples found: not perf script output?");
}

/* perf record -e page-faults -e cpu-clock -g: the first event seen is the
 * profile's; the other's samples are skipped and the user hears of them. */
static void test_two_events(void **state)
{
	struct capture c;
	struct pprof_profile *p;
	const pprof_pb *pb;
	size_t i;

	p = read_file_ok("testdata/perf/perf-script-page-faults-cpu-clock.txt",
			 "perf script: 6 samples of other events than 'page-faults' skipped, the "
			 "first at line 21; a profile holds one event");
	pb = p->pb;
	assert_int_equal(pb->n_sample_type, 1);
	assert_int_equal(total(pb, 0), 8);
	assert_string_equal(pprof__str(pb, pb->period_type->type), "page-faults");
	/* frames only cpu-clock samples had are not in it */
	assert_false(has_mapping(pb, "/usr/lib/x86_64-linux-gnu/libc.so.6"));
	for (i = 0; i < pb->n_location; i++)
		assert_true(pb->location[i]->address != 0x11d8);
	pprof__free(p);

	/* the other way round: CPU time only, its window only */
	capture__begin(&c);
	p = READ_OK("a 1 1.000000: 1000 cpu-clock:\n\t10 f (/bin/a)\n\n"
		    "a 1 5.000000: 1 page-faults:\n\t20 g (/bin/b)\n\n"
		    "a 1 1.001000: 1000 cpu-clock:\n\t10 f (/bin/a)\n\n");
	assert_non_null(strstr(capture__end(&c), "perf script: 1 samples of other events than "
				"'cpu-clock' skipped, the first at line 4; a profile holds one event"));
	pb = p->pb;
	assert_int_equal(pb->n_sample_type, 2);
	assert_int_equal(total(pb, 0), 2);
	assert_int_equal(total(pb, 1), 2000);
	assert_int_equal(pb->duration_nanos, 1001000);
	assert_int_equal(pb->n_mapping, 1);
	pprof__free(p);
	/* a skipped sample's frames are still checked */
	REFUSED("a 1 1.0: 1 cpu-clock:\n\t10 f (/bin/a)\n\na 1 1.1: 1 page-faults:\n\tzz g\n",
		"line 5: expected a stack frame");
}

/* perf script -F comm,tid,time,event,ip,sym of a capture without -g: the IP
 * and symbol on the header line, no DSO. */
static void test_no_callchain(void **state)
{
	struct pprof_profile *p;
	const pprof_location_pb *loc;
	struct capture c;
	const pprof_pb *pb;
	size_t i;

	p = read_file_ok("testdata/perf/perf-script-no-callchain.txt", NULL);
	pb = p->pb;
	assert_int_equal(pb->n_sample_type, 1);
	assert_int_equal(total(pb, 0), 26);
	for (i = 0; i < pb->n_sample; i++)
		assert_int_equal(pb->sample[i]->n_location_id, 1);
	loc = location_at(pb, 0xffffffff8168770eull);
	assert_string_equal(function_name(pb, loc), "page_counter_charge");
	assert_int_equal(loc->mapping_id, 0);
	loc = location_at(pb, 0x5556f8184c5cull);
	assert_int_equal(loc->n_line, 0);
	assert_int_equal(pb->n_mapping, 0);
	pprof__free(p);

	/* -F ...,ip alone */
	p = READ_OK("app 1 1.000000: cpu-clock:  4330\n");
	pb = p->pb;
	assert_int_equal(location(pb, pb->sample[0]->location_id[0])->address, 0x4330);
	pprof__free(p);
	/* a tracepoint's payload is no IP, even when it starts with hex */
	capture__begin(&c);
	p = READ_OK("app 7 1.000000: sched:sched_switch: cafe 1 ==> next\n");
	assert_non_null(strstr(capture__end(&c), "samples without any stack frame (no ip "
				"field?): 1, the first at line 1"));
	assert_int_equal(p->pb->sample[0]->n_location_id, 0);
	pprof__free(p);
}

/* perf script -F +srcline: "  s.c:2" after each frame (and after the
 * header's IP without call chains) is read past, not refused (issue 19). */
static void test_srcline(void **state)
{
	struct pprof_profile *p;
	const pprof_location_pb *loc;
	const pprof_pb *pb;

	p = read_file_ok("testdata/perf/perf-script-srcline.txt", NULL);
	pb = p->pb;
	assert_int_equal(pb->n_sample_type, 2);
	assert_int_equal(total(pb, 0), 6);
	loc = location_at(pb, 0x1160);
	assert_string_equal(function_name(pb, loc), "leaf");
	pprof__free(p);
	p = read_file_ok("testdata/perf/perf-script-srcline-no-callchain.txt", NULL);
	pb = p->pb;
	assert_int_equal(total(pb, 0), 6);
	assert_int_equal(pb->sample[0]->n_location_id, 1);
	pprof__free(p);
	/* a source line where no frame was: still no frame */
	REFUSED("app 1 1.000000: 1 cpu-clock:\n\t1234 foo (bar)\nfoo.c:12\n",
		"line 3: expected a stack frame or a sample header");
}

static void test_refused(void **state)
{
	REFUSED("", "no samples found: not perf script output?");
	REFUSED("# only a comment\n\n", "no samples found: not perf script output?");
	REFUSED("hello world\n", "line 1: expected a sample header 'COMM [PID/]TID [CPU] TIME: "
		"[PERIOD] EVENT:', got 'hello world'");
	REFUSED("app x 1.000000: cpu-clock:\n", "line 1: expected a sample header");
	REFUSED("app 1 1.000000: 1 cpu-clock:\n\tzzz foo (bar)\n",
		"line 2: expected a stack frame 'ADDRESS SYMBOL (DSO)', got 'zzz foo (bar)'");
	REFUSED("app 1 1.000000: 1 cpu-clock:\n\t1234 foo (bar)\nnot a frame\n",
		"line 3: expected a stack frame or a sample header");
	REFUSED("app 1 1.000000: 1 cpu-clock:\n\t1234 f\0o (bar)\n", "line 2: NUL byte");
	REFUSED("app 1 1.000000: 1 cpu-clock:\n\t1234 foo (bar)\n\t1234 fo", "line 3: input ends mid-line");
	REFUSED("app 1 1.000000: 1 cpu-clock:\n\t12345678123456781 foo (bar)\n",
		"line 2: expected a stack frame");
	/* equal stacks whose periods sum past INT64_MAX were a signed overflow */
	REFUSED("app 1 1.000000: 9223372036854775807 cpu-clock:\n\t1234 foo (bar)\n\n"
		"app 1 1.000001: 9223372036854775807 cpu-clock:\n\t1234 foo (bar)\n",
		"line 5: the periods of one stack add up past 64 bits");
}

/* Cut anywhere: whole lines parse, a cut line is refused by number. */
static void test_truncated(void **state)
{
	struct buf b = BUF_INIT(0);
	struct errmsg e;
	size_t cut, parsed = 0;

	assert_int_equal(fileio__read_all(fixture, &b, &e), 0);
	/* inside "ffffffff816284fa __mmap_region+0x86a", the second sample */
	cut = (size_t)((const char *)memmem(b.data, b.len, "__mmap_reg", 10) - (const char *)b.data) + 10;
	expect_refused((const char *)b.data, cut, "line 8: input ends mid-line (truncated?)");
	/* inside the third header, right after its time */
	cut = (size_t)((const char *)memmem(b.data, b.len, "4281.919573:", 12) - (const char *)b.data) + 12;
	expect_refused((const char *)b.data, cut, "line 20: input ends mid-line (truncated?)");
	log__set_level(LOG_ERROR);
	for (cut = 1; cut < b.len; cut += 211) {
		struct pprof_profile *p = NULL;
		int err = perf_script__read((const char *)b.data, cut, &p, &e);

		if (b.data[cut - 1] == '\n') {
			if (err)
				fail_msg("cut at %zu after a newline: %s", cut, e.text);
			assert_true(total(p->pb, 0) <= 2499);
			parsed++;
			pprof__free(p);
		} else if (err) {
			assert_int_equal(err, -EBADMSG);
			assert_non_null(strstr(e.text, "input ends mid-line"));
		} else {
			pprof__free(p);	/* cut right after a frame or header */
		}
	}
	log__set_level(LOG_INFO);
	assert_true(parsed > 10);
	buf__free(&b);
}

static void test_deep_stack(void **state)
{
	struct buf text = BUF_INIT(0);
	struct pprof_profile *p;
	struct capture c;
	const pprof_sample_pb *s;
	size_t i;

	assert_int_equal(buf__appendf(&text, "app 1 1.000000: 1 cpu-clock:\n"), 0);
	for (i = 0; i < CONVERT_MAX_FRAMES + 10; i++)
		assert_int_equal(buf__appendf(&text, "\t%zx f%zu (/bin/app)\n", 0x1000 + i, i), 0);
	capture__begin(&c);
	p = read_ok((const char *)text.data, text.len);
	assert_non_null(strstr(capture__end(&c), "perf script: stacks deeper than 4096 frames cut to "
					      "their leaf-most 4096: 1, the first at line 4098"));
	s = p->pb->sample[0];
	assert_int_equal(s->n_location_id, CONVERT_MAX_FRAMES);
	assert_int_equal(location(p->pb, s->location_id[0])->address, 0x1000);
	pprof__free(p);
	buf__free(&text);
}

/* Whatever the bytes, the reader answers 0 or -EBADMSG. */
static void test_random_bytes(void **state)
{
	static const char *const pieces[] = {
		"app ", "1 ", "1/2 ", "[000] ", "1.000000: ", "1001001 ", "cpu-clock: ", "\n",
		"\t", "ffff ", "[unknown] ", "(", ")", "foo+0x1 ", "(/bin/x)", " ", "\r", "\0", "#",
	};
	char data[512];
	unsigned seed = 11;
	int round;

	log__set_level(LOG_ERROR);
	for (round = 0; round < 3000; round++) {
		size_t len = 0, want = (size_t)rand_r(&seed) % 400;
		struct pprof_profile *p = NULL;
		struct errmsg e = { "" };
		int err;

		while (len < want) {
			const char *piece = pieces[rand_r(&seed) % (sizeof(pieces) / sizeof(pieces[0]))];
			size_t n = *piece ? strlen(piece) : 1;

			if (round & 1)
				data[len++] = (char)rand_r(&seed);
			else if (len + n < sizeof(data))
				memcpy(data + len, piece, n), len += n;
			else
				break;
		}
		err = perf_script__read(data, len, &p, &e);
		if (err && err != -EBADMSG)
			fail_msg("round %d: %d %s", round, err, e.text);
		if (!err) {
			if (pprof__validate(p->pb, 1, &e))
				fail_msg("round %d: %s", round, e.text);
			pprof__free(p);
		}
	}
	log__set_level(LOG_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gzip_dd_capture),
		cmocka_unit_test(test_header_variants),
		cmocka_unit_test(test_inline_capture),
		cmocka_unit_test(test_inline_cache),
		cmocka_unit_test(test_side_band),
		cmocka_unit_test(test_two_events),
		cmocka_unit_test(test_no_callchain),
		cmocka_unit_test(test_srcline),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_deep_stack),
		cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
