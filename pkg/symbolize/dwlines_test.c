/* symbolize/dwlines: source lines and inline frames of small programs the
 * test compiles (-O1 -g, two always_inline levels at known lines): the
 * chain at every address of the function they are inlined into; the same
 * answers from a debug file found by build-id in a process's root, through
 * .gnu_debuglink in each of its places, from compressed sections (zlib,
 * GNU .zdebug, zstd where objcopy makes them), under budgets small enough
 * to evict; none for a stripped file or a debug file of another build; no
 * crash on a corrupt one; C++ names demangled; and the symbolizer's file
 * lookup giving the same lines. Reads nothing of the host but cc's output. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <gelf.h>

#include "base/buf.h"
#include "fileio/fileio.h"
#include "symbolize/dwlines.h"
#include "symbolize/internal.h"
#include "symbolize/symbolize.h"

static const char prog_src[] =
	"volatile int sink;\n"
	"static inline __attribute__((always_inline)) int inner(int x)\n"
	"{\n"
	"\tsink = x;\n"
	"\treturn x * 7 + 3; /* INNER */\n"
	"}\n"
	"static inline __attribute__((always_inline)) int mid(int x)\n"
	"{\n"
	"\tint y = inner(x); /* CALL_INNER */\n"
	"\treturn y ^ 5;\n"
	"}\n"
	"__attribute__((noinline)) int outer(int n)\n"
	"{\n"
	"\tint s = 0;\n"
	"\tfor (int i = 0; i < n; i++)\n"
	"\t\ts += mid(i); /* CALL_MID */\n"
	"\treturn s;\n"
	"}\n"
	"int main(int argc, char **argv) { (void)argv; return outer(argc); }\n";

static const char cxx_src[] =
	"namespace ns {\n"
	"volatile int sink;\n"
	"inline __attribute__((always_inline)) int helper(int x) { sink = x; return x + 1; }\n"
	"__attribute__((noinline)) int twice(int x, double y) { return helper(x) * (int)y; }\n"
	"}\n"
	"int main(int argc, char **argv) { (void)argv; return ns::twice(argc, 2.0); }\n";

static char tmp[64];
static char dir[PATH_MAX];	/* compiled files */
static char src[PATH_MAX];	/* prog.c, as the DWARF names it */

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

static const char *at(char out[PATH_MAX], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const char *at(char out[PATH_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	return out;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* The line of text holding marker (a comment), or the first line of
 * "name(" when marker is a function's name followed by "(". */
static uint32_t line_of(const char *text, const char *marker)
{
	const char *p = strstr(text, marker), *q;
	uint32_t line = 1;

	if (!p)
		fail_msg("no %s in the source", marker);
	for (q = text; q < p; q++)
		line += *q == '\n';
	return line;
}

/* st_value and st_size of the function name in file's .symtab. */
static void symbol(const char *file, const char *name, uint64_t *lo, uint64_t *hi)
{
	int fd = open(file, O_RDONLY);
	Elf_Scn *scn = NULL;
	Elf *elf;

	*lo = *hi = 0;
	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	while (!*hi && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t i;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		d = elf_getdata(scn, NULL);
		for (i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;

			if (gelf_getsym(d, (int)i, &sym) && GELF_ST_TYPE(sym.st_info) == STT_FUNC &&
			    (n = elf_strptr(elf, sh.sh_link, sym.st_name)) && !strcmp(n, name)) {
				*lo = sym.st_value;
				*hi = sym.st_value + sym.st_size;
			}
		}
	}
	elf_end(elf);
	close(fd);
	if (!*hi)
		fail_msg("%s: no function %s", file, name);
}

/* Attach file as id, as the symbolizer does at its first lookup. */
static void attach(struct dwlines *d, uint32_t id, const char *file, const char *root,
		   const char *seen)
{
	struct elf_info ei;
	struct dwlines_file f;
	int fd = open(file, O_RDONLY);
	Elf *elf;

	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	assert_non_null(elf);
	assert_int_equal(elfinfo__read(elf, &ei), 0);
	f = (struct dwlines_file){ .build_id = ei.build_id, .root = root, .path = seen };
	assert_int_equal(dwlines__attach(d, id, elf, fd, &f), 0);
	elf_end(elf);
	close(fd);
}

/* Every answer for [lo, hi) as text, one address a line. */
static void answers(struct dwlines *d, uint32_t id, uint64_t lo, uint64_t hi, struct buf *out)
{
	uint64_t a;
	size_t n, i;

	out->len = 0;
	for (a = lo; a < hi; a++) {
		const struct sym_line *l;

		assert_int_equal(dwlines__lookup(d, id, a, "symtab", "symtab_raw", &l, &n), 0);
		assert_int_equal(buf__appendf(out, "%#llx", (unsigned long long)a), 0);
		for (i = 0; i < n; i++)
			assert_int_equal(buf__appendf(out, " %s/%s@%s:%u(%u)", l[i].name, l[i].system_name,
						      l[i].file ? l[i].file : "-", l[i].line,
						      l[i].start_line), 0);
		assert_int_equal(buf__append(out, "\n", 1), 0);
	}
}

static struct buf baseline = BUF_INIT(0);	/* prog's own answers */
static uint64_t outer_lo, outer_hi;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	char path[PATH_MAX];

	elf_version(EV_CURRENT);
	snprintf(tmp, sizeof(tmp), "/tmp/bpprof-dwl-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	at(dir, "%s/build", tmp);
	sh("mkdir -p %s", dir);
	at(src, "%s/prog.c", dir);
	write_file(src, prog_src);
	write_file(at(path, "%s/cxx.cc", dir), cxx_src);
	/* an absolute source path: what the DWARF says is what we compare */
	sh("cd %s && cc -O1 -g -Wl,--build-id=sha1 -o prog %s", dir, src);
	sh("cd %s && g++ -O1 -g -Wl,--build-id=sha1 -o cxx %s/cxx.cc", dir, dir);
	sh("cd %s && objcopy --only-keep-debug prog prog.debug && "
	   "strip --strip-debug -o prog-nodebug prog", dir);
	symbol(at(path, "%s/prog", dir), "outer", &outer_lo, &outer_hi);
	return 0;
}

static int teardown(void **state)
{
	buf__free(&baseline);
	return nftw(tmp, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- the chain --- */

static void test_inline_chain(void **state)
{
	const uint32_t l_inner = line_of(prog_src, "inner(int x)");
	const uint32_t l_mid = line_of(prog_src, "mid(int x)");
	const uint32_t l_outer = line_of(prog_src, "outer(int n)");
	const uint32_t call_inner = line_of(prog_src, "CALL_INNER");
	const uint32_t call_mid = line_of(prog_src, "CALL_MID");
	struct dwlines *d = dwlines__new(NULL);
	struct dwlines_stats st;
	char prog[PATH_MAX];
	uint64_t a, three = 0;

	assert_non_null(d);
	attach(d, 0, at(prog, "%s/prog", dir), NULL, prog);
	for (a = outer_lo; a < outer_hi; a++) {
		const struct sym_line *l;
		size_t n;

		assert_int_equal(dwlines__lookup(d, 0, a, NULL, NULL, &l, &n), 0);
		if (n < 1 || n > 3)
			fail_msg("%#llx: %zu lines", (unsigned long long)a, n);
		assert_string_equal(l[n - 1].name, "outer");
		assert_string_equal(l[n - 1].system_name, "outer");
		assert_string_equal(l[n - 1].file, src);
		assert_int_equal(l[n - 1].start_line, l_outer);
		assert_true(l[n - 1].line >= l_outer && l[n - 1].line <= l_outer + 6);
		if (n >= 2) {	/* mid, called from outer at CALL_MID */
			assert_string_equal(l[n - 2].name, "mid");
			assert_int_equal(l[n - 1].line, call_mid);
			assert_int_equal(l[n - 2].start_line, l_mid);
		}
		if (n == 3) {	/* inner, called from mid at CALL_INNER, in its body */
			assert_string_equal(l[0].name, "inner");
			assert_string_equal(l[0].file, src);
			assert_int_equal(l[1].line, call_inner);
			assert_int_equal(l[0].start_line, l_inner);
			assert_true(l[0].line > l_inner && l[0].line <= l_inner + 3);
			three = a;
		}
	}
	assert_true(three > 0);
	/* the symbol table's name, given, names the outermost function only */
	{
		const struct sym_line *l;
		size_t n;

		assert_int_equal(dwlines__lookup(d, 0, three, "outer.sym", "outer_raw", &l, &n), 0);
		assert_int_equal(n, 3);
		assert_string_equal(l[2].name, "outer.sym");
		assert_string_equal(l[2].system_name, "outer_raw");
		assert_string_equal(l[1].name, "mid");
		assert_string_equal(l[0].name, "inner");
	}
	answers(d, 0, outer_lo, outer_hi, &baseline);
	dwlines__stats(d, &st);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.missing, 0);
	assert_int_equal(st.failed, 0);
	/* every address twice: the second time from the cache */
	assert_int_equal(st.lookups, 2 * (outer_hi - outer_lo) + 1);
	assert_int_equal(st.cached, outer_hi - outer_lo + 1);
	dwlines__free(d);
}

/* A debug file's answers for the stripped prog must be prog's own. */
static void expect_baseline(struct dwlines *d, uint32_t id)
{
	struct buf got = BUF_INIT(0);

	assert_true(baseline.len > 0);
	answers(d, id, outer_lo, outer_hi, &got);
	if (got.len != baseline.len || memcmp(got.data, baseline.data, got.len))
		fail_msg("answers differ from the binary's own:\n%.*s\n---\n%.*s", (int)got.len,
			 (char *)got.data, (int)baseline.len, (char *)baseline.data);
	buf__free(&got);
}

static void expect_none(struct dwlines *d, uint32_t id)
{
	const struct sym_line *l;
	size_t n;

	assert_int_equal(dwlines__lookup(d, id, outer_lo, "x", "x", &l, &n), 0);
	assert_int_equal(n, 0);
}

/* --- where the debug info is --- */

static void test_stripped(void **state)
{
	struct dwlines *d = dwlines__new(NULL);
	struct dwlines_stats st;
	char path[PATH_MAX];

	assert_non_null(d);
	attach(d, 3, at(path, "%s/prog-nodebug", dir), NULL, path);
	expect_none(d, 3);
	expect_none(d, 7);	/* never attached */
	dwlines__stats(d, &st);
	assert_int_equal(st.missing, 1);
	assert_int_equal(st.files, 0);
	dwlines__free(d);
}

/* /usr/lib/debug/.build-id/xx/rest.debug in the process's root; one of
 * another build there is no answer */
static void test_build_id(void **state)
{
	struct dwlines *d = dwlines__new(NULL);
	char root[PATH_MAX], path[PATH_MAX];
	struct elf_info ei;
	Elf *elf;
	int fd;

	assert_non_null(d);
	fd = open(at(path, "%s/prog", dir), O_RDONLY);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	assert_int_equal(elfinfo__read(elf, &ei), 0);
	elf_end(elf);
	close(fd);
	at(root, "%s/root-bid", tmp);
	sh("mkdir -p %s/usr/lib/debug/.build-id/%.2s %s/opt && cp %s/prog-nodebug %s/opt/app && "
	   "cp %s/prog.debug %s/usr/lib/debug/.build-id/%.2s/%s.debug",
	   root, ei.build_id, root, dir, root, dir, root, ei.build_id, ei.build_id + 2);
	attach(d, 0, at(path, "%s/opt/app", root), root, "/opt/app");
	expect_baseline(d, 0);
	dwlines__free(d);

	/* the cxx program's debug file under prog's build-id: refused */
	d = dwlines__new(NULL);
	sh("cd %s && objcopy --only-keep-debug cxx cxx.debug && cp cxx.debug "
	   "%s/usr/lib/debug/.build-id/%.2s/%s.debug", dir, root, ei.build_id, ei.build_id + 2);
	attach(d, 0, at(path, "%s/opt/app", root), root, "/opt/app");
	expect_none(d, 0);
	dwlines__free(d);
}

/* .gnu_debuglink: beside the file, in .debug/ there, under /usr/lib/debug
 * with the file's directory; a file of that name with another CRC is not
 * it */
static void test_debuglink(void **state)
{
	static const char *const places[] = { "/opt/dl", "/opt/dl/.debug", "/usr/lib/debug/opt/dl" };
	char root[PATH_MAX], path[PATH_MAX];
	struct dwlines *d;
	size_t i;

	for (i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		at(root, "%s/root-dl%zu", tmp, i);
		sh("mkdir -p %s/opt/dl %s%s && cd %s && objcopy --strip-debug "
		   "--add-gnu-debuglink=prog.debug prog %s/opt/dl/app && cp prog.debug %s%s/",
		   root, root, places[i], dir, root, root, places[i]);
		d = dwlines__new(NULL);
		assert_non_null(d);
		attach(d, 0, at(path, "%s/opt/dl/app", root), root, "/opt/dl/app");
		expect_baseline(d, 0);
		dwlines__free(d);
	}
	/* beside it, a prog.debug of another program: the CRC tells */
	at(root, "%s/root-dlbad", tmp);
	sh("mkdir -p %s/opt/dl && cd %s && objcopy --strip-debug --add-gnu-debuglink=prog.debug prog "
	   "%s/opt/dl/app && objcopy --only-keep-debug cxx %s/opt/dl/prog.debug", root, dir, root, root);
	d = dwlines__new(NULL);
	attach(d, 0, at(path, "%s/opt/dl/app", root), root, "/opt/dl/app");
	expect_none(d, 0);
	dwlines__free(d);
}

/* Sections compressed as Debian's debug packages ship them, the older GNU
 * way, and zstd where this objcopy writes it. */
static void test_compressed(void **state)
{
	static const char *const kinds[] = { "zlib", "zlib-gnu", "zstd" };
	char path[PATH_MAX], check[PATH_MAX + 64];
	struct dwlines *d;
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		at(path, "%s/prog-%s", dir, kinds[i]);
		sh("objcopy --compress-debug-sections=%s %s/prog %s", kinds[i], dir, path);
		/* objcopy leaves a section alone when compressing would not
		 * shrink it, or when it cannot write that kind */
		snprintf(check, sizeof(check), "readelf -SW %s | grep -qE '\\.zdebug_info|debug_info.* C '",
			 path);
		if (system(check) != 0) {
			printf("(objcopy wrote no %s-compressed .debug_info: not checked)\n", kinds[i]);
			continue;
		}
		d = dwlines__new(NULL);
		assert_non_null(d);
		attach(d, 0, path, NULL, path);
		expect_baseline(d, 0);
		dwlines__free(d);
	}
}

/* A debug file whose compressed .debug_info is garbage: no answer, said
 * as a failure, no crash. */
static void test_corrupt(void **state)
{
	char path[PATH_MAX];
	struct dwlines_stats st;
	struct dwlines *d;

	at(path, "%s/prog-zbad", dir);
	sh("objcopy --compress-debug-sections=zlib %s/prog %s", dir, path);
	/* overwrite the middle of .debug_info's deflate stream */
	sh("set -- $(readelf -SW %s | sed -n 's/.*\\.debug_info *PROGBITS *[0-9a-f]* "
	   "\\([0-9a-f]*\\) \\([0-9a-f]*\\).*/\\1 \\2/p'); "
	   "dd if=/dev/urandom of=%s bs=1 seek=$((0x$1 + 0x$2 / 2)) count=16 conv=notrunc status=none",
	   path, path);
	d = dwlines__new(NULL);
	assert_non_null(d);
	attach(d, 0, path, NULL, path);
	expect_none(d, 0);
	dwlines__stats(d, &st);
	assert_int_equal(st.failed, 1);
	dwlines__free(d);
}

/* --- decompressed images kept on disk --- */

/* The only image in cache: its path and what stat says of it. */
static void cached_image(const char *cache, char path[PATH_MAX], struct stat *st)
{
	char cmd[PATH_MAX + 64];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls %s/*.img", cache);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(path, PATH_MAX, f));
	path[strcspn(path, "\n")] = '\0';
	assert_null(fgets(cmd, sizeof(cmd), f));	/* one image */
	pclose(f);
	assert_int_equal(stat(path, st), 0);
}

/* One run with the cache: prog's answers, whatever the cache held. */
static void cached_run(const char *cache, const char *path)
{
	struct dwlines_opts o = { .cache_dir = cache };
	struct dwlines *d = dwlines__new(&o);

	assert_non_null(d);
	attach(d, 0, path, NULL, path);
	expect_baseline(d, 0);
	dwlines__free(d);
}

/* A first run writes the image (0600, in a 0700 directory it makes); the
 * next maps it (the same file, its mtime touched); a file whose trailer
 * names another key, or cut short, is a miss and replaced; a directory
 * others may write to is not used. The same answers every time. */
static void test_disk_cache(void **state)
{
	char path[PATH_MAX], cache[PATH_MAX], img[PATH_MAX];
	const struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct stat st, st2;

	at(path, "%s/prog-zcache", dir);
	sh("objcopy --compress-debug-sections=zlib %s/prog %s", dir, path);
	at(cache, "%s/cache", tmp);
	cached_run(cache, path);
	assert_int_equal(stat(cache, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	cached_image(cache, img, &st);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* a hit: the same inode, used just now */
	assert_int_equal(utimensat(AT_FDCWD, img, old, 0), 0);
	cached_run(cache, path);
	cached_image(cache, img, &st2);
	assert_int_equal(st2.st_ino, st.st_ino);
	assert_true(st2.st_mtim.tv_sec > old[1].tv_sec);

	/* another key in the trailer, then a file cut short: each replaced */
	sh("printf 'xxxxxxxxxxxxxxxx' | dd of=%s bs=1 seek=$(($(stat -c %%s %s) - 16)) conv=notrunc "
	   "status=none", img, img);
	cached_run(cache, path);
	cached_image(cache, img, &st);
	assert_int_not_equal(st.st_ino, st2.st_ino);
	sh("truncate -s %lld %s", (long long)st.st_size / 2, img);
	cached_run(cache, path);
	cached_image(cache, img, &st2);
	assert_int_not_equal(st2.st_ino, st.st_ino);
	assert_int_equal(st2.st_size, st.st_size);

	/* group-writable: answers, but the cache is neither read nor written */
	assert_int_equal(chmod(cache, 0770), 0);
	assert_int_equal(utimensat(AT_FDCWD, img, old, 0), 0);
	cached_run(cache, path);
	cached_image(cache, img, &st);
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_int_equal(st.st_mtim.tv_sec, old[1].tv_sec);
}

/* Past the budget the least recently used images go, down to three
 * quarters of it; the one just written stays. A dead run's unfinished
 * file goes after an hour. */
static void test_disk_cache_evict(void **state)
{
	static char bytes[1000] = "an image";
	struct dwimage img, got;
	struct dwcache_new nw;
	struct dwcache_key k[3];
	char cache[PATH_MAX], path[PATH_MAX], name[64];
	struct timespec when[2];
	unsigned i, j;

	at(cache, "%s/cache-evict", tmp);
	assert_true(fileio__private_dir(cache));
	/* what a run that died left: swept an hour on, not before */
	sh("touch -d '2 hours ago' %s/.dead.img.1.tmp && touch %s/.busy.img.2.tmp", cache, cache);
	for (i = 0; i < 3; i++) {
		dwcache__key(&k[i], &i, sizeof(i));
		assert_int_equal(dwcache__create(cache, &k[i], sizeof(bytes), &img, &nw), 0);
		memcpy(img.data, bytes, sizeof(bytes));
		dwcache__commit(&nw, &k[i], &img, 2500);	/* two fit, not three */
		dwimage__free(&img);
		for (j = 0; j < 16; j++)
			snprintf(name + 2 * j, 3, "%02x", k[i].bytes[j]);
		/* written a minute apart, oldest first */
		when[0] = when[1] = (struct timespec){ 1000000000 + 60 * i, 0 };
		assert_int_equal(utimensat(AT_FDCWD, at(path, "%s/%s.img", cache, name), when, 0), 0);
	}
	assert_int_equal(access(at(path, "%s/.dead.img.1.tmp", cache), F_OK), -1);
	assert_int_equal(access(at(path, "%s/.busy.img.2.tmp", cache), F_OK), 0);
	assert_int_equal(dwcache__load(cache, &k[0], sizeof(bytes), &got), -ENOENT);
	assert_int_equal(dwcache__load(cache, &k[1], sizeof(bytes), &got), -ENOENT);
	assert_int_equal(dwcache__load(cache, &k[2], sizeof(bytes), &got), 0);
	assert_memory_equal(got.data, bytes, sizeof(bytes));
	dwimage__free(&got);
	/* a size other than the image's is a miss */
	assert_int_equal(dwcache__load(cache, &k[2], sizeof(bytes) - 1, &got), -ENOEXEC);
}

/* --- budgets --- */

/* Two files and a budget that holds either but not both: each lookup in
 * one closes the other, which is read again when needed; the same
 * answers. A budget smaller than one file's debug info: no lines from it. */
static void test_evict(void **state)
{
	struct dwlines_opts o = { 0 };
	struct dwlines *d = dwlines__new(NULL);
	const struct sym_line *l;
	struct dwlines_stats st;
	char path[PATH_MAX];
	uint64_t lo, hi;
	size_t a, b, n;
	int round;

	assert_non_null(d);
	symbol(at(path, "%s/cxx", dir), "_ZN2ns5twiceEid", &lo, &hi);
	attach(d, 0, at(path, "%s/prog", dir), NULL, path);
	expect_baseline(d, 0);
	dwlines__stats(d, &st);
	a = st.open_bytes;
	attach(d, 1, at(path, "%s/cxx", dir), NULL, path);
	assert_int_equal(dwlines__lookup(d, 1, lo, NULL, NULL, &l, &n), 0);
	dwlines__stats(d, &st);
	b = st.open_bytes - a;
	dwlines__free(d);
	assert_true(a > 0 && b > 0);

	/* either alone fits, both do not */
	o.open_budget = (a > b ? a : b) + (a > b ? b : a) / 2;
	d = dwlines__new(&o);
	assert_non_null(d);
	attach(d, 0, at(path, "%s/prog", dir), NULL, path);
	attach(d, 1, at(path, "%s/cxx", dir), NULL, path);
	for (round = 0; round < 2; round++) {
		expect_baseline(d, 0);
		assert_int_equal(dwlines__lookup(d, 1, lo, NULL, NULL, &l, &n), 0);
		assert_true(n >= 1);
	}
	dwlines__stats(d, &st);
	assert_true(st.evicted >= 2);
	assert_true(st.opened >= 3);
	assert_int_equal(st.failed, 0);
	dwlines__free(d);

	o.open_budget = 1;
	d = dwlines__new(&o);
	assert_non_null(d);
	attach(d, 0, at(path, "%s/prog", dir), NULL, path);
	expect_none(d, 0);
	dwlines__stats(d, &st);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.open_bytes, 0);
	dwlines__free(d);
}

/* A cache budget of a few hundred bytes: generation after generation
 * dropped, answers recomputed or promoted, still the same. */
static void test_cache_generations(void **state)
{
	struct dwlines_opts o = { .cache_budget = 1 };
	struct dwlines *d = dwlines__new(&o);
	struct dwlines_stats st;
	char path[PATH_MAX];

	assert_non_null(d);
	attach(d, 0, at(path, "%s/prog", dir), NULL, path);
	expect_baseline(d, 0);
	expect_baseline(d, 0);
	dwlines__stats(d, &st);
	assert_true(st.generations > 10);
	dwlines__free(d);
}

/* --- C++, and through the symbolizer --- */

static void test_cxx(void **state)
{
	struct dwlines *d = dwlines__new(NULL);
	char path[PATH_MAX];
	uint64_t lo, hi, a;
	bool inlined = false;

	assert_non_null(d);
	attach(d, 0, at(path, "%s/cxx", dir), NULL, path);
	symbol(path, "_ZN2ns5twiceEid", &lo, &hi);
	for (a = lo; a < hi; a++) {
		const struct sym_line *l;
		size_t n;

		assert_int_equal(dwlines__lookup(d, 0, a, NULL, NULL, &l, &n), 0);
		assert_true(n >= 1);
		assert_string_equal(l[n - 1].name, "ns::twice(int, double)");
		assert_string_equal(l[n - 1].system_name, "_ZN2ns5twiceEid");
		if (n == 2) {
			assert_string_equal(l[0].name, "ns::helper(int)");
			assert_string_equal(l[0].system_name, "_ZN2ns6helperEi");
			inlined = true;
		}
	}
	assert_true(inlined);
	dwlines__free(d);
}

/* A file named by path (convert --symbolize) gets the same lines. */
static void test_symbolizer_file(void **state)
{
	struct symbolizer_opts so = { .proc_root = tmp }, off = { .proc_root = tmp, .no_lines = true };
	struct symbolizer *s = symbolizer__new(&so), *plain = symbolizer__new(&off);
	struct symbolizer_stats st;
	struct sym_result r;
	char path[PATH_MAX];
	int64_t id;

	assert_non_null(s);
	assert_non_null(plain);
	id = symbolizer__open_file(s, at(path, "%s/prog", dir), NULL);
	assert_true(id >= 0);
	/* outer's file offset: this PIE's code is where its vaddr says */
	assert_int_equal(symbolizer__file(s, id, outer_lo, &r), 0);
	assert_string_equal(r.name, "outer");
	assert_true(r.n_lines >= 1);
	assert_string_equal(r.lines[r.n_lines - 1].name, "outer");
	assert_string_equal(r.lines[r.n_lines - 1].file, src);
	symbolizer__stats(s, &st);
	assert_int_equal(st.debug_files, 1);

	id = symbolizer__open_file(plain, path, NULL);
	assert_int_equal(symbolizer__file(plain, id, outer_lo, &r), 0);
	assert_string_equal(r.name, "outer");
	assert_int_equal(r.n_lines, 0);
	symbolizer__free(s);
	symbolizer__free(plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inline_chain),
		cmocka_unit_test(test_stripped),
		cmocka_unit_test(test_build_id),
		cmocka_unit_test(test_debuglink),
		cmocka_unit_test(test_compressed),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_disk_cache),
		cmocka_unit_test(test_disk_cache_evict),
		cmocka_unit_test(test_evict),
		cmocka_unit_test(test_cache_generations),
		cmocka_unit_test(test_cxx),
		cmocka_unit_test(test_symbolizer_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
