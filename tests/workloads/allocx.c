// allocx: the allocation cases a heap profiler inside the process must get
// right, beyond alloc's one call per function: frees on another thread,
// realloc grown, shrunk, from NULL and to 0, a calloc that overflows,
// aligned_alloc(4096), a forked child and an exec'd child allocating (and
// freeing before its exec), and a multi-threaded stress run. Like alloc it
// writes the exact profile it expects, one line per site (see alloc.c):
//   SITE alloc_objects alloc_space inuse_objects inuse_space
// with "# pid P", "# child P" and "# exec P" comment lines naming the
// processes (the fork child's, the exec'd one's).
//   allocx [-o FILE]                cases
//   allocx --stress THREADS ITERS   THREADS threads, ITERS operations each
//                                   (malloc/calloc/realloc of 16..4111
//                                   bytes, freed on any thread through a
//                                   shared pool); everything freed by the
//                                   end; prints "stress ok OPS ops"
//   allocx --exec-child             (internal) the exec'd child's sites
// Exit status 1 when the C library breaks a promise the tests rely on (a
// calloc overflow not failing with ENOMEM, a misaligned block).
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __clang__
#define SITE __attribute__((noinline, used))
#else
#define SITE __attribute__((noipa, used))
#endif

enum {
	XTHREAD_FREED,		// malloc(5000) x 40 on one thread, freed on another
	GROW_SRC,		// malloc(1000) x 30, each then grown (so freed)
	REALLOC_GROW,		// realloc(src, 50000) x 30, held
	SHRINK_SRC,		// malloc(50000) x 30, each then shrunk
	REALLOC_SHRINK,		// realloc(src, 1000) x 30, held
	REALLOC_NULL,		// realloc(NULL, 3000) x 30, held
	ZERO_SRC,		// malloc(2000) x 30, each then realloc'd to 0: freed
	REALLOC_ZERO,		// realloc(src, 0) x 30: glibc frees, returns NULL
	CALLOC_OVERFLOW,	// calloc(SIZE_MAX / 8 + 1, 16) x 10: NULL, ENOMEM
	ALIGNED_4096,		// aligned_alloc(4096, 8192) x 20, held
	FORK_HELD,		// in a forked child: malloc(7000) x 25, held at its exit
	FORK_FREED,		// in it: malloc(9000) x 25, freed
	EXEC_HELD,		// in an exec'd child: malloc(11000) x 15, held
	EXEC_FREED,		// in that child before its exec: malloc(13000) x 5, freed
	NSITES
};

static const char *const site_names[NSITES] = {
	"site_xthread_freed", "site_grow_src", "site_realloc_grow", "site_shrink_src",
	"site_realloc_shrink", "site_realloc_null", "site_zero_src", "site_realloc_zero",
	"site_calloc_overflow", "site_aligned_4096", "site_fork_held", "site_fork_freed",
	"site_exec_held", "site_exec_freed",
};

#define N 30
#define XTHREAD_N 40
#define XTHREAD_SIZE 5000
#define OVERFLOW_N 10
#define ALIGNED_N 20
#define FORK_N 25
#define EXEC_N 15
#define EXEC_FREED_N 5

struct stat4 {
	long alloc_objects, alloc_space, inuse_objects, inuse_space;
};

static struct stat4 expect[NSITES];
static void *volatile no_block;	// NULL, unknown to the compiler
static void *volatile sink;

static void got(int site, size_t n)
{
	expect[site].alloc_objects++;
	expect[site].alloc_space += (long)n;
	expect[site].inuse_objects++;
	expect[site].inuse_space += (long)n;
}

static void gone(int site, size_t n)
{
	expect[site].inuse_objects--;
	expect[site].inuse_space -= (long)n;
}

static __attribute__((noreturn)) void fail(const char *what)
{
	fprintf(stderr, "allocx: %s\n", what);
	exit(1);
}

static void *use(void *p, const char *what)
{
	if (!p)
		fail(what);
	*(volatile char *)p = 1;
	sink = p;
	return p;
}

SITE void *site_xthread_freed(size_t n) { return use(malloc(n), "malloc"); }
SITE void *site_grow_src(size_t n) { return use(malloc(n), "malloc"); }
SITE void *site_realloc_grow(void *p, size_t n) { return use(realloc(p, n), "realloc grow"); }
SITE void *site_shrink_src(size_t n) { return use(malloc(n), "malloc"); }
SITE void *site_realloc_shrink(void *p, size_t n) { return use(realloc(p, n), "realloc shrink"); }
SITE void *site_realloc_null(size_t n) { return use(realloc(no_block, n), "realloc(NULL)"); }
SITE void *site_zero_src(size_t n) { return use(malloc(n), "malloc"); }
SITE void *site_realloc_zero(void *p) { return realloc(p, 0); }
static volatile size_t huge = SIZE_MAX / 8 + 1;	// opaque: gcc refuses the constant
SITE void *site_calloc_overflow(void) { return calloc(huge, 16); }
SITE void *site_aligned_4096(size_t n) { return use(aligned_alloc(4096, n), "aligned_alloc"); }
SITE void *site_fork_held(size_t n) { return use(malloc(n), "malloc"); }
SITE void *site_fork_freed(size_t n) { return use(malloc(n), "malloc"); }
SITE void *site_exec_held(size_t n) { return use(malloc(n), "malloc"); }
SITE void *site_exec_freed(size_t n) { return use(malloc(n), "malloc"); }

// ---- frees on another thread ----

static void *xthread_blocks[XTHREAD_N];

static void *xthread_alloc(void *arg)
{
	for (int i = 0; i < XTHREAD_N; i++)
		xthread_blocks[i] = site_xthread_freed(XTHREAD_SIZE);
	return arg;
}

static void *xthread_free(void *arg)
{
	for (int i = 0; i < XTHREAD_N; i++)
		free(xthread_blocks[i]);
	return arg;
}

static void cross_thread(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, xthread_alloc, NULL) || pthread_join(t, NULL))
		fail("pthread");
	for (int i = 0; i < XTHREAD_N; i++)
		got(XTHREAD_FREED, XTHREAD_SIZE);
	if (pthread_create(&t, NULL, xthread_free, NULL) || pthread_join(t, NULL))
		fail("pthread");
	for (int i = 0; i < XTHREAD_N; i++)
		gone(XTHREAD_FREED, XTHREAD_SIZE);
}

// ---- realloc, calloc, aligned_alloc ----

static void reallocs(void)
{
	void *p;

	for (int i = 0; i < N; i++) {
		p = site_grow_src(1000);
		got(GROW_SRC, 1000);
		site_realloc_grow(p, 50000);
		gone(GROW_SRC, 1000);
		got(REALLOC_GROW, 50000);

		p = site_shrink_src(50000);
		got(SHRINK_SRC, 50000);
		site_realloc_shrink(p, 1000);
		gone(SHRINK_SRC, 50000);
		got(REALLOC_SHRINK, 1000);

		site_realloc_null(3000);
		got(REALLOC_NULL, 3000);

		p = site_zero_src(2000);
		got(ZERO_SRC, 2000);
		p = site_realloc_zero(p);
		gone(ZERO_SRC, 2000);
		if (p)	// a C library that returns a block for realloc(p, 0)
			got(REALLOC_ZERO, 0);
	}
	for (int i = 0; i < OVERFLOW_N; i++) {
		errno = 0;
		if (site_calloc_overflow() || errno != ENOMEM)
			fail("calloc(SIZE_MAX / 8 + 1, 16) did not fail with ENOMEM");
	}
	for (int i = 0; i < ALIGNED_N; i++) {
		if ((uintptr_t)site_aligned_4096(8192) % 4096)
			fail("aligned_alloc(4096, 8192) gave a block not aligned to 4096");
		got(ALIGNED_4096, 8192);
	}
}

// ---- a forked child and an exec'd child ----

static void wait_child(pid_t pid, const char *what)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail(what);
}

static pid_t forked(void)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid)
		return pid;
	for (int i = 0; i < FORK_N; i++) {
		site_fork_held(7000);
		free(site_fork_freed(9000));
	}
	exit(0);
}

static pid_t execd(const char *self)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid)
		return pid;
	for (int i = 0; i < EXEC_FREED_N; i++)
		free(site_exec_freed(13000));
	execl(self, "allocx", "--exec-child", (char *)NULL);
	_exit(127);
}

static void children(pid_t *child, pid_t *exec_child)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		fail("readlink /proc/self/exe");
	self[n] = 0;
	*child = forked();
	wait_child(*child, "the forked child failed");
	for (int i = 0; i < FORK_N; i++) {
		got(FORK_HELD, 7000);
		got(FORK_FREED, 9000);
		gone(FORK_FREED, 9000);
	}
	*exec_child = execd(self);
	wait_child(*exec_child, "the exec'd child failed");
	for (int i = 0; i < EXEC_N; i++)
		got(EXEC_HELD, 11000);
	for (int i = 0; i < EXEC_FREED_N; i++) {
		got(EXEC_FREED, 13000);
		gone(EXEC_FREED, 13000);
	}
}

// ---- stress: threads allocating and freeing each other's blocks ----

#define POOL 4096
static void *pool[POOL];
static long iters;

SITE void *site_stress(unsigned r)
{
	size_t n = 16 + r % 4096;

	switch (r >> 12 & 3) {
	case 0:
		return calloc(1, n);
	case 1:
		return realloc(malloc(n / 2 + 1), n);
	default:
		return malloc(n);
	}
}

static void *stress_thread(void *arg)
{
	unsigned r = (unsigned)(uintptr_t)arg * 2654435761u + 1;

	for (long i = 0; i < iters; i++) {
		void *p;

		r ^= r << 13;
		r ^= r >> 17;
		r ^= r << 5;
		p = site_stress(r);
		if (!p)
			fail("stress: out of memory");
		*(volatile char *)p = 1;
		// swap it into a random slot; free what was there (any thread's)
		free(__atomic_exchange_n(&pool[(r >> 14) % POOL], p, __ATOMIC_ACQ_REL));
	}
	return NULL;
}

static int stress(int threads, long n)
{
	pthread_t t[64];

	if (threads < 1 || threads > 64 || n < 1)
		fail("usage: allocx --stress THREADS (1-64) ITERS");
	iters = n;
	for (int i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, stress_thread, (void *)(uintptr_t)(i + 1)))
			fail("pthread_create");
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < POOL; i++)
		free(pool[i]);
	printf("stress ok %ld ops\n", (long)threads * n);
	return 0;
}

static int write_table(const char *out, pid_t child, pid_t exec_child)
{
	char tmp[4096];
	FILE *f = stdout;

	if (out) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", out);
		f = fopen(tmp, "w");
		if (!f)
			fail("cannot write the table");
	}
	fprintf(f, "# pid %d\n# child %d\n# exec %d\n", (int)getpid(), (int)child, (int)exec_child);
	fprintf(f, "# site alloc_objects alloc_space inuse_objects inuse_space\n");
	for (int i = 0; i < NSITES; i++)
		fprintf(f, "%s %ld %ld %ld %ld\n", site_names[i], expect[i].alloc_objects,
			expect[i].alloc_space, expect[i].inuse_objects, expect[i].inuse_space);
	if (fflush(f) || (out && (fclose(f) || rename(tmp, out))))
		fail("cannot write the table");
	return 0;
}

int main(int argc, char **argv)
{
	pid_t child, exec_child;

	if (argc == 2 && !strcmp(argv[1], "--exec-child")) {
		for (int i = 0; i < EXEC_N; i++)
			site_exec_held(11000);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "--stress"))
		return stress((int)strtol(argv[2], NULL, 10), strtol(argv[3], NULL, 10));
	if (argc != 1 && !(argc == 3 && !strcmp(argv[1], "-o"))) {
		fprintf(stderr, "usage: allocx [-o FILE] | --stress THREADS ITERS\n");
		return 2;
	}
	cross_thread();
	reallocs();
	children(&child, &exec_child);
	return write_table(argc == 3 ? argv[2] : NULL, child, exec_child);
}
