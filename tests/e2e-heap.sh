#!/usr/bin/env bash
# End-to-end tests of `bpprof record --heap`: profile tests/workloads/alloc
# (one function per allocator call site, built dynamic, static and with
# jemalloc), which writes the exact profile it expects, and judge every
# profile with google/pprof's own parser (pprofcheck), never with bpprof's
# decoder. Needs root (uprobes); without it prints "skip: needs root" and
# passes.
#   BUILD=build tests/e2e-heap.sh         (make e2e-heap)
#   WORKLOADS=DIR  the built workloads (default $BUILD/workloads)
#   BPPROF=, PPROFCHECK=, KEEP=1, ONLY=REGEX as in tests/lib.sh
# Exactness: with --heap-rate 0 every site's four values equal alloc's own
# table (realloc = a free of the old block + an allocation of the new size
# at realloc's caller; held memory still in use at exit). Tolerance: at the
# default rate (512 KiB) alloc -n 300 gives every site an estimate with a
# relative error (1 sigma) of at most 4.2%, so +-20% is a >= 4.7-sigma
# bound: a sampled run fails by chance about once in 100,000. The table was
# checked once against an LD_PRELOAD shim logging every allocator call with
# its caller (dynamic and jemalloc builds) and gdb breakpoints on the
# allocator entry points (static build).
# glibc 2.36 has traps for a profiler that counts every probe hit: realloc
# (NULL, n) tail-calls malloc and reallocarray tail-calls realloc (each
# nested probe sees the same caller; one allocation, not two), and
# aligned_alloc is memalign (one address, two names).
set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "e2e-heap: skip: needs root (bpprof record --heap loads BPF programs and attaches uprobes)"
	exit 0
fi
SUITE=e2e-heap
EXCLUSIVE=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
WL=$(cd -P "${WORKLOADS:-$build/workloads}" 2>/dev/null && pwd) ||
	{ echo "$SUITE: no workloads in ${WORKLOADS:-$build/workloads} (make workloads)" >&2; exit 2; }
need_tools "$BPPROF" "$PPROFCHECK" "$WL/alloc" "$WL/alloc-static" "$WL/alloc-jemalloc" "$WL/dlalloc"

if ! "$BPPROF" help record 2>&1 | grep -q -- '--heap'; then
	failed=1
	echo "FAIL  bpprof record has --heap: $("$BPPROF" help record 2>&1 | head -1)"
	finish
fi

# exe_is PID PATH: wait until PID runs PATH (the capture must not start
# before, or it attaches to the shell's libc)
exe_is() {
	for _ in $(seq 100); do
		[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.02
	done
	echo "pid $1 never ran $2 (exe: $(readlink "/proc/$1/exe" 2>&1))"
	return 1
}

LIMIT=60 # seconds any one record may take before it counts as hung
# bpprof's own comm: its child has it between fork and exec
SELF=$(basename "$BPPROF" | cut -c1-15)
TYPES="alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes"
RATE=524288 # the default --heap-rate
BIG=300     # alloc -n for sampled runs (see the top comment)

# rec OUT ARGS...: bpprof record -o $T/OUT ARGS, which must exit 0 and write
# OUT; stdout and stderr are kept in $T/OUT.out and $T/OUT.err. A pprof OUT
# must pass google/pprof's parser with ids 1..N.
rec() {
	local out=$T/$1 rc=0
	shift
	rm -f "$out"
	timeout -k 5 "$LIMIT" "$BPPROF" record -o "$out" "$@" </dev/null >"$out.out" 2>"$out.err" || rc=$?
	if [ "$rc" -eq 124 ]; then
		echo "bpprof record $* still running after $LIMIT s"
		return 1
	fi
	[ "$rc" -eq 0 ] || { echo "bpprof record $* exited $rc: $(tail -5 "$out.err")"; return 1; }
	[ -s "$out" ] || { echo "bpprof record $* wrote no $out; stderr: $(tail -3 "$out.err")"; return 1; }
	case $out in
	*.pb.gz | *.pb) strict "$out" ;;
	esac
}

# have FILE...: profiles (or tables) an earlier check wrote (later checks read them)
have() {
	local f
	for f in "$@"; do
		[ -s "$f" ] || { echo "no $f (the check that writes it failed)"; return 1; }
	done
}

meta() { "$PPROFCHECK" summary "$1" | sed -n "s/^$2: //p"; } # meta FILE period|sample_types|...

# values FILE KEY [FILTER...]: the values label KEY takes, sorted, space-separated
values() {
	local f=$1 k=$2
	shift 2
	"$PPROFCHECK" bylabel -type alloc_objects "$@" "$f" "$k" | awk '{ print $1 }' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}

# only_value WHAT FILE KEY WANT [FILTER...]: label KEY has the one value WANT
only_value() {
	local what=$1 f=$2 k=$3 want=$4 got
	shift 4
	got=$(values "$f" "$k" "$@")
	[ "$got" = "$want" ] || { echo "$what: $k values [$got], want [$want]"; return 1; }
}

# heap_meta FILE PERIOD: the four heap sample types, space/bytes periods of
# PERIOD, inuse_space shown by default
heap_meta() {
	local f=$1 got
	got=$(meta "$f" sample_types)
	[ "$got" = "$TYPES" ] || { echo "sample types [$got], want [$TYPES]"; return 1; }
	got=$(meta "$f" period_type)
	[ "$got" = space/bytes ] || { echo "period type $got, want space/bytes"; return 1; }
	got=$(meta "$f" period)
	[ "$got" = "$2" ] || { echo "period $got, want $2"; return 1; }
	got=$(meta "$f" default_sample_type)
	[ "$got" = inuse_space ] || { echo "default sample type [$got], want inuse_space"; return 1; }
}

# site_values FILE: "SITE alloc_objects alloc_space inuse_objects inuse_space",
# each the flat value of function SITE (the allocation's leaf frame), for
# every site_* function in FILE
site_values() {
	local f=$1 ty
	for ty in $TYPES; do
		"$PPROFCHECK" top -type "$ty" "$f" >"$f.top.${ty%/*}" || { cat "$f.top.${ty%/*}"; return 1; }
	done
	awk 'FNR == 1 { col++ } NF == 3 && $3 ~ /^site_/ { v[$3, col] = $1; s[$3] = 1 }
		END { for (x in s) print x, v[x, 1] + 0, v[x, 2] + 0, v[x, 3] + 0, v[x, 4] + 0 }' \
		"$f.top.alloc_objects" "$f.top.alloc_space" "$f.top.inuse_objects" "$f.top.inuse_space" | LC_ALL=C sort
}

# compare FILE TABLE TOL: every site of alloc's TABLE has in FILE the four
# values of its line, exactly (TOL 0) or within +-TOL (a fraction) of them;
# a value the table has as 0 must be 0; no other site_* function may appear
compare() {
	local f=$1 table=$2 tol=$3
	have "$f" "$table" || return 1
	site_values "$f" >"$f.sites" || return 1
	awk -v tol="$tol" '
		BEGIN { split("alloc_objects alloc_space inuse_objects inuse_space", ty, " ") }
		FNR == NR { if ($1 !~ /^#/ && NF == 5) { n++; site[n] = $1; for (i = 2; i <= 5; i++) want[$1, i] = $i; known[$1] = 1 } next }
		{ seen[$1] = 1; for (i = 2; i <= 5; i++) got[$1, i] = $i }
		END {
			if (!n) { print "the table has no sites"; exit 1 }
			for (k = 1; k <= n; k++) {
				s = site[k]
				for (i = 2; i <= 5; i++) {
					w = want[s, i]; g = got[s, i] + 0
					d = w ? (g - w) / w : 0
					if (d < 0) d = -d
					if (w == 0 ? g != 0 : (tol == 0 ? g != w : d > tol)) {
						if (++bad <= 12) printf "%s %s %d, want %d (%+.1f%%)\n", s, ty[i - 1], g, w, w ? (g - w) * 100 / w : 100
					}
				}
			}
			for (s in seen) if (!(s in known)) { printf "%s in the profile, not in the table\n", s; bad++ }
			if (bad) { printf "(%d of %d values off%s)\n", bad, n * 4, tol ? sprintf(" by more than %d%%", tol * 100) : ""; exit 1 }
		}' "$table" "$f.sites" || { echo "leaves with the most alloc_space: $(head -6 "$f.top.alloc_space" | awk '{ printf "%s %s; ", $3, $1 }')"; return 1; }
}

# table_field TABLE KEY: the rest of alloc's "# KEY ..." comment line
table_field() { sed -n "s/^# $2 //p" "$1" | head -1; }

# Frames that must never appear: the allocator entry points themselves (the
# leaf is their caller) and their glibc aliases
ALLOC_FN_RE='(^|;)(malloc|calloc|realloc|reallocarray|free|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|__libc_(malloc|calloc|realloc|reallocarray|free|memalign|valloc|pvalloc)|__(calloc|free|posix_memalign)|je_[a-z_]+)(;|$)'

# stacks_ok FILE: every stack with a site has it as its leaf, right above
# main;alloc_all (or thread_main for site_thread_held); no stack holds an
# allocator function
stacks_ok() {
	local f=$1
	"$PPROFCHECK" folded -type alloc_objects "$f" >"$f.folded" || { cat "$f.folded"; return 1; }
	! grep -E "$ALLOC_FN_RE" "$f.folded" | head -3 | grep . || { echo "(stacks with an allocator function as a frame)"; return 1; }
	awk '{ s = $0; sub(/ [0-9]+$/, "", s) }
		s ~ /(^|;)site_/ && s !~ /(^|;)main;alloc_all;site_[a-z_]+$/ && s !~ /(^|;)thread_main;site_thread_held$/ { bad++; if (bad <= 3) print }
		s ~ /(^|;)site_/ { n++ }
		END {
			if (bad) { printf "(%d of %d stacks with a site are not ...;main;alloc_all;SITE or ...;thread_main;site_thread_held)\n", bad, n; exit 1 }
			if (!n) { print "no stack has a site"; exit 1 }
		}' "$f.folded"
}

# ---- 1. --heap-rate 0 -- alloc: exact values, stacks, labels ----

t_exact() {
	rec heap0.pb.gz --heap --heap-rate 0 -- "$WL/alloc" -n 1 -o "$T/heap0.table" || return 1
	compare "$T/heap0.pb.gz" "$T/heap0.table" 0
}
check "record --heap --heap-rate 0 -- alloc: every site's four values exactly alloc's own" t_exact

t_exact_meta() {
	have "$T/heap0.pb.gz" || return 1
	heap_meta "$T/heap0.pb.gz" 1
}
check "record --heap --heap-rate 0: alloc/inuse objects/space types, period 1 space/bytes, default inuse_space" t_exact_meta

t_exact_stacks() {
	have "$T/heap0.pb.gz" || return 1
	stacks_ok "$T/heap0.pb.gz"
}
check "record --heap -- alloc: the allocator's caller is the leaf (main;alloc_all;SITE), no malloc frames" t_exact_stacks

t_labels() {
	local f=$T/heap0.pb.gz pid labels c
	have "$f" "$T/heap0.table" || return 1
	pid=$(table_field "$T/heap0.table" pid)
	labels=$("$PPROFCHECK" labels "$f")
	for c in '#pid=' '#tid=' 'comm=' 'thread_comm='; do # pid, tid numeric; names strings
		printf '%s\n' "$labels" | grep -q "^$c" || { echo "no $c label: $(printf '%s\n' "$labels" | head -5)"; return 1; }
	done
	only_value "the sites' samples" "$f" pid "$pid" -focus '^site_' || return 1
	only_value "the sites' samples" "$f" comm alloc -focus '^site_' || return 1
	only_value "alloc_all's samples" "$f" tid "$pid" -focus '^alloc_all$' || return 1
	only_value "alloc_all's samples" "$f" thread_comm alloc -focus '^alloc_all$'
}
check "record --heap -- alloc: labels pid, tid (numeric), comm, thread_comm" t_labels

t_threads() { # site_thread_held runs in alloc-t1 and alloc-t2
	local f=$T/heap0.pb.gz want
	have "$f" "$T/heap0.table" || return 1
	want=$(table_field "$T/heap0.table" 'tids site_thread_held' | tr ' ' '\n' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
	only_value "site_thread_held's samples" "$f" tid "$want" -focus '^site_thread_held$' || return 1
	only_value "site_thread_held's samples" "$f" thread_comm "alloc-t1 alloc-t2" -focus '^site_thread_held$' || return 1
	only_value "site_thread_held's samples" "$f" comm alloc -focus '^site_thread_held$'
}
check "record --heap -- alloc: site_thread_held's allocations under its two threads' tids and names" t_threads

t_pre_exec() { # the profile of COMMAND holds COMMAND only
	local f=$T/heap0.pb.gz c
	have "$f" || return 1
	c=$(values "$f" comm)
	[ "$c" = alloc ] || {
		echo "comm values [$c], want alloc; $SELF's stacks: $("$PPROFCHECK" folded -type alloc_space -tag "comm=$SELF" "$f" | head -3)"
		return 1
	}
}
check "record --heap -- COMMAND: no allocations of bpprof's child before it execs the command" t_pre_exec

t_summary_line() { # nothing to warn of in this run: the summary only
	local err=$T/heap0.pb.gz.err lines
	have "$T/heap0.pb.gz" || return 1
	lines=$(grep -c '' "$err" || true)
	[ "$lines" -eq 1 ] || { echo "want one stderr line, got $lines: $(head -5 "$err")"; return 1; }
	grep -qi 'lost' "$err" || { echo "says nothing of lost allocations: $(cat "$err")"; return 1; }
}
check "record --heap: one summary line on stderr (lost ...)" t_summary_line

t_go_pprof() {
	local f=$T/heap0.pb.gz out=$T/heap0.go
	have "$f" || return 1
	env GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$build/gocache" GOFLAGS= \
		go tool pprof -top -sample_index=alloc_space "$f" >"$out" 2>&1 || { echo "go tool pprof -top -sample_index=alloc_space failed: $(head -5 "$out")"; return 1; }
	grep -q ' site_realloc_held$' "$out" || { echo "no site_realloc_held in: $(head -12 "$out")"; return 1; }
	grep -q '^Type: alloc_space' "$out" || { echo "not alloc_space: $(head -5 "$out")"; return 1; }
	env GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$build/gocache" GOFLAGS= \
		go tool pprof -top "$f" >"$out.default" 2>&1 || { echo "go tool pprof -top failed: $(head -5 "$out.default")"; return 1; }
	grep -q '^Type: inuse_space' "$out.default" || { echo "go tool pprof does not show inuse_space by default: $(head -5 "$out.default")"; return 1; }
	grep -q ' site_malloc_held$' "$out.default" || { echo "no site_malloc_held in: $(head -12 "$out.default")"; return 1; }
	! grep -q ' site_malloc_freed$' "$out.default" || { echo "site_malloc_freed (all freed) has inuse_space: $(grep ' site_malloc_freed$' "$out.default")"; return 1; }
}
check "record --heap: go tool pprof opens it (alloc_space has the sites, inuse_space by default)" t_go_pprof

# ---- 2. the default rate: unsampled estimates within +-20% ----

t_sampled() {
	rec heap.pb.gz --heap -- "$WL/alloc" -n $BIG -o "$T/heap.table" || return 1
	compare "$T/heap.pb.gz" "$T/heap.table" 0.2
}
check "record --heap (rate 512 KiB) -- alloc -n $BIG: every site within +-20% of alloc's table, freed sites' inuse 0" t_sampled

t_sampled_meta() {
	have "$T/heap.pb.gz" || return 1
	heap_meta "$T/heap.pb.gz" $RATE
}
check "record --heap: period $RATE space/bytes, default inuse_space" t_sampled_meta

t_sampled_held() { # a held site's sampled allocations are all in use: inuse =
	# alloc (the same samples; up to 0.1% or 2 apart for rounding)
	local f=$T/heap.pb.gz
	have "$f" "$T/heap.table" || return 1
	site_values "$f" >"$f.sites" || return 1
	awk 'function off(a, b,   d) { d = a - b; if (d < 0) d = -d; return d > 2 && d > a * 0.001 }
		FNR == NR { if ($1 ~ /^site_/ && $2 > 0 && $2 == $4) held[$1] = 1; next }
		($1 in held) && (off($2, $4) || off($3, $5)) { printf "%s: alloc %d objects %d bytes, inuse %d objects %d bytes\n", $1, $2, $3, $4, $5; bad++ }
		END { exit bad > 0 }' "$T/heap.table" "$f.sites"
}
check "record --heap: held sites' inuse values equal their alloc values" t_sampled_held

t_sampled_stacks() {
	have "$T/heap.pb.gz" || return 1
	stacks_ok "$T/heap.pb.gz"
}
check "record --heap (sampled): the allocator's caller is the leaf, no malloc frames" t_sampled_stacks

t_rate_suffix() { # plain integers and k/m suffixes
	rec rate-1m.pb.gz --heap --heap-rate 1m -- "$WL/alloc" -n 1 || return 1
	[ "$(meta "$T/rate-1m.pb.gz" period)" = 1048576 ] || { echo "--heap-rate 1m: period $(meta "$T/rate-1m.pb.gz" period)"; return 1; }
	rec rate-int.pb.gz --heap --heap-rate 65536 -- "$WL/alloc" -n 1 || return 1
	[ "$(meta "$T/rate-int.pb.gz" period)" = 65536 ] || { echo "--heap-rate 65536: period $(meta "$T/rate-int.pb.gz" period)"; return 1; }
}
check "record --heap-rate 1m / 65536: period 1048576 / 65536" t_rate_suffix

# ---- 3. other allocators: static glibc, jemalloc ----

t_static() { # malloc and the rest in the binary's own symbol table
	rec static.pb.gz --heap --heap-rate 0 -- "$WL/alloc-static" -n 1 -o "$T/static.table" || return 1
	compare "$T/static.pb.gz" "$T/static.table" 0 || return 1
	stacks_ok "$T/static.pb.gz" || return 1
	only_value "the sites' samples" "$T/static.pb.gz" comm alloc-static -focus '^site_'
}
check "record --heap --heap-rate 0 -- alloc-static: exact, leaf = caller" t_static

# jemalloc exports malloc, calloc, realloc, free, posix_memalign,
# aligned_alloc, memalign and valloc itself; reallocarray stays glibc's,
# which tail-calls realloc through the PLT into jemalloc (one allocation,
# counted once); jemalloc has no pvalloc, so alloc skips that site (glibc's
# would hand out glibc memory) and its table line is zeros.
t_jemalloc() {
	rec jemalloc.pb.gz --heap --heap-rate 0 -- "$WL/alloc-jemalloc" -n 1 -o "$T/jemalloc.table" || return 1
	grep -q '^# skipped site_pvalloc_held' "$T/jemalloc.table" ||
		{ echo "alloc-jemalloc did not skip site_pvalloc_held: is its malloc jemalloc's? $(grep '^#' "$T/jemalloc.table")"; return 1; }
	compare "$T/jemalloc.pb.gz" "$T/jemalloc.table" 0 || return 1
	stacks_ok "$T/jemalloc.pb.gz" || return 1
	only_value "the sites' samples" "$T/jemalloc.pb.gz" comm alloc-jemalloc -focus '^site_'
}
check "record --heap --heap-rate 0 -- alloc-jemalloc: exact (jemalloc's functions, glibc's reallocarray), leaf = caller" t_jemalloc

# A library loaded by dlopen mid-run is probed before its first call: the
# dynamic linker's hook stops the command until it is. jemalloc's TLS needs
# more static TLS than glibc keeps spare for dlopen: the tunable gives it.
# Uprobe mode: an allocator called through dlsym'd pointers bypasses the
# preload library's wrappers (a limit the README states).
t_dlopen() {
	local f=$T/dlopen.pb.gz
	GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536 \
		rec dlopen.pb.gz --heap --heap-mode uprobe --heap-rate 0 -- "$WL/dlalloc" libjemalloc.so.2 -o "$T/dlopen.table" || return 1
	compare "$f" "$T/dlopen.table" 0
}
check "record --heap --heap-rate 0 -- dlalloc (dlopens jemalloc mid-run): its allocations exact from the first" t_dlopen

t_no_tracefs() { # every attach works without tracefs, and mounts nothing
	local f=$T/notracefs.pb.gz rc=0
	in_fresh_ns "$BPPROF" record --heap --heap-rate 0 -o "$f" -- "$WL/alloc" -n 1 -o "$T/notracefs.table" </dev/null >"$f.out" 2>"$f.err" || rc=$?
	[ "$rc" -eq 0 ] || { echo "exit $rc without tracefs: $(tail -3 "$f.err")"; return 1; }
	compare "$f" "$T/notracefs.table" 0
}
check "record --heap with tracefs and debugfs unmounted (a fresh machine): exact, mounts nothing" t_no_tracefs

t_mmap() { # anonymous mmaps count with --heap-mmap, file mmaps never, malloc's own once
	local f=$T/mmap.pb.gz table=$T/mmap.table
	"$WL/mmaps" -o "$table" || { echo "mmaps failed on its own"; return 1; }
	rec mmap.pb.gz --heap --heap-mmap --heap-rate 0 -- "$WL/mmaps" -o "$table" || return 1
	compare "$f" "$table" 0
}
check "record --heap --heap-mmap --heap-rate 0 -- mmaps: anonymous mmaps exact, munmap frees, file mmaps and malloc's own mmap not counted" t_mmap

t_no_mmap() { # without --heap-mmap only malloc's site is there
	local f=$T/nommap.pb.gz got
	rec nommap.pb.gz --heap --heap-rate 0 -- "$WL/mmaps" -o /dev/null || return 1
	site_values "$f" >"$f.sites" || return 1
	got=$(awk '{ printf "%s ", $1 }' "$f.sites")
	[ "$got" = "site_big_malloc " ] || { echo "sites [$got], want only site_big_malloc"; return 1; }
}
check "record --heap -- mmaps: mmap is not probed without --heap-mmap" t_no_mmap

# ---- 4. -p PID: a running process, allocations before the capture unknown ----

PID_D=60 # the -p capture's limit: it ends when alloc exits
t_pid() { # alloc waits for the probes (-s), allocates, holds it all for 1 s (-w), exits
	local f=$T/pid.pb.gz table=$T/pid.table p rc=0 probes
	rm -f "$table"
	spawn "$WL/alloc" -n $BIG -s 20 -w 1 -o "$table"
	p=$!
	{ exe_is "$p" "$WL/alloc" && rec pid.pb.gz --heap -p "$p" -d $PID_D; } || rc=1
	# the table is written once allocating is done: it must be there
	if [ "$rc" -eq 0 ] && [ ! -s "$table" ]; then
		for _ in $(seq 100); do [ -s "$table" ] && break; sleep 0.2; done
		echo "alloc had not finished allocating when the $PID_D s capture ended; later: $(grep -E '^# (probes|alloc_seconds)' "$table" 2>/dev/null | tr '\n' ' ')"
		rc=1
	fi
	stop "$p"
	[ "$rc" -eq 0 ] || return 1
	probes=$(table_field "$table" probes)
	case $probes in
	"probes on every allocator function"*) ;;
	*) echo "alloc saw no probes before allocating: $probes"; return 1 ;;
	esac
	only_value "-p $p" "$f" pid "$p" || return 1
	compare "$f" "$table" 0.2 || return 1
	heap_meta "$f" $RATE
}
check "record --heap -p PID (alloc -n $BIG allocating once probed, then exiting): the capture ends with it, every site within +-20%" t_pid

t_pid_comment() { # a -p capture cannot know what was allocated before; a command's can
	local f=$T/pid.pb.gz out=$T/pid.comments c
	have "$f" || return 1
	c=$(meta "$f" comments)
	printf '%s\n' "$c" | grep -qi 'before' || { echo "no comment on allocations before the capture: [$c]"; return 1; }
	env GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$build/gocache" GOFLAGS= \
		go tool pprof -comments "$f" >"$out" 2>&1 || { echo "go tool pprof -comments failed: $(head -5 "$out")"; return 1; }
	grep -qi 'before' "$out" || { echo "go tool pprof -comments: $(head -5 "$out")"; return 1; }
	if [ -s "$T/heap0.pb.gz" ]; then
		c=$(meta "$T/heap0.pb.gz" comments)
		! printf '%s\n' "$c" | grep -qi 'before' || { echo "the -- COMMAND capture has it too: [$c]"; return 1; }
	fi
}
check "record --heap -p PID: a comment says allocations before the capture are unknown (not in a -- COMMAND capture)" t_pid_comment

# ---- 5. errors, the live map, --cpu --heap, defaults ----

# rec_fails NAME WANT ARGS...: bpprof record ARGS -o $T/NAME/out.pb.gz exits
# non-zero (not by a signal) with one stderr line "bpprof...: ..." holding
# WANT (an extended regexp; a usage error may add a "Try 'bpprof help
# record'." line), and writes nothing into $T/NAME.
rec_fails() {
	local name=$1 want=$2 d=$T/$1 rc=0 lines
	shift 2
	mkdir -p "$d"
	timeout -k 5 "$LIMIT" "$BPPROF" record -o "$d/out.pb.gz" "$@" </dev/null >"$T/$name.out" 2>"$T/$name.err" || rc=$?
	[ "$rc" -ne 0 ] || { echo "exit status 0; stderr: $(head -3 "$T/$name.err")"; return 1; }
	[ "$rc" -lt 124 ] || { echo "exit status $rc (timeout or signal): $(head -3 "$T/$name.err")"; return 1; }
	lines=$(grep -vc "^Try 'bpprof help" "$T/$name.err" || true)
	[ "$lines" -eq 1 ] || { echo "want one stderr line (and a usage hint), got $lines: $(head -5 "$T/$name.err")"; return 1; }
	head -1 "$T/$name.err" | grep -q '^bpprof' || { echo "stderr does not start with bpprof: $(cat "$T/$name.err")"; return 1; }
	head -1 "$T/$name.err" | grep -qiE -- "$want" || { echo "stderr does not match '$want': $(cat "$T/$name.err")"; return 1; }
	[ -z "$(ls -A "$d")" ] || { echo "wrote: $(ls -A "$d")"; return 1; }
}

check "record --heap without -p or a command: refused ('--heap needs a target')" rec_fails notarget '--heap needs a target' --heap -d 1

t_stripped() { # a static binary without a symbol table: no malloc to probe
	local bin=$T/alloc-stripped
	cp "$WL/alloc-static" "$bin"
	strip --strip-all "$bin" || { echo "strip failed"; return 1; }
	rec_fails stripped 'no allocator' --heap -- "$bin" -n 1 -o "$T/stripped.table"
}
check "record --heap -- stripped static binary: refused ('no allocator'), nothing written" t_stripped

t_stripped_pid() {
	local bin=$T/alloc-stripped p rc=0
	[ -x "$bin" ] || { cp "$WL/alloc-static" "$bin" && strip --strip-all "$bin"; } || return 1
	spawn "$bin" -n 1 -w 30 -o "$T/stripped-pid.table"
	p=$!
	exe_is "$p" "$bin" && rec_fails stripped-pid 'no allocator' --heap -p "$p" -d 1 || rc=1
	stop "$p"
	return $rc
}
check "record --heap -p PID of a stripped static binary: refused ('no allocator'), nothing written" t_stripped_pid

nopid=999999
while [ -e "/proc/$nopid" ]; do nopid=$((nopid + 1)); done
check "record --heap -p $nopid (no such pid): one line naming it, nothing written" rec_fails nopid "\\b$nopid\\b" --heap -p "$nopid" -d 1
check "record --heap --heap-rate x: refused, naming --heap-rate" rec_fails badrate 'heap-rate' --heap --heap-rate x -- "$WL/alloc" -n 1

t_live_full() { # 1000 live entries, ~5300 held allocations at rate 0
	local f=$T/live.pb.gz
	rec live.pb.gz --heap --heap-rate 0 --heap-live 1000 -- "$WL/alloc" -n 15 -o "$T/live.table" || return 1
	grep -q -- '--heap-live' "$f.err" || { echo "no warning naming --heap-live: $(head -5 "$f.err")"; return 1; }
	heap_meta "$f" 1
}
check "record --heap --heap-live 1000 (5300 held at rate 0): a warning naming --heap-live, the profile written" t_live_full

t_cpu_heap() { # both at once: -o is a directory with cpu.pb.gz and heap.pb.gz
	local d=$T/both rc=0
	rm -rf "$d"
	mkdir -p "$d"
	timeout -k 5 "$LIMIT" "$BPPROF" record --cpu --heap -F 999 --heap-rate 0 --heap-live 20000 -o "$d" \
		-- "$WL/alloc" -n 10 -o "$T/both.table" </dev/null >"$T/both.out" 2>"$T/both.err" || rc=$?
	[ "$rc" -eq 0 ] || { echo "exit status $rc: $(tail -5 "$T/both.err")"; return 1; }
	have "$d/cpu.pb.gz" "$d/heap.pb.gz" || { echo "$d has: $(ls -A "$d")"; return 1; }
	strict "$d/cpu.pb.gz" && strict "$d/heap.pb.gz" || return 1
	[ "$(meta "$d/cpu.pb.gz" sample_types)" = "samples/count cpu/nanoseconds" ] ||
		{ echo "cpu.pb.gz sample types: $(meta "$d/cpu.pb.gz" sample_types)"; return 1; }
	[ "$(meta "$d/cpu.pb.gz" period_type)" = cpu/nanoseconds ] || { echo "cpu.pb.gz period type: $(meta "$d/cpu.pb.gz" period_type)"; return 1; }
	heap_meta "$d/heap.pb.gz" 1 || return 1
	compare "$d/heap.pb.gz" "$T/both.table" 0
}
check "record --cpu --heap -o DIR -- alloc: DIR/cpu.pb.gz (cpu types) and DIR/heap.pb.gz (heap types, exact)" t_cpu_heap

t_default_out() { # no -o: ./heap.pb.gz
	local d=$T/defaults rc=0
	mkdir -p "$d"
	(cd "$d" && timeout -k 5 "$LIMIT" "$BPPROF" record --heap -- "$WL/alloc" -n 1 -o "$d/table" </dev/null >out 2>err) || rc=$?
	[ "$rc" -eq 0 ] || { echo "exit status $rc: $(cat "$d/err" 2>/dev/null)"; return 1; }
	[ -s "$d/heap.pb.gz" ] || { echo "no ./heap.pb.gz; directory has: $(ls -A "$d")"; return 1; }
	[ "$(magic "$d/heap.pb.gz" | cut -c1-4)" = 1f8b ] || { echo "heap.pb.gz is not gzip: $(magic "$d/heap.pb.gz")"; return 1; }
	strict "$d/heap.pb.gz" || return 1
	heap_meta "$d/heap.pb.gz" $RATE
}
check "record --heap without -o: gzip ./heap.pb.gz" t_default_out

t_quiet() {
	local f=$T/quiet.pb.gz
	rec quiet.pb.gz --quiet --heap -- "$WL/alloc" -n 1 -o "$T/quiet.table" || return 1
	[ ! -s "$f.err" ] || { echo "stderr under --quiet: $(head -3 "$f.err")"; return 1; }
}
check "record --heap --quiet: nothing on stderr" t_quiet

# ---- 6. preload mode (a command) and its fallbacks ----
# A command that can load build/libbpprof-heap.so is sampled inside its own
# process (the checks above ran that way); these check what differs: the
# mode said in the summary line, the sampling error from the per-site
# variance, the cases a wrapper must get right (allocx), an allocator the
# user preloads, the fallbacks, and a stress run.

# mode_is FILE.err WANT: the summary line names the heap mode (a regexp)
mode_is() {
	grep -qE "^heap, $2" "$1" || { echo "summary line is not 'heap, $2': $(grep '^heap' "$1" || cat "$1")"; return 1; }
}

t_preload_said() {
	have "$T/heap0.pb.gz" || return 1
	mode_is "$T/heap0.pb.gz.err" 'preload mode:'
}
check "record --heap -- alloc (dynamic glibc): preload mode, said in the summary line" t_preload_said

# zscores FILE TABLE RATE: each site's sampled estimate against the table,
# in standard deviations of the unsampling estimator: a site of n blocks of
# s bytes has each sampled with p = 1 - e^(-s/R) (the countdown is a Poisson
# process over bytes, so blocks are sampled independently), and k/p objects
# estimated, of variance n(1-p)/p; alloc_space is s times that. Fails at
# |z| > 5 (by chance about once in 1.7 million per value); freed sites' inuse
# must be exactly 0, held sites' inuse is checked against alloc elsewhere.
zscores() {
	local f=$1 table=$2 rate=$3
	have "$f" "$table" || return 1
	site_values "$f" >"$f.sites" || return 1
	awk -v R="$rate" '
		FNR == NR { if ($1 ~ /^site_/ && $2 > 0) { n[$1] = $2; sz[$1] = $3 / $2; held[$1] = $4 > 0 } next }
		{ got[$1] = $2; gspace[$1] = $3; ginuse[$1] = $4 }
		END {
			for (s in n) {
				p = 1 - exp(-sz[s] / R); sd = sqrt(n[s] * (1 - p) / p)
				z = sd > 0 ? (got[s] - n[s]) / sd : (got[s] == n[s] ? 0 : 99)
				zs = sd > 0 ? (gspace[s] / sz[s] - n[s]) / sd : z
				if (z < 0) z = -z
				if (zs < 0) zs = -zs
				if (z > worst) { worst = z; at = s }
				if (z > 5 || zs > 5) { printf "%s: %d objects (%d bytes), want %d (%d): z = %.1f, %.1f\n", s, got[s], gspace[s], n[s], n[s] * sz[s], z, zs; bad++ }
				if (!held[s] && ginuse[s] != 0) { printf "%s: freed, but inuse_objects %d\n", s, ginuse[s]; bad++ }
			}
			if (bad) exit 1
			printf "worst |z| %.2f (%s)\n", worst, at > "/dev/stderr"
		}' "$table" "$f.sites"
}

t_preload_z() {
	have "$T/heap.pb.gz" || return 1
	mode_is "$T/heap.pb.gz.err" 'preload mode:' || return 1
	zscores "$T/heap.pb.gz" "$T/heap.table" $RATE
}
check "record --heap (preload, 512 KiB) -- alloc -n $BIG: every site within 5 standard deviations, freed sites' inuse 0" t_preload_z

t_uprobe_forced() { # the same command in uprobe mode, asked for
	local f=$T/forced.pb.gz
	rec forced.pb.gz --heap --heap-mode uprobe --heap-rate 0 -- "$WL/alloc" -n 1 -o "$T/forced.table" || return 1
	mode_is "$f.err" 'uprobe mode \(--heap-mode uprobe\):' || return 1
	compare "$f" "$T/forced.table" 0 && stacks_ok "$f"
}
check "record --heap --heap-mode uprobe --heap-rate 0 -- alloc: uprobe mode, said, exact" t_uprobe_forced

t_uprobe_forced_z() { # and sampled, against the same variance
	local f=$T/forced-z.pb.gz
	rec forced-z.pb.gz --heap --heap-mode uprobe -- "$WL/alloc" -n $BIG -o "$T/forced-z.table" || return 1
	zscores "$f" "$T/forced-z.table" $RATE
}
check "record --heap --heap-mode uprobe -- alloc -n $BIG: every site within 5 standard deviations" t_uprobe_forced_z

t_cases() { # allocx: every case exact at rate 0, children under their own pids
	local f=$T/cases.pb.gz table=$T/cases.table child exec
	rec cases.pb.gz --heap --heap-rate 0 -- "$WL/allocx" -o "$table" || return 1
	mode_is "$f.err" 'preload mode:' || return 1
	compare "$f" "$table" 0 || return 1
	child=$(table_field "$table" child)
	exec=$(table_field "$table" exec)
	only_value "site_fork_held's samples (the forked child)" "$f" pid "$child" -focus '^site_fork_held$' || return 1
	only_value "site_exec_held's samples (the exec'd child)" "$f" pid "$exec" -focus '^site_exec_held$' || return 1
	only_value "site_exec_held's samples" "$f" comm allocx -focus '^site_exec_held$'
}
check "record --heap --heap-rate 0 -- allocx: frees on another thread, realloc grow/shrink/NULL/0, calloc overflow (nothing), aligned_alloc(4096), a forked and an exec'd child (and its frees before the exec): exact" t_cases

t_user_preload() { # the user's LD_PRELOAD of jemalloc: wrapped, so seen
	local f=$T/userpre.pb.gz je
	je=$(ldconfig -p | awk '$1 == "libjemalloc.so.2" { print $NF; exit }')
	[ -n "$je" ] || { echo "no libjemalloc.so.2 (make deps)"; return 1; }
	LD_PRELOAD=$je rec userpre.pb.gz --heap --heap-rate 0 -- "$WL/alloc" -n 1 -o "$T/userpre.table" || return 1
	grep -q "^# skipped site_pvalloc_held: .*malloc in .*jemalloc" "$T/userpre.table" ||
		{ echo "alloc's malloc is not jemalloc's: $(grep '^#' "$T/userpre.table")"; return 1; }
	mode_is "$f.err" 'preload mode:' || return 1
	compare "$f" "$T/userpre.table" 0 && stacks_ok "$f"
}
check "LD_PRELOAD=libjemalloc.so.2 record --heap --heap-rate 0 -- alloc: jemalloc wrapped (ours first), exact" t_user_preload

t_user_tcmalloc() { # and gperftools' tcmalloc (libgoogle-perftools-dev), which has pvalloc
	local f=$T/usertc.pb.gz tc
	tc=$(ldconfig -p | awk '$1 == "libtcmalloc.so.4" { print $NF; exit }')
	[ -n "$tc" ] || { echo "no libtcmalloc.so.4 (make deps)"; return 1; }
	LD_PRELOAD=$tc rec usertc.pb.gz --heap --heap-rate 0 -- "$WL/alloc" -n 1 -o "$T/usertc.table" || return 1
	mode_is "$f.err" 'preload mode:' || return 1
	compare "$f" "$T/usertc.table" 0 && stacks_ok "$f"
}
check "LD_PRELOAD=libtcmalloc.so.4 record --heap --heap-rate 0 -- alloc: tcmalloc wrapped, exact" t_user_tcmalloc

t_static_said() {
	have "$T/static.pb.gz" || return 1
	mode_is "$T/static.pb.gz.err" 'uprobe mode \(.*statically linked\):'
}
check "record --heap -- alloc-static: uprobe mode, and the summary says it is statically linked" t_static_said

t_setuid() { # a setuid copy: the loader would ignore LD_PRELOAD
	local bin=$T/alloc-setuid f=$T/setuid.pb.gz
	cp "$WL/alloc" "$bin" && chmod u+s "$bin" || return 1
	rec setuid.pb.gz --heap --heap-rate 0 -- "$bin" -n 1 -o "$T/setuid.table" || return 1
	mode_is "$f.err" 'uprobe mode \(.*setuid\):' || return 1
	compare "$f" "$T/setuid.table" 0
}
check "record --heap --heap-rate 0 -- a setuid copy of alloc: uprobe mode, said (setuid), exact" t_setuid

check "record --heap --heap-mode preload -- alloc-static: refused ('statically linked'), nothing written" \
	rec_fails preload-static 'preload.*statically linked' --heap --heap-mode preload -- "$WL/alloc-static" -n 1 -o /dev/null
check "record --heap --heap-mode preload -p PID: refused (a running process), nothing written" \
	rec_fails preload-pid 'heap-mode preload' --heap --heap-mode preload -p 1 -d 1
check "record --heap --heap-mode bogus: refused, naming --heap-mode" \
	rec_fails badmode 'heap-mode' --heap --heap-mode bogus -- "$WL/alloc" -n 1

t_stress() { # 8 threads freeing each other's blocks at rate 4096: no crash, nothing in use
	local f=$T/stress.pb.gz got
	rec stress.pb.gz --heap --heap-rate 4096 -- "$WL/allocx" --stress 8 100000 || return 1
	grep -q '^stress ok 800000 ops$' "$f.out" || { echo "allocx --stress: $(cat "$f.out")"; return 1; }
	mode_is "$f.err" 'preload mode:' || return 1
	site_values "$f" >"$f.sites" || return 1
	got=$(awk '$1 == "site_stress" { print $2, $4, $5 }' "$f.sites")
	case $got in
	"0 "* | "") echo "site_stress sampled nothing: [$got]"; return 1 ;;
	*" 0 0") ;;
	*) echo "site_stress alloc_objects, inuse_objects, inuse_space: $got (want inuse 0 0)"; return 1 ;;
	esac
}
check "record --heap --heap-rate 4096 -- allocx --stress 8 100000: no crash, site_stress in use 0" t_stress

finish
