/* Checks of the symbolizer against this machine, for the end-to-end tests:
 * the unit tests read no host state, so what depends on the running kernel
 * and libc is checked here, with every expectation derived from the machine
 * itself (kallsyms from kallsyms, the vDSO from its own image).
 *   symcheck kallsyms [FILE]  every text symbol of FILE (/proc/kallsyms)
 *                             resolves to itself, an alias at its address,
 *                             or the function whose __pfx_ padding starts there
 *   symcheck knames           the same symbols (and the byte after each) as the
 *                             running kernel names them per address (the
 *                             way bpprof record does) against /proc/kallsyms
 *   symcheck self             this program's own function and libc's malloc
 *   symcheck vdso             every function the vDSO image's symbols cover
 * Exit 0 when all hold, 1 with a line on stderr for the first that does not,
 * 77 when the machine has nothing to check (kallsyms hidden, no vDSO). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gelf.h>

#include "base/buf.h"
#include "collect/ksym.h"
#include "fileio/fileio.h"
#include "symbolize/internal.h"
#include "symbolize/symbolize.h"

#define SKIP 77

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("symcheck: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* --- kallsyms --- */

struct kline {
	uint64_t addr;
	char type;
	bool bpf;			/* a BPF program's ("[bpf]"): they come and go */
	char name[KSYM_NAME_MAX];
};

static int read_klines(const char *path, struct kline **out, size_t *n)
{
	char line[KSYM_NAME_MAX + 64];
	size_t cap = 0;
	FILE *f = fopen(path, "re");

	*out = NULL;
	*n = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct kline k;

		/* module symbols ("name\t[mod]") are checked as the kernel's are */
		if (sscanf(line, "%" SCNx64 " %c %127s", &k.addr, &k.type, k.name) != 3)
			continue;
		k.bpf = strstr(line, "\t[bpf]") != NULL;
		if (*n == cap) {
			struct kline *p = realloc(*out, (cap = cap ? 2 * cap : 65536) * sizeof(*p));

			if (!p) {
				fclose(f);
				return -ENOMEM;
			}
			*out = p;
		}
		(*out)[(*n)++] = k;
	}
	fclose(f);
	return 0;
}

/* Does some line at addr name the padding of name ("__pfx_name")? */
static bool padding_of(const struct kline *l, size_t n, size_t at, const char *name)
{
	size_t i;

	for (i = at; i > 0 && l[i - 1].addr == l[at].addr; i--)
		;
	for (; i < n && l[i].addr == l[at].addr; i++)
		if (!strncmp(l[i].name, "__pfx_", 6) && !strcmp(l[i].name + 6, name))
			return true;
	return false;
}

static bool alias_at(const struct kline *l, size_t n, size_t at, const char *name)
{
	size_t i;

	for (i = at; i > 0 && l[i - 1].addr == l[at].addr; i--)
		;
	for (; i < n && l[i].addr == l[at].addr; i++) {
		const char *sp = strchr(name, ' ');	/* "name [module]" */
		size_t len = sp ? (size_t)(sp - name) : strlen(name);

		if (strlen(l[i].name) == len && !memcmp(l[i].name, name, len))
			return true;
	}
	return false;
}

/* path's bytes in a memory file: kallsyms changes as BPF programs come and
 * go (another test's bpprof still exiting), and both readers below must
 * see the same table. The file's fd, or -errno. */
static int snapshot(const char *path)
{
	struct buf b = BUF_INIT(0);
	struct errmsg e;
	int fd = -1, err = fileio__read_all(path, &b, &e);

	errno = 0;
	if (!err) {
		fd = memfd_create("kallsyms", MFD_CLOEXEC);
		if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len || lseek(fd, 0, SEEK_SET))
			err = errno ? -errno : -EIO;	/* a short write sets none */
	}
	buf__free(&b);
	if (err && fd >= 0)
		close(fd);
	return err ? err : fd;
}

static int check_kallsyms(const char *path)
{
	struct kline *l;
	struct ksyms k;
	size_t n, i, checked = 0, via_padding = 0;
	char copy[64];
	int fd, err;

	fd = snapshot(path);
	if (fd < 0)
		return fail("%s: %s", path, strerror(-fd));
	snprintf(copy, sizeof(copy), "/proc/self/fd/%d", fd);
	err = read_klines(copy, &l, &n);
	if (err)
		return fail("%s: %s", path, strerror(-err));
	if (lseek(fd, 0, SEEK_SET))
		return fail("%s: %s", path, strerror(errno));
	err = ksyms__load_fd(&k, fd);
	close(fd);
	if (err)
		return fail("loading %s: %s", path, strerror(-err));
	if (!k.n) {
		printf("kallsyms: addresses hidden (kernel.kptr_restrict): nothing to check\n");
		free(l);
		return SKIP;
	}
	for (i = 1; i < k.n; i++)
		if (k.addrs[i - 1] >= k.addrs[i])
			return fail("table not sorted at %zu", i);
	for (i = 0; i < n; i++) {
		const char *got;
		int64_t j;

		if (l[i].type != 'T' && l[i].type != 't')
			continue;
		if (!strncmp(l[i].name, "__pfx_", 6) || !l[i].addr)
			continue;
		j = ksyms__find(&k, l[i].addr);
		if (j < 0)
			return fail("%016" PRIx64 " %s: not found", l[i].addr, l[i].name);
		got = k.text + (k.names[j] & ~KSYM_PFX);
		checked++;
		if (k.addrs[j] == l[i].addr && alias_at(l, n, i, got))
			continue;
		/* a label (_sinittext) at the start of a function's padding: the
		 * bytes there are that function's */
		if ((k.names[j] & KSYM_PFX) && padding_of(l, n, i, got)) {
			via_padding++;
			continue;
		}
		return fail("%016" PRIx64 " %s resolved to %016" PRIx64 " %s", l[i].addr, l[i].name,
			    k.addrs[j], got);
	}
	printf("kallsyms: %zu text symbols checked (%zu labels on a function's padding), "
	       "table of %zu\n", checked, via_padding, k.n);
	ksyms__free(&k);
	free(l);
	return checked ? 0 : fail("no text symbols in %s", path);
}

/* Every text symbol of /proc/kallsyms, and the byte after it when it has
 * more than one, named by the running kernel through a symbolizer as
 * bpprof record does: as kallsyms names it, an alias at its address, or
 * the function whose padding it labels. */
static int check_knames(void)
{
	struct symbolizer_opts so = { .kallsyms = "/dev/null", .no_lines = true,
				      .kernel_names = ksym_namer__names };
	const char *path = "/proc/kallsyms";
	struct symbolizer *s;
	struct ksym_namer *kn;
	struct kline *l;
	uint64_t *addrs;
	size_t n, i, m = 0, checked = 0, unnamed = 0;
	int err;

	err = read_klines(path, &l, &n);
	if (err)
		return fail("%s: %s", path, strerror(-err));
	if (!n || !l[0].addr) {
		printf("knames: kallsyms hides its addresses: nothing to compare with\n");
		free(l);
		return SKIP;
	}
	if (ksym_namer__new(&kn) || !(addrs = calloc(2 * n, sizeof(*addrs))))
		return fail("out of memory");
	so.kernel_names_ctx = kn;
	s = symbolizer__new(&so);
	if (!s)
		return fail("symbolizer: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		if ((l[i].type != 'T' && l[i].type != 't') || !strncmp(l[i].name, "__pfx_", 6))
			continue;
		addrs[m++] = l[i].addr;
		if (i + 1 < n && l[i + 1].addr > l[i].addr + 1)
			addrs[m++] = l[i].addr + 1;
	}
	if ((err = symbolizer__kernel_batch(s, addrs, m)))
		return fail("naming %zu kernel addresses: %s", m, strerror(-err));
	for (i = 0; i < n; i++) {
		struct sym_result r;
		int k;

		if ((l[i].type != 'T' && l[i].type != 't') || !strncmp(l[i].name, "__pfx_", 6))
			continue;
		for (k = 0; k < 2; k++) {
			uint64_t addr = l[i].addr + (uint64_t)k;

			if (k && !(i + 1 < n && l[i + 1].addr > addr))
				continue;
			if ((err = symbolizer__kernel(s, addr, &r)))
				return fail("%016" PRIx64 ": %s", addr, strerror(-err));
			/* the ends of the text sections label no code, the
			 * kernel's lookup leaves ftrace's trampolines out, and a
			 * BPF program may be gone since kallsyms listed it */
			if (!r.name && (!strcmp(l[i].name, "_etext") ||
					!strcmp(l[i].name, "_einittext") ||
					!strcmp(l[i].name, "ftrace_trampoline") || l[i].bpf)) {
				unnamed++;
				continue;
			}
			if (!r.name)
				return fail("%016" PRIx64 " (%s): the kernel did not name it",
					    addr, l[i].name);
			checked++;
			if (alias_at(l, n, i, r.name) || padding_of(l, n, i, r.name))
				continue;
			return fail("%016" PRIx64 " (%s) named %s by the kernel", addr,
				    l[i].name, r.name);
		}
	}
	printf("knames: %zu kernel addresses named by the kernel as kallsyms names them, %zu "
	       "unnamed (section ends, ftrace trampolines, BPF programs gone since)\n", checked, unnamed);
	symbolizer__free(s);
	ksym_namer__free(kn);
	free(addrs);
	free(l);
	return checked ? 0 : fail("no text symbols in %s", path);
}

/* --- this process --- */

static uint64_t self_start_time(void)
{
	char text[4096];
	uint64_t start = 0;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text));

	if (fd >= 0)
		close(fd);
	if (n <= 0 || procfs__start_time(text, (size_t)n, &start))
		return 0;
	return start;
}

__attribute__((noinline)) int symcheck_marker(int x);
__attribute__((noinline)) int symcheck_marker(int x)
{
	return x * 31 + 7;
}

static int check_self(void)
{
	struct symbolizer *s = symbolizer__new(NULL);
	char p1[PATH_MAX], p2[PATH_MAX];
	struct sym_result r;
	Dl_info info;
	void *m;
	int64_t id;

	if (!s)
		return fail("symbolizer: %s", strerror(errno));
	id = symbolizer__proc(s, (uint32_t)getpid(), self_start_time());
	if (id < 0)
		return fail("own snapshot: %s", strerror((int)-id));
	if (symbolizer__user(s, id, (uint64_t)(uintptr_t)symcheck_marker + 2, &r) || !r.name ||
	    strcmp(r.name, "symcheck_marker") || !r.map || !strstr(r.map->path, "symcheck"))
		return fail("symcheck_marker+2 resolved to %s in %s", r.name ? r.name : "nothing",
			    r.map ? r.map->path : "no mapping");
	/* malloc as the dynamic linker sees it: dladdr must agree, up to aliases */
	m = dlsym(RTLD_DEFAULT, "malloc");
	if (!m || !dladdr(m, &info) || !info.dli_sname)
		return fail("dladdr(malloc) failed");
	if (symbolizer__user(s, id, (uint64_t)(uintptr_t)m, &r) || !r.name || !r.map)
		return fail("malloc at %p not resolved", m);
	if (strcmp(r.name, info.dli_sname) &&
	    dlsym(RTLD_DEFAULT, r.name) != dlsym(RTLD_DEFAULT, info.dli_sname))
		return fail("malloc resolved to %s, dladdr says %s", r.name, info.dli_sname);
	if (!realpath(info.dli_fname, p1) || !realpath(r.map->path, p2) || strcmp(p1, p2))
		return fail("malloc's file is %s, dladdr says %s", r.map->path, info.dli_fname);
	printf("self: symcheck_marker and %s (%s) resolved\n", r.name, r.map->path);
	symbolizer__free(s);
	return 0;
}

/* --- the vDSO --- */

static int check_vdso(void)
{
	uint64_t base = getauxval(AT_SYSINFO_EHDR);
	struct symbolizer *s;
	Elf_Scn *scn = NULL;
	size_t checked = 0;
	GElf_Shdr sh;
	int64_t id;
	Elf *elf;

	if (!base) {
		printf("vdso: none in this process\n");
		return SKIP;
	}
	elf_version(EV_CURRENT);
	/* the section headers end the image */
	{
		const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(uintptr_t)base;

		elf = elf_memory((char *)(uintptr_t)base,
				 eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize);
	}
	s = symbolizer__new(NULL);
	if (!elf || !s)
		return fail("vdso: cannot read the image");
	id = symbolizer__proc(s, (uint32_t)getpid(), self_start_time());
	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_DYNSYM)
			break;
	if (!scn)
		return fail("vdso: no .dynsym");
	{
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t i, n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		GElf_Phdr ph;
		uint64_t vbase = 0;

		/* symbol values are link-time addresses; the image starts at
		 * its first PT_LOAD's */
		for (i = 0; gelf_getphdr(elf, (int)i, &ph); i++)
			if (ph.p_type == PT_LOAD) {
				vbase = ph.p_vaddr;
				break;
			}
		for (i = 0; d && i < n; i++) {
			struct sym_result r;
			GElf_Sym sym;
			const char *name;
			uint64_t at;

			if (!gelf_getsym(d, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    !sym.st_size)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			at = base + sym.st_value - vbase + sym.st_size / 2;
			if (symbolizer__user(s, id, at, &r) || !r.map || strcmp(r.map->path, "[vdso]"))
				return fail("vdso: %s+%#" PRIx64 " not in [vdso]", name, sym.st_size / 2);
			/* the name bpprof gives must cover the address too: an alias */
			if (!r.name)
				return fail("vdso: %s+%#" PRIx64 " not named", name, sym.st_size / 2);
			if (strcmp(r.name, name)) {
				size_t j;
				bool alias = false;

				for (j = 0; j < n && !alias; j++) {
					GElf_Sym o;
					const char *on;

					if (!gelf_getsym(d, (int)j, &o) || o.st_value != sym.st_value)
						continue;
					on = elf_strptr(elf, sh.sh_link, o.st_name);
					alias = on && !strcmp(on, r.name);
				}
				if (!alias)
					return fail("vdso: %s+%#" PRIx64 " named %s", name,
						    sym.st_size / 2, r.name);
			}
			if (strchr(r.name, '@'))
				return fail("vdso: a symbol version in %s", r.name);
			checked++;
		}
	}
	elf_end(elf);
	symbolizer__free(s);
	printf("vdso: %zu functions resolved\n", checked);
	return checked ? 0 : fail("vdso: no function symbols");
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "kallsyms"))
		return check_kallsyms(argc > 2 ? argv[2] : "/proc/kallsyms");
	if (argc == 2 && !strcmp(argv[1], "knames"))
		return check_knames();
	if (argc == 2 && !strcmp(argv[1], "self"))
		return check_self();
	if (argc == 2 && !strcmp(argv[1], "vdso"))
		return check_vdso();
	fprintf(stderr, "usage: symcheck kallsyms [FILE] | knames | self | vdso\n");
	return 2;
}
