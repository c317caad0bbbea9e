#!/usr/bin/env bash
# What a daemon window costs to deliver (build/bench/push): CPU and wall
# time from on_window to the endpoint's 200, and the capture thread's CPU
# time in on_window, for windows of a few sizes
# (made by pprofcheck gen, timed now so Pyroscope's time window takes
# them), pushed to the loopback receiver (tests/receiver) over /ingest.
#   make bench      or      BUILD=build tests/bench/push.sh
# Knobs: SIZES (samples per window), WINDOWS (measured per size), RUNS
# (invocations per size; the median of their medians is reported).
#   PUSH_BENCH=path  another build of the program (e.g. an older commit's)
# Writes the table to $BUILD/bench/push.txt.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
BUILD=${BUILD:-build}
build=$(cd "$BUILD" && pwd)
SIZES=${SIZES:-2000 20000}
WINDOWS=${WINDOWS:-21}
RUNS=${RUNS:-5}
BENCH=${PUSH_BENCH:-$build/bench/push}
for tool in "$BENCH" "$build/pprofcheck" "$build/receiver"; do
	[ -x "$tool" ] || { echo "bench: $tool not built (make all tools $build/bench/push)" >&2; exit 2; }
done

dir=$build/bench
mkdir -p "$dir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bpprof-bench-push.XXXXXX")
rpid=
cleanup() { [ -z "$rpid" ] || kill "$rpid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
"$build/receiver" -addr 127.0.0.1:0 -port-file "$tmp/port" -log /dev/null >"$tmp/receiver.out" 2>&1 &
rpid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "bench: the receiver did not start: $(cat "$tmp/receiver.out")" >&2; exit 1; }
url="http://127.0.0.1:$(cat "$tmp/port")"

# col KEY: the median of KEY's values over the runs
col() {
	sed -n "s/.*$1=\([0-9.]*\).*/\1/p" "$tmp/runs" | sort -n | awk '{ v[NR] = $1 }
		END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

{
	echo "push benchmark: one window from on_window to HTTP 200 (/ingest, loopback receiver)"
	echo "median over $RUNS runs of the median of $WINDOWS windows; $(nproc) CPUs"
	printf '%-10s %12s %12s %22s\n' samples "CPU ms" "wall ms" "capture thread CPU ms"
	for n in $SIZES; do
		"$build/pprofcheck" gen "$tmp/w$n.pb.gz" -samples "$n" -locations $((n / 4 + 64)) -now 2>/dev/null
		: >"$tmp/runs"
		for _ in $(seq "$RUNS"); do
			"$BENCH" "$url" "$tmp/w$n.pb.gz" "$WINDOWS" >>"$tmp/runs"
		done
		printf '%-10s %12s %12s %22s\n' "$n" "$(col cpu_ms)" "$(col wall_ms)" "$(col capture_ms)"
	done
} | tee "$dir/push.txt"
