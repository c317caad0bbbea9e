/* The unwinder: what the BPF walker needs to know of each process, kept up
 * to date from user space. For a process (when first seen, and again when
 * it maps new code or execs) it reads /proc/PID/maps; each executable file
 * it maps gets a file id (once per file: cached by dev:inode and shared by
 * build-id, so every process mapping libc shares one), and its table is
 * built then (eager), or when a stack first reaches it (lazy: the walker
 * flags such a sample, unwinder__need builds what its frames need); the
 * vDSO's from our own image. The process's sorted mappings go to a sink
 * (pkg/unwind/maps.c: the BPF maps; the tests: memory). Every limit hit is
 * counted. */
#ifndef BPPROF_UNWIND_UNWIND_H
#define BPPROF_UNWIND_UNWIND_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/unwind.h"
#include "unwind/table.h"

#define UNWIND_MAX_RULES	16384u		/* distinct rules (256 KiB of kernel memory) */
#define UNWIND_MAX_FILES	8192u		/* files with a table */
#define UNWIND_MAX_PROCS	16384u		/* processes known at once */
#define UNWIND_DEFAULT_BYTES	(64u << 20)	/* kernel memory for rows and indexes */
#define UNWIND_MAPS_MAX_BYTES	(64u << 20)	/* of /proc/PID/maps text read */

/* Where tables and processes go. Each returns 0 or a negative errno:
 * -ENOSPC when it is full. */
struct unwind_sink {
	/* rules ids first..first+n-1, before any table uses them */
	int (*rules)(void *ctx, const struct unwind_rule *v, uint32_t first, uint32_t n);
	/* a new file id, its table pending */
	int (*file)(void *ctx, uint32_t *file);
	/* file's table, or NULL: it has none (frame pointers there) */
	int (*table)(void *ctx, uint32_t file, const struct unwind_table *t);
	/* pid's mappings (NULL: forget pid) */
	int (*proc)(void *ctx, uint32_t pid, const struct unwind_proc *p);
	void *ctx;
};

struct unwinder_opts {
	const char *proc_root;		/* NULL: "/proc" */
	struct unwind_sink sink;
	bool lazy;			/* build a file's table when a stack reaches it, not
					 * when a process maps it (a whole-system capture:
					 * most files mapped are never on a sampled stack) */
	const char *cache_dir;		/* tables kept between runs (tcache.c), a
					 * directory fileio__private_dir accepts; NULL:
					 * none */
};

struct unwinder_stats {
	uint64_t procs;			/* processes loaded (again after exec or new code) */
	uint64_t files;			/* files with a table built */
	uint64_t pending;		/* files whose table waits for a stack to reach them */
	uint64_t rows;			/* in those tables */
	uint64_t rules;			/* distinct */
	uint64_t entries;		/* rows and index entries handed to the sink */
	uint64_t build_ns;		/* spent building tables (or reading them) */
	uint64_t cached;		/* of files: tables read from the cache directory */
	/* what got no table, or did not fit */
	uint64_t files_no_cfi;		/* no .eh_frame or .debug_frame: frame pointers there */
	uint64_t files_failed;		/* could not be opened or read */
	uint64_t files_too_big;		/* over UNWIND_MAX_FILE_ROWS rows */
	uint64_t tables_full;		/* the sink had no room (kernel memory, files) */
	uint64_t rules_full;		/* past UNWIND_MAX_RULES */
	uint64_t procs_full;		/* the sink had no room for a process */
	uint64_t maps_dropped;		/* mappings past UNWIND_PROC_MAPPINGS in a process */
	uint64_t procs_gone;		/* exited before their maps were read */
};

struct unwinder;

/* NULL with errno set. */
struct unwinder *unwinder__new(const struct unwinder_opts *o);
void unwinder__free(struct unwinder *u);

/* Make pid's tables known to the sink: nothing when they are, for the
 * process started at start_boottime (its leader's, ns, as BPF reads it);
 * read its maps again when again (it exec'd or mapped code since). 1 when
 * it was (re)loaded, 0 when nothing was to be done or the process is gone,
 * negative errno only when memory runs out. */
int unwinder__load(struct unwinder *u, uint32_t pid, uint64_t start_boottime, bool again);

/* The tables the frames of a stack of pid need (leaf first, as the walker
 * recorded them: a flagged USTACK_PENDING sample), built now. 1 when one
 * was, 0, or negative errno only when memory runs out. */
int unwinder__need(struct unwinder *u, uint32_t pid, const uint64_t *frames, size_t n);
/* pid exec'd: load its new image now (its executable and dynamic linker)
 * and read its maps again at its next unwinder__load, when the dynamic
 * linker has mapped the rest. As unwinder__load otherwise. */
int unwinder__exec(struct unwinder *u, uint32_t pid, uint64_t start_boottime);
/* Forget every process and table (the rules stay: the sink keeps them);
 * the sink must forget its own before. The next load of each builds again. */
void unwinder__reset(struct unwinder *u);
/* pid was loaded (for any start time). */
bool unwinder__known(const struct unwinder *u, uint32_t pid);
/* The tables of the files nearly every process maps, before any process
 * needs them: the C library and dynamic linker this process maps, and the
 * vDSO. 0, or negative errno when memory runs out. */
int unwinder__preload(struct unwinder *u);

void unwinder__stats(const struct unwinder *u, struct unwinder_stats *st);

/* Pure helpers, exposed for tests. */
/* The runtime address of ELF address 0 of a file mapped at start (file
 * offset off), given the segment holding off: its p_offset and p_vaddr. */
uint64_t unwind__mapping_bias(uint64_t start, uint64_t off, uint64_t p_offset, uint64_t p_vaddr);

#endif
