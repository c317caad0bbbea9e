/* Unwind tables as the BPF walker (unwind.bpf.h) reads them, shared with
 * user space, which builds them (pkg/unwind) from each ELF file's CFI. x86-64.
 *
 * Every table entry is 8 bytes and lives in one row space split into
 * chunks (an array of maps, each holding one chunk as a single value), so
 * kernel memory grows a chunk at a time as files are loaded. A file's
 * entries are its page index then its rows: the index turns a pc into the
 * few rows to search (their slots in the row space, never crossing from
 * one chunk into the next, so the search reads one chunk), the rows say
 * from which pc on which rule holds. Rules are deduplicated into their own
 * array. A process is the sorted list of its mappings that have a table.
 * Fixed-width fields only; sizes asserted. */
#ifndef BPPROF_BPF_UNWIND_H
#define BPPROF_BPF_UNWIND_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define UNWIND_CHUNK_SHIFT	16
#define UNWIND_CHUNK_ENTRIES	(1u << UNWIND_CHUNK_SHIFT)	/* 512 KiB per chunk */
#define UNWIND_CHUNK_BYTES	(UNWIND_CHUNK_ENTRIES * 8u)
#define UNWIND_MAX_CHUNKS	256u	/* the outer array: 128 MiB of entries at most */
#define UNWIND_PROC_MAPPINGS	128u	/* mappings with a table, per process */
#define UNWIND_MAP_STEPS	7	/* log2(UNWIND_PROC_MAPPINGS) */
#define UNWIND_SEARCH_STEPS	9	/* a page spans at most 2^8 rows (+1) */
#define UNWIND_MAX_SPAN		(1u << (UNWIND_SEARCH_STEPS - 1))

/* What the programs walk user stacks with (rodata `unwind_mode`). */
enum unwind_mode {
	UNWIND_MODE_FP,		/* frame pointers (bpf_get_stack), as before tables */
	UNWIND_MODE_DWARF,	/* tables only: code without one ends the walk */
	UNWIND_MODE_AUTO,	/* tables, and frame pointers where a file has none */
};

/* How the caller's CFA (its stack pointer before the call) is found. */
enum unwind_cfa {
	UNWIND_CFA_NONE,	/* no rule we can follow: the walk ends, flagged cut */
	UNWIND_CFA_SP,		/* RSP + cfa_off */
	UNWIND_CFA_BP,		/* RBP + cfa_off */
	UNWIND_CFA_PLT,		/* RSP + cfa_off + ((RIP & 15) >= plt_k ? 8 : 0): a PLT stub */
	UNWIND_CFA_SIGNAL,	/* the kernel's rt_sigframe at RSP (glibc's __restore_rt):
				 * the interrupted registers are read from its ucontext */
	UNWIND_CFA_STOP,	/* the return address is undefined: the outermost frame
				 * (_start, a thread's clone) */
	UNWIND_CFA_BX,		/* RBX + cfa_off (ld.so's _dl_runtime_resolve, which
				 * realigns RSP) */
};

enum unwind_ra {
	UNWIND_RA_AT_CFA,	/* at CFA + ra_off */
	UNWIND_RA_REG,		/* in DWARF register ra_reg (__vfork: rdi); known in the
				 * first frame and after a signal frame only */
};

/* Where the caller's RBP (and, the same way, its RBX) is. */
enum unwind_bp {
	UNWIND_BP_SAME,		/* the caller's RBP is this frame's */
	UNWIND_BP_AT_CFA,	/* saved at CFA + bp_off */
	UNWIND_BP_UNDEF,	/* not recoverable: 0 */
};

/* DWARF numbers of the registers a rule may keep the return address in
 * (x86-64 psABI): rax, rdx, rcx, rbx, rsi, rdi. */
#define UNWIND_REGS		6

struct unwind_rule {
	__s32 cfa_off;
	__s16 ra_off;
	__s16 bp_off;
	__u8 cfa;		/* enum unwind_cfa */
	__u8 ra;		/* enum unwind_ra */
	__u8 bp;		/* enum unwind_bp */
	__u8 ra_reg;		/* UNWIND_RA_REG: < UNWIND_REGS */
	__u8 plt_k;		/* UNWIND_CFA_PLT */
	__u8 bx;		/* enum unwind_bp, for RBX */
	__s16 bx_off;		/* UNWIND_BP_AT_CFA */
};

/* One 8-byte slot of the row space. */
struct unwind_entry {
	union {
		struct {
			__u32 pc;	/* from here (relative to the file's base) on... */
			__u32 rule;	/* ...this rule holds (index in the rules array) */
		};
		struct {		/* a page of the index: the row-space slots first..last
					 * (in one chunk) hold every pc of the page */
			__u32 first;
			__u32 last;
		};
	};
};

/* A file's table: built when a process maps it, or (whole-system captures)
 * when a stack first reaches it; until then its entry is zero: pending. */
enum unwind_file_state {
	UNWIND_FILE_PENDING,	/* not built yet: the walk takes a frame-pointer step
				 * and flags the sample USTACK_PENDING */
	UNWIND_FILE_READY,
	UNWIND_FILE_NONE,	/* it has none (no CFI, a limit hit): frame pointers */
};

struct unwind_file {
	__u64 base;		/* ELF address of the table's pc 0 */
	__u32 index;		/* row-space slot of page 0 of the index */
	__u32 pages;
	__u32 slots;		/* row-space slots it takes from index on */
	__u32 n_rows;
	__u32 shift;		/* page = pc >> shift */
	__u32 state;		/* enum unwind_file_state: written last */
};

/* An executable mapping of a file that has, or may get, a table. */
struct unwind_mapping {
	__u64 start;		/* runtime address range */
	__u64 bias;		/* runtime address of the file's ELF address 0 */
	__u32 size;		/* bytes from start */
	__u32 file;		/* index in the files array */
};

struct unwind_proc {
	__u64 start_boottime;	/* of the thread group leader: a reused pid does not match
				 * (0: not known yet, not checked) */
	__u32 n;		/* maps used */
	__u32 pad;
	struct unwind_mapping maps[UNWIND_PROC_MAPPINGS];	/* sorted by start */
};

/* Indexes of each program's per-CPU `unwind_counters` array. */
enum unwind_counter {
	UNWIND_CNT_FALLBACK,	/* walks with frame pointers (in part) because the
				 * process's tables, or a file's, were not loaded yet */
	UNWIND_CNT_CUT,		/* walks that ended at a frame they could not unwind
				 * (no rule, unreadable stack): flagged USTACK_TRUNCATED */
	UNWIND_CNT_FP_FRAMES,	/* frames stepped with frame pointers (code without a
				 * table, in auto mode) */
	UNWIND_CNT_MAX
};

_Static_assert(sizeof(struct unwind_rule) == 16, "unwind_rule layout");
_Static_assert(sizeof(struct unwind_entry) == 8, "unwind_entry layout");
_Static_assert(sizeof(struct unwind_file) == 32, "unwind_file layout");
_Static_assert(sizeof(struct unwind_mapping) == 24, "unwind_mapping layout");
_Static_assert(sizeof(struct unwind_proc) == 16 + 24 * UNWIND_PROC_MAPPINGS, "unwind_proc layout");
_Static_assert((1u << UNWIND_MAP_STEPS) == UNWIND_PROC_MAPPINGS, "UNWIND_MAP_STEPS");

#endif
