/* The pure parts of collect/: CPU lists, ring sizing, and which allocator
 * functions an ELF file defines and where their probes go (files built
 * here from assembly with known prologues). Attaching for real is tested
 * end to end, as root (tests/e2e-record.sh, tests/e2e-heap.sh). */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "collect/collect.h"
#include "collect/heap.h"
#include "collect/internal.h"
#include "collect/offcpu.h"
#include "collect/preload.h"

static void test_cpulist(void **state)
{
	bool on[16];

	assert_int_equal(collect__parse_cpulist("0-1\n", on, 16), 2);
	assert_true(on[0] && on[1] && !on[2]);
	assert_int_equal(collect__parse_cpulist("0,2-4,7\n", on, 16), 5);
	assert_true(on[0] && !on[1] && on[2] && on[4] && !on[5] && on[7]);
	assert_int_equal(collect__parse_cpulist("3", on, 16), 1);
	assert_int_equal(collect__parse_cpulist("", on, 16), -EINVAL);
	assert_int_equal(collect__parse_cpulist("4-2", on, 16), -EINVAL);
	assert_int_equal(collect__parse_cpulist("0-16", on, 16), -EINVAL);
	assert_int_equal(collect__parse_cpulist("a", on, 16), -EINVAL);
	assert_int_equal(collect__parse_cpulist("1-", on, 16), -EINVAL);
	assert_int_equal(collect__parse_cpulist("1;2", on, 16), -EINVAL);
}

static void test_ring_size(void **state)
{
	size_t rec = sizeof(struct cpu_sample), page = 4096, s;

	/* 99 Hz on 2 CPUs: about 1 s of records, a power of two of pages */
	s = collect__ring_size(99, 2, rec, page);
	assert_true(s >= 99 * 2 * rec && s < 2 * 99 * 2 * rec);
	assert_int_equal(s & (s - 1), 0);
	/* grows with the rate and the CPUs */
	assert_true(collect__ring_size(999, 2, rec, page) > s);
	assert_true(collect__ring_size(99, 64, rec, page) > s);
	/* bounded both ways */
	assert_int_equal(collect__ring_size(1, 1, rec, page), COLLECT_MIN_RING);
	assert_int_equal(collect__ring_size(100000, 4096, rec, page), COLLECT_MAX_RING);
}

/* malloc starts with an emulated push; free with test %rdi,%rdi and the
 * memalign/aligned_alloc pair (one function, two names) with a 7-byte
 * cmpb: the probe goes past those. calloc is a local symbol: not ours. */
static const char alloc_asm[] =
	".text\n"
	".globl malloc\n.type malloc,@function\nmalloc:\n push %rbx\n pop %rbx\n xor %eax,%eax\n ret\n"
	".globl free\n.type free,@function\nfree:\n test %rdi,%rdi\n je 1f\n1: ret\n"
	".globl memalign\n.globl aligned_alloc\n.type memalign,@function\n"
	".type aligned_alloc,@function\nmemalign:\naligned_alloc:\n cmpb $0,flag(%rip)\n"
	" je 2f\n2: xor %eax,%eax\n ret\n"
	".type calloc,@function\ncalloc:\n xor %eax,%eax\n ret\n"
	".globl _start\n_start:\n jmp _start\n"
	".data\nflag: .byte 0\n";

static void test_alloc_syms(void **state)
{
	char dir[] = "/tmp/bpprof-allocsyms.XXXXXX", cmd[PATH_MAX * 2], path[PATH_MAX];
	int m = alloc_fn__index("malloc"), f = alloc_fn__index("free"),
	    ma = alloc_fn__index("memalign"), aa = alloc_fn__index("aligned_alloc"),
	    c = alloc_fn__index("calloc");
	struct alloc_syms s;
	FILE *src;

#ifndef __x86_64__
	skip();
#endif
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.s", dir);
	src = fopen(path, "w");
	assert_non_null(src);
	fputs(alloc_asm, src);
	fclose(src);
	snprintf(cmd, sizeof(cmd), "cd %s && cc -shared -nostdlib -o liba.so a.s && "
		 "cc -static -nostdlib -o static a.s && cp static stripped && strip stripped && "
		 "echo notelf > text", dir);
	assert_int_equal(system(cmd), 0);

	/* a shared object: its .dynsym */
	snprintf(path, sizeof(path), "%s/liba.so", dir);
	assert_int_equal(alloc_syms__read_file(path, &s), 0);
	assert_true(s.has_symbols && !s.interp);
	assert_true(s.found[m] && s.found[f] && s.found[ma] && s.found[aa] && !s.found[c]);
	assert_true(!s.alias[aa] || !s.alias[ma]);
	assert_true(s.alias[aa] != s.alias[ma]);	/* one probe for the pair */
	assert_int_equal(s.n, 3);
	assert_true(s.probe[m] == s.off[m]);		/* push: emulated */
	assert_true(s.probe[f] == s.off[f] + 3);	/* past test %rdi,%rdi */
	assert_true(s.probe[ma] == s.off[ma] + 7);	/* past cmpb $0,flag(%rip) */
	assert_true(alloc_syms__allocates(&s));

	/* a static executable: its .symtab; stripped: nothing to probe */
	snprintf(path, sizeof(path), "%s/static", dir);
	assert_int_equal(alloc_syms__read_file(path, &s), 0);
	assert_true(s.found[m] && s.found[f]);
	snprintf(path, sizeof(path), "%s/stripped", dir);
	assert_int_equal(alloc_syms__read_file(path, &s), 0);
	assert_false(s.has_symbols);
	assert_int_equal(s.n, 0);
	assert_false(alloc_syms__allocates(&s));
	snprintf(path, sizeof(path), "%s/text", dir);
	assert_int_equal(alloc_syms__read_file(path, &s), -ENOEXEC);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* The off-CPU ring grows as the threshold lets more waits through; the
 * threshold reads back in the unit it was given in. */
static void test_offcpu_sizing(void **state)
{
	char what[64];

	assert_int_equal(offcpu__ring_waits(OFFCPU_DEFAULT_MIN_NS), OFFCPU_RING_WAITS);
	assert_int_equal(offcpu__ring_waits(10 * OFFCPU_DEFAULT_MIN_NS), OFFCPU_RING_WAITS);
	assert_int_equal(offcpu__ring_waits(OFFCPU_DEFAULT_MIN_NS / 4), 4 * OFFCPU_RING_WAITS);
	assert_int_equal(offcpu__ring_waits(1000), OFFCPU_RING_WAITS_MAX);
	assert_int_equal(offcpu__ring_waits(0), OFFCPU_RING_WAITS_MAX);
	offcpu__describe_min(0, what, sizeof(what));
	assert_string_equal(what, "waits of any length");
	offcpu__describe_min(1000000, what, sizeof(what));
	assert_string_equal(what, "waits of 1 ms or more");
	offcpu__describe_min(250000, what, sizeof(what));
	assert_string_equal(what, "waits of 250 us or more");
	offcpu__describe_min(2000000000, what, sizeof(what));
	assert_string_equal(what, "waits of 2 s or more");
	offcpu__describe_min(1500, what, sizeof(what));
	assert_string_equal(what, "waits of 1500 ns or more");
}

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);

	for (; *env; env++)
		if (!strncmp(*env, name, n) && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* The command's environment: the library first in LD_PRELOAD (so it wraps an
 * allocator the user preloads), the session's settings, nothing else
 * changed, an older PRELOAD_ENV replaced. */
static void test_preload_env(void **state)
{
	char *user[] = { "PATH=/bin", "LD_PRELOAD=/usr/lib/libjemalloc.so.2",
			 PRELOAD_ENV "=1:2:3", "HOME=/root", NULL };
	char *bare[] = { "PATH=/bin", NULL };
	char **env = preload__env(user, "/opt/bpprof/" PRELOAD_LIB, 42, 524288, 262144);
	size_t n = 0;

	assert_non_null(env);
	assert_string_equal(env_get(env, "LD_PRELOAD"),
			    "/opt/bpprof/" PRELOAD_LIB ":/usr/lib/libjemalloc.so.2");
	assert_string_equal(env_get(env, PRELOAD_ENV), "42:524288:262144");
	assert_string_equal(env_get(env, "PATH"), "/bin");
	assert_string_equal(env_get(env, "HOME"), "/root");
	while (env[n])
		n++;
	assert_int_equal(n, 4);
	preload__free_env(env);

	env = preload__env(bare, "/b/" PRELOAD_LIB, 7, 0, 1);
	assert_non_null(env);
	assert_string_equal(env_get(env, "LD_PRELOAD"), "/b/" PRELOAD_LIB);
	assert_string_equal(env_get(env, PRELOAD_ENV), "7:0:1");
	preload__free_env(env);
}

static void test_preload_lib_path(void **state)
{
	char why[PRELOAD_WHY_LEN];

	assert_int_equal(preload__check_lib("/usr/lib/bpprof/" PRELOAD_LIB, why, sizeof(why)), 0);
	/* LD_PRELOAD splits on both */
	assert_int_equal(preload__check_lib("/my dir/" PRELOAD_LIB, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "LD_PRELOAD"));
	assert_int_equal(preload__check_lib("/a:b/" PRELOAD_LIB, why, sizeof(why)), 1);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* What makes a command unfit for preload mode, from files of the test's
 * own: set-id bits (checked before anything is read), scripts followed to
 * their interpreter, and what is neither ELF nor script. */
static void test_preload_command(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], path[PATH_MAX + 16], why[PRELOAD_WHY_LEN];

	snprintf(dir, sizeof(dir), "%s/bpprof-preload-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/suid", dir);
	write_file(path, "#!/nonexistent/interpreter\n", 04755);
	assert_int_equal(preload__check_command(path, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "setuid"));
	snprintf(path, sizeof(path), "%s/sgid", dir);
	write_file(path, "#!/nonexistent/interpreter\n", 02755);
	assert_int_equal(preload__check_command(path, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "setgid"));
	/* an interpreter that is not there: left to the exec to say */
	snprintf(path, sizeof(path), "%s/script", dir);
	write_file(path, "#!  /nonexistent/interpreter -x\necho\n", 0755);
	assert_int_equal(preload__check_command(path, why, sizeof(why)), -ENOENT);
	snprintf(path, sizeof(path), "%s/text", dir);
	write_file(path, "neither ELF nor a script\n", 0755);
	assert_int_equal(preload__check_command(path, why, sizeof(why)), -ENOEXEC);
	/* a script naming a script naming ...: followed so far, no further */
	snprintf(path, sizeof(path), "%s/loop", dir);
	write_file(path, "", 0755);
	{
		char text[sizeof(path) + 8];

		snprintf(text, sizeof(text), "#!%s\n", path);
		write_file(path, text, 0755);
	}
	assert_int_equal(preload__check_command(path, why, sizeof(why)), -ELOOP);
	assert_int_equal(preload__check_command("/nonexistent/command", why, sizeof(why)), -ENOENT);
	for (const char *f = "suid\0sgid\0script\0text\0loop\0"; *f; f += strlen(f) + 1) {
		snprintf(path, sizeof(path), "%s/%s", dir, f);
		unlink(path);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpulist),
		cmocka_unit_test(test_ring_size),
		cmocka_unit_test(test_offcpu_sizing),
		cmocka_unit_test(test_alloc_syms),
		cmocka_unit_test(test_preload_env),
		cmocka_unit_test(test_preload_lib_path),
		cmocka_unit_test(test_preload_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
