/* Call-frame information into unwind rows. libdw splits a CFI section into
 * its CIEs and FDEs (dwarf_next_cfi); each FDE's CFA program is run here,
 * once, from its CIE's initial state, tracking only what the BPF walker
 * uses: the CFA, the return address and RBP. (libdw's dwarf_cfi_addrframe
 * runs the program again for every row and cached FDEs in a tree: 26 ms
 * for python3's 64,575 rows, against ms here.) Each row is classified into
 * one of the few rules the walker follows; anything else becomes a cut
 * rule, so the walk stops there rather than guess. */
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
enum { REG_RBX = 3, REG_RBP = 6, REG_RSP = 7, REG_RIP = 16 };

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

/* --- CFA programs --- */

/* How a register of the caller is recovered. */
enum { R_UNSET, R_SAME, R_UNDEF, R_AT_CFA, R_IN_REG, R_OTHER };

struct reg_rule {
	uint8_t how;
	uint8_t reg;		/* R_IN_REG */
	int64_t off;		/* R_AT_CFA */
};

/* How the CFA is found. */
enum { C_UNSET, C_REG, C_PLT, C_SIGNAL, C_OTHER };

struct cfa_state {
	uint8_t cfa;
	uint8_t cfa_reg;	/* C_REG */
	uint8_t plt_k;		/* C_PLT */
	int64_t cfa_off;	/* C_REG, C_PLT */
	struct reg_rule ra, bp, bx;
};

#define MAX_REMEMBERED	16	/* DW_CFA_remember_state depth */

/* A CIE: what its FDEs need. */
struct cie {
	uint64_t off;
	uint64_t caf;		/* code alignment factor */
	int64_t daf;		/* data alignment factor */
	uint32_t ra_reg;	/* the return address column */
	uint8_t enc;		/* its FDEs' pointer encoding */
	bool z;			/* FDEs carry augmentation data */
	bool signal;		/* 'S': frames of signal trampolines */
	bool bad;		/* a program we could not run */
	struct cfa_state init;	/* after its initial instructions */
	const uint8_t *insns, *insns_end;
};

struct fde {
	uint64_t lo, hi;
	uint32_t cie;		/* index in the section's CIEs */
	uint8_t src;		/* 0: .eh_frame, 1: .debug_frame */
	const uint8_t *insns, *insns_end;
};

struct fdes {
	struct fde *v;
	size_t n, cap;
	struct cie *cies[2];	/* by source, each by offset (section order) */
	size_t n_cies[2], cap_cies[2];
	uint64_t covered;	/* bytes of code the FDEs of the last section cover */
	uint64_t sh_addr[2];	/* by source: the section's address, */
	const uint8_t *base[2];	/* and where its bytes are (DW_CFA_set_loc) */
};

/* The DW_OP_breg (0x70..0x8f) or DW_OP_lit (0x30..0x4f) op at *p. */
static bool op_breg(const uint8_t **p, const uint8_t *end, unsigned reg, int64_t *off)
{
	uint64_t v;

	if (*p >= end || **p != 0x70 + reg)
		return false;
	(*p)++;
	if (read_leb(p, end, true, &v))
		return false;
	*off = (int64_t)v;
	return true;
}

/* The two CFA expressions the walker knows, by their bytes: the PLT's
 * (binutils': RSP + N + ((RIP & 15) >= K ? 8 : 0)) and a signal frame's
 * (*(RSP + 160)). */
static void cfa_expression(struct cfa_state *s, const uint8_t *p, const uint8_t *end, bool signal)
{
	static const uint8_t plt_tail[] = { DW_OP_lit15, DW_OP_and, 0, DW_OP_ge, DW_OP_lit3, DW_OP_shl,
					    DW_OP_plus };
	int64_t off, rip_off;
	size_t i;

	s->cfa = C_OTHER;
	if (!op_breg(&p, end, REG_RSP, &off))
		return;
	if (signal && off == SIGFRAME_CFA && end - p == 1 && *p == DW_OP_deref) {
		s->cfa = C_SIGNAL;
		return;
	}
	if (!op_breg(&p, end, REG_RIP, &rip_off) || rip_off || (size_t)(end - p) != sizeof(plt_tail))
		return;
	for (i = 0; i < sizeof(plt_tail); i++)
		if (i == 2 ? p[i] < DW_OP_lit0 || p[i] > DW_OP_lit15 : p[i] != plt_tail[i])
			return;
	s->cfa = C_PLT;
	s->cfa_off = off;
	s->plt_k = (uint8_t)(p[2] - DW_OP_lit0);
}

/* The rule of register reg, or NULL for one the walker does not track. */
static struct reg_rule *reg_of(struct cfa_state *s, const struct cie *c, uint64_t reg)
{
	return reg == c->ra_reg ? &s->ra : reg == REG_RBP ? &s->bp : reg == REG_RBX ? &s->bx : NULL;
}

struct cfa_run {
	const struct cie *cie;
	struct cfa_state s;
	struct cfa_state saved[MAX_REMEMBERED];
	unsigned depth;
	uint64_t loc;
	uint8_t enc;		/* DW_CFA_set_loc's pointer encoding */
	uint64_t sh_addr;	/* where the section's bytes are, for pcrel */
	const uint8_t *base;
};

/* The instructions of a CFA program that set a rule: 0, or -EINVAL for
 * one it cannot read. Registers the walker does not track are skipped. */
static int cfa_operand(struct cfa_run *r, uint8_t op, const uint8_t **p, const uint8_t *end)
{
	const struct cie *c = r->cie;
	struct cfa_state *s = &r->s;
	uint64_t reg = 0, a = 0;
	struct reg_rule *rr;

	switch (op) {
	case DW_CFA_offset_extended:
	case DW_CFA_offset_extended_sf:
	case DW_CFA_val_offset:
	case DW_CFA_val_offset_sf:
	case DW_CFA_GNU_negative_offset_extended:
		if (read_leb(p, end, false, &reg) ||
		    read_leb(p, end, op == DW_CFA_offset_extended_sf || op == DW_CFA_val_offset_sf, &a))
			return -EINVAL;
		rr = reg_of(s, c, reg);
		if (op == DW_CFA_GNU_negative_offset_extended)
			a = -a;
		if (rr)	/* a value at an offset is not a saved register: not followed */
			*rr = op == DW_CFA_val_offset || op == DW_CFA_val_offset_sf
				      ? (struct reg_rule){ R_OTHER, 0, 0 }
				      : (struct reg_rule){ R_AT_CFA, 0, (int64_t)a * c->daf };
		return 0;
	case DW_CFA_restore_extended:
	case DW_CFA_undefined:
	case DW_CFA_same_value:
		if (read_leb(p, end, false, &reg))
			return -EINVAL;
		rr = reg_of(s, c, reg);
		if (rr)
			*rr = op == DW_CFA_restore_extended ? *reg_of((struct cfa_state *)&c->init, c, reg)
			      : (struct reg_rule){ op == DW_CFA_undefined ? R_UNDEF : R_SAME, 0, 0 };
		return 0;
	case DW_CFA_register:
		if (read_leb(p, end, false, &reg) || read_leb(p, end, false, &a))
			return -EINVAL;
		rr = reg_of(s, c, reg);
		if (rr)
			*rr = a < UNWIND_REGS ? (struct reg_rule){ R_IN_REG, (uint8_t)a, 0 }
					      : (struct reg_rule){ R_OTHER, 0, 0 };
		return 0;
	case DW_CFA_def_cfa:
	case DW_CFA_def_cfa_sf:
		if (read_leb(p, end, false, &reg) || read_leb(p, end, op == DW_CFA_def_cfa_sf, &a))
			return -EINVAL;
		s->cfa = C_REG;
		s->cfa_reg = reg < 256 ? (uint8_t)reg : 255;
		s->cfa_off = op == DW_CFA_def_cfa_sf ? (int64_t)a * c->daf : (int64_t)a;
		return 0;
	case DW_CFA_def_cfa_register:
		if (read_leb(p, end, false, &reg))
			return -EINVAL;
		if (s->cfa != C_REG)	/* a register without an offset */
			s->cfa = C_OTHER;
		s->cfa_reg = reg < 256 ? (uint8_t)reg : 255;
		return 0;
	case DW_CFA_def_cfa_offset:
	case DW_CFA_def_cfa_offset_sf:
		if (read_leb(p, end, op == DW_CFA_def_cfa_offset_sf, &a))
			return -EINVAL;
		if (s->cfa != C_REG)
			s->cfa = C_OTHER;
		s->cfa_off = op == DW_CFA_def_cfa_offset_sf ? (int64_t)a * c->daf : (int64_t)a;
		return 0;
	case DW_CFA_def_cfa_expression:
		if (read_leb(p, end, false, &a) || a > (uint64_t)(end - *p))
			return -EINVAL;
		cfa_expression(s, *p, *p + a, c->signal);
		*p += a;
		return 0;
	case DW_CFA_expression:
	case DW_CFA_val_expression:
		if (read_leb(p, end, false, &reg) || read_leb(p, end, false, &a) ||
		    a > (uint64_t)(end - *p))
			return -EINVAL;
		*p += a;
		rr = reg_of(s, c, reg);
		if (rr)
			*rr = (struct reg_rule){ R_OTHER, 0, 0 };
		return 0;
	default:	/* another architecture's, or a vendor's we do not know */
		return -EINVAL;
	}
}

/* Runs the program from *p until it moves the location (a new row begins:
 * 1, *p after that instruction, r->loc the new location) or ends (0).
 * -EINVAL for an instruction it cannot read: the rest has no rule. */
static int cfa_step(struct cfa_run *r, const uint8_t **p, const uint8_t *end)
{
	const struct cie *c = r->cie;
	uint64_t a, b, delta;
	struct reg_rule *rr;
	uint8_t op;

	while (*p < end) {
		op = *(*p)++;
		delta = 0;
		switch (op & 0xc0) {
		case DW_CFA_advance_loc:
			delta = op & 0x3f;
			goto advance;
		case DW_CFA_offset:
			if (read_leb(p, end, false, &a))
				return -EINVAL;
			rr = reg_of(&r->s, c, op & 0x3f);
			if (rr)
				*rr = (struct reg_rule){ R_AT_CFA, 0, (int64_t)a * c->daf };
			continue;
		case DW_CFA_restore:
			rr = reg_of(&r->s, c, op & 0x3f);
			if (rr)
				*rr = *reg_of((struct cfa_state *)&c->init, c, op & 0x3f);
			continue;
		}
		switch (op) {
		case DW_CFA_nop:
		case DW_CFA_GNU_args_size:
			if (op == DW_CFA_GNU_args_size && read_leb(p, end, false, &a))
				return -EINVAL;
			continue;
		case DW_CFA_set_loc:
			if (unwind__read_pointer(p, end, r->enc, r->sh_addr + (uint64_t)(*p - r->base), &a) ||
			    a < r->loc)
				return -EINVAL;
			r->loc = a;
			return 1;
		case DW_CFA_advance_loc1:
		case DW_CFA_advance_loc2:
		case DW_CFA_advance_loc4:
			b = op == DW_CFA_advance_loc1 ? 1 : op == DW_CFA_advance_loc2 ? 2 : 4;
			if ((uint64_t)(end - *p) < b)
				return -EINVAL;
			for (a = 0; a < b; a++)
				delta |= (uint64_t)(*p)[a] << (8 * a);
			*p += b;
			goto advance;
		case DW_CFA_remember_state:
			if (r->depth == MAX_REMEMBERED)
				return -EINVAL;
			r->saved[r->depth++] = r->s;
			continue;
		case DW_CFA_restore_state:
			if (!r->depth)
				return -EINVAL;
			r->s = r->saved[--r->depth];
			continue;
		default:
			if (cfa_operand(r, op, p, end))
				return -EINVAL;
			continue;
		}
advance:
		r->loc += delta * c->caf;
		if (delta)
			return 1;
	}
	return 0;
}
/* --- the FDE list --- */

static void cie_augmentation(struct cie *c, const Dwarf_CIE *d)
{
	const uint8_t *p = d->augmentation_data, *end = p + d->augmentation_data_size;
	const char *a = d->augmentation;
	uint64_t skip;
	uint8_t penc;

	c->enc = DW_EH_PE_absptr;
	if (!a || a[0] != 'z')
		return;
	c->z = true;
	for (a++; *a && p; a++) {
		switch (*a) {
		case 'R':
			if (p >= end)
				return;
			c->enc = *p++;
			break;
		case 'L':
			p++;
			break;
		case 'P':	/* the personality routine: skipped */
			if (p >= end)
				return;
			penc = *p++;
			if (unwind__read_pointer(&p, end, penc & 0x0f, 0, &skip))
				return;
			break;
		case 'S':
			c->signal = true;
			break;
		case 'B':
		case 'G':
			break;
		default:	/* unknown: what follows cannot be parsed */
			return;
		}
	}
}

static int cie_add(struct fdes *f, uint8_t src, uint64_t off, const Dwarf_CIE *d)
{
	struct cie *c;
	struct cfa_run r = { 0 };
	const uint8_t *p = d->initial_instructions;

	if (BUF_GROW_ARRAY(f->cies[src], f->cap_cies[src], f->n_cies[src] + 1))
		return -ENOMEM;
	c = &f->cies[src][f->n_cies[src]++];
	*c = (struct cie){
		.off = off,
		.caf = d->code_alignment_factor,
		.daf = d->data_alignment_factor,
		.ra_reg = d->return_address_register < UINT32_MAX ? (uint32_t)d->return_address_register
								    : UINT32_MAX,
	};
	cie_augmentation(c, d);
	/* the state every FDE of it starts from: initial instructions move
	 * no location, so one run to their end */
	r.cie = c;
	r.enc = c->enc;
	while (!c->bad) {
		int more = cfa_step(&r, &p, d->initial_instructions_end);

		c->bad = more < 0;
		if (more <= 0)
			break;
	}
	c->init = r.s;
	return 0;
}

static const struct cie *cie_find(const struct fdes *f, uint8_t src, uint64_t off, uint32_t *idx)
{
	size_t lo = 0, hi = f->n_cies[src];

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->cies[src][mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == f->n_cies[src] || f->cies[src][lo].off != off)
		return NULL;
	*idx = (uint32_t)lo;
	return &f->cies[src][lo];
}

/* One FDE, appended to f. One we cannot read is skipped. */
static int fde_add(struct fdes *f, uint8_t src, const Dwarf_FDE *d, const Elf_Data *data,
		   uint64_t sh_addr)
{
	const uint8_t *p = d->start, *base = data->d_buf;
	const struct cie *c;
	uint64_t lo, range, aug;
	uint32_t idx;

	c = cie_find(f, src, d->CIE_pointer, &idx);
	if (!c || unwind__read_pointer(&p, d->end, c->enc, sh_addr + (uint64_t)(p - base), &lo) ||
	    unwind__read_pointer(&p, d->end, c->enc & 0x0f, 0, &range) || !range || lo + range < lo)
		return 0;
	if (c->z && (read_leb(&p, d->end, false, &aug) || aug > (uint64_t)(d->end - p)))
		return 0;
	if (c->z)
		p += aug;
	if (BUF_GROW_ARRAY(f->v, f->cap, f->n + 1))
		return -ENOMEM;
	f->v[f->n++] = (struct fde){ lo, lo + range, idx, src, p, d->end };
	f->covered += range;
	return 0;
}

/* Every CIE and FDE of a CFI section (src: 0 .eh_frame, 1 .debug_frame)
 * into f. */
static int fdes_read(struct fdes *f, Elf *elf, const char *name, uint8_t src)
{
	const unsigned char *ident = (const unsigned char *)elf_getident(elf, NULL);
	Dwarf_Off off = 0, next;
	Dwarf_CFI_Entry e;
	Elf_Data *data;
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(elf, name, &sh);
	int err = 0;

	f->covered = 0;
	if (!scn || ((sh.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0))
		return -ENODATA;
	data = elf_getdata(scn, NULL);
	if (!ident || !data || !data->d_buf)
		return -ENODATA;
	f->sh_addr[src] = sh.sh_addr;
	f->base[src] = data->d_buf;
	while (!err && off < data->d_size) {
		if (dwarf_next_cfi(ident, data, src == 0, off, &next, &e))
			break;	/* the terminator, or bytes we cannot read: keep what we have */
		err = dwarf_cfi_cie_p(&e) ? cie_add(f, src, off, &e.cie)
					  : fde_add(f, src, &e.fde, data, sh.sh_addr);
		if (next <= off)
			break;
		off = next;
	}
	return err;
}

static void fdes_free(struct fdes *f)
{
	free(f->v);
	free(f->cies[0]);
	free(f->cies[1]);
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
	bool thin;

	if (!x86_64(elf) || find_section(elf, ".debug_frame", &sh))
		return false;
	fdes_read(&f, elf, ".eh_frame", 0);
	thin = f.covered * 2 < code_bytes(elf);
	fdes_free(&f);
	return thin;
}

/* --- rows --- */

static bool fits(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; }

/* A callee-saved register's rule: enum unwind_bp, *off where it is saved. */
static uint8_t saved_reg(const struct reg_rule *g, int16_t *off)
{
	if (g->how == R_UNSET || g->how == R_SAME)
		return UNWIND_BP_SAME;
	if (g->how == R_AT_CFA && fits(g->off, INT16_MIN, INT16_MAX)) {
		*off = (int16_t)g->off;
		return UNWIND_BP_AT_CFA;
	}
	return UNWIND_BP_UNDEF;
}

/* A row's state as a rule the walker can follow, or a NONE rule. */
static struct unwind_rule classify(const struct cfa_state *s)
{
	struct unwind_rule r = { .cfa = UNWIND_CFA_NONE };

	/* an undefined return address is the outermost frame, whatever the CFA */
	if (s->ra.how == R_UNDEF)
		return (struct unwind_rule){ .cfa = UNWIND_CFA_STOP };
	if (s->cfa == C_SIGNAL)
		return (struct unwind_rule){ .cfa = UNWIND_CFA_SIGNAL };
	if (s->cfa == C_REG && (s->cfa_reg == REG_RSP || s->cfa_reg == REG_RBP ||
				s->cfa_reg == REG_RBX))
		r.cfa = s->cfa_reg == REG_RSP ? UNWIND_CFA_SP :
			s->cfa_reg == REG_RBP ? UNWIND_CFA_BP : UNWIND_CFA_BX;
	else if (s->cfa == C_PLT)
		r.cfa = UNWIND_CFA_PLT;
	else
		return r;
	if (!fits(s->cfa_off, INT32_MIN, INT32_MAX))
		return (struct unwind_rule){ .cfa = UNWIND_CFA_NONE };
	r.cfa_off = (int32_t)s->cfa_off;
	r.plt_k = s->plt_k;
	if (s->ra.how == R_AT_CFA && fits(s->ra.off, INT16_MIN, INT16_MAX)) {
		r.ra = UNWIND_RA_AT_CFA;
		r.ra_off = (int16_t)s->ra.off;
	} else if (s->ra.how == R_IN_REG) {
		r.ra = UNWIND_RA_REG;
		r.ra_reg = s->ra.reg;
	} else {
		return (struct unwind_rule){ .cfa = UNWIND_CFA_NONE };
	}
	/* RBP and RBX are callee-saved: unmentioned, each is the same in the caller */
	r.bp = saved_reg(&s->bp, &r.bp_off);
	r.bx = saved_reg(&s->bx, &r.bx_off);
	return r;
}

struct build {
	struct unwind_rules *rules;
	struct unwind_entry *rows;
	size_t n, cap;
	uint32_t max_rows;
	uint64_t base, cursor;
	uint32_t cut;
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

/* The rows of one FDE, from where the last one ended: its program run
 * once, a row at each location it moves to. */
static int fde_rows(struct build *b, const struct fdes *f, const struct fde *fde)
{
	static const struct unwind_rule none = { .cfa = UNWIND_CFA_NONE };
	const struct cie *c = &f->cies[fde->src][fde->cie];
	uint64_t start = fde->lo > b->cursor ? fde->lo : b->cursor, row, row_end;
	struct cfa_run r = {
		.cie = c, .s = c->init, .loc = fde->lo, .enc = c->enc,
		.sh_addr = f->sh_addr[fde->src], .base = f->base[fde->src],
	};
	const uint8_t *p = fde->insns;
	struct unwind_rule rule;
	int err = 0, more;

	if (start >= fde->hi)
		return 0;
	if (b->n && start > b->cursor)	/* code between FDEs has no rule */
		err = emit(b, b->cursor, &none);
	while (!err) {
		row = r.loc;
		more = c->bad ? -EINVAL : cfa_step(&r, &p, fde->insns_end);
		rule = more < 0 ? none : classify(&r.s);
		row_end = more == 1 && r.loc < fde->hi ? r.loc : fde->hi;
		if (row_end > start && row < fde->hi) {
			b->cut += rule.cfa == UNWIND_CFA_NONE;
			err = emit(b, row > start ? row : start, &rule);
		}
		if (more != 1 || r.loc >= fde->hi)
			break;
	}
	b->cursor = fde->hi;
	return err;
}

/* The rows of every FDE, sorted, with a final row that ends the last. */
static int build_rows(struct build *b, struct fdes *f)
{
	static const struct unwind_rule none = { .cfa = UNWIND_CFA_NONE };
	size_t i;
	int err = 0;

	qsort(f->v, f->n, sizeof(*f->v), fde_cmp);
	b->base = b->cursor = f->v[0].lo;
	for (i = 0; !err && i < f->n; i++)
		err = fde_rows(b, f, &f->v[i]);
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

/* --- the layout in the row space --- */

/* One pass of unwind_table__place: with out NULL, only the slots it takes. */
static uint64_t place(const struct unwind_table *t, uint64_t at, uint32_t chunk,
		      struct unwind_entry *out)
{
	const struct unwind_entry *idx = t->entries, *rows = t->entries + t->pages;
	uint64_t seg = at + t->pages;	/* the slot of row `from` */
	uint32_t from = 0, done = 0;	/* rows [from, done) are written at seg on */
	uint32_t p, r;

	for (p = 0; p < t->pages; p++) {
		uint32_t first = idx[p].first, last = idx[p].last;
		uint64_t s;

		if (last < first || last >= t->n_rows) {	/* no rows: none found */
			if (out)
				out[p] = (struct unwind_entry){ .first = 1, .last = 0 };
			continue;
		}
		/* rows before this run's (an index out of order), or rows that
		 * would cross into the next chunk: a new run from first, at the
		 * next free slot, or the next chunk's start if they cross there
		 * too (the ones already written are written again) */
		if (first < from || (seg + first - from) / chunk != (seg + last - from) / chunk) {
			s = seg + done - from;
			if (s / chunk != (s + last - first) / chunk)
				s = (s + last - first) / chunk * chunk;
			seg = s;
			from = done = first;
		}
		for (r = done; r <= last; r++)
			if (out)
				out[seg + r - from - at] = rows[r];
		if (done <= last)
			done = last + 1;
		if (out)
			out[p] = (struct unwind_entry){ .first = (uint32_t)(seg + first - from),
							.last = (uint32_t)(seg + last - from) };
	}
	return seg + done - from - at;
}

struct unwind_entry *unwind_table__place(const struct unwind_table *t, uint64_t at,
					 uint32_t chunk, uint64_t *n)
{
	struct unwind_entry *out;

	*n = place(t, at, chunk, NULL);
	out = calloc(*n ? *n : 1, sizeof(*out));
	if (out)
		place(t, at, chunk, out);
	return out;
}

/* --- the table --- */

void unwind_table__free(struct unwind_table *t)
{
	free(t->entries);
	memset(t, 0, sizeof(*t));
}

int unwind_table__build(struct unwind_table *t, Elf *elf, Elf *debug, struct unwind_rules *rules,
			uint32_t max_rows)
{
	struct build b = { .rules = rules, .max_rows = max_rows };
	struct fdes f = { 0 };
	GElf_Shdr sh;
	int err;

	memset(t, 0, sizeof(*t));
	if (!x86_64(elf))
		return -ENODATA;
	err = fdes_read(&f, elf, ".eh_frame", 0);
	if (err == -ENOMEM)
		goto out;
	/* .eh_frame thin (code built without unwind tables): .debug_frame too,
	 * the file's own or its separate debug file's */
	if (f.covered * 2 < code_bytes(elf)) {
		Elf *src = find_section(elf, ".debug_frame", &sh) ? elf : debug;
		size_t before = f.n;

		if (src && x86_64(src)) {
			err = fdes_read(&f, src, ".debug_frame", 1);
			if (err == -ENOMEM)
				goto out;
			t->debug_frame = f.n > before;
		}
	}
	err = f.n ? build_rows(&b, &f) : -ENODATA;
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
	fdes_free(&f);
	return err;
}
