#!/usr/bin/env bash
# Benchmark `bpprof convert` against `go tool pprof -proto` on one large,
# realistic CPU profile (made once by pprofcheck gen with google/pprof's own
# encoder, cached under $BUILD/bench/), and bpprof's zstd-3 against its
# default gzip-6: all three in one hyperfine invocation.
#   make bench      or      BUILD=build tests/bench/convert.sh
# Knobs: SAMPLES LOCATIONS SEED RUNS WARMUP; VERIFY=0 skips the check that
# bpprof's output means the same as the input to google/pprof.
# Writes the table to $BUILD/bench/convert.txt, raw timings to *.json.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
BUILD=${BUILD:-build}
build=$(cd "$BUILD" && pwd)
GOENV=${GOENV:-GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$build/gocache GOFLAGS=}
SAMPLES=${SAMPLES:-200000}
LOCATIONS=${LOCATIONS:-50000}
SEED=${SEED:-1}
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
VERIFY=${VERIFY:-1}

BPPROF=$build/bpprof
PPROFCHECK=$build/pprofcheck
for tool in "$BPPROF" "$PPROFCHECK"; do
	[ -x "$tool" ] || { echo "bench: $tool not built (make all tools)" >&2; exit 2; }
done
command -v hyperfine >/dev/null || { echo "bench: hyperfine not installed (make deps)" >&2; exit 2; }

dir=$build/bench
mkdir -p "$dir"
big=$dir/big-${SAMPLES}s-${LOCATIONS}l-seed${SEED}.pb.gz
if [ ! -s "$big" ]; then
	echo "bench: generating $big"
	"$PPROFCHECK" gen "$big" -samples "$SAMPLES" -locations "$LOCATIONS" -seed "$SEED"
fi
stats=$("$PPROFCHECK" stats "$big")
stat() { printf '%s\n' "$stats" | sed -n "s/^$1: //p"; }

out_bp=$dir/out-bpprof.pb.gz
out_go=$dir/out-go.pb.gz
out_zst=$dir/out-zstd3.pb.zst
rm -f "$out_bp" "$out_go" "$out_zst"

# bpprof's default output is gzip level 6: it is also the zstd-3 baseline.
cmd_bp="$BPPROF convert $big -o $out_bp"
# -symbolize=none: a local file and no symbolization, so nothing is fetched.
cmd_go="env $GOENV go tool pprof -proto -symbolize=none $big > $out_go 2>/dev/null"
cmd_zst="$BPPROF convert $big -o $out_zst --compress zstd --level 3"

# Fail early and clearly if a command does not work at all.
for c in "$cmd_bp" "$cmd_go" "$cmd_zst"; do
	sh -c "$c" || { echo "bench: failed: $c" >&2; exit 1; }
done

if [ "$VERIFY" = 1 ]; then
	echo "bench: checking that google/pprof reads bpprof's output as the input"
	"$PPROFCHECK" check -strict "$out_bp" >/dev/null
	"$PPROFCHECK" summary -full -labels "$big" >"$dir/in.summary"
	"$PPROFCHECK" summary -full -labels "$out_bp" | cmp -s "$dir/in.summary" - ||
		{ echo "bench: $out_bp does not mean the same as $big" >&2; exit 1; }
	zstd -q -d -c "$out_zst" >"$dir/out-zstd3.pb"
	"$PPROFCHECK" summary -full -labels "$dir/out-zstd3.pb" | cmp -s "$dir/in.summary" - ||
		{ echo "bench: $out_zst does not mean the same as $big" >&2; exit 1; }
	rm -f "$dir/out-zstd3.pb"
fi

hyperfine --style basic --warmup "$WARMUP" --runs "$RUNS" \
	--export-json "$dir/convert.json" --export-csv "$dir/convert.csv" \
	-n bpprof "$cmd_bp" -n zstd-3 "$cmd_zst" -n go-pprof "$cmd_go"

median() { # median CSV NAME: seconds (hyperfine's CSV: command,mean,stddev,median,...)
	awk -F, -v n="$2" '$1 == n { print $4 }' "$1"
}
rss() { # rss CMD: peak resident set in KiB, or "-" without GNU time
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f %M -o "$dir/rss" sh -c "$1" 2>/dev/null && tail -1 "$dir/rss"
	else
		echo -
	fi
}
size() { wc -c <"$1" | tr -d ' '; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { # verdict VALUE OP LIMIT
	awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
		ok = (op == ">=") ? v >= l : v <= l
		print ok ? "met" : "MISSED" }'
}
mib() { [ "$1" = - ] && echo - || awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

t_bp=$(median "$dir/convert.csv" bpprof)
t_go=$(median "$dir/convert.csv" go-pprof)
t_zst=$(median "$dir/convert.csv" zstd-3)
m_bp=$(rss "$cmd_bp")
m_go=$(rss "$cmd_go")
m_zst=$(rss "$cmd_zst")
s_bp=$(size "$out_bp")
s_go=$(size "$out_go")
s_zst=$(size "$out_zst")
speed=$(ratio "$t_go" "$t_bp")
sizer=$(ratio "$s_bp" "$s_go")

{
	echo "bpprof convert benchmark: hyperfine, median of $RUNS runs after $WARMUP warmup"
	echo "input: ${big#"$root"/}"
	echo "       $(stat samples) samples, $(stat locations) locations, $(stat functions) functions, $(stat mappings) mappings;"
	echo "       $(size "$big") bytes gzip, $(stat uncompressed_bytes) bytes uncompressed"
	echo
	printf '%-38s %10s %13s %14s\n' "pprof -> pprof (gzip)" "median s" "peak RSS MiB" "output bytes"
	printf '%-38s %10.3f %13s %14s\n' "bpprof convert" "$t_bp" "$(mib "$m_bp")" "$s_bp"
	printf '%-38s %10.3f %13s %14s\n' "go tool pprof -proto -symbolize=none" "$t_go" "$(mib "$m_go")" "$s_go"
	printf '%-38s %10s   target >= 5x    %s\n' "speed, go / bpprof" "${speed}x" "$(verdict "$speed" '>=' 5)"
	printf '%-38s %10s   target <= 1.1x  %s\n' "output size, bpprof / go" "${sizer}x" "$(verdict "$sizer" '<=' 1.1)"
	echo
	printf '%-38s %10s %13s %14s\n' "bpprof output compression" "median s" "peak RSS MiB" "output bytes"
	printf '%-38s %10.3f %13s %14s\n' "gzip level 6 (the default)" "$t_bp" "$(mib "$m_bp")" "$s_bp"
	printf '%-38s %10.3f %13s %14s\n' "--compress zstd --level 3" "$t_zst" "$(mib "$m_zst")" "$s_zst"
	printf '%-38s %10s\n' "speed, gzip-6 / zstd-3" "$(ratio "$t_bp" "$t_zst")x"
	printf '%-38s %10s\n' "size, zstd-3 / gzip-6" "$(ratio "$s_zst" "$s_bp")x"
} | tee "$dir/convert.txt"
echo "bench: wrote ${dir#"$root"/}/convert.txt"
