/* The running kernel's names for kernel addresses, asked per address
 * (bpf/ksym.bpf.c): what a profile needs of kallsyms without reading all
 * of /proc/kallsyms. Loaded on first use; needs the privileges a capture
 * has. */
#ifndef BPPROF_COLLECT_KSYM_H
#define BPPROF_COLLECT_KSYM_H
#include <stddef.h>
#include <stdint.h>

#include "bpf/ksym.h"

struct ksym_namer;

/* A namer that loads its program on first use. 0, or -ENOMEM. */
int ksym_namer__new(struct ksym_namer **out);
/* Names addrs[0..n) (n at most KSYM_BATCH): out[i] as the kernel's %pS
 * prints it ("name+0xoff/0xsize [module]", "0x<address>" when no symbol
 * covers it), or NULL where the answer did not fit; valid until the next
 * call. *text_start: where the kernel's text starts (_stext; 0 when the
 * kernel hides it). 0, or negative errno when the program cannot be loaded
 * or run (the caller reads kallsyms instead). A symbolizer's
 * kernel_names. */
int ksym_namer__names(void *namer, const uint64_t *addrs, size_t n, const char **out,
		      uint64_t *text_start);
void ksym_namer__free(struct ksym_namer *k);

#endif
