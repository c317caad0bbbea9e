/* SPDX-License-Identifier: GPL-2.0 */
/* The user-stack walker from unwind tables (bpf/unwind.h), for every
 * program through common.bpf.h's walk_user_stack(). Included by it; nothing
 * here is for user space.
 *
 * One frame per bpf_loop iteration: find the mapping that holds the pc (a
 * binary search in the process's sorted mappings), its rule (the file's page
 * index, then at most UNWIND_SEARCH_STEPS halvings of its rows), then the
 * caller's CFA, return address and RBP. A pc in code without a table takes
 * a frame-pointer step in auto mode. The registers come from the task
 * (bpf_task_pt_regs), so the walk is the same from a perf event, a uprobe or
 * a tracepoint. A process user space has not loaded yet is walked with
 * frame pointers (bpf_get_stack), counted. */
#ifndef BPPROF_BPF_UNWIND_BPF_H
#define BPPROF_BPF_UNWIND_BPF_H

#include "unwind.h"

/* Set by user space before load: UNWIND_MODE_FP keeps bpf_get_stack and
 * never reaches bpf_loop, so a kernel without it still loads the program. */
const volatile __u32 unwind_mode = UNWIND_MODE_FP;

/* A frame-pointer step trusts RBP only this far above the stack pointer. */
#define UNWIND_FP_MAX_GAP	(8u << 20)
/* The rt_sigframe's registers, from the RSP __restore_rt sees: uc_mcontext
 * at 40, and in it rdi (64) up to rip (128). */
#define UNWIND_SIGFRAME_REGS	(40 + 64)

/* A chunk of the row space: one value of UNWIND_CHUNK_ENTRIES entries, so
 * one lookup gives a pointer a search indexes into, where a lookup per
 * entry made each step of it a chain of dependent loads. (Sizes, not
 * types: clang gives an inner map's value type as a mere declaration,
 * which libbpf cannot size.) */
struct unwind_chunk {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, UNWIND_CHUNK_BYTES);
};

/* The maps below are user space's (pkg/unwind/maps.c), shared by every
 * program that walks stacks; these definitions are their shape. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, UNWIND_MAX_CHUNKS);
	__type(key, __u32);
	__array(values, struct unwind_chunk);
} unwind_chunks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct unwind_rule);
} unwind_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct unwind_file);
} unwind_files SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);		/* tgid */
	__type(value, struct unwind_proc);
} unwind_procs SEC(".maps");

/* Each program's own. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UNWIND_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} unwind_counters SEC(".maps");

/* A mapping a frame of this walk was in, with its file's table. Values,
 * not pointers into maps, so nothing the verifier tracks depends on the
 * pc. */
struct unwind_cached_map {
	__u64 start, base;			/* base: runtime address of the table's pc 0 */
	__u32 size;
	__u32 index, pages, shift;	/* the file's unwind_file */
};

/* Bytes of user stack read at once (never past the end of the page
 * they start in, unless what is wanted crosses it). */
#define UNWIND_WINDOW		512

/* Mappings kept per walk: a stack goes back and forth between a few
 * files (the program and libc, an interpreter and its library), and each
 * miss is a search of the process's mappings. */
#define UNWIND_CACHED_MAPS	2

/* The walk's state that is not a pointer, in this CPU's map value rather
 * than on the stack: the verifier does not follow a map value's contents,
 * and every stack slot it follows is copied and compared at each of its
 * states (with these on the stack, `on_cpu_sample` took 9,303 processed
 * instructions and 10 ms to verify; without, 5,508 and 4.3 ms). A uprobe's
 * program may be preempted, and another walk on this CPU take the value
 * over: each walk marks it with its thread, and checks the mark when it
 * ends. */
struct unwind_scratch {
	__u64 owner;			/* the thread walking (pid_tgid) */
	struct unwind_cached_map m[UNWIND_CACHED_MAPS];	/* size 0: unused */
	__u64 next_m;			/* the one the next miss replaces */
	__u64 regs[UNWIND_REGS];	/* rax..rdi, while regs_known */
	/* RBX, from frame to frame: a frame whose CFA is RBX-based (ld.so's
	 * _dl_runtime_resolve realigns RSP) needs it */
	__u64 bx;			/* RBX, when bx_at is 0 */
	__u64 bx_at;			/* 0: bx holds RBX; 1: not known; else where it is saved */
	/* The user stack from win to win_end (empty: both 0), read at once:
	 * a window holds several frames, where a helper call per frame took
	 * a quarter of the walk */
	__u64 win, win_end;
	__u8 stack[UNWIND_WINDOW + 16];	/* + what a read at its end takes */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct unwind_scratch);
} unwind_scratch SEC(".maps");

/* What unwind_mapping found for a pc, when not a cached mapping. */
enum { UNWIND_MAP_PENDING = -1, UNWIND_MAP_NONE = -2 };

struct unwind_state {
	__u64 pc, sp, bp;
	__u64 *frames;
	const struct unwind_proc *proc;
	__u32 n;		/* frames recorded: the last index + 1 (never compared:
				 * the verifier need not track it, so the callback's
				 * states converge) */
	struct unwind_scratch *x;	/* this CPU's */
	bool exact;		/* pc is where the thread was, not a return address */
	bool regs_known;	/* the first frame, or just past a signal frame */
	bool cut;		/* ended at a frame it could not unwind */
	bool pending;		/* reached code whose table is not built yet */
};

static __always_inline void unwind_count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&unwind_counters, &idx);

	if (c)
		(*c)++;
}

/* The chunk of the row space that holds slot i; its entry for slot j is
 * unwind_at(chunk, j). */
static __always_inline const struct unwind_entry *unwind_chunk_of(__u32 i)
{
	__u32 chunk = i >> UNWIND_CHUNK_SHIFT, zero = 0;
	void *inner = bpf_map_lookup_elem(&unwind_chunks, &chunk);

	return inner ? bpf_map_lookup_elem(inner, &zero) : NULL;
}

static __always_inline const struct unwind_entry *unwind_at(const struct unwind_entry *chunk, __u32 j)
{
	return &chunk[j & (UNWIND_CHUNK_ENTRIES - 1)];
}

/* 1 when a > b, for values below 2^63 (table offsets): arithmetic, not a
 * branch, so a search step is one path for the verifier (a branch per
 * halving doubles the states it explores). */
static __always_inline __u64 unwind_above(__u64 a, __u64 b)
{
	return (b - a) >> 63;
}

/* 1 when pc lies in m: arithmetic, as above (pc - start wraps below
 * start, and a mapping is less than 4 GiB). */
static __always_inline __u64 unwind_in(const struct unwind_cached_map *m, __u64 pc)
{
	__u64 d = pc - m->start;

	return ((d - m->size) >> 63) & (((d >> 32) - 1) >> 63);
}

/* The cached mapping (its index in st->x->m) of the process's mapping
 * holding pc, when its table is ready; else UNWIND_MAP_PENDING or _NONE.
 * The cached ones first, compared without a branch; then a search of the
 * sorted mappings: fixed halvings with no branch on the comparison and a
 * masked index, so the verifier walks UNWIND_MAP_STEPS short steps once,
 * where a scan of every mapping cost it a pass per mapping (tens of
 * milliseconds of CPU at each load). */
static __always_inline int unwind_mapping(struct unwind_state *st, __u64 pc)
{
	const struct unwind_proc *p = st->proc;
	const struct unwind_mapping *m;
	const struct unwind_file *f;
	__u32 k, base = 0, half, n = p->n;
	__u64 hit = 0, at = 0, in;

	for (k = 0; k < UNWIND_CACHED_MAPS; k++) {
		in = unwind_in(&st->x->m[k], pc);
		hit |= in;
		at |= k & -in;		/* mappings do not overlap: one at most */
	}
	if (hit)
		return at;
	if (!n || n > UNWIND_PROC_MAPPINGS)
		return UNWIND_MAP_NONE;
	for (k = 0; k < UNWIND_MAP_STEPS; k++) {
		half = n / 2;
		m = &p->maps[(base + half) & (UNWIND_PROC_MAPPINGS - 1)];
		base += half & (__u32)(unwind_above(m->start, pc) - 1);
		n -= half;
	}
	m = &p->maps[base & (UNWIND_PROC_MAPPINGS - 1)];
	if (pc - m->start >= m->size)
		return UNWIND_MAP_NONE;
	f = bpf_map_lookup_elem(&unwind_files, &m->file);
	if (!f || f->state == UNWIND_FILE_NONE)
		return UNWIND_MAP_NONE;
	if (f->state != UNWIND_FILE_READY)
		return UNWIND_MAP_PENDING;
	at = st->x->next_m++ & (UNWIND_CACHED_MAPS - 1);
	st->x->m[at] = (struct unwind_cached_map){ m->start, m->bias + f->base, m->size,
						   f->index, f->pages, f->shift };
	return at;
}

/* The id of the rule for pc in mapping m, or -1: the page index gives the
 * rows that may hold it, bounded halvings the last one starting at or
 * below. A global function, checked once by the verifier. */
__noinline int unwind_rule_id(const struct unwind_cached_map *m, __u64 pc)
{
	const struct unwind_entry *c, *e;
	__u32 base, n, half, k;
	__u64 rel, page;

	if (!m || pc < m->base || pc - m->base > 0xffffffffull)
		return -1;
	rel = pc - m->base;
	page = rel >> (m->shift & 31);
	if (page >= m->pages)
		return -1;
	c = unwind_chunk_of(m->index + (__u32)page);
	if (!c)
		return -1;
	e = unwind_at(c, m->index + (__u32)page);
	if (e->last < e->first)
		return -1;
	base = e->first;
	n = e->last - e->first + 1;
	c = unwind_chunk_of(base);	/* user space keeps the page's rows in one */
	if (!c)
		return -1;
	for (k = 0; k < UNWIND_SEARCH_STEPS; k++) {
		half = n / 2;
		e = unwind_at(c, base + half);
		base += half & (__u32)(unwind_above(e->pc, rel) - 1);
		n -= half;
	}
	e = unwind_at(c, base);
	return e->pc > rel || e->rule >= 1u << 30 ? -1 : (int)e->rule;
}

/* The rule for pc in mapping m, or NULL. */
static __always_inline const struct unwind_rule *unwind_rule(const struct unwind_cached_map *m,
							     __u64 pc)
{
	int id = unwind_rule_id(m, pc);

	return id < 0 ? NULL : bpf_map_lookup_elem(&unwind_rules, &id);
}

/* The window read afresh from addr, for n bytes there: up to
 * UNWIND_WINDOW bytes, not past the end of addr's page unless the n do
 * not end before it. 0, or the read's error (the window then empty). A
 * global function, so the verifier checks it once rather than at each
 * read of the walk. */
__noinline int unwind_refill(struct unwind_scratch *x, __u64 addr, __u32 n)
{
	__u64 len = 4096 - (addr & 4095);	/* x86-64's pages */

	if (!x || n > 16)
		return -1;
	if (len < n)
		len = n;
	if (len > UNWIND_WINDOW)	/* after: a bound the verifier sees */
		len = UNWIND_WINDOW;
	if (bpf_probe_read_user(x->stack, len, (void *)addr)) {
		x->win = x->win_end = 0;
		return -1;
	}
	x->win = addr;
	x->win_end = addr + len;
	return 0;
}

/* n (8 or 16) bytes of the user stack at addr into v, from the window,
 * read again from addr when it does not hold them. 0, or not 0 when the
 * stack cannot be read there. */
static __always_inline long unwind_read(struct unwind_state *st, __u64 *v, __u64 addr, __u32 n)
{
	struct unwind_scratch *x = st->x;
	__u64 off;

	if ((addr < x->win || addr + n > x->win_end) && unwind_refill(x, addr, n))
		return -1;
	off = (addr - x->win) & (UNWIND_WINDOW - 1);
	v[0] = *(__u64 *)&x->stack[off];
	if (n > 8)
		v[1] = *(__u64 *)&x->stack[off + 8];
	return 0;
}

/* Ends the walk at a frame that could not be unwound: the sample keeps
 * what was walked, flagged. */
static __always_inline long unwind_cut(struct unwind_state *st)
{
	st->cut = true;
	return 1;
}

/* No table for this code (JIT, anonymous memory): in auto mode, a
 * frame-pointer step when RBP points into the stack at or above SP (at it
 * right after `push %rbp; mov %rsp,%rbp`). */
static __always_inline long unwind_fp_step(struct unwind_state *st)
{
	__u64 fr[2];

	if (unwind_mode != UNWIND_MODE_AUTO)
		return unwind_cut(st);
	if (st->bp < st->sp || st->bp - st->sp > UNWIND_FP_MAX_GAP || (st->bp & 7) ||
	    unwind_read(st, fr, st->bp, sizeof(fr)))
		return 1;
	unwind_count(UNWIND_CNT_FP_FRAMES);
	st->x->bx_at = 1;	/* code without a table may have saved it anywhere */
	st->sp = st->bp + 16;
	st->bp = fr[0];
	st->pc = fr[1];
	st->exact = false;
	st->regs_known = false;
	return st->pc ? 0 : 1;
}

/* glibc's __restore_rt: the registers the signal interrupted are in the
 * kernel's rt_sigframe at SP. The next frame is where the thread was, so
 * its pc is exact and its registers known. */
static __always_inline long unwind_signal(struct unwind_state *st, __u32 i)
{
	__u64 mc[9];	/* rdi rsi rbp rbx rdx rax rcx rsp rip */

	if (bpf_probe_read_user(mc, sizeof(mc), (void *)(st->sp + UNWIND_SIGFRAME_REGS)))
		return unwind_cut(st);
	/* the handler "returns" to __restore_rt itself: name it, not the
	 * byte before */
	if (i < BPPROF_MAX_STACK)
		st->frames[i] = st->pc + 1;
	st->x->regs[5] = mc[0];
	st->x->regs[4] = mc[1];
	st->bp = mc[2];
	st->x->regs[3] = mc[3];
	st->x->bx = mc[3];
	st->x->bx_at = 0;
	st->x->regs[1] = mc[4];
	st->x->regs[0] = mc[5];
	st->x->regs[2] = mc[6];
	st->sp = mc[7];
	st->pc = mc[8];
	st->exact = true;
	st->regs_known = true;
	return st->pc ? 0 : 1;
}

static __always_inline __u64 unwind_reg(const struct unwind_state *st, __u8 reg)
{
	return st->x->regs[reg < UNWIND_REGS ? reg : UNWIND_REGS - 1];
}

/* Frame i: record its pc, then find the caller's registers. 0 goes on, 1
 * ends the walk. (bpf_loop bounds i by the frames wanted.) */
static long unwind_step(__u32 i, void *ctx)
{
	struct unwind_state *st = ctx;
	const struct unwind_rule *r;
	__u64 at, cfa, ra, bp, pair[2], undef;
	int k;

	if (i >= BPPROF_MAX_STACK)
		return 1;
	/* Callers are looked up at the byte before their return address (by
	 * this walk, and by the symbolizer); an exact pc past the first frame
	 * (after a signal) is recorded one further, so it is looked up itself. */
	st->frames[i] = st->exact && i ? st->pc + 1 : st->pc;
	st->n = i + 1;
	at = st->exact ? st->pc : st->pc - 1;
	k = unwind_mapping(st, at);
	if (k < 0) {
		if (k == UNWIND_MAP_PENDING)	/* user space builds it when it sees the flag */
			st->pending = true;
		return unwind_fp_step(st);
	}
	r = unwind_rule(&st->x->m[k & (UNWIND_CACHED_MAPS - 1)], at);
	if (!r)
		return unwind_cut(st);
	switch (r->cfa) {
	case UNWIND_CFA_STOP:
		return 1;	/* the outermost frame: the stack is whole */
	case UNWIND_CFA_SP:
		cfa = st->sp + r->cfa_off;
		break;
	case UNWIND_CFA_BP:
		cfa = st->bp + r->cfa_off;
		break;
	case UNWIND_CFA_PLT:
		cfa = st->sp + r->cfa_off + ((st->pc & 15) >= r->plt_k ? 8 : 0);
		break;
	case UNWIND_CFA_SIGNAL:
		return unwind_signal(st, i);
	case UNWIND_CFA_BX:	/* RBX read only here, where a frame needs it */
		if (st->x->bx_at == 1 || (st->x->bx_at && bpf_probe_read_user(&st->x->bx, 8,
									  (void *)st->x->bx_at)))
			return unwind_cut(st);
		st->x->bx_at = 0;
		cfa = st->x->bx + r->cfa_off;
		break;
	default:
		return unwind_cut(st);
	}
	bp = r->bp == UNWIND_BP_SAME ? st->bp : 0;
	if (r->ra == UNWIND_RA_REG) {
		if (!st->regs_known)
			return unwind_cut(st);
		ra = unwind_reg(st, r->ra_reg);
		if (r->bp == UNWIND_BP_AT_CFA && unwind_read(st, &bp, cfa + r->bp_off, 8))
			return unwind_cut(st);
	} else if (r->bp == UNWIND_BP_AT_CFA && r->bp_off == r->ra_off - 8) {
		/* the usual frame: RBP saved right below the return address */
		if (unwind_read(st, pair, cfa + r->bp_off, sizeof(pair)))
			return unwind_cut(st);
		bp = pair[0];
		ra = pair[1];
	} else {
		if (unwind_read(st, &ra, cfa + r->ra_off, 8))
			return unwind_cut(st);
		if (r->bp == UNWIND_BP_AT_CFA && unwind_read(st, &bp, cfa + r->bp_off, 8))
			return unwind_cut(st);
	}
	/* The caller's stack lies above ours; only a return address kept in
	 * a register leaves it where it is (__vfork). Else: a loop, or junk. */
	if (cfa < st->sp || (cfa == st->sp && r->ra != UNWIND_RA_REG))
		return unwind_cut(st);
	/* The caller's RBX: where it is saved, read only if a frame needs it.
	 * Masks, not branches (BPF has no conditional move): SAME (0) keeps
	 * the slot, AT_CFA (1) takes the caller's, UNDEF (2) marks it unknown. */
	at = -(__u64)(r->bx & 1);
	undef = -(__u64)((r->bx >> 1) & 1);
	st->x->bx_at = (at & (cfa + r->bx_off)) | (undef & 1) | (~(at | undef) & st->x->bx_at);
	st->sp = cfa;
	st->bp = bp;
	st->pc = ra;
	st->exact = false;
	st->regs_known = false;
	return ra ? 0 : 1;	/* a zero return address: nothing called this frame */
}

/* The mappings user space loaded for process leader, or NULL. (A start
 * time of 0: loaded before its first sample told user space the exact one.) */
static __always_inline const struct unwind_proc *unwind_proc_of(struct task_struct *leader)
{
	__u32 tgid = BPF_CORE_READ(leader, tgid);
	const struct unwind_proc *p = bpf_map_lookup_elem(&unwind_procs, &tgid);

	if (p && p->start_boottime && p->start_boottime != BPF_CORE_READ(leader, start_boottime))
		return NULL;
	return p;
}

/* The current process's mappings; for a child that has not exec'd since
 * its fork (and whose parent has not either), its parent's: it maps what
 * they mapped then, and a short-lived child (vfork, a shell's pipeline, a
 * forked worker's first moments) is walked before user space hears of it. */
static __always_inline const struct unwind_proc *unwind_current_proc(struct task_struct *task)
{
	struct task_struct *leader = BPF_CORE_READ(task, group_leader), *parent;
	const struct unwind_proc *p = unwind_proc_of(leader);
	__u64 forked_at;

	if (p)
		return p;
	forked_at = BPF_CORE_READ(leader, parent_exec_id);
	parent = BPF_CORE_READ(leader, real_parent);
	if (BPF_CORE_READ(leader, self_exec_id) != forked_at ||
	    BPF_CORE_READ(parent, self_exec_id) != forked_at)
		return NULL;
	return unwind_proc_of(BPF_CORE_READ(parent, group_leader));
}

/* The current task's user stack from its tables into frames: how many
 * frames, or -1 when the process has none loaded (the caller walks frame
 * pointers instead). */
static __always_inline long unwind_user_stack(struct task_struct *task, __u64 *frames, __u32 max,
					      __u32 *flags)
{
	struct unwind_state st = { .frames = frames, .exact = true, .regs_known = true };
	struct pt_regs *regs;
	__u32 zero = 0, k;

	st.proc = unwind_current_proc(task);
	st.x = bpf_map_lookup_elem(&unwind_scratch, &zero);
	if (!st.proc || !st.x) {
		unwind_count(UNWIND_CNT_FALLBACK);
		return -1;
	}
	/* BTF pointers, here and above: plain loads the kernel's exception
	 * table guards, not a helper call per field */
	st.x->owner = bpf_get_current_pid_tgid();
	/* no mapping cached: the last walk's were another process's */
	for (k = 0; k < UNWIND_CACHED_MAPS; k++)
		st.x->m[k].size = 0;
	st.x->win = st.x->win_end = 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	st.pc = regs->ip;
	st.sp = regs->sp;
	st.bp = regs->bp;
	st.x->regs[0] = regs->ax;
	st.x->regs[1] = regs->dx;
	st.x->regs[2] = regs->cx;
	st.x->regs[3] = regs->bx;
	st.x->bx = regs->bx;
	st.x->bx_at = 0;
	st.x->regs[4] = regs->si;
	st.x->regs[5] = regs->di;
	bpf_loop(max, unwind_step, &st, 0);
	/* Another walk took this CPU's scratch while this one was preempted:
	 * from then on this one read another stack's state. Only the leaf,
	 * taken from the registers, is sure. */
	if (st.x->owner != bpf_get_current_pid_tgid()) {
		st.n = 1;
		st.cut = true;
	}
	if (st.cut) {
		*flags |= USTACK_TRUNCATED;
		unwind_count(UNWIND_CNT_CUT);
	}
	if (st.pending) {	/* walked in part with frame pointers: counted so */
		*flags |= USTACK_PENDING;
		unwind_count(UNWIND_CNT_FALLBACK);
	}
	return st.n;
}

/* The exec tracepoints call this: a new image, new mappings. */
static __always_inline void unwind_forget(__u32 tgid)
{
	if (unwind_mode != UNWIND_MODE_FP)
		bpf_map_delete_elem(&unwind_procs, &tgid);
}

#endif
