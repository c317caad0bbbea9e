/* The daemon's delivery queue: windows' profiles handed over by the capture
 * thread are encoded and pushed by a thread of their own, so a slow or
 * absent endpoint never stalls the capture. A window that cannot be
 * delivered waits in the spool (when there is one) and goes out in order
 * once the endpoint answers; while the spool holds anything, newer windows
 * queue behind it. */
#ifndef BPPROF_EXPORT_SENDER_H
#define BPPROF_EXPORT_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errmsg.h"
#include "export/push.h"
#include "export/spool.h"

#define SENDER_QUEUE_MAX	64u	/* windows waiting in memory */

struct pprof_profile;

enum sender_outcome {
	SENT_PUSHED,		/* accepted by the endpoint */
	SENT_SPOOLED,		/* not delivered yet: in the spool */
	SENT_REFUSED,		/* refused for good (4xx, a bad profile): dropped */
	SENT_DROPPED,		/* not delivered and nowhere to keep it */
};

struct sender_report {
	const char *what;		/* the window's description, or the spool entry */
	enum sender_outcome outcome;
	bool from_spool;
	struct push_result push;	/* attempts == 0: nothing was sent */
	const char *error;		/* why it was not pushed ("" when it was) */
	struct spool_stats spool;	/* after this */
};

struct sender_opts {
	struct push_opts push;
	const char *spool_dir;		/* NULL: no spool */
	uint64_t spool_max;
	/* Called on the sender's thread for every window's outcome. */
	void (*on_report)(void *ctx, const struct sender_report *r);
	void *ctx;
};

struct sender;

/* Opens the spool (what a previous run left there is sent first) and starts
 * the thread. NULL with errno and e set. */
struct sender *sender__new(const struct sender_opts *o, struct errmsg *e);
/* Hand over one window: its profile (the sender's from here: it frees it,
 * also on failure), kind ("cpu", "heap") and what (copied). 0, or -ENOMEM. */
int sender__submit(struct sender *s, struct pprof_profile *profile, const char *kind,
		   const char *what);
/* Stop: windows still queued get one attempt each and, failing that, go to
 * the spool; then the thread ends. NULL-safe. */
void sender__free(struct sender *s);

#endif
