#!/usr/bin/env bash
# Benchmark of the stack walk in BPF: what one sample costs the kernel, from
# its own statistics (kernel.bpf_stats_enabled=1, restored on exit: each
# program's run_time_ns / run_cnt, which bpprof -v reports for its sampling
# program), with the unwind tables (--unwind auto) and with frame pointers
# (--unwind fp, bpf_get_stack: the baseline) side by side, alternately, RUNS
# times; medians and ratios. Workloads: two copies of tests/workloads/unwind
# qsort (one per core of a 2-core machine: glibc's sort calling back, about
# 13 frames, -O2 without frame pointers) and two python3 (its interpreter:
# about 17 frames), user mode only, so nearly every run of the program walks
# a stack (the share is reported). Then the kernel memory of the tables: for
# one python3 process (-p), and for the whole system.
#   make bench     or     BUILD=build tests/bench/unwind.sh
# Knobs: RUNS (5) DURATION (3) FREQ (999). Needs root.
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
FREQ=${FREQ:-999}
BPPROF=$build/bpprof
WL=$build/workloads
PY=$(readlink -f /usr/bin/python3)
for tool in "$BPPROF" "$WL/unwind" "$build/pprofcheck" "$PY"; do
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
echo 1 >"$stats"

# walk NAME UNWIND CMD: one capture of CMD (two copies, one per core) with
# --unwind UNWIND; appends "ns_per_run runs samples frames" to $dir/NAME.runs
walk() {
	local name=$1 unwind=$2 cmd=$3 out=$dir/unwind-$1.pb.gz line
	"$BPPROF" -v record -F "$FREQ" --user-only --unwind "$unwind" -o "$out" -- \
		sh -c "$cmd & $cmd; wait" >/dev/null 2>"$dir/unwind-$name.err" ||
		{ echo "bench: $name failed:"; tail -3 "$dir/unwind-$name.err"; exit 1; }
	line=$(sed -n 's/.*on_cpu_sample ran \([0-9]*\) times, \([0-9]*\) ns each.*/\2 \1/p' "$dir/unwind-$name.err")
	[ -n "$line" ] || { echo "bench: no program statistics from bpprof -v (kernel.bpf_stats_enabled?)"; exit 1; }
	"$build/pprofcheck" folded -type samples "$out" |
		awk -v l="$line" '{ n = $NF; s = $0; sub(/ [0-9]+$/, "", s); t += n; f += n * split(s, a, ";") }
			END { printf "%s %d %.1f\n", l, t, t ? f / t : 0 }' >>"$dir/$name.runs"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
col() { awk -v c="$2" '{ print $c }' "$dir/$1.runs" | median; }

qsort_cmd="$WL/unwind qsort $DURATION"
py_cmd="$PY tests/workloads/unwind/spin.py $DURATION"
rm -f "$dir"/uw-*.runs
for i in $(seq "$RUNS"); do
	echo "bench: unwind run $i/$RUNS: qsort and python3, with frame pointers then tables ($DURATION s each)"
	walk uw-qsort-fp fp "$qsort_cmd"
	walk uw-qsort-dwarf auto "$qsort_cmd"
	walk uw-py-fp fp "$py_cmd"
	walk uw-py-dwarf auto "$py_cmd"
done
echo "$old_stats" >"$stats"

# the tables' kernel memory: one python3 process, then the whole system
"$PY" tests/workloads/unwind/spin.py 8 &
pids+=($!)
sleep 1
"$BPPROF" -v record -F 99 -d 2 -p "${pids[0]}" -o "$dir/unwind-py-p.pb.gz" 2>"$dir/unwind-py-p.err" >/dev/null
"$BPPROF" -v record -F 99 -d 5 -o "$dir/unwind-system.pb.gz" 2>"$dir/unwind-system.err" >/dev/null
kill "${pids[@]}" 2>/dev/null || true
pids=()
tables() { sed -n 's/^debug: unwind: //p' "$1" | tail -1; }

row() { # row LABEL NAME
	printf '  %-34s %8s %8s %10s %8s\n' "$1" "$(col "$2" 1)" "$(col "$2" 4)" \
		"$(awk '{ printf "%.2f\n", $3 / $2 }' "$dir/$2.runs" | median)" "$(col "$2" 3)"
}
ratio() { echo "$(col "$1" 1) / $(col "$2" 1)" | bc -l; }
{
	echo "unwind: ns of BPF per sample (on_cpu_sample's run_time_ns / run_cnt), $FREQ Hz, user mode,"
	echo "two copies of each workload on $(nproc) CPUs, ${DURATION} s; medians of $RUNS alternating runs"
	printf '  %-34s %8s %8s %10s %8s\n' "" "ns/run" "frames" "walks/runs" "samples"
	row "qsort, frame pointers (baseline)" uw-qsort-fp
	row "qsort, unwind tables" uw-qsort-dwarf
	row "python3, frame pointers (baseline)" uw-py-fp
	row "python3, unwind tables" uw-py-dwarf
	printf '  tables/frame pointers: qsort %.2fx, python3 %.2fx (target: <= 2000 ns for ~12 frames)\n' \
		"$(ratio uw-qsort-dwarf uw-qsort-fp)" "$(ratio uw-py-dwarf uw-py-fp)"
	echo "  runs (ns/run runs samples frames): qsort fp $(tr '\n' '|' <"$dir/uw-qsort-fp.runs")"
	echo "    qsort tables $(tr '\n' '|' <"$dir/uw-qsort-dwarf.runs")"
	echo "    python3 fp $(tr '\n' '|' <"$dir/uw-py-fp.runs")"
	echo "    python3 tables $(tr '\n' '|' <"$dir/uw-py-dwarf.runs")"
	echo "kernel memory of the tables:"
	echo "  one python3 process (-p): $(tables "$dir/unwind-py-p.err")"
	echo "  whole system, 5 s:        $(tables "$dir/unwind-system.err")"
} | tee "$dir/unwind.txt"
