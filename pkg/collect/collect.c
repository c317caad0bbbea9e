/* Skeleton lifecycle, per-CPU perf events and the ring buffer. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "base/buf.h"
#include "base/log.h"
#include "bpf/cpu.skel.h"
#include "collect/collect.h"
#include "collect/corebtf.h"
#include "collect/heap.h"
#include "collect/internal.h"
#include "procfs/procfs.h"
#include "unwind/maps.h"

#define MAX_CPUS	4096u
#define VMLINUX_BTF	"/sys/kernel/btf/vmlinux"
#define CGROUP2_MAGIC	0x63677270	/* CGROUP2_SUPER_MAGIC */

/* A CPU's perf event. A CPU that goes offline takes its event out of the
 * kernel's schedule for good (it stays off when the CPU comes back), so
 * collector__sync_cpus opens a new one; an event that is off shows as a
 * time_enabled that stopped moving. */
struct cpu_slot {
	struct bpf_link *link;		/* NULL: no event on this CPU */
	int pfd;
	uint64_t enabled_ns;		/* time_enabled at the last sync */
};

/* A dynamic linker probed for the command (collector__hold_linkmap). */
struct linkmap_probe {
	struct bpf_link *link;
	uint32_t pid;
	uint64_t dev, ino;
};

struct collector {
	struct cpu_bpf *skel;
	struct linkmap_probe *linkmaps;
	size_t n_linkmaps, cap_linkmaps;
	struct ring_buffer *rb;
	struct cpu_slot *cpus;		/* indexed by CPU number, n_slots of them */
	unsigned n_slots;
	unsigned n_cpus;		/* with an event */
	struct collect_opts opts;	/* for events opened later */
	size_t ring_bytes;
	int possible_cpus;
	bool stopped;			/* links and perf events gone */
	collect_record_fn *on_record;
	void *ctx;
};

/* libbpf's messages join ours, shown with --verbose: the error we report
 * says what to do, its details say why. */
int collect__libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (log__level() >= LOG_DEBUG)
		log__vprintf(LOG_DEBUG, fmt, ap);
	return 0;
}

int collect__parse_cpulist(const char *text, bool *online, unsigned max)
{
	const char *p = text;
	unsigned count = 0;

	memset(online, 0, max * sizeof(*online));
	while (*p && *p != '\n') {
		char *end;
		unsigned long lo, hi;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		lo = strtoul(p, &end, 10);
		hi = lo;
		p = end;
		if (*p == '-') {
			if (p[1] < '0' || p[1] > '9')
				return -EINVAL;
			hi = strtoul(p + 1, &end, 10);
			p = end;
		}
		if (hi < lo || hi >= max)
			return -EINVAL;
		for (; lo <= hi; lo++)
			if (!online[lo]) {
				online[lo] = true;
				count++;
			}
		if (*p == ',')
			p++;
		else if (*p && *p != '\n')
			return -EINVAL;
	}
	return count ? (int)count : -EINVAL;
}

size_t collect__pow2_size(uint64_t want, size_t page, size_t min, size_t max)
{
	uint64_t size = page;

	while (size < want && size < max)
		size <<= 1;
	while (size < min)
		size <<= 1;
	return size > max ? max : size;
}

size_t collect__ring_size(unsigned freq, unsigned ncpus, size_t record, size_t page)
{
	return collect__pow2_size((uint64_t)freq * ncpus * record, page, COLLECT_MIN_RING,
				  COLLECT_MAX_RING);
}

/* A kernel older than what the programs use fails their load with a bare
 * EINVAL or E2BIG: say which kernel it is. */
static bool kernel_older_than(unsigned major, unsigned minor, char *release, size_t len)
{
	struct utsname u;
	unsigned a, b;

	if (uname(&u) || sscanf(u.release, "%u.%u", &a, &b) != 2)
		return false;
	snprintf(release, len, "%s", u.release);
	return a < major || (a == major && b < minor);
}

int collect__load_error(struct errmsg *e, int err)
{
	char release[65];

	if (err == -EPERM || err == -EACCES)
		return collect__permission_error(e, err, "loading the BPF programs");
	if (kernel_older_than(COLLECT_MIN_KERNEL_MAJOR, COLLECT_MIN_KERNEL_MINOR, release,
			      sizeof(release)))
		return errmsg__set(e, err, "loading the BPF programs: %s: this kernel is %s, bpprof "
				   "needs Linux %u.%u or later", strerror(-err), release,
				   COLLECT_MIN_KERNEL_MAJOR, COLLECT_MIN_KERNEL_MINOR);
	return errmsg__set(e, err, "loading the BPF programs: %s (run with -v for the verifier's "
			   "log)", strerror(-err));
}

int collect__check_btf(struct errmsg *e)
{
	int err;

	if (!access(VMLINUX_BTF, R_OK))
		return 0;
	err = -errno;
	return errmsg__set(e, err, "this kernel has no BTF (%s: %s); bpprof needs a kernel built "
			   "with CONFIG_DEBUG_INFO_BTF", VMLINUX_BTF, strerror(-err));
}

/* libbpf hands records over as writable; ours only read them. */
static int on_ring_record(void *ctx, void *data, size_t size)
{
	struct collector *c = ctx;

	return c->on_record(c->ctx, data, size);
}

/* /proc/sys/kernel/NAME as a number, or dflt when it cannot be read. */
static unsigned sysctl_value(const char *name, unsigned dflt)
{
	char path[128], text[32];
	unsigned long v;
	char *end;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return dflt;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return dflt;
	text[n] = '\0';
	errno = 0;
	v = strtoul(text, &end, 10);
	return errno || end == text || v > UINT_MAX ? dflt : (unsigned)v;
}

unsigned collect__max_frames(void)
{
	static bool said;
	unsigned n = sysctl_value("perf_event_max_stack", BPPROF_MAX_STACK);

	if (n >= BPPROF_MAX_STACK)
		return BPPROF_MAX_STACK;
	if (!said)
		pr_warn("kernel.perf_event_max_stack is %u: stacks are cut at %u frames (sysctl "
			"-w kernel.perf_event_max_stack=%u for the whole stack)\n", n, n,
			BPPROF_MAX_STACK);
	said = true;
	return n ? n : 1;
}

static int online_cpus(bool *online)
{
	char text[4096];
	ssize_t n;
	int fd, err;

	fd = open("/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	err = -errno;
	close(fd);
	if (n < 0)
		return err;
	text[n] = '\0';
	return collect__parse_cpulist(text, online, MAX_CPUS);
}

static int open_perf_event(const struct collect_opts *o, unsigned cpu)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.freq = 1,
		.sample_freq = o->freq,
		.disabled = 1,	/* attaching the program enables it */
		.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED,
		.exclude_kernel = !o->kernel_stacks,
		.exclude_user = !o->user_stacks,
	};

	if (o->event == COLLECT_CYCLES) {
		attr.type = PERF_TYPE_HARDWARE;
		attr.config = PERF_COUNT_HW_CPU_CYCLES;
	} else {
		attr.type = PERF_TYPE_SOFTWARE;
		attr.config = PERF_COUNT_SW_CPU_CLOCK;
	}
	return (int)syscall(__NR_perf_event_open, &attr, -1, (int)cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

int collect__permission_error(struct errmsg *e, int err, const char *what)
{
	return errmsg__set(e, err, "%s: %s; run as root (or with CAP_BPF, CAP_PERFMON and "
			   "CAP_SYS_RESOURCE)", what, strerror(-err));
}

/* Where cgroup v2 is mounted: /sys/fs/cgroup on unified systems,
 * /sys/fs/cgroup/unified on hybrid ones. */
static int cgroup2_root(char *out, size_t len)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	/* "36 25 0:30 / /sys/fs/cgroup rw,... - cgroup2 cgroup2 rw" */
	while (err && fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - cgroup2 "), *save = NULL, *mnt;
		int i;

		if (!dash)
			continue;
		mnt = strtok_r(line, " ", &save);
		for (i = 0; i < 4 && mnt; i++)
			mnt = strtok_r(NULL, " ", &save);
		if (mnt && (size_t)snprintf(out, len, "%s", mnt) < len)
			err = 0;
	}
	fclose(f);
	return err;
}

int collect__set_cgroup(int map_fd, const char *path, struct errmsg *e)
{
	char full[4096], root[4096];
	struct statfs sfs;
	__u32 key = 0;
	int fd, err;

	if (path[0] == '/') {
		snprintf(full, sizeof(full), "%s", path);
	} else {
		err = cgroup2_root(root, sizeof(root));
		if (err)
			return errmsg__set(e, err, "--cgroup %s: no cgroup v2 hierarchy is mounted (BPF "
					   "filters on cgroup v2 only: boot with "
					   "systemd.unified_cgroup_hierarchy=1)", path);
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", root, path) >= sizeof(full))
			return errmsg__set(e, -ENAMETOOLONG, "--cgroup %s: path too long", path);
	}
	fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errmsg__set(e, -errno, "--cgroup %s: %s", full, strerror(errno));
	if (fstatfs(fd, &sfs) || sfs.f_type != CGROUP2_MAGIC) {
		close(fd);
		return errmsg__set(e, -EINVAL, "--cgroup %s: not a cgroup v2 directory (BPF filters "
				   "on cgroup v2 only; a relative path is taken under %s)", full,
				   cgroup2_root(root, sizeof(root)) ? "the cgroup v2 mount" : root);
	}
	if (bpf_map_update_elem(map_fd, &key, &fd, BPF_ANY)) {
		err = -errno;
		close(fd);
		return errmsg__set(e, err, "--cgroup %s: %s", full, strerror(-err));
	}
	close(fd);
	return 0;
}

static void close_cpu(struct collector *c, unsigned cpu)
{
	struct cpu_slot *sl = &c->cpus[cpu];

	if (!sl->link)
		return;
	bpf_link__destroy(sl->link);
	close(sl->pfd);
	sl->link = NULL;
	c->n_cpus--;
}

/* Open and attach cpu's event: 0, 1 when the CPU went offline meanwhile,
 * or negative errno with e set. */
static int open_cpu(struct collector *c, unsigned cpu, struct errmsg *e)
{
	const struct collect_opts *o = &c->opts;
	struct cpu_slot *sl = &c->cpus[cpu];
	struct bpf_link *link;
	int fd, err;

	fd = open_perf_event(o, cpu);
	if (fd < 0) {
		err = -errno;
		if (err == -ENODEV)
			return 1;
		if (err == -ENOENT || err == -EOPNOTSUPP)
			return errmsg__set(e, err, "event %s is not available on this machine (try "
					   "the default, cpu-clock)",
					   o->event == COLLECT_CYCLES ? "cycles" : "cpu-clock");
		if (err == -EACCES || err == -EPERM)
			return collect__permission_error(e, err, "perf_event_open");
		if (err == -EINVAL && o->freq > sysctl_value("perf_event_max_sample_rate", o->freq))
			return errmsg__set(e, err, "-F %u is above kernel.perf_event_max_sample_rate "
					   "(%u): lower -F, or raise the sysctl", o->freq,
					   sysctl_value("perf_event_max_sample_rate", 0));
		return errmsg__set(e, err, "perf_event_open on CPU %u: %s", cpu, strerror(-err));
	}
	link = bpf_program__attach_perf_event(c->skel->progs.on_cpu_sample, fd);
	if (!link) {
		err = -errno;
		close(fd);
		return errmsg__set(e, err, "attaching to CPU %u: %s", cpu, strerror(-err));
	}
	*sl = (struct cpu_slot){ .link = link, .pfd = fd, .enabled_ns = 0 };
	c->n_cpus++;
	return 0;
}

static int attach_cpus(struct collector *c, struct errmsg *e)
{
	static bool online[MAX_CPUS];
	unsigned cpu;
	int n, err;

	n = online_cpus(online);
	if (n < 0)
		return errmsg__set(e, n, "cannot read the online CPUs: %s", strerror(-n));
	for (cpu = 0; cpu < c->n_slots; cpu++) {
		if (!online[cpu])
			continue;
		err = open_cpu(c, cpu, e);
		if (err < 0)
			return err;
	}
	return c->n_cpus ? 0 : errmsg__set(e, -ENODEV, "no online CPU could be sampled");
}

int collector__sync_cpus(struct collector *c)
{
	static bool online[MAX_CPUS];
	struct errmsg e = { "" };
	unsigned cpu;
	int n, opened = 0;

	if (c->stopped)
		return 0;
	n = online_cpus(online);
	if (n < 0)
		return n;
	for (cpu = 0; cpu < c->n_slots; cpu++) {
		struct cpu_slot *sl = &c->cpus[cpu];
		uint64_t v[2];

		if (sl->link && online[cpu] && read(sl->pfd, v, sizeof(v)) == sizeof(v) &&
		    (v[1] != sl->enabled_ns || !sl->enabled_ns)) {
			sl->enabled_ns = v[1];
			continue;	/* running */
		}
		close_cpu(c, cpu);
		if (!online[cpu])
			continue;
		if (open_cpu(c, cpu, &e) < 0) {
			pr_warn("CPU %u is online again but cannot be sampled: %s\n", cpu, e.text);
			continue;
		}
		pr_info("CPU %u came online: sampling it\n", cpu);
		opened++;
	}
	return opened;
}

int collect__size_target_maps(struct bpf_object *obj, size_t ring_bytes, bool filter_pids,
			      const struct collect_unwind *u, __u32 *unwind_mode)
{
	struct bpf_map *events = bpf_object__find_map_by_name(obj, "events");
	struct bpf_map *pids = bpf_object__find_map_by_name(obj, "pids");
	struct bpf_map *seen = bpf_object__find_map_by_name(obj, "seen");
	int err;

	if (!events || !pids || !seen)
		return -ENOENT;
	err = bpf_map__set_max_entries(events, (__u32)ring_bytes);
	if (!err)
		err = bpf_map__set_max_entries(pids, collect__pids_room(filter_pids));
	if (!err)
		err = bpf_map__set_max_entries(seen, COLLECT_SEEN_PIDS);
	return err ? err : collect__unwind_setup(u, obj, unwind_mode);
}

/* The sampling object opened, sized and loaded against btf (a file of the
 * kernel types it needs, corebtf.h; NULL: libbpf reads vmlinux's) into
 * *out: 0, or -errno with e set. */
static int load_with(struct collector *c, const struct collect_opts *o, unsigned ncpus,
		     const char *btf, struct cpu_bpf **out, struct errmsg *e)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = btf);
	struct cpu_bpf *skel = cpu_bpf__open_opts(&oo);
	int err;

	if (!skel) {
		err = -errno;
		return errmsg__set(e, err, "opening the BPF object: %s", strerror(-err));
	}
	skel->rodata->filter_pids = o->filter_pids;
	skel->rodata->follow_children = o->follow_children;
	skel->rodata->filter_cgroup = o->cgroup != NULL;
	skel->rodata->kernel_stacks = o->kernel_stacks;
	skel->rodata->user_stacks = o->user_stacks;
	skel->rodata->max_frames = collect__max_frames();
	c->ring_bytes = collect__ring_size(o->freq, ncpus, sizeof(struct cpu_sample),
					   (size_t)sysconf(_SC_PAGESIZE));
	/* A quarter of the ring waiting wakes the reader early; otherwise
	 * it drains on its own timer. */
	skel->rodata->wakeup_bytes = c->ring_bytes / 4;
	err = collect__size_target_maps(skel->obj, c->ring_bytes, o->filter_pids, &o->unwind,
					&skel->rodata->unwind_mode);
	if (err) {
		errmsg__set(e, err, "configuring the BPF maps: %s", strerror(-err));
		goto fail;
	}
	err = cpu_bpf__load(skel);
	if (err) {
		collect__load_error(e, err);
		goto fail;
	}
	*out = skel;
	return 0;
fail:
	cpu_bpf__destroy(skel);
	return err;
}

/* Loaded against the cached kernel types when there are any; a load that
 * fails with them (a file that does not serve; privileges aside) is tried
 * again against vmlinux, and the file goes. */
static int open_and_load(struct collector *c, const struct collect_opts *o, unsigned ncpus,
			 struct errmsg *e)
{
	size_t size;
	const void *obj = cpu_bpf__elf_bytes(&size);
	char *btf = corebtf__file(obj, size, o->cache_dir);
	int err = load_with(c, o, ncpus, btf, &c->skel, e);

	if (err && btf && err != -EPERM && err != -EACCES) {
		pr_debug("collect: loading against %s failed (%s): again against vmlinux\n", btf,
			 e->text);
		unlink(btf);
		err = load_with(c, o, ncpus, NULL, &c->skel, e);
	}
	free(btf);
	return err;
}

struct collector *collector__new(const struct collect_opts *o, struct errmsg *e)
{
	static bool online[MAX_CPUS];
	struct collector *c;
	struct cpu_bpf *skel;
	int ncpus, err;

	libbpf_set_print(collect__libbpf_log);
	if (o->freq == 0 || o->freq > COLLECT_MAX_FREQ) {
		errno = EINVAL;
		errmsg__set(e, -EINVAL, "sampling frequency %u Hz is out of range (1-%u)", o->freq,
			    COLLECT_MAX_FREQ);
		return NULL;
	}
	err = collect__check_btf(e);
	if (err) {
		errno = -err;
		return NULL;
	}
	ncpus = online_cpus(online);
	if (ncpus < 0) {
		errmsg__set(e, ncpus, "cannot read the online CPUs: %s", strerror(-ncpus));
		errno = -ncpus;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		errmsg__set(e, -ENOMEM, "out of memory");
		return NULL;
	}
	err = open_and_load(c, o, (unsigned)ncpus, e);
	if (err)
		goto err_free;
	skel = c->skel;
	if (o->cgroup) {
		err = collect__set_cgroup(bpf_map__fd(skel->maps.cgroups), o->cgroup, e);
		if (err)
			goto err_free;
	}
	/* The tracepoints first: a process must not fork or exec unseen
	 * between the first sample and them. */
	err = cpu_bpf__attach(skel);
	if (err) {
		errmsg__set(e, err, "attaching the process tracepoints: %s", strerror(-err));
		goto err_free;
	}
	c->on_record = o->on_record;
	c->ctx = o->ctx;
	c->opts = *o;
	c->opts.cgroup = NULL;	/* set already; the caller's string may go */
	c->rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_ring_record, c, NULL);
	if (!c->rb) {
		err = -errno;
		errmsg__set(e, err, "opening the ring buffer: %s", strerror(-err));
		goto err_free;
	}
	c->possible_cpus = libbpf_num_possible_cpus();
	if (c->possible_cpus <= 0) {
		err = c->possible_cpus ? c->possible_cpus : -EINVAL;
		errmsg__set(e, err, "cannot count the possible CPUs");
		goto err_free;
	}
	c->n_slots = (unsigned)c->possible_cpus < MAX_CPUS ? (unsigned)c->possible_cpus : MAX_CPUS;
	c->cpus = calloc(c->n_slots, sizeof(*c->cpus));
	if (!c->cpus) {
		err = -ENOMEM;
		errmsg__set(e, err, "out of memory");
		goto err_free;
	}
	err = attach_cpus(c, e);
	if (err)
		goto err_free;
	return c;

err_free:
	collector__free(c);
	errno = -err;
	return NULL;
}

void collector__stop(struct collector *c)
{
	unsigned i;

	for (i = 0; i < c->n_slots && c->cpus; i++)
		close_cpu(c, i);
	for (i = 0; i < c->n_linkmaps; i++)
		bpf_link__destroy(c->linkmaps[i].link);
	c->n_linkmaps = 0;
	c->stopped = true;
}

void collector__free(struct collector *c)
{
	if (!c)
		return;
	collector__stop(c);
	free(c->linkmaps);
	free(c->cpus);
	ring_buffer__free(c->rb);
	cpu_bpf__destroy(c->skel);
	free(c);
}

int collect__add_pid(int map_fd, uint32_t pid)
{
	__u8 one = 1;

	return bpf_map_update_elem(map_fd, &pid, &one, BPF_ANY) ? -errno : 0;
}

int collector__add_pid(struct collector *c, uint32_t pid)
{
	return collect__add_pid(bpf_map__fd(c->skel->maps.pids), pid);
}

void collector__stop_at_exec(struct collector *c, uint32_t pid) { c->skel->bss->stop_tgid = pid; }

/* One mapped file: its _dl_debug_state probed if it defines one. */
static int linkmap_file(struct collector *c, uint32_t pid, const struct proc_map *m)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	uint64_t dev = makedev(m->dev_major, m->dev_minor);
	char path[PATH_MAX + 32];
	struct alloc_syms syms;
	struct bpf_link *link;
	size_t i;

	for (i = 0; i < c->n_linkmaps; i++)	/* one or two, ever */
		if (c->linkmaps[i].pid == pid && c->linkmaps[i].dev == dev &&
		    c->linkmaps[i].ino == m->inode)
			return 0;
	if ((size_t)snprintf(path, sizeof(path), "/proc/%u/root%.*s", pid, (int)m->path_len,
			     m->path) >= sizeof(path) ||
	    alloc_syms__read_file(path, &syms) || !alloc_syms__loads(&syms))
		return 0;
	if (BUF_GROW_ARRAY(c->linkmaps, c->cap_linkmaps, c->n_linkmaps + 1))
		return -ENOMEM;
	link = bpf_program__attach_uprobe_opts(c->skel->progs.on_linkmap, (pid_t)pid, path,
					       syms.probe[alloc_fn__index("_dl_debug_state")], &opts);
	if (!link)
		return -errno;
	c->linkmaps[c->n_linkmaps++] = (struct linkmap_probe){ link, pid, dev, m->inode };
	return 0;
}

int collector__hold_linkmap(struct collector *c, uint32_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!err && (len = getline(&line, &cap, f)) > 0) {
		struct proc_map m;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (procfs__parse_maps_line(line, (size_t)len, &m) == 1 && m.path_len &&
		    m.path[0] == '/' && !m.deleted)
			err = linkmap_file(c, pid, &m);
	}
	free(line);
	fclose(f);
	return err;
}

int collector__epoll_fd(const struct collector *c) { return ring_buffer__epoll_fd(c->rb); }

int collector__consume(struct collector *c) { return ring_buffer__consume(c->rb); }

unsigned collector__ncpus(const struct collector *c) { return c->n_cpus; }

size_t collector__ring_bytes(const struct collector *c) { return c->ring_bytes; }

static int sum_per_cpu(int fd, unsigned n, int possible_cpus, uint64_t *out)
{
	__u64 *per_cpu;
	__u32 k;
	int i;

	per_cpu = calloc((size_t)possible_cpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	for (k = 0; k < n; k++) {
		if (bpf_map_lookup_elem(fd, &k, per_cpu)) {
			int err = -errno;

			free(per_cpu);
			return err;
		}
		for (i = 0; i < possible_cpus; i++)
			out[k] += per_cpu[i];
	}
	free(per_cpu);
	return 0;
}

int collect__sum_counters(int fd, unsigned n, int possible_cpus, struct collect_counters *out)
{
	memset(out, 0, sizeof(*out));
	return sum_per_cpu(fd, n < COLLECT_MAX_COUNTERS ? n : COLLECT_MAX_COUNTERS, possible_cpus,
			   out->v);
}

int collect__sum_unwind(int fd, int possible_cpus, struct collect_counters *out)
{
	memset(out->unwind, 0, sizeof(out->unwind));
	return sum_per_cpu(fd, UNWIND_CNT_MAX, possible_cpus, out->unwind);
}

int collect__unwind_setup(const struct collect_unwind *u, struct bpf_object *obj, __u32 *mode)
{
	*mode = u->maps ? u->mode : UNWIND_MODE_FP;
	return u->maps ? unwind_maps__share(u->maps, obj) : 0;
}

int collector__prog_stats(const struct collector *c, uint64_t *runs, uint64_t *ns)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_program__fd(c->skel->progs.on_cpu_sample), &info, &len))
		return -errno;
	*runs = info.run_cnt;
	*ns = info.run_time_ns;
	return 0;
}

int collector__counters(const struct collector *c, struct collect_counters *out)
{
	int err = collect__sum_counters(bpf_map__fd(c->skel->maps.counters), CPU_CNT_MAX,
					c->possible_cpus, out);

	return err ? err : collect__sum_unwind(bpf_map__fd(c->skel->maps.unwind_counters),
					       c->possible_cpus, out);
}
