// SPDX-License-Identifier: GPL-2.0
/* Heap sampling. Uprobe mode: uprobes on the allocator's entry points, a
 * uretprobe on the allocating ones (for the address); the sampling decision
 * is made here, per thread, before any stack is taken: only a sampled
 * allocation walks its stack and reserves a ring-buffer record. Preload
 * mode: the preload library samples in the process and calls its markers
 * (bpf/heap_preload.h) only for sampled allocations and their frees; one
 * uprobe program turns them into the same records. Sampled blocks are
 * remembered in `live`, so a free reaches user space only when it frees
 * one of them. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "events.h"
#define BPPROF_COUNTERS	HEAP_CNT_MAX
#include "common.bpf.h"
#include "heap_sample.h"
#include "heap_preload.h"

char LICENSE[] SEC("license") = "GPL";

/* libbpf 1.1 names five argument registers; the markers pass six */
#ifndef PT_REGS_PARM6
#if defined(__TARGET_ARCH_x86)
#define PT_REGS_PARM6(x) (((const struct pt_regs *)(x))->r9)
#else
#error "PT_REGS_PARM6: add this architecture's sixth argument register"
#endif
#endif

#define SIGSTOP		19
#define MAP_ANONYMOUS	0x20
#define MAP_FAILED	(~0ull)

/* Set by user space before load. */
const volatile __u64 sample_rate = 524288;	/* mean bytes between samples; 0: every one */
const volatile __u32 neg_log[HEAP_LOG_TABLE];	/* heap_sample_draw's table */
const volatile __u64 preload_token = 0;		/* preload mode: this session's markers */

enum { KEY_ADDR, KEY_PRELOAD_ID };

struct live_key {
	__u32 tgid;
	__u32 ns;		/* KEY_ADDR: addr is the block's; KEY_PRELOAD_ID: the
				 * preload library's id of it */
	__u64 addr;
};

/* Sampled blocks not yet freed: (process, address or the library's id) →
 * the id user space knows. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);		/* sized by user space */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct live_key);
	__type(value, __u64);
} live SEC(".maps");

/* Processes being profiled: their exec and the objects their dynamic linker
 * loads are reported (and, for HEAP_TARGET_STOP, the process is stopped until user
 * space has probed what was mapped). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} targets SEC(".maps");

struct heap_thread {
	__u64 countdown;	/* bytes until the next sample */
	__u64 size;		/* of the pending call */
	__u64 old;		/* realloc: the block being resized */
	__u64 old_id;		/* its id, when it was a live sampled block */
	__u64 memptr;		/* posix_memalign: where the address goes */
	__u64 sp;		/* stack pointer at the outermost entry */
	__u32 depth;		/* allocator calls in progress (nested ones are internal) */
	__u8 kind;
	__u8 sampled;
	__u8 armed;		/* countdown drawn */
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct heap_thread);
} threads SEC(".maps");

__u64 next_id = 0;

/* Go's rule: an allocation smaller than what is left of the countdown only
 * shortens it; any other is sampled and a new countdown is drawn. */
static __always_inline bool sample(struct heap_thread *t, __u64 size)
{
	if (!sample_rate)
		return true;
	if (!t->armed) {
		t->countdown = heap_sample_draw(bpf_get_prandom_u32(), sample_rate, neg_log);
		t->armed = 1;
	}
	if (size < t->countdown) {
		t->countdown -= size;
		return false;
	}
	t->countdown = heap_sample_draw(bpf_get_prandom_u32(), sample_rate, neg_log);
	return true;
}

/* n × size, saturating: an overflowing request fails in the allocator. */
static __always_inline __u64 product(__u64 n, __u64 size)
{
	__u64 most;

	if (!size)
		return 0;
	most = ~0ull / size;
	barrier_var(most);	/* else clang checks with a 128-bit multiply BPF lacks */
	return n > most ? ~0ull : n * size;
}

/* Forget a live sampled block: its id, or 0 when it was not one. */
static __always_inline __u64 untrack(__u32 tgid, __u32 ns, __u64 addr)
{
	struct live_key key = { .tgid = tgid, .ns = ns, .addr = addr };
	__u64 *v = bpf_map_lookup_elem(&live, &key), id;

	if (!v)
		return 0;
	id = *v;
	return bpf_map_delete_elem(&live, &key) ? 0 : id;
}

static __always_inline void report_free(__u64 id)
{
	struct heap_free *f = bpf_ringbuf_reserve(&events, sizeof(*f), 0);

	if (!f) {
		count(HEAP_CNT_FREES_LOST);
		return;
	}
	f->hdr.type = EV_HEAP_FREE;
	f->hdr.size = sizeof(*f);
	f->id = id;
	bpf_ringbuf_submit(f, submit_flags());
}

/* counted: an allocation (a file mmap is tracked to its return, not counted) */
static __always_inline int enter(struct pt_regs *ctx, __u8 kind, __u64 size, __u64 old,
				 __u64 memptr, bool counted)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 sp = PT_REGS_SP(ctx);
	struct heap_thread *t;

	t = bpf_task_storage_get(&threads, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t) {
		count(HEAP_CNT_NO_THREAD);
		return 0;
	}
	/* A call the allocator makes itself (realloc → malloc) is part of the
	 * outer one; a tail call (glibc's reallocarray jumps to realloc) even
	 * shares its stack pointer. A frame above the outer call's means that
	 * call is over though its return went unseen (a longjmp): start afresh. */
	if (t->depth && sp <= t->sp) {
		t->depth++;
		return 0;
	}
	t->depth = 1;
	t->sp = sp;
	t->kind = kind;
	t->size = size;
	t->old = old;
	t->memptr = memptr;
	t->old_id = 0;
	t->sampled = 0;
	if (!counted)
		return 0;
	count(HEAP_CNT_CALLS);
	/* Taken out of `live` now, before the allocator can hand the address
	 * to another thread; put back if the resize fails. */
	if (old)
		t->old_id = untrack(task->tgid, KEY_ADDR, old);
	t->sampled = sample(t, size);
	return 0;
}

/* A target's image or its set of objects changed: user space probes what is
 * new. A process started by bpprof waits, stopped, until it has.
 *
 * Libraries are seen through the dynamic linker's _dl_debug_state(), the
 * hook debuggers use: it runs after each batch of objects is mapped (at
 * startup and in dlopen) and before any of their code runs. A syscall
 * tracepoint on mmap would need tracefs (a classic tracepoint) or slow
 * every system call of every process (the raw sys_enter one). */
static __always_inline void report_mapped(__u32 tgid, bool exec, bool stop)
{
	struct heap_mapped *m = bpf_ringbuf_reserve(&events, sizeof(*m), 0);

	if (!m) {
		count(HEAP_CNT_MAPPED_LOST);
		return;
	}
	m->hdr.type = EV_HEAP_MAPPED;
	m->hdr.size = sizeof(*m);
	m->start_boottime = BPF_CORE_READ((struct task_struct *)bpf_get_current_task_btf(),
					  group_leader, start_boottime);
	m->pid = tgid;
	m->stopped = stop;
	m->exec = exec;
	m->pad = 0;
	/* Stopped only when user space will hear of it, or it would never
	 * send the SIGCONT. */
	if (m->stopped)
		bpf_send_signal(SIGSTOP);
	bpf_ringbuf_submit(m, BPF_RB_FORCE_WAKEUP);
}

static __always_inline void mapped(__u32 tgid, bool exec)
{
	__u32 *how = bpf_map_lookup_elem(&targets, &tgid);

	if (how)
		report_mapped(tgid, exec, *how == HEAP_TARGET_STOP);
}

/* Every allocator entry point, told apart by the attach cookie (its kind):
 * one program, so one link per object when the kernel has uprobe_multi. */
SEC("uprobe")
int heap_entry(struct pt_regs *ctx)
{
	__u64 kind = bpf_get_attach_cookie(ctx), a1 = PT_REGS_PARM1(ctx), a2 = PT_REGS_PARM2(ctx);
	__u64 id;

	switch (kind) {
	case HEAP_MALLOC:
		return enter(ctx, HEAP_MALLOC, a1, 0, 0, true);
	case HEAP_CALLOC:
		return enter(ctx, HEAP_CALLOC, product(a1, a2), 0, 0, true);
	case HEAP_REALLOC:
		return enter(ctx, HEAP_REALLOC, a2, a1, 0, true);
	case HEAP_REALLOCARRAY:
		return enter(ctx, HEAP_REALLOC, product(a2, PT_REGS_PARM3(ctx)), a1, 0, true);
	case HEAP_POSIX_MEMALIGN:
		return enter(ctx, HEAP_POSIX_MEMALIGN, PT_REGS_PARM3(ctx), 0, a1, true);
	case HEAP_ALIGNED:
		return enter(ctx, HEAP_ALIGNED, a2, 0, 0, true);
	case HEAP_MMAP:
		return enter(ctx, HEAP_MMAP, a2, 0, 0, PT_REGS_PARM4(ctx) & MAP_ANONYMOUS);
	case HEAP_LINKMAP:
		mapped(bpf_get_current_pid_tgid() >> 32, false);
		return 0;
	case HEAP_MUNMAP:	/* a block mapped by mmap, or nothing we know */
	case HEAP_FREE:
		/* No per-thread state is needed: a free inside realloc finds
		 * nothing in `live`, realloc's entry took the block out already. */
		if (!a1)
			return 0;
		id = untrack(bpf_get_current_pid_tgid() >> 32, KEY_ADDR, a1);
		if (id)
			report_free(id);
		return 0;
	}
	return 0;
}

/* The preload library's walk starts inside it (its marker, its slow path):
 * the frames before the allocator's caller go. A walk that never reached
 * the caller keeps just the caller, never the library's frames. */
static __always_inline void from_caller(struct heap_alloc *a, __u64 caller)
{
	__u32 k, i, n = a->ustack_len;

	for (k = 0; k < PRELOAD_MAX_SKIP && k < n; k++)
		if (a->ustack[k] == caller)
			break;
	if (k == n || k == PRELOAD_MAX_SKIP) {
		count(HEAP_CNT_PRELOAD_NO_CALLER);
		a->ustack[0] = caller;
		a->ustack_len = 1;
		return;
	}
	if (!k)
		return;
	for (i = 0; i < BPPROF_MAX_STACK - 1; i++) {
		if (i + k >= n || i + k >= BPPROF_MAX_STACK)
			break;
		a->ustack[i] = a->ustack[i + k];
	}
	a->ustack_len = n - k;
}

/* key: where `live` keeps the block; caller: preload mode's leaf (else 0). */
static __always_inline void record(struct pt_regs *ctx, struct live_key *key, __u64 addr,
				   __u64 size, __u64 caller, bool untracked)
{
	struct heap_alloc *a;
	__u64 *stale, id;

	count(HEAP_CNT_SAMPLED);
	/* Reserved before the block is in `live`: a free of it, on any thread,
	 * then lands behind this record in the ring. */
	a = bpf_ringbuf_reserve(&events, sizeof(*a), 0);
	if (!a) {
		count(HEAP_CNT_LOST);
		return;
	}
	/* The allocator handed out a live address: it was freed unseen. (The
	 * preload library's ids are new each time: it says so itself.) */
	stale = key->ns == KEY_ADDR ? bpf_map_lookup_elem(&live, key) : NULL;
	if (stale) {
		count(HEAP_CNT_FREE_UNSEEN);
		report_free(*stale);
	}
	id = __sync_fetch_and_add(&next_id, 1) + 1;
	a->flags = 0;
	if (untracked || bpf_map_update_elem(&live, key, &id, BPF_ANY)) {
		a->flags |= HEAP_UNTRACKED;
		count(HEAP_CNT_LIVE_FULL);
	}
	a->hdr.type = EV_HEAP_ALLOC;
	a->hdr.size = sizeof(*a);
	a->time_ns = bpf_ktime_get_ns();
	fill_identity(&a->start_boottime, &a->pid, &a->tid, &a->comm, &a->thread_comm);
	a->id = id;
	a->addr = addr;
	a->size = size;
	/* At the return the registers are the caller's: the walk starts at
	 * the return address into it, and no frame is skipped. */
	a->ustack_len = walk_user_stack(ctx, a->ustack, BPPROF_MAX_STACK, &a->flags);
	if (caller)
		from_caller(a, caller);
	bpf_ringbuf_submit(a, submit_flags());
}

SEC("uretprobe")
int heap_ret(struct pt_regs *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 ret = PT_REGS_RC(ctx), addr = ret;
	struct heap_thread *t;
	__u32 tgid;

	t = bpf_task_storage_get(&threads, task, 0, 0);
	if (!t || !t->depth || --t->depth)
		return 0;
	tgid = task->tgid;
	if (t->kind == HEAP_MMAP && ret == MAP_FAILED)
		addr = 0;
	if (t->kind == HEAP_POSIX_MEMALIGN) {
		addr = 0;
		if ((int)ret == 0 && bpf_probe_read_user(&addr, sizeof(addr), (void *)t->memptr))
			addr = 0;
	}
	if (t->kind == HEAP_REALLOC && t->old_id) {
		/* realloc(p, 0) frees p; a failed resize leaves it as it was */
		if (addr || !t->size) {
			report_free(t->old_id);
		} else {
			struct live_key key = { .tgid = tgid, .addr = t->old };

			bpf_map_update_elem(&live, &key, &t->old_id, BPF_NOEXIST);
		}
	}
	if (addr && t->sampled) {
		struct live_key key = { .tgid = tgid, .ns = KEY_ADDR, .addr = addr };

		record(ctx, &key, addr, t->size, 0, false);
	}
	return 0;
}

/* The preload library's markers, told apart by the attach cookie. They
 * are attached to the library's file in every process (only the commands
 * bpprof starts load it, with their session's token). */
SEC("uprobe")
int heap_marker(struct pt_regs *ctx)
{
	__u64 kind = bpf_get_attach_cookie(ctx), id = PT_REGS_PARM2(ctx), found;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct live_key key = { .tgid = tgid, .ns = KEY_PRELOAD_ID, .addr = id };

	if (!preload_token || PT_REGS_PARM1(ctx) != preload_token)
		return 0;	/* another session's process */
	switch (kind) {
	case PRELOAD_ALLOC:
		record(ctx, &key, PT_REGS_PARM3(ctx), PT_REGS_PARM4(ctx), PT_REGS_PARM5(ctx),
		       PT_REGS_PARM6(ctx) & PRELOAD_UNTRACKED);
		return 0;
	case PRELOAD_FREE:
		if (PT_REGS_PARM3(ctx) & PRELOAD_UNSEEN)
			count(HEAP_CNT_FREE_UNSEEN);
		found = untrack(tgid, KEY_PRELOAD_ID, id);
		if (found) {
			count(HEAP_CNT_PRELOAD_FREES);
			report_free(found);
		}
		return 0;
	case PRELOAD_HELLO:
		/* stopped until user space has read its maps, as a command is at
		 * its exec in uprobe mode */
		report_mapped(tgid, id, true);
		return 0;
	}
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(heap_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	unwind_forget(task->tgid);
	mapped(task->tgid, true);
	return 0;
}
