/* One ELF file's unwind table, built from its call-frame information
 * (.eh_frame, and .debug_frame where .eh_frame is thin) with libdw: every
 * CFI row classified into a rule the BPF walker follows (bpf/unwind.h),
 * rules deduplicated across files, consecutive rows with the same rule
 * merged, gaps between FDEs marked, and a page index over the rows. */
#ifndef BPPROF_UNWIND_TABLE_H
#define BPPROF_UNWIND_TABLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libelf.h>

#include "base/htab.h"
#include "bpf/unwind.h"

#define UNWIND_MAX_FILE_ROWS	(1u << 21)	/* rows of one file: 16 MiB of entries */
#define UNWIND_ROWS_PER_PAGE	8u		/* the index aims at this many rows per page */

/* Distinct rules, shared by every table: an id is an index in v. */
struct unwind_rules {
	struct unwind_rule *v;
	size_t n, cap;
	uint32_t max;			/* ids are < max */
	struct htab index;
};

int unwind_rules__init(struct unwind_rules *r, uint32_t max);
void unwind_rules__free(struct unwind_rules *r);
/* The id of rule (padding zeroed), added when new: >= 0, -ENOSPC past
 * max, -ENOMEM. */
int64_t unwind_rules__intern(struct unwind_rules *r, const struct unwind_rule *rule);

struct unwind_table {
	uint64_t base;			/* ELF address of pc 0 */
	struct unwind_entry *entries;	/* pages index entries, then n_rows rows */
	uint32_t pages, n_rows, shift;
	uint32_t fdes;			/* FDEs the rows came from */
	uint32_t cut_rows;		/* rows with a rule the walker cannot follow */
	bool debug_frame;		/* some rows came from .debug_frame */
};

/* elf's table (debug: the separate debug file's ELF, or NULL), in t:
 * 0; -ENODATA when it has no CFI; -E2BIG past max_rows or when the
 * code spans 4 GiB or more; -ENOSPC when the rules are full; -ENOMEM. */
int unwind_table__build(struct unwind_table *t, Elf *elf, Elf *debug, struct unwind_rules *rules,
			uint32_t max_rows);
void unwind_table__free(struct unwind_table *t);
/* .eh_frame covers less than half of the executable sections and elf has
 * no .debug_frame of its own: a separate debug file may add rows. */
bool unwind__eh_frame_thin(Elf *elf);

/* Tables kept in a cache directory between runs (tcache.c), by the build-id
 * of their file and bpprof's own. Load: 0 with t built and its rules
 * interned in rules, or -errno (a miss: absent, damaged, the rules full).
 * Store: t (its rule ids rules') written, the directory trimmed; nothing
 * said when it cannot be. */
int unwind_tcache__load(const char *dir, const uint8_t *id, size_t id_len,
			struct unwind_rules *rules, struct unwind_table *t);
void unwind_tcache__store(const char *dir, const uint8_t *id, size_t id_len,
			  const struct unwind_rules *rules, const struct unwind_table *t);

/* The rows' entry for pc (an ELF address), as the BPF walker finds it
 * through the page index; NULL when no row holds it. */
const struct unwind_entry *unwind_table__lookup(const struct unwind_table *t, uint64_t pc);

/* t laid out in the BPF row space from slot `at` on, in chunks of `chunk`
 * entries: its page index, then its rows, with the index's first and last
 * turned into slots of the row space. The walker searches a page's rows
 * through one chunk, so no page's rows may cross from one chunk into the
 * next: where they would, the rows go on from the next chunk's start (the
 * page's earlier ones written again, the slots skipped zero; a page with
 * no rows within the table gets none). The entries for slots
 * [at, at + *n), in a new buffer; NULL when out of memory. */
struct unwind_entry *unwind_table__place(const struct unwind_table *t, uint64_t at,
					 uint32_t chunk, uint64_t *n);

/* Pure helpers, exposed for tests. */
/* rows (sorted by pc, row 0 at pc 0) into t: the page index in front of
 * them, its shift chosen for about UNWIND_ROWS_PER_PAGE rows per page and
 * never more than UNWIND_MAX_SPAN in one. 0 or -ENOMEM. */
int unwind_table__index(struct unwind_table *t, const struct unwind_entry *rows, uint32_t n_rows);
/* A DWARF pointer (DW_EH_PE_*) at *p, advanced past it; field is the
 * field's own address (pcrel). 0, or -EINVAL for an encoding CFI ranges
 * do not use or a short buffer. */
int unwind__read_pointer(const uint8_t **p, const uint8_t *end, uint8_t enc, uint64_t field,
			 uint64_t *out);

#endif
