#!/usr/bin/env bash
# Benchmark of the stack walk in BPF: what one sample costs the kernel, from
# its own statistics (kernel.bpf_stats_enabled=1, restored on exit:
# run_time_ns / run_cnt), with the unwind tables and with frame pointers
# (bpf_get_stack: the baseline) side by side, alternately, RUNS times;
# medians and ratios.
#  1. The walk alone: build/bench/walk runs walk_user_stack() and nothing
#     else on a perf event of one process (every run walks its stack), at
#     99 Hz (bpprof's default: caches cold between samples) and 999 Hz.
#     Workloads: tests/workloads/unwind qsort 128 (glibc's sort calling back,
#     -O2 without frame pointers: about 12 frames) and python3 (its
#     interpreter: about 15).
#  2. The whole sampling program, on_cpu_sample (the record, identity, ring
#     buffer and both stacks), as bpprof -v reports it, two copies of the
#     workload (one per core), user mode only, so nearly every run walks.
#  3. The kernel memory of the tables: one python3 process (-p), and the
#     whole system.
#   make bench     or     BUILD=build tests/bench/unwind.sh
# Knobs: RUNS (5) DURATION (3) seconds per measurement. Needs root.
set -eu
if [ -z "${BPPROF_E2E_LOCKED:-}" ]; then
	BPPROF_E2E_LOCKED=1 exec flock -o /tmp/bpprof-e2e.lock "$0" "$@"
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
BUILD=${BUILD:-build}
build=$(cd "$BUILD" && pwd)
RUNS=${RUNS:-5}
DURATION=${DURATION:-3}
BPPROF=$build/bpprof
WALK=$build/bench/walk
WL=$build/workloads
PY=$(readlink -f /usr/bin/python3)
for tool in "$BPPROF" "$WALK" "$WL/unwind" "$build/pprofcheck" "$PY"; do
	[ -x "$tool" ] || { echo "bench: $tool not built (make bench)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "bench: unwind needs root" >&2; exit 2; }

dir=$build/bench
mkdir -p "$dir"
stats=/proc/sys/kernel/bpf_stats_enabled
old_stats=$(cat "$stats")
pids=()
cleanup() {
	echo "$old_stats" >"$stats"
	[ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
}
trap cleanup EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
col() { awk -v c="$2" '{ print $c }' "$dir/$1.runs" | median; }
ratio() { echo "$(col "$1" 1) / $(col "$2" 1)" | bc -l; }

# --- 1. the walk alone ---

qsort_cmd="$WL/unwind qsort 1000 128"
py_cmd="$PY tests/workloads/unwind/spin.py 1000"
rm -f "$dir"/uw-*.runs
for w in qsort py; do
	cmd=qsort_cmd
	[ "$w" = py ] && cmd=py_cmd
	${!cmd} >/dev/null &
	pids=($!)
	sleep 0.5
	for i in $(seq "$RUNS"); do
		echo "bench: walk run $i/$RUNS: $w, frame pointers then tables, 99 and 999 Hz ($DURATION s each)"
		for hz in 99 999; do
			"$WALK" fp "${pids[0]}" "$DURATION" "$hz" >>"$dir/uw-$w-fp-$hz.runs"
			"$WALK" tables "${pids[0]}" "$DURATION" "$hz" >>"$dir/uw-$w-tables-$hz.runs"
		done
	done
	kill "${pids[@]}" 2>/dev/null || true
	pids=()
done

# --- 2. the whole sampling program ---

# whole NAME UNWIND CMD: one capture of two copies of CMD; appends
# "ns_per_run runs samples frames" to $dir/NAME.runs
whole() {
	local name=$1 unwind=$2 cmd=$3 out=$dir/unwind-$1.pb.gz line
	"$BPPROF" -v record -F 999 --user-only --unwind "$unwind" -o "$out" -- \
		sh -c "$cmd & $cmd; wait" >/dev/null 2>"$dir/unwind-$name.err" ||
		{ echo "bench: $name failed:"; tail -3 "$dir/unwind-$name.err"; exit 1; }
	line=$(sed -n 's/.*on_cpu_sample ran \([0-9]*\) times, \([0-9]*\) ns each.*/\2 \1/p' "$dir/unwind-$name.err")
	[ -n "$line" ] || { echo "bench: no program statistics from bpprof -v"; exit 1; }
	"$build/pprofcheck" folded -type samples "$out" |
		awk -v l="$line" '{ n = $NF; s = $0; sub(/ [0-9]+$/, "", s); t += n; f += n * split(s, a, ";") }
			END { printf "%s %d %.1f\n", l, t, t ? f / t : 0 }' >>"$dir/$name.runs"
}
echo 1 >"$stats"
for i in $(seq "$RUNS"); do
	echo "bench: sampling program run $i/$RUNS: qsort, frame pointers then tables ($DURATION s each)"
	whole uw-whole-fp fp "$WL/unwind qsort $DURATION 128"
	whole uw-whole-tables auto "$WL/unwind qsort $DURATION 128"
done
echo "$old_stats" >"$stats"

# --- 3. the tables' kernel memory: one python3 process, then the whole system ---

"$PY" tests/workloads/unwind/spin.py 8 &
pids+=($!)
sleep 1
"$BPPROF" -v record -F 99 -d 2 -p "${pids[0]}" -o "$dir/unwind-py-p.pb.gz" 2>"$dir/unwind-py-p.err" >/dev/null
"$BPPROF" -v record -F 99 -d 5 -o "$dir/unwind-system.pb.gz" 2>"$dir/unwind-system.err" >/dev/null
kill "${pids[@]}" 2>/dev/null || true
pids=()
tables() { sed -n 's/^debug: unwind: \([0-9]* files,.*\)/\1/p' "$1" | tail -1; }

walkrow() { # walkrow LABEL W HZ
	printf '  %-30s %5s %9s %9s %8s %7s\n' "$1" "$3" "$(col "uw-$2-fp-$3" 1)" "$(col "uw-$2-tables-$3" 1)" \
		"$(col "uw-$2-tables-$3" 3)" "$(printf '%.2fx' "$(ratio "uw-$2-tables-$3" "uw-$2-fp-$3")")"
}
{
	echo "unwind: ns of BPF per stack walk (the kernel's run_time_ns / run_cnt), medians of $RUNS"
	echo "alternating runs of $DURATION s; frame pointers: bpf_get_stack (1-2 frames of these programs)"
	printf '  %-30s %5s %9s %9s %8s %7s\n' "walk_user_stack() alone" Hz "fp ns" "tables ns" frames ratio
	walkrow "qsort through glibc (N=128)" qsort 99
	walkrow "" qsort 999
	walkrow "python3" py 99
	walkrow "" py 999
	echo "  (target: <= 2000 ns for a 12-frame glibc stack)"
	echo "  runs (ns runs frames): qsort 99 Hz fp $(tr '\n' '|' <"$dir/uw-qsort-fp-99.runs") tables $(tr '\n' '|' <"$dir/uw-qsort-tables-99.runs")"
	echo "    qsort 999 Hz fp $(tr '\n' '|' <"$dir/uw-qsort-fp-999.runs") tables $(tr '\n' '|' <"$dir/uw-qsort-tables-999.runs")"
	echo "    python3 99 Hz fp $(tr '\n' '|' <"$dir/uw-py-fp-99.runs") tables $(tr '\n' '|' <"$dir/uw-py-tables-99.runs")"
	echo "    python3 999 Hz fp $(tr '\n' '|' <"$dir/uw-py-fp-999.runs") tables $(tr '\n' '|' <"$dir/uw-py-tables-999.runs")"
	echo "on_cpu_sample, the whole sampling program (record, identity, ring buffer, stacks), 999 Hz,"
	echo "two copies of qsort (N=128) on $(nproc) CPUs, user mode:"
	printf '  %-30s %9s %8s %10s\n' "" "ns/run" frames "walks/runs"
	for u in fp tables; do
		printf '  %-30s %9s %8s %10s\n' "$u" "$(col "uw-whole-$u" 1)" "$(col "uw-whole-$u" 4)" \
			"$(awk '{ printf "%.2f\n", $3 / $2 }' "$dir/uw-whole-$u.runs" | median)"
	done
	printf '  tables/frame pointers: %.2fx\n' "$(ratio uw-whole-tables uw-whole-fp)"
	echo "kernel memory of the tables:"
	echo "  one python3 process (-p): $(tables "$dir/unwind-py-p.err")"
	echo "  whole system, 5 s:        $(tables "$dir/unwind-system.err")"
} | tee "$dir/unwind.txt"
