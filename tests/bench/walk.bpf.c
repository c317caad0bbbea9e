// SPDX-License-Identifier: GPL-2.0
/* The stack walk alone: on each sample of a per-process perf event, only
 * walk_user_stack() (common.bpf.h: the unwind tables, or bpf_get_stack with
 * frame pointers, by unwind_mode) into a per-CPU buffer. Its run_time_ns /
 * run_cnt is what one walk costs, without the record, the identity and the
 * ring buffer that on_cpu_sample adds. Loaded by tests/bench/walk.c. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "events.h"
#define BPPROF_COUNTERS	CPU_CNT_MAX
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct frames {
	__u64 v[BPPROF_MAX_STACK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct frames);
} scratch SEC(".maps");

__u64 walked_frames = 0;	/* summed over every walk */

SEC("perf_event")
int walk(struct bpf_perf_event_data *ctx)
{
	__u32 zero = 0, flags = 0, n;
	struct frames *f = bpf_map_lookup_elem(&scratch, &zero);

	if (!f)
		return 0;
	n = walk_user_stack(ctx, f->v, BPPROF_MAX_STACK, &flags);
	__sync_fetch_and_add(&walked_frames, n);
	return 0;
}
