/* The BPF side of a capture: the cpu skeleton's lifecycle (open, configure
 * rodata and map sizes, load, attach), one perf event per online CPU, and the
 * ring buffer, consumed through an epoll fd the caller waits on. */
#ifndef BPPROF_COLLECT_COLLECT_H
#define BPPROF_COLLECT_COLLECT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errmsg.h"
#include "bpf/events.h"
#include "bpf/unwind.h"

struct unwind_maps;

#define COLLECT_MAX_FREQ	100000u		/* Hz; perf's own ceiling is lower */
#define COLLECT_MAX_PIDS	65536u		/* followed processes at once */
#define COLLECT_SEEN_PIDS	16384u		/* processes remembered as sampled (LRU) */
#define COLLECT_MIN_RING	(64u << 10)	/* bytes: a few records even at 1 Hz */
#define COLLECT_MAX_RING	(256u << 20)

/* The oldest kernel with everything the programs use: ring buffers (5.8),
 * bpf_get_current_task_btf and task storage (5.11), attach cookies (5.15). */
#define COLLECT_MIN_KERNEL_MAJOR	5
#define COLLECT_MIN_KERNEL_MINOR	15

enum collect_event { COLLECT_CPU_CLOCK, COLLECT_CYCLES };

/* Each ring-buffer record, as the BPF program wrote it (size not yet
 * checked). Returning non-zero stops the current consume call. */
typedef int collect_record_fn(void *ctx, const void *data, size_t size);

/* How the programs walk user stacks: from the tables in maps (shared by
 * every program), mode an enum unwind_mode; maps NULL: frame pointers. */
struct collect_unwind {
	struct unwind_maps *maps;
	uint32_t mode;
};

struct collect_opts {
	unsigned freq;			/* samples per second per CPU */
	enum collect_event event;
	bool filter_pids;		/* only pids added with collector__add_pid */
	bool follow_children;		/* and processes they start */
	const char *cgroup;		/* cgroup v2 directory, absolute or under
					 * /sys/fs/cgroup; NULL: any */
	bool kernel_stacks, user_stacks;
	struct collect_unwind unwind;
	const char *cache_dir;		/* where the kernel types CO-RE needs are
					 * kept (corebtf.h); NULL: libbpf reads
					 * all of vmlinux's at every load */
	collect_record_fn *on_record;
	void *ctx;
};

#define COLLECT_MAX_COUNTERS	16

struct collect_counters {
	uint64_t v[COLLECT_MAX_COUNTERS];	/* enum cpu_counter (or heap_counter),
						 * summed over CPUs */
	uint64_t unwind[UNWIND_CNT_MAX];	/* the stack walker's: enum unwind_counter */
};
_Static_assert(CPU_CNT_MAX <= COLLECT_MAX_COUNTERS && HEAP_CNT_MAX <= COLLECT_MAX_COUNTERS,
	       "collect_counters too small");

struct collector;

/* Load and attach everything; NULL with errno and e saying what to do
 * about it (privileges, BTF, an unknown event or cgroup). */
struct collector *collector__new(const struct collect_opts *o, struct errmsg *e);
void collector__free(struct collector *c);

/* Stop sampling: records already in the ring buffer can still be consumed. */
void collector__stop(struct collector *c);
/* Add a process to the filter (filter_pids). */
int collector__add_pid(struct collector *c, uint32_t pid);
/* Stop pid (SIGSTOP) at each of its execs until the EV_EXEC record's
 * reader sends SIGCONT (exec_event.stopped), and after its dynamic linker
 * maps objects once collector__hold_linkmap probed it (EV_LINKMAP). */
void collector__stop_at_exec(struct collector *c, uint32_t pid);
/* Probe the dynamic linker pid maps (its _dl_debug_state: a uprobe in that
 * process only), unless it is already: 0 or negative errno. */
int collector__hold_linkmap(struct collector *c, uint32_t pid);
/* Readable when records wait; then call collector__consume. */
int collector__epoll_fd(const struct collector *c);
/* Hand every waiting record to on_record: count, or negative errno. */
int collector__consume(struct collector *c);
int collector__counters(const struct collector *c, struct collect_counters *out);
/* The kernel's statistics of the sampling program (kernel.bpf_stats_enabled):
 * its runs and their total time; 0 runs while the statistics are off. */
int collector__prog_stats(const struct collector *c, uint64_t *runs, uint64_t *ns);
/* CPUs with an event. */
unsigned collector__ncpus(const struct collector *c);
/* Sample CPUs that came online since the last call (or went offline and
 * back: their old events stay off for good). Cheap: the online list and one
 * read per CPU. The count of events opened, or negative errno. */
int collector__sync_cpus(struct collector *c);
size_t collector__ring_bytes(const struct collector *c);

#endif
