/* bpprof push: send profile files to Pyroscope or a pprof endpoint; what
 * is not pprof (anything convert reads) is converted on the way. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "cmd/bpprof/cli.h"
#include "convert/pipeline.h"
#include "fileio/fileio.h"
#include "export/push.h"
#include "pprof/codec.h"

#define NSEC_PER_SEC 1000000000LL

static int buf_sink(void *ctx, const void *p, size_t n)
{
	return buf__append(ctx, p, n);
}

/* The bytes to push for a file: its own when they are pprof (the pusher
 * reads them as they are), else what convert reads them as, encoded here;
 * symbolized first when asked. data is replaced. */
static int push_bytes(struct buf *data, bool symbolize, struct errmsg *e)
{
	struct buf raw = BUF_INIT(PPROF_MAX_DECODED_BYTES), out = BUF_INIT(PPROF_MAX_DECODED_BYTES);
	const struct buf *in = data;
	struct pprof_profile *p = NULL;
	struct compress_writer *w;
	int err = 0;

	/* undecodable compressed bytes are the pusher's to refuse, as before */
	if (compress__detect(data->data, data->len) != COMPRESS_NONE) {
		if (compress__decode(data->data, data->len, &raw, e))
			goto out;
		in = &raw;
	}
	if (!symbolize && convert__detect(in->data, in->len) == FORMAT_PPROF)
		goto out;
	err = convert__read(in->data, in->len, FORMAT_AUTO, &p, NULL, e);
	if (!err && symbolize)
		err = convert__symbolize(p, e);
	if (err)
		goto out;
	/* text formats carry no time: the profile is the push's, as Pyroscope
	 * wants one within the last hour */
	if (!p->pb->time_nanos) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		p->pb->time_nanos = (int64_t)now.tv_sec * NSEC_PER_SEC + now.tv_nsec;
	}
	w = compress_writer__new(COMPRESS_NONE, COMPRESS_LEVEL_DEFAULT, buf_sink, &out);
	if (!w) {
		err = errmsg__set(e, -ENOMEM, "out of memory");
		goto out;
	}
	err = pprof__encode(p, w, e);
	if (!err)
		err = compress_writer__finish(w);
	compress_writer__free(w);
	if (!err) {
		buf__free(data);
		*data = out;
		out = BUF_INIT(0);
	}
out:
	pprof__free(p);
	buf__free(&raw);
	buf__free(&out);
	return err;
}

int cmd_push(int argc, char **argv)
{
	static const struct option long_opts[] = {
		PUSH_LONG_OPTS,
		{ "url", required_argument, NULL, 'u' },
		{ "config", required_argument, NULL, 'C' },
		{ "symbolize", no_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct push_opts o = { .retries = PUSH_DEFAULT_RETRIES };
	static struct push_secrets secrets;
	struct pusher *p;
	struct errmsg e = { "" };
	unsigned failed = 0;
	bool symbolize = false;
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
		case 'S':
			symbolize = true;
			break;
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

		if (!err)
			err = push_bytes(&data, symbolize, &e);
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
