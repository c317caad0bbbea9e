#!/usr/bin/env bash
# Benchmark source lines: build/bench/lines looks up DISTINCT addresses
# spread over all of libc's code (its DWARF is libc6-dbg's, compressed) as a
# window's distinct frames are looked up, with lines off, on with nothing
# cached (cold) and on again (warm), and says what memory the lines took;
# then the peers resolve the same addresses with their inline frames, each
# in one process start: binutils' addr2line -f -i and llvm-symbolizer
# --inlines. Medians of ROUNDS, run alternately; ratios.
#   make bench     or     BUILD=build tests/bench/lines.sh
# Knobs: DISTINCT (5000) ROUNDS (5).
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
BUILD=${BUILD:-build}
build=$(cd "$BUILD" && pwd)
DISTINCT=${DISTINCT:-5000}
ROUNDS=${ROUNDS:-5}
LINES=$build/bench/lines
[ -x "$LINES" ] || { echo "bench: $LINES not built (make bench)" >&2; exit 2; }
for tool in addr2line llvm-symbolizer; do
	command -v "$tool" >/dev/null || { echo "bench: no $tool (make deps)" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "bench: GNU time not installed (make deps)" >&2; exit 2; }
LIBC=$(readlink -f "$(ldd "$LINES" | awk '$1 ~ /^libc\.so/ { print $3 }')")
ID=$(readelf -n "$LIBC" | awk '/Build ID:/ { print $3 }')
[ -f "/usr/lib/debug/.build-id/${ID:0:2}/${ID:2}.debug" ] ||
	{ echo "bench: no debug file for $LIBC (build-id $ID): make deps installs libc6-dbg" >&2; exit 2; }

dir=$build/bench
mkdir -p "$dir"
rm -f "$dir"/lines.*.runs

# peer NAME CMD...: one run, "wall_s cpu_s rss_kib" appended to $dir/lines.NAME.runs
peer() {
	local name=$1
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$dir/lines.$name.time" "$@" <"$dir/lines.addrs" >"$dir/lines.$name.out" ||
		{ echo "bench: $name failed"; exit 1; }
	awk '{ printf "%.3f %.3f %d\n", $1, $2 + $3, $4 }' "$dir/lines.$name.time" >>"$dir/lines.$name.runs"
}

for i in $(seq "$ROUNDS"); do
	echo "bench: lines round $i/$ROUNDS: bpprof's symbolizer, addr2line, llvm-symbolizer ($DISTINCT addresses in libc)"
	"$LINES" "$DISTINCT" 1 "$dir/lines.addrs" >"$dir/lines.bpprof.$i"
	peer addr2line addr2line -f -i -e "$LIBC"
	peer llvm llvm-symbolizer --inlines --obj="$LIBC"
done

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ours() { cat "$dir"/lines.bpprof.* | sed -n "s/^$1=//p" | median; }
col() { cut -d' ' -f"$2" "$dir/lines.$1.runs" | median; }
n=$(wc -l <"$dir/lines.addrs")
off=$(ours us_per_address_lines_off)
cold=$(ours us_per_address_cold)
warm=$(ours us_per_address_warm)
rss_off=$(ours rss_kib_lines_off)
rss_on=$(ours rss_kib_lines_on)
with=$(ours with_lines)
a_wall=$(col addr2line 1)
a_cpu=$(col addr2line 2)
a_rss=$(col addr2line 3)
l_wall=$(col llvm 1)
l_cpu=$(col llvm 2)
l_rss=$(col llvm 3)
us() { echo "$1 * 1000000 / $n" | bc -l; }

{
	echo "lines: $n distinct addresses spread over $LIBC's code ($with with lines); median of $ROUNDS"
	printf '  %-44s %12s %14s\n' "" "us/address" "extra RSS MiB"
	printf '  %-44s %12.2f %14s\n' "bpprof symbolizer, lines off" "$off" "-"
	printf '  %-44s %12.2f %14.1f\n' "bpprof symbolizer, lines on, cold cache" "$cold" "$(echo "($rss_on - $rss_off) / 1024" | bc -l)"
	printf '  %-44s %12.2f %14s\n' "bpprof symbolizer, lines on, warm cache" "$warm" "-"
	printf '  %-44s %12.2f %14.1f\n' "addr2line -f -i (one start; wall)" "$(us "$a_wall")" "$(echo "$a_rss / 1024" | bc -l)"
	printf '  %-44s %12.2f %14.1f\n' "llvm-symbolizer --inlines (one start; wall)" "$(us "$l_wall")" "$(echo "$l_rss / 1024" | bc -l)"
	printf '  cold: %.2f us/address (goal <= 20); addr2line / bpprof %.2fx, llvm-symbolizer / bpprof %.2fx\n' \
		"$cold" "$(echo "$(us "$a_wall") / $cold" | bc -l)" "$(echo "$(us "$l_wall") / $cold" | bc -l)"
	printf '  peers CPU s (user+sys): addr2line %s, llvm-symbolizer %s; bpprof rss KiB lines off %s, on %s\n' \
		"$a_cpu" "$l_cpu" "$rss_off" "$rss_on"
	echo "  runs us/address cold: $(cat "$dir"/lines.bpprof.* | sed -n 's/^us_per_address_cold=//p' | tr '\n' ' ')"
} | tee "$dir/lines.txt"
