/* libbpprof-heap.so: heap sampling inside the profiled process, loaded by
 * LD_PRELOAD from `bpprof record|run --heap -- COMMAND`. It wraps the
 * allocator's entry points and calls the real ones (dlsym RTLD_NEXT: glibc,
 * or jemalloc, tcmalloc... whichever comes next). An allocation counts down
 * a per-thread byte budget drawn as heap.bpf.c draws it; only one that
 * exhausts it leaves the fast path, and only then does a marker function
 * (bpf/heap_preload.h) run, which bpprof's uprobe turns into a stack walk
 * and a ring-buffer record. A free leaves the fast path only when the
 * filter of ptable.h says its block may have been sampled. Blocks are
 * never changed (no headers, no alignment): what the library misses is at
 * worst a free unseen, never a corrupted heap. It never calls malloc
 * itself; what dlsym allocates before the real functions are known comes
 * from a static arena. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bpf/heap_preload.h"
#include "bpf/heap_sample.h"
#include "preload/ptable.h"

#define EXPORT		__attribute__((visibility("default")))
/* The hottest entry points start a cache line: measured, where they fall
 * otherwise moved a malloc+free pair by up to 2 ns (of 8). */
#define HOT		__attribute__((aligned(64)))
#define SLOW		__attribute__((noinline, cold))
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define ARENA_BYTES	(64u << 10)	/* what dlsym may allocate before we can */
#define ARENA_ALIGN	64u
#define ARENA_BLOCKS	64u		/* blocks it hands out at most */

/* The markers: a 5-byte nop (the uprobe's site: Linux 6.18 turns a uprobe
 * on it into a call to a trampoline) and a return, exported so bpprof finds
 * them by name, alone in a page of their own.
 *
 * They are not called where the library is loaded but through a second,
 * private mapping of that page which fork does not copy (MADV_DONTFORK):
 * 6.18 maps the trampoline with VM_DONTCOPY, so a forked child inherits the
 * patched call without its target and dies at its first marker. The child
 * maps the page afresh, where the kernel plants its probes anew.
 *
 * Each has call-frame information (nothing but the entry's CFA = SP + 8),
 * so the BPF walker, which starts at the marker, unwinds it from the
 * library's .eh_frame as any other frame. */
#if defined(__x86_64__)
#define MARKER_NOP ".byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n\t"	/* nopl 0x0(%rax,%rax,1) */
#elif defined(__aarch64__)
#define MARKER_NOP "nop\n\t"
#else
#error "preload markers: x86-64 and arm64 only"
#endif
#define MARKER(name)							\
	".globl " name "\n\t"						\
	".type " name ", %function\n\t"					\
	".p2align 4\n"							\
	name ":\n\t"							\
	".cfi_startproc\n\t"						\
	".hidden " name "_at\n\t"						\
	".set " name "_at, " name "\n\t"					\
	MARKER_NOP "ret\n\t"						\
	".cfi_endproc\n\t"						\
	".size " name ", .-" name "\n\t"
__asm__(".pushsection .text.bpprof_markers, \"ax\", %progbits\n\t"
	".p2align 12\n\t"
	".globl bpprof_markers_page\n\t"
	".hidden bpprof_markers_page\n"
	"bpprof_markers_page:\n\t"
	MARKER(PRELOAD_MARK_ALLOC)
	MARKER(PRELOAD_MARK_FREE)
	MARKER(PRELOAD_MARK_HELLO)
	".p2align 12\n\t"
	".popsection");
extern const unsigned char bpprof_markers_page[];
typedef void alloc_mark_fn(uint64_t token, uint64_t id, uint64_t addr, uint64_t size,
			   uint64_t caller, uint64_t flags);
typedef void free_mark_fn(uint64_t token, uint64_t id, uint64_t flags);
typedef void hello_mark_fn(uint64_t token, uint64_t exec);
/* where they are loaded (hidden: no PLT, no interposition) */
alloc_mark_fn bpprof_heap_alloc_at;
free_mark_fn bpprof_heap_free_at;
hello_mark_fn bpprof_heap_hello_at;

static struct {
	alloc_mark_fn *alloc;
	free_mark_fn *free;
	hello_mark_fn *hello;
	void *page;		/* the private mapping, or NULL: called in place */
} mark = { bpprof_heap_alloc_at, bpprof_heap_free_at, bpprof_heap_hello_at, NULL };

/* C23's, in glibc 2.39+: wrapped whatever the headers say */
void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t align, size_t size);

/* The real functions. Until they are known, free points at boot_free,
 * which knows the arena; every allocating wrapper reaches init() first
 * (a new thread's budget is 0, which sends it to the slow path). */
static void boot_free(void *p);
static struct {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	void (*free_sized)(void *, size_t);
	void (*free_aligned_sized)(void *, size_t, size_t);
} real = { .free = boot_free };

/* Per thread, in the static TLS block (initial-exec: no lazy allocation,
 * one load from the fast path). countdown first: the fast path's field. */
struct thread_state {
	uint64_t countdown;	/* bytes left before the next sample; 0: not drawn */
	uint64_t rng;		/* xorshift state; 0: not seeded */
	uint32_t busy;		/* in our slow path: nested calls pass through */
	uint32_t armed;		/* countdown drawn */
	uint32_t in_init;	/* this thread runs init(): allocate from the arena */
};
static __thread struct thread_state ts __attribute__((tls_model("initial-exec")));

enum { INIT_NONE, INIT_RUNNING, INIT_DONE };
static int init_state;
static bool enabled;		/* configured by bpprof (PRELOAD_ENV) */
static uint64_t token, rate;
static uint64_t seed;
static uint64_t next_id;
static uint64_t live_max;	/* blocks the table is sized for */
static uint32_t neg_log[HEAP_LOG_TABLE];
static uint8_t filter[PTABLE_FILTER_SLOTS] __attribute__((aligned(64)));
static struct ptable table = { .filter = filter };

static unsigned char arena[ARENA_BYTES] __attribute__((aligned(ARENA_ALIGN)));
static size_t arena_used;
static uint32_t arena_at[ARENA_BLOCKS], arena_len[ARENA_BLOCKS];	/* each block's offset, size */
static unsigned arena_blocks;

static void say(const char *msg)
{
	size_t n = strlen(msg);

	while (n) {
		ssize_t w = write(STDERR_FILENO, msg, n);

		if (w <= 0)
			return;
		msg += w;
		n -= (size_t)w;
	}
}

/* ---- the bootstrap arena: dlsym's allocations before init knows malloc ---- */

static bool arena_owns(const void *p)
{
	return (const unsigned char *)p >= arena && (const unsigned char *)p < arena + ARENA_BYTES;
}

/* Only the thread running init() allocates here, so no lock. Blocks are
 * never freed, and their filter slots are pinned so a free of one takes the
 * slow path, which drops it. */
static void *arena_alloc(size_t size, size_t align)
{
	size_t start;

	if (align < 16)
		align = 16;
	start = (arena_used + align - 1) & ~(align - 1);
	if (align > ARENA_ALIGN || arena_blocks == ARENA_BLOCKS || size > ARENA_BYTES - start) {
		errno = ENOMEM;
		return NULL;
	}
	arena_at[arena_blocks] = (uint32_t)start;
	arena_len[arena_blocks++] = (uint32_t)size;
	arena_used = start + size;
	ptable__pin(&table, (uintptr_t)(arena + start));
	return arena + start;
}

static size_t arena_size(const void *p)
{
	unsigned i;

	for (i = 0; i < arena_blocks; i++)
		if (arena + arena_at[i] == p)
			return arena_len[i];
	return 0;
}

/* After fork the child's filter starts empty: pin the arena's blocks again. */
static void arena_repin(void)
{
	unsigned i;

	for (i = 0; i < arena_blocks; i++)
		ptable__pin(&table, (uintptr_t)(arena + arena_at[i]));
}

/* ---- configuration and set-up ---- */

static uint64_t monotonic_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* One decimal field of PRELOAD_ENV and the ':' after it. */
static const char *parse_u64(const char *s, uint64_t *v)
{
	uint64_t n = 0;

	if (!s || *s < '0' || *s > '9')
		return NULL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (UINT64_MAX - 9) / 10)
			return NULL;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	return *s == ':' ? s + 1 : *s ? NULL : s;
}

/* Fresh per process (and again in a forked child): ids start at the
 * monotonic clock (×4), so an exec'd image never reuses an id its
 * predecessor under the same pid still has in bpprof's tables (a sampled
 * allocation takes far longer than a quarter nanosecond). */
static void reseed(void)
{
	uint64_t r = 0;

	if (syscall(SYS_getrandom, &r, sizeof(r), 0) != (long)sizeof(r))
		r = monotonic_ns() ^ (uint64_t)getpid() << 32;
	seed = r | 1;
	__atomic_store_n(&next_id, monotonic_ns() << 2, __ATOMIC_RELAXED);
}

static bool map_table(uint64_t live)
{
	unsigned bits = ptable__bits_for(live ? live : 1);
	void *m = mmap(NULL, ptable__bytes(bits), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED)
		return false;
	table.slots = m;
	table.bits = bits;
	return true;
}

/* Where the markers' page lies in the library's file. */
struct page_at {
	uintptr_t addr;
	uint64_t off;
	bool found;
};

static int find_page(struct dl_phdr_info *info, size_t len, void *data)
{
	struct page_at *w = data;
	unsigned i;

	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD || w->addr < lo || w->addr - lo >= ph->p_filesz)
			continue;
		w->off = ph->p_offset + (w->addr - lo);
		w->found = true;
		return 1;
	}
	return 0;
}

#define MARK_OFF(fn) ((size_t)((const unsigned char *)(fn) - bpprof_markers_page))

/* The page mapped again is the one loaded (the file was not replaced
 * since): equal but where probes rewrite each marker's first instruction. */
static bool same_page(const unsigned char *m, size_t page)
{
	size_t starts[3] = { MARK_OFF(bpprof_heap_alloc_at), MARK_OFF(bpprof_heap_free_at),
			     MARK_OFF(bpprof_heap_hello_at) };
	size_t at = 0, k;

	for (k = 0; k <= 3; k++) {
		size_t stop = k < 3 ? starts[k] : page;

		if (stop < at || memcmp(m + at, bpprof_markers_page + at, stop - at))
			return false;
		at = stop + 5;
	}
	return true;
}

/* The private, fork-proof mapping of the markers' page (see MARKER). */
static bool map_markers(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct page_at w = { (uintptr_t)bpprof_markers_page, 0, false };
	unsigned char *m;
	Dl_info di;
	int fd;

	if (!dladdr(bpprof_markers_page, &di) || !di.dli_fname || di.dli_fname[0] != '/')
		return false;
	dl_iterate_phdr(find_page, &w);
	if (!w.found || w.off % page)
		return false;
	fd = open(di.dli_fname, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	m = mmap(NULL, page, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, (off_t)w.off);
	close(fd);
	if (m == MAP_FAILED)
		return false;
	if (!same_page(m, page) || madvise(m, page, MADV_DONTFORK)) {
		munmap(m, page);
		return false;
	}
	mark.page = m;
	mark.alloc = (alloc_mark_fn *)(void *)(m + MARK_OFF(bpprof_heap_alloc_at));
	mark.free = (free_mark_fn *)(void *)(m + MARK_OFF(bpprof_heap_free_at));
	mark.hello = (hello_mark_fn *)(void *)(m + MARK_OFF(bpprof_heap_hello_at));
	return true;
}

static void configure(void)
{
	const char *env = getenv(PRELOAD_ENV), *s;
	uint64_t live = 0;

	s = parse_u64(env, &token);
	s = parse_u64(s, &rate);
	s = parse_u64(s, &live);
	if (!s || *s || !token || rate > HEAP_MAX_RATE || !live)
		return;		/* not started by bpprof: wrap, never sample */
	heap_sample_fill_table(neg_log);
	reseed();
	live_max = live;
	if (!map_table(live)) {
		say("bpprof heap preload: cannot map its table: not sampling\n");
		return;
	}
	if (!map_markers())
		say("bpprof heap preload: cannot map its markers again: forked children will not be "
		    "profiled\n");
	enabled = true;
}

static void after_fork_child(void);

#define RESOLVE(fn) (real.fn = (__typeof__(real.fn))dlsym(RTLD_NEXT, #fn))

/* Stand-ins for what the allocator after us lacks (jemalloc has no
 * pvalloc; glibc before 2.39 no free_sized): the fast paths call through
 * the pointers unchecked. */
static void *none_size(size_t size)
{
	errno = ENOMEM;
	return NULL;
}

static void *none_align(size_t align, size_t size)
{
	errno = ENOMEM;
	return NULL;
}

static int none_posix_memalign(void **out, size_t align, size_t size)
{
	return ENOMEM;
}

static void plain_free_sized(void *p, size_t size)
{
	real.free(p);
}

static void plain_free_aligned_sized(void *p, size_t align, size_t size)
{
	real.free(p);
}

#define OR(fn, stand_in) do { if (!real.fn) real.fn = stand_in; } while (0)

/* Once per process, on whichever thread first needs it. */
static void init(void)
{
	int state = INIT_NONE;

	if (likely(__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == INIT_DONE) || ts.in_init)
		return;
	if (!__atomic_compare_exchange_n(&init_state, &state, INIT_RUNNING, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != INIT_DONE)
			sched_yield();
		return;
	}
	ts.in_init = 1;
	RESOLVE(malloc);
	RESOLVE(calloc);
	RESOLVE(realloc);
	RESOLVE(posix_memalign);
	RESOLVE(aligned_alloc);
	RESOLVE(memalign);
	RESOLVE(valloc);
	RESOLVE(pvalloc);
	RESOLVE(free_sized);		/* glibc 2.39+; else free */
	RESOLVE(free_aligned_sized);
	{
		void (*f)(void *) = (void (*)(void *))dlsym(RTLD_NEXT, "free");

		if (!real.malloc || !f || !real.calloc || !real.realloc) {
			say("bpprof heap preload: no allocator after it (dlsym RTLD_NEXT)\n");
			abort();
		}
		__atomic_store_n(&real.free, f, __ATOMIC_RELEASE);
	}
	OR(posix_memalign, none_posix_memalign);
	OR(aligned_alloc, none_align);
	OR(memalign, none_align);
	OR(valloc, none_size);
	OR(pvalloc, none_size);
	OR(free_sized, plain_free_sized);
	OR(free_aligned_sized, plain_free_aligned_sized);
	configure();
	if (enabled)
		pthread_atfork(NULL, NULL, after_fork_child);
	ts.in_init = 0;
	__atomic_store_n(&init_state, INIT_DONE, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void preload_start(void)
{
	init();
	if (enabled)
		mark.hello(token, 1);
}

/* The child has one thread, ours: a table of its own (the parent's blocks
 * are not the child's allocations), new random numbers (else both would
 * sample the same allocations), its own markers' page, and bpprof reads
 * its maps. Without that page its markers would be the parent's, which
 * may call a trampoline the child does not have: it goes unprofiled. */
static void after_fork_child(void)
{
	struct ptable_slot *old = table.slots;
	size_t bytes = ptable__bytes(table.bits);

	if (!mark.page || !map_markers()) {
		enabled = false;
		return;
	}

	memset(filter, 0, sizeof(filter));
	arena_repin();

	if (map_table(live_max))
		munmap(old, bytes);
	else
		memset(old, 0, bytes);
	reseed();
	ts.rng = 0;
	ts.armed = 0;
	ts.countdown = 0;
	mark.hello(token, 0);
}

/* ---- sampling ---- */

static uint32_t random32(void)
{
	uint64_t x = ts.rng;

	if (unlikely(!x)) {	/* seeded per thread from the process's seed */
		x = seed ^ ((uint64_t)(uintptr_t)&ts * 0x9e3779b97f4a7c15ull);
		x = x ? x : 1;
	}
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	ts.rng = x;
	return (uint32_t)(x >> 32);
}

/* Go's rule, as heap.bpf.c's sample(): an allocation smaller than what is
 * left of the countdown only shortens it; any other is sampled and a new
 * countdown is drawn. (The slow path is also taken for a realloc of a
 * sampled block, whatever its size.) */
static bool take_sample(uint64_t size)
{
	if (!enabled) {
		ts.countdown = UINT64_MAX;	/* wrap only */
		return false;
	}
	if (!ts.armed) {
		ts.armed = 1;
		ts.countdown = heap_sample_draw(random32(), rate, neg_log);
	}
	if (size < ts.countdown) {
		ts.countdown -= size;
		return false;
	}
	ts.countdown = heap_sample_draw(random32(), rate, neg_log);
	return true;
}

static void mark_free(uint64_t id, uint64_t flags)
{
	mark.free(token, id, flags);
}

static void record(void *p, uint64_t size, void *caller)
{
	uint64_t id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED), stale = 0;
	int r = ptable__insert(&table, (uintptr_t)p, id, &stale);

	if (r == 1)
		mark_free(stale, PRELOAD_UNSEEN);
	mark.alloc(token, id, (uint64_t)(uintptr_t)p, size, (uint64_t)(uintptr_t)caller,
				r < 0 ? PRELOAD_UNTRACKED : 0);
}

/* A sampled block's free is reported before the allocator has it back, so
 * the report precedes any new block at that address. */
static void forget(void *p)
{
	uint64_t id;

	if (enabled && ptable__remove(&table, (uintptr_t)p, &id))
		mark_free(id, 0);
}

/* ---- the wrappers: a fast path each, the rest out of line ---- */

enum kind { K_MALLOC, K_CALLOC, K_MEMALIGN, K_ALIGNED, K_VALLOC, K_PVALLOC };

static void *call_real(enum kind k, size_t a, size_t b)
{
	switch (k) {
	case K_CALLOC:
		return real.calloc(a, b);
	case K_MEMALIGN:
		return real.memalign(a, b);
	case K_ALIGNED:
		return real.aligned_alloc(a, b);
	case K_VALLOC:
		return real.valloc(a);
	case K_PVALLOC:
		return real.pvalloc(a);
	default:
		return real.malloc(a);
	}
}

/* Before init is done on this thread's behalf (dlsym allocating), from the
 * arena; zeroed, so calloc's promise holds. */
static void *boot_alloc(enum kind k, size_t a, size_t b, size_t size)
{
	void *p = arena_alloc(size, k == K_MEMALIGN || k == K_ALIGNED ? a : 16);

	if (p)
		memset(p, 0, size);
	return p;
}

/* size: the bytes requested (calloc's product), what the countdown and
 * the record count; a, b: the real function's arguments. */
SLOW static void *alloc_slow(enum kind k, size_t a, size_t b, size_t size, void *caller)
{
	bool sampled;
	void *p;

	init();
	if (unlikely(ts.in_init))
		return boot_alloc(k, a, b, size);
	if (ts.busy)
		return call_real(k, a, b);
	ts.busy = 1;
	sampled = take_sample(size);
	p = call_real(k, a, b);
	if (p && sampled)
		record(p, size, caller);
	ts.busy = 0;
	return p;
}

SLOW static void free_slow(void *p, size_t size, size_t align, int how)
{
	if (arena_owns(p))
		return;
	init();
	/* free's address is being looked up (dlsym's own free(NULL)): nothing
	 * but the arena can have been allocated yet */
	if (unlikely(__atomic_load_n(&real.free, __ATOMIC_ACQUIRE) == boot_free))
		return;
	forget(p);
	if (how == 2)
		real.free_aligned_sized(p, align, size);
	else if (how == 1)
		real.free_sized(p, size);
	else
		real.free(p);
}

static void boot_free(void *p)
{
	free_slow(p, 0, 0, 0);
}

static inline bool fast(size_t size)
{
	uint64_t c = ts.countdown;

	if (likely(size < c)) {
		ts.countdown = c - size;
		return true;
	}
	return false;
}

HOT EXPORT void *malloc(size_t size)
{
	if (likely(fast(size)))
		return real.malloc(size);
	return alloc_slow(K_MALLOC, size, 0, size, __builtin_return_address(0));
}

HOT EXPORT void free(void *p)
{
	if (likely(!filter[ptable__filter_slot((uintptr_t)p)]))
		return real.free(p);
	free_slow(p, 0, 0, 0);
}

HOT EXPORT void *calloc(size_t n, size_t size)
{
	size_t total;

	/* an overflowing request fails in the allocator (ENOMEM), unsampled */
	if (unlikely(__builtin_mul_overflow(n, size, &total)))
		return real.calloc ? real.calloc(n, size) : (errno = ENOMEM, NULL);
	if (likely(fast(total)))
		return real.calloc(n, size);
	return alloc_slow(K_CALLOC, n, size, total, __builtin_return_address(0));
}

/* realloc(p, n): a free of p (when it succeeds, or n is 0) and an
 * allocation of n bytes (when it returns a block). */
SLOW static void *realloc_slow(void *old, size_t size, void *caller)
{
	uint64_t id = 0;
	bool had = false, sampled = false, nested;
	void *p;

	if (old && arena_owns(old)) {	/* dlsym's block: move it out of the arena */
		p = malloc(size);
		if (p)
			memcpy(p, old, arena_size(old) < size ? arena_size(old) : size);
		return p;
	}
	init();
	if (unlikely(ts.in_init))
		return boot_alloc(K_MALLOC, size, 0, size);
	if (old && enabled)
		had = ptable__remove(&table, (uintptr_t)old, &id);
	nested = ts.busy;
	if (!nested) {
		ts.busy = 1;
		sampled = take_sample(size);
	}
	p = real.realloc(old, size);
	if (had) {
		uint64_t stale;

		/* failed: the old block is as it was, and still sampled */
		if (p || !size)
			mark_free(id, 0);
		else if (ptable__insert(&table, (uintptr_t)old, id, &stale) < 0)
			mark_free(id, 0);	/* no room to keep it: say it went */
	}
	if (p && sampled)
		record(p, size, caller);
	if (!nested)
		ts.busy = 0;
	return p;
}

HOT EXPORT void *realloc(void *old, size_t size)
{
	if (likely(!filter[ptable__filter_slot((uintptr_t)old)] && fast(size)))
		return real.realloc(old, size);
	return realloc_slow(old, size, __builtin_return_address(0));
}

EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
	size_t total;

	/* glibc's is an overflow check then realloc: so is this one, so that
	 * a reallocarray is one allocation (glibc's would call our realloc) */
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (likely(!filter[ptable__filter_slot((uintptr_t)old)] && fast(total)))
		return real.realloc(old, total);
	return realloc_slow(old, total, __builtin_return_address(0));
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	void *caller = __builtin_return_address(0);
	bool sampled;
	int err;

	if (likely(fast(size)))
		return real.posix_memalign(out, align, size);
	init();
	if (unlikely(ts.in_init)) {
		*out = boot_alloc(K_MEMALIGN, align, size, size);
		return *out ? 0 : ENOMEM;
	}
	if (ts.busy)
		return real.posix_memalign(out, align, size);
	ts.busy = 1;
	sampled = take_sample(size);
	err = real.posix_memalign(out, align, size);
	if (!err && sampled)
		record(*out, size, caller);
	ts.busy = 0;
	return err;
}

#define ALIGNED_WRAPPER(name, k)						\
	EXPORT void *name(size_t align, size_t size)				\
	{									\
		if (likely(fast(size)))						\
			return real.name(align, size);				\
		return alloc_slow(k, align, size, size, __builtin_return_address(0)); \
	}
ALIGNED_WRAPPER(aligned_alloc, K_ALIGNED)
ALIGNED_WRAPPER(memalign, K_MEMALIGN)

#define PAGE_WRAPPER(name, k)							\
	EXPORT void *name(size_t size)						\
	{									\
		if (likely(fast(size)))						\
			return real.name(size);					\
		return alloc_slow(k, size, 0, size, __builtin_return_address(0)); \
	}
PAGE_WRAPPER(valloc, K_VALLOC)
PAGE_WRAPPER(pvalloc, K_PVALLOC)

EXPORT void free_sized(void *p, size_t size)
{
	if (likely(!filter[ptable__filter_slot((uintptr_t)p)]))
		return real.free_sized(p, size);
	free_slow(p, size, 0, 1);
}

EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
	if (likely(!filter[ptable__filter_slot((uintptr_t)p)]))
		return real.free_aligned_sized(p, align, size);
	free_slow(p, size, align, 2);
}
