/* The sender thread: a FIFO of windows' profiles from the capture, one
 * pusher, one spool. A fresh window is encoded for the network only (gzip)
 * or, when it must wait, for the spool only (zstd). With a spool it gets
 * one attempt and then waits there; the spool's head gets one attempt at a
 * time, with a backoff between failed rounds (or the server's Retry-After),
 * so a long outage costs one request per round, not one per window.
 * Without a spool, a fresh window gets the pusher's retries.
 *
 * Two locks, never held together the other way round: lock guards the
 * queue and the flags; spool_lock the spool and every on_report call, which
 * may come from the submitting thread when it spools a window itself. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/log.h"
#include "export/sender.h"
#include "pprof/codec.h"

struct item {
	struct item *next;
	struct pprof_profile *profile;
	uint64_t seq;			/* the window's number, its place in the spool */
	size_t bytes;			/* the decoded profile's memory */
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
	size_t queued, queued_bytes;
	uint64_t next_seq;
	bool stopping;
	struct timespec stop_at;	/* CLOCK_MONOTONIC, once stopping */
	pthread_mutex_t spool_lock;
	/* the sender thread's own */
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

static size_t profile_bytes(const struct pprof_profile *p)
{
	return p->arena ? arena__used(p->arena) : pprof__encoded_size(p) * 8;
}

/* The pusher's wait between retries (without a spool), cut short when
 * stopping. */
static bool wait_or_stop(void *ctx, double seconds)
{
	struct sender *s = ctx;
	struct timespec until;
	bool stop;

	deadline(&until, seconds);
	pthread_mutex_lock(&s->lock);
	while (!(stop = s->stopping) &&
	       pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* Under spool_lock: every report is, so that they come one at a time. */
static void report(struct sender *s, struct sender_report *r, const struct errmsg *e)
{
	r->error = e ? e->text : "";
	if (s->spool)
		spool__stats(s->spool, &r->spool);
	if (s->o.on_report)
		s->o.on_report(s->o.ctx, r);
}

static size_t spool_entries(struct sender *s)
{
	struct spool_stats st = { 0 };

	if (s->spool) {
		pthread_mutex_lock(&s->spool_lock);
		spool__stats(s->spool, &st);
		pthread_mutex_unlock(&s->spool_lock);
	}
	return st.entries;
}

/* After a failed round the spool waits, doubling up to the cap, with
 * jitter so a fleet coming back does not knock all at once; longer when
 * the server said when to come back (Retry-After). */
static void back_off(struct sender *s, const struct push_result *last)
{
	double wait = http__backoff(s->o.push.retry_wait, s->rounds);

	deadline(&s->retry_at, last && last->retry_after > wait ? last->retry_after : wait);
	s->rounds += s->rounds < 64;
}

static bool out_of_time(struct sender *s)
{
	bool late;

	pthread_mutex_lock(&s->lock);
	late = s->stopping && reached(&s->stop_at);
	pthread_mutex_unlock(&s->lock);
	return late;
}

/* Send the spool's entries, oldest first, until one fails for now (or the
 * stop timeout is reached). Nothing older than the head can join the spool
 * meanwhile: the queue is empty while this runs, and whatever is submitted
 * now is newer. */
static void drain_spool(struct sender *s)
{
	char name[128];

	while (!out_of_time(s)) {
		struct sender_report r = { .what = name, .from_spool = true };
		struct errmsg e = { "" };
		int err;

		pthread_mutex_lock(&s->spool_lock);
		err = spool__peek(s->spool, &s->entry, name, sizeof(name), &e);
		pthread_mutex_unlock(&s->spool_lock);
		if (err == -ENOENT)
			break;
		if (err) {
			pr_warn("%s", e.text);
			back_off(s, NULL);
			return;
		}
		err = pusher__push(s->pusher, s->entry.data, s->entry.len, name, 0, &r.push, &e);
		if (err && r.push.transient) {
			back_off(s, &r.push);
			return;
		}
		r.outcome = err ? SENT_REFUSED : SENT_PUSHED;
		r.bytes = r.push.bytes;
		pthread_mutex_lock(&s->spool_lock);
		spool__pop(s->spool);
		report(s, &r, err ? &e : NULL);
		pthread_mutex_unlock(&s->spool_lock);
	}
	s->rounds = 0;
}

static int encode(void *profile, struct compress_writer *w, struct errmsg *e)
{
	return pprof__encode(profile, w, e);
}

/* Into the spool, or, without one or when it fails, dropped; reported
 * either way with why (e). Any thread. */
static void keep(struct sender *s, struct item *it, struct sender_report *r,
		 const struct errmsg *e)
{
	struct errmsg se = { "" };

	pthread_mutex_lock(&s->spool_lock);
	if (s->spool && !spool__put_fill(s->spool, it->seq, encode, it->profile, it->kind,
					 &r->bytes, &se)) {
		r->outcome = SENT_SPOOLED;
		report(s, r, e);
	} else {
		r->outcome = SENT_DROPPED;
		report(s, r, s->spool ? &se : e);
	}
	pthread_mutex_unlock(&s->spool_lock);
}

static void deliver(struct sender *s, struct item *it, bool last_try)
{
	struct sender_report r = { .what = it->what };
	struct errmsg e = { "" };
	int err;

	/* Order: nothing overtakes what waits in the spool. */
	if (spool_entries(s)) {
		errmsg__set(&e, -EAGAIN, "older windows wait in the spool");
		keep(s, it, &r, &e);
		return;
	}
	/* With a spool a failed window goes there at once and is retried from
	 * there: a window waiting in memory for its retries is lost to a
	 * crash or a kill. Without one, the retries are all it gets. */
	err = pusher__push_profile(s->pusher, it->profile, it->what,
				   last_try || s->spool ? 0 : s->o.push.retries, &r.push, &e);
	r.bytes = r.push.bytes;
	if (!err) {
		r.outcome = SENT_PUSHED;
	} else if (r.push.transient || err == -ECANCELED) {
		keep(s, it, &r, &e);
		if (r.outcome == SENT_SPOOLED && !s->rounds)
			back_off(s, &r.push);
		return;
	} else {
		r.outcome = SENT_REFUSED;
	}
	pthread_mutex_lock(&s->spool_lock);
	report(s, &r, err ? &e : NULL);
	pthread_mutex_unlock(&s->spool_lock);
}

static struct item *dequeue(struct sender *s)
{
	struct item *it = s->head;

	if (it) {
		s->head = it->next;
		if (!s->head)
			s->tail = NULL;
		s->queued--;
		s->queued_bytes -= it->bytes;
	}
	return it;
}

static void item__free(struct item *it)
{
	pprof__free(it->profile);
	free(it);
}

/* Under lock: the queue first (the spool drains only when it is empty, so
 * windows keep their order), then the spool when its backoff is over;
 * stopping, the spool once more while the stop timeout lasts. */
static void *run(void *arg)
{
	struct sender *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct item *it = dequeue(s);
		bool stopping = s->stopping, due;

		if (it) {
			pthread_mutex_unlock(&s->lock);
			deliver(s, it, stopping);
			item__free(it);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		due = stopping || reached(&s->retry_at);
		if (s->spool && due) {
			pthread_mutex_unlock(&s->lock);
			if (spool_entries(s))
				drain_spool(s);
			pthread_mutex_lock(&s->lock);
			if (s->head && !stopping)
				continue;
		}
		if (stopping)
			break;
		if (spool_entries(s) && !reached(&s->retry_at))
			pthread_cond_timedwait(&s->wake, &s->lock, &s->retry_at);
		else if (!s->head && !s->stopping)
			pthread_cond_wait(&s->wake, &s->lock);
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
	if (!(s->o.stop_timeout > 0))
		s->o.stop_timeout = SENDER_STOP_TIMEOUT;
	s->o.push.wait = wait_or_stop;
	s->o.push.wait_ctx = s;
	s->entry = BUF_INIT(SPOOL_MAX_ENTRY_BYTES);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->spool_lock, NULL);
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
		s->next_seq = spool__next_seq(s->spool);
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
	pthread_mutex_destroy(&s->spool_lock);
	pthread_mutex_destroy(&s->lock);
	free(s);
	errno = -err;
	return NULL;
}

/* Without a spool the queue is the only place to wait: bounded by count
 * and bytes, its oldest dropped (and said) past them. Under lock. */
static struct item *overflow(struct sender *s, const struct item *it)
{
	if (s->queued && (s->queued >= SENDER_QUEUE_MAX ||
			  s->queued_bytes + it->bytes > SENDER_QUEUE_MAX_BYTES))
		return dequeue(s);
	return NULL;
}

int sender__submit(struct sender *s, struct pprof_profile *profile, const char *kind,
		   const char *what)
{
	struct item *it = calloc(1, sizeof(*it)), *out = NULL;
	struct sender_report r = { 0 };
	struct errmsg e = { "" };
	bool behind_spool;

	if (!it) {
		pprof__free(profile);
		return -ENOMEM;
	}
	it->profile = profile;
	it->bytes = profile_bytes(profile);
	snprintf(it->kind, sizeof(it->kind), "%s", kind);
	snprintf(it->what, sizeof(it->what), "%s", what);
	behind_spool = spool_entries(s) > 0;
	pthread_mutex_lock(&s->lock);
	it->seq = s->next_seq++;
	if (s->spool && (behind_spool || s->stopping)) {
		/* it would only wait behind the spool: there at once */
		out = it;
		it = NULL;
		errmsg__set(&e, -EAGAIN, "older windows wait in the spool");
	} else if (s->spool && s->queued) {
		/* one push under way and one window waiting: the older goes to
		 * disk, where a kill or an OOM cannot take it */
		out = dequeue(s);
		errmsg__set(&e, -EAGAIN, "the endpoint is still busy with an earlier window");
	} else if (!s->spool) {
		out = overflow(s, it);
		errmsg__set(&e, -ENOBUFS, "%zu windows (%zu MiB) already wait to be sent, and "
			    "there is no spool", s->queued + 1, (s->queued_bytes + it->bytes) >> 20);
	}
	if (it) {
		if (s->tail)
			s->tail->next = it;
		else
			s->head = it;
		s->tail = it;
		s->queued++;
		s->queued_bytes += it->bytes;
	}
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (out) {
		r.what = out->what;
		keep(s, out, &r, &e);
		item__free(out);
	}
	return 0;
}

void sender__free(struct sender *s)
{
	struct item *waiting = NULL, *it;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	deadline(&s->stop_at, s->o.stop_timeout);
	pusher__set_deadline(s->pusher, (int64_t)s->stop_at.tv_sec * 1000000000 +
				       s->stop_at.tv_nsec);
	/* spool first: what waits goes to disk now, before anything is tried */
	if (s->spool) {
		waiting = s->head;
		s->head = s->tail = NULL;
		s->queued = s->queued_bytes = 0;
	}
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	while ((it = waiting)) {
		struct sender_report r = { .what = it->what };
		struct errmsg e;

		waiting = it->next;
		errmsg__set(&e, -EAGAIN, "stopping: kept for the next run");
		keep(s, it, &r, &e);
		item__free(it);
	}
	pthread_join(s->thread, NULL);
	spool__free(s->spool);
	pusher__free(s->pusher);
	buf__free(&s->entry);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->spool_lock);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
