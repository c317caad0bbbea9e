#!/usr/bin/env bash
# Benchmark `bpprof record` against `perf record -F 99 -g -a` and against
# `perf record -F 99 --call-graph dwarf -a` + `perf script` (what a user of
# perf pays for stacks without frame pointers) on a busy machine (one
# CPU-bound spinner per core): all profile the whole system for DURATION
# seconds at 99 Hz; we compare their own CPU time (user+sys to the
# microsecond, by $BUILD/bench/cputime; for bpprof it includes building
# unwind tables, symbolization with source lines and writing the pprof) and
# peak RSS, run alternately RUNS times, medians and
# ratios; bpprof with frame pointers only (--unwind fp) is the baseline of
# its tables' cost, bpprof --no-lines that of source lines; bpprof's rows
# find what earlier runs kept on disk (decompressed debug sections, unwind
# tables, the kernel types file: a warm --cache-dir of their own), and one
# more row runs with that cache cold (as a first run does). Then the
# synthetic ingest benchmark: samples per second the user-space side
# absorbs, ns per sample.
#   make bench     or     BUILD=build tests/bench/record.sh
# Knobs: RUNS (3) DURATION (10) FREQ (99), LOAD (shell: `while :; do :;
# done`, shallow stacks; python3: Debian's /usr/bin/python3 summing a
# generator in a loop, CPython's deeper native stacks). Needs root.
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
RUNS=${RUNS:-3}
LOAD=${LOAD:-shell}
case $LOAD in
shell) load=(sh -c 'while :; do :; done') ;;
python3) load=(/usr/bin/python3 -c 'while True: sum(i * i for i in range(1000))') ;;
*) echo "bench: LOAD is shell or python3, not $LOAD" >&2; exit 2 ;;
esac
DURATION=${DURATION:-10}
FREQ=${FREQ:-99}
BPPROF=$build/bpprof
INGEST=$build/bench/ingest
for tool in "$BPPROF" "$INGEST"; do
	[ -x "$tool" ] || { echo "bench: $tool not built (make bench)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "bench: record needs root" >&2; exit 2; }
command -v perf >/dev/null || { echo "bench: perf not installed (make deps)" >&2; exit 2; }
CPUTIME=$build/bench/cputime
[ -x "$CPUTIME" ] || { echo "bench: $CPUTIME not built (make bench)" >&2; exit 2; }

dir=$build/bench
mkdir -p "$dir"
spinners=()
cleanup() { [ ${#spinners[@]} -eq 0 ] || kill "${spinners[@]}" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq "$(nproc)"); do
	"${load[@]}" &
	spinners+=($!)
done
sleep 1

# measure NAME CMD...: append "cpu_seconds rss_kib" for one run to $dir/NAME.runs
measure() {
	local name=$1
	shift
	"$CPUTIME" -o "$dir/$name.time" "$@" >/dev/null 2>"$dir/$name.err" ||
		{ echo "bench: $name failed:"; cat "$dir/$name.err"; exit 1; }
	awk '{ printf "%.4f %d\n", $1, $2 }' "$dir/$name.time" >>"$dir/$name.runs"
}

rm -f "$dir"/perf.runs "$dir"/bpprof.runs "$dir"/perf-dwarf.runs "$dir"/perf-script.runs \
	"$dir"/bpprof-fp.runs "$dir"/bpprof-nolines.runs "$dir"/bpprof-cold.runs
# bpprof's rows keep what --cache-dir keeps in a directory of their own,
# warmed once here (what every run after a user's first finds); the cold
# row empties its own before each run (a first run).
cache=$dir/debug-cache
"$BPPROF" record -q -F "$FREQ" -d 1 --cache-dir "$cache" -o "$dir/record-warm.pb.gz"
for i in $(seq "$RUNS"); do
	echo "bench: run $i/$RUNS: perf record -g, perf --call-graph dwarf (+ perf script), bpprof" \
		"--unwind fp, bpprof, bpprof --no-lines, bpprof with its cache cold ($DURATION s each, all cores busy)"
	measure perf perf record -F "$FREQ" -g -a -o "$dir/perf.data" -- sleep "$DURATION"
	measure perf-dwarf perf record -F "$FREQ" --call-graph dwarf -a -o "$dir/perf-dwarf.data" -- sleep "$DURATION"
	measure perf-script perf script -i "$dir/perf-dwarf.data"
	measure bpprof-fp "$BPPROF" record -q -F "$FREQ" -d "$DURATION" --unwind fp --cache-dir "$cache" \
		-o "$dir/record-fp.pb.gz"
	measure bpprof "$BPPROF" record -q -F "$FREQ" -d "$DURATION" --cache-dir "$cache" -o "$dir/record.pb.gz"
	measure bpprof-nolines "$BPPROF" record -q --no-lines -F "$FREQ" -d "$DURATION" -o "$dir/record-nolines.pb.gz"
	rm -rf "$dir/cold-cache"
	measure bpprof-cold "$BPPROF" record -q -F "$FREQ" -d "$DURATION" --cache-dir "$dir/cold-cache" \
		-o "$dir/record-cold.pb.gz"
done
rm -f "$dir/perf-dwarf.data"
samples=$("$build/pprofcheck" total "$dir/record.pb.gz" samples 2>/dev/null || echo '?')
cleanup
spinners=()

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
p_cpu=$(cut -d' ' -f1 "$dir/perf.runs" | median)
b_cpu=$(cut -d' ' -f1 "$dir/bpprof.runs" | median)
p_rss=$(cut -d' ' -f2 "$dir/perf.runs" | median)
b_rss=$(cut -d' ' -f2 "$dir/bpprof.runs" | median)
# perf's DWARF mode: the recording and its perf script, run by run
d_cpu=$(paste -d' ' "$dir/perf-dwarf.runs" "$dir/perf-script.runs" | awk '{ printf "%.4f\n", $1 + $3 }' | median)
d_rss=$(paste -d' ' "$dir/perf-dwarf.runs" "$dir/perf-script.runs" | awk '{ print ($2 > $4 ? $2 : $4) }' | median)
f_cpu=$(cut -d' ' -f1 "$dir/bpprof-fp.runs" | median)
f_rss=$(cut -d' ' -f2 "$dir/bpprof-fp.runs" | median)
n_cpu=$(cut -d' ' -f1 "$dir/bpprof-nolines.runs" | median)
n_rss=$(cut -d' ' -f2 "$dir/bpprof-nolines.runs" | median)
c_cpu=$(cut -d' ' -f1 "$dir/bpprof-cold.runs" | median)
c_rss=$(cut -d' ' -f2 "$dir/bpprof-cold.runs" | median)

echo "bench: ingest (synthetic ring-buffer records through the capture's own path)"
"$INGEST" 2000000 5000 "$dir/ingest.pb.gz" >"$dir/ingest.txt"

{
	echo "record: whole system, ${DURATION} s at ${FREQ} Hz, $(nproc) CPUs all busy ($LOAD loops); median of $RUNS"
	printf '  %-28s %10s %12s\n' tool "CPU s" "peak RSS MiB"
	printf '  %-38s %10s %12.1f\n' "perf record -g -a" "$p_cpu" "$(echo "$p_rss / 1024" | bc -l)"
	printf '  %-38s %10s %12.1f\n' "perf record --call-graph dwarf + script" "$d_cpu" "$(echo "$d_rss / 1024" | bc -l)"
	printf '  %-38s %10s %12.1f\n' "bpprof record --unwind fp (baseline)" "$f_cpu" "$(echo "$f_rss / 1024" | bc -l)"
	printf '  %-38s %10s %12.1f\n' "bpprof record --no-lines" "$n_cpu" "$(echo "$n_rss / 1024" | bc -l)"
	printf '  %-38s %10s %12.1f\n' "bpprof record (tables and lines)" "$b_cpu" "$(echo "$b_rss / 1024" | bc -l)"
	printf '  %-38s %10s %12.1f\n' "bpprof record, cache cold" "$c_cpu" "$(echo "$c_rss / 1024" | bc -l)"
	printf '  bpprof/perf -g: CPU %.2fx (target <= 0.5x), RSS %.2fx; bpprof RSS %.1f MiB (target <= 24 + tables)\n' \
		"$(echo "$b_cpu / $p_cpu" | bc -l)" "$(echo "$b_rss / $p_rss" | bc -l)" \
		"$(echo "$b_rss / 1024" | bc -l)"
	printf '  bpprof/perf dwarf (record + script): CPU %.3fx (target <= 0.1x); tables/frame pointers: CPU %.2fx\n' \
		"$(echo "$b_cpu / $d_cpu" | bc -l)" "$(echo "$b_cpu / $f_cpu" | bc -l)"
	printf '  source lines cost: CPU %+.3f s, RSS %+.1f MiB (--no-lines/perf -g: CPU %.2fx)\n' \
		"$(echo "$b_cpu - $n_cpu" | bc -l)" "$(echo "($b_rss - $n_rss) / 1024" | bc -l)" \
		"$(echo "$n_cpu / $p_cpu" | bc -l)"
	printf '  with the cache cold: CPU %+.3f s more; bpprof/perf dwarf %.3fx, /perf -g %.2fx; --no-lines/perf dwarf %.3fx\n' \
		"$(echo "$c_cpu - $b_cpu" | bc -l)" "$(echo "$c_cpu / $d_cpu" | bc -l)" \
		"$(echo "$c_cpu / $p_cpu" | bc -l)" "$(echo "$n_cpu / $d_cpu" | bc -l)"
	echo "  samples in bpprof's last profile: $samples"
	echo "  runs (cpu_s rss_kib): perf $(tr '\n' ' ' <"$dir/perf.runs")| bpprof $(tr '\n' ' ' <"$dir/bpprof.runs")"
	echo "    perf dwarf $(tr '\n' ' ' <"$dir/perf-dwarf.runs")| perf script $(tr '\n' ' ' <"$dir/perf-script.runs")"
	echo "    bpprof --unwind fp $(tr '\n' ' ' <"$dir/bpprof-fp.runs")| --no-lines $(tr '\n' ' ' <"$dir/bpprof-nolines.runs")"
	echo "    bpprof, cache cold $(tr '\n' ' ' <"$dir/bpprof-cold.runs")"
	echo "ingest:"
	sed 's/^/  /' "$dir/ingest.txt"
} | tee "$dir/record$([ "$LOAD" = shell ] || echo "-$LOAD").txt"
