/* Source lines and inline frames from DWARF (libdw), for the symbolizer:
 * where a file's debug info is (the file itself, a debug file by build-id,
 * .gnu_debuglink), the Dwarf handles open under a memory budget, an index
 * of each compile unit's functions and inlined calls built on its first
 * lookup, and the answers per (file, address) in a bounded cache. Never any
 * network. Not part of the symbolizer's interface. */
#ifndef BPPROF_SYMBOLIZE_DWLINES_H
#define BPPROF_SYMBOLIZE_DWLINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gelf.h>

#include "symbolize/symbolize.h"

struct dwlines;

struct dwlines_opts {
	size_t open_budget;	/* bytes of debug data held open; 0: DWARF_OPEN_BUDGET */
	size_t cache_budget;	/* bytes of cached answers; 0: DWARF_CACHE_BUDGET */
	const char *cache_dir;	/* decompressed debug sections kept between runs; NULL:
				 * not kept (copied) */
	bool no_demangle;
};

/* Where a file's debug info may be: the file itself, or a debug file found
 * by build-id or by its .gnu_debuglink, in the process's root first, then
 * in the host's. */
struct dwlines_file {
	const char *build_id;	/* lowercase hex; "" or NULL: none */
	const char *root;	/* the process's root ("/proc/PID/root"); NULL: the host's */
	const char *path;	/* the file as seen in root; NULL: unknown (the vDSO) */
};

struct dwlines_stats {
	uint64_t files;		/* files whose debug info was found */
	uint64_t missing;	/* files without any */
	uint64_t failed;	/* debug info found but unreadable (or not again, after eviction) */
	uint64_t opened;	/* debug files read (again after eviction too) */
	uint64_t evicted;	/* open debug files dropped for the budget */
	uint64_t lookups;	/* addresses asked for */
	uint64_t cached;	/* of those, answered from the cache */
	uint64_t truncated;	/* inline chains cut at DWARF_MAX_DEPTH */
	uint64_t generations;	/* times the cache dropped its older half */
	size_t open_bytes;	/* debug data and indexes held now */
	size_t cache_bytes;	/* cached answers held now */
};

/* NULL with errno set. */
struct dwlines *dwlines__new(const struct dwlines_opts *o);
void dwlines__free(struct dwlines *d);

/* Learn where the debug info of file id (the caller's dense number for a
 * file) is, once: elf is the file itself, fd its descriptor (-1: none,
 * such as the vDSO's image in memory), used only during the call. Debug
 * info in the file itself is read at once, since the file may not be
 * reachable later. 0, or -ENOMEM. */
int dwlines__attach(struct dwlines *d, uint32_t id, Elf *elf, int fd, const struct dwlines_file *f);

/* The lines of vaddr (an ELF virtual address of file id): innermost
 * first, the function everything was inlined into last; *n is 0 when no
 * debug info covers the address. name and system_name (the symbol table's
 * for the address, or NULL) name that last function, and any the debug
 * info leaves unnamed. Valid until the next call. 0, or -ENOMEM. */
int dwlines__lookup(struct dwlines *d, uint32_t id, uint64_t vaddr, const char *name,
		    const char *system_name, const struct sym_line **lines, size_t *n);

void dwlines__stats(const struct dwlines *d, struct dwlines_stats *st);

#endif
