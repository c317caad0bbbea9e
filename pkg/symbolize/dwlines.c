/* DWARF lines and inline frames. A file's debug info is looked for once
 * (dwlines__attach); a Dwarf handle reads the sections it needs into an
 * image in memory (dwimage.c) and is closed again, least recently used
 * first, past the budget. Each compile unit is walked once, on its first
 * lookup, into a flat table of address segments, each naming its innermost
 * function or inlined call, so a lookup is two binary searches and a walk
 * up the inline chain: libdw's dwarf_getscopes walks the unit's DIE tree on
 * every call instead. Answers are kept per (file, address) in two
 * generations: when the newer one fills half the budget the older is
 * dropped, so what recent windows used stays. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <libiberty/demangle.h>
#include <zlib.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/htab.h"
#include "base/log.h"
#include "base/strmap.h"
#include "fileio/fileio.h"
#include "symbolize/dwlines.h"
#include "symbolize/internal.h"

#define NONE		UINT32_MAX
#define SEED_CACHE	0x6477636163686531ull
#define SEED_FUNC	0x647766756e633031ull
#define PATHS_BUDGET	(4u << 20)	/* where each file's DWARF is */
#define CRC_CHUNK	(64u << 10)
#define LINE_ROW_BYTES	48		/* libdw's parsed line row, about */

enum dwfile_state { DWF_UNSEEN, DWF_NONE, DWF_FOUND, DWF_FAILED };

/* Where a file's DWARF is, by the caller's file id. */
struct dwfile {
	const char *root;	/* open path inside it; NULL: the host's */
	const char *path;	/* NULL: cannot be opened again */
	uint64_t inode;		/* 0: any */
	uint32_t handle;	/* NONE: not open */
	uint8_t state;
};

/* A function or inlined call covering some of a unit's code. */
struct dwnode {
	Dwarf_Off off;
	uint32_t parent;	/* the enclosing node, NONE: none */
	bool inlined;		/* DW_TAG_inlined_subroutine */
};

/* From start up to the next segment, node is the innermost (NONE: none). */
struct dwseg {
	uint64_t start;
	uint32_t node;
};

struct dwunit {
	Dwarf_Off off;		/* the unit's DIE */
	struct dwnode *nodes;
	struct dwseg *segs;
	uint32_t n_nodes, n_segs;
	bool indexed;
};

struct unit_range {
	uint64_t lo, hi;
	uint32_t unit;
};

struct dwfunc {
	Dwarf_Off off;
	const char *name, *system_name, *decl_file;	/* in the handle's arena */
	uint32_t decl_line;
};

struct dwhandle {
	struct dwimage image;
	Elf *elf;		/* over image */
	Dwarf *dbg;
	struct dwunit *units;
	size_t n_units;
	struct unit_range *ranges;	/* sorted by lo */
	size_t n_ranges;
	struct dwfunc *funcs;
	size_t n_funcs, cap_funcs;
	struct htab func_index;
	struct arena *names;
	size_t bytes;		/* counted in open_bytes */
	uint64_t used;		/* tick of its last lookup */
	uint32_t file;		/* NONE: a free slot */
};

/* A cached answer: lines[first..first+n) of its generation; strings are
 * offsets into the generation's text (NONE: none). */
struct cline {
	uint32_t name, system_name, file, line, start_line;
};

struct ckey {
	uint64_t file, vaddr;
};

struct centry {
	struct ckey k;
	uint32_t first;
	uint32_t n : 31;
	uint32_t cut : 1;	/* the chain was cut: its last line is an inlined call */
};

struct gen {
	struct centry *entries;
	size_t n, cap;
	struct cline *lines;
	size_t n_lines, cap_lines;
	struct strmap text;
	struct htab index;
};

/* A line while it is worked out: pointers into libdw or the handle. A
 * relative file is relative to dir, the unit's compilation directory
 * (libdw leaves it out, the peers put it in). */
struct tline {
	const char *name, *system_name, *file, *dir;
	uint32_t line, start_line;
};

struct dwlines {
	struct dwlines_opts o;
	char *cache_dir;	/* o.cache_dir's copy; NULL once found unusable */
	bool cache_checked;	/* fileio__private_dir asked */
	struct arena *paths;
	struct dwfile *files;
	size_t n_files, cap_files;
	struct dwhandle handles[DWARF_MAX_OPEN];
	unsigned n_open;
	uint64_t tick;
	struct gen gens[2];	/* gens[cur] takes new answers */
	unsigned cur;
	struct sym_line out[DWARF_MAX_DEPTH];
	struct buf scratch;	/* an answer's strings while it is promoted */
	struct dwlines_stats st;
};

/* --- ELF helpers --- */

static Elf_Scn *section__named(Elf *elf, const char *name, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	const char *n;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, sh) && (n = elf_strptr(elf, shstrndx, sh->sh_name)) &&
		    !strcmp(n, name))
			return scn;
	return NULL;
}

/* A DWARF section name without its GNU compression prefix (.zdebug_x is
 * .debug_x), or NULL when it is no DWARF section. */
static const char *debug_name(Elf *elf, size_t shstrndx, const GElf_Shdr *sh, char *tmp, size_t cap)
{
	const char *n = elf_strptr(elf, shstrndx, sh->sh_name);

	if (!n)
		return NULL;
	if (!strncmp(n, ".zdebug_", 8)) {
		snprintf(tmp, cap, ".%s", n + 2);
		return tmp;
	}
	return strncmp(n, ".debug_", 7) ? NULL : n;
}

/* Bytes of debug sections as stored; 0 when there is no .debug_info with
 * contents (a stripped file, or a debug file for another part). */
static uint64_t dwarf_size(Elf *elf)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	uint64_t total = 0;
	bool info = false;
	char tmp[64];

	if (elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx))
		return 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS || !sh.sh_size ||
		    !(n = debug_name(elf, shstrndx, &sh, tmp, sizeof(tmp))))
			continue;
		info |= !strcmp(n, ".debug_info");
		total += sh.sh_size;
	}
	return info ? total : 0;
}

/* path inside root (NULL: the host's), as its process would open it. */
static int open_in(const char *root, const char *path, struct stat *st)
{
	int rootfd, fd;

	if (!root)
		return open_regular(AT_FDCWD, path, false, 0, st);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -errno;
	fd = open_regular(rootfd, path, true, 0, st);
	close(rootfd);
	return fd;
}

static bool file_crc(int fd, uint32_t *out)
{
	unsigned char *buf = malloc(CRC_CHUNK);
	uLong crc = crc32(0, NULL, 0);
	uint64_t off = 0;
	ssize_t n;

	if (!buf)
		return false;
	while ((n = pread(fd, buf, CRC_CHUNK, (off_t)off)) > 0 && off < DWARF_MAX_FILE_BYTES) {
		crc = crc32(crc, buf, (uInt)n);
		off += (uint64_t)n;
	}
	free(buf);
	*out = (uint32_t)crc;
	return n == 0;
}

/* .gnu_debuglink: a file name (no directory) and the CRC-32 of that file. */
static bool debuglink__read(Elf *elf, char *name, size_t cap, uint32_t *crc)
{
	const unsigned char *p;
	GElf_Shdr sh;
	Elf_Scn *scn = section__named(elf, ".gnu_debuglink", &sh);
	Elf_Data *d = scn && sh.sh_type != SHT_NOBITS ? elf_getdata(scn, NULL) : NULL;
	const char *ident = elf_getident(elf, NULL);
	size_t len, at;

	if (!d || !d->d_buf || !ident)
		return false;
	p = d->d_buf;
	len = strnlen((const char *)p, d->d_size);
	at = (len + 4) & ~(size_t)3;
	if (!len || len >= cap || at + 4 > d->d_size || memchr(p, '/', len))
		return false;
	memcpy(name, p, len + 1);
	if (ident[EI_DATA] == ELFDATA2MSB)
		*crc = (uint32_t)p[at] << 24 | (uint32_t)p[at + 1] << 16 | (uint32_t)p[at + 2] << 8 | p[at + 3];
	else
		*crc = (uint32_t)p[at + 3] << 24 | (uint32_t)p[at + 2] << 16 | (uint32_t)p[at + 1] << 8 | p[at];
	return true;
}

/* --- finding the debug info --- */

struct want {
	const char *build_id;	/* must match when both have one */
	const uint32_t *crc;	/* else this must (debuglink) */
	dev_t dev;		/* the file itself, which is no candidate */
	ino_t ino;
};

/* A debug file at root/path for w: 1 yes, 0 no. */
static int candidate__ok(const char *root, const char *path, const struct want *w, struct stat *st)
{
	struct elf_info ei;
	uint32_t crc;
	Elf *elf;
	int fd = open_in(root, path, st), ok = 0;

	if (fd < 0)
		return 0;
	if (st->st_dev == w->dev && st->st_ino == w->ino) {
		close(fd);
		return 0;
	}
	/* read, not mapped: a candidate may be truncated while we look */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && dwarf_size(elf) && dwarf_size(elf) <= DWARF_MAX_FILE_BYTES &&
	    !elfinfo__read(elf, &ei)) {
		if (w->build_id && w->build_id[0] && ei.build_id[0])
			ok = !strcmp(w->build_id, ei.build_id);
		else if (w->crc)
			ok = file_crc(fd, &crc) && crc == *w->crc;
	}
	elf_end(elf);
	close(fd);
	return ok;
}

static int dwfile__set(struct dwlines *d, struct dwfile *f, const char *root, const char *path,
		       uint64_t inode)
{
	f->root = root ? arena__strndup(d->paths, root, strlen(root)) : NULL;
	f->path = path ? arena__strndup(d->paths, path, strlen(path)) : NULL;
	if ((root && !f->root) || (path && !f->path))
		return errno == ENOMEM ? -ENOMEM : -E2BIG;
	f->inode = inode;
	f->state = DWF_FOUND;
	d->st.files++;
	return 0;
}

/* Try path in the process's root, then in the host's. 1 found, 0, -errno. */
static int try_roots(struct dwlines *d, struct dwfile *f, const struct dwlines_file *src,
		     const char *path, const struct want *w)
{
	struct stat st;

	if (src->root && candidate__ok(src->root, path, w, &st))
		return dwfile__set(d, f, src->root, path, (uint64_t)st.st_ino) ?: 1;
	if (candidate__ok(NULL, path, w, &st))
		return dwfile__set(d, f, NULL, path, (uint64_t)st.st_ino) ?: 1;
	return 0;
}

/* Debian's layout: /usr/lib/debug/.build-id/xx/rest.debug; then GDB's
 * places for a .gnu_debuglink name: beside the file, in .debug/ there, and
 * under /usr/lib/debug with the file's directory. */
static int debug_file__find(struct dwlines *d, struct dwfile *f, Elf *elf,
			    const struct dwlines_file *src, const struct want *base)
{
	char path[PATH_MAX], dir[PATH_MAX], name[NAME_MAX + 1];
	struct want w = *base;
	const char *slash;
	uint32_t crc;
	int r, i;

	if (src->build_id && strlen(src->build_id) > 2 &&
	    (size_t)snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%.2s/%s.debug",
			     src->build_id, src->build_id + 2) < sizeof(path) &&
	    (r = try_roots(d, f, src, path, &w)))
		return r < 0 ? r : 0;
	if (!src->path || !(slash = strrchr(src->path, '/')) ||
	    !debuglink__read(elf, name, sizeof(name), &crc))
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - src->path), src->path);
	w.crc = &crc;
	for (i = 0; i < 3; i++) {
		static const char *const pre[] = { "", "", "/usr/lib/debug" };
		static const char *const mid[] = { "", "/.debug", "" };

		if ((size_t)snprintf(path, sizeof(path), "%s%s%s/%s", pre[i], dir, mid[i], name) >=
		    sizeof(path))
			continue;
		r = try_roots(d, f, src, path, &w);
		if (r)
			return r < 0 ? r : 0;
	}
	return 0;
}

static int handle__open(struct dwlines *d, uint32_t id, int fd);

int dwlines__attach(struct dwlines *d, uint32_t id, Elf *elf, int fd,
		    const struct dwlines_file *src)
{
	struct want w = { .build_id = src->build_id };
	struct dwfile *f;
	struct stat st;
	size_t i;
	int err;

	if (id == NONE)
		return 0;
	if (id >= d->n_files) {
		if (BUF_GROW_ARRAY(d->files, d->cap_files, (size_t)id + 1))
			return -ENOMEM;
		for (i = d->n_files; i <= id; i++)
			d->files[i] = (struct dwfile){ .handle = NONE, .state = DWF_UNSEEN };
		d->n_files = (size_t)id + 1;
	}
	f = &d->files[id];
	if (f->state != DWF_UNSEEN)
		return 0;
	f->state = DWF_NONE;
	if (fd >= 0 && fstat(fd, &st) == 0) {
		w.dev = st.st_dev;
		w.ino = st.st_ino;
		/* debug info in the file itself: read it while we hold it */
		if (dwarf_size(elf) && dwarf_size(elf) <= DWARF_MAX_FILE_BYTES) {
			err = dwfile__set(d, f, src->root, src->path, (uint64_t)st.st_ino);
			if (!err)
				err = handle__open(d, id, fd);
			return err == -ENOMEM ? err : 0;
		}
	}
	err = debug_file__find(d, f, elf, src, &w);
	if (err == -ENOMEM)
		return err;
	if (f->state == DWF_NONE) {
		d->st.missing++;
		pr_debug("symbolize: %s: no debug info: names only\n",
			 src->path ? src->path : src->build_id ? src->build_id : "?");
	}
	return 0;
}

/* --- open handles --- */

static void handle__close(struct dwlines *d, struct dwhandle *h)
{
	size_t i;

	for (i = 0; i < h->n_units; i++) {
		free(h->units[i].nodes);
		free(h->units[i].segs);
	}
	free(h->units);
	free(h->ranges);
	free(h->funcs);
	htab__free(&h->func_index);
	arena__free(h->names);
	dwarf_end(h->dbg);
	elf_end(h->elf);
	dwimage__free(&h->image);
	if (h->file != NONE) {
		d->files[h->file].handle = NONE;
		d->st.open_bytes -= h->bytes;
		d->n_open--;
	}
	memset(h, 0, sizeof(*h));
	h->file = NONE;
}

/* h holds bytes more (its units' indexes, libdw's line tables of them,
 * function names). */
static void handle__grew(struct dwlines *d, struct dwhandle *h, size_t bytes)
{
	h->bytes += bytes;
	d->st.open_bytes += bytes;
}

/* Close the least recently used handles, never keep, until the budget
 * holds (or keep is all that is left open). */
static void make_room(struct dwlines *d, const struct dwhandle *keep, size_t extra_open)
{
	while (d->n_open + extra_open > DWARF_MAX_OPEN ||
	       (d->st.open_bytes > d->o.open_budget && d->n_open > (keep ? 1u : 0u))) {
		struct dwhandle *lru = NULL;
		unsigned i;

		for (i = 0; i < DWARF_MAX_OPEN; i++) {
			struct dwhandle *h = &d->handles[i];

			if (h->file != NONE && h != keep && (!lru || h->used < lru->used))
				lru = h;
		}
		if (!lru)
			return;
		d->st.evicted++;
		handle__close(d, lru);
	}
}

static int range__cmp(const void *a, const void *b)
{
	const struct unit_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static bool unit__eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct dwunit *)ctx)[idx].off == *(const Dwarf_Off *)key;
}

/* The unit whose DIE is at off, added on first sight. */
static int64_t units__intern(struct dwhandle *h, struct htab *index, size_t *cap, Dwarf_Off off)
{
	uint32_t hash = htab__hash(&off, sizeof(off), SEED_FUNC);
	int64_t i = htab__find(index, hash, unit__eq, h->units, &off);

	if (i >= 0)
		return i;
	if (h->n_units >= NONE - 1 || BUF_GROW_ARRAY(h->units, *cap, h->n_units + 1) ||
	    htab__insert(index, hash, (uint32_t)h->n_units))
		return -ENOMEM;
	h->units[h->n_units] = (struct dwunit){ .off = off };
	return (int64_t)h->n_units++;
}

static int range__add(struct dwhandle *h, size_t *cap, uint64_t lo, uint64_t hi, int64_t unit)
{
	if (hi <= lo)
		return 0;
	if (BUF_GROW_ARRAY(h->ranges, *cap, h->n_ranges + 1))
		return -ENOMEM;
	h->ranges[h->n_ranges++] = (struct unit_range){ lo, hi, (uint32_t)unit };
	return 0;
}

/* The units that hold code and the address ranges of each: from
 * .debug_aranges where the compiler wrote it (gcc does), else from each
 * unit's own ranges (clang writes no aranges by default), which means
 * reading every unit's DIE: twice the time for Debian's libc. */
static int handle__units(struct dwhandle *h)
{
	size_t cap_units = 0, cap_ranges = 0, n, i;
	struct htab index;
	Dwarf_Aranges *ar;
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie;
	Dwarf_Half version;
	int64_t unit;
	uint8_t type;
	int err = 0;

	if (htab__init(&index, 256))
		return -ENOMEM;
	if (dwarf_getaranges(h->dbg, &ar, &n) == 0 && n > 0) {
		for (i = 0; i < n && !err; i++) {
			Dwarf_Arange *a = dwarf_onearange(ar, i);
			Dwarf_Addr lo;
			Dwarf_Word len;
			Dwarf_Off off;

			if (!a || dwarf_getarangeinfo(a, &lo, &len, &off))
				continue;
			unit = units__intern(h, &index, &cap_units, off);
			err = unit < 0 ? (int)unit : range__add(h, &cap_ranges, lo, lo + len, unit);
		}
	} else {
		while (!err && dwarf_get_units(h->dbg, cu, &cu, &version, &type, &cudie, NULL) == 0) {
			Dwarf_Addr base, lo, hi;
			ptrdiff_t off = 0;

			if (type != DW_UT_compile && type != DW_UT_skeleton)
				continue;
			unit = -1;
			while (!err && (off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
				if (unit < 0)
					unit = units__intern(h, &index, &cap_units, dwarf_dieoffset(&cudie));
				err = unit < 0 ? (int)unit : range__add(h, &cap_ranges, lo, hi, unit);
			}
		}
	}
	htab__free(&index);
	if (err)
		return err;
	if (h->n_ranges > 1)
		qsort(h->ranges, h->n_ranges, sizeof(*h->ranges), range__cmp);
	h->bytes += cap_units * sizeof(*h->units) + cap_ranges * sizeof(*h->ranges);
	return 0;
}

/* Reads file id's DWARF from fd into a free slot. 0 (the file marked
 * failed when it cannot be read), or -ENOMEM. */
static int handle__open(struct dwlines *d, uint32_t id, int fd)
{
	struct dwfile *f = &d->files[id];
	struct dwhandle *h = NULL;
	struct timespec t0, t1;
	Elf *elf;
	unsigned i;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	make_room(d, NULL, 1);
	for (i = 0; i < DWARF_MAX_OPEN && !h; i++)
		if (d->handles[i].file == NONE)
			h = &d->handles[i];
	if (!h)
		return 0;
	if (d->cache_dir && !d->cache_checked) {
		d->cache_checked = true;
		if (!fileio__private_dir(d->cache_dir)) {
			free(d->cache_dir);
			d->cache_dir = NULL;
		}
	}
	/* the headers through libelf, the sections by hand */
	/* a file bigger than the whole budget is not held past it */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	err = elf ? dwimage__read(&h->image, elf, fd, d->o.open_budget, d->cache_dir) : -ENOEXEC;
	elf_end(elf);
	if (err == -ENOMEM)
		goto out_close;
	if (err || !(h->elf = elf_memory(h->image.data, h->image.size)) ||
	    !(h->dbg = dwarf_begin_elf(h->elf, DWARF_C_READ, NULL)))
		goto failed;
	h->names = arena__new(0);
	if (!h->names || htab__init(&h->func_index, 256)) {
		err = -ENOMEM;
		goto out_close;
	}
	err = handle__units(h);
	if (err)
		goto out_close;
	h->bytes += h->image.size;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pr_debug("symbolize: %s: debug info read, %zu KiB in %.1f ms\n", f->path ? f->path : "?",
		 h->bytes >> 10, (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	h->file = id;
	h->used = ++d->tick;
	f->handle = (uint32_t)(h - d->handles);
	d->n_open++;
	d->st.opened++;
	d->st.open_bytes += h->bytes;
	make_room(d, h, 0);
	return 0;

failed:
	if (err == -E2BIG)
		pr_warn("symbolize: %s: debug info larger than the %zu MiB it may hold: its "
			"frames get names, no lines\n", f->path ? f->path : "?",
			d->o.open_budget >> 20);
	else
		pr_warn("symbolize: %s: unreadable debug info (%s): its frames get names, no "
			"lines\n", f->path ? f->path : "?", err ? strerror(-err) : dwarf_errmsg(-1));
	f->state = DWF_FAILED;
	d->st.failed++;
	err = 0;
out_close:
	handle__close(d, h);
	return err;
}

/* The open handle of file id, opened (again) when needed; NULL when its
 * DWARF cannot be had (errno ENOMEM when memory ran out). */
static struct dwhandle *handle__get(struct dwlines *d, uint32_t id)
{
	struct dwfile *f = &d->files[id];
	struct stat st;
	int fd, err;

	errno = 0;
	if (f->handle == NONE && f->state == DWF_FOUND) {
		fd = f->path ? open_in(f->root, f->path, &st) : -ENOENT;
		if (fd >= 0 && f->inode && (uint64_t)st.st_ino != f->inode) {
			close(fd);
			fd = -ESTALE;
		}
		if (fd < 0) {
			pr_warn("symbolize: %s: cannot read its debug info again (%s): no more lines "
				"from it\n", f->path ? f->path : "?", strerror(-fd));
			f->state = DWF_FAILED;
			d->st.failed++;
			return NULL;
		}
		err = handle__open(d, id, fd);
		close(fd);
		if (err) {
			errno = -err;
			return NULL;
		}
	}
	if (f->handle == NONE)
		return NULL;
	d->handles[f->handle].used = ++d->tick;
	return &d->handles[f->handle];
}

/* --- a unit's index --- */

struct trange {
	uint64_t lo, hi;
	uint32_t node, depth;
};

struct walk {
	struct dwunit *u;
	size_t cap_nodes;
	struct trange *rs;
	size_t n_rs, cap_rs;
};

/* A function or inlined call: a node when it has code. 1 when it has, 0
 * when not, -ENOMEM. */
static int walk__node(struct walk *w, Dwarf_Die *die, uint32_t parent, uint32_t depth, bool inlined)
{
	struct dwunit *u = w->u;
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;
	size_t first = w->n_rs;

	if (u->n_nodes >= NONE - 1)
		return 0;
	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		if (hi <= lo)
			continue;
		if (BUF_GROW_ARRAY(w->rs, w->cap_rs, w->n_rs + 1))
			return -ENOMEM;
		w->rs[w->n_rs++] = (struct trange){ lo, hi, u->n_nodes, depth };
	}
	if (w->n_rs == first)
		return 0;
	if (BUF_GROW_ARRAY(u->nodes, w->cap_nodes, (size_t)u->n_nodes + 1))
		return -ENOMEM;
	u->nodes[u->n_nodes++] = (struct dwnode){ dwarf_dieoffset(die), parent, inlined };
	return 1;
}

/* Every function and inlined call of the unit with its ranges, depth
 * first, without recursion (DWARF_MAX_NEST deep at most). */
static int walk__unit(struct walk *w, Dwarf_Die *cudie)
{
	Dwarf_Die stack[DWARF_MAX_NEST], next;
	uint32_t owner[DWARF_MAX_NEST];
	uint32_t depth = 0;

	if (dwarf_child(cudie, &stack[0]) != 0)
		return 0;
	owner[0] = NONE;
	for (;;) {
		Dwarf_Die *die = &stack[depth];
		uint32_t node = owner[depth];
		bool descend = false;
		int tag = dwarf_tag(die), r;

		switch (tag) {
		case DW_TAG_subprogram:
		case DW_TAG_inlined_subroutine:
			r = walk__node(w, die, owner[depth], depth, tag == DW_TAG_inlined_subroutine);
			if (r < 0)
				return r;
			/* no code, no calls inlined in it (declarations,
			 * abstract instances) */
			descend = r > 0;
			if (r > 0)
				node = w->u->n_nodes - 1;
			break;
		case DW_TAG_lexical_block:
		case DW_TAG_namespace:
		case DW_TAG_module:
		case DW_TAG_try_block:
		case DW_TAG_catch_block:
			descend = true;
			break;
		default:
			break;
		}
		if (descend && depth + 1 < DWARF_MAX_NEST && dwarf_child(die, &stack[depth + 1]) == 0) {
			owner[++depth] = node;
			continue;
		}
		while (dwarf_siblingof(&stack[depth], &next) != 0) {
			if (depth == 0)
				return 0;
			depth--;
		}
		stack[depth] = next;
	}
}

/* Outer ranges first where they start together, so the inner one is on
 * top of the sweep's stack. */
static int trange__cmp(const void *a, const void *b)
{
	const struct trange *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return x->hi > y->hi ? -1 : x->hi < y->hi;
}

static int seg__emit(struct dwunit *u, size_t *cap, uint64_t start, uint32_t node)
{
	if (u->n_segs && u->segs[u->n_segs - 1].start == start) {
		u->segs[u->n_segs - 1].node = node;	/* the later, inner one */
		return 0;
	}
	if (u->n_segs && u->segs[u->n_segs - 1].node == node)
		return 0;
	if (BUF_GROW_ARRAY(u->segs, *cap, (size_t)u->n_segs + 1))
		return -ENOMEM;
	u->segs[u->n_segs++] = (struct dwseg){ start, node };
	return 0;
}

/* Nested ranges into flat segments, each naming the innermost node that
 * covers it: a sweep with a stack of the ranges open at the point. Ranges
 * that overlap without nesting (broken DWARF) still give segments, each
 * naming one of the nodes that cover it. */
static int walk__segments(struct walk *w, size_t *cap)
{
	struct {
		uint64_t hi;
		uint32_t node;
	} open[DWARF_MAX_NEST];
	struct dwunit *u = w->u;
	size_t i, sp = 0;
	int err = 0;

	if (w->n_rs > 1)
		qsort(w->rs, w->n_rs, sizeof(*w->rs), trange__cmp);
	for (i = 0; i <= w->n_rs && !err; i++) {
		uint64_t lo = i < w->n_rs ? w->rs[i].lo : UINT64_MAX;

		while (sp && open[sp - 1].hi <= lo && !err) {
			uint64_t end = open[--sp].hi;

			while (sp && open[sp - 1].hi <= end)
				sp--;
			err = seg__emit(u, cap, end, sp ? open[sp - 1].node : NONE);
		}
		if (i == w->n_rs || err || sp == DWARF_MAX_NEST)
			continue;
		err = seg__emit(u, cap, lo, w->rs[i].node);
		open[sp].hi = w->rs[i].hi;
		open[sp++].node = w->rs[i].node;
	}
	return err;
}

static int unit__index(struct dwlines *d, struct dwhandle *h, struct dwunit *u)
{
	struct walk w = { .u = u };
	size_t cap_segs = 0, n_rows;
	Dwarf_Lines *rows;
	Dwarf_Die cudie;
	int err = 0;

	u->indexed = true;
	if (!dwarf_offdie(h->dbg, u->off, &cudie))
		return 0;
	err = walk__unit(&w, &cudie);
	if (!err)
		err = walk__segments(&w, &cap_segs);
	free(w.rs);
	if (err) {
		free(u->nodes);
		free(u->segs);
		u->nodes = NULL;
		u->segs = NULL;
		u->n_nodes = u->n_segs = 0;
		return err;
	}
	/* libdw parses the unit's line table at its first lookup, into about
	 * this much: counted now */
	if (dwarf_getsrclines(&cudie, &rows, &n_rows))
		n_rows = 0;
	handle__grew(d, h, w.cap_nodes * sizeof(*u->nodes) + cap_segs * sizeof(*u->segs) +
			   n_rows * LINE_ROW_BYTES);
	make_room(d, h, 0);
	return 0;
}

static struct dwunit *unit__find(const struct dwhandle *h, uint64_t vaddr)
{
	size_t lo = 0, hi = h->n_ranges, i;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (h->ranges[mid].lo <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* a range may sit inside a longer one before it */
	for (i = lo; i > 0 && lo - i < 8; i--)
		if (vaddr < h->ranges[i - 1].hi)
			return &h->units[h->ranges[i - 1].unit];
	return NULL;
}

static uint32_t unit__node(const struct dwunit *u, uint64_t vaddr)
{
	uint32_t lo = 0, hi = u->n_segs;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (u->segs[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? u->segs[lo - 1].node : NONE;
}

/* --- functions --- */

static bool func__eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct dwfunc *)ctx)[idx].off == *(const Dwarf_Off *)key;
}

static const char *name__copy(struct arena *a, const char *s)
{
	return s ? arena__strndup(a, s, strnlen(s, DWARF_MAX_NAME)) : NULL;
}

/* What die calls its function, through its abstract origin and
 * specification (an inlined call names what was inlined). NULL with errno
 * ENOMEM when memory runs out. */
static const struct dwfunc *func__get(struct dwlines *d, struct dwhandle *h, Dwarf_Die *die)
{
	Dwarf_Off off = dwarf_dieoffset(die);
	uint32_t hash = htab__hash(&off, sizeof(off), SEED_FUNC);
	int64_t i = htab__find(&h->func_index, hash, func__eq, h->funcs, &off);
	size_t used = arena__used(h->names);
	const char *link = NULL, *name;
	struct dwfunc *fn;
	Dwarf_Attribute a;
	char *dem = NULL;
	int line = 0;

	if (i >= 0)
		return &h->funcs[i];
	if (BUF_GROW_ARRAY(h->funcs, h->cap_funcs, h->n_funcs + 1) ||
	    htab__insert(&h->func_index, hash, (uint32_t)h->n_funcs)) {
		errno = ENOMEM;
		return NULL;
	}
	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &a) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a))
		link = dwarf_formstring(&a);
	name = dwarf_diename(die);
	if (link && !d->o.no_demangle && link[0] == '_' && (link[1] == 'Z' || link[1] == 'R') &&
	    strnlen(link, DEMANGLE_MAX_INPUT + 1) <= DEMANGLE_MAX_INPUT)
		dem = cplus_demangle(link, DMGL_PARAMS | DMGL_ANSI);
	fn = &h->funcs[h->n_funcs++];
	fn->off = off;
	fn->system_name = name__copy(h->names, link ? link : name);
	fn->name = dem ? name__copy(h->names, dem) : name ? name__copy(h->names, name) : fn->system_name;
	fn->decl_file = name__copy(h->names, dwarf_decl_file(die));
	fn->decl_line = dwarf_decl_line(die, &line) == 0 && line > 0 ? (uint32_t)line : 0;
	free(dem);
	handle__grew(d, h, arena__used(h->names) - used + sizeof(*fn) + 2 * sizeof(uint64_t));
	return fn;
}

/* --- the answer for one address --- */

struct pos {
	const char *file;
	uint32_t line;
};

static struct pos call_pos(Dwarf_Die *die, Dwarf_Files *files, size_t n_files)
{
	struct pos p = { NULL, 0 };
	Dwarf_Attribute a;
	Dwarf_Word w;

	if (files && dwarf_attr(die, DW_AT_call_file, &a) && !dwarf_formudata(&a, &w) && w < n_files)
		p.file = dwarf_filesrc(files, w, NULL, NULL);
	if (dwarf_attr(die, DW_AT_call_line, &a) && !dwarf_formudata(&a, &w) && w <= UINT32_MAX)
		p.line = (uint32_t)w;
	return p;
}

static struct tline tline__at(const struct dwfunc *fn, struct pos p, const char *dir)
{
	struct tline t = { NULL, NULL, p.file, dir, p.line, 0 };

	if (fn) {
		t.name = fn->name;
		t.system_name = fn->system_name;
		if (!t.file)
			t.file = fn->decl_file;
		/* Function.filename is the file its Lines are in: the
		 * declaration's start line only when it is that file */
		if (fn->decl_file && t.file && !strcmp(fn->decl_file, t.file))
			t.start_line = fn->decl_line;
	}
	return t;
}

/* The innermost position from the line table, then one line per node up
 * the inline chain, each caller at the call's position. *n 0: no debug
 * info says anything about vaddr. 0 or -ENOMEM. */
static int answer(struct dwlines *d, struct dwhandle *h, uint64_t vaddr, struct tline *out,
		  size_t *n, bool *cut)
{
	struct dwunit *u = unit__find(h, vaddr);
	Dwarf_Files *files = NULL;
	size_t n_files = 0;
	struct pos p = { NULL, 0 };
	Dwarf_Die cudie, die;
	Dwarf_Attribute a;
	Dwarf_Line *row;
	const char *dir;
	uint32_t node;
	int err, line;

	*n = 0;
	*cut = false;
	if (!u)
		return 0;
	if (!u->indexed && (err = unit__index(d, h, u)))
		return err;
	if (!dwarf_offdie(h->dbg, u->off, &cudie))
		return 0;
	dir = dwarf_formstring(dwarf_attr(&cudie, DW_AT_comp_dir, &a));
	row = dwarf_getsrc_die(&cudie, vaddr);
	if (row && dwarf_lineno(row, &line) == 0 && line > 0) {
		p.line = (uint32_t)line;
		p.file = dwarf_linesrc(row, NULL, NULL);
	}
	if (dwarf_getsrcfiles(&cudie, &files, &n_files))
		files = NULL;
	for (node = unit__node(u, vaddr); node != NONE && *n < DWARF_MAX_DEPTH;
	     node = u->nodes[node].parent) {
		const struct dwfunc *fn;

		if (!dwarf_offdie(h->dbg, u->nodes[node].off, &die))
			break;
		fn = func__get(d, h, &die);
		if (!fn)
			return -ENOMEM;
		out[(*n)++] = tline__at(fn, p, dir);
		if (!u->nodes[node].inlined)
			break;
		p = call_pos(&die, files, n_files);
	}
	if (node != NONE && *n == DWARF_MAX_DEPTH && u->nodes[node].inlined) {
		d->st.truncated++;
		*cut = true;
	}
	/* code the unit has lines for but no function (assembly) */
	if (!*n && p.file)
		out[(*n)++] = tline__at(NULL, p, dir);
	return 0;
}

/* --- the cache --- */

/* The text of one answer at most: its strings' bound, past which they are
 * cut. A generation takes new answers until it holds half the budget, so
 * its text stays within the budget and one answer more. */
#define ANSWER_TEXT_MAX ((size_t)DWARF_MAX_DEPTH * 3 * DWARF_MAX_NAME)

static int gen__init(struct gen *g, size_t budget)
{
	memset(g, 0, sizeof(*g));
	if (strmap__init(&g->text, budget + ANSWER_TEXT_MAX) || htab__init(&g->index, 1024))
		return -ENOMEM;
	return 0;
}

static void gen__free(struct gen *g)
{
	free(g->entries);
	free(g->lines);
	strmap__free(&g->text);
	htab__free(&g->index);
	memset(g, 0, sizeof(*g));
}

static size_t gen__bytes(const struct gen *g)
{
	return g->cap * sizeof(*g->entries) + g->cap_lines * sizeof(*g->lines) + g->text.text.cap +
	       g->text.cap * sizeof(*g->text.items) +
	       ((size_t)g->index.mask + 1 + g->text.index.mask + 1) * sizeof(uint64_t);
}

static bool centry__eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct ckey *a = &((const struct centry *)ctx)[idx].k, *b = key;

	return a->file == b->file && a->vaddr == b->vaddr;
}

static const struct centry *gen__find(const struct gen *g, const struct ckey *k, uint32_t h)
{
	int64_t i = htab__find(&g->index, h, centry__eq, g->entries, k);

	return i < 0 ? NULL : &g->entries[i];
}

/* s interned, dir/ before it when given and s is relative. */
static int gen__string(struct gen *g, const char *dir, const char *s, uint32_t *off)
{
	char joined[DWARF_MAX_NAME];
	size_t idx, len;
	int err;

	*off = NONE;
	if (!s)
		return 0;
	if (dir && s[0] != '/') {
		len = (size_t)snprintf(joined, sizeof(joined), "%s/%s", dir, s);
		s = joined;
	}
	len = strnlen(s, DWARF_MAX_NAME - 1);
	err = strmap__intern(&g->text, s, len, &idx);
	if (err < 0)
		return err;
	*off = (uint32_t)g->text.items[idx].off;
	return 0;
}

static const char *gen__str(const struct gen *g, uint32_t off)
{
	return off == NONE ? NULL : (const char *)g->text.text.data + off;
}

static int gen__add(struct gen *g, const struct ckey *k, uint32_t h, const struct tline *t,
		   size_t n, bool cut)
{
	struct centry *e;
	size_t i;
	int err;

	if (g->n >= NONE - 1 || g->n_lines + n >= NONE ||
	    BUF_GROW_ARRAY(g->entries, g->cap, g->n + 1) ||
	    BUF_GROW_ARRAY(g->lines, g->cap_lines, g->n_lines + n))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct cline *c = &g->lines[g->n_lines + i];

		if ((err = gen__string(g, NULL, t[i].name, &c->name)) ||
		    (err = gen__string(g, NULL, t[i].system_name, &c->system_name)) ||
		    (err = gen__string(g, t[i].dir, t[i].file, &c->file)))
			return err;
		c->line = t[i].line;
		c->start_line = t[i].start_line;
	}
	if (htab__insert(&g->index, h, (uint32_t)g->n))
		return -ENOMEM;
	e = &g->entries[g->n++];
	e->k = *k;
	e->first = (uint32_t)g->n_lines;
	e->n = (uint32_t)n & 0x7fffffffu;
	e->cut = cut;
	g->n_lines += n;
	return 0;
}

/* A new answer, into the newer generation; when that has grown to half
 * the budget, the older one goes and the newer takes its place. */
static int cache__add(struct dwlines *d, const struct ckey *k, uint32_t h, const struct tline *t,
		      size_t n, bool cut, const struct centry **out)
{
	struct gen *g = &d->gens[d->cur];
	int err;

	if (gen__bytes(g) > d->o.cache_budget / 2) {
		gen__free(&d->gens[!d->cur]);
		d->cur = !d->cur;
		d->st.generations++;
		g = &d->gens[d->cur];
		if (gen__init(g, d->o.cache_budget))
			return -ENOMEM;
	}
	err = gen__add(g, k, h, t, n, cut);
	if (err)
		return err;
	*out = &g->entries[g->n - 1];
	return 0;
}

/* The symbol table's name, when there is one, names the function the
 * others were inlined into, as llvm-symbolizer does: a frame reads the same
 * with lines and without (clock_gettime, not DWARF's __clock_gettime;
 * f.cold where the compiler split f). */
static void cache__out(struct dwlines *d, const struct gen *g, const struct centry *e,
		       const char *name, const char *system_name, const struct sym_line **lines,
		       size_t *n)
{
	uint32_t i;

	for (i = 0; i < e->n; i++) {
		const struct cline *c = &g->lines[e->first + i];
		struct sym_line *l = &d->out[i];
		bool outermost = i + 1 == e->n && !e->cut;

		l->name = gen__str(g, c->name);
		l->system_name = gen__str(g, c->system_name);
		if (!l->name || (outermost && name)) {
			l->name = name;
			l->system_name = system_name;
		}
		l->file = gen__str(g, c->file);
		l->line = c->line;
		l->start_line = c->start_line;
	}
	*lines = d->out;
	*n = e->n;
}

/* Copies s into d->scratch: its offset there, or NONE. */
static uint32_t scratch__put(struct dwlines *d, const char *s)
{
	size_t off = d->scratch.len;

	if (!s || buf__append(&d->scratch, s, strlen(s) + 1))
		return NONE;
	return (uint32_t)off;
}

static const char *scratch__str(const struct dwlines *d, uint32_t off)
{
	return off == NONE ? NULL : (const char *)d->scratch.data + off;
}

/* An answer of the older generation, copied into the newer: through a
 * scratch copy, since adding it may drop the generation it comes from. */
static int cache__promote(struct dwlines *d, const struct centry *old, const struct ckey *k,
			  uint32_t h, const struct centry **out)
{
	const struct gen *og = &d->gens[!d->cur];
	struct cline c[DWARF_MAX_DEPTH];
	struct tline t[DWARF_MAX_DEPTH];
	uint32_t i;

	d->scratch.len = 0;
	for (i = 0; i < old->n; i++) {
		c[i] = og->lines[old->first + i];
		c[i].name = scratch__put(d, gen__str(og, c[i].name));
		c[i].system_name = scratch__put(d, gen__str(og, c[i].system_name));
		c[i].file = scratch__put(d, gen__str(og, c[i].file));
	}
	for (i = 0; i < old->n; i++)
		t[i] = (struct tline){ scratch__str(d, c[i].name), scratch__str(d, c[i].system_name),
				       scratch__str(d, c[i].file), NULL, c[i].line, c[i].start_line };
	return cache__add(d, k, h, t, old->n, old->cut, out);
}

int dwlines__lookup(struct dwlines *d, uint32_t id, uint64_t vaddr, const char *name,
		    const char *system_name, const struct sym_line **lines, size_t *n)
{
	struct ckey k = { id, vaddr };
	uint32_t h = htab__hash(&k, sizeof(k), SEED_CACHE);
	const struct centry *e;
	struct tline t[DWARF_MAX_DEPTH];
	struct dwhandle *hd;
	bool cut;
	size_t nt;
	int err;

	*lines = NULL;
	*n = 0;
	if (id >= d->n_files || d->files[id].state != DWF_FOUND)
		return 0;
	d->st.lookups++;
	e = gen__find(&d->gens[d->cur], &k, h);
	if (!e && (e = gen__find(&d->gens[!d->cur], &k, h))) {
		err = cache__promote(d, e, &k, h, &e);
		if (err)
			return err;
		e = gen__find(&d->gens[d->cur], &k, h);
	}
	if (e) {
		d->st.cached++;
		cache__out(d, &d->gens[d->cur], e, name, system_name, lines, n);
		return 0;
	}
	hd = handle__get(d, id);
	if (!hd)
		return errno == ENOMEM ? -ENOMEM : 0;
	err = answer(d, hd, vaddr, t, &nt, &cut);
	if (!err)
		err = cache__add(d, &k, h, t, nt, cut, &e);
	if (err)
		return err;
	if (e)
		cache__out(d, &d->gens[d->cur], e, name, system_name, lines, n);
	return 0;
}

/* --- lifetime --- */

struct dwlines *dwlines__new(const struct dwlines_opts *o)
{
	struct dwlines *d = calloc(1, sizeof(*d));
	unsigned i;

	if (!d)
		return NULL;
	if (o)
		d->o = *o;
	if (!d->o.open_budget)
		d->o.open_budget = DWARF_OPEN_BUDGET;
	if (!d->o.cache_budget)
		d->o.cache_budget = DWARF_CACHE_BUDGET;
	for (i = 0; i < DWARF_MAX_OPEN; i++)
		d->handles[i].file = NONE;
	d->scratch = BUF_INIT(ANSWER_TEXT_MAX);
	d->paths = arena__new(PATHS_BUDGET);
	d->cache_dir = d->o.cache_dir ? strdup(d->o.cache_dir) : NULL;
	d->o.cache_dir = NULL;	/* the caller's: not kept */
	if (!d->paths || (o && o->cache_dir && !d->cache_dir) ||
	    gen__init(&d->gens[0], d->o.cache_budget) || gen__init(&d->gens[1], d->o.cache_budget)) {
		dwlines__free(d);
		errno = ENOMEM;
		return NULL;
	}
	return d;
}

void dwlines__free(struct dwlines *d)
{
	unsigned i;

	if (!d)
		return;
	for (i = 0; i < DWARF_MAX_OPEN; i++)
		if (d->handles[i].file != NONE)
			handle__close(d, &d->handles[i]);
	gen__free(&d->gens[0]);
	gen__free(&d->gens[1]);
	free(d->cache_dir);
	buf__free(&d->scratch);
	free(d->files);
	arena__free(d->paths);
	free(d);
}

void dwlines__stats(const struct dwlines *d, struct dwlines_stats *st)
{
	*st = d->st;
	st->cache_bytes = gen__bytes(&d->gens[0]) + gen__bytes(&d->gens[1]);
}
