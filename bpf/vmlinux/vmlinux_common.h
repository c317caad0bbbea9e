/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel types bpprof's BPF programs use on every architecture, and
 * only the fields they read. Included last by bpf/vmlinux/ARCH/vmlinux.h,
 * which defines struct pt_regs and bpf_user_pt_regs_t first.
 *
 * Kernel structs carry preserve_access_index: clang records each field
 * access by name and libbpf moves it to wherever the running kernel's BTF
 * has that field, so the offsets and the other fields here do not matter.
 * UAPI types are the ABI itself and are written exactly. */
#ifndef BPPROF_VMLINUX_COMMON_H
#define BPPROF_VMLINUX_COMMON_H

#ifndef __VMLINUX_H__
#error "include bpf/vmlinux/ARCH/vmlinux.h, not this file"
#endif

/* include/uapi/asm-generic/int-ll64.h, linux/types.h */
typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

/* include/linux/types.h */
typedef __u64 u64;
typedef int pid_t;
typedef _Bool bool;
enum {
	false = 0,
	true = 1,
};

/* include/uapi/linux/bpf.h: the constants the programs pass. UAPI, so the
 * values never change; only the ones used are listed. */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_CGROUP_ARRAY = 8,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_ARRAY_OF_MAPS = 12,
	BPF_MAP_TYPE_RINGBUF = 27,
	BPF_MAP_TYPE_TASK_STORAGE = 29,
};

enum {	/* map update flags */
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
};

enum {	/* map_flags */
	BPF_F_NO_PREALLOC = 1,
	BPF_F_MMAPABLE = 1024,
};

enum {	/* bpf_get_stack flags */
	BPF_F_USER_STACK = 256,
};

enum {	/* bpf_ringbuf_submit flags */
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};

enum {	/* bpf_ringbuf_query */
	BPF_RB_AVAIL_DATA = 0,
};

enum {	/* bpf_task_storage_get flags */
	BPF_LOCAL_STORAGE_GET_F_CREATE = 1,
};

/* include/uapi/linux/bpf_perf_event.h: a perf_event program's context. Not
 * relocated: the verifier checks context accesses against this layout. */
struct bpf_perf_event_data {
	bpf_user_pt_regs_t regs;
	__u64 sample_period;
	__u64 addr;
};

_Static_assert(sizeof(struct bpf_perf_event_data) == sizeof(bpf_user_pt_regs_t) + 16,
	       "bpf_perf_event_data");

/* include/linux/types.h */
typedef struct {
	int counter;
} atomic_t;

struct mm_struct {
	unsigned long exec_vm;		/* pages of executable mappings */
} __attribute__((preserve_access_index));

struct signal_struct {
	atomic_t live;			/* threads not yet exited */
} __attribute__((preserve_access_index));

struct sched_entity {
	u64 sum_exec_runtime;		/* CPU time, nanoseconds */
} __attribute__((preserve_access_index));

struct task_struct {
	unsigned int __state;		/* TASK_RUNNING, TASK_INTERRUPTIBLE... */
	pid_t pid;			/* the thread's id */
	pid_t tgid;
	struct task_struct *group_leader;
	struct task_struct *real_parent;
	u64 parent_exec_id;		/* the forking thread's self_exec_id at the fork */
	u64 self_exec_id;		/* incremented by each exec */
	u64 start_boottime;
	char comm[16];			/* TASK_COMM_LEN */
	struct mm_struct *mm;		/* NULL in kernel threads */
	struct signal_struct *signal;
	struct sched_entity se;
} __attribute__((preserve_access_index));

/* include/linux/sched.h: task_struct.__state bits. Not UAPI, but the
 * scheduler's ps-visible states have kept their values since 2.6. */
enum {
	TASK_RUNNING = 0x0,
	TASK_INTERRUPTIBLE = 0x1,
	TASK_UNINTERRUPTIBLE = 0x2,
	__TASK_STOPPED = 0x4,
	__TASK_TRACED = 0x8,
	TASK_DEAD = 0x80,
	TASK_NOLOAD = 0x400,
};

/* Arguments of BTF tracepoints the programs only pass on or ignore. */
struct linux_binprm;

#endif
