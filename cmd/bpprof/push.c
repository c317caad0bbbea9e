/* bpprof push: send profile files to Pyroscope or a pprof endpoint. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "cmd/bpprof/cli.h"
#include "convert/pipeline.h"
#include "fileio/fileio.h"
#include "export/push.h"

int cmd_push(int argc, char **argv)
{
	static const struct option long_opts[] = {
		PUSH_LONG_OPTS,
		{ "url", required_argument, NULL, 'u' },
		{ "config", required_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct push_opts o = { .retries = PUSH_DEFAULT_RETRIES };
	static struct push_secrets secrets;
	struct pusher *p;
	struct errmsg e = { "" };
	unsigned failed = 0;
	int c, rc, i;

	rc = config_args("push", long_opts, &argc, &argv);
	if (rc)
		return rc;
	while ((c = getopt_long(argc, argv, ":u:qh", long_opts, NULL)) != -1) {
		rc = push_flag("push", c, optarg, &o, &secrets);
		if (rc == 2)
			return 2;
		if (rc)
			continue;
		switch (c) {
		case 'u':
			o.url = optarg;
			break;
		case 'C':
			break;	/* read by config_args */
		case 'q':
			log__set_level(LOG_ERROR);
			break;
		case 'h':
			return cmd_help(2, (char *[]){ "help", "push", NULL });
		default:
			return usage_getopt("push", c, argv, long_opts);
		}
	}
	if (!o.url) {
		usage_error("push", "--url is required");
		return 2;
	}
	if (optind == argc) {
		usage_error("push", "no profile to push");
		return 2;
	}
	if (push_check("push", &o))
		return 2;
	p = pusher__new(&o, &e);
	if (!p) {
		pr_err("%s", e.text);
		return 1;
	}
	for (i = optind; i < argc; i++) {
		struct buf data = BUF_INIT(CONVERT_MAX_INPUT_BYTES);
		struct push_result r;
		int err = fileio__read_all(argv[i], &data, &e);

		if (err) {
			struct errmsg why = e;

			errmsg__set(&e, err, "%s: %s", argv[i], why.text);
		} else {
			err = pusher__push(p, data.data, data.len, argv[i], o.retries, &r, &e);
		}
		buf__free(&data);
		if (err) {
			pr_err("%s", e.text);
			failed++;
			continue;
		}
		pr_info("%s: pushed to %s (HTTP %ld, %.0f ms%s)", argv[i], pusher__url(p), r.status,
			r.seconds * 1000, r.parts > 1 ? ", split by size" : "");
	}
	pusher__free(p);
	if (failed && argc - optind > 1)
		pr_err("%u of %d profiles were not pushed", failed, argc - optind);
	return failed ? 1 : 0;
}
