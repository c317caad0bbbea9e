/* The BPF maps of the unwind tables: an array of chunk arrays (the row
 * space), the rules, the files, the processes. Rows, rules and files are
 * written through mmap; a process's mappings, which make the rest
 * reachable, through a map update last. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "unwind/maps.h"

/* A no-prealloc hash element: the value, the key and the kernel's header,
 * in a kmalloc size class. */
#define PROC_BYTES	4096u

struct chunk {
	int fd;
	struct unwind_entry *mem;
};

struct unwind_maps {
	int chunks_fd, rules_fd, files_fd, procs_fd;
	struct unwind_rule *rules;	/* mmapped */
	struct unwind_file *files;	/* mmapped */
	size_t rules_len, files_len;
	struct chunk chunk[UNWIND_MAX_CHUNKS];
	uint32_t n_chunks, max_chunks;
	uint64_t next_slot;
	uint32_t n_files;
};

static size_t page_round(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (n + page - 1) / page * page;
}

static int mmapable_array(const char *name, uint32_t value_size, uint32_t n, void **mem, size_t *len)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(__u32), value_size, n, &opts);
	int err;

	if (fd < 0)
		return -errno;
	*len = page_round((size_t)value_size * n);
	*mem = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*mem == MAP_FAILED) {
		err = -errno;
		close(fd);
		*mem = NULL;
		return err;
	}
	return fd;
}

/* Chunk i of the row space, made and put in the outer array. */
static int add_chunk(struct unwind_maps *m)
{
	struct chunk *c = &m->chunk[m->n_chunks];
	size_t len;
	__u32 key = m->n_chunks;
	int fd = mmapable_array("unwind_chunk", UNWIND_CHUNK_BYTES, 1, (void **)&c->mem, &len);

	if (fd < 0)
		return fd;
	c->fd = fd;
	/* the first chunk is the outer array's template: not in it yet */
	if (m->chunks_fd >= 0 && bpf_map_update_elem(m->chunks_fd, &key, &fd, BPF_ANY)) {
		int err = -errno;

		munmap(c->mem, len);
		close(fd);
		return err;
	}
	m->n_chunks++;
	return 0;
}

struct unwind_maps *unwind_maps__new(uint64_t max_bytes, struct errmsg *e)
{
	LIBBPF_OPTS(bpf_map_create_opts, outer);
	LIBBPF_OPTS(bpf_map_create_opts, procs, .map_flags = BPF_F_NO_PREALLOC);
	struct unwind_maps *m = calloc(1, sizeof(*m));
	__u32 key = 0;
	int err;

	if (!m) {
		errmsg__set(e, -ENOMEM, "out of memory");
		return NULL;
	}
	m->chunks_fd = m->rules_fd = m->files_fd = m->procs_fd = -1;
	m->max_chunks = (uint32_t)(max_bytes / UNWIND_CHUNK_BYTES);
	if (m->max_chunks < 1)
		m->max_chunks = 1;
	if (m->max_chunks > UNWIND_MAX_CHUNKS)
		m->max_chunks = UNWIND_MAX_CHUNKS;
	err = add_chunk(m);
	if (!err) {
		outer.inner_map_fd = m->chunk[0].fd;
		m->chunks_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "unwind_chunks", sizeof(__u32),
					      sizeof(__u32), UNWIND_MAX_CHUNKS, &outer);
		err = m->chunks_fd < 0 ? -errno : 0;
	}
	if (!err && bpf_map_update_elem(m->chunks_fd, &key, &m->chunk[0].fd, BPF_ANY))
		err = -errno;
	if (!err) {
		m->rules_fd = mmapable_array("unwind_rules", sizeof(struct unwind_rule), UNWIND_MAX_RULES,
					     (void **)&m->rules, &m->rules_len);
		err = m->rules_fd < 0 ? m->rules_fd : 0;
	}
	if (!err) {
		m->files_fd = mmapable_array("unwind_files", sizeof(struct unwind_file), UNWIND_MAX_FILES,
					     (void **)&m->files, &m->files_len);
		err = m->files_fd < 0 ? m->files_fd : 0;
	}
	if (!err) {
		m->procs_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "unwind_procs", sizeof(__u32),
					     sizeof(struct unwind_proc), UNWIND_MAX_PROCS, &procs);
		err = m->procs_fd < 0 ? -errno : 0;
	}
	if (err) {
		errmsg__set(e, err, "creating the unwind tables' BPF maps: %s", strerror(-err));
		unwind_maps__free(m);
		errno = -err;
		return NULL;
	}
	return m;
}

void unwind_maps__free(struct unwind_maps *m)
{
	uint32_t i;

	if (!m)
		return;
	for (i = 0; i < m->n_chunks; i++) {
		munmap(m->chunk[i].mem, UNWIND_CHUNK_BYTES);
		close(m->chunk[i].fd);
	}
	if (m->rules)
		munmap(m->rules, m->rules_len);
	if (m->files)
		munmap(m->files, m->files_len);
	if (m->chunks_fd >= 0)
		close(m->chunks_fd);
	if (m->rules_fd >= 0)
		close(m->rules_fd);
	if (m->files_fd >= 0)
		close(m->files_fd);
	if (m->procs_fd >= 0)
		close(m->procs_fd);
	free(m);
}

int unwind_maps__share(struct unwind_maps *m, struct bpf_object *obj)
{
	const struct {
		const char *name;
		int fd;
	} maps[] = {
		{ "unwind_chunks", m->chunks_fd },
		{ "unwind_rules", m->rules_fd },
		{ "unwind_files", m->files_fd },
		{ "unwind_procs", m->procs_fd },
	};
	size_t i;
	int err;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(obj, maps[i].name);

		if (!map)
			return -ENOENT;
		err = bpf_map__reuse_fd(map, maps[i].fd);
		if (err)
			return err;
	}
	return 0;
}

static int sink_rules(void *ctx, const struct unwind_rule *v, uint32_t first, uint32_t n)
{
	struct unwind_maps *m = ctx;

	if (first + n > UNWIND_MAX_RULES)
		return -ENOSPC;
	memcpy(m->rules + first, v, (size_t)n * sizeof(*v));
	return 0;
}

/* Entries into slots [slot, slot + n): across chunks, made as needed. */
static int put_entries(struct unwind_maps *m, uint64_t slot, const struct unwind_entry *v, uint64_t n)
{
	while (n) {
		uint32_t c = (uint32_t)(slot >> UNWIND_CHUNK_SHIFT);
		uint32_t at = (uint32_t)(slot & (UNWIND_CHUNK_ENTRIES - 1));
		uint64_t k = UNWIND_CHUNK_ENTRIES - at < n ? UNWIND_CHUNK_ENTRIES - at : n;
		int err;

		while (m->n_chunks <= c) {
			err = add_chunk(m);
			if (err)
				return err == -ENOMEM || err == -E2BIG ? -ENOSPC : err;
		}
		memcpy(m->chunk[c].mem + at, v, (size_t)k * sizeof(*v));
		slot += k;
		v += k;
		n -= k;
	}
	return 0;
}

/* A new file: its entry zero, pending, until sink_table. */
static int sink_file(void *ctx, uint32_t *file)
{
	struct unwind_maps *m = ctx;

	if (m->n_files >= UNWIND_MAX_FILES)
		return -ENOSPC;
	*file = m->n_files++;
	return 0;
}

static int sink_table(void *ctx, uint32_t file, const struct unwind_table *t)
{
	struct unwind_maps *m = ctx;
	struct unwind_file *f = &m->files[file];
	struct unwind_entry *v = NULL;
	uint64_t n = 0;
	int err = 0;

	if (file >= m->n_files)
		return -EINVAL;
	if (t) {
		v = unwind_table__place(t, m->next_slot, UNWIND_CHUNK_ENTRIES, &n);
		if (!v)
			err = -ENOMEM;
		else if (m->next_slot + n > (uint64_t)m->max_chunks * UNWIND_CHUNK_ENTRIES)
			err = -ENOSPC;
		else
			err = put_entries(m, m->next_slot, v, n);
		free(v);
	}
	if (!t || err) {	/* the walker takes frame pointers there */
		f->state = UNWIND_FILE_NONE;
		return err;
	}
	*f = (struct unwind_file){
		.base = t->base,
		.index = (__u32)m->next_slot,
		.pages = t->pages,
		.slots = (__u32)n,
		.n_rows = t->n_rows,
		.shift = t->shift,
		.state = UNWIND_FILE_PENDING,
	};
	m->next_slot += n;
	/* the rows and the rest of the entry before the state that makes the
	 * walker read them (x86 keeps stores in order; the fence keeps the
	 * compiler from moving this one up) */
	__atomic_store_n(&f->state, UNWIND_FILE_READY, __ATOMIC_RELEASE);
	return 0;
}

static int sink_proc(void *ctx, uint32_t pid, const struct unwind_proc *p)
{
	struct unwind_maps *m = ctx;

	if (!p)
		return bpf_map_delete_elem(m->procs_fd, &pid) && errno != ENOENT ? -errno : 0;
	/* what it points to is in place before it is reachable */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (bpf_map_update_elem(m->procs_fd, &pid, p, BPF_ANY))
		return errno == E2BIG || errno == ENOMEM ? -ENOSPC : -errno;
	return 0;
}

struct unwind_sink unwind_maps__sink(struct unwind_maps *m)
{
	return (struct unwind_sink){
		.rules = sink_rules, .file = sink_file, .table = sink_table, .proc = sink_proc,
		.ctx = m,
	};
}

void unwind_maps__stats(const struct unwind_maps *m, struct unwind_maps_stats *st)
{
	__u32 key, next, *prev = NULL;

	memset(st, 0, sizeof(*st));
	st->chunks = m->n_chunks;
	st->files = m->n_files;
	st->slots = m->next_slot;
	st->limit_bytes = (uint64_t)m->max_chunks * UNWIND_CHUNK_BYTES;
	while (!bpf_map_get_next_key(m->procs_fd, prev, &next)) {
		st->procs++;
		key = next;
		prev = &key;
	}
	st->kernel_bytes = (uint64_t)m->n_chunks * UNWIND_CHUNK_BYTES + m->rules_len + m->files_len +
			   (uint64_t)st->procs * PROC_BYTES + UNWIND_MAX_CHUNKS * sizeof(void *);
}

int unwind_maps__reset(struct unwind_maps *m)
{
	__u32 key;

	/* the processes first: once none is reachable, no walk starts on a
	 * table about to be overwritten (one already running takes µs; the
	 * first table is rebuilt at a later sample, ms away) */
	while (!bpf_map_get_next_key(m->procs_fd, NULL, &key))
		if (bpf_map_delete_elem(m->procs_fd, &key) && errno != ENOENT)
			return -errno;
	/* reused ids start pending again */
	memset(m->files, 0, (size_t)m->n_files * sizeof(*m->files));
	m->n_files = 0;
	m->next_slot = 0;
	return 0;
}

int unwind_maps__file(const struct unwind_maps *m, uint32_t id, struct unwind_file *f)
{
	if (id >= m->n_files)
		return -ENOENT;
	*f = m->files[id];
	f->state = __atomic_load_n(&m->files[id].state, __ATOMIC_ACQUIRE);
	return 0;
}

int unwind__kernel_check(char *why, size_t len)
{
	int ok = libbpf_probe_bpf_helper(BPF_PROG_TYPE_PERF_EVENT, BPF_FUNC_loop, NULL);
	struct utsname u;

	if (ok < 0)	/* cannot tell (no privileges): loading the programs will say */
		return ok;
	if (ok > 0)
		return 0;
	snprintf(why, len, "this kernel (%s) has no bpf_loop (Linux 5.17 or later)",
		 uname(&u) ? "?" : u.release);
	return -EOPNOTSUPP;
}
