/* A capture: CPU stacks and/or off-CPU waits (whole system, some pids, a
 * cgroup or a command it starts) and/or heap allocations (some pids or the
 * command), from the BPF ring buffers to pprof profiles, handed to a
 * callback one window at a time: every interval seconds, or once, at the
 * end. `bpprof record` writes its one window to files; `bpprof run` sends
 * each to its sinks. Every sample lands in exactly one window; a wait, in
 * the window in which it ends. */
#ifndef BPPROF_CAPTURE_CAPTURE_H
#define BPPROF_CAPTURE_CAPTURE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/errmsg.h"
#include "collect/collect.h"
#include "collect/preload.h"
#include "unwind/unwind.h"

struct pprof_profile;

#define CAPTURE_MAX_PIDS	1024u		/* -p list */
#define CAPTURE_STACKS_LIMIT	(512u << 20)	/* aggregation table bytes per window */

/* How user stacks are walked (--unwind). */
enum capture_unwind {
	CAPTURE_UNWIND_AUTO,		/* unwind tables where a file has them, frame pointers
					 * elsewhere */
	CAPTURE_UNWIND_DWARF,		/* unwind tables only */
	CAPTURE_UNWIND_FP,		/* frame pointers only */
};

/* The unwind tables: counts since the capture began (a window's: during
 * the window) and the tables' size now. */
struct capture_unwind_stats {
	bool on;			/* stacks were walked from tables */
	uint64_t fallback;		/* stacks walked with frame pointers (in part): their
					 * process's tables, or a file's, were not loaded yet */
	uint64_t cut;			/* stacks that ended at a frame no rule could unwind
					 * (kept, flagged truncated) */
	uint64_t files, rows;		/* tables loaded, and their rows */
	uint64_t entries;		/* rows and index entries in the kernel, 8 bytes each */
	uint64_t build_ns;		/* building them (or reading them) */
	uint64_t cached;		/* files whose table was read from --cache-dir */
	uint64_t procs;			/* processes whose mappings the kernel holds */
	uint64_t kernel_bytes;		/* the tables' BPF maps */
	uint64_t limit_bytes;		/* what the row space may grow to */
	/* limits hit: each a file, process or mapping walked with frame
	 * pointers instead */
	uint64_t files_too_big, tables_full, rules_full, procs_full, maps_dropped;
};

/* One window's profile, handed to capture_opts.on_window. */
enum capture_kind { CAPTURE_CPU, CAPTURE_HEAP, CAPTURE_OFFCPU, CAPTURE_KINDS };

struct capture_window {
	enum capture_kind kind;
	struct pprof_profile *profile;	/* freed after the callback, unless it takes it
					 * (sets this to NULL) */
	unsigned seq;			/* 1, 2, ... per kind */
	int64_t time_nanos;		/* wall clock at the window's start */
	int64_t duration_nanos;
	uint64_t samples;		/* cpu: sampled by BPF; heap: sampled allocations;
					 * off-CPU: waits recorded */
	uint64_t lost;			/* of those, dropped */
	uint64_t kept;			/* in the profile: cpu samples, heap allocations,
					 * waits */
	double unsymbolized;		/* share of frames without a function name */
	struct capture_unwind_stats unwind;	/* this window's counts (its kind's stacks),
						 * the tables now */
	bool last;			/* the capture ends with it */
};

/* 0, or a negative errno (e says why) that ends the capture. */
typedef int capture_window_fn(void *ctx, struct capture_window *w, struct errmsg *e);

struct capture_opts {
	bool cpu, heap, offcpu;		/* what to capture: at least one */
	unsigned freq;			/* Hz */
	double seconds;			/* > 0: stop after; 0: until the command exits */
	const uint32_t *pids;
	size_t n_pids;
	const char *cgroup;
	uint64_t heap_rate;		/* mean bytes between samples; 0: every allocation */
	uint32_t heap_live;		/* sampled blocks tracked at once */
	bool heap_mmap;			/* anonymous mmap/munmap as allocations too */
	uint64_t offcpu_min_ns;		/* shorter waits are counted, not recorded */
	bool offcpu_in_cpu;		/* with cpu: waits go into the CPU window's
					 * profile (off_cpu/nanoseconds), not their own */
	bool offcpu_switch_out;		/* walk stacks at every switch-out, as on kernels
					 * before 6.16, even on later ones */
	enum heap_mode heap_mode;	/* AUTO: preload for a command that can load it */
	bool kernel_stacks, user_stacks;
	enum capture_unwind unwind;
	uint64_t unwind_bytes;		/* kernel memory for the tables' rows; 0: the default */
	bool group_by_process;
	bool no_lines;			/* function names only: no DWARF source lines */
	const char *cache_dir;		/* decompressed debug sections kept between runs;
					 * NULL: not kept */
	bool cache_dir_set;		/* --cache-dir given (else the default, by capture_check) */
	enum collect_event event;
	char *const *command;		/* argv to start and profile, or NULL */
	bool progress;			/* redraw a status line on stderr */
	/* Profiles go to on_window, one per kind every interval seconds (0:
	 * once, at the end: the capture's summary warnings are said then). */
	double interval;
	capture_window_fn *on_window;
	void *window_ctx;
	/* SIGHUP: called, and the capture goes on; NULL: SIGHUP ends it. */
	void (*on_hangup)(void *ctx);
};

struct capture_heap_result {
	uint64_t calls;			/* allocation calls seen */
	uint64_t sampled;		/* of those, sampled */
	uint64_t kept;			/* sampled allocations in the profile */
	uint64_t freed;			/* of those, freed during the capture */
	uint64_t lost;			/* sampled, dropped: ring buffer or table full */
	uint64_t frees_lost;		/* frees of sampled blocks not reported */
	uint64_t untracked;		/* live map full: their frees could not be seen */
	uint64_t free_unseen;		/* blocks freed without a probed free */
	uint64_t truncated, failed_walks;
	uint64_t unwind_fallback, unwind_cut;	/* as capture_unwind_stats's, of heap stacks */
	unsigned objects;		/* allocator objects probed */
	enum heap_mode mode;		/* the one that ran: PRELOAD or UPROBE */
	char why[PRELOAD_WHY_LEN];	/* uprobe mode: why not preload */
};

struct capture_offcpu_result {
	uint64_t waits, waits_ns;	/* of min_ns or more, ended during the capture */
	uint64_t kept, kept_ns;		/* of those, in the profile */
	uint64_t lost, lost_ns;		/* dropped: ring buffer or table full, bad record */
	uint64_t short_waits, short_ns;	/* shorter than min_ns: counted only */
	uint64_t truncated, failed_walks;
	bool switch_out;		/* stacks walked at every switch-out */
};

struct capture_result {
	uint64_t samples;		/* sampled by BPF */
	uint64_t lost;			/* dropped: ring buffer full, table full, bad record */
	uint64_t kept;			/* in the profile */
	uint64_t truncated;		/* stacks as deep as the limit */
	uint64_t failed_walks;		/* samples whose stack walk failed */
	uint64_t before_exec;		/* of the command's process before its exec: not kept */
	double seconds;			/* captured */
	bool interrupted;		/* ended by SIGINT/SIGTERM */
	pid_t command_pid;		/* 0: no command */
	int command_status;		/* wait status, when command_exited */
	bool command_exited;
	unsigned pids_exited;		/* -p targets that ended during the capture */
	struct capture_unwind_stats unwind;	/* of cpu stacks, and the tables */
	struct capture_heap_result heap;
	struct capture_offcpu_result offcpu;
};

/* 0 when the capture ran to its end and every window was taken. On error e
 * says what; the samples captured before it are still handed over, in a
 * last window. A heap capture whose targets defined no allocator is an
 * error (-ENOENT). */
int capture__run(const struct capture_opts *o, struct capture_result *r, struct errmsg *e);
/* What would fail capture__run's start, checked now: the programs load and
 * attach, the pids and cgroup exist, the heap targets have an allocator.
 * Nothing is captured and nothing is left attached. No command (a
 * scheduled capture has none). 0, or a negative errno with e set. */
int capture__check(const struct capture_opts *o, struct errmsg *e);

#endif
