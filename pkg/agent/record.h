/* The record job: one capture of CPU stacks (whole-system, some pids, a
 * cgroup or a command it starts) and/or of heap allocations (some pids or
 * the command), from the BPF ring buffers to pprof (or folded) files. */
#ifndef BPPROF_AGENT_RECORD_H
#define BPPROF_AGENT_RECORD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/errmsg.h"
#include "collect/collect.h"
#include "compress/compress.h"
#include "convert/convert.h"

struct pprof_profile;

#define RECORD_DEFAULT_FREQ	99u
#define RECORD_DEFAULT_SECONDS	10.0
#define RECORD_MAX_PIDS		1024u		/* -p list */
#define RECORD_STACKS_LIMIT	(512u << 20)	/* aggregation table bytes per window */

/* One capture window's profile, handed to record_opts.on_window. */
enum record_kind { RECORD_CPU, RECORD_HEAP };

struct record_window {
	enum record_kind kind;
	/* Freed when on_window returns, unless on_window takes it: it sets
	 * profile to NULL and frees it later (pprof_profile__free). */
	struct pprof_profile *profile;
	unsigned seq;			/* 1, 2, ... per kind */
	int64_t time_nanos;		/* wall clock at the window's start */
	int64_t duration_nanos;
	uint64_t samples;		/* cpu: sampled by BPF; heap: sampled allocations */
	uint64_t lost;			/* of those, dropped */
	uint64_t kept;			/* in the profile: cpu samples, heap allocations */
	double unsymbolized;		/* share of frames without a function name */
	bool last;			/* the capture ends with it */
};

/* 0, or a negative errno that ends the capture. */
typedef int record_window_fn(void *ctx, struct record_window *w);

struct record_opts {
	bool cpu, heap;			/* what to capture: at least one */
	unsigned freq;			/* Hz */
	double seconds;			/* > 0: stop after; 0: until the command exits */
	const uint32_t *pids;
	size_t n_pids;
	const char *cgroup;
	const char *output;		/* the CPU profile; "-" is stdout */
	const char *heap_output;	/* the heap profile */
	uint64_t heap_rate;		/* mean bytes between samples; 0: every allocation */
	uint32_t heap_live;		/* sampled blocks tracked at once */
	bool heap_mmap;			/* anonymous mmap/munmap as allocations too */
	enum convert_format format;	/* FORMAT_PPROF or FORMAT_FOLDED */
	enum compress_kind compress;
	int level;
	bool kernel_stacks, user_stacks;
	bool group_by_process;
	enum collect_event event;
	char *const *command;		/* argv to start and profile, or NULL */
	bool progress;			/* redraw a status line on stderr */
	/* The daemon: when on_window is set, profiles go to it instead of
	 * files, one per kind every interval seconds (0: once, at the end).
	 * Every sample lands in exactly one window. */
	double interval;
	record_window_fn *on_window;
	void *window_ctx;
	/* SIGHUP: called, and the capture goes on; NULL: SIGHUP ends it. */
	void (*on_hangup)(void *ctx);
};

struct record_heap_result {
	uint64_t calls;			/* allocation calls seen */
	uint64_t sampled;		/* of those, sampled */
	uint64_t kept;			/* sampled allocations in the profile */
	uint64_t freed;			/* of those, freed during the capture */
	uint64_t lost;			/* sampled, dropped: ring buffer or table full */
	uint64_t frees_lost;		/* frees of sampled blocks not reported */
	uint64_t untracked;		/* live map full: their frees could not be seen */
	uint64_t free_unseen;		/* blocks freed without a probed free */
	uint64_t truncated, failed_walks;
	unsigned objects;		/* allocator objects probed */
	double unsymbolized;
	bool written;
};

struct record_result {
	uint64_t samples;		/* sampled by BPF */
	uint64_t lost;			/* dropped: ring buffer full, table full, bad record */
	uint64_t kept;			/* in the profile */
	uint64_t truncated;		/* stacks as deep as the limit */
	uint64_t failed_walks;		/* samples whose stack walk failed */
	uint64_t before_exec;		/* of the command's process before its exec: not kept */
	double unsymbolized;		/* share of frames without a function name */
	double seconds;			/* captured */
	bool interrupted;		/* ended by SIGINT/SIGTERM */
	bool written;			/* the output exists */
	pid_t command_pid;		/* 0: no command */
	int command_status;		/* wait status, when command_exited */
	bool command_exited;
	unsigned pids_exited;		/* -p targets that ended during the capture */
	struct record_heap_result heap;
};

/* 0 when the profiles were written. On error e says what; if samples were
 * captured before it, they are still written and r->written (and
 * r->heap.written) say so. */
int record__run(const struct record_opts *o, struct record_result *r, struct errmsg *e);

#endif
