/* How many samples per second the user-space side absorbs, and what each
 * costs: synthetic cpu_sample records, as the BPF program writes them, go
 * through the same path as a capture's (cpu_ingest__record: checks,
 * process lookup, interning, aggregation); then the window is symbolized
 * and written as pprof, as `record` does at its end. User frames are real
 * addresses of this program's functions and libc's, kernel frames real
 * kernel text addresses, so symbolization does its real work.
 *   ingest [RECORDS] [DISTINCT_STACKS] [OUT]    prints key=value lines */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture/profile.h"
#include "capture/ingest.h"
#include "bpf/events.h"
#include "collect/ksym.h"
#include "export/sink.h"
#include "stacks/stacks.h"
#include "symbolize/symbolize.h"

#define REPEATS 5
#define THREADS 16

typedef unsigned fn_t(unsigned);

#define F(n) __attribute__((noinline)) static unsigned f##n(unsigned x) { return x * (n + 3) + 1; }
F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11) F(12) F(13) F(14) F(15)
static fn_t *const fns[] = { f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15 };

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Start time of this process in ns after boot, as BPF reports it. */
static uint64_t self_start_ns(void)
{
	char buf[4096], *p;
	unsigned long long ticks = 0;
	ssize_t n;
	FILE *f = fopen("/proc/self/stat", "r");
	int i;

	if (!f)
		return 0;
	n = (ssize_t)fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n > 0 ? n : 0] = '\0';
	p = strrchr(buf, ')');
	for (i = 0; p && i < 20; i++)
		p = strchr(p + 1, ' ');
	if (p)
		ticks = strtoull(p + 1, NULL, 10);
	return ticks * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* Kernel text bounds from kallsyms, for plausible kernel frames. */
static int kernel_text(uint64_t *lo, uint64_t *hi)
{
	char line[512], name[256], type;
	unsigned long long a;
	FILE *f = fopen("/proc/kallsyms", "r");

	*lo = *hi = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s", &a, &type, name) == 3) {
			if (!strcmp(name, "_stext"))
				*lo = a;
			else if (!strcmp(name, "_etext"))
				*hi = a;
		}
	fclose(f);
	return *lo && *hi > *lo ? 0 : -ENOENT;
}

int main(int argc, char **argv)
{
	size_t records = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
	size_t distinct = argc > 2 ? strtoul(argv[2], NULL, 10) : 5000;
	const char *out = argc > 3 ? argv[3] : "/dev/null";
	struct cpu_sample *pool;
	uint64_t klo, khi, seed = 42, start_ns = self_start_ns();
	double ingest[REPEATS], build[REPEATS];
	struct errmsg e = { "" };
	struct ksym_namer *kn;
	size_t i, j, rep, frames = 0;

	if (!records || !distinct || kernel_text(&klo, &khi)) {
		fprintf(stderr, "ingest: bad arguments or no kernel text in /proc/kallsyms (root?)\n");
		return 2;
	}
	pool = calloc(distinct, sizeof(*pool));
	if (!pool)
		return 1;
	for (i = 0; i < distinct; i++) {
		struct cpu_sample *s = &pool[i];

		s->hdr.type = EV_CPU_SAMPLE;
		s->hdr.size = sizeof(*s);
		s->pid = (uint32_t)getpid();
		s->tid = s->pid + (uint32_t)(i % THREADS);
		s->start_boottime = start_ns;
		snprintf(s->comm, sizeof(s->comm), "ingest");
		snprintf(s->thread_comm, sizeof(s->thread_comm), "worker-%zu", i % THREADS);
		s->kstack_len = (uint32_t)(xorshift(&seed) % 12);
		s->ustack_len = 8 + (uint32_t)(xorshift(&seed) % 32);
		for (j = 0; j < s->kstack_len; j++)
			s->kstack[j] = klo + xorshift(&seed) % (khi - klo);
		for (j = 0; j < s->ustack_len; j++)
			s->ustack[j] = j % 5 == 4 ? (uint64_t)(uintptr_t)malloc + 1 + xorshift(&seed) % 64
						  : (uint64_t)(uintptr_t)fns[xorshift(&seed) % 16] + 1 +
							    xorshift(&seed) % 8;
		frames += s->kstack_len + s->ustack_len;
	}
	if (ksym_namer__new(&kn))
		return 1;
	for (rep = 0; rep < REPEATS; rep++) {
		/* kernel frames named by the kernel per address, as record's are */
		struct symbolizer_opts so = { .kernel_names = ksym_namer__names,
					      .kernel_names_ctx = kn };
		struct symbolizer *sym = symbolizer__new(&so);
		struct stacks t;
		struct cpu_ingest in;
		struct cpu_profile_opts po = { .freq = 99, .duration_nanos = 10000000000 };
		struct profile_stats st;
		struct pprof_profile *p;
		double t0, t1, t2;

		if (!sym || stacks__init(&t, 512u << 20))
			return 1;
		cpu_ingest__init(&in, sym, &t);
		t0 = now();
		for (i = 0; i < records; i++)
			if (cpu_ingest__record(&in, &pool[(i * 7919) % distinct], sizeof(*pool)))
				return 1;
		t1 = now();
		p = cpu_profile__build(&t, sym, &po, &st, &e);
		if (!p || sink__write(p, out, SINK_PPROF, COMPRESS_GZIP, COMPRESS_LEVEL_DEFAULT,
					 NULL, &e)) {
			fprintf(stderr, "ingest: %s\n", e.text);
			return 1;
		}
		t2 = now();
		ingest[rep] = t1 - t0;
		build[rep] = t2 - t1;
		if (in.received != records) {
			fprintf(stderr, "ingest: %" PRIu64 " of %zu records kept\n", in.received, records);
			return 1;
		}
		pprof__free(p);
		stacks__free(&t);
		symbolizer__free(sym);
	}
	ksym_namer__free(kn);
	qsort(ingest, REPEATS, sizeof(double), cmp_double);
	qsort(build, REPEATS, sizeof(double), cmp_double);
	printf("records=%zu\ndistinct_stacks=%zu\nframes_per_stack=%.1f\n", records, distinct,
	       (double)frames / (double)distinct);
	printf("ingest_ns_per_sample=%.1f\n", ingest[REPEATS / 2] * 1e9 / (double)records);
	printf("ingest_samples_per_second=%.0f\n", (double)records / ingest[REPEATS / 2]);
	printf("window_build_write_ms=%.1f\n", build[REPEATS / 2] * 1e3);
	printf("window_ns_per_distinct_stack=%.0f\n", build[REPEATS / 2] * 1e9 / (double)distinct);
	free(pool);
	return 0;
}
