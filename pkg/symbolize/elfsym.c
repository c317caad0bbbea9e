/* ELF reading through libelf: the build-id and PT_LOAD segments of a file
 * (read when it is opened: a few pages), and its function symbols (read on
 * the first lookup): sorted once, names copied out so the file can be closed
 * and unmapped (a mapped file truncated later would SIGBUS us), sizes
 * honoured. A symbol without a size (hand-written assembly) covers the bytes
 * up to the next symbol or the end of its section. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "symbolize/internal.h"

static void hex(char *out, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool notes__build_id(Elf_Data *d, char *out)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;

	while (off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    !memcmp((const char *)d->d_buf + name_off, "GNU", 4) && nh.n_descsz > 0 &&
		    nh.n_descsz <= BUILD_ID_MAX) {
			hex(out, (const unsigned char *)d->d_buf + desc_off, nh.n_descsz);
			return true;
		}
		off = next;
	}
	return false;
}

int elfinfo__read(Elf *elf, struct elf_info *ei)
{
	GElf_Ehdr eh;
	size_t i, phnum;
	Elf_Scn *scn = NULL;

	memset(ei, 0, sizeof(*ei));
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) || elf_getphdrnum(elf, &phnum))
		return -ENOEXEC;
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		Elf_Data *d;

		if (!gelf_getphdr(elf, (int)i, &ph))
			return -ENOEXEC;
		if (ph.p_type == PT_LOAD && ei->n_segs < ELF_MAX_LOADS) {
			ei->segs[ei->n_segs].off = ph.p_offset;
			ei->segs[ei->n_segs].filesz = ph.p_filesz;
			ei->segs[ei->n_segs].vaddr = ph.p_vaddr;
			ei->n_segs++;
		} else if (ph.p_type == PT_NOTE && !ei->build_id[0] && ph.p_filesz &&
			   ph.p_filesz <= ELF_MAX_NOTES_BYTES) {
			d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz,
						 ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
			if (d)
				notes__build_id(d, ei->build_id);
		}
	}
	/* a debug file's segments may not say where its notes are */
	while (!ei->build_id[0] && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE && sh.sh_size <= ELF_MAX_NOTES_BYTES &&
		    (d = elf_getdata(scn, NULL)))
			notes__build_id(d, ei->build_id);
	}
	return 0;
}

bool elfinfo__to_vaddr(const struct elf_seg *segs, uint32_t n, uint64_t off, uint64_t *vaddr)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (off >= segs[i].off && off - segs[i].off < segs[i].filesz) {
			*vaddr = off - segs[i].off + segs[i].vaddr;
			return true;
		}
	}
	return false;
}

struct secinfo {
	uint64_t addr, size;
	bool exec;
};

/* A symbol while the table is built. */
struct tsym {
	uint64_t addr;
	uint32_t size;
	uint32_t name;		/* into the ELF string table */
	uint32_t idx;
	uint8_t rank;
	bool derived;		/* size from the section end, not st_size */
};

static size_t underscores(const char *s)
{
	size_t i = 0;

	while (s[i] == '_')
		i++;
	return i;
}

/* By address; of one address's names the best first: global over weak
 * over local, functions over untyped, sized over unsized, fewer leading
 * underscores ("malloc" over "__libc_malloc"), then the table's order. */
static int tsym__cmp(const void *a, const void *b, void *ctx)
{
	const struct tsym *x = a, *y = b;
	const char *strtab = ctx;
	size_t ux, uy;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	ux = underscores(strtab + x->name);
	uy = underscores(strtab + y->name);
	if (ux != uy)
		return ux < uy ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static struct secinfo *sections__read(Elf *elf, size_t *n)
{
	struct secinfo *secs;
	Elf_Scn *scn = NULL;

	if (elf_getshdrnum(elf, n) || *n > ELF_MAX_SECTIONS)
		return NULL;
	secs = calloc(*n ? *n : 1, sizeof(*secs));
	if (!secs)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		size_t i = elf_ndxscn(scn);
		GElf_Shdr sh;

		if (i < *n && gelf_getshdr(scn, &sh)) {
			secs[i].addr = sh.sh_addr;
			secs[i].size = sh.sh_size;
			secs[i].exec = (sh.sh_flags & SHF_EXECINSTR) && (sh.sh_flags & SHF_ALLOC);
		}
	}
	return secs;
}

static Elf_Scn *section__find(Elf *elf, GElf_Word sh_type, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, sh) && sh->sh_type == sh_type)
			return scn;
	return NULL;
}

/* Keep functions, and untyped symbols with a size in code (assembly
 * written with .size but no .type); drop undefined and absolute ones. */
static bool sym__wanted(const GElf_Sym *sym, const struct secinfo *sec, size_t strsz)
{
	int type = GELF_ST_TYPE(sym->st_info);

	if (sym->st_shndx == SHN_UNDEF || sym->st_shndx == SHN_ABS || !sym->st_value ||
	    !sym->st_name || sym->st_name >= strsz)
		return false;
	if (type == STT_FUNC || type == STT_GNU_IFUNC)
		return true;
	return type == STT_NOTYPE && sym->st_size && sec && sec->exec;
}

static int esymtab__collect(Elf_Data *data, size_t n, const struct secinfo *secs, size_t n_secs,
			    size_t strsz, struct tsym *out, size_t *n_out, uint64_t *dropped)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		const struct secinfo *sec = NULL;
		struct tsym *t;
		GElf_Sym sym;
		int bind;

		if (!gelf_getsym(data, (int)i, &sym))
			return -ENOEXEC;
		if (sym.st_shndx < SHN_LORESERVE && sym.st_shndx < n_secs)
			sec = &secs[sym.st_shndx];
		if (!sym__wanted(&sym, sec, strsz))
			continue;
		if (k >= SYMTAB_MAX_SYMS) {
			(*dropped)++;
			continue;
		}
		t = &out[k++];
		bind = GELF_ST_BIND(sym.st_info);
		t->addr = sym.st_value;
		t->size = sym.st_size > UINT32_MAX ? UINT32_MAX : (uint32_t)sym.st_size;
		t->name = (uint32_t)sym.st_name;
		t->idx = (uint32_t)i;
		t->rank = (uint8_t)((bind == STB_GLOBAL ? 8 : bind == STB_WEAK ? 4 : 0) +
				    (GELF_ST_TYPE(sym.st_info) != STT_NOTYPE ? 2 : 0) + (sym.st_size ? 1 : 0));
		t->derived = false;
		if (!t->size) {
			t->derived = true;
			if (sec && t->addr >= sec->addr && t->addr - sec->addr < sec->size) {
				uint64_t rest = sec->size - (t->addr - sec->addr);

				t->size = rest > UINT32_MAX ? UINT32_MAX : (uint32_t)rest;
			}
		}
	}
	*n_out = k;
	return 0;
}

/* Sorted, one name per address, unsized symbols cut at the next one; names
 * copied into t->text. */
static int esymtab__build(struct esymtab *t, struct tsym *ts, size_t n, const char *strtab,
			  size_t strsz)
{
	struct buf text = BUF_INIT(SYMTAB_MAX_TEXT);
	size_t i, k = 0, m = 0;
	int err = -ENOMEM;

	if (n)
		qsort_r(ts, n, sizeof(*ts), tsym__cmp, (void *)strtab);
	for (i = 0; i < n; i++)
		if (!k || ts[k - 1].addr != ts[i].addr)
			ts[k++] = ts[i];
	for (i = 0; i < k; i++) {
		if (ts[i].derived && i + 1 < k) {
			uint64_t gap = ts[i + 1].addr - ts[i].addr;

			if (!ts[i].size || gap < ts[i].size)
				ts[i].size = gap > UINT32_MAX ? UINT32_MAX : (uint32_t)gap;
		}
	}
	t->syms = malloc((k ? k : 1) * sizeof(*t->syms));
	if (!t->syms)
		goto err_free;
	for (i = 0; i < k; i++) {
		const char *name = strtab + ts[i].name;
		size_t len = strnlen(name, strsz - ts[i].name);
		size_t off = text.len;

		if (!ts[i].size || len > SYMTAB_MAX_NAME) {
			t->dropped += ts[i].size != 0;
			continue;
		}
		if (buf__append(&text, name, len + 1)) {
			t->dropped += k - i;
			break;
		}
		t->syms[m].addr = ts[i].addr;
		t->syms[m].size = ts[i].size;
		t->syms[m].name = (uint32_t)off;
		m++;
	}
	t->n = m;
	if (text.len && text.len < text.cap) {
		void *p = realloc(text.data, text.len);

		if (p) {
			text.data = p;
			text.cap = text.len;
		}
	}
	t->text = buf__take(&text, &t->text_len);
	if (m) {
		struct esym *s = realloc(t->syms, m * sizeof(*t->syms));

		if (s)
			t->syms = s;
	}
	return 0;

err_free:
	buf__free(&text);
	return err;
}

int esymtab__load(struct esymtab *t, Elf *elf, GElf_Word sh_type)
{
	GElf_Shdr sh, strsh;
	Elf_Scn *scn, *strscn;
	Elf_Data *data, *strd;
	struct secinfo *secs = NULL;
	struct tsym *ts = NULL;
	size_t n, n_secs, entsize, n_ts = 0;
	const char *strtab;
	int err = -ENOEXEC;

	memset(t, 0, sizeof(*t));
	scn = section__find(elf, sh_type, &sh);
	if (!scn)
		return -ENOENT;
	entsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
	data = elf_getdata(scn, NULL);
	strscn = elf_getscn(elf, sh.sh_link);
	if (!entsize || !data || !strscn || !gelf_getshdr(strscn, &strsh) ||
	    strsh.sh_type != SHT_STRTAB || !(strd = elf_getdata(strscn, NULL)) || !strd->d_size ||
	    ((const char *)strd->d_buf)[strd->d_size - 1] != '\0')
		return -ENOEXEC;
	strtab = strd->d_buf;
	n = data->d_size / entsize;
	secs = sections__read(elf, &n_secs);
	if (!secs)
		return -ENOEXEC;
	ts = malloc((n < SYMTAB_MAX_SYMS ? (n ? n : 1) : SYMTAB_MAX_SYMS) * sizeof(*ts));
	if (!ts) {
		err = -ENOMEM;
		goto out_free;
	}
	err = esymtab__collect(data, n, secs, n_secs, strd->d_size, ts, &n_ts, &t->dropped);
	if (!err)
		err = esymtab__build(t, ts, n_ts, strtab, strd->d_size);
	if (err)
		esymtab__free(t);
out_free:
	free(ts);
	free(secs);
	return err;
}

const char *esymtab__find(const struct esymtab *t, uint64_t vaddr)
{
	size_t lo = 0, hi = t->n, i;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* a sized symbol may sit inside a bigger one: look a few back */
	for (i = lo; i > 0 && lo - i < SYMTAB_MAX_NEST; i--) {
		const struct esym *e = &t->syms[i - 1];

		if (vaddr - e->addr < e->size)
			return t->text + e->name;
	}
	return NULL;
}

void esymtab__free(struct esymtab *t)
{
	free(t->syms);
	free(t->text);
	t->syms = NULL;
	t->text = NULL;
	t->n = t->text_len = 0;
}
