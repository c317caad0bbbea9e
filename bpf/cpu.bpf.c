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
#define BPPROF_CNT_PIDS_FULL	CPU_CNT_PIDS_FULL
#define BPPROF_CNT_EXEC_LOST	CPU_CNT_EVENTS_LOST
#include "target.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load. */
const volatile bool kernel_stacks = true;
const volatile bool user_stacks = true;
const volatile bool include_idle = false;

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), flags;
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct cpu_sample *s;

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
	flags = note_process(bpf_get_current_task_btf(), tgid, &s->flags);
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
