#!/usr/bin/env bash
# Benchmark what heap profiling costs a program, side by side in one run:
# `bpprof record --heap` in preload mode (sampling inside the process,
# markers trapped only for sampled allocations and their frees) and in
# uprobe mode (every allocator call traps), against the program alone,
# bpftrace's empty malloc uprobe, bpftrace counting malloc, and, for the
# first loop, the uprobe trap floor (empty programs at uprobe mode's own
# attach points, by $BUILD/bench/uprobe_floor). Loops (each times only its
# own loop, so tool startup and attach are not counted):
#   malloc   $BUILD/workloads/mallocloop N SIZE: malloc(SIZE), touch, free
#   range    mallocloop N SIZE range: sizes SIZE..5*SIZE in turn (64-320 B)
#   map      $BUILD/workloads/mapchurn N MAP_KEYS: a C++ std::map of
#            MAP_KEYS entries, one erase + one insert + one find a turn
#   map-l2   mapchurn N MAP_L2_KEYS: a map that fits in L2 (malloc weighs
#            more in each turn; no target, reported)
# Each loop's rows run alternately (the order rotating), ROUNDS times each;
# medians.
#   make bench     or     BUILD=build tests/bench/heap.sh
# Knobs: ROUNDS (5) SIZE (64) TARGET (0.75: seconds per run; a pilot run per
# row picks its ITERATIONS from that) or ITERATIONS (the same count for
# every row, no pilot) LOOPS (space-separated subset: malloc range map
# map-l2) ROWS (the malloc loop's rows) MAP_KEYS (100000) MAP_L2_KEYS
# (10000) PAIRED_ROUNDS (5: runs of the in-process pairs below; 0: none)
# PAIRED_ITER (20000000). BPPROF (default $BUILD/bpprof). Needs root, bpftrace and
# $BUILD/bench/uprobe_floor (make bench builds it). Writes the tables to
# $BUILD/bench/heap.txt, raw ns-per-iteration runs to
# $BUILD/bench/heap/LOOP.ROW.runs. The verdicts are printed, not enforced:
# the exit status is 0 unless a run fails (bpprof rows that fail print n/a
# instead).
#
# Rows (kernel entries = traps or syscalls into the kernel per iteration; a
# probe on an instruction the kernel single-steps instead of emulating is a
# second trap, the #DB after the step: glibc's free starts with one,
# test %rdi,%rdi):
#   base            no tracing                                            0
#   bpprof-preload  bpprof record --heap (preload mode, default rate):    ~0
#                   the markers trap once per sampled allocation and
#                   once per free of a sampled block (about 2 per rate
#                   bytes); their hits are reported against bytes/rate
#   floor-preload   LD_PRELOAD=$BUILD/bench/libinterpose.so: wrappers     0
#                   that only pass each call on to glibc's, aligned and
#                   jumping as preload mode's fast paths do: the least
#                   any LD_PRELOAD sampler costs (preload mode's floor)
#   floor-bpprof    uprobe_floor: empty uprobe malloc + uretprobe malloc  3
#                   + uprobe free at uprobe mode's own offsets (free+3,
#                   past the test), uprobe_multi links, pid-filtered, as
#                   bpprof attaches them: uprobe mode's honest floor
#   floor-entry     uprobe_floor --at-entry: the same set at each         4
#                   function's first byte (free+0, single-stepped)
#   floor-malloc    bpftrace, empty uprobe on malloc                      1
#   bpftrace-count  bpftrace, uprobe:LIBC:malloc { @ = count(); }         1
#   bpprof-uprobe   bpprof record --heap --heap-mode uprobe               3
#   bpprof-rate0    bpprof record --heap --heap-mode uprobe --heap-rate 0 3
# Not run unless named in ROWS (the default set covers what they showed):
#   floor-perf      uprobe_floor --perf: floor-bpprof with perf-event     3
#                   uprobes instead of uprobe_multi links
#   floor-ret       bpftrace, empty uretprobe on malloc (entry + return)  2
#   floor-free      bpftrace, empty uprobe on free (free+0)               2
#   floor-set       bpftrace, empty uprobe malloc + uretprobe malloc +    4
#                   uprobe free (free+0: not bpprof's attach points)
# The other loops run base, bpprof-preload, floor-preload, bpprof-uprobe and
# floor-malloc.
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
ROWS=${ROWS:-base bpprof-preload floor-preload floor-bpprof floor-entry floor-malloc bpftrace-count bpprof-uprobe bpprof-rate0}
LOOPS=${LOOPS:-malloc range map map-l2}
MAP_KEYS=${MAP_KEYS:-100000}
MAP_L2_KEYS=${MAP_L2_KEYS:-10000}
OTHER_ROWS="base bpprof-preload floor-preload bpprof-uprobe floor-malloc"
RATE=524288 # bpprof's default --heap-rate: what preload mode's marker hits are held against
PILOT=20000
MIN_ITER=20000
MAX_ITER=40000000
TIMEOUT=300

BPPROF=${BPPROF:-$build/bpprof}
MALLOCLOOP=$build/workloads/mallocloop
MAPCHURN=$build/workloads/mapchurn
PPROFCHECK=$build/pprofcheck
UPROBE_FLOOR=$build/bench/uprobe_floor
INTERPOSE=$build/bench/libinterpose.so
for w in "$MALLOCLOOP" "$MAPCHURN"; do
	[ -x "$w" ] || { echo "bench: $w not built (make workloads)" >&2; exit 2; }
	case $w in *[[:space:]]*)
		echo "bench: bpftrace -c cannot run a path with spaces: $w" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "bench: heap needs root" >&2; exit 2; }
command -v bpftrace >/dev/null || { echo "bench: bpftrace not installed (make deps)" >&2; exit 2; }

# The libc the loops run on (uprobes are per file: any path to it will do).
libc=$(ldd "$MALLOCLOOP" | awk '$1 ~ /^libc\.so/ && $3 ~ /^\// { print $3; exit }')
[ -n "$libc" ] || { echo "bench: no libc in ldd $MALLOCLOOP" >&2; exit 2; }
libc=$(readlink -f "$libc")

dir=$build/bench/heap
mkdir -p "$dir"
out=$build/bench/heap.txt

# loop_argv LOOP N: the loop's command line, into the array argv
loop_argv() {
	case $1 in
	malloc) argv=("$MALLOCLOOP" "$2" "$SIZE") ;;
	range) argv=("$MALLOCLOOP" "$2" "$SIZE" range) ;;
	map) argv=("$MAPCHURN" "$2" "$MAP_KEYS") ;;
	map-l2) argv=("$MAPCHURN" "$2" "$MAP_L2_KEYS") ;;
	paired-malloc) argv=("$MALLOCLOOP" "$2" "$SIZE" malloc paired) ;;
	paired-range) argv=("$MALLOCLOOP" "$2" "$SIZE" range paired) ;;
	*) echo "bench: unknown loop $1 in LOOPS (malloc range map map-l2)" >&2; exit 2 ;;
	esac
}

# run LOOP ROW N: one run; prints the loop's ns per iteration (a paired-
# loop's median ratio), or nothing (and leaves the reason in
# $dir/LOOP.ROW.err) if the run failed
run() {
	local row=$2 L=$libc o=$dir/$1.$2.out e=$dir/$1.$2.err cmd argv
	loop_argv "$1" "$3"
	cmd="${argv[*]}"
	: >"$o"
	case $row in
	base) timeout $TIMEOUT "${argv[@]}" >"$o" 2>"$e" ;;
	floor-preload) LD_PRELOAD=$INTERPOSE timeout $TIMEOUT "${argv[@]}" >"$o" 2>"$e" ;;
	floor-bpprof) timeout $TIMEOUT "$UPROBE_FLOOR" --libc "$L" -- "${argv[@]}" >"$o" 2>"$e" ;;
	floor-entry) timeout $TIMEOUT "$UPROBE_FLOOR" --at-entry --libc "$L" -- "${argv[@]}" >"$o" 2>"$e" ;;
	floor-perf) timeout $TIMEOUT "$UPROBE_FLOOR" --perf --libc "$L" -- "${argv[@]}" >"$o" 2>"$e" ;;
	floor-malloc) timeout $TIMEOUT bpftrace -e "uprobe:$L:malloc {}" -c "$cmd" >"$o" 2>"$e" ;;
	floor-ret) timeout $TIMEOUT bpftrace -e "uretprobe:$L:malloc {}" -c "$cmd" >"$o" 2>"$e" ;;
	floor-free) timeout $TIMEOUT bpftrace -e "uprobe:$L:free {}" -c "$cmd" >"$o" 2>"$e" ;;
	floor-set)
		timeout $TIMEOUT bpftrace -e "uprobe:$L:malloc {} uretprobe:$L:malloc {} uprobe:$L:free {}" \
			-c "$cmd" >"$o" 2>"$e" ;;
	bpftrace-count) timeout $TIMEOUT bpftrace -e "uprobe:$L:malloc { @ = count(); }" -c "$cmd" >"$o" 2>"$e" ;;
	bpprof-preload) # not --quiet: its summary line counts the marker hits
		rm -f "$dir/h.pb.gz"
		timeout $TIMEOUT "$BPPROF" record --heap --heap-mode preload -o "$dir/h.pb.gz" -- "${argv[@]}" >"$o" 2>"$e" ;;
	bpprof-uprobe)
		rm -f "$dir/h.pb.gz"
		timeout $TIMEOUT "$BPPROF" record --heap --heap-mode uprobe --quiet -o "$dir/h.pb.gz" -- "${argv[@]}" >"$o" 2>"$e" ;;
	bpprof-rate0)
		rm -f "$dir/h.pb.gz"
		timeout $TIMEOUT "$BPPROF" record --heap --heap-mode uprobe --heap-rate 0 --quiet -o "$dir/h.pb.gz" \
			-- "${argv[@]}" >"$o" 2>"$e" ;;
	esac || true
	awk '$1 == "ns_per_iter" || $1 == "paired_ratio" { print $2; exit }' "$o"
}

# failed LOOP ROW: a run gave no figure. bpprof's rows become n/a (a heap
# mode may not exist yet); anything else is fatal.
declare -A na iters objs floor_where marks
failed() {
	local k=$1/$2
	case $2 in
	bpprof-*)
		na[$k]=$(grep -v '^$' "$dir/$1.$2.err" | head -1)
		[ -n "${na[$k]}" ] || na[$k]="no ns_per_iter line"
		echo "bench: $1 $2 gave no figure, row is n/a: ${na[$k]}" ;;
	*)
		echo "bench: $1 $2 failed:" >&2
		cat "$dir/$1.$2.out" "$dir/$1.$2.err" >&2
		exit 1 ;;
	esac
}

declare -A entries=([base]=0 [bpprof-preload]=0 [floor-preload]=0 [floor-bpprof]=3 [floor-entry]=4 [floor-perf]=3
	[floor-malloc]=1 [floor-ret]=2 [floor-free]=2 [floor-set]=4
	[bpftrace-count]=1 [bpprof-uprobe]=3 [bpprof-rate0]=3)
declare -A what=([base]="no tracing"
	[bpprof-preload]="bpprof record --heap (preload mode)"
	[floor-preload]="LD_PRELOAD wrappers that only pass calls on"
	[floor-bpprof]="uprobe_floor: malloc+ret, free at bpprof's points {}"
	[floor-entry]="uprobe_floor --at-entry: malloc+ret, free+0 {}"
	[floor-perf]="uprobe_floor --perf: floor-bpprof, perf-event links"
	[floor-malloc]="bpftrace: uprobe malloc {}"
	[floor-ret]="bpftrace: uretprobe malloc {}"
	[floor-free]="bpftrace: uprobe free {} (free+0)"
	[floor-set]="bpftrace: uprobe+uretprobe malloc, uprobe free, all {}"
	[bpftrace-count]="bpftrace: uprobe malloc { @ = count(); }"
	[bpprof-uprobe]="bpprof record --heap --heap-mode uprobe"
	[bpprof-rate0]="bpprof record --heap --heap-mode uprobe --heap-rate 0")
declare -A desc=([malloc]="malloc($SIZE), touch, free; ns per iteration = one malloc+free pair"
	[range]="malloc($SIZE..$((5 * SIZE)) in turn), touch, free; one malloc+free pair an iteration"
	[map]="std::map of $MAP_KEYS keys: erase, insert, find; one node freed and one allocated an iteration"
	[map-l2]="std::map of $MAP_L2_KEYS keys (fits in L2): erase, insert, find an iteration")
# preload mode's target slowdown per loop (none: reported only)
declare -A target=([malloc]=1.10 [range]=1.10 [map]=1.02)
read -ra loops <<<"$LOOPS"
for loop in "${loops[@]}"; do loop_argv "$loop" 1; done
read -ra malloc_rows <<<"$ROWS"
for row in "${malloc_rows[@]}"; do
	[ -n "${entries[$row]:-}" ] || { echo "bench: unknown row $row in ROWS" >&2; exit 2; }
	case $row in floor-bpprof | floor-entry | floor-perf)
		[ -x "$UPROBE_FLOOR" ] ||
			{ echo "bench: $UPROBE_FLOOR not built (make bench, or make $UPROBE_FLOOR)" >&2; exit 2; } ;;
	floor-preload)
		[ -f "$INTERPOSE" ] ||
			{ echo "bench: $INTERPOSE not built (make bench, or make $INTERPOSE)" >&2; exit 2; } ;;
	esac
done
rows_of() { if [ "$1" = malloc ]; then echo "$ROWS"; else echo "$OTHER_ROWS"; fi; }
echo "bench: heap: libc $libc, SIZE $SIZE, $ROUNDS rounds, loops: ${loops[*]}"

# Sanity, once per uprobe_floor row, apart from the timed runs (--count turns
# on BPF run statistics, which cost time): its probes fire in the loop, once
# per call at least (the warm-up and stdio add a few).
for row in "${malloc_rows[@]}"; do
	case " ${loops[*]} " in *" malloc "*) ;; *) break ;; esac
	case $row in floor-bpprof) flag= ;; floor-entry) flag=--at-entry ;; floor-perf) flag=--perf ;; *) continue ;; esac
	e=$dir/malloc.$row.count
	timeout $TIMEOUT "$UPROBE_FLOOR" --count $flag --libc "$libc" -- "$MALLOCLOOP" $PILOT "$SIZE" >/dev/null 2>"$e" || true
	read -r ne nr < <(awk '$2 == "runs:" { print $4, $6 }' "$e") || true
	if [ "${ne:-0}" -lt $((2 * PILOT)) ] || [ "${nr:-0}" -lt $PILOT ]; then
		echo "bench: $row: probes did not fire once per call ($PILOT iterations):" >&2
		cat "$e" >&2
		exit 1
	fi
	floor_where[$row]=$(sed -n 's/^uprobe_floor: //p' "$e" | head -1)
done

# marker_hits LOOP: preload mode's last run, from its summary line and the
# loop's own count of the bytes it asked for (warm-up included): the alloc
# marker fires once per sampled allocation (about bytes/rate of them), the
# free marker once per free of one
marker_hits() {
	local sf b
	sf=$(sed -n 's/^heap, preload mode: \([0-9]*\) sampled (\([0-9]*\) freed).*/\1 \2/p' "$dir/$1.bpprof-preload.err")
	b=$(awk '{ for (i = 1; i < NF; i++) if ($i == "bytes") print $(i + 1) }' "$dir/$1.bpprof-preload.out")
	[ -n "$sf" ] && [ -n "$b" ] || return 0
	awk -v R=$RATE -v b="$b" -v s="${sf% *}" -v f="${sf#* }" 'BEGIN { e = b / R
		printf "%d sampled allocations + %d frees of them; bytes/rate %.0f (sampled/expected %.3f, 1 sigma %.3f)", s, f, e, s / e, 1 / sqrt(e) }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
declare -A med runs
for loop in "${loops[@]}"; do
	read -ra rows <<<"$(rows_of "$loop")"
	for row in "${rows[@]}"; do
		k=$loop/$row
		rm -f "$dir/$loop.$row.runs"
		if [ -n "$ITERATIONS" ]; then
			iters[$k]=$ITERATIONS
			continue
		fi
		# Pilot (also a warm-up): ITERATIONS for TARGET seconds under this row.
		ns=$(run "$loop" "$row" $PILOT)
		[ -n "$ns" ] || { failed "$loop" "$row"; continue; }
		iters[$k]=$(awk -v t="$TARGET" -v ns="$ns" -v lo=$MIN_ITER -v hi=$MAX_ITER 'BEGIN {
			n = int(t * 1e9 / ns / 1000) * 1000; if (n < lo) n = lo; if (n > hi) n = hi; print n }')
	done
	# Every row of a loop that has no floor of its own runs the base row's
	# count, so their runs compare like for like (the uprobe rows are too
	# slow for that: they keep their own).
	case $loop in malloc) ;; *)
		[ -z "${iters[$loop/base]:-}" ] || iters[$loop/bpprof-preload]=${iters[$loop/base]}
		[ -z "${iters[$loop/base]:-}" ] || iters[$loop/floor-preload]=${iters[$loop/base]} ;;
	esac

	nrows=${#rows[@]}
	for r in $(seq "$ROUNDS"); do
		line="bench: $loop round $r/$ROUNDS:"
		# Rotate the order each round so no row always runs first or last.
		for j in $(seq 0 $((nrows - 1))); do
			row=${rows[$(((j + r - 1) % nrows))]}
			k=$loop/$row
			[ -z "${na[$k]:-}" ] || continue
			ns=$(run "$loop" "$row" "${iters[$k]}")
			if [ -z "$ns" ]; then
				failed "$loop" "$row"
				continue
			fi
			echo "$ns" >>"$dir/$loop.$row.runs"
			line="$line $row $ns"
			if [ "$row" = bpftrace-count ]; then
				# Sanity: the probe fired at least once per iteration (more:
				# it is on every process, and the loop warms up first).
				hits=$(awk '/^@: / { print $2 }' "$dir/$loop.$row.out")
				[ "${hits:-0}" -ge "${iters[$k]}" ] ||
					{ echo "bench: bpftrace-count counted ${hits:-nothing} mallocs for ${iters[$k]} iterations" >&2; exit 1; }
			fi
			case $row in bpprof-*)
				[ ! -x "$PPROFCHECK" ] ||
					objs[$k]=$("$PPROFCHECK" total "$dir/h.pb.gz" alloc_objects 2>/dev/null || true) ;;
			esac
			[ "$row" != bpprof-preload ] || marks[$loop]=$(marker_hits "$loop")
		done
		echo "$line"
	done
	for row in "${rows[@]}"; do
		k=$loop/$row
		if [ -z "${na[$k]:-}" ] && [ -s "$dir/$loop.$row.runs" ]; then
			med[$k]=$(median <"$dir/$loop.$row.runs")
			runs[$k]=$(tr '\n' ' ' <"$dir/$loop.$row.runs")
		fi
	done
done

# In-process pairs (mallocloop N SIZE malloc|range paired): the loop in
# chunks of 100,000 iterations, alternately through the allocator's usual
# names (so through any LD_PRELOAD wrapper) and through glibc's own entry
# points (__libc_malloc, __libc_free: no wrapper sees them), in the same
# process: a host whose speed drifts between runs (here the bare loop alone
# ranges 10-17 ns from minute to minute) moves both kinds of chunk alike.
# Each run prints the median of its chunk pairs' ratios. Rows: base (no
# wrapper: what the two loops' code alone differs by), floor-preload,
# bpprof-preload; PAIRED_ROUNDS runs each, alternating; medians.
PAIRED_ROUNDS=${PAIRED_ROUNDS:-5}
PAIRED_ITER=${PAIRED_ITER:-20000000}
declare -A pmed pruns
for loop in malloc range; do
	case " ${loops[*]} " in *" $loop "*) ;; *) continue ;; esac
	[ "$PAIRED_ROUNDS" -gt 0 ] || break
	for row in base floor-preload bpprof-preload; do rm -f "$dir/paired.$loop.$row.runs"; done
	for r in $(seq "$PAIRED_ROUNDS"); do
		line="bench: paired $loop round $r/$PAIRED_ROUNDS:"
		for row in base floor-preload bpprof-preload; do
			ratio=$(run "paired-$loop" "$row" "$PAIRED_ITER")
			[ -n "$ratio" ] || { echo "bench: paired $loop $row failed: $(tail -1 "$dir/paired-$loop.$row.err")" >&2; continue; }
			echo "$ratio" >>"$dir/paired.$loop.$row.runs"
			line="$line $row $ratio"
		done
		echo "$line"
	done
	for row in base floor-preload bpprof-preload; do
		[ -s "$dir/paired.$loop.$row.runs" ] || continue
		pmed[$loop/$row]=$(median <"$dir/paired.$loop.$row.runs")
		pruns[$loop/$row]=$(tr '\n' ' ' <"$dir/paired.$loop.$row.runs")
	done
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

# table LOOP: its rows, medians, added ns, slowdown
table() {
	local loop=$1 row m added per base=${med[$1/base]:-} rows
	read -ra rows <<<"$(rows_of "$loop")"
	echo "heap, loop $loop: ${desc[$loop]}"
	printf '  %-15s %-52s %9s %10s %10s %7s %10s %9s\n' row command iters "ns/iter" "added ns" entries "ns/entry" slowdown
	for row in "${rows[@]}"; do
		m=${med[$loop/$row]:-}
		if [ -z "$m" ]; then
			printf '  %-15s %-52s %9s %10s %10s %7s %10s %9s\n' "$row" "${what[$row]}" "${iters[$loop/$row]:--}" n/a n/a \
				"${entries[$row]}" n/a n/a
			continue
		fi
		added=$(calc %.1f 'b - a' "$base" "$m")
		per=-
		[ "${entries[$row]}" = 0 ] || [ "$loop" != malloc ] || per=$(calc %.1f 'a / b' "$added" "${entries[$row]}")
		printf '  %-15s %-52s %9s %10.1f %10s %7s %10s %8s×\n' "$row" "${what[$row]}" "${iters[$loop/$row]}" "$m" \
			"${added:--}" "${entries[$row]}" "$per" "$(calc %.3f 'b / a' "$base" "$m")"
	done
}

# verdict LOOP: preload mode's slowdown against its target
verdict() {
	local loop=$1 base=${med[$1/base]:-} pre=${med[$1/bpprof-preload]:-} ratio v
	if [ -z "$base" ] || [ -z "$pre" ]; then
		echo "preload mode slowdown, $loop loop: n/a${target[$loop]:+ (target ≤ ${target[$loop]}×)}"
		return
	fi
	ratio=$(calc %.3f 'b / a' "$base" "$pre")
	if [ -n "${target[$loop]:-}" ]; then
		v=$(awk -v r="$ratio" -v t="${target[$loop]}" 'BEGIN { print (r <= t ? "PASS" : "FAIL") }')
		echo "preload mode slowdown, $loop loop: ${ratio}× bare (target ≤ ${target[$loop]}×) $v;" \
			"$(calc %.2f 'b - a' "$base" "$pre") ns an iteration"
	else
		echo "preload mode slowdown, $loop loop: ${ratio}× bare (no target); $(calc %.2f 'b - a' "$base" "$pre") ns an iteration"
	fi
	local fl=${med[$loop/floor-preload]:-}
	[ -z "$fl" ] ||
		echo "  interposition floor (floor-preload): $(calc %.3f 'b / a' "$base" "$fl")× bare," \
			"$(calc %.2f 'b - a' "$base" "$fl") ns an iteration; preload mode adds $(calc %.2f 'b - a' "$fl" "$pre") ns over it" \
			"($(calc %.3f 'b / a' "$fl" "$pre")×)"
	[ -z "${marks[$loop]:-}" ] || echo "  marker hits (last run): ${marks[$loop]}"
	[ -z "${med[$loop/bpprof-uprobe]:-}" ] ||
		echo "  uprobe mode on the same loop: $(calc %.1f 'b / a' "$base" "${med[$loop/bpprof-uprobe]}")× bare," \
			"$(calc %.1f 'b / a' "$pre" "${med[$loop/bpprof-uprobe]}")× preload mode"
}

# The malloc loop's notes on uprobes: what the trap costs and why
uprobe_notes() {
	local base=${med[malloc/base]:-}
	local fb=${med[malloc/floor-bpprof]:-} fe=${med[malloc/floor-entry]:-} fp=${med[malloc/floor-perf]:-}
	local fm=${med[malloc/floor-malloc]:-} fr=${med[malloc/floor-ret]:-} ff=${med[malloc/floor-free]:-}
	local fs=${med[malloc/floor-set]:-} bc_=${med[malloc/bpftrace-count]:-}
	local bd=${med[malloc/bpprof-uprobe]:-} b0=${med[malloc/bpprof-rate0]:-} row skip ratio verdict
	echo "  added ns = row − base per iteration; entries = kernel entries per malloc+free pair (uprobe traps, a"
	echo "  single-step's second trap, uretprobe returns); slowdown = row time / base time for the same loop."
	for row in floor-bpprof floor-entry floor-perf; do
		[ -z "${floor_where[$row]:-}" ] || echo "  $row: ${floor_where[$row]}"
	done
	echo "  floor-bpprof is the honest floor for uprobe mode: the probes bpprof attaches for this loop (it"
	echo "  needs malloc's return value, the address free will be given), at the same offsets, link type and"
	echo "  pid filter, running programs that do nothing."
	skip=$(sed -n 's/.*free entry .* (function +\([0-9]*\)).*/\1/p' <<<"${floor_where[floor-bpprof]:-}")
	[ -z "$fb" ] || [ -z "$fe" ] ||
		echo "  single-step cost (floor-entry − floor-bpprof: free probed at +0, '$(first_insn free)', single-stepped," \
			"vs at bpprof's free+${skip:-?}, emulated): $(calc %.1f 'b - a' "$fb" "$fe") ns per malloc+free pair"
	[ -z "$fb" ] || [ -z "$fp" ] ||
		echo "  perf-event links over uprobe_multi (floor-perf − floor-bpprof): $(calc %.1f 'b - a' "$fb" "$fp") ns per pair"
	[ -z "$fm" ] || echo "  uprobe entry trap (bpftrace, malloc, first insn '$(first_insn malloc)'): $(calc %.1f 'b - a' "$base" "$fm") ns per call"
	[ -z "$ff" ] || echo "  uprobe entry trap (bpftrace, free, first insn '$(first_insn free)'): $(calc %.1f 'b - a' "$base" "$ff") ns per call"
	[ -z "$fr" ] || [ -z "$fm" ] ||
		echo "  uretprobe return path (uretprobe − uprobe on malloc): $(calc %.1f 'b - a' "$fm" "$fr") ns per call;" \
			"uretprobe syscall: $(grep -q ' __x64_sys_uretprobe$' /proc/kallsyms && echo yes || echo no)"
	[ -z "$fr" ] || [ -z "$ff" ] || [ -z "$fs" ] ||
		echo "  parts add up: (uretprobe − base) + (free − base) = $(calc %.1f 'b + c - 2 * a' "$base" "$fr" "$ff") ns; floor-set measured $(calc %.1f 'b - a' "$base" "$fs") ns"
	[ -z "$bc_" ] || [ -z "$fm" ] ||
		echo "  bpftrace count() over its empty probe: $(calc %.1f 'b - a' "$fm" "$bc_") ns per call"
	if [ -n "$bd" ] && [ -n "$fb" ]; then
		ratio=$(calc %.2f '(c - a) / (b - a)' "$base" "$fb" "$bd")
		verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.20 ? "PASS" : "FAIL") }')
		echo "uprobe mode's added cost over the uprobe floor (floor-bpprof, same attach points): ${ratio}× (target ≤ 1.20×)" \
			"$verdict; bpprof's own work: $(calc %.1f 'b - a' "$fb" "$bd") ns per pair"
	elif [ -n "$fb" ]; then
		echo "uprobe mode's added cost over the uprobe floor (floor-bpprof, same attach points): n/a (target ≤ 1.20×)"
	fi
	if [ -n "$b0" ] && [ -n "$fb" ]; then
		echo "  at --heap-rate 0: $(calc %.2f '(c - a) / (b - a)' "$base" "$fb" "$b0")× the floor's added cost" \
			"(no target); bpprof's own work: $(calc %.1f 'b - a' "$fb" "$b0") ns per pair"
	fi
}

{
	echo "heap: what heap profiling costs; $(nproc) CPUs, kernel $(uname -r), libc $libc;"
	echo "  median of $ROUNDS alternating runs per row"
	for loop in "${loops[@]}"; do
		table "$loop"
		[ "$loop" != malloc ] || uprobe_notes
		verdict "$loop"
		read -ra rows <<<"$(rows_of "$loop")"
		for row in "${rows[@]}"; do
			[ -z "${na[$loop/$row]:-}" ] || echo "  $row n/a: ${na[$loop/$row]}"
			case $row in bpprof-uprobe | bpprof-rate0)
				[ -z "${objs[$loop/$row]:-}" ] ||
					echo "  $row: alloc_objects in its last profile: ${objs[$loop/$row]} (loop: ${iters[$loop/$row]} + warm-up)" ;;
			esac
		done
		printf '  runs (ns/iter):'
		for row in "${rows[@]}"; do [ -z "${runs[$loop/$row]:-}" ] || printf ' %s %s|' "$row" "${runs[$loop/$row]% }"; done
		echo
	done
	for loop in malloc range; do
		b=${pmed[$loop/base]:-} f=${pmed[$loop/floor-preload]:-} p=${pmed[$loop/bpprof-preload]:-}
		[ -n "$p" ] || continue
		echo "$loop, in-process pairs (wrapped chunks over glibc's own entry points, median of $PAIRED_ROUNDS runs):" \
			"no wrapper ${b:-n/a}, floor-preload ${f:-n/a}, preload mode $p," \
			"preload mode over no wrapper $(calc %.3f 'b / a' "$b" "$p")× (target ≤ 1.10×)"
		printf '  runs:'
		for row in base floor-preload bpprof-preload; do
			[ -z "${pruns[$loop/$row]:-}" ] || printf ' %s %s|' "$row" "${pruns[$loop/$row]% }"
		done
		echo
	done
} | tee "$out"
