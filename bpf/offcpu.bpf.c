// SPDX-License-Identifier: GPL-2.0
/* Off-CPU time: when a thread leaves the CPU (sched_switch) note when and in
 * which state; when it runs again, a wait of min_ns or more becomes one
 * record holding its length and the thread's stacks. Shorter waits are only
 * counted: most context switches are short, and a stack walk costs more
 * than the switch itself.
 *
 * The stacks are walked where the thread stood when it left, without a walk
 * per switch: on Linux 6.16+ the scheduler's sched_exit_tp tracepoint runs
 * in the thread's own context as it comes back, still inside schedule(),
 * so its stacks are those it blocked with and the wait's length is known.
 * Older kernels have no such hook without kprobes; there
 * (walk_on_switch_out) every switch-out walks both stacks into the
 * thread's storage, and the switch-in copies them into a record.
 *
 * A wait ends in the thread that waited (sched_exit_tp), not at the
 * sched_switch that hands it the CPU: some kernels hide the switches away
 * from some threads (a sandbox's own agent, here), and a wait whose end
 * went unseen would be lost. Where the end can only be seen at that
 * sched_switch (older kernels), the thread's next switch-out finds the wait
 * still open and times it from the thread's CPU clock. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "events.h"
#define BPPROF_COUNTERS	OFFCPU_CNT_MAX
#include "common.bpf.h"
#define BPPROF_CNT_PIDS_FULL	OFFCPU_CNT_PIDS_FULL
#define BPPROF_CNT_EXEC_LOST	OFFCPU_CNT_EVENTS_LOST
#include "target.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load. */
const volatile bool kernel_stacks = true;
const volatile bool user_stacks = true;
const volatile __u64 min_ns = 0;		/* shorter waits are only counted */
const volatile bool walk_on_switch_out = false;	/* no sched_exit_tp: kernel < 6.16 */

/* A thread's wait in progress. */
struct wait {
	__u64 since;		/* when it left the CPU; 0: it is running */
	__u64 ran_ns;		/* its CPU time (se.sum_exec_runtime) then */
	__u64 exec_vm;		/* its process's mm->exec_vm + 1 when last noticed */
	__u32 state;		/* enum offcpu_state */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct wait);
} waits SEC(".maps");

/* walk_on_switch_out: the record a wait will become, stacks and identity
 * filled at the switch-out, time and length at the switch-in. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct offcpu_sample);
} parked SEC(".maps");

static __always_inline void count_ns(__u32 idx, __u64 ns)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		*c += ns;
}

/* What a thread leaving the CPU waits for, as ps would say it. */
static __always_inline __u32 wait_state(bool preempt, unsigned int state)
{
	if (preempt || state == TASK_RUNNING)
		return OFFCPU_RUNNABLE;
	if ((state & (TASK_UNINTERRUPTIBLE | TASK_NOLOAD)) == (TASK_UNINTERRUPTIBLE | TASK_NOLOAD))
		return OFFCPU_IDLE;
	if (state & TASK_UNINTERRUPTIBLE)
		return OFFCPU_UNINTERRUPTIBLE;
	if (state & TASK_INTERRUPTIBLE)
		return OFFCPU_SLEEPING;
	if (state & (__TASK_STOPPED | __TASK_TRACED))
		return OFFCPU_STOPPED;
	return OFFCPU_OTHER;
}

/* The stacks and identity of the current thread into s (not its times). */
static __always_inline void fill_sample(void *ctx, struct offcpu_sample *s, __u32 state)
{
	s->hdr.type = EV_OFFCPU;
	s->hdr.size = sizeof(*s);
	fill_identity(&s->start_boottime, &s->pid, &s->tid, &s->comm, &s->thread_comm);
	s->state = state;
	s->flags = 0;
	s->kstack_len = 0;
	if (kernel_stacks)
		s->kstack_len = walk_kernel_stack(ctx, s->kstack, BPPROF_MAX_STACK, &s->flags);
	s->ustack_len = 0;
	if (user_stacks)
		s->ustack_len = walk_user_stack(ctx, s->ustack, BPPROF_MAX_STACK, &s->flags);
}

/* A record for a wait of ns (NULL when the ring is full: counted as lost). */
static __always_inline struct offcpu_sample *reserve(__u64 ns)
{
	struct offcpu_sample *s = bpf_ringbuf_reserve(&events, sizeof(*s), 0);

	if (!s) {
		count(OFFCPU_CNT_LOST);
		count_ns(OFFCPU_CNT_LOST_NS, ns);
	}
	return s;
}

/* A process whose first wait ends may exit at once (a `sleep`): user space
 * would come too late to read its maps. So the first time a thread of it
 * leaves the CPU (or the first after it mapped code), user space is told
 * at once, and reads them while the thread waits. The thread remembers
 * what it last noticed, so a switch-out costs no lookup otherwise. */
static __always_inline void notice(struct task_struct *prev, struct wait *w, __u64 now)
{
	struct mm_struct *mm = prev->mm;
	struct offcpu_sample *s;
	__u32 flags = 0;
	__u64 exec_vm;

	if (!mm)
		return;		/* a kernel thread: no maps */
	exec_vm = mm->exec_vm;
	if (w->exec_vm == exec_vm + 1)
		return;
	w->exec_vm = exec_vm + 1;
	if (!first_sight(prev, prev->tgid, &flags))
		return;
	s = bpf_ringbuf_reserve(&events, sizeof(*s), 0);
	if (!s) {
		count(OFFCPU_CNT_EVENTS_LOST);
		return;
	}
	s->hdr.type = EV_OFFCPU;
	s->hdr.size = sizeof(*s);
	fill_identity(&s->start_boottime, &s->pid, &s->tid, &s->comm, &s->thread_comm);
	s->time_ns = now;
	s->blocked_ns = 0;
	s->state = w->state;
	s->flags = flags | OFFCPU_NOTICE;
	s->kstack_len = s->ustack_len = 0;
	bpf_ringbuf_submit(s, BPF_RB_FORCE_WAKEUP);
}

/* Older kernels: the thread comes back with the record its switch-out made. */
static __always_inline void record_parked(struct task_struct *task, __u64 now, __u64 ns)
{
	struct offcpu_sample *p = bpf_task_storage_get(&parked, task, NULL, 0);
	struct offcpu_sample *s = reserve(ns);

	if (!s)
		return;
	if (!p || bpf_probe_read_kernel(s, sizeof(*s), p)) {
		bpf_ringbuf_discard(s, BPF_RB_NO_WAKEUP);
		count(OFFCPU_CNT_NO_STORAGE);
		return;
	}
	s->time_ns = now;
	s->blocked_ns = ns;
	bpf_ringbuf_submit(s, note_process(task, task->tgid, &s->flags));
}

/* Linux 6.16+: the thread is the current one, back inside schedule(): its
 * stacks are those it blocked with. */
static __always_inline void record_here(void *ctx, struct task_struct *task, __u32 state,
					__u64 now, __u64 ns)
{
	struct offcpu_sample *s = reserve(ns);

	if (!s)
		return;
	fill_sample(ctx, s, state);
	s->time_ns = now;
	s->blocked_ns = ns;
	bpf_ringbuf_submit(s, note_process(task, task->tgid, &s->flags));
}

/* task's wait ended at now after ns: counted, and recorded when it is long
 * enough (6.16+: task is the current thread, its stacks walked here). */
static __always_inline void wait_ended(void *ctx, struct task_struct *task, struct wait *w,
				       __u64 now, __u64 ns)
{
	w->since = 0;
	if (ns < min_ns) {
		count(OFFCPU_CNT_SHORT);
		count_ns(OFFCPU_CNT_SHORT_NS, ns);
		return;
	}
	count(OFFCPU_CNT_WAITS);
	count_ns(OFFCPU_CNT_WAITS_NS, ns);
	if (walk_on_switch_out)
		record_parked(task, now, ns);
	else
		record_here(ctx, task, w->state, now, ns);
}

/* The thread's wait ends: it is running again. */
static __always_inline void switched_in(void *ctx, struct task_struct *task, __u64 now)
{
	struct wait *w = bpf_task_storage_get(&waits, task, NULL, 0);

	if (!w || !w->since)
		return;
	if (now < w->since)	/* a reading from before the wait began */
		now = bpf_ktime_get_ns();
	wait_ended(ctx, task, w, now, now - w->since);
}

/* prev leaves the CPU with its last wait still open: its return to a CPU
 * was not traced. It has run since for its CPU time's growth; so the wait
 * ended that long before now. Older kernels record it from the switch-out
 * that began it; on 6.16+ its stacks are gone with the moment it ended. */
static __always_inline void wait_end_unseen(struct task_struct *prev, struct wait *w, __u64 now)
{
	__u64 ran = prev->se.sum_exec_runtime - w->ran_ns, ns = now - w->since;

	ns = ran < ns ? ns - ran : 0;
	count(OFFCPU_CNT_UNSEEN);
	count_ns(OFFCPU_CNT_UNSEEN_NS, ns);
	if (walk_on_switch_out)
		wait_ended(NULL, prev, w, now - ran, ns);
	else
		w->since = 0;
}

/* prev leaves the CPU (it is still the current task): its wait begins. */
static __always_inline void switched_out(void *ctx, bool preempt, struct task_struct *prev,
					 __u64 now)
{
	unsigned int state = prev->__state;
	struct offcpu_sample *p = NULL;
	struct wait *w;

	/* the idle task, and a thread leaving for good */
	if (!prev->pid || state == TASK_DEAD || !wanted(prev->tgid))
		return;
	w = bpf_task_storage_get(&waits, prev, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (walk_on_switch_out)
		p = bpf_task_storage_get(&parked, prev, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!w || (walk_on_switch_out && !p)) {
		count(OFFCPU_CNT_NO_STORAGE);
		return;
	}
	if (w->since)
		wait_end_unseen(prev, w, now);
	w->state = wait_state(preempt, state);
	if (p)
		fill_sample(ctx, p, w->state);
	notice(prev, w, now);
	w->ran_ns = prev->se.sum_exec_runtime;
	w->since = now;
}

/* The clock reading of this CPU's last sched_switch, and the thread it
 * handed the CPU to: the switch-in that follows (sched_exit_tp, in that
 * thread) ends its wait with the same reading. */
struct switched {
	__u64 now;
	__u32 next;			/* its tid; 0: the idle task, or not yet */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct switched);
} last_switch SEC(".maps");

/* prev leaves the CPU, next takes it: one clock reading begins prev's wait
 * and ends next's (older kernels: here; 6.16+: in on_switched_in). */
SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();
	struct switched *sw;
	__u32 zero = 0;

	switched_out(ctx, preempt, prev, now);
	if (walk_on_switch_out) {
		if (next->pid)	/* the idle task waits for nothing */
			switched_in(ctx, next, now);
		return 0;
	}
	sw = bpf_map_lookup_elem(&last_switch, &zero);
	if (sw) {
		sw->now = now;
		sw->next = next->pid;
	}
	return 0;
}

/* The end of schedule() in the thread that now runs (Linux 6.16+). It came
 * in through this CPU's last sched_switch, unless the kernel did not trace
 * that one: then the wait ends now. */
SEC("tp_btf/sched_exit_tp")
int BPF_PROG(on_switched_in, bool is_switch)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct switched *sw;
	__u32 zero = 0;
	__u64 now;

	if (!is_switch)
		return 0;
	sw = bpf_map_lookup_elem(&last_switch, &zero);
	if (sw && sw->next == task->pid)
		now = sw->now;
	else
		now = bpf_ktime_get_ns();
	switched_in(ctx, task, now);
	return 0;
}
