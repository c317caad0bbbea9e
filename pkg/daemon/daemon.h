/* bpprof run: the continuous profiler. Captures windows (every interval,
 * or for a duration at each minute a cron schedule matches), writes them
 * to a directory and/or pushes them, serves self-metrics, and on SIGTERM
 * or SIGINT flushes the window in progress and returns 0. */
#ifndef BPPROF_AGENT_DAEMON_H
#define BPPROF_AGENT_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/cron.h"
#include "capture/capture.h"
#include "base/errmsg.h"
#include "export/outdir.h"
#include "export/sender.h"

#define DAEMON_DEFAULT_FREQ	19u
#define DAEMON_DEFAULT_INTERVAL	15.0
#define DAEMON_MIN_INTERVAL	1.0

struct daemon_opts {
	struct capture_opts rec;		/* what to capture; its outputs are unused */
	double interval;		/* seconds per window */
	bool scheduled;			/* capture `duration` at each match of cron */
	struct cron cron;
	double duration;
	struct outdir_opts out;		/* out.dir NULL: no files */
	bool push;			/* sender.push.url set */
	struct sender_opts sender;
	const char *metrics_addr;	/* NULL: no /metrics */
};

/* Runs until SIGTERM/SIGINT (0), or until it cannot go on (negative errno,
 * e says why). Every window is logged in one line. */
int daemon__run(const struct daemon_opts *o, struct errmsg *e);

#endif
