#!/usr/bin/env bash
# Benchmark what uprobes on malloc/free cost: `bpprof record --heap` against
# the uprobe trap floor (empty programs at bpprof's own attach points, by
# $BUILD/bench/uprobe_floor), and bpftrace's empty probe and a bpftrace
# one-liner that counts malloc, side by side, on a malloc-heavy loop
# ($BUILD/workloads/mallocloop: N x malloc(SIZE), touch, free; it times only
# its own loop, so tool startup and attach are not counted). Rows run
# alternately, ROUNDS times each, in one invocation; medians.
#   make bench     or     BUILD=build tests/bench/heap.sh
# Knobs: ROUNDS (5) SIZE (64) TARGET (0.75: seconds per run under probes; a
# pilot run per row picks its ITERATIONS from that) or ITERATIONS (the same
# count for every row, no pilot) ROWS (space-separated subset of the rows).
# BPPROF (default $BUILD/bpprof). Needs root, bpftrace and $BUILD/bench/uprobe_floor
# (make bench builds it). Writes the table
# to $BUILD/bench/heap.txt, raw ns-per-iteration runs to
# $BUILD/bench/heap/ROW.runs. The verdict is printed, not enforced: the exit
# status is 0 unless a run fails (bpprof rows that fail print n/a instead).
#
# Rows (kernel entries = traps or syscalls into the kernel per iteration; a
# probe on an instruction the kernel single-steps instead of emulating is a
# second trap, the #DB after the step: glibc's free starts with one,
# test %rdi,%rdi):
#   base            no tracing                                            0
#   floor-bpprof    uprobe_floor: empty uprobe malloc + uretprobe malloc  3
#                   + uprobe free at bpprof's own offsets (free+3, past
#                   the test), uprobe_multi links, pid-filtered, as bpprof
#                   attaches them: bpprof's honest floor
#   floor-entry     uprobe_floor --at-entry: the same set at each         4
#                   function's first byte (free+0, single-stepped)
#   floor-malloc    bpftrace, empty uprobe on malloc                      1
#   bpftrace-count  bpftrace, uprobe:LIBC:malloc { @ = count(); }         1
#   bpprof-default  bpprof record --heap (default rate)                   3
#   bpprof-rate0    bpprof record --heap --heap-rate 0                    3
# Not run unless named in ROWS (the default set covers what they showed):
#   floor-perf      uprobe_floor --perf: floor-bpprof with perf-event     3
#                   uprobes instead of uprobe_multi links
#   floor-ret       bpftrace, empty uretprobe on malloc (entry + return)  2
#   floor-free      bpftrace, empty uprobe on free (free+0)               2
#   floor-set       bpftrace, empty uprobe malloc + uretprobe malloc +    4
#                   uprobe free (free+0: not bpprof's attach points)
# bpftrace 0.17 attaches uprobes to every process mapping libc, with -c as
# with -p (no pid filter): other processes pay too, but the loop's cost per
# call is the same. -c starts the command only once the probes are attached.
# uprobe_floor starts the loop stopped, attaches to its pid, then lets it
# exec, as bpprof does; it is given the loop's libc (ldd) with --libc.
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
SIZE=${SIZE:-64}
TARGET=${TARGET:-0.75}
ITERATIONS=${ITERATIONS:-}
ROWS=${ROWS:-base floor-bpprof floor-entry floor-malloc bpftrace-count bpprof-default bpprof-rate0}
PILOT=20000
MIN_ITER=20000
MAX_ITER=20000000
TIMEOUT=300

BPPROF=${BPPROF:-$build/bpprof}
MALLOCLOOP=$build/workloads/mallocloop
PPROFCHECK=$build/pprofcheck
UPROBE_FLOOR=$build/bench/uprobe_floor
[ -x "$MALLOCLOOP" ] || { echo "bench: $MALLOCLOOP not built (make workloads)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench: heap needs root" >&2; exit 2; }
command -v bpftrace >/dev/null || { echo "bench: bpftrace not installed (make deps)" >&2; exit 2; }
case $MALLOCLOOP in *[[:space:]]*)
	echo "bench: bpftrace -c cannot run a path with spaces: $MALLOCLOOP" >&2; exit 2 ;;
esac

# The libc the loop runs on (uprobes are per file: any path to it will do).
libc=$(ldd "$MALLOCLOOP" | awk '$1 ~ /^libc\.so/ && $3 ~ /^\// { print $3; exit }')
[ -n "$libc" ] || { echo "bench: no libc in ldd $MALLOCLOOP" >&2; exit 2; }
libc=$(readlink -f "$libc")

dir=$build/bench/heap
mkdir -p "$dir"
out=$build/bench/heap.txt

# run ROW N: one run; prints the loop's ns per iteration, or nothing (and
# leaves the reason in $dir/ROW.err) if the run failed
run() {
	local row=$1 L=$libc o=$dir/$1.out e=$dir/$1.err
	local argv=("$MALLOCLOOP" "$2" "$SIZE") loop="$MALLOCLOOP $2 $SIZE"
	: >"$o"
	case $row in
	base) timeout $TIMEOUT "${argv[@]}" >"$o" 2>"$e" ;;
	floor-bpprof) timeout $TIMEOUT "$UPROBE_FLOOR" --libc "$L" -- "${argv[@]}" >"$o" 2>"$e" ;;
	floor-entry) timeout $TIMEOUT "$UPROBE_FLOOR" --at-entry --libc "$L" -- "${argv[@]}" >"$o" 2>"$e" ;;
	floor-perf) timeout $TIMEOUT "$UPROBE_FLOOR" --perf --libc "$L" -- "${argv[@]}" >"$o" 2>"$e" ;;
	floor-malloc) timeout $TIMEOUT bpftrace -e "uprobe:$L:malloc {}" -c "$loop" >"$o" 2>"$e" ;;
	floor-ret) timeout $TIMEOUT bpftrace -e "uretprobe:$L:malloc {}" -c "$loop" >"$o" 2>"$e" ;;
	floor-free) timeout $TIMEOUT bpftrace -e "uprobe:$L:free {}" -c "$loop" >"$o" 2>"$e" ;;
	floor-set)
		timeout $TIMEOUT bpftrace -e "uprobe:$L:malloc {} uretprobe:$L:malloc {} uprobe:$L:free {}" \
			-c "$loop" >"$o" 2>"$e" ;;
	bpftrace-count) timeout $TIMEOUT bpftrace -e "uprobe:$L:malloc { @ = count(); }" -c "$loop" >"$o" 2>"$e" ;;
	bpprof-default)
		rm -f "$dir/h.pb.gz"
		timeout $TIMEOUT "$BPPROF" record --heap --quiet -o "$dir/h.pb.gz" -- "${argv[@]}" >"$o" 2>"$e" ;;
	bpprof-rate0)
		rm -f "$dir/h.pb.gz"
		timeout $TIMEOUT "$BPPROF" record --heap --heap-rate 0 --quiet -o "$dir/h.pb.gz" -- "${argv[@]}" >"$o" 2>"$e" ;;
	esac || true
	awk '$1 == "ns_per_iter" { print $2; exit }' "$o"
}

# failed ROW: a run of ROW gave no figure. bpprof's rows become n/a (its heap
# mode may not exist yet); anything else is fatal.
declare -A na iters objs floor_where
failed() {
	case $1 in
	bpprof-*)
		na[$1]=$(grep -v '^$' "$dir/$1.err" | head -1)
		[ -n "${na[$1]}" ] || na[$1]="no ns_per_iter line"
		echo "bench: $1 gave no figure, row is n/a: ${na[$1]}" ;;
	*)
		echo "bench: $1 failed:" >&2
		cat "$dir/$1.out" "$dir/$1.err" >&2
		exit 1 ;;
	esac
}

read -ra rows <<<"$ROWS"
declare -A entries=([base]=0 [floor-bpprof]=3 [floor-entry]=4 [floor-perf]=3
	[floor-malloc]=1 [floor-ret]=2 [floor-free]=2 [floor-set]=4
	[bpftrace-count]=1 [bpprof-default]=3 [bpprof-rate0]=3)
declare -A what=([base]="no tracing"
	[floor-bpprof]="uprobe_floor: malloc+ret, free at bpprof's points {}"
	[floor-entry]="uprobe_floor --at-entry: malloc+ret, free+0 {}"
	[floor-perf]="uprobe_floor --perf: floor-bpprof, perf-event links"
	[floor-malloc]="bpftrace: uprobe malloc {}"
	[floor-ret]="bpftrace: uretprobe malloc {}"
	[floor-free]="bpftrace: uprobe free {} (free+0)"
	[floor-set]="bpftrace: uprobe+uretprobe malloc, uprobe free, all {}"
	[bpftrace-count]="bpftrace: uprobe malloc { @ = count(); }"
	[bpprof-default]="bpprof record --heap"
	[bpprof-rate0]="bpprof record --heap --heap-rate 0")
for row in "${rows[@]}"; do
	[ -n "${entries[$row]:-}" ] || { echo "bench: unknown row $row in ROWS" >&2; exit 2; }
	case $row in floor-bpprof | floor-entry | floor-perf)
		[ -x "$UPROBE_FLOOR" ] ||
			{ echo "bench: $UPROBE_FLOOR not built (make bench, or make $UPROBE_FLOOR)" >&2; exit 2; } ;;
	esac
done
echo "bench: heap: libc $libc, SIZE $SIZE, $ROUNDS rounds of: ${rows[*]}"
# Sanity, once per uprobe_floor row, apart from the timed runs (--count turns
# on BPF run statistics, which cost time): its probes fire in the loop, once
# per call at least (the warm-up and stdio add a few).
for row in "${rows[@]}"; do
	case $row in floor-bpprof) flag= ;; floor-entry) flag=--at-entry ;; floor-perf) flag=--perf ;; *) continue ;; esac
	e=$dir/$row.count
	timeout $TIMEOUT "$UPROBE_FLOOR" --count $flag --libc "$libc" -- "$MALLOCLOOP" $PILOT "$SIZE" >/dev/null 2>"$e" || true
	read -r ne nr < <(awk '$2 == "runs:" { print $4, $6 }' "$e") || true
	if [ "${ne:-0}" -lt $((2 * PILOT)) ] || [ "${nr:-0}" -lt $PILOT ]; then
		echo "bench: $row: probes did not fire once per call ($PILOT iterations):" >&2
		cat "$e" >&2
		exit 1
	fi
	floor_where[$row]=$(sed -n 's/^uprobe_floor: //p' "$e" | head -1)
done
for row in "${rows[@]}"; do
	rm -f "$dir/$row.runs"
	if [ -n "$ITERATIONS" ]; then
		iters[$row]=$ITERATIONS
		continue
	fi
	# Pilot (also a warm-up): ITERATIONS for TARGET seconds under this row.
	ns=$(run "$row" $PILOT)
	[ -n "$ns" ] || { failed "$row"; continue; }
	iters[$row]=$(awk -v t="$TARGET" -v ns="$ns" -v lo=$MIN_ITER -v hi=$MAX_ITER 'BEGIN {
		n = int(t * 1e9 / ns / 1000) * 1000; if (n < lo) n = lo; if (n > hi) n = hi; print n }')
done

nrows=${#rows[@]}
for r in $(seq "$ROUNDS"); do
	line="bench: round $r/$ROUNDS:"
	# Rotate the order each round so no row always runs first or last.
	for k in $(seq 0 $((nrows - 1))); do
		row=${rows[$(((k + r - 1) % nrows))]}
		[ -z "${na[$row]:-}" ] || continue
		ns=$(run "$row" "${iters[$row]}")
		if [ -z "$ns" ]; then
			failed "$row"
			continue
		fi
		echo "$ns" >>"$dir/$row.runs"
		line="$line $row $ns"
		if [ "$row" = bpftrace-count ]; then
			# Sanity: the probe fired at least once per iteration (more:
			# it is on every process, and the loop warms up first).
			hits=$(awk '/^@: / { print $2 }' "$dir/$row.out")
			[ "${hits:-0}" -ge "${iters[$row]}" ] ||
				{ echo "bench: bpftrace-count counted ${hits:-nothing} mallocs for ${iters[$row]} iterations" >&2; exit 1; }
		fi
		case $row in bpprof-*)
			[ ! -x "$PPROFCHECK" ] ||
				objs[$row]=$("$PPROFCHECK" total "$dir/h.pb.gz" alloc_objects 2>/dev/null || true) ;;
		esac
	done
	echo "$line"
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
declare -A med runs
for row in "${rows[@]}"; do
	if [ -z "${na[$row]:-}" ] && [ -s "$dir/$row.runs" ]; then
		med[$row]=$(median <"$dir/$row.runs")
		runs[$row]=$(tr '\n' ' ' <"$dir/$row.runs")
	fi
done
# calc FMT EXPR A [B [C [D]]]: EXPR over a, b, c, d printed with FMT; empty
# if any operand is empty
calc() {
	local fmt=$1 expr=$2
	shift 2
	for v in "$@"; do [ -n "$v" ] || return 0; done
	awk -v a="${1:-}" -v b="${2:-}" -v c="${3:-}" -v d="${4:-}" "BEGIN { printf \"$fmt\", $expr }"
}

# first instruction of libc's SYMBOL, for the notes (uprobes emulate some
# x86 instructions, push and jumps among them; the rest are single-stepped
# out of line, a second trap)
first_insn() {
	local addr
	addr=$(objdump -T "$libc" 2>/dev/null | awk -v s="$1" '$NF == s && $4 == ".text" { print $1; exit }')
	[ -n "$addr" ] || return 0
	objdump -d --start-address=0x"$addr" --stop-address=$((0x$addr + 16)) "$libc" 2>/dev/null |
		awk -F'\t' '/^ *[0-9a-f]+:\t/ { gsub(/ +/, " ", $3); print $3; exit }'
}

base=${med[base]:-}
{
	echo "heap: what uprobes cost on a malloc-heavy loop: malloc($SIZE), touch, free; $(nproc) CPUs, kernel $(uname -r)"
	echo "  libc $libc; median of $ROUNDS alternating runs; ns per iteration = one malloc+free pair"
	printf '  %-15s %-52s %9s %10s %10s %7s %10s %9s\n' row command iters "ns/iter" "added ns" entries "ns/entry" slowdown
	for row in "${rows[@]}"; do
		m=${med[$row]:-}
		if [ -z "$m" ]; then
			printf '  %-15s %-52s %9s %10s %10s %7s %10s %9s\n' "$row" "${what[$row]}" "${iters[$row]:--}" n/a n/a \
				"${entries[$row]}" n/a n/a
			continue
		fi
		added=$(calc %.1f 'b - a' "$base" "$m")
		per=-
		[ "${entries[$row]}" = 0 ] || per=$(calc %.1f 'a / b' "$added" "${entries[$row]}")
		printf '  %-15s %-52s %9s %10.1f %10s %7s %10s %8s×\n' "$row" "${what[$row]}" "${iters[$row]}" "$m" \
			"${added:--}" "${entries[$row]}" "$per" "$(calc %.2f 'b / a' "$base" "$m")"
	done
	echo "  added ns = row − base per malloc+free pair; entries = kernel entries per pair (uprobe traps, a"
	echo "  single-step's second trap, uretprobe returns); slowdown = row time / base time for the same loop."
	fb=${med[floor-bpprof]:-} fe=${med[floor-entry]:-} fp=${med[floor-perf]:-}
	for row in floor-bpprof floor-entry floor-perf; do
		[ -z "${floor_where[$row]:-}" ] || echo "  $row: ${floor_where[$row]}"
	done
	echo "  floor-bpprof is the honest floor for bpprof: the probes bpprof attaches for this loop (it needs"
	echo "  malloc's return value, the address free will be given), at the same offsets, link type and pid"
	echo "  filter, running programs that do nothing."
	skip=$(sed -n 's/.*free entry .* (function +\([0-9]*\)).*/\1/p' <<<"${floor_where[floor-bpprof]:-}")
	[ -z "$fb" ] || [ -z "$fe" ] ||
		echo "  single-step cost (floor-entry − floor-bpprof: free probed at +0, '$(first_insn free)', single-stepped," \
			"vs at bpprof's free+${skip:-?}, emulated): $(calc %.1f 'b - a' "$fb" "$fe") ns per malloc+free pair"
	[ -z "$fb" ] || [ -z "$fp" ] ||
		echo "  perf-event links over uprobe_multi (floor-perf − floor-bpprof): $(calc %.1f 'b - a' "$fb" "$fp") ns per pair"
	fm=${med[floor-malloc]:-} fr=${med[floor-ret]:-} ff=${med[floor-free]:-} fs=${med[floor-set]:-}
	[ -z "$fm" ] || echo "  uprobe entry trap (bpftrace, malloc, first insn '$(first_insn malloc)'): $(calc %.1f 'b - a' "$base" "$fm") ns per call"
	[ -z "$ff" ] || echo "  uprobe entry trap (bpftrace, free, first insn '$(first_insn free)'): $(calc %.1f 'b - a' "$base" "$ff") ns per call"
	[ -z "$fr" ] || [ -z "$fm" ] ||
		echo "  uretprobe return path (uretprobe − uprobe on malloc): $(calc %.1f 'b - a' "$fm" "$fr") ns per call;" \
			"uretprobe syscall: $(grep -q ' __x64_sys_uretprobe$' /proc/kallsyms && echo yes || echo no)"
	[ -z "$fr" ] || [ -z "$ff" ] || [ -z "$fs" ] ||
		echo "  parts add up: (uretprobe − base) + (free − base) = $(calc %.1f 'b + c - 2 * a' "$base" "$fr" "$ff") ns; floor-set measured $(calc %.1f 'b - a' "$base" "$fs") ns"
	bc_=${med[bpftrace-count]:-}
	[ -z "$bc_" ] || [ -z "$fm" ] ||
		echo "  bpftrace count() over its empty probe: $(calc %.1f 'b - a' "$fm" "$bc_") ns per call"
	bd=${med[bpprof-default]:-} b0=${med[bpprof-rate0]:-}
	if [ -n "$bd" ] && [ -n "$fb" ]; then
		ratio=$(calc %.2f '(c - a) / (b - a)' "$base" "$fb" "$bd")
		verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.20 ? "PASS" : "FAIL") }')
		echo "bpprof added cost over the uprobe floor (floor-bpprof, same attach points): ${ratio}× (target ≤ 1.20×)" \
			"$verdict; bpprof's own work: $(calc %.1f 'b - a' "$fb" "$bd") ns per pair"
	else
		echo "bpprof added cost over the uprobe floor (floor-bpprof, same attach points): n/a (target ≤ 1.20×)"
	fi
	if [ -n "$b0" ] && [ -n "$fb" ]; then
		echo "  at --heap-rate 0: $(calc %.2f '(c - a) / (b - a)' "$base" "$fb" "$b0")× the floor's added cost" \
			"(no target); bpprof's own work: $(calc %.1f 'b - a' "$fb" "$b0") ns per pair"
	fi
	for row in bpprof-default bpprof-rate0; do
		[ -z "${na[$row]:-}" ] || echo "  $row n/a: ${na[$row]}"
		[ -z "${objs[$row]:-}" ] || echo "  $row: alloc_objects in its last profile: ${objs[$row]} (loop: ${iters[$row]} + warm-up)"
	done
	printf '  runs (ns/iter):'
	for row in "${rows[@]}"; do [ -z "${runs[$row]:-}" ] || printf ' %s %s|' "$row" "${runs[$row]% }"; done
	echo
} | tee "$out"
