/* The sender thread: a FIFO of windows' profiles from the capture, one
 * pusher, one spool. Fresh windows get the pusher's retries and are encoded
 * for the network only (gzip) or, when they must wait, for the spool only
 * (zstd); the spool's head gets one attempt at a time, with a backoff
 * between failed rounds, so a long outage costs one request per round, not
 * one per window. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "export/sender.h"
#include "pprof/codec.h"

struct item {
	struct item *next;
	struct pprof_profile *profile;
	char kind[8];
	char what[160];
};

struct sender {
	struct sender_opts o;
	struct pusher *pusher;
	struct spool *spool;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct item *head, *tail;	/* under lock */
	size_t queued;
	bool stopping;
	unsigned rounds;		/* failed spool rounds in a row */
	struct timespec retry_at;	/* CLOCK_MONOTONIC */
	struct buf entry;		/* a spool entry, decompressed */
};

static void deadline(struct timespec *t, double seconds)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += (time_t)seconds;
	t->tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

static bool reached(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* The pusher's wait between retries: cut short by sender__free. */
static bool wait_or_stop(void *ctx, double seconds)
{
	struct sender *s = ctx;
	struct timespec until;
	bool stop;

	deadline(&until, seconds);
	pthread_mutex_lock(&s->lock);
	while (!s->stopping && pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT)
		;
	stop = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static void report(struct sender *s, struct sender_report *r, const struct errmsg *e)
{
	r->error = e ? e->text : "";
	if (s->spool)
		spool__stats(s->spool, &r->spool);
	if (s->o.on_report)
		s->o.on_report(s->o.ctx, r);
}

/* After a failed round the spool waits, doubling up to the cap, with
 * jitter so a fleet coming back does not knock all at once. */
static void back_off(struct sender *s)
{
	deadline(&s->retry_at, http__backoff(s->o.push.retry_wait, s->rounds));
	s->rounds += s->rounds < 64;
}

/* Send the spool's entries, oldest first, until one fails for now. */
static void drain_spool(struct sender *s)
{
	char name[128];

	for (;;) {
		struct sender_report r = { .what = name, .from_spool = true };
		struct errmsg e = { "" };
		int err = spool__peek(s->spool, &s->entry, name, sizeof(name), &e);

		if (err == -ENOENT)
			break;
		if (err) {
			pr_warn("%s", e.text);
			back_off(s);
			return;
		}
		err = pusher__push(s->pusher, s->entry.data, s->entry.len, name, 0, &r.push, &e);
		if (err && r.push.transient) {
			back_off(s);
			return;
		}
		spool__pop(s->spool);
		r.outcome = err ? SENT_REFUSED : SENT_PUSHED;
		report(s, &r, err ? &e : NULL);
	}
	s->rounds = 0;
}

static bool spool_empty(struct sender *s)
{
	struct spool_stats st;

	if (!s->spool)
		return true;
	spool__stats(s->spool, &st);
	return !st.entries;
}

static int encode(void *profile, struct compress_writer *w, struct errmsg *e)
{
	return pprof__encode(profile, w, e);
}

static void keep(struct sender *s, struct item *it, struct sender_report *r, struct errmsg *e)
{
	struct errmsg se = { "" };

	if (s->spool && !spool__put_fill(s->spool, encode, it->profile, it->kind, &se)) {
		r->outcome = SENT_SPOOLED;
		report(s, r, e);
		return;
	}
	r->outcome = SENT_DROPPED;
	if (s->spool)
		e = &se;
	report(s, r, e);
}

static void deliver(struct sender *s, struct item *it, bool last_try)
{
	struct sender_report r = { .what = it->what };
	struct errmsg e = { "" };
	int err;

	/* Order: nothing overtakes what waits in the spool. */
	if (!spool_empty(s)) {
		errmsg__set(&e, -EAGAIN, "older windows wait in the spool");
		keep(s, it, &r, &e);
		if (reached(&s->retry_at) || last_try)
			drain_spool(s);
		return;
	}
	err = pusher__push_profile(s->pusher, it->profile, it->what,
				   last_try ? 0 : s->o.push.retries, &r.push, &e);
	if (!err) {
		r.outcome = SENT_PUSHED;
		report(s, &r, NULL);
	} else if (r.push.transient || err == -ECANCELED) {
		keep(s, it, &r, &e);
		if (r.outcome == SENT_SPOOLED && !s->rounds)
			back_off(s);
	} else {
		r.outcome = SENT_REFUSED;
		report(s, &r, &e);
	}
}

static void *run(void *arg)
{
	struct sender *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct item *it = s->head;

		if (it) {
			bool last_try = s->stopping;

			s->head = it->next;
			if (!s->head)
				s->tail = NULL;
			s->queued--;
			pthread_mutex_unlock(&s->lock);
			deliver(s, it, last_try);
			pprof__free(it->profile);
			free(it);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		if (s->stopping)
			break;
		if (!spool_empty(s)) {
			if (reached(&s->retry_at)) {
				pthread_mutex_unlock(&s->lock);
				drain_spool(s);
				pthread_mutex_lock(&s->lock);
				continue;
			}
			pthread_cond_timedwait(&s->wake, &s->lock, &s->retry_at);
		} else {
			pthread_cond_wait(&s->wake, &s->lock);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

struct sender *sender__new(const struct sender_opts *o, struct errmsg *e)
{
	struct sender *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	int err;

	if (!s) {
		errmsg__set(e, -ENOMEM, "out of memory");
		return NULL;
	}
	s->o = *o;
	if (!s->o.push.retry_wait)
		s->o.push.retry_wait = PUSH_DEFAULT_RETRY_WAIT;
	s->o.push.wait = wait_or_stop;
	s->o.push.wait_ctx = s;
	s->entry = BUF_INIT(SPOOL_MAX_ENTRY_BYTES);
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	clock_gettime(CLOCK_MONOTONIC, &s->retry_at);
	s->pusher = pusher__new(&s->o.push, e);
	if (!s->pusher) {
		err = -errno;
		goto fail;
	}
	if (o->spool_dir) {
		s->spool = spool__open(o->spool_dir, o->spool_max, e);
		if (!s->spool) {
			err = -errno;
			goto fail;
		}
	}
	err = -pthread_create(&s->thread, NULL, run, s);
	if (err) {
		errmsg__set(e, err, "cannot start the sender thread: %s", strerror(-err));
		goto fail;
	}
	return s;

fail:
	spool__free(s->spool);
	pusher__free(s->pusher);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
	errno = -err;
	return NULL;
}

int sender__submit(struct sender *s, struct pprof_profile *profile, const char *kind,
		   const char *what)
{
	struct item *it = calloc(1, sizeof(*it)), *old = NULL;

	if (!it) {
		pprof__free(profile);
		return -ENOMEM;
	}
	it->profile = profile;
	snprintf(it->kind, sizeof(it->kind), "%s", kind);
	snprintf(it->what, sizeof(it->what), "%s", what);
	pthread_mutex_lock(&s->lock);
	if (s->queued >= SENDER_QUEUE_MAX) {	/* the endpoint is far behind */
		old = s->head;
		s->head = old->next;
		s->queued--;
	}
	if (s->tail)
		s->tail->next = it;
	else
		s->head = it;
	s->tail = it;
	s->queued++;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (old) {
		struct sender_report r = { .what = old->what, .outcome = SENT_DROPPED };
		struct errmsg e;

		/* On this thread the spool is not ours to read: no stats. */
		errmsg__set(&e, -ENOBUFS, "%u windows already wait to be sent", SENDER_QUEUE_MAX);
		r.error = e.text;
		if (s->o.on_report)
			s->o.on_report(s->o.ctx, &r);
		pprof__free(old->profile);
		free(old);
	}
	return 0;
}

void sender__free(struct sender *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	spool__free(s->spool);
	pusher__free(s->pusher);
	buf__free(&s->entry);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
