/* bpprof run: the continuous profiler's flags, then daemon/daemon. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "base/log.h"
#include "base/parse.h"
#include "cmd/bpprof/cli.h"
#include "collect/heap.h"

#define RUN_DEFAULT_SPOOL_MAX	(256ull << 20)

enum { OPT_INTERVAL = 256, OPT_SCHEDULE, OPT_RETAIN, OPT_RETAIN_AGE, OPT_PUSH, OPT_SPOOL,
       OPT_SPOOL_MAX, OPT_METRICS, OPT_LOG_FILE };

/* What the flags say beyond daemon_opts. */
struct run_flags {
	const char *schedule, *log_file;
	bool interval_set;
};

/* One of run's own flags: 0, or 2 after a usage error (help: 3). */
static int run_flag(int c, const char *arg, struct daemon_opts *o, struct run_flags *f)
{
	struct errmsg e = { "" };
	int64_t v;

	switch (c) {
	case OPT_INTERVAL:
		if (parse__duration(arg, 86400, &o->interval) || o->interval < DAEMON_MIN_INTERVAL) {
			usage_error("run", "bad --interval '%s' (1s to 1d)", arg);
			return 2;
		}
		f->interval_set = true;
		return 0;
	case OPT_SCHEDULE:
		if (cron__parse(&o->cron, arg, &e)) {
			usage_error("run", "--schedule '%s': %s", arg, e.text);
			return 2;
		}
		f->schedule = arg;
		return 0;
	case 'd':
		if (parse__duration(arg, 86400, &o->duration)) {
			usage_error("run", "bad --duration '%s' (seconds, or 30s, 5m)", arg);
			return 2;
		}
		return 0;
	case 'o':
		o->out.dir = arg;
		return 0;
	case OPT_RETAIN:
		if (parse__int64(arg, 1, 1000000, &v)) {
			usage_error("run", "bad --retain '%s' (files per kind, 1 or more)", arg);
			return 2;
		}
		o->out.retain = (unsigned)v;
		return 0;
	case OPT_RETAIN_AGE:
		if (parse__duration(arg, 3650 * 86400.0, &o->out.retain_age)) {
			usage_error("run", "bad --retain-age '%s' (such as 6h, 7d)", arg);
			return 2;
		}
		return 0;
	case 'c':
		return parse_compress("run", arg, &o->out.compress);
	case 'l':
		return parse_level("run", arg, &o->out.level);
	case OPT_PUSH:
		o->sender.push.url = arg;
		o->push = true;
		return 0;
	case OPT_SPOOL:
		o->sender.spool_dir = arg;
		return 0;
	case OPT_SPOOL_MAX:
		if (parse__size(arg, 1ull << 40, &o->sender.spool_max) || !o->sender.spool_max) {
			usage_error("run", "bad --spool-max-bytes '%s' (such as 100m, 2g)", arg);
			return 2;
		}
		return 0;
	case OPT_METRICS:
		o->metrics_addr = arg;
		return 0;
	case OPT_LOG_FILE:
		f->log_file = arg;
		return 0;
	case 'C':
		return 0;	/* read by config_args */
	case 'q':
		log__set_level(LOG_ERROR);
		return 0;
	case 'h':
		return 3;
	}
	return 2;
}

/* The checks once all flags are in: 0, or 2 after a usage error. */
static int run_check(struct daemon_opts *o, const struct run_flags *f)
{
	struct push_opts *po = &o->sender.push;
	static char host[256];
	bool has_host = false;
	size_t i;

	if (capture_check("run", &o->rec))
		return 2;
	if (!o->out.dir && !o->push) {
		usage_error("run", "nowhere to send profiles: --output-dir DIR and/or --push URL");
		return 2;
	}
	if ((o->out.retain || o->out.retain_age) && !o->out.dir) {
		usage_error("run", "--retain and --retain-age need --output-dir");
		return 2;
	}
	if (o->sender.spool_dir && !o->push) {
		usage_error("run", "--spool-dir needs --push");
		return 2;
	}
	if (compress__check_level(o->out.compress, o->out.level)) {
		usage_error("run", "compression level %d is out of range for %s", o->out.level,
			    compress__name(o->out.compress));
		return 2;
	}
	o->scheduled = f->schedule != NULL;
	if (o->scheduled != (o->duration > 0)) {
		usage_error("run", "--schedule and --duration go together");
		return 2;
	}
	if (o->scheduled && (f->interval_set || o->rec.command)) {
		usage_error("run", "--schedule captures --duration at each match: no --interval and "
			    "no command");
		return 2;
	}
	if (!o->push)
		return 0;
	if (push_check("run", po))
		return 2;
	/* Every node's windows apart, unless told otherwise. */
	for (i = 0; i < po->n_labels; i++)
		has_host |= !strcmp(po->labels[i].name, "hostname");
	if (po->api != PUSH_API_HTTP && !has_host && po->n_labels < PUSH_MAX_LABELS &&
	    !gethostname(host, sizeof(host) - 1) && !push__check_label("hostname", host, NULL))
		po->labels[po->n_labels++] = (struct push_label){ "hostname", host };
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option long_opts[] = {
		CAPTURE_LONG_OPTS,
		PUSH_LONG_OPTS,
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "schedule", required_argument, NULL, OPT_SCHEDULE },
		{ "duration", required_argument, NULL, 'd' },
		{ "output-dir", required_argument, NULL, 'o' },
		{ "retain", required_argument, NULL, OPT_RETAIN },
		{ "retain-age", required_argument, NULL, OPT_RETAIN_AGE },
		{ "compress", required_argument, NULL, 'c' },
		{ "level", required_argument, NULL, 'l' },
		{ "push", required_argument, NULL, OPT_PUSH },
		{ "spool-dir", required_argument, NULL, OPT_SPOOL },
		{ "spool-max-bytes", required_argument, NULL, OPT_SPOOL_MAX },
		{ "metrics-addr", required_argument, NULL, OPT_METRICS },
		{ "log-file", required_argument, NULL, OPT_LOG_FILE },
		{ "config", required_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static uint32_t pids[CAPTURE_MAX_PIDS];
	static struct push_secrets secrets;
	static struct daemon_opts o = {
		.rec = {
			.freq = DAEMON_DEFAULT_FREQ,
			.kernel_stacks = true,
			.user_stacks = true,
			.event = COLLECT_CPU_CLOCK,
			.pids = pids,
			.heap_rate = HEAP_DEFAULT_RATE,
			.heap_live = HEAP_DEFAULT_LIVE,
		},
		.interval = DAEMON_DEFAULT_INTERVAL,
		.out = { .compress = COMPRESS_GZIP, .level = COMPRESS_LEVEL_DEFAULT },
		.sender = { .push = { .retries = PUSH_DEFAULT_RETRIES }, .spool_max = RUN_DEFAULT_SPOOL_MAX },
	};
	struct run_flags f = { NULL, NULL, false };
	struct errmsg e = { "" };
	int c, rc;

	rc = config_args("run", long_opts, &argc, &argv);
	if (rc)
		return rc;
	while ((c = getopt_long(argc, argv, "+:F:p:d:o:c:l:qh", long_opts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return usage_getopt("run", c, argv, long_opts);
		rc = capture_flag("run", c, optarg, &o.rec, pids);
		if (!rc)
			rc = push_flag("run", c, optarg, &o.sender.push, &secrets);
		if (!rc)
			rc = run_flag(c, optarg, &o, &f);
		if (rc == 3)
			return cmd_help(2, (char *[]){ "help", "run", NULL });
		if (rc == 2)
			return 2;
	}
	if (optind < argc)
		o.rec.command = argv + optind;
	if (run_check(&o, &f))
		return 2;
	if (f.log_file) {
		rc = log__open(f.log_file);
		if (rc) {
			pr_err("cannot open log file %s: %s", f.log_file, strerror(-rc));
			return 1;
		}
	}
	rc = daemon__run(&o, &e);
	if (rc) {
		pr_err("%s", e.text);
		return 1;
	}
	return 0;
}
