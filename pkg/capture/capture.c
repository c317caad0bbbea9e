/* bpprof record: attach, run one epoll loop until the duration ends, the
 * command or every target exits, or the user interrupts; then stop
 * sampling, drain the ring buffers, symbolize and write. Whatever ends the
 * capture, samples already taken are written. CPU, off-CPU and heap
 * captures share the loop and the targets. For the daemon the loop also
 * cuts windows: each one's profiles go to a callback instead of files. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/profile.h"
#include "capture/ingest.h"
#include "capture/capture.h"
#include "capture/heapmode.h"
#include "base/log.h"
#include "collect/heap.h"
#include "collect/ksym.h"
#include "collect/offcpu.h"
#include "fileio/fileio.h"
#include "stacks/stacks.h"
#include "symbolize/symbolize.h"
#include "unwind/maps.h"

#define TICK_MS		250	/* ring-buffer drain and progress redraw */
#define CPU_SYNC_TICKS	4	/* CPUs brought online are sampled within a second */
#define MAX_EVENTS	16
/* A daemon's CPU symbolizer starts afresh past these, so a long run holds
 * the processes and files of its recent windows, not of all time. */
#define SYM_RENEW_PROCS	2048u
#define SYM_RENEW_FILES	1024u
#define SYM_RENEW_SECS	3600.0

enum { TAG_RING = 1, TAG_HEAP_RING, TAG_OFFCPU_RING, TAG_SIGNAL, TAG_TICK, TAG_END, TAG_PID,
       TAG_WINDOW };

/* Where the current window began, and the cumulative BPF counters then. */
struct window {
	unsigned seq;
	int64_t wall0;
	struct timespec mono0;
	uint64_t cpu_samples, cpu_lost, heap_sampled, heap_lost, heap_kept;
	uint64_t cpu_kept, waits, waits_lost, waits_kept, short_waits, short_ns;
	struct capture_unwind_stats unwind;	/* cumulative at the window's start: cpu */
	uint64_t heap_fallback, heap_cut;
	struct timespec sym_born;
};

struct recorder {
	const struct capture_opts *o;
	struct collector *col;
	struct symbolizer *sym;		/* CPU frames */
	struct symbolizer *hsym;	/* heap frames: its snapshots outlive windows */
	struct ksym_namer *kn;		/* kernel frames' names, for both */
	struct stacks stacks;
	struct cpu_ingest in;
	struct offcpu_collector *ocol;
	struct stacks ostacks;		/* waits, when not in the CPU table */
	struct cpu_ingest oin;
	struct heap_collector *hcol;
	struct heap_table heap;
	struct heap_ingest hin;
	struct heap_mode_choice hm;
	struct unwind_maps *umaps;	/* NULL: user stacks from frame pointers */
	struct unwinder *unw;
	uint32_t unwind_mode;		/* enum unwind_mode */
	struct errmsg heap_err;		/* why a probe failed inside the ring callback */
	bool heap_rescan;		/* a -p target mapped code: probe it at the next tick */
	unsigned ticks;
	int epfd, sigfd, tickfd, endfd, winfd;
	struct window win;
	int pidfds[CAPTURE_MAX_PIDS];
	unsigned alive;
	pid_t child;
	sigset_t blocked, old_mask;
	struct timespec start;
};

static double since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static int watch(struct recorder *r, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int arm_timer(int fd, double first, double interval)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = (time_t)first;
	its.it_value.tv_nsec = (long)((first - floor(first)) * 1e9);
	if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
		its.it_value.tv_nsec = 1;
	its.it_interval.tv_sec = (time_t)interval;
	its.it_interval.tv_nsec = (long)((interval - floor(interval)) * 1e9);
	return timerfd_settime(fd, 0, &its, NULL) ? -errno : 0;
}

/* Every -p target must exist now; each exit is seen through its pidfd. */
static int open_pids(struct recorder *r, struct errmsg *e)
{
	size_t i;
	int err;

	for (i = 0; i < r->o->n_pids; i++) {
		int fd = (int)syscall(SYS_pidfd_open, (pid_t)r->o->pids[i], 0);

		if (fd < 0) {
			err = -errno;
			return errmsg__set(e, err, err == -ESRCH ? "no such process: %" PRIu32
						   : "process %" PRIu32 ": %s", r->o->pids[i],
					   strerror(-err));
		}
		r->pidfds[r->alive++] = fd;
		err = watch(r, fd, TAG_PID | (uint64_t)i << 8);
		if (err)
			return errmsg__set(e, err, "epoll: %s", strerror(-err));
	}
	return 0;
}

/* Start the command stopped at a pipe, put its pid in the filter, then let
 * it exec: not one instruction of it runs unprofiled. An exec failure comes
 * back through a close-on-exec pipe. */
static int spawn(struct recorder *r, char *const *argv, struct errmsg *e)
{
	int go[2], report[2], err, child_err = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(go, O_CLOEXEC))
		return errmsg__set(e, -errno, "pipe: %s", strerror(errno));
	if (pipe2(report, O_CLOEXEC)) {
		err = -errno;
		goto close_go;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = errmsg__set(e, -errno, "cannot start %s: %s", argv[0], strerror(errno));
		goto close_report;
	}
	if (pid == 0) {
		char c;

		sigprocmask(SIG_SETMASK, &r->old_mask, NULL);
		close(go[1]);
		close(report[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		if (r->hm.env)
			execvpe(argv[0], argv, r->hm.env);
		else
			execvp(argv[0], argv);
		child_err = errno;
		if (write(report[1], &child_err, sizeof(child_err)) < 0)
			_exit(127);
		_exit(127);
	}
	r->child = pid;
	cpu_ingest__await_exec(&r->in, (uint32_t)pid);
	cpu_ingest__await_exec(&r->oin, (uint32_t)pid);
	close(go[0]);
	close(report[1]);
	go[0] = report[1] = -1;
	err = r->col ? collector__add_pid(r->col, (uint32_t)pid) : 0;
	if (!err && r->ocol)
		err = offcpu_collector__add_pid(r->ocol, (uint32_t)pid);
	/* held at its exec until its tables are loaded (the heap probes hold
	 * it then anyway, and load them) */
	if (!err && r->col && r->unw && !r->hcol)
		collector__stop_at_exec(r->col, (uint32_t)pid);
	/* stopped at its exec, and at each library it maps, until probed */
	if (!err && r->hcol && r->hm.mode == HEAP_MODE_UPROBE)
		err = heap_collector__target(r->hcol, (uint32_t)pid, true);
	if (err) {
		close(go[1]);	/* the child exits without running anything */
		go[1] = -1;
		waitpid(pid, NULL, 0);
		r->child = 0;
		errmsg__set(e, err, "cannot follow %s: %s", argv[0], strerror(-err));
		goto close_report;
	}
	if (write(go[1], "g", 1) != 1)
		err = -errno;
	close(go[1]);
	do
		n = read(report[0], &child_err, sizeof(child_err));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == sizeof(child_err)) {
		waitpid(pid, NULL, 0);
		r->child = 0;
		return errmsg__set(e, -child_err, "cannot run %s: %s", argv[0], strerror(child_err));
	}
	return err ? errmsg__set(e, err, "cannot start %s: %s", argv[0], strerror(-err)) : 0;

close_report:
	if (report[0] >= 0)
		close(report[0]);
	if (report[1] >= 0)
		close(report[1]);
close_go:
	if (go[0] >= 0)
		close(go[0]);
	if (go[1] >= 0)
		close(go[1]);
	if (err && !e->text[0])
		errmsg__set(e, err, "pipe: %s", strerror(-err));
	return err;
}

static void show_progress(struct recorder *r, struct collect_counters *c, bool final)
{
	if (!r->o->progress)
		return;
	fputs("\r\033[K", stderr);
	if (final)
		return;
	fprintf(stderr, "recording: %.1f s", since(&r->start));
	if (r->col && !collector__counters(r->col, c))
		fprintf(stderr, ", %" PRIu64 " samples, %" PRIu64 " lost", c->v[CPU_CNT_SAMPLES],
			c->v[CPU_CNT_LOST] + r->in.dropped);
	if (r->ocol && !offcpu_collector__counters(r->ocol, c))
		fprintf(stderr, ", %" PRIu64 " waits (%.1f s)", c->v[OFFCPU_CNT_WAITS],
			(double)c->v[OFFCPU_CNT_WAITS_NS] / 1e9);
	if (r->hcol && !heap_collector__counters(r->hcol, c) && r->hm.mode == HEAP_MODE_PRELOAD)
		fprintf(stderr, ", %" PRIu64 " allocations sampled", c->v[HEAP_CNT_SAMPLED]);
	else if (r->hcol && !heap_collector__counters(r->hcol, c))
		fprintf(stderr, ", %" PRIu64 " allocations, %" PRIu64 " sampled", c->v[HEAP_CNT_CALLS],
			c->v[HEAP_CNT_SAMPLED]);
}

static int consume(struct recorder *r, bool cpu, bool heap)
{
	int err = 0;

	if (cpu && r->col && collector__consume(r->col) < 0)
		err = r->in.fatal ? r->in.fatal : -EIO;
	if (!err && cpu && r->ocol && offcpu_collector__consume(r->ocol) < 0)
		err = r->oin.fatal ? r->oin.fatal : -EIO;
	if (!err && heap && r->hcol && heap_collector__consume(r->hcol) < 0)
		err = r->hin.fatal ? r->hin.fatal : -EIO;
	return err;
}

/* -p targets are not stopped: the code they mapped is probed a tick later
 * (a mapping exists only once its mmap returns). */
static void rescan(struct recorder *r)
{
	struct heap_probe_report rep;
	struct errmsg e = { "" };
	size_t i;

	r->heap_rescan = false;
	for (i = 0; i < r->o->n_pids; i++)
		if (heap_collector__probe(r->hcol, r->o->pids[i], &rep, &e) && e.text[0] &&
		    !strstr(e.text, "is gone"))
			pr_warn("%s", e.text);
}


static int64_t wall_now(struct timespec *mono)
{
	struct timespec wall;

	clock_gettime(CLOCK_MONOTONIC, mono);
	clock_gettime(CLOCK_REALTIME, &wall);
	return (int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec;
}

static int64_t mono_ns(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
}

/* Kernel frames are named by the running kernel, per address, rather than
 * from all of /proc/kallsyms (a third of a short capture's CPU time). */
static struct symbolizer *new_symbolizer(struct recorder *r)
{
	struct symbolizer_opts so = { .no_lines = r->o->no_lines, .cache_dir = r->o->cache_dir,
				      .kernel_names = ksym_namer__names };

	if (!r->kn && ksym_namer__new(&r->kn))
		return NULL;
	so.kernel_names_ctx = r->kn;
	return symbolizer__new(&so);
}

/* The CPU symbolizer (off-CPU's too) starts afresh once it holds many
 * processes or files, or is old: a new window's samples read their maps
 * again. Heap samples outlive windows, so the heap's symbolizer stays. */
static void renew_symbolizer(struct recorder *r, const struct timespec *now)
{
	struct symbolizer_stats st;
	struct symbolizer *fresh;

	symbolizer__stats(r->sym, &st);
	if (st.procs < SYM_RENEW_PROCS && st.files < SYM_RENEW_FILES &&
	    mono_ns(&r->win.sym_born, now) < (int64_t)(SYM_RENEW_SECS * 1e9))
		return;
	fresh = new_symbolizer(r);
	if (!fresh)
		return;		/* the old one serves on */
	symbolizer__free(r->sym);
	r->sym = r->in.sym = r->oin.sym = fresh;
	r->win.sym_born = *now;
	pr_debug("symbolizer renewed after %" PRIu64 " processes and %" PRIu64 " files",
		 st.procs, st.files);
}

/* A long run's unwind tables start afresh, at a window's cut, once three
 * quarters of their kernel memory or of their files are used: each process
 * is loaded again at its next sample (walked with frame pointers until
 * then, counted), its files built again. */
static void renew_unwind(struct recorder *r)
{
	struct unwind_maps_stats ms;
	int err;

	if (!r->unw)
		return;
	unwind_maps__stats(r->umaps, &ms);
	if (ms.slots * 8 * 4 < ms.limit_bytes * 3 && ms.files * 4 < UNWIND_MAX_FILES * 3)
		return;
	err = unwind_maps__reset(r->umaps);
	if (err) {
		pr_warn("unwind tables: cannot start afresh: %s", strerror(-err));
		return;
	}
	unwinder__reset(r->unw);
	if (unwinder__preload(r->unw))
		pr_warn("out of memory for unwind tables");
	pr_info("unwind tables started afresh (%u files, %.0f MiB of rows)", ms.files,
		(double)ms.slots * 8 / (1 << 20));
}

/* Give a window's profile (NULL: its build failed, errno says why) to the
 * callback, then free it unless the callback took it. */
static int hand_over(struct recorder *r, struct capture_window *w, struct pprof_profile *p,
		     const struct profile_stats *st, struct errmsg *e)
{
	int err;

	if (!p)
		return -errno;
	w->profile = p;
	w->unsymbolized = st->frames ? (double)st->unsymbolized / (double)st->frames : 0;
	err = r->o->on_window(r->o->window_ctx, w, e);
	pprof__free(w->profile);	/* NULL when on_window took it */
	if (err && !e->text[0])
		errmsg__set(e, err, "%s", strerror(-err));
	return err;
}

/* The tables now, and the walker's counters c (cumulative). */
static void unwind_stats(const struct recorder *r, const struct collect_counters *c,
			 struct capture_unwind_stats *u)
{
	struct unwind_maps_stats ms;
	struct unwinder_stats us;

	memset(u, 0, sizeof(*u));
	if (!r->unw)
		return;
	unwinder__stats(r->unw, &us);
	unwind_maps__stats(r->umaps, &ms);
	*u = (struct capture_unwind_stats){
		.on = true,
		.fallback = c->unwind[UNWIND_CNT_FALLBACK],
		.cut = c->unwind[UNWIND_CNT_CUT],
		.files = us.files,
		.rows = us.rows,
		.entries = ms.slots,
		.build_ns = us.build_ns,
		.cached = us.cached,
		.procs = ms.procs,
		.kernel_bytes = ms.kernel_bytes,
		.limit_bytes = ms.limit_bytes,
		.files_too_big = us.files_too_big,
		.tables_full = us.tables_full,
		.rules_full = us.rules_full,
		.procs_full = us.procs_full,
		.maps_dropped = us.maps_dropped,
	};
}

/* A cpu window's unwind counts: what happened since the last window. */
static void window_unwind(struct recorder *r, const struct collect_counters *c,
			  struct capture_unwind_stats *w)
{
	struct capture_unwind_stats now, *then = &r->win.unwind;

	unwind_stats(r, c, &now);
	*w = now;
	w->fallback -= then->fallback;
	w->cut -= then->cut;
	w->files_too_big -= then->files_too_big;
	w->tables_full -= then->tables_full;
	w->rules_full -= then->rules_full;
	w->procs_full -= then->procs_full;
	w->maps_dropped -= then->maps_dropped;
	*then = now;
}

static int cut_cpu(struct recorder *r, struct capture_window *w, struct errmsg *e)
{
	struct cpu_profile_opts po = {
		.freq = r->o->freq,
		.time_nanos = w->time_nanos,
		.duration_nanos = w->duration_nanos,
		.group_by_process = r->o->group_by_process,
		/* the whole system, a cgroup, several pids */
		.several_processes = r->o->n_pids != 1 && !r->o->command,
		.offcpu = r->ocol && r->oin.stacks == &r->stacks,
	};
	struct collect_counters c;
	struct profile_stats st;
	uint64_t lost;
	int err;

	if (collector__counters(r->col, &c))
		memset(&c, 0, sizeof(c));
	lost = c.v[CPU_CNT_LOST] + r->in.dropped;
	w->kind = CAPTURE_CPU;
	w->samples = c.v[CPU_CNT_SAMPLES] - r->win.cpu_samples;
	w->lost = lost - r->win.cpu_lost;
	w->kept = r->in.received - r->win.cpu_kept;
	r->win.cpu_kept = r->in.received;
	r->win.cpu_samples = c.v[CPU_CNT_SAMPLES];
	r->win.cpu_lost = lost;
	window_unwind(r, &c, &w->unwind);
	err = hand_over(r, w, cpu_profile__build(&r->stacks, r->sym, &po, &st, e), &st, e);
	if (!err && stacks__reset(&r->stacks))
		err = errmsg__set(e, -ENOMEM, "out of memory");
	return err;
}

static int cut_heap(struct recorder *r, struct capture_window *w, struct errmsg *e)
{
	struct heap_profile_opts po = {
		.time_nanos = w->time_nanos,
		.duration_nanos = w->duration_nanos,
		.group_by_process = r->o->group_by_process,
		.started_before = r->o->n_pids > 0,
		.several_processes = r->o->n_pids > 1,
	};
	struct collect_counters c;
	struct profile_stats st;
	uint64_t lost;
	int err;

	if (heap_collector__counters(r->hcol, &c))
		memset(&c, 0, sizeof(c));
	lost = c.v[HEAP_CNT_LOST] + r->hin.dropped;
	w->kind = CAPTURE_HEAP;
	w->samples = c.v[HEAP_CNT_SAMPLED] - r->win.heap_sampled;
	w->lost = lost - r->win.heap_lost;
	w->kept = r->heap.allocs - r->win.heap_kept;
	r->win.heap_sampled = c.v[HEAP_CNT_SAMPLED];
	r->win.heap_lost = lost;
	r->win.heap_kept = r->heap.allocs;
	/* the heap stacks' walks; the tables and their limits are the cpu
	 * window's to say (or this one's, without cpu) */
	if (r->col) {
		w->unwind = (struct capture_unwind_stats){ .on = r->unw != NULL };
		w->unwind.fallback = c.unwind[UNWIND_CNT_FALLBACK] - r->win.heap_fallback;
		w->unwind.cut = c.unwind[UNWIND_CNT_CUT] - r->win.heap_cut;
	} else {
		window_unwind(r, &c, &w->unwind);
	}
	r->win.heap_fallback = c.unwind[UNWIND_CNT_FALLBACK];
	r->win.heap_cut = c.unwind[UNWIND_CNT_CUT];
	err = hand_over(r, w, heap_profile__build(&r->heap, r->hsym, &po, &st, e), &st, e);
	if (!err && heap_table__next_window(&r->heap))
		err = errmsg__set(e, -ENOMEM, "out of memory");
	return err;
}

/* The waits that ended in the window (those still going on end in a later
 * one), and a comment saying what the threshold left out of it. */
static int cut_offcpu(struct recorder *r, struct capture_window *w, struct errmsg *e)
{
	struct offcpu_profile_opts po = {
		.time_nanos = w->time_nanos,
		.duration_nanos = w->duration_nanos,
		.group_by_process = r->o->group_by_process,
		.several_processes = r->o->n_pids != 1 && !r->o->command,
	};
	struct collect_counters c;
	struct profile_stats st;
	char comment[256], what[64];
	uint64_t lost;
	int err, n;

	if (offcpu_collector__counters(r->ocol, &c))
		memset(&c, 0, sizeof(c));
	lost = c.v[OFFCPU_CNT_LOST] + r->oin.dropped;
	w->kind = CAPTURE_OFFCPU;
	w->samples = c.v[OFFCPU_CNT_WAITS] - r->win.waits;
	w->lost = lost - r->win.waits_lost;
	w->kept = r->oin.received - r->win.waits_kept;
	r->win.waits = c.v[OFFCPU_CNT_WAITS];
	r->win.waits_lost = lost;
	r->win.waits_kept = r->oin.received;
	offcpu__describe_min(r->o->offcpu_min_ns, what, sizeof(what));
	n = snprintf(comment, sizeof(comment), "off-CPU time: %s, each charged to the window in "
		     "which it ends", what);
	if (r->o->offcpu_min_ns && n > 0 && (size_t)n < sizeof(comment))
		snprintf(comment + n, sizeof(comment) - (size_t)n, "; %" PRIu64 " shorter ones "
			 "(%.3f s) left out", c.v[OFFCPU_CNT_SHORT] - r->win.short_waits,
			 (double)(c.v[OFFCPU_CNT_SHORT_NS] - r->win.short_ns) / 1e9);
	r->win.short_waits = c.v[OFFCPU_CNT_SHORT];
	r->win.short_ns = c.v[OFFCPU_CNT_SHORT_NS];
	po.comment = comment;
	err = hand_over(r, w, offcpu_profile__build(&r->ostacks, r->sym, &po, &st, e), &st, e);
	if (!err && stacks__reset(&r->ostacks))
		err = errmsg__set(e, -ENOMEM, "out of memory");
	return err;
}

/* End the current window at this instant: whatever the ring buffers hold
 * was sampled before it and belongs to it; the next sample read belongs to
 * the next. */
static int cut_window(struct recorder *r, bool last, struct errmsg *e)
{
	struct capture_window w = { .last = last };
	struct timespec mono;
	int64_t wall;
	int err = last ? 0 : consume(r, true, true);

	if (err)
		return errmsg__set(e, err, "reading the ring buffer: %s", strerror(-err));
	wall = wall_now(&mono);
	w.seq = ++r->win.seq;
	w.time_nanos = r->win.wall0;
	w.duration_nanos = mono_ns(&r->win.mono0, &mono);
	if (r->col)
		err = cut_cpu(r, &w, e);
	if (!err && r->ocol && r->oin.stacks == &r->ostacks)
		err = cut_offcpu(r, &w, e);
	if (!err && r->hcol && heap_collector__n_probed(r->hcol))
		err = cut_heap(r, &w, e);
	r->win.wall0 = wall;
	r->win.mono0 = mono;
	if (!err && (r->col || r->ocol) && !last)
		renew_symbolizer(r, &mono);
	if (!err && !last)
		renew_unwind(r);
	return err;
}

/* Returns when the capture should end: 0, or a negative errno. */
static int loop(struct recorder *r, struct capture_result *res, struct errmsg *e)
{
	struct epoll_event evs[MAX_EVENTS];
	struct collect_counters c;
	int i, n, err;

	for (;;) {
		n = epoll_wait(r->epfd, evs, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64, ticks;
			struct signalfd_siginfo si;
			int status;

			switch (tag & 0xff) {
			case TAG_RING:
			case TAG_OFFCPU_RING:
			case TAG_HEAP_RING:
				err = consume(r, (tag & 0xff) != TAG_HEAP_RING, (tag & 0xff) == TAG_HEAP_RING);
				if (err)
					return err;
				break;
			case TAG_TICK:
				if (read(r->tickfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
					return -errno;
				err = consume(r, true, true);
				if (err)
					return err;
				if (r->heap_rescan)
					rescan(r);
				if (r->col && ++r->ticks % CPU_SYNC_TICKS == 0)
					collector__sync_cpus(r->col);
				if (r->o->progress)
					show_progress(r, &c, false);
				break;
			case TAG_END:
				return 0;
			case TAG_WINDOW:
				if (read(r->winfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
					return -errno;
				err = cut_window(r, false, e);
				if (err)
					return err;
				break;
			case TAG_SIGNAL:
				if (read(r->sigfd, &si, sizeof(si)) != sizeof(si))
					break;
				if (si.ssi_signo == SIGCHLD) {
					if (r->child && waitpid(r->child, &status, WNOHANG) == r->child) {
						res->command_exited = true;
						res->command_status = status;
						r->child = 0;
						return 0;
					}
					break;
				}
				if (si.ssi_signo == SIGHUP && r->o->on_hangup) {
					r->o->on_hangup(r->o->window_ctx);
					break;
				}
				res->interrupted = true;
				return 0;
			case TAG_PID: {
				size_t k = (size_t)(tag >> 8);

				epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->pidfds[k], NULL);
				res->pids_exited++;
				if (--r->alive == 0)
					return 0;
				break;
			}
			}
		}
	}
}

/* Preload mode: any process of the command's tree, not only bpprof's
 * child, stops when it starts: its state in /proc says when it has. */
static bool proc_stopped(uint32_t pid)
{
	char path[64], buf[512], *paren;
	unsigned waited;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	for (waited = 0; waited < 2000; waited++) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return false;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return false;
		buf[n] = '\0';
		paren = strrchr(buf, ')');
		if (!paren || !paren[1] || !paren[2] || paren[2] == 'Z' || paren[2] == 'X')
			return false;
		if (paren[2] == 'T' || paren[2] == 't')
			return true;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	return false;
}

/* Wait for a child BPF stopped (or for its end): true once it is stopped.
 * WNOWAIT leaves both for the SIGCHLD handler. */
static bool wait_stopped(uint32_t pid)
{
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (!waitid(P_PID, (id_t)pid, &si, WSTOPPED | WEXITED | WNOWAIT))
			return si.si_code == CLD_STOPPED || si.si_code == CLD_TRAPPED;
		if (errno != EINTR)
			return false;
	}
}

/* Preload mode: a process image of the command's tree (or a forked child)
 * has its libraries loaded and waits, stopped, while its maps are read, so
 * its samples are named even if it exits before they are. A process gone
 * meanwhile costs its names, not the capture. */
static int on_hello(struct recorder *r, const struct heap_mapped *m)
{
	int64_t proc;

	if ((pid_t)m->pid == r->child ? !wait_stopped(m->pid) : !proc_stopped(m->pid))
		return 0;
	if (m->exec)
		symbolizer__exec(r->hsym, m->pid);
	proc = symbolizer__proc(r->hsym, m->pid, m->start_boottime / r->hin.ns_per_tick);
	if (proc >= 0 && symbolizer__refresh(r->hsym, proc))
		pr_debug("heap: cannot read the maps of pid %u", m->pid);
	kill((pid_t)m->pid, SIGCONT);
	return 0;
}

/* A heap target exec'd or mapped code (heap_ingest's on_mapped). The
 * command waits, stopped, until its new objects are probed. */
static int on_mapped(void *ctx, const struct heap_mapped *m)
{
	struct recorder *r = ctx;
	struct heap_probe_report rep;
	int err;

	/* its new code's tables, before a stopped command goes on */
	if (r->unw) {
		err = unwinder__load(r->unw, m->pid, m->start_boottime, true);
		if (err < 0)
			return err;
	}
	if (r->hm.mode == HEAP_MODE_PRELOAD)
		return on_hello(r, m);
	if (!m->stopped) {
		r->heap_rescan = true;
		return 0;
	}
	if (!wait_stopped(m->pid))
		return 0;
	err = heap_collector__probe(r->hcol, m->pid, &rep, &r->heap_err);
	/* Its maps as they are now, while it cannot exit: a short-lived
	 * command is symbolized even though its samples are read later. */
	if (!err) {
		int64_t proc;

		if (m->exec)
			symbolizer__exec(r->hsym, m->pid);
		proc = symbolizer__proc(r->hsym, m->pid, m->start_boottime / r->hin.ns_per_tick);
		err = proc < 0 ? (int)proc : symbolizer__refresh(r->hsym, proc);
		if (err)
			errmsg__set(&r->heap_err, err, "reading the maps of %s: %s",
				    r->o->command[0], strerror(-err));
	}
	/* At its exec a static program maps nothing but itself: without an
	 * allocator in it now there will never be one. It has not run an
	 * instruction yet, and it will not. */
	if (!err && m->exec && !rep.objects && !rep.interp) {
		kill((pid_t)m->pid, SIGKILL);
		if (waitpid((pid_t)m->pid, NULL, 0) == (pid_t)m->pid && (pid_t)m->pid == r->child)
			r->child = 0;	/* never ran: nothing to report of it */
		return errmsg__set(&r->heap_err, -ENOENT, "%s: no allocator found: it defines no "
				   "malloc or free%s", r->o->command[0],
				   rep.stripped[0] ? " (statically linked and stripped of symbols)" : "");
	}
	kill((pid_t)m->pid, SIGCONT);
	return err;
}

/* Probe each -p target's allocator now: a target without one is an error. */
static int probe_pids(struct recorder *r, struct errmsg *e)
{
	struct heap_probe_report rep;
	size_t i;
	int err;

	for (i = 0; i < r->o->n_pids; i++) {
		uint32_t pid = r->o->pids[i];

		err = heap_collector__target(r->hcol, pid, false);
		if (err)
			return errmsg__set(e, err, "cannot follow pid %" PRIu32 ": %s", pid,
					   strerror(-err));
		err = heap_collector__probe(r->hcol, pid, &rep, e);
		if (err)
			return err;
		if (!rep.objects)
			return errmsg__set(e, -ENOENT, "process %" PRIu32 ": no allocator found: none "
					   "of its objects defines malloc or free%s", pid,
					   rep.stripped[0] ? " (one is stripped of symbols)" : "");
	}
	return 0;
}

/* The command, held at its exec: its dynamic linker is probed too, so it
 * waits again after mapping its libraries (and at each dlopen) until their
 * tables are loaded. Not being able to probe it costs a few samples. */
static int on_held_exec(void *ctx, uint32_t pid)
{
	struct recorder *r = ctx;
	int err = collector__hold_linkmap(r->col, pid);

	if (err == -ENOMEM)
		return err;
	if (err)
		pr_debug("unwind: cannot probe the dynamic linker of %u: %s\n", pid, strerror(-err));
	return 0;
}

static int setup_heap(struct recorder *r, struct errmsg *e)
{
	struct heap_collect_opts ho = {
		.rate = r->o->heap_rate,
		.live_max = r->o->heap_live,
		.mmap = r->o->heap_mmap,
		.unwind = { r->umaps, r->unwind_mode },
		.on_record = heap_ingest__record,
		.ctx = &r->hin,
	};
	int err;

	err = heap_mode__choose(r->o, &r->hm, e);
	if (err)
		return err;
	ho.preload_token = r->hm.token;
	/* a daemon has no summary line: the mode is said once, now */
	if (r->o->interval > 0)
		pr_info("heap: %s mode%s%s", heap_mode__name(r->hm.mode), r->hm.why[0] ? ": " : "",
			r->hm.why);
	if (heap_table__init(&r->heap, r->o->heap_rate, CAPTURE_STACKS_LIMIT))
		return errmsg__set(e, -ENOMEM, "out of memory");
	r->hsym = new_symbolizer(r);
	if (!r->hsym)
		return errmsg__set(e, -ENOMEM, "out of memory");
	heap_ingest__init(&r->hin, r->hsym, &r->heap);
	r->hin.unwind = r->unw;
	r->hin.on_mapped = on_mapped;
	r->hin.mapped_ctx = r;
	r->hcol = heap_collector__new(&ho, e);
	if (!r->hcol)
		return -errno;
	if (r->hm.mode == HEAP_MODE_PRELOAD)
		err = heap_collector__attach_preload(r->hcol, r->hm.lib, e);
	else
		err = probe_pids(r, e);
	if (err)
		return err;
	err = watch(r, heap_collector__epoll_fd(r->hcol), TAG_HEAP_RING);
	return err ? errmsg__set(e, err, "epoll: %s", strerror(-err)) : 0;
}

static int setup_cpu(struct recorder *r, struct errmsg *e)
{
	struct collect_opts co = {
		.freq = r->o->freq,
		.event = r->o->event,
		.filter_pids = r->o->n_pids > 0 || r->o->command,
		.follow_children = r->o->command != NULL,
		.cgroup = r->o->cgroup,
		.kernel_stacks = r->o->kernel_stacks,
		.user_stacks = r->o->user_stacks,
		.unwind = { r->umaps, r->unwind_mode },
		.cache_dir = r->o->cache_dir,
		.on_record = cpu_ingest__record,
		.ctx = &r->in,
	};
	size_t i;
	int err;

	if (stacks__init(&r->stacks, CAPTURE_STACKS_LIMIT))
		return errmsg__set(e, -ENOMEM, "out of memory");
	cpu_ingest__init(&r->in, r->sym, &r->stacks);
	r->in.unwind = r->unw;
	r->in.unwind_at_exec = co.filter_pids;
	r->in.on_held_exec = on_held_exec;
	r->in.held_ctx = r;
	r->col = collector__new(&co, e);
	if (!r->col)
		return -errno;
	for (i = 0; i < r->o->n_pids; i++) {
		err = collector__add_pid(r->col, r->o->pids[i]);
		if (err)
			return errmsg__set(e, err, "cannot follow pid %" PRIu32 ": %s", r->o->pids[i],
					   strerror(-err));
	}
	err = watch(r, collector__epoll_fd(r->col), TAG_RING);
	return err ? errmsg__set(e, err, "epoll: %s", strerror(-err)) : 0;
}

/* Waits go into the CPU table when both are captured and merged, else
 * into their own. */
static int setup_offcpu(struct recorder *r, struct errmsg *e)
{
	bool merged = r->col && r->o->offcpu_in_cpu;
	struct offcpu_collect_opts oo = {
		.min_ns = r->o->offcpu_min_ns,
		.filter_pids = r->o->n_pids > 0 || r->o->command,
		.follow_children = r->o->command != NULL,
		.cgroup = r->o->cgroup,
		.kernel_stacks = r->o->kernel_stacks,
		.user_stacks = r->o->user_stacks,
		.walk_on_switch_out = r->o->offcpu_switch_out,
		.unwind = { r->umaps, r->unwind_mode },
		.on_record = cpu_ingest__record,
		.ctx = &r->oin,
	};
	size_t i;
	int err;

	if (!merged && stacks__init(&r->ostacks, CAPTURE_STACKS_LIMIT))
		return errmsg__set(e, -ENOMEM, "out of memory");
	cpu_ingest__init(&r->oin, r->sym, merged ? &r->stacks : &r->ostacks);
	r->oin.unwind = r->unw;
	r->oin.unwind_at_exec = oo.filter_pids;
	r->ocol = offcpu_collector__new(&oo, e);
	if (!r->ocol)
		return -errno;
	if (offcpu_collector__walks_on_switch_out(r->ocol))
		pr_info("off-CPU: %s: stacks are walked at every switch-out, which costs more than on "
			"Linux 6.16+", r->o->offcpu_switch_out ? "as asked" : "this kernel has no "
			"sched_exit_tp tracepoint");
	for (i = 0; i < r->o->n_pids; i++) {
		err = offcpu_collector__add_pid(r->ocol, r->o->pids[i]);
		if (err)
			return errmsg__set(e, err, "cannot follow pid %" PRIu32 ": %s", r->o->pids[i],
					   strerror(-err));
	}
	err = watch(r, offcpu_collector__epoll_fd(r->ocol), TAG_OFFCPU_RING);
	return err ? errmsg__set(e, err, "epoll: %s", strerror(-err)) : 0;
}

/* Unwind tables for user stacks, unless frame pointers were asked for or
 * the kernel cannot walk them (said once: the capture goes on with frame
 * pointers). */
static void setup_unwind(struct recorder *r)
{
	static bool said;
	struct unwinder_opts uo = { 0 };
	struct errmsg e = { "" };
	char why[160] = "";
	int err;

	if (r->o->unwind == CAPTURE_UNWIND_FP || (!r->o->user_stacks && !r->o->heap))
		return;
	err = unwind__kernel_check(why, sizeof(why));
	if (err) {
		errmsg__set(&e, err, "%s", why);
		goto fp;
	}
	r->umaps = unwind_maps__new(r->o->unwind_bytes ? r->o->unwind_bytes : UNWIND_DEFAULT_BYTES,
				    &e);
	if (!r->umaps) {
		err = -errno;
		goto fp;
	}
	uo.sink = unwind_maps__sink(r->umaps);
	/* a few processes: all their files at once, so their first samples
	 * are whole; the whole system or a cgroup: a file when a stack first
	 * reaches it (most files mapped are never on a sampled stack) */
	uo.lazy = !r->o->n_pids && !r->o->command;
	if (r->o->cache_dir && fileio__private_dir(r->o->cache_dir))
		uo.cache_dir = r->o->cache_dir;
	r->unw = unwinder__new(&uo);
	if (!r->unw) {
		errmsg__set(&e, -errno, "the unwinder: %s", strerror(errno));
		unwind_maps__free(r->umaps);
		r->umaps = NULL;
		err = -ENOMEM;
		goto fp;
	}
	r->unwind_mode = r->o->unwind == CAPTURE_UNWIND_DWARF ? UNWIND_MODE_DWARF : UNWIND_MODE_AUTO;
	if (unwinder__preload(r->unw))
		pr_warn("out of memory for unwind tables");
	return;
fp:
	/* without privileges nothing will load: that error is the one to say */
	if (err == -EPERM || err == -EACCES)
		return;
	if (!said)
		pr_warn("%s: user stacks are walked with frame pointers only", e.text);
	said = true;
}

static int setup(struct recorder *r, struct errmsg *e)
{
	size_t i;
	int err;

	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	r->endfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	r->winfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	r->sigfd = signalfd(-1, &r->blocked, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->epfd < 0 || r->tickfd < 0 || r->endfd < 0 || r->winfd < 0 || r->sigfd < 0)
		return errmsg__set(e, -errno, "setting up the event loop: %s", strerror(errno));
	err = open_pids(r, e);
	if (err)
		return err;
	r->sym = new_symbolizer(r);
	if (!r->sym)
		return errmsg__set(e, -ENOMEM, "out of memory");
	setup_unwind(r);
	/* -p targets' tables before their first sample or wait (its start
	 * time comes with it), whichever program records them */
	for (i = 0; r->unw && i < r->o->n_pids; i++)
		if (unwinder__load(r->unw, r->o->pids[i], 0, false) < 0)
			return errmsg__set(e, -ENOMEM, "out of memory");
	err = r->o->cpu ? setup_cpu(r, e) : 0;
	if (!err && r->o->offcpu)
		err = setup_offcpu(r, e);
	if (!err && r->o->heap)
		err = setup_heap(r, e);
	if (err)
		return err;
	err = watch(r, r->sigfd, TAG_SIGNAL);
	if (!err)
		err = watch(r, r->tickfd, TAG_TICK);
	if (!err)
		err = watch(r, r->endfd, TAG_END);
	if (!err)
		err = watch(r, r->winfd, TAG_WINDOW);
	if (err)
		return errmsg__set(e, err, "epoll: %s", strerror(-err));
	return 0;
}

static void teardown(struct recorder *r)
{
	unsigned i;

	collector__free(r->col);
	offcpu_collector__free(r->ocol);
	heap_collector__free(r->hcol);
	unwinder__free(r->unw);
	unwind_maps__free(r->umaps);
	symbolizer__free(r->sym);
	symbolizer__free(r->hsym);
	ksym_namer__free(r->kn);
	stacks__free(&r->stacks);
	stacks__free(&r->ostacks);
	heap_table__free(&r->heap);
	heap_mode__release(&r->hm);
	for (i = 0; i < r->o->n_pids && i < CAPTURE_MAX_PIDS; i++)
		if (r->pidfds[i] > 0)
			close(r->pidfds[i]);
	if (r->epfd >= 0)
		close(r->epfd);
	if (r->sigfd >= 0)
		close(r->sigfd);
	if (r->tickfd >= 0)
		close(r->tickfd);
	if (r->endfd >= 0)
		close(r->endfd);
	if (r->winfd >= 0)
		close(r->winfd);
	sigprocmask(SIG_SETMASK, &r->old_mask, NULL);
}

static void cpu_result(struct recorder *r, struct capture_result *res)
{
	struct collect_counters c;
	uint64_t runs, ns;

	if (collector__counters(r->col, &c))
		pr_warn("cannot read the BPF loss counters");
	res->samples = c.v[CPU_CNT_SAMPLES];
	res->lost = c.v[CPU_CNT_LOST] + r->in.dropped;
	res->truncated = c.v[CPU_CNT_KSTACK_TRUNCATED] + c.v[CPU_CNT_USTACK_TRUNCATED];
	res->failed_walks = c.v[CPU_CNT_STACK_FAILED];
	res->before_exec = r->in.before_exec;
	res->kept = r->stacks.total;
	unwind_stats(r, &c, &res->unwind);
	if (res->unwind.on)
		pr_debug("unwind: %" PRIu64 " files, %" PRIu64 " rows, %.2f MiB of table entries, %" PRIu64
			 " processes; the maps hold %.2f MiB of kernel memory (rows may grow to %.0f MiB); "
			 "built in %.1f ms (%" PRIu64 " read from the cache); %" PRIu64 " samples reached "
			 "a file before its table was built",
			 res->unwind.files, res->unwind.rows, (double)res->unwind.entries * 8 / (1 << 20),
			 res->unwind.procs, (double)res->unwind.kernel_bytes / (1 << 20),
			 (double)res->unwind.limit_bytes / (1 << 20), (double)res->unwind.build_ns / 1e6,
			 res->unwind.cached, r->in.pending);
	if (!collector__prog_stats(r->col, &runs, &ns) && runs)
		pr_debug("bpf: on_cpu_sample ran %" PRIu64 " times, %" PRIu64 " ns each (kernel.bpf_stats_enabled)",
			 runs, ns / runs);
	if (res->truncated)
		pr_warn("%" PRIu64 " stacks reached %u frames and may be cut short at the root end",
			res->truncated, BPPROF_MAX_STACK);
	if (res->failed_walks)
		pr_warn("%" PRIu64 " samples have a stack that could not be walked (kept, with the "
			"frames that were)", res->failed_walks);
	if (c.v[CPU_CNT_PIDS_FULL])
		pr_warn("%" PRIu64 " child processes could not be followed (more than %u)",
			c.v[CPU_CNT_PIDS_FULL], COLLECT_MAX_PIDS);
	if (c.v[CPU_CNT_EVENTS_LOST])
		pr_warn("%" PRIu64 " exec events were lost (ring buffer full): some frames may be "
			"symbolized with the image before exec", c.v[CPU_CNT_EVENTS_LOST]);
	if (!res->kept && !r->o->interval)
		pr_warn("no samples: %s", r->o->command || r->o->n_pids ? "the target did not run on "
			"a CPU during the capture" : "nothing ran on a CPU during the capture");
}

static void offcpu_result(struct recorder *r, struct capture_result *res)
{
	struct capture_offcpu_result *o = &res->offcpu;
	struct collect_counters c;

	if (offcpu_collector__counters(r->ocol, &c))
		pr_warn("cannot read the BPF loss counters");
	o->switch_out = offcpu_collector__walks_on_switch_out(r->ocol);
	o->waits = c.v[OFFCPU_CNT_WAITS];
	o->waits_ns = c.v[OFFCPU_CNT_WAITS_NS];
	o->kept = r->oin.received;
	o->kept_ns = r->oin.received_ns;
	o->lost = c.v[OFFCPU_CNT_LOST] + r->oin.dropped;
	o->lost_ns = c.v[OFFCPU_CNT_LOST_NS] + r->oin.dropped_ns;
	o->short_waits = c.v[OFFCPU_CNT_SHORT];
	o->short_ns = c.v[OFFCPU_CNT_SHORT_NS];
	o->truncated = c.v[OFFCPU_CNT_KSTACK_TRUNCATED] + c.v[OFFCPU_CNT_USTACK_TRUNCATED];
	o->failed_walks = c.v[OFFCPU_CNT_STACK_FAILED];
	if (o->lost)
		pr_warn("%" PRIu64 " off-CPU waits (%.3f s) were lost (ring buffer full): the profile "
			"misses them", o->lost, (double)o->lost_ns / 1e9);
	if (c.v[OFFCPU_CNT_NO_STORAGE])
		pr_warn("%" PRIu64 " switches off the CPU could not be timed (no per-thread storage): "
			"their waits are missing", c.v[OFFCPU_CNT_NO_STORAGE]);
	if (c.v[OFFCPU_CNT_UNSEEN] && !o->switch_out)
		pr_warn("%" PRIu64 " waits (%.3f s) ended unseen (the kernel did not trace their "
			"thread's return to a CPU): the profile misses them", c.v[OFFCPU_CNT_UNSEEN],
			(double)c.v[OFFCPU_CNT_UNSEEN_NS] / 1e9);
	if (o->truncated)
		pr_warn("%" PRIu64 " off-CPU stacks reached %u frames and may be cut short at the root "
			"end", o->truncated, BPPROF_MAX_STACK);
	if (o->failed_walks)
		pr_warn("%" PRIu64 " waits have a stack that could not be walked (kept, with the "
			"frames that were)", o->failed_walks);
	if (c.v[OFFCPU_CNT_PIDS_FULL])
		pr_warn("%" PRIu64 " child processes could not be followed (more than %u)",
			c.v[OFFCPU_CNT_PIDS_FULL], COLLECT_MAX_PIDS);
	if (!o->kept && !r->o->interval) {
		char what[64];

		offcpu__describe_min(r->o->offcpu_min_ns, what, sizeof(what));
		pr_warn("no off-CPU %s ended during the capture%s", what, o->short_waits ?
			" (lower --off-cpu-min to see the shorter ones)" : "");
	}
}

static void heap_result(struct recorder *r, struct capture_result *res)
{
	struct capture_heap_result *h = &res->heap;
	struct collect_counters c;

	if (heap_collector__counters(r->hcol, &c))
		pr_warn("cannot read the BPF loss counters");
	h->calls = c.v[HEAP_CNT_CALLS];
	h->sampled = c.v[HEAP_CNT_SAMPLED];
	h->kept = r->heap.allocs;
	h->freed = r->heap.frees;
	h->lost = c.v[HEAP_CNT_LOST] + r->hin.dropped;
	h->frees_lost = c.v[HEAP_CNT_FREES_LOST];
	h->untracked = r->heap.untracked;
	h->free_unseen = c.v[HEAP_CNT_FREE_UNSEEN];
	h->truncated = c.v[HEAP_CNT_USTACK_TRUNCATED];
	h->failed_walks = c.v[HEAP_CNT_STACK_FAILED];
	h->mode = r->hm.mode;
	memcpy(h->why, r->hm.why, sizeof(h->why));
	if (c.v[HEAP_CNT_PRELOAD_NO_CALLER])
		pr_warn("%" PRIu64 " allocation stacks could not be walked past the preload library: "
			"they hold the allocator's caller alone", c.v[HEAP_CNT_PRELOAD_NO_CALLER]);
	h->unwind_fallback = c.unwind[UNWIND_CNT_FALLBACK];
	h->unwind_cut = c.unwind[UNWIND_CNT_CUT];
	if (!res->unwind.on)
		unwind_stats(r, &c, &res->unwind);
	if (h->lost)
		pr_warn("%" PRIu64 " sampled allocations were lost (ring buffer full): the alloc and "
			"inuse values miss them", h->lost);
	if (h->frees_lost)
		pr_warn("%" PRIu64 " frees of sampled blocks were lost (ring buffer full): inuse "
			"counts those blocks as still held", h->frees_lost);
	if (h->untracked)
		pr_warn("%" PRIu64 " sampled blocks did not fit the live-allocation map: their frees "
			"cannot be seen and inuse counts them as held (raise --heap-live, now %u)",
			h->untracked, r->o->heap_live);
	if (c.v[HEAP_CNT_NO_THREAD])
		pr_warn("%" PRIu64 " allocation calls were ignored: no per-thread state could be "
			"made", c.v[HEAP_CNT_NO_THREAD]);
	if (c.v[HEAP_CNT_MAPPED_LOST])
		pr_warn("%" PRIu64 " library mappings were not seen (ring buffer full): an allocator "
			"loaded then may not be probed", c.v[HEAP_CNT_MAPPED_LOST]);
	if (h->truncated)
		pr_warn("%" PRIu64 " allocation stacks reached %u frames and may be cut short at the "
			"root end", h->truncated, BPPROF_MAX_STACK);
	if (!h->kept && h->objects && !r->o->interval)
		pr_warn("no sampled allocations: %s", r->o->heap_rate ? "the target allocated less "
			"than the sampling rate, or nothing (try --heap-rate 0)" :
			"the target allocated nothing during the capture");
}

int capture__check(const struct capture_opts *o, struct errmsg *e)
{
	struct recorder r = {
		.o = o, .epfd = -1, .sigfd = -1, .tickfd = -1, .endfd = -1, .winfd = -1,
	};
	int err;

	if (o->n_pids > CAPTURE_MAX_PIDS)
		return errmsg__set(e, -E2BIG, "at most %u pids", CAPTURE_MAX_PIDS);
	sigemptyset(&r.blocked);
	sigprocmask(SIG_BLOCK, &r.blocked, &r.old_mask);
	err = setup(&r, e);
	teardown(&r);
	return err;
}

int capture__run(const struct capture_opts *o, struct capture_result *res, struct errmsg *e)
{
	struct recorder r = {
		.o = o, .epfd = -1, .sigfd = -1, .tickfd = -1, .endfd = -1, .winfd = -1,
	};
	struct collect_counters c = { 0 };
	struct errmsg cut_err = { "" };
	struct timespec wall;
	int err, cerr;

	memset(res, 0, sizeof(*res));
	if (o->n_pids > CAPTURE_MAX_PIDS)
		return errmsg__set(e, -E2BIG, "at most %u pids", CAPTURE_MAX_PIDS);
	/* Blocked before any child exists, so none of these is missed. */
	sigemptyset(&r.blocked);
	sigaddset(&r.blocked, SIGINT);
	sigaddset(&r.blocked, SIGTERM);
	sigaddset(&r.blocked, SIGCHLD);
	sigaddset(&r.blocked, SIGHUP);
	sigprocmask(SIG_BLOCK, &r.blocked, &r.old_mask);
	err = setup(&r, e);
	if (err)
		goto out;
	clock_gettime(CLOCK_REALTIME, &wall);
	clock_gettime(CLOCK_MONOTONIC, &r.start);
	r.win.wall0 = (int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec;
	r.win.mono0 = r.win.sym_born = r.start;
	if (o->command) {
		err = spawn(&r, o->command, e);
		if (err)
			goto out;
		res->command_pid = r.child;
	}
	err = arm_timer(r.tickfd, TICK_MS / 1000.0, TICK_MS / 1000.0);
	if (!err && o->seconds > 0)
		err = arm_timer(r.endfd, o->seconds, 0);
	if (!err && o->interval > 0)
		err = arm_timer(r.winfd, o->interval, o->interval);
	if (err) {
		errmsg__set(e, err, "timerfd: %s", strerror(-err));
		goto out;
	}

	err = loop(&r, res, e);
	if (err && r.heap_err.text[0])
		errmsg__set(e, err, "%s", r.heap_err.text);
	else if (err && !e->text[0])
		errmsg__set(e, err, "capture stopped early: %s", strerror(-err));
	if (r.col)
		collector__stop(r.col);
	offcpu_collector__stop(r.ocol);
	if (r.hcol)
		heap_collector__stop(r.hcol);
	res->seconds = since(&r.start);
	if (!r.in.fatal && !r.hin.fatal && !err) {
		err = consume(&r, true, true);
		if (err)
			errmsg__set(e, err, "draining the ring buffer: %s", strerror(-err));
	}
	show_progress(&r, &c, true);
	if (r.col)
		cpu_result(&r, res);
	if (r.ocol)
		offcpu_result(&r, res);
	if (r.hcol) {
		res->heap.objects = heap_collector__n_probed(r.hcol);
		heap_result(&r, res);
	}
	/* What was captured is handed over even after an error; the capture's
	 * own error comes first. */
	cerr = cut_window(&r, true, &cut_err);
	if (!err && cerr)
		err = errmsg__set(e, cerr, "%s", cut_err.text);
	/* A heap profile with no allocator probed would only look empty. */
	if (!err && r.hcol && !res->heap.objects)
		err = errmsg__set(e, -ENOENT, "%s: no allocator was found to probe: no object it "
				  "mapped defines malloc or free",
				  o->command ? o->command[0] : "the target");
out:
	/* never left stopped by a capture that ended between stops */
	if (r.child && (r.hcol || r.unw))
		kill(r.child, SIGCONT);
	/* The command outlives a capture cut by -d or an error (or was never
	 * let run). */
	if (!res->command_exited)
		res->command_pid = r.child;
	teardown(&r);
	return err;
}
