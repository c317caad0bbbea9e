#!/usr/bin/env bash
# End-to-end tests of `bpprof push`: profiles go to tests/receiver, a
# loopback server that implements Pyroscope's /ingest and
# push.v1.PusherService/Push with their validation rules (and a generic
# pprof endpoint), decodes every profile with google/pprof's parser and logs
# what it stored. No root needed.
#   BUILD=build tests/e2e-push.sh   (make e2e-push)
#   BPPROF=, PPROFCHECK=, RECEIVER=, KEEP=1, ONLY=REGEX as in tests/lib.sh
set -eu
SUITE=e2e-push
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
need_tools "$BPPROF" "$PPROFCHECK" "$RECEIVER"

"$PPROFCHECK" gen "$T/cpu.pb.gz" -samples 300 -locations 200 -now 2>/dev/null
"$PPROFCHECK" gen "$T/heap.pb.gz" -samples 200 -locations 200 -seed 2 -now -heap 2>/dev/null
"$PPROFCHECK" gen "$T/big.pb.gz" -samples 20000 -locations 2000 -seed 3 -now 2>/dev/null
"$PPROFCHECK" gen "$T/old.pb.gz" -samples 10 -locations 64 2>/dev/null
receiver_start r
receiver_start auth -basic alice:s3cret-pw -tenant-required
receiver_start bearer -bearer tok-s3cret
receiver_start tls -tls-dir "$T/tls"
receiver_start mtls -tls-dir "$T/mtls" -client-ca
R="http://127.0.0.1:$(rport r)"

# stored NAME FILTER: exactly one stored request of NAME matches FILTER (jq)
stored() {
	local n
	n=$(rlog "$1" "select(.stored) | select($2) | .seq" | wc -l)
	[ "$n" -ge 1 ] || { echo "no stored request matches $2; log:"; tail -3 "$T/$1.log" | cut -c1-600; return 1; }
}
# same_stacks NAME SEQ FILE: the stored profile's stacks are FILE's
same_stacks() {
	local got want
	got=$(rlog "$1" "select(.seq == $2) | .samples")
	want=$("$PPROFCHECK" stats "$3" | sed -n 's/^samples: //p')
	[ "$got" = "$want" ] || { echo "stored $got samples, the file has $want"; return 1; }
}
last_seq() { rlog "$1" '.seq' | tail -1; }

t_ingest_multipart() {
	"$BPPROF" push "$T/cpu.pb.gz" --url "$R" --app my.app --label env=prod --label region.zone=eu-1 \
		>"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	stored r '.api == "ingest" and .multipart and .format == "" and .app == "my.app" and
		.labels.env == "prod" and .labels["region.zone"] == "eu-1" and .name == "process_cpu" and
		(.sample_types | index("cpu/nanoseconds")) and .from_ns > 0 and .until_ns > .from_ns' || return 1
	same_stacks r "$(last_seq r)" "$T/cpu.pb.gz"
	grep -q "pushed" "$T/out" || { cat "$T/out"; return 1; }
}
t_ingest_raw() {
	"$BPPROF" push "$T/cpu.pb.gz" --url "$R" --ingest-raw --app raw >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	stored r '.api == "ingest" and (.multipart | not) and .format == "pprof" and .app == "raw"'
}
t_ingest_heap() {
	"$BPPROF" push "$T/heap.pb.gz" --url "$R" --app heapy >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	stored r '.app == "heapy" and .name == "memory" and
		(.sample_type_config | fromjson | .alloc_space.cumulative == false and
		 .inuse_space.aggregation == "average")'
}
t_push_api() {
	"$BPPROF" push "$T/cpu.pb.gz" --url "$R" --api push --app svc --label region.zone=eu-1 \
		>"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	stored r '.api == "push" and .labels.__name__ == "process_cpu" and .labels.service_name == "svc" and
		.labels.region_zone == "eu-1" and (.labels.__delta__ == null) and
		(.id | test("^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"))' || return 1
	same_stacks r "$(last_seq r)" "$T/cpu.pb.gz"
}
t_push_api_heap() {
	"$BPPROF" push "$T/heap.pb.gz" --url "$R" --api push --app svc >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	stored r '.api == "push" and .labels.__name__ == "memory" and .labels.__delta__ == "false"'
}
t_http() {
	"$BPPROF" push "$T/cpu.pb.gz" --url "$R/pprof" --api http --content-type application/x-protobuf \
		--header 'X-Node: n1' >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	stored r '.api == "http" and .content_type == "application/x-protobuf" and .headers["X-Node"] == "n1"'
}
t_zstd_input() {
	"$BPPROF" convert "$T/cpu.pb.gz" -o "$T/cpu.pb.zst" >/dev/null 2>&1
	[ "$(magic "$T/cpu.pb.zst")" = 28b52ffd ] || { echo "not zstd"; return 1; }
	"$BPPROF" push "$T/cpu.pb.zst" --url "$R" --app zst >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	stored r '.app == "zst" and .gzip'
}
t_basic_tenant() {
	"$BPPROF" push "$T/cpu.pb.gz" --url "http://127.0.0.1:$(rport auth)" --basic-auth alice:s3cret-pw \
		--tenant team-a >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	stored auth '.auth == "basic:alice" and .auth_ok and .tenant == "team-a"'
}
t_auth_refused_no_secret() {
	printf 'wrong-pw-XYZ\n' >"$T/pw"
	if BPPROF_BASIC_AUTH=alice:wrong-pw-XYZ "$BPPROF" push "$T/cpu.pb.gz" \
		--url "http://127.0.0.1:$(rport auth)" --tenant t >"$T/out" 2>&1; then
		echo "accepted with a wrong password"; return 1
	fi
	grep -q "HTTP 401" "$T/out" || { echo "no 401 said: $(cat "$T/out")"; return 1; }
	if grep -q "wrong-pw-XYZ" "$T/out"; then echo "the password was printed"; return 1; fi
	[ "$(rlog auth 'select(.status == 401) | .seq' | wc -l)" -eq 1 ] || { echo "a 401 was retried"; return 1; }
}
t_echoed_secrets() { # a server that echoes credentials back: no form of one is printed
	local b64 url
	b64=$(printf 'alice:pw-S3cret' | base64)
	url="http://127.0.0.1:$(rport r)/?api_key=q-S3cret"
	rcontrol r "fail?status=400&count=1&body=you+sent+Basic+$b64+and+q-S3cret"
	if BPPROF_BASIC_AUTH=alice:pw-S3cret "$BPPROF" push "$T/cpu.pb.gz" --url "$url" >"$T/out" 2>&1; then
		echo "exit 0"; return 1
	fi
	grep -q "HTTP 400" "$T/out" || { echo "no 400 said: $(cat "$T/out")"; return 1; }
	"$BPPROF" push "$T/cpu.pb.gz" --url "$url" --basic-auth alice:pw-S3cret >>"$T/out" 2>&1 ||
		{ cat "$T/out"; return 1; }
	grep -q "pushed to .*api_key=\*\*\*" "$T/out" || { echo "success line: $(cat "$T/out")"; return 1; }
	if grep -E "S3cret|$b64" "$T/out"; then echo "(a secret was printed)"; return 1; fi
}
t_bearer_file_env() {
	printf 'tok-s3cret\n' >"$T/token"
	"$BPPROF" push "$T/cpu.pb.gz" --url "http://127.0.0.1:$(rport bearer)" --bearer-file "$T/token" \
		>"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	BPPROF_BEARER_TOKEN=tok-s3cret "$BPPROF" push "$T/cpu.pb.gz" --url "http://127.0.0.1:$(rport bearer)" \
		>"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	[ "$(rlog bearer 'select(.stored and .auth == "bearer" and .auth_ok) | .seq' | wc -l)" -eq 2 ] ||
		{ echo "not both stored with the bearer"; return 1; }
	if grep -rq "tok-s3cret" "$T/out" "$T/bearer.log"; then echo "the token was printed"; return 1; fi
}
t_retry_503() {
	rcontrol r 'fail?status=503&count=2'
	local before
	before=$(rlog r '.seq' | wc -l)
	"$BPPROF" push "$T/cpu.pb.gz" --url "$R" --app retried --retry-wait 100ms >"$T/out" 2>&1 ||
		{ cat "$T/out"; return 1; }
	[ $(($(rlog r '.seq' | wc -l) - before)) -eq 3 ] || { echo "not 3 requests"; return 1; }
	stored r '.app == "retried"'
}
t_retry_429_after() {
	rcontrol r 'fail?status=429&count=1&retry_after=1'
	local t0 t1
	t0=$(date +%s%N)
	"$BPPROF" push "$T/cpu.pb.gz" --url "$R" --app limited --retry-wait 10ms >"$T/out" 2>&1 ||
		{ cat "$T/out"; return 1; }
	t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -ge 900 ] || { echo "Retry-After: 1 not honoured ($(((t1 - t0) / 1000000)) ms)"; return 1; }
	stored r '.app == "limited"'
}
t_400_not_retried() {
	rcontrol r 'fail?status=400&count=1&body=%7B%22code%22%3A%22invalid_argument%22%2C%22message%22%3A%22bad+thing+here%22%7D'
	local before
	before=$(rlog r '.seq' | wc -l)
	if "$BPPROF" push "$T/cpu.pb.gz" --url "$R" --retry-wait 10ms >"$T/out" 2>&1; then
		echo "exit 0 after a 400"; return 1
	fi
	[ $(($(rlog r '.seq' | wc -l) - before)) -eq 1 ] || { echo "a 400 was retried"; return 1; }
	grep -q "bad thing here" "$T/out" || { echo "the server's message is not shown: $(cat "$T/out")"; return 1; }
}
t_old_profile_refused() {
	local before
	before=$(rlog r '.seq' | wc -l)
	if "$BPPROF" push "$T/old.pb.gz" --url "$R" >"$T/out" 2>&1; then echo "exit 0"; return 1; fi
	[ "$(rlog r '.seq' | wc -l)" -eq "$before" ] || { echo "sent anyway"; return 1; }
	[ "$(wc -l <"$T/out")" -eq 1 ] || { echo "not one line: $(cat "$T/out")"; return 1; }
}
t_split_big() {
	local before
	before=$(rlog r 'select(.stored) | .seq' | wc -l)
	"$BPPROF" push "$T/big.pb.gz" --url "$R" --app big >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	[ "$(rlog r 'select(.stored and .app == "big") | .samples' | jq -s 'add')" -eq 20000 ] ||
		{ echo "not all 20000 samples stored: $(rlog r 'select(.app == "big") | [.status, .samples, .error]')"; return 1; }
	[ "$(rlog r 'select(.stored and .app == "big") | .samples' | jq -s 'max')" -le 16000 ] ||
		{ echo "a part over 16000 samples"; return 1; }
	[ $(($(rlog r 'select(.stored) | .seq' | wc -l) - before)) -ge 2 ] || return 1
	# says how it split: by the sample count here, not by size
	grep -q "in 2 requests of at most 16000 samples" "$T/out" || { cat "$T/out"; return 1; }
}
t_unreachable() { # one line naming the file and the endpoint; each retry said with -v
	if "$BPPROF" push "$T/cpu.pb.gz" --url http://127.0.0.1:1 --retries 1 --retry-wait 10ms >"$T/out" 2>&1; then
		echo "exit 0"; return 1
	fi
	grep -q "^bpprof: $T/cpu.pb.gz: cannot reach 127.0.0.1:1" "$T/out" && [ "$(wc -l <"$T/out")" -eq 1 ] ||
		{ cat "$T/out"; return 1; }
	if "$BPPROF" -v push "$T/cpu.pb.gz" --url http://127.0.0.1:1 --retries 2 --retry-wait 10ms >"$T/out" 2>&1; then
		echo "exit 0"; return 1
	fi
	[ "$(grep -c "^debug: $T/cpu.pb.gz: attempt [12] of 3: cannot reach 127.0.0.1:1" "$T/out")" -eq 2 ] ||
		{ echo "retries not said with -v: $(cat "$T/out")"; return 1; }
}
t_dns() {
	if "$BPPROF" push "$T/cpu.pb.gz" --url http://no-such-host.invalid --retries 0 >"$T/out" 2>&1; then
		echo "exit 0"; return 1
	fi
	grep -qi "resolve" "$T/out" || { cat "$T/out"; return 1; }
}
t_timeout() {
	rcontrol r 'delay?seconds=3&count=1'
	if "$BPPROF" push "$T/cpu.pb.gz" --url "$R" --timeout 500ms --retries 0 >"$T/out" 2>&1; then
		echo "exit 0"; return 1
	fi
	grep -qi "timed out" "$T/out" || { cat "$T/out"; return 1; }
}
t_tls() {
	local U="https://127.0.0.1:$(rport tls)"
	if "$BPPROF" push "$T/cpu.pb.gz" --url "$U" --retries 0 >"$T/out" 2>&1; then
		echo "an unknown CA was trusted"; return 1
	fi
	grep -qi "TLS\|certificate" "$T/out" || { echo "not a TLS error: $(cat "$T/out")"; return 1; }
	"$BPPROF" push "$T/cpu.pb.gz" --url "$U" --ca-file "$T/tls/ca.pem" --app tls1 >"$T/out" 2>&1 ||
		{ cat "$T/out"; return 1; }
	"$BPPROF" push "$T/cpu.pb.gz" --url "$U" --insecure-skip-verify --app tls2 >"$T/out" 2>&1 ||
		{ cat "$T/out"; return 1; }
	[ "$(rlog tls 'select(.stored) | .app' | tr -d '"' | sort | tr '\n' ' ')" = "tls1 tls2 " ]
}
t_mtls() {
	local U="https://127.0.0.1:$(rport mtls)"
	if "$BPPROF" push "$T/cpu.pb.gz" --url "$U" --ca-file "$T/mtls/ca.pem" --retries 0 >"$T/out" 2>&1; then
		echo "accepted without a client certificate"; return 1
	fi
	"$BPPROF" push "$T/cpu.pb.gz" --url "$U" --ca-file "$T/mtls/ca.pem" --cert "$T/mtls/client.pem" \
		--key "$T/mtls/client-key.pem" >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	stored mtls '.tls'
}
t_many_files_one_bad() {
	if "$BPPROF" push "$T/cpu.pb.gz" "$T/missing.pb.gz" "$T/heap.pb.gz" --url "$R" --app many >"$T/out" 2>&1; then
		echo "exit 0 with a missing file"; return 1
	fi
	grep -q "missing.pb.gz" "$T/out" || { cat "$T/out"; return 1; }
	[ "$(rlog r 'select(.stored and .app == "many") | .seq' | wc -l)" -eq 2 ] || { echo "the good files were not both pushed"; return 1; }
}
t_bad_input() {
	printf 'not a profile' >"$T/junk.pb"
	if "$BPPROF" push "$T/junk.pb" --url "$R" >"$T/out" 2>&1; then echo "junk accepted"; return 1; fi
	grep -q "junk.pb" "$T/out" && [ "$(wc -l <"$T/out")" -eq 1 ] || { cat "$T/out"; return 1; }
}
# Anything convert reads is converted on the way (issue 20): the legacy
# formats, folded stacks, perf script; text that is none is refused in one
# line naming the file, as convert refuses it.
t_push_converted() {
	local f
	"$BPPROF" push testdata/legacy/cppbench.contention --url "$R" --app legacy-contention >"$T/out" 2>&1 ||
		{ cat "$T/out"; return 1; }
	stored r '.app == "legacy-contention" and .sample_types == ["contentions/count", "delay/nanoseconds"] and
		.totals["contentions/count"] == 3500 and .totals["delay/nanoseconds"] == 690508213' || return 1
	"$BPPROF" push testdata/legacy/cppbench.cpu --url "$R" --api push --app legacy-cpu >"$T/out" 2>&1 ||
		{ cat "$T/out"; return 1; }
	stored r '.labels.service_name == "legacy-cpu" and .name == "process_cpu" and .totals["samples/count"] == 712' || return 1
	gzip -c testdata/legacy/gobench.heap >"$T/gobench.heap.gz"
	"$BPPROF" push "$T/gobench.heap.gz" --url "$R" --app legacy-heap >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	stored r '.app == "legacy-heap" and .name == "memory" and .totals["inuse_space/bytes"] == 7196884' || return 1
	for f in testdata/perf/perf-script-gzip-dd.txt testdata/perf/libbpf-tools-profile-folded.txt; do
		"$BPPROF" push "$f" --url "$R" --app text >"$T/out" 2>&1 || { echo "$f: $(cat "$T/out")"; return 1; }
	done
	stored r '.app == "text" and .totals["samples/count"] == 2499' || return 1
	if "$BPPROF" push testdata/perf/perf-script-comm-tid-ip-sym.txt --url "$R" >"$T/out" 2>&1; then
		echo "perf script -F comm,tid,ip,sym accepted"; return 1
	fi
	[ "$(wc -l <"$T/out")" -eq 1 ] && grep -qF "perf-script-comm-tid-ip-sym.txt: looks like folded stacks, but line 2" "$T/out" ||
		{ cat "$T/out"; return 1; }
}
t_push_symbolized() { # a gperftools profile pushed with function names
	local wl=${LEGACY_WL:-$build/legacy/gperf}
	[ -x "$wl" ] || { echo "$wl not built"; return 1; }
	(cd "$T" && CPUPROFILE=$T/g.cpu CPUPROFILE_FREQUENCY=500 "$wl" "$T/g.s" "$T/g.g" 0.5 >/dev/null 2>&1) ||
		{ echo "workload failed"; return 1; }
	"$BPPROF" push "$T/g.cpu" --symbolize --url "$R" --app gperf >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	stored r '.app == "gperf" and (.folded | keys | map(test("bpprof::hot_loop")) | any)'
}
# libcurl and libmicrohttpd are opened on first use: where one cannot be
# (here an empty file bound over it, in a private mount namespace), what
# needs it fails in one line naming it, and the rest of bpprof works.
t_libraries_missing() {
	local curl mhd
	curl=$(readlink -f "$(ldconfig -p | awk '/libcurl\.so\.4 .*x86-64/ { print $NF; exit }')")
	mhd=$(readlink -f "$(ldconfig -p | awk '/libmicrohttpd\.so\.12 .*x86-64/ { print $NF; exit }')")
	[ -f "$curl" ] && [ -f "$mhd" ] || { echo "libcurl ($curl) or libmicrohttpd ($mhd) not found"; return 1; }
	unshare -m --propagation private sh -c '
		mount --bind /dev/null "$1" && mount --bind /dev/null "$2" || exit 9
		"$3" push "$4/cpu.pb.gz" --url "$5" >"$4/nocurl.out" 2>&1; echo "push $?"
		"$3" run --interval 1s --metrics-addr 127.0.0.1:0 -o "$4/nomhd" >"$4/nomhd.out" 2>&1; echo "run $?"
		"$3" convert -q "$4/cpu.pb.gz" -o "$4/nolibs.folded"; echo "convert $?"
		"$3" --version >"$4/nolibs.version"; echo "version $?"' \
		sh "$curl" "$mhd" "$BPPROF" "$T" "$R" >"$T/nolibs.rc" || { cat "$T/nolibs.rc"; return 1; }
	[ "$(cat "$T/nolibs.rc")" = "$(printf 'push 1\nrun 1\nconvert 0\nversion 0')" ] ||
		{ echo "exit statuses: $(cat "$T/nolibs.rc")"; return 1; }
	[ "$(wc -l <"$T/nocurl.out")" -eq 1 ] && grep -q '^bpprof: pushing over HTTP needs libcurl.so.4, which cannot be loaded' "$T/nocurl.out" ||
		{ echo "push: $(cat "$T/nocurl.out")"; return 1; }
	[ "$(wc -l <"$T/nomhd.out")" -eq 1 ] && grep -q '^bpprof: metrics address 127.0.0.1:0: the /metrics server needs libmicrohttpd.so.12' "$T/nomhd.out" ||
		{ echo "run: $(cat "$T/nomhd.out")"; return 1; }
	[ -s "$T/nolibs.folded" ] || { echo "convert wrote nothing"; return 1; }
	grep -q '^  libcurl (not loadable)$' "$T/nolibs.version" || { cat "$T/nolibs.version"; return 1; }
	# and with them, the same commands find them
	"$BPPROF" --version | grep -q '^  libcurl [0-9]' || { echo "libcurl not loaded with it present"; return 1; }
}
t_usage_errors() {
	local rc
	for args in "--url $R --label bad-key=v" "--url $R --label k=a,b" "--url $R --label __name__=x" \
		"--url $R --app bad{app" "--url ftp://x" "--url $R --api grpc" "--url $R --header NoColon" \
		"--url not a url" "--url $R --cert $T/cpu.pb.gz"; do
		rc=0
		# shellcheck disable=SC2086 # word-split on purpose
		"$BPPROF" push "$T/cpu.pb.gz" $args >"$T/out" 2>&1 || rc=$?
		[ "$rc" -ne 0 ] || { echo "accepted: $args"; return 1; }
		[ "$(grep -vc "^Try" "$T/out")" -eq 1 ] || { echo "$args: $(cat "$T/out")"; return 1; }
	done
}
t_config() {
	cat >"$T/push.ini" <<-INI
	[push]
	url = $R
	app = fromconfig
	label = a=1
	label = b=2
	INI
	"$BPPROF" push --config "$T/push.ini" "$T/cpu.pb.gz" --label c=3 >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	stored r '.app == "fromconfig" and .labels.a == "1" and .labels.b == "2" and .labels.c == "3"' || return 1
	printf '[push]\nnonsense = 1\n' >"$T/bad.ini"
	if "$BPPROF" push --config "$T/bad.ini" "$T/cpu.pb.gz" >"$T/out" 2>&1; then echo "bad config accepted"; return 1; fi
	grep -q "bad.ini:2: unknown setting 'nonsense'" "$T/out" || { cat "$T/out"; return 1; }
	if "$BPPROF" push --config "$T/nope.ini" "$T/cpu.pb.gz" >"$T/out" 2>&1; then echo "missing config accepted"; return 1; fi
	grep -q "nope.ini" "$T/out" || { cat "$T/out"; return 1; }
}
t_config_flags_win() { # a flag repeated in the config and on the command line: the command line wins
	cat >"$T/win.ini" <<-INI
	[push]
	url = $R   # an inline comment
	app = cfgwins
	label = env=prod
	label = hostname=from-config
	label = team=prof ; the other comment form
	header = X-Node: config
	INI
	"$BPPROF" -v push --config "$T/win.ini" "$T/cpu.pb.gz" --label env=dev --label hostname=node-7 \
		--header 'x-node: cli' --app cliwins >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	stored r '.app == "cliwins" and .labels.env == "dev" and .labels.hostname == "node-7" and
		.labels.team == "prof" and .headers["X-Node"] == "cli"' || return 1
	# a credential overridden is named, never shown
	printf 'basic-auth = alice:cfg-S3cret\n' >>"$T/win.ini"
	"$BPPROF" -v push --config "$T/win.ini" "$T/cpu.pb.gz" --label env=dev --label hostname=node-7 \
		--basic-auth alice:cli-S3cret >>"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	grep -q "debug: --basic-auth on the command line overrides the config's" "$T/out" &&
		! grep -q "S3cret" "$T/out" || { echo "-v and a credential: $(cat "$T/out")"; return 1; }
	grep -q "debug: --label env=dev overrides the config's env=prod" "$T/out" &&
		grep -q "debug: --app cliwins overrides the config's app = cfgwins" "$T/out" ||
		{ echo "-v does not say what the command line overrides: $(cat "$T/out")"; return 1; }
	# the same label twice on the command line is still a mistake, said as such
	if "$BPPROF" push "$T/cpu.pb.gz" --url "$R" --label a=1 --label a=2 >"$T/out" 2>&1; then
		echo "--label a=1 --label a=2 accepted"; return 1
	fi
	grep -q "label 'a' given twice" "$T/out" || { cat "$T/out"; return 1; }
}
t_config_shapes() { # a directory is no config; an indented line is no continuation of the previous value
	local rc=0
	"$BPPROF" push --config "$T" "$T/cpu.pb.gz" >"$T/out" 2>&1 || rc=$?
	[ "$rc" -ne 0 ] && grep -qi "is a directory" "$T/out" || { echo "exit $rc: $(cat "$T/out")"; return 1; }
	printf '[push]\nurl = %s\n    app = indented\n\tlabel = tab=1\n' "$R" >"$T/indent.ini"
	"$BPPROF" push --config "$T/indent.ini" "$T/cpu.pb.gz" >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	stored r '.app == "indented" and .labels.tab == "1"'
}
t_one_connection() {
	local c0 c1
	c0=$(curl -sf "$R/_control/stats" | jq .connections)
	"$BPPROF" push "$T/big.pb.gz" --url "$R" --app conn >/dev/null 2>&1 || return 1
	c1=$(curl -sf "$R/_control/stats" | jq .connections)
	# one for the pusher's two requests, one for the second stats query
	[ $((c1 - c0)) -eq 2 ] || { echo "$((c1 - c0 - 1)) connections for one pusher (2 requests)"; return 1; }
}

check "ingest: multipart, app and labels, stacks intact" t_ingest_multipart
check "ingest: raw with format=pprof" t_ingest_raw
check "ingest: heap with sample_type_config" t_ingest_heap
check "push API: labels, __name__, UUID id, stacks intact" t_push_api
check "push API: heap is memory, __delta__ false" t_push_api_heap
check "generic endpoint: content type and headers" t_http
check "zstd file is sent as gzip" t_zstd_input
check "basic auth and tenant" t_basic_tenant
check "401: not retried, password never printed" t_auth_refused_no_secret
check "echoed credentials and a query secret: masked in every form" t_echoed_secrets
check "bearer from a file and from the environment" t_bearer_file_env
check "503 twice: retried, accepted" t_retry_503
check "429 with Retry-After: honoured" t_retry_429_after
check "400: not retried, server message shown" t_400_not_retried
check "profile older than 1 h: refused before sending" t_old_profile_refused
check "20000 samples: split under Pyroscope's 16000" t_split_big
check "one connection for several requests" t_one_connection
check "unreachable endpoint" t_unreachable
check "DNS failure" t_dns
check "slow endpoint: timeout" t_timeout
check "TLS: verified by default, --ca-file, --insecure-skip-verify" t_tls
check "mutual TLS: --cert and --key" t_mtls
check "several files, one missing: others pushed, exit 1" t_many_files_one_bad
check "not a profile: one-line error" t_bad_input
check "legacy, folded and perf script files are converted on the way" t_push_converted
check "push --symbolize: a gperftools profile arrives with function names" t_push_symbolized
check "bad flags refused before sending" t_usage_errors
# (a mount namespace of its own: root only, as in CI; this suite otherwise needs none)
if [ "$(id -u)" -eq 0 ]; then
	check "libcurl or libmicrohttpd missing: push and /metrics fail in one line naming it; convert works" t_libraries_missing
else
	echo "skip  libcurl or libmicrohttpd missing: needs root (a private mount namespace)"
fi
check "config file, command line adds to it" t_config
check "config and command line: flags win, per label and header, said with -v; inline # comments" t_config_flags_win
check "config: a directory refused, indented lines are settings" t_config_shapes
finish
