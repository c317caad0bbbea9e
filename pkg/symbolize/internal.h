/* What the symbolize sources share with each other and with their tests:
 * the pure text parsers (/proc/PID/maps, stat, status, kallsyms, perf maps),
 * the ELF readers, and every limit in one place. Not part of the interface. */
#ifndef BPPROF_SYMBOLIZE_INTERNAL_H
#define BPPROF_SYMBOLIZE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/stat.h>

#include <gelf.h>

#include "base/buf.h"
#include "base/lines.h"
#include "fileio/fileio.h"
#include "procfs/procfs.h"
#include "symbolize/symbolize.h"

/* --- limits (design rule 7) --- */

/* read() size for /proc text; also the longest line kept (longer ones are
 * skipped and counted). */
#define SYM_LINE_CHUNK		(64u << 10)
/* kallsyms is ~5 MiB: fewer, bigger reads. */
#define KALLSYMS_CHUNK		(256u << 10)
#define KALLSYMS_MAX_SYMS	(1u << 22)
/* Name offsets carry KSYM_PFX in their top bit. */
#define KALLSYMS_MAX_TEXT	(1u << 30)
/* The kernel's KSYM_NAME_LEN, plus room for "\t[module]". */
#define KSYM_NAME_MAX		640
/* Function padding (CONFIG_FUNCTION_PADDING_BYTES) at most this big is
 * folded into the function it precedes. */
#define KSYM_MAX_PFX		64
/* kallsyms has no sizes: a symbol covers the bytes up to the next one, but
 * never more than this (the largest kernel function is ~20 KiB; bigger gaps
 * are section ends, not code). */
#define KSYM_MAX_EXTENT		(64u << 10)

/* /proc/PID/maps is streamed; past these it is cut off (max_map_count is
 * 65530 by default, ~7 MiB of text). */
#define PROCMAPS_MAX_BYTES	(64u << 20)
#define PROCMAPS_MAX_EXEC	16384		/* executable mappings kept per process */
/* /proc/PID/stat and status are read whole into a stack buffer. */
#define PROC_SMALL_FILE_MAX	8192

/* perf-PID.map: a JIT can write a lot; beyond these the rest is ignored. */
#define PERFMAP_MAX_BYTES	(256u << 20)
#define PERFMAP_MAX_SYMS	(1u << 20)
#define PERFMAP_MAX_TEXT	(32u << 20)
#define PERFMAP_MAX_NAME	4096

/* ELF symbol tables: bounds per table. The sort needs 24 bytes per symbol
 * for a moment, the table keeps 16 plus the name. */
#define SYMTAB_MAX_SYMS		(1u << 20)
#define SYMTAB_MAX_TEXT		(32u << 20)
#define SYMTAB_MAX_NAME		8192
#define SYMTAB_MAX_NEST		4		/* enclosing symbols looked at behind the nearest */
#define ELF_MAX_LOADS		16		/* PT_LOAD segments kept per file */
#define ELF_MAX_SECTIONS	(1u << 20)	/* more is a broken or hostile file */
#define ELF_MAX_NOTES_BYTES	(64u << 10)	/* note segments read for the build-id */
#define BUILD_ID_MAX		64		/* bytes; SHA-1 ids are 20 */
#define VDSO_MAX_SIZE		(1u << 20)	/* ours is two pages */

/* Files kept open from snapshot to first lookup; past this, files are
 * reopened by path when first needed. Also at most half the soft limit. */
#define SYM_MAX_OPEN_FDS	4096
/* Snapshots, and memory for their mappings and paths. */
#define SYM_MAX_PROCS		(1u << 22)
#define SYM_MAX_REFRESHES	12u		/* fruitless maps re-reads per snapshot */
#define SYM_REFRESH_GAP_NS	(20ull * 1000000)	/* before the first; doubles */
#define SYM_ARENA_BUDGET	(64u << 20)
/* Demangled names: input longer than this is left as it is. */
#define DEMANGLE_MAX_INPUT	8192
#define DEMANGLE_BUDGET		(16u << 20)
#define DEMANGLE_MAX_ENTRIES	(1u << 20)
/* Kernel addresses named by the kernel, kept; past either, kallsyms is read
 * instead (a kernel has ~100,000 functions, a profile a few thousand). */
#define KNAME_MAX_ENTRIES	(1u << 18)
#define KNAME_BUDGET		(16u << 20)

/* DWARF (dwlines.c). Debug data held open: sections as read (decompressed)
 * plus our indexes of them; past this the least recently used file is
 * closed (and read again when needed), and a file that alone needs more
 * gets no lines. */
#define DWARF_OPEN_BUDGET	(256u << 20)
#define DWARF_MAX_OPEN		64		/* debug files open at once */
#define DWARF_MAX_FILE_BYTES	(1ull << 30)	/* debug sections of one file, as stored */
/* Answers per (file, address), both generations together. */
#define DWARF_CACHE_BUDGET	(32u << 20)
#define DWARF_MAX_DEPTH		32		/* lines per address: an inline chain */
#define DWARF_MAX_NEST		128		/* DIE nesting walked in a unit */
#define DWARF_MAX_NAME		8192		/* longer names and paths are cut */

/* --- kallsyms --- */

#define KSYM_PFX	0x80000000u	/* name flag: padding precedes the symbol */

struct ksyms {
	uint64_t *addrs;	/* sorted, distinct */
	uint32_t *names;	/* offsets into text, | KSYM_PFX */
	char *text;
	size_t n, text_len;
	uint32_t pfx;		/* padding bytes before flagged symbols */
	uint64_t zero_addrs;	/* lines with address 0 (kptr_restrict) */
	uint64_t bad_lines;
};

/* Replaces k with the text symbols of a kallsyms file. */
int ksyms__load_fd(struct ksyms *k, int fd);
int ksyms__load_text(struct ksyms *k, const char *text, size_t len);
/* Index of the symbol covering addr, or -1. */
int64_t ksyms__find(const struct ksyms *k, uint64_t addr);
static inline const char *ksyms__name(const struct ksyms *k, size_t i)
{
	return k->text + (k->names[i] & ~KSYM_PFX);
}
size_t ksyms__bytes(const struct ksyms *k);
/* The name in the kernel's %pS answer for an address, as kallsyms lines
 * are named above: "name", or "name [module]" (a BPF program's "[bpf]",
 * which %pS leaves out), padding named for the function after it. Its
 * length, written to out (cap bytes with the NUL); 0 for an address no
 * symbol covers ("0x..."); -EINVAL for text that is no %pS answer;
 * -ENAMETOOLONG. */
int ksyms__parse_ps(const char *text, char *out, size_t cap);
void ksyms__free(struct ksyms *k);

/* --- perf-PID.map --- */

struct psym {
	uint64_t start;
	uint32_t size;
	uint32_t name;
};

struct perfmap {
	struct psym *syms;	/* sorted by start */
	size_t n, cap;
	struct buf text;	/* names, NUL-terminated */
	uint64_t bad_lines;	/* malformed, too long or past the limits */
};

int perfmap__load_fd(struct perfmap *pm, int fd);
int perfmap__load_text(struct perfmap *pm, const char *text, size_t len);
/* The name covering addr, or NULL. */
const char *perfmap__find(const struct perfmap *pm, uint64_t addr);
void perfmap__free(struct perfmap *pm);

/* --- ELF --- */

struct elf_seg {
	uint64_t off, filesz, vaddr;
};

struct elf_info {
	char build_id[BUILD_ID_MAX * 2 + 1];	/* lowercase hex, "" for none */
	struct elf_seg segs[ELF_MAX_LOADS];
	uint32_t n_segs;
};

/* Build-id and PT_LOAD segments of an ELF executable or shared object:
 * 0, or -ENOEXEC when it is not one. */
int elfinfo__read(Elf *elf, struct elf_info *ei);
/* File offset of a mapped byte to its ELF virtual address. */
bool elfinfo__to_vaddr(const struct elf_seg *segs, uint32_t n, uint64_t off, uint64_t *vaddr);

struct esym {
	uint64_t addr;
	uint32_t size;
	uint32_t name;		/* offset into text */
};

struct esymtab {
	struct esym *syms;	/* sorted by addr, distinct addrs */
	char *text;
	size_t n, text_len;
	uint64_t dropped;	/* symbols past the limits */
};

/* Function symbols of the first section of type sh_type (SHT_SYMTAB or
 * SHT_DYNSYM): 0, -ENOENT when there is none, -ENOEXEC when malformed. */
int esymtab__load(struct esymtab *t, Elf *elf, GElf_Word sh_type);
/* The name of the function at vaddr, or NULL. */
const char *esymtab__find(const struct esymtab *t, uint64_t vaddr);
void esymtab__free(struct esymtab *t);

/* --- DWARF images --- */

/* The debug sections source lookups need, read (and decompressed) out of an
 * ELF file into an image of their own for elf_memory(). */
struct dwimage {
	char *data;
	size_t size;
	size_t map_size;	/* what is mapped, when mapped: a cached file's trailer too */
	bool mapped;		/* data is a mapping (anonymous, or a cached image's file),
				 * not malloc's */
};

/* elf is the file open on fd. 0; -ENOENT when it has no .debug_info,
 * -ENOEXEC when it is malformed, relocatable or of another byte order,
 * -E2BIG when the image would be larger than max (or
 * DWARF_MAX_FILE_BYTES), -ENOMEM. cache_dir: where images of compressed
 * sections are kept between runs (dwcache.c; NULL: nowhere), a directory
 * fileio__private_dir accepted. */
int dwimage__read(struct dwimage *img, Elf *elf, int fd, uint64_t max, const char *cache_dir);
void dwimage__free(struct dwimage *img);

/* The cache of decompressed images on disk (dwcache.c). */
#define DWCACHE_KEY_BYTES	FILEIO_CACHE_KEY
#define DWCACHE_BUDGET		FILEIO_CACHE_BUDGET	/* images and the other caches beside them */

struct dwcache_key {
	unsigned char bytes[DWCACHE_KEY_BYTES];
};

/* The key of an image: a hash of what identifies it (len bytes). */
void dwcache__key(struct dwcache_key *k, const void *what, size_t len);
/* The image of k, size bytes, mapped from dir into img: 0, or -errno
 * (a miss: absent, another size, another key in its trailer). */
int dwcache__load(const char *dir, const struct dwcache_key *k, size_t size, struct dwimage *img);
/* An image built straight into its cache file (no copy of it to write):
 * create maps a new file of size bytes into img (0, or -errno: build it
 * elsewhere); commit, once img is whole, publishes it as k's (img stays
 * valid, a private view from then on; a failure leaves it unpublished);
 * abort drops the file (img is freed by dwimage__free). */
struct dwcache_new {
	int dfd, fd;
	char name[FILEIO_CACHE_NAME], tmp[FILEIO_CACHE_NAME + 32];
};

int dwcache__create(const char *dir, const struct dwcache_key *k, size_t size, struct dwimage *img,
		    struct dwcache_new *nw);
void dwcache__commit(struct dwcache_new *nw, const struct dwcache_key *k, struct dwimage *img,
		     uint64_t budget);
void dwcache__abort(struct dwcache_new *nw);

/* --- files --- */

/* A regular file, without blocking on a FIFO put in its place; in_root:
 * path resolves inside dirfd as if it were /, as the process saw it. The
 * fd, or -errno (-EINVAL: not a regular file). */
int open_regular(int dirfd, const char *path, bool in_root, int flags, struct stat *st);

/* --- symbolizer internals the tests look at --- */

/* Symbol tables in use: files with one build-id share one. */
size_t symbolizer__n_symtabs(const struct symbolizer *s);
const struct ksyms *symbolizer__ksyms(const struct symbolizer *s);

#endif
