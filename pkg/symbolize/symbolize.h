/* Addresses to names. Kernel frames from kallsyms (sorted once, binary
 * search); user frames through a snapshot of each process's executable
 * mappings, read when the process is first seen and keyed by (pid, start
 * time) so a reused pid never borrows another process's maps; ELF symbols
 * (.symtab, else .dynsym) loaded lazily, cached per file by build-id or
 * dev:inode and shared between processes; files opened through
 * /proc/PID/root (containers) or /proc/PID/map_files (deleted or replaced
 * binaries); JIT symbols from perf-PID.map; the vDSO. Source lines and
 * inline frames from DWARF (the file itself, or a debug file found by
 * build-id or .gnu_debuglink), unless no_lines.
 *
 * The procfs root, kallsyms path and perf-map directory are options, so the
 * parsers are tested from testdata fixtures without root (design rule 8). */
#ifndef BPPROF_SYMBOLIZE_SYMBOLIZE_H
#define BPPROF_SYMBOLIZE_SYMBOLIZE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct symbolizer;

/* Names kernel addresses from the running kernel, up to SYM_KERNEL_BATCH
 * at a time: out[i] as the kernel's %pS prints addrs[i] (NULL: no answer),
 * *text_start where its text starts (0: unknown). 0, or negative errno:
 * the symbolizer reads the kallsyms file from then on. (collect/ksym.h's
 * ksym_namer__names is one.) */
#define SYM_KERNEL_BATCH	128
typedef int sym_kernel_names_fn(void *ctx, const uint64_t *addrs, size_t n, const char **out,
				uint64_t *text_start);

struct symbolizer_opts {
	const char *proc_root;		/* NULL: "/proc" */
	const char *kallsyms;		/* NULL: "<proc_root>/kallsyms" */
	sym_kernel_names_fn *kernel_names;	/* NULL: kernel names from the kallsyms file */
	void *kernel_names_ctx;
	const char *perf_map_dir;	/* NULL: "/tmp", seen from inside the process's root */
	bool no_demangle;		/* keep C++/Rust names as the symbol table has them */
	bool no_lines;			/* names only: no DWARF lookups */
	const char *cache_dir;		/* decompressed debug sections kept between runs
					 * (made when missing; used only when this user's
					 * alone); NULL: not kept */
	uint64_t refresh_gap_ns;	/* symbolizer__check's first back-off; 0: 20 ms */
};

/* One executable mapping, as a pprof Mapping wants it. Owned by the
 * symbolizer; valid until symbolizer__free. */
struct sym_mapping {
	uint64_t start, limit, offset;	/* runtime range and file offset of start */
	const char *path;		/* as the process sees it ("/usr/bin/bash"); "[vdso]",
					 * "[kernel.kallsyms]", "[anon]" for anonymous code */
	const char *build_id;		/* lowercase hex, "" when the file has none or was
					 * not readable */
	bool has_symbols;		/* a symbol table (ELF, perf map, kallsyms) was read */
};

/* One source position of an address: a function and where in its source.
 * An address has one for the function executing there and one more for
 * each function it was inlined into. */
struct sym_line {
	const char *name;		/* demangled */
	const char *system_name;	/* as linked (the mangled name) */
	const char *file;		/* the source file the line is in; NULL: unknown */
	uint32_t line;			/* 0: unknown */
	uint32_t start_line;		/* the function's declaration in file; 0: unknown */
};

struct sym_result {
	const char *name;		/* demangled function name; NULL: not found */
	const char *system_name;	/* the name as the symbol table has it; NULL: not found */
	const struct sym_mapping *map;	/* NULL: the address is in no known mapping */
	/* From DWARF: innermost first, the function the others were inlined
	 * into last, named as name (when the symbol table has one); n_lines
	 * 0 when no debug info covers the address. Valid until the next call
	 * into the symbolizer. */
	const struct sym_line *lines;
	size_t n_lines;
};

struct symbolizer_stats {
	uint64_t procs;			/* snapshots taken */
	uint64_t procs_gone;		/* processes that had exited (or whose pid was reused)
					 * before their maps could be read */
	uint64_t files;			/* distinct files opened */
	uint64_t files_failed;		/* mapped files that could not be opened or parsed */
	uint64_t kernel_symbols;	/* kallsyms text symbols loaded, or kernel addresses
					 * named by kernel_names */
	uint64_t refreshes;		/* maps read again by symbolizer__check */
	uint64_t maps_dropped;		/* executable mappings not kept: malformed maps lines,
					 * past the per-process or memory limits */
	uint64_t perfmap_bad_lines;	/* perf map lines skipped: malformed or past the limits */
	uint64_t debug_files;		/* files whose DWARF was found */
	uint64_t debug_missing;		/* files without DWARF: names, no lines */
	uint64_t debug_failed;		/* DWARF found but unreadable */
	uint64_t debug_evicted;		/* open DWARF dropped for the memory budget */
	uint64_t lines_truncated;	/* inline chains cut at DWARF_MAX_DEPTH */
};

/* NULL with errno set. Nothing is read until it is needed. */
struct symbolizer *symbolizer__new(const struct symbolizer_opts *o);
void symbolizer__free(struct symbolizer *s);

/* The snapshot id (>= 0) of process pid started at start_time (clock ticks
 * after boot, as field 22 of /proc/PID/stat; 0: do not check). The first call
 * for a (pid, start_time) reads /proc/PID/maps and opens the files it maps,
 * while the process still lives; later calls are one hash lookup. A process
 * that is gone, or a pid now used by another process, still gets an id (with
 * no mappings, counted in procs_gone) so its samples stay apart. Negative
 * errno only when memory runs out (-ENOMEM, or -E2BIG past SYM_MAX_PROCS
 * snapshots). */
int64_t symbolizer__proc(struct symbolizer *s, uint32_t pid, uint64_t start_time);

/* The frames of a sample just taken from snapshot proc_id: if one lies in
 * no mapping, the process has mapped code since the snapshot (the dynamic
 * linker, dlopen, a JIT) and its maps are read again, under the same id.
 * Rate-limited per snapshot (the gap doubles each time), since a broken
 * frame-pointer walk also yields addresses no mapping holds; not when
 * mapped says the process did map code since its previous sample (kept
 * for its next frame no mapping holds, should this sample have none). 1
 * when the maps were read again, 0, or negative errno. */
int symbolizer__check(struct symbolizer *s, int64_t proc_id, const uint64_t *frames, size_t n,
		      bool mapped);

/* Read snapshot proc_id's maps again now: the caller knows the process
 * mapped code (and that it cannot change while it is stopped). 0 or
 * negative errno. */
int symbolizer__refresh(struct symbolizer *s, int64_t proc_id);

/* pid called exec(): its next symbolizer__proc reads the maps again under a
 * new id. Ids handed out before stay valid with the old maps. */
void symbolizer__exec(struct symbolizer *s, uint32_t pid);

/* Resolve one user-space address of snapshot proc_id, or a kernel address.
 * Always fills r (r->name NULL when unknown). 0, or negative errno when
 * memory runs out (-EINVAL for a proc_id never handed out). */
int symbolizer__user(struct symbolizer *s, int64_t proc_id, uint64_t addr, struct sym_result *r);
int symbolizer__kernel(struct symbolizer *s, uint64_t addr, struct sym_result *r);
/* With kernel_names: name addrs[0..n) now, SYM_KERNEL_BATCH to a call,
 * rather than one call per symbolizer__kernel (a window's kernel
 * addresses, before they are resolved). Without it, nothing. 0, or
 * -ENOMEM. */
int symbolizer__kernel_batch(struct symbolizer *s, const uint64_t *addrs, size_t n);

/* Addresses of a file named by path rather than of a process (a profile's
 * mapping): the same symbol tables, cached by build-id and dev:inode, and
 * the same demangling. open_file gives the file's id (>= 0), or -ENOENT
 * when it cannot be read, is no ELF file, or is another build than
 * build_id (NULL or "": not checked); -ENOMEM. file then names the byte at
 * file_offset (a mapping's offset plus the address's distance from its
 * start); r->map is NULL. 0, or negative errno when memory runs out. */
int64_t symbolizer__open_file(struct symbolizer *s, const char *path, const char *build_id);
int symbolizer__file(struct symbolizer *s, int64_t file_id, uint64_t file_offset,
		     struct sym_result *r);

void symbolizer__stats(const struct symbolizer *s, struct symbolizer_stats *st);


#endif
