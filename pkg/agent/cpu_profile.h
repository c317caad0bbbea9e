/* A window of aggregated CPU samples, symbolized, as a pprof profile: the
 * cpu convention (samples/count, cpu/nanoseconds, period 1e9/Hz), labels
 * pid, tid, comm, thread_comm, kernel frames at the leaf end of the stack. */
#ifndef BPPROF_AGENT_CPU_PROFILE_H
#define BPPROF_AGENT_CPU_PROFILE_H
#include <stdbool.h>
#include <stdint.h>

#include "base/errmsg.h"
#include "pprof/profile.h"
#include "stacks/stacks.h"
#include "symbolize/symbolize.h"

struct cpu_profile_opts {
	unsigned freq;			/* Hz: the period is 1e9/freq ns */
	int64_t time_nanos;		/* wall clock at the window's start */
	int64_t duration_nanos;
	bool group_by_process;		/* the process name as the root frame */
};

struct cpu_profile_stats {
	uint64_t frames;		/* frames over all samples, each counted per sample */
	uint64_t unsymbolized;		/* of those, without a function name */
};

/* NULL with errno and e set. */
struct pprof_profile *cpu_profile__build(const struct stacks *t, struct symbolizer *sym,
					 const struct cpu_profile_opts *o,
					 struct cpu_profile_stats *st, struct errmsg *e);

#endif
