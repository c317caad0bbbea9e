/* The unwinder: a process's executable mappings into table mappings, each
 * file's table built once. Files are cached by dev:inode (the maps line
 * names them, so a process whose files are all known costs one read of its
 * maps), tables by build-id (the same library in two containers is one
 * table). A file that gets no table is remembered too, so it is not tried
 * again for every process. */
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

enum { SEED_FILE = 1, SEED_BUILD_ID, SEED_PID };

struct useg {
	uint64_t off, filesz, vaddr;
};

/* A table handed to the sink. */
struct utable {
	uint8_t build_id[BUILD_ID_MAX];
	size_t id_len;			/* 0: none, not shared */
	uint32_t file;			/* the sink's id */
	uint64_t base;			/* the table's pc 0, an ELF address */
	struct useg segs[MAX_LOADS];
	uint32_t n_segs;
};

/* A file seen in a mapping. */
struct ufile {
	uint64_t dev, inode;
	int32_t table;			/* index in tables, or NO_TABLE */
};

/* A process loaded, by pid. */
struct uproc {
	uint32_t pid;
	bool stale;			/* exec'd: read its maps again at the next load */
	uint64_t start;			/* its leader's start_boottime */
};

struct unwinder {
	char *proc_root;
	struct unwind_sink sink;
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
	int32_t vdso;			/* table index, NO_TABLE or NOT_TRIED */
	uint64_t vdso_size;
	struct unwinder_stats st;
	struct unwind_proc scratch;	/* the process being loaded */
	uint32_t pid;			/* its pid */
	bool preloading;		/* only the tables of files shared by all */
	int err;			/* what stopped its maps being read */
};

uint64_t unwind__mapping_base(uint64_t start, uint64_t off, uint64_t p_offset, uint64_t p_vaddr,
			      uint64_t table_base)
{
	/* file offset f sits at start + (f - off), and at ELF address
	 * f - p_offset + p_vaddr: ELF address a at start - off + p_offset -
	 * p_vaddr + a (all modulo 2^64) */
	return start - off + p_offset - p_vaddr + table_base;
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
	u->vdso = NOT_TRIED;
	u->proc_root = strdup(o->proc_root ? o->proc_root : "/proc");
	if (!u->proc_root || unwind_rules__init(&u->rules, UNWIND_MAX_RULES) ||
	    htab__init(&u->file_index, 256) || htab__init(&u->build_index, 256) ||
	    htab__init(&u->proc_index, 1024)) {
		unwinder__free(u);
		errno = ENOMEM;
		return NULL;
	}
	return u;
}

void unwinder__free(struct unwinder *u)
{
	if (!u)
		return;
	unwind_rules__free(&u->rules);
	htab__free(&u->file_index);
	htab__free(&u->build_index);
	htab__free(&u->proc_index);
	free(u->files);
	free(u->tables);
	free(u->procs);
	free(u->proc_root);
	free(u);
}

void unwinder__stats(const struct unwinder *u, struct unwinder_stats *st)
{
	*st = u->st;
	st->rules = u->rules.n;
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

static int32_t add_table(struct unwinder *u, struct utable *ut)
{
	uint32_t h = htab__hash(ut->build_id, ut->id_len, SEED_BUILD_ID);

	if (BUF_GROW_ARRAY(u->tables, u->cap_tables, u->n_tables + 1) ||
	    (ut->id_len && htab__insert(&u->build_index, h, (uint32_t)u->n_tables)))
		return -ENOMEM;
	u->tables[u->n_tables] = *ut;
	return (int32_t)u->n_tables++;
}

/* elf's table, built and handed to the sink unless its build-id's is
 * already there: its index, NO_TABLE (counted why), or -ENOMEM. */
static int32_t elf_table(struct unwinder *u, uint32_t pid, Elf *elf, const char *what)
{
	struct utable ut = { 0 };
	struct unwind_table t;
	struct timespec t0, t1;
	const void *id = NULL;
	ssize_t len = dwelf_elf_gnu_build_id(elf, &id);
	Elf *debug = NULL;
	int64_t found;
	int fd = -1, err;

	if (len > 0 && len <= BUILD_ID_MAX) {
		memcpy(ut.build_id, id, (size_t)len);
		ut.id_len = (size_t)len;
		found = htab__find(&u->build_index, htab__hash(id, (size_t)len, SEED_BUILD_ID),
				   build_id_eq, u, &ut);
		if (found >= 0)
			return (int32_t)found;
	}
	read_segments(elf, &ut);
	if (ut.id_len && unwind__eh_frame_thin(elf))
		debug = open_debug(u, pid, &ut, &fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = unwind_table__build(&t, elf, debug, &u->rules, UNWIND_MAX_FILE_ROWS);
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
		ut.base = t.base;
		err = u->sink.table(u->sink.ctx, &t, &ut.file);
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
	if (err)
		return err == -ENOMEM ? err : NO_TABLE;
	return add_table(u, &ut);
}

/* The vDSO is the kernel's, the same in every process: ours, copied (libelf
 * wants memory it may treat as its own). */
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
		u->vdso = elf_table(u, 0, elf, "[vdso]");
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

/* The mapped file itself: through map_files (deleted or replaced files,
 * containers; needs CAP_SYS_ADMIN), else its path in the process's root if
 * that is still the mapped inode. */
static int open_mapped(const struct unwinder *u, uint32_t pid, const struct proc_map *m)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%" PRIu32 "/map_files/%" PRIx64 "-%" PRIx64, u->proc_root,
		 pid, m->start, m->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if ((size_t)snprintf(path, sizeof(path), "%s/%" PRIu32 "/root%.*s", u->proc_root, pid,
			     (int)m->path_len, m->path) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_ino != m->inode) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* The table of the file an executable mapping maps: its index, NO_TABLE,
 * or -ENOMEM. */
static int32_t file_table(struct unwinder *u, const struct proc_map *m)
{
	struct ufile key = { makedev(m->dev_major, m->dev_minor), m->inode, NO_TABLE };
	uint32_t h = htab__hash(&key, offsetof(struct ufile, table), SEED_FILE);
	int64_t found = htab__find(&u->file_index, h, file_eq, u, &key);
	char what[PATH_MAX];
	Elf *elf;
	int fd;

	if (found >= 0)
		return u->files[found].table;
	fd = open_mapped(u, u->pid, m);
	if (fd >= 0) {
		snprintf(what, sizeof(what), "%.*s", (int)m->path_len, m->path);
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
		key.table = elf ? elf_table(u, u->pid, elf, what) : NO_TABLE;
		elf_end(elf);
		close(fd);
		if (key.table == -ENOMEM)
			return -ENOMEM;
	} else {
		u->st.files_failed++;
		pr_debug("unwind: pid %" PRIu32 ": cannot open %.*s: %s\n", u->pid, (int)m->path_len,
			 m->path, strerror(-fd));
	}
	if (BUF_GROW_ARRAY(u->files, u->cap_files, u->n_files + 1) ||
	    htab__insert(&u->file_index, h, (uint32_t)u->n_files))
		return -ENOMEM;
	u->files[u->n_files++] = key;
	return key.table;
}

/* --- processes --- */

static void add_mapping(struct unwinder *u, const struct proc_map *m, const struct utable *ut)
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
		return;
	if (p->n >= UNWIND_PROC_MAPPINGS) {
		u->st.maps_dropped++;
		return;
	}
	p->maps[p->n++] = (struct unwind_mapping){
		.start = m->start,
		.size = (uint32_t)(m->end - m->start),
		.base = unwind__mapping_base(m->start, m->offset, ut->segs[i].off, ut->segs[i].vaddr,
					     ut->base),
		.file = ut->file,
	};
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
	int32_t t;

	if (procfs__parse_maps_line(line, len, &m) != 1)
		return 0;
	if (u->preloading && !shared_by_all(&m))
		return 0;
	if (m.path_len == 6 && !memcmp(m.path, "[vdso]", 6))
		t = vdso_table(u, m.end - m.start);
	else if (m.path_len && m.path[0] == '/')
		t = file_table(u, &m);
	else
		return 0;	/* anonymous code (JIT): frame pointers there */
	if (t == -ENOMEM) {
		u->err = -ENOMEM;
		return 1;
	}
	if (t >= 0 && !u->preloading)
		add_mapping(u, &m, &u->tables[t]);
	return 0;
}

static int mapping_cmp(const void *a, const void *b)
{
	const struct unwind_mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static bool proc_eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct unwinder *)ctx)->procs[idx].pid == *(const uint32_t *)key;
}

/* Remember pid as loaded for start. Past UNWIND_MAX_PROCS everything is
 * forgotten: a process seen again is loaded again (its files are known). */
static int remember(struct unwinder *u, int64_t idx, uint32_t pid, uint64_t start)
{
	uint32_t h = htab__hash(&pid, sizeof(pid), SEED_PID);

	if (idx >= 0) {
		u->procs[idx].start = start;
		u->procs[idx].stale = false;
		return 0;
	}
	if (u->n_procs >= UNWIND_MAX_PROCS) {
		htab__free(&u->proc_index);
		u->n_procs = 0;
		if (htab__init(&u->proc_index, 1024))
			return -ENOMEM;
	}
	if (BUF_GROW_ARRAY(u->procs, u->cap_procs, u->n_procs + 1) ||
	    htab__insert(&u->proc_index, h, (uint32_t)u->n_procs))
		return -ENOMEM;
	u->procs[u->n_procs++] = (struct uproc){ .pid = pid, .start = start };
	return 0;
}

int unwinder__exec(struct unwinder *u, uint32_t pid, uint64_t start_boottime)
{
	int err = unwinder__load(u, pid, start_boottime, true);
	int64_t idx = htab__find(&u->proc_index, htab__hash(&pid, sizeof(pid), SEED_PID), proc_eq, u,
				 &pid);

	if (idx >= 0)
		u->procs[idx].stale = true;
	return err;
}

bool unwinder__known(const struct unwinder *u, uint32_t pid)
{
	return htab__find(&u->proc_index, htab__hash(&pid, sizeof(pid), SEED_PID), proc_eq, u,
			  &pid) >= 0;
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

int unwinder__load(struct unwinder *u, uint32_t pid, uint64_t start_boottime, bool again)
{
	int64_t idx = htab__find(&u->proc_index, htab__hash(&pid, sizeof(pid), SEED_PID), proc_eq, u,
				 &pid);
	char path[PATH_MAX];
	int fd, err;

	if (idx >= 0 && u->procs[idx].start == start_boottime && !again && !u->procs[idx].stale)
		return 0;
	snprintf(path, sizeof(path), "%s/%" PRIu32 "/maps", u->proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		u->st.procs_gone++;
		return remember(u, idx, pid, start_boottime);
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
		return remember(u, idx, pid, start_boottime);
	}
	qsort(u->scratch.maps, u->scratch.n, sizeof(u->scratch.maps[0]), mapping_cmp);
	u->scratch.start_boottime = start_boottime;
	err = u->sink.proc(u->sink.ctx, pid, &u->scratch);
	if (err == -ENOSPC)
		u->st.procs_full++;
	else if (err)
		return err;
	u->st.procs++;
	err = remember(u, idx, pid, start_boottime);
	return err ? err : 1;
}
