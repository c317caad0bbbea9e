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

int cmd_run(int argc, char **argv)
{
	enum { OPT_INTERVAL = 256, OPT_SCHEDULE, OPT_RETAIN, OPT_RETAIN_AGE, OPT_PUSH, OPT_SPOOL,
	       OPT_SPOOL_MAX, OPT_METRICS, OPT_LOG_FILE };
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
	static uint32_t pids[RECORD_MAX_PIDS];
	static struct push_secrets secrets;
	static struct daemon_opts o = {
		.rec = {
			.freq = DAEMON_DEFAULT_FREQ,
			.level = COMPRESS_LEVEL_DEFAULT,
			.kernel_stacks = true,
			.user_stacks = true,
			.event = COLLECT_CPU_CLOCK,
			.pids = pids,
			.heap_rate = HEAP_DEFAULT_RATE,
			.heap_live = HEAP_DEFAULT_LIVE,
			.format = SINK_PPROF,
		},
		.interval = DAEMON_DEFAULT_INTERVAL,
		.out = { .compress = COMPRESS_GZIP, .level = COMPRESS_LEVEL_DEFAULT },
		.sender = { .push = { .retries = PUSH_DEFAULT_RETRIES }, .spool_max = RUN_DEFAULT_SPOOL_MAX },
	};
	struct push_opts *po = &o.sender.push;
	const char *schedule = NULL, *log_file = NULL;
	bool interval_set = false, has_host = false;
	struct errmsg e = { "" };
	static char host[256];
	int c, rc;
	size_t i;

	rc = config_args("run", long_opts, &argc, &argv);
	if (rc)
		return rc;
	while ((c = getopt_long(argc, argv, "+F:p:d:o:c:l:qh", long_opts, NULL)) != -1) {
		rc = capture_flag("run", c, optarg, &o.rec, pids);
		if (!rc)
			rc = push_flag("run", c, optarg, po, &secrets);
		if (rc == 2)
			return 2;
		if (rc)
			continue;
		switch (c) {
		case OPT_INTERVAL:
			if (parse__duration(optarg, 86400, &o.interval) || o.interval < DAEMON_MIN_INTERVAL) {
				usage_error("run", "bad --interval '%s' (1s to 1d)", optarg);
				return 2;
			}
			interval_set = true;
			break;
		case OPT_SCHEDULE:
			if (cron__parse(&o.cron, optarg, &e)) {
				usage_error("run", "--schedule '%s': %s", optarg, e.text);
				return 2;
			}
			schedule = optarg;
			break;
		case 'd':
			if (parse__duration(optarg, 86400, &o.duration)) {
				usage_error("run", "bad --duration '%s' (seconds, or 30s, 5m)", optarg);
				return 2;
			}
			break;
		case 'o':
			o.out.dir = optarg;
			break;
		case OPT_RETAIN: {
			int64_t v;

			if (parse__int64(optarg, 1, 1000000, &v)) {
				usage_error("run", "bad --retain '%s' (files per kind, 1 or more)", optarg);
				return 2;
			}
			o.out.retain = (unsigned)v;
			break;
		}
		case OPT_RETAIN_AGE:
			if (parse__duration(optarg, 3650 * 86400.0, &o.out.retain_age)) {
				usage_error("run", "bad --retain-age '%s' (such as 6h, 7d)", optarg);
				return 2;
			}
			break;
		case 'c':
			if (parse_compress("run", optarg, &o.out.compress))
				return 2;
			break;
		case 'l':
			if (parse_level("run", optarg, &o.out.level))
				return 2;
			break;
		case OPT_PUSH:
			po->url = optarg;
			o.push = true;
			break;
		case OPT_SPOOL:
			o.sender.spool_dir = optarg;
			break;
		case OPT_SPOOL_MAX:
			if (parse__size(optarg, 1ull << 40, &o.sender.spool_max) || !o.sender.spool_max) {
				usage_error("run", "bad --spool-max-bytes '%s' (such as 100m, 2g)", optarg);
				return 2;
			}
			break;
		case OPT_METRICS:
			o.metrics_addr = optarg;
			break;
		case OPT_LOG_FILE:
			log_file = optarg;
			break;
		case 'C':
			break;	/* read by config_args */
		case 'q':
			log__set_level(LOG_ERROR);
			break;
		case 'h':
			return cmd_help(2, (char *[]){ "help", "run", NULL });
		default:
			return 2;
		}
	}
	if (optind < argc)
		o.rec.command = argv + optind;
	if (capture_check("run", &o.rec))
		return 2;
	if (!o.out.dir && !o.push) {
		usage_error("run", "nowhere to send profiles: --output-dir DIR and/or --push URL");
		return 2;
	}
	if ((o.out.retain || o.out.retain_age) && !o.out.dir) {
		usage_error("run", "--retain and --retain-age need --output-dir");
		return 2;
	}
	if (o.sender.spool_dir && !o.push) {
		usage_error("run", "--spool-dir needs --push");
		return 2;
	}
	if (compress__check_level(o.out.compress, o.out.level)) {
		usage_error("run", "compression level %d is out of range for %s", o.out.level,
			    compress__name(o.out.compress));
		return 2;
	}
	o.scheduled = schedule != NULL;
	if (o.scheduled != (o.duration > 0)) {
		usage_error("run", "--schedule and --duration go together");
		return 2;
	}
	if (o.scheduled && (interval_set || o.rec.command)) {
		usage_error("run", "--schedule captures --duration at each match: no --interval and "
			    "no command");
		return 2;
	}
	if (o.push) {
		if (push_check("run", po))
			return 2;
		/* Every node's windows apart, unless told otherwise. */
		for (i = 0; i < po->n_labels; i++)
			has_host |= !strcmp(po->labels[i].name, "hostname");
		if (po->api != PUSH_API_HTTP && !has_host && po->n_labels < PUSH_MAX_LABELS &&
		    !gethostname(host, sizeof(host) - 1) &&
		    !push__check_label("hostname", host, NULL))
			po->labels[po->n_labels++] = (struct push_label){ "hostname", host };
	}
	if (log_file) {
		rc = log__open(log_file);
		if (rc) {
			pr_err("cannot open log file %s: %s", log_file, strerror(-rc));
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
