// SPDX-License-Identifier: GPL-2.0
/* CPU sampling: on each perf event (one per online CPU), reserve a fixed-size
 * record in the ring buffer and fill it with who was running and both stacks.
 * Filtering happens here, so unwanted samples cost no ring-buffer space. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "events.h"
#define BPPROF_COUNTERS	CPU_CNT_MAX
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define SIGSTOP		19

/* Set by user space before load. */
const volatile bool filter_pids = false;	/* only tgids in `pids` */
const volatile bool follow_children = false;	/* children of those join `pids` */
const volatile bool filter_cgroup = false;	/* only tasks under cgroups[0] */
const volatile bool kernel_stacks = true;
const volatile bool user_stacks = true;
const volatile bool include_idle = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);		/* sized by user space */
	__type(key, __u32);
	__type(value, __u8);
} pids SEC(".maps");

/* Set by user space at run time: the command bpprof started, stopped at
 * each exec until its unwind tables are loaded (0: none). */
__u32 stop_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroups SEC(".maps");

/* Processes already sampled, with the size of their executable mappings
 * (mm->exec_vm, in pages) at the last sample. The first sample of any other
 * wakes the reader at once, so it reads the process's maps while it still
 * lives, even if it lives for a few milliseconds; so does the first sample
 * after the process mapped new code (the dynamic linker, dlopen, a JIT's
 * mprotect). Reading exec_vm here costs nothing outside samples, where a
 * hook on mmap would need tracefs or slow every system call. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);		/* sized by user space */
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

static __always_inline bool wanted(__u32 tgid)
{
	if (filter_pids && !bpf_map_lookup_elem(&pids, &tgid))
		return false;
	if (filter_cgroup && bpf_current_task_under_cgroup(&cgroups, 0) != 1)
		return false;
	return true;
}

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), flags;
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct cpu_sample *s;
	__u64 exec_vm, *known;

	if (tid == 0 && !include_idle)
		return 0;
	if (!wanted(tgid))
		return 0;
	count(CPU_CNT_SAMPLES);

	s = bpf_ringbuf_reserve(&events, sizeof(*s), 0);
	if (!s) {
		count(CPU_CNT_LOST);
		return 0;
	}
	s->hdr.type = EV_CPU_SAMPLE;
	s->hdr.size = sizeof(*s);
	s->time_ns = bpf_ktime_get_ns();
	fill_identity(&s->start_boottime, &s->pid, &s->tid, &s->comm, &s->thread_comm);
	s->cpu = bpf_get_smp_processor_id();
	s->flags = 0;
	s->kstack_len = 0;
	if (kernel_stacks)
		s->kstack_len = walk_kernel_stack(ctx, s->kstack, BPPROF_MAX_STACK, &s->flags);
	s->ustack_len = 0;
	if (user_stacks)
		s->ustack_len = walk_user_stack(ctx, s->ustack, BPPROF_MAX_STACK, &s->flags);
	flags = submit_flags();
	exec_vm = BPF_CORE_READ(bpf_get_current_task_btf(), mm, exec_vm);
	known = bpf_map_lookup_elem(&seen, &tgid);
	if (!known || *known != exec_vm) {
		if (known)
			s->flags |= SAMPLE_MAPPED;
		bpf_map_update_elem(&seen, &tgid, &exec_vm, BPF_ANY);
		flags = BPF_RB_FORCE_WAKEUP;
	}
	bpf_ringbuf_submit(s, flags);
	return 0;
}

/* The dynamic linker of the command bpprof started (stop_tgid) calls its
 * _dl_debug_state after it maps objects (at startup, at each dlopen) and
 * before their code runs: the command waits, stopped, until their unwind
 * tables are loaded. A uprobe in that one process only. */
SEC("uprobe")
int on_linkmap(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct exec_event *e;

	if (!stop_tgid || tgid != stop_tgid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(CPU_CNT_EVENTS_LOST);
		return 0;
	}
	e->hdr.type = EV_LINKMAP;
	e->hdr.size = sizeof(*e);
	e->time_ns = bpf_ktime_get_ns();
	e->start_boottime = BPF_CORE_READ((struct task_struct *)bpf_get_current_task_btf(),
					  group_leader, start_boottime);
	e->pid = tgid;
	e->stopped = 1;
	bpf_send_signal(SIGSTOP);
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}

/* A followed process's children (new processes, not threads) are followed too. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	__u8 one = 1;

	if (!filter_pids || !follow_children || ptgid == ctgid)
		return 0;
	if (!bpf_map_lookup_elem(&pids, &ptgid))
		return 0;
	if (bpf_map_update_elem(&pids, &ctgid, &one, BPF_NOEXIST) && !bpf_map_lookup_elem(&pids, &ctgid))
		count(CPU_CNT_PIDS_FULL);
	return 0;
}

/* When the last thread of a followed process exits, its pid leaves the set:
 * a later process reusing the number is not ours. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	__u32 tgid = task->tgid;

	if (task->signal->live.counter)
		return 0;
	if (filter_pids)
		bpf_map_delete_elem(&pids, &tgid);
	unwind_forget(tgid);	/* its tables' kernel memory */
	return 0;
}

/* The image changed: user space must read the maps again for later samples. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = task->tgid;
	struct exec_event *e;

	unwind_forget(tgid);	/* a new image: its mappings are loaded anew */
	if (!wanted(tgid))
		return 0;
	/* a new image: its first sample is a first sight again */
	bpf_map_delete_elem(&seen, &tgid);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(CPU_CNT_EVENTS_LOST);
		return 0;
	}
	e->hdr.type = EV_EXEC;
	e->hdr.size = sizeof(*e);
	e->time_ns = bpf_ktime_get_ns();
	e->start_boottime = task->group_leader->start_boottime;
	e->pid = tgid;
	/* Stopped only once user space is sure to hear of it (the record
	 * is reserved), or nothing would send the SIGCONT. */
	e->stopped = stop_tgid && tgid == stop_tgid;
	if (e->stopped)
		bpf_send_signal(SIGSTOP);
	/* a followed process's new image: its tables at once */
	bpf_ringbuf_submit(e, filter_pids ? BPF_RB_FORCE_WAKEUP : submit_flags());
	return 0;
}
