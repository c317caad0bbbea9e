/* uprobe_floor: run a command under empty uprobes at bpprof's own heap
 * attach points, so tests/bench/heap.sh can measure the trap floor bpprof
 * sits on (the kernel's cost of a probe that does nothing) at the very
 * offsets `bpprof record --heap` uses.
 *
 *   uprobe_floor [--entry-only] [--at-entry] [--perf] [--count] [--libc PATH]
 *                [-v] -- COMMAND [ARGS...]
 *
 * Probes, all with pid = COMMAND's process (nothing else on the machine
 * pays): malloc entry, malloc return and free entry, in libc, at the file
 * offsets alloc_syms__read gives as probe[] (past a flags-only first
 * instruction the kernel would single-step, as bpprof attaches them: glibc
 * 2.36's free at +3).
 *   --entry-only  malloc entry and free entry only (no uretprobe)
 *   --at-entry    at each function's first byte (off[]) instead: what
 *                 bpftrace or a naive tool attaches, single-stepped or not
 *   --perf        perf-event uprobes (libbpf) instead of uprobe_multi links
 *                 (bpprof's choice on Linux 6.6+; detaching perf-event
 *                 uprobes is slow, ~80 ms each, after COMMAND has exited)
 *   --count       check the probes fire: BPF run statistics on, and after
 *                 COMMAND exits one line on stderr with each program's run
 *                 count (the statistics add their own cost per run: not for
 *                 timing)
 *   --libc PATH   the libc to probe; default: the libc this process runs on
 *                 (from /proc/self/maps). COMMAND is meant to be a
 *                 dynamically linked program of the same system, so its libc
 *                 is the same file (uprobes are per file: any path to it
 *                 works); one that loads another libc, or a static binary,
 *                 is not probed at all (--count shows it).
 *   -v            libbpf's debug messages too
 *
 * COMMAND is forked first and kept waiting on a pipe, like `bpprof record --
 * COMMAND` does: the probes are attached to its pid, then it is released to
 * exec (the probes follow it into the new image: the kernel plants them when
 * the new image maps libc). stdout and stderr are COMMAND's own; one line on
 * stderr says where the probes went. Exit status: COMMAND's (128 + signal if
 * it was killed), or 125 if the probes could not be attached (COMMAND is
 * then not run), 127 if it could not be executed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <libelf.h>

#include "bench/floor.skel.h"
#include "collect/heap.h"

#define EXIT_SETUP		125
#define EXIT_EXEC		127

struct opts {
	bool entry_only, at_entry, perf, count, verbose;
	const char *libc;
	char **argv;
};

static volatile pid_t child_pid;

static void usage(void)
{
	fprintf(stderr, "usage: uprobe_floor [--entry-only] [--at-entry] [--perf] [--count] "
		"[--libc PATH] [-v] -- COMMAND [ARGS...]\n");
	exit(2);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, ap);
}

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* The libc this process maps: path into buf, or -1. */
static int own_libc(char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[PATH_MAX + 128];
	int err = -1;

	if (!f)
		return -1;
	while (err && fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/'), *base;

		if (!path)
			continue;
		path[strcspn(path, "\n")] = 0;
		base = strrchr(path, '/') + 1;
		if (!strncmp(base, "libc.so", 7) || (!strncmp(base, "libc-", 5) && strstr(base, ".so"))) {
			if (realpath(path, buf) || (size_t)snprintf(buf, size, "%s", path) < size)
				err = 0;
		}
	}
	fclose(f);
	return err;
}

struct probes {
	struct floor_bpf *skel;
	struct bpf_link *links[3];
	int fds[2];
	unsigned n_links, n_fds;
};

static void probes_close(struct probes *p)
{
	unsigned i;

	/* perf-event links: ~80 ms each to detach, after the timed run */
	for (i = 0; i < p->n_links; i++)
		bpf_link__destroy(p->links[i]);
	for (i = 0; i < p->n_fds; i++)
		close(p->fds[i]);
	floor_bpf__destroy(p->skel);
	memset(p, 0, sizeof(*p));
}

/* Load the programs and attach: entries at entry[0..n_entry), returns at
 * ret[0..n_ret). 0 or negative errno, with a message printed. */
static int probes_open(struct probes *p, bool multi, pid_t pid, const char *path,
		       const uint64_t *entry, unsigned n_entry, const uint64_t *ret, unsigned n_ret)
{
	int err;
	unsigned i;

	memset(p, 0, sizeof(*p));
	p->skel = floor_bpf__open();
	if (!p->skel) {
		err = -errno;
		fprintf(stderr, "uprobe_floor: opening the BPF object: %s\n", strerror(-err));
		return err;
	}
	if (multi) {
		bpf_program__set_expected_attach_type(p->skel->progs.floor_entry, ATTACH_UPROBE_MULTI);
		bpf_program__set_expected_attach_type(p->skel->progs.floor_ret, ATTACH_UPROBE_MULTI);
	}
	err = floor_bpf__load(p->skel);
	if (err) {
		fprintf(stderr, "uprobe_floor: loading the BPF programs%s: %s\n",
			multi ? " for uprobe_multi" : "", strerror(-err));
		goto fail;
	}
	if (multi) {
		/* returns first, as bpprof does */
		if (n_ret) {
			err = uprobe_multi__attach(bpf_program__fd(p->skel->progs.floor_ret), (uint32_t)pid, path,
						   ret, NULL, n_ret, true);
			if (err < 0)
				goto fail_attach;
			p->fds[p->n_fds++] = err;
		}
		err = uprobe_multi__attach(bpf_program__fd(p->skel->progs.floor_entry), (uint32_t)pid,
					   path, entry, NULL, n_entry, false);
		if (err < 0)
			goto fail_attach;
		p->fds[p->n_fds++] = err;
		return 0;
	}
	for (i = 0; i < n_ret + n_entry; i++) {
		bool is_ret = i < n_ret;
		LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = is_ret);
		struct bpf_link *l;

		l = bpf_program__attach_uprobe_opts(is_ret ? p->skel->progs.floor_ret :
						    p->skel->progs.floor_entry,
						    pid, path, is_ret ? ret[i] : entry[i - n_ret], &o);
		if (!l) {
			err = -errno;
			goto fail_attach;
		}
		p->links[p->n_links++] = l;
	}
	return 0;
fail_attach:
	fprintf(stderr, "uprobe_floor: attaching %s uprobes to %s in pid %d: %s\n",
		multi ? "uprobe_multi" : "perf-event", path, (int)pid, strerror(-err));
fail:
	probes_close(p);
	return err;
}

static uint64_t run_cnt(struct bpf_program *prog)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
		return 0;
	return info.run_cnt;
}

static void parse(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--entry-only")) {
			o->entry_only = true;
		} else if (!strcmp(argv[i], "--at-entry")) {
			o->at_entry = true;
		} else if (!strcmp(argv[i], "--perf")) {
			o->perf = true;
		} else if (!strcmp(argv[i], "--count")) {
			o->count = true;
		} else if (!strcmp(argv[i], "-v")) {
			o->verbose = true;
		} else if (!strcmp(argv[i], "--libc") && i + 1 < argc) {
			o->libc = argv[++i];
		} else {
			usage();
		}
	}
	if (i >= argc)
		usage();
	o->argv = argv + i;
}

int main(int argc, char **argv)
{
	int im = alloc_fn__index("malloc"), ifr = alloc_fn__index("free");
	char libc[PATH_MAX];
	struct alloc_syms s;
	struct probes p;
	struct opts o;
	uint64_t entry[2], ret[1], m, f;
	int pipefd[2], status, err, stats_fd = -1;
	pid_t pid;
	char go = 1;

	parse(argc, argv, &o);
	libbpf_set_print(o.verbose ? NULL : libbpf_print);
	if (o.libc) {
		if (!realpath(o.libc, libc)) {
			fprintf(stderr, "uprobe_floor: %s: %s\n", o.libc, strerror(errno));
			return EXIT_SETUP;
		}
	} else if (own_libc(libc, sizeof(libc))) {
		fprintf(stderr, "uprobe_floor: no libc in /proc/self/maps (give --libc)\n");
		return EXIT_SETUP;
	}
	err = alloc_syms__read_file(libc, &s);
	if (err || im < 0 || ifr < 0 || !s.found[im] || !s.found[ifr]) {
		fprintf(stderr, "uprobe_floor: %s: %s\n", libc,
			err ? strerror(-err) : "no malloc or free symbol");
		return EXIT_SETUP;
	}
	m = o.at_entry ? s.off[im] : s.probe[im];
	f = o.at_entry ? s.off[ifr] : s.probe[ifr];
	entry[0] = m;
	entry[1] = f;
	ret[0] = m;

	if (pipe2(pipefd, O_CLOEXEC)) {
		perror("uprobe_floor: pipe");
		return EXIT_SETUP;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("uprobe_floor: fork");
		return EXIT_SETUP;
	}
	if (!pid) {
		char c;

		close(pipefd[1]);
		/* EOF: the parent gave up (or died) before releasing us */
		if (read(pipefd[0], &c, 1) != 1)
			_exit(EXIT_SETUP);
		execvp(o.argv[0], o.argv);
		fprintf(stderr, "uprobe_floor: %s: %s\n", o.argv[0], strerror(errno));
		_exit(EXIT_EXEC);
	}
	close(pipefd[0]);
	child_pid = pid;
	signal(SIGINT, forward);
	signal(SIGTERM, forward);
	signal(SIGHUP, forward);

	err = probes_open(&p, !o.perf, pid, libc, entry, 2, ret, o.entry_only ? 0 : 1);
	if (err && !o.perf) {
		fprintf(stderr, "uprobe_floor: falling back to perf-event uprobes\n");
		o.perf = true;
		err = probes_open(&p, false, pid, libc, entry, 2, ret, o.entry_only ? 0 : 1);
	}
	if (err) {
		close(pipefd[1]);	/* the child exits unrun */
		waitpid(pid, &status, 0);
		return EXIT_SETUP;
	}
	if (o.count) {
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (stats_fd < 0)
			fprintf(stderr, "uprobe_floor: --count: enabling BPF statistics: %s\n",
				strerror(-stats_fd));
	}
	fprintf(stderr, "uprobe_floor: %s %s uprobes in pid %d on %s: malloc entry 0x%" PRIx64
		"%s, free entry 0x%" PRIx64 " (function +%" PRIu64 ")\n",
		o.at_entry ? "function-entry" : "bpprof-point", o.perf ? "perf-event" : "uprobe_multi",
		(int)pid, libc, m, o.entry_only ? "" : " + return", f, f - s.off[ifr]);
	if (write(pipefd[1], &go, 1) != 1) {
		perror("uprobe_floor: releasing the command");
		kill(pid, SIGKILL);
	}
	close(pipefd[1]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("uprobe_floor: waitpid");
			status = EXIT_SETUP << 8;
			break;
		}
	}
	child_pid = 0;
	if (o.count && stats_fd >= 0)
		fprintf(stderr, "uprobe_floor: runs: entry %" PRIu64 " return %" PRIu64 "\n",
			run_cnt(p.skel->progs.floor_entry), run_cnt(p.skel->progs.floor_ret));
	if (stats_fd >= 0)
		close(stats_fd);
	probes_close(&p);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
