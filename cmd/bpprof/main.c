/* bpprof: the command table. Each command parses its flags and makes one
 * call into pkg/. */
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

#include "base/log.h"
#include "base/parse.h"
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
	printf("  protobuf-c %s\n", protobuf_c_version());
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
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct convert_opts o = { .to = FORMAT_AUTO, .level = COMPRESS_LEVEL_DEFAULT };
	struct convert_result r;
	struct errmsg e = { "" };
	int64_t level;
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
			if (convert__parse_format(optarg, &o.to) ||
			    (o.to != FORMAT_PPROF && o.to != FORMAT_FOLDED)) {
				usage_error("convert", "cannot write format '%s' (pprof, folded)", optarg);
				return 2;
			}
			break;
		case 'c':
			if (compress__parse_kind(optarg, &o.compress)) {
				usage_error("convert", "unknown compression '%s' (gzip, zstd, none)", optarg);
				return 2;
			}
			o.compress_set = true;
			break;
		case 'l':
			if (parse__int64(optarg, -131072, 22, &level)) {
				usage_error("convert", "bad compression level '%s'", optarg);
				return 2;
			}
			o.level = (int)level;
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

static const struct command commands[] = {
	{ "convert", cmd_convert,
	  "convert IN [-o OUT] [--from pprof|folded|perf-script] [--to pprof|folded]\n"
	  "        [--compress gzip|zstd|none] [--level N] [--sample-type TYPE]\n"
	  "  Convert between pprof (gzip, zstd or plain), folded stacks and `perf script`\n"
	  "  text. The input format is detected unless --from is given; IN or OUT '-' is\n"
	  "  stdin/stdout. OUT defaults to IN's name with the output suffix (.pb.gz).\n"
	  "  Compression follows OUT's suffix (.gz .zst .pb) unless --compress is given;\n"
	  "  an OUT named *.folded* means --to folded." },
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
