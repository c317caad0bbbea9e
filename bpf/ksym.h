/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by bpf/ksym.bpf.c and pkg/collect/ksym.c: a batch of kernel
 * addresses named per run, and the room for each answer (a kernel symbol
 * is at most 512 bytes; "+0xoff/0xsize [module]" adds at most 94). */
#ifndef BPPROF_BPF_KSYM_H
#define BPPROF_BPF_KSYM_H

#define KSYM_BATCH	128
#define KSYM_TEXT	608

#endif
