/* Aggregated stacks, symbolized, as pprof profiles: CPU (samples/count,
 * cpu/nanoseconds, period 1e9/Hz; off_cpu/nanoseconds too when the table
 * also holds waits), off-CPU (off_cpu_samples/count, off_cpu/nanoseconds)
 * and heap (alloc_objects, alloc_space, inuse_objects, inuse_space; period
 * space/bytes = the sampling rate). Labels pid, tid, comm, thread_comm, and
 * state on waits; kernel frames at the leaf end. */
#ifndef BPPROF_AGENT_PROFILE_H
#define BPPROF_AGENT_PROFILE_H
#include <stdbool.h>
#include <stdint.h>

#include "base/errmsg.h"
#include "heap/heap.h"
#include "pprof/profile.h"
#include "stacks/stacks.h"
#include "symbolize/symbolize.h"

struct profile_stats {
	uint64_t frames;		/* frames over all samples, each counted per sample */
	uint64_t unsymbolized;		/* of those, without a function name */
};

struct cpu_profile_opts {
	unsigned freq;			/* Hz: the period is 1e9/freq ns */
	int64_t time_nanos;		/* wall clock at the window's start */
	int64_t duration_nanos;
	bool group_by_process;		/* the process name as the root frame */
	bool several_processes;		/* no main binary: see profile_spec */
	bool offcpu;			/* the table holds off-CPU waits too (tagged) */
};

struct offcpu_profile_opts {
	int64_t time_nanos;
	int64_t duration_nanos;
	bool group_by_process;
	bool several_processes;
	const char *comment;		/* NULL: none */
};

struct heap_profile_opts {
	int64_t time_nanos;
	int64_t duration_nanos;
	bool group_by_process;
	bool started_before;		/* the targets ran before the capture: say what is missing */
	bool several_processes;
};

/* NULL with errno and e set. */
struct pprof_profile *cpu_profile__build(const struct stacks *t, struct symbolizer *sym,
					 const struct cpu_profile_opts *o,
					 struct profile_stats *st, struct errmsg *e);
struct pprof_profile *offcpu_profile__build(const struct stacks *t, struct symbolizer *sym,
					    const struct offcpu_profile_opts *o,
					    struct profile_stats *st, struct errmsg *e);
struct pprof_profile *heap_profile__build(const struct heap_table *h, struct symbolizer *sym,
					  const struct heap_profile_opts *o,
					  struct profile_stats *st, struct errmsg *e);

#endif
