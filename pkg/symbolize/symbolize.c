/* The symbolizer: process snapshots keyed by (pid, start time), the file
 * cache keyed by dev:inode with symbol tables shared by build-id, the vDSO,
 * perf maps, kallsyms, and the demangled-name cache. Snapshots, files and
 * symbol tables are contiguous arrays with hash indexes over them; what
 * callers get pointers to (mappings, paths, names) lives in an arena or in
 * buffers that never move once filled. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <libiberty/demangle.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/htab.h"
#include "base/log.h"
#include "base/strmap.h"
#include "symbolize/dwlines.h"
#include "symbolize/internal.h"
#include "symbolize/symbolize.h"

#define NONE		UINT32_MAX
#define PERFMAP_UNREAD	(-1)
#define PERFMAP_NONE	(-2)

enum umap_kind {
	UMAP_FILE,	/* an ELF file: its symbol table */
	UMAP_VDSO,
	UMAP_ANON,	/* anonymous or pseudo-file code: the perf map */
	UMAP_BARE,	/* no symbols to be had ([vsyscall]) */
};

struct umap {
	struct sym_mapping m;
	uint32_t symtab;	/* NONE: no table */
	uint8_t kind;
};

/* An executable mapping while a snapshot is taken. */
struct snap_map {
	uint64_t start, end, offset, inode, dev;
	const char *path;	/* interned */
	uint8_t kind;
	bool deleted;
};

struct proc {
	uint64_t start_time;	/* as asked for: the key */
	uint64_t real_start;	/* as /proc said, 0 when gone */
	struct umap *maps;	/* sorted by start */
	uint32_t pid, nspid, n_maps;
	int32_t perfmap;	/* index, PERFMAP_UNREAD or PERFMAP_NONE */
	bool retired;		/* exec() since: a new snapshot takes the key */
	uint8_t refreshes;	/* fruitless re-reads of the maps since the snapshot */
	uint64_t next_refresh;	/* CLOCK_MONOTONIC ns: no refresh before */
	bool mapped_since;	/* a sample said it mapped code since the snapshot: the
				 * next frame no mapping holds reads the maps at once */
};

enum symtab_state { ST_NEW, ST_LOADED, ST_FAILED };

struct symtab {
	const char *build_id;	/* "" for none */
	struct elf_seg *segs;
	uint32_t n_segs;
	int fd;			/* kept from the snapshot for the first lookup, or -1 */
	const char *reopen;	/* opened at the first lookup when fd is -1 */
	const char *root;	/* "<proc_root>/PID/root", for debug files */
	const char *seen;	/* the path its process sees, for .gnu_debuglink; NULL: none */
	uint64_t inode;
	uint8_t state;
	struct esymtab syms;
};

struct symfile {
	uint64_t dev, inode;
	struct timespec ctime;	/* tells a reused inode number from the file we read */
	uint32_t symtab;	/* NONE: could not be opened or is no ELF file */
	bool retired;
};

struct dem {
	const char *raw, *dem;
};

struct kname {
	uint64_t addr;
	const char *name;	/* NULL: no symbol covers it */
};

struct symbolizer {
	char *proc_root, *kallsyms, *perf_map_dir;
	bool no_demangle;
	uint64_t refresh_gap_ns;
	struct arena *arena;	/* mappings, paths, build-ids */
	struct symbolizer_stats st;

	struct proc *procs;
	size_t n_procs, cap_procs;
	struct htab proc_index;		/* by pid alone, so exec finds them all */

	struct symfile *files;
	size_t n_files, cap_files;
	struct htab file_index;

	struct symtab *symtabs;
	size_t n_symtabs, cap_symtabs;
	struct htab build_id_index;

	struct perfmap *perfmaps;
	size_t n_perfmaps, cap_perfmaps;

	struct strmap paths;
	const char **path_copies;	/* by index in paths */
	size_t cap_path_copies;

	struct arena *dem_arena;
	struct dem *dems;
	size_t n_dems, cap_dems;
	struct htab dem_index;		/* by the raw name's address */

	struct ksyms ksyms;
	bool ksyms_tried;
	struct sym_mapping kmap;
	/* kernel names asked of the running kernel, per address (opts) */
	sym_kernel_names_fn *kernel_names;
	void *kernel_names_ctx;
	struct arena *kname_arena;
	struct kname *knames;
	size_t n_knames, cap_knames;
	struct htab kname_index;	/* by address */

	bool vdso_tried;
	uint32_t vdso_symtab;
	uint64_t vdso_size;

	unsigned open_fds, max_fds;
	bool fds_limited;

	struct snap_map *scratch;
	size_t n_scratch, cap_scratch;
	bool scratch_oom;
	bool warned_budget;

	struct dwlines *dw;	/* NULL: no lines */
};

enum { SEED_PROC = 1, SEED_FILE, SEED_BUILD_ID, SEED_DEM, SEED_KNAME };

/* --- small helpers --- */

/* Whole small file into buf, NUL-terminated: its length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	int err;

	if (fd < 0)
		return -errno;
	while (len < cap - 1) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			close(fd);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

static int proc__read_start(const struct symbolizer *s, uint32_t pid, uint64_t *start)
{
	char path[PATH_MAX], text[PROC_SMALL_FILE_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%" PRIu32 "/stat", s->proc_root, pid);
	n = read_small(path, text, sizeof(text));
	if (n < 0)
		return (int)n;
	return procfs__start_time(text, (size_t)n, start);
}

static const char *arena_fmt(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const char *arena_fmt(struct arena *a, const char *fmt, ...)
{
	char tmp[PATH_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return arena__strndup(a, tmp, (size_t)n);
}

/* --- interned paths --- */

/* Many processes map the same libraries: one copy of each path. It lives
 * in the arena, not in the map's text, because mappings point to it and
 * the text moves as it grows. NULL with errno E2BIG past the budget or
 * ENOMEM. */
static const char *path__intern(struct symbolizer *s, const char *str, size_t len)
{
	size_t idx;
	int added;

	if (BUF_GROW_ARRAY(s->path_copies, s->cap_path_copies, s->paths.n + 1)) {
		errno = ENOMEM;
		return NULL;
	}
	added = strmap__intern(&s->paths, str, len, &idx);
	if (added < 0) {
		errno = -added;
		return NULL;
	}
	/* a copy the arena refused before is tried again */
	if (added || !s->path_copies[idx])
		s->path_copies[idx] = arena__strndup(s->arena, str, len);
	return s->path_copies[idx];
}

/* --- demangling --- */

static bool dem__eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct dem *)ctx)[idx].raw == *(const char *const *)key;
}

/* Each raw name is demangled once: names live in buffers that never move,
 * so the cache is keyed by the name's address. */
static const char *symbolizer__demangle(struct symbolizer *s, const char *raw)
{
	uint32_t h;
	int64_t idx;
	const char *dem = raw;
	char *d;

	const char *at = raw[0] ? strchr(raw + 1, '@') : NULL;

	/* _Z: Itanium C++ and legacy Rust; _R: Rust v0; '@': a symbol version
	 * (clock_gettime@@GLIBC_2.17), which is no part of the function's name */
	if (s->no_demangle ||
	    (!at && (raw[0] != '_' || (raw[1] != 'Z' && raw[1] != 'R'))))
		return raw;
	h = htab__hash(&raw, sizeof(raw), SEED_DEM);
	idx = htab__find(&s->dem_index, h, dem__eq, s->dems, &raw);
	if (idx >= 0)
		return s->dems[idx].dem;
	if (s->n_dems >= DEMANGLE_MAX_ENTRIES || BUF_GROW_ARRAY(s->dems, s->cap_dems, s->n_dems + 1))
		return raw;
	if (at) {
		/* the bare name, itself demangled when it is mangled */
		const char *bare = arena__strndup(s->dem_arena, raw, (size_t)(at - raw));

		if (bare) {
			dem = bare;
			d = bare[0] == '_' && (bare[1] == 'Z' || bare[1] == 'R') &&
					    strlen(bare) <= DEMANGLE_MAX_INPUT
				    ? cplus_demangle(bare, DMGL_PARAMS | DMGL_ANSI)
				    : NULL;
			if (d) {
				const char *c = arena__strndup(s->dem_arena, d, strlen(d));

				if (c)
					dem = c;
				free(d);
			}
		}
	} else if (strnlen(raw, DEMANGLE_MAX_INPUT + 1) <= DEMANGLE_MAX_INPUT) {
		d = cplus_demangle(raw, DMGL_PARAMS | DMGL_ANSI);
		if (d) {
			/* past the budget the raw name stands in, still only once */
			const char *c = arena__strndup(s->dem_arena, d, strlen(d));

			if (c)
				dem = c;
			free(d);
		}
	}
	if (htab__insert(&s->dem_index, h, (uint32_t)s->n_dems))
		return dem;
	s->dems[s->n_dems].raw = raw;
	s->dems[s->n_dems].dem = dem;
	s->n_dems++;
	return dem;
}

/* --- lifetime --- */

struct symbolizer *symbolizer__new(const struct symbolizer_opts *o)
{
	static const struct symbolizer_opts none;
	struct symbolizer *s;
	char tmp[PATH_MAX];

	if (!o)
		o = &none;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = ENOTSUP;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->vdso_symtab = NONE;
	s->no_demangle = o->no_demangle;
	s->refresh_gap_ns = o->refresh_gap_ns ? o->refresh_gap_ns : SYM_REFRESH_GAP_NS;
	s->proc_root = strdup(o->proc_root ? o->proc_root : "/proc");
	s->perf_map_dir = strdup(o->perf_map_dir ? o->perf_map_dir : "/tmp");
	if (o->kallsyms) {
		s->kallsyms = strdup(o->kallsyms);
	} else if (s->proc_root) {
		snprintf(tmp, sizeof(tmp), "%s/kallsyms", s->proc_root);
		s->kallsyms = strdup(tmp);
	}
	s->arena = arena__new(SYM_ARENA_BUDGET);
	s->dem_arena = arena__new(DEMANGLE_BUDGET);
	if (!s->proc_root || !s->perf_map_dir || !s->kallsyms || !s->arena || !s->dem_arena ||
	    htab__init(&s->proc_index, 256) || htab__init(&s->file_index, 256) ||
	    htab__init(&s->build_id_index, 256) || strmap__init(&s->paths, SYM_ARENA_BUDGET) ||
	    htab__init(&s->dem_index, 1024))
		goto err_free;
	if (o->kernel_names) {
		s->kernel_names = o->kernel_names;
		s->kernel_names_ctx = o->kernel_names_ctx;
		s->kname_arena = arena__new(KNAME_BUDGET);
		if (!s->kname_arena || htab__init(&s->kname_index, 1024))
			goto err_free;
	}
	if (!o->no_lines) {
		struct dwlines_opts dwo = { .no_demangle = o->no_demangle, .cache_dir = o->cache_dir };

		s->dw = dwlines__new(&dwo);
		if (!s->dw)
			goto err_free;
	}
	s->kmap.path = "[kernel.kallsyms]";
	s->kmap.build_id = "";
	return s;

err_free:
	symbolizer__free(s);
	errno = ENOMEM;
	return NULL;
}

void symbolizer__free(struct symbolizer *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n_symtabs; i++) {
		if (s->symtabs[i].fd >= 0)
			close(s->symtabs[i].fd);
		esymtab__free(&s->symtabs[i].syms);
	}
	for (i = 0; i < s->n_perfmaps; i++)
		perfmap__free(&s->perfmaps[i]);
	ksyms__free(&s->ksyms);
	dwlines__free(s->dw);
	htab__free(&s->proc_index);
	htab__free(&s->file_index);
	htab__free(&s->build_id_index);
	strmap__free(&s->paths);
	htab__free(&s->dem_index);
	htab__free(&s->kname_index);
	free(s->knames);
	arena__free(s->kname_arena);
	free(s->procs);
	free(s->files);
	free(s->symtabs);
	free(s->perfmaps);
	free(s->path_copies);
	free(s->dems);
	free(s->scratch);
	arena__free(s->arena);
	arena__free(s->dem_arena);
	free(s->proc_root);
	free(s->kallsyms);
	free(s->perf_map_dir);
	free(s);
}

/* --- file descriptors --- */

/* A file is opened when its process is first seen, read at its first
 * lookup: keep the fd in between, up to a share of the limit. */
static bool symbolizer__take_fd(struct symbolizer *s)
{
	if (!s->fds_limited) {
		struct rlimit rl;

		s->fds_limited = true;
		s->max_fds = 0;
		if (!getrlimit(RLIMIT_NOFILE, &rl)) {
			if (rl.rlim_cur < rl.rlim_max) {
				rl.rlim_cur = rl.rlim_max;
				if (setrlimit(RLIMIT_NOFILE, &rl))
					getrlimit(RLIMIT_NOFILE, &rl);
			}
			/* the rest of the tool needs fds too */
			s->max_fds = rl.rlim_cur / 2 < SYM_MAX_OPEN_FDS ? (unsigned)(rl.rlim_cur / 2)
								       : SYM_MAX_OPEN_FDS;
		}
	}
	if (s->open_fds >= s->max_fds)
		return false;
	s->open_fds++;
	return true;
}

/* --- symbol tables --- */

static bool build_id__eq(const void *ctx, uint32_t idx, const void *key)
{
	return !strcmp(((const struct symtab *)ctx)[idx].build_id, key);
}

static int64_t symtab__by_build_id(const struct symbolizer *s, const char *build_id)
{
	return htab__find(&s->build_id_index, htab__hash(build_id, strlen(build_id), SEED_BUILD_ID),
			  build_id__eq, s->symtabs, build_id);
}

/* A new table for an ELF file; the caller fills its source. */
static struct symtab *symtab__add(struct symbolizer *s, const struct elf_info *ei, uint32_t *idx)
{
	struct symtab *t;

	if (s->n_symtabs >= NONE - 1 || BUF_GROW_ARRAY(s->symtabs, s->cap_symtabs, s->n_symtabs + 1)) {
		errno = ENOMEM;
		return NULL;
	}
	t = &s->symtabs[s->n_symtabs];
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->build_id = ei->build_id[0] ? arena__strndup(s->arena, ei->build_id, strlen(ei->build_id))
				      : "";
	t->segs = arena__alloc(s->arena, (ei->n_segs ? ei->n_segs : 1) * sizeof(*t->segs));
	if (!t->build_id || !t->segs)
		return NULL;
	memcpy(t->segs, ei->segs, ei->n_segs * sizeof(*t->segs));
	t->n_segs = ei->n_segs;
	if (ei->build_id[0] &&
	    htab__insert(&s->build_id_index,
			 htab__hash(t->build_id, strlen(t->build_id), SEED_BUILD_ID),
			 (uint32_t)s->n_symtabs)) {
		errno = ENOMEM;
		return NULL;
	}
	*idx = (uint32_t)s->n_symtabs++;
	return t;
}

int open_regular(int dirfd, const char *path, bool in_root, int flags, struct stat *st)
{
	int fd = -1, err;

	flags |= O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
	if (in_root) {
		/* the container's absolute symlinks must resolve in its root,
		 * not ours */
		struct open_how how = {
			.flags = (uint64_t)flags,
			.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
		};

		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd < 0 && errno != ENOSYS)
			return -errno;
	}
	if (fd < 0) {
		/* no openat2 (before 5.6): at least stay under dirfd */
		while (in_root && *path == '/')
			path++;
		fd = openat(dirfd, path, flags);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, st)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

static int symtab__load_debug(struct symtab *t, const char *dir)
{
	char path[PATH_MAX];
	struct elf_info ei;
	struct stat st;
	Elf *elf;
	int fd, err;

	/* Debian's layout: .build-id/xx/rest.debug */
	if ((size_t)snprintf(path, sizeof(path), "%s/usr/lib/debug/.build-id/%.2s/%s.debug", dir,
			     t->build_id, t->build_id + 2) >= sizeof(path))
		return -ENOENT;
	fd = open_regular(AT_FDCWD, path, false, 0, &st);
	if (fd < 0)
		return -ENOENT;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	err = -ENOENT;
	if (elf && !elfinfo__read(elf, &ei) && !strcmp(ei.build_id, t->build_id))
		err = esymtab__load(&t->syms, elf, SHT_SYMTAB);
	elf_end(elf);
	close(fd);
	return err == -ENOMEM ? err : err ? -ENOENT : 0;
}

/* Where the file's DWARF is, found while the file is open: 0 or -ENOMEM. */
static int symtab__attach_lines(struct symbolizer *s, const struct symtab *t, Elf *elf, int fd)
{
	struct dwlines_file f = { .build_id = t->build_id, .root = t->root, .path = t->seen };

	/* a file read by another path than its own (map_files) has no
	 * directory of its own for .gnu_debuglink */
	return dwlines__attach(s->dw, (uint32_t)(t - s->symtabs), elf, fd, &f);
}

/* First lookup in a file: its symbols, from .symtab, else a debug file's
 * .symtab, else .dynsym. */
static int symtab__load(struct symbolizer *s, struct symtab *t)
{
	struct stat st;
	Elf *elf;
	int fd = t->fd, err;

	t->state = ST_FAILED;
	if (fd >= 0) {
		t->fd = -1;
		s->open_fds--;
	} else if (t->reopen) {
		fd = open_regular(AT_FDCWD, t->reopen, false, 0, &st);
		if (fd >= 0 && (uint64_t)st.st_ino != t->inode) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		s->st.files_failed++;
		return 0;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	err = elf ? esymtab__load(&t->syms, elf, SHT_SYMTAB) : -ENOEXEC;
	if (!err && !t->syms.n) {
		/* a .symtab without functions says less than .dynsym */
		esymtab__free(&t->syms);
		err = -ENOENT;
	}
	if (err && err != -ENOMEM && t->build_id[0]) {
		if (t->root)
			err = symtab__load_debug(t, t->root);
		if (err == -ENOENT)
			err = symtab__load_debug(t, "");
	}
	if (err && err != -ENOMEM && elf)
		err = esymtab__load(&t->syms, elf, SHT_DYNSYM);
	if (err != -ENOMEM && elf && s->dw)
		err = symtab__attach_lines(s, t, elf, fd) ?: err;
	elf_end(elf);
	close(fd);
	if (t->syms.dropped)
		pr_debug("symbolize: %s: %" PRIu64 " symbols past the limits\n",
			 t->reopen ? t->reopen : t->build_id, t->syms.dropped);
	if (err == -ENOMEM)
		return err;
	if (err && err != -ENOENT)
		s->st.files_failed++;
	t->state = ST_LOADED;
	return 0;
}


struct vdso_find {
	uint64_t base, size;
};

static int vdso__line(void *ctx, const char *line, size_t len)
{
	struct vdso_find *vf = ctx;
	struct proc_map m;

	if (procfs__parse_maps_line(line, len, &m) == 1 && m.start == vf->base && m.path_len == 6 &&
	    !memcmp(m.path, "[vdso]", 6)) {
		vf->size = m.end - m.start;
		return 1;
	}
	return 0;
}

/* The vDSO is the kernel's, the same in every process of one ABI: read
 * ours, from a copy (libelf wants memory it may treat as its own). */
static uint32_t symbolizer__vdso(struct symbolizer *s)
{
	struct vdso_find vf = { 0, 0 };
	struct elf_info ei;
	struct symtab *t;
	void *copy = NULL;
	Elf *elf = NULL;
	uint32_t idx;
	int fd, err;

	if (s->vdso_tried)
		return s->vdso_symtab;
	s->vdso_tried = true;
	vf.base = getauxval(AT_SYSINFO_EHDR);
	if (!vf.base)
		return NONE;
	/* our own maps, whatever procfs root the tests inject */
	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NONE;
	lines__read(fd, SYM_LINE_CHUNK, PROCMAPS_MAX_BYTES, vdso__line, &vf, NULL);
	close(fd);
	if (!vf.size || vf.size > VDSO_MAX_SIZE)
		return NONE;
	copy = malloc(vf.size);
	if (!copy)
		return NONE;
	memcpy(copy, (const void *)(uintptr_t)vf.base, vf.size);
	elf = elf_memory(copy, vf.size);
	if (!elf || elfinfo__read(elf, &ei))
		goto out_free;
	t = symtab__add(s, &ei, &idx);
	if (!t)
		goto out_free;
	err = esymtab__load(&t->syms, elf, SHT_SYMTAB);
	if (err == -ENOENT)
		esymtab__load(&t->syms, elf, SHT_DYNSYM);
	/* its debug file, if the kernel's is installed (by build-id) */
	if (s->dw)
		symtab__attach_lines(s, t, elf, -1);
	t->state = ST_LOADED;
	s->vdso_symtab = idx;
	s->vdso_size = vf.size;
out_free:
	elf_end(elf);
	free(copy);
	return s->vdso_symtab;
}

/* --- files --- */

struct file_key {
	uint64_t dev, inode;
};

static bool file__eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct symfile *f = &((const struct symfile *)ctx)[idx];
	const struct file_key *k = key;

	return f->dev == k->dev && f->inode == k->inode && !f->retired;
}

/* One snapshot in progress. */
struct snap {
	struct symbolizer *s;
	struct proc *p;
	int rootfd;		/* <proc_root>/PID/root, opened at the first file */
	bool root_tried;
};

static int snap__root(struct snap *sn)
{
	char path[PATH_MAX];

	if (!sn->root_tried) {
		sn->root_tried = true;
		snprintf(path, sizeof(path), "%s/%" PRIu32 "/root", sn->s->proc_root, sn->p->pid);
		sn->rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	return sn->rootfd;
}

/* Opens the file behind an executable mapping while its process lives:
 * through the process's root (containers) when that holds the very file,
 * else through map_files (deleted or replaced binaries, memfd). Reads the
 * build-id and segments; the symbols wait for the first lookup. Fills
 * f->symtab (NONE when unreadable); -ENOMEM only. */
static int file__open(struct snap *sn, const struct snap_map *sm, struct symfile *f)
{
	struct symbolizer *s = sn->s;
	char mpath[PATH_MAX];
	struct elf_info ei;
	struct stat st, rst;
	struct symtab *t;
	int64_t found;
	uint32_t idx;
	int fd = -1, rfd = -1, err;
	bool via_root = false;
	Elf *elf;

	f->symtab = NONE;
	if (!sm->deleted && snap__root(sn) >= 0) {
		rfd = open_regular(sn->rootfd, sm->path, true, 0, &rst);
		if (rfd >= 0 && (uint64_t)rst.st_ino == sm->inode) {
			if (rst.st_dev != makedev(sm->dev >> 32, sm->dev & 0xffffffffu))
				pr_debug("symbolize: %s: device differs from the maps line (overlayfs?)\n",
					 sm->path);
			fd = rfd;
			st = rst;
			rfd = -1;
			via_root = true;
		}
	}
	if (fd < 0) {
		snprintf(mpath, sizeof(mpath), "%s/%" PRIu32 "/map_files/%" PRIx64 "-%" PRIx64,
			 s->proc_root, sn->p->pid, sm->start, sm->end);
		fd = open_regular(AT_FDCWD, mpath, false, 0, &st);
	}
	if (fd < 0 && rfd >= 0) {
		/* on overlayfs the maps line may name the underlying inode;
		 * the path the process sees is the best left */
		fd = rfd;
		st = rst;
		rfd = -1;
		via_root = true;
	}
	if (rfd >= 0)
		close(rfd);
	if (fd < 0) {
		pr_debug("symbolize: pid %" PRIu32 ": cannot open %s\n", sn->p->pid, sm->path);
		s->st.files_failed++;
		return 0;
	}
	f->ctime = st.st_ctim;
	s->st.files++;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	err = elf ? elfinfo__read(elf, &ei) : -ENOEXEC;
	elf_end(elf);
	if (err) {
		close(fd);
		s->st.files_failed++;
		return 0;
	}
	if (ei.build_id[0] && (found = symtab__by_build_id(s, ei.build_id)) >= 0) {
		close(fd);
		f->symtab = (uint32_t)found;
		return 0;
	}
	t = symtab__add(s, &ei, &idx);
	if (!t) {
		close(fd);
		if (errno == ENOMEM)
			return -ENOMEM;
		s->st.files_failed++;
		return 0;
	}
	t->inode = (uint64_t)st.st_ino;
	t->root = arena_fmt(s->arena, "%s/%" PRIu32 "/root", s->proc_root, sn->p->pid);
	t->seen = sm->path;
	if (symbolizer__take_fd(s)) {
		t->fd = fd;
	} else {
		close(fd);
		t->reopen = via_root ? arena_fmt(s->arena, "%s/%" PRIu32 "/root%s", s->proc_root,
						  sn->p->pid, sm->path)
				     : arena__strndup(s->arena, mpath, strlen(mpath));
	}
	f->symtab = idx;
	return 0;
}

/* A cached dev:inode whose path now holds a newer file of that inode
 * number: the old file was deleted and its inode reused. */
static bool file__replaced(struct snap *sn, const struct snap_map *sm, const struct symfile *f)
{
	struct stat st;

	if (snap__root(sn) < 0 || fstatat(sn->rootfd, sm->path + 1, &st, 0))
		return false;
	return (uint64_t)st.st_ino == sm->inode &&
	       (st.st_ctim.tv_sec != f->ctime.tv_sec || st.st_ctim.tv_nsec != f->ctime.tv_nsec);
}

/* The symbol table of a mapped file: NONE when unreadable, or -ENOMEM. */
static int64_t file__get(struct snap *sn, const struct snap_map *sm)
{
	struct symbolizer *s = sn->s;
	struct file_key k = { sm->dev, sm->inode };
	uint32_t h = htab__hash(&k, sizeof(k), SEED_FILE);
	int64_t idx = htab__find(&s->file_index, h, file__eq, s->files, &k);
	struct symfile *f;
	int err;

	if (idx >= 0) {
		f = &s->files[idx];
		if (f->symtab == NONE || sm->deleted || !file__replaced(sn, sm, f))
			return f->symtab;
		f->retired = true;
	}
	if (s->n_files >= NONE - 1 || BUF_GROW_ARRAY(s->files, s->cap_files, s->n_files + 1))
		return -ENOMEM;
	f = &s->files[s->n_files];
	memset(f, 0, sizeof(*f));
	f->dev = sm->dev;
	f->inode = sm->inode;
	err = file__open(sn, sm, f);
	if (err)
		return err;
	if (htab__insert(&s->file_index, h, (uint32_t)s->n_files))
		return -ENOMEM;
	return s->files[s->n_files++].symtab;
}

/* --- snapshots --- */

static int snap__line(void *ctx, const char *line, size_t len)
{
	struct snap *sn = ctx;
	struct symbolizer *s = sn->s;
	struct snap_map *sm;
	struct proc_map m;
	const char *path;
	size_t plen;
	int r = procfs__parse_maps_line(line, len, &m);

	if (r <= 0) {
		s->st.maps_dropped += r < 0;
		return 0;
	}
	if (s->n_scratch >= PROCMAPS_MAX_EXEC) {
		s->st.maps_dropped++;
		return 0;
	}
	if (BUF_GROW_ARRAY(s->scratch, s->cap_scratch, s->n_scratch + 1))
		return -ENOMEM;
	sm = &s->scratch[s->n_scratch];
	memset(sm, 0, sizeof(*sm));
	sm->start = m.start;
	sm->end = m.end;
	sm->offset = m.offset;
	sm->inode = m.inode;
	sm->dev = (uint64_t)m.dev_major << 32 | m.dev_minor;
	sm->deleted = m.deleted;
	path = m.path;
	plen = m.path_len;
	if (!plen) {
		path = "[anon]";
		plen = 6;
		sm->kind = UMAP_ANON;
	} else if (plen == 6 && !memcmp(path, "[vdso]", 6)) {
		sm->kind = UMAP_VDSO;
	} else if (plen == 10 && !memcmp(path, "[vsyscall]", 10)) {
		sm->kind = UMAP_BARE;
	} else if (path[0] != '/' || !m.inode) {
		/* [heap], [anon:name], anon_inode:...: code a JIT wrote */
		sm->kind = UMAP_ANON;
	} else {
		sm->kind = UMAP_FILE;
	}
	sm->path = path__intern(s, path, plen);
	if (!sm->path) {
		if (errno == ENOMEM)
			return -ENOMEM;
		s->st.maps_dropped++;
		return 0;
	}
	s->n_scratch++;
	return 0;
}

static int snap_map__cmp(const void *a, const void *b)
{
	const struct snap_map *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Whether [start, limit) meets a mapping of maps (n, sorted by start). */
static bool maps__overlap(const struct umap *maps, size_t n, uint64_t start, uint64_t limit)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {	/* the first mapping ending past start */
		size_t mid = lo + (hi - lo) / 2;

		if (maps[mid].m.limit <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && maps[lo].m.start < limit;
}

/* A snapshot's mappings become p's. A refresh keeps the mappings it no
 * longer sees where nothing new lies: the samples that asked for it may
 * have been taken before the process unmapped code, or exec'd (the exec
 * event, which retires p, can still be behind them in the ring). */
static int proc__set_maps(struct symbolizer *s, struct proc *p, struct umap *maps, size_t n)
{
	size_t kept = 0, i, j, k;
	struct umap *all;

	for (i = 0; i < p->n_maps; i++)
		kept += !maps__overlap(maps, n, p->maps[i].m.start, p->maps[i].m.limit);
	if (!kept) {
		p->maps = maps;
		p->n_maps = (uint32_t)n;
		return 0;
	}
	all = arena__zalloc(s->arena, (n + kept) * sizeof(*all));
	if (!all) {
		if (errno == ENOMEM)
			return -ENOMEM;
		p->maps = maps;	/* the budget is spent: the new ones only */
		p->n_maps = (uint32_t)n;
		return 0;
	}
	for (i = j = k = 0; i < p->n_maps || j < n;) {
		if (i < p->n_maps && maps__overlap(maps, n, p->maps[i].m.start, p->maps[i].m.limit)) {
			i++;
		} else if (j == n || (i < p->n_maps && p->maps[i].m.start < maps[j].m.start)) {
			all[k++] = p->maps[i++];
		} else {
			all[k++] = maps[j++];
		}
	}
	p->maps = all;
	p->n_maps = (uint32_t)k;
	return 0;
}

/* Reads the maps of p->pid and opens its files, making sure the process
 * read is the one asked for: 0 (p->maps empty when it is gone) or -ENOMEM.
 * Maps we may not read count as gone too: either way nothing is known. */
static int proc__snapshot(struct symbolizer *s, struct proc *p)
{
	struct snap sn = { .s = s, .p = p, .rootfd = -1 };
	char path[PATH_MAX], text[PROC_SMALL_FILE_MAX];
	struct lines_stats lst;
	uint64_t st1, st2;
	struct umap *maps;
	size_t i;
	ssize_t n;
	int fd, err = 0;

	s->n_scratch = 0;
	if (proc__read_start(s, p->pid, &st1) || (p->start_time && st1 != p->start_time))
		goto gone;
	snprintf(path, sizeof(path), "%s/%" PRIu32 "/status", s->proc_root, p->pid);
	n = read_small(path, text, sizeof(text));
	if (n > 0)
		procfs__nspid(text, (size_t)n, &p->nspid);
	snprintf(path, sizeof(path), "%s/%" PRIu32 "/maps", s->proc_root, p->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto gone;
	err = lines__read(fd, SYM_LINE_CHUNK, PROCMAPS_MAX_BYTES, snap__line, &sn, &lst);
	close(fd);
	if (err == -ENOMEM)
		return err;
	if (err)
		goto gone;
	if (lst.too_long || lst.truncated) {
		s->st.maps_dropped += lst.too_long + lst.truncated;
		pr_warn("symbolize: pid %" PRIu32 ": maps cut at the limits\n", p->pid);
	}
	/* a pid reused while we read belongs to someone else */
	if (proc__read_start(s, p->pid, &st2) || st2 != st1)
		goto gone;
	p->real_start = st1;
	if (!s->n_scratch)
		return 0;
	for (i = 1; i < s->n_scratch; i++)
		if (s->scratch[i].start < s->scratch[i - 1].start)
			break;
	if (i < s->n_scratch)
		qsort(s->scratch, s->n_scratch, sizeof(*s->scratch), snap_map__cmp);

	maps = arena__zalloc(s->arena, s->n_scratch * sizeof(*maps));
	if (!maps) {
		if (errno == ENOMEM)
			return -ENOMEM;
		s->st.maps_dropped += s->n_scratch;
		if (!s->warned_budget)
			pr_warn("symbolize: mapping memory budget spent: new processes stay unsymbolized\n");
		s->warned_budget = true;
		return 0;
	}
	for (i = 0; i < s->n_scratch; i++) {
		const struct snap_map *sm = &s->scratch[i];
		struct umap *um = &maps[i];
		int64_t t = NONE;

		um->m.start = sm->start;
		um->m.limit = sm->end;
		um->m.offset = sm->offset;
		um->m.path = sm->path;
		um->m.build_id = "";
		um->kind = sm->kind;
		if (sm->kind == UMAP_FILE) {
			t = file__get(&sn, sm);
			if (t < 0) {
				err = (int)t;
				break;
			}
		} else if (sm->kind == UMAP_VDSO) {
			t = symbolizer__vdso(s);
			/* another ABI's vDSO is not ours */
			if (t != NONE && sm->end - sm->start != s->vdso_size)
				t = NONE;
		}
		um->symtab = (uint32_t)t;
		if (t != NONE)
			um->m.build_id = s->symtabs[t].build_id;
	}
	if (sn.rootfd >= 0)
		close(sn.rootfd);
	if (err)
		return err;
	return proc__set_maps(s, p, maps, s->n_scratch);

gone:
	s->st.procs_gone++;
	return 0;
}

struct proc_key {
	uint32_t pid;
	uint64_t start_time;
};

static bool proc__eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct proc *p = &((const struct proc *)ctx)[idx];
	const struct proc_key *k = key;

	return p->pid == k->pid && p->start_time == k->start_time && !p->retired;
}

static uint32_t pid__hash(uint32_t pid)
{
	return htab__hash(&pid, sizeof(pid), SEED_PROC);
}

int64_t symbolizer__proc(struct symbolizer *s, uint32_t pid, uint64_t start_time)
{
	struct proc_key k = { pid, start_time };
	uint32_t h = pid__hash(pid);
	int64_t idx = htab__find(&s->proc_index, h, proc__eq, s->procs, &k);
	struct proc *p;
	int err;

	if (idx >= 0)
		return idx;
	if (s->n_procs >= SYM_MAX_PROCS)
		return -E2BIG;
	if (BUF_GROW_ARRAY(s->procs, s->cap_procs, s->n_procs + 1))
		return -ENOMEM;
	p = &s->procs[s->n_procs];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->nspid = pid;
	p->start_time = start_time;
	p->perfmap = PERFMAP_UNREAD;
	err = proc__snapshot(s, p);
	if (!err)
		err = htab__insert(&s->proc_index, h, (uint32_t)s->n_procs);
	if (err)
		return err;
	s->st.procs++;
	return (int64_t)s->n_procs++;
}

static bool proc__live_pid_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct proc *p = &((const struct proc *)ctx)[idx];

	return p->pid == *(const uint32_t *)key && !p->retired;
}

void symbolizer__exec(struct symbolizer *s, uint32_t pid)
{
	uint32_t h = pid__hash(pid);
	int64_t idx;

	/* each snapshot of pid not yet retired, whatever its start time: a
	 * retired one matches no more, so this ends */
	while ((idx = htab__find(&s->proc_index, h, proc__live_pid_eq, s->procs, &pid)) >= 0)
		s->procs[idx].retired = true;
}

/* --- lookups --- */

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static struct umap *proc__find_map(const struct proc *p, uint64_t addr);

int symbolizer__check(struct symbolizer *s, int64_t proc_id, const uint64_t *frames, size_t n,
		      bool mapped)
{
	uint64_t now, gone;
	struct proc *p;
	size_t i;
	int err;

	if (proc_id < 0 || (uint64_t)proc_id >= s->n_procs)
		return -EINVAL;
	p = &s->procs[proc_id];
	if (!p->real_start)
		return 0;	/* gone when first seen: nothing to read */
	/* kept until a frame needs it: the sample that says so may have
	 * none in the new code (ld.so's own, after it mapped libc) */
	p->mapped_since |= mapped;
	for (i = 0; i < n; i++)
		if (!proc__find_map(p, frames[i]))
			break;
	if (i == n)
		return 0;
	/* A walk through code without frame pointers yields garbage
	 * addresses that no refresh explains: back off, doubling the gap,
	 * unless the process is known to have mapped code since. */
	now = now_ns();
	if (!p->mapped_since && (p->refreshes >= SYM_MAX_REFRESHES || now < p->next_refresh))
		return 0;
	s->st.refreshes++;
	gone = s->st.procs_gone;
	err = proc__snapshot(s, p);
	s->st.procs_gone = gone;	/* exited since: the snapshot stays as it was */
	if (err)
		return err;
	p->mapped_since = false;
	/* A refresh that explained the frame was needed: the next may be too
	 * (ld.so maps one library after another). Only fruitless ones count. */
	if (!proc__find_map(p, frames[i]))
		p->next_refresh = now + (s->refresh_gap_ns << p->refreshes++);
	return 1;
}

int symbolizer__refresh(struct symbolizer *s, int64_t proc_id)
{
	uint64_t gone;
	struct proc *p;
	int err;

	if (proc_id < 0 || (uint64_t)proc_id >= s->n_procs)
		return -EINVAL;
	p = &s->procs[proc_id];
	if (!p->real_start)
		return 0;
	gone = s->st.procs_gone;
	err = proc__snapshot(s, p);
	s->st.procs_gone = gone;
	return err;
}

static struct umap *proc__find_map(const struct proc *p, uint64_t addr)
{
	uint32_t lo = 0, hi = p->n_maps;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (p->maps[mid].m.start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= p->maps[lo - 1].m.limit)
		return NULL;
	return &p->maps[lo - 1];
}

/* perf-NSPID.map as the process sees it, read at the first address that
 * needs it: through its root while the pid is still that process, else
 * (host pid namespace only) from the host's directory, where a process that
 * exited leaves it. */
static int proc__load_perfmap(struct symbolizer *s, struct proc *p)
{
	char path[PATH_MAX];
	struct stat st;
	uint64_t now;
	uint32_t i;
	int fd = -1, rootfd, err;

	p->perfmap = PERFMAP_NONE;
	if (p->real_start && !proc__read_start(s, p->pid, &now) && now == p->real_start) {
		snprintf(path, sizeof(path), "%s/%" PRIu32 "/root", s->proc_root, p->pid);
		rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd >= 0) {
			snprintf(path, sizeof(path), "%s/perf-%" PRIu32 ".map", s->perf_map_dir,
				 p->nspid);
			/* written by the process: a symlink there could point
			 * anywhere */
			fd = open_regular(rootfd, path, true, O_NOFOLLOW, &st);
			close(rootfd);
		}
	}
	if (fd < 0 && p->nspid == p->pid) {
		snprintf(path, sizeof(path), "%s/perf-%" PRIu32 ".map", s->perf_map_dir, p->pid);
		fd = open_regular(AT_FDCWD, path, false, O_NOFOLLOW, &st);
	}
	if (fd < 0)
		return 0;
	if (BUF_GROW_ARRAY(s->perfmaps, s->cap_perfmaps, s->n_perfmaps + 1)) {
		close(fd);
		return -ENOMEM;
	}
	err = perfmap__load_fd(&s->perfmaps[s->n_perfmaps], fd);
	close(fd);
	if (err)
		return err == -ENOMEM ? err : 0;
	s->st.perfmap_bad_lines += s->perfmaps[s->n_perfmaps].bad_lines;
	if (s->perfmaps[s->n_perfmaps].n)
		for (i = 0; i < p->n_maps; i++)
			if (p->maps[i].kind == UMAP_ANON)
				p->maps[i].m.has_symbols = true;
	p->perfmap = (int32_t)s->n_perfmaps++;
	return 0;
}

static int proc__perfmap_find(struct symbolizer *s, struct proc *p, uint64_t addr,
			      const char **raw)
{
	int err;

	if (p->perfmap == PERFMAP_UNREAD) {
		err = proc__load_perfmap(s, p);
		if (err)
			return err;
	}
	if (p->perfmap >= 0)
		*raw = perfmap__find(&s->perfmaps[p->perfmap], addr);
	return 0;
}

/* The one place a byte of an ELF file becomes a name and, unless
 * no_lines, its Lines from DWARF: process frames and files named by path
 * alike. The table is read at its first lookup. */
static int symtab__lookup(struct symbolizer *s, uint32_t idx, uint64_t file_offset,
			  struct sym_result *r)
{
	struct symtab *t = &s->symtabs[idx];
	uint64_t vaddr;
	int err;

	if (t->state == ST_NEW && (err = symtab__load(s, t)))
		return err;
	if (!elfinfo__to_vaddr(t->segs, t->n_segs, file_offset, &vaddr))
		return 0;
	r->system_name = esymtab__find(&t->syms, vaddr);
	if (r->system_name)
		r->name = symbolizer__demangle(s, r->system_name);
	if (!s->dw)
		return 0;
	return dwlines__lookup(s->dw, idx, vaddr, r->name, r->system_name, &r->lines, &r->n_lines);
}

int symbolizer__user(struct symbolizer *s, int64_t proc_id, uint64_t addr, struct sym_result *r)
{
	const char *raw = NULL;
	struct proc *p;
	struct umap *um;
	int err = 0;

	memset(r, 0, sizeof(*r));
	if (proc_id < 0 || (uint64_t)proc_id >= s->n_procs)
		return -EINVAL;
	p = &s->procs[proc_id];
	um = proc__find_map(p, addr);
	if (!um) {
		err = proc__perfmap_find(s, p, addr, &raw);
	} else {
		r->map = &um->m;
		switch (um->kind) {
		case UMAP_FILE:
		case UMAP_VDSO:
			if (um->symtab == NONE) {
				/* no ELF file: JIT code in a memfd, say */
				if (um->kind == UMAP_FILE)
					err = proc__perfmap_find(s, p, addr, &raw);
				break;
			}
			err = symtab__lookup(s, um->symtab, addr - um->m.start + um->m.offset, r);
			um->m.has_symbols = s->symtabs[um->symtab].syms.n > 0;
			break;
		case UMAP_ANON:
			err = proc__perfmap_find(s, p, addr, &raw);
			break;
		default:
			break;
		}
	}
	if (raw) {
		r->system_name = raw;
		r->name = symbolizer__demangle(s, raw);
	}
	return err;
}

/* The table of a file seen by path, cached by dev:inode (replaced files
 * told apart by ctime) and shared by build-id with process snapshots. */
static int64_t file__by_path(struct symbolizer *s, const char *path, const struct stat *st, int fd)
{
	struct file_key k = { (uint64_t)major(st->st_dev) << 32 | minor(st->st_dev),
			      (uint64_t)st->st_ino };
	uint32_t h = htab__hash(&k, sizeof(k), SEED_FILE), idx = NONE;
	int64_t found = htab__find(&s->file_index, h, file__eq, s->files, &k);
	struct elf_info ei;
	struct symfile *f;
	struct symtab *t;
	Elf *elf;

	if (found >= 0 && s->files[found].ctime.tv_sec == st->st_ctim.tv_sec &&
	    s->files[found].ctime.tv_nsec == st->st_ctim.tv_nsec)
		return s->files[found].symtab;
	if (found >= 0)
		s->files[found].retired = true;
	if (s->n_files >= NONE - 1 || BUF_GROW_ARRAY(s->files, s->cap_files, s->n_files + 1))
		return -ENOMEM;
	s->st.files++;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && !elfinfo__read(elf, &ei)) {
		found = ei.build_id[0] ? symtab__by_build_id(s, ei.build_id) : -1;
		if (found >= 0) {
			idx = (uint32_t)found;
		} else if ((t = symtab__add(s, &ei, &idx))) {
			t->inode = (uint64_t)st->st_ino;
			t->reopen = arena__strndup(s->arena, path, strlen(path));
			t->seen = t->reopen;
			if (!t->reopen)
				idx = NONE;
		} else if (errno == ENOMEM) {
			elf_end(elf);
			return -ENOMEM;
		}
	}
	elf_end(elf);
	if (idx == NONE)
		s->st.files_failed++;
	f = &s->files[s->n_files];
	memset(f, 0, sizeof(*f));
	f->dev = k.dev;
	f->inode = k.inode;
	f->ctime = st->st_ctim;
	f->symtab = idx;
	if (htab__insert(&s->file_index, h, (uint32_t)s->n_files))
		return -ENOMEM;
	s->n_files++;
	return idx;
}

int64_t symbolizer__open_file(struct symbolizer *s, const char *path, const char *build_id)
{
	struct stat st;
	int64_t idx;
	int fd = open_regular(AT_FDCWD, path, false, 0, &st);

	if (fd < 0) {
		/* gone or replaced, but a table of its build-id may be known */
		idx = build_id && build_id[0] ? symtab__by_build_id(s, build_id) : -1;
		return idx >= 0 ? idx : -ENOENT;
	}
	idx = file__by_path(s, path, &st, fd);
	close(fd);
	if (idx < 0)
		return idx;
	if (idx == NONE)
		return -ENOENT;
	/* another build of the file: its names would be wrong */
	if (build_id && build_id[0] && s->symtabs[idx].build_id[0] &&
	    strcmp(build_id, s->symtabs[idx].build_id))
		return -ENOENT;
	return idx;
}

int symbolizer__file(struct symbolizer *s, int64_t file_id, uint64_t file_offset,
		     struct sym_result *r)
{
	memset(r, 0, sizeof(*r));
	if (file_id < 0 || (uint64_t)file_id >= s->n_symtabs)
		return -EINVAL;
	return symtab__lookup(s, (uint32_t)file_id, file_offset, r);
}

static int symbolizer__load_kallsyms(struct symbolizer *s)
{
	struct ksyms *k = &s->ksyms;
	uint64_t last;
	int fd, err;

	s->ksyms_tried = true;
	fd = open(s->kallsyms, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_warn("symbolize: %s: %s: kernel frames stay unsymbolized\n", s->kallsyms,
			strerror(errno));
		return 0;
	}
	err = ksyms__load_fd(k, fd);
	close(fd);
	if (err) {
		pr_warn("symbolize: %s: %s: kernel frames stay unsymbolized\n", s->kallsyms,
			strerror(-err));
		return err == -ENOMEM ? err : 0;
	}
	if (k->bad_lines)
		pr_debug("symbolize: %s: %" PRIu64 " lines not understood\n", s->kallsyms,
			 k->bad_lines);
	if (!k->n) {
		if (k->zero_addrs)
			pr_warn("symbolize: %s hides its addresses: kernel frames stay "
				"unsymbolized (they show to root when kernel.kptr_restrict is 0 or "
				"1: sysctl -w kernel.kptr_restrict=1)\n", s->kallsyms);
		return 0;
	}
	last = k->addrs[k->n - 1];
	s->kmap.start = k->addrs[0] - ((k->names[0] & KSYM_PFX) ? k->pfx : 0);
	s->kmap.limit = last > UINT64_MAX - KSYM_MAX_EXTENT ? UINT64_MAX : last + KSYM_MAX_EXTENT;
	s->kmap.has_symbols = true;
	s->st.kernel_symbols = k->n;
	return 0;
}

/* --- kernel names asked per address --- */

static bool kname__eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct kname *)ctx)[idx].addr == *(const uint64_t *)key;
}

static uint32_t kname__hash(uint64_t addr)
{
	return htab__hash(&addr, sizeof(addr), SEED_KNAME);
}

static int64_t kname__find(const struct symbolizer *s, uint64_t addr)
{
	return htab__find(&s->kname_index, kname__hash(addr), kname__eq, s->knames, &addr);
}

/* The kernel could not answer: kallsyms from now on (the kernel mapping
 * keeps has_symbols for the names it already gave). */
static void kernel_names_off(struct symbolizer *s)
{
	s->kernel_names = NULL;
}

/* The cache is full: kallsyms from now on (names handed out stay valid). */
static void knames_full(struct symbolizer *s)
{
	pr_debug("symbolize: %zu kernel addresses named: reading kallsyms from now on\n",
		 s->n_knames);
	kernel_names_off(s);
}

/* addr into the cache, not named yet: 0 or -ENOMEM. */
static int kname__add(struct symbolizer *s, uint64_t addr)
{
	if (BUF_GROW_ARRAY(s->knames, s->cap_knames, s->n_knames + 1) ||
	    htab__insert(&s->kname_index, kname__hash(addr), (uint32_t)s->n_knames))
		return -ENOMEM;
	s->knames[s->n_knames++] = (struct kname){ .addr = addr };
	return 0;
}

/* Ask the kernel to name the cache's entries from first on (at most
 * SYM_KERNEL_BATCH). */
static int kernel_names_ask(struct symbolizer *s, size_t first)
{
	uint64_t addrs[SYM_KERNEL_BATCH], text_start = 0;
	const char *out[SYM_KERNEL_BATCH];
	char name[KSYM_NAME_MAX + 64];
	size_t i, n = s->n_knames - first;

	if (!n || !s->kernel_names)
		return 0;
	for (i = 0; i < n; i++)
		addrs[i] = s->knames[first + i].addr;
	if (s->kernel_names(s->kernel_names_ctx, addrs, n, out, &text_start)) {
		kernel_names_off(s);
		return 0;
	}
	if (!s->kmap.has_symbols) {
		s->kmap.start = text_start;
		s->kmap.limit = UINT64_MAX;
		s->kmap.has_symbols = true;
	}
	for (i = 0; i < n; i++) {
		int len = out[i] ? ksyms__parse_ps(out[i], name, sizeof(name)) : -ENAMETOOLONG;

		if (len > 0) {
			s->knames[first + i].name = arena__strndup(s->kname_arena, name, (size_t)len);
			if (s->knames[first + i].name)
				continue;
			if (!arena__over_budget(s->kname_arena))
				return -ENOMEM;
			knames_full(s);
			return 0;
		} else if (len < 0) {
			pr_debug("symbolize: the kernel's name for %#" PRIx64 " not understood: %s\n",
				 addrs[i], out[i] ? out[i] : "(too long)");
		}
	}
	s->st.kernel_symbols += n;
	return 0;
}

int symbolizer__kernel_batch(struct symbolizer *s, const uint64_t *addrs, size_t n)
{
	size_t i, first = s->n_knames;
	bool full = false;
	int err;

	for (i = 0; i < n && s->kernel_names; i++) {
		if (kname__find(s, addrs[i]) >= 0)
			continue;
		if (s->n_knames >= KNAME_MAX_ENTRIES || arena__over_budget(s->kname_arena)) {
			full = true;
			break;
		}
		if ((err = kname__add(s, addrs[i])))
			return err;
		if (s->n_knames - first == SYM_KERNEL_BATCH) {
			if ((err = kernel_names_ask(s, first)))
				return err;
			first = s->n_knames;
		}
	}
	err = kernel_names_ask(s, first);
	if (!err && full && s->kernel_names)
		knames_full(s);
	return err;
}

int symbolizer__kernel(struct symbolizer *s, uint64_t addr, struct sym_result *r)
{
	int64_t i;
	int err;

	memset(r, 0, sizeof(*r));
	r->map = &s->kmap;
	if (s->kernel_names) {
		i = kname__find(s, addr);
		if (i < 0 && (err = symbolizer__kernel_batch(s, &addr, 1)))
			return err;
		if (i < 0 && s->kernel_names)
			i = kname__find(s, addr);
		if (i >= 0 && s->kernel_names) {
			r->system_name = s->knames[i].name;
			r->name = r->system_name ? symbolizer__demangle(s, r->system_name) : NULL;
			return 0;
		}
		/* the kernel could not answer: kallsyms */
	}
	if (!s->ksyms_tried && (err = symbolizer__load_kallsyms(s)))
		return err;
	i = ksyms__find(&s->ksyms, addr);
	if (i >= 0) {
		r->system_name = ksyms__name(&s->ksyms, (size_t)i);
		r->name = symbolizer__demangle(s, r->system_name);
	}
	return 0;
}

void symbolizer__stats(const struct symbolizer *s, struct symbolizer_stats *st)
{
	struct dwlines_stats dst;

	*st = s->st;
	if (s->dw) {
		dwlines__stats(s->dw, &dst);
		st->debug_files = dst.files;
		st->debug_missing = dst.missing;
		st->debug_failed = dst.failed;
		st->debug_evicted = dst.evicted;
		st->lines_truncated = dst.truncated;
	}
}

size_t symbolizer__n_symtabs(const struct symbolizer *s)
{
	return s->n_symtabs;
}

const struct ksyms *symbolizer__ksyms(const struct symbolizer *s)
{
	return &s->ksyms;
}
