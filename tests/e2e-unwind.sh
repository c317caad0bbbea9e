#!/usr/bin/env bash
# End-to-end tests of user stacks without frame pointers: bpprof record of
# programs built -O2 -fomit-frame-pointer (tests/workloads/unwind: a chain
# with a 128 KiB frame, glibc's qsort calling back, recursion past the frame
# limit, a signal handler, a second thread, vfork, a dlopened library, an
# allocation inside glibc), of python3, and of a JIT; each expected chain
# must hold for >= 99% of its hot function's samples. Judged against peers:
# the tables against binutils' readelf (libc, python3, ld.so, the vDSO of
# this machine), the caller->callee edges against perf record --call-graph
# dwarf, python3's stacks reaching _start against perf too. Needs root;
# without it prints "skip: needs root" and passes.
#   BUILD=build tests/e2e-unwind.sh        (make e2e-unwind)
#   BPPROF=, PPROFCHECK=, KEEP=1, ONLY=REGEX as in tests/lib.sh
set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "e2e-unwind: skip: needs root (bpprof record loads BPF programs, perf record -a)"
	exit 0
fi
SUITE=e2e-unwind
EXCLUSIVE=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
WL=$(cd -P "${WORKLOADS:-$build/workloads}" 2>/dev/null && pwd) ||
	{ echo "$SUITE: no workloads in ${WORKLOADS:-$build/workloads} (make workloads)" >&2; exit 2; }
UNWIND_TEST=${UNWIND_TEST:-$build/test/unwind/unwind_test}
PY=$(readlink -f /usr/bin/python3)
need_tools "$BPPROF" "$PPROFCHECK" "$UNWIND_TEST" "$WL/unwind" "$WL/unwind-nocfi" "$WL/jit" "$PY"
command -v perf >/dev/null || { echo "$SUITE: perf not installed (make deps)" >&2; exit 2; }

HZ=499
SECS=3
LIMIT=90

# rec OUT ARGS...: bpprof record -o $T/OUT ARGS, exit 0, a profile google/pprof
# reads; stderr in $T/OUT.err
rec() {
	local out=$T/$1 rc=0
	shift
	rm -f "$out"
	timeout -k 5 "$LIMIT" "$BPPROF" record -o "$out" "$@" </dev/null >"$out.out" 2>"$out.err" || rc=$?
	[ "$rc" -eq 0 ] || { echo "bpprof record $* exited $rc: $(tail -3 "$out.err")"; return 1; }
	[ -s "$out" ] || { echo "bpprof record $* wrote nothing: $(tail -3 "$out.err")"; return 1; }
	strict "$out"
}
have() { [ -s "$1" ] || { echo "no profile $1 (its record check failed)"; return 1; }; }
at_least() { awk -v g="$2" -v w="$3" 'BEGIN { exit !(g >= w) }' || { echo "$1: $2, want at least $3"; return 1; }; }

# chains FILE FUNC WANT_RE [FILTER...]: >= 99% of the samples holding FUNC
# (and at least 100 of them) match WANT_RE (a regex over the folded stack,
# root first, kernel frames after the user leaf)
chains() {
	local f=$1 fn=$2 want=$3
	shift 3
	"$PPROFCHECK" folded -type samples -focus "^$fn\$" "$@" "$f" >"$f.$fn.folded" || return 1
	awk -v fn="$fn" -v want="$want" '
		{ n = $NF; t += n; s = $0; sub(/ [0-9]+$/, "", s) }
		s ~ want { ok += n; next }
		{ if (!ex) ex = $0 }
		END {
			if (t < 100) { printf "only %d samples of %s\n", t, fn; exit 1 }
			if (ok < t * 0.99) { printf "%d of %d samples of %s match %s; e.g. %s\n", ok, t, fn, want, ex; exit 1 }
		}' "$f.$fn.folded" || { echo "stacks: $(sort -t' ' -k2 -nr "$f.$fn.folded" | head -3 | cut -c1-300)"; return 1; }
}

START='^_start;__libc_start_main[A-Za-z0-9_.@]*;__libc_start_call_main;main;'

# ---- 1. the tables against binutils' reading of the same CFI ----

t_readelf() { # this machine's libc, ld.so, python3 and vDSO, as its processes map them
	local files libc ld
	libc=$(awk '$6 ~ /\/libc\.so/ { print $6; exit }' /proc/self/maps)
	ld=$(awk '$6 ~ /\/ld-linux[^\/]*\.so/ { print $6; exit }' /proc/self/maps)
	"$WL/jit" --vdso 0 "$T/vdso.so" || { echo "jit --vdso could not dump the vDSO"; return 1; }
	files="$libc $ld $PY $T/vdso.so"
	# shellcheck disable=SC2086 # one word each
	"$UNWIND_TEST" --readelf $files >"$T/readelf.out" 2>&1 || { cat "$T/readelf.out"; return 1; }
	[ "$(grep -c ', 0 disagree$' "$T/readelf.out")" -eq 4 ] || { cat "$T/readelf.out"; return 1; }
}
check "tables of libc, ld.so, python3 and the vDSO agree with readelf --debug-dump=frames-interp" t_readelf

# ---- 2. each call path of the unwind workload, as a command ----

t_mode() { # t_mode MODE FUNC WANT_RE [RECORD FLAGS...]
	local mode=$1 fn=$2 want=$3
	shift 3
	rec "$mode.pb.gz" -F $HZ "$@" -- "$WL/unwind" "$mode" $SECS || return 1
	chains "$T/$mode.pb.gz" "$fn" "$want"
}
check "chain: main;chain_a;chain_b;chain_leaf (a 128 KiB frame) from _start" \
	t_mode chain chain_leaf "${START}chain_a;chain_b;chain_leaf(;|$)"
check "qsort: glibc's sort calls back: main;sorter;qsort...;cmp_slow from _start" \
	t_mode qsort cmp_slow "${START}sorter;(__)?qsort(_r)?(;[A-Za-z_.0-9]+)*;cmp_slow(;|$)"
# (the signal interrupts sig_spin or whatever it calls: spin, clock_gettime)
check "signal: through the signal frame: sig_spin;...;__restore_rt;on_prof;handler_work from _start" \
	t_mode signal handler_work "${START}sig_main;sig_spin(;[A-Za-z_.0-9]+)*;__restore_rt;on_prof;handler_work(;|$)"
check "thread: a second thread's stack ends at clone3: clone3;start_thread;thread_main;thread_work;thread_leaf" \
	t_mode thread thread_leaf '^(__)?clone3;start_thread;thread_main;thread_work;thread_leaf(;|$)'
check "dlopen: a library loaded mid-run: main;dl_main;dl_entry;dl_work;dl_leaf from _start" \
	t_mode dlopen dl_leaf "${START}dl_main;dl_entry;dl_work;dl_leaf(;|$)"

t_vfork() { # the parent's time in vfork is in the kernel: its user stack starts at __vfork (RA in rdi)
	local f=$T/vfork.pb.gz pid
	# shellcheck disable=SC2016 # expanded by that sh
	rec vfork.pb.gz -F $HZ -- sh -c 'echo $$ >"$0"; exec "$1" vfork 3' "$T/vfork.pid" "$WL/unwind" || return 1
	pid=$(cat "$T/vfork.pid")
	chains "$f" __vfork "${START}vfork_loop;__vfork(;|$)" -tag "pid=$pid"
}
check "vfork: the return address kept in a register: main;vfork_loop;__vfork from _start" t_vfork

t_deep() { # 300 calls deep: the 127 frames nearest the leaf, flagged, said
	local f=$T/deep.pb.gz
	rec deep.pb.gz -F $HZ --user-only -- "$WL/unwind" deep $SECS || return 1
	grep -q 'reached 127 frames' "$f.err" || { echo "no warning of cut stacks: $(cat "$f.err")"; return 1; }
	# 127 frames: recurse only, then deep_leaf (and spin, which it calls)
	"$PPROFCHECK" folded -type samples -focus '^deep_leaf$' "$f" >"$f.folded" || return 1
	awk '{ n = $NF; t += n; s = $0; sub(/ [0-9]+$/, "", s); k = split(s, fr, ";")
	       good = k == 127 && (fr[k] == "deep_leaf" || (fr[k] == "spin" && fr[k - 1] == "deep_leaf"))
	       for (i = 1; good && i < k - (fr[k] == "spin"); i++) good = fr[i] == "recurse"
	       if (good) ok += n; else if (!ex) ex = k " frames: " substr($0, 1, 200) }
	     END { if (t < 100 || ok < t * 0.99) { printf "%d of %d samples of deep_leaf are 127 frames of recurse, deep_leaf; e.g. %s\n", ok, t, ex; exit 1 } }' "$f.folded"
}
check "deep recursion: the 127 frames at the leaf end, the cut said" t_deep

t_nocfi() { # no .eh_frame for its code: the rows come from .debug_frame
	rec nocfi.pb.gz -F $HZ -- "$WL/unwind-nocfi" chain $SECS || return 1
	chains "$T/nocfi.pb.gz" chain_leaf "${START}chain_a;chain_b;chain_leaf(;|$)"
}
check "built without .eh_frame (.debug_frame only): main;chain_a;chain_b;chain_leaf" t_nocfi

t_summary() { # one line: what the tables hold in the kernel
	local err=$T/chain.pb.gz.err
	have "$T/chain.pb.gz" || return 1
	[ "$(grep -c '' "$err")" -eq 1 ] || { echo "want one line: $(cat "$err")"; return 1; }
	grep -qE 'unwind tables: [0-9]+ files, [0-9.]+ MiB in the kernel' "$err" ||
		{ echo "no unwind tables in: $(cat "$err")"; return 1; }
}
check "record: the summary line says the tables' files and kernel memory" t_summary

t_cached() { # tables kept in --cache-dir: the next run reads them, its stacks as whole
	local i n
	rm -rf "$T/uwcache"
	for i in 1 2; do
		timeout -k 5 "$LIMIT" "$BPPROF" -v record -o "$T/cached$i.pb.gz" -F $HZ --cache-dir "$T/uwcache" \
			-- "$WL/unwind" chain $SECS </dev/null >/dev/null 2>"$T/cached$i.err" ||
			{ echo "record ($i): $(grep -v '^debug' "$T/cached$i.err" | tail -3)"; return 1; }
	done
	n=$(find "$T/uwcache" -name '*.uwt' | wc -l)
	[ "$n" -ge 2 ] || { echo "$n tables kept (want the workload's and libc's at least)"; return 1; }
	grep -q '(0 read from the cache)' "$T/cached1.err" || { echo "the first run read tables it had not kept"; return 1; }
	n=$(sed -n 's/.*(\([0-9]*\) read from the cache).*/\1/p' "$T/cached2.err")
	[ "${n:-0}" -ge 2 ] || { echo "the second run read ${n:-no} tables from the cache"; return 1; }
	chains "$T/cached2.pb.gz" chain_leaf "${START}chain_a;chain_b;chain_leaf(;|$)"
}
check "--cache-dir: tables kept by the first run, read by the next, its chains as whole" t_cached

# ---- 3. processes bpprof did not start ----

t_pid() { # -p: its tables are loaded before sampling starts
	local a rc=0
	spawn "$WL/unwind" chain 5
	a=$!
	sleep 0.5
	rec pid.pb.gz -F $HZ -d 2 -p "$a" || rc=1
	stop "$a"
	[ "$rc" -eq 0 ] || return 1
	chains "$T/pid.pb.gz" chain_leaf "${START}chain_a;chain_b;chain_leaf(;|$)"
}
check "-p PID: main;chain_a;chain_b;chain_leaf in >= 99% of chain_leaf's samples" t_pid

t_system() { # whole system: loaded at its first sample; the stacks before are said
	local f=$T/system.pb.gz a rc=0 fb n ok
	spawn "$WL/unwind" thread 5
	a=$!
	sleep 0.5
	rec system.pb.gz -F $HZ -d 2 || rc=1
	stop "$a"
	[ "$rc" -eq 0 ] || return 1
	fb=$(sed -n 's/.*, \([0-9]*\) stacks walked with frame pointers.*/\1/p' "$f.err")
	"$PPROFCHECK" folded -type samples -focus '^thread_leaf$' -tag "pid=$a" "$f" >"$f.folded"
	n=$(awk '{ t += $NF } END { print t + 0 }' "$f.folded")
	ok=$(grep -E '^(__)?clone3;start_thread;thread_main;thread_work;thread_leaf(;| )' "$f.folded" | awk '{ t += $NF } END { print t + 0 }')
	[ "$n" -ge 100 ] || { echo "only $n samples of thread_leaf"; return 1; }
	# every stack the summary does not say was walked without tables
	at_least "whole stacks of thread_leaf (of $n; ${fb:-0} said walked with frame pointers)" "$ok" \
		"$(awk -v n="$n" -v f="${fb:-0}" 'BEGIN { printf "%d", n * 0.99 - f }')"
}
check "whole system: a running process's stacks whole but for the few the summary counts" t_system

t_system_qsort() { # whole system, lazy tables: the program's own built when a stack first reaches it
	local f=$T/system-qsort.pb.gz a rc=0 fb n ok
	spawn "$WL/unwind" qsort 5
	a=$!
	sleep 0.5
	rec system-qsort.pb.gz -F $HZ -d 2 || rc=1
	stop "$a"
	[ "$rc" -eq 0 ] || return 1
	fb=$(sed -n 's/.*, \([0-9]*\) stacks walked with frame pointers.*/\1/p' "$f.err")
	"$PPROFCHECK" folded -type samples -focus '^cmp_slow$' -tag "pid=$a" "$f" >"$f.folded"
	n=$(awk '{ t += $NF } END { print t + 0 }' "$f.folded")
	ok=$(grep -E "${START}sorter;(__)?qsort(_r)?(;[A-Za-z_.0-9]+)*;cmp_slow(;| )" "$f.folded" |
		awk '{ t += $NF } END { print t + 0 }')
	[ "$n" -ge 100 ] || { echo "only $n samples of cmp_slow"; return 1; }
	# the samples before its table was built are walked with frame pointers, and said
	at_least "main;sorter;qsort;...;cmp_slow from _start (of $n; ${fb:-0} said walked with frame pointers)" \
		"$ok" "$(awk -v n="$n" -v f="${fb:-0}" 'BEGIN { printf "%d", n * 0.99 - f }')"
}
check "whole system: glibc's qsort calling back, main;sorter;qsort...;cmp_slow from _start (lazy tables)" \
	t_system_qsort

# ---- 4. against perf record --call-graph dwarf ----

# edges FOLDED: "CALLER CALLEE SHARE" for each caller->callee edge (the share
# of samples holding it), names normalised as the two tools differ: gcc's
# clone suffixes, glibc's internal aliases (__GI_, _impl), symbol versions,
# leading underscores (__vfork is vfork); unnamed frames ([libc.so.6],
# 0x...) take no part
edges() {
	awk '
		function norm(s) {
			sub(/^__GI_/, "", s); sub(/@.*$/, "", s)
			while (sub(/\.(part|constprop|isra|cold|lto_priv)(\.[0-9]+)?$/, "", s)) {}
			sub(/_impl$/, "", s); sub(/^_+/, "", s)
			return s ~ /^(\[|0x)/ ? "" : s
		}
		{
			n = $NF; line = $0; sub(/ [0-9]+$/, "", line); total += n
			k = split(line, f, ";"); delete seen
			for (i = 1; i < k; i++) {
				a = norm(f[i]); b = norm(f[i + 1])
				if (a == "" || b == "" || seen[a " " b]++) continue
				e[a " " b] += n
			}
		}
		END { for (x in e) printf "%s %.4f\n", x, e[x] / total }' "$1" | LC_ALL=C sort
}

# compare_edges A B WHAT: every edge A holds in >= 2% of its samples, between
# a function B names as a caller and one B names as a callee, B holds as
# well. (By role: perf looks a caller up at its return address - 1, and for
# the signal frame that is the nop before __restore_rt, which it leaves
# unnamed; it names __restore_rt only in the rare sample taken inside it.)
compare_edges() {
	awk -v what="$3" '
		NR == FNR { have[$1 " " $2] = 1; caller[$1] = 1; callee[$2] = 1; next }
		$3 >= 0.02 && ($1 in caller) && ($2 in callee) && !(($1 " " $2) in have) {
			printf "%s %s -> %s (%.1f%% of samples)\n", what, $1, $2, $3 * 100; bad = 1
		}
		END { exit bad }' "$2" "$1"
}

# perf copies this much of the stack at each sample: its most (the default
# 8 KiB ends inside dl_main's 8 KiB frame, and perf names main [unknown])
PERF_DWARF=dwarf,65528

t_perf() { # t_perf MODE: the same edges as perf's DWARF unwinding, user mode only
	local mode=$1 p=$T/perf-$1
	perf record -q -F $HZ -e cpu-clock:u --call-graph $PERF_DWARF -o "$p.data" -- "$WL/unwind" "$mode" $SECS \
		>"$p.out" 2>&1 || { echo "perf record failed: $(tail -3 "$p.out")"; return 1; }
	perf script --no-inline -i "$p.data" >"$p.txt" 2>/dev/null || { echo "perf script failed"; return 1; }
	"$BPPROF" convert -q --from perf-script --to folded "$p.txt" -o "$p.folded" || return 1
	# frames as perf script --no-inline shows them: no inline functions
	rec "bp-$mode.pb.gz" -F $HZ --user-only --no-lines -- "$WL/unwind" "$mode" $SECS || return 1
	"$PPROFCHECK" folded -type samples "$T/bp-$mode.pb.gz" >"$T/bp-$mode.folded"
	edges "$p.folded" >"$p.edges"
	edges "$T/bp-$mode.folded" >"$T/bp-$mode.edges"
	[ -s "$p.edges" ] && [ -s "$T/bp-$mode.edges" ] || { echo "no edges"; return 1; }
	compare_edges "$p.edges" "$T/bp-$mode.edges" "perf has, bpprof lacks:" &&
		compare_edges "$T/bp-$mode.edges" "$p.edges" "bpprof has, perf lacks:"
}
for m in chain qsort signal thread dlopen; do
	check "$m: the caller->callee edges perf --call-graph dwarf finds, and no others" t_perf $m
done

# python3's native stacks reach _start as often as with perf's DWARF mode:
# the program's _start, or the dynamic linker's while it starts the process
# (ld.so's _start has no FDE: both tools stop there; perf names it from a
# NOTYPE symbol of ld.so's debug file, bpprof's symbolizer leaves it unnamed)
t_python() {
	local p=$T/perf-py bp pf
	perf record -q -F $HZ -e cpu-clock:u --call-graph $PERF_DWARF -o "$p.data" -- "$PY" tests/workloads/unwind/spin.py $SECS \
		>"$p.out" 2>&1 || { echo "perf record failed: $(tail -3 "$p.out")"; return 1; }
	perf script --no-inline -i "$p.data" >"$p.txt" 2>/dev/null || { echo "perf script failed"; return 1; }
	"$BPPROF" convert -q --from perf-script --to folded "$p.txt" -o "$p.folded" || return 1
	rec py.pb.gz -F $HZ --user-only -- "$PY" tests/workloads/unwind/spin.py $SECS || return 1
	"$PPROFCHECK" folded -type samples "$T/py.pb.gz" >"$T/py.folded"
	# "reached total" of a folded file
	share() { awk '{ t += $NF } /^(_start|0x[0-9a-f]+@ld-linux[^;]*);/ { s += $NF } END { print s + 0, t + 0 }' "$1"; }
	bp=$(share "$T/py.folded")
	pf=$(share "$p.folded")
	# Two runs, sampled apart: bpprof's misses (stacks short of _start) may
	# exceed what perf's rate predicts for its sample count by sampling
	# error alone, three standard deviations and one sample (a leaf in
	# code with no unwind row, such as .init, ends both tools' walks).
	echo "$bp $pf" | awk '{
		if (!$2 || !$4) exit 1
		m = 1 - $3 / $4; if (m < 1 / $4) m = 1 / $4
		exp_miss = $2 * m
		exit !($2 - $1 <= exp_miss + 3 * sqrt(exp_miss * (1 - m)) + 1) }' ||
		{ echo "bpprof: ${bp% *} of ${bp#* } samples reach _start, perf: ${pf% *} of ${pf#* }"; return 1; }
}
check "python3: native stacks reach _start as often as with perf --call-graph dwarf" t_python

# ---- 5. heap stacks, and the other --unwind choices ----

t_heap() { # an allocation inside glibc (strdup): its callers, which frame pointers lose
	local f=$T/heap.pb.gz
	rec heap.pb.gz --heap --heap-rate 0 -- "$WL/unwind" heap || return 1
	chains "$f" dup_site "${START}heap_main;dup_site;(__)?strdup(;|$)"
	rec heap-fp.pb.gz --heap --heap-rate 0 --unwind fp -- "$WL/unwind" heap || return 1
	! chains "$T/heap-fp.pb.gz" dup_site "${START}heap_main;dup_site;(__)?strdup(;|$)" >/dev/null ||
		{ echo "--unwind fp found the callers too: this check shows nothing"; return 1; }
}
check "record --heap: strdup's allocations under dup_site;heap_main;main (frame pointers lose them)" t_heap

t_fp() { # --unwind fp: frame pointers only, as before: chain_leaf's callers are lost
	rec fp.pb.gz -F $HZ --unwind fp -- "$WL/unwind" chain 1 || return 1
	! grep -q 'unwind tables' "$T/fp.pb.gz.err" || { echo "tables with --unwind fp: $(cat "$T/fp.pb.gz.err")"; return 1; }
	"$PPROFCHECK" folded -type samples -focus '^chain_leaf$' "$T/fp.pb.gz" >"$T/fp.folded"
	! grep -q ';chain_a;chain_b;chain_leaf' "$T/fp.folded" || { echo "whole stacks without tables?"; return 1; }
}
check "record --unwind fp: frame pointers only (an -O2 program's stacks are cut)" t_fp

# jit leaves its perf map behind, as JITs do
jit_maps() { local p; for p in $("$PPROFCHECK" bylabel "$1" pid | awk '{ print $1 }'); do rm -f "/tmp/perf-$p.map"; done; }

t_dwarf() { # --unwind dwarf: code without a table ends the walk, and it is said
	rec dwarf.pb.gz -F $HZ --unwind dwarf -- "$WL/jit" 2 || return 1
	jit_maps "$T/dwarf.pb.gz"
	grep -qE '[0-9]+ stacks cut at a frame no rule unwinds' "$T/dwarf.pb.gz.err" ||
		{ echo "no cut stacks said: $(cat "$T/dwarf.pb.gz.err")"; return 1; }
	rec auto.pb.gz -F $HZ -- "$WL/jit" 2 || return 1
	jit_maps "$T/auto.pb.gz"
	chains "$T/auto.pb.gz" jit_spin_loop '(^|;)main;(call_jit;)?jit_spin_loop(;|$)'
}
check "record --unwind dwarf: JIT code ends the walk (said); auto steps over it with frame pointers" t_dwarf

# ---- 6. the daemon: windows unwound, the tables in /metrics ----

t_daemon() {
	local port pid rc=0 f
	for port in $(shuf -i 20000-60000 -n 20); do ss -ltn | grep -q ":$port " || break; done
	"$BPPROF" run -o "$T/win" --interval 1s -F $HZ --metrics-addr "$port" -- "$WL/unwind" chain 4 \
		</dev/null >"$T/run.out" 2>"$T/run.err" &
	pid=$!
	echo "$pid" >>"$T/bg.pids"
	sleep 3
	curl -sf "http://127.0.0.1:$port/metrics" >"$T/metrics.txt" || rc=1
	wait "$pid" || rc=1
	[ "$rc" -eq 0 ] || { echo "run or /metrics failed: $(tail -3 "$T/run.err")"; return 1; }
	grep -qE '^bpprof_unwind_tables [1-9]' "$T/metrics.txt" &&
		grep -qE '^bpprof_unwind_kernel_bytes [1-9]' "$T/metrics.txt" &&
		grep -qE '^bpprof_unwind_fallback_total [0-9]' "$T/metrics.txt" &&
		grep -q '^bpprof_unwind_limit_hits_total{type="kernel_memory"} 0' "$T/metrics.txt" ||
		{ echo "unwind metrics: $(grep unwind "$T/metrics.txt")"; return 1; }
	f=$(ls "$T"/win/cpu-*.pb.gz | tail -2 | head -1)
	chains "$f" chain_leaf "${START}chain_a;chain_b;chain_leaf(;|$)"
}
check "run: its windows unwound from tables, /metrics shows the tables and their limits" t_daemon

t_memory_limit() { # python3's table (590 KiB) does not fit 512 KiB: counted and said, the profile written
	rec py-small.pb.gz -F 99 --unwind-memory 512k -- "$PY" tests/workloads/unwind/spin.py 1 || return 1
	grep -qE 'limits hit: [0-9]+ files too big, [1-9][0-9]* tables over 0\.5 MiB' "$T/py-small.pb.gz.err" ||
		{ echo "no kernel-memory limit said: $(cat "$T/py-small.pb.gz.err")"; return 1; }
}
check "record --unwind-memory 512k: python3's table does not fit, said in the summary" t_memory_limit

t_renew() { # a run whose tables fill 3/4 of --unwind-memory starts them afresh at each cut, and goes on
	local n
	"$BPPROF" run -o "$T/renew" --interval 1s -F $HZ --unwind-memory 1m -- "$PY" tests/workloads/unwind/spin.py 4 \
		</dev/null >"$T/renew.out" 2>"$T/renew.err" || { echo "run failed: $(tail -3 "$T/renew.err")"; return 1; }
	n=$(grep -c 'unwind tables started afresh' "$T/renew.err" || true)
	[ "$n" -ge 1 ] || { echo "never started afresh: $(cat "$T/renew.err")"; return 1; }
	"$PPROFCHECK" folded -type samples "$(ls "$T"/renew/cpu-*.pb.gz | tail -2 | head -1)" >"$T/renew.folded"
	grep -q '^_start;' "$T/renew.folded" || { echo "no stack reaches _start after the renewal"; return 1; }
}
check "run --unwind-memory 1m: tables started afresh when 3/4 full, stacks whole again after" t_renew

t_bad_flag() {
	local rc=0
	"$BPPROF" record --unwind sideways -o "$T/bad.pb.gz" -d 1 >"$T/bad.out" 2>"$T/bad.err" || rc=$?
	[ "$rc" -eq 2 ] || { echo "exit $rc, want 2"; return 1; }
	grep -q "unknown --unwind 'sideways' (auto, dwarf, fp)" "$T/bad.err" || { echo "$(cat "$T/bad.err")"; return 1; }
	[ ! -e "$T/bad.pb.gz" ] || { echo "wrote a profile"; return 1; }
}
check "record --unwind sideways: refused in one line, exit 2, nothing written" t_bad_flag

t_bad_memory() { # below a chunk, above the most, not a size: refused before anything is loaded
	local a rc
	for a in 0 511k 129m lots -1; do
		rc=0
		"$BPPROF" record --unwind-memory "$a" -o "$T/badmem.pb.gz" -d 1 >"$T/badmem.out" 2>"$T/badmem.err" || rc=$?
		[ "$rc" -eq 2 ] || { echo "--unwind-memory $a: exit $rc, want 2"; return 1; }
		grep -qF "bad --unwind-memory '$a' (512k to 128m" "$T/badmem.err" ||
			{ echo "--unwind-memory $a: $(cat "$T/badmem.err")"; return 1; }
		[ ! -e "$T/badmem.pb.gz" ] || { echo "--unwind-memory $a: wrote a profile"; return 1; }
	done
}
check "record --unwind-memory 0|511k|129m|lots|-1: refused in one line, exit 2, nothing written" t_bad_memory

finish
