/* bpprof: the command table. Each command parses its flags and makes one
 * call into pkg/. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <bpf/libbpf.h>

#include "agent/record.h"
#include "base/log.h"
#include "base/parse.h"
#include "bpf/heap_sample.h"
#include "collect/heap.h"
#include "convert/pipeline.h"
#include "version.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static int cmd_help(int argc, char **argv);

static void __attribute__((format(printf, 2, 3)))
usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bpprof %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'bpprof help %s'.\n", cmd);
}

static int cmd_version(int argc, char **argv)
{
	printf("bpprof %s\n", BPPROF_VERSION);
	printf("  libbpf %u.%u\n", libbpf_major_version(), libbpf_minor_version());
	printf("  protobuf-c %s\n", protobuf_c_version());
	printf("  zlib %s\n", zlibVersion());
	printf("  zstd %s\n", ZSTD_versionString());
	printf("  xxhash %u.%u.%u\n", XXH_versionNumber() / 10000, XXH_versionNumber() / 100 % 100,
	       XXH_versionNumber() % 100);
	return 0;
}

/* Flags convert and record share: 0, or 2 after a usage error. */
static int parse_out_format(const char *cmd, const char *arg, enum convert_format *f)
{
	if (convert__parse_format(arg, f) || (*f != FORMAT_PPROF && *f != FORMAT_FOLDED)) {
		usage_error(cmd, "cannot write format '%s' (pprof, folded)", arg);
		return 2;
	}
	return 0;
}

static int parse_compress(const char *cmd, const char *arg, enum compress_kind *k)
{
	if (compress__parse_kind(arg, k)) {
		usage_error(cmd, "unknown compression '%s' (gzip, zstd, none)", arg);
		return 2;
	}
	return 0;
}

static int parse_level(const char *cmd, const char *arg, int *level)
{
	int64_t v;

	if (parse__int64(arg, -131072, 22, &v)) {
		usage_error(cmd, "bad compression level '%s'", arg);
		return 2;
	}
	*level = (int)v;
	return 0;
}

static int cmd_convert(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "compress", required_argument, NULL, 'c' },
		{ "level", required_argument, NULL, 'l' },
		{ "sample-type", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct convert_opts o = { .to = FORMAT_AUTO, .level = COMPRESS_LEVEL_DEFAULT };
	struct convert_result r;
	struct errmsg e = { "" };
	int c;

	while ((c = getopt_long(argc, argv, "o:f:t:c:l:s:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.output = optarg;
			break;
		case 'f':
			if (convert__parse_format(optarg, &o.from)) {
				usage_error("convert", "unknown input format '%s' (pprof, folded, perf-script)", optarg);
				return 2;
			}
			break;
		case 't':
			if (parse_out_format("convert", optarg, &o.to))
				return 2;
			break;
		case 'c':
			if (parse_compress("convert", optarg, &o.compress))
				return 2;
			o.compress_set = true;
			break;
		case 'l':
			if (parse_level("convert", optarg, &o.level))
				return 2;
			break;
		case 's':
			o.sample_type = optarg;
			break;
		case 'h':
			return cmd_help(2, (char *[]){ "help", "convert", NULL });
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage_error("convert", "%s", optind >= argc ? "needs one input file (or - for stdin)"
							     : "takes exactly one input file");
		return 2;
	}
	o.input = argv[optind];
	if (convert__run(&o, &r, &e)) {
		pr_err("%s", e.text);
		return 1;
	}
	if (strcmp(r.output, "-")) {
		char sampled[32] = "";

		if (r.sampled >= 0)
			snprintf(sampled, sizeof(sampled), "%" PRId64 " samples, ", r.sampled);
		pr_info("%s (%s) → %s (%s): %s%zu pprof sample records", o.input,
			convert__format_name(r.from), r.output, convert__format_name(r.to),
			sampled, r.samples);
	}
	return 0;
}


/* "1234,5678" into pids: the count, or -1 after a usage error. */
static int parse_pids(const char *list, uint32_t *pids, size_t max, size_t n)
{
	char *copy = strdup(list), *save = NULL, *tok;
	int64_t v;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (parse__int64(tok, 1, INT32_MAX, &v)) {
			usage_error("record", "bad pid '%s' in -p %s", tok, list);
			free(copy);
			return -1;
		}
		if (n == max) {
			usage_error("record", "at most %zu pids", max);
			free(copy);
			return -1;
		}
		pids[n++] = (uint32_t)v;
	}
	free(copy);
	if (n == 0) {
		usage_error("record", "-p needs a pid");
		return -1;
	}
	return (int)n;
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

static int cmd_record(int argc, char **argv)
{
	enum { OPT_CGROUP = 256, OPT_FORMAT, OPT_KERNEL, OPT_USER, OPT_GROUP, OPT_EVENT, OPT_CPU,
	       OPT_HEAP, OPT_HEAP_RATE, OPT_HEAP_LIVE, OPT_HEAP_MMAP };
	static const struct option long_opts[] = {
		{ "freq", required_argument, NULL, 'F' },
		{ "duration", required_argument, NULL, 'd' },
		{ "pid", required_argument, NULL, 'p' },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "compress", required_argument, NULL, 'c' },
		{ "level", required_argument, NULL, 'l' },
		{ "kernel-only", no_argument, NULL, OPT_KERNEL },
		{ "user-only", no_argument, NULL, OPT_USER },
		{ "group-by", required_argument, NULL, OPT_GROUP },
		{ "event", required_argument, NULL, OPT_EVENT },
		{ "cpu", no_argument, NULL, OPT_CPU },
		{ "heap", no_argument, NULL, OPT_HEAP },
		{ "heap-rate", required_argument, NULL, OPT_HEAP_RATE },
		{ "heap-live", required_argument, NULL, OPT_HEAP_LIVE },
		{ "heap-mmap", no_argument, NULL, OPT_HEAP_MMAP },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static uint32_t pids[RECORD_MAX_PIDS];
	struct record_opts o = {
		.freq = RECORD_DEFAULT_FREQ,
		.format = FORMAT_AUTO,
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
	uint64_t size;
	int64_t v;
	int c, n, err;

	while ((c = getopt_long(argc, argv, "+F:d:p:o:c:l:qh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (parse__int64(optarg, 1, COLLECT_MAX_FREQ, &v)) {
				usage_error("record", "bad frequency '%s' (1-%u Hz)", optarg,
					    COLLECT_MAX_FREQ);
				return 2;
			}
			o.freq = (unsigned)v;
			break;
		case 'd':
			if (parse__duration(optarg, 366 * 86400.0, &o.seconds)) {
				usage_error("record", "bad duration '%s' (seconds, or 500ms, 2m, 1h)",
					    optarg);
				return 2;
			}
			seconds_set = true;
			break;
		case 'p':
			n = parse_pids(optarg, pids, RECORD_MAX_PIDS, o.n_pids);
			if (n < 0)
				return 2;
			o.n_pids = (size_t)n;
			break;
		case OPT_CGROUP:
			o.cgroup = optarg;
			break;
		case 'o':
			o.output = optarg;
			break;
		case OPT_FORMAT:
			if (parse_out_format("record", optarg, &o.format))
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
		case OPT_KERNEL:
			o.user_stacks = false;
			break;
		case OPT_USER:
			o.kernel_stacks = false;
			break;
		case OPT_GROUP:
			if (strcmp(optarg, "process")) {
				usage_error("record", "cannot group by '%s' (process)", optarg);
				return 2;
			}
			o.group_by_process = true;
			break;
		case OPT_EVENT:
			if (!strcmp(optarg, "cycles")) {
				o.event = COLLECT_CYCLES;
			} else if (!strcmp(optarg, "cpu-clock")) {
				o.event = COLLECT_CPU_CLOCK;
			} else {
				usage_error("record", "unknown event '%s' (cpu-clock, cycles)", optarg);
				return 2;
			}
			break;
		case OPT_CPU:
			o.cpu = true;
			break;
		case OPT_HEAP:
			o.heap = true;
			break;
		case OPT_HEAP_RATE:
			if (parse__size(optarg, HEAP_MAX_RATE, &o.heap_rate)) {
				usage_error("record", "bad --heap-rate '%s' (bytes, or 512k, 1m; 0 records "
					    "every allocation)", optarg);
				return 2;
			}
			break;
		case OPT_HEAP_LIVE:
			if (parse__size(optarg, HEAP_MAX_LIVE, &size) || !size) {
				usage_error("record", "bad --heap-live '%s' (1-%u blocks)", optarg,
					    HEAP_MAX_LIVE);
				return 2;
			}
			o.heap_live = (uint32_t)size;
			break;
		case OPT_HEAP_MMAP:
			o.heap_mmap = true;
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
	if (!o.kernel_stacks && !o.user_stacks) {
		usage_error("record", "--kernel-only and --user-only exclude each other");
		return 2;
	}
	if (optind < argc)
		o.command = argv + optind;
	if (o.command && o.n_pids) {
		usage_error("record", "-p and a command exclude each other");
		return 2;
	}
	if (!o.heap)
		o.cpu = true;
	if ((o.heap_mmap || o.heap_rate != HEAP_DEFAULT_RATE || o.heap_live != HEAP_DEFAULT_LIVE) &&
	    !o.heap) {
		usage_error("record", "--heap-rate, --heap-live and --heap-mmap need --heap");
		return 2;
	}
	if (o.heap && !o.command && !o.n_pids) {
		usage_error("record", "--heap needs a target: -p PID or -- COMMAND");
		return 2;
	}
	if (o.heap && o.cgroup) {
		usage_error("record", "--heap follows processes, not a cgroup: use -p PID or a command");
		return 2;
	}
	/* A command runs to its end unless -d says otherwise. */
	if (!seconds_set)
		o.seconds = o.command ? 0 : RECORD_DEFAULT_SECONDS;
	if (o.format == FORMAT_AUTO) {
		const char *base = o.output ? strrchr(o.output, '/') : NULL;

		base = base ? base + 1 : o.output;
		o.format = base && strstr(base, ".folded") && !(o.cpu && o.heap) ? FORMAT_FOLDED
										: FORMAT_PPROF;
	}
	if (!o.output || (o.cpu && o.heap)) {
		if (!compress_set)
			o.compress = o.format == FORMAT_PPROF ? COMPRESS_GZIP : COMPRESS_NONE;
		suffix = o.format == FORMAT_PPROF ? compress__pprof_suffix(o.compress)
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
			o.compress = convert__output_compression(o.output, o.format);
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

static const struct command commands[] = {
	{ "convert", cmd_convert,
	  "convert IN [-o OUT] [--from pprof|folded|perf-script] [--to pprof|folded]\n"
	  "        [--compress gzip|zstd|none] [--level N] [--sample-type TYPE]\n"
	  "  Convert between pprof (gzip, zstd or plain), folded stacks and `perf script`\n"
	  "  text. The input format is detected unless --from is given; IN or OUT '-' is\n"
	  "  stdin/stdout. OUT defaults to IN's name with the output suffix (.pb.gz).\n"
	  "  Compression follows OUT's suffix (.gz .zst .pb) unless --compress is given;\n"
	  "  an OUT named *.folded* means --to folded." },
	{ "record", cmd_record,
	  "record [-F HZ] [-d DURATION] [-p PID[,PID...]] [--cgroup PATH] [-o FILE]\n"
	  "        [--format pprof|folded] [--compress gzip|zstd|none] [--level N]\n"
	  "        [--kernel-only|--user-only] [--group-by process] [--event cpu-clock|cycles]\n"
	  "        [--cpu] [--heap [--heap-rate BYTES] [--heap-live N] [--heap-mmap]] [-q]\n"
	  "        [-- COMMAND ARGS...]\n"
	  "  Sample CPU stacks (kernel and user) with eBPF and write a pprof profile.\n"
	  "  Whole system by default, 99 Hz for 10 s, to cpu.pb.gz. -p profiles those\n"
	  "  processes until -d or until they all exit; --cgroup one cgroup (v2) and\n"
	  "  its descendants; a COMMAND is started, profiled with its children until it\n"
	  "  exits (or -d), and its exit status reported. Ctrl-C ends the capture early\n"
	  "  and still writes it. DURATION: seconds, or 500ms, 2m, 1h. Needs root (or\n"
	  "  CAP_BPF + CAP_PERFMON).\n"
	  "  --heap profiles the allocations of -p PIDs or the COMMAND instead (uprobes on\n"
	  "  malloc, free and friends), to heap.pb.gz: alloc and inuse objects and bytes,\n"
	  "  sampled every --heap-rate bytes on average (default 524288 = 512k; 0: every\n"
	  "  allocation); --heap-mmap counts anonymous mmap/munmap calls too. --cpu --heap\n"
	  "  writes both, -o naming their directory." },
	{ "version", cmd_version, "version\n  Print the version of bpprof and of the libraries it links." },
	{ "help", cmd_help, "help [COMMAND]\n  Show usage." },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static int cmd_help(int argc, char **argv)
{
	size_t i;

	if (argc > 1) {
		for (i = 0; i < N_COMMANDS; i++)
			if (!strcmp(argv[1], commands[i].name)) {
				printf("usage: bpprof %s\n", commands[i].usage);
				return 0;
			}
		fprintf(stderr, "bpprof: no command '%s'\n", argv[1]);
		return 2;
	}
	printf("usage: bpprof [-q|--quiet] [-v|--verbose] COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < N_COMMANDS; i++)
		printf("  %s\n", commands[i].usage);
	return 0;
}

int main(int argc, char **argv)
{
	size_t i;
	int argi = 1;

	/* Past `ulimit -f`, a write should fail with EFBIG and be reported with
	 * the file's name, not kill us mid-write. */
	signal(SIGXFSZ, SIG_IGN);
	for (; argi < argc && argv[argi][0] == '-'; argi++) {
		if (!strcmp(argv[argi], "-q") || !strcmp(argv[argi], "--quiet"))
			log__set_level(LOG_ERROR);
		else if (!strcmp(argv[argi], "-v") || !strcmp(argv[argi], "--verbose"))
			log__set_level(LOG_DEBUG);
		else if (!strcmp(argv[argi], "-h") || !strcmp(argv[argi], "--help"))
			return cmd_help(1, argv);
		else if (!strcmp(argv[argi], "--version"))
			return cmd_version(1, argv);
		else {
			fprintf(stderr, "bpprof: unknown option '%s'\n", argv[argi]);
			return 2;
		}
	}
	if (argi >= argc) {
		cmd_help(1, argv);
		return 2;
	}
	for (i = 0; i < N_COMMANDS; i++)
		if (!strcmp(argv[argi], commands[i].name)) {
			optind = 1;
			return commands[i].run(argc - argi, argv + argi);
		}
	fprintf(stderr, "bpprof: unknown command '%s' (try 'bpprof help')\n", argv[argi]);
	return 2;
}
