/* The BPF side of a heap capture: the heap skeleton's lifecycle, uprobes on
 * the allocator functions of every object a target process maps that
 * defines them (libc, a static binary, jemalloc...), and its ring buffer. */
#ifndef BPPROF_COLLECT_HEAP_H
#define BPPROF_COLLECT_HEAP_H
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libelf.h>

#include "base/errmsg.h"
#include "bpf/events.h"
#include "bpf/heap_sample.h"	/* HEAP_MAX_RATE */
#include "collect/collect.h"
#include "heap/heap.h"

#define HEAP_DEFAULT_RATE	524288u		/* bytes: Go's MemProfileRate */
#define HEAP_DEFAULT_LIVE	262144u		/* sampled blocks tracked at once */
#define HEAP_MAX_TARGETS	1024u		/* processes probed at once */
#define HEAP_MAX_OBJECTS	64u		/* allocator objects probed per process */
/* Ring buffer: sized for a process allocating this many bytes per second
 * (sampled at the configured rate) for about a second. */
#define HEAP_ASSUMED_BYTES_PER_S	(2ull << 30)
#define HEAP_MIN_RING		(256u << 10)
#define HEAP_MAX_RING		(64u << 20)

#define ALLOC_FNS	13

struct alloc_fn {
	const char *name;
	int kind;			/* HEAP_MALLOC... (bpf/events.h) */
};
extern const struct alloc_fn alloc_fns[ALLOC_FNS];

/* The allocator functions one ELF file defines. */
struct alloc_syms {
	uint64_t off[ALLOC_FNS];	/* file offset of each, when found */
	uint64_t probe[ALLOC_FNS];	/* where its probe goes: off, or past a
					 * prologue that would be single-stepped */
	bool found[ALLOC_FNS];
	bool alias[ALLOC_FNS];		/* at the offset of an earlier one: not probed */
	unsigned n;			/* found and not aliases */
	bool has_symbols;		/* any symbol table at all (not stripped) */
	bool interp;			/* names a dynamic linker (PT_INTERP) */
};

/* 0, or -ENOEXEC for a file that is no executable or shared object. */
int alloc_syms__read(Elf *elf, struct alloc_syms *out);
/* The same for the file at path: also negative errno when it cannot be opened. */
int alloc_syms__read_file(const char *path, struct alloc_syms *out);
/* The index of an allocator function in alloc_fns, or -1. */
int alloc_fn__index(const char *name);
/* Defines an allocating function (not only free; mmap does not count). */
bool alloc_syms__allocates(const struct alloc_syms *s);
/* Is a dynamic linker: defines the hook it calls after loading objects. */
bool alloc_syms__loads(const struct alloc_syms *s);

struct heap_collect_opts {
	uint64_t rate;			/* mean bytes between samples; 0: every allocation */
	uint32_t live_max;		/* sampled blocks tracked at once, <= HEAP_MAX_LIVE */
	bool mmap;			/* anonymous mmap/munmap calls too */
	uint64_t preload_token;		/* preload mode: the session's token (else 0) */
	struct collect_unwind unwind;
	collect_record_fn *on_record;
	void *ctx;
};

/* What heap_collector__probe found in a process. */
struct heap_probe_report {
	unsigned objects;		/* allocator objects probed for this pid so far */
	unsigned added;			/* of those, by this call */
	bool interp;			/* a dynamically linked program: more will come */
	char first[PATH_MAX];		/* one of them, for messages */
	char stripped[PATH_MAX];	/* an executable object without symbols, if any */
};

struct heap_collector;

struct heap_collector *heap_collector__new(const struct heap_collect_opts *o, struct errmsg *e);
void heap_collector__free(struct heap_collector *h);

/* Report pid's exec and the objects its dynamic linker loads (EV_HEAP_MAPPED,
 * once the linker is probed); with stop, the process also stops (SIGSTOP)
 * at each until the caller has probed it and sent SIGCONT. */
int heap_collector__target(struct heap_collector *h, uint32_t pid, bool stop);
/* Probe the allocator functions of every object pid maps that defines
 * them and is not probed yet, and its dynamic linker's hook. 0, or negative
 * errno with e set. */
int heap_collector__probe(struct heap_collector *h, uint32_t pid, struct heap_probe_report *r,
			  struct errmsg *e);

/* Preload mode: attach to the markers of the library at path, in every
 * process that maps it (markers of other sessions are ignored by token).
 * 0, or negative errno with e set. */
int heap_collector__attach_preload(struct heap_collector *h, const char *path, struct errmsg *e);

/* Objects probed, over all processes (the preload library counts as one). */
unsigned heap_collector__n_probed(const struct heap_collector *h);
/* Detach every probe: records already in the ring can still be consumed. */
void heap_collector__stop(struct heap_collector *h);
int heap_collector__epoll_fd(const struct heap_collector *h);
int heap_collector__consume(struct heap_collector *h);
/* out->v indexed by enum heap_counter, summed over CPUs. */
int heap_collector__counters(const struct heap_collector *h, struct collect_counters *out);
size_t heap_collector__ring_bytes(const struct heap_collector *h);

/* Attach prog (loaded for uprobe_multi) to n offsets of the file at path in
 * process pid, each with its cookie, as return probes with ret: a link fd,
 * or negative errno (libbpf 1.1 predates uprobe_multi links). */
int uprobe_multi__attach(int prog_fd, uint32_t pid, const char *path, const uint64_t *offs,
			 const uint64_t *cookies, unsigned n, bool ret);
#define ATTACH_UPROBE_MULTI	48	/* enum bpf_attach_type BPF_TRACE_UPROBE_MULTI (6.6) */

/* Pure helpers, exposed for tests. */
/* −ln of the middle of each slice of [½, 1), Q24 (bpf/heap_sample.h). */
void heap__fill_log_table(uint32_t *table);

#endif
