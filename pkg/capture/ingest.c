/* Checks each record's type and size before trusting a field of it, then
 * interns names and stacks and counts the sample. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "capture/ingest.h"
#include "base/log.h"
#include "bpf/events.h"

void cpu_ingest__init(struct cpu_ingest *in, struct symbolizer *sym, struct stacks *stacks)
{
	memset(in, 0, sizeof(*in));
	in->sym = sym;
	in->stacks = stacks;
	in->ns_per_tick = 1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK);
}

void cpu_ingest__await_exec(struct cpu_ingest *in, uint32_t pid)
{
	in->await_exec = pid;
	if (prctl(PR_GET_NAME, in->own_comm))
		in->own_comm[0] = '\0';
}

/* Still our forked child? Its exec event says when it stops being ours; the
 * name is the fallback should that event be lost. */
static bool before_exec(struct cpu_ingest *in, uint32_t pid, const char *comm)
{
	if (!in->await_exec || pid != in->await_exec)
		return false;
	if (strncmp(comm, in->own_comm, BPPROF_COMM_LEN)) {
		in->await_exec = 0;
		return false;
	}
	in->before_exec++;
	return true;
}

/* A frame-pointer walk through code built without them can end on a zero
 * return address: no frame is there, and none after it. */
static size_t frames_used(const __u64 *frames, __u32 n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!frames[i])
			break;
	return i;
}

/* A sample's identity in the table: its process snapshot (the maps read
 * again first if a frame needs it; mapped: the process is known to have
 * mapped code since its last sample), names and stacks interned. */
static int sample_key(struct symbolizer *sym, struct stacks *t, uint64_t ns_per_tick,
		      const char *comm, const char *thread_comm, uint64_t start_boottime,
		      const uint64_t *kstack, size_t klen, const uint64_t *ustack, size_t ulen,
		      bool mapped, struct stacks_sample *key)
{
	int64_t proc;
	int err = 0;

	proc = symbolizer__proc(sym, key->pid, start_boottime / ns_per_tick);
	if (proc >= 0 && ulen)
		err = symbolizer__check(sym, proc, ustack, ulen, mapped);
	if (proc < 0 || err < 0)
		return proc < 0 ? (int)proc : err;
	key->proc = proc;
	err = stacks__intern_string(t, comm, strnlen(comm, BPPROF_COMM_LEN), &key->comm);
	if (!err)
		err = stacks__intern_string(t, thread_comm, strnlen(thread_comm, BPPROF_COMM_LEN),
					    &key->thread_comm);
	if (!err)
		err = stacks__intern_stack(t, kstack, klen, &key->kstack);
	if (!err)
		err = stacks__intern_stack(t, ustack, ulen, &key->ustack);
	return err;
}

static void table_full(uint64_t *dropped, const struct stacks *t)
{
	if (!(*dropped)++)
		pr_warn("the aggregation table is full (%zu MiB): samples with new stacks are "
			"dropped and counted", t->limit >> 20);
}

/* What a CPU sample and an off-CPU wait share: who, both stacks, flags. */
struct stacked {
	uint32_t pid;
	const char *comm, *thread_comm;
	uint64_t start_boottime;
	uint32_t flags;
	const __u64 *kstack, *ustack;
	uint32_t kstack_len, ustack_len;
};

/* A process with a user stack (not a kernel thread): its unwind tables,
 * and those of the files its stack reached before they were built. */
static int load_tables(struct cpu_ingest *in, const struct stacked *r)
{
	int err;

	if (!in->unwind || !r->ustack_len)
		return 0;
	err = unwinder__load(in->unwind, r->pid, r->start_boottime, r->flags & SAMPLE_MAPPED);
	if (err >= 0 && (r->flags & USTACK_PENDING)) {
		in->pending++;
		err = unwinder__need(in->unwind, r->pid, (const uint64_t *)r->ustack,
				     frames_used(r->ustack, r->ustack_len));
	}
	return err < 0 ? err : 0;
}

/* r's stacks into the table under key, counting 1 and adding value (an
 * off-CPU wait's nanoseconds; 0 for a CPU sample), into received or, when
 * the table is full, dropped. 0, or negative errno. */
static int add_stacked(struct cpu_ingest *in, const struct stacked *r, struct stacks_sample *key,
		       uint64_t value)
{
	int err;

	if (before_exec(in, r->pid, r->comm))
		return 0;
	err = load_tables(in, r);
	if (err < 0)
		return err;
	err = sample_key(in->sym, in->stacks, in->ns_per_tick, r->comm, r->thread_comm,
			 r->start_boottime, (const uint64_t *)r->kstack,
			 frames_used(r->kstack, r->kstack_len), (const uint64_t *)r->ustack,
			 frames_used(r->ustack, r->ustack_len), r->flags & SAMPLE_MAPPED, key);
	if (!err)
		err = stacks__add_value(in->stacks, key, 1, value);
	if (err == -E2BIG) {
		table_full(&in->dropped, in->stacks);
		in->dropped_ns += value;
		return 0;
	}
	if (err < 0)
		return err;
	in->received++;
	in->received_ns += value;
	return 0;
}

static int add_sample(struct cpu_ingest *in, const struct cpu_sample *s)
{
	struct stacks_sample key = { .pid = s->pid, .tid = s->tid };
	struct stacked r = { s->pid, s->comm, s->thread_comm, s->start_boottime, s->flags,
			     s->kstack, s->ustack, s->kstack_len, s->ustack_len };

	if (s->kstack_len > BPPROF_MAX_STACK || s->ustack_len > BPPROF_MAX_STACK) {
		in->dropped++;
		return 0;
	}
	return add_stacked(in, &r, &key, 0);
}

/* Process pid's snapshot, its maps read at first sight, and read again
 * when again is set (it mapped code since). 0, or negative errno when
 * memory runs out. */
static int snapshot(struct cpu_ingest *in, uint32_t pid, uint64_t start_boottime, bool again)
{
	int64_t proc = symbolizer__proc(in->sym, pid, start_boottime / in->ns_per_tick);

	if (proc == -E2BIG)
		return 0;	/* the snapshot limit: said by the symbolizer's stats */
	if (proc < 0)
		return (int)proc;
	return again ? symbolizer__refresh(in->sym, proc) : 0;
}

/* A process new to us has a thread waiting: read its maps now, while it
 * cannot have exited yet (its wait is recorded when it ends, maybe just
 * before the process does). Our own child before its exec is skipped. */
static int notice(struct cpu_ingest *in, const struct offcpu_sample *w)
{
	if (in->await_exec == w->pid && !strncmp(w->comm, in->own_comm, BPPROF_COMM_LEN))
		return 0;
	return snapshot(in, w->pid, w->start_boottime, w->flags & SAMPLE_MAPPED);
}

/* A wait counts once and adds its nanoseconds; its thread state keeps it
 * apart from the same stack waiting otherwise. */
static int add_wait(struct cpu_ingest *in, const struct offcpu_sample *w)
{
	struct stacks_sample key = { .pid = w->pid, .tid = w->tid, .tag = w->state + 1 };
	struct stacked r = { w->pid, w->comm, w->thread_comm, w->start_boottime, w->flags,
			     w->kstack, w->ustack, w->kstack_len, w->ustack_len };

	if (w->flags & OFFCPU_NOTICE)
		return notice(in, w);
	if (w->kstack_len > BPPROF_MAX_STACK || w->ustack_len > BPPROF_MAX_STACK ||
	    w->state >= OFFCPU_STATES) {
		in->dropped++;
		in->dropped_ns += w->blocked_ns;
		return 0;
	}
	return add_stacked(in, &r, &key, w->blocked_ns);
}

/* The record's type when its header and size agree with what that type
 * is; 0 (no type) for anything else. */
static uint32_t record_type(const void *data, size_t size)
{
	static const uint32_t sizes[] = {
		[EV_CPU_SAMPLE] = sizeof(struct cpu_sample),
		[EV_EXEC] = sizeof(struct exec_event),
		[EV_HEAP_ALLOC] = sizeof(struct heap_alloc),
		[EV_HEAP_FREE] = sizeof(struct heap_free),
		[EV_HEAP_MAPPED] = sizeof(struct heap_mapped),
		[EV_OFFCPU] = sizeof(struct offcpu_sample),
		[EV_LINKMAP] = sizeof(struct exec_event),
	};
	const struct event_header *h = data;

	if (size < sizeof(*h) || h->size != size || h->type >= sizeof(sizes) / sizeof(sizes[0]) ||
	    sizes[h->type] != size)
		return 0;
	return h->type;
}

int cpu_ingest__record(void *ctx, const void *data, size_t size)
{
	struct cpu_ingest *in = ctx;
	int err = 0;

	switch (record_type(data, size)) {
	case EV_CPU_SAMPLE:
		err = add_sample(in, data);
		break;
	case EV_OFFCPU:
		err = add_wait(in, data);
		break;
	case EV_EXEC: {
		const struct exec_event *x = data;

		symbolizer__exec(in->sym, x->pid);
		if (x->pid == in->await_exec)
			in->await_exec = 0;
		/* the new image and its dynamic linker: the rest comes as it
		 * is mapped (SAMPLE_MAPPED) */
		if (in->unwind && (in->unwind_at_exec || unwinder__known(in->unwind, x->pid)))
			err = unwinder__exec(in->unwind, x->pid, x->start_boottime);
		err = err < 0 ? err : 0;
		/* our command waited for its tables: its first instruction is
		 * unwound, not only sampled */
		if (x->stopped && !err && in->on_held_exec)
			err = in->on_held_exec(in->held_ctx, x->pid);
		if (x->stopped)
			kill((pid_t)x->pid, SIGCONT);
		break;
	}
	case EV_LINKMAP: {
		const struct exec_event *x = data;

		/* its dynamic linker mapped objects: their tables and their
		 * names before their code runs (it is held: its maps are
		 * complete, and it cannot have exited; a short command's
		 * samples are often read only after it did, too late to find
		 * its libc) */
		if (in->unwind)
			err = unwinder__load(in->unwind, x->pid, x->start_boottime, true);
		err = err < 0 ? err : snapshot(in, x->pid, x->start_boottime, true);
		kill((pid_t)x->pid, SIGCONT);
		break;
	}
	default:
		in->dropped++;
	}
	if (err)
		in->fatal = err;
	return err;
}

void heap_ingest__init(struct heap_ingest *in, struct symbolizer *sym, struct heap_table *heap)
{
	memset(in, 0, sizeof(*in));
	in->sym = sym;
	in->heap = heap;
	in->ns_per_tick = 1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK);
}

static int add_alloc(struct heap_ingest *in, const struct heap_alloc *a)
{
	struct stacks_sample key = { .pid = a->pid, .tid = a->tid };
	uint64_t ustack[BPPROF_MAX_STACK];
	size_t n;
	int err;

	if (a->ustack_len > BPPROF_MAX_STACK || !a->id) {
		in->dropped++;
		return 0;
	}
	/* Every frame is a return address, the leaf too (the walk starts at
	 * the allocator's return): look each up at the call before it. */
	if (in->unwind) {
		err = unwinder__load(in->unwind, a->pid, a->start_boottime, false);
		if (err >= 0 && (a->flags & USTACK_PENDING))
			err = unwinder__need(in->unwind, a->pid, (const uint64_t *)a->ustack,
					     frames_used(a->ustack, a->ustack_len));
		if (err < 0)
			return err;
	}
	n = frames_used(a->ustack, a->ustack_len);
	memcpy(ustack, a->ustack, n * sizeof(*ustack));
	if (n)
		ustack[0]--;
	err = sample_key(in->sym, &in->heap->stacks, in->ns_per_tick, a->comm, a->thread_comm,
			 a->start_boottime, NULL, 0, ustack, n, false, &key);
	if (!err)
		err = stacks__add(&in->heap->stacks, &key, 1);
	if (err >= 0)
		err = heap_table__alloc(in->heap, err, a->id, a->size, !(a->flags & HEAP_UNTRACKED));
	if (err == -E2BIG) {
		table_full(&in->dropped, &in->heap->stacks);
		return 0;
	}
	return err;
}

int heap_ingest__record(void *ctx, const void *data, size_t size)
{
	struct heap_ingest *in = ctx;
	int err = 0;

	switch (record_type(data, size)) {
	case EV_HEAP_ALLOC:
		err = add_alloc(in, data);
		break;
	case EV_HEAP_FREE:
		heap_table__freed(in->heap, ((const struct heap_free *)data)->id);
		break;
	case EV_HEAP_MAPPED:
		if (in->on_mapped)
			err = in->on_mapped(in->mapped_ctx, data);
		break;
	default:
		in->dropped++;
	}
	if (err)
		in->fatal = err;
	return err;
}
