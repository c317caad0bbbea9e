/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel types bpprof's BPF programs use, x86-64: the register frame
 * here, the rest in ../vmlinux_common.h (see bpf/README.md on adding one).
 * Kept by hand instead of dumped from a build host's BTF: the build no
 * longer depends on the kernel it runs on, and CO-RE relocates each field
 * by name on whatever kernel loads the programs. */
#ifndef __VMLINUX_H__
#define __VMLINUX_H__

/* The kernel's register frame, a uprobe's context and the start of a
 * perf_event program's. Field names are the kernel's (di, not the UAPI's
 * rdi): bpf_tracing.h's PT_REGS_* use them once __VMLINUX_H__ is defined.
 * The layout is also the UAPI's, so cs and ss are plain longs; newer
 * kernels put them in unions with FRED's views, CO-RE does not mind. */
struct pt_regs {
	unsigned long r15;
	unsigned long r14;
	unsigned long r13;
	unsigned long r12;
	unsigned long bp;
	unsigned long bx;
	unsigned long r11;
	unsigned long r10;
	unsigned long r9;
	unsigned long r8;
	unsigned long ax;
	unsigned long cx;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
	unsigned long ip;
	unsigned long cs;
	unsigned long flags;
	unsigned long sp;
	unsigned long ss;
} __attribute__((preserve_access_index));

_Static_assert(sizeof(struct pt_regs) == 21 * 8, "x86-64 pt_regs");

/* arch/x86/include/uapi/asm/bpf_perf_event.h */
typedef struct pt_regs bpf_user_pt_regs_t;

#include "../vmlinux_common.h"

#endif
