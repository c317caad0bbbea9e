// jit: runs code it wrote itself into anonymous memory, named only by
// /tmp/perf-PID.map, as JITs (V8, the JVM with perf-map-agent) do; or, with
// --vdso, spins on clock_gettime, which runs in the vDSO, after writing the
// vDSO's image to FILE (so a test knows which symbols this kernel's vDSO
// has: with the kvm-clock clocksource the time is read in a local function
// no .dynsym entry covers, with the TSC in clock_gettime itself).
//   jit [SECONDS]                      default 2 s; x86-64 only
//   jit --vdso [SECONDS [FILE]]
// The perf map is left behind, as JITs leave it: the test removes it.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

// push rbp; mov rbp,rsp; mov ecx,100000; 1: dec ecx; jnz 1b; pop rbp; ret
// A frame of its own, so the frame-pointer walk goes on to call_jit.
static const unsigned char spin_code[] = {
	0x55, 0x48, 0x89, 0xe5, 0xb9, 0xa0, 0x86, 0x01, 0x00,
	0xff, 0xc9, 0x75, 0xfc, 0x5d, 0xc3,
};

__attribute__((noinline)) static void call_jit(void (*fn)(void), double end)
{
	volatile int frame = 0;	// a stack frame: gcc keeps rbp set up here

	while (now() < end) {
		fn();
		frame++;
	}
}

__attribute__((noinline)) static void vdso_spin(double end)
{
	volatile int frame = 0;

	while (now() < end)
		frame++;
}

// The vDSO's pages as mapped, from AT_SYSINFO_EHDR to the end of [vdso].
static int dump_vdso(const char *path)
{
	unsigned long base = getauxval(AT_SYSINFO_EHDR), start, end;
	char line[512];
	int found = 0;
	FILE *maps = fopen("/proc/self/maps", "r"), *out;

	if (!base || !maps)
		return -1;
	while (!found && fgets(line, sizeof(line), maps))
		found = strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &start, &end) == 2 &&
			start == base;
	fclose(maps);
	out = found ? fopen(path, "w") : NULL;
	if (!out)
		return -1;
	found = fwrite((const void *)base, 1, end - start, out) == end - start;
	return fclose(out) || !found ? -1 : 0;
}

int main(int argc, char **argv)
{
	int vdso = argc > 1 && !strcmp(argv[1], "--vdso");
	double secs = argc > 1 + vdso ? strtod(argv[1 + vdso], NULL) : 2;
	char path[64];
	void *mem;
	FILE *f;

	if (vdso) {
		if (argc > 3 && dump_vdso(argv[3])) {
			fprintf(stderr, "jit: cannot write the vDSO to %s\n", argv[3]);
			return 1;
		}
		vdso_spin(now() + secs);
		return 0;
	}
#if defined(__x86_64__)
	mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	memcpy(mem, spin_code, sizeof(spin_code));
	if (mprotect(mem, 4096, PROT_READ | PROT_EXEC))
		return 1;
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	f = fopen(path, "w");
	if (!f)
		return 1;
	fprintf(f, "%lx %zx jit_spin_loop\n", (unsigned long)mem, sizeof(spin_code));
	fclose(f);
	call_jit((void (*)(void))mem, now() + secs);
	return 0;
#else
	(void)path;
	(void)mem;
	(void)f;
	fprintf(stderr, "jit: x86-64 only\n");
	return 2;
#endif
}
