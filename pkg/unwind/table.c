/* Call-frame information into unwind rows. libdw interprets the CFA
 * programs (dwarf_cfi_addrframe gives each row and its extent); the FDE
 * list it has no public walk for is read here with dwarf_next_cfi and a
 * small pointer decoder. Rows are classified into the few rules the BPF
 * walker follows; anything else becomes a cut rule, so the walk stops
 * there rather than guessing. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "unwind/table.h"

#define RULE_SEED	0x72756c6573ull

/* x86-64 DWARF register numbers */
enum { REG_RBP = 6, REG_RSP = 7, REG_RIP = 16 };

/* At glibc's __restore_rt, RSP points at the kernel's ucontext; the
 * interrupted RSP is 160 bytes in (uc_mcontext at 40, rsp at 120 in it).
 * Its CFI says CFA = *(RSP + 160): that is how a signal frame is known. */
#define SIGFRAME_CFA	160

/* --- rules --- */

int unwind_rules__init(struct unwind_rules *r, uint32_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
	return htab__init(&r->index, 256);
}

void unwind_rules__free(struct unwind_rules *r)
{
	free(r->v);
	htab__free(&r->index);
	memset(r, 0, sizeof(*r));
}

static bool rule_eq(const void *ctx, uint32_t idx, const void *key)
{
	return !memcmp(&((const struct unwind_rules *)ctx)->v[idx], key, sizeof(struct unwind_rule));
}

int64_t unwind_rules__intern(struct unwind_rules *r, const struct unwind_rule *rule)
{
	uint32_t h = htab__hash(rule, sizeof(*rule), RULE_SEED);
	int64_t i = htab__find(&r->index, h, rule_eq, r, rule);

	if (i >= 0)
		return i;
	if (r->n >= r->max)
		return -ENOSPC;
	if (BUF_GROW_ARRAY(r->v, r->cap, r->n + 1) || htab__insert(&r->index, h, (uint32_t)r->n))
		return -ENOMEM;
	r->v[r->n] = *rule;
	return (int64_t)r->n++;
}

/* --- pointers and sections --- */

static int read_leb(const uint8_t **p, const uint8_t *end, bool sign, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t byte;

	do {
		if (*p >= end || shift > 63)
			return -EINVAL;
		byte = *(*p)++;
		v |= (uint64_t)(byte & 0x7f) << shift;
		shift += 7;
	} while (byte & 0x80);
	if (sign && shift < 64 && (byte & 0x40))
		v |= ~0ull << shift;
	*out = v;
	return 0;
}

int unwind__read_pointer(const uint8_t **p, const uint8_t *end, uint8_t enc, uint64_t field,
			 uint64_t *out)
{
	const uint8_t *q = *p;
	size_t size = 0, i;
	uint64_t v = 0;

	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		size = 8;
		break;
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		size = 4;
		break;
	case DW_EH_PE_udata2:
	case DW_EH_PE_sdata2:
		size = 2;
		break;
	case DW_EH_PE_uleb128:
	case DW_EH_PE_sleb128:
		if (read_leb(&q, end, (enc & 0x0f) == DW_EH_PE_sleb128, &v))
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (size) {
		if ((size_t)(end - q) < size)
			return -EINVAL;
		for (i = 0; i < size; i++)	/* little-endian: checked by the caller */
			v |= (uint64_t)q[i] << (8 * i);
		if ((enc & 0x0f) == DW_EH_PE_sdata4)
			v = (uint64_t)(int64_t)(int32_t)v;
		else if ((enc & 0x0f) == DW_EH_PE_sdata2)
			v = (uint64_t)(int64_t)(int16_t)v;
		q += size;
	}
	switch (enc & 0x70) {
	case DW_EH_PE_absptr:
		break;
	case DW_EH_PE_pcrel:
		v += field;
		break;
	default:	/* textrel, datarel, funcrel: not used for FDE ranges */
		return -EINVAL;
	}
	*p = q;
	*out = v;
	return 0;
}

static Elf_Scn *find_section(Elf *elf, const char *name, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, sh) || sh->sh_type == SHT_NOBITS)
			continue;
		n = elf_strptr(elf, shstrndx, sh->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

/* Bytes of executable code (every SHF_EXECINSTR section). */
static uint64_t code_bytes(Elf *elf)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	uint64_t n = 0;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_PROGBITS &&
		    (sh.sh_flags & (SHF_ALLOC | SHF_EXECINSTR)) == (SHF_ALLOC | SHF_EXECINSTR))
			n += sh.sh_size;
	return n;
}

/* --- the FDE list --- */

struct fde {
	uint64_t lo, hi;
	uint8_t src;		/* 0: .eh_frame, 1: .debug_frame */
};

struct cie_enc {
	uint64_t off;
	uint8_t enc;		/* its FDEs' pointer encoding */
};

struct fdes {
	struct fde *v;
	size_t n, cap;
	struct cie_enc *cies;	/* by offset: appended in section order */
	size_t n_cies, cap_cies;
	uint64_t covered;	/* bytes of code the FDEs of the last section cover */
};

/* The pointer encoding of a CIE's FDEs, from its 'z' augmentation. */
static uint8_t cie_encoding(const Dwarf_CIE *cie)
{
	const uint8_t *d = cie->augmentation_data, *end = d + cie->augmentation_data_size;
	const char *a = cie->augmentation;
	uint8_t enc = DW_EH_PE_absptr, penc;
	uint64_t skip;

	if (!a || a[0] != 'z' || !d)
		return enc;
	for (a++; *a; a++) {
		switch (*a) {
		case 'R':
			if (d >= end)
				return enc;
			enc = *d++;
			break;
		case 'L':
			d++;
			break;
		case 'P':	/* the personality routine: skipped */
			if (d >= end)
				return enc;
			penc = *d++;
			if (unwind__read_pointer(&d, end, penc & 0x0f, 0, &skip))
				return enc;
			break;
		case 'S':
		case 'B':
		case 'G':
			break;
		default:	/* unknown: what follows cannot be parsed */
			return enc;
		}
	}
	return enc;
}

static int cie_find(const struct fdes *f, uint64_t off)
{
	size_t lo = 0, hi = f->n_cies;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->cies[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->n_cies && f->cies[lo].off == off ? f->cies[lo].enc : -1;
}

/* One FDE's [lo, hi), appended to f. Entries we cannot read are skipped. */
static int fde_add(struct fdes *f, const Dwarf_FDE *fde, const Elf_Data *data, uint64_t sh_addr,
		   bool eh, uint8_t src)
{
	const uint8_t *p = fde->start, *base = data->d_buf;
	uint64_t lo, range;
	int enc = eh ? cie_find(f, fde->CIE_pointer) : DW_EH_PE_absptr;

	if (enc < 0 || unwind__read_pointer(&p, fde->end, (uint8_t)enc, sh_addr + (uint64_t)(p - base),
					    &lo) ||
	    unwind__read_pointer(&p, fde->end, (uint8_t)(enc & 0x0f), 0, &range) || !range ||
	    lo + range < lo)
		return 0;
	if (BUF_GROW_ARRAY(f->v, f->cap, f->n + 1))
		return -ENOMEM;
	f->v[f->n++] = (struct fde){ lo, lo + range, src };
	f->covered += range;
	return 0;
}

/* Every FDE of a CFI section into f. */
static int fdes_read(struct fdes *f, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, bool eh,
		     uint8_t src)
{
	const unsigned char *ident = (const unsigned char *)elf_getident(elf, NULL);
	Dwarf_Off off = 0, next;
	Dwarf_CFI_Entry e;
	Elf_Data *data;
	int err;

	f->n_cies = 0;
	f->covered = 0;
	if ((sh->sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0)
		return -ENODATA;
	data = elf_getdata(scn, NULL);
	if (!ident || !data || !data->d_buf)
		return -ENODATA;
	while (off < data->d_size) {
		if (dwarf_next_cfi(ident, data, eh, off, &next, &e))
			break;	/* the terminator, or bytes we cannot read: keep what we have */
		if (dwarf_cfi_cie_p(&e)) {
			if (BUF_GROW_ARRAY(f->cies, f->cap_cies, f->n_cies + 1))
				return -ENOMEM;
			f->cies[f->n_cies++] = (struct cie_enc){ off, cie_encoding(&e.cie) };
		} else {
			err = fde_add(f, &e.fde, data, sh->sh_addr, eh, src);
			if (err)
				return err;
		}
		if (next <= off)
			break;
		off = next;
	}
	return 0;
}

static int fde_cmp(const void *a, const void *b)
{
	const struct fde *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (int)x->src - (int)y->src;	/* .eh_frame first */
}

/* Our walker is x86-64's, reading little-endian 64-bit pointers. */
static bool x86_64(Elf *elf)
{
	GElf_Ehdr eh;

	return gelf_getehdr(elf, &eh) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
	       eh.e_ident[EI_DATA] == ELFDATA2LSB && eh.e_machine == EM_X86_64;
}

bool unwind__eh_frame_thin(Elf *elf)
{
	struct fdes f = { 0 };
	GElf_Shdr sh;
	Elf_Scn *scn;
	bool thin;

	if (!x86_64(elf) || find_section(elf, ".debug_frame", &sh))
		return false;
	scn = find_section(elf, ".eh_frame", &sh);
	if (scn)
		fdes_read(&f, elf, scn, &sh, true, 0);
	thin = f.covered * 2 < code_bytes(elf);
	free(f.v);
	free(f.cies);
	return thin;
}

/* --- rows --- */

static bool is_breg(const Dwarf_Op *op, unsigned reg, int64_t *off)
{
	if (op->atom == DW_OP_bregx && op->number == reg) {
		*off = (int64_t)op->number2;
		return true;
	}
	if (reg <= 31 && op->atom == DW_OP_breg0 + reg) {
		*off = (int64_t)op->number;
		return true;
	}
	return false;
}

/* libdw spells "saved at CFA + off" (DW_CFA_offset) this way. */
static bool at_cfa(const Dwarf_Op *ops, size_t n, int64_t *off)
{
	if (n == 1 && ops[0].atom == DW_OP_call_frame_cfa) {
		*off = 0;
		return true;
	}
	if (n == 2 && ops[0].atom == DW_OP_call_frame_cfa && ops[1].atom == DW_OP_plus_uconst) {
		*off = (int64_t)ops[1].number;
		return true;
	}
	return false;
}

/* The expression binutils writes for a PLT (.plt, .plt.sec): a stub's
 * first instructions run before its push, the rest after it. */
static bool is_plt(const Dwarf_Op *o, size_t n, int64_t *off, uint8_t *k)
{
	static const uint8_t tail[] = { DW_OP_lit15, DW_OP_and, 0, DW_OP_ge, DW_OP_lit3, DW_OP_shl,
					DW_OP_plus };
	int64_t rip_off;
	size_t i;

	if (n != 2 + sizeof(tail) || !is_breg(&o[0], REG_RSP, off) || !is_breg(&o[1], REG_RIP, &rip_off) ||
	    rip_off)
		return false;
	for (i = 0; i < sizeof(tail); i++) {
		uint8_t a = o[2 + i].atom;

		if (i == 2 ? a < DW_OP_lit0 || a > DW_OP_lit15 : a != tail[i])
			return false;
	}
	*k = (uint8_t)(o[4].atom - DW_OP_lit0);
	return true;
}

static bool fits(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; }

/* Where the caller's return address and RBP are: into r (whose CFA kind
 * is set); a rule we cannot follow leaves r NONE. */
static void classify_saved(Dwarf_Frame *f, int ra_reg, struct unwind_rule *r)
{
	Dwarf_Op mem[3], *ops;
	size_t n;
	int64_t off;

	if (dwarf_frame_register(f, ra_reg, mem, &ops, &n))
		goto none;
	if (at_cfa(ops, n, &off) && fits(off, INT16_MIN, INT16_MAX)) {
		r->ra = UNWIND_RA_AT_CFA;
		r->ra_off = (int16_t)off;
	} else if (n == 1 && ((ops[0].atom == DW_OP_regx && ops[0].number < UNWIND_REGS) ||
			      (ops[0].atom >= DW_OP_reg0 && ops[0].atom < DW_OP_reg0 + UNWIND_REGS))) {
		r->ra = UNWIND_RA_REG;
		r->ra_reg = (uint8_t)(ops[0].atom == DW_OP_regx ? ops[0].number
								: (Dwarf_Word)(ops[0].atom - DW_OP_reg0));
	} else {
		goto none;
	}
	r->bp = UNWIND_BP_UNDEF;
	if (dwarf_frame_register(f, REG_RBP, mem, &ops, &n))
		return;
	if (n == 0 && ops == NULL)
		r->bp = UNWIND_BP_SAME;
	else if (at_cfa(ops, n, &off) && fits(off, INT16_MIN, INT16_MAX)) {
		r->bp = UNWIND_BP_AT_CFA;
		r->bp_off = (int16_t)off;
	}
	return;
none:
	*r = (struct unwind_rule){ .cfa = UNWIND_CFA_NONE };
}

/* One CFI row as a rule the walker can follow, or a NONE rule. */
static struct unwind_rule classify(Dwarf_Frame *f, bool signal, int ra_reg)
{
	struct unwind_rule r = { .cfa = UNWIND_CFA_NONE };
	Dwarf_Op mem[3], *ops;
	size_t n;
	int64_t off;
	uint8_t k;

	/* An undefined return address is the outermost frame, whatever
	 * the CFA. */
	if (!dwarf_frame_register(f, ra_reg, mem, &ops, &n) && n == 0 && ops == mem)
		return (struct unwind_rule){ .cfa = UNWIND_CFA_STOP };
	if (dwarf_frame_cfa(f, &ops, &n) || n == 0)
		return r;
	if (signal) {
		if (n == 2 && is_breg(&ops[0], REG_RSP, &off) && off == SIGFRAME_CFA &&
		    ops[1].atom == DW_OP_deref)
			r.cfa = UNWIND_CFA_SIGNAL;
		return r;
	}
	if (n == 1 && is_breg(&ops[0], REG_RSP, &off) && fits(off, INT32_MIN, INT32_MAX)) {
		r.cfa = UNWIND_CFA_SP;
	} else if (n == 1 && is_breg(&ops[0], REG_RBP, &off) && fits(off, INT32_MIN, INT32_MAX)) {
		r.cfa = UNWIND_CFA_BP;
	} else if (is_plt(ops, n, &off, &k) && fits(off, INT32_MIN, INT32_MAX)) {
		r.cfa = UNWIND_CFA_PLT;
		r.plt_k = k;
	} else {
		return r;
	}
	r.cfa_off = (int32_t)off;
	classify_saved(f, ra_reg, &r);
	return r;
}

struct build {
	struct unwind_rules *rules;
	struct unwind_entry *rows;
	size_t n, cap;
	uint32_t max_rows;
	uint64_t base, cursor;
	uint32_t none, cut;
};

/* A row from pc on: merged into the last when the rule is the same. */
static int emit(struct build *b, uint64_t pc, const struct unwind_rule *rule)
{
	int64_t id = unwind_rules__intern(b->rules, rule);
	uint64_t rel = pc - b->base;

	if (id < 0)
		return (int)id;
	if (b->n && b->rows[b->n - 1].rule == (uint32_t)id)
		return 0;
	if (b->n && b->rows[b->n - 1].pc == rel) {	/* a row of no length */
		b->n--;
		if (b->n && b->rows[b->n - 1].rule == (uint32_t)id)
			return 0;
	}
	if (rel > UINT32_MAX || b->n >= b->max_rows)
		return -E2BIG;
	if (BUF_GROW_ARRAY(b->rows, b->cap, b->n + 1))
		return -ENOMEM;
	b->rows[b->n++] = (struct unwind_entry){ .pc = (uint32_t)rel, .rule = (uint32_t)id };
	return 0;
}

/* The rows of one FDE, from where the last one ended. */
static int fde_rows(struct build *b, Dwarf_CFI *cfi, const struct fde *fde)
{
	static const struct unwind_rule none = { .cfa = UNWIND_CFA_NONE };
	uint64_t addr = fde->lo > b->cursor ? fde->lo : b->cursor;
	int err = 0;

	if (addr >= fde->hi)
		return 0;
	if (b->n && addr > b->cursor)	/* code between FDEs has no rule */
		err = emit(b, b->cursor, &none);
	while (!err && addr < fde->hi) {
		struct unwind_rule rule;
		Dwarf_Addr start, end;
		Dwarf_Frame *frame;
		bool signal;
		int ra;

		if (dwarf_cfi_addrframe(cfi, addr, &frame))
			break;
		ra = dwarf_frame_info(frame, &start, &end, &signal);
		rule = ra < 0 ? none : classify(frame, signal, ra);
		free(frame);
		b->cut += rule.cfa == UNWIND_CFA_NONE;
		err = emit(b, addr, &rule);
		if (end <= addr)
			break;
		addr = end;
	}
	b->cursor = fde->hi;
	return err;
}

/* The rows of every FDE, sorted, with a final row that ends the last. */
static int build_rows(struct build *b, struct fdes *f, Dwarf_CFI *eh, Dwarf_CFI *debug)
{
	static const struct unwind_rule none = { .cfa = UNWIND_CFA_NONE };
	int64_t id = unwind_rules__intern(b->rules, &none);
	size_t i;
	int err = 0;

	if (id < 0)
		return (int)id;
	b->none = (uint32_t)id;
	qsort(f->v, f->n, sizeof(*f->v), fde_cmp);
	b->base = b->cursor = f->v[0].lo;
	for (i = 0; !err && i < f->n; i++)
		err = fde_rows(b, f->v[i].src ? debug : eh, &f->v[i]);
	if (!err)
		err = emit(b, b->cursor, &none);
	return err;
}

/* --- the page index --- */

/* Fills idx for shift: the largest number of rows a page spans. */
static uint32_t fill_index(struct unwind_entry *idx, uint32_t pages, unsigned shift,
			   const struct unwind_entry *rows, uint32_t n)
{
	uint32_t p, first = 0, last = 0, worst = 0;

	for (p = 0; p < pages; p++) {
		uint64_t lo = (uint64_t)p << shift, hi = lo + (1ull << shift) - 1;

		while (first + 1 < n && rows[first + 1].pc <= lo)
			first++;
		if (last < first)
			last = first;
		while (last + 1 < n && rows[last + 1].pc <= hi)
			last++;
		if (idx)
			idx[p] = (struct unwind_entry){ .first = first, .last = last };
		if (last - first > worst)
			worst = last - first;
	}
	return worst;
}

int unwind_table__index(struct unwind_table *t, const struct unwind_entry *rows, uint32_t n_rows)
{
	uint64_t span = (uint64_t)rows[n_rows - 1].pc + 1, want;
	unsigned shift = 0;
	uint32_t pages;

	/* about UNWIND_ROWS_PER_PAGE rows a page on average... */
	want = (span * UNWIND_ROWS_PER_PAGE) / n_rows;
	while (shift < 32 && (1ull << (shift + 1)) <= want)
		shift++;
	/* ...and no page past UNWIND_MAX_SPAN: at shift 7 a page holds at
	 * most 129 rows, since no two start at the same pc */
	for (;; shift--) {
		pages = (uint32_t)(((span - 1) >> shift) + 1);
		if (shift == 0 || fill_index(NULL, pages, shift, rows, n_rows) <= UNWIND_MAX_SPAN)
			break;
	}
	t->entries = malloc(((size_t)pages + n_rows) * sizeof(*t->entries));
	if (!t->entries)
		return -ENOMEM;
	fill_index(t->entries, pages, shift, rows, n_rows);
	memcpy(t->entries + pages, rows, (size_t)n_rows * sizeof(*rows));
	t->pages = pages;
	t->n_rows = n_rows;
	t->shift = shift;
	return 0;
}

const struct unwind_entry *unwind_table__lookup(const struct unwind_table *t, uint64_t pc)
{
	const struct unwind_entry *rows = t->entries + t->pages;
	uint64_t rel = pc - t->base;
	uint32_t lo, hi, mid;
	int step;

	if (pc < t->base || rel > UINT32_MAX || !t->n_rows || (rel >> t->shift) >= t->pages)
		return NULL;
	lo = t->entries[rel >> t->shift].first;
	hi = t->entries[rel >> t->shift].last;
	/* the same bounded search as the BPF walker's */
	for (step = 0; step < UNWIND_SEARCH_STEPS && lo < hi; step++) {
		mid = lo + (hi - lo + 1) / 2;
		if (rows[mid].pc <= rel)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo == hi && rows[lo].pc <= rel ? &rows[lo] : NULL;
}

/* --- the table --- */

void unwind_table__free(struct unwind_table *t)
{
	free(t->entries);
	memset(t, 0, sizeof(*t));
}

/* The FDEs of a CFI section of elf, and libdw's reader for it. */
static int add_source(struct fdes *f, Elf *elf, const char *name, uint8_t src, Dwarf **dw,
		      Dwarf_CFI **cfi)
{
	GElf_Shdr sh;
	Elf_Scn *scn;

	if (src == 0) {
		*cfi = dwarf_getcfi_elf(elf);
	} else {
		/* libdw decompresses .debug_frame as it opens it */
		*dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
		*cfi = *dw ? dwarf_getcfi(*dw) : NULL;
	}
	scn = find_section(elf, name, &sh);
	if (!*cfi || !scn)
		return -ENODATA;
	return fdes_read(f, elf, scn, &sh, src == 0, src);
}

int unwind_table__build(struct unwind_table *t, Elf *elf, Elf *debug, struct unwind_rules *rules,
			uint32_t max_rows)
{
	struct build b = { .rules = rules, .max_rows = max_rows };
	struct fdes f = { 0 };
	Dwarf_CFI *eh = NULL, *dcfi = NULL;
	Dwarf *dw = NULL;
	int err;

	memset(t, 0, sizeof(*t));
	if (!x86_64(elf))
		return -ENODATA;
	err = add_source(&f, elf, ".eh_frame", 0, NULL, &eh);
	if (err == -ENOMEM)
		goto out;
	/* .eh_frame thin (built without unwind tables): .debug_frame too */
	if (f.covered * 2 < code_bytes(elf)) {
		GElf_Shdr sh;
		Elf *src = find_section(elf, ".debug_frame", &sh) ? elf : debug;

		if (src && x86_64(src)) {
			err = add_source(&f, src, ".debug_frame", 1, &dw, &dcfi);
			t->debug_frame = !err && dcfi;
		}
	}
	err = f.n ? build_rows(&b, &f, eh, dcfi) : -ENODATA;
	if (!err && b.n < 2)
		err = -ENODATA;
	if (!err) {
		t->base = b.base;
		t->fdes = (uint32_t)f.n;
		t->cut_rows = b.cut;
		err = unwind_table__index(t, b.rows, (uint32_t)b.n);
	}
out:
	free(b.rows);
	free(f.v);
	free(f.cies);
	if (dw)
		dwarf_end(dw);
	if (eh)
		dwarf_cfi_end(eh);
	return err;
}
