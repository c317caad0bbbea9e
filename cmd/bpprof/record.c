/* bpprof record: one capture, written to files. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture/capture.h"
#include "base/log.h"
#include "base/parse.h"
#include "cmd/bpprof/cli.h"
#include "collect/heap.h"
#include "convert/pipeline.h"

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
	static uint32_t pids[RECORD_MAX_PIDS];
	enum convert_format format = FORMAT_AUTO;
	struct record_opts o = {
		.freq = RECORD_DEFAULT_FREQ,
		.level = COMPRESS_LEVEL_DEFAULT,
		.kernel_stacks = true,
		.user_stacks = true,
		.event = COLLECT_CPU_CLOCK,
		.pids = pids,
		.heap_rate = HEAP_DEFAULT_RATE,
		.heap_live = HEAP_DEFAULT_LIVE,
	};
	struct record_result r;
	struct errmsg e = { "" };
	bool compress_set = false, quiet = false, seconds_set = false;
	char cpu_out[4096], heap_out[4096], status[128] = "";
	const char *suffix;
	int c, n, err;

	while ((c = getopt_long(argc, argv, "+F:d:p:o:c:l:qh", long_opts, NULL)) != -1) {
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
			o.output = optarg;
			break;
		case OPT_FORMAT:
			if (parse_out_format("record", optarg, &format))
				return 2;
			break;
		case 'c':
			if (parse_compress("record", optarg, &o.compress))
				return 2;
			compress_set = true;
			break;
		case 'l':
			if (parse_level("record", optarg, &o.level))
				return 2;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			return cmd_help(2, (char *[]){ "help", "record", NULL });
		default:
			return 2;
		}
	}
	if (optind < argc)
		o.command = argv + optind;
	if (capture_check("record", &o))
		return 2;
	/* A command runs to its end unless -d says otherwise. */
	if (!seconds_set)
		o.seconds = o.command ? 0 : RECORD_DEFAULT_SECONDS;
	if (format == FORMAT_AUTO) {
		const char *base = o.output ? strrchr(o.output, '/') : NULL;

		base = base ? base + 1 : o.output;
		format = base && strstr(base, ".folded") && !(o.cpu && o.heap) ? FORMAT_FOLDED
									      : FORMAT_PPROF;
	}
	o.format = format == FORMAT_FOLDED ? SINK_FOLDED : SINK_PPROF;
	if (!o.output || (o.cpu && o.heap)) {
		if (!compress_set)
			o.compress = o.format == SINK_PPROF ? COMPRESS_GZIP : COMPRESS_NONE;
		suffix = o.format == SINK_PPROF ? compress__pprof_suffix(o.compress)
			 : o.compress == COMPRESS_GZIP ? ".folded.gz"
			 : o.compress == COMPRESS_ZSTD ? ".folded.zst" : ".folded";
		/* both profiles: -o names their directory */
		if (o.cpu && o.heap && o.output && mkdir(o.output, 0777) && errno != EEXIST) {
			pr_err("%s: cannot create the output directory: %s", o.output, strerror(errno));
			return 1;
		}
		snprintf(cpu_out, sizeof(cpu_out), "%s%scpu%s", o.output ? o.output : "",
			 o.output ? "/" : "", suffix);
		snprintf(heap_out, sizeof(heap_out), "%s%sheap%s", o.output ? o.output : "",
			 o.output ? "/" : "", suffix);
		o.output = cpu_out;
		o.heap_output = heap_out;
	} else {
		if (!compress_set)
			o.compress = sink__output_compression(o.output, o.format);
		o.heap_output = o.output;
	}
	if (compress__check_level(o.compress, o.level)) {
		usage_error("record", "compression level %d is out of range for %s", o.level,
			    compress__name(o.compress));
		return 2;
	}
	if (quiet)
		log__set_level(LOG_ERROR);
	o.progress = log__level() >= LOG_INFO && isatty(STDERR_FILENO);

	err = record__run(&o, &r, &e);
	if (r.command_exited) {
		describe_status(status, sizeof(status), r.command_status);
	} else if (r.command_pid) {
		snprintf(status, sizeof(status), "is still running (pid %d)", (int)r.command_pid);
	}
	if (err) {
		pr_err("%s", e.text);
		if (status[0])
			pr_err("%s %s", o.command[0], status);
		if (!r.written)
			return 1;
	}
	if (r.written && !err)
		pr_info("%" PRIu64 " samples, %" PRIu64 " lost, %.1f%% of frames unsymbolized, %.1f s%s "
			"→ %s%s%s%s%s", r.kept, r.lost, r.unsymbolized * 100, r.seconds,
			r.interrupted ? " (interrupted)" : "", o.output, status[0] ? "; " : "",
			status[0] ? o.command[0] : "", status[0] ? " " : "", status);
	if (r.heap.written && !err)
		pr_info("heap: %" PRIu64 " allocation calls, %" PRIu64 " sampled (%" PRIu64 " freed), "
			"%" PRIu64 " lost, %.1f%% of frames unsymbolized, %.1f s%s → %s%s%s%s%s",
			r.heap.calls, r.heap.kept, r.heap.freed, r.heap.lost + r.heap.frees_lost,
			r.heap.unsymbolized * 100, r.seconds, r.interrupted ? " (interrupted)" : "",
			o.heap_output, status[0] && !o.cpu ? "; " : "",
			status[0] && !o.cpu ? o.command[0] : "", status[0] && !o.cpu ? " " : "",
			o.cpu ? "" : status);
	return err ? 1 : 0;
}

