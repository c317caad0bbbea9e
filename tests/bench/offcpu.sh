#!/usr/bin/env bash
# Benchmark off-CPU profiling on a context-switch-heavy load: two threads
# ping-ponging a byte through pipes ($BUILD/workloads/pingpong, which times
# its own loop), pinned to one CPU so every round trip is two context
# switches there (about a million a second on this project's VM). Each row
# runs a profiler over the whole system for WINDOW seconds and the load for
# RUN_SECONDS inside that window; rows alternate, ROUNDS times each, medians.
# Per row: the load's round trips per second and their ratio to the load
# alone, and the profiler's own CPU time (user+sys, GNU time) and peak RSS
# over the same window.
#   make bench     or     BUILD=build tests/bench/offcpu.sh
# Rows (ROWS, space-separated subset):
#   base         the load alone
#   floor        $BUILD/bench/switch_floor: programs on the same two
#                tracepoints that only read the clock (what any design
#                hooked there pays before doing anything)
#   bpprof       bpprof record --off-cpu (waits of 1 ms or more; stacks
#                walked as the thread comes back: sched_exit_tp, 6.16+)
#   bpprof-all   the same with --off-cpu-min 0: every wait walked and sent
#                as a ring record (what one record per switch costs)
#   bpprof-old   BPPROF_OFFCPU_WALK=switch-out: stacks walked at every
#                switch-out, as on kernels before 6.16
#   offcputime   bcc's libbpf-tools offcputime -m 1000 (tp_btf/sched_switch,
#                stacks walked at every switch-out into a stack map, waits
#                summed per stack in BPF)
#   perf         perf record -e sched:sched_switch -g -a (a sample with both
#                stacks per switch; tracefs mounted for it alone, in a
#                private mount namespace)
# Not run unless named in ROWS:
#   base-free, bpprof-free   the load and bpprof unpinned: the scheduler
#                then places the two threads on one CPU or on two from run
#                to run (0.03 to 0.5 million round trips a second here), so
#                the ratio measures placement more than bpprof
# bcc's Python offcputime (bpfcc-tools) is not a row: it compiles its
# program against kernel headers this kernel has none of, and attaches a
# kprobe, which this kernel lacks.
# Knobs: ROUNDS (5) RUN_SECONDS (2) WINDOW (RUN_SECONDS + 1.5) ROWS, STATS (1: one
# more bpprof run with kernel.bpf_stats_enabled, restored after, for the BPF
# programs' ns per run). Needs root. Writes $BUILD/bench/offcpu.txt; raw
# runs in $BUILD/bench/offcpu/ROW.runs. The verdict is printed, not
# enforced: the exit status is 0 unless a run fails.
set -eu
# One at a time with the suites that load BPF or change host settings (see
# tests/lib.sh): a benchmark measured beside another's capture means nothing.
if [ -z "${BPPROF_E2E_LOCKED:-}" ]; then
	BPPROF_E2E_LOCKED=1 exec flock -o /tmp/bpprof-e2e.lock "$0" "$@"
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
BUILD=${BUILD:-build}
build=$(cd "$BUILD" && pwd)
ROUNDS=${ROUNDS:-5}
SECONDS_=${RUN_SECONDS:-2}
WINDOW=${WINDOW:-$(echo "$SECONDS_ + 1.5" | bc)}
ROWS=${ROWS:-base floor bpprof bpprof-all bpprof-old offcputime perf}
STATS=${STATS:-1}
BPPROF=${BPPROF:-$build/bpprof}
PINGPONG=$build/workloads/pingpong
OFFCPUTIME=${OFFCPUTIME:-/usr/sbin/offcputime}
[ -x "$PINGPONG" ] || { echo "bench: $PINGPONG not built (make workloads)" >&2; exit 2; }
[ -x "$BPPROF" ] || { echo "bench: $BPPROF not built" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench: offcpu needs root" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: GNU time not installed (make deps)" >&2; exit 2; }

dir=$build/bench/offcpu
mkdir -p "$dir"
out=$build/bench/offcpu.txt
CPU=$(taskset -pc $$ | sed 's/.*: //; s/[-,].*//') # the first CPU we may use

stats_old=
restore() { [ -z "$stats_old" ] || echo "$stats_old" >/proc/sys/kernel/bpf_stats_enabled; }
trap restore EXIT

# profiler ROW: the command that runs ROW's profiler for WINDOW seconds
profiler() {
	local w=${WINDOW%.*}
	case $1 in
	floor) echo "$build/bench/switch_floor $WINDOW" ;;
	bpprof | bpprof-free) echo "$BPPROF record -q --off-cpu -d $WINDOW -o $dir/$1.pb.gz" ;;
	bpprof-all) echo "$BPPROF record -q --off-cpu --off-cpu-min 0 -d $WINDOW -o $dir/$1.pb.gz" ;;
	bpprof-old) echo "env BPPROF_OFFCPU_WALK=switch-out $BPPROF record -q --off-cpu -d $WINDOW -o $dir/$1.pb.gz" ;;
	offcputime) echo "$OFFCPUTIME -m 1000 $((w + 1))" ;;
	perf) echo "unshare -m --propagation private sh -c 'mount -t tracefs nodev /sys/kernel/tracing && exec perf record -q -e sched:sched_switch -g -a -o $dir/perf.data -- sleep $WINDOW'" ;;
	esac
}

# one ROW: a run of the load (pinned unless ROW ends in -free), under ROW's
# profiler when it has one; appends "round_trips_per_s cpu_s rss_kib"
one() {
	local row=$1 cmd pin=(taskset -c "$CPU") rate p
	case $row in *-free) pin=() ;; esac
	cmd=$(profiler "$row")
	if [ -z "$cmd" ]; then
		rate=$("${pin[@]}" "$PINGPONG" "$SECONDS_" | sed -n 's/.*per_second=//p')
		echo "$rate 0 0" >>"$dir/$row.runs"
		return
	fi
	/usr/bin/time -f '%U %S %M' -o "$dir/$row.time" sh -c "$cmd" >"$dir/$row.out" 2>"$dir/$row.err" &
	p=$!
	sleep 0.8 # attached by then (each says so within 0.3 s here)
	rate=$("${pin[@]}" "$PINGPONG" "$SECONDS_" | sed -n 's/.*per_second=//p')
	wait "$p" || { echo "bench: $row failed: $(tail -3 "$dir/$row.err")" >&2; exit 1; }
	awk -v r="$rate" '{ printf "%s %.3f %d\n", r, $1 + $2, $3 }' "$dir/$row.time" >>"$dir/$row.runs"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v c="$2" '{ print $c }' "$dir/$1.runs" | median; }

runnable=""
for row in $ROWS; do
	case $row in
	floor) [ -x "$build/bench/switch_floor" ] || { echo "bench: $build/bench/switch_floor not built (make bench): row skipped"; continue; } ;;
	offcputime) [ -x "$OFFCPUTIME" ] || { echo "bench: no $OFFCPUTIME (libbpf-tools): row skipped"; continue; } ;;
	perf) command -v perf >/dev/null || { echo "bench: no perf: row skipped"; continue; } ;;
	esac
	runnable="$runnable $row"
	rm -f "$dir/$row.runs"
done
for i in $(seq "$ROUNDS"); do
	echo "bench: offcpu round $i/$ROUNDS:$runnable"
	for row in $runnable; do one "$row"; done
done

{
	echo "off-CPU profiling of a ping-pong through pipes, $SECONDS_ s per run in a $WINDOW s window"
	echo "(whole system; pinned to CPU $CPU unless -free), medians of $ROUNDS rounds, $(date -u +%F)"
	printf '%-12s %14s %9s %9s %9s\n' row "round trips/s" "x base" "CPU s" "RSS MiB"
	for row in $runnable; do
		base=$(col base 1 2>/dev/null || echo 0)
		case $row in *-free) base=$(col base-free 1 2>/dev/null || echo 0) ;; esac
		printf '%-12s %14.0f %9s %9s %9s\n' "$row" "$(col "$row" 1)" \
			"$(awk -v a="$(col "$row" 1)" -v b="$base" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')" \
			"$(col "$row" 2)" "$(awk -v k="$(col "$row" 3)" 'BEGIN { printf "%.1f", k / 1024 }')"
	done
	for row in bpprof bpprof-all; do
		echo "$runnable" | grep -qw -- "$row" && [ -s "$dir/$row.pb.gz" ] || continue
		echo "$row: $("$build/pprofcheck" total "$dir/$row.pb.gz" off_cpu_samples) waits recorded in the last run"
	done
	if [ -x "$build/pprofcheck" ] && [ -s "$dir/bpprof.pb.gz" ] && echo "$runnable" | grep -qw base; then
		bp=$(col bpprof 1)
		b=$(col base 1)
		awk -v a="$bp" -v b="$b" 'BEGIN { r = a / b; printf "verdict: bpprof keeps %.3f of the throughput (target >= 0.9): %s\n", r, (r >= 0.9 ? "met" : "NOT met") }'
	fi
} | tee "$out"

# What the two programs cost per run, from the kernel's own accounting.
if [ "$STATS" = 1 ] && [ -w /proc/sys/kernel/bpf_stats_enabled ] && command -v bpftool >/dev/null; then
	stats_old=$(cat /proc/sys/kernel/bpf_stats_enabled)
	echo 1 >/proc/sys/kernel/bpf_stats_enabled
	$BPPROF record -q --off-cpu -d "$WINDOW" -o "$dir/stats.pb.gz" &
	p=$!
	sleep 0.8
	taskset -c "$CPU" "$PINGPONG" "$SECONDS_" >/dev/null
	bpftool prog show 2>/dev/null | awk '/ name on_switch(ed_in)? / { n = $4 } n && /run_time_ns/ {
		for (i = 1; i < NF; i++) { if ($i == "run_time_ns") t = $(i + 1); if ($i == "run_cnt") c = $(i + 1) }
		printf "%s: %.0f ns per run over %d runs (kernel.bpf_stats_enabled)\n", n, t / c, c; n = "" }' | tee -a "$out"
	wait "$p" || true
	restore
	stats_old=
fi
