/* The daemon's delivery queue: windows' profiles handed over by the capture
 * thread are encoded and pushed by a thread of their own, so a slow or
 * absent endpoint never stalls the capture. With a spool, a window waits in
 * memory only while one push is under way; any more go to the spool, as do
 * a window whose push failed and every window while the spool holds
 * anything, and the spool is sent in order once the endpoint answers.
 * Without one, a bounded queue and the pusher's retries. */
#ifndef BPPROF_EXPORT_SENDER_H
#define BPPROF_EXPORT_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errmsg.h"
#include "export/push.h"
#include "export/spool.h"

/* Without a spool, windows waiting in memory: at most this many, and this
 * much of their decoded profiles (about 7.5 times their encoded size). */
#define SENDER_QUEUE_MAX	64u
#define SENDER_QUEUE_MAX_BYTES	(64u << 20)
/* How long stopping may spend delivering what is left, by default: under
 * the 60 s a service manager gives (deploy/bpprof.service), with room for
 * the last window's capture. */
#define SENDER_STOP_TIMEOUT	20.0

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
	uint64_t bytes;			/* pushed: request bodies; spooled: the entry */
	struct push_result push;	/* attempts == 0: nothing was sent */
	const char *error;		/* why it was not pushed ("" when it was) */
	struct spool_stats spool;	/* after this */
};

struct sender_opts {
	struct push_opts push;
	const char *spool_dir;		/* NULL: no spool */
	uint64_t spool_max;
	double stop_timeout;		/* seconds; 0: SENDER_STOP_TIMEOUT */
	/* Called for every window's outcome, one call at a time, from the
	 * sender's thread or (a window spooled at once) the submitter's. */
	void (*on_report)(void *ctx, const struct sender_report *r);
	void *ctx;
};

struct sender;

/* Opens the spool (what a previous run left there is sent first) and starts
 * the thread. NULL with errno and e set. */
struct sender *sender__new(const struct sender_opts *o, struct errmsg *e);
/* Hand over one window: its profile (the sender's from here: it frees it,
 * also on failure), kind ("cpu", "heap") and what (copied). Windows are
 * numbered in the order they come, which the spool keeps. 0, or -ENOMEM. */
int sender__submit(struct sender *s, struct pprof_profile *profile, const char *kind,
		   const char *what);
/* Stop, within the stop timeout: windows still waiting go to the spool at
 * once (without one, each gets one attempt); the push under way and then
 * the spool get what is left of the timeout; then the thread ends.
 * NULL-safe. */
void sender__free(struct sender *s);

#endif
