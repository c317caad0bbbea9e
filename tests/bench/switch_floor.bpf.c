// SPDX-License-Identifier: GPL-2.0
/* The context-switch floor: programs on bpprof's two off-CPU tracepoints
 * that only read the clock (as bpprof's must, once per switch), so what a
 * switch costs under them is the tracepoints' and the clock's alone. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

__u64 last;

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	last = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sched_exit_tp")
int BPF_PROG(floor_switched_in, bool is_switch)
{
	return 0;
}
