/* The unwind tables in BPF maps (bpf/unwind.h), the unwinder's sink: made
 * once per capture and shared by every program that walks user stacks
 * (their own unwind_* maps are replaced by these before load). The row
 * space grows a chunk (512 KiB) at a time up to a kernel-memory limit; the
 * chunks, rules and files arrays are mmapped, so a table is copied in, not
 * written an entry per system call. */
#ifndef BPPROF_UNWIND_MAPS_H
#define BPPROF_UNWIND_MAPS_H
#include <stdbool.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "base/errmsg.h"
#include "unwind/unwind.h"

#define UNWIND_MAX_BYTES	(UNWIND_MAX_CHUNKS * UNWIND_CHUNK_BYTES)	/* 128 MiB */

struct unwind_maps_stats {
	uint64_t kernel_bytes;		/* every unwind map, as allocated */
	uint64_t limit_bytes;		/* what the row space may grow to */
	uint64_t slots;			/* row-space entries used */
	uint32_t chunks;		/* allocated, of UNWIND_CHUNK_BYTES each */
	uint32_t files;			/* tables */
	uint32_t procs;			/* processes in the map now */
};

struct unwind_maps;

/* The maps, with the row space limited to max_bytes (rounded down to
 * chunks, at least one, at most UNWIND_MAX_CHUNKS). NULL with errno and e
 * set. */
struct unwind_maps *unwind_maps__new(uint64_t max_bytes, struct errmsg *e);
void unwind_maps__free(struct unwind_maps *m);
/* obj's unwind maps become these (before obj is loaded). 0 or -errno. */
int unwind_maps__share(struct unwind_maps *m, struct bpf_object *obj);
/* The unwinder's sink: tables, rules and processes into the maps. */
struct unwind_sink unwind_maps__sink(struct unwind_maps *m);
void unwind_maps__stats(const struct unwind_maps *m, struct unwind_maps_stats *st);
/* Forget every process, then every table (their space is reused; the
 * chunks stay allocated, the rules stay): walks find no tables until the
 * processes are loaded again. 0 or -errno. */
int unwind_maps__reset(struct unwind_maps *m);
/* File id's entry as the walker reads it (its state says pending, ready or
 * none): 0, or -ENOENT past the files handed out. */
int unwind_maps__file(const struct unwind_maps *m, uint32_t id, struct unwind_file *f);

/* Has this kernel what the walker uses? 0, -EOPNOTSUPP with why set
 * (bpf_loop came in Linux 5.17), or another negative errno when it cannot
 * tell (no privileges to load a program). */
int unwind__kernel_check(char *why, size_t len);

#endif
