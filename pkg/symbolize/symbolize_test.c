/* symbolize: the text parsers on testdata/symbolize fixtures; snapshots of
 * fake processes under a procfs root built at run time around ELF files the
 * test compiles (PIE with symbols, stripped shared objects, a debug file, a
 * deleted binary, a container root, C++). Nothing here reads the host's
 * kernel or libc: those checks are tests/symcheck's, run by the e2e suite. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <gelf.h>

#include "base/buf.h"
#include "symbolize/internal.h"
#include "symbolize/symbolize.h"

#define FIXTURES "testdata/symbolize"

static char tmp[64];	/* the run's scratch directory */
static char proc_root[PATH_MAX];

/* --- helpers --- */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, cmd);
}

static const char *at(char out[PATH_MAX], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *at(char out[PATH_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	return out;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The value of symbol name in file, read with libelf: the oracle the
 * symbolizer's answers are checked against. */
static uint64_t elf_value(const char *file, const char *name)
{
	int fd = open(file, O_RDONLY);
	Elf_Scn *scn = NULL;
	uint64_t v = 0;
	Elf *elf;

	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	while (!v && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t i;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		d = elf_getdata(scn, NULL);
		for (i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;

			if (gelf_getsym(d, (int)i, &sym) && sym.st_value &&
			    (n = elf_strptr(elf, sh.sh_link, sym.st_name)) && !strcmp(n, name))
				v = sym.st_value;
		}
	}
	elf_end(elf);
	close(fd);
	if (!v)
		fail_msg("%s: no symbol %s", file, name);
	return v;
}

/* p_vaddr - p_offset of file's executable segment (the one at file offset
 * off). */
static int64_t exec_seg_delta(const char *file)
{
	int fd = open(file, O_RDONLY);
	int64_t delta = 0;
	size_t i, n;
	Elf *elf;

	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	assert_int_equal(elf_getphdrnum(elf, &n), 0);
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
		    ph.p_vaddr != ph.p_offset)
			delta = (int64_t)(ph.p_vaddr - ph.p_offset);
	}
	elf_end(elf);
	close(fd);
	return delta;
}

/* Appends the /proc/PID/maps lines of file loaded at base, as the kernel
 * would write them: shown is the path column, id the file whose dev:inode
 * the lines carry. With map_files, each executable mapping also gets its
 * map_files entry (a hard link to id). */
static void maps_add_elf(struct buf *b, const char *file, uint64_t base, const char *shown,
			 const char *id, const char *map_files)
{
	int fd = open(file, O_RDONLY);
	struct stat st;
	size_t i, n;
	Elf *elf;

	assert_true(fd >= 0);
	assert_int_equal(stat(id, &st), 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	assert_int_equal(elf_getphdrnum(elf, &n), 0);
	for (i = 0; i < n; i++) {
		uint64_t start, end;
		char link_path[PATH_MAX];
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		start = base + (ph.p_vaddr & ~(uint64_t)0xfff);
		end = base + ((ph.p_vaddr + ph.p_memsz + 0xfff) & ~(uint64_t)0xfff);
		assert_int_equal(buf__appendf(b, "%" PRIx64 "-%" PRIx64 " %c%c%cp %08" PRIx64
					      " %02x:%02x %" PRIu64 "                %s\n",
					      start, end, ph.p_flags & PF_R ? 'r' : '-',
					      ph.p_flags & PF_W ? 'w' : '-', ph.p_flags & PF_X ? 'x' : '-',
					      (uint64_t)(ph.p_offset & ~0xfffull), major(st.st_dev), minor(st.st_dev),
					      (uint64_t)st.st_ino, shown), 0);
		if (map_files && (ph.p_flags & PF_X))
			assert_int_equal(link(id, at(link_path, "%s/%" PRIx64 "-%" PRIx64, map_files,
						     start, end)), 0);
	}
	elf_end(elf);
	close(fd);
}

static void write_stat(uint32_t pid, const char *comm, uint64_t start)
{
	char path[PATH_MAX], text[512];
	int n = snprintf(text, sizeof(text),
			 "%u (%s) S 1 %u %u 0 -1 4194560 10 0 0 0 1 2 0 0 20 0 1 0 %" PRIu64
			 " 1000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0"
			 " 0 0 0 0 0 0 0\n", pid, comm, pid, pid, start);

	write_file(at(path, "%s/%u/stat", proc_root, pid), text, (size_t)n);
}

/* proc/PID with stat, status (NSpid) and an empty root directory, which
 * is reached through a symlink as /proc/PID/root is. */
static void fake_proc(uint32_t pid, uint64_t start, uint32_t nspid)
{
	char path[PATH_MAX], text[256];
	int n;

	sh("mkdir -p %s/%u/map_files %s/roots/%u", proc_root, pid, tmp, pid);
	sh("ln -sfn %s/roots/%u %s/%u/root", tmp, pid, proc_root, pid);
	write_stat(pid, "fake app", start);
	n = snprintf(text, sizeof(text), "Name:\tfake app\nTgid:\t%u\nPid:\t%u\nNSpid:\t%u\t%u\n",
		     pid, pid, pid, nspid);
	write_file(at(path, "%s/%u/status", proc_root, pid), text, (size_t)n);
}

static const char *root_of(char out[PATH_MAX], uint32_t pid, const char *path)
{
	return at(out, "%s/roots/%u%s", tmp, pid, path);
}

/* Puts file at path in pid's root. */
static void install(uint32_t pid, const char *file, const char *path)
{
	char dst[PATH_MAX];

	root_of(dst, pid, path);
	sh("mkdir -p \"$(dirname '%s')\" && cp '%s' '%s'", dst, file, dst);
}

static void write_maps(uint32_t pid, const struct buf *b)
{
	char path[PATH_MAX];

	write_file(at(path, "%s/%u/maps", proc_root, pid), b->data, b->len);
}

static struct symbolizer *fake_symbolizer(bool no_demangle)
{
	struct symbolizer_opts o = {
		.proc_root = proc_root,
		.kallsyms = FIXTURES "/kallsyms",
		.no_demangle = no_demangle,
	};
	struct symbolizer *s = symbolizer__new(&o);

	assert_non_null(s);
	return s;
}

static void expect_name(struct symbolizer *s, int64_t id, uint64_t addr, const char *name)
{
	struct sym_result r;

	assert_int_equal(symbolizer__user(s, id, addr, &r), 0);
	if (!r.name)
		fail_msg("0x%" PRIx64 ": no name, %s expected", addr, name);
	assert_string_equal(r.name, name);
}

static char build[PATH_MAX];	/* compiled ELF files */

static const char *built(char out[PATH_MAX], const char *name)
{
	return at(out, "%s/%s", build, name);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	static const char prog[] =
		"__attribute__((noinline)) int prog_alpha(int x) { return x * 3 + 1; }\n"
		"__attribute__((noinline)) static int prog_hidden(int x) { return x ^ 0x55; }\n"
		"__attribute__((noinline)) int prog_beta(int x) { return prog_hidden(x) + prog_alpha(x); }\n"
		"int main(int argc, char **argv) { (void)argv; return prog_beta(argc); }\n";
	static const char lib[] =
		"__attribute__((noinline)) int lib_exported_one(int x) { return x + 1; }\n"
		"__attribute__((noinline)) int lib_exported_two(int x) { return lib_exported_one(x) * 2; }\n"
		"__attribute__((noinline)) static int lib_internal(int x) { return x - 7; }\n"
		"int (*lib_keep)(int) = lib_internal;\n";
	static const char cxx[] =
		"namespace ns {\n"
		"struct Widget { int spin(int x) const; };\n"
		"__attribute__((noinline)) int Widget::spin(int x) const { return x * 7; }\n"
		"__attribute__((noinline)) int twice(int x, double y) { return x * (int)y; }\n"
		"}\n";
	char path[PATH_MAX];

	elf_version(EV_CURRENT);
	snprintf(tmp, sizeof(tmp), "/tmp/bpprof-sym-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	at(proc_root, "%s/proc", tmp);
	at(build, "%s/build", tmp);
	sh("mkdir -p %s %s", proc_root, build);
	write_file(built(path, "prog.c"), prog, sizeof(prog) - 1);
	write_file(built(path, "lib.c"), lib, sizeof(lib) - 1);
	write_file(built(path, "cxx.cc"), cxx, sizeof(cxx) - 1);
	/* -Ttext moves the code to a virtual address its file offset is not:
	 * only the PT_LOAD translation finds its symbols */
	sh("cd %s && cc -O0 -fPIE -pie -Wl,--build-id=sha1 -Wl,-z,noseparate-code "
	   "-Wl,-Ttext=0x3000 -o prog prog.c", build);
	sh("cd %s && strip -o prog-stripped prog && objcopy --only-keep-debug prog prog.debug", build);
	sh("cd %s && cc -O0 -shared -fPIC -Wl,--build-id=sha1 -o libx.so lib.c && "
	   "strip -o libx-stripped.so libx.so", build);
	sh("cd %s && g++ -O0 -shared -fPIC -Wl,--build-id=sha1 -o libcxx.so cxx.cc", build);
	return 0;
}

static int teardown(void **state)
{
	return nftw(tmp, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- kallsyms --- */

static void test_kallsyms_fixture(void **state)
{
	struct symbolizer *s = fake_symbolizer(false);
	struct symbolizer_stats st;
	struct sym_result r;
	static const struct {
		uint64_t addr;
		const char *name;
	} cases[] = {
		{ 0xffffffff80ffffffull, NULL },			/* below the first */
		{ 0xffffffff81000005ull, "srso_alias_untrain_ret" },	/* T, fewest '_' */
		{ 0xffffffff81000fefull, "srso_alias_untrain_ret" },
		{ 0xffffffff81000ff8ull, "do_one" },			/* its padding */
		{ 0xffffffff81001050ull, "do_one" },
		{ 0xffffffff81001200ull, "local_two" },
		{ 0xffffffff81001450ull, "local_alias_of_three" },	/* t over W; data skipped */
		{ 0xffffffff81001510ull, "mycrate::util::bar" },	/* Rust v0 */
		{ 0xffffffff81001650ull, "__pfx_lonely" },		/* padding of nothing */
		{ 0xffffffff81011fffull, "_etext" },
		{ 0xffffffff81012000ull, NULL },			/* past KSYM_MAX_EXTENT */
		{ 0xffffffff82002000ull, NULL },
		/* a label (_sinittext) at the start of a function's padding:
		 * the bytes there are the function's */
		{ 0xffffffff83575000ull, "set_reset_devices" },
		{ 0xffffffff83575010ull, "set_reset_devices" },
		{ 0xffffffffc0000ff4ull, "mod_a_func [mod_a]" },	/* unsorted module lines */
		{ 0xffffffffc0001100ull, "mod_a_other [mod_a]" },
		{ 0xffffffffc0002010ull, "mod_b_func [mod_b]" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(symbolizer__kernel(s, cases[i].addr, &r), 0);
		assert_non_null(r.map);
		assert_string_equal(r.map->path, "[kernel.kallsyms]");
		if (!cases[i].name) {
			assert_null(r.name);
			continue;
		}
		if (!r.name)
			fail_msg("0x%" PRIx64 ": no name", cases[i].addr);
		assert_string_equal(r.name, cases[i].name);
	}
	assert_int_equal(symbolizer__kernel(s, 0xffffffff81001510ull, &r), 0);
	assert_string_equal(r.system_name, "_RNvNtCs1234_7mycrate4util3bar");
	assert_true(r.map->has_symbols);
	assert_int_equal(r.map->start, 0xffffffff81000000ull);
	assert_int_equal(r.map->limit, 0xffffffffc0002000ull + KSYM_MAX_EXTENT);
	symbolizer__stats(s, &st);
	assert_int_equal(st.kernel_symbols, 13);
	assert_int_equal(symbolizer__ksyms(s)->bad_lines, 2);
	symbolizer__free(s);
}

/* The kernel's %pS answers, named as kallsyms lines are. */
static void test_parse_ps(void **state)
{
	static const struct {
		const char *text, *name;	/* name NULL: no symbol; "!": refused */
	} cases[] = {
		{ "do_syscall_64+0x5d/0xf0", "do_syscall_64" },
		{ "ext4_file_read_iter+0x10/0x1a0 [ext4]", "ext4_file_read_iter [ext4]" },
		{ "nvme_irq+0x0/0x40 [nvme 0123abcd]", "nvme_irq [nvme]" },
		{ "bpf_prog_6deef7357e7b4530_on_cpu_sample+0x42/0x12a", "bpf_prog_6deef7357e7b4530_on_cpu_sample [bpf]" },
		{ "bpf_prog_6deef7357e7b4530+0x0/0x10", "bpf_prog_6deef7357e7b4530 [bpf]" },
		{ "bpf_prog_put+0x1/0x90", "bpf_prog_put" },	/* the kernel's own */
		{ "__pfx_set_reset_devices+0x3/0x10", "set_reset_devices" },
		{ "a+b+0x1/0x2", "a+b" },
		{ "0xffffffffc0201000", NULL },
		{ "0xzz", "!" },
		{ "no_offset", "!" },
		{ "f+0x1", "!" },
		{ "f+0x1/0x", "!" },
		{ "+0x1/0x2", "!" },
		{ "f+0x1/0x2 []", "!" },
		{ "f+0x1/0x2 mod]", "!" },
		{ "", "!" },
	};
	char out[KSYM_NAME_MAX + 64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int len = ksyms__parse_ps(cases[i].text, out, sizeof(out));

		if (!cases[i].name) {
			assert_int_equal(len, 0);
		} else if (!strcmp(cases[i].name, "!")) {
			if (len != -EINVAL)
				fail_msg("'%s': %d, want -EINVAL", cases[i].text, len);
		} else {
			if (len <= 0)
				fail_msg("'%s': %d", cases[i].text, len);
			assert_string_equal(out, cases[i].name);
			assert_int_equal(len, strlen(cases[i].name));
		}
	}
	assert_int_equal(ksyms__parse_ps("do_syscall_64+0x5d/0xf0", out, 13), -ENAMETOOLONG);
	assert_int_equal(ksyms__parse_ps("do_syscall_64+0x5d/0xf0", out, 14), 13);
}

/* A kernel that names addresses on request (a symbol every 0x100 bytes
 * from 0xffffffff81000000, none past 0xffffffff82000000), counting what it
 * is asked; failing from the call `fail_at` on. */
struct fake_kernel {
	unsigned calls, fail_at;
	size_t asked, most;
	char text[SYM_KERNEL_BATCH][64];
};

static int fake_names(void *ctx, const uint64_t *addrs, size_t n, const char **out,
		      uint64_t *text_start)
{
	struct fake_kernel *k = ctx;
	size_t i;

	if (++k->calls >= k->fail_at)
		return -EPERM;
	assert_true(n >= 1 && n <= SYM_KERNEL_BATCH);
	k->asked += n;
	k->most = n > k->most ? n : k->most;
	for (i = 0; i < n; i++) {
		if (addrs[i] >= 0xffffffff82000000ull)
			snprintf(k->text[i], sizeof(k->text[i]), "0x%" PRIx64, addrs[i]);
		else
			snprintf(k->text[i], sizeof(k->text[i]), "fn_%" PRIx64 "+0x%" PRIx64 "/0x100",
				 (addrs[i] >> 8) & 0xffff, addrs[i] & 0xff);
		out[i] = k->text[i];
	}
	*text_start = 0xffffffff81000000ull;
	return 0;
}

static void test_kernel_names(void **state)
{
	struct fake_kernel k = { .fail_at = 1000 };
	struct symbolizer_opts o = { .proc_root = proc_root, .kallsyms = FIXTURES "/kallsyms",
				     .kernel_names = fake_names, .kernel_names_ctx = &k };
	struct symbolizer *s = symbolizer__new(&o);
	uint64_t addrs[1000];
	struct sym_result r;
	size_t i;

	assert_non_null(s);
	/* 1,000 frames of 300 distinct addresses: 300 asked, 128 a call */
	for (i = 0; i < 1000; i++)
		addrs[i] = 0xffffffff81000000ull + (i % 300) * 0x100 + 0x10;
	assert_int_equal(symbolizer__kernel_batch(s, addrs, 1000), 0);
	assert_int_equal(k.asked, 300);
	assert_int_equal(k.calls, 3);
	assert_int_equal(k.most, SYM_KERNEL_BATCH);
	for (i = 0; i < 300; i++) {
		char want[32];

		assert_int_equal(symbolizer__kernel(s, addrs[i], &r), 0);
		snprintf(want, sizeof(want), "fn_%zx", (size_t)(0x10000 + i) & 0xffff);
		assert_non_null(r.name);
		assert_string_equal(r.name, want);
	}
	assert_int_equal(k.calls, 3);		/* from the cache */
	assert_true(r.map->has_symbols);
	assert_int_equal(r.map->start, 0xffffffff81000000ull);
	/* one not seen before is asked alone; one without a symbol stays unnamed */
	assert_int_equal(symbolizer__kernel(s, 0xffffffff81abcd00ull, &r), 0);
	assert_string_equal(r.name, "fn_abcd");
	assert_int_equal(symbolizer__kernel(s, 0xffffffff82000010ull, &r), 0);
	assert_null(r.name);
	assert_int_equal(k.calls, 5);
	/* the kernel refuses: kallsyms (the fixture) from then on */
	k.fail_at = k.calls + 1;
	assert_int_equal(symbolizer__kernel(s, 0xffffffff81001450ull, &r), 0);
	assert_string_equal(r.name, "local_alias_of_three");
	assert_int_equal(r.map->limit, 0xffffffffc0002000ull + KSYM_MAX_EXTENT);
	assert_int_equal(k.calls, 6);
	assert_int_equal(symbolizer__kernel(s, 0xffffffff81000010ull, &r), 0);
	assert_string_equal(r.name, "srso_alias_untrain_ret");
	assert_int_equal(symbolizer__kernel_batch(s, addrs, 10), 0);
	assert_int_equal(k.calls, 6);		/* not asked again */
	symbolizer__free(s);
}

/* Past KNAME_MAX_ENTRIES the kernel is asked no more: kallsyms instead,
 * and a name handed out before stays valid. */
static void test_kernel_names_full(void **state)
{
	struct fake_kernel k = { .fail_at = UINT32_MAX };
	struct symbolizer_opts o = { .proc_root = proc_root, .kallsyms = FIXTURES "/kallsyms",
				     .kernel_names = fake_names, .kernel_names_ctx = &k };
	struct symbolizer *s = symbolizer__new(&o);
	size_t i, n = KNAME_MAX_ENTRIES + 10;
	uint64_t *addrs = malloc(n * sizeof(*addrs));
	struct sym_result r;
	const char *before;

	assert_non_null(s);
	assert_non_null(addrs);
	for (i = 0; i < n; i++)
		addrs[i] = 0xffffffff81000000ull + i * 0x10;
	assert_int_equal(symbolizer__kernel(s, addrs[0], &r), 0);
	before = r.name;
	assert_string_equal(before, "fn_0");
	assert_int_equal(symbolizer__kernel_batch(s, addrs, n), 0);
	assert_int_equal(k.asked, KNAME_MAX_ENTRIES);
	assert_int_equal(symbolizer__kernel(s, 0xffffffff81000005ull, &r), 0);
	assert_non_null(r.name);
	assert_string_equal(r.name, "srso_alias_untrain_ret");	/* the fixture's */
	assert_int_equal(k.asked, KNAME_MAX_ENTRIES);
	assert_string_equal(before, "fn_0");
	symbolizer__free(s);
	free(addrs);
}

static void test_kallsyms_restricted(void **state)
{
	struct symbolizer_opts o = { .proc_root = proc_root, .kallsyms = FIXTURES "/kallsyms-restricted" };
	struct symbolizer *s = symbolizer__new(&o);
	struct symbolizer_stats st;
	struct sym_result r;

	assert_non_null(s);
	assert_int_equal(symbolizer__kernel(s, 0xffffffff81001000ull, &r), 0);
	assert_null(r.name);
	assert_non_null(r.map);
	assert_false(r.map->has_symbols);
	symbolizer__stats(s, &st);
	assert_int_equal(st.kernel_symbols, 0);
	assert_int_equal(symbolizer__ksyms(s)->zero_addrs, 3);
	symbolizer__free(s);

	/* no kallsyms at all: still a kernel mapping, no names */
	o.kallsyms = FIXTURES "/no-such-kallsyms";
	s = symbolizer__new(&o);
	assert_non_null(s);
	assert_int_equal(symbolizer__kernel(s, 0xffffffff81001000ull, &r), 0);
	assert_null(r.name);
	assert_non_null(r.map);
	symbolizer__free(s);
}

/* --- parsers --- */

static void test_perfmap_parse(void **state)
{
	struct perfmap pm;
	struct buf b = BUF_INIT(0);
	char path[PATH_MAX];
	int fd = open(FIXTURES "/perf-4242.map", O_RDONLY);
	size_t i;

	assert_true(fd >= 0);
	assert_int_equal(perfmap__load_fd(&pm, fd), 0);
	close(fd);
	assert_int_equal(pm.bad_lines, 6);
	assert_int_equal(pm.n, 5);
	assert_string_equal(perfmap__find(&pm, 0x1000), "jit_alpha");
	assert_string_equal(perfmap__find(&pm, 0x10ff), "jit_alpha");
	assert_string_equal(perfmap__find(&pm, 0x1100), "jit beta with spaces");
	assert_null(perfmap__find(&pm, 0x1180));
	assert_string_equal(perfmap__find(&pm, 0x1510), "Lua::function(int)");
	assert_string_equal(perfmap__find(&pm, 0x2010), "LaterAt2000");	/* the later line */
	assert_null(perfmap__find(&pm, 0x2080));
	assert_string_equal(perfmap__find(&pm, 0x3000), "after_carriage_return");
	assert_null(perfmap__find(&pm, 0xfff));
	perfmap__free(&pm);

	/* a line longer than the read buffer is skipped, the next one kept */
	assert_int_equal(buf__append(&b, "10 10 ", 6), 0);
	for (i = 0; i < SYM_LINE_CHUNK + 10; i++)
		assert_int_equal(buf__append(&b, "x", 1), 0);
	assert_int_equal(buf__appendf(&b, "\n20 10 short\n"), 0);
	write_file(at(path, "%s/long.map", tmp), b.data, b.len);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(perfmap__load_fd(&pm, fd), 0);
	close(fd);
	assert_int_equal(pm.n, 1);
	assert_int_equal(pm.bad_lines, 1);
	assert_string_equal(perfmap__find(&pm, 0x25), "short");
	perfmap__free(&pm);
	buf__free(&b);
}

/* --- snapshots on fixtures --- */

static void test_pid_reuse_and_gone(void **state)
{
	struct symbolizer_opts o = { .proc_root = FIXTURES "/proc" };
	struct symbolizer *s = symbolizer__new(&o);
	struct symbolizer_stats st;
	struct sym_result r;
	int64_t a, b, c, d;

	assert_non_null(s);
	a = symbolizer__proc(s, 100, 5000);
	b = symbolizer__proc(s, 100, 4000);	/* another process had pid 100 */
	c = symbolizer__proc(s, 101, 77);	/* gone: no /proc/101 */
	assert_true(a >= 0 && b >= 0 && c >= 0);
	assert_true(a != b && b != c && a != c);
	assert_int_equal(symbolizer__proc(s, 100, 5000), a);
	assert_int_equal(symbolizer__proc(s, 100, 4000), b);
	assert_int_equal(symbolizer__proc(s, 101, 77), c);
	d = symbolizer__proc(s, 100, 0);	/* no start time: no check */
	assert_true(d >= 0 && d != a);

	/* mapped, but the file is not there: a mapping without a name */
	assert_int_equal(symbolizer__user(s, a, 0x5555555b0100ull, &r), 0);
	assert_non_null(r.map);
	assert_null(r.name);
	assert_string_equal(r.map->path, "/usr/sbin/bpprof-fixture-server");
	assert_int_equal(r.map->offset, 0x10000);
	assert_false(r.map->has_symbols);
	assert_string_equal(r.map->build_id, "");
	assert_int_equal(symbolizer__user(s, d, 0x5555555b0100ull, &r), 0);
	assert_non_null(r.map);
	assert_int_equal(symbolizer__user(s, a, 0x7f0000200010ull, &r), 0);
	assert_string_equal(r.map->path, "[anon]");
	assert_int_equal(symbolizer__user(s, a, 0x7ffc00000010ull, &r), 0);
	assert_string_equal(r.map->path, "[vsyscall-not-really]");
	assert_int_equal(symbolizer__user(s, a, 0x5555555a0100ull, &r), 0);	/* r--p */
	assert_null(r.map);

	/* the reused and the gone pid have no mappings */
	assert_int_equal(symbolizer__user(s, b, 0x5555555b0100ull, &r), 0);
	assert_null(r.map);
	assert_int_equal(symbolizer__user(s, c, 0x5555555b0100ull, &r), 0);
	assert_null(r.map);
	assert_int_equal(symbolizer__user(s, 12345, 0x1000, &r), -EINVAL);
	assert_null(r.name);

	symbolizer__stats(s, &st);
	assert_int_equal(st.procs, 4);
	assert_int_equal(st.procs_gone, 2);
	assert_int_equal(st.files, 0);
	assert_int_equal(st.files_failed, 2);	/* two files, each tried once */
	symbolizer__free(s);
}

/* --- snapshots of fake processes around real ELF files --- */

/* A PIE whose code sits at a virtual address unlike its file offset, in a
 * container root only, with .symtab: functions, a static one, offsets
 * inside them, and the gaps. */
static void test_container_pie(void **state)
{
	const uint32_t pid = 4242;
	const uint64_t base = 0x555555000000ull;
	struct buf b = BUF_INIT(0);
	char prog[PATH_MAX], inroot[PATH_MAX];
	struct symbolizer *s;
	struct symbolizer_stats st;
	struct sym_result r;
	uint64_t alpha, hidden, beta;
	int64_t id;
	size_t i;

	built(prog, "prog");
	assert_true(exec_seg_delta(prog) != 0);
	fake_proc(pid, 1000, pid);
	install(pid, prog, "/opt/bpprof-test/app");
	maps_add_elf(&b, prog, base, "/opt/bpprof-test/app",
		     root_of(inroot, pid, "/opt/bpprof-test/app"), NULL);
	write_maps(pid, &b);
	alpha = elf_value(prog, "prog_alpha");
	hidden = elf_value(prog, "prog_hidden");
	beta = elf_value(prog, "prog_beta");

	s = fake_symbolizer(false);
	id = symbolizer__proc(s, pid, 1000);
	assert_true(id >= 0);
	expect_name(s, id, base + alpha, "prog_alpha");
	expect_name(s, id, base + alpha + 3, "prog_alpha");
	expect_name(s, id, base + hidden + 1, "prog_hidden");
	expect_name(s, id, base + beta, "prog_beta");
	assert_int_equal(symbolizer__user(s, id, base + beta, &r), 0);
	assert_string_equal(r.system_name, "prog_beta");
	assert_string_equal(r.map->path, "/opt/bpprof-test/app");
	assert_true(r.map->has_symbols);
	assert_int_equal(strlen(r.map->build_id), 40);
	for (i = 0; i < 40; i++)
		assert_non_null(strchr("0123456789abcdef", r.map->build_id[i]));
	/* the ELF header: mapped, executable, no function */
	assert_int_equal(symbolizer__user(s, id, base + 0x10, &r), 0);
	assert_non_null(r.map);
	assert_null(r.name);
	assert_int_equal(symbolizer__user(s, id, 0x1000, &r), 0);
	assert_null(r.map);
	symbolizer__stats(s, &st);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.files_failed, 0);
	assert_int_equal(st.procs_gone, 0);
	symbolizer__free(s);
	buf__free(&b);
}

/* A stripped shared object keeps its exported functions in .dynsym; its
 * static function has no name left, only its mapping. */
static void test_stripped_dynsym(void **state)
{
	const uint32_t pid = 4243;
	const uint64_t base = 0x7f1000000000ull;
	struct buf b = BUF_INIT(0);
	char lib[PATH_MAX], full[PATH_MAX], inroot[PATH_MAX];
	struct symbolizer *s;
	struct sym_result r;
	int64_t id;

	built(lib, "libx-stripped.so");
	built(full, "libx.so");
	fake_proc(pid, 2000, pid);
	install(pid, lib, "/usr/lib/libx.so.1");
	maps_add_elf(&b, lib, base, "/usr/lib/libx.so.1", root_of(inroot, pid, "/usr/lib/libx.so.1"),
		     NULL);
	write_maps(pid, &b);

	s = fake_symbolizer(false);
	id = symbolizer__proc(s, pid, 2000);
	assert_true(id >= 0);
	expect_name(s, id, base + elf_value(lib, "lib_exported_two") + 2, "lib_exported_two");
	expect_name(s, id, base + elf_value(lib, "lib_exported_one"), "lib_exported_one");
	assert_int_equal(symbolizer__user(s, id, base + elf_value(full, "lib_internal") + 1, &r), 0);
	assert_non_null(r.map);
	assert_null(r.name);
	assert_true(r.map->has_symbols);
	symbolizer__free(s);
	buf__free(&b);
}

/* A stripped executable whose .symtab is in a Debian debug file under
 * the process's root. */
static void test_debug_file(void **state)
{
	const uint32_t pid = 4244;
	const uint64_t base = 0x555566000000ull;
	struct buf b = BUF_INIT(0);
	char stripped[PATH_MAX], full[PATH_MAX], dbg[PATH_MAX], inroot[PATH_MAX], dest[PATH_MAX];
	struct symbolizer *s;
	struct sym_result r;
	int64_t id;

	built(stripped, "prog-stripped");
	built(full, "prog");
	built(dbg, "prog.debug");
	fake_proc(pid, 3000, pid);
	install(pid, stripped, "/usr/bin/prog");
	maps_add_elf(&b, stripped, base, "/usr/bin/prog", root_of(inroot, pid, "/usr/bin/prog"), NULL);
	write_maps(pid, &b);

	/* without the debug file: .dynsym of a PIE has no prog_hidden */
	s = fake_symbolizer(false);
	id = symbolizer__proc(s, pid, 3000);
	assert_int_equal(symbolizer__user(s, id, base + elf_value(full, "prog_hidden"), &r), 0);
	assert_non_null(r.map);
	assert_null(r.name);
	/* build-id from the file's note, named as the debug file will be */
	at(dest, "/usr/lib/debug/.build-id/%.2s/%s.debug", r.map->build_id, r.map->build_id + 2);
	symbolizer__free(s);

	install(pid, dbg, dest);
	s = fake_symbolizer(false);
	id = symbolizer__proc(s, pid, 3000);
	expect_name(s, id, base + elf_value(full, "prog_hidden"), "prog_hidden");
	expect_name(s, id, base + elf_value(full, "prog_alpha") + 1, "prog_alpha");
	symbolizer__free(s);
	buf__free(&b);
}

/* The binary was deleted after the process started: only
 * /proc/PID/map_files still has it. */
static void test_deleted_map_files(void **state)
{
	const uint32_t pid = 4245;
	const uint64_t base = 0x555577000000ull;
	struct buf b = BUF_INIT(0);
	char prog[PATH_MAX], copy[PATH_MAX], mf[PATH_MAX];
	struct symbolizer *s;
	struct symbolizer_stats st;
	struct sym_result r;
	int64_t id;

	built(prog, "prog");
	fake_proc(pid, 4000, pid);
	sh("cp %s %s/gone-copy", prog, tmp);
	at(copy, "%s/gone-copy", tmp);
	at(mf, "%s/%u/map_files", proc_root, pid);
	maps_add_elf(&b, prog, base, "/usr/bin/gone (deleted)", copy, mf);
	write_maps(pid, &b);

	s = fake_symbolizer(false);
	id = symbolizer__proc(s, pid, 4000);
	expect_name(s, id, base + elf_value(prog, "prog_alpha") + 1, "prog_alpha");
	assert_int_equal(symbolizer__user(s, id, base + elf_value(prog, "prog_beta"), &r), 0);
	assert_string_equal(r.map->path, "/usr/bin/gone");
	symbolizer__stats(s, &st);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.files_failed, 0);
	symbolizer__free(s);
	buf__free(&b);
}

/* The path now holds another file (another inode): map_files has the one
 * the process mapped. */
static void test_replaced_file(void **state)
{
	const uint32_t pid = 4246;
	const uint64_t base = 0x7f2000000000ull;
	struct buf b = BUF_INIT(0);
	char lib[PATH_MAX], other[PATH_MAX], copy[PATH_MAX], mf[PATH_MAX];
	struct symbolizer *s;
	int64_t id;

	built(lib, "libx-stripped.so");
	built(other, "libcxx.so");
	fake_proc(pid, 5000, pid);
	install(pid, other, "/usr/lib/libx.so.1");
	sh("cp %s %s/replaced-copy", lib, tmp);
	at(copy, "%s/replaced-copy", tmp);
	at(mf, "%s/%u/map_files", proc_root, pid);
	maps_add_elf(&b, lib, base, "/usr/lib/libx.so.1", copy, mf);
	write_maps(pid, &b);

	s = fake_symbolizer(false);
	id = symbolizer__proc(s, pid, 5000);
	expect_name(s, id, base + elf_value(lib, "lib_exported_two"), "lib_exported_two");
	symbolizer__free(s);
	buf__free(&b);
}

/* Two copies of one file (two inodes, one build-id) share one table. */
static void test_build_id_dedupe(void **state)
{
	const uint32_t pid = 4247;
	const uint64_t base1 = 0x7f3000000000ull, base2 = 0x7f3100000000ull;
	struct buf b = BUF_INIT(0);
	char lib[PATH_MAX], in1[PATH_MAX], in2[PATH_MAX];
	struct symbolizer *s;
	struct symbolizer_stats st;
	struct sym_result r1, r2;
	uint64_t two;
	int64_t id;

	built(lib, "libx-stripped.so");
	two = elf_value(lib, "lib_exported_two");
	fake_proc(pid, 6000, pid);
	install(pid, lib, "/usr/lib/a/libx.so");
	install(pid, lib, "/usr/lib/b/libx.so");
	maps_add_elf(&b, lib, base1, "/usr/lib/a/libx.so", root_of(in1, pid, "/usr/lib/a/libx.so"), NULL);
	maps_add_elf(&b, lib, base2, "/usr/lib/b/libx.so", root_of(in2, pid, "/usr/lib/b/libx.so"), NULL);
	write_maps(pid, &b);

	s = fake_symbolizer(false);
	id = symbolizer__proc(s, pid, 6000);
	assert_int_equal(symbolizer__user(s, id, base1 + two, &r1), 0);
	assert_int_equal(symbolizer__user(s, id, base2 + two, &r2), 0);
	assert_string_equal(r1.name, "lib_exported_two");
	assert_ptr_equal(r1.name, r2.name);	/* one table */
	assert_string_equal(r1.map->path, "/usr/lib/a/libx.so");
	assert_string_equal(r2.map->path, "/usr/lib/b/libx.so");
	assert_string_equal(r1.map->build_id, r2.map->build_id);
	symbolizer__stats(s, &st);
	assert_int_equal(st.files, 2);
	assert_int_equal(symbolizer__n_symtabs(s), 1);
	symbolizer__free(s);
	buf__free(&b);
}

static void test_cxx_demangle(void **state)
{
	const uint32_t pid = 4248;
	const uint64_t base = 0x7f4000000000ull;
	struct buf b = BUF_INIT(0);
	char lib[PATH_MAX], inroot[PATH_MAX];
	struct symbolizer *s;
	struct sym_result r, again;
	int64_t id;

	built(lib, "libcxx.so");
	fake_proc(pid, 7000, pid);
	install(pid, lib, "/usr/lib/libcxx.so");
	maps_add_elf(&b, lib, base, "/usr/lib/libcxx.so", root_of(inroot, pid, "/usr/lib/libcxx.so"), NULL);
	write_maps(pid, &b);

	s = fake_symbolizer(false);
	id = symbolizer__proc(s, pid, 7000);
	assert_int_equal(symbolizer__user(s, id, base + elf_value(lib, "_ZN2ns5twiceEid") + 1, &r), 0);
	assert_string_equal(r.name, "ns::twice(int, double)");
	assert_string_equal(r.system_name, "_ZN2ns5twiceEid");
	assert_int_equal(symbolizer__user(s, id, base + elf_value(lib, "_ZN2ns5twiceEid"), &again), 0);
	assert_ptr_equal(r.name, again.name);	/* demangled once, cached */
	expect_name(s, id, base + elf_value(lib, "_ZNK2ns6Widget4spinEi"), "ns::Widget::spin(int) const");
	symbolizer__free(s);

	s = fake_symbolizer(true);
	id = symbolizer__proc(s, pid, 7000);
	expect_name(s, id, base + elf_value(lib, "_ZN2ns5twiceEid"), "_ZN2ns5twiceEid");
	symbolizer__free(s);
	buf__free(&b);
}

/* The build-id of file, as readelf would print it. */
static void build_id_of(const char *file, char out[BUILD_ID_MAX * 2 + 1])
{
	int fd = open(file, O_RDONLY);
	struct elf_info ei;
	Elf *elf;

	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_int_equal(elfinfo__read(elf, &ei), 0);
	snprintf(out, BUILD_ID_MAX * 2 + 1, "%s", ei.build_id);
	elf_end(elf);
	close(fd);
}

/* Files named by path, as a profile's mappings name them (convert
 * --symbolize): by file offset, the same tables and demangling as
 * processes get, and never a file of another build. */
static void test_file_by_path(void **state)
{
	char prog[PATH_MAX], lib[PATH_MAX], cxx[PATH_MAX], id[BUILD_ID_MAX * 2 + 1];
	int64_t delta, f, again;
	struct sym_result r;
	struct symbolizer *s = fake_symbolizer(false);

	built(prog, "prog");
	built(lib, "libx-stripped.so");
	built(cxx, "libcxx.so");
	delta = exec_seg_delta(prog);
	build_id_of(prog, id);
	f = symbolizer__open_file(s, prog, id);
	assert_true(f >= 0);
	assert_int_equal(symbolizer__file(s, f, elf_value(prog, "prog_alpha") - delta + 2, &r), 0);
	assert_string_equal(r.name, "prog_alpha");
	assert_null(r.map);
	assert_int_equal(symbolizer__file(s, f, elf_value(prog, "prog_hidden") - delta, &r), 0);
	assert_string_equal(r.name, "prog_hidden");
	again = symbolizer__open_file(s, prog, NULL);
	assert_int_equal(again, f);	/* one table per file */
	/* another build: refused, not misnamed */
	assert_int_equal(symbolizer__open_file(s, prog, "0123456789abcdef0123456789abcdef01234567"),
			 -ENOENT);
	/* a stripped library: its exported names (.dynsym) */
	f = symbolizer__open_file(s, lib, NULL);
	assert_true(f >= 0);
	assert_int_equal(symbolizer__file(s, f, elf_value(lib, "lib_exported_two"), &r), 0);
	assert_string_equal(r.name, "lib_exported_two");
	/* C++: demangled, the raw name kept */
	f = symbolizer__open_file(s, cxx, NULL);
	assert_int_equal(symbolizer__file(s, f, elf_value(cxx, "_ZN2ns5twiceEid"), &r), 0);
	assert_string_equal(r.name, "ns::twice(int, double)");
	assert_string_equal(r.system_name, "_ZN2ns5twiceEid");
	/* no such file, no ELF file: no id; a file gone whose build-id is
	 * known still is */
	assert_int_equal(symbolizer__open_file(s, "/nonexistent/prog", NULL), -ENOENT);
	assert_int_equal(symbolizer__open_file(s, FIXTURES "/kallsyms", NULL), -ENOENT);
	assert_true(symbolizer__open_file(s, "/nonexistent/prog", id) >= 0);
	assert_int_equal(symbolizer__file(s, -1, 0, &r), -EINVAL);
	symbolizer__free(s);
}

/* JIT code: anonymous executable memory, and a memfd that holds no ELF
 * file, named by perf-NSPID.map in the process's own /tmp, NSpid 7 inside
 * its pid namespace. */
static void test_perfmap_container(void **state)
{
	static const char maps[] = "00001000-00002000 rwxp 00000000 00:00 0 \n"
				   "00003000-00004000 r-xp 00000000 00:05 77   /memfd:jit (deleted)\n";
	const uint32_t pid = 4249;
	char fixture[PATH_MAX], mf[PATH_MAX];
	struct buf b = BUF_INIT(0);
	struct symbolizer *s;
	struct symbolizer_stats st;
	struct sym_result r;
	int64_t id;

	fake_proc(pid, 8000, 7);
	assert_int_equal(buf__append(&b, maps, sizeof(maps) - 1), 0);
	write_maps(pid, &b);
	at(fixture, "%s/perf-4242.map", FIXTURES);
	install(pid, fixture, "/tmp/perf-7.map");
	write_file(at(mf, "%s/%u/map_files/3000-4000", proc_root, pid), "\xc3 code", 6);

	s = fake_symbolizer(false);
	id = symbolizer__proc(s, pid, 8000);
	assert_int_equal(symbolizer__user(s, id, 0x1004, &r), 0);
	assert_string_equal(r.name, "jit_alpha");
	assert_string_equal(r.map->path, "[anon]");
	assert_true(r.map->has_symbols);
	/* no mapping there at all: still the perf map */
	assert_int_equal(symbolizer__user(s, id, 0x2010, &r), 0);
	assert_null(r.map);
	assert_string_equal(r.name, "LaterAt2000");
	assert_int_equal(symbolizer__user(s, id, 0x3004, &r), 0);
	assert_string_equal(r.name, "after_carriage_return");
	assert_string_equal(r.map->path, "/memfd:jit");
	assert_int_equal(symbolizer__user(s, id, 0x3800, &r), 0);
	assert_null(r.name);
	symbolizer__stats(s, &st);
	assert_int_equal(st.perfmap_bad_lines, 6);
	assert_int_equal(st.files, 1);		/* the memfd: opened, */
	assert_int_equal(st.files_failed, 1);	/* but no ELF file */
	symbolizer__free(s);
	buf__free(&b);
}

/* exec() keeps pid and start time: the next snapshot gets a new id, the
 * old id keeps the maps it had. */
/* pid (started at start) has libx.so and libcxx.so installed in its root
 * and libx mapped at base; lib and cxx: the files built. */
static void libx_and_cxx(uint32_t pid, uint64_t start, uint64_t base, char lib[PATH_MAX],
			 char cxx[PATH_MAX], struct buf *b)
{
	char in[PATH_MAX];

	built(lib, "libx-stripped.so");
	built(cxx, "libcxx.so");
	fake_proc(pid, start, pid);
	install(pid, lib, "/usr/lib/libx.so");
	install(pid, cxx, "/usr/lib/libcxx.so");
	maps_add_elf(b, lib, base, "/usr/lib/libx.so", root_of(in, pid, "/usr/lib/libx.so"), NULL);
	write_maps(pid, b);
}

static void test_exec(void **state)
{
	const uint32_t pid = 4250;
	const uint64_t base = 0x7f5000000000ull;
	struct buf b = BUF_INIT(0);
	char lib[PATH_MAX], cxx[PATH_MAX], in[PATH_MAX];
	struct symbolizer *s;
	struct sym_result r;
	uint64_t addr;
	int64_t before, after;

	libx_and_cxx(pid, 9000, base, lib, cxx, &b);
	addr = base + elf_value(lib, "lib_exported_two");

	s = fake_symbolizer(false);
	before = symbolizer__proc(s, pid, 9000);
	b.len = 0;
	maps_add_elf(&b, cxx, base, "/usr/lib/libcxx.so", root_of(in, pid, "/usr/lib/libcxx.so"), NULL);
	write_maps(pid, &b);
	assert_int_equal(symbolizer__proc(s, pid, 9000), before);	/* cached */
	symbolizer__exec(s, pid);
	after = symbolizer__proc(s, pid, 9000);
	assert_true(after >= 0 && after != before);
	assert_int_equal(symbolizer__proc(s, pid, 9000), after);
	expect_name(s, before, addr, "lib_exported_two");
	assert_int_equal(symbolizer__user(s, before, addr, &r), 0);
	assert_string_equal(r.map->path, "/usr/lib/libx.so");
	assert_int_equal(symbolizer__user(s, after, base + elf_value(cxx, "_ZN2ns5twiceEid"), &r), 0);
	assert_string_equal(r.map->path, "/usr/lib/libcxx.so");
	assert_string_equal(r.name, "ns::twice(int, double)");
	symbolizer__exec(s, 999999);	/* never seen: nothing to do */
	symbolizer__free(s);
	buf__free(&b);
}

/* Code mapped after the snapshot (the dynamic linker, dlopen): a sampled
 * frame outside every mapping reads the maps again under the same id;
 * re-reads that explain nothing back off; frames inside known mappings read
 * nothing. */
static void test_refresh(void **state)
{
	const uint32_t pid = 4260;
	const uint64_t base = 0x7f6000000000ull, base2 = 0x7f6100000000ull,
		       base3 = 0x7f6200000000ull, base4 = 0x7f6300000000ull;
	struct buf b = BUF_INIT(0);
	char lib[PATH_MAX], cxx[PATH_MAX], in[PATH_MAX];
	struct symbolizer_stats st;
	struct symbolizer *s;
	uint64_t known, later, third, fourth, garbage = 0x1234;
	int64_t id;

	libx_and_cxx(pid, 9100, base, lib, cxx, &b);
	known = base + elf_value(lib, "lib_exported_two");
	later = base2 + elf_value(cxx, "_ZN2ns5twiceEid");

	/* a back-off of an hour: "within the gap" holds however slow this runs */
	s = symbolizer__new(&(struct symbolizer_opts){ .proc_root = proc_root,
						       .kallsyms = FIXTURES "/kallsyms",
						       .refresh_gap_ns = 3600ull * 1000000000 });
	assert_non_null(s);
	id = symbolizer__proc(s, pid, 9100);
	assert_int_equal(symbolizer__check(s, id, &known, 1, false), 0);
	maps_add_elf(&b, cxx, base2, "/usr/lib/libcxx.so", root_of(in, pid, "/usr/lib/libcxx.so"),
		     NULL);
	write_maps(pid, &b);
	assert_int_equal(symbolizer__check(s, id, (uint64_t[]){ known, later }, 2, false), 1);
	assert_int_equal(symbolizer__proc(s, pid, 9100), id);
	expect_name(s, id, later, "ns::twice(int, double)");
	expect_name(s, id, known, "lib_exported_two");
	/* garbage no refresh explains: read once, then not within the gap */
	assert_int_equal(symbolizer__check(s, id, &garbage, 1, false), 1);
	assert_int_equal(symbolizer__check(s, id, &garbage, 1, false), 0);
	/* within the gap, a library mapped since: read when the sample says
	 * the process mapped code (BPF saw its executable size change) */
	install(pid, lib, "/usr/lib/liby.so");
	maps_add_elf(&b, lib, base3, "/usr/lib/liby.so", root_of(in, pid, "/usr/lib/liby.so"), NULL);
	write_maps(pid, &b);
	third = base3 + elf_value(lib, "lib_exported_two");
	assert_int_equal(symbolizer__check(s, id, &third, 1, false), 0);
	assert_int_equal(symbolizer__check(s, id, &third, 1, true), 1);
	expect_name(s, id, third, "lib_exported_two");
	/* the sample that says so holds only known frames (ld.so's own, after
	 * it mapped libc): the next one with a new frame reads the maps */
	install(pid, cxx, "/usr/lib/libz2.so");
	maps_add_elf(&b, cxx, base4, "/usr/lib/libz2.so", root_of(in, pid, "/usr/lib/libz2.so"),
		     NULL);
	write_maps(pid, &b);
	fourth = base4 + elf_value(cxx, "_ZN2ns5twiceEid");
	assert_int_equal(symbolizer__check(s, id, &known, 1, true), 0);
	assert_int_equal(symbolizer__check(s, id, &fourth, 1, false), 1);
	expect_name(s, id, fourth, "ns::twice(int, double)");
	assert_int_equal(symbolizer__check(s, id, &garbage, 1, false), 0);
	symbolizer__stats(s, &st);
	assert_int_equal(st.refreshes, 4);
	assert_int_equal(symbolizer__check(s, 424242, &garbage, 1, false), -EINVAL);
	symbolizer__free(s);
	buf__free(&b);
}

/* A refresh after the process exec'd, before the exec event came (a sample
 * of the old image behind a frame only the new one explains): the new
 * mappings are added, the old ones kept where nothing new lies, so the old
 * image's frames keep their names; one at the same address is replaced. */
static void test_refresh_keeps_old(void **state)
{
	const uint32_t pid = 4265;
	const uint64_t base = 0x7f6400000000ull, base2 = 0x7f6500000000ull;
	struct buf b = BUF_INIT(0);
	char lib[PATH_MAX], cxx[PATH_MAX], in[PATH_MAX];
	struct sym_result r;
	struct symbolizer *s;
	uint64_t old_fn, new_fn;
	int64_t id;

	libx_and_cxx(pid, 9150, base, lib, cxx, &b);
	old_fn = base + elf_value(lib, "lib_exported_two");
	new_fn = base2 + elf_value(cxx, "_ZN2ns5twiceEid");
	s = fake_symbolizer(false);
	id = symbolizer__proc(s, pid, 9150);
	expect_name(s, id, old_fn, "lib_exported_two");
	/* exec'd: libx is gone, libcxx is all there is */
	b.len = 0;
	maps_add_elf(&b, cxx, base2, "/usr/lib/libcxx.so", root_of(in, pid, "/usr/lib/libcxx.so"),
		     NULL);
	write_maps(pid, &b);
	assert_int_equal(symbolizer__check(s, id, (uint64_t[]){ old_fn, new_fn }, 2, true), 1);
	expect_name(s, id, old_fn, "lib_exported_two");
	expect_name(s, id, new_fn, "ns::twice(int, double)");
	/* libcxx now where libx was: the new mapping wins */
	b.len = 0;
	maps_add_elf(&b, cxx, base, "/usr/lib/libcxx.so", root_of(in, pid, "/usr/lib/libcxx.so"),
		     NULL);
	write_maps(pid, &b);
	assert_int_equal(symbolizer__refresh(s, id), 0);
	assert_int_equal(symbolizer__user(s, id, base + elf_value(cxx, "_ZN2ns5twiceEid"), &r), 0);
	assert_string_equal(r.map->path, "/usr/lib/libcxx.so");
	assert_string_equal(r.name, "ns::twice(int, double)");
	expect_name(s, id, new_fn, "ns::twice(int, double)");
	symbolizer__free(s);
	buf__free(&b);
}

/* A maps file with more executable mappings than kept, malformed and
 * overlong lines: bounded, counted, no crash. */
static void test_maps_limits(void **state)
{
	const uint32_t pid = 4251;
	struct buf b = BUF_INIT(0);
	struct symbolizer *s;
	struct symbolizer_stats st;
	struct sym_result r;
	int64_t id;
	size_t i;

	fake_proc(pid, 10000, pid);
	for (i = 0; i < PROCMAPS_MAX_EXEC + 5; i++)
		assert_int_equal(buf__appendf(&b, "%zx-%zx r-xp 00000000 00:00 0 \n", (i + 1) << 16,
					      ((i + 1) << 16) + 0x1000), 0);
	assert_int_equal(buf__appendf(&b, "garbage\n1000-2000 r-xp 0 0:0 0 [x]"), 0);
	for (i = 0; i < SYM_LINE_CHUNK; i++)
		assert_int_equal(buf__append(&b, "x", 1), 0);
	assert_int_equal(buf__appendf(&b, "\n"), 0);
	write_maps(pid, &b);

	s = fake_symbolizer(false);
	id = symbolizer__proc(s, pid, 10000);
	assert_true(id >= 0);
	assert_int_equal(symbolizer__user(s, id, (1 << 16) + 4, &r), 0);
	assert_non_null(r.map);
	assert_int_equal(symbolizer__user(s, id, ((size_t)PROCMAPS_MAX_EXEC + 2) << 16, &r), 0);
	assert_null(r.map);
	symbolizer__stats(s, &st);
	assert_int_equal(st.maps_dropped, 5 + 1 + 1);
	symbolizer__free(s);
	buf__free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kallsyms_fixture),
		cmocka_unit_test(test_kallsyms_restricted),
		cmocka_unit_test(test_parse_ps),
		cmocka_unit_test(test_kernel_names),
		cmocka_unit_test(test_kernel_names_full),
		cmocka_unit_test(test_perfmap_parse),
		cmocka_unit_test(test_pid_reuse_and_gone),
		cmocka_unit_test(test_container_pie),
		cmocka_unit_test(test_stripped_dynsym),
		cmocka_unit_test(test_debug_file),
		cmocka_unit_test(test_deleted_map_files),
		cmocka_unit_test(test_replaced_file),
		cmocka_unit_test(test_build_id_dedupe),
		cmocka_unit_test(test_cxx_demangle),
		cmocka_unit_test(test_file_by_path),
		cmocka_unit_test(test_perfmap_container),
		cmocka_unit_test(test_exec),
		cmocka_unit_test(test_refresh),
		cmocka_unit_test(test_refresh_keeps_old),
		cmocka_unit_test(test_maps_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
