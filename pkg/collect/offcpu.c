/* The offcpu skeleton: configure, load, attach, consume. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/offcpu.skel.h"
#include "collect/internal.h"
#include "collect/offcpu.h"

struct offcpu_collector {
	struct offcpu_bpf *skel;
	struct ring_buffer *rb;
	size_t ring_bytes;
	int possible_cpus;
	bool switch_out;
	collect_record_fn *on_record;
	void *ctx;
};

static int on_ring_record(void *ctx, void *data, size_t size)
{
	struct offcpu_collector *c = ctx;

	return c->on_record(c->ctx, data, size);
}

/* Linux 6.16 added sched_exit_tp, which runs in the thread coming back. */
static bool has_sched_exit_tp(void)
{
	return libbpf_find_vmlinux_btf_id("sched_exit_tp", BPF_TRACE_RAW_TP) > 0;
}

/* Shorter thresholds let more waits through. */
unsigned offcpu__ring_waits(uint64_t min_ns)
{
	uint64_t n = min_ns ? OFFCPU_RING_WAITS * OFFCPU_DEFAULT_MIN_NS / min_ns : OFFCPU_RING_WAITS_MAX;

	return n < OFFCPU_RING_WAITS ? OFFCPU_RING_WAITS :
	       n > OFFCPU_RING_WAITS_MAX ? OFFCPU_RING_WAITS_MAX : (unsigned)n;
}

static int configure(struct offcpu_collector *c, const struct offcpu_collect_opts *o,
		     struct errmsg *e)
{
	struct offcpu_bpf *skel = c->skel;
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	int err;

	skel->rodata->filter_pids = o->filter_pids;
	skel->rodata->follow_children = o->follow_children;
	skel->rodata->filter_cgroup = o->cgroup != NULL;
	skel->rodata->kernel_stacks = o->kernel_stacks;
	skel->rodata->user_stacks = o->user_stacks;
	skel->rodata->min_ns = o->min_ns;
	skel->rodata->max_frames = collect__max_frames();
	c->switch_out = o->walk_on_switch_out || !has_sched_exit_tp();
	skel->rodata->walk_on_switch_out = c->switch_out;
	c->ring_bytes = collect__ring_size(offcpu__ring_waits(o->min_ns), ncpus > 0 ? (unsigned)ncpus : 1,
					   sizeof(struct offcpu_sample),
					   (size_t)sysconf(_SC_PAGESIZE));
	skel->rodata->wakeup_bytes = c->ring_bytes / 4;
	err = bpf_program__set_autoload(skel->progs.on_switched_in, !c->switch_out);
	if (!err)
		err = collect__size_target_maps(skel->obj, c->ring_bytes, o->filter_pids, &o->unwind,
						&skel->rodata->unwind_mode);
	return err ? errmsg__set(e, err, "configuring the BPF maps: %s", strerror(-err)) : 0;
}

struct offcpu_collector *offcpu_collector__new(const struct offcpu_collect_opts *o,
					       struct errmsg *e)
{
	struct offcpu_collector *c;
	int err;

	libbpf_set_print(collect__libbpf_log);
	if (o->min_ns > OFFCPU_MAX_MIN_NS) {
		errno = EINVAL;
		errmsg__set(e, -EINVAL, "--off-cpu-min is out of range (at most an hour)");
		return NULL;
	}
	err = collect__check_btf(e);
	if (err) {
		errno = -err;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		errmsg__set(e, -ENOMEM, "out of memory");
		return NULL;
	}
	c->skel = offcpu_bpf__open();
	if (!c->skel) {
		err = -errno;
		errmsg__set(e, err, "opening the BPF object: %s", strerror(-err));
		goto err_free;
	}
	err = configure(c, o, e);
	if (err)
		goto err_free;
	err = offcpu_bpf__load(c->skel);
	if (err) {
		collect__load_error(e, err);
		goto err_free;
	}
	if (o->cgroup) {
		err = collect__set_cgroup(bpf_map__fd(c->skel->maps.cgroups), o->cgroup, e);
		if (err)
			goto err_free;
	}
	c->on_record = o->on_record;
	c->ctx = o->ctx;
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_ring_record, c, NULL);
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
	err = offcpu_bpf__attach(c->skel);
	if (err) {
		errmsg__set(e, err, "attaching the scheduler tracepoints: %s", strerror(-err));
		goto err_free;
	}
	return c;

err_free:
	offcpu_collector__free(c);
	errno = -err;
	return NULL;
}

void offcpu_collector__stop(struct offcpu_collector *c)
{
	if (c && c->skel)
		offcpu_bpf__detach(c->skel);
}

void offcpu_collector__free(struct offcpu_collector *c)
{
	if (!c)
		return;
	ring_buffer__free(c->rb);
	offcpu_bpf__destroy(c->skel);
	free(c);
}

int offcpu_collector__add_pid(struct offcpu_collector *c, uint32_t pid)
{
	return collect__add_pid(bpf_map__fd(c->skel->maps.pids), pid);
}

int offcpu_collector__epoll_fd(const struct offcpu_collector *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

int offcpu_collector__consume(struct offcpu_collector *c) { return ring_buffer__consume(c->rb); }

int offcpu_collector__counters(const struct offcpu_collector *c, struct collect_counters *out)
{
	return collect__sum_counters(bpf_map__fd(c->skel->maps.counters), OFFCPU_CNT_MAX,
				     c->possible_cpus, out);
}

bool offcpu_collector__walks_on_switch_out(const struct offcpu_collector *c)
{
	return c->switch_out;
}

size_t offcpu_collector__ring_bytes(const struct offcpu_collector *c) { return c->ring_bytes; }

void offcpu__describe_min(uint64_t min_ns, char *buf, size_t len)
{
	if (!min_ns)
		snprintf(buf, len, "waits of any length");
	else if (min_ns % 1000000000 == 0)
		snprintf(buf, len, "waits of %llu s or more", (unsigned long long)(min_ns / 1000000000));
	else if (min_ns % 1000000 == 0)
		snprintf(buf, len, "waits of %llu ms or more", (unsigned long long)(min_ns / 1000000));
	else if (min_ns % 1000 == 0)
		snprintf(buf, len, "waits of %llu us or more", (unsigned long long)(min_ns / 1000));
	else
		snprintf(buf, len, "waits of %llu ns or more", (unsigned long long)min_ns);
}
