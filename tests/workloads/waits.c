// waits: threads that wait off the CPU in known functions for known times,
// for the off-CPU tests. Each mode prints what it measured itself, one
// "key=value" a line, on stdout:
//   waits sleeps N [MS] thread "sleeper" (started MS ms later): N times
//                       sleep_twenty() (20 ms) then sleep_ten() (10 ms);
//                       prints the wall clock each function spent asleep
//                       (twenty_ns=, ten_ns=)
//   waits pipe MS       thread "reader" blocks in read_pipe() until thread
//                       "writer" writes, MS ms later (blocked_ns=)
//   waits mutex MS      thread "holder" holds a mutex MS ms; thread "waiter"
//                       blocks in contend() on it meanwhile (blocked_ns=)
//   waits spin SECONDS  threads "spin-a" and "spin-b" spin in spin() on one
//                       CPU (the first this process may use): each is
//                       preempted for the other (runnable)
//   waits mixed CYCLES  thread "mixer": CYCLES times burn() 10 ms of CPU,
//                       then nap() 10 ms; prints each thread's lifetime and
//                       CPU time (tid=, wall_ns=, cpu_ns=, a line each)
//   waits exit MS       threads "stuck-1", "stuck-2" block in stuck() on a
//                       pipe nobody writes; the process exits after MS ms,
//                       killing them while they wait
//   waits forever       thread "sleeper" sleeps in sleep_twenty() until killed
// The waits are raw system calls made in these functions, so the user stack
// starts in them and frame pointers reach main whatever libc was built with.
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef __clang__
#define NAMED __attribute__((noinline, used))
#else
#define NAMED __attribute__((noinline, noclone, used))
#endif

// Inlined into each named function, so the system call is made there.
#define INLINE static inline __attribute__((always_inline))

INLINE long raw3(long nr, long a, long b, long c)
{
	long ret;
#if defined(__x86_64__)
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr, x0 __asm__("x0") = a, x1 __asm__("x1") = b,
		      x2 __asm__("x2") = c;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
	ret = x0;
#else
#error "waits: add this architecture's system call instruction"
#endif
	return ret;
}
static long long now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void name_thread(const char *name)
{
	pthread_setname_np(pthread_self(), name);
}

// Sleeps ms through nanosleep (restarted after a signal): the wall clock
// spent in it.
INLINE long long nap_raw(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	long long t0 = now_ns(CLOCK_MONOTONIC);

	while (raw3(SYS_nanosleep, (long)&ts, (long)&ts, 0) == -EINTR)
		;
	return now_ns(CLOCK_MONOTONIC) - t0;
}

NAMED long long sleep_twenty(void) { return nap_raw(20); }
NAMED long long sleep_ten(void) { return nap_raw(10); }

static long cycles;
static long long twenty_ns, ten_ns;

static void *sleeper(void *arg __attribute__((unused)))
{
	long i;

	name_thread("sleeper");
	for (i = 0; i < cycles; i++) {
		twenty_ns += sleep_twenty();
		ten_ns += sleep_ten();
	}
	return NULL;
}

static int fds[2];
static long hold_ms;
static long long blocked_ns;

NAMED long long read_pipe(void)
{
	long long t0 = now_ns(CLOCK_MONOTONIC);
	char c;

	if (raw3(SYS_read, fds[0], (long)&c, 1) != 1)
		exit(3);
	return now_ns(CLOCK_MONOTONIC) - t0;
}

static void *reader(void *arg __attribute__((unused)))
{
	name_thread("reader");
	blocked_ns = read_pipe();
	return NULL;
}

NAMED void hold_off(void) { nap_raw(hold_ms); }

static void *writer(void *arg __attribute__((unused)))
{
	name_thread("writer");
	hold_off();
	if (write(fds[1], "x", 1) != 1)
		exit(3);
	return NULL;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int held;

NAMED void hold_lock(void) { nap_raw(hold_ms); }

static void *holder(void *arg __attribute__((unused)))
{
	name_thread("holder");
	pthread_mutex_lock(&lock);
	held = 1;
	hold_lock();
	pthread_mutex_unlock(&lock);
	return NULL;
}

NAMED long long contend(void)
{
	long long t0 = now_ns(CLOCK_MONOTONIC);

	pthread_mutex_lock(&lock);
	pthread_mutex_unlock(&lock);
	return now_ns(CLOCK_MONOTONIC) - t0;
}

static void *waiter(void *arg __attribute__((unused)))
{
	name_thread("waiter");
	while (!held)
		sched_yield();
	blocked_ns = contend();
	return NULL;
}

static double spin_until;
static volatile unsigned long spun;

NAMED void spin(void)
{
	while (now_ns(CLOCK_MONOTONIC) / 1e9 < spin_until)
		for (int i = 0; i < 1000; i++)
			spun += i;
}

static void *spinner(void *arg)
{
	name_thread(arg);
	spin();
	return NULL;
}

NAMED void burn(long ms)
{
	long long end = now_ns(CLOCK_THREAD_CPUTIME_ID) + ms * 1000000LL;

	while (now_ns(CLOCK_THREAD_CPUTIME_ID) < end)
		for (int i = 0; i < 1000; i++)
			spun += i;
}

NAMED void nap(long ms) { nap_raw(ms); }

static void report(long long t0)
{
	printf("tid=%ld wall_ns=%lld cpu_ns=%lld\n", (long)syscall(SYS_gettid),
	       now_ns(CLOCK_MONOTONIC) - t0, now_ns(CLOCK_THREAD_CPUTIME_ID));
}

static void *mixer(void *arg)
{
	long long t0 = *(long long *)arg;
	long i;

	name_thread("mixer");
	for (i = 0; i < cycles; i++) {
		burn(10);
		nap(10);
	}
	report(t0);
	return NULL;
}

NAMED void stuck(void)
{
	char c;

	raw3(SYS_read, fds[0], (long)&c, 1);
}

static void *stuck_main(void *arg)
{
	name_thread(arg);
	stuck();
	return NULL;
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	if (pthread_create(t, NULL, fn, arg)) {
		fprintf(stderr, "waits: pthread_create failed\n");
		exit(2);
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: waits sleeps N [MS] | pipe MS | mutex MS | spin SECONDS | mixed CYCLES |"
		" exit MS | forever\n");
	return 2;
}

// The spinners share the first CPU this process may run on.
static void one_cpu(void)
{
	cpu_set_t set, one;
	int cpu;

	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set); cpu++)
		;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	sched_setaffinity(0, sizeof(one), &one);
}

int main(int argc, char **argv)
{
	pthread_t a, b;
	long long t0 = now_ns(CLOCK_MONOTONIC);
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 0;

	if (argc < 2 || (argc < 3 && strcmp(argv[1], "forever")))
		return usage();
	if (!strcmp(argv[1], "sleeps")) {
		cycles = n;
		if (argc > 3)
			nap(strtol(argv[3], NULL, 10));
		start(&a, sleeper, NULL);
		pthread_join(a, NULL);
		printf("twenty_ns=%lld\nten_ns=%lld\n", twenty_ns, ten_ns);
	} else if (!strcmp(argv[1], "pipe") || !strcmp(argv[1], "mutex")) {
		hold_ms = n;
		if (pipe(fds))
			return 3;
		start(&a, argv[1][0] == 'p' ? reader : holder, NULL);
		start(&b, argv[1][0] == 'p' ? writer : waiter, NULL);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		printf("blocked_ns=%lld\n", blocked_ns);
	} else if (!strcmp(argv[1], "spin")) {
		one_cpu();
		spin_until = now_ns(CLOCK_MONOTONIC) / 1e9 + (double)n;
		start(&a, spinner, "spin-a");
		start(&b, spinner, "spin-b");
		pthread_join(a, NULL);
		pthread_join(b, NULL);
	} else if (!strcmp(argv[1], "mixed")) {
		cycles = n;
		start(&a, mixer, &t0);
		pthread_join(a, NULL);
		report(t0);
	} else if (!strcmp(argv[1], "exit")) {
		if (pipe(fds))
			return 3;
		start(&a, stuck_main, "stuck-1");
		start(&b, stuck_main, "stuck-2");
		nap(n);
		printf("exiting\n");
		fflush(stdout);
		exit(0);
	} else if (!strcmp(argv[1], "forever")) {
		cycles = 1L << 40;
		start(&a, sleeper, NULL);
		pthread_join(a, NULL);
	} else {
		return usage();
	}
	return 0;
}
