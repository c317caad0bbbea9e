/* Which allocator functions an ELF file defines, and at which file offsets
 * (what a uprobe is attached to); also the dynamic linker's hook that says
 * new objects were loaded. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gelf.h>

#include "collect/heap.h"
#include "collect/internal.h"

const struct alloc_fn alloc_fns[ALLOC_FNS] = {
	{ "malloc", HEAP_MALLOC },
	{ "calloc", HEAP_CALLOC },
	{ "realloc", HEAP_REALLOC },
	{ "reallocarray", HEAP_REALLOCARRAY },
	{ "posix_memalign", HEAP_POSIX_MEMALIGN },
	{ "aligned_alloc", HEAP_ALIGNED },
	{ "memalign", HEAP_ALIGNED },
	{ "valloc", HEAP_MALLOC },
	{ "pvalloc", HEAP_MALLOC },
	{ "free", HEAP_FREE },
	{ "mmap", HEAP_MMAP },		/* only with heap_collect_opts.mmap */
	{ "munmap", HEAP_MUNMAP },
	/* the dynamic linker's debugger hook: called once objects are mapped,
	 * before their code runs (startup, dlopen) */
	{ "_dl_debug_state", HEAP_LINKMAP },
};

int alloc_fn__index(const char *name)
{
	int i;

	for (i = 0; i < ALLOC_FNS; i++)
		if (!strcmp(name, alloc_fns[i].name))
			return i;
	return -1;
}

/* Bytes of flags-only instructions at a function's start that the kernel
 * would single-step (slow: ~10 µs a trap on a VM) rather than emulate, and
 * that change no register or the stack: a probe placed after them sees the
 * same arguments and return address, and costs an emulated trap. x86-64
 * only; glibc's free begins with test %rdi,%rdi, its aligned allocators
 * with cmpb $0,flag(%rip). */
static uint64_t flags_only_prologue(const uint8_t *p, size_t avail)
{
	uint64_t skip = 0;
	int n;

	for (n = 0; n < 2; n++) {
		const uint8_t *q = p + skip;
		size_t left = avail - skip;

		if (left >= 3 && q[0] == 0x48 && q[1] == 0x85 && q[2] == 0xff)
			skip += 3;		/* test %rdi,%rdi */
		else if (left >= 7 && q[0] == 0x80 && q[1] == 0x3d)
			skip += 7;		/* cmpb $imm8,disp32(%rip) */
		else
			break;
	}
	return skip;
}

static uint64_t probe_point(Elf *elf, GElf_Half machine, uint64_t off)
{
	size_t size;
	const char *image = elf_rawfile(elf, &size);

	if (machine != EM_X86_64 || !image || off >= size)
		return off;
	return off + flags_only_prologue((const uint8_t *)image + off,
					 size - off < 16 ? size - off : 16);
}

int collect__elf_offset(Elf *elf, uint64_t vaddr, uint64_t *off)
{
	size_t i, n;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

static void scan(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct alloc_syms *out)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, n;

	if (!data || !sh->sh_entsize)
		return;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *name;
		uint64_t off;
		int k;

		if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
		    GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    GELF_ST_BIND(sym.st_info) == STB_LOCAL)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name || (k = alloc_fn__index(name)) < 0 || out->found[k])
			continue;
		if (collect__elf_offset(elf, sym.st_value, &off))
			continue;
		out->off[k] = off;
		out->found[k] = true;
	}
}

int alloc_syms__read(Elf *elf, struct alloc_syms *out)
{
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;
	int i, j;

	memset(out, 0, sizeof(*out));
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN))
		return -ENOEXEC;
	{
		size_t k, n;

		if (elf_getphdrnum(elf, &n))
			return -ENOEXEC;
		for (k = 0; k < n; k++) {
			GElf_Phdr ph;

			if (gelf_getphdr(elf, (int)k, &ph) && ph.p_type == PT_INTERP)
				out->interp = true;
		}
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			return -ENOEXEC;
		if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) {
			out->has_symbols = true;
			scan(elf, scn, &sh, out);
		}
	}
	/* One function under two names (glibc's memalign and aligned_alloc)
	 * is probed once, or each call would count twice. */
	for (i = 0; i < ALLOC_FNS; i++) {
		if (!out->found[i])
			continue;
		for (j = 0; j < i; j++)
			if (out->found[j] && out->off[j] == out->off[i])
				break;
		out->alias[i] = j < i;
		out->n += !out->alias[i];
		out->probe[i] = probe_point(elf, eh.e_machine, out->off[i]);
	}
	return 0;
}

int alloc_syms__read_file(const char *path, struct alloc_syms *out)
{
	Elf *elf;
	int fd, err;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	err = elf ? alloc_syms__read(elf, out) : -ENOEXEC;
	elf_end(elf);
	close(fd);
	return err;
}

bool alloc_syms__allocates(const struct alloc_syms *s)
{
	int i;

	for (i = 0; i < ALLOC_FNS; i++)
		if (s->found[i] && alloc_fns[i].kind != HEAP_FREE && alloc_fns[i].kind != HEAP_MMAP &&
		    alloc_fns[i].kind != HEAP_MUNMAP && alloc_fns[i].kind != HEAP_LINKMAP)
			return true;
	return false;
}

bool alloc_syms__loads(const struct alloc_syms *s)
{
	return s->found[alloc_fn__index("_dl_debug_state")];
}
