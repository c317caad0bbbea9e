/* The BPF side of an off-CPU capture: the offcpu skeleton's lifecycle (two
 * scheduler tracepoints and the process ones, no perf events), the choice
 * between walking stacks as a thread comes back (Linux 6.16+) or at every
 * switch-out, and its ring buffer. */
#ifndef BPPROF_COLLECT_OFFCPU_H
#define BPPROF_COLLECT_OFFCPU_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errmsg.h"
#include "bpf/events.h"
#include "collect/collect.h"

#define OFFCPU_DEFAULT_MIN_NS	1000000ull		/* --off-cpu-min: 1 ms */
#define OFFCPU_MAX_MIN_NS	(3600ull * 1000000000)	/* an hour */
/* The ring holds about a second of this many recorded waits per CPU at the
 * default threshold, proportionally more under it, up to the most (past a
 * quarter of it the reader is woken). Its pages count twice in the
 * process's RSS (libbpf maps the data area twice): 1 MiB at the default on
 * 2 CPUs; 8 MiB kept up with 780,000 waits a second (--off-cpu-min 0)
 * without a loss here. */
#define OFFCPU_RING_WAITS	128u
#define OFFCPU_RING_WAITS_MAX	1024u

_Static_assert(OFFCPU_CNT_MAX <= COLLECT_MAX_COUNTERS, "collect_counters too small");

struct offcpu_collect_opts {
	uint64_t min_ns;		/* shorter waits are counted, not recorded */
	bool filter_pids;		/* only pids added with offcpu_collector__add_pid */
	bool follow_children;		/* and processes they start */
	const char *cgroup;		/* cgroup v2 directory; NULL: any */
	bool kernel_stacks, user_stacks;
	bool walk_on_switch_out;	/* as on kernels before 6.16, even on later ones */
	struct collect_unwind unwind;	/* the user stacks' tables (shared with cpu's) */
	collect_record_fn *on_record;
	void *ctx;
};

struct offcpu_collector;

/* Load and attach; NULL with errno and e saying what to do about it. */
struct offcpu_collector *offcpu_collector__new(const struct offcpu_collect_opts *o,
					       struct errmsg *e);
void offcpu_collector__free(struct offcpu_collector *c);
/* Detach: no wait ends after this; records already in the ring stay. */
void offcpu_collector__stop(struct offcpu_collector *c);
int offcpu_collector__add_pid(struct offcpu_collector *c, uint32_t pid);
int offcpu_collector__epoll_fd(const struct offcpu_collector *c);
/* Hand every waiting record to on_record: count, or negative errno. */
int offcpu_collector__consume(struct offcpu_collector *c);
/* enum offcpu_counter, summed over CPUs. */
int offcpu_collector__counters(const struct offcpu_collector *c, struct collect_counters *out);
/* True when stacks are walked at every switch-out (no sched_exit_tp). */
bool offcpu_collector__walks_on_switch_out(const struct offcpu_collector *c);
size_t offcpu_collector__ring_bytes(const struct offcpu_collector *c);
/* Waits per CPU per second the ring is sized for at this threshold. */
unsigned offcpu__ring_waits(uint64_t min_ns);
/* "waits of 1 ms or more", "waits of 250 us or more", "all waits" (min 0):
 * what a profile with this threshold holds, for messages and comments. */
void offcpu__describe_min(uint64_t min_ns, char *buf, size_t len);

#endif
