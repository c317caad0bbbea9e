/* bpprof record: one capture, its one window written to files. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture/capture.h"
#include "capture/heapmode.h"
#include "base/log.h"
#include "base/parse.h"
#include "cmd/bpprof/cli.h"
#include "collect/heap.h"
#include "collect/offcpu.h"
#include "export/sink.h"
#include "fileio/fileio.h"

#define RECORD_DEFAULT_FREQ	99u
#define RECORD_DEFAULT_SECONDS	10.0

/* Where the capture's window goes: a file per kind (off-CPU waits go into
 * the CPU file when both are captured). */
struct record_sink {
	const char *path[CAPTURE_KINDS];
	enum sink_format format;
	enum compress_kind compress;
	int level;
	bool written[CAPTURE_KINDS];
	double unsymbolized[CAPTURE_KINDS];
};

static int record_sink__window(void *ctx, struct capture_window *w, struct errmsg *e)
{
	struct record_sink *s = ctx;
	int err;

	/* folded heap stacks sum what pprof shows a heap profile by, off-CPU
	 * ones the nanoseconds blocked (as offcputime -f does) */
	err = sink__write(w->profile, s->path[w->kind], s->format, s->compress, s->level,
			  w->kind == CAPTURE_HEAP ? "inuse_space" :
			  w->kind == CAPTURE_OFFCPU ? "off_cpu" : NULL, e);
	s->written[w->kind] = !err;
	s->unsymbolized[w->kind] = w->unsymbolized;
	return err;
}

static void describe_status(char *buf, size_t len, int status)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "ended with wait status %#x", status);
}


/* The files: -o, or cpu.pb.gz / heap.pb.gz / offcpu.pb.gz (their suffix
 * following the format and compression), or several in the directory -o
 * names. 0, 1 when that directory cannot be made, 2 after a usage error
 * (said). */
static int record_outputs(struct record_sink *out, const char *output, enum convert_format format,
			  bool compress_set, bool both)
{
	static const char *const names[CAPTURE_KINDS] = { "cpu", "heap", "offcpu" };
	static char paths[CAPTURE_KINDS][4096];
	struct errmsg e;
	const char *suffix;
	int k;

	if (format == FORMAT_AUTO) {
		const char *base = output ? strrchr(output, '/') : NULL;

		base = base ? base + 1 : output;
		format = base && strstr(base, ".folded") && !both ? FORMAT_FOLDED : FORMAT_PPROF;
	}
	out->format = format == FORMAT_FOLDED ? SINK_FOLDED : SINK_PPROF;
	if (output && !both) {
		if (!compress_set)
			out->compress = sink__output_compression(output, out->format);
		for (k = 0; k < CAPTURE_KINDS; k++)
			out->path[k] = output;
		return 0;
	}
	if (!compress_set)
		out->compress = out->format == SINK_PPROF ? COMPRESS_GZIP : COMPRESS_NONE;
	suffix = out->format == SINK_PPROF ? compress__pprof_suffix(out->compress)
		 : out->compress == COMPRESS_GZIP ? ".folded.gz"
		 : out->compress == COMPRESS_ZSTD ? ".folded.zst" : ".folded";
	/* both profiles: -o names their directory, which "-" cannot be */
	if (both && output && !strcmp(output, "-")) {
		usage_error("record", "-o -: this capture writes two profiles, so -o names "
			    "their directory");
		return 2;
	}
	if (both && output && fileio__make_dir(output, 0777, &e)) {
		pr_err("%s", e.text);
		return 1;
	}
	for (k = 0; k < CAPTURE_KINDS; k++) {
		snprintf(paths[k], sizeof(paths[k]), "%s%s%s%s", output ? output : "",
			 output ? "/" : "", names[k], suffix);
		out->path[k] = paths[k];
	}
	return 0;
}

/* ", unwind tables: ..." for the summary line: their size, the stacks
 * walked otherwise, every limit hit; "" when stacks were walked with frame
 * pointers only. */
static void describe_unwind(char *buf, size_t len, const struct capture_unwind_stats *u,
			    uint64_t fallback, uint64_t cut)
{
	uint64_t limits = u->files_too_big + u->tables_full + u->rules_full + u->procs_full +
			  u->maps_dropped;
	int n;

	buf[0] = '\0';
	if (!u->on)
		return;
	n = snprintf(buf, len, "; unwind tables: %" PRIu64 " files, %.1f MiB in the kernel",
		     u->files, (double)u->kernel_bytes / (1 << 20));
	if (fallback && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, ", %" PRIu64 " stacks walked with frame "
			      "pointers (in part) before their tables were loaded", fallback);
	if (cut && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, ", %" PRIu64 " stacks cut at a frame no "
			      "rule unwinds", cut);
	if (limits && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ", limits hit: %" PRIu64 " files too big, %" PRIu64
			 " tables over %.1f MiB, %" PRIu64 " over the rules, %" PRIu64 " processes "
			 "and %" PRIu64 " mappings over the maps", u->files_too_big, u->tables_full,
			 (double)u->limit_bytes / (1 << 20), u->rules_full, u->procs_full,
			 u->maps_dropped);
}

/* The heap's line says which mode ran, and why not preload when it was
 * not (said once, here). Preload mode sees only sampled calls. */
static void record_heap_summary(const struct record_sink *out, const struct capture_result *r,
				const char *intr, const char *tail)
{
	const struct capture_heap_result *h = &r->heap;
	char mode[PRELOAD_WHY_LEN + 32], calls[48] = "", unwind[512];

	snprintf(mode, sizeof(mode), "%s mode%s%s%s", heap_mode__name(h->mode),
		 h->why[0] ? " (" : "", h->why, h->why[0] ? ")" : "");
	if (h->mode != HEAP_MODE_PRELOAD)
		snprintf(calls, sizeof(calls), "%" PRIu64 " allocation calls, ", h->calls);
	describe_unwind(unwind, sizeof(unwind), &r->unwind, h->unwind_fallback, h->unwind_cut);
	pr_info("heap, %s: %s%" PRIu64 " sampled (%" PRIu64 " freed), %" PRIu64 " lost, %.1f%% of "
		"frames unsymbolized, %.1f s%s → %s%s%s", mode, calls, h->kept, h->freed,
		h->lost + h->frees_lost, out->unsymbolized[CAPTURE_HEAP] * 100, r->seconds, intr,
		out->path[CAPTURE_HEAP], tail, unwind);
}

/* The one line per profile written (two when off-CPU waits share the CPU
 * file), the first with the command's fate. */
static void record_summary(const struct record_sink *out, const struct capture_opts *o,
			   const struct capture_result *r, const char *status)
{
	const struct capture_offcpu_result *w = &r->offcpu;
	enum capture_kind wk = o->cpu ? CAPTURE_CPU : CAPTURE_OFFCPU;
	const char *intr = r->interrupted ? " (interrupted)" : "";
	char tail[256] = "", unwind[512];

	if (status[0])
		snprintf(tail, sizeof(tail), "; %s %s", o->command[0], status);
	if (out->written[CAPTURE_CPU]) {
		describe_unwind(unwind, sizeof(unwind), &r->unwind, r->unwind.fallback,
				r->unwind.cut);
		pr_info("%" PRIu64 " samples, %" PRIu64 " lost, %.1f%% of frames unsymbolized, %.1f s%s "
			"→ %s%s%s", r->kept, r->lost, out->unsymbolized[CAPTURE_CPU] * 100, r->seconds,
			intr, out->path[CAPTURE_CPU], tail, unwind);
		tail[0] = '\0';
	}
	if (o->offcpu && out->written[wk]) {
		char unsym[64] = "", what[64], shorter[96] = "";

		if (wk == CAPTURE_OFFCPU)
			snprintf(unsym, sizeof(unsym), ", %.1f%% of frames unsymbolized",
				 out->unsymbolized[CAPTURE_OFFCPU] * 100);
		if (o->offcpu_min_ns)
			snprintf(shorter, sizeof(shorter), "; %" PRIu64 " shorter ones (%.3f s) not "
				 "recorded", w->short_waits, (double)w->short_ns / 1e9);
		offcpu__describe_min(o->offcpu_min_ns, what, sizeof(what));
		pr_info("off-CPU: %" PRIu64 " %s (%.3f s), %" PRIu64 " lost%s%s, %.1f s%s → %s%s",
			w->kept, what, (double)w->kept_ns / 1e9, w->lost, shorter, unsym, r->seconds,
			intr, out->path[wk], tail);
		tail[0] = '\0';
	}
	if (out->written[CAPTURE_HEAP])
		record_heap_summary(out, r, intr, tail);
}

/* Where the profiles go, checked writable before we spend the user's time:
 * 0, 1 after an error, 2 after a usage error (said). */
static int record_files(struct record_sink *out, const struct capture_opts *o, const char *output,
			enum convert_format format, bool compress_set)
{
	struct errmsg e = { "" };
	int err;

	err = record_outputs(out, output, format, compress_set,
			     o->cpu + o->heap + (o->offcpu && !o->cpu) > 1);
	if (err)
		return err;
	if (o->cpu && o->offcpu && out->format == SINK_FOLDED) {
		usage_error("record", "folded stacks hold one number per stack: record --off-cpu "
			    "without --cpu for folded off-CPU time, or write pprof");
		return 2;
	}
	if (compress__check_level(out->compress, out->level)) {
		usage_error("record", "compression level %d is out of range for %s", out->level,
			    compress__name(out->compress));
		return 2;
	}
	err = o->cpu ? sink__probe(out->path[CAPTURE_CPU], &e) : 0;
	if (!err && o->offcpu && !o->cpu)
		err = sink__probe(out->path[CAPTURE_OFFCPU], &e);
	if (!err && o->heap)
		err = sink__probe(out->path[CAPTURE_HEAP], &e);
	if (err) {
		pr_err("%s", e.text);
		return 1;
	}
	return 0;
}

int cmd_record(int argc, char **argv)
{
	enum { OPT_FORMAT = 256 };
	static const struct option long_opts[] = {
		CAPTURE_LONG_OPTS,
		{ "duration", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "compress", required_argument, NULL, 'c' },
		{ "level", required_argument, NULL, 'l' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static uint32_t pids[CAPTURE_MAX_PIDS];
	enum convert_format format = FORMAT_AUTO;
	struct record_sink out = { .level = COMPRESS_LEVEL_DEFAULT };
	struct capture_opts o = {
		.freq = RECORD_DEFAULT_FREQ,
		.kernel_stacks = true,
		.user_stacks = true,
		.event = COLLECT_CPU_CLOCK,
		.pids = pids,
		.heap_rate = HEAP_DEFAULT_RATE,
		.heap_live = HEAP_DEFAULT_LIVE,
		.offcpu_min_ns = OFFCPU_DEFAULT_MIN_NS,
		.offcpu_in_cpu = true,	/* one profile: -sample_index=off_cpu beside cpu */
	};
	struct capture_result r;
	struct errmsg e = { "" };
	bool compress_set = false, quiet = false, seconds_set = false;
	const char *output = NULL;
	char status[128] = "";
	int c, n, err, rc;

	while ((c = getopt_long(argc, argv, "+:F:d:p:o:c:l:qh", long_opts, NULL)) != -1) {
		n = capture_flag("record", c, optarg, &o, pids);
		if (n == 2)
			return 2;
		if (n)
			continue;
		switch (c) {
		case 'd':
			if (parse__duration(optarg, 366 * 86400.0, &o.seconds)) {
				usage_error("record", "bad duration '%s' (seconds, or 500ms, 2m, 1h)",
					    optarg);
				return 2;
			}
			seconds_set = true;
			break;
		case 'o':
			output = optarg;
			break;
		case OPT_FORMAT:
			if (parse_out_format("record", optarg, &format))
				return 2;
			break;
		case 'c':
			if (parse_compress("record", optarg, &out.compress))
				return 2;
			compress_set = true;
			break;
		case 'l':
			if (parse_level("record", optarg, &out.level))
				return 2;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			return cmd_help(2, (char *[]){ "help", "record", NULL });
		default:
			return usage_getopt("record", c, argv, long_opts);
		}
	}
	if (optind < argc)
		o.command = argv + optind;
	if (capture_check("record", &o))
		return 2;
	/* A command runs to its end unless -d says otherwise. */
	if (!seconds_set)
		o.seconds = o.command ? 0 : RECORD_DEFAULT_SECONDS;
	rc = record_files(&out, &o, output, format, compress_set);
	if (rc)
		return rc;
	if (quiet)
		log__set_level(LOG_ERROR);
	o.progress = log__level() >= LOG_INFO && isatty(STDERR_FILENO);
	o.on_window = record_sink__window;
	o.window_ctx = &out;

	err = capture__run(&o, &r, &e);
	if (r.command_exited) {
		describe_status(status, sizeof(status), r.command_status);
	} else if (r.command_pid) {
		snprintf(status, sizeof(status), "is still running (pid %d)", (int)r.command_pid);
	}
	if (err) {
		pr_err("%s%s", e.text, out.written[CAPTURE_CPU] || out.written[CAPTURE_HEAP] ||
		       out.written[CAPTURE_OFFCPU] ? " (samples so far written)" : "");
		if (status[0])
			pr_err("%s %s", o.command[0], status);
		return 1;
	}
	record_summary(&out, &o, &r, status);
	return 0;
}
