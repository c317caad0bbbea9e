# shellcheck shell=bash disable=SC2034 # sets variables for the script that sources it
# Shared by the end-to-end scripts, which source it after setting SUITE (their
# name in messages): the scratch directory $T, the check runner and helpers
# that judge profiles with google/pprof's own parser (pprofcheck).
#   BUILD=build           where bpprof and pprofcheck were built
#   BPPROF=, PPROFCHECK=  use these binaries instead of BUILD's
#   KEEP=1                keep the scratch directory (it is kept after a failure)
#   ONLY=REGEX            run only the checks whose names match
# Each check prints "ok NAME" or "FAIL NAME: why"; finish prints
# "SUITE: N passed, M failed" and gives the exit status.

# Suites that load BPF or change host settings (EXCLUSIVE=1) run one at a
# time on a machine, whichever checkout or build they come from: one
# suite's sysctl or CPU toggle must not meet another's capture. (-o: the
# lock is not inherited by what the suite starts.)
if [ "${EXCLUSIVE:-0}" = 1 ] && [ -z "${BPPROF_E2E_LOCKED:-}" ]; then
	BPPROF_E2E_LOCKED=1 exec flock -o /tmp/bpprof-e2e.lock "$0" "$@"
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
BUILD=${BUILD:-build}
build=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "$SUITE: no build directory $BUILD" >&2; exit 2; }
BPPROF=${BPPROF:-$build/bpprof}
PPROFCHECK=${PPROFCHECK:-$build/pprofcheck}

# need_tools TOOL...: each must be an executable file.
need_tools() {
	local tool
	for tool in "$@"; do
		[ -x "$tool" ] || { echo "$SUITE: $tool not built (make all tools workloads)" >&2; exit 2; }
	done
}

T=$(mktemp -d "${TMPDIR:-/tmp}/bpprof-$SUITE.XXXXXX")
passed=0
failed=0
# CLEANUP_HOOK names a function the suite wants run first on exit.
cleanup() {
	[ -z "${CLEANUP_HOOK:-}" ] || "$CLEANUP_HOOK" || true
	chmod -R u+w "$T" 2>/dev/null || true
	if [ "$failed" -eq 0 ] && [ "${KEEP:-0}" != 1 ]; then
		rm -rf "$T"
	else
		echo "$SUITE: scratch files kept in $T"
	fi
}
trap cleanup EXIT

# check NAME FUNC ARGS...: run FUNC in a subshell; it prints why on failure.
# ONLY=REGEX (grep -E) runs only the checks whose names match.
check() {
	local name=$1 why
	shift
	if [ -n "${ONLY:-}" ] && ! printf '%s\n' "$name" | grep -qE -- "$ONLY"; then
		return 0
	fi
	if why=$("$@" 2>&1); then
		passed=$((passed + 1))
		printf 'ok    %s\n' "$name"
	else
		failed=$((failed + 1))
		printf 'FAIL  %s: %s\n' "$name" "$(printf '%s' "$why" | head -c 2000)"
	fi
}

# Background workloads (suites that profile processes; $WL is their
# workloads directory) are listed in $T/bg.pids; whatever a failed check left
# running is stopped on exit (only if it still runs a workload or a copy of
# one in $T).
stop_ours() { # stop_ours PID...: kill those that run a workload
	local p
	for p in "$@"; do
		case $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") in
		"${WL:-$T}"/* | "$T"/* | "$RECEIVER"*) kill "$p" 2>/dev/null || true ;;
		esac
	done
}
stop_stray() {
	# shellcheck disable=SC2046 # one pid a line
	[ ! -f "$T/bg.pids" ] || stop_ours $(cat "$T/bg.pids")
	host_restore
}
CLEANUP_HOOK=stop_stray

# host_set FILE VALUE: write VALUE into a /proc/sys or /sys FILE, keeping the
# old value (the first time) for host_restore, which runs on exit too: a
# check that changes the machine leaves it as it found it.
host_set() {
	[ -w "$1" ] || { echo "$1: not writable"; return 1; }
	grep -qsxF "$1" "$T/host.files" || { echo "$1" >>"$T/host.files" && cat "$1" >>"$T/host.old"; }
	# a few tries, as host_restore's: perf_event_max_stack is EBUSY while
	# the callchain buffers of the run before are still being freed
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		echo "$2" >"$1" 2>/dev/null && return 0
		sleep 0.2
	done
	echo "$2" >"$1"
}
host_restore() {
	local f v
	[ -f "$T/host.files" ] || return 0
	# a few tries: the kernel refuses some (perf_event_max_stack) while
	# the BPF programs of a run that just ended are still being freed
	paste -d'\t' "$T/host.files" "$T/host.old" | while IFS=$'\t' read -r f v; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			[ "$(cat "$f" 2>/dev/null)" = "$v" ] || echo "$v" >"$f" 2>/dev/null || { sleep 0.2; continue; }
			break
		done
		[ "$(cat "$f" 2>/dev/null)" = "$v" ] || { echo "$SUITE: cannot restore $f to $v" >&2; exit 1; }
	done || return 1
	rm -f "$T/host.files" "$T/host.old"
}

# in_fresh_ns CMD...: CMD where tracefs and debugfs are not mounted, as on a
# fresh machine; fails if any still is, or if one is mounted after CMD (bpprof
# must mount nothing).
in_fresh_ns() {
	unshare -m --propagation private sh -c '
		for m in $(awk '"'"'$3 == "tracefs" || $3 == "debugfs" { print $2 }'"'"' /proc/self/mounts | sort -r); do
			umount "$m" || exit 125
		done
		"$@"; rc=$?
		if awk '"'"'$3 == "tracefs" || $3 == "debugfs" { found = 1 } END { exit !found }'"'"' /proc/self/mounts; then
			echo "tracefs or debugfs is mounted after: $*" >&2; exit 126
		fi
		exit $rc' sh "$@"
}

# spawn CMD...: start CMD in the background, $! its pid. Its output goes
# nowhere: an open stdout would hold check's $(...) open until it exits.
spawn() {
	"$@" </dev/null >/dev/null 2>&1 &
	echo $! >>"$T/bg.pids"
}

# stop PID...: end background workloads and reap them.
stop() {
	kill "$@" 2>/dev/null || true
	wait "$@" 2>/dev/null || true
}

finish() {
	echo "$SUITE: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# ---- helpers (each returns non-zero with a reason on stdout) ----

magic() { head -c 4 "$1" | od -An -v -tx1 | tr -d ' \n'; }

# summary FILE OUT [FLAGS]: google/pprof's canonical reading of FILE.
summary() {
	local in=$1 out=$2
	shift 2
	"$PPROFCHECK" summary "$@" "$in" >"$out" 2>"$out.err" || { cat "$out.err"; return 1; }
}

same_summary() { # same_summary A B: A and B mean the same to google/pprof
	summary "$1" "$T/a.sum.$$" -full -labels || return 1
	summary "$2" "$T/b.sum.$$" -full -labels || return 1
	if ! cmp -s "$T/a.sum.$$" "$T/b.sum.$$"; then
		echo "google/pprof reads $1 and $2 differently:"
		diff "$T/a.sum.$$" "$T/b.sum.$$" | head -20 | cut -c1-300
		return 1
	fi
}

strict() { "$PPROFCHECK" check -strict "$1" >/dev/null 2>&1 || { "$PPROFCHECK" check -strict "$1" 2>&1; return 1; }; }

# first_total FILE: the total of the first sample type, per google/pprof.
first_total() { "$PPROFCHECK" summary "$1" | sed -n 's/^total [^:]*: //p' | head -1; }

# folded_total FILE: sum of the counts of "stack COUNT" lines (lines whose
# last word is not a number, such as profile's "WARNING: ..." are skipped).
folded_total() {
	local line n total=0
	while IFS= read -r line; do
		n=${line##* }
		case $n in
		'' | *[!0-9]*) ;;
		*) [ "$n" = "$line" ] || total=$((total + 10#$n)) ;;
		esac
	done <"$1"
	echo "$total"
}

# sum_labelled SUMMARY LABEL: add the first value of summary lines whose
# label set holds LABEL (summary -labels lines end "{labels} v1 v2").
sum_labelled() {
	local line v total=0
	while IFS= read -r line; do
		case $line in
		*[{,]"$2"[,}]*)
			read -r v _ <<<"${line##*\}}"
			total=$((total + v))
			;;
		esac
	done <"$1"
	echo "$total"
}

# dir_state OUT: the names in OUT's directory (temporary files included) and
# OUT's checksum; for "-" the working directory.
dir_state() {
	ls -A "$(dirname -- "$1")" 2>&1 | LC_ALL=C sort
	if [ "$1" != - ] && [ -e "$1" ]; then cksum <"$1"; fi
}

# ---- the loopback receiver (tests/receiver: Pyroscope's two APIs and a
# generic pprof endpoint, judged by google/pprof's parser) ----
RECEIVER=${RECEIVER:-$build/receiver}

# receiver_start NAME [FLAGS]: start one; its port in $T/NAME.port, one JSON
# line per request in $T/NAME.log, its pid in $T/NAME.pid.
receiver_start() {
	local name=$1
	shift
	rm -f "$T/$name.port"
	"$RECEIVER" -addr 127.0.0.1:0 -port-file "$T/$name.port" -log "$T/$name.log" "$@" \
		</dev/null >"$T/$name.out" 2>&1 &
	echo $! >"$T/$name.pid"
	echo $! >>"$T/bg.pids"
	for _ in $(seq 100); do
		[ -s "$T/$name.port" ] && return 0
		sleep 0.05
	done
	echo "receiver $name did not start: $(cat "$T/$name.out")"
	return 1
}
receiver_stop() { stop "$(cat "$T/$1.pid")"; }
rport() { cat "$T/$1.port"; }
# rlog NAME JQ-FILTER: the filter over every logged request (jq -c).
rlog() { [ -f "$T/$1.log" ] && jq -c "$2" "$T/$1.log"; }
# rcontrol NAME PATH?QUERY: the receiver's fault injection.
rcontrol() { curl -sf -X POST "http://127.0.0.1:$(rport "$1")/_control/$2" >/dev/null; }
