/* walk: the cost of one user-stack walk in BPF, by the kernel's own
 * statistics, for tests/bench/unwind.sh.
 *
 *   walk fp|tables PID SECONDS FREQ
 *
 * Loads tests/bench/walk.bpf.c (walk_user_stack() and nothing else), with
 * the unwind tables of PID (built and loaded as bpprof does: pkg/unwind)
 * or with frame pointers (bpf_get_stack), attaches it to a cpu-clock perf
 * event of PID alone (every run walks one of its stacks), turns
 * kernel.bpf_stats_enabled on for SECONDS (and back as it was), and prints
 * "NS_PER_WALK WALKS FRAMES_PER_WALK". Exit 1 with one line on error. */
#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench/walk.skel.h"
#include "unwind/maps.h"

#define STATS "/proc/sys/kernel/bpf_stats_enabled"

static int set_stats(const char *v)
{
	FILE *f = fopen(STATS, "w");
	int err;

	if (!f)
		return -errno;
	err = fputs(v, f) < 0 ? -EIO : 0;
	return fclose(f) ? -errno : err;
}

static int run(struct walk_bpf *skel, uint32_t pid, double secs, unsigned freq)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr), .type = PERF_TYPE_SOFTWARE, .config = PERF_COUNT_SW_CPU_CLOCK,
		.freq = 1, .sample_freq = freq, .disabled = 1, .exclude_kernel = 1,
	};
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	struct bpf_link *link;
	char old[8] = "0";
	FILE *f;
	int fd, err;

	fd = (int)syscall(__NR_perf_event_open, &attr, (pid_t)pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = fopen(STATS, "r");
	if (f) {
		if (!fgets(old, sizeof(old), f))
			snprintf(old, sizeof(old), "0");
		fclose(f);
	}
	err = set_stats("1");
	link = err ? NULL : bpf_program__attach_perf_event(skel->progs.walk, fd);
	if (link)
		usleep((useconds_t)(secs * 1e6));
	else if (!err)
		err = -errno;
	bpf_link__destroy(link);
	close(fd);
	set_stats(old);
	if (err)
		return err;
	if (bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.walk), &info, &len))
		return -errno;
	if (!info.run_cnt)
		return -ENODATA;
	printf("%.0f %llu %.1f\n", (double)info.run_time_ns / (double)info.run_cnt,
	       (unsigned long long)info.run_cnt,
	       (double)skel->bss->walked_frames / (double)info.run_cnt);
	return 0;
}

int main(int argc, char **argv)
{
	struct unwind_maps *maps = NULL;
	struct unwinder *u = NULL;
	struct walk_bpf *skel;
	struct errmsg e = { "" };
	bool tables;
	uint32_t pid;
	int err;

	if (argc != 5 || (strcmp(argv[1], "fp") && strcmp(argv[1], "tables"))) {
		fprintf(stderr, "usage: walk fp|tables PID SECONDS FREQ\n");
		return 2;
	}
	tables = !strcmp(argv[1], "tables");
	pid = (uint32_t)strtoul(argv[2], NULL, 10);
	skel = walk_bpf__open();
	if (!skel) {
		fprintf(stderr, "walk: opening the BPF object: %s\n", strerror(errno));
		return 1;
	}
	if (tables) {
		maps = unwind_maps__new(UNWIND_DEFAULT_BYTES, &e);
		u = maps ? unwinder__new(&(struct unwinder_opts){ .sink = unwind_maps__sink(maps) })
			 : NULL;
		if (!u || unwinder__load(u, pid, 0, false) != 1) {
			fprintf(stderr, "walk: loading the tables of %u: %s\n", pid,
				e.text[0] ? e.text : "failed");
			return 1;
		}
		skel->rodata->unwind_mode = UNWIND_MODE_AUTO;
		err = unwind_maps__share(maps, skel->obj);
	} else {
		skel->rodata->unwind_mode = UNWIND_MODE_FP;
		err = 0;
	}
	if (!err)
		err = walk_bpf__load(skel);
	if (!err)
		err = run(skel, pid, strtod(argv[3], NULL), (unsigned)strtoul(argv[4], NULL, 10));
	if (err)
		fprintf(stderr, "walk: %s\n", strerror(-err));
	walk_bpf__destroy(skel);
	unwinder__free(u);
	unwind_maps__free(maps);
	return err ? 1 : 0;
}
