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

#include <curl/curl.h>
#include <microhttpd.h>
#include <protobuf-c/protobuf-c.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <bpf/libbpf.h>

#include "base/log.h"
#include "base/parse.h"
#include "cmd/bpprof/cli.h"
#include "convert/pipeline.h"
#include "version.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static int cmd_version(int argc, char **argv)
{
	const curl_version_info_data *curl;
	const char *mhd;

	/* "bpprof --version" comes here too, with the rest of its line */
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return cmd_help(2, (char *[]){ "help", "version", NULL });
	if (argc > 1) {
		usage_error("version", "takes no arguments ('%s')", argv[1]);
		return EXIT_USAGE;
	}
	printf("bpprof %s\n", BPPROF_VERSION);
	printf("  libbpf %u.%u\n", libbpf_major_version(), libbpf_minor_version());
	printf("  protobuf-c %s\n", protobuf_c_version());
	/* opened only here and when pushing or serving: NULL if they cannot be */
	curl = curl_version_info(CURLVERSION_NOW);
	mhd = MHD_get_version();
	printf("  libcurl %s\n", curl ? curl->version : "(not loadable)");
	printf("  libmicrohttpd %s\n", mhd ? mhd : "(not loadable)");
	printf("  zlib %s\n", zlibVersion());
	printf("  zstd %s\n", ZSTD_versionString());
	printf("  xxhash %u.%u.%u\n", XXH_versionNumber() / 10000, XXH_versionNumber() / 100 % 100,
	       XXH_versionNumber() % 100);
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
		{ "symbolize", no_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct convert_opts o = { .to = FORMAT_AUTO, .level = COMPRESS_LEVEL_DEFAULT };
	struct convert_result r;
	struct errmsg e = { "" };
	int c;

	while ((c = getopt_long(argc, argv, ":o:f:t:c:l:s:qh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.output = optarg;
			break;
		case 'f':
			if (convert__parse_format(optarg, &o.from)) {
				usage_error("convert", "unknown input format '%s' (%s)", optarg,
					    convert__format_list());
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
		case 'S':
			o.symbolize = true;
			break;
		case 'q':
			log__set_level(LOG_ERROR);
			break;
		case 'h':
			return cmd_help(2, (char *[]){ "help", "convert", NULL });
		default:
			return usage_getopt("convert", c, argv, long_opts);
		}
	}
	if (optind != argc - 1) {
		usage_error("convert", "%s", optind >= argc ? "needs one input file (or - for stdin)"
							     : "takes exactly one input file");
		return 2;
	}
	o.input = argv[optind];
	/* as gzip does: a terminal shows text, not compressed bytes */
	if (convert__binary_to_stdout(&o) && isatty(STDOUT_FILENO)) {
		usage_error("convert", "pprof and compressed output is not written to a terminal: "
			    "name a file with -o, or pipe it");
		return EXIT_USAGE;
	}
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


static const struct command commands[] = {
	{ "convert", cmd_convert,
	  "convert IN [-o OUT] [--from FORMAT] [--to pprof|folded]\n"
	  "        [--compress gzip|zstd|none] [--level N] [--sample-type TYPE] [--symbolize] [-q]\n"
	  "  Convert pprof (gzip, zstd or plain), folded stacks, `perf script` text or a\n"
	  "  legacy profile go tool pprof reads to pprof or folded stacks. The input\n"
	  "  format is detected unless --from is given: pprof, folded, perf-script,\n"
	  "  gperftools-cpu, heap-text, contention-text, go-count, threadz, java.\n"
	  "  IN or OUT '-' is stdin/stdout. OUT defaults to IN's name with the output\n"
	  "  suffix (.pb.gz). Compression follows OUT's suffix (.gz .zst .pb) unless\n"
	  "  --compress is given; an OUT named *.folded* means --to folded. --symbolize\n"
	  "  names unnamed addresses from the ELF files the mappings name." },
	{ "record", cmd_record,
	  "record [-F HZ] [-d DURATION] [-p PID[,PID...]] [--cgroup PATH] [-o FILE]\n"
	  "        [--format pprof|folded] [--compress gzip|zstd|none] [--level N]\n"
	  "        [--kernel-only|--user-only] [--group-by process] [--event cpu-clock|cycles]\n"
	  "        [--cpu] [--off-cpu [--off-cpu-min D]] [--heap [--heap-rate BYTES]\n"
	  "        [--heap-live N] [--heap-mmap] [--heap-mode preload|uprobe]] [--no-lines]\n"
	  "        [--cache-dir DIR|off] [--unwind auto|dwarf|fp] [--unwind-memory SIZE] [-q]\n"
	  "        [-- COMMAND ARGS...]\n"
	  "  Sample CPU stacks (kernel and user) with eBPF and write a pprof profile.\n"
	  "  Whole system by default, 99 Hz for 10 s, to cpu.pb.gz. -p profiles those\n"
	  "  processes until -d or until they all exit; --cgroup one cgroup (v2) and\n"
	  "  its descendants; a COMMAND is started, profiled with its children until it\n"
	  "  exits (or -d), and its exit status reported. Ctrl-C ends the capture early\n"
	  "  and still writes it. DURATION: seconds, or 500ms, 2m, 1h. Needs root (or\n"
	  "  CAP_BPF + CAP_PERFMON).\n"
	  "  --heap profiles the allocations of -p PIDs or the COMMAND instead, to\n"
	  "  heap.pb.gz: alloc and inuse objects and bytes, sampled every --heap-rate bytes\n"
	  "  on average (default 524288 = 512k; 0: every allocation). A COMMAND is sampled\n"
	  "  in its own process by a preload library (a few per cent slower); -p PIDs,\n"
	  "  static, setuid and non-glibc programs by uprobes on malloc, free and friends\n"
	  "  (every call traps: hundreds of times slower); --heap-mode forces one.\n"
	  "  --heap-mmap (uprobe mode) counts anonymous mmap/munmap calls too. --cpu --heap\n"
	  "  writes both, -o naming their directory.\n"
	  "  --off-cpu records where threads wait off the CPU (blocked, sleeping, or\n"
	  "  runnable and waiting for a CPU), to offcpu.pb.gz: off_cpu_samples (waits)\n"
	  "  and off_cpu nanoseconds per stack, the thread state as label `state`;\n"
	  "  waits shorter than --off-cpu-min (default 1ms; 0: all) are only counted.\n"
	  "  --cpu --off-cpu writes one profile with samples, cpu and off_cpu.\n"
	  "  User frames get source lines and inline frames from DWARF debug info (the\n"
	  "  binary's, or a debug file by build-id or .gnu_debuglink); --no-lines: names only.\n"
	  "  Compressed debug sections are kept inflated in --cache-dir for the next run\n"
	  "  (root: /var/cache/bpprof; else ~/.cache/bpprof; 512 MiB; off: not kept).\n"
	  "  --unwind: user stacks from the .eh_frame unwind tables where a file has them\n"
	  "  and frame pointers elsewhere (auto, the default), tables only (dwarf), or\n"
	  "  frame pointers only (fp). --unwind-memory: the tables' kernel memory (64m)." },
	{ "run", cmd_run,
	  "run [--cpu] [--off-cpu [--off-cpu-min D]] [--heap -p PID...] [-F HZ]\n"
	  "        [--interval D | --schedule 'CRON' -d D]\n"
	  "        [-o|--output-dir DIR [--retain N] [--retain-age D] [--compress K]]\n"
	  "        [--push URL [PUSH FLAGS] [--spool-dir DIR [--spool-max-bytes N]]\n"
	  "        [--stop-timeout D]]\n"
	  "        [--metrics-addr [HOST:]PORT] [--log-file FILE] [--no-lines] [--cache-dir DIR|off]\n"
	  "        [--config FILE] [-- COMMAND]\n"
	  "  Profile continuously: a window every --interval (default 15s) at 19 Hz, or a\n"
	  "  capture of -d D at each minute a 5-field cron --schedule matches. Windows go\n"
	  "  to DIR (cpu-TIME.pb.gz, offcpu-TIME.pb.gz, heap-TIME.pb.gz) and/or are\n"
	  "  pushed (off-CPU as its own profile type, off_cpu); what cannot be\n"
	  "  delivered waits in the spool, in order, across restarts. SIGTERM or SIGINT\n"
	  "  ends the window in progress, spools what waits, sends what it can within\n"
	  "  --stop-timeout (20s) and exits 0; SIGHUP reopens --log-file.\n"
	  "  --config FILE holds any flag as `name = value`. /metrics (Prometheus) on\n"
	  "  --metrics-addr, loopback unless a host is given." },
	{ "push", cmd_push,
	  "push FILE... --url URL [--api ingest|push|http] [--ingest-raw] [--app NAME]\n"
	  "        [--label K=V]... [--tenant ID] [--basic-auth U:P | --basic-auth-file F |\n"
	  "        --bearer T | --bearer-file F] [--header 'K: V']... [--content-type T]\n"
	  "        [--ca-file F] [--cert F --key F] [--insecure-skip-verify] [--timeout D]\n"
	  "        [--retries N] [--retry-wait D] [--config FILE] [--symbolize]\n"
	  "  Push profiles to Pyroscope's /ingest (default; multipart, or --ingest-raw),\n"
	  "  its push.v1 Push API, or any endpoint taking pprof (--api http): pprof\n"
	  "  (gzip, zstd or plain) as it is, anything convert reads converted to it\n"
	  "  (--symbolize: named from the files its mappings name first). Network\n"
	  "  errors, 429 and 5xx are retried with backoff;\n"
	  "  other refusals are not. BPPROF_BASIC_AUTH and BPPROF_BEARER_TOKEN give\n"
	  "  credentials too. Exit status 1 when any file was not accepted." },
	{ "version", cmd_version, "version\n  Print the version of bpprof and of the libraries it links." },
	{ "help", cmd_help, "help [COMMAND]\n  Show usage." },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

int cmd_help(int argc, char **argv)
{
	size_t i;

	if (argc > 1 && strcmp(argv[1], "-h") && strcmp(argv[1], "--help")) {
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
			return cmd_version(argc - argi, argv + argi);
		else {
			fprintf(stderr, "bpprof: unknown option '%s'\nTry 'bpprof help'.\n", argv[argi]);
			return EXIT_USAGE;
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
