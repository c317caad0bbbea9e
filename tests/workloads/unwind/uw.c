// unwind: call chains for the unwinding tests, built -O2 -fomit-frame-pointer
// (and again with .debug_frame only), so only unwind tables can walk them.
//   unwind MODE [SECONDS [N]]   default 3 s; prints nothing (N: qsort's array)
// Every mode first spins in warmup() for WARMUP seconds, so a profiler has
// seen the process and loaded its tables before the hot part starts; then
// the hot function of the mode runs under a known chain:
//   chain    main;chain_a;chain_b;chain_leaf (chain_leaf has a 128 KiB frame)
//   qsort    main;sorter;qsort;...glibc...;cmp_slow (glibc calls back; N elements,
//            4096 by default: the merge sort recurses log2 N deep)
//   deep     main;deep_start;recurse x DEPTH;deep_leaf (deeper than 127 frames)
//   signal   main;sig_main;sig_spin;<signal frame>;on_prof;handler_work
//   thread   clone3;start_thread;thread_main;thread_work;thread_leaf
//   vfork    main;vfork_loop;vfork (the parent's time is in the kernel)
//   dlopen   main;dl_main;dl_entry;dl_work;dl_leaf (in libunwind-dl.so, loaded
//            after the warm-up, beside this program)
//   heap     main;heap_main;dup_site;strdup -> malloc (for heap captures)
// No call is a tail call (each caller uses the result), and the compiler may
// not clone or inline the functions the tests look for.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FN __attribute__((noinline, noclone, used))
#define WARMUP	0.4
#define DEPTH	300
#define BIG	(128 * 1024)

static volatile unsigned long sink;
static double deadline;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int done(void) { return now() >= deadline; }

FN static unsigned long spin(unsigned long n)
{
	unsigned long acc = sink;

	for (unsigned long i = 0; i < n; i++)
		acc = acc * 31 + i;
	return acc;
}

FN static void warmup(void)
{
	double end = now() + WARMUP;

	while (now() < end)
		sink = spin(100000);
}

// --- chain: a plain chain with a large leaf frame ---

FN static unsigned long chain_leaf(unsigned long n)
{
	volatile unsigned char buf[BIG];

	for (unsigned long r = 0; r < n; r++)
		for (unsigned long i = 0; i < BIG; i += 64)
			buf[i] = (unsigned char)(buf[i] + i + r);
	return buf[n % BIG];
}

FN static unsigned long chain_b(unsigned long n) { return chain_leaf(n) + 2; }

FN static unsigned long chain_a(unsigned long n) { return chain_b(n) * 3; }

// --- qsort: glibc calls back ---

FN static int cmp_slow(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	sink = spin(40);	// the comparator, not glibc's sort, holds the samples
	return (x > y) - (x < y);
}

FN static unsigned sorter(unsigned *v, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		v[i] = seed = seed * 1103515245u + 12345u;
	qsort(v, n, sizeof(*v), cmp_slow);
	return v[n / 2];
}

// --- deep: deeper than any frame limit ---

FN static unsigned long deep_leaf(void) { return spin(2000000) + 1; }

static unsigned long (*volatile recurse_p)(int);	// no tail-recursion elimination

FN static unsigned long recurse(int n)
{
	if (n == 0)
		return deep_leaf() + 1;
	return recurse_p(n - 1) + 1;
}

FN static unsigned long deep_start(void) { return recurse(DEPTH) + 1; }

// --- signal: a handler's stack runs through the signal frame ---

FN static void handler_work(void) { sink = spin(3000000); }

FN static void on_prof(int sig)
{
	handler_work();
	sink += sig;
}

// The clock is read once per 100,000 steps (about 0.1 ms): a signal rarely
// lands in clock_gettime's PLT stub, a frame bpprof leaves unnamed.
FN static void sig_spin(void)
{
	while (!done())
		sink = spin(100000);
}

FN static void sig_main(void)
{
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } };
	struct sigaction sa = { .sa_handler = on_prof };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGPROF, &sa, NULL);
	setitimer(ITIMER_PROF, &it, NULL);
	sig_spin();
	it = (struct itimerval){ { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_PROF, &it, NULL);
}

// --- thread: a second thread's stack ends at clone3 ---

FN static unsigned long thread_leaf(void) { return spin(1000000) + 1; }

FN static unsigned long thread_work(void) { return thread_leaf() * 2; }

FN static void *thread_main(void *arg)
{
	while (!done())
		sink = thread_work();
	return arg;
}

// --- vfork: the return address in a register ---

FN static int vfork_loop(void)
{
	static int n;	// not on the stack the child shares

	while (!done()) {
		pid_t pid = vfork();

		if (pid == 0)
			_exit(0);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		n++;
	}
	return n;
}

// --- dlopen: a library that arrives mid-run ---

FN static int dl_main(const char *self)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	unsigned long (*entry)(int (*)(void));
	void *h;

	snprintf(dir, sizeof(dir), "%s", self);
	snprintf(path, sizeof(path), "%s/libunwind-dl.so", dirname(dir));
	h = dlopen(path, RTLD_NOW);
	if (!h) {
		fprintf(stderr, "unwind: %s\n", dlerror());
		return 1;
	}
	entry = (unsigned long (*)(int (*)(void)))dlsym(h, "dl_entry");
	if (!entry)
		return 1;
	warmup();	// the new library's table is loaded meanwhile
	sink = entry(done);
	return 0;
}

// --- heap: allocations inside glibc (strdup calls malloc) ---

FN static char *dup_site(const char *s)
{
	char *p = strdup(s);

	sink += p != NULL;
	return p;
}

FN static void heap_main(void)
{
	static char *held[4096];
	int i;

	for (i = 0; i < 4096; i++) {
		held[i] = dup_site("an allocation made inside glibc's strdup");
		if (held[i])
			held[i][0] = 'a';
	}
	for (i = 0; i < 4096; i += 2)
		free(held[i]);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "chain";
	double secs = argc > 2 ? strtod(argv[2], NULL) : 3.0;
	unsigned *v;
	pthread_t t;

	recurse_p = recurse;
	warmup();
	deadline = now() + secs;
	if (!strcmp(mode, "chain")) {
		while (!done())
			sink = chain_a(64);
	} else if (!strcmp(mode, "qsort")) {
		size_t n = argc > 3 ? strtoul(argv[3], NULL, 10) : 4096;

		v = n ? malloc(n * sizeof(*v)) : NULL;
		for (unsigned seed = 1; v && !done(); seed++)
			sink = sorter(v, n, seed);
		free(v);
	} else if (!strcmp(mode, "deep")) {
		while (!done())
			sink = deep_start();
	} else if (!strcmp(mode, "signal")) {
		sig_main();
	} else if (!strcmp(mode, "thread")) {
		if (pthread_create(&t, NULL, thread_main, NULL))
			return 1;
		pthread_setname_np(t, "uw-thread");
		pthread_join(t, NULL);
	} else if (!strcmp(mode, "vfork")) {
		sink = (unsigned long)vfork_loop();
	} else if (!strcmp(mode, "dlopen")) {
		sink = (unsigned long)dl_main(argv[0]);	// not a tail call: main stays
		return (int)sink;
	} else if (!strcmp(mode, "heap")) {
		heap_main();
	} else {
		fprintf(stderr, "unwind: unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
