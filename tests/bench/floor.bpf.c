// SPDX-License-Identifier: GPL-2.0
/* The uprobe floor: programs that do nothing, so what a probed call costs
 * under them is the trap (and the uretprobe return path) alone. Attached by
 * tests/bench/uprobe_floor.c at bpprof's own heap attach points. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("uprobe")
int floor_entry(void *ctx)
{
	return 0;
}

SEC("uretprobe")
int floor_ret(void *ctx)
{
	return 0;
}
