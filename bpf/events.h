/* Records the BPF programs put in the ring buffer, shared with user space.
 * Fixed-width fields only; every record starts with its type and size, and
 * the sizes are asserted so the two sides cannot drift apart. */
#ifndef BPPROF_BPF_EVENTS_H
#define BPPROF_BPF_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define BPPROF_MAX_STACK	127	/* frames per stack: the kernel's perf_event_max_stack */
#define BPPROF_COMM_LEN		16	/* TASK_COMM_LEN */

enum bpprof_event_type {
	EV_CPU_SAMPLE = 1,
	EV_EXEC = 2,		/* a process replaced its image: its maps changed */
	EV_HEAP_ALLOC = 3,	/* a sampled allocation */
	EV_HEAP_FREE = 4,	/* a sampled allocation was freed */
	EV_HEAP_MAPPED = 5,	/* a heap target exec'd or loaded objects: probe it */
	EV_OFFCPU = 6,		/* a thread ran again after a wait of at least min_ns */
	EV_LINKMAP = 7,		/* the command's dynamic linker mapped objects (a struct
				 * exec_event): it waits, stopped, for their unwind tables */
};

/* Flags of every record that carries stacks (cpu_sample, heap_alloc): the
 * same bits in each, set by the stack walks of common.bpf.h. */
enum {
	KSTACK_TRUNCATED = 1 << 0,	/* as deep as max_frames: maybe cut */
	USTACK_TRUNCATED = 1 << 1,
	KSTACK_FAILED = 1 << 2,		/* the walk failed: no frames */
	USTACK_FAILED = 1 << 3,
	USTACK_PENDING = 1 << 5,	/* the walk reached code whose unwind table is not
					 * built yet: user space builds the tables of the
					 * files its frames are in */
};

/* cpu_sample.flags and offcpu_sample.flags, beside the stack ones */
enum {
	SAMPLE_MAPPED = 1 << 4,		/* the process mapped or unmapped code since
					 * its previous sample */
	OFFCPU_NOTICE = 1 << 6,		/* no wait: a thread of a process new to user
					 * space (or that mapped code) left the CPU;
					 * read its maps while it waits */
};

/* Indexes of each program's per-CPU `counters` array: every loss is
 * counted. The stack walks' counters (common.bpf.h's) come first, at the
 * same index in every program; then each program's own, named with its
 * prefix. */
enum stack_counter {
	STACK_CNT_KERNEL_TRUNCATED,	/* kernel stacks as deep as max_frames */
	STACK_CNT_USER_TRUNCATED,
	STACK_CNT_FAILED,		/* records with a failed walk (one or more) */
	STACK_CNT_MAX
};

enum cpu_counter {
	CPU_CNT_KSTACK_TRUNCATED = STACK_CNT_KERNEL_TRUNCATED,
	CPU_CNT_USTACK_TRUNCATED = STACK_CNT_USER_TRUNCATED,
	CPU_CNT_STACK_FAILED = STACK_CNT_FAILED,
	CPU_CNT_SAMPLES = STACK_CNT_MAX,	/* perf events that passed the filters */
	CPU_CNT_LOST,			/* ring buffer full: sample dropped */
	CPU_CNT_EVENTS_LOST,		/* exec records dropped (ring buffer full) */
	CPU_CNT_PIDS_FULL,		/* a child could not join the followed pid set */
	CPU_CNT_MAX
};

struct event_header {
	__u32 type;		/* enum bpprof_event_type */
	__u32 size;		/* of the whole record */
};

struct cpu_sample {
	struct event_header hdr;
	__u64 time_ns;		/* CLOCK_MONOTONIC */
	__u64 start_boottime;	/* of the thread group leader, ns (pid reuse key) */
	__u32 pid;		/* tgid */
	__u32 tid;
	__u32 cpu;
	__u32 flags;
	__u32 kstack_len;	/* frames used in kstack */
	__u32 ustack_len;
	char comm[BPPROF_COMM_LEN];	/* the process (thread group leader) */
	char thread_comm[BPPROF_COMM_LEN];
	__u64 kstack[BPPROF_MAX_STACK];	/* leaf first */
	__u64 ustack[BPPROF_MAX_STACK];
};

/* heap_alloc.flags, beside the stack ones */
enum {
	HEAP_UNTRACKED = 1 << 4,	/* the live map was full: its free will not be seen */
};

/* Indexes of heap.bpf.c's per-CPU `counters` array. It walks no kernel
 * stacks: index STACK_CNT_KERNEL_TRUNCATED stays 0. */
enum heap_counter {
	HEAP_CNT_USTACK_TRUNCATED = STACK_CNT_USER_TRUNCATED,
	HEAP_CNT_STACK_FAILED = STACK_CNT_FAILED,
	HEAP_CNT_CALLS = STACK_CNT_MAX,	/* allocation calls (outermost only) */
	HEAP_CNT_SAMPLED,		/* of those, sampled */
	HEAP_CNT_LOST,			/* sampled, but the ring buffer was full: dropped */
	HEAP_CNT_FREES_LOST,		/* frees of sampled blocks not reported (ring full) */
	HEAP_CNT_LIVE_FULL,		/* sampled blocks the live map had no room for */
	HEAP_CNT_FREE_UNSEEN,		/* an address came back from the allocator still
					 * live: its free went by unprobed */
	HEAP_CNT_NO_THREAD,		/* no per-thread state could be made: call ignored */
	HEAP_CNT_MAPPED_LOST,		/* exec/link-map notices lost (ring full) */
	HEAP_CNT_PRELOAD_FREES,		/* preload mode: frees of sampled blocks reported */
	HEAP_CNT_PRELOAD_NO_CALLER,	/* preload mode: the walk never reached the
					 * allocator's caller: the stack is that caller alone */
	HEAP_CNT_MAX
};

/* Values of heap.bpf.c's `targets` map: what to do when a target execs or
 * its dynamic linker loads objects. */
enum heap_target { HEAP_TARGET_REPORT = 0, HEAP_TARGET_STOP = 1 };

/* enum heap_kind: how an allocator function takes its arguments. */
enum {
	HEAP_MALLOC,		/* (size): malloc, valloc, pvalloc */
	HEAP_CALLOC,		/* (n, size) */
	HEAP_REALLOC,		/* (ptr, size) */
	HEAP_REALLOCARRAY,	/* (ptr, n, size) */
	HEAP_POSIX_MEMALIGN,	/* (&ptr, align, size) → 0 */
	HEAP_ALIGNED,		/* (align, size): aligned_alloc, memalign */
	HEAP_FREE,		/* (ptr) */
	HEAP_MMAP,		/* (addr, len, prot, flags, fd, off): anonymous ones only */
	HEAP_MUNMAP,		/* (addr, len): as free(addr) */
	HEAP_LINKMAP,		/* the dynamic linker's _dl_debug_state(): objects were
				 * mapped or unmapped (startup, dlopen, dlclose) */
	HEAP_KINDS
};

struct heap_alloc {
	struct event_header hdr;
	__u64 time_ns;		/* CLOCK_MONOTONIC */
	__u64 start_boottime;	/* of the thread group leader, ns */
	__u64 id;		/* names the block in a later heap_free */
	__u64 addr;
	__u64 size;		/* as requested */
	__u32 pid;		/* tgid */
	__u32 tid;
	__u32 flags;
	__u32 ustack_len;
	char comm[BPPROF_COMM_LEN];
	char thread_comm[BPPROF_COMM_LEN];
	__u64 ustack[BPPROF_MAX_STACK];	/* leaf first: [0] is the return address into
					 * the allocator's caller */
};

struct heap_free {
	struct event_header hdr;
	__u64 id;
};

struct heap_mapped {
	struct event_header hdr;
	__u64 start_boottime;	/* of the thread group leader, ns */
	__u32 pid;
	__u32 stopped;		/* 1: the process waits, SIGSTOPped, for SIGCONT */
	__u32 exec;		/* 1: a new image (its old blocks are gone) */
	__u32 pad;
};

/* Indexes of offcpu.bpf.c's per-CPU `counters` array. The _NS ones add up
 * nanoseconds, the others count. */
enum offcpu_counter {
	OFFCPU_CNT_KSTACK_TRUNCATED = STACK_CNT_KERNEL_TRUNCATED,
	OFFCPU_CNT_USTACK_TRUNCATED = STACK_CNT_USER_TRUNCATED,
	OFFCPU_CNT_STACK_FAILED = STACK_CNT_FAILED,
	OFFCPU_CNT_WAITS = STACK_CNT_MAX,	/* waits of min_ns or more that ended */
	OFFCPU_CNT_WAITS_NS,
	OFFCPU_CNT_SHORT,		/* waits shorter than min_ns: not recorded */
	OFFCPU_CNT_SHORT_NS,
	OFFCPU_CNT_LOST,		/* recorded, but the ring buffer was full: dropped */
	OFFCPU_CNT_LOST_NS,
	OFFCPU_CNT_NO_STORAGE,		/* a switch-out not timed: no per-thread state */
	OFFCPU_CNT_UNSEEN,		/* waits whose end was not traced, found at the next */
	OFFCPU_CNT_UNSEEN_NS,		/* switch-out: lost (6.16+) or timed then (older) */
	OFFCPU_CNT_EVENTS_LOST,		/* exec records and notices dropped (ring full) */
	OFFCPU_CNT_PIDS_FULL,		/* a child could not join the followed pid set */
	OFFCPU_CNT_MAX
};

/* What the thread was doing when it left the CPU: offcpu_sample.state. */
enum offcpu_state {
	OFFCPU_RUNNABLE,	/* preempted or yielded: it waited for a CPU */
	OFFCPU_SLEEPING,	/* TASK_INTERRUPTIBLE: waiting for an event (S) */
	OFFCPU_UNINTERRUPTIBLE,	/* TASK_UNINTERRUPTIBLE: usually I/O (D) */
	OFFCPU_IDLE,		/* TASK_IDLE: a kernel thread with nothing to do (I) */
	OFFCPU_STOPPED,		/* stopped or traced (T, t) */
	OFFCPU_OTHER,
	OFFCPU_STATES
};

/* A wait: the thread's stacks when it left the CPU, and for how long. */
struct offcpu_sample {
	struct event_header hdr;
	__u64 time_ns;		/* CLOCK_MONOTONIC, when it ran again */
	__u64 blocked_ns;	/* off the CPU for this long */
	__u64 start_boottime;	/* of the thread group leader, ns (pid reuse key) */
	__u32 pid;		/* tgid */
	__u32 tid;
	__u32 state;		/* enum offcpu_state */
	__u32 flags;		/* stack flags, SAMPLE_MAPPED, OFFCPU_NOTICE */
	__u32 kstack_len;
	__u32 ustack_len;
	char comm[BPPROF_COMM_LEN];
	char thread_comm[BPPROF_COMM_LEN];
	__u64 kstack[BPPROF_MAX_STACK];	/* leaf first */
	__u64 ustack[BPPROF_MAX_STACK];
};

struct exec_event {
	struct event_header hdr;
	__u64 time_ns;
	__u64 start_boottime;
	__u32 pid;
	__u32 stopped;		/* 1: SIGSTOPped until user space has loaded its unwind
				 * tables and sends SIGCONT */
};

_Static_assert(sizeof(struct cpu_sample) == 80 + 2 * 8 * BPPROF_MAX_STACK, "cpu_sample layout");
_Static_assert(sizeof(struct exec_event) == 32, "exec_event layout");
/* The walks' flags and each record's own share one field: no bit twice. */
_Static_assert(((KSTACK_TRUNCATED | USTACK_TRUNCATED | KSTACK_FAILED | USTACK_FAILED |
		 USTACK_PENDING) & (SAMPLE_MAPPED | OFFCPU_NOTICE | HEAP_UNTRACKED)) == 0 &&
	       (SAMPLE_MAPPED & OFFCPU_NOTICE) == 0, "record flags overlap");
_Static_assert(sizeof(struct heap_alloc) == 96 + 8 * BPPROF_MAX_STACK, "heap_alloc layout");
_Static_assert(sizeof(struct heap_free) == 16, "heap_free layout");
_Static_assert(sizeof(struct heap_mapped) == 32, "heap_mapped layout");
_Static_assert(sizeof(struct offcpu_sample) == 88 + 2 * 8 * BPPROF_MAX_STACK, "offcpu_sample layout");

#endif
