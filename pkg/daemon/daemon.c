/* The daemon: record's capture loop cutting windows, and the sinks each
 * window goes to. The capture thread encodes a window only for its file;
 * the sender thread takes the profile itself and encodes it for the network
 * (or the spool), so a slow endpoint never holds up sampling and no window
 * is decoded again. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "daemon/daemon.h"
#include "daemon/metrics.h"
#include "base/log.h"
#include "pprof/codec.h"
#include "version.h"

struct daemon {
	const struct daemon_opts *o;
	struct metrics *metrics;
	struct sender *sender;
	uint64_t windows;
	uint64_t spool_dropped, spool_unreadable;	/* on_report's: one call at a time */
	sigset_t signals;
};

static const char *const kinds[CAPTURE_KINDS] = {
	[CAPTURE_CPU] = "cpu", [CAPTURE_HEAP] = "heap", [CAPTURE_OFFCPU] = "offcpu",
};
static const char *const units[CAPTURE_KINDS] = {
	[CAPTURE_CPU] = "samples", [CAPTURE_HEAP] = "sampled allocations",
	[CAPTURE_OFFCPU] = "waits",
};
static const enum metric_counter sampled[CAPTURE_KINDS] = {
	[CAPTURE_CPU] = MC_CPU_SAMPLES, [CAPTURE_HEAP] = MC_HEAP_SAMPLES,
	[CAPTURE_OFFCPU] = MC_OFFCPU_SAMPLES,
};
static const enum metric_counter lost[CAPTURE_KINDS] = {
	[CAPTURE_CPU] = MC_CPU_LOST, [CAPTURE_HEAP] = MC_HEAP_LOST, [CAPTURE_OFFCPU] = MC_OFFCPU_LOST,
};

static void format_bytes(char *s, size_t n, uint64_t b)
{
	if (b < 10 * 1024)
		snprintf(s, n, "%" PRIu64 " B", b);
	else if (b < 10 * 1024 * 1024)
		snprintf(s, n, "%" PRIu64 " KiB", b / 1024);
	else
		snprintf(s, n, "%.1f MiB", (double)b / (1024 * 1024));
}

/* "cpu window 2026-11-23T10:15:00Z +15.0s: 570 samples, 0 lost"; the size
 * is what went where, said with the outcome. */
static void describe(char *s, size_t n, const struct capture_window *w)
{
	time_t t = (time_t)(w->time_nanos / 1000000000);
	char stamp[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(s, n, "%s window %s +%.1fs: %" PRIu64 " %s, %" PRIu64 " lost", kinds[w->kind],
		 stamp, (double)w->duration_nanos / 1e9, w->samples,
		 units[w->kind], w->lost);
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (uint64_t)st.st_size;
}

static void window_unwind_metrics(struct metrics *m, const struct capture_unwind_stats *u)
{
	metrics__add(m, MC_UNWIND_FALLBACK, u->fallback);
	metrics__add(m, MC_UNWIND_CUT, u->cut);
	metrics__add(m, MC_UNWIND_FILE_ROWS, u->files_too_big);
	metrics__add(m, MC_UNWIND_KERNEL_MEMORY, u->tables_full);
	metrics__add(m, MC_UNWIND_RULES, u->rules_full);
	metrics__add(m, MC_UNWIND_PROCESSES, u->procs_full);
	metrics__add(m, MC_UNWIND_MAPPINGS, u->maps_dropped);
	metrics__set(m, MG_UNWIND_TABLES, u->files);
	metrics__set(m, MG_UNWIND_BYTES, u->kernel_bytes);
}

static int on_window(void *ctx, struct capture_window *w, struct errmsg *why)
{
	struct daemon *d = ctx;
	const struct daemon_opts *o = d->o;
	struct errmsg e = { "" };
	char what[160], path[4096] = "", size[32];
	int err = 0;

	d->windows++;
	metrics__add(d->metrics, MC_WINDOWS, 1);
	metrics__add(d->metrics, sampled[w->kind], w->samples);
	metrics__add(d->metrics, lost[w->kind], w->lost);
	metrics__set(d->metrics, MG_LAST_WINDOW, (uint64_t)((w->time_nanos + w->duration_nanos) / 1000000000));
	if (w->unwind.on)
		window_unwind_metrics(d->metrics, &w->unwind);
	describe(what, sizeof(what), w);
	if (o->out.dir) {
		err = outdir__write(&o->out, w->profile, kinds[w->kind], w->time_nanos, path,
				    sizeof(path), &e);
		metrics__add(d->metrics, err ? MC_WINDOWS_FAILED : MC_WINDOWS_WRITTEN, 1);
		if (err)
			pr_err("%s: %s", what, e.text);
	}
	if (!d->sender) {
		if (!err) {
			format_bytes(size, sizeof(size), file_size(path));
			pr_info("%s: written %s (%s)", what, path, size);
		}
		return 0;
	}
	/* The sender takes the profile (the capture frees it no more); its report
	 * logs the window's line. Said here with -v, so that a window lost with
	 * the process (SIGKILL, OOM) before it is pushed or spooled is known. */
	pr_debug("%s: captured", what);
	err = sender__submit(d->sender, w->profile, kinds[w->kind], what);
	w->profile = NULL;
	if (err) {
		pr_err("%s: out of memory", what);
		metrics__add(d->metrics, MC_WINDOWS_DROPPED, 1);
	}
	return 0;
}

static void on_report(void *ctx, const struct sender_report *r)
{
	static const char *const said[] = {
		[SENT_PUSHED] = "pushed", [SENT_SPOOLED] = "spooled",
		[SENT_REFUSED] = "refused", [SENT_DROPPED] = "dropped",
	};
	static const enum metric_counter counted[] = {
		[SENT_PUSHED] = MC_WINDOWS_PUSHED, [SENT_SPOOLED] = MC_WINDOWS_SPOOLED,
		[SENT_REFUSED] = MC_WINDOWS_FAILED, [SENT_DROPPED] = MC_WINDOWS_DROPPED,
	};
	struct daemon *d = ctx;
	const struct push_result *p = &r->push;
	char how[96] = "", spool[64] = "", size[32], sent[40] = "";
	enum log_level level = r->outcome == SENT_PUSHED ? LOG_INFO : LOG_WARN;

	if (!(r->from_spool && r->outcome == SENT_SPOOLED))
		metrics__add(d->metrics, counted[r->outcome], 1);
	metrics__add(d->metrics, MC_PUSH_REQUESTS, p->attempts);
	metrics__add(d->metrics, MC_PUSH_ERRORS, p->attempts - (r->outcome == SENT_PUSHED));
	metrics__add(d->metrics, MC_PUSH_BYTES, p->bytes);
	if (p->attempts)
		metrics__observe_push(d->metrics, p->seconds);
	if (r->spool.dropped > d->spool_dropped) {
		uint64_t n = r->spool.dropped - d->spool_dropped;

		metrics__add(d->metrics, MC_WINDOWS_DROPPED, n);
		pr_warn("spool full: %" PRIu64 " oldest windows dropped (%" PRIu64 " in all)", n,
			r->spool.dropped);
		d->spool_dropped = r->spool.dropped;
	}
	/* the spool said which and why when it removed them */
	metrics__add(d->metrics, MC_SPOOL_UNREADABLE, r->spool.unreadable - d->spool_unreadable);
	d->spool_unreadable = r->spool.unreadable;
	metrics__set(d->metrics, MG_SPOOL_BYTES, r->spool.bytes);
	metrics__set(d->metrics, MG_SPOOL_ENTRIES, r->spool.entries);
	if (r->bytes && (r->outcome == SENT_PUSHED || r->outcome == SENT_SPOOLED)) {
		format_bytes(size, sizeof(size), r->bytes);
		snprintf(sent, sizeof(sent), " %s", size);
	}
	/* the error says how a failure ended */
	if (r->outcome == SENT_PUSHED && p->attempts > 1)
		snprintf(how, sizeof(how), " (HTTP %ld, %.0f ms, %u attempts)", p->status,
			 p->seconds * 1000, p->attempts);
	else if (r->outcome == SENT_PUSHED && p->attempts)
		snprintf(how, sizeof(how), " (HTTP %ld, %.0f ms)", p->status, p->seconds * 1000);
	if (r->spool.entries || r->outcome == SENT_SPOOLED) {
		format_bytes(size, sizeof(size), r->spool.bytes);
		snprintf(spool, sizeof(spool), "; spool: %" PRIu64 " windows, %s", r->spool.entries, size);
	}
	log__printf(level, "%s%s: %s%s%s%s%s%s", r->from_spool ? "spooled " : "", r->what,
		    said[r->outcome], sent, how, r->error[0] ? ": " : "", r->error, spool);
}

static void on_hangup(void *ctx)
{
	int err = log__reopen();

	if (err)
		pr_err("cannot reopen the log: %s", strerror(-err));
	else
		pr_info("log reopened");
}

/* Sleep until the wall clock reaches when: 0, or 1 when told to stop. */
static int wait_until(struct daemon *d, time_t when)
{
	for (;;) {
		struct timespec now, left;
		siginfo_t si;
		int sig;

		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec >= when)
			return 0;
		/* Wake at least every minute: the clock may be set meanwhile. */
		left.tv_sec = when - now.tv_sec - 1 < 59 ? when - now.tv_sec - 1 : 59;
		left.tv_nsec = 1000000000 - now.tv_nsec;
		sig = sigtimedwait(&d->signals, &si, &left);
		if (sig == SIGTERM || sig == SIGINT)
			return 1;
		if (sig == SIGHUP)
			on_hangup(d);
	}
}

static int scheduled(struct daemon *d, struct errmsg *e)
{
	const struct daemon_opts *o = d->o;
	struct capture_opts rec = o->rec;
	struct capture_result res;
	int err;

	rec.seconds = o->duration;
	rec.interval = 0;
	/* The first capture may be hours away: what would make it fail (no
	 * privileges, no such pid, a probe that cannot attach) is said now. */
	err = capture__check(&rec, e);
	if (err)
		return err;
	for (;;) {
		time_t next = cron__next(&o->cron, time(NULL));
		char stamp[32];
		struct tm tm;

		if (next < 0)
			return errmsg__set(e, -EINVAL, "the schedule never matches");
		localtime_r(&next, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M %Z", &tm);
		pr_info("next capture: %s, for %.1f s", stamp, o->duration);
		if (wait_until(d, next))
			return 0;
		err = capture__run(&rec, &res, e);
		if (err)
			return err;
		if (res.interrupted)
			return 0;
	}
}

int daemon__run(const struct daemon_opts *o, struct errmsg *e)
{
	struct daemon d = { .o = o };
	struct capture_opts rec = o->rec;
	struct capture_result res;
	sigset_t old, chld, before;
	int err, out_lock = -1;

	sigemptyset(&d.signals);
	sigaddset(&d.signals, SIGINT);
	sigaddset(&d.signals, SIGTERM);
	sigaddset(&d.signals, SIGHUP);
	sigprocmask(SIG_BLOCK, &d.signals, &old);
	/* The threads started below (metrics, sender) never take SIGCHLD:
	 * the kernel hands a process's signal to a thread not blocking it,
	 * and one ignored by default is dropped there; the capture (its
	 * signalfd) would wait for its command's exit forever. This thread's
	 * mask back before the capture, which blocks it itself. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &before);
	d.metrics = metrics__new(BPPROF_VERSION);
	if (!d.metrics) {
		err = errmsg__set(e, -ENOMEM, "out of memory");
		goto out;
	}
	if (o->metrics_addr) {
		err = metrics__serve(d.metrics, o->metrics_addr, e);
		if (err)
			goto out;
	}
	if (o->out.dir) {
		out_lock = outdir__open(o->out.dir, e);
		err = out_lock < 0 ? out_lock : 0;
		if (err)
			goto out;
	}
	if (o->push) {
		struct sender_opts so = o->sender;

		so.on_report = on_report;
		so.ctx = &d;
		d.sender = sender__new(&so, e);
		if (!d.sender) {
			err = -errno;
			goto out;
		}
	}
	pthread_sigmask(SIG_SETMASK, &before, NULL);
	rec.on_window = on_window;
	rec.on_hangup = on_hangup;
	rec.window_ctx = &d;
	rec.progress = false;
	d.o = o;
	if (o->scheduled) {
		struct daemon_opts so = *o;

		so.rec = rec;
		d.o = &so;
		err = scheduled(&d, e);
		d.o = o;
	} else {
		rec.interval = o->interval;
		rec.seconds = 0;
		err = capture__run(&rec, &res, e);
		if (!err && !res.interrupted && (res.command_exited || res.pids_exited))
			pr_info("the %s exited: stopping", res.command_exited ? "command" : "targets");
	}
out:
	sender__free(d.sender);	/* what waits: the spool, then what can go in time */
	metrics__free(d.metrics);
	if (out_lock >= 0)
		close(out_lock);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (!err)
		pr_info("stopped after %" PRIu64 " windows", d.windows);
	return err;
}
