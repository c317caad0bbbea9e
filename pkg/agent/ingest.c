/* Checks each record's type and size before trusting a field of it, then
 * interns names and stacks and counts the sample. */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "agent/ingest.h"
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
static bool before_exec(struct cpu_ingest *in, const struct cpu_sample *s)
{
	if (!in->await_exec || s->pid != in->await_exec)
		return false;
	if (strncmp(s->comm, in->own_comm, sizeof(s->comm))) {
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

static int add_sample(struct cpu_ingest *in, const struct cpu_sample *s)
{
	struct stacks_sample key = { .pid = s->pid, .tid = s->tid };
	struct stacks *t = in->stacks;
	int64_t proc;
	size_t ulen;
	int err = 0;

	if (s->kstack_len > BPPROF_MAX_STACK || s->ustack_len > BPPROF_MAX_STACK) {
		in->dropped++;
		return 0;
	}
	if (before_exec(in, s))
		return 0;
	ulen = frames_used(s->ustack, s->ustack_len);
	proc = symbolizer__proc(in->sym, s->pid, s->start_boottime / in->ns_per_tick);
	if (proc >= 0 && ulen)
		err = symbolizer__check(in->sym, proc, (const uint64_t *)s->ustack, ulen);
	if (proc < 0 || err < 0)
		return proc < 0 ? (int)proc : err;
	key.proc = proc;
	err = stacks__intern_string(t, s->comm, strnlen(s->comm, sizeof(s->comm)), &key.comm);
	if (!err)
		err = stacks__intern_string(t, s->thread_comm,
					    strnlen(s->thread_comm, sizeof(s->thread_comm)),
					    &key.thread_comm);
	if (!err)
		err = stacks__intern_stack(t, (const uint64_t *)s->kstack,
					   frames_used(s->kstack, s->kstack_len), &key.kstack);
	if (!err)
		err = stacks__intern_stack(t, (const uint64_t *)s->ustack, ulen, &key.ustack);
	if (!err)
		err = stacks__add(t, &key, 1);
	if (err == -E2BIG) {
		if (!in->dropped++)
			pr_warn("the aggregation table is full (%zu MiB): samples with new stacks "
				"are dropped and counted", t->limit >> 20);
		return 0;
	}
	if (!err)
		in->received++;
	return err;
}

int cpu_ingest__record(void *ctx, const void *data, size_t size)
{
	struct cpu_ingest *in = ctx;
	const struct event_header *h = data;
	int err = 0;

	if (size < sizeof(*h) || h->size != size) {
		in->dropped++;
		return 0;
	}
	switch (h->type) {
	case EV_CPU_SAMPLE:
		if (size != sizeof(struct cpu_sample))
			in->dropped++;
		else
			err = add_sample(in, data);
		break;
	case EV_EXEC:
		if (size != sizeof(struct exec_event)) {
			in->dropped++;
			break;
		}
		symbolizer__exec(in->sym, ((const struct exec_event *)data)->pid);
		if (((const struct exec_event *)data)->pid == in->await_exec)
			in->await_exec = 0;
		break;
	default:
		in->dropped++;
	}
	if (err)
		in->fatal = err;
	return err;
}
