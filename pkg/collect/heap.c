/* Heap skeleton lifecycle and uprobes. Probes are attached per process (the
 * kernel then plants breakpoints only in that process's memory, so nothing
 * else on the machine pays for them), on each object it maps that defines
 * allocator functions; an object is probed once per process, whatever
 * re-mappings or execs follow. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "base/buf.h"
#include "base/log.h"
#include "bpf/heap.skel.h"
#include "bpf/heap_sample.h"
#include "collect/heap.h"
#include "collect/internal.h"
#include "collect/preload.h"
#include "procfs/procfs.h"

#define UPROBE_MULTI_RETURN	1	/* BPF_F_UPROBE_MULTI_RETURN */

struct probed {			/* an object probed in a process */
	uint32_t pid;
	bool allocates;			/* else only the dynamic linker's hook */
	uint64_t dev, ino;
};

struct heap_collector {
	struct heap_bpf *skel;
	struct ring_buffer *rb;
	bool multi;			/* uprobe_multi links (fds), else perf-event links */
	bool mmap;			/* probe mmap and munmap too */
	struct bpf_link **links;
	size_t n_links, cap_links;
	int *fds;
	size_t n_fds, cap_fds;
	struct probed *probed;
	size_t n_probed, cap_probed;
	bool preload;			/* the preload library's markers are attached */
	size_t ring_bytes;
	int possible_cpus;
	collect_record_fn *on_record;
	void *ctx;
};

void heap__fill_log_table(uint32_t *table)
{
	heap_sample_fill_table(table);
}

static int on_ring_record(void *ctx, void *data, size_t size)
{
	struct heap_collector *h = ctx;

	return h->on_record(h->ctx, data, size);
}

static size_t ring_size(uint64_t rate)
{
	uint64_t want = HEAP_MAX_RING;

	if (rate)
		want = HEAP_ASSUMED_BYTES_PER_S / rate * sizeof(struct heap_alloc);
	return collect__pow2_size(want, (size_t)sysconf(_SC_PAGESIZE), HEAP_MIN_RING,
				  HEAP_MAX_RING);
}

/* Open, configure and load the skeleton; with multi, the uprobe programs
 * are loaded for uprobe_multi links (Linux 6.6+). */
static int load(struct heap_collector *h, const struct heap_collect_opts *o, bool multi,
		struct errmsg *e)
{
	struct heap_bpf *skel;
	int err;

	skel = heap_bpf__open();
	if (!skel) {
		err = -errno;
		return errmsg__set(e, err, "opening the BPF object: %s", strerror(-err));
	}
	h->skel = skel;
	h->multi = multi;
	skel->rodata->sample_rate = o->rate;
	skel->rodata->preload_token = o->preload_token;
	skel->rodata->max_frames = collect__max_frames();
	heap__fill_log_table((uint32_t *)skel->rodata->neg_log);
	h->ring_bytes = ring_size(o->rate);
	skel->rodata->wakeup_bytes = h->ring_bytes / 4;
	err = bpf_map__set_max_entries(skel->maps.events, (__u32)h->ring_bytes);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.live, o->live_max);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.targets, HEAP_MAX_TARGETS);
	if (!err)
		err = collect__unwind_setup(&o->unwind, skel->obj, &skel->rodata->unwind_mode);
	if (!err && multi)
		err = bpf_program__set_expected_attach_type(skel->progs.heap_entry,
							    ATTACH_UPROBE_MULTI);
	if (!err && multi)
		err = bpf_program__set_expected_attach_type(skel->progs.heap_ret,
							    ATTACH_UPROBE_MULTI);
	if (!err && multi)
		err = bpf_program__set_expected_attach_type(skel->progs.heap_marker,
							    ATTACH_UPROBE_MULTI);
	if (err)
		return errmsg__set(e, err, "configuring the BPF maps: %s", strerror(-err));
	err = heap_bpf__load(skel);
	return err ? collect__load_error(e, err) : 0;
}

struct heap_collector *heap_collector__new(const struct heap_collect_opts *o, struct errmsg *e)
{
	struct heap_collector *h;
	int err;

	libbpf_set_print(collect__libbpf_log);
	if (o->rate > HEAP_MAX_RATE || !o->live_max || o->live_max > HEAP_MAX_LIVE) {
		err = errmsg__set(e, -EINVAL, o->rate > HEAP_MAX_RATE ?
				  "--heap-rate is out of range (0-%llu bytes)" :
				  "--heap-live is out of range (1-%llu blocks)",
				  o->rate > HEAP_MAX_RATE ? HEAP_MAX_RATE : (unsigned long long)HEAP_MAX_LIVE);
		errno = -err;
		return NULL;
	}
	err = collect__check_btf(e);
	if (err) {
		errno = -err;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		errmsg__set(e, -ENOMEM, "out of memory");
		return NULL;
	}
	/* A kernel before uprobe_multi refuses its attach type at load:
	 * then one perf-event uprobe per function it is. */
	err = load(h, o, true, e);
	if (err && err != -EPERM && err != -EACCES) {
		heap_bpf__destroy(h->skel);
		h->skel = NULL;
		e->text[0] = '\0';
		err = load(h, o, false, e);
	}
	if (err)
		goto err_free;
	/* Only the exec watcher attaches by itself; the uprobes go on per
	 * process. */
	h->skel->links.heap_exec = bpf_program__attach(h->skel->progs.heap_exec);
	if (!h->skel->links.heap_exec) {
		err = -errno;
		errmsg__set(e, err, "attaching the exec tracepoint (BTF, sched_process_exec): %s",
			    strerror(-err));
		goto err_free;
	}
	h->on_record = o->on_record;
	h->ctx = o->ctx;
	h->mmap = o->mmap;
	h->rb = ring_buffer__new(bpf_map__fd(h->skel->maps.events), on_ring_record, h, NULL);
	if (!h->rb) {
		err = -errno;
		errmsg__set(e, err, "opening the ring buffer: %s", strerror(-err));
		goto err_free;
	}
	h->possible_cpus = libbpf_num_possible_cpus();
	if (h->possible_cpus <= 0) {
		err = h->possible_cpus ? h->possible_cpus : -EINVAL;
		errmsg__set(e, err, "cannot count the possible CPUs");
		goto err_free;
	}
	return h;

err_free:
	heap_collector__free(h);
	errno = -err;
	return NULL;
}

void heap_collector__stop(struct heap_collector *h)
{
	size_t i;

	/* A perf-event uprobe's removal waits out a grace period (~80 ms
	 * here, serialised in the kernel): a uprobe_multi link waits once. */
	for (i = 0; i < h->n_links; i++)
		bpf_link__destroy(h->links[i]);
	h->n_links = 0;
	for (i = 0; i < h->n_fds; i++)
		close(h->fds[i]);
	h->n_fds = 0;
}

void heap_collector__free(struct heap_collector *h)
{
	if (!h)
		return;
	heap_collector__stop(h);
	free(h->links);
	free(h->fds);
	free(h->probed);
	ring_buffer__free(h->rb);
	heap_bpf__destroy(h->skel);
	free(h);
}

int heap_collector__target(struct heap_collector *h, uint32_t pid, bool stop)
{
	__u32 how = stop ? HEAP_TARGET_STOP : HEAP_TARGET_REPORT;

	if (bpf_map_update_elem(bpf_map__fd(h->skel->maps.targets), &pid, &how, BPF_ANY))
		return -errno;
	return 0;
}

static int attach_one(struct heap_collector *h, struct bpf_program *prog, uint32_t pid,
		      const char *path, uint64_t off, int kind, bool ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret, .bpf_cookie = (__u64)kind);
	struct bpf_link *link;
	int err;

	err = BUF_GROW_ARRAY(h->links, h->cap_links, h->n_links + 1);
	if (err)
		return err;
	link = bpf_program__attach_uprobe_opts(prog, (pid_t)pid, path, off, &opts);
	if (!link)
		return -errno;
	h->links[h->n_links++] = link;
	return 0;
}

/* BPF_LINK_CREATE for a uprobe_multi link, laid out by hand: libbpf 1.1
 * predates it. */
struct uprobe_multi_attr {
	__u32 prog_fd, target_fd, attach_type, flags;
	__u64 path, offsets, ref_ctr_offsets, cookies;
	__u32 cnt, multi_flags, pid, pad;
};

int uprobe_multi__attach(int prog_fd, uint32_t pid, const char *path, const uint64_t *offs,
			 const uint64_t *cookies, unsigned n, bool ret)
{
	struct uprobe_multi_attr a = {
		.prog_fd = (__u32)prog_fd,
		.attach_type = ATTACH_UPROBE_MULTI,
		.path = (__u64)(uintptr_t)path,
		.offsets = (__u64)(uintptr_t)offs,
		.cookies = (__u64)(uintptr_t)cookies,
		.cnt = n,
		.multi_flags = ret ? UPROBE_MULTI_RETURN : 0,
		.pid = pid,
	};
	int fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof(a));

	return fd < 0 ? -errno : fd;
}

static int attach_multi(struct heap_collector *h, struct bpf_program *prog, uint32_t pid,
			const char *path, const uint64_t *offs, const uint64_t *cookies,
			unsigned n, bool ret)
{
	int fd, err;

	err = BUF_GROW_ARRAY(h->fds, h->cap_fds, h->n_fds + 1);
	if (err)
		return err;
	fd = uprobe_multi__attach(bpf_program__fd(prog), pid, path, offs, cookies, n, ret);
	if (fd < 0)
		return fd;
	h->fds[h->n_fds++] = fd;
	return 0;
}

/* The object's probes, returns first: an entry without its return would
 * leave a call pending. */
static int attach_object(struct heap_collector *h, uint32_t pid, const char *path,
			 const struct alloc_syms *s)
{
	uint64_t offs[2][ALLOC_FNS], cookies[2][ALLOC_FNS];
	unsigned n[2] = { 0, 0 }, k;
	int i, err = 0;

	for (i = 0; i < ALLOC_FNS; i++) {
		int kind = alloc_fns[i].kind;

		if (!s->found[i] || s->alias[i] ||
		    (!h->mmap && (kind == HEAP_MMAP || kind == HEAP_MUNMAP)))
			continue;
		for (k = 0; k < 2; k++) {
			if (k == 0 && (kind == HEAP_FREE || kind == HEAP_MUNMAP ||
				       kind == HEAP_LINKMAP))
				continue;	/* their returns tell nothing we need */
			offs[k][n[k]] = s->probe[i];
			cookies[k][n[k]++] = (uint64_t)alloc_fns[i].kind;
		}
	}
	for (k = 0; k < 2 && !err; k++) {
		struct bpf_program *prog = k ? h->skel->progs.heap_entry : h->skel->progs.heap_ret;
		unsigned j;

		if (h->multi) {
			if (n[k])
				err = attach_multi(h, prog, pid, path, offs[k], cookies[k], n[k], !k);
			continue;
		}
		for (j = 0; j < n[k] && !err; j++)
			err = attach_one(h, prog, pid, path, offs[k][j], (int)cookies[k][j], !k);
	}
	return err;
}

static bool is_probed(const struct heap_collector *h, uint32_t pid, uint64_t dev, uint64_t ino)
{
	size_t i;

	/* attach time only, never per sample: a short list */
	for (i = 0; i < h->n_probed; i++)
		if (h->probed[i].pid == pid && h->probed[i].dev == dev && h->probed[i].ino == ino)
			return true;
	return false;
}

static unsigned probed_count(const struct heap_collector *h, uint32_t pid, bool allocators)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < h->n_probed; i++)
		n += h->probed[i].pid == pid && (h->probed[i].allocates || !allocators);
	return n;
}

/* Read the allocator symbols of one mapped file, seen from inside the
 * process's root, and probe them. */
static int probe_file(struct heap_collector *h, uint32_t pid, const char *seen, uint64_t dev,
		      uint64_t ino, struct heap_probe_report *r, struct errmsg *e)
{
	char path[PATH_MAX + 32];
	struct alloc_syms syms;
	int err;

	/* Through the process's root: a container's libc is its own. Not
	 * checked against dev:ino: on overlayfs the maps name the layer's
	 * inode, a stat through the path the overlay's. */
	if ((size_t)snprintf(path, sizeof(path), "/proc/%u/root%s", pid, seen) >= sizeof(path))
		return 0;
	if (alloc_syms__read_file(path, &syms))
		return 0;	/* gone since, or no ELF: nothing to probe there */
	r->interp |= syms.interp;
	if (!syms.has_symbols && !r->stripped[0])
		snprintf(r->stripped, sizeof(r->stripped), "%s", seen);
	if (!alloc_syms__allocates(&syms) && !alloc_syms__loads(&syms))
		return 0;
	if (probed_count(h, pid, false) >= HEAP_MAX_OBJECTS)
		return errmsg__set(e, -E2BIG, "process %u maps more than %u allocator objects",
				   pid, HEAP_MAX_OBJECTS);
	err = BUF_GROW_ARRAY(h->probed, h->cap_probed, h->n_probed + 1);
	if (!err)
		err = attach_object(h, pid, path, &syms);
	if (err) {
		if (err == -EPERM || err == -EACCES)
			return collect__permission_error(e, err, "attaching uprobes");
		return errmsg__set(e, err, "probing the allocator in %s: %s", seen, strerror(-err));
	}
	h->probed[h->n_probed++] = (struct probed){ pid, alloc_syms__allocates(&syms), dev, ino };
	if (!h->probed[h->n_probed - 1].allocates)
		return 0;	/* the dynamic linker: no allocator of its own */
	r->added++;
	if (!r->first[0])
		snprintf(r->first, sizeof(r->first), "%s", seen);
	return 0;
}

int heap_collector__probe(struct heap_collector *h, uint32_t pid, struct heap_probe_report *r,
			  struct errmsg *e)
{
	char maps[64], path[PATH_MAX];
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;
	int err = 0;

	memset(r, 0, sizeof(*r));
	snprintf(maps, sizeof(maps), "/proc/%u/maps", pid);
	f = fopen(maps, "re");
	if (!f) {
		err = -errno;
		return errmsg__set(e, err, err == -ENOENT ? "process %u is gone" : "process %u: %s",
				   pid, strerror(-err));
	}
	while (!err && (len = getline(&line, &cap, f)) > 0) {
		struct proc_map m;
		uint64_t dev;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (procfs__parse_maps_line(line, (size_t)len, &m) != 1 || !m.path_len ||
		    m.path[0] != '/' || m.deleted)
			continue;
		dev = makedev(m.dev_major, m.dev_minor);
		if (is_probed(h, pid, dev, m.inode))
			continue;
		if (m.path_len >= sizeof(path))
			continue;
		memcpy(path, m.path, m.path_len);
		path[m.path_len] = '\0';
		err = probe_file(h, pid, path, dev, m.inode, r, e);
	}
	free(line);
	fclose(f);
	r->objects = probed_count(h, pid, true);
	return err;
}

int heap_collector__attach_preload(struct heap_collector *h, const char *path, struct errmsg *e)
{
	uint64_t offs[PRELOAD_MARKS], cookies[PRELOAD_MARKS];
	unsigned k;
	int err;

	err = preload__markers(path, offs);
	if (err)
		return errmsg__set(e, err, "%s: %s", path, err == -ENOENT ?
				   "not bpprof's preload library (no markers)" : strerror(-err));
	for (k = 0; k < PRELOAD_MARKS; k++)
		cookies[k] = k;
	/* pid 0 (multi) and -1 (perf): any process that maps the library */
	if (h->multi) {
		err = attach_multi(h, h->skel->progs.heap_marker, 0, path, offs, cookies,
				   PRELOAD_MARKS, false);
	} else {
		for (k = 0; k < PRELOAD_MARKS && !err; k++)
			err = attach_one(h, h->skel->progs.heap_marker, (uint32_t)-1, path, offs[k],
					 (int)k, false);
	}
	if (err == -EPERM || err == -EACCES)
		return collect__permission_error(e, err, "attaching uprobes");
	if (err)
		return errmsg__set(e, err, "attaching to the markers of %s: %s", path, strerror(-err));
	h->preload = true;
	return 0;
}

unsigned heap_collector__n_probed(const struct heap_collector *h)
{
	return (unsigned)h->n_probed + h->preload;
}

int heap_collector__epoll_fd(const struct heap_collector *h) { return ring_buffer__epoll_fd(h->rb); }

int heap_collector__consume(struct heap_collector *h) { return ring_buffer__consume(h->rb); }

size_t heap_collector__ring_bytes(const struct heap_collector *h) { return h->ring_bytes; }

int heap_collector__counters(const struct heap_collector *h, struct collect_counters *out)
{
	int err = collect__sum_counters(bpf_map__fd(h->skel->maps.counters), HEAP_CNT_MAX,
					h->possible_cpus, out);

	return err ? err : collect__sum_unwind(bpf_map__fd(h->skel->maps.unwind_counters),
					       h->possible_cpus, out);
}
