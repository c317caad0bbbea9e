/* The unwinder: a process's executable mappings into table mappings, each
 * file's table built once. Three levels: a table per build-id (its file id
 * in the sink, its ELF segments, built or pending), a file per dev:inode
 * (the maps line names it, so a process whose files are all known costs one
 * read of its maps) pointing at its table, and each process's mappings,
 * kept to find which table a flagged frame needs. A file that gets no table
 * is remembered too, so it is not tried again for every process. */
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/htab.h"
#include "base/lines.h"
#include "base/log.h"
#include "procfs/procfs.h"
#include "unwind/unwind.h"

#define NO_TABLE	(-1)
#define NOT_TRIED	(-2)
#define MAX_LOADS	16		/* PT_LOAD segments kept per file */
#define BUILD_ID_MAX	64
#define LINE_CHUNK	(64u << 10)
#define VDSO_MAX_SIZE	(1u << 20)
#define VDSO_TABLE	UINT32_MAX	/* a mapping's file: the vDSO's image */

enum { SEED_FILE = 1, SEED_BUILD_ID, SEED_PID };
enum { T_PENDING, T_READY, T_NONE };	/* a table's state */

struct useg {
	uint64_t off, filesz, vaddr;
};

/* A file's table (shared by build-id), by its sink file id. */
struct utable {
	uint8_t build_id[BUILD_ID_MAX];
	size_t id_len;			/* 0: none, not shared */
	uint32_t file;			/* the sink's id */
	uint8_t state;			/* T_PENDING, T_READY, T_NONE */
	struct useg segs[MAX_LOADS];
	uint32_t n_segs;
};

/* A file seen in a mapping. */
struct ufile {
	uint64_t dev, inode;
	int32_t table;			/* index in tables, or NO_TABLE */
	const char *path;		/* as a process mapped it: for a lazy build */
};

/* A mapping of a process, kept to find what a frame needs. */
struct umap {
	uint64_t start, end, offset;
	uint32_t file;			/* index in files, or VDSO_TABLE */
};

/* A process loaded, by pid. */
struct uproc {
	uint32_t pid;
	bool stale;			/* exec'd: read its maps again at the next load */
	uint64_t start;			/* its leader's start_boottime */
	struct umap *maps;		/* sorted by start */
	uint32_t n_maps;
};

struct unwinder {
	char *proc_root;
	char *cache_dir;		/* NULL: tables are not kept */
	struct unwind_sink sink;
	bool lazy;
	struct unwind_rules rules;
	uint32_t rules_sunk;		/* rules the sink has */
	struct ufile *files;
	size_t n_files, cap_files;
	struct htab file_index;
	struct utable *tables;
	size_t n_tables, cap_tables;
	struct htab build_index;
	struct uproc *procs;
	size_t n_procs, cap_procs;
	struct htab proc_index;
	struct buf paths;		/* the files' paths (offsets: the buffer moves) */
	int32_t vdso;			/* table index, NO_TABLE or NOT_TRIED */
	uint64_t vdso_size;
	struct unwinder_stats st;
	/* the process being loaded */
	struct unwind_proc scratch;
	struct umap *kept;
	size_t cap_kept;
	uint32_t pid;
	bool preloading;		/* only the tables of files shared by all */
	int err;			/* what stopped its maps being read */
};

uint64_t unwind__mapping_bias(uint64_t start, uint64_t off, uint64_t p_offset, uint64_t p_vaddr)
{
	/* file offset f sits at start + (f - off), and is ELF address
	 * f - p_offset + p_vaddr (all modulo 2^64) */
	return start - off + p_offset - p_vaddr;
}

struct unwinder *unwinder__new(const struct unwinder_opts *o)
{
	struct unwinder *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		free(u);
		errno = ENOTSUP;
		return NULL;
	}
	u->sink = o->sink;
	u->lazy = o->lazy;
	u->vdso = NOT_TRIED;
	u->paths = BUF_INIT(64u << 20);
	u->proc_root = strdup(o->proc_root ? o->proc_root : "/proc");
	u->cache_dir = o->cache_dir ? strdup(o->cache_dir) : NULL;
	if (!u->proc_root || (o->cache_dir && !u->cache_dir) ||
	    unwind_rules__init(&u->rules, UNWIND_MAX_RULES) || htab__init(&u->file_index, 256) ||
	    htab__init(&u->build_index, 256) || htab__init(&u->proc_index, 1024)) {
		unwinder__free(u);
		errno = ENOMEM;
		return NULL;
	}
	return u;
}

static void procs_free(struct unwinder *u)
{
	size_t i;

	for (i = 0; i < u->n_procs; i++)
		free(u->procs[i].maps);
	u->n_procs = 0;
}

void unwinder__free(struct unwinder *u)
{
	if (!u)
		return;
	procs_free(u);
	unwind_rules__free(&u->rules);
	htab__free(&u->file_index);
	htab__free(&u->build_index);
	htab__free(&u->proc_index);
	buf__free(&u->paths);
	free(u->files);
	free(u->tables);
	free(u->procs);
	free(u->kept);
	free(u->proc_root);
	free(u->cache_dir);
	free(u);
}

void unwinder__stats(const struct unwinder *u, struct unwinder_stats *st)
{
	size_t i;

	*st = u->st;
	st->rules = u->rules.n;
	st->pending = 0;
	for (i = 0; i < u->n_tables; i++)
		st->pending += u->tables[i].state == T_PENDING;
}

void unwinder__reset(struct unwinder *u)
{
	procs_free(u);
	htab__free(&u->file_index);
	htab__free(&u->build_index);
	htab__free(&u->proc_index);
	u->n_files = u->n_tables = 0;
	u->paths.len = 0;
	u->vdso = NOT_TRIED;
	/* empty tables grow again on the first insert */
	memset(&u->file_index, 0, sizeof(u->file_index));
	memset(&u->build_index, 0, sizeof(u->build_index));
	memset(&u->proc_index, 0, sizeof(u->proc_index));
}

/* --- tables --- */

static bool build_id_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct utable *t = &((const struct unwinder *)ctx)->tables[idx];
	const struct utable *k = key;

	return t->id_len == k->id_len && !memcmp(t->build_id, k->build_id, k->id_len);
}

static void read_segments(Elf *elf, struct utable *ut)
{
	size_t i, phnum;

	ut->n_segs = 0;
	if (elf_getphdrnum(elf, &phnum))
		return;
	for (i = 0; i < phnum && ut->n_segs < MAX_LOADS; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD)
			ut->segs[ut->n_segs++] = (struct useg){ ph.p_offset, ph.p_filesz, ph.p_vaddr };
	}
}

/* The separate debug file of a build-id, in Debian's layout, as the
 * process sees it (its root) or as we do. */
static Elf *open_debug(const struct unwinder *u, uint32_t pid, const struct utable *ut, int *fd)
{
	char hex[2 * BUILD_ID_MAX + 1], path[PATH_MAX];
	size_t i;
	int k;

	for (i = 0; i < ut->id_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", ut->build_id[i]);
	for (k = 0; k < 2; k++) {
		if (k == 0)
			snprintf(path, sizeof(path), "%s/%" PRIu32 "/root/usr/lib/debug/.build-id/%.2s/%s.debug",
				 u->proc_root, pid, hex, hex + 2);
		else
			snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%.2s/%s.debug", hex, hex + 2);
		*fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (*fd >= 0) {
			Elf *elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);

			if (elf)
				return elf;
			close(*fd);
		}
	}
	*fd = -1;
	return NULL;
}

/* New rules first: the rows handed over next refer to them. */
static int sink_rules(struct unwinder *u)
{
	uint32_t n = (uint32_t)u->rules.n - u->rules_sunk;
	int err;

	if (!n)
		return 0;
	err = u->sink.rules(u->sink.ctx, u->rules.v + u->rules_sunk, u->rules_sunk, n);
	if (!err)
		u->rules_sunk += n;
	return err;
}

/* Builds table t from elf and hands it to the sink (or says it has none):
 * 0, or -ENOMEM. Why it has none is counted. */
static int build(struct unwinder *u, struct utable *ut, uint32_t pid, Elf *elf, const char *what)
{
	struct unwind_table t;
	struct timespec t0, t1;
	Elf *debug = NULL;
	int fd = -1, err;
	bool thin = ut->id_len && unwind__eh_frame_thin(elf);
	/* kept by build-id, unless a debug file may add rows (it may come
	 * and go) */
	bool keep = ut->id_len && u->cache_dir && !thin;

	if (thin)
		debug = open_debug(u, pid, ut, &fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = keep ? unwind_tcache__load(u->cache_dir, ut->build_id, ut->id_len, &u->rules, &t) : -1;
	if (!err) {
		u->st.cached++;
	} else {
		err = unwind_table__build(&t, elf, debug, &u->rules, UNWIND_MAX_FILE_ROWS);
		if (!err && keep)
			unwind_tcache__store(u->cache_dir, ut->build_id, ut->id_len, &u->rules, &t);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	u->st.build_ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec));
	if (debug)
		elf_end(debug);
	if (fd >= 0)
		close(fd);
	if (err == -ENOMEM)
		return err;
	if (!err)
		err = sink_rules(u);
	if (!err) {
		err = u->sink.table(u->sink.ctx, ut->file, &t);
		if (err == -ENOSPC)
			u->st.tables_full++;
		else if (err && err != -ENOMEM)
			u->st.files_failed++;
	} else if (err == -ENOSPC) {
		u->st.rules_full++;
	} else if (err == -E2BIG) {
		u->st.files_too_big++;
	} else {
		u->st.files_no_cfi++;
	}
	if (!err) {
		u->st.files++;
		u->st.rows += t.n_rows;
		u->st.entries += (uint64_t)t.n_rows + t.pages;
		pr_debug("unwind: %s: %u rows from %u FDEs%s, %u cut\n", what, t.n_rows, t.fdes,
			 t.debug_frame ? " (.debug_frame)" : "", t.cut_rows);
	} else if (err != -ENODATA) {
		pr_debug("unwind: %s: no table: %s\n", what, strerror(-err));
	}
	unwind_table__free(&t);
	if (err == -ENOMEM)
		return err;
	ut->state = err ? T_NONE : T_READY;
	if (err)	/* the walker takes frame pointers there, not a pending flag */
		u->sink.table(u->sink.ctx, ut->file, NULL);
	return 0;
}

/* elf's table entry (one per build-id): its index, NO_TABLE when the sink
 * has no room for another file (counted), or -ENOMEM. Built now unless
 * lazy. */
static int32_t elf_table(struct unwinder *u, uint32_t pid, Elf *elf, const char *what, bool lazy)
{
	struct utable ut = { .state = T_PENDING };
	const void *id = NULL;
	ssize_t len = dwelf_elf_gnu_build_id(elf, &id);
	uint32_t h = 0;
	int64_t found;
	int err;

	if (len > 0 && len <= BUILD_ID_MAX) {
		memcpy(ut.build_id, id, (size_t)len);
		ut.id_len = (size_t)len;
		h = htab__hash(id, (size_t)len, SEED_BUILD_ID);
		found = htab__find(&u->build_index, h, build_id_eq, u, &ut);
		if (found >= 0)
			return (int32_t)found;
	}
	read_segments(elf, &ut);
	err = u->sink.file(u->sink.ctx, &ut.file);
	if (err == -ENOSPC) {
		u->st.tables_full++;
		return NO_TABLE;
	}
	if (err)
		return err == -ENOMEM ? err : NO_TABLE;
	if (BUF_GROW_ARRAY(u->tables, u->cap_tables, u->n_tables + 1) ||
	    (ut.id_len && htab__insert(&u->build_index, h, (uint32_t)u->n_tables)))
		return -ENOMEM;
	u->tables[u->n_tables] = ut;
	if (!lazy && build(u, &u->tables[u->n_tables], pid, elf, what))
		return -ENOMEM;
	return (int32_t)u->n_tables++;
}

/* The vDSO is the kernel's, the same in every process: ours, copied (libelf
 * wants memory it may treat as its own), built at once (it is small). */
static int32_t vdso_table(struct unwinder *u, uint64_t size)
{
	uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	void *copy;
	Elf *elf;

	if (u->vdso != NOT_TRIED)
		return size == u->vdso_size ? u->vdso : NO_TABLE;
	u->vdso = NO_TABLE;
	/* the process's [vdso] mapping is as big as ours: the same image */
	if (!base || !size || size > VDSO_MAX_SIZE)
		return NO_TABLE;
	copy = malloc(size);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, (const void *)base, size);
	elf = elf_memory(copy, size);
	if (elf) {
		u->vdso = elf_table(u, 0, elf, "[vdso]", false);
		elf_end(elf);
	}
	free(copy);
	if (u->vdso == -ENOMEM) {
		u->vdso = NOT_TRIED;
		return -ENOMEM;
	}
	u->vdso_size = size;
	return u->vdso;
}

/* --- files --- */

static bool file_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct ufile *f = &((const struct unwinder *)ctx)->files[idx], *k = key;

	return f->dev == k->dev && f->inode == k->inode;
}

static const char *file_path(const struct unwinder *u, const struct ufile *f)
{
	return (const char *)u->paths.data + (uintptr_t)f->path;
}

/* The mapped file itself: through map_files (deleted or replaced files,
 * containers; needs CAP_SYS_ADMIN), else its path in the process's root if
 * that is still the mapped inode. */
static int open_mapped(const struct unwinder *u, uint32_t pid, uint64_t start, uint64_t end,
		       const char *path, uint64_t inode)
{
	char p[PATH_MAX];
	struct stat st;
	int fd;

	snprintf(p, sizeof(p), "%s/%" PRIu32 "/map_files/%" PRIx64 "-%" PRIx64, u->proc_root, pid,
		 start, end);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if ((size_t)snprintf(p, sizeof(p), "%s/%" PRIu32 "/root%s", u->proc_root, pid, path) >=
	    sizeof(p))
		return -ENAMETOOLONG;
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_ino != inode) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* The file of an executable mapping: its index in files (its table maybe
 * NO_TABLE), or -ENOMEM. Opened once per file: its segments and build-id;
 * its table built now unless lazy. */
static int64_t file_of(struct unwinder *u, const struct proc_map *m)
{
	struct ufile key = { makedev(m->dev_major, m->dev_minor), m->inode, NO_TABLE, NULL };
	uint32_t h = htab__hash(&key, offsetof(struct ufile, table), SEED_FILE);
	int64_t found = htab__find(&u->file_index, h, file_eq, u, &key);
	char what[PATH_MAX];
	Elf *elf;
	int fd;

	if (found >= 0)
		return found;
	snprintf(what, sizeof(what), "%.*s", (int)m->path_len, m->path);
	fd = open_mapped(u, u->pid, m->start, m->end, what, m->inode);
	if (fd >= 0) {
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
		key.table = elf && elf_kind(elf) == ELF_K_ELF
				    ? elf_table(u, u->pid, elf, what, u->lazy && !u->preloading)
				    : NO_TABLE;
		if (key.table == NO_TABLE && (!elf || elf_kind(elf) != ELF_K_ELF))
			u->st.files_no_cfi++;
		elf_end(elf);
		close(fd);
		if (key.table == -ENOMEM)
			return -ENOMEM;
	} else {
		u->st.files_failed++;
		pr_debug("unwind: pid %" PRIu32 ": cannot open %s: %s\n", u->pid, what, strerror(-fd));
	}
	key.path = (const char *)(uintptr_t)u->paths.len;
	if (buf__append(&u->paths, what, strlen(what) + 1) ||
	    BUF_GROW_ARRAY(u->files, u->cap_files, u->n_files + 1) ||
	    htab__insert(&u->file_index, h, (uint32_t)u->n_files))
		return -ENOMEM;
	u->files[u->n_files] = key;
	return (int64_t)u->n_files++;
}

/* --- processes --- */

static int add_mapping(struct unwinder *u, const struct proc_map *m, const struct utable *ut,
		       uint32_t file)
{
	struct unwind_proc *p = &u->scratch;
	uint32_t i;

	for (i = 0; i < ut->n_segs; i++) {
		const struct useg *s = &ut->segs[i];

		/* the segment whose file bytes the mapping starts in (page-aligned) */
		if (m->offset >= (s->off & ~0xfffull) && m->offset < s->off + s->filesz)
			break;
	}
	if (i == ut->n_segs || m->end - m->start > UINT32_MAX)
		return 0;
	if (p->n >= UNWIND_PROC_MAPPINGS) {
		u->st.maps_dropped++;
		return 0;
	}
	p->maps[p->n++] = (struct unwind_mapping){
		.start = m->start,
		.size = (uint32_t)(m->end - m->start),
		.bias = unwind__mapping_bias(m->start, m->offset, ut->segs[i].off, ut->segs[i].vaddr),
		.file = ut->file,
	};
	if (BUF_GROW_ARRAY(u->kept, u->cap_kept, p->n))
		return -ENOMEM;
	u->kept[p->n - 1] = (struct umap){ m->start, m->end, m->offset, file };
	return 0;
}

/* A file every process maps (unwinder__preload). */
static bool shared_by_all(const struct proc_map *m)
{
	const char *base = memrchr(m->path, '/', m->path_len);
	size_t len;

	if (!base)
		return m->path_len == 6 && !memcmp(m->path, "[vdso]", 6);
	base++;
	len = m->path_len - (size_t)(base - m->path);
	return (len > 7 && !memcmp(base, "libc.so", 7)) || (len > 3 && !memcmp(base, "ld-", 3));
}

static int on_maps_line(void *ctx, const char *line, size_t len)
{
	struct unwinder *u = ctx;
	struct proc_map m;
	int64_t f = VDSO_TABLE;
	int32_t t;

	if (procfs__parse_maps_line(line, len, &m) != 1)
		return 0;
	if (u->preloading && !shared_by_all(&m))
		return 0;
	if (m.path_len == 6 && !memcmp(m.path, "[vdso]", 6)) {
		t = vdso_table(u, m.end - m.start);
	} else if (m.path_len && m.path[0] == '/') {
		f = file_of(u, &m);
		t = f < 0 ? (int32_t)f : u->files[f].table;
	} else {
		return 0;	/* anonymous code (JIT): frame pointers there */
	}
	if (t == -ENOMEM || f == -ENOMEM) {
		u->err = -ENOMEM;
		return 1;
	}
	if (t >= 0 && !u->preloading && add_mapping(u, &m, &u->tables[t], (uint32_t)f)) {
		u->err = -ENOMEM;
		return 1;
	}
	return 0;
}

/* Sorts the scratch mappings and the kept ones alike. */
static void sort_mappings(struct unwinder *u)
{
	struct unwind_proc *p = &u->scratch;
	uint32_t i, j;

	/* insertion sort: maps lines come sorted already, this only checks */
	for (i = 1; i < p->n; i++)
		for (j = i; j > 0 && p->maps[j - 1].start > p->maps[j].start; j--) {
			struct unwind_mapping m = p->maps[j];
			struct umap k = u->kept[j];

			p->maps[j] = p->maps[j - 1];
			p->maps[j - 1] = m;
			u->kept[j] = u->kept[j - 1];
			u->kept[j - 1] = k;
		}
}

static bool proc_eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct unwinder *)ctx)->procs[idx].pid == *(const uint32_t *)key;
}

static int64_t proc_find(const struct unwinder *u, uint32_t pid)
{
	return htab__find(&u->proc_index, htab__hash(&pid, sizeof(pid), SEED_PID), proc_eq, u, &pid);
}

/* Remember pid as loaded for start, with its mappings (the scratch's: n).
 * Past UNWIND_MAX_PROCS everything is forgotten: a process seen again is
 * loaded again (its files are known). */
static int remember(struct unwinder *u, int64_t idx, uint32_t pid, uint64_t start, uint32_t n)
{
	uint32_t h = htab__hash(&pid, sizeof(pid), SEED_PID);
	struct umap *maps = NULL;

	if (n) {
		maps = malloc(n * sizeof(*maps));
		if (!maps)
			return -ENOMEM;
		memcpy(maps, u->kept, n * sizeof(*maps));
	}
	if (idx < 0 && u->n_procs >= UNWIND_MAX_PROCS) {
		procs_free(u);
		htab__free(&u->proc_index);
		if (htab__init(&u->proc_index, 1024))
			goto oom;
	}
	if (idx < 0) {
		if (BUF_GROW_ARRAY(u->procs, u->cap_procs, u->n_procs + 1) ||
		    htab__insert(&u->proc_index, h, (uint32_t)u->n_procs))
			goto oom;
		idx = (int64_t)u->n_procs++;
		u->procs[idx] = (struct uproc){ .pid = pid };
	}
	free(u->procs[idx].maps);
	u->procs[idx].maps = maps;
	u->procs[idx].n_maps = n;
	u->procs[idx].start = start;
	u->procs[idx].stale = false;
	return 0;
oom:
	free(maps);
	return -ENOMEM;
}

int unwinder__load(struct unwinder *u, uint32_t pid, uint64_t start_boottime, bool again)
{
	int64_t idx = proc_find(u, pid);
	char path[PATH_MAX];
	int fd, err;

	if (idx >= 0 && u->procs[idx].start == start_boottime && !again && !u->procs[idx].stale)
		return 0;
	snprintf(path, sizeof(path), "%s/%" PRIu32 "/maps", u->proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		u->st.procs_gone++;
		return remember(u, idx, pid, start_boottime, 0);
	}
	u->scratch.n = 0;
	u->pid = pid;
	u->err = 0;
	err = lines__read(fd, LINE_CHUNK, UNWIND_MAPS_MAX_BYTES, on_maps_line, u, NULL);
	close(fd);
	if (u->err)
		return u->err;
	if (err < 0) {	/* it went away while we read */
		u->st.procs_gone++;
		return remember(u, idx, pid, start_boottime, 0);
	}
	sort_mappings(u);
	u->scratch.start_boottime = start_boottime;
	err = u->sink.proc(u->sink.ctx, pid, &u->scratch);
	if (err == -ENOSPC)
		u->st.procs_full++;
	else if (err)
		return err;
	u->st.procs++;
	err = remember(u, idx, pid, start_boottime, u->scratch.n);
	return err ? err : 1;
}

/* The mapping of p holding pc, or NULL. */
static const struct umap *proc_map_of(const struct uproc *p, uint64_t pc)
{
	uint32_t lo = 0, hi = p->n_maps;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (p->maps[mid].end <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->n_maps && p->maps[lo].start <= pc ? &p->maps[lo] : NULL;
}

int unwinder__need(struct unwinder *u, uint32_t pid, const uint64_t *frames, size_t n)
{
	int64_t idx = proc_find(u, pid);
	int built = 0;
	size_t i;

	for (i = 0; idx >= 0 && i < n; i++) {
		const struct uproc *p = &u->procs[idx];
		const struct umap *m = proc_map_of(p, i ? frames[i] - 1 : frames[i]);
		const struct ufile *f;
		struct utable *t;
		Elf *elf;
		int fd, err = 0;

		if (!m || m->file == VDSO_TABLE)
			continue;
		f = &u->files[m->file];
		t = f->table >= 0 ? &u->tables[f->table] : NULL;
		if (!t || t->state != T_PENDING)
			continue;
		fd = open_mapped(u, pid, m->start, m->end, file_path(u, f), f->inode);
		elf = fd >= 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
		if (elf)
			err = build(u, t, pid, elf, file_path(u, f));
		else	/* gone with its process: the next one mapping it builds it */
			u->st.files_failed += fd < 0;
		elf_end(elf);
		if (fd >= 0)
			close(fd);
		if (err)
			return err;
		built |= elf != NULL;
	}
	return built;
}

int unwinder__exec(struct unwinder *u, uint32_t pid, uint64_t start_boottime)
{
	int err = unwinder__load(u, pid, start_boottime, true);
	int64_t idx = proc_find(u, pid);

	if (idx >= 0)
		u->procs[idx].stale = true;
	return err;
}

bool unwinder__known(const struct unwinder *u, uint32_t pid)
{
	return proc_find(u, pid) >= 0;
}

int unwinder__preload(struct unwinder *u)
{
	char path[PATH_MAX];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%d/maps", u->proc_root, (int)getpid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	u->pid = (uint32_t)getpid();
	u->err = 0;
	u->preloading = true;
	err = lines__read(fd, LINE_CHUNK, UNWIND_MAPS_MAX_BYTES, on_maps_line, u, NULL);
	u->preloading = false;
	close(fd);
	(void)err;	/* a maps line too long to read: nothing preloaded */
	return u->err;
}
