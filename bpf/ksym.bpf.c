// SPDX-License-Identifier: GPL-2.0
/* Kernel addresses to names with the kernel's own kallsyms lookup, for the
 * addresses a profile holds: user space fills `addrs`, runs the program
 * (BPF_PROG_TYPE_SYSCALL, through BPF_PROG_TEST_RUN) and reads each answer
 * as %pS prints it: "name+0xoff/0xsize", then " [module]" for module and
 * BPF code, or "0x<address>" where no symbol covers it. Reading all of
 * /proc/kallsyms instead costs the kernel ~120,000 formatted lines and
 * bpprof their parsing: a third of a 10 s capture's CPU time. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "ksym.h"

char LICENSE[] SEC("license") = "GPL";

__u64 addrs[KSYM_BATCH];
__u32 n;
char text[KSYM_BATCH][KSYM_TEXT];
__s32 len[KSYM_BATCH];		/* bpf_snprintf's: the bytes wanted, with the NUL */
__u64 text_start;		/* _stext, found at the first run; 0: hidden */

SEC("syscall")
int ksym_names(void *ctx)
{
	__u32 i;

	if (!text_start)
		bpf_kallsyms_lookup_name("_stext", sizeof("_stext"), 0, &text_start);
	for (i = 0; i < KSYM_BATCH; i++) {
		__u64 arg;

		if (i >= n)
			break;
		arg = addrs[i];
		len[i] = bpf_snprintf(text[i], KSYM_TEXT, "%pS", &arg, sizeof(arg));
	}
	return 0;
}
