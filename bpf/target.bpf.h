/* SPDX-License-Identifier: GPL-2.0 */
/* Which threads a program records, for the programs that follow a pid set
 * or a cgroup (cpu, offcpu): the filters, children joining the set, a
 * process leaving it at its end, and telling user space when a process is
 * first seen or mapped new code, so it reads the maps while the process
 * lives. A program defines BPPROF_CNT_PIDS_FULL and BPPROF_CNT_EXEC_LOST
 * (its counter indexes) and includes this after common.bpf.h. */
#ifndef BPPROF_BPF_TARGET_BPF_H
#define BPPROF_BPF_TARGET_BPF_H

#include <bpf/bpf_tracing.h>

#if !defined(BPPROF_CNT_PIDS_FULL) || !defined(BPPROF_CNT_EXEC_LOST)
#error "define BPPROF_CNT_PIDS_FULL and BPPROF_CNT_EXEC_LOST before target.bpf.h"
#endif

/* Set by user space before load. */
const volatile bool filter_pids = false;	/* only tgids in `pids` */
const volatile bool follow_children = false;	/* children of those join `pids` */
const volatile bool filter_cgroup = false;	/* only tasks under cgroups[0] */

#define SIGSTOP		19

/* Set by user space at run time (the cpu program's only): the command
 * bpprof started, stopped at each exec until its unwind tables are loaded
 * (0: none). */
__u32 stop_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);		/* sized by user space */
	__type(key, __u32);
	__type(value, __u8);
} pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroups SEC(".maps");

/* Processes already recorded, with the size of their executable mappings
 * (mm->exec_vm, in pages) then. The first record of any other wakes the
 * reader at once, so it reads the process's maps while it still lives, even
 * if it lives for a few milliseconds; so does the first record after the
 * process mapped new code (the dynamic linker, dlopen, a JIT's mprotect).
 * Reading exec_vm at a record costs nothing else, where a hook on mmap would
 * need tracefs or slow every system call. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);		/* sized by user space */
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

/* Is the current task one to record? */
static __always_inline bool wanted(__u32 tgid)
{
	if (filter_pids && !bpf_map_lookup_elem(&pids, &tgid))
		return false;
	if (filter_cgroup && bpf_current_task_under_cgroup(&cgroups, 0) != 1)
		return false;
	return true;
}

/* Is this task's process (tgid) new to user space: never recorded, or
 * recorded before it mapped or unmapped code (then SAMPLE_MAPPED joins
 * *flags)? It is noted as known either way: the caller tells user space. */
static __always_inline bool first_sight(struct task_struct *task, __u32 tgid, __u32 *flags)
{
	__u64 exec_vm = BPF_CORE_READ(task, mm, exec_vm);
	__u64 *known = bpf_map_lookup_elem(&seen, &tgid);

	if (known && *known == exec_vm)
		return false;
	if (known)
		*flags |= SAMPLE_MAPPED;
	bpf_map_update_elem(&seen, &tgid, &exec_vm, BPF_ANY);
	return true;
}

/* The submit flags of a record of task's process: a wake-up now on a first
 * sight, otherwise the usual batching. */
static __always_inline __u64 note_process(struct task_struct *task, __u32 tgid, __u32 *flags)
{
	return first_sight(task, tgid, flags) ? BPF_RB_FORCE_WAKEUP : submit_flags();
}

/* The process tracepoints are raw ones, their task read with probes: a BTF
 * tracepoint's attach point would make libbpf read all of the kernel's BTF
 * at every load, where the CO-RE relocations need only the small file of
 * pkg/collect/corebtf.c. */

/* A followed process's children (new processes, not threads) are followed too. */
SEC("raw_tp/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid);
	__u8 one = 1;

	if (!filter_pids || !follow_children || ptgid == ctgid)
		return 0;
	if (!bpf_map_lookup_elem(&pids, &ptgid))
		return 0;
	if (bpf_map_update_elem(&pids, &ctgid, &one, BPF_NOEXIST) && !bpf_map_lookup_elem(&pids, &ctgid))
		count(BPPROF_CNT_PIDS_FULL);
	return 0;
}

/* When the last thread of a followed process exits, its pid leaves the set
 * (a later process reusing the number is not ours), and its unwind tables'
 * entry the kernel's memory. */
SEC("raw_tp/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);

	if (BPF_CORE_READ(task, signal, live.counter))
		return 0;
	if (filter_pids)
		bpf_map_delete_elem(&pids, &tgid);
	unwind_forget(tgid);
	return 0;
}

/* The image changed: user space must read the maps again for later records. */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct exec_event *e;

	unwind_forget(tgid);	/* a new image: its mappings are loaded anew */
	if (!wanted(tgid))
		return 0;
	/* a new image: its next record is a first sight again */
	bpf_map_delete_elem(&seen, &tgid);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(BPPROF_CNT_EXEC_LOST);
		return 0;
	}
	e->hdr.type = EV_EXEC;
	e->hdr.size = sizeof(*e);
	e->time_ns = bpf_ktime_get_ns();
	e->start_boottime = BPF_CORE_READ(task, group_leader, start_boottime);
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

#endif
