/* What source lines cost the symbolizer: DISTINCT addresses spread over
 * libc's code (Debian's libc6-dbg holds its DWARF, compressed), looked up as
 * a window's distinct frames are (symbolizer__user, once each), with lines
 * off, on with nothing cached (a fresh symbolizer: the debug file opened,
 * every unit indexed on first use), and on again with the answers cached.
 * Each round runs in a fresh child, so its resident memory is its own.
 *   lines [DISTINCT [ROUNDS [ADDRS_OUT]]]   prints key=value lines; writes
 *   the addresses (libc ELF virtual addresses, hex) to ADDRS_OUT for the
 *   peers (addr2line, llvm-symbolizer) */
#include <errno.h>
#include <inttypes.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "symbolize/symbolize.h"

struct text {
	uint64_t base;		/* load bias */
	uint64_t lo, hi;	/* the executable segment, as ELF addresses */
};

static int find_libc(struct dl_phdr_info *info, size_t size, void *ctx)
{
	struct text *t = ctx;
	int i;

	if (!strstr(info->dlpi_name, "/libc.so"))
		return 0;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			t->base = info->dlpi_addr;
			t->lo = ph->p_vaddr;
			t->hi = ph->p_vaddr + ph->p_filesz;
			return 1;
		}
	}
	return 0;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long resident_kib(void)
{
	long pages = 0, size;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &pages) != 2)
		pages = 0;
	fclose(f);
	return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct round {
	double off_s, cold_s, warm_s;	/* all addresses, each pass */
	long off_kib, on_kib;		/* resident growth, lines off and on */
	uint64_t with_lines;		/* addresses answered with lines */
};

static int pass(struct symbolizer *s, int64_t id, const uint64_t *addrs, size_t n, double *secs,
		uint64_t *with_lines)
{
	struct sym_result r;
	double t0 = now();
	size_t i;

	*with_lines = 0;
	for (i = 0; i < n; i++) {
		if (symbolizer__user(s, id, addrs[i], &r))
			return -1;
		*with_lines += r.n_lines > 0;
	}
	*secs = now() - t0;
	return 0;
}

/* One round: lines off, then on (cold, then warm), in this process. */
static int run_round(const uint64_t *addrs, size_t n, struct round *out)
{
	struct symbolizer_opts off = { .no_lines = true }, on = { 0 };
	struct symbolizer *s;
	uint64_t named;
	long before;
	int64_t id;

	before = resident_kib();
	s = symbolizer__new(&off);
	if (!s || (id = symbolizer__proc(s, (uint32_t)getpid(), 0)) < 0 ||
	    pass(s, id, addrs, n, &out->off_s, &named))
		return -1;
	out->off_kib = resident_kib() - before;
	symbolizer__free(s);

	before = resident_kib();
	s = symbolizer__new(&on);
	if (!s || (id = symbolizer__proc(s, (uint32_t)getpid(), 0)) < 0 ||
	    pass(s, id, addrs, n, &out->cold_s, &out->with_lines) ||
	    pass(s, id, addrs, n, &out->warm_s, &named))
		return -1;
	out->on_kib = resident_kib() - before;
	symbolizer__free(s);
	return 0;
}

/* Each round in a child of its own: what it allocates is its own. */
static int fork_round(const uint64_t *addrs, size_t n, struct round *out)
{
	int fds[2], status;
	pid_t pid;
	ssize_t got;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct round r;

		close(fds[0]);
		if (run_round(addrs, n, &r) || write(fds[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	got = read(fds[0], out, sizeof(*out));
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) ||
	    got != sizeof(*out))
		return -1;
	return 0;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 5000;
	size_t rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 5;
	const char *out = argc > 3 ? argv[3] : NULL;
	struct text t = { 0, 0, 0 };
	uint64_t *addrs, seed = 42, with_lines = 0;
	double *off, *cold, *warm, *off_kib, *on_kib;
	size_t i, k;
	FILE *f;

	if (!n || !rounds || !dl_iterate_phdr(find_libc, &t) || t.hi <= t.lo + n) {
		fprintf(stderr, "lines: bad arguments, or no libc mapped\n");
		return 2;
	}
	addrs = calloc(n, sizeof(*addrs));
	off = calloc(rounds, sizeof(double));
	cold = calloc(rounds, sizeof(double));
	warm = calloc(rounds, sizeof(double));
	off_kib = calloc(rounds, sizeof(double));
	on_kib = calloc(rounds, sizeof(double));
	if (!addrs || !off || !cold || !warm || !off_kib || !on_kib)
		return 1;
	/* distinct, spread evenly over the code with a random offset in each
	 * stretch: every unit of libc is touched, the worst case for indexes */
	for (i = 0; i < n; i++) {
		uint64_t stretch = (t.hi - t.lo) / n;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		addrs[i] = t.base + t.lo + i * stretch + seed % stretch;
	}
	qsort(addrs, n, sizeof(*addrs), cmp_u64);
	for (i = 1, k = 1; i < n; i++)
		if (addrs[i] != addrs[k - 1])
			addrs[k++] = addrs[i];
	n = k;
	if (out) {
		f = fopen(out, "w");
		if (!f)
			return 1;
		for (i = 0; i < n; i++)
			fprintf(f, "0x%" PRIx64 "\n", addrs[i] - t.base);
		fclose(f);
	}
	for (i = 0; i < rounds; i++) {
		struct round r;

		if (fork_round(addrs, n, &r)) {
			fprintf(stderr, "lines: round %zu failed\n", i);
			return 1;
		}
		off[i] = r.off_s;
		cold[i] = r.cold_s;
		warm[i] = r.warm_s;
		off_kib[i] = (double)r.off_kib;
		on_kib[i] = (double)r.on_kib;
		with_lines = r.with_lines;
	}
	printf("distinct_addresses=%zu\nwith_lines=%" PRIu64 "\nrounds=%zu\n", n, with_lines, rounds);
	printf("us_per_address_lines_off=%.2f\n", median(off, rounds) * 1e6 / (double)n);
	printf("us_per_address_cold=%.2f\n", median(cold, rounds) * 1e6 / (double)n);
	printf("us_per_address_warm=%.2f\n", median(warm, rounds) * 1e6 / (double)n);
	printf("rss_kib_lines_off=%.0f\nrss_kib_lines_on=%.0f\n", median(off_kib, rounds),
	       median(on_kib, rounds));
	free(addrs);
	free(off);
	free(cold);
	free(warm);
	free(off_kib);
	free(on_kib);
	return 0;
}
