/* switch_floor: attach tests/bench/switch_floor.bpf.c's programs to
 * sched_switch and sched_exit_tp for SECONDS, so tests/bench/offcpu.sh can
 * measure the floor bpprof's off-CPU programs sit on: what two tracepoint
 * programs that do nothing but read the clock cost per context switch.
 *   switch_floor SECONDS
 * Exit status 0, or 1 with one line when the programs cannot be loaded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "bench/switch_floor.skel.h"

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? strtod(argv[1], NULL) : 0;
	struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
	struct switch_floor_bpf *skel;
	int err;

	if (argc != 2 || seconds <= 0) {
		fprintf(stderr, "usage: switch_floor SECONDS\n");
		return 2;
	}
	skel = switch_floor_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "switch_floor: loading: %s\n", strerror(errno));
		return 1;
	}
	err = switch_floor_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "switch_floor: attaching: %s\n", strerror(-err));
		switch_floor_bpf__destroy(skel);
		return 1;
	}
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	switch_floor_bpf__destroy(skel);
	return 0;
}
