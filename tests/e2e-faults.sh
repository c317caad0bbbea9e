#!/usr/bin/env bash
# Fault injection for `bpprof run`, for real (root: it loads BPF): a run of
# about two minutes at a 1 s interval, pushing (push.v1, for its ids) with a
# spool to tests/receiver while the endpoint is healthy, down, slow, a black
# hole, flapping and answering 429 with Retry-After, with SIGTERM in every
# fault and SIGKILL in two, at random points, each followed by a restart on
# the same spool. Then every window is counted: produced (the daemon's
# "captured" lines, -v) against delivered (distinct window times the
# receiver stored), spooled, duplicated (each with one id) and lost, and
# the time each SIGTERM took. SEED=N repeats a run's random points.
#   BUILD=build tests/e2e-faults.sh   (make e2e-faults)
#   BPPROF=, PPROFCHECK=, RECEIVER=, KEEP=1, ONLY=REGEX as in tests/lib.sh
set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "e2e-faults: skip: needs root (bpprof run loads BPF programs)"
	exit 0
fi
SUITE=e2e-faults
EXCLUSIVE=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
WL=$(cd -P "${WORKLOADS:-$build/workloads}" 2>/dev/null && pwd) ||
	{ echo "$SUITE: no workloads in ${WORKLOADS:-$build/workloads} (make workloads)" >&2; exit 2; }
need_tools "$BPPROF" "$PPROFCHECK" "$RECEIVER" "$WL/hot"

SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$((SEED % 32768))
echo "$SUITE: seed $SEED (SEED=$SEED repeats these random points)"
# the shipped unit's stop timeout (deploy/bpprof.service); bpprof's own
# --stop-timeout is left at its default, as the unit leaves it
UNIT_STOP=$(sed -n 's/^TimeoutStopSec=//p' deploy/bpprof.service)

# between LO HI: a random whole number of seconds in [LO, HI]
between() { echo $(($1 + RANDOM % ($2 - $1 + 1))); }
wait_for() { # wait_for SECONDS CMD...
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# One incarnation of the daemon at a time, each with its own log
# ($T/d.N.err); $T/d.pid the current one.
start_daemon() {
	local n
	n=$(($(cat "$T/incarnations" 2>/dev/null || echo 0) + 1))
	echo "$n" >"$T/incarnations"
	"$BPPROF" -v run --push "$URL" --api push --app faults --interval 1s -F 49 -p "$HOT" \
		--spool-dir "$T/spool" </dev/null >"$T/d.$n.out" 2>"$T/d.$n.err" &
	echo $! >"$T/d.pid"
	echo $! >>"$T/bg.pids"
	wait_for 10 grep -q "captured" "$T/d.$n.err" || { echo "incarnation $n did not start: $(cat "$T/d.$n.err")"; return 1; }
}
# sigterm FAULT: stop the daemon, time it, start the next
sigterm() {
	local pid t0 t1 rc=0 n
	pid=$(cat "$T/d.pid")
	n=$(cat "$T/incarnations")
	t0=$(date +%s.%N)
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	t1=$(date +%s.%N)
	printf '%s\t%s\t%s\t%s\n' "$1" "$(echo "$t1 - $t0" | bc)" "$rc" "$n" >>"$T/sigterms"
	start_daemon
}
sigkill() {
	local pid rc=0
	pid=$(cat "$T/d.pid")
	kill -KILL "$pid"
	wait "$pid" || rc=$?
	printf '%s\t%s\t%s\n' "$1" "$rc" "$(cat "$T/incarnations")" >>"$T/sigkills"
	start_daemon
}
ctl() { rcontrol rf "$1" || { echo "receiver control $1 failed"; return 1; }; }

# The run: phases of a few seconds each, a signal at a random point in
# each fault. Everything it learns is left in files for the checks below.
t_run() {
	RANDOM=$((SEED % 32768))	# a subshell: bash seeds it anew
	spawn "$WL/hot" 600
	HOT=$!
	local p0 t0
	p0=$(receiver_start probe -addr 127.0.0.1:0 >/dev/null && rport probe && receiver_stop probe)
	receiver_start rf -addr "127.0.0.1:$p0" || return 1
	URL="http://127.0.0.1:$p0"
	t0=$(date +%s)
	start_daemon || return 1
	sleep 8					# healthy
	receiver_stop rf			# down: connections refused
	sleep "$(between 2 4)"
	sigterm down || return 1
	sleep "$(between 2 4)"
	sigkill down || return 1
	sleep 3
	receiver_start rf -addr "127.0.0.1:$p0" || return 1
	sleep 6					# healthy: the spool drains
	ctl 'delay?seconds=3&count=100000'	# slow: 200 after 3 s
	sleep "$(between 4 8)"
	sigterm slow || return 1
	sleep 6
	ctl reset
	sleep 5
	ctl 'blackhole?count=100000'		# a black hole: read, never answered
	sleep "$(between 4 8)"
	sigterm 'black hole' || return 1
	sleep 6
	ctl reset
	sleep 5
	ctl 'flap?period=1.5'			# flapping: up and closing, 1.5 s each
	sleep "$(between 3 5)"
	sigkill flapping || return 1
	sleep "$(between 3 5)"
	sigterm flapping || return 1
	sleep 4
	ctl 'flap?period=0'
	ctl 'fail?status=429&count=100000&retry_after=2'	# 429, Retry-After: 2
	sleep "$(between 4 7)"
	sigterm '429 Retry-After' || return 1
	sleep 5
	ctl reset
	sleep $((t0 + 120 > $(date +%s) + 8 ? t0 + 120 - $(date +%s) : 8))
	sigterm healthy || return 1
	# the last incarnation sends what is left in the spool
	wait_for 90 sh -c "! ls '$T/spool' | grep -q '\\.pb\\.zst\$'" ||
		{ echo "the spool was not emptied: $(ls "$T/spool")"; }
	sleep 2
	sigterm_last
	stop "$HOT"
	echo $(($(date +%s) - t0)) >"$T/run.seconds"
	receiver_stop rf
}
sigterm_last() {
	local pid rc=0
	pid=$(cat "$T/d.pid")
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	printf 'last\t%s\n' "$rc" >"$T/last.rc"
}

# The counts, from the daemon's logs and the receiver's.
count() {
	local f n desc
	: >"$T/in-memory"
	produced=$(cat "$T"/d.*.err | grep -c ': captured$' || true)
	# per SIGKILLed incarnation: windows captured that no line says were
	# pushed, spooled, refused or dropped: in memory when it was killed
	while IFS=$'\t' read -r _ _ n; do
		f=$T/d.$n.err
		grep ': captured$' "$f" | sed 's/^debug: //; s/: captured$//' | while IFS= read -r desc; do
			grep -qF -e "$desc: pushed" -e "$desc: spooled" -e "$desc: refused" \
				-e "$desc: dropped" "$f" || echo "$desc"
		done >>"$T/in-memory"
	done <"$T/sigkills"
	in_memory=$(wc -l <"$T/in-memory")
	rlog rf 'select(.stored and .labels.service_name == "faults") | "\(.time_nanos) \(.id)"' | tr -d '"' >"$T/stored"
	stored=$(wc -l <"$T/stored")
	delivered=$(cut -d' ' -f1 "$T/stored" | sort -u | wc -l)
	duplicates=$((stored - delivered))
	spooled=$(cat "$T"/d.*.err | grep -c '^bpprof: warning: cpu window .*: spooled ' || true)
	left=$(ls "$T/spool" | grep -c '\.pb\.zst$' || true)
	lost=$((produced - delivered - left))
}

t_exits() { # SIGTERM: exit 0 each time; SIGKILL: killed
	[ -s "$T/sigterms" ] || { echo "no run"; return 1; }
	awk -F'\t' '$3 != 0 { print "SIGTERM in " $1 ": exit " $3; bad = 1 } END { exit bad }' "$T/sigterms" || return 1
	awk -F'\t' '$2 != 137 { print "SIGKILL in " $1 ": exit " $2; bad = 1 } END { exit bad }' "$T/sigkills" || return 1
	grep -q $'^last\t0$' "$T/last.rc" || { echo "the last: $(cat "$T/last.rc")"; return 1; }
}
t_none_lost() { # every window produced is delivered or in the spool, but
	# those a SIGKILL took from memory (at most the one being pushed and
	# the one waiting behind it, per kill)
	count
	[ "$produced" -gt 60 ] || { echo "only $produced windows produced"; return 1; }
	[ "$lost" -le "$in_memory" ] || { echo "$lost of $produced windows lost, $in_memory in memory at a SIGKILL"; return 1; }
	[ "$in_memory" -le $((2 * $(wc -l <"$T/sigkills"))) ] || { echo "$in_memory windows in memory at $(wc -l <"$T/sigkills") SIGKILLs: $(cat "$T/in-memory")"; return 1; }
	! grep -h -E ': (dropped|refused)' "$T"/d.*.err || { echo "(dropped or refused)"; return 1; }
	! grep -h 'spool full' "$T"/d.*.err || { echo "(spool full)"; return 1; }
}
t_duplicates() { # a window sent twice carries its one id both times
	count
	awk '{ ids[$1] = ids[$1] == "" ? $2 : ids[$1]; if (ids[$1] != $2) { print "window " $1 ": ids " ids[$1] " and " $2; bad = 1 } } END { exit bad }' "$T/stored"
}
t_spool_emptied() { # what was spooled went out in the end
	count
	[ "$spooled" -gt 0 ] || { echo "nothing was spooled: the faults did not bite"; return 1; }
	[ "$left" -eq 0 ] || { echo "$left windows left in the spool"; return 1; }
}
t_sigterm_time() { # each SIGTERM ends well within the unit's TimeoutStopSec, spooling first
	[ -n "$UNIT_STOP" ] || { echo "no TimeoutStopSec in deploy/bpprof.service"; return 1; }
	awk -F'\t' -v max="$UNIT_STOP" '$2 + 0 >= max / 2 { print "SIGTERM in " $1 " took " $2 " s"; bad = 1 } END { exit bad }' "$T/sigterms" || return 1
	# spooled first: what waited when it stopped is in the spool, not dropped
	local n
	while IFS=$'\t' read -r fault _ _ n; do
		! grep -q 'not sent' "$T/d.$n.err" || { echo "$fault: $(grep 'not sent' "$T/d.$n.err")"; return 1; }
	done <"$T/sigterms"
}

check "a two-minute run through down, slow, black hole, flapping, 429, SIGTERM and SIGKILL" t_run
check "every SIGTERM exits 0, every SIGKILL kills" t_exits
check "no window lost but those in memory at a SIGKILL" t_none_lost
check "duplicates carry one id per window" t_duplicates
check "the spool is emptied by the end" t_spool_emptied
check "SIGTERM under half the unit's TimeoutStopSec in every fault, spooling first" t_sigterm_time

# The closing figures.
if [ -s "$T/sigterms" ]; then
	count
	echo "$SUITE: $produced windows produced in $(cat "$T/run.seconds" 2>/dev/null || echo '?') s, $delivered delivered" \
		"($duplicates duplicates, each with its window's id), $spooled spooled on the way (${left} left)," \
		"$lost lost ($in_memory in memory at $(wc -l <"$T/sigkills") SIGKILLs)"
	echo "$SUITE: SIGTERM took $(awk -F'\t' '{ printf "%s%s %.1f s", sep, $1, $2; sep = ", " }' "$T/sigterms")" \
		"(the unit allows $UNIT_STOP s)"
fi
finish
