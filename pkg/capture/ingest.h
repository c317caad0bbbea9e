/* Ring-buffer records into the aggregation table: the per-sample path.
 * Kept apart from the event loop so benchmarks can feed it records. */
#ifndef BPPROF_AGENT_INGEST_H
#define BPPROF_AGENT_INGEST_H
#include <stddef.h>
#include <stdint.h>

#include "bpf/events.h"
#include "heap/heap.h"
#include "stacks/stacks.h"
#include "symbolize/symbolize.h"
#include "unwind/unwind.h"

/* CPU samples and off-CPU waits (records with both stacks of a followed
 * target) into a stacks table: a CPU sample counts 1, a wait counts 1 and
 * its nanoseconds as the value, tagged with its thread state + 1. */
struct cpu_ingest {
	struct symbolizer *sym;
	struct unwinder *unwind;	/* NULL: frame pointers; else each process's tables
					 * are loaded at its first sample, exec, new code */
	bool unwind_at_exec;		/* load at any exec, not only of processes known:
					 * the capture follows a few processes */
	/* The command, held (stopped) at its exec until its tables are
	 * loaded: called then, before it goes on. Non-zero stops ingestion. */
	int (*on_held_exec)(void *ctx, uint32_t pid);
	void *held_ctx;
	struct stacks *stacks;
	uint64_t ns_per_tick;		/* of /proc/PID/stat start times */
	uint64_t received;		/* samples or waits taken into the table */
	uint64_t received_ns;		/* the waits' nanoseconds */
	uint64_t dropped;		/* not kept: table full, malformed record */
	uint64_t dropped_ns;		/* the nanoseconds of waits not kept */
	uint64_t before_exec;		/* samples of await_exec still running our code */
	uint64_t pending;		/* samples whose walk reached a file whose table was
					 * not built yet (USTACK_PENDING) */
	uint32_t await_exec;		/* a child of ours not yet exec'd: skip it */
	char own_comm[16];		/* what that child is called until it execs */
	int fatal;			/* the error that stopped ingestion */
};

void cpu_ingest__init(struct cpu_ingest *in, struct symbolizer *sym, struct stacks *stacks);
/* pid is a child we forked to exec a command: its samples before the exec
 * are of our own code, not the command's (perf's enable_on_exec). */
void cpu_ingest__await_exec(struct cpu_ingest *in, uint32_t pid);
/* A collect_record_fn: ctx is the cpu_ingest. Non-zero only when memory
 * runs out (also left in fatal). */
int cpu_ingest__record(void *ctx, const void *data, size_t size);

struct heap_ingest {
	struct symbolizer *sym;
	struct unwinder *unwind;	/* as cpu_ingest's */
	struct heap_table *heap;
	uint64_t ns_per_tick;
	uint64_t dropped;		/* not kept: table full, malformed record */
	/* A target exec'd or mapped code: probe what is new (and let it go on
	 * if it was stopped). Non-zero stops ingestion. */
	int (*on_mapped)(void *ctx, const struct heap_mapped *m);
	void *mapped_ctx;
	int fatal;
};

void heap_ingest__init(struct heap_ingest *in, struct symbolizer *sym, struct heap_table *heap);
/* A collect_record_fn: ctx is the heap_ingest. */
int heap_ingest__record(void *ctx, const void *data, size_t size);

#endif
