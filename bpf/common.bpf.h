/* SPDX-License-Identifier: GPL-2.0 */
/* What every bpprof BPF program shares: the ring buffer, the loss counters
 * and the two settings user space finds under the same names in each
 * skeleton, the reader's wake-up policy, who a record is about, and the
 * stack walks (user stacks from unwind tables: unwind.bpf.h). A program
 * defines BPPROF_COUNTERS (its counter enum's _MAX) and includes this once;
 * nothing here is for user space. */
#ifndef BPPROF_BPF_COMMON_BPF_H
#define BPPROF_BPF_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "events.h"

#ifndef BPPROF_COUNTERS
#error "define BPPROF_COUNTERS (the size of the program's counters) before common.bpf.h"
#endif

/* Set by user space before load. */
const volatile __u64 wakeup_bytes = 0;		/* wake the reader past this backlog */
const volatile __u32 max_frames = BPPROF_MAX_STACK;	/* kernel.perf_event_max_stack may be lower */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);	/* sized from the rate by user space */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BPPROF_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		(*c)++;
}

#include "unwind.bpf.h"

/* Batch wake-ups: the reader also drains on its own timer, so waking it for
 * every record would only burn CPU on both sides. */
static __always_inline __u64 submit_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ?
		       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Who a record is about: the current thread's tgid and tid, the process's
 * name (its thread group leader's) and the thread's own, and the leader's
 * start time, which tells a process from a later one given the same pid. */
static __always_inline void fill_identity(__u64 *start_boottime, __u32 *pid, __u32 *tid,
					  char (*comm)[BPPROF_COMM_LEN],
					  char (*thread_comm)[BPPROF_COMM_LEN])
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	__u64 id = bpf_get_current_pid_tgid();

	*start_boottime = BPF_CORE_READ(leader, start_boottime);
	*pid = id >> 32;
	*tid = (__u32)id;
	BPF_CORE_READ_STR_INTO(comm, leader, comm);
	bpf_get_current_comm(thread_comm, sizeof(*thread_comm));
}

/* A walk's outcome (bpf_get_stack's) into frames, the record's flags and the
 * counters. A stack as deep as the kernel walks (max_frames) or as the
 * buffer holds may have been cut. A record counts once in STACK_CNT_FAILED
 * however many of its walks failed: one cause (no callchain buffer free on
 * this CPU) usually fails them all. */
static __always_inline __u32 stack_walked(long n, __u32 max, __u32 *flags, __u32 truncated,
					  __u32 failed, __u32 truncated_cnt)
{
	__u32 len;

	if (n < 0) {
		if (!(*flags & (KSTACK_FAILED | USTACK_FAILED)))
			count(STACK_CNT_FAILED);
		*flags |= failed;
		return 0;
	}
	len = n / sizeof(__u64);
	if (len >= max || len >= max_frames) {
		*flags |= truncated;
		count(truncated_cnt);
	}
	return len;
}

/* The kernel stack at ctx, leaf first, into frames (room for max): how many
 * frames it holds. */
static __always_inline __u32 walk_kernel_stack(void *ctx, __u64 *frames, __u32 max, __u32 *flags)
{
	long n = bpf_get_stack(ctx, frames, max * sizeof(__u64), 0);

	return stack_walked(n, max, flags, KSTACK_TRUNCATED, KSTACK_FAILED,
			    STACK_CNT_KERNEL_TRUNCATED);
}

/* The current thread's user stack, leaf first, into frames (room for
 * max): how many frames it holds. Every program walks user stacks here,
 * from any context (a perf event, a uprobe, a tracepoint: the registers
 * come from the task): with the unwind tables user space loaded for the
 * process (unwind_mode set), else with frame pointers. */
static __always_inline __u32 walk_user_stack(void *ctx, __u64 *frames, __u32 max, __u32 *flags)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 limit = max < max_frames ? max : max_frames;
	long n;

	/* A kernel thread has no user stack: nothing to walk, nothing lost. */
	if (!BPF_CORE_READ(task, mm))
		return 0;
	if (unwind_mode != UNWIND_MODE_FP) {
		n = unwind_user_stack(task, frames, limit, flags);
		if (n >= 0) {
			if (n >= limit) {
				*flags |= USTACK_TRUNCATED;
				count(STACK_CNT_USER_TRUNCATED);
			}
			return n;
		}
	}
	n = bpf_get_stack(ctx, frames, max * sizeof(__u64), BPF_F_USER_STACK);
	return stack_walked(n, max, flags, USTACK_TRUNCATED, USTACK_FAILED,
			    STACK_CNT_USER_TRUNCATED);
}

#endif
