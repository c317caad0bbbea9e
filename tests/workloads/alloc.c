// alloc: allocates from known call sites, for the heap-profile tests.
//   alloc [-n SCALE] [-s SECONDS] [-w SECONDS] [-o FILE]
// Each site_* function makes one call to one allocator function (so it is
// the leaf frame of that allocation's stack) and main -> alloc_all calls
// them; site_thread_held runs in two threads named alloc-t1 and alloc-t2
// (thread_main -> site_thread_held). After allocating, alloc writes the
// exact expected heap profile, one line per site:
//   SITE alloc_objects alloc_space inuse_objects inuse_space
// counted as the calls were made, with sizes as requested (never rounded up
// to what the allocator hands out), realloc counted as a free of the old
// block plus an allocation of the new size at realloc's caller, and
// "inuse" = not freed when the program exits (nothing a "held" site
// allocates is ever freed). '#' lines are comments:
//   # pid PID
//   # tids site_thread_held TID1 TID2
//   # alloc_seconds S        how long allocating took
//   # probes ...             what -s saw
//   # skipped SITE: why      (its line is then all zeros)
//
//   -n SCALE    multiply every site's count (default 1: ~450 allocations,
//               16 MiB in all). A profile sampled every R = 512 KiB has about
//               2 * SCALE samples per site; -n 300 gives every site's
//               estimate a relative error (1 sigma) of at most 4.2%, so
//               +-20% holds with >= 4.7 sigma to spare; it makes 134,000
//               allocations of 4.8 GiB and holds 3.6 GiB (mostly untouched:
//               ~0.9 GiB resident)
//   -s SECONDS  before allocating, wait until every allocator function the
//               sites call carries a uprobe (one of its first 16 bytes
//               changed since start), for
//               at most SECONDS; for a capture that attaches with -p. The
//               outcome is the "# probes" comment and a line on stderr.
//   -w SECONDS  after writing the table, keep everything held for SECONDS
//               (SIGTERM ends the wait, as it ends the process)
//   -o FILE     write the table to FILE (through FILE.tmp, renamed into
//               place once complete; a device or FIFO is written to as it
//               is) instead of standard output
//
// Sites (per unit of SCALE; sizes in bytes):
//   site_malloc_held            malloc(8000) x 128, held
//   site_malloc_freed           malloc(65536) x 16, each freed at once
//   site_malloc_big_held        malloc(1048576) x 1, held (larger than the
//                               default rate: sampled with p = 0.86, so an
//                               estimate that is not s / (1 - exp(-s/R))
//                               per sample, e.g. R per sample, is far off)
//   site_calloc_held            calloc(10, 3000) x 32, held
//   site_realloc_src            malloc(40000) x 60: each is then passed to
//                               realloc or reallocarray below, so freed
//   site_realloc_held           realloc(src, 196608) x 8, held (the 8 srcs
//                               are allocated first, so the block moves)
//   site_reallocarray_held      reallocarray(src, 12, 4096) x 20, held (src
//                               just allocated: glibc grows it in place;
//                               glibc's reallocarray tail-calls realloc,
//                               whose probe then sees the same caller: one
//                               allocation, not two)
//   site_realloc_shrink_held    realloc(src, 30000) x 32, held (in place)
//   site_realloc_null_held      realloc(NULL, 49152) x 20, held (glibc's
//                               realloc tail-calls malloc for it: again one
//                               allocation)
//   site_posix_memalign_held    posix_memalign(64, 40000) x 25, held
//   site_aligned_alloc_held     aligned_alloc(4096, 262144) x 4, held
//                               (in glibc 2.36 aligned_alloc is memalign:
//                               one address, two names)
//   site_memalign_freed         memalign(256, 65536) x 16, freed in a batch
//                               (by free_batch) after all 16
//   site_valloc_held            valloc(49152) x 21, held
//   site_pvalloc_held           pvalloc(32768) x 32, held (a page multiple:
//                               no rounding). Skipped when pvalloc is not
//                               in the object malloc is in (jemalloc has
//                               none, and glibc's would hand out glibc
//                               memory in a jemalloc process; under
//                               bpprof's preload library, the objects its
//                               wrappers call on to are compared)
//   site_thread_held            malloc(32768) x 16 in each of 2 threads, held
// Nothing else in this program allocates, except libc's own stdio buffers
// and thread set-up (never under a site_* frame).
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// noipa: gcc may neither inline, clone (site_x.constprop.0) nor change the
// signature of a site (dropping an unused result, and the call with it).
#ifdef __clang__
#define SITE __attribute__((noinline, used))
#else
#define SITE __attribute__((noipa, used))
#endif

enum {
	MALLOC_HELD,
	MALLOC_FREED,
	MALLOC_BIG_HELD,
	CALLOC_HELD,
	REALLOC_SRC,
	REALLOC_HELD,
	REALLOCARRAY_HELD,
	REALLOC_SHRINK_HELD,
	REALLOC_NULL_HELD,
	POSIX_MEMALIGN_HELD,
	ALIGNED_ALLOC_HELD,
	MEMALIGN_FREED,
	VALLOC_HELD,
	PVALLOC_HELD,
	THREAD_HELD,
	NSITES
};

static const char *const site_names[NSITES] = {
	"site_malloc_held",
	"site_malloc_freed",
	"site_malloc_big_held",
	"site_calloc_held",
	"site_realloc_src",
	"site_realloc_held",
	"site_reallocarray_held",
	"site_realloc_shrink_held",
	"site_realloc_null_held",
	"site_posix_memalign_held",
	"site_aligned_alloc_held",
	"site_memalign_freed",
	"site_valloc_held",
	"site_pvalloc_held",
	"site_thread_held",
};

// Sizes and counts per unit of SCALE (see the top comment).
#define MALLOC_HELD_SIZE 8000
#define MALLOC_HELD_N 128
#define MALLOC_FREED_SIZE 65536
#define MALLOC_FREED_N 16
#define MALLOC_BIG_SIZE 1048576
#define MALLOC_BIG_N 1
#define CALLOC_NMEMB 10
#define CALLOC_SIZE 3000
#define CALLOC_N 32
#define SRC_SIZE 40000
#define REALLOC_SIZE 196608
#define REALLOC_N 8
#define REALLOCARRAY_NMEMB 12
#define REALLOCARRAY_SIZE 4096
#define REALLOCARRAY_N 20
#define SHRINK_SIZE 30000
#define SHRINK_N 32
#define REALLOC_NULL_SIZE 49152
#define REALLOC_NULL_N 20
#define POSIX_MEMALIGN_ALIGN 64
#define POSIX_MEMALIGN_SIZE 40000
#define POSIX_MEMALIGN_N 25
#define ALIGNED_ALLOC_ALIGN 4096
#define ALIGNED_ALLOC_SIZE 262144
#define ALIGNED_ALLOC_N 4
#define MEMALIGN_ALIGN 256
#define MEMALIGN_SIZE 65536
#define MEMALIGN_N 16
#define VALLOC_SIZE 49152
#define VALLOC_N 21
#define PVALLOC_SIZE 32768
#define PVALLOC_N 32
#define THREAD_SIZE 32768
#define THREAD_N 16
#define NTHREADS 2

struct stat4 {
	long alloc_objects, alloc_space, inuse_objects, inuse_space;
};

static struct stat4 expect[NSITES];
static volatile void *sink;
static void *volatile no_block; // NULL, but gcc cannot fold realloc(NULL, n) into malloc(n)
static long scale = 1;
static int skip_pvalloc;
static char skip_why[600];

static void got(int site, size_t n)
{
	expect[site].alloc_objects++;
	expect[site].alloc_space += n;
	expect[site].inuse_objects++;
	expect[site].inuse_space += n;
}

static void gone(int site, size_t n)
{
	expect[site].inuse_objects--;
	expect[site].inuse_space -= n;
}

static __attribute__((noreturn, noinline)) void oom(const char *what)
{
	fprintf(stderr, "alloc: %s failed\n", what);
	exit(1);
}

// One byte written: the call's result is used (and one page touched, not
// the whole block, so the held gigabytes of -n 300 stay mostly virtual).
static inline __attribute__((always_inline)) void *touch(void *p, const char *what)
{
	if (!p)
		oom(what);
	*(volatile char *)p = 1;
	sink = p;
	return p;
}

// ---- the sites: one allocator call each ----

SITE void *site_malloc_held(size_t n)
{
	return touch(malloc(n), "malloc");
}

SITE void site_malloc_freed(size_t n)
{
	void *p = touch(malloc(n), "malloc");

	free(p);
}

SITE void *site_malloc_big_held(size_t n)
{
	return touch(malloc(n), "malloc");
}

SITE void *site_calloc_held(size_t nmemb, size_t size)
{
	return touch(calloc(nmemb, size), "calloc");
}

SITE void *site_realloc_src(size_t n)
{
	return touch(malloc(n), "malloc");
}

SITE void *site_realloc_held(void *p, size_t n)
{
	return touch(realloc(p, n), "realloc");
}

SITE void *site_reallocarray_held(void *p, size_t nmemb, size_t size)
{
	return touch(reallocarray(p, nmemb, size), "reallocarray");
}

SITE void *site_realloc_shrink_held(void *p, size_t n)
{
	return touch(realloc(p, n), "realloc");
}

SITE void *site_realloc_null_held(size_t n)
{
	return touch(realloc(no_block, n), "realloc");
}

SITE void *site_posix_memalign_held(size_t align, size_t n)
{
	void *p = NULL;

	if (posix_memalign(&p, align, n))
		oom("posix_memalign");
	return touch(p, "posix_memalign");
}

SITE void *site_aligned_alloc_held(size_t align, size_t n)
{
	return touch(aligned_alloc(align, n), "aligned_alloc");
}

SITE void *site_memalign_freed(size_t align, size_t n)
{
	return touch(memalign(align, n), "memalign");
}

SITE void *site_valloc_held(size_t n)
{
	return touch(valloc(n), "valloc");
}

SITE void *site_pvalloc_held(size_t n)
{
	return touch(pvalloc(n), "pvalloc");
}

SITE void *site_thread_held(size_t n)
{
	return touch(malloc(n), "malloc");
}

// Not a site: frees site_memalign_freed's blocks.
SITE void free_batch(void **p, int n)
{
	for (int i = 0; i < n; i++)
		free(p[i]);
}

// ---- driving them ----

SITE void alloc_all(void)
{
	void *batch[MEMALIGN_N > REALLOC_N ? MEMALIGN_N : REALLOC_N], *p;

	for (long u = 0; u < scale; u++) {
		for (int i = 0; i < MALLOC_HELD_N; i++) {
			site_malloc_held(MALLOC_HELD_SIZE);
			got(MALLOC_HELD, MALLOC_HELD_SIZE);
		}
		for (int i = 0; i < MALLOC_FREED_N; i++) {
			site_malloc_freed(MALLOC_FREED_SIZE);
			got(MALLOC_FREED, MALLOC_FREED_SIZE);
			gone(MALLOC_FREED, MALLOC_FREED_SIZE);
		}
		for (int i = 0; i < MALLOC_BIG_N; i++) {
			site_malloc_big_held(MALLOC_BIG_SIZE);
			got(MALLOC_BIG_HELD, MALLOC_BIG_SIZE);
		}
		for (int i = 0; i < CALLOC_N; i++) {
			site_calloc_held(CALLOC_NMEMB, CALLOC_SIZE);
			got(CALLOC_HELD, CALLOC_NMEMB * CALLOC_SIZE);
		}
		// realloc: all srcs first, so each block has a neighbour and moves
		for (int i = 0; i < REALLOC_N; i++) {
			batch[i] = site_realloc_src(SRC_SIZE);
			got(REALLOC_SRC, SRC_SIZE);
		}
		for (int i = 0; i < REALLOC_N; i++) {
			site_realloc_held(batch[i], REALLOC_SIZE);
			gone(REALLOC_SRC, SRC_SIZE);
			got(REALLOC_HELD, REALLOC_SIZE);
		}
		// reallocarray and the shrinking realloc: each src at once
		for (int i = 0; i < REALLOCARRAY_N; i++) {
			p = site_realloc_src(SRC_SIZE);
			got(REALLOC_SRC, SRC_SIZE);
			site_reallocarray_held(p, REALLOCARRAY_NMEMB, REALLOCARRAY_SIZE);
			gone(REALLOC_SRC, SRC_SIZE);
			got(REALLOCARRAY_HELD, REALLOCARRAY_NMEMB * REALLOCARRAY_SIZE);
		}
		for (int i = 0; i < SHRINK_N; i++) {
			p = site_realloc_src(SRC_SIZE);
			got(REALLOC_SRC, SRC_SIZE);
			site_realloc_shrink_held(p, SHRINK_SIZE);
			gone(REALLOC_SRC, SRC_SIZE);
			got(REALLOC_SHRINK_HELD, SHRINK_SIZE);
		}
		for (int i = 0; i < REALLOC_NULL_N; i++) {
			site_realloc_null_held(REALLOC_NULL_SIZE);
			got(REALLOC_NULL_HELD, REALLOC_NULL_SIZE);
		}
		for (int i = 0; i < POSIX_MEMALIGN_N; i++) {
			site_posix_memalign_held(POSIX_MEMALIGN_ALIGN, POSIX_MEMALIGN_SIZE);
			got(POSIX_MEMALIGN_HELD, POSIX_MEMALIGN_SIZE);
		}
		for (int i = 0; i < ALIGNED_ALLOC_N; i++) {
			site_aligned_alloc_held(ALIGNED_ALLOC_ALIGN, ALIGNED_ALLOC_SIZE);
			got(ALIGNED_ALLOC_HELD, ALIGNED_ALLOC_SIZE);
		}
		for (int i = 0; i < MEMALIGN_N; i++) {
			batch[i] = site_memalign_freed(MEMALIGN_ALIGN, MEMALIGN_SIZE);
			got(MEMALIGN_FREED, MEMALIGN_SIZE);
		}
		free_batch(batch, MEMALIGN_N);
		for (int i = 0; i < MEMALIGN_N; i++)
			gone(MEMALIGN_FREED, MEMALIGN_SIZE);
		for (int i = 0; i < VALLOC_N; i++) {
			site_valloc_held(VALLOC_SIZE);
			got(VALLOC_HELD, VALLOC_SIZE);
		}
		for (int i = 0; !skip_pvalloc && i < PVALLOC_N; i++) {
			site_pvalloc_held(PVALLOC_SIZE);
			got(PVALLOC_HELD, PVALLOC_SIZE);
		}
	}
}

struct worker {
	pthread_t thread;
	int index;
	pid_t tid;
	struct stat4 count;
};

static pthread_barrier_t start;

SITE void *thread_main(void *arg)
{
	struct worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "alloc-t%d", w->index);
	pthread_setname_np(pthread_self(), name);
	w->tid = gettid();
	pthread_barrier_wait(&start); // both run at once: two live tids
	for (long u = 0; u < scale; u++) {
		for (int i = 0; i < THREAD_N; i++) {
			site_thread_held(THREAD_SIZE);
			w->count.alloc_objects++;
			w->count.alloc_space += THREAD_SIZE;
		}
	}
	return NULL;
}

// ---- set-up: which object holds each allocator, and its probes ----

static char maps[1 << 16];

// object_of: the path of the mapping holding ADDR ("" if none).
static void object_of(const void *addr, char *out, size_t size)
{
	unsigned long a = (unsigned long)addr, lo, hi;
	char *line = maps, *nl, *path;

	out[0] = 0;
	for (; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi) {
			path = strchr(line, '/');
			if (path && path < nl)
				snprintf(out, size, "%.*s", (int)(nl - path), path);
			return;
		}
	}
}

static void read_maps(void)
{
	int fd = open("/proc/self/maps", O_RDONLY);
	size_t len = 0;
	ssize_t r;

	if (fd < 0)
		return;
	while (len < sizeof(maps) - 1 && (r = read(fd, maps + len, sizeof(maps) - 1 - len)) > 0)
		len += r;
	maps[len] = 0;
	close(fd);
}

#ifndef ALLOC_STATIC	// (a static program has no dynamic linker to ask)
// Under an allocator wrapper loaded ahead of the allocator (bpprof's heap
// preload library), what a function really runs is the first definition
// after the wrapper, in link-map order: the one the wrapper calls on to.
// That object's name, as the dynamic linker has it, into out ("" if none).
struct next_def {
	const char *name;
	char *out;
	size_t size;
};

static int next_definition(struct dl_phdr_info *info, size_t len __attribute__((unused)), void *data)
{
	struct next_def *d = data;
	Dl_info where;
	void *h, *f;
	int found = 0;

	if (!info->dlpi_name[0] || strstr(info->dlpi_name, "libbpprof-heap"))
		return 0;
	h = dlopen(info->dlpi_name, RTLD_NOLOAD | RTLD_LAZY);
	if (!h)
		return 0;
	f = dlsym(h, d->name);
	if (f && dladdr(f, &where) && where.dli_fname && !strcmp(where.dli_fname, info->dlpi_name)) {
		snprintf(d->out, d->size, "%s", info->dlpi_name);
		found = 1;
	}
	dlclose(h);
	return found;
}

static void wrapped_object(const char *name, char *out, size_t size)
{
	struct next_def d = { name, out, size };

	out[0] = 0;
	dl_iterate_phdr(next_definition, &d);
}
#endif

// The allocator functions the sites call, as the program calls them (in a
// PIE, a function's address is its definition's, not a PLT stub's).
static const struct {
	const char *name;
	void *addr;
} fns[] = {
	{ "malloc", (void *)malloc },
	{ "calloc", (void *)calloc },
	{ "realloc", (void *)realloc },
	{ "reallocarray", (void *)reallocarray },
	{ "free", (void *)free },
	{ "posix_memalign", (void *)posix_memalign },
	{ "aligned_alloc", (void *)aligned_alloc },
	{ "memalign", (void *)memalign },
	{ "valloc", (void *)valloc },
	{ "pvalloc", (void *)pvalloc },
};
#define NFNS (sizeof(fns) / sizeof(fns[0]))
static unsigned char first_bytes[NFNS][16];

// A uprobe rewrites an instruction near the start (not always the first:
// bpprof probes past a flags-only first instruction on x86).
static int probed(size_t i)
{
	return memcmp((const void *)fns[i].addr, first_bytes[i], sizeof(first_bytes[i])) != 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_for(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

// wait_probes: until every function in use is probed, or SECONDS pass.
static void wait_probes(double seconds, char *note, size_t size)
{
	double t0 = now(), t;
	char missing[256];
	size_t i, len;

	for (;;) {
		missing[0] = 0;
		len = 0;
		for (i = 0; i < NFNS; i++) {
			if (skip_pvalloc && !strcmp(fns[i].name, "pvalloc"))
				continue;
			if (!probed(i))
				len += snprintf(missing + len, sizeof(missing) - len, " %s", fns[i].name);
			if (len >= sizeof(missing))
				len = sizeof(missing) - 1;
		}
		t = now() - t0;
		if (!missing[0]) {
			snprintf(note, size, "probes on every allocator function after %.3f s", t);
			break;
		}
		if (t >= seconds) {
			snprintf(note, size, "no probes after %.3f s on:%s (allocating anyway)", t, missing);
			break;
		}
		sleep_for(0.01);
	}
	fprintf(stderr, "alloc: %s\n", note);
}

static int parse(const char *s, double lo, double hi, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end || *out < lo || *out > hi ? -1 : 0;
}

static __attribute__((noreturn)) void usage(void)
{
	fprintf(stderr, "usage: alloc [-n SCALE (1..100000)] [-s SECONDS] [-w SECONDS] [-o FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	double wait_before = -1, wait_after = 0, n = 1, t0, t1;
	const char *out = NULL;
	char tmp[4096], mobj[256], pobj[256], note[400] = "";
	struct worker w[NTHREADS];
	FILE *f = stdout;
	struct stat st;
	int c, err, direct = 0;

	while ((c = getopt(argc, argv, "n:s:w:o:")) != -1) {
		switch (c) {
		case 'n':
			if (parse(optarg, 1, 100000, &n) || n != (long)n)
				usage();
			break;
		case 's':
			if (parse(optarg, 0, 86400, &wait_before))
				usage();
			break;
		case 'w':
			if (parse(optarg, 0, 86400, &wait_after))
				usage();
			break;
		case 'o':
			out = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	scale = (long)n;

	read_maps();
	object_of((void *)malloc, mobj, sizeof(mobj));
	object_of((void *)pvalloc, pobj, sizeof(pobj));
#ifndef ALLOC_STATIC
	if (strstr(mobj, "libbpprof-heap")) {
		wrapped_object("malloc", mobj, sizeof(mobj));
		wrapped_object("pvalloc", pobj, sizeof(pobj));
	}
#endif
	if (strcmp(mobj, pobj)) {
		skip_pvalloc = 1;
		snprintf(skip_why, sizeof(skip_why), "site_pvalloc_held: pvalloc is in %s, malloc in %s",
			 pobj[0] ? pobj : "?", mobj[0] ? mobj : "?");
	}
	for (size_t i = 0; i < NFNS; i++)
		memcpy(first_bytes[i], (const void *)fns[i].addr, sizeof(first_bytes[i]));
	if (wait_before >= 0)
		wait_probes(wait_before, note, sizeof(note));

	t0 = now();
	alloc_all();
	err = pthread_barrier_init(&start, NULL, NTHREADS);
	for (int i = 0; !err && i < NTHREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].index = i + 1;
		err = pthread_create(&w[i].thread, NULL, thread_main, &w[i]);
	}
	if (err) {
		fprintf(stderr, "alloc: pthread: %s\n", strerror(err));
		return 1;
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].thread, NULL);
		expect[THREAD_HELD].alloc_objects += w[i].count.alloc_objects;
		expect[THREAD_HELD].alloc_space += w[i].count.alloc_space;
	}
	expect[THREAD_HELD].inuse_objects = expect[THREAD_HELD].alloc_objects;
	expect[THREAD_HELD].inuse_space = expect[THREAD_HELD].alloc_space;
	t1 = now();

	if (out) {
		// a device or FIFO (-o /dev/null) is written through, never replaced
		if (stat(out, &st) == 0 && !S_ISREG(st.st_mode))
			direct = 1;
		snprintf(tmp, sizeof(tmp), "%s%s", out, direct ? "" : ".tmp");
		f = fopen(tmp, "w");
		if (!f) {
			fprintf(stderr, "alloc: %s: %s\n", tmp, strerror(errno));
			return 1;
		}
	}
	fprintf(f, "# pid %d\n", (int)getpid());
	fprintf(f, "# tids site_thread_held %d %d\n", (int)w[0].tid, (int)w[1].tid);
	fprintf(f, "# scale %ld\n", scale);
	fprintf(f, "# alloc_seconds %.3f\n", t1 - t0);
	if (note[0])
		fprintf(f, "# probes %s\n", note);
	if (skip_pvalloc)
		fprintf(f, "# skipped %s\n", skip_why);
	fprintf(f, "# site alloc_objects alloc_space inuse_objects inuse_space\n");
	for (int i = 0; i < NSITES; i++)
		fprintf(f, "%s %ld %ld %ld %ld\n", site_names[i], expect[i].alloc_objects, expect[i].alloc_space,
			expect[i].inuse_objects, expect[i].inuse_space);
	if (fflush(f) || (out && (fclose(f) || (!direct && rename(tmp, out))))) {
		fprintf(stderr, "alloc: writing %s: %s\n", out ? out : "stdout", strerror(errno));
		return 1;
	}
	if (wait_after > 0)
		sleep_for(wait_after);
	return 0;
}
