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
};

/* cpu_sample.flags */
enum {
	SAMPLE_KSTACK_TRUNCATED = 1 << 0,	/* as deep as BPPROF_MAX_STACK: maybe cut */
	SAMPLE_USTACK_TRUNCATED = 1 << 1,
	SAMPLE_KSTACK_FAILED = 1 << 2,		/* bpf_get_stack failed */
	SAMPLE_USTACK_FAILED = 1 << 3,
};

/* Indexes of the per-CPU `counters` array: every loss is counted. */
enum bpprof_counter {
	CNT_SAMPLES,		/* perf events that passed the filters */
	CNT_LOST,		/* ring buffer full: sample dropped */
	CNT_KSTACK_TRUNCATED,
	CNT_USTACK_TRUNCATED,
	CNT_STACK_FAILED,	/* either bpf_get_stack call failed */
	CNT_EVENTS_LOST,	/* exec records dropped (ring buffer full) */
	CNT_PIDS_FULL,		/* a child could not join the followed pid set */
	CNT_MAX
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

struct exec_event {
	struct event_header hdr;
	__u64 time_ns;
	__u64 start_boottime;
	__u32 pid;
	__u32 pad;
};

_Static_assert(sizeof(struct cpu_sample) == 80 + 2 * 8 * BPPROF_MAX_STACK, "cpu_sample layout");
_Static_assert(sizeof(struct exec_event) == 32, "exec_event layout");

#endif
