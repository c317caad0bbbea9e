#!/usr/bin/env bash
# End-to-end tests of `bpprof run`, the continuous profiler, for real (root:
# it loads BPF programs): windows written to a directory and pushed to
# tests/receiver (Pyroscope's APIs, judged by google/pprof's parser),
# windows cut exactly, the spool across an outage and a restart, injected
# 503/429/400, SIGTERM flush, SIGHUP, retention, cron schedules, /metrics,
# config files and bad input. Without root: "skip: needs root".
#   BUILD=build tests/e2e-run.sh   (make e2e-run)
#   BPPROF=, PPROFCHECK=, RECEIVER=, KEEP=1, ONLY=REGEX as in tests/lib.sh
set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "e2e-run: skip: needs root (bpprof run loads BPF programs)"
	exit 0
fi
SUITE=e2e-run
EXCLUSIVE=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
WL=$(cd -P "${WORKLOADS:-$build/workloads}" 2>/dev/null && pwd) ||
	{ echo "$SUITE: no workloads in ${WORKLOADS:-$build/workloads} (make workloads)" >&2; exit 2; }
need_tools "$BPPROF" "$PPROFCHECK" "$RECEIVER" "$WL/hot" "$WL/mallocloop"

receiver_start r
R="http://127.0.0.1:$(rport r)"

# daemon NAME ARGS...: start `bpprof run ARGS` (log in $T/NAME.err, pid in
# $T/NAME.pid); daemon_stop NAME [SIGNAL]: signal it, its exit status in $T/NAME.rc
daemon() {
	local name=$1
	shift
	"$BPPROF" run "$@" </dev/null >"$T/$name.out" 2>"$T/$name.err" &
	echo $! >"$T/$name.pid"
	echo $! >>"$T/bg.pids"
}
daemon_stop() {
	local pid rc=0
	pid=$(cat "$T/$1.pid")
	kill -"${2:-TERM}" "$pid" 2>/dev/null || true
	wait "$pid" || rc=$?
	echo "$rc" >"$T/$1.rc"
}
# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
lines() { grep -c "$2" "$T/$1.err" || true; }
# window_times FILE...: "time_nanos duration_nanos" of each profile
window_times() {
	local f
	for f in "$@"; do
		"$PPROFCHECK" summary "$f" | awk '/^time_nanos:/ {t=$2} /^duration_nanos:/ {d=$2} END {print t, d}'
	done
}
# contiguous: stdin "time duration" lines in order: each window starts where
# the last ended (within 1 ms)
contiguous() {
	awk 'NR > 1 { gap = $1 - end; if (gap < -1000000 || gap > 1000000) { print "gap of " gap " ns before window " NR; bad = 1 } }
	     { end = $1 + $2 } END { exit bad }'
}
free_port() { # a port nothing listens on: the kernel's pick, released
	receiver_start probe_port >/dev/null && rport probe_port && receiver_stop probe_port
}

t_windows_dir() {
	spawn "$WL/hot" 6
	daemon dir -o "$T/win" --interval 1s -F 99
	sleep 4.5
	daemon_stop dir
	[ "$(cat "$T/dir.rc")" = 0 ] || { echo "exit $(cat "$T/dir.rc"): $(cat "$T/dir.err")"; return 1; }
	local files n f total=0 logged lost
	files=$(ls "$T"/win/cpu-*.pb.gz)
	n=$(echo "$files" | wc -l)
	[ "$n" -ge 4 ] && [ "$n" -le 6 ] || { echo "$n windows in 4.5 s"; return 1; }
	# shellcheck disable=SC2086
	for f in $files; do strict "$f" || return 1; total=$((total + $("$PPROFCHECK" total "$f" samples))); done
	# shellcheck disable=SC2086
	window_times $files | contiguous || return 1
	[ "$(lines dir 'cpu window')" -eq "$n" ] || { echo "not one log line per window: $(cat "$T/dir.err")"; return 1; }
	# every sample BPF counted is in exactly one window
	logged=$(sed -n 's/.*cpu window .*: \([0-9]*\) samples, \([0-9]*\) lost.*/\1/p' "$T/dir.err" | paste -sd+ | bc)
	lost=$(sed -n 's/.*cpu window .*: \([0-9]*\) samples, \([0-9]*\) lost.*/\2/p' "$T/dir.err" | paste -sd+ | bc)
	[ "$total" -eq $((logged - lost)) ] || { echo "windows hold $total samples, BPF counted $logged ($lost lost)"; return 1; }
	[ "$total" -gt 300 ] || { echo "only $total samples at 99 Hz with a busy CPU for 4.5 s"; return 1; }
	grep -q "stopped after" "$T/dir.err" || { echo "no last line"; return 1; }
}
t_push_windows() {
	daemon push --push "$R" --interval 1s --app daemon1 --label team=prof
	sleep 3.5
	daemon_stop push
	[ "$(cat "$T/push.rc")" = 0 ] || { echo "exit $(cat "$T/push.rc"): $(cat "$T/push.err")"; return 1; }
	local n
	n=$(rlog r 'select(.stored and .app == "daemon1") | .seq' | wc -l)
	[ "$n" -ge 3 ] || { echo "$n windows stored"; cat "$T/push.err"; return 1; }
	[ "$(rlog r 'select(.stored and .app == "daemon1") | .labels.hostname' | sort -u)" = "\"$(hostname)\"" ] ||
		{ echo "no hostname label"; return 1; }
	rlog r 'select(.stored and .app == "daemon1") | "\(.time_nanos) \(.duration_nanos)"' | tr -d '"' | contiguous || return 1
	[ "$(lines push ': pushed [0-9.]* [KM]*i*B (HTTP 200')" -eq "$n" ] || { echo "log: $(cat "$T/push.err")"; return 1; }
}
t_sigterm_flush() {
	daemon flush --push "$R" --interval 1m --app flushed -o "$T/flush"
	sleep 2
	daemon_stop flush TERM
	[ "$(cat "$T/flush.rc")" = 0 ] || { echo "exit $(cat "$T/flush.rc")"; return 1; }
	[ "$(rlog r 'select(.stored and .app == "flushed") | .seq' | wc -l)" -eq 1 ] || { echo "the window in progress was not pushed"; cat "$T/flush.err"; return 1; }
	[ "$(ls "$T"/flush/cpu-*.pb.gz | wc -l)" -eq 1 ] || { echo "not written"; return 1; }
	local d
	d=$(rlog r 'select(.stored and .app == "flushed") | .duration_nanos')
	[ "$d" -gt 1500000000 ] && [ "$d" -lt 4000000000 ] || { echo "window of $d ns for 2 s"; return 1; }
	daemon int --push "$R" --interval 1m --app interrupted
	sleep 1.5
	daemon_stop int INT
	[ "$(cat "$T/int.rc")" = 0 ] && [ "$(rlog r 'select(.stored and .app == "interrupted") | .seq' | wc -l)" -eq 1 ]
}
t_outage_spool() {
	local port n w
	port=$(free_port)
	daemon out --push "http://127.0.0.1:$port" --interval 1s --app outage --spool-dir "$T/spool" \
		--retries 1 --retry-wait 200ms
	sleep 3.5
	[ "$(lines out 'spooled')" -ge 2 ] || { echo "nothing spooled: $(cat "$T/out.err")"; return 1; }
	receiver_start late -addr "127.0.0.1:$port"	# the later -addr wins
	wait_for 15 sh -c "[ \$(jq -c 'select(.stored)' '$T/late.log' 2>/dev/null | wc -l) -ge 5 ]" ||
		{ echo "spooled windows did not arrive: $(tail -5 "$T/out.err")"; return 1; }
	daemon_stop out
	w=$(lines out 'cpu window')
	n=$(rlog late 'select(.stored and .app == "outage") | .seq' | wc -l)
	[ "$n" -eq "$w" ] || { echo "$w windows, $n arrived"; tail -5 "$T/out.err"; return 1; }
	rlog late 'select(.stored) | "\(.time_nanos) \(.duration_nanos)"' | tr -d '"' | contiguous ||
		{ echo "not in order"; return 1; }
	[ -z "$(ls "$T/spool")" ] || { echo "spool not empty: $(ls "$T/spool")"; return 1; }
	receiver_stop late
}
t_spool_restart() {
	local port
	port=$(free_port)
	daemon s1 --push "http://127.0.0.1:$port" --interval 1s --app restart --spool-dir "$T/spool2" --retries 0
	sleep 2.5
	daemon_stop s1
	[ "$(cat "$T/s1.rc")" = 0 ] || { echo "exit $(cat "$T/s1.rc")"; return 1; }
	local kept
	kept=$(ls "$T/spool2" | grep -c '\.pb\.zst$')
	[ "$kept" -ge 2 ] || { echo "$kept windows in the spool after the outage"; return 1; }
	zstd -dc "$T/spool2/$(ls "$T/spool2" | head -1)" >"$T/spooled.pb" && strict "$T/spooled.pb" || return 1
	receiver_start back -addr "127.0.0.1:$port"
	daemon s2 --push "http://127.0.0.1:$port" --interval 1s --app restart --spool-dir "$T/spool2"
	wait_for 10 sh -c "[ \$(jq -c 'select(.stored)' '$T/back.log' | wc -l) -ge $((kept + 1)) ]" ||
		{ echo "the spool was not sent after the restart: $(cat "$T/s2.err")"; return 1; }
	daemon_stop s2
	rlog back 'select(.stored) | "\(.time_nanos) \(.duration_nanos)"' | tr -d '"' | sort -c -n ||
		{ echo "out of order"; return 1; }
	[ -z "$(ls "$T/spool2")" ] || { echo "spool not emptied"; return 1; }
	receiver_stop back
}
t_injected() {
	# no spool: the window's own retries (with a spool it would wait there)
	daemon inj --push "$R" --interval 1s --app inj --retry-wait 100ms
	sleep 1.3
	rcontrol r 'fail?status=503&count=2'
	sleep 1.2
	rcontrol r 'fail?status=429&count=1'
	sleep 1.2
	rcontrol r 'fail?status=400&count=1&body=%7B%22code%22%3A%22invalid_argument%22%2C%22message%22%3A%22no+thanks%22%7D'
	sleep 1.2
	daemon_stop inj
	grep -q "pushed [0-9.]* [KM]*i*B (HTTP 200, [0-9]* ms, 3 attempts)" "$T/inj.err" || { echo "503 x2 not retried: $(cat "$T/inj.err")"; return 1; }
	grep -q "pushed [0-9.]* [KM]*i*B (HTTP 200, [0-9]* ms, 2 attempts)" "$T/inj.err" || { echo "429 not retried"; return 1; }
	grep -q "refused.*no thanks" "$T/inj.err" || { echo "400 not reported with its message"; return 1; }
	# each line says its window once, and its numbers whole ("2 ms0 )" once)
	! grep -E 'window .*window|ms[0-9]' "$T/inj.err" || { echo "(garbled lines)"; return 1; }
	[ "$(rlog r 'select(.app == "inj" and .status == 400) | .seq' | wc -l)" -eq 1 ] || { echo "a 400 was retried"; return 1; }
	local w s
	w=$(lines inj 'cpu window')
	s=$(rlog r 'select(.stored and .app == "inj") | .seq' | wc -l)
	[ "$s" -eq $((w - 1)) ] || { echo "$w windows, $s stored (one refused)"; return 1; }
}
t_spool_full() {
	local port
	port=$(free_port)
	# one busy process at 19 Hz: windows of a few hundred bytes, a few fit in 1 KiB
	spawn "$WL/hot" 8
	local pid=$!
	daemon full --push "http://127.0.0.1:$port" --interval 1s --spool-dir "$T/spool4" --spool-max-bytes 1k \
		--retries 0 -p "$pid"
	sleep 6.5
	daemon_stop full
	stop "$pid"
	grep -q "spool full: .* oldest windows dropped" "$T/full.err" || { echo "no drop said: $(cat "$T/full.err")"; return 1; }
	[ "$(cat "$T"/spool4/*.pb.zst | wc -c)" -le 1024 ] || { echo "spool over its bound"; return 1; }
	[ "$(ls "$T/spool4" | wc -l)" -ge 1 ] || { echo "nothing kept"; return 1; }
}
t_metrics() {
	local port
	port=$(free_port)
	daemon met --push "$R" --interval 1s --app met --metrics-addr "$port"
	wait_for 10 sh -c "curl -sf http://127.0.0.1:$port/metrics | grep -q '^bpprof_windows_pushed_total [1-9]'" ||
		{ echo "no pushed windows in /metrics: $(curl -s "http://127.0.0.1:$port/metrics" | head -30)"; daemon_stop met; return 1; }
	curl -sf "http://127.0.0.1:$port/metrics" >"$T/metrics.txt"
	daemon_stop met
	for m in 'bpprof_samples_total{type="cpu"}' bpprof_windows_total bpprof_push_duration_seconds_count \
		process_resident_memory_bytes bpprof_spool_bytes; do
		grep -q "^$m " "$T/metrics.txt" || { echo "no $m"; return 1; }
	done
	if ss -ltn | grep -q "0.0.0.0:$port"; then echo "listens beyond loopback"; return 1; fi
}
t_sighup_log() {
	daemon hup -o "$T/hupw" --interval 1s --log-file "$T/bpprof.log"
	sleep 1.5
	mv "$T/bpprof.log" "$T/bpprof.log.1"
	kill -HUP "$(cat "$T/hup.pid")"
	sleep 1.5
	daemon_stop hup
	[ "$(cat "$T/hup.rc")" = 0 ] || { echo "SIGHUP ended it: $(cat "$T/hup.rc")"; return 1; }
	grep -q "cpu window" "$T/bpprof.log.1" && grep -q "cpu window" "$T/bpprof.log" ||
		{ echo "log not reopened"; return 1; }
	grep -qE '^20[0-9-]{8}T[0-9:.]{12}Z ' "$T/bpprof.log" || { echo "no timestamps in the log file"; return 1; }
}
t_retain() {
	daemon ret -o "$T/ret" --interval 1s --retain 2
	sleep 4.5
	daemon_stop ret
	[ "$(ls "$T"/ret/cpu-*.pb.gz | wc -l)" -eq 2 ] || { echo "$(ls "$T/ret")"; return 1; }
	touch "$T/ret/notes.txt"
	daemon age -o "$T/ret" --interval 1s --retain-age 2s
	sleep 4.5
	daemon_stop age
	[ "$(ls "$T"/ret/cpu-*.pb.gz | wc -l)" -le 3 ] && [ -f "$T/ret/notes.txt" ] || { echo "$(ls "$T/ret")"; return 1; }
}
t_heap_windows() { # per window, not cumulative: a window while the workload is stopped is empty
	spawn "$WL/mallocloop" 2000000000 4096
	local pid=$! f seen=0 empty=0 after=0
	sleep 0.3
	daemon heap -o "$T/heapw" --heap -p "$pid" --interval 1s
	# a window with allocations, then the workload stopped for two
	# windows' time, then running again for one more (its allocation rate
	# while the probes settle is no measure: it varies by the machine)
	wait_for 20 grep -qE '^heap window .*: [1-9][0-9]* sampled allocations' "$T/heap.err" ||
		{ daemon_stop heap; stop "$pid"; echo "no window with allocations: $(cat "$T/heap.err")"; return 1; }
	kill -STOP "$pid"
	sleep 2.5
	kill -CONT "$pid"
	sleep 1.5
	daemon_stop heap
	stop "$pid"
	for f in "$T"/heapw/heap-*.pb.gz; do
		if [ "$("$PPROFCHECK" total "$f" alloc_space)" -gt 0 ]; then
			[ "$empty" = 1 ] && after=1
			seen=1
		elif [ "$seen" = 1 ]; then
			empty=1
		fi
	done
	[ "$seen" = 1 ] && [ "$empty" = 1 ] && [ "$after" = 1 ] ||
		{ echo "windows with allocations, then none (stopped), then some again: $seen $empty $after: $(grep '^heap window' "$T/heap.err")"; return 1; }
}
t_heap_preload_windows() { # run --heap -- COMMAND: preload mode, said once, windows of allocations
	local files a n
	daemon heapcmd -o "$T/heapcmd" --heap --interval 1s -- "$WL/mallocloop" 150000000 4096
	wait_for 60 sh -c "! kill -0 $(cat "$T/heapcmd.pid") 2>/dev/null" || { daemon_stop heapcmd; echo "still running after 60 s"; return 1; }
	daemon_stop heapcmd
	[ "$(cat "$T/heapcmd.rc")" = 0 ] || { echo "exit $(cat "$T/heapcmd.rc"): $(tail -3 "$T/heapcmd.err")"; return 1; }
	n=$(grep -c 'heap: preload mode' "$T/heapcmd.err" || true)
	[ "$n" -eq 1 ] || { echo "'heap: preload mode' said $n times: $(head -3 "$T/heapcmd.err")"; return 1; }
	files=$(ls "$T"/heapcmd/heap-*.pb.gz)
	[ "$(echo "$files" | wc -l)" -ge 2 ] || { echo "heap windows: $files $(cat "$T/heapcmd.err")"; return 1; }
	for f in $(echo "$files" | head -n -1); do # the last may be a moment long
		a=$("$PPROFCHECK" total "$f" alloc_space)
		[ "$a" -gt 0 ] || { echo "no allocations in window $f"; return 1; }
	done
}
t_schedule() {
	local s
	s=$(date +%-S)
	[ "$s" -lt 50 ] && sleep $((50 - s))
	[ "$s" -gt 56 ] && sleep $((60 - s + 50))
	daemon sch -o "$T/sch" --schedule '* * * * *' -d 2s
	wait_for 20 sh -c "ls '$T'/sch/cpu-*.pb.gz" || { echo "no capture at the minute: $(cat "$T/sch.err")"; daemon_stop sch; return 1; }
	daemon_stop sch
	local t d
	read -r t d < <(window_times "$T"/sch/cpu-*.pb.gz)
	[ $((t / 1000000000 % 60)) -eq 0 ] || { echo "capture began at second $((t / 1000000000 % 60))"; return 1; }
	[ "$d" -gt 1800000000 ] && [ "$d" -lt 2600000000 ] || { echo "duration $d"; return 1; }
	grep -q "next capture" "$T/sch.err" || { echo "the next capture is not said"; return 1; }
}
t_config() {
	cat >"$T/run.ini" <<-INI
	# a comment
	[run]
	output-dir = $T/cfg
	interval = 1s
	freq = 49
	cpu = true
	INI
	daemon cfg --config "$T/run.ini"
	sleep 2.5
	daemon_stop cfg
	[ "$(ls "$T"/cfg/cpu-*.pb.gz | wc -l)" -ge 2 ] || { echo "$(cat "$T/cfg.err")"; return 1; }
	"$PPROFCHECK" summary "$(ls "$T"/cfg/cpu-*.pb.gz | head -1)" | grep -q "^period: 20408163" ||
		{ echo "freq from the config not used"; return 1; }
}
t_bad_input() {
	local rc args
	for args in "--interval 1s" "-o $T/x --schedule '* * *' -d 1s" "-o $T/x --schedule '61 * * * *' -d 1s" \
		"-o $T/x --schedule '* * * * *'" "-o $T/x --interval 100ms" "--push $R --label bad-key=1" \
		"-o $T/x --config $T/nope.ini" "-o $T/x --metrics-addr example.com:80" "--push ftp://x" \
		"-o /proc/version/x"; do
		rc=0
		eval "\"$BPPROF\" run $args" >"$T/out" 2>&1 </dev/null || rc=$?
		[ "$rc" -ne 0 ] || { echo "accepted: $args"; return 1; }
		[ "$(grep -vc '^Try' "$T/out")" -eq 1 ] || { echo "$args: $(cat "$T/out")"; return 1; }
	done
}
t_full_disk() {
	mkdir -p "$T/tiny"
	mount -t tmpfs -o size=16k tmpfs "$T/tiny" || { echo "cannot mount a tmpfs"; return 1; }
	dd if=/dev/zero of="$T/tiny/fill" bs=1k count=12 2>/dev/null || true
	local port
	port=$(free_port)
	daemon disk --push "http://127.0.0.1:$port" --interval 1s --spool-dir "$T/tiny/spool" --retries 0 -o "$T/diskw"
	spawn "$WL/hot" 4
	sleep 3.5
	daemon_stop disk
	umount "$T/tiny"
	[ "$(cat "$T/disk.rc")" = 0 ] || { echo "exit $(cat "$T/disk.rc")"; return 1; }
	grep -q "No space left on device" "$T/disk.err" || { echo "ENOSPC not said: $(cat "$T/disk.err")"; return 1; }
	[ "$(ls "$T"/diskw/cpu-*.pb.gz | wc -l)" -ge 3 ] || { echo "the daemon stopped writing windows"; return 1; }
}

check "windows to a directory: cut exactly, contiguous, one line each" t_windows_dir
check "windows pushed: labels, hostname, contiguous" t_push_windows
check "SIGTERM and SIGINT send the window in progress, exit 0" t_sigterm_flush
check "endpoint down then up: every window arrives, in order" t_outage_spool
check "spool survives a restart and is sent first" t_spool_restart
check "injected 503 and 429 retried, 400 not" t_injected
check "spool full: the oldest dropped and said" t_spool_full
check "/metrics on loopback" t_metrics
check "SIGHUP reopens the log file" t_sighup_log
check "--retain and --retain-age" t_retain
check "heap windows: allocations per window (none in a window while the workload is stopped)" t_heap_windows
check "run --heap -- COMMAND: preload mode said once, allocations in every window" t_heap_preload_windows
check "config file" t_config
t_schedule_checked() { # the first capture may be hours away: what would fail it fails now
	local args rc
	for args in "-p 999999" "--heap -p 999999" "--cgroup /sys/fs/cgroup/no-such-bpprof-group"; do
		rc=0
		# shellcheck disable=SC2086 # word-split on purpose
		timeout 20 "$BPPROF" run --schedule '0 3 * * *' -d 30s -o "$T/sched" $args >"$T/out" 2>&1 </dev/null || rc=$?
		[ "$rc" -eq 1 ] || { echo "$args: exit $rc: $(cat "$T/out")"; return 1; }
		[ "$(wc -l <"$T/out")" -eq 1 ] || { echo "$args: $(cat "$T/out")"; return 1; }
	done
	grep -q "no-such-bpprof-group" "$T/out" || { cat "$T/out"; return 1; }
}
t_one_spool_owner() { # two daemons, one spool or one -o DIR: the second is refused, naming the first
	local port a rc2
	port=$(free_port)
	daemon own1 --push "http://127.0.0.1:$port" --interval 1s --spool-dir "$T/shared" --retries 0 \
		-o "$T/shared-out" --retain 3
	a=$(cat "$T/own1.pid")
	wait_for 10 sh -c "grep -q spooled '$T/own1.err'" || { echo "first did not spool: $(cat "$T/own1.err")"; daemon_stop own1; return 1; }
	local rc=0
	timeout 20 "$BPPROF" run --push "http://127.0.0.1:$port" --interval 1s --spool-dir "$T/shared" \
		</dev/null >"$T/own2.out" 2>&1 || rc=$?
	rc2=0
	timeout 20 "$BPPROF" run -o "$T/shared-out" --retain 3 --interval 1s </dev/null >"$T/own3.out" 2>&1 || rc2=$?
	sleep 1.5
	daemon_stop own1
	[ "$rc" -eq 1 ] || { echo "second: exit $rc: $(cat "$T/own2.out")"; return 1; }
	grep -q "spool $T/shared is in use by pid $a" "$T/own2.out" || { cat "$T/own2.out"; return 1; }
	[ "$rc2" -eq 1 ] && grep -q "output directory $T/shared-out is in use by pid $a" "$T/own3.out" ||
		{ echo "third: exit $rc2: $(cat "$T/own3.out")"; return 1; }
	[ "$(cat "$T/own1.rc")" = 0 ] || { echo "first: exit $(cat "$T/own1.rc")"; return 1; }
	[ "$(lines own1 'spooled')" -eq "$(ls "$T/shared" | grep -c '\.pb\.zst$')" ] ||
		{ echo "windows spooled: $(lines own1 'spooled'), in the spool: $(ls "$T/shared")"; return 1; }
}

t_unit_caps() { # deploy/bpprof.service's capabilities suffice, CAP_KILL not among them: a
	# heap capture of a command that changes its user (stopped at exec, continued by bpprof)
	local caps rc=0
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' deploy/bpprof.service | tr ' ' '\n' |
		sed 's/^CAP_/+/' | tr 'A-Z' 'a-z' | paste -sd,)
	case $caps in *kill*) echo "the unit grants CAP_KILL: $caps"; return 1 ;; esac
	# + setuid and setgid, which the command needs to change its user
	# (setpriv); still no CAP_KILL
	timeout 60 setpriv --bounding-set="-all,$caps,+setuid,+setgid" "$BPPROF" run -o "$T/capw" --heap --interval 1s -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$WL/mallocloop" 1000000 64 \
		</dev/null >"$T/caps.out" 2>"$T/caps.err" || rc=$?
	[ "$rc" -eq 0 ] || { echo "exit $rc: $(cat "$T/caps.err")"; return 1; }
	grep -q "the command exited" "$T/caps.err" || { cat "$T/caps.err"; return 1; }
	local f total=0
	for f in "$T"/capw/heap-*.pb.gz; do
		total=$((total + $("$PPROFCHECK" total "$f" alloc_objects)))
	done
	[ "$total" -gt 0 ] || { echo "no allocations in $(ls "$T/capw")"; return 1; }
}

check "bad input: one-line errors" t_bad_input
check "the unit's capabilities (no CAP_KILL) profile a command that changes its user" t_unit_caps
check "--schedule: a missing pid, heap target or cgroup refused at start" t_schedule_checked
check "a spool has one owner: a second daemon is refused, naming it" t_one_spool_owner
check "spool on a full disk: said, capture goes on" t_full_disk
check "cron schedule: a capture at the minute" t_schedule
finish
