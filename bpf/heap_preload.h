/* What the preload library (libbpprof-heap.so, pkg/preload/) shares with
 * heap.bpf.c and with bpprof: the names of its marker functions, how their
 * arguments are laid out, and the environment variable that configures it.
 * A marker is an exported function whose first instruction is a 5-byte nop
 * (so a uprobe on it becomes a call on x86 since Linux 6.18); the library
 * calls one only for a sampled allocation, the free of a sampled block and
 * once per process image. */
#ifndef BPPROF_BPF_HEAP_PRELOAD_H
#define BPPROF_BPF_HEAP_PRELOAD_H

/* BPPROF_HEAP=TOKEN:RATE:LIVE (decimal): the session's token (markers of
 * other sessions are ignored), the mean bytes between samples, the sampled
 * blocks the library tracks at once. */
#define PRELOAD_ENV		"BPPROF_HEAP"
#define PRELOAD_LIB		"libbpprof-heap.so"

/* bpprof_heap_alloc(token, id, addr, size, caller, flags): a sampled
 * allocation, id unique in the process; caller is the return address into
 * the allocator's caller (the profile's leaf). */
#define PRELOAD_MARK_ALLOC	"bpprof_heap_alloc"
/* bpprof_heap_free(token, id, flags): the block id was freed (flags:
 * PRELOAD_UNSEEN when the allocator handed its address out again before a
 * free of it was seen). */
#define PRELOAD_MARK_FREE	"bpprof_heap_free"
/* bpprof_heap_hello(token, exec): a new process image (exec 1), or a forked
 * child (0), with its libraries loaded: read its maps now. */
#define PRELOAD_MARK_HELLO	"bpprof_heap_hello"

/* attach cookies of the markers' uprobes */
enum { PRELOAD_ALLOC, PRELOAD_FREE, PRELOAD_HELLO, PRELOAD_MARKS };

/* marker flags */
enum {
	PRELOAD_UNTRACKED = 1 << 0,	/* alloc: the library's table was full: its free
					 * will not be seen */
	PRELOAD_UNSEEN = 1 << 1,	/* free: seen only when the address came back */
};

/* How many of a walk's first frames may lie inside the library before the
 * caller's return address (the marker, the library's slow path): more
 * means the walk did not get through it. */
#define PRELOAD_MAX_SKIP	4

#endif
