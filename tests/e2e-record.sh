#!/usr/bin/env bash
# End-to-end tests of `bpprof record`: profile the programs in
# tests/workloads (known functions at a known ratio, threads, syscalls, exec,
# pid reuse) and judge every profile with google/pprof's own parser
# (pprofcheck), never with bpprof's decoder. Needs root (BPF, perf events);
# without it prints "skip: needs root" and passes.
#   BUILD=build tests/e2e-record.sh       (make e2e-record)
#   WORKLOADS=DIR  the built workloads (default $BUILD/workloads)
#   BPPROF=, PPROFCHECK=, KEEP=1, ONLY=REGEX as in tests/lib.sh
# Tolerances come from the same workloads under `perf record -F 499 -g`:
# hot_three/hot_one measured 2.76..3.33 over 16 runs of ~1500 samples (the
# two run the same instructions, so the split is 3.0 on any CPU); sample
# counts are lower bounds of 30..60% of HZ x seconds, since VMs and busy CI
# hosts steal CPU.
set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "e2e-record: skip: needs root (bpprof record loads BPF programs and opens perf events)"
	exit 0
fi
SUITE=e2e-record
EXCLUSIVE=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
WL=$(cd -P "${WORKLOADS:-$build/workloads}" 2>/dev/null && pwd) ||
	{ echo "$SUITE: no workloads in ${WORKLOADS:-$build/workloads} (make workloads)" >&2; exit 2; }
SYMCHECK=${SYMCHECK:-$build/symcheck}
COREBTFCHECK=${COREBTFCHECK:-$build/corebtf_check}
need_tools "$BPPROF" "$PPROFCHECK" "$SYMCHECK" "$COREBTFCHECK" "$WL/hot" "$WL/sys" "$WL/execer" "$WL/pidreuse" "$WL/jit"

if ! "$BPPROF" help record >/dev/null 2>&1; then
	failed=1
	echo "FAIL  bpprof has a record command: $("$BPPROF" help record 2>&1 | head -1)"
	finish
fi

# ---- 0. the symbolizer against this machine's kernel, libc and vDSO ----
# (tests/symcheck: each expectation is derived from the machine itself,
# so it holds on any kernel; exit 77 means there is nothing to check)

t_symcheck() {
	local rc=0
	"$SYMCHECK" "$1" || rc=$?
	[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]
}
check "kallsyms: every text symbol resolves to itself, an alias, or the function whose padding it labels" t_symcheck kallsyms
check "kernel names asked per address (as record does) agree with kallsyms for every text symbol" t_symcheck knames
check "this process: its own function and libc's malloc named as dladdr names them" t_symcheck self
check "the vDSO: every function its image's symbols cover is named by one of them" t_symcheck vdso

# running PID: wait until PID has exec'd its workload (the capture must not
# start before, or its first samples are a shell's).
running() {
	for _ in $(seq 100); do
		case $(readlink "/proc/$1/exe" 2>/dev/null) in "$WL"/*) return 0 ;; esac
		sleep 0.02
	done
	echo "workload pid $1 never started"
	return 1
}

LIMIT=60 # seconds any one record may take before it counts as hung
# bpprof's own comm: its child has it between fork and exec (a defect of
# its own, checked once by t_pre_exec; the other checks let it pass)
SELF=$(basename "$BPPROF" | cut -c1-15)

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

# ---- 0b. the kernel types CO-RE needs, kept in the cache directory ----
# (pkg/collect/corebtf.c: libbpf relocates against a small file instead of
# all of vmlinux's BTF; tests/corebtf compares libbpf's relocations against
# both on this kernel, program by program)

t_core_types_same() {
	"$COREBTFCHECK" "$build/bpf/cpu.bpf.o" "$build/bpf/offcpu.bpf.o" "$build/bpf/heap.bpf.o" \
		>"$T/corebtf.out" 2>&1 || { tail -3 "$T/corebtf.out"; return 1; }
}
check "kernel types file: libbpf relocates every program as it does against vmlinux's BTF" t_core_types_same

# core_rec NAME: a short capture with the cache directory $T/types, logging
core_rec() {
	timeout -k 5 "$LIMIT" "$BPPROF" -v record -F 99 -d 500ms --cache-dir "$T/types" \
		-o "$T/$1.pb.gz" </dev/null >/dev/null 2>"$T/$1.err" ||
		{ echo "bpprof record ($1) failed: $(grep -v '^debug' "$T/$1.err" | tail -3)"; return 1; }
	strict "$T/$1.pb.gz"
}

t_core_types_cache() { # made by the first run, read by the next instead of vmlinux's BTF
	local f ino
	rm -rf "$T/types"
	core_rec types1 || return 1
	set -- "$T"/types/*.btf
	[ $# -eq 1 ] && [ -f "$1" ] || { echo "not one types file in $T/types: $(ls "$T/types")"; return 1; }
	f=$1
	[ "$(stat -c %a "$f")" = 600 ] || { echo "$f: mode $(stat -c %a "$f")"; return 1; }
	ino=$(stat -c %i "$f")
	core_rec types2 || return 1
	[ "$(stat -c %i "$f")" = "$ino" ] || { echo "the second run rewrote $f"; return 1; }
	! grep -q "loading kernel BTF" "$T/types2.err" ||
		{ echo "the second run read vmlinux's BTF: $(grep 'kernel BTF' "$T/types2.err" | head -2)"; return 1; }
	# damaged: made anew, the capture unharmed
	printf 'not BTF at all\n' >"$f"
	core_rec types3 || return 1
	bpftool btf dump file "$f" >/dev/null 2>&1 || { echo "$f was not made anew"; return 1; }
	# --cache-dir off: nothing kept, vmlinux's BTF read
	"$BPPROF" -v record -F 99 -d 500ms --cache-dir off -o "$T/types4.pb.gz" </dev/null \
		>/dev/null 2>"$T/types4.err" || { echo "--cache-dir off failed"; return 1; }
	grep -q "loading kernel BTF" "$T/types4.err" || { echo "--cache-dir off: vmlinux's BTF not read"; return 1; }
}
check "kernel types file: made once in --cache-dir (0600), then read instead of vmlinux's BTF; damaged, made anew" t_core_types_cache

# have FILE: a profile an earlier check recorded (later checks read it).
have() { [ -s "$1" ] || { echo "no profile $1 (its record check failed)"; return 1; }; }

meta() { "$PPROFCHECK" summary "$1" | sed -n "s/^$2: //p"; } # meta FILE period|duration_nanos|...

# flat FILE FUNC [FILTER...] / cum ...: FUNC's samples, as google/pprof -top counts them
top_col() {
	local col=$1 f=$2 fn=$3
	shift 3
	"$PPROFCHECK" top -type samples "$@" "$f" |
		awk -v fn="$fn" -v c="$col" '{ v = $c; $1 = ""; $2 = ""; sub(/^ +/, "") } $0 == fn { print v; found = 1 } END { if (!found) print 0 }'
}
flat() { top_col 1 "$@"; }
cum() { top_col 2 "$@"; }

# values FILE KEY [FILTER...]: the values label KEY takes, sorted, space-separated
values() {
	local f=$1 k=$2
	shift 2
	"$PPROFCHECK" bylabel -type samples "$@" "$f" "$k" | awk '{ print $1 }' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}

# total FILE [FILTER...]: samples (count) in FILE, or in the samples FILTER keeps
total() {
	local f=$1
	shift
	"$PPROFCHECK" folded -type samples "$@" "$f" | awk '{ t += $NF } END { print t + 0 }'
}

# at_least WHAT GOT WANT: GOT >= WANT, else say so
at_least() { awk -v g="$2" -v w="$3" 'BEGIN { exit !(g >= w) }' || { echo "$1: $2, want at least $3"; return 1; }; }
# between WHAT LO GOT HI: LO <= GOT <= HI (reals), else say so
between() { awk -v l="$2" -v g="$3" -v h="$4" 'BEGIN { exit !(g >= l && g <= h) }' || { echo "$1: $3, want $2..$4"; return 1; }; }

# expect_samples FILE WHAT HZ SECONDS SHARE [FILTER...]: the filtered
# samples are at least SHARE of HZ x SECONDS (a busy thread's worth; VMs
# and a loaded CI host steal some).
expect_samples() {
	local f=$1 what=$2 hz=$3 secs=$4 share=$5 n
	shift 5
	n=$(total "$f" "$@")
	at_least "$what samples" "$n" "$(awk -v h="$hz" -v s="$secs" -v x="$share" 'BEGIN { printf "%.0f", h * s * x }')"
}

# period_ok FILE HZ: period type cpu/nanoseconds, period 1e9/HZ (floor or rounded)
period_ok() {
	local p lo hi
	p=$(meta "$1" period)
	lo=$((1000000000 / $2))
	hi=$(((1000000000 + $2 / 2) / $2))
	[ "$(meta "$1" period_type)" = cpu/nanoseconds ] || { echo "period_type $(meta "$1" period_type)"; return 1; }
	[ "$p" = "$lo" ] || [ "$p" = "$hi" ] || { echo "period $p, want 1e9/$2 = $lo"; return 1; }
}

# unsym_share FILE [FILTER...]: the share of samples with an unsymbolized
# frame (pprofcheck spells one 0xADDR or 0xADDR@binary)
unsym_share() {
	local f=$1
	shift
	"$PPROFCHECK" folded -type samples "$@" "$f" |
		awk '{ t += $NF } /(^|;)0x[0-9a-f]+/ { u += $NF } END { printf "%.4f", t ? u / t : 0 }'
}

# only_value WHAT FILE KEY WANT [FILTER...]: label KEY has the one value WANT
only_value() {
	local what=$1 f=$2 k=$3 want=$4 got
	shift 4
	got=$(values "$f" "$k" "$@")
	[ "$got" = "$want" ] || { echo "$what: $k values [$got], want [$want]"; return 1; }
}

KERNEL_RE='(^|;)(entry_SYSCALL[A-Za-z0-9_]*|do_syscall_64|x64_sys_call|__x64_sys_[a-z0-9_]+|__arm64_sys_[a-z0-9_]+|ksys_write|vfs_write|el0_svc[a-z0-9_]*|invoke_syscall)(;|$)'
# frames that only a kernel stack has (syscall entry, interrupts, locking)
ANY_KERNEL_RE="$KERNEL_RE|(^|;)(asm_sysvec[a-z_]*|asm_common_interrupt|irqentry[a-z_]*|_raw_spin[a-z_]*|handle_softirqs|__irq_exit_rcu|el0_interrupt|el1_interrupt|fdget_pos|rw_verify_area|write_null)(;|$)"
USER_RE='(^|;)(main|sys_spin|hot_three|hot_one|loop_a|loop_b|spin|__libc_start_call_main|__libc_start_main[A-Za-z0-9_@.]*|_start|clock_gettime[A-Za-z0-9_@.]*|__vdso_clock_gettime)(;|$)'

# ---- 1. record -- hot: ratio, stacks, labels, types, period, duration ----

HZ=499
t_hot_record() { # the child's pid comes from sh, which then becomes hot
	local t0 t1
	t0=$(date +%s%N)
	# shellcheck disable=SC2016 # expanded by that sh
	rec hot.pb.gz -F $HZ -- sh -c 'echo $$ >"$0"; exec "$1" 4' "$T/hot.pid" "$WL/hot" || return 1
	t1=$(date +%s%N)
	echo "$t0 $t1" >"$T/hot.when"
}
check "record -F $HZ -- hot 4: exits 0, google/pprof reads the profile" t_hot_record

t_hot_types() {
	local f=$T/hot.pb.gz d t t0 t1
	have "$f" || return 1
	[ "$(meta "$f" sample_types)" = "samples/count cpu/nanoseconds" ] || { echo "sample types: $(meta "$f" sample_types)"; return 1; }
	period_ok "$f" $HZ || return 1
	d=$(meta "$f" duration_nanos)
	between "duration_nanos of a 4 s run" 3600000000 "$d" 6000000000 || return 1
	read -r t0 t1 <"$T/hot.when"
	t=$(meta "$f" time_nanos)
	between "time_nanos (the capture's start) against the run's wall clock" "$((t0 - 1000000000))" "$t" "$t1"
}
check "record -- hot: samples/count + cpu/nanoseconds, period 1e9/F, duration and time" t_hot_types

t_hot_values() { # cpu = samples x period; no more samples than one thread can give
	local f=$T/hot.pb.gz n cpu p
	have "$f" || return 1
	n=$("$PPROFCHECK" total "$f" samples/count)
	cpu=$("$PPROFCHECK" total "$f" cpu/nanoseconds)
	p=$(meta "$f" period)
	between "cpu/nanoseconds total against samples x period ($n x $p)" \
		"$(awk -v n="$n" -v p="$p" 'BEGIN { printf "%.0f", n * p * 0.99 }')" "$cpu" \
		"$(awk -v n="$n" -v p="$p" 'BEGIN { printf "%.0f", n * p * 1.01 }')" || return 1
	between "samples of a single-threaded 4 s run at $HZ Hz" "$((HZ * 4 * 60 / 100))" "$n" "$((HZ * 4 * 110 / 100))"
}
check "record -- hot: cpu/nanoseconds = samples x period, samples <= F x duration" t_hot_values

t_hot_ratio() { # hot_three gets 3 work units for each of hot_one's
	local f=$T/hot.pb.gz three one
	have "$f" || return 1
	three=$(flat "$f" hot_three)
	one=$(flat "$f" hot_one)
	at_least "hot_three + hot_one samples" "$((three + one))" 1000 || return 1
	between "flat hot_three/hot_one ($three/$one)" 2.4 "$(awk -v a="$three" -v b="$one" 'BEGIN { printf "%.3f", b ? a / b : 0 }')" 3.6
}
check "record -- hot: flat hot_three/hot_one = 3 +- 0.6" t_hot_ratio

# stacks_below FILE FUNC WANT_RE [FILTER...]: every sample with FUNC has
# main (or worker_main) below it; 99% match WANT_RE (a sample in a
# prologue or epilogue may skip one caller, as with any frame-pointer walk)
stacks_below() {
	local f=$1 fn=$2 want=$3
	shift 3
	"$PPROFCHECK" folded -type samples -focus "^$fn\$" "$@" "$f" >"$f.$fn.folded" || return 1
	awk -v fn="$fn" -v want="$want" '
		{ n = $NF; t += n; s = $0; sub(/ [0-9]+$/, "", s) }
		s !~ ("(^|;)(worker_)?main;(.*;)?" fn "(;|$)") { bad += n; if (!ex) ex = $0 }
		s ~ want { ok += n }
		END {
			if (t == 0) { print "no samples of " fn; exit 1 }
			if (bad) { printf "%d of %d samples of %s lack main below it, e.g. %s\n", bad, t, fn, ex; exit 1 }
			if (ok < t * 0.99) { printf "only %d of %d samples of %s match %s\n", ok, t, fn, want; exit 1 }
		}' "$f.$fn.folded" || { echo "stacks: $(sort -t' ' -k2 -nr "$f.$fn.folded" | head -5)"; return 1; }
}
t_hot_stacks() {
	have "$T/hot.pb.gz" || return 1
	stacks_below "$T/hot.pb.gz" hot_three '(^|;)main;spin;loop_a;hot_three(;|$)' &&
		stacks_below "$T/hot.pb.gz" hot_one '(^|;)main;spin;loop_b;hot_one(;|$)'
}
check "record -- hot: stacks main;spin;loop_a;hot_three and main;spin;loop_b;hot_one" t_hot_stacks

t_hot_labels() {
	local f=$T/hot.pb.gz pid labels c
	have "$f" || return 1
	pid=$(cat "$T/hot.pid")
	labels=$("$PPROFCHECK" labels "$f")
	for c in '#pid=' '#tid=' 'comm=' 'thread_comm='; do # pid, tid numeric; names strings
		printf '%s\n' "$labels" | grep -q "^$c" || { echo "no $c label: $(printf '%s\n' "$labels" | head -5)"; return 1; }
	done
	only_value "every sample" "$f" pid "$pid" || return 1
	only_value "every sample" "$f" tid "$pid" || return 1
	only_value "hot_three's samples" "$f" comm hot -focus '^hot_three$' || return 1
	only_value "hot_three's samples" "$f" thread_comm hot -focus '^hot_three$' || return 1
	# before its exec the child was sh (and, forked, bpprof) for a moment
	for c in $(values "$f" comm); do
		case $c in hot | sh | "$SELF") ;; *) echo "comm values [$(values "$f" comm)], want hot (sh, $SELF before the exec)"; return 1 ;; esac
	done
	at_least "samples with comm=hot (of $(total "$f"))" "$(total "$f" -tag comm=hot)" "$(($(total "$f") * 99 / 100))"
}
check "record -- hot: labels pid = tid = the child's pid, comm and thread_comm hot" t_hot_labels

t_hot_symbolized() {
	have "$T/hot.pb.gz" || return 1
	between "share of samples with an unsymbolized frame" 0 "$(unsym_share "$T/hot.pb.gz")" 0.01
}
check "record -- hot: every frame symbolized (<= 1% of samples otherwise)" t_hot_symbolized

t_hot_summary_line() { # one line: samples (as many as the profile has), lost, unsymbolized, the path
	local err=$T/hot.pb.gz.err n lines
	have "$T/hot.pb.gz" || return 1
	lines=$(grep -c '' "$err" || true)
	[ "$lines" -eq 1 ] || { echo "want one stderr line, got $lines: $(head -5 "$err")"; return 1; }
	grep -qF "$T/hot.pb.gz" "$err" || { echo "does not name the output: $(cat "$err")"; return 1; }
	grep -qi 'lost' "$err" || { echo "says nothing of lost samples: $(cat "$err")"; return 1; }
	grep -qi 'unsymbolized' "$err" || { echo "says nothing of unsymbolized frames: $(cat "$err")"; return 1; }
	n=$(grep -o '[0-9][0-9]* samples' "$err" | head -1 | cut -d' ' -f1)
	[ "$n" = "$("$PPROFCHECK" total "$T/hot.pb.gz" samples/count)" ] ||
		{ echo "says '$n samples', the profile holds $("$PPROFCHECK" total "$T/hot.pb.gz" samples/count): $(cat "$err")"; return 1; }
}
check "record -- hot: one summary line on stderr (samples, lost, unsymbolized, path)" t_hot_summary_line

go_pprof() { env GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$build/gocache" GOFLAGS= go tool pprof "$@"; }
t_hot_go_pprof() {
	local out=$T/hot.top
	have "$T/hot.pb.gz" || return 1
	go_pprof -top "$T/hot.pb.gz" >"$out" 2>&1 || { echo "go tool pprof -top failed: $(head -5 "$out")"; return 1; }
	grep -q ' hot_three$' "$out" || { echo "no hot_three in: $(head -12 "$out")"; return 1; }
}
check "record -- hot: go tool pprof -top opens it" t_hot_go_pprof

t_threads() { # comm is the process, thread_comm the thread; ratio holds across threads
	local f=$T/threads.pb.gz pid tids t n three one
	rec threads.pb.gz -F $HZ -- "$WL/hot" 3 2 || return 1
	only_value "hot_three's and hot_one's samples" "$f" comm hot -focus '^hot_(three|one)$' || return 1
	pid=$(values "$f" pid)
	case $pid in '' | *' '*) echo "pid values [$pid], want one"; return 1 ;; esac
	tids=$(values "$f" tid)
	[ "$(echo "$tids" | wc -w)" -eq 3 ] || { echo "tid values [$tids], want 3 threads"; return 1; }
	n=$(total "$f")
	for t in hot worker-1 worker-2; do
		at_least "samples with thread_comm=$t (of $n)" "$(total "$f" -tag "thread_comm=$t")" "$((n / 10))" || return 1
	done
	# a worker is "hot" until it names itself: a sample may land before that
	t=$(($(total "$f" -tag thread_comm=hot) - $(total "$f" -tag thread_comm=hot -tag "tid=$pid")))
	[ "$t" -le 2 ] || { echo "$t samples of thread_comm=hot are not the main thread's"; return 1; }
	t=$(values "$f" tid -tag thread_comm=worker-1)
	case $t in '' | *' '* | "$pid") echo "worker-1's tid values [$t], want one, not the pid $pid"; return 1 ;; esac
	stacks_below "$f" hot_three '(^|;)(worker_)?main;spin;loop_a;hot_three(;|$)' || return 1
	three=$(flat "$f" hot_three)
	one=$(flat "$f" hot_one)
	between "flat hot_three/hot_one ($three/$one)" 2.4 "$(awk -v a="$three" -v b="$one" 'BEGIN { printf "%.3f", b ? a / b : 0 }')" 3.6
}
check "record -- hot 3 2: thread_comm hot, worker-1, worker-2 under comm hot" t_threads

# ---- 2. whole system, -p, defaults ----

t_system() { # hot and sys run beside the capture; each has its own samples
	local f=$T/system.pb.gz h s rc=0
	spawn "$WL/hot" 6
	h=$!
	spawn "$WL/sys" 6
	s=$!
	running "$h" && running "$s" && sleep 0.3 && rec system.pb.gz -F 199 -d 2 || rc=1
	stop "$h" "$s"
	[ "$rc" -eq 0 ] || return 1
	period_ok "$f" 199 || return 1
	between "duration_nanos of -d 2" 1800000000 "$(meta "$f" duration_nanos)" 3000000000 || return 1
	only_value "hot_three's samples" "$f" pid "$h" -focus '^hot_three$' || return 1
	only_value "sys_spin's samples" "$f" pid "$s" -focus '^sys_spin$' || return 1
	only_value "pid $h" "$f" comm hot -tag "pid=$h" || return 1
	only_value "pid $s" "$f" comm sys -tag "pid=$s" || return 1
	expect_samples "$f" "pid $h (hot)" 199 2 0.3 -tag "pid=$h" || return 1
	expect_samples "$f" "pid $s (sys)" 199 2 0.3 -tag "pid=$s" || return 1
	stacks_below "$f" hot_three '(^|;)main;spin;loop_a;hot_three(;|$)' -tag "pid=$h"
}
check "record -d 2 (whole system): hot's and sys's samples under their own pids" t_system

# go tool pprof takes a profile's first mapping for its main binary ("File:").
# A profile of the whole system has none: the kernel's first, or, without
# kernel frames, nothing named.
t_system_main() {
	local f=$T/system.pb.gz out=$T/system.top s rc=0
	have "$f" || return 1
	go_pprof -top -nodecount=1 "$f" >"$out" 2>&1 || { echo "go tool pprof: $(head -3 "$out")"; return 1; }
	grep -qx 'File: \[kernel.kallsyms\]' "$out" || { echo "whole system: $(head -2 "$out")"; return 1; }
	spawn "$WL/sys" 3
	s=$!
	running "$s" && sleep 0.3 && rec system-user.pb.gz -F 199 -d 1 --user-only || rc=1
	stop "$s"
	[ "$rc" -eq 0 ] || return 1
	go_pprof -top -nodecount=1 "$T/system-user.pb.gz" >"$out" 2>&1 || { echo "go tool pprof: $(head -3 "$out")"; return 1; }
	! grep '^File:' "$out" || { echo "(whole system, --user-only)"; return 1; }
	strict "$T/system-user.pb.gz"
}
check "record -d 2 (whole system): go tool pprof shows File: [kernel.kallsyms], or none with --user-only" t_system_main

t_pid() { # -p A: A's threads only; -p A,C: both, and not the decoy B
	local f=$T/pid1.pb.gz a b c rc=0
	spawn "$WL/hot" 7 1
	a=$!
	spawn "$WL/hot" 7
	b=$!
	spawn "$WL/sys" 7
	c=$!
	{ running "$a" && running "$b" && running "$c" &&
		rec pid1.pb.gz -F $HZ -d 2 -p "$a" && rec pid2.pb.gz -F $HZ -d 2 -p "$a,$c"; } || rc=1
	stop "$a" "$b" "$c"
	[ "$rc" -eq 0 ] || return 1
	only_value "-p $a" "$f" pid "$a" || return 1
	[ "$(values "$f" tid | wc -w)" -eq 2 ] || { echo "-p $a: tid values [$(values "$f" tid)], want its 2 threads"; return 1; }
	case " $(values "$f" thread_comm) " in *" worker-1 "*) ;; *) echo "-p $a: no worker-1 thread: [$(values "$f" thread_comm)]"; return 1 ;; esac
	expect_samples "$f" "-p $a" $HZ 2 0.3 || return 1
	f=$T/pid2.pb.gz
	[ "$(values "$f" pid)" = "$(printf '%s\n' "$a" "$c" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" ] ||
		{ echo "-p $a,$c: pid values [$(values "$f" pid)]"; return 1; }
	expect_samples "$f" "-p $a,$c: pid $a" $HZ 2 0.2 -tag "pid=$a" || return 1
	expect_samples "$f" "-p $a,$c: pid $c" $HZ 2 0.2 -tag "pid=$c" || return 1
	only_value "-p $a,$c: sys_spin" "$f" pid "$c" -focus '^sys_spin$'
}
check "record -p PID and -p PID,PID: those processes (all threads) only" t_pid

t_defaults() { # no -F, no -o: 99 Hz into ./cpu.pb.gz
	local d=$T/defaults a rc=0
	mkdir -p "$d"
	spawn "$WL/hot" 4
	a=$!
	running "$a" && (cd "$d" && timeout -k 5 "$LIMIT" "$BPPROF" record -d 1 -p "$a" </dev/null >out 2>err) || rc=1
	stop "$a"
	[ "$rc" -eq 0 ] || { echo "failed: $(cat "$d/err" 2>/dev/null)"; return 1; }
	[ -s "$d/cpu.pb.gz" ] || { echo "no ./cpu.pb.gz; directory has: $(ls -A "$d")"; return 1; }
	[ "$(magic "$d/cpu.pb.gz" | cut -c1-4)" = 1f8b ] || { echo "cpu.pb.gz is not gzip: $(magic "$d/cpu.pb.gz")"; return 1; }
	strict "$d/cpu.pb.gz" || return 1
	period_ok "$d/cpu.pb.gz" 99 || return 1
	expect_samples "$d/cpu.pb.gz" "-p $a at 99 Hz" 99 1 0.3
}
check "record without -F and -o: 99 Hz, gzip ./cpu.pb.gz" t_defaults

# ---- 3. kernel frames: sys ----

t_sys() { # the syscall's kernel frames sit on the leaf side of sys_spin
	local f=$T/sys.pb.gz cumv kern
	rec sys.pb.gz -F $HZ -- "$WL/sys" 3 || return 1
	cumv=$(cum "$f" sys_spin)
	expect_samples "$f" sys_spin $HZ 3 0.4 -focus '^sys_spin$' || return 1
	stacks_below "$f" sys_spin '(^|;)main;sys_spin(;|$)' || return 1
	"$PPROFCHECK" folded -type samples -focus '^sys_spin$' "$f" >"$f.txt"
	kern=$(grep -E "$KERNEL_RE" "$f.txt" | awk '{ t += $NF } END { print t + 0 }')
	at_least "samples of sys_spin (of $cumv) with syscall frames (entry_SYSCALL, ksys_write, ...)" "$kern" "$((cumv * 3 / 10))" || {
		echo "stacks: $(sort -t' ' -k2 -nr "$f.txt" | head -5)"
		return 1
	}
	# root first: main, sys_spin, then only kernel frames
	awk -v re="$KERNEL_RE" '$0 ~ re {
			s = $0; sub(/ [0-9]+$/, "", s); i = index(s, ";sys_spin;")
			if (!i || substr(s, i + 10) ~ /(^|;)(main|sys_spin|__libc_start_call_main)(;|$)/) { print "kernel frames not beneath sys_spin: " $0; exit 1 }
		}' "$f.txt"
}
check "record -- sys: kernel frames (entry_SYSCALL.., ksys_write) beneath sys_spin" t_sys

t_user_only() { # bpprof samples user-mode time only (like perf --all-user):
	# perf's profile of sys has 24% of its samples with sys_spin as the leaf
	local f=$T/sys-user.pb.gz
	rec sys-user.pb.gz -F $HZ --user-only -- "$WL/sys" 2 || return 1
	expect_samples "$f" sys_spin $HZ 2 0.1 -focus '^sys_spin$' || return 1
	"$PPROFCHECK" folded -type samples "$f" >"$f.txt"
	! grep -E "$ANY_KERNEL_RE" "$f.txt" | head -3 | grep . || { echo "(kernel frames under --user-only)"; return 1; }
}
check "record --user-only -- sys: no kernel frames" t_user_only

t_kernel_only() {
	local f=$T/sys-kernel.pb.gz
	rec sys-kernel.pb.gz -F $HZ --kernel-only -- "$WL/sys" 2 || return 1
	"$PPROFCHECK" folded -type samples "$f" >"$f.txt"
	! grep -E "$USER_RE" "$f.txt" | head -3 | grep . || { echo "(user frames under --kernel-only)"; return 1; }
	"$PPROFCHECK" summary -full "$f" | grep '^mapping:' >"$f.maps" || true
	! grep -E '/workloads/sys"|libc\.so' "$f.maps" || { echo "(user mappings under --kernel-only)"; return 1; }
	at_least "samples with syscall frames" "$(grep -E "$KERNEL_RE" "$f.txt" | awk '{ t += $NF } END { print t + 0 }')" "$((HZ * 2 / 5))"
}
check "record --kernel-only -- sys: kernel frames, no user frames or mappings" t_kernel_only

# ---- 4. output formats and grouping ----

t_pre_exec() { # perf enables its events at the exec (enable_on_exec); the
	# command's profile should not hold bpprof's child between fork and exec.
	# Two runs in three at 999 Hz had a sample there, so try 8 times.
	local f=$T/pre-exec.pb.gz i c
	for i in 1 2 3 4 5 6 7 8; do
		rec pre-exec.pb.gz -F 999 -- "$WL/hot" 0.05 || return 1
		c=$(values "$f" comm)
		[ "$c" = hot ] || {
			echo "run $i: comm values [$c], want hot; $SELF's stacks: $("$PPROFCHECK" folded -tag "comm=$SELF" "$f" | head -3)"
			return 1
		}
	done
}
check "record -- COMMAND: no samples of bpprof's child before it execs the command" t_pre_exec

t_folded() {
	local f=$T/hot.folded n
	rec hot.folded -F $HZ --format folded -- "$WL/hot" 2 || return 1
	case $(magic "$f") in 1f8b* | 28b52ffd) echo "compressed: $(magic "$f")"; return 1 ;; esac
	grep -v -E '^.+ [0-9]+$' "$f" | head -3 | grep . && { echo "(lines that are not 'STACK COUNT')"; return 1; }
	n=$(folded_total "$f")
	between "folded total" "$((HZ * 2 * 40 / 100))" "$n" "$((HZ * 2 * 110 / 100))" || return 1
	grep -qE '(^|;)main;spin;loop_a;hot_three [0-9]+$' "$f" || { echo "no main;spin;loop_a;hot_three: $(head -3 "$f")"; return 1; }
	grep -qE '(^|;)main;spin;loop_b;hot_one [0-9]+$' "$f" || { echo "no main;spin;loop_b;hot_one: $(head -3 "$f")"; return 1; }
	# google/pprof reads what bpprof convert makes of it, with the same total
	# (not named *.folded*, which would mean folded output)
	"$BPPROF" convert --from folded "$f" -o "$T/hot-folded.pb.gz" 2>"$T/hot-folded.err" ||
		{ echo "bpprof convert refuses it: $(cat "$T/hot-folded.err")"; return 1; }
	strict "$T/hot-folded.pb.gz" || return 1
	[ "$(first_total "$T/hot-folded.pb.gz")" = "$n" ] || { echo "total $(first_total "$T/hot-folded.pb.gz") after convert, $n before"; return 1; }
}
check "record --format folded: STACK COUNT lines with hot's stacks, convert reads them" t_folded

t_folded_dir_name() { # as for convert: only the file name chooses folded output
	mkdir -p "$T/x.folded.d"
	rec x.folded.d/out.pb.gz -F 99 -- "$WL/hot" 0.5 || return 1
	[ "$(magic "$T/x.folded.d/out.pb.gz" | cut -c1-4)" = 1f8b ] || { echo "not gzip: $(magic "$T/x.folded.d/out.pb.gz")"; return 1; }
}
check "record -o x.folded.d/out.pb.gz writes pprof" t_folded_dir_name

t_zstd() { # google/pprof does not read zstd: zstd -d first, as users would
	local f=$T/hot.pb.zst
	rec hot.pb.zst -F $HZ --compress zstd -- "$WL/hot" 1 || return 1
	[ "$(magic "$f")" = 28b52ffd ] || { echo "not zstd: $(magic "$f")"; return 1; }
	zstd -q -d -c "$f" >"$f.raw" || { echo "zstd -d rejects it"; return 1; }
	strict "$f.raw" || return 1
	expect_samples "$f.raw" hot_three $HZ 1 0.4 -focus '^hot_three$'
}
check "record --compress zstd: zstd -d gives a profile google/pprof reads" t_zstd

t_none() {
	local f=$T/hot-plain.pb
	rec hot-plain.pb -F $HZ --compress none -- "$WL/hot" 1 || return 1
	case $(magic "$f") in 1f8b* | 28b52ffd) echo "compressed despite --compress none: $(magic "$f")"; return 1 ;; esac
	expect_samples "$f" hot_three $HZ 1 0.4 -focus '^hot_three$'
}
check "record --compress none: plain protobuf" t_none

t_group() { # the process name is the root frame of every stack
	local f=$T/group.pb.gz
	rec group.pb.gz -F $HZ --group-by process -- "$WL/hot" 2 || return 1
	"$PPROFCHECK" folded -type samples "$f" >"$f.txt"
	! grep -v -e '^hot;' -e "^$SELF;" "$f.txt" | head -3 | grep . || { echo "(stacks whose root is not hot)"; return 1; }
	grep -qE '^hot;(.*;)?main;spin;loop_a;hot_three [0-9]+$' "$f.txt" || { echo "no hot;...;main;spin;loop_a;hot_three: $(head -3 "$f.txt")"; return 1; }
}
check "record --group-by process: comm is the root frame" t_group

# ---- 5. exec and pid reuse: each phase symbolized with its own binary ----

# phase FILE FUNC COMM PID: FUNC's samples carry COMM and PID only, and
# there are enough of them for 1.5 s
phase() {
	local f=$1 fn=$2 comm=$3 pid=$4
	only_value "$fn's samples" "$f" comm "$comm" -focus "^$fn\$" || return 1
	only_value "$fn's samples" "$f" pid "$pid" -focus "^$fn\$" || return 1
	expect_samples "$f" "$fn" $HZ 1.5 0.3 -focus "^$fn\$"
}

# leaf_in FILE RE FILTER...: >= 90% of the filtered samples have their leaf
# in a function matching RE (a stale symbol table would name others, or none)
leaf_in() {
	local f=$1 re=$2 n fl
	shift 2
	n=$(total "$f" "$@")
	fl=$("$PPROFCHECK" top -type samples "$@" "$f" |
		awk -v re="$re" '{ v = $1; $1 = ""; $2 = ""; sub(/^ +/, "") } $0 ~ re { t += v } END { print t + 0 }')
	at_least "samples ($*) with the leaf in $re, of $n" "$fl" "$((n * 90 / 100))" ||
		{ echo "top: $("$PPROFCHECK" top -type samples "$@" "$f" | head -4 | tr '\n' '|')"; return 1; }
}

t_exec_self() { # execer: before_exec_spin, exec itself, after_exec_spin
	local f=$T/exec.pb.gz pid
	rec exec.pb.gz -F $HZ -- "$WL/execer" 1.5 || return 1
	pid=$(values "$f" pid -focus '^before_exec_spin$')
	phase "$f" before_exec_spin execer "$pid" && phase "$f" after_exec_spin execer "$pid" || return 1
	leaf_in "$f" '^(before|after)_exec_spin$' -tag comm=execer || return 1
	stacks_below "$f" before_exec_spin '(^|;)main;before_exec_spin(;|$)' || return 1
	stacks_below "$f" after_exec_spin '(^|;)main;after_exec_spin(;|$)' || return 1
	between "share of samples with an unsymbolized frame" 0 "$(unsym_share "$f")" 0.02
}
check "exec mid-capture (execer -> execer --after): both phases symbolized, one pid" t_exec_self

t_exec_other() { # execer -> hot: a new binary and a new comm under the same pid
	local f=$T/exec-hot.pb.gz pid
	rec exec-hot.pb.gz -F $HZ -- "$WL/execer" 1.5 "$WL/hot" 1.5 || return 1
	pid=$(values "$f" pid -focus '^before_exec_spin$')
	phase "$f" before_exec_spin execer "$pid" || return 1
	leaf_in "$f" '^before_exec_spin$' -tag comm=execer || return 1
	leaf_in "$f" '^hot_(three|one)$' -tag comm=hot || return 1
	only_value "hot_three's samples" "$f" comm hot -focus '^hot_three$' || return 1
	only_value "hot_three's samples" "$f" pid "$pid" -focus '^hot_three$' || return 1
	expect_samples "$f" "hot_three + hot_one" $HZ 1.5 0.3 -tag comm=hot -focus '^hot_(three|one)$' || return 1
	stacks_below "$f" hot_three '(^|;)main;spin;loop_a;hot_three(;|$)' || return 1
	between "share of samples with an unsymbolized frame" 0 "$(unsym_share "$f")" 0.02
}
check "exec mid-capture (execer -> hot): each binary's functions under its comm, one pid" t_exec_other

t_pid_reuse() { # pidreuse: reuse-a exits, reuse-b gets its pid
	local f=$T/reuse.pb.gz pid
	rec reuse.pb.gz -F $HZ -- "$WL/pidreuse" 1.5 || return 1
	pid=$(values "$f" pid -focus '^reuse_a_spin$')
	# pidreuse prints the pid it reused, if bpprof passes its stdout on
	case $(cat "$f.out") in
	'' | "$pid") ;;
	*) echo "pidreuse reused pid $(cat "$f.out"), reuse_a_spin's samples have pid [$pid]"; return 1 ;;
	esac
	phase "$f" reuse_a_spin reuse-a "$pid" && phase "$f" reuse_b_spin reuse-b "$pid" || return 1
	leaf_in "$f" '^reuse_a_spin$' -tag comm=reuse-a && leaf_in "$f" '^reuse_b_spin$' -tag comm=reuse-b || return 1
	stacks_below "$f" reuse_b_spin '(^|;)main;reuse_b_spin(;|$)' || return 1
	between "share of samples with an unsymbolized frame" 0 "$(unsym_share "$f")" 0.02
}
check "pid reuse: reuse_a_spin only as reuse-a, reuse_b_spin only as reuse-b, same pid" t_pid_reuse

# ---- 6. short-lived processes: symbolized although gone by the end ----

t_short_command() {
	local f=$T/short.pb.gz
	rec short.pb.gz -F 999 -- "$WL/hot" 0.1 || return 1
	expect_samples "$f" "hot 0.1" 999 0.1 0.5 || return 1
	between "share of samples with an unsymbolized frame" 0 "$(unsym_share "$f")" 0.1 || {
		echo "top: $("$PPROFCHECK" top -type samples "$f" | head -4 | tr '\n' '|')"
		return 1
	}
}
check "record -- hot 0.1 (a short-lived command): its frames symbolized" t_short_command

t_short_system() { # 15 runs of hot 0.1, one after the other, during -d 2
	local f=$T/short-system.pb.gz l rc=0
	# shellcheck disable=SC2016 # expanded by that sh
	spawn sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do "$0" 0.1; done' "$WL/hot"
	l=$!
	rec short-system.pb.gz -F $HZ -d 2 || rc=1
	stop "$l"
	[ "$rc" -eq 0 ] || return 1
	expect_samples "$f" "comm=hot" $HZ 1 0.3 -tag comm=hot || return 1
	between "share of hot's samples with an unsymbolized frame" 0 "$(unsym_share "$f" -tag comm=hot)" 0.1 || {
		echo "top of comm=hot: $("$PPROFCHECK" top -type samples -tag comm=hot "$f" | head -4 | tr '\n' '|')"
		return 1
	}
}
check "record -d 2 (whole system) of short-lived processes: their frames symbolized" t_short_system

# ---- 6b. code with no file at its path on the host: deleted binaries,
# containers, JIT code, the vDSO ----

# exe_is PID PATH: wait until PID runs PATH
exe_is() {
	for _ in $(seq 100); do
		[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.02
	done
	echo "pid $1 never ran $2 (exe: $(readlink "/proc/$1/exe" 2>&1))"
	return 1
}

# frame_maps FILE FUNC: the mappings FUNC's frames are in, one a line
# (summary -full spells a frame NAME[SYSNAME](FILE:LINE){0xADDR@MAPPING})
frame_maps() {
	"$PPROFCHECK" summary -full "$1" >"$1.full" || { cat "$1.full"; return 1; }
	grep -oE "(^|;)$2(\\[[^]]*\\])?\\([^)]*\\)\\{0x[0-9a-f]+(@[^}]*)?\\}" "$1.full" |
		sed -e 's/.*{0x[0-9a-f]*//' -e 's/^@//' -e 's/}$//' -e 's/!folded$//' | LC_ALL=C sort -u
}

# in_mapping FILE FUNC MAPPING: FUNC has frames, every one in MAPPING
in_mapping() {
	local got
	got=$(frame_maps "$1" "$2") || return 1
	[ "$got" = "$3" ] || { echo "$2's frames are in mappings [$(printf '%s' "$got" | tr '\n' '|')], want [$3]"; return 1; }
}

# build_id ELF: its GNU build ID (empty without readelf)
build_id() { readelf -n "$1" 2>/dev/null | sed -n 's/^ *Build ID: *//p' | head -1; }

t_deleted() { # hot's binary deleted, and sys put at its path: only map_files has hot
	local f=$T/deleted.pb.gz bin=$T/hot-del p m id rc=0
	cp "$WL/hot" "$bin"
	spawn "$bin" 4
	p=$!
	{ exe_is "$p" "$bin" && rm -f "$bin" && cp "$WL/sys" "$bin" &&
		rec deleted.pb.gz -F $HZ -d 2 -p "$p"; } || rc=1
	stop "$p"
	rm -f "$bin"
	[ "$rc" -eq 0 ] || return 1
	expect_samples "$f" "hot_three" $HZ 2 0.2 -focus '^hot_three$' || return 1
	[ "$(flat "$f" hot_one)" -gt 0 ] || { echo "no hot_one"; return 1; }
	[ "$(flat "$f" sys_spin)" -eq 0 ] || { echo "frames named from the file now at the path"; return 1; }
	between "share of samples with an unsymbolized frame" 0 "$(unsym_share "$f")" 0.01 || return 1
	m=$(frame_maps "$f" hot_three) || return 1
	case $m in "$bin" | "$bin (deleted)") ;; *) echo "hot_three's frames in mappings [$m], want $bin"; return 1 ;; esac
	id=$(build_id "$WL/hot")
	[ -z "$id" ] || grep -qF "\"$m\" build_id=\"$id\"" "$f.full" ||
		{ echo "mapping $m has not hot's build ID $id: $(grep -F "\"$m\"" "$f.full")"; return 1; }
}
check "record -p PID of a process whose binary was deleted and replaced: named from the one it runs" t_deleted

t_container() { # hot run from a tmpfs mounted in its own mount namespace only
	local f=$T/container.pb.gz dir=$T/ctr p last caps=-sys_admin e rc=0 BPPROF=$BPPROF
	command -v unshare >/dev/null || { echo "skipped: no unshare"; return 0; }
	mkdir -p "$dir"
	# shellcheck disable=SC2016 # expanded by that sh
	spawn unshare -m --propagation private sh -c \
		'mount -t tmpfs none "$0" && cp "$1" "$0/hot-ctr" && exec "$0/hot-ctr" 4' "$dir" "$WL/hot"
	p=$!
	exe_is "$p" "$dir/hot-ctr" || { stop "$p"; return 1; }
	# the test means nothing if the host could open the path
	[ ! -e "$dir/hot-ctr" ] || { stop "$p"; echo "$dir/hot-ctr is visible from the host"; return 1; }
	# As root bpprof could open it through map_files too. Without
	# CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE (README: root, or CAP_BPF,
	# CAP_PERFMON and CAP_SYS_RESOURCE) map_files is closed and only
	# /proc/PID/root leads to the file. Kernels before CAP_BPF (5.8) need
	# CAP_SYS_ADMIN for BPF: there this only shows it symbolized somehow.
	last=$(cat /proc/sys/kernel/cap_last_cap 2>/dev/null || echo 0)
	if [ "$last" -ge 39 ]; then
		[ "$last" -lt 40 ] || caps=$caps,-checkpoint_restore
		setpriv --bounding-set="$caps" -- true || { stop "$p"; echo "setpriv cannot drop $caps"; return 1; }
		for e in "/proc/$p/map_files/"*; do break; done
		if setpriv --bounding-set="$caps" -- head -c1 "$e" >/dev/null 2>&1; then
			stop "$p"
			echo "map_files opens without CAP_SYS_ADMIN: this cannot tell /proc/PID/root from it"
			return 1
		fi
		printf '#!/usr/bin/env bash\nexec setpriv --bounding-set=%s -- %q "$@"\n' "$caps" "$BPPROF" >"$T/bpprof-capped"
		chmod +x "$T/bpprof-capped"
		BPPROF=$T/bpprof-capped
	fi
	rec container.pb.gz -F $HZ -d 2 -p "$p" || rc=1
	stop "$p"
	[ "$rc" -eq 0 ] || return 1
	expect_samples "$f" "hot_three" $HZ 2 0.2 -focus '^hot_three$' || return 1
	[ "$(flat "$f" hot_one)" -gt 0 ] || { echo "no hot_one"; return 1; }
	between "share of samples with an unsymbolized frame" 0 "$(unsym_share "$f")" 0.01 || return 1
	# named by the path the process sees
	in_mapping "$f" hot_three "$dir/hot-ctr" && in_mapping "$f" hot_one "$dir/hot-ctr"
}
check "record -p PID of a process in its own mount namespace (no CAP_SYS_ADMIN): symbolized through /proc/PID/root" t_container

t_jit() { # code in anonymous memory, named only by /tmp/perf-PID.map; jit
	# exits before the profile is built, so the map is read from the host's /tmp
	local f=$T/jit.pb.gz pid n rc=0
	[ "$(uname -m)" = x86_64 ] || { echo "skipped: not x86_64 (the jit workload writes x86-64 code)"; return 0; }
	# shellcheck disable=SC2016 # expanded by that sh
	rec jit.pb.gz -F $HZ -- sh -c 'echo $$ >"$0"; exec "$1" 2' "$T/jit.pid" "$WL/jit" || rc=1
	pid=$(cat "$T/jit.pid" 2>/dev/null) && rm -f "/tmp/perf-$pid.map" # jit leaves it, as JITs do
	[ "$rc" -eq 0 ] || return 1
	expect_samples "$f" "jit_spin_loop" $HZ 2 0.3 -focus '^jit_spin_loop$' || return 1
	n=$(total "$f")
	at_least "flat jit_spin_loop (of $n samples)" "$(flat "$f" jit_spin_loop)" "$((n * 8 / 10))" || return 1
	stacks_below "$f" jit_spin_loop '(^|;)main;call_jit;jit_spin_loop(;|$)' || return 1
	in_mapping "$f" jit_spin_loop '[anon]'
}
check "record -- jit: JIT code named from /tmp/perf-PID.map, under its C caller" t_jit

t_jit_ns() { # jit as pid 1 of its own pid namespace, with a private /tmp: its
	# map is /tmp/perf-1.map in its mount namespace and nowhere on the host
	local f=$T/jit-ns.pb.gz u c="" ns rc=0
	[ "$(uname -m)" = x86_64 ] || { echo "skipped: not x86_64 (the jit workload writes x86-64 code)"; return 0; }
	command -v unshare >/dev/null || { echo "skipped: no unshare"; return 0; }
	rm -f "$T/jit-ns.pid"
	# /proc is still the host's: /proc/self/stat gives the host pid. cd
	# first: $WL may be under the /tmp the tmpfs hides.
	# shellcheck disable=SC2016 # expanded by that sh
	spawn unshare -m -p --kill-child --propagation private sh -c \
		'read -r pid _ </proc/self/stat && echo "$pid" >"$0" && cd "$1" && mount -t tmpfs none /tmp && exec ./jit 4' \
		"$T/jit-ns.pid" "$WL"
	u=$!
	# unshare blocks SIGTERM while it waits; its SIGKILL takes jit with it
	# (--kill-child), and it is our child, so $u is still it
	end_ns() { kill -KILL "$u" 2>/dev/null || true; wait "$u" 2>/dev/null || true; }
	for _ in $(seq 100); do
		c=$(cat "$T/jit-ns.pid" 2>/dev/null) && [ -n "$c" ] && break
		sleep 0.02
	done
	if [ -z "$c" ] || ! exe_is "$c" "$WL/jit"; then
		end_ns
		echo "jit never ran in its namespace (pid [$c])"
		return 1
	fi
	ns=$(awk '/^NSpid:/ { print $NF }' "/proc/$c/status")
	for _ in $(seq 100); do
		[ -s "/proc/$c/root/tmp/perf-$ns.map" ] && break
		sleep 0.02
	done
	# the test means nothing if the host's /tmp had the map or the pids were one
	{ [ -s "/proc/$c/root/tmp/perf-$ns.map" ] || { echo "jit wrote no /tmp/perf-$ns.map in its namespace"; false; }; } &&
		{ [ "$ns" != "$c" ] || { echo "no pid namespace: NSpid $ns"; false; }; } &&
		{ [ ! -e "/tmp/perf-$c.map" ] && [ ! -e "/tmp/perf-$ns.map" ] || { echo "the host's /tmp has a perf map of pid $c or $ns"; false; }; } &&
		rec jit-ns.pb.gz -F $HZ -d 2 -p "$c" || rc=1
	end_ns
	[ "$rc" -eq 0 ] || return 1
	expect_samples "$f" "jit_spin_loop" $HZ 2 0.3 -focus '^jit_spin_loop$' || return 1
	stacks_below "$f" jit_spin_loop '(^|;)main;call_jit;jit_spin_loop(;|$)' || return 1
	in_mapping "$f" jit_spin_loop '[anon]'
}
check "record -p PID of a JIT in its own pid and mount namespaces: named from its /tmp/perf-NSPID.map" t_jit_ns

t_vdso() { # clock_gettime runs in the vDSO, with no system call
	local f=$T/vdso.pb.gz img=$T/vdso.so n
	grep -q '\[vdso\]' /proc/self/maps || { echo "skipped: no vDSO"; return 0; }
	rec vdso.pb.gz -F $HZ -- "$WL/jit" --vdso 2 "$img" || return 1
	! "$PPROFCHECK" folded -type samples "$f" | grep -q '@@' ||
		{ echo "a symbol version in a function name: $("$PPROFCHECK" folded -type samples "$f" | grep -m1 '@@')"; return 1; }
	"$PPROFCHECK" summary -full "$f" >"$f.full" || return 1
	n=$(total "$f" -focus '^vdso_spin$')
	expect_samples "$f" "vdso_spin" $HZ 2 0.3 -focus '^vdso_spin$' || return 1
	# What this kernel's vDSO names comes from its image, which the
	# workload wrote: the function symbols and their extents. Which one
	# clock_gettime's time is spent in depends on the clocksource (with
	# kvm-clock, a local function that no symbol covers).
	nm -D -S --defined-only "$img" | awk 'NF == 4 && $3 ~ /^[TtWw]$/ { sub(/@.*/, "", $4); print $1, $2, $4 }' >"$img.syms"
	[ -s "$img.syms" ] || { echo "no function symbols in the vDSO image $img"; return 1; }
	# the vDSO's mapping carries the image's build ID
	awk -v want="$(readelf -n "$img" | awk '/Build ID:/ { print $3 }')" '
		/^mapping: .*"\[vdso\]"/ { seen = 1; if ($0 !~ "build_id=\"" want "\"") { print "vDSO mapping without the image build ID " want ": " $0; exit 1 } }
		END { if (!seen) { print "no [vdso] mapping"; exit 1 } }' "$f.full" || return 1
	# Every vDSO frame: named, by a symbol covering it in the image, when
	# one does, and left as an address when none does. Return addresses
	# are looked up at the call (address - 1), the user leaf at its address.
	awk -v n="$n" '
		function hex(s,   v, i) { v = 0; s = tolower(s); for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
		FILENAME ~ /\.syms$/ { lo[++ns] = hex($1); hi[ns] = lo[ns] + hex($2); nm[ns] = $3; next }
		/^mapping: .*"\[vdso\]"/ { split(substr($2, 3), r, "-0x"); base = hex(r[1]); next }
		/@\[vdso\]/ && $(NF - 1) ~ /^[0-9]+$/ {
			c = $(NF - 1); line = $0; sub(/ [0-9]+ [0-9]+$/, "", line)
			k = split(line, fr, ";")
			if (line !~ /(^|;)vdso_spin[({;]/) { other += c; next }
			invdso += c
			# the user leaf: the last frame before the kernel frames (an
			# interrupt in the vDSO puts kernel frames after it)
			for (leaf = k; leaf > 1 && fr[leaf] ~ /@\[kernel\.kallsyms\]/; leaf--) ;
			for (i = 1; i <= k; i++) {
				if (fr[i] !~ /@\[vdso\]/) continue
				a = fr[i]; sub(/.*0x/, "", a); sub(/@.*/, "", a)
				off = hex(a) - base - (i < leaf ? 1 : 0)
				want = ""
				for (j = 1; j <= ns; j++) if (off >= lo[j] && off < hi[j]) want = want "|" nm[j]
				got = fr[i] ~ /^0x/ ? "" : fr[i]; sub(/[[({].*/, "", got)
				if (want == "" && got != "") { printf "vDSO offset 0x%x is in no symbol of the image, named %s\n", off, got; bad = 1; exit 1 }
				if (want != "" && index(want "|", "|" got "|") == 0) { printf "vDSO offset 0x%x (in %s) named \"%s\"\n", off, substr(want, 2), got; bad = 1; exit 1 }
			}
		}
		END {
			if (bad) exit 1
			if (invdso < n * 0.4) { printf "%d of %d samples of vdso_spin in the vDSO\n", invdso, n; exit 1 }
			if (other > (invdso + other) * 0.02) { printf "%d samples in the vDSO outside vdso_spin\n", other; exit 1 }
		}' "$img.syms" "$f.full"
}
check "record -- jit --vdso: [vdso] frames named as the vDSO image's own symbols cover them (no symbol versions)" t_vdso

# ---- 7. --cgroup ----

t_cgroup() { # a hot moved into a fresh cgroup v2; another hot outside it
	local root2 cg f=$T/cgroup.pb.gz a b rc=0
	root2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$root2" ] || { echo "skipped: no cgroup2 mount"; return 0; }
	cg=$root2/bpprof-e2e-$$
	mkdir "$cg" || return 1
	spawn "$WL/hot" 5
	a=$!
	spawn "$WL/hot" 5
	b=$!
	{ running "$a" && running "$b" && echo "$a" >"$cg/cgroup.procs" &&
		rec cgroup.pb.gz -F $HZ -d 2 --cgroup "$cg"; } || rc=1
	stop "$a" "$b"
	rmdir "$cg" 2>/dev/null || true
	[ "$rc" -eq 0 ] || return 1
	only_value "--cgroup" "$f" pid "$a" || return 1
	expect_samples "$f" "pid $a in the cgroup" $HZ 2 0.3
}
check "record --cgroup PATH: that cgroup's processes only" t_cgroup

# ---- 8. errors, signals, the command's status ----

# rec_fails NAME WANT ARGS...: bpprof record ARGS -o $T/NAME/out.pb.gz exits
# non-zero (not by a signal) with one stderr line "bpprof..." holding WANT
# (an extended regexp), and writes nothing into $T/NAME.
rec_fails() {
	local name=$1 want=$2 d=$T/$1 rc=0 lines
	shift 2
	mkdir -p "$d"
	chmod 777 "$d" # the unprivileged run must be able to write, or it fails for that
	timeout -k 5 "$LIMIT" "${RUN_AS[@]}" "$BPPROF" record -o "$d/out.pb.gz" "$@" </dev/null >"$T/$name.out" 2>"$T/$name.err" || rc=$?
	[ "$rc" -ne 0 ] || { echo "exit status 0; stderr: $(head -3 "$T/$name.err")"; return 1; }
	[ "$rc" -lt 124 ] || { echo "exit status $rc (timeout or signal): $(head -3 "$T/$name.err")"; return 1; }
	lines=$(grep -c '' "$T/$name.err" || true)
	[ "$lines" -eq 1 ] || { echo "want one stderr line, got $lines: $(head -5 "$T/$name.err")"; return 1; }
	head -1 "$T/$name.err" | grep -q '^bpprof' || { echo "stderr does not start with bpprof: $(cat "$T/$name.err")"; return 1; }
	grep -qiE -- "$want" "$T/$name.err" || { echo "stderr does not match '$want': $(cat "$T/$name.err")"; return 1; }
	[ -z "$(ls -A "$d")" ] || { echo "wrote: $(ls -A "$d")"; return 1; }
}
RUN_AS=()

nopid=999999
while [ -e "/proc/$nopid" ]; do nopid=$((nopid + 1)); done
check "record -p $nopid (no such pid): one line naming it, nothing written" rec_fails nopid "\\b$nopid\\b" -p "$nopid" -d 1
check "record -- /nonexistent/cmd: one line naming it, nothing written" rec_fails nocmd '/nonexistent/cmd' -- /nonexistent/cmd

t_bad_out() { # refused before capturing: well under -d 5
	local t0 t1 rc=0 out=/nonexistent-dir-$$/x.pb.gz
	t0=$(date +%s%N)
	timeout -k 5 "$LIMIT" "$BPPROF" record -d 5 -o "$out" </dev/null >/dev/null 2>"$T/badout.err" || rc=$?
	t1=$(date +%s%N)
	{ [ "$rc" -ne 0 ] && [ "$rc" -lt 124 ]; } || { echo "exit status $rc: $(head -3 "$T/badout.err")"; return 1; }
	[ "$(grep -c '' "$T/badout.err")" -eq 1 ] || { echo "want one stderr line: $(head -5 "$T/badout.err")"; return 1; }
	grep -qF "$out" "$T/badout.err" || { echo "stderr does not name $out: $(cat "$T/badout.err")"; return 1; }
	between "seconds until it failed" 0 "$(((t1 - t0) / 1000000000))" 2
}
check "record -o /nonexistent-dir/x.pb.gz: names the path, refuses before capturing" t_bad_out

t_not_root() {
	local rc=0
	chmod 711 "$T"
	RUN_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
	rec_fails notroot 'root|privilege|CAP_BPF|CAP_PERFMON' -d 1 || rc=1
	chmod 700 "$T"
	return $rc
}
check "record as an unprivileged user: one line about privileges, nothing written" t_not_root

t_pid_exits() { # -p of a hot that ends after 1 s, -d 3: still written with its samples
	local f=$T/exits.pb.gz a rc=0
	spawn "$WL/hot" 1
	a=$!
	running "$a" && rec exits.pb.gz -F $HZ -d 3 -p "$a" || rc=1
	stop "$a"
	[ "$rc" -eq 0 ] || return 1
	only_value "-p $a" "$f" pid "$a" || return 1
	expect_samples "$f" "pid $a" $HZ 0.7 0.3 -focus '^hot_(three|one)$'
}
check "record -p PID of a process that exits mid-capture: written with its samples" t_pid_exits

t_sigint() { # Ctrl-C: SIGINT ends the capture early, the profile is written, exit 0.
	# A background job starts with SIGINT ignored; a terminal's Ctrl-C
	# reaches a process that has it at its default, so reset it.
	local f=$T/sigint.pb.gz a bp rc=0 d
	spawn "$WL/hot" 15
	a=$!
	running "$a" || { stop "$a"; return 1; }
	env --default-signal=INT "$BPPROF" record -F $HZ -d 30 -p "$a" -o "$f" </dev/null >/dev/null 2>"$f.err" &
	bp=$!
	sleep 3
	kill -INT "$bp"
	for _ in $(seq 100); do
		kill -0 "$bp" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$bp" 2>/dev/null; then
		kill -KILL "$bp"
		wait "$bp" 2>/dev/null || true
		stop "$a"
		echo "still running 10 s after SIGINT"
		return 1
	fi
	wait "$bp" || rc=$?
	stop "$a"
	[ "$rc" -eq 0 ] || { echo "exit status $rc after SIGINT: $(head -3 "$f.err")"; return 1; }
	[ -s "$f" ] || { echo "no profile after SIGINT: $(head -3 "$f.err")"; return 1; }
	strict "$f" || return 1
	d=$(meta "$f" duration_nanos)
	between "duration_nanos, interrupted after 3 s of -d 30" 500000000 "$d" 5000000000 || return 1
	expect_samples "$f" "pid $a" $HZ 1 0.3 -tag "pid=$a"
}
check "SIGINT mid-capture: profile written with the samples so far, exit 0" t_sigint

t_status() { # the command burns CPU, then exits 3: profile written, status reported
	local f=$T/status.pb.gz rc=0
	timeout -k 5 "$LIMIT" "$BPPROF" record -F $HZ -o "$f" -- sh -c "\"$WL/hot\" 1; exit 3" </dev/null >/dev/null 2>"$f.err" || rc=$?
	case $rc in 0 | 3) ;; *) echo "exit status $rc: $(cat "$f.err")"; return 1 ;; esac
	grep -qE '(status|code)[^0-9]*\b3\b' "$f.err" || { echo "stderr does not report status 3: $(cat "$f.err")"; return 1; }
	[ -s "$f" ] || { echo "no profile: $(cat "$f.err")"; return 1; }
	strict "$f" || return 1
	expect_samples "$f" hot_three $HZ 0.7 0.3 -focus '^hot_three$'
}
check "record -- sh -c 'hot 1; exit 3': profile written, status 3 reported" t_status

t_cmd_duration() { # -d ends the capture before the command does
	local f=$T/cmd-d.pb.gz t0 t1 pid
	t0=$(date +%s%N)
	rec cmd-d.pb.gz -F $HZ -d 1 -- "$WL/hot" 8 || return 1
	t1=$(date +%s%N)
	pid=$(values "$f" pid)
	# shellcheck disable=SC2086 # bpprof leaves the command running: stop it
	stop_ours $pid
	between "seconds until record returned" 0 "$(((t1 - t0) / 1000000000))" 4 || return 1
	between "duration_nanos of -d 1" 900000000 "$(meta "$f" duration_nanos)" 1600000000 || return 1
	expect_samples "$f" hot_three $HZ 1 0.3 -focus '^hot_(three|one)$'
}
check "record -d 1 -- hot 8: the capture ends at -d" t_cmd_duration

t_quiet() {
	local f=$T/quiet.pb.gz
	rec quiet.pb.gz --quiet -F $HZ -- "$WL/hot" 0.5 || return 1
	[ ! -s "$f.err" ] || { echo "stderr under --quiet: $(head -3 "$f.err")"; return 1; }
}
check "record --quiet: nothing on stderr" t_quiet

# ---- 9. the host: what a fresh or unusual machine has ----
# Each setting is changed for one check and restored (host_set), or hidden
# in a private mount namespace: the machine is left as it was.

t_no_tracefs() { # every attach works without tracefs, and mounts nothing
	local f=$T/notracefs.pb.gz rc=0
	in_fresh_ns "$BPPROF" record -F $HZ -o "$f" -- "$WL/hot" 1 </dev/null >"$f.out" 2>"$f.err" || rc=$?
	[ "$rc" -eq 0 ] || { echo "exit $rc without tracefs: $(tail -3 "$f.err")"; return 1; }
	strict "$f" || return 1
	expect_samples "$f" hot $HZ 1 0.3 -focus '^hot_(three|one)$'
}
check "record with tracefs and debugfs unmounted (a fresh machine): works, mounts nothing" t_no_tracefs

t_no_btf() { # /sys/kernel/btf hidden: one line that names BTF and what to do
	mkdir -p "$T/empty"
	RUN_AS=(unshare -m --propagation private sh -c 'mount --bind "$0" /sys/kernel/btf && exec "$@"' "$T/empty")
	rec_fails nobtf 'BTF.*CONFIG_DEBUG_INFO_BTF' -d 1
}
check "record on a kernel without BTF: one line naming CONFIG_DEBUG_INFO_BTF, nothing written" t_no_btf
RUN_AS=()

t_kptr_restrict() { # kallsyms shows zeros: the kernel still names its frames per address
	local f=$T/kptr.pb.gz rc=0
	host_set /proc/sys/kernel/kptr_restrict 2 || return 1
	rec kptr.pb.gz -F $HZ -- "$WL/sys" 1 || rc=1
	host_restore || rc=1
	[ "$rc" -eq 0 ] || return 1
	! grep -q 'kptr_restrict' "$f.err" || { echo "kallsyms read: $(grep kptr_restrict "$f.err")"; return 1; }
	"$PPROFCHECK" folded -type samples "$f" | grep -qE "$KERNEL_RE" ||
		{ echo "no named syscall frames"; return 1; }
	expect_samples "$f" sys_spin $HZ 1 0.3 -focus '^sys_spin$'
}
check "record with kernel.kptr_restrict=2: kallsyms hidden, kernel frames named all the same" t_kptr_restrict

t_max_stack() { # kernel.perf_event_max_stack below 127: said once, stacks cut there
	local f=$T/maxstack.pb.gz rc=0 deepest
	host_set /proc/sys/kernel/perf_event_max_stack 3 || return 1
	# frames, not the inline functions source lines add to them (folded
	# shows each as one more frame): --no-lines
	rec maxstack.pb.gz -F $HZ --no-lines -- "$WL/hot" 1 || rc=1
	host_restore || rc=1
	[ "$rc" -eq 0 ] || return 1
	[ "$(grep -c 'perf_event_max_stack is 3' "$f.err")" -eq 1 ] || { echo "want one line naming the sysctl: $(head -3 "$f.err")"; return 1; }
	deepest=$("$PPROFCHECK" folded -type samples "$f" | awk '{ n = split($1, a, ";"); if (n > m) m = n } END { print m + 0 }')
	between "deepest stack (user frames, kernel frames)" 1 "$deepest" 6
}
check "record with kernel.perf_event_max_stack=3: one line saying so, stacks cut at 3 frames" t_max_stack

t_max_rate() { # -F above kernel.perf_event_max_sample_rate: one line naming it
	local rc=0
	host_set /proc/sys/kernel/perf_event_max_sample_rate 1000 || return 1
	rec_fails maxrate 'perf_event_max_sample_rate \(1000\)' -F 4000 -d 1 || rc=1
	host_restore || rc=1
	return $rc
}
check "record -F above kernel.perf_event_max_sample_rate: one line naming the sysctl, nothing written" t_max_rate

t_cgroup_v1() { # a cgroup v1 directory cannot be a BPF filter: said
	local v1
	v1=$(awk '$3 == "cgroup" { print $2; exit }' /proc/mounts)
	[ -n "$v1" ] || { echo "skipped: no cgroup v1 hierarchy"; return 0; }
	rec_fails cgv1 'not a cgroup v2 directory' --cgroup "$v1" -d 1
}
check "record --cgroup of a cgroup v1 directory: one line saying v2 is needed" t_cgroup_v1

t_hotplug() { # a CPU taken offline and back mid-capture is sampled again
	local f=$T/hotplug.pb.gz cpu=/sys/devices/system/cpu/cpu1/online rec_pid a rc=0
	[ -w "$cpu" ] && [ "$(cat "$cpu")" = 1 ] || { echo "skipped: CPU 1 cannot be taken offline here"; return 0; }
	timeout -k 5 "$LIMIT" "$BPPROF" record -F $HZ -d 6 -o "$f" </dev/null >"$f.out" 2>"$f.err" &
	rec_pid=$!
	sleep 1
	host_set "$cpu" 0 && sleep 1 && echo 1 >"$cpu" || rc=1
	sleep 1.5
	# pinned to the CPU that came back: only its new event can see it
	spawn taskset -c 1 "$WL/hot" 2
	a=$!
	wait "$rec_pid" || rc=1
	stop "$a"
	host_restore || rc=1
	[ "$rc" -eq 0 ] || { echo "record or the CPU toggle failed: $(tail -3 "$f.err")"; return 1; }
	grep -q 'CPU 1 came online' "$f.err" || { echo "not said: $(head -3 "$f.err")"; return 1; }
	expect_samples "$f" "hot on CPU 1 after it came back" $HZ 2 0.3 -focus '^hot_(three|one)$'
}
check "record with a CPU taken offline and back mid-capture: that CPU sampled again, said" t_hotplug

finish
