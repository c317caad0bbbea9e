#!/usr/bin/env bash
# End-to-end tests of off-CPU profiling (`bpprof record --off-cpu`, `run
# --off-cpu`), for real: tests/workloads/waits waits in named functions for
# times it measures itself (sleeps, a pipe, a mutex, two spinners on one
# CPU, threads killed while blocked), and every profile is judged by
# google/pprof's own parser (pprofcheck). One peer: bpftrace's accounting of
# the same sched_switch events (in a private mount namespace where tracefs
# is mounted for it; bpprof needs none). Needs root; without it prints
# "skip: needs root" and passes.
#   BUILD=build tests/e2e-offcpu.sh   (make e2e-offcpu)
#   WORKLOADS=DIR, BPPROF=, PPROFCHECK=, RECEIVER=, KEEP=1, ONLY=REGEX as in tests/lib.sh
# Tolerances: a wait is timed from the switch-out to the switch-in, which is
# what the workload's own clock around the system call also sees (plus a
# few microseconds of system call), so totals are held to 10% of the
# workload's measure (the issue's bound) and ratios to 10% too; a loaded
# machine lengthens both sides alike. CPU time comes from sampling at
# 999 Hz: over a second of CPU that is 1,000 samples, 3% (1 sigma).
set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "e2e-offcpu: skip: needs root (bpprof record --off-cpu loads BPF programs)"
	exit 0
fi
SUITE=e2e-offcpu
EXCLUSIVE=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
WL=$(cd -P "${WORKLOADS:-$build/workloads}" 2>/dev/null && pwd) ||
	{ echo "$SUITE: no workloads in ${WORKLOADS:-$build/workloads} (make workloads)" >&2; exit 2; }
need_tools "$BPPROF" "$PPROFCHECK" "$RECEIVER" "$WL/waits"

LIMIT=60 # seconds any one record may take before it counts as hung
STATES="idle other runnable sleeping stopped uninterruptible"

# rec OUT ARGS...: bpprof record -o $T/OUT ARGS, which must exit 0 and write
# OUT; the command's stdout (the workload's measures) in $T/OUT.out, stderr
# in $T/OUT.err. A pprof OUT must pass google/pprof's parser, ids 1..N.
# The hypervisor's steal time so far, all CPUs, in ns (USER_HZ ticks of /proc/stat).
steal_ns() {
	awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { printf "%.0f\n", $9 * 1e9 / hz; exit }' /proc/stat
}
rec() {
	local out=$T/$1 rc=0 stolen
	shift
	rm -f "$out"
	stolen=$(steal_ns)
	timeout -k 5 "$LIMIT" "$BPPROF" record -o "$out" "$@" </dev/null >"$out.out" 2>"$out.err" || rc=$?
	echo $(($(steal_ns) - stolen)) >"$out.steal"
	[ "$rc" -ne 124 ] || { echo "bpprof record $* still running after $LIMIT s"; return 1; }
	[ "$rc" -eq 0 ] || { echo "bpprof record $* exited $rc: $(tail -5 "$out.err")"; return 1; }
	[ -s "$out" ] || { echo "bpprof record $* wrote no $out; stderr: $(tail -3 "$out.err")"; return 1; }
	case $out in
	*.pb.gz | *.pb) strict "$out" ;;
	esac
}
have() {
	local f
	for f in "$@"; do
		[ -s "$f" ] || { echo "no $f (the check that writes it failed)"; return 1; }
	done
}
meta() { "$PPROFCHECK" summary "$1" | sed -n "s/^$2: //p"; }
# measured OUT KEY: what the workload printed as KEY=VALUE
measured() { sed -n "s/^$2=//p" "$T/$1.out" | head -1; }
# off FILE TYPE [FILTER...]: the sum of sample type TYPE over the filtered samples
off() {
	local f=$1 t=$2
	shift 2
	"$PPROFCHECK" folded -type "$t" "$@" "$f" | awk '{ s += $NF } END { printf "%.0f\n", s }'
}
# fn FILE TYPE FUNC [FILTER...]: FUNC's cumulative TYPE (0 when absent)
fn() {
	local f=$1 t=$2 name=$3
	shift 3
	"$PPROFCHECK" top -type "$t" "$@" "$f" | awk -v n="$name" '$3 == n { c = $2 } END { print c + 0 }'
}
at_least() { awk -v g="$2" -v w="$3" 'BEGIN { exit !(g >= w) }' || { echo "$1: $2, want at least $3"; return 1; }; }
between() { awk -v l="$2" -v g="$3" -v h="$4" 'BEGIN { exit !(g >= l && g <= h) }' || { echo "$1: $3, want $2..$4"; return 1; }; }
# near_wall WHAT GOT WANT FILE: time GOT (off-CPU, or CPU plus off-CPU)
# within 10% of the wall time WANT a workload measured during FILE's run,
# down to 10% under WANT less what the hypervisor stole meanwhile: a
# thread it stole from while running is neither on its CPU clock nor
# switched out (this machine's steal, so the expectation is the machine's)
near_wall() {
	local stolen
	stolen=$(cat "$T/$4.steal" 2>/dev/null || echo 0)
	[ "${3:-0}" -gt 0 ] || { echo "$1: no wall time measured"; return 1; }
	between "$1, $3 +-10% (less the $stolen ns stolen meanwhile)" \
		$((($3 - stolen) * 9 / 10)) "${2:-0}" $(($3 * 11 / 10))
}
# near WHAT GOT WANT PCT: GOT within PCT% of WANT
near() {
	awk -v g="$2" -v w="$3" -v p="$4" 'BEGIN { exit !(w > 0 && g >= w * (1 - p / 100) && g <= w * (1 + p / 100)) }' ||
		{ echo "$1: $2, want $3 +-$4% ($(awk -v g="$2" -v w="$3" 'BEGIN { printf "%.3f", w ? g / w : 0 }')x)"; return 1; }
}
running() {
	for _ in $(seq 100); do
		case $(readlink "/proc/$1/exe" 2>/dev/null) in "$WL"/*) return 0 ;; esac
		sleep 0.02
	done
	echo "workload pid $1 never started"
	return 1
}
# values FILE KEY [FILTER...]: the values label KEY takes, sorted, space-separated
values() {
	local f=$1 k=$2
	shift 2
	"$PPROFCHECK" bylabel -type off_cpu "$@" "$f" "$k" | awk '{ print $1 }' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}

# ---- 1. sleeps: two named functions, 20 ms and 10 ms, 20 times each ----

N=20
t_sleeps() { rec sleeps.pb.gz --off-cpu -- "$WL/waits" sleeps $N; }
check "record --off-cpu -- waits sleeps $N: exit 0, a profile google/pprof reads" t_sleeps

t_sleeps_meta() {
	local f=$T/sleeps.pb.gz got
	have "$f" || return 1
	got=$(meta "$f" sample_types)
	[ "$got" = "off_cpu_samples/count off_cpu/nanoseconds" ] || { echo "sample types [$got]"; return 1; }
	got=$(meta "$f" default_sample_type)
	[ "$got" = off_cpu ] || { echo "default sample type [$got], want off_cpu"; return 1; }
	got=$(meta "$f" period_type)
	[ "$got" = off_cpu/nanoseconds ] || { echo "period type [$got], want off_cpu/nanoseconds"; return 1; }
	meta "$f" comments | grep -q "waits of 1 ms or more" || { echo "no comment naming the threshold: $(meta "$f" comments)"; return 1; }
}
check "record --off-cpu: off_cpu_samples/count and off_cpu/nanoseconds (the default), the threshold in a comment" t_sleeps_meta

t_sleeps_ratio() {
	local f=$T/sleeps.pb.gz twenty ten
	have "$f" || return 1
	twenty=$(fn "$f" off_cpu sleep_twenty -tag thread_comm=sleeper)
	ten=$(fn "$f" off_cpu sleep_ten -tag thread_comm=sleeper)
	at_least "sleep_ten's off-CPU ns" "$ten" 1 || return 1
	near "sleep_twenty / sleep_ten" "$(awk -v a="$twenty" -v b="$ten" 'BEGIN { print a / b }')" 2 10
}
check "record --off-cpu -- waits sleeps: off_cpu of sleep_twenty / sleep_ten = 2 (+-10%)" t_sleeps_ratio

t_sleeps_totals() {
	local f=$T/sleeps.pb.gz
	have "$f" || return 1
	near_wall "sleep_twenty's off_cpu ns against the wall clock it slept" \
		"$(fn "$f" off_cpu sleep_twenty)" "$(measured sleeps.pb.gz twenty_ns)" sleeps.pb.gz || return 1
	near_wall "sleep_ten's off_cpu ns against the wall clock it slept" \
		"$(fn "$f" off_cpu sleep_ten)" "$(measured sleeps.pb.gz ten_ns)" sleeps.pb.gz || return 1
	# one wait per call, each asleep
	[ "$(fn "$f" off_cpu_samples sleep_twenty -tag state=sleeping)" = $N ] ||
		{ echo "sleep_twenty's sleeping waits: $(fn "$f" off_cpu_samples sleep_twenty -tag state=sleeping), want $N"; return 1; }
	[ "$(fn "$f" off_cpu_samples sleep_ten -tag state=sleeping)" = $N ] ||
		{ echo "sleep_ten's sleeping waits: $(fn "$f" off_cpu_samples sleep_ten -tag state=sleeping), want $N"; return 1; }
}
check "record --off-cpu -- waits sleeps: each function's off_cpu within 10% of the wall clock it slept, $N waits each" t_sleeps_totals

t_sleeps_stacks() {
	local f=$T/sleeps.pb.gz st
	have "$f" || return 1
	# root first: the thread's function, the named one, then the kernel down to schedule
	st=$("$PPROFCHECK" folded -type off_cpu -focus '^sleep_twenty$' "$f" | head -1)
	echo "$st" | grep -qE '(^|;)sleeper;sleep_twenty;.*do_nanosleep;.*schedule' ||
		{ echo "sleep_twenty's stack: $st"; return 1; }
	# the tracepoint's own frames are not where a thread waits: left out
	if "$PPROFCHECK" folded -type off_cpu "$f" | grep -qE 'bpf_prog_|bpf_trace_run|__traceiter_'; then
		echo "tracing frames in the stacks: $("$PPROFCHECK" folded -type off_cpu "$f" | grep -E 'bpf_prog_|bpf_trace_run' | head -2)"
		return 1
	fi
	"$PPROFCHECK" folded -type off_cpu "$f" | awk '{ sub(/ [0-9]+$/, ""); n = split($0, a, ";"); print a[n] }' | sort -u | grep -qvx '__schedule' &&
		{ echo "a kernel leaf other than __schedule: $("$PPROFCHECK" folded -type off_cpu "$f" | head -3)"; return 1; }
	return 0
}
check "record --off-cpu: stacks run thread -> named function -> kernel -> __schedule, no tracepoint frames" t_sleeps_stacks

t_sleeps_labels() {
	local f=$T/sleeps.pb.gz got pid
	have "$f" || return 1
	got=$(values "$f" comm)
	[ "$got" = waits ] || { echo "comm values [$got], want [waits]"; return 1; }
	got=$(values "$f" thread_comm)
	[ "$got" = "sleeper waits" ] || { echo "thread_comm values [$got], want [sleeper waits]"; return 1; }
	for got in $(values "$f" state); do
		case " $STATES " in *" $got "*) ;; *) echo "state value $got"; return 1 ;; esac
	done
	"$PPROFCHECK" labels "$f" | grep -q '^#pid=' || { echo "pid is not numeric"; return 1; }
	"$PPROFCHECK" labels "$f" | grep -q '^#tid=' || { echo "tid is not numeric"; return 1; }
	pid=$(values "$f" pid)
	[ "$(echo "$pid" | wc -w)" = 1 ] || { echo "pid values [$pid], want one"; return 1; }
	[ "$(values "$f" tid -tag thread_comm=sleeper)" != "$pid" ] || { echo "the sleeper's tid is the pid"; return 1; }
}
check "record --off-cpu: labels pid, tid (numeric), comm, thread_comm and state" t_sleeps_labels

t_sleeps_summary() {
	local f=$T/sleeps.pb.gz
	have "$f" || return 1
	grep -qE "^off-CPU: [0-9]+ waits of 1 ms or more \([0-9.]+ s\), 0 lost; [0-9]+ shorter ones \([0-9.]+ s\) not recorded, [0-9.]+% of frames unsymbolized, [0-9.]+ s → .*sleeps.pb.gz; .*waits exited with status 0$" "$f.err" ||
		{ echo "summary: $(cat "$f.err")"; return 1; }
}
check "record --off-cpu: one summary line (waits, lost, shorter ones only counted, the command's status)" t_sleeps_summary

# ---- 2. a pipe, a mutex, threads that exit while blocked ----

t_pipe() {
	local f=$T/pipe.pb.gz
	rec pipe.pb.gz --off-cpu -- "$WL/waits" pipe 200 || return 1
	near_wall "the reader's off_cpu in read_pipe against the wall clock it blocked" \
		"$(fn "$f" off_cpu read_pipe -tag thread_comm=reader -tag state=sleeping)" "$(measured pipe.pb.gz blocked_ns)" pipe.pb.gz || return 1
	[ "$(fn "$f" off_cpu_samples read_pipe)" = 1 ] || { echo "read_pipe's waits: $(fn "$f" off_cpu_samples read_pipe), want 1"; return 1; }
	"$PPROFCHECK" folded -type off_cpu -focus '^read_pipe$' "$f" | grep -qE 'read_pipe;.*vfs_read;.*pipe_read;' ||
		{ echo "read_pipe's stack: $("$PPROFCHECK" folded -type off_cpu -focus '^read_pipe$' "$f")"; return 1; }
}
check "record --off-cpu -- waits pipe 200: the reader blocked in read_pipe -> pipe_read for the time it measured (+-10%)" t_pipe

t_mutex() {
	local f=$T/mutex.pb.gz got only
	rec mutex.pb.gz --off-cpu -- "$WL/waits" mutex 200 || return 1
	# Under frame pointers the walk from glibc's futex wait skips its
	# caller (contend), so the thread's own function stands for it.
	got=$(fn "$f" off_cpu waiter -tag thread_comm=waiter -focus 'futex_wait')
	near_wall "the waiter's off_cpu in futex_wait against the wall clock it waited for the lock" \
		"$got" "$(measured mutex.pb.gz blocked_ns)" mutex.pb.gz || return 1
	only=$(values "$f" state -tag thread_comm=waiter -focus futex_wait)
	[ "$only" = sleeping ] || { echo "the waiter's futex wait in states [$only]"; return 1; }
}
check "record --off-cpu -- waits mutex 200: the waiter blocked in futex_wait for the time it measured (+-10%)" t_mutex

t_exit_blocked() {
	local f=$T/exit.pb.gz t
	rec exit.pb.gz --off-cpu -- "$WL/waits" exit 200 || return 1
	for t in stuck-1 stuck-2; do
		between "$t's off_cpu ns in stuck (blocked until the process exited after 200 ms)" \
			180000000 "$(fn "$f" off_cpu stuck -tag thread_comm=$t)" 240000000 || return 1
	done
	"$PPROFCHECK" folded -type off_cpu -tag thread_comm=stuck-1 "$f" | grep -q 'stuck_main;stuck;.*pipe_read' ||
		{ echo "stuck-1's stack (symbolized after the process was gone): $("$PPROFCHECK" folded -type off_cpu -tag thread_comm=stuck-1 "$f")"; return 1; }
}
check "record --off-cpu -- waits exit 200: threads killed while blocked are charged their wait, symbolized" t_exit_blocked

# ---- 3. runnable: two spinners on one CPU ----

t_spinners() {
	local f=$T/spin.pb.gz t got
	rec spin.pb.gz --off-cpu --off-cpu-min 100us -- taskset -c 0 "$WL/waits" spin 2 || return 1
	for t in spin-a spin-b; do
		# sharing a CPU, each waits about half the time, preempted
		got=$(off "$f" off_cpu -tag thread_comm=$t -tag state=runnable)
		between "$t's runnable off_cpu ns over 2 s of spinning" 600000000 "$got" 1700000000 || return 1
		got=$(fn "$f" off_cpu spin -tag thread_comm=$t -tag state=runnable)
		at_least "$t's runnable off_cpu ns with spin() on its stack" "$got" 500000000 || return 1
	done
}
check "record --off-cpu -- taskset -c 0 waits spin 2: each spinner waits preempted (state runnable) in spin()" t_spinners

# ---- 4. CPU and off-CPU in one profile: per thread they add up to wall time ----

t_mixed() {
	local f=$T/mixed.pb.gz tid wall cpu offc line got stolen
	rec mixed.pb.gz --cpu --off-cpu --off-cpu-min 0 -F 999 -- "$WL/waits" mixed 60 || return 1
	stolen=$(cat "$f.steal")
	got=$(meta "$f" sample_types)
	[ "$got" = "samples/count cpu/nanoseconds off_cpu/nanoseconds" ] || { echo "sample types [$got]"; return 1; }
	got=$(meta "$f" default_sample_type)
	[ "$got" = cpu ] || { echo "default sample type [$got], want cpu"; return 1; }
	[ "$(grep -c '^tid=' "$f.out")" = 2 ] || { echo "workload output: $(cat "$f.out")"; return 1; }
	while read -r line; do
		tid=$(echo "$line" | sed -n 's/.*tid=\([0-9]*\).*/\1/p')
		wall=$(echo "$line" | sed -n 's/.*wall_ns=\([0-9]*\).*/\1/p')
		cpu=$(off "$f" cpu -tag tid="$tid")
		offc=$(off "$f" off_cpu -tag tid="$tid")
		near_wall "tid $tid: cpu $cpu + off_cpu $offc ns against its wall time" \
			$((cpu + offc)) "$wall" mixed.pb.gz || return 1
	done <"$f.out"
	# the mixer burned half its time: sampling sees it (cpu-clock samples
	# count stolen time its own CPU clock does not: up to that much more,
	# the other way round from near_wall)
	line=$(grep -v "tid=$(values "$f" pid)" "$f.out" | head -1)
	tid=$(echo "$line" | sed -n 's/.*tid=\([0-9]*\).*/\1/p')
	cpu=$(off "$f" cpu -tag tid="$tid")
	got=$(echo "$line" | sed -n 's/.*cpu_ns=\([0-9]*\).*/\1/p')
	[ "${got:-0}" -gt 0 ] || { echo "the mixer measured no CPU time: $line"; return 1; }
	between "the mixer's cpu ns against the CPU time it measured, $got +-10% (plus up to the $stolen ns stolen meanwhile)" \
		$((got * 9 / 10)) "$cpu" $(((got + stolen) * 11 / 10))
}
check "record --cpu --off-cpu -- waits mixed: samples, cpu, off_cpu in one profile; per thread cpu + off_cpu = wall time (+-10%; less the machine's steal time)" t_mixed

t_mixed_views() {
	local f=$T/mixed.pb.gz
	have "$f" || return 1
	# each view holds only its own kind: CPU samples have no state, waits do
	[ "$(off "$f" cpu -tag state=sleeping)" = 0 ] || { echo "CPU time on waits"; return 1; }
	[ "$(off "$f" samples -tag state=sleeping)" = 0 ] || { echo "samples on waits"; return 1; }
	at_least "nap's off_cpu ns" "$(fn "$f" off_cpu nap -tag state=sleeping)" 500000000 || return 1
	at_least "burn's cpu ns" "$(fn "$f" cpu burn)" 400000000
}
check "record --cpu --off-cpu: the cpu view has burn(), the off_cpu view nap() (state sleeping), neither the other's" t_mixed_views

# ---- 5. filters: pid and cgroup, whole system ----

t_pid_filter() {
	local f=$T/pid.pb.gz a b rc=0 got
	spawn "$WL/waits" forever
	a=$!
	spawn "$WL/waits" forever
	b=$!
	{ running "$a" && running "$b" && rec pid.pb.gz --off-cpu -p "$a" -d 1; } || rc=1
	stop "$a" "$b"
	[ "$rc" -eq 0 ] || return 1
	got=$(values "$f" pid)
	[ "$got" = "$a" ] || { echo "pid values [$got], want [$a] (not $b)"; return 1; }
	# the waits that ended within the second: most of it
	at_least "the sleeper's off_cpu ns in 1 s" "$(off "$f" off_cpu -tag thread_comm=sleeper)" 800000000
}
check "record --off-cpu -p PID: that process's waits only" t_pid_filter

t_cgroup() {
	local root2 cg f=$T/cgroup.pb.gz a b rc=0 got
	root2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$root2" ] || { echo "skipped: no cgroup2 mount"; return 0; }
	cg=$root2/bpprof-offcpu-$$
	mkdir "$cg" || return 1
	spawn "$WL/waits" forever
	a=$!
	spawn "$WL/waits" forever
	b=$!
	{ running "$a" && running "$b" && echo "$a" >"$cg/cgroup.procs" &&
		rec cgroup.pb.gz --off-cpu --cgroup "$cg" -d 1; } || rc=1
	stop "$a" "$b"
	rmdir "$cg" 2>/dev/null || true
	[ "$rc" -eq 0 ] || return 1
	got=$(values "$f" pid)
	[ "$got" = "$a" ] || { echo "pid values [$got], want [$a] (not $b)"; return 1; }
	at_least "the sleeper's off_cpu ns in 1 s" "$(off "$f" off_cpu -tag thread_comm=sleeper)" 800000000
}
check "record --off-cpu --cgroup PATH: that cgroup's waits only" t_cgroup

t_whole_system() {
	local f=$T/system.pb.gz a rc=0 got
	spawn "$WL/waits" forever
	a=$!
	{ running "$a" && rec system.pb.gz --off-cpu -d 1; } || rc=1
	stop "$a"
	[ "$rc" -eq 0 ] || return 1
	at_least "the sleeper's off_cpu ns in 1 s of the whole system" \
		"$(off "$f" off_cpu -tag pid="$a" -tag thread_comm=sleeper)" 800000000 || return 1
	at_least "processes seen" "$(values "$f" pid | wc -w)" 2 || return 1
	for got in $(values "$f" state); do
		case " $STATES " in *" $got "*) ;; *) echo "state value $got"; return 1 ;; esac
	done
}
check "record --off-cpu -d 1 (whole system): every process's waits, states from the known set" t_whole_system

# ---- 6. folded output, the walk older kernels use, errors ----

t_folded() {
	local f=$T/sleeps.folded
	rec sleeps.folded --off-cpu -- "$WL/waits" sleeps 10 || return 1
	grep -q '^waits;' "$f" && { echo "folded lines start with the process name"; return 1; }
	near_wall "folded sleep_twenty lines (nanoseconds) against the wall clock it slept" \
		"$(grep 'sleep_twenty' "$f" | awk '{ s += $NF } END { print s }')" "$(measured sleeps.folded twenty_ns)" sleeps.folded
}
check "record --off-cpu --format folded: values are nanoseconds blocked (as offcputime -f)" t_folded

t_switch_out_walk() {
	local f=$T/old.pb.gz
	BPPROF_OFFCPU_WALK=switch-out rec old.pb.gz --off-cpu -- "$WL/waits" sleeps 10 || return 1
	grep -q 'stacks are walked at every switch-out' "$f.err" || { echo "not said: $(cat "$f.err")"; return 1; }
	near "sleep_twenty / sleep_ten" "$(awk -v a="$(fn "$f" off_cpu sleep_twenty)" -v b="$(fn "$f" off_cpu sleep_ten)" 'BEGIN { print b ? a / b : 0 }')" 2 10 || return 1
	near_wall "sleep_twenty's off_cpu ns against the wall clock it slept" \
		"$(fn "$f" off_cpu sleep_twenty)" "$(measured old.pb.gz twenty_ns)" old.pb.gz || return 1
	"$PPROFCHECK" folded -type off_cpu -focus '^sleep_twenty$' "$f" | grep -qE 'sleeper;sleep_twenty;.*do_nanosleep;.*schedule' ||
		{ echo "stack: $("$PPROFCHECK" folded -type off_cpu -focus '^sleep_twenty$' "$f")"; return 1; }
	if "$PPROFCHECK" folded -type off_cpu "$f" | grep -qE 'bpf_prog_|bpf_trace_run'; then
		echo "tracing frames in the stacks"
		return 1
	fi
}
check "record --off-cpu, stacks walked at each switch-out (kernels before 6.16): the same profile" t_switch_out_walk

# usage_fails NAME WANT ARGS...: exit 2, WANT said, nothing written
usage_fails() {
	local name=$1 want=$2 d=$T/$1 rc=0
	shift 2
	mkdir -p "$d"
	"$BPPROF" record -o "$d/out" "$@" </dev/null >"$T/$name.out" 2>"$T/$name.err" || rc=$?
	[ "$rc" -eq 2 ] || { echo "exit status $rc, want 2: $(cat "$T/$name.err")"; return 1; }
	grep -qiE -- "$want" "$T/$name.err" || { echo "stderr does not match '$want': $(cat "$T/$name.err")"; return 1; }
	[ -z "$(ls -A "$d")" ] || { echo "wrote: $(ls -A "$d")"; return 1; }
}
t_usage() {
	usage_fails min-alone 'off-cpu-min needs --off-cpu' --off-cpu-min 5ms -d 1 || return 1
	usage_fails min-bad "bad --off-cpu-min 'soon'" --off-cpu --off-cpu-min soon -d 1 || return 1
	usage_fails min-neg "bad --off-cpu-min '-1ms'" --off-cpu --off-cpu-min -1ms -d 1 || return 1
	usage_fails min-huge "bad --off-cpu-min '2h'" --off-cpu --off-cpu-min 2h -d 1 || return 1
	usage_fails both-folded 'folded stacks hold one number' --cpu --off-cpu --format folded -d 1 || return 1
	BPPROF_OFFCPU_WALK=out usage_fails walk-bad "BPPROF_OFFCPU_WALK='out'" --off-cpu -d 1
}
check "record --off-cpu: bad --off-cpu-min or BPPROF_OFFCPU_WALK, folded CPU and off-CPU together: a usage error, nothing written" t_usage

# ---- 7. a peer: bpftrace's sum of the same sched_switch intervals ----

t_bpftrace_peer() {
	local f=$T/peer.pb.gz pid rc=0 tid got want
	command -v bpftrace >/dev/null || { echo "skipped: no bpftrace"; return 0; }
	# the sleeper starts after 3 s, when both tools are attached
	spawn "$WL/waits" sleeps 30 3000
	pid=$!
	running "$pid" || return 1
	# bpftrace's tracepoints need tracefs: mounted for it alone, in a
	# private mount namespace that ends with it. Some kernels run no
	# program on a switch away from some threads (this sandbox's agent,
	# README, Off-CPU "How"): a wait whose switch-in was not traced ends, as in
	# bpprof, in the thread itself, at its next system call's exit (the
	# sleeper's nanosleep returning), microseconds after it got the CPU.
	# shellcheck disable=SC2016 # expanded by that sh
	unshare -m --propagation private sh -c '
		mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || mount -t tracefs nodev /sys/kernel/debug/tracing || exit 125
		exec bpftrace -e "
			tracepoint:sched:sched_switch /args->prev_pid != 0 && pid == $0/ { @start[args->prev_pid] = nsecs; }
			tracepoint:sched:sched_switch /@start[args->next_pid]/ {
				\$d = nsecs - @start[args->next_pid];
				if (\$d >= 1000000) { @ns[args->next_pid] = sum(\$d); }
				delete(@start[args->next_pid]);
			}
			tracepoint:raw_syscalls:sys_exit /@start[tid]/ {
				\$d = nsecs - @start[tid];
				if (\$d >= 1000000) { @ns[tid] = sum(\$d); @late = count(); }
				delete(@start[tid]);
			}
			interval:s:10 { exit(); }"' "$pid" >"$T/peer.bt" 2>&1 &
	local bt=$!
	rec peer.pb.gz --off-cpu -p "$pid" || rc=1
	kill -INT "$bt" 2>/dev/null || true
	wait "$bt" || true
	[ "$rc" -eq 0 ] || return 1
	grep -q '^@ns\[' "$T/peer.bt" || { echo "bpftrace said: $(head -5 "$T/peer.bt")"; return 1; }
	tid=$(values "$f" tid -tag thread_comm=sleeper)
	want=$(sed -n "s/^@ns\[$tid\]: //p" "$T/peer.bt")
	got=$(off "$f" off_cpu -tag tid="$tid")
	near "the sleeper's off_cpu ns (waits >= 1 ms) against bpftrace's" "$got" "$want" 2
}
check "record --off-cpu -p PID: the sleeper's off-CPU time within 2% of bpftrace's sched_switch accounting" t_bpftrace_peer

# ---- 8. the daemon: windows of their own, pushed as off_cpu ----

receiver_start r
R="http://127.0.0.1:$(rport r)"

t_daemon() {
	local d=$T/win a rc=0 files f total=0 logged lost n
	spawn "$WL/waits" forever
	a=$!
	running "$a" || return 1
	"$BPPROF" run --cpu --off-cpu -p "$a" -o "$d" --interval 1s --push "$R" --api push --app offd \
		</dev/null >"$T/daemon.out" 2>"$T/daemon.err" &
	local dp=$!
	sleep 3.5
	kill -TERM "$dp"
	wait "$dp" || rc=$?
	stop "$a"
	[ "$rc" -eq 0 ] || { echo "exit $rc: $(cat "$T/daemon.err")"; return 1; }
	files=$(ls "$d"/offcpu-*.pb.gz 2>/dev/null) || { echo "no offcpu windows: $(ls "$d")"; return 1; }
	ls "$d"/cpu-*.pb.gz >/dev/null 2>&1 || { echo "no cpu windows: $(ls "$d")"; return 1; }
	n=$(echo "$files" | wc -l)
	[ "$n" -ge 3 ] || { echo "$n off-CPU windows in 3.5 s"; return 1; }
	for f in $files; do
		strict "$f" || return 1
		[ "$(meta "$f" sample_types)" = "off_cpu_samples/count off_cpu/nanoseconds" ] || { echo "$f: types $(meta "$f" sample_types)"; return 1; }
		total=$((total + $("$PPROFCHECK" total "$f" off_cpu_samples)))
	done
	# every wait BPF recorded is in exactly one window
	logged=$(sed -n 's/.*offcpu window .*: \([0-9]*\) waits, \([0-9]*\) lost.*/\1/p' "$T/daemon.err" | paste -sd+ | bc)
	lost=$(sed -n 's/.*offcpu window .*: \([0-9]*\) waits, \([0-9]*\) lost.*/\2/p' "$T/daemon.err" | paste -sd+ | bc)
	[ "$total" -eq $((logged - lost)) ] || { echo "windows hold $total waits, BPF counted $logged ($lost lost)"; return 1; }
	at_least "waits in 3.5 s of a sleeper" "$total" 100 || return 1
	# pushed as its own profile type, next to process_cpu
	[ "$(rlog r 'select(.stored and .labels.service_name == "offd") | .name' | sort -u | tr -d '"' | tr '\n' ' ')" = "off_cpu process_cpu " ] ||
		{ echo "pushed names: $(rlog r 'select(.labels.service_name == "offd") | .name' | sort | uniq -c | tr '\n' ' ')"; return 1; }
}
check "run --cpu --off-cpu: offcpu-TIME windows beside cpu ones, every wait in one window, pushed with __name__ off_cpu" t_daemon

t_daemon_ingest_metrics() {
	local a port rc=0
	port=$(receiver_start probe_port >/dev/null && rport probe_port && receiver_stop probe_port)
	spawn "$WL/waits" forever
	a=$!
	running "$a" || return 1
	printf 'off-cpu = true\noff-cpu-min = 5ms\npid = %s\ninterval = 1s\npush = %s\napp = offi\nmetrics-addr = %s\n' \
		"$a" "$R" "$port" >"$T/off.ini"
	"$BPPROF" run --config "$T/off.ini" </dev/null >"$T/ingest.out" 2>"$T/ingest.err" &
	local dp=$!
	sleep 2.5
	curl -sf "http://127.0.0.1:$port/metrics" >"$T/off-metrics.txt" || rc=1
	kill -TERM "$dp"
	wait "$dp" || rc=$?
	stop "$a"
	[ "$rc" -eq 0 ] || { echo "exit $rc: $(cat "$T/ingest.err")"; return 1; }
	grep -qE '^bpprof_samples_total\{type="offcpu"\} [1-9]' "$T/off-metrics.txt" ||
		{ echo "no off-CPU samples in /metrics: $(grep samples "$T/off-metrics.txt")"; return 1; }
	grep -q '^bpprof_samples_lost_total{type="offcpu"} 0' "$T/off-metrics.txt" || { echo "losses: $(grep lost "$T/off-metrics.txt")"; return 1; }
	at_least "windows stored through /ingest" "$(rlog r 'select(.stored and .app == "offi") | .seq' | wc -l)" 1 || return 1
	# only off-CPU was asked for: no CPU windows
	grep -qE '(^|[ :])cpu window' "$T/ingest.err" && { echo "CPU windows: $(grep -E '(^|[ :])cpu window' "$T/ingest.err" | head -2)"; return 1; }
	grep -q 'offcpu window' "$T/ingest.err" || { echo "no offcpu window lines: $(cat "$T/ingest.err")"; return 1; }
}
check "run --config (off-cpu = true): off-CPU windows alone, through /ingest, counted in /metrics" t_daemon_ingest_metrics

finish
